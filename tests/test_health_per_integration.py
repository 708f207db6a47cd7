"""Health per integration: the Integrations page gives each row its own part of the report's
findings (never the workspace's totals as the row's), and test leads stay out of the owner
changes and the unmapped external users (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

from leadsync.model import add_days, now_ts
from leadsync.ops.overview import Overview
from leadsync.ops.testlead import TEST_DOMAIN
from leadsync.settings import load_config
from leadsync.store import dashboard as per_day
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, contact_line, settings

LEAVE = {"unmapped": {"policy": "leave"}}


def configure(ws: Workspace, names: list[str]) -> None:
    doc = {
        "owners": OWNERS,
        "teams": {"sdr": ["101", "102"]},
        "integrations": {name: settings(users=LEAVE) for name in names},
    }
    ws.apply_config(load_config(json.dumps(doc), "t.yaml"))


def alerts_by_row(result: Overview) -> dict[str, dict[str, str]]:
    return {row.name: {a.check: a.summary for a in row.alerts} for row in result.integrations}


def test_each_row_shows_its_own_part_of_the_findings(workspace: Workspace) -> None:
    at = add_days(now_ts(), -1)
    configure(workspace, ["aircall", "dialer", "quiet", "legacy"])
    workspace.ingest("legacy", ["{not json", "{not json", "{not json", "{not json"])
    configure(workspace, ["aircall", "dialer", "quiet"])  # legacy removed, letters still open
    workspace.ingest("dialer", ["{not json", "{not json", "{not json"])
    workspace.ingest("aircall", ["{not json"])
    workspace.ingest(
        "dialer",
        [contact_line("p-1", "u-404", at), contact_line("p-2", "u-405", at)],
    )
    workspace.ingest("aircall", [contact_line("p-3", "u-406", at)])
    workspace.ingest("quiet", [contact_line("p-4", "u-1", at)])
    result = workspace.overview({})
    rows = alerts_by_row(result)
    letters = {row.name: row.dead_letters for row in result.integrations}
    assert letters == {"aircall": 1, "dialer": 3, "quiet": 0}
    assert rows["dialer"]["dead_letters"].startswith(
        "3 unresolved dead letters of the workspace's 8"
    )
    assert rows["aircall"]["dead_letters"].startswith("1 unresolved dead letter of")
    assert rows["dialer"]["unmapped_external_users"].startswith("2 external users")
    assert rows["aircall"]["unmapped_external_users"].startswith(
        "1 external user sent events and maps to no owner"
    )
    assert rows["dialer"]["unowned_new_leads"].startswith("2 contacts or leads created")
    assert rows["aircall"]["unowned_new_leads"].startswith("1 contact or lead created")
    # The quiet integration has none of them; the legacy letters are the workspace's alone.
    assert rows["quiet"] == {}
    assert [row.health for row in result.integrations] == ["alert", "alert", "ok"]
    workspace_alerts = {a.check: a.summary for a in result.workspace_alerts}
    assert workspace_alerts["dead_letters"].startswith("8 unresolved dead letters")
    assert "unmapped_external_users" not in workspace_alerts


def send_test_leads(ws: Workspace, now: str) -> None:
    """Real events by u-404 (unmapped) and u-1, then test leads by u-new (only a test lead
    uses it), u-404 and u-1 (mapped: the test contact gets an owner)."""
    configure(ws, ["dialer"])
    at = add_days(now, -1)
    ws.ingest("dialer", [contact_line("p-1", "u-404", at), contact_line("p-2", "u-1", at)])
    for n, rep in enumerate(("u-new", "u-404", "u-1")):
        assert ws.test_lead("dialer", rep, at=add_days(now, -0.5 + n / 100)).record_id


def test_test_leads_stay_out_of_the_owner_changes_chart(workspace: Workspace) -> None:
    now = now_ts()
    send_test_leads(workspace, now)
    since = add_days(now, -7)
    with workspace.engine.connect() as c:
        changes = per_day.owner_changes_per_day(c, since, now, TEST_DOMAIN)
    assert sum(int(row[-1]) for row in changes) == 1  # p-2's owner, no test's
    charts = {chart.key: chart for chart in workspace.dashboard(now).charts}
    assert charts["owner_changes"].total == 1


def test_test_leads_stay_out_of_the_unmapped_external_users(workspace: Workspace) -> None:
    now = now_ts()
    send_test_leads(workspace, now)
    since = add_days(now, -7)
    for _ in range(2):  # with the test leads, then once they are cleaned up
        report = workspace.report(since, now)
        [unmapped] = [f for f in report.findings if f.check == "unmapped_external_users"]
        assert [(r["external_user"], r["events"]) for r in unmapped.rows] == [("u-404", 1)]
        assert unmapped.summary.startswith("1 external user sent events and maps to no owner")
        workspace.cleanup_test_leads()


def test_an_owner_flapping_under_one_integrations_events_is_on_its_row(
    workspace: Workspace,
) -> None:
    """Contact p-1's owner replaced again and again, every time by the dialer's events: the
    alert named the dialer in its rows ("by") but was shown as the workspace's only, not on
    the dialer's badge."""
    doc = {
        "owners": OWNERS,
        "integrations": {
            "dialer": settings(users=LEAVE, ownership={"default": "integration_wins"}),
            "quiet": settings(users=LEAVE),
        },
        "monitoring": {"flapping_changes": 2},
    }
    workspace.apply_config(load_config(json.dumps(doc), "t.yaml"))
    at = add_days(now_ts(), -1)
    owners = ["u-1", "u-9", "u-1", "u-9"]
    workspace.ingest(
        "dialer",
        [contact_line("p-1", rep, add_days(at, n / 100)) for n, rep in enumerate(owners)],
    )
    rows = alerts_by_row(workspace.overview({}))
    assert "owner_flapping" in rows["dialer"]
    assert "owner_flapping" not in rows["quiet"]
