"""The Salesloft adapter: leadsync.sources.salesloft, driven through its public hooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, SignatureError
from leadsync.model import Event
from leadsync.sources.base import Piece, WebhookRequest, envelope_text
from leadsync.sources.salesloft import (
    ADAPTER,
    CDR_STATUS_OUTCOMES,
    DISPOSITION_OUTCOMES,
    KNOWN_EVENTS,
    SalesloftAdapter,
)
from tests import adapters as harness
from tests.adapters import with_value

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "salesloft"
SECRET = "salesloft-callback-token"
NOW = 1_794_000_000.0
INTEGRATION = "salesloft-main"
SEQ = 3
WHERE = "inbox:40"
EVENT = "x-salesloft-event"
URL = "https://leadsync.test/hooks/salesloft"


def fixture(name: str) -> tuple[str, dict[str, Any]]:
    """The event name (from the fixture's header) and the body."""
    envelope = harness.envelope("salesloft", name)
    return envelope["headers"][EVENT], envelope["body"]


def signed(event: str | None, body: bytes, secret: str = SECRET) -> dict[str, str]:
    headers = {
        "content-type": "application/json; charset=utf-8",
        "x-salesloft-signature": harness.hmac_hex(secret, body, hashlib.sha1),
    }
    if event is not None:
        headers[EVENT] = event
    return headers


def request(event: str | None, body: Any, headers: dict[str, str] | None = None) -> WebhookRequest:
    raw = harness.encode(body)
    return harness.json_request(URL, raw, headers or signed(event, raw), content_type=False)


def adapter() -> SalesloftAdapter:
    return ADAPTER(INTEGRATION)


def piece_of(event: str | None, body: Any) -> Piece:
    req = request(event, body)
    adapter().verify(req, SECRET, NOW)
    return harness.receive(adapter(), req)


def events(event: str, body: Any) -> tuple[Piece, list[Event]]:
    piece = piece_of(event, body)
    assert piece.headers == {EVENT: event}
    found = harness.convert(adapter(), piece, SEQ, WHERE)
    assert all(e.integration == INTEGRATION and e.seq == SEQ for e in found)
    return piece, found


def converted(event: str, body: Any) -> list[dict[str, Any]]:
    """The canonical dicts of one delivery, with the piece key written as KEY in event ids
    (``changed_at`` is the inbox time, tested below, not the adapter's reading)."""
    return harness.as_dicts(*events(event, body), key="KEY")


# ------------------------------------------------------------------ every event name

EXPECTED: dict[str, list[dict[str, Any]]] = {
    "person_created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-01T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1701",
            "owner": "7",
            "properties": {
                "firstname": "Kim",
                "lastname": "Lee",
                "title": "VP Sales",
                "phone": "+15550100",
                "company": "Globex",
                "city": "Lyon",
                "country": "France",
                "crm_id": "003000000000001",
                "email": "kim.lee@globex.test",
            },
            "associations": [{"object": "company", "external_id": "501"}],
        }
    ],
    # Nulls (owner and account too) are absent: they neither clear values nor the owner.
    "person_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T10:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1701",
            "properties": {"lastname": "Lee-Park"},
        }
    ],
    # Work and mobile numbers as given (trimmed; the extension is not appended); the home
    # number beside the work one.
    "person_created-phones": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1702",
            "owner": "7",
            "properties": {
                "firstname": "Dana",
                "lastname": "Cruz",
                "phone": "+1 (415) 555-0110",
                "mobilephone": "+1 415 555 0142",
                "other_phone_1": "+1 415 555 0177",
                "company": "Umbrella",
                "email": "dana.cruz@umbrella.test",
            },
        }
    ],
    # No work number: the home number is the phone.
    "person_updated-home-phone": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T12:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1702",
            "owner": "7",
            "properties": {
                "firstname": "Dana",
                "lastname": "Cruz",
                "company": "Umbrella",
                "email": "dana.cruz@umbrella.test",
                "phone": "+1 415 555 0177",
            },
        }
    ],
    "person_deleted": [],
    "account_created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-01T08:00:00.000Z",
            "type": "record",
            "object": "company",
            "external_id": "501",
            "owner": "7",
            "properties": {
                "name": "Globex",
                "website": "https://globex.test",
                "industry": "Manufacturing",
                "domain": "globex.test",
            },
        }
    ],
    # "n/a" is not a domain: left out, the rest of the update still applies.
    "account_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T08:00:00.000Z",
            "type": "record",
            "object": "company",
            "external_id": "501",
            "owner": "8",
            "properties": {
                "name": "Globex Corp",
                "website": "https://globex.test",
                "industry": "Manufacturing",
            },
        }
    ],
    "account_deleted": [],
    "call_created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T14:02:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9101",
            "owner": "7",
            "properties": {
                "to_number": "+15550100",
                "salesloft_sentiment": "Interested",
                "duration_s": 95,
                "salesloft_disposition": "Connected",
                "outcome": "connected",
                "recording_url": "https://rec.salesloft.test/9101.mp3",
            },
            "associations": [{"object": "contact", "external_id": "1701"}],
        }
    ],
    "call_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T15:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9102",
            "owner": "8",
            "properties": {
                "to_number": "+15550100",
                "salesloft_disposition": "Left Voicemail",
                "outcome": "voicemail",
            },
        }
    ],
    # Logged to call 9101: the record names that call, so both merge into one activity;
    # ``cdr:8801``, the id its events had before it was logged, is that activity too.
    "call_data_record_created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T14:00:05.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9101",
            "owner": "7",
            "properties": {
                "from_number": "+15550001",
                "to_number": "+15550100",
                "recording_url": "https://rec.salesloft.test/cdr-8801.mp3",
                "direction": "outbound",
                "salesloft_call_status": "completed",
                "duration_s": 95,
            },
            "associations": [{"object": "contact", "external_id": "1701"}],
            "aliases": ["cdr:8801"],
        }
    ],
    # Still in progress: no outcome and no duration yet.
    "call_data_record_created-unlinked": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T16:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "cdr:8802",
            "owner": "7",
            "properties": {
                "from_number": "+15550200",
                "to_number": "+15550001",
                "direction": "inbound",
                "salesloft_call_status": "in-progress",
            },
        }
    ],
    "call_data_record_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T16:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "cdr:8802",
            "owner": "7",
            "properties": {
                "from_number": "+15550200",
                "to_number": "+15550001",
                "direction": "inbound",
                "salesloft_call_status": "no-answer",
                "outcome": "no_answer",
                "duration_s": 0,
            },
        }
    ],
    "email_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T08:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "6101",
            "owner": "7",
            "properties": {
                "direction": "outbound",
                "subject": "Quick question",
                "salesloft_status": "sent",
                "salesloft_bounced": False,
                "outcome": "sent",
            },
            "associations": [
                {"object": "contact", "external_id": "1701", "email": "kim.lee@globex.test"}
            ],
        }
    ],
    "email_updated-scheduled": [],  # not sent yet
    "email_with_body_and_subject_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T12:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "6103",
            "owner": "7",
            "properties": {
                "direction": "outbound",
                "subject": "Following up",
                "body": "Hi Kim, ...",
                "salesloft_status": "sent_from_gmail",
                "salesloft_bounced": True,
                "outcome": "bounced",
            },
            "associations": [{"object": "contact", "email": "kim.lee@globex.test"}],
        }
    ],
    "meeting_booked": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-10T15:00:00.000Z",
            "type": "activity",
            "activity": "meeting",
            "external_id": "5101",
            "owner": {"id": "9cc6da15-d403-4f5b-aeed-c4b8463cf9ae", "email": "ana@acme.test"},
            "properties": {
                "title": "Globex intro",
                "body": "Intro and demo",
                "salesloft_status": "booked",
                "start": "2026-11-10T15:00:00.000Z",
                "end": "2026-11-10T15:30:00.000Z",
                "outcome": "scheduled",
            },
            "associations": [
                {"object": "contact", "external_id": "1701", "email": "kim.lee@globex.test"},
                {"object": "company", "external_id": "501"},
            ],
        }
    ],
    "meeting_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-10T15:00:00.000Z",
            "type": "activity",
            "activity": "meeting",
            "external_id": "5101",
            "owner": "9cc6da15-d403-4f5b-aeed-c4b8463cf9ae",
            "properties": {
                "title": "Globex intro",
                "salesloft_status": "booked",
                "start": "2026-11-10T15:00:00.000Z",
                "end": "2026-11-10T15:30:00.000Z",
                "outcome": "canceled",
            },
            "associations": [
                {"object": "contact", "external_id": "1701", "email": "kim.lee@globex.test"}
            ],
        }
    ],
    "note_created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T14:03:00.000Z",
            "type": "activity",
            "activity": "note",
            "external_id": "7101",
            "owner": "7",
            "properties": {"body": "Interested in a demo next quarter"},
            "associations": [{"object": "contact", "external_id": "1701"}],
        }
    ],
    "note_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-05T10:00:00.000Z",
            "type": "activity",
            "activity": "note",
            "external_id": "7102",
            "owner": "7",
            "properties": {"body": "Budget approved"},
            "associations": [{"object": "company", "external_id": "501"}],
        }
    ],
    "task_created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "4101",
            "owner": "7",
            "properties": {
                "subject": "Call Kim about the renewal",
                "salesloft_task_type": "call",
                "task_type": "call",
                "status": "not_started",
                "due": "2026-11-05T00:00:00.000Z",
            },
            "associations": [{"object": "contact", "external_id": "1701"}],
        }
    ],
    "task_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "4101",
            "owner": "7",
            "properties": {
                "subject": "Call Kim about the renewal",
                "body": "Bring the pricing sheet",
                "salesloft_task_type": "call",
                "task_type": "call",
                "status": "not_started",
                "due": "2026-11-06T17:00:00.000Z",
                "priority": "high",
            },
            "associations": [{"object": "contact", "external_id": "1701"}],
        }
    ],
    "task_completed": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "4101",
            "owner": "7",
            "properties": {
                "subject": "Call Kim about the renewal",
                "salesloft_task_type": "call",
                "task_type": "call",
                "status": "completed",
                "due": "2026-11-05T00:00:00.000Z",
            },
        }
    ],
    # The user by its id, and by its GUID (meetings name their owner by it).
    "user_created": [
        {
            "id": "KEY",
            "occurred_at": "2026-10-01T09:00:00.000Z",
            "type": "user",
            "owner": {"id": "7", "email": "ana@acme.test"},
            "properties": {"name": "Ana Ng"},
        },
        {
            "id": "KEY#guid",
            "occurred_at": "2026-10-01T09:00:00.000Z",
            "type": "user",
            "owner": {"id": "9cc6da15-d403-4f5b-aeed-c4b8463cf9ae", "email": "ana@acme.test"},
            "properties": {"name": "Ana Ng"},
        },
    ],
    "user_updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-10-02T09:00:00.000Z",
            "type": "user",
            "owner": "7",
            "properties": {"name": "Ana Ng"},
        },
        {
            "id": "KEY#guid",
            "occurred_at": "2026-10-02T09:00:00.000Z",
            "type": "user",
            "owner": "9cc6da15-d403-4f5b-aeed-c4b8463cf9ae",
            "properties": {"name": "Ana Ng"},
        },
    ],
    "cadence_membership_updated": [],
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


