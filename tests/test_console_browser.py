"""The console as a person uses it, in Debian's Chromium driven by Playwright, against the
real service over a SQLite workspace: sign in and out, the overview's numbers, a dead letter
retried and another dismissed, the test lead, and the viewer who can change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.browser import (
    PASSWORD,
    VIEWER_TOKEN,
    WIDE,
    console_server,
    sign_in,
)
from tests.helpers import KIM_CONTACT
from tests.live import ADMIN_TOKEN, LiveServer, compact, configure, wait_applied

KIM = KIM_CONTACT
UNREADABLE = {**KIM, "id": "bad-1", "type": "meeting_booked"}


@pytest.fixture
def ws(tmp_path: Path, sqlite_template: Path) -> Iterator[Workspace]:
    path = tmp_path / "console.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as workspace:
        configure(workspace)
        yield workspace


@pytest.fixture
def live(ws: Workspace) -> Iterator[LiveServer]:
    with console_server(ws) as server:
        yield server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE)
    yield context.new_page()
    context.close()


def post(ws: Workspace, live: LiveServer, *events: dict[str, Any]) -> None:
    for event in events:
        assert live.post_generic("dialer", compact(event)).status_code == 200
    wait_applied(ws)


def test_sign_in_with_the_token_then_sign_out(live: LiveServer, page: Any) -> None:
    page.goto(f"{live.base_url}/dead-letters")
    assert page.url == f"{live.base_url}/login?next=%2Fdead-letters"
    page.get_by_label("Admin token, console password or viewer token").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "That token or password is not right."
    page.get_by_label("Admin token, console password or viewer token").fill(ADMIN_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.base_url}/dead-letters")
    assert page.get_by_role("heading", level=1).inner_text() == "Dead letters"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{live.base_url}/login?out=1")
    assert page.get_by_text("You are signed out").is_visible()
    page.goto(f"{live.base_url}/")
    assert page.url == f"{live.base_url}/login?next=%2F"


def test_the_overview_shows_each_integration_with_its_numbers(
    ws: Workspace, live: LiveServer, page: Any
) -> None:
    post(ws, live, KIM, UNREADABLE)
    sign_in(page, live, PASSWORD)
    dialer = page.locator('tr[data-integration="dialer"]')
    assert dialer.locator("td").nth(0).inner_text() == "generic"
    assert dialer.locator("code.url").inner_text() == f"{live.base_url}/webhooks/dialer"
    assert dialer.locator("td").nth(2).inner_text() == "set (DIALER_SECRET)"
    assert dialer.locator(".events-today").inner_text() == "2"
    assert dialer.locator(".last-event").inner_text() != "never"
    assert dialer.locator(".dead-letters").inner_text() == "1"
    # The badges are the health snapshot's, which may predate the dead letter: an admin's
    # "Refresh now" takes another, and the page reloads with it.
    assert page.locator("#snapshot-status time").inner_text().count(":") == 2
    with page.expect_navigation():
        page.get_by_role("button", name="Refresh now").click()
    assert dialer.locator(".badge").inner_text() == "alert"
    assert dialer.locator(".reasons").inner_text().startswith("1 unresolved dead letter ")
    assert page.locator('tr[data-integration="router"] .badge').inner_text() == "waiting"
    nosecret = page.locator('tr[data-integration="nosecret"]')
    assert nosecret.locator("td").nth(2).inner_text() == "not set (UNSET_SECRET_FOR_TESTS)"
    assert nosecret.locator(".badge").inner_text() == "waiting"
    assert nosecret.locator(".last-event").inner_text() == "never"
    rows = page.locator("tbody tr")
    assert rows.count() == 6
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    dialer.locator(".dead-letters a").click()
    page.wait_for_url(f"{live.base_url}/dead-letters?integration=dialer")


def test_a_dead_letter_is_retried_and_another_dismissed(
    ws: Workspace, live: LiveServer, page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first reads but the database refuses it (it can be retried); the second cannot
    # be read at all (a retry is refused: it is dismissed).
    from leadsync.pipeline import drain as drain_module

    applying = drain_module.apply_batch

    def refused(connection: Any, rules: Any, events: Any) -> Any:
        if any(e.id == "kim-refused" for e in events):
            raise ValueError("refused by the test")
        return applying(connection, rules, events)

    monkeypatch.setattr(drain_module, "apply_batch", refused)
    post(ws, live, {**KIM, "id": "kim-refused"}, UNREADABLE)
    letters = ws.dead_letters()
    [first] = [d["id"] for d in letters if d["event_id"] == "kim-refused"]
    [second] = [d["id"] for d in letters if d["id"] != first]
    sign_in(page, live, ADMIN_TOKEN, "/dead-letters")
    page.get_by_role("link", name=f"#{first}").click()
    assert '"id": "kim-refused"' in page.locator("pre.body").inner_text()
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(f"{live.base_url}/dead-letters/{first}?done=retried")
    assert page.locator("dd.state").inner_text().startswith("retried by console (token)")
    assert ws.dead_letter(first)["state"] == "retried"

    page.goto(f"{live.base_url}/dead-letters/{second}")
    assert '"type": "meeting_booked"' in page.locator("pre.body").inner_text()
    page.get_by_role("button", name="Retry").click()
    page.wait_for_load_state()
    assert "it still cannot be read" in page.content()
    assert ws.dead_letter(second)["state"] == "open"
    page.get_by_label("Why it cannot be fixed (kept with the letter)").fill("a malformed test")
    page.get_by_role("button", name="Dismiss").click()
    page.wait_for_url(f"{live.base_url}/dead-letters/{second}?done=dismissed")
    letter = ws.dead_letter(second)
    assert (letter["state"], letter["dismissed_reason"]) == ("dismissed", "a malformed test")


def test_the_test_lead_shows_each_check(ws: Workspace, live: LiveServer, page: Any) -> None:
    post(ws, live, KIM)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, live, ADMIN_TOKEN, "/test-lead")
    with page.expect_response(lambda r: "/test-lead/reps" in r.url):
        page.get_by_label("Integration").select_option("dialer")
    page.wait_for_load_state("networkidle")
    assert errors == []  # the rep list loads without htmx complaining
    # A keyboard user arrows through the integrations: the select keeps the focus while
    # the rep list reloads (it was disabled meanwhile, and the focus fell to the body).
    select = page.get_by_label("Integration")
    select.focus()
    with page.expect_response(lambda r: "/test-lead/reps" in r.url):
        page.keyboard.press("ArrowUp")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.activeElement.id") == "integration"
    select.select_option("dialer")
    page.wait_for_load_state("networkidle")
    page.get_by_label("Rep (external user id)").fill("u-1")
    page.get_by_role("button", name="Run the test lead").click()
    result = page.locator("#test-lead-result section")
    result.wait_for()
    assert result.get_by_role("heading").inner_text() == "Passed: test lead for u-1 on dialer"
    checks = result.locator("li.check")
    assert checks.count() >= 2
    assert result.locator("li.check-fail").count() == 0
    assert page.url == f"{live.base_url}/test-lead"  # swapped in by htmx, no reload


def test_the_viewer_sees_pages_with_every_change_control_disabled(
    ws: Workspace, live: LiveServer, page: Any
) -> None:
    post(ws, live, UNREADABLE)
    [letter] = ws.dead_letters()
    sign_in(page, live, VIEWER_TOKEN, f"/dead-letters/{letter['id']}")
    assert page.get_by_role("button", name="Retry").is_disabled()
    assert page.get_by_role("button", name="Dismiss").is_disabled()
    assert page.get_by_label("Why it cannot be fixed (kept with the letter)").is_disabled()
    # The server refuses too: the same form sent from the page with its own CSRF token.
    status = page.evaluate(
        """async (url) => {
            const form = new FormData();
            form.append("csrf_token", document.querySelector("input[name=csrf_token]").value);
            return (await fetch(url, {method: "POST", body: new URLSearchParams(form)})).status;
        }""",
        f"/dead-letters/{letter['id']}/retry",
    )
    assert status == 403
    assert ws.dead_letter(letter["id"])["state"] == "open"
    page.goto(f"{live.base_url}/test-lead")
    assert page.get_by_role("button", name="Run the test lead").is_disabled()
    page.goto(f"{live.base_url}/")
    assert page.locator('tr[data-integration="dialer"]').count() == 1


def test_a_preview_the_service_does_not_answer_says_so(live: LiveServer, page: Any) -> None:
    """The service cannot be reached when Preview is pressed (the request gets no answer at
    all): the page says so, rather than leaving the preview empty; the next answered request
    takes the alert away."""
    sign_in(page, live, PASSWORD, "/integrations/dialer/settings")
    page.route("**/preview**", lambda route: route.abort("connectionrefused"))
    page.get_by_role("button", name="Preview the change").click()
    alert = page.locator("#unreachable[role=alert]")
    alert.wait_for()
    assert "could not be reached, so nothing was done" in alert.inner_text()
    page.unroute("**/preview**")
    page.get_by_role("button", name="Preview the change").click()
    page.locator("#preview section.preview").wait_for()
    assert page.locator("#unreachable").count() == 0
