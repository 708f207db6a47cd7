"""dead letters can be dismissed: who resolved a letter, and the reason for a dismissal

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("resolved_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("dismissed_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("dismissed_reason")
        batch.drop_column("resolved_by")
