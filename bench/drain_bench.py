"""Parallel workers on PostgreSQL: a drain of N pending inbox rows by 1, 2 and 4 workers.

Prepared once: a scratch database (``leadsync_bench_<pid>``) on the ``--postgres`` server,
migrated, with ``bench/synth.py``'s workspace and N synthetic events written to the inbox as
pending rows, as an ingest writes them (``write_items`` in chunks, each its own transaction;
nothing applied). ``VACUUM ANALYZE``, then that database is the TEMPLATE every run is copied
from, so every run starts from the identical pending inbox.

A run: W worker processes drain a copy side by side. Each worker is ``Workspace(url).worker
(B)`` with ``parts = P`` and one ``run_once()`` — what ``leadsync worker --once --batch-size B
--parts P`` runs — started by this script after its imports and first connection, all at one
signal; the wall time runs from that signal to the last worker's end of drain (``--cli``
runs the command itself instead: from spawn to the last exit, imports included). First, a
serial reference: one worker, ``--parts 1`` (each window one part, in arrival order); every
run must end in its state. Then the ceiling, for each worker count W above one: W workers
each drain a copy of their own, alone in its database — W times the one worker's whole drain
at once, nothing shared and nothing routed — so W × (one worker's wall) / (their wall) is what
W workers can give on this machine at this hour, whatever the design (the cores PostgreSQL and
the workers share, their caches, the host's other guests); every copy must end in the serial
state too. Measured:

- each worker's CPU (user + sys, ``getrusage`` in the worker from the signal to its end;
  ``wait4`` of the whole process beside it), and the server's: ``/proc/<pid>/stat`` of every
  backend of the run's database (autovacuum included), read before and after, and every
  20 ms between for backends that come and go; the whole machine's busy time from
  ``/proc/stat``, so that what other processes took meanwhile (the cores left to the run)
  is reported beside;
- from ``pg_stat_activity`` every ``--sample-ms`` (a thread with its own connection to
  another database), per worker process (its backends, by ``application_name``) while it
  drains: waiting on a heavyweight lock (``Lock``: row, transaction, advisory), an
  ``LWLock``, ``IO``, running a statement, inside a transaction while the client works, or
  with no transaction at all — split by the process's own state into working (R) and
  sleeping (S: waiting for other workers' parts at the barrier). The lock-wait share is
  lock-wait samples over all samples of draining workers;
- the routing: the seconds each worker spends in ``route_window`` (timed in the worker),
  each window's parts (``route_parts``), the largest part's share of its window, and what
  those parts would allow W workers with a barrier after every window (each window's parts
  packed onto W workers, largest first). Not a bound: the router cuts its own part lighter
  on purpose (``drain._Pace``), and a window cut while parts are open has no barrier — its
  parts that wait are taken after the part they wait for while the others go on. One
  window's routing is also timed alone on a copy (rolled back);
- the end state: every row applied or failed (reported), and a fingerprint of the decided
  state (counts per table; owners per record identity; decisions, activities, activity and
  record links, skips, round-robin turns, reps) that must be the same after every run.

    .venv/bin/python bench/drain_bench.py --events 20000 --workers 1,2
    .venv/bin/python bench/drain_bench.py                      # 200,000 events, 1, 2, 4
    .venv/bin/python bench/drain_bench.py --workers 1,2 --repeats 2 --json-out drain.json
    PYTHONPATH=/tmp/head/src .venv/bin/python bench/drain_bench.py   # an exported commit

``--profile DIR`` writes each worker's cProfile; ``--keep`` keeps the run databases;
``--repoll`` calls ``run_once`` again while rows are pending (a long-running worker).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

import synth  # bench/synth.py: the script's directory is on sys.path
from leadsync.pipeline.routing import DEFAULT_PARTS
from procfs import TICK, proc_stat
from scratch import Scratch

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_SPEEDUP_2 = 1.6
TARGET_LOCK_SHARE = 0.05


# ------------------------------------------------------------------------ the worker


def timed(spent: Counter[str], module: Any, name: str, cpu: Counter[str] | None = None) -> None:
    """Replace ``module.name`` with a wrapper adding its wall time to ``spent[name]`` (and
    this thread's CPU time to ``cpu[name]``, when given)."""
    inner = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, thread_cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - started
            if cpu is not None:
                cpu[name] += time.thread_time() - thread_cpu

    setattr(module, name, wrapper)


def _time_steps(inside: Counter[str], ahead: Counter[str]) -> None:
    """Time the router's steps into ``inside`` (the routing under way: ``child`` keeps those
    of the routings that routed), and the elected worker's reading ahead into ``ahead``."""
    from leadsync.engine import conflicts
    from leadsync.pipeline import drain
    from leadsync.store import routing as routing_store

    for name in ("resolve", "rep_keys", "components", "row_keys"):
        timed(inside, conflicts, name)
    from leadsync.pipeline import routing

    for name in ("routable", "held_pending", "held_more_than", "draining", "create_parts"):
        timed(inside, routing_store, name)
    for name in ("reserve_run", "lock_batch", "try_lock_router"):
        timed(inside, routing_store, name)
    timed(inside, routing, "_events")  # parsing what was not read ahead
    timed(ahead, drain, "_read_ahead")
    timed(ahead, drain, "_keep_statistics")


def _keys_given(ws: Any) -> None:
    """A what-if, not the product (``--keys-given``): every pending row's events and the keys
    they name are computed before the drain starts (untimed, as if the intake had stored
    them), and the router reads them instead of parsing. The workers still parse the rows they
    apply (the routed events are not handed to them) and the router still looks up the
    database (``resolve``), the reps' keys and the union: what routing would cost if naming
    the keys were free."""
    from leadsync.engine import conflicts
    from leadsync.pipeline import drain as drain_module
    from leadsync.pipeline import routing
    from leadsync.workspace_config import load_rules

    rules = load_rules(ws.engine)
    adapters = drain_module.adapters_for(rules)
    events: dict[int, Any] = {}
    keys: dict[int, Any] = {}
    with ws.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT seq, integration, event_id, payload FROM inbox WHERE status = 'pending'"
        ).all()
    for seq, integration, event_id, payload in rows:
        try:
            found = adapters[integration].events_of(payload, event_id, int(seq), None, None)
        except Exception:  # noqa: BLE001, S112 - the router parses it and dead-letters it
            continue
        events[int(seq)] = found
        keys[int(seq)] = conflicts.row_keys(found, rules)

    def parse(row: Any) -> Any:
        return events[int(row["seq"])]

    for name in ("route_window", "cut_next"):
        inner = getattr(routing, name)

        def given(
            connection: Any, rules: Any, _parse: Any, *args: Any, _inner: Any = inner, **kwargs: Any
        ) -> Any:
            kwargs |= {"known": events, "named": keys}
            routed = _inner(connection, rules, parse, *args, **kwargs)
            return None if routed is None else [(row, None) for row, _ in routed]

        setattr(routing, name, given)
    drain_module._read_ahead = lambda drainer, window: None


