"""The Aircall adapter: leadsync.sources.aircall, driven through its public hooks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, SignatureError
from leadsync.model import (
    CALL_OUTCOMES,
    OTHER_PHONES,
    ActivityType,
    Event,
    EventType,
    RecordRef,
    RecordType,
)
from leadsync.sources.aircall import (
    ADAPTER,
    ASSETS_READY,
    CALL_EVENTS,
    FINAL_CALL_EVENTS,
    KNOWN_EVENTS,
    MISSED_CALL_OUTCOMES,
    USER_EVENTS_V2,
    AircallAdapter,
)
from leadsync.sources.base import Piece, WebhookRequest
from leadsync.values import read_call_number
from tests import adapters as harness
from tests.adapters import owner_dict, setter

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "aircall"
TOKEN = "tok-4f1c9a0e"  # the token every fixture carries
NOW = 1793631800.0
CALL_ID = "812345"
STARTED = "2026-11-02T15:00:00.000Z"
AGENT = {"id": "4411", "email": "ana@acme.test"}
CONTACT_REF = RecordRef(RecordType.CONTACT, external_id="9001", email="kim.lee@globex.test")
INBOUND = {
    "title": "Aircall call",
    "direction": "inbound",
    "from_number": "+1 415-555-0142",
    "to_number": "+1 415-555-0100",
    "line_number": "+1 415-555-0100",  # the company's line it was on: one of its own
}
#: What the fixtures of an answered call add on any of its events: when it was answered.
ANSWERED = {**INBOUND, "answered_at": "2026-11-02T15:00:08.000Z"}
FINAL_KEYS = {
    "duration_s",
    "ended_at",
    "outcome",
    "recording_url",
    "aircall_status",
    "aircall_missed_call_reason",
}

adapter = AircallAdapter("phones")


URL = "https://hooks.leadsync.test/aircall"


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = harness.body("aircall", name)
    return loaded


def request(body: Any, raw: bytes | None = None) -> WebhookRequest:
    return harness.json_request(URL, body if raw is None else raw)


def receive(body: Any) -> Piece:
    return harness.receive(adapter, request(body))


def convert(body: Any) -> tuple[Piece, list[Event]]:
    """What happens to one body: cut on receipt, converted later in a worker."""
    piece = receive(body)
    return piece, harness.convert(adapter, piece, 7)


def events(name: str) -> list[Event]:
    return convert(load(name))[1]


def only(name: str) -> Event:
    found = events(name)
    assert len(found) == 1, found
    return found[0]


def stated(found: list[Event]) -> Event:
    """The event of a finished call that states its outcome: the only one, or for a missed
    call (call.ended: nobody answered, no voicemail link) the first, which dates that outcome
    at the call's start; the second is the same call without it, at ``timestamp``."""
    if len(found) == 2:
        missed, rest = found
        assert missed.id == rest.id + "#missed"
        # Dated at the call's start (its occurred_at), the rest at the event's timestamp.
        assert missed.changed_at is None and missed.occurred_at == rest.occurred_at
        assert rest.changed_at is not None and rest.changed_at > rest.occurred_at
        assert rest.properties == {k: v for k, v in missed.properties.items() if k != "outcome"}
        return missed
    [event] = found
    return event


# ------------------------------------------------------------------ the module


def test_module_exposes_the_adapter() -> None:
    assert ADAPTER is AircallAdapter
    assert AircallAdapter.kind == "aircall"


def test_fixtures_cover_every_event_name() -> None:
    names = {json.loads(p.read_text())["body"]["event"] for p in FIXTURES.glob("*.json")}
    assert names == set(KNOWN_EVENTS)


# ------------------------------------------------------------------ calls


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("call.created", None),
        ("call.ringing_on_agent", AGENT),
        ("call.answered", AGENT),
        ("call.hungup", AGENT),
        ("call.assigned", AGENT),
    ],
)
def test_call_lifecycle_events_become_the_same_call_without_final_values(
    name: str, owner: dict[str, str] | None
) -> None:
    piece, found = convert(load(name))
    assert len(found) == 1
    event = found[0]
    assert event.id == piece.key
    assert event.type is EventType.ACTIVITY
    assert event.activity is ActivityType.CALL
    assert event.external_id == CALL_ID
    assert event.occurred_at == STARTED
    # Ringing, nobody has answered it yet; answered, every later event says when.
    assert event.properties == (INBOUND if owner is None or "ringing" in name else ANSWERED)
    assert owner_dict(event) == owner
    assert event.associations == (CONTACT_REF,)


