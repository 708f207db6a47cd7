"""The test lead: sent through the engine, checked against the settings, left out of the
report, removed by cleanup (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble, serving
from leadsync.errors import NotFoundError
from leadsync.settings import load_config
from leadsync.store import batch as store
from leadsync.store.schema import activity_memory, counters
from leadsync.workspace import Workspace
from tests.helpers import (
    HUBSPOT_TOKEN,
    OWNERS,
    contact_line,
    ev,
    run,
    settings,
    setup,
    snapshot,
    workspace_config,
)

AT = "2026-11-10T09:00:00.000Z"
FIXTURES = Path(__file__).parent / "fixtures"


def test_a_mapped_rep_passes(workspace: Workspace) -> None:
    setup(workspace)
    result = workspace.test_lead("dialer", "u-1", at=AT)
    assert result.passed, result.checks
    owner, call = result.checks
    assert owner["check"] == "owner" and "owner 101; expected 101" in owner["detail"]
    assert call["check"] == "call" and f"contact {result.record_id}" in call["detail"]


def test_a_rep_mapped_by_an_email_learned_from_earlier_events_passes(
    workspace: Workspace,
) -> None:
    # u-5 is in neither the map nor the directory; an earlier event carried its email, so
    # the engine maps it by email (not to the fallback owner).
    setup(workspace, users={"unmapped": {"policy": "fallback", "owner": "104"}})
    run(
        workspace,
        ev(
            "record",
            object="contact",
            external_id="p-1",
            properties={"email": "kim@globex.test"},
            owner={"id": "u-5", "email": "bo@acme.test"},
        ),
    )
    result = workspace.test_lead("dialer", "u-5", at=AT)
    assert result.passed, result.checks
    assert result.owner_id == "102"
    [owner] = [c for c in result.checks if c["check"] == "owner"]
    assert "owner 102; expected 102" in owner["detail"] and "bo@acme.test" in owner["detail"]
    assert "note" not in owner  # a rep the integration has sent events of


def test_a_rep_nobody_knows_passes_with_a_note_that_it_may_be_mistyped(
    workspace: Workspace,
) -> None:
    setup(workspace)  # unmapped reps: leave
    result = workspace.test_lead("dialer", "u-nobdy", at=AT)
    assert result.passed, result.checks  # the unmapped policy does what it says
    owner = result.checks[0]
    assert owner["check"] == "owner" and owner["note"] == (
        "dialer has never sent an event of rep 'u-nobdy', and neither its map nor its "
        "directory names it: the test ran it as a rep nobody knows (mistyped?)"
    )
    assert "note" not in workspace.test_lead("dialer", "u-1", at=AT).checks[0]  # in the map


def test_a_rep_that_sent_events_and_maps_to_nobody_now_passes_with_a_note(
    workspace: Workspace,
) -> None:
    """u-1 mapped to 101 and sent events; its map entry removed, its test lead passes on
    the unmapped policy's owner — said, since that may be the mistake (it passed silently)."""
    leave = {"auto_match": "none", "map": {"u-1": "101"}, "unmapped": {"policy": "leave"}}
    workspace.apply_config(workspace_config({"dialer": settings(users=leave)}))
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z")])
    assert "note" not in workspace.test_lead("dialer", "u-1", at=AT).checks[0]
    workspace.cleanup_test_leads()
    removed = {**leave, "map": {}}
    workspace.apply_config(workspace_config({"dialer": settings(users=removed)}))
    result = workspace.test_lead("dialer", "u-1", at=AT)
    assert result.passed, result.checks  # the unmapped policy does what it says
    assert result.checks[0]["note"] == (
        "dialer has sent events of rep 'u-1' before, and it maps to no owner (the unmapped "
        "policy decides): if it should have one, map it (users.map) or give an owner its email"
    )


