"""The Outreach adapter: leadsync.sources.outreach, driven through its public hooks."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, SignatureError
from leadsync.model import ActivityType, Event
from leadsync.rules.activities import derived_properties
from leadsync.sources.base import Piece, WebhookRequest
from leadsync.sources.outreach import ADAPTER, CALL_OUTCOMES, KNOWN_EVENTS, OutreachAdapter
from leadsync.values import parse_time
from tests import adapters as harness
from tests.adapters import with_value

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "outreach"
SECRET = "outreach-test-secret"
NOW = 1_794_000_000.0
INTEGRATION = "outreach-main"
SEQ = 7
WHERE = "inbox:12"
URL = "https://leadsync.test/hooks/outreach"


def fixture(name: str) -> dict[str, Any]:
    envelope = harness.envelope("outreach", name)
    assert set(envelope) == {"body"}, "Outreach puts nothing but its signature in headers"
    return envelope["body"]  # type: ignore[no-any-return]


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "outreach-webhook-signature": harness.hmac_hex(secret, body),
    }


def request(body: Any, headers: dict[str, str] | None = None) -> WebhookRequest:
    raw = harness.encode(body)
    return harness.json_request(URL, raw, headers or signed(raw), content_type=False)


def adapter() -> OutreachAdapter:
    return ADAPTER(INTEGRATION)


def piece_of(body: Any) -> Piece:
    req = request(body)
    adapter().verify(req, SECRET, NOW)
    return harness.receive(adapter(), req)


def events(body: Any) -> tuple[Piece, list[Event]]:
    piece = piece_of(body)
    found = harness.convert(adapter(), piece, SEQ, WHERE)
    assert all(e.integration == INTEGRATION and e.seq == SEQ for e in found)
    return piece, found


def converted(body: Any) -> list[dict[str, Any]]:
    """The canonical dicts of one body, with the piece key written as KEY in event ids."""
    return harness.as_dicts(*events(body), key="KEY")


# ------------------------------------------------------------------ every event name

EXPECTED: dict[str, list[dict[str, Any]]] = {
    "prospect.created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-01T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1001",
            "owner": "7",
            "properties": {
                "firstname": "Kim",
                "lastname": "Lee",
                "title": "VP Sales",
                "company": "Globex",
                "city": "Lyon",
                "email": "kim.lee@globex.test",
            },
            "associations": [{"object": "company", "external_id": "501"}],
        }
    ],
    "prospect.updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T10:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1001",
            "properties": {"title": "CRO"},
        }
    ],
    "prospect.updated-owner-only": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T11:00:00.000Z",
            "type": "owner",
            "object": "contact",
            "external_id": "1001",
            "owner": "8",
        }
    ],
    "prospect.updated-owner-removed": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T12:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1001",
            "properties": {"title": "CEO"},
        },
        {
            "id": "KEY#owner",
            "occurred_at": "2026-11-02T12:00:00.000Z",
            "type": "owner",
            "object": "contact",
            "external_id": "1001",
            "owner": None,
        },
    ],
    "prospect.updated-owner-removed-only": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T12:30:00.000Z",
            "type": "owner",
            "object": "contact",
            "external_id": "1001",
            "owner": None,
        }
    ],
    # Nulls, an empty string and an emptied relationship are simply absent.
    "prospect.updated-nulls": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T13:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1001",
            "properties": {"lastname": "Lee-Park"},
        }
    ],
    "prospect.updated-untracked": [],
    "prospect.destroyed": [],
    "account.created": [
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
    "account.updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-02T08:00:00.000Z",
            "type": "record",
            "object": "company",
            "external_id": "501",
            "properties": {"name": "Globex Corp"},
        }
    ],
    "account.destroyed": [],
    # The first work number and the first mobile one, as given (trimmed); the second work
    # number and the home one beside them (a created event has every array).
    "prospect.created-phones": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1003",
            "owner": "7",
            "properties": {
                "firstname": "Dana",
                "lastname": "Cruz",
                "company": "Umbrella",
                "email": "dana.cruz@umbrella.test",
                "mobilephone": "+1 415 555 0142",
                "phone": "+1 415 555 0110",
                "other_phone_1": "+1 415 555 0111",
                "other_phone_2": "+1 415 555 0177",
            },
        }
    ],
    # An update of the home number alone says nothing of the work number: no phone, and
    # nothing of the other arrays: no other number either.
    "prospect.updated-phones": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T11:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "1003",
            "properties": {"mobilephone": "+1 415 555 0143"},
        }
    ],
    "opportunity.created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-01T10:00:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": "77",
            "owner": "7",
            "properties": {
                "name": "Globex renewal",
                "opportunity_type": "Renewal",
                "currency": "EUR",
                "amount": 12000.5,
                "probability": 40,
                "closedate": "2026-12-15T00:00:00.000Z",
                "stage": "3",
            },
            "associations": [{"object": "company", "external_id": "501"}],
        }
    ],
    "opportunity.updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-06T10:00:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": "77",
            "properties": {"stage": "5"},
        }
    ],
    "opportunity.destroyed": [],
    # No outcome and no duration yet: a later update must not be contradicted.
    "call.created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T14:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9001",
            "owner": "7",
            "properties": {
                "from_number": "+15550001",
                "to_number": "+15550100",
                "direction": "outbound",
            },
            "associations": [{"object": "contact", "external_id": "1001"}],
        }
    ],
    "call.updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T14:01:50.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9001",
            "properties": {
                "recording_url": "https://rec.outreach.test/9001.mp3",
                "body": "Intro call",
                "outreach_outcome": "Answered",
                "outcome": "connected",
                "answered_at": "2026-11-03T14:00:10.000Z",
                "ended_at": "2026-11-03T14:01:45.000Z",
            },
        }
    ],
    "call.updated-not-answered": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-03T15:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9002",
            "owner": "7",
            "properties": {
                "outreach_outcome": "Not Answered",
                "outcome": "no_answer",
                "ended_at": "2026-11-03T15:00:30.000Z",
            },
            "associations": [{"object": "contact", "external_id": "1002"}],
        }
    ],
    # No prospect: still the call, with its numbers, for the engine to match by number.
    "call.created-no-prospect": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-05T11:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9003",
            "owner": "7",
            "properties": {
                "from_number": "+1 415 555 0199",
                "to_number": "+15550100",
                "direction": "inbound",
            },
        }
    ],
    "call.destroyed": [],
    "mailing.created": [  # scheduled, not sent yet: a draft, remembered, nothing created
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T07:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "3001",
            "properties": {
                "direction": "outbound",
                "subject": "Quick question",
                "body": "Hi Kim",
                "outreach_state": "scheduled",
            },
            "associations": [{"object": "contact", "external_id": "1001"}],
            "draft": True,
        }
    ],
    "mailing.updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T16:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "3002",
            "owner": "7",
            "properties": {
                "direction": "outbound",
                "subject": "Notes from today",
                "body": "Thanks for your time",
                "outreach_state": "delivered",
                "outcome": "sent",
            },
            "associations": [{"object": "contact", "external_id": "1001"}],
        }
    ],
    "mailing.delivered": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T08:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "3001",
            "owner": "7",
            "properties": {
                "direction": "outbound",
                "outreach_state": "delivered",
                "outcome": "sent",
            },
            "associations": [{"object": "contact", "external_id": "1001"}],
        }
    ],
    "mailing.opened": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:30:01.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "3001",
            "properties": {"direction": "outbound", "outreach_state": "opened", "outcome": "sent"},
        }
    ],
    "mailing.replied": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T11:00:01.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "3001",
            "properties": {"direction": "outbound", "outreach_state": "replied", "outcome": "sent"},
        }
    ],
    "mailing.bounced": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T08:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "3003",
            "properties": {
                "direction": "outbound",
                "outreach_state": "bounced",
                "outcome": "bounced",
            },
            "associations": [{"object": "contact", "external_id": "1003"}],
        }
    ],
    "mailing.destroyed": [],
    "task.created": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "4001",
            "owner": "7",
            "properties": {
                "body": "Call Kim about the renewal",
                "outreach_task_type": "manual",
                "subject": "Call",
                "task_type": "call",
                "outreach_state": "incomplete",
                "status": "not_started",
                "due": "2026-11-05T17:00:00.000Z",
            },
            "associations": [
                {"object": "contact", "external_id": "1001"},
                {"object": "company", "external_id": "501"},
            ],
        }
    ],
    "task.updated": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-05T09:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "4001",
            "properties": {"due": "2026-11-06T17:00:00.000Z"},
        }
    ],
    "task.completed": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-06T10:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "4001",
            "properties": {"outreach_state": "complete", "status": "completed"},
        }
    ],
    "task.destroyed": [],
    "user.destroyed": [],  # a dead letter before (found by a probe)
    "user.created": [
        {
            "id": "KEY",
            "occurred_at": "2026-10-01T09:00:00.000Z",
            "type": "user",
            "owner": {"id": "7", "email": "ana@acme.test"},
            "properties": {"name": "Ana Ng"},
        }
    ],
    "user.updated": [
        {"id": "KEY", "occurred_at": "2026-10-02T09:00:00.000Z", "type": "user", "owner": "7"}
    ],
    "sequenceState.advanced": [],
    # Relationships in the flat form {type, id} (as some deliveries send them) read like
    # JSON:API's {data: {type, id}}; an owner "type" other than "user" is still the owner.
    "account.created-flat-relationships": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-04T09:40:36.000Z",
            "type": "record",
            "object": "company",
            "external_id": "502",
            "owner": "7",
            "properties": {"name": "Initech", "domain": "initech.test"},
        }
    ],
    # A flat {"id": null} empties a relationship; unread ones (sequence) are not looked at.
    "call.created-flat-relationships": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-05T10:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "9002",
            "owner": "8",
            "properties": {
                "from_number": "+15550002",
                "to_number": "+15550100",
                "direction": "inbound",
            },
            "associations": [
                {"object": "contact", "external_id": "1002"},
                {"object": "company", "external_id": "502"},
            ],
        }
    ],
    "prospect.updated-flat-owner-only": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-05T11:00:00.000Z",
            "type": "owner",
            "object": "contact",
            "external_id": "1002",
            "owner": "9",
        }
    ],
    "opportunity.updated-flat-stage": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-07T10:00:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": "78",
            "properties": {"stage": "6"},
            "associations": [{"object": "company", "external_id": "502"}],
        }
    ],
    "mailing.delivered-flat-relationships": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-05T12:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "4402",
            "owner": "8",
            "properties": {
                "direction": "outbound",
                "subject": "Quick question",
                "outreach_state": "delivered",
                "outcome": "sent",
            },
            "associations": [{"object": "contact", "external_id": "1002"}],
        }
    ],
    "task.completed-flat-relationships": [
        {
            "id": "KEY",
            "occurred_at": "2026-11-05T09:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "6602",
            "owner": "8",
            "properties": {
                "subject": "Call",
                "task_type": "call",
                "outreach_state": "complete",
                "status": "completed",
            },
            "associations": [{"object": "contact", "external_id": "1002"}],
        }
    ],
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


def test_the_fixtures_cover_every_handled_event_name() -> None:
    names = {fixture(name)["meta"]["eventName"] for name in EXPECTED}
    handled = {
        name
        for name in KNOWN_EVENTS
        if name.partition(".")[0]
        in {"prospect", "account", "opportunity", "call", "mailing", "task", "user"}
    }
    assert handled <= names


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event(name: str) -> None:
    assert converted(fixture(name)) == EXPECTED[name]


@pytest.mark.parametrize(
    ("name", "occurred_at"),
    [
        ("prospect.created", "2026-11-01T09:00:00.000Z"),  # attributes.updatedAt
        ("account.destroyed", "2026-11-01T09:00:01.000Z"),  # meta.deliveredAt, no Z: UTC
        ("call.created", "2026-11-03T14:00:00.500Z"),  # the event time, not dialedAt
    ],
)
def test_the_inbox_time_is_the_vendor_event_time(name: str, occurred_at: str) -> None:
    assert piece_of(fixture(name)).occurred_at == occurred_at


def test_an_event_without_any_time_is_a_dead_letter() -> None:
    body = with_value(fixture("prospect.updated"), "data.attributes.updatedAt", None)
    body["meta"].pop("deliveredAt")
    with pytest.raises(EventError, match=r'inbox:12: field "meta.deliveredAt": required'):
        events(body)


# ------------------------------------------------------------------ vocabularies


@pytest.mark.parametrize(
    ("vendor", "canonical"),
    [
        ("Answered", "connected"),
        ("answered", "connected"),
        ("Not Answered", "no_answer"),
        ("NOT ANSWERED", "no_answer"),
        ("Voicemail", None),  # not Outreach's vocabulary: no outcome, raw value kept
    ],
)
def test_call_outcomes(vendor: str, canonical: str | None) -> None:
    body = with_value(fixture("call.updated"), "data.attributes.outcome", vendor)
    [event] = converted(body)
    assert event["properties"]["outreach_outcome"] == vendor
    assert event["properties"].get("outcome") == canonical


@pytest.mark.parametrize(
    ("tags", "properties"),
    [
        (["Interested", " Meeting Booked "], {"tags": ["Interested", "Meeting Booked"]}),
        ([], {"tags": []}),  # the last tag removed: the call's list is now empty
        ([None, "Interested", ""], {"tags": ["Interested"]}),
        (None, {}),  # null (or no tags: an update of something else) says nothing
    ],
)
def test_call_tags_are_the_whole_list_the_event_gives(
    tags: list[str | None] | None, properties: dict[str, Any]
) -> None:
    """Outreach's call resource documents ``tags`` (a list of tag values, e.g. "Interested",
    "Meeting Booked"): kept as the call's ``tags``, as Aircall's are, so HubSpot's call body
    shows them. An update carries the list when it changed, whole; an empty one clears."""
    body = with_value(fixture("call.updated"), "data.attributes.tags", tags)
    [event] = converted(body)
    assert {k: v for k, v in event["properties"].items() if k == "tags"} == properties


@pytest.mark.parametrize(
    ("tags", "error"),
    [
        ("Interested", 'field "data.attributes.tags": must be an array of strings, got a string'),
        ([7], 'field "data.attributes.tags[0]": must be a string, got a number'),
    ],
)
def test_call_tags_of_another_shape_are_refused_naming_the_field(tags: Any, error: str) -> None:
    body = with_value(fixture("call.updated"), "data.attributes.tags", tags)
    with pytest.raises(EventError) as refused:
        converted(body)
    assert refused.value.detail == error


def test_the_outcome_table_maps_onto_canonical_outcomes() -> None:
    assert CALL_OUTCOMES == {"answered": "connected", "not answered": "no_answer"}


@pytest.mark.parametrize(
    ("answered", "completed", "duration"),
    [
        ("2026-11-03T14:00:10.000Z", "2026-11-03T14:01:45.000Z", 95),
        ("2026-11-03T14:00:10.000Z", "2026-11-03T14:00:10.500Z", 0.5),
        ("2026-11-03T14:00:10.000Z", "2026-11-03T15:00:10+01:00", 0),
        (None, "2026-11-03T14:01:45.000Z", None),
        ("2026-11-03T14:00:10.000Z", None, None),
    ],
)
def test_call_duration_is_completed_minus_answered(
    answered: str | None, completed: str | None, duration: float | None
) -> None:
    """The event carries the times it has (an update carries only what changed); the
    duration is the engine's, from the call as all its events say."""
    body = with_value(fixture("call.updated"), "data.attributes.answeredAt", answered)
    body = with_value(body, "data.attributes.completedAt", completed)
    _, [event] = events(body)
    assert "duration_s" not in event.properties
    assert event.properties.get("answered_at") == (answered and parse_time(answered))
    assert event.properties.get("ended_at") == (completed and parse_time(completed))
    derived = derived_properties(ActivityType.CALL, event.properties)
    assert derived.get("duration_s") == duration


