"""Undo puts back what decisions changed, respects later changes, and records itself."""

from __future__ import annotations

import pytest

from leadsync.errors import UserError
from leadsync.workspace import Workspace
from tests.helpers import contact_line, record_by_external, setup


def test_undo_an_event_restores_the_owner_and_records_why(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1"),
            contact_line("p-1", "u-9", "2026-11-02T09:00:00Z", "bad"),
        ],
    )
    assert record_by_external(workspace, "p-1")["owner_id"] == "102"
    result = workspace.undo(event_id="bad", at="2026-11-03T09:00:00.000Z")
    assert [r["owner_id"] for r in result.restored] == ["101"] and result.skipped == []
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "101"
    last = kim["owner_history"][-1]
    assert (last["strategy"], last["outcome"], last["owner_id"]) == ("undo", "set", "101")
    assert "undo of decision" in last["reason"] and "event bad" in last["reason"]
    # Undoing the same event again finds nothing newer to undo: the undo superseded it.
    again = workspace.undo(event_id="bad", at="2026-11-03T10:00:00.000Z")
    assert again.restored == [] and "superseded" in again.skipped[0]["reason"]


def test_a_later_change_is_respected(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1"),
            contact_line("p-1", "u-9", "2026-11-02T09:00:00Z", "bad"),
        ],
    )
    kim = record_by_external(workspace, "p-1")
    workspace.set_owner("contact", kim["id"], "104", at="2026-11-02T12:00:00.000Z")
    result = workspace.undo(event_id="bad")
    assert result.restored == []
    [skip] = result.skipped
    assert "a person in the CRM" in skip["reason"] and "superseded" in skip["reason"]
    assert record_by_external(workspace, "p-1")["owner_id"] == "104"


def test_undo_an_integration_since_a_time_goes_back_before_the_first_change(
    workspace: Workspace,
) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1"),
            contact_line("p-2", "u-1", "2026-11-01T09:00:00Z", "a2"),
            contact_line("p-1", "u-9", "2026-11-05T09:00:00Z", "b1"),
            contact_line("p-1", "u-1", "2026-11-06T09:00:00Z", "b2"),
            contact_line("p-1", "u-9", "2026-11-07T09:00:00Z", "b3"),
        ],
    )
    result = workspace.undo(integration="dialer", since="2026-11-04T00:00:00.000Z")
    assert [(r["record"]["id"], r["owner_id"], r["was"]) for r in result.restored] == [
        (record_by_external(workspace, "p-1")["id"], "101", "102")
    ]
    assert record_by_external(workspace, "p-2")["owner_id"] == "101"  # untouched


def test_undo_needs_a_clear_target(workspace: Workspace) -> None:
    setup(workspace)
    with pytest.raises(UserError, match="--event ID, or --integration NAME"):
        workspace.undo()
    with pytest.raises(UserError, match="--integration needs --since"):
        workspace.undo(integration="dialer")
