"""Post/redirect/get with a message: after a form's POST the browser is sent (303) to the
page's own address, and what the POST has to say (what an answer applied, why a retry was
refused) goes with it in a short-lived cookie for that address only, shown once. A refused
form's values can go with its message (:func:`kept`), so the page shows them as typed.

The cookie is HttpOnly, SameSite=Strict and holds only text already fit to show (never a
secret); the page escapes it like any other text."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from fastapi import Response
from fastapi.responses import RedirectResponse

from .console import Page

COOKIE = "leadsync_flash"
#: Seconds the message waits for the page it is for.
KEPT = 120


def redirect_with(
    page: Page,
    path: str,
    query: str,
    lines: list[str],
    fields: Mapping[str, str] | None = None,
) -> Response:
    """A 303 to ``path?query`` carrying ``lines`` (and a refused form's ``fields``, as
    sent) for that page."""
    response = RedirectResponse(f"{path}?{query}" if query else path, status_code=303)
    kept: Any = {"lines": lines, "fields": dict(fields)} if fields else lines
    data = json.dumps(kept, ensure_ascii=False).encode()
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


def _left(page: Page) -> Any:
    kept = page.request.cookies.get(COOKIE)
    if not kept:
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(kept.encode()))
    except ValueError:
        return None


def message(page: Page) -> list[str] | None:
    """The lines a redirect left for this page; None when there are none."""
    left = _left(page)
    lines = left.get("lines") if isinstance(left, dict) else left
    if isinstance(lines, list) and all(isinstance(x, str) for x in lines):
        return lines
    return None


def kept(page: Page) -> dict[str, str]:
    """The form values a redirect left for this page with its message (none: empty)."""
    left = _left(page)
    fields = left.get("fields") if isinstance(left, dict) else None
    if isinstance(fields, dict):
        return {k: v for k, v in fields.items() if isinstance(k, str) and isinstance(v, str)}
    return {}


def shown(page: Page, response: Response) -> Response:
    """``response`` with the message (if any) removed: it is shown once."""
    if COOKIE in page.request.cookies:
        response.delete_cookie(COOKIE, path=page.request.url.path)
    return response
