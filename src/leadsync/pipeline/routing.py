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

from collections.abc import Callable, Mapping, Sequence
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
) -> list[tuple[dict[str, Any], list[Event] | None, bool]] | None:
    """Route the next window in the caller's transaction: its rows with their events (None
    for a row that cannot be read) and whether the row was put in a part (False: held back
    behind an open part it could meet); None when no window was looked at (another worker
    is routing, or no row is routable)."""
    if not routing_store.try_lock_router(connection):
        return None
    # Shared: no exclusive work (which takes ids, or closes parts) runs meanwhile.
    routing_store.lock_batch(connection, shared=True)
    rows = routing_store.routable(connection, batch_size * max(1, parts))
    if not rows:
        return None
    parsed: list[list[Event] | None] = []
    for row in rows:
        try:
            parsed.append(parse(row))
        except Exception:  # unreadable: the drain dead-letters it, alone in its component
            parsed.append(None)
    events = [found or [] for found in parsed]
    row_keys = [[k for e in found for k in conflicts.event_keys(e, rules)] for found in events]
    for keys, more in zip(row_keys, conflicts.rep_keys(connection, rules, events), strict=True):
        keys.extend(more)
    pairs = conflicts.resolve(connection, rules, {k for keys in row_keys for k in keys})
    component, keys_of = conflicts.components(row_keys, pairs)
    reads_of: dict[int, set[conflicts.Key]] = {}
    for index, found in enumerate(events):
        reads_of.setdefault(component[index], set()).update(conflicts.read_keys(found))
    written, read = routing_store.open_keys(connection)
    hashes = {c: {conflicts.key_hash(k) for k in keys} for c, keys in keys_of.items()}
    reads = {c: {conflicts.key_hash(k) for k in keys} for c, keys in reads_of.items()}
    held = {
        c
        for c in hashes
        if not hashes[c].isdisjoint(written)
        or not hashes[c].isdisjoint(read)
        or not reads.get(c, set()).isdisjoint(written)
    }
    go = [i for i in range(len(rows)) if component[i] not in held]
    bins = pack([component[i] for i in go], parts)
    ids = routing_store.create_parts(connection, [len(b) for b in bins], now_ts())
    part_of: dict[int, int] = {}
    saved: set[tuple[int, int, bool]] = set()
    for part, members in zip(ids, bins, strict=True):
        roots = {component[go[m]] for m in members}
        for m in members:
            part_of[go[m]] = part
        saved.update((part, h, False) for c in roots for h in hashes[c])
        saved.update((part, h, True) for c in roots for h in reads.get(c, ()))
    routing_store.save_keys(connection, sorted(saved))
    firsts = _reserve(connection, rows, [conflicts.id_bounds(found) for found in events])
    routing_store.assign(
        connection,
        [(part_of.get(i), *firsts[i], int(row["seq"])) for i, row in enumerate(rows)],
    )
    return [(row, parsed[i], i in part_of) for i, row in enumerate(rows)]


def _reserve(
    connection: Connection, rows: Sequence[Mapping[str, Any]], bounds: Sequence[tuple[int, int]]
) -> list[tuple[int | None, int | None]]:
    """The first record and activity id of every row's block: kept when a window before
    reserved it (a row held back keeps its place), else reserved now, in arrival order (None
    when the sequence did not give one run: the row then takes its ids as it goes)."""
    out: list[list[int | None]] = [
        [row.get("record_ids_from"), row.get("activity_ids_from")] for row in rows
    ]
    fresh = [i for i, row in enumerate(out) if row[0] is None and row[1] is None]
    for column, kind in enumerate((RECORD_IDS, ACTIVITY_IDS)):
        total = sum(bounds[i][column] for i in fresh)
        if not total:
            continue
        reserved = routing_store.reserve_ids(connection, kind, total)
        if reserved[-1] - reserved[0] + 1 != total:
            continue
        at = reserved[0]
        for i in fresh:
            out[i][column] = at
            at += bounds[i][column]
    return [(r, a) for r, a in out]


def pack(component: Sequence[int], parts: int) -> list[list[int]]:
    """Rows (by index into ``component``) packed into at most ``parts`` non-empty bins of about equal size, a
    component never split: largest component first, into the emptiest bin; each bin's rows
    in their order."""
    members: dict[int, list[int]] = {}
    for index, first in enumerate(component):
        members.setdefault(first, []).append(index)
    bins: list[list[int]] = [[] for _ in range(max(1, parts))]
    for rows in sorted(members.values(), key=lambda r: (-len(r), r[0])):
        min(bins, key=len).extend(rows)
    return [sorted(b) for b in bins if b]
