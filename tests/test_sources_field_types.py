"""A field of another JSON type than the vendor's usual one, read by its kind
(docs/WEBHOOKS.md, "Field types"; ``src/leadsync/sources/forms.py``):

- a flag or a unix time in another plain form is read as what it means, by one shared reader
  every adapter uses (Pipedrive ``done``, Calendly ``rescheduled``, HubSpot
  ``associationRemoved`` …; Pipedrive ``timestamp_micro``, Salesforce's epoch milliseconds);
  a value that is none of those forms is still refused, naming the field and the forms;
- a field that only labels or points at something (a list entry's label, a link, Calendly's
  location, a display name) of another type reads as the field absent: the event gives what
  it gives without it, never a dead letter, and nothing is made up for it;
- what identifies the event (ids, the event's name) of another type is still refused, naming
  the field and what is allowed.

Each through the adapter as intake and a worker run it (:func:`tests.adapters.outcome`), and
the known cases through ``leadsync ingest`` into a workspace.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from leadsync.errors import EventError
from leadsync.sources.forms import (
    FLAG_FORMS,
    PHONE_AS_NUMBER,
    epoch_number,
    flag,
    flag_value,
    lenient_string,
    phone_value,
)
from leadsync.workspace import Workspace
from tests.adapters import envelope, outcome
from tests.helpers import workspace_config

# ------------------------------------------------------------------ reading a fixture


def events(kind: str, name: str, body: Any) -> list[dict[str, Any]]:
    """The canonical events of fixture ``name`` with ``body`` in place of its own, without
    their ids (a key hashed from the body differs from one body to another)."""
    found = outcome(kind, json.dumps({**envelope(kind, name), "body": body}))
    assert "error" not in found, found["error"]
    return [{k: v for k, v in e.items() if k != "id"} for group in found["events"] for e in group]


def refusal(kind: str, name: str, body: Any) -> str:
    found = outcome(kind, json.dumps({**envelope(kind, name), "body": body}))
    assert "error" in found, found
    return str(found["error"])


def changed(kind: str, name: str, *edits: tuple[str, Any]) -> Any:
    """Fixture ``name``'s body with each ``(path, value)`` put in (a dotted path, list
    indexes as numbers)."""
    body = copy.deepcopy(envelope(kind, name)["body"])
    for path, value in edits:
        parent, last = _parent(body, path)
        parent[last] = value
    return body


def without(kind: str, name: str, path: str) -> Any:
    """Fixture ``name``'s body without the field (or list entry) at ``path``."""
    body = copy.deepcopy(envelope(kind, name)["body"])
    parent, last = _parent(body, path)
    del parent[last]
    return body


def _parent(body: Any, path: str) -> tuple[Any, Any]:
    *steps, last = path.split(".")
    node = body
    for step in steps:
        node = node[int(step)] if isinstance(node, list) else node[step]
    return node, int(last) if isinstance(node, list) else last


def props(found: list[dict[str, Any]], index: int = 0) -> dict[str, Any]:
    return dict(found[index].get("properties", {}))


# ------------------------------------------------------------------ the shared readers

TRUE_FORMS = [True, 1, 1.0, "true", "TRUE", " True ", "1", " 1 "]
FALSE_FORMS = [False, 0, 0.0, "false", "False", "0", " 0 "]
NOT_FLAGS = ["yes", "no", "2", 2, -1, 0.5, ["true"], {"value": True}]


@pytest.mark.parametrize("value", TRUE_FORMS)
def test_a_flag_is_true_in_each_of_its_forms(value: Any) -> None:
    assert flag_value(value) is True
    assert flag({"done": value}, "done") is True


@pytest.mark.parametrize("value", FALSE_FORMS)
def test_a_flag_is_false_in_each_of_its_forms(value: Any) -> None:
    assert flag_value(value) is False
    assert flag({"done": value}, "done") is False


@pytest.mark.parametrize("value", NOT_FLAGS)
def test_a_value_that_is_no_flag_is_refused_naming_the_field_and_the_forms(value: Any) -> None:
    assert flag_value(value) is None
    with pytest.raises(EventError) as caught:
        flag({"data": {"done": value}}, "data.done")
    assert str(caught.value).startswith(f'field "data.done": must be {FLAG_FORMS}, got ')


@pytest.mark.parametrize("value", [None, "", "  "])
def test_a_flag_null_or_empty_is_absent_and_refused_only_when_required(value: Any) -> None:
    assert flag({"done": value}, "done") is None
    with pytest.raises(EventError, match=r'field "done": required: true or false \(or 1'):
        flag({"done": value}, "done", required=True)


