"""an integration's settings are stored as written on PostgreSQL too: ``json``, whose text
keeps the keys in the order the file wrote them, where ``jsonb`` sorted them (a ``users.map``
came back from ``leadsync export`` reordered); SQLite's JSON is text already

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The keys stored so far stay in jsonb's order; the next apply of the file writes its own.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE integrations ALTER COLUMN settings TYPE json USING settings::json")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE integrations ALTER COLUMN settings TYPE jsonb USING settings::jsonb"
        )
