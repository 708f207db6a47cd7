"""timed inbox keys: hashed dedupe keys begin with the event's time (``t:<time>:<hash>``), so
that they land beside each other in the inbox's unique index; an inbox that holds rows from
before keeps them as they are, and redeliveries of events older than a day from now are also
looked for under their untimed form (``h:<hash>``); SQLite's inbox numbers are the rowid,
no longer the ``inbox_seq`` counter

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_UNTIL = "inbox_untimed_keys_until"  # store.inbox.OLDER_KEYS_UNTIL (migrations keep their own)
_MARGIN_S = 24 * 3600  # an event's time may run ahead of ours, or be stored a little later


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM inbox LIMIT 1")).first() is None:
        return  # nothing stored under an untimed key: no lookup ever needed
    until_ms = int((time.time() + _MARGIN_S) * 1000)
    bind.execute(
        sa.text("INSERT INTO counters (name, value) VALUES (:name, :value)"),
        {"name": _UNTIL, "value": until_ms},
    )


def downgrade() -> None:
    bind = op.get_bind()
    bind.execute(sa.text("DELETE FROM counters WHERE name = :name"), {"name": _UNTIL})
    if bind.dialect.name == "sqlite":  # the older code numbers rows with the counter again
        bind.execute(sa.text("DELETE FROM counters WHERE name = 'inbox_seq'"))
        bind.execute(
            sa.text(
                "INSERT INTO counters (name, value) "
                "SELECT 'inbox_seq', coalesce(max(seq), 0) FROM inbox"
            )
        )