def test_hungup_carries_a_duration_that_is_not_yet_final() -> None:
    body = load("call.hungup")
    assert body["data"]["duration"] == 103 and body["data"]["status"] == "done"
    assert FINAL_KEYS.isdisjoint(only("call.hungup").properties)


def test_call_ended_carries_the_final_values() -> None:
    event = only("call.ended")
    assert event.external_id == CALL_ID
    assert event.occurred_at == STARTED
    assert event.properties == {
        **ANSWERED,
        "tags": ["Hot lead"],
        "comments": ["Asked for pricing"],
        "outcome": "connected",
        "duration_s": 103,  # the whole call, ringing included
        "ended_at": "2026-11-02T15:01:43.000Z",  # with answered_at: 95 s of talk
        "recording_url": "https://recordings.aircall.test/812345.mp3?token=abc",
        "aircall_status": "done",
    }
    assert owner_dict(event) == AGENT
    assert event.associations == (CONTACT_REF,)


def test_call_tagged_and_commented_add_tags_and_comments() -> None:
    assert only("call.tagged").properties == {**ANSWERED, "tags": ["Hot lead", "Demo"]}
    # A blank comment is no comment.
    assert only("call.commented").properties == {**ANSWERED, "comments": ["Asked for pricing"]}


def test_a_tag_or_comment_event_gives_the_whole_list_even_empty() -> None:
    """call.untagged removing the last tag gives ``tags: []`` (it clears them); an event
    about something else gives no empty list (it says nothing about the tags)."""
    assert only("call.untagged").properties == {**ANSWERED, "tags": []}
    for name, key in (("call.tagged", "tags"), ("call.commented", "comments")):
        body = load("call.untagged")
        body["event"] = name
        assert convert(body)[1][0].properties[key] == []
    for name in ("call.created", "call.assigned", "call.archived"):
        body = load("call.untagged")
        body["event"] = name
        assert {"tags", "comments"}.isdisjoint(convert(body)[1][0].properties)


def test_any_call_event_with_the_voicemails_link_gives_the_voicemail_outcome() -> None:
    """call.comm_assets_generated brings the link call.ended lacked (null until the assets
    are generated): the call is a voicemail, whatever came before."""
    for name in (ASSETS_READY, "call.tagged", "call.archived"):
        body = load("call.voicemail_left")
        body["event"] = name
        [event] = convert(body)[1]
        assert event.properties["outcome"] == "voicemail", name
        assert (FINAL_KEYS - {"outcome", "recording_url"}).isdisjoint(event.properties)


def test_a_missed_call_ended_dates_its_outcome_at_the_calls_start() -> None:
    piece, found = convert(load("call.ended.missed"))
    missed, rest = found
    assert (missed.id, rest.id) == (f"{piece.key}#missed", piece.key)
    assert (missed.occurred_at, missed.changed_at) == (STARTED, None)
    assert rest.changed_at == piece.occurred_at == "2026-11-02T15:01:30.000Z"
    assert missed.properties["outcome"] == "no_answer" and "outcome" not in rest.properties
    # Answered, or a voicemail: one event, at its time.
    for name in ("call.ended", "call.ended.voicemail"):
        piece, [event] = convert(load(name))
        assert event.changed_at == piece.occurred_at


@pytest.mark.parametrize("raw_digits", ["anonymous", "", "  ", "Private Number", None])
def test_a_hidden_callers_number_is_passed_on_for_the_engine_to_ask(
    raw_digits: str | None,
) -> None:
    body = load("call.ended.unknown_caller")
    body["data"]["raw_digits"] = raw_digits
    [event] = convert(body)[1]
    assert event.properties["from_number"] == (raw_digits or "").strip()
    assert read_call_number(event.properties["from_number"]).withheld  # type: ignore[union-attr]
    assert event.properties["to_number"] == "+1 415-555-0100"


def test_a_call_without_a_direction_gives_the_other_partys_number_alone() -> None:
    """``raw_digits`` is the other party's number whichever way the call went; which end
    is which is unknown, so the line's own number is not given as either end (the engine
    would take it for the other party's): only as the company's line, ``line_number``."""
    body = load("call.ended.unknown_caller")
    body["data"]["direction"] = None
    [event] = convert(body)[1]
    assert {k: v for k, v in event.properties.items() if "number" in k or k == "direction"} == {
        "to_number": "+1 415-555-0199",
        "line_number": "+1 415-555-0100",
    }


