"""``assign_on_activity`` and inbound calls: the rep of an inbound call nobody answered is
only the agent it rang, and does not become the owner of the records it names; once an
event of the call says it was answered (``answered_at``, or an answered outcome), its rep
does — whatever order or batches its events came in. Outbound calls as before."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.helpers import ev, owner_of, record_by_external, run, setup

START = "2026-11-01T10:00:00Z"
#: No call is filtered: a missed call is kept, as an admin who logs them would.
KEEP_CALLS = {"call": {"enabled": True, "min_duration_s": None, "skip_outcomes": []}}


def configure(workspace: Workspace) -> None:
    setup(workspace, ownership={"assign_on_activity": True}, activities=KEEP_CALLS)


def call_event(
    properties: dict[str, Any], at: str = START, changed_at: str | None = None, **fields: Any
) -> dict[str, Any]:
    """An event of call c-1 by rep u-1 (owner 101) naming contact p-1 (unless ``fields``
    say otherwise)."""
    event: dict[str, Any] = {
        "activity": "call",
        "external_id": "c-1",
        "owner": "u-1",
        "properties": properties,
        "associations": [{"object": "contact", "external_id": "p-1"}],
        **fields,
    }
    if changed_at is not None:
        event["changed_at"] = changed_at
    return ev("activity", at, **event)


def ringing(**fields: Any) -> dict[str, Any]:
    return call_event({"direction": "inbound"}, **fields)


def answered(**fields: Any) -> dict[str, Any]:
    props = {"direction": "inbound", "answered_at": "2026-11-01T10:00:08Z"}
    return call_event(props, changed_at="2026-11-01T10:00:08Z", **fields)


def missed(**fields: Any) -> dict[str, Any]:
    props = {"direction": "inbound", "outcome": "no_answer", "duration_s": 20}
    return call_event(props, changed_at="2026-11-01T10:00:30Z", **fields)


def last_decision(workspace: Workspace, external: str = "p-1") -> dict[str, Any]:
    decision: dict[str, Any] = record_by_external(workspace, external)["owner_history"][-1]
    return decision


@pytest.mark.parametrize("batches", [[["ring", "miss"]], [["ring"], ["miss"]], [["miss", "ring"]]])
def test_an_inbound_call_nobody_answered_gives_no_owner(
    workspace: Workspace, batches: list[list[str]]
) -> None:
    """Even of the contact the call itself made: the decision says why."""
    configure(workspace)
    made = {"ring": ringing, "miss": missed}
    for batch in batches:
        run(workspace, *(made[name]() for name in batch))
    assert owner_of(workspace, "p-1") is None
    decision = last_decision(workspace)
    assert (decision["strategy"], decision["outcome"]) == ("assign_on_activity", "ignored")
    assert decision["reason"].startswith("ignored: not assigned: the inbound call was not answered")
    assert "rep u-1 (owner 101) is only the agent it rang" in decision["reason"]


@pytest.mark.parametrize(
    "batches",
    [
        [["ring", "answer"]],
        [["ring"], ["answer"]],
        [["answer", "ring"]],
        [["answer"], ["ring"]],
        [["ring"], ["miss"], ["answer"]],  # a missed reason came first (a voicemail box's)
    ],
)
def test_an_inbound_call_answered_at_any_event_gives_its_rep_the_owner(
    workspace: Workspace, batches: list[list[str]]
) -> None:
    """The owner is given by the event at which the call is first known answered, the
    same owner whatever the order: none before that event, its rep from it on."""
    configure(workspace)
    made = {"ring": ringing, "answer": answered, "miss": missed}
    answer_id = None
    for batch in batches:
        events = [made[name]() for name in batch]
        answer_id = answer_id or next((e["id"] for e in events if "answered_at" in str(e)), None)
        run(workspace, *events)
        assert owner_of(workspace, "p-1") == ("101" if answer_id is not None else None)
    history = record_by_external(workspace, "p-1")["owner_history"]
    sets = [d for d in history if d["outcome"] == "set"]
    assert [(d["strategy"], d["owner_id"], d["event_id"]) for d in sets] == [
        ("assign_on_activity", "101", answer_id)
    ]


def test_an_answered_outcome_is_an_answer(workspace: Workspace) -> None:
    configure(workspace)
    run(workspace, ringing())
    run(workspace, call_event({"direction": "inbound", "outcome": "connected"}, changed_at=START))
    assert owner_of(workspace, "p-1") == "101"


def test_an_outbound_call_nobody_answered_still_gives_its_rep_the_owner(
    workspace: Workspace,
) -> None:
    """The rep dialed: it acted, answered or not."""
    configure(workspace)
    run(workspace, call_event({"direction": "outbound", "outcome": "no_answer"}))
    assert owner_of(workspace, "p-1") == "101"
    assert last_decision(workspace)["outcome"] == "set"


def test_a_call_answered_later_gives_the_owner_to_whom_its_number_found(
    workspace: Workspace,
) -> None:
    """A call that names nobody is on the contact with its number from its first event on;
    answered at a later batch's event, that contact gets the rep as its owner."""
    configure(workspace)
    contact = ev(
        "record",
        "2026-11-01T09:00:00Z",
        object="contact",
        external_id="p-7",
        properties={"phone": "+14155550142"},
    )
    numbers = {"from_number": "+14155550142", "to_number": "+14155550100"}
    run(workspace, contact)
    run(workspace, call_event({"direction": "inbound", **numbers}, associations=[]))
    assert owner_of(workspace, "p-7") is None
    later = {"direction": "inbound", "answered_at": "2026-11-01T10:00:08Z", **numbers}
    run(workspace, call_event(later, changed_at="2026-11-01T10:00:08Z", associations=[]))
    assert owner_of(workspace, "p-7") == "101"
