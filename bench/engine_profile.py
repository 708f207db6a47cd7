"""Where the engine's CPU goes: ``Workspace.ingest`` of synthetic events, timed by phase and
profiled with cProfile.

The same workload as ``bench/engine_bench.py`` (``bench/synth.py``'s events, a fresh SQLite
file or with ``--postgres URL`` a scratch database), run twice:

1. **Phase clocks**: the functions that hold a batch's phases (parsing the lines, writing the
   inbox rows, the engine's load, deciding each event, collecting the rows, the engine's
   write) are wrapped at run time with this process's CPU clock (``time.process_time``).
   Nothing else is slowed, so these shares are the real ones. Python's garbage collector is
   clocked beside them (``gc.callbacks``): its passes land inside whichever phase runs.
2. **cProfile** with the same CPU clock: the profiler slows every Python call and barely the
   C ones, so its shares lean towards Python code; it says which functions to look at, and
   the driver's own ``executemany`` and commits (C calls, timed almost as they are) are
   given as shares of the first run's total.

    .venv/bin/python bench/engine_profile.py                      # 200,000 events
    .venv/bin/python bench/engine_profile.py --events 50000 --out engine.pstats --top 30
    .venv/bin/python bench/engine_profile.py --events 50000 --no-profile    # phase clocks only
    .venv/bin/python bench/engine_profile.py --postgres postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import synth  # bench/synth.py: the script's directory is on sys.path
from engine_bench import Target
from leadsync import engine
from leadsync.pipeline import inbox
from leadsync.pipeline import ingest as pipeline_ingest
from leadsync.settings import load_config
from leadsync.workspace import Workspace

# (label, owner, attribute, its file): the phase is the time spent inside owner.attribute.
# The engine's steps are patched where ``engine.decide_batch`` looks them up: the package's
# own names ``load`` and ``write`` (functions of engine/load.py and engine/write.py), and the
# decider's methods (``run`` calls ``apply`` per event, then ``finish``).
PHASES: list[tuple[str, Any, str, str]] = [
    ("parsing the lines", pipeline_ingest, "_parse_chunk", "leadsync/pipeline/ingest.py"),
    ("writing the inbox rows", inbox, "write_items", "leadsync/pipeline/inbox.py"),
    ("loading the batch's state", engine, "load", "leadsync/engine/load.py"),
    ("deciding (every event)", engine.BatchDecider, "apply", "leadsync/engine/decide.py"),
    ("collecting the rows to write", engine.BatchDecider, "finish", "leadsync/engine/decide.py"),
    ("writing the batch's rows", engine, "write", "leadsync/engine/write.py"),
]
# (label, file name ending, function name) of C or driver calls read from the profile.
DRIVER = [
    ("driver executemany", "~", "<method 'executemany' of 'sqlite3.Cursor' objects>"),
    ("driver executemany", "psycopg/cursor.py", "executemany"),
    ("driver commits", "~", "<method 'commit' of 'sqlite3.Connection' objects>"),
    ("driver commits", "psycopg/connection.py", "commit"),
]


class Clocks:
    """CPU seconds per phase and per batch (``next_batch`` is the ingest's progress call)."""

    def __init__(self) -> None:
        self.batch = 0
        self.spent: dict[str, dict[int, float]] = {label: {} for label, _, _, _ in PHASES}
        self.totals: dict[int, float] = {}
        self.mark = time.process_time()
        # Python's cyclic collector: its passes land inside whichever phase is running.
        self.collecting: dict[int, float] = {}
        self.collections: dict[int, int] = {}
        self.collector_started = 0.0

    def start(self) -> None:
        """Start the first batch's clock (what ran before is not counted)."""
        self.batch = 0
        self.spent = {label: {} for label in self.spent}
        self.collecting, self.collections = {}, {}
        self.totals = {}
        self.mark = time.process_time()

    def next_batch(self, _lines: int) -> None:
        now = time.process_time()
        self.totals[self.batch] = now - self.mark
        self.mark = now
        self.batch += 1

    def on_collection(self, phase: str, info: dict[str, int]) -> None:
        """``gc.callbacks`` hook: the CPU time of every collection, by generation."""
        if phase == "start":
            self.collector_started = time.process_time()
            return
        generation = info["generation"]
        spent = time.process_time() - self.collector_started
        self.collecting[generation] = self.collecting.get(generation, 0.0) + spent
        self.collections[generation] = self.collections.get(generation, 0) + 1

    def add(self, label: str, seconds: float) -> None:
        per_batch = self.spent[label]
        per_batch[self.batch] = per_batch.get(self.batch, 0.0) + seconds

    def first_and_last(self, per_batch: dict[int, float], k: int = 3) -> tuple[float, float]:
        """Mean milliseconds per batch of the first ``k`` batches and of the last ``k``."""
        n = self.batch
        k = max(1, min(k, n // 2))
        first = sum(per_batch.get(i, 0.0) for i in range(k)) / k
        last = sum(per_batch.get(i, 0.0) for i in range(n - k, n)) / k
        return first * 1e3, last * 1e3


@contextmanager
def phase_clocks() -> Iterator[Clocks]:
    """The phases' functions wrapped with the CPU clock while the block runs (put back
    after)."""
    clocks = Clocks()
    originals = []
    for label, owner, name, _ in PHASES:
        original = getattr(owner, name)
        originals.append((owner, name, original))

        def clocked(
            *args: Any, _f: Callable[..., Any] = original, _label: str = label, **kwargs: Any
        ) -> Any:
            start = time.process_time()
            try:
                return _f(*args, **kwargs)
            finally:
                clocks.add(_label, time.process_time() - start)

        setattr(owner, name, functools.wraps(original)(clocked))
    gc.callbacks.append(clocks.on_collection)
    try:
        yield clocks
    finally:
        gc.callbacks.remove(clocks.on_collection)
        for owner, name, original in originals:
            setattr(owner, name, original)


def ingest(
    args: argparse.Namespace,
    tmp: Path,
    run: str,
    events_file: Path,
    profile: Any = None,
    clocks: Clocks | None = None,
) -> tuple[float, float, float]:
    """CPU seconds of one ingest into a fresh database, and its user and system parts
    (profiled when ``profile`` is given)."""
    target = Target(tmp, None, args.postgres)
    try:
        ws = Workspace(target.fresh(run))
        try:
            ws.apply_config(load_config(synth.config_text(), "bench.yaml"))
            with events_file.open("rb") as handle:
                start = time.process_time()
                usage = resource.getrusage(resource.RUSAGE_SELF)
                if clocks is not None:
                    clocks.start()
                if profile is not None:
                    profile.enable()
                ws.ingest(
                    synth.INTEGRATION,
                    handle,
                    batch_size=args.batch_size,
                    on_progress=clocks.next_batch if clocks is not None else None,
                )
                if profile is not None:
                    profile.disable()
                spent = time.process_time() - start
                end = resource.getrusage(resource.RUSAGE_SELF)
                return spent, end.ru_utime - usage.ru_utime, end.ru_stime - usage.ru_stime
        finally:
            ws.close()
    finally:
        target.close()


def cumulative(stats: pstats.Stats, suffix: str, name: str) -> tuple[float, int]:
    """Cumulative seconds and calls of the functions matching (file suffix, name)."""
    seconds, calls = 0.0, 0
    for (file, _line, func), row in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and file.endswith(suffix):
            seconds += row[3]
            calls += row[1]
    return seconds, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--by-number", type=float, default=0.0, help="as engine_bench.py")
    parser.add_argument("--batch-size", type=int, default=inbox.DEFAULT_BATCH)
    parser.add_argument("--postgres", metavar="URL", help="run on this PostgreSQL server")
    parser.add_argument("--out", type=Path, help="save the pstats file here")
    parser.add_argument("--top", type=int, default=25, help="functions by own time (default 25)")
    parser.add_argument(
        "--no-profile", action="store_true", help="the phase clocks only (no cProfile run)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="leadsync-profile-") as tmp:
        events_file = Path(tmp) / "events.jsonl"
        synth.write_jsonl(events_file, args.events, args.seed, args.by_number)
        with phase_clocks() as clocks:
            total, user, system = ingest(args, Path(tmp), "clocked", events_file, None, clocks)
        profile = cProfile.Profile(time.process_time)
        if not args.no_profile:
            profiled = ingest(args, Path(tmp), "profiled", events_file, profile)[0]

    print(
        f"{args.events:,} events: {total:.2f} CPU s ({total / args.events * 1e6:.1f} µs/event;"
        f" user {user:.2f} s, system {system:.2f} s)"
    )
    print(
        f"{'phase (clocked, no profiler)':<44}{'CPU s':>8}{'share':>8}"
        f"{'first 3 batches':>17}{'last 3':>9}  (ms per batch)"
    )
    rest = dict(clocks.totals)
    for label, per_batch in clocks.spent.items():
        seconds = sum(per_batch.values())
        first, last = clocks.first_and_last(per_batch)
        print(f"{label:<44}{seconds:>8.2f}{seconds / total:>8.1%}{first:>17.0f}{last:>9.0f}")
        for i, t in per_batch.items():
            rest[i] = rest.get(i, 0.0) - t
    seconds = sum(rest.values())
    first, last = clocks.first_and_last(rest)
    label = "the rest (commits, locks, claims, the loop)"
    print(f"{label:<44}{seconds:>8.2f}{seconds / total:>8.1%}{first:>17.0f}{last:>9.0f}")
    first, last = clocks.first_and_last(clocks.totals)
    print(f"{'all':<44}{total:>8.2f}{1:>8.1%}{first:>17.0f}{last:>9.0f}")
    print("(parsing does not depend on the database: its change is the machine's drift)")
    collected = sum(clocks.collecting.values())
    by_generation = ", ".join(
        f"gen {g}: {clocks.collections[g]:,} in {clocks.collecting[g]:.2f} s"
        for g in sorted(clocks.collecting)
    )
    print(
        f"{'of all: the garbage collector':<44}{collected:>8.2f}{collected / total:>8.1%}"
        f"  ({by_generation or 'no collection'})"
    )
    if args.no_profile:
        return 0

    stats = pstats.Stats(profile)
    if args.out:
        stats.dump_stats(args.out)
    print(f"\nunder cProfile: {profiled:.2f} CPU s")
    print(f"{'phase (profiled)':<44}{'CPU s':>8}{'share':>8}")
    for label, _, name, file in PHASES:
        seconds = cumulative(stats, file, name)[0]
        print(f"{label:<44}{seconds:>8.2f}{seconds / profiled:>8.1%}")
    parts: dict[str, float] = {}
    for label, suffix, name in DRIVER:
        parts[label] = parts.get(label, 0.0) + cumulative(stats, suffix, name)[0]
    for label, seconds in parts.items():
        print(
            f"{label + ' (C: share of the clocked total)':<44}{seconds:>8.2f}{seconds / total:>8.1%}"
        )
    _, params = cumulative(stats, "sqlalchemy/sql/compiler.py", "construct_params")
    _, compiled = cumulative(stats, "sqlalchemy/sql/compiler.py", "__init__")
    print(f"SQLAlchemy: construct_params {params:,} calls, {compiled:,} statements compiled\n")
    stats.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
