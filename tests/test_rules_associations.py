"""Association rules, without a database: named records, the primary record, its primary
company and open deals, over an in-memory graph."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from leadsync.model import RecordType
from leadsync.rules.associations import choose_associations, primary_index, why_associated
from leadsync.settings import AssociationSettings
from tests.helpers import settings, workspace_config

C, CO, D, L = RecordType.CONTACT, RecordType.COMPANY, RecordType.DEAL, RecordType.LEAD


class Graph:
    """Contact 1's primary company is 10; deals 20 (open, newest), 21 (open) on contact 1,
    22 (open, oldest) on company 10, 23 (closed) nowhere open."""

    primary = {1: 10}
    deals = {1: [("2026-11-03", 20), ("2026-11-02", 21)], 10: [("2026-11-01", 22)]}

    def primary_company(self, record_id: int) -> int | None:
        return self.primary.get(record_id)

    def open_deals_of(self, record_id: int) -> Iterable[tuple[str, int]]:
        return self.deals.get(record_id, [])


def association_settings(**overrides: Any) -> AssociationSettings:
    base = settings()["associations"]
    config = workspace_config({"dialer": settings(associations={**base, **overrides})})
    return config.integrations["dialer"].associations


@pytest.mark.parametrize(
    ("named", "overrides", "chosen"),
    [
        ([(1, C)], {"mode": "manual"}, [(1, "event")]),
        ([(1, C)], {}, [(1, "event"), (10, "auto"), (20, "auto")]),
        ([(1, C)], {"company": "none"}, [(1, "event"), (20, "auto")]),
        ([(1, C)], {"deal": "none"}, [(1, "event"), (10, "auto")]),
        (
            [(1, C)],
            {"deal": "all_open", "max_deals": 2},
            [(1, "event"), (10, "auto"), (20, "auto"), (21, "auto")],
        ),
        ([(1, C), (20, D)], {}, [(1, "event"), (20, "event"), (10, "auto")]),  # not twice
        ([(10, CO)], {}, [(10, "event"), (22, "auto")]),  # a company anchors the deals
        ([(5, C)], {}, [(5, "event")]),  # no company, no deals
        # A deal the event names is the one: no newer deal beside it.
        ([(1, C), (21, D)], {}, [(1, "event"), (21, "event"), (10, "auto")]),
        ([(1, C), (23, D)], {}, [(1, "event"), (23, "event"), (10, "auto")]),  # closed too
        # ... and it counts toward max_deals: at most two deals in all.
        (
            [(1, C), (22, D)],
            {"deal": "all_open", "max_deals": 2},
            [(1, "event"), (22, "event"), (10, "auto"), (20, "auto")],
        ),
        # The first named contact is the primary record, whatever the ids.
        ([(5, C), (1, C)], {}, [(5, "event"), (1, "event")]),
    ],
)
def test_choose_associations(
    named: list[tuple[int, RecordType]], overrides: dict[str, Any], chosen: list[tuple[int, str]]
) -> None:
    found = choose_associations(named, association_settings(**overrides), Graph())
    assert [(c.record_id, c.source) for c in found] == chosen


@pytest.mark.parametrize(
    ("types", "preferred", "index"),
    [
        ([CO, C, L], C, 1),
        ([CO, C, L], L, 2),
        ([CO, L], C, 1),  # no contact: the first contact or lead
        ([CO, D], C, None),
        ([], C, None),
    ],
)
def test_primary_index(types: list[RecordType], preferred: RecordType, index: int | None) -> None:
    assert primary_index(types, preferred) == index


class TiedGraph(Graph):
    """Deals 30 and 31 of contact 1 updated at the same moment, 32 before them."""

    deals = {1: [("2026-11-03", 30), ("2026-11-03", 31), ("2026-11-01", 32)]}


def test_tied_deals_are_a_question_unless_the_event_names_its_deal() -> None:
    ties: list[int] = []
    found = choose_associations([(1, C)], association_settings(), TiedGraph(), ties)
    assert [c.record_id for c in found] == [1, 10] and ties == [30, 31]
    ties = []
    named = [(1, C), (32, D)]  # the older deal, named: the call is about it
    found = choose_associations(named, association_settings(), TiedGraph(), ties)
    assert [c.record_id for c in found] == [1, 32, 10] and ties == []


def test_each_record_the_rules_add_says_whose_it_is_and_which_setting_took_it() -> None:
    found = choose_associations([(1, C)], association_settings(), Graph())
    assert [(c.record_id, c.reason) for c in found] == [
        (1, None),
        (10, "contact 1's primary company, by associations.company: primary"),
        (
            20,
            "the most recently updated open deal of contact 1, by associations.deal: "
            "most_recent_open",
        ),
    ]
    found = choose_associations(
        [(1, L)], association_settings(deal="all_open", max_deals=3), Graph()
    )
    assert [c.reason for c in found if c.record_type is D] == [
        f"an open deal of {whose}, by associations.deal: all_open, newest first up to max_deals: 3"
        for whose in ("lead 1", "lead 1", "lead 1's primary company 10")
    ]
    found = choose_associations([(10, CO)], association_settings(), Graph())
    assert found[-1].reason == (
        "the most recently updated open deal of company 10, by associations.deal: most_recent_open"
    )


class SharedDealGraph(Graph):
    """Deal 20 is contact 1's and its company's."""

    deals = {1: [("2026-11-03", 20)], 10: [("2026-11-03", 20)]}


def test_a_deal_of_the_record_and_of_its_company_says_both() -> None:
    [*_, deal] = choose_associations([(1, C)], association_settings(), SharedDealGraph())
    assert deal.reason == (
        "the most recently updated open deal of contact 1 and of contact 1's primary "
        "company 10, by associations.deal: most_recent_open"
    )


def test_why_associated_names_the_rule() -> None:
    assert why_associated("contact", "event") == "named by the event"
    assert "associations.company" in why_associated("company", "auto")
    assert "associations.deal" in why_associated("deal", "auto")
