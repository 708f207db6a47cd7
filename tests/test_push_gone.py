"""A record a person archived (deleted) in HubSpot: leadsync still holds it and its tools
still speak of it. Every later activity of it was refused (its link names an object HubSpot
no longer has) and so was every update of it (404), for good. Now the records a cycle's
refusals involve are read back; those HubSpot no longer has are created again with their
timeline, the refused activities after them, and a push failure on the record says what
happened (closed once it is created again). A refusal for another reason forgets nothing.
Through the stand-in (every request checked against openapi.yaml), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import call_line, contact_line, hubspot_property_change, record_by_external
from tests.test_hubspot_push import config, linked_ids, only
from tests.test_push_clears import ws

__all__ = ["ws"]  # the fixture: a workspace pushing to the stand-in, set up


def _pushed_contact(ws: Workspace, hub: HubSpotDouble) -> str:
    ws.ingest("dialer", [contact_line("p-1", "u-1"), call_line("call-1", "p-1", 60)])
    assert ws.push().failures == 0
    contact = only(hub, "contacts")
    assert len(linked_ids(hub.get_object("contacts", contact["id"]), "calls")) == 1
    return str(contact["id"])


def test_a_new_call_of_a_contact_deleted_in_hubspot_creates_it_again_with_its_timeline(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    old = _pushed_contact(ws, hub)
    hub.archive_object("contacts", old)
    ws.ingest("dialer", [call_line("call-2", "p-1", 90, at="2026-11-02T10:00:00Z")])
    result = ws.push()
    assert result.gone == {"contact": 1}
    again = only(hub, "contacts")
    assert again["id"] != old and again["properties"]["email"] == "p-1@globex.test"
    assert len(hub.objects("calls")) == 2
    assert len(linked_ids(hub.get_object("contacts", again["id"]), "calls")) == 2
    assert ws.push_failures() == []  # the call's refusal and the record's note: closed
    record = record_by_external(ws, "p-1")
    state = ws.record_hubspot(record["id"])
    assert state.hubspot_id == again["id"] and state.state == "pushed"
    # A later change goes to the new contact.
    ws.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-03T09:00:00Z", jobtitle="CTO")])
    assert ws.push().failures == 0
    assert only(hub, "contacts")["properties"]["jobtitle"] == "CTO"


def test_an_update_of_a_contact_deleted_in_hubspot_creates_it_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    old = _pushed_contact(ws, hub)
    hub.archive_object("contacts", old)
    ws.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-02T09:00:00Z", jobtitle="CEO")])
    result = ws.push()
    assert result.gone == {"contact": 1}
    again = only(hub, "contacts")
    assert again["id"] != old and again["properties"]["jobtitle"] == "CEO"
    assert len(linked_ids(hub.get_object("contacts", again["id"]), "calls")) == 1
    assert ws.push_failures() == []


def test_a_refusal_for_another_reason_forgets_nothing(ws: Workspace, hub: HubSpotDouble) -> None:
    old = _pushed_contact(ws, hub)
    hub.set_faults(partial_207_rate=1.0, seed=1)
    ws.ingest("dialer", [call_line("call-2", "p-1", 90, at="2026-11-02T10:00:00Z")])
    result = ws.push()
    assert result.failures == 1 and result.gone == {}
    hub.set_faults(partial_207_rate=0.0)
    [failure] = ws.push_failures()
    assert failure["object_type"] == "call"
    assert ws.record_hubspot(record_by_external(ws, "p-1")["id"]).hubspot_id == old
    assert ws.resolve_push_failures([failure["id"]], "retry") == 1
    assert ws.push().failures == 0
    assert [c["id"] for c in hub.objects("contacts")] == [old]
    assert len(linked_ids(hub.get_object("contacts", old), "calls")) == 2


def test_a_link_to_a_company_deleted_in_hubspot_creates_the_company_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A contact now at a company a person deleted in HubSpot: the link was refused for
    good; the company is created again, linked to the contacts HubSpot has of it."""
    from tests.helpers import ev, run

    at_globex = [{"object": "company", "domain": "globex.test"}]
    contact = {"object": "contact", "owner": "u-1"}
    run(
        ws,
        ev("record", external_id="p-1", properties={"email": "kim@globex.test"},
           associations=at_globex, **contact),
        ev("record", external_id="p-2", properties={"email": "lee@globex.test"}, **contact),
    )  # fmt: skip
    assert ws.push().failures == 0
    old = only(hub, "companies")["id"]
    hub.archive_object("companies", old)
    run(ws, ev("record", "2026-11-02T09:00:00Z", external_id="p-2",
               properties={"email": "lee@globex.test"}, associations=at_globex, **contact))  # fmt: skip
    result = ws.push()
    assert result.gone == {"company": 1}
    again = only(hub, "companies")
    assert again["id"] != old and again["properties"]["domain"] == "globex.test"
    assert len(linked_ids(hub.get_object("companies", again["id"]), "contacts")) == 2
    assert ws.push_failures() == []


