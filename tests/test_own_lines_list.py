"""The company's own lines where admins look: ``leadsync lines list`` (text and ``--json``)
and ``GET /api/integrations/{name}/lines`` list each line with its integration, number,
name, how leadsync knows it (declared in ``own_numbers``, or learned from which event and
when) and how many calls are internal because of it; an empty list says so in words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leadsync.workspace import Workspace
from tests.helpers import run
from tests.live import LiveServer, serve
from tests.test_admin_api import problem_of
from tests.test_cli import Cli
from tests.test_own_lines import LINE_A, LINE_B, _call, _line, _setup

A = "+441130000000"
B = "+442079460100"
C = "+442079460199"
LEARNED_AT = "2026-11-01T10:00:00.000Z"

EXPECTED: list[dict[str, Any]] = [
    {
        "integration": "dialer",
        "number": A,
        "name": None,
        "line_id": None,
        "declared": True,
        "learned": False,
        "learned_at": None,
        "event_id": None,
        "how": "declared in dialer's own_numbers",
        "internal_calls": 1,
    },
    {
        "integration": "dialer",
        "number": B,
        "name": "Sales desk",
        "line_id": "line-7",
        "declared": False,
        "learned": True,
        "learned_at": LEARNED_AT,
        "event_id": "line-b",
        "how": "learned from dialer's events (first named 2026-11-01T10:00:00Z)",
        "internal_calls": 2,
    },
    {
        "integration": "dialer",
        "number": C,
        "name": None,
        "line_id": None,
        "declared": True,
        "learned": True,
        "learned_at": LEARNED_AT,
        "event_id": "call-3",
        "how": "declared in dialer's own_numbers; learned from dialer's events (first named "
        "2026-11-01T10:00:00Z) too",
        "internal_calls": 0,
    },
]


def _lines(ws: Workspace) -> None:
    """dialer: A declared; B named by a line event, C by a call's line_number, then declared
    too. Two calls to B and one from B to A are internal (the last counted under A, its other
    party); crm has no line."""
    _setup(ws, own_numbers=[LINE_A])
    run(
        ws,
        {**_line(), "id": "line-b"},
        {**_call("c1", LINE_B), "id": "call-1"},
        {**_call("c2", LINE_B), "id": "call-2"},
        {**_call("c3", LINE_A, from_number=LINE_B, line_number=C), "id": "call-3"},
    )
    _setup(ws, own_numbers=[LINE_A, "020 7946 0199"])


# ------------------------------------------------------------------ CLI


@pytest.fixture
def cli(workspace: Workspace, db_url: str) -> Cli:
    return Cli(db_url)


def test_lines_list_gives_each_line_with_how_it_is_known_and_its_internal_calls(
    workspace: Workspace, cli: Cli
) -> None:
    _lines(workspace)
    assert cli.json("lines", "list") == EXPECTED
    assert cli.json("lines", "list", "--integration", "dialer") == EXPECTED
    result = cli("lines", "list")
    assert result.exit_code == 0, result.stderr
    rows = [
        [cell.strip() for cell in line.strip().strip("│┃").replace("┃", "│").split("│")]
        for line in result.stdout.splitlines()
        if line.lstrip().startswith(("│", "┃"))
    ]
    assert rows == [
        ["integration", "number", "name", "how known", "internal calls"],
        *(
            [r["integration"], r["number"], r["name"] or "-", r["how"], str(r["internal_calls"])]
            for r in EXPECTED
        ),
    ]


@pytest.mark.parametrize("cut", [True, False])
def test_a_line_a_call_named_first_gets_the_name_and_id_its_line_event_gives(
    workspace: Workspace, cli: Cli, cut: bool
) -> None:
    """A call names the line first (no name there); the tool's line event for it comes
    after, in another batch or the same: the line gets its name and id, and keeps the call as
    the event that named it first. A later name does not replace the one it has."""
    _setup(workspace)
    call = {**_call("c1", LINE_A, line_number=LINE_B), "id": "call-1"}
    named = {**_line(), "id": "line-b"}
    renamed = {**_line(name="Support"), "id": "line-b2"}
    if cut:
        run(workspace, call)
        run(workspace, named)
        run(workspace, renamed)
    else:
        run(workspace, call, named, renamed)
    [line] = cli.json("lines", "list")
    assert (line["number"], line["name"], line["line_id"], line["event_id"]) == (
        B,
        "Sales desk",
        "line-7",
        "call-1",
    )


def test_an_empty_list_of_lines_says_so_in_words(workspace: Workspace, cli: Cli) -> None:
    _setup(workspace)
    result = cli("lines", "list")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        "no own lines: no integration has own_numbers declared, and no tool has named a line "
        "yet (Aircall names the line of every call)"
    )
    assert cli.json("lines", "list") == []
    _lines(workspace)
    result = cli("lines", "list", "--integration", "crm")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        "no own lines: crm has no own_numbers declared, and its tool has named no line yet "
        "(Aircall names the line of every call)"
    )
    assert cli.json("lines", "list", "--integration", "crm") == []


def test_lines_list_refuses_an_unknown_integration_naming_the_configured_ones(
    workspace: Workspace, cli: Cli
) -> None:
    _setup(workspace)
    result = cli("lines", "list", "--integration", "nope")
    assert result.exit_code == 2
    assert "unknown integration 'nope'; configured integrations: crm, dialer" in result.stderr


# ------------------------------------------------------------------ admin API


@pytest.fixture
def server(workspace: Workspace) -> Iterator[LiveServer]:
    _lines(workspace)
    with serve(workspace) as live:
        yield live


def test_the_admin_api_lists_an_integrations_lines_as_the_cli_does(server: LiveServer) -> None:
    response = server.client.get("/api/integrations/dialer/lines")
    assert response.status_code == 200, response.text
    assert response.json() == EXPECTED
    assert server.client.get("/api/integrations/crm/lines").json() == []


def test_the_lines_need_the_token_and_a_configured_integration(server: LiveServer) -> None:
    refused = httpx.get(f"{server.base_url}/api/integrations/dialer/lines")
    assert problem_of(refused, 401)["detail"] == "missing header Authorization: Bearer <token>"
    unknown = problem_of(server.client.get("/api/integrations/nope/lines"), 404)
    assert unknown["detail"] == "unknown integration 'nope'; configured integrations: crm, dialer"


def test_the_document_describes_the_lines_and_own_numbers(server: LiveServer) -> None:
    document = server.client.get("/openapi.json").json()
    operation = document["paths"]["/api/integrations/{name}/lines"]["get"]
    assert "own_numbers" in operation["description"] and "404" in operation["responses"]
    line = document["components"]["schemas"]["OwnLine"]["properties"]
    assert all(line[key].get("description") for key in ("how", "internal_calls", "declared"))
    settings = document["components"]["schemas"]["IntegrationSettings"]["properties"]
    assert "internal call" in settings["own_numbers"]["description"]