def test_a_unix_time_may_be_a_string_of_digits_and_an_integer_stays_one() -> None:
    assert epoch_number("1793783700000042") == 1793783700000042
    assert epoch_number(" 1793783700.5 ") == 1793783700.5
    assert epoch_number(1793783700) == 1793783700
    for value in ("soon", "-5", "1e9", "", True, None, [1], "9" * 5000):
        assert epoch_number(value) is None, value[:9] if isinstance(value, str) else value


def test_a_lenient_string_reads_an_odd_value_or_an_odd_step_as_absent() -> None:
    assert lenient_string({"a": {"b": " x "}}, "a.b") == "x"
    for data in ({"a": {"b": 5}}, {"a": {"b": True}}, {"a": "Zoom"}, {"a": [1]}, {"a": {"b": " "}}):
        assert lenient_string(data, "a.b") is None, data


# ------------------------------------------------------------------ Pipedrive


@pytest.mark.parametrize(
    ("value", "status"),
    # v1's integers 1 and 0 were read before; each other form is new.
    [(v, "completed") for v in TRUE_FORMS[2:]] + [(v, "not_started") for v in FALSE_FORMS[2:]],
)
def test_a_pipedrive_task_s_done_in_another_form_gives_its_status(value: Any, status: str) -> None:
    found = events(
        "pipedrive",
        "create.activity.task",
        changed("pipedrive", "create.activity.task", ("data.done", value)),
    )
    assert props(found)["status"] == status
    boolean = status == "completed"
    expected = events(
        "pipedrive",
        "create.activity.task",
        changed("pipedrive", "create.activity.task", ("data.done", boolean)),
    )
    assert found == expected


@pytest.mark.parametrize(
    ("value", "final"), [("1", True), ("true", True), ("0", False), ("false", False)]
)
def test_a_v1_pipedrive_call_s_done_as_a_string_says_whether_its_values_are_final(
    value: str, final: bool
) -> None:
    """v1 sends ``1``/``0``: ``"1"`` is the same done call (its duration is final), ``"0"``
    the same planned one (no duration)."""
    found = events(
        "pipedrive",
        "v1.added.activity",
        changed("pipedrive", "v1.added.activity", ("current.done", value)),
    )
    assert ("duration_s" in props(found)) is final
    as_number = changed("pipedrive", "v1.added.activity", ("current.done", int(final)))
    assert found == events("pipedrive", "v1.added.activity", as_number)


def test_a_pipedrive_done_that_is_no_flag_is_refused_naming_the_field_and_the_forms() -> None:
    body = changed("pipedrive", "create.activity.task", ("data.done", "yes"))
    assert refusal("pipedrive", "create.activity.task", body) == (
        f"field \"data.done\": must be {FLAG_FORMS}, got 'yes'"
    )


@pytest.mark.parametrize(
    ("field", "per_second"), [("timestamp_micro", 10**6), ("timestamp_milli", 10**3)]
)
def test_a_v1_pipedrive_finer_timestamp_as_a_string_of_digits_times_the_event(
    field: str, per_second: int
) -> None:
    at_ms = 1793783700250  # 2026-11-04T09:15:00.250Z
    stamp = at_ms * per_second // 1000
    name = "v1.added.person"
    base = without("pipedrive", name, "meta.timestamp_micro")
    as_number, as_text = copy.deepcopy(base), copy.deepcopy(base)
    as_number["meta"][field], as_text["meta"][field] = stamp, f" {stamp} "
    found = events("pipedrive", name, as_text)
    assert found[0]["occurred_at"] == "2026-11-04T09:15:00.250Z"
    assert found == events("pipedrive", name, as_number)


@pytest.mark.parametrize("value", ["soon", "12:00", True, {"us": 1}, "9" * 5000])
def test_a_v1_pipedrive_finer_timestamp_that_is_no_unix_time_is_refused(value: Any) -> None:
    body = changed("pipedrive", "v1.added.person", ("meta.timestamp_micro", value))
    assert refusal("pipedrive", "v1.added.person", body).startswith(
        'field "meta.timestamp_micro": must be a unix time (a number or a string of digits), got '
    )


@pytest.mark.parametrize("label", [3, True, {"name": "work"}, ["mobile"]])
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("v1.added.person", "current.email.1.label"),
        ("v1.added.person", "current.phone.0.label"),
        ("create.person.phones", "data.phones.0.label"),
    ],
)
def test_a_pipedrive_label_of_another_type_is_no_label(name: str, path: str, label: Any) -> None:
    """The person is taken as without the label: for ``data.phones``' first number, labelled
    ``mobile``, an odd label makes it no mobile number (the phone, as an unlabelled one)."""
    found = events("pipedrive", name, changed("pipedrive", name, (path, label)))
    assert found == events("pipedrive", name, without("pipedrive", name, path))


