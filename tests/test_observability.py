"""Operating leadsync as a service: /metrics (behind the admin token, or on a listener of its
own), JSON log lines, an outage as one line, health that names the process, and settings saved
in one process reaching another.

The service runs for real (uvicorn on a local port, or ``leadsync serve``/``worker`` as
subprocesses); metrics are read with prometheus_client's own parser.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.loop import PushLoop
from leadsync.logs import (
    JsonFormatter,
    Recovery,
    configure_logging,
    hide,
    redacted_path,
    what_changed,
)
from leadsync.model import now_ts
from leadsync.observability import Metrics, database_outage, serve_metrics
from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.pipeline.worker import Worker
from leadsync.store import counterparts as counterpart_store
from leadsync.store import push as push_store
from leadsync.store import push_lease
from leadsync.store.database import create_db_engine
from leadsync.workspace import Workspace
from tests.conftest import drop_postgres, scratch_postgres
from tests.helpers import owner_of, workspace_config
from tests.live import (
    ADMIN_TOKEN,
    DIALER_SECRET,
    HUBSPOT_SECRET,
    LiveServer,
    compact,
    configure,
    integrations,
    serve,
    wait_applied,
    wait_until,
)

LEADSYNC = Path(sys.executable).with_name("leadsync")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def contact(n: int, owner: str = "u-1") -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "occurred_at": "2026-11-01T09:00:00Z",
        "type": "record",
        "object": "contact",
        "external_id": f"p-{n}",
        "properties": {"email": f"kim{n}@globex.test"},
        "owner": owner,
    }


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


def scrape(live: LiveServer) -> Samples:
    response = live.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


# ------------------------------------------------------------------ /metrics


def test_metrics_need_the_admin_token(ws: Workspace) -> None:
    with serve(ws, worker=False) as live:
        bare = httpx.get(f"{live.base_url}/metrics")
        assert bare.status_code == 401
        assert bare.headers["content-type"] == "application/problem+json"
        assert bare.headers["www-authenticate"] == "Bearer"
        wrong = httpx.get(f"{live.base_url}/metrics", headers={"authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["detail"]) == (401, "wrong admin token")
        assert ADMIN_TOKEN not in wrong.text
        samples = scrape(live)
        assert value(samples, "leadsync_database_up") == 1.0
    with serve(ws, worker=False, admin_token=None) as live:
        refused = httpx.get(f"{live.base_url}/metrics")
        assert refused.status_code == 401 and "LEADSYNC_ADMIN_TOKEN" in refused.json()["detail"]


def test_metrics_after_webhooks_and_a_drain(ws: Workspace) -> None:
    """Events applied by the service's worker, the inbox empty again, and the hooks the
    intake calls (webhook, commit) counted once each."""
    with serve(ws) as live:
        for first in (0, 3):
            events = [contact(first + n) for n in range(3)]
            assert live.post_generic("dialer", compact(events)).status_code == 200
        wait_applied(ws)
        # Refused: a wrong signature, and names nobody configured.
        body = compact([contact(9)])
        assert live.post_generic("dialer", body, secret="wrong").status_code == 401
        for name in ("no-such-integration", "another-unknown"):
            assert live.post_generic(name, body).status_code == 404

        def counted() -> Samples | None:
            samples = scrape(live)
            return samples if value(samples, "leadsync_events_applied_total") == 6 else None

        samples = wait_until(counted, "the worker's events in the metrics")
    assert value(samples, "leadsync_inbox_pending") == 0
    assert value(samples, "leadsync_inbox_lag_seconds") == 0
    requests = "leadsync_webhook_requests_total"
    assert value(samples, requests, integration="dialer", status="200") == 2
    assert value(samples, requests, integration="dialer", status="401") == 1
    # Refusals for names nobody configured share one label: a scan makes no new series.
    assert value(samples, requests, integration="(unknown)", status="404") == 2
    # Two requests, each its own group commit of three rows (the second came after the
    # first was answered); nothing else was committed.
    assert value(samples, "leadsync_inbox_commit_seconds_count") == 2
    assert value(samples, "leadsync_inbox_commit_rows_sum") == 6
    assert value(samples, "leadsync_batches_applied_total") >= 1
    assert value(samples, "leadsync_worker_errors_total") == 0
    info = [labels for name, labels in samples if name == "leadsync_process_info"]
    assert len(info) == 1
    assert dict(info[0])["pid"] == str(os.getpid())
    assert "process_cpu_seconds_total" in names(samples)
    assert not any(name.endswith("_created") for name in names(samples))


@pytest.mark.parametrize("fast_path", [True, False], ids=["fast path", "routed"])
def test_every_refusal_is_counted_by_the_fast_path_and_the_route(
    ws: Workspace, fast_path: bool
) -> None:
    """Both ways of answering a webhook count each answer under its status, a body over the
    limit (413, refused before it is read) included."""
    small = compact([contact(1)])
    with serve(ws, worker=False, fast_path=fast_path, max_body=len(small)) as live:
        assert live.post_generic("dialer", small).status_code == 200
        assert live.post_generic("dialer", small, secret="wrong").status_code == 401
        assert live.post_generic("dialer", small, content_type="text/plain").status_code == 415
        assert live.post_generic("dialer", compact([contact(10)])).status_code == 413
        assert live.post_generic("nobody", compact([contact(11)])).status_code == 413
        samples = scrape(live)
    counted = {
        (dict(labels)["integration"], dict(labels)["status"]): found
        for (name, labels), found in samples.items()
        if name == "leadsync_webhook_requests_total"
    }
    assert counted == {
        ("dialer", "200"): 1,
        ("dialer", "401"): 1,
        ("dialer", "415"): 1,
        ("dialer", "413"): 1,
        ("(unknown)", "413"): 1,
    }


def test_a_gauge_at_zero_is_a_sample_not_absent(ws: Workspace) -> None:
    """Nothing open and nothing queued: each labelled gauge has a 0 per configured
    integration, review kind and object type (they had no sample, so `== 0` had nothing to
    compare)."""
    samples = parse(generate_latest(Metrics(ws.engine).registry).decode())

    def zeros(name: str, label: str) -> set[str]:
        return {dict(labels)[label] for (n, labels), v in samples.items() if n == name and v == 0}

    assert zeros("leadsync_dead_letters_open", "integration") == set(ws.rules().integrations)
    assert {"number", "email", "deal", "owner"} <= zeros("leadsync_review_open", "kind")
    assert {"contact", "company", "deal", "call", "email", "meeting", "note", "task"} <= zeros(
        "leadsync_push_queue_depth", "object_type"
    )


def test_database_gauges_are_read_at_scrape_time(ws: Workspace) -> None:
    ws.ingest("dialer", [json.dumps(contact(1)), "not json"])  # a dead letter
    ws.ingest("phone", ["{}"])  # and another, of another integration
    at = now_ts()
    with ws.engine.begin() as connection:
        push_store.enqueue(
            connection,
            [
                {"kind": "record", "local_id": n, "object_type": "contact", "change": "created"}
                | {"other_id": None, "queued_at": at}
                for n in (1, 2)
            ]
            + [
                {"kind": "activity", "local_id": 9, "object_type": "call", "change": "created"}
                | {"other_id": None, "queued_at": at}
            ],
        )
        budget = push_lease.lock_budget(connection, "777")
        budget.sent = [time.time() - 1.0, time.time() - 2.0, time.time() - 60.0]
        budget.header_remaining, budget.header_daily_remaining = 17, 249_000
        push_lease.write_budget(connection, budget)
        counterpart_store.queue(
            connection,
            [
                {
                    "key": f"number:{n}",
                    "kind": "number",
                    "integration": "phone",
                    "subject": "a call",
                    "question": "Which contact?",
                    "candidates": [],
                    "created_at": at,
                    "status": "open",
                }
                for n in (1, 2)
            ],
        )
    with serve(ws, worker=False) as live:
        body = compact([contact(10), contact(11), contact(12)])
        assert live.post_generic("dialer", body).status_code == 200
        samples = scrape(live)
    assert value(samples, "leadsync_database_up") == 1
    assert value(samples, "leadsync_inbox_pending") == 3
    lag = value(samples, "leadsync_inbox_lag_seconds")
    assert lag is not None and lag >= 0
    assert value(samples, "leadsync_dead_letters_open", integration="dialer") == 1
    assert value(samples, "leadsync_dead_letters_open", integration="phone") == 1
    assert value(samples, "leadsync_review_open", kind="number") == 2
    assert value(samples, "leadsync_push_queue_depth", object_type="contact") == 2
    assert value(samples, "leadsync_push_queue_depth", object_type="call") == 1
    assert value(samples, "leadsync_hubspot_requests_10s", app="777") == 2
    assert value(samples, "leadsync_hubspot_budget_remaining", app="777", window="10s") == 17
    assert value(samples, "leadsync_hubspot_budget_remaining", app="777", window="daily") == 249_000
    assert value(samples, "leadsync_hubspot_paused", app="777") == 0


def test_a_metrics_listener_of_its_own_needs_no_token(ws: Workspace) -> None:
    metrics = Metrics(ws.engine, process="worker-3")
    metrics.applied(5)
    listener = serve_metrics(metrics, "127.0.0.1", 0)
    try:
        answer = httpx.get(f"http://127.0.0.1:{listener.port}/metrics")
        assert answer.status_code == 200
        samples = parse(answer.text)
        assert value(samples, "leadsync_events_applied_total") == 5
        assert value(samples, "leadsync_database_up") == 1
        info = [dict(labels) for name, labels in samples if name == "leadsync_process_info"]
        assert info[0]["process"] == "worker-3"
        # Only /metrics: another path is no copy of the metrics.
        for path in ("/", "/api/integrations", "/metrics/x"):
            other = httpx.get(f"http://127.0.0.1:{listener.port}{path}")
            assert other.status_code == 404, path
            assert other.headers["content-type"] == "application/problem+json"
            assert "leadsync_events_applied_total" not in other.text
        asked = httpx.get(
            f"http://127.0.0.1:{listener.port}/metrics",
            headers={"accept": "application/openmetrics-text; version=1.0.0"},
        )
        assert asked.headers["content-type"].startswith("application/openmetrics-text")
        # HEAD, as the service's port answers it (a probe's method): the GET's headers only.
        head = httpx.head(f"http://127.0.0.1:{listener.port}/metrics")
        assert (head.status_code, head.content) == (200, b"")
        assert head.headers["content-type"] == answer.headers["content-type"]
        assert int(head.headers["content-length"]) > 0
    finally:
        listener.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{listener.port}/metrics")


# ------------------------------------------------------------------ outages: one line


def away_url(kind: str, tmp_path: Path) -> str:
    """A database that cannot be reached: a PostgreSQL port nothing listens on, a SQLite file
    in a folder that does not exist."""
    if kind == "postgres":
        return "postgresql://postgres@127.0.0.1:1/leadsync"
    return f"sqlite:///{tmp_path / 'gone' / 'leadsync.db'}"


def only_outage_lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[str]:
    """The lines ``logger`` wrote: warnings without a traceback, and nothing else."""
    records = [r for r in caplog.records if r.name == logger]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records), records
    return [r.getMessage() for r in records]


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
def test_a_scrape_without_the_database_is_one_line(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_db_engine(away_url(kind, tmp_path))
    try:
        samples = parse(generate_latest(Metrics(engine).registry).decode())
    finally:
        engine.dispose()
    assert value(samples, "leadsync_database_up") == 0
    assert "leadsync_inbox_pending" not in names(samples)
    assert "leadsync_process_info" in names(samples)
    lines = only_outage_lines(caplog, "leadsync.metrics")
    assert len(lines) == 1 and "database unavailable (OperationalError" in lines[0]
    assert "Traceback" not in caplog.text


def test_the_push_loop_logs_an_outage_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_db_engine(away_url("postgres", tmp_path))

    def push_once() -> int:
        with engine.connect():
            return 0

    loop = PushLoop(push_once, poll_s=0.5)
    try:
        waits = [loop.step(), loop.step()]
    finally:
        engine.dispose()
    assert waits == [1.0, 2.0] and loop.errors == 2  # backing off
    lines = only_outage_lines(caplog, "leadsync.push")
    assert lines == ["push: database unavailable (OperationalError); retrying"] * 2
    loop.push_once = lambda: 0  # the database back
    loop.step()
    loop.step()
    said = [r.getMessage() for r in caplog.records if r.name == "leadsync.push"]
    assert said[2:] == ["push: working again after 0 s; 2 tries failed"]  # once


def test_the_worker_logs_any_outage_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not only OperationalError: a connection the driver says is closed (InterfaceError) is
    the database away too, for the worker as for the push loop and the scrape."""
    worker = Worker(create_db_engine(away_url("sqlite", tmp_path)), poll_s=0.01)

    def closed() -> None:
        worker.stop_soon()
        raise sa.exc.InterfaceError("SELECT 1", {}, sqlite3.InterfaceError("connection closed"))

    worker.rules = closed  # type: ignore[assignment]  # the first thing a drain reads
    worker.run()
    assert worker.errors == 1
    lines = only_outage_lines(caplog, "leadsync.worker")
    assert lines == ["worker: database unavailable (InterfaceError); retrying"]


