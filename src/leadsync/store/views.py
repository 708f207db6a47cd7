"""Read views for people and programs: a record with its owner history and timeline, finding
records, dead letters and the inbox. Each is a few set-based queries."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadsync.model import settings_used, ts_to_datetime
from leadsync.store import holds, reports
from leadsync.store import push as push_store
from leadsync.store.schema import (
    ACTIVITY_COLUMNS,
    activities,
    activity_associations,
    activity_skips,
    activity_sources,
    audit_log,
    dead_letters,
    external_users,
    inbox,
    outbox,
    owner_decisions,
    record_associations,
    record_identities,
    records,
    review_items,
)
from leadsync.values import LARGEST_ID, stored_id


def record_row(connection: Connection, record_id: int) -> dict[str, Any] | None:
    if not stored_id(record_id):
        return None
    row = connection.execute(sa.select(records).where(records.c.id == record_id)).first()
    return dict(row._mapping) if row is not None else None


def owner_history(connection: Connection, record_id: int) -> list[dict[str, Any]]:
    """A record's owner decisions, oldest decided first (the last one gave the owner it has
    now): each with ``decided_at``, when leadsync decided it, and ``at``, when its event
    happened (with no event: the time its change is dated)."""
    t = owner_decisions
    query = sa.select(t).where(t.c.record_id == record_id).order_by(t.c.id)
    return [
        {
            "decided_at": r.decided_at,
            "at": r.at,
            "owner_id": r.owner_id,
            "previous_owner_id": r.previous_owner_id,
            "proposed_owner_id": r.proposed_owner_id,
            "integration": r.integration,
            "strategy": r.strategy,
            "outcome": r.outcome,
            "reason": r.reason,
            "event_id": r.event_id,
            "external_user": r.external_user,
            "flagged": bool(r.flagged),
            "settings": settings_used(r.settings),
        }
        for r in connection.execute(query)
    ]


def timeline(
    connection: Connection, record_id: int, limit: int | None = None
) -> list[dict[str, Any]]:
    """The record's activities, newest first, each with every record it is associated with."""
    a, aa = activities, activity_associations
    query = (
        sa.select(a)
        .join(aa, aa.c.activity_id == a.c.id)
        .where(aa.c.record_id == record_id)
        .order_by(a.c.occurred_at.desc(), a.c.id.desc())
    )
    if limit is not None:
        query = query.limit(min(limit, LARGEST_ID))
    rows = [dict(r._mapping) for r in connection.execute(query)]
    links = _activity_links(connection, [r["id"] for r in rows])
    items = []
    for row in rows:
        item = _activity_item(row)
        item["associations"] = links.get(row["id"], [])
        items.append(item)
    return items


def _as_given(value: Any) -> Any:
    """A typed column's value as the event gave it: a whole number read back from a REAL
    column (a call's ``duration_s``: 95, not 95.0) is an integer again."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _activity_item(row: Mapping[str, Any]) -> dict[str, Any]:
    properties = {
        name: _as_given(row[col]) for name, col in ACTIVITY_COLUMNS.items() if row[col] is not None
    }
    properties.update(row["properties"] or {})
    return {
        "id": row["id"],
        "type": row["type"],
        "occurred_at": row["occurred_at"],
        "owner_id": row["owner_id"],
        "integration": row["integration"],
        "external_id": row["external_id"],
        "event_id": row["event_id"],
        "properties": properties,
    }


def _chunks(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), 900):
        yield ids[start : start + 900]


def _activity_links(connection: Connection, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The records each activity is associated with (one ``IN`` query per 900 activities),
    each with its source — ``event`` (named by the event), ``auto`` (the association rules),
    ``number``, ``held`` or ``person`` (rules/counterparts.py) — and its reason when stored."""
    aa = activity_associations
    links: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk in _chunks(ids):
        link_rows = connection.execute(
            sa.select(aa.c.activity_id, aa.c.record_id, aa.c.record_type, aa.c.source, aa.c.reason)
            .where(aa.c.activity_id.in_(chunk))
            .order_by(aa.c.activity_id, aa.c.record_id)
        )
        for link in link_rows:
            item = {"type": link.record_type, "id": link.record_id, "source": link.source}
            if link.reason is not None:  # a match by number, a late attach, a person's answer
                item["reason"] = link.reason
            links[link.activity_id].append(item)
    return links


