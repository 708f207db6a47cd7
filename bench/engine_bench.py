"""Engine throughput against the ceiling: the same final rows written by the bare driver.

Generates N synthetic events (``bench/synth.py``: records, owner changes, activities with
associations) to a JSONL file, then times ``Workspace.ingest`` of that file into a fresh
database: a SQLite file, or with ``--postgres URL`` a scratch database on that server (inbox
writes and applying, nothing else).

The ceiling is measured in the same run: every row of every table the run wrote is read back
into memory and written to a fresh database with the same schema, one executemany per table
in one transaction, by the bare driver (``sqlite3``'s ``executemany``; psycopg's pipelined
``executemany``, with ``COPY`` measured beside it). The same copy through SQLAlchemy Core
(``connection.execute(insert(table), rows)``, what the ceiling used to be) is reported beside
it. Every ceiling is the best of ``--ceiling-runs``.

Ratios are the engine's events/s over the ceiling's, in wall-clock time and in CPU time of
this process (``time.process_time``): the machine is shared, and the wall ratio of one run
moves with its neighbours while the CPU ratio does not. On PostgreSQL the server's CPU is not
in the process's time; it is read from ``/proc`` of the backends that served the run (when
the server is local) and reported beside, with a ratio that counts both.

The engine passes when its CPU ratio to the bare driver is at least 0.4 and its CPU cost per
event grows by at most 15% from the first batch to the last (read from a line fitted through
every batch's cost: one batch alone moves by 10-30% with the machine's neighbours).

    .venv/bin/python bench/engine_bench.py                  # 200,000 events, SQLite
    .venv/bin/python bench/engine_bench.py --events 20000 --seed 7 --batch-size 2000 --json
    .venv/bin/python bench/engine_bench.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import synth  # bench/synth.py: the script's directory is on sys.path
from leadsync.pipeline.inbox import DEFAULT_BATCH
from leadsync.settings import load_config
from leadsync.store.database import create_db_engine, migrate
from leadsync.store.schema import DATA_TABLES
from leadsync.workspace import Workspace
from procfs import process_cpu
from scratch import Scratch

TARGET_CPU_RATIO = 0.4
TARGET_GROWTH = 1.15
JSON_COLUMNS = {(t.name, c.name) for t in DATA_TABLES for c in t.c if isinstance(c.type, sa.JSON)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Timing:
    """Wall-clock seconds, this process's CPU seconds, and the database server's CPU seconds
    (PostgreSQL backends read from /proc; None on SQLite or when unreadable)."""

    wall: float
    cpu: float
    server_cpu: float | None = None

    @property
    def cpu_with_server(self) -> float | None:
        return None if self.server_cpu is None else self.cpu + self.server_cpu


def best(timings: Sequence[Timing]) -> Timing:
    """The best of several runs, each measure on its own: what the hardware can do."""
    servers = [t.server_cpu for t in timings if t.server_cpu is not None]
    return Timing(
        min(t.wall for t in timings),
        min(t.cpu for t in timings),
        min(servers) if servers else None,
    )


# ------------------------------------------------------------------- the databases


class Target:
    """Where the engine and the ceilings write: fresh SQLite files, or scratch databases on a
    PostgreSQL server (dropped at the end)."""

    def __init__(self, tmp: Path, engine_db: Path | None, postgres: str | None) -> None:
        self.tmp = tmp
        self.engine_db = engine_db
        self.postgres = postgres
        self.admin = Scratch(postgres) if postgres is not None else None

    @property
    def is_postgres(self) -> bool:
        return self.admin is not None

    def fresh(self, name: str) -> str:
        """The URL of a new, empty database."""
        if self.admin is None:
            path = self.engine_db if name == "engine" and self.engine_db else self.tmp / name
            return f"sqlite:///{path}"
        return self.admin.url(self.admin.create(f"leadsync_bench_{os.getpid()}_{name}"))

    def backend_pids(self, url: str) -> list[int]:
        """The server processes connected to the database of ``url`` (PostgreSQL only)."""
        if self.admin is None:
            return []
        return self.admin.backend_pids(str(sa.engine.make_url(url).database))

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()


class ServerClock:
    """CPU seconds the PostgreSQL backends of one database spend between two readings: each
    backend's /proc counters, a backend that appears meanwhile counted from zero."""

    def __init__(self, read_pids: Callable[[], list[int]]) -> None:
        self.read_pids = read_pids
        self.start: dict[int, float] = {}
        self.readable = True

    def _read(self) -> dict[int, float]:
        out = {}
        for pid in self.read_pids():
            cpu = process_cpu(pid)
            if cpu is None:
                self.readable = False
            else:
                out[pid] = cpu
        return out

    def begin(self) -> None:
        self.start = self._read()

    def seconds(self) -> float | None:
        end = self._read()
        if not self.readable or not end:
            return None
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in end.items())


