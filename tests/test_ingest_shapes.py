"""What ``leadsync ingest`` takes besides one compact JSON value per line, on SQLite and
PostgreSQL, through the command line and the Workspace API:

- a file of one JSON document spread over several lines (a pretty-printed capture, as every
  sample of ``tests/fixtures/published`` is) is read whole, as its line 1 (one cut short:
  tests/test_ingest_documents.py); a file that is not JSON documents either (or is larger
  than the limit, or stdin) is read line by line as always, and its first line's error says
  what ingest reads — unless none of its first 20 lines reads as JSON: then it is refused
  whole, saying so, with nothing stored;
- a line of a generic integration may be what its webhook takes: one event or an array of
  events, cut by the same code, each event with its own place (``FILE:LINE [INDEX]``); a dead
  letter of such a line can be retried.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.model import now_ts
from leadsync.pipeline import input_file
from leadsync.pipeline.inbox import dead_letter_row
from leadsync.pipeline.ingest import InputFile
from leadsync.sources import KINDS, adapter_for
from leadsync.sources.base import WebhookRequest
from leadsync.store import inbox as inbox_store
from leadsync.workspace import Workspace
from tests import test_cli
from tests.helpers import contact_line, settings, workspace_config

PUBLISHED = Path(__file__).parent / "fixtures" / "published"
CALL_CREATED = PUBLISHED / "aircall" / "call.created.docs.json"  # 37 lines, one call
HINT = (
    "ingest reads one JSON body per line (a pretty-printed file of bodies is read whole up "
    "to 4 MiB; compact others with `jq -c`)"
)


class Cli(test_cli.Cli):
    def ingest(self, integration: str, file: str, *, input: str | None = None) -> Any:
        """The summary of ``ingest --json``, and the exit code."""
        result = self("ingest", integration, file, "--json", input=input)
        assert "Traceback" not in result.output + result.stderr
        return json.loads(result.stdout), result.exit_code


@pytest.fixture
def cli(db_url: str) -> Cli:
    leave = {"unmapped": {"policy": "leave"}}
    with Workspace(db_url) as ws:
        ws.apply_config(
            workspace_config(
                {
                    "dialer": settings(),
                    "aircall": {"kind": "aircall", "users": leave},
                    "hubspot": {"kind": "hubspot", "users": leave, "vendor": {"app_id": "777"}},
                }
            )
        )
    return Cli(db_url)


def compact(path: Path) -> str:
    return json.dumps(json.loads(path.read_text("utf-8")))


# ------------------------------------------------------------------ (A) pretty-printed files


@pytest.mark.parametrize(
    ("kind", "sample", "events", "said"),
    [
        ("aircall", "aircall/call.created.docs.json", 1, "1 accepted"),
        # A phone line: one of the company's lines (a line event), used.
        ("aircall", "aircall/number.closed.docs.json", 1, "1 accepted"),
        # Accepted, and nothing in it is used: the line says so rather than "applied 0".
        (
            "aircall",
            "aircall/integration.deleted.docs.json",
            1,
            "1 accepted (1 read as nothing: no event or field leadsync keeps)",
        ),
        # An array: two events, one a change of a property leadsync does not read.
        (
            "hubspot",
            "hubspot/webhooks_guide_example.json",
            2,
            "2 accepted (1 read as nothing: no event or field leadsync keeps)",
        ),
    ],
)
def test_a_pretty_printed_capture_is_read_whole_as_its_line_1(
    cli: Cli, tmp_path: Path, kind: str, sample: str, events: int, said: str
) -> None:
    path = tmp_path / "capture.json"
    path.write_text("\n" + (PUBLISHED / sample).read_text("utf-8") + "\n\n")  # blank lines too
    assert len(path.read_text().splitlines()) > 5
    result = cli("ingest", kind, str(path))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{kind}: 1 line, {said}, 0 duplicates, 0 dead")
    assert "dead letter:" not in result.output and "warning" not in result.output.lower()
    again, _ = cli.ingest(kind, str(path))  # the same file again: all duplicates, none unused
    assert (again["accepted"], again["unused"], again["duplicates"]) == (0, 0, events)
    # The same keys as the compact line of the same body: it is the same request.
    compact_file = tmp_path / "compact.jsonl"
    compact_file.write_text(compact(PUBLISHED / sample) + "\n")
    summary, code = cli.ingest(kind, str(compact_file))
    assert (code, summary["lines"], summary["accepted"]) == (0, 1, 0)
    assert summary["duplicates"] == events


def test_a_pretty_printed_capture_that_cannot_be_read_is_one_dead_letter_at_line_1(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "ended.json"
    path.write_text((PUBLISHED / "aircall" / "call.ended.activepieces.json").read_text())
    summary, code = cli.ingest("aircall", str(path))
    assert (code, summary["lines"], summary["dead_letter_count"]) == (2, 1, 1)
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{path}:1"
    assert letter["error"].startswith('field "data.started_at": must be a unix time in s')
    assert "ingest reads" not in letter["error"]
    [row] = json.loads(cli("dead-letters", "list", "--json").stdout)
    assert row["line_no"] == 1 and "45XXYYZZa08" not in row["raw"]  # the token is redacted


def test_pretty_printed_documents_one_after_another_are_read_each_where_it_starts(
    cli: Cli, tmp_path: Path
) -> None:
    """``jq .`` of several bodies: each is a line of its own, numbered where it starts (a
    body sent twice is a duplicate, as on the wire)."""
    text = CALL_CREATED.read_text()
    contact = (PUBLISHED / "aircall" / "contact.created.activepieces.json").read_text()
    several = tmp_path / "several.json"
    several.write_text(text + "\n" + contact + text)
    summary, code = cli.ingest("aircall", str(several))
    assert (code, summary["lines"], summary["accepted"], summary["duplicates"]) == (0, 3, 2, 1)
    assert summary["dead_letter_count"] == 0
    ended = (PUBLISHED / "aircall" / "call.ended.activepieces.json").read_text()  # unreadable
    mixed = tmp_path / "mixed.json"
    mixed.write_text(contact + ended)
    summary, code = cli.ingest("aircall", str(mixed))
    [letter] = summary["dead_letters"]
    assert code == 2 and letter["where"] == f"{mixed}:{len(contact.splitlines()) + 1}"
    assert letter["error"].startswith('field "data.started_at": ')
    broken = tmp_path / "broken.json"  # the second one cut short: one dead letter
    broken.write_text(text + "\n" + contact[: len(contact) // 2])
    summary, code = cli.ingest("aircall", str(broken))
    assert (code, summary["lines"], summary["duplicates"], summary["dead_letter_count"]) == (
        2,
        2,
        1,
        1,
    )
    [letter] = summary["dead_letters"]
    begins = len(text.splitlines()) + 2  # after a blank line
    assert letter["where"] == f"{broken}:{begins}"
    assert letter["error"].startswith("body is not valid JSON: ")
    assert letter["error"].endswith(
        f"; lines {begins}-{len(broken.read_text().splitlines())} are read as one "
        "pretty-printed document"
    )
    two = tmp_path / "two.json"  # the same, with no blank line between
    two.write_text(text + text[:-10])
    summary, code = cli.ingest("aircall", str(two))
    assert (code, summary["lines"], summary["duplicates"], summary["dead_letter_count"]) == (
        2,
        2,
        1,
        1,
    )
    assert summary["dead_letters"][0]["where"] == f"{two}:{len(text.splitlines()) + 1}"


def test_a_file_that_is_not_json_values_is_refused_and_says_what_ingest_reads(
    cli: Cli, tmp_path: Path
) -> None:
    """Not JSON from its first character, and none of its lines JSON (an export given by
    mistake): refused whole, nothing stored, rather than a dead letter per line
    (tests/test_faces_ingest_not_json.py); one JSON line among them and it is JSON lines."""
    calls = tmp_path / "calls.csv"  # an export that is not JSON from its first character
    calls.write_text("id,direction\n812345,inbound\n812346,outbound\n")
    refused = cli("ingest", "aircall", str(calls))
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr == (
        f"error: {calls}:1: not JSON lines: none of its 3 non-blank lines reads as JSON "
        f"(line 1: 'id,direction'); {HINT}; nothing was stored\n"
    )
    assert json.loads(cli("dead-letters", "list", "--json").stdout) == []
    calls.write_text("id,direction\n812345,inbound\n" + compact(CALL_CREATED) + "\n")
    summary, code = cli.ingest("aircall", str(calls))
    assert (code, summary["lines"], summary["accepted"]) == (2, 3, 1)
    assert summary["dead_letter_count"] == 2
    first, second = summary["dead_letters"]
    assert first["where"] == f"{calls}:1"
    assert first["error"] == (f"body is not valid JSON: Expecting value (line 1, column 1); {HINT}")
    assert second["where"] == f"{calls}:2" and "ingest reads" not in second["error"]
    result = cli("dead-letters", "list", "--json")
    stored = {row["line_no"]: row["error"] for row in json.loads(result.stdout)}
    assert stored[1].endswith(HINT) and not stored[2].endswith(HINT)


def test_a_pretty_printed_file_over_the_limit_is_refused_saying_so(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the size read whole, its lines alone are no JSON: refused, saying the limit."""
    monkeypatch.setattr(input_file, "WHOLE_FILE_MAX_BYTES", 2**20)
    body = json.loads(CALL_CREATED.read_text())
    body["data"]["padding"] = "x" * 2**20  # one JSON value, over 1 MiB
    path = tmp_path / "large.json"
    path.write_text(json.dumps(body, indent=2))
    refused = cli("ingest", "aircall", str(path))
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith(f"error: {path}:1: not JSON lines: none of its first 20")
    assert refused.stderr.endswith(
        "; ingest reads one JSON body per line (a pretty-printed file of bodies is read "
        f"whole up to 1 MiB, and this file is {path.stat().st_size:,} bytes; compact others "
        "with `jq -c`); nothing was stored\n"
    )
    # Just under the limit, it is read whole.
    monkeypatch.setattr(input_file, "WHOLE_FILE_MAX_BYTES", path.stat().st_size)
    summary, code = cli.ingest("aircall", str(path))
    assert (code, summary["lines"], summary["accepted"]) == (0, 1, 1)


