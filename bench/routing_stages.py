"""Where a window's routing goes on PostgreSQL: each stage of ``route_window`` timed.

A scratch database gets ``--events`` synthetic events as pending inbox rows (as
``bench/drain_bench.py`` prepares them), then one worker drains it (``drain`` with
``--parts``, batch ``--batch-size``) while the router's store calls and engine steps are
timed by wrappers: wall seconds and this process's CPU seconds summed over the drain's
windows. Every window is cut in ``--parts`` parts, as that many workers draining would have
it (a lone worker takes each window whole and looks nothing up); this worker applies them in
turn. Each window's rows are parsed at the barrier (``_events``) unless ``--ahead``; with
several workers, the elected worker parses them ahead.

    .venv/bin/python bench/routing_stages.py --events 40000 --parts 2"""

from __future__ import annotations

import argparse
import cProfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import drain_bench
from leadsync.engine import conflicts
from leadsync.pipeline import routing
from leadsync.pipeline.drain import drain
from leadsync.store import routing as routing_store
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules

STORE = ("routable", "reserve_run", "create_parts", "open_parts", "lock_batch")
ENGINE = ("resolve", "rep_keys", "components", "row_keys")


def _wrap_route(module: Any, ahead: bool, profile: str | None) -> None:
    """Parse each window before ``route_window`` (``ahead``) and profile its CPU time."""
    inner: Callable[..., Any] = module.route_window
    profiler = cProfile.Profile(time.process_time) if profile else None

    def wrapper(connection: Any, rules: Any, parse: Any, batch: int, parts: int, **kw: Any) -> Any:
        known, named = kw.get("known"), kw.get("named")
        if ahead and isinstance(known, dict) and isinstance(named, dict):
            with connection.engine.connect() as other:
                for row in routing_store.routable(other, batch * parts, known):
                    events = known.setdefault(int(row["seq"]), parse(row))
                    named[int(row["seq"])] = conflicts.row_keys(events, rules)
        if profiler is not None:
            profiler.enable()
        try:
            return inner(connection, rules, parse, batch, parts, **kw)
        finally:
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(profile)

    module.route_window = wrapper


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=drain_bench.DEFAULT_POSTGRES)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument(
        "--ahead",
        action="store_true",
        help="parse each window before its routing, untimed (as the elected worker does)",
    )
    parser.add_argument("--profile", help="cProfile the routings (CPU time) into this file")
    args = parser.parse_args()

    spent: Counter[str] = Counter()
    cpu: Counter[str] = Counter()
    for name in STORE:
        drain_bench.timed(spent, routing_store, name, cpu)
    for name in ENGINE:
        drain_bench.timed(spent, conflicts, name, cpu)
    drain_bench.timed(spent, routing, "_events", cpu)  # the parse (not read ahead)
    drain_bench.timed(spent, routing, "route_window", cpu)
    # Cut every window in --parts parts, as that many workers draining would have it (a lone
    # worker takes each window whole and looks nothing up); this one applies them in turn.
    routing_store.draining = lambda connection: args.parts
    if args.ahead or args.profile:
        _wrap_route(routing, args.ahead, args.profile)
    server = drain_bench.Server(args.postgres)
    name = f"leadsync_bench_stages_{args.events}"
    try:
        print(drain_bench.prepare(server, name, args.events, 1, 5000, "round_robin"))
        ws = Workspace(drain_bench._driver_url(server.server_url, name), create=False)
        try:
            started = time.perf_counter()
            drain(ws.engine, load_rules(ws.engine), args.batch_size, parts=args.parts)
            wall = time.perf_counter() - started
        finally:
            ws.close()
    finally:
        server.close()
    windows = -(-args.events // (args.batch_size * args.parts))
    print(
        f"drain {wall:.1f} s, {windows} windows; wall and this process's CPU seconds summed"
        " over them, CPU per window and per event:"
    )
    for stage, seconds in spent.most_common():
        used = cpu[stage]
        print(
            f"  {stage:14s} {seconds:7.2f} s wall {used:7.2f} s CPU  {used / windows:6.3f} s"
            f"  {used / args.events * 1e6:5.1f} µs"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
