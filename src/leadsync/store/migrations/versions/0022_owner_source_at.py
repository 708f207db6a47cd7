"""records keep when their owner source last gave the owner, by its own clock
(``owner_source_at``), beside ``owner_changed_at``: an integration whose owner was taken over
a newer change of another source (integration_wins over a person's ``records set-owner`` or
an undo) had its change dated by that newer one, so its own next events, older than it,
were ignored as stale ("arrived out of order")

Existing rows are left null: the rules read ``owner_changed_at`` for them, as before.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("records", sa.Column("owner_source_at", sa.String(length=24), nullable=True))


def downgrade() -> None:
    # SQLite drops a column itself (3.35 and later); batch mode would rebuild the table and
    # cannot reflect its expression index.
    op.execute("ALTER TABLE records DROP COLUMN owner_source_at")
