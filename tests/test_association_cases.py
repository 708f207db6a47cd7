"""Association rules through the engine, in the cases a RevOps admin checks: which records an
activity lands on when later events update it, when it names several people or its own
deal, and why each link is there."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from leadsync.store.schema import activity_skips
from leadsync.workspace import Workspace
from tests.helpers import ev, record_by_external, run, setup
from tests.test_engine import _deal, call, contact

AT = "2026-11-01T10:00:00Z"


def _links(ws: Workspace, person: str, external_id: str) -> dict[str, tuple[str, str | None]]:
    """The activity's records on ``person``'s timeline, by external id: (source, reason)."""
    names = {}
    for ext in ("p-1", "p-2", "a-1", "a-2", "d-1", "d-2", "d-3", "d-4"):
        found = ws.find(external=f"dialer:{ext}")
        if found:
            names[found[0]["id"]] = ext
    [item] = [
        i for i in record_by_external(ws, person)["timeline"] if i["external_id"] == external_id
    ]
    return {
        names.get(a["id"], str(a["id"])): (a["source"], a.get("reason"))
        for a in item["associations"]
    }


def _people(ws: Workspace) -> None:
    """p-1 at company a-1 with deal d-1; p-2 at a-2 with deal d-2."""
    run(
        ws,
        contact("p-1", at="2026-11-01T08:00:00Z"),
        ev("record", "2026-11-01T08:00:00Z", object="contact", external_id="p-1",
           associations=[{"object": "company", "external_id": "a-1"}]),
        contact("p-2", at="2026-11-01T08:00:00Z"),
        ev("record", "2026-11-01T08:00:00Z", object="contact", external_id="p-2",
           associations=[{"object": "company", "external_id": "a-2"}]),
        _deal("d-1", "2026-11-01T08:10:00Z", contact="p-1"),
        _deal("d-2", "2026-11-01T08:20:00Z", contact="p-2"),
    )  # fmt: skip


def _update(external_id: str, at: str, **fields: Any) -> dict[str, Any]:
    """A later event of call ``external_id`` (the call's end: its duration)."""
    return ev(
        "activity",
        AT,
        activity="call",
        external_id=external_id,
        changed_at=at,
        properties={"duration_s": 75},
        **fields,
    )


def test_an_update_naming_nothing_new_adds_no_deal_opened_or_left_since(
    workspace: Workspace,
) -> None:
    setup(workspace)
    _people(workspace)
    run(workspace, call("c-1", "p-1", at=AT))
    assert set(_links(workspace, "p-1", "c-1")) == {"p-1", "a-1", "d-1"}
    # A newer deal opens, then the call's end arrives: the call stays on d-1 alone.
    run(workspace, _deal("d-3", "2026-11-01T10:30:00Z", contact="p-1"))
    run(workspace, _update("c-1", "2026-11-01T10:31:00Z"))
    assert set(_links(workspace, "p-1", "c-1")) == {"p-1", "a-1", "d-1"}
    # d-1 closes, and another update: still on d-1 only (what it was about), not on d-3 too.
    run(workspace, _deal("d-1", "2026-11-01T10:40:00Z", is_closed=True))
    run(workspace, _update("c-1", "2026-11-01T10:41:00Z"))
    assert set(_links(workspace, "p-1", "c-1")) == {"p-1", "a-1", "d-1"}


def test_an_update_naming_another_contact_adds_it_and_nothing_else(workspace: Workspace) -> None:
    setup(workspace)
    _people(workspace)
    run(workspace, call("c-1", "p-1", at=AT))
    run(
        workspace,
        _update("c-1", "2026-11-01T10:05:00Z",
                associations=[{"object": "contact", "external_id": "p-2"}]),
    )  # fmt: skip
    links = _links(workspace, "p-1", "c-1")
    assert set(links) == {"p-1", "a-1", "d-1", "p-2"}  # it does not move, nor pull in a-2/d-2
    assert links["p-2"] == ("event", None)


def test_an_activity_that_gets_its_contact_later_gets_the_company_and_deal_then(
    workspace: Workspace,
) -> None:
    setup(workspace)
    _people(workspace)
    note = {"activity": "note", "external_id": "n-1", "owner": "u-1"}
    run(workspace, ev("activity", AT, **note, properties={"body": "left a voicemail"}))
    run(
        workspace,
        ev("activity", AT, **note, changed_at="2026-11-01T10:05:00Z",
           associations=[{"object": "contact", "external_id": "p-2"}]),
    )  # fmt: skip
    assert set(_links(workspace, "p-2", "n-1")) == {"p-2", "a-2", "d-2"}


def test_the_first_recipient_of_an_email_is_its_primary_record(workspace: Workspace) -> None:
    setup(workspace, activities={"email": True})
    _people(workspace)
    to_both = [
        {"object": "contact", "external_id": "p-2"},  # the recipient; p-1 is in copy
        {"object": "contact", "external_id": "p-1"},
    ]
    run(
        workspace,
        ev("activity", AT, activity="email", external_id="m-1", owner="u-1",
           properties={"subject": "Proposal"}, associations=to_both),
        ev("activity", AT, activity="email", owner="u-1", properties={"subject": "Proposal"},
           associations=to_both),  # no external id: the same records
    )  # fmt: skip
    p2 = record_by_external(workspace, "p-2")["id"]
    for item in record_by_external(workspace, "p-2")["timeline"]:
        records = {(a["type"], a["id"]) for a in item["associations"]}
        assert records == {
            ("contact", p2),
            ("contact", record_by_external(workspace, "p-1")["id"]),
            ("company", record_by_external(workspace, "a-2")["id"]),
            ("deal", record_by_external(workspace, "d-2")["id"]),
        }, item["external_id"]


def test_a_call_that_names_its_deal_is_on_that_deal_alone(workspace: Workspace) -> None:
    setup(workspace)
    _people(workspace)
    run(
        workspace,
        _deal("d-3", "2026-11-01T09:00:00Z", contact="p-1"),  # newer than d-1
        ev("activity", AT, activity="call", external_id="c-1", owner="u-1",
           properties={"duration_s": 60},
           associations=[{"object": "contact", "external_id": "p-1"},
                         {"object": "deal", "external_id": "d-1"}]),
    )  # fmt: skip
    p1 = record_by_external(workspace, "p-1")["id"]
    assert _links(workspace, "p-1", "c-1") == {
        "p-1": ("event", None),
        "d-1": ("event", None),
        "a-1": ("auto", f"contact {p1}'s primary company, by associations.company: primary"),
    }


def test_a_call_that_names_its_deal_asks_no_question_about_tied_deals(
    workspace: Workspace,
) -> None:
    setup(workspace)
    _people(workspace)
    tied = "2026-11-01T09:00:00Z"
    run(
        workspace,
        _deal("d-3", tied, contact="p-1"),
        _deal("d-4", tied, contact="p-1"),
        call("c-1", "p-1", at=AT),  # which deal? a question
        ev("activity", AT, activity="call", external_id="c-2", owner="u-1",
           properties={"duration_s": 60},
           associations=[{"object": "contact", "external_id": "p-1"},
                         {"object": "deal", "external_id": "d-1"}]),
    )  # fmt: skip
    [question] = workspace.review_items().items  # c-1's alone
    assert question.kind == "deal" and "call" in question.question
    assert set(_links(workspace, "p-1", "c-2")) == {"p-1", "a-1", "d-1"}


def test_a_skipped_call_naming_two_contacts_is_recorded_for_the_first(
    workspace: Workspace,
) -> None:
    setup(workspace)
    _people(workspace)
    run(
        workspace,
        ev("activity", AT, activity="call", external_id="c-1", owner="u-1",
           properties={"duration_s": 3},
           associations=[{"object": "contact", "external_id": "p-2"},
                         {"object": "contact", "external_id": "p-1"}]),
    )  # fmt: skip
    with workspace.engine.connect() as connection:
        [skip] = connection.execute(sa.select(activity_skips)).all()
    assert (skip.record_named, skip.record_id) == (
        "p-2",
        record_by_external(workspace, "p-2")["id"],
    )
