"""The CLI's tables as a person reads them: on an 80-column terminal no time, id or name is cut
in the middle (a time shows its date with the time below it; short columns stay whole, the
long text wraps between its words), and a list with nothing in it says so in words instead
of printing a box of headings alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from tests.test_cli import Cli
from tests.test_cli_listings import cli  # noqa: F401 (the fixture: README's events and skips)


def shown(cli: Cli, *args: str, columns: int = 80) -> str:  # noqa: F811
    result = cli.runner.invoke(app, ["--db", cli.db_url, *args], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def words_of(output: str) -> set[str]:
    """The words a table shows: what lies between blanks and the box's borders."""
    return set(re.findall(r"[^\s│┃]+", output))


def with_dead_letter(cli: Cli, tmp_path: Path) -> None:  # noqa: F811
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "z1", "occurred_at": "2026-11-03T09:00:00Z", "type": "nonsense"}\n')
    assert cli("ingest", "dialer", str(bad)).exit_code == 2


def time_words(ts: str) -> set[str]:
    date, _, time = ts.replace(".000Z", "Z").partition("T")
    return {date, time}


@pytest.mark.parametrize(
    ("command", "time_key", "text_key"),
    [
        (("activities", "skipped"), "occurred_at", "reason"),
        (("activities", "list"), "occurred_at", None),
        (("dead-letters", "list"), "received_at", "error"),
        (("users", "list", "dialer"), "last_seen_at", None),
    ],
)
def test_an_80_column_table_cuts_no_time_and_no_word(
    cli: Cli,  # noqa: F811
    tmp_path: Path,
    command: tuple[str, ...],
    time_key: str,
    text_key: str | None,
) -> None:
    with_dead_letter(cli, tmp_path)
    rows: list[dict[str, Any]] = cli.json(*command)
    assert rows
    narrow = shown(cli, *command)
    assert max(len(line) for line in narrow.splitlines()) <= 80, narrow
    words = words_of(narrow)
    for row in rows:
        if row[time_key] is not None:  # stacked in a table's cell, whole in a block's line
            whole = row[time_key].replace(".000Z", "Z")
            assert time_words(row[time_key]) <= words or whole in words, (whole, narrow)
        if text_key is not None:  # the long text wraps between its words
            assert set(row[text_key].split()) <= words, (row[text_key], narrow)
    # Ids, names and types are never folded either.
    for row in rows:
        for key in ("integration", "type", "external_id", "id"):
            if isinstance(row.get(key), str):
                assert row[key] in words, (key, row[key], narrow)


def test_a_table_that_fits_keeps_each_row_on_one_line(cli: Cli) -> None:  # noqa: F811
    wide = shown(cli, "activities", "skipped", columns=250)
    for row in cli.json("activities", "skipped"):
        [line] = [line for line in wide.splitlines() if f" {row['external_id']} " in line]
        assert row["occurred_at"].replace(".000Z", "Z") in line


EMPTY = [
    (("decisions", "list"), "no owner decisions"),
    (("decisions", "list", "--rollout"), "no owner decisions match the filters given"),
    (("activities", "list"), "no activities"),
    (("activities", "skipped", "--integration", "dialer"), "no skipped activities match"),
    (("dead-letters", "list"), "no open dead letters"),
    (("dead-letters", "list", "--all"), "no dead letters"),
    (("outbox", "list"), "no owner changes waiting in the outbox"),
    (("inbox", "status"), "the inbox is empty"),
    (("users", "list", "dialer"), "no external users: no event of dialer named a user yet"),
]


@pytest.mark.parametrize(("command", "said"), EMPTY)
def test_an_empty_list_says_so_in_words(
    db_url: str, tmp_path: Path, command: tuple[str, ...], said: str
) -> None:
    (tmp_path / "leadsync.yaml").write_text(
        "owners: [{id: '101', email: ana@acme.test}]\nintegrations: {dialer: {kind: generic}}\n"
    )
    runner = Cli(db_url)
    assert runner("apply", str(tmp_path / "leadsync.yaml")).exit_code == 0
    result = CliRunner().invoke(app, ["--db", db_url, *command], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(said), result.stdout
    assert "┏" not in result.stdout  # no box of headings alone


def test_a_table_too_narrow_for_its_text_is_a_block_per_row(cli: Cli) -> None:  # noqa: F811
    """At 80 columns `activities list` would give its reasons a column a word or two wide:
    each activity is its short values on one line, then its owner and records (with why)
    indented below at the full width."""
    narrow = shown(cli, "activities", "list")
    assert "┃" not in narrow and max(len(line) for line in narrow.splitlines()) <= 80
    lines = narrow.splitlines()
    assert lines[0].split() == ["when", "integration", "type", "external", "id"]
    for row in cli.json("activities", "list"):
        date, _, time = row["occurred_at"].replace(".000Z", "Z").partition("T")
        [head] = [i for i, line in enumerate(lines) if line.endswith(f" {row['external_id']}")]
        assert (
            lines[head]
            == f"{date}T{time}  {row['integration']}  {row['type']}  " + row["external_id"]
        )
        below = []
        for line in lines[head + 1 :]:
            if not line.startswith("    "):
                break
            below.append(line.strip())
        text = " ".join(below)
        assert text.startswith("owner: ") and "records, and why: " in text
        for record in row["records"]:
            assert f"{record['type']} {record['id']}:" in text
    wide = shown(cli, "activities", "list", columns=250)
    assert "┃" in wide  # room enough: the table


def test_owners_list_of_a_workspace_without_owners_says_how_to_get_some(db_url: str) -> None:
    assert CliRunner().invoke(app, ["--db", db_url, "init"]).exit_code == 0
    result = CliRunner().invoke(app, ["--db", db_url, "owners", "list"], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("no owners (declare them under owners:")
    assert "┏" not in result.stdout
