"""A number kept beside a contact's own (another integration's, under an internal name in
the phone index: ``mobilephone+1``) is shown as what it is wherever numbers are shown — the
property it stands beside and the integration that gave it: the health report's unreadable
numbers (JSON and text), ``records show`` (JSON and text), the admin API's record, the
console's record page, and the reason a call was matched by it. Through the real intake, with
the vendors' published payload shapes (Aircall's contact, Calendly's invitee)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.rules.records import indexed_as
from leadsync.workspace import Workspace
from tests.live import ADMIN_TOKEN
from tests.phone_helpers import ingest_ok, number_call, record_id
from tests.test_phone_beside import (
    AIRCALL_MOBILE,
    CALENDLY_MOBILE,
    T0,
    _aircall_contact,
    _invitee,
    _setup,
)

INTERNAL = "mobilephone+1"  # the phone index's name of the number kept beside the mobile
UNREADABLE = "0415 555 0177"  # a national number, and Calendly has no region: to read it in
SHOWN_AS = "mobilephone (kept beside, from cal)"


def _contact_with_a_number_beside(ws: Workspace, reminder: str) -> int:
    """Contact 9001 with Aircall's mobile, and Calendly's text-reminder number ``reminder``
    kept beside it (the booking is later: it does not replace Aircall's)."""
    _setup(ws)
    ingest_ok(ws, "phone", _aircall_contact())
    ingest_ok(ws, "cal", _invitee("2026-11-04T09:00:01.000000Z", reminder=reminder))
    return record_id(ws, "phone", "9001")


def _cli(ws: Workspace, *args: str) -> Any:
    url = ws.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(app, ["--db", url, *args], env={"COLUMNS": "300"})


def test_the_one_function_names_an_index_entry_by_its_property_and_giver() -> None:
    sources = {"mobilephone": {"beside": {"cal": {"number": "x", "index": INTERNAL}}}}
    assert indexed_as("mobilephone", sources).text() == "mobilephone"
    assert indexed_as(INTERNAL, sources).fields() == {
        "property": "mobilephone",
        "kept_beside": True,
        "integration": "cal",
    }
    assert indexed_as(INTERNAL, sources).text() == SHOWN_AS
    # Who gave it not known (no sources): still the property, never the internal name.
    assert indexed_as(INTERNAL, None).text() == "mobilephone (kept beside)"


def test_an_unreadable_number_kept_beside_is_named_readably_by_the_health_report(
    workspace: Workspace,
) -> None:
    contact = _contact_with_a_number_beside(workspace, UNREADABLE)
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-11-10T00:00:00Z")
    [unreadable] = [f for f in report.findings if f.check == "unreadable_numbers"]
    assert unreadable.summary.startswith("1 phone number of contacts and leads does not")
    assert unreadable.rows == [
        {
            "record": {"type": "contact", "id": contact},
            "show": f"leadsync records show contact {contact}",
            "property": "mobilephone",
            "kept_beside": True,
            "integration": "cal",
            "shown_as": SHOWN_AS,
            "given": UNREADABLE,
        }
    ]
    shown = _cli(workspace, "report", "--since", "2026-10-01T00:00:00Z")
    assert shown.exit_code in (0, 1), shown.output
    assert (
        f"contact {contact} {SHOWN_AS}: {UNREADABLE!r}  (leadsync records show contact {contact})"
    ) in shown.stdout
    as_json = _cli(workspace, "report", "--since", "2026-10-01T00:00:00Z", "--json")
    assert INTERNAL not in shown.stdout and INTERNAL not in as_json.stdout


def test_the_record_view_shows_both_numbers_readably(workspace: Workspace) -> None:
    from tests.browser import console_server, signed_in

    contact = _contact_with_a_number_beside(workspace, UNREADABLE)
    record = workspace.record("contact", contact)
    mobiles = [p for p in record["phones"] if p["property"] == "mobilephone"]
    assert mobiles == [
        {
            "property": "mobilephone",
            "kept_beside": False,
            "integration": None,
            "shown_as": "mobilephone",
            "number": AIRCALL_MOBILE,
            "readable": True,
        },
        {
            "property": "mobilephone",
            "kept_beside": True,
            "integration": "cal",
            "shown_as": SHOWN_AS,
            "number": UNREADABLE,
            "readable": False,
        },
    ]
    shown = _cli(workspace, "records", "show", "contact", str(contact))
    assert shown.exit_code == 0, shown.output
    assert (
        f"mobilephone {AIRCALL_MOBILE}, {SHOWN_AS} {UNREADABLE} (not readable as a number)"
    ) in shown.stdout
    assert INTERNAL not in shown.stdout
    with console_server(workspace) as server, httpx.Client(base_url=server.base_url) as client:
        page = signed_in(client).get(f"/records/contact/{contact}").text
        api = server.client.get(
            f"/api/records/contact/{contact}",
            headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
        )
    assert f"{SHOWN_AS}: <code>{UNREADABLE}</code>" in page
    assert f"mobilephone: <code>{AIRCALL_MOBILE}</code>" in page
    assert INTERNAL not in page
    assert api.status_code == 200, api.text
    assert api.json()["phones"] == record["phones"]


def test_a_call_matched_by_a_number_kept_beside_says_which_integration_gave_it(
    workspace: Workspace,
) -> None:
    contact = _contact_with_a_number_beside(workspace, "+1 415-555-0177")
    ingest_ok(workspace, "phone", number_call(5002, T0 + 660, CALENDLY_MOBILE))
    timeline = workspace.record("contact", contact)["timeline"]
    [call] = [a for a in timeline if a["external_id"] == "5002"]
    reasons = json.dumps(call)
    assert f"contact {contact} has {CALENDLY_MOBILE} as {SHOWN_AS}" in reasons
    assert INTERNAL not in reasons
