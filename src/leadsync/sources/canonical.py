"""leadsync's canonical event format: one JSON object per event (a JSONL line), and its parser.

Every source ends up here: a generic integration's lines are read by :func:`parse_line`,
vendor adapters hand an already-decoded dict to :func:`parse_event`, and
:func:`event_to_dict` turns an :class:`~leadsync.model.Event` back into this format. Parsing
is strict and hand-written (it is the hot path: no pydantic per line): anything the format
does not describe is an :class:`~leadsync.errors.EventError` whose message names the field
path and what is allowed, e.g.
``field "activity": 'cal' is not allowed; allowed: call, email, meeting, note, task``.

This module reads the event (keys, types, owners, associations);
:mod:`leadsync.sources.properties` reads its properties (the typed ones and near misses of
them) and the values both share. The format itself is specified in docs/FORMAT.md; a change
here is a change there.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn, TypeVar

from leadsync.errors import EventError
from leadsync.model import (
    ActivityType,
    Event,
    EventType,
    ExternalUserRef,
    RecordRef,
    RecordType,
)
from leadsync.sources import jsontext
from leadsync.sources.base import MAX_REP_NAME, describe
from leadsync.sources.epoch import too_early
from leadsync.sources.hygiene import finite_float, number_problem
from leadsync.sources.properties import (
    ACTIVITY_FIELDS,
    MAX_DOMAIN_LENGTH,
    MAX_EMAIL_LENGTH,
    NEAR_MISS_CUTOFF,
    NOTE_BODY_MAX,
    RECORD_FIELDS,
    Invalid,
    check_domain,
    check_email,
    check_time_order,
    check_timestamp,
    fail,
    near_miss,
    parse_properties,
    quote,
    show,
)

__all__ = [
    "ACTIVITY_TYPES",
    "ALLOWED_KEYS",
    "ASSOCIATION_KEYS",
    "EVENT_TYPES",
    "MAX_DOMAIN_LENGTH",
    "MAX_EMAIL_LENGTH",
    "MAX_ID_LENGTH",
    "NEAR_MISS_CUTOFF",
    "NOTE_BODY_MAX",
    "OWNER_KEYS",
    "RECORD_TYPES",
    "event_to_dict",
    "near_miss",
    "parse_event",
    "parse_line",
]

# ------------------------------------------------------------------ vocabulary

ALLOWED_KEYS = (
    "id",
    "occurred_at",
    "type",
    "object",
    "activity",
    "external_id",
    "owner",
    "properties",
    "associations",
    "manual",
    "owner_unchanged",
    "changed_at",
    "draft",
    "aliases",
    "merged",
)
OWNER_KEYS = ("id", "email", "name")
ASSOCIATION_KEYS = ("object", "external_id", "email", "domain")
EVENT_TYPES = tuple(t.value for t in EventType)
RECORD_TYPES = tuple(t.value for t in RecordType)
ACTIVITY_TYPES = tuple(t.value for t in ActivityType)
# What the store keeps for an id (see leadsync.store.schema): a longer one is refused here,
# with the field named, rather than by the database.
MAX_ID_LENGTH = 200

_ALLOWED_SET = frozenset(ALLOWED_KEYS)
_OWNER_SET = frozenset(OWNER_KEYS)
_ASSOCIATION_SET = frozenset(ASSOCIATION_KEYS)
_EVENT_TYPE_BY_NAME = {t.value: t for t in EventType}
_RECORD_TYPE_BY_NAME = {t.value: t for t in RecordType}
_ACTIVITY_TYPE_BY_NAME = {t.value: t for t in ActivityType}

_T = TypeVar("_T")


# ------------------------------------------------------------------ public API


def _event_time(value: Any, path: str) -> str:
    """When the event happened (or its change was made): a time, from 1973 on."""
    moment = check_timestamp(value, path)
    if (why := too_early(moment)) is not None:
        fail(path, why)
    return moment


def parse_event(data: Any, integration: str, seq: int = 0, where: str | None = None) -> Event:
    """Check one decoded event (a dict in the canonical format) and build its Event.

    Raises EventError naming the field and what is allowed; ``where`` (``file:line``) is kept
    on the error.
    """
    try:
        return _parse(data, integration, seq)
    except Invalid as exc:
        raise EventError(str(exc), where) from None


def parse_line(
    line: str | bytes, integration: str, seq: int = 0, where: str | None = None
) -> Event:
    """Decode one JSONL line (UTF-8, at most :data:`~leadsync.sources.jsontext.MAX_DEPTH`
    levels deep) and parse it with :func:`parse_event`."""
    try:
        if isinstance(line, bytes | bytearray):
            line = line.decode("utf-8")
        if line[:1] == "\ufeff":  # a byte order mark left on a file's first line
            line = line[1:]
        data = _DECODER.decode(line)
    except json.JSONDecodeError as exc:
        raise EventError(f"not valid JSON: {exc.msg} (column {exc.colno})", where) from None
    except UnicodeDecodeError as exc:
        raise EventError(f"not valid UTF-8 at byte {exc.start}", where) from None
    except Invalid as exc:
        raise EventError(str(exc), where) from None
    except RecursionError:
        raise EventError(f"not valid JSON: {jsontext.TOO_DEEP}", where) from None
    except ValueError:  # a float out of range, or an integer Python will not read
        problem = number_problem(line) if isinstance(line, str) else None
        if problem is None:  # pragma: no cover - the decoder refused a number: it is there
            raise EventError("not valid JSON: a number cannot be read", where) from None
        what, place = problem
        place = place.removeprefix("line 1, ")  # one line: the column says where
        raise EventError(f"not valid JSON: {what} ({place})", where) from None
    if jsontext.too_deep(line):
        raise EventError(f"not valid JSON: {jsontext.TOO_DEEP}", where)
    return parse_event(data, integration, seq, where)


def event_to_dict(event: Event) -> dict[str, Any]:
    """An Event in the canonical JSON shape; ``parse_event`` of it gives the event back.

    ``integration`` and ``seq`` are not part of the shape (they come with the line). A contact's
    ``email`` and a company's ``domain`` travel in ``properties``.
    """
    out: dict[str, Any] = {
        "id": event.id,
        "occurred_at": event.occurred_at,
        "type": event.type.value,
    }
    if event.object is not None:
        out["object"] = event.object.value
    if event.activity is not None:
        out["activity"] = event.activity.value
    if event.external_id is not None:
        out["external_id"] = event.external_id
    if event.owner is not None:
        out["owner"] = _owner_to_json(event.owner)
    elif event.type is EventType.OWNER:
        out["owner"] = None
    properties = dict(event.properties)
    if event.email is not None and properties.get("email") is None:
        properties["email"] = event.email
    if event.domain is not None and properties.get("domain") is None:
        properties["domain"] = event.domain
    if properties:
        out["properties"] = properties
    if event.associations:
        out["associations"] = [_ref_to_json(ref) for ref in event.associations]
    if event.manual:
        out["manual"] = True
    if event.owner_unchanged:
        out["owner_unchanged"] = True
    if event.changed_at is not None and event.changed_at != event.occurred_at:
        out["changed_at"] = event.changed_at
    if event.draft:
        out["draft"] = True
    if event.aliases:
        out["aliases"] = list(event.aliases)
    if event.merged:
        out["merged"] = list(event.merged)
    return out


# ------------------------------------------------------------------ errors


def _refuse_constant(name: str) -> NoReturn:
    raise Invalid(f"not valid JSON: {name} is not allowed")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=finite_float)


def _unknown_keys(data: dict[Any, Any], allowed: tuple[str, ...], prefix: str) -> NoReturn:
    unknown = sorted(repr(key) if not isinstance(key, str) else key for key in data)
    unknown = [key for key in unknown if key not in allowed]
    names = ", ".join(f'"{prefix}{key}"' for key in unknown)
    label = "field" if len(unknown) == 1 else "fields"
    raise Invalid(f"{label} {names}: not allowed; allowed: {', '.join(allowed)}")


# ------------------------------------------------------------------ the event


def _parse(data: Any, integration: str, seq: int) -> Event:
    if not isinstance(data, dict):
        raise Invalid(f"an event must be a JSON object, got {describe(data)}")
    if not _ALLOWED_SET.issuperset(data):
        _unknown_keys(data, ALLOWED_KEYS, "")
    event_id = _identifier(data.get("id"), "id")
    if event_id is None:
        fail("id", "required")
    occurred_at = data.get("occurred_at")
    if occurred_at is None:
        fail("occurred_at", "required")
    occurred_at = _event_time(occurred_at, "occurred_at")
    kind = _choose(data.get("type"), "type", _EVENT_TYPE_BY_NAME, EVENT_TYPES)
    manual = data.get("manual")
    if manual is not None:
        if kind not in (EventType.RECORD, EventType.OWNER):
            fail("manual", f"not allowed on a {kind.value} event (only on record and owner events)")
        if not isinstance(manual, bool):
            fail("manual", f"expected true or false, got {show(manual)}")
    owner_unchanged = data.get("owner_unchanged")
    if owner_unchanged is not None:
        if kind is not EventType.RECORD:
            fail(
                "owner_unchanged",
                f"not allowed on a {kind.value} event (only on record events)",
            )
        if not isinstance(owner_unchanged, bool):
            fail("owner_unchanged", f"expected true or false, got {show(owner_unchanged)}")
    raw_changed = data.get("changed_at")
    changed_at = None if raw_changed is None else _event_time(raw_changed, "changed_at")
    if changed_at == occurred_at:
        changed_at = None  # the default: one form for one meaning
    draft = data.get("draft")
    if draft is not None:
        if kind is not EventType.ACTIVITY:
            fail("draft", f"not allowed on a {kind.value} event (only on activity events)")
        if not isinstance(draft, bool):
            fail("draft", f"expected true or false, got {show(draft)}")
    if data.get("aliases") is not None and kind is not EventType.ACTIVITY:
        fail("aliases", f"not allowed on a {kind.value} event (only on activity events)")
    if data.get("merged") is not None and kind is not EventType.RECORD:
        fail("merged", f"not allowed on a {kind.value} event (only on record events)")
    if kind is EventType.ACTIVITY:
        activity = _activity_event(data, event_id, occurred_at, integration, seq)
        activity.changed_at = changed_at
        activity.draft = bool(draft)
        return activity
    if kind is EventType.USER:
        user = _user_event(data, event_id, occurred_at, integration, seq)
        user.changed_at = changed_at
        return user
    if kind is EventType.LINE:
        line = _line_event(data, event_id, occurred_at, integration, seq)
        line.changed_at = changed_at
        return line
    event = _record_event(data, kind, event_id, occurred_at, integration, seq)
    event.manual = bool(manual)
    if owner_unchanged and event.owner is None:
        fail("owner_unchanged", "needs an owner: it says the owner given is not changed")
    event.owner_unchanged = bool(owner_unchanged)
    event.changed_at = changed_at
    event.merged = _other_ids(data.get("merged"), event.external_id, "merged", "records")
    return event


def _record_event(
    data: dict[str, Any],
    kind: EventType,
    event_id: str,
    occurred_at: str,
    integration: str,
    seq: int,
) -> Event:
    obj = _choose(data.get("object"), "object", _RECORD_TYPE_BY_NAME, RECORD_TYPES)
    if data.get("activity") is not None:
        fail("activity", f"not allowed on a {kind.value} event (only on activity events)")
    external_id = _identifier(data.get("external_id"), "external_id")
    if kind is EventType.OWNER:
        if "owner" not in data:
            fail("owner", "required on an owner event (null means no owner)")
        raw = data.get("properties")
        if raw is not None and raw != {}:
            fail("properties", "must be absent or empty on an owner event (use a record event)")
        if external_id is None:
            fail("external_id", "required on an owner event")
        properties: dict[str, Any] = {}
    else:
        properties = parse_properties(data.get("properties"), RECORD_FIELDS.get(obj))
    email = domain = None
    if obj is RecordType.CONTACT:
        email = properties.get("email")
    elif obj is RecordType.COMPANY:
        domain = properties.get("domain")
    if external_id is None and email is None and domain is None:
        fail(
            "external_id",
            "required: a record is named by external_id, or properties.email for a contact"
            " / properties.domain for a company",
        )
    return Event(
        id=event_id,
        integration=integration,
        type=kind,
        occurred_at=occurred_at,
        seq=seq,
        object=obj,
        external_id=external_id,
        email=email,
        domain=domain,
        properties=properties,
        owner=_owner(data.get("owner")),
        associations=_associations(data.get("associations"), obj),
    )


def _activity_event(
    data: dict[str, Any], event_id: str, occurred_at: str, integration: str, seq: int
) -> Event:
    activity = _choose(data.get("activity"), "activity", _ACTIVITY_TYPE_BY_NAME, ACTIVITY_TYPES)
    if data.get("object") is not None:
        fail("object", "not allowed on an activity event (name the records in associations)")
    properties = parse_properties(data.get("properties"), ACTIVITY_FIELDS[activity])
    check_time_order(activity, properties)
    external_id = _identifier(data.get("external_id"), "external_id")
    return Event(
        id=event_id,
        integration=integration,
        type=EventType.ACTIVITY,
        occurred_at=occurred_at,
        seq=seq,
        activity=activity,
        external_id=external_id,
        properties=properties,
        owner=_owner(data.get("owner")),
        associations=_associations(data.get("associations"), None),
        aliases=_other_ids(data.get("aliases"), external_id, "aliases", "activity"),
    )


def _other_ids(value: Any, external_id: str | None, key: str, what: str) -> tuple[str, ...]:
    """Other ids at the source — an activity's ``aliases`` (ids of the same activity), a
    record's ``merged`` (ids of records merged into it): a list of ids, each once, none its
    own ``external_id`` (which is required with them)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        fail(key, f"expected a list of ids, got {show(value)}")
    if value and external_id is None:
        needs = "other ids of the same activity" if what == "activity" else "ids merged into it"
        fail(key, f"needs an external_id: they are {needs}")
    out: list[str] = []
    for index, item in enumerate(value):
        other = _identifier(item, f"{key}[{index}]")
        if other is None:
            fail(f"{key}[{index}]", "expected an id (a string), got null")
        if other == external_id or other in out:
            fail(f"{key}[{index}]", f"{quote(other)} is given twice (or is the external_id)")
        out.append(other)
    return tuple(sorted(out))


