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
# The command line's window: a fixed date, never "30d" (the clock moves; the events do not).
FIXED_SINCE = "2026-11-01"


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


def findings(ws: Workspace, now: str = NOW) -> dict[str, Any]:
    """Every finding of the report from SINCE to ``now``, by check (alert or not)."""
    return {f.check: f for f in ws.report(SINCE, now).findings}


def setup_monitored(
    ws: Workspace,
    monitoring: dict[str, Any],
    integrations: dict[str, dict[str, Any]] | None = None,
    **overrides: Any,
) -> None:
    """:func:`tests.helpers.setup` with a ``monitoring:`` block (and other integrations)."""
    doc = {
        "owners": OWNERS,
        "teams": {"sdr": ["101", "102"]},
        "integrations": integrations or {"dialer": settings(**overrides)},
        "monitoring": monitoring,
    }
    ws.apply_config(load_config(json.dumps(doc), "t.yaml"))


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
    # Its first owner is not a change: 101 replaced by 102, by 101, by 102.
    assert row["changes"] == 3 and row["record"]["type"] == "contact"
    assert [(h["from_owner_id"], h["owner_id"], h["counted"]) for h in row["history"]] == [
        (None, "101", False),
        ("101", "102", True),
        ("102", "101", True),
        ("101", "102", True),
    ]
    assert {h["by"] for h in row["history"]} == {"dialer"} and row["by"] == ["dialer"]
    assert row["show"] == f"leadsync records show contact {row['record']['id']}"
    assert finding.summary == (
        "1 record had its owner replaced or cleared 3 or more times since 2026-11-03T12:00:00Z"
    )


def test_a_records_first_owner_is_not_an_owner_change(workspace: Workspace) -> None:
    """At the lowest threshold (2), one reassignment of a new record's owner is no flapping,
    and neither is an empty owner filled then changed once; two reassignments are, exactly
    at the threshold."""
    setup_monitored(workspace, {"flapping_changes": 2}, ownership={"default": "integration_wins"})
    workspace.ingest(
        "dialer",
        [
            contact_line("once", "u-1", "2026-11-05T09:00:00Z"),
            contact_line("once", "u-9", "2026-11-06T09:00:00Z"),
            contact_line("filled", None, "2026-11-05T09:00:00Z"),
            contact_line("filled", "u-1", "2026-11-06T09:00:00Z"),
            contact_line("filled", "u-9", "2026-11-07T09:00:00Z"),
            contact_line("twice", "u-1", "2026-11-05T09:00:00Z"),
            contact_line("twice", "u-9", "2026-11-06T09:00:00Z"),
            contact_line("twice", "u-1", "2026-11-07T09:00:00Z"),
        ],
    )
    [row] = alerts(workspace)["owner_flapping"].rows
    assert row["record"]["id"] == workspace.find(external="dialer:twice")[0]["id"]
    assert row["changes"] == 2


def test_unowned_new_leads_are_grouped_by_integration_and_why(workspace: Workspace) -> None:
    setup(workspace, users={"unmapped": {"policy": "leave"}})
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-404", TODAY),  # unmapped, policy leave
            contact_line("p-2", None, TODAY),  # no owner in the event
            contact_line("p-3", "u-1", TODAY),  # owned: fine
            contact_line("p-4", None, at="2026-11-10T11:30:00Z"),  # too recent to count yet
            # u-3 maps (by email) to owner 103, who is inactive: the map to fix, not a rep
            # to map (its reason names the leave policy too).
            contact_line("p-5", "u-3", TODAY),
        ],
    )
    finding = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in finding.rows if "records" in r}
    assert groups == {
        ("dialer", "unmapped rep, policy leave"): 1,
        ("dialer", "no owner in the event"): 1,
        ("dialer", "the mapped owner is inactive"): 1,
    }