def test_voicemail_left_is_final_with_the_voicemail_as_recording() -> None:
    event = only("call.voicemail_left")
    assert event.owner is None
    assert event.properties == {
        **INBOUND,
        "outcome": "voicemail",
        "duration_s": 47,
        "recording_url": "https://voicemails.aircall.test/812345.mp3?token=def",
        "aircall_status": "done",
        "aircall_missed_call_reason": "agents_did_not_answer",
    }


def test_outbound_numbers_are_the_other_way_round() -> None:
    event = stated(events("call.ended.outbound_unanswered"))
    assert event.properties["direction"] == "outbound"
    assert event.properties["from_number"] == "+1 415-555-0100"
    assert event.properties["to_number"] == "+44 20 7946 0018"
    assert event.properties["line_number"] == "+1 415-555-0100"  # the line, either way
    assert event.associations == ()


@pytest.mark.parametrize(
    ("fixture", "outcome", "status", "reason"),
    [
        ("call.ended", "connected", "done", None),
        ("call.ended.voicemail", "voicemail", "done", "agents_did_not_answer"),
        ("call.voicemail_left", "voicemail", "done", "agents_did_not_answer"),
        ("call.ended.missed", "no_answer", "done", "no_available_agent"),
        ("call.ended.outbound_unanswered", "no_answer", "done", None),
        ("call.ended.nulls", "no_answer", None, None),
    ],
)
def test_outcome_of_finished_calls(
    fixture: str, outcome: str, status: str | None, reason: str | None
) -> None:
    properties = stated(events(fixture)).properties
    assert properties["outcome"] == outcome
    assert properties.get("aircall_status") == status
    assert properties.get("aircall_missed_call_reason") == reason


def ended_call(**data: Any) -> dict[str, Any]:
    body = load("call.ended.missed")
    body["data"].update(data)
    return body


# The vendor -> canonical table, written out here so that a change to it shows.
MISSED_REASONS = [
    ("no_available_agent", "no_answer"),
    ("agents_did_not_answer", "no_answer"),
    ("out_of_opening_hours", "no_answer"),
    ("short_abandoned", "no_answer"),
    ("abandoned_in_ivr", "no_answer"),
    ("abandoned_in_classic", "no_answer"),
]


def test_the_missed_call_table_is_the_documented_one() -> None:
    assert dict(MISSED_REASONS) == MISSED_CALL_OUTCOMES
    assert set(MISSED_CALL_OUTCOMES.values()) <= set(CALL_OUTCOMES)


@pytest.mark.parametrize(
    ("reason", "outcome"), [*MISSED_REASONS, ("a_reason_from_2030", "no_answer")]
)
def test_missed_call_reason_table(reason: str, outcome: str) -> None:
    event = stated(convert(ended_call(missed_call_reason=reason))[1])
    assert event.properties["outcome"] == outcome
    assert event.properties["aircall_missed_call_reason"] == reason


@pytest.mark.parametrize(
    ("data", "outcome"),
    [
        # answered_at beats everything, then a voicemail, then the missed reason.
        ({"answered_at": 1793631608, "voicemail": "https://vm.test/1"}, "connected"),
        ({"voicemail": "https://vm.test/1", "missed_call_reason": "short_abandoned"}, "voicemail"),
        ({"missed_call_reason": "out_of_opening_hours"}, "no_answer"),
        ({"missed_call_reason": None}, "no_answer"),
    ],
)
def test_outcome_rules_are_applied_in_order(data: dict[str, Any], outcome: str) -> None:
    event = stated(convert(ended_call(**data))[1])
    assert event.properties["outcome"] == outcome


@pytest.mark.parametrize("name", sorted(set(CALL_EVENTS) - {*FINAL_CALL_EVENTS, ASSETS_READY}))
def test_only_final_events_carry_final_values(name: str) -> None:
    body = load("call.ended")
    body["event"] = name
    [event] = convert(body)[1]
    assert FINAL_KEYS.isdisjoint(event.properties)
    assert event.properties["tags"] == ["Hot lead"]


def test_assets_ready_carries_the_recording_alone_as_its_lasting_page() -> None:
    event = only(ASSETS_READY)
    assert event.external_id == CALL_ID
    assert event.properties == {
        **ANSWERED,
        "tags": ["Hot lead"],
        "comments": ["Asked for pricing"],
        "recording_url": "https://assets.aircall.test/calls/812345/recording",
    }


