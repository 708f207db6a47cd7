"""Undo puts back what decisions changed, respects later changes, and records itself."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import NotFoundError, UserError
from leadsync.model import now_ts
from leadsync.ops.undo import decision_ids
from leadsync.store.schema import owner_decisions
from leadsync.workspace import Workspace
from tests.helpers import (
    contact_line,
    owner_of,
    record_by_external,
    settings,
    setup,
    snapshot,
    workspace_config,
)


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
    # Undoing the same event again finds nothing to undo, and says it was undone already.
    again = workspace.undo(event_id="bad", at="2026-11-03T10:00:00.000Z")
    assert again.restored == [] and again.skipped[0]["reason"].startswith(
        "already undone: decision #"
    )
    assert "a person in the CRM" not in again.skipped[0]["reason"]


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
        ],
    )
    since = received_cut()  # --since is by when leadsync received the events
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-9", "2026-11-05T09:00:00Z", "b1"),
            contact_line("p-1", "u-1", "2026-11-06T09:00:00Z", "b2"),
            contact_line("p-1", "u-9", "2026-11-07T09:00:00Z", "b3"),
        ],
    )
    result = workspace.undo(integration="dialer", since=since)
    assert [(r["record"]["id"], r["owner_id"], r["was"]) for r in result.restored] == [
        (record_by_external(workspace, "p-1")["id"], "101", "102")
    ]
    assert record_by_external(workspace, "p-2")["owner_id"] == "101"  # untouched


def received_cut() -> str:
    """A time between what was ingested before and what is ingested after (the inbox's
    received times are in milliseconds)."""
    time.sleep(0.005)
    cut = now_ts()
    time.sleep(0.005)
    return cut


def test_undo_needs_a_clear_target(workspace: Workspace) -> None:
    setup(workspace)
    with pytest.raises(UserError, match="--event ID, or --integration NAME"):
        workspace.undo()
    with pytest.raises(UserError, match="--integration needs --since"):
        workspace.undo(integration="dialer")


def two_integrations_with_event_e1(workspace: Workspace) -> None:
    """dialer and seq each have an event e1, on different records (ids are unique per
    integration only)."""
    wins = settings(ownership={"default": "integration_wins"})
    workspace.apply_config(workspace_config({"dialer": wins, "seq": wins}))
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1"),
            contact_line("p-1", "u-9", "2026-11-02T09:00:00Z", "e1"),
        ],
    )
    workspace.ingest(
        "seq",
        [
            contact_line("s-1", "u-1", "2026-11-01T09:00:00Z", "a1"),
            contact_line("s-1", "u-9", "2026-11-02T09:00:00Z", "e1"),
        ],
    )


def test_an_event_id_in_several_integrations_is_refused_as_ambiguous(
    workspace: Workspace,
) -> None:
    two_integrations_with_event_e1(workspace)
    before = snapshot(workspace)
    with pytest.raises(UserError, match=r"event e1 exists in several integrations \(dialer, seq\)"):
        workspace.undo(event_id="e1")
    assert snapshot(workspace) == before


def test_undo_an_event_of_one_integration_leaves_the_others_alone(workspace: Workspace) -> None:
    two_integrations_with_event_e1(workspace)
    result = workspace.undo(event_id="e1", integration="dialer", at="2026-11-03T09:00:00.000Z")
    assert [(r["record"]["id"], r["owner_id"]) for r in result.restored] == [
        (record_by_external(workspace, "p-1")["id"], "101")
    ]
    assert "event e1 of dialer" in result.restored[0]["reason"]
    assert owner_of(workspace, "p-1") == "101"
    assert owner_of(workspace, "s-1", "seq") == "102"  # seq's e1 is another event


def test_an_unknown_event_is_a_clear_error(workspace: Workspace, db_url: str) -> None:
    two_integrations_with_event_e1(workspace)
    with pytest.raises(NotFoundError, match="no event 'nope' in any integration"):
        workspace.undo(event_id="nope")
    with pytest.raises(NotFoundError, match="unknown integration 'crm2'"):
        workspace.undo(event_id="a1", integration="crm2")
    workspace.ingest("seq", [contact_line("s-2", "u-1", "2026-11-01T09:00:00Z", "only-seq")])
    with pytest.raises(NotFoundError, match=r"no event 'only-seq' in dialer; it is in seq"):
        workspace.undo(event_id="only-seq", integration="dialer")
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    unknown = runner.invoke(app, ["undo", "--event", "nope"], env=env)
    assert unknown.exit_code == 2 and "no event 'nope' in any integration" in unknown.output
    ambiguous = runner.invoke(app, ["undo", "--event", "e1"], env=env)
    assert ambiguous.exit_code == 2 and "(dialer, seq)" in ambiguous.output
    assert "--integration" in ambiguous.output


def test_undo_since_a_time_takes_no_event_and_an_event_no_since(workspace: Workspace) -> None:
    two_integrations_with_event_e1(workspace)
    with pytest.raises(UserError, match="--since goes with --integration alone"):
        workspace.undo(event_id="e1", integration="dialer", since="2026-11-01T00:00:00.000Z")


def test_a_dry_run_shows_what_would_change_and_writes_nothing(
    workspace: Workspace, db_url: str
) -> None:
    two_integrations_with_event_e1(workspace)
    before = snapshot(workspace)
    result = workspace.undo(event_id="e1", integration="seq", dry_run=True)
    assert result.dry_run and [r["owner_id"] for r in result.restored] == ["101"]
    assert snapshot(workspace) == before
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    shown = runner.invoke(
        app, ["undo", "--event", "e1", "--integration", "seq", "--dry-run"], env=env
    )
    assert shown.exit_code == 0, shown.output
    assert "would restore contact" in shown.stdout and "nothing was written" in shown.stdout
    as_json = runner.invoke(
        app, ["undo", "--event", "e1", "--integration", "seq", "--dry-run", "--json"], env=env
    )
    assert json.loads(as_json.stdout)["dry_run"] is True
    assert snapshot(workspace) == before
    done = runner.invoke(app, ["undo", "--event", "e1", "--integration", "seq"], env=env)
    assert done.exit_code == 0 and "1 restored" in done.stdout
    assert owner_of(workspace, "s-1", "seq") == "101"
    assert owner_of(workspace, "p-1") == "102"


def test_the_reason_names_the_records_own_decisions_not_a_range_over_others(
    workspace: Workspace,
) -> None:
    """p-1's changes since the 4th are interleaved with p-2's and p-3's: its undo names its
    own decisions, never a range that takes in the others'."""
    setup(workspace, ownership={"default": "integration_wins"})
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z")])
    since = received_cut()  # --since is by when leadsync received the events
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-9", "2026-11-05T09:00:00Z"),
            contact_line("p-2", "u-1", "2026-11-05T09:00:00Z"),
            contact_line("p-2", "u-9", "2026-11-06T09:00:00Z"),
            contact_line("p-3", "u-1", "2026-11-06T09:00:00Z"),
            contact_line("p-1", "u-1", "2026-11-06T10:00:00Z"),
            contact_line("p-1", "u-9", "2026-11-07T09:00:00Z"),
        ],
    )
    kim = record_by_external(workspace, "p-1")["id"]
    with workspace.engine.connect() as connection:
        own = connection.execute(
            sa.select(owner_decisions.c.id)
            .where(
                owner_decisions.c.record_id == kim,
                owner_decisions.c.at >= "2026-11-04T00:00:00.000Z",
            )
            .order_by(owner_decisions.c.id)
        ).scalars()
        first, second, third = own.all()
    assert second - first > 1  # others' decisions lie between
    result = workspace.undo(integration="dialer", since=since)
    [restored] = [r for r in result.restored if r["record"]["id"] == kim]
    assert restored["reason"] == (
        f"set 101: undo of decisions #{first}, #{second}, #{third} (dialer); the owner "
        "before them was 101 (was 102)"
    )


