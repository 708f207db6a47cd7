"""The engine's in-memory view of a batch: the records, links and activities it touches as
loaded (:class:`LoadedState`), and what deciding makes of them.

Plain data: :mod:`leadsync.engine.load` fills it from the store, :mod:`leadsync.engine.decide`
changes it in memory, :mod:`leadsync.engine.write` writes what changed.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadsync.engine.lookups import Lookup
from leadsync.model import Outcome, RecordRef, RecordType
from leadsync.rules import dedupe
from leadsync.rules.activities import talk_seconds
from leadsync.rules.echoes import OwnerWritten
from leadsync.rules.own_lines import OwnLine
from leadsync.rules.ownership import GivenRep, OwnerContext
from leadsync.rules.records import CoreFields
from leadsync.store.push import PushedOwner
from leadsync.store.schema import ACTIVITY_COLUMNS

# (integration, type, external id): an identity, or a source activity.
SourceKey = tuple[str, str, str]

COLUMN_PROPERTIES = {column: prop for prop, column in ACTIVITY_COLUMNS.items()}


@dataclass(slots=True)
class RecordState:
    id: int
    type: RecordType
    owner_id: str | None
    email: str | None
    domain: str | None
    name: str | None
    stage: str | None
    is_closed: bool | None
    # A dict, or the stored JSON text until an event needs the properties (see fill_record).
    properties: dict[str, Any] | str
    placeholder: bool
    created_at: str
    updated_at: str
    created_by: str | None
    owner_changed_at: str | None
    owner_source: str | None
    manual_owner_at: str | None
    # How the record came to be when no tool sent it ("unknown_number"), or that the CRM had
    # it before leadsync saw it ("seen_in_crm"), else None.
    origin: str | None = None
    # When the owner source last gave this owner, by its own clock (None: owner_changed_at).
    owner_source_at: str | None = None
    # The record a tool's merge joined this one into, and when (engine/record_joins.py).
    merged_into: int | None = None
    merged_at: str | None = None
    # When (by the vendor's clock) and from which integration each property got the value it
    # shows, {property: [time, integration]}: a dict, or the stored JSON text (None: none
    # stored) until an event needs it, as ``properties`` (rules/records.py newer_properties).
    property_times: dict[str, Any] | str | None = None
    # When (by the vendor's clock) the contact's own event that made its primary company
    # happened (None: not known); an older one naming companies only links them.
    primary_company_at: str | None = None
    new: bool = False
    dirty: bool = False
    # Properties or core fields changed (a full row update); otherwise only owner and times.
    fields_dirty: bool = False

    def owner_context(self, is_new: bool) -> OwnerContext:
        """The record as the ownership rules see it."""
        return OwnerContext(
            record_type=self.type,
            is_new=is_new,
            owner_id=self.owner_id,
            owner_changed_at=self.owner_changed_at,
            owner_source=self.owner_source,
            manual_owner_at=self.manual_owner_at,
            owner_source_at=self.owner_source_at,
        )

    def core_fields(self) -> CoreFields:
        return CoreFields(self.email, self.domain, self.name, self.stage, self.is_closed)

    def awaits_first_owner(self) -> bool:
        """A placeholder nobody has given an owner yet: its first event counts as creating it
        (for ``never_overwrite`` and the other strategies' "new record" case)."""
        return self.placeholder and self.owner_changed_at is None

    def owner_given_again(self, owner_id: str | None, source: str, at: str) -> None:
        """The source that gave the owner gives the same one again at ``at``, a later time:
        as of then it still says so, and an older event of it arriving after this one is
        stale (rules/ownership.py, check 2)."""
        same = owner_id is not None and owner_id == self.owner_id
        if same and source == self.owner_source:
            if at > (self.owner_changed_at or at):
                self.owner_changed_at = at
                self.dirty = True
            if at > (self.owner_source_at or self.owner_changed_at or at):
                self.owner_source_at = at
                self.dirty = True

    def owner_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "updated_at": self.updated_at,
            "owner_changed_at": self.owner_changed_at,
            "owner_source": self.owner_source,
            "manual_owner_at": self.manual_owner_at,
            "owner_source_at": self.owner_source_at,
            "primary_company_at": self.primary_company_at,
        }

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type._value_,
            "owner_id": self.owner_id,
            "email": self.email,
            "domain": self.domain,
            "name": self.name,
            "stage": self.stage,
            "is_closed": self.is_closed,
            "properties": self.properties,
            "placeholder": self.placeholder,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
            "owner_changed_at": self.owner_changed_at,
            "owner_source": self.owner_source,
            "manual_owner_at": self.manual_owner_at,
            "origin": self.origin,
            "owner_source_at": self.owner_source_at,
            "merged_into": self.merged_into,
            "merged_at": self.merged_at,
            "property_times": self.times(),
            "primary_company_at": self.primary_company_at,
        }

    def times(self) -> dict[str, Any]:
        """:attr:`property_times` decoded (kept so: an event is changing the record)."""
        times = self.property_times
        if isinstance(times, str):
            times = json.loads(times)
        if not isinstance(times, dict):
            times = {}  # none stored (a row from before migration 0031), or JSON null
        self.property_times = times
        return times


