"""The Pipedrive adapter (webhooks v2), through its public hooks: verify, pieces, events_of."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, SignatureError
from leadsync.model import OTHER_PHONES, PHONE_PROPERTIES
from leadsync.sources.base import WebhookRequest, get_path, stable_key, timed_key
from leadsync.sources.pipedrive import ACTIONS, ADAPTER, ENTITIES, V1_ACTIONS, PipedriveAdapter
from leadsync.workspace import Workspace
from tests import adapters as harness
from tests.helpers import workspace_config

# A whole list (v1) gives every phone property, null for what it lacks.
NO_NUMBERS = dict.fromkeys(PHONE_PROPERTIES)
NO_OTHERS = dict.fromkeys(OTHER_PHONES)

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
    **NO_NUMBERS,  # the person's whole list of numbers: the one it has, null for the rest
    "phone": "+1 555 0100",
}


def event_id(n: int) -> str:
    return EID.format(n, n)


def body_of(name: str) -> dict[str, Any]:
    body: dict[str, Any] = harness.body("pipedrive", name)
    return body


def request(body: Any, headers: dict[str, str] | None = None) -> WebhookRequest:
    return harness.json_request("https://hooks.leadsync.test/pipedrive", body, headers)


def convert(body: Any, adapter: PipedriveAdapter | None = None) -> list[dict[str, Any]]:
    """The canonical events of one webhook body, as the inbox and the worker would make them."""
    adapter = adapter or ADAPTER("crm-pipedrive")
    delivered = harness.deliver(adapter, request(body))
    return [data for piece, events in delivered for data in harness.as_dicts(piece, events)]


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
    # The mobile number (primary here) is the mobile, the first of the others the phone, the
    # number left the first other one.
    "create.person.phones": [
        {
            "id": event_id(43),
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "43",
            "owner": "7",
            "properties": {
                "name": "Dana Cruz",
                "firstname": "Dana",
                "lastname": "Cruz",
                "email": "dana.cruz@umbrella.test",
                **NO_NUMBERS,
                "phone": "+1 415 555 0110",
                "mobilephone": "+1 415 555 0142",
                "other_phone_1": "+1 415 555 0177",
            },
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
            "owner": "7",
            "owner_unchanged": True,  # for a record first seen through an edit
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
            "id": timed_key(
                stable_key(
                    "pipedrive", "create", "person", "44", "2026-11-01T11:00:00.000Z", order="44"
                ),
                "2026-11-01T11:00:00.000Z",
            ),
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
            "owner": "7",
            "owner_unchanged": True,  # for a record first seen through an edit
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
            "owner": "7",
            "owner_unchanged": True,  # for a record first seen through an edit
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
    # A planned call (not done): no call happened yet, so a draft, remembered for the update
    # that marks it done; its duration is not final, so it is not sent.
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
            "draft": True,
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
    # v2 with a unix time (seconds; numeric ids) in meta.timestamp.
    "change.deal.epoch_seconds": [
        {
            "id": "5f1c4a2e-0061-4000-8000-000000000061",
            "occurred_at": "2026-11-06T08:00:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": "79",
            "owner": "7",
            "owner_unchanged": True,  # for a record first seen through an edit
            "properties": {
                "name": "Initech pilot",
                "amount": 1500,
                "currency": "USD",
                "stage": "3",
                "pipedrive_status": "open",
                "is_closed": False,
            },
            "associations": [KIM, {"object": "company", "external_id": "6"}],
        }
    ],
    # v2 with a unix time in milliseconds.
    "create.organization.epoch_ms": [
        {
            "id": "5f1c4a2e-0062-4000-8000-000000000062",
            "occurred_at": "2026-11-06T08:00:00.250Z",
            "type": "record",
            "object": "company",
            "external_id": "6",
            "owner": "9",
            "properties": {"name": "Initech", "domain": "initech.test"},
        }
    ],
    # Webhooks v1: "current" is the object, meta.id its id, times unix seconds (micro first).
    # Its phone list is the person's whole list: no mobile on it gives mobilephone null.
    "v1.added.person": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-03T09:00:00.250Z",
            "type": "record",
            "object": "contact",
            "external_id": "43",
            "owner": {"id": "7", "name": "Ana Ng"},
            "properties": {
                "name": "Bo Park",
                "firstname": "Bo",
                "lastname": "Park",
                "email": "bo.park@globex.test",
                "phone": "+1 555 0143",
                "mobilephone": None,
                **NO_OTHERS,
            },
            "associations": [GLOBEX],
        }
    ],
    # v1's phone list: a label in any case, the value trimmed.
    "v1.added.person.phones": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-04T09:00:00.250Z",
            "type": "record",
            "object": "contact",
            "external_id": "44",
            "owner": {"id": "7", "name": "Ana Ng"},
            "properties": {
                "name": "Dana Cruz",
                "firstname": "Dana",
                "lastname": "Cruz",
                "email": "dana.cruz@umbrella.test",
                "phone": "+1 415 555 0188",
                "mobilephone": "+1 415 555 0142",
                **NO_OTHERS,
            },
        }
    ],
    # v1's previous is the whole object: only the label differs, so the owner is not sent.
    # The whole phone list comes all the same: the mobile it lacks is null.
    "v1.updated.person": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-03T09:30:00.120Z",
            "type": "record",
            "object": "contact",
            "external_id": "43",
            "owner": {"id": "7", "name": "Ana Ng"},
            "owner_unchanged": True,  # for a record first seen through an edit
            "properties": {
                "name": "Bo Park",
                "firstname": "Bo",
                "lastname": "Park",
                "email": "bo.park@globex.test",
                "phone": "+1 555 0143",
                "mobilephone": None,
                **NO_OTHERS,
            },
            "associations": [GLOBEX],
        }
    ],
    # owner_id differs (owner_name, update_time and a counter follow it): an owner event.
    "v1.updated.person.owner_only": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-03T10:00:00.900Z",
            "type": "owner",
            "object": "contact",
            "external_id": "43",
            "owner": {"id": "9", "name": "Bo Li"},
        }
    ],
    "v1.deleted.person": [],
    # The kept person as the merge left it, naming the person merged into it (its
    # merge_what_id); its owner is the kept one's, no change.
    "v1.merged.person": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-03T11:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "42",
            "merged": ["43"],
            "owner": {"id": "9", "name": "Bo Li"},
            "owner_unchanged": True,
            "properties": {
                "name": "Bo Park",
                "firstname": "Bo",
                "lastname": "Park",
                "email": "bo.park@globex.test",
                **NO_NUMBERS,
                "phone": "+1 555 0143",
            },
            "associations": [GLOBEX],
        }
    ],
    # A v1 deal's owner is user_id, here the API's {id, name, email, value} object: its
    # email and name come along (they teach the user directory).
    "v1.added.deal": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-04T07:40:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": "80",
            "owner": {"id": "9", "email": "bo@acme.test", "name": "Bo Li"},
            "properties": {
                "name": "Globex add-on",
                "amount": 2100,
                "currency": "EUR",
                "stage": "1",
                "pipedrive_status": "open",
                "is_closed": False,
            },
            "associations": [{"object": "contact", "external_id": "43"}, GLOBEX],
        }
    ],
    # The owner was 7 before (an id) and is 7 now (an object): unchanged, not sent.
    "v1.updated.deal": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-04T08:00:00.333Z",
            "type": "record",
            "object": "deal",
            "external_id": "78",
            "owner": {"id": "7", "email": "ana@acme.test", "name": "Ana Ng"},
            "owner_unchanged": True,  # for a record first seen through an edit
            "properties": {
                "name": "Globex expansion",
                "amount": 8400,
                "currency": "EUR",
                "stage": "4",
                "pipedrive_status": "won",
                "is_closed": True,
            },
            "associations": [{"object": "contact", "external_id": "43"}, GLOBEX],
        }
    ],
    # Owner: user_id (the assignee); done, so the duration is final.
    "v1.added.activity": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": "503",
            "owner": "7",
            "properties": {
                "pipedrive_type": "call",
                "title": "Discovery call with Bo",
                "body": "Wants a demo next week",
                "duration_s": 720,
            },
            "associations": [
                {"object": "contact", "external_id": "43"},
                GLOBEX,
                {"object": "deal", "external_id": "78"},
            ],
        }
    ],
    "v1.added.note": [
        {
            "id": "V1KEY",
            "occurred_at": "2026-11-05T12:00:00.000Z",
            "type": "activity",
            "activity": "note",
            "external_id": "602",
            # v1 renders the author beside the plain user_id (``user``: email and name)
            "owner": {"id": "9", "email": "bo@acme.test", "name": "Bo Li"},
            "properties": {"body": "Sent the pricing sheet"},
            "associations": [
                {"object": "contact", "external_id": "43"},
                GLOBEX,
                {"object": "deal", "external_id": "78"},
            ],
        }
    ],
}


def v1_key(body: dict[str, Any]) -> str:
    """The dedupe key of a webhooks v1 body (v1 has no event id)."""
    meta = body["meta"]
    hashed = stable_key(
        "pipedrive",
        "v1",
        body.get("event"),
        meta.get("action"),
        meta.get("object"),
        meta.get("id"),
        meta.get("timestamp"),
        meta.get("timestamp_micro") or meta.get("timestamp_milli"),
        order=meta.get("id"),
    )
    return timed_key(hashed, ADAPTER("crm-pipedrive").occurred_at(body, {}))


def expected(name: str) -> list[dict[str, Any]]:
    key = v1_key(body_of(name)) if name.startswith("v1.") else ""
    return [{**e, "id": e["id"].replace("V1KEY", key)} for e in EXPECTED[name]]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_becomes_the_expected_events(name: str) -> None:
    assert convert(body_of(name)) == expected(name)


def test_every_action_and_entity_has_a_fixture() -> None:
    covered = {tuple(name.split(".")[:2]) for name in EXPECTED if not name.startswith("v1.")}
    assert covered == {(action, entity) for action in ACTIONS for entity in ENTITIES}


def test_every_v1_action_has_a_fixture() -> None:
    covered = {name.split(".")[1] for name in EXPECTED if name.startswith("v1.")}
    assert covered == set(V1_ACTIONS)


def test_every_fixture_file_is_checked() -> None:
    names = {path.stem for path in FIXTURES.glob("*.json")}
    assert names - set(EXPECTED) == {
        "create.product.unknown",
        "merge.person.unknown",
        "v1.updated.pipeline.unknown",
    }


def test_module_exports_the_adapter() -> None:
    assert ADAPTER is PipedriveAdapter
    assert PipedriveAdapter.kind == "pipedrive"


# ------------------------------------------------------------------ unknown names


@pytest.mark.parametrize("name", ["create.product.unknown", "v1.updated.pipeline.unknown"])
def test_an_entity_leadsync_keeps_nothing_of_gives_nothing(name: str) -> None:
    """A ``*.*`` webhook sends products, pipelines, stages and users too: nothing to do, as
    a deletion (a dead letter each, nobody could fix, and the dead-letter alert firing)."""
    assert convert(body_of(name)) == []
    body = body_of("create.product.unknown")
    # v2's newer entities (its guide lists them): a deal's products and installments,
    # projects with their boards, phases and tasks.
    for entity in ("deal_product", "deal_installment", "project", "board", "phase", "task"):
        body["meta"]["entity"] = entity
        assert convert(body) == [], entity
    body["meta"]["entity"] = "widget"  # an entity Pipedrive does not send: still a question
    with pytest.raises(EventError, match="field \"meta.entity\": unknown event 'widget'"):
        convert(body)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("merge.person.unknown", "field \"meta.action\": unknown event 'merge'; known: create"),
    ],
)
def test_unknown_event_names_become_dead_letters(name: str, message: str) -> None:
    adapter = ADAPTER("crm-pipedrive")
    (piece,) = adapter.pieces(request(body_of(name)))  # accepted and stored ...
    with pytest.raises(EventError) as caught:  # ... but it cannot be converted
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:7", None)
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
        ("create.person", "meta.timestamp", True, "meta.timestamp"),
        ("create.person", "meta.timestamp", "yesterday", "meta.timestamp"),
        ("create.person", "meta.id", ["x"], "meta.id"),
        ("create.person", "meta.entity", 5, "meta.entity"),
        ("create.person", "meta.entity_id", {"id": 1}, "meta.entity_id"),
        ("create.person", "data", "person", "data"),
        ("create.person", "data.emails", "kim@globex.test", "data.emails"),
        ("create.person", "data.emails", ["kim@globex.test"], "data.emails[0]"),
        ("create.person", "data.phones", [{"value": 5551234}], "data.phones[0].value"),
        ("create.person", "data.phones", "+1 555 0100", "data.phones"),
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
    with pytest.raises(EventError, match='field "data.type": required') as caught:
        convert(body)
    # What is allowed is said (it said "required" alone; found by a probe).
    assert "(call, meeting, task, deadline, email, lunch, or any the company made" in str(
        caught.value
    )


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


@pytest.mark.parametrize(
    ("timestamp", "occurred_at"),
    [
        ("2026-11-01T09:00:00.000Z", ON_NOV_1),
        ("2026-11-01T10:00:00+01:00", ON_NOV_1),
        (1_793_523_600, ON_NOV_1),  # unix seconds
        (1_793_523_600.5, "2026-11-01T09:00:00.500Z"),
        (1_793_523_600_250, "2026-11-01T09:00:00.250Z"),  # milliseconds
        ("1793523600", ON_NOV_1),  # digits in a string
        ("1793523600250", "2026-11-01T09:00:00.250Z"),
    ],
)
def test_v2_meta_timestamp_is_an_iso_string_or_a_unix_time(
    timestamp: Any, occurred_at: str
) -> None:
    body = mutate(body_of("create.person"), "meta.timestamp", timestamp)
    (piece,) = ADAPTER("crm-pipedrive").pieces(request(body))
    assert piece.occurred_at == occurred_at
    assert convert(body)[0]["occurred_at"] == occurred_at


@pytest.mark.parametrize(
    ("timestamp", "got"),
    [(True, "a boolean"), ("yesterday", "'yesterday'"), ([1], "an array"), ({}, "an object")],
)
def test_a_timestamp_of_another_form_names_the_allowed_ones(timestamp: Any, got: str) -> None:
    body = mutate(body_of("create.person"), "meta.timestamp", timestamp)
    with pytest.raises(EventError) as caught:
        ADAPTER("crm-pipedrive").pieces(request(body))
    assert str(caught.value) == (
        'field "meta.timestamp": must be an ISO 8601 time or a unix time in seconds or'
        f" milliseconds, got {got}"
    )


@pytest.mark.parametrize(
    ("fixture", "field"),
    [("create.person", "meta.timestamp"), ("v1.added.person", "meta.timestamp_micro")],
)
def test_a_unix_time_too_large_for_a_float_is_refused_naming_its_field(
    fixture: str, field: str
) -> None:
    """Found by the fuzz test: an integer of hundreds of digits overflowed a division into a
    defect ("internal error: OverflowError"); it is a refusal of that field."""
    body = mutate(body_of(fixture), field, int("7" * 400))
    with pytest.raises(EventError) as caught:
        ADAPTER("crm-pipedrive").pieces(request(body))
    assert str(caught.value).startswith(f'field "{field}": must be a unix time in ms, got ')


@pytest.mark.parametrize(
    ("drop", "occurred_at"),
    [
        ((), "2026-11-03T09:00:00.250Z"),  # timestamp_micro
        (("timestamp_micro",), "2026-11-03T09:00:00.000Z"),  # timestamp (seconds)
        (("timestamp_micro", "timestamp"), "2026-11-03T09:00:00.000Z"),  # current.update_time
    ],
)
def test_v1_times_are_unix_seconds_with_the_finest_first(
    drop: tuple[str, ...], occurred_at: str
) -> None:
    body = body_of("v1.added.person")
    for field in drop:
        del body["meta"][field]
    (piece,) = ADAPTER("crm-pipedrive").pieces(request(body))
    assert piece.occurred_at == occurred_at
    body["meta"]["timestamp_milli"] = 1_793_696_400_750
    if "timestamp_micro" in body["meta"]:
        return
    (piece,) = ADAPTER("crm-pipedrive").pieces(request(body))
    assert piece.occurred_at == "2026-11-03T09:00:00.750Z"


def test_a_v1_body_is_not_read_as_v2() -> None:
    # Before v1 was read, this was "field "meta.timestamp": must be an ISO 8601 time, got a
    # number": the wrong version, and a valid time.
    for name in ("v1.added.person", "v1.updated.deal", "v1.added.activity"):
        assert convert(body_of(name)) == expected(name)


def test_a_v1_body_without_meta_action_and_object_is_named_by_event() -> None:
    body = body_of("v1.added.person")
    del body["meta"]["action"], body["meta"]["object"]
    assert convert(body)[0]["type"] == "record"
    body["event"] = "added.product"
    assert convert(body) == []  # an entity leadsync keeps nothing of
    body["event"] = "added.widget"
    with pytest.raises(EventError, match="field \"event\": unknown event 'widget'"):
        convert(body)
    body["event"] = "renamed.person"
    with pytest.raises(EventError, match="field \"event\": unknown event 'renamed'; known: added"):
        convert(body)


def test_v1_keys_hash_the_event_since_v1_has_no_event_id() -> None:
    adapter = ADAPTER("crm-pipedrive")
    body = body_of("v1.updated.person.owner_only")
    (piece,) = adapter.pieces(request(body))
    assert piece.key == v1_key(body) and piece.key.startswith(f"t:{piece.occurred_at}:43:")
    assert piece.key != "43"  # meta.id is the person's id, not the event's
    retried = mutate(mutate(body, "retry", 2), "meta.webhook_id", "3399")
    assert adapter.pieces(request(retried))[0].key == piece.key
    other = body_of("v1.updated.person")  # the same person, another change
    assert adapter.pieces(request(other))[0].key != piece.key


def test_v1_owner_only_change_to_nobody_gives_nothing() -> None:
    body = mutate(body_of("v1.updated.person.owner_only"), "current.owner_id", None)
    assert convert(body) == []


def test_v1_another_change_with_the_owner_is_a_record_event_with_the_owner() -> None:
    body = mutate(body_of("v1.updated.person.owner_only"), "current.last_name", "Park-Li")
    (event,) = convert(body)
    assert event["type"] == "record" and event["owner"] == {"id": "9", "name": "Bo Li"}
    assert event["properties"]["lastname"] == "Park-Li"


@pytest.mark.parametrize(
    ("fixture", "path", "value", "message"),
    [
        (
            "v1.added.deal",
            "current.user_id",
            {"id": 9, "name": "Bo Li"},
            'field "current.user_id": must be an id (an integer or a string) or {"value": id,'
            " ...}, got an object without value (keys: id, name)",
        ),
        (
            "create.person",
            "data.org_id",
            [5],
            'field "data.org_id": must be an id (an integer or a string) or {"value": id, ...},'
            " got an array",
        ),
        (
            "v1.added.activity",
            "current.participants",
            [{"person_id": {"id": 43}}],
            'field "current.participants[0].person_id": must be an id (an integer or a string)'
            ' or {"value": id, ...}, got an object without value (keys: id)',
        ),
    ],
)
def test_an_id_of_another_shape_is_a_dead_letter_naming_it(
    fixture: str, path: str, value: Any, message: str
) -> None:
    with pytest.raises(EventError) as caught:
        convert(mutate(body_of(fixture), path, value))
    assert str(caught.value) == f"inbox:1: {message}"


def test_entity_id_falls_back_to_data_id() -> None:
    body = mutate(body_of("create.deal"), "meta.entity_id", None)
    assert convert(body)[0]["external_id"] == "77"


@pytest.mark.parametrize(
    ("fixture", "meta_id", "object_id"),
    [("create.deal", "meta.entity_id", "data.id"), ("v1.added.deal", "meta.id", "current.id")],
)
def test_the_object_is_named_by_its_own_id_over_the_meta_one(
    fixture: str, meta_id: str, object_id: str
) -> None:
    """A ``meta`` id that disagrees with the object's own (connectors' samples hold
    placeholders there) does not put the object's fields on another record."""
    body = mutate(body_of(fixture), meta_id, "999")
    (event,) = convert(body)
    assert event["external_id"] == str(get_path(body, object_id)) != "999"


