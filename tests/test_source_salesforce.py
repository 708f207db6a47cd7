"""The Salesforce adapter: Outbound Messages (SOAP XML) and relayed Change Data Capture events
(JSON), through its public hooks: verify, pieces, acknowledge, events_of."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, SignatureError
from leadsync.sources import KINDS, adapter_class
from leadsync.sources.base import WebhookRequest, stable_key, timed_key
from leadsync.sources.salesforce import ACK, ADAPTER, SalesforceAdapter, id18
from tests import adapters as harness

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks" / "salesforce"
SECRET = "relay-s3cr3t-do-not-leak"
NOW = 1_790_000_000.0
ORG_15 = "00D5g000004Xyz1"
ORG_18 = "00D5g000004Xyz1EAC"
OPTIONS = {"organization_id": ORG_15}

# Every id in the events is the 18-character form, whatever the payload used.
REP = "0055g00000XyZaBAAV"
REP_2 = "0055g00000XyZaCAAV"
QUEUE = "00G5g000001QuEuEAK"
KIM_LEAD = "00Q5g00000AbCdEEAV"
BO = "0035g00000QwErTAAV"
INITECH = "0015g00000AsDfGAAV"
EXPANSION = "0065g00000ZxCvBAAV"
CALL_TASK = "00T5g00000CaLl1EAF"
PLAIN_TASK = "00T5g00000TaSk1EAF"
MEETING = "00U5g00000MeEt1EAF"
KEY = "<piece key>"


def contact(external_id: str) -> dict[str, str]:
    return {"object": "contact", "external_id": external_id}


def company(external_id: str) -> dict[str, str]:
    return {"object": "company", "external_id": external_id}


def deal(external_id: str) -> dict[str, str]:
    return {"object": "deal", "external_id": external_id}


def raw_of(name: str) -> bytes:
    path = FIXTURES / name
    if path.suffix == ".xml":
        return path.read_bytes()
    return json.dumps(json.loads(path.read_text())["body"]).encode()


def body_of(name: str) -> Any:
    return harness.body("salesforce", name.removesuffix(".json"))


def request(raw: bytes | Any, content_type: str | None = None, **headers: str) -> WebhookRequest:
    raw = harness.encode(raw)
    if content_type is None:
        content_type = (
            "text/xml; charset=utf-8" if raw.lstrip().startswith(b"<") else "application/json"
        )
    return harness.json_request(
        "https://hooks.leadsync.test/salesforce", raw, {"content-type": content_type, **headers}
    )


def signed(raw: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"x-leadsync-signature": f"sha256={harness.hmac_hex(secret, raw)}"}


def convert(raw: bytes | Any, adapter: SalesforceAdapter | None = None) -> list[dict[str, Any]]:
    """The canonical events of one request; each piece's key is written as KEY."""
    adapter = adapter or ADAPTER("crm-salesforce", OPTIONS)
    delivered = harness.deliver(adapter, request(raw))
    return [data for piece, events in delivered for data in harness.as_dicts(piece, events, KEY)]


# ------------------------------------------------------------------ Outbound Messages

OUTBOUND: dict[str, list[dict[str, Any]]] = {
    "om_lead.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": KIM_LEAD,
            "owner": REP,
            "properties": {
                "email": "kim.lee@globex.test",
                "firstname": "Kim",
                "lastname": "Lee",
                "phone": "+1 555 0100",
                "company": "Globex",
            },
        }
    ],
    # A queue owns it (no person: the mapping will count it as unmapped); a nil field is one
    # emptied in Salesforce: FirstName clears the first name, Email is never cleared (the
    # engine keeps a record's email); SystemModstamp gives the time when LastModifiedDate is
    # not selected.
    "om_lead_queue_owner.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T10:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "00Q5g00000AbCdFEAV",
            "owner": QUEUE,
            "properties": {"firstname": None, "lastname": "Queue", "company": "Initech"},
        }
    ],
    "om_contact.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-02T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": BO,
            "owner": REP,
            "properties": {"email": "bo@initech.test", "firstname": "Bo", "lastname": "Park"},
            "associations": [company(INITECH)],
        }
    ],
    # Phone and MobilePhone, as given.
    "om_lead_phones.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "00Q5g00000AbCdFEAV",
            "owner": REP,
            "properties": {
                "email": "kim.lee@globex.test",
                "firstname": "Kim",
                "lastname": "Lee",
                "phone": "+1 555 0100",
                "mobilephone": "+1 415 555 0142",
                "company": "Globex",
            },
        }
    ],
    "om_account.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-02T08:00:00.000Z",
            "type": "record",
            "object": "company",
            "external_id": INITECH,
            "owner": REP,
            "properties": {"name": "Initech", "domain": "initech.test"},
        }
    ],
    "om_opportunity.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-03T09:00:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": EXPANSION,
            "owner": REP,
            "properties": {
                "name": "Initech expansion",
                "stage": "Closed Won",
                "is_closed": True,
                "amount": 50000,
                "closedate": "2026-11-30T00:00:00.000Z",
            },
            "associations": [company(INITECH)],
        }
    ],
    # A call happened when the task was created.
    "om_task_call.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-03T10:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": CALL_TASK,
            "owner": REP,
            "properties": {
                "title": "Call Bo",
                "body": "Discussed renewal",
                "duration_s": 95,
                "salesforce_call_type": "Outbound",
                "direction": "outbound",
                "salesforce_call_disposition": "Left Voicemail",
                "outcome": "voicemail",
            },
            "associations": [contact(BO), deal(EXPANSION)],
        }
    ],
    "om_task_email.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-03T11:00:00.000Z",
            "type": "activity",
            "activity": "email",
            "external_id": "00T5g00000EmAiLEAV",
            "owner": REP,
            "properties": {"subject": "Email: Proposal", "body": "Please find attached"},
            "associations": [contact(KIM_LEAD), company(INITECH)],
        }
    ],
    # WhatId names a case (500): not a record leadsync keeps, so no association; the nil
    # Description is an emptied one (body null).
    "om_task.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-03T12:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": PLAIN_TASK,
            "owner": REP,
            "properties": {
                "subject": "Send contract",
                "body": None,
                "salesforce_status": "Waiting on someone else",
                "status": "waiting",
                "salesforce_priority": "Normal",
                "priority": "medium",
                "due": "2026-11-10T00:00:00.000Z",
            },
            "associations": [contact(BO)],
        }
    ],
    "om_event.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-05T15:00:00.000Z",
            "type": "activity",
            "activity": "meeting",
            "external_id": MEETING,
            "owner": REP,
            "properties": {
                "title": "Demo",
                "body": "Product demo",
                "start": "2026-11-05T15:00:00.000Z",
                "end": "2026-11-05T16:00:00.000Z",
            },
            "associations": [contact(BO), deal(EXPANSION)],
        }
    ],
    "om_two_notifications.xml": [
        {
            "id": KEY,
            "occurred_at": "2026-11-02T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": BO,
            "owner": REP,
            "properties": {"lastname": "Park"},
        },
        {
            "id": KEY,
            "occurred_at": "2026-11-02T09:30:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "0035g00000QwErUAAV",
            "owner": REP_2,
            "properties": {"lastname": "Ng"},
        },
    ],
}