def test_a_test_lead_in_a_rollout_expects_the_proposed_mapping(workspace: Workspace) -> None:
    setup(workspace, rollout={"percent": 100, "settings": {"users": {"map": {"u-1": "104"}}}})
    result = workspace.test_lead("dialer", "u-1", at=AT)
    assert result.owner_id == "104"
    assert result.passed, result.checks
    owner, call = result.checks
    assert owner["detail"] == (
        "owner 104; expected 104: rep u-1 maps to 104 by the explicit map (under the "
        "rollout's settings: the test lead is in its sample)"
    )
    assert call["detail"].endswith("(under the rollout's settings: the test lead is in its sample)")


def test_a_test_lead_outside_a_rollout_says_nothing_of_it(workspace: Workspace) -> None:
    setup(workspace, rollout={"percent": 0.001, "settings": {"users": {"map": {"u-1": "104"}}}})
    result = workspace.test_lead("dialer", "u-1", at=AT)
    assert result.owner_id == "101" and result.passed, result.checks
    assert not any("rollout" in check["detail"] for check in result.checks)


def test_a_round_robin_rep_expects_the_owner_whose_turn_it_is(workspace: Workspace) -> None:
    setup(workspace)  # unmapped reps: team sdr (101, 102) in turn
    run(workspace, json.loads(contact_line("p-1", "u-7")))  # 101 took the first turn
    result = workspace.test_lead("dialer", "u-8", at=AT)
    assert result.passed, result.checks
    [owner] = [c for c in result.checks if c["check"] == "owner"]
    assert "owner 102; expected 102" in owner["detail"]


@pytest.mark.parametrize(
    ("calls", "why"),
    [
        ({"enabled": False}, "call activities are disabled for dialer"),
        ({"enabled": True, "min_duration_s": 300}, "shorter than min_duration_s 300 s"),
        ({"enabled": True, "skip_outcomes": ["connected"]}, "outcome connected is in skip"),
    ],
)
def test_a_call_the_settings_skip_passes_with_a_note(
    workspace: Workspace, calls: dict[str, Any], why: str
) -> None:
    setup(workspace, activities={"call": calls})
    result = workspace.test_lead("dialer", "u-1", at=AT)
    assert result.passed, result.checks
    [call] = [c for c in result.checks if c["check"] == "call"]
    assert call["passed"] and why in call["detail"] and "as the settings say" in call["detail"]
    assert why in call["note"]
    assert result.activity_id is None


def test_test_leads_stay_out_of_the_report_and_cleanup_removes_them(
    workspace: Workspace,
) -> None:
    setup(workspace, users={"unmapped": {"policy": "leave"}})
    result = workspace.test_lead("dialer", "u-404", at=AT)
    assert result.passed  # leave: no owner is what the settings promise
    report = workspace.report("2026-11-01T00:00:00.000Z", "2026-11-10T12:00:00.000Z")
    assert "unowned_new_leads" not in {f.check for f in report.alerts}
    assert workspace.cleanup_test_leads() == {"records": 1, "activities": 1, "archived": 0}
    assert result.record_id is not None
    with pytest.raises(NotFoundError):
        workspace.record("contact", result.record_id)
    assert workspace.cleanup_test_leads() == {"records": 0, "activities": 0, "archived": 0}


def test_cleanup_of_one_integration_leaves_the_others_test_leads(workspace: Workspace) -> None:
    """`test-lead phone --cleanup` removed every integration's test leads."""
    leave = {"unmapped": {"policy": "leave"}}
    workspace.apply_config(
        workspace_config({"dialer": settings(users=leave), "seq": settings(users=leave)})
    )
    dialer = workspace.test_lead("dialer", "u-404", at=AT)
    seq = workspace.test_lead("seq", "u-404", at="2026-11-10T10:00:00.000Z")
    assert workspace.cleanup_test_leads("dialer") == {"records": 1, "activities": 1, "archived": 0}
    assert dialer.record_id is not None and seq.record_id is not None
    with pytest.raises(NotFoundError):
        workspace.record("contact", dialer.record_id)
    assert workspace.record("contact", seq.record_id)["id"] == seq.record_id
    assert [a["integration"] for a in workspace.activities()] == ["seq"]
    assert workspace.cleanup_test_leads() == {"records": 1, "activities": 1, "archived": 0}


