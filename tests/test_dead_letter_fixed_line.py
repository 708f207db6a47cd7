"""A line fixed and ingested again closes its dead letter. The letter of a canonical event
whose fields fail their check named no event (`event id: -`, though the line says `"id":
"x5"`), and after the line was fixed and ingested — the event accepted and applied — the
letter stayed open and the report kept alerting on it (found by a probe)."""

from __future__ import annotations

import json

from leadsync.workspace import Workspace
from tests.helpers import ev, record_by_external, workspace_config


def _line(object_type: str, event_id: str = "x5") -> str:
    event = ev("record", "2026-11-01T09:00:00Z", object=object_type, external_id="p-5",
               properties={"email": "x5@globex.test"})  # fmt: skip
    return json.dumps({**event, "id": event_id})


def test_the_fixed_line_closes_its_letter_and_the_report_stops_counting_it(
    workspace: Workspace,
) -> None:
    workspace.apply_config(workspace_config())
    first = workspace.ingest("dialer", [_line("contakt"), "not json"], source="mine.jsonl")
    assert (first.accepted, len(first.dead_letters)) == (0, 2)
    letters = {letter["line_no"]: letter for letter in workspace.dead_letters()}
    assert letters[1]["event_id"] == "x5"  # the letter says which event it is
    assert letters[2]["event_id"] is None  # a line that is no JSON names none
    fixed = workspace.ingest("dialer", [_line("contact"), "not json"], source="mine.jsonl")
    assert (fixed.accepted, fixed.letters_closed) == (1, 1)
    assert record_by_external(workspace, "p-5")["properties"]["email"] == "x5@globex.test"
    [still] = workspace.dead_letters()
    assert still["line_no"] == 2
    [closed] = [
        letter
        for letter in workspace.dead_letters(include_resolved=True)
        if letter["id"] != still["id"]
    ]
    assert (closed["state"], closed["resolved_by"]) == ("retried", "leadsync ingest")
    assert closed["resolution"] == "ingested again from mine.jsonl and accepted"
    assert workspace.dead_letter_count() == 1
    # Ingested once more: a duplicate, and nothing more is closed.
    again = workspace.ingest("dialer", [_line("contact")], source="mine.jsonl")
    assert (again.duplicates, again.letters_closed) == (1, 0)


def test_another_event_of_another_id_closes_nothing(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config())
    workspace.ingest("dialer", [_line("contakt", "x5")])
    done = workspace.ingest("dialer", [_line("contact", "x6")])
    assert (done.accepted, done.letters_closed) == (1, 0)
    assert workspace.dead_letter_count() == 1