def test_an_unowned_groups_reason_says_whose_event_decided_it_when_another_did(
    workspace: Workspace,
) -> None:
    """The dialer made p-1 with no owner; the phone tool's later event named an unmapped rep:
    the group is the dialer's (it made the record), its reason the phone tool's decision."""
    leave = {"unmapped": {"policy": "leave"}}
    setup_monitored(
        workspace,
        {},
        {"dialer": settings(users=leave), "phone": settings(users=leave)},
    )
    workspace.ingest("dialer", [contact_line("p-1", None, TODAY), contact_line("p-2", None, TODAY)])
    workspace.ingest("phone", [contact_line("p-1", "u-404", "2026-11-10T09:05:00Z")])
    finding = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in finding.rows if "records" in r}
    assert groups == {
        ("dialer", "unmapped rep, policy leave (decided on phone's event)"): 1,
        ("dialer", "no owner in the event"): 1,
    }


def test_an_owner_a_person_cleared_is_said_as_such(workspace: Workspace) -> None:
    """A contact whose owner a person cleared (records set-owner … none) is unowned: its
    group says the owner was cleared in the CRM (it said "other (see the decision)")."""
    setup(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY)])
    [record] = workspace.find(external="dialer:p-1")
    workspace.set_owner("contact", record["id"], None, at="2026-11-10T09:30:00.000Z")
    finding = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in finding.rows if "records" in r}
    assert groups == {("dialer", "owner cleared in the CRM"): 1}


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


def test_an_unmapped_rep_is_named_as_users_list_names_it(workspace: Workspace) -> None:
    """The directory's email and name, not only what the rep's events said (the report said
    "no email" of a rep `users list` showed with the directory's)."""
    directory = [{"id": "u-404", "email": "zed@nowhere.test", "name": "Zed Ray"}]
    setup(workspace, users={"unmapped": {"policy": "leave"}, "directory": directory})
    workspace.ingest("dialer", [contact_line("p-1", "u-404", TODAY)])
    [row] = alerts(workspace)["unmapped_external_users"].rows
    [listed] = [u for u in workspace.external_users("dialer") if u["id"] == "u-404"]
    assert (row["email"], row["name"]) == ("zed@nowhere.test", "Zed Ray")
    assert (row["email"], row["name"], row["how"]) == (
        listed["email"],
        listed["name"],
        listed["how"],
    )


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
    quiet = runner.invoke(app, ["report", "--since", FIXED_SINCE, "--json"], env=env)
    assert quiet.exit_code == 0, quiet.output
    assert json.loads(quiet.stdout)["alerts"] == 0
    with Workspace(db_url) as ws:
        ws.ingest("dialer", ["{not json"])
    loud = runner.invoke(app, ["report", "--since", FIXED_SINCE], env=env)
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
    shown = CliRunner().invoke(app, ["report", "--since", FIXED_SINCE], env={"LEADSYNC_DB": db_url})
    assert shown.exit_code == 1, shown.output
    for python in ("None", "False", "True", "=", "{"):
        assert python not in shown.stdout, python
    assert "103 Cy Oh" in shown.stdout
    assert "call: shorter than min_duration_s (10 s): 2" in shown.stdout
    assert "u-404" in shown.stdout and "no email" in shown.stdout
    # An unowned record says which integration made it and why it has no owner.
    assert "contact 1 (made by dialer): unmapped rep, policy leave  (" in shown.stdout


def undo_two_records(workspace: Workspace) -> None:
    """p-1 gets an owner, which is then replaced twice; p-2's is replaced three times; then
    an admin's undo puts both back to no owner."""
    setup(workspace, ownership={"default": "integration_wins"})
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-05T09:00:00Z"),
            contact_line("p-1", "u-9", "2026-11-06T09:00:00Z"),
            contact_line("p-1", "u-1", "2026-11-07T09:00:00Z"),
            contact_line("p-2", "u-1", "2026-11-05T09:00:00Z"),
            contact_line("p-2", "u-9", "2026-11-06T09:00:00Z"),
            contact_line("p-2", "u-1", "2026-11-07T09:00:00Z"),
            contact_line("p-2", "u-9", "2026-11-08T09:00:00Z"),
        ],
    )
    undone = workspace.undo(
        integration="dialer", since="2026-11-04T00:00:00.000Z", at="2026-11-09T09:00:00.000Z"
    )
    assert [r["owner_id"] for r in undone.restored] == [None, None]


