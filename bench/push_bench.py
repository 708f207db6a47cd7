"""HubSpot push throughput against the rate-limit ceiling, under injected faults; and the
pusher's memory with a million changes queued.

The stand-in (``leadsync hubspot fake``) runs in a process of its own, so its CPU is not
counted as the pusher's; it enforces ``per_10s`` requests per rolling 10 s and injects 5xx
answers (``error_5xx_rate``) and random 429s (``rate_429_rate``). The pusher runs in this
process (``Workspace.pusher().drain()``: real client, real shared budget in the database).

Throughput run (default): ~200,000 changes are queued through the real engine (canonical
JSONL lines ingested in chunks: new contacts with a company named by domain, calls and notes
on recent contacts, and, once contacts exist, owner changes of earlier contacts). Then the
queue is drained with wall, CPU and RSS measured. The ceiling is HubSpot's, measured on the
stand-in's own counts: requests/s allowed (per_10s / 10) x 100 inputs per request; the
ratio is the inputs/s the pusher sent over the whole drain against it, and factors into
(requests/s / allowed) x (mean inputs per request / 100). After the run: duplicates by
``leadsync_id`` in the stand-in, local objects without a HubSpot id, owners and activity
links that differ between the database and the stand-in (all must be 0).

Memory run (``--memory``): 1,000,000 changes are queued with set-based SQL (INSERT ...
SELECT of contacts, calls, their links and queue rows; not through the engine, for speed),
then the pusher runs ``--cycles`` cycles against a stand-in with a high limit and no faults,
and RSS is read after each cycle.

    .venv/bin/python bench/push_bench.py --quick            # smoke run, a few seconds
    .venv/bin/python bench/push_bench.py                    # 200,000 changes, ~10 min today
    .venv/bin/python bench/push_bench.py --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/push_bench.py --memory           # 1,000,000 queued, 200 cycles
    .venv/bin/python bench/push_bench.py --profile          # cProfile of the drain as well
    .venv/bin/python bench/push_bench.py --breakdown --changes 20000   # stand-in in-process:
        # ms per request in the stand-in (and its openapi validation), budget, pusher cycle
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

import synth  # bench/synth.py: the script's directory is on sys.path
from leadsync.destinations.hubspot import cycle as cycle_module
from leadsync.destinations.hubspot import fake as fake_module
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.destinations.hubspot.objects import OBJECT_NAMES
from leadsync.settings import config_from_dict
from leadsync.store import batch as batch_store
from leadsync.workspace import Workspace
from procfs import cpu_seconds, free_port
from scratch import Scratch

LEADSYNC = str(Path(sys.executable).parent / "leadsync")
TOKEN_ENV = "BENCH_HUBSPOT_TOKEN"
TOKEN = "pat-bench-token-not-a-secret"
BATCH_INPUTS = 100  # HubSpot's batch limit: inputs per request
TARGET_RATIO = 0.95
MIN_RUN_S = 60.0
CONTACTS_PER_COMPANY = 8
MEMORY_OWNERS = synth.OWNER_IDS[:8]


# ------------------------------------------------------------------------------ helpers


def rss_mb() -> float:
    """The current resident set size of this process (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    """Reads this process's RSS every ``every`` seconds until stopped."""

    def __init__(self, every: float = 0.5) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.every = every
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append(rss_mb())
            self.halt.wait(self.every)

    def stop(self) -> list[float]:
        self.halt.set()
        self.join()
        self.samples.append(rss_mb())
        return self.samples


@contextmanager
def scratch_database(url: str | None, tmp: Path) -> Iterator[str]:
    """A fresh database: a SQLite file in ``tmp``, or a database of its own on the
    PostgreSQL server of ``url`` (created here, dropped afterwards)."""
    if not url:
        yield f"sqlite:///{tmp / 'push.db'}"
        return
    with Scratch(url) as scratch:
        yield scratch.url(scratch.create(f"leadsync_push_bench_{os.getpid()}"))


# ------------------------------------------------------------------------ the stand-in


class Double:
    """The stand-in in its own process (``leadsync hubspot fake``), and its control API."""

    def __init__(self, tmp: Path, per_10s: int, daily: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = (tmp / "double.log").open("wb")
        command = [LEADSYNC, "hubspot", "fake", "--port", str(self.port)]
        command += ["--per-10s", str(per_10s), "--daily", str(daily), "--token-env", TOKEN_ENV]
        env = {**os.environ, TOKEN_ENV: TOKEN}
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=self.log)
        self.http = httpx.Client(base_url=self.url, timeout=600)
        deadline = time.monotonic() + 60
        while True:
            with suppress(httpx.HTTPError):
                if self.http.get("/_double/faults").status_code == 200:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the stand-in did not start; see {tmp / 'double.log'}")
            time.sleep(0.1)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"/_double/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return dict(self.control("GET", "stats"))

    def cpu(self) -> float:
        return cpu_seconds(self.process.pid)

    def close(self) -> None:
        self.http.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def workspace(db: str, double: Double, per_10s: int) -> Workspace:
    """The synthetic workspace of ``bench/synth.py`` with a destination on the stand-in
    (owners seeded there with the same ids), set up (``leadsync_id`` properties made)."""
    os.environ[TOKEN_ENV] = TOKEN
    config = synth.config_dict()
    config["destination"] = {
        "kind": "hubspot",
        "token_env": TOKEN_ENV,
        "base_url": double.url,
        "limits": {"per_10s": per_10s},
    }
    double.control(
        "POST",
        "owners",
        [
            {
                "id": o["id"],
                "email": o["email"],
                "firstName": o["first_name"],
                "lastName": o["last_name"],
                "archived": not o["active"],
            }
            for o in config["owners"]
        ],
    )
    ws = Workspace(db, hubspot_transport=getattr(double, "transport", None))
    ws.apply_config(config_from_dict(config))
    ws.hubspot_setup()
    return ws


class InProcessDouble:
    """The stand-in in this process, answering through its httpx transport (no HTTP)."""

    url = "http://hubspot-double.invalid"

    def __init__(self, per_10s: int) -> None:
        self.double = HubSpotDouble(TOKEN, per_10s=per_10s, daily=100_000_000)
        self.transport = self.double.transport()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else b""
        status, _, out = self.double.handle(method, f"/_double/{path}", "", {}, data)
        if status >= 400:
            raise RuntimeError(out.decode())
        return json.loads(out)


# ------------------------------------------------------------------------ the workload


class Feed:
    """Canonical events of the ``bench`` integration: ~30% new contacts (each with a company
    named by domain, ~8 contacts per company), ~50% activities (70% calls, 30% notes) on
    recent contacts, ~20% owner changes of any earlier contact (once 2,000 exist)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.contacts = 0
        self.activities = 0
        self.events = 0
        self.clock = synth.START

    def rep(self) -> str:
        return synth.REPS[self.rng.randrange(len(synth.REPS))]

    def recent_contact(self) -> int:
        return self.rng.randrange(max(0, self.contacts - 3000), self.contacts)

    def contact(self) -> dict[str, Any]:
        n = self.contacts
        self.contacts += 1
        company = self.rng.randrange(n // CONTACTS_PER_COMPANY + 1)
        names = synth.FIRST_NAMES, synth.LAST_NAMES
        return {
            "type": "record",
            "object": "contact",
            "external_id": f"p-{n}",
            "owner": self.rep(),
            "properties": {
                "email": f"person{n}@mail{n % 997}.test",
                "firstname": names[0][n % len(names[0])],
                "lastname": names[1][n % len(names[1])],
                "phone": f"+1555{n:07d}",
                "jobtitle": self.rng.choice(["CEO", "CTO", "Buyer", "Engineer"]),
            },
            "associations": [{"object": "company", "domain": f"co{company}.test"}],
        }

    def activity(self) -> dict[str, Any]:
        n = self.activities
        self.activities += 1
        contact = {"object": "contact", "external_id": f"p-{self.recent_contact()}"}
        if self.rng.random() < 0.7:
            kind, props = (
                "call",
                {
                    "direction": self.rng.choice(["outbound", "outbound", "inbound"]),
                    "duration_s": self.rng.randrange(30, 1800),
                    "outcome": "connected",
                    "from_number": "+15550000000",
                    "to_number": f"+1555{self.rng.randrange(10**7):07d}",
                    "body": "Discussed pricing and next steps.",
                },
            )
        else:
            kind, props = "note", {"body": "Prefers email. Budget approved for Q3."}
        return {
            "type": "activity",
            "activity": kind,
            "external_id": f"{kind[0]}-{n}",
            "owner": self.rep(),
            "properties": props,
            "associations": [contact],
        }

    def owner_change(self) -> dict[str, Any]:
        contact = self.rng.randrange(self.contacts)
        return {"type": "owner", "object": "contact", "external_id": f"p-{contact}"}

    def line(self) -> str:
        roll = self.rng.random()
        if self.contacts < 50 or roll < 0.3:
            event = self.contact()
        elif roll < 0.8 or self.contacts < 2000:
            event = self.activity()
        else:
            event = self.owner_change()
            event["owner"] = self.rep()
        self.clock += self.rng.randrange(1, 5)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock))
        event = {"id": f"pb-{self.seed}-{self.events}", "occurred_at": stamp, **event}
        self.events += 1
        return json.dumps(event, separators=(",", ":")) + "\n"


def queued_total(ws: Workspace) -> int:
    with ws.engine.connect() as c:
        return int(c.exec_driver_sql("SELECT count(*) FROM push_queue").scalar_one())


def queue_by_change(ws: Workspace) -> dict[str, int]:
    with ws.engine.connect() as c:
        rows = c.exec_driver_sql(
            "SELECT object_type || ':' || change, count(*) FROM push_queue GROUP BY 1 ORDER BY 1"
        )
        return {str(k): int(n) for k, n in rows}


def fill_queue(ws: Workspace, target: int, seed: int, chunk: int) -> tuple[int, float]:
    """Ingest events chunk by chunk until ``target`` changes are queued; (events, seconds)."""
    feed = Feed(seed)
    started = time.perf_counter()
    while queued_total(ws) < target:
        lines = [feed.line() for _ in range(chunk)]
        summary = ws.ingest(synth.INTEGRATION, lines, source=f"chunk-{feed.events}")
        if not summary.ok:
            raise SystemExit(f"ingest failed: {summary.to_dict()}")
    return feed.events, time.perf_counter() - started


# ----------------------------------------------------------------- instrumenting the drain


class Meter:
    """Wall time and calls of the pusher's parts, by wrapping the client's and the budget's
    attributes on this one instance (nothing in src/ changes): budget DB transactions, the
    budget's waits, 5xx backoff sleeps, HTTP round trips; and inputs sent per status."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self.inputs_by_status: Counter[str] = Counter()
        self.requests_by_status: Counter[str] = Counter()
        self.updates_by_changes: Counter[str] = Counter()

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start
                self.calls[name] += 1

        return timed

    def instrument(self, pusher: Any) -> None:
        client = pusher.client
        budget = client.budget
        budget._try_acquire = self.wrap("budget acquire (DB txn)", budget._try_acquire)
        budget.observe = self.wrap("budget observe (DB txn)", budget.observe)
        budget.sleep = self.wrap("budget waits (sleep)", budget.sleep)
        client.sleep = self.wrap("5xx backoff sleeps", client.sleep)
        http_request = self.wrap("HTTP round trips", client.http.request)

        def request(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response: httpx.Response = http_request(method, path, **kwargs)
            body = kwargs.get("json")
            n = len(body["inputs"]) if isinstance(body, dict) and "inputs" in body else 0
            status = response.status_code
            group = (
                "2xx" if status < 300 else str(status) if status == 429 else f"{status // 100}xx"
            )
            self.inputs_by_status[group] += n
            self.requests_by_status[group] += 1
            return response

        client.http.request = request

        # What the objects the pusher updates had queued (read only; the class is patched in
        # this process, src/ is unchanged).
        update = cycle_module.Cycle.update
        counts = self.updates_by_changes

        def counting_update(cycle: Any, objs: Any, *rest: Any) -> None:
            for obj in objs:
                counts["+".join(sorted(obj.changes))] += 1
            update(cycle, objs, *rest)

        cycle_module.Cycle.update = counting_update  # type: ignore[method-assign]

    def print_updates(self) -> None:
        total = sum(self.updates_by_changes.values())
        if total:
            listed = ", ".join(f"{k} {n:,}" for k, n in self.updates_by_changes.most_common(4))
            print(f"updated objects     {total:,} by their queued changes: {listed}")


def diff_stats(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The stand-in's counts between two snapshots (the drain's requests only)."""

    def status_counts(s: dict[str, Any]) -> Counter[str]:
        return Counter({k: int(v) for k, v in s["by_status"].items()})

    by_status = status_counts(after) - status_counts(before)
    endpoints: dict[str, dict[str, int]] = {}
    for name, entry in after["inputs_per_request"].items():
        old = before["inputs_per_request"].get(name, {"requests": 0, "inputs": 0})
        r, n = entry["requests"] - old["requests"], entry["inputs"] - old["inputs"]
        if r:
            endpoints[name] = {"requests": r, "inputs": n}
    searches = 0
    for name, counts in after["by_endpoint"].items():
        if "search" in name:
            old = before["by_endpoint"].get(name, {})
            searches += sum(counts.values()) - sum(old.values())
    limited = Counter(after["rate_limited_by_policy"]) - Counter(before["rate_limited_by_policy"])
    return {
        "requests": sum(by_status.values()),
        "by_status": dict(sorted(by_status.items())),
        "endpoints": endpoints,
        "searches": searches,
        "rate_limited": dict(limited),
        "max_10s": after["max_requests_in_any_10s_window"],
        "contract_violations": len(after["contract_violations"]),
    }


# ---------------------------------------------------------------------- checking the result


def check_push(ws: Workspace, double: Double) -> dict[str, Any]:
    """Compare the database with the stand-in after the drain: duplicates by leadsync_id,
    local objects without a HubSpot id, stand-in objects no local object names, owners and
    activity links that differ."""
    with ws.engine.connect() as c:
        local = {
            (kind, int(lid)): (str(t), owner)
            for kind, lid, t, owner in c.exec_driver_sql(
                "SELECT 'record', id, type, owner_id FROM records "
                "WHERE NOT placeholder OR email IS NOT NULL OR domain IS NOT NULL "
                "OR name IS NOT NULL "
                "UNION ALL SELECT 'activity', id, type, owner_id FROM activities"
            )
        }
        hs_ids = {
            (kind, int(lid)): str(hs)
            for kind, lid, hs in c.exec_driver_sql(
                "SELECT kind, local_id, hubspot_id FROM push_objects WHERE hubspot_id IS NOT NULL"
            )
        }
        activity_links = [
            (int(a), int(r))
            for a, r in c.exec_driver_sql(
                "SELECT activity_id, record_id FROM activity_associations"
            )
        ]
        left_in_queue = int(c.exec_driver_sql("SELECT count(*) FROM push_queue").scalar_one())
        open_failures = int(
            c.exec_driver_sql(
                "SELECT count(*) FROM push_failures WHERE resolved_at IS NULL"
            ).scalar_one()
        )
    missing: Counter[str] = Counter(t for key, (t, _) in local.items() if key not in hs_ids)
    by_hs = {(local[key][0], hs): key for key, hs in hs_ids.items() if key in local}
    types = sorted({t for t, _ in local.values()})
    duplicates: dict[str, int] = {}
    extra: Counter[str] = Counter()
    owner_mismatch: Counter[str] = Counter()
    links: set[tuple[str, str]] = set()
    in_double: dict[str, int] = {}
    for t in types:
        name = OBJECT_NAMES[t]
        dup = double.control("GET", f"duplicates/{name}")["duplicates"]
        duplicates[t] = sum(len(ids) - 1 for ids in dup.values())
        objects = double.control("GET", f"objects/{name}")["results"]
        in_double[t] = len(objects)
        for obj in objects:
            key = by_hs.get((t, str(obj["id"])))
            if key is None:
                extra[t] += 1
                continue
            theirs = obj["properties"].get("hubspot_owner_id") or None
            if theirs != local[key][1]:
                owner_mismatch[t] += 1
            if key[0] == "activity":
                for others in obj["associations"].values():
                    links.update((str(obj["id"]), str(o["id"])) for o in others)
    lost_links = sum(
        1
        for a, r in activity_links
        if ("activity", a) in hs_ids
        and ("record", r) in hs_ids
        and (hs_ids[("activity", a)], hs_ids[("record", r)]) not in links
    )
    return {
        "local": dict(Counter(t for t, _ in local.values())),
        "in_double": in_double,
        "duplicates": duplicates,
        "missing": dict(missing),
        "extra": dict(extra),
        "owner_mismatch": dict(owner_mismatch),
        "activity_links": len(activity_links),
        "lost_links": lost_links,
        "left_in_queue": left_in_queue,
        "open_failures": open_failures,
    }


# ------------------------------------------------------------------------ throughput run


def throughput(args: argparse.Namespace, tmp: Path, db: str) -> int:
    double = Double(tmp, args.per_10s, daily=10_000_000)
    try:
        ws = workspace(db, double, args.per_10s)
        try:
            return throughput_run(args, ws, double)
        finally:
            ws.close()
    finally:
        double.close()


def throughput_run(args: argparse.Namespace, ws: Workspace, double: Double) -> int:
    events, ingest_s = fill_queue(ws, args.changes, args.seed, args.chunk)
    status = ws.push_status()
    queued = status["queued_total"]
    backend = "postgresql" if ws.engine.dialect.name == "postgresql" else "sqlite"
    print(f"backend             {backend}; load average {os.getloadavg()[0]:.2f} (2 shared cores)")
    print(
        f"queued              {queued:,} changes from {events:,} events through the engine "
        f"({ingest_s:.1f} s)"
    )
    print("  by type           " + ", ".join(f"{k} {v:,}" for k, v in status["queued"].items()))
    print(
        "  by change         "
        + ", ".join(f"{k} {v:,}" for k, v in queue_by_change(ws).items() if v >= 50)
    )

    faults = {
        "error_5xx_rate": args.error_5xx_rate,
        "rate_429_rate": args.rate_429_rate,
        "contract_sample_rate": args.contract_sample,
    }
    double.control("POST", "faults", {**faults, "seed": args.seed})
    print(
        f"stand-in            checks {args.contract_sample:.0%} of requests against "
        "openapi.yaml (the tests check every one)"
    )
    before = double.stats()
    pusher = ws.pusher(rng=random.Random(args.seed))
    if args.slice:
        pusher.slice_size = args.slice
    meter = Meter()
    meter.instrument(pusher)
    profiler = cProfile.Profile() if args.profile else None
    sampler = RssSampler()
    rss_before = rss_mb()
    double_cpu = double.cpu()
    sampler.start()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    error = None
    if profiler is not None:
        profiler.enable()
    try:
        result = pusher.drain()
    except Exception as exc:  # reported below; the figures up to it still count
        error, result = f"{type(exc).__name__}: {exc}", None
    finally:
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        rss = sampler.stop()
        double_cpu = double.cpu() - double_cpu
        pusher.release()
        pusher.client.close()
    double.control("POST", "faults", {"error_5xx_rate": 0.0, "rate_429_rate": 0.0})
    d = diff_stats(before, double.stats())
    check = check_push(ws, double)
    return report_throughput(
        args,
        queued,
        wall,
        cpu,
        double_cpu,
        rss_before,
        rss,
        result,
        d,
        meter,
        check,
        error,
        profiler,
    )


def report_throughput(
    args: argparse.Namespace,
    queued: int,
    wall: float,
    cpu: float,
    double_cpu: float,
    rss_before: float,
    rss: list[float],
    result: Any,
    d: dict[str, Any],
    meter: Meter,
    check: dict[str, Any],
    error: str | None,
    profiler: cProfile.Profile | None,
) -> int:
    requests = d["requests"]
    allowed_rps = args.per_10s / 10
    inputs = sum(e["inputs"] for e in d["endpoints"].values())
    rps = requests / wall
    mean_inputs = inputs / requests if requests else 0.0
    inputs_ps = inputs / wall
    ceiling = allowed_rps * BATCH_INPUTS
    ratio = inputs_ps / ceiling
    errors = sum(n for s, n in d["by_status"].items() if int(s) >= 400)
    e5xx = sum(n for s, n in d["by_status"].items() if int(s) >= 500)
    e429 = d["by_status"].get("429", 0)
    other_4xx = errors - e5xx - e429
    ok_inputs = meter.inputs_by_status["2xx"]
    print(
        f"drain               {wall:.1f} s wall, {cpu:.1f} s CPU in this process "
        f"({cpu / wall:.0%} of a core); the stand-in {double_cpu:.1f} s CPU"
    )
    print(
        f"requests            {requests:,} (stand-in's count); {rps:.2f}/s vs the limit "
        f"{allowed_rps:g}/s = {rps / allowed_rps:.3f}"
    )
    print(
        f"inputs              {inputs:,}; {mean_inputs:.1f} per request "
        f"(fill {mean_inputs / BATCH_INPUTS:.3f}); {d['searches']} searches carry none"
    )
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(
        f"inputs/s            {inputs_ps:,.0f} vs ceiling {allowed_rps:g} x {BATCH_INPUTS} = "
        f"{ceiling:,.0f}"
    )
    print(
        f"ratio to ceiling    {ratio:.3f}  {verdict} (target >= {TARGET_RATIO}) = rate "
        f"{rps / allowed_rps:.3f} x fill {mean_inputs / BATCH_INPUTS:.3f}; inputs in 2xx "
        f"answers only: {ok_inputs / wall / ceiling:.3f}"
    )
    changes_ps = queued / wall
    print(f"changes/s           {changes_ps:,.0f} ({queued:,} changes)")
    errors_ratio = errors / requests if requests else 0.0
    print(
        f"errors              {errors:,} = {errors_ratio:.2%}: 5xx {e5xx} "
        f"({e5xx / max(requests, 1):.2%}, injected), 429 {e429} ({d['rate_limited']}), "
        f"other 4xx {other_4xx} ({other_4xx / max(requests, 1):.2%})"
    )
    window_ok = "ok" if d["max_10s"] <= args.per_10s else "OVER"
    print(f"max in any 10 s     {d['max_10s']} requests ({window_ok}, limit {args.per_10s})")
    print(
        f"CPU per request     {cpu / max(requests, 1) * 1000:.1f} ms pusher, "
        f"{double_cpu / max(requests, 1) * 1000:.1f} ms stand-in"
    )
    print(
        f"RSS                 {rss_before:.0f} MB before, max {max(rss):.0f} MB, "
        f"{rss[-1]:.0f} MB after ({len(rss)} samples)"
    )
    print("requests by endpoint (inputs per request)")
    for name, e in sorted(d["endpoints"].items(), key=lambda kv: -kv[1]["requests"]):
        print(f"  {name:<46}{e['requests']:>7,}  {e['inputs'] / e['requests']:>6.1f}")
    print("drain wall time by part")
    for name, seconds in sorted(meter.seconds.items(), key=lambda kv: -kv[1]):
        calls = meter.calls[name]
        print(
            f"  {name:<28}{seconds:>8.1f} s {seconds / wall:>6.1%}  {calls:>7,} calls, "
            f"{seconds / max(calls, 1) * 1000:.1f} ms each"
        )
    accounted = sum(meter.seconds.values())
    print(
        f"  {'rest (cycle: load, build, DB)':<28}{wall - accounted:>8.1f} s "
        f"{(wall - accounted) / wall:>6.1%}"
    )
    meter.print_updates()
    if result is not None:
        print(
            f"pusher              {result.cycles} cycles, created {result.created}, "
            f"updated {result.updated}, matched {result.matched}, associations "
            f"{result.associations}, failures {result.failures}, owner checks "
            f"{result.owner_checks}"
        )
    problems = []
    if error:
        problems.append(f"the drain raised {error}")
    if sum(check["duplicates"].values()):
        problems.append(f"duplicates by leadsync_id {check['duplicates']}")
    if sum(check["missing"].values()):
        problems.append(f"local objects without a HubSpot id {check['missing']}")
    if sum(check["extra"].values()):
        problems.append(f"stand-in objects no local object names {check['extra']}")
    if sum(check["owner_mismatch"].values()):
        problems.append(f"owners differing {check['owner_mismatch']}")
    if check["lost_links"]:
        problems.append(f"{check['lost_links']} activity links missing in the stand-in")
    if check["left_in_queue"] or check["open_failures"]:
        problems.append(f"{check['left_in_queue']} left queued, {check['open_failures']} failures")
    if d["max_10s"] > args.per_10s:
        problems.append(f"{d['max_10s']} requests in a 10 s window")
    if d["contract_violations"]:
        problems.append(f"{d['contract_violations']} requests broke openapi.yaml")
    if other_4xx / max(requests, 1) >= 0.05:
        problems.append("non-injected 4xx errors >= 5%")
    print(
        f"checked             duplicates {check['duplicates']}, missing {check['missing']}, "
        f"extra {check['extra']}"
    )
    print(
        f"                    objects local {check['local']} / stand-in {check['in_double']}; "
        f"owners differing {check['owner_mismatch'] or 0}; activity links "
        f"{check['activity_links']:,}, lost {check['lost_links']}"
    )
    if profiler is not None:
        print_profile(profiler)
    long_enough = wall >= MIN_RUN_S
    if not long_enough:
        print(f"NOTE: the drain took {wall:.0f} s (< {MIN_RUN_S:.0f} s): not a qualifying run")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if args.quick:  # too short for the rate: only what the push did is judged
        passed = not problems
        print(f"verdict (quick)     {'PASS' if passed else 'FAIL'}: 0 lost, 0 duplicated")
    else:
        passed = not problems and ratio >= TARGET_RATIO and long_enough
        print(f"verdict             {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


def print_profile(profiler: cProfile.Profile) -> None:
    """The drain's most expensive functions by own time, and chosen ones by cumulative."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(12)
    stats.sort_stats("cumulative").print_stats(
        r"pusher\.py|client\.py:\d+\((request|acquire|observe|_try_acquire)|store/push\.py", 22
    )
    keep = [line for line in out.getvalue().splitlines() if line.strip()]
    print("cProfile of the drain (seconds under the profiler; its overhead inflates CPU)")
    for line in keep:
        if "function calls" in line or line.lstrip().startswith(("ncalls", "Ordered", "List")):
            continue
        print("  " + line.strip()[:150])


# ---------------------------------------------------------------------------- memory run


def queue_directly(ws: Workspace, changes: int) -> tuple[int, int]:
    """Queue ``changes`` changes with set-based SQL: contacts, two calls each (linked to
    their contact), and one queue row per object in the order the engine would write them.
    Returns (contacts, calls)."""
    contacts = changes // 3
    calls = changes - contacts
    pg = ws.engine.dialect.name == "postgresql"

    def series(n: int) -> tuple[str, str]:
        if pg:
            return "", f"generate_series(1, {n}) AS s(i)"
        return (
            f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) ",
            "s",
        )

    def js(expr: str) -> str:
        return f"({expr})::jsonb" if pg else expr

    owners = "ARRAY[" + ",".join(f"'{o}'" for o in MEMORY_OWNERS) + "]"
    pick = (
        f"({owners})[1 + i % {len(MEMORY_OWNERS)}]"
        if pg
        else "CASE i % 8 "
        + " ".join(f"WHEN {n} THEN '{o}'" for n, o in enumerate(MEMORY_OWNERS))
        + " END"
    )
    at = "2026-01-05T08:00:00.000000Z"
    with ws.engine.begin() as c:
        w, s = series(contacts)
        c.exec_driver_sql(
            f"{w}INSERT INTO records (id, type, owner_id, email, properties, placeholder, "
            "created_at, updated_at, created_by, owner_changed_at, owner_source) "
            f"SELECT i, 'contact', {pick}, 'm' || i || '@mem.test', "
            + js(
                '\'{"email": "m\' || i || \'@mem.test", "firstname": "Ana", '
                '"lastname": "Ng", "phone": "+1555\' || i || \'"}\''
            )
            + f", FALSE, '{at}', '{at}', 'bench', '{at}', 'bench' FROM {s}"
        )
        w, s = series(calls)
        c.exec_driver_sql(
            f"{w}INSERT INTO activities (id, type, integration, external_id, event_id, "
            "owner_id, occurred_at, direction, duration_s, outcome, body, from_number, "
            "to_number, properties) "
            f"SELECT i, 'call', 'bench', 'mc-' || i, 'mem-' || i, {pick}, '{at}', 'outbound', "
            f"60 + i % 600, 'connected', 'Discussed pricing.', '+15550000000', "
            f"'+1555' || i, {js(repr('{}'))} FROM {s}"
        )
        c.exec_driver_sql(
            f"{w}INSERT INTO activity_associations (activity_id, record_id, record_type, source) "
            f"SELECT i, 1 + (i - 1) % {contacts}, 'contact', 'event' FROM {s}"
        )
        # Queue order: a contact, then its calls (the engine queues an object with its batch).
        c.exec_driver_sql(
            "INSERT INTO push_queue (kind, local_id, object_type, change, queued_at) "
            "SELECT kind, local_id, object_type, 'created', :at FROM ("
            "  SELECT 'record' AS kind, id AS local_id, 'contact' AS object_type, "
            "    id * 3 AS k FROM records WHERE type = 'contact' "
            "  UNION ALL SELECT 'activity', a.activity_id, 'call', "
            f"    a.record_id * 3 + 1 + (a.activity_id - 1) / {contacts} "
            "    FROM activity_associations a"
            ") AS q ORDER BY k".replace(":at", f"'{at}'")
        )
        batch_store.write_counters(
            c, {batch_store.RECORD_ID: contacts, batch_store.ACTIVITY_ID: calls}
        )
    return contacts, calls


def memory(args: argparse.Namespace, tmp: Path, db: str) -> int:
    per_10s = 10_000  # high: the run measures memory, not the limit
    double = Double(tmp, per_10s, daily=100_000_000)
    try:
        ws = workspace(db, double, per_10s)
        try:
            return memory_run(args, ws, double)
        finally:
            ws.close()
    finally:
        double.close()


def memory_run(args: argparse.Namespace, ws: Workspace, double: Double) -> int:
    started = time.perf_counter()
    contacts, calls = queue_directly(ws, args.memory_changes)
    queued = queued_total(ws)
    print(
        f"queued              {queued:,} changes by set-based SQL (INSERT ... SELECT, not "
        f"the engine): {contacts:,} contacts + {calls:,} calls linked to them "
        f"({time.perf_counter() - started:.1f} s)"
    )
    pusher = ws.pusher()
    samples: list[float] = [rss_mb()]
    changes = requests = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    try:
        for _ in range(args.cycles):
            result = pusher.run_once()
            changes += result.changes
            requests += result.requests
            samples.append(rss_mb())
            if result.changes == 0:
                break
    finally:
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        pusher.release()
        pusher.client.close()
    left = queued_total(ws)
    cycles = len(samples) - 1
    settle = min(10, cycles)
    later = samples[settle:]
    growth = later[-1] - later[0]
    per_100 = growth / max(len(later) - 1, 1) * 100
    print(
        f"pushed              {changes:,} changes in {cycles} cycles, {requests:,} requests, "
        f"{wall:.1f} s wall, {cpu:.1f} s CPU; {left:,} still queued"
    )
    print(
        f"RSS per cycle       before {samples[0]:.1f} MB, after cycle 1 {samples[1]:.1f}, "
        f"after cycle {settle} {samples[settle]:.1f}, last {samples[-1]:.1f}, "
        f"max {max(samples):.1f} MB"
    )
    quarters = [samples[min(cycles, round(cycles * q / 4))] for q in range(5)]
    print("  at 0/25/50/75/100% " + " / ".join(f"{x:.1f}" for x in quarters) + " MB")
    flat = abs(growth) < 5.0  # MB after the first cycles (caches, imports) are warm
    print(
        f"growth after cycle {settle}: {growth:+.1f} MB ({per_100:+.2f} MB per 100 cycles)  "
        f"{'FLAT' if flat else 'GROWING'}"
    )
    stats = double.stats()
    made = {k: v for k, v in stats["objects"].items() if v}
    print(f"stand-in            answers by status {stats['by_status']}, objects now {made}")
    return 0 if flat else 1


# ---------------------------------------------------------------- in-process breakdown


def breakdown(args: argparse.Namespace, tmp: Path, db: str) -> int:
    """Where a request's time goes with no rate limit and no faults: the stand-in runs in
    this process (its transport, no HTTP), so pusher and stand-in are timed apart exactly:
    the stand-in's ``handle`` and, inside it, its openapi.yaml validation; the budget's two
    DB transactions; the rest is the pusher's cycle (load, build, JSON, save)."""
    double = InProcessDouble(per_10s=10_000)
    ws = workspace(db, double, 10_000)
    try:
        events, ingest_s = fill_queue(ws, args.changes, args.seed, args.chunk)
        queued = queued_total(ws)
        print(
            f"queued              {queued:,} changes from {events:,} events through the "
            f"engine ({ingest_s:.1f} s); stand-in in-process, no limit, no faults"
        )
        meter = Meter()
        pusher = ws.pusher()
        meter.instrument(pusher)
        double.double.handle = meter.wrap("stand-in handle (total)", double.double.handle)
        fake_module._contract_problems = meter.wrap(
            "  of which openapi validation", fake_module._contract_problems
        )
        links_of = cycle_module.Cycle.links_of
        timed_links = meter.wrap("  of which Cycle.links_of", lambda *a: list(links_of(*a)))
        cycle_module.Cycle.links_of = lambda *a: iter(timed_links(*a))  # type: ignore[method-assign]
        profiler = cProfile.Profile() if args.profile else None
        wall0, cpu0 = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        try:
            result = pusher.drain()
        finally:
            if profiler is not None:
                profiler.disable()
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
            pusher.release()
            pusher.client.close()
    finally:
        ws.close()
    requests = result.requests
    print(
        f"drain               {wall:.1f} s wall, {cpu:.1f} s CPU, {requests:,} requests, "
        f"{result.cycles} cycles: {wall / requests * 1000:.1f} ms per request = "
        f"{requests / wall:.1f} requests/s at most, one at a time"
    )
    stand_in = meter.seconds["stand-in handle (total)"]
    parts = {
        "stand-in handle (total)": stand_in,
        "  of which openapi validation": meter.seconds["  of which openapi validation"],
        "budget acquire (DB txn)": meter.seconds["budget acquire (DB txn)"],
        "budget observe (DB txn)": meter.seconds["budget observe (DB txn)"],
        "httpx + transport (not stand-in)": meter.seconds["HTTP round trips"] - stand_in,
    }
    parts["pusher cycle (load, build, save)"] = (
        wall
        - meter.seconds["HTTP round trips"]
        - sum(meter.seconds[k] for k in ("budget acquire (DB txn)", "budget observe (DB txn)"))
    )
    parts["  of which Cycle.links_of"] = meter.seconds["  of which Cycle.links_of"]
    for name, seconds in parts.items():
        print(
            f"  {name:<34}{seconds:>7.1f} s {seconds / wall:>6.1%} "
            f"{seconds / requests * 1000:>7.1f} ms per request"
        )
    meter.print_updates()
    if profiler is not None:
        print_profile(profiler)
    return 0


# --------------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="postgresql://... (a scratch database is made on it)")
    parser.add_argument("--changes", type=int, default=200_000, help="changes to queue")
    parser.add_argument("--chunk", type=int, default=5_000, help="events per ingest call")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--slice", type=int, default=0, help="queue rows per cycle")
    parser.add_argument("--per-10s", type=int, default=190)
    parser.add_argument("--error-5xx-rate", type=float, default=0.05)
    parser.add_argument("--rate-429-rate", type=float, default=0.01)
    parser.add_argument(
        "--contract-sample",
        type=float,
        default=1.0,
        help="share of requests the stand-in checks against openapi.yaml (its CPU's main cost)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the drain")
    parser.add_argument("--quick", action="store_true", help="a smoke run (a few thousand)")
    parser.add_argument("--memory", action="store_true", help="RSS with 1,000,000 queued")
    parser.add_argument(
        "--breakdown", action="store_true", help="time per request by part, stand-in in-process"
    )
    parser.add_argument("--memory-changes", type=int, default=1_000_000)
    parser.add_argument("--cycles", type=int, default=200, help="memory run: cycles to push")
    args = parser.parse_args()
    # The client logs every 5xx retry; the stand-in's counts report them instead.
    logging.getLogger("leadsync.hubspot").setLevel(logging.ERROR)
    if args.quick:
        args.changes = min(args.changes, 3_000)
        args.chunk = min(args.chunk, 1_000)
        args.memory_changes = min(args.memory_changes, 30_000)
        args.cycles = min(args.cycles, 20)
    with (
        tempfile.TemporaryDirectory(prefix="leadsync-push-") as tmp,
        scratch_database(args.db, Path(tmp)) as db,
    ):
        if args.memory:
            return memory(args, Path(tmp), db)
        if args.breakdown:
            return breakdown(args, Path(tmp), db)
        return throughput(args, Path(tmp), db)


if __name__ == "__main__":
    sys.exit(main())
