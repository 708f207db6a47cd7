"""The SQL of the company's own lines: the lines a tool named (``own_lines``) and the
activities that are internal calls (``internal_activities``), for the engine's loads and
writes (one set-based query each, one statement per table, like :mod:`leadsync.store.batch`)
and the lists that show them. The rules are in :mod:`leadsync.rules.own_lines`."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values, insert_rows
from leadsync.store.schema import (
    activities,
    held_activities,
    internal_activities,
    own_lines,
    review_items,
)

_LINE_COLUMNS = ("integration", "number", "name", "line_id", "learned_at", "event_id")
_INTERNAL_COLUMNS = ("activity_id", "integration", "number", "reason")
_INTERNAL_UPSERT = (
    "ON CONFLICT (activity_id) DO UPDATE SET integration = excluded.integration, "
    "number = excluded.number, reason = excluded.reason"
)
# A question about an activity's number several contacts have (rules.counterparts.NUMBER).
_NUMBER_KIND = "number"


def _in(connection: Connection, column: Any, values: Collection[Any]) -> Any:
    return in_values(column, values, connection.dialect.name)


# ------------------------------------------------------------------------------ loads


def load_lines(connection: Connection, numbers: Collection[str]) -> list[dict[str, Any]]:
    """The lines tools named with one of these numbers (E.164), every integration's:
    ``integration``, ``number``, ``name``, ``line_id``."""
    if not numbers:
        return []
    t = own_lines
    rows = connection.execute(
        sa.select(t.c.integration, t.c.number, t.c.name, t.c.line_id).where(
            _in(connection, t.c.number, numbers)
        )
    )
    return [dict(row._mapping) for row in rows]


def open_number_questions(connection: Connection, numbers: Collection[str]) -> list[dict[str, Any]]:
    """The open questions about an activity's number several records have, for these numbers
    (their ``subject``): ``activity_id``, ``integration``, ``subject``."""
    if not numbers:
        return []
    t = review_items
    rows = connection.execute(
        sa.select(t.c.activity_id, t.c.integration, t.c.subject).where(
            t.c.status == "open",
            t.c.kind == _NUMBER_KIND,
            _in(connection, t.c.subject, numbers),
        )
    )
    return [dict(row._mapping) for row in rows if row.activity_id is not None]


def load_activity_rows(connection: Connection, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Activities by id, whole rows (their numbers are looked for again)."""
    if not ids:
        return {}
    rows = connection.execute(sa.select(activities).where(_in(connection, activities.c.id, ids)))
    return {int(row.id): dict(row._mapping) for row in rows}


def waiting_for(connection: Connection, lines: Collection[tuple[str, str]]) -> bool:
    """Whether any activity of an integration is held for one of its lines (integration,
    number), or asked about it as a number several records have: what declaring them the
    company's own would settle."""
    numbers = {number for _, number in lines}
    if not numbers:
        return False
    h, t = held_activities, review_items
    held = sa.select(h.c.integration, h.c.number).where(_in(connection, h.c.number, numbers))
    asked = sa.select(t.c.integration, t.c.subject).where(
        t.c.status == "open", t.c.kind == _NUMBER_KIND, _in(connection, t.c.subject, numbers)
    )
    wanted = set(lines)
    return any(
        (integration, number) in wanted
        for query in (held, asked)
        for integration, number in connection.execute(query)
    )


def internal_of(connection: Connection, activity_ids: Collection[int]) -> dict[int, str]:
    """activity id -> why it is an internal call, for those of ``activity_ids`` that are."""
    if not activity_ids:
        return {}
    t = internal_activities
    rows = connection.execute(
        sa.select(t.c.activity_id, t.c.reason).where(_in(connection, t.c.activity_id, activity_ids))
    )
    return {int(activity_id): reason for activity_id, reason in rows}


def lines_of(connection: Connection, integration: str | None = None) -> list[dict[str, Any]]:
    """The lines tools named (one integration's, or every one's), by integration and number:
    ``integration``, ``number``, ``name``, ``line_id``, ``learned_at``, ``event_id`` (the
    event that named it first)."""
    t = own_lines
    query = sa.select(
        t.c.integration, t.c.number, t.c.name, t.c.line_id, t.c.learned_at, t.c.event_id
    )
    if integration is not None:
        query = query.where(t.c.integration == integration)
    rows = connection.execute(query.order_by(t.c.integration, t.c.number))
    return [dict(row._mapping) for row in rows]


def internal_without_line(
    connection: Connection, declared: Collection[tuple[str, str]]
) -> list[tuple[int, str, str]]:
    """(activity id, integration, number) of the internal calls whose line is the company's
    own no more: neither declared (``declared``: integration, number) nor learned from a
    tool — an ``own_numbers`` entry removed."""
    t, lines = internal_activities, own_lines
    rows = connection.execute(
        sa.select(t.c.activity_id, t.c.integration, t.c.number)
        .select_from(
            t.outerjoin(
                lines, sa.and_(lines.c.integration == t.c.integration, lines.c.number == t.c.number)
            )
        )
        .where(lines.c.number.is_(None))
        .order_by(t.c.activity_id)
    )
    wanted = set(declared)
    return [(int(a), str(i), str(n)) for a, i, n in rows if (i, n) not in wanted]


def internal_by_line(
    connection: Connection, integration: str | None = None
) -> dict[tuple[str, str], int]:
    """(integration, line's number) -> how many activities are internal calls because of
    that line (one integration's, or every one's): one grouped query."""
    t = internal_activities
    query = sa.select(t.c.integration, t.c.number, sa.func.count()).group_by(
        t.c.integration, t.c.number
    )
    if integration is not None:
        query = query.where(t.c.integration == integration)
    return {(name, number): int(n) for name, number, n in connection.execute(query)}


def internal_count(connection: Connection) -> int:
    """How many activities are internal calls."""
    t = internal_activities
    return int(connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())


# ----------------------------------------------------------------------------- writes


# A line named again keeps the first event that named it; a name or id it had none of fills.
_FILL = (
    "ON CONFLICT (integration, number) DO UPDATE SET "
    "name = COALESCE(own_lines.name, excluded.name), "
    "line_id = COALESCE(own_lines.line_id, excluded.line_id)"
)


def save_lines(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Lines learned: the first event that named each is kept; a line known without a name or
    an id gets the one a later row gives (nothing else of it changes)."""
    if rows:
        values = [tuple(r[c] for c in _LINE_COLUMNS) for r in rows]
        unique = ("integration", "number")
        insert_rows(connection, own_lines, _LINE_COLUMNS, values, _FILL, unique=unique)


def save_internal(
    connection: Connection, rows: Sequence[Mapping[str, Any]], removed: Collection[int]
) -> None:
    """Activities that are internal calls now (``rows``, an upsert), and those that are no
    more (``removed``: they found a person, wait for a number, are asked about or gone)."""
    if removed:
        t = internal_activities
        connection.execute(sa.delete(t).where(_in(connection, t.c.activity_id, removed)))
    if rows:
        values = [tuple(r[c] for c in _INTERNAL_COLUMNS) for r in rows]
        insert_rows(
            connection,
            internal_activities,
            _INTERNAL_COLUMNS,
            values,
            _INTERNAL_UPSERT,
            unique=("activity_id",),
        )
