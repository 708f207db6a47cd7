"""The other forms a vendor sends a value in, read by one reader each so that every adapter
takes all of them (docs/WEBHOOKS.md, "Field types").

What an adapter reads from a payload is one of three kinds, and each is read its own way:

- **What identifies the event** (its ids, its name, its time): read strictly by the readers
  of :mod:`.base`; a value of another type is the event's refusal (a dead letter) naming the
  field and what is allowed.
- **A value with another encoding whose meaning is unambiguous**: taken in each of them. A
  flag (:func:`flag`) is ``true``/``false``, ``1``/``0``, or one of those as a string
  (Pipedrive's v1 sends ``1``/``0`` where v2 sends booleans; a relay may write every
  scalar as a string); a number or a unix time may be a string of one
  (:func:`~.base.number`, :func:`~.base.time_from_epoch`, :func:`epoch_number`). Anything
  else is still refused, naming the field and these forms: a flag of ``"yes"`` is not
  guessed at.
- **A field that only labels or points at something** (a list entry's ``label``, a link to a
  recording, a location leadsync reads for one type alone, a display name): read by
  :func:`lenient_string`, for which a value of another type, or one under something that is
  not an object, is absent. The event is taken without it, and nothing is made up in its
  place (a ``voicemail`` of ``true`` is no voicemail link).

A **phone number** a record or a call keeps is read by :func:`phone` (:func:`phone_value`)
in every adapter: text, trimmed; a JSON number is refused, naming the field and why (a number
has no leading ``+`` or ``0``: ``+33 6 12 34 56 78`` sent as ``33612345678`` would be read in
the integration's region as another number, and numbers find records), as is any other type.
"""

from __future__ import annotations

import re
from typing import Any

from leadsync.sources.base import describe, get_path, refuse

__all__ = [
    "FLAG_FORMS",
    "epoch_number",
    "flag",
    "flag_value",
    "lenient_get",
    "lenient_string",
    "phone",
    "phone_value",
    "shown",
]

#: The forms of a flag every adapter reads (:func:`flag`), as error messages name them.
FLAG_FORMS = 'true or false (or 1 or 0, or one of them as a string: "true", "0")'
_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})
_EPOCH_TEXT = re.compile(r"\d+(\.\d+)?", re.ASCII)


def flag_value(value: Any) -> bool | None:
    """A flag in any of :data:`FLAG_FORMS` (a string trimmed, in any case); None for null and
    for anything else (``""``, ``"yes"``, ``2``, an object): the caller decides whether that
    is absent or a refusal."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return None


def flag(data: Any, path: str, required: bool = False) -> bool | None:
    """The flag at ``path`` (:func:`flag_value`); None when it is absent, null or an empty
    string (an EventError when ``required``). Any other value is an EventError naming the
    field and :data:`FLAG_FORMS`."""
    value = get_path(data, path)
    found = flag_value(value)
    if found is not None:
        return found
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            refuse(path, f"required: {FLAG_FORMS}")
        return None
    refuse(path, f"must be {FLAG_FORMS}, got {shown(value)}")


def shown(value: Any) -> str:
    """A value as a refusal shows it: a string (its first 40 characters) or a number itself,
    anything else by its kind (``an object``)."""
    if isinstance(value, str):
        return repr(value[:40])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value!r:.40}"
    return describe(value)


def epoch_number(value: Any) -> int | float | None:
    """A unix time as a number: a number (never a boolean) as it is, or a string of digits
    (with a decimal part or not, trimmed) as the number it spells (an integer stays one, so
    microseconds keep their precision); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _EPOCH_TEXT.fullmatch(raw := value.strip()):
        try:
            return float(raw) if "." in raw else int(raw)
        except ValueError:  # more digits than Python reads: no time, refused by the caller
            return None
    return None


def lenient_get(data: Any, path: str) -> Any:
    """The value at a dotted path, None where any step is missing or null, or is not an
    object (unlike :func:`~.base.get_path`, which refuses the step)."""
    current = data
    for step in path.split("."):
        if not isinstance(current, dict):
            return None
        current = current.get(step)
    return current


def lenient_string(data: Any, path: str) -> str | None:
    """A field that only labels or points at something (see the module docstring): its
    string, trimmed; None when it is empty, of another JSON type, or under something that is
    not an object."""
    value = lenient_get(data, path)
    if not isinstance(value, str):
        return None
    return value.strip() or None


#: Why a phone number sent as a JSON number is refused, as refusals say it.
PHONE_AS_NUMBER = "a JSON number has lost any leading + or 0, so its digits may be another number"


def phone_value(value: Any, path: str) -> str | None:
    """A phone number leadsync keeps (a record's phone property, a call's number, a line's
    digits), already taken from the payload at ``path``: a string, trimmed; None when it is
    null or blank. A JSON number is an EventError naming the field and :data:`PHONE_AS_NUMBER`
    (the one rule for every adapter, docs/WEBHOOKS.md "Field types"); any other type one naming
    the field."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        refuse(path, f"must be a string, got a number ({shown(value)}): {PHONE_AS_NUMBER}")
    refuse(path, f"must be a string, got {describe(value)}")


def phone(data: Any, path: str) -> str | None:
    """The phone number at ``path`` (:func:`phone_value`)."""
    return phone_value(get_path(data, path), path)
