"""A record the push cannot create yet — a placeholder nothing names (no name, domain or
email: created blank, HubSpot could not match it to the contact it has by that email) — and
the links of objects HubSpot has that wait for it. Every surface says so: ``records show``
(the record, and its timeline's activities), ``push status`` (text and --json), the push's
summary, the health report; and the link is made once the record is created, or matched to
the one HubSpot has."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble, serving
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, signed_in
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import ev, record_by_external, run
from tests.test_hubspot_push import company_contact_call, config, linked_ids, only, ws

__all__ = ["ws"]  # the fixture: a workspace pushing to the stand-in


def call_for_a_contact_nothing_names() -> list[dict[str, Any]]:
    """The audit's repro: an owner event names contact p-7 (no email, no name), then a call
    associated with it."""
    return [
        ev("owner", "2026-11-01T09:00:00Z", object="contact", external_id="p-7", owner="u-1"),
        ev(
            "activity",
            "2026-11-01T09:05:00Z",
            activity="call",
            external_id="c-7",
            owner="u-1",
            properties={"duration_s": 60},
            associations=[{"object": "contact", "external_id": "p-7"}],
        ),
    ]


def its_email() -> dict[str, Any]:
    return ev(
        "record",
        "2026-11-01T09:10:00Z",
        object="contact",
        external_id="p-7",
        properties={"email": "kim@globex.test"},
    )


def cli(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--db", db_url, *args])
    return result.exit_code, result.stdout


def test_every_surface_says_what_waits_for_a_record_nothing_names(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    with serving(hub) as base_url, Workspace(db_url) as ws:
        ws.apply_config(config(base_url=base_url))
        ws.hubspot_setup()
        run(ws, *call_for_a_contact_nothing_names())
        contact = record_by_external(ws, "p-7")["id"]

        # The push: the call went without its link, and the summary says so.
        code, out = cli(db_url, "push")
        assert code == 0, out
        assert "created: 1 call" in out and "associations: 0" in out
        assert (
            "links waiting: 1 (objects in HubSpot without their link to a record not created "
            "there yet — in all 1 contact; each link is made when its record is created: "
            "`leadsync push status`)"
        ) in " ".join(out.split())
        assert linked_ids(only(hub, "calls"), "contacts") == set()

        # push status, text and JSON: the record that cannot be created and the link.
        code, out = cli(db_url, "push", "status")
        assert code == 0
        text = " ".join(out.split())
        assert (
            "not created in HubSpot: 1 contact (nothing names it yet: no name, domain or email; "
            "created once an event does); 1 link of objects HubSpot has waits for it"
        ) in text
        assert f"contact {contact}: 1 link waiting since " in text
        assert f"(leadsync records show contact {contact})" in text
        code, out = cli(db_url, "push", "status", "--json")
        waiting = json.loads(out)["not_created"]
        assert waiting["records"] == {"contact": 1} and waiting["total"] == 1
        assert waiting["links_waiting"] == 1 and waiting["waiting_since"]
        assert [(r["type"], r["id"], r["links"]) for r in waiting["first"]] == [
            ("contact", contact, 1)
        ]

        # records show: why the record is not in HubSpot, and the call's link that waits.
        code, out = cli(db_url, "records", "show", "contact", str(contact))
        assert code == 0
        assert (
            "HubSpot: not created: nothing names it yet (it has no email or name); created "
            "once an event gives it one; 1 link of objects HubSpot has waits for it, made then"
        ) in out
        assert "not pushed yet" not in out
        assert (
            f"not linked there to contact {contact} yet: the link waits for it to be created "
            "in HubSpot"
        ) in out
        state = ws.record_hubspot(contact)
        assert state.unnamed and state.links_waiting == 1
        code, out = cli(db_url, "records", "show", "contact", str(contact), "--json")
        (call,) = json.loads(out)["timeline"]
        assert call["hubspot"]["links_waiting"] == [{"type": "contact", "id": contact}]

        # The report: information at once, an alert once the link waited past the push lag.
        now = {f.check: f for f in ws.report("2026-01-01T00:00:00Z").findings}
        assert not now["push_not_created"].alert
        assert now["push_not_created"].summary.startswith(
            "1 contact cannot be created in HubSpot yet (nothing names it: no name, domain or "
            "email; created once an event does); 1 link of objects HubSpot has waits, the oldest "
            "for "
        )
        later = {
            f.check: f
            for f in ws.report("2026-01-01T00:00:00Z", now="2099-01-01T00:00:00Z").findings
        }
        finding = later["push_not_created"]
        assert finding.alert
        assert finding.rows[0]["record"] == {"type": "contact", "id": contact}
        assert finding.rows[0]["links_waiting"] == 1
        assert finding.rows[0]["show"] == f"leadsync records show contact {contact}"

        # The contact gets its email: it is created, and the call's link is made.
        run(ws, its_email())
        code, out = cli(db_url, "push")
        assert code == 0 and "created: 1 contact" in out and "associations: 1" in out
        assert "links waiting" not in out
        assert linked_ids(only(hub, "calls"), "contacts") == {only(hub, "contacts")["id"]}
        assert ws.push_status()["not_created"]["total"] == 0
        code, out = cli(db_url, "records", "show", "contact", str(contact))
        assert "in HubSpot: " in out and "not linked there" not in out
        findings = {f.check: f for f in ws.report("2026-01-01T00:00:00Z").findings}
        assert not findings["push_not_created"].alert
        assert findings["push_not_created"].rows == []


def test_the_link_is_made_when_the_record_is_matched_to_the_one_hubspot_has(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    existing = hub.add_object("contacts", {"email": "kim@globex.test"})
    run(ws, *call_for_a_contact_nothing_names())
    first = ws.push()
    assert first.unnamed == {"contact": 1} and first.waiting_links == 1
    run(ws, its_email())  # HubSpot has that email: matched, not created
    second = ws.push()
    assert second.matched == {"contact": 1} and second.created == {}
    assert second.waiting_links == 0 and second.associations == 1
    assert linked_ids(only(hub, "calls"), "contacts") == {existing}
    assert len(hub.objects("contacts")) == 1


def test_a_contact_matched_by_its_email_gets_its_company_link(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    existing = hub.add_object("contacts", {"email": "kim@globex.test"})
    run(ws, *company_contact_call())
    result = ws.push()
    assert result.matched == {"contact": 1} and result.failures == 0
    company = only(hub, "companies")["id"]
    contact = only(hub, "contacts")
    assert contact["id"] == existing
    assert linked_ids(contact, "companies") == {company}
    assert linked_ids(only(hub, "calls"), "contacts") == {existing}
    assert result.associations == hub.association_count() == 3


def test_a_record_type_the_push_does_not_send_says_so(ws: Workspace) -> None:
    run(
        ws,
        ev(
            "record",
            object="ticket",
            external_id="t-1",
            properties={"name": "Broken login"},
        ),
    )
    ticket = record_by_external(ws, "t-1")["id"]
    assert ws.record_hubspot(ticket).state == (
        "not pushed: the push sends contacts, companies, deals and leads, not tickets"
    )


def test_the_record_page_says_why_it_is_not_in_hubspot_and_which_link_waits(
    ws: Workspace,
) -> None:
    run(ws, *call_for_a_contact_nothing_names())
    ws.push()
    contact = record_by_external(ws, "p-7")["id"]
    with console_server(ws, push=False) as live:
        html = signed_in(live.client, PASSWORD).get(f"/records/contact/{contact}").text
    assert (
        "<strong>Not created: nothing names it yet (it has no email or name); created once an "
        "event gives it one; 1 link of objects HubSpot has waits for it, made then</strong>"
    ) in html
    assert (
        f"not linked there to contact {contact} yet: the link waits for it to be created in HubSpot"
    ) in html
