"""Association rules: which records an activity attaches to.

Manual mode: only the records the event names. Automatic mode, as HubSpot's own automatic
associations do: the named records, plus the primary record's primary company
(``company: primary``; the one it has when the rules run, which follows the contact's
latest event that names companies: :mod:`leadsync.engine.links`), plus open deals
associated with that record or that company — the most recently updated one
(``most_recent_open``) or all of them, newest first, up to ``max_deals`` (``all_open``). The
deals the event names count toward that number: an activity that names its deal gets no
other with ``most_recent_open``.

The primary record is the first named record of the configured ``primary`` type (contact or
lead), else the first named contact or lead. When the event names no contact or lead, the
first named company anchors the deals.

Each record the rules add carries its reason: which rule, and for which record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from leadsync.model import (
    AUTO_SOURCE,
    AssociationMode,
    CompanyAssociation,
    DealAssociation,
    RecordType,
)
from leadsync.settings import AssociationSettings


class AssociationGraph(Protocol):
    """What the rules may ask about records already associated with each other."""

    def primary_company(self, record_id: int) -> int | None: ...

    def open_deals_of(self, record_id: int) -> Iterable[tuple[str, int]]:
        """(updated_at, deal id) of the open deals associated with the record."""
        ...


@dataclass(slots=True)
class ChosenAssociation:
    record_id: int
    record_type: RecordType
    # "event" (named by the event) or "auto" (chosen by these rules, with the reason); the
    # engine adds "number", "held" and "person" (see leadsync.rules.counterparts).
    source: str
    reason: str | None = None


def choose_associations(
    named: Sequence[tuple[int, RecordType]],
    settings: AssociationSettings,
    graph: AssociationGraph,
    ties: list[int] | None = None,
) -> list[ChosenAssociation]:
    """The records an activity attaches to. With ``most_recent_open`` (or ``all_open`` with
    ``max_deals: 1``), when the newest open deals were updated at the same moment none of
    them is taken (that would be a guess): their ids go to ``ties`` (when given) for a person
    to choose — unless the event names a deal, which is then the one."""
    chosen = [ChosenAssociation(rid, rtype, "event") for rid, rtype in named]
    if settings.mode is AssociationMode.MANUAL:
        return chosen
    seen = {rid for rid, _ in named}
    primary = _primary_record(named, settings.primary)
    # The records whose open deals are read, as the reasons name them.
    anchors: list[tuple[int, str]] = []
    if primary is not None:
        person = f"{primary[1].value} {primary[0]}"
        anchors.append((primary[0], person))
        if settings.company is CompanyAssociation.PRIMARY:
            company = graph.primary_company(primary[0])
            if company is not None:
                anchors.append((company, f"{person}'s primary company {company}"))
                if company not in seen:
                    seen.add(company)
                    reason = f"{person}'s primary company, by associations.company: primary"
                    chosen.append(
                        ChosenAssociation(company, RecordType.COMPANY, AUTO_SOURCE, reason)
                    )
    else:
        companies = [rid for rid, rtype in named if rtype is RecordType.COMPANY]
        anchors = [(companies[0], f"company {companies[0]}")] if companies else []
    if settings.deal is DealAssociation.NONE or not anchors:
        return chosen
    limit = 1 if settings.deal is DealAssociation.MOST_RECENT_OPEN else settings.max_deals
    room = limit - sum(1 for _, rtype in named if rtype is RecordType.DEAL)
    if room <= 0:
        return chosen  # the event named its deal (or as many as the rule takes)
    # deal id -> (updated_at, whose open deal it is)
    found: dict[int, tuple[str, list[str]]] = {}
    for anchor, described in anchors:
        for at, deal in graph.open_deals_of(anchor):
            if deal not in seen:
                found.setdefault(deal, (at, []))[1].append(described)
    newest_first = sorted(found.items(), key=lambda item: (item[1][0], item[0]), reverse=True)
    if limit == 1 and len(newest_first) > 1 and newest_first[1][1][0] == newest_first[0][1][0]:
        newest = newest_first[0][1][0]
        if ties is not None:
            ties.extend(sorted(deal for deal, (at, _) in newest_first if at == newest))
        return chosen
    for deal, (_, on) in newest_first[:room]:
        where = " and of ".join(on)
        if settings.deal is DealAssociation.MOST_RECENT_OPEN:
            reason = f"the most recently updated open deal of {where}, by associations.deal: "
            reason += "most_recent_open"
        else:
            reason = f"an open deal of {where}, by associations.deal: all_open, newest first "
            reason += f"up to max_deals: {limit}"
        chosen.append(ChosenAssociation(deal, RecordType.DEAL, AUTO_SOURCE, reason))
    return chosen


def _primary_record(
    named: Sequence[tuple[int, RecordType]], preferred: RecordType
) -> tuple[int, RecordType] | None:
    index = primary_index([rtype for _, rtype in named], preferred)
    return named[index] if index is not None else None


def primary_index(types: Sequence[RecordType], preferred: RecordType) -> int | None:
    """Which of the named records is the primary one: the first of the ``preferred`` type,
    else the first contact or lead; None when there is neither."""
    for i, rtype in enumerate(types):
        if rtype is preferred:
            return i
    for i, rtype in enumerate(types):
        if rtype in (RecordType.CONTACT, RecordType.LEAD):
            return i
    return None


def why_associated(record_type: str, source: str) -> str:
    """Why an activity is on a record, in words, for a link stored without its reason: the
    event named it, or which association rule chose it (the only records the rules add are a
    primary company and open deals)."""
    if source == "event":
        return "named by the event"
    if source == "number":
        return "has the activity's counterpart number"
    if source == "held":
        return "got the held activity's number later"
    if source == "person":
        return "chosen by a person in the review queue"
    if record_type == RecordType.COMPANY.value:
        return "the named record's primary company (associations.company)"
    return "an open deal of the named record or its company (associations.deal)"