def test_stdin_is_read_line_by_line_and_says_a_named_file_is_read_whole(cli: Cli) -> None:
    refused = cli("ingest", "aircall", "-", input=CALL_CREATED.read_text())
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.startswith("error: <stdin>:1: not JSON lines: none of its first 20")
    assert refused.stderr.endswith(
        "; ingest reads one JSON body per line (a pretty-printed file of bodies is read "
        "whole up to 4 MiB when named, not from stdin; compact others with `jq -c`); "
        "nothing was stored\n"
    )
    compacted, code = cli.ingest("aircall", "-", input=compact(CALL_CREATED) + "\n")
    assert (code, compacted["accepted"]) == (0, 1)


def test_json_lines_with_a_bad_line_keep_the_good_ones_and_only_a_bad_first_line_says_more(
    cli: Cli, tmp_path: Path
) -> None:
    good = [contact_line(f"p-{n}", "u-1", event_id=f"e{n}") for n in range(3)]
    middle = tmp_path / "middle.jsonl"
    middle.write_text("\n".join([good[0], '{"id": "x", "type": "record"', good[1]]) + "\n")
    summary, code = cli.ingest("dialer", str(middle))
    assert (code, summary["lines"], summary["accepted"], summary["applied"]) == (2, 3, 2, 2)
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{middle}:2"
    assert letter["error"].startswith("not valid JSON: ") and "ingest reads" not in letter["error"]
    # A bad (truncated) first line: the file is not one JSON value either, so it is read by
    # line as always; that line's error says what a line holds.
    first = tmp_path / "first.jsonl"
    first.write_text("\n".join([good[2][:40], *good[:2]]) + "\n")
    summary, code = cli.ingest("dialer", str(first))
    assert (code, summary["lines"], summary["accepted"], summary["duplicates"]) == (2, 3, 0, 2)
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{first}:1"
    assert letter["error"].endswith(
        "; ingest reads one JSON event, or array of events, per line (a pretty-printed file "
        "of events or arrays is read whole up to 4 MiB; compact others with `jq -c`)"
    )


