"""The health report: the alarms a RevOps admin watches after a settings change.

Every check is a set-based query over the stored decisions, records, activities, skips and
queues (grouped and counted in the database by :mod:`leadsync.store.reports`, never a Python
loop over rows); only the rows behind an alert (capped) come back to Python. This module
holds what the rows mean: thresholds, which come from the workspace's ``monitoring:`` block
(:class:`leadsync.settings.MonitoringSettings`), and the wording.

Alerts: owner flapping, unowned new leads, the checks of activities
(:mod:`leadsync.ops.monitor_activities`: timeline overload, skips by reason, merges, a drop in
calls or emails against the integration's usual rate), unmapped external users and
deactivated owners still mapped or still owning open records, dead letters, the review queue
and held activities, the push (lag, refusals, links waiting for records it cannot create
yet, the daily limit) and inbox lag.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, computed_field
from sqlalchemy.engine import Connection, Engine

from leadsync import model
from leadsync.engine import WorkspaceRules
from leadsync.model import add_days, display_ts, epoch_ts, now_ts, ts_to_datetime
from leadsync.ops import monitor_activities as activity_checks
from leadsync.ops.deadletters import DEAD_LETTERS_HINT, PUSH_FAILURES_HINT, REVIEW_HINT
from leadsync.ops.findings import SHOWN, Finding, names_in, show
from leadsync.ops.phones import entry as phone_entry
from leadsync.ops.push_status import not_created_rows, not_created_summary
from leadsync.ops.testlead import TEST_DOMAIN, real_use, users_of_test_leads
from leadsync.ops.undo import UNDONE_TO_NO_OWNER
from leadsync.ops.users import known_user, unmapped_said
from leadsync.pipeline.expiry import expire_holds
from leadsync.results import ResultModel, agreeing, counted
from leadsync.rules.counterparts import UNKNOWN_NUMBER
from leadsync.settings import MonitoringSettings
from leadsync.store import push as push_store
from leadsync.store import push_lease, push_waiting
from leadsync.store import reports as report_store
from leadsync.store import review as review_store
from leadsync.store.views import inbox_lag

__all__ = ["SHOWN", "Finding", "Report", "names_in", "report"]


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
        result.findings.append(activity_checks.timeline_overload(connection, monitoring, since))
        result.findings.append(activity_checks.not_created(connection, since))
        if rules.dedupe:
            result.findings.append(activity_checks.merged(connection, since))
        result.findings.append(activity_checks.activity_drop(connection, rules, monitoring, until))
        result.findings.append(_unmapped(connection, rules, since))
        result.findings.append(_inactive_owners(connection, rules))
        result.findings.append(_dead_letters(connection, monitoring, since))
        result.findings.extend(_counterparts(connection, rules, monitoring, since, until))
        if rules.push:
            result.findings.extend(_push(connection, monitoring, until))
    result.findings.append(_lag(engine, monitoring))
    return result


def _counterparts(
    c: Connection, rules: WorkspaceRules, m: MonitoringSettings, since: str, until: str
) -> list[Finding]:
    """The review queue's size and age; activities held for an unknown number, and those
    that reach the queue within a day; contacts created for unknown numbers (those whose
    number turned out to be one of the company's own lines marked); phone numbers that do
    not read as numbers (never matched)."""
    figures = review_store.figures(c, since, add_days(until, 1))
    open_items = figures["open"]
    total = sum(n for n, _ in open_items.values())
    oldest = min((at for _, at in open_items.values()), default=None)
    age_h = (ts_to_datetime(until) - ts_to_datetime(oldest)).total_seconds() / 3600 if oldest else 0
    queue = Finding(
        check="review_queue",
        alert=age_h > m.max_review_age_hours,
        summary=(
            f"{counted(total, 'question')} {agreeing(total, 'waits', 'wait')} in the review queue, the oldest for {_hours(age_h)} "
            f"(alert over max_review_age_hours: {m.max_review_age_hours:g} h) " + REVIEW_HINT
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
                "show": show("contact", r["id"]),
                "number": r["number"],
                "created_at": display_ts(r["created_at"]),
                "by": r["created_by"],
                "own_line": _own_line_note(rules, r),
            }
            for r in contacts
        ],
    )
    count, unreadable = review_store.unreadable_phones(c, SHOWN)
    # The region's hint only where a national number is among those shown (an international
    # one too short or too long is no region's to fix).
    national = any(not str(r["number"]).strip().startswith(("+", "00")) for r in unreadable)
    hint = " (national numbers need the integration's region:, e.g. region: GB)" if national else ""
    numbers = Finding(
        check="unreadable_numbers",
        alert=False,
        summary=f"{counted(count, 'phone number')} of contacts and leads "
        f"{agreeing(count, 'does', 'do')} not read as a number and "
        f"{agreeing(count, 'is', 'are')} never matched{hint}"
        if count
        else "every phone number of contacts and leads reads as a number",
        rows=[
            {
                "record": {"type": r["record_type"], "id": r["record_id"]},
                "show": show(r["record_type"], r["record_id"]),
                **phone_entry(r["property"], r["properties"]),
                "given": r["number"],
            }
            for r in unreadable
        ],
    )
    return [queue, held, created, numbers]


def _hours(hours: float) -> str:
    """An age in hours as a person reads it: minutes under an hour (not "0 h")."""
    return f"{hours:.0f} h" if hours >= 1 else f"{hours * 60:.0f} min"


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
            {
                "object_type": d["object_type"],
                "queued": d["queued"],
                "oldest": display_ts(d["oldest"]),
            }
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
        + f" {PUSH_FAILURES_HINT}",
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
    budgets = push_lease.read_budgets(c)
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
    stopped = [b for b in budgets if b.refused is not None]
    token = Finding(
        check="push_refused",
        alert=bool(stopped),
        summary=f"HubSpot refuses the push since {display_ts(epoch_ts(stopped[0].refused_at or now))}: "
        f"{stopped[0].refused}; nothing is pushed until it is fixed"
        if stopped
        else "HubSpot takes the push's token and scopes",
        rows=[
            {"app": b.app, "refused": b.refused, "at": epoch_ts(b.refused_at or now)}
            for b in stopped
        ],
    )
    return [lag, refused, unnamed, budget, token]


def _seconds_between(ts: str | None, until: str) -> float:
    return max(0.0, (ts_to_datetime(until) - ts_to_datetime(ts)).total_seconds()) if ts else 0.0


def _flapping(c: Connection, m: MonitoringSettings, since: str) -> Finding:
    """Records whose owner was overwritten ``flapping_changes`` times or more: a change that
    replaced or cleared an owner counts, a record's first owner (a new record's, an empty
    owner filled) does not, and neither does an admin's undo, which puts owners back. Each
    row's history lists the window's owner changes (the latest ``SHOWN``), each saying
    whether it is counted."""
    total, top = report_store.flapping_records(
        c, since, m.flapping_changes, SHOWN, TEST_DOMAIN, not_counted=model.UNDO_STRATEGY
    )
    changes: dict[int, list[dict[str, Any]]] = {r.record_id: [] for r in top}
    for row in report_store.owner_histories(
        c, list(changes), since, TEST_DOMAIN, SHOWN, not_counted=model.UNDO_STRATEGY
    ):
        changes[row.record_id].append(
            {
                "at": row.at,
                "from_owner_id": row.previous_owner_id,
                "owner_id": row.owner_id,
                "by": model.decided_by(row.integration, row.strategy),
                "integration": row.integration,
                "strategy": row.strategy,
                "settings": model.settings_used(row.settings),
                "counted": bool(row.counted),
            }
        )
    # Who made the counted changes, of all of them (the history is the latest only); the
    # integrations whose events made them: the alert names them (an integration's badge
    # shows the flapping its own events cause).
    by: dict[int, set[str]] = {r.record_id: set() for r in top}
    made: dict[int, set[str]] = {r.record_id: set() for r in top}
    listed: dict[int, int] = dict.fromkeys(made, 0)
    for row in report_store.owner_change_makers(
        c, list(changes), since, TEST_DOMAIN, not_counted=model.UNDO_STRATEGY
    ):
        listed[row.record_id] += int(row.changes)
        if row.counted:
            by[row.record_id].add(model.decided_by(row.integration, row.strategy))
            if row.integration:
                made[row.record_id].add(row.integration)
    rows = [
        {
            "record": {"type": r.record_type, "id": r.record_id},
            "changes": int(r.changes),
            "by": sorted(by[r.record_id]),
            "integrations": sorted(made[r.record_id]),
            "history": changes[r.record_id],
            "history_total": listed[r.record_id],
            "show": show(r.record_type, r.record_id),
        }
        for r in top
    ]
    times = f"{m.flapping_changes} or more times since {display_ts(since)}"
    summary = (
        f"{counted(total, 'record')} had {agreeing(total, 'its', 'their')} owner replaced "
        f"or cleared {times}"
        if total
        else f"no record had its owner replaced or cleared {times}"
    )
    return Finding(check="owner_flapping", alert=total > 0, summary=summary, rows=rows)


# Why a new contact or lead has no owner, from its latest decision's reason: the first
# (LIKE pattern, words) that matches.
_UNOWNED_BECAUSE = (
    (f"{UNDONE_TO_NO_OWNER}%", "put back to no owner by an undo"),
    # A person's change (records set-owner, the console) or one made in the CRM itself.
    ("%changed the owner in the CRM%", "owner cleared in the CRM"),
    ("%owner was changed in the CRM%", "owner cleared in the CRM"),
    # A later event kept the no owner a person's clearing protects.
    ("%a person cleared the owner in the CRM%", "owner cleared in the CRM"),
    ("%has no active owner%", "round robin team has no active owner"),
    # Before the leave policy, which a rep mapped to an inactive owner's reason names too.
    ("%inactive%", "the mapped owner is inactive"),
    ("%unmapped policy is leave%", "unmapped rep, policy leave"),
    ("%names no owner%", "no owner in the event"),
)
# Why one without a decision has none: the first (origin, words) that fits it.
_UNOWNED_UNDECIDED = (
    ("placeholder", "only named by another event (its own event has not come)"),
    (UNKNOWN_NUMBER, "created for a call's unknown number (unknown_counterpart: create)"),
    (None, "no decision was made"),
)


def _unowned(c: Connection, m: MonitoringSettings, since: str, until: str) -> Finding:
    settled = add_days(until, -m.unowned_after_minutes / 1440)
    groups, examples = report_store.unowned_new_records(
        c,
        since,
        settled,
        TEST_DOMAIN,
        _UNOWNED_BECAUSE,
        _UNOWNED_UNDECIDED,
        other="other (see the decision)",
        limit=SHOWN,
    )
    total = sum(int(g.n) for g in groups)
    rows: list[dict[str, Any]] = [
        {"integration": g.created_by, "why": _decided_by(g), "records": int(g.n)} for g in groups
    ]
    rows += [
        {
            "record": {"type": e.type, "id": e.id},
            "created_by": e.created_by,
            "why_no_owner": _decided_by(e),
            "show": show(e.type, e.id),
        }
        for e in examples
    ]

    def said(n: int) -> str:
        return (
            f"{counted(n, 'contact or lead', 'contacts or leads')} created since "
            f"{display_ts(since)} "
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


def _decided_by(group: Any) -> str:
    """Why a group has no owner, saying whose event decided it where another integration's
    did than the one that created the records."""
    if group.decided_by is None or group.decided_by == group.created_by:
        return str(group.why)
    return f"{group.why} (decided on {group.decided_by}'s event)"


def _own_line_note(rules: WorkspaceRules, row: Mapping[str, Any]) -> str | None:
    """Why a contact made for an unknown number is none of a customer's: its number is one of
    the company's lines, learned (or declared) after the contact was made."""
    number, by = row["number"], row["created_by"]
    declared = number in rules.declared_lines.get(by or "", {})
    if not (row["own_line"] or declared):
        return None
    how = "declared in its own_numbers" if declared else "learned from its events"
    return (
        f"{number} is one of the company's lines ({how} after this contact was made): "
        "no customer; calls to it are internal now and no longer land here"
    )


