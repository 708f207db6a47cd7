"""The HubSpot push in the database: the queue the engine fills in its own transaction, the
HubSpot ids of pushed objects, refused inputs, the pusher's lease and the shared request
budget. Set-based: a cycle reads its queue slice, objects, links and ids in a few queries.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import PUSHED_RECORD_TYPES as PUSHED
from leadsync.store.database import in_values, insert_ignore, insert_rows, upsert
from leadsync.store.schema import (
    activities,
    activity_associations,
    push_failures,
    push_objects,
    push_queue,
    record_associations,
    record_identities,
    records,
)

RECORD = "record"
ACTIVITY = "activity"
PUSHED_RECORD_TYPES = frozenset(PUSHED)
# The category of an input leadsync's own check kept from being sent (no HTTP status):
# HubSpot never saw it. Every other failure is HubSpot's refusal, with its status.
PRECONDITION = "LEADSYNC_PRECONDITION"
# A record pushed without a value none of the portal's options names (its dropdown): the
# value was not sent (destinations/hubspot/options.py). Open while the record holds it.
NOT_AN_OPTION = "LEADSYNC_NOT_AN_OPTION"
# A contact updated without the email HubSpot holds on another contact (its 409): the email
# was not sent, the rest was.
EMAIL_TAKEN = "LEADSYNC_EMAIL_TAKEN"
NOT_SENT = (PRECONDITION, NOT_AN_OPTION, EMAIL_TAKEN)
# A record updated without a value HubSpot refused (a VALIDATION_ERROR naming the property),
# the rest went: HubSpot's refusal, not leadsync's check.
VALUE_REFUSED = "LEADSYNC_VALUE_REFUSED"
# The reports of an object pushed without one value (the rest went).
WITHOUT_A_VALUE = (NOT_AN_OPTION, EMAIL_TAKEN, VALUE_REFUSED)


def refused_by(category: str | None) -> str:
    """Who refused a push failure's input: ``leadsync`` (its own check, before sending: not
    sent) or ``hubspot``."""
    return "leadsync" if category in NOT_SENT else "hubspot"


def _in(connection: Connection, column: Any, values: Collection[Any]) -> Any:
    return in_values(column, values, connection.dialect.name)


# ------------------------------------------------------------------------- the queue


_QUEUE_COLUMNS = ("kind", "local_id", "object_type", "change", "other_id", "queued_at")


def enqueue(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Queue changes: dicts with kind, local_id, object_type, change, other_id, queued_at
    (the engine queues one per change of a batch: one statement, :func:`insert_rows`)."""
    if rows:
        get = itemgetter(*_QUEUE_COLUMNS)
        insert_rows(connection, push_queue, _QUEUE_COLUMNS, [get(r) for r in rows])


