"""The SQL of parallel workers on PostgreSQL (see :mod:`leadsync.pipeline.routing`).

- Which inbox rows may be routed: pending, in no open part, and written by a transaction that
  is over — ``txid`` below :func:`horizon`, so no transaction of this database still running
  can commit a row that belongs before them — in ``(txid, seq)`` order: the order in which their
  writers committed as far as anyone could tell (a request answered before another was sent
  has the smaller transaction id).
- The parts: ``route_parts`` rows, each listing its inbox rows in arrival order with the
  ids reserved for them (the inbox's rows are not written to route them); a worker claims a
  part with a session advisory lock (released by ``unlock``, or by PostgreSQL when the
  worker's connection ends, crash included), applies its rows a batch at a time
  (:class:`Part` keeps its place), and marks it done. A part cut while others were open may
  wait for some of them (``after``): it is taken only once they are done (:func:`ready_parts`).
- The batch lock: every part's batch holds the shared batch lock; whatever needs the whole
  workspace still (preview, replay, undo, the test lead, ``records set-owner``, hold expiry,
  an ingest's direct apply) takes it exclusively through
  :func:`leadsync.store.batch.lock_counters`, and waits for the parts' batches under way.
- Ids from sequences (``record_ids``, ``activity_ids``): no counter row to wait on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Container, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import dicts, id_array, in_values
from leadsync.store.inbox import load_payloads
from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_sources,
    inbox,
    metadata,
    route_parts,
)

# Advisory lock keys (two int4 form): the batch lock, the router's lock, and one per part.
_NAMESPACE = 0x6C73
_BATCH = 0
_ROUTER = 1
_NEXT = 2
_DRAINING = 3
_STATISTICS = 4
_PART_NAMESPACE = 0x6C74

_SEQUENCES = {"record": "record_ids", "activity": "activity_ids"}


def parallel(connection: Connection) -> bool:
    """Whether this database runs parallel workers (PostgreSQL) or one writer (SQLite)."""
    return connection.dialect.name == "postgresql"


def lock_batch(connection: Connection, shared: bool) -> None:
    """Take the batch lock for the transaction: shared for a part's batch, exclusive for
    work that needs the whole workspace to itself.

    Exclusive work may change what the open parts were cut by (it links an activity to a
    record, undoes a batch, ...): it takes their pending rows back, to be routed again after
    it, in the same order (:func:`reroute_open`)."""
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    connection.exec_driver_sql(f"SELECT {fn}({_NAMESPACE}, {_BATCH})")
    connection.info[_EXCLUSIVE] = not shared
    connection.info.pop(_PEEKED, None)
    if not shared:
        reroute_open(connection)


def reroute_open(connection: Connection) -> None:
    """Close every open part: its pending rows go back to the router (a pending row in no
    open part is routable)."""
    connection.execute(
        sa.update(route_parts).where(route_parts.c.done.is_(False)).values(done=True)
    )


def try_lock_router(connection: Connection, elected: bool = False) -> bool:
    """The router's lock for the transaction, if no other worker is routing and none is
    elected to route next (``elected``: this worker is, :func:`try_elect`)."""
    sql = f"SELECT pg_try_advisory_xact_lock({_NAMESPACE}, {_ROUTER})"
    if not connection.exec_driver_sql(sql).scalar():
        return False
    if elected:
        return True
    sql = f"SELECT pg_try_advisory_xact_lock({_NAMESPACE}, {_NEXT})"
    return bool(connection.exec_driver_sql(sql).scalar())


def try_elect(holder: Connection) -> bool:
    """Be the worker that routes the next window, if no other is (a session lock on the
    worker's own connection: it reads the window ahead while the last parts are applied, and
    the others leave the routing to it; released by :func:`resign`, or when its connection
    ends, crash included)."""
    sql = f"SELECT pg_try_advisory_lock({_NAMESPACE}, {_NEXT})"
    return bool(holder.exec_driver_sql(sql).scalar())


def enlist(holder: Connection) -> None:
    """Count this worker among the ones draining (a shared session lock on its own connection,
    released by :func:`leave` or when the connection ends, crash included)."""
    holder.exec_driver_sql(f"SELECT pg_advisory_lock_shared({_NAMESPACE}, {_DRAINING})")


def leave(holder: Connection) -> None:
    """No longer count this worker among the ones draining."""
    holder.exec_driver_sql(f"SELECT pg_advisory_unlock_shared({_NAMESPACE}, {_DRAINING})")


def draining(connection: Connection) -> int:
    """How many workers are draining now (:func:`enlist`)."""
    sql = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        f"AND classid = {_NAMESPACE} AND objid = {_DRAINING} AND objsubid = 2 "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return int(connection.exec_driver_sql(sql).scalar_one())


def resign(holder: Connection) -> None:
    """No longer the next router (nothing when this connection was not)."""
    holder.exec_driver_sql(
        f"SELECT pg_advisory_unlock({_NAMESPACE}, {_NEXT}) FROM pg_locks "
        f"WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = {_NAMESPACE} "
        f"AND objid = {_NEXT} AND objsubid = 2"
    )


def reserve_ids(connection: Connection, kind: str, n: int) -> list[int]:
    """``n`` fresh ids for records or activities (``kind``), from their sequence."""
    sql = f"SELECT nextval('{_SEQUENCES[kind]}') FROM generate_series(1, %(n)s)"
    return [int(v) for v in connection.exec_driver_sql(sql, {"n": n}).scalars()]


def reserve_run(connection: Connection, kind: str, n: int) -> int | None:
    """Take ``n`` fresh ids of ``kind``: the first, when they are one run (None when another
    session took some in between; the ids are taken all the same)."""
    sql = (
        f"SELECT min(v), max(v) FROM (SELECT nextval('{_SEQUENCES[kind]}') AS v "
        "FROM generate_series(1, %(n)s)) AS taken"
    )
    first, last = connection.exec_driver_sql(sql, {"n": n}).one()
    return int(first) if int(last) - int(first) + 1 == n else None


_DRY_RUN = "leadsync.rolled_back"


@contextmanager
def rolled_back(connection: Connection) -> Iterator[None]:
    """Mark the transaction as one its caller rolls back (a preview, under the exclusive
    batch lock): its ids are the ones the real run would take next, read from the sequences
    without taking them, so what a preview shows is what the run does."""
    connection.info[_DRY_RUN] = True
    try:
        yield
    finally:
        connection.info.pop(_DRY_RUN, None)


_EXCLUSIVE = "leadsync.exclusive"
_PEEKED = "leadsync.peeked_ids"


@dataclass(frozen=True)
class IdSource:
    """Where a batch takes new ids: ``reserve(kind, n)`` gives ``n`` of them. ``local`` when
    it counts on from the sequences' values without a query: it is then asked one id at a
    time, so what it hands out is exactly what the batch takes."""

    reserve: Callable[[str, int], list[int]]
    local: bool = False


def id_source(connection: Connection) -> IdSource:
    """Where a batch on this connection takes new ids from: under the exclusive batch lock
    (nobody else takes ids meanwhile) the next values of the sequences, one after another
    with no gap, the sequences set past them when the batch is written
    (:func:`advance_sequences`; a transaction marked :func:`rolled_back` leaves them); a
    part's batch :func:`reserve_ids`."""
    if not connection.info.get(_EXCLUSIVE) and not connection.info.get(_DRY_RUN):
        return IdSource(partial(reserve_ids, connection))
    following: dict[str, int] = {}
    connection.info[_PEEKED] = following

    def peek(kind: str, n: int) -> list[int]:
        if kind not in following:
            sql = f"SELECT last_value, is_called FROM {_SEQUENCES[kind]}"
            last, called = connection.exec_driver_sql(sql).one()
            following[kind] = int(last) + 1 if called else int(last)
        first = following[kind]
        following[kind] = first + n
        return list(range(first, first + n))

    return IdSource(peek, local=True)


