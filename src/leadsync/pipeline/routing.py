"""The router of parallel workers (PostgreSQL): the next window of the inbox cut into parts
whose events touch disjoint records, so that workers apply the parts side by side and every
record still sees its events in arrival order.

One worker at a time routes (the router's lock), and only when every part of the last window
is done (a barrier): the database then holds every effect of the events before the window,
so looking up what the window's events name finds every record they can meet. A window is
the oldest routable rows (:func:`leadsync.store.routing.routable`: in commit order, never past
a writer still running), ``batch_size × parts`` of them. Each row's keys
(:mod:`leadsync.engine.conflicts`) join rows into components; the components are packed
into at most ``parts`` parts of about equal size (largest first, into the emptiest part),
each keeping its rows in arrival order. See docs/ARCHITECTURE.md, "Parallel workers".
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


def route_window(
    connection: Connection,
    rules: WorkspaceRules,
    parse: Callable[[Mapping[str, Any]], list[Event]],
    batch_size: int,
    parts: int = DEFAULT_PARTS,
    elected: bool = False,
    known: Container[int] = (),
    named: Mapping[int, Sequence[conflicts.Key]] | None = None,
) -> list[tuple[dict[str, Any], list[Event] | None]] | None:
    """Route the next window in the caller's transaction: its rows with their events (None
    for a row that cannot be read), or None when no window was routed (another worker is
    routing, or is elected to route next while ``elected`` says this one is not; a part of
    the last window is not done; or no row is routable). The payloads of the rows in
    ``known`` (by sequence number) are not read: ``parse`` has their events; ``named`` may
    hold the keys those events name (:func:`leadsync.engine.conflicts.row_keys`). With one part
    per window the window is that part, in arrival order: nothing is looked up."""
    if not routing_store.try_lock_router(connection, elected):
        return None
    if routing_store.open_parts(connection):
        return None
    # Shared: no exclusive work (which takes ids) runs while the window's ids are reserved.
    routing_store.lock_batch(connection, shared=True)
    rows = routing_store.routable(connection, batch_size * max(1, parts), known)
    if not rows:
        return None
    parsed: list[list[Event] | None] = []
    for row in rows:
        try:
            parsed.append(parse(row))
        except Exception:  # unreadable: the drain dead-letters it, alone in its component
            parsed.append(None)
    events = [found or [] for found in parsed]
    if parts > 1:  # no more parts than workers to take them: a lone worker looks nothing up
        parts = min(parts, routing_store.draining(connection))
    if parts <= 1:
        bins = [list(range(len(rows)))]
    else:
        seqs = [int(row["seq"]) for row in rows]
        bins = _cut(connection, rules, seqs, events, parts, named or {})
    firsts = _reserve(connection, [conflicts.id_bounds(found) for found in events])
    routing_store.create_parts(
        connection,
        [
            ([int(rows[i]["seq"]) for i in b], [firsts[i][0] for i in b], [firsts[i][1] for i in b])
            for b in bins
        ],
        now_ts(),
    )
    return list(zip(rows, parsed, strict=True))


def _cut(
    connection: Connection,
    rules: WorkspaceRules,
    seqs: Sequence[int],
    events: Sequence[list[Event]],
    parts: int,
    named: Mapping[int, Sequence[conflicts.Key]],
) -> list[list[int]]:
    """The window's rows (by index) in at most ``parts`` parts whose events cannot meet."""
    row_keys = [
        list(named[seq]) if seq in named else conflicts.row_keys(found, rules)
        for seq, found in zip(seqs, events, strict=True)
    ]
    for keys, more in zip(row_keys, conflicts.rep_keys(connection, rules, events), strict=True):
        keys.extend(more)
    pairs = conflicts.resolve(connection, rules, {k for keys in row_keys for k in keys})
    return pack(conflicts.components(row_keys, pairs), parts)


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


def pack(component: Sequence[int], parts: int) -> list[list[int]]:
    """Rows (by index) packed into at most ``parts`` non-empty bins of about equal size, a
    component never split: largest component first, into the emptiest bin; each bin's rows
    in their order."""
    members: dict[int, list[int]] = {}
    for index, first in enumerate(component):
        members.setdefault(first, []).append(index)
    bins: list[list[int]] = [[] for _ in range(max(1, parts))]
    for rows in sorted(members.values(), key=lambda r: (-len(r), r[0])):
        min(bins, key=len).extend(rows)
    return [sorted(b) for b in bins if b]
