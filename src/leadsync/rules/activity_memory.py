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
  answer; but where the greater id's value is a list (tags, comments: a tool sends the whole
  list each time, and it grows), the value is the union of every list given at that time
  (:func:`list_union`: the longer where one holds the other): the clock cannot tell which
  came last, and neither may be lost;
- the rep (owner) likewise: the latest event that names one;
- associations: every record any event named (updates naming none keep them);
- the activity's time: the earliest ``occurred_at`` of its events (when it happened, not
  when it was last touched), drafts' only until a real event arrives;
- it exists once any event is not a draft (a drafted or scheduled mailing is remembered, not
  created: the delivered update that follows may name nothing but the mailing);
- ``aka``: the other external ids the source gives the same activity (an event's
  ``aliases``, and, on an alias's own memory, the id that named it: :func:`link`), a set.

One activity a source names by several ids (Salesloft's call data record, ``cdr:<id>`` until
it is logged to a call) is the :func:`join` of its ids' memories (:func:`group`): the memory
all their events would have made under one id, whatever order they came in.

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
        props[key] = _property(props.get(key), value, at)
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
    if event.aliases:
        out["aka"] = sorted({*out.get("aka", ()), *event.aliases})
    return out


def link(memory: Memory | None, external_id: str) -> Memory:
    """The memory of an alias (its own events', or none yet) that knows the activity's id
    that named it: an event of either id then finds the other (:func:`group`)."""
    out: Memory = (
        {"p": {}, "o": None, "a": [], "at": None, "draft_at": None, "real": False, "last": None}
        if memory is None
        else dict(memory)
    )
    out["aka"] = sorted({*out.get("aka", ()), external_id})
    return out


def heard(memory: Memory) -> bool:
    """Whether any event of this id was taken in (an alias's memory may hold only a link)."""
    return memory.get("last") is not None


def group(
    memories: Mapping[tuple[str, str, str], Memory], key: tuple[str, str, str]
) -> list[tuple[str, str, str]]:
    """``key`` and every id of the same activity its memories (those loaded) name, directly
    or through another, sorted."""
    seen = {key}
    todo = [key]
    while todo:
        at = todo.pop()
        for external_id in (memories.get(at) or {}).get("aka", ()):
            other = (at[0], at[1], external_id)
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return sorted(seen)


def join(memories: list[Memory]) -> Memory:
    """One memory of the events of several (the ids of one activity): what merging all
    their events under one id would give, in any order of the memories."""
    heard_ones = [m for m in memories if heard(m)]
    out: Memory = {
        "p": {}, "o": None, "a": [], "at": None, "draft_at": None, "real": False, "last": None,
    }  # fmt: skip
    props: dict[str, list[Any]] = out["p"]
    refs: set[tuple[Any, ...]] = set()
    for memory in heard_ones:
        for key, held in memory["p"].items():
            props[key] = _joined_property(props.get(key), held)
        owner = memory["o"]
        if owner is not None and (out["o"] is None or out["o"][2:] < owner[2:]):
            out["o"] = owner
        refs.update(tuple(r) for r in memory["a"])
        for slot in ("at", "draft_at"):
            value = memory.get(slot)
            if value is not None and (out[slot] is None or value < out[slot]):
                out[slot] = value
        out["real"] = bool(out["real"]) or bool(memory["real"])
        if out["last"] is None or out["last"][:2] < memory["last"][:2]:
            out["last"] = memory["last"]
    ordered = sorted(refs, key=lambda r: (r[0], r[1] or "", r[2] or "", r[3] or ""))
    out["a"] = [list(r) for r in ordered]
    aka = {a for m in memories for a in m.get("aka", ())}
    if aka:
        out["aka"] = sorted(aka)
    return out


def _joined_property(held: list[Any] | None, other: list[Any]) -> list[Any]:
    """A property's memory with another memory's of it taken in, as :func:`_property` takes
    an event's: the lists given at its time join (an id no value wins with), then its value
    competes by its id."""
    at = [other[1], other[2]]
    tied = _tied_lists(other)
    out = held
    for values in tied:
        out = _property(out, values, [at[0], ""])
    value = tied[0] if isinstance(other[0], list) and tied else other[0]
    return _property(out, value, at)


def _property(held: list[Any] | None, value: Any, at: list[str]) -> list[Any]:
    """A property's memory with ``value`` given at ``at``: ``[value, time, id]``, plus the
    lists given at that time when they are not just the value (``[union, time, id,
    [list, ...]]``, the lists in :func:`list_union`'s order). Equal times join: the
    greater id's value, a union of the lists when it is one; the same whatever order."""
    if held is None or held[1] < at[0]:
        return [value, *at]
    if held[1] > at[0]:
        return held
    lists = _tied_lists(held)
    if isinstance(value, list) and value not in lists:
        lists = sorted([*lists, value], key=_list_order)
    winner, stamp_id = (held[0], held[2]) if held[2] >= at[1] else (value, at[1])
    if isinstance(winner, list):
        winner = list_union(lists)
    kept = [winner, held[1], stamp_id]
    return kept if lists == _tied_lists(kept) else [*kept, lists]


def _tied_lists(held: list[Any]) -> list[list[str]]:
    """The lists given at a property's time: kept beside its value, else the value's own."""
    if len(held) > 3:
        return list(held[3])
    return [held[0]] if isinstance(held[0], list) else []


def _list_order(values: list[str]) -> tuple[int, list[str]]:
    return (-len(values), values)


def list_union(lists: list[list[str]]) -> list[str]:
    """Every value of the lists, each as many times as the list that has it most: the
    longest list (then the first in order) as it is, then what each other list adds, in
    its order. A list that holds another (a comment added) gives the longer; otherwise
    the shared prefix comes first."""
    out: list[str] = []
    held: dict[str, int] = {}
    for values in sorted(lists, key=_list_order):
        seen: dict[str, int] = {}
        for value in values:
            seen[value] = seen.get(value, 0) + 1
            if seen[value] > held.get(value, 0):
                out.append(value)
                held[value] = seen[value]
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
