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
