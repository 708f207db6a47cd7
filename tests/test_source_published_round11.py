"""Published payloads of Pipedrive and Outreach (round 11): each as intake and a
worker read it, and what a RevOps admin expects of it.

Each sample is in ``tests/fixtures/published/<kind>/``; :data:`ROUND11_SOURCES` says where it
comes from and what was done to make it a body. One found a defect, fixed with it: a
Pipedrive deal's ``expected_close_date`` (and ``probability``) were dropped, so every deal
from Pipedrive reached HubSpot without a close date.
"""

from __future__ import annotations

import pytest

from leadsync.model import Event, EventType, RecordType
from tests import test_source_published as published
from tests.test_source_published_round6 import read

HOOKDECK_PD = "github.com/hookdeck/webhook-samples providers/pipedrive/{} @ {} (its body)"

ROUND11_SOURCES: dict[str, str] = {
    "pipedrive/v1.added.deal.hookdeck.json": HOOKDECK_PD.format("1/added.deal.json", "cfc382a2")
    + ": a real v1 delivery of one account (company 11149162): a deal with an expected close "
    "date, probability null",
    "pipedrive/v1.added.organization.hookdeck.json": HOOKDECK_PD.format(
        "1/added.organization.json", "2f6399a1"
    )
    + ": the same account's organization",
    "pipedrive/create.deal.migration_guide.json": HOOKDECK_PD.format(
        "2/create.deal.json", "f1ff0ee3"
    )
    + ": Pipedrive's 'Webhooks v2 migration guide' example (expected_close_date null)",
    "outreach/mailing.created.drafted.amp_labs_api.json": "github.com/amp-labs/connectors @ "
    "4b0fdd37 providers/outreach/test/mailings.json: an Outreach API list response; data[0] "
    "(state drafted) wrapped here in a webhook envelope of our own (eventName mailing.created, "
    "deliveredAt its updatedAt)",
}


@pytest.mark.parametrize("name", sorted(ROUND11_SOURCES))
def test_a_sample_gives_canonical_events_or_a_named_dead_letter(name: str) -> None:
    published.test_a_sample_gives_canonical_events_or_a_named_dead_letter(name, read)


def test_pipedrive_v1_deal_keeps_its_expected_close_date_as_the_close_date() -> None:
    """``expected_close_date`` "2023-05-30" is the deal's close date, that day at midnight UTC
    (what HubSpot's ``closedate`` takes); ``probability`` null gives none."""
    event = only_event("pipedrive/v1.added.deal.hookdeck.json")
    assert event.type is EventType.RECORD and event.object is RecordType.DEAL
    assert event.external_id == "1"
    assert event.owner is not None and event.owner.id == "14542087"
    assert event.properties == {
        "name": "NoCo Solutions deal",
        "amount": 2000000,
        "currency": "XAF",
        "closedate": "2023-05-30T00:00:00.000Z",
        "stage": "1",
        "pipedrive_status": "open",
        "is_closed": False,
    }
    assert [(a.type, a.external_id) for a in event.associations] == [
        (RecordType.CONTACT, "3"),
        (RecordType.COMPANY, "2"),
    ]
    assert event.occurred_at == "2023-04-07T04:10:00.460Z"  # timestamp_micro, UTC


def test_pipedrive_v2_deal_without_a_close_date_clears_none() -> None:
    """A create with ``expected_close_date: null`` says the deal has none yet: no property
    (null would clear one a change gave)."""
    event = only_event("pipedrive/create.deal.migration_guide.json")
    assert event.object is RecordType.DEAL
    assert "closedate" not in event.properties and "probability" not in event.properties
    assert event.properties["currency"] == "EUR"


def test_outreach_drafted_mailing_is_a_draft_not_an_email() -> None:
    event = only_event("outreach/mailing.created.drafted.amp_labs_api.json")
    assert event.draft is True


def only_event(name: str) -> Event:
    return published.only(name, read)