def test_the_fixtures_cover_every_converted_event_name() -> None:
    names = {fixture(name)[0] for name in EXPECTED}
    ignored_kinds = ("cadence", "step", "conversation", "success", "bulk_job", "link_swap")
    converted_names = {
        name
        for name in KNOWN_EVENTS
        if not name.endswith("_deleted") and not name.startswith(ignored_kinds)
    }
    assert converted_names <= names


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event(name: str) -> None:
    assert converted(*fixture(name)) == EXPECTED[name]


@pytest.mark.parametrize(
    ("name", "occurred_at"),
    [
        ("call_data_record_created", "2026-11-03T14:01:41.000Z"),  # updated_at
        ("meeting_booked", "2026-11-04T09:00:00.000Z"),  # not the meeting's start
    ],
)
def test_the_inbox_time_is_the_vendor_event_time(name: str, occurred_at: str) -> None:
    assert piece_of(*fixture(name)).occurred_at == occurred_at


def test_an_activitys_changes_are_ordered_by_the_vendor_event_time() -> None:
    _, found = events(*fixture("call_data_record_created"))
    (call,) = found
    assert (call.occurred_at, call.changed_at) == (
        "2026-11-03T14:00:05.000Z",  # when the call happened
        "2026-11-03T14:01:41.000Z",  # when Salesloft says this record of it changed
    )


