"""Record fields: the core columns of a record (email, domain, name, stage, closed) follow
its properties, by type.

Pure: the merged properties and the current fields in, the new fields out. The engine keeps
its email and domain indexes in step when these change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.model import RecordType
from leadsync.values import PhoneNumber, read_phone

# The properties that hold a person's phone numbers (HubSpot's names; adapters map theirs
# onto these), and the record types whose numbers identify them.
PHONE_PROPERTIES = ("phone", "mobilephone")
PHONE_RECORD_TYPES = (RecordType.CONTACT, RecordType.LEAD)


@dataclass(frozen=True, slots=True)
class CoreFields:
    """The columns a record's properties decide (what lookups, lists and the push read)."""

    email: str | None = None
    domain: str | None = None
    name: str | None = None
    stage: str | None = None
    is_closed: bool | None = None


def core_fields(
    record_type: RecordType, properties: Mapping[str, Any], current: CoreFields
) -> CoreFields:
    """The core fields after ``properties`` (all the record's properties, merged): a value the
    properties do not give (or give empty) leaves the current one, so a partial update never
    blanks a field. A contact's name is its first and last names, else ``name``; a deal's
    name and stage also come from HubSpot's ``dealname``/``dealstage``; a ticket's or lead's
    from ``subject``/``status``. Only a contact has an email and only a company a domain."""
    email, domain, name, stage, is_closed = (
        current.email,
        current.domain,
        current.name,
        current.stage,
        current.is_closed,
    )
    get = properties.get
    if record_type is RecordType.CONTACT:
        email = get("email") or email
        first, last = get("firstname"), get("lastname")
        name = " ".join(str(p) for p in (first, last) if p) or get("name") or name
    elif record_type is RecordType.COMPANY:
        domain = get("domain") or domain
        name = get("name") or name
    elif record_type is RecordType.DEAL:
        name = get("name") or get("dealname") or name
        stage = get("stage") or get("dealstage") or stage
        if "is_closed" in properties:
            is_closed = properties["is_closed"]
    else:
        name = get("name") or get("subject") or name
        stage = get("stage") or get("status") or stage
    return CoreFields(email, domain, name, stage, is_closed)


def phones(
    record_type: RecordType | str, properties: Mapping[str, Any], region: str | None
) -> dict[str, PhoneNumber | None]:
    """The phone numbers ``properties`` give a contact or lead, by property, read in
    ``region`` (the integration that sent them); a property given empty is None (the number
    is removed). Nothing for other record types or when no phone property is given."""
    if record_type not in PHONE_RECORD_TYPES:
        return {}
    return {
        prop: read_phone(properties[prop], region)
        for prop in PHONE_PROPERTIES
        if prop in properties
    }


def phone_rows(
    record_id: int, record_type: str, properties: Mapping[str, Any], region: str | None
) -> list[dict[str, Any]]:
    """The ``record_phones`` rows of a contact's or lead's phone properties."""
    return [
        {
            "record_id": record_id,
            "property": prop,
            "record_type": record_type,
            "number": phone.key,
            "valid": phone.number is not None,
        }
        for prop, phone in phones(record_type, properties, region).items()
        if phone is not None
    ]
