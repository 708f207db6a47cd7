"""Every ownership strategy against every situation, on the pure rule (no database)."""

from __future__ import annotations

import pytest

from leadsync.model import CRM_SOURCE, MappingResult, Outcome, RecordType, Strategy
from leadsync.rules.ownership import (
    GivenRep,
    OwnerContext,
    assign_on_activity_strategy,
    decide_crm_change,
    decide_owner,
    echo_verdict,
)

AT = "2026-11-10T12:00:00.000Z"
EARLIER = "2026-11-09T12:00:00.000Z"
LATER = "2026-11-11T12:00:00.000Z"

MAPPED = MappingResult("102", True, "rep u-2 maps to 102 by email bo@acme.test")
FALLBACK = MappingResult(
    "103", False, "rep u-7 has no known email, so the fallback owner 103 is used"
)
LEAVE = MappingResult(
    None, False, "rep u-7 is not in the map, and the unmapped policy is leave", True
)
ROUND_ROBIN = MappingResult(None, False, "rep u-7 …, so team sdr takes it", round_robin_team="sdr")
INACTIVE = MappingResult(
    None,
    False,
    "rep u-3 matches owner 104 by email, who is inactive, and the policy is leave",
    True,
)

NEW = OwnerContext(RecordType.CONTACT, is_new=True, owner_id=None)
EMPTY = OwnerContext(RecordType.CONTACT, is_new=False, owner_id=None, owner_changed_at=EARLIER)
OWNED = OwnerContext(
    RecordType.CONTACT,
    is_new=False,
    owner_id="101",
    owner_changed_at=EARLIER,
    owner_source="dialer",
)
OWNED_LATER = OwnerContext(
    RecordType.CONTACT, is_new=False, owner_id="101", owner_changed_at=LATER, owner_source="dialer"
)
MANUAL_RECENT = OwnerContext(
    RecordType.CONTACT,
    is_new=False,
    owner_id="101",
    owner_changed_at="2026-11-05T12:00:00.000Z",
    owner_source=CRM_SOURCE,
    manual_owner_at="2026-11-05T12:00:00.000Z",
)
MANUAL_OLD = OwnerContext(
    RecordType.CONTACT,
    is_new=False,
    owner_id="101",
    owner_changed_at="2026-10-01T12:00:00.000Z",
    owner_source=CRM_SOURCE,
    manual_owner_at="2026-10-01T12:00:00.000Z",
)

IW, FIE, NO, BI = (
    Strategy.INTEGRATION_WINS,
    Strategy.FILL_IF_EMPTY,
    Strategy.NEVER_OVERWRITE,
    Strategy.BIDIRECTIONAL,
)
SET, KEPT, IGN = Outcome.SET, Outcome.KEPT, Outcome.IGNORED

# (situation, context, mapping, strategy, expected outcome, expected owner, reason fragment)
CASES = [
    # a new record takes the mapped owner under every strategy
    *[("new", NEW, MAPPED, s, SET, "102", "is new") for s in (IW, FIE, NO, BI)],
    # a record with no owner
    ("empty", EMPTY, MAPPED, IW, SET, "102", "had no owner"),
    ("empty", EMPTY, MAPPED, FIE, SET, "102", "had no owner"),
    ("empty", EMPTY, MAPPED, NO, KEPT, None, "created without one stays so"),
    ("empty", EMPTY, MAPPED, BI, SET, "102", "had no owner"),
    # an owned record
    ("owned", OWNED, MAPPED, IW, SET, "102", "integration_wins replaces 101"),
    (
        "owned",
        OWNED,
        MAPPED,
        FIE,
        KEPT,
        "101",
        "fill_if_empty and the contact already has an owner",
    ),
    ("owned", OWNED, MAPPED, NO, KEPT, "101", "contact already existed; rep u-2 maps to 102"),
    ("owned", OWNED, MAPPED, BI, SET, "102", "most recent change"),
    # an unmapped rep: leave
    *[
        ("leave", OWNED, LEAVE, s, IGN, "101", "unmapped policy is leave")
        for s in (IW, FIE, NO, BI)
    ],
    ("leave-new", NEW, LEAVE, FIE, IGN, None, "unmapped policy is leave"),
    # an unmapped rep: fallback
    ("fallback-owned", OWNED, FALLBACK, IW, SET, "103", "fallback owner 103"),
    ("fallback-owned", OWNED, FALLBACK, FIE, KEPT, "101", "already has an owner"),
    ("fallback-empty", EMPTY, FALLBACK, FIE, SET, "103", "fallback owner 103"),
    ("fallback-new", NEW, FALLBACK, NO, SET, "103", "is new"),
    # an unmapped rep: round robin (the candidate is whoever's turn it is)
    ("rr-new", NEW, ROUND_ROBIN, FIE, SET, "104", "team sdr"),
    ("rr-owned", OWNED, ROUND_ROBIN, FIE, KEPT, "101", "already has an owner"),
    ("rr-owned", OWNED, ROUND_ROBIN, IW, SET, "104", "team sdr"),
    # a rep mapped to an inactive owner counts as unmapped
    *[("inactive", OWNED, INACTIVE, s, IGN, "101", "inactive") for s in (IW, FIE, NO, BI)],
    # a stale event only matters under bidirectional
    ("stale", OWNED_LATER, MAPPED, BI, IGN, "101", "stale"),
    ("stale", OWNED_LATER, MAPPED, IW, SET, "102", "replaces 101"),
    # a person's recent choice is protected from every strategy
    *[("manual", MANUAL_RECENT, MAPPED, s, KEPT, "101", "protected for 14 days") for s in (IW, BI)],
    ("manual", MANUAL_RECENT, MAPPED, FIE, KEPT, "101", "protected for 14 days"),
    ("manual-expired", MANUAL_OLD, MAPPED, IW, SET, "102", "replaces 101"),
    ("manual-expired", MANUAL_OLD, MAPPED, BI, SET, "102", "most recent change"),
    # no owner in the event never clears one
    *[("no-owner", OWNED, None, s, IGN, "101", "never clears one") for s in (IW, FIE, NO, BI)],
    # the same owner again is kept
    ("same", OWNED, MappingResult("101", True, "rep u-1 maps to 101"), IW, KEPT, "101", "already"),
]


