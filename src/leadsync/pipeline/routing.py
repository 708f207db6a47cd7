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
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Ahead:
    """The next window cut while the last one's parts were still applied
    (:func:`cut_ahead`): its rows (inbox sequence numbers, in arrival order), its parts (the
    rows by index) and the routing epoch it was cut at."""

    seqs: tuple[int, ...]
    bins: list[list[int]]
    epoch: int


def route_window(
    connection: Connection,
    rules: WorkspaceRules,
    parse: Parse,
    batch_size: int,
    parts: int = DEFAULT_PARTS,
    elected: bool = False,
    known: Container[int] = (),
    named: Mapping[int, Sequence[conflicts.Key]] | None = None,
    ahead: Ahead | None = None,
) -> list[tuple[dict[str, Any], list[Event] | None]] | None:
    """Route the next window in the caller's transaction: its rows with their events (None
    for a row that cannot be read), or None when no window was routed (another worker is
    routing, or is elected to route next while ``elected`` says this one is not; a part of
    the last window is not done; or no row is routable). The payloads of the rows in
    ``known`` (by sequence number) are not read: ``parse`` has their events; ``named`` may
    hold the keys those events name (:func:`leadsync.engine.conflicts.row_keys`). With one part
    per window the window is that part, in arrival order: nothing is looked up. A window cut
    ``ahead`` is taken as it was cut while it still holds: its rows are still the first
    routable ones and no exclusive work ran since (the routing epoch)."""
    if not routing_store.try_lock_router(connection, elected):
        return None
    if routing_store.open_parts(connection):
        return None
    # Shared: no exclusive work (which takes ids) runs while the window's ids are reserved.
    routing_store.lock_batch(connection, shared=True)
    rows = routing_store.routable(connection, batch_size * max(1, parts), known)
    if not rows:
        return None
    if ahead is not None and not _holds(connection, ahead, rows):
        ahead = None
    if ahead is not None:
        rows = rows[: len(ahead.seqs)]
    parsed = [_events(parse, row) for row in rows]
    events = [found or [] for found in parsed]
    if parts > 1:  # no more parts than workers to take them: a lone worker looks nothing up
        parts = min(parts, routing_store.draining(connection))
    if parts <= 1:
        bins = [list(range(len(rows)))]
    elif ahead is not None:
        bins = ahead.bins
    else:
        seqs = [int(row["seq"]) for row in rows]
        bins = pack(_components(connection, rules, seqs, events, named or {}), parts)
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


def cut_ahead(
    connection: Connection,
    rules: WorkspaceRules,
    parse: Parse,
    batch_size: int,
    parts: int = DEFAULT_PARTS,
    known: Container[int] = (),
    named: Mapping[int, Sequence[conflicts.Key]] | None = None,
) -> Ahead | None:
    """Cut the next window while the last window's parts are still applied, in the caller's
    transaction (the elected router, waiting for the others: :func:`route_window` then takes
    the cut as it is). None when there is nothing to cut, a lone worker drains, or the open
    parts still have more than ``batch_size`` rows pending.

    The database does not hold the effects of the open parts' pending rows yet, so those
    rows are analysed beside the window, as if they were its first rows: every relation they
    may still make (a record getting an email, a number, a company; an activity its record; a
    rep a new email) is between keys they name or find (the keys of ``conflicts``), so any two
    rows of the window that will meet through them are joined here; what they were already
    applied to, the lookups find. They are read before the lookups (a row applied in between
    is counted twice, never missed), under the shared batch lock, and the routing epoch read
    with them tells the router whether exclusive work changed anything since."""
    if parts <= 1:
        return None
    routing_store.lock_batch(connection, shared=True)
    epoch = routing_store.epoch(connection)
    if routing_store.held_more_than(connection, batch_size):
        return None
    parts = min(parts, routing_store.draining(connection))
    rows = routing_store.routable(connection, batch_size * parts, known) if parts > 1 else []
    if not rows:
        return None
    held = routing_store.held_pending(connection, known)
    both = held + rows
    events = [_events(parse, row) or [] for row in both]
    seqs = [int(row["seq"]) for row in both]
    component = _components(connection, rules, seqs, events, named or {})
    return Ahead(tuple(seqs[len(held) :]), pack(component[len(held) :], parts), epoch)


def _holds(connection: Connection, ahead: Ahead, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a window cut ahead still holds: its rows are the first routable ones (no row
    was handed back or put back before them) and no exclusive work ran since it was cut."""
    first = [int(row["seq"]) for row in rows[: len(ahead.seqs)]]
    return first == list(ahead.seqs) and routing_store.epoch(connection) == ahead.epoch


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
    for keys, more in zip(row_keys, conflicts.rep_keys(connection, rules, events), strict=True):
        keys.extend(more)
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