def test_created_at_stands_in_for_a_missing_updated_at() -> None:
    event, body = fixture("note_created")
    body = with_value(body, "updated_at", None)
    body = with_value(body, "created_at", "2026-11-03T14:03:00+02:00")
    assert piece_of(event, body).occurred_at == "2026-11-03T12:03:00.000Z"


def test_an_event_without_any_time_is_a_dead_letter() -> None:
    event, body = fixture("person_created")
    body = with_value(with_value(body, "updated_at", None), "created_at", None)
    with pytest.raises(EventError, match=r'inbox:40: field "updated_at": required'):
        events(event, body)


# ------------------------------------------------------------------ vocabularies


@pytest.mark.parametrize(
    ("disposition", "outcome"),
    [
        ("Connected", "connected"),
        ("No Answer", "no_answer"),
        ("Left Voicemail", "voicemail"),
        ("Busy", "busy"),
        ("Wrong Number", "wrong_number"),
        ("Bad Number", "failed"),
        ("no answer", "no_answer"),
        ("Gatekeeper", None),  # a team's own disposition: no outcome, raw value kept
    ],
)
def test_call_dispositions(disposition: str, outcome: str | None) -> None:
    event, body = fixture("call_created")
    [call] = converted(event, with_value(body, "disposition", disposition))
    assert call["properties"]["salesloft_disposition"] == disposition
    assert call["properties"].get("outcome") == outcome


