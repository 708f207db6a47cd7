"""The console's front page in two grouped queries: inbox rows per integration (today's and
the newest) and open dead letters per integration. The meaning (health, secrets) is in
:mod:`leadsync.ops.overview`."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.schema import dead_letters, inbox


def inbox_by_integration(connection: Connection, day_start: str) -> dict[str, tuple[int, str]]:
    """``{integration: (rows received since day_start, newest received_at)}``, for every
    integration with at least one inbox row (one grouped scan of the inbox)."""
    today = sa.func.sum(sa.case((inbox.c.received_at >= day_start, 1), else_=0))
    query = sa.select(inbox.c.integration, today, sa.func.max(inbox.c.received_at)).group_by(
        inbox.c.integration
    )
    return {name: (int(n or 0), str(last)) for name, n, last in connection.execute(query)}


def open_dead_letters_by_integration(connection: Connection) -> dict[str, int]:
    """``{integration: dead letters neither retried nor dismissed}`` (whenever received)."""
    query = (
        sa.select(dead_letters.c.integration, sa.func.count())
        .where(dead_letters.c.resolved_at.is_(None))
        .group_by(dead_letters.c.integration)
    )
    return {name: int(n) for name, n in connection.execute(query)}
