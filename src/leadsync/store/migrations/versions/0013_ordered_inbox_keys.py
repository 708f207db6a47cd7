"""ordered inbox keys: a hashed dedupe key carries the object's id after the event's time
(``t:<time>:<object id>:<hash>``) when the vendor gives a plain one, so that the events of
one second land beside each other in the inbox's unique index; an inbox that holds rows from
before keeps them as they are, and redeliveries of events older than a day from now are also
looked for under the older forms (``t:<time>:<hash>``, ``h:<hash>``)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
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
    """The mark stays: the older code looks ``h:<hash>`` up for the events before it, which
    costs a lookup and is never wrong. (Keys written with an object id are not found by the
    older code: a redelivery of such an event after a downgrade is stored again.)"""
