"""What joining two activities of one tool into one needs (one activity a tool names by
several ids, :mod:`leadsync.engine.aliases`): the links of the activities that may be
joined, the ids that were ever merged into an activity (a join is counted once), and the
skips that named the removed activity, moved to the one that stays. And what a record merge
at a tool writes (:mod:`leadsync.engine.merges`): the merged ids' identities, pointed at the
kept record and marked merged, and the HubSpot ids the push holds for ids HubSpot merged
away, moved to the id it kept."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values, upsert
from leadsync.store.schema import (
    activity_associations,
    activity_skips,
    activity_sources,
    push_objects,
    record_identities,
)


def _in(connection: Connection, column: Any, values: Collection[Any]) -> Any:
    return in_values(column, values, connection.dialect.name)


def load_activity_links(
    connection: Connection, activity_ids: Collection[int]
) -> dict[int, list[dict[str, Any]]]:
    """The record links of these activities, with their source and reason: activity id ->
    rows (activity_id, record_id, record_type, source, reason)."""
    if not activity_ids:
        return {}
    aa = activity_associations
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = sa.select(
        aa.c.activity_id, aa.c.record_id, aa.c.record_type, aa.c.source, aa.c.reason
    ).where(_in(connection, aa.c.activity_id, activity_ids))
    for row in connection.execute(query):
        data = dict(row._mapping)
        data["activity_id"], data["record_id"] = int(data["activity_id"]), int(data["record_id"])
        out[data["activity_id"]].append(data)
    for rows in out.values():
        rows.sort(key=lambda r: r["record_id"])
    return dict(out)


def load_source_keys(
    connection: Connection, keys: Iterable[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which of these (integration, type, external id) were merged into an activity before
    (an ``activity_sources`` row, whether or not that activity is still there)."""
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for integration, atype, external_id in keys:
        grouped[(integration, atype)].add(external_id)
    s = activity_sources
    out: set[tuple[str, str, str]] = set()
    for (integration, atype), ids in grouped.items():
        query = sa.select(s.c.external_id).where(
            s.c.integration == integration,
            s.c.type == atype,
            _in(connection, s.c.external_id, ids),
        )
        out.update((integration, atype, str(e)) for (e,) in connection.execute(query))
    return out


def move_activity_skips(connection: Connection, moved: Sequence[tuple[int, int]]) -> None:
    """Skips resolved as created later by an activity that was then joined into another
    (``moved``: removed id, kept id) point at the one that stays."""
    t = activity_skips
    for removed, kept in moved:
        connection.execute(sa.update(t).where(t.c.activity_id == removed).values(activity_id=kept))


def merge_identities(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Identities of ids a tool merged into another record (rows: integration, type,
    external_id, record_id, merged_into, merged_at): inserted, or pointed at the kept record
    and marked merged when the id was known."""
    if not rows:
        return
    statement = upsert(
        connection,
        record_identities,
        ("integration", "type", "external_id"),
        {
            "record_id": lambda e: e.record_id,
            "merged_into": lambda e: e.merged_into,
            "merged_at": lambda e: e.merged_at,
        },
    )
    connection.execute(statement, list(rows))


def move_merged_hubspot_ids(
    connection: Connection, moves: Sequence[tuple[str, Sequence[str], str]]
) -> None:
    """The push's records whose HubSpot id HubSpot merged away (``moves``: object type, the
    merged ids, the id kept) are that kept object from now on, so nothing writes to an id
    that is gone."""
    t = push_objects
    for object_type, merged, kept in moves:
        connection.execute(
            sa.update(t)
            .where(
                t.c.kind == "record",
                t.c.object_type == object_type,
                _in(connection, t.c.hubspot_id, merged),
            )
            .values(hubspot_id=kept)
        )
