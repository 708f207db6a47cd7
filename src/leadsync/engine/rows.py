"""What a decided batch writes (:class:`Decided`): every table's rows, built once from the
decider's end state, stamped with the time of writing that the caller passes in (the owner
decisions' ``decided_at`` too).

Pure, like the decide step: :mod:`leadsync.engine.write` only hands these rows to the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leadsync.engine import echoes, links
from leadsync.engine.state import ActivityState, BatchResult, EventTrace
from leadsync.model import ActivitySkip, OwnerDecision
from leadsync.rules.workspace import WorkspaceRules
from leadsync.store import push as push_store
from leadsync.store.batch import ACTIVITY_ID, RECORD_ID

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


@dataclass(slots=True)
class Decided:
    """A batch's decisions with their reasons and the rows that carry them, table by table,
    in the order they are written (see :func:`leadsync.engine.write.write`)."""

    now: str
    rules: WorkspaceRules
    new_records: list[dict[str, Any]]
    changed_records: list[dict[str, Any]]  # whole rows: properties or core fields changed
    owner_rows: list[dict[str, Any]]  # owner and times only
    identities: list[dict[str, Any]]
    # Ids a tool merged into another record, pointed at the kept one (engine/merges.py), and
    # a CRM's: (object type, the merged ids, the id kept) for the push's objects.
    merged_identities: list[dict[str, Any]]
    hubspot_merges: list[tuple[str, list[str], str]]
    # What the identities the batch changed named, from which of its owner changes on.
    identity_log: list[tuple[tuple[str, str, str], list[tuple[int, int | None]]]]
    # Records joined into another (engine/record_joins.py): absorbed, kept, type, at, crm.
    record_joins: list[dict[str, Any]]
    # The rep each identity's integration gave last as the record's owner, where it changed.
    identity_reps: list[dict[str, Any]]
    record_links: list[dict[str, Any]]  # new, or a primary company moved: upserted
    deleted_activities: list[int]
    new_activities: list[dict[str, Any]]
    changed_activities: list[dict[str, Any]]
    activity_links: list[dict[str, Any]]
    memories: list[dict[str, Any]]
    activity_sources: list[dict[str, Any]]
    decisions: list[OwnerDecision]
    skips: list[ActivitySkip]
    # Skips of earlier batches whose activity a batch event created after all (integration,
    # type, external_id, activity_id, created_later_at), resolved before the batch's own
    # skips are written (those carry it already).
    created_later: list[dict[str, Any]]
    # The push of the batch's own changes (empty without a destination); owner changes are
    # queued with the outbox by write_owner_changes, except for records created here.
    push: list[dict[str, Any]]
    owner_changes: list[OwnerDecision]
    created_records: set[int]
    # What the tools' reports made of the owners written to them (engine/echoes.py):
    # stored outbox rows to update, and the batch's own rows by (change index, integration,
    # external id) — None: not written (an identity the batch made after the change).
    echoes: list[dict[str, Any]]
    new_echoes: dict[tuple[int, str, str], dict[str, Any] | None]
    external_users: list[dict[str, Any]]
    counters: dict[str, int]
    result: BatchResult
    traces: dict[str, EventTrace] | None = field(default=None)
    # Counterparts: contacts' and leads' phone rows set and removed, activities held and
    # released, review questions asked, open ones closed (their activity found its record).
    phones: list[dict[str, Any]] = field(default_factory=list)
    phones_removed: list[tuple[int, str]] = field(default_factory=list)
    holds: list[dict[str, Any]] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)
    closing: list[dict[str, Any]] = field(default_factory=list)
    # Activities joined into another (one activity a tool names by several ids): (removed
    # id, kept id); the skips they resolved move to the kept one.
    moved: list[tuple[int, int]] = field(default_factory=list)
    # The company's own lines learned; activities that are internal calls now, and those
    # that are no more (engine/own_lines.py).
    own_lines: list[dict[str, Any]] = field(default_factory=list)
    internal: list[dict[str, Any]] = field(default_factory=list)
    internal_removed: list[int] = field(default_factory=list)


def collect(d: BatchDecider, now: str) -> Decided:
    """The rows of a decided batch: records inserted or updated (the whole row when its
    fields changed, else owner and times), record links made or whose primary flag a moved
    primary company changed, activities inserted, updated or deleted (a deleted one loses
    its links), links to live activities only, memories touched, and the counters at the
    last ids used."""
    records = d.records.values()
    new_records = sorted((r.row() for r in records if r.new), key=lambda r: r["id"])
    changed = [r for r in records if r.dirty and not r.new]
    activities = _all_activities(d)
    deleted = {a.id for a in activities if a.deleted}
    # A held activity attached late and removed by a later event of the batch gets no links.
    live = {a.id for a in activities if not a.deleted} | (set(d.late_attached) - deleted)
    record_links = links.link_rows(d)
    stored_echoes, new_echoes = echoes.rows(d)
    counters = dict(sorted(d.round_robin_changed.items()))
    if d.state.ids is None:  # else the ids came from sequences
        counters[RECORD_ID] = d.state.next_record_id - 1
        counters[ACTIVITY_ID] = d.state.next_activity_id - 1
    return Decided(
        now=now,
        rules=d.rules,
        new_records=new_records,
        changed_records=[r.row() for r in changed if r.fields_dirty],
        owner_rows=[r.owner_row() for r in changed if not r.fields_dirty],
        identities=d.new_identities,
        merged_identities=[d.merged_identities[key] for key in sorted(d.merged_identities)],
        hubspot_merges=d.hubspot_merges,
        identity_log=sorted(d.identity_log.items()),
        record_joins=d.record_joins,
        identity_reps=[
            {
                "integration": key[0],
                "type": key[1],
                "external_id": key[2],
                "record_id": d.identity[key],
                "owner_rep": d.given_reps[key].rep,
                "owner_rep_at": d.given_reps[key].at,
            }
            for key in sorted(d.reps_given)  # in key order, like every upsert of a batch
        ],
        record_links=record_links,
        deleted_activities=[a.id for a in activities if a.deleted and not a.new],
        new_activities=[a.row for a in d.new_activities if not a.deleted],
        changed_activities=[a.row for a in activities if a.dirty and not a.new and not a.deleted],
        activity_links=[row for (aid, _), row in d.new_activity_links.items() if aid in live],
        memories=[
            {
                "integration": key[0],
                "type": key[1],
                "external_id": key[2],
                "state": d.memory[key],
                "updated_at": now,
            }
            for key in sorted(d.memory_changed)
        ],
        activity_sources=d.new_sources,
        decisions=_decided(d.decisions, now),
        skips=d.skips,
        created_later=d.created_later,
        push=_push_rows(d, activities, live, now) if d.rules.push else [],
        owner_changes=d.owner_changes,
        created_records={r.id for r in records if r.new},
        echoes=stored_echoes,
        new_echoes=new_echoes,
        # In key order: parallel workers upserting the same reps never wait in a cycle.
        external_users=[d.external_users[k] for k in sorted(d.external_users)],
        counters=counters,
        result=d.result,
        traces=d.traces,
        phones=[row for row in d.phone_rows.values() if row is not None],
        phones_removed=[key for key, row in d.phone_rows.items() if row is None],
        holds=[h for h in d.new_holds if h["activity_id"] not in deleted],
        released=sorted(d.released | deleted),
        questions=d.questions,
        closing=d.closing,
        moved=d.moved,
        own_lines=d.state.own_lines.new,
        internal=[
            row for key, row in sorted(d.state.own_lines.internal.items()) if key not in deleted
        ],
        internal_removed=sorted(
            (d.released | deleted) - (set(d.state.own_lines.internal) - deleted)
        ),
    )


def _decided(decisions: list[OwnerDecision], now: str) -> list[OwnerDecision]:
    """The batch's owner decisions, each stamped ``decided_at``: the time of writing, when
    leadsync made them (their ``at`` is their event's time). The same objects the decider
    returned (a person's change reads its own back), so they carry it too."""
    for decision in decisions:
        decision.decided_at = now
    return decisions


def _all_activities(d: BatchDecider) -> list[ActivityState]:
    """Every activity the batch holds, once: those found by key, those removed and then made
    anew under their key or merged into another (engine/aliases.py), and new ones without a
    key."""
    found = [
        *d.activities.values(),
        *d.retired,
        *(a for a in d.new_activities if a.row["external_id"] is None),
    ]
    return list({id(a): a for a in found}.values())


def _push_rows(
    d: BatchDecider, activities: list[ActivityState], live: set[int], now: str
) -> list[dict[str, Any]]:
    """The batch's changes for the push queue (owner changes are queued with them by
    :func:`~leadsync.engine.write.write_owner_changes`): records created or changed,
    activities created, changed or removed, and links added to objects that existed before
    the batch."""
    rows: list[dict[str, Any]] = []

    def row(
        kind: str, local_id: int, object_type: str, change: str, other: int | None = None
    ) -> None:
        rows.append(
            {
                "kind": kind,
                "local_id": local_id,
                "object_type": object_type,
                "change": change,
                "other_id": other,
                "queued_at": now,
            }
        )

    records = d.records
    pushed = push_store.PUSHED_RECORD_TYPES
    for record in records.values():
        if record.type._value_ not in pushed:
            continue
        if record.new:
            row(push_store.RECORD, record.id, record.type._value_, "created")
        elif record.fields_dirty:
            row(push_store.RECORD, record.id, record.type._value_, "changed")
    # A contact's new primary company is sent labelled primary (HubSpot then demotes the
    # old one), whether the link is new or the contact had that company already.
    moved = links.new_primaries(d)
    for link in d.new_links:
        left = records.get(link["left_id"])
        if left is not None and left.type._value_ in pushed and not left.new:
            row(push_store.RECORD, left.id, left.type._value_, "associated", link["right_id"])
            if moved.get(left.id) == link["right_id"]:
                del moved[left.id]
    for left_id, company_id in moved.items():
        left = records[left_id]
        if left.type._value_ in pushed and not left.new:
            row(push_store.RECORD, left_id, left.type._value_, "associated", company_id)
    for a in activities:
        if a.deleted and not a.new:
            row(push_store.ACTIVITY, a.id, a.row["type"], "removed")
        elif a.new and not a.deleted:
            row(push_store.ACTIVITY, a.id, a.row["type"], "created")
        elif a.dirty and not a.deleted:
            row(push_store.ACTIVITY, a.id, a.row["type"], "changed")
    older = {a.id: a.row["type"] for a in activities if not a.new}
    new = {a.id for a in activities if a.new}
    older.update((i, t) for i, t in d.late_attached.items() if i not in new)
    for activity_id, record_id in d.new_activity_links:
        if activity_id in live and activity_id in older:
            row(push_store.ACTIVITY, activity_id, older[activity_id], "associated", record_id)
    # A record joined into another is never pushed again (engine/record_joins.py).
    gone = {r.id for r in records.values() if r.merged_into is not None}
    if gone:
        rows = [
            r
            for r in rows
            if r["other_id"] not in gone
            and (r["kind"] != push_store.RECORD or r["local_id"] not in gone)
        ]
    return rows
