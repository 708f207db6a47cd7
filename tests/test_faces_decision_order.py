"""The owner-decision list is ordered by the time it shows: each line's time is its event's
(``event``; a person's change or an undo: when it was ``made``), newest first, in the text
and in ``--json`` alike, so a late event's decision sits at its own time instead of on top
of newer events. Skipped activities likewise (by the time shown, which ``--since`` reads).
A record's owner history stays in the order decided — its last row is the owner now — and
says so, and that each time is its event's (the command line, and the console in
Chromium). On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, sign_in
from tests.helpers import call_line, contact_line, record_by_external, setup
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


def test_decisions_are_listed_by_the_time_they_show(late: Workspace, db_url: str) -> None:
    cli = Cli(db_url)
    rows = cli.json("decisions", "list")
    shown = [(r["event_id"], r["at"]) for r in rows]
    assert [e for e, _ in shown] == [None, "e11", "e10", "e08"]
    assert [at for _, at in shown] == sorted((at for _, at in shown), reverse=True)
    listed = cli("decisions", "list")
    assert listed.exit_code == 0, listed.output
    heads = listed.stdout.splitlines()[::2]
    assert [h.split("  ")[0] for h in heads] == [
        "made 2026-11-01T12:00:00Z",
        "event 2026-11-01T11:00:00Z",
        "event 2026-11-01T10:00:00Z",
        "event 2026-11-01T08:00:00Z",
    ]


def test_skipped_activities_are_listed_by_the_time_they_show(late: Workspace, db_url: str) -> None:
    skips = Cli(db_url).json("activities", "skipped")
    assert [s["external_id"] for s in skips] == ["c-10", "c-08"]


def test_the_owner_history_says_its_order_and_whose_time(late: Workspace, db_url: str) -> None:
    p1 = record_by_external(late, "p-1")["id"]
    shown = Cli(db_url)("records", "show", "contact", str(p1))
    assert "owner history (2 decisions, in the order decided; each time is its event's)" in (
        shown.stdout
    )


@pytest.fixture
def live(late: Workspace) -> Iterator[LiveServer]:
    with console_server(late) as server:
        yield server


def test_the_record_page_names_the_time_of_its_owner_history(
    late: Workspace, live: LiveServer, browser: Any
) -> None:
    p1 = record_by_external(late, "p-1")["id"]
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    try:
        sign_in(page, live, PASSWORD, f"/records/contact/{p1}")
        table = page.locator("table.owner-history")
        assert table.locator("th").first.inner_text() == "Event time"
        note = page.locator("#history-order").inner_text()
        assert note.startswith("In the order leadsync decided them. Each time is when its event")
        assert table.get_attribute("aria-describedby") == "history-order"
    finally:
        context.close()
