"""Replay under proposed settings: throughput against the engine's own, and peak memory.

Ingests N synthetic events (``bench/synth.py``) into a fresh SQLite workspace with the real
CLI (timed: the engine's own throughput), then runs ``leadsync replay bench --settings
PROPOSED.yaml --json`` in its own process (timed, and its peak RSS read from ``os.wait4``).
The proposed settings change the default strategy to ``integration_wins``, so the two
replayed runs really differ (owners). A replay decides every event twice (current and
proposed), so "half the engine's throughput" means as fast per event and run as ingest.

    .venv/bin/python bench/replay_bench.py                    # 1,000,000 events
    .venv/bin/python bench/replay_bench.py --events 100000
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import yaml

import synth  # bench/synth.py
from memory_bench import leadsync_command, run_measured

LIMIT_MB = 400


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cli = leadsync_command()
    with tempfile.TemporaryDirectory(prefix="leadsync-replaybench-") as tmp:
        work = Path(tmp)
        events, config, proposed = work / "events.jsonl", work / "ws.yaml", work / "proposed.yaml"
        db = f"sqlite:///{work / 'ws.db'}"
        with events.open("w") as out:
            for line in synth.event_lines(args.events, args.seed):
                out.write(line + "\n")
        data = synth.config_dict()
        config.write_text(yaml.safe_dump(data))
        settings = data["integrations"][synth.INTEGRATION]
        settings["ownership"] = {**settings.get("ownership", {}), "default": "integration_wins"}
        proposed.write_text(yaml.safe_dump(settings))
        code, _, _ = run_measured([cli, "--db", db, "apply", str(config)], work / "apply.out")
        assert code == 0
        code, ingest_s, _ = run_measured(
            [cli, "--db", db, "ingest", synth.INTEGRATION, str(events), "--json"],
            work / "ingest.out",
        )
        assert code in (0, 2), (work / "ingest.out").read_text()[-2000:]
        code, replay_s, peak_mb = run_measured(
            [cli, "--db", db, "replay", synth.INTEGRATION, "--settings", str(proposed), "--json"],
            work / "replay.out",
        )
        assert code == 0, (work / "replay.out").read_text()[-2000:]
        result = json.loads((work / "replay.out").read_text())
    engine_rate = args.events / ingest_s
    replay_rate = result["events"] / replay_s
    print(f"events               {args.events:,} (seed {args.seed})")
    print(f"ingest (engine)      {ingest_s:.1f} s  {engine_rate:,.0f} events/s")
    print(f"replay (two runs)    {replay_s:.1f} s  {replay_rate:,.0f} events/s")
    print(f"replay / engine      {replay_rate / engine_rate:.2f}  (target >= 0.5)")
    print(f"replay peak RSS      {peak_mb:.0f} MB  (target < {LIMIT_MB} MB)")
    print(
        f"difference           {result['owners_differ']:,} owners, "
        f"{sum(result['activities_disappear'].values()):,} activities disappear, "
        f"{result['records_compared']:,} records compared"
    )
    ok = replay_rate / engine_rate >= 0.5 and peak_mb < LIMIT_MB and result["events"] > 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