def advance_sequences(connection: Connection) -> None:
    """Set the sequences past the ids an exclusive batch took (see :func:`id_source`)."""
    following = connection.info.pop(_PEEKED, None)
    if not following or connection.info.get(_DRY_RUN):
        return
    for kind, after in following.items():
        connection.exec_driver_sql(
            f"SELECT setval('{_SEQUENCES[kind]}', %(v)s)", {"v": int(after) - 1}
        )


# The horizon: rows below it were written by transactions that are over, and so was every
# older one that could write here. Only this database's transactions can write its inbox, so
# transactions in other databases (a long one in a neighbour's database) hold nothing back.
# Three steps, each after the one before: the snapshot's xmax (every xid below it is over or
# still running), then this database's running xids (read afresh: pg_stat_clear_snapshot),
# then the rows. An xid below the horizon was over or running at the first step; it was not
# running here at the second; so it was over before the rows' snapshot was taken, and what it
# wrote is seen. pg_stat_activity shows every backend's xid and database to every role.
_XMAX = (
    "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax, "
    "pg_stat_clear_snapshot() IS NULL AS cleared"
)
# The running xids are 32-bit; they are within 2^31 of xmax, which gives their epoch.
_RUNNING_HERE = (
    "SELECT min(%(xmax)s + ((x - %(xmax)s %% 4294967296 + 6442450944) %% 4294967296) "
    "- 2147483648) FROM ("
    "SELECT backend_xid::text::bigint AS x FROM pg_stat_activity "
    "WHERE datname = current_database() AND backend_xid IS NOT NULL AND pid <> pg_backend_pid() "
    "UNION ALL SELECT transaction::text::bigint FROM pg_prepared_xacts "
    "WHERE database = current_database()) AS running"
)
# The rows of open parts (none at the barrier: the elected router reads ahead past them).
_HELD = "SELECT unnest(seqs) FROM route_parts WHERE NOT done"
_ROUTABLE = (
    "SELECT seq, integration, source, event_id FROM inbox "
    f"WHERE status = 'pending' AND txid < %(horizon)s AND seq NOT IN ({_HELD}) "
    "ORDER BY txid, seq LIMIT %(n)s"
)


