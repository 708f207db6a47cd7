"""The lists name what a staged rollout decided: ``decisions list --rollout`` lists only the
rollout's decisions, and ``activities skipped`` marks a skip its proposed settings made
``[rollout]`` in the text, as ``decisions list`` does (the JSON says ``settings``)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.workspace import Workspace
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
