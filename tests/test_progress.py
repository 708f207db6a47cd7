"""Progress on long work: a bar with total and time left on a terminal, plain lines every few
seconds otherwise (cron, logs) — always on stderr, so stdout stays what --json promises."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.progress import WorkProgress, progress_interval
from leadsync.workspace import Workspace
from tests.helpers import EXAMPLE_YAML, Clock, contact_line
from tests.test_cli import EVENTS


def plain_console() -> tuple[Console, io.StringIO]:
    sink = io.StringIO()
    return Console(file=sink, force_terminal=False, width=200), sink


def test_plain_lines_come_every_interval_with_share_and_time_left() -> None:
    console, sink = plain_console()
    clock = Clock(100.0)
    with WorkProgress(
        console, "ingest", total=10_200_000, unit="bytes", interval_s=5, clock=clock
    ) as progress:
        clock.now += 1
        progress.update(1_000_000, lines=4_000)  # too soon for a line
        clock.now += 5
        progress.update(3_100_000, lines=12_000)
        clock.now += 2
        progress.update(4_000_000, lines=15_000)  # too soon again
        clock.now += 6
        progress.update(10_200_000, lines=40_000)
    assert sink.getvalue().splitlines() == [
        "ingest: 12,000 lines, 3.1 MB of 10.2 MB (30 %), about 14 s left",
        "ingest: 40,000 lines, 10.2 MB of 10.2 MB (100 %)",
        "ingest: done: 40,000 lines, 10.2 MB in 14 s",
    ]


def test_counted_work_and_unknown_totals_read_plainly() -> None:
    console, sink = plain_console()
    clock = Clock(100.0)
    with WorkProgress(console, "replay", total=120_000, interval_s=0, clock=clock) as progress:
        clock.now += 90
        progress.update(40_000)
    with WorkProgress(console, "ingest", total=None, unit="bytes", interval_s=0, clock=clock) as p:
        clock.now += 1
        p.update(2_500, lines=1)
    assert sink.getvalue().splitlines() == [
        "replay: 40,000 of 120,000 events (33 %), about 3 min left",
        "replay: done: 40,000 events in 1 min 30 s",
        "ingest: 1 line, 2.5 kB",
        "ingest: done: 1 line, 2.5 kB in 1 s",
    ]


def test_quick_work_prints_nothing_and_a_terminal_gets_a_bar() -> None:
    console, sink = plain_console()
    with WorkProgress(console, "ingest", total=10, unit="bytes", interval_s=5) as progress:
        progress.update(10, lines=1)
    assert sink.getvalue() == ""  # under the interval: no line, and no closing line either
    sink = io.StringIO()
    terminal = Console(file=sink, force_terminal=True, width=120)
    with WorkProgress(terminal, "ingest", total=4_000, unit="bytes", interval_s=0) as progress:
        progress.update(2_000, lines=10)
        progress.refresh()
        shown = sink.getvalue()
    assert "ingest" in shown and "2.0/4.0 kB" in shown and "50%" in shown
    assert "ingest:" not in shown  # no plain lines on a terminal


def test_the_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADSYNC_PROGRESS_INTERVAL", "0.5")
    assert progress_interval() == 0.5
    for wrong in ("soon", "-1", "nan"):
        monkeypatch.setenv("LEADSYNC_PROGRESS_INTERVAL", wrong)
        assert progress_interval() == 5.0  # not a usable number: the default
    monkeypatch.delenv("LEADSYNC_PROGRESS_INTERVAL")
    assert progress_interval() == 5.0


def _workspace(tmp_path: Path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    (tmp_path / "leadsync.yaml").write_text(EXAMPLE_YAML)
    result = CliRunner().invoke(app, ["--db", url, "apply", str(tmp_path / "leadsync.yaml")])
    assert result.exit_code == 0, result.output
    return url


def test_ingest_prints_progress_lines_on_stderr_and_leaves_json_stdout_alone(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(EVENTS)
    size = events.stat().st_size
    runner = CliRunner()
    args = ["ingest", "dialer", str(events), "--batch-size", "1", "--json"]
    quiet = runner.invoke(app, ["--db", _workspace(tmp_path, "a.db"), *args])
    loud = runner.invoke(
        app,
        ["--db", _workspace(tmp_path, "b.db"), *args],
        env={"LEADSYNC_PROGRESS_INTERVAL": "0"},
    )
    assert quiet.exit_code == loud.exit_code == 0, loud.output
    assert loud.stdout == quiet.stdout and json.loads(loud.stdout)["accepted"] == 4
    assert quiet.stderr == ""
    lines = loud.stderr.splitlines()
    first = len(EVENTS.splitlines()[0]) + 1
    assert size < 1000  # in bytes, then
    assert re.fullmatch(
        rf"ingest: 1 line, {first} B of {size} B \({100 * first // size} %\)(, about .* left)?",
        lines[0],
    ), lines[0]
    assert lines[3] == f"ingest: 4 lines, {size} B of {size} B (100 %)"
    assert re.fullmatch(rf"ingest: done: 4 lines, {size} B in \d+ s", lines[4]), lines[4]


def test_replay_prints_progress_lines_on_stderr(tmp_path: Path) -> None:
    url = _workspace(tmp_path, "w.db")
    with Workspace(url) as ws:
        ws.ingest("dialer", [contact_line(f"p-{i}", "u-1") for i in range(3)])
    proposed = tmp_path / "proposed.yaml"
    proposed.write_text("ownership: {default: integration_wins}\n")
    shown = CliRunner().invoke(
        app,
        ["--db", url, "replay", "dialer", "--settings", str(proposed), "--since", "3650d"],
        env={"LEADSYNC_PROGRESS_INTERVAL": "0"},
    )
    assert shown.exit_code == 0, shown.output
    assert "replay: 3 of 3 events (100 %)" in shown.stderr
    assert "replay:" not in shown.stdout