def test_a_missing_table_is_an_outage_to_the_worker_and_the_scrape(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """The workspace's tables gone (a database dropped and made again before `leadsync
    init`, a restore under way) is an outage on PostgreSQL as on SQLite, as the admin API and
    the intake take it: one warning line per failure, no traceback."""
    with ws.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE inbox RENAME TO inbox_away")
    worker = ws.worker(poll_s=0.01)
    try:
        samples = parse(generate_latest(Metrics(ws.engine).registry).decode())
        worker.start()
        wait_until(lambda: worker.errors >= 1, "the worker's failed drain")
    finally:
        worker.stop()
        with ws.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE inbox_away RENAME TO inbox")
    assert value(samples, "leadsync_database_up") == 0
    for logger in ("leadsync.metrics", "leadsync.worker"):
        lines = only_outage_lines(caplog, logger)
        assert lines and all("database unavailable" in line for line in lines), lines
    assert "Traceback" not in caplog.text


def test_a_defect_keeps_its_traceback() -> None:
    assert not database_outage(ValueError("a bug"))
    assert not database_outage(sa.exc.ProgrammingError("SELECT", {}, Exception("syntax")))
    assert database_outage(sa.exc.OperationalError("SELECT", {}, Exception("refused")))
    assert database_outage(ConnectionRefusedError())


@pytest.fixture
def own_postgres() -> Iterator[str]:
    """A migrated PostgreSQL database of this test's own, for a test that drops it."""
    with scratch_postgres("leadsync_obs") as url:
        yield url


def drop_own(url: str) -> None:
    drop_postgres(str(sa.engine.make_url(url).database))


def test_a_dropped_database_is_one_line_per_failure(
    own_postgres: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The service's database is dropped under it: /metrics still answers (database down),
    /readyz says not ready, the health snapshot keeps the previous one — each failure one
    warning line, no traceback."""
    caplog.set_level(logging.INFO)
    with Workspace(own_postgres) as ws:
        configure(ws)
        with serve(ws, worker=False) as live:
            wait_until(lambda: live.app.state.snapshots.current, "the first health snapshot")
            drop_own(own_postgres)
            caplog.clear()
            samples = scrape(live)
            assert value(samples, "leadsync_database_up") == 0
            assert "leadsync_inbox_pending" not in names(samples)
            ready = live.client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "not ready"
            live.app.state.snapshots.request_refresh()
            wait_until(
                lambda: any(r.name == "leadsync.snapshot" for r in caplog.records),
                "the snapshot's failure",
            )
    assert len(only_outage_lines(caplog, "leadsync.metrics")) == 1
    assert only_outage_lines(caplog, "leadsync.health") == [
        "readiness: database unavailable (OperationalError)"
    ]
    snapshot_lines = only_outage_lines(caplog, "leadsync.snapshot")
    assert snapshot_lines and "database unavailable (OperationalError)" in snapshot_lines[0]
    assert "Traceback" not in caplog.text


# ------------------------------------------------------------------ health names the process


def test_health_and_readiness_name_the_process(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve(ws, worker=False) as live:
        default = f"{socket.gethostname()}:{os.getpid()}"
        assert live.client.get("/healthz").json() == {"status": "ok", "process": default}
        assert live.client.get("/readyz").json()["process"] == default
    monkeypatch.setenv("LEADSYNC_PROCESS_NAME", "web-2")
    with serve(ws, worker=False) as live:
        assert live.client.get("/healthz").json() == {"status": "ok", "process": "web-2"}
        assert live.client.get("/readyz").json()["process"] == "web-2"
        info = [dict(labels) for n, labels in scrape(live) if n == "leadsync_process_info"]
        assert info[0]["process"] == "web-2"


# ------------------------------------------------------------------ JSON logs


def test_a_secrets_value_is_in_no_log_line_whatever_carries_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The values leadsync knows are secrets (hide: the tokens, the integrations' webhook
    secrets, HubSpot's token) are kept out of every line — a message, its arguments, a
    traceback, an access line's path — where only names that say "token" were before."""
    secret = "whsec-0f9e8d7c6b5a"
    access = logging.getLogger("uvicorn.access")  # as a server before may have left it
    monkeypatch.setattr(access, "disabled", False)
    monkeypatch.setattr(access, "level", logging.INFO)
    hide(secret, "short")  # (a value under 8 characters is not hidden: it would blank words)
    for fmt in ("text", "json"):
        configure_logging(fmt, "info")
        try:
            logger = logging.getLogger("leadsync.test")
            logger.warning("a message with %s", secret)
            logger.warning(f"a message made before: {secret}; short")
            logging.getLogger("uvicorn.access").info(
                '%s - "%s %s HTTP/%s" %d', "127.0.0.1", "GET", f"/api/x?y={secret}", "1.1", 404
            )
            try:
                raise ValueError(f"a defect naming {secret}")
            except ValueError:
                logger.exception("failed")
        finally:
            logging.getLogger().removeHandler(
                next(h for h in logging.getLogger().handlers if h.get_name() == "leadsync")
            )
        err = capsys.readouterr().err
        assert secret not in err and err.count("[secret]") >= 4, err
        assert "; short" in err


def test_what_changed_and_a_recovery_in_words(caplog: pytest.LogCaptureFixture) -> None:
    assert what_changed({"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 5, "d": 4}) == (
        "added d; changed b; removed c"
    )
    assert what_changed({"a": 1}, {"a": 1}) is None
    now = [10.0]
    recovery = Recovery(logging.getLogger("leadsync.worker"), "worker", clock=lambda: now[0])
    caplog.set_level(logging.WARNING, "leadsync.worker")
    recovery.ok()  # all well: nothing said
    recovery.failed()
    now[0] = 37.0
    recovery.ok()
    recovery.ok()
    assert [r.getMessage() for r in caplog.records] == [
        "worker: working again after 27 s; 1 try failed"
    ]


def test_a_json_line_carries_its_fields_and_a_defects_traceback() -> None:
    formatter = JsonFormatter("web-1")
    plain = logging.LogRecord(
        "leadsync.worker", logging.WARNING, __file__, 1, "away (%s)", ("X",), None
    )
    line = json.loads(formatter.format(plain))
    assert {k: line[k] for k in ("level", "logger", "message", "process")} == {
        "level": "warning",
        "logger": "leadsync.worker",
        "message": "away (X)",
        "process": "web-1",
    }
    assert line["ts"].endswith("Z") and len(line["ts"]) == 24 and "exc" not in line
    try:
        raise ValueError("a defect")
    except ValueError:
        defect = logging.LogRecord(
            "leadsync.push", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    rendered = formatter.format(defect)
    assert "\n" not in rendered  # one line, the traceback inside a string
    assert "ValueError: a defect" in json.loads(rendered)["exc"]


class Process:
    """A ``leadsync`` command as a subprocess, its stderr read line by line as it comes."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [str(LEADSYNC), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **env},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def message(self, starts: str) -> str:
        """The message of the first JSON line starting with ``starts``, once written."""

        def found() -> str | None:
            assert self.proc.poll() is None, "\n".join(self.lines)
            for line in list(self.lines):
                message = str(json.loads(line)["message"])
                if message.startswith(starts):
                    return message
            return None

        return str(wait_until(found, f"a log line {starts!r}"))

    def stop(self) -> list[dict[str, Any]]:
        """SIGTERM, then every stderr line, each parsed as JSON."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(timeout=10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        return [json.loads(line) for line in self.lines]


def port_of(message: str) -> int:
    """The port of the first ``http://127.0.0.1:PORT`` in a log message."""
    return int(message.split("http://127.0.0.1:", 1)[1].split("/")[0].split(" ")[0])


def test_log_lines_go_to_the_stderr_of_the_moment_not_a_closed_stand_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CLI run in-process (a test runner's capture) installs the handler while stderr is a
    stand-in it closes afterwards; a line another thread logs later goes to stderr as it is
    then, not to the closed stand-in ("Logging error: I/O operation on closed file")."""
    root = logging.getLogger()
    level = root.level
    stand_in, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", stand_in)
    configure_logging("text", "info")
    try:
        logging.getLogger("leadsync.test").info("while the stand-in is stderr")
        assert stand_in.getvalue().rstrip().endswith("leadsync.test: while the stand-in is stderr")
        stand_in.close()
        monkeypatch.setattr(sys, "stderr", later)
        thread = threading.Thread(
            target=logging.getLogger("leadsync.test").info, args=("from another thread",)
        )
        thread.start()
        thread.join()
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "leadsync"]:
            root.removeHandler(handler)
        root.setLevel(level)
    written = later.getvalue()
    assert "Logging error" not in written, written
    assert written.rstrip().endswith("INFO leadsync.test: from another thread"), written


def test_serve_logs_json_and_serves_metrics_apart(db_url: str) -> None:
    """`leadsync serve --log-format json --metrics-port 0`: every stderr line is one JSON
    object naming the process, uvicorn's included; /metrics takes the token on the main
    port and none on its own."""
    with Workspace(db_url) as ws:
        configure(ws)
    env = {
        "LEADSYNC_ADMIN_TOKEN": ADMIN_TOKEN,
        "LEADSYNC_PROCESS_NAME": "web-7",
        "DIALER_SECRET": DIALER_SECRET,
    }
    server = Process(
        *("--db", db_url, "serve", "--port", "0", "--metrics-port", "0", "--log-format", "json"),
        *("--log-level", "INFO"),  # as uvicorn takes it, access lines included
        env=env,
    )
    try:
        main = port_of(server.message("Uvicorn running on"))
        apart = port_of(server.message("metrics at"))
        base = f"http://127.0.0.1:{main}"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok", "process": "web-7"}
        assert httpx.get(f"{base}/metrics").status_code == 401
        token = {"authorization": f"Bearer {ADMIN_TOKEN}"}
        assert (
            value(parse(httpx.get(f"{base}/metrics", headers=token).text), "leadsync_database_up")
            == 1
        )
        samples = parse(httpx.get(f"http://127.0.0.1:{apart}/metrics").text)
        info = [dict(labels) for name, labels in samples if name == "leadsync_process_info"]
        assert info[0]["process"] == "web-7"
        # A token put in the URL (by mistake) is never in a log line: under a name that
        # says so, under any other, or as a path.
        httpx.get(f"{base}/api/inbox", params={"token": ADMIN_TOKEN, "limit": 5})
        httpx.get(f"{base}/api/inbox", params={"x": ADMIN_TOKEN})
        httpx.get(f"{base}/api/inbox/{ADMIN_TOKEN}")
        httpx.post(f"{base}/webhooks/dialer", params={"x": DIALER_SECRET}, content=b"{}")
    finally:
        lines = server.stop()
    assert all({"ts", "level", "logger", "message", "process"} <= line.keys() for line in lines)
    assert {line["process"] for line in lines} == {"web-7"}
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert {(line["path"], line["status"]) for line in access} >= {
        ("/healthz", 200),
        ("/metrics", 401),
        ("/metrics", 200),
        ("/api/inbox?token=[redacted]&limit=5", 401),
        ("/api/inbox?x=[secret]", 401),
        ("/api/inbox/[secret]", 404),
    }
    assert "/webhooks/dialer?x=[secret]" in {line["path"] for line in access}
    assert not [line for line in lines if "exc" in line]
    assert ADMIN_TOKEN not in json.dumps(lines) and DIALER_SECRET not in json.dumps(lines)
    # A clean stop on SIGTERM exits 0, as the worker's does (it exited 143, which
    # supervisors report as a failure; found by a probe).
    assert server.proc.returncode == 0


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/webhooks/aircall?token=abc123", "/webhooks/aircall?token=[redacted]"),
        (
            "/api/inbox?limit=5&access_token=x&ApiKey=y",
            "/api/inbox?limit=5&access_token=[redacted]&ApiKey=[redacted]",
        ),
        ("/api/x?client_secret=s#frag", "/api/x?client_secret=[redacted]#frag"),
        (
            "/api/dead-letters?integration=dialer&limit=10",
            "/api/dead-letters?integration=dialer&limit=10",
        ),
        ("/healthz", "/healthz"),
    ],
)
def test_an_access_line_names_no_secret_a_sender_put_in_the_url(path: str, logged: str) -> None:
    assert redacted_path(path) == logged


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unknown_log_level_is_refused_naming_the_allowed_ones(db_url: str, command: str) -> None:
    """Not uvicorn's KeyError traceback once the service is built (serve), nor info without a
    word (worker): exit 2 before anything starts."""
    with Workspace(db_url) as ws:
        configure(ws)
    # --once: a worker that took the level would otherwise run until stopped.
    rest = ["--port", "0"] if command == "serve" else ["--once"]
    ran = CliRunner().invoke(app, ["--db", db_url, command, *rest, "--log-level", "verbose"])
    assert ran.exit_code == 2, ran.stdout + ran.stderr
    said = " ".join(ran.stderr.replace("│", " ").split())
    assert (
        "'verbose' is not one of 'critical', 'error', 'warning', 'info', 'debug', 'trace'" in said
    )
    assert "Traceback" not in said


def run_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    """A ``leadsync`` command run to its end with ``--log-format json``: its exit code and
    its stderr, every line parsed as one JSON object."""
    ran = subprocess.run(
        [str(LEADSYNC), *args, "--log-format", "json"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    return ran.returncode, [json.loads(line) for line in ran.stderr.splitlines()]


def test_with_json_logs_every_stderr_line_parses_errors_included(db_url: str) -> None:
    """The commands' own lines — a port already taken, the database away at start, a dead
    letter ``worker --once`` made — are JSON log lines too, never plain text beside them."""
    with Workspace(db_url) as ws:
        configure(ws)
        with ws.engine.begin() as connection:
            item = InboxItem("e-1", None, json.dumps(contact(1)))
            write_items(connection, "gone", [item], now_ts(), "webhook", "pending")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, lines = run_json("--db", db_url, "serve", "--port", port)
    assert code == 2
    assert lines[-1]["level"] == "error"
    assert lines[-1]["message"].startswith(f"--port {port}: cannot listen on 127.0.0.1")
    away = "postgresql://leadsync:pw-never-shown@127.0.0.1:1/leadsync"
    code, lines = run_json("--db", away, "worker")
    assert code == 1
    [line] = lines
    assert line["level"] == "error" and "unreachable" in line["message"]
    assert "pw-never-shown" not in json.dumps(line) and "exc" not in line
    code, lines = run_json("--db", db_url, "worker", "--once", "--no-push")
    assert code == 0
    notes = [line["message"] for line in lines]
    assert any(n.startswith("dead letter: webhook (inbox #") for n in notes), notes


def test_a_worker_process_counts_and_survives_its_database(
    db_url: str, request: pytest.FixtureRequest
) -> None:
    """`leadsync worker --metrics-port 0 --log-format json` applies what the service
    committed and counts it; on PostgreSQL its database is then dropped: the metrics say so
    and the log has one-line warnings, no traceback."""
    url = db_url
    if request.node.callspec.params["db_url"] == "postgres":
        url = request.getfixturevalue("own_postgres")
    with Workspace(url) as ws:
        configure(ws)
        with serve(ws, worker=False) as live:
            for first in (0, 4):
                body = compact([contact(first + n) for n in range(4)])
                assert live.post_generic("dialer", body).status_code == 200
        worker = Process(
            *("--db", url, "worker", "--poll", "0.05", "--metrics-port", "0"),
            *("--log-format", "json"),
            env={"LEADSYNC_PROCESS_NAME": "worker-1"},
        )
        try:
            metrics_url = f"http://127.0.0.1:{port_of(worker.message('metrics at'))}/metrics"

            def applied() -> Samples | None:
                samples = parse(httpx.get(metrics_url).text)
                return samples if value(samples, "leadsync_events_applied_total") == 8 else None

            samples = wait_until(applied, "the worker to apply and count 8 events")
            assert value(samples, "leadsync_inbox_pending") == 0
            assert ws.inbox_counts() == [{"integration": "dialer", "status": "applied", "count": 8}]
            if url != db_url:
                ws.engine.dispose()
                drop_own(url)
                wait_until(
                    lambda: value(parse(httpx.get(metrics_url).text), "leadsync_database_up") == 0,
                    "the worker's metrics to see the database gone",
                )
                worker.message("worker: database unavailable")
        finally:
            lines = worker.stop()
    assert {line["process"] for line in lines} == {"worker-1"}
    assert lines[-1]["message"] == (
        "worker: stopped on SIGTERM, the batch under way finished; applied 8 events"
    )
    assert not [line for line in lines if "exc" in line]
    assert "Traceback" not in json.dumps(lines)
    if url != db_url:
        warnings = [line["message"] for line in lines if line["level"] == "warning"]
        assert warnings and all("database unavailable" in message for message in warnings)


# ------------------------------------------------------------------ settings reach every process


def test_a_settings_change_reaches_another_process(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Two services on one database (two processes behind a load balancer): a change saved
    through one is used by the other's intake and worker within their re-read (2 s); polled
    with a generous deadline, never timed. Each says it in its log (nothing did)."""
    caplog.set_level(logging.INFO, "leadsync")
    with Workspace(db_url) as ws_a, Workspace(db_url) as ws_b:
        configure(ws_a)
        with serve(ws_a, worker=False) as a, serve(ws_b) as b:
            settings = a.client.get("/api/integrations/dialer/settings").json()
            settings["secret_env"] = "HUBSPOT_SECRET"
            settings["users"]["map"] = {"u-9": "104"}
            saved = a.client.put("/api/integrations/dialer/settings", json=settings)
            assert saved.status_code == 200, saved.text
            # A's own intake takes the new secret at once (a save in this process).
            assert a.post_generic("dialer", compact([contact(0)])).status_code == 401
            # B's intake: the old secret until it re-reads, then only the new one.
            numbers = iter(range(1, 10_000))

            def takes_new_secret() -> bool:
                body = compact([contact(next(numbers), owner="u-9")])
                return b.post_generic("dialer", body, secret=HUBSPOT_SECRET).status_code == 200

            wait_until(takes_new_secret, "B's intake to take the new secret")
            old = b.post_generic("dialer", compact([contact(0)]), secret=DIALER_SECRET)
            assert old.status_code == 401
            # B's worker: the new map (u-9 -> 104) for what it applies after its re-read.
            wait_until(lambda: owner_of_next(b, ws_b, numbers) == "104", "B's worker: u-9 -> 104")
            # `leadsync apply` (the Python API it runs), from a third process: u-9 -> 101.
            with Workspace(db_url) as ws_c:
                dialer = {**integrations()["dialer"], "secret_env": "HUBSPOT_SECRET"}
                dialer["users"] = {**dialer["users"], "map": {"u-9": "101"}}
                ws_c.apply_config(workspace_config({**integrations(), "dialer": dialer}))
            wait_until(lambda: owner_of_next(b, ws_b, numbers) == "101", "B's worker: u-9 -> 101")
    said = [r.getMessage() for r in caplog.records]
    assert "intake: integrations read again: changed dialer" in said
    assert "worker: settings read again: integrations changed dialer" in said


def owner_of_next(live: LiveServer, ws: Workspace, numbers: Iterator[int]) -> str | None:
    """Post the next contact of rep u-9 to ``live``; once applied, its owner."""
    number = next(numbers)
    body = compact([contact(number, owner="u-9")])
    assert live.post_generic("dialer", body, secret=HUBSPOT_SECRET).status_code == 200
    wait_applied(ws)
    return owner_of(ws, f"p-{number}")


def test_the_monitoring_doc_names_every_metric(ws: Workspace) -> None:
    """docs/MONITORING.md's Metrics section lists every leadsync_ metric a scrape has."""
    doc = (Path(__file__).parent.parent / "docs" / "MONITORING.md").read_text(encoding="utf-8")
    section = doc[doc.index("## Metrics") : doc.index("## Logs")]
    metrics = Metrics(ws.engine)
    with ws.engine.begin() as connection:
        push_lease.lock_budget(connection, "777")  # so the budget's families have a sample
    families = text_string_to_metric_families(generate_latest(metrics.registry).decode())
    documented = {family.name for family in families if family.name.startswith("leadsync_")}
    missing = sorted(
        name
        for name in documented
        if name not in section and f"{name}_total" not in section and f"{name}_info" not in section
    )
    assert len(documented) > 15 and not missing, missing


def test_each_request_to_hubspot_is_no_log_line_below_debug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """httpx logs every request at INFO: a pushing process would write a line per request
    to HubSpot (quiet logs: only its warnings); at debug they are there."""
    root = logging.getLogger()
    level = root.level
    chatty = [logging.getLogger(name) for name in ("httpx", "httpcore", "alembic")]
    levels = [logger.level for logger in chatty]
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    try:
        configure_logging("json", "info")
        assert not any(logger.isEnabledFor(logging.INFO) for logger in chatty)
        assert all(logger.isEnabledFor(logging.WARNING) for logger in chatty)
        configure_logging("json", "debug")
        assert all(logger.isEnabledFor(logging.DEBUG) for logger in chatty)
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "leadsync"]:
            root.removeHandler(handler)
        root.setLevel(level)
        for logger, was in zip(chatty, levels, strict=True):
            logger.setLevel(was)
