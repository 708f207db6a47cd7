"""Reading lines into the inbox: files of canonical events or captured vendor webhooks
(``leadsync ingest``), and dead letters read again (``dead-letters retry``).

A line becomes inbox items through the integration's adapter, as a webhook would
(:func:`items_of_line`); a line that cannot be read is a dead letter with its place and error,
and the lines beside it go in. A file of one JSON document over several lines (a
pretty-printed capture), or of one XML document, is read whole, as one line; several JSON
documents, a line each (:mod:`leadsync.pipeline.input_file`). Lines are taken a chunk at a
time, so memory stays bounded whatever the input's length. When nothing older is pending, a
chunk is written already applied and applied in the same transaction (its rows are written
once); otherwise, or when that transaction is refused, it is written as pending and drained
(:mod:`leadsync.pipeline.drain`), which retries failures one by one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.engine import BatchResult, WorkspaceRules, apply_batch
from leadsync.errors import EventError
from leadsync.model import Event, now_ts
from leadsync.pipeline import inbox
from leadsync.pipeline.collector import batch_friendly_gc, collector_off_during_batch
from leadsync.pipeline.drain import defect_text, drain
from leadsync.pipeline.fallback import Refusal, attempt
from leadsync.pipeline.inbox import DEFAULT_BATCH, DeadLetter, InboxItem, IngestSummary
from leadsync.pipeline.input_file import NOT_UTF8, Line, Lines, is_xml, xml_media_type
from leadsync.pipeline.input_file import WHOLE_FILE_MAX_BYTES as WHOLE_FILE_MAX_BYTES
from leadsync.pipeline.input_file import InputFile as InputFile
from leadsync.pipeline.rejected import holds_bytes
from leadsync.sources import adapter_for
from leadsync.sources.base import (
    ENVELOPE_KEYS,
    Adapter,
    WebhookRequest,
    decode_json,
    in_element,
)
from leadsync.sources.hygiene import Headers, representable
from leadsync.store import batch as counters
from leadsync.store import deadletters as dead_letter_store
from leadsync.store import inbox as inbox_store
from leadsync.store.database import begin_writing
from leadsync.store.inbox import DeadLetterRow


def vendor_line_request(line: str, adapter: Adapter) -> WebhookRequest:
    """A captured webhook as ``leadsync ingest`` reads it: one body per line, or an envelope
    ``{"headers": {...}, "body": ...}`` when headers matter. A string body is the raw body as
    received (a Salesforce SOAP message); anything else is re-encoded as JSON. A line that is
    an XML document (a file of one, read whole) is the raw body as received too; EventError
    for a kind that takes no XML."""
    raw = line.encode("utf-8", "surrogatepass")  # a lone surrogate: not valid UTF-8
    if is_xml(line):
        return WebhookRequest("POST", "", {"content-type": xml_media_type(adapter)}, raw)
    data = decode_json(raw)
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
    received_at: str | None = None,
) -> list[InboxItem]:
    """The inbox items of one input line, with their events. A line that cannot be cut into
    identified events raises EventError (naming ``where``); a piece of it that cannot become
    events is an item with its ``error``, and the pieces beside it go in (as over HTTP); so
    does an event of several that cannot be identified, as an item ``refused`` (no key: a
    dead letter ``where [INDEX]`` of its own, never a row).

    ``request``: the line is a webhook request kept as a dead letter (an envelope of its kept
    headers and its body as received), read as the service reads a request, whatever the
    kind; otherwise the line of a kind that stores canonical events (the generic kind) is one
    canonical event, stored as written, or what its webhook takes besides: an array of
    events, cut by the adapter as a JSON body is (each event ``where [INDEX]``). The line
    arrives at ``received_at`` (now without it)."""
    at = received_at or now_ts()
    if adapter.stores_canonical and not request and not _is_array(raw) and not is_xml(raw):
        event = adapter.events_of(raw, "", 0, where, at)[0]
        return [InboxItem(event.id, event.occurred_at, raw, [event], line_no=line_no)]
    try:
        webhook = vendor_line_request(raw, adapter)
        pieces, refused = adapter.cut(webhook)
    except EventError as exc:
        raise EventError(exc.detail, where) from None
    # A body that is an array of events (a HubSpot batch, generic events): a piece's place
    # and the fields its error names are the element's, [INDEX] (when there are several).
    body, count = webhook.decoded, len(pieces) + len(refused)
    elements = isinstance(body, list) and len(body) == count and count > 1
    elements = elements and all(p.body is body[p.index] for p in pieces)
    items = []
    for piece in pieces:
        payload = piece.payload()
        place = where if count == 1 else f"{where} [{piece.index}]"
        item = InboxItem(piece.key, piece.occurred_at, payload, where=place, line_no=line_no)
        try:
            item.events = adapter.events_of(payload, piece.key, 0, place, at)
        except EventError as exc:
            item.error = in_element(exc.detail, piece.index) if elements else exc.detail
        items.append(item)
    for element in refused:  # no key: a dead letter of its own (_parse_chunk), never a row
        place = f"{where} [{element.index}]"
        items.append(InboxItem("", None, element.text, None, element.error, place, line_no, True))
    return items


def _is_array(line: str) -> bool:
    """A line that is a JSON array: for the generic kind, a batch of events."""
    return line.lstrip("\ufeff \t\r\n")[:1] == "["


@dataclass
class _Chunk:
    """One chunk of input lines, parsed: the good items, the dead-letter rows and each row's
    letter as the run reports it."""

    good: list[InboxItem]
    dead: list[DeadLetterRow]
    at: str
    letters: list[DeadLetter] = field(default_factory=list)


class _Written(NamedTuple):
    """What :func:`_write_inbox` wrote of a chunk, as :meth:`IngestSummary.count` counts it."""

    written: list[tuple[int, InboxItem]]
    duplicates: int
    dead: list[DeadLetter]
    dismissed: int  # dead-letter rows whose letter was dismissed before: not kept again
    closed: int = 0  # open dead letters of earlier runs whose events were accepted now


def line_items(
    adapter: Adapter,
    line: Line,
    where: str,
    hints: Mapping[int, str],
    received_at: str | None = None,
) -> list[InboxItem]:
    """The items of one line as :class:`Lines` read it, or EventError saying why it cannot
    be read (with what ``ingest`` reads when the input is not JSON lines: ``hints``). The
    preview reads lines with it too, so that both read a file alike."""
    line_no, raw, problem = line
    try:
        if problem is not None:
            raise EventError(problem, where)
        return items_of_line(adapter, raw, where, line_no, received_at=received_at)
    except Exception as exc:  # EventError; anything else is a defect this line met
        detail = exc.detail if isinstance(exc, EventError) else defect_text(exc)
        if line_no in hints:  # the input is not JSON lines: say what ingest reads
            detail = f"{detail}; {hints[line_no]}"
        raise EventError(detail, where) from exc


def _parse_chunk(
    integration: str,
    adapter: Adapter,
    lines: Sequence[tuple[int, str, str | None]],
    source: str | None,
    hints: Mapping[int, str],
) -> _Chunk:
    at = now_ts()
    chunk = _Chunk([], [], at)
    for line_no, raw, problem in lines:
        where = f"{source}:{line_no}" if source else f"line {line_no}"
        try:
            items = line_items(adapter, (line_no, raw, problem), where, hints, at)
        except EventError as exc:
            items = [InboxItem("", None, raw, None, exc.detail, where, line_no, refused=True)]
        for item in items:
            if not item.refused:
                chunk.good.append(item)
                continue
            # The line, or an event of it that cannot be identified: a dead letter.
            error = item.error or ""
            chunk.letters.append(DeadLetter(item.where or where, error))
            kept = adapter.redact(item.payload)
            key = _key_of(adapter, item.payload)
            chunk.dead.append(
                inbox.dead_letter_row(integration, source, line_no, kept, error, at, key)
            )
    return chunk


def _key_of(adapter: Adapter, payload: str) -> str | None:
    """The event id of a line refused whole, where its body names one all the same (a
    canonical event whose fields fail their check names its ``id``): the letter says which
    event it is, and an ingest of the line fixed closes it. None where it cannot be told."""
    try:
        key = adapter.named_event(payload)
    except Exception:  # any line: what cannot be read names no event
        return None
    # As a letter's column holds it: text every database can hold (a NUL is the line's
    # fault, said in its error), at most 200 characters (else no event is named).
    return representable(key) if key is not None and len(key) <= 200 else None


def _write_inbox(
    connection: sa.Connection,
    integration: str,
    chunk: _Chunk,
    source: str | None,
    status: str,
    letters: Mapping[str, list[int]],
) -> _Written:
    """The chunk's new items (and its dead letters), written with ``status``
    (:func:`~leadsync.pipeline.inbox.write_items`), how many the inbox held already, the dead
    letters to report — the chunk's own, and of the items the inbox held those whose dead
    letter is still open (a file ingested again, an element of one of its lines that
    failed): reported again, as a line that cannot be read is, so that the run does not pass
    as clean while one is — and how many of its lines' letters were dismissed before."""
    # Through the module, so that bench/engine_profile.py's clock around it is seen.
    written, duplicates = inbox.write_items(
        connection, integration, chunk.good, chunk.at, source, status
    )
    # An event an open dead letter names, accepted now (its line fixed and ingested again):
    # the letter is closed, as a retry would close it.
    fixed = [i for _, item in written if item.error is None for i in letters.get(item.key, ())]
    closed = dead_letter_store.mark_applied_since(
        connection, fixed, chunk.at, f"ingested again from {source or 'the input'} and accepted",
        "leadsync ingest",
    )  # fmt: skip
    # A file ingested again: a line whose letter is open is reported, not kept twice; one
    # whose letter was dismissed (it cannot be fixed) is neither kept nor reported again.
    dismissed = inbox_store.insert_new_dead_letters(connection, chunk.dead)
    dead = [letter for i, letter in enumerate(chunk.letters) if i not in dismissed]
    if not duplicates:
        return _Written(written, duplicates, dead, len(dismissed), closed)
    # Only a letter of this very text: one of another delivery of the same event (refused
    # for its own fields, the event held from this one) is not this line's.
    new = {item.key for _, item in written}
    held = {item.key: inbox.letter_hash(item.payload) for item in chunk.good if item.key not in new}
    still = inbox_store.open_dead_letter_errors(connection, integration, held)
    dead += [
        DeadLetter(item.where or "?", still[item.key]) for item in chunk.good if item.key in still
    ]
    return _Written(written, duplicates, dead, len(dismissed), closed)


