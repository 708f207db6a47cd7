"""A person's number from one integration is never replaced by another integration's: the
property shows its first giver's number, the other is kept beside it (found by calls, never
shown nor pushed), and an older event changes nothing newer — through the real intake, with
the vendors' published payload shapes (Aircall's contact, Calendly's invitee)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.rules.records import PHONE_SOURCES
from leadsync.workspace import Workspace
from tests.helpers import ev, run, workspace_config
from tests.phone_helpers import indexed_phones, ingest_ok, number_call, record_id

WEBHOOKS = Path(__file__).parent / "fixtures" / "webhooks"
PUBLISHED = Path(__file__).parent / "fixtures" / "published"
EMAIL = "kim.lee@globex.test"
AIRCALL_MOBILE = "+14155550142"  # contact.created.json, at 2026-11-02T15:05:00Z
CALENDLY_MOBILE = "+14155550177"
T0 = 1793631900  # Aircall's contact.created


def _body(kind: str, name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((WEBHOOKS / kind / name).read_text())["body"]
    return body


def _aircall_contact(at: int = T0, mobile: str | None = AIRCALL_MOBILE) -> dict[str, Any]:
    """Aircall's published contact.created (contact 9001, Kim Lee), at ``at``, its list
    holding ``mobile`` (None: an empty list)."""
    body = _body("aircall", "contact.created.json")
    body["timestamp"] = at
    body["data"]["phone_numbers"] = (
        [{"id": 31, "label": "Mobile", "value": mobile}] if mobile is not None else []
    )
    return body


def _invitee(created_at: str, reminder: str = "+1 415-555-0177") -> dict[str, Any]:
    """Calendly's published invitee.created with numbers, booked by the same person (by
    email) at ``created_at``, texting reminders to ``reminder``."""
    body = _body("calendly", "invitee.created.phones.json")
    payload = body["payload"]
    body["created_at"] = payload["created_at"] = payload["updated_at"] = created_at
    payload.update(email=EMAIL, text_reminder_number=reminder)
    payload["uri"] += created_at  # another booking each time
    return body


def _setup(ws: Workspace) -> None:
    ws.apply_config(workspace_config({"phone": {"kind": "aircall"}, "cal": {"kind": "calendly"}}))


def _timeline(ws: Workspace, contact: int) -> dict[str, dict[str, Any]]:
    return {
        a["external_id"]: a
        for a in ws.record("contact", contact)["timeline"]
        if a["type"] == "call"
    }


@pytest.mark.parametrize(
    "booked_at", ["2026-11-01T09:00:01.000000Z", "2026-11-04T09:00:01.000000Z"]
)
def test_a_calendly_number_is_kept_beside_aircalls_and_calls_by_either_find_the_person(
    workspace: Workspace, booked_at: str
) -> None:
    """QA's case: Aircall gave contact 9001 its mobile; a Calendly booking of the same person
    (older, or newer) texts reminders to another number. The mobile Aircall gave stays; the
    reminder number is kept beside it, and a call from either lands on the contact."""
    _setup(workspace)
    ingest_ok(workspace, "phone", _aircall_contact())
    contact = record_id(workspace, "phone", "9001")
    ingest_ok(workspace, "cal", _invitee(booked_at))
    record = workspace.record("contact", contact)
    assert record["properties"]["mobilephone"] == AIRCALL_MOBILE
    assert indexed_phones(workspace, contact) == {
        "mobilephone": AIRCALL_MOBILE,
        "mobilephone+1": CALENDLY_MOBILE,
        "phone": "+14155550110",  # the invitee's own line, which nobody had given
    }
    mobile = record["properties"][PHONE_SOURCES]["mobilephone"]
    assert mobile["number"] == AIRCALL_MOBILE and mobile["given_by"] == ["phone"]
    assert mobile["beside"] == {"cal": {"number": CALENDLY_MOBILE, "index": "mobilephone+1"}}
    assert mobile["why"].endswith(
        f": cal gave it, but phone gave {AIRCALL_MOBILE}, which stays shown (calls by either "
        "find the person)"
    )
    ingest_ok(
        workspace,
        "phone",
        number_call(5001, T0 + 600, AIRCALL_MOBILE),
        number_call(5002, T0 + 660, CALENDLY_MOBILE),
    )
    calls = _timeline(workspace, contact)
    assert set(calls) == {"5001", "5002"}
    [activity] = [
        a for a in workspace.activities(integration="phone") if a["external_id"] == "5002"
    ]
    reasons = json.dumps(activity)
    assert (
        f"matched by number: contact {contact} has {CALENDLY_MOBILE} as mobilephone (kept "
        "beside, from cal)"
    ) in reasons


def test_calendly_changes_only_its_own_number_and_gives_it_back_to_the_property(
    workspace: Workspace,
) -> None:
    """An integration keeps one number beside per property: its next booking's reminder
    number takes the place of its last; the number the property shows, given by Calendly
    too, leaves its place beside."""
    _setup(workspace)
    ingest_ok(workspace, "phone", _aircall_contact())
    contact = record_id(workspace, "phone", "9001")
    ingest_ok(workspace, "cal", _invitee("2026-11-04T09:00:01.000000Z"))
    ingest_ok(workspace, "cal", _invitee("2026-11-05T09:00:01.000000Z", "+1 415-555-0188"))
    assert indexed_phones(workspace, contact)["mobilephone+1"] == "+14155550188"
    ingest_ok(workspace, "cal", _invitee("2026-11-06T09:00:01.000000Z", AIRCALL_MOBILE))
    phones = indexed_phones(workspace, contact)
    assert "mobilephone+1" not in phones and phones["mobilephone"] == AIRCALL_MOBILE
    mobile = workspace.record("contact", contact)["properties"][PHONE_SOURCES]["mobilephone"]
    assert mobile["given_by"] == ["phone", "cal"] and "beside" not in mobile


def test_when_aircall_takes_its_number_back_calendlys_is_shown(workspace: Workspace) -> None:
    """Aircall's list loses the mobile: the number Calendly kept beside it is the property's
    now; a call by Aircall's old number finds nobody, by Calendly's the contact."""
    _setup(workspace)
    ingest_ok(workspace, "phone", _aircall_contact())
    contact = record_id(workspace, "phone", "9001")
    ingest_ok(workspace, "cal", _invitee("2026-11-04T09:00:01.000000Z"))
    ingest_ok(workspace, "phone", _aircall_contact(T0 + 86400 * 3, mobile=None))
    record = workspace.record("contact", contact)
    assert record["properties"]["mobilephone"] == CALENDLY_MOBILE
    assert indexed_phones(workspace, contact)["mobilephone"] == CALENDLY_MOBILE
    assert "mobilephone+1" not in indexed_phones(workspace, contact)
    mobile = record["properties"][PHONE_SOURCES]["mobilephone"]
    assert mobile["given_by"] == ["cal"]
    assert mobile["why"].endswith(f"; cal gave {CALENDLY_MOBILE}, shown now")
    ingest_ok(
        workspace,
        "phone",
        number_call(5003, T0 + 86400 * 4, AIRCALL_MOBILE),
        number_call(5004, T0 + 86400 * 4 + 60, CALENDLY_MOBILE),
    )
    assert set(_timeline(workspace, contact)) == {"5004"}


def test_an_older_event_of_aircall_changes_nothing_newer(workspace: Workspace) -> None:
    """Aircall's contact.created arrives after the contact.updated that changed the mobile
    (a retry): the older list neither brings the old number back nor takes the new one."""
    _setup(workspace)
    ingest_ok(workspace, "phone", _aircall_contact(T0 + 600, mobile="+14155550199"))
    contact = record_id(workspace, "phone", "9001")
    ingest_ok(workspace, "phone", _aircall_contact())
    assert workspace.record("contact", contact)["properties"]["mobilephone"] == "+14155550199"
    assert indexed_phones(workspace, contact) == {"mobilephone": "+14155550199"}


@pytest.mark.parametrize(
    ("cleared_at", "cleared"), [("2026-11-02T15:00:00Z", False), ("2026-11-02T15:10:00Z", True)]
)
def test_a_clear_older_than_the_number_leaves_it(
    workspace: Workspace, cleared_at: str, cleared: bool
) -> None:
    """A tool that clears a property one at a time (the canonical format) clears the number
    whoever gave it — but not with a change older than the number."""
    workspace.apply_config(
        workspace_config({"phone": {"kind": "aircall"}, "crm": {"kind": "generic"}})
    )
    ingest_ok(workspace, "phone", _aircall_contact())  # at 15:05
    contact = record_id(workspace, "phone", "9001")
    properties = {"email": EMAIL, "mobilephone": None}
    run(workspace, ev("record", cleared_at, object="contact", external_id="c-1",
                      properties=properties), integration="crm")  # fmt: skip
    assert indexed_phones(workspace, contact) == (
        {} if cleared else {"mobilephone": AIRCALL_MOBILE}
    )


def test_a_booking_older_than_a_clear_is_kept_beside_not_shown(workspace: Workspace) -> None:
    """The CRM cleared the mobile at 15:10; a booking of 09:00 that day arrives later: its
    number is not shown over the newer clear, but a call by it still finds the person."""
    workspace.apply_config(
        workspace_config(
            {"phone": {"kind": "aircall"}, "cal": {"kind": "calendly"}, "crm": {"kind": "generic"}}
        )
    )
    ingest_ok(workspace, "phone", _aircall_contact())
    contact = record_id(workspace, "phone", "9001")
    clear = {"email": EMAIL, "mobilephone": None}
    run(workspace, ev("record", "2026-11-02T15:10:00Z", object="contact", external_id="c-1",
                      properties=clear), integration="crm")  # fmt: skip
    ingest_ok(workspace, "cal", _invitee("2026-11-02T09:00:00.000000Z"))
    record = workspace.record("contact", contact)
    assert record["properties"]["mobilephone"] is None
    assert indexed_phones(workspace, contact)["mobilephone+1"] == CALENDLY_MOBILE
    ingest_ok(workspace, "phone", number_call(5005, T0 + 3600, CALENDLY_MOBILE))
    assert set(_timeline(workspace, contact)) == {"5005"}


def test_the_crms_own_field_shows_what_a_person_sets_there(workspace: Workspace) -> None:
    """HubSpot is the CRM: its ``mobilephone`` is the property itself (and what the push
    writes back), so a number changed there is shown; the mobile Aircall gave is kept
    beside it, and a call by it still finds the person. A change older than Aircall's
    number is not taken."""
    workspace.apply_config(
        workspace_config(
            {"phone": {"kind": "aircall"}, "crm": {"kind": "hubspot", "vendor": {"app_id": "7"}}}
        )
    )
    ingest_ok(workspace, "phone", _aircall_contact())
    contact = record_id(workspace, "phone", "9001")
    change = json.loads(
        (PUBLISHED / "hubspot" / "contact.propertyChange.test_firstname.json").read_text()
    )
    ms = (T0 + 60) * 1000

    def changed(event_id: int, at_ms: int, name: str, value: str) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = copy.deepcopy(change)
        body[0].update(eventId=event_id, occurredAt=at_ms, propertyName=name, propertyValue=value)
        return body

    ingest_ok(workspace, "crm", changed(101, ms, "email", EMAIL))
    assert record_id(workspace, "crm", "123") == contact
    ingest_ok(workspace, "crm", changed(102, ms - 600_000, "mobilephone", "+1 415-555-0166"))
    assert indexed_phones(workspace, contact)["mobilephone"] == AIRCALL_MOBILE  # older
    ingest_ok(workspace, "crm", changed(103, ms + 60_000, "mobilephone", "+1 415-555-0199"))
    record = workspace.record("contact", contact)
    assert record["properties"]["mobilephone"] == "+1 415-555-0199"
    assert indexed_phones(workspace, contact) == {
        "mobilephone": "+14155550199",
        "mobilephone+1": AIRCALL_MOBILE,
    }
    mobile = record["properties"][PHONE_SOURCES]["mobilephone"]
    assert mobile["given_by"] == ["crm"]
    assert mobile["beside"] == {"phone": {"number": AIRCALL_MOBILE, "index": "mobilephone+1"}}
    ingest_ok(workspace, "phone", number_call(5006, T0 + 3600, AIRCALL_MOBILE))
    assert set(_timeline(workspace, contact)) == {"5006"}
