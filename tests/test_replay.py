"""Replay: the inbox decided again under current and proposed settings, and the difference.
The replays run in scratch SQLite databases; the workspace itself may be either backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import UserError
from leadsync.preview import settings_from_file
from leadsync.replay import replay, since_ts
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, ev, settings, setup, workspace_config
from tests.test_preview import whole_database

HISTORY = [
    contact_line("p-1", "u-1", "2026-11-01T09:00:00Z"),  # 101
    contact_line("p-2", "u-1", "2026-11-01T09:00:00Z"),  # 101
    contact_line("p-3", "u-9", "2026-11-01T09:00:00Z"),  # 102
    contact_line("p-1", "u-9", "2026-11-02T09:00:00Z"),  # fill_if_empty keeps 101; wins: 102
    contact_line("p-3", "u-1", "2026-11-02T09:00:00Z"),  # fill_if_empty keeps 102; wins: 101
    contact_line("p-2", "u-1", "2026-11-02T09:00:00Z"),  # the same owner either way
    call_line("c-1", "p-1", 95, "2026-11-03T10:00:00Z"),
    call_line("c-2", "p-2", 40, "2026-11-03T10:00:00Z"),
]


def proposed(**overrides: Any) -> Any:
    return settings_from_file(json.dumps(settings(**overrides)), "proposed.yaml", "dialer")


def test_the_same_settings_make_no_difference(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest("dialer", HISTORY)
    result = replay(workspace, "dialer", proposed())
    assert result.events == len(HISTORY)
    assert result.records_compared == 3
    assert not result.changed and result.owner_changes == []


def test_integration_wins_shows_exactly_the_records_whose_owner_would_differ(
    workspace: Workspace,
) -> None:
    setup(workspace)  # fill_if_empty
    workspace.ingest("dialer", HISTORY)
    before = whole_database(workspace)
    result = replay(workspace, "dialer", proposed(ownership={"default": "integration_wins"}))
    assert whole_database(workspace) == before  # the workspace is not touched
    changes = {c["record"]: c for c in result.owner_changes}
    assert set(changes) == {"dialer:contact:p-1", "dialer:contact:p-3"}
    assert result.owners_differ == 2
    p1 = changes["dialer:contact:p-1"]
    assert (p1["current_owner_id"], p1["proposed_owner_id"]) == ("101", "102")
    assert "fill_if_empty" in p1["current_reason"]
    assert "integration_wins replaces 101" in p1["proposed_reason"]
    assert result.activities_appear == {} and result.activities_disappear == {}


def test_a_stricter_call_filter_shows_the_calls_that_would_disappear(
    workspace: Workspace,
) -> None:
    setup(workspace)  # min_duration_s 10
    workspace.ingest("dialer", HISTORY)
    stricter = proposed(activities={"call": {"enabled": True, "min_duration_s": 60}})
    result = replay(workspace, "dialer", stricter)
    assert result.activities_disappear == {"dialer call": 1}  # c-2 lasted 40 s
    assert result.activities_appear == {}
    looser = proposed(activities={"call": {"enabled": True, "min_duration_s": 50}})
    assert replay(workspace, "dialer", looser).activities_disappear == {"dialer call": 1}


def test_associations_that_would_change_are_counted(workspace: Workspace) -> None:
    setup(workspace)
    company = json.dumps(
        ev(
            "record",
            "2026-11-01T08:00:00Z",
            object="contact",
            external_id="p-1",
            properties={"email": "p-1@globex.test"},
            associations=[{"object": "company", "domain": "globex.test"}],
        )
    )
    workspace.ingest("dialer", [company, *HISTORY])
    manual = proposed(associations={"mode": "manual"})
    result = replay(workspace, "dialer", manual)
    assert result.associations_differ == 1  # c-1 no longer gets p-1's primary company


def test_since_replays_only_recent_events(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest("dialer", HISTORY)
    cutoff = since_ts("2026-11-02T00:00:00Z")
    result = replay(workspace, "dialer", proposed(), since=cutoff)
    assert result.events == 5  # the second-day owner events and the two calls
    assert since_ts("7d", now="2026-11-10T00:00:00.000Z") == "2026-11-03T00:00:00.000Z"
    assert since_ts("90m", now="2026-11-10T00:00:00.000Z") == "2026-11-09T22:30:00.000Z"
    for far in ("969108d", "999999999h"):
        with pytest.raises(UserError, match="too far back"):
            since_ts(far)
    with pytest.raises(UserError, match="expected a duration"):
        since_ts("soon")


def test_the_cli_reports_the_difference(tmp_path: Path, db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        ws.ingest("dialer", HISTORY)
    file = tmp_path / "proposed.yaml"
    file.write_text(json.dumps(settings(ownership={"default": "integration_wins"})))
    runner = CliRunner()
    shown = runner.invoke(
        app, ["replay", "dialer", "--settings", str(file), "--json"], env={"LEADSYNC_DB": db_url}
    )
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["owners_differ"] == 2 and data["changed"] is True
    text = runner.invoke(
        app, ["replay", "dialer", "--settings", str(file)], env={"LEADSYNC_DB": db_url}
    )
    assert "owners that would differ: 2" in text.stdout
    assert "101 -> 102" in text.stdout
