"""The audit log of configuration changes: one insert per change, and the entries newest
first, a page at a time (keyset on the id, so a page costs the same however long the log)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.schema import audit_integrations, audit_log


def add_entry(
    connection: Connection,
    *,
    at: str,
    role: str,
    who: str,
    integration: str | None,
    summary: str,
    yaml_diff: str,
    integrations: Sequence[str] = (),
) -> int:
    """Record one change in the caller's transaction; returns the entry's id. An entry of
    one integration names it (``integration``); one of several (an apply of the file) lists
    those it changed (``integrations``), which the log filtered by one finds too."""
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
    entry = int(key[0])
    if integrations:
        connection.execute(
            sa.insert(audit_integrations),
            [{"integration": name, "entry_id": entry} for name in sorted(set(integrations))],
        )
    return entry


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
        listed = sa.select(audit_integrations.c.entry_id).where(
            audit_integrations.c.integration == integration
        )
        query = query.where(
            sa.or_(audit_log.c.integration == integration, audit_log.c.id.in_(listed))
        )
    return [dict(row._mapping) for row in connection.execute(query)]
