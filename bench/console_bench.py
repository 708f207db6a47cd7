"""The console's pages on a workspace of 1,000,000 records: server time and CPU per page.

The workspace is built fast, not realistically slowly: the schema by the real migrations,
then rows written straight into its tables by the bare driver (``sqlite3`` executemany,
seeded) — 1,000,000 records (70% contacts, 20% companies, 10% deals) with names, emails,
domains and an identity each, 1,000,000 activities and 1,000,000 inbox rows over 90 days,
1,200,000 owner decisions, 100,000 skips, 1,000 dead letters; then ``ANALYZE``. No event
goes through the engine (that is bench/engine_bench.py's job; 1M events would take minutes
and measure the engine, not the console).

Then each page is requested in process (httpx's ASGI transport on the app ``leadsync serve``
runs, signed in with the admin token; no lifespan, so no worker runs beside it): wall time
and process CPU per request, p50 and p95 over ``--runs``, beside the ceiling measured in the
same run — the same app answering a static file (``/static/console.css``). The integrations
and health pages read the health snapshot (:mod:`leadsync.ops.snapshot`): the front page is
timed before the first exists (the placeholder), then the snapshot's own cost (what the
service's thread pays each interval), then every page with it.

    .venv/bin/python bench/console_bench.py                       # 1M records
    .venv/bin/python bench/console_bench.py --records 100000 --runs 10
    .venv/bin/python bench/console_bench.py --explain             # the query plans too
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from leadsync.api.app import ServiceOptions, create_service
from leadsync.model import add_days, now_ts
from leadsync.ops.snapshot import SnapshotKeeper
from leadsync.settings import config_from_dict
from leadsync.web import ConsoleOptions
from leadsync.workspace import Workspace

TOKEN = "console-bench-admin-token"
DAYS = 90
OWNERS = [f"{100 + i}" for i in range(1, 21)]
FIRST = ["Ana", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Hal", "Ida", "Jo", "Kim", "Lou"]
LAST = ["Lee", "Ng", "Oh", "Park", "Quinn", "Ruiz", "Sato", "Tran", "Ueda", "Vega"]
STEP = 200_000


def build(path: Path, records: int, seed: int) -> None:
    now = now_ts()
    with Workspace(f"sqlite:///{path}") as ws:
        ws.apply_config(
            config_from_dict(
                {
                    "owners": [
                        {"id": o, "email": f"o{o}@acme.test", "first_name": f"Owner {o}"}
                        for o in OWNERS
                    ],
                    "integrations": {"bench": {"kind": "generic"}},
                }
            )
        )
    rng = random.Random(seed)

    def ts() -> str:
        return add_days(now, -rng.random() * DAYS)

    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    contacts: list[int] = []
    for start in range(1, records + 1, STEP):
        rows, identities, decisions = [], [], []
        for rid in range(start, min(start + STEP, records + 1)):
            kind = rng.choice(("contact",) * 7 + ("company",) * 2 + ("deal",))
            owner = None if rng.random() < 0.05 else rng.choice(OWNERS)
            at = ts()
            email = f"r{rid}@x{rid % 5000}.test" if kind == "contact" else None
            domain = f"c{rid}.test" if kind == "company" else None
            name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rid}"
            rows.append((rid, kind, owner, email, domain, name, "{}", 0, at, at, "bench"))
            identities.append(("bench", kind, f"p{rid}", rid))
            if kind == "contact":
                contacts.append(rid)
            if owner is not None:
                decisions.append((rid, kind, "bench", "fill_if_empty", at, owner, "set", "set"))
        db.executemany(
            "INSERT INTO records (id, type, owner_id, email, domain, name, properties,"
            " placeholder, created_at, updated_at, created_by) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        db.executemany(
            "INSERT INTO record_identities (integration, type, external_id, record_id)"
            " VALUES (?,?,?,?)",
            identities,
        )
        db.executemany(
            "INSERT INTO owner_decisions (record_id, record_type, integration, strategy, at,"
            " owner_id, outcome, reason, flagged) VALUES (?,?,?,?,?,?,?,?,0)",
            decisions,
        )
    extra = [
        (rid, "contact", "bench", "integration_wins", ts(), rng.choice(OWNERS), "set", "moved")
        for rid in rng.sample(contacts, min(len(contacts), records // 5))
    ]
    db.executemany(
        "INSERT INTO owner_decisions (record_id, record_type, integration, strategy, at,"
        " owner_id, outcome, reason, flagged) VALUES (?,?,?,?,?,?,?,?,0)",
        extra,
    )
    for start in range(1, records + 1, STEP):
        span = range(start, min(start + STEP, records + 1))
        acts = [
            (aid, "call", "bench", f"a{aid}", f"e{aid}", rng.choice(OWNERS), ts(), "{}")
            for aid in span
        ]
        db.executemany(
            "INSERT INTO activities (id, type, integration, external_id, event_id, owner_id,"
            " occurred_at, properties) VALUES (?,?,?,?,?,?,?,?)",
            acts,
        )
        db.executemany(
            "INSERT OR IGNORE INTO activity_associations (activity_id, record_id, record_type,"
            " source) VALUES (?,?,'contact','event')",
            [(aid, rng.choice(contacts)) for aid in span],
        )
        db.executemany(
            "INSERT INTO inbox (seq, integration, event_id, received_at, occurred_at, payload,"
            " status) VALUES (?,'bench',?,?,?,'{}','applied')",
            [(seq, f"e{seq}", at, at) for seq in span for at in (ts(),)],
        )
    db.executemany(
        "INSERT INTO activity_skips (event_id, integration, type, occurred_at, reason, kind)"
        " VALUES (?,'bench','call',?,'call lasted 4 s','shorter than min_duration_s (10 s)')",
        [(f"s{i}", ts()) for i in range(records // 10)],
    )
    db.executemany(
        "INSERT INTO dead_letters (integration, received_at, raw, error) VALUES"
        " ('bench', ?, '{}', 'unreadable')",
        [(ts(),) for _ in range(1000)],
    )
    db.execute(
        "UPDATE counters SET value = ? WHERE name IN ('record_id', 'activity_id')", (records,)
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def signed_in(client: httpx.AsyncClient) -> None:
    form = (await client.get("/login")).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token is not None
    answer = await client.post(
        "/login", data={"secret": TOKEN, "csrf_token": token.group(1), "next": "/"}
    )
    assert answer.status_code == 303, answer.text


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def time_page(
    client: httpx.AsyncClient, path: str, runs: int
) -> tuple[list[float], list[float]]:
    await client.get(path)  # warm: templates compiled, pages of the database cached
    walls, cpus = [], []
    for _ in range(runs):
        cpu, wall = time.process_time(), time.perf_counter()
        answer = await client.get(path)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return walls, cpus


def explain(path: Path) -> None:
    """The plans of the console's record searches and per-day queries (SQLite)."""
    from sqlalchemy.dialects import sqlite

    from leadsync.ops.testlead import TEST_DOMAIN, TEST_PREFIX
    from leadsync.store import dashboard, records
    from leadsync.store.records import Cursor

    db = sqlite3.connect(path)
    since, until = add_days(now_ts(), -7), now_ts()
    captured: list[tuple[str, str]] = []

    class Capture:
        """A connection that records the statement instead of running it."""

        def __init__(self, label: str) -> None:
            self.label = label

        def execute(self, query: object) -> object:
            compiled = query.compile(
                dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
            )  # type: ignore[attr-defined]
            captured.append((self.label, str(compiled)))
            raise LookupError

    for label, call in (
        ("search email", lambda c: records.search(c, "email", "r5000", 25)),
        (
            "search email, page 2",
            lambda c: records.search(c, "email", "r5", 25, Cursor("r5000@x0.test", 5000)),
        ),
        ("search domain", lambda c: records.search(c, "domain", "c1", 25)),
        ("search name", lambda c: records.search(c, "name", "kim l", 25)),
        ("search external", lambda c: records.search(c, "external", "bench\0p77", 25)),
        ("events per day", lambda c: dashboard.events_per_day(c, since, until)),
        (
            "activities per day",
            lambda c: dashboard.activities_per_day(c, since, until, TEST_PREFIX),
        ),
        ("skips per day", lambda c: dashboard.skips_per_day(c, since, until)),
        ("owner changes per day", lambda c: dashboard.owner_changes_per_day(c, since, until)),
        ("unowned per day", lambda c: dashboard.unowned_new_per_day(c, since, until, TEST_DOMAIN)),
        ("dead letters per day", lambda c: dashboard.open_dead_letters_per_day(c, since, until)),
    ):
        with contextlib.suppress(LookupError):
            call(Capture(label))
    for label, sql in captured:
        plan = db.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
        print(f"  {label}: " + "; ".join(row[-1] for row in plan))
    db.close()


