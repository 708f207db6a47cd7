"""``leadsync undo --integration NAME --since TIME`` undoes the decisions leadsync made since
then — by their decided time — whatever time their events say they happened: an event that
arrives late (an old ``occurred_at``, decided in the window) is undone with the others, and
one decided before the window is left, even when its vendor's clock says a later time. On
SQLite and PostgreSQL, through the Python API and the command line (a backlog and a retried
dead letter: tests/test_decided_at.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.workspace import Workspace
from tests.helpers import contact_line, help_words, owner_of, settings, setup, workspace_config
from tests.test_undo import received_cut


def test_a_late_event_decided_in_the_window_is_undone(workspace: Workspace, db_url: str) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    # Before the window: p-1 gets 101; p-2 gets 101 from an event its vendor dates next year.
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "a1"),
            contact_line("p-2", "u-1", "2027-01-01T09:00:00Z", "ahead"),
        ],
    )
    since = received_cut()
    # In the window: an event of a month ago, arriving only now, moves p-1 to 102.
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-02T09:00:00Z", "late")])
    assert owner_of(workspace, "p-1") == "102"

    dry = workspace.undo(integration="dialer", since=since, dry_run=True)
    assert [(r["owner_id"], r["was"]) for r in dry.restored] == [("101", "102")]
    assert "late" not in json.dumps(dry.skipped)  # nothing skipped: p-2's is not in it

    runner = CliRunner()
    done = runner.invoke(
        app,
        ["undo", "--integration", "dialer", "--since", since, "--json"],
        env={"LEADSYNC_DB": db_url},
    )
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert [(r["owner_id"], r["was"]) for r in result["restored"]] == [("101", "102")]
    assert result["skipped"] == []
    assert owner_of(workspace, "p-1") == "101"
    assert owner_of(workspace, "p-2") == "101"  # decided before the window: left as it is


def test_the_help_says_since_is_by_when_decisions_were_made() -> None:
    shown = CliRunner().invoke(app, ["undo", "--help"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert "Undo the decisions leadsync made since then (their decided time" in help_words(
        shown.stdout
    )


SALESFORCE = Path(__file__).parent / "fixtures" / "webhooks" / "salesforce"


def test_an_events_further_decisions_are_undone_with_it(workspace: Workspace) -> None:
    """A change event naming two records is one inbox row whose events are KEY#RECORD:
    both records' decisions were made in the window, so both are undone."""
    wins = settings(
        ownership={"default": "integration_wins"},
        users={
            "auto_match": "none",
            "map": {"0055g00000AAAAAAAA": "101", "0055g00000BBBBBBBB": "102"},
        },
    )
    workspace.apply_config(workspace_config({"sf": {**wins, "kind": "salesforce"}}))
    body = json.loads((SALESFORCE / "cdc_multi_ids.json").read_text())

    def owner_change(owner: str, epoch_ms: int) -> str:
        changed = copy.deepcopy(body)
        changed["body"]["OwnerId"] = owner
        changed["body"]["ChangeEventHeader"]["commitTimestamp"] = epoch_ms
        return json.dumps(changed)

    workspace.ingest("sf", [owner_change("0055g00000AAAAAAAA", 1793533000000)])
    since = received_cut()
    workspace.ingest("sf", [owner_change("0055g00000BBBBBBBB", 1793533060000)])
    ids = sorted(d["event_id"].rsplit("#", 1)[1] for d in workspace.decisions("sf"))
    assert ids == ["00Q5g00000AbCdEEAV"] * 2 + ["00Q5g00000AbCdFEAV"] * 2  # KEY#RECORD
    result = workspace.undo(integration="sf", since=since)
    assert [(r["owner_id"], r["was"]) for r in result.restored] == [("101", "102")] * 2
