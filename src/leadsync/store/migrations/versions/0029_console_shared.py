"""console shared: what every ``serve`` process's console and admin API share — sessions
signed out (``console_sign_outs``), wrong secrets per client address
(``console_failed_tries``), forms kept through a sign-in (``console_drafts``) and the newest
health snapshot with who takes the next (``health_snapshot``) — so that a sign-out, the wait
after failed tries, a kept form and the health pages hold whichever process a request
reaches behind a load balancer.

All start empty: before the upgrade each process kept them itself.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_sign_outs",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_table(
        "console_failed_tries",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("client", sa.String(length=255), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_console_failed_tries_client", "console_failed_tries", ["client", "at"])
    op.create_table(
        "console_drafts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("fields", _JSON, nullable=False),
        sa.Column("dropped", _JSON, nullable=False),
        sa.Column("via", sa.String(length=16), nullable=True),
        sa.Column("sid", sa.String(length=64), nullable=True),
        sa.Column("kept_at", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "health_snapshot",
        sa.Column("name", sa.String(length=16), nullable=False),
        sa.Column("body", _JSON, nullable=True),
        sa.Column("taken_from", sa.Float(), nullable=True),
        sa.Column("taken_by", sa.String(length=128), nullable=True),
        sa.Column("asked_at", sa.Float(), nullable=True),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("until", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("health_snapshot")
    op.drop_table("console_drafts")
    op.drop_index("ix_console_failed_tries_client", table_name="console_failed_tries")
    op.drop_table("console_failed_tries")
    op.drop_table("console_sign_outs")
