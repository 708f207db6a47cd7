"""``leadsync serve``, ``worker`` and ``demo``: the processes that run until stopped, and the
demo that runs the whole path once.

Their heavy imports (uvicorn, the ASGI service, the HubSpot stand-in) are made inside the
commands, so that every other command starts without them.

``serve`` and ``worker`` log through :func:`leadsync.logs.configure_logging`
(``--log-format json``: one JSON object per line, uvicorn's lines too) and may serve their
metrics on a port of their own (``--metrics-port``, no authentication, bound to
``--metrics-host``).
"""

from __future__ import annotations

import gc
import logging
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from leadsync.cli import render
from leadsync.cli.app import app, check_folder, check_port, handle_errors, open_workspace, workspace
from leadsync.errors import UserError, WorkspaceError
from leadsync.logs import configure_logging, hide
from leadsync.observability import LOG_FORMAT_ENV, Metrics, MetricsListener, serve_metrics
from leadsync.pipeline.inbox import Problems
from leadsync.pipeline.intake import DEFAULT_MAX_BODY
from leadsync.pipeline.routing import DEFAULT_PARTS
from leadsync.results import counted
from leadsync.workspace import DEFAULT_BATCH

DEFAULT_MAX_LAG_S = 300.0  # /readyz's lag bound of a server with its own worker


def readiness_bound(given: float | None, worker: bool) -> float | None:
    """/readyz's lag bound: the one given; else 300 s for a server with its own worker, and
    none without (intake does not wait for the workers: stalled ones must not take every
    intake server out of the load balancer; their lag is an alert)."""
    if given is not None:
        return given
    return DEFAULT_MAX_LAG_S if worker else None


DEMO_FILE = "leadsync-demo.db"

log = logging.getLogger("leadsync.cli")


class LogFormat(StrEnum):
    text = "text"
    json = "json"


LogFormatOption = Annotated[
    LogFormat,
    typer.Option(
        envvar=LOG_FORMAT_ENV,
        case_sensitive=False,
        help="Log lines as text, or as one JSON object per line (ts, level, logger, message, "
        "process; exc for a defect's traceback).",
    ),
]