def test_the_meta_id_names_an_object_without_one() -> None:
    body = copy.deepcopy(body_of("create.deal"))
    del body["data"]["id"]
    assert convert(body)[0]["external_id"] == str(body["meta"]["entity_id"])


def test_an_object_named_nowhere_is_a_dead_letter_naming_both_places() -> None:
    body = mutate(body_of("create.deal"), "meta.entity_id", None)
    del body["data"]["id"]
    with pytest.raises(EventError) as caught:
        convert(body)
    assert str(caught.value) == (
        'inbox:1: field "meta.entity_id": required when data.id is missing (the changed'
        " object's id)"
    )


@pytest.mark.parametrize("email", ["n/a", 42, None])
def test_a_v1_user_email_that_is_not_one_is_passed_over(email: Any) -> None:
    body = mutate(body_of("v1.added.deal"), "current.user_id.email", email)
    assert convert(body)[0]["owner"] == {"id": "9", "name": "Bo Li"}


def _auto_matched(db_url: str, fixture: str) -> Workspace:
    """A workspace whose Pipedrive integration maps reps by email only, having ingested
    ``fixture`` (no dead letter)."""
    ws = Workspace(db_url)
    users = {"auto_match": "email", "unmapped": {"policy": "leave"}}
    ws.apply_config(workspace_config({"crm": {"kind": "pipedrive", "users": users}}))
    summary = ws.ingest("crm", [json.dumps(body_of(fixture))], source="pd.jsonl")
    assert summary.dead_letter_count == 0
    return ws


