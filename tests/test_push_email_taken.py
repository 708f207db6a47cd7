"""A contact's new email that another HubSpot contact holds: HubSpot refuses the update
(409, "Contact already exists. Existing ID: N": an email is on one contact only), and since
every update of a contact sends its email, every later update — owner changes among them —
was refused the same way, with HubSpot's words only. The update now goes again without the
email; the email is reported (once) until the two contacts are merged in HubSpot. Through
the stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.helpers import ev, record_by_external, run
from tests.test_push_clears import ws

__all__ = ["ws"]  # the fixture: a workspace pushing to the stand-in, set up


def _contact(at: str, owner: str, **props: str) -> dict[str, object]:
    return ev("record", at, object="contact", external_id="p-1", owner=owner, properties=props)


def test_an_email_another_contact_holds_holds_back_nothing_else(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    theirs = hub.add_object("contacts", {"email": "zed@initech.test", "firstname": "Zed"})
    run(ws, _contact("2026-11-01T09:00:00Z", "u-1", firstname="Zed", email="z@globex.test"))
    assert ws.push().failures == 0
    mine = ws.record_hubspot(record_by_external(ws, "p-1")["id"]).hubspot_id
    assert mine is not None and mine != str(theirs)
    run(ws, _contact("2026-11-02T09:00:00Z", "u-1", email="zed@initech.test", jobtitle="CTO"))
    result = ws.push()
    assert result.failures == 0 and result.not_sent == 1
    pushed = hub.get_object("contacts", mine)["properties"]
    assert pushed["jobtitle"] == "CTO" and pushed["email"] == "z@globex.test"
    [report] = ws.push_failures()
    assert report["category"] == "LEADSYNC_EMAIL_TAKEN" and report["refused_by"] == "leadsync"
    assert f"zed@initech.test is HubSpot contact {theirs}'s" in report["message"]
    assert "Merge the two contacts in HubSpot" in report["message"]
    # A later change goes too (it was refused for the email, every time), reported once.
    run(ws, _contact("2026-11-03T09:00:00Z", "u-1", email="zed@initech.test", jobtitle="CEO"))
    assert ws.push().not_sent == 0
    assert hub.get_object("contacts", mine)["properties"]["jobtitle"] == "CEO"
    assert [f["id"] for f in ws.push_failures()] == [report["id"]]
    state = ws.record_hubspot(record_by_external(ws, "p-1")["id"])
    assert state.state.startswith("pushed, but for a value HubSpot would not take")