@pytest.mark.parametrize(
    ("situation", "ctx", "mapping", "strategy", "outcome", "owner", "fragment"),
    CASES,
    ids=[f"{c[0]}-{c[3].value}-{i}" for i, c in enumerate(CASES)],
)
def test_decide_owner(
    situation: str,
    ctx: OwnerContext,
    mapping: MappingResult | None,
    strategy: Strategy,
    outcome: Outcome,
    owner: str | None,
    fragment: str,
) -> None:
    verdict = decide_owner(ctx, AT, strategy, 14, mapping, round_robin_candidate="104")
    assert verdict.outcome is outcome, verdict.reason
    assert verdict.owner_id == owner
    assert fragment in verdict.reason
    assert verdict.reason.startswith(outcome.value)


def test_protection_counts_from_the_manual_change_to_the_event() -> None:
    # manual change on 11-05; 5 days of protection end on 11-10 12:00 exactly.
    just_before = "2026-11-10T11:59:59.999Z"
    assert decide_owner(MANUAL_RECENT, just_before, IW, 5, MAPPED).outcome is KEPT
    assert decide_owner(MANUAL_RECENT, AT, IW, 5, MAPPED).outcome is SET
    # an event older than the manual change is never allowed to undo it
    assert decide_owner(MANUAL_RECENT, "2026-11-01T00:00:00.000Z", IW, 5, MAPPED).outcome is KEPT


def test_protection_needs_a_person_to_have_set_the_owner() -> None:
    assert decide_owner(OWNED, AT, IW, 365, MAPPED).outcome is SET


def test_bidirectional_equal_times_are_not_stale() -> None:
    ctx = OwnerContext(RecordType.DEAL, False, "101", owner_changed_at=AT, owner_source="crm")
    assert decide_owner(ctx, AT, BI, 0, MAPPED).outcome is SET


@pytest.mark.parametrize("strategy", [IW, FIE, NO, BI])
@pytest.mark.parametrize(
    ("integration", "stale"),
    [("dialer", True), ("other", False), (None, False)],
    ids=["same-integration", "other-integration", "unnamed"],
)
def test_an_older_event_from_the_integration_that_made_the_last_change_is_stale(
    strategy: Strategy, integration: str | None, stale: bool
) -> None:
    """OWNED_LATER's owner was set by "dialer" after AT: a dialer event at AT arrived out of
    order, whatever the strategy. Another integration's older event is stale only under
    bidirectional (most recent change wins)."""
    verdict = decide_owner(OWNED_LATER, AT, strategy, 0, MAPPED, None, integration)
    if stale or strategy is BI:
        assert verdict.outcome is Outcome.IGNORED and "stale" in verdict.reason
        assert verdict.owner_id == "101"
    else:
        assert "stale" not in verdict.reason


