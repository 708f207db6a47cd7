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

APPEND_WINDOWS = 16
"""Rows an open part takes at most, in windows: past it, what meets the part waits for it to
be done (the router's memory of a part's keys is bounded)."""


@dataclass
class Routed:
    """What a routing did: its rows (with their events, None for a row that cannot be read)
    put in new parts or added to open ones, and how many rows it left for later."""

    rows: list[tuple[dict[str, Any], list[Event] | None]]
    parts: int
    deferred: int


class Router:
    """The routing of one worker that holds the router's role
    (:func:`leadsync.store.routing.try_become_router`), with its memory of the open parts it
    cut: their keys (all, the database's included), their rows, and the emails their rows
    teach reps. That memory lets it route the next window while those parts are applied —
    the window's rows are looked up in a database that lacks the open parts' effects, but
    whatever those effects could change is under the open parts' keys, so a row that could
    meet them meets them here: it is added to that part (after its rows), or, meeting two,
    left for a later window. A part it does not know (cut by a router before it) is waited
    for. With ``parts`` 1 it routes only when no part is open: one part at a time, in arrival
    order (the serial reference)."""

    def __init__(self, rules: WorkspaceRules, batch_size: int, parts: int = DEFAULT_PARTS):
        self.rules = rules
        self.window = batch_size * max(1, parts)
        self.parts = max(1, parts)
        self.keys: dict[int, list[conflicts.Key]] = {}  # open part -> its keys
        self.holder: dict[conflicts.Key, int] = {}  # key -> the open part that has it
        self.size: dict[int, int] = {}
        self.learned: dict[tuple[str, str], tuple[str, int]] = {}  # rep -> (email, part)
        self.stalled: frozenset[int] | None = None

    def forget(self, open_ids: Container[int]) -> None:
        """Drop what the parts no longer open held: the database has their effects."""
        gone = [part for part in self.keys if part not in open_ids]
        for part in gone:
            for key in self.keys.pop(part):
                if self.holder.get(key) == part:
                    del self.holder[key]
            del self.size[part]
        if gone:
            self.learned = {r: v for r, v in self.learned.items() if v[1] in self.keys}

    def route(
        self,
        connection: Connection,
        parse: Callable[[Mapping[str, Any]], list[Event]],
        known: Container[int] = (),
    ) -> Routed | None:
        """Route the next window in the caller's transaction, or None when nothing was
        routed: another transaction is routing, an open part is one this router did not
        cut, the last routing could only leave rows for later and no part is done since,
        or no row is routable. The payloads of the rows in ``known`` (by sequence number)
        are not read: ``parse`` has their events."""
        if not routing_store.try_lock_router(connection):
            return None
        open_ids = routing_store.open_parts(connection)
        self.forget(set(open_ids))
        if any(part not in self.keys for part in open_ids):
            return None
        if open_ids and (self.parts == 1 or self.stalled == frozenset(open_ids)):
            return None
        self.stalled = None
        # Shared: no exclusive work (which takes ids) runs while the window's ids are reserved.
        routing_store.lock_batch(connection, shared=True)
        rows = routing_store.routable(connection, self.window, known)
        if not rows:
            return None
        parsed: list[list[Event] | None] = []
        for row in rows:
            try:
                parsed.append(parse(row))
            except Exception:  # unreadable: the drain dead-letters it, alone in its component
                parsed.append(None)
        events = [found or [] for found in parsed]
        rules = self.rules
        row_keys = [[k for e in found for k in conflicts.event_keys(e, rules)] for found in events]
        pending = {rep: email for rep, (email, _part) in self.learned.items()}
        more_keys = conflicts.rep_keys(connection, rules, events, pending, self.holder)
        for keys, more in zip(row_keys, more_keys, strict=True):
            keys.extend(more)
        pairs = conflicts.resolve(connection, rules, {k for keys in row_keys for k in keys})
        component, meets, keys_of = conflicts.partition(row_keys, pairs, self.holder)
        # Where each component goes (what meets an open part is one component with it): into
        # the one open part it meets, if that part takes more; into a new part when the parts
        # it met are done by now; later, when it meets two.
        still_open = routing_store.lock_open(connection, {p for m in meets.values() for p in m})
        cap = self.window * APPEND_WINDOWS
        to: dict[int, int | None] = {}  # component (its first row) -> open part, or None
        for root, met in meets.items():
            found = met & still_open
            if len(found) == 1 and self.size[min(found)] < cap:
                to[root] = min(found)
            elif found:
                to[root] = None
        fresh = [i for i, root in enumerate(component) if root not in to]
        bins = pack([component[i] for i in fresh], self.parts)
        ids = routing_store.create_parts(connection, [len(b) for b in bins], now_ts())
        for part, b in zip(ids, bins, strict=True):
            self.keys[part], self.size[part] = [], 0
            for at in b:
                to[component[fresh[at]]] = part
        part_of = [to[root] for root in component]
        firsts = _reserve(connection, rows, [conflicts.id_bounds(found) for found in events])
        routing_store.assign(
            connection,
            [(part_of[i], *firsts[i], int(row["seq"])) for i, row in enumerate(rows)],
        )
        # Remember what the parts now hold: the component's keys, and those of the parts it
        # met that are done by now (it was looked up before all their effects were written).
        for root, keys in keys_of.items():
            into = to[root]
            if into is None:
                continue
            for done in meets.get(root, set()) - still_open:
                keys = keys + self.keys.get(done, [])
            self.keys[into].extend(keys)
            for key in keys:
                self.holder[key] = into
        routed: list[tuple[dict[str, Any], list[Event] | None]] = []
        for i, row in enumerate(rows):
            into = part_of[i]
            if into is None:
                continue
            self.size[into] += 1
            routed.append((row, parsed[i]))
            for event in events[i]:
                rep = event.owner
                if rep is not None and rep.id is not None and rep.email:
                    self.learned[(event.integration, rep.id)] = (rep.email, into)
        deferred = len(rows) - len(routed)
        if not routed:
            self.stalled = frozenset(open_ids)
        return Routed(routed, len(ids), deferred)


def _reserve(
    connection: Connection, rows: Sequence[Mapping[str, Any]], bounds: Sequence[tuple[int, int]]
) -> list[tuple[int | None, int | None]]:
    """The first record and activity id of every row's block, reserved in arrival order
    (None when the sequence did not give one run of ids: the rows then take theirs as they
    go, in no particular order). A row left for later by an earlier routing keeps the ids it
    was given then: it came before the rows routed since."""
    out: list[list[int | None]] = [[None, None] for _ in bounds]
    kept = [
        row.get("record_ids_from") is not None or row.get("activity_ids_from") is not None
        for row in rows
    ]
    for column, kind in enumerate((RECORD_IDS, ACTIVITY_IDS)):
        name = ("record_ids_from", "activity_ids_from")[column]
        total = sum(b[column] for b, k in zip(bounds, kept, strict=True) if not k)
        at = routing_store.reserve_run(connection, kind, total) if total else None
        for row, bound, mine, was in zip(out, bounds, kept, rows, strict=True):
            if mine:
                row[column] = None if was.get(name) is None else int(was[name])
            elif at is not None:
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
