"""owner decisions record when leadsync made them (``decided_at``), beside their event's time
(``at``); indexed on (decided_at, id) for the list's order, newest decided first, and on
(integration, decided_at, id) for ``undo --since`` and the list of one integration

Older rows are filled with the best time the workspace kept: the inbox's ``received_at`` of
the decision's event — when it arrived, minutes at most before it was decided, and what
``undo --since`` went by until now, so an undo over the upgrade picks the same decisions —
found by the event's id, or by the inbox row it came from for the further events of one row
(``KEY#suffix``); else ``at``: a decision with no event (a person's change, an undo, the
push's re-decision) is dated when it was made, and for an event no longer in the inbox its
own time is the only one known. A retried dead letter or a backlog drained later was
decided after its received time; that is not recorded anywhere, so it is not recovered.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# The inbox row a further event ``KEY#suffix`` came from: ``KEY``, what is left of the id
# before its last "#" (rtrim drops the trailing characters that are not "#"); the same
# functions on SQLite and PostgreSQL.
_STEM = "substr(d.event_id, 1, length(rtrim(d.event_id, replace(d.event_id, '#', ''))) - 1)"
_RECEIVED = (
    "SELECT i.received_at FROM inbox i WHERE i.integration = d.integration AND i.event_id = {}"
)
_FILL = f"""
UPDATE owner_decisions AS d SET decided_at = COALESCE(
    ({_RECEIVED.format("d.event_id")}),
    CASE WHEN d.event_id LIKE '%#%' THEN ({_RECEIVED.format(_STEM)}) END,
    d.at)
"""


def upgrade() -> None:
    with op.batch_alter_table("owner_decisions") as batch:
        batch.add_column(sa.Column("decided_at", sa.String(length=24), nullable=True))
    op.execute(_FILL)
    with op.batch_alter_table("owner_decisions") as batch:
        batch.create_index("ix_owner_decisions_decided", ["decided_at", "id"], unique=False)
        batch.create_index(
            "ix_owner_decisions_integration_decided",
            ["integration", "decided_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("owner_decisions") as batch:
        batch.drop_index("ix_owner_decisions_integration_decided")
        batch.drop_index("ix_owner_decisions_decided")
        batch.drop_column("decided_at")
