"""The test lead: sent through the engine, checked against the settings, left out of the
report, removed by cleanup (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import NotFoundError
from leadsync.workspace import Workspace
from tests.helpers import settings, setup, workspace_config


def test_a_mapped_rep_passes(workspace: Workspace) -> None:
    setup(workspace)
    result = workspace.test_lead("dialer", "u-1", at="2026-11-10T09:00:00.000Z")
    assert result.passed, result.checks
    owner, call = result.checks
    assert owner["check"] == "owner" and "owner 101; expected 101" in owner["detail"]
    assert call["check"] == "call" and f"contact {result.record_id}" in call["detail"]


def test_disabled_calls_fail_with_the_reason(workspace: Workspace) -> None:
    setup(workspace, activities={"call": {"enabled": False}})
    result = workspace.test_lead("dialer", "u-1", at="2026-11-10T09:00:00.000Z")
    assert not result.passed
    [call] = [c for c in result.checks if c["check"] == "call"]
    assert not call["passed"] and "call activities are disabled" in call["detail"]


def test_test_leads_stay_out_of_the_report_and_cleanup_removes_them(
    workspace: Workspace,
) -> None:
    setup(workspace, users={"unmapped": {"policy": "leave"}})
    result = workspace.test_lead("dialer", "u-404", at="2026-11-10T09:00:00.000Z")
    assert result.passed  # leave: no owner is what the settings promise
    report = workspace.report("2026-11-01T00:00:00.000Z", "2026-11-10T12:00:00.000Z")
    assert "unowned_new_leads" not in {f.check for f in report.alerts}
    assert workspace.cleanup_test_leads() == {"records": 1, "activities": 1}
    assert result.record_id is not None
    with pytest.raises(NotFoundError):
        workspace.record("contact", result.record_id)
    assert workspace.cleanup_test_leads() == {"records": 0, "activities": 0}


def test_the_cli_exits_1_on_a_failed_check(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(
            workspace_config({"dialer": settings(activities={"call": {"enabled": False}})})
        )
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    failed = runner.invoke(app, ["test-lead", "dialer", "--rep", "u-1", "--json"], env=env)
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["passed"] is False
    cleaned = runner.invoke(app, ["test-lead", "--cleanup"], env=env)
    assert cleaned.exit_code == 0 and "removed 1 test records" in cleaned.stdout