@dataclass(slots=True)
class ActivityState:
    id: int
    row: dict[str, Any]
    new: bool = False
    dirty: bool = False
    deleted: bool = False


@dataclass(slots=True)
class OwnLines:
    """The company's own lines a batch knows: those tools named (loaded for the batch's
    numbers, then learned by it), by (integration, E.164 number); the lines learned (rows to
    write); the activities that are internal calls now (id -> row; one that stops being one
    leaves)."""

    known: dict[tuple[str, str], OwnLine]
    new: list[dict[str, Any]] = field(default_factory=list)
    internal: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class LoadedState:
    """Everything a batch's decisions may read, loaded before the first event is decided.

    The decide step changes these maps in place (a record created by one event is found by
    the next); nothing in it reads the database again.
    """

    # The next ids to allocate (from the counters the batch's lock holds), unless ``ids``
    # hands them out from sequences (PostgreSQL: see :class:`SequenceIds`).
    next_record_id: int
    next_activity_id: int
    # Round-robin positions by counter name.
    round_robin: dict[str, int]
    # (integration, type, external id) -> record id.
    identity: dict[SourceKey, int]
    # Contacts by email, companies by domain: who holds each value now, the lowest id found
    # (engine/lookups.py: as the database would answer after each event).
    by_email: Lookup
    by_domain: Lookup
    records: dict[int, RecordState]
    # Record associations: neighbours both ways, a contact's primary company, known pairs.
    links: dict[int, set[int]]
    primary: dict[int, int]
    known_links: set[tuple[int, int]]
    # Deals reached only through links: id -> (is_closed, updated_at).
    deal_info: dict[int, tuple[bool | None, str]]
    # The owners leadsync last pushed to the CRM, per record, and when (to recognise their
    # echo, and a change the CRM tells late).
    pushed_owners: dict[int, PushedOwner]
    # Activities by source key (merged sources point at the activity they joined).
    activities: dict[SourceKey, ActivityState]
    activity_by_id: dict[int, ActivityState]
    # Activity memories by source key; sources merged into an activity, by activity id.
    memory: dict[SourceKey, dict[str, Any]]
    sources: dict[int, list[SourceKey]]
    # Dedupe candidates per activity type.
    candidates: dict[str, list[dedupe.Candidate]]
    # Emails learned earlier for (integration, external user id), and when each was given.
    learned_emails: dict[tuple[str, str], str]
    # Calls' counterparts (rules/counterparts.py): contacts and leads by phone number (the
    # numbers the batch asks about, then as the batch changes them) as (record id, phone
    # property); activities held for a number, by number; activities of the batch that are
    # attached to a contact or lead already, or held (and the numbers those wait for).
    by_phone: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    learned_at: dict[tuple[str, str], str | None] = field(default_factory=dict)
    held: dict[str, list[HeldActivity]] = field(default_factory=dict)
    # Held activities a record of the event being applied got the number of: attached once
    # the event is applied whole (its company links in place: engine/phones.py).
    to_attach: list[tuple[HeldActivity, RecordState, str, str, str | None]] = field(
        default_factory=list
    )
    attached: set[int] = field(default_factory=set)
    held_for: dict[int, set[str]] = field(default_factory=dict)
    ids: SequenceIds | None = None
    # The rep each identity's integration last gave as the record's owner, and when.
    given_reps: dict[SourceKey, GivenRep] = field(default_factory=dict)
    # The identities a tool had merged into another id before the batch, and when it did.
    merged_ids: dict[SourceKey, str] = field(default_factory=dict)
    # The owners the outbox wrote to each identity the batch names that its integration has
    # not reported back yet (rules/echoes.py), in the order written.
    awaited: dict[SourceKey, list[OwnerWritten]] = field(default_factory=dict)
    # One activity a tool names by several ids (engine/aliases.py): the record links of the
    # activities such ids made (one may be joined into another; its links follow), and the
    # ids merged into an activity before (a join is counted once).
    activity_links: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    source_keys: set[SourceKey] = field(default_factory=set)
    # The company's own lines tools named (engine/own_lines.py), as the batch learns them;
    # for the lines it may learn, the open questions about their numbers and the activities
    # waiting for them (held or asked about), by id.
    own_lines: OwnLines = field(default_factory=lambda: OwnLines({}))
    line_questions: list[dict[str, Any]] = field(default_factory=list)
    line_activities: dict[int, dict[str, Any]] = field(default_factory=dict)


