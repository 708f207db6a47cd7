"""Deciding an activity event: its memory, the activity filters, the association rules, the
dedupe rules (one activity several tools logged), and the owner a rep's activity may give
the records it names.

Functions over a :class:`~leadsync.engine.decide.BatchDecider` (the batch's state in
memory); pure like it. The rules they apply are in :mod:`leadsync.rules.activities`,
:mod:`~leadsync.rules.associations`, :mod:`~leadsync.rules.dedupe` and
:mod:`~leadsync.rules.activity_memory`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from leadsync.engine import aliases, counterparts, learn_lines
from leadsync.engine.state import (
    ACTIVITY_IDS,
    ActivityState,
    EventTrace,
    RecordState,
    SourceKey,
    activity_candidate,
    activity_properties,
    take_id,
)
from leadsync.model import ASSIGN_ON_ACTIVITY, ActivitySkip, ActivityType, Event, RecordRef
from leadsync.rules import activity_memory, dedupe
from leadsync.rules.activities import (
    activity_owner,
    activity_owner_reason,
    derived_properties,
    draft_reason,
    skip_reason,
    skip_with_earlier,
    unanswered_inbound,
    unanswered_verdict,
)
from leadsync.rules.associations import ChosenAssociation, choose_associations, primary_index
from leadsync.rules.ownership import (
    activity_fills_owner,
    assign_on_activity_strategy,
    rep_key,
)
from leadsync.rules.records import PHONE_RECORD_TYPES
from leadsync.settings import DedupeRule, IntegrationSettings
from leadsync.store.schema import ACTIVITY_COLUMNS

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider

EMPTY_ACTIVITY_COLUMNS: dict[str, Any] = dict.fromkeys(ACTIVITY_COLUMNS.values())


def sample_key(d: BatchDecider, event: Event) -> str:
    """An activity's rollout sample key: the id of the first record it names that exists
    already, else its own external id (or event id)."""
    for ref in event.associations:
        record_id = d.existing_record_id(event.integration, ref)
        if record_id is not None:
            return str(record_id)
    return f"activity:{event.external_id or event.id}"


def given_first(refs: Sequence[RecordRef], given: Sequence[RecordRef]) -> list[RecordRef]:
    """An activity's records (its memory keeps them sorted, whatever order named them) with
    those this event names first, in the event's order: "the first named record" is the
    event's first, not the one whose external id sorts first."""
    position: dict[tuple[Any, ...], int] = {}
    for i, ref in enumerate(given):
        position.setdefault(_ref_key(ref), i)
    return sorted(refs, key=lambda ref: position.get(_ref_key(ref), len(given)))


def _ref_key(ref: RecordRef) -> tuple[Any, ...]:
    return (ref.type, ref.external_id, ref.email, ref.domain)


def gets_its_person(before: dict[str, Any] | None, given: Sequence[RecordRef]) -> bool:
    """Whether this event names a contact or lead where the activity's earlier events
    (``before``: its memory until now) named none."""
    if not any(ref.type in PHONE_RECORD_TYPES for ref in given):
        return False
    earlier = activity_memory.refs(before) if before is not None else ()
    return not any(ref.type in PHONE_RECORD_TYPES for ref in earlier)


def skipped_for(
    d: BatchDecider,
    event: Event,
    settings: IntegrationSettings,
    given: Sequence[RecordRef] = (),
) -> tuple[RecordRef | None, int | None]:
    """The record a skipped activity was for: the primary record the event names (as the
    association rules pick it, ``given`` — the event's own records — first; else the first
    it names), and its id if it exists."""
    refs = given_first(event.associations, given)
    index = primary_index([r.type for r in refs], settings.associations.primary)
    ref = refs[index if index is not None else 0] if refs else None
    return ref, d.existing_record_id(event.integration, ref) if ref is not None else None


