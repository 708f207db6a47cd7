"""records keep when their owner source last gave the owner, by its own clock
(``owner_source_at``), beside ``owner_changed_at``: an integration whose owner was taken over
a newer change of another source (integration_wins over a person's ``records set-owner`` or
an undo) had its change dated by that newer one, so its own next events, older than it,
were ignored as stale ("arrived out of order")

Existing rows whose owner an integration gave are filled from the decisions: the latest
time that integration set or kept that owner (a record it took back from a person before the
upgrade would else stay stuck behind the person's time); the others are left null, and the
rules read ``owner_changed_at`` for them, as before.

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


# The owner source's own latest word on the owner a record has: its decisions that set it or
# kept it as proposed (a person's change, an undo and the CRM's own are no integration's).
_FILL = """
UPDATE records SET owner_source_at = (
    SELECT MAX(d.at) FROM owner_decisions AS d
    WHERE d.record_id = records.id AND d.integration = records.owner_source
      AND d.outcome IN ('set', 'kept') AND d.owner_id = records.owner_id
      AND d.proposed_owner_id = records.owner_id)
WHERE owner_source IS NOT NULL AND owner_id IS NOT NULL
"""


def upgrade() -> None:
    op.add_column("records", sa.Column("owner_source_at", sa.String(length=24), nullable=True))
    op.execute(_FILL)


def downgrade() -> None:
    # SQLite drops a column itself (3.35 and later); batch mode would rebuild the table and
    # cannot reflect its expression index.
    op.execute("ALTER TABLE records DROP COLUMN owner_source_at")
