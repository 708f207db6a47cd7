"""A field emptied in Salesforce is emptied in leadsync: a Phone or MobilePhone (or a
Contact's HomePhone, OtherPhone or AssistantPhone, its other numbers) cleared there leaves the
contact or lead, so later calls by that number no longer land on the person.

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
HOME = "+33 1 40 20 50 50"
DESK = "+33 1 45 67 89 10"
ASSISTANT = "+33 1 45 67 89 11"


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


def _pubsub_contact_update(changed: list[str], nulled: list[str], **values: Any) -> dict[str, Any]:
    """The published Pub/Sub Contact event made an UPDATE: every field present and null but
    ``values``, the header's field lists decoded to names as the relay must."""
    body: dict[str, Any] = json.loads(
        (PUBLISHED / "cdc_contact_create.lead_conversion.json").read_text()
    )
    header = body.pop("ChangeEventHeader")
    body = dict.fromkeys(body)
    header.update(changeType="UPDATE", changedFields=[*changed, "LastModifiedDate"])
    header["nulledFields"] = nulled
    return {"ChangeEventHeader": header, **body, "LastModifiedDate": T0, **values}


def test_a_contacts_other_numbers_fill_fixed_slots_and_a_nulled_one_clears_only_its_own() -> None:
    """HomePhone, OtherPhone and AssistantPhone are ``other_phone_1``, ``_2`` and ``_3``
    whatever else the event gives: HomePhone nulled clears ``other_phone_1`` alone (an
    OtherPhone and a Phone that did not change, null in the Pub/Sub body, say nothing)."""
    given = _pubsub_contact_update(
        ["HomePhone", "OtherPhone", "AssistantPhone"],
        [],
        HomePhone=HOME,
        OtherPhone=DESK,
        AssistantPhone=ASSISTANT,
    )
    assert _properties(given) == {
        "other_phone_1": HOME,
        "other_phone_2": DESK,
        "other_phone_3": ASSISTANT,
    }
    assistant_only = _pubsub_contact_update(["AssistantPhone"], [], AssistantPhone=ASSISTANT)
    assert _properties(assistant_only) == {"other_phone_3": ASSISTANT}
    cleared = _pubsub_contact_update(["HomePhone"], ["HomePhone"])
    assert _properties(cleared) == {"other_phone_1": None}


def test_a_contacts_other_numbers_changed_to_null_are_cleared_in_a_streaming_update() -> None:
    body = _streaming_update(
        "Contact", CONTACT, T0, HomePhone=None, OtherPhone="", AssistantPhone=ASSISTANT
    )
    assert _properties(body) == {
        "other_phone_1": None,
        "other_phone_2": None,
        "other_phone_3": ASSISTANT,
    }


def test_a_lead_has_no_other_numbers_to_read() -> None:
    """A Lead has no HomePhone, OtherPhone or AssistantPhone in Salesforce: fields so named in
    a Lead's event are not read, given or cleared."""
    body = _streaming_update(
        "Lead", LEAD, T0, HomePhone=HOME, OtherPhone=None, AssistantPhone=ASSISTANT
    )
    assert _events(body) == []
    body["ChangeEventHeader"]["changedFields"].append("MobilePhone")
    body["MobilePhone"] = MOBILE
    assert _properties(body) == {"mobilephone": MOBILE}


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


def _outbound_contact(*fields: str) -> bytes:
    """The published Outbound Message of a Contact with ``fields`` in its sObject."""
    raw = (PUBLISHED / "om_contact.freedom_nozzle.xml").read_text()
    raw = raw.replace(
        "<sf:LastName>dude</sf:LastName>", "<sf:LastName>dude</sf:LastName>" + "".join(fields)
    )
    return raw.encode()


def test_an_outbound_contacts_other_numbers_are_given_and_a_nil_one_cleared() -> None:
    properties = _properties(
        _outbound_contact(
            '<sf:HomePhone xsi:nil="true"/>',
            f"<sf:OtherPhone>{DESK}</sf:OtherPhone>",
            f"<sf:AssistantPhone> {ASSISTANT} </sf:AssistantPhone>",
        )
    )
    others = {k: v for k, v in properties.items() if k.startswith("other_phone")}
    assert others == {"other_phone_1": None, "other_phone_2": DESK, "other_phone_3": ASSISTANT}
    assert "phone" not in properties and "mobilephone" not in properties
    assert not any(k.startswith("other_phone") for k in _properties(_outbound_contact()))


def test_an_outbound_leads_fields_named_like_a_contacts_other_numbers_are_not_read() -> None:
    properties = _properties(_outbound_lead(f"<sf:HomePhone>{HOME}</sf:HomePhone>"))
    assert not any(k.startswith("other_phone") for k in properties)


# ------------------------------------------------------------------ the engine


def _create_contact(at: int, phone: str, mobile: str, **more: str) -> dict[str, Any]:
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
        **more,
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
    assert _held(workspace) == ["+33176360695"]


def _held(workspace: Workspace) -> list[str]:
    with workspace.engine.connect() as c:
        return [n for (n,) in c.execute(sa.select(held_activities.c.number)).all()]


def test_a_call_by_a_contacts_home_phone_lands_on_it_until_salesforce_clears_the_number(
    workspace: Workspace,
) -> None:
    """A call from another integration naming only the caller's number finds the Salesforce
    contact by its HomePhone; HomePhone cleared in Salesforce leaves the phone index (the
    contact's other numbers stay) and a later call by it finds nobody."""
    workspace.apply_config(
        workspace_config(
            {
                "phone": {"kind": "aircall", "region": "FR"},
                "sf": {"kind": "salesforce", "region": "FR"},
            }
        )
    )
    ingest_ok(workspace, "sf", _create_contact(T0, OFFICE, MOBILE, HomePhone=HOME))
    [found] = workspace.find(external=f"sf:{CONTACT}")
    contact = int(found["id"])
    assert indexed_phones(workspace, contact) == {
        "phone": "+33176360695",
        "mobilephone": "+33612345678",
        "other_phone_1": "+33140205050",
    }
    seconds = T0 // 1000
    ingest_ok(workspace, "phone", number_call(5101, seconds + 60, HOME))
    timeline = workspace.record("contact", contact)["timeline"]
    assert [a["external_id"] for a in timeline] == ["5101"]
    assert _held(workspace) == []
    cleared = _streaming_update("Contact", CONTACT, T0 + 120_000, HomePhone=None)
    ingest_ok(workspace, "sf", cleared)
    assert indexed_phones(workspace, contact) == {
        "phone": "+33176360695",
        "mobilephone": "+33612345678",
    }
    assert workspace.record("contact", contact)["properties"]["other_phone_1"] is None
    ingest_ok(workspace, "phone", number_call(5102, seconds + 180, HOME))
    timeline = workspace.record("contact", contact)["timeline"]
    assert [a["external_id"] for a in timeline] == ["5101"]
    assert _held(workspace) == ["+33140205050"]  # nobody has it any more