def test_the_disposition_table_is_the_documented_one() -> None:
    assert DISPOSITION_OUTCOMES == {
        "connected": "connected",
        "no answer": "no_answer",
        "left voicemail": "voicemail",
        "busy": "busy",
        "wrong number": "wrong_number",
        "bad number": "failed",
    }
    assert set(CDR_STATUS_OUTCOMES.values()) == {"busy", "no_answer", "canceled", "failed"}


@pytest.mark.parametrize(
    ("status", "outcome", "has_duration"),
    [
        ("queued", None, False),
        ("ringing", None, False),
        ("in-progress", None, False),
        ("completed", None, True),
        ("busy", "busy", True),
        ("no-answer", "no_answer", True),
        ("canceled", "canceled", True),
        ("failed", "failed", True),
    ],
)
def test_call_data_record_statuses(status: str, outcome: str | None, has_duration: bool) -> None:
    event, body = fixture("call_data_record_created")
    [call] = converted(event, with_value(body, "status", status))
    assert call["properties"]["salesloft_call_status"] == status
    assert call["properties"].get("outcome") == outcome
    assert ("duration_s" in call["properties"]) is has_duration


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({}, "scheduled"),
        ({"status": "pending"}, "scheduled"),
        ({"status": "retry"}, "scheduled"),
        ({"status": "failed"}, None),
        ({"reschedule_status": "booked"}, "rescheduled"),
        ({"reschedule_status": "pending"}, "rescheduled"),
        ({"reschedule_status": "retry"}, "rescheduled"),
        # Salesloft documents reschedule_status as the progress of moving the meeting
        # (pending, booked, failed, retry): one that failed left it where it was.
        ({"reschedule_status": "failed"}, "scheduled"),
        ({"reschedule_status": "failed", "status": "failed"}, None),
        ({"no_show": True}, "no_show"),
        ({"no_show": True, "canceled_at": "2026-11-09T10:00:00Z"}, "canceled"),
    ],
)
def test_meeting_outcomes(changes: dict[str, Any], outcome: str | None) -> None:
    event, body = fixture("meeting_booked")
    body.update(changes)
    [meeting] = converted(event, body)
    assert meeting["properties"].get("outcome") == outcome


