"""The health report: each alert fires on a workspace built to trigger it and stays quiet on
a clean one (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.settings import load_config
from leadsync.store.schema import inbox
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, contact_line, ev, settings, setup, workspace_config

NOW = "2026-11-10T12:00:00.000Z"
TODAY = "2026-11-10T09:00:00Z"  # inside the report window
SINCE = "2026-11-03T12:00:00.000Z"


def activity(kind: str, ext: str, contact_ext: str, at: str, **props: Any) -> str:
    return json.dumps(
        ev(
            "activity",
            at,
            activity=kind,
            external_id=ext,
            owner="u-1",
            properties=props,
            associations=[{"object": "contact", "external_id": contact_ext}],
        )
    )


def alerts(ws: Workspace) -> dict[str, Any]:
    result = ws.report(SINCE, NOW)
    return {f.check: f for f in result.alerts}


def test_a_clean_workspace_raises_no_alert(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", TODAY),
            contact_line("p-2", "u-9", TODAY),
            activity("call", "c-1", "p-1", "2026-11-10T10:00:00Z", duration_s=60),
        ],
    )
    assert alerts(workspace) == {}


def test_owner_flapping_names_the_record_and_who_changed_it(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    lines = [
        contact_line("p-1", owner, f"2026-11-0{day}T09:00:00Z")
        for day, owner in zip((5, 6, 7, 8), ("u-1", "u-9", "u-1", "u-9"), strict=True)
    ]
    workspace.ingest("dialer", lines + [contact_line("p-2", "u-1", TODAY)])
    finding = alerts(workspace)["owner_flapping"]
    [row] = finding.rows
    assert row["changes"] == 4 and row["record"]["type"] == "contact"
    assert [h["owner_id"] for h in row["history"]] == ["101", "102", "101", "102"]
    assert {h["by"] for h in row["history"]} == {"dialer"}
    assert row["show"] == f"leadsync records show contact {row['record']['id']}"


def test_unowned_new_leads_are_grouped_by_integration_and_why(workspace: Workspace) -> None:
    setup(workspace, users={"unmapped": {"policy": "leave"}})
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-404", TODAY),  # unmapped, policy leave
            contact_line("p-2", None, TODAY),  # no owner in the event
            contact_line("p-3", "u-1", TODAY),  # owned: fine
            contact_line("p-4", None, at="2026-11-10T11:30:00Z"),  # too recent to count yet
        ],
    )
    finding = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in finding.rows if "why" in r}
    assert groups == {
        ("dialer", "unmapped rep, policy leave"): 1,
        ("dialer", "no owner in the event"): 1,
    }


def test_timeline_overload_names_the_integration_and_type(workspace: Workspace) -> None:
    setup(workspace)
    notes = [
        activity("note", f"n-{i}", "p-1", f"2026-11-09T10:{i:02d}:00Z", body="ping")
        for i in range(30)
    ]
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), *notes])
    [row] = alerts(workspace)["timeline_overload"].rows
    assert row["day"] == "2026-11-09" and row["activities"] == 30
    assert row["from"] == [{"integration": "dialer", "type": "note", "activities": 30}]


def test_a_drop_in_daily_calls_against_the_baseline(workspace: Workspace) -> None:
    """The last day (11-09 12:00 to 11-10 12:00) against the 7 days before: 10 calls a day."""
    setup(workspace)
    baseline = [
        activity("call", f"c-{day}-{i}", "p-1", f"2026-11-0{day}T10:{i:02d}:00Z", duration_s=60)
        for day in range(3, 10)
        for i in range(10)
    ]
    one = activity("call", "today-0", "p-1", "2026-11-10T09:00:00Z", duration_s=60)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), *baseline, one])
    [row] = alerts(workspace)["activity_drop"].rows
    assert row == {"integration": "dialer", "type": "call", "last_day": 1, "daily_average": 10.0}
    usual = [
        activity("call", f"today-{i}", "p-1", f"2026-11-10T09:{i:02d}:00Z", duration_s=60)
        for i in range(1, 10)
    ]
    workspace.ingest("dialer", usual)
    assert "activity_drop" not in alerts(workspace)


def test_unmapped_users_and_deactivated_owners(workspace: Workspace) -> None:
    setup(workspace, users={"unmapped": {"policy": "leave"}, "map": {"u-9": "102"}})
    workspace.ingest(
        "dialer", [contact_line("p-1", "u-404", TODAY), contact_line("p-2", "u-9", TODAY)]
    )
    found = alerts(workspace)
    assert [r["external_user"] for r in found["unmapped_external_users"].rows] == ["u-404"]
    owners = [dict(o) for o in OWNERS]
    owners[1]["active"] = False  # 102 leaves the company but still owns p-2 and is mapped
    users = {"unmapped": {"policy": "leave"}, "map": {"u-9": "102"}}
    doc = {
        "owners": owners,
        "teams": {"sdr": ["101"]},
        "integrations": {"dialer": settings(users=users)},
    }
    workspace.apply_config(load_config(json.dumps(doc), "t.yaml"))
    rows = alerts(workspace)["deactivated_owners"].rows
    assert {"owner_id": "102", "still_owns": "contact", "records": 1} in rows
    assert {"owner_id": "102", "still_mapped_from": "dialer:u-9"} in rows


def test_dead_letters_and_inbox_lag(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest("dialer", ["{not json"])
    with workspace.engine.begin() as connection:
        connection.execute(
            sa.insert(inbox),
            [
                {
                    "seq": 99,
                    "integration": "dialer",
                    "event_id": "late",
                    "received_at": "2026-01-01T00:00:00.000Z",
                    "occurred_at": "2026-01-01T00:00:00.000Z",
                    "payload": "{}",
                    "status": "pending",
                }
            ],
        )
    found = alerts(workspace)
    assert found["dead_letters"].rows == [{"integration": "dialer", "dead_letters": 1}]
    assert "dead-letters dismiss ID --reason" in found["dead_letters"].summary
    assert found["inbox_lag"].rows[0]["pending"] == 1


def test_a_dismissed_dead_letter_no_longer_counts(workspace: Workspace) -> None:
    """An unfixable letter, once dismissed by a person, stops the alert; it is still kept."""
    setup(workspace)
    workspace.ingest("dialer", ["{not json", '{"id": "half"}'])
    [second, first] = workspace.dead_letters()
    assert alerts(workspace)["dead_letters"].rows == [{"integration": "dialer", "dead_letters": 2}]
    assert workspace.dismiss_dead_letters([first["id"]], "a test line", "kim") == [first["id"]]
    assert alerts(workspace)["dead_letters"].rows == [{"integration": "dialer", "dead_letters": 1}]
    assert workspace.dismiss_dead_letters(None, "cleanup", "kim") == [second["id"]]
    assert "dead_letters" not in alerts(workspace)
    kept = workspace.dead_letters(include_resolved=True)
    assert [(d["state"], d["dismissed_reason"]) for d in kept] == [
        ("dismissed", "cleanup"),
        ("dismissed", "a test line"),
    ]


def test_the_cli_exits_1_on_an_alert_and_0_when_quiet(db_url: str) -> None:
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        ws.ingest("dialer", [contact_line("p-1", "u-1", TODAY)])
    quiet = runner.invoke(app, ["report", "--since", "30d", "--json"], env=env)
    assert quiet.exit_code == 0, quiet.output
    assert json.loads(quiet.stdout)["alerts"] == 0
    with Workspace(db_url) as ws:
        ws.ingest("dialer", ["{not json"])
    loud = runner.invoke(app, ["report", "--since", "30d"], env=env)
    assert loud.exit_code == 1
    assert "ALERT dead_letters" in loud.stdout


def test_activities_not_created_are_grouped_by_kind_of_reason(workspace: Workspace) -> None:
    """One row per kind (a filter and its threshold), not one per distinct duration."""
    setup(workspace)  # calls: min_duration_s 10, skip_outcomes no_answer and busy; no emails
    short = [
        activity("call", f"c-{i}", "p-1", TODAY, duration_s=seconds)
        for i, seconds in enumerate((1, 2.5, 3, 9))
    ]
    busy = [activity("call", f"b-{i}", "p-1", TODAY, outcome="busy") for i in range(2)]
    emails = [activity("email", "m-1", "p-1", TODAY, subject="Hi")]
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), *short, *busy, *emails])
    finding = {f.check: f for f in workspace.report(SINCE, NOW).findings}["activities_not_created"]
    assert finding.rows == [
        {
            "integration": "dialer",
            "type": "call",
            "reason": "shorter than min_duration_s (10 s)",
            "activities": 4,
        },
        {
            "integration": "dialer",
            "type": "call",
            "reason": "outcome busy is in skip_outcomes",
            "activities": 2,
        },
        {
            "integration": "dialer",
            "type": "email",
            "reason": "email activities are disabled",
            "activities": 1,
        },
    ]
    assert "7 activities received but not created" in finding.summary


def test_an_activity_skipped_by_several_events_counts_once(workspace: Workspace) -> None:
    """A short call's webhooks (ringing, answered, ended: each an event of call c-1) are one
    call not created, not three; calls with no id of their own stay one each."""
    setup(workspace)
    events = [
        activity("call", "c-1", "p-1", f"{TODAY[:11]}0{hour}:00:00Z", duration_s=2)
        for hour in (1, 2, 3)
    ]
    one = json.loads(activity("call", "x", "p-1", TODAY, duration_s=1))
    del one["external_id"]
    no_id = [json.dumps({**one, "id": f"n-{i}"}) for i in range(2)]
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), *events, *no_id])
    finding = {f.check: f for f in workspace.report(SINCE, NOW).findings}["activities_not_created"]
    assert [r["activities"] for r in finding.rows] == [3]
    assert finding.summary.startswith("3 activities received but not created")


def test_the_report_text_is_plain_words_with_owner_names(db_url: str) -> None:
    """No Python values (None, False) in the text, and owners named beside their ids."""
    owners = [dict(o) for o in OWNERS]
    owners[2]["active"] = False  # 103 Cy Oh, still the target of a map entry
    users = {"unmapped": {"policy": "leave"}, "map": {"u-9": "103"}}
    doc = {
        "owners": owners,
        "teams": {"sdr": ["101"]},
        "integrations": {"dialer": settings(users=users)},
    }
    with Workspace(db_url) as ws:
        ws.apply_config(load_config(json.dumps(doc), "t.yaml"))
        ws.ingest(
            "dialer",
            [
                contact_line("p-1", "u-404", TODAY),  # unmapped, no email known
                activity("call", "c-1", "p-1", TODAY, duration_s=3),
                activity("call", "c-2", "p-1", TODAY, duration_s=4),
            ],
        )
    shown = CliRunner().invoke(app, ["report", "--since", "30d"], env={"LEADSYNC_DB": db_url})
    assert shown.exit_code == 1, shown.output
    for python in ("None", "False", "True", "=", "{"):
        assert python not in shown.stdout, python
    assert "103 Cy Oh" in shown.stdout
    assert "call: shorter than min_duration_s (10 s): 2" in shown.stdout
    assert "u-404" in shown.stdout and "no email" in shown.stdout


def undo_two_records(workspace: Workspace) -> None:
    """p-1 changes owner twice, p-2 three times; then an admin's undo puts both back to no
    owner."""
    setup(workspace, ownership={"default": "integration_wins"})
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-05T09:00:00Z"),
            contact_line("p-1", "u-9", "2026-11-06T09:00:00Z"),
            contact_line("p-2", "u-1", "2026-11-05T09:00:00Z"),
            contact_line("p-2", "u-9", "2026-11-06T09:00:00Z"),
            contact_line("p-2", "u-1", "2026-11-07T09:00:00Z"),
        ],
    )
    undone = workspace.undo(
        integration="dialer", since="2026-11-04T00:00:00.000Z", at="2026-11-09T09:00:00.000Z"
    )
    assert [r["owner_id"] for r in undone.restored] == [None, None]


def test_an_admins_undo_is_not_counted_as_flapping(workspace: Workspace) -> None:
    """p-1's two changes and the undo are not three changes: no flapping. p-2 changed three
    times before the undo: it flaps, and its history shows the undo, by an admin."""
    undo_two_records(workspace)
    [row] = alerts(workspace)["owner_flapping"].rows
    assert row["record"]["id"] == workspace.find(external="dialer:p-2")[0]["id"]
    assert row["changes"] == 3
    assert [(h["by"], h["strategy"]) for h in row["history"]][-1] == ("an admin", "undo")


def test_a_record_an_undo_left_without_owner_says_so(workspace: Workspace) -> None:
    undo_two_records(workspace)
    unowned = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in unowned.rows if "why" in r}
    assert groups == {("dialer", "put back to no owner by an undo"): 2}