@pytest.mark.parametrize("name", sorted(OUTBOUND))
def test_outbound_message_becomes_the_expected_events(name: str) -> None:
    assert convert(raw_of(name)) == OUTBOUND[name]


def test_outbound_pieces_are_keyed_by_notification_id_and_timed_by_the_record() -> None:
    pieces = ADAPTER("crm-salesforce", OPTIONS).pieces(request(raw_of("om_two_notifications.xml")))
    assert [(p.key, p.occurred_at) for p in pieces] == [
        ("04l5g0000001AjAAAU", "2026-11-02T09:00:00.000Z"),
        ("04l5g0000001AkAAAU", "2026-11-02T09:30:00.000Z"),
    ]
    assert pieces[0].body == {
        "channel": "outbound_message",
        "organization_id": ORG_18,
        "action_id": "04k5g000000TestAAA",
        "notification_id": "04l5g0000001AjAAAU",
        "sobject": "Contact",
        "fields": {
            "Id": "0035g00000QwErT",
            "OwnerId": "0055g00000XyZaB",
            "LastName": "Park",
            "LastModifiedDate": "2026-11-02T09:00:00.000+0000",
        },
    }


def test_outbound_message_is_acknowledged_in_soap() -> None:
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    pieces = adapter.pieces(request(raw_of("om_lead.xml")))
    answer = adapter.acknowledge(pieces)
    assert answer == ("text/xml; charset=utf-8", ACK)
    root = ET.fromstring(ACK)
    ack = root.find(".//{http://soap.sforce.com/2005/09/outbound}Ack")
    assert ack is not None and ack.text == "true"


def test_change_events_get_the_default_acknowledgement() -> None:
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    assert adapter.acknowledge(adapter.pieces(request(raw_of("cdc_create_lead.json")))) is None


def test_an_empty_array_of_change_events_is_refused() -> None:
    """A relay's empty array was answered 200 with nothing accepted, as if all were well."""
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    with pytest.raises(EventError, match="must hold at least one change event"):
        adapter.pieces(request(b"[]"))


def test_an_unknown_sobject_is_a_dead_letter() -> None:
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    (piece,) = adapter.pieces(request(raw_of("om_case_unknown.xml")))
    with pytest.raises(EventError) as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:4", None)
    assert str(caught.value) == (
        "inbox:4: field \"sobject\": sObject 'Case' is not supported;"
        " allowed: Lead, Contact, Account, Opportunity, Task, Event"
    )


def test_a_document_type_declaration_is_refused() -> None:
    with pytest.raises(EventError, match="must not have a document type declaration"):
        ADAPTER("crm-salesforce", OPTIONS).pieces(request(raw_of("om_doctype.xml")))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"<notifications><Notification>", "not well-formed XML (line 1, column"),
        (b"<a xmlns='urn:other'><b/></a>", "no notifications element"),
        (
            b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
            b"<Notification><sObject/></Notification></notifications>",
            'field "notifications.Notification[0].Id": required',
        ),
        (
            b'<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
            b"<Notification><Id>04l5g0000001AaAAAU</Id><sObject/></Notification></notifications>",
            'field "notifications.Notification[0].sObject": required: the xsi:type',
        ),
    ],
)
def test_unreadable_outbound_messages_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(EventError, match=re.escape(message)):
        ADAPTER("crm-salesforce", OPTIONS).pieces(request(raw))


