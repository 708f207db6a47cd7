"""Taking events out of the inbox: claim pending rows in sequence order, a batch at a time,
and apply each batch in one transaction that also marks its rows applied.

A batch that is refused as a whole is applied a row at a time
(:func:`~leadsync.pipeline.fallback.apply_with_fallback`); a row that still fails, or that
cannot be read, is marked failed and dead-lettered, and the rows beside it go through.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.engine import BatchResult, WorkspaceRules, apply_batch, conflicts
from leadsync.errors import EventError
from leadsync.model import Event, now_ts
from leadsync.pipeline import routing
from leadsync.pipeline.collector import batch_friendly_gc, collector_off_during_batch
from leadsync.pipeline.fallback import apply_with_fallback, failure_text
from leadsync.pipeline.inbox import (
    DEFAULT_BATCH,
    DeadLetter,
    IngestSummary,
    Problems,
    dead_letter_row,
)
from leadsync.sources import adapter_for
from leadsync.sources.base import Adapter
from leadsync.sources.hygiene import representable
from leadsync.store import batch as counters
from leadsync.store import deadletters as dead_letter_store
from leadsync.store import inbox as inbox_store
from leadsync.store import routing as routing_store
from leadsync.store.database import begin_writing

log = logging.getLogger("leadsync.drain")
_LOCKED = [counters.RECORD_ID, counters.ACTIVITY_ID]


def adapters_for(rules: WorkspaceRules) -> dict[str, Adapter]:
    """One adapter per configured integration, with its vendor options."""
    return {
        name: adapter_for(s.kind, name, s.vendor_options())
        for name, s in rules.integrations.items()
    }


def drain(
    engine: Engine,
    rules: WorkspaceRules,
    batch_size: int = DEFAULT_BATCH,
    parsed: dict[int, list[Event]] | None = None,
    on_batch: Callable[[BatchResult], None] | None = None,
    failures: Problems | None = None,
    parts: int = routing.DEFAULT_PARTS,
    keep_going: Callable[[], bool] | None = None,
) -> BatchResult:
    """Apply every pending inbox row, oldest first, a batch at a time.

    ``parsed`` holds events an ingest read already, by inbox sequence (their payloads are
    not read again; each is dropped once its row is done); ``on_batch`` is told what each
    batch did once it committed; ``failures`` collects the rows that became dead letters;
    ``keep_going``, asked after each batch, stops the drain there when it answers False (a
    part left unfinished is taken up again where its last batch left it, as a dead
    worker's is). On PostgreSQL the
    rows go through the router's parts (``parts`` per window), side by side with other
    workers (:func:`_drain_parts`); on SQLite, in sequence order under the one write lock."""
    parsed = parsed if parsed is not None else {}
    drainer = _Drainer(
        engine,
        rules,
        adapters_for(rules),
        batch_size,
        parsed,
        failures,
        on_batch=on_batch,
        keep_going=keep_going,
    )
    total = BatchResult()
    with batch_friendly_gc():
        if engine.dialect.name == "postgresql":
            _drain_parts(drainer, total, parts)
        else:
            _drain_rows(drainer, total)
    return total


def _drain_rows(drainer: _Drainer, total: BatchResult) -> bool:
    """Apply batches of what the drainer claims until it claims nothing (True), or until
    ``keep_going`` says to stop (False)."""
    while True:
        with collector_off_during_batch():
            results = apply_with_fallback(
                drainer.engine,
                drainer.apply_claimed,
                drainer.claimed,
                drainer.apply_row,
                drainer.refuse_row,
            )
        if not drainer.claimed:
            return True
        if drainer.part is not None:
            drainer.part.at = drainer.claimed_to
        for row in drainer.claimed:
            drainer.parsed.pop(int(row["seq"]), None)
            drainer.named.pop(int(row["seq"]), None)
        batch = BatchResult()
        for result in results:
            batch.add(result)
        total.add(batch)
        if drainer.on_batch is not None:
            drainer.on_batch(batch)
        if drainer.keep_going is not None and not drainer.keep_going():
            return False


# How long a worker waits before looking again when the parts left are other workers'; and
# how long a drain waits at most for rows behind a transaction of this database still running.
PART_WAIT_S = 0.02
ROUTE_WAIT_S = 10.0
# Windows of parsed events a worker keeps at most (the router's parse, reused by whoever of
# the workers applies the row: a long drain must not keep every row it routed).
PARSED_KEPT = 4


def _drain_parts(drainer: _Drainer, total: BatchResult, parts: int) -> None:
    """PostgreSQL: take an open part no other worker holds and apply it; when none is left,
    route the next window (:func:`leadsync.pipeline.routing.route_window`); wait while
    other workers finish the last parts of a window; return when nothing is left to route.

    A part is held by a session lock on a connection of its own, released when the part is
    done, or by PostgreSQL when the worker dies: another worker then takes the part over
    where its last committed batch left it. A worker left with nothing to apply while others
    finish their parts reads and parses the next window meanwhile, and is the one that
    routes it (:func:`leadsync.store.routing.try_elect`) — at once, beside the open parts'
    pending rows (:func:`leadsync.pipeline.routing.cut_next`), not waiting for them. The
    workers draining are counted (:func:`leadsync.store.routing.enlist`): a window is cut in
    no more parts than them. Once a window is routed, tables grown past their planner
    statistics are analyzed (:func:`_keep_statistics`)."""
    with drainer.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as holder:
        try:
            routing_store.enlist(holder)
            _parts_loop(drainer, total, parts, holder)
        finally:
            try:
                routing_store.resign(holder)
                routing_store.leave(holder)
            # Its session is gone, or goes now: so are the locks. After a statement cut off
            # (the error this drain raises), SQLAlchemy refuses the next one with
            # PendingRollbackError: it must not take the outage's place (a traceback).
            except (sa.exc.DBAPIError, sa.exc.PendingRollbackError):
                holder.invalidate()


def _parts_loop(drainer: _Drainer, total: BatchResult, parts: int, holder: sa.Connection) -> None:
    """:func:`_drain_parts`'s loop, with ``holder`` holding this worker's session locks."""
    engine = drainer.engine
    waiting_since: float | None = None
    read_ahead = elected = routed_last = False
    pace = _Pace()
    window = drainer.batch_size * max(1, parts)
    while True:
        part = _claim_part(holder, smallest=routed_last)
        if part is not None:
            if taken := routing_store.applied_in(holder, part):  # said: an operator sees it
                log.info(
                    "worker: took part %d over: %d of its %d events were applied by a worker "
                    "that stopped; going on from there",
                    part.id,
                    taken,
                    len(part.seqs),
                )
            waiting_since = None  # only an uninterrupted wait counts
            read_ahead = elected  # a wait is over: the next one may read ahead again
            routed_last = False
            started, first = time.monotonic(), part.at
            try:
                drainer.part = part
                done = _drain_rows(drainer, total)
                if done:
                    with begin_writing(engine) as connection:
                        routing_store.finish(connection, part.id)
            finally:
                drainer.part = None
                routing_store.unlock(holder, part.id)
            if not done:
                return  # asked to stop: the part is taken up where its last batch left it
            pace.applied(len(part.seqs) - first, time.monotonic() - started)
            continue
        if drainer.keep_going is not None and not drainer.keep_going():
            return
        started = time.monotonic()
        with begin_writing(engine) as connection:
            routed = routing.route_window(
                connection,
                drainer.rules,
                drainer.parse_row,
                drainer.batch_size,
                parts,
                elected=elected,
                known=drainer.parsed,
                named=drainer.named,
                light=pace.light(window),
            )
            busy = routed is None and bool(routing_store.open_parts(connection))
            # Rows whose writer's transaction (or an older one of this database) is still
            # running wait for it, a while.
            blocked = routed is None and not busy and routing_store.unrouted_waiting(connection)
        if busy and elected and read_ahead:  # the next window, cut while the last parts end
            with begin_writing(engine) as connection:
                routed = routing.cut_next(
                    connection,
                    drainer.rules,
                    drainer.parse_row,
                    drainer.batch_size,
                    parts,
                    known=drainer.parsed,
                    named=drainer.named,
                    light=pace.light(window),
                )
        if routed is not None:
            waiting_since = None
            if elected:
                routing_store.resign(holder)
            read_ahead = elected = False
            if len(drainer.parsed) > PARSED_KEPT * drainer.batch_size * parts:
                drainer.parsed.clear()  # rows other workers applied: read again if need be
                drainer.named.clear()
            for row, events in routed:
                if events is not None:
                    drainer.parsed.setdefault(int(row["seq"]), events)
            _keep_statistics(engine)
            pace.routed(time.monotonic() - started)
            routed_last = True
            continue
        if busy:
            waiting_since = None
            if not read_ahead:  # once per wait: the next window, parsed while others apply
                read_ahead = True
                elected = routing_store.try_elect(holder)
                if elected:
                    _read_ahead(drainer, window)
                    pace.read_ahead = time.monotonic() - started
                    continue
        else:
            if not blocked:
                return
            waiting_since = waiting_since or time.monotonic()
            if time.monotonic() - waiting_since > ROUTE_WAIT_S:
                return  # the worker's loop comes back for them
        time.sleep(PART_WAIT_S)


@dataclass
class _Pace:
    """How fast this worker applies rows, and how long its last routing took (reading the
    window ahead, cutting it, the statistics after it): the part the router cuts for itself
    is lighter by the rows the others apply meanwhile, so that it is done with its part and
    the next window's routing when they are done with theirs."""

    rate: float = 0.0  # rows a second, over the last part
    routing: float = 0.0  # seconds
    read_ahead: float = 0.0  # seconds, for the routing under way

    def applied(self, rows: int, seconds: float) -> None:
        if rows > 0 and seconds > 0:
            self.rate = rows / seconds

    def routed(self, seconds: float) -> None:
        self.routing, self.read_ahead = self.read_ahead + seconds, 0.0

    def light(self, window: int) -> int:
        return min(window, int(self.rate * self.routing))


def _keep_statistics(engine: Engine) -> None:
    """Once a window is routed: the planner statistics of the tables that grew past them
    (:func:`leadsync.store.routing.analyze_grown`)."""
    with begin_writing(engine) as connection:
        grown = routing_store.analyze_grown(connection)
    if grown:
        log.debug("statistics taken again (grown since the last): %s", ", ".join(grown))


def _read_ahead(drainer: _Drainer, window: int) -> None:
    """Parse the rows the next window will take (as far as they are routable now) into the
    drainer's cache: the router then finds them parsed."""
    if len(drainer.parsed) > PARSED_KEPT * window:  # rows other workers applied
        drainer.parsed.clear()
        drainer.named.clear()
    with drainer.engine.connect() as connection:
        rows = routing_store.routable(connection, window, drainer.parsed)
    for row in rows:
        try:
            seq = int(row["seq"])
            events = drainer.parsed.setdefault(seq, drainer.parse_row(row))
            drainer.named[seq] = conflicts.row_keys(events, drainer.rules)
        except Exception:  # noqa: S112 - the router meets it again and dead-letters it
            continue


def _claim_part(holder: sa.Connection, smallest: bool = False) -> routing_store.Part | None:
    """An open part this worker now holds (one whose parts to wait for are done), or None
    when every such part is held: the largest, or the smallest for the worker that has just
    routed (its part was cut lighter: :class:`_Pace`)."""
    for part in routing_store.ready_parts(holder, smallest):
        if routing_store.try_claim(holder, part):
            found = routing_store.open_part(holder, part)
            if found is not None:
                return found
            routing_store.unlock(holder, part)  # done meanwhile
    return None


def process(
    engine: Engine, rules: WorkspaceRules, batch_size: int = DEFAULT_BATCH
) -> IngestSummary:
    """Apply every pending inbox row (after a crash, or from intake): :func:`drain`, told
    as an ingest is (the events that failed are in ``failed``)."""
    summary = IngestSummary(None)
    summary.applied = drain(engine, rules, batch_size, failures=summary.failed)
    return summary


@dataclass
class _Drainer:
    """The steps of one drain, each in the transaction it is given."""

    engine: Engine
    rules: WorkspaceRules
    adapters: Mapping[str, Adapter]
    batch_size: int
    parsed: dict[int, list[Event]] = field(default_factory=dict)
    failures: Problems | None = None
    # The keys the events of rows read ahead name (the router's first step, done ahead; kept
    # while their rows are pending, for the next window's cut, which analyses them again).
    named: dict[int, list[conflicts.Key]] = field(default_factory=dict)
    # The rows the current batch claimed, kept should its transaction be refused.
    claimed: list[dict[str, Any]] = field(default_factory=list)
    # The part whose rows are claimed (PostgreSQL's parallel workers), or None: the oldest
    # pending rows, under the one write lock; and where in it the claimed stretch ends.
    part: routing_store.Part | None = None
    claimed_to: int = 0
    # Told what each batch did once it committed; asked after each whether to go on.
    on_batch: Callable[[BatchResult], None] | None = None
    keep_going: Callable[[], bool] | None = None

    def apply_claimed(self, connection: sa.Connection) -> BatchResult:
        """Claim the oldest pending rows, apply them, dead-letter the unreadable ones and
        mark the rest applied."""
        claimed = self.claimed
        claimed.clear()
        self._lock(connection)
        claimed.extend(self._claim(connection))
        if not claimed:
            return BatchResult()
        events, unreadable = self._parse_rows(claimed)
        result = apply_batch(connection, self.rules, events)
        fail_rows(connection, unreadable, self.failures)
        if self.part is None:
            inbox_store.mark_applied(connection, int(claimed[0]["seq"]), int(claimed[-1]["seq"]))
        else:  # the unreadable ones are failed already
            routing_store.mark_applied(connection, [int(r["seq"]) for r in claimed])
        return result

    def _lock(self, connection: sa.Connection) -> None:
        """The batch's lock: shared with the other parts' batches, or the one write lock."""
        if self.part is None:
            counters.lock_counters(connection, _LOCKED)
        else:
            routing_store.lock_batch(connection, shared=True)

    def apply_row(self, connection: sa.Connection, row: Mapping[str, Any]) -> BatchResult:
        """One row of a refused batch alone; an unreadable one is dead-lettered."""
        seq = int(row["seq"])
        self._lock(connection)
        if self._taken_back(connection):
            return BatchResult()
        claimed = inbox_store.load_pending_row(connection, seq)
        if claimed is None:  # taken by another worker since the batch was refused
            return BatchResult()
        for reserved in ("record_ids_from", "activity_ids_from"):  # the router's, if any
            claimed[reserved] = row.get(reserved)
        events, unreadable = self._parse_rows([claimed])
        if unreadable:
            fail_rows(connection, unreadable, self.failures)
            return BatchResult()
        result = apply_batch(connection, self.rules, events)
        routing_store.mark_applied(connection, [seq])
        return result

    def refuse_row(self, row: Mapping[str, Any], error: Exception) -> None:
        """A row refused alone: marked failed and dead-lettered, with why."""
        with begin_writing(self.engine) as connection:
            if self.part is not None:
                self._lock(connection)
                if self._taken_back(connection):
                    return
            claimed = inbox_store.load_pending_row(connection, int(row["seq"]))
            if claimed is not None:
                fail_rows(connection, [(claimed, failure_text(error))], self.failures)

    def _taken_back(self, connection: sa.Connection) -> bool:
        """Whether the part whose rows this worker applies was closed since it claimed them
        (exclusive work, between a refused batch and its rows retried alone, handed its
        pending rows back to the router: another worker may apply them now). Asked under the
        shared batch lock, which such work waits for."""
        return self.part is not None and not routing_store.is_open(connection, self.part.id)

    def _claim(self, connection: sa.Connection) -> list[dict[str, Any]]:
        """The part's next pending rows (with their payloads), or the oldest pending rows,
        whose payloads are read only for events not parsed already."""
        if self.part is not None:
            rows, self.claimed_to = routing_store.part_rows(
                connection, self.part, self.batch_size, self.parsed
            )
            return rows
        rows = inbox_store.claim_pending(connection, self.batch_size)
        missing = [row["seq"] for row in rows if row["seq"] not in self.parsed]
        payloads = inbox_store.load_payloads(connection, missing)
        for row in rows:
            if row["seq"] in payloads:
                row["payload"], row["received_at"] = payloads[row["seq"]]
        return rows

    def _parse_rows(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Event], list[tuple[Mapping[str, Any], str]]]:
        events: list[Event] = []
        unreadable: list[tuple[Mapping[str, Any], str]] = []
        for row in rows:
            try:
                found = self.parse_row(row)
                block = _id_block(row, found)
                for event in found:
                    event.ids = block
                events.extend(found)
            except EventError as exc:
                unreadable.append((row, exc.detail))
            except Exception as exc:  # a defect this row meets: its own dead letter
                unreadable.append((row, defect_text(exc)))
        return events, unreadable

    def parse_row(self, row: Mapping[str, Any]) -> list[Event]:
        """A row's events (from the parsed cache, else its payload); EventError when it
        cannot be read."""
        seq = int(row["seq"])
        cached = self.parsed.get(seq)
        if cached is not None:
            for event in cached:
                event.seq = seq
            return cached
        integration = row["integration"]
        adapter = self.adapters.get(integration)
        if adapter is None:
            raise EventError(
                f"integration {integration!r} is no longer configured", f"inbox #{seq}"
            )
        where = f"{row['source']} (inbox #{seq})" if row["source"] else f"inbox #{seq}"
        return adapter.events_of(row["payload"], row["event_id"], seq, where, row["received_at"])


