"""A later event of a call gives another number than the one it was held or asked for: the
call is looked for again by the number it has now — in the same batch or a later one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from leadsync.model import add_days, now_ts
from leadsync.store.schema import held_activities
from leadsync.workspace import Workspace
from tests.helpers import run
from tests.test_counterparts import _call, _contact, _id, _links, _setup

LATER = "2026-11-01T10:05:00Z"


def _held(ws: Workspace) -> list[tuple[int, str]]:
    with ws.engine.connect() as c:
        rows = c.execute(sa.select(held_activities.c.activity_id, held_activities.c.number))
        return sorted((int(a), n) for a, n in rows)


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_a_held_call_whose_later_event_gives_a_known_number_lands_on_its_contact(
    workspace: Workspace, batch_size: int
) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", phone="+44 20 7946 0000"), integration="crm")
    summary = run(
        workspace,
        _call("c1", "07700 900123"),  # nobody has it: held
        _call("c1", "020 7946 0000", at=LATER),  # the call's end names the right line
        batch_size=batch_size,
    )
    contact = _id(workspace, "crm", "k1")
    [(_, record_id, _, source, reason)] = _links(workspace)
    assert (record_id, source) == (contact, "number")
    assert reason == f"matched by number: contact {contact} has +442079460000 as phone"
    assert _held(workspace) == []
    assert summary.applied.matched_by_number == 1
    # The number it was first held for attaches nothing when a contact gets it.
    run(workspace, _contact("k2", phone="+447700900123"), integration="crm")
    assert [link[1] for link in _links(workspace)] == [contact]


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_a_held_call_given_another_unknown_number_waits_for_that_one(
    workspace: Workspace, batch_size: int
) -> None:
    _setup(workspace)
    run(
        workspace,
        _call("c1", "07700 900123"),
        _call("c1", "07700 900456", at=LATER),
        batch_size=batch_size,
    )
    assert _held(workspace) == [(1, "+447700900456")]
    with workspace.engine.connect() as c:
        [expires] = c.execute(sa.select(held_activities.c.expires_at)).scalars()
    assert expires == "2026-11-08T10:00:00.000Z"  # counted from the call, as before
    run(workspace, _contact("k1", phone="+447700900123"), integration="crm")
    assert _links(workspace) == []
    run(workspace, _contact("k2", phone="+447700900456"), integration="crm")
    [(_, record_id, _, source, _)] = _links(workspace)
    assert (record_id, source) == (_id(workspace, "crm", "k2"), "held")


def test_the_same_number_again_keeps_the_hold_as_it_was(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _call("c1", "07700 900123"))
    run(workspace, _call("c1", "+44 7700 900123", at=LATER))
    assert _held(workspace) == [(1, "+447700900123")]


def test_a_question_about_an_unreadable_number_closes_when_a_later_event_matches(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", phone="+44 20 7946 0000"), integration="crm")
    run(workspace, _call("c1", "12"))  # no one can have "12": a question, not a hold
    [item] = workspace.review_items().items
    assert item.kind == "unknown"
    run(workspace, _call("c1", "020 7946 0000", at=LATER))
    contact = _id(workspace, "crm", "k1")
    assert [link[1] for link in _links(workspace)] == [contact]
    assert workspace.review_items().items == []
    closed = workspace.review_item(item.id)
    assert closed.status == "attached" and closed.closed_by == "leadsync"
    assert closed.outcome == f"matched by number: contact {contact} has +442079460000 as phone"


def test_a_question_about_an_unreadable_number_closes_when_the_call_is_held_instead(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    # A day ago: listing the queue ends the holds due by the clock, and this one is not.
    at = add_days(now_ts(), -1)
    run(workspace, _call("c1", "12", at=at))
    [item] = workspace.review_items().items
    run(workspace, _call("c1", "07700 900123", at=add_days(at, 1 / 288)))
    assert workspace.review_items().items == []
    closed = workspace.review_item(item.id)
    assert closed.status == "resolved"
    assert closed.outcome == "a later event of the call gives +447700900123: held for it instead"
    assert _held(workspace) == [(1, "+447700900123")]
    run(workspace, _contact("k1", phone="+447700900123"), integration="crm")
    [(_, _, _, source, _)] = _links(workspace)
    assert source == "held"


T2, T3 = "2026-11-01T10:05:00Z", "2026-11-01T10:10:00Z"


def _open_questions(ws: Workspace) -> list[tuple[str, str]]:
    return sorted((i.kind, ws.review_item(i.id).subject) for i in ws.review_items().items)


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_a_question_asked_after_the_call_was_held_again_stays_open(
    workspace: Workspace, batch_size: int
) -> None:
    """Held for one number, held again for another, then a third that two contacts have:
    the question stands, however the events were cut into batches (a closing made for the
    second event closed the third's question when they shared a batch)."""
    _setup(workspace)
    run(
        workspace,
        _contact("k1", phone="+447700900999"),
        _contact("k2", phone="+447700900999"),
        integration="crm",
    )
    run(
        workspace,
        _call("c1", "07700 900123"),
        _call("c1", "07700 900456", at=T2),
        _call("c1", "07700 900999", at=T3),
        batch_size=batch_size,
    )
    assert _open_questions(workspace) == [("number", "+447700900999")]
    assert _held(workspace) == []


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_a_call_whose_number_became_a_question_still_looks_again_in_the_same_batch(
    workspace: Workspace, batch_size: int
) -> None:
    _setup(workspace)
    run(
        workspace,
        _contact("k1", phone="+447700900999"),
        _contact("k2", phone="+447700900999"),
        _contact("k3", phone="+447700900777"),
        integration="crm",
    )
    run(
        workspace,
        _call("c1", "07700 900123"),  # held
        _call("c1", "07700 900999", at=T2),  # two contacts: a question
        _call("c1", "07700 900777", at=T3),  # one contact: on it
        batch_size=batch_size,
    )
    assert [link[1] for link in _links(workspace)] == [_id(workspace, "crm", "k3")]
    assert _open_questions(workspace) == []


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_an_open_number_question_asks_about_the_number_the_call_has_now(
    workspace: Workspace, batch_size: int
) -> None:
    """It kept the first number's candidates: whoever answered put the call on the wrong
    person."""
    _setup(workspace)
    run(
        workspace,
        *(_contact(k, phone="+447700900111") for k in ("k1", "k2")),
        *(_contact(k, phone="+447700900999") for k in ("k3", "k4")),
        integration="crm",
    )
    run(
        workspace,
        _call("c1", "07700 900111"),
        _call("c1", "07700 900999", at=T2),
        batch_size=batch_size,
    )
    [item] = workspace.review_items().items
    full = workspace.review_item(item.id)
    assert full.subject == "+447700900999"
    candidates = {c.record_id for c in full.candidates}
    assert candidates == {_id(workspace, "crm", "k3"), _id(workspace, "crm", "k4")}
