"""The console's words, as the command line's: a value true or false is yes or no."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from leadsync.web.audit_page import changes
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, form_token
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


@contextmanager
def _admin(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        yield signed_in_as(client, PASSWORD)


def test_a_long_value_on_add_an_integration_comes_back_beside_its_field(live: LiveServer) -> None:
    """A 300-character value pasted as the secret's variable (a token, most likely): the form
    again with what was typed in the other fields and the reason beside the field — not a
    page saying only "Check these fields: secret_env", the rest of the form lost."""
    with _admin(live) as client:
        csrf = form_token(client.get("/integrations/new").text, "/integrations/new")
        sent = {"name": "hs1", "kind": "hubspot", "secret_env": "A" * 300, "csrf_token": csrf}
        page = client.post("/integrations/new", data=sent)
    assert page.status_code == 422, page.text
    assert 'value="hs1"' in page.text and "A" * 300 not in page.text
    assert "Incomplete form" not in page.text


def test_a_field_over_its_bound_is_named_with_what_is_allowed(live: LiveServer) -> None:
    with _admin(live) as client:
        csrf = form_token(client.get("/test-lead").text, "/test-lead")
        sent = {"integration": "dialer", "rep": "u" * 201, "csrf_token": csrf}
        page = client.post("/test-lead", data=sent)
    assert page.status_code == 400
    assert "rep: String should have at most 200 characters" in page.text


def test_a_choice_out_of_its_list_names_the_list(live: LiveServer) -> None:
    with _admin(live) as client:
        page = client.get("/integrations/dialer/settings?confirm=bogus")
    assert page.status_code == 400
    assert "allowed: one of promote, abort" in page.text


def test_a_change_of_a_rep_whose_id_holds_a_space_names_its_owner() -> None:
    [line] = changes("users.map.a b[0]: (not set) → 104", {"104": "Di Ro"})
    assert (line.path, line.old, line.new) == ("users.map.a b[0]", "(not set)", "Di Ro (104)")
    [other] = changes("integrations added: dialer", {})
    assert other.path is None  # a sentence, not a key path
