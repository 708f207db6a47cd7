"""The health report's queries: each check's rows grouped and counted in the database.

Every function is set-based (a grouped query, or a few over the window's rows) and returns
rows, never alerts: the thresholds' meaning and the wording stay in
:mod:`leadsync.ops.monitor`. Test data (the test lead's records and calls) is left out by
the marks the caller passes (``test_prefix``, ``test_domain``), so this module knows nothing
of the test lead itself.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_skips,
    activity_sources,
    dead_letters,
    external_users,
    owner_decisions,
    records,
)

Rows = Sequence[Row[Any]]


def not_test(table: sa.Table, test_prefix: str) -> sa.ColumnElement[bool]:
    """Activities whose external id does not carry the test mark."""
    return sa.or_(table.c.external_id.is_(None), table.c.external_id.not_like(f"{test_prefix}%"))


# The rows each check counts, as filters: the report's queries and the console's per-day
# charts (:mod:`leadsync.store.dashboard`) both use them, so a chart's days add up to the
# report's count.


def not_test_record(record_id: sa.ColumnElement[Any], test_domain: str) -> sa.ColumnElement[bool]:
    """``record_id`` names no test record (a record with an email at ``test_domain``)."""
    r = records
    return ~sa.exists().where(r.c.id == record_id, r.c.email.like(f"%@{test_domain}"))


def owner_changed_since(since: str, test_domain: str) -> list[sa.ColumnElement[bool]]:
    """Owner decisions that changed the owner, since ``since`` (test leads left out)."""
    d = owner_decisions
    return [d.c.outcome == "set", d.c.at >= since, not_test_record(d.c.record_id, test_domain)]


def unowned_new(since: str, settled: str, test_domain: str) -> list[sa.ColumnElement[bool]]:
    """Contacts and leads created between ``since`` and ``settled`` that have no owner (test
    leads left out)."""
    r = records
    return [
        r.c.type.in_(("contact", "lead")),
        r.c.owner_id.is_(None),
        sa.or_(r.c.email.is_(None), r.c.email.not_like(f"%@{test_domain}")),
        r.c.created_at >= since,
        r.c.created_at <= settled,
    ]


def skipped_since(since: str) -> sa.ColumnElement[bool]:
    """Activities received but not created, that happened since ``since``."""
    return activity_skips.c.occurred_at >= since


def open_dead_letters_since(since: str) -> list[sa.ColumnElement[bool]]:
    """Dead letters received since ``since`` and neither retried nor dismissed."""
    dl = dead_letters
    return [dl.c.resolved_at.is_(None), dl.c.received_at >= since]


def flapping_records(
    connection: Connection,
    since: str,
    min_changes: int,
    limit: int,
    test_domain: str,
    *,
    not_counted: str,
) -> tuple[int, Rows]:
    """How many records had at least ``min_changes`` owner changes since ``since``, and the
    ``limit`` with the most (``record_id``, ``record_type``, ``changes``); the changes of
    strategy ``not_counted`` (an admin's undo) are not counted."""
    d = owner_decisions
    # The window's rows first (the time index), then grouped: left to itself the planner
    # walks the whole table in record order to save a sort (ten times slower on a big one).
    recent = (
        sa.select(d.c.record_id, d.c.record_type)
        .where(*owner_changed_since(since, test_domain), d.c.strategy != not_counted)
        .cte("recent_changes")
        .prefix_with("MATERIALIZED")
    )
    counts = (
        sa.select(recent.c.record_id, recent.c.record_type, sa.func.count().label("changes"))
        .group_by(recent.c.record_id, recent.c.record_type)
        .having(sa.func.count() >= min_changes)
    ).subquery()
    total = connection.execute(sa.select(sa.func.count()).select_from(counts)).scalar_one()
    top = connection.execute(
        sa.select(counts).order_by(counts.c.changes.desc(), counts.c.record_id).limit(limit)
    ).all()
    return int(total), top


def owner_changes_since(
    connection: Connection, record_ids: Collection[int], since: str, test_domain: str
) -> Rows:
    """The owner changes of ``record_ids`` since ``since``, in order per record
    (``record_id``, ``at``, ``owner_id``, ``integration``, ``strategy``)."""
    if not record_ids:
        return []
    d = owner_decisions
    return connection.execute(
        sa.select(d.c.record_id, d.c.at, d.c.owner_id, d.c.integration, d.c.strategy)
        .where(d.c.record_id.in_(list(record_ids)), *owner_changed_since(since, test_domain))
        .order_by(d.c.record_id, d.c.at, d.c.id)
    ).all()


def unowned_new_records(
    connection: Connection,
    since: str,
    settled: str,
    test_domain: str,
    reason_kinds: Sequence[tuple[str, str]],
    no_decision: str,
    other: str,
    limit: int,
) -> tuple[Rows, Rows]:
    """Contacts and leads created between ``since`` and ``settled`` that have no owner.

    Returns the groups (``created_by``, ``why``, ``n``; largest first) and the first
    ``limit`` of them (``id``, ``type``, ``created_by``). ``why`` names the kind of the
    record's latest decision: the label of the first ``(LIKE pattern, label)`` of
    ``reason_kinds`` its reason matches, ``no_decision`` without one, else ``other``.
    """
    r, d = records, owner_decisions
    latest = (
        sa.select(d.c.reason)
        .where(d.c.record_id == r.c.id)
        .order_by(d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    base = (
        sa.select(r.c.id, r.c.type, r.c.created_by, r.c.created_at, latest.label("reason")).where(
            *unowned_new(since, settled, test_domain)
        )
    ).subquery()
    why = sa.case(
        (base.c.reason.is_(None), no_decision),
        *((base.c.reason.like(pattern), label) for pattern, label in reason_kinds),
        else_=other,
    ).label("why")
    groups = connection.execute(
        sa.select(base.c.created_by, why, sa.func.count().label("n"))
        .group_by(base.c.created_by, why)
        .order_by(sa.func.count().desc())
    ).all()
    examples = connection.execute(
        sa.select(base.c.id, base.c.type, base.c.created_by).order_by(base.c.id).limit(limit)
    ).all()
    return groups, examples


def busy_record_days(
    connection: Connection, since: str, max_per_day: int, test_prefix: str
) -> Rows:
    """Every (``record_id``, ``day``, ``n``) with more than ``max_per_day`` activities since
    ``since``: one grouped pass over the window's activities and their records."""
    a, aa = activities, activity_associations
    day = sa.func.substr(a.c.occurred_at, 1, 10).label("day")
    return connection.execute(
        sa.select(aa.c.record_id, day, sa.func.count().label("n"))
        .select_from(aa.join(a, a.c.id == aa.c.activity_id))
        .where(a.c.occurred_at >= since, not_test(a, test_prefix))
        .group_by(aa.c.record_id, day)
        .having(sa.func.count() > max_per_day)
    ).all()


def record_types(connection: Connection, record_ids: Collection[int]) -> dict[int, str]:
    """Each record's type by id (ids that name no record are absent)."""
    if not record_ids:
        return {}
    r = records
    query = sa.select(r.c.id, r.c.type).where(r.c.id.in_(list(record_ids)))
    return {int(rid): str(rtype) for rid, rtype in connection.execute(query)}


def activities_of_day(connection: Connection, record_id: int, day: str) -> Rows:
    """A record's activities on ``day`` (``YYYY-MM-DD``) by (``integration``, ``type``, ``n``),
    most first."""
    a, aa = activities, activity_associations
    return connection.execute(
        sa.select(a.c.integration, a.c.type, sa.func.count().label("n"))
        .select_from(aa.join(a, a.c.id == aa.c.activity_id))
        .where(
            aa.c.record_id == record_id,
            a.c.occurred_at >= day,
            a.c.occurred_at < day + "T99",
        )
        .group_by(a.c.integration, a.c.type)
        .order_by(sa.func.count().desc())
    ).all()


def skips_by_kind(connection: Connection, since: str, limit: int) -> tuple[int, Rows]:
    """Activities skipped since ``since``: how many, and the ``limit`` largest groups by
    (``integration``, ``type``, ``kind``, ``n``) — the kind of reason, not each value. An
    activity counts once however many of its events were skipped (a call's five webhooks:
    one call); one with no id of its own is each event's."""
    s = activity_skips
    window = skipped_since(since)
    each = sa.func.count(
        sa.distinct(
            s.c.integration
            + "\x1f"
            + s.c.type
            + "\x1f"
            + sa.func.coalesce(s.c.external_id, "\x1e" + s.c.event_id)
        )
    )
    total = connection.execute(sa.select(each).where(window)).scalar_one()
    groups = connection.execute(
        sa.select(s.c.integration, s.c.type, s.c.kind, each.label("n"))
        .where(window)
        .group_by(s.c.integration, s.c.type, s.c.kind)
        .order_by(each.desc(), s.c.integration, s.c.type, s.c.kind)
        .limit(limit)
    ).all()
    return int(total), groups


def merges_by_pair(connection: Connection, since: str) -> Rows:
    """Activities merged since ``since`` by (first integration, ``merged`` integration, type,
    count), most first."""
    s, a = activity_sources, activities
    return connection.execute(
        sa.select(a.c.integration, s.c.integration.label("merged"), a.c.type, sa.func.count())
        .join(a, a.c.id == s.c.activity_id)
        .where(s.c.merged_at >= since)
        .group_by(a.c.integration, s.c.integration, a.c.type)
        .order_by(sa.func.count().desc())
    ).all()


def calls_and_emails_per_period(
    connection: Connection, base_start: str, day_start: str, until: str, test_prefix: str
) -> Rows:
    """Per (``integration``, ``type``) of calls and emails: how many happened from
    ``day_start`` to ``until`` (``last_day``) and from ``base_start`` to ``day_start``
    (``baseline``)."""
    a = activities
    recent = sa.func.sum(sa.case((a.c.occurred_at >= day_start, 1), else_=0))
    before = sa.func.sum(sa.case((a.c.occurred_at < day_start, 1), else_=0))
    return connection.execute(
        sa.select(a.c.integration, a.c.type, recent.label("last_day"), before.label("baseline"))
        .where(
            a.c.type.in_(("call", "email")),
            a.c.occurred_at >= base_start,
            a.c.occurred_at < until,
            not_test(a, test_prefix),
        )
        .group_by(a.c.integration, a.c.type)
        .order_by(a.c.integration, a.c.type)
    ).all()


def external_users_seen(connection: Connection, since: str) -> Rows:
    """External users seen since ``since`` (``integration``, ``external_id``, ``email``,
    ``events``, ``last_seen_at``), by integration and id."""
    u = external_users
    return connection.execute(
        sa.select(u.c.integration, u.c.external_id, u.c.email, u.c.events, u.c.last_seen_at)
        .where(u.c.last_seen_at >= since)
        .order_by(u.c.integration, u.c.external_id)
    ).all()


def open_records_by_owner(connection: Connection, owner_ids: Collection[str]) -> Rows:
    """Records not closed owned by ``owner_ids``, by (``owner_id``, ``type``, ``n``)."""
    if not owner_ids:
        return []
    r = records
    return connection.execute(
        sa.select(r.c.owner_id, r.c.type, sa.func.count().label("n"))
        .where(
            r.c.owner_id.in_(list(owner_ids)),
            sa.or_(r.c.is_closed.is_(None), r.c.is_closed.is_(False)),
        )
        .group_by(r.c.owner_id, r.c.type)
        .order_by(r.c.owner_id, r.c.type)
    ).all()


def open_dead_letters_by_integration(connection: Connection, since: str) -> Rows:
    """Dead letters received since ``since`` and not resolved (retried or dismissed), by
    (``integration``, ``n``)."""
    dl = dead_letters
    return connection.execute(
        sa.select(dl.c.integration, sa.func.count().label("n"))
        .where(*open_dead_letters_since(since))
        .group_by(dl.c.integration)
        .order_by(dl.c.integration)
    ).all()
