"""The health report's queries: each check's rows grouped and counted in the database.

Every function is set-based (a grouped query, or a few over the window's rows) and returns
rows, never alerts: the thresholds' meaning and the wording stay in
:mod:`leadsync.ops.monitor`. Test data (the test lead's records and calls) is left out by
the marks the caller passes (``test_prefix``, ``test_domain``), so this module knows nothing
of the test lead itself.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from leadsync.model import SEEN_IN_CRM
from leadsync.store.database import executemany
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


def real_records(test_domain: str) -> list[sa.ColumnElement[bool]]:
    """Records the owner checks count: not test leads (an email at ``test_domain``), nor
    records a tool's merge joined into another (gone there)."""
    r = records
    return [
        r.c.merged_into.is_(None),
        sa.or_(r.c.email.is_(None), r.c.email.not_like(f"%@{test_domain}")),
    ]


def unowned_new(since: str, settled: str, test_domain: str) -> list[sa.ColumnElement[bool]]:
    """Contacts and leads created between ``since`` and ``settled`` that have no owner (test
    leads left out, the CRM's own records leadsync first saw by a change: not new, and
    records a tool's merge joined into another: gone there)."""
    r = records
    return [
        r.c.type.in_(("contact", "lead")),
        r.c.owner_id.is_(None),
        *real_records(test_domain),
        sa.or_(r.c.origin.is_(None), r.c.origin != SEEN_IN_CRM),
        r.c.created_at >= since,
        r.c.created_at <= settled,
    ]


