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


def test_why_associated_names_the_rule() -> None:
    assert why_associated("contact", "event") == "named by the event"
    assert "associations.company" in why_associated("company", "auto")
    assert "associations.deal" in why_associated("deal", "auto")
