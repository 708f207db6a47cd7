"""Webhook intake against the bare baseline, in the same run: server CPU per durable request,
latency at a paced load, and disk syncs per commit.

Two servers take the same load one after the other, each pinned to the same core with
``taskset``, each on a fresh database of the same backend:

- **product**: the real ``leadsync serve --no-worker --no-push`` (intake only: the workers
  run elsewhere), with an Aircall integration whose token each body carries;
- **bare**: ``bench/bare_intake.py``, a Starlette route that stores the body with group
  commit through the bare driver into the same workspace table, and does nothing else.

The load generator is this file again (``--loader``), in its own process pinned to the other
core: raw asyncio (uvloop) HTTP/1.1 over keep-alive connections, **open-loop**: request ``i``
is due at ``start + i / rate`` whatever the answers do, a connection is opened when none is
idle, and each latency runs from the request's due time to the last byte of its answer (so a
stalled server shows in the latency instead of slowing the load). Every request is a distinct
Aircall ``call.ended`` webhook, so every 2xx is one new row committed durably; after each run
the table is counted and must hold at least as many rows as 2xx answers.

**CPU**: the server's user + system time (``/proc/PID/stat``, every thread) over the measured
part (after ``--warmup`` seconds), divided by the requests answered in it. On PostgreSQL the
database backends' CPU is shown beside it (``/proc`` of the backends of the run's database).
``--rounds`` runs both servers that many times, in alternating order; each round prints
product / bare, and the summary the ratio over all rounds and the median of the rounds' (the
machine's speed drifts: compare within a run).

**Durability**: each server is started once more under ``strace`` and takes ``--sync-requests``
requests one at a time (the next is sent when the last is answered), so each request is its
own commit; the syncs (``fsync``/``fdatasync``) are counted in that window. SQLite
(``synchronous=FULL``, WAL): the syncs of the ``-wal`` file by the server. PostgreSQL
(``synchronous_commit=on``): the syncs of the run's database backends (strace attached to
them: with ``synchronous_commit=on`` the committing backend flushes the WAL itself). A
commit that did not reach the disk before its answer shows as fewer than 1.0 sync per
commit. strace is needed (``apt-get install -y strace``; ``--sync-requests 0`` skips it).

Usage::

    python bench/intake_bench.py                                  # SQLite, 3,000 req/s, 10 s
    python bench/intake_bench.py --db postgresql://postgres@127.0.0.1:5432/test
    python bench/intake_bench.py --rate 3000 --duration 20 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa

from procfs import cpu_seconds, free_port, process_cpu
from scratch import Scratch, driver_url

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LEADSYNC = str(Path(PYTHON).parent / "leadsync")
TOKEN = "bench-token-not-a-secret"

WORKSPACE = """\
owners:
  - {id: "101", email: ana@acme.test}
integrations:
  aircall:
    kind: aircall
    secret_env: BENCH_AIRCALL_TOKEN
