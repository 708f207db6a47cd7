"""The durable inbox: its items, written with dedupe, and its dead letters.

Everything that fills the inbox comes through :func:`write_items` (an ingest's chunks,
:mod:`leadsync.pipeline.ingest`, and a dead letter's retry) or, for webhook intake's group
commits (:mod:`leadsync.pipeline.intake`), the same rows (:func:`inbox_row`) appended in a
transaction of their own. Both go through :func:`leadsync.store.inbox.append`, which gives
sequence numbers (PostgreSQL's sequence, SQLite's counter) and skips a piece whose dedupe key
the inbox already holds for the integration (a redelivery: counted as a duplicate, not
written again). Rows are taken out by :mod:`leadsync.pipeline.drain`.

The functions that grew out of this module (ingest, drain, requeue) are still importable
from it; they are loaded on first use, since their modules build on this one.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from pydantic import ConfigDict, Field, computed_field
from typing_extensions import TypedDict

from leadsync.engine import BatchResult
from leadsync.model import Event, now_ts
from leadsync.pipeline.collector import batch_friendly_gc
from leadsync.results import ResultModel
from leadsync.sources.base import Piece
from leadsync.sources.hygiene import redact_text, representable
from leadsync.store import inbox as inbox_store
from leadsync.store.inbox import DeadLetterRow, InboxRow

if TYPE_CHECKING:
    from leadsync.pipeline.drain import adapters_for, drain, process
    from leadsync.pipeline.ingest import ingest, items_of_line, requeue, vendor_line_request

__all__ = [
    "DEFAULT_BATCH",
    "DeadLetter",
    "InboxItem",
    "IngestSummary",
    "Problems",
    "adapters_for",
    "batch_friendly_gc",
    "dead_letter_row",
    "from_webhook",
    "inbox_row",
    "drain",
    "ingest",
    "items_of_line",
    "pieces_to_items",
    "process",
    "record_rejected",
    "requeue",
    "vendor_line_request",
    "webhook_source",
    "write_items",
]

DEFAULT_BATCH = 10_000

WEBHOOK = "webhook"
"""The ``source`` of an inbox row a webhook request brought, and of a request kept whole as a
dead letter."""


def webhook_source(index: int, count: int) -> str:
    """The ``source`` of event ``index`` (from 0) of the ``count`` a webhook request held:
    :data:`WEBHOOK`, or ``webhook [3]`` when it held several (a HubSpot batch, a Salesforce
    ``notifications`` list, generic events), so that the event's dead letter names its
    element as one of ``leadsync ingest`` names its line."""
    return WEBHOOK if count == 1 else f"{WEBHOOK} [{index}]"


def from_webhook(source: str | None) -> bool:
    """Whether a row or dead letter came in a webhook request (:func:`webhook_source`)."""
    return source == WEBHOOK or (source or "").startswith(f"{WEBHOOK} [")


_MOVED = {
    "adapters_for": "leadsync.pipeline.drain",
    "drain": "leadsync.pipeline.drain",
    "process": "leadsync.pipeline.drain",
    "ingest": "leadsync.pipeline.ingest",
    "items_of_line": "leadsync.pipeline.ingest",
    "requeue": "leadsync.pipeline.ingest",
    "vendor_line_request": "leadsync.pipeline.ingest",
}


def __getattr__(name: str) -> Any:
    """The names that moved to :mod:`~leadsync.pipeline.drain` and
    :mod:`~leadsync.pipeline.ingest`, for the callers that import them from here."""
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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


class Place(TypedDict):
    where: str
    error: str


class ActivityTotals(TypedDict):
    created: int
    updated: int
    skipped: int
    merged: int


class CounterpartTotals(TypedDict):
    matched_by_number: int
    held: int
    attached_later: int
    queued_for_review: int
    internal: int


class IngestSummary(ResultModel):
    """What an ingest did: lines read, accepted, duplicates, dead letters, and the decisions.

    Processing the inbox (:func:`process`) gives the same shape, with no lines read and
    ``integration`` None (every integration's pending events). The run fills in the
    counters, the kept problems and the batches' totals (``applied``, a
    :class:`~leadsync.engine.BatchResult`); the JSON flattens them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    integration: str | None
    lines: int = 0
    accepted: int = 0
    # Accepted, and read as nothing: events leadsync does not use (Aircall's messages or an
    # app's uninstall, HubSpot's conversation events), each documented in docs/WEBHOOKS.md,
    # and events naming no field leadsync reads.
    unused: int = 0
    duplicates: int = 0
    # Lines that failed as before, whose dead letter a person dismissed (it cannot be fixed):
    # neither kept again nor reported (a file ingested again).
    dismissed: int = 0
    # Open dead letters of events accepted by this run (their lines fixed and ingested
    # again): closed as retried.
    letters_closed: int = 0
    dead_letters: Problems = Field(default_factory=Problems, exclude=True)
    failed: Problems = Field(default_factory=Problems, exclude=True)
    applied: BatchResult = Field(default_factory=BatchResult, exclude=True)

    def __init__(self, integration: str | None = None, /, **counts: Any) -> None:
        super().__init__(integration=integration, **counts)

    @property
    def ok(self) -> bool:
        return self.dead_letters.total == 0 and self.failed.total == 0

    @property
    def events(self) -> int:
        """Events applied."""
        return self.applied.events

    def count(
        self,
        written: Sequence[tuple[int, InboxItem]],
        duplicates: int,
        still_dead: Sequence[DeadLetter] = (),
        dismissed: int = 0,
        letters_closed: int = 0,
    ) -> None:
        """Count what a chunk wrote: accepted items, pieces that became dead letters, the
        dead letters to report (``still_dead``), and the lines whose dead letter was dismissed
        before (neither kept again nor reported)."""
        self.dismissed += dismissed
        self.letters_closed += letters_closed
        for letter in still_dead:
            self.dead_letters.append(letter)
        accepted = 0
        for _, item in written:
            if item.error is None:
                accepted += 1
                self.unused += item.events == []  # parsed, and nothing in it is used
            else:
                self.dead_letters.append(DeadLetter(item.where or "?", item.error))
        self.accepted += accepted
        self.duplicates += duplicates

    @computed_field(alias="applied")  # type: ignore[prop-decorator]
    @property
    def applied_events(self) -> int:
        """Events applied (the JSON's ``applied``)."""
        return self.applied.events

    @computed_field  # type: ignore[prop-decorator]
    @property
    def records_created(self) -> int:
        return self.applied.records_created

    @computed_field  # type: ignore[prop-decorator]
    @property
    def owners(self) -> dict[str, int]:
        """Owner decisions by outcome."""
        return dict(self.applied.owners)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def flagged(self) -> int:
        return self.applied.flagged

    @computed_field  # type: ignore[prop-decorator]
    @property
    def activities(self) -> ActivityTotals:
        result = self.applied
        return {
            "created": result.activities_created,
            "updated": result.activities_updated,
            "skipped": result.activities_skipped,
            "merged": result.activities_merged,
        }

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counterparts(self) -> CounterpartTotals:
        """Activities matched to a record by number, held for an unknown number, held ones
        attached now, and questions put in the review queue."""
        return cast(CounterpartTotals, self.applied.counterparts())

    @computed_field  # type: ignore[prop-decorator]
    @property
    def lines_unread(self) -> int:
        """Lines a tool named whose number does not read as a phone number: not learned."""
        return self.applied.lines_unread

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dead_letter_count(self) -> int:
        return self.dead_letters.total

    @computed_field  # type: ignore[prop-decorator]
    @property
    def failed_count(self) -> int:
        return self.failed.total

    @computed_field(alias="dead_letters")  # type: ignore[prop-decorator]
    @property
    def dead_letters_kept(self) -> list[Place]:
        """The first dead letters (the JSON's ``dead_letters``; all are counted)."""
        return [{"where": d.where, "error": d.error} for d in self.dead_letters]

    @computed_field(alias="failed")  # type: ignore[prop-decorator]
    @property
    def failed_kept(self) -> list[Place]:
        """The first events that failed (the JSON's ``failed``; all are counted)."""
        return [{"where": d.where, "error": d.error} for d in self.failed]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def dead_letter_row(
    integration: str,
    source: str | None,
    line_no: int | None,
    raw: str,
    error: str,
    at: str,
    event_id: str | None = None,
) -> DeadLetterRow:
    """A dead letter in text every database can hold (hygiene.py): a hostile line is kept,
    never refused; no credential a body holds is (whatever its vendor: the keys that name
    one; a vendor's own secret fields are its adapter's to redact first)."""
    kept = representable(redact_text(raw))
    return DeadLetterRow(
        integration,
        at,
        None if source is None else representable(source),
        line_no,
        event_id,
        kept,
        representable(error),
        letter_hash(raw),
    )


