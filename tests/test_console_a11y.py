"""Every console page, in Chromium at 1280 px and at a phone's width: usable without a
mouse and without sideways scrolling of the page, every form control labelled, a skip link
to the content, and the focus visible."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.browser import WIDE, console_server, sign_in
from tests.live import ADMIN_TOKEN, LiveServer, compact, configure, wait_applied
from tests.test_review_faces import queue_questions

PHONE = {"width": 390, "height": 844}
EVENT = {
    "id": "e1",
    "occurred_at": "2026-11-01T09:00:00Z",
    "type": "record",
    "object": "contact",
    "external_id": "p-1",
    "properties": {"email": "kim@globex.test", "firstname": "Kim"},
    "owner": "u-1",
}

# What a page must give: controls without a label (by <label>, aria-label or
# aria-labelledby), and how far the page itself is wider than the window.
AUDIT = """() => {
  const unlabelled = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
      || el.getAttribute('aria-labelledby');
    if (!named) unlabelled.push(el.outerHTML.slice(0, 120));
  }
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  const skip = document.querySelector('a[href="#main"], a[href="#content"]');
  return {unlabelled, overflow, skip: skip ? skip.getAttribute('href') : null};
}"""


@pytest.fixture
def live(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Workspace, LiveServer]]:
    path = tmp_path / "console.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws:
        configure(ws)
        queue_questions(ws)  # the review page with a question to answer
        with console_server(ws) as server:
            assert server.post_generic("dialer", compact(EVENT)).status_code == 200
            wait_applied(ws)
            yield ws, server


def _pages(ws: Workspace) -> list[str]:
    record = ws.find(email="kim@globex.test")[0]
    return [
        "/",
        "/integrations/dialer/settings",
        "/integrations/sf/settings",  # vendor options: text, number, checkbox, "Clear"
        "/integrations/new",
        "/records?by=email&q=kim",
        f"/records/{record['type']}/{record['id']}",
        "/review",
        "/review/1",
        "/health",
        "/dead-letters",
        "/push-failures",
        "/test-lead",
        "/audit",
    ]


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1280px", "phone"])
def test_every_page_is_labelled_fits_the_width_and_has_a_skip_link(
    browser: Any, live: tuple[Workspace, LiveServer], viewport: dict[str, int]
) -> None:
    ws, server = live
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    sign_in(page, server, ADMIN_TOKEN)
    problems = {}
    for path in _pages(ws):
        response = page.goto(f"{server.base_url}{path}")
        assert response is not None and response.status == 200, path
        found = page.evaluate(AUDIT)
        if found["unlabelled"] or found["overflow"] > 1 or found["skip"] is None:
            problems[path] = found
    context.close()
    assert not problems, problems


def test_the_keyboard_reaches_the_content_first_and_shows_where_it_is(
    browser: Any, live: tuple[Workspace, LiveServer]
) -> None:
    _, server = live
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    sign_in(page, server, ADMIN_TOKEN)
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => { const el = document.activeElement; const style = getComputedStyle(el);
        return {href: el.getAttribute('href'), text: el.textContent.trim(),
                outline: style.outlineStyle + ' ' + style.outlineWidth,
                shadow: style.boxShadow}; }"""
    )
    assert focused["href"] in ("#main", "#content"), focused
    assert focused["outline"] != "none 0px" or focused["shadow"] != "none", focused
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") in ("#main", "#content")
    context.close()


def test_every_page_keeps_to_its_content_security_policy(
    browser: Any, live: tuple[Workspace, LiveServer]
) -> None:
    """Scripts only from the service (no inline script runs), never framed by another
    site: each page says so, and none of them breaks it (a violation is a console error)."""
    ws, server = live
    context = browser.new_context(viewport=WIDE)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server, ADMIN_TOKEN)
    for path in _pages(ws):  # "/" is the dashboard, its charts included
        response = page.goto(f"{server.base_url}{path}")
        assert response is not None and response.status == 200, path
        headers = response.headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert headers["x-frame-options"] == "DENY"
        page.wait_for_load_state("networkidle")
    context.close()
    assert errors == [], errors
