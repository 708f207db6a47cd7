"""Errors a browser meets outside any page: an address with no page (404) or one that only
takes a form's post (405, as ``GET /logout``). The service answers those as JSON problem
documents (:mod:`leadsync.api.problems`); for a browser (``Accept: text/html``) on a console
address, the console's error page in its layout, with a link back, instead. The admin API,
the webhooks, the probes and a client asking for JSON keep their problem documents.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .console import error_page

#: Addresses for programs, never pages: their errors stay problem documents.
MACHINE_PATHS = ("/api", "/webhooks", "/healthz", "/readyz", "/metrics", "/openapi", "/docs")
TITLES = {404: "Page not found", 405: "Not a page to open"}
DETAILS = {
    404: "There is no page at this address in the console.",
    405: "This address takes a form's answer (a button on a page), not a visit.",
}

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


def wants_html(request: Request) -> bool:
    """A browser on a console address: it asks for HTML, and not for the API or a probe."""
    path = request.url.path
    machine = any(path == p or path.startswith(p + "/") for p in MACHINE_PATHS)
    return not machine and "text/html" in request.headers.get("accept", "")


def add_html_errors(app: FastAPI) -> None:
    """Answer 404 and 405, and a database outage (503), with the console's error page for a
    browser; every other error, and every other client, as the service's handler does (added
    after the service's handlers, before the console)."""
    fallback: Handler | None = app.exception_handlers.get(StarletteHTTPException)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in TITLES and wants_html(request):
            status = exc.status_code
            response = error_page(request, status, TITLES[status], DETAILS[status])
            response.headers.update(exc.headers or {})
            return response
        if fallback is None:
            raise exc
        answer = fallback(request, exc)
        return answer if isinstance(answer, Response) else await answer

    app.add_exception_handler(StarletteHTTPException, on_http_error)
    on_database: Handler | None = app.exception_handlers.get(sa.exc.SQLAlchemyError)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if on_database is None:
            raise exc
        answer = on_database(request, exc)  # the 503 of an outage, logged; or raised again
        answer = answer if isinstance(answer, Response) else await answer
        if not wants_html(request):
            return answer
        detail = "The database cannot be reached just now. Try again in a moment."
        retry = {"Retry-After": answer.headers["Retry-After"]}  # the 503 of an outage
        return error_page(request, answer.status_code, "Database unavailable", detail, retry)

    app.add_exception_handler(sa.exc.SQLAlchemyError, on_database_error)
