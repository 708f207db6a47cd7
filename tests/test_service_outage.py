"""The database away while the service runs: the admin API answers 503 problems with
``Retry-After`` and the console its error page, each request one log line without a traceback
(README: "A database outage is one warning line per failure"); both answer again once it is
back. The outage is the tables the pages read gone (a missing table, like a connection lost,
is the database failing every request alike); the console's page is the dead letters', which
reads its table at every request (the overview may answer from its health snapshot)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from leadsync.workspace import Workspace
from tests.browser import console_server, signed_in
from tests.helpers import settings, workspace_config
from tests.live import ADMIN_TOKEN, LiveServer


@pytest.fixture
def server(workspace: Workspace) -> Iterator[LiveServer]:
    workspace.apply_config(workspace_config({"dialer": settings()}))
    with console_server(workspace) as live:
        yield live


def away(workspace: Workspace, old: str, new: str) -> None:
    with workspace.engine.begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_an_outage_is_a_503_to_the_api_and_the_console_and_one_line_each(
    workspace: Workspace, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    api = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    browser = signed_in(server.client)
    assert server.client.get("/api/inbox/counts", headers=api).status_code == 200
    assert browser.get("/dead-letters", headers={"accept": "text/html"}).status_code == 200
    caplog.set_level(logging.INFO, logger="leadsync")
    away(workspace, "inbox", "inbox_away")
    away(workspace, "dead_letters", "dead_letters_away")
    try:
        answer = server.client.get("/api/inbox/counts", headers=api)
        page = browser.get("/dead-letters", headers={"accept": "text/html"})
    finally:
        away(workspace, "inbox_away", "inbox")
        away(workspace, "dead_letters_away", "dead_letters")
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "5"
    assert answer.json()["detail"] == "the database cannot be reached; try again in a moment"
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "5"
    assert "Database unavailable" in page.text and "Try again in a moment" in page.text
    lines = [r for r in caplog.records if r.name == "leadsync.api"]  # not the worker's own
    assert [r.getMessage().split(": database unavailable")[0] for r in lines] == [
        "GET /api/inbox/counts",
        "GET /dead-letters",
    ]
    assert all(r.exc_info is None for r in lines)
    # Back: both answer again.
    assert server.client.get("/api/inbox/counts", headers=api).status_code == 200
    assert browser.get("/dead-letters", headers={"accept": "text/html"}).status_code == 200