"""


def body(run: str, n: int, timestamp: int) -> bytes:
    """One Aircall ``call.ended`` webhook, new call id ``run-n``, sent at ``timestamp`` (unix
    seconds: Aircall's events carry the time they were sent, so the load's do too)."""
    return (
        f'{{"resource":"call","event":"call.ended","timestamp":{timestamp},'
        f'"token":"{TOKEN}","data":{{"id":"{run}-{n}","direction":"outbound",'
        '"status":"done","started_at":1767599900,"answered_at":1767599905,'
        '"ended_at":1767599990,"duration":85,"raw_digits":"+15550100",'
        '"user":{"id":7,"name":"Ana","email":"ana@acme.test"},'
        f'"contact":{{"id":{n},"emails":[{{"value":"c{n}@globex.test"}}]}}}}}}'
    ).encode()


# ------------------------------------------------------------------ the load generator


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = 0.0


# uvicorn closes a connection idle for 5 s (its keep-alive timeout); one idle longer than
# this is closed here rather than reused.
_IDLE_S = 3.0


class Loader:
    """Open-loop HTTP/1.1 load over keep-alive connections (see the module's docstring)."""

    def __init__(self, port: int, path: str, run: str, max_connections: int) -> None:
        self.port = port
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.run = run
        self.max_connections = max_connections
        self.idle: list[_Connection] = []
        self.waiting: deque[asyncio.Future[_Connection]] = deque()
        self.opened = 0
        self.statuses: dict[str, int] = {}
        self.latencies: list[float] = []

    async def _connection(self) -> _Connection:
        while self.idle:
            connection = self.idle.pop()
            if asyncio.get_running_loop().time() - connection.used < _IDLE_S:
                return connection
            self.opened -= 1
            connection.writer.close()
        if self.opened < self.max_connections:
            self.opened += 1
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            return _Connection(reader, writer)
        waiter: asyncio.Future[_Connection] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        return await waiter

    def _release(self, connection: _Connection) -> None:
        connection.used = asyncio.get_running_loop().time()
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self.idle.append(connection)

    async def one(self, n: int, due: float, measured: bool) -> None:
        loop = asyncio.get_running_loop()
        content = body(self.run, n, int(time.time()))
        connection = await self._connection()
        try:
            connection.writer.write(self.head + b"%d\r\n\r\n" % len(content) + content)
            head = await connection.reader.readuntil(b"\r\n\r\n")
            status = head[9:12].decode()
            length = re.search(rb"(?i)content-length:\s*(\d+)", head)
            await connection.reader.readexactly(int(length.group(1)) if length else 0)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            self.opened -= 1
            connection.writer.close()
            status = type(exc).__name__
        else:
            self._release(connection)
        if measured:
            self.latencies.append(loop.time() - due)
            self.statuses[status] = self.statuses.get(status, 0) + 1

    async def paced(self, rate: float, duration: float, warmup: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        first_measured = int(rate * warmup)
        total = first_measured + int(rate * duration)
        start = loop.time() + 0.05
        tasks = []
        for n in range(total):
            due = start + n / rate
            ahead = due - loop.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            if n == first_measured:
                _say({"phase": "measure"})
                measure_start = loop.time()
            tasks.append(loop.create_task(self.one(n, due, n >= first_measured)))
        await asyncio.gather(*tasks)
        elapsed = loop.time() - measure_start
        return self._figures(elapsed)

    async def sequential(self, count: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        _say({"phase": "measure", "at": time.time()})
        started = loop.time()
        for n in range(count):
            await self.one(n, loop.time(), True)
        figures = self._figures(loop.time() - started)
        figures["at"] = time.time()
        return figures

    def _figures(self, elapsed: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000 if ordered else 0

        usage = os.times()
        return {
            "phase": "done",
            "requests": len(ordered),
            "elapsed_s": elapsed,
            "statuses": self.statuses,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "max_ms": ordered[-1] * 1000 if ordered else 0,
            "connections": self.opened,
            "loader_cpu_s": usage.user + usage.system,
        }


def _say(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def loader_main(args: argparse.Namespace) -> None:
    with suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loader = Loader(args.port, "/webhooks/aircall", args.run, args.max_connections)
    if args.sequential:
        figures = asyncio.run(loader.sequential(args.sequential))
    else:
        figures = asyncio.run(loader.paced(args.rate, args.duration, args.warmup))
    _say(figures)


# ------------------------------------------------------------------ servers and databases


@dataclass
class Target:
    """One server under test on a database of its own."""

    name: str
    db: str  # the SQLAlchemy URL
    command: list[str]
    env: dict[str, str]
    table: str
    scratch: str | None = None  # a PostgreSQL database to drop afterwards
    figures: list[dict[str, Any]] = field(default_factory=list)


def wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                return
        time.sleep(0.1)
    raise SystemExit("the server did not start")


class Databases:
    """Fresh databases of one backend: SQLite files in a scratch folder, or PostgreSQL
    databases created on the server named by ``--db`` (dropped at the end)."""

    def __init__(self, admin_url: str | None, folder: Path) -> None:
        self.folder = folder
        self.admin = Scratch(admin_url) if admin_url else None

    @property
    def postgres(self) -> bool:
        return self.admin is not None

    def fresh(self, name: str) -> tuple[str, str | None]:
        """(URL, PostgreSQL database name or None) of a new empty database."""
        if self.admin is None:
            return f"sqlite:///{self.folder / f'{name}.db'}", None
        scratch = self.admin.create(f"leadsync_intake_{name}_{os.getpid()}")
        return self.admin.url(scratch), scratch

    def backend_pids(self, scratch: str) -> list[int]:
        assert self.admin is not None
        return self.admin.backend_pids(scratch)

    def drop_all(self) -> None:
        if self.admin is not None:
            self.admin.close()


def make_target(name: str, databases: Databases, port: int) -> Target:
    db, scratch = databases.fresh(name)
    env = {**os.environ, "BENCH_AIRCALL_TOKEN": TOKEN, "LEADSYNC_DB": db}
    # Both write a workspace's inbox table: the same rows into the same indexes.
    workspace = databases.folder / "ws.yaml"
    workspace.write_text(WORKSPACE)
    subprocess.run(
        [LEADSYNC, "apply", str(workspace)], env=env, check=True, stdout=subprocess.DEVNULL
    )
    if name == "bare":
        command = [PYTHON, str(ROOT / "bench" / "bare_intake.py"), "--db", db, "--port", str(port)]
    else:
        command = [LEADSYNC, "serve", "--port", str(port), "--log-level", "warning"]
        command += ["--no-worker", "--no-push"]
    return Target(name, db, command, env, "inbox", scratch)


def count_rows(target: Target) -> int:
    engine = sa.create_engine(driver_url(target.db))
    try:
        with engine.connect() as connection:
            return int(
                connection.exec_driver_sql(f"SELECT count(*) FROM {target.table}").scalar_one()
            )
    finally:
        engine.dispose()


@contextmanager
def running(
    command: list[str], env: dict[str, str], port: int
) -> Iterator[subprocess.Popen[bytes]]:
    # A session of its own: SIGINT reaches the server and, in the durability run, strace.
    server = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        wait_ready(port)
        yield server
    finally:
        with suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_loader(args: argparse.Namespace, port: int, extra: list[str]) -> Iterator[dict[str, Any]]:
    """Start the loader on the load core; yield its messages as they come."""
    command = ["taskset", "-c", args.load_core, PYTHON, __file__, "--loader", "--port", str(port)]
    command += ["--run", uuid.uuid4().hex[:10], *extra]
    loader = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    stdout: IO[str] = loader.stdout  # type: ignore[assignment]
    for line in stdout:
        yield json.loads(line)
    if loader.wait() != 0:
        raise SystemExit("the load generator failed")


def paced_run(args: argparse.Namespace, target: Target, databases: Databases, port: int) -> None:
    command = ["taskset", "-c", args.server_core, *target.command]
    with running(command, target.env, port) as server:
        backends: list[int] = []
        load = ["--rate", str(args.rate), "--duration", str(args.duration)]
        load += ["--warmup", str(args.warmup), "--max-connections", str(args.max_connections)]
        cpu_start = db_cpu_start = 0.0
        for message in run_loader(args, port, load):
            if message["phase"] == "measure":
                cpu_start = cpu_seconds(server.pid)
                if target.scratch is not None:
                    backends = databases.backend_pids(target.scratch)
                    db_cpu_start = sum((process_cpu(pid) or 0.0) for pid in backends)
            else:
                figures = message
                figures["server_cpu_s"] = cpu_seconds(server.pid) - cpu_start
                if backends:
                    figures["db_cpu_s"] = (
                        sum((process_cpu(p) or 0.0) for p in backends) - db_cpu_start
                    )
    figures["rows"] = count_rows(target)
    target.figures.append(figures)
    ok = sum(n for status, n in figures["statuses"].items() if status.startswith("2"))
    figures["ok"] = ok
    show_paced(target.name, figures)
    if figures["rows"] < ok:
        raise SystemExit(f"FAILED: {target.name}: fewer rows ({figures['rows']}) than 2xx ({ok})")


def _per_request(runs: list[dict[str, Any]]) -> float:
    """Server CPU seconds per request over ``runs``."""
    cpu = sum(float(f["server_cpu_s"]) for f in runs)
    return cpu / sum(int(f["requests"]) for f in runs)


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def show_paced(name: str, f: dict[str, Any]) -> None:
    per = f["server_cpu_s"] / max(f["requests"], 1) * 1e6
    db = (
        f" + database {f['db_cpu_s'] / max(f['requests'], 1) * 1e6:.0f} us"
        if "db_cpu_s" in f
        else ""
    )
    print(
        f"{name:8} {f['requests'] / f['elapsed_s']:7.0f} req/s  p50 {f['p50_ms']:6.2f}  "
        f"p90 {f['p90_ms']:6.2f}  p99 {f['p99_ms']:6.2f}  max {f['max_ms']:7.2f} ms  "
        f"server CPU {f['server_cpu_s']:5.2f} s = {per:4.0f} us/request{db}  "
        f"statuses {f['statuses']}  conns {f['connections']}  "
        f"loader CPU {f['loader_cpu_s']:.1f} s",
        flush=True,
    )


def sync_run(args: argparse.Namespace, target: Target, databases: Databases, port: int) -> None:
    """``--sync-requests`` requests one at a time under strace: syncs per commit."""
    trace = databases.folder / f"{target.name}.strace"
    tracer: subprocess.Popen[bytes] | None = None
    command = ["taskset", "-c", args.server_core]
    if not databases.postgres:
        command += ["strace", "-f", "-qq", "--seccomp-bpf", "-ttt", "-y", "-e"]
        command += ["trace=fsync,fdatasync", "-o", str(trace)]
    command += target.command
    with running(command, target.env, port):
        if target.scratch is not None:
            # A few requests first, so that the writer's connection exists to be traced.
            for _ in run_loader(args, port, ["--sequential", "5"]):
                pass
            pids = [pid for pid in databases.backend_pids(target.scratch) if _alive(pid)]
            attach = [arg for pid in pids for arg in ("-p", str(pid))]
            tracer = subprocess.Popen(
                ["strace", "-f", "-qq", "-ttt", "-y", "-e", "trace=fsync,fdatasync"]
                + ["-o", str(trace), *attach]
            )
            time.sleep(1.0)  # attached
            if tracer.poll() is not None:
                raise SystemExit(f"strace could not attach to the backends {pids}")
        window: list[float] = []
        for message in run_loader(args, port, ["--sequential", str(args.sync_requests)]):
            window.append(message["at"])
            if message["phase"] == "done":
                figures = message
        if tracer is not None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=30)
    start, end = window[0], window[-1]
    syncs: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        match = re.match(r"\d+\s+([\d.]+) (f\w*sync)\(\d+<([^>]*)>", line)
        if match and start <= float(match.group(1)) <= end:
            syncs[match.group(3)] = syncs.get(match.group(3), 0) + 1
    ok = sum(n for status, n in figures["statuses"].items() if status.startswith("2"))
    if databases.postgres:
        counted = sum(syncs.values())
        what = "syncs by the run database's backends"
        extra = ""
    else:
        counted = sum(n for path, n in syncs.items() if path.endswith("-wal"))
        what = "syncs of the -wal file"
        extra = f" (all syncs: {sum(syncs.values())})"
    print(
        f"{target.name:8} durability: {ok} requests one at a time (one commit each): "
        f"{counted} {what}{extra} = {counted / max(ok, 1):.2f} per commit",
        flush=True,
    )
    if counted < ok:
        print(f"WARNING: {target.name}: fewer syncs than commits", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="a PostgreSQL server URL (default: SQLite files)")
    parser.add_argument("--rate", type=float, default=3000, help="requests per second")
    parser.add_argument("--duration", type=float, default=10, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before measuring")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each, alternating")
    parser.add_argument("--sync-requests", type=int, default=300, help="0: no durability check")
    parser.add_argument("--max-connections", type=int, default=1000)
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--load-core", default="1")
    parser.add_argument("--only", choices=["bare", "product"], help="one server only")
    # The load generator's own options (this file started again with --loader).
    parser.add_argument("--loader", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--sequential", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loader:
        loader_main(args)
        return
    if not databases_ok(args):
        raise SystemExit("strace is needed for the durability check: apt-get install -y strace")
    folder = Path(tempfile.mkdtemp(prefix="leadsync-intake-"))
    databases = Databases(args.db, folder)
    names = [args.only] if args.only else ["bare", "product"]
    backend = "postgresql (synchronous_commit=on)" if args.db else "sqlite (WAL, synchronous=FULL)"
    print(f"backend {backend}; {args.rate:.0f} requests/s for {args.duration:.0f} s", flush=True)
    try:
        results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        ratios = []
        for round_no in range(args.rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for name in order:
                port = free_port()
                target = make_target(name, databases, port)
                paced_run(args, target, databases, port)
                results[name].extend(target.figures)
            if len(names) == 2:
                ratios.append(
                    _per_request(results["product"][-1:]) / _per_request(results["bare"][-1:])
                )
                print(f"round {round_no + 1}: product / bare CPU per request {ratios[-1]:.2f}x")
        if ratios:
            product, bare = _per_request(results["product"]), _per_request(results["bare"])
            print(
                f"server CPU per request: product {product * 1e6:.0f} us, bare {bare * 1e6:.0f} us "
                f"(all rounds): {product / bare:.2f}x the bare baseline; rounds "
                f"{min(ratios):.2f}-{max(ratios):.2f}x, median {statistics.median(ratios):.2f}x; "
                f"product {1 / product:.0f} durable requests per CPU-second",
                flush=True,
            )
        if args.sync_requests:
            for name in names:
                port = free_port()
                sync_run(args, make_target(name, databases, port), databases, port)
    finally:
        databases.drop_all()
        shutil.rmtree(folder, ignore_errors=True)


def databases_ok(args: argparse.Namespace) -> bool:
    return not args.sync_requests or shutil.which("strace") is not None


if __name__ == "__main__":
    main()
