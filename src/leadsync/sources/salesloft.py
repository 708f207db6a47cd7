"""Salesloft webhooks: people, accounts, calls, call data records, emails, meetings, notes,
tasks and users.

Payload
-------
The header ``x-salesloft-event`` names the event; the body is the resource as the REST API
renders it, with no envelope (?)::

    x-salesloft-event: call_created
    {"id": 91, "to": "+15550100", "duration": 95, "disposition": "Connected",
     "sentiment": "Interested", "user": {"id": 4, "_href": "..."},
     "called_person": {"id": 17, "_href": "..."}, "created_at": "...", "updated_at": "..."}

The header is kept with each stored piece (``kept_headers``); a request or a stored piece without
it cannot be read (EventError). Bodies are whole resources, so a ``null`` field means "empty in
Salesloft": it is simply left out (in the canonical format null would clear a value).

Signature: header ``x-salesloft-signature`` (:func:`~leadsync.sources.signatures.verify_salesloft`,
HMAC-SHA1 keyed with the callback token); no timestamp, so no time window.

Dedupe key and times
--------------------
Key: ``stable_key("salesloft", event, body.id, body.updated_at or body.created_at, order=body.id,
content=body)``, kept as ``t:<time>:<body.id>:<hash>:<content>``. The event time is ``updated_at``,
else ``created_at``: the inbox's ``occurred_at`` and the ``occurred_at`` of record and user events.
Activities are timed when they happened (below), else at the event time.

Events
------
=================================  ==========================================================
``person_created`` / ``_updated``  contact record ``id``: email (email_address), firstname,
                                   lastname, title, phone (``phone``, else ``home_phone``),
                                   mobilephone (``mobile_phone``), other_phone_1
                                   (``home_phone`` beside a ``phone``), company
                                   (person_company_name), city, state, country, crm_id;
                                   owner ``owner.id``; association ``account.id`` -> company
``account_created`` / ``_updated`` company record ``id``: name, domain, website, industry,
                                   phone; owner ``owner.id``
``call_created`` / ``_updated``    call activity ``id``: to_number (to; a call has no
                                   ``from`` and no direction), duration_s
                                   (duration), outcome from ``disposition``
                                   (:data:`DISPOSITION_OUTCOMES`, raw kept as
                                   ``salesloft_disposition``), ``salesloft_sentiment``,
                                   recording_url (first of ``recordings[].url`` that
                                   is a string: a link of another type is none); owner
                                   ``user.id``; association ``called_person.id`` -> contact;
                                   at ``created_at``
``call_data_record_created`` /     call activity named ``call.id`` when the record is logged
``_updated`` (?)                   to a call (so both merge), with the alias ``"cdr:" + id``
                                   (the id its earlier events, before it was logged, gave:
                                   the engine makes them one activity), else ``"cdr:" + id``:
                                   from/to numbers, direction, ``salesloft_call_status``,
                                   recording_url (``recording.url``, a link: one
                                   that is not a string is left out); outcome
                                   (:data:`CDR_STATUS_OUTCOMES`) and duration_s only once the
                                   status is final (:data:`FINAL_CDR_STATUSES`); owner
                                   ``user.id``; association ``called_person.id``; at
                                   ``started_at``
``email_updated`` /                email activity ``id`` once sent (``status`` in
``email_with_body_and_subject_     :data:`SENT_EMAIL_STATUSES` or a ``sent_at``; an unsent
updated`` (?)                      email gives ``[]``): direction outbound, subject, body,
                                   ``salesloft_status``, ``salesloft_bounced``; owner
                                   ``user.id``; association ``recipient.id`` (with
                                   ``recipient_email_address``); at ``sent_at``
``meeting_booked`` / ``_updated``  meeting activity ``id``: title, body (description),
                                   start/end (start_time/end_time), outcome (see
                                   :func:`_meeting_outcome`), ``salesloft_status``; owner
                                   ``owned_by_user.id`` with the email of
                                   ``owned_by_meetings_settings``; associations ``person.id``
                                   (with ``recipient_email``) and ``account_id``; at
                                   ``start_time``
``note_created`` /                 note activity ``id``: body (content); owner ``user.id``;
``note_updated`` (?)               association ``associated_with.id`` as a contact
                                   (``associated_type`` person) or company (account), else
                                   as ``_href`` names it; other types name nothing
``task_created`` / ``_updated``    task activity ``id``: subject, body (description), status
(?) / ``_completed``               (current_state, :data:`TASK_STATUSES`; ``task_completed``
                                   is always completed), due (due_at, else due_date),
                                   priority (?), ``salesloft_task_type``; owner ``user.id``;
                                   association ``person.id``; at ``created_at``
``user_created`` / ``_updated``    user event ``{id, email}`` with ``name``
``person_deleted``, ...           ``[]``: deletions (person, account, note, task) are not
                                   propagated; other ``*_deleted`` events are dead letters
:data:`IGNORED_EVENTS`             ``[]``: cadences, steps, conversations, successes, bulk
                                   jobs and link swaps mean nothing to leadsync
anything else                      EventError (the row becomes a dead letter)
=================================  ==========================================================

Phone numbers are passed as given, trimmed (the engine reads them as E.164; a person's
``phone_extension`` is not appended). A person's ``home_phone`` is its ``phone`` when it has no
``phone``, else ``other_phone_1`` (never pushed: kept so that a call from it finds the person),
unless it is the same text as the phone or the mobile number. A ``home_phone`` null clears no
``other_phone_1``, like every null: the event cannot tell whether this adapter put the number there
(another tool's may be in that place). A call or call data record naming no person
(``called_person`` null) is still the call, with its numbers: the engine finds the other party by
number.

Types are strict (EventError naming the JSON path), but for the other forms a value's meaning is
plain in (:mod:`leadsync.sources.forms`): a flag (``bounced``, ``no_show``) is ``true``/``false``,
``1``/``0`` or either as a string, a number may be a string of one; and a recording's link that is
not a string is left out. Values are lenient where a dead letter would help nobody: an email
without one ``@`` or a domain without a dot is left out. A record whose ``owner`` is null carries
no owner (it never clears one).
References to other records and users (``owner``, ``account``, ``user``, ``called_person``,
``recipient``, ``person``, ``owned_by_user``, ``associated_with``, a call data record's ``call``)
are objects ``{id, _href}``; null or ``{}`` names nobody. A reference of any other shape (a bare
id, an array, an object without ``id``) is an EventError naming it and the allowed form
(:func:`_ref_id`), never an event that silently lost its owner or link.

Guesses (?)
-----------
- The body is the bare resource; the events marked (?) above are listed by third parties, not
  on Salesloft's own page, and are read like their documented siblings.
- Meetings name their owner by user GUID (``owned_by_user.id``) where other resources use the
  numeric user id; the owner's email is sent along so ``auto_match: email`` can still map it.
- Task ``priority`` (:data:`PRIORITY`), not in the documented resource, is read.
- A call data record's ``completed`` status says the call ended, not who answered: it maps to
  no outcome (the call's disposition says more).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from leadsync.errors import EventError
from leadsync.model import DIRECTIONS, OTHER_PHONES, Event
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    choice,
    describe,
    domain_or_none,
    email_or_none,
    event_name_error,
    get_path,
    number,
    put,
    refuse,
    signature_needs_secret,
    stable_key,
    text,
    time_from_iso,
    whole,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.forms import flag, lenient_string, phone
from leadsync.sources.signatures import verify_salesloft

__all__ = ["ADAPTER", "SalesloftAdapter"]

EVENT_HEADER = "x-salesloft-event"
EVENT_PATH = f"headers.{EVENT_HEADER}"
#: How Salesloft names a related record or user (``owner``, ``account``, ``user`` …).
REFERENCE_FORM = "{id, _href} or null"

#: Salesloft field -> canonical property, copied as text when present.
PERSON_FIELDS = {
    "first_name": "firstname",
    "last_name": "lastname",
    "title": "title",
    "phone": "phone",
    "mobile_phone": "mobilephone",
    "person_company_name": "company",
    "city": "city",
    "state": "state",
    "country": "country",
    "crm_id": "crm_id",
}
#: A person's ``phone`` when the work ``phone`` is empty, else its ``other_phone_1``.
HOME_PHONE_FIELD = "home_phone"
#: A note's record by ``associated_type``, else by the type its reference's address names.
NOTE_RECORDS = {"person": "contact", "account": "company"}
NOTE_HREF_TYPES = {"/people/": "person", "/accounts/": "account"}
#: The fields above that are phone numbers: text (forms.phone refuses a JSON number).
PHONE_FIELDS = frozenset({"phone", "mobile_phone", HOME_PHONE_FIELD, "from", "to"})
ACCOUNT_FIELDS = {"name": "name", "website": "website", "industry": "industry", "phone": "phone"}
CALL_FIELDS = {"to": "to_number", "sentiment": "salesloft_sentiment"}
#: A call data record's own activity id, until it is logged to a call.
CDR_PREFIX = "cdr:"
CDR_FIELDS = {"from": "from_number", "to": "to_number"}
EMAIL_FIELDS = {"subject": "subject", "body": "body", "status": "salesloft_status"}
MEETING_FIELDS = {"title": "title", "description": "body", "status": "salesloft_status"}
TASK_FIELDS = {"subject": "subject", "description": "body", "task_type": "salesloft_task_type"}

#: Call ``disposition`` (case-insensitive; teams may define their own) -> canonical outcome.
DISPOSITION_OUTCOMES = {
    "connected": "connected",
    "no answer": "no_answer",
    "left voicemail": "voicemail",
    "busy": "busy",
    "wrong number": "wrong_number",
    "bad number": "failed",
}
#: Call data record ``status`` -> canonical outcome (``completed`` says nothing of who answered).
CDR_STATUS_OUTCOMES = {
    "busy": "busy",
    "no-answer": "no_answer",
    "canceled": "canceled",
    "failed": "failed",
}
FINAL_CDR_STATUSES = frozenset({"completed", *CDR_STATUS_OUTCOMES})
SENT_EMAIL_STATUSES = frozenset({"sent", "sent_from_gmail", "sent_from_external"})
#: Meeting ``status`` (creation progress of the calendar event) -> canonical outcome.
MEETING_STATUS_OUTCOMES = {"pending": "scheduled", "booked": "scheduled", "retry": "scheduled"}
#: Meeting ``reschedule_status`` (the progress of moving it: pending, booked, failed, retry)
#: that says it is being or was moved; ``failed``: it was not moved, its ``status`` counts.
MEETING_RESCHEDULING = frozenset({"pending", "booked", "retry"})
TASK_STATUSES = {"scheduled": "not_started", "completed": "completed"}
PRIORITY = "priority"  # (?)
TASK_PRIORITIES = {"low": "low", "medium": "medium", "normal": "medium", "high": "high"}
TASK_KINDS = {"call": "call", "email": "email"}  # any other kind: a to-do

IGNORED_EVENTS = frozenset(
    [
        "person_deleted",
        "account_deleted",
        "note_deleted",
        "task_deleted",
        "cadence_created",
        "cadence_updated",
        "cadence_deleted",
        "cadence_membership_created",
        "cadence_membership_updated",
        "step_created",
        "step_updated",
        "step_deleted",
        "conversation_created",
        "conversation_recording_created",
        "conversation_transcript_created",
        "success_created",
        "bulk_job_completed",
        "link_swap",
    ]
)


@dataclass(frozen=True, slots=True)
class _Delivery:
    """One stored Salesloft event as the converters read it."""

    item: Any
    name: str
    event_id: str
    when: str  # the vendor's event time, canonical

    @property
    def external_id(self) -> str:
        return text(self.item, "id") or refuse("id", "required")


class SalesloftAdapter(Adapter):
    """Salesloft webhooks (one resource per request, the event named in a header)."""

    kind: ClassVar[str] = "salesloft"
    vendor_name: ClassVar[str | None] = "Salesloft"
    signature_scheme: ClassVar[str] = "x-salesloft-signature: hex HMAC-SHA1(callback token, body)"
    kept_headers: ClassVar[tuple[str, ...]] = (EVENT_HEADER,)

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        verify_salesloft(signature_needs_secret(self.kind, secret), request.body, request.headers)

    def split(self, body: Any, headers: Mapping[str, str]) -> list[Any]:
        _event_name(headers)
        return [body]

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        object_id = text(item, "id", required=True)
        stamp = get_path(item, "updated_at") or get_path(item, "created_at")
        event = _event_name(headers)
        return stable_key("salesloft", event, object_id, stamp, order=object_id, content=item)

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        return _time(item, "updated_at") or _time(item, "created_at")

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        name = _event_name(headers)
        if name in IGNORED_EVENTS:
            return []
        convert = _CONVERTERS.get(name)
        if convert is None:
            event_name_error(EVENT_PATH, name, KNOWN_EVENTS)
        text(item, "id", required=True)  # the body must be an object with an id
        when = self.occurred_at(item, headers) or refuse(
            "updated_at", "required (or created_at): the event has no time"
        )
        delivery = _Delivery(item, name, event_id, when)
        return [parse_event(data, self.integration, seq) for data in convert(delivery)]


ADAPTER = SalesloftAdapter


def _event_name(headers: Mapping[str, str]) -> str:
    name = headers.get(EVENT_HEADER, "").strip().lower()  # in any case: Person_Updated
    if not name:
        raise EventError(f"header {EVENT_HEADER} is missing: Salesloft names the event there")
    return name


# ------------------------------------------------------------------ records


def _person(d: _Delivery) -> list[dict[str, Any]]:
    properties = _texts(d.item, PERSON_FIELDS)
    home = phone(d.item, HOME_PHONE_FIELD)
    if "phone" not in properties:  # bodies are whole: no phone means none, so home is it
        if home is not None:
            properties["phone"] = home
    elif home is not None and home not in (properties["phone"], properties.get("mobilephone")):
        properties[OTHER_PHONES[0]] = home  # kept beside the phone, for calls from it
    email = email_or_none(text(d.item, "email_address"))
    if email is not None:
        properties["email"] = email
    return [_record(d, "contact", properties, _link(d.item, "account.id", "company"))]


def _account(d: _Delivery) -> list[dict[str, Any]]:
    properties = _texts(d.item, ACCOUNT_FIELDS)
    domain = domain_or_none(text(d.item, "domain"))
    if domain is not None:
        properties["domain"] = domain
    return [_record(d, "company", properties, [])]


def _record(
    d: _Delivery, record: str, properties: dict[str, Any], links: list[dict[str, str]]
) -> dict[str, Any]:
    event: dict[str, Any] = {
        **_head(d, "record", d.when),
        "object": record,
        "external_id": d.external_id,
        "properties": properties,
    }
    return _with_owner_and_links(event, _user_ref(d.item, "owner.id"), links)


# ------------------------------------------------------------------ activities


def _call(d: _Delivery) -> list[dict[str, Any]]:
    properties: dict[str, Any] = _texts(d.item, CALL_FIELDS)
    duration = _seconds(d.item, "duration")
    if duration is not None:
        properties["duration_s"] = duration
    disposition = text(d.item, "disposition")
    if disposition is not None:
        properties["salesloft_disposition"] = disposition
        if disposition.lower() in DISPOSITION_OUTCOMES:
            properties["outcome"] = DISPOSITION_OUTCOMES[disposition.lower()]
    recording = _first_recording(d.item)
    if recording is not None:
        properties["recording_url"] = recording
    links = _link(d.item, "called_person.id", "contact")
    return [_activity(d, "call", d.external_id, properties, "user.id", links, "created_at")]


def _call_data_record(d: _Delivery) -> list[dict[str, Any]]:
    properties: dict[str, Any] = _texts(d.item, CDR_FIELDS)
    recording = lenient_string(d.item, "recording.url")  # a link: another type is none
    if recording is not None:
        properties["recording_url"] = recording
    direction = choice(d.item, "direction", DIRECTIONS)
    if direction is not None:
        properties["direction"] = direction
    status = text(d.item, "status")
    if status is not None:
        properties["salesloft_call_status"] = status
    if (status or "").lower() in FINAL_CDR_STATUSES:
        outcome = CDR_STATUS_OUTCOMES.get((status or "").lower())
        if outcome is not None:
            properties["outcome"] = outcome
        duration = _seconds(d.item, "duration")
        if duration is not None:
            properties["duration_s"] = duration
    call_id = _ref_id(d.item, "call.id")
    own_id = CDR_PREFIX + d.external_id
    links = _link(d.item, "called_person.id", "contact")
    if call_id is None:
        return [_activity(d, "call", own_id, properties, "user.id", links, "started_at")]
    # Logged to a call: that call, which its events until now (``cdr:<id>``) were too.
    event = _activity(d, "call", call_id, properties, "user.id", links, "started_at")
    event["aliases"] = [own_id]
    return [event]


def _email(d: _Delivery) -> list[dict[str, Any]]:
    status = text(d.item, "status")
    if (status or "").lower() not in SENT_EMAIL_STATUSES and _time(d.item, "sent_at") is None:
        return []
    properties: dict[str, Any] = {"direction": "outbound", **_texts(d.item, EMAIL_FIELDS)}
    bounced = flag(d.item, "bounced")
    if bounced is not None:
        properties |= {"salesloft_bounced": bounced, "outcome": "bounced" if bounced else "sent"}
    links = _contact(d.item, "recipient.id", "recipient_email_address")
    return [_activity(d, "email", d.external_id, properties, "user.id", links, "sent_at")]


def _meeting(d: _Delivery) -> list[dict[str, Any]]:
    properties: dict[str, Any] = _texts(d.item, MEETING_FIELDS)
    for field, name in (("start_time", "start"), ("end_time", "end")):
        moment = _time(d.item, field)
        if moment is not None:
            properties[name] = moment
    outcome = _meeting_outcome(d.item)
    if outcome is not None:
        properties["outcome"] = outcome
    links = _contact(d.item, "person.id", "recipient_email") + _link(
        d.item, "account_id", "company"
    )
    event = _activity(d, "meeting", d.external_id, properties, None, links, "start_time")
    owner = _user_ref(d.item, "owned_by_user.id")
    owner_email = email_or_none(text(d.item, "owned_by_meetings_settings.email_address"))
    if owner_email is not None:
        owner = {**(owner or {}), "email": owner_email}
    if owner is not None:
        event["owner"] = owner
    return [event]


def _meeting_outcome(item: Any) -> str | None:
    """canceled_at -> canceled; no_show -> no_show; a reschedule under way or done
    (:data:`MEETING_RESCHEDULING`) -> rescheduled; else the creation status
    (pending/booked/retry -> scheduled; failed -> none)."""
    if _time(item, "canceled_at") is not None:
        return "canceled"
    if flag(item, "no_show"):
        return "no_show"
    if (text(item, "reschedule_status") or "").lower() in MEETING_RESCHEDULING:
        return "rescheduled"
    return MEETING_STATUS_OUTCOMES.get((text(item, "status") or "").lower())


def _note(d: _Delivery) -> list[dict[str, Any]]:
    properties = {"body": body} if (body := text(d.item, "content")) is not None else {}
    href = text(d.item, "associated_with._href") or ""  # …/v2/people/5001
    kind = (text(d.item, "associated_type") or "").lower()
    kind = kind or next((t for at, t in NOTE_HREF_TYPES.items() if at in href), "")
    links = _link(d.item, "associated_with.id", NOTE_RECORDS[kind]) if kind in NOTE_RECORDS else []
    return [_activity(d, "note", d.external_id, properties, "user.id", links, "created_at")]


def _task(d: _Delivery) -> list[dict[str, Any]]:
    properties: dict[str, Any] = _texts(d.item, TASK_FIELDS)
    state = (text(d.item, "current_state") or "").lower()
    status = "completed" if d.name == "task_completed" else TASK_STATUSES.get(state)
    put(properties, "status", status)
    put(properties, "due", _time(d.item, "due_at") or _time(d.item, "due_date"))
    put(properties, "priority", TASK_PRIORITIES.get((text(d.item, PRIORITY) or "").lower()))
    kind = text(d.item, "task_type")  # call, email, general…: HubSpot's CALL, EMAIL, TODO
    put(properties, "task_type", None if kind is None else TASK_KINDS.get(kind.lower(), "todo"))
    links = _link(d.item, "person.id", "contact")
    return [_activity(d, "task", d.external_id, properties, "user.id", links, "created_at")]


def _activity(
    d: _Delivery,
    activity: str,
    external_id: str,
    properties: dict[str, Any],
    owner_path: str | None,
    links: list[dict[str, str]],
    at_field: str,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        **_head(d, "activity", _time(d.item, at_field) or d.when),
        "activity": activity,
        "external_id": external_id,
        "properties": properties,
    }
    owner = _user_ref(d.item, owner_path) if owner_path else None
    return _with_owner_and_links(event, owner, links)


def _first_recording(item: Any) -> str | None:
    """The ``url`` of the first of ``recordings`` (``[{url, …}]``) that has one. A link only
    points at the recording: ``recordings`` that is not an array, an entry that is not an
    object or a ``url`` that is not a string is no link
    (:func:`~leadsync.sources.forms.lenient_string`), never a refusal of the call."""
    recordings = get_path(item, "recordings")
    if not isinstance(recordings, list):
        return None
    for recording in recordings:
        url = lenient_string(recording, "url")
        if url is not None:
            return url
    return None


# ------------------------------------------------------------------ users


def _user(d: _Delivery) -> list[dict[str, Any]]:
    """The user by its id, and by its ``guid`` (how meetings name their owner) the same."""
    email = email_or_none(text(d.item, "email"))
    owner = {"id": d.external_id, **({"email": email} if email is not None else {})}
    event: dict[str, Any] = {**_head(d, "user", d.when), "owner": owner}
    parts = (text(d.item, "first_name"), text(d.item, "last_name"))
    if name := text(d.item, "name") or " ".join(p for p in parts if p) or None:
        event["properties"] = {"name": name}
    guid = text(d.item, "guid")
    twin = {**event, "id": f"{d.event_id}#guid", "owner": {**owner, "id": guid}}
    return [event] if guid in (None, d.external_id) else [event, twin]


# ------------------------------------------------------------------ parts


def _head(d: _Delivery, kind: str, at: str) -> dict[str, Any]:
    return {"id": d.event_id, "occurred_at": at, "type": kind}


def _with_owner_and_links(
    event: dict[str, Any], owner: dict[str, str] | None, links: list[dict[str, str]]
) -> dict[str, Any]:
    if owner is not None:
        event["owner"] = owner
    if links:
        event["associations"] = links
    return event


def _ref_id(item: Any, path: str) -> str | None:
    """The id at ``path``. When ``path`` is a reference's ``id`` (``owner.id``), the reference
    must be an object with an ``id`` (:data:`REFERENCE_FORM`), null or ``{}``: another shape
    (a bare id, an array, an object naming no id) is an EventError naming the reference, so a
    new shape never silently loses an owner or a link. ``account_id``-style fields are plain."""
    ref, dot, field = path.rpartition(".")
    if dot:
        value = get_path(item, ref)
        if value is None or value == {}:
            return None
        if not isinstance(value, dict):
            refuse(ref, f"expected {REFERENCE_FORM}, got {describe(value)}")
        if field not in value:
            keys = ", ".join(sorted(str(k) for k in value)[:5])
            refuse(ref, f"expected {REFERENCE_FORM}, got an object with keys {keys}")
    return text(item, path)


def _user_ref(item: Any, path: str) -> dict[str, str] | None:
    user_id = _ref_id(item, path)
    return {"id": user_id} if user_id is not None else None


def _link(item: Any, path: str, record: str) -> list[dict[str, str]]:
    target = _ref_id(item, path)
    return [{"object": record, "external_id": target}] if target is not None else []


def _contact(item: Any, id_path: str, email_path: str) -> list[dict[str, str]]:
    """A contact named by its Salesloft id and, when the payload has it, its email."""
    link = {"object": "contact"}
    target = _ref_id(item, id_path)
    email = email_or_none(text(item, email_path))
    if target is not None:
        link["external_id"] = target
    if email is not None:
        link["email"] = email
    return [link] if len(link) > 1 else []


def _texts(item: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    """The present, non-empty text fields of ``fields``, renamed (numbers by :func:`phone`)."""
    out: dict[str, Any] = {}
    for field, name in fields.items():
        value = phone(item, field) if field in PHONE_FIELDS else text(item, field)
        if value is not None:
            out[name] = value
    return out


def _time(item: Any, path: str) -> str | None:
    return time_from_iso(get_path(item, path), path)


def _seconds(item: Any, path: str) -> int | float | None:
    value = number(item, path)
    if value is not None and value < 0:
        refuse(path, f"must be a number >= 0 (seconds), got {value}")
    return whole(value)


_Converter = Callable[[_Delivery], list[dict[str, Any]]]
_CONVERTERS: dict[str, _Converter] = {
    **dict.fromkeys(("person_created", "person_updated"), _person),
    **dict.fromkeys(("account_created", "account_updated"), _account),
    **dict.fromkeys(("call_created", "call_updated"), _call),
    **dict.fromkeys(("call_data_record_created", "call_data_record_updated"), _call_data_record),
    **dict.fromkeys(("email_updated", "email_with_body_and_subject_updated"), _email),
    **dict.fromkeys(("meeting_booked", "meeting_updated"), _meeting),
    **dict.fromkeys(("note_created", "note_updated"), _note),
    **dict.fromkeys(("task_created", "task_updated", "task_completed"), _task),
    **dict.fromkeys(("user_created", "user_updated"), _user),
}
KNOWN_EVENTS = tuple(sorted({*_CONVERTERS, *IGNORED_EVENTS}))