def _user_event(
    data: dict[str, Any], event_id: str, occurred_at: str, integration: str, seq: int
) -> Event:
    for key in ("object", "activity", "external_id", "associations"):
        if data.get(key) is not None:
            fail(key, "not allowed on a user event (it only introduces an external user)")
    owner = _owner(data.get("owner"))
    if owner is None or owner.id is None:
        fail("owner.id", "required on a user event: the external user's id")
    properties = parse_properties(data.get("properties"), None)
    if not _USER_PROPERTIES.issuperset(properties):
        _unknown_keys(properties, tuple(sorted(_USER_PROPERTIES)), "properties.")
    name = properties.get("name")
    if name is not None and not isinstance(name, str):
        fail("properties.name", f"expected a string, got {show(name)}")
    return Event(
        id=event_id,
        integration=integration,
        type=EventType.USER,
        occurred_at=occurred_at,
        seq=seq,
        owner=owner,
        properties=properties,
    )


_USER_PROPERTIES = frozenset({"name"})


def _line_event(
    data: dict[str, Any], event_id: str, occurred_at: str, integration: str, seq: int
) -> Event:
    """One of the company's own phone lines, as the tool names it: ``properties.number``
    (required; read as a phone number in the integration's region when it is applied) and
    ``name``; ``external_id`` is the line's id at the tool."""
    for key in ("object", "activity", "owner", "associations"):
        if data.get(key) is not None:
            fail(key, "not allowed on a line event (it only names one of the company's lines)")
    properties = parse_properties(data.get("properties"), None)
    if not _LINE_PROPERTIES.issuperset(properties):
        _unknown_keys(properties, tuple(sorted(_LINE_PROPERTIES)), "properties.")
    number = properties.get("number")
    if number is None:
        fail("properties.number", "required on a line event: the line's phone number")
    for key, value in properties.items():
        if not isinstance(value, str) or not value.strip():
            fail(f"properties.{key}", f"expected a non-empty string, got {show(value)}")
    if not any(ch.isdigit() for ch in number):
        fail("properties.number", f"{quote(number)} is not a phone number: it has no digit")
    return Event(
        id=event_id,
        integration=integration,
        type=EventType.LINE,
        occurred_at=occurred_at,
        seq=seq,
        external_id=_identifier(data.get("external_id"), "external_id"),
        properties={key: value.strip() for key, value in properties.items()},
    )