@pytest.mark.parametrize(
    ("event", "state", "status"),
    [
        ("task_updated", "scheduled", "not_started"),
        ("task_updated", "completed", "completed"),
        ("task_updated", "skipped", None),
        ("task_completed", "scheduled", "completed"),
    ],
)
def test_task_statuses(event: str, state: str, status: str | None) -> None:
    body = with_value(fixture("task_created")[1], "current_state", state)
    assert converted(event, body)[0]["properties"].get("status") == status


@pytest.mark.parametrize(
    ("status", "sent_at", "is_activity"),
    [
        ("sent", "2026-11-04T08:00:00Z", True),
        ("sent_from_external", None, True),
        ("delivering", "2026-11-04T08:00:00Z", True),
        ("scheduled", None, False),
        ("failed", None, False),
        ("cancelled", None, False),
    ],
)
def test_an_email_is_an_activity_once_sent(
    status: str, sent_at: str | None, is_activity: bool
) -> None:
    event, body = fixture("email_updated")
    body = with_value(with_value(body, "status", status), "sent_at", sent_at)
    assert len(converted(event, body)) == int(is_activity)


@pytest.mark.parametrize(
    ("associated_type", "association"),
    [
        ("person", {"object": "contact", "external_id": "1701"}),
        ("Person", {"object": "contact", "external_id": "1701"}),
        ("account", {"object": "company", "external_id": "1701"}),
        ("opportunity", None),
        # None given: the reference's address says which (…/v2/people/1701)
        (None, {"object": "contact", "external_id": "1701"}),
    ],
)
def test_note_associations(associated_type: str | None, association: dict[str, str] | None) -> None:
    event, body = fixture("note_created")
    [note] = converted(event, with_value(body, "associated_type", associated_type))
    assert note.get("associations") == ([association] if association else None)


@pytest.mark.parametrize(
    ("href", "association"),
    [
        (
            "https://api.salesloft.com/v2/accounts/1701",
            {"object": "company", "external_id": "1701"},
        ),
        ("https://api.salesloft.com/v2/opportunities/1701", None),
        (None, None),
    ],
)
def test_a_note_without_a_type_is_read_by_its_references_address(
    href: str | None, association: dict[str, str] | None
) -> None:
    event, body = fixture("note_created")
    body = with_value(with_value(body, "associated_type", None), "associated_with._href", href)
    [note] = converted(event, body)
    assert note.get("associations") == ([association] if association else None)


# ------------------------------------------------------------------ phone numbers


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        # the home number beside the work one: other_phone_1, so that calls from it find him
        (
            {"phone": "+1 555 0110", "mobile_phone": "+1 555 0142", "home_phone": "+1 555 0177"},
            {"phone": "+1 555 0110", "mobilephone": "+1 555 0142", "other_phone_1": "+1 555 0177"},
        ),
        ({"phone": "+1 555 0110", "home_phone": " "}, {"phone": "+1 555 0110"}),
        # no work number: the home number is the phone (and not an other number too)
        ({"phone": " ", "home_phone": "+1 555 0177"}, {"phone": "+1 555 0177"}),
        ({"mobile_phone": "+1 555 0142"}, {"mobilephone": "+1 555 0142"}),
        # a home number that is the phone or the mobile number (the same text) is kept once
        ({"phone": "+1 555 0110", "home_phone": " +1 555 0110 "}, {"phone": "+1 555 0110"}),
        (
            {"phone": "+1 555 0110", "mobile_phone": "+1 555 0142", "home_phone": "+1 555 0142"},
            {"phone": "+1 555 0110", "mobilephone": "+1 555 0142"},
        ),
        # null clears nothing: a home number gone gives no null for other_phone_1
        ({"phone": "+1 555 0110", "home_phone": None}, {"phone": "+1 555 0110"}),
        ({"phone": None, "mobile_phone": None, "home_phone": None}, {}),
    ],
)
def test_person_numbers(numbers: dict[str, Any], expected: dict[str, str]) -> None:
    event, body = fixture("person_created")
    body.update({"phone": None, **numbers})
    (record,) = converted(event, body)
    found = {k: v for k, v in record["properties"].items() if "phone" in k}
    assert found == expected