@pytest.mark.parametrize(
    ("event_name", "state", "status"),
    [
        ("task.updated", "complete", "completed"),
        ("task.updated", "incomplete", "not_started"),
        ("task.updated", "pending", "not_started"),
        ("task.updated", "snoozed", None),
        ("task.completed", None, "completed"),
    ],
)
def test_task_statuses(event_name: str, state: str | None, status: str | None) -> None:
    body = with_value(fixture("task.updated"), "meta.eventName", event_name)
    body = with_value(body, "data.attributes.state", state)
    [event] = converted(body)
    assert event["properties"].get("status") == status


@pytest.mark.parametrize(
    ("action", "subject"),
    [
        ("call", "Call"),
        ("email", "Email"),
        ("in_person", "In-person visit"),
        ("linkedin", "linkedin"),
    ],
)
def test_task_subjects(action: str, subject: str) -> None:
    body = with_value(fixture("task.created"), "data.attributes.action", action)
    assert converted(body)[0]["properties"]["subject"] == subject


@pytest.mark.parametrize(
    ("event_name", "state", "delivered_at", "is_activity"),
    [
        ("mailing.created", "drafted", None, False),
        ("mailing.updated", "queued", None, False),
        ("mailing.updated", None, None, False),
        ("mailing.updated", None, "2026-11-04T08:00:00.000Z", True),
        ("mailing.created", "delivered", None, True),
        ("mailing.opened", None, None, True),
    ],
)
def test_a_mailing_is_an_activity_once_sent(
    event_name: str, state: str | None, delivered_at: str | None, is_activity: bool
) -> None:
    body = with_value(fixture("mailing.created"), "meta.eventName", event_name)
    body = with_value(body, "data.attributes.state", state)
    body = with_value(body, "data.attributes.deliveredAt", delivered_at)
    (email,) = converted(body)
    assert email.get("draft", False) is not is_activity