RECORD_IDS = "record"
ACTIVITY_IDS = "activity"


class SequenceIds:
    """Ids from the database's sequences, so that batches of parallel workers never wait on
    one counter (PostgreSQL).

    An event the router reserved ids for (``Event.ids``: its row's block, taken in arrival
    order) takes them from there: ids then grow in arrival order across workers, as they do
    under one writer, and "the lowest id" (the first record with an email) means the same.
    Any other id comes from ``reserve(kind, n)`` (``n`` fresh ids of :data:`RECORD_IDS` or
    :data:`ACTIVITY_IDS`), as needed; the reservations double (1, 1, 2, 4, ...), so a batch
    asks a few times whatever its size and leaves at most as many ids unused as it used. A
    ``local`` source (ids counted on from the sequence's value, no query) is asked one at a
    time: what it hands out is exactly what the batch takes."""

    __slots__ = ("_asked", "_block", "_local", "_reserve", "_spare")

    def __init__(self, reserve: Callable[[str, int], list[int]], local: bool = False) -> None:
        self._reserve = reserve
        self._local = local
        self._spare: dict[str, deque[int]] = {RECORD_IDS: deque(), ACTIVITY_IDS: deque()}
        self._asked = {RECORD_IDS: 0, ACTIVITY_IDS: 0}
        self._block: list[int] | None = None

    def enter(self, block: list[int] | None) -> None:
        """The event about to be decided has this block (or none)."""
        self._block = block

    def take(self, kind: str) -> int:
        block = self._block
        if block is not None:
            at = 0 if kind == RECORD_IDS else 2
            if block[at] < block[at + 1]:
                block[at] += 1
                return block[at] - 1
        spare = self._spare[kind]
        if not spare:
            n = 1 if self._local else max(1, self._asked[kind])
            self._asked[kind] += n
            spare.extend(self._reserve(kind, n))
        return spare.popleft()


def named_at(entries: Sequence[tuple[int, int | None]], index: int) -> int | None:
    """The record an identity named when the batch's owner change ``index`` was made, from
    its entries in the batch's identity log (from which change on it named which record)."""
    found = None
    for since, record_id in entries:
        if since > index:
            break
        found = record_id
    return found


def take_id(state: LoadedState, kind: str) -> int:
    """The next id of ``kind`` for a record or activity the batch creates."""
    if state.ids is not None:
        return state.ids.take(kind)
    if kind == RECORD_IDS:
        state.next_record_id += 1
        return state.next_record_id - 1
    state.next_activity_id += 1
    return state.next_activity_id - 1


@dataclass(slots=True)
class HeldActivity:
    """An activity kept unattached until a contact or lead gets its counterpart's number."""

    activity_id: int
    integration: str
    number: str
    held_at: str
    activity_type: str
    queued: bool = False