def _events(written: Sequence[tuple[int, InboxItem]]) -> list[Event]:
    events: list[Event] = []
    for seq, item in written:
        for event in item.events or ():
            event.seq = seq
            events.append(event)
    return events


def _append(
    engine: Engine,
    integration: str,
    chunk: _Chunk,
    source: str | None,
    summary: IngestSummary,
    parsed: dict[int, list[Event]],
    letters: Mapping[str, list[int]],
) -> None:
    """Write one parsed chunk to the inbox as pending (committed). Parsed events are kept in
    ``parsed`` by inbox sequence so that the drain need not read them again."""
    with begin_writing(engine) as connection:
        wrote = _write_inbox(connection, integration, chunk, source, inbox_store.PENDING, letters)
    parsed.update((seq, item.events or []) for seq, item in wrote.written if item.error is None)
    summary.count(*wrote)


class _NotDirectly(Exception):
    """Something older is pending: the chunk must wait its turn in the inbox."""


def _write_and_apply(
    connection: sa.Connection,
    rules: WorkspaceRules,
    integration: str,
    chunk: _Chunk,
    source: str | None,
    letters: Mapping[str, list[int]],
) -> tuple[_Written, BatchResult]:
    counters.lock_counters(connection, [counters.RECORD_ID, counters.ACTIVITY_ID])
    if inbox_store.has_pending(connection):
        raise _NotDirectly
    wrote = _write_inbox(connection, integration, chunk, source, inbox_store.APPLIED, letters)
    return wrote, apply_batch(connection, rules, _events(wrote.written))


