"""A list filtered by an integration the workspace does not know is refused the same way by
every face — the core's one check (``ops.listings.check_filter``) — naming the configured
integrations, never an empty list as if nothing matched: exit 2 on the command line, a 400
problem over the admin API, a 400 page in the console (in Chromium too). An integration
removed since keeps its rows listable, and a signed-out visitor learns no integration's
name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.errors import NotFoundError
from leadsync.ops.listings import UnknownIntegration
from leadsync.ops.settings_change import Actor
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, sign_in, signed_in
from tests.helpers import setup
from tests.live import ADMIN_TOKEN, LiveServer
from tests.test_cli import Cli

UNKNOWN = "unknown integration 'nope'; configured integrations: dialer"
API_LISTS = ["/api/inbox", "/api/dead-letters", "/api/dead-letters/count", "/api/review"]
CONSOLE_LISTS = ["/dead-letters", "/review", "/audit"]
ADMIN = Actor("admin", "cli: leadsync apply leadsync.yaml")


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    setup(workspace)
    with console_server(workspace) as server:
        yield server


def test_the_admin_api_answers_an_unknown_integration_with_a_400_problem(
    live: LiveServer, subtests: pytest.Subtests
) -> None:
    bearer = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    for path in API_LISTS:
        with subtests.test(path=path):
            answer = live.client.get(path, params={"integration": "nope"}, headers=bearer)
            assert answer.status_code == 400, answer.text
            assert answer.headers["content-type"] == "application/problem+json"
            problem = answer.json()
            assert problem["detail"] == UNKNOWN
            assert problem["title"] == "Unknown integration"
            known = live.client.get(path, params={"integration": "dialer"}, headers=bearer)
            assert known.status_code == 200, known.text
    # A lookup by path is about a resource: still 404.
    lookup = live.client.get("/api/lookup/external/nope/p-1", headers=bearer)
    assert lookup.status_code == 404


def test_console_lists_say_the_integration_is_unknown(
    live: LiveServer, subtests: pytest.Subtests
) -> None:
    anonymous = live.client.get("/dead-letters", params={"integration": "nope"})
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    client = signed_in(live.client, PASSWORD)
    for path in CONSOLE_LISTS:
        with subtests.test(path=path):
            page = client.get(path, params={"integration": "nope"})
            assert page.status_code == 400, page.text
            assert "<h1>Unknown integration</h1>" in page.text
            assert UNKNOWN.replace("'", "&#39;") in page.text
            assert client.get(path, params={"integration": "dialer"}).status_code == 200
            assert client.get(path, params={"integration": ""}).status_code == 200


def test_a_removed_integration_with_rows_is_still_a_filter(
    workspace: Workspace, live: LiveServer
) -> None:
    """Removed since, with only audit entries left: still a filter everywhere (an empty
    list is then the truth); a name with no rows at all is refused."""
    workspace.add_integration("crm5", {"kind": "generic"}, by=ADMIN)
    config = workspace.export_config()
    del config.integrations["crm5"]
    workspace.apply_config(config, ADMIN)
    assert workspace.decisions("crm5") == []
    assert signed_in(live.client, PASSWORD).get("/dead-letters?integration=crm5").is_success
    with pytest.raises(UnknownIntegration, match="configured integrations: dialer"):
        workspace.decisions("nope")
    with pytest.raises(NotFoundError):  # what Python callers caught before
        workspace.decisions("nope")


def test_the_command_line_refuses_it_with_exit_2(workspace: Workspace, db_url: str) -> None:
    setup(workspace)  # no server beside it: its log lines would share the captured stderr
    cli = Cli(db_url)
    refused = cli("dead-letters", "list", "--integration", "nope")
    assert refused.exit_code == 2
    assert refused.stderr == f"error: {UNKNOWN}\n"


def test_in_chromium_the_dead_letters_page_names_the_configured_integrations(
    live: LiveServer, browser: Any
) -> None:
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    try:
        sign_in(page, live, PASSWORD, "/dead-letters")
        answer = page.goto(f"{live.base_url}/dead-letters?integration=nope")
        assert answer is not None and answer.status == 400
        assert page.get_by_role("heading", level=1).inner_text() == "Unknown integration"
        assert UNKNOWN in page.get_by_role("alert").inner_text()
    finally:
        context.close()