def horizon(connection: Connection) -> int:
    """The transaction id below which every writer of this database's inbox is over."""
    xmax = int(connection.exec_driver_sql(_XMAX).scalar_one())
    running = connection.exec_driver_sql(_RUNNING_HERE, {"xmax": xmax}).scalar_one()
    return xmax if running is None else min(xmax, int(running))


def routable(
    connection: Connection, limit: int, parsed: Container[int] = ()
) -> list[dict[str, Any]]:
    """The oldest ``limit`` pending rows no part holds yet and no running transaction of this
    database can still come before, in commit order, with their payloads (but for the rows
    whose events the caller has, by sequence number in ``parsed``)."""
    params = {"horizon": horizon(connection), "n": limit}
    rows = dicts(connection.exec_driver_sql(_ROUTABLE, params))
    return _with_payloads(connection, rows, parsed)


def _with_payloads(
    connection: Connection, rows: list[dict[str, Any]], parsed: Container[int]
) -> list[dict[str, Any]]:
    payloads = load_payloads(connection, [r["seq"] for r in rows if r["seq"] not in parsed])
    for row in rows:
        stored = payloads.get(row["seq"])
        row["payload"], row["received_at"] = stored or (None, None)
    return rows


_HELD_PENDING = (
    "SELECT i.seq, i.integration, i.source, i.event_id, p.id AS part "
    "FROM route_parts AS p CROSS JOIN LATERAL unnest(p.seqs) AS s(seq) "
    "JOIN inbox AS i ON i.seq = s.seq WHERE NOT p.done AND i.status = 'pending' "
    "ORDER BY i.txid, i.seq"
)
_HELD_MORE_THAN = (
    f"SELECT count(*) > %(n)s FROM (SELECT 1 FROM inbox WHERE status = 'pending' "
    f"AND seq IN ({_HELD}) LIMIT %(n)s + 1) AS held"
)


