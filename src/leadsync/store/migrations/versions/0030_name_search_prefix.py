"""the name search's index reads a name's first 200 characters (``lower(substr(name, 1,
200)), id``): an index entry has a size limit on PostgreSQL (about 2.7 kB in a btree), a
record's name none, so a long name from a tool no longer fails the event that brings it

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_records_name_lower", table_name="records")
    op.create_index(
        "ix_records_name_lower", "records", [sa.text("lower(substr(name, 1, 200))"), "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_records_name_lower", table_name="records")
    op.create_index("ix_records_name_lower", "records", [sa.text("lower(name)"), "id"])
