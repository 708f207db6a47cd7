"""The pure decide step on its own: a loaded state, events and the time of writing in, the
rows to write with their reasons out — no database, no clock."""

from __future__ import annotations

import copy
import json
from dataclasses import fields

from leadsync.engine import Decided, decide
from leadsync.model import Event, Outcome
from leadsync.sources.canonical import parse_event
from tests.test_properties import NOW, empty_state, memory_rules

CONTACT = {
    "id": "e1",
    "type": "record",
    "object": "contact",
    "external_id": "p-1",
    "occurred_at": "2026-11-01T09:00:00Z",
    "properties": {"email": "kim@globex.test", "firstname": "Kim"},
    "owner": "u-1",
    "associations": [{"object": "company", "external_id": "a-1"}],
}
CALL = {
    "id": "e2",
    "type": "activity",
    "activity": "call",
    "external_id": "c-1",
    "occurred_at": "2026-11-01T09:05:00Z",
    "owner": "u-9",
    "properties": {"duration_s": 120, "outcome": "connected"},
    "associations": [{"object": "contact", "external_id": "p-1"}],
}
SHORT_CALL = {**CALL, "id": "e3", "external_id": "c-2", "properties": {"duration_s": 3}}


def events() -> list[Event]:
    return [parse_event(e, "dialer") for e in (CONTACT, CALL, SHORT_CALL)]


def test_a_batch_decided_in_memory_gives_its_rows_and_reasons() -> None:
    state = empty_state()
    decided = decide(state, memory_rules("fill_if_empty", False), events(), NOW)
    assert [(r["id"], r["type"], r["email"], r["name"]) for r in decided.new_records] == [
        (1, "contact", "kim@globex.test", "Kim"),
        (2, "company", None, None),
    ]
    assert [(i["external_id"], i["record_id"]) for i in decided.identities] == [
        ("p-1", 1),
        ("a-1", 2),
    ]
    assert [
        (link["left_id"], link["right_id"], link["is_primary"]) for link in decided.record_links
    ] == [(1, 2, True)]
    [activity] = decided.new_activities
    assert (activity["id"], activity["owner_id"], activity["duration_s"]) == (1, "102", 120)
    assert [(a["activity_id"], a["record_id"], a["source"]) for a in decided.activity_links] == [
        (1, 1, "event"),
        (1, 2, "auto"),  # the contact's primary company
    ]
    [decision] = decided.decisions  # the company was named, not decided on
    assert (decision.record_id, decision.outcome, decision.owner_id) == (1, Outcome.SET, "101")
    assert decision.reason.startswith("set 101")
    [skip] = decided.skips
    assert (skip.external_id, skip.record_id) == ("c-2", 1)
    assert "shorter than min_duration_s" in skip.reason
    # The time of writing is the one passed in; the ids continue from the state's.
    assert {m["updated_at"] for m in decided.memories} == {NOW}
    assert decided.counters == {"record_id": 2, "activity_id": 1}
    assert (state.next_record_id, state.next_activity_id) == (3, 2)
    assert decided.result.events == 3 and decided.result.activities_skipped == 1


def test_the_same_state_events_and_time_give_the_same_rows() -> None:
    rules = memory_rules("integration_wins", True)
    first, second = empty_state(), empty_state()
    a = decide(first, rules, events(), NOW)
    b = decide(copy.deepcopy(second), rules, events(), NOW)

    def rows(d: Decided) -> str:
        every = {f.name: getattr(d, f.name) for f in fields(d) if f.name != "rules"}
        return json.dumps(every, default=repr, sort_keys=True)

    assert rows(a) == rows(b)
    later = decide(empty_state(), rules, events(), "2026-12-01T00:00:00.000Z")
    assert rows(later) != rows(a)  # only the stamps differ: the time is an input


def test_traces_are_kept_only_when_asked() -> None:
    rules = memory_rules("fill_if_empty", False)
    assert decide(empty_state(), rules, events(), NOW).traces is None
    traces = decide(empty_state(), rules, events(), NOW, trace=True).traces
    assert traces is not None
    assert traces["e1"].record == ("contact", 1, True)
    assert traces["e2"].activity == ("call", 1, "created")
    assert traces["e3"].activity == ("call", None, "skipped")
