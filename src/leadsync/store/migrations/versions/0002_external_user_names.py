"""external users keep the name their tool gives them; dead letters can be resolved

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("external_users") as batch:
        batch.add_column(sa.Column("name", sa.Text(), nullable=True))
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("resolved_at", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("resolution", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("resolution")
        batch.drop_column("resolved_at")
    with op.batch_alter_table("external_users") as batch:
        batch.drop_column("name")
