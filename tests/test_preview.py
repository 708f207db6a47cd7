"""Preview: the real engine's decisions, written nowhere (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.ops.preview import settings_from_file
from leadsync.store.schema import metadata
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, settings, setup, workspace_config

WEBHOOKS = Path(__file__).parent / "fixtures" / "webhooks"


def whole_database(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: nothing may differ after a preview."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with ws.engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = connection.execute(sa.select(table)).all()
            out[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return out


def test_a_preview_writes_nothing_and_says_what_a_run_would_do(workspace: Workspace) -> None:
    setup(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1")])
    before = whole_database(workspace)
    lines = [
        contact_line("p-1", "u-9", at="2026-11-02T09:00:00Z"),  # owned: fill_if_empty keeps 101
        contact_line("p-2", "u-9"),  # new: takes 102
        call_line("c-1", "p-2", 95),
        call_line("c-2", "p-2", 3),  # too short
        "{not json",
    ]
    result = workspace.preview("dialer", lines, "sample.jsonl")
    assert whole_database(workspace) == before
    by_line = {e.line: e for e in result.events}
    kept = by_line["sample.jsonl:1"]
    assert kept.record == {"type": "contact", "id": 1, "created": False}
    assert [d["outcome"] for d in kept.owner] == ["kept"]
    assert "fill_if_empty" in kept.owner[0]["reason"]
    new = by_line["sample.jsonl:2"]
    assert new.record is not None and new.record["created"] is True
    assert [(d["outcome"], d["owner_id"]) for d in new.owner] == [("set", "102")]
    created = by_line["sample.jsonl:3"]
    assert created.activity == {
        "type": "call",
        "id": 1,
        "outcome": "created",
        "settings": "current",
    }
    assert {"type": "contact", "id": new.record["id"], "source": "event"} in created.associations
    skipped = by_line["sample.jsonl:4"].activity
    assert skipped is not None and skipped["outcome"] == "skipped"
    assert "shorter than min_duration_s" in skipped["reason"]
    assert result.unreadable[0]["where"] == "sample.jsonl:5"
    summary = result.model_dump(mode="json")["summary"]
    assert summary["owners"] == {"set": 1, "kept": 1, "ignored": 0}
    assert summary["activities"] == {"created": 1, "updated": 0, "merged": 0, "skipped": 1}
    assert summary["records_created"] == 1


def test_what_a_preview_says_is_what_the_run_does(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    lines = [
        contact_line("p-1", "u-1"),
        contact_line("p-1", "u-9", at="2026-11-02T09:00:00Z"),
        contact_line("p-1", "u-1", at="2026-11-01T12:00:00Z"),  # older than the last: stale
        contact_line("p-2", "u-404"),  # unmapped: round robin
        call_line("c-1", "p-1", 60),
        call_line("c-2", "p-1", 2),
    ]
    previewed = workspace.preview("dialer", lines)
    said = [
        (d["record"]["id"], d["outcome"], d["owner_id"], d["reason"])
        for e in previewed.events
        for d in e.owner
    ]
    workspace.ingest("dialer", lines)
    done = [
        (d["record_id"], d["outcome"], d["owner_id"], d["reason"])
        for d in sorted(workspace.decisions(limit=100), key=lambda d: d["id"])  # as decided
    ]
    assert said == done
    skipped = [
        e.activity["reason"] for e in previewed.events if e.activity and "reason" in e.activity
    ]
    assert skipped == [s["reason"] for s in workspace.skipped_activities()]


def test_proposed_settings_change_the_answer_not_the_workspace(workspace: Workspace) -> None:
    setup(workspace)  # fill_if_empty
    workspace.ingest("dialer", [contact_line("p-1", "u-1")])
    later = [contact_line("p-1", "u-9", at="2026-11-02T09:00:00Z")]
    now = workspace.preview("dialer", later)
    proposed = settings_from_file(
        json.dumps(settings(ownership={"default": "integration_wins"})), "proposed.yaml", "dialer"
    )
    then = workspace.preview("dialer", later, proposed=proposed)
    assert [d["outcome"] for d in now.events[0].owner] == ["kept"]
    assert [(d["outcome"], d["owner_id"]) for d in then.events[0].owner] == [("set", "102")]
    # Each decision names the settings it was made under: the proposed ones, not "current".
    assert [d["settings"] for d in now.events[0].owner] == ["current"]
    assert [d["settings"] for d in then.events[0].owner] == ["proposed"]
    assert workspace.integration("dialer").ownership.default.value == "fill_if_empty"


def test_events_the_inbox_holds_are_reported_as_duplicates(workspace: Workspace) -> None:
    setup(workspace)
    line = contact_line("p-1", "u-1")
    workspace.ingest("dialer", [line])
    result = workspace.preview("dialer", [line, line])
    assert result.events == []
    assert [d["where"] for d in result.duplicates] == ["<input>:1", "<input>:2"]


def test_the_cli_previews_with_a_settings_file(tmp_path: Path, db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        ws.ingest("dialer", [contact_line("p-1", "u-1")])
    events = tmp_path / "later.jsonl"
    events.write_text(contact_line("p-1", "u-9", at="2026-11-02T09:00:00Z") + "\n")
    proposed = tmp_path / "proposed.yaml"
    # The integration's whole settings (JSON is YAML), only the strategy changed.
    proposed.write_text(json.dumps(settings(ownership={"default": "integration_wins"})))
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    shown = runner.invoke(app, ["preview", "dialer", str(events), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["summary"]["owners"] == {"set": 0, "kept": 1, "ignored": 0}
    changed = runner.invoke(
        app, ["preview", "dialer", str(events), "--settings", str(proposed), "--json"], env=env
    )
    assert json.loads(changed.stdout)["summary"]["owners"] == {"set": 1, "kept": 0, "ignored": 0}
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: generic\nownership: {default: sometimes}\n")
    refused = runner.invoke(
        app, ["preview", "dialer", str(events), "--settings", str(bad)], env=env
    )
    assert refused.exit_code == 2
    assert f"{bad}:2: ownership.default: 'sometimes' is not allowed" in refused.output
    text = runner.invoke(app, ["preview", "dialer", str(events)], env=env)
    assert "nothing written" in text.stdout and "kept 101" in text.stdout


def test_a_body_of_two_events_is_previewed_whole_and_a_repeat_of_it_is_the_duplicate(
    workspace: Workspace,
) -> None:
    """Calendly's ``invitee.created`` is a meeting and the invitee's contact, one inbox key:
    both are previewed (the contact was listed as "already in the inbox"), as ingest applies
    both; the same body again is the duplicate."""
    workspace.apply_config(workspace_config({"cal": {"kind": "calendly"}}))
    body = (WEBHOOKS / "calendly" / "invitee.created.json").read_text()
    line = json.dumps(json.loads(body))
    result = workspace.preview("cal", [line, line])
    assert sorted(e.type for e in result.events) == ["activity", "record"]
    assert [d["where"] for d in result.duplicates] == ["<input>:2", "<input>:2"]
    assert workspace.ingest("cal", [line]).applied.events == 2


def test_a_preview_takes_a_sample_and_says_when_the_input_held_more(
    tmp_path: Path, db_url: str, monkeypatch: Any
) -> None:
    """A preview decides every event in one rolled-back transaction: of a year's file it
    grew past 4.9 GB and printed a line per duplicate (found by a probe). Without --sample
    it takes the first ``SAMPLE`` events and says the input held more; duplicates are listed
    up to a count, then counted."""
    import leadsync.cli.rollout as rollout_cli
    import leadsync.ops.preview as preview_ops

    monkeypatch.setattr(preview_ops, "SAMPLE", 4)
    monkeypatch.setattr(rollout_cli, "DUPLICATES_SHOWN", 1)
    lines = [contact_line(f"p-{n}", "u-1", event_id=f"e-{n}") for n in range(6)]
    with Workspace(db_url) as ws:
        setup(ws)
        assert ws.ingest("dialer", lines[:3]).ok
        taken = ws.preview("dialer", lines)
        assert (len(taken.events), len(taken.duplicates), taken.cut_at) == (1, 3, 4)
        assert ws.preview("dialer", lines, sample=6).cut_at is None
    file = tmp_path / "year.jsonl"
    file.write_text("\n".join(lines) + "\n")
    shown = CliRunner().invoke(app, ["--db", db_url, "preview", "dialer", str(file)])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("already in the inbox, not applied again") == 1
    assert "… and 2 more events already in the inbox (--json lists all)" in shown.stdout
    assert (
        "the first 4 events previewed; the input holds more (--sample N previews up to "
        "100,000; ingest applies every one)"
    ) in shown.stderr
    assert (
        CliRunner()
        .invoke(app, ["--db", db_url, "preview", "dialer", str(file), "--sample", "100001"])
        .exit_code
        == 2
    )


def test_the_preview_marks_what_a_staged_rollouts_settings_decided(
    tmp_path: Path, db_url: str
) -> None:
    """``activities skipped`` and the report mark a rollout's decisions [rollout]; the
    preview printed the same skip unmarked, though the current settings allow the call
    (found by a probe)."""
    stricter = {"activities": {"call": {"enabled": True, "min_duration_s": 60}}}
    with Workspace(db_url) as ws:
        ws.apply_config(
            workspace_config(
                {"dialer": {**settings(), "rollout": {"percent": 100, "settings": stricter}}}
            )
        )
    file = tmp_path / "calls.jsonl"
    file.write_text(
        contact_line("p-1", "u-1") + "\n" + call_line("c-1", "p-1", 30, "2026-11-01T10:00:00Z")
    )
    shown = CliRunner().invoke(app, ["--db", db_url, "preview", "dialer", str(file)])
    assert shown.exit_code == 0, shown.output
    assert "call skipped: call lasted 30 s, shorter than min_duration_s 60 s [rollout]" in (
        shown.stdout
    ), shown.stdout
    assert ": set 101: " in shown.stdout and "[rollout]" in shown.stdout.split(": set 101: ")[1]
