"""The console's frame: options, the per-request :class:`Page` and its access
dependencies, the route class that turns refusals and errors into HTML pages, and the
templates' environment. Pages live in their own modules; :mod:`.app` mounts them (see the
package docstring for the conventions).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from leadsync.errors import LeadsyncError
from leadsync.model import display_ts
from leadsync.ops.snapshot import HealthSnapshot, SnapshotKeeper
from leadsync.workspace import Workspace

from .auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Session,
    SessionKeys,
)


@dataclass(frozen=True)
class ConsoleOptions:
    """The console's own settings (``leadsync serve`` reads them from the environment):
    ``password`` and ``viewer_token`` sign in besides the admin token; ``session_secret``
    signs sessions (None: one per process)."""

    password: str | None = None
    viewer_token: str | None = None
    session_secret: str | None = None
    session_hours: float = 12.0


@dataclass
class Console:
    """What every page needs, made once per service (``app.state.console``)."""

    workspace: Workspace
    keys: SessionKeys
    templates: Jinja2Templates
    public_url: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    on_requeue: Callable[[], None] | None = None
    # The service's health snapshots; None: each view takes its own (a console without the
    # service's thread, as in tests that mount it alone).
    snapshots: SnapshotKeeper | None = None

    def health_snapshot(self) -> HealthSnapshot | None:
        """The snapshot the integrations and health pages show; None while the service's
        first is still being taken (the pages say so and poll)."""
        if self.snapshots is None:
            return self.workspace.health_snapshot()
        return self.snapshots.current

    @property
    def refreshing(self) -> bool:
        """A newer snapshot is asked for or being taken."""
        return self.snapshots is not None and self.snapshots.refreshing

    def secure(self, request: Request) -> bool:
        """Cookies get ``Secure`` when the service is reached over https."""
        if self.public_url is not None:
            return self.public_url.lower().startswith("https://")
        return request.url.scheme == "https"

    def base_url(self, request: Request) -> str:
        """The URL vendors call: ``--public-url``, else the one this request came to."""
        return (self.public_url or str(request.base_url)).rstrip("/")


class SignInRequired(Exception):
    """No valid session: the browser is sent to the sign-in page."""


class Refused(Exception):
    """A request the console answers with an error page (403 for a viewer's change or a
    missing CSRF token, 404, 400 ...). ``detail`` is shown: it never holds a secret."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class Page:
    """One request to a page: the console, the session, and :meth:`render`."""

    request: Request
    console: Console
    session: Session

    @property
    def workspace(self) -> Workspace:
        return self.console.workspace

    @property
    def can_change(self) -> bool:
        return self.session.can_change

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        return render(self.request, self.console, template, status, self.session, **context)


def is_htmx(request: Request) -> bool:
    """An htmx request that swaps part of a page (a boosted one wants the whole page)."""
    return request.headers.get("hx-request") == "true" and "hx-boosted" not in request.headers


def render(
    request: Request,
    console: Console,
    template: str,
    status: int = 200,
    session: Session | None = None,
    **context: Any,
) -> HTMLResponse:
    """A template with what every page shows: the session's role and CSRF token, and
    ``layout`` — the full page, or only the content for an htmx request."""
    context.update(
        session=session,
        can_change=session is not None and session.can_change,
        csrf_token=session.csrf if session is not None else "",
        layout="fragment.html" if is_htmx(request) else "base.html",
    )
    response = console.templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["cache-control"] = "no-store"
    return response


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def viewing(request: Request) -> Page:
    """A dependency: a signed-in session (any role), else the sign-in page."""
    console = console_of(request)
    session = console.keys.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired()
    return Page(request, console, session)


async def posting(page: Annotated[Page, Depends(viewing)]) -> Page:
    """A dependency of a form any session may send (sign-out): the session's CSRF token
    (form field or header), else 403."""
    request = page.request
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not page.console.keys.csrf_matches(page.session, given):
        raise Refused(
            403,
            "Form expired or not from this console",
            "The request did not carry this session's form token, so nothing was changed. "
            "Reload the page and try again.",
        )
    return page


async def changing(page: Annotated[Page, Depends(viewing)]) -> Page:
    """A dependency of every request that changes something: an admin session and the
    session's CSRF token, else 403 and nothing changes."""
    if not page.can_change:
        raise Refused(
            403,
            "Read-only",
            "You are signed in as a viewer: you can see every page but change nothing. "
            "Sign in with the admin token or the console password to make changes.",
        )
    return await posting(page)


Viewing = Annotated[Page, Depends(viewing)]
Posting = Annotated[Page, Depends(posting)]
Changing = Annotated[Page, Depends(changing)]


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never ``//host`` or a URL)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


class ConsoleRoute(APIRoute):
    """Every console route answers in HTML: no session → the sign-in page (``next`` kept
    for a GET); :class:`Refused` and leadsync's errors → an error page with their status;
    a malformed form → 400 naming the fields (never echoing their values)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except Refused as exc:
                return error_page(request, exc.status, exc.title, exc.detail)
            except RequestValidationError as exc:
                fields = sorted({".".join(str(p) for p in e["loc"][1:]) for e in exc.errors()})
                detail = "Check these fields: " + ", ".join(f or "the form" for f in fields)
                return error_page(request, 400, "Incomplete form", detail)
            except LeadsyncError as exc:
                return error_page(request, exc.http_status, exc.title, str(exc))

        return answer


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login" + (f"?next={quote(target, safe='')}" if request.method == "GET" else "")
    if is_htmx(request):  # htmx would swap the sign-in page into a fragment
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def error_page(request: Request, status: int, title: str, detail: str) -> HTMLResponse:
    console = console_of(request)
    session = console.keys.read(request.cookies.get(SESSION_COOKIE))
    response = render(request, console, "error.html", status, session, title=title, detail=detail)
    if is_htmx(request):  # shown in the page's message area, whatever the request targeted
        response.headers.update({"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"})
    return response


def page_router() -> APIRouter:
    """A router for one page module: HTML answers, left out of the OpenAPI document."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _pretty_body(text: str) -> str:
    """A stored body for reading: indented when it is JSON, else as stored."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("leadsync.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = display_ts
    env.filters["pretty_body"] = _pretty_body
    return Jinja2Templates(env=env)
