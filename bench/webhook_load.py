"""Webhook intake under load: requests/s and latency of `leadsync serve` on loopback.

The server is the real command (``leadsync serve``) in its own process, pinned to one core
with ``taskset``; the load generator is wrk (Debian's ``wrk``), pinned to the other core.
Every request is a distinct Aircall ``call.ended`` webhook (the token in the body is checked),
so each 2xx is one new row committed in the inbox: SQLite runs with ``synchronous=FULL``
(WAL, fsync per commit), PostgreSQL with its default ``synchronous_commit=on``. After the
run the inbox is counted, and the count must be at least the number of 2xx responses.

Usage::

    python bench/webhook_load.py                       # SQLite, worker in the server
    python bench/webhook_load.py --no-worker           # intake only (workers elsewhere)
    python bench/webhook_load.py --db postgresql://postgres@127.0.0.1:5432/test
    python bench/webhook_load.py --connections 128 --duration 20

Prints requests/s, p50/p90/p99 latency, the 2xx count and the inbox count.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import suppress
from pathlib import Path

import httpx
import sqlalchemy as sa

from procfs import cpu_seconds, free_port
from scratch import Scratch

ROOT = Path(__file__).resolve().parent.parent
LEADSYNC = str(Path(sys.executable).parent / "leadsync")
TOKEN = "bench-token-not-a-secret"

WORKSPACE = """\
owners:
  - {id: "101", email: ana@acme.test}
  - {id: "102", email: bo@acme.test}
integrations:
  aircall:
    kind: aircall
    secret_env: BENCH_AIRCALL_TOKEN
"""

# One call.ended per request; the call id counts up so every request is a new event.
LUA = """\
local counter = 0
local run = "%(run)s"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local body = '{"resource":"call","event":"call.ended","timestamp":1767600000,'
    .. '"token":"%(token)s","data":{"id":"' .. run .. '-' .. counter .. '",'
    .. '"direction":"outbound","status":"done","started_at":1767599900,'
    .. '"answered_at":1767599905,"ended_at":1767599990,"duration":85,'
    .. '"raw_digits":"+15550100","user":{"id":7,"name":"Ana","email":"ana@acme.test"},'
    .. '"contact":{"id":' .. counter .. ',"emails":[{"value":"c' .. counter .. '@globex.test"}]}}}'
  return wrk.format(nil, "/webhooks/aircall", nil, body)
end
"""


def wait_ready(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError):  # not listening yet
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def parse_wrk(text: str) -> dict[str, float]:
    figures: dict[str, float] = {}
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    figures["rps"] = float(rate.group(1)) if rate else 0.0
    done = re.search(r"(\d+) requests in", text)
    figures["requests"] = float(done.group(1)) if done else 0.0
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    figures["non_2xx"] = float(bad.group(1)) if bad else 0.0
    errors = re.search(r"Socket errors: (.*)", text)
    figures["socket_errors"] = 1.0 if errors else 0.0
    for pct in ("50", "90", "99"):
        match = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", text)
        if match:
            value, unit = float(match.group(1)), match.group(2)
            figures[f"p{pct}_ms"] = (
                value / 1000 if unit == "us" else value * (1000 if unit == "s" else 1)
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=15, help="seconds")
    parser.add_argument("--worker", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--server-core", default="0")
    parser.add_argument("--load-core", default="1")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    tmp = Path(tempfile.mkdtemp(prefix="leadsync-load-"))
    scratch = Scratch(args.db) if args.db else None
    if scratch is not None:  # a database of its own on that server, dropped afterwards
        db = scratch.url(scratch.create(f"leadsync_load_{os.getpid()}"))
    else:
        db = f"sqlite:///{tmp / 'load.db'}"
    (tmp / "ws.yaml").write_text(WORKSPACE)
    env = {**os.environ, "LEADSYNC_DB": db, "BENCH_AIRCALL_TOKEN": TOKEN}
    subprocess.run([LEADSYNC, "apply", str(tmp / "ws.yaml")], env=env, check=True)
    engine = sa.create_engine(_driver(db))
    with engine.connect() as connection:
        before = connection.execute(sa.text("SELECT count(*) FROM inbox")).scalar_one()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["taskset", "-c", args.server_core, LEADSYNC, "serve", "--port", str(port)]
    command += ["--log-level", "warning", "--worker" if args.worker else "--no-worker"]
    server = subprocess.Popen(command, env=env)
    try:
        wait_ready(url)
        script = tmp / "load.lua"
        script.write_text(LUA % {"run": uuid.uuid4().hex[:8], "token": TOKEN})
        load = [
            "taskset",
            "-c",
            args.load_core,
            "wrk",
            "-t1",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--latency",
            "-s",
            str(script),
            url,
        ]
        cpu_before = cpu_seconds(server.pid)
        result = subprocess.run(load, capture_output=True, text=True, check=True)
        cpu_used = cpu_seconds(server.pid) - cpu_before
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    figures = parse_wrk(result.stdout)
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*) FROM inbox")).scalar_one() - before
        pending = connection.execute(
            sa.text("SELECT count(*) FROM inbox WHERE status = 'pending'")
        ).scalar_one()
    engine.dispose()
    ok = figures["requests"] - figures["non_2xx"]
    backend = "postgresql" if db.startswith("postgresql") else "sqlite (synchronous=FULL)"
    print(f"backend            {backend}")
    print(f"worker in server   {'yes' if args.worker else 'no'}")
    print(f"connections        {args.connections}, {args.duration} s")
    print(f"requests/s         {figures['rps']:.0f}")
    for pct in ("50", "90", "99"):
        print(f"p{pct} latency        {figures.get(f'p{pct}_ms', float('nan')):.2f} ms")
    print(f"2xx responses      {ok:.0f} (non-2xx {figures['non_2xx']:.0f})")
    print(f"server CPU         {cpu_used:.1f} s over {args.duration} s wall")
    if cpu_used > 0:
        print(
            f"CPU per request    {cpu_used / max(figures['requests'], 1) * 1e6:.0f} us "
            f"= {figures['requests'] / cpu_used:.0f} requests per CPU-second"
        )
    print(f"rows in the inbox  {stored} (still pending after stop: {pending})")
    shutil.rmtree(tmp, ignore_errors=True)
    if scratch is not None:
        scratch.close()
    if stored < ok:
        raise SystemExit("FAILED: fewer rows in the inbox than 2xx responses")


def _driver(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


if __name__ == "__main__":
    main()
