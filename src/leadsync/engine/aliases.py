"""One activity a tool names by several ids: an event's ``aliases`` (a Salesloft call data
record is ``cdr:<id>`` until it is logged to a call, then that call) make its ids one
activity, whichever of them arrived first, with the dedupe rules' own mechanism: one
activity row, the other ids its sources (``activity_sources``, with the reason).

The activity is what all the events of all its ids say (their memories joined:
:func:`leadsync.rules.activity_memory.join`), so any arrival order and any cut into batches
give the same activity. When the ids had made an activity each before an event joined them,
the one made first (the lowest id) stays and the other is removed (the push archives it in
HubSpot); its ids, and the other tools' activities merged into it, move to the one that stays.

Functions over a :class:`~leadsync.engine.decide.BatchDecider`; pure like it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

from leadsync.engine import counterparts
from leadsync.engine.state import ActivityState, SourceKey
from leadsync.model import Event, RecordType
from leadsync.rules import activity_memory
from leadsync.rules.records import PHONE_RECORD_TYPES

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


def ids_of(d: BatchDecider, key: SourceKey, event: Event) -> list[SourceKey]:
    """Every id of the activity ``key`` names, after ``event`` (taken into ``key``'s memory
    already) told its aliases: each alias's memory learns ``key``, so that an event of the
    alias alone, later, finds the activity. Sorted; ``[key]`` for most activities."""
    for alias in event.aliases:
        other = (key[0], key[1], alias)
        memory = d.memory.get(other)
        linked = activity_memory.link(memory, key[2])
        if linked != memory:
            d.memory[other] = linked
            d.memory_changed.add(other)
    return activity_memory.group(d.memory, key)


def keys_of(d: BatchDecider, activity: ActivityState) -> list[SourceKey]:
    """The activity's own key (the id that made it) and the keys merged into it."""
    row = activity.row
    return [(row["integration"], row["type"], row["external_id"]), *d.sources.get(activity.id, ())]


def other_tools(d: BatchDecider, activity: ActivityState, ids: Collection[SourceKey]) -> bool:
    """Whether keys other than ``ids`` (the ids of this activity at its tool) are merged into
    the activity: other tools logged it too (dedupe rules), so a filter that skips it at this
    tool does not remove it."""
    return any(k not in ids for k in keys_of(d, activity))


def one_activity(
    d: BatchDecider, ids: Sequence[SourceKey], event: Event
) -> tuple[ActivityState | None, list[SourceKey]]:
    """The live activity of ``ids`` (None: none yet) and the ids it was not yet: when two
    or more ids made one each, the first made (lowest id) stays and the others are removed,
    their keys moved to it."""
    live = sorted(
        {a.id: a for k in ids if (a := d.activities.get(k)) is not None and not a.deleted}.values(),
        key=lambda a: a.id,
    )
    if not live:
        return None, []
    kept, removed = live[0], live[1:]
    own = set(keys_of(d, kept))
    newly = [k for k in ids if k not in own]
    for other in removed:
        reason = merged_reason(kept, other.row["external_id"])
        counterparts.removed(d, other.id, event.occurred_at, reason)
        other.deleted = True
        d.retired.append(other)
        # The other tools' activities merged into it follow it (joined before: not counted
        # again), and so do its records, each with the source and reason it had.
        for k in keys_of(d, other):
            if k not in ids:
                join(d, kept, [k], event.occurred_at, reason)
        d.sources.pop(other.id, None)
        _move_links(d, other.id, kept.id)
        _move_skips(d, other.id, kept.id)
    return kept, newly


def _move_links(d: BatchDecider, removed: int, kept: int) -> None:
    """The records the removed activity was on (its stored links, and those this batch gave
    it) become the kept one's, each with its source and reason; a record the kept one is on
    already keeps the kept one's link. On a contact or lead, the kept one is attached."""
    stored = d.state.activity_links
    has = {row["record_id"] for row in stored.get(kept, ())}
    has.update(rid for aid, rid in d.new_activity_links if aid == kept)
    batch = [row for (aid, _), row in d.new_activity_links.items() if aid == removed]
    for row in [*stored.get(removed, ()), *batch]:
        if row["record_id"] in has:
            continue
        has.add(row["record_id"])
        d.new_activity_links[(kept, row["record_id"])] = {**row, "activity_id": kept}
        if RecordType(row["record_type"]) in PHONE_RECORD_TYPES:
            d.attached.add(kept)
    stored[kept] = [*stored.get(kept, ()), *stored.pop(removed, ())]


def _move_skips(d: BatchDecider, removed: int, kept: int) -> None:
    """Skips resolved by the removed activity (created later after all) name the kept one:
    the batch's own now, those of earlier batches when it is written."""
    d.moved.append((removed, kept))
    for skip in d.skips:
        if skip.activity_id == removed:
            skip.activity_id = kept
    for row in d.created_later:
        if row["activity_id"] == removed:
            row["activity_id"] = kept


def join(
    d: BatchDecider, activity: ActivityState, keys: Sequence[SourceKey], at: str, reason: str
) -> None:
    """``keys`` become sources of ``activity`` (their later events land on it), with the
    reason; a key that was another's source moves."""
    own_key = keys_of(d, activity)[0]
    own = set(keys_of(d, activity))
    for key in keys:
        if key in own:
            continue
        # A join seen before moves without counting (each is counted once): an id merged into
        # an activity before (one joined into this one now, or this one removed since and
        # made anew); at the activity's own tool, either id (made anew under the other).
        known = _merged_before(d, key) or (key[0] == own_key[0] and _merged_before(d, own_key))
        d.state.source_keys.add(key)
        d.activities[key] = activity
        d.sources.setdefault(activity.id, []).append(key)
        d.new_sources.append(
            {
                "integration": key[0],
                "type": key[1],
                "external_id": key[2],
                "activity_id": activity.id,
                "merged_at": at,
                "reason": reason,
            }
        )
        if not known:
            d.result.activities_merged += 1


def _merged_before(d: BatchDecider, key: SourceKey) -> bool:
    return key in d.state.source_keys or any(key in ks for ks in d.sources.values())


def merged_reason(activity: ActivityState, external_id: str) -> str:
    """Why an id of the activity's tool is the activity (the reason kept with the source)."""
    row = activity.row
    return (
        f"merged with {row['integration']} {row['type']} {row['external_id']}: one "
        f"{row['type']} that {row['integration']} names {external_id} too"
    )


def join_ids(d: BatchDecider, activity: ActivityState, ids: Sequence[SourceKey], at: str) -> None:
    """Every id of the activity's tool that is not yet a key of it becomes one."""
    own = set(keys_of(d, activity))
    for key in ids:
        if key not in own:
            join(d, activity, [key], at, merged_reason(activity, key[2]))
