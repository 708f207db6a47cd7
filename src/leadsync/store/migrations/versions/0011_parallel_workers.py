"""parallel workers on PostgreSQL: ids from sequences instead of a locked counters row, the
inbox's commit order (the writing transaction's id), and the parts a router cuts the inbox
into (rows that touch disjoint records, applied side by side)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TS = sa.String(length=24)

# sequence -> (counter it replaces, the column that owns it: TRUNCATE ... RESTART IDENTITY
# restarts it with the table)
_SEQUENCES = {
    "record_ids": ("record_id", "records.id"),
    "activity_ids": ("activity_id", "activities.id"),
    "inbox_seqs": ("inbox_seq", "inbox.seq"),
}


def upgrade() -> None:
    op.add_column("inbox", sa.Column("txid", sa.BigInteger(), nullable=True))
    op.add_column("inbox", sa.Column("part", sa.BigInteger(), nullable=True))
    op.add_column("inbox", sa.Column("record_ids_from", sa.BigInteger(), nullable=True))
    op.add_column("inbox", sa.Column("activity_ids_from", sa.BigInteger(), nullable=True))
    op.create_table(
        "route_parts",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_route_parts_open",
        "route_parts",
        ["id"],
        postgresql_where=sa.text("NOT done"),
        sqlite_where=sa.text("NOT done"),
    )
    op.create_index(
        "ix_inbox_part",
        "inbox",
        ["part", "txid", "seq"],
        postgresql_where=sa.text("status = 'pending' AND part IS NOT NULL"),
        sqlite_where=sa.text("status = 'pending' AND part IS NOT NULL"),
    )
    op.create_index(
        "ix_inbox_unrouted",
        "inbox",
        ["txid", "seq"],
        postgresql_where=sa.text("status = 'pending' AND part IS NULL"),
        sqlite_where=sa.text("status = 'pending' AND part IS NULL"),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (counter, owner) in _SEQUENCES.items():
        op.execute(f"CREATE SEQUENCE {name} OWNED BY {owner}")
        op.execute(
            f"SELECT setval('{name}', GREATEST(1, COALESCE((SELECT value FROM counters "
            f"WHERE name = '{counter}'), 0)), (SELECT value FROM counters "
            f"WHERE name = '{counter}') IS NOT NULL AND (SELECT value FROM counters "
            f"WHERE name = '{counter}') > 0)"
        )
    # The transaction that wrote a row: rows are routed in the order their transactions
    # are known to be over (see store/routing.py), never past one still running.
    op.execute("ALTER TABLE inbox ALTER COLUMN txid SET DEFAULT pg_current_xact_id()::text::bigint")
    op.execute("ALTER TABLE inbox ALTER COLUMN seq SET DEFAULT nextval('inbox_seqs')")
    op.execute("UPDATE inbox SET txid = 0 WHERE status = 'pending'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE inbox ALTER COLUMN seq DROP DEFAULT")
        for name in _SEQUENCES:
            op.execute(f"DROP SEQUENCE IF EXISTS {name}")
    op.drop_index("ix_inbox_unrouted", table_name="inbox")
    op.drop_index("ix_inbox_part", table_name="inbox")
    op.drop_index("ix_route_parts_open", table_name="route_parts")
    op.drop_table("route_parts")
    with op.batch_alter_table("inbox") as batch:
        batch.drop_column("activity_ids_from")
        batch.drop_column("record_ids_from")
        batch.drop_column("part")
        batch.drop_column("txid")
