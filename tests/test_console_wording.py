"""The console's words, as the command line's: a value true or false is yes or no."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server
from tests.browser import signed_in as signed_in_as
from tests.live import LiveServer
from tests.test_console_settings import configured


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(configured(workspace)) as server:
        yield server


def test_the_record_page_says_yes_and_no_as_the_command_line_does(
    workspace: Workspace, live: LiveServer
) -> None:
    deal = {
        "id": "d1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record", "object": "deal",
        "external_id": "d-1", "properties": {"name": "Renewal", "is_closed": False},
    }  # fmt: skip
    assert workspace.ingest("dialer", [json.dumps(deal)]).ok
    [found] = workspace.find(external="dialer:d-1")
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        page = signed_in_as(client, PASSWORD).get(f"/records/deal/{found['id']}").text
    assert "<code>is_closed</code>: no" in page and "False" not in page
