"""The push clears in HubSpot a property whose value leadsync no longer holds — only where
leadsync itself gave HubSpot a value for it.

HubSpot clears a property given an empty string in an update's ``properties`` ("Properties
values can be cleared by passing an empty string", its update-a-contact reference; ``null``
is not a string and does not clear). A value an integration cleared (a canonical ``null`` or
``""``, a Salesforce field emptied) is held by the record as an empty property; an update
sends it as ``""`` when leadsync's own confirmed write left a value there and did not clear
it since (``push_objects.pushed_properties``). A property leadsync never sent a value — an
event gave it null from the start (Aircall's whole-list contacts), a matched contact had it
in HubSpot already — is never blanked, whatever events say; one cleared is not cleared again
until leadsync sends it a value again. A write sent but not confirmed (the pusher killed
before recording HubSpot's answer) is settled by reading HubSpot before a clear. The owner is
never cleared this way; a create sends no empty values. Through the stand-in (every request
checked against openapi.yaml), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.settings import load_config
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import OWNERS, ev, record_by_external, run, settings
from tests.phone_helpers import ingest_ok
from tests.test_decided_at_migration import _database, _migrate
from tests.test_hubspot_push import only
from tests.test_source_phone_clearing_salesforce import (
    CONTACT,
    MOBILE,
    OFFICE,
    T0,
    _create_contact,
    _streaming_update,
)


def open_workspace(url: str, hub: HubSpotDouble) -> Workspace:
    doc: dict[str, Any] = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {
            "dialer": settings(),
            "sf": {"kind": "salesforce", "region": "FR"},
        },
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    workspace = Workspace(url, hubspot_transport=hub.transport())
    workspace.apply_config(load_config(json.dumps(doc), "test.yaml"))
    workspace.hubspot_setup()
    return workspace


@pytest.fixture
def ws(db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    workspace = open_workspace(db_url, hub)
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
            properties={"domain": "globex.test", "name": "Globex", "industry": "Computer Software"},
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
    assert only(hub, "companies")["properties"]["industry"] == "COMPUTER_SOFTWARE"
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


def hubspot_contact(hub: HubSpotDouble) -> tuple[str, dict[str, Any]]:
    """The one contact HubSpot has: its id and its properties."""
    contact = only(hub, "contacts")
    return str(contact["id"]), contact["properties"]


# ------------------------------------------- only what leadsync itself gave a value there


def test_a_mobile_number_the_first_event_gave_as_null_is_never_blanked(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """The integration's first event of the contact gives ``mobilephone`` null (it has
    none), and so does every later one: the record holds it empty from the start, and
    leadsync never sends it a value. A person types a mobile number into HubSpot: each
    later update of the contact is sent, and does not blank it."""
    run(ws, kim(firstname="Kim", phone="+14155550100", mobilephone=None))
    assert ws.push().failures == 0
    contact_id, props = hubspot_contact(hub)
    assert props["phone"] == "+14155550100" and not props.get("mobilephone")
    hub.update_object("contacts", contact_id, {"mobilephone": "+14155550177"})

    for n, at in enumerate(["2026-11-01T10:00:00Z", "2026-11-01T11:00:00Z"]):
        run(ws, kim(at, firstname=f"Kim {n}", phone=f"+1415555020{n}", mobilephone=None))
        properties = record_by_external(ws, "p-1")["properties"]
        assert "mobilephone" in properties and properties["mobilephone"] is None
        _count, sent = ws.push_dry_run()
        [update] = updates(sent)
        assert update["firstname"] == f"Kim {n}" and "mobilephone" not in update
        assert ws.push().failures == 0
        props = hubspot_contact(hub)[1]
        assert props["firstname"] == f"Kim {n}" and props["phone"] == f"+1415555020{n}"
        assert props["mobilephone"] == "+14155550177"


def test_a_contact_matched_in_hubspot_keeps_the_values_leadsync_never_had(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A contact HubSpot had already (matched by its email) keeps its job title and mobile
    number although events give both as null: leadsync never sent them a value."""
    existing = hub.add_object(
        "contacts",
        {"email": "kim@globex.test", "jobtitle": "VP Sales", "mobilephone": "+14155550199"},
    )
    run(ws, kim(firstname="Kim", jobtitle=None, mobilephone=None))
    assert ws.push().failures == 0
    assert [c["id"] for c in hub.objects("contacts")] == [existing]
    props = hub.get_object("contacts", existing)["properties"]
    assert props["firstname"] == "Kim"
    assert props["jobtitle"] == "VP Sales" and props["mobilephone"] == "+14155550199"

    run(ws, kim("2026-11-01T10:00:00Z", firstname="Kimberly", jobtitle=None, mobilephone=None))
    _count, sent = ws.push_dry_run()
    [update] = updates(sent)
    assert update["firstname"] == "Kimberly"
    assert "jobtitle" not in update and "mobilephone" not in update
    assert ws.push().failures == 0
    props = hub.get_object("contacts", existing)["properties"]
    assert props["firstname"] == "Kimberly"
    assert props["jobtitle"] == "VP Sales" and props["mobilephone"] == "+14155550199"