def test_a_pipedrive_mobile_number_whose_label_is_odd_is_read_as_an_unlabelled_number() -> None:
    found = events(
        "pipedrive",
        "create.person.phones",
        changed("pipedrive", "create.person.phones", ("data.phones.0.label", 7)),
    )
    assert props(found)["phone"] == "+1 415 555 0142"
    assert props(found)["mobilephone"] is None


@pytest.mark.parametrize("value", [1, "true", "1"])
def test_a_pipedrive_primary_entry_in_another_form_is_the_primary(value: Any) -> None:
    """v1 may mark the primary entry ``1``: it is the primary, as ``true`` is (the work email,
    the second of two, is the person's email either way)."""
    name = "v1.added.person"
    body = changed("pipedrive", name, ("current.email.1.primary", value))
    assert props(events("pipedrive", name, body))["email"] == "bo.park@globex.test"
    # And the first entry made primary in that form wins over the second's true.
    body = changed(
        "pipedrive", name, ("current.email.0.primary", value), ("current.email.1.primary", False)
    )
    assert props(events("pipedrive", name, body))["email"] == "bo.private@mail.test"


def test_a_v1_pipedrive_id_in_its_two_forms_is_one_id_across_previous_and_current() -> None:
    """An owner id written ``7`` in ``current`` and ``"7"`` in ``previous`` is no change of
    owner: an edit of another field sends the owner as unchanged, as with ``7`` in both."""
    name = "v1.updated.person"
    base = envelope("pipedrive", name)["body"]
    mixed = changed("pipedrive", name, ("previous.owner_id", str(base["previous"]["owner_id"])))
    [event] = events("pipedrive", name, mixed)
    assert (event["owner"]["id"], event.get("owner_unchanged")) == ("7", True)
    assert [event] == events("pipedrive", name, base)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "current.id",
            True,
            'field "current.id": must be a string or a whole number, got a boolean',
        ),
        ("meta.action", 5, "field \"meta.action\": unknown event '5'; known: added, updated"),
        (
            "current.type",
            ["call"],
            'field "current.type": must be a string or a whole number, got an array',
        ),
        (
            "current.person_id",
            [43],
            'field "current.person_id": must be an id (an integer or a string)',
        ),
        (
            "current.phone",
            [{"value": 5550143, "label": "work"}],
            'field "current.phone[0].value": must be a string, got a number',
        ),
    ],
)
def test_what_pipedrive_identifies_or_keeps_by_in_another_type_is_still_refused(
    path: str, value: Any, message: str
) -> None:
    name = "v1.added.activity" if path != "current.phone" else "v1.added.person"
    assert refusal("pipedrive", name, changed("pipedrive", name, (path, value))).startswith(message)


# ------------------------------------------------------------------ Aircall

ODD = [5, 0, True, False, {"url": "https://x.test"}, ["https://x.test"]]


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("call.ended.voicemail", "data.voicemail"),
        ("call.ended.missed", "data.voicemail"),
        ("call.comm_assets_generated", "data.voicemail"),
        ("call.comm_assets_generated", "data.asset"),
        ("call.ended.voicemail", "data.recording"),
        ("call.ended.voicemail", "data.asset"),
        ("contact.created", "data.phone_numbers.0.label"),
        ("user.created", "data.name"),
        ("user.created", "data.numbers.0.name"),
        ("number.created", "data.name"),
    ],
)
def test_an_aircall_link_label_or_name_of_another_type_reads_as_absent(
    name: str, path: str, odd: Any
) -> None:
    found = events("aircall", name, changed("aircall", name, (path, odd)))
    assert found == events("aircall", name, without("aircall", name, path))


@pytest.mark.parametrize("odd", ODD)
def test_an_aircall_voicemail_that_is_no_link_is_no_voicemail(odd: Any) -> None:
    """A missed call whose ``voicemail`` is not a string: the missed call (no voicemail
    outcome, no recording link made of it), not a dead letter; and a call whose ``voicemail``
    is a link is the voicemail."""
    found = events(
        "aircall",
        "call.ended.missed",
        changed("aircall", "call.ended.missed", ("data.voicemail", odd)),
    )
    assert [props(found, i).get("outcome") for i in range(len(found))] == ["no_answer", None]
    assert not any("recording_url" in props(found, i) for i in range(len(found)))
    link = "https://voicemails.aircall.test/1.mp3"
    found = events(
        "aircall",
        "call.ended.missed",
        changed("aircall", "call.ended.missed", ("data.voicemail", link)),
    )
    assert (props(found)["outcome"], props(found)["recording_url"]) == ("voicemail", link)


def test_an_aircall_recording_link_of_another_type_leaves_the_next_link() -> None:
    """``asset`` that is not a string is no link: ``recording`` is the call's."""
    name = "call.comm_assets_generated"
    found = events("aircall", name, changed("aircall", name, ("data.asset", {"href": "x"})))
    assert props(found)["recording_url"] == "https://recordings.aircall.test/812345.mp3?token=ghi"


