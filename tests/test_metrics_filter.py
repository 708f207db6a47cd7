"""A scrape filtered by name (``/metrics?name[]=leadsync_inbox_pending``, prometheus_client's
parameter: series names) answers exactly the series named — every series leadsync exposes,
those read at scrape time included — on the metrics listener (``--metrics-port``) and on the
service's ``GET /metrics``; without the parameter, everything."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from leadsync.model import now_ts
from leadsync.observability import Metrics, serve_metrics
from leadsync.store import counterparts as counterpart_store
from leadsync.store import push as push_store
from leadsync.store import push_lease
from leadsync.workspace import Workspace
from tests.live import compact, configure, serve

Series = set[tuple[str, frozenset[tuple[str, str]]]]

# At least these, one of each kind of collector: counters and histograms the hooks feed, the
# process's info and its CPU (prometheus_client's collector), the loops' counters, the
# database's gauges with and without labels.
EXPECTED = {
    "leadsync_webhook_requests_total",
    "leadsync_inbox_commit_seconds_bucket",
    "leadsync_inbox_commit_rows_sum",
    "leadsync_events_applied_total",
    "leadsync_process_info",
    "process_cpu_seconds_total",
    "leadsync_worker_errors_total",
    "leadsync_push_changes_total",
    "leadsync_push_errors_total",
    "leadsync_database_up",
    "leadsync_inbox_pending",
    "leadsync_inbox_lag_seconds",
    "leadsync_dead_letters_open",
    "leadsync_review_open",
    "leadsync_push_queue_depth",
    "leadsync_push_lag_seconds",
    "leadsync_hubspot_requests_10s",
    "leadsync_hubspot_budget_remaining",
    "leadsync_hubspot_paused",
}


@pytest.fixture
def ws(db_url: str) -> Iterator[Workspace]:
    """A workspace whose every gauge has a sample: a dead letter, the push queue, HubSpot's
    budget, a review question, an inbox row pending."""
    workspace = Workspace(db_url)
    configure(workspace)
    workspace.ingest("dialer", ["not json"])
    at = now_ts()
    with workspace.engine.begin() as connection:
        change = {"kind": "record", "object_type": "contact", "change": "created"}
        push_store.enqueue(
            connection, [change | {"local_id": 1, "other_id": None, "queued_at": at}]
        )
        budget = push_lease.lock_budget(connection, "777")
        budget.sent = [time.time() - 1.0]
        budget.header_remaining, budget.header_daily_remaining = 17, 249_000
        push_lease.write_budget(connection, budget)
        question = {"kind": "number", "integration": "phone", "subject": "a call"}
        counterpart_store.queue(
            connection,
            [
                question
                | {"key": "number:1", "question": "Which contact?", "candidates": []}
                | {"created_at": at, "status": "open"}
            ],
        )
    yield workspace
    workspace.close()


def series(text: str) -> Series:
    return {
        (sample.name, frozenset(sample.labels.items()))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def every_series_found_by_name(scrape: Callable[[list[str]], str]) -> None:
    """``scrape(names)`` answers the series named, each alone and several together."""
    everything = series(scrape([]))
    names = {name for name, _ in everything}
    assert names >= EXPECTED, sorted(EXPECTED - names)
    for name in sorted(names):
        assert series(scrape([name])) == {s for s in everything if s[0] == name}, name
    several = [
        "leadsync_inbox_pending",
        "leadsync_worker_errors_total",
        "process_cpu_seconds_total",
    ]
    assert {name for name, _ in series(scrape(several))} == set(several)
    assert series(scrape(["no_such_series"])) == set()


def test_the_metrics_listener_filters_by_name(ws: Workspace) -> None:
    metrics = Metrics(ws.engine, process="worker-3")
    metrics.webhook("dialer", 200)
    metrics.commit(0.002, 3)
    metrics.applied(3)
    metrics.watch_worker(ws.worker())
    metrics.watch_push(SimpleNamespace(pushed=4, errors=1))  # a push loop's two counters
    listener = serve_metrics(metrics, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.port}/metrics"
    try:
        every_series_found_by_name(
            lambda names: httpx.get(url, params=[("name[]", n) for n in names]).text
        )
    finally:
        listener.stop()


def test_get_metrics_filters_by_name(ws: Workspace) -> None:
    metrics = Metrics(ws.engine)
    metrics.watch_push(SimpleNamespace(pushed=4, errors=1))
    with serve(ws, console=None, metrics=metrics) as live:
        event = {"id": "c1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record"}
        event |= {"object": "contact", "external_id": "p-1", "owner": "u-1"}
        assert live.post_generic("dialer", compact([event])).status_code == 200

        def scrape(names: list[str]) -> str:
            answer = live.client.get("/metrics", params=[("name[]", n) for n in names])
            assert answer.status_code == 200, answer.text
            return answer.text

        every_series_found_by_name(scrape)
        # The format still follows Accept.
        asked = live.client.get(
            "/metrics",
            params={"name[]": "leadsync_database_up"},
            headers={"accept": "application/openmetrics-text; version=1.0.0"},
        )
    assert asked.headers["content-type"].startswith("application/openmetrics-text")
    assert asked.text.splitlines()[-2:] == ["leadsync_database_up 1.0", "# EOF"]


def test_a_process_that_runs_no_worker_nor_push_says_0_of_their_counters(ws: Workspace) -> None:
    """`serve --no-worker` left `leadsync_worker_errors_total` out (the README's example
    scrape of it answered nothing there); a loop this process does not run did nothing."""
    metrics = Metrics(ws.engine)  # no worker, no push loop watched
    listener = serve_metrics(metrics, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.port}/metrics"
    try:
        found = series(httpx.get(url, params=[("name[]", "leadsync_worker_errors_total")]).text)
        everything = httpx.get(url).text
    finally:
        listener.stop()
    assert {name for name, _ in found} == {"leadsync_worker_errors_total"}
    for counter in ("worker_errors", "push_changes", "push_errors"):
        assert f"leadsync_{counter}_total 0.0" in everything, counter
