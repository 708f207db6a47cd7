"""The health report: the alarms a RevOps admin watches after a settings change.

Every check is a set-based query over the stored decisions, records, activities, skips and
queues (grouped and counted in the database by :mod:`leadsync.store.reports`, never a Python
loop over rows); only the rows behind an alert (capped) come back to Python. This module
holds what the rows mean: thresholds, which come from the workspace's ``monitoring:`` block
(:class:`leadsync.settings.MonitoringSettings`), and the wording.

Alerts: owner flapping, unowned new leads, timeline overload, missing activities (skips by
reason, dead letters, a drop in daily calls or emails against the integration's own
baseline), unmapped external users and deactivated owners still mapped or still owning open
records, dead letters, the push (lag, refusals, links waiting for records it cannot create
yet, the daily limit) and inbox lag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field, computed_field
from sqlalchemy.engine import Connection, Engine

from leadsync import model
from leadsync.engine import WorkspaceRules
from leadsync.model import ExternalUserRef, add_days, display_ts, epoch_ts, now_ts, ts_to_datetime
from leadsync.ops.deadletters import DEAD_LETTERS_HINT, REVIEW_HINT
from leadsync.ops.push_status import not_created_rows, not_created_summary
from leadsync.ops.testlead import TEST_DOMAIN, TEST_PREFIX, real_use, users_of_test_leads
from leadsync.ops.undo import UNDONE_TO_NO_OWNER
from leadsync.pipeline.expiry import expire_holds
from leadsync.results import ResultModel, agreeing, counted
from leadsync.rules.mapping import map_external_user
from leadsync.settings import MonitoringSettings
from leadsync.store import push as push_store
from leadsync.store import push_waiting
from leadsync.store import reports as report_store
from leadsync.store import review as review_store
from leadsync.store.views import inbox_lag

SHOWN = 50  # rows listed per finding; counts are always complete


class Finding(ResultModel):
    """One check of the report: whether it fires, in a sentence, and the rows behind it
    (their keys depend on the check)."""

    check: str
    alert: bool
    summary: str
    rows: list[dict[str, Any]] = Field(default_factory=list)
    parts: dict[str, str] = Field(default_factory=dict, exclude=True)
    """Each integration's own part of a check counted per integration, in the summary's words
    with that integration's numbers (the console's Integrations page shows a row its own);
    empty for a check that is not counted per integration. Not in the JSON."""
    workspace_part: str | None = Field(default=None, exclude=True)
    """The part of a check counted per integration that is no integration's (a deactivated
    owner's open records). Not in the JSON."""


def names_in(row: Mapping[str, Any]) -> Iterable[str]:
    """The integrations a finding's row names, in the keys the checks use."""
    for key in ("integration", "first", "merged", "fallback_of"):
        if isinstance(row.get(key), str):
            yield row[key]
    mapped_from = row.get("still_mapped_from")
    if isinstance(mapped_from, str):
        yield mapped_from.partition(":")[0]
    for source in row.get("from") or ():
        if isinstance(source, Mapping) and isinstance(source.get("integration"), str):
            yield source["integration"]


class Report(ResultModel):
    """The health report: every check's finding for the window from ``since`` to ``until``."""

    since: str
    until: str
    findings: list[Finding] = Field(default_factory=list)

    @property
    def alerts(self) -> list[Finding]:
        """The findings that fire."""
        return [f for f in self.findings if f.alert]

    @computed_field(alias="alerts")  # type: ignore[prop-decorator]
    @property
    def alert_count(self) -> int:
        """How many findings fire (the JSON's ``alerts``)."""
        return len(self.alerts)


def report(
    engine: Engine,
    rules: WorkspaceRules,
    monitoring: MonitoringSettings,
    since: str,
    now: str | None = None,
) -> Report:
    """The health report for events since ``since`` (canonical times); held activities whose
    hold ended are queued first, as a worker does every minute."""
    until = now or now_ts()
    expire_holds(engine, rules, now)
    result = Report(since=since, until=until)
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
        result.findings.extend(_counterparts(connection, monitoring, since, until))
        if rules.push:
            result.findings.extend(_push(connection, monitoring, until))
    result.findings.append(_lag(engine, monitoring))
    return result