@pytest.mark.parametrize("phone", [None, "+1 555 0110"])
def test_a_home_phone_of_another_type_names_its_path(phone: str | None) -> None:
    event, body = fixture("person_created")
    body.update(phone=phone, home_phone={"value": "+1 555 0177"})
    with pytest.raises(EventError, match=re.escape('field "home_phone": must be a string')):
        events(event, body)


def test_a_call_with_no_person_keeps_its_numbers_and_direction() -> None:
    event, body = fixture("call_data_record_created-unlinked")
    assert body["called_person"] is None and body["call"] is None
    (call,) = converted(event, body)
    assert "associations" not in call
    assert call["properties"]["direction"] == "inbound"
    assert call["properties"]["from_number"] == "+15550200"
    assert call["properties"]["to_number"] == "+15550001"
    event, body = fixture("call_created")
    body["called_person"] = None
    (call,) = converted(event, body)
    assert "associations" not in call
    assert call["properties"]["to_number"] == "+15550100"  # a call has no from, no direction


# ------------------------------------------------------------------ bad input


def test_an_unknown_event_name_is_a_dead_letter() -> None:
    _, body = fixture("person_created")
    with pytest.raises(EventError) as caught:
        events("person_merged", body)
    message = str(caught.value)
    assert message.startswith(
        "inbox:40: field \"headers.x-salesloft-event\": unknown event 'person_merged'"
    )
    assert "person_created" in message and "cadence_created" in message


def test_the_event_name_is_read_in_any_case() -> None:
    event, body = fixture("person_updated")
    assert converted(event.title(), body) == converted(event, body)
    assert converted(f" {event.upper()} ", body) == converted(event, body)


def test_a_request_without_the_event_header_is_refused_on_receipt() -> None:
    _, body = fixture("person_created")
    req = request(None, body)
    adapter().verify(req, SECRET, NOW)  # the signature covers the body only
    with pytest.raises(EventError, match="header x-salesloft-event is missing"):
        adapter().pieces(req)


def test_a_stored_piece_without_the_event_header_is_a_dead_letter() -> None:
    _, body = fixture("person_created")
    with pytest.raises(EventError, match="inbox:40: header x-salesloft-event is missing"):
        adapter().events_of(envelope_text({}, body), "k", SEQ, WHERE, None)


@pytest.mark.parametrize(
    ("name", "path", "value", "message"),
    [
        ("person_created", "email_address", ["kim@globex.test"], "email_address"),
        ("person_created", "owner", "7", "owner"),
        ("person_created", "account.id", {"id": 501}, "account.id"),
        ("person_created", "id", None, "id"),
        ("person_created", "updated_at", 1794000000, "updated_at"),
        ("person_created", "mobile_phone", ["+1 555 0142"], "mobile_phone"),
        ("account_created", "domain", 42.5, "domain"),
        ("call_created", "duration", "long", "duration"),
        ("call_created", "duration", -5, "duration"),
        ("call_created", "called_person", [1701], "called_person"),
        ("call_data_record_created", "direction", "sideways", "direction"),
        ("email_updated", "bounced", "no", "bounced"),
        ("meeting_booked", "start_time", "soon", "start_time"),
        ("meeting_booked", "no_show", "yes", "no_show"),
        ("meeting_booked", "owned_by_user.id", ["x"], "owned_by_user.id"),
        ("task_created", "due_date", "next week", "due_date"),
        ("user_created", "email", {"work": "ana@acme.test"}, "email"),
    ],
)
def test_wrong_types_name_the_json_path(name: str, path: str, value: Any, message: str) -> None:
    event, body = fixture(name)
    with pytest.raises(EventError, match=re.escape(f'field "{message}": ')):
        events(event, with_value(body, path, value))


# ------------------------------------------------------------------ reference shapes