def test_an_aircall_mobile_number_whose_label_is_odd_is_the_contact_s_phone() -> None:
    found = events(
        "aircall",
        "contact.created",
        changed("aircall", "contact.created", ("data.phone_numbers.0.label", 3)),
    )
    assert (props(found)["phone"], props(found)["mobilephone"]) == ("+14155550142", None)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("data.id", True, 'field "data.id": must be a string or a whole number, got a boolean'),
        (
            "data.id",
            5108.0,
            'field "data.id": must be a string or a whole number, got 5108.0 (a decimal)',
        ),
        ("event", 5, 'field "event": unknown event a number; known: call.created'),
        ("resource", ["call"], 'field "resource": must be a string, got an array'),
        ("timestamp", "soon", "field \"timestamp\": must be a unix time in s, got 'soon'"),
        ("data.raw_digits", 4155550142, 'field "data.raw_digits": must be a string, got a number'),
    ],
)
def test_what_identifies_an_aircall_call_in_another_type_is_still_refused(
    path: str, value: Any, message: str
) -> None:
    body = changed("aircall", "call.ended.voicemail", (path, value))
    assert refusal("aircall", "call.ended.voicemail", body).startswith(message)


# ------------------------------------------------------------------ Calendly


@pytest.mark.parametrize(
    ("value", "outcome"),
    [(v, "rescheduled") for v in (1, "true", "TRUE", "1")]
    + [(v, "canceled") for v in (0, "false", "0")],
)
def test_a_calendly_rescheduled_flag_in_another_form_gives_the_outcome(
    value: Any, outcome: str
) -> None:
    found = events(
        "calendly",
        "invitee.canceled",
        changed("calendly", "invitee.canceled", ("payload.rescheduled", value)),
    )
    assert props(found)["outcome"] == outcome


def test_a_calendly_rescheduled_that_is_no_flag_is_refused_naming_the_forms() -> None:
    body = changed("calendly", "invitee.canceled", ("payload.rescheduled", "yes"))
    assert refusal("calendly", "invitee.canceled", body) == (
        f"field \"payload.rescheduled\": must be {FLAG_FORMS}, got 'yes'"
    )


LOCATION = "payload.scheduled_event.location"


@pytest.mark.parametrize(
    "location",
    [
        "Zoom",
        "+1 415-555-0110",  # a number, but not said to be the invitee's
        5,
        ["outbound_call"],
        {"type": 5, "location": "+1 415-555-0110"},
        {"type": ["outbound_call"], "location": "+1 415-555-0110"},
        {"type": "outbound_call", "location": {"number": "+1 415-555-0110"}},
    ],
)
def test_a_calendly_location_of_another_shape_gives_no_phone_and_refuses_nothing(
    location: Any,
) -> None:
    name = "invitee.created.phones"
    found = events("calendly", name, changed("calendly", name, (LOCATION, location)))
    assert found == events("calendly", name, without("calendly", name, LOCATION))
    assert "phone" not in props(found, 1)  # the invitee's contact: its mobile alone
    assert props(found, 1)["mobilephone"] == "+1 415-555-0142"


def test_a_calendly_outbound_call_location_still_gives_the_invitee_s_phone() -> None:
    found = events(
        "calendly", "invitee.created.phones", envelope("calendly", "invitee.created.phones")["body"]
    )
    assert props(found, 1)["phone"] == "+1 415-555-0110"


@pytest.mark.parametrize("odd", ODD)
def test_a_calendly_new_invitee_link_of_another_type_reads_as_absent(odd: Any) -> None:
    name = "invitee.canceled.rescheduled"
    found = events("calendly", name, changed("calendly", name, ("payload.new_invitee", odd)))
    assert found == events("calendly", name, without("calendly", name, "payload.new_invitee"))
    assert props(found)["outcome"] == "rescheduled"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("payload.uri", 42, 'field "payload.uri": must be a string, got a number'),
        ("event", True, 'field "event": unknown event a boolean; known: invitee.created'),
        ("created_at", 1793631601, 'field "created_at": must be an ISO 8601 time, got a number'),
        (
            "payload.text_reminder_number",
            4155550142,
            'field "payload.text_reminder_number": must be a string, got a number',
        ),
    ],
)
def test_what_identifies_a_calendly_booking_in_another_type_is_still_refused(
    path: str, value: Any, message: str
) -> None:
    body = changed("calendly", "invitee.created.phones", (path, value))
    assert refusal("calendly", "invitee.created.phones", body).startswith(message)


# ------------------------------------------------------------------ HubSpot


def link(**fields: Any) -> list[dict[str, Any]]:
    body = copy.deepcopy(envelope("hubspot", "contact.associationChange.primary")["body"])
    body[0].update(fields)
    return body