def test_a_notification_that_cannot_be_read_is_set_apart_and_the_others_cut() -> None:
    """Salesforce sends up to 100 notifications in one message: one without ``Id`` (or a
    typed ``sObject``) is refused alone, kept as a message of its own; the others are cut."""
    raw = raw_of("om_two_notifications.xml").replace(b"<Id>04l5g0000001AjAAAU</Id>", b"")
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    pieces, refused = adapter.cut(request(raw))
    assert [(p.index, p.key) for p in pieces] == [
        (1, timed_key("04l5g0000001AkAAAU", "2026-11-02T09:30:00.000Z"))
    ]
    assert adapter.acknowledge(pieces) == ("text/xml; charset=utf-8", ACK)
    [alone] = refused
    assert (alone.index, alone.error) == (0, 'field "notifications.Notification[0].Id": required')
    kept = json.loads(alone.text)["body"]  # as ingest reads an XML body: {"body": "<…>"}
    with pytest.raises(EventError) as again:  # read again, it is that message's only one
        adapter.cut(request(kept.encode()))
    assert str(again.value) == alone.error
    fixed = kept.replace(
        "<ns0:Notification>", "<ns0:Notification><ns0:Id>04l5g0000001AjAAAU</ns0:Id>"
    )
    [piece] = adapter.pieces(request(fixed.encode()))
    assert json.loads(piece.payload())["body"]["fields"]["LastName"] == "Park"
    with pytest.raises(EventError, match=r'"notifications.Notification\[1\].Id": required'):
        second_bad = raw_of("om_two_notifications.xml").replace(b"<Id>04l5g0000001AkAAAU</Id>", b"")
        adapter.pieces(request(second_bad))


def test_without_a_modification_time_the_notification_is_a_dead_letter() -> None:
    raw = raw_of("om_account.xml").replace(b"LastModifiedDate", b"CreatedDate")
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    (piece,) = adapter.pieces(request(raw))
    assert piece.occurred_at is None
    with pytest.raises(EventError, match='field "fields.LastModifiedDate": required'):
        adapter.events_of(piece.payload(), piece.key, 1, None, None)


def test_a_website_that_names_no_domain_is_kept_as_website() -> None:
    raw = raw_of("om_account.xml").replace(b"https://www.initech.test/", b"none yet")
    assert convert(raw)[0]["properties"] == {"name": "Initech", "website": "none yet"}


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        (b"<sf:OwnerId>0055g00000XyZaB<", b"<sf:OwnerId>not-an-id<", "fields.OwnerId"),
        (b"<sf:IsClosed>true<", b"<sf:IsClosed>maybe<", "fields.IsClosed"),
        (b"<sf:Amount>50000.0<", b"<sf:Amount>lots<", "fields.Amount"),
        (
            b"<sf:AccountId>0015g00000AsDfG<",
            b"<sf:AccountId>0015g00000AsDfG999<",
            "fields.AccountId",
        ),
        # Read on receipt (the time identifies it): named by its place in the message.
        (
            b"2026-11-03T09:00:00.000+0000",
            b"Tuesday",
            "notifications.Notification[0].fields.LastModifiedDate",
        ),
    ],
)
def test_wrong_outbound_values_name_the_field(old: bytes, new: bytes, named: str) -> None:
    raw = raw_of("om_opportunity.xml")
    assert old in raw
    with pytest.raises(EventError) as caught:
        convert(raw.replace(old, new))
    assert f'field "{named}":' in str(caught.value)


# ------------------------------------------------------------------ Change Data Capture

