"""leadsync's canonical event format: one JSON object per event (a JSONL line), and its parser.

Every source ends up here: a generic integration's lines are read by :func:`parse_line`,
vendor adapters hand an already-decoded dict to :func:`parse_event`, and
:func:`event_to_dict` turns an :class:`~leadsync.model.Event` back into this format. Parsing
is strict and hand-written (it is the hot path: no pydantic per line): anything the format
does not describe is an :class:`~leadsync.errors.EventError` whose message names the field
path and what is allowed, e.g.
``field "activity": 'cal' is not allowed; allowed: call, email, meeting, note, task``.

The format itself — keys, event types, owners, associations, the typed properties and near
misses — is specified in docs/FORMAT.md; a change here is a change there.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from leadsync.errors import EventError
from leadsync.model import (
    CALL_OUTCOMES,
    DIRECTIONS,
    EMAIL_DIRECTIONS,
    MEETING_OUTCOMES,
    TASK_PRIORITIES,
    TASK_STATUSES,
    ActivityType,
    Event,
    EventType,
    ExternalUserRef,
    RecordRef,
    RecordType,
)
from leadsync.sources.base import describe
from leadsync.sources.hygiene import finite_float, number_problem
from leadsync.values import (
    normalize_domain,
    normalize_email,
    parse_time,
    valid_domain,
    valid_email,
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
    "changed_at",
    "draft",
)
OWNER_KEYS = ("id", "email")
ASSOCIATION_KEYS = ("object", "external_id", "email", "domain")
EVENT_TYPES = tuple(t.value for t in EventType)
RECORD_TYPES = tuple(t.value for t in RecordType)
ACTIVITY_TYPES = tuple(t.value for t in ActivityType)
NOTE_BODY_MAX = 65_536
# What the store keeps (see leadsync.store.schema): longer values are refused here, with the
# field named, rather than by the database.
MAX_ID_LENGTH = 200
MAX_EMAIL_LENGTH = 320
MAX_DOMAIN_LENGTH = 253

_ALLOWED_SET = frozenset(ALLOWED_KEYS)
_OWNER_SET = frozenset(OWNER_KEYS)
_ASSOCIATION_SET = frozenset(ASSOCIATION_KEYS)
_EVENT_TYPE_BY_NAME = {t.value: t for t in EventType}
_RECORD_TYPE_BY_NAME = {t.value: t for t in RecordType}
_ACTIVITY_TYPE_BY_NAME = {t.value: t for t in ActivityType}

# Values of free properties that need no further look (float is checked for NaN/Infinity).
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})

_T = TypeVar("_T")


# ------------------------------------------------------------------ public API


def parse_event(data: Any, integration: str, seq: int = 0, where: str | None = None) -> Event:
    """Check one decoded event (a dict in the canonical format) and build its Event.

    Raises EventError naming the field and what is allowed; ``where`` (``file:line``) is kept
    on the error.
    """
    try:
        return _parse(data, integration, seq)
    except _Invalid as exc:
        raise EventError(str(exc), where) from None


def parse_line(
    line: str | bytes, integration: str, seq: int = 0, where: str | None = None
) -> Event:
    """Decode one JSONL line (UTF-8) and parse it with :func:`parse_event`."""
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
    except _Invalid as exc:
        raise EventError(str(exc), where) from None
    except RecursionError:
        raise EventError("not valid JSON: nested too deeply", where) from None
    except ValueError:  # a float out of range, or an integer Python will not read
        problem = number_problem(line) if isinstance(line, str) else None
        if problem is None:  # pragma: no cover - the decoder refused a number: it is there
            raise EventError("not valid JSON: a number cannot be read", where) from None
        what, place = problem
        place = place.removeprefix("line 1, ")  # one line: the column says where
        raise EventError(f"not valid JSON: {what} ({place})", where) from None
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
    if event.changed_at is not None and event.changed_at != event.occurred_at:
        out["changed_at"] = event.changed_at
    if event.draft:
        out["draft"] = True
    return out


# ------------------------------------------------------------------ errors


class _Invalid(Exception):
    """One problem in one event; parse_event adds the place and raises EventError."""


def _fail(path: str, detail: str) -> NoReturn:
    raise _Invalid(f'field "{path}": {detail}')


def _refuse_constant(name: str) -> NoReturn:
    raise _Invalid(f"not valid JSON: {name} is not allowed")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=finite_float)


def _show(value: Any) -> str:
    """A value as it was written in JSON, shortened for a message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _quote(text: str) -> str:
    """A string value quoted for a message, shortened."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _unknown_keys(data: dict[Any, Any], allowed: tuple[str, ...], prefix: str) -> NoReturn:
    unknown = sorted(repr(key) if not isinstance(key, str) else key for key in data)
    unknown = [key for key in unknown if key not in allowed]
    names = ", ".join(f'"{prefix}{key}"' for key in unknown)
    label = "field" if len(unknown) == 1 else "fields"
    raise _Invalid(f"{label} {names}: not allowed; allowed: {', '.join(allowed)}")


# ------------------------------------------------------------------ the event


def _parse(data: Any, integration: str, seq: int) -> Event:
    if not isinstance(data, dict):
        raise _Invalid(f"an event must be a JSON object, got {describe(data)}")
    if not _ALLOWED_SET.issuperset(data):
        _unknown_keys(data, ALLOWED_KEYS, "")
    event_id = _identifier(data.get("id"), "id")
    if event_id is None:
        _fail("id", "required")
    occurred_at = data.get("occurred_at")
    if occurred_at is None:
        _fail("occurred_at", "required")
    occurred_at = _timestamp(occurred_at, "occurred_at")
    kind = _choose(data.get("type"), "type", _EVENT_TYPE_BY_NAME, EVENT_TYPES)
    manual = data.get("manual")
    if manual is not None:
        if kind not in (EventType.RECORD, EventType.OWNER):
            _fail(
                "manual", f"not allowed on a {kind.value} event (only on record and owner events)"
            )
        if not isinstance(manual, bool):
            _fail("manual", f"expected true or false, got {_show(manual)}")
    raw_changed = data.get("changed_at")
    changed_at = None if raw_changed is None else _timestamp(raw_changed, "changed_at")
    if changed_at == occurred_at:
        changed_at = None  # the default: one form for one meaning
    draft = data.get("draft")
    if draft is not None:
        if kind is not EventType.ACTIVITY:
            _fail("draft", f"not allowed on a {kind.value} event (only on activity events)")
        if not isinstance(draft, bool):
            _fail("draft", f"expected true or false, got {_show(draft)}")
    if kind is EventType.ACTIVITY:
        activity = _activity_event(data, event_id, occurred_at, integration, seq)
        activity.changed_at = changed_at
        activity.draft = bool(draft)
        return activity
    if kind is EventType.USER:
        user = _user_event(data, event_id, occurred_at, integration, seq)
        user.changed_at = changed_at
        return user
    event = _record_event(data, kind, event_id, occurred_at, integration, seq)
    event.manual = bool(manual)
    event.changed_at = changed_at
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
        _fail("activity", f"not allowed on a {kind.value} event (only on activity events)")
    external_id = _identifier(data.get("external_id"), "external_id")
    if kind is EventType.OWNER:
        if "owner" not in data:
            _fail("owner", "required on an owner event (null means no owner)")
        raw = data.get("properties")
        if raw is not None and raw != {}:
            _fail("properties", "must be absent or empty on an owner event (use a record event)")
        if external_id is None:
            _fail("external_id", "required on an owner event")
        properties: dict[str, Any] = {}
    else:
        properties = _properties(data.get("properties"), _RECORD_FIELDS.get(obj))
    email = domain = None
    if obj is RecordType.CONTACT:
        email = properties.get("email")
    elif obj is RecordType.COMPANY:
        domain = properties.get("domain")
    if external_id is None and email is None and domain is None:
        _fail(
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
        _fail("object", "not allowed on an activity event (name the records in associations)")
    properties = _properties(data.get("properties"), _ACTIVITY_FIELDS[activity])
    if activity is ActivityType.MEETING:
        _check_meeting_times(properties)
    return Event(
        id=event_id,
        integration=integration,
        type=EventType.ACTIVITY,
        occurred_at=occurred_at,
        seq=seq,
        activity=activity,
        external_id=_identifier(data.get("external_id"), "external_id"),
        properties=properties,
        owner=_owner(data.get("owner")),
        associations=_associations(data.get("associations"), None),
    )


def _user_event(
    data: dict[str, Any], event_id: str, occurred_at: str, integration: str, seq: int
) -> Event:
    for key in ("object", "activity", "external_id", "associations"):
        if data.get(key) is not None:
            _fail(key, "not allowed on a user event (it only introduces an external user)")
    owner = _owner(data.get("owner"))
    if owner is None or owner.id is None:
        _fail("owner.id", "required on a user event: the external user's id")
    properties = _properties(data.get("properties"), None)
    if not _USER_PROPERTIES.issuperset(properties):
        _unknown_keys(properties, tuple(sorted(_USER_PROPERTIES)), "properties.")
    name = properties.get("name")
    if name is not None and not isinstance(name, str):
        _fail("properties.name", f"expected a string, got {_show(name)}")
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


# ------------------------------------------------------------------ parts


def _identifier(value: Any, path: str) -> str | None:
    """An id: a non-empty string, or an integer made a string; None when absent."""
    if type(value) is str:
        if value and not value.isspace():
            if len(value) > MAX_ID_LENGTH:
                _fail(path, f"at most {MAX_ID_LENGTH} characters, got {len(value)}")
            return value
        _fail(path, "must not be empty")
    if value is None:
        return None
    if isinstance(value, str):  # a str subclass (an enum member from an adapter)
        return _identifier(str(value), path)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    _fail(path, f"expected a string, got {_show(value)}")


def _choose(value: Any, path: str, by_name: dict[str, _T], allowed: tuple[str, ...]) -> _T:
    """One of a fixed vocabulary (exact spelling); required."""
    found = by_name.get(value) if isinstance(value, str) else None
    if found is not None:
        return found
    if value is None:
        _fail(path, f"required; allowed: {', '.join(allowed)}")
    if isinstance(value, str):
        _fail(path, f"{_quote(value)} is not allowed; allowed: {', '.join(allowed)}")
    _fail(path, f"expected a string, one of: {', '.join(allowed)}; got {_show(value)}")


def _timestamp(value: Any, path: str, plain_date: bool = False) -> str:
    """An ISO 8601 time with offset (``plain_date``: or ``YYYY-MM-DD``), as a canonical time."""
    try:
        return parse_time(value, plain_date=plain_date)
    except ValueError as exc:
        _fail(path, str(exc))


def _email(value: Any, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"expected an email address, got {_show(value)}")
    email = normalize_email(value)
    if not valid_email(email):
        _fail(
            path,
            f"{_quote(value)} is not an email address (one @ with text on both sides, no spaces)",
        )
    if len(email) > MAX_EMAIL_LENGTH:
        _fail(path, f"an email address has at most {MAX_EMAIL_LENGTH} characters")
    return email


def _domain(value: Any, path: str) -> str:
    if not isinstance(value, str):
        _fail(path, f"expected a domain, got {_show(value)}")
    domain = normalize_domain(value)
    if not valid_domain(domain):
        _fail(path, f"{_quote(value)} is not a domain (e.g. globex.test)")
    if len(domain) > MAX_DOMAIN_LENGTH:
        _fail(path, f"a domain has at most {MAX_DOMAIN_LENGTH} characters")
    return domain


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
            email = _email(email, "owner.email")
        if user_id is None and email is None:
            _fail("owner", "needs id or email (or both)")
        return ExternalUserRef(user_id, email)
    if isinstance(value, str | int) and not isinstance(value, bool):
        return ExternalUserRef(_identifier(value, "owner"))
    _fail("owner", f'expected a user id or an object {{"id", "email"}}, got {_show(value)}')


def _associations(value: Any, subject: RecordType | None) -> tuple[RecordRef, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        _fail("associations", f"expected a list of objects, got {_show(value)}")
    refs = []
    for index, item in enumerate(value):
        refs.append(_association(item, index, subject))
    return tuple(refs)


def _association(item: Any, index: int, subject: RecordType | None) -> RecordRef:
    path = f"associations[{index}]"
    if not isinstance(item, dict):
        _fail(path, f"expected an object, got {_show(item)}")
    if not _ASSOCIATION_SET.issuperset(item):
        _unknown_keys(item, ASSOCIATION_KEYS, path + ".")
    obj = _choose(item.get("object"), path + ".object", _RECORD_TYPE_BY_NAME, RECORD_TYPES)
    if obj is subject:
        _fail(path + ".object", f"a {obj.value} cannot be associated with another {obj.value}")
    external_id = _identifier(item.get("external_id"), path + ".external_id")
    email = item.get("email")
    if email is not None:
        if obj is not RecordType.CONTACT:
            _fail(path + ".email", f"only allowed for a contact, not a {obj.value}")
        email = _email(email, path + ".email")
    domain = item.get("domain")
    if domain is not None:
        if obj is not RecordType.COMPANY:
            _fail(path + ".domain", f"only allowed for a company, not a {obj.value}")
        domain = _domain(domain, path + ".domain")
    if external_id is None and email is None and domain is None:
        _fail(path, "needs external_id, or email for a contact / domain for a company")
    return RecordRef(obj, external_id, email, domain)


# ------------------------------------------------------------------ properties

# A typed field's check: (value, key) -> normalized value; never called with None.
_Check = Callable[[Any, str], Any]


NEAR_MISS_CUTOFF = 0.8
"""How alike (difflib's ratio, of names lowercased without ``_``, ``-``, ``.`` and spaces) a
free property's name may not be to a typed one's: ``duration``, ``Duration_S``, ``durationS``
and ``duration_ms`` are all taken for ``duration_s``; ``pipedrive_outcome`` is not."""


class _Typed(dict[str, _Check]):
    """The typed properties of one record or activity type, by name (``label``: ``call``).

    Any other name is a free property, kept as it is — unless it is a near miss of one of
    these: a typo the rules would never see (a call's ``duration`` instead of ``duration_s``
    gets past ``min_duration_s``), so it is refused, naming the property meant.
    """

    def __init__(self, label: str, checks: dict[str, _Check]) -> None:
        super().__init__(checks)
        self.label = label
        self.names = tuple(checks)


_SEPARATORS = str.maketrans("", "", "_-. \t")


def _plain_name(name: str) -> str:
    return name.translate(_SEPARATORS).lower()


@functools.lru_cache(maxsize=4096)
def near_miss(name: str, typed: tuple[str, ...]) -> str | None:
    """The typed property ``name`` is a near miss of (see :data:`NEAR_MISS_CUTOFF`), or
    None when ``name`` is one of them or is free. Cached: free names repeat from event to
    event."""
    if name in typed:
        return None
    plain = {_plain_name(known): known for known in typed}
    found = difflib.get_close_matches(_plain_name(name), plain, n=1, cutoff=NEAR_MISS_CUTOFF)
    return plain[found[0]] if found else None


def _properties(value: Any, fields: _Typed | None) -> dict[str, Any]:
    """A new properties dict: typed fields normalized, free ones checked and kept, near
    misses of typed ones refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail("properties", f"expected an object, got {_show(value)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            _fail("properties", f"property names must be non-empty strings, got {_show(key)}")
        check = fields.get(key) if fields else None
        if (
            check is None
            and fields
            and (meant := near_miss(key, fields.names)) is not None
            and _fits(fields[meant], item, key)
        ):
            _fail(
                f"properties.{key}",
                f"unknown property; did you mean {meant}? (typed {fields.label} properties: "
                f"{', '.join(fields.names)}; other names are free, but not one this close to "
                "a typed one)",
            )
        if item is not None:
            if check is not None:
                item = check(item, key)
            elif type(item) not in _PLAIN_TYPES:
                item = _free_value(item, key)
        out[key] = item
    return out


def _fits(check: _Check, value: Any, key: str) -> bool:
    """Whether ``value`` would pass as the typed property a near miss resembles: only then
    is the name taken for a typo (a meeting's ``state: "confirmed"`` is not a ``start``)."""
    if value is None:
        return True
    try:
        check(value, key)
    except _Invalid:
        return False
    return True


def _free_value(value: Any, key: str) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(f"properties.{key}", f"expected a finite number, got {value!r}")
        return value
    if isinstance(value, str | int):  # bool is an int
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                _fail(
                    f"properties.{key}[{index}]",
                    f"a list property may only hold strings, got {_show(item)}",
                )
        return list(value)
    if isinstance(value, dict):
        detail = "nested objects are not allowed"
    else:
        detail = f"{type(value).__name__} is not allowed"
    _fail(
        f"properties.{key}",
        f"{detail}; a property is a string, number, boolean, null or list of strings",
    )


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (type(value) is int or math.isfinite(value))
    )


def _text(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    _fail(f"properties.{key}", f"expected a string, got {_show(value)}")


def _note_body(value: Any, key: str) -> str:
    text = _text(value, key)
    if len(text) > NOTE_BODY_MAX:
        _fail(
            f"properties.{key}",
            f"too long: {len(text):,} characters; at most {NOTE_BODY_MAX:,}",
        )
    return text


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    _fail(f"properties.{key}", f"expected true or false, got {_show(value)}")


def _number(value: Any, key: str) -> int | float:
    if _is_number(value):
        return value  # type: ignore[no-any-return]
    _fail(f"properties.{key}", f"expected a number, got {_show(value)}")


def _duration(value: Any, key: str) -> int | float:
    if _is_number(value) and value >= 0:
        return value  # type: ignore[no-any-return]
    _fail(f"properties.{key}", f"expected a number >= 0, got {_show(value)}")


def _choice(allowed: tuple[str, ...]) -> _Check:
    """A check for a case-insensitive vocabulary; the value is stored lowercased."""
    allowed_set = frozenset(allowed)
    listed = ", ".join(allowed)

    def check(value: Any, key: str) -> str:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in allowed_set:
                return word
            _fail(f"properties.{key}", f"{_quote(value)} is not allowed; allowed: {listed}")
        _fail(f"properties.{key}", f"expected a string, one of: {listed}; got {_show(value)}")

    return check


def _time(value: Any, key: str) -> str:
    return _timestamp(value, f"properties.{key}")


def _due(value: Any, key: str) -> str:
    """A task's due time, or a plain date (that day at midnight UTC)."""
    return _timestamp(value, f"properties.{key}", plain_date=True)


def _contact_email(value: Any, key: str) -> str:
    return _email(value, f"properties.{key}")


def _company_domain(value: Any, key: str) -> str:
    return _domain(value, f"properties.{key}")


def _check_meeting_times(properties: dict[str, Any]) -> None:
    start = properties.get("start")
    end = properties.get("end")
    if start is not None and end is not None and end < start:  # fixed-width UTC strings
        _fail("properties.end", f"{end} is before properties.start {start}")


_RECORD_FIELDS: dict[RecordType, _Typed] = {
    RecordType.CONTACT: _Typed("contact", {"email": _contact_email}),
    RecordType.COMPANY: _Typed("company", {"domain": _company_domain}),
    RecordType.DEAL: _Typed("deal", {"is_closed": _flag, "amount": _number}),
}

_ACTIVITY_FIELDS: dict[ActivityType, _Typed] = {
    ActivityType.CALL: _Typed(
        "call",
        {
            "direction": _choice(DIRECTIONS),
            "duration_s": _duration,
            "outcome": _choice(CALL_OUTCOMES),
            "recording_url": _text,
            "from_number": _text,
            "to_number": _text,
            "body": _text,
            "title": _text,
        },
    ),
    ActivityType.EMAIL: _Typed(
        "email",
        {
            "direction": _choice(EMAIL_DIRECTIONS),
            "subject": _text,
            "body": _text,
        },
    ),
    ActivityType.MEETING: _Typed(
        "meeting",
        {
            "title": _text,
            "body": _text,
            "start": _time,
            "end": _time,
            "outcome": _choice(MEETING_OUTCOMES),
        },
    ),
    ActivityType.TASK: _Typed(
        "task",
        {
            "subject": _text,
            "body": _text,
            "status": _choice(TASK_STATUSES),
            "priority": _choice(TASK_PRIORITIES),
            "due": _due,
        },
    ),
    ActivityType.NOTE: _Typed("note", {"body": _note_body}),
}


# ------------------------------------------------------------------ back to JSON


def _owner_to_json(owner: ExternalUserRef) -> str | dict[str, str]:
    if owner.email is None and owner.id is not None:
        return owner.id
    out: dict[str, str] = {}
    if owner.id is not None:
        out["id"] = owner.id
    if owner.email is not None:
        out["email"] = owner.email
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