@pytest.mark.parametrize("value", ["false", 0, "0"])
def test_a_hubspot_link_added_with_association_removed_in_another_form_links(value: Any) -> None:
    name = "contact.associationChange.primary"
    assert events("hubspot", name, link(associationRemoved=value)) == events(
        "hubspot", name, link()
    )


@pytest.mark.parametrize("value", ["true", 1, "1"])
def test_a_hubspot_link_removed_in_another_form_gives_nothing(value: Any) -> None:
    assert (
        events("hubspot", "contact.associationChange.primary", link(associationRemoved=value)) == []
    )


@pytest.mark.parametrize(
    ("value", "speaker"),
    [("true", "contact"), (1, "contact"), ("false", "company"), (0, "company")],
)
def test_a_hubspot_primary_flag_in_another_form_decides_which_side_speaks(
    value: Any, speaker: str
) -> None:
    [event] = events(
        "hubspot", "contact.associationChange.primary", link(isPrimaryAssociation=value)
    )
    assert event["object"] == speaker


@pytest.mark.parametrize(
    # HubSpot's own "true"/"false" were read before; a JSON boolean, 1 and 0 are new.
    ("value", "closed"),
    [(True, True), (False, False), ("1", True), (0, False)],
)
def test_a_hubspot_hs_is_closed_change_in_another_form_is_read(value: Any, closed: bool) -> None:
    name = "deal.propertyChange.dealname"
    body = copy.deepcopy(envelope("hubspot", name)["body"])
    body[0].update(propertyName="hs_is_closed", propertyValue=value)
    [event] = events("hubspot", name, body)
    assert event["properties"] == {"is_closed": closed}


@pytest.mark.parametrize("value", [True, 4.5, ["a"], {"a": 1}])
def test_a_hubspot_change_of_a_property_leadsync_does_not_keep_is_nothing_whatever_its_type(
    value: Any,
) -> None:
    name = "contact.propertyChange.lifecyclestage"
    body = copy.deepcopy(envelope("hubspot", name)["body"])
    body[0]["propertyValue"] = value
    assert events("hubspot", name, body) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"associationRemoved": "maybe"},
            f"field \"associationRemoved\": must be {FLAG_FORMS}, got 'maybe'",
        ),
        ({"associationRemoved": None}, f'field "associationRemoved": required: {FLAG_FORMS}'),
        ({"isPrimaryAssociation": 2}, f'field "isPrimaryAssociation": must be {FLAG_FORMS}, got 2'),
        (
            {"fromObjectId": True},
            'field "fromObjectId": must be a string or a whole number, got a boolean',
        ),
    ],
)
def test_a_hubspot_link_whose_flag_or_id_is_unreadable_is_still_refused(
    fields: dict[str, Any], message: str
) -> None:
    assert refusal("hubspot", "contact.associationChange.primary", link(**fields)) == message


# ------------------------------------------------------------------ Salesloft, Salesforce, Outreach


@pytest.mark.parametrize(
    ("value", "bounced"), [("true", True), (1, True), ("0", False), ("FALSE", False)]
)
def test_a_salesloft_bounced_flag_in_another_form_is_read(value: Any, bounced: bool) -> None:
    found = events(
        "salesloft", "email_updated", changed("salesloft", "email_updated", ("bounced", value))
    )
    assert props(found)["salesloft_bounced"] is bounced


@pytest.mark.parametrize("value", ["true", 1, "1"])
def test_a_salesloft_no_show_in_another_form_is_a_no_show(value: Any) -> None:
    found = events(
        "salesloft", "meeting_booked", changed("salesloft", "meeting_booked", ("no_show", value))
    )
    assert props(found)["outcome"] == "no_show"


def test_a_salesloft_flag_that_is_no_flag_is_refused_naming_the_forms() -> None:
    body = changed("salesloft", "meeting_booked", ("no_show", "yes"))
    assert refusal("salesloft", "meeting_booked", body) == (
        f"field \"no_show\": must be {FLAG_FORMS}, got 'yes'"
    )


@pytest.mark.parametrize(
    ("name", "path", "odd"),
    [
        ("call_created", "recordings", "https://rec.test/1"),
        ("call_created", "recordings", {"url": "https://rec.test/1"}),
        ("call_created", "recordings.0", "https://rec.test/1"),
        ("call_created", "recordings.0.url", 5),
        ("call_created", "recordings.0.url", True),
        ("call_data_record_created", "recording", "https://rec.test/1"),
        ("call_data_record_created", "recording.url", True),
        ("call_data_record_created", "recording.url", ["https://rec.test/1"]),
    ],
)
def test_a_salesloft_recording_link_of_another_shape_reads_as_absent(
    name: str, path: str, odd: Any
) -> None:
    found = events("salesloft", name, changed("salesloft", name, (path, odd)))
    assert found == events("salesloft", name, without("salesloft", name, path))
    assert "recording_url" not in props(found)


