"""Post/redirect/get with a message: after a form's POST the browser is sent (303) to the
page's own address, and what the POST has to say (what an answer applied, why a retry was
refused) goes with it in a short-lived cookie for that address only, shown once.

The cookie is HttpOnly, SameSite=Strict and holds only text already fit to show (never a
secret); the page escapes it like any other text."""

from __future__ import annotations

import base64
import json

from fastapi import Response
from fastapi.responses import RedirectResponse

from .console import Page

COOKIE = "leadsync_flash"
#: Seconds the message waits for the page it is for.
KEPT = 120


def redirect_with(page: Page, path: str, query: str, lines: list[str]) -> Response:
    """A 303 to ``path?query`` carrying ``lines`` for that page."""
    response = RedirectResponse(f"{path}?{query}" if query else path, status_code=303)
    data = json.dumps(lines, ensure_ascii=False).encode()
    response.set_cookie(
        COOKIE,
        base64.urlsafe_b64encode(data).decode(),
        max_age=KEPT,
        path=path,
        secure=page.console.secure(page.request),
        httponly=True,
        samesite="strict",
    )
    return response


def message(page: Page) -> list[str] | None:
    """The lines a redirect left for this page; None when there are none."""
    kept = page.request.cookies.get(COOKIE)
    if not kept:
        return None
    try:
        lines = json.loads(base64.urlsafe_b64decode(kept.encode()))
    except ValueError:
        return None
    if isinstance(lines, list) and all(isinstance(x, str) for x in lines):
        return lines
    return None


def shown(page: Page, response: Response) -> Response:
    """``response`` with the message (if any) removed: it is shown once."""
    if COOKIE in page.request.cookies:
        response.delete_cookie(COOKIE, path=page.request.url.path)
    return response
