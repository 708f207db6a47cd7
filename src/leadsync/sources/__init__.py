"""Sources turn what a tool sends into canonical events; one module per kind of tool.

A source's parser takes one stored payload (a line of the inbox) and returns the event, or
raises :class:`leadsync.errors.EventError` naming the field and what is allowed.
"""

from __future__ import annotations

from collections.abc import Callable

from leadsync.errors import EventError
from leadsync.model import Event
from leadsync.sources import generic

Parser = Callable[[str, str, int, str | None], Event]

PARSERS: dict[str, Parser] = {"generic": generic.parse_line}


def parser_for(kind: str) -> Parser:
    try:
        return PARSERS[kind]
    except KeyError:
        allowed = ", ".join(sorted(PARSERS))
        raise EventError(f"integration kind {kind!r} has no parser; allowed: {allowed}") from None
