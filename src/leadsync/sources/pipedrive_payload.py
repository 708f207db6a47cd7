"""Reading a Pipedrive webhook whichever version sent it: v1 or v2 (see
:mod:`leadsync.sources.pipedrive`, whose docstring describes both payloads).

:func:`read_event` tells the version, action and entity of a stored body and gives a
:class:`PipedriveEvent` that says where the object is (v2's ``data``, v1's ``current``); the
readers below take it, so the mapping in ``pipedrive.py`` is written once for both versions.
Times, id references (an integer, a string or v1's ``{"value": id}``), ``[{value, primary}]``
lists and the fields a change changed are read here, each one way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadsync.errors import EventError
from leadsync.sources.base import (
    describe,
    email_or_none,
    event_name_error,
    get_path,
    obj,
    refuse,
    rep_name,
    text,
    time_from_epoch,
    time_from_iso,
)
from leadsync.sources.forms import epoch_number, flag_value, lenient_string, phone_value, shown

__all__ = [
    "ACTIONS",
    "ENTITIES",
    "ID_FORMS",
    "TIME_FORMS",
    "V1_ACTIONS",
    "PipedriveEvent",
    "changed_fields",
    "described",
    "due",
    "duration_seconds",
    "epoch_in",
    "id_value",
    "is_counter",
    "is_v1",
    "merged_away",
    "participants",
    "phones",
    "pipedrive_time",
    "primary",
    "primary_email",
    "read_event",
    "refs",
    "unique",
    "update_time",
    "user",
]

ACTIONS = ("create", "change", "delete")
ENTITIES = ("person", "organization", "deal", "lead", "note", "activity")
#: Entities Pipedrive sends (a ``*.*`` webhook sends them all) that leadsync keeps nothing of:
#: their events give nothing, as a deletion does (a dead letter each would be one nobody can
#: fix, and the dead-letter alert would fire for every product or pipeline edited). Projects
#: with their boards, phases and tasks (a project's task is no activity), a deal's products
#: and installments: v2's guide lists them among its entities.
IGNORED_ENTITIES = (
    "pipeline",
    "stage",
    "product",
    "user",
    "activityType",
    "activity_type",
    "deal_product",
    "deal_installment",
    "project",
    "board",
    "phase",
    "task",
)
#: Webhooks v1 action -> the action it is read as: v2's, and ``merge`` (v2 has none: it
#: sends a delete of the merged-away object and a change of the kept one, naming neither).
V1_ACTIONS: dict[str, str] = {
    "added": "create",
    "updated": "change",
    "deleted": "delete",
    "merged": "merge",
}
#: The forms of a time Pipedrive sends (``meta.timestamp``).
TIME_FORMS = "an ISO 8601 time or a unix time in seconds or milliseconds"
#: The forms of an id field (``owner_id``, ``org_id`` …).
ID_FORMS = 'an id (an integer or a string) or {"value": id, ...}'
#: The ``label`` of a mobile number in a person's phone list (Pipedrive's labels are work,
#: home, mobile and other).
MOBILE_LABEL = "mobile"
_CLOCK = re.compile(r"(\d{1,3}):([0-5]\d)(?::([0-5]\d))?", re.ASCII)
_TIME_OF_DAY = re.compile(r"\d{2}:\d{2}(:\d{2})?", re.ASCII)
_DIGITS = re.compile(r"\d+(\.\d+)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class PipedriveEvent:
    """One stored Pipedrive event as the converters read it, whichever version sent it."""

    item: Any
    version: int  # 1 or 2
    action: str | None  # create | change | delete | merge (v1); None: an entity ignored
    entity: str
    root: str  # where the object is: "data" (v2) or "current" (v1)

    def path(self, field: str) -> str:
        return f"{self.root}.{field}"


# ------------------------------------------------------------------ versions


def is_v1(item: Any, meta: Mapping[str, Any]) -> bool:
    """Whether a body is a webhooks v1 one (see the module docstring)."""
    version = meta.get("version")
    if (isinstance(version, str) and version.strip().startswith("2")) or "entity" in meta:
        return False
    return (
        "object" in meta
        or "current" in item
        or isinstance(item.get("event"), str)
        or 1 in (meta.get("v"), item.get("v"))
    )


def read_event(item: Any) -> PipedriveEvent:
    """The version, action and entity of one event; EventError for unknown names."""
    meta = obj(item, "meta", required=True)
    assert meta is not None
    if not is_v1(item, meta):
        action = text(item, "meta.action", required=True)
        entity = text(item, "meta.entity", required=True)
        if action not in ACTIONS:
            event_name_error("meta.action", action, ACTIONS)
        if entity in IGNORED_ENTITIES:
            return PipedriveEvent(item, 2, None, entity, "data")  # gives nothing
        if entity not in ENTITIES:
            event_name_error("meta.entity", entity, ENTITIES)
        assert entity is not None
        return PipedriveEvent(item, 2, action, entity, "data")
    # v1: meta.action / meta.object, else the two halves of "event" ("added.person").
    named = text(item, "event")
    first, _, second = (named or "").partition(".")
    v1_action, action_path = text(item, "meta.action") or first, "meta.action"
    v1_entity, entity_path = text(item, "meta.object") or second, "meta.object"
    if get_path(item, "meta.action") is None and named is not None:
        action_path = "event"
    if get_path(item, "meta.object") is None and named is not None:
        entity_path = "event"
    if not v1_action:
        refuse("meta.action", 'required (v1: "added", "updated", "deleted" or "merged")')
    if v1_action not in V1_ACTIONS:
        event_name_error(action_path, v1_action, tuple(V1_ACTIONS))
    if not v1_entity:
        refuse("meta.object", "required (v1: the object, e.g. person)")
    if v1_entity in IGNORED_ENTITIES:
        return PipedriveEvent(item, 1, None, v1_entity, "current")  # gives nothing
    if v1_entity not in ENTITIES:
        event_name_error(entity_path, v1_entity, ENTITIES)
    return PipedriveEvent(item, 1, V1_ACTIONS[v1_action], v1_entity, "current")


def changed_fields(ev: PipedriveEvent) -> set[str] | None:
    """The fields a change changed, or None when the event does not say (no ``previous``).

    v2's ``previous`` holds only the changed fields; v1's holds the whole object before the
    change, so a field changed when its value differs from ``current``'s (an id compared by
    its value, whatever its form)."""
    previous = obj(ev.item, "previous")
    if previous is None:
        return None
    if ev.version == 2:
        return set(previous)
    current = obj(ev.item, ev.root) or {}
    return {
        field
        for field, old in previous.items()
        if _comparable(old) != _comparable(current.get(field))
    }


def merged_away(ev: PipedriveEvent, kept: str) -> str | None:
    """The id a merge's kept object absorbed; None when the event names no other object.

    v1's ``merged`` event: ``current.merge_what_id`` (what Pipedrive's merge answers with),
    else the id of ``previous`` (the object merged away). v2: ``meta.merged_from_id``, which
    Pipedrive's guide says is "only present for change events that were done as part of a
    merge action" (the delete of the object merged away carries ``merged_to_id``)."""
    paths = (
        ("meta.merged_from_id",) if ev.version == 2 else (ev.path("merge_what_id"), "previous.id")
    )
    for path in paths:
        other = id_value(get_path(ev.item, path), path)
        if other is not None and other != kept:
            return other
    return None