@pytest.mark.parametrize("value", [1, "1", " 1 "])  # the text true was read before
def test_a_salesforce_checkbox_in_another_form_is_read(value: Any) -> None:
    name = "cdc_update_opportunity_pubsub"
    found = events("salesforce", name, changed("salesforce", name, ("IsClosed", value)))
    assert found == events("salesforce", name, envelope("salesforce", name)["body"])
    assert props(found)["is_closed"] is True


def test_a_salesforce_checkbox_that_is_no_flag_is_refused_naming_the_forms() -> None:
    body = changed("salesforce", "cdc_update_opportunity_pubsub", ("IsClosed", "closed"))
    assert refusal("salesforce", "cdc_update_opportunity_pubsub", body) == (
        f"field \"IsClosed\": must be {FLAG_FORMS}, got 'closed'"
    )


def test_salesforce_epoch_milliseconds_as_a_string_of_digits_are_the_same_time() -> None:
    """A relay may write Pub/Sub's 64-bit numbers as strings: ``"1793577600000"`` is the same
    close date as the number; ``"20261102"`` is still ISO 8601's basic form of a day."""
    name = "cdc_update_opportunity_pubsub"
    fields = '["StageName", "IsClosed", "Amount", "CloseDate", "LastModifiedDate"]'
    changed_fields = ("ChangeEventHeader.changedFields", json.loads(fields))
    as_number = changed("salesforce", name, changed_fields, ("CloseDate", 1793577600000))
    as_text = changed("salesforce", name, changed_fields, ("CloseDate", "1793577600000"))
    found = events("salesforce", name, as_text)
    assert props(found)["closedate"] == "2026-11-02T00:00:00.000Z"
    assert found == events("salesforce", name, as_number)
    as_day = changed("salesforce", name, changed_fields, ("CloseDate", "20261102"))
    assert props(events("salesforce", name, as_day))["closedate"] == "2026-11-02T00:00:00.000Z"
    soon = changed("salesforce", name, changed_fields, ("CloseDate", "soon"))
    assert refusal("salesforce", name, soon) == (
        'field "CloseDate": must be an ISO 8601 time (e.g. 2026-11-01T09:00:00Z) or epoch '
        "milliseconds, got 'soon'"
    )
    listed = changed("salesforce", name, changed_fields, ("CloseDate", ["2026-11-02"]))
    assert refusal("salesforce", name, listed) == (
        'field "CloseDate": must be an ISO 8601 time (e.g. 2026-11-01T09:00:00Z) or epoch '
        "milliseconds, got an array"
    )


@pytest.mark.parametrize("odd", ODD)
def test_an_outreach_recording_link_of_another_type_reads_as_absent(odd: Any) -> None:
    path = "data.attributes.recordingUrl"
    found = events("outreach", "call.updated", changed("outreach", "call.updated", (path, odd)))
    assert found == events("outreach", "call.updated", without("outreach", "call.updated", path))
    assert "recording_url" not in props(found)


# ------------------------------------------------------------------ through leadsync ingest

LEAVE = {"unmapped": {"policy": "leave"}}


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    workspace.apply_config(
        workspace_config(
            {
                "phone": {"kind": "aircall", "secret_env": "AIRCALL_TOKEN", "users": LEAVE},
                "meetings": {"kind": "calendly", "secret_env": "CALENDLY_KEY", "users": LEAVE},
                "crm": {"kind": "pipedrive", "secret_env": "PIPEDRIVE_SECRET", "users": LEAVE},
            }
        )
    )
    return workspace


def ingest(ws: Workspace, integration: str, kind: str, name: str, body: Any) -> int:
    """Fixture ``name`` with ``body`` as one line of ``leadsync ingest``; the events taken."""
    line = json.dumps({**envelope(kind, name), "body": body})
    return ws.ingest(integration, [line], source=f"{name}.jsonl").accepted