def _apply_directly(
    engine: Engine,
    rules: WorkspaceRules,
    integration: str,
    chunk: _Chunk,
    source: str | None,
    summary: IngestSummary,
    letters: Mapping[str, list[int]],
) -> bool:
    """Write a chunk to the inbox and apply it in the same transaction, when nothing older
    is still pending (arrival order): the inbox rows are then written once, already
    applied. False, with nothing written, when that is not possible or the transaction is
    refused; the caller then takes the two-step path (append as pending, then drain), which
    retries failures one by one."""
    outcome = attempt(engine, _write_and_apply, rules, integration, chunk, source, letters)
    if isinstance(outcome, Refusal):
        return False
    wrote, result = outcome
    summary.count(*wrote)
    summary.applied.add(result)
    return True


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
    with engine.connect() as connection:  # the open letters a fixed line closes
        letters = dead_letter_store.open_event_letters(connection, integration)

    read = Lines(lines, adapter, source or "<input>")  # a file that is no JSON: refused

    def flush(lines: list[Line]) -> None:
        summary.lines += len(lines)  # counted per chunk: the summary is a pydantic model
        with collector_off_during_batch():
            chunk = _parse_chunk(integration, adapter, lines, source, read.hints)
            if not _apply_directly(engine, rules, integration, chunk, source, summary, letters):
                _append(engine, integration, chunk, source, summary, parsed, letters)
                done = drain(engine, rules, batch_size, parsed, failures=summary.failed)
                summary.applied.add(done)
            del chunk  # freed before the collector is back (see collector_off_during_batch)
        if on_progress is not None:
            on_progress(len(lines))

    chunk: list[Line] = []
    for line in read:
        chunk.append(line)
        if len(chunk) >= batch_size:
            flush(chunk)
            chunk = []
    if chunk:
        flush(chunk)
    return summary