TOO_DEEP = "nested deeper than 128 levels; allowed: at most 128 levels of arrays and objects"


def nested_line(levels: int) -> str:
    """A canonical event nested ``levels`` deep: the event and its ``properties`` are two
    levels, ``tags`` holds the rest (written as text: deeper than ``json`` writes)."""
    event = json.loads(contact_line("p-9", "u-1", event_id=f"deep-{levels}"))
    text = json.dumps({**event, "properties": {"tags": "TAGS"}})
    return text.replace('"TAGS"', "[" * (levels - 2) + "]" * (levels - 2))


def test_lines_are_read_to_the_depth_limit_and_refused_past_it_however_deep(
    cli: Cli, tmp_path: Path
) -> None:
    """docs/FORMAT.md: at most 128 levels. A line past it is a dead letter saying so, also
    one deeper than Python's decoder reads at all (it was taken for a file that is not
    JSON when it was the only line)."""
    path = tmp_path / "deep.jsonl"
    lines = [nested_line(128), nested_line(129), nested_line(5000), contact_line("p-1", "u-1")]
    path.write_text("\n".join(lines) + "\n")
    summary, code = cli.ingest("dialer", str(path))
    assert (code, summary["lines"], summary["accepted"]) == (2, 4, 1)
    at_limit, past, far = summary["dead_letters"]
    assert at_limit["where"] == f"{path}:1"
    # Read, then checked as an event.
    assert at_limit["error"].startswith('field "properties.tags[0]": a list property may only')
    assert (past["where"], past["error"]) == (f"{path}:2", f"not valid JSON: {TOO_DEEP}")
    assert (far["where"], far["error"]) == (f"{path}:3", f"not valid JSON: {TOO_DEEP}")
    alone = tmp_path / "alone.jsonl"
    alone.write_text(nested_line(5000) + "\n")
    summary, code = cli.ingest("dialer", str(alone))
    assert (code, summary["lines"], summary["accepted"]) == (2, 1, 0)
    assert summary["dead_letters"] == [
        {"where": f"{alone}:1", "error": f"not valid JSON: {TOO_DEEP}"}
    ]