@dataclass
class BatchResult:
    """What one batch did, for summaries."""

    events: int = 0
    records_created: int = 0
    owners: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    activities_created: int = 0
    activities_updated: int = 0
    activities_skipped: int = 0
    activities_merged: int = 0
    flagged: int = 0
    # Counterparts: activities matched to a record by number, held for an unknown number,
    # held ones attached, questions put in the review queue, internal calls (the other
    # party one of the company's own lines).
    matched_by_number: int = 0
    held: int = 0
    attached_later: int = 0
    queued: int = 0
    internal: int = 0
    # Lines a tool named (its ``number.created``) whose number does not read as a phone
    # number: not learned (a preview says which, and why).
    lines_unread: int = 0

    def counterparts(self) -> dict[str, int]:
        """The counterpart counts as every face shows them (ingest, preview, replay)."""
        return {
            "matched_by_number": self.matched_by_number,
            "held": self.held,
            "attached_later": self.attached_later,
            "queued_for_review": self.queued,
            "internal": self.internal,
        }

    def add(self, other: BatchResult) -> None:
        self.events += other.events
        self.records_created += other.records_created
        for k, v in other.owners.items():
            self.owners[k] = self.owners.get(k, 0) + v
        self.activities_created += other.activities_created
        self.activities_updated += other.activities_updated
        self.activities_skipped += other.activities_skipped
        self.activities_merged += other.activities_merged
        self.flagged += other.flagged
        self.matched_by_number += other.matched_by_number
        self.held += other.held
        self.attached_later += other.attached_later
        self.queued += other.queued
        self.internal += other.internal
        self.lines_unread += other.lines_unread


@dataclass(slots=True)
class EventTrace:
    """What the engine did with one event, for a preview: the record it matched or created,
    the activity it created, updated or skipped, and the associations chosen. The owner
    decisions are in ``Decided.decisions`` (by event id)."""

    event_id: str
    record: tuple[str, int, bool] | None = None  # (type, id, created)
    activity: tuple[str, int | None, str] | None = None  # (type, id, created|updated|skipped)
    skip_reason: str | None = None
    associations: list[tuple[str, int, str]] = field(default_factory=list)  # (type, id, source)
    merge_reason: str | None = None  # merged into another tool's activity (dedupe), why
    # How the counterpart was found, held or queued (a number, an ambiguous email or deal);
    # for a record event, what became of the companies it names (one not made, being a
    # free-mail domain; the contact's primary company moved: engine/links.py).
    counterpart: str | None = None
    settings: str | None = None  # "rollout" when a rollout's settings decided the activity
    # Why the activity has the owner this event gave it (rules.activities.activity_owner_reason);
    # None when the event gave none: an update whose rep maps to nobody keeps the owner.
    owner_reason: str | None = None
    # A record event's properties the record did not take: older, by the vendor's clock,
    # than the event that gave the value each shows (rules/records.py newer_properties).
    older_properties: list[str] = field(default_factory=list)


QUEUED = "a question for the review queue"


def joined(said: str | None, more: str) -> str:
    """A trace's sentence with ``more`` said after it."""
    return f"{said}; {more}" if said else more


def note(traces: dict[str, EventTrace] | None, event_id: str | None, said: str) -> None:
    """Add ``said`` to what a preview says of the event ``event_id`` (when it traces)."""
    trace = traces.get(event_id) if traces is not None and event_id else None
    if trace is not None and said:
        trace.counterpart = joined(trace.counterpart, said)


def email_key(ref: RecordRef) -> str | None:
    return ref.email if ref.type is RecordType.CONTACT else None


def domain_key(ref: RecordRef) -> str | None:
    return ref.domain if ref.type is RecordType.COMPANY else None


def activity_candidate(
    row: Mapping[str, Any], records: set[int], region: str | None
) -> dedupe.Candidate:
    """What dedupe matching needs of an activity row (or of a new activity's properties);
    ``region``: its integration's (national numbers). Its duration is its talk time where
    its tool gave when it was answered and ended (two tools agree on that), else
    ``duration_s``."""
    duration = talk_seconds({**row, **(row.get("properties") or {})})
    duration = row.get("duration_s") if duration is None else duration
    return dedupe.Candidate(
        integration=str(row["integration"]),
        external_id=row.get("external_id"),
        activity_id=row.get("id"),
        owner_id=row.get("owner_id"),
        at=str(row["occurred_at"]),
        duration_s=float(duration) if duration is not None else None,
        direction=row.get("direction"),
        from_number=row.get("from_number"),
        to_number=row.get("to_number"),
        records=records,
        region=region,
    )


def activity_properties(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored activity's properties: its property columns and its extra properties."""
    props = {prop: row[col] for col, prop in COLUMN_PROPERTIES.items() if row.get(col) is not None}
    props.update(row.get("properties") or {})
    return props
