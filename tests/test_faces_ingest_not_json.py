"""``leadsync ingest FILE`` of a file that is not JSON lines at all — a CSV export given by
mistake — is refused upfront, on SQLite and PostgreSQL: exit 2, nothing stored (no inbox
row, no dead letter), an error naming the file's first line and what ingest reads. A file
is refused only when none of its first 20 non-blank lines (all, when fewer) reads as JSON:
JSON lines with bad lines among them keep a dead letter per bad line and apply the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.helpers import contact_line, settings, workspace_config
from tests.test_cli import Cli

HEADER = "email,first_name,last_name,phone"
READS = (
    "ingest reads one JSON event, or array of events, per line (a pretty-printed file of "
    "events or arrays is read whole up to 4 MiB"
)


@pytest.fixture
def cli(db_url: str) -> Cli:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
    return Cli(db_url)


def csv_lines(n: int) -> list[str]:
    return [HEADER] + [f"rep{i}@globex.test,Kim,Ng {i},+1555{i:07d}" for i in range(1, n)]


def stored(db_url: str) -> tuple[int, int]:
    """(inbox rows, dead letters) of the workspace."""
    with Workspace(db_url) as ws:
        return len(ws.inbox_rows(None, None, 1000)), ws.dead_letter_count(None)


def refused(result: Any, where: str, none: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: {where}: not JSON lines: {none} (line ")
    assert READS in result.stderr
    assert result.stderr.rstrip().endswith("; nothing was stored")
    assert "Traceback" not in result.stderr


def test_a_large_csv_is_refused_before_anything_is_stored(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    """100,000 lines (over the 4 MiB read whole): one error, not 100,000 dead letters."""
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(csv_lines(100_000)) + "\n")
    assert path.stat().st_size > 4 * 2**20
    result = cli("ingest", "dialer", str(path))
    refused(result, f"{path}:1", "none of its first 20 non-blank lines reads as JSON")
    assert f"(line 1: '{HEADER}')" in result.stderr
    size = path.stat().st_size
    assert f"read whole up to 4 MiB, and this file is {size:,} bytes;" in result.stderr
    assert stored(db_url) == (0, 0)


@pytest.mark.parametrize(
    ("lines", "none"),
    [
        (csv_lines(3), "none of its 3 non-blank lines reads as JSON"),
        (["", HEADER, ""], "its one non-blank line does not read as JSON"),
        (csv_lines(25), "none of its first 20 non-blank lines reads as JSON"),
    ],
    ids=["three lines", "one line", "small file"],
)
def test_a_small_file_that_is_no_json_is_refused(
    cli: Cli, db_url: str, tmp_path: Path, lines: list[str], none: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    first = next(i for i, line in enumerate(lines, start=1) if line)
    refused(cli("ingest", "dialer", str(path)), f"{path}:{first}", none)
    assert stored(db_url) == (0, 0)


def test_stdin_that_is_no_json_is_refused_too(cli: Cli, db_url: str) -> None:
    result = cli("ingest", "dialer", "-", input="\n".join(csv_lines(50)) + "\n")
    refused(result, "<stdin>:1", "none of its first 20 non-blank lines reads as JSON")
    assert stored(db_url) == (0, 0)


def test_json_lines_with_bad_lines_keep_their_good_lines(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    """19 unreadable lines and then one event among the first 20: JSON lines with bad
    lines — each bad one a dead letter, the event applied; 20 unreadable first: refused."""
    good = contact_line("p-1", "u-1")
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([*csv_lines(19), good, *csv_lines(3)]) + "\n")
    result = cli("ingest", "dialer", str(path), "--json")
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["applied"], summary["dead_letter_count"]) == (1, 1, 22)
    assert stored(db_url) == (1, 22)
    later = tmp_path / "later.jsonl"
    later.write_text("\n".join([*csv_lines(20), contact_line("p-2", "u-1")]) + "\n")
    refused(
        cli("ingest", "dialer", str(later)),
        f"{later}:1",
        "none of its first 20 non-blank lines reads as JSON",
    )
    assert stored(db_url) == (1, 22)


def test_a_pretty_printed_document_cut_short_is_still_one_dead_letter(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    """A JSON document read whole, broken: one dead letter where it starts (as before)."""
    text = json.dumps(json.loads(contact_line("p-1", "u-1")), indent=2)
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2] + "\n")
    result = cli("ingest", "dialer", str(path), "--json")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["dead_letter_count"] == 1
    assert stored(db_url) == (0, 1)


def test_a_binary_file_is_refused_whole_naming_what_is_not_utf8(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    """Bytes that are no UTF-8 text (an image, an archive): refused as a CSV is, the first
    line's problem said instead of its bytes; a preview of it is refused the same way."""
    path = tmp_path / "export.xlsx"
    path.write_bytes(b"PK\x03\x04\x14\x00\xff\xfe\x80\n\x81\x82 \x00\n\xc3(\n")
    result = cli("ingest", "dialer", str(path))
    refused(result, f"{path}:1", "none of its 3 non-blank lines reads as JSON")
    assert "(line 1: not valid UTF-8 at byte 6)" in result.stderr
    assert stored(db_url) == (0, 0)
    preview = cli("preview", "dialer", str(path))
    assert preview.exit_code == 2 and "not JSON lines" in preview.stderr