# ------------------------------------------------------------------ phone numbers


def phones_of(name: str, **attributes: Any) -> dict[str, Any]:
    body = fixture(name)
    body["data"]["attributes"] = {
        "updatedAt": "2026-11-04T12:00:00.000Z",
        "title": "CRO",  # so that an update without numbers is still a record event
        **attributes,
    }
    (record,) = converted(body)
    return {k: v for k, v in record["properties"].items() if k != "title"}


W1, W2, W3 = "+1 555 0110", "+1 555 0111", "+1 555 0112"
M1, M2 = "+1 555 0142", "+1 555 0143"
O1, O2 = "+1 555 0120", "+1 555 0121"
H1, V1, V2 = "+1 555 0130", "+1 555 0140", "+1 555 0141"
#: An update carrying every phone array (so it speaks for all of a prospect's numbers).
EVERY_ARRAY = {
    "workPhones": [W1, W2],
    "mobilePhones": [M1, M2],
    "otherPhones": [O1],
    "homePhones": [H1],
    "voipPhones": [V1, V2],
}


@pytest.mark.parametrize(
    ("name", "attributes", "expected"),
    [
        # created: the first work number, else other, home, voip (in that order); the numbers
        # left go to other_phone_1.. (the rest of work, of mobile, then other, home, voip)
        (
            "prospect.created",
            {"workPhones": [W1], "otherPhones": [O1]},
            {"phone": W1, "other_phone_1": O1},
        ),
        (
            "prospect.created",
            {"workPhones": [], "voipPhones": [V1], "homePhones": [H1]},
            {"phone": H1, "other_phone_1": V1},
        ),
        (
            "prospect.created",
            {"otherPhones": ["  ", O1], "homePhones": [H1]},
            {"phone": O1, "other_phone_1": H1},
        ),
        ("prospect.created", {"voipPhones": [V1]}, {"phone": V1}),
        # a mobile number is never the phone
        ("prospect.created", {"mobilePhones": [M1]}, {"mobilephone": M1}),
        # five other numbers at most, in the documented order (V2 is the sixth)
        (
            "prospect.created",
            EVERY_ARRAY,
            {
                "phone": W1,
                "mobilephone": M1,
                "other_phone_1": W2,
                "other_phone_2": M2,
                "other_phone_3": O1,
                "other_phone_4": H1,
                "other_phone_5": V1,
            },
        ),
        # a number given twice (the same text, trimmed) is given once
        (
            "prospect.created",
            {"workPhones": [W1, f" {W1} ", W2], "mobilePhones": [M1], "homePhones": [M1, W2, H1]},
            {"phone": W1, "mobilephone": M1, "other_phone_1": W2, "other_phone_2": H1},
        ),
        # updated: other kinds stand in only when the update says there is no work number
        ("prospect.updated", {"homePhones": [H1]}, {}),
        ("prospect.updated", {"workPhones": [], "homePhones": [H1]}, {"phone": H1}),
        ("prospect.updated", {"workPhones": [W2], "homePhones": [H1]}, {"phone": W2}),
        ("prospect.updated", {"mobilePhones": [None, M2]}, {"mobilephone": M2}),
        ("prospect.updated", {"workPhones": None, "mobilePhones": []}, {}),
        # an update speaks for the other numbers only when it carries every array ...
        (
            "prospect.updated",
            {k: v for k, v in EVERY_ARRAY.items() if k != "voipPhones"},
            {"phone": W1, "mobilephone": M1},
        ),
        ("prospect.updated", {"workPhones": [W1, W2, W3]}, {"phone": W1}),
        ("prospect.updated", {"mobilePhones": [M1, M2]}, {"mobilephone": M1}),
        (
            "prospect.updated",
            {**EVERY_ARRAY, "workPhones": None, "mobilePhones": [], "otherPhones": [O1, O2]},
            {
                "phone": O1,
                "other_phone_1": O2,
                "other_phone_2": H1,
                "other_phone_3": V1,
                "other_phone_4": V2,
            },
        ),
        # ... and never gives null: emptied arrays clear nothing
        ("prospect.updated", dict.fromkeys(EVERY_ARRAY, []), {}),
        ("prospect.created", dict.fromkeys(EVERY_ARRAY), {}),
    ],
)
def test_prospect_numbers(name: str, attributes: dict[str, Any], expected: dict[str, Any]) -> None:
    assert phones_of(name, **attributes) == expected


