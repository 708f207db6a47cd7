"""The owner-decision list is ordered by when leadsync made each decision, newest decided
first, and shows both times by name: "decided" (``decided_at``) and "event" (``at``, when
its event happened; "dated" for a person's change or an undo, which have no event) — in the
text and in ``--json`` alike, so a late event's decision is listed where it was decided,
with its older event time, and a change just made is on top. Skipped activities are listed
by the time they show (which ``--since`` reads). A record's owner history is oldest decided
first — its last row is the owner now — with both times (the command line, and the console
in Chromium). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.model import display_ts
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, sign_in
from tests.helpers import call_line, contact_line, help_words, record_by_external, setup
from tests.live import LiveServer
from tests.test_cli import Cli

T = "2026-11-01T{}:00:00Z"


@pytest.fixture
def late(workspace: Workspace) -> Workspace:
    """p-1 at 10:00 and p-2 at 11:00, then an event of 08:00 arriving last (p-3); and a
    person's change made at 12:00 on p-1. Calls skipped (too short) the same way."""
    setup(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", T.format(10), "e10")])
    workspace.ingest("dialer", [contact_line("p-2", "u-1", T.format(11), "e11")])
    workspace.ingest("dialer", [contact_line("p-3", "u-1", T.format("08"), "e08")])
    p1 = record_by_external(workspace, "p-1")["id"]
    workspace.set_owner("contact", p1, "102", at="2026-11-01T12:00:00.000Z")
    workspace.ingest("dialer", [call_line("c-10", "p-1", 3, T.format(10))])
    workspace.ingest("dialer", [call_line("c-08", "p-1", 3, T.format("08"))])
    return workspace


def test_decisions_are_listed_newest_decided_first_with_both_times(
    late: Workspace, db_url: str
) -> None:
    cli = Cli(db_url)
    rows = cli.json("decisions", "list")
    assert [(r["event_id"], r["at"][11:16]) for r in rows] == [
        (None, "12:00"),  # the person's change, made last
        ("e08", "08:00"),  # the late event, decided after e11
        ("e11", "11:00"),
        ("e10", "10:00"),
    ]
    decided = [r["decided_at"] for r in rows]
    assert decided == sorted(decided, reverse=True)
    listed = cli("decisions", "list")
    assert listed.exit_code == 0, listed.output
    heads = listed.stdout.splitlines()[::2]
    assert [h.split("  ")[:2] for h in heads] == [
        [f"decided {display_ts(decided[0])}", "dated 2026-11-01T12:00:00Z"],
        [f"decided {display_ts(decided[1])}", "event 2026-11-01T08:00:00Z"],
        [f"decided {display_ts(decided[2])}", "event 2026-11-01T11:00:00Z"],
        [f"decided {display_ts(decided[3])}", "event 2026-11-01T10:00:00Z"],
    ]
    shown = CliRunner().invoke(app, ["decisions", "list", "--help"], env={"COLUMNS": "200"})
    assert "newest decided first" in help_words(shown.stdout)


def test_skipped_activities_are_listed_by_the_time_they_show(late: Workspace, db_url: str) -> None:
    skips = Cli(db_url).json("activities", "skipped")
    assert [s["external_id"] for s in skips] == ["c-10", "c-08"]


def test_the_owner_history_shows_when_each_was_decided_and_its_event(
    late: Workspace, db_url: str
) -> None:
    p1 = record_by_external(late, "p-1")["id"]
    cli = Cli(db_url)
    history = cli.json("records", "show", "contact", str(p1))["owner_history"]
    assert [(h["event_id"], h["at"][11:16]) for h in history] == [("e10", "10:00"), (None, "12:00")]
    assert history[0]["decided_at"] <= history[1]["decided_at"]
    shown = cli("records", "show", "contact", str(p1))
    assert "owner history (2 decisions, oldest decided first)" in shown.stdout
    lines = [line.strip() for line in shown.stdout.splitlines() if "decided 20" in line]
    assert [line.split("  ")[:2] for line in lines] == [
        [f"decided {display_ts(history[0]['decided_at'])}", "event 2026-11-01T10:00:00Z"],
        [f"decided {display_ts(history[1]['decided_at'])}", "dated 2026-11-01T12:00:00Z"],
    ]


@pytest.fixture
def live(late: Workspace) -> Iterator[LiveServer]:
    with console_server(late) as server:
        yield server


def test_the_record_page_shows_both_times_of_its_owner_history(
    late: Workspace, live: LiveServer, browser: Any
) -> None:
    p1 = record_by_external(late, "p-1")["id"]
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    try:
        sign_in(page, live, PASSWORD, f"/records/contact/{p1}")
        table = page.locator("table.owner-history")
        heads = table.locator("thead th").all_inner_texts()
        assert heads[:2] == ["Decided", "Event time"]
        history = late.record("contact", p1)["owner_history"]
        cells = [
            table.locator("tbody tr").nth(n).locator("td").all_inner_texts()[:2]
            for n in range(len(history))
        ]
        assert cells == [
            [display_ts(history[0]["decided_at"]), "2026-11-01T10:00:00Z"],
            [display_ts(history[1]["decided_at"]), "2026-11-01T12:00:00Z (dated; no event)"],
        ]
        note = page.locator("#history-order").inner_text()
        assert note.startswith("Oldest decided first: the last row gave the owner the record")
        assert "Decided is when leadsync made the decision" in note
        assert table.get_attribute("aria-describedby") == "history-order"
    finally:
        context.close()


def test_a_decision_not_taken_shows_the_owner_its_event_proposed(
    workspace: Workspace, db_url: str
) -> None:
    """A decision not taken (fill_if_empty keeps the owner) read `101 Ana Diaz -> 101 Ana
    Diaz`: what its event proposed showed only in --json (found by a probe)."""
    setup(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", T.format(10), "e10")])
    workspace.ingest("dialer", [contact_line("p-1", "u-9", T.format(11), "e11")])  # u-9: 102
    cli = Cli(db_url)
    [ignored] = [r for r in cli.json("decisions", "list") if r["outcome"] != "set"]
    assert (ignored["owner_id"], ignored["proposed_owner_id"]) == ("101", "102")
    names = workspace.owner_names()
    shown = f"101 {names['101']} -> 101 {names['101']} (proposed 102 {names['102']})"
    assert shown in cli("decisions", "list").stdout
    record = record_by_external(workspace, "p-1")["id"]
    assert shown in cli("records", "show", "contact", str(record)).stdout
    set_line = next(
        line for line in cli("decisions", "list").stdout.splitlines() if " set " in line
    )
    assert "proposed" not in set_line