def _unmapped(c: Connection, rules: WorkspaceRules, since: str) -> Finding:
    """External users that sent events since ``since`` and map to no owner by the map or by
    email; the summary (and each integration's part) says where the unmapped policy sends
    their records. The test leads' events are left out (a rep only test leads used is not
    listed)."""
    tests = users_of_test_leads(c)
    rows = []
    goes: list[str] = []  # where each one's records go (the summary says)
    for user in report_store.external_users_seen(c, since):
        settings = rules.integrations.get(user.integration)
        if settings is None or settings.is_crm:
            continue
        events, last_seen = real_use(user, tests.get((user.integration, user.external_id), []))
        if events <= 0 or last_seen is None or last_seen < since:
            continue
        known = known_user(rules, settings, user.external_id, user.email, user.name)
        if not known.mapping.mapped:
            rows.append(
                {
                    "integration": user.integration,
                    "external_user": user.external_id,
                    "name": known.name,  # the directory's, else as its tool names the rep
                    "email": known.email,
                    "events": events,
                    "last_seen": display_ts(last_seen),
                    "how": known.mapping.how,
                }
            )
            goes.append(known.records or "")
    per: dict[str, list[str]] = {}
    for row, records in zip(rows, goes, strict=True):
        per.setdefault(row["integration"], []).append(records)
    return Finding(
        check="unmapped_external_users",
        alert=bool(rows),
        summary=unmapped_said(goes)[:500],
        rows=rows[:SHOWN],
        parts={name: unmapped_said(records) for name, records in per.items()},
    )


