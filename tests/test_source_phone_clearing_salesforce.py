"""A field emptied in Salesforce is emptied in leadsync: a Phone or MobilePhone cleared there
leaves the contact or lead, so later calls by that number no longer land on the person.

Salesforce says which fields were set to null. Change Data Capture: an UPDATE lists them in
``ChangeEventHeader.changedFields`` ("The fields that have changed include fields set to
null") with null in the body (the Streaming API sends "empty fields only if they were updated
to an empty value (null)"), and the Pub/Sub API's header lists them in ``nulledFields`` while
its body holds every field, the unchanged ones null too. An Outbound Message sends a selected
field with no value as ``xsi:nil="true"``. The bodies below are the published shapes
(``tests/fixtures/published/salesforce``) with made-up values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.errors import EventError
from leadsync.sources.salesforce import ADAPTER
from leadsync.store.schema import held_activities
from leadsync.workspace import Workspace
from tests import adapters as harness
from tests.helpers import workspace_config
from tests.phone_helpers import indexed_phones, ingest_ok, number_call

PUBLISHED = Path(__file__).parent / "fixtures" / "published" / "salesforce"
OPTIONS = {"organization_id": "00Do0000000e0vQ"}
LEAD = "00Q5f000005bwLFEAY"
CONTACT = "0035g00000QwErTAAV"
T0 = 1793527200000  # 2026-11-01T10:00:00Z, ms
OFFICE = "+33 1 76 36 06 95"
MOBILE = "+33 6 12 34 56 78"


def _events(body: Any) -> list[dict[str, Any]]:
    """The canonical events of one request (a change event, or an Outbound Message's XML)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    content_type = "text/xml" if raw.lstrip().startswith(b"<") else "application/json"
    request = harness.json_request(
        "https://hooks.leadsync.test/sf", raw, {"content-type": content_type}
    )
    delivered = harness.deliver(ADAPTER("crm", OPTIONS), request)
    return [data for piece, events in delivered for data in harness.as_dicts(piece, events, "k")]


def _properties(body: Any) -> dict[str, Any]:
    [event] = _events(body)
    properties: dict[str, Any] = event.get("properties", {})
    return properties


def _pubsub_update(changed: list[str], nulled: list[str], **values: Any) -> dict[str, Any]:
    """The published Pub/Sub Lead UPDATE (every field present, the unchanged ones null), its
    header's field lists decoded to names as the relay must, and ``values`` set."""
    body: dict[str, Any] = json.loads(
        (PUBLISHED / "cdc_lead_update.lead_conversion.json").read_text()
    )
    for key in ("IsConverted", "ConvertedDate", "ConvertedAccountId", "ConvertedContactId"):
        body[key] = None
    body["ConvertedOpportunityId"] = body["Status"] = None
    header = body["ChangeEventHeader"]
    header["changedFields"] = [*changed, "LastModifiedDate"]
    header["nulledFields"] = nulled
    body.update(values)
    return body


def _streaming_update(entity: str, record_id: str, at: int, **fields: Any) -> dict[str, Any]:
    """A Streaming API (CometD) UPDATE: the body holds the changed fields only, a field set to
    null as null."""
    return {
        "ChangeEventHeader": {
            "entityName": entity,
            "recordIds": [record_id],
            "changeType": "UPDATE",
            "changeOrigin": "com/salesforce/api/soap/60.0;client=SfdcInternalAPI/",
            "transactionKey": f"tx-{at}",
            "sequenceNumber": 1,
            "commitTimestamp": at,
            "commitNumber": 1100638524517,
            "commitUser": "0055f000005mc66AAA",
            "changedFields": [*fields, "LastModifiedDate"],
        },
        **fields,
        "LastModifiedDate": at,
    }


# ------------------------------------------------------------------ change events


def test_a_phone_nulled_in_a_pubsub_update_is_given_null_and_nothing_else_is() -> None:
    """``nulledFields`` names Phone: it is cleared; every other null of the body (Email,
    MobilePhone, Company, the unchanged fields of a Pub/Sub body) says nothing."""
    body = _pubsub_update(["Phone"], ["Phone"])
    assert _properties(body) == {"phone": None}


def test_a_changed_field_given_null_is_cleared_without_nulled_fields() -> None:
    """The Streaming API has no ``nulledFields``: a field listed as changed and sent as null
    (or empty) was set to null."""
    body = _streaming_update("Contact", CONTACT, T0, Phone=None, MobilePhone="")
    assert _properties(body) == {"phone": None, "mobilephone": None}


def test_nulled_fields_alone_clear_even_when_changed_fields_is_empty() -> None:
    body = _pubsub_update([], ["MobilePhone"])
    body["ChangeEventHeader"]["changedFields"] = []
    assert _properties(body) == {"mobilephone": None}


def test_a_value_beats_a_stale_nulled_name_and_a_missing_field_clears_nothing() -> None:
    body = _pubsub_update(["Phone"], ["Phone"], Phone=OFFICE)
    assert _properties(body) == {"phone": OFFICE}
    listed = _streaming_update("Contact", CONTACT, T0, Phone=None)
    del listed["Phone"]  # listed as changed but not sent: nothing says it is empty
    assert _events(listed) == []


def test_a_cleared_first_name_and_company_are_cleared_but_an_email_is_not() -> None:
    """The compound Name's part is named ``Name.FirstName``. A cleared Email gives nothing:
    the engine never blanks a record's email (records are found by it), so null would only
    empty the copy in its properties."""
    body = _pubsub_update(
        ["Name.FirstName", "Company", "Email"],
        ["Name.FirstName", "Company", "Email"],
        Name={"Salutation": None, "FirstName": None, "LastName": None},
    )
    assert _properties(body) == {"firstname": None, "company": None}


def test_a_create_gives_no_nulls() -> None:
    body = _pubsub_update([], ["Phone"])
    body["ChangeEventHeader"].update(changeType="CREATE", changedFields=[])
    body["Name"] = {"FirstName": "Kim", "LastName": "Lee"}
    assert _properties(body) == {"firstname": "Kim", "lastname": "Lee"}


def test_a_cleared_task_field_is_cleared_with_its_raw_value() -> None:
    body = _streaming_update(
        "Task", "00T5g00000CaLl1EAF", T0, Description=None, CallType=None, Subject="Call"
    )
    body["TaskSubtype"] = "Call"
    [call] = _events(body)
    assert call["properties"] == {
        "title": "Call",
        "body": None,
        "direction": None,
        "salesforce_call_type": None,
    }


def test_an_opportunity_amount_cleared_is_cleared() -> None:
    body = _streaming_update("Opportunity", "0065g00000ZxCvBAAV", T0, Amount=None)
    assert _properties(body) == {"amount": None}


@pytest.mark.parametrize(
    ("nulled", "message"),
    [
        ("Phone", 'field "ChangeEventHeader.nulledFields": must be an array of strings, got a'),
        (["0x08F81000"], 'field "ChangeEventHeader.nulledFields": holds field bitmaps (0x08F8'),
    ],
)
def test_a_bad_nulled_fields_list_names_the_field(nulled: Any, message: str) -> None:
    body = _pubsub_update(["Phone"], [])
    body["ChangeEventHeader"]["nulledFields"] = nulled
    with pytest.raises(EventError) as caught:
        _events(body)
    assert message in caught.value.detail


# ------------------------------------------------------------------ Outbound Messages


def _outbound_lead(*extra: str) -> bytes:
    """The published Outbound Message of a Lead with ``extra`` fields in its sObject."""
    raw = (PUBLISHED / "om_lead.novopayment.xml").read_text()
    raw = raw.replace(
        "<sf:Status>Abierto</sf:Status>",
        "<sf:Status>Abierto</sf:Status>"
        "<sf:LastModifiedDate>2026-11-01T09:00:00.000Z</sf:LastModifiedDate>" + "".join(extra),
    )
    return raw.encode()


def test_an_outbound_message_nil_field_is_an_emptied_one() -> None:
    """An Outbound Message carries the record's current values of the selected fields: a
    selected Phone sent as ``xsi:nil`` is a phone the lead no longer has. A field left out
    (not selected) says nothing."""
    nil = '<sf:Phone xsi:nil="true"/>'
    properties = _properties(_outbound_lead(nil, f"<sf:MobilePhone>{MOBILE}</sf:MobilePhone>"))
    assert properties["phone"] is None and properties["mobilephone"] == MOBILE
    assert "phone" not in _properties(_outbound_lead())
    emailless = _outbound_lead(nil).replace(
        b"<sf:Email>kflores@tebca.com</sf:Email>", b'<sf:Email xsi:nil="true"/>'
    )
    assert "email" not in _properties(emailless)


# ------------------------------------------------------------------ the engine


def _create_contact(at: int, phone: str, mobile: str) -> dict[str, Any]:
    return {
        "ChangeEventHeader": {
            "entityName": "Contact",
            "recordIds": [CONTACT],
            "changeType": "CREATE",
            "transactionKey": f"tx-{at}",
            "sequenceNumber": 1,
            "commitTimestamp": at,
            "commitUser": "0055f000005mc66AAA",
            "changedFields": [],
        },
        "Name": {"FirstName": "Bo", "LastName": "Park"},
        "Email": "bo.park@initech.test",
        "Phone": phone,
        "MobilePhone": mobile,
        "OwnerId": "0055f000005mc66AAA",
        "LastModifiedDate": at,
    }


def test_a_phone_cleared_in_salesforce_leaves_the_contact_and_later_calls_miss_it(
    workspace: Workspace,
) -> None:
    workspace.apply_config(
        workspace_config(
            {
                "phone": {"kind": "aircall", "region": "FR"},
                "sf": {"kind": "salesforce", "region": "FR"},
            }
        )
    )
    ingest_ok(workspace, "sf", _create_contact(T0, OFFICE, MOBILE))
    [found] = workspace.find(external=f"sf:{CONTACT}")
    contact = int(found["id"])
    assert indexed_phones(workspace, contact) == {
        "phone": "+33176360695",
        "mobilephone": "+33612345678",
    }
    cleared = _streaming_update("Contact", CONTACT, T0 + 60_000, Phone=None)
    ingest_ok(workspace, "sf", cleared)
    assert indexed_phones(workspace, contact) == {"mobilephone": "+33612345678"}
    assert workspace.record("contact", contact)["properties"]["phone"] is None
    seconds = T0 // 1000
    ingest_ok(
        workspace,
        "phone",
        number_call(5001, seconds + 120, OFFICE),
        number_call(5002, seconds + 180, MOBILE),
    )
    timeline = workspace.record("contact", contact)["timeline"]
    assert [a["external_id"] for a in timeline] == ["5002"]
    with workspace.engine.connect() as c:
        held = [n for (n,) in c.execute(sa.select(held_activities.c.number)).all()]
    assert held == ["+33176360695"]
