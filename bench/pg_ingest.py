"""Engine throughput on PostgreSQL: ingest synthetic events into a database of its own.

Usage::

    python bench/pg_ingest.py --url postgresql://postgres@127.0.0.1:5432/test --events 50000

Creates a scratch database on that server, applies the synthetic workspace of
``bench/synth.py``, times ``Workspace.ingest`` of the events, prints the figures and drops the
database.
"""

from __future__ import annotations

import argparse
import os
import time

from leadsync.settings import config_from_dict
from leadsync.workspace import Workspace
from scratch import Scratch
from synth import INTEGRATION, config_dict, event_lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with Scratch(args.url) as scratch:
        url = scratch.url(scratch.create(f"leadsync_pg_bench_{os.getpid()}"))
        with Workspace(url) as ws:
            ws.apply_config(config_from_dict(config_dict()))
            lines = list(event_lines(args.events, args.seed))
            started = time.perf_counter()
            summary = ws.ingest(INTEGRATION, lines)
            seconds = time.perf_counter() - started
        if not summary.ok or summary.applied.events != args.events:
            raise SystemExit(f"FAILED: {summary.to_dict()}")
        print(f"events     {args.events:,}  (seed {args.seed})")
        print(f"ingest     {seconds:.2f} s  {args.events / seconds:,.0f} events/s")


if __name__ == "__main__":
    main()