def requeue(connection: sa.Connection, rules: WorkspaceRules, letter: Mapping[str, Any]) -> str:
    """Put a dead letter's event back in the inbox as pending, in the caller's transaction;
    returns what was done. EventError when it still cannot be read."""
    integration = letter["integration"]
    settings = rules.integrations[integration]
    adapter = adapter_for(settings.kind, integration, settings.vendor_options())
    key = letter["event_id"]
    if key is not None:
        seqs = inbox_store.failed_seqs(connection, integration, key)
        if seqs:
            # Read first, as a worker will: one that still cannot be read changes nothing.
            for seq, (payload, at) in inbox_store.load_payloads(connection, seqs).items():
                adapter.events_of(payload, key, seq, f"dead letter {letter['id']}", at)
            # Pending again: routed in a later window, or (PostgreSQL) applied by its part if
            # that part is still open (a row fails only once its part has passed it, so the
            # part is taken again for it: store.routing.finish).
            inbox_store.set_status(connection, seqs, inbox_store.PENDING)
            return f"inbox #{seqs[0]} is pending again"
    # A request the service refused whole (source "webhook", no event id) is kept as the
    # request; anything else as the line or stored event it was.
    rejected_request = letter["source"] == inbox.WEBHOOK and key is None
    where = f"dead letter {letter['id']}"
    if rejected_request and holds_bytes(letter["raw"]):
        raise EventError("body is not UTF-8 text (its bytes are kept, in base64)", where)
    if str(letter["error"]).startswith(NOT_UTF8):
        raise EventError(
            "the line is not UTF-8 text (it is kept with each byte that is not written \\xNN); "
            "convert the file (`iconv -f WINDOWS-1252 -t UTF-8`, or the encoding it is in) "
            "and ingest it again",
            where,
        )
    items = items_of_line(adapter, letter["raw"], where, request=rejected_request)
    for item in items:
        if item.error is not None:
            raise EventError(item.error, item.where)
    written, duplicates = inbox.write_items(
        connection, integration, items, now_ts(), letter["source"], inbox_store.PENDING
    )
    if not written:
        return f"already in the inbox ({duplicates} duplicate events); nothing added"
    return f"added to the inbox as #{written[0][0]}" + (
        f" to #{written[-1][0]}" if len(written) > 1 else ""
    )
