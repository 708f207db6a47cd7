"""The events of a body of several (a HubSpot batch, a Salesforce ``notifications`` list, a
relayed array of change events), each taken on its own as the body is cut.

An element that cannot be identified (no ``eventId``, no time, not an object, …) is a
:class:`Refused`: it names the element by its index and the field
(``field "[1].eventId": required``) and holds the element as a body of its own, in the text a
dead letter keeps (:meth:`leadsync.sources.base.Adapter.alone`): retried, it is read as a
request is. The elements beside it are cut as usual; only a body none of whose elements can
be identified is refused whole.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True, slots=True)
class Refused:
    """Element ``index`` (from 0) of a body of several that cannot be identified: why
    (``error``, its fields named as the body's), and ``text``, the element as a body of its own
    (a JSON array of that one event; an envelope ``{"headers", "body"}`` when headers matter or
    the body is raw text, as ``leadsync ingest`` reads a line)."""

    index: int
    error: str
    text: str


def alone_text(body: Any, headers: dict[str, str]) -> str:
    """How a refused element kept as a body of its own (``body``: a JSON value, or raw text
    such as XML) is written in its dead letter: a line ``leadsync ingest`` and a retry read
    back as that request."""
    if not headers and not isinstance(body, str):
        return str(_ENCODER.encode(body))
    data = {"headers": headers, "body": body} if headers else {"body": body}
    return str(_ENCODER.encode(data))


# ``field "PATH": …`` or ``fields "A", "B": …``, as adapters (base.refuse) and the canonical
# format name what is wrong.
_FIELDS = re.compile(r'(fields?) ("[^"]*"(?:, "[^"]*")*): ')
_FIELD = re.compile(r'"([^"]*)"')


def in_element(detail: str, index: int, container: str = "") -> str:
    """An error about one element of an array body, its field paths made the body's:
    ``field "propertyValue": …`` of element 1 is ``field "[1].propertyValue": …`` (as the
    adapters name a field of an array body: ``field "[3].eventId"``); an error that names no
    field is about the element itself (``field "[1]": …``). ``container``: the path of the
    elements in a body that is not an array (``notifications.Notification``: ``field
    "notifications.Notification[1].Id"``)."""
    element = f"{container}[{index}]"

    def prefixed(path: re.Match[str]) -> str:
        inner = path[1]
        if inner == "(body)":
            return f'"{element}"'
        return f'"{element}{inner}"' if inner.startswith("[") else f'"{element}.{inner}"'

    found = _FIELDS.match(detail)
    if found is None:
        return f'field "{element}": {detail}'
    paths = _FIELD.sub(prefixed, found[2])
    return f"{found[1]} {paths}: {detail[found.end() :]}"
