"""The console's frame: options, the per-request :class:`Page` and its access
dependencies, the route class that turns refusals and errors into HTML pages, and the
templates' environment. Pages live in their own modules; :mod:`.app` mounts them (see the
package docstring for the conventions).
"""

from __future__ import annotations

import enum
import os
import types
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape
from pydantic.fields import FieldInfo
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match

from leadsync.errors import LeadsyncError
from leadsync.model import decided_by, display_ts
from leadsync.ops import listings
from leadsync.ops.deadletters import (
    DEAD_LETTERS_HINT,
    PUSH_FAILURES_HINT,
    READD_HINT,
    REVIEW_HINT,
    pretty_body,
)
from leadsync.ops.replay import people_text
from leadsync.ops.snapshot import HealthSnapshot, SnapshotKeeper
from leadsync.results import plain
from leadsync.workspace import Workspace

from . import drafts
from .auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Session,
    SessionKeys,
)
from .drafts import DRAFT_COOKIE, Draft, DraftKeeper, Stored, same_origin


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
    # Where forms kept through a sign-in are: the workspace database (every process's).
    kept: Stored
    public_url: str | None = None
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    on_requeue: Callable[[], None] | None = None
    # The service's health snapshots; None: each view takes its own (a console without the
    # service's thread, as in tests that mount it alone).
    snapshots: SnapshotKeeper | None = None
    # Change forms kept through a sign-in (:mod:`.drafts`), by the keys' clock, where every
    # process of the workspace finds them (the service's workspace database).
    drafts: DraftKeeper = field(init=False)

    def __post_init__(self) -> None:
        self.drafts = DraftKeeper(self.keys.clock, self.kept)

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


#: A link an error page offers: its address and its words.
Link = tuple[str, str]


class Refused(Exception):
    """A request the console answers with an error page (403 for a viewer's change or a
    missing CSRF token, 404, 400, 409 ...). ``detail`` is shown: it never holds a secret;
    ``headers`` go with the page (``Retry-After`` …); ``back``: the link the page offers
    (by default, the page a form was on, else the integrations)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
        back: Link | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = dict(headers or {})
        self.back = back


def not_done(exc: LeadsyncError, title: str, back: Link) -> Refused:
    """A change the workspace refused because what it changes changed meanwhile (a 409:
    a dead letter already dismissed, a rollout promoted by another admin …) as the console
    says it: what was not done (``title``: "Not retried"), why in the workspace's words,
    that nothing changed, and a link back to the page the form was on."""
    why = str(exc).rstrip(".")
    detail = f"{why[:1].upper()}{why[1:]}. Nothing was changed."
    return Refused(exc.http_status, title, detail, back=back)


@dataclass
class Page:
    """One request to a page: the console, the session, and :meth:`render`."""

    request: Request
    console: Console
    session: Session
    # The form kept through this session's sign-in that this page shows (:meth:`kept_draft`).
    restored: Draft | None = None

    @property
    def workspace(self) -> Workspace:
        return self.console.workspace

    @property
    def can_change(self) -> bool:
        return self.session.can_change

    def kept_draft(self) -> Draft | None:
        """The form this session's sign-in kept for this page (:mod:`.drafts`), once: the
        page fills its form with it, and the layout says it is not saved."""
        cookie = self.request.cookies.get(DRAFT_COOKIE)
        self.restored = self.console.drafts.take(cookie, self.session, self.request.url.path)
        return self.restored

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("restored", self.restored)
        response = render(self.request, self.console, template, status, self.session, **context)
        if self.restored is not None:
            drafts.delete_cookie(response, self.console.secure(self.request))
        return response


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
    ``layout`` — the full page, or only the content for an htmx request (unless given)."""
    context.setdefault("layout", "fragment.html" if is_htmx(request) else "base.html")
    context.update(
        session=session,
        can_change=session is not None and session.can_change,
        csrf_token=session.csrf if session is not None else "",
    )
    response = console.templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers.update(PAGE_HEADERS)
    return response


#: Every console page: scripts only from the service itself (htmx, the charts: no inline
#: script runs), never framed by another site, content types as sent.
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}


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


def _form_problems(errors: Sequence[Any]) -> str:
    """What is wrong with each field of a form the route could not take, in words: its
    name and pydantic's reason (``reason: String should have at most 2000 characters``)."""
    said: dict[str, str] = {}
    for error in errors:
        field = ".".join(str(p) for p in error["loc"][1:]) or "the form"
        said.setdefault(field, str(error.get("msg", "not allowed")))
    return "Check these fields: " + "; ".join(f"{f}: {why}" for f, why in sorted(said.items()))