def test_decision_ids_are_named_compactly_and_truly() -> None:
    assert decision_ids([14]) == "#14"
    assert decision_ids([14, 20, 21]) == "#14, #20, #21"
    assert decision_ids([1, 2, 3, 7, 9, 10, 11]) == "#1 to #3, #7, #9 to #11"
    assert decision_ids(list(range(0, 40, 2))) == (
        "#0, #2, #4, #6, #8, #10, #12, #14 and 12 more (the last #38)"
    )


def test_an_undo_of_a_later_change_is_not_taken_for_an_undo_of_this_one(
    workspace: Workspace,
) -> None:
    wins = settings(ownership={"default": "integration_wins"})
    workspace.apply_config(workspace_config({"dialer": wins, "seq": wins}))
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1")])
    workspace.ingest("seq", [contact_line("p-1", "u-9", "2026-11-02T09:00:00Z", "s1")])
    workspace.undo(event_id="s1", at="2026-11-03T09:00:00.000Z")  # back to a1's 101
    result = workspace.undo(event_id="a1", dry_run=True)
    [skip] = result.skipped
    # Named by the change that followed a1's — seq's — not by the latest, the undo of it
    # (which read as if a1's had been undone already).
    assert skip["reason"].startswith("superseded: decision #2 by seq (integration_wins)")
    assert skip["reason"].endswith("after the change to undo (1 more since, the last #3)")
    again = workspace.undo(event_id="s1")  # this one really was undone
    assert again.skipped[0]["reason"].startswith("already undone: decision #3 (undo)")


