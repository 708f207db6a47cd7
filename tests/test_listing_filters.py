"""Every list filtered by integration refuses a name that is neither configured nor in the
workspace's rows, the same way everywhere — ``unknown integration 'nope'; configured
integrations: …`` — exit 2 on the command line, 400 over the admin API, NotFoundError from the
Python API — rather than an empty list; an integration removed since still lists its rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from leadsync.errors import NotFoundError
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, settings, setup, workspace_config
from tests.live import serve
from tests.test_cli import Cli

UNKNOWN = "unknown integration 'nope'; configured integrations: dialer"

LISTS = [
    ["decisions", "list"],
    ["outbox", "list"],
    ["activities", "list"],
    ["activities", "skipped"],
    ["review", "list"],
    ["dead-letters", "list"],
]


@pytest.fixture
def cli(db_url: str) -> Cli:
    with Workspace(db_url) as ws:
        setup(ws)
        ws.ingest("dialer", [contact_line("p-1", "u-1"), call_line("c-1", "p-1", 3)])
    return Cli(db_url)


@pytest.mark.parametrize("command", LISTS, ids=" ".join)
def test_each_list_refuses_an_unknown_integration(cli: Cli, command: list[str]) -> None:
    for json_flag in ([], ["--json"]):
        refused = cli(*command, "--integration", "nope", *json_flag)
        assert refused.exit_code == 2, refused.output
        assert refused.stderr == f"error: {UNKNOWN}\n"
        said = [{"place": None, "message": UNKNOWN}]
        assert (
            refused.stdout == ""
            if not json_flag
            else json.loads(refused.stdout)
            == {
                "ok": False,
                "errors": said,
            }
        )
    assert cli(*command, "--integration", "dialer").exit_code == 0


def test_the_review_api_refuses_an_unknown_integration(workspace: Workspace) -> None:
    setup(workspace)
    with serve(workspace) as live:
        answer = live.client.get("/api/review", params={"integration": "nope"})
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["detail"] == UNKNOWN
        assert live.client.get("/api/review", params={"integration": "dialer"}).status_code == 200


LISTINGS: dict[str, Callable[[Workspace, str], Any]] = {
    "decisions": lambda ws, name: ws.decisions(name),
    "outbox": lambda ws, name: ws.outbox(name),
    "activities": lambda ws, name: ws.activities(name),
    "skipped_activities": lambda ws, name: ws.skipped_activities(name),
}


def test_the_python_api_refuses_it_and_a_removed_integration_still_lists(
    workspace: Workspace, subtests: pytest.Subtests
) -> None:
    setup(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1"), call_line("c-1", "p-1", 3)])
    for name, listing in LISTINGS.items():
        with subtests.test(listing=name), pytest.raises(NotFoundError, match=UNKNOWN):
            listing(workspace, "nope")
    workspace.apply_config(workspace_config({"other": settings()}))
    assert "dialer" not in workspace.rules().integrations
    assert [d["integration"] for d in workspace.decisions("dialer")] == ["dialer"]
    assert [s["external_id"] for s in workspace.skipped_activities("dialer")] == ["c-1"]
    with pytest.raises(NotFoundError, match="configured integrations: other"):
        workspace.decisions("nope")