def apply_activity(d: BatchDecider, event: Event, settings: IntegrationSettings) -> None:
    assert event.activity is not None
    if "line_number" in event.properties:  # the company's line it was on: one of its own
        learn_lines.learn_from_call(d, event)
    key = (
        (event.integration, event.activity._value_, event.external_id)
        if event.external_id is not None
        else None
    )
    existing = d.activities.get(key) if key is not None else None
    latest_id = event.id
    changed_at = event.changed_at or event.occurred_at
    refs_given, before = event.associations, None
    ids: list[SourceKey] = []
    newly: list[SourceKey] = []
    if key is not None:
        # The activity as all its events so far say, merged by the vendor's clock: the
        # same whatever order they arrived in.
        memory = before = d.memory.get(key)
        if memory is None and existing is not None and not existing.deleted:
            memory = activity_memory.seed(existing.row, activity_properties(existing.row))
        memory = activity_memory.merge(memory, event)
        d.memory[key] = memory
        d.memory_changed.add(key)
        # The tool's other ids of this activity (aliases): one activity, all their events.
        ids = aliases.ids_of(d, key, event)
        if len(ids) > 1:
            kept, newly = aliases.one_activity(d, ids, event)
            existing = kept or existing
            memory, before, refs_given = _as_one(d, ids, key, before, kept, newly, refs_given)
        event = activity_memory.effective_event(memory, event)
        latest_id = activity_memory.latest_event_id(memory)
    assert event.activity is not None
    if event.draft:
        if d.traces is not None:
            d.traces[event.id] = EventTrace(  # not skipped: the run keeps no skip of it
                event.id,
                activity=(event.activity._value_, None, "drafted"),
                skip_reason=draft_reason(event.activity, event.integration),
            )
        return
    if event.integration in d.rules.rollouts:
        settings, variant = d.rules.settings_for(event.integration, sample_key(d, event))
    else:
        variant = None
    merged = derived_properties(event.activity, event.properties)
    skip = skip_reason(event.activity, merged, settings.activities, event.integration)
    if skip is not None:
        _skip(d, event, settings, skip.reason, skip.kind, existing, variant, refs_given, ids)
        _as_its_other_tools_say(d, event, key, existing)
        return

    mapping = d.map_rep(event, settings)
    owner_id = activity_owner(mapping)
    fresh = existing is None or existing.deleted
    merge_reason = None
    if not fresh and newly:
        assert existing is not None and key is not None
        if key in newly:  # this event's id joins the activity another id of it made
            merge_reason = aliases.merged_reason(existing, key[2])
        aliases.join_ids(d, existing, ids, event.occurred_at)
    # The association rules run when the activity is made, and when it gets its first
    # contact or lead later (named by this event, or found by its number below); an update
    # otherwise adds the records it names and nothing else: the activity does not move, and
    # a deal opened or closed since does not change it.
    rules_apply = fresh or gets_its_person(before, refs_given)
    refs, found = counterparts.certain_refs(d, event, settings)
    refs = given_first(refs, refs_given)
    named: list[tuple[RecordState, bool]] = [
        d.resolve(event.integration, ref, event.occurred_at) for ref in refs
    ]
    if not fresh and refs_given:
        assert existing is not None
        counterparts.named_later(d, existing.id, event, before, refs_given, named)
    if (
        ("to_number" in merged or "from_number" in merged)
        and (
            existing is None
            or fresh
            or existing.id not in d.attached
            or counterparts.numbers_changed(d, existing.id, settings, merged)
        )
        and not any(r.type in PHONE_RECORD_TYPES for r, _ in named)
    ):
        by_number = counterparts.find_by_number(d, event, settings, merged)
        if by_number is not None:
            if by_number.skip is not None and fresh:
                kind = "unknown_counterpart"
                _skip(d, event, settings, by_number.skip, kind, None, variant, refs_given, ids)
                return
            if not fresh:
                assert existing is not None
                counterparts.found_again(d, existing.id, event, by_number)
            named.extend(by_number.named)
            rules_apply = rules_apply or bool(by_number.named)
            if found is not None:
                by_number.questions[:0] = found.questions
                by_number.company = by_number.company or found.company
            found = by_number
    ties: list[int] = []
    pairs = [(r.id, r.type) for r, _ in named]
    chosen = (
        choose_associations(pairs, settings.associations, d, ties)
        if rules_apply
        else [ChosenAssociation(rid, rtype, "event") for rid, rtype in pairs]
    )
    twins = d.dedupe_rules.get((event.activity.value, event.integration))
    if twins is not None and key is not None:
        if fresh:
            found_twin = join_twin(d, twins, key, event, owner_id, merged, named)
            if found_twin is not None:
                existing, merge_reason = found_twin
                if refs_given:  # another tool's activity, maybe held: it names who now
                    counterparts.named_later(d, existing.id, event, None, refs_given, named)
        if existing is not None and existing.id in d.sources:
            merged, at = combined(d, existing, twins)
            event = replace(event, occurred_at=at or event.occurred_at)
    assert event.activity is not None
    gives_owner = owner_id is not None or existing is None or existing.deleted
    activity = _upsert_activity(d, event, key, existing, owner_id, merged, latest_id)
    if len(ids) > 1:
        aliases.join_ids(d, activity, ids, event.occurred_at)
    if fresh and before is not None and key is not None:
        created_later(d, key, activity.id, changed_at)
    if found is not None:
        counterparts.settle(d, event, activity.id, found, chosen)
    if twins is not None and fresh and merge_reason is None:
        d.activity_by_id[activity.id] = activity
        d.candidates[event.activity.value].append(
            activity_candidate(
                activity.row, {r.id for r, _ in named}, d.rules.region(event.integration)
            )
        )
    if d.traces is not None:
        d.traces[event.id] = EventTrace(
            event.id,
            activity=(
                event.activity._value_,
                activity.id,
                "merged" if merge_reason else "created" if fresh else "updated",
            ),
            associations=[(c.record_type._value_, c.record_id, c.source) for c in chosen],
            merge_reason=merge_reason,
            settings=variant,
            counterpart=found.trace if found is not None else None,
            owner_reason=activity_owner_reason(mapping) if gives_owner else None,
        )
    if ties:  # (after the trace: a preview says which deals tied)
        counterparts.tied_deals(d, event, settings, activity.id, ties)
    for choice in chosen:
        counterparts.link_activity(d, activity.id, choice)
    unanswered = unanswered_inbound(event.activity, merged)
    if unanswered is not None and not rep_named(before, event):
        return  # not answered still: said once, by the event that named its rep
    ringing = unanswered is not None or was_unanswered(event.activity, before)
    if ringing and not fresh and not any(r.type in PHONE_RECORD_TYPES for r, _ in named):
        # Whom an earlier event of the call found (or made) by its number is its too.
        holder = counterparts.sole_holder(d, event, settings, merged)
        named.extend([(holder, False)] if holder is not None else [])
    for record, created in named:
        if record.owner_id is None:
            assign_on_activity(d, record, created, event, unanswered)