def test_a_v1_owner_email_maps_the_rep_by_auto_match_without_a_directory(db_url: str) -> None:
    """The v1 user object's email teaches leadsync the rep's email: auto-match finds the owner
    with it (bo@acme.test is owner 102), as a directory entry would."""
    with _auto_matched(db_url, "v1.added.deal") as ws:
        [deal] = ws.find(external="crm:80")
        assert deal["owner_id"] == "102"


def test_a_v1_notes_author_is_mapped_by_the_email_of_the_user_beside_its_id(db_url: str) -> None:
    """A v1 note names its author by a plain ``user_id`` and renders the user beside it
    (``user``: email, name — the API's note object): auto-match finds the owner with that
    email (bo@acme.test is owner 102); before, the note had no owner."""
    with _auto_matched(db_url, "v1.added.note") as ws:
        [note] = ws.activities(integration="crm")
        assert note["owner_id"] == "102"


def test_owner_only_change_without_a_new_owner_gives_nothing() -> None:
    body = mutate(body_of("change.person.owner_only"), "data.owner_id", None)
    assert convert(body) == []


def test_change_with_null_previous_does_not_assert_the_owner() -> None:
    """Not known to be a change: given as the owner the record has, for a record first
    seen now (never decided for one that exists)."""
    body = mutate(body_of("change.person"), "previous", None)
    (event,) = convert(body)
    assert event["type"] == "record"
    assert event["owner_unchanged"] is True


