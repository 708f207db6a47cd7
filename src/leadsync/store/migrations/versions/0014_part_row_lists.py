"""part row lists: a part lists its inbox rows and their reserved ids (``route_parts.seqs``,
``record_ids_from``, ``activity_ids_from``) instead of the router writing the part and ids
into every inbox row; open parts are closed (their pending rows are routed again, as when
exclusive work takes them back), the inbox's routing columns and their indexes go, and the
pending rows are indexed in commit order for the router

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_ID_LIST = postgresql.ARRAY(sa.BigInteger()).with_variant(sa.JSON(), "sqlite")
_COLUMNS = ("seqs", "record_ids_from", "activity_ids_from")
_PENDING = "status = 'pending'"


def upgrade() -> None:
    op.execute("UPDATE route_parts SET done = true WHERE NOT done")
    op.drop_index("ix_inbox_part", table_name="inbox")
    op.drop_index("ix_inbox_unrouted", table_name="inbox")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("activity_ids_from")
        batch.drop_column("record_ids_from")
        batch.drop_column("part")
    op.create_index(
        "ix_inbox_routable",
        "inbox",
        ["txid", "seq"],
        postgresql_where=sa.text(_PENDING),
        sqlite_where=sa.text(_PENDING),
    )
    for name in _COLUMNS:
        op.add_column("route_parts", sa.Column(name, _ID_LIST, nullable=True))


def downgrade() -> None:
    op.execute("UPDATE route_parts SET done = true WHERE NOT done")
    with op.batch_alter_table("route_parts") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
    op.drop_index("ix_inbox_routable", table_name="inbox")
    op.add_column("inbox", sa.Column("part", sa.BigInteger(), nullable=True))
    op.add_column("inbox", sa.Column("record_ids_from", sa.BigInteger(), nullable=True))
    op.add_column("inbox", sa.Column("activity_ids_from", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_inbox_part",
        "inbox",
        ["part", "txid", "seq"],
        postgresql_where=sa.text(f"{_PENDING} AND part IS NOT NULL"),
        sqlite_where=sa.text(f"{_PENDING} AND part IS NOT NULL"),
    )
    op.create_index(
        "ix_inbox_unrouted",
        "inbox",
        ["txid", "seq"],
        postgresql_where=sa.text(f"{_PENDING} AND part IS NULL"),
        sqlite_where=sa.text(f"{_PENDING} AND part IS NULL"),
    )