def child(
    url: str,
    batch_size: int,
    parts: int,
    repoll: bool,
    profile: Path | None,
    keys_given: bool = False,
) -> int:
    """One worker process: ready after its imports and first connection; drains at "go"
    (one ``run_once``, as ``leadsync worker --once``; with ``repoll``, again while rows are
    pending, inside one ``batch_friendly_gc`` as ``Worker.run`` does), reports, and keeps its
    connections until "quit" so that the parent can read its backends' CPU."""
    from leadsync.pipeline import routing
    from leadsync.pipeline.collector import batch_friendly_gc
    from leadsync.workspace import Workspace

    routed: list[float] = []  # seconds of each window this worker routed
    stages: Counter[str] = Counter()  # seconds in the router's steps, in routings that routed
    inside: Counter[str] = Counter()  # the steps of the routing under way
    cuts: Counter[str] = Counter()  # windows cut at the barrier and while parts were open

    def timed_router(route: Any, kind: str) -> Any:
        def timed_route(*args: Any, **kwargs: Any) -> Any:
            """The router, timed (the drain looks it up on the module at each call)."""
            inside.clear()
            started = time.perf_counter()
            result = route(*args, **kwargs)
            if result is not None:
                routed.append(time.perf_counter() - started)
                stages.update(inside)
                cuts[kind] += 1
            return result

        return timed_route

    routing.route_window = timed_router(routing.route_window, "at the barrier")
    routing.cut_next = timed_router(routing.cut_next, "while parts were open")
    _time_steps(inside, stages)

    ws = Workspace(url, create=False)
    loop = ws.worker(batch_size)
    loop.parts = parts
    with ws.engine.connect():
        pass
    if keys_given:
        _keys_given(ws)
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    profiler = cProfile.Profile() if profile is not None else None
    if profiler is not None:
        profiler.enable()
    before = resource.getrusage(resource.RUSAGE_SELF)
    if repoll:
        events, calls = 0, 0
        with batch_friendly_gc():
            while calls == 0 or _pending(ws):
                if calls:
                    time.sleep(REPOLL_S)
                events, calls = events + loop.run_once().events, calls + 1
    else:
        events, calls = loop.run_once().events, 1
    after = resource.getrusage(resource.RUSAGE_SELF)
    if profiler is not None and profile is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = {"events": events, "run_once_calls": calls, "cpu_s": cpu}
    report |= {"windows_routed": len(routed), "routing_s": round(sum(routed), 3)}
    report |= {"routing_steps_s": {k: round(v, 3) for k, v in stages.most_common()}}
    report |= {"windows_cut": dict(cuts)}
    print(json.dumps(report), flush=True)
    sys.stdin.readline()  # quit
    ws.close()
    return 0


# The --repoll workaround's pause: a long-running `leadsync worker --poll 0.02`.
REPOLL_S = 0.02


def _pending(ws: Any) -> bool:
    from leadsync.store import inbox as inbox_store

    with ws.engine.connect() as connection:
        return inbox_store.has_pending(connection)


# -------------------------------------------------------------------- the databases


def _driver_url(url: str, database: str, **query: str) -> str:
    parsed = sa.engine.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    return parsed.set(database=database, query=query).render_as_string(hide_password=False)


def _conninfo(url: str, database: str) -> str:
    parsed = sa.engine.make_url(url)
    return psycopg.conninfo.make_conninfo(
        host=parsed.host or "",
        port=parsed.port or 5432,
        user=parsed.username or "",
        password=parsed.password or "",
        dbname=database,
    )


