"""routing epoch: a sequence that work holding the batch lock exclusively advances, so a
router that cut the next window ahead (while the last parts were still applied) can tell
whether anything changed the workspace beside the parts since

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE SEQUENCE IF NOT EXISTS routing_epoch")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS routing_epoch")
