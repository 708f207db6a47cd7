"""Salesforce sObjects as canonical events: the mapping both channels share.

An Outbound Message's notification and a change event carry the same sObject fields; a
:class:`Fields` view reads them wherever they are in the stored piece (and, on an UPDATE,
only the changed ones), and :func:`sobject_events` maps a Lead, Contact, Account,
Opportunity, Task or Event to canonical dicts. The mapping table, the vocabularies and the
guesses are described in :mod:`leadsync.sources.salesforce`'s docstring. Ids are read in
their 18-character form (:func:`id18`) everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NoReturn

from leadsync.errors import EventError
from leadsync.model import OTHER_PHONES, format_ts, ts_to_datetime
from leadsync.sources.base import (
    compact,
    describe,
    domain_or_none,
    get_path,
    number,
    put,
    refuse,
    text,
    time_from_epoch,
    time_from_iso,
    whole,
)
from leadsync.sources.forms import epoch_number, flag, phone, shown

__all__ = [
    "CALL_DISPOSITIONS",
    "CALL_TYPES",
    "CONTACT_OTHER_PHONES",
    "CONTACT_PREFIXES",
    "SOBJECTS",
    "TASK_PRIORITIES",
    "TASK_STATUSES",
    "TASK_SUBTYPES",
    "WHAT_PREFIXES",
    "Fields",
    "id18",
    "id_of",
    "read_id",
    "read_time",
    "sobject_events",
]

SOBJECTS = ("Lead", "Contact", "Account", "Opportunity", "Task", "Event")

CALL_DISPOSITIONS: dict[str, str] = {  # (?) free text: lowercased, _ and - read as spaces
    "connected": "connected",
    "answered": "connected",
    "no answer": "no_answer",
    "busy": "busy",
    "voicemail": "voicemail",
    "left voicemail": "voicemail",
    "left message": "left_live_message",
    "left live message": "left_live_message",
    "wrong number": "wrong_number",
    "failed": "failed",
    "canceled": "canceled",
    "cancelled": "canceled",
}
CALL_TYPES: dict[str, str] = {"inbound": "inbound", "outbound": "outbound"}  # Internal: none
TASK_STATUSES: dict[str, str] = {
    "not started": "not_started",
    "in progress": "in_progress",
    "completed": "completed",
    "waiting on someone else": "waiting",
    "deferred": "deferred",
}
TASK_PRIORITIES: dict[str, str] = {"high": "high", "normal": "medium", "low": "low"}
TASK_SUBTYPES: dict[str, str] = {"Call": "call", "Email": "email"}  # any other: task

# A Contact's numbers beyond Phone and MobilePhone, each in its own slot of
# model.OTHER_PHONES (fixed, not packed: clearing one field clears exactly its number). A
# Lead has none of these fields (its numbers are Phone, MobilePhone and Fax).
CONTACT_OTHER_PHONES: tuple[tuple[str, str], ...] = tuple(
    zip(("HomePhone", "OtherPhone", "AssistantPhone"), OTHER_PHONES[:3], strict=True)
)

# Key prefixes of the records associations may name.
CONTACT_PREFIXES = ("00Q", "003")
WHAT_PREFIXES = {"006": "deal", "001": "company"}

_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?", re.ASCII)
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(value: str) -> str | None:
    """The 18-character form of a Salesforce id, or None when ``value`` is not one.

    The suffix encodes which of the first 15 characters are capitals, so an 18-character id
    whose letters lost their case (all lower or all upper case: a case-insensitive system
    kept it) is restored from it (what the suffix says of a digit does not count). One whose
    letters keep a case of their own that the suffix contradicts (a hand-written one) is kept
    as written: which case is right cannot be told, and a guess would name another record.
    """
    if not _ID.fullmatch(value):
        return None
    base = value[:15]
    if len(value) == 15:
        return base + _suffix(base)
    given = value[15:].upper()
    if any(c not in _CHECKSUM for c in given):
        return None
    if _suffix(base) == given:
        return base + given
    letters = [c for c in base if c.isalpha()]
    if not (all(c.islower() for c in letters) or all(c.isupper() for c in letters)):
        return base + value[15:]
    chars = list(base)
    for block, code in enumerate(given):
        bits = _CHECKSUM.index(code)
        for offset in range(5):
            at = block * 5 + offset
            chars[at] = chars[at].upper() if bits >> offset & 1 else chars[at].lower()
    base = "".join(chars)
    return base + _suffix(base)


def _suffix(base: str) -> str:
    """The three characters that give the case of a 15-character id's letters."""
    blocks = (base[i : i + 5] for i in range(0, 15, 5))
    return "".join(
        _CHECKSUM[sum(1 << i for i, c in enumerate(block) if "A" <= c <= "Z")] for block in blocks
    )