def test_a_call_deleted_in_hubspot_and_changed_again_at_its_tool_is_created_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A person deleted a call in HubSpot; the dialer then changed it (its duration): the
    update was refused for good ("not found"), the failure said nothing more, and `records
    show` went on giving the call HubSpot's old id. It is created again, linked to its
    contact, like a record HubSpot no longer has."""
    contact = _pushed_contact(ws, hub)
    old = only(hub, "calls")["id"]
    hub.archive_object("calls", old)
    ws.ingest("dialer", [call_line("call-1", "p-1", 95)])
    result = ws.push()
    assert result.gone == {"call": 1}
    again = only(hub, "calls")
    assert again["id"] != old and again["properties"]["hs_call_duration"] == "95000"
    assert linked_ids(hub.get_object("contacts", contact), "calls") == {again["id"]}
    assert ws.push_failures() == []
    [closed] = [f for f in ws.push_failures(resolved=True) if f["operation"] == "read"]
    assert f"HubSpot no longer has call {old} (archived or deleted there)" in closed["message"]
    [call] = ws.record("contact", record_by_external(ws, "p-1")["id"])["timeline"]
    assert call["hubspot"]["id"] == again["id"]


def test_a_contact_merged_into_another_in_hubspot_is_followed_there_not_created_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A person merged the contact into one made in HubSpot: HubSpot's merge makes a new
    record, archives both, and reads of either old id return the merged one under its id.
    The read was taken for "gone" and the contact created again — undoing the person's merge
    (found by a probe). Now the push follows the merge: the call goes to the merged record,
    and so does every later change."""
    mine = _pushed_contact(ws, hub)
    theirs = hub.add_object("contacts", {"email": "pat@made.test", "firstname": "Pat"})
    merged = hub.merge_objects("contacts", theirs, mine)
    assert [c["id"] for c in hub.objects("contacts")] == [merged]
    ws.ingest("dialer", [call_line("call-2", "p-1", 90, at="2026-11-02T10:00:00Z")])
    result = ws.push()
    assert (result.merged, result.gone, result.created.get("contact")) == (
        {"contact": 1},
        {},
        None,
    )
    assert [c["id"] for c in hub.objects("contacts")] == [merged]  # no contact made again
    assert len(linked_ids(hub.get_object("contacts", merged), "calls")) == 2
    assert ws.push_failures() == []  # the call's refusal: closed once it went
    record = record_by_external(ws, "p-1")
    assert ws.record_hubspot(record["id"]).hubspot_id == merged
    # A later change goes to the merged record.
    ws.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-03T09:00:00Z", jobtitle="CTO")])
    assert ws.push().failures == 0
    [contact] = hub.objects("contacts")
    assert (contact["id"], contact["properties"]["jobtitle"]) == (merged, "CTO")


def test_a_record_only_hubspot_named_is_not_created_again_once_deleted_there(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A contact made in HubSpot, known to leadsync only by HubSpot's webhooks, then deleted
    there by a person before the push reached it: its push was refused, and the contact was
    created again — empty but for leadsync's id, a contact nobody asked for (found by a
    probe). It is forgotten now, said, and not created; one a tool spoke of still is."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    with Workspace(db_url, hubspot_transport=hub.transport()) as ws:
        ws.apply_config(config())
        ws.hubspot_setup()
        made = hub.add_object("contacts", {"email": "pat@made.test", "hubspot_owner_id": "101"})
        change = json.loads(hubspot_property_change(made, "hubspot_owner_id", "101"))[0]
        created = change | {"subscriptionType": "contact.creation", "eventId": 2}
        for name in ("propertyName", "propertyValue"):
            created.pop(name)
        ws.ingest("crm", [json.dumps([created]).encode()], source="hubspot.jsonl")
        hub.archive_object("contacts", made)  # deleted before the push reached it
        result = ws.push()
        assert (result.forgotten, result.gone, result.created) == ({"contact": 1}, {}, {})
        assert hub.objects("contacts") == []  # nothing made again
        assert ws.push_status()["queued_total"] == 0
        [record] = ws.find(external=f"crm:{made}")
        assert ws.record_hubspot(record["id"]).hubspot_id is None