class Server(Scratch):
    """The PostgreSQL server of ``url`` and the scratch databases the bench makes on it;
    ``admin_db`` is the URL's own database (the sampler connects there)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.server_url = url
        self.admin_db = sa.engine.make_url(url).database or "postgres"


def prepare(
    server: Server,
    name: str,
    events: int,
    seed: int,
    chunk: int,
    unmapped: str,
    destination: bool = False,
) -> dict[str, Any]:
    """The template: migrated, configured, ``events`` pending inbox rows (none applied)."""
    from leadsync.model import now_ts
    from leadsync.pipeline.drain import adapters_for
    from leadsync.pipeline.inbox import dead_letter_row, write_items
    from leadsync.pipeline.ingest import items_of_line
    from leadsync.settings import load_config
    from leadsync.store import inbox as inbox_store
    from leadsync.workspace import Workspace
    from leadsync.workspace_config import load_rules

    server.create(name)
    started = time.perf_counter()
    ws = Workspace(_driver_url(server.server_url, name), create=True)
    unreadable = 0
    try:
        config = synth.config_dict(unmapped)
        if destination:  # every change queued for HubSpot in its transaction; nothing sent
            config["destination"] = {"kind": "hubspot", "token_env": "LEADSYNC_BENCH_TOKEN"}
        ws.apply_config(load_config(json.dumps(config), "bench.yaml"))
        adapter = adapters_for(load_rules(ws.engine))[synth.INTEGRATION]
        lines = synth.event_lines(events, seed)
        line_no = 0
        while line_no < events:
            at, items, dead = now_ts(), [], []
            for _ in range(min(chunk, events - line_no)):
                line_no += 1
                raw = next(lines).strip()
                where = f"synth.jsonl:{line_no}"
                try:
                    items.extend(items_of_line(adapter, raw, where, line_no))
                except Exception as exc:  # noqa: BLE001 - kept as a dead letter, as ingest does
                    unreadable += 1
                    row = dead_letter_row(
                        synth.INTEGRATION, "synth.jsonl", line_no, raw, str(exc), at
                    )
                    dead.append(row)
            with ws.engine.begin() as connection:
                write_items(connection, synth.INTEGRATION, items, at, "synth.jsonl", "pending")
                inbox_store.insert_dead_letters(connection, dead)
    finally:
        ws.close()
    written = time.perf_counter() - started
    with psycopg.connect(_conninfo(server.server_url, name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        rows = conn.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall()
    return {
        "write_s": round(written, 1),
        "database_mb": round(int(size[0]) / 2**20, 1) if size else None,
        "inbox": {str(s): int(n) for s, n in rows},
        "unreadable_lines": unreadable,
    }


def probe_routing(server: Server, template: str, name: str, batch: int, parts: int) -> float:
    """Seconds one worker takes to route the first window (on a copy; rolled back)."""
    from leadsync.pipeline import routing
    from leadsync.pipeline.drain import adapters_for
    from leadsync.store.database import create_db_engine
    from leadsync.workspace_config import load_rules

    server.create(name, template)
    engine = create_db_engine(_driver_url(server.server_url, name))
    try:
        rules = load_rules(engine)
        adapter = adapters_for(rules)[synth.INTEGRATION]

        def parse(row: Any) -> Any:
            return adapter.events_of(
                row["payload"], row["event_id"], int(row["seq"]), "probe", None
            )

        with engine.connect() as connection:
            transaction = connection.begin()
            started = time.perf_counter()
            routed = routing.route_window(connection, rules, parse, batch, parts)
            seconds = time.perf_counter() - started
            transaction.rollback()
        assert routed, "nothing routed"
        return seconds
    finally:
        engine.dispose()
        server.drop(name)


# ---------------------------------------------------------------------- the sampler

_ACTIVITY = (
    "SELECT pid, application_name, state, wait_event_type, wait_event, backend_type, "
    "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) FROM pg_stat_activity "
    "WHERE datname = ANY(%s)"
)
_BACKGROUND = (
    "SELECT pid FROM pg_stat_activity WHERE backend_type IN "
    "('walwriter', 'checkpointer', 'background writer')"
)
CATEGORIES = ("lock", "lwlock", "io", "server", "client_in_txn", "working", "sleeping")


_SERVER_STATS = """
    SELECT w.wal_records, w.wal_fpi, w.wal_bytes, w.wal_write, b.checkpoints_timed,
           b.checkpoints_req, b.buffers_checkpoint, b.buffers_clean, b.buffers_backend,
           b.buffers_alloc
    FROM pg_stat_wal w, pg_stat_bgwriter b"""


def server_stats(server: Server) -> dict[str, float]:
    """The cluster's WAL and buffer-write counters (PostgreSQL 14+), to take differences of."""
    with psycopg.connect(_conninfo(server.server_url, server.admin_db), autocommit=True) as conn:
        cursor = conn.execute(_SERVER_STATS)
        row = cursor.fetchone()
        names = [d.name for d in cursor.description or ()]
    return {n: float(v) for n, v in zip(names, row or (), strict=True)}


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (all cores, /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / TICK


@dataclass
class Sampler:
    """pg_stat_activity and /proc, every ``period`` seconds, on a thread of its own."""

    server: Server
    databases: list[str]
    workers: dict[str, int]  # application_name -> worker process id
    period: float
    done: set[str] = field(default_factory=set)  # workers whose drain is over
    samples: Counter[str] = field(default_factory=Counter)
    per_worker: dict[str, Counter[str]] = field(default_factory=dict)
    lock_waits: Counter[str] = field(default_factory=Counter)
    first_cpu: dict[int, float] = field(default_factory=dict)
    last_cpu: dict[int, float] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)
    ticks: int = 0
    background: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.conn = psycopg.connect(_conninfo(self.server.server_url, self.server.admin_db))
        self.conn.autocommit = True
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def begin(self) -> None:
        """Baseline CPU of the backends there now (a backend seen later starts at 0)."""
        for pid, *_ in self._activity():
            stat = proc_stat(pid)
            if stat is not None:
                self.first_cpu[pid] = self.last_cpu[pid] = stat[1]
        for (pid,) in self.conn.execute(_BACKGROUND).fetchall():
            stat = proc_stat(int(pid))
            if stat is not None:
                self.background[int(pid)] = stat[1]
        self.thread.start()

    def _activity(self) -> list[tuple[Any, ...]]:
        return self.conn.execute(_ACTIVITY, (self.databases,)).fetchall()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.period)

    def sample(self) -> None:
        rows = self._activity()
        self.ticks += 1
        by_worker: dict[str, list[tuple[Any, ...]]] = {}
        for row in rows:
            pid = int(row[0])
            self.kinds[pid] = str(row[5])
            stat = proc_stat(pid)
            if stat is not None:
                self.last_cpu[pid] = stat[1]
                self.first_cpu.setdefault(pid, 0.0)
            by_worker.setdefault(str(row[1]), []).append(row)
        for name, pid in self.workers.items():
            if name in self.done:
                continue
            category = self._category(by_worker.get(name, []), pid)
            self.samples[category] += 1
            self.per_worker.setdefault(name, Counter())[category] += 1

    def _category(self, backends: list[tuple[Any, ...]], pid: int) -> str:
        waits = {str(b[3]) for b in backends if b[2] == "active"}
        if "Lock" in waits:
            for b in backends:
                if b[2] == "active" and b[3] == "Lock":
                    self.lock_waits[f"{b[4]}: {b[6]}"] += 1
            return "lock"
        if "LWLock" in waits:
            return "lwlock"
        if "IO" in waits:
            return "io"
        if waits:
            return "server"
        if any(str(b[2]).startswith("idle in transaction") for b in backends):
            return "client_in_txn"
        stat = proc_stat(pid)
        return "working" if stat is not None and stat[0] == "R" else "sleeping"

    def stop(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sample()  # the last reading, backends still connected

    def server_cpu(self) -> dict[str, float]:
        """CPU seconds of the run's backends by kind, and the server's background writers
        (shared with anything else the server does meanwhile)."""
        out: dict[str, float] = {"client": 0.0, "other": 0.0, "background": 0.0}
        for pid, last in self.last_cpu.items():
            kind = "client" if self.kinds.get(pid) == "client backend" else "other"
            out[kind] += last - self.first_cpu.get(pid, 0.0)
        for pid, first in self.background.items():
            stat = proc_stat(pid)
            if stat is not None:
                out["background"] += stat[1] - first
        self.conn.close()
        return {k: round(v, 2) for k, v in out.items()}


# ------------------------------------------------------------------------- the run


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _leadsync() -> str:
    venv = ROOT / ".venv" / "bin" / "leadsync"
    return str(venv) if venv.exists() else "leadsync"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[str]
    done_at: float | None = None
    report: dict[str, Any] = field(default_factory=dict)
    rusage: float | None = None
    max_rss_mb: float | None = None
    exit_code: int | None = None


def _wait4(proc: Proc) -> None:
    _, status, usage = os.wait4(proc.popen.pid, 0)
    proc.rusage = usage.ru_utime + usage.ru_stime
    proc.max_rss_mb = usage.ru_maxrss / 1024
    proc.exit_code = os.waitstatus_to_exitcode(status)
    proc.popen.returncode = proc.exit_code


def run(
    server: Server,
    template: str,
    name: str,
    workers: int,
    parts: int,
    args: argparse.Namespace,
    independent: bool = False,
) -> dict[str, Any]:
    """Copy the template, drain it with ``workers`` processes cutting ``parts`` parts per
    window, measure, check, drop. ``independent``: the ceiling instead — each worker drains
    a copy of its own, alone in its database (no record shared, nothing routed: one worker's
    drain, ``workers`` times at once)."""
    copy_started = time.perf_counter()
    databases = [f"{name}_c{i + 1}" for i in range(workers)] if independent else [name]
    for database in databases:
        server.create(database, template)
    copy_s = time.perf_counter() - copy_started
    procs: list[Proc] = []
    try:
        for i in range(workers):
            app = f"drain-w{i + 1}"
            database = databases[i % len(databases)]
            url = _driver_url(args.postgres, database, application_name=app)
            options = ["--batch-size", str(args.batch_size), "--parts", str(parts)]
            if args.cli:
                command = [_leadsync(), "--db", url, "worker", "--once", *options]
            else:
                repoll = ["--repoll"] if args.repoll else []
                if args.profile is not None:
                    args.profile.mkdir(parents=True, exist_ok=True)
                    out = args.profile / f"{name}-{app}.pstats"
                    repoll += ["--profile", str(out)]
                if args.keys_given:
                    repoll.append("--keys-given")
                command = [_python(), __file__, "--child", url, *options, *repoll]
            stdin = subprocess.DEVNULL if args.cli else subprocess.PIPE
            popen = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, text=True)
            procs.append(Proc(app, popen))
        if not args.cli:
            for proc in procs:
                assert proc.popen.stdout is not None
                if proc.popen.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"{proc.name} did not start")
        sampler = Sampler(
            server, databases, {p.name: p.popen.pid for p in procs}, args.sample_ms / 1000
        )
        sampler.begin()
        perf = None
        if args.perf is not None:  # the whole machine's CPU, by process and symbol
            args.perf.mkdir(parents=True, exist_ok=True)
            perf = subprocess.Popen(
                ["perf", "record", "-a", "-F", "499", "-o", str(args.perf / f"{name}.data")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        stats_at_start = server_stats(server)
        machine_at_start = machine_busy()
        started = time.perf_counter()

        def follow(proc: Proc) -> None:
            assert proc.popen.stdout is not None
            if args.cli:
                out = proc.popen.stdout.read()
                _wait4(proc)
                proc.report = {"output": out.strip()}
            else:
                line = proc.popen.stdout.readline()
                proc.report = json.loads(line) if line.strip() else {"error": "no report"}
            proc.done_at = time.perf_counter()
            sampler.done.add(proc.name)

        threads = [threading.Thread(target=follow, args=(p,)) for p in procs]
        for thread in threads:
            thread.start()
        if not args.cli:
            for proc in procs:
                assert proc.popen.stdin is not None
                proc.popen.stdin.write("go\n")
                proc.popen.stdin.flush()
        for thread in threads:
            thread.join()
        wall = max(p.done_at or started for p in procs) - started
        machine = machine_busy() - machine_at_start
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        sampler.stop()
        stats = server_stats(server)
        server_cpu = sampler.server_cpu()
        if not args.cli:
            for proc in procs:
                assert proc.popen.stdin is not None
                proc.popen.stdin.write("quit\n")
                proc.popen.stdin.close()
                _wait4(proc)
        states = [check_state(server, database) for database in databases]
        events = args.events * len(databases)
        figures = _figures(args, events, workers, wall, procs, sampler, server_cpu, states[0])
        figures["independent"] = independent
        figures["copies_agree"] = all(
            (s["counts"], s["fingerprint"]) == (states[0]["counts"], states[0]["fingerprint"])
            for s in states
        )
        ours = figures["worker_cpu_s"] + sum(server_cpu.values())
        cores = os.cpu_count() or 1
        figures["machine"] = {
            "busy_share": round(machine / (wall * cores), 3),
            "cores_left_to_the_run": round(cores - (machine - ours) / wall, 2),
            "others_cpu_s": round(machine - ours, 1),
            "loadavg_end": Path("/proc/loadavg").read_text().split()[:3],
        }
        figures["copy_s"] = round(copy_s, 1)
        figures["server_stats"] = {k: stats[k] - stats_at_start.get(k, 0.0) for k in stats}
        figures["parts"] = parts
        return figures
    finally:
        for proc in procs:
            if proc.exit_code is None:
                proc.popen.kill()
                _wait4(proc)
        for database in databases:
            if args.keep:
                server.created.remove(database)
                print(f"kept database {database}", file=sys.stderr)
            else:
                server.drop(database)


def _figures(
    args: argparse.Namespace,
    events: int,
    workers: int,
    wall: float,
    procs: Sequence[Proc],
    sampler: Sampler,
    server_cpu: dict[str, float],
    state: dict[str, Any],
) -> dict[str, Any]:
    worker_cpu = sum(
        (p.rusage or 0.0) if args.cli else float(p.report.get("cpu_s", 0.0)) for p in procs
    )
    run_server = server_cpu.get("client", 0.0) + server_cpu.get("other", 0.0)
    total = sum(sampler.samples.values()) or 1
    share = {c: round(sampler.samples[c] / total, 4) for c in CATEGORIES}
    return {
        "workers": workers,
        "wall_s": round(wall, 2),
        "events_per_s": round(events / wall),
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_process_cpu_s": [round(p.rusage or 0.0, 2) for p in procs],
        "worker_exit_codes": [p.exit_code for p in procs],
        "worker_max_rss_mb": [round(p.max_rss_mb or 0.0) for p in procs],
        "worker_reports": [p.report for p in procs],
        "worker_ends_s": [
            round((p.done_at or 0.0) - min(q.done_at or 0 for q in procs), 2) for p in procs
        ],
        "server_cpu_s": round(run_server, 2),
        "server_cpu_by_kind": server_cpu,
        "cpu_us_per_event": round((worker_cpu + run_server) / events * 1e6),
        "routing_s": round(sum(float(p.report.get("routing_s", 0.0)) for p in procs), 2),
        "samples": sum(sampler.samples.values()),
        "sampler_ticks": sampler.ticks,
        "share": share,
        "lock_wait_share": share["lock"],
        "barrier_idle_share": share["sleeping"],
        "lock_waits": dict(sampler.lock_waits.most_common(8)),
        "per_worker": {k: dict(v) for k, v in sampler.per_worker.items()},
        "state": state,
    }


# ---------------------------------------------------------------------- the end state

# A record by what it is (its identities, else its email, domain or name), not its id.
_RECORD_KEY = """
    WITH ident AS (
      SELECT record_id, string_agg(integration || ':' || type || ':' || external_id, '|'
             ORDER BY integration, type, external_id) AS k
      FROM record_identities GROUP BY record_id)
    SELECT r.id, coalesce(i.k, r.type || ':' || coalesce(r.email, r.domain, r.name, r.origin,
           '')) AS k, r.owner_id, r.placeholder FROM records r
    LEFT JOIN ident i ON i.record_id = r.id"""
# Each query gives one text per row; the fingerprint is the md5 of them sorted.
_LINES = {
    "owners": f"""
        SELECT concat_ws('/', k, owner_id, placeholder::text) FROM ({_RECORD_KEY}) rk""",
    "decisions": f"""
        SELECT concat_ws('/', d.event_id, rk.k, d.strategy, d.outcome, d.previous_owner_id,
               d.proposed_owner_id, d.owner_id, d.flagged::text)
        FROM owner_decisions d LEFT JOIN ({_RECORD_KEY}) rk ON rk.id = d.record_id""",
    "activities": """
        SELECT concat_ws('/', integration, type, external_id, event_id, owner_id, outcome,
               status) FROM activities""",
    "activity_links": f"""
        SELECT concat_ws('/', a.integration, a.type, a.external_id, rk.k, aa.source)
        FROM activity_associations aa JOIN activities a ON a.id = aa.activity_id
        LEFT JOIN ({_RECORD_KEY}) rk ON rk.id = aa.record_id""",
    "record_links": f"""
        SELECT concat_ws('/', l.k, r.k, a.is_primary::text) FROM record_associations a
        LEFT JOIN ({_RECORD_KEY}) l ON l.id = a.left_id
        LEFT JOIN ({_RECORD_KEY}) r ON r.id = a.right_id""",
    "skips": """
        SELECT concat_ws('/', event_id, type, external_id, kind) FROM activity_skips""",
    "round_robin": "SELECT name || '=' || value FROM counters WHERE name LIKE 'rr:%'",
    "reps": """
        SELECT concat_ws('/', integration, external_id, email, events) FROM external_users""",
    # The objects queued for the push (--destination), not its rows: a record created and
    # changed by one batch is one row, by two batches two — the pusher sends the object once.
    "pushed": f"""
        SELECT DISTINCT concat_ws('/', q.kind, rk.k, a.integration, a.type, a.external_id)
        FROM push_queue q LEFT JOIN ({_RECORD_KEY}) rk ON q.kind = 'record' AND rk.id = q.local_id
        LEFT JOIN activities a ON q.kind = 'activity' AND a.id = q.local_id
        WHERE rk.k IS NOT NULL OR a.id IS NOT NULL""",
}
_FINGERPRINT = {
    name: f"SELECT md5(string_agg(line, ',' ORDER BY line)) FROM ({sql}) t(line)"
    for name, sql in _LINES.items()
}
_COUNTED = (
    "records",
    "record_identities",
    "record_associations",
    "activities",
    "activity_associations",
    "activity_sources",
    "activity_skips",
    "owner_decisions",
    "record_phones",
    "held_activities",
    "review_items",
    "outbox",
    "dead_letters",
)


def check_state(server: Server, database: str) -> dict[str, Any]:
    """The inbox's statuses, the routing's parts and the decided state's fingerprint."""
    with psycopg.connect(_conninfo(server.server_url, database), autocommit=True) as conn:
        statuses = "SELECT status, count(*) FROM inbox GROUP BY status"
        inbox: dict[Any, Any] = dict(conn.execute(statuses).fetchall())
        counts = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in _COUNTED}  # type: ignore[index]
        prints = {k: conn.execute(sql).fetchone()[0] for k, sql in _FINGERPRINT.items()}  # type: ignore[index]
        parts = conn.execute("SELECT created_at, events FROM route_parts ORDER BY id").fetchall()
    windows: dict[Any, list[int]] = {}
    for created_at, events in parts:
        windows.setdefault(created_at, []).append(int(events))
    return {
        "inbox": {str(k): int(v) for k, v in inbox.items()},
        "counts": counts,
        "fingerprint": prints,
        "windows": len(windows),
        "parts": len(parts),
        "routing": routing_figures(list(windows.values())),
    }


def routing_figures(windows: Sequence[Sequence[int]]) -> dict[str, Any]:
    """How even the parts were: the largest part's share of its window (mean), and the
    speed-up the parts allow W workers at best: each window's parts on W workers, largest
    first onto the least loaded, the window as long as its longest worker (the barrier)."""
    total = sum(sum(w) for w in windows) or 1

    def makespan(sizes: Sequence[int], n: int) -> int:
        loads = [0] * n
        for size in sorted(sizes, reverse=True):
            loads[loads.index(min(loads))] += size
        return max(loads)

    shares = [max(w) / sum(w) for w in windows if sum(w)]
    return {
        "largest_part_share_mean": round(statistics.mean(shares), 3) if shares else None,
        "largest_part_share_max": round(max(shares), 3) if shares else None,
        "bound_speedup": {
            str(n): round(total / (sum(makespan(w, n) for w in windows) or 1), 2) for n in (2, 4)
        },
    }


# --------------------------------------------------------------------------- report


def verdicts(result: dict[str, Any]) -> list[str]:
    runs = result["runs"]
    lines = []
    by_setup: dict[tuple[int, int], list[float]] = {}
    ceiling: dict[int, list[float]] = {}
    for r in runs:
        if r.get("independent"):
            ceiling.setdefault(r["workers"], []).append(r["wall_s"])
        elif not r["reference"]:
            by_setup.setdefault((r["workers"], r["parts"]), []).append(r["wall_s"])
    # Each worker count's best setup: the median wall of its fastest parts setting; one
    # worker may also run alone with one part per window (the serial reference: nothing
    # looked up), whichever drained faster.
    best: dict[int, tuple[float, str]] = {}
    for (workers, parts), walls in by_setup.items():
        wall = statistics.median(walls)
        if workers not in best or wall < best[workers][0]:
            best[workers] = (wall, f"{parts} parts")
    lone = [r["wall_s"] for r in runs if r["reference"]]
    if lone and 1 in best and statistics.median(lone) < best[1][0]:
        best[1] = (statistics.median(lone), "one part per window")
    if 1 in best and 2 in best:
        (one, how_one), (two, how_two) = best[1], best[2]
        speedup = one / two
        ok = speedup >= TARGET_SPEEDUP_2
        same = [
            f"{statistics.median(by_setup[(1, p)]) / statistics.median(by_setup[(2, p)]):.2f}x "
            f"at {p} parts"
            for (w, p) in sorted(by_setup)
            if w == 2 and (1, p) in by_setup
        ]
        lines.append(
            f"{'PASS' if ok else 'NOT MET'}: 2 workers ({how_two}) {speedup:.2f}x one worker's "
            f"best setup ({how_one}; target >= {TARGET_SPEEDUP_2}x; median walls {one:.1f} s / "
            f"{two:.1f} s; with the same parts: {', '.join(same) or '-'})"
        )
    if 1 in best:
        for workers, walls in sorted(ceiling.items()):
            bound = workers * best[1][0] / statistics.median(walls)
            reached = best[1][0] / best[workers][0] if workers in best else None
            of = f"; {workers} workers reach {reached / bound:.0%} of it" if reached else ""
            lines.append(
                f"CEILING: {workers} workers each draining a copy of their own, alone "
                f"(nothing shared, nothing routed): {bound:.2f}x one worker's throughput on "
                f"this machine now{of}"
            )
    worst = max(runs, key=lambda r: r["lock_wait_share"])
    ok = worst["lock_wait_share"] < TARGET_LOCK_SHARE
    lines.append(
        f"{'PASS' if ok else 'NOT MET'}: lock waits < {TARGET_LOCK_SHARE:.0%} of wall in every "
        f"run (worst {worst['lock_wait_share']:.1%}, {worst['workers']} workers)"
    )
    for problem in result["problems"]:
        lines.append(f"PROBLEM: {problem}")
    return lines


def problems_of(runs: Sequence[dict[str, Any]], events: int) -> list[str]:
    """A run that did not apply everything, or ended in another state than the first (the
    serial reference, unless skipped)."""
    out = []
    first = runs[0]["state"] if runs else None
    for r in runs:
        state, label = r["state"], f"run {r['run']} ({r['workers']} workers)"
        inbox = state["inbox"]
        if inbox.get("pending"):
            out.append(f"{label}: {inbox['pending']} rows still pending")
        if inbox.get("applied", 0) + inbox.get("failed", 0) != events:
            out.append(f"{label}: inbox {inbox} for {events} events")
        if inbox.get("failed") or state["counts"]["dead_letters"]:
            out.append(
                f"{label}: {inbox.get('failed', 0)} failed rows, "
                f"{state['counts']['dead_letters']} dead letters"
            )
        if not r.get("copies_agree", True):
            out.append(f"{label}: the independent copies ended in different states")
        if any(code != 0 for code in r["worker_exit_codes"]):
            out.append(f"{label}: worker exit codes {r['worker_exit_codes']}")
        if first is not None and (state["counts"], state["fingerprint"]) != (
            first["counts"],
            first["fingerprint"],
        ):
            diff = [k for k in first["counts"] if first["counts"][k] != state["counts"][k]]
            diff += [
                k
                for k in first["fingerprint"]
                if first["fingerprint"][k] != state["fingerprint"][k]
            ]
            first_label = "the serial reference" if runs[0]["reference"] else "run 1"
            out.append(f"STATE DIFFERS: {label} differs from {first_label} in {diff}")
    return out


def _mode(a: dict[str, Any]) -> str:
    if a.get("keys_given"):
        return "worker processes, WHAT-IF: keys computed before the drain (--keys-given)"
    if a["cli"]:
        return "`leadsync worker --once` processes (wall from spawn to exit)"
    if a["repoll"]:
        return "worker processes, run_once repeated while rows are pending (--repoll)"
    return "worker processes, one run_once each (as worker --once)"


def print_report(result: dict[str, Any]) -> None:
    a, p = result["args"], result["prepare"]
    print(
        f"events          {a['events']:,} (seed {a['seed']}), batch {a['batch_size']}, "
        f"parts {a['parts']}, {_mode(a)}, unmapped reps: {a.get('unmapped', 'round_robin')}"
    )
    print(f"code            {result['code']}")
    print(
        f"prepared        {p['write_s']} s to write the pending inbox, {p['database_mb']} MB, "
        f"inbox {p['inbox']}, unreadable lines {p['unreadable_lines']}"
    )
    if result.get("route_probe_s") is not None:
        window = a["batch_size"] * int(str(a["parts"]).split(",")[0])
        probe = result["route_probe_s"]
        print(
            f"routing         first window of {window:,} rows: {probe * 1000:.0f} ms "
            f"({probe / window * 1e6:.0f} us per event, one worker, rolled back)"
        )
    head = (
        f"{'run':>3} {'workers':>7} {'parts':>5} {'wall s':>7} {'events/s':>9} {'speed-up':>8} "
        f"{'worker CPU s':>12} {'server CPU s':>12} {'CPU us/ev':>9} {'lock wait':>9} "
        f"{'barrier':>7} {'routing s':>9}"
    )
    print(head)
    one: dict[int, list[float]] = {}  # one worker's walls by parts: each run's speed-up base
    for r in result["runs"]:
        if r["workers"] == 1 and not r["reference"]:
            one.setdefault(r["parts"], []).append(r["wall_s"])
    for r in result["runs"]:
        base = statistics.median(one[r["parts"]]) if r["parts"] in one else None
        if base and r.get("independent"):  # W drains of the whole inbox
            base *= r["workers"]
        speedup = f"{base / r['wall_s']:.2f}x" if base else "-"
        workers = f"{r['workers']}{' ind' if r.get('independent') else ''}"
        print(
            f"{r['run']:>3} {workers:>7} {r['parts']:>5} {r['wall_s']:>7.1f} {r['events_per_s']:>9,} "
            f"{speedup:>8} {r['worker_cpu_s']:>12.1f} {r['server_cpu_s']:>12.1f} "
            f"{r['cpu_us_per_event']:>9} {r['lock_wait_share']:>9.1%} "
            f"{r['barrier_idle_share']:>7.1%} {r['routing_s']:>9.1f}"
        )
    for r in result["runs"]:
        m = r["machine"]
        print(
            f"  run {r['run']} ({r['workers']}w): machine busy {m['busy_share']:.0%} of "
            f"{os.cpu_count()} cores, {m['others_cpu_s']} CPU s by other processes, "
            f"{m['cores_left_to_the_run']} cores left to the run "
            f"(load {' '.join(m['loadavg_end'])})"
        )
    print("server writes (whole cluster, during the run):")
    for r in result["runs"]:
        st = r["server_stats"]
        checkpoints = st["checkpoints_timed"] + st["checkpoints_req"]
        print(
            f"  run {r['run']} ({r['workers']}w): WAL {st['wal_bytes'] / 2**20:,.0f} MB "
            f"({st['wal_records']:,.0f} records, {st['wal_fpi']:,.0f} full pages, "
            f"{st['wal_write']:,.0f} writes), checkpoints {checkpoints:.0f}, buffers written by backends "
            f"{st['buffers_backend']:,.0f}, by the checkpointer {st['buffers_checkpoint']:,.0f}, "
            f"by the bgwriter {st['buffers_clean']:,.0f}, read in {st['buffers_alloc']:,.0f}"
        )
    print("worker time by state (share of draining workers' samples):")
    for r in result["runs"]:
        shares = " ".join(f"{c} {r['share'][c]:.1%}" for c in CATEGORIES)
        print(f"  run {r['run']} ({r['workers']}w): {shares}")
    for r in result["runs"]:
        routing, bk = r["state"]["routing"], r["server_cpu_by_kind"]
        print(
            f"  run {r['run']} ({r['workers']}w): {r['state']['windows']} windows, "
            f"largest part {routing['largest_part_share_mean']:.0%} of its window "
            f"(max {routing['largest_part_share_max']:.0%}); the parts with a barrier "
            "per window (not a bound: the router's part is lighter on purpose) allow: "
            f"2w {routing['bound_speedup']['2']}x, 4w {routing['bound_speedup']['4']}x; "
            f"server CPU {bk}; workers ended at +{r['worker_ends_s']} s, applied "
            f"{[w.get('events', w.get('output')) for w in r['worker_reports']]}"
        )
        steps: Counter[str] = Counter()
        for report in r["worker_reports"]:
            steps.update(report.get("routing_steps_s", {}))
        if steps:
            shown = ", ".join(f"{k} {v:.1f}" for k, v in steps.most_common())
            print(f"      routing steps s (reading ahead apart): {shown}")
        cut: Counter[str] = Counter()
        for report in r["worker_reports"]:
            cut.update(report.get("windows_cut", {}))
        if cut:
            print("      windows cut: " + ", ".join(f"{n} {k}" for k, n in cut.most_common()))
        for what, n in r["lock_waits"].items():
            print(f"      lock wait x{n}: {what}")
    s = result["runs"][0]["state"] if result["runs"] else None
    if s is not None:
        print(f"end state       inbox {s['inbox']}, {s['counts']}")
    for line in verdicts(result):
        print(line)


def _code_version() -> str:
    """The code the workers run: this checkout's commit (and whether its src/ differs from
    it), or where leadsync was imported from when PYTHONPATH points elsewhere (an exported
    commit: its COMMIT file names it)."""
    import leadsync

    package = Path(leadsync.__file__).resolve().parent
    if not package.is_relative_to(ROOT):
        marker = package.parent.parent / "COMMIT"
        commit = marker.read_text().strip() if marker.exists() else "?"
        return f"commit {commit} exported at {package}"

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    changed = git("status", "--porcelain", "--untracked-files=no", "src")
    head = git("rev-parse", "--short", "HEAD")
    return f"{head}{' + uncommitted src changes' if changed else ''} (checkout)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--postgres", metavar="URL", default=DEFAULT_POSTGRES)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--parts",
        default=str(DEFAULT_PARTS),
        help=f"parts per window, comma-separated to compare (runs alternate; default "
        f"{DEFAULT_PARTS}, the worker's): the window is batch x parts rows",
    )
    parser.add_argument("--workers", default="1,2,4", help="comma-separated (default 1,2,4)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each worker count")
    parser.add_argument("--sample-ms", type=float, default=20.0)
    parser.add_argument("--chunk", type=int, default=5000, help="inbox rows per prepare txn")
    parser.add_argument(
        "--unmapped",
        choices=sorted(synth.UNMAPPED),
        default="round_robin",
        help="the unmapped reps' policy (default: the workload's round robin, whose team "
        "turns join every event that may take one)",
    )
    parser.add_argument(
        "--destination",
        action="store_true",
        help="the workspace has a HubSpot destination, as in production: every change is also "
        "queued for the push in its transaction (nothing is sent)",
    )
    parser.add_argument("--cli", action="store_true", help="run `leadsync worker --once`")
    parser.add_argument(
        "--repoll",
        action="store_true",
        help="each worker runs run_once again while rows are pending (a worker --poll 0.02): "
        "works around a drain that returns while another worker routes",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="cProfile each worker's drain into DIR/<run db>-<worker>.pstats (slows it)",
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the serial reference run (1 worker, --parts 1: arrival order)",
    )
    parser.add_argument(
        "--no-ceiling",
        action="store_true",
        help="skip the ceiling runs (each of W workers draining a copy of its own, alone: "
        "what W workers can do on this machine when nothing is shared and nothing routed)",
    )
    parser.add_argument(
        "--perf",
        type=Path,
        metavar="DIR",
        help="`perf record -a` each run into DIR/<run db>.data (perf report --sort comm,dso,sym)",
    )
    parser.add_argument(
        "--keys-given",
        action="store_true",
        help="a what-if: each worker computes every row's events and keys before the drain "
        "(untimed) and its router reads them instead of parsing (what routing costs if the "
        "intake had stored the keys); not the product",
    )
    parser.add_argument("--keep", action="store_true", help="keep each run's database")
    parser.add_argument("--no-probe", action="store_true", help="skip timing one routing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--json-out", type=Path, help="also write the JSON object to this file")
    args = parser.parse_args()
    if args.child:
        return child(
            args.child,
            args.batch_size,
            int(args.parts),
            args.repoll,
            args.profile,
            args.keys_given,
        )
    counts = [int(w) for w in args.workers.split(",")]
    part_counts = [int(p) for p in str(args.parts).split(",")]
    server = Server(args.postgres)
    base = f"leadsync_bench_{os.getpid()}"
    runs: list[dict[str, Any]] = []
    try:
        prepared = prepare(
            server, base, args.events, args.seed, args.chunk, args.unmapped, args.destination
        )
        probe = None
        if not args.no_probe:
            probe = probe_routing(server, base, f"{base}_probe", args.batch_size, part_counts[0])
        plan = [] if args.no_reference else [(0, 1, 1, False)]
        for repeat in range(args.repeats):
            plan += [(repeat + 1, w, p, False) for p in part_counts for w in counts]
            if not args.no_ceiling:  # the ceiling: each worker alone on a copy of its own
                plan += [(repeat + 1, w, part_counts[0], True) for w in counts if w > 1]
        for repeat, workers, parts, independent in plan:
            name = f"{base}_run{len(runs) + 1}"
            figures = run(server, base, name, workers, parts, args, independent)
            figures["run"] = len(runs) + 1
            figures["reference"] = repeat == 0
            figures["repeat"] = repeat
            runs.append(figures)
            if not args.json:
                kind = " independent (the ceiling)" if independent else f", {parts} parts"
                print(
                    f"run {figures['run']}: {workers} workers{kind}, {figures['wall_s']} s",
                    file=sys.stderr,
                )
    finally:
        server.close()
    result = {
        "args": {
            k: str(v) if isinstance(v, Path) else v
            for k, v in vars(args).items()
            if k not in ("child", "postgres")
        },
        "code": _code_version(),
        "prepare": prepared,
        "route_probe_s": probe,
        "runs": runs,
        "problems": problems_of(runs, args.events),
        "targets": {"speedup_2_workers": TARGET_SPEEDUP_2, "lock_wait_share": TARGET_LOCK_SHARE},
    }
    result["verdicts"] = verdicts(result)
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2, default=str))
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print_report(result)
    return 1 if result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
