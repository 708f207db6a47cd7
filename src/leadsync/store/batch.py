"""Set-based loads and batched writes for the engine.

A batch runs inside one transaction that starts by locking the id counters
(:func:`lock_counters`): on SQLite that takes the write lock, on PostgreSQL the counter rows,
so batches from several workers apply one after another, each seeing the last one's writes.
Loads take a few ``IN`` queries per batch whatever its size; writes take one statement per
table (:func:`leadsync.store.database.insert_rows`).

Who takes the lock: the code that begins the batch's transaction, once, before its first
read — the pipeline's drain, direct apply and event-by-event retry (``pipeline/``),
preview, replay, the test lead, undo, and :func:`leadsync.engine.change_owner_in_crm` for
``records set-owner``. The engine's load
step only reads the counters (:func:`read_counters`) under that lock; it never takes it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import AUTO_SOURCE, OwnerDecision
from leadsync.store import routing
from leadsync.store.database import (
    in_values,
    insert_ignore,
    insert_rows,
    json_text,
    update_rows,
)

# The inbox's SQL is in store/inbox.py; this name stays importable from here for preview.
from leadsync.store.inbox import known_event_ids as known_event_ids
from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_memory,
    activity_skips,
    activity_sources,
    counters,
    owner_decisions,
    record_associations,
    record_identities,
    records,
)

RECORD_ID = "record_id"
ACTIVITY_ID = "activity_id"
ROUND_ROBIN_PREFIX = "rr:"


def _by_integration_and_type(
    keys: Iterable[tuple[str, str, str]],
) -> dict[tuple[str, str], set[str]]:
    """(integration, type, external id) keys grouped for one IN query per (integration, type)."""
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for integration, kind, external_id in keys:
        grouped[(integration, kind)].add(external_id)
    return grouped


def lock_counters(connection: Connection, names: Sequence[str]) -> dict[str, int]:
    """Lock and read the named counters (created at 0 when missing), in a stable order (by
    name, so two transactions never wait on each other in a cycle). Locking a counter the
    transaction holds already waits for nothing. On PostgreSQL it also takes the batch lock
    exclusively (:func:`leadsync.store.routing.lock_batch`): the caller has the workspace to
    itself, as parallel workers' batches hold that lock shared."""
    names = sorted(set(names))
    if routing.parallel(connection):  # parallel workers' batches hold the lock shared
        routing.lock_batch(connection, shared=False)
    connection.execute(
        insert_ignore(connection, counters), [{"name": n, "value": 0} for n in names]
    )
    connection.execute(
        sa.update(counters).where(counters.c.name.in_(names)).values(value=counters.c.value)
    )
    return read_counters(connection, names)


def read_counters(connection: Connection, names: Sequence[str]) -> dict[str, int]:
    """The named counters' values (0 for one never written), without locking them: for a
    step of a transaction whose lock is held (see the module's docstring)."""
    found = dict.fromkeys(names, 0)
    rows = connection.execute(
        sa.select(counters.c.name, counters.c.value).where(counters.c.name.in_(sorted(names)))
    )
    found.update({name: int(value) for name, value in rows})
    return found


def read_counters_with_prefix(connection: Connection, prefix: str) -> dict[str, int]:
    rows = connection.execute(
        sa.select(counters.c.name, counters.c.value).where(counters.c.name.startswith(prefix))
    )
    return {name: int(value) for name, value in rows}


def write_counters(connection: Connection, values: Mapping[str, int]) -> None:
    if values:
        upsert = "ON CONFLICT (name) DO UPDATE SET value = excluded.value"
        insert_rows(connection, counters, ("name", "value"), list(values.items()), upsert)


# ------------------------------------------------------------------------------ loads


def _in(connection: Connection, column: Any, values: Collection[Any]) -> Any:
    return in_values(column, values, connection.dialect.name)


