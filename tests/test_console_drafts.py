"""A change form sent after the admin's session ended (it expired, its token was rotated)
is kept through the sign-in: the sign-in page says so, and once signed in again the admin
is back on the form's page with their edits in the form, unsaved, and a note saying so —
they review and send it again. Never kept: the form token, a field that may hold a secret,
a form another site sent; never shown to another credential, nor after it expired. The
settings page reads a kept form over settings changed meanwhile as a stale tab's
(ops.settings_rebase). Over HTTP on SQLite and PostgreSQL, and in Debian's Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from leadsync.store.schema import console_drafts
from leadsync.web.auth import SESSION_COOKIE, Credentials
from leadsync.web.drafts import DRAFT_COOKIE, DRAFT_SECONDS
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, VIEWER_TOKEN, WIDE, console_server, form_token, sign_in
from tests.browser import signed_in as signed_in_as
from tests.live import ADMIN_TOKEN, LiveServer
from tests.test_console_conflicts import live
from tests.test_console_settings import PREVIEW, SAVE, form, sqlite_ws
from tests.test_console_stale_tab import (
    MIN_DURATION,
    SECRET,
    opened,
    preview_and_save,
    section,
    value_of,
)

__all__ = ["live", "sqlite_ws"]  # the conflicts tests' served workspaces, the settings' SQLite

SECRET_LABEL = "Admin token, console password or viewer token"
ROTATED = "admin-token-rotated-for-the-drafts-tests"


def kept_forms(workspace: Workspace) -> str:
    """Every kept form as the workspace database holds it (every column), as text."""
    with workspace.engine.connect() as connection:
        rows = connection.execute(sa.select(console_drafts)).mappings().all()
    return str([dict(row) for row in rows])


def rotate(live: LiveServer) -> None:
    """The admin token changes: every session it opened ends."""
    keys = live.app.state.console.keys
    keys.credentials = Credentials(ROTATED, PASSWORD, VIEWER_TOKEN)


@contextmanager
def browser_of(live: LiveServer) -> Iterator[httpx.Client]:
    """A browser's requests as Chromium sends a page's form: with its ``Origin``."""
    with httpx.Client(
        base_url=live.base_url, timeout=60, headers={"origin": live.base_url}
    ) as client:
        yield client


def sign_in_again(client: httpx.Client, secret: str) -> httpx.Response:
    """The sign-in page as the refused form left it, then signing in; the page landed on."""
    page = client.get("/login", params={"next": SAVE})
    said = client.post(
        "/login",
        data={"secret": secret, "csrf_token": form_token(page.text, "/login"), "next": SAVE},
    )
    assert said.status_code == 303, said.text
    return client.get(said.headers["location"])


def ended_with(client: httpx.Client, sent: dict[str, list[str]], path: str = PREVIEW) -> str:
    """The session ends (its cookie gone), the form is sent anyway: to sign in, the form
    kept; the sign-in page's text."""
    client.cookies.delete(SESSION_COOKIE)
    refused = client.post(path, data=sent)
    assert refused.status_code == 303
    assert refused.headers["location"] == "/login?next=%2Fintegrations%2Fdialer%2Fsettings"
    return client.get(refused.headers["location"]).text


def test_a_form_sent_after_the_token_was_rotated_comes_back_unsaved(
    workspace: Workspace, live: LiveServer
) -> None:
    with browser_of(live) as client:
        signed_in_as(client, ADMIN_TOKEN)
        sent = {**form(**{"activities.call.min_duration_s": "25"}), **opened(client.get(SAVE).text)}
        rotate(live)
        refused = client.post(SAVE, data={**sent, "previewed": ["0" * 20]})
        assert refused.headers["location"] == "/login?next=%2Fintegrations%2Fdialer%2Fsettings"
        login = client.get(refused.headers["location"]).text
        assert "Your edits are kept, not saved" in section(login, "kept-draft")
        assert sent["csrf_token"][0] not in kept_forms(workspace)
        back = sign_in_again(client, ROTATED)
        assert str(back.url) == f"{live.base_url}{SAVE}"
        assert "Your edits are back, not saved" in section(back.text, "draft-restored")
        assert value_of(back.text, "activities.call.min_duration_s") == "25"
        assert workspace.integration("dialer").activities.call.min_duration_s == 10
        again = client.get(SAVE)  # shown once
        assert 'id="draft-restored"' not in again.text
        assert value_of(again.text, "activities.call.min_duration_s") == "10"
        # Sent again from the page as it came back: saved.
        assert preview_and_save(client, {**sent, **opened(back.text)}).status_code == 303
    assert workspace.integration("dialer").activities.call.min_duration_s == 25


