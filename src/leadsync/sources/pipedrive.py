"""Pipedrive: webhooks v2, one event per request.

Payload
-------
::

    {"meta": {"action": "change", "entity": "person", "entity_id": "42",
              "id": "<event uuid>", "user_id": 7, "timestamp": "2026-11-01T09:00:00.000Z",
              "version": "2.0", "change_source": "app"},
     "data": {...the entity...},
     "previous": {...the changed fields' old values...} | null}

Authentication is HTTP Basic (the only thing Pipedrive offers): the integration's secret is
``username:password`` and :func:`~leadsync.sources.signatures.verify_basic_auth` checks the
``Authorization`` header.

Dedupe key and times
--------------------
The key is ``meta.id`` (the event's uuid), else ``stable_key("pipedrive", action, entity,
entity_id, timestamp)``. The vendor's event time is ``meta.timestamp`` (when the change was
made; ``data.update_time`` only when ``meta.timestamp`` is missing): it is what record and
owner events carry, so that an older change that arrives late stays older.

Event names (``meta.action`` x ``meta.entity``)
-----------------------------------------------
``create``/``change`` of

``person``
    A ``contact`` record: ``name``, ``first_name`` -> ``firstname``, ``last_name`` ->
    ``lastname``, the primary (else first) of ``emails`` (or v1's ``email``) -> ``email``, the
    same of ``phones``/``phone`` -> ``phone``; ``org_id`` -> a company association.
``organization``
    A ``company`` record: ``name``; ``domain`` from the first of :data:`DOMAIN_FIELDS` that is
    present (?) and looks like a domain (a value that does not is kept as ``website``).
``deal``
    A ``deal`` record: ``title`` -> ``name``, ``value`` -> ``amount``, ``currency``,
    ``stage_id`` -> ``stage``, ``status`` -> ``is_closed`` (open: false; won, lost: true) with
    the raw value as ``pipedrive_status``; ``person_id`` -> contact and ``org_id`` -> company
    associations.
``lead``
    A ``lead`` record: ``title`` -> ``name``; ``person_id`` -> contact and
    ``organization_id`` (or ``org_id``) -> company associations (?).
``note``
    A ``note`` activity (external id ``meta.entity_id``): ``content`` -> ``body``; owner
    ``user_id`` (the author; ``owner_id`` as a fallback); associations ``person_id``,
    ``org_id``, ``deal_id``, ``lead_id``; it happened at ``add_time``.
``activity``
    An activity (external id ``meta.entity_id``) whose type comes from ``type`` (see below):
    ``subject`` -> ``title`` (call, meeting) or ``subject`` (email, task, note), ``note`` ->
    ``body``; ``due_date`` + ``due_time`` (UTC) -> when it happened, a task's ``due`` and a
    meeting's ``start`` (``end`` = start + ``duration``); ``done`` -> a task's ``status``
    (``completed`` / ``not_started``). A call carries ``duration`` (``HH:MM``) ->
    ``duration_s`` and its outcome (:data:`CALL_OUTCOME_FIELD` (?)) only once it is done: a
    planned call's duration is not a final value. Owner ``owner_id`` (``user_id`` as a
    fallback); associations ``person_id``, ``org_id``, ``deal_id``, ``lead_id`` and every
    ``participants[].person_id``. The raw type key is kept as ``pipedrive_type``.

``delete`` of any of them gives ``[]``: deletions are not propagated. Any other action or
entity is an :class:`~leadsync.errors.EventError` (a dead letter).

Owners
------
A record's owner is ``{"id": owner_id}`` (Pipedrive names users by id only). On ``create`` the
owner is always sent. On ``change`` it is sent only when ``previous`` has ``owner_id`` (the
owner really changed): an unrelated edit must not re-assert an owner that someone else may
have changed since. When the owner is the only change (``previous`` holds nothing but
``owner_id`` and :data:`HOUSEKEEPING_FIELDS`), the event is an ``owner`` event; when the new
owner is missing it gives ``[]``.

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

Ignored: custom fields, ``meta.change_source``, ``meta.user_id`` (the actor), v1 payloads.
A null or missing field is simply left out (null would clear a stored value).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from leadsync.errors import SignatureError
from leadsync.model import Event, format_ts, ts_to_datetime
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    compact,
    describe,
    domain_or_none,
    event_name_error,
    get_path,
    number,
    obj,
    put,
    refuse,
    signature_needs_secret,
    stable_key,
    text,
    time_from_iso,
    whole,
)
from leadsync.sources.generic import parse_event
from leadsync.sources.signatures import verify_basic_auth

__all__ = ["ADAPTER", "PipedriveAdapter"]

ACTIONS = ("create", "change", "delete")
ENTITIES = ("person", "organization", "deal", "lead", "note", "activity")

DEFAULT_ACTIVITY_TYPES: dict[str, str] = {
    "call": "call",
    "meeting": "meeting",
    "task": "task",
    "deadline": "task",
    "email": "email",
    "lunch": "meeting",
}
DEFAULT_OTHER_ACTIVITY_TYPE = "task"

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
DOMAIN_FIELDS = ("website", "domain")  # (?) organizations have no standard domain field
LEAD_ORGANIZATION_FIELDS = ("organization_id", "org_id")  # (?) the API calls it organization_id
HOUSEKEEPING_FIELDS = frozenset({"update_time"})  # (?) may come along with any change

# How a canonical activity names the activity's subject.
SUBJECT_KEY = {"call": "title", "meeting": "title", "email": "subject", "task": "subject"}

_CLOCK = re.compile(r"(\d{1,3}):([0-5]\d)(?::([0-5]\d))?", re.ASCII)
_TIME_OF_DAY = re.compile(r"\d{2}:\d{2}(:\d{2})?", re.ASCII)


class PipedriveAdapter(Adapter):
    """Pipedrive webhooks v2 (see the module docstring)."""

    kind = "pipedrive"

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
        event_id = text(item, "meta.id")
        if event_id is not None:
            return event_id
        return stable_key(
            "pipedrive",
            meta.get("action"),
            meta.get("entity"),
            meta.get("entity_id"),
            meta.get("timestamp"),
        )

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        return time_from_iso(get_path(item, "meta.timestamp"), "meta.timestamp") or (
            time_from_iso(get_path(item, "data.update_time"), "data.update_time")
        )

    # ------------------------------------------------------------ in a worker

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        action = text(item, "meta.action", required=True)
        entity = text(item, "meta.entity", required=True)
        if action not in ACTIONS:
            event_name_error("meta.action", action, ACTIONS)
        if entity not in ENTITIES:
            event_name_error("meta.entity", entity, ENTITIES)
        if action == "delete":
            return []
        when = self.occurred_at(item, headers)
        if when is None:
            refuse("meta.timestamp", "required (the time of the change)")
        external_id = text(item, "meta.entity_id") or text(item, "data.id")
        if external_id is None:
            refuse("meta.entity_id", "required (the id of the changed object)")
        obj(item, "data", required=True)
        if entity == "note":
            dicts = [_note(item, event_id, external_id, when)]
        elif entity == "activity":
            dicts = [self._activity(item, event_id, external_id, when)]
        else:
            dicts = _record_events(item, entity, action, event_id, external_id, when)
        return [parse_event(d, self.integration, seq) for d in dicts]

    def _activity(self, item: Any, event_id: str, external_id: str, when: str) -> dict[str, Any]:
        type_key = text(item, "data.type", required=True)
        assert type_key is not None
        activity = self._activity_type(type_key)
        properties: dict[str, Any] = {"pipedrive_type": type_key}
        put(properties, SUBJECT_KEY.get(activity, "subject"), text(item, "data.subject"))
        put(properties, "body", text(item, "data.note"))
        due, moment = _due(item)
        done = _flag(item, "data.done")
        if activity == "task":
            put(properties, "due", due)
            if done is not None:
                properties["status"] = "completed" if done else "not_started"
        elif activity == "meeting" and due is not None and due == moment:  # a time, not a day
            properties["start"] = moment
            seconds = _seconds(item, "data.duration")
            if seconds:
                properties["end"] = format_ts(ts_to_datetime(moment) + timedelta(seconds=seconds))
        elif activity == "call" and done:
            put(properties, "duration_s", whole(_seconds(item, "data.duration")))
            raw = text(item, f"data.{CALL_OUTCOME_FIELD}")
            if raw is not None:
                properties["pipedrive_outcome"] = raw
                put(properties, "outcome", CALL_OUTCOMES.get(raw.lower()))
        refs = _refs(item, ("contact", "person_id"), ("company", "org_id"), ("deal", "deal_id"))
        refs += _refs(item, ("lead", "lead_id")) + _participants(item)
        return compact(
            {
                "id": event_id,
                "occurred_at": moment or when,
                "type": "activity",
                "activity": activity,
                "external_id": external_id,
                "owner": _user(item, "data.owner_id") or _user(item, "data.user_id"),
                "properties": properties,
                "associations": _unique(refs),
            }
        )

    def _activity_type(self, type_key: str) -> str:
        """The canonical activity of a Pipedrive type key (the options first)."""
        mapped = self.options.get("activity_types") or {}
        if isinstance(mapped, Mapping) and isinstance(mapped.get(type_key), str):
            return str(mapped[type_key])
        if type_key in DEFAULT_ACTIVITY_TYPES:
            return DEFAULT_ACTIVITY_TYPES[type_key]
        other = self.options.get("other_activity_types")
        return other if isinstance(other, str) and other else DEFAULT_OTHER_ACTIVITY_TYPE


ADAPTER = PipedriveAdapter


# ------------------------------------------------------------------ records


def _record_events(
    item: Any, entity: str, action: str, event_id: str, external_id: str, when: str
) -> list[dict[str, Any]]:
    """The record event of a person, organization, deal or lead, with the owner rule."""
    record_type, properties, refs = _RECORDS[entity](item)
    owner = _user(item, f"data.{OWNER_FIELD}")
    named = {"id": event_id, "occurred_at": when, "object": record_type, "external_id": external_id}
    if action == "change":
        previous = obj(item, "previous") or {}
        if OWNER_FIELD not in previous:
            owner = None
        elif not set(previous) - HOUSEKEEPING_FIELDS - {OWNER_FIELD}:  # only the owner changed
            return [{**named, "type": "owner", "owner": owner}] if owner is not None else []
    parts = {"owner": owner, "properties": properties, "associations": refs}
    return [compact({**named, "type": "record", **parts})]


Mapped = tuple[str, dict[str, Any], list[dict[str, str]]]


def _person(item: Any) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", text(item, "data.name"))
    put(properties, "firstname", text(item, "data.first_name"))
    put(properties, "lastname", text(item, "data.last_name"))
    put(properties, "email", _primary(item, "data.emails") or _primary(item, "data.email"))
    put(properties, "phone", _primary(item, "data.phones") or _primary(item, "data.phone"))
    return "contact", properties, _refs(item, ("company", "org_id"))


def _organization(item: Any) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", text(item, "data.name"))
    for field in DOMAIN_FIELDS:
        website = text(item, f"data.{field}")
        if website is not None:
            properties["domain" if (domain_or_none(website) is not None) else "website"] = website
            break
    return "company", properties, []


def _deal(item: Any) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", text(item, "data.title"))
    put(properties, "amount", whole(number(item, "data.value")))
    put(properties, "currency", text(item, "data.currency"))
    put(properties, "stage", text(item, "data.stage_id"))
    status = text(item, "data.status")
    if status is not None:
        properties["pipedrive_status"] = status
        put(properties, "is_closed", DEAL_CLOSED.get(status.lower()))
    return "deal", properties, _refs(item, ("contact", "person_id"), ("company", "org_id"))


def _lead(item: Any) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", text(item, "data.title"))
    refs = _refs(item, ("contact", "person_id"))
    for field in LEAD_ORGANIZATION_FIELDS:
        company = _refs(item, ("company", field))
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


def _note(item: Any, event_id: str, external_id: str, when: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    put(properties, "body", text(item, "data.content"))
    refs = _refs(item, ("contact", "person_id"), ("company", "org_id"), ("deal", "deal_id"))
    refs += _refs(item, ("lead", "lead_id"))
    return compact(
        {
            "id": event_id,
            "occurred_at": time_from_iso(get_path(item, "data.add_time"), "data.add_time") or when,
            "type": "activity",
            "activity": "note",
            "external_id": external_id,
            "owner": _user(item, "data.user_id") or _user(item, "data.owner_id"),
            "properties": properties,
            "associations": refs,
        }
    )


# ------------------------------------------------------------------ parts


def _id_value(value: Any, path: str) -> str | None:
    """A Pipedrive id: an integer or a string, or v1's ``{"value": id, ...}`` object."""
    if isinstance(value, dict):
        value = value.get("value")
        path += ".value"
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse(path, f"must be an id (an integer or a string), got {describe(value)}")
    return str(value).strip() or None


