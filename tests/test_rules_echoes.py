"""Which owner a tool reports is leadsync's own write coming back, on the pure rule
(rules/echoes.py): writes awaited in any number, echoes in any order, the tool's own changes,
and the tool that sends its current owner with every edit."""

from __future__ import annotations

import pytest

from leadsync.model import CRM_SOURCE, ExternalUserRef
from leadsync.rules.echoes import (
    AWAITED,
    ECHOED,
    PASSED,
    OwnerWritten,
    echo_reason,
    names_rep,
    read_report,
)

T = [f"2026-11-01T09:{m:02d}:00.000Z" for m in range(60)]


def written(*reps: str) -> list[OwnerWritten]:
    """Writes of ``reps`` made at T[1], T[2], … (a person's changes in the CRM)."""
    return [
        OwnerWritten(rep, f"owner-{rep}", T[n], CRM_SOURCE, row=n)
        for n, rep in enumerate(reps, start=1)
    ]


def rep(external_id: str) -> ExternalUserRef:
    return ExternalUserRef(external_id)


def states(writes: list[OwnerWritten]) -> list[str]:
    return [w.state for w in writes]


def test_the_late_echo_of_the_first_of_two_writes_is_its_echo() -> None:
    """The defect: owner -> a, then -> b; the tool's report of a comes after both."""
    writes = written("a", "b")
    echoed = read_report(writes, rep("a"), T[10], own_change=True, event_id="e1")
    assert echoed is writes[0]
    assert states(writes) == [ECHOED, AWAITED]
    assert (echoed.event_id, echoed.event_at) == ("e1", T[10])
    assert read_report(writes, rep("b"), T[11], own_change=True, event_id="e2") is writes[1]
    assert states(writes) == [ECHOED, ECHOED]


@pytest.mark.parametrize("a_at", [T[9], T[10]])
def test_echoes_in_reverse_order_are_echoes_up_to_the_later_ones_time(a_at: str) -> None:
    """b's echo first (at T[10]): a's echo, from then or before by the tool's clock, is
    still its echo (the tool's webhooks come in any order)."""
    writes = written("a", "b")
    assert read_report(writes, rep("b"), T[10], True, "e-b") is writes[1]
    assert (writes[0].state, writes[0].until) == (AWAITED, T[10])
    assert read_report(writes, rep("a"), a_at, True, "e-a") is writes[0]
    assert states(writes) == [ECHOED, ECHOED]


def test_the_same_rep_again_after_a_later_write_was_echoed_is_a_change() -> None:
    """a never came back (a failed write, or a sender that sent only the latest); the tool
    echoed b at T[10]; a at T[20] is a person choosing a again in the tool."""
    writes = written("a", "b")
    read_report(writes, rep("b"), T[10], True, "e-b")
    assert read_report(writes, rep("a"), T[20], True, "e-a") is None
    assert states(writes) == [PASSED, ECHOED]
    assert (writes[0].event_id, writes[0].event_at) == ("e-a", T[20])


def test_a_rep_echoed_already_is_a_change_when_reported_again() -> None:
    writes = written("a")
    read_report(writes, rep("a"), T[10], True, "e1")
    assert read_report(writes, rep("a"), T[20], True, "e2") is None
    assert states(writes) == [ECHOED]


def test_the_same_rep_as_before_says_nothing_of_the_writes() -> None:
    """A tool that sends its current owner with every edit (Salesloft, Salesforce), before
    leadsync's writes reach it: the writes stay awaited, for any later report."""
    writes = written("a", "b")
    assert read_report(writes, rep("x"), T[30], own_change=False, event_id="edit") is None
    assert states(writes) == [AWAITED, AWAITED]
    assert [w.until for w in writes] == [None, None]
    assert not any(w.changed for w in writes)
    assert read_report(writes, rep("a"), T[40], True, "e-a") is writes[0]


def test_the_tools_own_change_bounds_the_writes_made_before_it() -> None:
    """The tool's own change (rep c) at T[2]: the write of a (T[1]) is awaited only up to
    then; the write of b (T[3]), made after it, stays awaited."""
    writes = written("a", "b")
    writes[1].at = T[3]
    assert read_report(writes, rep("c"), T[2], True, "own") is None
    assert [w.until for w in writes] == [T[2], None]
    # a's echo from before the tool's change is still its echo …
    assert read_report(writes, rep("a"), T[2], True, "late") is writes[0]


def test_a_write_that_reaches_the_tool_after_its_own_change_is_taken_when_it_comes_back() -> None:
    writes = written("a")
    read_report(writes, rep("c"), T[5], True, "own")
    assert read_report(writes, rep("a"), T[6], True, "after") is None
    assert states(writes) == [PASSED]


def test_several_writes_of_one_rep_are_echoed_one_each() -> None:
    writes = written("a", "b", "a")
    for at, who in ((T[12], "a"), (T[11], "b"), (T[10], "a")):
        assert read_report(writes, rep(who), at, True, f"e{at}") is not None
    assert states(writes) == [ECHOED, ECHOED, ECHOED]
    assert read_report(writes, rep("a"), T[13], True, "again") is None


def test_only_the_writes_awaited_change() -> None:
    writes = written("a", "b")
    read_report(writes, rep("zz"), T[0], True, "older")  # a change from before the writes
    assert not any(w.changed for w in writes)


@pytest.mark.parametrize(
    ("reported", "written_as", "same"),
    [
        (ExternalUserRef("u-1"), "u-1", True),
        (ExternalUserRef("u-1", "ana@acme.test"), "u-1", True),
        (ExternalUserRef("u-2", "ana@acme.test"), "ana@acme.test", True),  # written by email
        (ExternalUserRef("u-2", "ana@acme.test"), "u-1", False),
        (ExternalUserRef(None, " Ana@ACME.test"), "ana@acme.test", True),
        (ExternalUserRef(None, "ana@acme.test"), "u-1", False),
    ],
)
def test_a_rep_is_the_user_written_by_its_id_else_its_email(
    reported: ExternalUserRef, written_as: str, same: bool
) -> None:
    assert names_rep(reported, written_as) is same


def test_the_reason_says_whose_change_came_back() -> None:
    person = written("7")[0]
    reason = echo_reason("engage", "rep 7", person, "104")
    assert reason == (
        "ignored: engage reports rep 7, which leadsync itself wrote to it as owner-7 (the CRM's "
        "change at 2026-11-01T09:01:00Z): its own change echoed back, not a change made in "
        "engage; the owner stays 104"
    )
    crm = OwnerWritten("7", "101", T[1], "crm", row=1)
    assert "(crm's change at 2026-11-01T09:01:00Z)" in echo_reason("engage", "rep 7", crm, None)
    assert echo_reason("engage", "rep 7", crm, None).endswith("it stays without an owner")
