"""``leadsync ingest`` of a file that is one document rather than JSON lines, on SQLite and
PostgreSQL:

- an XML document (a Salesforce Outbound Message as received) is read whole, as one body,
  up to 4 MiB: never one dead letter per line; a kind that takes no XML gets one dead letter
  saying which kinds do;
- a pretty-printed JSON document cut short is one dead letter where it starts, naming the
  file's line and column of the error, not one per line; JSON lines with a bad line keep a
  dead letter per bad line and the good lines (tests/test_ingest_shapes.py);
- an event of an array body (a HubSpot batch, generic events) that cannot be read names its
  index in its place and in the fields its error names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.pipeline import input_file
from leadsync.pipeline.ingest import in_element
from leadsync.workspace import Workspace
from tests import test_ingest_shapes
from tests.helpers import contact_line, settings, workspace_config

WEBHOOKS = Path(__file__).parent / "fixtures" / "webhooks"
OM_CONTACT = WEBHOOKS / "salesforce" / "om_contact.xml"  # 24 lines, one notification
CALL_ENDED = WEBHOOKS / "aircall" / "call.ended.json"  # pretty-printed, an envelope
ORG = "00D5g000004Xyz1EAC"
XML_NOT_JSON = (
    "body is XML, not JSON: kind {kind} reads {what}; the kinds that take XML: salesforce"
)


class Cli(test_ingest_shapes.Cli):
    def letters(self) -> list[dict[str, Any]]:
        return list(json.loads(self("dead-letters", "list", "--json").stdout))


@pytest.fixture
def cli(db_url: str) -> Cli:
    leave = {"unmapped": {"policy": "leave"}}
    with Workspace(db_url) as ws:
        ws.apply_config(
            workspace_config(
                {
                    "dialer": settings(),
                    "phone": {"kind": "aircall", "users": leave},
                    "hs": {"kind": "hubspot", "users": leave},
                    "sf": {
                        "kind": "salesforce",
                        "users": leave,
                        "vendor": {"organization_id": ORG},
                    },
                }
            )
        )
    return Cli(db_url)


# ------------------------------------------------------------------ XML


def test_an_xml_capture_is_read_whole_as_one_body(cli: Cli, tmp_path: Path) -> None:
    assert len(OM_CONTACT.read_text().splitlines()) == 24
    summary, code = cli.ingest("sf", str(OM_CONTACT))
    assert (code, summary["lines"], summary["accepted"], summary["dead_letter_count"]) == (
        0,
        1,
        1,
        0,
    )
    assert summary["applied"] == 1 and cli.letters() == []
    # The body the webhook takes: the same as its capture as a JSON string line (a
    # duplicate), and as the file with a byte order mark and blank lines before it.
    line = tmp_path / "om.jsonl"
    line.write_text(json.dumps({"body": OM_CONTACT.read_text()}) + "\n")
    summary, code = cli.ingest("sf", str(line))
    assert (code, summary["accepted"], summary["duplicates"]) == (0, 0, 1)
    marked = tmp_path / "om.xml"
    marked.write_text("\ufeff\n\n" + OM_CONTACT.read_text())
    summary, code = cli.ingest("sf", str(marked))
    assert (code, summary["lines"], summary["accepted"], summary["duplicates"]) == (0, 1, 0, 1)
    # From stdin too: an XML document has no lines to read one by one.
    summary, code = cli.ingest("sf", "-", input=OM_CONTACT.read_text())
    assert (code, summary["lines"], summary["duplicates"], summary["dead_letter_count"]) == (
        0,
        1,
        1,
        0,
    )


def test_an_xml_capture_that_is_not_well_formed_is_one_dead_letter(
    cli: Cli, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.xml"
    cut.write_text(OM_CONTACT.read_text()[:700])
    summary, code = cli.ingest("sf", str(cut))
    assert (code, summary["lines"], summary["dead_letter_count"]) == (2, 1, 1)
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{cut}:1"
    assert letter["error"].startswith("body is not well-formed XML (line ")
    [row] = cli.letters()
    assert row["line_no"] == 1 and row["raw"] == cut.read_text().strip()


@pytest.mark.parametrize(
    ("integration", "kind", "what"),
    [("phone", "aircall", "JSON bodies"), ("dialer", "generic", "canonical JSON events")],
)
def test_xml_for_a_kind_that_takes_none_is_one_dead_letter_saying_which_do(
    cli: Cli, integration: str, kind: str, what: str
) -> None:
    summary, code = cli.ingest(integration, str(OM_CONTACT))
    assert (code, summary["lines"], summary["accepted"], summary["dead_letter_count"]) == (
        2,
        1,
        0,
        1,
    )
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{OM_CONTACT}:1"
    assert letter["error"] == XML_NOT_JSON.format(kind=kind, what=what)
    [row] = cli.letters()
    assert row["error"] == letter["error"] and row["raw"] == OM_CONTACT.read_text().strip()
    # A retry reads it the same way: still XML.
    result = cli("dead-letters", "retry", str(row["id"]))
    assert result.exit_code == 2 and "body is XML, not JSON" in result.output


def test_an_xml_capture_over_the_limit_is_one_dead_letter(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(input_file, "WHOLE_FILE_MAX_BYTES", 2**20)
    text = OM_CONTACT.read_text()
    padding = "\n".join(f"<!-- {n:07d} {'x' * 100} -->" for n in range(11_000))
    large = tmp_path / "large.xml"
    large.write_text(text.replace("<soapenv:Body>", f"<soapenv:Body>\n{padding}\n"))
    assert large.stat().st_size > 2**20
    over = "body is an XML document of more than 1 MiB; ingest reads one whole up to 1 MiB"
    for source, input in ((str(large), None), ("-", large.read_text())):  # a file, a pipe
        summary, code = cli.ingest("sf", source, input=input)
        assert (code, summary["lines"], summary["dead_letter_count"]) == (2, 1, 1)
        [letter] = summary["dead_letters"]
        assert letter["error"] == over
    summary, code = cli.ingest("phone", str(large))
    assert [d["error"] for d in summary["dead_letters"]] == [
        XML_NOT_JSON.format(kind="aircall", what="JSON bodies")
    ]
    # Just under the limit, it is read whole.
    monkeypatch.setattr(input_file, "WHOLE_FILE_MAX_BYTES", large.stat().st_size)
    summary, code = cli.ingest("sf", str(large))
    assert (code, summary["lines"], summary["accepted"]) == (0, 1, 1)


# ------------------------------------------------------------------ JSON documents cut short


def test_a_pretty_printed_capture_cut_short_is_one_dead_letter_naming_the_place(
    cli: Cli, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.json"  # head -c 300: 12 lines
    cut.write_bytes(CALL_ENDED.read_bytes()[:300])
    summary, code = cli.ingest("phone", str(cut))
    assert (code, summary["lines"], summary["accepted"], summary["dead_letter_count"]) == (
        2,
        1,
        0,
        1,
    )
    [letter] = summary["dead_letters"]
    assert letter == {
        "where": f"{cut}:1",
        "error": "body is not valid JSON: Expecting ':' delimiter (line 12, column 27); "
        "lines 1-12 are read as one pretty-printed document",
    }
    [row] = cli.letters()
    assert row["line_no"] == 1 and row["raw"].startswith('{\n  "body": {\n')
    assert "tok-4f1c9a0e" not in row["raw"]  # the token is redacted
    # After blank lines, it is where it starts; the place is the file's line and column.
    later = tmp_path / "later.json"
    later.write_bytes(b"\n\n" + CALL_ENDED.read_bytes()[:300])
    summary, code = cli.ingest("phone", str(later))
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{later}:3"
    assert letter["error"] == (
        "body is not valid JSON: Expecting ':' delimiter (line 14, column 27); "
        "lines 3-14 are read as one pretty-printed document"
    )


def test_documents_before_one_cut_short_are_read(cli: Cli, tmp_path: Path) -> None:
    """``jq .`` of several bodies, the last cut short: each good one read where it starts,
    the last one dead letter where it starts."""
    events = [json.loads(contact_line(f"p-{n}", "u-1", event_id=f"e{n}")) for n in range(3)]
    pretty = [json.dumps(event, indent=2) for event in events]
    path = tmp_path / "events.json"
    path.write_text(pretty[0] + "\n" + pretty[1] + "\n" + pretty[2][:-20])
    summary, code = cli.ingest("dialer", str(path))
    assert (code, summary["lines"], summary["accepted"], summary["dead_letter_count"]) == (
        2,
        3,
        2,
        1,
    )
    [letter] = summary["dead_letters"]
    begins = len(pretty[0].splitlines()) + len(pretty[1].splitlines()) + 1
    last = len(path.read_text().splitlines())
    assert letter["where"] == f"{path}:{begins}"
    assert letter["error"].startswith("not valid JSON: ")
    assert letter["error"].endswith(
        f"; lines {begins}-{last} are read as one pretty-printed document"
    )


def test_json_lines_whose_bad_first_line_goes_on_are_read_by_line(cli: Cli, tmp_path: Path) -> None:
    """A bad first line whose error is on the next line (the value goes on there) is still a
    bad line of JSON lines when a line after it is a JSON object: each line as it is."""
    good = [contact_line(f"p-{n}", "u-1", event_id=f"e{n}") for n in range(2)]
    path = tmp_path / "lines.jsonl"
    path.write_text('{"id": "x", "type"\n' + "\n".join(good) + "\n")
    summary, code = cli.ingest("dialer", str(path))
    assert (code, summary["lines"], summary["accepted"], summary["dead_letter_count"]) == (
        2,
        3,
        2,
        1,
    )
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{path}:1" and "ingest reads one JSON event" in letter["error"]


# ------------------------------------------------------------------ array bodies

BATCH = [
    {
        "eventId": 1,
        "subscriptionId": 5,
        "occurredAt": 1790000000000,
        "subscriptionType": "contact.creation",
        "objectId": 11,
    },
    {
        "eventId": 2,
        "subscriptionId": 5,
        "occurredAt": 1790000000000,
        "subscriptionType": "contact.propertyChange",
        "objectId": 12,
        "propertyName": "email",
    },
]


def test_an_event_of_a_hubspot_batch_names_its_index_in_place_and_field(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "hs2.jsonl"
    path.write_text(json.dumps(BATCH) + "\n")
    summary, code = cli.ingest("hs", str(path))
    assert (code, summary["lines"], summary["accepted"], summary["dead_letter_count"]) == (
        2,
        1,
        1,
        1,
    )
    error = 'field "[1].propertyValue": required on a propertyChange event'
    assert summary["dead_letters"] == [{"where": f"{path}:1 [1]", "error": error}]
    [row] = cli.letters()
    assert (row["source"], row["line_no"], row["error"]) == (str(path), 1, error)
    # A batch of one: the element is the body, as its place says.
    one = tmp_path / "hs1.jsonl"
    one.write_text(json.dumps([{**BATCH[1], "eventId": 3}]) + "\n")
    summary, code = cli.ingest("hs", str(one))
    assert summary["dead_letters"] == [
        {"where": f"{one}:1", "error": 'field "propertyValue": required on a propertyChange event'}
    ]


def test_an_event_of_a_hubspot_batch_without_event_id_is_a_dead_letter_beside_the_others(
    cli: Cli, tmp_path: Path
) -> None:
    """As over HTTP: the line's other events go in, the one that cannot be identified is a
    dead letter of its own, FILE:LINE [INDEX], kept as a batch of its own; the file ingested
    again adds no second letter, and the letter retried as it is still cannot be read."""
    unidentified = {k: v for k, v in BATCH[0].items() if k != "eventId"} | {"objectId": 13}
    batch = [BATCH[0], unidentified, {**BATCH[0], "eventId": 3, "objectId": 12}]
    path = tmp_path / "hs3.jsonl"
    path.write_text(json.dumps(batch) + "\n")
    error = 'field "[1].eventId": required'
    summary, code = cli.ingest("hs", str(path))
    assert (code, summary["lines"], summary["accepted"], summary["applied"]) == (2, 1, 2, 2)
    assert summary["dead_letters"] == [{"where": f"{path}:1 [1]", "error": error}]
    [row] = cli.letters()
    assert (row["source"], row["line_no"], row["event_id"], row["error"]) == (
        str(path),
        1,
        None,
        error,
    )
    with Workspace(cli.db_url) as ws:
        assert json.loads(ws.dead_letter(row["id"])["raw"]) == [unidentified]
        assert sorted(r["event_id"] for r in ws.inbox_rows()) == ["5:1@11", "5:3@12"]
        assert [r["type"] for r in ws.find(external="hs:12")] == ["contact"]
    summary, code = cli.ingest("hs", str(path))
    assert (code, summary["accepted"], summary["duplicates"]) == (2, 0, 2)
    assert summary["dead_letters"] == [{"where": f"{path}:1 [1]", "error": error}]
    assert [letter["id"] for letter in cli.letters()] == [row["id"]]
    retried = cli("dead-letters", "retry", str(row["id"]))
    assert retried.exit_code == 2
    assert 'it still cannot be read: field "[0].eventId": required' in retried.stderr


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ('field "propertyValue": required', 'field "[1].propertyValue": required'),
        ('field "(body)": must be an object', 'field "[1]": must be an object'),
        ('field "[0].x": bad', 'field "[1][0].x": bad'),
        (
            'fields "a", "b.c": not allowed; allowed: id',
            'fields "[1].a", "[1].b.c": not allowed; allowed: id',
        ),
        ("an event must be a JSON object", 'field "[1]": an event must be a JSON object'),
    ],
)
def test_an_element_error_names_the_fields_of_the_body(detail: str, expected: str) -> None:
    assert in_element(detail, 1) == expected
