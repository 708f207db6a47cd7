"""A value HubSpot refuses (a VALIDATION_ERROR naming the property: an email it does not take,
a number, a date) held back every later update of the record: each sends the record's
properties, the value among them, and each was refused whole — the owner never reached
HubSpot. The update now goes again without the refused value; the value is reported (once)
while the record holds it, and sent again with every later change. And an update refused for
any reason left its values behind when the next change was the owner's alone: that change
went without them and closed the failure as pushed. Through the stand-in, on SQLite and
PostgreSQL."""

from __future__ import annotations

from leadsync.destinations.hubspot.cycle.updates import refused_values
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.helpers import ev, record_by_external, run
from tests.test_push_clears import ws

__all__ = ["ws"]  # the fixture: a workspace pushing to the stand-in, set up


def _contact(at: str, owner: str, **props: str) -> dict[str, object]:
    return ev("record", at, object="contact", external_id="p-1", owner=owner, properties=props)


def _hubspot_id(ws: Workspace) -> str:
    hubspot_id = ws.record_hubspot(record_by_external(ws, "p-1")["id"]).hubspot_id
    assert hubspot_id is not None
    return hubspot_id


def _the_email_report(ws: Workspace, mine: str) -> dict[str, object]:
    """The one open report: HubSpot refused Kim's email `kim@globex`, and contact ``mine``
    is in HubSpot without it; the record's state says so."""
    [report] = ws.push_failures()
    assert report["category"] == "LEADSYNC_VALUE_REFUSED"
    refused = "email 'kim@globex' (INVALID_EMAIL: Email address kim@globex is invalid)"
    assert refused in str(report["message"])
    assert f"contact {mine} is in HubSpot without it" in str(report["message"])
    state = ws.record_hubspot(record_by_external(ws, "p-1")["id"])
    assert state.state.startswith("pushed, but for a value HubSpot would not take")
    return report


def test_an_email_hubspot_refuses_holds_back_neither_the_owner_nor_the_rest(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, _contact("2026-11-01T09:00:00Z", "u-1", email="kim@globex.test", firstname="Kim"))
    assert ws.push().failures == 0
    mine = _hubspot_id(ws)
    # The dialer gives an email HubSpot does not take; a person gives Kim another owner.
    run(ws, _contact("2026-11-02T09:00:00Z", "u-1", email="kim@globex", jobtitle="CTO"))
    kim = record_by_external(ws, "p-1")["id"]
    ws.set_owner("contact", kim, "102")
    result = ws.push()
    assert (result.failures, result.refused, result.values_refused) == (0, 0, 1)
    pushed = hub.get_object("contacts", mine)["properties"]
    assert (pushed["hubspot_owner_id"], pushed["jobtitle"]) == ("102", "CTO")
    assert pushed["email"] == "kim@globex.test"
    report = _the_email_report(ws, mine)
    assert report["refused_by"] == "hubspot" and report["operation"] == "update"
    # An owner change alone: it goes, the email is tried again, the report stays one.
    ws.set_owner("contact", kim, "101")
    assert ws.push().values_refused == 0
    assert hub.get_object("contacts", mine)["properties"]["hubspot_owner_id"] == "101"
    assert [f["id"] for f in ws.push_failures()] == [report["id"]]
    # Corrected at its source: sent, and the report closes.
    run(ws, _contact("2026-11-04T09:00:00Z", "u-1", email="kim@globex.example"))
    assert ws.push().values_refused == 0
    assert hub.get_object("contacts", mine)["properties"]["email"] == "kim@globex.example"
    assert ws.push_failures() == []
    [closed] = ws.push_failures(resolved=True)
    assert (closed["id"], closed["resolution"]) == (report["id"], "pushed")


def test_a_refused_updates_values_go_with_the_next_change_of_the_owner_alone(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, _contact("2026-11-01T09:00:00Z", "u-1", email="kim@globex.test"))
    ws.push()
    mine = _hubspot_id(ws)
    hub.set_faults(partial_207_rate=1.0, seed=1)
    run(ws, _contact("2026-11-02T09:00:00Z", "u-1", jobtitle="CTO"))
    assert ws.push().refused == 1
    assert "jobtitle" not in hub.get_object("contacts", mine)["properties"]
    hub.set_faults(partial_207_rate=0.0)
    ws.set_owner("contact", record_by_external(ws, "p-1")["id"], "102")
    ws.push()
    pushed = hub.get_object("contacts", mine)["properties"]
    assert (pushed["hubspot_owner_id"], pushed["jobtitle"]) == ("102", "CTO")
    assert ws.push_failures() == []


