"""One activity's events merged by the vendor's clock, not by their arrival.

Vendors send an activity in pieces (a call when dialed, its outcome when it ends; a mailing
drafted, then delivered), updates carry only what changed, and retries reorder them: a
booking's ``invitee.created`` can arrive after its ``invitee.canceled``. What an activity is
must not depend on that order. Each source activity (integration, type, external id) keeps a
*memory* of everything its events said, merged so that any order of the same events gives the
same memory (a last-writer-wins map, a set of associations):

- each property (``null`` included: it clears) takes the value of the event that changed it
  last by the vendor's clock (:attr:`Event.changed_at`, else ``occurred_at``); equal times are
  broken by the event id, the greater wins, so that the same events always give the same
  answer;
- the rep (owner) likewise: the latest event that names one;
- associations: every record any event named (updates naming none keep them);
- the activity's time: the earliest ``occurred_at`` of its events (when it happened, not
  when it was last touched), drafts' only until a real event arrives;
- it exists once any event is not a draft (a drafted or scheduled mailing is remembered, not
  created: the delivered update that follows may name nothing but the mailing).

The memory is plain JSON (stored in ``activity_memory``); :func:`merge` is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from leadsync.model import Event, ExternalUserRef, RecordRef, RecordType

# The stamp of values that came from an activity stored before memories existed: older than
# any event's, so the next event overrides them (as it always did).
_SEEDED = ("", "")

Memory = dict[str, Any]


def stamp(event: Event) -> list[str]:
    """When the vendor says this change happened, and the tie-break: [time, event id]."""
    return [event.changed_at or event.occurred_at, event.id]


def seed(row: Mapping[str, Any], properties: Mapping[str, Any]) -> Memory:
    """The memory of an activity stored before memories existed, from its row."""
    return {
        "p": {k: [v, *_SEEDED] for k, v in properties.items()},
        "o": None,
        "a": [],
        "at": row["occurred_at"],
        "real": True,
        "last": ["", str(row.get("event_id") or "")],
    }


def merge(memory: Memory | None, event: Event) -> Memory:
    """The memory with ``event`` taken in. Commutative, associative and idempotent over
    events: any order of the same events gives the same memory."""
    at = stamp(event)
    out: Memory = (
        {"p": {}, "o": None, "a": [], "at": None, "draft_at": None, "real": False, "last": None}
        if memory is None
        else {**memory, "p": dict(memory["p"]), "a": list(memory["a"])}
    )
    props: dict[str, list[Any]] = out["p"]
    for key, value in event.properties.items():
        held = props.get(key)
        if held is None or held[1:] < at:
            props[key] = [value, *at]
    if event.owner is not None:
        held_owner = out["o"]
        if held_owner is None or held_owner[2:] < at:
            out["o"] = [event.owner.id, event.owner.email, *at]
    refs = {tuple(r) for r in out["a"]}
    for ref in event.associations:
        refs.add((ref.type.value, ref.external_id, ref.email, ref.domain))
    # Sorted with None as "" (a ref is (type, external id, email, domain)).
    ordered = sorted(refs, key=lambda r: (r[0], r[1] or "", r[2] or "", r[3] or ""))
    out["a"] = [list(r) for r in ordered]
    # A draft's time (when it was drafted) counts only until the activity is real.
    slot = "draft_at" if event.draft else "at"
    if out.get(slot) is None or event.occurred_at < out[slot]:
        out[slot] = event.occurred_at
    out["real"] = bool(out["real"]) or not event.draft
    last = out["last"]
    if last is None or last[:2] < at:
        out["last"] = at
    return out


def refs(memory: Memory) -> tuple[RecordRef, ...]:
    """The records the activity's events named."""
    return tuple(
        RecordRef(RecordType(t), external_id, email, domain)
        for t, external_id, email, domain in memory["a"]
    )


def effective_event(memory: Memory, event: Event) -> Event:
    """``event`` as the whole activity so far: every property, the rep and the records the
    memory holds, at the activity's time (the event keeps its own id)."""
    owner = memory["o"]
    return replace(
        event,
        occurred_at=str(activity_time(memory)),
        properties={k: v[0] for k, v in sorted(memory["p"].items())},
        owner=None if owner is None else ExternalUserRef(owner[0], owner[1]),
        associations=refs(memory),
        draft=not memory["real"],
    )


def activity_time(memory: Memory) -> str:
    """When the activity happened: its earliest real event's time (a draft's until then)."""
    return str(memory.get("at") or memory.get("draft_at"))


def latest_event_id(memory: Memory) -> str:
    """The id of the event whose change is the latest (the activity's ``event_id``)."""
    return str(memory["last"][1])
