"""Records a tool merged: the ids it merged away name the record it kept (an event's
``merged``: a HubSpot ``contact.merge``, a Pipedrive ``merged.person``).

From the merge on, an event of any of the ids lands on one record — the record leadsync
holds under the kept id; when it holds none under that id, the one it holds under a merged id
(the first made); else the record the event makes. Each merged id's identity is pointed at it
and marked ``merged_into`` the kept id, with the tool's time: it still names the record, but
it is gone at the tool, so nothing writes to it — the outbox leaves it out, and for a CRM
(HubSpot) the push's object under a merged id becomes the kept one
(:func:`leadsync.store.joins.move_merged_hubspot_ids`).

When leadsync held *another* record under a merged id (or, with no record under the kept id,
under a second merged id), that record is joined into the kept one
(:func:`leadsync.engine.record_joins.join`): its identities, numbers, links and timeline are
the kept record's from then on. (docs/WEBHOOKS.md, "Merged records".)

Functions over a :class:`~leadsync.engine.decide.BatchDecider`; pure like it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadsync.engine import record_joins
from leadsync.engine.state import RecordState, SourceKey
from leadsync.model import Event, RecordRef

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


def _keys(event: Event) -> tuple[SourceKey | None, list[SourceKey]]:
    subject = event.subject_ref()
    if subject is None or subject.external_id is None:
        return None, []
    rtype = subject.type._value_
    kept = (event.integration, rtype, subject.external_id)
    return kept, [(event.integration, rtype, m) for m in event.merged]


def resolve(d: BatchDecider, event: Event, subject: RecordRef) -> tuple[RecordState, bool]:
    """The record a record or owner event is about (``d.resolve``), the ids it says the tool
    merged into it naming it from now on."""
    name_kept(d, event)
    record, created = d.resolve(event.integration, subject, event.occurred_at)
    point_merged(d, record, event)
    return record, created


def name_kept(d: BatchDecider, event: Event) -> None:
    """Before the event's record is resolved: when leadsync holds no record under the kept
    id but holds one under a merged id, the kept id names that record (the first made)."""
    kept, merged = _keys(event)
    if kept is None or not merged or kept in d.identity:
        return
    held = sorted({d.identity[key] for key in merged if key in d.identity})
    if held:
        d.add_identity(kept, held[0])


def point_merged(d: BatchDecider, record: RecordState, event: Event) -> None:
    """After it: every merged id names ``record``, marked merged into the kept id at the
    event's time; for a CRM, the push's objects under the merged ids become the kept one."""
    kept, merged = _keys(event)
    if kept is None or not merged:
        return
    for key in merged:
        held = d.identity.get(key)
        if held is not None and held != record.id:
            record_joins.join(d, record, d.records[held], event, f"{key[0]}:{key[2]}")
        d.name(key, None)  # merged away: the outbox writes to it no more
        d.identity[key] = record.id
        d.merged_identities[key] = {
            "integration": key[0],
            "type": key[1],
            "external_id": key[2],
            "record_id": record.id,
            "merged_into": kept[2],
            "merged_at": event.occurred_at,
        }
    if event.integration in d.crm_integrations:
        d.hubspot_merges.append((kept[1], [key[2] for key in merged], kept[2]))