CHANGES: dict[str, list[dict[str, Any]]] = {
    # CREATE: every field present; nulls are left out; the compound Name is read.
    "cdc_create_lead.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": KIM_LEAD,
            "owner": REP,
            "properties": {
                "email": "kim.lee@globex.test",
                "firstname": "Kim",
                "lastname": "Lee",
                "company": "Globex",
            },
        }
    ],
    # Phone and MobilePhone as given (trimmed); a Contact's HomePhone is other_phone_1 (its
    # OtherPhone and AssistantPhone, null in a CREATE, give nothing).
    "cdc_create_contact_phones.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-04T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": "0035g00000QwErUAAV",
            "owner": REP,
            "properties": {
                "email": "dana.cruz@umbrella.test",
                "firstname": "Dana",
                "lastname": "Cruz",
                "phone": "(415) 555-0110",
                "mobilephone": "+1 415 555 0142",
                "other_phone_1": "+1 415 555 0177",
            },
            "associations": [company(INITECH)],
        }
    ],
    # An UPDATE of the mobile number alone: a record event with it (not an owner event).
    "cdc_update_lead_mobile.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-04T10:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": KIM_LEAD,
            "properties": {"mobilephone": "+1 415 555 0143"},
        }
    ],
    # UPDATE: only the changed fields (no owner: it did not change).
    "cdc_update_contact.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T10:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": BO,
            "properties": {"email": "bo.park@initech.test", "lastname": "Park-Lee"},
        }
    ],
    "cdc_update_owner_only.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T11:00:00.000Z",
            "type": "owner",
            "object": "company",
            "external_id": INITECH,
            "owner": REP_2,
        }
    ],
    "cdc_update_unmapped.json": [],
    # A Pub/Sub relay: unchanged fields are null, datetimes are epoch milliseconds.
    "cdc_update_opportunity_pubsub.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-02T09:00:00.000Z",
            "type": "record",
            "object": "deal",
            "external_id": EXPANSION,
            "properties": {"stage": "Closed Lost", "is_closed": True, "amount": 0},
        }
    ],
    "cdc_create_task_call.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T10:00:00.000Z",
            "type": "activity",
            "activity": "call",
            "external_id": CALL_TASK,
            "owner": REP,
            "properties": {
                "title": "Call Kim",
                "duration_s": 0,
                "salesforce_call_type": "Inbound",
                "direction": "inbound",
                "salesforce_call_disposition": "no_answer",
                "outcome": "no_answer",
            },
            "associations": [contact(KIM_LEAD)],
        }
    ],
    # An enriched TaskSubtype says what the task is; only the changed status is sent.
    "cdc_update_task_status.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T11:00:00.000Z",
            "type": "activity",
            "activity": "task",
            "external_id": PLAIN_TASK,
            "properties": {"salesforce_status": "Completed", "status": "completed"},
        }
    ],
    "cdc_create_event.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-05T15:00:00.000Z",
            "type": "activity",
            "activity": "meeting",
            "external_id": MEETING,
            "owner": REP,
            "properties": {
                "title": "Demo",
                "start": "2026-11-05T15:00:00.000Z",
                "end": "2026-11-05T16:00:00.000Z",
            },
            "associations": [contact(BO), company(INITECH)],
        }
    ],
    "cdc_delete.json": [],
    "cdc_undelete.json": [],
    # Two record ids: one event each, suffixed; the 15-character id becomes 18.
    "cdc_multi_ids.json": [
        {
            "id": f"{KEY}#{KIM_LEAD}",
            "occurred_at": "2026-11-01T11:36:40.000Z",
            "type": "owner",
            "object": "contact",
            "external_id": KIM_LEAD,
            "owner": QUEUE,
        },
        {
            "id": f"{KEY}#00Q5g00000AbCdFEAV",
            "occurred_at": "2026-11-01T11:36:40.000Z",
            "type": "owner",
            "object": "contact",
            "external_id": "00Q5g00000AbCdFEAV",
            "owner": QUEUE,
        },
    ],
    # An array: one piece per change event; the compound address is not mapped.
    "cdc_array.json": [
        {
            "id": KEY,
            "occurred_at": "2026-11-01T09:00:00.000Z",
            "type": "record",
            "object": "company",
            "external_id": INITECH,
            "owner": REP,
            "properties": {"name": "Initech", "domain": "initech.test"},
        },
        {
            "id": KEY,
            "occurred_at": "2026-11-01T09:00:00.000Z",
            "type": "record",
            "object": "contact",
            "external_id": BO,
            "owner": REP,
            "properties": {"email": "bo@initech.test", "firstname": "Bo", "lastname": "Park"},
            "associations": [company(INITECH)],
        },
    ],
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_change_event_becomes_the_expected_events(name: str) -> None:
    assert convert(raw_of(name)) == CHANGES[name]


@pytest.mark.parametrize("as_array", [False, True])
def test_a_change_event_as_cometd_delivers_it_is_read_by_its_payload(as_array: bool) -> None:
    """Salesforce's "Change Event Message Structure": ``{"data": {"schema", "payload",
    "event": {"replayId"}}, "channel"}``. A relay forwarding the message whole was refused
    (``field "ChangeEventHeader": required``); its payload is the change event."""
    change = json.loads(raw_of("cdc_update_contact.json"))
    message = {
        "data": {"schema": "IeRuaY6cbI_HsV8Rv1Mc5g", "payload": change, "event": {"replayId": 6}},
        "channel": "/data/ContactChangeEvent",
    }
    body = [message] if as_array else message
    assert convert(json.dumps(body).encode()) == CHANGES["cdc_update_contact.json"]
    (plain,) = ADAPTER("crm-salesforce", OPTIONS).pieces(request(raw_of("cdc_update_contact.json")))
    (piece,) = ADAPTER("crm-salesforce", OPTIONS).pieces(request(json.dumps(body).encode()))
    assert piece.key == plain.key  # the same change, however relayed: one event


def test_every_fixture_file_is_checked() -> None:
    names = {path.name for path in FIXTURES.iterdir() if path.is_file()}
    dead_letters = {
        "om_case_unknown.xml",
        "om_doctype.xml",
        "cdc_case_unknown.json",
        "cdc_gap.json",
        "cdc_overflow.json",
        "cdc_update_task_no_subtype.json",
        "cdc_unknown_change_type.json",
    }
    assert names == set(OUTBOUND) | set(CHANGES) | dead_letters


def test_every_sobject_and_change_type_is_covered() -> None:
    sobjects = {piece["sobject"] for name in OUTBOUND for piece in _outbound_bodies(name)}
    entities = {
        body_of(name)["ChangeEventHeader"]["entityName"]
        for name in CHANGES
        if name != "cdc_array.json"
    }
    changes = {
        body_of(name)["ChangeEventHeader"]["changeType"]
        for name in CHANGES
        if name != "cdc_array.json"
    }
    assert sobjects == {"Lead", "Contact", "Account", "Opportunity", "Task", "Event"}
    assert entities == {"Lead", "Contact", "Account", "Opportunity", "Task", "Event"}
    assert changes == {"CREATE", "UPDATE", "DELETE", "UNDELETE"}


def _outbound_bodies(name: str) -> list[dict[str, Any]]:
    pieces = ADAPTER("crm-salesforce", OPTIONS).pieces(request(raw_of(name)))
    return [p.body for p in pieces]


