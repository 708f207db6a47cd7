"""push_objects keeps what the push's writes left in a record's HubSpot properties, so that
an update clears ("") only a property leadsync itself gave a value there:
``pushed_properties`` (name -> the value its confirmed writes sent and did not clear since)
and ``properties_sent`` (name -> the values, or "" clears, of writes sent but not yet
confirmed, committed before they leave).

Existing rows get null in both: nothing is known to have been sent, so nothing of theirs is
cleared until leadsync sends a value again — the next update of the record sends every value
it holds and records them; a property it holds empty until then is left as HubSpot has it.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.add_column("push_objects", sa.Column("pushed_properties", _JSON, nullable=True))
    op.add_column("push_objects", sa.Column("properties_sent", _JSON, nullable=True))


def downgrade() -> None:
    # SQLite drops a column itself (3.35 and later), as migration 0022 does.
    op.execute("ALTER TABLE push_objects DROP COLUMN properties_sent")
    op.execute("ALTER TABLE push_objects DROP COLUMN pushed_properties")
