"""The review queue's SQL: pages of questions (oldest open first), one question, closing
one, the held activities whose time ran out, and the queue's figures for the report. The
engine's inserts are in :mod:`leadsync.store.counterparts`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values
from leadsync.store.own_lines import internal_count
from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_memory,
    held_activities,
    own_lines,
    owner_decisions,
    record_phones,
    records,
    review_items,
)
from leadsync.values import stored_id

OPEN = "open"


def page(
    connection: Connection,
    status: str | None,
    kind: str | None,
    integration: str | None,
    limit: int,
    after: int | None,
) -> list[dict[str, Any]]:
    """Questions in id order (the oldest first), after ``after`` (a keyset page)."""
    t = review_items
    query = sa.select(t).order_by(t.c.id).limit(limit)
    if status is not None:
        query = query.where(t.c.status == status)
    if kind is not None:
        query = query.where(t.c.kind == kind)
    if integration is not None:
        query = query.where(t.c.integration == integration)
    if after is not None:
        query = query.where(t.c.id > after)
    return [dict(r._mapping) for r in connection.execute(query)]


def count_open(connection: Connection) -> int:
    t = review_items
    found = connection.execute(
        sa.select(sa.func.count()).select_from(t).where(t.c.status == OPEN)
    ).scalar_one()
    return int(found)


def one(connection: Connection, item_id: int) -> dict[str, Any] | None:
    if not stored_id(item_id):
        return None
    row = connection.execute(sa.select(review_items).where(review_items.c.id == item_id)).first()
    return dict(row._mapping) if row is not None else None


def close(
    connection: Connection,
    item_id: int,
    status: str,
    at: str,
    by: str,
    choice: str | None,
    outcome: str,
) -> bool:
    """Close an open question; False when it was closed meanwhile."""
    t = review_items
    done = connection.execute(
        sa.update(t)
        .where(t.c.id == item_id, t.c.status == OPEN)
        .values(status=status, closed_at=at, closed_by=by, choice=choice, outcome=outcome)
    )
    return bool(done.rowcount)


def activity_of(connection: Connection, activity_id: int) -> dict[str, Any] | None:
    row = connection.execute(sa.select(activities).where(activities.c.id == activity_id)).first()
    return dict(row._mapping) if row is not None else None


def owners_of(connection: Connection, record_ids: Collection[int]) -> dict[int, str | None]:
    """The current owner of each of these records (by id; a record that is gone is absent)."""
    if not record_ids:
        return {}
    query = sa.select(records.c.id, records.c.owner_id).where(
        in_values(records.c.id, record_ids, connection.dialect.name)
    )
    return {int(i): o for i, o in connection.execute(query)}


def left_by_rep(connection: Connection, integration: str, rep: str) -> list[dict[str, Any]]:
    """The records a rep's events left without the owner they named (the rep mapped to
    nobody: a flagged decision that proposed no owner) and whose owner nothing set since:
    per record its last such decision (``record_id``, ``event_id``, ``at``; ``first`` when
    it is the record's first decision: its event created the record), by record id.
    ``rep`` is the rep as its question names it (its external id, else its email); the
    decisions name it as ``id (email)`` or alone."""
    d = owner_decisions
    later = owner_decisions.alias("later")
    set_since = (
        sa.exists()
        .where(later.c.record_id == d.c.record_id, later.c.id > d.c.id)
        .where(later.c.outcome == "set")
    )
    ranked = (
        sa.select(
            d.c.record_id,
            d.c.event_id,
            d.c.at,
            ~sa.exists()
            .where(later.c.record_id == d.c.record_id, later.c.id < d.c.id)
            .label("first"),
            sa.func.row_number()
            .over(partition_by=d.c.record_id, order_by=d.c.id.desc())
            .label("n"),
        )
        .where(d.c.integration == integration, d.c.flagged.is_(True))
        .where(d.c.outcome != "set", d.c.proposed_owner_id.is_(None))
        .where(
            sa.or_(
                d.c.external_user == rep, d.c.external_user.startswith(f"{rep} (", autoescape=True)
            )
        )
        .where(~set_since)
        .subquery()
    )
    query = (
        sa.select(ranked.c.record_id, ranked.c.event_id, ranked.c.at, ranked.c.first)
        .where(ranked.c.n == 1)
        .order_by(ranked.c.record_id)
    )
    return [dict(r._mapping) for r in connection.execute(query)]


def ownerless_activities(
    connection: Connection, integration: str, rep: str
) -> list[dict[str, Any]]:
    """The integration's activities that have no owner and whose events name the rep (as
    its question names it: its id, else its email; the memory's ``o`` is ``[id, email,
    …]``): ``type`` and ``external_id``, by id."""
    a, m = activities, activity_memory
    rep_id, rep_email = m.c.state[("o", 0)].as_string(), m.c.state[("o", 1)].as_string()
    query = (
        sa.select(a.c.type, a.c.external_id)
        .join(
            m,
            sa.and_(
                m.c.integration == a.c.integration,
                m.c.type == a.c.type,
                m.c.external_id == a.c.external_id,
            ),
        )
        .where(a.c.integration == integration, a.c.owner_id.is_(None))
        .where(sa.or_(rep_id == rep, sa.and_(rep_id.is_(None), rep_email == rep)))
        .order_by(a.c.id)
    )
    return [dict(r._mapping) for r in connection.execute(query)]


def record_type_of(connection: Connection, record_id: int) -> str | None:
    found = connection.execute(
        sa.select(records.c.type).where(records.c.id == record_id)
    ).scalar_one_or_none()
    return str(found) if found is not None else None


def hold_ended(now: str) -> sa.ColumnElement[bool]:
    """The one rule of when a hold has ended (its activity is due for the review queue): its
    ``expires_at`` is ``now`` or earlier. The expiry queues the rows it selects
    (:func:`expired_holds`); the lists say the same of a hold (:func:`.holds.holds_of`)."""
    return held_activities.c.expires_at <= now


def expired_holds(
    connection: Connection, now: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """Held activities past their time, not queued yet, with what the question names:
    (activity_id, number, integration, held_at, expires_at, type, external_id)."""
    h, a = held_activities, activities
    rows = connection.execute(
        sa.select(
            h.c.activity_id,
            h.c.number,
            h.c.integration,
            h.c.held_at,
            h.c.expires_at,
            a.c.type,
            a.c.external_id,
        )  # fmt: skip
        .join(a, a.c.id == h.c.activity_id)
        .where(h.c.queued.is_(False), hold_ended(now))
        .order_by(h.c.expires_at, h.c.activity_id)
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


def mark_queued(connection: Connection, activity_ids: Sequence[int]) -> None:
    if activity_ids:
        h = held_activities
        connection.execute(
            sa.update(h).where(h.c.activity_id.in_(list(activity_ids))).values(queued=True)
        )


def figures(connection: Connection, since: str, soon: str) -> dict[str, Any]:
    """For the report: open questions per kind with the oldest's time; held activities,
    those of them also in the review queue, those whose hold ends before ``soon``; contacts created for unknown numbers since
    ``since``."""
    t, h = review_items, held_activities
    per_kind = connection.execute(
        sa.select(t.c.kind, sa.func.count(), sa.func.min(t.c.created_at))
        .where(t.c.status == OPEN)
        .group_by(t.c.kind)
    ).all()
    # Every held activity (a queued one stays held: a later contact still takes it), those
    # also in the review queue, and those reaching it before ``soon``.
    held = connection.execute(
        sa.select(
            sa.func.count(sa.distinct(h.c.activity_id)),
            sa.func.count(sa.distinct(sa.case((h.c.queued.is_(True), h.c.activity_id)))),
            sa.func.count(
                sa.distinct(
                    sa.case(
                        (sa.and_(h.c.queued.is_(False), h.c.expires_at <= soon), h.c.activity_id)
                    )
                )
            ),
        )
    ).one()
    created = connection.execute(
        sa.select(sa.func.count())
        .select_from(records)
        .where(records.c.origin == "unknown_number", records.c.created_at >= since)
    ).scalar_one()
    return {
        "open": {kind: (int(n), oldest) for kind, n, oldest in per_kind},
        "held": int(held[0]),
        "queued": int(held[1]),
        "expiring": int(held[2]),
        "created_since": int(created),
    }


def unknown_number_contacts(connection: Connection, since: str, limit: int) -> list[dict[str, Any]]:
    """Contacts created for an unknown number since ``since``, newest first; ``own_line``:
    the integration that made it has learned since that the number is one of the company's
    lines."""
    r, p, o = records, record_phones, own_lines
    rows = connection.execute(
        sa.select(
            r.c.id,
            r.c.created_at,
            r.c.created_by,
            r.c.owner_id,
            p.c.number,
            o.c.number.is_not(None).label("own_line"),
        )
        .outerjoin(p, sa.and_(p.c.record_id == r.c.id, p.c.property == "phone"))
        .outerjoin(o, sa.and_(o.c.integration == r.c.created_by, o.c.number == p.c.number))
        .where(r.c.origin == "unknown_number", r.c.created_at >= since)
        .order_by(r.c.created_at.desc(), r.c.id.desc())
        .limit(limit)
    )
    return [dict(row._mapping) for row in rows]


def unreadable_phones(connection: Connection, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """Phone numbers of contacts and leads that do not read as numbers: how many, and some,
    each with its record's ``properties`` (who gave a number kept beside is there)."""
    p, r = record_phones, records
    total = connection.execute(
        sa.select(sa.func.count()).select_from(p).where(p.c.valid.is_(False))
    ).scalar_one()
    rows = connection.execute(
        sa.select(p.c.record_id, p.c.record_type, p.c.property, p.c.number, r.c.properties)
        .join(r, r.c.id == p.c.record_id)
        .where(p.c.valid.is_(False))
        .order_by(p.c.record_id.desc(), p.c.property)
        .limit(limit)
    )
    return int(total), [dict(row._mapping) for row in rows]


