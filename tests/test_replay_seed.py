"""A replay's scratch workspaces start from what the workspace knows beside its settings: the
owners pulled from HubSpot (the settings name them: the replay, and so the console's preview
and save, refused every change: "unknown owner '30000001'"), and for a replay since a time,
the reps as they were known then (a rep whose email came before the window mapped to nobody,
so the preview predicted owner changes that never happen)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.settings import IntegrationSettings, load_config
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import ev, run
from tests.helpers import settings as integration_settings


def _dialer(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "generic",
        "users": {"auto_match": "email", "map": {"u-9": "30000002"}},
        "ownership": {"default": "fill_if_empty"},
        **extra,
    }


def test_a_replay_of_a_workspace_whose_owners_come_from_hubspot(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    hub.add_owner("ana@acme.test", "Ana", "Ng", owner_id="30000001", teams=["sdr"])
    hub.add_owner("bo@acme.test", "Bo", "Li", owner_id="30000002", teams=["sdr"])
    doc: dict[str, Any] = {
        "owners": {"source": "hubspot"},
        "integrations": {"dialer": {"kind": "generic"}},
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    with Workspace(db_url, hubspot_transport=hub.transport()) as ws:
        ws.apply_config(load_config(json.dumps(doc), "t.yaml"))
        ws.pull_owners()
        doc["teams"] = {"closers": ["30000001", "30000002"]}
        doc["integrations"]["dialer"] = _dialer()
        ws.apply_config(load_config(json.dumps(doc), "t.yaml"))
        run(ws, ev("record", object="contact", external_id="p-1", owner="u-9",
                   properties={"email": "kim@globex.test"}))  # fmt: skip
        proposed = IntegrationSettings.model_validate(
            _dialer(ownership={"default": "integration_wins"}, users={"map": {"u-9": "30000001"}})
        )
        result = ws.replay("dialer", proposed)
    assert result.events == 1
    [change] = result.owner_changes
    assert (change["current_owner_id"], change["proposed_owner_id"]) == ("30000002", "30000001")


def test_a_replay_since_a_time_knows_the_reps_learned_before_it(workspace: Workspace) -> None:
    doc = {
        "owners": [
            {"id": "101", "email": "ana@acme.test"},
            {"id": "102", "email": "bo@acme.test"},
        ],
        "integrations": {"dialer": _dialer(users={"auto_match": "email"})},
    }
    workspace.apply_config(load_config(json.dumps(doc), "t.yaml"))
    # Before the window: rep u-2 tells its email (bo@acme.test maps it to 102).
    run(workspace, ev("record", "2026-10-01T09:00:00Z", object="contact", external_id="p-0",
                      owner={"id": "u-2", "email": "bo@acme.test"},
                      properties={"email": "old@globex.test"}))  # fmt: skip
    # In the window: u-2's contact, named by id alone.
    run(workspace, ev("record", "2026-11-01T09:00:00Z", object="contact", external_id="p-1",
                      owner="u-2", properties={"email": "kim@globex.test"}))  # fmt: skip
    assert workspace.find(external="dialer:p-1")[0]["owner_id"] == "102"
    same = IntegrationSettings.model_validate(_dialer(users={"auto_match": "email"}))
    rows: list[dict[str, Any]] = []
    result = workspace.replay(
        "dialer", same, since="2026-10-15T00:00:00Z", on_difference=rows.append
    )
    assert result.events == 1 and result.owner_changes == [] and rows == []
    # A fallback owner for unmapped reps changes nothing for u-2, mapped by its email: the
    # replay predicted p-1 going to the fallback owner, as if u-2 mapped to nobody.
    fallback = IntegrationSettings.model_validate(
        _dialer(users={"auto_match": "email", "unmapped": {"policy": "fallback", "owner": "101"}})
    )
    assert workspace.replay("dialer", fallback, since="2026-10-15T00:00:00Z").owner_changes == []
    # Over the whole history the same (u-2's email is in it).
    assert workspace.replay("dialer", fallback).owner_changes == []


def test_a_side_that_made_no_owner_decision_says_so_in_words(workspace: Workspace) -> None:
    """A note by a mapped rep on a new contact: with ``assign_on_activity`` the contact gets
    the rep's owner; without it nothing gives the contact one — the replay printed that
    side's reason as ``None`` (an empty cell in CSV)."""
    doc = {
        "owners": [{"id": "101", "email": "ana@acme.test"}],
        "integrations": {
            "dialer": {
                "kind": "generic",
                "users": {"map": {"u-1": "101"}},
                "ownership": {"assign_on_activity": True},
            }
        },
    }
    workspace.apply_config(load_config(json.dumps(doc), "t.yaml"))
    run(workspace, ev("activity", activity="note", external_id="n-1", owner="u-1",
                      properties={"body": "hi"},
                      associations=[{"object": "contact", "email": "kim@globex.test"}]))  # fmt: skip
    off = IntegrationSettings.model_validate(
        {
            "kind": "generic",
            "users": {"map": {"u-1": "101"}},
            "ownership": {"assign_on_activity": False},
        }
    )
    rows: list[dict[str, Any]] = []
    result = workspace.replay("dialer", off, on_difference=rows.append)
    [change] = result.owner_changes
    assert change["current_reason"] and "None" not in change["current_reason"]
    assert change["proposed_reason"] == (
        "no owner decision: nothing under these settings gave the record an owner"
    )
    [row] = [r for r in rows if r["difference"] == "owner"]
    assert row["proposed_reason"] == change["proposed_reason"]