def held_more_than(connection: Connection, limit: int) -> bool:
    """Whether the open parts have more than ``limit`` rows pending."""
    return bool(connection.exec_driver_sql(_HELD_MORE_THAN, {"n": limit}).scalar_one())


def held_pending(connection: Connection, parsed: Container[int] = ()) -> list[dict[str, Any]]:
    """The pending rows of the open parts in arrival order, each with its part (``part``)
    and its payload (but for the rows in ``parsed``, as :func:`routable`)."""
    rows = dicts(connection.exec_driver_sql(_HELD_PENDING))
    return _with_payloads(connection, rows, parsed)


_UNROUTED = f"SELECT 1 FROM inbox WHERE status = 'pending' AND seq NOT IN ({_HELD}) LIMIT 1"


def unrouted_waiting(connection: Connection) -> bool:
    """Whether any pending row waits for a part (routable now or once its writer is over)."""
    return connection.exec_driver_sql(_UNROUTED).first() is not None


@dataclass
class Part:
    """An open part as a worker holds it: its rows (inbox sequence numbers, in arrival
    order), the first record and activity id reserved for each (None: the row takes its ids
    as it goes), and how far the worker has applied them (``at``: the rows before it are
    applied or failed)."""

    id: int
    seqs: list[int]
    record_ids_from: list[int | None]
    activity_ids_from: list[int | None]
    at: int = 0


_CREATE_PART = (
    "INSERT INTO route_parts (created_at, events, done, seqs, record_ids_from, "
    "activity_ids_from, after) VALUES (%(at)s, %(events)s, false, %(seqs)s::bigint[], "
    "%(records)s::bigint[], %(activities)s::bigint[], %(after)s::bigint[])"
)


def create_parts(
    connection: Connection,
    parts: Sequence[tuple[Sequence[int], Sequence[int | None], Sequence[int | None]]],
    at: str,
    after: Sequence[Collection[int]] = (),
) -> None:
    """New open parts, each (its rows' sequence numbers in arrival order, their first record
    ids, their first activity ids); ``after``, for each, the parts it waits for (none when
    not given)."""
    for index, (seqs, records_from, activities_from) in enumerate(parts):  # a few per window
        waits = sorted(after[index]) if index < len(after) else []
        values = {"at": at, "events": len(seqs), "seqs": id_array(seqs)}
        values |= {"records": id_array(records_from), "activities": id_array(activities_from)}
        values |= {"after": id_array(waits) if waits else None}
        connection.exec_driver_sql(_CREATE_PART, values)


def open_part(connection: Connection, part: int) -> Part | None:
    """An open part's rows (None once it is done)."""
    c = route_parts.c
    query = sa.select(c.seqs, c.record_ids_from, c.activity_ids_from).where(
        c.id == part, c.done.is_(False)
    )
    found = connection.execute(query).first()
    if found is None:
        return None
    seqs, records_from, activities_from = found
    return Part(part, list(seqs or ()), list(records_from or ()), list(activities_from or ()))


_APPLIED_IN = (
    "SELECT count(*) FROM inbox WHERE seq = ANY(%(seqs)s::bigint[]) AND status <> 'pending'"
)


def applied_in(connection: Connection, part: Part) -> int:
    """How many of an open part's rows are applied (or failed) already: by a worker that
    held it before and stopped (a part is let go only once done, or by a stop)."""
    return int(connection.exec_driver_sql(_APPLIED_IN, {"seqs": id_array(part.seqs)}).scalar_one())


