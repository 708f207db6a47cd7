"""Signing in and out: ``GET/POST /login`` and ``POST /logout``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request, Response
from fastapi.responses import RedirectResponse

from . import drafts
from .auth import (
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_FORM_SECONDS,
)
from .console import Posting, Refused, console_of, is_page, page_router, render, safe_next
from .drafts import DRAFT_COOKIE, DRAFT_SECONDS

router = page_router()


def _sign_in_page(
    request: Request,
    target: str,
    status: int = 200,
    failed: bool = False,
    signed_out: bool = False,
) -> Response:
    console = console_of(request)
    cookie, token = console.keys.sign_in_form(request.cookies.get(SIGN_IN_COOKIE))
    kept = console.drafts.waiting(request.cookies.get(DRAFT_COOKIE))
    response = render(
        request,
        console,
        "login.html",
        status,
        next=kept.path if kept is not None else target,
        sign_in_token=token,
        enabled=console.keys.credentials.any,
        failed=failed,
        signed_out=signed_out,
        kept=kept,
        kept_minutes=DRAFT_SECONDS // 60,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        cookie,
        max_age=SIGN_IN_FORM_SECONDS,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=console.secure(request),
    )
    return response


def _landing(request: Request, target: str | None) -> str:
    """Where signing in lands: ``next`` when it is a page of this site (a GET), else ``/``
    (``next=/logout`` would land on a form's address)."""
    path = safe_next(target)
    return path if is_page(request, path.split("?", 1)[0]) else "/"


@router.get("/login")
def sign_in_form(request: Request, next: str | None = None, out: bool = False) -> Response:
    """The sign-in form; ``out``: after a sign-out, which it says (on a shared machine, the
    next person can tell the session is over)."""
    target = _landing(request, next)
    if console_of(request).keys.read(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(target, status_code=303)
    return _sign_in_page(request, target, signed_out=out)


@router.post("/login")
def sign_in(
    request: Request,
    secret: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """A matching credential opens a session (303 to ``next``, or to the page of a form kept
    for this browser, :mod:`.drafts`, when the session may have it); a wrong one shows the
    form again with 401, saying only that it did not match."""
    console = console_of(request)
    if not console.keys.sign_in_form_matches(request.cookies.get(SIGN_IN_COOKIE), csrf_token):
        raise Refused(
            403,
            "Sign-in form expired",
            "This sign-in form is too old or was not opened in this browser. "
            "Open the sign-in page again.",
        )
    target = _landing(request, next)
    client = request.client.host if request.client is not None else "unknown"
    refused = console.keys.tries.refusal(client, console.keys.clock())
    if refused is not None:
        wait_s, why = refused
        raise Refused(
            429,
            "Too many failed sign-ins",
            f"{why[:1].upper()}{why[1:]}. Try again in {wait_s} s.",
            headers={"Retry-After": str(wait_s)},
        )
    via = console.keys.credentials.match(secret)
    if via is None:
        console.keys.sign_in_failed(client)
        return _sign_in_page(request, target, status=401, failed=True)
    session, cookie = console.keys.open(via)
    draft_id = request.cookies.get(DRAFT_COOKIE)
    kept = console.drafts.hand_to(draft_id, session)
    response = RedirectResponse(kept.path if kept is not None else target, status_code=303)
    if draft_id is not None and kept is None:  # another's, or a viewer's: not shown
        drafts.delete_cookie(response, console.secure(request))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=console.keys.max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=console.secure(request),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/login")
    return response


@router.post("/logout")
def sign_out(page: Posting) -> Response:
    """The session ends here and now (its cookie is refused even if replayed), and a form
    kept for this browser goes with it."""
    page.console.keys.end(page.session)
    page.console.drafts.drop(page.request.cookies.get(DRAFT_COOKIE))
    response = RedirectResponse("/login?out=1", status_code=303)
    drafts.delete_cookie(response, page.console.secure(page.request))
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=page.console.secure(page.request),
    )
    return response
