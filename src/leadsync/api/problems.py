"""Errors as ``application/problem+json`` (RFC 9457): a title, the status and a detail that a
vendor's delivery log or an admin's terminal can show."""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from leadsync.errors import LeadsyncError
from leadsync.logs import names_a_secret
from leadsync.pipeline.intake import database_unavailable

PROBLEM_TYPE = "application/problem+json"
RETRY = {"Retry-After": "5"}  # a 503's: when to try again, in seconds
log = logging.getLogger("leadsync.api")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    problems: list[str] | None = None


def problem(
    status: int,
    title: str,
    detail: str,
    instance: str | None = None,
    problems: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=title, status=status, detail=detail, instance=instance, problems=problems)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_TYPE,
        headers=headers,
    )


class ProblemError(Exception):
    """Raised by endpoints to answer with a problem."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        problems: list[str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.problems, self.headers = problems, headers


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem(exc.status, exc.title, exc.detail, request.url.path, exc.problems, exc.headers)


async def on_leadsync_error(request: Request, exc: Exception) -> JSONResponse:
    """Any of leadsync's own errors, with the status and title its class declares
    (:mod:`leadsync.errors`): an unknown record is a 404, invalid settings a 422 listing every
    problem, a database away a 503."""
    assert isinstance(exc, LeadsyncError)
    detail, problems = exc.problem_detail()
    return problem(exc.http_status, exc.title, detail, request.url.path, problems)


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed_methods(request))
    return problem(
        exc.status_code,
        titles.get(exc.status_code, "HTTP error"),
        str(exc.detail),
        request.url.path,
        headers=headers,
    )


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette names only the first route's
    when a path has one route per method)."""
    methods: set[str] = set()
    stack: list[Any] = list(request.app.routes)
    while stack:
        route = stack.pop()
        included = getattr(route, "original_router", None)
        if included is not None:  # FastAPI's included routers
            stack.extend(included.routes)
            continue
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(request.url.path) and getattr(route, "methods", None):
            methods.update(route.methods)
    if "GET" in methods:
        methods.add("HEAD")  # answered as the GET without its body (app.HeadAsGet)
    return sorted(methods)


async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    body = _body_model(request)
    lines = [_where(error, body) for error in exc.errors()]
    return problem(400, "Bad request", "; ".join(lines), request.url.path, lines)


def _body_model(request: Request) -> type[BaseModel] | None:
    """The model of the route's JSON body, when it has one (what an error can list)."""
    field = getattr(request.scope.get("route"), "body_field", None)
    model = getattr(getattr(field, "field_info", None), "annotation", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _fields_at(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> str | None:
    """The fields the object at ``loc`` (``("body", ...)``) takes, when a model says so."""
    for step in loc[1:]:
        field = model.model_fields.get(str(step)) if model is not None else None
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return ", ".join(model.model_fields) if model is not None and loc[:1] == ("body",) else None


def _where(error: Any, body: type[BaseModel] | None = None) -> str:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    if kind == "json_invalid":  # FastAPI's: ("body", character position)
        why = (error.get("ctx") or {}).get("error", "cannot be read")
        at = f" at character {loc[1]}" if len(loc) > 1 else ""
        return f"body: not valid JSON{at}: {why}"
    where = ".".join(str(part) for part in loc)
    if kind == "extra_forbidden" and (allowed := _fields_at(body, loc[:-1])):
        return f"{where}: unknown field; allowed: {allowed}"
    if kind == "missing" and loc == ("body",):
        allowed = _fields_at(body, loc)
        return "body: empty; expected a JSON object" + (f" of {allowed}" if allowed else "")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{where}: expected a JSON object, got {_json_type(error.get('input'))}"
    message = error.get("msg", "invalid")
    if error.get("type") == "value_error":  # a check of ours: its sentence, not pydantic's prefix
        message = message.removeprefix("Value error, ")
    value = error.get("input")
    shown = isinstance(value, str | int | float) and not isinstance(value, bool)
    if shown and loc and not names_a_secret(str(loc[-1])):
        # The value refused, beside what is allowed (never one a field named like a secret
        # holds: a token pasted into it stays out of the answer and the logs).
        message += f"; got {str(value)[:100]!r}" if isinstance(value, str) else f"; got {value}"
    return f"{where}: {message}"


def _json_type(value: Any) -> str:
    """What JSON gave, in words (never the value: it may be a secret)."""
    if isinstance(value, bool):
        return "true or false"
    names = {list: "an array", str: "a string", int: "a number", float: "a number"}
    return next((n for t, n in names.items() if isinstance(value, t)), "null")


async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
    """The database away (an expected outage, :func:`database_unavailable`): 503 with
    ``Retry-After`` and one log line, never a traceback; any other database error is a defect
    (raised again: 500, with its traceback)."""
    if not database_unavailable(exc):
        raise exc
    log.warning(
        "%s %s: database unavailable (%s); answered 503",
        request.method,
        request.url.path,
        type(exc).__name__,
    )
    detail = "the database cannot be reached; try again in a moment"
    return problem(503, "Service unavailable", detail, request.url.path, headers=RETRY)


def add_problem_handlers(app: FastAPI) -> None:
    """Answer every error as a problem: ours (:class:`ProblemError`, leadsync's own errors),
    Starlette's (404, 405), FastAPI's request validation (400) and a database outage (503)."""
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(LeadsyncError, on_leadsync_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(sa.exc.SQLAlchemyError, on_database_error)


_SOME_TEXT = re.compile(r"[^\s\x00-\x1f\x7f]")


def _some_text(value: str) -> str:
    if not _SOME_TEXT.search(value):
        raise ValueError("needs some text, not only blanks or control characters")
    return value


# Why a dead letter or a push failure is dismissed: kept with it.
Reason = Annotated[
    str,
    AfterValidator(_some_text),
    Field(
        min_length=1,
        max_length=2000,
        description="Why it cannot be fixed (some text, not only blanks); kept with it.",
        # Declared in the document as the check reads it (the check's own words on refusal).
        json_schema_extra={"pattern": _SOME_TEXT.pattern},
    ),
]


async def takes_no_body(request: Request) -> None:
    """A dependency of an operation that takes no body: one given is refused (400), not
    ignored — a client that sent ``{"dry_run": true}`` would otherwise have the real change
    made. Nothing, ``{}`` or ``null`` is no body."""
    body = (await request.body()).strip()
    if body in (b"", b"{}", b"null"):
        return
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    names = sorted({p.name for p in getattr(dependant, "query_params", [])})
    options = (
        f"; its options are query parameters ({', '.join('?' + n + '=' for n in names)})"
        if names
        else ""
    )
    raise ProblemError(
        400,
        "Bad request",
        f"body: this operation takes no body{options}; allowed: no body, or {{}}",
    )


def problem_ref(why: str) -> dict[str, Any]:
    """A documented error response: a :class:`Problem`, as ``application/problem+json`` only
    (what the server sends; the app puts the schema in the document's components)."""
    return {
        "description": why,
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


SINCE = (
    "30d, 12h, 90m ago, a date (2026-11-01: its midnight, UTC) or an ISO time "
    "(2026-11-01T09:00:00Z; without an offset it is UTC); 400 otherwise."
)
"""What a ``since`` query parameter takes (:func:`leadsync.values.since_ts` reads it; a
value it refuses is a 400 problem)."""

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: problem_ref(why)
    for code, why in {
        400: "Malformed request",
        401: "Missing or wrong credentials",
        404: "Not found",
        429: "Too many wrong secrets from this address; try again after Retry-After",
        503: "The database cannot be reached (an outage); try again after Retry-After",
    }.items()
}
