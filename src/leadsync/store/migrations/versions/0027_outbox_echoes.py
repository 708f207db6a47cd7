"""outbox rows keep what became of the owner written as the tool reports it back
(rules/echoes.py): ``echo`` — ``awaited``, ``echoed`` or ``passed`` —, the report that echoed
or passed it (``echo_event_id``, ``echo_at``, by the tool's clock) and, for an awaited one,
``awaited_until``; indexed on (integration, record type, external id) for awaited rows only,
which the engine reads them by

Existing rows get no ``echo``: leadsync did not follow their echoes, so none is awaited — a
report naming their rep is weighed as before (the same rep again is no change; another is).

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_AWAITED = "echo = 'awaited'"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("echo", sa.String(8), nullable=True))
    op.add_column("outbox", sa.Column("echo_event_id", sa.String(200), nullable=True))
    op.add_column("outbox", sa.Column("echo_at", sa.String(24), nullable=True))
    op.add_column("outbox", sa.Column("awaited_until", sa.String(24), nullable=True))
    op.create_index(
        "ix_outbox_awaited",
        "outbox",
        ["integration", "record_type", "external_id"],
        sqlite_where=sa.text(_AWAITED),
        postgresql_where=sa.text(_AWAITED),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_awaited", "outbox")
    # SQLite drops a column itself (3.35 and later), as migration 0022 does.
    for column in ("awaited_until", "echo_at", "echo_event_id", "echo"):
        op.execute(f"ALTER TABLE outbox DROP COLUMN {column}")