def test_cleanups_one_integration_at_a_time_put_back_what_each_test_changed(
    workspace: Workspace,
) -> None:
    """A cleanup of one integration's tests forgot what every other test had changed: the
    dialer's round robin turn and its rep's count stayed taken after its own cleanup."""
    rr = settings()  # unmapped reps: team sdr in turn
    workspace.apply_config(workspace_config({"dialer": rr, "seq": settings()}))
    workspace.ingest("dialer", [contact_line("p-1", "u-7", "2026-11-01T09:00:00Z")])
    before = _without_id_counters(workspace)
    users = workspace.external_users("dialer")
    assert workspace.test_lead("dialer", "u-7", at=AT).passed  # a round robin turn
    assert workspace.test_lead("seq", "u-1", at="2026-11-10T10:00:00.000Z").passed
    assert workspace.cleanup_test_leads("seq") == {"records": 1, "activities": 1, "archived": 0}
    assert workspace.cleanup_test_leads("dialer") == {"records": 1, "activities": 1, "archived": 0}
    assert _without_id_counters(workspace) == before
    assert workspace.external_users("dialer") == users


def _without_id_counters(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """The decided state; the id counters are left out (ids are never given out twice)."""
    state = snapshot(ws)
    ids = {json.dumps(store.RECORD_ID), json.dumps(store.ACTIVITY_ID)}
    state["counters"] = [row for row in state["counters"] if row[0] not in ids]
    return state


def test_cleanup_puts_back_the_round_robin_turn_and_the_external_users(
    workspace: Workspace,
) -> None:
    setup(workspace)  # unmapped reps: team sdr in turn
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-7", "2026-11-01T09:00:00Z"),
            contact_line("p-2", "u-1", "2026-11-02T09:00:00Z"),
        ],
    )
    before = _without_id_counters(workspace)
    users = workspace.external_users("dialer")
    # u-7 takes a round-robin turn; u-new is an external user nobody had seen.
    assert workspace.test_lead("dialer", "u-7", at=AT).passed
    assert workspace.test_lead("dialer", "u-new", at="2026-11-10T09:30:00.000Z").passed
    assert workspace.test_lead("dialer", "u-1", at="2026-11-10T10:00:00.000Z").passed
    assert _without_id_counters(workspace) != before
    assert workspace.cleanup_test_leads() == {"records": 3, "activities": 3, "archived": 0}
    assert _without_id_counters(workspace) == before
    assert workspace.external_users("dialer") == users
    with workspace.engine.connect() as connection:
        assert connection.execute(sa.select(activity_memory)).all() == []
    # The next unmapped rep gets the owner whose turn it was before the test.
    run(workspace, json.loads(contact_line("p-3", "u-8", "2026-11-11T09:00:00Z")))
    [found] = workspace.find(external="dialer:p-3")
    assert found["owner_id"] == "102"


def test_cleanup_keeps_what_real_events_changed_after_the_test(workspace: Workspace) -> None:
    setup(workspace)
    workspace.test_lead("dialer", "u-7", at=AT)  # the round robin turns: 101
    run(workspace, json.loads(contact_line("p-1", "u-7", "2026-11-11T09:00:00Z")))  # 102
    workspace.cleanup_test_leads()
    with workspace.engine.connect() as connection:
        turns = dict(connection.execute(sa.select(counters.c.name, counters.c.value)).all())
    # A real event took a turn after the test's: the test's is not given back (102 would
    # then get the next turn too, two in a row); the turns go on 101, 102, 101 ...
    assert turns["rr:dialer:sdr"] == 2
    [u7] = [u for u in workspace.external_users("dialer") if u["id"] == "u-7"]
    assert u7["events"] == 1 and u7["last_seen_at"] == "2026-11-11T09:00:00.000Z"
    run(workspace, json.loads(contact_line("p-2", "u-7", "2026-11-11T10:00:00Z")))
    [found] = workspace.find(external="dialer:p-2")
    assert found["owner_id"] == "101"