def letter_hash(raw: str) -> str:
    """The ``raw_hash`` a dead letter of ``raw`` is kept with (:func:`dead_letter_row`)."""
    return hashlib.sha256(representable(redact_text(raw)).encode()).hexdigest()


@dataclass(slots=True)
class InboxItem:
    """One row for the inbox: its dedupe key, the vendor's time, the stored payload and, when
    it was read already (ingest), its events — or why it cannot become any (``error``: the
    row is written as failed, with a dead letter, like a row a worker could not read).

    ``refused``: an event of a line of several that could not be identified (no key): never
    a row, only a dead letter of its own, ``payload`` the event as a line of its own."""

    key: str
    occurred_at: str | None
    payload: str
    events: list[Event] | None = None
    error: str | None = None
    where: str | None = None
    line_no: int | None = None
    refused: bool = False


def write_items(
    connection: sa.Connection,
    integration: str,
    items: Sequence[InboxItem],
    at: str,
    source: str | None,
    status: str,
) -> tuple[list[tuple[int, InboxItem]], int]:
    """Insert the items the inbox does not hold yet, with ``status``, in the caller's
    transaction; an item with an ``error`` is written as failed, with its dead letter.

    Sequence numbers are :func:`~leadsync.store.inbox.append`'s: PostgreSQL's sequence, no
    lock taken; SQLite's rowid, under the write lock (taken by the append when the caller's
    transaction does not hold it yet).

    Returns the (sequence, item) pairs written, in order, and how many the inbox already held
    (duplicates: a redelivery, acknowledged and not written again).
    """
    rows = [inbox_row(integration, item, at, source, status) for item in items]
    seqs = inbox_store.append(connection, rows)
    written = [(seq, item) for seq, item in zip(seqs, items, strict=True) if seq is not None]
    failed = [
        dead_letter_row(integration, source, item.line_no, item.payload, item.error, at, item.key)
        for _, item in written
        if item.error is not None
    ]
    inbox_store.insert_dead_letters(connection, failed)
    return written, len(items) - len(written)


