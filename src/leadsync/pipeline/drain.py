"""Taking events out of the inbox: claim pending rows in sequence order, a batch at a time,
and apply each batch in one transaction that also marks its rows applied.

A batch that is refused as a whole is applied a row at a time
(:func:`~leadsync.pipeline.fallback.apply_with_fallback`); a row that still fails, or that
cannot be read, is marked failed and dead-lettered, and the rows beside it go through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.engine import BatchResult, WorkspaceRules, apply_batch
from leadsync.errors import EventError
from leadsync.model import Event, now_ts
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
from leadsync.store import inbox as inbox_store

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
    on_batch: Callable[[int], None] | None = None,
    failures: Problems | None = None,
) -> BatchResult:
    """Apply every pending inbox row, oldest first, a batch at a time.

    ``parsed`` holds events an ingest read already, by inbox sequence (their payloads are
    not read again; each is dropped once its row is done); ``on_batch`` is told each batch's
    row count; ``failures`` collects the rows that became dead letters."""
    parsed = parsed if parsed is not None else {}
    drainer = _Drainer(engine, rules, adapters_for(rules), batch_size, parsed, failures)
    total = BatchResult()
    with batch_friendly_gc():
        while True:
            with collector_off_during_batch():
                results = apply_with_fallback(
                    engine,
                    drainer.apply_claimed,
                    drainer.claimed,
                    drainer.apply_row,
                    drainer.refuse_row,
                )
            if not drainer.claimed:
                return total
            for row in drainer.claimed:
                drainer.parsed.pop(int(row["seq"]), None)
            for result in results:
                total.add(result)
            if on_batch is not None:
                on_batch(len(drainer.claimed))


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
    # The rows the current batch claimed, kept should its transaction be refused.
    claimed: list[dict[str, Any]] = field(default_factory=list)

    def apply_claimed(self, connection: sa.Connection) -> BatchResult:
        """Claim the oldest pending rows, apply them, dead-letter the unreadable ones and
        mark the rest applied."""
        claimed = self.claimed
        claimed.clear()
        counters.lock_counters(connection, _LOCKED)
        claimed.extend(self._claim(connection))
        if not claimed:
            return BatchResult()
        events, unreadable = self._parse_rows(claimed)
        result = apply_batch(connection, self.rules, events)
        fail_rows(connection, unreadable, self.failures)
        inbox_store.mark_applied(connection, int(claimed[0]["seq"]), int(claimed[-1]["seq"]))
        return result

    def apply_row(self, connection: sa.Connection, row: Mapping[str, Any]) -> BatchResult:
        """One row of a refused batch alone; an unreadable one is dead-lettered."""
        seq = int(row["seq"])
        counters.lock_counters(connection, _LOCKED)
        claimed = inbox_store.load_pending_row(connection, seq)
        if claimed is None:  # taken by another worker since the batch was refused
            return BatchResult()
        events, unreadable = self._parse_rows([claimed])
        if unreadable:
            fail_rows(connection, unreadable, self.failures)
            return BatchResult()
        result = apply_batch(connection, self.rules, events)
        inbox_store.mark_applied(connection, seq, seq)
        return result

    def refuse_row(self, row: Mapping[str, Any], error: Exception) -> None:
        """A row refused alone: marked failed and dead-lettered, with why."""
        with self.engine.begin() as connection:
            claimed = inbox_store.load_pending_row(connection, int(row["seq"]))
            if claimed is not None:
                fail_rows(connection, [(claimed, failure_text(error))], self.failures)

    def _claim(self, connection: sa.Connection) -> list[dict[str, Any]]:
        """The oldest pending rows; payloads are read only for events not parsed already."""
        rows = inbox_store.claim_pending(connection, self.batch_size)
        missing = [row["seq"] for row in rows if row["seq"] not in self.parsed]
        payloads = inbox_store.load_payloads(connection, missing)
        for row in rows:
            if row["seq"] in payloads:
                row["payload"] = payloads[row["seq"]]
        return rows

    def _parse_rows(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[list[Event], list[tuple[Mapping[str, Any], str]]]:
        events: list[Event] = []
        unreadable: list[tuple[Mapping[str, Any], str]] = []
        for row in rows:
            try:
                events.extend(self._parse_row(row))
            except EventError as exc:
                unreadable.append((row, str(exc)))
            except Exception as exc:  # a defect this row meets: its own dead letter
                unreadable.append((row, f"inbox #{row['seq']}: {defect_text(exc)}"))
        return events, unreadable

    def _parse_row(self, row: Mapping[str, Any]) -> list[Event]:
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
        return adapter.events_of(row["payload"], row["event_id"], seq, where)


def defect_text(exc: Exception) -> str:
    """The error of a dead letter made by a defect of ours rather than by its input."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"cannot be read (internal error: {type(exc).__name__}{': ' + first if first else ''})"


def fail_rows(
    connection: sa.Connection,
    failed: Iterable[tuple[Mapping[str, Any], str]],
    failures: Problems | None,
) -> None:
    """Mark rows failed and copy each to the dead letters with its error."""
    at = now_ts()
    for row, unsafe in failed:
        seq = int(row["seq"])
        error = representable(unsafe)  # an error may quote what the database cannot hold
        inbox_store.set_status(connection, [seq], inbox_store.FAILED, error)
        inbox_store.insert_dead_letters(
            connection,
            [
                dead_letter_row(
                    row["integration"],
                    row["source"],
                    None,
                    row["payload"],
                    error,
                    at,
                    row.get("event_id"),
                )
            ],
        )
        if failures is not None:
            failures.append(DeadLetter(f"inbox #{seq}", error))