def resolve_activity_skips(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """The skips of activities a later event created after all: each not resolved yet gets
    the activity's id and when (rows of integration, type, external_id, activity_id,
    created_later_at)."""
    if not rows:
        return
    t = activity_skips
    quote = connection.dialect.identifier_preparer.quote
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    executemany(
        connection,
        f"UPDATE {quote(t.name)} SET activity_id = {mark}, created_later_at = {mark} "
        f"WHERE integration = {mark} AND type = {mark} AND external_id = {mark} "
        "AND activity_id IS NULL",
        [
            (r["activity_id"], r["created_later_at"], r["integration"], r["type"], r["external_id"])
            for r in rows
        ],
    )


def not_created() -> sa.ColumnElement[bool]:
    """The skips that are activities not created: those whose activity no later event
    created after all (each keeps when it did, as history). The one rule of the report, the
    console's dashboard, ``activities skipped`` and a rollout's counts."""
    return activity_skips.c.activity_id.is_(None)


def latest_skip() -> sa.ColumnElement[bool]:
    """The skip that says why its activity stands not created: the last written for it (a
    later event's reason replaces an earlier one's: a call skipped as too short, then as
    busy, is busy, counted once and under that); an activity with no id of its own, each."""
    s, later = activity_skips, activity_skips.alias("later")
    replaced = sa.exists().where(
        later.c.integration == s.c.integration,
        later.c.type == s.c.type,
        later.c.external_id == s.c.external_id,
        later.c.id > s.c.id,
        later.c.activity_id.is_(None),
    )
    return sa.or_(s.c.external_id.is_(None), ~replaced)


def skipped_since(since: str) -> sa.ColumnElement[bool]:
    """Activities received but not created (:func:`not_created`), that happened since
    ``since``."""
    return sa.and_(activity_skips.c.occurred_at >= since, not_created())


def open_dead_letters_since(since: str | None) -> list[sa.ColumnElement[bool]]:
    """Dead letters received since ``since`` (None: ever) and neither retried nor dismissed."""
    dl = dead_letters
    received = [dl.c.received_at >= since] if since is not None else []
    return [dl.c.resolved_at.is_(None), *received]


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
    ``limit`` with the most (``record_id``, ``record_type``, ``changes``). A change counts
    when it replaced or cleared an owner (:func:`owner_overwritten`); the changes of strategy
    ``not_counted`` (an admin's undo) are not counted."""
    d = owner_decisions
    # The window's rows first (the time index), then grouped: left to itself the planner
    # walks the whole table in record order to save a sort (ten times slower on a big one).
    recent = (
        sa.select(d.c.record_id, d.c.record_type)
        .where(
            *owner_changed_since(since, test_domain),
            counted_change(not_counted),
        )
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


def counted_change(not_counted: str) -> sa.ColumnElement[bool]:
    """An owner change :func:`flapping_records` counts: one that replaced or cleared an owner
    (:func:`owner_overwritten`), not of strategy ``not_counted`` (an admin's undo)."""
    return sa.and_(owner_overwritten(), owner_decisions.c.strategy != not_counted)


def owner_overwritten() -> sa.ColumnElement[bool]:
    """An owner change that replaced or cleared an owner: a record's first owner (a new
    record's, or an empty owner filled) is not an owner overwritten."""
    return owner_decisions.c.previous_owner_id.is_not(None)


def owner_change_makers(
    connection: Connection,
    record_ids: Collection[int],
    since: str,
    test_domain: str,
    *,
    not_counted: str,
) -> Rows:
    """Who made the owner changes of ``record_ids`` since ``since``, all of them (a history
    lists the latest only): per record, integration and strategy, how many changes
    (``changes``) and how many :func:`flapping_records` counts (``counted``)."""
    if not record_ids:
        return []
    d = owner_decisions
    counted = counted_change(not_counted)
    return connection.execute(
        sa.select(
            d.c.record_id,
            d.c.integration,
            d.c.strategy,
            sa.func.count().label("changes"),
            sa.func.sum(sa.case((counted, 1), else_=0)).label("counted"),
        )
        .where(d.c.record_id.in_(list(record_ids)), *owner_changed_since(since, test_domain))
        .group_by(d.c.record_id, d.c.integration, d.c.strategy)
    ).all()


def owner_histories(
    connection: Connection,
    record_ids: Collection[int],
    since: str,
    test_domain: str,
    per_record: int,
    *,
    not_counted: str,
) -> Rows:
    """The owner changes of ``record_ids`` since ``since``: the latest ``per_record`` of
    each record, in the order they were decided per record — each one's previous owner the
    owner the one before gave, whatever their events' times (a person's change is dated
    when made, a tool's late event at its own time) — (``record_id``, ``at``, ``previous_owner_id``,
    ``owner_id``, ``integration``, ``strategy``, ``settings``, ``counted``: whether
    :func:`flapping_records` counts it, by the same filters)."""
    if not record_ids:
        return []
    d = owner_decisions
    latest_first = sa.func.row_number().over(partition_by=d.c.record_id, order_by=d.c.id.desc())
    counted = counted_change(not_counted)
    changes = (
        sa.select(
            d.c.id,
            d.c.record_id,
            d.c.at,
            d.c.previous_owner_id,
            d.c.owner_id,
            d.c.integration,
            d.c.strategy,
            d.c.settings,
            sa.case((counted, True), else_=False).label("counted"),
            latest_first.label("nth_latest"),
        ).where(d.c.record_id.in_(list(record_ids)), *owner_changed_since(since, test_domain))
    ).subquery()
    c = changes.c
    return connection.execute(
        sa.select(
            c.record_id,
            c.at,
            c.previous_owner_id,
            c.owner_id,
            c.integration,
            c.strategy,
            c.settings,
            c.counted,
        )
        .where(c.nth_latest <= per_record)
        .order_by(c.record_id, c.id)
    ).all()


def unowned_new_records(
    connection: Connection,
    since: str,
    settled: str,
    test_domain: str,
    reason_kinds: Sequence[tuple[str, str]],
    undecided_kinds: Sequence[tuple[str | None, str]],
    other: str,
    limit: int,
) -> tuple[Rows, Rows]:
    """Contacts and leads created between ``since`` and ``settled`` that have no owner.

    Returns the groups (``created_by``, ``why``, ``decided_by``: the integration of the
    latest decision's event, ``n``; largest first) and the first ``limit`` of them (``id``,
    ``type``, ``created_by``, ``why``, ``decided_by``). ``why`` names the kind of the
    record's latest decision: the label of the first ``(LIKE pattern, label)`` of
    ``reason_kinds`` its reason matches, else ``other``; a record without a decision gets
    the label of the first ``(origin, label)`` of ``undecided_kinds`` that fits it —
    ``"placeholder"`` for a record only named by other events so far, a ``records.origin``
    value, or None for any.
    """
    r, d = records, owner_decisions

    def latest(column: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
        query = sa.select(column).where(d.c.record_id == r.c.id)
        return query.order_by(d.c.id.desc()).limit(1).scalar_subquery()

    base = (
        sa.select(
            r.c.id,
            r.c.type,
            r.c.created_by,
            r.c.placeholder,
            r.c.origin,
            latest(d.c.reason).label("reason"),
            latest(d.c.integration).label("decided_by"),
        ).where(*unowned_new(since, settled, test_domain))
    ).subquery()
    undecided = base.c.reason.is_(None)

    def fits(origin: str | None) -> sa.ColumnElement[bool]:
        if origin is None:
            return undecided
        if origin == "placeholder":
            return sa.and_(undecided, base.c.placeholder.is_(True))
        return sa.and_(undecided, base.c.origin == origin)

    why = sa.case(
        *((fits(origin), label) for origin, label in undecided_kinds),
        *((base.c.reason.like(pattern), label) for pattern, label in reason_kinds),
        else_=other,
    ).label("why")
    groups = connection.execute(
        sa.select(base.c.created_by, why, base.c.decided_by, sa.func.count().label("n"))
        .group_by(base.c.created_by, why, base.c.decided_by)
        .order_by(sa.func.count().desc(), base.c.created_by, why, base.c.decided_by)
    ).all()
    examples = connection.execute(
        sa.select(base.c.id, base.c.type, base.c.created_by, why, base.c.decided_by)
        .order_by(base.c.id)
        .limit(limit)
    ).all()
    return groups, examples


def busy_record_days(
    connection: Connection, since: str, max_per_day: int, test_prefix: str
) -> Rows:
    """Every (``record_id``, ``record_type``, ``day``, ``n``) with more than ``max_per_day``
    activities since ``since`` (the start of a day, for whole days): one grouped pass over
    the window's activities and their records."""
    a, aa = activities, activity_associations
    day = sa.func.substr(a.c.occurred_at, 1, 10).label("day")
    return connection.execute(
        sa.select(aa.c.record_id, aa.c.record_type, day, sa.func.count().label("n"))
        .select_from(aa.join(a, a.c.id == aa.c.activity_id))
        .where(a.c.occurred_at >= since, not_test(a, test_prefix))
        .group_by(aa.c.record_id, aa.c.record_type, day)
        .having(sa.func.count() > max_per_day)
    ).all()


def sources_per_record_day(
    connection: Connection, record_ids: Collection[int], since: str, test_prefix: str
) -> Rows:
    """The activities of ``record_ids`` since ``since``, counted as :func:`busy_record_days`
    counts them, by (``record_id``, ``day``, ``integration``, ``type``, ``n``): one grouped
    query for every record a finding lists."""
    if not record_ids:
        return []
    a, aa = activities, activity_associations
    day = sa.func.substr(a.c.occurred_at, 1, 10).label("day")
    return connection.execute(
        sa.select(aa.c.record_id, day, a.c.integration, a.c.type, sa.func.count().label("n"))
        .select_from(aa.join(a, a.c.id == aa.c.activity_id))
        .where(
            aa.c.record_id.in_(list(record_ids)),
            a.c.occurred_at >= since,
            not_test(a, test_prefix),
        )
        .group_by(aa.c.record_id, day, a.c.integration, a.c.type)
        .order_by(aa.c.record_id, day, sa.func.count().desc(), a.c.integration, a.c.type)
    ).all()


def skipped_activities() -> sa.ColumnElement[int]:
    """How many activities skip rows stand for: an activity once however many of its events
    were skipped (a call's five webhooks: one call); one with no id of its own, each event."""
    s = activity_skips
    return sa.func.count(
        sa.distinct(
            s.c.integration
            + "\x1f"
            + s.c.type
            + "\x1f"
            + sa.func.coalesce(s.c.external_id, "\x1e" + s.c.event_id)
        )
    )


def skips_by_kind(
    connection: Connection, since: str, limit: int, test_prefix: str
) -> tuple[int, Rows]:
    """Activities skipped since ``since``: how many, and the ``limit`` largest groups by
    (``integration``, ``type``, ``kind``, ``settings``: "rollout" when a staged rollout's
    proposed settings skipped them, ``n``) — the kind of reason, not each value. An
    activity counts once however many of its events were skipped (a call's five webhooks:
    one call), under its latest reason (:func:`latest_skip`); one with no id of its own is
    each event's. The test lead's calls (external ids starting with ``test_prefix``) are
    left out."""
    s = activity_skips
    window = sa.and_(skipped_since(since), latest_skip(), not_test(s, test_prefix))
    each = skipped_activities()
    total = connection.execute(sa.select(each).where(window)).scalar_one()
    groups = connection.execute(
        sa.select(s.c.integration, s.c.type, s.c.kind, s.c.settings, each.label("n"))
        .where(window)
        .group_by(s.c.integration, s.c.type, s.c.kind, s.c.settings)
        .order_by(each.desc(), s.c.integration, s.c.type, s.c.kind, s.c.settings)
        .limit(limit)
    ).all()
    return int(total), groups


def merges_by_pair(connection: Connection, since: str) -> Rows:
    """Activities merged since ``since`` by (first integration, ``merged`` integration, type,
    count), most first: across tools (an id of the same tool, an alias, is not a merge of
    two tools' activities)."""
    s, a = activity_sources, activities
    merged = sa.func.count(sa.distinct(a.c.id))  # one activity, however many ids it has there
    return connection.execute(
        sa.select(a.c.integration, s.c.integration.label("merged"), a.c.type, merged)
        .join(a, a.c.id == s.c.activity_id)
        .where(s.c.merged_at >= since, s.c.integration != a.c.integration)
        .group_by(a.c.integration, s.c.integration, a.c.type)
        .order_by(merged.desc())
    ).all()


def calls_and_emails_per_period(
    connection: Connection,
    last_day: tuple[str, str],
    baseline: Sequence[tuple[str, str]],
    test_prefix: str,
) -> Rows:
    """Per (``integration``, ``type``) of calls and emails: how many happened in the
    ``last_day`` window (``last_day``, from its start to its end) and in the ``baseline``
    windows together (``baseline``): one grouped pass from the earliest window's start. An
    activity two tools logged (merged by a dedupe rule) counts for each of them, whichever
    arrived first, and once for a tool that gave it two ids (an alias)."""
    a, s = activities, activity_sources
    start = min(w[0] for w in (last_day, *baseline))
    kept = (
        a.c.type.in_(("call", "email")),
        a.c.occurred_at >= start,
        a.c.occurred_at < last_day[1],
        not_test(a, test_prefix),
    )
    columns = (a.c.id, a.c.type, a.c.occurred_at)
    logged = sa.union(  # (activity, integration that logged it): distinct
        sa.select(*columns, a.c.integration).where(*kept),
        sa.select(*columns, s.c.integration).join(s, s.c.activity_id == a.c.id).where(*kept),
    ).subquery()

    def within(window: tuple[str, str]) -> sa.ColumnElement[bool]:
        return sa.and_(logged.c.occurred_at >= window[0], logged.c.occurred_at < window[1])

    recent = sa.func.sum(sa.case((within(last_day), 1), else_=0))
    before = sa.func.sum(sa.case((sa.or_(*(within(w) for w in baseline)), 1), else_=0))
    return connection.execute(
        sa.select(
            logged.c.integration, logged.c.type, recent.label("last_day"), before.label("baseline")
        )
        .group_by(logged.c.integration, logged.c.type)
        .order_by(logged.c.integration, logged.c.type)
    ).all()


def external_users_seen(connection: Connection, since: str) -> Rows:
    """External users seen since ``since`` (``integration``, ``external_id``, ``email``,
    ``name``, ``events``, ``last_seen_at``), by integration and id."""
    u = external_users
    return connection.execute(
        sa.select(
            u.c.integration, u.c.external_id, u.c.email, u.c.name, u.c.events, u.c.last_seen_at
        )
        .where(u.c.last_seen_at >= since)
        .order_by(u.c.integration, u.c.external_id)
    ).all()


def open_records_by_owner(
    connection: Connection, owner_ids: Collection[str], test_domain: str
) -> Rows:
    """Records not closed owned by ``owner_ids``, by (``owner_id``, ``type``, ``n``): test
    leads and records a tool's merge joined into another (gone there) left out."""
    if not owner_ids:
        return []
    r = records
    return connection.execute(
        sa.select(r.c.owner_id, r.c.type, sa.func.count().label("n"))
        .where(
            r.c.owner_id.in_(list(owner_ids)),
            sa.or_(r.c.is_closed.is_(None), r.c.is_closed.is_(False)),
            *real_records(test_domain),
        )
        .group_by(r.c.owner_id, r.c.type)
        .order_by(r.c.owner_id, r.c.type)
    ).all()


def open_dead_letters_by_integration(connection: Connection, since: str | None) -> Rows:
    """Dead letters received since ``since`` (None: ever) and not resolved (retried or
    dismissed), by (``integration``, ``n``)."""
    dl = dead_letters
    return connection.execute(
        sa.select(dl.c.integration, sa.func.count().label("n"))
        .where(*open_dead_letters_since(since))
        .group_by(dl.c.integration)
        .order_by(dl.c.integration)
    ).all()