# ----------------------------------------------------------------------- the engine


@dataclass
class EngineRun:
    timing: Timing
    summary: Any
    # (events, wall seconds, CPU seconds, server CPU seconds or None) of every batch.
    batches: list[tuple[int, float, float, float | None]] = field(default_factory=list)


def run_engine(target: Target, url: str, events: Path, batch_size: int) -> EngineRun:
    ws = Workspace(url, create=True)
    try:
        ws.apply_config(load_config(synth.config_text(), "bench.yaml"))
        with ws.engine.connect():  # the pool's connection exists before the clock starts
            pass
        server = ServerClock(lambda: target.backend_pids(url))
        batches: list[tuple[int, float, float, float | None]] = []
        mark = [time.perf_counter(), time.process_time(), 0.0]

        def batch_done(lines: int) -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            served = server.seconds() if target.is_postgres else None
            batches.append(
                (
                    lines,
                    wall - mark[0],
                    cpu - mark[1],
                    None if served is None else served - mark[2],
                )
            )
            mark[:] = [wall, cpu, served or 0.0]

        with events.open("rb") as handle:
            server.begin()
            start, start_cpu = time.perf_counter(), time.process_time()
            mark[:] = [start, start_cpu, 0.0]
            summary = ws.ingest(
                synth.INTEGRATION,
                handle,
                source=events.name,
                batch_size=batch_size,
                on_progress=batch_done,
            )
            timing = Timing(time.perf_counter() - start, time.process_time() - start_cpu)
            timing.server_cpu = server.seconds() if target.is_postgres else None
    finally:
        ws.close()
    return EngineRun(timing, summary, batches)


def check_plausible(counts: dict[str, int], summary: Any, events: int) -> list[str]:
    """Why the run cannot be trusted (a fast but empty run must not pass)."""
    problems = []
    for table in ("records", "activities", "owner_decisions", "activity_associations"):
        if counts[table] == 0:
            problems.append(f"no rows in {table}")
    if counts["dead_letters"] or not summary.ok:
        problems.append(f"{counts['dead_letters']} dead letters, {len(summary.failed)} failed")
    if summary.applied.events != events:
        problems.append(f"{summary.applied.events} events applied of {events}")
    if counts["inbox"] != events:
        problems.append(f"{counts['inbox']} inbox rows for {events} events")
    return problems


# ---------------------------------------------------------------------- the ceilings

Rows = dict[str, list[Any]]


def read_driver_rows(url: str) -> Rows:
    """Every row of every table as the driver returns it (tuples in table column order; JSON
    as its stored text), for the bare-driver ceiling."""
    engine = create_db_engine(url)
    try:
        connection = engine.raw_connection()
        try:
            out: Rows = {}
            for table in DATA_TABLES:
                columns = ", ".join(
                    f"{c.name}::text"
                    if (table.name, c.name) in JSON_COLUMNS and _pg(url)
                    else c.name
                    for c in table.c
                )
                cursor = connection.cursor()
                cursor.execute(f"SELECT {columns} FROM {table.name}")
                out[table.name] = [tuple(row) for row in cursor.fetchall()]
                cursor.close()
            return out
        finally:
            connection.close()
    finally:
        engine.dispose()