def test_a_phone_is_cleared_once_and_again_only_after_leadsync_sent_it_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """leadsync sent the phone; the integration clears it: cleared, once. A later update
    (the phone still null) does not send it again — a number a person typed into HubSpot
    since stays. The integration gives a phone again: sent; cleared again: cleared."""
    run(ws, kim(firstname="Kim", phone="+14155550100"))
    assert ws.push().failures == 0
    contact_id, props = hubspot_contact(hub)
    assert props["phone"] == "+14155550100"

    run(ws, kim("2026-11-01T10:00:00Z", phone=None))
    _count, sent = ws.push_dry_run()
    assert [u.get("phone") for u in updates(sent)] == [""]
    assert ws.push().failures == 0
    assert not hubspot_contact(hub)[1].get("phone")

    hub.update_object("contacts", contact_id, {"phone": "+14155550111"})
    run(ws, kim("2026-11-01T11:00:00Z", firstname="Kimberly", phone=None))
    _count, sent = ws.push_dry_run()
    [update] = updates(sent)
    assert update["firstname"] == "Kimberly" and "phone" not in update
    assert ws.push().failures == 0
    props = hubspot_contact(hub)[1]
    assert props["firstname"] == "Kimberly" and props["phone"] == "+14155550111"

    run(ws, kim("2026-11-01T12:00:00Z", phone="+14155550122"))
    assert ws.push().failures == 0
    assert hubspot_contact(hub)[1]["phone"] == "+14155550122"
    run(ws, kim("2026-11-01T13:00:00Z", phone=None))
    _count, sent = ws.push_dry_run()
    assert [u.get("phone") for u in updates(sent)] == [""]
    assert ws.push().failures == 0
    assert not hubspot_contact(hub)[1].get("phone")


# ------------------------------------- a write sent, the pusher killed before recording it


class Killed(BaseException):
    """The pusher's process killed there: nothing in the push handles a BaseException, so
    nothing after the request is recorded (``ws.push`` gives the lease up on the way out, as
    its lapsing would after a real kill)."""


def push_killed(ws: Workspace, hub: HubSpotDouble, path_end: str, *, applied: bool) -> None:
    """A push killed at its first POST to a path ending ``path_end``: after HubSpot applied
    it (its answer never read), or before the request left."""
    inner = hub.transport()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith(path_end):
            if applied:
                inner.handle_request(request)
            raise Killed(path_end)
        return inner.handle_request(request)

    ws.hubspot_transport = httpx.MockTransport(answer)
    try:
        with pytest.raises(Killed):
            ws.push()
    finally:
        ws.hubspot_transport = hub.transport()