_LINE_PROPERTIES = frozenset({"number", "name"})


# ------------------------------------------------------------------ parts


def declared_id(data: Any) -> str | None:
    """The ``id`` an event names, as the inbox keys it, whether or not the rest of it reads
    (a dead letter says which event it is); None where it names none that reads."""
    try:
        return _identifier(data.get("id"), "id") if isinstance(data, dict) else None
    except EventError:
        return None


def _identifier(value: Any, path: str) -> str | None:
    """An id: a non-empty string, or an integer made a string; None when absent."""
    if type(value) is str:
        if value and not value.isspace():
            if len(value) > MAX_ID_LENGTH:
                fail(path, f"at most {MAX_ID_LENGTH} characters, got {len(value)}")
            return value
        fail(path, "must not be empty")
    if value is None:
        return None
    if isinstance(value, str):  # a str subclass (an enum member from an adapter)
        return _identifier(str(value), path)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    fail(path, f"expected a string, got {show(value)}")


def _choose(value: Any, path: str, by_name: dict[str, _T], allowed: tuple[str, ...]) -> _T:
    """One of a fixed vocabulary (exact spelling); required."""
    found = by_name.get(value) if isinstance(value, str) else None
    if found is not None:
        return found
    if value is None:
        fail(path, f"required; allowed: {', '.join(allowed)}")
    if isinstance(value, str):
        fail(path, f"{quote(value)} is not allowed; allowed: {', '.join(allowed)}")
    fail(path, f"expected a string, one of: {', '.join(allowed)}; got {show(value)}")


