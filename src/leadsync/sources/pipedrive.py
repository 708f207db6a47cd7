"""Pipedrive: webhooks v2 and v1 (Pipedrive still sends both), one event per request.

Payloads
--------
Webhooks **v2** (``meta.version`` ``"2.0"``)::

    {"meta": {"action": "change", "entity": "person", "entity_id": "42",
              "id": "<event uuid>", "user_id": 7, "timestamp": "2026-11-01T09:00:00.000Z",
              "version": "2.0", "change_source": "app"},
     "data": {...the entity...},
     "previous": {...the changed fields' old values...} | null}

``meta.timestamp`` is an ISO 8601 string or a unix time (seconds or milliseconds; a number or
a string of digits): both are read (:func:`~leadsync.sources.pipedrive_payload.pipedrive_time`).

Webhooks **v1** (no ``meta.version``; ``meta.object`` instead of ``meta.entity``)::

    {"v": 1, "event": "updated.person", "retry": 0,
     "meta": {"v": 1, "action": "updated", "object": "person", "id": 42, "user_id": 7,
              "company_id": 5001, "timestamp": 1793523600,
              "timestamp_micro": 1793523600123456, ...},
     "current": {...the object as the API renders it...},
     "previous": {...the whole object before the change...} | null,
     "matches_filters": {...}}

v1's actions are ``added``, ``updated``, ``deleted`` (read as v2's ``create``, ``change``,
``delete``) and ``merged``: the kept object (``current``, ``meta.id``) as a record event whose
``merged`` names the object merged into it (``current.merge_what_id``, else ``previous.id``:
``previous`` is the merged-away object), its owner sent as unchanged. v2 has no merge
action: it sends a ``delete`` of the merged-away object (``meta.merged_to_id``: nothing, as
any deletion) and a ``change`` of the kept one whose ``meta.merged_from_id`` names the
merged-away object: that change is the kept record's event with ``merged`` naming it (its
owner read as any change's). v1's object is
``meta.object`` (else the
second half of ``event``), ``meta.id`` names the object (there is no event id), the object is
``current`` (read exactly like v2's ``data``; errors name ``current.…``), times are unix
seconds (``timestamp``; ``timestamp_micro`` / ``timestamp_milli`` when present, for
sub-second order; each a number or a string of digits, like every unix time leadsync reads) and ``previous`` holds the whole object, so a field changed when its value
differs from ``current``'s. The version is told by ``meta.version`` / ``meta.entity`` (v2)
and ``meta.object`` / ``current`` / ``event`` / ``v`` (v1).

Authentication is HTTP Basic (the only thing Pipedrive offers): the integration's secret is
``username:password`` and :func:`~leadsync.sources.signatures.verify_basic_auth` checks the
``Authorization`` header.

Dedupe key and times
--------------------
v2: the key is ``meta.id`` (the event's uuid), else ``stable_key("pipedrive", action, entity,
entity_id, timestamp, order=entity_id)``. v1 (no event id): ``stable_key("pipedrive", "v1",
event, action, object, id, timestamp, timestamp_micro or timestamp_milli, order=id)`` (a retry
has the same values; ``retry`` and ``webhook_id`` are left out). A hashed key is kept as
``t:<time>:<object id>:<hash>``. The vendor's event time is ``meta.timestamp`` (v1:
its finer ``timestamp_micro`` / ``timestamp_milli`` first), else the object's
``update_time``: it is what record and owner events carry, so that an older change that
arrives late stays older.

Event names (action x entity)
-----------------------------
``create``/``change`` of

``person``
    A ``contact`` record: ``name``, ``first_name`` -> ``firstname``, ``last_name`` ->
    ``lastname``, the primary (else first) of ``emails`` (or v1's ``email``) -> ``email``; of
    ``phones`` (or v1's ``phone``), the primary (else first) number labelled ``mobile`` ->
    ``mobilephone``, the primary (else first) of the others -> ``phone``, and the numbers
    left, in list order -> ``other_phone_1`` ... ``other_phone_5`` (the first five:
    :data:`~leadsync.model.OTHER_PHONES`; a call from any of them finds the person; never
    pushed), each as given (trimmed); ``org_id`` -> a company association. An entry's
    ``primary`` is a flag in any form (:func:`~leadsync.sources.forms.flag_value`: ``true``,
    ``1``, ``"true"``; anything else is not primary) and its ``label`` only names the entry: a
    label that is not a string is no label, never a refusal of the person. The list is the
    person's whole list (``phone_list_complete``; v1's ``current`` is the whole person, v2's
    ``data.phones`` the whole list, ``[]`` for none): whenever the event has it, every phone
    property is given, null for what it lacks, and a number Pipedrive gave that is no longer
    on it leaves the record; an event without it changes no number.
``organization``
    A ``company`` record: ``name``; ``domain`` from the first of :data:`DOMAIN_FIELDS` that is
    present (?) and looks like a domain (a value that does not is kept as ``website``).
``deal``
    A ``deal`` record: ``title`` -> ``name``, ``value`` -> ``amount``, ``currency``,
    ``expected_close_date`` -> ``closedate`` (that day at midnight UTC), ``probability``,
    both cleared by a change that empties them, ``stage_id`` -> ``stage``, ``status`` -> ``is_closed`` (open: false; won, lost: true) with
    the raw value as ``pipedrive_status``; ``person_id`` -> contact and ``org_id`` -> company
    associations. A v1 deal's owner is ``user_id`` (:data:`V1_OWNER_FIELDS`).
``lead``
    A ``lead`` record: ``title`` -> ``name``; ``person_id`` -> contact and
    ``organization_id`` (or ``org_id``) -> company associations (?).
``note``
    A ``note`` activity (external id: the object's id): ``content`` -> ``body``; owner
    ``user_id`` (the author, with v1's ``user`` object beside it: its email and name;
    ``owner_id`` as a fallback); associations ``person_id``,
    ``org_id``, ``deal_id``, ``lead_id``; it happened at ``add_time``.
``activity``
    An activity (external id: the object's id) whose type comes from ``type`` (see below):
    ``subject`` -> ``title`` (call, meeting) or ``subject`` (email, task, note), ``note`` ->
    ``body``; ``due_date`` + ``due_time`` (UTC) -> when it happened, a task's ``due`` and a
    meeting's ``start`` (``end`` = start + ``duration``); ``done`` -> a task's ``status``
    (``completed`` / ``not_started``); ``done`` is a flag: v2's ``true``/``false``, v1's
    ``1``/``0``, or either as a string (:func:`~leadsync.sources.forms.flag`; another value
    is a dead letter naming it). A call or an email (:data:`PLANNED_IS_DRAFT`) not done is
    planned, not yet a call or an email: a ``draft`` (nothing on a timeline; what it says is
    remembered for the update that marks it done, which creates it). A call carries
    ``duration`` (``HH:MM``) -> ``duration_s`` and its outcome (:data:`CALL_OUTCOME_FIELD`
    (?)) only once it is done: a planned call's duration is not a final value. Owner
    ``owner_id`` (``user_id`` as a fallback: v1's assignee); associations ``person_id``,
    ``org_id``, ``deal_id``, ``lead_id`` and every ``participants[].person_id``. The raw type
    key is kept as ``pipedrive_type``. An activity carries no phone numbers (Pipedrive's call logs, which
    have them, send no webhooks): a call is matched to its person by ``person_id`` only.

``delete`` of any of them gives ``[]``: deletions are not propagated. So does any event of
an entity leadsync keeps nothing of (``IGNORED_ENTITIES``: ``pipeline``, ``stage``,
``product``, ``user``, ``activityType``, a deal's products and installments, projects with
their boards, phases and tasks — a ``*.*`` webhook sends them too). Any other
action or entity is an :class:`~leadsync.errors.EventError` (a dead letter).

A **create** carries the whole object, so it has the field Pipedrive requires of its entity
(:data:`CREATED_HAS`: a deal's and a lead's ``title``, a person's and an organization's
``name``). One without it is not the object ``meta.entity`` names (a connector's sample whose
``meta`` was copied from another trigger: a person's fields under ``entity: deal``): an
EventError naming the field, never a record of the wrong type.

The changed object is named by its own ``id`` (``data.id``, v1's ``current.id``): the record
that gets the object's fields is the object itself, even where ``meta.entity_id`` (v1:
``meta.id``) says otherwise, as in connectors' samples whose ``meta`` holds placeholders. The
``meta`` id names it only when the object has no ``id``; both are type-checked.

References
----------
An id field (``owner_id``, ``org_id``, ``person_id`` …) is an integer or a string, or the
object the v1 API renders (``{"value": id, "name": …}``). Any other shape (an array, an
object without ``value``) is an EventError naming the field and the allowed forms: a new
shape never silently loses an owner or an association.

Owners
------
A record's owner is ``{"id": owner_id}`` (v2 names users by id only; v1's user object adds
the user's ``email``, which teaches the user directory, so that auto-match by email maps the
rep without a directory; text that is not an email is passed over). v1 also names the rep:
the user object's ``name``, else the record's ``owner_name``, is the owner's ``name``. On ``create`` the
owner is always sent. On ``change`` it is a change only when the owner really changed (v2:
``previous`` has ``owner_id``; v1: ``previous.owner_id`` differs from ``current``'s);
otherwise it is sent as ``owner_unchanged``: an unrelated edit must not re-assert an owner
that someone else may have changed since, but a record first seen through an edit (one made
before the webhook was connected) still gets the owner Pipedrive gives it. When the
owner is the only change (nothing else changed but :data:`HOUSEKEEPING_FIELDS` and, in v1,
Pipedrive's own ``*_count`` counters (?)), the event is an ``owner`` event; when the new owner
is missing it gives ``[]``.

Activity types
--------------
The integration's ``vendor:`` options map Pipedrive type keys to canonical activities:
``activity_types`` (overrides :data:`DEFAULT_ACTIVITY_TYPES`) and ``other_activity_types``
(for any other key; default ``task``).

Call outcomes (:data:`CALL_OUTCOMES`; the raw value is kept as ``pipedrive_outcome``)
---------------------------------------------------------------------------------------
==============  ===================
Pipedrive       canonical
==============  ===================
connected       connected
no_answer       no_answer
left_message    left_live_message
left_voicemail  voicemail
wrong_number    wrong_number
busy            busy
==============  ===================

Pipedrive documents these outcomes on call logs; the name of the field on an activity
payload is a guess (?), kept in :data:`CALL_OUTCOME_FIELD`. An unknown value keeps only the
raw property.

Ignored: custom fields, ``meta.change_source``, ``meta.user_id`` (the actor), v1's
``matches_filters``, ``retry`` and ``*_name`` fields. A null or missing field is simply left
out (null would clear a stored value), but for a v1 person's phone numbers (above).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from leadsync.errors import SignatureError
from leadsync.model import OTHER_PHONES, PHONE_PROPERTIES, Event, format_ts, ts_to_datetime
from leadsync.sources import pipedrive_payload as payload
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    compact,
    domain_or_none,
    get_path,
    number,
    obj,
    put,
    refuse,
    rep_name,
    signature_needs_secret,
    stable_key,
    text,
    time_from_iso,
    whole,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.epoch import event_time
from leadsync.sources.forms import flag
from leadsync.sources.options import PipedriveOptions
from leadsync.sources.pipedrive_payload import ACTIONS, ENTITIES, V1_ACTIONS, PipedriveEvent
from leadsync.sources.signatures import verify_basic_auth

__all__ = ["ACTIONS", "ADAPTER", "ENTITIES", "V1_ACTIONS", "PipedriveAdapter"]


DEFAULT_ACTIVITY_TYPES: dict[str, str] = {
    "call": "call",
    "meeting": "meeting",
    "task": "task",
    "deadline": "task",
    "email": "email",
    "lunch": "meeting",
}
DEFAULT_OTHER_ACTIVITY_TYPE = "task"
PLANNED_IS_DRAFT = frozenset({"call", "email"})
"""The activities that do not exist until done: one planned (``done`` false) is a draft."""

CALL_OUTCOME_FIELD = "outcome"  # (?) documented on call logs; assumed on activities
CALL_OUTCOMES: dict[str, str] = {
    "connected": "connected",
    "no_answer": "no_answer",
    "left_message": "left_live_message",
    "left_voicemail": "voicemail",
    "wrong_number": "wrong_number",
    "busy": "busy",
}
DEAL_CLOSED: dict[str, bool] = {"open": False, "won": True, "lost": True}

OWNER_FIELD = "owner_id"
#: Webhooks v1 objects whose owner is another field (a v1 deal's owner is ``user_id``).
V1_OWNER_FIELDS = {"deal": "user_id"}
DOMAIN_FIELDS = ("website", "domain")  # (?) organizations have no standard domain field
LEAD_ORGANIZATION_FIELDS = ("organization_id", "org_id")  # (?) the API calls it organization_id
#: Fields that change along with any change (v1's ``owner_name`` follows ``owner_id``) (?).
HOUSEKEEPING_FIELDS = frozenset({"update_time", "owner_name"})
#: The field a created record of each entity always has (Pipedrive requires it).
CREATED_HAS = {"deal": "title", "lead": "title", "person": "name", "organization": "name"}

# How a canonical activity names the activity's subject.
SUBJECT_KEY = {"call": "title", "meeting": "title", "email": "subject", "task": "subject"}


class PipedriveAdapter(Adapter):
    """Pipedrive webhooks v2 and v1 (see the module docstring)."""

    kind = "pipedrive"
    vendor_name = "Pipedrive"
    signature_scheme = "Authorization: Basic base64(user:password), equal to the secret"
    options_model = PipedriveOptions
    #: A person's ``phones`` (v1 ``phone``) is the person's whole list, on a change of any
    #: field: v1's ``current`` is the whole person as the API renders it (``[{"value": ""}]``
    #: when there is no number), and v2's ``data`` carries ``phones`` whole too (``[]`` when
    #: there is none: Pipedrive's own v2 examples), so a number no longer on it is taken back
    #: (:func:`_person`).
    phone_list_complete = True
    options: PipedriveOptions

    # ---------------------------------------------------------- on receipt

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        configured = signature_needs_secret(self.kind, secret)
        username, sep, password = configured.partition(":")
        if not sep:
            raise SignatureError(
                "the configured secret of this pipedrive integration must be"
                " username:password (the webhook's HTTP Basic credentials)"
            )
        verify_basic_auth(username, password, request.headers)

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        meta = obj(item, "meta", required=True)
        assert meta is not None
        if payload.is_v1(item, meta):
            return stable_key(
                "pipedrive",
                "v1",
                item.get("event"),
                meta.get("action"),
                meta.get("object"),
                meta.get("id"),
                meta.get("timestamp"),
                meta.get("timestamp_micro") or meta.get("timestamp_milli"),
                order=meta.get("id"),
            )
        event_id = text(item, "meta.id")
        if event_id is not None:
            return event_id
        return stable_key(
            "pipedrive",
            meta.get("action"),
            meta.get("entity"),
            meta.get("entity_id"),
            meta.get("timestamp"),
            order=meta.get("entity_id"),
            body=item,
        )

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        meta = obj(item, "meta", required=True)
        assert meta is not None
        # Each read as when the change happened: before 1973 is a time in another unit.
        stamp = "meta.timestamp"
        if payload.is_v1(item, meta):
            micro, milli = "meta.timestamp_micro", "meta.timestamp_milli"
            return (
                event_time(payload.epoch_in(item, micro, 1_000_000), micro)
                or event_time(payload.epoch_in(item, milli, 1_000), milli)
                or event_time(payload.pipedrive_time(get_path(item, stamp), stamp), stamp)
                or event_time(payload.update_time(item, "current"), "current.update_time")
            )
        return event_time(
            payload.pipedrive_time(get_path(item, stamp), stamp), stamp
        ) or event_time(payload.update_time(item, "data"), "data.update_time")

    # ------------------------------------------------------------ in a worker

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        ev = payload.read_event(item)
        if ev.action in (None, "delete"):
            return []
        when = self.occurred_at(item, headers)
        if when is None:
            refuse("meta.timestamp", "required (the time of the change)")
        id_path = "meta.entity_id" if ev.version == 2 else "meta.id"
        meta_id = text(item, id_path)  # type-checked even when the object names itself
        external_id = text(item, ev.path("id")) or meta_id
        if external_id is None:
            refuse(id_path, f"required when {ev.path('id')} is missing (the changed object's id)")
        obj(item, ev.root, required=True)
        required = CREATED_HAS.get(ev.entity) if ev.action == "create" else None
        if required is not None and get_path(item, ev.path(required)) is None:
            refuse(
                ev.path(required),
                f"required on a create of a {ev.entity} (Pipedrive sends the whole {ev.entity}, "
                f"which always has a {required}): this object is not the {ev.entity} "
                f"meta.entity names",
            )
        if ev.action == "merge" and ev.entity in ("note", "activity"):
            return []  # Pipedrive merges people, organizations and deals
        if ev.entity == "note":
            dicts = [_note(ev, event_id, external_id, when)]
        elif ev.entity == "activity":
            dicts = [self._activity(ev, event_id, external_id, when)]
        else:
            dicts = _record_events(ev, event_id, external_id, when)
        return [parse_event(d, self.integration, seq) for d in dicts]

    def _activity(
        self, ev: PipedriveEvent, event_id: str, external_id: str, when: str
    ) -> dict[str, Any]:
        item = ev.item
        type_key = text(item, ev.path("type")) or refuse(
            ev.path("type"),
            f"required: the activity's type key ({', '.join(DEFAULT_ACTIVITY_TYPES)}, or any "
            "the company made: vendor.activity_types maps it)",
        )
        activity = self._activity_type(type_key)
        properties: dict[str, Any] = {"pipedrive_type": type_key}
        put(properties, SUBJECT_KEY.get(activity, "subject"), text(item, ev.path("subject")))
        put(properties, "body", text(item, ev.path("note")))
        due, moment = payload.due(ev)
        done = flag(item, ev.path("done"))
        if activity == "task":
            put(properties, "due", due)
            if done is not None:
                properties["status"] = "completed" if done else "not_started"
        elif activity == "meeting" and due is not None and due == moment:  # a time, not a day
            properties["start"] = moment
            seconds = payload.duration_seconds(item, ev.path("duration"))
            if seconds:
                properties["end"] = format_ts(ts_to_datetime(moment) + timedelta(seconds=seconds))
        elif activity == "call" and done:
            put(
                properties, "duration_s", whole(payload.duration_seconds(item, ev.path("duration")))
            )
            raw = text(item, ev.path(CALL_OUTCOME_FIELD))
            if raw is not None:
                properties["pipedrive_outcome"] = raw
                put(properties, "outcome", CALL_OUTCOMES.get(raw.lower()))
        refs = payload.refs(
            ev, ("contact", "person_id"), ("company", "org_id"), ("deal", "deal_id")
        )
        refs += payload.refs(ev, ("lead", "lead_id")) + payload.participants(ev)
        return compact(
            {
                "id": event_id,
                "occurred_at": moment or when,
                "type": "activity",
                "activity": activity,
                "external_id": external_id,
                "owner": payload.user(ev, OWNER_FIELD) or payload.user(ev, "user_id"),
                "properties": properties,
                "associations": payload.unique(refs),
                # Planned, not done: no call or email happened yet (a timeline would show one
                # at its due time); remembered for the update that marks it done.
                "draft": True if activity in PLANNED_IS_DRAFT and done is False else None,
            }
        )

    def _activity_type(self, type_key: str) -> str:
        """The canonical activity of a Pipedrive type key (the options first)."""
        mapped = self.options.activity_types.get(type_key)
        if mapped is not None:
            return mapped.value
        if type_key in DEFAULT_ACTIVITY_TYPES:
            return DEFAULT_ACTIVITY_TYPES[type_key]
        other = self.options.other_activity_types
        return other.value if other is not None else DEFAULT_OTHER_ACTIVITY_TYPE


ADAPTER = PipedriveAdapter


# ------------------------------------------------------------------ records


def _record_events(
    ev: PipedriveEvent, event_id: str, external_id: str, when: str
) -> list[dict[str, Any]]:
    """The record event of a person, organization, deal or lead, with the owner rule."""
    record_type, properties, refs = _RECORDS[ev.entity](ev)
    owner_field = V1_OWNER_FIELDS.get(ev.entity, OWNER_FIELD) if ev.version == 1 else OWNER_FIELD
    owner = payload.user(ev, owner_field)
    if owner is not None and "name" not in owner and ev.version == 1:
        # v1 renders the owner's name beside a plain id (``owner_name`` follows the owner).
        name = rep_name(get_path(ev.item, ev.path("owner_name")))
        if name is not None:
            owner["name"] = name
    named: dict[str, Any] = {
        "id": event_id,
        "occurred_at": when,
        "object": record_type,
        "external_id": external_id,
    }
    unchanged = None
    if ev.action == "merge":
        # The kept object as the merge left it, naming the one merged into it; the owner is
        # the kept one's, no change (``previous`` is the other object, not this one before).
        unchanged = True if owner is not None else None
        gone = payload.merged_away(ev, external_id)
        if gone is not None:
            named["merged"] = [gone]
    elif ev.action == "change":
        # v2 sends a merge as a change of the kept object naming the one merged into it.
        gone = payload.merged_away(ev, external_id) if ev.version == 2 else None
        if gone is not None:
            named["merged"] = [gone]
        changed = payload.changed_fields(ev)
        if changed is None or owner_field not in changed:
            unchanged = True if owner is not None else None  # for a record first seen now
        elif gone is None and not {
            f
            for f in changed - HOUSEKEEPING_FIELDS - {owner_field}
            if not payload.is_counter(ev, f)
        }:
            return [{**named, "type": "owner", "owner": owner}] if owner is not None else []
    parts = {
        "owner": owner,
        "owner_unchanged": unchanged,
        "properties": properties,
        "associations": refs,
    }
    return [compact({**named, "type": "record", **parts})]


Mapped = tuple[str, dict[str, Any], list[dict[str, str]]]


def _person(ev: PipedriveEvent) -> Mapped:
    item, p = ev.item, ev.path
    properties: dict[str, Any] = {}
    put(properties, "name", text(item, p("name")))
    put(properties, "firstname", text(item, p("first_name")))
    put(properties, "lastname", text(item, p("last_name")))
    put(
        properties,
        "email",
        payload.primary_email(item, p("emails")) or payload.primary_email(item, p("email")),
    )
    phone, mobile, others = payload.phones(item, p("phones"))
    if phone is None and mobile is None:
        phone, mobile, others = payload.phones(item, p("phone"))  # v1's name
    if any(get_path(item, p(name)) is not None for name in ("phones", "phone")):
        # The list is every number the person has (v1's whole person, v2's ``phones``): null
        # where it has no such number, and a number it no longer has is taken back.
        properties.update(dict.fromkeys(PHONE_PROPERTIES))
        properties["phone"], properties["mobilephone"] = phone, mobile
    else:
        put(properties, "phone", phone)
        put(properties, "mobilephone", mobile)
    properties.update(zip(OTHER_PHONES, others, strict=False))  # the first five numbers left
    return "contact", properties, payload.refs(ev, ("company", "org_id"))


def _organization(ev: PipedriveEvent) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", text(ev.item, ev.path("name")))
    for field in DOMAIN_FIELDS:
        website = text(ev.item, ev.path(field))
        if website is not None:
            properties["domain" if (domain_or_none(website) is not None) else "website"] = website
            break
    return "company", properties, []


def _deal(ev: PipedriveEvent) -> Mapped:
    item, p = ev.item, ev.path
    properties: dict[str, Any] = {}
    put(properties, "name", text(item, p("title")))
    put(properties, "amount", whole(number(item, p("value"))))
    put(properties, "currency", text(item, p("currency")))
    put(properties, "stage", text(item, p("stage_id")))
    close = p("expected_close_date")
    _kept_or_cleared(
        ev, properties, "closedate", "expected_close_date", time_from_iso(text(item, close), close)
    )
    probability = number(item, p("probability"))
    _kept_or_cleared(
        ev,
        properties,
        "probability",
        "probability",
        whole(probability) if probability is not None else None,
    )
    status = text(item, p("status"))
    if status is not None:
        properties["pipedrive_status"] = status
        put(properties, "is_closed", DEAL_CLOSED.get(status.lower()))
    return "deal", properties, payload.refs(ev, ("contact", "person_id"), ("company", "org_id"))


def _kept_or_cleared(
    ev: PipedriveEvent, properties: dict[str, Any], key: str, field: str, value: Any
) -> None:
    """A value the deal may lose in Pipedrive (its expected close date, its probability):
    kept when given; null — cleared — only when a change names the field as changed (an
    absent or null field of another event says nothing)."""
    if value is not None:
        properties[key] = value
    elif ev.action == "change" and field in (payload.changed_fields(ev) or ()):
        properties[key] = None


def _lead(ev: PipedriveEvent) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", text(ev.item, ev.path("title")))
    refs = payload.refs(ev, ("contact", "person_id"))
    for field in LEAD_ORGANIZATION_FIELDS:
        company = payload.refs(ev, ("company", field))
        if company:
            refs += company
            break
    return "lead", properties, refs


_RECORDS = {
    "person": _person,
    "organization": _organization,
    "deal": _deal,
    "lead": _lead,
}


# ------------------------------------------------------------------ notes


def _note(ev: PipedriveEvent, event_id: str, external_id: str, when: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    put(properties, "body", text(ev.item, ev.path("content")))
    refs = payload.refs(ev, ("contact", "person_id"), ("company", "org_id"), ("deal", "deal_id"))
    refs += payload.refs(ev, ("lead", "lead_id"))
    added = ev.path("add_time")
    author = payload.user(ev, "user_id")
    by = get_path(ev.item, ev.path("user"))
    if author is not None and ev.version == 1 and isinstance(by, dict):
        # v1 renders the author beside the plain ``user_id``: ``user`` ({email, name, …})
        payload.described(author, by)
    return compact(
        {
            "id": event_id,
            "occurred_at": time_from_iso(get_path(ev.item, added), added) or when,
            "type": "activity",
            "activity": "note",
            "external_id": external_id,
            "owner": author or payload.user(ev, OWNER_FIELD),
            "properties": properties,
            "associations": refs,
        }
    )
