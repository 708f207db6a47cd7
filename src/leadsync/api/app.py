"""The ASGI application: ``POST /webhooks/{integration}``, ``/healthz``, ``/readyz``,
``/metrics`` (Prometheus, behind the admin token), the admin API under ``/api``, with its
OpenAPI document at ``/openapi.json``, and the web console at ``/`` (:mod:`leadsync.web`,
left out of that document).

A webhook is answered 2xx only once its rows are committed in the inbox (see
:mod:`leadsync.pipeline.intake`); a worker thread in the same process applies them afterwards (unless
the service runs with ``worker=False`` beside ``leadsync worker`` processes). With the
console, a thread takes the health snapshot its pages read (:mod:`leadsync.ops.snapshot`).
A settings save through the service's ``Workspace`` reaches the intake, the worker and the
snapshot at once (``Workspace.on_settings_saved``). Health, readiness and the metrics name
the process that answers (:func:`leadsync.observability.process_name`).

Before routing, :class:`ApiRequests` checks the admin API's bodies (size, JSON, repeated
keys), :class:`HeadAsGet` answers ``HEAD`` on every GET resource, and
:class:`NoTrailingSlash` takes a trailing slash on any path (``/healthz/``, ``/api/…/``,
``/webhooks/NAME/``) as none, never redirected.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS
from pydantic import BaseModel, Field

from leadsync.observability import Metrics, process_name
from leadsync.ops.health import Readiness
from leadsync.ops.snapshot import DEFAULT_INTERVAL_S, SnapshotKeeper
from leadsync.pipeline.intake import DEFAULT_MAX_BODY, GroupCommitWriter, Intake
from leadsync.settings import IntegrationSettings
from leadsync.sources import KINDS, adapter_class
from leadsync.sources.base import WebhookRequest
from leadsync.sources.hygiene import Headers, finite_float, number_problem
from leadsync.sources.jsontext import TOO_DEEP, too_deep
from leadsync.web import ConsoleOptions, add_console
from leadsync.web.auth import MAX_FAILED_SIGN_INS, FailedTries
from leadsync.workspace import Workspace

from . import admin
from .auth import require_admin
from .docs import add_docs
from .problems import (
    Problem,
    add_problem_handlers,
    problem,
    problem_ref,
)
from .webhooks import PREFIX as WEBHOOKS_PREFIX
from .webhooks import (
    ASGIApp,
    BodyTooLarge,
    Message,
    Receive,
    Scope,
    Send,
    WebhookFastPath,
    WebhookReceipt,
    answer_webhook,
    problem_answer,
    public_uri,
    read_body,
    send_answer,
    too_large,
    webhook_too_large,
)

log = logging.getLogger("leadsync.api")


DEFAULT_MAX_API_BODY = 1 << 20  # 1 MiB: a whole workspace's settings are a few kB


@dataclass
class ServiceOptions:
    """How the service runs. ``public_url`` is the base URL vendors call (``https://…``),
    used where a signature covers the full URI (HubSpot); by default the request's own."""

    admin_token: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    # The admin API's request bodies (/api): larger ones are refused with 413 before parsing.
    max_api_body: int = DEFAULT_MAX_API_BODY
    worker: bool = True
    # The in-process worker's batch: smaller than ingest's, so that a batch holds the
    # database's write lock (SQLite) for a short time and intake commits keep flowing.
    batch_size: int = 2000
    poll_s: float = 1.0
    max_lag_s: float | None = 300.0  # None: lag never makes /readyz 503
    public_url: str | None = None
    environ: Mapping[str, str] | None = None
    clock: Callable[[], float] | None = None
    # Answer webhooks before FastAPI's routing (same behaviour, less work per request).
    fast_path: bool = True
    # Push to the configured destination in a thread (when the workspace has one).
    push: bool = True
    # The web console at / (leadsync.web): its password, viewer token and session secret;
    # None: no console.
    console: ConsoleOptions | None = field(default_factory=ConsoleOptions)
    # How often the health snapshot (the console's report and charts) is taken, in seconds;
    # also at once after a settings save in this process.
    snapshot_s: float = DEFAULT_INTERVAL_S
    # This process's metrics (GET /metrics; the caller may serve them on a port of its own
    # too, --metrics-port); None: the service makes its own.
    metrics: Metrics | None = None
    # How /healthz, /readyz and the metrics name this process; None: process_name().
    process: str | None = None
    # Wrong secrets (admin API token, console sign-in) an address may give in 10 minutes
    # before it waits; 0: no limit (a proxy in front limits them).
    max_failed_sign_ins: int = MAX_FAILED_SIGN_INS


class Health(BaseModel):
    status: str
    process: str = Field(
        description="The process that answered: LEADSYNC_PROCESS_NAME, else HOST:PID."
    )


_WEBHOOK_BODY = {
    "required": True,
    "description": "The vendor's webhook body, as the vendor sends it (docs/WEBHOOKS.md); "
    "which media types an integration takes depends on its kind.",
    "content": {
        media: {"schema": {}}
        for media in sorted({m for kind in KINDS for m in adapter_class(kind).content_types})
    },
}


def create_app(workspace: Workspace, options: ServiceOptions | None = None) -> FastAPI:
    """The service for one workspace."""
    opts = options or ServiceOptions()
    process = opts.process or process_name()
    metrics = opts.metrics or Metrics(workspace.engine, process=process)
    worker = workspace.worker(opts.batch_size, opts.poll_s) if opts.worker else None
    if worker is not None:
        metrics.watch_worker(worker)
    writer = GroupCommitWriter(
        workspace.engine,
        wake=worker.wake if worker is not None else None,
        on_commit=metrics.commit,
    )
    intake = Intake(
        workspace.engine,
        max_body=opts.max_body,
        environ=opts.environ,
        writer=writer,
        clock=opts.clock or time.time,
        on_request=metrics.webhook,
    )

    pusher = workspace.push_loop(opts.poll_s) if opts.push else None
    if pusher is not None:
        metrics.watch_push(pusher)
    snapshots = (
        SnapshotKeeper(workspace.health_snapshot, opts.snapshot_s, workspace.shared_console)
        if opts.console is not None
        else None
    )

    def settings_saved() -> None:
        """A save through ``workspace`` (console, admin API): decide the next request and
        the next batch under it, and take the health report again."""
        intake.reload_settings()
        if worker is not None:
            worker.reload_rules()
        if snapshots is not None:
            snapshots.request_refresh()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop_listening = workspace.on_settings_saved(settings_saved)
        intake.start()
        if worker is not None:
            worker.start()
        if pusher is not None:
            pusher.start()
        if snapshots is not None:
            snapshots.start()
        try:
            yield
        finally:
            stop_listening()
            if snapshots is not None:
                snapshots.stop()
            intake.stop()
            if worker is not None:
                worker.stop()
            if pusher is not None:
                pusher.stop()

    # Wrong secrets per address, the API's and the console's, over every process.
    tries = FailedTries(opts.max_failed_sign_ins, shared=workspace.shared_console)
    viewer = opts.console.viewer_token if opts.console is not None else None
    app = FastAPI(
        title="leadsync",
        summary="Keeps record ownership and activities right when sales tools write into the CRM.",
        version="0.1.0",
        lifespan=lifespan,
        # /docs from the package's own Swagger UI files (docs.py); ReDoc would need a CDN.
        docs_url=None,
        redoc_url=None,
    )
    add_docs(app)
    app.state.intake = intake
    app.state.worker = worker
    app.state.snapshots = snapshots
    app.state.metrics = metrics
    add_problem_handlers(app)
    app.add_middleware(ApiRequests, limit=opts.max_api_body)
    app.add_middleware(HeadAsGet)
    app.add_middleware(NoTrailingSlash)

    @app.post(
        "/webhooks/{integration}/",
        include_in_schema=False,  # the same as without the slash (never a redirect)
    )
    @app.post(
        "/webhooks/{integration}",
        tags=["webhooks"],
        summary="Receive a vendor's webhook",
        openapi_extra={"requestBody": _WEBHOOK_BODY},
        responses={
            200: {
                "description": "Committed to the inbox (Salesforce Outbound Messages get their "
                "SOAP acknowledgement instead)",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/WebhookReceipt"}},
                    "text/xml": {"schema": {"type": "string"}},
                },
            },
            400: problem_ref(
                "Malformed body: what and where (an authentic one is kept as a dead letter)"
            ),
            401: problem_ref("Bad or missing signature"),
            404: problem_ref("Unknown integration"),
            413: problem_ref("Body over the configured limit"),
            415: problem_ref("Content type not accepted for the integration's kind"),
            503: problem_ref("The inbox could not commit; retry later"),
        },
    )
    async def receive_webhook(integration: str, request: Request) -> Response:
        """Verify, then store the raw events in the inbox, committed, before answering;
        a worker applies them afterwards. A redelivered event is acknowledged and not stored
        again; a batch (HubSpot, Salesforce) is accepted whole or refused whole."""
        path = request.url.path
        try:
            declared = request.headers.get("content-length")
            body = await read_body(request.receive, declared, opts.max_body)
        except BodyTooLarge as exc:
            answer = webhook_too_large(intake, integration, opts.max_body, exc.size, path)
        else:
            uri = public_uri(
                request.url.scheme,
                request.headers.get("host", request.url.netloc),
                path,
                request.url.query,
                opts.public_url,
            )
            headers = Headers.from_raw(request.headers.raw)  # every copy of a repeated header
            answer = await answer_webhook(
                intake, integration, WebhookRequest("POST", uri, headers, body), path
            )
        return Response(
            answer.body, answer.status, headers=answer.headers, media_type=answer.media_type
        )

    @app.get("/healthz", tags=["health"], summary="The process is up")
    def healthz() -> Health:
        return Health(status="ok", process=process)

    @app.get(
        "/readyz",
        tags=["health"],
        summary="The database answers and the inbox is not too far behind",
        response_model=Readiness,
        responses={
            200: {"description": "Ready"},
            503: {"model": Readiness, "description": "Not ready"},
        },
    )
    def readyz() -> Any:
        body = workspace.readiness(opts.max_lag_s).model_copy(update={"process": process})
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="This process's metrics, in Prometheus's text format (docs/MONITORING.md)",
        dependencies=[Depends(require_admin(opts.admin_token, tries, viewer=viewer))],
        response_class=Response,
        responses={
            200: {
                "description": "The metrics; the database's gauges are read now, and left "
                "out (leadsync_database_up 0) when it does not answer. The format follows "
                "`Accept`, as on --metrics-port: Prometheus text 0.0.4 by default, 1.0.0 or "
                "OpenMetrics when asked",
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    OPENMETRICS.split(";")[0]: {"schema": {"type": "string"}},
                },
            },
            401: problem_ref("Missing or wrong admin token"),
            429: problem_ref("Too many wrong secrets from this address; try after Retry-After"),
        },
        # Read from the query string as prometheus_client's listener reads it (the same on
        # --metrics-port), so declared here rather than as a parameter FastAPI would parse.
        openapi_extra={
            "parameters": [
                {
                    "name": "name[]",
                    "in": "query",
                    "required": False,
                    "style": "form",
                    "explode": True,
                    "description": "Only these series, by name, as Prometheus' "
                    "`name[]` (`?name[]=leadsync_inbox_pending&name[]="
                    "leadsync_worker_errors_total`): series names, a counter's with "
                    "`_total`, a histogram's with `_bucket`, `_sum` or `_count`; a name "
                    "nothing exposes adds nothing. Without it, every series",
                    "schema": {"type": "array", "items": {"type": "string"}},
                }
            ]
        },
    )
    def get_metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        scraped = metrics.only(request.query_params.getlist("name[]"))
        return Response(encoder(scraped), media_type=content_type)

    app.include_router(
        admin.build_router(
            workspace,
            opts.admin_token,
            worker.wake if worker is not None else None,
            tries,
            viewer=viewer,
        )
    )
    if opts.console is not None:
        add_console(
            app,
            workspace,
            opts.console,
            admin_token=opts.admin_token,
            public_url=opts.public_url,
            environ=opts.environ,
            on_requeue=worker.wake if worker is not None else None,
            snapshots=snapshots,
            tries=tries,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (Problem, WebhookReceipt, IntegrationSettings):
                found = model.model_json_schema(ref_template="#/components/schemas/{model}")
                schemas.update(found.pop("$defs", {}))
                schemas[model.__name__] = found
            _drop_fastapi_validation_errors(schema)
            _document_api_bodies(schema, opts.max_api_body)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_service(workspace: Workspace, options: ServiceOptions | None = None) -> Any:
    """The ASGI application to serve: :func:`create_app`, with webhook POSTs answered in
    front of it by :class:`~leadsync.api.webhooks.WebhookFastPath` (``fast_path``)."""
    opts = options or ServiceOptions()
    app = create_app(workspace, opts)
    if not opts.fast_path:
        return app
    return WebhookFastPath(app, app.state.intake, opts.max_body, opts.public_url)


def _drop_fastapi_validation_errors(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 ``HTTPValidationError`` for every operation with parameters;
    leadsync answers those as 400 problems (see :mod:`leadsync.api.problems`)."""
    fastapi_ref = "#/components/schemas/HTTPValidationError"
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses = operation.get("responses", {})
            media = responses.get("422", {}).get("content", {}).get("application/json", {})
            if media.get("schema", {}).get("$ref") == fastapi_ref:
                del responses["422"]
                responses.setdefault("400", problem_ref("Malformed request: what and where"))
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)


def _document_api_bodies(schema: dict[str, Any], limit: int) -> None:
    """The answers of :class:`ApiRequests` on every admin operation that takes a body."""
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if path.startswith(API_PREFIX) and method in BODY_METHODS:
                responses = operation.setdefault("responses", {})
                if "requestBody" not in operation:
                    responses.setdefault("400", problem_ref("A body given: it takes none"))
                responses.setdefault("413", problem_ref(f"Body over {limit} bytes"))
                responses.setdefault(
                    "415", problem_ref(f"Content type not accepted; allowed: {JSON}")
                )


API_PREFIX = "/api/"
BODY_METHODS = ("post", "put", "patch")
JSON = "application/json"


class ApiRequests:
    """ASGI middleware for the admin API (``/api/…``), before FastAPI reads anything:

    - a body over ``limit`` bytes is refused with 413, before reading when
      ``Content-Length`` says so, else while reading (the webhooks' :func:`read_body`);
    - a body of a POST, PUT or PATCH must be JSON (``application/json``, or a ``+json``
      type): any other content type, or none, is 415;
    - a JSON object that repeats a key is 400 naming the key and where (``json.loads``
      would keep the last copy silently; the YAML file refuses them too).
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        headers = Headers.from_raw(scope["headers"])
        try:
            body = await read_body(receive, headers.get("content-length"), self.limit)
        except BodyTooLarge as exc:
            await send_answer(send, too_large(self.limit, exc.size, path))
            return
        if body and scope["method"].lower() in BODY_METHODS:
            refusal = _refuse_body(headers.get("content-type"), body)
            if refusal is not None:
                status, title, detail = refusal
                await send_answer(send, problem_answer(status, title, detail, path))
                return
        given = False

        async def replay() -> Message:
            nonlocal given
            if given:
                return await receive()
            given = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _refuse_body(content_type: str | None, body: bytes) -> tuple[int, str, str] | None:
    """Why an admin API body is refused before FastAPI reads it (status, title, detail);
    None to go on. JSON that does not parse goes on: FastAPI's error says where."""
    media = (content_type or "").split(";")[0].strip().lower()
    if not media:
        return 415, "Unsupported media type", f"header Content-Type is missing; allowed: {JSON}"
    # A patch document (merge-patch+json, json-patch+json) would be read as whole settings:
    # a client sending part of them to change that part would lose the rest.
    structured = media.startswith("application/") and media.endswith("+json")
    if media != JSON and not (structured and not media.endswith("patch+json")):
        return (
            415,
            "Unsupported media type",
            f"content type {media[:100]!r} is not accepted; allowed: {JSON}"
            + (" with the whole document (no patch is taken)" if structured else ""),
        )
    try:
        document = _STRICT.decode(body.decode("utf-8-sig"))  # as FastAPI reads it: BOM or not
    except UnicodeDecodeError as exc:
        return 400, "Bad request", f"body: not valid JSON: not UTF-8 text at byte {exc.start}"
    except _Constant as exc:
        return 400, "Bad request", f"body: not valid JSON: {exc} is not allowed; allowed: numbers"
    except json.JSONDecodeError:
        return None  # FastAPI's error says where
    except RecursionError:
        return 400, "Bad request", f"body: not valid JSON: {TOO_DEEP}"
    except ValueError:  # a float out of range, or an integer Python will not read
        problem = number_problem(body.decode("utf-8-sig"))
        what, place = problem or ("a number cannot be read", "")
        return (
            400,
            "Bad request",
            f"body: not valid JSON: {what}" + (f" ({place})" if place else ""),
        )
    if too_deep(body):
        return 400, "Bad request", f"body: not valid JSON: {TOO_DEEP}"
    repeated = _repeated_key(document)
    return None if repeated is None else (400, "Bad request", repeated)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its pairs in order, repeats kept (``object_pairs_hook``)."""


class _Constant(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's decoder takes them, JSON has none."""


def _refuse_constant(name: str) -> Any:
    raise _Constant(name)


# Strict JSON, every object as its pairs: no NaN or infinity, no float out of range.
_STRICT = json.JSONDecoder(
    object_pairs_hook=_Pairs, parse_constant=_refuse_constant, parse_float=finite_float
)


def _repeated_key(document: Any) -> str | None:
    """The first object key given twice in one object, with its place
    (``body.settings: key 'kind' is given more than once; allowed: each key once``)."""
    pending: list[tuple[Any, str]] = [(document, "body")]
    while pending:
        node, where = pending.pop()
        if isinstance(node, _Pairs):
            seen: set[str] = set()
            for key, _ in node:
                if key in seen:
                    shown = key[:100]
                    return f"{where}: key {shown!r} is given more than once; allowed: each key once"
                seen.add(key)
            pending.extend((child, f"{where}.{key}") for key, child in reversed(node))
        elif isinstance(node, list):
            pending.extend((child, f"{where}.{i}") for i, child in reversed(list(enumerate(node))))
    return None


class NoTrailingSlash:
    """ASGI middleware: a trailing slash is taken the same as none on every path but ``/``
    (``/healthz/``, ``/metrics/``, ``/api/integrations/``, a console page), never
    redirected: a load balancer's probe or a scraper takes a redirect as a failure.
    ``/webhooks/NAME/`` keeps its path (a route of its own; HubSpot signs the URI as
    called), as :class:`~leadsync.api.webhooks.WebhookFastPath` keeps it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] == "http"
            and len(path) > 1
            and path.endswith("/")
            and not path.startswith(WEBHOOKS_PREFIX)
        ):
            scope = {**scope, "path": path.rstrip("/") or "/"}
        await self.app(scope, receive, send)


class HeadAsGet:
    """ASGI middleware: ``HEAD`` on any resource is answered as its ``GET``, headers only
    (load balancers probe ``/healthz`` and ``/readyz`` with HEAD); a resource without GET
    answers 405 with its ``Allow``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


__all__ = ["ServiceOptions", "create_app", "create_service", "problem"]