def load_identities(
    connection: Connection,
    keys: Iterable[tuple[str, str, str]],
    reps: dict[tuple[str, str, str], tuple[str, str]] | None = None,
    merged: dict[tuple[str, str, str], str] | None = None,
) -> dict[tuple[str, str, str], int]:
    """(integration, record type, external id) -> record id, for the keys that exist; with
    ``reps``, also the rep each one's integration last gave as the owner and when, by key;
    with ``merged``, the keys a tool merged into another id (the outbox writes none), and
    when it did."""
    grouped = _by_integration_and_type(keys)
    found: dict[tuple[str, str, str], int] = {}
    t = record_identities
    for (integration, rtype), ids in grouped.items():
        rows = connection.execute(
            sa.select(
                t.c.external_id,
                t.c.record_id,
                t.c.owner_rep,
                t.c.owner_rep_at,
                t.c.merged_into,
                t.c.merged_at,
            ).where(
                t.c.integration == integration,
                t.c.type == rtype,
                _in(connection, t.c.external_id, ids),
            )
        )
        for external_id, record_id, rep, rep_at, merged_into, merged_at in rows.all():
            found[(integration, rtype, external_id)] = record_id
            if merged is not None and merged_into is not None:
                merged[(integration, rtype, external_id)] = merged_at or ""
            if reps is not None and rep is not None:
                reps[(integration, rtype, external_id)] = (rep, rep_at)
    return found


def load_identities_of_records(
    connection: Connection, record_ids: Collection[int]
) -> list[tuple[int, str, str]]:
    """(record id, integration, external id) for every integration that knows these records,
    by the ids it has now (not one it merged into another: it is gone there)."""
    if not record_ids:
        return []
    t = record_identities
    rows = connection.execute(
        sa.select(t.c.record_id, t.c.integration, t.c.external_id)
        .where(_in(connection, t.c.record_id, record_ids), t.c.merged_into.is_(None))
        .order_by(t.c.record_id, t.c.integration, t.c.external_id)
    )
    return [(r, i, e) for r, i, e in rows]


def load_records(connection: Connection, ids: Collection[int]) -> Sequence[sa.Row[Any]]:
    """Whole record rows, columns in table order; the JSON columns as undecoded text (the
    engine decodes them only for the records whose properties an event changes)."""
    if not ids:
        return []
    columns = [
        sa.cast(c, sa.Text).label(c.name) if c.name in _RECORD_JSON else c for c in records.c
    ]
    query = sa.select(*columns).where(_in(connection, records.c.id, ids))
    return connection.execute(query).all()


def merged_into(connection: Connection, record_id: int) -> int | None:
    """The record a tool's merge joined this one into (None: none, or no such record)."""
    query = sa.select(records.c.merged_into).where(records.c.id == record_id)
    found = connection.execute(query).scalar()
    return int(found) if found is not None else None


def load_deal_summaries(
    connection: Connection, ids: Collection[int]
) -> dict[int, tuple[bool | None, str]]:
    """Deal id -> (is_closed, updated_at): what the association rules ask of a deal."""
    if not ids:
        return {}
    query = sa.select(records.c.id, records.c.is_closed, records.c.updated_at).where(
        _in(connection, records.c.id, ids)
    )
    return {rid: (closed, updated) for rid, closed, updated in connection.execute(query).all()}


def load_links_from(connection: Connection, left_ids: Collection[int]) -> Sequence[sa.Row[Any]]:
    """Every association whose left side is one of these records (for a contact: all of them)."""
    if not left_ids:
        return []
    t = record_associations
    return connection.execute(sa.select(t).where(_in(connection, t.c.left_id, left_ids))).all()


def load_deal_links_to(connection: Connection, right_ids: Collection[int]) -> Sequence[sa.Row[Any]]:
    """The deals associated with these records (companies, tickets)."""
    if not right_ids:
        return []
    t = record_associations
    query = sa.select(t).where(_in(connection, t.c.right_id, right_ids), t.c.left_type == "deal")
    return connection.execute(query).all()