def _comparable(value: Any) -> Any:
    """A v1 value as compared across ``previous`` and ``current``: an id by its value, in
    whatever form (``{"value": 7}``, ``7`` and ``"7"`` are one id, as :func:`id_value` reads
    them all)."""
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def is_counter(ev: PipedriveEvent, field: str) -> bool:
    """A count Pipedrive keeps itself (v1's ``followers_count`` …), not someone's edit (?)."""
    return ev.version == 1 and field.endswith("_count")


# ------------------------------------------------------------------ times


def pipedrive_time(value: Any, path: str) -> str | None:
    """A Pipedrive time as a canonical time: an ISO 8601 string, or a unix time (a number or a
    string of digits) in seconds, milliseconds or microseconds, told apart by magnitude."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        raw = value.strip()
        if _DIGITS.fullmatch(raw) is None:
            try:
                return time_from_iso(raw, path)
            except EventError:
                refuse(path, f"must be {TIME_FORMS}, got {value[:40]!r}")
        value = float(raw)
    if isinstance(value, bool) or not isinstance(value, int | float):
        refuse(path, f"must be {TIME_FORMS}, got {describe(value)}")
    magnitude = abs(value)
    if magnitude >= 1e14:
        return time_from_epoch(_in_ms(value, 1_000_000), path, "ms")  # microseconds
    return time_from_epoch(value, path, "ms" if magnitude >= 1e11 else "s")


def epoch_in(item: Any, path: str, per_second: int) -> str | None:
    """v1's ``timestamp_micro`` / ``timestamp_milli``: a unix time in a known unit, a number or
    a string of digits (:func:`~leadsync.sources.forms.epoch_number`), as every other unix
    time leadsync reads."""
    value = get_path(item, path)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    stamp = epoch_number(value)
    if stamp is None:
        refuse(path, f"must be a unix time (a number or a string of digits), got {shown(value)}")
    return time_from_epoch(_in_ms(stamp, per_second), path, "ms")


def _in_ms(value: int | float, per_second: int) -> int | float:
    """A unix time in ``1 / per_second`` units, in milliseconds. An integer stays one: an
    integer too large for a float is then refused by the time reader, naming its field,
    rather than overflowing here."""
    if isinstance(value, int):
        return value * 1000 // per_second
    return value * 1000 / per_second


def update_time(item: Any, root: str) -> str | None:
    path = f"{root}.update_time"
    return time_from_iso(get_path(item, path), path)


# ------------------------------------------------------------------ parts


def id_value(value: Any, path: str) -> str | None:
    """A Pipedrive id: an integer or a string, or v1's ``{"value": id, ...}`` object."""
    if isinstance(value, dict):
        if "value" not in value:
            keys = ", ".join(sorted(str(k) for k in value)[:5]) or "none"
            refuse(path, f"must be {ID_FORMS}, got an object without value (keys: {keys})")
        value = value["value"]
        path += ".value"
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse(path, f"must be {ID_FORMS}, got {describe(value)}")
    return str(value).strip() or None