def rep_named(before: dict[str, Any] | None, event: Event) -> bool:
    """Whether this event names the activity's rep first, or another one (``before``: its
    memory until now; ``event`` as the whole activity says)."""
    held = before["o"] if before is not None else None
    rep = event.owner
    return held is None or rep is None or (held[0], held[1]) != (rep.id, rep.email)


def was_unanswered(activity_type: ActivityType, before: dict[str, Any] | None) -> bool:
    """Whether the activity's events until this one (``before``: its memory until now) made
    it an inbound call nobody had answered (:func:`unanswered_inbound`)."""
    if before is None:
        return False
    properties = derived_properties(activity_type, {k: v[0] for k, v in before["p"].items()})
    return unanswered_inbound(activity_type, properties) is not None


def assign_on_activity(
    d: BatchDecider, record: RecordState, created: bool, event: Event, unanswered: str | None
) -> None:
    """An activity by a mapped rep fills a named record's empty owner when the settings
    the record gets say ``assign_on_activity``, under the strategy those settings give it
    as :func:`~leadsync.rules.ownership.assign_on_activity_strategy` weakens it — unless
    it is an inbound call nobody answered yet (``unanswered``, why): the record's decision
    then says so. A record in a staged rollout gets the rollout's settings here as for its
    own events."""
    settings, variant = d.rules.settings_for(event.integration, str(record.id))
    ownership = settings.ownership
    if not ownership.assign_on_activity:
        return
    mapping = d.map_rep(event, settings)
    if mapping is None or not activity_fills_owner(ownership.assign_on_activity, mapping):
        return
    if unanswered is not None:
        rep = f"rep {rep_key(event.owner)} (owner {mapping.owner_id})"
        verdict = unanswered_verdict(unanswered, record.type.value, rep, mapping.owner_id)
        d.record_verdict(record, event, verdict, ASSIGN_ON_ACTIVITY, event.integration, variant)
        return
    strategy = d.rules.strategy_under(event.integration, record.type, settings, variant)
    d.decide(
        record,
        created or record.awaits_first_owner(),
        event,
        assign_on_activity_strategy(strategy),
        ownership.protect_manual_days,
        mapping,
        label=ASSIGN_ON_ACTIVITY,
        variant=variant,
    )