@pytest.mark.parametrize(
    ("links", "expected"),
    [
        (
            {"asset": "https://a.test/page", "recording": "https://r.test/1.mp3"},
            "https://a.test/page",
        ),
        ({"asset": None, "recording": "https://r.test/1.mp3"}, "https://r.test/1.mp3"),
        (
            {"asset": None, "recording": None, "voicemail": "https://v.test/1.mp3"},
            "https://v.test/1.mp3",
        ),
        ({"asset": None, "recording": None, "voicemail": None}, None),
    ],
)
def test_the_recording_link_prefers_the_lasting_asset_page(
    links: dict[str, Any], expected: str | None
) -> None:
    for name in ("call.ended", ASSETS_READY):
        body = load("call.ended")
        body["event"] = name
        body["data"].update(links)
        [event] = convert(body)[1]
        assert event.properties.get("recording_url") == expected, name


def test_nulls_give_absent_fields() -> None:
    piece, [event] = convert(load("call.ended.nulls"))
    assert event.external_id == "812399"
    assert event.occurred_at == piece.occurred_at == "2026-11-02T15:03:20.000Z"
    assert event.properties == {"title": "Aircall call", "outcome": "no_answer"}
    assert event.owner is None
    assert event.associations == ()


def test_missing_optional_keys_give_absent_fields() -> None:
    body = load("call.created")
    body["data"] = {"id": 812345}
    del body["resource"]
    [event] = convert(body)[1]
    assert event.properties == {"title": "Aircall call"}
    assert event.occurred_at == "2026-11-02T15:00:00.000Z"
    assert event.owner is None
    assert event.associations == ()


@pytest.mark.parametrize(
    ("contact", "expected"),
    [
        ({"id": 9001, "emails": []}, (RecordRef(RecordType.CONTACT, external_id="9001"),)),
        (
            {"id": None, "emails": [{"value": "x@y.test"}]},
            (RecordRef(RecordType.CONTACT, email="x@y.test"),),
        ),
        ({"id": None, "emails": None, "first_name": "Kim"}, ()),
        (None, ()),
    ],
)
def test_the_contact_association_names_what_the_payload_has(
    contact: dict[str, Any] | None, expected: tuple[RecordRef, ...]
) -> None:
    """Without the other party's number (withheld here), a contact without an email is named
    by its id; with one, it is not named: the number finds the contact that has it."""
    body = load("call.answered")
    body["data"]["contact"] = contact
    body["data"]["raw_digits"] = "anonymous"
    [event] = convert(body)[1]
    assert event.associations == expected
    body["data"]["raw_digits"] = "+1 415-555-0199"
    [event] = convert(body)[1]
    assert event.associations == tuple(ref for ref in expected if ref.email is not None)


def test_a_user_without_id_or_email_is_no_owner() -> None:
    body = load("call.answered")
    body["data"]["user"] = {"id": None, "email": None, "name": "Ana Ng"}
    [event] = convert(body)[1]
    assert event.owner is None


def test_text_that_is_not_an_email_is_passed_over_not_the_call() -> None:
    """A redacted or mistyped agent address (``fr222er.com``) and a contact's ``n/a`` do not
    make the call a dead letter nobody can fix: the agent is named by its id, the contact by
    its id and its next email (as the other adapters drop a vendor's junk address)."""
    body = load("call.ended")
    body["data"]["user"] = {"id": 456, "email": "fr222er.com", "name": "Fred"}
    body["data"]["contact"] = {
        "id": 77,
        "emails": [{"label": "Work", "value": "n/a"}, {"label": "Home", "value": " Kim@X.Test "}],
    }
    [event] = convert(body)[1]
    assert event.owner is not None
    assert (event.owner.id, event.owner.email) == ("456", None)
    assert event.associations == (
        RecordRef(RecordType.CONTACT, external_id="77", email="kim@x.test"),
    )
    assert event.properties["duration_s"] == body["data"]["duration"]

    body["data"]["user"] = {"id": None, "email": "nobody"}
    body["data"]["contact"] = {"id": None, "emails": [{"value": "unknown"}]}
    [event] = convert(body)[1]
    assert (event.owner, event.associations) == (None, ())


