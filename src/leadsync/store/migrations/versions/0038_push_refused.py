"""the HubSpot refusal that stops every push (``push_budget.refused``, ``refused_at``): a
token HubSpot refuses (401) or a scope it lacks (403), as the last answer said it, shared by
every process until an answer HubSpot accepts clears it — `push status`, the report and the
metrics say it at once, not only once the queue's lag alerts.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("push_budget", sa.Column("refused", sa.Text, nullable=True))
    op.add_column("push_budget", sa.Column("refused_at", sa.Float, nullable=True))


def downgrade() -> None:
    op.drop_column("push_budget", "refused_at")
    op.drop_column("push_budget", "refused")