def open_parts(connection: Connection) -> list[int]:
    """The parts not done, oldest first."""
    query = sa.select(route_parts.c.id).where(route_parts.c.done.is_(False))
    return [int(i) for i in connection.execute(query.order_by(route_parts.c.id)).scalars()]


_READY = (
    "SELECT id, events FROM route_parts AS p WHERE NOT done AND (after IS NULL OR NOT EXISTS ("
    "SELECT 1 FROM route_parts AS q WHERE q.id = ANY(p.after) AND NOT q.done)) ORDER BY id"
)


def ready_parts(connection: Connection, smallest: bool = False) -> list[int]:
    """The open parts a worker may take now (every part each waits for is done): the
    largest first (the smallest with ``smallest``), then the oldest."""
    found = [(int(i), int(n)) for i, n in connection.exec_driver_sql(_READY).all()]
    found.sort(key=lambda part: (part[1] if smallest else -part[1], part[0]))
    return [i for i, _n in found]


def try_claim(connection: Connection, part: int) -> bool:
    """A session lock on ``part`` for this connection, if no other holds it."""
    sql = f"SELECT pg_try_advisory_lock({_PART_NAMESPACE}, {_part_key(part)})"
    return bool(connection.exec_driver_sql(sql).scalar())


def unlock(connection: Connection, part: int) -> None:
    sql = f"SELECT pg_advisory_unlock({_PART_NAMESPACE}, {_part_key(part)})"
    connection.exec_driver_sql(sql)


def _part_key(part: int) -> int:
    return int(part) % 2_147_483_647


_PART_ROWS = (
    "SELECT seq, integration, source, event_id FROM inbox "
    "WHERE seq = ANY(%(seqs)s::bigint[]) AND status = 'pending'"
)
_STILL_OPEN = "SELECT 1 FROM route_parts WHERE id = %(part)s AND NOT done"


def is_open(connection: Connection, part: int) -> bool:
    """Whether ``part`` is still open (not done, not closed by exclusive work)."""
    return connection.exec_driver_sql(_STILL_OPEN, {"part": part}).first() is not None


def part_rows(
    connection: Connection, part: Part, limit: int, parsed: Container[int] = ()
) -> tuple[list[dict[str, Any]], int]:
    """The pending rows among the next ``limit`` of a part from ``part.at`` on (past stretches
    with none pending: a part taken over), in its order, with their reserved ids and their
    payloads (but for the rows in ``parsed``, as :func:`routable`); and where the stretch
    ends, for ``part.at`` once they are applied. No row once the part is done or closed."""
    at = part.at
    while at < len(part.seqs):
        if not is_open(connection, part.id):
            break  # closed: its pending rows are the router's again
        end = at + _stretch(len(part.seqs) - at, limit)
        result = connection.exec_driver_sql(_PART_ROWS, {"seqs": id_array(part.seqs[at:end])})
        found = {int(row["seq"]): row for row in dicts(result)}
        if found:
            rows = []
            for i in range(at, end):
                row = found.get(part.seqs[i])
                if row is not None:
                    row["record_ids_from"] = part.record_ids_from[i]
                    row["activity_ids_from"] = part.activity_ids_from[i]
                    rows.append(row)
            return _with_payloads(connection, rows, parsed), end
        at = end  # applied before this worker took the part over
    return [], at


