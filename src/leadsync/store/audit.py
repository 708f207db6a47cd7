"""The audit log of configuration changes: one insert per change, and the entries newest
first, a page at a time (keyset on the id, so a page costs the same however long the log)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.schema import audit_log


def add_entry(
    connection: Connection,
    *,
    at: str,
    role: str,
    who: str,
    integration: str | None,
    summary: str,
    yaml_diff: str,
) -> int:
    """Record one change in the caller's transaction; returns the entry's id."""
    result = connection.execute(
        sa.insert(audit_log).values(
            at=at,
            role=role,
            who=who,
            integration=integration,
            summary=summary,
            yaml_diff=yaml_diff,
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # an insert of one row always has its key
    return int(key[0])


def entries(
    connection: Connection,
    limit: int,
    before: int | None = None,
    integration: str | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` entries, newest first, older than the entry ``before`` (an id) when
    given, of ``integration`` when given."""
    query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    if integration is not None:
        query = query.where(audit_log.c.integration == integration)
    return [dict(row._mapping) for row in connection.execute(query)]
