"""Peak memory of the real CLI ingesting a large JSONL file (target: under 300 MB).

Streams N synthetic events (``bench/synth.py``) to a temporary JSONL file, then runs, each in
its own process, ``leadsync --db sqlite:///... apply CONFIG.yaml`` and ``leadsync --db ...
ingest bench FILE --json``, and reads the ingest process's own peak RSS from ``os.wait4``.

    .venv/bin/python bench/memory_bench.py                  # 1,000,000 lines, a few minutes
    .venv/bin/python bench/memory_bench.py --lines 100000 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import synth  # bench/synth.py: the script's directory is on sys.path

LIMIT_MB = 300


def leadsync_command() -> str:
    beside = Path(sys.executable).with_name("leadsync")
    found = str(beside) if beside.exists() else shutil.which("leadsync")
    if found is None:
        sys.exit("leadsync command not found (install the project into this environment)")
    return found


def run_measured(argv: list[str], output: Path) -> tuple[int, float, float]:
    """Run ``argv`` with stdout to ``output``; (exit code, seconds, peak RSS in MB)."""
    start = time.perf_counter()
    with output.open("wb") as out:
        child = subprocess.Popen(argv, stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, seconds, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    cli = leadsync_command()

    with tempfile.TemporaryDirectory(prefix="leadsync-membench-") as tmp:
        work = Path(tmp)
        events = work / "events.jsonl"
        config = work / "workspace.yaml"
        db = f"sqlite:///{work / 'workspace.db'}"
        size = synth.write_jsonl(events, args.lines, args.seed)
        config.write_text(synth.config_text(), encoding="utf-8")

        code, _, apply_rss = run_measured(
            [cli, "--db", db, "apply", str(config)], work / "apply.out"
        )
        if code != 0:
            sys.exit(f"leadsync apply failed with exit code {code}")
        code, seconds, rss = run_measured(
            [cli, "--db", db, "ingest", synth.INTEGRATION, str(events), "--json"],
            work / "ingest.out",
        )
        try:
            summary: dict[str, Any] = json.loads((work / "ingest.out").read_text())
        except ValueError:
            summary = {}

    problems = []
    if code != 0:
        problems.append(f"leadsync ingest exited with {code}")
    if summary.get("applied") != args.lines:
        problems.append(f"{summary.get('applied')} events applied of {args.lines}")
    dead = len(summary.get("dead_letters", [])) + len(summary.get("failed", []))
    if dead:
        problems.append(f"{dead} dead letters")
    passed = rss < LIMIT_MB and not problems
    result = {
        "lines": args.lines,
        "seed": args.seed,
        "jsonl_mb": round(size / 2**20, 1),
        "seconds": round(seconds, 2),
        "events_per_s": round(args.lines / seconds),
        "peak_rss_mb": round(rss, 1),
        "apply_peak_rss_mb": round(apply_rss, 1),
        "limit_mb": LIMIT_MB,
        "applied": summary.get("applied"),
        "records_created": summary.get("records_created"),
        "activities": summary.get("activities"),
        "problems": problems,
        "pass": passed,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        verdict = "PASS" if passed else "FAIL"
        print(f"lines        {result['lines']:>12,}  ({result['jsonl_mb']} MB of JSONL)")
        print(f"seconds      {result['seconds']:>12.2f}  (process start to exit)")
        print(f"events/s     {result['events_per_s']:>12,}")
        print(f"peak RSS     {result['peak_rss_mb']:>12.1f} MB  {verdict} (limit {LIMIT_MB} MB)")
        print(f"apply RSS    {result['apply_peak_rss_mb']:>12.1f} MB")
        created = result["records_created"]
        print(f"applied      {result['applied']!s:>12}  ({created} records created)")
        print(f"activities   {result['activities']}")
        for problem in problems:
            print(f"PROBLEM: {problem}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