def test_the_cli_passes_a_disabled_call_with_a_note(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(
            workspace_config({"dialer": settings(activities={"call": {"enabled": False}})})
        )
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    passed = runner.invoke(app, ["test-lead", "dialer", "--rep", "u-1"], env=env)
    assert passed.exit_code == 0, passed.output
    assert "pass call:" in passed.stdout and "note: " in passed.stdout
    assert "call activities are disabled for dialer" in passed.stdout
    cleaned = runner.invoke(app, ["test-lead", "--cleanup"], env=env)
    assert cleaned.exit_code == 0 and "removed 1 test record" in cleaned.stdout


def test_the_cli_exits_1_on_a_failed_check(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    with serving(hub) as base_url:
        _hubspot_workspace(db_url, base_url)
        hub.set_faults(partial_207_rate=1.0)  # HubSpot refuses every input
        runner = CliRunner()
        env = {"LEADSYNC_DB": db_url}
        failed = runner.invoke(app, ["test-lead", "dialer", "--rep", "u-1", "--json"], env=env)
        cleaned = runner.invoke(app, ["test-lead", "--cleanup"], env=env)
    # HubSpot refused them: nothing of them is in HubSpot to archive, and none is said.
    assert cleaned.stdout == "removed 1 test record and 1 test activity\n"
    assert failed.exit_code == 1, failed.output
    out = json.loads(failed.stdout)
    assert out["passed"] is False
    [hubspot] = [c for c in out["checks"] if c["check"] == "hubspot_owner"]
    assert not hubspot["passed"] and hubspot["detail"].startswith("HubSpot refused the test lead: ")


CRM = {"kind": "hubspot", "secret_env": "HS_SECRET", "vendor": {"app_id": 777}}


def test_a_test_lead_from_the_crm_expects_the_crm_change_and_no_call(db_url: str) -> None:
    """A hubspot integration is the CRM: its owner ids are owner ids, and the engine takes
    its events as changes made in the CRM and creates none of its activities. The test lead
    expects that (the engine's own rule), and passes."""
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings(), "hubspot": CRM}))
        result = ws.test_lead("hubspot", "101", at=AT)
        assert result.passed, result.checks
        owner, call = result.checks
        assert owner == {
            "check": "owner",
            "passed": True,
            "detail": "owner 101; expected 101: set 101: the owner was changed in the CRM "
            "(hubspot; was no owner)",
        }
        assert call["passed"] and "the CRM keeps its own timeline" in call["detail"]
        assert "hubspot is the CRM" in call["note"] and "test an integration" in call["note"]
        assert result.activity_id is None
        # An owner id nobody has is taken (and flagged) as the engine takes it: a note.
        unknown = ws.test_lead("hubspot", "999", at="2026-11-10T09:30:00.000Z")
        assert unknown.passed and unknown.owner_id == "999"
        assert "'999' is none of the workspace's owners" in unknown.checks[0]["note"]
        assert ws.cleanup_test_leads() == {"records": 2, "activities": 0, "archived": 0}
    runner = CliRunner()
    shown = runner.invoke(
        app, ["test-lead", "hubspot", "--rep", "101"], env={"LEADSYNC_DB": db_url}
    )
    assert shown.exit_code == 0, shown.output
    assert "pass owner: owner 101; expected 101" in shown.stdout
    assert "pass call: the call was not created" in shown.stdout


SALESFORCE = {"kind": "salesforce", "vendor": {"organization_id": "00D5g000004Xyz1"}}
REP_18 = "0055g00000XyZaBAAV"  # as Salesforce's events name the rep
REP_2_18 = "0055g00000XyZaCAAV"