async def time_pages(app: object, pages: list[tuple[str, str]], runs: int) -> None:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        await signed_in(client)
        print(f"{'page':<24} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50 ms':>11}")
        for label, page in pages:
            walls, cpus = await time_page(client, page, runs)
            print(
                f"{label:<24} {percentile(walls, 0.5) * 1000:8.1f} "
                f"{percentile(walls, 0.95) * 1000:8.1f} {statistics.median(cpus) * 1000:11.1f}"
            )


def time_snapshots(snapshots: SnapshotKeeper, runs: int) -> None:
    """The cost of one health snapshot (the report and the charts), as the service's thread
    pays it every interval and after each settings save."""
    walls, cpus = [], []
    for _ in range(runs):
        cpu, wall = time.process_time(), time.perf_counter()
        snapshots.refresh()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"health snapshot refresh: p50 {percentile(walls, 0.5) * 1000:.0f} ms, "
        f"max {max(walls) * 1000:.0f} ms, CPU p50 {statistics.median(cpus) * 1000:.0f} ms "
        f"({runs} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument(
        "--keep", type=Path, help="build the workspace at this path, or reuse it if it exists"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadsync-consolebench-") as tmp:
        path = args.keep or Path(tmp) / "big.db"
        if not path.exists():
            started = time.perf_counter()
            build(path, args.records, args.seed)
            print(f"built {args.records:,} records in {time.perf_counter() - started:.0f} s")
        if args.explain:
            explain(path)
        with Workspace(f"sqlite:///{path}") as ws:
            options = ServiceOptions(
                admin_token=TOKEN,
                console=ConsoleOptions(session_secret="console-bench-session-secret-0123456789"),
            )
            middle = args.records // 2
            pages = [
                ("ceiling: static file", "/static/console.css"),
                ("integrations (/)", "/"),
                ("search by email", f"/records?by=email&q=r{middle}"),
                ("search by domain", "/records?by=domain&q=c1"),
                ("search by name", "/records?by=name&q=kim+l"),
                (
                    "search, page after",
                    f"/records?by=name&q=kim&after=kim+lee+{middle}&after_id={middle}",
                ),
                ("search by external id", f"/records?by=external&q=bench:p{middle}"),
                (
                    "record page",
                    f"/records/{ws.find(external=f'bench:p{middle}')[0]['type']}/{middle}",
                ),
                ("health dashboard", "/health"),
                ("dead letters", "/dead-letters"),
            ]
            # In process, without the lifespan: no worker, push loop or snapshot thread runs
            # beside the pages. The snapshot the service's thread would take is taken here.
            app = create_service(ws, options)
            snapshots = app.app.state.snapshots
            placeholder = [("before the first snapshot (/)", "/")]
            asyncio.run(time_pages(app, placeholder, args.runs))
            time_snapshots(snapshots, max(3, args.runs // 5))
            asyncio.run(time_pages(app, pages, args.runs))


if __name__ == "__main__":
    main()