def test_the_known_cases_are_applied_through_ingest_with_their_meaning(ws: Workspace) -> None:
    """Pipedrive's v1 call done as ``"1"`` and timed by a ``timestamp_micro`` string, its person
    with an odd email label; Aircall's call whose ``voicemail`` is ``true``; Calendly's
    booking whose location is text and whose ``rescheduled`` is ``"true"``: each applied, no
    dead letter, with what it means."""
    call = changed(
        "pipedrive",
        "v1.added.activity",
        ("current.done", "1"),
        ("meta.timestamp_micro", "1793783700000042"),
    )
    person = changed("pipedrive", "v1.added.person", ("current.email.1.label", {"id": 2}))
    missed = changed("aircall", "call.ended.missed", ("data.voicemail", True))
    booking = changed("calendly", "invitee.created.phones", (LOCATION, "Zoom"))
    canceled = changed("calendly", "invitee.canceled", ("payload.rescheduled", "true"))
    taken = [
        ingest(ws, "crm", "pipedrive", "v1.added.activity", call),
        ingest(ws, "crm", "pipedrive", "v1.added.person", person),
        ingest(ws, "phone", "aircall", "call.ended.missed", missed),
        ingest(ws, "meetings", "calendly", "invitee.created.phones", booking),
        ingest(ws, "meetings", "calendly", "invitee.canceled", canceled),
    ]
    assert taken == [1, 1, 1, 1, 1]
    assert ws.dead_letters(limit=10) == []
    [pipedrive_call] = ws.activities(integration="crm", activity_type="call")
    assert pipedrive_call["properties"]["duration_s"] == 720  # done: "00:12" is final
    [found] = ws.find(email="bo.park@globex.test")  # the primary email, its label odd
    assert found["type"] == "contact"
    [aircall_call] = ws.activities(integration="phone", activity_type="call")
    assert aircall_call["properties"]["outcome"] == "no_answer"  # true is no voicemail link
    assert "recording_url" not in aircall_call["properties"]
    meetings = {m["external_id"]: m for m in ws.activities(integration="meetings")}
    outcomes = sorted(m["properties"]["outcome"] for m in meetings.values())
    assert outcomes == ["rescheduled", "scheduled"]
    [dana] = ws.find(email="dana.cruz@umbrella.test")
    assert [p["number"] for p in ws.record("contact", dana["id"])["phones"]] == ["+14155550142"]


def test_an_event_whose_id_is_of_another_type_is_a_dead_letter_naming_it(ws: Workspace) -> None:
    body = changed("pipedrive", "v1.added.activity", ("current.id", True), ("current.done", "1"))
    assert ingest(ws, "crm", "pipedrive", "v1.added.activity", body) == 0
    [letter] = ws.dead_letters(limit=10)
    assert 'field "current.id": must be a string or a whole number, got a boolean' in str(
        letter["error"]
    )
    assert ws.activities(integration="crm") == []


# ------------------------------------------------------------------ phone numbers: one rule

#: Every place an adapter reads a phone number a record or a call keeps, with a fixture that
#: has it: ``(kind, fixture, path in the body, the field as the refusal names it)``.
PHONE_FIELDS = [
    ("aircall", "contact.created", "data.phone_numbers.0.value", "data.phone_numbers.0.value"),
    ("aircall", "call.ended", "data.raw_digits", "data.raw_digits"),
    ("aircall", "call.ended", "data.number.digits", "data.number.digits"),
    ("calendly", "invitee.created.phones", "payload.text_reminder_number", None),
    ("calendly", "invitee.created.phones", "payload.scheduled_event.location.location", None),
    ("hubspot", "contact.propertyChange.phone", "0.propertyValue", "propertyValue"),
    ("outreach", "prospect.created-phones", "data.attributes.mobilePhones.0", None),
    ("outreach", "call.created", "data.attributes.to", None),
    ("outreach", "call.created", "data.attributes.from", None),
    ("pipedrive", "create.person.phones", "data.phones.0.value", "data.phones[0].value"),
    ("pipedrive", "v1.added.person", "current.phone.0.value", "current.phone[0].value"),
    ("salesforce", "cdc_create_lead", "Phone", None),
    ("salesforce", "cdc_create_contact_phones", "MobilePhone", None),
    ("salesforce", "cdc_create_contact_phones", "HomePhone", None),
    ("salesloft", "person_created", "phone", None),
    ("salesloft", "person_created-phones", "mobile_phone", None),
    ("salesloft", "person_updated-home-phone", "home_phone", None),
    ("salesloft", "account_created", "phone", None),
    ("salesloft", "call_created", "to", None),
    ("salesloft", "call_data_record_created", "from", None),
    ("salesloft", "call_data_record_created", "to", None),
]


def _named(path: str, field: str | None) -> str:
    """The field as a refusal names it: as given, else the path with list indexes in
    brackets (``mobilePhones[0]``)."""
    if field is not None:
        return field
    *steps, last = path.split(".")
    return ".".join(steps) + f"[{last}]" if last.isdigit() else path


@pytest.mark.parametrize("value", [4155550142, 4155550142.0, 33612345678])
@pytest.mark.parametrize(("kind", "name", "path", "field"), PHONE_FIELDS)
def test_a_phone_number_sent_as_a_json_number_is_refused_by_every_adapter_alike(
    kind: str, name: str, path: str, field: str | None, value: Any
) -> None:
    """One rule (docs/WEBHOOKS.md, "Field types"): a JSON number has no leading ``+`` or
    ``0`` — ``+33 6 12 34 56 78`` arrives as ``33612345678``, which read in the
    integration's region is another number —, and numbers find records; so the event is a
    dead letter naming the field and why, the same words for every vendor, never a number
    made up from the digits. Before the rule Salesforce, Salesloft, HubSpot and Outreach's
    call numbers took the digits as text, and Calendly dropped an outbound call's number."""
    message = refusal(kind, name, changed(kind, name, (path, value)))
    where = _named(path, field)
    assert message.startswith(f'field "{where}": must be a string, got a number ('), message
    assert message.endswith(PHONE_AS_NUMBER), message