def test_a_contact_whose_only_email_is_not_one_is_still_the_contact() -> None:
    body = load("contact.created")
    body["data"]["emails"] = [{"label": "Work", "value": "—"}]
    [event] = convert(body)[1]
    assert event.external_id == "9001"
    assert "email" not in event.properties
    assert event.email is None


# ------------------------------------------------------------------ contacts and users


def test_contact_created_becomes_a_contact_record_without_owner() -> None:
    piece, [event] = convert(load("contact.created"))
    assert event.id == piece.key
    assert event.type is EventType.RECORD
    assert event.object is RecordType.CONTACT
    assert event.external_id == "9001"
    assert event.email == "kim.lee@globex.test"
    assert event.occurred_at == "2026-11-02T15:05:00.000Z"
    assert event.properties == {
        "firstname": "Kim",
        "lastname": "Lee",
        "company": "Globex",
        "email": "kim.lee@globex.test",
        "mobilephone": "+14155550142",  # labelled Mobile
        "phone": None,  # the whole list has no other number (phone_list_complete)
        **dict.fromkeys(OTHER_PHONES),
    }
    assert event.owner is None
    assert event.associations == ()


def test_a_contact_with_both_numbers_maps_both_as_given() -> None:
    """The first Mobile number (any case) is the mobile, the first other one the phone;
    numbers are only trimmed, never reformatted (the engine reads them as E.164)."""
    event = only("contact.updated.phones")
    assert event.properties["phone"] == "+33 1 76 36 06 95"  # Work; Home comes after it
    assert event.properties["mobilephone"] == "+33 6 12 34 56 78"


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        # The list is the contact's whole list: a kind of number it lacks is given null.
        (
            [{"label": "Work", "value": "+1 555 0100"}],
            {"phone": "+1 555 0100", "mobilephone": None},
        ),
        (
            [{"label": "MOBILE", "value": "+1 555 0142"}],
            {"phone": None, "mobilephone": "+1 555 0142"},
        ),
        (
            [{"label": None, "value": "+1 555 0100"}],
            {"phone": "+1 555 0100", "mobilephone": None},
        ),
        ([{"value": "+1 555 0100"}], {"phone": "+1 555 0100", "mobilephone": None}),
        (
            [
                {"label": "Home", "value": "+1 555 0177"},
                {"label": "Mobile", "value": " "},
                {"label": " mobile ", "value": "+1 555 0142"},
                {"label": "Mobile", "value": "+1 555 0143"},
                {"label": "Work", "value": "+1 555 0100"},
            ],
            {"phone": "+1 555 0177", "mobilephone": "+1 555 0142"},
        ),
        ([], {"phone": None, "mobilephone": None}),  # every number removed
        (None, {}),  # no list: nothing said of the numbers
    ],
)
def test_contact_numbers_by_label(
    numbers: list[dict[str, Any]] | None, expected: dict[str, str | None]
) -> None:
    body = load("contact.created")
    body["data"]["phone_numbers"] = numbers
    [event] = convert(body)[1]
    found = {k: v for k, v in event.properties.items() if k in ("phone", "mobilephone")}
    assert found == expected


def test_a_call_with_no_contact_keeps_its_numbers_and_direction() -> None:
    """Aircall knew nobody with the number: the call is still an activity (not a dead
    letter) with the other party's number, for the engine to match by number."""
    body = load("call.ended.unknown_caller")
    assert body["data"]["contact"] is None
    event = only("call.ended.unknown_caller")
    assert event.type is EventType.ACTIVITY
    assert event.activity is ActivityType.CALL
    assert event.associations == ()
    assert event.properties["direction"] == "inbound"
    assert event.properties["from_number"] == "+1 415-555-0199"  # raw_digits, as sent
    assert event.properties["to_number"] == "+1 415-555-0100"  # the Aircall line
    assert owner_dict(event) == AGENT
    for name in CALL_EVENTS:  # every event of such a call, final or not
        body["event"] = name
        [event] = convert(body)[1]
        assert {"direction", "from_number", "to_number"} <= set(event.properties)


def test_contact_updated_leaves_out_what_it_lacks() -> None:
    event = only("contact.updated")
    assert event.external_id == "9001"
    assert event.properties == {"firstname": "Kimberly"}
    assert None not in event.properties.values()


@pytest.mark.parametrize(
    "name", ["contact.deleted", "user.deleted", "user.deleted.v2", "user.updated.no_id"]
)
def test_deletions_and_users_without_id_give_no_events(name: str) -> None:
    piece, found = convert(load(name))
    assert piece.key.startswith(f"t:{piece.occurred_at}:")
    assert found == []