def _counterparts(c: Connection, m: MonitoringSettings, since: str, until: str) -> list[Finding]:
    """The review queue's size and age; activities held for an unknown number, and those
    that reach the queue within a day; contacts created for unknown numbers; phone numbers
    that do not read as numbers (never matched)."""
    figures = review_store.figures(c, since, add_days(until, 1))
    open_items = figures["open"]
    total = sum(n for n, _ in open_items.values())
    oldest = min((at for _, at in open_items.values()), default=None)
    age_h = (ts_to_datetime(until) - ts_to_datetime(oldest)).total_seconds() / 3600 if oldest else 0
    queue = Finding(
        check="review_queue",
        alert=age_h > m.max_review_age_hours,
        summary=(
            f"{counted(total, 'question')} {agreeing(total, 'waits', 'wait')} in the review queue, the oldest for {age_h:.0f} h "
            + REVIEW_HINT
            if total
            else "the review queue is empty"
        ),
        rows=[
            {"kind": kind, "open": n, "oldest": display_ts(at)}
            for kind, (n, at) in sorted(open_items.items())
        ],
    )
    held = Finding(
        check="held_activities",
        alert=figures["expiring"] > 0,
        summary=(
            f"{counted(figures['held'], 'activity', 'activities')} {agreeing(figures['held'], 'is', 'are')} held for a number no contact has"
            + (
                f" ({figures['queued']} of them also in the review queue)"
                if figures["queued"]
                else ""
            )
            + f"; {figures['expiring']} reach the review queue within a day"
        ),
    )
    contacts = review_store.unknown_number_contacts(c, since, SHOWN)
    created = Finding(
        check="unknown_number_contacts",
        alert=False,
        summary=f"{counted(figures['created_since'], 'contact')} {agreeing(figures['created_since'], 'was', 'were')} created for unknown numbers "
        "(unknown_counterpart: create)",
        rows=[
            {
                "record": {"type": "contact", "id": r["id"]},
                "show": _show("contact", r["id"]),
                "number": r["number"],
                "created_at": display_ts(r["created_at"]),
                "by": r["created_by"],
            }
            for r in contacts
        ],
    )
    count, unreadable = review_store.unreadable_phones(c, SHOWN)
    numbers = Finding(
        check="unreadable_numbers",
        alert=False,
        summary=f"{count} phone numbers of contacts and leads do not read as numbers and are "
        "never matched (national numbers need the integration's region:, e.g. region: GB)"
        if count
        else "every phone number of contacts and leads reads as a number",
        rows=[
            {
                "record": {"type": r["record_type"], "id": r["record_id"]},
                "show": _show(r["record_type"], r["record_id"]),
                "property": r["property"],
                "given": r["number"],
            }
            for r in unreadable
        ],
    )
    return [queue, held, created, numbers]


def _push(c: Connection, m: MonitoringSettings, until: str) -> list[Finding]:
    """The HubSpot push: how far behind the queue is, inputs HubSpot refused (or leadsync's
    own check did not send), records it cannot create yet with links waiting for them, and a
    pause for the daily limit."""
    depth = push_store.queue_depth(c)
    queued = sum(int(d["queued"]) for d in depth)
    oldest = min((d["oldest"] for d in depth), default=None)
    lag_s = _seconds_between(oldest, until)
    lag = Finding(
        check="push_lag",
        alert=lag_s > m.max_push_lag_minutes * 60,
        summary=f"{counted(queued, 'change')} {agreeing(queued, 'waits', 'wait')} to be pushed; the oldest for {lag_s:.0f} s"
        if queued
        else "nothing waits to be pushed to HubSpot",
        rows=[
            {"object_type": d["object_type"], "queued": d["queued"], "oldest": d["oldest"]}
            for d in depth
        ],
    )
    failures = push_store.count_open_failures(c)
    not_sent = push_store.count_open_failures(c, not_sent=True)
    refused = Finding(
        check="push_failures",
        alert=failures > m.max_push_failures,
        summary=f"{counted(failures - not_sent, 'input')} refused by HubSpot"
        + (f", {not_sent} not sent (leadsync's own check)" if not_sent else "")
        + " (leadsync push failures list)",
        rows=[
            {
                "object": f"{r['object_type']} {r['local_id']}",
                "operation": r["operation"],
                "refused_by": r["refused_by"],
                "message": r["message"],
                "correlation_id": r["correlation_id"],
            }
            for r in push_store.open_failures(c, SHOWN)
        ],
    )
    waiting = push_waiting.unnamed(c, SHOWN)
    waited_s = _seconds_between(waiting.since, until)
    unnamed = Finding(
        check="push_not_created",
        alert=waiting.links > 0 and waited_s > m.max_push_lag_minutes * 60,
        summary=not_created_summary(waiting, waited_s),
        rows=not_created_rows(waiting),
    )
    now = ts_to_datetime(until).timestamp()
    budgets = push_store.read_budgets(c)
    paused = [b for b in budgets if b.paused_until and b.paused_until > now]
    daily = [b for b in paused if b.pause_reason == "daily"]
    budget = Finding(
        check="push_daily_budget",
        alert=bool(daily),
        summary="HubSpot's daily request limit is used up; pushing is paused until "
        + display_ts(epoch_ts(daily[0].paused_until or 0))
        if daily
        else "HubSpot's daily request budget is not exhausted",
        rows=[
            {
                "app": b.app,
                "daily": b.header_daily,
                "daily_remaining": b.header_daily_remaining,
                "paused_until": epoch_ts(b.paused_until) if b.paused_until else None,
                "reason": b.pause_reason,
            }
            for b in budgets
        ],
    )
    return [lag, refused, unnamed, budget]