def user(ev: PipedriveEvent, field: str) -> dict[str, str] | None:
    """The user a field names, ``{"id"}``; v1's user object (``{"value", "email", "name",
    …}``) adds its ``email`` when it is one (:func:`leadsync.sources.base.email_or_none`) and
    its ``name`` (:func:`leadsync.sources.base.rep_name`)."""
    path = ev.path(field)
    raw = get_path(ev.item, path)
    user_id = id_value(raw, path)
    if user_id is None:
        return None
    found = {"id": user_id}
    if isinstance(raw, dict):
        described(found, raw)
    return found


def described(found: dict[str, str], raw: Mapping[str, Any]) -> dict[str, str]:
    """``found`` (a user ``{"id"}``) with the ``email`` (when it is one) and ``name`` a v1
    user object gives, where ``found`` has none yet."""
    given = raw.get("email")
    email = email_or_none(given) if isinstance(given, str) else None
    if email is not None:
        found.setdefault("email", email)
    name = rep_name(raw.get("name"))
    if name is not None:
        found.setdefault("name", name)
    return found


def refs(ev: PipedriveEvent, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    """Associations ``(object, field of the object)`` for the fields that name a record."""
    out = []
    for record_type, field in pairs:
        path = ev.path(field)
        external_id = id_value(get_path(ev.item, path), path)
        if external_id is not None:
            out.append({"object": record_type, "external_id": external_id})
    return out


def participants(ev: PipedriveEvent) -> list[dict[str, str]]:
    """The contacts of ``participants[].person_id``."""
    path = ev.path("participants")
    participants = get_path(ev.item, path)
    if participants is None:
        return []
    if not isinstance(participants, list):
        refuse(path, f"must be an array, got {describe(participants)}")
    out = []
    for index, entry in enumerate(participants):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            refuse(where, f"must be an object {{person_id, primary}}, got {describe(entry)}")
        external_id = id_value(entry.get("person_id"), f"{where}.person_id")
        if external_id is not None:
            out.append({"object": "contact", "external_id": external_id})
    return out


def unique(refs: list[dict[str, str]]) -> list[dict[str, str]]:
    seen: set[tuple[str, str]] = set()
    out = []
    for ref in refs:
        key = (ref["object"], ref["external_id"])
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return out


def primary(item: Any, path: str) -> str | None:
    """The primary value of a ``[{value, primary, label}]`` list, else the first one."""
    entries = _labelled(item, path)
    at = _primary_at(entries, list(range(len(entries))))
    return entries[at][2] if at is not None else None


def primary_email(item: Any, path: str) -> str | None:
    """The primary email of a ``[{value, primary, label}]`` list, else the first one that is
    an email: one that is not (``234234``, ``n/a``) is passed over rather than refusing the
    whole person (:func:`leadsync.sources.base.email_or_none`)."""
    entries = sorted(_labelled(item, path), key=lambda entry: not entry[0])  # primary first
    for _primary, _label, value in entries:
        email = email_or_none(value)
        if email is not None:
            return email
    return None


def phones(item: Any, path: str) -> tuple[str | None, str | None, list[str]]:
    """``(phone, mobile, others)`` of a person's ``[{value, primary, label}]`` phone list: the
    mobile is the primary (else first) number labelled ``mobile`` (:data:`MOBILE_LABEL`, any
    case), the phone the primary (else first) of the others, and ``others`` every number left
    (neither of those two entries), in list order; each as given, trimmed."""
    entries = _labelled(item, path, numbers=True)
    mobile = _primary_at(entries, [i for i, e in enumerate(entries) if e[1] == MOBILE_LABEL])
    phone = _primary_at(entries, [i for i, e in enumerate(entries) if e[1] != MOBILE_LABEL])
    others = [value for i, (_, _, value) in enumerate(entries) if i not in (phone, mobile)]
    return (
        entries[phone][2] if phone is not None else None,
        entries[mobile][2] if mobile is not None else None,
        others,
    )


def _labelled(item: Any, path: str, numbers: bool = False) -> list[tuple[bool, str | None, str]]:
    """``(primary, label, value)`` of each entry with a non-empty value (the label
    lowercased and the value trimmed); errors name the entry (``data.phones[0].value``).
    ``primary`` is a flag in any form (:func:`~leadsync.sources.forms.flag_value`: v1's
    ``1``, ``"true"``); the ``label`` only names the entry (:func:`lenient_string`): one that
    is not a string, like a ``primary`` that is no flag, is absent rather than a refusal of
    the person. ``numbers``: the values are phone numbers, a JSON number among them refused
    as every adapter refuses one (:func:`~leadsync.sources.forms.phone_value`)."""
    entries = get_path(item, path)
    if entries is None:
        return []
    if not isinstance(entries, list):
        refuse(path, f"must be an array of {{value, primary, label}}, got {describe(entries)}")
    values: list[tuple[bool, str | None, str]] = []
    for index, entry in enumerate(entries):
        where = f"{path}[{index}]"
        if not isinstance(entry, dict):
            refuse(where, f"must be an object {{value, primary, label}}, got {describe(entry)}")
        value = entry.get("value")
        if numbers:
            phone_value(value, f"{where}.value")
        if value is not None and not isinstance(value, str):
            refuse(f"{where}.value", f"must be a string, got {describe(value)}")
        if value and value.strip():
            label = lenient_string(entry, "label")
            primary = flag_value(entry.get("primary")) is True
            values.append((primary, label.lower() if label else None, value.strip()))
    return values


def _primary_at(entries: Sequence[tuple[bool, str | None, str]], among: list[int]) -> int | None:
    """The index of the primary entry among the entries at ``among``, else of the first."""
    for index in among:
        if entries[index][0]:
            return index
    return among[0] if among else None


def clock_text(item: Any, path: str) -> str | None:
    """A time of day or a duration as text: v1's ``"HH:MM"``, or webhooks v2's
    ``{"timezone_id": …, "value": "HH:MM"}`` (an empty value: none). Assumed: v2's value is
    UTC like the flat field (Pipedrive's examples carry ``timezone_id`` null)."""
    value = get_path(item, path)
    if isinstance(value, dict):
        return text(value, "value") if "value" in value else None
    return text(item, path)


def duration_seconds(item: Any, path: str) -> int | None:
    """A duration ``HH:MM`` (or ``HH:MM:SS``) in seconds."""
    value = clock_text(item, path)
    if value is None:
        return None
    match = _CLOCK.fullmatch(value)
    if match is None:
        refuse(path, f"must be a duration HH:MM, got {value[:40]!r}")
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds or 0)


def due(ev: PipedriveEvent) -> tuple[str | None, str | None]:
    """``(due, moment)`` of an activity: ``due`` is the time, or the date alone when there is
    no ``due_time``; ``moment`` is a time either way (midnight UTC for a date)."""
    day_path, clock_path = ev.path("due_date"), ev.path("due_time")
    day = text(ev.item, day_path)
    moment = time_from_iso(day, day_path)
    if day is None or moment is None:
        return None, None
    clock = clock_text(ev.item, clock_path)
    if clock is None:
        return day, moment
    if _TIME_OF_DAY.fullmatch(clock) is None:
        refuse(clock_path, f"must be a time HH:MM (UTC), got {clock[:40]!r}")
    moment = time_from_iso(f"{day}T{clock}Z", clock_path)
    return moment, moment
