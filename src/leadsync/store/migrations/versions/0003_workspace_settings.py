"""workspace-wide settings (monitoring thresholds); decisions record a rollout's settings;
indexes for the health report

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "workspace_settings",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column(
            "value", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("name"),
    )
    for table in ("owner_decisions", "activity_skips"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("settings", sa.String(length=16), nullable=True))
    # The health report's windows (set-based scans of recent rows only).
    op.create_index("ix_records_created", "records", ["created_at"])
    op.create_index("ix_owner_decisions_at", "owner_decisions", ["at"])


def downgrade() -> None:
    op.drop_index("ix_owner_decisions_at", "owner_decisions")
    op.drop_index("ix_records_created", "records")
    for table in ("owner_decisions", "activity_skips"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("settings")
    op.drop_table("workspace_settings")