@pytest.mark.parametrize(
    ("type_key", "done", "draft"),
    [
        ("call", False, True),
        ("call", "0", True),  # v1's flag
        ("email", 0, True),
        ("call", True, False),
        ("call", None, False),  # not said: as before, no draft
        ("meeting", False, False),  # a meeting planned is a meeting (its start is set)
        ("task", False, False),  # a task has its status
    ],
)
def test_a_planned_call_or_email_is_a_draft(type_key: str, done: Any, draft: bool) -> None:
    body = mutate(body_of("change.activity.call_planned"), "data.type", type_key)
    body = mutate(body, "data.done", done)
    (event,) = convert(body)
    assert event.get("draft", False) is draft


def test_a_planned_call_is_created_once_done_with_what_it_said(db_url: str) -> None:
    """Planned, nothing is on the timeline (the reason says it is planned); the update that
    marks it done creates the call, with the contact the planned one named — whichever of the
    two arrives first."""
    planned = body_of("change.activity.call_planned")
    done = mutate(mutate(planned, "data.done", True), "meta.id", "5f1c4a2e-done")
    done = mutate(done, "data.update_time", "2026-11-03T15:10:00Z")
    done = mutate(mutate(done, "data.person_id", None), "data.participants", [])
    for order in ([planned], [planned, done], [done, planned]):
        with Workspace(db_url) as ws:
            ws.apply_config(workspace_config({"crm": {"kind": "pipedrive"}}))
            kim = mutate(body_of("create.person"), "data.id", 42)
            ws.ingest("crm", [json.dumps(kim)], source="kim.json")
            summary = ws.ingest("crm", [json.dumps(b) for b in order], source="pd.jsonl")
            assert summary.dead_letter_count == 0
            calls = [a for a in ws.activities() if a["type"] == "call"]
            if done not in order:
                assert calls == []
                assert summary.applied.activities_skipped == 0  # no skip: it is remembered
                continue
            [call] = calls
            assert call["external_id"] == "502"
            [contact] = ws.find(external="crm:42")
            assert ("contact", contact["id"]) in [(r["type"], r["id"]) for r in call["records"]]


