"""A rep that maps to no owner while its integration's unmapped policy gives its records to a
fallback owner is said one way everywhere: it maps to no owner by the map or by email, and
its records go to the fallback owner by the policy — in ``leadsync report``, on the
console's Health and Integrations pages and on the settings page (the words of
:func:`leadsync.ops.users.unmapped_records`), never "maps to no owner" alone beside "the
fallback owner is used"."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from leadsync.cli import app as cli_app
from leadsync.model import add_days, now_ts
from leadsync.ops.monitor import Report
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, signed_in
from tests.helpers import contact_line, settings, workspace_config
from tests.live import LiveServer, wait_until

FALLBACK = {"auto_match": "email", "unmapped": {"policy": "fallback", "owner": "101"}}
LEAVE = {"auto_match": "email", "unmapped": {"policy": "leave"}}
GOES = "go to the fallback owner 101 (Ana Ng) by the unmapped policy"
SAID = (
    f"1 external user sent events and maps to no owner by the map or by email; its records {GOES}"
)
# "maps to no owner" said without what the policy does with the rep's records.
ALONE = re.compile(r"maps? to no owner(?! by the map or by email)")


def words(html: str) -> str:
    """The page's text as a person reads it: tags out, spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """``dialer`` gives the records of reps that map to nobody to Ana Ng (101); its rep u-7
    has no email and is in no map. ``caller`` leaves them (its rep u-8 likewise)."""
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(secret_env="DIALER_SECRET", users=FALLBACK),
                "caller": settings(secret_env="DIALER_SECRET", users=LEAVE),
            }
        )
    )
    at = add_days(now_ts(), -1)
    workspace.ingest("dialer", [contact_line("p-1", "u-7", at)])
    return workspace


def report(ws: Workspace) -> Report:
    return ws.report(add_days(now_ts(), -7))


@pytest.fixture
def live(ws: Workspace) -> Iterator[LiveServer]:
    with console_server(ws) as server:
        yield server


def test_the_report_says_where_a_fallback_reps_records_go(ws: Workspace, db_url: str) -> None:
    [unmapped] = [f for f in report(ws).findings if f.check == "unmapped_external_users"]
    assert unmapped.summary == SAID
    [row] = unmapped.rows
    assert row["how"].endswith("so the fallback owner 101 is used")
    printed = CliRunner().invoke(cli_app, ["--db", db_url, "report"], env={"COLUMNS": "250"})
    assert f"ALERT unmapped_external_users: {SAID}\n" in printed.output
    assert not ALONE.search(printed.output)


def test_reps_of_several_policies_are_each_said_with_theirs(ws: Workspace) -> None:
    ws.ingest("caller", [contact_line("p-2", "u-8", add_days(now_ts(), -1))])
    [unmapped] = [f for f in report(ws).findings if f.check == "unmapped_external_users"]
    assert unmapped.summary == (
        "2 external users sent events and map to no owner by the map or by email: "
        "the records of 1 keep the owner they have, flagged, by the unmapped policy (leave); "
        f"the records of 1 {GOES}"
    )  # (the most first; as many: in the rows' order, caller's u-8 before dialer's u-7)
    assert unmapped.parts["dialer"] == SAID


def test_the_console_says_it_one_way_on_every_page(live: LiveServer) -> None:
    client = signed_in(live.client, PASSWORD)

    def health() -> str | None:
        text = words(client.get("/health").text)
        return text if "Unmapped external users" in text else None

    shown = {
        "/health": wait_until(health, "the health snapshot"),
        "/": words(client.get("/").text),
        "settings": words(client.get("/integrations/dialer/settings").text),
    }
    assert SAID in shown["/health"]
    assert "u-7 (no email): 1 event" in shown["/health"]  # the rep's row on the card
    assert SAID in shown["/"]  # dialer's row, its own part of the check
    row = shown["settings"].partition("u-7")[2].partition("Owner for u-7")[0]
    assert f"unmapped its records {GOES}" in row
    for page in ("/health", "/"):  # (the settings page's policy is "When a user maps to …")
        assert not ALONE.search(shown[page]), page