def allowed(info: FieldInfo) -> str:
    """What a path or query parameter accepts, in words (from its type and bounds)."""
    kind = info.annotation
    if get_origin(kind) in (Union, types.UnionType):
        kind = next((a for a in get_args(kind) if a is not type(None)), kind)
    bound = {
        name: value
        for m in info.metadata
        for name in ("ge", "le", "max_length")
        if (value := getattr(m, name, None)) is not None
    }
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "one of " + ", ".join(str(m.value) for m in kind)
    if get_origin(kind) is Literal:
        return "one of " + ", ".join(str(v) for v in get_args(kind))
    if kind is bool:
        return "true or false"
    if kind is int:  # (digits only: 1_0 or 1.0 is no id, as in the admin API)
        low = bound.get("ge")
        words = "a whole number in digits" + ("" if low is None else f" from {low}")
        words = "a positive whole number in digits" if low == 1 else words
        return words + (f" up to {bound['le']}" if "le" in bound else "")
    longest = bound.get("max_length")
    return "text" + (f" of at most {longest} characters" if longest is not None else "")


class ConsoleRoute(APIRoute):
    """Every console route answers in HTML: no session → the sign-in page (``next`` kept
    for a GET); :class:`Refused` and leadsync's errors → an error page with their status;
    a wrong part of the address → 404 (path) or 400 (query) naming it and what it allows;
    an ``integration`` query parameter naming none the workspace knows → 400 naming the
    configured ones (:meth:`check_integration`), never an empty list; a malformed form →
    400 naming the fields (never echoing their values)."""

    @cached_property
    def path_fields(self) -> dict[str, FieldInfo]:
        return self._fields(params.Path)

    @cached_property
    def query_fields(self) -> dict[str, FieldInfo]:
        return self._fields(params.Query)

    def _fields(self, kind: type[FieldInfo]) -> dict[str, FieldInfo]:
        found = get_flat_params(self.dependant)
        return {f.alias: f.field_info for f in found if isinstance(f.field_info, kind)}

    def bad_address(self, name: str, part: str) -> Refused:
        """The page for a wrong part of this route's address: a path segment (``part``
        "path": 404, no such page) or a query parameter's value (400), naming it — never
        echoing its value — and what is allowed. (A query parameter the page does not take
        is ignored, as web pages do.)"""
        shape = self.path_format
        for each in self.path_fields:
            shape = shape.replace("{" + each + "}", "{" + each.replace("_", " ") + "}")
        if part == "path":
            label = name.replace("_", " ")
            return Refused(
                404,
                "Page not found",
                f"In the address {shape}, the {label} is not one that exists here; "
                f"allowed: {allowed(self.path_fields[name])}.",
            )
        return Refused(
            400,
            "Invalid address",
            f"In the address {shape}, the query parameter {name} is not allowed as given; "
            f"allowed: {allowed(self.query_fields[name])}.",
        )

    def _address_error(self, errors: Sequence[Any]) -> Refused | None:
        """The first wrong path segment, else the first wrong query parameter; None when
        only the form is wrong."""
        for part, fields in (("path", self.path_fields), ("query", self.query_fields)):
            for error in errors:
                loc = error["loc"]
                if len(loc) >= 2 and loc[0] == part and str(loc[1]) in fields:
                    return self.bad_address(str(loc[1]), part)
        return None

    async def check_integration(self, request: Request) -> None:
        """A page filtered by ``?integration=`` (the dead letters, the review queue, the
        audit log …) names an integration the workspace knows, else
        :class:`~leadsync.ops.listings.UnknownIntegration` — the core's one check
        (:func:`~leadsync.ops.listings.check_filter`), as the command line and the admin
        API make it. Only for a signed-in session: without one the page's own dependency
        sends the browser to sign in, naming no integration."""
        name = (
            request.query_params.get("integration") if "integration" in self.query_fields else None
        )
        if not name:
            return
        console = console_of(request)
        if console.keys.read(request.cookies.get(SESSION_COOKIE)) is None:
            return
        ws = console.workspace
        await run_in_threadpool(lambda: listings.check_filter(ws.engine, ws.rules(), name))

    async def signed_out(self, request: Request) -> Response:
        """No session: to the sign-in page — for a form's post, back to its page after it,
        with the form kept (:mod:`.drafts`) when its page fills it again."""
        page = form_page(request)
        response = sign_in_redirect(request, page)
        console = console_of(request)
        if page is None or not getattr(self.endpoint, "keeps_draft", False):
            return response
        if not same_origin(request, console.public_url):
            return response
        form = await request.form()
        fields = {k: [v for v in form.getlist(k) if isinstance(v, str)] for k in form}
        via = console.keys.ended_via(request.cookies.get(SESSION_COOKIE))
        draft_id = console.drafts.keep(page, request.url.path, fields, via)
        if draft_id is not None:
            drafts.set_cookie(response, draft_id, console.secure(request))
        return response

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                await self.check_integration(request)
                return await handler(request)
            except SignInRequired:
                return await self.signed_out(request)
            except Refused as exc:
                return error_page(
                    request, exc.status, exc.title, exc.detail, exc.headers, back=exc.back
                )
            except RequestValidationError as exc:
                address = self._address_error(exc.errors())
                if address is not None:
                    return error_page(request, address.status, address.title, address.detail)
                return error_page(request, 400, "Incomplete form", _form_problems(exc.errors()))
            except LeadsyncError as exc:
                return error_page(request, exc.http_status, exc.title, str(exc))

        return answer