# What "dialer" gave for the record before: rep u-2 at EARLIER, or u-2 after AT.
BEFORE, SINCE = GivenRep("u-2", EARLIER), GivenRep("u-2", LATER)
# (situation, context, rep the event gives, given before, expected outcome, reason fragment)
SAME_REP_CASES = [
    ("first owner it gives", OWNED, "u-2", None, SET, "the most recent change (was 101)"),
    ("another rep", OWNED, "u-9", BEFORE, SET, "the most recent change (was 101)"),
    ("the same rep", OWNED, "u-2", BEFORE, IGN, "dialer gave the same rep as before (rep u-2)"),
    ("the same rep, older", OWNED, "u-2", SINCE, IGN, "gave the same rep as before"),
    ("another rep, older", OWNED, "u-9", SINCE, IGN, "stale: dialer gave rep u-2 at"),
    ("no owner: filled", EMPTY, "u-2", BEFORE, SET, "had no owner"),
    ("a new record", NEW, "u-2", BEFORE, SET, "is new"),
]


@pytest.mark.parametrize(
    ("situation", "ctx", "rep", "given", "outcome", "fragment"),
    SAME_REP_CASES,
    ids=[c[0] for c in SAME_REP_CASES],
)
def test_bidirectional_takes_an_integrations_owner_only_when_it_changed(
    situation: str,
    ctx: OwnerContext,
    rep: str,
    given: GivenRep | None,
    outcome: Outcome,
    fragment: str,
) -> None:
    """Under bidirectional the rep an integration gives is a change only when it is not
    the one it gave last for the record; the other strategies do not read it."""
    verdict = decide_owner(ctx, AT, BI, 0, MAPPED, None, "dialer", rep=rep, given=given)
    assert verdict.outcome is outcome, verdict.reason
    assert fragment in verdict.reason, verdict.reason
    if outcome is IGN:
        assert verdict.owner_id == ctx.owner_id and verdict.proposed_owner_id == "102"
        assert verdict.reason.endswith(f"the owner stays 101; {MAPPED.how}")
    for other in (IW, FIE, NO):
        args = (ctx, AT, other, 0, MAPPED, None, "dialer")
        assert decide_owner(*args, rep=rep, given=given) == decide_owner(*args)


CRM_CASES = [
    # situation, ctx, event time, reported owner, known, outcome, owner, flagged, fragment
    ("set on an empty record", EMPTY, AT, "102", True, SET, "102", False, "changed in the CRM"),
    ("replaced", OWNED, AT, "102", True, SET, "102", False, "was 101"),
    ("cleared", OWNED, AT, None, True, SET, None, False, "set no owner"),
    ("same owner", OWNED, AT, "101", True, KEPT, "101", False, "same owner"),
    ("older than the last change", OWNED_LATER, AT, "102", True, IGN, "101", False, "stale"),
    ("unknown owner", OWNED, AT, "999", False, SET, "999", True, "not a known owner"),
    ("protected manual change", MANUAL_RECENT, AT, "102", True, SET, "102", False, "was 101"),
]


@pytest.mark.parametrize(
    ("situation", "ctx", "at", "reported", "known", "outcome", "owner", "flagged", "fragment"),
    CRM_CASES,
    ids=[c[0] for c in CRM_CASES],
)
def test_decide_crm_change(
    situation: str,
    ctx: OwnerContext,
    at: str,
    reported: str | None,
    known: bool,
    outcome: Outcome,
    owner: str | None,
    flagged: bool,
    fragment: str,
) -> None:
    """The CRM's own changes are its truth: taken unless a newer change is known."""
    verdict = decide_crm_change(ctx, at, reported, known, "hubspot")
    assert verdict.outcome is outcome, verdict.reason
    assert verdict.owner_id == owner
    assert verdict.flagged is flagged
    assert fragment in verdict.reason and verdict.reason.startswith(outcome.value)


def test_a_crm_change_to_an_owner_held_inactive_is_taken_and_flagged() -> None:
    """A person gave the record, in HubSpot, an owner archived there: taken as an unknown one
    is, and said and flagged as such (it read as any other change; found by a probe)."""
    verdict = decide_crm_change(OWNED, AT, "104", True, "hubspot", active_owner=False)
    assert (verdict.outcome, verdict.owner_id, verdict.flagged) == (SET, "104", True)
    assert verdict.reason.endswith("; 104 is inactive"), verdict.reason
    active = decide_crm_change(OWNED, AT, "104", True, "hubspot")
    assert not active.flagged and "inactive" not in active.reason