def test_a_flapping_history_is_in_the_order_its_changes_were_decided(workspace: Workspace) -> None:
    """A person's change dated after a tool's later-applied one (the tool's event came in
    late, at its own earlier time): the history read 104→101, 103→102, 101→103 — a change
    "from 103" before the one that made it 103. In decided order each starts where the one
    before ended."""
    setup(workspace, ownership={"default": "integration_wins", "protect_manual_days": 0})
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-05T09:00:00Z")])  # 101
    [found] = workspace.find(external="dialer:p-1")
    workspace.set_owner("contact", found["id"], "104", at="2026-11-06T18:00:00.000Z")
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-06T16:00:00Z")])  # late
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-07T09:00:00Z")])
    [row] = alerts(workspace)["owner_flapping"].rows
    history = [(h["from_owner_id"], h["owner_id"]) for h in row["history"]]
    assert history == [(None, "101"), ("101", "104"), ("104", "102"), ("102", "101")], history


def test_an_admins_undo_is_not_counted_as_flapping(workspace: Workspace) -> None:
    """p-1's two changes and the undo are not three changes: no flapping. p-2 changed three
    times before the undo: it flaps, and its history shows the undo, by an admin, not
    counted."""
    undo_two_records(workspace)
    [row] = alerts(workspace)["owner_flapping"].rows
    assert row["record"]["id"] == workspace.find(external="dialer:p-2")[0]["id"]
    assert row["changes"] == 3 and row["by"] == ["dialer"]
    last = row["history"][-1]
    assert (last["by"], last["strategy"], last["counted"]) == ("an admin", "undo", False)


def test_a_record_an_undo_left_without_owner_says_so(workspace: Workspace) -> None:
    undo_two_records(workspace)
    unowned = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in unowned.rows if "records" in r}
    assert groups == {("dialer", "put back to no owner by an undo"): 2}


def test_the_text_says_who_changed_a_flapping_records_owner(db_url: str) -> None:
    """Each change under the record, owners named: by the integration (a staged rollout's
    settings marked), by a person in the CRM; its first owner said not counted."""
    rollout = {"percent": 100, "settings": {"ownership": {"default": "integration_wins"}}}
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings(rollout=rollout)}))
        ws.ingest(
            "dialer",
            [
                contact_line("p-1", "u-1", "2026-11-05T09:00:00Z"),
                contact_line("p-1", "u-9", "2026-11-06T09:00:00Z"),
            ],
        )
        [record] = ws.find(external="dialer:p-1")
        ws.set_owner("contact", record["id"], "101", at="2026-11-06T10:00:00.000Z")
        ws.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-06T11:00:00Z")])
    env = {"LEADSYNC_DB": db_url}
    shown = CliRunner().invoke(app, ["report", "--since", FIXED_SINCE], env=env)
    assert shown.exit_code == 1, shown.output
    text = shown.stdout
    assert "contact 1, changes 3, by a person in the CRM, dialer" in text
    assert (
        "2026-11-05T09:00:00Z no owner -> 101 Ana Ng by dialer (integration_wins) [rollout], "
        "not counted\n" in text
    )
    assert "2026-11-06T09:00:00Z 101 Ana Ng -> 102 Bo Li by dialer (integration_wins)" in text
    assert "2026-11-06T10:00:00Z 102 Bo Li -> 101 Ana Ng by a person in the CRM (manual)\n" in text
    as_json = CliRunner().invoke(app, ["report", "--since", FIXED_SINCE, "--json"], env=env)
    [flapping] = [
        f for f in json.loads(as_json.stdout)["findings"] if f["check"] == "owner_flapping"
    ]
    [row] = flapping["rows"]
    assert [h["settings"] for h in row["history"]] == ["rollout", "rollout", "current", "rollout"]
    assert sum(h["counted"] for h in row["history"]) == row["changes"] == 3


