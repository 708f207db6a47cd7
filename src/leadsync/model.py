"""The nouns of leadsync: owners, records, activities, events, decisions.

This module imports nothing of ours. Everything here is plain data; the rules decide, the
store persists, the engine moves data between them.

Events and refs are plain (not frozen) slotted dataclasses: one is built per line on the
hot path and freezing costs a fifth of the parse time. Treat them as immutable all the same.

Times are carried as fixed-width UTC strings (``2026-11-01T09:00:00.000Z``, see
:func:`format_ts`) so that they compare correctly as strings, in Python and in SQL on every
database, with no conversion in the hot path. Times from outside are read into that form by
:func:`leadsync.values.parse_time`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

# --------------------------------------------------------------------------- enums


class RecordType(enum.StrEnum):
    CONTACT = "contact"
    COMPANY = "company"
    DEAL = "deal"
    TICKET = "ticket"
    LEAD = "lead"


class ActivityType(enum.StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    NOTE = "note"
    TASK = "task"


class EventType(enum.StrEnum):
    RECORD = "record"
    OWNER = "owner"
    ACTIVITY = "activity"
    USER = "user"
    LINE = "line"  # one of the company's own phone lines, as the tool names it


class Strategy(enum.StrEnum):
    """Ownership strategies; how an integration's owner meets the CRM's."""

    INTEGRATION_WINS = "integration_wins"
    FILL_IF_EMPTY = "fill_if_empty"
    NEVER_OVERWRITE = "never_overwrite"
    BIDIRECTIONAL = "bidirectional"


class Outcome(enum.StrEnum):
    SET = "set"
    KEPT = "kept"
    IGNORED = "ignored"


class UnmappedPolicy(enum.StrEnum):
    LEAVE = "leave"
    FALLBACK = "fallback"
    ROUND_ROBIN = "round_robin"


class AutoMatch(enum.StrEnum):
    EMAIL = "email"
    NONE = "none"


class AssociationMode(enum.StrEnum):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class CompanyAssociation(enum.StrEnum):
    NONE = "none"
    PRIMARY = "primary"


class DealAssociation(enum.StrEnum):
    NONE = "none"
    MOST_RECENT_OPEN = "most_recent_open"
    ALL_OPEN = "all_open"


# Canonical vocabularies of typed activity fields. Vendors' values are mapped onto these by
# their adapters; the generic JSONL format uses them directly (case-insensitive).
CALL_OUTCOMES = (
    "connected",
    "no_answer",
    "busy",
    "voicemail",
    "left_live_message",
    "wrong_number",
    "failed",
    "canceled",
)
DIRECTIONS = ("inbound", "outbound")
EMAIL_DIRECTIONS = ("inbound", "outbound", "forwarded")
# What became of an email sent: delivered (as far as the tool knows), or bounced back.
EMAIL_OUTCOMES = ("sent", "bounced")
MEETING_OUTCOMES = ("scheduled", "completed", "rescheduled", "no_show", "canceled")
TASK_STATUSES = ("not_started", "in_progress", "waiting", "completed", "deferred")
TASK_PRIORITIES = ("none", "low", "medium", "high")
# What a task asks the rep to do (HubSpot's hs_task_type TODO, CALL, EMAIL).
TASK_TYPES = ("todo", "call", "email")

# A record's owner source when its owner was set in the CRM (a person, there or through
# ``records set-owner``; HubSpot's owner taken by the push) rather than by an integration's
# rule: in parentheses, so that no integration's name (``[a-z0-9][a-z0-9_-]*``) is it — a
# HubSpot integration named ``crm`` took a person's change for HubSpot's own, never pushed.
CRM_SOURCE = "(crm)"
# The source of an owner change ``leadsync undo`` made (an admin's), as the outbox names it.
UNDO_SOURCE = "(undo)"
# The strategy recorded on the decisions of those changes.
CRM_STRATEGY = "crm"
# ``records.origin`` of a record the CRM's own events named before saying it was made (a
# change, a link, a merge, an owner change of a record leadsync had not seen): one the CRM has
# had all along, never a new lead. The CRM's bare record event (it exists: HubSpot's
# ``creation``) clears it, whichever came first (engine/decide.py).
SEEN_IN_CRM = "seen_in_crm"


MANUAL_STRATEGY = "manual"
# The strategy of an owner set back by ``leadsync undo`` (an admin's, not an integration's).
UNDO_STRATEGY = "undo"
# The strategy of the owner decision a tool's merge makes when it joins two records leadsync
# held (engine/record_joins.py): the kept record's owner, or the absorbed one's.
MERGE_STRATEGY = "merge"


def change_source(integration: str | None, strategy: str) -> str:
    """Where an owner decision's change came from, as the outbox keeps it: its integration;
    else an admin's undo (:data:`UNDO_SOURCE`) or a change made in the CRM
    (:data:`CRM_SOURCE`: a person's, the push's)."""
    if integration is not None:
        return integration
    return UNDO_SOURCE if strategy == UNDO_STRATEGY else CRM_SOURCE


def decided_by(integration: str | None, strategy: str) -> str:
    """Who made an owner decision, for people: its integration; else an admin's undo, a
    person in the CRM (a manual change), or the push (leadsync deciding again on an owner it
    met in the CRM as it pushed)."""
    if integration is not None:
        return integration
    if strategy == UNDO_STRATEGY:
        return "an admin"
    return "a person in the CRM" if strategy == MANUAL_STRATEGY else "the push"


# Record types pushed to the CRM, in the order they are created there (a contact's company
# first; a lead after its contact). Tickets are not leadsync's to write.
PUSHED_RECORD_TYPES = ("company", "contact", "deal", "lead")
ASSIGN_ON_ACTIVITY = "assign_on_activity"

# ------------------------------------------------------------------------- times


def format_ts(moment: datetime) -> str:
    """A tz-aware datetime as the fixed-width UTC string used everywhere (ms precision)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    # isoformat, not strftime: a third of the cost, and years below 1000 keep four digits.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def ts_to_datetime(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def add_days(ts: str, days: float) -> str:
    return format_ts(ts_to_datetime(ts) + timedelta(days=days))