def load_activities(
    connection: Connection, keys: Iterable[tuple[str, str, str]]
) -> Sequence[sa.Row[Any]]:
    grouped = _by_integration_and_type(keys)
    out: list[sa.Row[Any]] = []
    t = activities
    for (integration, atype), ids in grouped.items():
        query = sa.select(t).where(
            t.c.integration == integration,
            t.c.type == atype,
            _in(connection, t.c.external_id, ids),
        )
        out.extend(connection.execute(query).all())
    return out


def load_merged_activities(
    connection: Connection, keys: Iterable[tuple[str, str, str]]
) -> list[tuple[tuple[str, str, str], sa.Row[Any]]]:
    """Activities that other sources were merged into, by those sources' keys: (key, row)."""
    grouped = _by_integration_and_type(keys)
    out: list[tuple[tuple[str, str, str], sa.Row[Any]]] = []
    s = activity_sources
    for (integration, atype), ids in grouped.items():
        query = (
            sa.select(s.c.external_id.label("source_external_id"), *activities.c)
            .join(activities, activities.c.id == s.c.activity_id)
            .where(
                s.c.integration == integration,
                s.c.type == atype,
                _in(connection, s.c.external_id, ids),
            )
        )
        for row in connection.execute(query):
            out.append(((integration, atype, str(row.source_external_id)), row))
    return out


