"""Aircall's phone lines ("numbers"): the company's own lines, as Aircall names them, read as
canonical ``line`` events (docs/FORMAT.md) so that a call to one of them is an internal call,
never a stranger's number to hold, ask about or make a contact of.

Aircall names a line in three places:

- every call event, ``data.number`` (the line the call was on): its ``digits`` become the
  call's ``line_number`` (:mod:`leadsync.sources.aircall`);
- ``number.created``, ``number.opened`` and ``number.closed`` (:data:`LINE_EVENTS`): the
  line itself, ``data`` being the number object (``id``, ``name``, ``digits``);
  ``number.deleted`` is read as nothing (a line deleted stays one of the company's: the
  calls it made were internal, and a number Aircall gives back names nobody else soon);
- the user events of V1 (``user.created``, ``user.connected`` …): ``data.numbers``, the
  lines the user is on (V2's user object has none).

A line without digits (``null``) names nothing to learn: it gives no event. A line's ``name``
only labels it: one that is not a string is left out (:mod:`leadsync.sources.forms`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadsync.errors import EventError
from leadsync.sources.base import describe, get_path, refuse, text
from leadsync.sources.forms import lenient_string, phone

__all__ = ["LINE_EVENTS", "line_event", "user_lines"]

#: The events of a phone line that say it is one of the company's (its number object).
LINE_EVENTS = ("number.created", "number.opened", "number.closed")


def line_event(body: dict[str, Any], event_id: str, at: str) -> list[dict[str, Any]]:
    """A ``number.*`` event's line (``data``), as a canonical line event."""
    line = _line(get_path(body, "data"), "data", event_id, at)
    return [] if line is None else [line]


def user_lines(body: dict[str, Any], event_id: str, at: str) -> list[dict[str, Any]]:
    """The lines of a V1 user event's ``data.numbers``, one line event each (ids
    ``<event id>#line<index>``), in list order."""
    numbers = get_path(body, "data.numbers")
    if numbers is None:
        return []
    if not isinstance(numbers, list):
        refuse("data.numbers", f"must be an array of phone lines, got {describe(numbers)}")
    found = []
    for index, number in enumerate(numbers):
        line = _line(number, f"data.numbers.{index}", f"{event_id}#line{index}", at)
        if line is not None:
            found.append(line)
    return found


def _line(number: Any, path: str, event_id: str, at: str) -> dict[str, Any] | None:
    """The line ``number`` (a number object at ``path``), or None when it has no digits."""
    if not isinstance(number, dict):
        refuse(path, f"must be an object (a phone line: id, name, digits), got {describe(number)}")
    wrapped = {"line": number}  # the readers take a path into an object
    digits = _named(phone, wrapped, path, "digits")
    if digits is None:
        return None
    properties = {"number": digits}
    name = lenient_string(number, "name")  # only labels the line: another type is none
    if name is not None:
        properties["name"] = name
    event: dict[str, Any] = {
        "id": event_id,
        "occurred_at": at,
        "type": "line",
        "properties": properties,
    }
    line_id = _named(text, wrapped, path, "id")
    if line_id is not None:
        event["external_id"] = line_id
    return event


def _named(
    read: Callable[[Any, str], str | None], wrapped: dict[str, Any], path: str, key: str
) -> str | None:
    """``read`` of the line's ``key``, its error naming the field's path in the body."""
    try:
        return read(wrapped, f"line.{key}")
    except EventError as exc:
        raise EventError(str(exc).replace('"line.', f'"{path}.', 1)) from None
