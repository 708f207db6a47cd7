"""activity skips: the kind of reason (what the report counts by) and the record each was for

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11

Skips stored before keep no record (the event that named it is not read again); their kind
is worked out from the stored reason, whose sentences have not changed.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The reasons leadsync.rules.activities wrote, and the kind each belongs to.
_KINDS = (
    (re.compile(r"^(\w+) activities are disabled for "), "{0} activities are disabled"),
    (
        re.compile(r"^\w+ lasted \S+ s, shorter than min_duration_s (\S+) s"),
        "shorter than min_duration_s ({0} s)",
    ),
    (re.compile(r"^\w+ outcome (\S+) is in skip_outcomes for "), "outcome {0} is in skip_outcomes"),
)


def _kind(reason: str) -> str:
    for pattern, kind in _KINDS:
        found = pattern.match(reason)
        if found is not None:
            return kind.format(*found.groups())
    return reason


def upgrade() -> None:
    with op.batch_alter_table("activity_skips") as batch:
        batch.add_column(sa.Column("kind", sa.Text(), nullable=True))
        batch.add_column(sa.Column("record_type", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("record_named", sa.String(length=320), nullable=True))
        batch.add_column(sa.Column("record_id", sa.BigInteger(), nullable=True))
    connection = op.get_bind()
    skips = sa.table("activity_skips", sa.column("reason", sa.Text), sa.column("kind", sa.Text))
    reasons = connection.execute(sa.select(skips.c.reason).distinct()).scalars().all()
    for reason in reasons:  # distinct reasons: a few per filter setting and value
        connection.execute(
            sa.update(skips).where(skips.c.reason == reason).values(kind=_kind(reason))
        )
    with op.batch_alter_table("activity_skips") as batch:
        batch.alter_column("kind", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("activity_skips") as batch:
        batch.drop_column("record_id")
        batch.drop_column("record_named")
        batch.drop_column("record_type")
        batch.drop_column("kind")