# ------------------------------------------------------------------ fields


@dataclass(frozen=True, slots=True)
class Fields:
    """An sObject's fields inside a stored piece: ``prefix`` locates them (for error paths);
    on an UPDATE only the ``changed`` fields count. ``nulled`` names the fields the event
    says Salesforce emptied (a change event's ``nulledFields`` and the ``changedFields``
    given null; an Outbound Message's ``xsi:nil`` fields): see :meth:`cleared`."""

    root: Any
    prefix: str
    changed: frozenset[str] | None
    is_update: bool
    nulled: frozenset[str] = frozenset()

    def counts(self, name: str) -> bool:
        return self.changed is None or name in self.changed or name.split(".")[0] in self.changed

    def text(self, name: str) -> str | None:
        return text(self.root, self.prefix + name) if self.counts(name) else None

    def phone(self, name: str) -> str | None:
        """A phone number: text (:func:`~leadsync.sources.forms.phone`; a JSON number, which
        a relay of a change event may write, is refused as every adapter refuses one)."""
        return phone(self.root, self.prefix + name) if self.counts(name) else None

    def name_field(self, part: str) -> str:
        """Where ``FirstName`` or ``LastName`` is: a field, or a part of the compound
        ``Name`` (``Name.FirstName``)."""
        if isinstance(get_path(self.root, self.prefix + "Name"), dict):
            return f"Name.{part}"
        return part

    def name_part(self, part: str) -> str | None:
        """``FirstName`` or ``LastName``: a field, or a part of the compound ``Name``."""
        return self.text(self.name_field(part))

    def cleared(self, name: str) -> bool:
        """Salesforce emptied the field: the event names it as set to null (``nulled``) and
        it holds no value. A field merely absent, or null in a body that lists every field
        (the Pub/Sub API's), is not cleared: it says nothing."""
        if name not in self.nulled:
            return False
        value = get_path(self.root, self.prefix + name)
        return value is None or (isinstance(value, str) and not value.strip())

    def give(self, properties: dict[str, Any], key: str, name: str, value: Any) -> None:
        """Set ``key`` to the value read from field ``name``, or to null when Salesforce
        emptied that field (null clears the property: a phone number leaves the record)."""
        if value is not None:
            properties[key] = value
        elif self.cleared(name):
            properties[key] = None

    def number(self, name: str) -> int | float | None:
        return whole(number(self.root, self.prefix + name)) if self.counts(name) else None

    def flag(self, name: str) -> bool | None:
        """A checkbox: a JSON boolean (a change event), the text ``true``/``false`` (an
        Outbound Message), or ``1``/``0`` (:func:`~leadsync.sources.forms.flag`)."""
        return flag(self.root, self.prefix + name) if self.counts(name) else None

    def time(self, name: str) -> str | None:
        return read_time(self.root, self.prefix + name) if self.counts(name) else None

    def id(self, name: str) -> str | None:
        return read_id(self.root, self.prefix + name) if self.counts(name) else None

    def vocabulary(
        self,
        name: str,
        table: Mapping[str, str],
        key: str,
        raw_key: str,
        properties: dict[str, Any],
    ) -> None:
        """Put a vendor value mapped by ``table`` as ``key`` and the raw value as ``raw_key``
        (the raw value alone when the table does not know it)."""
        raw = self.text(name)
        if raw is not None:
            properties[raw_key] = raw
            put(properties, key, table.get(" ".join(re.split(r"[\s_-]+", raw.lower()))))
        elif self.cleared(name):
            properties[key] = properties[raw_key] = None