def inbox_row(
    integration: str, item: InboxItem, at: str, source: str | None, status: str
) -> InboxRow:
    """The row an item is written as: ``status``, or failed with its error; the vendor's time,
    else the time it was received; text every database can hold."""
    error = item.error
    return InboxRow(
        integration,
        item.key,
        at,
        item.occurred_at or at,
        representable(item.payload),
        status if error is None else inbox_store.FAILED,
        source,
        None if error is None else representable(error),
    )


def pieces_to_items(pieces: Sequence[Piece], count: int | None = None) -> list[InboxItem]:
    """A verified request's pieces as inbox items (read later, by a worker). ``count``: how
    many events the body held, when some could not be identified: each item's ``where`` is
    then its source, naming its index among them (:func:`webhook_source`)."""
    if count is None or count == len(pieces):
        return [InboxItem(p.key, p.occurred_at, p.payload()) for p in pieces]
    return [
        InboxItem(p.key, p.occurred_at, p.payload(), where=webhook_source(p.index, count))
        for p in pieces
    ]


def record_rejected(
    connection: sa.Connection, integration: str, source: str, raw: str, error: str
) -> None:
    """Keep a verified request that could not be read at all (answered 400), or an event of
    one that could not be identified (``source`` ``webhook [1]``), as a dead letter, so that
    nothing authentic is lost even when the vendor gives up retrying — once: the same body
    sent again (a vendor retrying) while its letter is open adds none."""
    inbox_store.insert_rejected_once(
        connection, dead_letter_row(integration, source, None, raw, error, now_ts())
    )