def test_a_record_changed_more_often_than_its_history_lists_names_every_tool(
    db_url: str,
) -> None:
    """60 counted changes, 10 of them by another integration before the latest 50: `by` and
    `integrations` name both (they came from the history, the latest 50 only), and the text
    says how many changes it does not print (it said 40 where 50 were left out)."""
    wins = {"ownership": {"default": "integration_wins"}}
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings(**wins), "seq": settings(**wins)}))
        at = lambda n: f"2026-11-05T{n // 60:02d}:{n % 60:02d}:00Z"  # noqa: E731
        ws.ingest("dialer", [contact_line("p-1", "u-1", at(0))])
        ws.ingest("seq", [contact_line("p-1", ("u-9", "u-1")[n % 2], at(1 + n)) for n in range(10)])
        ws.ingest(
            "dialer", [contact_line("p-1", ("u-9", "u-1")[n % 2], at(20 + n)) for n in range(50)]
        )
        report = ws.report(FIXED_SINCE)
    [row] = [f for f in report.findings if f.check == "owner_flapping"][0].rows
    assert row["changes"] == 60 and len(row["history"]) == 50
    assert row["integrations"] == ["dialer", "seq"] and row["by"] == ["dialer", "seq"]
    assert row["history_total"] == 61  # the first owner too, listed but not counted
    shown = CliRunner().invoke(app, ["report", "--since", FIXED_SINCE], env={"LEADSYNC_DB": db_url})
    assert "… 51 earlier (--json, or the records show line)" in shown.stdout


def test_unowned_new_contacts_no_decision_was_made_for_say_why(workspace: Workspace) -> None:
    """A contact only named by another event (a placeholder) and one created for a call's
    unknown number have no decision: each says why it has no owner."""
    setup(workspace, region="GB", unknown_counterpart={"policy": "create"})
    call = {
        "activity": "call",
        "external_id": "c-1",
        "owner": "u-1",
        "properties": {"duration_s": 60, "to_number": "+447700900123", "direction": "outbound"},
    }
    workspace.ingest(
        "dialer",
        [
            json.dumps(ev("activity", TODAY, **call)),
            activity("note", "n-1", "ghost", TODAY, body="named only here"),
        ],
    )
    unowned = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in unowned.rows if "records" in r}
    assert groups == {
        ("dialer", "only named by another event (its own event has not come)"): 1,
        ("dialer", "created for a call's unknown number (unknown_counterpart: create)"): 1,
    }
    # Each record says its own why (the groups alone did not tell which is which).
    records = {
        (r["record"]["type"], r["created_by"], r["why_no_owner"])
        for r in unowned.rows
        if "record" in r
    }
    assert records == {("contact", "dialer", why) for _, why in groups}
    assert unowned.summary.startswith(
        "2 contacts or leads created since 2026-11-03T12:00:00Z still have no owner"
    )


def test_a_placeholders_own_event_without_an_owner_is_decided_and_says_why(
    workspace: Workspace,
) -> None:
    """A contact a note named first (a placeholder) whose own event then names no owner is
    new as of that event: it gets the decision a new contact without an owner gets — it had
    none, and the report said "no decision was made" for it."""
    setup(workspace)
    own = ev("record", TODAY, object="contact", external_id="ghost",
             properties={"email": "ghost@globex.test"})  # fmt: skip
    workspace.ingest(
        "dialer", [activity("note", "n-1", "ghost", TODAY, body="named first"), json.dumps(own)]
    )
    [ghost] = workspace.find(external="dialer:ghost")
    [decision] = workspace.record("contact", ghost["id"])["owner_history"]
    assert (decision["outcome"], decision["event_id"]) == ("ignored", own["id"])
    assert decision["reason"].startswith(
        "ignored: the event names no owner, so the new contact has no owner"
    )
    unowned = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in unowned.rows if "records" in r}
    assert groups == {("dialer", "no owner in the event"): 1}