@pytest.mark.parametrize(("kind", "name", "path", "field"), PHONE_FIELDS)
def test_a_phone_number_as_text_is_kept_as_given_by_every_adapter(
    kind: str, name: str, path: str, field: str | None
) -> None:
    """The same field as text is taken, trimmed, with its + kept."""
    body = changed(kind, name, (path, " +33 6 12 34 56 78 "))
    found = outcome(kind, json.dumps({**envelope(kind, name), "body": body}))
    assert "error" not in found, found
    given = [v for g in found["events"] for e in g for v in e.get("properties", {}).values()]
    assert "+33 6 12 34 56 78" in given


@pytest.mark.parametrize("odd", [True, ["+14155550142"], {"number": "+14155550142"}])
def test_a_phone_number_of_another_type_is_refused_naming_the_field(odd: Any) -> None:
    """Not a number, not text: refused as well (what the field should hold is named)."""
    for kind, name, path, field in PHONE_FIELDS:
        if path.endswith("location.location"):
            continue  # the location is read for one shape only: another is no number
        message = refusal(kind, name, changed(kind, name, (path, odd)))
        assert message.startswith(f'field "{_named(path, field)}": must be a string'), message


def test_the_shared_phone_reader() -> None:
    assert phone_value(" 0612345678 ", "p") == "0612345678"
    assert phone_value("  ", "p") is None
    assert phone_value(None, "p") is None
    with pytest.raises(
        EventError, match=r'field "p": must be a string, got a number \(612345678\)'
    ):
        phone_value(612345678, "p")
    with pytest.raises(EventError, match='field "p": must be a string, got a boolean'):
        phone_value(False, "p")


def test_a_number_as_a_json_number_is_a_dead_letter_through_ingest_and_the_rest_goes_in(
    ws: Workspace,
) -> None:
    """Through ``leadsync ingest``: the contact whose number is a JSON number is a dead letter
    naming the field (nothing of it is lost: the line is kept), no contact is made with a
    number missing its +; the same person with the number as text goes in."""
    bad = changed("pipedrive", "create.person.phones", ("data.phones.0.value", 14155550142))
    assert ingest(ws, "crm", "pipedrive", "create.person.phones", bad) == 0
    [letter] = ws.dead_letters(limit=10)
    assert 'field "data.phones[0].value": must be a string, got a number (14155550142)' in str(
        letter["error"]
    )
    assert ws.find(email="dana.cruz@umbrella.test") == []
    meta_id = "5f1c4a2e-0043-4000-8000-000000000099"  # another event: not a redelivery
    good = changed("pipedrive", "create.person.phones", ("meta.id", meta_id))
    assert ingest(ws, "crm", "pipedrive", "create.person.phones", good) == 1
    [dana] = ws.find(email="dana.cruz@umbrella.test")
    assert [p["number"] for p in ws.record("contact", dana["id"])["phones"]][0].startswith("+1")


@pytest.mark.parametrize(
    ("event", "key"),
    [
        ({"type": "record", "object": "contact"}, "phone"),
        ({"type": "record", "object": "lead"}, "mobilephone"),
        ({"type": "record", "object": "company"}, "phone"),
        ({"type": "record", "object": "contact"}, "other_phone_2"),
        ({"type": "activity", "activity": "call"}, "to_number"),
        ({"type": "activity", "activity": "call"}, "from_number"),
        ({"type": "activity", "activity": "call"}, "line_number"),
    ],
)
def test_the_generic_format_holds_the_same_rule_for_phone_numbers(
    event: dict[str, Any], key: str
) -> None:
    """The canonical form (the generic kind's lines, and every adapter's events) refuses a
    phone number sent as a JSON number with the same reason; as text it is kept."""
    from leadsync.sources.canonical import parse_event

    base = {"id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "external_id": "1", **event}
    with pytest.raises(EventError) as caught:
        parse_event({**base, "properties": {key: 33612345678}}, "dialer", 1)
    assert str(caught.value) == (
        f'field "properties.{key}": expected a string, got a number (33612345678): '
        + PHONE_AS_NUMBER
    )
    kept = parse_event({**base, "properties": {key: "+33 6 12 34 56 78"}}, "dialer", 1)
    assert kept.properties[key] == "+33 6 12 34 56 78"
