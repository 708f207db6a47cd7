"""when leadsync last sent an owner to HubSpot that HubSpot applied
(``push_objects.owner_written_at``): a HubSpot webhook telling an owner change that happened
before it is late — HubSpot holds leadsync's later write — and is not taken for a change made
there (without ``vendor.app_id`` nothing else tells an earlier write's echo from a person's).

Rows written before know no time: their records' webhooks are read as before.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("push_objects", sa.Column("owner_written_at", sa.String(24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("push_objects") as batch:
        batch.drop_column("owner_written_at")
