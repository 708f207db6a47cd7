"""Staged rollout: proposed settings for a stable sample of records; promote and abort."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.engine import in_rollout
from leadsync.errors import WorkspaceError
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, settings, workspace_config


def test_the_sample_is_stable_and_near_the_percentage() -> None:
    keys = [str(i) for i in range(1, 20_001)]
    first = [in_rollout(k, 10) for k in keys]
    assert first == [in_rollout(k, 10) for k in keys]  # the same record, the same answer
    assert 1_800 <= sum(first) <= 2_200  # 10% of 20,000, within 1 point
    assert sum(in_rollout(k, 100) for k in keys) == len(keys)
    assert all(in_rollout(k, 10) for k in keys if in_rollout(k, 5))  # 5% sits inside 10%


def rollout_settings(percent: float) -> dict[str, object]:
    return settings(
        rollout={"percent": percent, "settings": {"ownership": {"default": "integration_wins"}}}
    )


def test_sampled_records_get_the_proposed_settings_and_say_so(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config({"dialer": rollout_settings(50)}))
    first = [contact_line(f"p-{i}", "u-1", "2026-11-01T09:00:00Z") for i in range(40)]
    second = [contact_line(f"p-{i}", "u-9", "2026-11-02T09:00:00Z") for i in range(40)]
    workspace.ingest("dialer", first + second)
    sampled = 0
    for i in range(40):
        [found] = workspace.find(external=f"dialer:p-{i}")
        record = workspace.record("contact", found["id"])
        later = record["owner_history"][-1]
        if in_rollout(str(found["id"]), 50):
            sampled += 1
            assert later["settings"] == "rollout" and later["outcome"] == "set"
            assert record["owner_id"] == "102"  # integration_wins
        else:
            assert later["settings"] == "current" and later["outcome"] == "kept"
            assert record["owner_id"] == "101"  # fill_if_empty
    assert 0 < sampled < 40
    # The text says it too, as the JSON does: a decision under the rollout is marked.
    listed = CliRunner().invoke(
        app, ["--db", workspace.engine.url.render_as_string(hide_password=False), "decisions",
              "list", "--limit", "80"], env={"COLUMNS": "250"}
    )  # fmt: skip
    lines = [line for line in listed.stdout.splitlines() if "(integration_wins)" in line]
    assert len(lines) == 2 * sampled  # each sampled record: set, then moved
    assert all(line.endswith("  [rollout]") for line in lines)


def test_promote_and_abort(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config({"dialer": rollout_settings(10)}))
    promoted = workspace.rollout_promote("dialer")
    assert promoted.rollout is None and promoted.ownership.default.value == "integration_wins"
    with pytest.raises(WorkspaceError, match="no rollout to promote"):
        workspace.rollout_promote("dialer")
    workspace.apply_config(workspace_config({"dialer": rollout_settings(10)}))
    aborted = workspace.rollout_abort("dialer")
    assert aborted.rollout is None and aborted.ownership.default.value == "fill_if_empty"


def test_the_cli_promotes(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": rollout_settings(10)}))
    runner = CliRunner()
    done = runner.invoke(
        app, ["rollout", "promote", "dialer", "--json"], env={"LEADSYNC_DB": db_url}
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["settings"]["ownership"]["default"] == "integration_wins"
    again = runner.invoke(app, ["rollout", "abort", "dialer"], env={"LEADSYNC_DB": db_url})
    assert again.exit_code == 2 and "no rollout to abort" in again.output
    with Workspace(db_url) as ws:  # the audit log names the command, not "python API"
        newest = ws.audit_log().entries[0]
    assert (newest.role, newest.integration) == ("admin", "dialer")
    assert newest.who.startswith("cli: leadsync rollout promote dialer (")


@pytest.mark.parametrize(
    ("current", "proposed", "owner", "outcome"),
    [
        # The rollout forbids what the current settings allow: no owner is set.
        ("fill_if_empty", "never_overwrite", None, "kept"),
        # The rollout allows what the current settings forbid: the owner is set.
        ("never_overwrite", "fill_if_empty", "101", "set"),
    ],
)
def test_assign_on_activity_follows_the_rollouts_strategy(
    workspace: Workspace, current: str, proposed: str, owner: str | None, outcome: str
) -> None:
    ownership = {"default": current, "assign_on_activity": True}
    rollout = {
        "percent": 100,
        "settings": {"ownership": {"default": proposed, "assign_on_activity": True}},
    }
    workspace.apply_config(
        workspace_config({"dialer": settings(ownership=ownership, rollout=rollout)})
    )
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", None, "2026-11-01T09:00:00Z"),  # an existing contact, no owner
            call_line("c-1", "p-1", 95, "2026-11-02T09:00:00Z", owner="u-1"),
        ],
    )
    [found] = workspace.find(external="dialer:p-1")
    record = workspace.record("contact", found["id"])
    assert record["owner_id"] == owner
    assign = record["owner_history"][-1]
    assert (assign["strategy"], assign["settings"], assign["outcome"]) == (
        "assign_on_activity",
        "rollout",
        outcome,
    )
    assert proposed in assign["reason"]