def test_the_refused_properties_are_read_from_the_errors_or_the_message() -> None:
    listed = (
        'Property values were not valid: [{"isValid":false,"message":"1,5 was not a valid '
        'number.","error":"INVALID_FLOAT","name":"employees"}]'
    )
    assert refused_values({"category": "VALIDATION_ERROR", "message": listed}) == {
        "employees": "INVALID_FLOAT: 1,5 was not a valid number."
    }
    errors = [{"code": "INVALID_DATE", "message": "x", "context": {"propertyName": ["closedate"]}}]
    told = {"category": "VALIDATION_ERROR", "message": "Property values were not valid: ?"}
    assert refused_values({**told, "errors": errors}) == {"closedate": "INVALID_DATE: x"}
    missing = listed.replace("INVALID_FLOAT", "PROPERTY_DOESNT_EXIST")
    assert refused_values({"category": "VALIDATION_ERROR", "message": missing}) == {}
    assert refused_values({"category": "CONFLICT", "message": listed}) == {}


def _call(external_id: str, contact: str) -> dict[str, object]:
    return ev(
        "activity",
        "2026-11-01T10:00:00Z",
        activity="call",
        external_id=external_id,
        owner="u-1",
        properties={"duration_s": 300, "outcome": "connected"},
        associations=[{"object": "contact", "external_id": contact}],
    )


def test_a_create_hubspot_refuses_for_one_value_makes_the_record_without_it(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A new contact whose email HubSpot does not take, among others in one batch: the
    batch is refused whole, the others are created, and the contact is created without the
    email — with its owner, its other values and its call linked — the email reported once
    and sent again with the next change."""
    others = [
        ev(
            "record",
            "2026-11-01T09:00:00Z",
            object="contact",
            external_id=f"p-{n}",
            owner="u-1",
            properties={"email": f"p{n}@globex.test"},
        )
        for n in range(2, 6)
    ]
    run(
        ws,
        *others,
        _contact("2026-11-01T09:00:00Z", "u-1", email="kim@globex", firstname="Kim"),
        _call("c-1", "p-1"),
    )
    result = ws.push()
    assert (result.failures, result.refused, result.values_refused) == (0, 0, 1)
    assert len(hub.objects("contacts")) == 5
    mine = _hubspot_id(ws)
    kim = hub.get_object("contacts", mine)
    assert kim["properties"]["firstname"] == "Kim" and not kim["properties"].get("email")
    assert (
        kim["properties"]["hubspot_owner_id"]
        == hub.objects("contacts")[0]["properties"]["hubspot_owner_id"]
    )
    [call] = hub.objects("calls")
    assert [a["id"] for a in call["associations"]["contacts"]] == [mine]
    report = _the_email_report(ws, mine)
    assert report["refused_by"] == "hubspot" and report["operation"] == "create"
    # Another change of Kim: the email goes again, is refused again, the report stays one.
    run(ws, _contact("2026-11-02T09:00:00Z", "u-1", email="kim@globex", jobtitle="CTO"))
    assert ws.push().values_refused == 0
    assert hub.get_object("contacts", mine)["properties"]["jobtitle"] == "CTO"
    assert [f["id"] for f in ws.push_failures()] == [report["id"]]
    # Corrected at its source: sent, and the report closes.
    run(ws, _contact("2026-11-03T09:00:00Z", "u-1", email="kim@globex.example"))
    assert ws.push().failures == 0
    assert hub.get_object("contacts", mine)["properties"]["email"] == "kim@globex.example"
    assert ws.push_failures() == []
    assert len(hub.objects("contacts")) == 5 and hub.duplicates("contacts", "leadsync_id") == {}


def test_a_create_refused_for_its_owner_is_a_failure_not_a_create_without_it(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """An owner HubSpot does not know is the create's failure: leadsync does not create the
    record without an owner (nor twice)."""
    hub.remove_owner("104")  # a portal without owner 104, which leadsync knows
    run(ws, _contact("2026-11-01T09:00:00Z", "u-1", email="kim@globex.test"))
    ws.set_owner("contact", record_by_external(ws, "p-1")["id"], "104")
    result = ws.push()
    assert (result.refused, result.values_refused) == (1, 0)
    assert hub.objects("contacts") == []
    [failure] = ws.push_failures()
    assert failure["operation"] == "create" and "INVALID_OWNER_ID" in failure["message"]
