"""The health report's checks of activities (:mod:`leadsync.ops.monitor` runs them):
timelines overloaded on a day, activities received but not created, activities two tools
logged merged into one, and a drop in an integration's calls or emails against its usual
rate. Each is grouped and counted in :mod:`leadsync.store.reports`; this module holds the
thresholds' meaning and the words."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from leadsync.engine import WorkspaceRules
from leadsync.model import add_days
from leadsync.ops.findings import SHOWN, Finding, names_in, show
from leadsync.ops.testlead import TEST_PREFIX
from leadsync.results import agreeing, counted
from leadsync.settings import MonitoringSettings
from leadsync.store import reports as report_store

WEEK_DAYS = 7


def timeline_overload(c: Connection, m: MonitoringSettings, since: str) -> Finding:
    """Record-days over the threshold, whole UTC days from ``since``'s (a day is counted
    whole, never only the window's part of it); the integrations and types of the
    ``SHOWN`` busiest are read for those alone, in one query, with the same filters."""
    first_day = since[:10]
    day_start = f"{first_day}T00:00:00.000Z"
    over = report_store.busy_record_days(c, day_start, m.timeline_max_per_day, TEST_PREFIX)
    top = sorted(over, key=lambda row: (-row.n, row.record_id, row.day))[:SHOWN]
    sources: dict[tuple[int, str], list[dict[str, Any]]] = {
        (row.record_id, row.day): [] for row in top
    }
    for s in report_store.sources_per_record_day(
        c, {row.record_id for row in top}, day_start, TEST_PREFIX
    ):
        listed = sources.get((s.record_id, s.day))
        if listed is not None:
            listed.append({"integration": s.integration, "type": s.type, "activities": int(s.n)})
    rows = [
        {
            "record": {"type": row.record_type, "id": row.record_id},
            "day": row.day,
            "activities": int(row.n),
            "from": sources[(row.record_id, row.day)],
            "show": show(row.record_type, row.record_id),
        }
        for row in top
    ]
    limit = m.timeline_max_per_day
    summary = (
        f"{counted(len(over), 'record-day')} {agreeing(len(over), 'has', 'have')} more than "
        f"{limit} activities (UTC days from {first_day})"
        if over
        else f"no timeline has more than {limit} activities a day (UTC days from {first_day})"
    )
    per: dict[str, int] = {}
    for shown in rows:
        for name in set(names_in(shown)):
            per[name] = per.get(name, 0) + 1
    among = f" (of the {len(top)} busiest of {len(over)})" if len(over) > len(top) else ""
    parts = {
        name: f"{counted(n, 'record-day')} with more than {limit} activities "
        f"{agreeing(n, 'has', 'have')} some of its own{among}"
        for name, n in per.items()
    }
    return Finding(
        check="timeline_overload", alert=bool(over), summary=summary, rows=rows, parts=parts
    )


def not_created(c: Connection, since: str) -> Finding:
    """Skips by integration, type and kind of reason (the rule and its setting: "shorter than
    min_duration_s (15 s)"), not by each activity's own values, a staged rollout's marked
    ``[rollout]``; the test lead's calls are left out."""
    total, groups = report_store.skips_by_kind(c, since, SHOWN, TEST_PREFIX)
    rows = [
        {
            "integration": g.integration,
            "type": g.type,
            # A rollout's proposed rule is not read as the current one (as decisions list
            # and activities skipped mark it).
            "reason": f"{g.kind} [rollout]" if g.settings == "rollout" else g.kind,
            "activities": int(g.n),
        }
        for g in groups
    ]
    summary = (
        f"{counted(total, 'activity', 'activities')} received but not created (by the filters)"
    )
    return Finding(check="activities_not_created", alert=False, summary=summary, rows=rows)


def merged(c: Connection, since: str) -> Finding:
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


def baseline_windows(m: MonitoringSettings, until: str) -> tuple[list[tuple[str, str]], str]:
    """The windows the last 24 h before ``until`` is compared with, and how to say them.

    With ``baseline_days`` of a week or more, the same 24 h of each whole week within it (a
    Sunday against the Sundays before: a team that rests at weekends is not a drop);
    shorter, each of the days before."""
    weeks = m.baseline_days // WEEK_DAYS
    if weeks:
        step, count = WEEK_DAYS, weeks
        said = (
            "the same 24 h a week before"
            if weeks == 1
            else f"the average of the same 24 h of the {weeks} weeks before"
        )
    else:
        step, count = 1, m.baseline_days
        said = "the 24 h before" if count == 1 else f"the daily average of the {count} days before"
    windows = [
        (add_days(until, -step * k - 1), add_days(until, -step * k)) for k in range(1, count + 1)
    ]
    return windows, said


def activity_drop(
    c: Connection, rules: WorkspaceRules, m: MonitoringSettings, until: str
) -> Finding:
    """Calls and emails of each configured integration over the last 24 h against its
    usual rate (:func:`baseline_windows`): fires on a drop of ``drop_percent`` % or more
    when the usual rate is at least ``min_baseline_per_day`` (and more than none)."""
    windows, usual = baseline_windows(m, until)
    last_day = (add_days(until, -1), until)
    rows = []
    for row in report_store.calls_and_emails_per_period(c, last_day, windows, TEST_PREFIX):
        if row.integration not in rules.integrations:
            continue  # removed from the configuration: its silence is expected
        baseline = int(row.baseline or 0)
        last = int(row.last_day or 0)
        average = baseline / len(windows)
        # In whole numbers: last <= average * (1 - drop_percent / 100), exactly at the edge.
        dropped = last * 100 * len(windows) <= baseline * (100 - m.drop_percent)
        if baseline > 0 and average >= m.min_baseline_per_day and dropped:
            rows.append(
                {
                    "integration": row.integration,
                    "type": row.type,
                    "last_day": last,
                    "daily_average": round(average, 1),
                }
            )
    figures: dict[str, list[str]] = {}
    for r in rows:
        figures.setdefault(r["integration"], []).append(
            f"{counted(r['last_day'], r['type'])} against {r['daily_average']:g}"
        )

    fewer = f"far fewer calls or emails in the last 24 h than {usual}"
    each = {name: ", ".join(f) for name, f in figures.items()}
    summary = (
        f"{counted(len(each), 'integration')} sent {fewer} "
        f"({'; '.join(f'{name}: {f}' for name, f in each.items())})"
        if rows
        else f"calls and emails arrive at their usual rate ({usual})"
    )
    return Finding(
        check="activity_drop",
        alert=bool(rows),
        summary=summary,
        rows=rows,
        parts={name: f"{fewer} ({f})" for name, f in each.items()},
    )
