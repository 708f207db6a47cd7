"""The base of every result a face shows: preview, replay, report, undo, test lead, ingest.

A result is a pydantic model whose JSON form is ``model_dump(mode="json")``: the CLI's
``--json``, the admin API's responses (and their OpenAPI schemas) and the console all read
that one serialization, so a result's shape is declared once, by its fields. Where a Python
attribute keeps an older or clearer name than its JSON key, the field's alias is the JSON key
and the model serializes by alias; computed fields (``@computed_field``) are JSON keys worked
out from the others.

:func:`counted` is how every face says a count in words (``1 alert``, ``2 alerts``), and
:func:`plain` a value (``yes``, not ``True``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ResultModel(BaseModel):
    """A result: built by its producer field by field (names or aliases), serialized by
    alias. Not validated on assignment: producers fill it in as they go."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` with the noun that goes with it, for people: ``1 alert``, ``0 alerts``,
    ``12,000 lines``. ``plural`` is for a noun whose plural is not ``noun + "s"``
    (``counted(n, "activity", "activities")``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


def agreeing(n: int, one: str, many: str) -> str:
    """The verb that agrees with a count (``1 question waits``, ``2 questions wait``)."""
    return one if n == 1 else many


def plain(value: Any) -> str:
    """A value for people, never a Python repr: ``none``, ``yes``/``no``, ``3`` for 3.0, a
    record as ``contact 12``, a list joined with commas."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict) and set(value) >= {"type", "id"}:
        return f"{value['type']} {plain(value['id'])}"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    return str(value)
