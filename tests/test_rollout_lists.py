"""The lists name what a staged rollout decided: ``decisions list --rollout`` lists only the
rollout's decisions, and ``activities skipped`` marks a skip its proposed settings made
``[rollout]`` in the text, as ``decisions list`` does (the JSON says ``settings``)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, settings, workspace_config
from tests.test_rollout_change import sampled_workspace


def test_decisions_list_rollout_and_skipped_marks(db_url: str) -> None:
    with Workspace(db_url) as ws:
        sampled, skipped = sampled_workspace(ws)
    runner = CliRunner()
    env = {"COLUMNS": "250"}
    listed = runner.invoke(
        app, ["--db", db_url, "decisions", "list", "--rollout", "--limit", "500", "--json"], env=env
    )
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert len(rows) == 2 * sampled and {r["settings"] for r in rows} == {"rollout"}
    text = runner.invoke(app, ["--db", db_url, "decisions", "list", "--rollout"], env=env)
    heads = text.stdout.splitlines()[::2]
    assert len(heads) == 2 * sampled and all(h.endswith("  [rollout]") for h in heads)
    skips = runner.invoke(app, ["--db", db_url, "activities", "skipped"], env=env)
    assert skips.exit_code == 0, skips.output
    marked = [line for line in skips.stdout.splitlines() if "[rollout]" in line]
    assert len(marked) == skipped
    assert all("shorter than min_duration_s 60 s  [rollout]" in line for line in marked)


def test_rollout_status_counts_a_call_skipped_twice_once_as_the_report_does(db_url: str) -> None:
    """A call's two webhooks both skipped by the rollout's minimum are one call not created:
    ``rollout status`` and ``report`` say the same number (before: 3 against 2)."""
    rollout = {"percent": 100, "settings": {"activities": {"call": {"min_duration_s": 100}}}}
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings(rollout=rollout)}))
        lines = [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z"),
            call_line("c-4", "p-1", 30, "2026-11-03T09:00:00Z"),
            call_line("c-4", "p-1", 40, "2026-11-03T09:01:00Z"),  # the same call again
            call_line("c-5", "p-1", 20, "2026-11-03T09:02:00Z"),
        ]
        assert ws.ingest("dialer", lines).ok
        report = ws.report("2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z")
    [not_created] = [f for f in report.findings if f.check == "activities_not_created"]
    runner = CliRunner()
    status = runner.invoke(app, ["--db", db_url, "rollout", "status", "dialer", "--json"])
    assert status.exit_code == 0, status.output
    [state] = json.loads(status.stdout)["rollouts"]
    assert not_created.summary.startswith("2 activities received but not created")
    assert state["under_rollout"]["skips"] == 2
    assert state["under_rollout"]["skips_by_kind"] == {"shorter than min_duration_s (100 s)": 2}
