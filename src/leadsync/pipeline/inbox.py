"""The durable inbox: accept events, then apply them in arrival order.

``append`` writes a chunk of payloads to the inbox and commits before anything is decided:
a line that cannot be read goes to a dead letter with its place and error, a line whose event
id the inbox already holds is counted as a duplicate and not added again (idempotency).
``drain`` claims pending rows in sequence order, a batch at a time, and applies each batch in
one transaction that also marks its rows applied. A batch that fails as a whole is retried an
event at a time; an event that still fails is marked failed and dead-lettered, and the events
beside it go through.
"""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.engine import BatchResult, WorkspaceRules, apply_batch
from leadsync.errors import EventError
from leadsync.model import Event, now_ts
from leadsync.sources import adapter_for
from leadsync.sources.base import ENVELOPE_KEYS, Adapter, Piece, WebhookRequest, decode_json
from leadsync.sources.hygiene import Headers, representable
from leadsync.store import batch as store
from leadsync.store.schema import dead_letters, inbox

DEFAULT_BATCH = 10_000


class _GcPause:
    """How many runs, in any thread, are inside :func:`batch_friendly_gc`, and the collector's
    thresholds to restore when the last one leaves; changed only under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.thresholds: tuple[int, int, int] = gc.get_threshold()


_gc_pause = _GcPause()


@contextmanager
def batch_friendly_gc() -> Iterator[None]:
    """Keep Python's cyclic collector off the long-lived objects while batches run.

    Every full collection walks every tracked object: the modules, SQLAlchemy's metadata and
    statement caches, the settings. Freezing what exists when a run starts (after collecting
    the garbage) and collecting the young generation less often cuts an ingest's time by
    about a sixth (see docs/PERFORMANCE.md). The collector is process-wide and runs overlap
    (the service's worker, intake, several threads): the first run to enter pauses it, the
    last to leave restores it, whatever the order they leave in.
    """
    pause = _gc_pause
    with pause.lock:
        pause.depth += 1
        if pause.depth == 1:
            pause.thresholds = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, pause.thresholds[1], pause.thresholds[2])
    try:
        yield
    finally:
        with pause.lock:
            pause.depth -= 1
            if pause.depth == 0:
                gc.set_threshold(*pause.thresholds)
                gc.unfreeze()


@dataclass(frozen=True, slots=True)
class DeadLetter:
    where: str
    error: str


class Problems:
    """Dead letters met during a run: all counted, the first ``keep`` kept for the summary
    (the dead-letter table holds every one), so memory stays bounded on any input."""

    def __init__(self, keep: int = 1000) -> None:
        self.keep = keep
        self.total = 0
        self.items: list[DeadLetter] = []

    def append(self, item: DeadLetter) -> None:
        self.total += 1
        if len(self.items) < self.keep:  # text any terminal or JSON encoder can write
            self.items.append(DeadLetter(representable(item.where), representable(item.error)))

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(self.items)


@dataclass
class IngestSummary:
    """What an ingest did: lines read, accepted, duplicates, dead letters, and the decisions.

    Processing the inbox (:func:`process`) gives the same shape, with no lines read and
    ``integration`` None (every integration's pending events)."""

    integration: str | None
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_letters: Problems = field(default_factory=Problems)
    failed: Problems = field(default_factory=Problems)
    applied: BatchResult = field(default_factory=BatchResult)

    @property
    def ok(self) -> bool:
        return self.dead_letters.total == 0 and self.failed.total == 0

    @property
    def events(self) -> int:
        """Events applied."""
        return self.applied.events

    def count(self, written: Sequence[tuple[int, InboxItem]], duplicates: int) -> None:
        """Count what a chunk wrote: accepted items, and pieces that became dead letters."""
        for _, item in written:
            if item.error is None:
                self.accepted += 1
            else:
                self.dead_letters.append(DeadLetter(item.where or "?", item.error))
        self.duplicates += duplicates

    def to_dict(self) -> dict[str, Any]:
        result = self.applied
        return {
            "integration": self.integration,
            "lines": self.lines,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "applied": result.events,
            "records_created": result.records_created,
            "owners": dict(result.owners),
            "flagged": result.flagged,
            "activities": {
                "created": result.activities_created,
                "updated": result.activities_updated,
                "skipped": result.activities_skipped,
                "merged": result.activities_merged,
            },
            "dead_letter_count": self.dead_letters.total,
            "failed_count": self.failed.total,
            "dead_letters": [{"where": d.where, "error": d.error} for d in self.dead_letters],
            "failed": [{"where": d.where, "error": d.error} for d in self.failed],
        }


def _dead_letter_row(
    integration: str,
    source: str | None,
    line_no: int | None,
    raw: str,
    error: str,
    at: str,
    event_id: str | None = None,
) -> dict[str, Any]:
    # Text every database can hold (hygiene.py): a hostile line is kept, never refused.
    return {
        "integration": integration,
        "received_at": at,
        "source": None if source is None else representable(source),
        "line_no": line_no,
        "event_id": event_id,
        "raw": representable(raw),
        "error": representable(error),
    }


@dataclass(slots=True)
class InboxItem:
    """One row for the inbox: its dedupe key, the vendor's time, the stored payload and, when
    it was read already (ingest), its events — or why it cannot become any (``error``: the
    row is written as failed, with a dead letter, like a row a worker could not read)."""

    key: str
    occurred_at: str | None
    payload: str
    events: list[Event] | None = None
    error: str | None = None
    where: str | None = None
    line_no: int | None = None


@dataclass
class _Chunk:
    """One chunk of input lines, parsed: the good items and the dead-letter rows."""

    good: list[InboxItem]
    dead: list[dict[str, Any]]
    at: str


def adapters_for(rules: WorkspaceRules) -> dict[str, Adapter]:
    """One adapter per configured integration, with its vendor options."""
    return {
        name: adapter_for(s.kind, name, s.vendor_options())
        for name, s in rules.integrations.items()
    }


def vendor_line_request(line: str, adapter: Adapter) -> WebhookRequest:
    """A captured webhook as ``leadsync ingest`` reads it: one body per line, or an envelope
    ``{"headers": {...}, "body": ...}`` when headers matter. A string body is the raw body as
    received (a Salesforce SOAP message); anything else is re-encoded as JSON."""
    data = decode_json(line.encode("utf-8", "surrogatepass"))
    headers: dict[str, str] = {}
    body: Any = data
    if isinstance(data, dict) and "body" in data and ENVELOPE_KEYS.issuperset(data):
        raw_headers = data.get("headers") or {}
        if not isinstance(raw_headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw_headers.items()
        ):
            raise EventError('field "headers": must be an object of strings')
        repeated = Headers(raw_headers.items()).conflicting()
        if raw_headers and not repeated:
            repeated = _repeated_json_keys(line)
        if repeated:
            raise EventError(
                f'field "headers": header {repeated[0]!r} is given more than once with '
                "different values; allowed: one value"
            )
        headers = {k.lower(): v for k, v in raw_headers.items()}
        body = data["body"]
    if isinstance(body, str):
        raw = body.encode("utf-8", "surrogatepass")  # a lone surrogate: not valid UTF-8
        default_type = "text/xml" if body.lstrip().startswith("<") else adapter.content_types[0]
    else:
        raw = line.encode("utf-8") if body is data else _json_bytes(body)
        default_type = "application/json"
    headers.setdefault("content-type", default_type)
    return WebhookRequest("POST", "", headers, raw)


class _Object(dict[str, Any]):
    """A decoded JSON object that remembers the keys its text gave twice with different
    values (JSON keeps the last copy silently)."""

    repeated: list[str]


def _object_of(pairs: list[tuple[str, Any]]) -> _Object:
    found = _Object(pairs)
    found.repeated = []
    if len(found) < len(pairs):
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen and seen[key] != value and key not in found.repeated:
                found.repeated.append(key)
            seen.setdefault(key, value)
    return found


_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=_object_of)


def _repeated_json_keys(line: str) -> list[str]:
    """Header names an envelope line's ``headers`` object gives twice (read once more, only
    for envelopes with headers)."""
    try:
        data = _PAIRS_DECODER.decode(line)
    except (ValueError, RecursionError):  # pragma: no cover - decoded strictly already
        return []
    headers = data.get("headers") if isinstance(data, dict) else None
    return list(headers.repeated) if isinstance(headers, _Object) else []


def _json_bytes(data: Any) -> bytes:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return representable(text).encode("utf-8")  # a lone surrogate stays an escape


def items_of_line(
    adapter: Adapter,
    raw: str,
    where: str,
    line_no: int | None = None,
    *,
    request: bool = False,
) -> list[InboxItem]:
    """The inbox items of one input line, with their events. A line that cannot be cut into
    identified events raises EventError (naming ``where``); a piece of it that cannot become
    events is an item with its ``error``, and the pieces beside it go in (as over HTTP).

    ``request``: the line is a webhook request kept as a dead letter (an envelope of its kept
    headers and its body as received), read as the service reads a request, whatever the
    kind; otherwise the line of a kind that stores canonical events (the generic kind) is one
    canonical event."""
    if adapter.stores_canonical and not request:
        event = adapter.events_of(raw, "", 0, where)[0]
        return [InboxItem(event.id, event.occurred_at, raw, [event], line_no=line_no)]
    try:
        pieces = adapter.pieces(vendor_line_request(raw, adapter))
    except EventError as exc:
        raise EventError(exc.detail, where) from None
    items = []
    for index, piece in enumerate(pieces):
        payload = piece.payload()
        place = where if len(pieces) == 1 else f"{where} [{index}]"
        item = InboxItem(piece.key, piece.occurred_at, payload, where=place, line_no=line_no)
        try:
            item.events = adapter.events_of(payload, piece.key, 0, place)
        except EventError as exc:
            item.error = exc.detail
        items.append(item)
    return items


def _parse_chunk(
    integration: str,
    adapter: Adapter,
    lines: Sequence[tuple[int, str, str | None]],
    source: str | None,
    summary: IngestSummary,
) -> _Chunk:
    at = now_ts()
    chunk = _Chunk([], [], at)
    for line_no, raw, problem in lines:
        where = f"{source}:{line_no}" if source else f"line {line_no}"
        try:
            if problem is not None:
                raise EventError(problem, where)
            items = items_of_line(adapter, raw, where, line_no)
        except Exception as exc:  # EventError; anything else is a defect this line met
            detail = exc.detail if isinstance(exc, EventError) else _defect_text(exc)
            summary.dead_letters.append(DeadLetter(where, detail))
            kept = adapter.redact(raw)
            chunk.dead.append(_dead_letter_row(integration, source, line_no, kept, detail, at))
            continue
        chunk.good.extend(items)
    return chunk


def write_items(
    connection: sa.Connection,
    integration: str,
    items: Sequence[InboxItem],
    at: str,
    source: str | None,
    status: str,
) -> tuple[list[tuple[int, InboxItem]], int]:
    """Insert the items the inbox does not hold yet, with ``status``, in the caller's
    transaction.

    Returns the (sequence, item) pairs written, in order, and how many the inbox already held
    (duplicates: a redelivery, acknowledged and not written again).
    """
    seq = store.lock_counters(connection, [store.INBOX_SEQ])[store.INBOX_SEQ]
    known = store.known_event_ids(connection, integration, {item.key for item in items})
    rows: list[dict[str, Any]] = []
    written: list[tuple[int, InboxItem]] = []
    duplicates = 0
    for item in items:
        if item.key in known:
            duplicates += 1
            continue
        known.add(item.key)
        seq += 1
        rows.append(
            {
                "seq": seq,
                "integration": integration,
                "event_id": item.key,
                "received_at": at,
                "occurred_at": item.occurred_at or at,
                "payload": representable(item.payload),
                "status": status if item.error is None else "failed",
                "source": source,
                "error": None if item.error is None else representable(item.error),
            }
        )
        written.append((seq, item))
    if rows:
        connection.execute(sa.insert(inbox), rows)
        store.write_counters(connection, {store.INBOX_SEQ: seq})
        failed = [
            _dead_letter_row(
                integration, source, item.line_no, item.payload, item.error, at, item.key
            )
            for _, item in written
            if item.error is not None
        ]
        if failed:
            connection.execute(sa.insert(dead_letters), failed)
    return written, duplicates


def _write_inbox(
    connection: sa.Connection,
    integration: str,
    chunk: _Chunk,
    source: str | None,
    status: str,
) -> tuple[list[tuple[int, InboxItem]], int]:
    """The chunk's new items (and its dead letters), written with ``status``."""
    written, duplicates = write_items(connection, integration, chunk.good, chunk.at, source, status)
    if chunk.dead:
        connection.execute(sa.insert(dead_letters), chunk.dead)
    return written, duplicates


def pieces_to_items(pieces: Sequence[Piece]) -> list[InboxItem]:
    """A verified request's pieces as inbox items (read later, by a worker)."""
    return [InboxItem(p.key, p.occurred_at, p.payload()) for p in pieces]


def record_rejected(
    connection: sa.Connection, integration: str, source: str, raw: str, error: str
) -> None:
    """Keep a verified request that could not be read at all (answered 400) as a dead letter,
    so that nothing authentic is lost even when the vendor gives up retrying."""
    connection.execute(
        sa.insert(dead_letters),
        [_dead_letter_row(integration, source, None, raw, error, now_ts())],
    )


def requeue(connection: sa.Connection, rules: WorkspaceRules, letter: Mapping[str, Any]) -> str:
    """Put a dead letter's event back in the inbox as pending, in the caller's transaction;
    returns what was done. EventError when it still cannot be read."""
    integration = letter["integration"]
    settings = rules.integrations[integration]
    adapter = adapter_for(settings.kind, integration, settings.vendor_options())
    key = letter["event_id"]
    if key is not None:
        seqs = store.failed_seqs(connection, integration, key)
        if seqs:
            store.mark_inbox(connection, seqs, "pending", None)
            return f"inbox #{seqs[0]} is pending again"
    # A request the service refused whole (source "webhook", no event id) is kept as the
    # request; anything else as the line or stored event it was.
    rejected_request = letter["source"] == "webhook" and key is None
    where = f"dead letter {letter['id']}"
    items = items_of_line(adapter, letter["raw"], where, request=rejected_request)
    for item in items:
        if item.error is not None:
            raise EventError(item.error, item.where)
    written, duplicates = write_items(
        connection, integration, items, now_ts(), letter["source"], "pending"
    )
    if not written:
        return f"already in the inbox ({duplicates} duplicate events); nothing added"
    return f"added to the inbox as #{written[0][0]}" + (
        f" to #{written[-1][0]}" if len(written) > 1 else ""
    )


def _events(written: Sequence[tuple[int, InboxItem]]) -> list[Event]:
    events: list[Event] = []
    for seq, item in written:
        for event in item.events or ():
            event.seq = seq
            events.append(event)
    return events


def append(
    engine: Engine,
    integration: str,
    chunk: _Chunk,
    source: str | None,
    summary: IngestSummary,
    parsed: dict[int, list[Event]],
) -> None:
    """Write one parsed chunk to the inbox as pending (committed). Parsed events are kept in
    ``parsed`` by inbox sequence so that the drain need not read them again."""
    with engine.begin() as connection:
        written, duplicates = _write_inbox(connection, integration, chunk, source, "pending")
    parsed.update((seq, item.events or []) for seq, item in written if item.error is None)
    summary.count(written, duplicates)


class _NotDirectly(Exception):
    """The chunk cannot be applied in the transaction that writes it to the inbox."""


def _apply_directly(
    engine: Engine,
    rules: WorkspaceRules,
    integration: str,
    chunk: _Chunk,
    source: str | None,
    summary: IngestSummary,
) -> bool:
    """Write a chunk to the inbox and apply it in the same transaction, when nothing older
    is still pending (arrival order): the inbox rows are then written once, already
    applied. False, with nothing written, when that is not possible; the caller then takes
    the two-step path (append as pending, then drain), which retries failures one by one."""
    try:
        with engine.begin() as connection:
            store.lock_counters(connection, [store.INBOX_SEQ, store.RECORD_ID, store.ACTIVITY_ID])
            if store.has_pending(connection):
                raise _NotDirectly
            written, duplicates = _write_inbox(connection, integration, chunk, source, "applied")
            try:
                result = apply_batch(connection, rules, _events(written))
            except sa.exc.OperationalError:
                raise
            except Exception as exc:
                raise _NotDirectly from exc
    except _NotDirectly:
        return False
    summary.count(written, duplicates)
    summary.applied.add(result)
    return True


def _parse_row(
    row: Mapping[str, Any], adapters: Mapping[str, Adapter], parsed: Mapping[int, list[Event]]
) -> list[Event]:
    seq = int(row["seq"])
    cached = parsed.get(seq)
    if cached is not None:
        for event in cached:
            event.seq = seq
        return cached
    integration = row["integration"]
    adapter = adapters.get(integration)
    if adapter is None:
        raise EventError(f"integration {integration!r} is no longer configured", f"inbox #{seq}")
    where = f"{row['source']} (inbox #{seq})" if row["source"] else f"inbox #{seq}"
    return adapter.events_of(row["payload"], row["event_id"], seq, where)


class _BatchFailed(Exception):
    """A batch raised something other than a database outage: retry it an event at a time."""


def drain(
    engine: Engine,
    rules: WorkspaceRules,
    batch_size: int = DEFAULT_BATCH,
    parsed: dict[int, list[Event]] | None = None,
    on_batch: Callable[[int], None] | None = None,
    failures: Problems | None = None,
) -> BatchResult:
    """Apply every pending inbox row, oldest first, a batch at a time."""
    with batch_friendly_gc():
        return _drain(engine, rules, batch_size, parsed, on_batch, failures)


def process(
    engine: Engine, rules: WorkspaceRules, batch_size: int = DEFAULT_BATCH
) -> IngestSummary:
    """Apply every pending inbox row (after a crash, or from intake): :func:`drain`, told
    as an ingest is (the events that failed are in ``failed``)."""
    summary = IngestSummary(None)
    summary.applied = drain(engine, rules, batch_size, failures=summary.failed)
    return summary


def _drain(
    engine: Engine,
    rules: WorkspaceRules,
    batch_size: int,
    parsed: dict[int, list[Event]] | None,
    on_batch: Callable[[int], None] | None,
    failures: Problems | None,
) -> BatchResult:
    parsed = parsed if parsed is not None else {}
    adapters = adapters_for(rules)
    total = BatchResult()
    while True:
        rows: list[dict[str, Any]] = []
        try:
            with engine.begin() as connection:
                store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
                rows = _claim(connection, batch_size, parsed)
                if not rows:
                    return total
                events, unreadable = _parse_rows(rows, adapters, parsed)
                try:
                    result = apply_batch(connection, rules, events)
                except sa.exc.OperationalError:
                    raise
                except Exception as exc:
                    raise _BatchFailed from exc
                _fail_rows(connection, unreadable, failures)
                store.mark_applied(connection, int(rows[0]["seq"]), int(rows[-1]["seq"]))
        except _BatchFailed:
            result = _apply_one_by_one(engine, rules, adapters, rows, parsed, failures)
        for row in rows:
            parsed.pop(int(row["seq"]), None)
        total.add(result)
        if on_batch is not None:
            on_batch(len(rows))


def _claim(
    connection: sa.Connection, limit: int, parsed: Mapping[int, list[Event]]
) -> list[dict[str, Any]]:
    """The oldest pending rows; payloads are read only for events not parsed already."""
    query = (
        sa.select(inbox.c.seq, inbox.c.integration, inbox.c.source, inbox.c.event_id)
        .where(inbox.c.status == "pending")
        .order_by(inbox.c.seq)
        .limit(limit)
    )
    rows = [
        {"seq": seq, "integration": i, "source": src, "event_id": key}
        for seq, i, src, key in connection.execute(query)
    ]
    missing = [row["seq"] for row in rows if row["seq"] not in parsed]
    payloads = store.load_payloads(connection, missing)
    for row in rows:
        if row["seq"] in payloads:
            row["payload"] = payloads[row["seq"]]
    return rows


def _parse_rows(
    rows: Sequence[Mapping[str, Any]],
    adapters: Mapping[str, Adapter],
    parsed: Mapping[int, list[Event]],
) -> tuple[list[Event], list[tuple[Mapping[str, Any], str]]]:
    events: list[Event] = []
    unreadable: list[tuple[Mapping[str, Any], str]] = []
    for row in rows:
        try:
            events.extend(_parse_row(row, adapters, parsed))
        except EventError as exc:
            unreadable.append((row, str(exc)))
        except Exception as exc:  # a defect this row meets: its own dead letter, not a stuck inbox
            unreadable.append((row, f"inbox #{row['seq']}: {_defect_text(exc)}"))
    return events, unreadable


def _defect_text(exc: Exception) -> str:
    """The error of a dead letter made by a defect of ours rather than by its input."""
    first = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"cannot be read (internal error: {type(exc).__name__}{': ' + first if first else ''})"


def _apply_one_by_one(
    engine: Engine,
    rules: WorkspaceRules,
    adapters: Mapping[str, Adapter],
    rows: Sequence[Mapping[str, Any]],
    parsed: Mapping[int, list[Event]],
    failures: Problems | None,
) -> BatchResult:
    """Each row of a failed batch in its own transaction; the ones that fail are dead letters."""
    total = BatchResult()
    for row in rows:
        error: str | None = None
        seq = int(row["seq"])
        try:
            with engine.begin() as connection:
                store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
                [claimed] = _claim_one(connection, seq)
                events, unreadable = _parse_rows([claimed], adapters, parsed)
                if unreadable:
                    _fail_rows(connection, unreadable, failures)
                    continue
                try:
                    result = apply_batch(connection, rules, events)
                except sa.exc.OperationalError:
                    raise
                except Exception as exc:
                    raise _BatchFailed(_failure_text(exc)) from exc
                store.mark_applied(connection, seq, seq)
                total.add(result)
        except _BatchFailed as failed:
            error = str(failed)
        if error is not None:
            with engine.begin() as connection:
                [claimed] = _claim_one(connection, seq)
                _fail_rows(connection, [(claimed, error)], failures)
    return total


def _failure_text(exc: Exception) -> str:
    """Why an event could not be applied, in one line: for a database refusal, the
    database's own first line (not the statement and its parameters)."""
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        return f"the database refused the event: {first or type(exc.orig).__name__}"
    return f"{type(exc).__name__}: {exc}"


def _claim_one(connection: sa.Connection, seq: int) -> list[dict[str, Any]]:
    row = connection.execute(
        sa.select(
            inbox.c.seq, inbox.c.integration, inbox.c.source, inbox.c.event_id, inbox.c.payload
        ).where(inbox.c.seq == seq)
    ).one()
    return [dict(row._mapping)]


def _fail_rows(
    connection: sa.Connection,
    failed: Iterable[tuple[Mapping[str, Any], str]],
    failures: Problems | None,
) -> None:
    at = now_ts()
    for row, unsafe in failed:
        seq = int(row["seq"])
        error = representable(unsafe)  # an error may quote what the database cannot hold
        store.mark_inbox(connection, [seq], "failed", error)
        connection.execute(
            sa.insert(dead_letters),
            [
                _dead_letter_row(
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


def ingest(
    engine: Engine,
    rules: WorkspaceRules,
    integration: str,
    lines: Iterable[str | bytes],
    source: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[int], None] | None = None,
) -> IngestSummary:
    """Read numbered lines into the inbox a chunk at a time and apply them; memory stays
    bounded by the chunk size, whatever the input's length."""
    with batch_friendly_gc():
        return _ingest(engine, rules, integration, lines, source, batch_size, on_progress)


def _ingest(
    engine: Engine,
    rules: WorkspaceRules,
    integration: str,
    lines: Iterable[str | bytes],
    source: str | None,
    batch_size: int,
    on_progress: Callable[[int], None] | None,
) -> IngestSummary:
    settings = rules.integrations[integration]
    adapter = adapter_for(settings.kind, integration, settings.vendor_options())
    summary = IngestSummary(integration)
    parsed: dict[int, list[Event]] = {}

    def flush(lines: list[tuple[int, str, str | None]]) -> None:
        chunk = _parse_chunk(integration, adapter, lines, source, summary)
        if not _apply_directly(engine, rules, integration, chunk, source, summary):
            append(engine, integration, chunk, source, summary, parsed)
            summary.applied.add(drain(engine, rules, batch_size, parsed, failures=summary.failed))
        if on_progress is not None:
            on_progress(len(lines))

    chunk: list[tuple[int, str, str | None]] = []
    for line_no, line in enumerate(lines, start=1):
        problem = None
        if isinstance(line, bytes):
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = line.decode("utf-8", errors="replace")
                problem = f"not valid UTF-8 at byte {exc.start}"
        else:
            text = representable(line)  # text a caller decoded leniently (lone surrogates)
        text = text.strip()
        if not text:
            continue
        summary.lines += 1
        chunk.append((line_no, text, problem))
        if len(chunk) >= batch_size:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    return summary