def _hubspot(subscription: str, event_id: int, object_id: int, at_ms: int, **more: Any) -> dict:
    return {
        "eventId": event_id,
        "subscriptionId": 7,
        "occurredAt": at_ms,
        "subscriptionType": subscription,
        "objectId": object_id,
        **more,
    }


def test_crm_records_first_seen_by_a_change_are_not_new_leads(workspace: Workspace) -> None:
    """The CRM names only records it has: a contact first seen through a link, a merge, a
    property or an owner change is one HubSpot had all along (its owner was never told to
    leadsync), not a new lead nobody owns. One HubSpot says it made (``creation``) without an
    owner is, whether its creation comes before or after another event of it."""
    setup_monitored(
        workspace,
        {"unowned_after_minutes": 0},
        {"dialer": settings(), "crm": {"kind": "hubspot"}},
    )
    at = 1_794_301_200_000  # 2026-11-10T09:00:00Z, inside the window
    link = {
        "associationType": "CONTACT_TO_COMPANY",
        "fromObjectId": 501,
        "toObjectId": 901,
        "associationRemoved": False,
        "isPrimaryAssociation": True,
    }
    events = [
        _hubspot("contact.associationChange", 1, 501, at, **link),  # 501 and company 901
        _hubspot("contact.merge", 2, 502, at, primaryObjectId=502, mergedObjectIds=[503]),
        _hubspot("contact.propertyChange", 3, 504, at, propertyName="firstname", propertyValue="A"),
        _hubspot("contact.creation", 4, 505, at),  # made in HubSpot, no owner said
        _hubspot("contact.propertyChange", 5, 506, at + 1000, propertyName="firstname",
                 propertyValue="B"),
        _hubspot("contact.creation", 6, 506, at),  # made: arrives after its change
        _hubspot("contact.creation", 8, 507, at),
        _hubspot("contact.associationChange", 9, 507, at + 1000,
                 **{**link, "fromObjectId": 507, "toObjectId": 902}),
    ]  # fmt: skip
    summary = workspace.ingest("crm", [json.dumps([e]) for e in events])
    assert summary.dead_letter_count == 0, summary.dead_letters
    unowned = alerts(workspace)["unowned_new_leads"]
    shown = {r["record"]["id"] for r in unowned.rows if "record" in r}
    made = {workspace.find(external=f"crm:{n}")[0]["id"] for n in (505, 506, 507)}
    assert shown == made
    assert unowned.summary.startswith("3 contacts or leads created since")


def test_an_unmapped_user_says_when_it_was_last_seen(workspace: Workspace) -> None:
    """Its events are every event it has sent (counted since leadsync first saw it), so the
    row says when it was last seen, in the window."""
    setup(workspace, users={"unmapped": {"policy": "leave"}})
    old = [contact_line(f"o-{n}", "u-404", "2026-10-01T09:00:00Z") for n in range(3)]
    workspace.ingest("dialer", [*old, contact_line("p-1", "u-404", TODAY)])
    [row] = alerts(workspace)["unmapped_external_users"].rows
    assert (row["events"], row["last_seen"]) == (4, "2026-11-10T09:00:00Z")


