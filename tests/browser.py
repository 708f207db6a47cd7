"""What the console's tests share: the console's credentials, a live service with the
console on (:func:`console_server`), signing in over plain HTTP (:func:`signed_in`), and
Debian's Chromium driven by Playwright (:func:`chromium`, :func:`sign_in`).

The browser is the system's ``/usr/bin/chromium`` (``apt-get install -y chromium``; CI
installs it): Playwright never downloads one. When it is missing the browser tests fail
saying so — they do not skip, which would hide that nothing was tested.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.web import ConsoleOptions
from leadsync.workspace import Workspace
from tests.live import ADMIN_TOKEN, LiveServer, serve

CHROMIUM = Path("/usr/bin/chromium")
# Chromium as root in a sandbox-less container, with no calls home (this network is closed).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "console-password-for-tests"
VIEWER_TOKEN = "viewer-token-for-tests"
SESSION_SECRET = "session-secret-for-tests-0123456789abcdef"
WIDE = {"width": 1280, "height": 900}


@contextmanager
def console_server(ws: Workspace, **options: Any) -> Iterator[LiveServer]:
    """The service for ``ws`` with the console's password and viewer token set; the live
    server's client carries no admin token (the console signs in with cookies)."""
    console = options.pop(
        "console",
        ConsoleOptions(password=PASSWORD, viewer_token=VIEWER_TOKEN, session_secret=SESSION_SECRET),
    )
    with serve(ws, console=console, **options) as live:
        live.client.headers.pop("authorization", None)
        yield live


def form_token(html: str, action: str = "/logout") -> str:
    """The ``csrf_token`` field of the page's form that posts to ``action``."""
    form = re.search(rf'<form[^>]*action="{re.escape(action)}"[^>]*>(.*?)</form>', html, re.S)
    assert form, f"no form posting to {action} in the page"
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.group(1))
    assert found, f"the form posting to {action} has no csrf_token"
    return found.group(1)


def signed_in(client: httpx.Client, secret: str = ADMIN_TOKEN) -> httpx.Client:
    """``client`` (on the live server, no cookies yet) signed in with ``secret`` through the
    sign-in form."""
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"secret": secret, "csrf_token": form_token(form.text, "/login"), "next": "/"},
    )
    assert response.status_code == 303, response.text
    return client


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium under Playwright; fails with the fix when missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `apt-get install -y chromium` "
            "(.ci/run does). The browser tests never download a browser."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page: Any, live: LiveServer, secret: str, path: str = "/") -> None:
    """Open ``path`` (the sign-in page comes first) and sign in with ``secret``."""
    page.goto(f"{live.base_url}{path}")
    page.get_by_label("Admin token, console password or viewer token").fill(secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live.base_url}{path}")