def test_v1_style_ids_and_flags_are_read() -> None:
    body = mutate(body_of("create.activity.call"), "data.org_id", {"value": 5, "name": "Globex"})
    body = mutate(body, "data.done", 1)
    (event,) = convert(body)
    assert GLOBEX in event["associations"]
    assert event["properties"]["duration_s"] == 420


def test_duration_with_seconds() -> None:
    body = mutate(body_of("create.activity.call"), "data.duration", "01:02:03")
    assert convert(body)[0]["properties"]["duration_s"] == 3723


def test_v2_times_as_objects_with_a_timezone_are_read_like_the_flat_ones() -> None:
    """Webhooks v2 may send ``due_time`` and ``duration`` as ``{timezone_id, value}``; an
    empty value is no time (the rest of the event still applies)."""
    flat = convert(body_of("create.activity.call"))[0]
    body = body_of("create.activity.call")
    due_time = get_path(body, "data.due_time")
    duration = get_path(body, "data.duration")
    body = mutate(body, "data.due_time", {"timezone_id": None, "value": due_time})
    body = mutate(body, "data.duration", {"timezone_id": None, "value": duration})
    assert convert(body)[0]["properties"] == flat["properties"]
    assert convert(body)[0]["occurred_at"] == flat["occurred_at"]
    empty = mutate(body, "data.due_time", {"timezone_id": None, "value": ""})
    empty = mutate(empty, "data.duration", {"timezone_id": None, "value": ""})
    (event,) = convert(empty)
    assert "duration_s" not in event["properties"]
    assert event["properties"].get("title") == flat["properties"].get("title")


