"""The health report's checks of activities, at their edges: whole days for the timeline,
the usual rate of calls at weekends, removed integrations and the drop threshold itself
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta

from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.workspace import Workspace
from tests.helpers import contact_line, settings
from tests.test_monitor import FIXED_SINCE, TODAY, activity, findings, setup_monitored


def test_the_windows_first_day_is_counted_whole(workspace: Workspace) -> None:
    """SINCE is 11-03 at noon: 3 notes that morning and 4 after make 7 on that day, over 5;
    the row's integrations and types add up to it."""
    setup_monitored(workspace, {"timeline_max_per_day": 5})
    notes = [
        activity("note", f"n-{hour}", "p-1", f"2026-11-03T{hour:02d}:00:00Z", body="ping")
        for hour in (8, 9, 10, 13, 14, 15, 16)
    ]
    calls = [
        activity("call", f"c-{n}", "p-1", f"2026-11-05T1{n}:00:00Z", duration_s=60)
        for n in range(6)
    ]
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), *notes, *calls])
    finding = findings(workspace)["timeline_overload"]
    assert finding.alert
    assert [(r["day"], r["activities"], r["from"]) for r in finding.rows] == [
        ("2026-11-03", 7, [{"integration": "dialer", "type": "note", "activities": 7}]),
        ("2026-11-05", 6, [{"integration": "dialer", "type": "call", "activities": 6}]),
    ]
    assert finding.summary == "2 record-days have more than 5 activities (UTC days from 2026-11-03)"


def weekday_calls(ext: str, first: date, last: date, per_day: int = 10) -> list[str]:
    """``per_day`` calls every weekday (Monday to Friday) at 09:00 UTC, none at weekends."""
    lines = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            lines += [
                activity("call", f"{ext}-{day}-{n}", "p-1", f"{day}T09:{n:02d}:00Z", duration_s=60)
                for n in range(per_day)
            ]
        day += timedelta(days=1)
    return lines


def test_a_quiet_weekend_is_not_a_drop_a_quiet_weekday_is(workspace: Workspace) -> None:
    """A team that calls on weekdays only: the Saturday, the Sunday and the Monday morning
    after its Friday are compared with the same 24 h a week before (quiet too), not with
    a daily average of the week; a silent Wednesday still fires."""
    setup_monitored(workspace, {})
    calls = weekday_calls("c", date(2026, 10, 19), date(2026, 11, 6))  # Mon 10-19 to Fri 11-06
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-10-01T09:00:00Z"), *calls])
    for now in ("2026-11-07T12:00:00.000Z", "2026-11-08T12:00:00.000Z", "2026-11-09T08:00:00.000Z"):
        drop = findings(workspace, now)["activity_drop"]
        assert not drop.alert, (now, drop.summary)
        assert drop.summary == (
            "calls and emails arrive at their usual rate (the same 24 h a week before)"
        )
    silent = findings(workspace, "2026-11-11T12:00:00.000Z")["activity_drop"]  # a Wednesday
    assert silent.rows == [
        {"integration": "dialer", "type": "call", "last_day": 0, "daily_average": 10.0}
    ]
    assert silent.summary == (
        "1 integration sent far fewer calls or emails in the last 24 h than the same 24 h a "
        "week before (dialer: 0 calls against 10)"
    )


def test_the_baseline_of_several_weeks_averages_the_same_day(workspace: Workspace) -> None:
    """baseline_days 14: the last 24 h (8 calls) against the same 24 h of each of the two
    weeks before (10 and 20 calls: 15), a drop of 46.7 %: not 50 %, but more than 46.6 %."""
    setup_monitored(workspace, {"baseline_days": 14, "min_baseline_per_day": 1})
    lines = [contact_line("p-1", "u-1", "2026-10-01T09:00:00Z")]
    lines += [
        activity("call", f"a-{n}", "p-1", f"2026-10-27T09:{n:02d}:00Z", duration_s=60)
        for n in range(10)
    ]
    lines += [
        activity("call", f"b-{n}", "p-1", f"2026-11-03T09:{n:02d}:00Z", duration_s=60)
        for n in range(20)
    ]
    lines += [
        activity("call", f"c-{n}", "p-1", f"2026-11-10T09:{n:02d}:00Z", duration_s=60)
        for n in range(8)
    ]
    workspace.ingest("dialer", lines)
    assert not findings(workspace)["activity_drop"].alert  # 8 against 15: a drop of 47 %
    setup_monitored(workspace, {"baseline_days": 14, "drop_percent": 46.6})
    drop = findings(workspace)["activity_drop"]
    assert drop.rows == [
        {"integration": "dialer", "type": "call", "last_day": 8, "daily_average": 15.0}
    ]
    assert "than the average of the same 24 h of the 2 weeks before" in drop.summary


