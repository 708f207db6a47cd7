"""The documentation says what the code does: the canonical event table, the commands'
options in docs/MONITORING.md, and a test run without PostgreSQL says so once."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import typer

from leadsync.cli import app
from leadsync.sources.canonical import ALLOWED_KEYS, EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MONITORING = (ROOT / "docs" / "MONITORING.md").read_text(encoding="utf-8")


def _table_rows(text: str, heading: str) -> dict[str, str]:
    """The rows of the first Markdown table after ``heading``: first cell -> the row."""
    rows: dict[str, str] = {}
    after = text[text.index(heading) :]
    started = False
    for line in after.splitlines():
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0].strip("`")] = line
        elif started:
            break
    return rows


def test_the_readme_event_table_has_every_key_and_type_the_parser_takes() -> None:
    rows = _table_rows(README, "## Events: the canonical JSONL format")
    assert set(ALLOWED_KEYS) <= set(rows), set(ALLOWED_KEYS) - set(rows)
    for event_type in EVENT_TYPES:
        assert f"`{event_type}`" in rows["type"], event_type


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def _options(command: str) -> set[str]:
    found = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {opt for p in found.params for opt in p.opts if opt.startswith("--")}


def test_monitoring_names_every_option_of_undo_and_test_lead() -> None:
    undo = _section(MONITORING, "## Undo")
    for option in _options("undo") - {"--json"}:
        assert option in undo, option
    assert "--event ID --integration NAME" in undo  # an event id is unique per integration
    lead = _section(MONITORING, "## Test lead")
    for option in _options("test-lead") - {"--json"}:
        assert option in lead, option
    assert "any active member" not in lead  # the round robin's turn is expected, not anyone
    assert "whose turn it is" in lead and "note" in lead


def test_a_run_without_postgresql_says_so_once_instead_of_one_line_per_test() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LEADSYNC_TEST_POSTGRES_URL"}
    ran = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/test_rules_ownership.py",
            "tests/test_replay.py",
            "-k",
            "same_settings or stale",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "SKIPPED" not in ran.stdout and " skipped" not in ran.stdout, ran.stdout
    notes = [line for line in ran.stdout.splitlines() if "LEADSYNC_TEST_POSTGRES_URL" in line]
    assert len(notes) == 1, ran.stdout
    assert re.search(r"PostgreSQL: \d+ tests? not run", notes[0]), notes[0]
