"""The batch loop: load the state a batch needs, decide every event with the pure rules,
write the diffs once — three steps, three modules.

- :func:`~leadsync.engine.load.load` (``load.py``): every read, a few set-based queries;
- :func:`~leadsync.engine.decide.decide` (``decide.py``, ``activities.py``, ``rows.py``):
  events in arrival order against that in-memory view, no connection and no clock (the
  time of writing is passed in); a record created by one event is found by the next;
- :func:`~leadsync.engine.write.write` (``write.py``): one executemany per table.

The whole batch is one transaction, the caller's, whose lock the caller has taken first
(:func:`leadsync.store.batch.lock_counters`; see that module). :func:`apply_batch` and
:func:`decide_batch` run the three steps; this module reads the clock for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.engine import counterparts, learn_lines
from leadsync.engine.decide import BatchDecider, decide, run
from leadsync.engine.load import load
from leadsync.engine.rows import Decided
from leadsync.engine.state import (
    ActivityState,
    BatchResult,
    EventTrace,
    LoadedState,
    RecordState,
)
from leadsync.engine.write import outbox_rows, write, write_owner_changes
from leadsync.model import (
    ActivityType,
    Event,
    EventType,
    ExternalUserRef,
    OwnerDecision,
    RecordType,
    now_ts,
)
from leadsync.rules.activities import activity_owner
from leadsync.rules.associations import ChosenAssociation
from leadsync.rules.counterparts import BY_PERSON
from leadsync.rules.mapping import external_owner_id
from leadsync.rules.workspace import ROLLOUT, WorkspaceRules, in_rollout
from leadsync.store import batch as store
from leadsync.store import own_lines as own_store

# The object a run leaves (decisions, skips, traces, records): its name before the split.
BatchState = BatchDecider

__all__ = [
    "ROLLOUT",
    "ActivityState",
    "BatchDecider",
    "BatchResult",
    "BatchState",
    "Decided",
    "EventTrace",
    "LoadedState",
    "RecordState",
    "RepDecided",
    "WorkspaceRules",
    "apply_batch",
    "attach_activity",
    "change_owner_in_crm",
    "decide",
    "decide_batch",
    "decide_for_rep",
    "settle_declared_lines",
    "external_owner_id",
    "in_rollout",
    "load",
    "outbox_rows",
    "write",
    "write_owner_changes",
]


def apply_batch(
    connection: Connection, rules: WorkspaceRules, events: Sequence[Event]
) -> BatchResult:
    """Decide and write one batch of events, in arrival order, inside the caller's transaction."""
    return decide_batch(connection, rules, events).result


def decide_batch(
    connection: Connection, rules: WorkspaceRules, events: Sequence[Event], trace: bool = False
) -> BatchDecider:
    """:func:`apply_batch`, returning the decider (decisions, skips, traces, records): a
    preview runs it in a transaction it rolls back, so the real path is the one previewed."""
    decider = run(load(connection, rules, events), rules, events, now_ts(), trace)
    assert decider.decided is not None
    # The questions put in the queue, not asked: one asked already is asked no more.
    decider.result.queued = write(connection, decider.decided)
    return decider


def change_owner_in_crm(
    connection: Connection,
    rules: WorkspaceRules,
    record_type: RecordType,
    record_id: int,
    owner_id: str | None,
    at: str,
) -> OwnerDecision | None:
    """A person's owner change told to leadsync directly (``records set-owner``), decided by
    the same code as a CRM webhook reporting one (:meth:`BatchDecider.change_in_crm`) and
    written as a batch of its own; None, with nothing written, when there is no
    ``record_type`` with that id.

    It runs in the caller's transaction as a batch does, so it takes the batch lock
    (:func:`leadsync.store.batch.lock_counters`) before reading.
    """
    store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
    state = _load_record(connection, rules, record_id)
    record = state.records.get(record_id)
    if record is not None and record.merged_into is not None:  # the record it was joined into
        record = state.records.get(record.merged_into)
    if record is None or record.type is not record_type:
        return None
    decider = BatchDecider(state, rules)
    decision = decider.change_in_crm(record, owner_id, at, by_person=True)
    write(connection, decider.finish(now_ts()))
    return decision


def _load_record(connection: Connection, rules: WorkspaceRules, record_id: int) -> LoadedState:
    """The state of one record named by id; a record joined into another (a tool's merge,
    engine/record_joins.py) stands for that one, which is loaded instead."""
    kept = store.merged_into(connection, record_id)
    return load(connection, rules, [], record_ids={record_id} | ({kept} if kept else set()))


