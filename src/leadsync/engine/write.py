"""The write step: a decided batch's rows, one executemany per table, in the caller's
transaction; and what every owner change sends on (outbox, push), shared with
``records set-owner``, undo and the push's own re-decisions.

No decisions are made here. The only read is of the identities the outbox needs (which
bidirectional integrations know a changed record), done only when one may.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.engine.echoes import NewWrite, external_owner
from leadsync.engine.rows import Decided
from leadsync.engine.state import named_at
from leadsync.model import ActivitySkip, OwnerDecision, RecordType, change_source, now_ts
from leadsync.rules.echoes import AWAITED
from leadsync.rules.workspace import WorkspaceRules
from leadsync.store import batch as store
from leadsync.store import counterparts, external_users, own_lines
from leadsync.store import joins as join_store
from leadsync.store import outbox as outbox_store
from leadsync.store import push as push_store
from leadsync.store import reports as reports_store
from leadsync.store import routing as routing_store


def write(connection: Connection, decided: Decided) -> int:
    """Write ``decided``: records, identities and links first (activities and decisions
    name them), the counters last. Returns the questions it put in the review queue (new,
    or open again: one asked already is not counted)."""
    c = connection
    rules = decided.rules
    store.insert_records(c, decided.new_records)
    store.update_records(c, decided.changed_records)
    store.update_records(c, decided.owner_rows)
    store.insert_identities(c, decided.identities)
    join_store.merge_identities(c, decided.merged_identities)
    join_store.move_merged_hubspot_ids(c, decided.hubspot_merges)
    store.save_identity_reps(c, decided.identity_reps)
    store.insert_record_links(c, decided.record_links)
    store.delete_activities(c, decided.deleted_activities)
    store.insert_activities(c, decided.new_activities)
    store.update_activities(c, decided.changed_activities)
    push = _without_links_held(c, decided.push) if rules.push else []
    store.insert_activity_links(c, decided.activity_links)
    counterparts.save_phones(c, decided.phones, decided.phones_removed)
    counterparts.release(c, decided.released)
    counterparts.hold(c, decided.holds)
    questions = counterparts.queue(c, decided.questions)
    asked = [q["key"] for q in decided.questions]
    counterparts.close_open_items_of(c, decided.closing, asked)
    own_lines.save_lines(c, decided.own_lines)
    own_lines.save_internal(c, decided.internal, decided.internal_removed)
    store.save_activity_memory(c, decided.memories)
    store.insert_activity_sources(c, decided.activity_sources)
    store.insert_owner_decisions(c, decided.decisions)
    reports_store.resolve_activity_skips(c, decided.created_later)  # (before the batch's own)
    store.insert_activity_skips(c, [_skip_row(s) for s in decided.skips])
    join_store.move_activity_skips(c, decided.moved)
    # The batch's own changes first: a record created here carries its owner already.
    if rules.push:
        push_store.enqueue(c, push)
    outbox_store.save_echoes(c, decided.echoes)
    # Owner changes go to the identities their record had when they were made: those made
    # before a join, before the join moves the absorbed record's (after every row naming it).
    start = 0
    for join in [*decided.record_joins, None]:
        end = len(decided.owner_changes) if join is None else int(join["changes_before"])
        write_owner_changes(
            c,
            rules,
            decided.owner_changes[start:end],
            queued=decided.created_records,
            at=decided.now,
            echoes=decided.new_echoes,
            start=start,
            log=dict(decided.identity_log),
        )
        start = end
        if join is not None:
            join_store.join_records(c, [join])
    if decided.record_joins:
        join_store.leave_push(
            c, decided.record_joins, rules.crm_integrations, decided.now, bool(rules.push)
        )
    external_users.upsert_external_users(c, decided.external_users)
    store.write_counters(c, decided.counters)
    if routing_store.parallel(c):
        routing_store.advance_sequences(c)
    return questions


def _without_links_held(c: Connection, rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """The push rows but an activity's link it held before this batch: the association
    rules choose an existing activity's records again with each of its events (a call's
    duration, its notes), and each link went to HubSpot again, a request each time. Read
    before the batch's links are written; one query, none without such rows."""
    linking = {r["local_id"] for r in rows if _activity_link(r)}
    if not linking:
        return rows
    held = {
        (aid, link["record_id"])
        for aid, links in join_store.load_activity_links(c, linking).items()
        for link in links
    }
    return [r for r in rows if not (_activity_link(r) and (r["local_id"], r["other_id"]) in held)]


def _activity_link(row: Mapping[str, Any]) -> bool:
    return bool(row["kind"] == push_store.ACTIVITY and row["change"] == "associated")


def _skip_row(s: ActivitySkip) -> dict[str, Any]:
    return {
        "event_id": s.event_id,
        "integration": s.integration,
        "type": s.type.value,
        "external_id": s.external_id,
        "occurred_at": s.occurred_at,
        "reason": s.reason,
        "kind": s.kind,
        "record_type": s.record.type.value if s.record is not None else None,
        "record_named": s.record.named_as if s.record is not None else None,
        "record_id": s.record_id,
        "settings": s.settings,
        "activity_id": s.activity_id,
        "created_later_at": s.created_later_at,
    }


