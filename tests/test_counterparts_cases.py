"""Calls that name only a phone number, in the cases an audit tried beyond the first ones
(tests/test_counterparts.py): numbers no contact can ever have, a held call whose later
event names its contact, a call removed while a question about it waits, a hold that ended
after its settings changed, a number another tool changes within the batch, the rep's own
line on both ends."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.rules.counterparts import counterpart_numbers
from leadsync.store.schema import records, review_items
from leadsync.workspace import Workspace
from tests.helpers import ev, run, workspace_config
from tests.helpers import settings as integration_settings
from tests.test_counterparts import _call, _contact, _held_ids, _id, _links, _setup


def _questions(ws: Workspace) -> list[dict[str, Any]]:
    """Every question, read as stored (the queue's page would first queue the holds that
    ended by the clock of the machine)."""
    with ws.engine.connect() as c:
        rows = c.execute(sa.select(review_items).order_by(review_items.c.id)).all()
    return [dict(r._mapping) for r in rows]


# ------------------------------------------------ a number no contact or lead can have


@pytest.mark.parametrize("policy", ["hold", "create"])
def test_a_number_that_does_not_read_is_asked_at_once_never_held_nor_given_a_contact(
    workspace: Workspace, policy: str
) -> None:
    """``999`` names nobody a contact could be: holding the call would wait for nothing
    (no contact's number is ever indexed so), and ``create`` made one more contact with
    phone 999 for each such call. It is a question for a person at once."""
    _setup(workspace, unknown_counterpart={"policy": policy})
    first = run(workspace, _call("c1", "999"), _call("c2", "999", at="2026-11-01T11:00:00Z"))
    assert first.applied.held == 0 and first.applied.records_created == 0
    assert first.applied.queued == 2
    assert _held_ids(workspace) == [] and _links(workspace) == []
    with workspace.engine.connect() as c:
        assert c.execute(sa.select(records)).all() == []
    one, _ = _questions(workspace)
    done = "no contact is created for it" if policy == "create" else "it is not held"
    assert (one["kind"], one["status"], one["subject"]) == ("unknown", "open", "999")
    assert one["question"] == (
        "the call of 2026-11-01T10:00:00Z names only '999' (not readable as a phone number), "
        f"which no contact or lead can have, so {done} (unknown_counterpart: {policy}): "
        "which record should it be on?"
    )
    # The call's later event asks nothing more; a person answers it as any question.
    again = run(workspace, _call("c1", "999", at="2026-11-01T10:00:30Z"))
    assert again.applied.queued == 0 and len(_questions(workspace)) == 2
    run(workspace, _contact("k1", phone="+447700900123"))
    workspace.resolve_review(one["id"], choose=str(_id(workspace, "dialer", "k1")))
    assert [s for *_, s, _ in _links(workspace)] == ["person"]


def test_a_tool_without_region_is_told_what_a_national_number_needs(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config({"dialer": integration_settings()}))
    run(workspace, _call("c1", "020 7946 0000"))
    [question] = _questions(workspace)
    assert question["question"].endswith(
        "(unknown_counterpart: hold; a national number needs the integration's region:): "
        "which record should it be on?"
    )


def test_of_two_numbers_only_the_readable_one_is_held_or_given_a_contact(
    workspace: Workspace,
) -> None:
    """A call without a direction names both ends; one does not read: the call waits for
    the other one only, and ``create`` makes the contact with the other one."""
    _setup(workspace)
    call = _call("c1", "+447700900123")
    del call["properties"]["direction"]
    call["properties"]["from_number"] = "12"
    run(workspace, call)
    with workspace.engine.connect() as c:
        held = c.execute(sa.text("SELECT number FROM held_activities")).scalars().all()
    assert held == ["+447700900123"] and _questions(workspace) == []
    _setup(workspace, unknown_counterpart={"policy": "create"})
    call["external_id"], call["id"] = "c2", "c2-event"
    run(workspace, call)
    with workspace.engine.connect() as c:
        [props] = c.execute(sa.select(records.c.properties)).scalars().all()
    assert (json.loads(props) if isinstance(props, str) else props) == {"phone": "+447700900123"}


# ------------------------------------ a held call whose later event names its contact


def _named(ext: str, at: str, contact: str) -> dict[str, Any]:
    return ev("activity", at, activity="call", external_id=ext, owner="u-1",
              properties={"duration_s": 60, "outcome": "connected"},
              associations=[{"object": "contact", "external_id": contact}])  # fmt: skip


@pytest.mark.parametrize("batches", [1, 2])
def test_a_held_call_whose_later_event_names_its_contact_waits_no_more(
    workspace: Workspace, batches: int
) -> None:
    """Aircall's ``call.created`` names no contact, its ``call.ended`` does: the call is on
    that contact, so it is held no more — not listed as waiting, not asked about when the
    hold ends, and not put on another contact that gets the number later."""
    _setup(workspace)
    events = [_call("c1", "+447700900123"), _named("c1", "2026-11-01T10:01:00Z", "k1")]
    for part in (events,) if batches == 1 else ([e] for e in events):
        run(workspace, *part)
    assert _held_ids(workspace) == []
    assert workspace.expire_holds(now="2026-12-01T00:00:00Z") == 0
    run(workspace, _contact("k2", at="2026-11-02T10:00:00Z", phone="+447700900123"))
    k1 = _id(workspace, "dialer", "k1")
    assert [(r, s) for _, r, _, s, _ in _links(workspace)] == [(k1, "event")]
    assert _questions(workspace) == []


def test_a_number_question_is_closed_when_a_later_event_names_the_contact(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", phone="+447700900123"), _contact("k2", phone="+447700900123"))
    run(workspace, _call("c1", "+447700900123"))
    [question] = _questions(workspace)
    assert question["status"] == "open"
    run(workspace, _named("c1", "2026-11-01T10:01:00Z", "k2"))
    [question] = _questions(workspace)
    k2 = _id(workspace, "dialer", "k2")
    assert (question["status"], question["closed_by"]) == ("attached", "leadsync")
    assert question["outcome"] == f"a later event of the call names contact {k2}"


def test_aircalls_call_ended_naming_the_contact_releases_the_held_call(
    workspace: Workspace,
) -> None:
    from tests.test_counterparts import _fixture_body

    workspace.apply_config(workspace_config({"phone": {"kind": "aircall", "region": "US"}}))
    ended = _fixture_body("aircall", "call.ended.unknown_caller.json")
    created = json.loads(json.dumps(ended))
    created["event"], created["timestamp"] = "call.created", 1793635200
    ended["data"]["contact"] = {"id": 555, "emails": [{"label": "Work", "value": "zed@q.test"}]}
    for body in (created, ended):
        assert workspace.ingest("phone", [json.dumps(body)], source="aircall.jsonl").ok
    assert _held_ids(workspace) == []
    [(_, record_id, _, source, _)] = _links(workspace)
    assert (record_id, source) == (_id(workspace, "phone", "555"), "event")


# --------------------------------------------- a call removed while a question waits


def test_questions_about_a_call_that_is_removed_are_closed_with_why(
    workspace: Workspace,
) -> None:
    """A question about a call that its final event filters out (3 s, under
    min_duration_s) could never be answered ("activity … is gone"): it is closed, saying
    why; a held one is released."""
    _setup(workspace)
    run(workspace, _contact("k1", phone="+447700900123"), _contact("k2", phone="+447700900123"))
    starting = [_call("c1", "+447700900123"), _call("c2", "+447700900999")]
    for call in starting:
        del call["properties"]["duration_s"]
    run(workspace, *starting)
    assert [q["status"] for q in _questions(workspace)] == ["open"]
    assert len(_held_ids(workspace)) == 1
    ended = [_call("c1", "+447700900123"), _call("c2", "+447700900999")]
    for call in ended:
        call["properties"]["duration_s"] = 3
    run(workspace, *ended)
    [question] = _questions(workspace)
    assert (question["status"], question["closed_by"]) == ("skipped", "leadsync")
    assert question["outcome"] == (
        "call lasted 3 s, shorter than min_duration_s 10 s; the activity created earlier "
        "from it was removed"
    )
    assert _held_ids(workspace) == []
    assert workspace.expire_holds(now="2026-12-01T00:00:00Z") == 0


# ------------------------------------------------------- a hold that ended, as it was


@pytest.mark.parametrize("change", ["hold_days", "integration_gone"])
def test_the_question_of_an_ended_hold_says_the_hold_it_had(
    workspace: Workspace, change: str
) -> None:
    """Held for 7 days; the settings say 14 days since (or the integration is gone): the
    question says the 7 days the call was held for, not 14 (or 0)."""
    _setup(workspace)
    run(workspace, _call("c1", "+447700900123"))
    if change == "hold_days":
        _setup(workspace, unknown_counterpart={"hold_days": 14})
    else:
        workspace.apply_config(workspace_config({"crm": integration_settings(region="FR")}))
    assert workspace.expire_holds(now="2026-11-08T10:00:00Z") == 1
    [question] = _questions(workspace)
    assert "no contact or lead got that number within 7 days" in question["question"]


# ------------------------------------------- a number another tool changes in the batch


def test_a_number_another_tool_takes_away_in_the_same_batch_matches_no_more() -> None:
    """The dialer (GB) gives a contact 07700 900555, the CRM (FR) clears it, then a call
    to 07700 900555 — all in one batch, as a worker drains them: the old number was read in
    GB, not in the CRM's FR, and must leave the batch's index all the same. The call is
    held, as it is when each event is its own batch. (A number the CRM gave instead would
    be kept beside the dialer's: tests/test_phone_beside.py.)"""
    from leadsync.engine import decide
    from leadsync.sources.canonical import parse_event
    from tests.test_properties import NOW, empty_state, memory_rules

    config = workspace_config(
        {"dialer": integration_settings(region="GB"), "crm": integration_settings(region="FR")}
    )
    rules = replace(memory_rules("fill_if_empty", False), integrations=dict(config.integrations))
    contact = {"type": "record", "object": "contact", "external_id": "k"}
    events = [
        ("dialer", {**contact, "properties": {"email": "k@x.test", "phone": "07700 900555"}}),
        ("crm", {**contact, "properties": {"email": "k@x.test", "phone": None}}),
        ("dialer", _call("c", "07700 900555")),
    ]
    parsed = [
        parse_event({"id": f"e{i}", "occurred_at": "2026-11-01T10:00:00Z", **e}, integration)
        for i, (integration, e) in enumerate(events)
    ]
    decided = decide(empty_state(), rules, parsed, NOW)
    assert decided.activity_links == []
    assert [h["number"] for h in decided.holds] == ["+447700900555"]


# ------------------------------------------------------------ the rep's own line


@pytest.mark.parametrize(
    ("properties", "numbers"),
    [
        ({"direction": "inbound", "from_number": "+44 20 3000 0000",
          "to_number": "020 3000 0000"}, []),
        ({"direction": "outbound", "from_number": "020 3000 0000",
          "to_number": "+442030000000"}, []),
        ({"from_number": "020 3000 0000", "to_number": "+442030000000"}, []),
        ({"direction": "inbound", "from_number": "07700 900123",
          "to_number": "020 3000 0000"}, ["+447700900123"]),
        ({"from_number": "020 3000 0000", "to_number": "07700 900123"},
         ["+447700900123", "+442030000000"]),
        ({"to_number": "07700 900123"}, ["+447700900123"]),
    ],
)  # fmt: skip
def test_the_reps_own_line_on_both_ends_names_no_other_party(
    properties: dict[str, Any], numbers: list[str]
) -> None:
    assert [p.key for p in counterpart_numbers(properties, "GB")] == numbers


def test_a_call_from_the_companys_line_to_itself_is_on_no_contact(workspace: Workspace) -> None:
    """The switchboard's number is on a contact (the company's own entry): an inbound call
    whose caller is that very line is not that contact's, nor held for it."""
    _setup(workspace)
    run(workspace, _contact("hq", phone="0113 000 0000"))  # the line of every _call
    summary = run(workspace, _call("c1", "+441130000000", direction="inbound"))
    assert summary.applied.matched_by_number == 0 and summary.applied.held == 0
    assert _links(workspace) == [] and _held_ids(workspace) == []


def contact_with_tied_deals(workspace: Workspace) -> None:
    """Contact k1 of the dialer (numbers in GB) with open deals d-1 and d-2, both updated at
    one time: a call on k1 asks which deal it is about."""
    from tests.test_engine import _deal

    _setup(workspace)
    at = "2026-11-01T08:00:00Z"
    run(
        workspace,
        _contact("k1", at=at),
        _deal("d-1", at, contact="k1"),
        _deal("d-2", at, contact="k1"),
    )


def test_a_held_call_attached_to_a_contact_with_tied_deals_asks_which(
    workspace: Workspace,
) -> None:
    """A held call that finds its contact later gets what the association rules add as a
    call made now would: where two open deals are equally recent, the question which (it
    got no deal and no question)."""
    contact_with_tied_deals(workspace)
    run(workspace, _call("c1", "07700 900123"))
    assert _held_ids(workspace) != []
    run(workspace, _contact("k1", at="2026-11-01T12:00:00Z", phone="+447700900123"))
    assert _held_ids(workspace) == []
    k1 = _id(workspace, "dialer", "k1")
    assert {(r, s) for _, r, _, s, _ in _links(workspace)} == {(k1, "held")}
    [question] = [q for q in _questions(workspace) if q["kind"] == "deal"]
    deals = sorted(_id(workspace, "dialer", d) for d in ("d-1", "d-2"))
    assert question["status"] == "open"
    assert sorted(c["record_id"] for c in question["candidates"]) == deals
    assert question["question"] == (
        "2 open deals were updated at the same time: which one is this call about?"
    )
