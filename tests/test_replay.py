"""Replay: the inbox decided again under current and proposed settings, and the difference.
The replays run in scratch SQLite databases; the workspace itself may be either backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.ops.preview import settings_from_file
from leadsync.ops.replay import DIFFERENCE_FIELDS
from leadsync.store.database import begin_writing
from leadsync.store.inbox import InboxRow, append
from leadsync.values import since_ts
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
    result = workspace.replay("dialer", proposed())
    assert result.events == result.integration_events == len(HISTORY)
    assert result.records_compared == 3
    assert not result.changed and result.owner_changes == []


def test_integration_wins_shows_exactly_the_records_whose_owner_would_differ(
    workspace: Workspace,
) -> None:
    setup(workspace)  # fill_if_empty
    workspace.ingest("dialer", HISTORY)
    before = whole_database(workspace)
    result = workspace.replay("dialer", proposed(ownership={"default": "integration_wins"}))
    assert whole_database(workspace) == before  # the workspace is not touched
    changes = {c["record"]: c for c in result.owner_changes}
    assert set(changes) == {"dialer:contact:p-1", "dialer:contact:p-3"}
    assert result.owners_differ == 2
    p1 = changes["dialer:contact:p-1"]
    assert (p1["current_owner_id"], p1["proposed_owner_id"]) == ("101", "102")
    assert "fill_if_empty" in p1["current_reason"]
    assert "integration_wins replaces 101" in p1["proposed_reason"]
    assert result.activities_appear == {} and result.activities_disappear == {}


def test_a_rollout_setting_what_the_proposal_changes_is_said(workspace: Workspace) -> None:
    """A staged rollout of integration_wins to every record: both runs apply it, so the same
    change proposed shows no difference — said, with what to do (it said nothing)."""
    rollout = {"percent": 100, "settings": {"ownership": {"default": "integration_wins"}}}
    setup(workspace, rollout=rollout)  # fill_if_empty, but integration_wins on the share
    workspace.ingest("dialer", HISTORY)
    result = workspace.replay(
        "dialer", proposed(ownership={"default": "integration_wins"}, rollout=rollout)
    )
    assert result.owners_differ == 0
    assert result.rollout == (
        "dialer has a staged rollout (100 % of records): both runs apply its settings to that "
        "share, as the drain does; the proposal changes ownership, which the rollout sets too: "
        "on that share it shows no difference (abort the rollout, or propose the change as "
        "the rollout's settings, to compare it there)"
    )
    other = workspace.replay(
        "dialer", proposed(activities={"call": {"min_duration_s": 60}}, rollout=rollout)
    )
    assert other.rollout is not None and "proposal changes" not in other.rollout
    setup(workspace)
    assert workspace.replay("dialer", proposed()).rollout is None


def test_a_stricter_call_filter_shows_the_calls_that_would_disappear(
    workspace: Workspace,
) -> None:
    setup(workspace)  # min_duration_s 10
    workspace.ingest("dialer", HISTORY)
    stricter = proposed(activities={"call": {"enabled": True, "min_duration_s": 60}})
    result = workspace.replay("dialer", stricter)
    assert result.activities_disappear == {"dialer call": 1}  # c-2 lasted 40 s
    assert result.activities_appear == {}
    looser = proposed(activities={"call": {"enabled": True, "min_duration_s": 50}})
    assert workspace.replay("dialer", looser).activities_disappear == {"dialer call": 1}


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
    result = workspace.replay("dialer", manual)
    assert result.associations_differ == 1  # c-1 no longer gets p-1's primary company


def test_activities_whose_owner_would_change_are_counted(workspace: Workspace) -> None:
    """A rep no longer auto-matched by email: the records keep their owners (fill_if_empty),
    but the calls are owned by nobody now — the preview said "no difference"."""
    setup(workspace)
    workspace.ingest("dialer", HISTORY)
    users = {**settings()["users"], "auto_match": "none", "unmapped": {"policy": "leave"}}
    result = workspace.replay("dialer", proposed(users=users))
    assert result.activity_owners_differ == {"dialer call": 2}  # u-1's calls, owner 101 before
    assert result.changed
    dumped = result.model_dump(by_alias=True)
    assert dumped["activities_with_another_owner"] == {"dialer call": 2}
    assert workspace.replay("dialer", proposed()).activity_owners_differ == {}


def test_each_activity_whose_owner_would_change_is_a_difference_with_both_reasons(
    workspace: Workspace,
) -> None:
    """The rep mapped to nobody: each of its calls is a difference naming both owners and
    the engine's reason on each side (the words of the rep's mapping)."""
    setup(workspace)
    workspace.ingest("dialer", HISTORY)
    users = {**settings()["users"], "auto_match": "none", "unmapped": {"policy": "leave"}}
    rows: list[dict[str, Any]] = []
    workspace.replay("dialer", proposed(users=users), on_difference=rows.append)
    calls = [r for r in rows if r["difference"] == "activity owner"]
    assert [c["activity"] for c in calls] == ["dialer:call:c-1", "dialer:call:c-2"]
    c1 = calls[0]
    assert (c1["current_owner_id"], c1["current_owner"]) == ("101", "Ana Ng")
    assert (c1["proposed_owner_id"], c1["proposed_owner"]) == (None, None)
    assert c1["current_reason"].startswith("rep u-1 maps to 101 by email ana@acme.test")
    assert c1["proposed_reason"].startswith("rep u-1 is not in the map (auto_match is none)")
    assert c1["proposed_reason"].endswith("the unmapped policy is leave")
    assert c1["current_records"] == c1["proposed_records"] == "dialer:contact:p-1"
    assert c1["record"] is None and c1["record_type"] is None
    rows.clear()
    workspace.replay("dialer", proposed(), on_difference=rows.append)
    assert rows == []


def test_since_replays_only_recent_events(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest("dialer", HISTORY)
    cutoff = since_ts("2026-11-02T00:00:00Z")
    assert workspace.inbox_size(cutoff) == 5 and workspace.inbox_size() == len(HISTORY)
    result = workspace.replay("dialer", proposed(), since=cutoff)
    assert result.events == 5  # the second-day owner events and the two calls


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
    assert "101 Ana Ng -> 102 Bo Li" in text.stdout
    assert f"replayed {len(HISTORY)} inbox events ({len(HISTORY)} of them dialer's)" in text.stdout


def test_replay_says_how_many_of_the_events_are_the_integrations(workspace: Workspace) -> None:
    # Every integration's events are replayed (they meet the same records); the count of the
    # integration's own tells a replay of a quiet integration from a busy one.
    workspace.apply_config(workspace_config({"dialer": settings(), "other": settings()}))
    workspace.ingest("dialer", HISTORY[:3])
    result = workspace.replay("other", proposed())
    assert (result.events, result.integration_events) == (3, 0)


def _replay_cli(db_url: str, tmp_path: Path, *args: str) -> Any:
    file = tmp_path / "proposed.yaml"
    file.write_text(json.dumps(settings(ownership={"default": "integration_wins"})))
    with Workspace(db_url) as ws:
        if not ws.inbox_counts():
            ws.apply_config(workspace_config({"dialer": settings()}))
            ws.ingest("dialer", HISTORY)
    return CliRunner().invoke(
        app, ["replay", "dialer", "--settings", str(file), *args], env={"LEADSYNC_DB": db_url}
    )


def test_replay_lists_up_to_limit_and_says_how_many_more(tmp_path: Path, db_url: str) -> None:
    whole = _replay_cli(db_url, tmp_path)
    assert whole.exit_code == 0, whole.output
    assert whole.stdout.count(" -> ") == 2 and "more" not in whole.stdout
    cut = _replay_cli(db_url, tmp_path, "--limit", "1")
    assert cut.stdout.count(" -> ") == 1
    assert "… and 1 more (--limit N lists more; --format csv lists every one)" in cut.stdout
    data = json.loads(_replay_cli(db_url, tmp_path, "--limit", "1", "--json").stdout)
    assert data["owners_differ"] == 2 and len(data["owner_changes"]) == 1
    assert _replay_cli(db_url, tmp_path, "--limit", "0").exit_code == 2


def test_replay_writes_every_difference_as_csv(tmp_path: Path, db_url: str) -> None:
    import csv
    import io

    shown = _replay_cli(db_url, tmp_path, "--format", "csv", "--limit", "1")
    assert shown.exit_code == 0, shown.output
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert shown.stdout.splitlines()[0] == (
        "difference,record,record_type,activity,current_owner_id,current_owner,"
        "proposed_owner_id,proposed_owner,current_reason,proposed_reason,current_records,"
        "proposed_records"
    )
    owners = [r for r in rows if r["difference"] == "owner"]
    assert {r["record"] for r in owners} == {"dialer:contact:p-1", "dialer:contact:p-3"}
    p1 = next(r for r in owners if r["record"] == "dialer:contact:p-1")
    assert (p1["current_owner_id"], p1["current_owner"]) == ("101", "Ana Ng")
    assert (p1["proposed_owner_id"], p1["proposed_owner"]) == ("102", "Bo Li")
    assert "fill_if_empty" in p1["current_reason"]
    assert "settings:" in shown.stderr  # how the file was read: beside the CSV, not in it
    assert _replay_cli(db_url, tmp_path, "--json").exit_code == 0
    both = _replay_cli(db_url, tmp_path, "--format", "csv", "--json")
    assert both.exit_code == 2 and "--json" in both.stderr


def test_csv_rows_name_each_activity_that_would_disappear(tmp_path: Path, db_url: str) -> None:
    import csv
    import io

    file = tmp_path / "stricter.yaml"
    file.write_text(json.dumps({"activities": {"call": {"min_duration_s": 60}}}))
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        ws.ingest("dialer", HISTORY)
    shown = CliRunner().invoke(
        app,
        ["replay", "dialer", "--settings", str(file), "--format", "csv"],
        env={"LEADSYNC_DB": db_url},
    )
    assert shown.exit_code == 0, shown.output
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert [(r["difference"], r["activity"]) for r in rows] == [
        ("activity disappears", "dialer:call:c-2")
    ]
    [gone] = rows  # the owner it has now, and why; none under the proposed settings
    assert (gone["current_owner_id"], gone["current_owner"]) == ("101", "Ana Ng")
    assert gone["current_reason"] and not gone["proposed_owner_id"]
    # Why the proposed settings would not create it: the rule (it said nothing; found by a
    # probe).
    assert gone["proposed_reason"] == (
        "skipped: call lasted 40 s, shorter than min_duration_s 60 s"
    ), gone["proposed_reason"]
    # The other way: what appears has the owner it would have under the proposed settings
    # (the column was empty).
    looser = tmp_path / "looser.yaml"
    looser.write_text(json.dumps({"activities": {"call": {"min_duration_s": 0}}}))
    with Workspace(db_url) as ws:
        ws.apply_config(
            workspace_config({"dialer": settings(activities={"call": {"min_duration_s": 60}})})
        )
    shown = CliRunner().invoke(
        app,
        ["replay", "dialer", "--settings", str(looser), "--format", "csv"],
        env={"LEADSYNC_DB": db_url},
    )
    assert shown.exit_code == 0, shown.output
    [new] = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert (new["difference"], new["activity"]) == ("activity appears", "dialer:call:c-2")
    assert (new["proposed_owner_id"], new["proposed_owner"]) == ("101", "Ana Ng")
    assert new["proposed_reason"] and not new["current_owner_id"]
    assert new["current_reason"] == "skipped: call lasted 40 s, shorter than min_duration_s 60 s"


def test_a_rep_mapped_to_another_owner_gives_record_and_activity_csv_rows(
    tmp_path: Path, db_url: str
) -> None:
    """u-1 mapped to Bo Li instead of auto-matched to Ana Ng: the contacts u-1 made and u-1's
    calls change owner; the CSV has a row for each, the record rows as they always were.
    The current settings proposed again: the header and no row."""
    import csv
    import io

    moved = tmp_path / "moved.yaml"
    moved.write_text(json.dumps({"users": {"map": {"u-1": "102", "u-9": "102"}}}))
    same = tmp_path / "same.yaml"
    same.write_text(json.dumps(settings()))
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        ws.ingest("dialer", HISTORY)
    env = {"LEADSYNC_DB": db_url}
    shown = CliRunner().invoke(
        app, ["replay", "dialer", "--settings", str(moved), "--format", "csv"], env=env
    )
    assert shown.exit_code == 0, shown.output
    header, *_ = shown.stdout.splitlines()
    assert header.split(",") == list(DIFFERENCE_FIELDS)
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert [(r["difference"], r["record"] or r["activity"]) for r in rows] == [
        ("owner", "dialer:contact:p-1"),
        ("owner", "dialer:contact:p-2"),
        ("activity owner", "dialer:call:c-1"),
        ("activity owner", "dialer:call:c-2"),
    ]
    for row in rows:
        assert (row["current_owner_id"], row["current_owner"]) == ("101", "Ana Ng")
        assert (row["proposed_owner_id"], row["proposed_owner"]) == ("102", "Bo Li")
    p1, c1 = rows[0], rows[2]
    assert (p1["record_type"], p1["activity"]) == ("contact", "")
    assert p1["proposed_reason"].startswith("kept 102")  # the record's latest decision
    assert (c1["record"], c1["record_type"]) == ("", "")
    assert c1["current_reason"].startswith("rep u-1 maps to 101 by email ana@acme.test")
    assert c1["proposed_reason"] == "rep u-1 maps to 102 by the explicit map"
    assert c1["current_records"] == c1["proposed_records"] == "dialer:contact:p-1"
    unchanged = CliRunner().invoke(
        app, ["replay", "dialer", "--settings", str(same), "--format", "csv"], env=env
    )
    assert unchanged.exit_code == 0, unchanged.output
    assert unchanged.stdout.splitlines() == [header]


HELD_CALL = json.dumps(
    ev(
        "activity",
        "2026-11-03T11:00:00Z",
        activity="call",
        external_id="c-9",
        owner="u-1",
        properties={"duration_s": 50, "outcome": "connected", "to_number": "+14155550100"},
    )
)


def test_a_held_call_the_proposed_settings_attach_counts_as_other_associations(
    workspace: Workspace,
) -> None:
    # Held (associated with nothing) now; on a contact the proposed settings create.
    setup(workspace)
    workspace.ingest("dialer", [*HISTORY, HELD_CALL])
    result = workspace.replay("dialer", proposed(unknown_counterpart={"policy": "create"}))
    assert result.only_in_proposed == 1 and result.only_in_current == 0
    assert result.associations_differ == 1
    back = workspace.replay("dialer", proposed())  # and the other way round: none
    assert back.associations_differ == 0 and not back.changed


def test_records_only_one_run_makes_are_shown_and_are_csv_rows(tmp_path: Path, db_url: str) -> None:
    import csv
    import io

    file = tmp_path / "create.yaml"
    file.write_text(json.dumps({"unknown_counterpart": {"policy": "create"}}))
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        ws.ingest("dialer", [*HISTORY, HELD_CALL])
    args = ["replay", "dialer", "--settings", str(file)]
    env = {"LEADSYNC_DB": db_url}
    text = CliRunner().invoke(app, args, env=env)
    assert "records only the current settings make: 0\n" in text.stdout
    assert "records only the proposed settings make: 1 (--format csv" in text.stdout
    assert "activities whose associations would differ: 1" in text.stdout
    shown = CliRunner().invoke(app, [*args, "--format", "csv"], env=env)
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert [r["difference"] for r in rows] == ["record only in proposed", "associations differ"]
    assert rows[0]["record_type"] == "contact"
    assert rows[1]["activity"] == "dialer:call:c-9" and rows[1]["current_records"] == ""
    assert rows[1]["proposed_records"] == rows[0]["record"]


def test_a_row_both_runs_refuse_is_counted_once(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import leadsync.ops.replay as replay_ops

    real = replay_ops.decide_batch

    def refusing(connection: Any, rules: Any, events: Any, trace: bool = False) -> Any:
        if any(e.id == "bad" for e in events):
            raise ValueError("refused")
        return real(connection, rules, events, trace)

    setup(workspace)
    workspace.ingest("dialer", [*HISTORY, contact_line("p-9", "u-1", event_id="bad")])
    monkeypatch.setattr(replay_ops, "decide_batch", refusing)
    result = workspace.replay("dialer", proposed())
    assert result.refused == 1  # one inbox row, refused by both runs
    assert result.events == len(HISTORY) + 1 and not result.changed


def test_unreadable_rows_are_named_each_with_why(tmp_path: Path, db_url: str) -> None:
    """A row the replay cannot read (it failed in the real run too: a dead letter) is not
    only counted: its inbox number, integration, event and error are shown (stderr in text,
    ``unreadable_rows`` in JSON)."""
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        ws.ingest("dialer", HISTORY[:2])
        at = "2026-11-01T09:00:00.000Z"  # as intake stores a body the worker then fails on
        odd = InboxRow("dialer", "odd", at, at, '{"id": "odd"}', "failed", "webhook", "bad")
        with begin_writing(ws.engine) as connection:
            append(connection, [odd])
    file = tmp_path / "proposed.yaml"
    file.write_text(json.dumps(settings(ownership={"default": "integration_wins"})))
    env = {"LEADSYNC_DB": db_url}
    shown = CliRunner().invoke(
        app, ["replay", "dialer", "--settings", str(file), "--json"], env=env
    )
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert data["unreadable"] == 1
    [row] = data["unreadable_rows"]
    assert (row["integration"], row["event_id"]) == ("dialer", "odd")
    assert row["error"]
    text = CliRunner().invoke(app, ["replay", "dialer", "--settings", str(file)], env=env)
    assert f"inbox {row['seq']} (dialer, event odd): {row['error']}" in text.stderr
    assert "(1 unreadable — on stderr, each with why" in text.stdout