def queue_slice(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The oldest ``limit`` queued changes, in order."""
    rows = connection.execute(sa.select(push_queue).order_by(push_queue.c.id).limit(limit))
    return [dict(r._mapping) for r in rows]


def dequeue(connection: Connection, ids: Collection[int]) -> None:
    if ids:
        connection.execute(sa.delete(push_queue).where(_in(connection, push_queue.c.id, ids)))


def queue_depth(connection: Connection) -> list[dict[str, Any]]:
    """Queued changes per object type, with the oldest one's time."""
    q = push_queue
    count, oldest = sa.func.count().label("queued"), sa.func.min(q.c.queued_at).label("oldest")
    rows = connection.execute(
        sa.select(q.c.object_type, count, oldest)
        .group_by(q.c.object_type)
        .order_by(q.c.object_type)
    )
    return [dict(r._mapping) for r in rows]


# ------------------------------------------------------------------ objects and links


def _rows_by_id(
    connection: Connection, table: sa.Table, ids: Collection[int]
) -> dict[int, dict[str, Any]]:
    """Rows of ``records`` or ``activities`` by id, their properties JSON read."""
    if not ids:
        return {}
    out: dict[int, dict[str, Any]] = {}
    for row in connection.execute(sa.select(table).where(_in(connection, table.c.id, ids))):
        data = dict(row._mapping)
        if isinstance(data["properties"], str):
            data["properties"] = json.loads(data["properties"])
        out[int(data["id"])] = data
    return out


def load_records(connection: Connection, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    return _rows_by_id(connection, records, ids)


def load_activities(connection: Connection, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    return _rows_by_id(connection, activities, ids)


def load_pushed(
    connection: Connection, kind: str, ids: Collection[int]
) -> dict[int, dict[str, Any]]:
    """push_objects rows of ``kind`` by local id."""
    if not ids:
        return {}
    rows = connection.execute(
        sa.select(push_objects).where(
            push_objects.c.kind == kind, _in(connection, push_objects.c.local_id, ids)
        )
    )
    return {int(r.local_id): dict(r._mapping) for r in rows}


def links_of_activities(
    connection: Connection, activity_ids: Collection[int]
) -> list[tuple[int, int, str]]:
    """(activity id, record id, record type) of the activities' associations."""
    if not activity_ids:
        return []
    t = activity_associations
    rows = connection.execute(
        sa.select(t.c.activity_id, t.c.record_id, t.c.record_type).where(
            _in(connection, t.c.activity_id, activity_ids)
        )
    )
    return [(int(a), int(r), str(rt)) for a, r, rt in rows]


def activity_links_to_records(
    connection: Connection, record_ids: Collection[int]
) -> list[tuple[int, int, str, str]]:
    """(activity id, record id, record type, activity type) of activities linked to records."""
    if not record_ids:
        return []
    t = activity_associations
    rows = connection.execute(
        sa.select(t.c.activity_id, t.c.record_id, t.c.record_type, activities.c.type)
        .join(activities, activities.c.id == t.c.activity_id)
        .where(_in(connection, t.c.record_id, record_ids))
    )
    return [(int(a), int(r), str(rt), str(at)) for a, r, rt, at in rows]


def links_of_records(
    connection: Connection, record_ids: Collection[int]
) -> list[tuple[int, int, str, str, bool]]:
    """(left id, right id, left type, right type, is_primary) touching the records."""
    if not record_ids:
        return []
    t = record_associations
    query = sa.select(t.c.left_id, t.c.right_id, t.c.left_type, t.c.right_type, t.c.is_primary)
    rows = list(connection.execute(query.where(_in(connection, t.c.left_id, record_ids))))
    rows += list(connection.execute(query.where(_in(connection, t.c.right_id, record_ids))))
    seen: set[tuple[int, int]] = set()
    out: list[tuple[int, int, str, str, bool]] = []
    for left, right, lt, rt, primary in rows:
        if (left, right) not in seen:
            seen.add((left, right))
            out.append((int(left), int(right), str(lt), str(rt), bool(primary)))
    return out


def record_types(connection: Connection, ids: Collection[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = connection.execute(
        sa.select(records.c.id, records.c.type).where(_in(connection, records.c.id, ids))
    )
    return {int(i): str(t) for i, t in rows}


def mark_create_sent(
    connection: Connection, kind: str, objects: Mapping[int, str], at: str
) -> None:
    """Record, before sending, that a create of these objects (local id -> type) is going
    out; committed first, it is what a restarted pusher reconciles."""
    if not objects:
        return
    connection.execute(
        upsert(connection, push_objects, ["kind", "local_id"], {"create_sent_at": at}),
        [
            {"kind": kind, "local_id": lid, "object_type": t, "create_sent_at": at}
            for lid, t in objects.items()
        ],
    )


_UNSENT = {
    "owner_sent_id": None,
    "owner_sent_at": None,
    "owner_written_at": None,
    "followed_owner_id": None,
    "pushed_properties": None,
    "properties_sent": None,
}


def _owner_written_at(excluded: Any) -> Any:
    """A row that confirms an owner leadsync sent (its ``owner_written_at`` set: the save's
    time) is dated when that write was sent — the update's ``owner_sent_at``, else the
    create's ``create_sent_at``, both set before it left; any other row keeps the date."""
    return sa.case(
        (excluded.owner_written_at.is_(None), push_objects.c.owner_written_at),
        else_=sa.func.coalesce(
            push_objects.c.owner_sent_at,
            push_objects.c.create_sent_at,
            excluded.owner_written_at,
        ),
    )


def save_pushed(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Upsert push_objects rows: kind, local_id, object_type, hubspot_id, pushed_at,
    pushed_owner_id, create_sent_at (and pushed_properties, properties_sent: none if left
    out; owner_written_at: set where the row confirms an owner leadsync wrote;
    followed_owner_id: the owner HubSpot keeps that leadsync did not write, "" for none,
    None or left out where HubSpot has ``pushed_owner_id``)."""
    if not rows:
        return
    connection.execute(
        upsert(
            connection,
            push_objects,
            ["kind", "local_id"],
            {
                "hubspot_id": lambda ex: ex.hubspot_id,
                "pushed_at": lambda ex: ex.pushed_at,
                "pushed_owner_id": lambda ex: ex.pushed_owner_id,
                # before create_sent_at and owner_sent_at are cleared (both read the row as
                # it was: ON CONFLICT's SET reads the existing row whatever the order)
                "owner_written_at": _owner_written_at,
                "create_sent_at": lambda ex: ex.create_sent_at,
                "followed_owner_id": lambda ex: ex.followed_owner_id,
                "owner_sent_id": lambda ex: ex.owner_sent_id,
                "owner_sent_at": lambda ex: ex.owner_sent_at,
                "pushed_properties": lambda ex: ex.pushed_properties,
                "properties_sent": lambda ex: ex.properties_sent,
            },
        ),
        [{**_UNSENT, **r} for r in rows],
    )


def note_hubspot_owners(connection: Connection, owners: Mapping[int, str | None]) -> None:
    """HubSpot's own webhooks reported these records' owners: HubSpot has them, as if the
    push had written them (``pushed_owner_id``), so the push never writes one back — over a
    later change a person made there meanwhile. Records HubSpot does not have yet: nothing."""
    _set_owners(connection, owners, "pushed_owner_id", followed_owner_id=None)


def mark_owner_sent(connection: Connection, owners: Mapping[int, str | None], at: str) -> None:
    """Record, before sending, the owners about to be written to records HubSpot has; a
    pusher that finds one unconfirmed counts it as possibly in HubSpot (ours either way)."""
    _set_owners(connection, owners, "owner_sent_id", owner_sent_at=at)


def _set_owners(
    connection: Connection, owners: Mapping[int, str | None], column: str, **also: Any
) -> None:
    """``column`` of each record's push row set to its owner (and ``also``), one statement."""
    if owners:
        connection.execute(
            sa.update(push_objects)
            .where(
                push_objects.c.kind == RECORD,
                push_objects.c.local_id == sa.bindparam("_id"),
            )
            .values({column: sa.bindparam("_owner"), **also}),
            [{"_id": lid, "_owner": owner} for lid, owner in owners.items()],
        )


def add_identities(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record identities (integration, type, external id -> record) for the HubSpot ids of
    pushed records, so HubSpot's webhooks find them."""
    if rows:
        connection.execute(insert_ignore(connection, record_identities), list(rows))


def add_pushed_identities(connection: Connection, integration: str) -> None:
    """Give every record pushed so far an identity of ``integration`` (a HubSpot one added
    after the push ran): its HubSpot id, as the push gives one to every HubSpot integration
    it knows, so that the integration's webhooks find the record rather than make another.
    One statement; identities held already are kept."""
    pushed = sa.select(
        sa.literal(integration).label("integration"),
        push_objects.c.object_type,
        push_objects.c.hubspot_id,
        push_objects.c.local_id,
    ).where(push_objects.c.kind == RECORD, push_objects.c.hubspot_id.is_not(None))
    columns = ["integration", "type", "external_id", "record_id"]
    connection.execute(insert_ignore(connection, record_identities).from_select(columns, pushed))


def crm_ids(
    connection: Connection, integrations: Collection[str], record_ids: Collection[int]
) -> dict[int, str]:
    """The HubSpot id of each of these records that HubSpot's own webhooks named (an identity
    of a HubSpot integration: the CRM the push writes to), by record: HubSpot has them. An id
    HubSpot merged into another is not one: it is gone there. A record's own id comes before
    one it got from a record joined into it (``joined_from``: that record's object, which
    HubSpot still holds apart when the merge was made in another tool)."""
    if not integrations or not record_ids:
        return {}
    t = record_identities
    query = (
        sa.select(t.c.record_id, t.c.external_id, t.c.joined_from)
        .where(t.c.integration.in_(sorted(integrations)), t.c.merged_into.is_(None))
        .where(_in(connection, t.c.record_id, record_ids))
    )
    best: dict[int, tuple[bool, str]] = {}
    for record_id, hubspot_id, joined_from in connection.execute(query):
        rank = (joined_from is not None, str(hubspot_id))
        if int(record_id) not in best or rank < best[int(record_id)]:
            best[int(record_id)] = rank
    return {record_id: rank[1] for record_id, rank in best.items()}


class PushedOwner(NamedTuple):
    """What leadsync last wrote of a record's owner in HubSpot: ``owners``, the confirmed one
    and one sent but not yet confirmed (either may be there: both are leadsync's own); and
    ``written_at``, when the last write HubSpot applied was sent (None: not known)."""

    owners: frozenset[str | None]
    written_at: str | None


def pushed_owners(connection: Connection, record_ids: Collection[int]) -> dict[int, PushedOwner]:
    """:class:`PushedOwner` per record leadsync pushed."""
    if not record_ids:
        return {}
    rows = connection.execute(
        sa.select(
            push_objects.c.local_id,
            push_objects.c.pushed_owner_id,
            push_objects.c.owner_sent_id,
            push_objects.c.owner_sent_at,
            push_objects.c.owner_written_at,
        ).where(
            push_objects.c.kind == RECORD,
            push_objects.c.hubspot_id.is_not(None),
            _in(connection, push_objects.c.local_id, record_ids),
        )
    )
    out: dict[int, PushedOwner] = {}
    for lid, owner, sent, sent_at, written_at in rows:
        owners = frozenset({owner, sent} if sent_at is not None else {owner})
        out[int(lid)] = PushedOwner(owners, written_at)
    return out


def pushed_in_last(connection: Connection, since: str) -> dict[str, int]:
    rows = connection.execute(
        sa.select(push_objects.c.object_type, sa.func.count())
        .where(push_objects.c.pushed_at >= since)
        .group_by(push_objects.c.object_type)
    )
    return {str(t): int(n) for t, n in rows}


# --------------------------------------------------------------------------- failures


def add_failures(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        connection.execute(sa.insert(push_failures), list(rows))


def resolve_failures(
    connection: Connection,
    kind: str,
    local_ids: Collection[int],
    at: str,
    resolution: str,
    by: str | None = None,
    reason: str | None = None,
    keep: Collection[int] = (),
    keep_categories: Collection[str] = (),
) -> None:
    """Close the open failures of objects (pushed after all, retried, dismissed), with who
    did it and why (a dismissal); not those ``keep`` names (ids) or of ``keep_categories``."""
    if local_ids:
        kept: list[sa.ColumnElement[bool]] = []
        if keep:
            kept.append(push_failures.c.id.not_in(list(keep)))
        if keep_categories:
            kept.append(push_failures.c.category.not_in(list(keep_categories)))
        connection.execute(
            sa.update(push_failures)
            .where(
                push_failures.c.kind == kind,
                push_failures.c.resolved_at.is_(None),
                _in(connection, push_failures.c.local_id, local_ids),
                *kept,
            )
            .values(resolved_at=at, resolution=resolution, resolved_by=by, dismissed_reason=reason)
        )


def not_an_option_failures(
    connection: Connection, record_ids: Collection[int]
) -> list[tuple[int, int, str, str | None]]:
    """(failure id, record id, message, resolution) of the records' value-not-an-option
    failures that are open (resolution None) or were dismissed."""
    if not record_ids:
        return []
    rows = connection.execute(
        sa.select(
            push_failures.c.id,
            push_failures.c.local_id,
            push_failures.c.message,
            push_failures.c.resolution,
        ).where(
            push_failures.c.kind == RECORD,
            push_failures.c.category == NOT_AN_OPTION,
            sa.or_(
                push_failures.c.resolved_at.is_(None), push_failures.c.resolution == "dismissed"
            ),
            _in(connection, push_failures.c.local_id, record_ids),
        )
    )
    return [(int(i), int(r), str(m), n) for i, r, m, n in rows]


def reported(connection: Connection, kind: str, local_id: int, category: str, message: str) -> bool:
    """Whether the object has this report open, or dismissed (a dismissal stands for it)."""
    f = push_failures
    found = connection.execute(
        sa.select(f.c.id)
        .where(
            f.c.kind == kind,
            f.c.local_id == local_id,
            f.c.category == category,
            f.c.message == message,
            sa.or_(f.c.resolved_at.is_(None), f.c.resolution == "dismissed"),
        )
        .limit(1)
    ).first()
    return found is not None


def open_failure_keys(
    connection: Connection, record_ids: Collection[int], activity_ids: Collection[int]
) -> set[tuple[str, int]]:
    """(kind, local id) of the objects among these with an open push failure."""
    out: set[tuple[str, int]] = set()
    for kind, ids in ((RECORD, record_ids), (ACTIVITY, activity_ids)):
        if ids:
            rows = connection.execute(
                sa.select(push_failures.c.local_id).where(
                    push_failures.c.kind == kind,
                    push_failures.c.resolved_at.is_(None),
                    _in(connection, push_failures.c.local_id, ids),
                )
            )
            out |= {(kind, int(local_id)) for (local_id,) in rows}
    return out


def open_failures(
    connection: Connection, limit: int = 100, include_resolved: bool = False, before: int = 0
) -> list[dict[str, Any]]:
    """The newest failures first (older than id ``before``, the last of a page, when given),
    each with who refused it (``refused_by``: leadsync's own check, whose ``status`` is None,
    or HubSpot) and its ``state`` (open, or how it was resolved: retried, dismissed, pushed);
    resolved ones only when asked for."""
    query = sa.select(push_failures).order_by(push_failures.c.id.desc()).limit(limit)
    query = query.where(push_failures.c.id < before) if before else query
    if not include_resolved:
        query = query.where(push_failures.c.resolved_at.is_(None))
    return [_failure_view(r) for r in connection.execute(query)]


def failure(connection: Connection, failure_id: int) -> dict[str, Any] | None:
    """One failure as :func:`open_failures` lists it; None when there is none of that id."""
    row = connection.execute(sa.select(push_failures).where(push_failures.c.id == failure_id))
    found = row.first()
    return None if found is None else _failure_view(found)


def _failure_view(r: Any) -> dict[str, Any]:
    return {
        **r._mapping,
        "refused_by": refused_by(r.category),
        "state": r.resolution if r.resolved_at is not None else "open",
    }


def failures_by_id(connection: Connection, ids: Collection[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = connection.execute(
        sa.select(push_failures).where(_in(connection, push_failures.c.id, ids))
    )
    return [dict(r._mapping) for r in rows]


def count_open_failures(connection: Connection, not_sent: bool = False, since: str = "") -> int:
    """Open failures (recorded since ``since``); with ``not_sent``, only those leadsync's own
    check kept from HubSpot."""
    f = push_failures
    query = sa.select(sa.func.count()).where(f.c.resolved_at.is_(None), f.c.at >= since)
    if not_sent:
        query = query.where(push_failures.c.category.in_(NOT_SENT))
    return int(connection.execute(query).scalar_one())


def count_pushed(connection: Connection) -> int:
    """How many objects have a HubSpot id (made, or found, in the portal pushed to)."""
    query = sa.select(sa.func.count()).where(push_objects.c.hubspot_id.is_not(None))
    return int(connection.execute(query).scalar_one())


def forget_portal(connection: Connection) -> None:
    """Forget what the push knew of a portal: the objects' HubSpot ids and what was written
    there, the queue and the refused inputs (another portal's answers)."""
    for table in (push_objects, push_queue, push_failures):
        connection.execute(sa.delete(table))


def queue_backfill(connection: Connection, at: str, record_types: Sequence[str]) -> int:
    """Queue every record (of the pushed types) and activity the push has never dealt with,
    set-based; returns the number queued."""
    known = sa.select(push_objects.c.local_id).where(push_objects.c.kind == RECORD)
    connection.execute(
        sa.insert(push_queue).from_select(
            ["kind", "local_id", "object_type", "change", "queued_at"],
            sa.select(
                sa.literal(RECORD),
                records.c.id,
                records.c.type,
                sa.literal("backfill"),
                sa.literal(at),
            )
            .where(records.c.type.in_(list(record_types)), records.c.id.not_in(known))
            .where(records.c.merged_into.is_(None))  # joined into another: never pushed
            .order_by(records.c.id),
        )
    )
    known_a = sa.select(push_objects.c.local_id).where(push_objects.c.kind == ACTIVITY)
    connection.execute(
        sa.insert(push_queue).from_select(
            ["kind", "local_id", "object_type", "change", "queued_at"],
            sa.select(
                sa.literal(ACTIVITY),
                activities.c.id,
                activities.c.type,
                sa.literal("backfill"),
                sa.literal(at),
            )
            .where(activities.c.id.not_in(known_a))
            .order_by(activities.c.id),
        )
    )
    # (rowcount of INSERT ... SELECT is not reported by every driver)
    counted = sa.select(sa.func.count()).where(
        push_queue.c.change == "backfill", push_queue.c.queued_at == at
    )
    return int(connection.execute(counted).scalar_one())


def requeue(connection: Connection, rows: Sequence[Mapping[str, Any]], at: str) -> None:
    """Queue objects again (failures retried)."""
    enqueue(
        connection,
        [
            {
                "kind": r["kind"],
                "local_id": r["local_id"],
                "object_type": r["object_type"],
                "change": "retry",
                "other_id": None,
                "queued_at": at,
            }
            for r in rows
        ],
    )