@pytest.mark.parametrize(
    "name",
    [
        "user.created",
        "user.updated",
        "user.opened",
        "user.closed",
        "user.connected",
        "user.disconnected",
        "user.wut_start",
        "user.wut_end",
    ],
)
def test_user_events_fill_the_directory(name: str) -> None:
    piece, [event, *lines] = convert(load(name))
    assert all(line.type is EventType.LINE for line in lines)  # V1's numbers: the user's lines
    assert event.id == piece.key
    assert event.type is EventType.USER
    assert owner_dict(event) == AGENT
    assert event.properties == {"name": "Ana Ng"}
    assert event.occurred_at == piece.occurred_at


def test_a_v1_user_event_names_the_users_lines_as_the_companys() -> None:
    """V1's user object lists the lines the user is on (``numbers``): each is a ``line``
    event after the user event, with its number, name and id (V2's has no ``numbers``)."""
    piece, [user, line] = convert(load("user.created"))
    assert user.type is EventType.USER
    assert (line.type, line.id, line.external_id) == (EventType.LINE, f"{piece.key}#line0", "1201")
    assert line.properties == {"number": "+1 415-555-0100", "name": "Sales US"}
    assert line.occurred_at == piece.occurred_at


@pytest.mark.parametrize("name", ["number.created", "number.opened", "number.closed"])
def test_a_number_event_is_one_of_the_companys_lines(name: str) -> None:
    """The line, then each user who takes its calls, as a user event fills the directory."""
    piece, [line, user] = convert(load(name))
    assert (line.type, line.id, line.external_id) == (EventType.LINE, piece.key, "1201")
    assert line.properties == {"number": "+1 415-555-0100", "name": "Sales US"}
    assert (user.type, user.id) == (EventType.USER, piece.key + "#user0")
    assert owner_dict(user) == AGENT and user.owner is not None and user.owner.name == "Ana Ng"


def test_a_deleted_number_is_read_as_nothing_and_a_line_without_digits_too() -> None:
    assert convert(load("number.deleted"))[1] == []
    body = load("number.opened")
    body["data"]["digits"] = None
    assert [e.type for e in convert(body)[1]] == [EventType.USER]  # no line; its user still


def test_a_lines_users_that_are_no_list_of_users_name_the_field() -> None:
    body = load("number.created")
    body["data"]["users"] = {"id": 4411}
    with pytest.raises(EventError, match=r'field "data.users": must be an array of users'):
        convert(body)
    body["data"]["users"] = [{"id": 4411, "email": "ana@acme.test"}, "ana"]
    with pytest.raises(EventError, match=r'field "data.users.1": must be an object'):
        convert(body)
    body["data"]["users"] = [{"id": {"n": 1}}]
    with pytest.raises(EventError, match=r'field "data.users.0.id": must be a string'):
        convert(body)
    body["data"]["users"] = [{"name": "nobody"}, {"email": "bo@acme.test"}, None]
    with pytest.raises(EventError, match=r'field "data.users.2": must be an object'):
        convert(body)
    body["data"]["users"] = [{"name": "nobody"}, {"email": "bo@acme.test"}]
    assert [e.type for e in convert(body)[1]] == [EventType.LINE]  # nobody named by an id


def test_a_users_numbers_that_are_no_list_of_lines_name_the_field() -> None:
    body = load("user.created")
    body["data"]["numbers"] = {"digits": "+1 415-555-0100"}
    with pytest.raises(EventError, match=r'field "data.numbers": must be an array'):
        convert(body)
    body["data"]["numbers"] = [{"id": 1201, "digits": 14155550100}]
    with pytest.raises(EventError, match=r'field "data.numbers.0.digits": must be a string'):
        convert(body)


@pytest.mark.parametrize("name", USER_EVENTS_V2)
def test_user_events_v2_fill_the_directory_like_v1(name: str) -> None:
    piece, [event] = convert(load(name))
    assert event.id == piece.key
    assert event.type is EventType.USER
    assert owner_dict(event) == AGENT
    assert event.properties == {"name": "Ana Ng"}
    assert event.occurred_at == piece.occurred_at