def test_settings_saved_meanwhile_are_kept_under_the_edits_as_in_a_stale_tab(
    workspace: Workspace, live: LiveServer
) -> None:
    with browser_of(live) as client, browser_of(live) as other:
        signed_in_as(client, PASSWORD)
        signed_in_as(other, ADMIN_TOKEN)
        mine = {**form(**{"activities.call.min_duration_s": "25"}), **opened(client.get(SAVE).text)}
        theirs = {**form(**{"ownership.protect_manual_days": "20"}), **opened(other.get(SAVE).text)}
        ended_with(client, mine)
        assert preview_and_save(other, theirs).status_code == 303
        back = sign_in_again(client, PASSWORD)
    assert back.status_code == 200
    assert 'id="draft-restored"' in back.text
    said = section(back.text, "changed-meanwhile")
    assert "<code>ownership.protect_manual_days</code>: 14 → 20" in said
    assert "<code>activities.call.min_duration_s</code>: 10 → 25" in said
    assert value_of(back.text, "ownership.protect_manual_days") == "20"  # theirs kept
    assert value_of(back.text, "activities.call.min_duration_s") == "25"  # mine kept
    assert workspace.integration("dialer").activities.call.min_duration_s == 10


def test_a_kept_form_holds_no_secret_and_says_so(workspace: Workspace, live: LiveServer) -> None:
    with browser_of(live) as client:
        signed_in_as(client, PASSWORD)
        tab = opened(client.get(SAVE).text)
        sent = {**form(secret_env=SECRET, **{"activities.call.min_duration_s": "25"}), **tab}
        login = ended_with(client, sent)
        assert SECRET not in kept_forms(workspace)
        assert "except Environment variable holding its webhook secret" in login
        back = sign_in_again(client, PASSWORD)
    assert SECRET not in back.text
    assert "Not kept, since it may hold a secret" in section(back.text, "draft-restored")
    assert value_of(back.text, "secret_env") == "DIALER_SECRET"  # as saved
    assert value_of(back.text, "activities.call.min_duration_s") == "25"


def test_another_credential_or_a_late_sign_in_gets_no_kept_form(
    workspace: Workspace, live: LiveServer
) -> None:
    sent = form(**{"activities.call.min_duration_s": "25"})
    for secret in (VIEWER_TOKEN, ADMIN_TOKEN):  # the form was the password session's
        with browser_of(live) as client:
            signed_in_as(client, PASSWORD)
            tab = opened(client.get(SAVE).text)
            live.app.state.console.keys.credentials = Credentials(ADMIN_TOKEN, "new-pw", None)
            refused = client.post(PREVIEW, data={**sent, **tab})
            assert DRAFT_COOKIE in refused.cookies
            client.cookies.delete(SESSION_COOKIE)
            live.app.state.console.keys.credentials = Credentials(
                ADMIN_TOKEN, PASSWORD, VIEWER_TOKEN
            )
            back = sign_in_again(client, secret)
            assert 'id="draft-restored"' not in back.text
            assert value_of(back.text, "activities.call.min_duration_s") == "10"
            assert DRAFT_COOKIE not in client.cookies
    drafts = live.app.state.console.drafts
    with browser_of(live) as client:
        signed_in_as(client, PASSWORD)
        ended_with(client, {**sent, **opened(client.get(SAVE).text)})
        now = drafts.clock()
        drafts.clock = lambda: now + DRAFT_SECONDS
        login = client.get(f"/login?next={SAVE}").text
        assert 'id="kept-draft"' not in login
        back = sign_in_again(client, PASSWORD)
    assert value_of(back.text, "activities.call.min_duration_s") == "10"