@pytest.mark.parametrize("name", ["cdc_gap.json", "cdc_overflow.json"])
def test_gap_events_are_dead_letters_that_ask_for_a_resync(name: str) -> None:
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    (piece,) = adapter.pieces(request(raw_of(name)))
    with pytest.raises(EventError, match="the subscriber lost changes; resync") as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:9", None)
    assert caught.value.where == "inbox:9"
    assert "GAP_" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "cdc_case_unknown.json",
            "field \"ChangeEventHeader.entityName\": sObject 'Case' is not supported; allowed: Lead,",
        ),
        (
            "cdc_unknown_change_type.json",
            "field \"ChangeEventHeader.changeType\": unknown event 'SNAPSHOT'; known: CREATE, UPDATE",
        ),
        (
            "cdc_update_task_no_subtype.json",
            'field "TaskSubtype": required on a Task update to know which activity it changes',
        ),
    ],
)
def test_unusable_change_events_are_dead_letters(name: str, message: str) -> None:
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    (piece,) = adapter.pieces(request(raw_of(name)))
    with pytest.raises(EventError) as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "inbox:2", None)
    assert str(caught.value).startswith(f"inbox:2: {message}")


def test_update_without_changed_fields_uses_every_field_present() -> None:
    body = copy.deepcopy(body_of("cdc_update_contact.json"))
    body["ChangeEventHeader"]["changedFields"] = []
    body["Phone"] = "+1 555 0199"
    assert convert(body)[0]["properties"] == {
        "email": "bo.park@initech.test",
        "lastname": "Park-Lee",
        "phone": "+1 555 0199",
    }


@pytest.mark.parametrize("bitmaps", [["0x4000008", "3-0x02"], ["3-0x02"], ["0x4000008"]])
def test_changed_fields_as_pub_sub_bitmaps_are_a_dead_letter_not_an_empty_change(
    bitmaps: list[str],
) -> None:
    body = copy.deepcopy(body_of("cdc_update_contact.json"))
    body["ChangeEventHeader"]["changedFields"] = bitmaps
    body["OwnerId"] = REP_2
    with pytest.raises(EventError) as caught:
        convert(body)
    message = str(caught.value)
    assert f'field "ChangeEventHeader.changedFields": holds field bitmaps ({bitmaps[0]}' in message
    assert "decode them" in message


def test_a_change_to_every_record_of_an_object_is_a_dead_letter_that_asks_for_a_resync() -> None:
    """Salesforce's change event for a custom field's type conversion that loses data names
    the object's prefix and a wildcard (``003*``) instead of record ids, and no values."""
    body = copy.deepcopy(body_of("cdc_update_contact.json"))
    body["ChangeEventHeader"]["recordIds"] = ["003*"]
    with pytest.raises(EventError) as caught:
        convert(body)
    assert caught.value.detail.startswith(
        "field \"ChangeEventHeader.recordIds[0]\": '003*' names every Contact record"
    )
    assert "resync these records" in str(caught.value)


def test_an_id_whose_checksum_contradicts_its_case_is_kept_as_written() -> None:
    """Its letters keep a case the last three characters contradict (a hand-written id):
    which is right cannot be told, so it is kept as written, never rewritten into another
    record's id; a case-folded id is restored."""
    body = copy.deepcopy(body_of("cdc_update_contact.json"))
    body["ChangeEventHeader"]["recordIds"] = ["0035g00000QWeRtAAA"]
    assert convert(body)[0]["external_id"] == "0035g00000QWeRtAAA"
    body["ChangeEventHeader"]["recordIds"] = [BO.lower()]
    assert convert(body)[0]["external_id"] == BO


def test_a_field_present_but_not_changed_is_not_sent() -> None:
    body = copy.deepcopy(body_of("cdc_update_contact.json"))
    body["OwnerId"] = REP_2  # present (enriched), but not in changedFields
    (event,) = convert(body)
    assert "owner" not in event


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("ChangeEventHeader.recordIds", "0035g00000QwErT", "ChangeEventHeader.recordIds"),
        ("ChangeEventHeader.recordIds", ["0035g00000QwErT!"], "ChangeEventHeader.recordIds[0]"),
        ("ChangeEventHeader.commitTimestamp", "soon", "ChangeEventHeader.commitTimestamp"),
        ("ChangeEventHeader.changedFields", "Email", "ChangeEventHeader.changedFields"),
        ("ChangeEventHeader.changeType", 3.5, "ChangeEventHeader.changeType"),
        ("ChangeEventHeader", [], "ChangeEventHeader"),
        ("Email", ["bo@initech.test"], "Email"),
        ("Name", {"LastName": 5.5}, "Name.LastName"),
    ],
)
def test_wrong_change_event_types_name_the_json_path(path: str, value: Any, named: str) -> None:
    body = copy.deepcopy(body_of("cdc_update_contact.json"))
    target = body
    steps = path.split(".")
    for step in steps[:-1]:
        target = target[step]
    target[steps[-1]] = value
    with pytest.raises(EventError) as caught:
        convert(body)
    assert f'field "{named}":' in str(caught.value)