def test_the_v2_names_are_the_published_ones() -> None:
    published = {
        f"user.{action}.v2"
        for action in (
            "created",
            "deleted",
            "connected",
            "disconnected",
            "opened",
            "closed",
            "wut_start",
            "wut_end",
        )
    }
    assert {name for name in KNOWN_EVENTS if name.endswith(".v2")} == published


def test_a_v2_user_without_id_gives_nothing_and_its_extra_fields_are_not_read() -> None:
    body = load("user.closed.v2")
    assert body["data"]["substatus"] == "out_for_lunch" and "numbers" not in body["data"]
    del body["data"]["id"]
    assert convert(body)[1] == []


def test_an_unpublished_v2_name_is_a_dead_letter() -> None:
    body = load("user.created.v2")
    body["event"] = "user.updated.v2"
    piece = receive(body)
    with pytest.raises(
        EventError, match="unknown event 'user.updated.v2'; known: .*user.created.v2"
    ):
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:3", None)


def test_a_user_without_email_or_name_is_still_a_user() -> None:
    event = only("user.updated.no_email")
    assert owner_dict(event) == {"id": "4412", "email": None}
    assert event.properties == {}


# ------------------------------------------------------------------ refusals


def test_another_call_event_must_still_be_about_a_call() -> None:
    body = load("call.ended")
    body["event"], body["resource"] = "call.transferred", "user"
    with pytest.raises(
        EventError,
        match=r"'user' does not match event 'call.transferred'; allowed: call \(or none\)",
    ):
        adapter.events_of(receive(body).payload(), "k", 1, None, None)


def test_other_call_events_update_the_call_without_final_values() -> None:
    body = load("call.ended")
    body["event"] = "call.archived"
    [event] = adapter.events_of(receive(body).payload(), "k", 1, None, None)
    assert event.type is EventType.ACTIVITY and event.external_id == str(body["data"]["id"])
    assert "outcome" not in event.properties and "duration_s" not in event.properties


@pytest.mark.parametrize("name", ["numbers.created", "webhook.created", "Call.Ended", "", None, 5])
def test_unknown_event_names_are_event_errors(name: Any) -> None:
    body = load("call.ended")
    body["event"] = name
    piece = receive(body)  # stored, then dead-lettered by the worker
    said = "required: the event's name" if name is None else "unknown event"
    with pytest.raises(EventError, match=f'field "event": {said}') as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:3", None)
    assert caught.value.where == "inbox:3"
    assert "call.ended" in str(caught.value)


def test_a_resource_that_does_not_match_the_event_is_refused() -> None:
    body = load("call.ended")
    body["resource"] = "contact"
    with pytest.raises(EventError, match='field "resource"'):
        convert(body)


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda body: body.pop(key)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (setter("data.user.email", 5), "data.user.email"),
        (setter("data.user.id", True), "data.user.id"),
        (setter("data.user", "ana"), "data.user"),
        (setter("data.duration", "long"), "data.duration"),
        (setter("data.duration", -3), "data.duration"),
        (setter("data.direction", "sideways"), "data.direction"),
        (setter("data.started_at", True), "data.started_at"),
        (setter("data.answered_at", "soon"), "data.answered_at"),
        (setter("data.number", ["+1"]), "data.number"),
        (setter("data.contact.emails", "kim@globex.test"), "data.contact.emails"),
        (setter("data.contact.emails", ["kim@globex.test"]), "data.contact.emails.0"),
        (setter("data.contact.emails.0.value", 7), "data.contact.emails.0.value"),
        (setter("data.tags", [{"id": 5, "name": 3}]), "data.tags.0.name"),
        (setter("data.comments", {"content": "x"}), "data.comments"),
        (setter("data.id", {"n": 1}), "data.id"),
        (setter("data.id", None), "data.id"),
        (setter("data", "call"), "data"),
        (drop("data"), "data"),
        (setter("timestamp", "yesterday"), "timestamp"),
        (drop("timestamp"), "timestamp"),
    ],
)
def test_wrong_types_name_the_json_path(
    change: Callable[[dict[str, Any]], None], path: str
) -> None:
    body = load("call.ended")
    change(body)
    with pytest.raises(EventError, match=f'field "{path}"'):
        convert(body)


def test_a_contact_phone_that_is_not_a_string_is_refused() -> None:
    body = load("contact.created")
    body["data"]["phone_numbers"] = [{"value": 4155550142}]
    with pytest.raises(EventError, match='field "data.phone_numbers.0.value"'):
        convert(body)