@pytest.mark.parametrize(
    ("strategy", "weakened"),
    [
        (Strategy.INTEGRATION_WINS, Strategy.FILL_IF_EMPTY),
        (Strategy.BIDIRECTIONAL, Strategy.FILL_IF_EMPTY),
        (Strategy.FILL_IF_EMPTY, Strategy.FILL_IF_EMPTY),
        (Strategy.NEVER_OVERWRITE, Strategy.NEVER_OVERWRITE),
    ],
)
def test_an_activity_never_replaces_an_owner(strategy: Strategy, weakened: Strategy) -> None:
    assert assign_on_activity_strategy(strategy) is weakened


def test_the_crms_echo_of_our_own_write_is_ignored_with_its_reason() -> None:
    verdict = echo_verdict("101", "102", "hubspot")
    assert (verdict.outcome, verdict.owner_id, verdict.proposed_owner_id) == (
        Outcome.IGNORED,
        "101",
        "102",
    )
    assert "its own change echoed back" in verdict.reason
    assert "reports no owner" in echo_verdict("101", None, "hubspot").reason


@pytest.mark.parametrize("strategy", [IW, BI])
def test_round_robin_never_takes_a_record_from_one_team_member_for_the_next(
    strategy: Strategy,
) -> None:
    """An unmapped rep's every update would otherwise deal the record to the next member
    (the owner flapping, a turn spent each time): a record an active member of the team
    owns is kept, no turn taken. An owner outside the team is replaced in turn."""
    team = ("101", "104")
    verdict = decide_owner(OWNED, AT, strategy, 0, ROUND_ROBIN, "104", "dialer", team)
    assert (verdict.outcome, verdict.owner_id, verdict.proposed_owner_id) == (KEPT, "101", "101")
    assert verdict.reason == (
        "kept 101: the contact is with 101 of team sdr already, and round robin never takes a "
        "record from one member for the next (no turn is taken); rep u-7 …, so team sdr takes it"
    )
    outside = decide_owner(OWNED, AT, strategy, 0, ROUND_ROBIN, "104", "dialer", ("102", "104"))
    assert (outside.outcome, outside.owner_id) == (SET, "104")
    assert decide_owner(NEW, AT, strategy, 0, ROUND_ROBIN, "104", "dialer", team).owner_id == "104"


def test_a_person_who_cleared_the_owner_is_said_to_have_cleared_it() -> None:
    cleared = OwnerContext(
        RecordType.CONTACT,
        is_new=False,
        owner_id=None,
        owner_changed_at=MANUAL_RECENT.owner_changed_at,
        owner_source=CRM_SOURCE,
        manual_owner_at=MANUAL_RECENT.manual_owner_at,
    )
    verdict = decide_owner(cleared, AT, FIE, 14, MAPPED)
    assert (verdict.outcome, verdict.owner_id) == (KEPT, None)
    assert verdict.reason.startswith(
        "kept no owner: a person cleared the owner in the CRM at 2026-11-05T12:00:00Z, "
        "protected for 14 days"
    )
    assert "a person set the owner" in decide_owner(MANUAL_RECENT, AT, IW, 14, MAPPED).reason


def test_the_reason_names_the_rule_an_activitys_rep_is_weighed_under() -> None:
    """assign_on_activity weighs the rep under a weakened strategy: the reason names
    assign_on_activity first, not only a strategy the settings may never have given."""
    verdict = decide_owner(EMPTY, AT, FIE, 0, MAPPED, rule="assign_on_activity")
    assert verdict.reason == (
        "set 102: assign_on_activity (weighed as fill_if_empty) and the contact had no owner; "
        "rep u-2 maps to 102 by email bo@acme.test"
    )
    assert decide_owner(NEW, AT, NO, 0, MAPPED, rule="assign_on_activity").reason.startswith(
        "set 102: assign_on_activity (weighed as never_overwrite) and the contact is new"
    )


def test_a_person_choosing_the_owner_the_record_has_makes_it_their_choice() -> None:
    verdict = decide_crm_change(OWNED, AT, "101", True, None, by_person=True)
    assert (verdict.outcome, verdict.owner_id) == (KEPT, "101")
    assert verdict.reason == (
        "kept 101: a person chose the owner it already had, which counts as their choice from now"
    )
    by_hubspot = decide_crm_change(OWNED, AT, "101", True, "hubspot", by_person=True)
    assert by_hubspot.reason == (
        "kept 101: hubspot reports the same owner chosen by a person, which counts as their "
        "choice from now"
    )
    assert decide_crm_change(OWNED, AT, "101", True, "hubspot").reason == (
        "kept 101: hubspot reports the same owner"
    )
