"""Outreach's relationships, read alike wherever the Outreach adapter reads one (``owner``,
``user``, ``prospect``, ``account``, ``opportunity``, ``stage``).

Two forms arrive: JSON:API's ``"owner": {"data": {"type": "user", "id": 4}}`` and the flat
``"owner": {"type": "owner", "id": 4}`` some deliveries carry (the ``type`` is not checked).
``"data": null``, a flat ``"id": null`` or the relationship itself null empties it; an object
with only ``links`` or ``meta`` names nothing. Any other shape (a to-many array, ``data``
that is an array, an object naming no id, a bare value) is an EventError naming the
relationship's path and the allowed forms: the row becomes a dead letter rather than an event
that silently lost its owner or its prospect. Pure, like the adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsync.sources.base import describe, obj, refuse, text

__all__ = ["LINKS_ONLY", "RELATION_FORMS", "links", "relation"]

#: The relationship forms Outreach sends (JSON:API, and flat as in some deliveries).
RELATION_FORMS = "{data: {type, id}} or {type, id} or null"
#: Keys of a JSON:API relationship that names nothing (no ``data``).
LINKS_ONLY = frozenset({"links", "meta"})


def relation(item: Any, name: str) -> tuple[bool, str | None]:
    """Whether relationship ``name`` is in the event, and the id it points to (None: emptied).

    Two forms are read (see :data:`RELATION_FORMS`): JSON:API's ``{"data": {"type", "id"}}``
    (``"data": null`` empties it; an object with only ``links`` or ``meta`` says nothing) and
    the flat ``{"type", "id"}`` (``"id": null``, or the relationship itself null, empties it).
    Any other shape (a to-many array, an object naming no id, a bare value) is an EventError
    naming the path: a relationship is never dropped because its shape is new.
    """
    relationships = obj(item, "data.relationships")
    if relationships is None or name not in relationships:
        return False, None
    path = f"data.relationships.{name}"
    value = relationships[name]
    if value is None:
        return True, None
    if not isinstance(value, dict):
        refuse(path, f"expected {RELATION_FORMS}, got {describe(value)}")
    if "data" in value:
        target = value["data"]
        if target is None:
            return True, None
        if not isinstance(target, dict):
            refuse(path + ".data", f"expected {{type, id}} or null, got {describe(target)}")
        return True, _relation_id(item, path + ".data")
    if "id" in value:
        return True, None if value["id"] is None else _relation_id(item, path)
    if set(value) <= LINKS_ONLY:
        return False, None
    keys = ", ".join(sorted(str(k) for k in value)[:5])
    refuse(path, f"expected {RELATION_FORMS}, got an object with keys {keys}")


def _relation_id(item: Any, path: str) -> str:
    """The ``id`` of a resource identifier at ``path`` (an integer or a string)."""
    return text(item, path + ".id") or refuse(path + ".id", "required: the related record's id")


def links(item: Any, relations: Mapping[str, str]) -> list[dict[str, str]]:
    """The records the relationships ``relations`` (name -> canonical record type) name, as
    canonical associations; an emptied or absent relationship names none."""
    found = []
    for name, record in relations.items():
        target = relation(item, name)[1]
        if target is not None:
            found.append({"object": record, "external_id": target})
    return found