def read_time(root: Any, path: str) -> str | None:
    """A date or a time: an ISO 8601 string, or epoch milliseconds (a Pub/Sub relay's), a
    number or a string of digits (a relay may write a 64-bit number as a string). A string is
    read as ISO 8601 first: ``20240630`` is that day, as ISO's basic form says."""
    value = get_path(root, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return time_from_epoch(value, path, "ms")
    if isinstance(value, str) and (stamp := epoch_number(value)) is not None:
        try:
            return time_from_iso(value, path)
        except EventError:
            return time_from_epoch(stamp, path, "ms")
    try:
        return time_from_iso(value, path)
    except EventError:
        refuse(path, f"must be an ISO 8601 time (e.g. 2026-11-01T09:00:00Z) or epoch "
                     f"milliseconds, got {shown(value)}")  # fmt: skip


def read_id(root: Any, path: str, required: bool = False) -> str | None:
    raw = text(root, path, required)
    return id_of(raw, path) if raw is not None else None


def id_of(raw: str, path: str) -> str:
    converted = id18(raw.strip())
    if converted is None:
        refuse(path, f"must be a Salesforce id (15 or 18 letters and digits), got {raw[:40]!r}")
    return converted


# ------------------------------------------------------------------ mapping


def sobject_events(
    sobject: str | None,
    sobject_path: str,
    view: Fields,
    record_id: str,
    event_id: str,
    when: str,
) -> list[dict[str, Any]]:
    if sobject in _RECORDS:
        return _record_events(_RECORDS[sobject], view, record_id, event_id, when)
    if sobject == "Task":
        return [_task(view, record_id, event_id, when)]
    if sobject == "Event":
        return [] if _series(view) else [_meeting(view, record_id, event_id, when)]
    unsupported(sobject, sobject_path)


def unsupported(sobject: Any, path: str) -> NoReturn:
    """Refuse an sObject leadsync does not read, naming the ones it does."""
    shown = repr(sobject) if isinstance(sobject, str) else describe(sobject)
    refuse(path, f"sObject {shown} is not supported; allowed: {', '.join(SOBJECTS)}")


def _record_events(
    mapper: Callable[[Fields], Mapped], view: Fields, record_id: str, event_id: str, when: str
) -> list[dict[str, Any]]:
    record_type, properties, refs = mapper(view)
    owner_id = view.id("OwnerId")
    owner = {"id": owner_id} if owner_id is not None else None
    named = {"id": event_id, "occurred_at": when, "object": record_type, "external_id": record_id}
    if not properties and not refs:
        return [{**named, "type": "owner", "owner": owner}] if owner is not None else []
    parts = {"owner": owner, "properties": properties, "associations": refs}
    return [compact({**named, "type": "record", **parts})]


Mapped = tuple[str, dict[str, Any], list[dict[str, str]]]


def _person(view: Fields, other_phones: tuple[tuple[str, str], ...]) -> Mapped:
    properties: dict[str, Any] = {}
    # Not cleared: Email (the engine never blanks a record's email, by which records are
    # found, so null would only empty the copy in its properties).
    put(properties, "email", view.text("Email"))
    for part, key in (("FirstName", "firstname"), ("LastName", "lastname")):
        view.give(properties, key, view.name_field(part), view.name_part(part))
    view.give(properties, "phone", "Phone", view.phone("Phone"))
    view.give(properties, "mobilephone", "MobilePhone", view.phone("MobilePhone"))
    for field, key in other_phones:
        view.give(properties, key, field, view.phone(field))
    view.give(properties, "company", "Company", view.text("Company"))
    return "contact", properties, _refs(view, ("company", "AccountId"))


def _lead(view: Fields) -> Mapped:
    return _person(view, ())


def _contact(view: Fields) -> Mapped:
    return _person(view, CONTACT_OTHER_PHONES)


def _account(view: Fields) -> Mapped:
    properties: dict[str, Any] = {}
    if isinstance(get_path(view.root, view.prefix + "Name"), dict):
        # A person account's compound Name: the company is named after the person, once
        # both parts are known (an update that changes one part names no company).
        parts = [text(view.root, f"{view.prefix}Name.{p}") for p in ("FirstName", "LastName")]
        if view.counts("Name") and all(parts):
            properties["name"] = " ".join(p for p in parts if p)
    else:
        put(properties, "name", view.text("Name"))
    website = view.text("Website")
    if website is not None:
        properties["domain" if (domain_or_none(website) is not None) else "website"] = website
    return "company", properties, []


def _opportunity(view: Fields) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", view.text("Name"))
    put(properties, "stage", view.text("StageName"))
    put(properties, "is_closed", view.flag("IsClosed"))
    view.give(properties, "amount", "Amount", view.number("Amount"))
    # A Date: epoch milliseconds at midnight UTC in a change event, YYYY-MM-DD in an Outbound
    # Message (that day at midnight UTC); HubSpot's closedate takes it.
    view.give(properties, "closedate", "CloseDate", view.time("CloseDate"))
    view.give(properties, "probability", "Probability", view.number("Probability"))
    refs = _refs(view, ("company", "AccountId"), ("contact", "ContactId"))
    return "deal", properties, refs


_RECORDS = {"Lead": _lead, "Contact": _contact, "Account": _account, "Opportunity": _opportunity}


def _task(view: Fields, record_id: str, event_id: str, when: str) -> dict[str, Any]:
    subtype = text(view.root, view.prefix + "TaskSubtype")  # what it is, changed or not
    if subtype is None and view.is_update:
        refuse(
            view.prefix + "TaskSubtype",
            "required on a Task update to know which activity it changes: enrich the Task"
            " change events with TaskSubtype",
        )
    activity = TASK_SUBTYPES.get(subtype or "", "task")
    properties: dict[str, Any] = {}
    view.give(
        properties, "title" if activity == "call" else "subject", "Subject", view.text("Subject")
    )
    view.give(properties, "body", "Description", view.text("Description"))
    if activity == "call":
        duration = view.number("CallDurationInSeconds")
        view.give(properties, "duration_s", "CallDurationInSeconds", duration)
        view.vocabulary("CallType", CALL_TYPES, "direction", "salesforce_call_type", properties)
        view.vocabulary(
            "CallDisposition",
            CALL_DISPOSITIONS,
            "outcome",
            "salesforce_call_disposition",
            properties,
        )
    elif activity == "task":
        view.vocabulary("Status", TASK_STATUSES, "status", "salesforce_status", properties)
        view.vocabulary("Priority", TASK_PRIORITIES, "priority", "salesforce_priority", properties)
        view.give(properties, "due", "ActivityDate", view.text("ActivityDate"))
    happened = read_time(view.root, view.prefix + "CreatedDate") or when
    return _activity(activity, view, record_id, event_id, happened, properties)


_YEAR_MIN = 366 * 24 * 60  # beyond a year of minutes a duration is no meeting's: no end


def _series(view: Fields) -> bool:
    """An Event that is a recurring series, not a meeting: the series record of a
    recurrence (``GroupEventType`` 3) or the master of a legacy one (``IsRecurrence``).
    Salesforce sends each occurrence as an Event change of its own."""
    group = get_path(view.root, view.prefix + "GroupEventType")
    return str(group).strip() == "3" or flag(view.root, view.prefix + "IsRecurrence") is True


def _meeting(view: Fields, record_id: str, event_id: str, when: str) -> dict[str, Any]:
    """A meeting from ``StartDateTime`` and ``EndDateTime``, else (an Event the change names
    by its activity fields) from ``ActivityDateTime`` — ``ActivityDate`` for an all-day
    one — and ``DurationInMinutes``."""
    properties: dict[str, Any] = {}
    view.give(properties, "title", "Subject", view.text("Subject"))
    view.give(properties, "body", "Description", view.text("Description"))
    start = view.time("StartDateTime") or view.time("ActivityDateTime")
    start = start or view.time("ActivityDate")
    end = view.time("EndDateTime")
    minutes = view.number("DurationInMinutes")
    if end is None and start is not None and minutes is not None and 0 <= minutes <= _YEAR_MIN:
        end = format_ts(ts_to_datetime(start) + timedelta(minutes=minutes))
    put(properties, "start", start)
    put(properties, "end", end)
    happened = when
    for name in ("StartDateTime", "ActivityDateTime", "ActivityDate"):
        if (at := read_time(view.root, view.prefix + name)) is not None:
            happened = at
            break
    return _activity("meeting", view, record_id, event_id, happened, properties)


def _activity(
    activity: str,
    view: Fields,
    record_id: str,
    event_id: str,
    happened: str,
    properties: dict[str, Any],
) -> dict[str, Any]:
    owner_id = view.id("OwnerId")
    refs = []
    who = view.id("WhoId")
    if who is not None and who.startswith(CONTACT_PREFIXES):
        refs.append({"object": "contact", "external_id": who})
    what = view.id("WhatId")
    if what is not None and what[:3] in WHAT_PREFIXES:
        refs.append({"object": WHAT_PREFIXES[what[:3]], "external_id": what})
    named = {
        "id": event_id,
        "occurred_at": happened,
        "activity": activity,
        "external_id": record_id,
    }
    owner = {"id": owner_id} if owner_id is not None else None
    parts = {"owner": owner, "properties": properties, "associations": refs}
    return compact({**named, "type": "activity", **parts})


# ------------------------------------------------------------------ parts


def _refs(view: Fields, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    out = []
    for record_type, field in pairs:
        external_id = view.id(field)
        if external_id is not None:
            out.append({"object": record_type, "external_id": external_id})
    return out
