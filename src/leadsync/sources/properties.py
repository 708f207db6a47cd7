"""The typed properties of the canonical format, near misses of them, and the value checks.

A record or activity type has a few *typed* properties the rules read (a call's
``duration_s``, a meeting's ``start``, a contact's ``email``): each is checked and normalized
here. Any other name is a *free* property, kept as it is — unless it is a near miss of a typed
one (a call's ``duration`` instead of ``duration_s`` would get past ``min_duration_s``
unseen), which is refused, naming the property meant. docs/FORMAT.md specifies both.

The event parser (:mod:`leadsync.sources.canonical`) shares the problem type and the value
checks defined here (an owner's email is checked like a contact's), so that a value is read
one way in the whole format.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
from collections.abc import Callable
from typing import Any, NoReturn

from leadsync.model import (
    CALL_OUTCOMES,
    DIRECTIONS,
    EMAIL_DIRECTIONS,
    EMAIL_OUTCOMES,
    MEETING_OUTCOMES,
    PHONE_PROPERTIES,
    TASK_PRIORITIES,
    TASK_STATUSES,
    TASK_TYPES,
    ActivityType,
    RecordType,
)
from leadsync.sources.forms import PHONE_AS_NUMBER
from leadsync.values import (
    normalize_domain,
    normalize_email,
    parse_time,
    valid_domain,
    valid_email,
)

__all__ = [
    "ACTIVITY_FIELDS",
    "MAX_DOMAIN_LENGTH",
    "MAX_EMAIL_LENGTH",
    "NEAR_MISS_CUTOFF",
    "NOTE_BODY_MAX",
    "RECORD_FIELDS",
    "Invalid",
    "TypedProperties",
    "check_domain",
    "check_email",
    "check_time_order",
    "check_timestamp",
    "fail",
    "near_miss",
    "parse_properties",
    "quote",
    "show",
]

NOTE_BODY_MAX = 65_536
# What the store keeps (see leadsync.store.schema): longer values are refused here, with the
# field named, rather than by the database.
MAX_EMAIL_LENGTH = 320
MAX_DOMAIN_LENGTH = 253

# Values of free properties that need no further look (float is checked for NaN/Infinity).
_PLAIN_TYPES = frozenset({str, int, bool, type(None)})


# ------------------------------------------------------------------ problems


class Invalid(Exception):
    """One problem in one event; ``canonical.parse_event`` adds the place and raises
    EventError."""


def fail(path: str, detail: str) -> NoReturn:
    raise Invalid(f'field "{path}": {detail}')


def show(value: Any) -> str:
    """A value as it was written in JSON, shortened for a message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def quote(text: str) -> str:
    """A string value quoted for a message, shortened."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


# ------------------------------------------------------------------ values


def check_timestamp(value: Any, path: str, plain_date: bool = False) -> str:
    """An ISO 8601 time with offset (``plain_date``: or ``YYYY-MM-DD``), as a canonical time."""
    try:
        return parse_time(value, plain_date=plain_date)
    except ValueError as exc:
        fail(path, str(exc))


def check_email(value: Any, path: str) -> str:
    if not isinstance(value, str):
        fail(path, f"expected an email address (text, e.g. kim@globex.test), got {show(value)}")
    email = normalize_email(value)
    if not valid_email(email):
        fail(
            path,
            f"{quote(value)} is not an email address (one @ with text on both sides, no spaces)",
        )
    if len(email) > MAX_EMAIL_LENGTH:
        fail(path, f"an email address has at most {MAX_EMAIL_LENGTH} characters")
    return email


def check_domain(value: Any, path: str) -> str:
    if not isinstance(value, str):
        fail(path, f"expected a domain (text, e.g. globex.test), got {show(value)}")
    domain = normalize_domain(value)
    if not valid_domain(domain):
        fail(path, f"{quote(value)} is not a domain (e.g. globex.test)")
    if len(domain) > MAX_DOMAIN_LENGTH:
        fail(path, f"a domain has at most {MAX_DOMAIN_LENGTH} characters")
    return domain


# ------------------------------------------------------------------ typed properties

# A typed field's check: (value, key) -> normalized value; never called with None.
_Check = Callable[[Any, str], Any]


NEAR_MISS_CUTOFF = 0.8
"""How alike (difflib's ratio, of names lowercased without ``_``, ``-``, ``.`` and spaces) a
free property's name may not be to a typed one's: ``duration``, ``Duration_S``, ``durationS``
and ``duration_ms`` are all taken for ``duration_s``; ``pipedrive_outcome`` is not."""


class TypedProperties(dict[str, _Check]):
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


#: The properties that hold a phone number, on whatever record or activity: a JSON number is
#: refused there, as every adapter refuses one (forms.phone; docs/WEBHOOKS.md "Field types").
PHONE_KEYS = frozenset({*PHONE_PROPERTIES, "from_number", "to_number", "line_number"})


def parse_properties(value: Any, fields: TypedProperties | None) -> dict[str, Any]:
    """A new properties dict: typed fields normalized, free ones checked and kept, near
    misses of typed ones refused."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        fail("properties", f"expected an object, got {show(value)}")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            fail("properties", f"property names must be non-empty strings, got {show(key)}")
        check = fields.get(key) if fields else None
        if (
            check is None
            and fields
            and (meant := near_miss(key, fields.names)) is not None
            and _fits(fields[meant], item, key)
        ):
            fail(
                f"properties.{key}",
                f"unknown property; did you mean {meant}? (typed {fields.label} properties: "
                f"{', '.join(fields.names)}; other names are free, but not one this close to "
                "a typed one)",
            )
        if key in PHONE_KEYS and type(item) in (int, float):
            fail(
                f"properties.{key}",
                f"expected a string, got a number ({show(item)}): {PHONE_AS_NUMBER}",
            )
        if item is not None:
            if check is not None:
                item = check(item, key)
            elif type(item) is int:
                item = _whole_in_range(item, key)
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
    except Invalid:
        return False
    return True


def _free_value(value: Any, key: str) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            fail(f"properties.{key}", f"expected a finite number, got {value!r}")
        return value
    if isinstance(value, str | int):  # bool is an int
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, str):
                fail(
                    f"properties.{key}[{index}]",
                    f"a list property may only hold strings, got {show(item)}",
                )
        return list(value)
    if isinstance(value, dict):
        detail = "nested objects are not allowed"
    else:
        detail = f"{type(value).__name__} is not allowed"
    fail(
        f"properties.{key}",
        f"{detail}; a property is a string, number, boolean, null or list of strings",
    )


