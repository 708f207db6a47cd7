"""dead letters known by their text (``dead_letters.raw_hash``, SHA-256 of ``raw``): a line
of a file ingested again under another name (``./x.jsonl``, its absolute path, a copy,
stdin) is the letter it was, open or dismissed, not a new one.

Letters written before get their hash here, a thousand at a time.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

_letters = sa.table(
    "dead_letters",
    sa.column("id", sa.BigInteger),
    sa.column("raw", sa.Text),
    sa.column("raw_hash", sa.String(64)),
)


def upgrade() -> None:
    op.add_column("dead_letters", sa.Column("raw_hash", sa.String(64), nullable=True))
    connection = op.get_bind()
    after = 0
    while True:
        rows = connection.execute(
            sa.select(_letters.c.id, _letters.c.raw)
            .where(_letters.c.id > after)
            .order_by(_letters.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        connection.execute(
            sa.update(_letters)
            .where(_letters.c.id == sa.bindparam("letter"))
            .values(raw_hash=sa.bindparam("digest")),
            [
                {"letter": id_, "digest": hashlib.sha256(raw.encode()).hexdigest()}
                for id_, raw in rows
            ],
        )
        after = rows[-1][0]
    op.create_index("ix_dead_letters_raw_hash", "dead_letters", ["integration", "raw_hash"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_raw_hash", "dead_letters")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("raw_hash")