def attach_activity(
    connection: Connection,
    rules: WorkspaceRules,
    activity: Mapping[str, Any],
    record_id: int,
    reason: str,
) -> list[ChosenAssociation] | None:
    """A person's answer to a review question: attach ``activity`` (its stored row) to the
    record, with what the association rules add for it (its primary company, its open
    deal), by the same code as a held activity attaching when its number appears; written
    as a batch of its own, under the batch lock. None, with nothing written, when there is
    no such record."""
    store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
    state = _load_record(connection, rules, record_id)
    record = state.records.get(record_id)
    if record is not None and record.merged_into is not None:  # the record it was joined into
        record = state.records.get(record.merged_into)
    settings = rules.integrations.get(activity["integration"])
    if record is None or settings is None:
        return None
    now = now_ts()
    decider = BatchDecider(state, rules, now=now)
    chosen = counterparts.attach(
        decider,
        int(activity["id"]),
        activity["type"],
        activity["integration"],
        settings,
        record,
        BY_PERSON,
        reason,
    )
    write(connection, decider.finish(now))
    return chosen


def decide_for_rep(
    connection: Connection,
    rules: WorkspaceRules,
    integration: str,
    rep: ExternalUserRef,
    asked: Sequence[Mapping[str, Any]],
    ownerless: Sequence[Mapping[str, Any]],
    note: str,
) -> RepDecided:
    """Decide again, now that ``rules`` map the rep, what its events left without an owner
    for want of one; written as a batch of its own, under the batch lock.

    - Records (``asked``: ``record_id``, ``event_id`` and ``at`` of each record's last such
      decision, ``first`` when that event created the record): each as its event would have
      been decided, at its time, by the same code (:meth:`BatchDecider.decide`: the
      strategy the record gets, a person's protection, a newer owner), its reason ending
      with ``note``. A record that is gone is passed over.
    - Activities (``ownerless``: ``type`` and ``external_id`` of the integration's
      activities with no owner whose events name the rep): each gets the owner the rep maps
      to now (:func:`leadsync.rules.activities.activity_owner`), as its next event would
      give it.
    """
    store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
    keys = [
        Event("", integration, EventType.ACTIVITY, "", activity=ActivityType(a["type"]),
              external_id=a["external_id"])
        for a in ownerless
    ]  # fmt: skip
    state = load(connection, rules, keys, record_ids={int(a["record_id"]) for a in asked})
    now = now_ts()
    decider = BatchDecider(state, rules, now=now)
    out = RepDecided()
    for row in asked:
        record = state.records.get(int(row["record_id"]))
        if record is None:
            continue
        event = Event(row["event_id"] or "", integration, EventType.OWNER, row["at"], owner=rep)
        settings, variant = rules.settings_for(integration, str(record.id))
        decider.decide(
            record,
            bool(row["first"]) or record.awaits_first_owner(),
            event,
            rules.strategy_under(integration, record.type, settings, variant),
            settings.ownership.protect_manual_days,
            decider.map_rep(event, settings),
            variant=variant,
        )
        decision = decider.decisions[-1]
        decision.reason = f"{decision.reason} ({note})"
        out.decisions.append(decision)
    for key_event in keys:
        assert key_event.activity is not None and key_event.external_id is not None
        activity = state.activities.get(
            (integration, key_event.activity.value, key_event.external_id)
        )
        if activity is None or activity.row["owner_id"] is not None:
            continue
        settings, _ = rules.settings_for(integration, str(activity.id))
        owner = activity_owner(decider.map_rep(replace(key_event, owner=rep), settings))
        if owner is not None:
            activity.row["owner_id"] = owner
            activity.dirty = True
            out.activities.append((activity.row["type"], activity.id, owner))
    write(connection, decider.finish(now))
    return out


def settle_declared_lines(connection: Connection, rules: WorkspaceRules) -> int:
    """The own numbers admins declare (``own_numbers``) settle what waited for them, as a
    line a tool names does (:func:`leadsync.engine.learn_lines.settle`): the activities held
    for one, or asked about one as a number several records have, are looked for again — an
    internal call now, the hold released and the question closed with the reason. And the
    other way: an internal call whose line is declared no more (an entry removed) and not
    learned from its tool is looked for again as a call to that number — attached to whoever
    has it, held, or asked about (:func:`leadsync.engine.learn_lines.not_internal`). Written
    as a batch of its own, under the batch lock, only when something waits (cheap reads
    first). How many activities were looked for again."""
    declared = rules.declared_lines
    lines = {(name, number) for name, found in declared.items() for number in found}
    orphans = own_store.internal_without_line(connection, lines)
    if not orphans and not own_store.waiting_for(connection, lines):
        return 0
    numbers = {number for _, number in lines}
    store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
    state = load(connection, rules, [], learn=numbers, again={a for a, _i, _n in orphans})
    now = now_ts()
    decider = BatchDecider(state, rules, now=now)
    settled = sum(
        learn_lines.settle(decider, line) for lines in declared.values() for line in lines.values()
    )
    for activity_id, integration, _number in orphans:
        learn_lines.not_internal(decider, activity_id, integration)
    write(connection, decider.finish(now))
    return settled + len(orphans)


@dataclass
class RepDecided:
    """What :func:`decide_for_rep` did: the records' decisions, and the activities that got
    an owner (type, id, owner)."""

    decisions: list[OwnerDecision] = field(default_factory=list)
    activities: list[tuple[str, int, str]] = field(default_factory=list)
