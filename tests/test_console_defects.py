"""Defects a person met in a real browser: plurals on the settings page, the favicon, HTML
error pages for a browser on console addresses (JSON kept for the API), where signing in
lands, the records search's errors beside its form, and the settings page's layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, sign_in, signed_in
from tests.live import LiveServer
from tests.test_console_settings import configured

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(configured(workspace)) as server:
        yield server


def test_the_settings_page_spells_plurals(live: LiveServer) -> None:
    html = signed_in(live.client, PASSWORD).get("/integrations/dialer/settings").text
    assert "Strategy for companies" in html and "companys" not in html
    for plural in ("contacts", "deals", "tickets", "leads"):
        assert f"Strategy for {plural}" in html
    assert "Log calls" in html


def test_the_favicon_is_served_from_the_package(live: LiveServer) -> None:
    icon = live.client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")
    assert '<link rel="icon" href="/favicon.ico"' in live.client.get("/login").text


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/integrations", 404),
        ("get", "/nope", 404),
        ("get", "/logout", 405),
        ("get", "/dead-letters/1/retry", 405),
    ],
)
def test_a_browser_gets_an_html_error_page_and_a_client_json(
    live: LiveServer, method: str, path: str, status: int
) -> None:
    client = signed_in(live.client, PASSWORD)
    page = client.request(method, path, headers=HTML)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert 'href="/">Back to the integrations' in page.text and 'class="site-header"' in page.text
    assert "Sign out" in page.text  # the console's layout
    machine = client.request(method, path, headers={"accept": "application/json"})
    assert machine.status_code == status
    assert machine.headers["content-type"].startswith("application/problem+json")
    api = client.get("/api/nope", headers=HTML)
    assert api.headers["content-type"].startswith("application/problem+json")


def test_an_html_error_page_without_a_session_links_to_sign_in(live: LiveServer) -> None:
    page = live.client.get("/nope", headers=HTML)
    assert page.status_code == 404 and 'href="/login">Sign in' in page.text


def test_signing_in_towards_a_form_address_lands_on_the_front_page(live: LiveServer) -> None:
    client = live.client
    form = client.get("/login?next=%2Flogout")
    assert 'name="next" value="/"' in form.text
    from tests.browser import form_token

    token = form_token(form.text, "/login")
    data = {"secret": PASSWORD, "csrf_token": token, "next": "/logout"}
    response = client.post("/login", data=data)
    assert (response.status_code, response.headers["location"]) == (303, "/")
    kept = client.get("/login?next=%2Fdead-letters%3Fresolved%3Dtrue")
    assert kept.headers["location"] == "/dead-letters?resolved=true"


# ------------------------------------------------------------------------ in Chromium


@pytest.fixture
def sqlite_live(tmp_path: Any, sqlite_template: Any) -> Iterator[LiveServer]:
    path = tmp_path / "defects.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws, console_server(configured(ws)) as server:
        yield server


CUT_SELECTS = """() => [...document.querySelectorAll("select")].filter(s => {
  const probe = document.createElement("span");
  probe.style.font = getComputedStyle(s).font;
  probe.style.whiteSpace = "pre";
  document.body.append(probe);
  const widest = Math.max(...[...s.options].map(o => (probe.textContent = o.text, probe.offsetWidth)));
  probe.remove();
  return s.clientWidth < widest + 8;
}).map(s => s.id)"""

LINE_ENDS = """() => {
  const code = document.querySelector("code.url"), text = code.textContent;
  const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
  const tops = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (let i = 0; i < node.length; i++) {
      const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
      tops.push(r.getBoundingClientRect().top);
    }
  }
  const ends = [];
  for (let i = 1; i < tops.length; i++) if (tops[i] > tops[i - 1] + 2) ends.push(text[i - 1]);
  return ends;
}"""


def test_the_settings_page_shows_whole_option_texts_and_wraps_urls_at_slashes(
    sqlite_live: LiveServer, browser: Any
) -> None:
    context = browser.new_context(viewport=WIDE)
    try:
        page = context.new_page()
        sign_in(page, sqlite_live, PASSWORD, "/integrations/dialer/settings")
        assert page.evaluate(CUT_SELECTS) == []
        page.set_viewport_size({"width": 330, "height": 800})
        ends = page.evaluate(LINE_ENDS)
        assert ends and all(end == "/" for end in ends), ends  # never "air|call"
        assert "webhooks/dialer" in page.locator("code.url").inner_text()
    finally:
        context.close()