def write_owner_changes(
    connection: Connection,
    rules: WorkspaceRules,
    changes: Sequence[OwnerDecision],
    queued: Collection[int] = (),
    at: str | None = None,
    echoes: Mapping[NewWrite, Mapping[str, Any] | None] | None = None,
    start: int = 0,
    log: Mapping[tuple[str, str, str], list[tuple[int, int | None]]] | None = None,
) -> None:
    """Everything an owner change sends on, in the caller's transaction: the outbox rows of
    the bidirectional integrations, and (with a destination) the push of the record's owner.
    The engine, a person's change, undo and the push's own re-decisions all come here;
    ``queued``: records whose push is queued already in this transaction (created ones);
    ``at``: when they are queued (now when not given); ``echoes``: what the batch's own
    reports made of its writes (:func:`outbox_rows`; ``start``: the index of the first of
    ``changes`` among the batch's; ``log``: the batch's identity changes, :func:`outbox_rows`)."""
    rows = outbox_rows(connection, rules, changes, echoes, start, log)
    outbox_store.insert_outbox(connection, rows)
    if rules.push and changes:
        # A change HubSpot's own webhook reported: HubSpot has it; nothing to push back.
        crm = rules.crm_integrations
        push_store.note_hubspot_owners(
            connection, {d.record_id: d.owner_id for d in changes if d.integration in crm}
        )
        changes = [d for d in changes if d.integration not in crm]
        queued_at = at or now_ts()
        push_store.enqueue(
            connection,
            [
                {
                    "kind": push_store.RECORD,
                    "local_id": d.record_id,
                    "object_type": d.record_type.value,
                    "change": "owner",
                    "other_id": None,
                    "queued_at": queued_at,
                }
                for d in changes
                if d.record_type.value in push_store.PUSHED_RECORD_TYPES
                and d.record_id not in queued
            ],
        )


def outbox_rows(
    connection: Connection,
    rules: WorkspaceRules,
    changes: Sequence[OwnerDecision],
    echoes: Mapping[NewWrite, Mapping[str, Any] | None] | None = None,
    start: int = 0,
    log: Mapping[tuple[str, str, str], list[tuple[int, int | None]]] | None = None,
) -> list[dict[str, Any]]:
    """Owner changes to send to every bidirectional integration that knows the record, except
    the integration the change came from (no echo). Each row naming an external owner is
    awaited back (rules/echoes.py), unless ``echoes`` — by the change's index in
    ``changes``, the integration and the external id — says what a report of the same
    batch made of it already, or (None) that the identity did not know the record when the
    change was made (the batch made it later: in one batch as in several, it is sent
    none of the changes made before). An identity the batch made, merged away or moved to
    another record (``log``: per identity, from which change on it named which record, None
    once merged) is sent a change when it named the change's record then — as a batch cut
    right after the change would have sent it; the others as the tables say."""
    targets_by_type = {t: rules.bidirectional_integrations(t) for t in RecordType}
    relevant = [
        (index, d)
        for index, d in enumerate(changes, start)
        if targets_by_type[d.record_type] - {d.integration or ""}
    ]
    if not relevant:
        return []
    known: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for record_id, integration, external_id in store.load_identities_of_records(
        connection, {d.record_id for _, d in relevant}
    ):
        known[record_id].append((integration, external_id))
    log = log or {}
    logged_keys = set(log)
    logged: dict[int, list[tuple[str, str, str]]] = {}  # per record, the ids that named it
    for key, entries in log.items():
        for record_id in {r for _, r in entries if r is not None}:
            logged.setdefault(record_id, []).append(key)
    rows: list[dict[str, Any]] = []
    for index, d in relevant:
        type_ = d.record_type.value
        targets = targets_by_type[d.record_type] - {d.integration or ""}
        source = change_source(d.integration, d.strategy)
        named = [
            (key[0], key[2])
            for key in logged.get(d.record_id, ())
            if key[1] == d.record_type.value and named_at(log[key], index) == d.record_id
        ]
        stored = [t for t in known.get(d.record_id, ()) if (t[0], type_, t[1]) not in logged_keys]
        for integration, external_id in sorted([*stored, *named]):  # (in a stable order)
            echoed = echoes.get((index, integration, external_id), {}) if echoes else {}
            if integration not in targets or echoed is None:
                continue
            rep = external_owner(rules, integration, d.owner_id)
            row = {
                "integration": integration,
                "record_id": d.record_id,
                "record_type": d.record_type.value,
                "external_id": external_id,
                "owner_id": d.owner_id,
                "external_owner_id": rep,
                "previous_owner_id": d.previous_owner_id,
                "changed_at": d.at,
                "source": source,
                "reason": d.reason,
                "status": "pending",
                "echo": None if rep is None else AWAITED,
                "echo_event_id": None,
                "echo_at": None,
                "awaited_until": None,
            }
            row.update(echoed)
            rows.append(row)
    return rows
