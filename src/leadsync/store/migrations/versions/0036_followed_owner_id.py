"""the owner HubSpot holds that the push kept and leadsync did not write
(``push_objects.followed_owner_id``): the owner leadsync last wrote is no longer what HubSpot
has, so a later change back to it is sent (it was taken for what HubSpot had, and skipped),
and a later change of leadsync's is written over that known owner without deciding again.

Rows written before know nothing of it: read as not followed, as before.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("push_objects", sa.Column("followed_owner_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("push_objects") as batch:
        batch.drop_column("followed_owner_id")