@pytest.mark.parametrize(
    ("emails", "expected"),
    [
        # junk is passed over, not a reason to refuse the person
        ([{"label": "work", "value": "234234", "primary": True}], None),
        (
            [
                {"label": "work", "value": "n/a", "primary": True},
                {"label": "home", "value": "Kim@Globex.test", "primary": False},
            ],
            "kim@globex.test",
        ),
        (
            [
                {"label": "home", "value": "other@globex.test", "primary": False},
                {"label": "work", "value": "kim@globex.test", "primary": True},
            ],
            "kim@globex.test",
        ),
    ],
)
def test_a_persons_email_is_its_first_real_one_primary_first(
    emails: Any, expected: str | None
) -> None:
    for fixture, field in (("create.person", "data.emails"), ("v1.added.person", "current.email")):
        body = mutate(body_of(fixture), field, emails)
        (record,) = convert(body)
        assert record["properties"].get("email") == expected, fixture
        assert record["properties"].get("name"), fixture  # the rest of the person is kept


# ------------------------------------------------------------------ phone numbers


PERSON_PHONES = ("phone", "mobilephone", *OTHER_PHONES)


def numbers_of(fixture: str, field: str, phones: Any) -> dict[str, Any]:
    """The phone properties of the person of ``fixture`` whose ``field`` is ``phones``."""
    (record,) = convert(mutate(body_of(fixture), field, phones))
    return {k: v for k, v in record["properties"].items() if k in PERSON_PHONES}