class LogLevel(StrEnum):
    """uvicorn's levels (``trace`` is its own, below ``debug``)."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"
    trace = "trace"


LogLevelOption = Annotated[
    LogLevel, typer.Option(case_sensitive=False, help="Log level (uvicorn's too).")
]
MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        min=0,
        max=65535,
        help="Also serve GET /metrics on this port, without authentication (see --metrics-host).",
    ),
]
MetricsHostOption = Annotated[
    str, typer.Option(help="Interface of the --metrics-port listener (keep it private).")
]


def _start_logging(log_format: LogFormat, log_level: LogLevel) -> None:
    configure_logging(log_format.value, log_level.value)


@contextmanager
def _errors_logged(log_format: LogFormat) -> Iterator[None]:
    """With JSON logs, the command's own ``error:`` lines (a port taken, the database away at
    start: :func:`~leadsync.cli.app.handle_errors`) are log lines too, level ``error``, so
    that every line of stderr parses; text logs keep them as they are."""
    if log_format is not LogFormat.json:
        yield
        return
    said = render.error
    render.error = _log_error
    try:
        yield
    finally:
        render.error = said


def _log_error(message: str) -> None:
    log.error("%s", message)


def _note(log_format: LogFormat, text: str) -> None:
    """A line about the process on stderr: as a log line when logs are JSON, so that every
    line of the stream parses."""
    if log_format is LogFormat.json:
        log.info(text)
    else:
        render.note(text)


def _metrics_listener(
    metrics: Metrics, host: str, port: int | None, log_format: LogFormat
) -> MetricsListener | None:
    if port is None:
        return None
    with handle_errors():
        try:
            listener = serve_metrics(metrics, host, port)
        except OSError as exc:
            raise UserError(f"--metrics-port {port}: cannot listen on {host}: {exc}") from exc
    _note(log_format, f"metrics at http://{host}:{listener.port}/metrics")
    return listener


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Apply events in this process too (off when `leadsync worker` runs beside).",
        ),
    ] = True,
    max_body_bytes: Annotated[
        int, typer.Option(min=1, help="Largest webhook body accepted (413 above).")
    ] = DEFAULT_MAX_BODY,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL vendors call (https://host[/prefix], without /webhooks/NAME), when a "
            "proxy sits in front; HubSpot signs it."
        ),
    ] = None,
    max_lag_s: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="/readyz answers 503 when the oldest pending event is older (default 300 s "
            "with its own worker; with --no-worker none: an intake server takes webhooks "
            "whatever the workers' lag, which /metrics and `leadsync report` watch).",
        ),
    ] = None,
    log_level: LogLevelOption = LogLevel.info,
    push: Annotated[
        bool,
        typer.Option(
            "--push/--no-push", help="Push to the configured destination (HubSpot) in this process."
        ),
    ] = True,
    log_format: LogFormatOption = LogFormat.text,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
    max_failed_sign_ins: Annotated[
        int,
        typer.Option(
            min=0,
            help="Wrong secrets (admin API token, console sign-in) one address may give in 10 "
            "minutes before it waits (429, even with the right one); 0: no limit, for a "
            "proxy in front that limits them (there every client has the proxy's address).",
        ),
    ] = 10,
) -> None:
    """Serve webhooks (POST /webhooks/INTEGRATION), /healthz, /readyz, the admin API
    (/api, bearer token from LEADSYNC_ADMIN_TOKEN; OpenAPI at /openapi.json) and the web
    console at / (sign in with LEADSYNC_ADMIN_TOKEN or LEADSYNC_CONSOLE_PASSWORD;
    LEADSYNC_VIEWER_TOKEN: read-only; LEADSYNC_SESSION_SECRET keeps sessions across restarts).
    GET /metrics (Prometheus) takes the admin token too, or --metrics-port serves it apart."""
    import uvicorn

    from leadsync.api.app import ServiceOptions, create_service
    from leadsync.api.webhooks import public_base
    from leadsync.web import ConsoleOptions

    _start_logging(log_format, log_level)
    with _errors_logged(log_format), handle_errors():
        public_url = public_base(public_url) if public_url is not None else None
        ws = open_workspace()
    console = ConsoleOptions(
        password=os.environ.get("LEADSYNC_CONSOLE_PASSWORD") or None,
        viewer_token=os.environ.get("LEADSYNC_VIEWER_TOKEN") or None,
        session_secret=os.environ.get("LEADSYNC_SESSION_SECRET") or None,
    )
    options = ServiceOptions(
        admin_token=os.environ.get("LEADSYNC_ADMIN_TOKEN") or None,
        console=console,
        max_body=max_body_bytes,
        worker=worker,
        public_url=public_url,
        max_lag_s=readiness_bound(max_lag_s, worker),
        push=push,
        metrics=Metrics(ws.engine),
        max_failed_sign_ins=max_failed_sign_ins,
    )
    hide(options.admin_token, console.password, console.viewer_token, console.session_secret)
    if options.admin_token is None:
        _note(log_format, "note: LEADSYNC_ADMIN_TOKEN is not set; the admin API answers 401")
    if console.session_secret is None:
        _note(
            log_format, "note: LEADSYNC_SESSION_SECRET is not set; console sessions end at restart"
        )
    listener: MetricsListener | None = None
    try:
        with _errors_logged(log_format):
            check_port("--port", host, port)
            with handle_errors():  # a session secret too short to sign with, say
                service = create_service(ws, options)
            assert options.metrics is not None
            listener = _metrics_listener(options.metrics, metrics_host, metrics_port, log_format)
        # What start-up made (settings, adapters, the app, imported modules) lives as long as
        # the process: out of the collector's way, its full passes under load stay short.
        gc.freeze()
        # uvicorn stops on SIGTERM, then raises it again: a stop it made cleanly exits 0, as
        # a worker's does (143 reads as a failure to supervisors).
        signal.signal(signal.SIGTERM, _stopped)
        uvicorn.run(
            service,
            host=host,
            port=port,
            log_level=log_level.value,
            log_config=None,  # configure_logging's handler, for uvicorn's lines too
            access_log=log_level in (LogLevel.trace, LogLevel.debug, LogLevel.info),
        )
    finally:
        if listener is not None:
            listener.stop()
        ws.close()


def _stopped(signum: int, _frame: object) -> None:
    raise SystemExit(0)


@app.command("worker")
def worker_command(
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per batch (one transaction each).")
    ] = DEFAULT_BATCH,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between looks when idle.")] = 1.0,
    once: Annotated[bool, typer.Option(help="Drain what is pending, then exit.")] = False,
    push: Annotated[
        bool,
        typer.Option(
            "--push/--no-push", help="Push to the configured destination (HubSpot) as well."
        ),
    ] = True,
    parts: Annotated[
        int,
        typer.Option(
            min=1,
            max=256,
            help="PostgreSQL: parts per routed window of the inbox; at least the number of "
            "worker processes you run (each applies one part at a time). 1 for a worker that "
            "runs alone: its windows are applied in arrival order with nothing looked up.",
        ),
    ] = DEFAULT_PARTS,
    log_format: LogFormatOption = LogFormat.text,
    log_level: LogLevelOption = LogLevel.info,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "127.0.0.1",
) -> None:
    """Apply events from the inbox as they arrive (beside `leadsync serve --no-worker`, as
    many processes as the load needs: on PostgreSQL they apply disjoint parts of the inbox
    side by side); with a destination, push to it too. --metrics-port serves this process's
    metrics (events applied, errors, the database's gauges)."""
    _start_logging(log_format, log_level)
    with _errors_logged(log_format), workspace() as ws:
        loop = ws.worker(batch_size, poll)
        loop.parts = parts
        if once:
            failures = Problems()
            result = loop.run_once(failures)
            render.line(f"applied {counted(result.events, 'event')}")
            for failed in failures:  # as inbox process says them
                _note(log_format, f"dead letter: {failed.where}: {failed.error}")
            if len(failures) > len(failures.items):
                hidden = len(failures) - len(failures.items)
                _note(log_format, f"… and {hidden} more: leadsync dead-letters list")
            return
        metrics = Metrics(ws.engine)
        metrics.watch_worker(loop)
        pusher = ws.push_loop(poll) if push else None
        if pusher is not None:
            metrics.watch_push(pusher)
        listener = _metrics_listener(metrics, metrics_host, metrics_port, log_format)
        stopped_by: list[str] = []

        def on_sigterm(*_: object) -> None:
            stopped_by.append("SIGTERM")
            loop.stop_soon()

        signal.signal(signal.SIGTERM, on_sigterm)
        _note(log_format, "worker: applying events as they arrive (Ctrl-C to stop)")
        if pusher is not None:
            try:
                ws.destination()
            except WorkspaceError:  # the loop reads the destination each turn: no restart
                _note(log_format, "worker: no destination yet; pushing once one is added")
            else:
                _note(log_format, "worker: pushing to the destination as changes are queued")
            pusher.start()
        try:
            with suppress(KeyboardInterrupt):
                loop.run()
        finally:
            if pusher is not None:
                pusher.stop()
            if listener is not None:
                listener.stop()
        why = f"stopped on {stopped_by[0]}, the batch under way finished; " if stopped_by else ""
        _note(log_format, f"worker: {why}applied {counted(loop.applied, 'event')}")
        if loop.upgraded is not None:  # said in the log already: the exit code tells it
            raise typer.Exit(loop.upgraded.exit_code)


@app.command()
def demo(
    path: Annotated[
        Path, typer.Option("--file", help="The demo's own workspace file (made anew each run).")
    ] = Path(DEMO_FILE),
) -> None:
    """The whole path on the bundled sample, in a workspace file of its own (never --db or
    LEADSYNC_DB): a local HubSpot STAND-IN starts, owners are pulled from it, the sample is
    ingested, decisions are pushed, and the contact is shown as HubSpot now has it."""
    from leadsync.demo import run_demo

    with handle_errors():
        check_folder(path, f"--file {path}")
        run_demo(path, render.out)