def load_activity_memory(
    connection: Connection, keys: Iterable[tuple[str, str, str]]
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The memories of these source activities (integration, type, external id)."""
    grouped = _by_integration_and_type(keys)
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    m = activity_memory
    for (integration, atype), ids in grouped.items():
        query = sa.select(m.c.external_id, m.c.state).where(
            m.c.integration == integration, m.c.type == atype, _in(connection, m.c.external_id, ids)
        )
        for external_id, state in connection.execute(query):
            out[(integration, atype, str(external_id))] = (
                json.loads(state) if isinstance(state, str) else state
            )
    return out


def load_activity_sources(
    connection: Connection, activity_ids: Collection[int]
) -> dict[int, list[tuple[str, str, str]]]:
    """The sources merged into these activities: activity id -> [(integration, type, ext)]."""
    if not activity_ids:
        return {}
    s = activity_sources
    out: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    query = sa.select(s.c.activity_id, s.c.integration, s.c.type, s.c.external_id).where(
        _in(connection, s.c.activity_id, activity_ids)
    )
    for activity_id, integration, atype, external_id in connection.execute(query):
        out[int(activity_id)].append((str(integration), str(atype), str(external_id)))
    return dict(out)


def load_dedupe_candidates(
    connection: Connection, atype: str, integrations: Collection[str], lo: str, hi: str
) -> list[tuple[dict[str, Any], set[int]]]:
    """Activities of ``atype`` from ``integrations`` that happened between ``lo`` and ``hi``,
    each with the records its events named or its number found (not those the association
    rules added: a contact's company is not the same counterpart), one query for the
    activities, one for links."""
    t = activities
    rows = [
        dict(r._mapping)
        for r in connection.execute(
            sa.select(t).where(
                t.c.type == atype,
                t.c.integration.in_(sorted(integrations)),
                t.c.occurred_at >= lo,
                t.c.occurred_at <= hi,
            )
        )
    ]
    links: dict[int, set[int]] = defaultdict(set)
    if rows:
        aa = activity_associations
        for activity_id, record_id in connection.execute(
            sa.select(aa.c.activity_id, aa.c.record_id).where(
                _in(connection, aa.c.activity_id, [int(r["id"]) for r in rows]),
                aa.c.source != AUTO_SOURCE,
            )
        ):
            links[int(activity_id)].add(int(record_id))
    return [(row, links.get(int(row["id"]), set())) for row in rows]


# ----------------------------------------------------------------------------- writes
#
# Every write is one statement over the batch's rows as plain tuples (store.database's
# insert_rows and update_rows: on PostgreSQL one statement over an array per column, on SQLite
# sqlite3's executemany): the SQL text is written once per dialect, and no row goes through
# SQLAlchemy's per-row parameter processing. JSON columns go last in each
# statement's column list, encoded here.

# A record's JSON columns: its properties, and when (and from whom) each got its value.
_RECORD_JSON = ("properties", "property_times")
_RECORD_COLUMNS = tuple(c.name for c in records.c if c.name not in _RECORD_JSON)
_ACTIVITY_COLUMNS = tuple(c.name for c in activities.c if c.name != "properties")
_OWNER_COLUMNS = ("owner_id", "owner_changed_at", "owner_source", "owner_source_at")
_JSON_COLUMNS = frozenset(_RECORD_JSON)  # (an activity's properties too)
_DO_NOTHING = "ON CONFLICT DO NOTHING"


def _params(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    json_columns: Sequence[str] = (),
    key: str | None = None,
) -> list[tuple[Any, ...]]:
    """Rows as tuples: ``columns`` (two or more), ``json_columns`` encoded, ``key``."""
    get = itemgetter(*columns)
    dumps = json_text
    if not json_columns:
        if key is None:
            return [get(r) for r in rows]
        return [(*get(r), r[key]) for r in rows]
    if len(json_columns) > 1:
        last = () if key is None else (key,)
        return [(*get(r), *(dumps(r[c]) for c in json_columns), *map(r.get, last)) for r in rows]
    [json_column] = json_columns
    if key is None:
        return [(*get(r), dumps(r[json_column])) for r in rows]
    return [(*get(r), dumps(r[json_column]), r[key]) for r in rows]


def _insert(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    on_conflict: str = "",
    json_columns: Sequence[str] = (),
    unique: Sequence[str] = (),
) -> None:
    if rows:
        names = [*columns, *json_columns]
        params = _params(rows, columns, json_columns)
        insert_rows(connection, table, names, params, on_conflict, unique=unique)


def _update_many(
    connection: Connection,
    table: sa.Table,
    key: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
) -> None:
    """One ``UPDATE ... WHERE key = ?`` (:func:`update_rows`) over rows that all carry the same columns
    (``columns``, or every key of the first row but ``key``)."""
    if not rows:
        return
    if columns is None:
        columns = [c for c in rows[0] if c != key]
    json_columns = [c for c in columns if c in _JSON_COLUMNS]
    plain = [c for c in columns if c not in _JSON_COLUMNS]
    names = [*plain, *json_columns]
    update_rows(connection, table, names, key, _params(rows, plain, json_columns, key))


def insert_records(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    _insert(connection, records, _RECORD_COLUMNS, rows, json_columns=_RECORD_JSON)


def update_records(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    _update_many(connection, records, "id", rows)


def set_owners(
    connection: Connection, rows: Sequence[Mapping[str, Any]], *, end_protection: bool = False
) -> None:
    """Set records' owners: rows of id, owner_id, owner_changed_at, owner_source (given then:
    ``owner_source_at`` is ``owner_changed_at``); with ``end_protection``, a person's
    protected choice ends too (``manual_owner_at`` cleared: an owner nobody is known to have
    chosen by hand)."""
    rows = [{**row, "owner_source_at": row["owner_changed_at"]} for row in rows]
    if not end_protection:
        _update_many(connection, records, "id", rows, _OWNER_COLUMNS)
        return
    cleared = [{**row, "manual_owner_at": None} for row in rows]
    _update_many(connection, records, "id", cleared, (*_OWNER_COLUMNS, "manual_owner_at"))


def insert_identities(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = ("integration", "type", "external_id", "record_id")
    _insert(connection, record_identities, columns, rows, _DO_NOTHING)


def save_identity_reps(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """The rep an identity's integration last gave as the record's owner, and when (rows:
    the identity's four columns, ``owner_rep``, ``owner_rep_at``); upserted, in one statement."""
    _insert(
        connection,
        record_identities,
        ("integration", "type", "external_id", "record_id", "owner_rep", "owner_rep_at"),
        rows,
        "ON CONFLICT (integration, type, external_id) DO UPDATE SET "
        "owner_rep = excluded.owner_rep, owner_rep_at = excluded.owner_rep_at",
        unique=("integration", "type", "external_id"),
    )


_PRIMARY_FOLLOWS = "ON CONFLICT (left_id, right_id) DO UPDATE SET is_primary = excluded.is_primary"


def insert_record_links(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record links as the batch ends, in one statement: new ones inserted, and an existing
    one whose ``is_primary`` changed (a contact's primary company moved) updated."""
    columns = ("left_id", "right_id", "left_type", "right_type", "is_primary")
    unique = ("left_id", "right_id")
    _insert(connection, record_associations, columns, rows, _PRIMARY_FOLLOWS, unique=unique)


def insert_activities(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    _insert(connection, activities, _ACTIVITY_COLUMNS, rows, json_columns=("properties",))


def update_activities(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = [c for c in _ACTIVITY_COLUMNS if c != "id"] + ["properties"]
    _update_many(connection, activities, "id", rows, columns)


def delete_activities(connection: Connection, ids: Collection[int]) -> None:
    if ids:
        aa = activity_associations
        connection.execute(sa.delete(aa).where(_in(connection, aa.c.activity_id, ids)))
        connection.execute(sa.delete(activities).where(_in(connection, activities.c.id, ids)))


def insert_activity_links(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = ("activity_id", "record_id", "record_type", "source", "reason")
    _insert(connection, activity_associations, columns, rows, _DO_NOTHING)


def save_activity_memory(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert memories: dicts with integration, type, external_id, state, updated_at."""
    _insert(
        connection,
        activity_memory,
        ("integration", "type", "external_id", "updated_at"),
        rows,
        "ON CONFLICT (integration, type, external_id) DO UPDATE SET "
        "state = excluded.state, updated_at = excluded.updated_at",
        json_columns=("state",),
        unique=("integration", "type", "external_id"),
    )


def insert_activity_sources(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert sources: a source key whose activity was merged into another (one activity a
    tool names by several ids, engine/aliases.py) or removed points at its new one."""
    columns = ("integration", "type", "external_id", "activity_id", "merged_at", "reason")
    _insert(
        connection,
        activity_sources,
        columns,
        rows,
        "ON CONFLICT (integration, type, external_id) DO UPDATE SET "
        "activity_id = excluded.activity_id, merged_at = excluded.merged_at, "
        "reason = excluded.reason",
        unique=("integration", "type", "external_id"),
    )


_DECISION_COLUMNS = (
    "record_id",
    "record_type",
    "event_id",
    "integration",
    "strategy",
    "at",
    "previous_owner_id",
    "proposed_owner_id",
    "owner_id",
    "outcome",
    "reason",
    "external_user",
    "flagged",
    "settings",
    "decided_at",
)


def insert_owner_decisions(connection: Connection, decisions: Sequence[OwnerDecision]) -> None:
    """The owner history: one row per decision, applied or not, with its reason, its event's
    time and when it was decided (one statement for all; a decision whose maker gave no
    ``decided_at`` — the push's re-decisions, made and dated at once — is decided at its
    ``at``)."""
    if not decisions:
        return
    insert_rows(
        connection,
        owner_decisions,
        _DECISION_COLUMNS,
        [
            (
                d.record_id,
                d.record_type._value_,
                d.event_id,
                d.integration,
                d.strategy,
                d.at,
                d.previous_owner_id,
                d.proposed_owner_id,
                d.owner_id,
                d.outcome._value_,
                d.reason,
                d.external_user,
                d.flagged,
                d.settings,
                d.decided_at or d.at,
            )
            for d in decisions
        ],
    )


def insert_activity_skips(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    columns = tuple(c.name for c in activity_skips.c if c.name != "id")
    _insert(connection, activity_skips, columns, rows)