def read_sqlalchemy_rows(url: str) -> Rows:
    """Every row of every table as SQLAlchemy returns it (dicts; JSON decoded)."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return {
                t.name: [dict(r) for r in connection.execute(sa.select(t)).mappings()]
                for t in DATA_TABLES
            }
    finally:
        engine.dispose()


def _pg(url: str) -> bool:
    return url.startswith("postgresql")


@contextmanager
def frozen(rows: Rows) -> Iterator[None]:
    """The rows held for the copy frozen out of the garbage collector: otherwise every
    collection walks the ~800k rows and the ceiling looks slower (the ratio better) than it
    is."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _insert_sql(table: sa.Table, marker: str) -> str:
    names = [c.name for c in table.c]
    return (
        f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join([marker] * len(names))})"
    )


def _timed(run: Callable[[], None], server: ServerClock | None) -> Timing:
    if server is not None:
        server.begin()
    start, start_cpu = time.perf_counter(), time.process_time()
    run()
    timing = Timing(time.perf_counter() - start, time.process_time() - start_cpu)
    if server is not None:
        timing.server_cpu = server.seconds()
    return timing


def run_driver_ceiling(target: Target, name: str, rows: Rows, copy: bool = False) -> Timing:
    """The rows written to a fresh database by the bare driver: one executemany per table in
    one transaction (in the reverse of DATA_TABLES, the order safe for copying); with
    ``copy``, PostgreSQL's COPY instead. The connection is the driver's own, opened with the
    workspace's settings (SQLite's pragmas)."""
    url = target.fresh(name)
    engine = create_db_engine(url)
    try:
        migrate(engine)
        connection = engine.raw_connection()
        driver = connection.driver_connection
        assert driver is not None
        tables = [t for t in reversed(DATA_TABLES) if rows[t.name]]
        server = None
        if target.is_postgres:
            pid = driver.info.backend_pid
            server = ServerClock(lambda: [pid])

        def write_sqlite() -> None:
            cursor = driver.cursor()
            cursor.execute("BEGIN")
            for table in tables:
                cursor.executemany(_insert_sql(table, "?"), rows[table.name])
            cursor.execute("COMMIT")

        def write_postgres() -> None:
            with driver.cursor() as cursor:
                for table in tables:
                    if copy:
                        names = ", ".join(c.name for c in table.c)
                        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as out:
                            for row in rows[table.name]:
                                out.write_row(row)
                    else:
                        cursor.executemany(_insert_sql(table, "%s"), rows[table.name])
            driver.commit()

        try:
            with frozen(rows):
                return _timed(write_postgres if target.is_postgres else write_sqlite, server)
        finally:
            connection.close()
    finally:
        engine.dispose()


def run_sqlalchemy_ceiling(target: Target, name: str, rows: Rows) -> Timing:
    """The rows written to a fresh database through SQLAlchemy Core: one
    ``connection.execute(insert(table), rows)`` per table, one transaction."""
    url = target.fresh(name)
    engine = create_db_engine(url)
    try:
        migrate(engine)
        with engine.connect() as connection:
            server = None
            if target.is_postgres:
                pid = connection.connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
                server = ServerClock(lambda: [pid])

            def write() -> None:
                with connection.begin():
                    for table in reversed(DATA_TABLES):
                        if rows[table.name]:
                            connection.execute(sa.insert(table), rows[table.name])

            with frozen(rows):
                return _timed(write, server)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- figures


def ratios(engine: Timing, ceiling: Timing) -> dict[str, float | None]:
    """The engine's events/s over the ceiling's (= ceiling time / engine time)."""
    with_server = None
    if engine.cpu_with_server and ceiling.cpu_with_server:
        with_server = round(ceiling.cpu_with_server / engine.cpu_with_server, 3)
    return {
        "wall": round(ceiling.wall / engine.wall, 3),
        "cpu": round(ceiling.cpu / engine.cpu, 3),
        "cpu_with_server": with_server,
    }


