"""Inbox dedupe keys on a big inbox: hashed keys (``h:<hash>``, before migration 0012) against
timed keys (``t:<event time>:<hash>``, from 0012 to 0013), timed keys with the object's id
(``t:<event time>:<id>:<hash>``, what intake writes now for a vendor that numbers its
objects), and keys in arrival order (the ceiling for the unique index: every new key after
the last).

Each variant gets its own SQLite workspace filled with ``--rows`` inbox rows keyed its way
(the unique index far larger than SQLite's cache), then appends ``--commits`` group commits of
``--per-commit`` new rows through the product's ``store.inbox.Appender`` (what webhook intake
runs), events 1/``--rate`` s apart. Printed per appended row: this process's CPU (user +
system) and wall time, page reads (``read`` syscalls, ``/proc/self/io``) and bytes written
(the WAL). The variants alternate, ``--rounds`` times. ``--seconds`` gives the events times to
the second, as most vendors send them (several events then share a time).

Usage::

    python bench/inbox_keys_bench.py                           # 1,500,000 rows, 3,000 commits of 1
    python bench/inbox_keys_bench.py --per-commit 3 --commits 2000
    python bench/inbox_keys_bench.py --rows 30000 --rate 3000 --per-commit 6 --seconds --rounds 3
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leadsync.model import epoch_ts
from leadsync.store.database import create_db_engine
from leadsync.store.inbox import Appender, InboxRow

LEADSYNC = str(Path(sys.executable).parent / "leadsync")
WORKSPACE = "integrations:\n  aircall: {kind: aircall, secret_env: BENCH_TOKEN}\n"
PAYLOAD = '{"body":{"resource":"call","event":"call.ended","data":{"id":812345}}}' * 4
START = 1_700_000_000.0
VARIANTS = ("hashed", "timed", "with-id", "arrival")


def key(variant: str, n: int, at: float) -> str:
    digest = hashlib.sha256(str(n).encode()).hexdigest()[:40]
    if variant == "hashed":
        return f"h:{digest}"
    if variant == "timed":
        return f"t:{epoch_ts(at)}:{digest}"
    if variant == "with-id":
        return f"t:{epoch_ts(at)}:{n}:{digest}"
    return f"a:{n:012d}"


def fill(path: Path, variant: str, rows: int, rate: float, seconds: bool) -> None:
    env = {**os.environ, "LEADSYNC_DB": f"sqlite:///{path}"}
    workspace = path.with_suffix(".yaml")
    workspace.write_text(WORKSPACE)
    subprocess.run([LEADSYNC, "apply", str(workspace)], env=env, check=True, capture_output=True)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    insert = (
        "INSERT INTO inbox (integration, event_id, received_at, occurred_at, payload, status, "
        "source) VALUES ('aircall', ?, ?, ?, ?, 'applied', 'webhook')"
    )
    for first in range(0, rows, 100_000):
        batch = []
        for n in range(first, min(rows, first + 100_000)):
            at = START + n / rate
            if seconds:
                at = float(int(at))
            batch.append((key(variant, n, at), epoch_ts(at), epoch_ts(at), PAYLOAD))
        connection.execute("BEGIN")
        connection.executemany(insert, batch)
        connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def io() -> tuple[int, int]:
    fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    return int(fields["syscr"]), int(fields["wchar"])


def append(path: Path, variant: str, first: int, args: argparse.Namespace) -> str:
    groups = []
    for g in range(args.commits):
        rows = []
        for k in range(args.per_commit):
            n = first + g * args.per_commit + k
            at = START + n / args.rate
            if args.seconds:
                at = float(int(at))
            ts = epoch_ts(at)
            rows.append(
                InboxRow(
                    "aircall", key(variant, n, at), ts, ts, PAYLOAD, "pending", "webhook", None
                )
            )
        groups.append(rows)
    appender = Appender(create_db_engine(f"sqlite:///{path}"))
    appender.append(groups[0])  # connected, and the mark read
    reads, written = io()
    cpu, wall = time.process_time(), time.perf_counter()
    for rows in groups[1:]:
        assert None not in appender.append(rows)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    reads, written = io()[0] - reads, io()[1] - written
    appender.close()
    count = (args.commits - 1) * args.per_commit
    return (
        f"{variant:8s} CPU {cpu / count * 1e6:6.1f} us/row  wall {wall / count * 1e6:6.1f} us/row  "
        f"page reads {reads / count:5.2f}/row  written {written / count:7.0f} bytes/row"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000, help="rows in the inbox first")
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--per-commit", type=int, default=1)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", action="store_true", help="times to the second")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadsync-keys-") as folder:
        paths = {v: Path(folder) / f"{v}.db" for v in VARIANTS}
        for variant, path in paths.items():
            fill(path, variant, args.rows, args.rate, args.seconds)
        print(f"{args.rows} rows in each inbox; {args.commits} commits of {args.per_commit} rows")
        first = args.rows
        for round_ in range(1, args.rounds + 1):
            for variant, path in paths.items():
                print(f"round {round_}: " + append(path, variant, first, args))
            first += args.commits * args.per_commit


if __name__ == "__main__":
    main()