@pytest.mark.parametrize(
    ("phones", "expected"),
    [
        # the primary of each kind, else its first; the numbers left in list order
        (
            [
                {"value": "+1 555 0177", "primary": False, "label": "home"},
                {"value": "+1 555 0110", "primary": True, "label": "work"},
                {"value": "+1 555 0142", "primary": False, "label": "mobile"},
                {"value": "+1 555 0143", "primary": False, "label": "mobile"},
            ],
            {
                "phone": "+1 555 0110",
                "mobilephone": "+1 555 0142",
                "other_phone_1": "+1 555 0177",
                "other_phone_2": "+1 555 0143",
            },
        ),
        # a primary mobile number is the mobile, never the phone
        (
            [{"value": "+1 555 0142", "primary": True, "label": "mobile"}],
            {"mobilephone": "+1 555 0142"},
        ),
        # only mobile numbers: the others are other numbers, never the phone
        (
            [
                {"value": "+1 555 0142", "label": "mobile"},
                {"value": "+1 555 0143", "primary": True, "label": "Mobile"},
            ],
            {"mobilephone": "+1 555 0143", "other_phone_1": "+1 555 0142"},
        ),
        # no label (or another one): the phone
        ([{"value": "+1 555 0100", "primary": True}], {"phone": "+1 555 0100"}),
        ([{"value": "+1 555 0100", "label": None}], {"phone": "+1 555 0100"}),
        # empty values are no number (nor an other one)
        (
            [
                {"value": "", "primary": True, "label": "mobile"},
                {"value": "+1 555 0100"},
                {"value": "  ", "label": "home"},
                {"value": " +1 555 0177 ", "label": "home"},
            ],
            {"phone": "+1 555 0100", "other_phone_1": "+1 555 0177"},
        ),
        ([], {}),
        (None, {}),
    ],
)
def test_person_numbers(phones: Any, expected: dict[str, str]) -> None:
    """v2's ``data.phones`` and v1's ``current.phone`` are the person's whole list
    (``phone_list_complete``), so either gives every phone property, null for what it lacks
    (all null for an empty list), and none when the payload has no list."""
    whole = {**NO_NUMBERS, **expected} if phones is not None else expected
    assert numbers_of("create.person", "data.phones", phones) == whole
    assert numbers_of("v1.added.person", "current.phone", phones) == whole