def activity_rows(
    connection: Connection,
    integration: str | None = None,
    since: str | None = None,
    activity_type: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The newest activities created (those since ``since``, of one integration or type),
    each with the records it is on and why, and the other tools' activities merged into it
    (dedupe rules) with the reason: three queries, whatever the number of activities."""
    a, src = activities, activity_sources
    query = sa.select(a).order_by(a.c.occurred_at.desc(), a.c.id.desc()).limit(limit)
    if integration is not None:
        query = query.where(a.c.integration == integration)
    if since is not None:
        query = query.where(a.c.occurred_at >= since)
    if activity_type is not None:
        query = query.where(a.c.type == activity_type)
    rows = [dict(r._mapping) for r in connection.execute(query)]
    ids = [r["id"] for r in rows]
    links = _activity_links(connection, ids)
    merged: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for chunk in _chunks(ids):
        for m in connection.execute(
            sa.select(src)
            .where(src.c.activity_id.in_(chunk))
            .order_by(src.c.activity_id, src.c.merged_at, src.c.integration)
        ):
            merged[m.activity_id].append(
                {
                    "integration": m.integration,
                    "external_id": m.external_id,
                    "at": m.merged_at,
                    "reason": m.reason,
                }
            )
    return [
        {
            **_activity_item(row),
            "records": links.get(row["id"], []),
            "merged_from": merged[row["id"]],
        }
        for row in rows
    ]


def identities(connection: Connection, record_id: int) -> list[dict[str, Any]]:
    """The ids the integrations know the record by; one a tool merged into another carries
    ``merged_into`` (that id) and ``merged_at``: it still names this record; one that named
    a record joined into this one carries ``joined_from`` (that record's id)."""
    t = record_identities
    query = (
        sa.select(t.c.integration, t.c.external_id, t.c.merged_into, t.c.merged_at, t.c.joined_from)
        .where(t.c.record_id == record_id)
        .order_by(t.c.integration, t.c.external_id)
    )
    out: list[dict[str, Any]] = []
    for integration, external_id, merged_into, merged_at, joined in connection.execute(query):
        row: dict[str, Any] = {"integration": integration, "external_id": external_id}
        if merged_into is not None:
            row["merged_into"], row["merged_at"] = merged_into, merged_at
        if joined is not None:
            row["joined_from"] = int(joined)
        out.append(row)
    return out


def joined_records(connection: Connection, record_id: int) -> list[dict[str, Any]]:
    """The records a tool's merge joined into this one (engine/record_joins.py), oldest
    first: each one's id and when it was merged (by the tool's clock)."""
    query = (
        sa.select(records.c.id, records.c.merged_at)
        .where(records.c.merged_into == record_id)
        .order_by(records.c.merged_at, records.c.id)
    )
    return [{"id": int(i), "merged_at": at} for i, at in connection.execute(query)]


def associated_records(connection: Connection, record_id: int) -> list[dict[str, Any]]:
    t = record_associations
    left = sa.select(t.c.right_id.label("id"), t.c.right_type.label("type"), t.c.is_primary).where(
        t.c.left_id == record_id
    )
    right = sa.select(
        t.c.left_id.label("id"), t.c.left_type.label("type"), sa.false().label("is_primary")
    ).where(t.c.right_id == record_id)
    query = sa.union_all(left, right).order_by("type", "id")
    return [
        {"type": r.type, "id": r.id, "primary": bool(r.is_primary)}
        for r in connection.execute(query)
    ]


def find_ids(
    connection: Connection,
    email: str | None = None,
    domain: str | None = None,
    external: tuple[str, str] | None = None,
) -> list[int]:
    # A record joined into another (records.merged_into) leads to that one.
    found = sa.func.coalesce(records.c.merged_into, records.c.id)
    if email is not None:
        query = sa.select(found).where(
            records.c.type == "contact", records.c.email == email.strip().lower()
        )
    elif domain is not None:
        query = sa.select(found).where(records.c.type == "company", records.c.domain == domain)
    elif external is not None:
        query = sa.select(record_identities.c.record_id).where(
            record_identities.c.integration == external[0],
            record_identities.c.external_id == external[1],
        )
    else:
        return []
    return sorted({int(i) for i in connection.scalars(query)})


def dead_letter_state(row: Mapping[str, Any]) -> str:
    """``open`` (counts in the report), ``retried`` (back in the inbox) or ``dismissed``."""
    if row["resolved_at"] is None:
        return "open"
    return "dismissed" if row["dismissed_reason"] is not None else "retried"


def _letter(row: Any) -> dict[str, Any]:
    letter = dict(row._mapping)
    letter["state"] = dead_letter_state(letter)
    return letter


def dead_letter_rows(
    connection: Connection,
    integration: str | None = None,
    limit: int = 100,
    include_resolved: bool = False,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest dead letters first (older than id ``before``, the last of a page, when
    given), each with its ``state``; resolved ones (retried or dismissed) only when asked
    for."""
    query = sa.select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(dead_letters.c.id < before)
    if integration is not None:
        query = query.where(dead_letters.c.integration == integration)
    if not include_resolved:
        query = query.where(dead_letters.c.resolved_at.is_(None))
    return [_letter(r) for r in connection.execute(query)]


def dead_letter_count(
    connection: Connection, integration: str | None = None, include_resolved: bool = False
) -> int:
    query = sa.select(sa.func.count()).select_from(dead_letters)
    if integration is not None:
        query = query.where(dead_letters.c.integration == integration)
    if not include_resolved:
        query = query.where(dead_letters.c.resolved_at.is_(None))
    return int(connection.execute(query).scalar_one())


def dead_letter(connection: Connection, letter_id: int) -> dict[str, Any] | None:
    if not stored_id(letter_id):
        return None
    row = connection.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).first()
    return _letter(row) if row is not None else None


def open_dead_letter_ids(
    connection: Connection, ids: Collection[int] | None, integration: str | None
) -> list[int]:
    """The ids of open (unresolved) letters: among ``ids``, or all (of ``integration``)."""
    query = sa.select(dead_letters.c.id).where(dead_letters.c.resolved_at.is_(None))
    if ids is not None:
        query = query.where(dead_letters.c.id.in_(sorted(ids)))
    if integration is not None:
        query = query.where(dead_letters.c.integration == integration)
    return [int(i) for i in connection.scalars(query.order_by(dead_letters.c.id))]


def inbox_rows(
    connection: Connection,
    status: str | None = None,
    integration: str | None = None,
    limit: int = 100,
    before: int | None = None,
) -> list[dict[str, Any]]:
    """The newest inbox rows first (before sequence number ``before``, the last of a page,
    when given), with their stored payloads."""
    query = sa.select(inbox).order_by(inbox.c.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(inbox.c.seq < before)
    if status is not None:
        query = query.where(inbox.c.status == status)
    if integration is not None:
        query = query.where(inbox.c.integration == integration)
    return [dict(r._mapping) for r in connection.execute(query)]


def inbox_counts(connection: Connection) -> list[dict[str, Any]]:
    query = (
        sa.select(inbox.c.integration, inbox.c.status, sa.func.count())
        .group_by(inbox.c.integration, inbox.c.status)
        .order_by(inbox.c.integration, inbox.c.status)
    )
    return [
        {"integration": i, "status": s, "count": int(n)} for i, s, n in connection.execute(query)
    ]


def held_by_integrations(
    connection: Connection, names: Collection[str]
) -> dict[str, tuple[int, int]]:
    """Per integration of ``names`` that holds any: the records its ids name and its inbox
    rows not yet applied (pending), for what removing it leaves behind."""
    ri, by = record_identities.c, inbox.c.integration
    ids = sa.select(ri.integration, sa.func.count(sa.distinct(ri.record_id))).group_by(
        ri.integration
    )
    pending = sa.select(by, sa.func.count()).where(inbox.c.status == "pending").group_by(by)
    held: dict[str, list[int]] = {name: [0, 0] for name in names}
    for i, query in enumerate((ids.where(ri.integration.in_(held)), pending.where(by.in_(held)))):
        for name, count in connection.execute(query):
            held[name][i] = int(count)
    return {
        name: (records, events) for name, (records, events) in held.items() if records or events
    }


def named_integrations(connection: Connection) -> dict[str, list[str]]:
    """The integrations each list names — ``dead_letters``, ``audit_log``, ``review_items`` —
    removed ones included (their entries stay)."""
    out: dict[str, list[str]] = {}
    for table in (dead_letters, audit_log, review_items):
        query = sa.select(table.c.integration).where(table.c.integration.is_not(None))
        out[table.name] = sorted(connection.execute(query.distinct()).scalars())
    return out


def has_integration_rows(connection: Connection, name: str) -> bool:
    """Whether the workspace has rows of integration ``name`` — events, dead letters, audit
    entries or review questions — whether or not it is configured now: one row each is
    enough (the inbox's is found by its (integration, event_id) key)."""
    tables = (inbox, dead_letters, audit_log, review_items)
    found = sa.or_(*(sa.exists().where(t.c.integration == name) for t in tables))
    return bool(connection.execute(sa.select(found)).scalar_one())


def outbox_rows(
    connection: Connection, integration: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    query = sa.select(outbox).order_by(outbox.c.id).limit(limit)
    if integration is not None:
        query = query.where(outbox.c.integration == integration)
    return [dict(r._mapping) for r in connection.execute(query)]


def decision_rows(
    connection: Connection,
    integration: str | None = None,
    outcome: str | None = None,
    flagged: bool = False,
    limit: int = 100,
    settings: str | None = None,
) -> list[dict[str, Any]]:
    """The newest decided owner decisions across records (by ``decided_at``, when leadsync
    made each, then the newest id: the (decided_at, id) index read backwards), optionally
    narrowed (``settings``: those stored with that label, e.g. a rollout's). Each row has
    ``decided_at`` and ``at``, its event's time: a late event's decision sits where it was
    decided, showing its older event time."""
    t = owner_decisions
    query = sa.select(t).order_by(t.c.decided_at.desc(), t.c.id.desc()).limit(limit)
    if integration is not None:
        query = query.where(t.c.integration == integration)
    if outcome is not None:
        query = query.where(t.c.outcome == outcome)
    if flagged:
        query = query.where(t.c.flagged.is_(True))
    if settings is not None:
        query = query.where(t.c.settings == settings)
    return [
        {**r._mapping, "settings": settings_used(r.settings)} for r in connection.execute(query)
    ]


def skipped_rows(
    connection: Connection,
    integration: str | None = None,
    limit: int = 100,
    since: str | None = None,
    activity_type: str | None = None,
    created_later: bool = False,
) -> list[dict[str, Any]]:
    """The newest activities that were received but not created (those that happened since
    ``since``, of one integration or type; newest by ``occurred_at``, the time each row
    shows and ``since`` reads), each once, with why (its latest skip's) and its record: ``record`` is
    ``{"type", "id", "named"}`` (``id`` None when the workspace had no such record then;
    None when the event named no record, or for skips stored before records were kept).
    With ``created_later``, also the skips whose activity a later event created after all
    (:func:`leadsync.store.reports.not_created`): ``created_later`` is ``{"activity_id",
    "at"}`` on those (``at`` None when it is not known: found by migration 0024), else
    None."""
    t = activity_skips
    query = sa.select(t).order_by(t.c.occurred_at.desc(), t.c.id.desc()).limit(limit)
    if not created_later:
        # An activity once, under its latest reason, however many of its events were
        # skipped (a missed Aircall call's ``call.ended`` is two events).
        query = query.where(reports.not_created(), reports.latest_skip())
    if integration is not None:
        query = query.where(t.c.integration == integration)
    if since is not None:
        query = query.where(t.c.occurred_at >= since)
    if activity_type is not None:
        query = query.where(t.c.type == activity_type)
    out = []
    for r in connection.execute(query):
        row = dict(r._mapping)
        record_type, named, record_id = (
            row.pop("record_type"),
            row.pop("record_named"),
            row.pop("record_id"),
        )
        row["record"] = (
            None if record_type is None else {"type": record_type, "id": record_id, "named": named}
        )
        activity_id, at = row.pop("activity_id"), row.pop("created_later_at")
        row["created_later"] = (
            None if activity_id is None else {"activity_id": activity_id, "at": at}
        )
        row["settings"] = settings_used(row["settings"])
        out.append(row)
    return out


def external_user_rows(connection: Connection, integration: str) -> list[dict[str, Any]]:
    query = (
        sa.select(external_users)
        .where(external_users.c.integration == integration)
        .order_by(external_users.c.external_id)
    )
    return [dict(r._mapping) for r in connection.execute(query)]


@dataclass(frozen=True, slots=True)
class InboxLag:
    pending: int
    oldest_pending_at: str | None
    lag_s: float


def inbox_lag(engine: Engine) -> InboxLag:
    """Pending rows and the age of the oldest, for readiness and monitoring."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(sa.func.count(), sa.func.min(inbox.c.received_at)).where(
                inbox.c.status == "pending"
            )
        ).one()
    pending, oldest = int(row[0]), row[1]
    lag = 0.0
    if oldest is not None:
        lag = max(0.0, time.time() - ts_to_datetime(oldest).timestamp())
    return InboxLag(pending, oldest, round(lag, 3))


def _hubspot_ids(pushed: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Each pushed object's HubSpot id and when it was last pushed (never pushed: absent)."""
    return {
        local_id: {"id": row["hubspot_id"], "pushed_at": row["pushed_at"]}
        for local_id, row in pushed.items()
        if row["hubspot_id"] is not None
    }


def record_view(
    connection: Connection, row: Mapping[str, Any], limit: int | None
) -> dict[str, Any]:
    """A record (its ``record_row``) with its identities, associations, owner history and
    timeline (the newest ``limit`` activities), and the HubSpot ids of it and its activities
    (an activity's with the links HubSpot lacks, ``links_waiting``: to records it has no id
    for yet): the JSON of ``records show``."""
    record_id = int(row["id"])
    items = timeline(connection, record_id, limit)
    asked = holds.questions_of(connection, [item["id"] for item in items])
    for item in items:  # the review queue's open questions about it (a tie of deals, say)
        item["questions"] = asked.get(item["id"], [])
    pushed_activities = _hubspot_ids(
        push_store.load_pushed(connection, push_store.ACTIVITY, [item["id"] for item in items])
    )
    linked = {a["id"] for item in items for a in item["associations"]}
    pushed_records = _hubspot_ids(push_store.load_pushed(connection, push_store.RECORD, linked))
    for item in items:
        pushed = item["hubspot"] = pushed_activities.get(item["id"])
        if pushed is not None:
            # Its links HubSpot lacks: to records it has no id for yet (made when they are).
            pushed["links_waiting"] = [
                {"type": a["type"], "id": a["id"]}
                for a in item["associations"]
                if a["type"] in push_store.PUSHED_RECORD_TYPES and a["id"] not in pushed_records
            ]
    hubspot = _hubspot_ids(push_store.load_pushed(connection, push_store.RECORD, [record_id]))
    return {
        "id": row["id"],
        "type": row["type"],
        "owner_id": row["owner_id"],
        "email": row["email"],
        "domain": row["domain"],
        "name": row["name"],
        "stage": row["stage"],
        "is_closed": row["is_closed"],
        "placeholder": bool(row["placeholder"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "created_by": row["created_by"],
        "properties": row["properties"],
        "properties_given": properties_given(row.get("property_times")),
        # Joined into another record by a tool's merge: that record holds it all now.
        "merged_into": row.get("merged_into"),
        "merged_at": row.get("merged_at"),
        "joined": joined_records(connection, record_id),
        "identities": identities(connection, record_id),
        "associations": associated_records(connection, record_id),
        "owner_history": owner_history(connection, record_id),
        "timeline": items,
        "hubspot": hubspot.get(record_id),
    }


def properties_given(times: Any) -> dict[str, dict[str, str]]:
    """Per property, the integration and the time (by the vendor's clock) of the event that
    gave the value shown; none for a property given before leadsync kept them."""
    if isinstance(times, str):
        times = json.loads(times)
    if not isinstance(times, dict):
        return {}
    return {
        prop: {"integration": str(given[1]), "at": str(given[0])}
        for prop, given in sorted(times.items())
        if isinstance(given, list) and len(given) == 2
    }


def found_records(connection: Connection, record_ids: Collection[int]) -> list[dict[str, Any]]:
    """The short form of records (as ``records find`` lists them), in the order given."""
    found = [record_row(connection, i) for i in record_ids]
    return [
        {
            "id": r["id"],
            "type": r["type"],
            "owner_id": r["owner_id"],
            "email": r["email"],
            "domain": r["domain"],
            "name": r["name"],
            "placeholder": bool(r["placeholder"]),
        }
        for r in found
        if r is not None
    ]