def test_a_replay_says_what_people_did_that_it_does_not_replay(tmp_path: Path, db_url: str) -> None:
    # A person's owner change, an undo and a review answer are no tool's event: neither run
    # replays them, so the current run's owners can differ from the records' own. The replay
    # counts them (since --since's time too) and the CLI says so; a workspace where people
    # did nothing says nothing of it.
    from tests.test_counterparts import AT, _call, _id
    from tests.test_counterparts import _setup as setup_calls

    with Workspace(db_url) as ws:
        setup_calls(ws)
        company = ev(
            "record", AT, object="company", external_id="co", properties={"domain": "g.test"}
        )
        at_company = [{"object": "company", "external_id": "co"}]
        made = ev(
            "record",
            AT,
            object="contact",
            external_id="k1",
            associations=at_company,
            owner="u-1",
            properties={"email": "k1@g.test", "phone": "+442079460000"},
        )
        run(
            ws,
            company,
            made,
            ev("record", AT, object="contact", external_id="k2", associations=at_company,
               properties={"email": "k2@g.test", "phone": "+442079460000"}),
        )  # fmt: skip
        quiet = ws.replay("dialer", ws.rules().integrations["dialer"])
        assert quiet.not_replayed == {}
        run(ws, _call("c1", "+44 20 7946 0000"))
        [item] = ws.review_items().items
        ws.resolve_review(item.id, choose=str(_id(ws, "dialer", "k2")))
        k1 = _id(ws, "dialer", "k1")
        assert len(ws.undo(event_id=made["id"], integration="dialer").restored) == 1
        ws.set_owner("contact", k1, "102")
        ws.set_owner("contact", k1, "101")
        result = ws.replay("dialer", ws.rules().integrations["dialer"])
        assert result.not_replayed == {"owner_changes": 2, "undos": 1, "review_answers": 1}
        later = ws.replay("dialer", ws.rules().integrations["dialer"], since="2999-01-01T00:00:00Z")
        assert later.not_replayed == {}
    file = tmp_path / "same.yaml"
    file.write_text(json.dumps(integration_settings(region="GB")))
    shown = CliRunner().invoke(
        app, ["replay", "dialer", "--settings", str(file)], env={"LEADSYNC_DB": db_url}
    )
    assert shown.exit_code == 0, shown.output
    assert (
        "not replayed, being no tool's event: 2 owner changes, 1 undo, 1 review answer made by"
        " people"
        " — where they changed an owner, 'now' is the tools' events alone (records show has"
        " the record's own)"
    ) in shown.stderr