def test_a_test_leads_call_not_created_is_left_out(workspace: Workspace) -> None:
    """With calls disabled, the test lead's call is not created and passes with a note; the
    report counts the real call not created, not the test's."""
    setup(workspace, activities={"call": {"enabled": False}})
    real = activity("call", "c-1", "p-1", TODAY, duration_s=60)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), real])
    assert workspace.test_lead("dialer", "u-1", at="2026-11-10T10:00:00.000Z").passed
    finding = findings(workspace)["activities_not_created"]
    assert finding.rows == [
        {
            "integration": "dialer",
            "type": "call",
            "reason": "call activities are disabled",
            "activities": 1,
        }
    ]
    assert finding.summary.startswith("1 activity received but not created")


def test_a_call_skipped_for_two_reasons_counts_once_under_its_latest(
    workspace: Workspace,
) -> None:
    """Skipped as too short, then (its later event: 30 s now) as busy: one call not created,
    listed as busy — not once under each reason (the rows added up to two under a total of
    one, one of them a reason that no longer stood), and a rollout counts it once too."""
    setup(workspace)
    short = activity("call", "c-9", "p-1", TODAY, duration_s=5, outcome="connected")
    busy = activity("call", "c-9", "p-1", TODAY, duration_s=30, outcome="busy")
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY), short, busy])
    finding = {f.check: f for f in workspace.report(SINCE, NOW).findings}["activities_not_created"]
    assert finding.summary.startswith("1 activity received but not created")
    [row] = finding.rows
    assert row["activities"] == 1 and "busy" in row["reason"], finding.rows


def test_dead_letters_from_before_the_window_are_said_not_hidden(workspace: Workspace) -> None:
    """A report since a time after an open dead letter arrived said "0 unresolved dead
    letters": a daily report went quiet about a letter nobody fixed. It counts the window's
    and says how many are open in all."""
    from leadsync.model import add_days, now_ts

    setup(workspace)
    workspace.ingest("dialer", ["{not json"])
    since = add_days(now_ts(), 1 / 86_400)
    finding = {f.check: f for f in workspace.report(since, add_days(since, 1)).findings}
    summary = finding["dead_letters"].summary
    assert summary.startswith("0 unresolved dead letters received since ")
    assert "(1 open in all)" in summary


def test_skips_a_staged_rollout_made_are_marked_as_the_rollouts(workspace: Workspace) -> None:
    """The current settings take every call; a rollout to every record would skip those
    under 30 s. The report said "shorter than min_duration_s (30 s)" as if it were the
    current rule; activities skipped and decisions list mark such lines [rollout]."""
    proposed = {"activities": {"call": {"min_duration_s": 30}}}
    setup(workspace, rollout={"percent": 100, "settings": proposed})
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY)])
    workspace.ingest("dialer", [activity("call", "c-1", "p-1", TODAY, duration_s=20)])
    rows = findings(workspace)["activities_not_created"].rows
    assert [r["reason"] for r in rows] == ["shorter than min_duration_s (30 s) [rollout]"]


def test_an_owner_a_person_cleared_and_its_protection_kept_says_so(workspace: Workspace) -> None:
    """A person cleared the owner in the CRM; a tool's later event was kept out by the
    protection ("kept no owner: a person cleared the owner in the CRM …"): the report said
    "other (see the decision)" (found by a probe)."""
    setup(workspace, users={"map": {"u-1": "101"}, "unmapped": {"policy": "leave"}})
    workspace.ingest("dialer", [contact_line("p-1", "u-1", TODAY)])
    [p1] = workspace.find(external="dialer:p-1")
    workspace.set_owner("contact", p1["id"], None, at="2026-11-10T09:05:00Z")
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-10T09:10:00Z")])
    history = workspace.record("contact", p1["id"])["owner_history"]
    assert history[-1]["reason"].startswith("kept no owner: a person cleared the owner")
    unowned = alerts(workspace)["unowned_new_leads"]
    groups = {(r["integration"], r["why"]): r["records"] for r in unowned.rows if "records" in r}
    assert groups == {("dialer", "owner cleared in the CRM"): 1}
