"""The router of parallel workers (PostgreSQL): the next window of the inbox cut into parts
whose events touch disjoint records, so that workers apply the parts side by side and every
record still sees its events in arrival order.

One worker at a time routes (the router's lock). At the barrier (:func:`route_window`, every
part of the last window done) the database holds every effect of the events before the
window, so looking up what the window's events name finds every record they can meet. The
elected worker does not wait for it (:func:`cut_next`): it cuts the window beside the open
parts' pending rows, and what meets those rows waits for their parts. A window is the oldest
routable rows (:func:`leadsync.store.routing.routable`: in commit order, never past a writer
still running), ``batch_size × parts`` of them. Each row's keys
(:mod:`leadsync.engine.conflicts`) join rows into components; the components are packed into
at most ``parts`` parts of about equal size (largest first, into the emptiest part), each
keeping its rows in arrival order. See docs/ARCHITECTURE.md, "Parallel workers".
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.engine import conflicts
from leadsync.engine.state import ACTIVITY_IDS, RECORD_IDS
from leadsync.model import Event, now_ts
from leadsync.rules.workspace import WorkspaceRules
from leadsync.store import routing as routing_store

DEFAULT_PARTS = 4
"""Parts per window: enough for four workers each to take one; one worker applies them in
turn at the cost of the same batches."""


Parse = Callable[[Mapping[str, Any]], list[Event]]
Routed = list[tuple[dict[str, Any], list[Event] | None]]


def route_window(
    connection: Connection,
    rules: WorkspaceRules,
    parse: Parse,
    batch_size: int,
    parts: int = DEFAULT_PARTS,
    elected: bool = False,
    known: Container[int] = (),
    named: Mapping[int, Sequence[conflicts.Key]] | None = None,
    light: int = 0,
) -> Routed | None:
    """Route the next window in the caller's transaction: its rows with their events (None
    for a row that cannot be read), or None when no window was routed (another worker is
    routing, or is elected to route next while ``elected`` says this one is not; a part is
    still open; or no row is routable). The payloads of the rows in ``known`` (by sequence
    number) are not read: ``parse`` has their events; ``named`` may hold the keys those events
    name (:func:`leadsync.engine.conflicts.row_keys`). With one part per window the window is
    that part, in arrival order: nothing is looked up. One part is lighter by ``light`` rows
    (:func:`pack`): the router's, who takes the smallest part it can
    (:func:`leadsync.pipeline.drain`)."""
    if not routing_store.try_lock_router(connection, elected):
        return None
    if routing_store.open_parts(connection):
        return None
    # Shared: no exclusive work (which takes ids) runs while the window's ids are reserved.
    routing_store.lock_batch(connection, shared=True)
    rows = routing_store.routable(connection, batch_size * max(1, parts), known)
    if not rows:
        return None
    parsed = [_events(parse, row) for row in rows]
    events = [found or [] for found in parsed]
    if parts > 1:  # no more parts than workers to take them: a lone worker looks nothing up
        parts = min(parts, routing_store.draining(connection))
    if parts <= 1:
        bins = [list(range(len(rows)))]
    else:
        seqs = [int(row["seq"]) for row in rows]
        component = _components(connection, rules, seqs, events, named or {})
        bins = pack(component, parts, light)
    _create(connection, rows, events, bins, [])
    return list(zip(rows, parsed, strict=True))


def cut_next(
    connection: Connection,
    rules: WorkspaceRules,
    parse: Parse,
    batch_size: int,
    parts: int = DEFAULT_PARTS,
    known: Container[int] = (),
    named: Mapping[int, Sequence[conflicts.Key]] | None = None,
    light: int = 0,
) -> Routed | None:
    """Cut the next window while parts are still open, in the caller's transaction (the
    elected router, whose own part is done): as :func:`route_window`, or None when another
    worker is routing, a lone worker drains, nothing is routable, or the open parts still
    have more than a window (``batch_size × parts``) of rows pending.

    The database does not hold the effects of the open parts' pending rows yet, so those
    rows are analysed beside the window, as if they were its first rows: every relation they
    may still make (a record getting an email, a number, a company; an activity its record; a
    rep a new learned email) is between keys they name or find (``conflicts``' keys), so
    whatever of the window will meet them, directly or through the database, is in a
    component with them; what was applied before the lookups, the lookups find (the pending
    rows are read first: a row applied in between is counted twice, never missed). The
    window's components that hold none of those rows are parts to take at once; the others
    are parts that wait for the open parts whose rows they hold (``route_parts.after``)."""
    if parts <= 1 or not routing_store.try_lock_router(connection, elected=True):
        return None
    routing_store.lock_batch(connection, shared=True)
    window = batch_size * parts
    if routing_store.held_more_than(connection, window):
        return None
    parts = min(parts, routing_store.draining(connection))
    rows = routing_store.routable(connection, window, known) if parts > 1 else []
    if not rows:
        return None
    held = routing_store.held_pending(connection, known)
    parsed = [_events(parse, row) for row in rows]
    events = [found or [] for found in parsed]
    seqs = [int(row["seq"]) for row in held + rows]
    held_events = [_events(parse, row) or [] for row in held]
    component = _components(connection, rules, seqs, held_events + events, named or {})
    waits: dict[int, set[int]] = {}  # component -> the open parts it meets
    for index, row in enumerate(held):
        waits.setdefault(component[index], set()).add(int(row["part"]))
    mine = component[len(held) :]
    free = [i for i, c in enumerate(mine) if c not in waits]
    bound = [i for i, c in enumerate(mine) if c in waits]

    def _bins(rows: Sequence[int]) -> int:  # no part of less than a batch, if it can be
        return max(1, min(parts, -(-len(rows) // batch_size)))

    bins = [[free[i] for i in b] for b in pack([mine[i] for i in free], _bins(free), light)]
    after: list[set[int]] = [set() for _ in bins]
    if bound:
        for b in pack([mine[i] for i in bound], _bins(bound)):
            rows_of = [bound[i] for i in b]
            bins.append(rows_of)
            after.append(set().union(*(waits[mine[i]] for i in rows_of)))
    _create(connection, rows, events, bins, after)
    return list(zip(rows, parsed, strict=True))


def _create(
    connection: Connection,
    rows: Sequence[Mapping[str, Any]],
    events: Sequence[list[Event]],
    bins: Sequence[Sequence[int]],
    after: Sequence[set[int]],
) -> None:
    """The window's parts (each bin's rows by index, in arrival order), with every row's ids
    reserved in arrival order."""
    firsts = _reserve(connection, [conflicts.id_bounds(found) for found in events])
    routing_store.create_parts(
        connection,
        [
            ([int(rows[i]["seq"]) for i in b], [firsts[i][0] for i in b], [firsts[i][1] for i in b])
            for b in bins
        ],
        now_ts(),
        after,
    )


def _events(parse: Parse, row: Mapping[str, Any]) -> list[Event] | None:
    try:
        return parse(row)
    except Exception:  # unreadable: the drain dead-letters it, alone in its component
        return None


def _components(
    connection: Connection,
    rules: WorkspaceRules,
    seqs: Sequence[int],
    events: Sequence[list[Event]],
    named: Mapping[int, Sequence[conflicts.Key]],
) -> list[int]:
    """The component of every row (:func:`leadsync.engine.conflicts.components`): rows whose
    events can meet share one."""
    row_keys = [
        list(named[seq]) if seq in named else conflicts.row_keys(found, rules)
        for seq, found in zip(seqs, events, strict=True)
    ]
    reps = conflicts.rep_keys(connection, rules, events)
    lines = conflicts.line_keys(connection, rules, events)
    for keys, more, learned in zip(row_keys, reps, lines, strict=True):
        keys.extend(more)
        keys.extend(learned)
    pairs = conflicts.resolve(connection, rules, {k for keys in row_keys for k in keys})
    return conflicts.components(row_keys, pairs)


def _reserve(
    connection: Connection, bounds: Sequence[tuple[int, int]]
) -> list[tuple[int | None, int | None]]:
    """The first record and activity id of every row's block, reserved in arrival order
    (None when the sequence did not give one run of ids: the rows then take theirs as they
    go, in no particular order)."""
    out: list[list[int | None]] = [[None, None] for _ in bounds]
    for column, kind in enumerate((RECORD_IDS, ACTIVITY_IDS)):
        total = sum(b[column] for b in bounds)
        if not total:
            continue
        at = routing_store.reserve_run(connection, kind, total)
        if at is None:
            continue
        for row, bound in zip(out, bounds, strict=True):
            row[column] = at
            at += bound[column]
    return [(r, a) for r, a in out]


def pack(component: Sequence[int], parts: int, light: int = 0) -> list[list[int]]:
    """Rows (by index) packed into at most ``parts`` non-empty bins of about equal size, a
    component never split: largest component first, into the emptiest bin; each bin's rows
    in their order. With ``light``, the last bin is packed as if it held that many rows
    already: the router's own part, lighter by the rows the others apply while it routes
    the next window."""
    members: dict[int, list[int]] = {}
    for index, first in enumerate(component):
        members.setdefault(first, []).append(index)
    count = max(1, parts)
    bins: list[list[int]] = [[] for _ in range(count)]
    load = [0] * count
    load[-1] = light if count > 1 else 0
    for rows in sorted(members.values(), key=lambda r: (-len(r), r[0])):
        emptiest = min(range(count), key=load.__getitem__)
        bins[emptiest].extend(rows)
        load[emptiest] += len(rows)
    return [sorted(b) for b in bins if b]
