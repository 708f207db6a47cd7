"""The reads of undo: which integrations have an event id, the owner changes to undo, and
what each touched record looks like now. The decisions are in :mod:`leadsync.ops.undo`."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import Outcome
from leadsync.store.database import in_values
from leadsync.store.schema import inbox, owner_decisions, records


def integrations_of_event(connection: Connection, event_id: str) -> list[str]:
    """The integrations that have an event with this id (in the inbox, or deciding owners)."""
    d = owner_decisions
    query = sa.union(
        sa.select(inbox.c.integration).where(inbox.c.event_id == event_id),
        sa.select(d.c.integration).where(d.c.event_id == event_id, d.c.integration.is_not(None)),
    )
    return sorted({str(name) for name in connection.execute(query).scalars()})


def owner_changes(
    connection: Connection,
    integration: str,
    *,
    event_id: str | None,
    since: str | None,
    skip_strategy: str,
) -> list[tuple[Any, ...]]:
    """(id, record id, record type, at, integration, event id, previous owner, owner) of the
    decisions that set an owner for one event of the integration, or for the integration
    since a time; in decision order; not those of ``skip_strategy`` (earlier undos)."""
    d = owner_decisions
    query = sa.select(
        d.c.id,
        d.c.record_id,
        d.c.record_type,
        d.c.at,
        d.c.integration,
        d.c.event_id,
        d.c.previous_owner_id,
        d.c.owner_id,
    ).where(
        d.c.outcome == Outcome.SET.value,
        d.c.strategy != skip_strategy,
        d.c.integration == integration,
    )
    if event_id is not None:
        query = query.where(d.c.event_id == event_id)
    else:
        query = query.where(d.c.at >= since)
    return [tuple(row) for row in connection.execute(query.order_by(d.c.id))]


def latest_owner_changes(
    connection: Connection, record_ids: Collection[int]
) -> tuple[dict[int, int], dict[int, Any]]:
    """Each record's latest owner-setting decision id, and those decisions (id, at,
    integration, strategy) by id."""
    d = owner_decisions
    dialect = connection.dialect.name
    latest = {
        int(record_id): int(newest)
        for record_id, newest in connection.execute(
            sa.select(d.c.record_id, sa.func.max(d.c.id))
            .where(d.c.outcome == Outcome.SET.value, in_values(d.c.record_id, record_ids, dialect))
            .group_by(d.c.record_id)
        )
    }
    rows = connection.execute(
        sa.select(d.c.id, d.c.at, d.c.integration, d.c.strategy).where(
            in_values(d.c.id, set(latest.values()), dialect)
        )
    )
    return latest, {row.id: row for row in rows}


def current_owners(connection: Connection, record_ids: Collection[int]) -> dict[int, str | None]:
    rows = connection.execute(
        sa.select(records.c.id, records.c.owner_id).where(
            in_values(records.c.id, record_ids, connection.dialect.name)
        )
    )
    return {int(record_id): owner_id for record_id, owner_id in rows}