def test_an_update_reads_only_the_phone_arrays_it_speaks_for() -> None:
    """A malformed array the event does not speak for is not read (an update of the mobile
    numbers and the voip ones says nothing of where a voip number goes)."""
    assert phones_of("prospect.updated", mobilePhones=[M1], voipPhones=[7]) == {"mobilephone": M1}
    with pytest.raises(EventError, match=re.escape('"data.attributes.voipPhones[0]": must be')):
        phones_of("prospect.updated", **{**EVERY_ARRAY, "voipPhones": [7]})


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("data.attributes.workPhones", "+1 555 0110", "data.attributes.workPhones"),
        ("data.attributes.mobilePhones", [15550142], "data.attributes.mobilePhones[0]"),
        ("data.attributes.homePhones", {"number": "x"}, "data.attributes.homePhones"),
    ],
)
def test_a_phone_list_of_another_shape_names_its_path(path: str, value: Any, message: str) -> None:
    body = with_value(fixture("prospect.created"), "data.attributes.workPhones", [])
    with pytest.raises(EventError, match=re.escape(f'field "{message}": must be')):
        events(with_value(body, path, value))


def test_a_call_without_prospect_keeps_its_numbers_and_direction() -> None:
    for name in ("call.created", "call.created-flat-relationships"):
        body = fixture(name)
        del body["data"]["relationships"]["prospect"]
        (call,) = converted(body)
        assert "associations" not in call or all(
            a["object"] != "contact" for a in call["associations"]
        )
        assert set(call["properties"]) >= {"direction", "from_number", "to_number"}
        assert call["properties"]["from_number"] == body["data"]["attributes"]["from"]
        assert call["properties"]["to_number"] == body["data"]["attributes"]["to"]


