"""The push clears in HubSpot a property whose value leadsync no longer holds.

HubSpot clears a property given an empty string in an update's ``properties`` ("Properties
values can be cleared by passing an empty string", its update-a-contact reference; ``null``
is not a string and does not clear). A value an integration cleared (a canonical ``null`` or
``""``, a Salesforce field emptied) is held by the record as an empty property; an update
sends it as ``""``. A property no event gave is not among the record's properties, and
HubSpot's value for it is left alone; the owner is never cleared this way; a create sends no
empty values. Through the stand-in (every request checked against openapi.yaml), on SQLite
and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.settings import load_config
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import OWNERS, ev, record_by_external, run, settings
from tests.phone_helpers import ingest_ok
from tests.test_hubspot_push import only
from tests.test_source_phone_clearing_salesforce import (
    CONTACT,
    MOBILE,
    OFFICE,
    T0,
    _create_contact,
    _streaming_update,
)


@pytest.fixture
def ws(db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    doc: dict[str, Any] = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {
            "dialer": settings(),
            "sf": {"kind": "salesforce", "region": "FR"},
        },
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    workspace = Workspace(db_url, hubspot_transport=hub.transport())
    workspace.apply_config(load_config(json.dumps(doc), "test.yaml"))
    workspace.hubspot_setup()
    yield workspace
    workspace.close()


def kim(at: str = "2026-11-01T09:00:00Z", owner: str | None = "u-1", **props: Any) -> Any:
    fields: dict[str, Any] = {
        "object": "contact",
        "external_id": "p-1",
        "properties": {"email": "kim@globex.test", **props},
    }
    if owner is not None:
        fields["owner"] = owner
    return ev("record", at, **fields)


def updates(requests: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """The properties of every batch update input among ``requests``."""
    return [
        i["properties"] for m, p, b in requests if p.endswith("/batch/update") for i in b["inputs"]
    ]


@pytest.mark.parametrize("empty", [None, ""], ids=["null", "empty-string"])
def test_a_phone_and_name_an_event_clears_are_cleared_in_hubspot_and_nothing_else_is(
    ws: Workspace, hub: HubSpotDouble, empty: str | None
) -> None:
    run(ws, kim(firstname="Kim", phone="+14155550100", jobtitle="CTO"))
    assert ws.push().failures == 0
    pushed = only(hub, "contacts")
    assert pushed["properties"]["phone"] == "+14155550100"
    # A person in HubSpot fills properties leadsync was never given.
    hub.update_object("contacts", pushed["id"], {"lastname": "Lee", "mobilephone": "+1415555"})
    # The dialer clears the phone and the first name; the event names no owner.
    run(ws, kim("2026-11-01T10:00:00Z", owner=None, phone=empty, firstname=empty))
    assert record_by_external(ws, "p-1")["properties"]["phone"] == empty

    # The dry run lists the clear: "" for what leadsync holds empty, nothing else.
    _count, sent = ws.push_dry_run()
    [update] = updates(sent)
    assert update["phone"] == "" and update["firstname"] == ""
    assert update["jobtitle"] == "CTO" and update["email"] == "kim@globex.test"
    assert "lastname" not in update and "mobilephone" not in update
    assert "hubspot_owner_id" not in update

    assert ws.push().failures == 0
    props = only(hub, "contacts")["properties"]
    assert not props.get("phone") and not props.get("firstname")
    assert props["jobtitle"] == "CTO" and props["email"] == "kim@globex.test"
    assert props["lastname"] == "Lee" and props["mobilephone"] == "+1415555"
    assert props["hubspot_owner_id"] == "101"  # an event without an owner clears none


def test_a_phone_salesforce_empties_is_cleared_in_hubspot(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    ingest_ok(ws, "sf", _create_contact(T0, OFFICE, MOBILE))
    assert ws.push().failures == 0
    assert only(hub, "contacts")["properties"]["phone"]
    ingest_ok(ws, "sf", _streaming_update("Contact", CONTACT, T0 + 60_000, Phone=None))
    assert ws.push().failures == 0
    props = only(hub, "contacts")["properties"]
    assert not props.get("phone")
    assert props["mobilephone"] == MOBILE and props["firstname"] == "Bo"


def test_a_create_sends_no_empty_values_and_a_later_update_clears_only_what_was_held(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A record created with emptied properties is created without them (HubSpot's defaults
    stand); the company's industry and the deal's amount an integration empties later are
    cleared, the company's city it was never given is left as a person set it."""
    company = {"object": "company", "domain": "globex.test"}
    run(
        ws,
        kim(firstname="Kim", phone=None, jobtitle=""),
        ev(
            "record",
            object="company",
            external_id="co-1",
            properties={"domain": "globex.test", "name": "Globex", "industry": "Software"},
        ),
        ev(
            "record",
            object="deal",
            external_id="d-1",
            properties={"name": "Globex renewal", "amount": 1200},
            associations=[company],
        ),
    )
    _count, sent = ws.push_dry_run()
    created = [
        i["properties"] for _m, p, b in sent if p.endswith("/batch/create") for i in b["inputs"]
    ]
    assert len(created) == 3
    assert all(v != "" for props in created for v in props.values())
    assert ws.push().failures == 0
    contact = only(hub, "contacts")["properties"]
    assert "phone" not in contact and "jobtitle" not in contact
    hub.update_object("companies", only(hub, "companies")["id"], {"city": "Springfield"})
    run(
        ws,
        ev(
            "record",
            "2026-11-01T10:00:00Z",
            object="company",
            external_id="co-1",
            properties={"industry": None},
        ),
        ev(
            "record",
            "2026-11-01T10:00:00Z",
            object="deal",
            external_id="d-1",
            properties={"amount": None},
        ),
    )
    assert ws.push().failures == 0
    company_props = only(hub, "companies")["properties"]
    assert not company_props.get("industry")
    assert company_props["city"] == "Springfield" and company_props["name"] == "Globex"
    deal = only(hub, "deals")["properties"]
    assert not deal.get("amount") and deal["dealname"] == "Globex renewal"
