"""Published Salesforce change events (round 12): each as intake and a worker read it, and
what a RevOps admin expects of it.

Three defects, fixed with them: the message shape the Change Data Capture guide shows since
API 48 (``{"schema", "payload", "event"}``, no ``data``) was a dead letter saying the header
it carries was missing; a person account's Account (a compound ``Name``) was a dead letter;
and an Event named by its activity fields (``ActivityDateTime``, ``DurationInMinutes``) was a
meeting with no start or end, dated when it was booked — and a recurring series' own record
was a meeting besides its occurrences.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from leadsync.model import ActivityType, Event, EventType, RecordType
from leadsync.pipeline.inbox import vendor_line_request
from leadsync.sources import adapter_for
from tests import test_source_published as published
from tests.test_source_published_round6 import only, read

CDC = (
    "Salesforce Change Data Capture Developer Guide (developer.salesforce.com/docs/atlas.en-us."
    "{}.0.change_data_capture.meta/change_data_capture/{}): {}"
)

ROUND12_SOURCES: dict[str, str] = {
    "salesforce/cdc_account_update.enriched.cometd_v48.json": CDC.format(
        "236",
        "cdc_enrich_example.htm",
        "'Example: Delivered Enriched Event Messages', as published",
    ),
    "salesforce/cdc_account_create.compound_address.cometd_v48.json": CDC.format(
        "242",
        "cdc_field_types.htm",
        "'Compound Field in a New Record' (Account Acme, BillingAddress), as published",
    ),
    "salesforce/cdc_account_create.person_account.json": CDC.format(
        "216",
        "cdc_person_account_create.htm",
        "'Creating and Undeleting a Person Account': the Account change event of a person "
        "account, its compound Name (transactionKey and commitNumber completed where the "
        "page elides them)",
    ),
    "salesforce/cdc_event_create.recurring_series.cometd_v48.json": CDC.format(
        "230",
        "cdc_standard_objects_task_event_recurring.htm",
        "'Recurring Activities': the event series record (GroupEventType 3) of a weekly "
        "meeting (the transactionKey, recordIds and the fields after them completed where "
        "the page cuts the example)",
    ),
}


@pytest.mark.parametrize("name", sorted(ROUND12_SOURCES))
def test_a_sample_gives_canonical_events_or_a_named_dead_letter(name: str) -> None:
    published.test_a_sample_gives_canonical_events_or_a_named_dead_letter(name, read)


def test_a_message_without_data_is_read_by_its_payload() -> None:
    """An UPDATE of Fax (not read) and LastModifiedDate: nothing leadsync keeps changed, so
    no event — and no dead letter claiming the header is missing."""
    pieces, groups = read("salesforce/cdc_account_update.enriched.cometd_v48.json")
    assert len(pieces) == 1 and groups == [[]]


def test_a_compound_field_example_without_data_is_the_company_it_creates() -> None:
    event = only("salesforce/cdc_account_create.compound_address.cometd_v48.json")
    assert event.type is EventType.RECORD and event.object is RecordType.COMPANY
    assert event.external_id == "001RM000003yF0QYAU"
    assert event.properties == {"name": "Acme", "domain": "salesforce.com"}
    assert event.owner is not None and event.owner.id == "005RM000001vI54YAE"
    assert event.occurred_at == "2020-05-04T23:03:48.000Z"  # commitTimestamp


def test_a_person_accounts_account_is_a_company_named_after_the_person() -> None:
    event = only("salesforce/cdc_account_create.person_account.json")
    assert event.type is EventType.RECORD and event.object is RecordType.COMPANY
    assert event.properties == {"name": "John Smith"}
    assert event.owner is not None and event.owner.id == "005RM000001vI4mYAE"


def _body(name: str) -> Any:
    return json.loads((published.PUBLISHED / name).read_text())


def _events(body: Any) -> list[Event]:
    """The events of ``body`` as a relayed change event, read as :func:`read` reads one."""
    adapter = adapter_for("salesforce", "salesforce", {})
    pieces = adapter.pieces(vendor_line_request(json.dumps(body), adapter))
    return [e for p in pieces for e in adapter.events_of(p.payload(), p.key, 1, "test", None)]


def test_an_update_of_one_part_of_a_person_accounts_name_names_no_company() -> None:
    body = _body("salesforce/cdc_account_create.person_account.json")
    payload = copy.deepcopy(body["data"]["payload"])
    payload["ChangeEventHeader"] |= {"changeType": "UPDATE", "changedFields": ["Name.LastName"]}
    payload["Name"] = {"LastName": "Smith-Jones"}
    del payload["OwnerId"], payload["Phone"], payload["PersonEmail"]
    assert _events(payload) == []


def test_a_recurring_series_record_is_no_meeting() -> None:
    pieces, groups = read("salesforce/cdc_event_create.recurring_series.cometd_v48.json")
    assert len(pieces) == 1 and groups == [[]]


def test_an_occurrence_is_a_meeting_at_its_activity_time_for_its_duration() -> None:
    """The series example as one of its occurrences (no GroupEventType 3): the meeting starts
    at ActivityDateTime, ends DurationInMinutes later, and is dated at its start — not at
    commitTimestamp, a week earlier, when it was booked."""
    payload = _body("salesforce/cdc_event_create.recurring_series.cometd_v48.json")["payload"]
    occurrence = copy.deepcopy(payload)
    occurrence["GroupEventType"] = "0"
    [event] = _events(occurrence)
    assert event.activity is ActivityType.MEETING
    assert event.properties == {
        "title": "Product Planning",
        "body": "Let's meet to discuss product requirements.",
        "start": "2019-08-12T19:00:00.000Z",
        "end": "2019-08-12T20:00:00.000Z",
    }
    assert event.occurred_at == "2019-08-12T19:00:00.000Z"


def test_an_all_day_occurrence_starts_at_its_day() -> None:
    payload = _body("salesforce/cdc_event_create.recurring_series.cometd_v48.json")["payload"]
    day = copy.deepcopy(payload)
    day |= {"GroupEventType": "0", "IsAllDayEvent": True, "DurationInMinutes": 1440}
    del day["ActivityDateTime"]
    [event] = _events(day)
    assert event.properties["start"] == "2019-08-12T00:00:00.000Z"
    assert event.properties["end"] == "2019-08-13T00:00:00.000Z"