@pytest.mark.parametrize("sobject", ["Lead", "Contact"])
def test_a_person_with_both_numbers_maps_both_and_only_changed_ones_on_update(
    sobject: str,
) -> None:
    body = copy.deepcopy(body_of("cdc_create_contact_phones.json"))
    body["ChangeEventHeader"]["entityName"] = sobject
    (event,) = convert(body)
    assert event["properties"]["phone"] == "(415) 555-0110"
    assert event["properties"]["mobilephone"] == "+1 415 555 0142"
    # A Lead has no HomePhone in Salesforce: a field so named in its event is not read.
    others = {k: v for k, v in event["properties"].items() if k.startswith("other_phone")}
    assert others == ({"other_phone_1": "+1 415 555 0177"} if sobject == "Contact" else {})
    body["ChangeEventHeader"].update(changeType="UPDATE", changedFields=["Phone"])
    (event,) = convert(body)
    assert event["properties"] == {"phone": "(415) 555-0110"}  # MobilePhone did not change
    body["ChangeEventHeader"]["changedFields"] = ["HomePhone"]
    home = [{"other_phone_1": "+1 415 555 0177"}] if sobject == "Contact" else []
    assert [e["properties"] for e in convert(body)] == home
    body["ChangeEventHeader"]["changedFields"] = ["MobilePhone"]
    body["MobilePhone"] = ["+1 415 555 0142"]
    with pytest.raises(EventError, match='field "MobilePhone": must be a string'):
        convert(body)


def test_a_call_task_without_a_person_is_still_the_call() -> None:
    """A Task has no numbers: a call is named by its WhoId, and one without is the call
    alone (not a dead letter)."""
    body = copy.deepcopy(body_of("cdc_create_task_call.json"))
    body.pop("WhoId", None)
    (event,) = convert(body)
    assert event["activity"] == "call"
    assert all(a["object"] != "contact" for a in event.get("associations", []))
    assert "direction" in event["properties"]


def test_a_body_that_is_neither_object_nor_array_is_refused() -> None:
    with pytest.raises(EventError, match="must be a change event or an array"):
        ADAPTER("crm-salesforce", OPTIONS).pieces(request(b'"hello"', "application/json"))
    with pytest.raises(EventError, match=r'field "\[1\]": must be a change event object'):
        ADAPTER("crm-salesforce", OPTIONS).pieces(request([body_of("cdc_delete.json"), 5]))


def test_an_event_of_an_array_that_cannot_be_identified_is_named_by_its_index() -> None:
    """The request is refused whole (docs/WEBHOOKS.md), naming the element as the body's
    other element errors do (``field "[1]": must be a change event object``)."""
    headerless = {k: v for k, v in body_of("cdc_delete.json").items() if k != "ChangeEventHeader"}
    batch = [body_of("cdc_update_contact.json"), headerless]
    with pytest.raises(EventError) as refused:
        ADAPTER("crm-salesforce", OPTIONS).pieces(request(batch))
    assert str(refused.value) == 'field "[1].ChangeEventHeader": required'
    with pytest.raises(EventError) as alone:  # a body of one event is the event
        ADAPTER("crm-salesforce", OPTIONS).pieces(request([headerless]))
    assert str(alone.value) == 'field "ChangeEventHeader": required'
    # Over HTTP and from ingest the event beside it is taken; this one is kept alone.
    pieces, [kept] = ADAPTER("crm-salesforce", OPTIONS).cut(request(batch))
    assert [p.index for p in pieces] == [0]
    assert (kept.index, kept.error) == (1, 'field "[1].ChangeEventHeader": required')
    assert json.loads(kept.text) == [headerless]


# ------------------------------------------------------------------ vocabularies

CALL_DISPOSITION_TABLE = [
    ("Connected", "connected"),
    ("answered", "connected"),
    ("No Answer", "no_answer"),
    ("no_answer", "no_answer"),
    ("Busy", "busy"),
    ("Voicemail", "voicemail"),
    ("Left Voicemail", "voicemail"),
    ("left-message", "left_live_message"),
    ("Left Live Message", "left_live_message"),
    ("Wrong Number", "wrong_number"),
    ("Failed", "failed"),
    ("Cancelled", "canceled"),
    ("canceled", "canceled"),
    ("Interested - call back", None),
]


@pytest.mark.parametrize(("vendor", "canonical"), CALL_DISPOSITION_TABLE)
def test_call_dispositions_map_to_canonical_outcomes(vendor: str, canonical: str | None) -> None:
    body = copy.deepcopy(body_of("cdc_create_task_call.json"))
    body["CallDisposition"] = vendor
    properties = convert(body)[0]["properties"]
    assert properties.get("outcome") == canonical
    assert properties["salesforce_call_disposition"] == vendor


@pytest.mark.parametrize(
    ("call_type", "direction"),
    [("Inbound", "inbound"), ("Outbound", "outbound"), ("Internal", None)],
)
def test_call_type_gives_the_direction(call_type: str, direction: str | None) -> None:
    body = copy.deepcopy(body_of("cdc_create_task_call.json"))
    body["CallType"] = call_type
    properties = convert(body)[0]["properties"]
    assert properties.get("direction") == direction
    assert properties["salesforce_call_type"] == call_type


@pytest.mark.parametrize(
    ("status", "canonical"),
    [
        ("Not Started", "not_started"),
        ("In Progress", "in_progress"),
        ("Completed", "completed"),
        ("Waiting on someone else", "waiting"),
        ("Deferred", "deferred"),
        ("Escalated", None),
    ],
)
def test_task_statuses_map_to_canonical_ones(status: str, canonical: str | None) -> None:
    body = copy.deepcopy(body_of("cdc_update_task_status.json"))
    body["Status"] = status
    properties = convert(body)[0]["properties"]
    assert properties.get("status") == canonical
    assert properties["salesforce_status"] == status


