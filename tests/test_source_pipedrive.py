"""The Pipedrive adapter (webhooks v2), through its public hooks: verify, pieces, events_of."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, SignatureError
from leadsync.sources.base import WebhookRequest, stable_key
from leadsync.sources.generic import event_to_dict
from leadsync.sources.pipedrive import ACTIONS, ADAPTER, ENTITIES, PipedriveAdapter

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "pipedrive"
SECRET = "leadsync-hook:pa55-w0rd:with-colon"
NOW = 1_790_000_000.0

EID = "5f1c4a2e-{:04d}-4000-8000-{:012d}"
LEAD_ID = "adf21080-0e10-11eb-879b-05d71fb426ec"
ON_NOV_1 = "2026-11-01T09:00:00.000Z"
KIM = {"object": "contact", "external_id": "42"}
BO = {"object": "contact", "external_id": "44"}
GLOBEX = {"object": "company", "external_id": "5"}
DEAL = {"object": "deal", "external_id": "77"}
KIM_PROPERTIES = {
    "name": "Kim Lee",
    "firstname": "Kim",
    "lastname": "Lee",
    "email": "kim.lee@globex.test",
    "phone": "+1 555 0100",
}


def event_id(n: int) -> str:
    return EID.format(n, n)


def body_of(name: str) -> dict[str, Any]:
    envelope = json.loads((FIXTURES / f"{name}.json").read_text())
    body: dict[str, Any] = envelope["body"]
    return body


def request(body: Any, headers: dict[str, str] | None = None) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"content-type": "application/json", **(headers or {})}
    return WebhookRequest("POST", "https://hooks.leadsync.test/pipedrive", all_headers, raw)


def convert(body: Any, adapter: PipedriveAdapter | None = None) -> list[dict[str, Any]]:
    """The canonical events of one webhook body, as the inbox and the worker would make them."""
    adapter = adapter or ADAPTER("crm-pipedrive")
    out = []
    for seq, piece in enumerate(adapter.pieces(request(body)), start=1):
        for event in adapter.events_of(piece.payload(), piece.key, seq, f"inbox:{seq}"):
            assert event.integration == "crm-pipedrive"
            assert event.seq == seq
            out.append(event_to_dict(event))
    return out


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


# ------------------------------------------------------------------ every event name

EXPECTED: dict[str, list[dict[str, Any]]] = {
    "create.person": [
        {
            "id": event_id(1),
            "occurred_at": ON_NOV_1,
            "type": "record",
            "object": "contact",
            "external_id": "42",
            "owner": "7",
            "properties": KIM_PROPERTIES,
            "associations": [GLOBEX],
        }
    ],
    # The owner changed along with other fields: a record event that carries the owner.
    "change.person": [
        {
            "id": event_id(2),
            "occurred_at": "2026-11-02T10:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "42",
            "owner": "8",
            "properties": {**KIM_PROPERTIES, "name": "Kim Lee-Park", "lastname": "Lee-Park"},
            "associations": [GLOBEX],
        }
    ],
    # Only the owner changed (update_time aside): an owner event.
    "change.person.owner_only": [
        {
            "id": event_id(3),
            "occurred_at": "2026-11-03T10:00:00.000Z",
            "type": "owner",
            "object": "contact",
            "external_id": "42",
            "owner": "9",
        }
    ],
    # An unrelated edit must not re-assert the owner.
    "change.person.other_edit": [
        {
            "id": event_id(4),
            "occurred_at": "2026-11-04T10:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "42",
            "properties": {**KIM_PROPERTIES, "name": "Kimberly Lee", "firstname": "Kimberly"},
            "associations": [GLOBEX],
        }
    ],
    # Nulls and an empty email are left out, never sent on as null.
    "create.person.nulls": [
        {
            "id": event_id(5),
            "occurred_at": ON_NOV_1,
            "type": "record",
            "object": "contact",
            "external_id": "43",
            "properties": {"name": "No Details"},
        }
    ],
    # No primary email: the first one.
    "create.person.no_event_id": [
        {
            # No meta.id: the key is a hash of what identifies the event.
            "id": stable_key("pipedrive", "create", "person", "44", "2026-11-01T11:00:00.000Z"),
            "occurred_at": "2026-11-01T11:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "44",
            "owner": "7",
            "properties": {"name": "Bo Park", "email": "bo@initech.test"},
        }
    ],
    "delete.person": [],
    "create.organization": [
        {
            "id": event_id(10),
            "occurred_at": ON_NOV_1,
            "type": "record",
            "object": "company",
            "external_id": "5",
            "owner": "7",
            "properties": {"name": "Globex", "domain": "globex.test"},
        }
    ],
    # A website that names no domain is kept as website, not refused as a domain.
    "change.organization": [
        {
            "id": event_id(11),
            "occurred_at": "2026-11-02T09:00:00.000Z",
            "type": "record",
            "object": "company",
            "external_id": "5",
            "properties": {"name": "Globex Corp", "website": "n/a"},
        }
    ],
    "delete.organization": [],
    "create.deal": [
        {
            "id": event_id(20),
            "occurred_at": ON_NOV_1,
            "type": "record",
            "object": "deal",
            "external_id": "77",
            "owner": "7",
            "properties": {
                "name": "Globex renewal",
                "amount": 12000,
                "currency": "EUR",
                "stage": "3",
                "pipedrive_status": "open",
                "is_closed": False,
            },
            "associations": [KIM, GLOBEX],
        }
    ],
    "change.deal": [
        {
            "id": event_id(21),
            "occurred_at": "2026-11-06T09:00:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": "77",
            "properties": {
                "name": "Globex renewal",
                "amount": 12500.5,
                "currency": "EUR",
                "stage": "5",
                "pipedrive_status": "won",
                "is_closed": True,
            },
            "associations": [KIM, GLOBEX],
        }
    ],
    "delete.deal": [],
    "create.lead": [
        {
            "id": event_id(30),
            "occurred_at": ON_NOV_1,
            "type": "record",
            "object": "lead",
            "external_id": LEAD_ID,
            "owner": "7",
            "properties": {"name": "Initech lead"},
            "associations": [BO, {"object": "company", "external_id": "6"}],
        }
    ],
    "change.lead": [
        {
            "id": event_id(31),
            "occurred_at": "2026-11-02T09:00:00.000Z",
            "type": "record",
            "object": "lead",
            "external_id": LEAD_ID,
            "owner": "8",
            "properties": {"name": "Initech lead (qualified)"},
            "associations": [BO, {"object": "company", "external_id": "6"}],
        }
    ],
    "delete.lead": [],
    # A note happened when it was added; its owner is its author.
    "create.note": [
        {
            "id": event_id(40),
            "occurred_at": "2026-11-01T08:30:00.000Z",
            "type": "activity",
            "activity": "note",
            "external_id": "301",
            "owner": "7",
            "properties": {"body": "<p>Asked for a quote</p>"},
            "associations": [KIM, GLOBEX, DEAL],
        }
    ],
    "change.note": [
        {
            "id": event_id(41),
            "occurred_at": "2026-11-01T08:30:00.000Z",
            "type": "activity",
            "activity": "note",
            "external_id": "301",
            "owner": "7",
            "properties": {"body": "<p>Asked for a quote by Friday</p>"},
            "associations": [KIM, GLOBEX, DEAL],
        }
    ],
    "delete.note": [],
    # A done call: duration and outcome are final; every participant is associated.
    "create.activity.call": [
        {
            "id": event_id(50),
            "occurred_at": "2026-11-03T14:30:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "501",
            "owner": "7",
            "properties": {
                "pipedrive_type": "call",
                "title": "call with Kim",
                "body": "Left a voicemail about pricing",
                "duration_s": 420,
                "pipedrive_outcome": "left_voicemail",
                "outcome": "voicemail",
            },
            "associations": [KIM, GLOBEX, DEAL, BO],
        }
    ],
    # A planned call: its duration is not final, so it is not sent.
    "change.activity.call_planned": [
        {
            "id": event_id(51),
            "occurred_at": "2026-11-03T14:30:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "502",
            "owner": "7",
            "properties": {"pipedrive_type": "call", "title": "call with Kim"},
            "associations": [KIM],
        }
    ],
    "create.activity.meeting": [
        {
            "id": event_id(52),
            "occurred_at": "2026-11-03T14:30:00.000Z",
            "type": "activity",
            "activity": "meeting",
            "external_id": "503",
            "owner": "7",
            "properties": {
                "pipedrive_type": "meeting",
                "title": "meeting with Kim",
                "body": "Demo of the new plan",
                "start": "2026-11-03T14:30:00.000Z",
                "end": "2026-11-03T16:00:00.000Z",
            },
            "associations": [KIM, GLOBEX, DEAL],
        }
    ],
    # A task due on a day (no time): due is that day, and it happened then.
    "create.activity.task": [
        {
            "id": event_id(53),
            "occurred_at": "2026-11-03T00:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "504",
            "owner": "7",
            "properties": {
                "pipedrive_type": "task",
                "subject": "task with Kim",
                "due": "2026-11-03T00:00:00.000Z",
                "status": "completed",
            },
            "associations": [DEAL],
        }
    ],
    "create.activity.deadline": [
        {
            "id": event_id(54),
            "occurred_at": "2026-11-03T17:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": "505",
            "owner": "7",
            "properties": {
                "pipedrive_type": "deadline",
                "subject": "deadline with Kim",
                "due": "2026-11-03T17:00:00.000Z",
                "status": "not_started",
            },
            "associations": [GLOBEX, DEAL],
        }
    ],
    # No owner_id: user_id names the rep.
    "create.activity.email": [
        {
            "id": event_id(55),
            "occurred_at": "2026-11-03T14:30:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "506",
            "owner": "8",
            "properties": {
                "pipedrive_type": "email",
                "subject": "email with Kim",
                "body": "Sent the proposal",
            },
            "associations": [KIM, GLOBEX, DEAL],
        }
    ],
    "create.activity.lunch": [
        {
            "id": event_id(56),
            "occurred_at": "2026-11-03T12:00:00.000Z",
            "type": "activity",
            "activity": "meeting",
            "external_id": "507",
            "owner": "7",
            "properties": {
                "pipedrive_type": "lunch",
                "title": "lunch with Kim",
                "start": "2026-11-03T12:00:00.000Z",
                "end": "2026-11-03T13:00:00.000Z",
            },
            "associations": [KIM, GLOBEX],
        }
    ],
    # A custom type, no due date: the default other type, at the event's time.
    "create.activity.custom": [
        {
            "id": event_id(57),
            "occurred_at": ON_NOV_1,
            "type": "activity",
            "activity": "task",
            "external_id": "508",
            "owner": "7",
            "properties": {
                "pipedrive_type": "linkedin_message",
                "subject": "linkedin_message with Kim",
                "status": "completed",
            },
            "associations": [KIM],
        }
    ],
    "delete.activity": [],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_becomes_the_expected_events(name: str) -> None:
    assert convert(body_of(name)) == EXPECTED[name]


def test_every_action_and_entity_has_a_fixture() -> None:
    covered = {tuple(name.split(".")[:2]) for name in EXPECTED}
    assert covered == {(action, entity) for action in ACTIONS for entity in ENTITIES}


def test_every_fixture_file_is_checked() -> None:
    names = {path.stem for path in FIXTURES.glob("*.json")}
    assert names - set(EXPECTED) == {"create.product.unknown", "merge.person.unknown"}


def test_module_exports_the_adapter() -> None:
    assert ADAPTER is PipedriveAdapter
    assert PipedriveAdapter.kind == "pipedrive"


# ------------------------------------------------------------------ unknown names


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("create.product.unknown", "field \"meta.entity\": unknown event 'product'; known: person"),
        ("merge.person.unknown", "field \"meta.action\": unknown event 'merge'; known: create"),
    ],
)
def test_unknown_event_names_become_dead_letters(name: str, message: str) -> None:
    adapter = ADAPTER("crm-pipedrive")
    (piece,) = adapter.pieces(request(body_of(name)))  # accepted and stored ...
    with pytest.raises(EventError) as caught:  # ... but it cannot be converted
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:7")
    assert str(caught.value).startswith(f"inbox:7: {message}")
    assert caught.value.where == "inbox:7"


# ------------------------------------------------------------------ wrong types


def mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target = changed
    steps = path.split(".")
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = value
    return changed


@pytest.mark.parametrize(
    ("fixture", "path", "value", "named"),
    [
        ("create.person", "meta.timestamp", 1_790_000_000, "meta.timestamp"),
        ("create.person", "meta.timestamp", "yesterday", "meta.timestamp"),
        ("create.person", "meta.id", ["x"], "meta.id"),
        ("create.person", "meta.entity", 5, "meta.entity"),
        ("create.person", "meta.entity_id", {"id": 1}, "meta.entity_id"),
        ("create.person", "data", "person", "data"),
        ("create.person", "data.emails", "kim@globex.test", "data.emails"),
        ("create.person", "data.emails", ["kim@globex.test"], "data.emails[0]"),
        ("create.person", "data.phones", [{"value": 5551234}], "data.phones[0].value"),
        ("create.person", "data.owner_id", [7], "data.owner_id"),
        ("create.person", "data.org_id", True, "data.org_id"),
        ("create.person", "data.name", {"first": "Kim"}, "data.name"),
        ("create.deal", "data.value", "lots", "data.value"),
        ("create.deal", "data.status", ["won"], "data.status"),
        ("change.person", "previous", ["owner_id"], "previous"),
        ("create.note", "data.add_time", "soon", "data.add_time"),
        ("create.activity.call", "data.duration", "long", "data.duration"),
        ("create.activity.call", "data.done", "yes", "data.done"),
        ("create.activity.call", "data.due_time", "2pm", "data.due_time"),
        ("create.activity.call", "data.due_date", "03/11/2026", "data.due_date"),
        ("create.activity.call", "data.participants", {"person_id": 1}, "data.participants"),
        ("create.activity.call", "data.participants", [42], "data.participants[0]"),
        (
            "create.activity.call",
            "data.participants",
            [{"person_id": 4.5}],
            "data.participants[0].person_id",
        ),
        ("create.activity.call", "data.type", ["call"], "data.type"),
        ("create.activity.call", "data.outcome", {"code": 3}, "data.outcome"),
    ],
)
def test_wrong_types_name_the_json_path(fixture: str, path: str, value: Any, named: str) -> None:
    with pytest.raises(EventError) as caught:
        convert(mutate(body_of(fixture), path, value))
    assert f'field "{named}":' in str(caught.value)


def test_an_activity_without_a_type_is_refused() -> None:
    body = mutate(body_of("create.activity.call"), "data.type", None)
    with pytest.raises(EventError, match='field "data.type": required'):
        convert(body)


def test_a_body_that_is_not_an_object_is_refused_on_receipt() -> None:
    with pytest.raises(EventError, match="must be an object"):
        ADAPTER("crm-pipedrive").pieces(request([1, 2]))


def test_invalid_json_is_refused_on_receipt() -> None:
    with pytest.raises(EventError, match="not valid JSON"):
        ADAPTER("crm-pipedrive").pieces(request(b'{"meta": '))


# ------------------------------------------------------------------ missing fields, times


def test_missing_timestamp_falls_back_to_update_time() -> None:
    body = mutate(body_of("create.person"), "meta.timestamp", None)
    (piece,) = ADAPTER("crm-pipedrive").pieces(request(body))
    assert piece.occurred_at == "2026-11-01T09:00:00.000Z"
    body = mutate(body, "data.update_time", "2026-11-01 07:15:00")  # v1 style, UTC
    assert convert(body)[0]["occurred_at"] == "2026-11-01T07:15:00.000Z"


def test_no_time_at_all_is_a_dead_letter() -> None:
    body = mutate(
        mutate(body_of("create.person"), "meta.timestamp", None), "data.update_time", None
    )
    with pytest.raises(EventError, match='field "meta.timestamp": required'):
        convert(body)


def test_entity_id_falls_back_to_data_id() -> None:
    body = mutate(body_of("create.deal"), "meta.entity_id", None)
    assert convert(body)[0]["external_id"] == "77"


def test_owner_only_change_without_a_new_owner_gives_nothing() -> None:
    body = mutate(body_of("change.person.owner_only"), "data.owner_id", None)
    assert convert(body) == []


def test_change_with_null_previous_does_not_assert_the_owner() -> None:
    body = mutate(body_of("change.person"), "previous", None)
    (event,) = convert(body)
    assert event["type"] == "record"
    assert "owner" not in event


def test_v1_style_ids_and_flags_are_read() -> None:
    body = mutate(body_of("create.activity.call"), "data.org_id", {"value": 5, "name": "Globex"})
    body = mutate(body, "data.done", 1)
    (event,) = convert(body)
    assert GLOBEX in event["associations"]
    assert event["properties"]["duration_s"] == 420


def test_duration_with_seconds() -> None:
    body = mutate(body_of("create.activity.call"), "data.duration", "01:02:03")
    assert convert(body)[0]["properties"]["duration_s"] == 3723


# ------------------------------------------------------------------ vocabularies

CALL_OUTCOME_TABLE = [
    ("connected", "connected"),
    ("no_answer", "no_answer"),
    ("left_message", "left_live_message"),
    ("left_voicemail", "voicemail"),
    ("wrong_number", "wrong_number"),
    ("busy", "busy"),
]


@pytest.mark.parametrize(("vendor", "canonical"), CALL_OUTCOME_TABLE)
def test_call_outcomes_map_to_canonical_ones(vendor: str, canonical: str) -> None:
    body = mutate(body_of("create.activity.call"), "data.outcome", vendor)
    properties = convert(body)[0]["properties"]
    assert properties["outcome"] == canonical
    assert properties["pipedrive_outcome"] == vendor


def test_an_unknown_call_outcome_keeps_only_the_raw_value() -> None:
    body = mutate(body_of("create.activity.call"), "data.outcome", "gatekeeper")
    properties = convert(body)[0]["properties"]
    assert "outcome" not in properties
    assert properties["pipedrive_outcome"] == "gatekeeper"


@pytest.mark.parametrize(
    ("status", "is_closed"), [("open", False), ("won", True), ("lost", True), ("deleted", None)]
)
def test_deal_status_decides_is_closed(status: str, is_closed: bool | None) -> None:
    properties = convert(mutate(body_of("create.deal"), "data.status", status))[0]["properties"]
    assert properties.get("is_closed") == is_closed
    assert properties["pipedrive_status"] == status


@pytest.mark.parametrize(
    ("options", "type_key", "activity"),
    [
        ({}, "call", "call"),
        ({}, "lunch", "meeting"),
        ({}, "deadline", "task"),
        ({}, "demo", "task"),
        ({"other_activity_types": "meeting"}, "demo", "meeting"),
        ({"activity_types": {"demo": "meeting"}}, "demo", "meeting"),
        ({"activity_types": {"call": "task"}}, "call", "task"),
        ({"activity_types": {"demo": "email"}, "other_activity_types": "note"}, "visit", "note"),
    ],
)
def test_activity_types_follow_the_options(
    options: dict[str, Any], type_key: str, activity: str
) -> None:
    adapter = ADAPTER("crm-pipedrive", options)
    body = mutate(body_of("create.activity.call"), "data.type", type_key)
    (event,) = convert(body, adapter)
    assert event["activity"] == activity
    assert event["properties"]["pipedrive_type"] == type_key


# ------------------------------------------------------------------ dedupe keys


def test_redelivery_has_the_same_key() -> None:
    adapter = ADAPTER("crm-pipedrive")
    raw = json.dumps(body_of("create.person")).encode()
    first = adapter.pieces(request(raw))
    again = adapter.pieces(request(raw))
    assert [p.key for p in first] == [p.key for p in again] == [event_id(1)]


def test_different_events_have_different_keys() -> None:
    adapter = ADAPTER("crm-pipedrive")
    keys = {adapter.pieces(request(body_of(name)))[0].key for name in EXPECTED}
    assert len(keys) == len(EXPECTED)


def test_without_an_event_id_the_key_is_a_hash_of_what_identifies_the_event() -> None:
    adapter = ADAPTER("crm-pipedrive")
    body = body_of("create.person.no_event_id")
    (piece,) = adapter.pieces(request(body))
    (again,) = adapter.pieces(request(copy.deepcopy(body)))
    later = mutate(body, "meta.timestamp", "2026-11-01T11:00:05.000Z")
    (other,) = adapter.pieces(request(later))
    assert piece.key == again.key
    assert piece.key.startswith("h:")
    assert other.key != piece.key


# ------------------------------------------------------------------ authentication


def test_good_credentials_pass() -> None:
    raw = json.dumps(body_of("create.person")).encode()
    adapter = ADAPTER("crm-pipedrive")
    adapter.verify(request(raw, basic("leadsync-hook", "pa55-w0rd:with-colon")), SECRET, NOW)


@pytest.mark.parametrize(
    "headers",
    [
        basic("leadsync-hook", "wrong"),
        basic("someone-else", "pa55-w0rd:with-colon"),
        basic("leadsync-hook", "pa55-w0rd"),
        {},
        {"authorization": "Bearer abc"},
        {"authorization": "Basic not-base64!"},
    ],
)
def test_bad_credentials_are_refused(headers: dict[str, str]) -> None:
    raw = json.dumps(body_of("create.person")).encode()
    with pytest.raises(SignatureError):
        ADAPTER("crm-pipedrive").verify(request(raw, headers), SECRET, NOW)


@pytest.mark.parametrize("secret", [None, ""])
def test_a_missing_secret_refuses_every_request(secret: str | None) -> None:
    raw = json.dumps(body_of("create.person")).encode()
    headers = basic("leadsync-hook", "pa55-w0rd:with-colon")
    with pytest.raises(SignatureError, match="no webhook secret is configured"):
        ADAPTER("crm-pipedrive").verify(request(raw, headers), secret, NOW)


def test_a_secret_without_a_colon_is_refused_without_showing_it() -> None:
    raw = json.dumps(body_of("create.person")).encode()
    headers = basic("leadsync-hook", "just-a-password")
    with pytest.raises(SignatureError, match="must be username:password") as caught:
        ADAPTER("crm-pipedrive").verify(request(raw, headers), "just-a-password", NOW)
    assert "just-a-password" not in str(caught.value)
