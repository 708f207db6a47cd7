"""when a rep's tool last gave its email and its name (``external_users.email_at``,
``name_at``, by the tool's clock): an older event delivered late no longer replaces a newer
email or name — the email decides which owner the rep maps to.

Rows written before know no time: the next email or name given replaces theirs, as before.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("external_users", sa.Column("email_at", sa.String(24), nullable=True))
    op.add_column("external_users", sa.Column("name_at", sa.String(24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("external_users") as batch:
        batch.drop_column("name_at")
        batch.drop_column("email_at")