def test_undo_since_keeps_another_integrations_change_between_the_ones_undone(
    workspace: Workspace,
) -> None:
    # dialer sets 101, seq 102, dialer 104: undoing dialer's puts back seq's 102, not the
    # owner before dialer's first change (seq's change superseded that one).
    wins = settings(
        ownership={"default": "integration_wins"}, users={"map": {"u-9": "102", "u-4": "104"}}
    )
    workspace.apply_config(workspace_config({"dialer": wins, "seq": wins}))
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1")])
    workspace.ingest("seq", [contact_line("p-1", "u-9", "2026-11-02T09:00:00Z", "s1")])
    workspace.ingest("dialer", [contact_line("p-1", "u-4", "2026-11-03T09:00:00Z", "a2")])
    assert owner_of(workspace, "p-1") == "104"
    result = workspace.undo(integration="dialer", since="2026-11-01T00:00:00.000Z")
    [restored] = result.restored
    assert (restored["owner_id"], restored["was"]) == ("102", "104")
    assert "undo of decision #3 (dialer)" in restored["reason"]
    assert "decision #1 left as it is: superseded by decision #2 by seq" in restored["reason"]
    assert owner_of(workspace, "p-1") == "102"


def test_undo_of_an_event_that_changed_no_owner_says_so(workspace: Workspace, db_url: str) -> None:
    """An event whose decisions kept the owner: "nothing to undo", not "0 restored, 0
    skipped"."""
    two_integrations_with_event_e1(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-03T09:00:00Z", "k1")])
    runner = CliRunner()
    said = runner.invoke(
        app, ["undo", "--event", "k1", "--integration", "dialer"], env={"LEADSYNC_DB": db_url}
    )
    assert said.exit_code == 0, said.output
    assert said.stdout == "event k1 changed no owner: nothing to undo\n"


def test_an_undo_that_took_back_only_the_last_change_says_the_earlier_ones_stand(
    workspace: Workspace,
) -> None:
    """Two changes of one integration, the last undone by itself; an undo of both then says
    the first still stands (it said "already undone", as if nothing remained)."""
    wins = settings(ownership={"default": "integration_wins"})
    workspace.apply_config(workspace_config({"dialer": wins}))
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1")])
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-01T10:00:00Z", "a2")])
    workspace.undo(event_id="a2", at="2026-11-03T09:00:00.000Z")  # back to a1's 101
    both = workspace.undo(integration="dialer", since="2026-01-01T00:00:00.000Z", dry_run=True)
    [skip] = both.skipped
    assert skip["reason"].startswith(
        "undone in part already: decision #3 (undo) put back at 2026-11-03T09:00:00Z the owner "
        "decision #2 had replaced; decision #1 before it still stands"
    ), skip["reason"]


def test_a_second_undo_of_the_same_changes_says_already_undone(workspace: Workspace) -> None:
    """An undo that took back both changes of one integration, run again: "already undone".
    It said the first change "still stands", as if the earlier undo had taken back only the
    last: the record's owner was the one before them both."""
    wins = settings(ownership={"default": "integration_wins"})
    workspace.apply_config(workspace_config({"dialer": wins}))
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1")])
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-01T10:00:00Z", "a2")])
    since = "2026-01-01T00:00:00.000Z"
    first = workspace.undo(integration="dialer", since=since, at="2026-11-03T09:00:00.000Z")
    [restored] = first.restored
    assert "undo of decisions #1, #2" in restored["reason"], restored["reason"]
    again = workspace.undo(integration="dialer", since=since, dry_run=True)
    [skip] = again.skipped
    assert skip["reason"] == (
        "already undone: decision #3 (undo) put the owner back at 2026-11-03T09:00:00Z"
    ), skip["reason"]


def test_a_removed_integrations_decisions_are_undone_by_its_name(workspace: Workspace) -> None:
    """An integration dropped from the file keeps its history; undoing what it did is why it
    was dropped: ``--integration`` takes its name (it was refused as unknown, though
    ``--event`` found its events). A name that never decided anything is still refused."""
    wins = settings(ownership={"default": "integration_wins"})
    workspace.apply_config(workspace_config({"dialer": wins, "other": wins}))
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1")])
    since = received_cut()
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-05T09:00:00Z", "b1")])
    workspace.apply_config(workspace_config({"other": wins}))  # dialer removed
    result = workspace.undo(integration="dialer", since=since)
    assert [(r["owner_id"], r["was"]) for r in result.restored] == [("101", "102")]
    assert record_by_external(workspace, "p-1")["owner_id"] == "101"
    with pytest.raises(NotFoundError, match="unknown integration 'dialr'"):
        workspace.undo(integration="dialr", since=since)
