"""A push's owner decision against the CRM records what happened to leadsync's record: when
the CRM's owner stays and differs from leadsync's, the record's owner changes to it, so the
decision is ``set`` (it read ``kept``: ``decisions list --outcome set`` missed a change); when
leadsync's owner goes to the CRM, leadsync's record keeps it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.destinations.hubspot.objects import from_hubspot_time
from leadsync.store.schema import records
from leadsync.workspace import Workspace
from tests.helpers import run
from tests.test_hubspot_push import (  # noqa: F401
    company_contact_call,
    config,
    dialers_later_change,
    only,
    ws,
)

__all__ = ["ws"]


def last_decision(workspace: Workspace) -> dict[str, object]:
    record = workspace.record("contact", workspace.find(email="kim@globex.test")[0]["id"])
    history: list[dict[str, object]] = record["owner_history"]
    return history[-1]


def test_the_crms_owner_kept_is_a_change_of_leadsyncs_record(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    hub.set_owner("contacts", contact["id"], "104")  # a person, in HubSpot
    run(
        ws, dialers_later_change()
    )  # the dialer's 102, older than the person's change seen at the push
    ws.push()
    decision = last_decision(ws)
    assert decision["owner_id"] == "104"
    assert (decision["outcome"], decision["previous_owner_id"]) == ("set", "102")
    assert str(decision["reason"]).endswith("so leadsync's owner becomes 104 (was 102)")
    assert ws.decisions(outcome="set")[0]["owner_id"] == "104"


def test_leadsyncs_owner_written_over_the_crms_keeps_leadsyncs_record(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    ws.apply_config(config(ownership={"default": "integration_wins", "protect_manual_days": 0}))
    run(ws, *company_contact_call())
    ws.push()
    hub.set_owner("contacts", only(hub, "contacts")["id"], "104")
    run(ws, dialers_later_change())
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    decision = last_decision(ws)
    assert decision["owner_id"] == "102"
    assert "leadsync's owner becomes" not in str(decision["reason"])


def test_the_crms_owner_kept_ends_a_persons_earlier_protection(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    """HubSpot's owner taken at the push is nobody's known choice: the protection of what a
    person chose earlier (``manual_owner_at``) ends with it, else that person's window would
    guard an owner they never chose."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    hub.set_owner("contacts", only(hub, "contacts")["id"], "104")
    run(ws, dialers_later_change())
    record_id = ws.find(email="kim@globex.test")[0]["id"]
    with ws.engine.begin() as connection:  # an earlier choice by a person, as stored
        connection.execute(
            sa.update(records)
            .where(records.c.id == record_id)
            .values(manual_owner_at="2026-11-01T10:30:00.000Z")
        )
    ws.push()
    assert last_decision(ws)["owner_id"] == "104"
    with ws.engine.connect() as connection:
        row = connection.execute(
            sa.select(records.c.owner_id, records.c.manual_owner_at).where(
                records.c.id == record_id
            )
        ).one()
    assert (row.owner_id, row.manual_owner_at) == ("104", None)


def _record_row(ws: Workspace) -> Any:
    record_id = ws.find(email="kim@globex.test")[0]["id"]
    with ws.engine.connect() as connection:
        return connection.execute(sa.select(records).where(records.c.id == record_id)).one()


def test_the_crms_owner_kept_is_dated_when_hubspot_assigned_it_not_at_the_push(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    """Under bidirectional the most recent change wins: HubSpot's owner kept at the push is
    as recent as HubSpot says it is (``hubspot_owner_assigneddate``); dated at the push, a
    change the tool made after the person's but delivered after the push was taken for an
    older one, ignored, and the person's owner sent back to the tool."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    contact = hub.set_owner("contacts", only(hub, "contacts")["id"], "104")
    assigned = contact["properties"]["hubspot_owner_assigneddate"]
    run(ws, dialers_later_change())
    ws.push()
    assert last_decision(ws)["owner_id"] == "104"
    assert _record_row(ws).owner_changed_at == from_hubspot_time(assigned)


def test_a_persons_change_the_push_read_first_is_still_a_persons_change_when_told(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    """The push reads the owner a person gave in HubSpot (and keeps it) before that
    change's webhook arrives: the webhook, a person's (CRM_UI), is not leadsync's own write
    echoed back — it starts the person's protection window as it would have before the push."""
    ws.apply_config(config(ownership={"default": "bidirectional", "protect_manual_days": 14}))
    run(ws, *company_contact_call())
    ws.push()
    contact = hub.set_owner("contacts", only(hub, "contacts")["id"], "104")
    run(ws, dialers_later_change())
    ws.push()  # reads 104 and keeps it
    webhook = [
        {
            "eventId": 9001, "subscriptionId": 1, "portalId": 62515, "appId": 7,
            "occurredAt": hubspot_ms(contact["properties"]["hubspot_owner_assigneddate"]),
            "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
            "objectId": int(contact["id"]), "propertyName": "hubspot_owner_id",
            "propertyValue": "104", "changeSource": "CRM_UI", "sourceId": "userId:9001",
        }
    ]  # fmt: skip
    assert ws.ingest("crm", [json.dumps(webhook)]).ok
    told = last_decision(ws)
    assert "echoed back" not in str(told["reason"]), told
    assert _record_row(ws).manual_owner_at is not None  # the person's window starts


def test_a_record_hubspot_had_without_an_owner_takes_leadsyncs_under_bidirectional(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    """HubSpot had the contact, never given an owner; the dialer's contact with its rep is
    matched to it at the push: leadsync's owner is written — no owner never assigned is
    not a more recent change (before: leadsync's own record lost its owner)."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    hub.add_object("contacts", {"email": "kim@globex.test", "firstname": "Kim"})
    run(ws, *company_contact_call())
    ws.push()
    assert only(hub, "contacts")["properties"].get("hubspot_owner_id") == "101"
    assert _record_row(ws).owner_id == "101"
    decision = last_decision(ws)
    assert "already existed in the CRM with no owner, never assigned there" in str(
        decision["reason"]
    )


def hubspot_ms(iso: str) -> int:
    """A HubSpot ISO time as the epoch milliseconds its webhooks carry."""
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