def test_a_drop_of_exactly_drop_percent_fires(workspace: Workspace) -> None:
    """10 calls a week before, 5 now: a drop of 50 % is a drop of drop_percent 50; with
    drop_percent 100 only a stop fires, and a stop does."""
    setup_monitored(workspace, {})
    before = [  # in the same 24 h a week before NOW, and a week before the day after
        activity("call", f"b-{day}-{n}", "p-1", f"2026-11-0{day}T09:{n:02d}:00Z", duration_s=60)
        for day in (3, 4)
        for n in range(10)
    ]
    now = [
        activity("call", f"n-{n}", "p-1", f"2026-11-10T09:{n:02d}:00Z", duration_s=60)
        for n in range(5)
    ]
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), *before, *now])
    [row] = findings(workspace)["activity_drop"].rows
    assert (row["last_day"], row["daily_average"]) == (5, 10.0)
    setup_monitored(workspace, {"drop_percent": 100})
    assert not findings(workspace)["activity_drop"].alert
    assert findings(workspace, "2026-11-11T12:00:00.000Z")["activity_drop"].alert  # none since


def test_a_removed_integration_and_a_new_one_raise_no_drop(workspace: Workspace) -> None:
    """legacy called every day, then was removed from the file: its silence is expected. new
    started yesterday: it has no usual rate yet. dialer stopped: it fires, once for its
    calls and its emails (one integration)."""
    both = {"email": {"enabled": True}}
    integrations = {name: settings(activities=both) for name in ("dialer", "legacy", "new")}
    setup_monitored(workspace, {}, integrations)
    for name in ("dialer", "legacy"):
        week_before = [
            activity(kind, f"{kind}-{n}", "p-1", f"2026-11-03T09:{n:02d}:00Z", **props)
            for kind, props in (("call", {"duration_s": 60}), ("email", {"subject": "Hi"}))
            for n in range(10)
        ]
        workspace.ingest(name, [contact_line("p-1", "u-1", TODAY), *week_before])
    workspace.ingest(
        "new",
        [
            activity("call", f"c-{n}", "p-1", f"2026-11-10T09:{n:02d}:00Z", duration_s=60)
            for n in range(10)
        ],
    )
    del integrations["legacy"]
    setup_monitored(workspace, {}, integrations)
    drop = findings(workspace)["activity_drop"]
    assert [(r["integration"], r["type"]) for r in drop.rows] == [
        ("dialer", "call"),
        ("dialer", "email"),
    ]
    assert drop.summary.startswith("1 integration sent far fewer calls or emails")
    assert "(dialer: 0 calls against 10, 0 emails against 10)" in drop.summary


def test_the_text_names_the_busy_days_integrations_and_types(db_url: str) -> None:
    with Workspace(db_url) as ws:
        setup_monitored(ws, {"timeline_max_per_day": 2})
        notes = [
            activity("note", f"n-{n}", "p-1", f"2026-11-04T1{n}:00:00Z", body="ping")
            for n in range(3)
        ]
        call = activity("call", "c-1", "p-1", "2026-11-04T09:00:00Z", duration_s=60)
        ws.ingest("dialer", [contact_line("p-1", "u-1", TODAY), *notes, call])
    shown = CliRunner().invoke(app, ["report", "--since", FIXED_SINCE], env={"LEADSYNC_DB": db_url})
    assert shown.exit_code == 1, shown.output
    assert (
        "contact 1, day 2026-11-04, activities 4, from dialer note 3, dialer call 1  "
        "(leadsync records show contact 1)" in shown.stdout
    )
