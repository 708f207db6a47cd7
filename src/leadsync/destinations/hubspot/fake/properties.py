"""Properties: definitions (read, create, added by an admin) and the checks HubSpot makes
on the property values of one write input (unknown, read-only, type, option, email, owner,
required, unique).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from leadsync.destinations.hubspot.fake.catalog import (
    ACTIVITY_TYPES,
    READ_ONLY,
    SINGULAR,
    property_json,
)
from leadsync.destinations.hubspot.fake.core import DoubleCore, unique_key
from leadsync.destinations.hubspot.fake.state import (
    Answer,
    InputError,
    StoredObject,
    as_number,
    iso_time,
    time_ms,
)


class PropertiesMixin(DoubleCore):
    """Property definitions and the value checks of writes."""

    def add_property(
        self,
        object_type: str,
        name: str,
        *,
        label: str | None = None,
        type: str = "string",
        field_type: str = "text",
        unique: bool = False,
        options: Iterable[str | tuple[str, str]] = (),
    ) -> dict[str, Any]:
        """Add a property as a HubSpot admin would (ValueError if it exists); an option is its
        internal value, or (value, label)."""
        with self._lock:
            defs = self._defs(object_type)
            if name in defs:
                raise ValueError(f"{object_type} has a property {name!r} already")
            defs[name] = property_json(
                object_type,
                name,
                label or name,
                type,
                field_type,
                unique=unique,
                options=tuple(options),
                created=iso_time(self._wall_clock()),
            )
            if unique:
                self._unique[(object_type, name)] = {}
            return dict(defs[name])

    def add_option(self, object_type: str, name: str, value: str, label: str) -> None:
        """Add an option to a dropdown as a HubSpot admin would (KeyError: no property)."""
        with self._lock:
            options = self._defs(object_type)[name]["options"]
            order = len(options)
            options.append({"label": label, "value": value, "displayOrder": order, "hidden": False})

    def _read_property(self, object_type: str, name: str) -> Answer:
        prop = self._properties[object_type].get(name)
        if prop is None:
            return self._error(
                404,
                "OBJECT_NOT_FOUND",
                f"Unable to find property {name} for object type {object_type}",
            )
        return Answer(200, dict(prop))

    def _create_property(self, object_type: str, body: Any) -> Answer:
        defs = self._properties[object_type]
        name = body["name"]
        if name in defs:
            return self._error(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"Property named '{name}' already exists.",
                context={"name": [name]},
            )
        options = [(o["value"], o.get("label") or o["value"]) for o in body.get("options", [])]
        defs[name] = property_json(
            object_type,
            name,
            body["label"],
            body["type"],
            body["fieldType"],
            unique=bool(body.get("hasUniqueValue", False)),
            options=options,
            created=iso_time(self._wall_clock()),
        )
        defs[name]["groupName"] = body["groupName"]
        defs[name]["description"] = body.get("description", "")
        if defs[name]["hasUniqueValue"]:
            self._unique[(object_type, name)] = {}
        return Answer(201, dict(defs[name]))

    def _check_write(
        self,
        object_type: str,
        props: dict[str, str],
        current: StoredObject | None,
        staged: dict[tuple[str, str], dict[str, str]],
        new_id: str,
    ) -> InputError | None:
        """What HubSpot would refuse in one input's properties (None: nothing). ``current``
        is the object being updated (None: a create); ``staged`` holds the unique values of
        earlier inputs of the same batch, ``new_id`` the id this input writes."""
        defs = self._properties[object_type]
        invalid: list[dict[str, Any]] = []

        def refuse(name: str, code: str, message: str) -> None:
            invalid.append(
                {
                    "isValid": False,
                    "message": message,
                    "error": code,
                    "name": name,
                    "localizedErrorMessage": message,
                }
            )

        for name, value in props.items():
            prop = defs.get(name)
            if prop is None:
                refuse(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            elif name in READ_ONLY:
                refuse(
                    name,
                    "READ_ONLY_VALUE",
                    f"{name} is a read only property; its value cannot be set.",
                )
            elif value == "":
                continue
            elif object_type == "contacts" and name == "email" and not _email_ok(value):
                refuse(name, "INVALID_EMAIL", f"Email address {value} is invalid")
            elif name == "hubspot_owner_id":
                if value not in self._owners:
                    refuse(name, "INVALID_OWNER_ID", f"{value} was not a valid owner id")
            elif prop["type"] == "number" and as_number(value) is None:
                refuse(name, "INVALID_FLOAT", f"{value} was not a valid number.")
            elif prop["type"] in ("datetime", "date") and time_ms(value) is None:
                refuse(name, "INVALID_DATE", f"{value} was not a valid date.")
            elif prop["type"] == "bool" and value.lower() not in ("true", "false"):
                refuse(name, "INVALID_BOOLEAN", f"{value} was not a valid boolean.")
            elif prop["type"] == "enumeration" and prop["options"]:
                allowed = [o["value"] for o in prop["options"]]
                if value not in allowed:
                    refuse(
                        name,
                        "INVALID_OPTION",
                        f"{value} was not one of the allowed options: {allowed}",
                    )
        if invalid:
            return InputError(
                400,
                "VALIDATION_ERROR",
                "Property values were not valid: " + json.dumps(invalid),
                [
                    {
                        "message": i["message"],
                        "code": i["error"],
                        "context": {"propertyName": [i["name"]]},
                    }
                    for i in invalid
                ],
            )
        if current is None:
            required = []
            if object_type in ACTIVITY_TYPES and not props.get("hs_timestamp"):
                required.append("hs_timestamp")
            if object_type == "leads" and not props.get("hs_lead_name"):
                required.append("hs_lead_name")
            if required:
                # Assumed wording and code; HubSpot documents only that these are required.
                return InputError(
                    400,
                    "VALIDATION_ERROR",
                    f"Missing required propert{'ies' if len(required) > 1 else 'y'}: "
                    + ", ".join(required),
                    [
                        {
                            "message": f"{n} is required",
                            "code": "REQUIRED_PROPERTY",
                            "context": {"propertyName": [n]},
                        }
                        for n in required
                    ],
                )
        for name, value in props.items():
            if value == "" or not self._is_unique(object_type, name):
                continue
            key = unique_key(name, value)
            holder = self._by_unique(object_type, name, value)
            holder_id = (
                holder.id if holder is not None else staged.get((object_type, name), {}).get(key)
            )
            if holder_id is not None and holder_id != new_id:
                if object_type == "contacts" and name == "email":
                    message = f"Contact already exists. Existing ID: {holder_id}"
                    return InputError(409, "CONFLICT", message)
                # A unique property other than a contact's email: a VALIDATION_ERROR coded
                # CONFLICTING_UNIQUE_VALUE that names no object (the code and category as
                # HubSpot's own clients read them; the words assumed).
                taken = {
                    "isValid": False,
                    "message": f'A {SINGULAR[object_type]} with {name} "{value}" already exists',
                    "error": "CONFLICTING_UNIQUE_VALUE",
                    "name": name,
                }
                return InputError(
                    400,
                    "VALIDATION_ERROR",
                    "Property values were not valid: " + json.dumps([taken]),
                    [
                        {
                            "message": taken["message"],
                            "code": taken["error"],
                            "context": {"propertyName": [name]},
                        }
                    ],
                )
        for name, value in props.items():
            if value != "" and self._is_unique(object_type, name):
                key = unique_key(name, value)
                staged.setdefault((object_type, name), {})[key] = new_id
        return None

    def _injected(self) -> InputError | None:
        rate = self._faults.partial_207_rate
        if rate and self._random.random() < rate:
            return InputError(
                400,
                "VALIDATION_ERROR",
                "The stand-in failed this input on purpose (partial_207_rate); the others "
                "were applied.",
            )
        return None


def _email_ok(value: str) -> bool:
    """Whether HubSpot takes ``value`` as a contact's email. HubSpot answers INVALID_EMAIL
    ("Email address ... is invalid") for one without an ``@`` or without a part on either
    side of it. Assumed: also for whitespace, a second ``@``, and a domain without a dot or
    with an empty label (no top-level domain)."""
    local, at, domain = value.partition("@")
    if not at or not local or "@" in domain or any(c.isspace() for c in value):
        return False
    labels = domain.split(".")
    return len(labels) >= 2 and all(labels)