def test_a_body_that_is_not_an_object_is_refused_on_receipt() -> None:
    with pytest.raises(EventError, match="must be an object"):
        receive([load("call.ended")])


# ------------------------------------------------------------------ authenticity


def test_the_right_token_passes() -> None:
    req = request(load("call.ended"))
    adapter.verify(req, TOKEN, NOW)
    assert adapter.pieces(req)[0].body["event"] == "call.ended"


@pytest.mark.parametrize(
    ("body", "raw", "secret", "message"),
    [
        ({"event": "call.ended", "token": "tok-wrong"}, None, TOKEN, "does not match"),
        ({"event": "call.ended", "token": TOKEN.upper()}, None, TOKEN, "does not match"),
        ({"event": "call.ended"}, None, TOKEN, "no token"),
        ({"event": "call.ended", "token": 12345}, None, TOKEN, "not a string"),
        ([{"token": TOKEN}], None, TOKEN, "must be a JSON object"),
        ({"event": "call.ended", "token": TOKEN}, None, None, "no webhook secret"),
        ({"event": "call.ended", "token": ""}, None, "", "no webhook secret"),
    ],
)
def test_a_wrong_or_missing_token_is_refused(
    body: Any, raw: bytes | None, secret: str | None, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        adapter.verify(request(body, raw), secret, NOW)


def test_a_body_that_is_not_json_is_malformed_not_forged() -> None:
    """It cannot be checked, so it is refused as malformed (400), with where it broke."""
    with pytest.raises(EventError, match=r"not valid JSON.*column 1"):
        adapter.verify(request(None, b"token=" + TOKEN.encode()), TOKEN, NOW)


def test_the_token_is_checked_but_never_stored() -> None:
    body = load("call.ended")
    body["token"] = TOKEN
    piece = receive(body)
    assert TOKEN not in piece.payload() and "token" not in piece.body


@pytest.mark.parametrize("key", ["Token", "TOKEN", " token ", "tok\u0065N"])
def test_the_token_is_never_stored_whatever_the_case_of_its_key(key: str) -> None:
    """Aircall's own ``token`` is checked; the same field spelled in another case (or with
    blanks around it) is the same secret: it is not kept in the stored piece either, and the
    event is read as before."""
    body = load("call.ended")
    body["token"] = TOKEN
    body[key] = TOKEN + "-copy"
    request_ = request(body)
    adapter.verify(request_, TOKEN, NOW)
    piece = harness.receive(adapter, request_)
    assert TOKEN not in piece.payload()
    assert all(k.strip().lower() != "token" for k in piece.body)
    [event] = harness.convert(adapter, piece, 7)
    assert event.external_id == CALL_ID


def test_a_captured_line_with_only_a_capitalised_token_does_not_keep_it() -> None:
    """``leadsync ingest`` does not verify (the line was captured after its check): a
    ``Token`` key is stripped all the same."""
    body = {key: value for key, value in load("call.ended").items() if key != "token"}
    piece = receive({**body, "Token": TOKEN})
    assert TOKEN not in piece.payload() and "Token" not in piece.body


def test_token_errors_never_show_the_token() -> None:
    with pytest.raises(SignatureError) as caught:
        adapter.verify(request({"token": "tok-wrong"}), TOKEN, NOW)
    assert TOKEN not in str(caught.value) and "tok-wrong" not in str(caught.value)


# ------------------------------------------------------------------ dedupe keys


def test_a_redelivery_has_the_same_key() -> None:
    body = load("call.ended")
    again = request(b"", json.dumps(body, indent=4).encode())
    assert receive(body).key == adapter.pieces(again)[0].key
    assert receive(copy.deepcopy(body)).key == receive(body).key


@pytest.mark.parametrize(
    "change",
    [
        setter("event", "call.hungup"),
        setter("data.id", 812346),
        setter("timestamp", 1793631736),
    ],
)
def test_different_events_have_different_keys(change: Callable[[dict[str, Any]], None]) -> None:
    body = load("call.ended")
    other = copy.deepcopy(body)
    change(other)
    assert receive(body).key != receive(other).key


def test_every_fixture_has_its_own_key_and_the_vendor_time() -> None:
    pieces = {p.stem: receive(json.loads(p.read_text())["body"]) for p in FIXTURES.glob("*.json")}
    assert len({piece.key for piece in pieces.values()}) == len(pieces)
    assert pieces["call.ended"].occurred_at == "2026-11-02T15:02:15.000Z"