def test_a_person_with_four_numbers_keeps_the_two_beyond_a_phone_and_a_mobile() -> None:
    """The numbers after the phone and the mobile one go to ``other_phone_1``… in list order:
    a call from any of them finds the person. Both versions' lists are the whole one, so
    they give null for every phone property beyond them."""
    four = [
        {"label": "home", "value": "+1 415 555 0177", "primary": False},
        {"label": "mobile", "value": "+1 415 555 0142", "primary": False},
        {"label": "work", "value": "+1 415 555 0110", "primary": True},
        {"label": "other", "value": "+1 415 555 0199", "primary": False},
    ]
    given = {
        "phone": "+1 415 555 0110",
        "mobilephone": "+1 415 555 0142",
        "other_phone_1": "+1 415 555 0177",
        "other_phone_2": "+1 415 555 0199",
    }
    assert numbers_of("create.person", "data.phones", four) == {**NO_NUMBERS, **given}
    assert numbers_of("v1.added.person", "current.phone", four) == {**NO_NUMBERS, **given}
    # A v1 list that lost its home number: the numbers after it move up a place.
    assert numbers_of("v1.updated.person", "current.phone", four[1:]) == {
        **NO_NUMBERS,
        "phone": "+1 415 555 0110",
        "mobilephone": "+1 415 555 0142",
        "other_phone_1": "+1 415 555 0199",
    }
    # Only mobile numbers: a v1 list has no phone (null), the second mobile is an other one.
    mobiles = [{**four[1], "primary": True}, {**four[0], "label": "Mobile"}]
    assert numbers_of("v1.updated.person", "current.phone", mobiles) == {
        **NO_NUMBERS,
        "mobilephone": "+1 415 555 0142",
        "other_phone_1": "+1 415 555 0177",
    }


def test_a_list_longer_than_seven_keeps_the_first_five_left() -> None:
    numbers = [
        {"label": "mobile" if i == 3 else "work", "value": f"+1 415 555 01{i:02d}"}
        for i in range(10)
    ]
    kept = {
        "phone": "+1 415 555 0100",
        "mobilephone": "+1 415 555 0103",
        "other_phone_1": "+1 415 555 0101",
        "other_phone_2": "+1 415 555 0102",
        "other_phone_3": "+1 415 555 0104",
        "other_phone_4": "+1 415 555 0105",
        "other_phone_5": "+1 415 555 0106",
    }
    assert numbers_of("create.person", "data.phones", numbers) == kept
    assert numbers_of("v1.added.person", "current.phone", numbers) == kept


def test_a_call_activity_without_a_person_is_still_the_call() -> None:
    """Pipedrive's activities carry no numbers: a call is named by its person only, and one
    without a person is the call alone (not a dead letter)."""
    body = mutate(body_of("create.activity.call"), "data.person_id", None)
    body = mutate(body, "data.participants", [])
    (call,) = convert(body)
    assert call["activity"] == "call"
    assert all(a["object"] != "contact" for a in call.get("associations", []))
    assert not {"from_number", "to_number"} & set(call["properties"])


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
    assert piece.key.startswith(f"t:{piece.occurred_at}:")
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


def test_a_deals_expected_close_date_and_probability_are_kept() -> None:
    """Pipedrive's ``expected_close_date`` ("YYYY-MM-DD") is the deal's close date, that day at
    midnight UTC, as Salesforce's CloseDate is (hookdeck's published ``added.deal`` has one)."""
    body = mutate(body_of("create.deal"), "data.expected_close_date", "2023-05-30")
    body = mutate(body, "data.probability", 40)
    properties = convert(body)[0]["properties"]
    assert properties["closedate"] == "2023-05-30T00:00:00.000Z"
    assert properties["probability"] == 40


def test_a_change_that_empties_the_close_date_clears_it_and_other_events_do_not() -> None:
    created = mutate(body_of("create.deal"), "data.expected_close_date", None)
    assert "closedate" not in convert(created)[0]["properties"]
    changed = mutate(body_of("change.deal"), "data.expected_close_date", None)
    changed["previous"] = {"expected_close_date": "2023-05-30"}
    assert convert(changed)[0]["properties"]["closedate"] is None
    changed["previous"] = {"title": "Old title"}
    assert "closedate" not in convert(changed)[0]["properties"]


def test_a_bad_expected_close_date_names_its_field() -> None:
    body = mutate(body_of("create.deal"), "data.expected_close_date", "next week")
    with pytest.raises(EventError, match=r"data\.expected_close_date"):
        convert(body)