def test_a_salesforce_rep_given_in_15_characters_is_the_18_character_one(db_url: str) -> None:
    """``--rep`` copied from Salesforce's UI (15 characters) is the rep its events name in 18,
    as users.map and the directory take it: no "never sent an event" note, and the test's
    events (the lead and the call) are counted on that rep, not on a new one. A rep the
    directory lists in 15 characters, given in 18, is named by it: no note either."""
    directory = [{"id": REP_2_18[:15], "email": "bo@acme.test"}]
    with Workspace(db_url) as ws:
        ws.apply_config(
            workspace_config({"salesforce": {**SALESFORCE, "users": {"directory": directory}}})
        )
        raw = (FIXTURES / "webhooks" / "salesforce" / "cdc_create_lead.json").read_text()
        ws.ingest("salesforce", [json.dumps(json.loads(raw))])  # an event of REP_18
        result = ws.test_lead("salesforce", REP_18[:15], at=AT)
        assert result.passed, result.checks
        owner = result.checks[0]
        assert "never sent" not in owner.get("note", ""), owner  # known: it sent events
        assert owner["detail"].startswith(f"owner none; expected no owner: rep {REP_18} ")
        events = [(u["id"], u["events"]) for u in ws.external_users("salesforce")]
        assert (REP_18, 3) in events and REP_18[:15] not in dict(events)  # the lead and call
        listed = ws.test_lead("salesforce", REP_2_18, at="2026-11-10T09:30:00.000Z")
        assert listed.passed and listed.owner_id == "102", listed.checks
        assert "note" not in listed.checks[0], listed.checks[0]
        ws.cleanup_test_leads()
        events = [(u["id"], u["events"]) for u in ws.external_users("salesforce")]
        assert sorted(events) == [(REP_18, 1), (REP_2_18, 0)]  # REP_2: the directory's


def _hubspot_workspace(db_url: str, base_url: str) -> None:
    doc = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {"dialer": settings()},
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN", "base_url": base_url},
    }
    with Workspace(db_url) as ws:
        ws.apply_config(load_config(json.dumps(doc), "test.yaml"))
        ws.hubspot_setup()


