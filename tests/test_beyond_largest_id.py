"""An id or a page bound past what the databases hold (BIGINT) is no record, letter, question
or page: a 404 or 400 in the console's layout, exit 2 on the command line — never a bare
500 or a driver's traceback (SQLite's driver refuses the number; PostgreSQL says "bigint out
of range")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.cli.app import LIST_MAX
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server
from tests.browser import signed_in as signed_in_as
from tests.helpers import KIM_CONTACT
from tests.live import LiveServer
from tests.test_console_settings import configured

BEYOND = "99999999999999999999999"
LAYOUT = '<header class="site-header">'


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(configured(workspace)) as server:
        yield server


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"/records/contact/{BEYOND}", 404),
        (f"/dead-letters/{BEYOND}", 404),
        (f"/review/{BEYOND}", 404),
        (f"/audit?before={BEYOND}", 400),
        (f"/records?by=email&q=k&after=k&after_id={BEYOND}", 400),
    ],
)
def test_the_console_answers_a_page_in_its_layout(live: LiveServer, url: str, status: int) -> None:
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        answer = signed_in_as(client, PASSWORD).get(url)
    assert answer.status_code == status, answer.text
    assert LAYOUT in answer.text
    assert "9223372036854775807" in answer.text  # what is allowed


@pytest.mark.parametrize(
    ("command", "said"),
    [
        (["records", "show", "contact", BEYOND], f"no contact with id {BEYOND}"),
        (["records", "set-owner", "contact", BEYOND, "none"], f"no contact with id {BEYOND}"),
        (["dead-letters", "show", BEYOND], f"no dead letter with id {BEYOND}"),
        (["dead-letters", "retry", BEYOND], f"no dead letter with id {BEYOND}"),
        (["review", "show", BEYOND], f"review item {BEYOND} does not exist"),
        (["review", "resolve", BEYOND, "--skip"], f"review item {BEYOND} does not exist"),
    ],
)
def test_the_command_line_says_there_is_none(
    workspace: Workspace, db_url: str, command: list[str], said: str
) -> None:
    configured(workspace)
    result = CliRunner().invoke(app, ["--db", db_url, *command])
    assert result.exit_code == 2, result.output
    assert said in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_timeline_limit_past_the_largest_shows_every_activity(workspace: Workspace) -> None:
    configured(workspace)
    summary = workspace.ingest("dialer", [json.dumps(KIM_CONTACT)])
    assert summary.ok, summary.to_dict()
    [found] = workspace.find(email="kim@globex.test")
    assert workspace.record("contact", found["id"], 10**30)["id"] == found["id"]


@pytest.mark.parametrize(
    "command",
    [
        ["decisions", "list", "--limit", BEYOND],
        ["activities", "list", "--limit", BEYOND],
        ["activities", "skipped", "--limit", BEYOND],
        ["outbox", "list", "--limit", BEYOND],
        ["review", "list", "--after", BEYOND],
        ["review", "list", "--limit", "9223372036854775807"],  # (one more is asked for)
        ["dead-letters", "list", "--before", BEYOND],
        ["dead-letters", "list", "--limit", "9223372036854775807"],
    ],
)
def test_a_page_bound_past_the_largest_is_refused_as_an_option(
    workspace: Workspace, db_url: str, command: list[str]
) -> None:
    configured(workspace)
    result = CliRunner().invoke(app, ["--db", db_url, *command])
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.replace("│", " ").split())
    # A page's bound is an id (at most the largest); a list's length at most LIST_MAX.
    most = str(LIST_MAX) if "--limit" in command else "922337203685477580"
    assert f"less than or equal to {most}" in said, said
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_push_failures_past_the_largest_id_are_none(workspace: Workspace, db_url: str) -> None:
    configured(workspace)
    result = CliRunner().invoke(app, ["--db", db_url, "push", "failures", "retry", BEYOND])
    assert result.exit_code == 2, result.output
    assert f"no open push failure with id {BEYOND}" in result.stderr


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("sqlite://", "is in memory: nothing would be kept past the command"),
        ("sqlite:///:memory:", "is in memory: nothing would be kept past the command"),
        ("postgresql+asyncpg://postgres@127.0.0.1/x", "its driver asyncpg is not installed"),
        ("postgresql://postgres@127.0.0.1:99999/x", "port 99999 is no port; allowed: 1 to 65535"),
    ],
)
def test_a_database_url_that_cannot_keep_a_workspace_is_refused(url: str, said: str) -> None:
    """An in-memory SQLite accepted init and apply, then kept nothing; an uninstalled driver
    was a traceback; a port out of range read as "unreachable" (exit 1: try again)."""
    result = CliRunner().invoke(app, ["--db", url, "init"])
    assert result.exit_code == 2, result.output
    assert said in result.stderr


def test_a_folder_given_as_the_database_is_named_a_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--db", str(tmp_path), "init"])
    assert result.exit_code == 2 and "is a folder; allowed: a file's path" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "/records/contact/3_5",
        "/dead-letters/1_0",
        "/review/1_0",
        "/review?after=1.0",
        "/review?after=%2B1",
        "/audit?before=1_0",
        "/records?by=email&q=k&after=k&after_id=1_0",
    ],
)
def test_the_console_takes_ids_written_in_digits_only_as_the_api_does(
    live: LiveServer, url: str
) -> None:
    """``/records/contact/3_5`` showed contact 35 and ``/review?after=1.0`` read 1, where the
    admin API refuses them: the lax parse reads ``1_0`` as 10."""
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        answer = signed_in_as(client, PASSWORD).get(url)
    assert answer.status_code in (400, 404) and LAYOUT in answer.text, answer.text
    assert "whole number in digits" in answer.text and "up to 9223372036854775807" in answer.text
