"""A contact's or lead's phone numbers as a batch changes them: the batch's phone index
follows, and the activities held for a number a record gets attach to it
(:func:`leadsync.engine.counterparts.attach_held`). Pure, over a
:class:`~leadsync.engine.decide.BatchDecider`, like the rest of the decide step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from leadsync.engine import counterparts
from leadsync.engine.state import RecordState, note
from leadsync.rules import counterparts as rules
from leadsync.rules import records as records_rules
from leadsync.rules.records import PHONE_RECORD_TYPES, PHONE_SOURCES
from leadsync.sources import adapter_class
from leadsync.values import PhoneNumber, read_phone

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


def take_phones(
    d: BatchDecider,
    record: RecordState,
    properties: Mapping[str, Any],
    old: Mapping[str, Any],
    integration: str,
    at: str,
    event_id: str | None = None,
) -> Mapping[str, Any]:
    """A contact's or lead's phone properties change: the phone index follows — the numbers
    they show and the numbers kept beside them — and the activities held for a number it
    gets attach to it (or, when other records have that number too, become a question).
    Returns the properties to merge into the record's: ``properties`` with who gave each
    number (:data:`~leadsync.rules.records.PHONE_SOURCES`), less the phone properties whose
    number stays (:func:`~leadsync.rules.records.phone_changes`: another integration's
    number kept beside, an older event, a whole list's null where the number stays), and
    with a number kept beside that is shown now."""
    if record.type not in PHONE_RECORD_TYPES:
        return properties
    settings = d.rules.integrations.get(integration)
    region = settings.region if settings is not None else None
    whole_list = settings is not None and adapter_class(settings.kind).phone_list_complete
    is_crm = settings is not None and settings.is_crm
    changes = records_rules.phone_changes(
        properties, old, integration, whole_list, region, at, record.created_by, is_crm
    )
    merged = dict(properties)
    stored = old.get(PHONE_SOURCES)
    sources = dict(stored) if isinstance(stored, dict) else {}
    for change in changes:
        prop = change.prop
        if change.source is not None:
            sources[prop] = change.source
        for moved in change.beside:
            _unindex(d, record.id, moved.index, moved.old, region)
            _index(d, record, moved.index, moved.new, at, event_id)
        if change.outcome in _SHOWN_STAYS or (change.outcome == records_rules.NONE and whole_list):
            del merged[prop]  # the number it has stays (or it had none: nothing to note)
            continue
        if change.outcome in (records_rules.SAME, records_rules.NONE):
            continue
        merged[prop] = change.value
        _unindex(d, record.id, prop, old.get(prop), region)
        _index(d, record, prop, change.phone, at, event_id)
    if sources and not (record.origin == rules.UNKNOWN_NUMBER and not old):
        # (A contact made for a call's number has it from leadsync, not from a tool's
        # contact: nothing is added to it, as its creation promises.)
        merged[PHONE_SOURCES] = sources
    return merged


# The outcomes that leave the number a property shows as it is.
_SHOWN_STAYS = (records_rules.KEPT, records_rules.BESIDE, records_rules.STALE)


def _index(
    d: BatchDecider,
    record: RecordState,
    index: str,
    phone: PhoneNumber | None,
    at: str,
    event_id: str | None,
) -> None:
    """The phone index holds ``phone`` under ``index`` for the record (None: nothing), and
    the activities held for it wait to attach (:func:`attach_waiting`)."""
    if phone is None:
        d.phone_rows[(record.id, index)] = None
        return
    d.phone_rows[(record.id, index)] = {
        "record_id": record.id,
        "property": index,
        "record_type": record.type._value_,
        "number": phone.key,
        "valid": phone.number is not None,
    }
    if phone.number is None:
        return
    d.by_phone.setdefault(phone.number, []).append((record.id, index))
    for held in d.held.get(phone.number, ()):
        d.state.to_attach.append((held, record, phone.number, at, event_id))


def attach_waiting(d: BatchDecider) -> None:
    """Attach the activities held for numbers the event just applied gave records (said in
    the trace of that event, in a preview). After the event, not as its number is read: the
    association rules then see the company the same event names for the record (or moves it
    to), and the records that got the number in that event (two: the question which)."""
    waiting, d.state.to_attach = d.state.to_attach, []
    for held, record, number, at, event_id in waiting:
        if any(held in lst for lst in d.held.values()):  # not attached by an earlier one
            note(d.traces, event_id, counterparts.attach_held(d, held, record, number, at))


def _unindex(d: BatchDecider, record_id: int, prop: str, text: Any, region: str | None) -> None:
    """The batch's phone index forgets the number a record's property had. It was read in
    the region of the integration that gave it, which need not be this one's (a dialer in
    GB, a CRM in FR): read in this region first, then in each other configured one."""
    if text is None:
        return
    seen: set[str] = set()
    for where in (region, *(s.region for s in d.rules.integrations.values()), None):
        key = _index_key(text, where)
        if key is None or key in seen:
            continue
        seen.add(key)
        holders = d.by_phone.get(key)
        if holders is not None and (record_id, prop) in holders:
            holders.remove((record_id, prop))
            return


def _index_key(text: Any, region: str | None) -> str | None:
    """The index key of a stored phone property (its E.164 form), if it has one."""
    phone = read_phone(text, region) if text is not None else None
    return phone.number if phone is not None else None
