"""the HubSpot push: queue (transactional outbox), HubSpot ids and leases, failures, the
shared request budget

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.String(length=24)


def upgrade() -> None:
    op.create_table(
        "push_queue",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("local_id", sa.BigInteger(), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("change", sa.String(length=16), nullable=False),
        sa.Column("other_id", sa.BigInteger(), nullable=True),
        sa.Column("queued_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_push_queue_object", "push_queue", ["kind", "local_id"])
    op.create_table(
        "push_objects",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("local_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("hubspot_id", sa.String(length=32), nullable=True),
        sa.Column("create_sent_at", _TS, nullable=True),
        sa.Column("pushed_at", _TS, nullable=True),
        sa.Column("pushed_owner_id", sa.String(length=64), nullable=True),
        sa.Column("owner_sent_id", sa.String(length=64), nullable=True),
        sa.Column("owner_sent_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("kind", "local_id"),
    )
    op.create_index("ix_push_objects_hubspot", "push_objects", ["object_type", "hubspot_id"])
    op.create_index("ix_push_objects_pushed", "push_objects", ["pushed_at"])
    op.create_table(
        "push_failures",
        sa.Column("id", _SERIAL, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("local_id", sa.BigInteger(), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("resolved_at", _TS, nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_push_failures_object", "push_failures", ["kind", "local_id"])
    op.create_index("ix_push_failures_open", "push_failures", ["resolved_at", "id"])
    op.create_table(
        "push_budget",
        sa.Column("app", sa.String(length=64), nullable=False),
        sa.Column("sent", _JSON, nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("header_max", sa.Integer(), nullable=True),
        sa.Column("header_remaining", sa.Integer(), nullable=True),
        sa.Column("header_daily", sa.Integer(), nullable=True),
        sa.Column("header_daily_remaining", sa.Integer(), nullable=True),
        sa.Column("headers_at", sa.Float(), nullable=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("rate_limited", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("app"),
    )

    op.create_table(
        "push_lease",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("push_lease")
    op.drop_table("push_budget")
    op.drop_index("ix_push_failures_open", "push_failures")
    op.drop_index("ix_push_failures_object", "push_failures")
    op.drop_table("push_failures")
    op.drop_index("ix_push_objects_pushed", "push_objects")
    op.drop_index("ix_push_objects_hubspot", "push_objects")
    op.drop_table("push_objects")
    op.drop_index("ix_push_queue_object", "push_queue")
    op.drop_table("push_queue")
