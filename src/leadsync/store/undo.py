"""The reads of undo: which integrations have an event id, the owner changes to undo, and
what each touched record looks like now. The decisions are in :mod:`leadsync.ops.undo`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
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


def has_decisions(connection: Connection, integration: str) -> bool:
    """Whether ``integration`` made owner decisions (configured or removed since)."""
    d = owner_decisions
    query = sa.select(d.c.id).where(d.c.integration == integration).limit(1)
    return connection.execute(query).first() is not None


def owner_changes(
    connection: Connection,
    integration: str,
    *,
    event_id: str | None,
    since: str | None,
    skip_strategy: str,
) -> list[tuple[Any, ...]]:
    """(id, record id, record type, at, integration, event id, previous owner, owner) of the
    decisions that set an owner for one event of the integration, or that leadsync made for
    the integration since a time (``decided_at``: when each was decided, not when its event
    happened or arrived — a late event, a retried dead letter, a backlog drained after
    ``since`` are among them; read from the (decided_at, id) index, only the window); in
    decision order; not those of ``skip_strategy`` (earlier undos)."""
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
        query = query.where(d.c.decided_at >= since)
    return [tuple(row) for row in connection.execute(query.order_by(d.c.id))]


def owner_changes_from(
    connection: Connection, first_ids: Mapping[int, int]
) -> dict[int, list[Any]]:
    """Each record's owner-setting decisions (id, at, integration, strategy, owner, the owner
    before) from its
    ``first_ids[record]`` on, in decision order: the changes to undo and every change after
    or between them, whoever made it. One query for all the records."""
    d = owner_decisions
    if not first_ids:
        return {}
    rows = connection.execute(
        sa.select(
            d.c.id,
            d.c.record_id,
            d.c.at,
            d.c.integration,
            d.c.strategy,
            d.c.owner_id,
            d.c.previous_owner_id,
        )
        .where(
            d.c.outcome == Outcome.SET.value,
            d.c.id >= min(first_ids.values()),
            in_values(d.c.record_id, first_ids, connection.dialect.name),
        )
        .order_by(d.c.id)
    )
    history: dict[int, list[Any]] = {}
    for row in rows:
        if row.id >= first_ids[int(row.record_id)]:
            history.setdefault(int(row.record_id), []).append(row)
    return history


def current_owners(connection: Connection, record_ids: Collection[int]) -> dict[int, str | None]:
    rows = connection.execute(
        sa.select(records.c.id, records.c.owner_id).where(
            in_values(records.c.id, record_ids, connection.dialect.name)
        )
    )
    return {int(record_id): owner_id for record_id, owner_id in rows}
