"""What joins a window's events into one component (PostgreSQL): the largest component of
each window as a share of it, with every conflict key and the database's pairs (what the
router uses), and with parts of them left out — the neighbourhood pairs (a record's
companies and deals), the round-robin team's key, every pair from the database.

A scratch database gets ``bench/synth.py``'s workspace and ``--applied`` events ingested
(applied); the next ``--windows`` windows of ``--window`` events are then keyed and resolved
as :mod:`leadsync.pipeline.routing` does, and nothing is written.

``--meet`` asks what routing the next window while a part is still open would meet: each
window is cut in two parts as for two workers, and the next half window (one worker's share)
is keyed and resolved together with the larger part's rows, as if they were still pending —
all of them, or only the last fifth (the tail left when the smaller part is done): the share
of the next rows in a component with a row of the part must wait for it or join it.

    .venv/bin/python bench/components.py                 # 100,000 applied, 3 windows of 8,000
    .venv/bin/python bench/components.py --applied 20000 --windows 2
    .venv/bin/python bench/components.py --meet
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from typing import Any

import synth  # bench/synth.py: the script's directory is on sys.path
from leadsync.engine import conflicts
from leadsync.pipeline import routing
from leadsync.pipeline.drain import adapters_for
from leadsync.settings import load_config
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from scratch import Scratch

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def largest(row_keys: Sequence[Sequence[conflicts.Key]], pairs: Any) -> float:
    component = conflicts.components(row_keys, pairs)
    return max(Counter(component).values()) / len(component)


def keyed(
    connection: Any, rules: Any, events: Sequence[Sequence[Any]]
) -> tuple[list[list[conflicts.Key]], list[tuple[conflicts.Key, conflicts.Key]]]:
    """Every row's keys (its events' and its rep's) and the database's pairs, as the router
    finds them."""
    keys = [[k for e in found for k in conflicts.event_keys(e, rules)] for found in events]
    for row, more in zip(keys, conflicts.rep_keys(connection, rules, events), strict=True):
        row.extend(more)
    return keys, conflicts.resolve(connection, rules, {k for row in keys for k in row})


def meeting(connection: Any, rules: Any, held: Sequence[Any], after: Sequence[Any]) -> float:
    """The share of the rows ``after`` whose component, with the rows ``held`` before them
    (an open part's, pending), holds one of those."""
    keys, pairs = keyed(connection, rules, [*held, *after])
    component = conflicts.components(keys, pairs)
    parts = {component[i] for i in range(len(held))}
    return sum(component[i] in parts for i in range(len(held), len(keys))) / len(after)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--applied", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=8000)
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--meet", action="store_true", help="what routing ahead would meet")
    args = parser.parse_args()
    total = args.applied + args.windows * args.window + args.window // 2
    lines = list(synth.event_lines(total, args.seed))
    with Scratch(args.postgres) as scratch:
        ws = Workspace(scratch.url(scratch.create("leadsync_bench_components")), create=True)
        try:
            ws.apply_config(load_config(synth.config_text(), "bench.yaml"))
            for at in range(0, args.applied, 10_000):
                ws.ingest(synth.INTEGRATION, lines[at : min(at + 10_000, args.applied)])
            rules = load_rules(ws.engine)
            adapter = adapters_for(rules)[synth.INTEGRATION]
            print(f"{args.applied:,} events applied (seed {args.seed}); windows of {args.window:,}")
            for w in range(args.windows):
                first = args.applied + w * args.window
                window = lines[first : first + args.window]
                events = [
                    adapter.events_of(line, None, i, "synth", None) for i, line in enumerate(window)
                ]
                with ws.engine.connect() as connection:
                    keys, pairs = keyed(connection, rules, events)
                no_team = [[k for k in row if k[0] != "rr"] for row in keys]
                # The neighbourhood's pairs are the only ones between two records.
                near = [(a, b) for a, b in pairs if not (a[0] == "r" and b[0] == "r")]
                print(
                    f"window {w + 1}: every key and pair {largest(keys, pairs):.0%}, "
                    f"no neighbourhood pairs {largest(keys, near):.0%}, "
                    f"no team key {largest(no_team, pairs):.0%}, "
                    f"no pair from the database {largest(keys, []):.0%}"
                )
                if args.meet:
                    after = [
                        adapter.events_of(line, None, i, "synth", None)
                        for i, line in enumerate(
                            lines[first + args.window : first + args.window * 3 // 2]
                        )
                    ]
                    larger = max(routing.pack(conflicts.components(keys, pairs), 2), key=len)
                    part = [events[i] for i in larger]
                    with ws.engine.connect() as connection:
                        whole = meeting(connection, rules, part, after)
                        tail = meeting(connection, rules, part[len(part) * 4 // 5 :], after)
                    print(
                        f"  the next {len(after):,} rows meeting the larger part "
                        f"({len(part):,} rows): {whole:.0%}; its last fifth: {tail:.0%}"
                    )
        finally:
            ws.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
