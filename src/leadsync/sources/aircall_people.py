"""Aircall's contacts and users, and the readers its calls share with them (an agent, a
contact's first email, the texts of a list): the contact events' records with their whole
list of numbers, the user events' external users (docs/WEBHOOKS.md, "aircall"). Used by
:mod:`leadsync.sources.aircall`, the adapter."""

from __future__ import annotations

from typing import Any

from leadsync.model import OTHER_PHONES, PHONE_PROPERTIES
from leadsync.sources.base import (
    describe,
    email_or_none,
    get_path,
    obj,
    refuse,
    rep_name,
    string,
    text,
)
from leadsync.sources.forms import lenient_string, phone_value

__all__ = [
    "MOBILE_LABEL",
    "contact_event",
    "contact_phones",
    "entries",
    "first_email",
    "line_users",
    "person",
    "texts_in",
    "user_event",
]

#: The ``label`` (compared lowercased) of a contact's mobile number in ``phone_numbers``.
MOBILE_LABEL = "mobile"


def contact_event(body: dict[str, Any], event_id: str, at: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for key, path in (
        ("firstname", "data.first_name"),
        ("lastname", "data.last_name"),
        ("company", "data.company_name"),
    ):
        value = string(body, path)
        if value is not None:
            properties[key] = value
    email = first_email(body, "data.emails")
    if email is not None:
        properties["email"] = email
    properties.update(contact_phones(body, "data.phone_numbers"))
    return {
        "id": event_id,
        "occurred_at": at,
        "type": "record",
        "object": "contact",
        "external_id": text(body, "data.id", required=True),
        "properties": properties,
    }


def contact_phones(body: dict[str, Any], path: str) -> dict[str, str | None]:
    """The phone properties of a contact's ``phone_numbers`` (``[{label, value}]``): the
    first number labelled Mobile (:data:`MOBILE_LABEL`, any case) is the ``mobilephone``, the
    first other one the ``phone``, the numbers after them ``other_phone_1``… in list order
    (the first five: ``model.OTHER_PHONES``); each number as given, trimmed. A label only
    names its number: one that is not a string is no label (the number is not the mobile),
    never a refusal of the contact (:func:`~leadsync.sources.forms.lenient_string`). The list
    is the contact's whole list (``phone_list_complete``): when the payload has it, every phone
    property is given, null where it has no such number (an empty list: all null), so a
    number removed in Aircall is removed from the contact; no list (the key absent, or
    null) gives none."""
    items = get_path(body, path)
    if items is None:
        return {}
    for index, element in enumerate(items if isinstance(items, list) else []):
        if isinstance(element, dict):  # a number as text (forms.phone_value), named by entry
            phone_value(element.get("value"), f"{path}.{index}.value")
    phones: dict[str, str | None] = dict.fromkeys(PHONE_PROPERTIES)
    others = iter(OTHER_PHONES)
    for _where, element, value in entries(body, path, "value"):
        mobile = (lenient_string(element, "label") or "").lower() == MOBILE_LABEL
        prop = "mobilephone" if mobile else "phone"
        if phones[prop] is None:
            phones[prop] = value
        elif (other := next(others, None)) is not None:
            phones[other] = value
    return phones


def user_event(body: dict[str, Any], event_id: str, at: str) -> dict[str, Any] | None:
    """A V1 or V2 user event: both name the user by ``data.id`` with ``email`` and ``name``
    (V2 drops ``numbers`` and may add ``availability_status``, ``substatus``,
    ``last_call_id``, which say nothing about who the user is)."""
    user = person(body, "data")
    if user is None or "id" not in user:
        return None
    event: dict[str, Any] = {"id": event_id, "occurred_at": at, "type": "user", "owner": user}
    name = lenient_string(body, "data.name")  # only names the user, as ``person``'s name
    if name is not None:
        event["properties"] = {"name": name}
    return event


def line_users(body: dict[str, Any], event_id: str, at: str) -> list[dict[str, Any]]:
    """The users a ``number.*`` event's line lists (``data.users``: who takes its calls, each
    with ``id``, ``email`` and ``name``), one user event each (ids ``<event id>#user<index>``,
    in list order): the directory learns them as from their own events. An entry naming
    nobody (no id or email) gives none; one that is not an object is refused, naming it."""
    users = get_path(body, "data.users")
    if users is None:
        return []
    if not isinstance(users, list):
        refuse("data.users", f"must be an array of users, got {describe(users)}")
    found = []
    # The entries by their index as a key: ``person`` reads paths of objects, and names its
    # field as data.users.<index>.<key>.
    view = {"data": {"users": {str(index): entry for index, entry in enumerate(users)}}}
    for index, entry in enumerate(users):
        path = f"data.users.{index}"
        if not isinstance(entry, dict):
            refuse(path, f"must be an object (a user: id, email, name), got {describe(entry)}")
        user = person(view, path)
        if user is not None and "id" in user:
            found.append(
                {"id": f"{event_id}#user{index}", "occurred_at": at, "type": "user", "owner": user}
            )
    return found


def person(body: dict[str, Any], path: str) -> dict[str, str] | None:
    """An Aircall user at ``path`` as ``{"id", "email", "name"}`` (what it has), or None; the
    name only alongside an id or an email (it names the rep, it is not the rep)."""
    if obj(body, path) is None:
        return None
    found = {
        key: value
        for key, value in (
            ("id", text(body, f"{path}.id")),
            ("email", email_or_none(string(body, f"{path}.email"))),
        )
        if value is not None
    }
    if not found:
        return None
    name = rep_name(get_path(body, f"{path}.name"))
    if name is not None:
        found["name"] = name
    return found


def first_email(body: dict[str, Any], path: str) -> str | None:
    """The first of the ``value`` strings in the array at ``path`` that is an email address
    (:func:`leadsync.sources.base.email_or_none`: a contact's ``n/a`` does not refuse it)."""
    for value in texts_in(body, path, "value"):
        if (email := email_or_none(value)) is not None:
            return email
    return None


def texts_in(body: dict[str, Any], path: str, field: str) -> list[str]:
    """The non-empty ``field`` strings of the objects in the array at ``path``
    (``data.tags`` -> tag names); errors name the element (``data.tags.0.name``)."""
    return [value for _, _, value in entries(body, path, field)]


def entries(body: dict[str, Any], path: str, field: str) -> list[tuple[str, dict[str, Any], str]]:
    """``(where, object, value)`` of each object in the array at ``path`` whose ``field`` is a
    non-empty string (trimmed); ``where`` is the element's path (``data.tags.0``)."""
    items = get_path(body, path)
    if items is None:
        return []
    if not isinstance(items, list):
        refuse(path, f"must be an array, got {describe(items)}")
    found: list[tuple[str, dict[str, Any], str]] = []
    for index, element in enumerate(items):
        where = f"{path}.{index}"
        if not isinstance(element, dict):
            refuse(where, f"must be an object, got {describe(element)}")
        value = element.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            refuse(f"{where}.{field}", f"must be a string, got {describe(value)}")
        if value.strip():
            found.append((where, element, value.strip()))
    return found
