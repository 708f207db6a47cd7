"""records a tool merged that leadsync held as two are joined (engine/record_joins.py): the
record absorbed remembers the one it was joined into (``records.merged_into``, a record id)
and when, by the tool's clock (``merged_at``); an identity moved from it to the kept record
remembers where it came from (``record_identities.joined_from``, the absorbed record's id).

Existing rows get null in all three: no record was joined before.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("merged_into", sa.BigInteger, nullable=True))
    op.add_column("records", sa.Column("merged_at", sa.String(24), nullable=True))
    op.create_index("ix_records_merged_into", "records", ["merged_into"])
    op.add_column("record_identities", sa.Column("joined_from", sa.BigInteger, nullable=True))


def downgrade() -> None:
    # SQLite drops a column itself (3.35 and later), as 0022 does.
    op.execute("ALTER TABLE record_identities DROP COLUMN joined_from")
    op.drop_index("ix_records_merged_into", "records")
    op.execute("ALTER TABLE records DROP COLUMN merged_at")
    op.execute("ALTER TABLE records DROP COLUMN merged_into")