def sign_in_redirect(request: Request, came_from: str | None = None) -> Response:
    """To the sign-in page, then back: to the page asked for (a GET), or to ``came_from``,
    the page a form's post came from."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    back = target if request.method == "GET" else came_from
    location = "/login" + (f"?next={quote(back, safe='')}" if back else "")
    if is_htmx(request):  # htmx would swap the sign-in page into a fragment
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def is_page(request: Request, path: str) -> bool:
    """``path`` is an address this service answers with a GET (a page to land on)."""
    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    for route in request.app.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return True
    return False


def form_page(request: Request) -> str | None:
    """The page a form's post came from: the longest start of its address that is a page
    (``/dead-letters/7/retry`` → ``/dead-letters/7``); None for a visit, or none found."""
    if request.method in ("GET", "HEAD"):
        return None
    parts = request.url.path.rstrip("/").split("/")
    while len(parts) > 1:
        if is_page(request, path := "/".join(parts)):
            return path
        parts.pop()
    return None


def error_page(
    request: Request,
    status: int,
    title: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
    back: Link | None = None,
) -> HTMLResponse:
    """The console's error page in its layout: ``title``, ``detail`` and a link back —
    ``back``, else the page a form was on, else the integrations (sign in, without a
    session)."""
    console = console_of(request)
    session = console.keys.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        back = ("/login", "Sign in")
    elif back is None:
        came = form_page(request)
        back = (came, "Back to the page you were on") if came else ("/", "Back to the integrations")
    response = render(
        request, console, "error.html", status, session, title=title, detail=detail, back=back
    )
    response.headers.update(headers or {})
    if is_htmx(request):  # shown in the page's message area, whatever the request targeted
        response.headers.update({"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"})
    return response


def page_router() -> APIRouter:
    """A router for one page module: HTML answers, left out of the OpenAPI document."""
    return APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def plural(noun: str) -> str:
    """An English plural of a record or activity type: company → companies, call → calls."""
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun + "es"
    return noun + "s"


def filter_integrations(workspace: Workspace, listed: str) -> list[str]:
    """The integrations a list's filter offers: every configured one, and every other that
    has entries in the list (``dead_letters``, ``audit_log`` or ``review_items``) — a removed
    integration's letters, audit entries and questions stay filterable."""
    named = listings.named_integrations(workspace.engine)[listed]
    return sorted(set(workspace.rules().integrations) | set(named))


#: Hints to the CLI in the workspace's messages (the health report's summaries, a refused
#: retry's reason) where a console page does the same: the page, linked, instead. A hint
#: with no page in the console (``leadsync push failures list`` …) is left as it is.
CLI_HINTS = (
    (REVIEW_HINT, '(answer them on the <a href="/review">Review</a> page)'),
    (
        DEAD_LETTERS_HINT,
        '(open each on the <a href="/dead-letters">Dead letters</a> page to retry it, or '
        "dismiss one that cannot be fixed)",
    ),
    (READD_HINT, 'add it again (<a href="/integrations/new">Add an integration</a>)'),
    (
        PUSH_FAILURES_HINT,
        '(open each on the <a href="/push-failures">Push failures</a> page to retry it, or '
        "dismiss it with a reason)",
    ),
)


def console_hints(text: str) -> Markup:
    """``text`` escaped, each CLI hint of :data:`CLI_HINTS` as a link to its page."""
    html = str(escape(text))
    for cli, page in CLI_HINTS:
        html = html.replace(str(escape(cli)), page)
    return Markup(html)  # escaped above; the links are ours


def templates() -> Jinja2Templates:
    env = Environment(
        loader=PackageLoader("leadsync.web", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = display_ts
    env.filters["plain"] = plain
    env.filters["decided_by"] = decided_by
    env.filters["pretty_body"] = pretty_body
    env.filters["plural"] = plural
    env.filters["console_hints"] = console_hints
    env.filters["people"] = people_text  # what people did that a replay does not replay
    return Jinja2Templates(env=env)