def _owner(value: Any) -> ExternalUserRef | None:
    if value is None:
        return None
    if type(value) is str:
        return ExternalUserRef(_identifier(value, "owner"))
    if isinstance(value, dict):
        if not _OWNER_SET.issuperset(value):
            _unknown_keys(value, OWNER_KEYS, "owner.")
        user_id = _identifier(value.get("id"), "owner.id")
        email = value.get("email")
        if email is not None:
            email = check_email(email, "owner.email")
        if user_id is None and email is None:
            fail("owner", "needs id or email (or both)")
        return ExternalUserRef(user_id, email, _owner_name(value.get("name")))
    if isinstance(value, str | int) and not isinstance(value, bool):
        return ExternalUserRef(_identifier(value, "owner"))
    fail("owner", f'expected a user id or an object {{"id", "email", "name"}}, got {show(value)}')


def _owner_name(value: Any) -> str | None:
    """The rep's display name: a non-empty string (trimmed); None when absent."""
    if value is None:
        return None
    if not isinstance(value, str):
        fail("owner.name", f"expected a string, got {show(value)}")
    name = value.strip()
    if not name:
        fail("owner.name", "must not be empty")
    if len(name) > MAX_REP_NAME:
        fail("owner.name", f"at most {MAX_REP_NAME} characters, got {len(name)}")
    return name