def settings_used(stored: str | None) -> str:
    """Which settings made a decision or skip, as every output names it: ``rollout`` (a
    staged rollout's proposed settings) or ``current`` (stored as None)."""
    return stored or "current"


def display_ts(ts: str | None) -> str:
    """A stored time for people: drops a zero millisecond part."""
    if ts is None:
        return "-"
    return ts.replace(".000Z", "Z")


def epoch_ts(seconds: float) -> str:
    """Epoch seconds (a clock's reading) as the fixed-width UTC string."""
    return format_ts(datetime.fromtimestamp(seconds, UTC))


def now_ts() -> str:
    return format_ts(datetime.now(UTC))


# ------------------------------------------------------------------- inbox keys

# A key the inbox keeps for a vendor event with no id of its own (a hash of what identifies
# it: ``sources.base.stable_key``; ``<hash>`` is 40 hex digits) has one of three forms:
#
#   h:<hash>                  the event has no time (and every such key before migration 0012)
#   t:<time>:<hash>           with the event's time (written from migration 0012 to 0013)
#   t:<time>:<order>:<hash>   with the time and the object's id, when the vendor gave a plain
#                             one (since migration 0013)
#
# each followed by ``:<content>`` (16 hex digits, since migration 0021) for the vendors whose
# identifying parts can be the same for two different events (a time to the second: two
# comments on one call in one second): a hash of what the event says, so that only a
# redelivery — the same event sent again — has the same key.
#
# They are built and read here only.
_ORDER_TEXT = r"[0-9A-Za-z._-]{1,32}"  # a plain object id
_ORDER = re.compile(_ORDER_TEXT)
_CONTENT = r"(?::([0-9a-f]{16}))?"
_HASHED = re.compile(rf"h:(?:({_ORDER_TEXT}):)?([0-9a-f]{{40}}){_CONTENT}")
_TIMED = re.compile(rf"t:(.{{24}}):(?:({_ORDER_TEXT}):)?([0-9a-f]{{40}}){_CONTENT}")


def hashed_key(digest: str, order: object = None, content: str | None = None) -> str:
    """A hashed key as an adapter gives it: ``h:<digest>``, or ``h:<order>:<digest>`` when
    ``order`` (the object's id) is a plain one — an integer or up to 32 letters, digits,
    ``.``, ``_`` and ``-`` — which :func:`timed_key` puts after the time; with
    ``:<content>`` after it when given (16 hex digits: what the event says, hashed)."""
    if isinstance(order, int) and not isinstance(order, bool):
        order = str(order)
    tail = f":{content}" if content else ""
    if isinstance(order, str) and _ORDER.fullmatch(order):
        return f"h:{order}:{digest}{tail}"
    return f"h:{digest}{tail}"