def test_the_workspace_api_reads_an_input_file_whole_and_a_list_by_line(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "capture.json"
    path.write_text(CALL_CREATED.read_text())
    with Workspace(cli.db_url) as ws:
        with path.open("rb") as handle:
            lines = InputFile(handle)
            summary = ws.ingest("aircall", lines, source="capture.json")
        assert (summary.lines, summary.accepted, summary.dead_letters.total) == (1, 1, 0)
        assert lines.lines == 37 and lines.bytes == path.stat().st_size  # progress
        [row] = ws.inbox_rows(integration="aircall")
        assert row["status"] == "applied" and "cebcaac65" not in row["payload"]
        # Lines given as a list are lines: nothing is read ahead.
        listed = ws.ingest("aircall", path.read_text().splitlines(), source="listed.json")
        assert (listed.lines, listed.accepted, listed.dead_letters.total) == (37, 0, 37)
        assert next(iter(listed.dead_letters)).error.endswith(
            "up to 4 MiB when named, not from stdin; compact others with `jq -c`)"
        )


# ------------------------------------------------------------------ (B) generic arrays


def events(*numbers: int) -> list[dict[str, Any]]:
    return [json.loads(contact_line(f"p-{n}", "u-1", event_id=f"e{n}")) for n in numbers]


def test_a_generic_line_may_be_an_array_of_events_as_its_webhook_takes(cli: Cli) -> None:
    batch = [*events(1), {"id": "bad", "type": "record"}, *events(2)]
    line = json.dumps(batch)
    lines = [contact_line("p-0", "u-1", event_id="e0"), line, json.dumps(events(3))]
    with Workspace(cli.db_url) as ws:
        summary = ws.ingest("dialer", lines, source="events.jsonl")
        assert (summary.lines, summary.accepted, summary.applied.events) == (3, 4, 4)
        [letter] = summary.dead_letters
        assert letter.where == "events.jsonl:2 [1]"  # the line, and the event's index in it
        assert letter.error == 'field "[1].occurred_at": required'
        # The keys the webhook gives the same body: a later delivery is a duplicate.
        adapter = adapter_for("generic", "dialer")
        request = WebhookRequest("POST", "", {"content-type": "application/json"}, line.encode())
        keys = [piece.key for piece in adapter.pieces(request)]
        rows = {row["event_id"]: row["status"] for row in ws.inbox_rows(integration="dialer")}
        assert {key: rows[key] for key in keys} == {
            "e1": "applied",
            keys[1]: "failed",
            "e2": "applied",
        }
        assert set(rows) == {"e0", *keys, "e3"}
        for n in range(4):
            [record] = ws.find(external=f"dialer:p-{n}")
            assert record["email"] == f"p-{n}@globex.test"
        again = ws.ingest("dialer", lines, source="events.jsonl")
        # Every event held already; the one still a dead letter is reported again.
        assert (again.accepted, again.duplicates, again.dead_letters.total) == (0, 5, 1)
        [still] = again.dead_letters
        assert still.where == "events.jsonl:2 [1]" and "occurred_at" in still.error


def test_the_cli_ingests_generic_arrays_compact_or_pretty_printed(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps([*events(1, 2), 7]) + "\n" + json.dumps(events(3)) + "\n")
    summary, code = cli.ingest("dialer", str(path))
    assert (code, summary["lines"], summary["accepted"], summary["applied"]) == (2, 2, 3, 3)
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{path}:1 [2]"
    assert letter["error"] == 'field "[2]": an event must be a JSON object, got a number'
    pretty = tmp_path / "export.json"
    pretty.write_text(json.dumps(events(3, 4, 5), indent=2))
    summary, code = cli.ingest("dialer", str(pretty))
    assert (code, summary["lines"], summary["accepted"], summary["duplicates"]) == (0, 1, 2, 1)
    assert summary["applied"] == 2 and summary["dead_letters"] == []


def test_a_dead_letter_of_an_array_line_is_retried(cli: Cli) -> None:
    """A letter an earlier version made of a generic array line (it took one event a line)
    reads now, and its events are added and applied."""
    line = json.dumps(events(1, 2))
    error = "an event must be a JSON object, got an array"
    letter = dead_letter_row("dialer", "events.jsonl", 4, line, error, now_ts())
    with Workspace(cli.db_url) as ws, ws.engine.begin() as connection:
        inbox_store.insert_dead_letters(connection, [letter])
    [open_letter] = json.loads(cli("dead-letters", "list", "--json").stdout)
    result = cli("dead-letters", "retry", str(open_letter["id"]))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"dead letter {open_letter['id']}: added to the inbox as #")
    assert "applied 2 events" in result.stdout
    with Workspace(cli.db_url) as ws:
        assert {r["event_id"]: r["status"] for r in ws.inbox_rows()} == {
            "e1": "applied",
            "e2": "applied",
        }
        assert [r["email"] for r in ws.find(external="dialer:p-2")] == ["p-2@globex.test"]
        assert ws.dead_letter_count() == 0


