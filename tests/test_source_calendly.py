"""The Calendly adapter: leadsync.sources.calendly, driven through its public hooks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, SignatureError
from leadsync.model import MEETING_OUTCOMES, ActivityType, Event, EventType, RecordRef, RecordType
from leadsync.sources.base import Piece, WebhookRequest
from leadsync.sources.calendly import ADAPTER, KNOWN_EVENTS, OUTCOMES, CalendlyAdapter
from tests import adapters as harness
from tests.adapters import owner_dict, setter

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "calendly"
SIGNING_KEY = "whsec-calendly-test-key"
SENT = 1793631601  # when the test "Calendly" signs
INVITEE = "https://api.calendly.com/scheduled_events/EVT0000000000001/invitees/INV0000000000001"
HOST = {"id": "https://api.calendly.com/users/HOST0000000000001", "email": "bo@acme.test"}
START = "2026-11-05T16:00:00.000Z"
MEETING = {
    "title": "30 Minute Discovery Call",
    "start": START,
    "end": "2026-11-05T16:30:00.000Z",
}
KIM = RecordRef(RecordType.CONTACT, email="kim.lee@globex.test")

adapter = CalendlyAdapter("booking")


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = harness.body("calendly", name)
    return loaded


def signature(raw: bytes, sent: int = SENT, key: str = SIGNING_KEY) -> str:
    return f"t={sent},v1={harness.hmac_hex(key, f'{sent}.'.encode() + raw)}"


def request(raw: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return harness.json_request("https://hooks.leadsync.test/calendly", raw, headers)


def signed(body: Any) -> WebhookRequest:
    raw = json.dumps(body).encode()
    return request(raw, {"calendly-webhook-signature": signature(raw)})


def receive(body: Any) -> Piece:
    return harness.receive(adapter, signed(body))


def convert(body: Any) -> tuple[Piece, list[Event]]:
    """What happens to one body: cut on receipt, converted later in a worker."""
    piece = receive(body)
    return piece, harness.convert(adapter, piece, 3)


# ------------------------------------------------------------------ the module


def test_module_exposes_the_adapter() -> None:
    assert ADAPTER is CalendlyAdapter
    assert CalendlyAdapter.kind == "calendly"


def test_fixtures_cover_every_event_name() -> None:
    names = {json.loads(p.read_text())["body"]["event"] for p in FIXTURES.glob("*.json")}
    assert names == set(KNOWN_EVENTS)


def test_the_outcome_table_uses_canonical_outcomes() -> None:
    assert set(OUTCOMES.values()) <= set(MEETING_OUTCOMES)


# ------------------------------------------------------------------ invitee events


@pytest.mark.parametrize(
    ("fixture", "outcome", "extra"),
    [
        ("invitee.created", "scheduled", {"calendly_status": "active"}),
        (
            "invitee.canceled",
            "canceled",
            {"calendly_status": "canceled", "cancellation_reason": "Conflict with a board meeting"},
        ),
        (
            "invitee.canceled.rescheduled",
            "rescheduled",
            {
                "calendly_status": "canceled",
                "calendly_new_invitee": (
                    "https://api.calendly.com/scheduled_events/EVT0000000000002"
                    "/invitees/INV0000000000002"
                ),
            },
        ),
        ("invitee_no_show.created", "no_show", {"calendly_status": "active"}),
        ("invitee_no_show.deleted", "completed", {"calendly_status": "active"}),
    ],
)
def test_invitee_events_become_the_booked_meeting(
    fixture: str, outcome: str, extra: dict[str, str]
) -> None:
    body = load(fixture)
    piece, found = convert(body)
    assert [e.type for e in found] == [EventType.ACTIVITY, EventType.RECORD]
    meeting, contact = found
    assert meeting.id == piece.key
    assert meeting.activity is ActivityType.MEETING
    assert meeting.external_id == INVITEE
    assert meeting.occurred_at == START
    assert meeting.properties == {"outcome": outcome, **MEETING, **extra}
    assert owner_dict(meeting) == HOST
    assert meeting.associations == (KIM,)
    # The invitee's contact, so that a new contact gets a name; it has no owner.
    assert contact.id == piece.key + "#contact"
    assert contact.object is RecordType.CONTACT
    assert contact.external_id is None
    assert contact.email == "kim.lee@globex.test"
    assert contact.properties == {
        "email": "kim.lee@globex.test",
        "firstname": "Kim",
        "lastname": "Lee",
    }
    assert contact.owner is None
    assert contact.occurred_at == piece.occurred_at
    assert piece.occurred_at is not None
    assert piece.occurred_at[:19] == body["created_at"][:19]


@pytest.mark.parametrize(
    ("event", "rescheduled", "outcome"),
    [
        ("invitee.created", False, "scheduled"),
        ("invitee.created", True, "scheduled"),
        ("invitee.canceled", False, "canceled"),
        ("invitee.canceled", None, "canceled"),
        ("invitee.canceled", True, "rescheduled"),
        ("invitee_no_show.created", False, "no_show"),
        ("invitee_no_show.deleted", False, "completed"),
    ],
)
def test_outcome_table(event: str, rescheduled: bool | None, outcome: str) -> None:
    body = load("invitee.created")
    body["event"] = event
    body["payload"]["rescheduled"] = rescheduled
    meeting = convert(body)[1][0]
    assert meeting.properties["outcome"] == outcome


def test_a_no_show_in_the_no_show_resource_shape_names_the_same_meeting() -> None:
    piece, found = convert(load("invitee_no_show.created.resource_shape"))
    assert len(found) == 1
    [meeting] = found
    assert meeting.external_id == INVITEE
    assert meeting.properties == {"outcome": "no_show"}
    assert meeting.occurred_at == piece.occurred_at == "2026-11-05T16:21:00.000Z"
    assert meeting.owner is None
    assert meeting.associations == ()


def test_routing_form_submissions_give_no_events() -> None:
    piece, found = convert(load("routing_form_submission.created"))
    assert found == []
    assert piece.occurred_at == "2026-11-02T14:59:00.000Z"


@pytest.mark.parametrize(
    "name",
    ["event_type.updated", "event_type.created", "meeting_recap.created", "contact.deleted"],
)
def test_calendlys_other_webhook_families_give_no_events_not_dead_letters(name: str) -> None:
    """Listed by Calendly's sample_webhook_data beside the invitee events: accepted, nothing
    kept (they became dead letters, an alert each, though nothing was wrong)."""
    body = {**load("routing_form_submission.created"), "event": name}
    piece, found = convert(body)
    assert found == [] and piece.occurred_at == "2026-11-02T14:59:00.000Z"


def test_nulls_give_absent_fields() -> None:
    piece, found = convert(load("invitee.created.minimal"))
    assert len(found) == 1  # no email: no contact to name, no #contact event
    [meeting] = found
    assert meeting.properties == {"outcome": "scheduled"}
    assert meeting.occurred_at == piece.occurred_at == "2026-11-02T15:10:00.000Z"
    assert meeting.owner is None
    assert meeting.associations == ()


def test_missing_optional_keys_give_absent_fields() -> None:
    body = {
        "event": "invitee.canceled",
        "created_at": "2026-11-03T08:00:01Z",
        "payload": {"uri": INVITEE},
    }
    [meeting] = convert(body)[1]
    assert meeting.properties == {"outcome": "canceled"}
    assert meeting.occurred_at == "2026-11-03T08:00:01.000Z"


def test_names_given_in_fields_win_over_the_full_name() -> None:
    meeting, contact = convert(load("invitee.created.name_fields"))[1]
    assert contact.properties == {
        "email": "ines@initech.test",
        "firstname": "Inês",
        "lastname": "Duarte",
    }
    # A host without a user uri is named by email.
    assert owner_dict(meeting) == {"id": "di@acme.test", "email": "di@acme.test"}


def test_a_one_word_name_is_a_first_name_and_no_memberships_is_no_owner() -> None:
    meeting, contact = convert(load("invitee.created.one_word_name"))[1]
    assert contact.properties == {"email": "cher@music.test", "firstname": "Cher"}
    assert meeting.owner is None
    assert meeting.associations == (RecordRef(RecordType.CONTACT, email="cher@music.test"),)


def test_the_invitees_numbers_go_to_the_contact_as_given() -> None:
    """The SMS reminder number is the mobile, the number the host calls (an outbound_call
    location) the phone: so the rep's calls find the invitee's contact by number."""
    meeting, contact = convert(load("invitee.created.phones"))[1]
    assert contact.properties == {
        "email": "dana.cruz@umbrella.test",
        "firstname": "Dana",
        "lastname": "Cruz",
        "mobilephone": "+1 415-555-0142",
        "phone": "+1 415-555-0110",
    }
    assert not {"phone", "mobilephone"} & set(meeting.properties)


@pytest.mark.parametrize(
    ("location", "reminder", "expected"),
    [
        ({"type": "outbound_call", "location": "+1 555 0110"}, None, {"phone": "+1 555 0110"}),
        # the host's own line: not the invitee's number
        ({"type": "inbound_call", "location": "+1 555 0100"}, None, {}),
        (
            {"type": "physical", "location": "1 Main St"},
            "+1 555 0142",
            {"mobilephone": "+1 555 0142"},
        ),
        ({"type": "outbound_call", "location": None}, " ", {}),
        (None, None, {}),
    ],
)
def test_which_numbers_are_the_invitees(
    location: dict[str, Any] | None, reminder: str | None, expected: dict[str, str]
) -> None:
    body = load("invitee.created.phones")
    body["payload"]["scheduled_event"]["location"] = location
    body["payload"]["text_reminder_number"] = reminder
    contact = convert(body)[1][1]
    found = {k: v for k, v in contact.properties.items() if k in ("phone", "mobilephone")}
    assert found == expected


@pytest.mark.parametrize(
    ("memberships", "owner"),
    [
        (
            [{"user": None, "user_email": "bo@acme.test"}],
            {"id": "bo@acme.test", "email": "bo@acme.test"},
        ),
        (
            [{"user": "https://api.calendly.com/users/U1"}],
            {"id": "https://api.calendly.com/users/U1", "email": None},
        ),
        ([{"user_name": "Bo Li"}], None),
        ([], None),
    ],
)
def test_the_host_is_the_first_membership(
    memberships: list[dict[str, Any]], owner: dict[str, str | None] | None
) -> None:
    body = load("invitee.created")
    body["payload"]["scheduled_event"]["event_memberships"] = memberships
    meeting = convert(body)[1][0]
    assert owner_dict(meeting) == owner


def test_an_invitee_or_host_email_that_is_not_one_is_passed_over_not_the_meeting() -> None:
    """Text that is not an email address does not make the booking a dead letter: an
    invitee's gives the meeting alone (no contact to name), a host's leaves the host named by
    its user uri."""
    body = load("invitee.created")
    body["payload"]["email"] = "n/a"
    body["payload"]["scheduled_event"]["event_memberships"] = [
        {"user": "https://api.calendly.com/users/U1", "user_email": "bo at acme"}
    ]
    [meeting] = convert(body)[1]
    assert meeting.activity is ActivityType.MEETING and meeting.associations == ()
    assert owner_dict(meeting) == {"id": "https://api.calendly.com/users/U1", "email": None}
    assert meeting.properties["outcome"] == "scheduled"


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "name", ["invitee.updated", "event_types.created", "Invitee.Created", "", None, ["x"]]
)
def test_unknown_event_names_are_event_errors(name: Any) -> None:
    body = load("invitee.created")
    body["event"] = name
    piece = receive(body)  # stored, then dead-lettered by the worker
    said = "required: the event's name" if name is None else "unknown event"
    with pytest.raises(EventError, match=f'field "event": {said}') as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:9", None)
    assert caught.value.where == "inbox:9"
    assert "invitee_no_show.created" in str(caught.value)
    # The families read as nothing are named too (they were left out of what is known).
    assert str(caught.value).endswith("event_type.*, meeting_recap.*, contact.*")


def test_a_body_without_an_event_name_says_it_is_required() -> None:
    """Absent (a connector's sample data without the envelope's ``event``) reads as
    required, not as an unknown event named null."""
    body = load("invitee.created")
    del body["event"]
    piece = receive(body)
    with pytest.raises(EventError) as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:9", None)
    assert str(caught.value).startswith(
        'inbox:9: field "event": required: the event\'s name; known: invitee.created'
    )


def test_a_legacy_v1_webhook_is_a_dead_letter_that_says_to_subscribe_with_v2() -> None:
    # Calendly's API v1 shape: a top-level time, the booking under payload.event, the invitee
    # under payload.invitee, and no created_at.
    body = {
        "event": "invitee.created",
        "time": "2026-11-02T15:00:01Z",
        "payload": {
            "event_type": {"uuid": "ET1", "kind": "One-on-One", "name": "Intro", "duration": 15},
            "event": {
                "uuid": "EV1",
                "start_time": "2026-11-03T12:00:00Z",
                "end_time": "2026-11-03T12:15:00Z",
                "extended_assigned_to": [{"name": "Ana Ng", "email": "ana@acme.test"}],
            },
            "invitee": {"uuid": "IN1", "name": "Kim Lee", "email": "kim.lee@globex.test"},
        },
    }
    piece = receive(body)  # stored, then dead-lettered by the worker
    with pytest.raises(EventError) as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:9", None)
    message = str(caught.value)
    assert 'field "created_at": missing: this is a Calendly API v1 (legacy) webhook' in message
    assert "subscribe with API v2" in message


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (setter("payload.email", 5), "payload.email"),
        (setter("payload.name", ["Kim"]), "payload.name"),
        (setter("payload.uri", 42), "payload.uri"),
        (setter("payload.uri", None), "payload.uri"),
        (setter("payload.status", False), "payload.status"),
        (setter("payload.cancellation", "by host"), "payload.cancellation"),
        (
            setter("payload.scheduled_event.start_time", 1793631600),
            "payload.scheduled_event.start_time",
        ),
        (
            setter("payload.scheduled_event.end_time", "tomorrow"),
            "payload.scheduled_event.end_time",
        ),
        (setter("payload.scheduled_event.name", 30), "payload.scheduled_event.name"),
        (
            setter("payload.scheduled_event.event_memberships", {"user": "u"}),
            "payload.scheduled_event.event_memberships",
        ),
        (
            setter("payload.scheduled_event.event_memberships", ["bo@acme.test"]),
            "payload.scheduled_event.event_memberships.0",
        ),
        (
            setter("payload.scheduled_event.event_memberships.0.user_email", 7),
            "payload.scheduled_event.event_memberships.0.user_email",
        ),
        (
            setter("payload.scheduled_event.event_memberships.0.user", {"uri": "u"}),
            "payload.scheduled_event.event_memberships.0.user",
        ),
        (setter("payload.text_reminder_number", 4155550142), "payload.text_reminder_number"),
        (setter("payload.scheduled_event", "EVT1"), "payload.scheduled_event"),
        (setter("payload", "invitee"), "payload"),
        (setter("payload", None), "payload"),
        (setter("created_at", 1793631601), "created_at"),
        (setter("created_at", None), "created_at"),
    ],
)
def test_wrong_types_name_the_json_path(
    change: Callable[[dict[str, Any]], None], path: str
) -> None:
    body = load("invitee.created")
    change(body)
    with pytest.raises(EventError, match=f'field "{path}"'):
        convert(body)


def test_a_cancellation_whose_rescheduled_flag_is_not_a_boolean_is_refused() -> None:
    body = load("invitee.canceled")
    body["payload"]["rescheduled"] = "yes"
    with pytest.raises(EventError, match='field "payload.rescheduled": must be true or false'):
        convert(body)


def test_a_body_that_is_not_an_object_is_refused_on_receipt() -> None:
    with pytest.raises(EventError, match="must be an object"):
        receive([load("invitee.created")])


# ------------------------------------------------------------------ authenticity


@pytest.mark.parametrize("now", [SENT, SENT + 180, SENT - 180])
def test_a_good_signature_within_the_window_passes(now: int) -> None:
    adapter.verify(signed(load("invitee.created")), SIGNING_KEY, now)


def test_a_good_signature_passes_in_any_part_order() -> None:
    raw = json.dumps(load("invitee.created")).encode()
    t, v1 = signature(raw).split(",")
    adapter.verify(request(raw, {"calendly-webhook-signature": f"{v1}, {t}"}), SIGNING_KEY, SENT)


def header_for(raw: bytes, case: str) -> dict[str, str]:
    if case == "missing":
        return {}
    if case == "wrong key":
        return {"calendly-webhook-signature": signature(raw, key="another-key")}
    if case == "other body":
        return {"calendly-webhook-signature": signature(raw + b" ")}
    if case == "other time":
        good = signature(raw).split("v1=")[1]
        return {"calendly-webhook-signature": f"t={SENT + 1},v1={good}"}
    if case == "no v1":
        return {"calendly-webhook-signature": f"t={SENT}"}
    if case == "not hex":
        return {"calendly-webhook-signature": f"t={SENT},v1={'z' * 64}"}
    return {"calendly-webhook-signature": "garbage"}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "missing header"),
        ("wrong key", "bad signature"),
        ("other body", "bad signature"),
        ("other time", "bad signature"),
        ("no v1", "no v1= part"),
        ("not hex", "not hexadecimal"),
        ("garbage", "malformed"),
    ],
)
def test_a_wrong_signature_is_refused(case: str, message: str) -> None:
    raw = json.dumps(load("invitee.created")).encode()
    with pytest.raises(SignatureError, match=message):
        adapter.verify(request(raw, header_for(raw, case)), SIGNING_KEY, SENT)


@pytest.mark.parametrize(
    ("now", "message"),
    [
        (SENT + 181, "181 s old, 1 s past the window"),
        (SENT - 181, "181 s in the future, 1 s past the window"),
    ],
)
def test_a_stale_or_future_signature_is_refused(now: int, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        adapter.verify(signed(load("invitee.created")), SIGNING_KEY, now)


@pytest.mark.parametrize("secret", [None, ""])
def test_a_missing_secret_refuses_every_request(secret: str | None) -> None:
    with pytest.raises(SignatureError, match="no webhook secret"):
        adapter.verify(signed(load("invitee.created")), secret, SENT)


# ------------------------------------------------------------------ dedupe keys


def test_a_redelivery_has_the_same_key() -> None:
    body = load("invitee.created")
    again = request(json.dumps(body, indent=2).encode())
    assert receive(body).key == adapter.pieces(again)[0].key
    assert receive(copy.deepcopy(body)).key == receive(body).key


@pytest.mark.parametrize(
    "change",
    [
        setter("event", "invitee.canceled"),
        setter("payload.uri", INVITEE.replace("INV0000000000001", "INV0000000000009")),
        setter("created_at", "2026-11-02T15:00:02.000000Z"),
    ],
)
def test_different_events_have_different_keys(change: Callable[[dict[str, Any]], None]) -> None:
    body = load("invitee.created")
    other = copy.deepcopy(body)
    change(other)
    assert receive(body).key != receive(other).key


def test_both_no_show_shapes_key_on_the_invitee() -> None:
    resource_shape = load("invitee_no_show.created.resource_shape")
    invitee_shape = load("invitee_no_show.created")
    invitee_shape["created_at"] = resource_shape["created_at"]
    assert receive(resource_shape).key == receive(invitee_shape).key


def test_every_fixture_has_its_own_key() -> None:
    keys = {receive(json.loads(p.read_text())["body"]).key for p in FIXTURES.glob("*.json")}
    assert len(keys) == len(list(FIXTURES.glob("*.json")))