def test_cleanup_forgets_the_tests_pushes_and_refusals(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HubSpot refused the test lead and its call: after cleanup neither the refusals nor the
    changes queued for them are left to alert in the report for objects that are gone."""
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    with serving(hub) as base_url:
        _hubspot_workspace(db_url, base_url)
        hub.set_faults(partial_207_rate=1.0)  # HubSpot refuses every input
        with Workspace(db_url) as ws:
            refused = ws.test_lead("dialer", "u-1")
            assert not refused.passed
            assert ws.push_failures()
            # It says HubSpot's refusal and the failure (it said "not pushed: see push status").
            [check] = [c for c in refused.checks if c["check"] == "hubspot_owner"]
            [failure] = [
                f
                for f in ws.push_failures()
                if (f["kind"], f["local_id"]) == ("record", refused.record_id)
            ]
            assert check["detail"] == (
                f"HubSpot refused the test lead: {failure['message']} (push failure "
                f"#{failure['id']})"
            )
            run(ws, json.loads(contact_line("p-1", "u-1")))
            ws.cleanup_test_leads()
            assert ws.push_failures() == []
            queued = ws.push_status()["queued_total"]
            assert queued == 1  # the real contact's, only
            checks = {f.check for f in ws.report("2026-01-01T00:00:00Z").alerts}
            assert "push_failures" not in checks


def test_a_test_lead_without_the_destinations_token_writes_nothing(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    with serving(hub) as base_url:
        _hubspot_workspace(db_url, base_url)
    monkeypatch.delenv("HS_TEST_TOKEN")
    with Workspace(db_url) as ws:
        before = snapshot(ws)
    failed = CliRunner().invoke(app, ["--db", db_url, "test-lead", "dialer", "--rep", "u-1"])
    assert failed.exit_code == 2, failed.output
    assert "HS_TEST_TOKEN" in failed.stderr
    with Workspace(db_url) as ws:
        assert snapshot(ws) == before  # nothing half-applied


def test_cleanup_closes_the_questions_the_test_opened(workspace: Workspace) -> None:
    """The test's rep has an email two active owners share: a question in the review queue,
    which the cleanup takes away with the test's events."""
    doc = {
        "owners": [*copy.deepcopy(OWNERS), {**OWNERS[0], "id": "109"}],  # ana@ twice
        "teams": {"sdr": ["101", "102"]},
        "integrations": {"dialer": settings()},
    }
    workspace.apply_config(load_config(json.dumps(doc), "test.yaml"))
    result = workspace.test_lead("dialer", "u-1", at=AT)
    assert [i.kind for i in workspace.review_items().items] == ["owner"], result.checks
    workspace.cleanup_test_leads()
    assert workspace.review_items().items == []


@pytest.mark.parametrize(
    ("rep", "said"), [("", "is empty"), ("   ", "is empty"), ("x" * 300, "has 300 characters")]
)
def test_an_empty_or_too_long_rep_is_named_with_what_is_allowed(
    db_url: str, rep: str, said: str
) -> None:
    with Workspace(db_url) as ws:
        setup(ws)
    failed = CliRunner().invoke(app, ["--db", db_url, "test-lead", "dialer", "--rep", rep])
    assert failed.exit_code == 2, failed.output
    assert f"the rep {said}; allowed: the id of a rep" in " ".join(failed.stderr.split())


# ------------------------------------------------------------------ as the kind's events do

WEBHOOKS = FIXTURES / "webhooks"


def _real(ws: Workspace, integration: str, kind: str, name: str, email: str) -> dict[str, Any]:
    """The contact a body of the kind's own shape makes, as the engine leaves it."""
    body = json.loads((WEBHOOKS / kind / f"{name}.json").read_text())["body"]
    summary = ws.ingest(integration, [json.dumps(body)], source=f"{name}.jsonl")
    assert summary.dead_letter_count == 0
    [contact] = ws.find(email=email)
    return contact


@pytest.mark.parametrize("assign", [False, True])
def test_an_aircall_test_lead_expects_the_owner_aircalls_own_calls_give(
    workspace: Workspace, assign: bool
) -> None:
    """Aircall's contacts name no owner: its rep reaches a contact by a call, which fills an
    empty owner only with ``assign_on_activity``. The test lead is made as Aircall's events
    make a lead, and expects what a real call does: no owner (with a note saying every new
    contact stays unowned), or the mapped rep's owner. It had sent a contact owned by the
    rep, which no Aircall event does, and passed "owner 101" where real calls left every
    contact without one."""
    phone = {
        "kind": "aircall",
        "users": {"map": {"4411": "101"}},
        "ownership": {"assign_on_activity": assign},
    }
    workspace.apply_config(workspace_config({"phone": phone}))
    real = _real(workspace, "phone", "aircall", "call.ended", "kim.lee@globex.test")
    result = workspace.test_lead("phone", "4411", at=AT)
    owner, call = result.checks
    assert owner["passed"] and call["passed"] and call["check"] == "call"
    assert real["owner_id"] == ("101" if assign else None)
    assert result.owner_id == real["owner_id"]
    if assign:
        assert "owner 101; expected 101" in owner["detail"]
        assert "assign_on_activity" in owner["detail"] and "note" not in owner
    else:
        assert "owner none; expected no owner" in owner["detail"]
        assert "stays without an owner" in owner["note"]


def test_a_calendly_test_lead_books_a_meeting_as_its_hosts_do(workspace: Workspace) -> None:
    """A scheduler logs meetings, not calls: the test lead's activity is a meeting on the
    lead (the check named so), and the owner is what the host's meeting gives."""
    host = "https://api.calendly.com/users/HOST0000000000001"
    cal = {
        "kind": "calendly",
        "users": {"map": {host: "102"}},
        "ownership": {"assign_on_activity": True},
    }
    workspace.apply_config(workspace_config({"cal": cal}))
    real = _real(workspace, "cal", "calendly", "invitee.created", "kim.lee@globex.test")
    result = workspace.test_lead("cal", host, at=AT)
    assert result.passed, result.checks
    owner, meeting = result.checks
    assert meeting["check"] == "meeting"
    assert (
        meeting["detail"].startswith("meeting ")
        and f"contact {result.record_id}" in (meeting["detail"])
    )
    assert real["owner_id"] == result.owner_id == "102"