def phones_of(connection: Connection, record_id: int) -> list[dict[str, Any]]:
    """A contact's or lead's entries in the phone index (``property``, ``number``,
    ``valid``), by property (a property's own number before those kept beside it)."""
    p = record_phones
    rows = connection.execute(
        sa.select(p.c.property, p.c.number, p.c.valid)
        .where(p.c.record_id == record_id)
        .order_by(p.c.property)
    )
    return [dict(row._mapping) for row in rows]


def counterpart_counts(connection: Connection) -> dict[str, int]:
    """A workspace's counterparts as a whole: activities on a record by number, held ones,
    held ones attached later, open questions, internal calls (a replay compares two runs by
    these)."""
    aa, h, t = activity_associations, held_activities, review_items
    by_source: dict[str, int] = {
        source: int(n)
        for source, n in connection.execute(
            sa.select(aa.c.source, sa.func.count(sa.distinct(aa.c.activity_id)))
            .where(aa.c.source.in_(("number", "held")))
            .group_by(aa.c.source)
        )
    }
    held = connection.execute(sa.select(sa.func.count(sa.distinct(h.c.activity_id)))).scalar_one()
    queued = connection.execute(
        sa.select(sa.func.count()).select_from(t).where(t.c.status == OPEN)
    ).scalar_one()
    return {
        "matched_by_number": int(by_source.get("number", 0)),
        "held": int(held),
        "attached_later": int(by_source.get("held", 0)),
        "queued_for_review": int(queued),
        "internal": internal_count(connection),
    }