def timing_dict(t: Timing, events: int) -> dict[str, Any]:
    return {
        "wall_s": round(t.wall, 3),
        "cpu_s": round(t.cpu, 3),
        "server_cpu_s": None if t.server_cpu is None else round(t.server_cpu, 3),
        "events_per_s": round(events / t.wall),
        "events_per_cpu_s": round(events / t.cpu),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--by-number",
        type=float,
        default=0.0,
        help="share of calls naming their person only by number (matched, held); default 0",
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--ceiling-runs", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--db", type=Path, help="SQLite file for the engine run (must not exist)")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run on this PostgreSQL server instead (scratch databases, dropped after)",
    )
    parser.add_argument(
        "--no-sqlalchemy-ceiling",
        action="store_true",
        help="skip the SQLAlchemy Core ceiling (reported beside the bare driver's)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.db and args.postgres:
        parser.error("--db names a SQLite file; give it or --postgres, not both")

    with tempfile.TemporaryDirectory(prefix="leadsync-bench-") as tmp:
        if args.db is not None and args.db.exists():
            parser.error(f"{args.db} exists; give a new path")
        target = Target(Path(tmp), args.db, args.postgres)
        try:
            events_file = Path(tmp) / "events.jsonl"
            size = synth.write_jsonl(events_file, args.events, args.seed, args.by_number)
            engine_url = target.fresh("engine")
            run = run_engine(target, engine_url, events_file, args.batch_size)
            engine_rss = peak_rss_mb()

            rows = read_driver_rows(engine_url)
            counts = {name: len(table_rows) for name, table_rows in rows.items()}
            problems = check_plausible(counts, run.summary, args.events)
            n = args.ceiling_runs
            driver = best([run_driver_ceiling(target, f"bare{i}", rows) for i in range(n)])
            copy = None
            if target.is_postgres:
                copy = best(
                    [run_driver_ceiling(target, f"copy{i}", rows, copy=True) for i in range(n)]
                )
            del rows
            core = None
            if not args.no_sqlalchemy_ceiling:
                dict_rows = read_sqlalchemy_rows(engine_url)
                core = best(
                    [run_sqlalchemy_ceiling(target, f"core{i}", dict_rows) for i in range(n)]
                )
                del dict_rows
        finally:
            target.close()

    result = report(args, size, run, driver, copy, core, counts, problems, engine_rss)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0 if result["pass"] else 1


def growth_of(per_event: Sequence[float]) -> float:
    """How much the cost per event grew from the first batch to the last, read from a line
    fitted through every batch (Theil-Sen: the median of the slopes between all pairs of
    batches, so a batch slowed by the machine's neighbours does not tip it): the line's value
    at the last batch over its value at the first. One batch alone moves by 10-30% on a
    shared machine; the line does not."""
    n = len(per_event)
    if n < 2:
        return 1.0
    slopes = sorted(
        (per_event[j] - per_event[i]) / (j - i) for i in range(n) for j in range(i + 1, n)
    )
    slope = statistics.median(slopes)
    start = statistics.median(v - slope * i for i, v in enumerate(per_event))
    return (start + slope * (n - 1)) / start


def report(
    args: argparse.Namespace,
    size: int,
    run: EngineRun,
    driver: Timing,
    copy: Timing | None,
    core: Timing | None,
    counts: dict[str, int],
    problems: list[str],
    engine_rss: float,
) -> dict[str, Any]:
    events = args.events
    per_event = [round(cpu / n * 1e6, 1) for n, _, cpu, _ in run.batches if n]
    server = [round(sv / n * 1e6, 1) for n, _, _, sv in run.batches if n and sv is not None]
    growth = growth_of(per_event)
    cpu_ratio = driver.cpu / run.timing.cpu
    server_growth = growth_of(server) if server else 0.0
    passed = (
        cpu_ratio >= TARGET_CPU_RATIO
        and max(growth, server_growth) <= TARGET_GROWTH
        and not problems
    )
    ceilings: dict[str, Any] = {"bare_driver": timing_dict(driver, events)}
    if copy is not None:
        ceilings["bare_driver_copy"] = timing_dict(copy, events)
    if core is not None:
        ceilings["sqlalchemy_core"] = timing_dict(core, events)
    return {
        "database": "postgresql" if args.postgres else "sqlite",
        "events": events,
        "seed": args.seed,
        "by_number": args.by_number,
        "batch_size": args.batch_size,
        "jsonl_mb": round(size / 2**20, 1),
        "engine": timing_dict(run.timing, events),
        "ceilings": ceilings,
        "ratios": {
            name: ratios(run.timing, t)
            for name, t in [
                ("bare_driver", driver),
                ("bare_driver_copy", copy),
                ("sqlalchemy_core", core),
            ]
            if t is not None
        },
        "batch_cpu_us_per_event": per_event,
        "batch_wall_us_per_event": [round(w / n * 1e6, 1) for n, w, _, _ in run.batches if n],
        "batch_server_cpu_us_per_event": server or None,
        "server_growth_first_to_last": round(server_growth, 3) if server else None,
        "growth_first_to_last": round(growth, 3),
        "target_cpu_ratio": TARGET_CPU_RATIO,
        "target_growth": TARGET_GROWTH,
        "rows": {name: n for name, n in counts.items() if n},
        "total_rows": sum(counts.values()),
        "outcome": run.summary.to_dict() | {"dead_letters": len(run.summary.dead_letters)},
        "peak_rss_mb_after_engine": round(engine_rss, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "problems": problems,
        "pass": passed,
    }


def print_report(r: dict[str, Any]) -> None:
    print(
        f"events          {r['events']:>10,}  ({r['database']}, seed {r['seed']}, "
        f"batch size {r['batch_size']}, {r['jsonl_mb']} MB of JSONL, {r['total_rows']:,} rows)"
    )
    print(f"{'':<16}{'wall s':>10}{'CPU s':>10}{'server CPU s':>14}{'events/s':>10}{'/CPU-s':>10}")

    def line(label: str, t: dict[str, Any]) -> None:
        server = "—" if t["server_cpu_s"] is None else f"{t['server_cpu_s']:.2f}"
        print(
            f"{label:<16}{t['wall_s']:>10.2f}{t['cpu_s']:>10.2f}{server:>14}"
            f"{t['events_per_s']:>10,}{t['events_per_cpu_s']:>10,}"
        )

    line("engine", r["engine"])
    labels = {
        "bare_driver": "bare driver",
        "bare_driver_copy": "bare COPY",
        "sqlalchemy_core": "SQLAlchemy Core",
    }
    for name, t in r["ceilings"].items():
        line(labels[name], t)
    print("ratio to            wall       CPU   CPU with server")
    for name, ratio in r["ratios"].items():
        with_server = "—" if ratio["cpu_with_server"] is None else f"{ratio['cpu_with_server']:.3f}"
        print(f"  {labels[name]:<16}{ratio['wall']:>7.3f}{ratio['cpu']:>10.3f}{with_server:>18}")
    per_event = r["batch_cpu_us_per_event"]
    print(
        f"CPU per event   first batch {per_event[0]:.1f} µs, last {per_event[-1]:.1f} µs; "
        f"growth x{r['growth_first_to_last']:.3f} (fitted line, last over first); every batch:"
    )
    print("                " + " ".join(f"{v:.0f}" for v in per_event))
    wall = r["batch_wall_us_per_event"]
    print("wall per event  " + " ".join(f"{v:.0f}" for v in wall))
    if r["batch_server_cpu_us_per_event"]:
        print(
            f"server CPU      per event, growth x{r['server_growth_first_to_last']:.3f}: "
            + " ".join(f"{v:.0f}" for v in r["batch_server_cpu_us_per_event"])
        )
    verdict = "PASS" if r["pass"] else "FAIL"
    print(
        f"verdict         {verdict} (CPU ratio to the bare driver >= {r['target_cpu_ratio']}, "
        f"growth <= x{r['target_growth']})"
    )
    print(
        f"peak RSS        {r['peak_rss_mb_after_engine']:.1f} MB after the engine run, "
        f"{r['peak_rss_mb']:.1f} MB with the ceiling's rows in memory"
    )
    o = r["outcome"]
    print(
        f"applied         {o['applied']:>10,}  records created {o['records_created']:,}, "
        f"owners {o['owners']}, flagged {o['flagged']:,}, activities {o['activities']}"
    )
    print("rows per table")
    for name, n in r["rows"].items():
        print(f"  {name:<22}{n:>10,}")
    for problem in r["problems"]:
        print(f"IMPLAUSIBLE: {problem}")


if __name__ == "__main__":
    sys.exit(main())