@pytest.mark.parametrize(
    ("priority", "canonical"),
    [("High", "high"), ("Normal", "medium"), ("Low", "low"), ("Urgent", None)],
)
def test_task_priorities_map_to_canonical_ones(priority: str, canonical: str | None) -> None:
    raw = raw_of("om_task.xml").replace(b">Normal<", f">{priority}<".encode())
    properties = convert(raw)[0]["properties"]
    assert properties.get("priority") == canonical
    assert properties["salesforce_priority"] == priority


# ------------------------------------------------------------------ ids


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),  # Salesforce's documented example
        ("a0D30000001n7Pi", "a0D30000001n7PiEAI"),  # published walk-throughs of the checksum
        ("500x000000003TR", "500x000000003TRAAY"),
        ("001A0000006Vm9rIAC", "001A0000006Vm9rIAC"),
        ("001a0000006vm9riac", "001A0000006Vm9rIAC"),  # an 18-character id is case-insensitive
        ("001A0000006VM9RIAC", "001A0000006Vm9rIAC"),  # upper case too
        ("001A0000006vm9rIAC", "001A0000006vm9rIAC"),  # its own case, contradicted: as written
        ("00Q5e000001AbcDEFG", "00Q5e000001AbcDEFG"),  # likewise (a published hand-written id)
        ("00q5e000001abcdefg", "00Q5e000001ABcdEAG"),  # lower case: restored by the suffix
        ("0035g00000QwErT", BO),
        ("001A0000006Vm9", None),  # 14 characters
        ("001A0000006Vm9rIA", None),  # 17 characters
        ("001A0000006Vm9rI9C", None),  # 9 is no checksum character
        ("001A0000006Vm9-", None),
    ],
)
def test_ids_become_18_characters(given: str, expected: str | None) -> None:
    assert id18(given) == expected


@pytest.mark.parametrize(
    ("typed", "found"),
    [
        ("001A0000006Vm9r", "001A0000006Vm9rIAC"),
        ("001A0000006Vm9rIAC", "001A0000006Vm9rIAC"),
        ("001a0000006vm9riac", "001A0000006Vm9rIAC"),
        (" 0035g00000QwErT ", BO),
        ("001A0000006Vm9", "001A0000006Vm9"),  # no Salesforce id: as given, finds nothing
        ("p-1", "p-1"),
    ],
)
def test_an_external_id_typed_in_either_form_is_looked_up_in_the_18_character_form(
    typed: str, found: str
) -> None:
    for record_type in (None, "contact", "company"):
        assert SalesforceAdapter.normalize_external_id(record_type, typed) == found


def test_other_kinds_look_external_ids_up_as_given() -> None:
    for kind in KINDS:
        if kind != "salesforce":
            assert adapter_class(kind).normalize_external_id(None, "001A0000006Vm9r") == (
                "001A0000006Vm9r"
            )


def test_15_and_18_character_ids_name_the_same_record() -> None:
    raw = raw_of("om_contact.xml")
    short = convert(raw)[0]
    longer = convert(raw.replace(b"0035g00000QwErT<", BO.lower().encode() + b"<"))[0]
    assert short["external_id"] == longer["external_id"] == BO


# ------------------------------------------------------------------ dedupe keys


def test_change_event_key_is_the_transaction_and_sequence() -> None:
    (piece,) = ADAPTER("crm-salesforce", OPTIONS).pieces(
        request(raw_of("cdc_update_owner_only.json"))
    )
    assert piece.occurred_at == "2026-11-01T11:00:00.000Z"
    assert piece.key == timed_key(stable_key("salesforce", "0002c4a1-aaaa", 2), piece.occurred_at)


def test_without_a_transaction_key_the_key_hashes_entity_ids_type_and_time() -> None:
    body = body_of("cdc_update_contact.json")
    (piece,) = ADAPTER("crm-salesforce", OPTIONS).pieces(request(body))
    hashed = stable_key("salesforce", "Contact", [BO], "UPDATE", 1793527200000)
    assert (
        piece.key
        == timed_key(hashed, "2026-11-01T10:00:00.000Z")
        == timed_key(hashed, piece.occurred_at)
    )


@pytest.mark.parametrize("name", ["om_lead.xml", "cdc_create_lead.json", "cdc_update_contact.json"])
def test_redelivery_has_the_same_key(name: str) -> None:
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    first = adapter.pieces(request(raw_of(name)))
    again = adapter.pieces(request(raw_of(name)))
    assert [p.key for p in first] == [p.key for p in again]
    assert len(first) == 1


def test_different_events_have_different_keys() -> None:
    adapter = ADAPTER("crm-salesforce", OPTIONS)
    keys = [
        p.key
        for name in sorted(OUTBOUND) + sorted(CHANGES)
        for p in adapter.pieces(request(raw_of(name)))
    ]
    assert len(keys) == len(set(keys)) == 27


# ------------------------------------------------------------------ authenticity


@pytest.mark.parametrize("configured", [ORG_15, ORG_18])
def test_outbound_message_of_the_configured_org_passes(configured: str) -> None:
    adapter = ADAPTER("crm-salesforce", {"organization_id": configured})
    adapter.verify(request(raw_of("om_lead.xml")), None, NOW)