# ------------------------------------------------------------------ bad input


def test_an_unknown_event_name_is_a_dead_letter() -> None:
    body = with_value(fixture("prospect.updated"), "meta.eventName", "prospect.merged")
    with pytest.raises(EventError) as caught:
        events(body)
    message = str(caught.value)
    assert message.startswith("inbox:12: field \"meta.eventName\": unknown event 'prospect.merged'")
    assert "prospect.updated" in message and "sequenceState.advanced" in message


@pytest.mark.parametrize(
    ("name", "path", "value", "message"),
    [
        ("prospect.created", "data.attributes.firstName", ["Kim"], "data.attributes.firstName"),
        ("prospect.created", "data.attributes.emails", "kim@globex.test", "data.attributes.emails"),
        ("prospect.created", "data.attributes.emails", [5], "data.attributes.emails[0]"),
        ("prospect.created", "data.relationships.owner.data", [], "data.relationships.owner.data"),
        ("prospect.created", "data.relationships.account", "501", "data.relationships.account"),
        (
            "prospect.created",
            "data.relationships.owner.data.id",
            None,
            "data.relationships.owner.data.id",
        ),
        ("opportunity.created", "data.attributes.amount", "lots", "data.attributes.amount"),
        ("opportunity.created", "data.attributes.closeDate", "soon", "data.attributes.closeDate"),
        ("call.updated", "data.attributes.completedAt", 12345, "data.attributes.completedAt"),
        ("call.created", "data.attributes.direction", "sideways", "data.attributes.direction"),
        ("task.created", "data.attributes.dueAt", "tomorrow", "data.attributes.dueAt"),
        ("user.created", "data.attributes", "x", "data.attributes"),
        ("user.created", "meta.eventName", True, "meta.eventName"),
        ("user.created", "data.id", None, "data.id"),
        ("user.created", "data.attributes.updatedAt", {"at": 1}, "data.attributes.updatedAt"),
    ],
)
def test_wrong_types_name_the_json_path(name: str, path: str, value: Any, message: str) -> None:
    with pytest.raises(EventError, match=re.escape(f'field "{message}": ')):
        events(with_value(fixture(name), path, value))


