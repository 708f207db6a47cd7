"""The health dashboard: the report's checks as cards, and charts per day over the same
window.

The cards are the report (:func:`leadsync.ops.monitor.report`) as it is, each with the
records its rows name (the console links them). Both come from a health snapshot
(:mod:`leadsync.ops.snapshot`), which the service takes in the background. The charts are
the per-day queries of
:mod:`leadsync.store.dashboard`, which count with the report's own filters: the days of
"unowned new leads", "activities skipped" and "dead letters" add up to the numbers of the
report's checks. With a HubSpot destination, the push queue's depth and the request budget
are shown as they are now (the database keeps no history of them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field
from sqlalchemy.engine import Connection, Engine, Row

from leadsync.engine import WorkspaceRules
from leadsync.model import add_days, decided_by, epoch_ts, ts_to_datetime
from leadsync.ops.monitor import Finding
from leadsync.ops.testlead import TEST_DOMAIN, TEST_PREFIX
from leadsync.results import ResultModel
from leadsync.settings import MonitoringSettings
from leadsync.store import dashboard as dashboard_store
from leadsync.store import push as push_store
from leadsync.store import push_lease

if TYPE_CHECKING:  # the snapshot is taken from this module's charts
    from leadsync.ops.snapshot import HealthSnapshot

#: The series of a person's owner change in the CRM (a decision without an integration).
ALL = "all"  # the one series of a chart that counts without integrations


class RecordLink(ResultModel):
    type: str
    id: int


class Card(ResultModel):
    """One check of the report, and the records its rows name (the first of them)."""

    check: str
    alert: bool
    summary: str
    records: list[RecordLink] = Field(default_factory=list)
    integrations: list[str] = Field(default_factory=list)


class Series(ResultModel):
    label: str
    values: list[int] = Field(description="One count per day of the dashboard's ``days``.")

    @property
    def total(self) -> int:
        return sum(self.values)


class Chart(ResultModel):
    key: str
    title: str
    description: str
    series: list[Series] = Field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(s.total for s in self.series)


class QueueDepth(ResultModel):
    object_type: str
    queued: int
    oldest: str | None


class Budget(ResultModel):
    app: str
    sent_last_10s: int = Field(description="Requests in the budget's sliding log now.")
    per_10s: int | None = Field(description="HubSpot's 10-second limit, from its headers.")
    daily: int | None
    daily_remaining: int | None
    paused_until: str | None = Field(description="Until when it is paused (a canonical time).")
    pause_reason: str | None


class PushHealth(ResultModel):
    queue: list[QueueDepth] = Field(default_factory=list)
    budgets: list[Budget] = Field(default_factory=list)

    @property
    def queued(self) -> int:
        return sum(q.queued for q in self.queue)


class Dashboard(ResultModel):
    since: str
    until: str
    days: list[str] = Field(description="Every day of the window (UTC), oldest first.")
    cards: list[Card] = Field(default_factory=list)
    charts: list[Chart] = Field(default_factory=list)
    push: PushHealth | None = Field(default=None, description="None without a destination.")


def dashboard(engine: Engine, rules: WorkspaceRules, health: HealthSnapshot, now: str) -> Dashboard:
    """The dashboard of a health snapshot (:mod:`leadsync.ops.snapshot`: the report and the
    charts of the ``HEALTH_DAYS`` before it was taken); the push's queue and budget are read
    as they are at ``now``."""
    result = Dashboard(
        since=health.report.since,
        until=health.taken_at,
        days=health.days,
        cards=[_card(f) for f in health.report.findings],
        charts=health.charts,
    )
    if rules.push:
        with engine.connect() as c:
            result.push = _push(c, now)
    return result


def charts(engine: Engine, monitoring: MonitoringSettings, since: str, now: str) -> list[Chart]:
    """The per-day charts from ``since`` to ``now``, with the report's own filters."""
    days = days_of(since, now)
    settled = add_days(now, -monitoring.unowned_after_minutes / 1440)
    with engine.connect() as c:
        per_day = (
            (
                "events",
                "Events received",
                "Inbox rows per day, by integration, whatever became of them.",
                dashboard_store.events_per_day(c, since, now),
            ),
            (
                "activities",
                "Activities created",
                "Activities created per day (by when they happened), by integration.",
                dashboard_store.activities_per_day(c, since, now, TEST_PREFIX),
            ),
            (
                "skipped",
                "Activities skipped",
                "Activities received but not created (the activity filters), by integration.",
                dashboard_store.skips_per_day(c, since, now, TEST_PREFIX),
            ),
            (
                "owner_changes",
                "Owner changes",
                "Records whose owner changed, per day, by who decided.",
                dashboard_store.owner_changes_per_day(c, since, now, TEST_DOMAIN),
            ),
            (
                "unowned",
                "Unowned new leads",
                "Contacts and leads created that day that still have no owner "
                f"after {monitoring.unowned_after_minutes:g} minutes.",
                dashboard_store.unowned_new_per_day(c, since, settled, TEST_DOMAIN),
            ),
            (
                "dead_letters",
                "Dead letters",
                "Dead letters received that day and not yet retried or dismissed.",
                dashboard_store.open_dead_letters_per_day(c, since, now),
            ),
        )
        return [
            Chart(key=key, title=title, description=text, series=_series(days, rows))
            for key, title, text, rows in per_day
        ]


def days_of(since: str, until: str) -> list[str]:
    """Every day (UTC) from ``since``'s to ``until``'s, oldest first."""
    first, last = ts_to_datetime(since).date(), ts_to_datetime(until).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _series(days: list[str], rows: Iterable[Row[Any]]) -> list[Series]:
    """One series per integration (or one, "all", for a count without integration; owner
    changes: per who decided, :func:`leadsync.model.decided_by`), a value for every day (0
    where the query had no row)."""
    position = {day: n for n, day in enumerate(days)}
    by_label: dict[str, list[int]] = {}
    for day, integration, *strategy, n in rows:
        if strategy:
            label = decided_by(integration, strategy[0])
        else:
            label = ALL if integration is None else str(integration)
        values = by_label.setdefault(label, [0] * len(days))
        values[position[day]] += int(n)
    if not by_label:
        return []
    return [Series(label=label, values=by_label[label]) for label in sorted(by_label)]


def _card(finding: Finding) -> Card:
    records: dict[tuple[str, int], None] = {}
    integrations: dict[str, None] = {}
    for row in finding.rows:
        record = row.get("record")
        if isinstance(record, dict) and record.get("id") is not None:
            records[(str(record["type"]), int(record["id"]))] = None
        if isinstance(row.get("integration"), str):
            integrations[row["integration"]] = None
    return Card(
        check=finding.check,
        alert=finding.alert,
        summary=finding.summary,
        records=[RecordLink(type=t, id=i) for t, i in records],
        integrations=list(integrations),
    )


def _push(c: Connection, now: str) -> PushHealth:
    at = ts_to_datetime(now).timestamp()
    return PushHealth(
        queue=[QueueDepth(**row) for row in push_store.queue_depth(c)],
        budgets=[
            Budget(
                app=b.app,
                sent_last_10s=sum(1 for t in b.sent if t > at - 10),
                per_10s=b.header_max,
                daily=b.header_daily,
                daily_remaining=b.header_daily_remaining,
                paused_until=epoch_ts(b.paused_until) if b.paused_until else None,
                pause_reason=b.pause_reason,
            )
            for b in push_lease.read_budgets(c)
        ],
    )