def _skip(
    d: BatchDecider,
    event: Event,
    settings: IntegrationSettings,
    reason: str,
    kind: str,
    existing: ActivityState | None,
    variant: str | None,
    given: Sequence[RecordRef],
    ids: Sequence[SourceKey],
) -> None:
    """The activity is not created (or no longer exists): why, counted per rule; ``given``:
    the records the event itself names, in its order; ``ids``: the activity's ids at the
    event's tool (its other tools keep it)."""
    assert event.activity is not None
    live = existing is not None and not existing.deleted
    reason, remove = skip_with_earlier(
        reason, live, existing is not None and aliases.other_tools(d, existing, ids)
    )
    if remove:
        assert existing is not None
        existing.deleted = True
        counterparts.removed(d, existing.id, event.occurred_at, reason)
    if d.traces is not None:
        d.traces[event.id] = EventTrace(
            event.id,
            activity=(event.activity._value_, None, "skipped"),
            skip_reason=reason,
            settings=variant,
        )
    record_ref, record_id = skipped_for(d, event, settings, given)
    skip = ActivitySkip(
        event_id=event.id,
        integration=event.integration,
        type=event.activity,
        external_id=event.external_id,
        occurred_at=event.occurred_at,
        reason=reason,
        kind=kind,
        record=record_ref,
        record_id=record_id,
        settings=variant,
    )
    d.skips.append(skip)
    if event.external_id is None:
        d.result.activities_skipped += 1
        return
    key = (event.integration, event.activity._value_, event.external_id)
    if key not in d.skips_of:  # an activity once, however many of its events the batch skips
        d.result.activities_skipped += 1
    d.skips_of.setdefault(key, []).append(skip)


def _as_one(
    d: BatchDecider,
    ids: Sequence[SourceKey],
    key: SourceKey,
    before: dict[str, Any] | None,
    kept: ActivityState | None,
    newly: Sequence[SourceKey],
    given: Sequence[RecordRef],
) -> tuple[dict[str, Any], dict[str, Any] | None, tuple[RecordRef, ...]]:
    """An activity of several ids as one: the memory of all their events; the activity until
    this event (the memories of the ids it was already, ``key``'s as it was before); and the
    records this event names, with those of the ids joining it now (new to it)."""
    memory = activity_memory.join([d.memory[k] for k in ids if k in d.memory])
    was = [k for k in ids if k not in newly] if kept is not None else list(ids)
    earlier = [m for k in was if (m := before if k == key else d.memory.get(k)) is not None]
    joined = [r for k in newly for r in activity_memory.refs(d.memory[k]) if k in d.memory]
    named = {_ref_key(r): r for r in [*given, *joined]}
    return memory, activity_memory.join(earlier) if earlier else None, tuple(named.values())


def created_later(d: BatchDecider, key: SourceKey, activity_id: int, at: str) -> None:
    """An event creates the activity of ``key`` after earlier events of it made none (skipped,
    drafted, or removed): each of its skips so far is resolved, with the activity's id and
    the event's time (``at``) — the batch's own here, those of earlier batches when the
    batch is written. A skip after this one (a later event removing it again) is not: it is
    an activity not created, until another event creates it."""
    for skip in d.skips_of.pop(key, ()):
        skip.activity_id, skip.created_later_at = activity_id, at
    integration, activity_type, external_id = key
    d.created_later.append(
        {
            "integration": integration,
            "type": activity_type,
            "external_id": external_id,
            "activity_id": activity_id,
            "created_later_at": at,
        }
    )


def join_twin(
    d: BatchDecider,
    rule: DedupeRule,
    key: SourceKey,
    event: Event,
    owner_id: str | None,
    properties: Mapping[str, Any],
    named: Sequence[tuple[RecordState, bool]],
) -> tuple[ActivityState, str] | None:
    """The activity another tool logged that this new one is (dedupe rule), joined as one
    more of its sources, with the reason; None when there is none."""
    new = activity_candidate(
        {
            **properties,
            "integration": event.integration,
            "owner_id": owner_id,
            "occurred_at": event.occurred_at,
            "external_id": event.external_id,
            "id": None,
        },
        {r.id for r, _ in named},
        d.rules.region(event.integration),
    )
    # An activity this integration is a source of already is not joined twice; one merged
    # into another (aliases) is no more.
    pool = [
        _as_the_next_batch_reads(d, c)
        for c in d.candidates[rule.activity.value]
        if c.activity_id is not None
        and not d.activity_by_id[c.activity_id].deleted
        and all(k[0] != event.integration for k in d.sources.get(c.activity_id, ()))
    ]
    twin = dedupe.find_twin(rule, new, pool)
    if twin is None:
        return None
    candidate, reason = twin
    assert candidate.activity_id is not None
    activity = d.activity_by_id[candidate.activity_id]
    aliases.join(d, activity, [key], event.occurred_at, reason)
    return activity, reason


def _as_the_next_batch_reads(d: BatchDecider, c: dedupe.Candidate) -> dedupe.Candidate:
    """A candidate on the records the next batch's load would find it on: with those this
    batch linked it to since (a call held for its number and attached later in the batch is
    on that person), and a record joined into another since as the kept one (the store
    moves its links: engine/record_joins.py)."""
    assert c.activity_id is not None
    if c.activity_id not in d.named_links and not d.record_joins:
        return c
    records = {*c.records, *d.named_links.get(c.activity_id, ())}
    return replace(c, records={_kept(d, i) for i in records})