# Whole numbers fit a signed 64-bit column (SQLite's INTEGER, PostgreSQL's bigint).
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (math.isfinite(value) if type(value) is not int else _INT_MIN <= value <= _INT_MAX)
    )


def _whole_in_range(value: int, key: str) -> int:
    if not _INT_MIN <= value <= _INT_MAX:
        fail(
            f"properties.{key}",
            f"whole number out of range ({len(str(abs(value)))} digits); allowed: "
            f"{_INT_MIN} to {_INT_MAX}",
        )
    return value


def _text(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    fail(f"properties.{key}", f"expected a string, got {show(value)}")


def _note_body(value: Any, key: str) -> str:
    text = _text(value, key)
    if len(text) > NOTE_BODY_MAX:
        fail(
            f"properties.{key}",
            f"too long: {len(text):,} characters; at most {NOTE_BODY_MAX:,}",
        )
    return text


def _flag(value: Any, key: str) -> bool:
    if isinstance(value, bool):
        return value
    fail(f"properties.{key}", f"expected true or false, got {show(value)}")


def _number(value: Any, key: str) -> int | float:
    if _is_number(value):
        return value  # type: ignore[no-any-return]
    if type(value) is int:
        _whole_in_range(value, key)
    fail(f"properties.{key}", f"expected a number, got {show(value)}")


def _duration(value: Any, key: str) -> int | float:
    if _is_number(value) and value >= 0:
        return value  # type: ignore[no-any-return]
    if type(value) is int and value >= 0:
        _whole_in_range(value, key)
    fail(f"properties.{key}", f"expected a number >= 0, got {show(value)}")


def _choice(allowed: tuple[str, ...]) -> _Check:
    """A check for a case-insensitive vocabulary; the value is stored lowercased."""
    allowed_set = frozenset(allowed)
    listed = ", ".join(allowed)

    def check(value: Any, key: str) -> str:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in allowed_set:
                return word
            fail(f"properties.{key}", f"{quote(value)} is not allowed; allowed: {listed}")
        fail(f"properties.{key}", f"expected a string, one of: {listed}; got {show(value)}")

    return check


def _time(value: Any, key: str) -> str:
    return check_timestamp(value, f"properties.{key}")


def _due(value: Any, key: str) -> str:
    """A time, or a plain date (that day at midnight UTC): a task's due, a deal's close."""
    return check_timestamp(value, f"properties.{key}", plain_date=True)


def _contact_email(value: Any, key: str) -> str:
    return check_email(value, f"properties.{key}")


def _company_domain(value: Any, key: str) -> str:
    return check_domain(value, f"properties.{key}")


#: Times of one activity type that follow each other: (earlier, later).
ORDERED_TIMES = {
    ActivityType.MEETING: ("start", "end"),
    ActivityType.CALL: ("answered_at", "ended_at"),
}


def check_time_order(activity: ActivityType, properties: dict[str, Any]) -> None:
    """A meeting's ``end`` not before its ``start``, a call's ``ended_at`` not before its
    ``answered_at``, when one event gives both."""
    pair = ORDERED_TIMES.get(activity)
    if pair is None:
        return
    first, then = (properties.get(name) for name in pair)
    if first is not None and then is not None and then < first:  # fixed-width UTC strings
        fail(f"properties.{pair[1]}", f"{then} is before properties.{pair[0]} {first}")


RECORD_FIELDS: dict[RecordType, TypedProperties] = {
    RecordType.CONTACT: TypedProperties("contact", {"email": _contact_email}),
    RecordType.COMPANY: TypedProperties("company", {"domain": _company_domain}),
    RecordType.DEAL: TypedProperties(
        "deal", {"is_closed": _flag, "amount": _number, "closedate": _due}
    ),
}

ACTIVITY_FIELDS: dict[ActivityType, TypedProperties] = {
    ActivityType.CALL: TypedProperties(
        "call",
        {
            "direction": _choice(DIRECTIONS),
            "duration_s": _duration,
            "outcome": _choice(CALL_OUTCOMES),
            "recording_url": _text,
            "from_number": _text,
            "to_number": _text,
            "line_number": _text,
            "body": _text,
            "title": _text,
            "answered_at": _time,
            "ended_at": _time,
        },
    ),
    ActivityType.EMAIL: TypedProperties(
        "email",
        {
            "direction": _choice(EMAIL_DIRECTIONS),
            "subject": _text,
            "body": _text,
            "outcome": _choice(EMAIL_OUTCOMES),
        },
    ),
    ActivityType.MEETING: TypedProperties(
        "meeting",
        {
            "title": _text,
            "body": _text,
            "start": _time,
            "end": _time,
            "outcome": _choice(MEETING_OUTCOMES),
        },
    ),
    ActivityType.TASK: TypedProperties(
        "task",
        {
            "subject": _text,
            "body": _text,
            "status": _choice(TASK_STATUSES),
            "priority": _choice(TASK_PRIORITIES),
            "task_type": _choice(TASK_TYPES),
            "due": _due,
        },
    ),
    ActivityType.NOTE: TypedProperties("note", {"body": _note_body}),
}
