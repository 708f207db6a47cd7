"""HubSpot's webhook of an owner leadsync wrote, delivered after leadsync wrote another one
there (HubSpot retries a webhook for hours): the change it tells happened before leadsync's
later write replaced it in HubSpot, so it is no change of today's owner — whoever made it —
and is ignored with that reason. Without ``vendor.app_id`` nothing else tells it apart from
a person's change (HubSpot's ``changeSource`` of an app's write varies)."""

from __future__ import annotations

import time

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.helpers import hubspot_property_change, run
from tests.test_hubspot_push import (  # noqa: F401
    company_contact_call,
    config,
    dialers_later_change,
    only,
    ws,
)

__all__ = ["ws"]


def now_ms() -> int:
    return int(time.time() * 1000)


def kim(workspace: Workspace) -> dict[str, object]:
    return workspace.record("contact", workspace.find(email="kim@globex.test")[0]["id"])


def test_a_late_webhook_of_an_earlier_write_is_not_a_change_made_in_hubspot(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    ws.apply_config(config(ownership={"default": "bidirectional", "protect_manual_days": 14}))
    run(ws, *company_contact_call())
    ws.push()  # creates Kim in HubSpot with owner 101
    contact = only(hub, "contacts")
    between = now_ms()  # when HubSpot told that create's owner (its webhook is late)
    time.sleep(0.01)
    run(ws, dialers_later_change())
    ws.push()  # writes 102 over leadsync's own 101
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    late = hubspot_property_change(contact["id"], "hubspot_owner_id", "101", 9001, between)
    summary = ws.ingest("crm", [late.encode()], source="hubspot.jsonl")
    assert len(summary.dead_letters) == 0, summary.dead_letters.items
    record = kim(ws)
    assert record["owner_id"] == "102"
    last = record["owner_history"][-1]
    assert last["outcome"] == "ignored"
    assert "before leadsync's owner write to it at" in str(last["reason"]), last["reason"]
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    assert ws.outbox() == []  # nothing sent on to the tools
    # No person's protection started: the dialer's next change still applies.
    later = dialers_later_change() | {"occurred_at": "2026-11-01T12:00:00Z", "owner": "u-1"}
    run(ws, later)
    assert kim(ws)["owner_id"] == "101"


def test_a_persons_change_after_leadsyncs_last_write_is_still_theirs(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    ws.apply_config(config(ownership={"default": "bidirectional", "protect_manual_days": 14}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    run(ws, dialers_later_change())
    ws.push()
    time.sleep(0.01)
    # A person gives Kim back to 101 in HubSpot, after leadsync's write of 102.
    hub.set_owner("contacts", contact["id"], "101")
    change = hubspot_property_change(contact["id"], "hubspot_owner_id", "101", 9002, now_ms())
    ws.ingest("crm", [change.encode()], source="hubspot.jsonl")
    record = kim(ws)
    assert record["owner_id"] == "101"
    assert record["owner_history"][-1]["outcome"] == "set"