def _stretch(left: int, limit: int) -> int:
    """How many of a part's ``left`` rows its next batch takes: the rest cut into equal
    batches of about ``limit`` (none over 1.5 × ``limit``), so that a part of 4,160 rows at
    2,000 a batch is two batches of 2,080, not a third of 160 with a batch's whole fixed
    cost (its loads, writes and commit)."""
    batches = max(1, round(left / limit))
    return -(-left // batches)


_PART_PENDING = (
    "SELECT 1 FROM inbox WHERE status = 'pending' AND seq = ANY(("
    "SELECT seqs FROM route_parts WHERE id = %(part)s)::bigint[]) LIMIT 1"
)


def finish(connection: Connection, part: int) -> bool:
    """Mark ``part`` done if none of its rows is pending; whether it is done."""
    if connection.exec_driver_sql(_PART_PENDING, {"part": part}).first() is not None:
        return False
    connection.execute(sa.update(route_parts).where(route_parts.c.id == part).values(done=True))
    return True


def mark_applied(connection: Connection, seqs: Collection[int]) -> None:
    """Mark these pending rows applied (by their sequence numbers: on PostgreSQL a range
    may hold a row another transaction committed late, which the batch never claimed)."""
    if seqs:
        seq = inbox.c.seq
        connection.execute(
            sa.update(inbox)
            .where(in_values(seq, seqs, connection.dialect.name), inbox.c.status == "pending")
            .values(status="applied")
        )


def activity_ids(
    connection: Connection, keys: Collection[tuple[str, str, str]]
) -> list[tuple[tuple[str, str, str], int]]:
    """(integration, type, external id) -> activity id, for the source keys that have one,
    their own or the one they were merged into."""
    if not keys:
        return []
    out: list[tuple[tuple[str, str, str], int]] = []
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for integration, atype, external_id in keys:
        grouped[(integration, atype)].add(external_id)
    dialect = connection.dialect.name
    for (integration, atype), ids in grouped.items():
        for table, column in (
            (activities, activities.c.id),
            (activity_sources, activity_sources.c.activity_id),
        ):
            query = sa.select(table.c.external_id, column).where(
                table.c.integration == integration,
                table.c.type == atype,
                in_values(table.c.external_id, ids, dialect),
            )
            for external_id, activity_id in connection.execute(query):
                out.append(((integration, atype, str(external_id)), int(activity_id)))
    return out


def activity_records(connection: Connection, ids: Collection[int]) -> list[tuple[int, int]]:
    """(activity id, record id) of every record these activities are attached to."""
    if not ids:
        return []
    aa = activity_associations
    query = sa.select(aa.c.activity_id, aa.c.record_id).where(
        in_values(aa.c.activity_id, ids, connection.dialect.name)
    )
    return [(int(a), int(r)) for a, r in connection.execute(query)]


# A table is analyzed again once it has changed by three times as many rows as it held at its
# last statistics, and by at least this many: the planner's picture of it is then off by 4x
# or more (autovacuum's own threshold is a tenth of the rows; this only catches what it
# did not do, as each ANALYZE costs tens of milliseconds).
STATISTICS_LEAST = 1000
STATISTICS_GROWTH = 3
_GROWN = f"""
    SELECT s.relname FROM pg_stat_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid
    WHERE s.schemaname = current_schema() AND s.relname = ANY(%(tables)s::text[])
      AND s.n_mod_since_analyze > {STATISTICS_LEAST} + {STATISTICS_GROWTH} * greatest(c.reltuples, 0)
    ORDER BY s.relname"""


def analyze_grown(connection: Connection) -> list[str]:
    """``ANALYZE`` the workspace's tables that changed by more than three times the rows they
    held at their last statistics. The server's autovacuum analyzes far sooner when it runs;
    where it is off or behind, tables that started empty would keep an empty table's
    statistics, and the planner would walk an integration's whole range for each batch
    instead of looking its keys up. One worker at a time (the others go on); the names
    analyzed. A table the database user does not own is skipped by PostgreSQL with a
    warning."""
    if not parallel(connection):
        return []
    sql = f"SELECT pg_try_advisory_xact_lock({_NAMESPACE}, {_STATISTICS})"
    if not connection.exec_driver_sql(sql).scalar():
        return []  # another worker is at it
    grown = [
        str(name)
        for (name,) in connection.exec_driver_sql(_GROWN, {"tables": sorted(metadata.tables)})
    ]
    for name in grown:
        connection.exec_driver_sql(f'ANALYZE "{name}"')
    return grown