def _user(item: Any, path: str) -> dict[str, str] | None:
    user_id = _id_value(get_path(item, path), path)
    return {"id": user_id} if user_id is not None else None


def _refs(item: Any, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    """Associations ``(object, field of data)`` for the fields that name a record."""
    out = []
    for record_type, field in pairs:
        path = f"data.{field}"
        external_id = _id_value(get_path(item, path), path)
        if external_id is not None:
            out.append({"object": record_type, "external_id": external_id})
    return out


def _participants(item: Any) -> list[dict[str, str]]:
    """The contacts of ``data.participants[].person_id``."""
    participants = get_path(item, "data.participants")
    if participants is None:
        return []
    if not isinstance(participants, list):
        refuse("data.participants", f"must be an array, got {describe(participants)}")
    out = []
    for index, entry in enumerate(participants):
        path = f"data.participants[{index}]"
        if not isinstance(entry, dict):
            refuse(path, f"must be an object {{person_id, primary}}, got {describe(entry)}")
        external_id = _id_value(entry.get("person_id"), f"{path}.person_id")
        if external_id is not None:
            out.append({"object": "contact", "external_id": external_id})
    return out


def _unique(refs: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for ref in refs:
        key = (ref["object"], ref["external_id"])
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


def _primary(item: Any, path: str) -> str | None:
    """The primary value of a ``[{value, primary, label}]`` list, else the first one."""
    entries = get_path(item, path)
    if entries is None:
        return None
    if not isinstance(entries, list):
        refuse(path, f"must be an array of {{value, primary, label}}, got {describe(entries)}")
    values: list[tuple[bool, str]] = []
    for index, entry in enumerate(entries):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            refuse(where, f"must be an object {{value, primary, label}}, got {describe(entry)}")
        value = entry.get("value")
        if value is not None and not isinstance(value, str):
            refuse(f"{where}.value", f"must be a string, got {describe(value)}")
        if value and value.strip():
            values.append((entry.get("primary") is True, value.strip()))
    for is_primary, value in values:
        if is_primary:
            return value
    return values[0][1] if values else None


def _flag(item: Any, path: str) -> bool | None:
    """True or false (v1 sends 1 and 0)."""
    value = get_path(item, path)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    refuse(path, f"must be true or false, got {describe(value)}")


def _seconds(item: Any, path: str) -> int | None:
    """A duration ``HH:MM`` (or ``HH:MM:SS``) in seconds."""
    value = text(item, path)
    if value is None:
        return None
    match = _CLOCK.fullmatch(value)
    if match is None:
        refuse(path, f"must be a duration HH:MM, got {value[:40]!r}")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


def _due(item: Any) -> tuple[str | None, str | None]:
    """``(due, moment)`` of an activity: ``due`` is the time, or the date alone when there is
    no ``due_time``; ``moment`` is a time either way (midnight UTC for a date)."""
    day = text(item, "data.due_date")
    moment = time_from_iso(day, "data.due_date")
    if day is None or moment is None:
        return None, None
    clock = text(item, "data.due_time")
    if clock is None:
        return day, moment
    if _TIME_OF_DAY.fullmatch(clock) is None:
        refuse("data.due_time", f"must be a time HH:MM (UTC), got {clock[:40]!r}")
    moment = time_from_iso(f"{day}T{clock}Z", "data.due_time")
    return moment, moment
