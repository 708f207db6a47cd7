"""Record fields: the core columns of a record (email, domain, name, stage, closed) follow
its properties, by type.

Pure: the merged properties and the current fields in, the new fields out. The engine keeps
its email and domain indexes in step when these change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.model import PHONE_PROPERTIES, RecordType, display_ts
from leadsync.values import PhoneNumber, read_phone

# The properties that hold a person's phone numbers (model.PHONE_PROPERTIES: adapters map
# theirs onto these), and the record types whose numbers identify them.
PHONE_RECORD_TYPES = (RecordType.CONTACT, RecordType.LEAD)


def gives_phones(properties: Mapping[str, Any]) -> bool:
    """Whether ``properties`` give (or clear) any phone number."""
    return any(prop in properties for prop in PHONE_PROPERTIES)


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


# ------------------------------------------------------------- who gave each number

# Who gave each phone number of a contact or lead, kept in its properties under this name
# (the push writes only the CRM properties it knows, so it never leaves leadsync): per phone
# property, ``{"number": its E.164 form (else as given; null once removed), "given_by": the
# integrations that gave it (null: not known, it was given before leadsync kept this),
# "why": its last change, for people}``. A tool that sends a person's whole list of numbers
# takes back only the numbers it gave (:func:`phone_changes`).
PHONE_SOURCES = "leadsync_phone_sources"

# What an event does to one phone property (:class:`PhoneChange`).
SET = "set"  # a (new) number: indexed
SAME = "same"  # the number it had, as it was written: only who gave it may change
REMOVED = "removed"  # the number is removed
KEPT = "kept"  # a whole-list tool has it no more, but it stays (others gave it, or not known)
NONE = "none"  # null where there was no number


@dataclass(frozen=True, slots=True)
class PhoneChange:
    """What an event does to one phone property of a contact or lead: ``outcome``, the
    number it has after (``SET``, ``SAME``), and the property's entry in
    :data:`PHONE_SOURCES` after it (None: unchanged)."""

    prop: str
    outcome: str
    phone: PhoneNumber | None = None
    source: dict[str, Any] | None = None


def phone_changes(
    properties: Mapping[str, Any],
    current: Mapping[str, Any],
    integration: str,
    whole_list: bool,
    region: str | None,
    at: str,
    made_by: str | None = None,
) -> list[PhoneChange]:
    """What the phone properties an event gives (``properties``, from ``integration``, read
    in ``region``) do to a contact's or lead's (``current``: all its properties; ``made_by``:
    the integration that made the record).

    A number is set, and ``integration`` is among those who gave it (the only one when the
    number is new). A property given empty removes the number — unless ``integration``
    sends the person's whole list of numbers (``whole_list``: the adapter's
    ``phone_list_complete``): then it only takes back what it gave, and the number stays
    while another integration gave it too. A number given before leadsync kept who gave
    numbers is taken to be from the integration that made the record, and kept otherwise."""
    changes: list[PhoneChange] = []
    when = display_ts(at)
    for prop in PHONE_PROPERTIES:
        if prop not in properties:
            continue
        given = properties[prop]
        old_text = current.get(prop)
        old = read_phone(old_text, region)
        entry = _source(current, prop)
        phone = read_phone(given, region)
        if phone is not None:
            same = old is not None and (old_text == given or old.key == phone.key)
            givers = [g for g in (entry or {}).get("given_by") or () if g != integration]
            if not same:
                source = _entry(phone.key, [integration], f"given by {integration} at {when}")
            elif entry is not None and integration in (entry.get("given_by") or ()):
                source = None  # given again by one that gave it: nothing new
            elif givers:
                source = _entry(
                    phone.key, [*givers, integration], f"{integration} gave it too at {when}"
                )
            else:
                source = _entry(phone.key, [integration], f"given by {integration} at {when}")
            outcome = SAME if old_text == given else SET
            changes.append(PhoneChange(prop, outcome, phone, source))
        elif old is None:
            changes.append(PhoneChange(prop, NONE))
        elif not whole_list:
            why = f"{old.key} removed at {when}: {integration} cleared it"
            changes.append(PhoneChange(prop, REMOVED, None, _entry(None, [], why)))
        else:
            changes.append(_taken_back(prop, old, entry, integration, when, made_by))
    return changes


def _taken_back(
    prop: str,
    old: PhoneNumber,
    entry: Mapping[str, Any] | None,
    integration: str,
    when: str,
    made_by: str | None,
) -> PhoneChange:
    """``integration``, which sends the person's whole list, has no number for ``prop`` any
    more: the number it had goes if ``integration`` was the only one that gave it."""
    givers = entry.get("given_by") if entry is not None else None
    removed = (
        f"{old.key} removed at {when}: {integration} sends the whole list of the person's "
        "numbers, and it is no longer on it"
    )
    if givers is None and made_by == integration:
        why = f"{removed} (given before leadsync kept who gives numbers; {integration} made it)"
        return PhoneChange(prop, REMOVED, None, _entry(None, [], why))
    if givers is None:
        why = (
            f"kept at {when}: {integration} no longer lists it, and who gave it is not known "
            f"(given before leadsync kept who gives numbers, to a record {integration} did not "
            "make)"
        )
        same = entry is not None and entry.get("number") == old.key
        return PhoneChange(prop, KEPT, None, None if same else _entry(old.key, None, why))
    others = [g for g in givers if g != integration]
    if not others:
        return PhoneChange(prop, REMOVED, None, _entry(None, [], removed))
    if len(others) == len(givers):
        return PhoneChange(prop, KEPT)  # not one it gave: nothing to take back
    why = f"kept at {when}: {integration} no longer lists it, but {' and '.join(others)} gave it"
    return PhoneChange(prop, KEPT, None, _entry(old.key, others, why))


def _source(current: Mapping[str, Any], prop: str) -> dict[str, Any] | None:
    """The property's entry in :data:`PHONE_SOURCES`, if it has one of that shape (the
    properties are free: an event could have put anything under that name)."""
    sources = current.get(PHONE_SOURCES)
    entry = sources.get(prop) if isinstance(sources, dict) else None
    if not isinstance(entry, dict):
        return None
    givers = entry.get("given_by")
    if givers is not None and not (
        isinstance(givers, list) and all(isinstance(g, str) for g in givers)
    ):
        return None
    return entry


def _entry(number: str | None, given_by: list[str] | None, why: str) -> dict[str, Any]:
    return {"number": number, "given_by": given_by, "why": why}