def test_a_form_another_site_sent_is_not_kept(workspace: Workspace, live: LiveServer) -> None:
    with browser_of(live) as client:
        signed_in_as(client, PASSWORD)
        tab = opened(client.get(SAVE).text)
        client.cookies.delete(SESSION_COOKIE)
        sent = {**form(**{"activities.call.min_duration_s": "25"}), **tab}
        for headers in ({"origin": "http://evil.example"}, {"sec-fetch-site": "cross-site"}):
            refused = client.post(PREVIEW, data=sent, headers=headers)
            assert refused.headers["location"] == "/login?next=%2Fintegrations%2Fdialer%2Fsettings"
            assert DRAFT_COOKIE not in refused.cookies
    assert kept_forms(workspace) == "[]"


def test_the_other_change_forms_come_back_too(workspace: Workspace, live: LiveServer) -> None:
    """One mechanism for every form a page fills again: adding an integration (and the
    dismiss reason, a review answer, the test lead, through the same Page.kept_draft)."""
    with browser_of(live) as client:
        signed_in_as(client, PASSWORD)
        page = client.get("/integrations/new").text
        client.cookies.delete(SESSION_COOKIE)
        sent = {
            "csrf_token": form_token(page, "/integrations/new"),
            "name": "dialer-emea",
            "kind": "generic",
            "secret_env": "EMEA_SECRET",
        }
        refused = client.post("/integrations/new", data=sent)
        assert refused.headers["location"] == "/login?next=%2Fintegrations%2Fnew"
        assert "/integrations/new" in section(client.get("/login").text, "kept-draft")
        login = client.get("/login")
        said = client.post(
            "/login",
            data={"secret": PASSWORD, "csrf_token": form_token(login.text, "/login")},
        )
        assert said.headers["location"] == "/integrations/new"
        back = client.get("/integrations/new").text
    assert 'id="draft-restored"' in back
    assert re.search(r'id="name" name="name" type="text" value="dialer-emea"', back)
    assert re.search(r'id="secret_env" name="secret_env" type="text" value="EMEA_SECRET"', back)
    assert "dialer-emea" not in workspace.rules().integrations


# ------------------------------------------------------------- in Chromium (SQLite)


@pytest.mark.parametrize("ended", ["cookie cleared", "token rotated"])
def test_in_chromium_edits_come_back_after_signing_in_again(
    sqlite_ws: Workspace, browser: Any, ended: str
) -> None:
    with console_server(sqlite_ws) as live:
        context = browser.new_context(viewport=WIDE)
        page = context.new_page()
        sign_in(page, live, ADMIN_TOKEN, SAVE)
        page.get_by_label(MIN_DURATION).fill("25")
        if ended == "cookie cleared":
            context.clear_cookies(name=SESSION_COOKIE)
            secret = ADMIN_TOKEN
        else:
            rotate(live)
            secret = ROTATED
        page.get_by_role("button", name="Preview the change").click()
        page.wait_for_url(f"{live.base_url}/login?next=%2Fintegrations%2Fdialer%2Fsettings")
        kept = page.locator("#kept-draft")
        assert "Your edits are kept, not saved" in kept.inner_text()
        page.get_by_label(SECRET_LABEL).fill(secret)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{live.base_url}{SAVE}")
        assert "Your edits are back, not saved" in page.locator("#draft-restored").inner_text()
        assert page.get_by_label(MIN_DURATION).input_value() == "25"
        assert sqlite_ws.integration("dialer").activities.call.min_duration_s == 10

        page.get_by_role("button", name="Preview the change").click()
        preview = page.locator("#preview section.preview")
        preview.wait_for()
        assert preview.locator("ul.changes li").all_inner_texts() == [
            "activities.call.min_duration_s: 10 → 25"
        ]
        page.get_by_role("button", name="Save these settings").click()
        page.wait_for_url(f"{live.base_url}{SAVE}?done=saved")
        context.close()
    assert sqlite_ws.integration("dialer").activities.call.min_duration_s == 25