# ------------------------------------------------------------------ relationship forms


def flattened(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with every JSON:API relationship ``{data: {type, id}}`` made flat ``{type, id}``
    (``data: null`` becomes ``{type: null, id: null}``)."""
    flat = copy.deepcopy(body)
    for name, relation in (flat["data"].get("relationships") or {}).items():
        target = relation.get("data")
        flat["data"]["relationships"][name] = target or {"type": None, "id": None}
    return flat


@pytest.mark.parametrize(
    "name",
    sorted(
        name
        for name in EXPECTED
        if any("data" in r for r in (fixture(name)["data"].get("relationships") or {}).values())
    ),
)
def test_flat_relationships_are_read_like_json_api_ones(name: str) -> None:
    assert converted(flattened(fixture(name))) == EXPECTED[name]


@pytest.mark.parametrize(
    ("relation", "value"),
    [
        ("owner", {"links": {"related": "https://api.outreach.test/api/v2/users/8"}}),
        ("owner", {"meta": {"count": 1}}),
        ("owner", {}),
    ],
)
def test_a_relationship_with_links_only_names_nothing(relation: str, value: Any) -> None:
    body = with_value(fixture("prospect.updated"), f"data.relationships.{relation}", value)
    assert converted(body) == EXPECTED["prospect.updated"]


@pytest.mark.parametrize("emptied", [None, {"type": "user", "id": None}, {"data": None}])
def test_an_emptied_owner_is_an_owner_event_without_owner(emptied: Any) -> None:
    body = with_value(fixture("prospect.updated-owner-only"), "data.relationships.owner", emptied)
    [event] = converted(body)
    assert event["type"] == "owner" and event["owner"] is None


@pytest.mark.parametrize(
    ("name", "relation", "value", "path", "detail"),
    [
        (
            "prospect.updated-owner-only",
            "owner",
            [{"type": "user", "id": 8}],
            "data.relationships.owner",
            "expected {data: {type, id}} or {type, id} or null, got an array",
        ),
        (
            "prospect.updated-owner-only",
            "owner",
            {"data": [{"type": "user", "id": 8}]},
            "data.relationships.owner.data",
            "expected {type, id} or null, got an array",
        ),
        (
            "prospect.updated-owner-only",
            "owner",
            8,
            "data.relationships.owner",
            "expected {data: {type, id}} or {type, id} or null, got a number",
        ),
        (
            "prospect.updated-owner-only",
            "owner",
            {"type": "user", "userId": 8},
            "data.relationships.owner",
            "expected {data: {type, id}} or {type, id} or null, got an object with keys type, userId",
        ),
        (
            "call.created",
            "prospect",
            {"data": {"type": "prospect"}},
            "data.relationships.prospect.data.id",
            "required: the related record's id",
        ),
        (
            "call.created-flat-relationships",
            "user",
            {"type": "user", "id": {"value": 8}},
            "data.relationships.user.id",
            "must be a string or a whole number, got an object",
        ),
        (
            "opportunity.updated-flat-stage",
            "stage",
            "6",
            "data.relationships.stage",
            "expected {data: {type, id}} or {type, id} or null, got a string",
        ),
        (
            "mailing.delivered-flat-relationships",
            "prospect",
            [1002],
            "data.relationships.prospect",
            "expected {data: {type, id}} or {type, id} or null, got an array",
        ),
    ],
)
def test_a_relationship_of_another_shape_is_a_dead_letter_naming_path_and_forms(
    name: str, relation: str, value: Any, path: str, detail: str
) -> None:
    body = with_value(fixture(name), f"data.relationships.{relation}", value)
    with pytest.raises(EventError) as caught:
        events(body)
    assert str(caught.value) == f'{WHERE}: field "{path}": {detail}'


def test_a_completion_before_the_answer_is_refused() -> None:
    body = with_value(
        fixture("call.updated"), "data.attributes.completedAt", "2026-11-03T14:00:00Z"
    )
    with pytest.raises(EventError, match=r'"data.attributes.completedAt": .* is before'):
        events(body)


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"{not json", b"\xff\xfe"])
def test_a_body_that_is_not_an_event_is_refused_on_receipt(body: bytes) -> None:
    with pytest.raises(EventError):
        adapter().pieces(request(body))


def test_a_stored_payload_that_is_not_an_envelope_is_a_dead_letter() -> None:
    with pytest.raises(EventError, match="inbox:12: the stored payload is not an envelope"):
        adapter().events_of('{"data": {}}', "k", SEQ, WHERE, None)


# ------------------------------------------------------------------ signatures


def test_a_good_signature_passes() -> None:
    raw = json.dumps(fixture("prospect.created")).encode()
    adapter().verify(request(raw), SECRET, NOW)


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (lambda raw: signed(raw, "another-secret"), "bad signature"),
        (lambda raw: signed(raw + b" "), "bad signature"),
        (lambda raw: {"content-type": "application/json"}, "missing header"),
        (lambda raw: {"outreach-webhook-signature": "zz"}, "not hexadecimal"),
    ],
    ids=["wrong secret", "other body", "no header", "garbage"],
)
def test_a_bad_signature_is_refused(headers: Any, message: str) -> None:
    raw = json.dumps(fixture("prospect.created")).encode()
    with pytest.raises(SignatureError, match=message):
        adapter().verify(request(raw, headers(raw)), SECRET, NOW)


def test_outreach_signs_no_time_so_an_old_delivery_still_verifies() -> None:
    raw = json.dumps(fixture("prospect.created")).encode()
    adapter().verify(request(raw), SECRET, NOW + 10 * 365 * 86400)


@pytest.mark.parametrize("secret", [None, ""])
def test_a_missing_secret_refuses_every_request(secret: str | None) -> None:
    raw = json.dumps(fixture("prospect.created")).encode()
    with pytest.raises(SignatureError, match="no webhook secret is configured for this outreach"):
        adapter().verify(request(raw), secret, NOW)


# ------------------------------------------------------------------ dedupe keys


def test_a_redelivery_has_the_same_key() -> None:
    body = fixture("mailing.delivered")
    compact = json.dumps(body, separators=(",", ":")).encode()
    assert piece_of(body).key == piece_of(compact).key
    assert piece_of(body).key.startswith(f"t:{piece_of(body).occurred_at}:")


def test_the_key_ignores_the_delivery_time_when_the_event_has_its_own() -> None:
    body = fixture("prospect.updated")
    retried = with_value(body, "meta.deliveredAt", "2026-11-02T10:05:00.000")
    assert piece_of(body).key == piece_of(retried).key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("prospect.created", "prospect.updated"),
        ("mailing.delivered", "mailing.opened"),
        ("task.created", "task.completed"),
        ("call.created", "call.updated"),
    ],
)
def test_different_events_have_different_keys(first: str, second: str) -> None:
    assert piece_of(fixture(first)).key != piece_of(fixture(second)).key


def test_the_same_change_at_another_time_is_another_event() -> None:
    body = fixture("prospect.updated")
    later = with_value(body, "data.attributes.updatedAt", "2026-11-02T10:00:01.000Z")
    assert piece_of(body).key != piece_of(later).key


def test_events_of_the_stored_piece_use_the_key_as_event_id() -> None:
    piece, found = events(fixture("prospect.updated-owner-removed"))
    assert [event.id for event in found] == [piece.key, piece.key + "#owner"]
    assert json.loads(piece.payload()) == {"body": fixture("prospect.updated-owner-removed")}


def test_a_retry_of_an_event_without_updated_at_has_the_same_key(tmp_path: Path) -> None:
    """An event with no data.attributes.updatedAt (Outreach's published mailing.delivered)
    was keyed by meta.deliveredAt, new on every retry: a retry was a second event, stored
    and applied twice, its later time winning (found by a probe). Its key is what it says."""
    published = Path(__file__).parent / "fixtures" / "published" / "outreach"
    first = json.loads((published / "mailing.delivered.hull.json").read_text())
    retry = copy.deepcopy(first)
    retry["meta"]["deliveredAt"] = "2019-08-12T19:03:01.000+00:00"
    assert piece_of(first).key == piece_of(retry).key
    assert piece_of(first).key.startswith("outreach:h:")
    other = copy.deepcopy(first)
    other["data"]["id"] = 2
    assert piece_of(other).key != piece_of(first).key
    # An event with updatedAt keeps its timed key: a retry has the same updatedAt.
    updated = fixture("prospect.updated-nulls")
    assert piece_of(updated).key.startswith("t:")