def test_a_utf16_file_is_refused_naming_its_encoding(cli: Cli, db_url: str, tmp_path: Path) -> None:
    """JSON lines saved as UTF-16 (Windows' "Unicode"): good events all the same, in an
    encoding leadsync does not read — refused whole, saying which and how to convert it."""
    text = contact_line("p-1", "u-1") + "\n" + contact_line("p-2", "u-1") + "\n"
    path = tmp_path / "events.jsonl"
    path.write_bytes(text.encode("utf-16"))  # with its byte order mark
    result = cli("ingest", "dialer", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: {path}:1: not JSON lines: the file is UTF-16 text (it begins with the byte "
        "order mark FF FE); allowed: UTF-8 (`iconv -f UTF-16 -t UTF-8` converts it); nothing "
        "was stored"
    )
    assert stored(db_url) == (0, 0)


def test_a_gzip_file_is_refused_saying_how_to_read_it(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    """A compressed export was refused as "not valid UTF-8 at byte 1", with advice about
    JSON (found by a probe)."""
    import gzip

    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress((contact_line("p-1", "u-1") + "\n").encode()))
    result = cli("ingest", "dialer", str(path))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: {path}:1: not JSON lines: the file is gzip-compressed; allowed: JSON lines "
        f"(`zcat {path} | leadsync ingest INTEGRATION -` reads it); nothing was stored"
    )
    assert stored(db_url) == (0, 0)


def test_with_json_a_refused_file_is_a_json_object_on_stdout_too(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    """As apply's refusal: {"ok": false, "errors": [{"place", "message"}]}, exit 2."""
    path = tmp_path / "export.csv"
    path.write_text("\n".join(csv_lines(3)) + "\n")
    result = cli("ingest", "dialer", str(path), "--json")
    assert result.exit_code == 2
    answer = json.loads(result.stdout)
    assert answer["ok"] is False
    [error] = answer["errors"]
    assert error["place"] == f"{path}:1"
    assert error["message"].startswith("not JSON lines: none of its 3 non-blank lines")
    assert stored(db_url) == (0, 0)


def test_json_in_another_encoding_is_refused_saying_how_to_convert_it(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    """A Latin-1 export of one event was refused as "not JSON lines … compact others with
    `jq -c`": it is JSON, in another encoding (found by a probe)."""
    path = tmp_path / "export.jsonl"
    path.write_bytes(contact_line("p-1", "u-1").replace("p-1", "p-é").encode("latin-1") + b"\n")
    result = cli("ingest", "dialer", str(path))
    assert result.exit_code == 2, result.output
    said = result.stderr.strip()
    assert said.startswith(f"error: {path}:1: not UTF-8 text: line 1 reads as JSON but is not")
    assert "(not valid UTF-8 at byte " in said and "iconv -f WINDOWS-1252 -t UTF-8" in said
    assert "jq" not in said
    assert stored(db_url) == (0, 0)


@pytest.mark.parametrize("where", [1, 2], ids=["first line", "between good lines"])
def test_a_line_over_8_mib_is_a_dead_letter_of_its_beginning_the_rest_applied(
    cli: Cli, db_url: str, tmp_path: Path, where: int
) -> None:
    """A line was read whole, however long: a 200 MB line held 770 MB and went into its dead
    letter whole (found by a probe). A line is read up to 8 MiB, as a webhook's body: a
    longer one is a dead letter naming its line and size, keeping its first 64 KiB; the
    good lines beside it are applied."""
    long = json.loads(contact_line("p-long", "u-1"))
    long["properties"]["note"] = "x" * (9 * 2**20)
    lines = [contact_line("p-1", "u-1"), contact_line("p-2", "u-1")]
    lines.insert(where - 1, json.dumps(long))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = cli("ingest", "dialer", str(path), "--json")
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 2 and summary["dead_letter_count"] == 1
    with Workspace(db_url) as ws:
        [letter] = ws.dead_letters()
        assert letter["error"].startswith(
            f"a line of {len(lines[where - 1]) + 1:,} bytes (9.0 MiB)"
        )
        assert "ingest reads lines of up to 8 MiB" in letter["error"]
        assert letter["line_no"] == where
        assert len(ws.dead_letter(letter["id"])["raw"]) == 64 * 2**10
        assert len(ws.find(external="dialer:p-1")) == len(ws.find(external="dialer:p-2")) == 1
        assert ws.find(external="dialer:p-long") == []
