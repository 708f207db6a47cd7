"""The health report: the alarms a RevOps admin watches after a settings change.

Every check is a set-based query over the stored decisions, records, activities, skips and
queues (grouped and counted in the database, never a Python loop over rows); only the rows
behind an alert (capped) come back to Python. Thresholds come from the workspace's
``monitoring:`` block (:class:`leadsync.settings.MonitoringSettings`).

Alerts: owner flapping, unowned new leads, timeline overload, missing activities (skips by
reason, dead letters, a drop in daily calls or emails against the integration's own
baseline), unmapped external users and deactivated owners still mapped or still owning open
records, dead letters and inbox lag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.model import ExternalUserRef, add_days, display_ts, epoch_ts, now_ts, ts_to_datetime
from leadsync.ops.testlead import TEST_DOMAIN, TEST_PREFIX
from leadsync.rules.mapping import map_external_user
from leadsync.settings import MonitoringSettings
from leadsync.store import push as push_store
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
from leadsync.store.views import inbox_lag

SHOWN = 50  # rows listed per finding; counts are always complete


@dataclass
class Finding:
    check: str
    alert: bool
    summary: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "alert": self.alert,
            "summary": self.summary,
            "rows": self.rows,
        }


@dataclass
class Report:
    since: str
    until: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def alerts(self) -> list[Finding]:
        return [f for f in self.findings if f.alert]

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "alerts": len(self.alerts),
            "findings": [f.to_dict() for f in self.findings],
        }


def report(
    engine: Engine,
    rules: WorkspaceRules,
    monitoring: MonitoringSettings,
    since: str,
    now: str | None = None,
) -> Report:
    """The health report for events since ``since`` (canonical times)."""
    until = now or now_ts()
    result = Report(since, until)
    with engine.connect() as connection:
        result.findings.append(_flapping(connection, monitoring, since))
        result.findings.append(_unowned(connection, monitoring, since, until))
        result.findings.append(_overload(connection, monitoring, since))
        result.findings.append(_skipped(connection, since))
        if rules.dedupe:
            result.findings.append(_merged(connection, since))
        result.findings.append(_drops(connection, monitoring, until))
        result.findings.append(_unmapped(connection, rules, since))
        result.findings.append(_inactive_owners(connection, rules))
        result.findings.append(_dead_letters(connection, monitoring, since))
        if rules.push:
            result.findings.extend(_push(connection, monitoring, until))
    result.findings.append(_lag(engine, monitoring))
    return result


def _push(c: sa.Connection, m: MonitoringSettings, until: str) -> list[Finding]:
    """The HubSpot push: how far behind the queue is, inputs HubSpot refused, and a pause
    for the daily limit."""
    depth = push_store.queue_depth(c)
    queued = sum(int(d["queued"]) for d in depth)
    oldest = min((d["oldest"] for d in depth), default=None)
    lag_s = (
        max(0.0, (ts_to_datetime(until) - ts_to_datetime(oldest)).total_seconds())
        if oldest
        else 0.0
    )
    lag = Finding(
        "push_lag",
        lag_s > m.max_push_lag_minutes * 60,
        f"{queued} changes wait to be pushed; the oldest for {lag_s:.0f} s"
        if queued
        else "nothing waits to be pushed to HubSpot",
        [
            {"object_type": d["object_type"], "queued": d["queued"], "oldest": d["oldest"]}
            for d in depth
        ],
    )
    failures = push_store.count_open_failures(c)
    refused = Finding(
        "push_failures",
        failures > m.max_push_failures,
        f"{failures} inputs refused by HubSpot (leadsync push failures list)",
        [
            {
                "object": f"{r['object_type']} {r['local_id']}",
                "operation": r["operation"],
                "message": r["message"],
                "correlation_id": r["correlation_id"],
            }
            for r in push_store.open_failures(c, SHOWN)
        ],
    )
    now = ts_to_datetime(until).timestamp()
    paused = [b for b in push_store.read_budgets(c) if b.paused_until and b.paused_until > now]
    daily = [b for b in paused if b.pause_reason == "daily"]
    budget = Finding(
        "push_daily_budget",
        bool(daily),
        "HubSpot's daily request limit is used up; pushing is paused until "
        + display_ts(epoch_ts(daily[0].paused_until or 0))
        if daily
        else "HubSpot's daily request budget is not exhausted",
        [
            {
                "app": b.app,
                "daily": b.header_daily,
                "daily_remaining": b.header_daily_remaining,
                "paused_until": b.paused_until,
                "reason": b.pause_reason,
            }
            for b in push_store.read_budgets(c)
        ],
    )
    return [lag, refused, budget]


def _not_test(a: sa.Table) -> sa.ColumnElement[bool]:
    """Test calls (``leadsync test-lead``) are left out of the report."""
    return sa.or_(a.c.external_id.is_(None), a.c.external_id.not_like(f"{TEST_PREFIX}%"))


def _show(record_type: str, record_id: int) -> str:
    return f"leadsync records show {record_type} {record_id}"


def _flapping(c: sa.Connection, m: MonitoringSettings, since: str) -> Finding:
    d = owner_decisions
    # The window's rows first (the time index), then grouped: left to itself the planner
    # walks the whole table in record order to save a sort (ten times slower on a big one).
    recent = (
        sa.select(d.c.record_id, d.c.record_type)
        .where(d.c.outcome == "set", d.c.at >= since)
        .cte("recent_changes")
        .prefix_with("MATERIALIZED")
    )
    counts = (
        sa.select(recent.c.record_id, recent.c.record_type, sa.func.count().label("changes"))
        .group_by(recent.c.record_id, recent.c.record_type)
        .having(sa.func.count() >= m.flapping_changes)
    ).subquery()
    total = c.execute(sa.select(sa.func.count()).select_from(counts)).scalar_one()
    top = c.execute(
        sa.select(counts).order_by(counts.c.changes.desc(), counts.c.record_id).limit(SHOWN)
    ).all()
    ids = [r.record_id for r in top]
    changes: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for row in c.execute(
            sa.select(d.c.record_id, d.c.at, d.c.owner_id, d.c.integration, d.c.strategy)
            .where(d.c.record_id.in_(ids), d.c.outcome == "set", d.c.at >= since)
            .order_by(d.c.record_id, d.c.at, d.c.id)
        ):
            changes[row.record_id].append(
                {
                    "at": row.at,
                    "owner_id": row.owner_id,
                    "by": row.integration or "a person in the CRM",
                    "strategy": row.strategy,
                }
            )
    rows = [
        {
            "record": {"type": r.record_type, "id": r.record_id},
            "changes": r.changes,
            "history": changes[r.record_id],
            "show": _show(r.record_type, r.record_id),
        }
        for r in top
    ]
    summary = (
        f"{total} records changed owner {m.flapping_changes} or more times"
        if total
        else f"no record changed owner {m.flapping_changes} or more times"
    )
    return Finding("owner_flapping", total > 0, summary, rows)


def _unowned(c: sa.Connection, m: MonitoringSettings, since: str, until: str) -> Finding:
    r, d = records, owner_decisions
    settled = add_days(until, -m.unowned_after_minutes / 1440)
    latest = (
        sa.select(d.c.reason)
        .where(d.c.record_id == r.c.id)
        .order_by(d.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    base = (
        sa.select(
            r.c.id,
            r.c.type,
            r.c.created_by,
            r.c.created_at,
            latest.label("reason"),
        ).where(
            r.c.type.in_(("contact", "lead")),
            r.c.owner_id.is_(None),
            sa.or_(r.c.email.is_(None), r.c.email.not_like(f"%@{TEST_DOMAIN}")),
            r.c.created_at >= since,
            r.c.created_at <= settled,
        )
    ).subquery()
    why = sa.case(
        (base.c.reason.is_(None), "no decision was made"),
        (base.c.reason.like("%unmapped policy is leave%"), "unmapped rep, policy leave"),
        (base.c.reason.like("%names no owner%"), "no owner in the event"),
        (base.c.reason.like("%has no active owner%"), "round robin team has no active owner"),
        (base.c.reason.like("%inactive%"), "the mapped owner is inactive"),
        else_="other (see the decision)",
    ).label("why")
    groups = c.execute(
        sa.select(base.c.created_by, why, sa.func.count().label("n"))
        .group_by(base.c.created_by, why)
        .order_by(sa.func.count().desc())
    ).all()
    total = sum(int(g.n) for g in groups)
    examples = c.execute(
        sa.select(base.c.id, base.c.type, base.c.created_by).order_by(base.c.id).limit(SHOWN)
    ).all()
    rows: list[dict[str, Any]] = [
        {"integration": g.created_by, "why": g.why, "records": int(g.n)} for g in groups
    ]
    rows += [
        {"record": {"type": e.type, "id": e.id}, "show": _show(e.type, e.id)} for e in examples
    ]
    summary = (
        f"{total} contacts or leads created since {since} still have no owner after "
        f"{m.unowned_after_minutes:g} minutes"
        if total
        else "every new contact and lead has an owner"
    )
    return Finding("unowned_new_leads", total > 0, summary, rows)


def _overload(c: sa.Connection, m: MonitoringSettings, since: str) -> Finding:
    """One grouped pass over the window's activities and their records; only the groups
    over the threshold come back (the types of their records are read for those alone)."""
    a, aa, r = activities, activity_associations, records
    day = sa.func.substr(a.c.occurred_at, 1, 10).label("day")
    over = c.execute(
        sa.select(aa.c.record_id, day, sa.func.count().label("n"))
        .select_from(aa.join(a, a.c.id == aa.c.activity_id))
        .where(a.c.occurred_at >= since, _not_test(a))
        .group_by(aa.c.record_id, day)
        .having(sa.func.count() > m.timeline_max_per_day)
    ).all()
    top = sorted(over, key=lambda row: (-row.n, row.record_id))[:SHOWN]
    types: dict[int, str] = {}
    if top:
        ids = [row.record_id for row in top]
        types = {
            int(rid): str(rtype)
            for rid, rtype in c.execute(sa.select(r.c.id, r.c.type).where(r.c.id.in_(ids)))
        }
    rows = []
    for row in top:
        sources = c.execute(
            sa.select(a.c.integration, a.c.type, sa.func.count().label("n"))
            .select_from(aa.join(a, a.c.id == aa.c.activity_id))
            .where(
                aa.c.record_id == row.record_id,
                a.c.occurred_at >= row.day,
                a.c.occurred_at < row.day + "T99",
            )
            .group_by(a.c.integration, a.c.type)
            .order_by(sa.func.count().desc())
        ).all()
        record_type = types.get(row.record_id, "record")
        rows.append(
            {
                "record": {"type": record_type, "id": row.record_id},
                "day": row.day,
                "activities": int(row.n),
                "from": [
                    {"integration": s.integration, "type": s.type, "activities": int(s.n)}
                    for s in sources
                ],
                "show": _show(record_type, row.record_id),
            }
        )
    summary = (
        f"{len(over)} record-days have more than {m.timeline_max_per_day} activities"
        if over
        else f"no timeline has more than {m.timeline_max_per_day} activities a day"
    )
    return Finding("timeline_overload", bool(over), summary, rows)


def _skipped(c: sa.Connection, since: str) -> Finding:
    """Skips by integration, type and kind of reason (the rule and its setting: "shorter than
    min_duration_s (15 s)"), not by each activity's own values."""
    s = activity_skips
    window = s.c.occurred_at >= since
    total = c.execute(sa.select(sa.func.count()).where(window)).scalar_one()
    groups = c.execute(
        sa.select(s.c.integration, s.c.type, s.c.kind, sa.func.count().label("n"))
        .where(window)
        .group_by(s.c.integration, s.c.type, s.c.kind)
        .order_by(sa.func.count().desc(), s.c.integration, s.c.type, s.c.kind)
        .limit(SHOWN)
    ).all()
    rows = [
        {"integration": g.integration, "type": g.type, "reason": g.kind, "activities": int(g.n)}
        for g in groups
    ]
    summary = f"{total} activities received but not created (by the filters)"
    return Finding("activities_not_created", False, summary, rows)


def _merged(c: sa.Connection, since: str) -> Finding:
    """Activities two tools logged, merged into one (dedupe rules), per pair of tools."""
    s, a = activity_sources, activities
    groups = c.execute(
        sa.select(a.c.integration, s.c.integration.label("merged"), a.c.type, sa.func.count())
        .join(a, a.c.id == s.c.activity_id)
        .where(s.c.merged_at >= since)
        .group_by(a.c.integration, s.c.integration, a.c.type)
        .order_by(sa.func.count().desc())
    ).all()
    rows = [
        {"first": first, "merged": merged, "type": atype, "activities": int(n)}
        for first, merged, atype, n in groups
    ]
    total = sum(r["activities"] for r in rows)
    pairs = "; ".join(f"{r['first']} + {r['merged']}: {r['activities']} {r['type']}s" for r in rows)
    summary = f"{total} activities logged by two tools were merged into one" + (
        f" ({pairs})" if pairs else ""
    )
    return Finding("activities_merged", False, summary, rows[:SHOWN])


def _drops(c: sa.Connection, m: MonitoringSettings, until: str) -> Finding:
    """Calls and emails created over the last day against the integration's daily average
    over the ``baseline_days`` before it."""
    a = activities
    day_start = add_days(until, -1)
    base_start = add_days(day_start, -m.baseline_days)
    recent = sa.func.sum(sa.case((a.c.occurred_at >= day_start, 1), else_=0))
    before = sa.func.sum(sa.case((a.c.occurred_at < day_start, 1), else_=0))
    rows_db = c.execute(
        sa.select(a.c.integration, a.c.type, recent.label("last_day"), before.label("baseline"))
        .where(
            a.c.type.in_(("call", "email")),
            a.c.occurred_at >= base_start,
            a.c.occurred_at < until,
            _not_test(a),
        )
        .group_by(a.c.integration, a.c.type)
        .order_by(a.c.integration, a.c.type)
    ).all()
    rows = []
    for row in rows_db:
        average = float(row.baseline or 0) / m.baseline_days
        last = int(row.last_day or 0)
        if average >= m.min_baseline_per_day and last < average * (1 - m.drop_percent / 100):
            rows.append(
                {
                    "integration": row.integration,
                    "type": row.type,
                    "last_day": last,
                    "daily_average": round(average, 1),
                }
            )
    summary = (
        f"{len(rows)} integrations sent far fewer calls or emails in the last day than usual"
        if rows
        else "calls and emails arrive at their usual rate"
    )
    return Finding("activity_drop", bool(rows), summary, rows)


def _unmapped(c: sa.Connection, rules: WorkspaceRules, since: str) -> Finding:
    u = external_users
    seen = c.execute(
        sa.select(u.c.integration, u.c.external_id, u.c.email, u.c.events)
        .where(u.c.last_seen_at >= since)
        .order_by(u.c.integration, u.c.external_id)
    ).all()
    rows = []
    for user in seen:
        settings = rules.integrations.get(user.integration)
        if settings is None or settings.is_crm:
            continue
        ref = ExternalUserRef(user.external_id, user.email)
        result = map_external_user(ref, settings.users, rules.directory, user.email)
        if not result.mapped:
            rows.append(
                {
                    "integration": user.integration,
                    "external_user": user.external_id,
                    "email": user.email,
                    "events": int(user.events),
                    "how": result.how,
                }
            )
    summary = (
        f"{len(rows)} external users sent events and map to no owner"
        if rows
        else "every external user that sent events maps to an owner"
    )
    return Finding("unmapped_external_users", bool(rows), summary[:500], rows[:SHOWN])


def _inactive_owners(c: sa.Connection, rules: WorkspaceRules) -> Finding:
    inactive = [o.id for o in rules.directory.owners.values() if not o.active]
    rows: list[dict[str, Any]] = []
    if inactive:
        r = records
        open_records = c.execute(
            sa.select(r.c.owner_id, r.c.type, sa.func.count().label("n"))
            .where(
                r.c.owner_id.in_(inactive),
                sa.or_(r.c.is_closed.is_(None), r.c.is_closed.is_(False)),
            )
            .group_by(r.c.owner_id, r.c.type)
            .order_by(r.c.owner_id, r.c.type)
        ).all()
        rows += [
            {"owner_id": row.owner_id, "still_owns": row.type, "records": int(row.n)}
            for row in open_records
        ]
        for name, settings in sorted(rules.integrations.items()):
            for external, owner in sorted(settings.users.map.items()):
                if owner in inactive:
                    rows.append({"owner_id": owner, "still_mapped_from": f"{name}:{external}"})
    summary = (
        f"{len(rows)} findings on deactivated owners that are still mapped or own open records"
        if rows
        else "no deactivated owner is mapped or owns open records"
    )
    return Finding("deactivated_owners", bool(rows), summary, rows[:SHOWN])


def _dead_letters(c: sa.Connection, m: MonitoringSettings, since: str) -> Finding:
    dl = dead_letters
    groups = c.execute(
        sa.select(dl.c.integration, sa.func.count().label("n"))
        .where(dl.c.resolved_at.is_(None), dl.c.received_at >= since)
        .group_by(dl.c.integration)
        .order_by(dl.c.integration)
    ).all()
    total = sum(int(g.n) for g in groups)
    rows = [{"integration": g.integration, "dead_letters": int(g.n)} for g in groups]
    # Dismissed letters are resolved: a person looked and decided none can be fixed.
    summary = (
        f"{total} unresolved dead letters (leadsync dead-letters list; one that cannot be "
        "fixed: leadsync dead-letters dismiss ID --reason TEXT)"
    )
    return Finding("dead_letters", total > m.max_dead_letters, summary, rows)


def _lag(engine: Engine, m: MonitoringSettings) -> Finding:
    lag = inbox_lag(engine)
    alert = lag.lag_s > m.max_inbox_lag_minutes * 60
    summary = (
        f"{lag.pending} events pending; the oldest waits {lag.lag_s:.0f} s"
        if lag.pending
        else "the inbox has nothing pending"
    )
    return Finding("inbox_lag", alert, summary, [{"pending": lag.pending, "lag_s": lag.lag_s}])
