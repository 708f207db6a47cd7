"""A contact's or lead's phone numbers as people are shown them: each entry of the phone
index (``record_phones``) named by :func:`leadsync.rules.records.indexed_as` — the property
it is, or stands beside with the integration that gave it — never by its internal name
(``mobilephone+1``). What the health report's unreadable numbers, ``records show`` (its
text and JSON, the admin API's record) and the console's record page list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.rules.records import PHONE_SOURCES, indexed_as
from leadsync.store import review as review_store


def sources_in(properties: Any) -> Any:
    """A record's :data:`~leadsync.rules.records.PHONE_SOURCES` (None: none)."""
    return properties.get(PHONE_SOURCES) if isinstance(properties, Mapping) else None


def entry(index: str, properties: Any) -> dict[str, Any]:
    """An entry of the phone index (``index``, of the record with ``properties``) in JSON:
    ``property`` (the phone property, never the internal name), ``kept_beside`` and
    ``integration`` (who gave a number kept beside), and ``shown_as``, the same in words
    (``mobilephone (kept beside, from calendly)``)."""
    shown_as = indexed_as(index, sources_in(properties))
    return {**shown_as.fields(), "shown_as": shown_as.text()}


def record_phones(connection: Connection, record_id: int, properties: Any) -> list[dict[str, Any]]:
    """A record's phone numbers (:func:`entry`, with the ``number`` as stored — E.164, else
    as given — and ``readable``: whether it reads as a number, so calls can find the person
    by it), a property's own before those kept beside it."""
    return [
        {
            **entry(row["property"], properties),
            "number": row["number"],
            "readable": bool(row["valid"]),
        }
        for row in review_store.phones_of(connection, record_id)
    ]


def phones_text(phones: list[Mapping[str, Any]]) -> str:
    """A record's phone numbers on one line: ``mobilephone +14155550142, mobilephone (kept
    beside, from calendly) +14155550177``, one that does not read as a number marked."""
    return ", ".join(
        f"{p['shown_as']} {p['number']}" + ("" if p["readable"] else " (not readable as a number)")
        for p in phones
    )
