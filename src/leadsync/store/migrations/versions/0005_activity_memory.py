"""activity memories (events merged by the vendor's clock) and merged activity sources

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.String(length=24)


def upgrade() -> None:
    op.create_table(
        "activity_memory",
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("state", _JSON, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("integration", "type", "external_id"),
    )
    op.create_table(
        "activity_sources",
        sa.Column("integration", sa.String(length=63), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("activity_id", sa.BigInteger(), nullable=False),
        sa.Column("merged_at", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("integration", "type", "external_id"),
    )
    op.create_index("ix_activity_sources_activity", "activity_sources", ["activity_id"])


def downgrade() -> None:
    op.drop_index("ix_activity_sources_activity", table_name="activity_sources")
    op.drop_table("activity_sources")
    op.drop_table("activity_memory")