def _associations(value: Any, subject: RecordType | None) -> tuple[RecordRef, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        fail("associations", f"expected a list of objects, got {show(value)}")
    refs = []
    for index, item in enumerate(value):
        refs.append(_association(item, index, subject))
    return tuple(refs)


def _association(item: Any, index: int, subject: RecordType | None) -> RecordRef:
    path = f"associations[{index}]"
    if not isinstance(item, dict):
        fail(path, f"expected an object, got {show(item)}")
    if not _ASSOCIATION_SET.issuperset(item):
        _unknown_keys(item, ASSOCIATION_KEYS, path + ".")
    obj = _choose(item.get("object"), path + ".object", _RECORD_TYPE_BY_NAME, RECORD_TYPES)
    if obj is subject:
        fail(path + ".object", f"a {obj.value} cannot be associated with another {obj.value}")
    external_id = _identifier(item.get("external_id"), path + ".external_id")
    email = item.get("email")
    if email is not None:
        if obj is not RecordType.CONTACT:
            fail(path + ".email", f"only allowed for a contact, not a {obj.value}")
        email = check_email(email, path + ".email")
    domain = item.get("domain")
    if domain is not None:
        if obj is not RecordType.COMPANY:
            fail(path + ".domain", f"only allowed for a company, not a {obj.value}")
        domain = check_domain(domain, path + ".domain")
    if external_id is None and email is None and domain is None:
        fail(path, "needs external_id, or email for a contact / domain for a company")
    return RecordRef(obj, external_id, email, domain)


# ------------------------------------------------------------------ back to JSON


def _owner_to_json(owner: ExternalUserRef) -> str | dict[str, str]:
    if owner.email is None and owner.name is None and owner.id is not None:
        return owner.id
    out: dict[str, str] = {}
    if owner.id is not None:
        out["id"] = owner.id
    if owner.email is not None:
        out["email"] = owner.email
    if owner.name is not None:
        out["name"] = owner.name
    return out


def _ref_to_json(ref: RecordRef) -> dict[str, str]:
    out = {"object": ref.type.value}
    if ref.external_id is not None:
        out["external_id"] = ref.external_id
    if ref.email is not None:
        out["email"] = ref.email
    if ref.domain is not None:
        out["domain"] = ref.domain
    return out