@pytest.mark.parametrize("write", ["create", "update"])
def test_a_value_hubspot_applied_before_the_pusher_was_killed_is_cleared_later(
    ws: Workspace, hub: HubSpotDouble, write: str
) -> None:
    """The phone went out (a create, or an update) and HubSpot applied it; the pusher was
    killed before recording the answer. The integration then clears the phone: HubSpot's
    value is read (the write was never confirmed) and, being the one leadsync sent, cleared
    — a value leadsync sent is not forgotten."""
    if write == "update":
        run(ws, kim(firstname="Kim"))
        assert ws.push().failures == 0
        run(ws, kim("2026-11-01T09:30:00Z", phone="+14155550100"))
    else:
        run(ws, kim(firstname="Kim", phone="+14155550100"))
    push_killed(ws, hub, f"/batch/{write}", applied=True)
    assert hubspot_contact(hub)[1]["phone"] == "+14155550100"

    run(ws, kim("2026-11-01T10:00:00Z", phone=None))
    assert ws.push().failures == 0
    props = hubspot_contact(hub)[1]
    assert not props.get("phone") and props["firstname"] == "Kim"


def test_a_value_that_never_reached_hubspot_does_not_make_a_persons_number_leadsyncs(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A person typed a phone into HubSpot; leadsync's update with another phone was about to
    go when the pusher was killed (recorded as sent, never sent). The integration clears
    the phone: HubSpot's value, read, is not one leadsync sent — left, and not cleared
    later either."""
    run(ws, kim(firstname="Kim"))
    assert ws.push().failures == 0
    contact_id, _props = hubspot_contact(hub)
    hub.update_object("contacts", contact_id, {"phone": "+14155550111"})
    run(ws, kim("2026-11-01T09:30:00Z", phone="+14155550100"))
    push_killed(ws, hub, "/batch/update", applied=False)

    for n, at in enumerate(["2026-11-01T10:00:00Z", "2026-11-01T11:00:00Z"]):
        run(ws, kim(at, firstname=f"Kim {n}", phone=None))
        assert ws.push().failures == 0
        props = hubspot_contact(hub)[1]
        assert props["firstname"] == f"Kim {n}" and props["phone"] == "+14155550111"


def test_a_clear_hubspot_applied_before_the_pusher_was_killed_is_not_sent_over_a_persons_number(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """leadsync's clear of the phone reached HubSpot; the pusher was killed before recording
    it. A person then types a phone into HubSpot: the next update, the phone still null in
    leadsync, reads it, finds it is not leadsync's, and leaves it."""
    run(ws, kim(firstname="Kim", phone="+14155550100"))
    assert ws.push().failures == 0
    run(ws, kim("2026-11-01T10:00:00Z", phone=None))
    push_killed(ws, hub, "/batch/update", applied=True)
    contact_id, props = hubspot_contact(hub)
    assert not props.get("phone")
    hub.update_object("contacts", contact_id, {"phone": "+14155550111"})

    run(ws, kim("2026-11-01T11:00:00Z", firstname="Kimberly", phone=None))
    assert ws.push().failures == 0
    props = hubspot_contact(hub)[1]
    assert props["firstname"] == "Kimberly" and props["phone"] == "+14155550111"


# ------------------------------------------------------------------ migration 0025


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_objects_pushed_before_migration_0025_clear_nothing_until_a_value_is_sent_again(
    backend: str, tmp_path: Path, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contact pushed before the migration: nothing is known to have been sent, so the
    integration's clear of its phone leaves HubSpot's; once leadsync sends the phone again,
    its next clear clears it."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    with _database(backend, tmp_path) as url:
        workspace = open_workspace(url, hub)
        try:
            run(workspace, kim(firstname="Kim", phone="+14155550100"))
            assert workspace.push().failures == 0
            _migrate(workspace.engine, "0024", down=True)
            _migrate(workspace.engine, "head")

            run(workspace, kim("2026-11-01T10:00:00Z", phone=None))
            assert workspace.push().failures == 0
            assert hubspot_contact(hub)[1]["phone"] == "+14155550100"

            run(workspace, kim("2026-11-01T11:00:00Z", phone="+14155550122"))
            assert workspace.push().failures == 0
            run(workspace, kim("2026-11-01T12:00:00Z", phone=None))
            assert workspace.push().failures == 0
            assert not hubspot_contact(hub)[1].get("phone")
        finally:
            workspace.close()
