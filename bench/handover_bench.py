"""Whether a worker could take a part's events from the router instead of parsing its rows
again: the CPU of parsing ``bench/synth.py``'s rows (what the applying worker does now)
against pickling and unpickling the events the parse made (what a hand-over through the
database would cost, before the database's own part), in one process, the same rows.

    .venv/bin/python bench/handover_bench.py                # 40,000 rows
    .venv/bin/python bench/handover_bench.py --rows 100000
"""

from __future__ import annotations

import argparse
import pickle
import time

import synth  # bench/synth.py: the script's directory is on sys.path
from leadsync.sources import adapter_for


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    adapter = adapter_for("generic", synth.INTEGRATION, {})
    lines = [line.strip() for line in synth.event_lines(args.rows, args.seed)]

    started = time.process_time()
    events = [adapter.events_of(line, "", seq, "synth", None) for seq, line in enumerate(lines, 1)]
    parse = time.process_time() - started

    started = time.process_time()
    pickled = [pickle.dumps(found, pickle.HIGHEST_PROTOCOL) for found in events]
    dump = time.process_time() - started

    started = time.process_time()
    loaded = [pickle.loads(blob) for blob in pickled]
    load = time.process_time() - started
    assert loaded == events, "the events come back equal"

    whole = pickle.dumps(events, pickle.HIGHEST_PROTOCOL)
    started = time.process_time()
    pickle.loads(whole)
    load_whole = time.process_time() - started

    n = len(lines)
    print(f"{n:,} rows of bench/synth.py (seed {args.seed}), CPU µs per row:")
    print(f"  parse the row (the applying worker now)      {parse / n * 1e6:6.1f}")
    print(f"  pickle the row's events (the router)         {dump / n * 1e6:6.1f}")
    print(f"  unpickle them, row by row (the worker)       {load / n * 1e6:6.1f}")
    print(f"  unpickle them, the whole part at once        {load_whole / n * 1e6:6.1f}")
    print(
        f"  bytes per row pickled: {sum(map(len, pickled)) / n:.0f} (whole: {len(whole) / n:.0f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