# ------------------------------------------------------------------ (D) bodies that say nothing


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_two_different_bodies_that_do_not_say_which_event_they_are_are_two_dead_letters(
    tmp_path: Path, kind: str
) -> None:
    """A vendor with no event id keys a body by what identifies its event (its name, object
    id, time); bodies lacking them (junk, or canonical lines sent to a vendor's integration)
    shared one key: the second was counted a duplicate of the first, never read, never a
    dead letter. Each is read and kept now."""
    with Workspace(f"sqlite:///{tmp_path}/leadsync.db") as ws:
        ws.apply_config(workspace_config({"tool": {"kind": kind}}))
        lines = ['{"foo": 1}', '{"bar": 2}', contact_line("p-1", "u-1"), contact_line("p-2", "u-1")]
        summary = ws.ingest("tool", lines, source="junk.jsonl")
        if kind == "generic":  # the canonical lines are this kind's own events
            assert (summary.accepted, len(summary.dead_letters)) == (2, 2)
        else:
            assert summary.duplicates == 0, summary
            assert sorted(d.where for d in summary.dead_letters) == [
                f"junk.jsonl:{n}" for n in range(1, 5)
            ], summary.dead_letters
        again = ws.ingest("tool", lines, source="junk.jsonl")  # held already, or refused again
        assert again.accepted == 0
        # Each dead letter reported again, whether its line was refused again or is held
        # already as a failed event.
        assert len(again.dead_letters) == len(summary.dead_letters)
