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
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from leadsync.observability import Metrics, process_name
from leadsync.ops.health import Readiness
from leadsync.ops.snapshot import DEFAULT_INTERVAL_S, SnapshotKeeper
from leadsync.pipeline.intake import DEFAULT_MAX_BODY, GroupCommitWriter, Intake
from leadsync.settings import IntegrationSettings
from leadsync.sources import KINDS, adapter_class
from leadsync.sources.base import WebhookRequest
from leadsync.sources.hygiene import Headers
from leadsync.web import ConsoleOptions, add_console
from leadsync.workspace import Workspace

from . import admin
from .docs import add_docs
from .problems import (
    PROBLEM_TYPE,
    Problem,
    add_problem_handlers,
    problem,
)
from .webhooks import (
    BodyTooLarge,
    WebhookFastPath,
    answer_webhook,
    public_uri,
    read_body,
    too_large,
)

log = logging.getLogger("leadsync.api")


@dataclass
class ServiceOptions:
    """How the service runs. ``public_url`` is the base URL vendors call (``https://…``),
    used where a signature covers the full URI (HubSpot); by default the request's own."""

    admin_token: str | None = None
    max_body: int = DEFAULT_MAX_BODY
    worker: bool = True
    # The in-process worker's batch: smaller than ingest's, so that a batch holds the
    # database's write lock (SQLite) for a short time and intake commits keep flowing.
    batch_size: int = 2000
    poll_s: float = 1.0
    max_lag_s: float = 300.0
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


class WebhookReceipt(BaseModel):
    """A webhook's rows are committed: new ones, and redeliveries the inbox already held."""

    integration: str
    accepted: int
    duplicates: int


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


def _problem_ref(why: str) -> dict[str, Any]:
    return {
        "description": why,
        "content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
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
        SnapshotKeeper(workspace.health_snapshot, opts.snapshot_s)
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
            400: _problem_ref(
                "Malformed body: what and where (an authentic one is kept as a dead letter)"
            ),
            401: _problem_ref("Bad or missing signature"),
            404: _problem_ref("Unknown integration"),
            413: _problem_ref("Body over the configured limit"),
            415: _problem_ref("Content type not accepted for the integration's kind"),
            503: _problem_ref("The inbox could not commit; retry later"),
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
            answer = too_large(opts.max_body, exc.size, path)
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
        responses={503: {"model": Readiness, "description": "Not ready"}},
    )
    def readyz() -> Any:
        body = workspace.readiness(opts.max_lag_s).model_copy(update={"process": process})
        return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)

    @app.get(
        "/metrics",
        tags=["health"],
        summary="This process's metrics, in Prometheus's text format (docs/MONITORING.md)",
        dependencies=[Depends(admin.require_admin(opts.admin_token))],
        response_class=Response,
        responses={
            200: {
                "description": "The metrics; the database's gauges are read now, and left "
                "out (leadsync_database_up 0) when it does not answer",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            401: _problem_ref("Missing or wrong admin token"),
        },
    )
    def get_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(
        admin.build_router(workspace, opts.admin_token, worker.wake if worker is not None else None)
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
                responses.setdefault("400", _problem_ref("Malformed request: what and where"))
    for name in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(name, None)


__all__ = ["ServiceOptions", "create_app", "create_service", "problem"]