def _seconds_between(ts: str | None, until: str) -> float:
    return max(0.0, (ts_to_datetime(until) - ts_to_datetime(ts)).total_seconds()) if ts else 0.0


def _show(record_type: str, record_id: int) -> str:
    return f"leadsync records show {record_type} {record_id}"


def _flapping(c: Connection, m: MonitoringSettings, since: str) -> Finding:
    """Records whose owner changed ``flapping_changes`` times or more; an admin's undo puts
    owners back and is not counted (its change still shows in the record's history)."""
    total, top = report_store.flapping_records(
        c, since, m.flapping_changes, SHOWN, TEST_DOMAIN, not_counted=model.UNDO_STRATEGY
    )
    changes: dict[int, list[dict[str, Any]]] = {r.record_id: [] for r in top}
    for row in report_store.owner_changes_since(c, list(changes), since, TEST_DOMAIN):
        changes[row.record_id].append(
            {
                "at": row.at,
                "owner_id": row.owner_id,
                "by": model.decided_by(row.integration, row.strategy),
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
        f"{counted(total, 'record')} changed owner {m.flapping_changes} or more times"
        if total
        else f"no record changed owner {m.flapping_changes} or more times"
    )
    return Finding(check="owner_flapping", alert=total > 0, summary=summary, rows=rows)


# Why a new contact or lead has no owner, from its latest decision's reason: the first
# (LIKE pattern, words) that matches.
_UNOWNED_BECAUSE = (
    (f"{UNDONE_TO_NO_OWNER}%", "put back to no owner by an undo"),
    ("%unmapped policy is leave%", "unmapped rep, policy leave"),
    ("%names no owner%", "no owner in the event"),
    ("%has no active owner%", "round robin team has no active owner"),
    ("%inactive%", "the mapped owner is inactive"),
)


def _unowned(c: Connection, m: MonitoringSettings, since: str, until: str) -> Finding:
    settled = add_days(until, -m.unowned_after_minutes / 1440)
    groups, examples = report_store.unowned_new_records(
        c,
        since,
        settled,
        TEST_DOMAIN,
        _UNOWNED_BECAUSE,
        no_decision="no decision was made",
        other="other (see the decision)",
        limit=SHOWN,
    )
    total = sum(int(g.n) for g in groups)
    rows: list[dict[str, Any]] = [
        {"integration": g.created_by, "why": g.why, "records": int(g.n)} for g in groups
    ]
    rows += [
        {"record": {"type": e.type, "id": e.id}, "show": _show(e.type, e.id)} for e in examples
    ]

    def said(n: int) -> str:
        return (
            f"{counted(n, 'contact or lead', 'contacts or leads')} created since {since} "
            f"still {agreeing(n, 'has', 'have')} no owner after "
            f"{m.unowned_after_minutes:g} minutes"
            if n
            else "every new contact and lead has an owner"
        )

    per: dict[str, int] = {}
    for g in groups:
        if g.created_by is not None:
            per[g.created_by] = per.get(g.created_by, 0) + int(g.n)
    return Finding(
        check="unowned_new_leads",
        alert=total > 0,
        summary=said(total),
        rows=rows,
        parts={name: said(n) for name, n in per.items()},
    )


def _overload(c: Connection, m: MonitoringSettings, since: str) -> Finding:
    """Record-days over the threshold; the types and sources of the ``SHOWN`` busiest are
    read for those alone."""
    over = report_store.busy_record_days(c, since, m.timeline_max_per_day, TEST_PREFIX)
    top = sorted(over, key=lambda row: (-row.n, row.record_id))[:SHOWN]
    types = report_store.record_types(c, [row.record_id for row in top])
    rows = []
    for row in top:
        sources = report_store.activities_of_day(c, row.record_id, row.day)
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
    per: dict[str, int] = {}
    for shown in rows:
        for name in set(names_in(shown)):
            per[name] = per.get(name, 0) + 1
    among = f" (of the {len(top)} busiest of {len(over)})" if len(over) > len(top) else ""
    parts = {
        name: f"{counted(n, 'record-day')} with more than {m.timeline_max_per_day} activities "
        f"{agreeing(n, 'has', 'have')} some of its own{among}"
        for name, n in per.items()
    }
    return Finding(
        check="timeline_overload", alert=bool(over), summary=summary, rows=rows, parts=parts
    )


def _skipped(c: Connection, since: str) -> Finding:
    """Skips by integration, type and kind of reason (the rule and its setting: "shorter than
    min_duration_s (15 s)"), not by each activity's own values."""
    total, groups = report_store.skips_by_kind(c, since, SHOWN)
    rows = [
        {"integration": g.integration, "type": g.type, "reason": g.kind, "activities": int(g.n)}
        for g in groups
    ]
    summary = (
        f"{counted(total, 'activity', 'activities')} received but not created (by the filters)"
    )
    return Finding(check="activities_not_created", alert=False, summary=summary, rows=rows)


def _merged(c: Connection, since: str) -> Finding:
    """Activities two tools logged, merged into one (dedupe rules), per pair of tools."""
    rows = [
        {"first": first, "merged": merged, "type": atype, "activities": int(n)}
        for first, merged, atype, n in report_store.merges_by_pair(c, since)
    ]
    total = sum(r["activities"] for r in rows)
    pairs = "; ".join(f"{r['first']} + {r['merged']}: {r['activities']} {r['type']}s" for r in rows)
    summary = (
        f"{counted(total, 'activity', 'activities')} logged by two tools {agreeing(total, 'was', 'were')} merged into one"
        + (f" ({pairs})" if pairs else "")
    )
    return Finding(check="activities_merged", alert=False, summary=summary, rows=rows[:SHOWN])


def _drops(c: Connection, m: MonitoringSettings, until: str) -> Finding:
    """Calls and emails created over the last day against the integration's daily average
    over the ``baseline_days`` before it."""
    day_start = add_days(until, -1)
    base_start = add_days(day_start, -m.baseline_days)
    rows = []
    for row in report_store.calls_and_emails_per_period(
        c, base_start, day_start, until, TEST_PREFIX
    ):
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
    parts: dict[str, list[str]] = {}
    for r in rows:
        parts.setdefault(r["integration"], []).append(
            f"{r['last_day']} {r['type']}s against a daily average of {r['daily_average']}"
        )
    return Finding(
        check="activity_drop",
        alert=bool(rows),
        summary=summary,
        rows=rows,
        parts={
            name: f"far fewer calls or emails in the last day than usual ({'; '.join(figures)})"
            for name, figures in parts.items()
        },
    )


def _unmapped(c: Connection, rules: WorkspaceRules, since: str) -> Finding:
    """External users that sent events since ``since`` and map to no owner; the test leads'
    events are left out (a rep only test leads used is not listed)."""
    tests = users_of_test_leads(c)
    rows = []
    for user in report_store.external_users_seen(c, since):
        settings = rules.integrations.get(user.integration)
        if settings is None or settings.is_crm:
            continue
        events, last_seen = real_use(user, tests.get((user.integration, user.external_id), []))
        if events <= 0 or last_seen is None or last_seen < since:
            continue
        ref = ExternalUserRef(user.external_id, user.email)
        result = map_external_user(ref, settings.users, rules.directory, user.email)
        if not result.mapped:
            rows.append(
                {
                    "integration": user.integration,
                    "external_user": user.external_id,
                    "email": user.email,
                    "events": events,
                    "how": result.how,
                }
            )

    def said(n: int) -> str:
        return (
            f"{counted(n, 'external user')} sent events and {agreeing(n, 'maps', 'map')} to "
            "no owner"
            if n
            else "every external user that sent events maps to an owner"
        )

    per: dict[str, int] = {}
    for row in rows:
        per[row["integration"]] = per.get(row["integration"], 0) + 1
    return Finding(
        check="unmapped_external_users",
        alert=bool(rows),
        summary=said(len(rows))[:500],
        rows=rows[:SHOWN],
        parts={name: said(n) for name, n in per.items()},
    )


def _inactive_owners(c: Connection, rules: WorkspaceRules) -> Finding:
    inactive = [o.id for o in rules.directory.owners.values() if not o.active]
    rows: list[dict[str, Any]] = [
        {"owner_id": row.owner_id, "still_owns": row.type, "records": int(row.n)}
        for row in report_store.open_records_by_owner(c, inactive)
    ]
    for name, settings in sorted(rules.integrations.items()):
        for external, owner in sorted(settings.users.map.items()):
            if owner in inactive:
                rows.append({"owner_id": owner, "still_mapped_from": f"{name}:{external}"})
        unmapped = settings.users.unmapped  # a fallback owner who left: reps get nobody
        if unmapped.policy == "fallback" and unmapped.owner in inactive:
            rows.append({"owner_id": unmapped.owner, "fallback_of": name})
    summary = (
        f"{len(rows)} findings on deactivated owners that are still mapped, named as a fallback "
        "or own open records"
        if rows
        else "no deactivated owner is mapped, named as a fallback or owns open records"
    )
    per: dict[str, int] = {}
    for row in rows:
        for name in names_in(row):
            per[name] = per.get(name, 0) + 1
    owning = sum(1 for row in rows if "still_owns" in row)
    parts = {
        name: f"{counted(n, 'mapping')} of this integration (its external users', its fallback "
        f"owner) still {agreeing(n, 'names', 'name')} a deactivated owner"
        for name, n in per.items()
    }
    return Finding(
        check="deactivated_owners",
        alert=bool(rows),
        summary=summary,
        rows=rows[:SHOWN],
        parts=parts,
        workspace_part=f"{owning} findings on deactivated owners that still own open records"
        if owning
        else None,
    )


def _dead_letters(c: Connection, m: MonitoringSettings, since: str) -> Finding:
    groups = report_store.open_dead_letters_by_integration(c, since)
    total = sum(int(g.n) for g in groups)
    rows = [{"integration": g.integration, "dead_letters": int(g.n)} for g in groups]
    # Dismissed letters are resolved: a person looked and decided none can be fixed.
    summary = f"{counted(total, 'unresolved dead letter')} {DEAD_LETTERS_HINT}"
    # The threshold is the workspace's: an integration's part says its own count and the total.
    parts = {
        str(g.integration): f"{counted(int(g.n), 'unresolved dead letter')} of the workspace's "
        f"{total} (the alert is on the workspace's total, over {m.max_dead_letters})"
        for g in groups
    }
    return Finding(
        check="dead_letters",
        alert=total > m.max_dead_letters,
        summary=summary,
        rows=rows,
        parts=parts,
    )


def _lag(engine: Engine, m: MonitoringSettings) -> Finding:
    lag = inbox_lag(engine)
    alert = lag.lag_s > m.max_inbox_lag_minutes * 60
    summary = (
        f"{counted(lag.pending, 'event')} pending; the oldest waits {lag.lag_s:.0f} s"
        if lag.pending
        else "the inbox has nothing pending"
    )
    return Finding(
        check="inbox_lag",
        alert=alert,
        summary=summary,
        rows=[{"pending": lag.pending, "lag_s": lag.lag_s}],
    )