def _id_block(row: Mapping[str, Any], events: Sequence[Event]) -> list[int] | None:
    """The ids the router reserved for a row (a fresh list each time: a refused batch's
    retry takes them again), or None."""
    records_from, activities_from = row.get("record_ids_from"), row.get("activity_ids_from")
    if records_from is None and activities_from is None:
        return None
    records, activities = conflicts.id_bounds(events)
    r = int(records_from) if records_from is not None else 0
    a = int(activities_from) if activities_from is not None else 0
    return [
        r,
        r + records if records_from is not None else r,
        a,
        a + activities if activities_from is not None else a,
    ]


def defect_text(exc: Exception) -> str:
    """The error of a dead letter made by a defect of ours rather than by its input."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"cannot be read (internal error: {type(exc).__name__}{': ' + first if first else ''})"


def fail_rows(
    connection: sa.Connection,
    failed: Sequence[tuple[Mapping[str, Any], str]],
    failures: Problems | None,
) -> None:
    """Mark rows failed and copy each to the dead letters with why (``failed``: each row and
    the reason, without its place). The place is the row's file and line when an earlier
    dead letter of the event gave them (a retried event that fails again), else its inbox
    position."""
    if not failed:
        return
    at = now_ts()
    keyed = [(str(row["integration"]), row.get("event_id")) for row, _why in failed]
    lines = dead_letter_store.line_numbers(
        connection, {(i, str(e)) for i, e in keyed if e is not None}
    )
    for (row, why), (integration, event_id) in zip(failed, keyed, strict=True):
        seq = int(row["seq"])
        line_no = lines.get((integration, str(event_id))) if event_id is not None else None
        source = row["source"]
        place = f"{source} (inbox #{seq})" if source else f"inbox #{seq}"  # "webhook (inbox #7)"
        where = f"{source}:{line_no}" if source and line_no else place
        reason = representable(why)  # an error may quote what the database cannot hold
        error = f"{where}: {reason}"
        inbox_store.set_status(connection, [seq], inbox_store.FAILED, error)
        inbox_store.insert_dead_letters(
            connection,
            [dead_letter_row(integration, source, line_no, row["payload"], error, at, event_id)],
        )
        if failures is not None:
            failures.append(DeadLetter(where, reason))