@pytest.mark.parametrize(
    ("name", "reference", "value", "got"),
    [
        ("person_created", "owner", 7, "a number"),
        ("person_created", "owner", "7", "a string"),
        (
            "person_created",
            "owner",
            {"_href": "https://api.salesloft.test/v2/users/7"},
            "an object with keys _href",
        ),
        ("person_created", "account", [{"id": 501}], "an array"),
        ("call_created", "called_person", [1701], "an array"),
        ("call_created", "user", {"guid": "5f1d-aa"}, "an object with keys guid"),
        ("call_data_record_created", "call", 9101, "a number"),
        ("email_updated", "recipient", "1701", "a string"),
        ("meeting_booked", "owned_by_user", "u-guid-1", "a string"),
        ("note_created", "associated_with", {"type": "person"}, "an object with keys type"),
        ("task_created", "person", True, "a boolean"),
    ],
)
def test_a_reference_of_another_shape_is_a_dead_letter_naming_it(
    name: str, reference: str, value: Any, got: str
) -> None:
    event, body = fixture(name)
    with pytest.raises(EventError) as caught:
        events(event, with_value(body, reference, value))
    assert (
        str(caught.value)
        == f'{WHERE}: field "{reference}": expected {{id, _href}} or null, got {got}'
    )


@pytest.mark.parametrize("empty", [None, {}, {"id": None, "_href": None}])
def test_an_empty_reference_names_nobody(empty: Any) -> None:
    event, body = fixture("person_created")
    [record] = converted(event, with_value(with_value(body, "owner", empty), "account", empty))
    assert "owner" not in record and "associations" not in record


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"{not json", b"\xff\xfe"])
def test_a_body_that_is_not_a_resource_is_refused_on_receipt(body: bytes) -> None:
    with pytest.raises(EventError):
        adapter().pieces(request("person_created", body))


# ------------------------------------------------------------------ signatures


def test_a_good_signature_passes() -> None:
    event, body = fixture("call_created")
    adapter().verify(request(event, body), SECRET, NOW)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (lambda raw: signed("call_created", raw, "another-token"), "bad signature"),
        (lambda raw: signed("call_created", raw + b"\n"), "bad signature"),
        (lambda raw: {EVENT: "call_created"}, "missing header x-salesloft-signature"),
        (
            lambda raw: {
                "x-salesloft-signature": hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
            },
            "must be 40 hexadecimal characters",
        ),
    ],
    ids=["wrong token", "other body", "no header", "sha256 instead of sha1"],
)
def test_a_bad_signature_is_refused(headers: Any, message: str) -> None:
    event, body = fixture("call_created")
    raw = json.dumps(body).encode()
    with pytest.raises(SignatureError, match=message):
        adapter().verify(request(event, raw, headers(raw)), SECRET, NOW)


def test_salesloft_signs_no_time_so_an_old_delivery_still_verifies() -> None:
    event, body = fixture("call_created")
    adapter().verify(request(event, body), SECRET, NOW + 10 * 365 * 86400)


@pytest.mark.parametrize("secret", [None, ""])
def test_a_missing_secret_refuses_every_request(secret: str | None) -> None:
    event, body = fixture("call_created")
    with pytest.raises(SignatureError, match="no webhook secret is configured for this salesloft"):
        adapter().verify(request(event, body), secret, NOW)


# ------------------------------------------------------------------ dedupe keys


def test_a_redelivery_has_the_same_key() -> None:
    event, body = fixture("email_updated")
    compact = json.dumps(body, separators=(",", ":")).encode()
    assert piece_of(event, body).key == piece_of(event, compact).key
    piece = piece_of(event, body)
    assert piece.key.startswith(f"t:{piece.occurred_at}:")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("person_created", "person_updated"),
        ("task_created", "task_completed"),
        ("meeting_booked", "meeting_updated"),
        ("call_created", "call_data_record_created"),
    ],
)
def test_different_events_have_different_keys(first: str, second: str) -> None:
    assert piece_of(*fixture(first)).key != piece_of(*fixture(second)).key


def test_the_same_resource_under_another_event_name_is_another_event() -> None:
    _, body = fixture("task_created")
    assert piece_of("task_created", body).key != piece_of("task_updated", body).key


def test_events_of_the_stored_piece_use_the_key_as_event_id() -> None:
    piece, found = events(*fixture("call_created"))
    assert [event.id for event in found] == [piece.key]
    assert json.loads(piece.payload())["headers"] == {EVENT: "call_created"}