def timed_key(key: str, at: str | None) -> str:
    """The key the inbox keeps for a piece: a hashed key (:func:`hashed_key`) with the
    vendor's time of the event in front, ``t:<time>:<order>:<hash>`` (``t:<time>:<hash>``
    without an order), when the event has a time, else ``h:<hash>`` (each with its
    ``:<content>``, if any); any other key as it is.

    The time and the object's id come from the event's own fields, so a redelivery still has
    the same key. They are there for the inbox's unique index: a hash lands anywhere in it,
    so each new row reads and dirties a page of its own; keys that begin with the time land
    beside the last ones (on an inbox of 1,500,000 rows, a fifth to two fifths less CPU per
    appended row and a tenth of the page reads), and the events of one second — a vendor's
    times go to the second — land beside each other when the vendor numbers its objects in
    the order it makes them (3,000 events a second: a fifth less CPU and a third fewer bytes
    written per row; docs/PERFORMANCE.md). Ids of one length sort as numbers do; the rare
    second in which they grow a digit only costs a second place in the index. An inbox
    written before holds the older forms (:func:`older_keys`)."""
    hashed = _HASHED.fullmatch(key)
    if hashed is None:
        return key
    order, digest, content = hashed.groups()
    tail = f":{content}" if content else ""
    if at is None:
        return f"h:{digest}{tail}"
    return f"t:{at}:{order}:{digest}{tail}" if order else f"t:{at}:{digest}{tail}"


def older_keys(key: str) -> tuple[str, ...]:
    """The forms a timed key had before (``h:<hash>``; ``t:<time>:<hash>`` too for a key with
    an order; for a key with a content, first the key without it), for events an inbox may
    hold from then; none for any other key."""
    timed = _TIMED.fullmatch(key)
    if timed is None:
        return ()
    at, order, digest, content = timed.groups()
    if content:  # before migration 0021: without it (and the forms that had)
        plain = f"t:{at}:{order}:{digest}" if order else f"t:{at}:{digest}"
        return (plain, *older_keys(plain))
    return (f"h:{digest}", f"t:{at}:{digest}") if order else (f"h:{digest}",)


# ------------------------------------------------------------------------ nouns


@dataclass(frozen=True, slots=True)
class Owner:
    """A CRM user who can own records (HubSpot's owner; its ``id``, never ``userId``)."""

    id: str
    email: str
    first_name: str = ""
    last_name: str = ""
    active: bool = True
    teams: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email


@dataclass(slots=True)
class ExternalUserRef:
    """The rep an event names: an external user id, and the email when the payload has it.

    ``name`` is the rep's display name when the payload gives one; it is not part of who the
    rep is (two refs with the same id and email are the same rep, named or not).
    """

    id: str | None
    email: str | None = None
    name: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        if self.id and self.email:
            return f"{self.id} ({self.email})"
        return self.id or self.email or "?"


@dataclass(slots=True)
class RecordRef:
    """A record an event names: by external id, or a contact by email / a company by domain."""

    type: RecordType
    external_id: str | None = None
    email: str | None = None
    domain: str | None = None

    @property
    def named_as(self) -> str:
        """How the event names the record: its external id, else its email or domain."""
        return self.external_id or self.email or self.domain or "?"

    def describe(self) -> str:
        return f"{self.type.value} {self.named_as}"


@dataclass(slots=True)
class Event:
    """A canonical event: what every source turns its payloads into.

    ``seq`` is the arrival position (inbox order); ``occurred_at`` is when it happened at the
    source and decides staleness, never order.
    """

    id: str
    integration: str
    type: EventType
    occurred_at: str
    seq: int = 0
    object: RecordType | None = None
    activity: ActivityType | None = None
    external_id: str | None = None
    email: str | None = None
    domain: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    owner: ExternalUserRef | None = None
    associations: tuple[RecordRef, ...] = ()
    # A person made this change by hand in the source (HubSpot's CRM_UI), not an automation.
    manual: bool = False
    # ``owner`` is the record's owner as the source has it, not a change this event makes (an
    # edit of something else): taken by a record the event makes, never decided for one that
    # exists (re-asserting it would undo a change made elsewhere since).
    owner_unchanged: bool = False
    # When the vendor says this change happened, where that differs from ``occurred_at`` (an
    # activity's events are timed when the activity happened; their changes are ordered by
    # this). None: ``occurred_at``.
    changed_at: str | None = None
    # An activity that does not exist yet (a drafted or scheduled mailing): what it says is
    # remembered for the event that makes it real, nothing is created.
    draft: bool = False
    # Other external ids the source gives this same activity (a Salesloft call data record,
    # ``cdr:<id>`` until it is logged to a call): events under any of them are one activity.
    aliases: tuple[str, ...] = ()
    # Other external ids of this record at the source that the source merged into it (a
    # HubSpot ``contact.merge``, a Pipedrive ``merged.person``): gone there, they name this
    # record from now on (engine/merges.py).
    merged: tuple[str, ...] = ()
    # The ids reserved for its row in arrival order (parallel workers): [next record id, end,
    # next activity id, end], shared by the row's events (engine/state.py SequenceIds).
    ids: list[int] | None = None

    def subject_ref(self) -> RecordRef | None:
        """The record a record/owner event is about."""
        if self.object is None:
            return None
        return RecordRef(self.object, self.external_id, self.email, self.domain)

    def merged_refs(self) -> tuple[RecordRef, ...]:
        """The records the source merged into this event's record, by their gone ids."""
        if self.object is None:
            return ()
        return tuple(RecordRef(self.object, m) for m in self.merged)