def _inactive_owners(c: Connection, rules: WorkspaceRules) -> Finding:
    inactive = [o.id for o in rules.directory.owners.values() if not o.active]
    rows: list[dict[str, Any]] = [
        {"owner_id": row.owner_id, "still_owns": row.type, "records": int(row.n)}
        for row in report_store.open_records_by_owner(c, inactive, TEST_DOMAIN)
    ]
    for name, settings in sorted(rules.integrations.items()):
        for external, owner in sorted(settings.users.map.items()):
            if owner in inactive:
                rows.append({"owner_id": owner, "still_mapped_from": f"{name}:{external}"})
        unmapped = settings.users.unmapped  # a fallback owner who left: reps get nobody
        if unmapped.policy == "fallback" and unmapped.owner in inactive:
            rows.append({"owner_id": unmapped.owner, "fallback_of": name})
    summary = (
        f"{counted(len(rows), 'finding')} on deactivated owners that are still mapped, named as a "
        "fallback or own open records"
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
        workspace_part=f"{counted(owning, 'finding')} on deactivated owners that still own open "
        "records"
        if owning
        else None,
    )


def _dead_letters(c: Connection, m: MonitoringSettings, since: str) -> Finding:
    groups = report_store.open_dead_letters_by_integration(c, since)
    total = sum(int(g.n) for g in groups)
    rows = [{"integration": g.integration, "dead_letters": int(g.n)} for g in groups]
    # Dismissed letters are resolved: a person looked and decided none can be fixed. Those
    # that arrived before the window and are still open are said, never hidden by it.
    in_all = sum(int(g.n) for g in report_store.open_dead_letters_by_integration(c, None))
    before = f" ({in_all} open in all)" if in_all > total else ""
    summary = (
        f"{counted(total, 'unresolved dead letter')} received since {display_ts(since)}"
        f"{before} {DEAD_LETTERS_HINT}"
    )
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