def _kept(d: BatchDecider, record_id: int) -> int:
    """The record ``record_id`` stands for: the one it was joined into, if it was."""
    record = d.records.get(record_id)
    return (
        record.merged_into if record is not None and record.merged_into is not None else record_id
    )


def combined(
    d: BatchDecider, activity: ActivityState, rule: DedupeRule
) -> tuple[dict[str, Any], str | None]:
    """The properties and time of an activity several tools logged: every source's
    memory, the preferred integration's values (and time) winning where both have one. A
    tool whose own filters skip what it says of the call now (its latest event: 3 s, under
    its ``min_duration_s``) says nothing of it: the call is the others' — the same whatever
    order the events came in."""
    # Per tool, the memories of its ids joined (one activity it names by several ids).
    by_tool: dict[str, list[dict[str, Any]]] = {}
    for k in aliases.keys_of(d, activity):
        memory = d.memory.get(k)
        if memory is not None and activity_memory.heard(memory):
            by_tool.setdefault(k[0], []).append(memory)
    joined = {tool: activity_memory.join(memories) for tool, memories in by_tool.items()}
    kept = {tool: memory for tool, memory in joined.items() if not _filtered(d, rule, tool, memory)}
    out: dict[str, Any] = {}
    at: str | None = None
    # The preferred one last: it wins.
    for tool in sorted(kept or joined, key=lambda name: name == rule.preferred):
        memory = (kept or joined)[tool]
        out.update({p: v[0] for p, v in memory["p"].items()})
        at = activity_memory.activity_time(memory)
    return derived_properties(rule.activity, out), at


def _as_its_other_tools_say(
    d: BatchDecider, event: Event, key: SourceKey | None, existing: ActivityState | None
) -> None:
    """An activity several tools logged, one of which the filters just skipped: it stays
    (the others keep it) and is now what they say (:func:`combined`), as it would be had
    the skipped event come before theirs."""
    assert event.activity is not None
    twins = d.dedupe_rules.get((event.activity.value, event.integration))
    if twins is None or existing is None or existing.deleted or existing.id not in d.sources:
        return
    merged, at = combined(d, existing, twins)
    when = replace(event, occurred_at=at or str(existing.row["occurred_at"]))
    _upsert_activity(d, when, key, existing, None, merged, str(existing.row["event_id"]))


def _filtered(d: BatchDecider, rule: DedupeRule, tool: str, memory: dict[str, Any]) -> bool:
    """Whether ``tool``'s own filters skip the call as its memory says it now."""
    settings = d.rules.integrations.get(tool)
    if settings is None:
        return False
    said = derived_properties(rule.activity, {p: v[0] for p, v in memory["p"].items()})
    return skip_reason(rule.activity, said, settings.activities, tool) is not None


def _upsert_activity(
    d: BatchDecider,
    event: Event,
    key: SourceKey | None,
    existing: ActivityState | None,
    owner_id: str | None,
    properties: dict[str, Any],
    latest_id: str,
) -> ActivityState:
    """Create the activity, or rewrite the existing one from ``properties`` (all of them:
    the memory's merge, not this event's alone)."""
    assert event.activity is not None
    columns = dict(EMPTY_ACTIVITY_COLUMNS)
    extra: dict[str, Any] = {}
    for prop, value in properties.items():
        column = ACTIVITY_COLUMNS.get(prop)
        if column is None:
            extra[prop] = value
        else:
            columns[column] = value
    if existing is not None and existing.deleted:
        # Removed earlier in the batch: made anew, with an id of its own, as it would be by
        # a later batch (the removed one stays removed).
        d.retired.append(existing)
        existing = None
    if existing is not None:
        row = existing.row
        row.update(columns)
        row["properties"] = extra
        row["event_id"] = latest_id
        if owner_id is not None:
            row["owner_id"] = owner_id
        row["occurred_at"] = event.occurred_at
        existing.dirty = True
        d.result.activities_updated += 1
        return existing
    activity_id = take_id(d.state, ACTIVITY_IDS)
    row = {
        "id": activity_id,
        "type": event.activity._value_,
        "integration": event.integration,
        "external_id": event.external_id,
        "event_id": latest_id,
        "owner_id": owner_id,
        "occurred_at": event.occurred_at,
        **columns,
        "properties": extra,
    }
    activity = ActivityState(activity_id, row, new=True)
    d.new_activities.append(activity)
    if key is not None:
        d.activities[key] = activity
    d.result.activities_created += 1
    return activity
