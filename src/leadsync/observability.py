"""Operating leadsync as a service: which process answers, its Prometheus metrics, its logs.

- :func:`process_name` names this process (``LEADSYNC_PROCESS_NAME``, else ``HOST:PID``):
  ``/healthz``, ``/readyz``, every JSON log line and ``leadsync_process_info`` carry it, so
  behind a load balancer an answer says which ``serve`` or ``worker`` gave it.
- :class:`Metrics` is one process's metrics in a registry of its own (never the global one:
  a test builds many apps). Counters and histograms are fed by cheap hooks
  (:meth:`Metrics.webhook`, :meth:`Metrics.commit`, :meth:`Metrics.applied`,
  :meth:`Metrics.batch`); the database's gauges (inbox depth and lag, dead letters, review
  queue, push queue, HubSpot's budget) are read at scrape time, one query each
  (:mod:`leadsync.store.metrics`). A database that is away is ``leadsync_database_up 0``
  and one warning line, never a failed scrape. docs/MONITORING.md lists every metric.
- :func:`configure_logging` sends every logger (uvicorn's included) through one handler on
  stderr, as text or as one JSON object per line.
- :func:`database_outage` tells an expected outage (one warning line) from a defect
  (``log.exception``, with its traceback); :func:`log_failure` is how every loop logs a
  failure: one line for an outage or a broken SQLite file, the traceback for a defect.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import sqlalchemy as sa
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from leadsync.model import ActivityType, RecordType
from leadsync.rules.counterparts import KINDS as REVIEW_KINDS
from leadsync.store.metrics import Gauges, read_gauges
from leadsync.store.refusals import first_line
from leadsync.store.sqlite_file import broken_file

log = logging.getLogger("leadsync.metrics")

# Counters and histograms without their ``_created`` twin series (Prometheus does not need
# them, and they double what a scrape carries).
disable_created_metrics()  # type: ignore[no-untyped-call]

PROCESS_ENV = "LEADSYNC_PROCESS_NAME"
LOG_FORMAT_ENV = "LEADSYNC_LOG_FORMAT"
# A refused webhook for an integration nobody configured is counted under this name, so a
# scan of random paths cannot make a label per path.
UNKNOWN_INTEGRATION = "(unknown)"

# The counters the loops keep (Metrics.watch_worker, watch_push): name -> documentation.
LOOP_COUNTERS = {
    "leadsync_worker_errors": "Drains that failed (retried after a pause).",
    "leadsync_push_changes": "Changes pushed to HubSpot by this process.",
    "leadsync_push_errors": "Push cycles that failed (retried later).",
}

# Group commit takes about a millisecond on SQLite and a few on PostgreSQL; a fsync stall
# or a lock wait shows in the upper buckets.
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ROW_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
BATCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def process_name(environ: dict[str, str] | None = None) -> str:
    """This process as health answers, logs and metrics name it: ``LEADSYNC_PROCESS_NAME``
    when set (a pod's name, say), else ``HOSTNAME:PID``."""
    env = os.environ if environ is None else environ
    return env.get(PROCESS_ENV) or f"{socket.gethostname()}:{os.getpid()}"


def leadsync_version() -> str:
    try:
        return metadata.version("leadsync")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


# PostgreSQL's undefined_table: the workspace's tables are not there (a database dropped and
# made again, restored, or not migrated yet), as SQLite's "no such table" (an
# OperationalError) says on SQLite.
UNDEFINED_TABLE = "42P01"
#: PostgreSQL's class 54, "program limit exceeded" (an index row too large, a statement too
#: complex): an OperationalError, but the rows do not fit; the database is not away.
PROGRAM_LIMIT_EXCEEDED = "54"


def database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is the database being away (refused, dropped, restarting, locked, a
    lost connection, the pool waited out, its tables gone), which a loop logs as one line and
    waits out, rather than a defect. A value too large for what holds it (PostgreSQL's
    :data:`PROGRAM_LIMIT_EXCEEDED`) is none: the rows are refused, the others applied. The one definition: the intake's
    :func:`~leadsync.pipeline.intake.database_unavailable` is this and a little more.

    A SQLite file that is not (or no longer) a database is none: it ends only when a person
    restores the file (its connection is dropped all the same, :mod:`leadsync.store.sqlite_file`,
    which marks the error ``connection_invalidated``); :func:`log_failure` says so in one
    error line."""
    if isinstance(exc, sa.exc.DBAPIError):
        if broken_file(exc):
            return False
        if exc.connection_invalidated:
            return True
        if isinstance(exc, sa.exc.ProgrammingError):
            return getattr(exc.orig, "sqlstate", None) == UNDEFINED_TABLE
        if str(getattr(exc.orig, "sqlstate", None) or "").startswith(PROGRAM_LIMIT_EXCEEDED):
            return False
        # SQLite says "database is locked" and "no such table" with OperationalError too.
        return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
    # The pool's own: a connection it found dead at checkout, none free in time.
    return isinstance(
        exc, sa.exc.DisconnectionError | sa.exc.TimeoutError | ConnectionError | TimeoutError
    )


def log_failure(logger: logging.Logger, exc: BaseException, expected: str, defect: str) -> None:
    """Log a loop's failure: an outage as one warning line, ``expected`` with ``{}`` the
    cause (``database unavailable (OperationalError)``); a SQLite file that is not (or no
    longer) a database as one error line saying to restore it (``database file broken (file
    is not a database); restore it from a backup``) — it lasts until a person does, and its
    traceback would say nothing more, on every retry; anything else, a defect, as
    ``defect`` with its traceback."""
    if broken_file(exc):
        said = first_line(getattr(exc, "orig", None) or exc) or type(exc).__name__
        cause = f"database file broken ({said}); restore it from a backup"
        logger.error(expected.format(cause))
    elif database_outage(exc):
        logger.warning(expected.format(f"database unavailable ({error_class(exc)})"))
    else:
        logger.exception(defect)


def error_class(exc: BaseException) -> str:
    """An error's class, with the driver's underneath when it says more
    (``ProgrammingError: UndefinedTable``; ``OperationalError`` alone when both agree): what
    an outage's one log line names."""
    orig = getattr(exc, "orig", None)
    if orig is not None and type(orig).__name__ != type(exc).__name__:
        return f"{type(exc).__name__}: {type(orig).__name__}"
    return type(exc).__name__


# ------------------------------------------------------------------------------ metrics


class _ReadAtScrape(Collector):
    """Counters a loop keeps as plain attributes (the worker's and the pusher's errors),
    read when Prometheus asks. Every counter is declared when the collector is made, watched
    or not: the registry learns a collector's names once, from :meth:`describe`, and a
    scrape filtered by name (``name[]=``) asks only the collectors that named it."""

    def __init__(self, declared: Mapping[str, str]) -> None:
        self._declared = dict(declared)  # name -> documentation
        self._reads: dict[str, Callable[[], float]] = {}

    def add(self, name: str, read: Callable[[], float]) -> None:
        """Read the declared counter ``name`` with ``read`` at each scrape."""
        if name not in self._declared:
            raise ValueError(f"{name} is not declared; declared: {', '.join(self._declared)}")
        self._reads[name] = read

    def describe(self) -> Iterable[Metric]:
        for name, documentation in self._declared.items():
            yield CounterMetricFamily(name, documentation)

    def collect(self) -> Iterable[Metric]:
        # A loop this process does not run did nothing: 0, as every other counter says it
        # (a serve --no-worker's worker errors; a scrape's query finds the series).
        for name, documentation in self._declared.items():
            read = self._reads.get(name)
            yield CounterMetricFamily(name, documentation, value=0 if read is None else read())


class _DatabaseGauges(Collector):
    """The database's gauges, read at each scrape (:func:`leadsync.store.metrics.read_gauges`)."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        """Every family :meth:`collect` may yield, without reading the database."""
        yield _up()
        yield from _gauge_families(Gauges())

    def collect(self) -> Iterator[Metric]:
        up = _up()
        try:
            with self.engine.connect() as connection:
                gauges = read_gauges(connection, self.clock())
        except Exception as exc:
            log_failure(
                log,
                exc,
                "metrics: {}; gauges left out",
                "metrics: reading the gauges failed; gauges left out",
            )
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _gauge_families(gauges)


def _up() -> GaugeMetricFamily:
    return GaugeMetricFamily(
        "leadsync_database_up", "1 when the workspace database answered this scrape."
    )


def _labelled(
    name: str, help_text: str, label: str, counts: Mapping[str, int], known: Iterable[str]
) -> Metric:
    """A gauge with one label, a sample per key of ``counts`` and a 0 for each ``known`` key
    it lacks (in key order): a series that is 0 is there to compare with, not absent."""
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, count in sorted({**dict.fromkeys(known, 0), **counts}.items()):
        family.add_metric([key], count)
    return family


def _gauge_families(gauges: Gauges) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "leadsync_inbox_pending", "Inbox rows waiting to be applied.", value=gauges.inbox_pending
    )
    yield GaugeMetricFamily(
        "leadsync_inbox_lag_seconds",
        "Seconds since the oldest pending inbox row was received (0 when none is pending).",
        value=round(gauges.inbox_lag_s, 3),
    )
    yield _labelled(
        "leadsync_dead_letters_open",
        "Dead letters neither retried nor dismissed, per integration.",
        "integration",
        gauges.dead_letters_open,
        gauges.integrations,
    )
    yield _labelled(
        "leadsync_review_open",
        "Open questions of the review queue, per kind.",
        "kind",
        gauges.review_open,
        REVIEW_KINDS,
    )
    yield _labelled(
        "leadsync_push_queue_depth",
        "Changes waiting to be pushed to HubSpot, per object type.",
        "object_type",
        gauges.push_queued,
        [*RecordType, *ActivityType],
    )
    yield GaugeMetricFamily(
        "leadsync_push_lag_seconds",
        "Age of the oldest change waiting to be pushed (0 when the queue is empty).",
        value=round(gauges.push_lag_s, 3),
    )
    used = GaugeMetricFamily(
        "leadsync_hubspot_requests_10s",
        "Requests to HubSpot in the last ten seconds (answered or in flight), all processes.",
        labels=["app"],
    )
    remaining = GaugeMetricFamily(
        "leadsync_hubspot_budget_remaining",
        "Requests HubSpot's last answer said remain, per window (10s, daily).",
        labels=["app", "window"],
    )
    paused = GaugeMetricFamily(
        "leadsync_hubspot_paused",
        "1 while every process holds its requests (a daily limit or a 429).",
        labels=["app"],
    )
    refused = GaugeMetricFamily(
        "leadsync_hubspot_refused",
        "1 while HubSpot refuses the token (401) or a scope (403): nothing is pushed.",
        labels=["app"],
    )
    for budget in gauges.budgets:
        used.add_metric([budget.app], budget.used_10s)
        if budget.remaining_10s is not None:
            remaining.add_metric([budget.app, "10s"], budget.remaining_10s)
        if budget.remaining_daily is not None:
            remaining.add_metric([budget.app, "daily"], budget.remaining_daily)
        paused.add_metric([budget.app], 1 if budget.paused else 0)
        refused.add_metric([budget.app], 1 if budget.refused else 0)
    yield used
    yield remaining
    yield paused
    yield refused


class Metrics:
    """One process's metrics (``registry``), exposed by ``GET /metrics`` or
    :func:`serve_metrics`. The hooks are cheap enough for the request path: a label pair's
    child is made once and kept."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        process: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.process = process or process_name()
        # auto_describe: a collector without describe() (prometheus_client's process
        # collector) is named from a first collect, so that name[]= finds its series too.
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self._webhooks = Counter(
            "leadsync_webhook_requests",
            "Webhook requests answered, per integration and HTTP status.",
            ["integration", "status"],
            registry=registry,
        )
        self._webhook_children: dict[tuple[str, int], Any] = {}
        self._commit_seconds = Histogram(
            "leadsync_inbox_commit_seconds",
            "Time of one group commit of webhook rows to the inbox.",
            buckets=COMMIT_BUCKETS,
            registry=registry,
        )
        self._commit_rows = Histogram(
            "leadsync_inbox_commit_rows",
            "Inbox rows written by one group commit.",
            buckets=ROW_BUCKETS,
            registry=registry,
        )
        self._events = Counter(
            "leadsync_events_applied", "Inbox events applied by this process.", registry=registry
        )
        self._batches = Counter(
            "leadsync_batches_applied", "Batches applied by this process.", registry=registry
        )
        self._batch_seconds = Histogram(
            "leadsync_batch_seconds",
            "Time of one batch: claim, load, decide, write, commit.",
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        Info("leadsync_process", "Which process this is.", registry=registry).info(
            {
                "process": self.process,
                "hostname": socket.gethostname(),
                "pid": str(os.getpid()),
                "version": leadsync_version(),
            }
        )
        ProcessCollector(registry=registry)  # CPU, memory, open files of this process
        self._loops = _ReadAtScrape(LOOP_COUNTERS)
        registry.register(self._loops)
        if engine is not None:
            registry.register(_DatabaseGauges(engine, clock))

    def only(self, names: Sequence[str]) -> Collector:
        """What a scrape reads: the registry, or only the series ``names`` when some are
        given (Prometheus' ``name[]=`` parameter, as prometheus_client's listener takes it:
        series names, ``leadsync_worker_errors_total``, ``leadsync_inbox_pending``)."""
        return self.registry.restricted_registry(names) if names else self.registry

    def webhook(self, integration: str, status: int) -> None:
        """A webhook request was answered with ``status``."""
        key = (integration, status)
        child = self._webhook_children.get(key)
        if child is None:
            label = UNKNOWN_INTEGRATION if status == 404 else integration
            child = self._webhooks.labels(label, str(status))
            if status != 404:
                self._webhook_children[key] = child
        child.inc()

    def commit(self, seconds: float, rows: int) -> None:
        """One group commit of ``rows`` inbox rows took ``seconds``."""
        self._commit_seconds.observe(seconds)
        self._commit_rows.observe(rows)

    def applied(self, events: int) -> None:
        """The worker applied ``events`` more events."""
        self._events.inc(events)

    def batch(self, seconds: float) -> None:
        """One batch was applied in ``seconds``."""
        self._batches.inc()
        self._batch_seconds.observe(seconds)

    def watch_worker(self, worker: Any) -> None:
        """The worker's failed drains (its ``errors``), its applied events (``on_result``)
        and its batches (``on_batch_seconds``)."""
        self._loops.add("leadsync_worker_errors", lambda: worker.errors)
        previous = worker.on_result

        def on_result(result: Any) -> None:
            self.applied(result.events)
            if previous is not None:
                previous(result)

        worker.on_result = on_result
        worker.on_batch_seconds = self.batch

    def watch_push(self, pusher: Any) -> None:
        """The push loop's changes pushed and failed cycles."""
        self._loops.add("leadsync_push_changes", lambda: pusher.pushed)
        self._loops.add("leadsync_push_errors", lambda: pusher.errors)


@dataclass
class MetricsListener:
    """``/metrics`` on a port of its own, without authentication (bind it to a private
    interface): what ``--metrics-port`` starts."""

    host: str
    port: int
    _server: Any
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


METRICS_PATH = "/metrics"


def serve_metrics(metrics: Metrics, host: str, port: int) -> MetricsListener:
    """Serve ``metrics`` at ``/metrics`` on ``host:port`` (0: a free port, see ``.port``) in
    a thread; any other path is 404 (prometheus_client's own server answers every path).
    ``HEAD`` is answered as the ``GET``, headers only, as on the service's port."""
    exposition = make_wsgi_app(metrics.registry)  # the format follows Accept

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == METRICS_PATH:
            if environ.get("REQUEST_METHOD") == "HEAD":
                return _headers_only(exposition, environ, start_response)
            return exposition(environ, start_response)  # type: ignore[no-any-return]
        body = json.dumps(
            {
                "type": "about:blank",
                "title": "Not found",
                "status": 404,
                "detail": f"this listener serves {METRICS_PATH} only",
            }
        ).encode()
        start_response(
            "404 Not Found",
            [("Content-Type", "application/problem+json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    class Server(ThreadingWSGIServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = make_server(host, port, app, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return MetricsListener(host, int(server.server_port), server, thread)


def _headers_only(
    exposition: Callable[..., Iterable[bytes]],
    environ: dict[str, Any],
    start_response: Callable[..., Any],
) -> Iterable[bytes]:
    """``HEAD /metrics``: the GET's status and headers (its length included), no body
    (prometheus_client answers HEAD with 405)."""
    answered: list[tuple[str, list[tuple[str, str]]]] = []

    def keep(status: str, headers: list[tuple[str, str]], _exc_info: Any = None) -> None:
        answered.append((status, headers))

    body = b"".join(exposition({**environ, "REQUEST_METHOD": "GET"}, keep))
    status, headers = answered[0]
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return []


class _QuietHandler(WSGIRequestHandler):
    """No access line on stderr per scrape."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass
