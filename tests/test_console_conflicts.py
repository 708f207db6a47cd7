"""Conflicts in the console: a change refused because what it changes changed meanwhile (a
dead letter, a review question or a rollout someone else resolved first, an integration
removed before its test lead) is a page in the console's layout that says what was not done
and why, with a link back to the page the form was on — not the workspace's bare words under
"Conflict" with a link to the integrations. On SQLite and PostgreSQL over HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from leadsync.ops.settings_change import Actor
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, form_token
from tests.browser import signed_in as signed_in_as
from tests.live import LiveServer
from tests.test_console_settings import PREVIEW, SAVE, configured
from tests.test_review_faces import queue_questions
from tests.test_rollout_change import audit_example

ADMIN = Actor("admin", "another admin (token)")
LAYOUT = '<header class="site-header">'


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(configured(workspace)) as server:
        yield server


@contextmanager
def signed_in(live: LiveServer) -> Iterator[httpx.Client]:
    """An admin's browser session on the live server (its own cookies)."""
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        yield signed_in_as(client, PASSWORD)


def error_page(response: httpx.Response, status: int, title: str) -> str:
    """The console's error page in its layout: its status and title; its text."""
    assert response.status_code == status, response.text
    assert LAYOUT in response.text and f"<h1>{title}</h1>" in response.text
    return response.text


def test_a_dead_letter_resolved_in_another_tab_is_a_page_with_a_way_back(
    workspace: Workspace, live: LiveServer
) -> None:
    workspace.ingest("dialer", ["{not json"])
    [letter] = workspace.dead_letters()
    number = int(letter["id"])
    with signed_in(live) as admin:
        token = form_token(admin.get(f"/dead-letters/{number}").text)
        workspace.dismiss_dead_letters([number], "a test event", by="another admin")
        for action, title in (("retry", "Not retried"), ("dismiss", "Not dismissed")):
            sent = {"csrf_token": token, "reason": "mine"}
            html = error_page(admin.post(f"/dead-letters/{number}/{action}", data=sent), 409, title)
            assert f"Dead letter {number} was dismissed at" in html
            assert "by another admin: a test event. Nothing was changed." in html
            assert f'<a href="/dead-letters/{number}">Back to dead letter #{number}</a>' in html
    assert workspace.dead_letter(number)["dismissed_reason"] == "a test event"


def test_a_question_answered_in_another_tab_says_so_on_its_page(ws: Workspace) -> None:
    workspace = ws  # the served tests' integrations
    queue_questions(workspace)
    with console_server(workspace) as live, signed_in(live) as admin:
        token = form_token(admin.get("/review/2").text, "/review/2/skip")
        workspace.resolve_review(2, skip=True, by=ADMIN)
        skipped = admin.post("/review/2/skip", data={"csrf_token": token})
        assert skipped.headers["location"] == "/review/2?done=refused"
        shown = admin.get(skipped.headers["location"])
    assert shown.status_code == 200 and LAYOUT in shown.text
    said = shown.text[shown.text.index('id="refused-title"') :]
    assert "Not applied" in said and "review item 2 is skipped already (by another admin" in said
    assert "(nothing was changed)." in said
    assert workspace.review_item(2).closed_by == "another admin (token)"


def test_a_rollout_ended_in_another_tab_is_a_page_back_to_the_settings(
    workspace: Workspace,
) -> None:
    with console_server(audit_example(workspace)) as live, signed_in(live) as admin:
        confirm = admin.get(SAVE, params={"confirm": "promote"}).text
        token = form_token(confirm, PREVIEW)
        [seen] = re.findall(r'name="seen" value="([0-9a-f]+)"', confirm)
        htmx = {"hx-request": "true"}
        stale = admin.post(
            "/integrations/dialer/rollout/promote",
            data={"csrf_token": token, "seen": "0" * 20},
            headers=htmx,
        )  # htmx takes the page's main from it (HX-Reselect): the whole page, not a part
        assert stale.status_code == 409 and stale.headers["hx-reselect"] == "#main"
        assert '<main id="main"' in stale.text and "so nothing was done" in stale.text
        workspace.rollout_abort("dialer", ADMIN)
        gone = admin.post(
            "/integrations/dialer/rollout/promote", data={"csrf_token": token, "seen": seen}
        )
        html = error_page(gone, 409, "Not promoted")
    assert "Integration dialer has no rollout to promote. Nothing was changed." in html
    assert f'<a href="{SAVE}">Back to the settings of dialer</a>' in html


def test_a_test_lead_of_an_integration_removed_meanwhile_links_back_to_its_page(
    workspace: Workspace, live: LiveServer
) -> None:
    with signed_in(live) as admin:
        token = form_token(admin.get("/test-lead").text, "/test-lead")
        config = workspace.export_config()
        del config.integrations["dialer"]
        workspace.apply_config(config)
        sent = {"csrf_token": token, "integration": "dialer", "rep": "u-1"}
        html = error_page(admin.post("/test-lead", data=sent), 404, "Not found")
    assert '<a href="/test-lead">Back to the page you were on</a>' in html
