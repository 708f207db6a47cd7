"""content inbox keys: the hashed key of an Aircall, Outreach or Salesloft event ends with a
hash of what the event says (``…:<hash>:<content>``), so that two events the vendor timed to
the same second are not taken for a redelivery; an inbox that holds rows from before keeps
them as they are, and redeliveries of events older than a day from now are also looked for
under the key without it (and the older forms)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_UNTIL = "inbox_untimed_keys_until"  # store.inbox.OLDER_KEYS_UNTIL (migrations keep their own)
_MARGIN_S = 24 * 3600  # an event's time may run ahead of ours, or be stored a little later


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM inbox LIMIT 1")).first() is None:
        return  # nothing stored under an older key: no lookup ever needed
    until_ms = int((time.time() + _MARGIN_S) * 1000)
    found = bind.execute(
        sa.text("SELECT value FROM counters WHERE name = :name"), {"name": _UNTIL}
    ).first()
    if found is not None and int(found[0]) >= until_ms:
        return
    bind.execute(sa.text("DELETE FROM counters WHERE name = :name"), {"name": _UNTIL})
    bind.execute(
        sa.text("INSERT INTO counters (name, value) VALUES (:name, :value)"),
        {"name": _UNTIL, "value": until_ms},
    )


def downgrade() -> None:
    """The mark stays (a lookup more, never wrong). Keys written with a content are not found
    by the older code: a redelivery of such an event after a downgrade is stored again."""