def test_outbound_message_of_another_org_is_refused() -> None:
    adapter = ADAPTER("crm-salesforce", {"organization_id": "00D5g000009Othe"})
    with pytest.raises(SignatureError, match="OrganizationId is not the configured"):
        adapter.verify(request(raw_of("om_lead.xml")), SECRET, NOW)


@pytest.mark.parametrize("options", [{}, {"organization_id": None}])
def test_outbound_messages_are_refused_without_a_configured_org(
    options: dict[str, str | None],
) -> None:
    with pytest.raises(SignatureError, match="no organization_id is configured"):
        ADAPTER("crm-salesforce", options).verify(request(raw_of("om_lead.xml")), SECRET, NOW)


def test_outbound_message_without_organization_id_is_refused() -> None:
    raw = raw_of("om_lead.xml").replace(f"<OrganizationId>{ORG_18}</OrganizationId>".encode(), b"")
    with pytest.raises(SignatureError, match="has no OrganizationId"):
        ADAPTER("crm-salesforce", OPTIONS).verify(request(raw), SECRET, NOW)


def test_signed_change_events_pass() -> None:
    raw = raw_of("cdc_array.json")
    ADAPTER("crm-salesforce", OPTIONS).verify(request(raw, **signed(raw)), SECRET, NOW)


@pytest.mark.parametrize(
    "headers",
    [
        signed(b"another body"),
        signed(b"", secret="another-secret"),
        {},
        {"x-leadsync-signature": "sha1=abc"},
        {"x-leadsync-signature": "sha256=" + "0" * 64},
    ],
)
def test_badly_signed_change_events_are_refused(headers: dict[str, str]) -> None:
    raw = raw_of("cdc_array.json")
    with pytest.raises(SignatureError):
        ADAPTER("crm-salesforce", OPTIONS).verify(request(raw, **headers), SECRET, NOW)


def test_signed_with_another_secret_is_refused() -> None:
    raw = raw_of("cdc_array.json")
    with pytest.raises(SignatureError, match="bad signature") as caught:
        ADAPTER("crm-salesforce", OPTIONS).verify(request(raw, **signed(raw, "other")), SECRET, NOW)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("secret", [None, ""])
def test_change_events_are_refused_without_a_secret(secret: str | None) -> None:
    raw = raw_of("cdc_array.json")
    with pytest.raises(SignatureError, match="no webhook secret is configured"):
        ADAPTER("crm-salesforce", OPTIONS).verify(request(raw, **signed(raw)), secret, NOW)


def test_the_adapter_declares_its_channels() -> None:
    assert ADAPTER is SalesforceAdapter
    assert SalesforceAdapter.kind == "salesforce"
    assert set(SalesforceAdapter.content_types) == {
        "text/xml",
        "application/xml",
        "application/soap+xml",
        "application/json",
    }


def test_a_user_id_written_in_15_characters_maps_the_18_character_one_events_carry() -> None:
    """users.map and users.directory written with Salesforce's 15-character user ids (as its
    UI shows them) map the reps that events name in the 18-character form."""
    from leadsync.model import ExternalUserRef, Owner
    from leadsync.rules.mapping import OwnerDirectory, map_external_user
    from leadsync.settings import integration_from_dict

    mapped, listed = "0055g00000AbCdE", "0055g00000XyZwV"
    settings = integration_from_dict(
        {
            "kind": "salesforce",
            "vendor": {"organization_id": ORG_15},
            "users": {
                "auto_match": "email",
                "map": {mapped: "101"},
                "directory": [{"id": listed, "email": "bo@acme.test"}],
            },
        }
    )
    owners = {
        "101": Owner("101", "ana@acme.test"),
        "102": Owner("102", "bo@acme.test"),
    }
    directory = OwnerDirectory.build(owners, {})
    by_map = map_external_user(ExternalUserRef(id18(mapped)), settings.users, directory)
    assert (by_map.owner_id, by_map.mapped) == ("101", True)
    assert "explicit map" in by_map.how
    by_email = map_external_user(ExternalUserRef(id18(listed)), settings.users, directory)
    assert (by_email.owner_id, by_email.mapped) == ("102", True)
    assert settings.users.map == {mapped: "101"}  # kept as written (export round-trips)


def stamped(raw: bytes, at: float, secret: str = SECRET) -> dict[str, str]:
    message = str(int(at)).encode() + b"." + raw
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"x-leadsync-signature": f"sha256={digest}", "x-leadsync-timestamp": str(int(at))}


def test_change_events_with_a_signed_timestamp_have_a_replay_window() -> None:
    raw = raw_of("cdc_array.json")
    adapter = ADAPTER("crm-salesforce", {**OPTIONS, "timestamp_tolerance_s": 60})
    adapter.verify(request(raw, **stamped(raw, NOW - 30)), SECRET, NOW)
    with pytest.raises(SignatureError, match="tolerance"):
        adapter.verify(request(raw, **stamped(raw, NOW - 600)), SECRET, NOW)  # a replay
    strict = ADAPTER("crm-salesforce", {**OPTIONS, "require_timestamp": True})
    with pytest.raises(SignatureError, match="requires a signed timestamp"):
        strict.verify(request(raw, **signed(raw)), SECRET, NOW)
