"""own lines: the company's own phone lines a tool named (``own_lines``: integration, number in
E.164, the line's name and id at the tool, the vendor time and id of the event that named it
first), and the activities whose other party is one of them (``internal_activities``: an
internal call, with its reason)

Both start empty: a workspace learns its lines from the events that come after the upgrade
(Aircall names the line of every call), and a call held for a number that is one of them is
released as internal then (docs/WEBHOOKS.md, "The company's own lines").

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "own_lines",
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("line_id", sa.String(length=200), nullable=True),
        sa.Column("learned_at", sa.String(length=24), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("integration", "number"),
    )
    op.create_index("ix_own_lines_number", "own_lines", ["number"])
    op.create_table(
        "internal_activities",
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("number", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id"),
    )


def downgrade() -> None:
    op.drop_table("internal_activities")
    op.drop_index("ix_own_lines_number", table_name="own_lines")
    op.drop_table("own_lines")