# ---------------------------------------------------------------------- decisions


@dataclass(frozen=True, slots=True)
class MappingResult:
    """How an external user became an owner, or why not.

    ``owner_id`` is None when nobody could be chosen (policy ``leave``, or an owner cannot be
    named yet because the round robin only turns when the owner is actually used).
    """

    owner_id: str | None
    mapped: bool
    how: str
    flagged: bool = False
    round_robin_team: str | None = None
    # Owners the rep's email matches equally (several active owners share it): a question.
    candidates: tuple[str, ...] = ()
    # ``how`` where the owner it names was not taken (a decision that keeps the record's):
    # an unmapped policy's owner "would be used", not "is used". Empty: ``how`` says it.
    how_not_taken: str = ""

    def kept_out(self) -> str:
        """How the rep maps, said of an owner the decision did not take."""
        return self.how_not_taken or self.how


@dataclass(slots=True)
class OwnerDecision:
    """One owner decision for one record, applied or not, with its reason.

    ``at`` is when its event happened (with no event: the time its change is dated);
    ``decided_at`` when leadsync made the decision — the time of writing the batch passes
    to decide, stamped on every decision of the batch when it is finished (an undo gives
    its own). None only until then, and from a maker that does not say: the store then
    writes ``at`` (the push's re-decisions, dated by the push's clock when it makes them).
    Two runs of the same events (a preview and the run, replay's two runs, a test lead's
    expectation and its run) decide the same but at different times: equality leaves
    ``decided_at`` out, and so must any other comparison of decisions."""

    record_id: int
    record_type: RecordType
    event_id: str | None
    integration: str | None
    strategy: str
    at: str
    previous_owner_id: str | None
    proposed_owner_id: str | None
    owner_id: str | None
    outcome: Outcome
    reason: str
    external_user: str | None = None
    flagged: bool = False
    # "rollout" when a staged rollout's proposed settings decided it; None: the current ones.
    settings: str | None = None
    decided_at: str | None = field(default=None, compare=False)


@dataclass(slots=True)
class ActivitySkip:
    """An activity the integration sent that was not created, and why (``reason``; ``kind``:
    the rule and its setting, what the report counts by), and the record it was for: the
    event's primary record as the event named it (``record``), and its id when the workspace
    had that record. When a later event of the batch created the activity after all:
    ``activity_id`` and when (``created_later_at``, the vendor's time of that event)."""

    event_id: str
    integration: str
    type: ActivityType
    external_id: str | None
    occurred_at: str
    reason: str
    kind: str
    record: RecordRef | None = None
    record_id: int | None = None
    settings: str | None = None
    activity_id: int | None = None
    created_later_at: str | None = None


# A pair of associated records is stored once, the record whose type ranks first on the left.
#: A person's numbers beyond ``phone`` and ``mobilephone`` (a home line, a second work line, an
#: assistant's), as canonical properties in the order the tool lists them: kept so that a call
#: from any of them finds the person, never pushed (HubSpot's contacts have no property for
#: them). A tool's numbers beyond these are not kept.
OTHER_PHONES = tuple(f"other_phone_{n}" for n in range(1, 6))
#: The properties that hold a person's phone numbers (HubSpot's names, then the other ones).
#: An adapter whose tool sends a person's whole list of numbers gives them all on an event
#: that has the list, null for what the list lacks.
PHONE_PROPERTIES = ("phone", "mobilephone", *OTHER_PHONES)

AUTO_SOURCE = "auto"
"""An activity association's source when the association rules chose the record (a contact's
primary company, its open deal); ``event`` when the event named it, ``number`` when its
number found it."""

ASSOCIATION_RANK: dict[RecordType, int] = {
    RecordType.CONTACT: 0,
    RecordType.LEAD: 1,
    RecordType.DEAL: 2,
    RecordType.TICKET: 3,
    RecordType.COMPANY: 4,
}
