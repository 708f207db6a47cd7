"""The health report over a large workspace: 1,000,000 records and 5,000,000 activities.

Builds the workspace directly in SQLite (schema by the real migrations; rows written with
executemany in bulk, seeded): records spread over 90 days, 5M activities each on a contact
(a fifth also on a company), 1.5M owner decisions, 200k skips. Then times
``Workspace.report`` for the last 7 days (the default window; best of 3) and for the whole 90
days (once).

    .venv/bin/python bench/report_bench.py                 # 1M records, 5M activities
    .venv/bin/python bench/report_bench.py --records 100000 --activities 500000
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from leadsync.model import add_days
from leadsync.settings import config_from_dict
from leadsync.workspace import Workspace

NOW = "2026-11-10T12:00:00.000Z"
DAYS = 90
OWNERS = [f"{100 + i}" for i in range(1, 21)]


def ts(rng: random.Random) -> str:
    return add_days(NOW, -rng.random() * DAYS)


def build(path: Path, records: int, activities: int, seed: int) -> None:
    with Workspace(f"sqlite:///{path}") as ws:
        ws.apply_config(
            config_from_dict(
                {
                    "owners": [{"id": o, "email": f"o{o}@acme.test"} for o in OWNERS],
                    "integrations": {"bench": {"kind": "generic"}},
                }
            )
        )
    rng = random.Random(seed)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    types = {}
    rows = []
    for rid in range(1, records + 1):
        kind = rng.choice(("contact",) * 7 + ("company",) * 2 + ("deal",))
        types[rid] = kind
        owner = None if rng.random() < 0.05 else rng.choice(OWNERS)
        at = ts(rng)
        rows.append(
            (
                rid,
                kind,
                owner,
                f"r{rid}@x.test" if kind == "contact" else None,
                "{}",
                0,
                at,
                at,
                "bench",
            )
        )
    db.executemany(
        "INSERT INTO records (id, type, owner_id, email, properties, placeholder, created_at,"
        " updated_at, created_by) VALUES (?,?,?,?,?,?,?,?,?)",
        rows,
    )
    del rows
    contacts = [rid for rid, kind in types.items() if kind == "contact"]
    companies = [rid for rid, kind in types.items() if kind == "company"]
    step = 500_000
    for start in range(1, activities + 1, step):
        acts, links = [], []
        for aid in range(start, min(start + step, activities + 1)):
            kind = rng.choice(("call",) * 6 + ("email",) * 2 + ("meeting", "note"))
            acts.append(
                (aid, kind, "bench", f"a{aid}", f"e{aid}", rng.choice(OWNERS), ts(rng), "{}")
            )
            links.append((aid, rng.choice(contacts), "contact", "event"))
            if rng.random() < 0.2:
                links.append((aid, rng.choice(companies), "company", "auto"))
        db.executemany(
            "INSERT INTO activities (id, type, integration, external_id, event_id, owner_id,"
            " occurred_at, properties) VALUES (?,?,?,?,?,?,?,?)",
            acts,
        )
        db.executemany(
            "INSERT OR IGNORE INTO activity_associations (activity_id, record_id, record_type,"
            " source) VALUES (?,?,?,?)",
            links,
        )
    decisions = [
        (
            rid := rng.randint(1, records),
            types[rid],
            "bench",
            "fill_if_empty",
            ts(rng),
            rng.choice(OWNERS),
            "set" if rng.random() < 0.5 else "kept",
            "bench decision",
        )
        for _ in range(records * 3 // 2)
    ]
    db.executemany(
        "INSERT INTO owner_decisions (record_id, record_type, integration, strategy, at,"
        " owner_id, outcome, reason, flagged) VALUES (?,?,?,?,?,?,?,?,0)",
        decisions,
    )
    db.executemany(
        "INSERT INTO activity_skips (event_id, integration, type, occurred_at, reason)"
        " VALUES (?,?,?,?,?)",
        [(f"s{i}", "bench", "call", ts(rng), "call lasted 4 s") for i in range(records // 5)],
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=5_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadsync-reportbench-") as tmp:
        path = Path(tmp) / "big.db"
        started = time.perf_counter()
        build(path, args.records, args.activities, args.seed)
        print(
            f"built                {args.records:,} records, {args.activities:,} activities "
            f"in {time.perf_counter() - started:.0f} s"
        )
        with Workspace(f"sqlite:///{path}") as ws:
            for label, days, runs in (("last 7 days", 7, 3), (f"all {DAYS} days", DAYS, 1)):
                best = float("inf")
                for _ in range(runs):
                    started = time.perf_counter()
                    report = ws.report(add_days(NOW, -days), NOW)
                    best = min(best, time.perf_counter() - started)
                alerts = ", ".join(f.check for f in report.alerts) or "none"
                print(f"report, {label:<12} {best:.2f} s  (alerts: {alerts})")


if __name__ == "__main__":
    main()
