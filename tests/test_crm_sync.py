"""Vendor payloads through the whole workspace: ingest of captured webhooks, the CRM side of
bidirectional sync (HubSpot), the user directory that fills itself, and dead-letter retries.
Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import EventError, NotFoundError, WorkspaceError
from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.sources.salesforce import id18
from leadsync.workspace import Workspace
from tests.helpers import contact_line, record_by_external, settings, workspace_config

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def hubspot_batch(*events: dict[str, Any]) -> str:
    return json.dumps([{"portalId": 62515, "appId": 777, "attemptNumber": 0, **e} for e in events])


def owner_change(
    object_id: int,
    owner: str,
    at_ms: int,
    event_id: int,
    source: str = "CRM_UI",
    by: str = "userId:5",
) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 1,
        "occurredAt": at_ms,
        "subscriptionType": "contact.propertyChange",
        "objectId": object_id,
        "propertyName": "hubspot_owner_id",
        "propertyValue": owner,
        "changeSource": source,
        "sourceId": by,
    }


NOV_1 = 1_793_523_600_000  # 2026-11-01T09:00:00Z in ms


def crm_workspace(ws: Workspace, dialer: dict[str, Any] | None = None) -> None:
    ws.apply_config(
        workspace_config(
            {
                "dialer": settings(**(dialer or {"ownership": {"default": "bidirectional"}})),
                "crm": {"kind": "hubspot", "secret_env": "HS_SECRET", "vendor": {"app_id": "777"}},
            }
        )
    )


def test_crm_owner_changes_are_taken_sent_on_and_never_echoed(workspace: Workspace) -> None:
    crm_workspace(workspace)
    # The dialer knows the contact as p-1; HubSpot knows the same person as object 501.
    workspace.ingest(
        "dialer",
        [
            contact_line(
                "p-1", "u-1", "2026-11-01T08:00:00Z", event_id="d1", email="kim@globex.test"
            )
        ],
    )
    workspace.ingest(
        "crm",
        [
            hubspot_batch(
                {
                    "eventId": 1,
                    "subscriptionId": 2,
                    "occurredAt": NOV_1 - 1000,
                    "subscriptionType": "contact.propertyChange",
                    "objectId": 501,
                    "propertyName": "email",
                    "propertyValue": "kim@globex.test",
                    "changeSource": "CRM_UI",
                    "sourceId": "userId:5",
                },
                owner_change(501, "102", NOV_1, 2),
                owner_change(501, "101", NOV_1 + 1000, 3, source="INTEGRATION", by="777"),
            )
        ],
    )
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "102"  # the echo of leadsync's own write changed nothing
    crm_change = kim["owner_history"][-1]
    assert crm_change["strategy"] == "crm" and crm_change["integration"] == "crm"
    assert "changed in the CRM" in crm_change["reason"] and "by a person" in crm_change["reason"]
    outbox = workspace.outbox()
    assert [(o["integration"], o["owner_id"], o["external_id"]) for o in outbox] == [
        ("dialer", "102", "p-1")
    ]
    assert not [o for o in outbox if o["integration"] == "crm"]  # never back to the CRM


def test_an_automations_change_in_the_crm_ends_a_persons_protection(
    workspace: Workspace,
) -> None:
    """A person chose 102 in HubSpot; a workflow then gave the contact to 104. The owner is
    no person's choice any more: protect_manual_days no longer keeps it, and no reason says a
    person set it."""
    crm_workspace(
        workspace, {"ownership": {"default": "integration_wins", "protect_manual_days": 14}}
    )
    workspace.ingest(
        "dialer",
        [contact_line("p-1", None, "2026-11-01T08:00:00Z", event_id="d1", email="kim@x.test")],
    )
    email = {
        **owner_change(501, "", NOV_1 - 1000, 1),
        "propertyName": "email",
        "propertyValue": "kim@x.test",
    }
    workflow = owner_change(501, "104", NOV_1 + 3_600_000, 3, "AUTOMATION_PLATFORM", "wf:1")
    workspace.ingest("crm", [hubspot_batch(email, owner_change(501, "102", NOV_1, 2), workflow)])
    assert record_by_external(workspace, "p-1")["owner_id"] == "104"
    workspace.ingest(
        "dialer", [contact_line("p-1", "u-1", "2026-11-03T08:00:00Z", email="kim@x.test")]
    )
    kim = record_by_external(workspace, "p-1")
    last = kim["owner_history"][-1]
    assert (kim["owner_id"], last["outcome"]) == ("101", "set"), last["reason"]
    assert last["reason"].startswith("set 101: integration_wins replaces 104")


def test_an_older_crm_change_arriving_late_is_stale(workspace: Workspace) -> None:
    crm_workspace(workspace)
    workspace.ingest(
        "crm",
        [
            hubspot_batch(
                owner_change(9, "102", NOV_1 + 5000, 11), owner_change(9, "101", NOV_1, 10)
            )
        ],
    )
    record = record_by_external(workspace, "9", "crm")
    assert record["owner_id"] == "102"
    assert [h["outcome"] for h in record["owner_history"]] == ["set", "ignored"]
    assert "stale" in record["owner_history"][1]["reason"]


def test_a_person_in_the_crm_is_protected_from_the_integration(workspace: Workspace) -> None:
    crm_workspace(
        workspace,
        {"ownership": {"default": "integration_wins", "protect_manual_days": 14}},
    )
    workspace.ingest(
        "dialer",
        [
            contact_line(
                "p-1", "u-1", "2026-11-01T08:00:00Z", event_id="d1", email="kim@globex.test"
            )
        ],
    )
    # HubSpot tells us its object 501 is that contact, then a person gives it to 102.
    workspace.ingest(
        "crm",
        [
            hubspot_batch(
                {
                    "eventId": 20,
                    "subscriptionId": 2,
                    "occurredAt": NOV_1 - 1000,
                    "subscriptionType": "contact.propertyChange",
                    "objectId": 501,
                    "propertyName": "email",
                    "propertyValue": "kim@globex.test",
                    "changeSource": "IMPORT",
                    "sourceId": "import:1",
                },
                owner_change(501, "102", NOV_1, 21),
            )
        ],
    )
    workspace.ingest(
        "dialer",
        [
            json.dumps(
                {
                    "id": "d2",
                    "occurred_at": "2026-11-03T08:00:00Z",
                    "type": "owner",
                    "object": "contact",
                    "external_id": "p-1",
                    "owner": "u-1",
                }
            )
        ],
    )
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "102"
    assert kim["owner_history"][-1]["outcome"] == "kept"
    assert "a person set the owner in the CRM" in kim["owner_history"][-1]["reason"]


def test_the_user_directory_fills_itself_from_payloads(workspace: Workspace) -> None:
    workspace.apply_config(
        workspace_config(
            {
                "phone": {
                    "kind": "aircall",
                    "users": {"map": {"99": "104"}, "unmapped": {"policy": "leave"}},
                }
            }
        )
    )
    lines = [
        # An agent with an email that matches owner 101, introduced by a user event.
        json.dumps(
            {
                "resource": "user",
                "event": "user.created",
                "timestamp": 1793523600,
                "data": {"id": 7, "name": "Ana Ng", "email": "ANA@acme.test"},
            }
        ),
        # Calls by agent 7 (email inline), by a mapped agent and by an unknown one.
        _call(1, {"id": 7, "email": "ana@acme.test"}),
        _call(2, {"id": 7, "email": "ana@acme.test"}),
        _call(3, {"id": 99, "name": "Map Ped"}),
        _call(4, {"id": 55, "email": "stranger@else.test"}),
    ]
    summary = workspace.ingest("phone", lines)
    assert summary.ok, summary.to_dict()
    users = {u["id"]: u for u in workspace.external_users("phone")}
    assert users["7"]["status"] == "auto-matched" and users["7"]["owner_id"] == "101"
    assert users["7"]["name"] == "Ana Ng" and users["7"]["events"] == 2
    assert users["99"]["status"] == "mapped" and users["99"]["owner_id"] == "104"
    assert users["55"]["status"] == "unmapped" and users["55"]["owner_id"] is None
    assert users["55"]["events"] == 1


def _call(call_id: int, user: dict[str, Any]) -> str:
    return json.dumps(
        {
            "resource": "call",
            "event": "call.ended",
            "timestamp": 1793523600 + call_id,
            "data": {
                "id": call_id,
                "direction": "outbound",
                "status": "done",
                "started_at": 1793523500,
                "answered_at": 1793523505,
                "ended_at": 1793523590,
                "duration": 85,
                "user": user,
                "contact": {"id": 900 + call_id, "emails": [{"value": f"c{call_id}@x.test"}]},
            },
        }
    )


def test_ingest_reads_captured_webhooks_with_headers(workspace: Workspace, tmp_path: Path) -> None:
    workspace.apply_config(workspace_config({"engage": {"kind": "salesloft"}}))
    person = json.loads((FIXTURES / "salesloft" / "person_created.json").read_text())
    assert person["headers"]["x-salesloft-event"] == "person_created"
    headerless = {"body": person["body"]}
    log = tmp_path / "captured.jsonl"
    log.write_text(json.dumps(person) + "\n" + json.dumps(headerless) + "\n")
    summary = workspace.ingest("engage", log.read_text().splitlines(), source=str(log))
    assert summary.accepted == 1
    [dead] = list(summary.dead_letters)
    assert dead.where == f"{log}:2" and "x-salesloft-event" in dead.error
    external = str(person["body"]["id"])
    assert record_by_external(workspace, external, "engage")["type"] == "contact"


def test_a_dead_letter_is_retried_once_its_cause_is_fixed(workspace: Workspace) -> None:
    """An event waits in the inbox while its integration is dropped from the file: it fails
    ("no longer configured"). The integration comes back; the retry applies it."""
    with_dialer = workspace_config({"dialer": settings(), "other": settings()})
    workspace.apply_config(with_dialer)
    with workspace.engine.begin() as connection:
        line = json.dumps(
            {
                "id": "e1",
                "occurred_at": "2026-11-01T09:00:00Z",
                "type": "record",
                "object": "contact",
                "external_id": "p-1",
                "owner": "u-1",
            }
        )
        write_items(
            connection,
            "dialer",
            [InboxItem("e1", None, line)],
            "2026-11-01T09:00:01.000Z",
            "webhook",
            "pending",
        )
    workspace.apply_config(workspace_config({"other": settings()}))
    workspace.process_inbox()
    [letter] = workspace.dead_letters("dialer")
    assert "no longer configured" in letter["error"] and letter["event_id"] == "e1"
    with pytest.raises(NotFoundError, match="unknown integration 'dialer'"):
        workspace.retry_dead_letter(letter["id"])
    workspace.apply_config(with_dialer)
    result = workspace.retry_dead_letter(letter["id"])
    assert "pending again" in result.resolution
    workspace.process_inbox()
    assert record_by_external(workspace, "p-1")["owner_id"] == "101"
    assert workspace.dead_letters("dialer") == []
    assert len(workspace.dead_letters("dialer", include_resolved=True)) == 1
    with pytest.raises(WorkspaceError, match="already retried"):
        workspace.retry_dead_letter(letter["id"])


def test_one_bad_event_in_a_captured_batch_does_not_sink_the_others(
    workspace: Workspace,
) -> None:
    crm_workspace(workspace)
    bad = {**owner_change(502, "101", NOV_1, 31), "subscriptionType": "contact.teleported"}
    line = hubspot_batch(owner_change(501, "102", NOV_1, 30), bad)
    summary = workspace.ingest("crm", [line], source="hs.jsonl")
    assert summary.accepted == 1
    [dead] = list(summary.dead_letters)
    assert dead.where == "hs.jsonl:1 [1]" and "contact.teleported" in dead.error
    assert record_by_external(workspace, "501", "crm")["owner_id"] == "102"
    statuses = sorted(r["status"] for r in workspace.inbox_rows(integration="crm"))
    assert statuses == ["applied", "failed"]
    [letter] = workspace.dead_letters("crm")
    assert letter["line_no"] == 1 and letter["event_id"] == "1:31@502"  # @objectId
    # The same capture again: both events are known; nothing new, no second dead letter —
    # the one still open is reported again.
    again = workspace.ingest("crm", [line], source="hs.jsonl")
    assert again.duplicates == 2 and again.dead_letters.total == 1
    assert len(workspace.dead_letters("crm")) == 1
    # Retried, it still cannot be read (the name is still unknown): refused, nothing changes.
    with pytest.raises(EventError, match="contact.teleported"):
        workspace.retry_dead_letter(letter["id"])
    assert [d["id"] for d in workspace.dead_letters("crm")] == [letter["id"]]
    assert sorted(r["status"] for r in workspace.inbox_rows(integration="crm")) == statuses


def test_a_secret_in_a_captured_line_is_not_kept(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config({"phone": {"kind": "aircall"}}))
    good = json.loads(_call(1, {"id": 7, "email": "ana@acme.test"}))
    good["token"] = "tok-SECRET-1"
    broken = {**good, "data": "not an object"}
    summary = workspace.ingest("phone", [json.dumps(good), json.dumps(broken)])
    assert summary.accepted == 1 and summary.dead_letters.total == 1
    stored = [r["payload"] for r in workspace.inbox_rows()]
    stored += [d["raw"] for d in workspace.dead_letters()]
    assert stored and not [text for text in stored if "tok-SECRET-1" in text]


def _outreach(owner: int, at: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / "outreach" / "prospect.updated-owner-only.json").read_text())
    body["body"]["data"]["relationships"]["owner"]["data"]["id"] = owner
    body["body"]["data"]["attributes"]["updatedAt"] = at
    return body


def _salesloft(owner: int, at: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / "salesloft" / "person_updated.json").read_text())
    body["body"].update(owner={"id": owner}, updated_at=at)
    return body


def _pipedrive(owner: int, at: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / "pipedrive" / "change.person.owner_only.json").read_text())
    body["body"]["meta"].update(timestamp=at, id=f"evt-{owner}-{at}")
    body["body"]["data"].update(owner_id=owner, update_time=at)
    return body


def _salesforce(owner: int, at: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / "salesforce" / "cdc_update_owner_only.json").read_text())
    header = body["body"]["ChangeEventHeader"]
    millis = int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)
    header.update(commitTimestamp=millis, transactionKey=f"tx-{owner}-{millis}")
    body["body"]["OwnerId"] = f"0055g00000XyZa{owner}"  # 15 characters; the adapter adds 3
    return body


OUT_OF_ORDER = {
    # kind: (build a payload with this owner at this time, the record, rep ids for 7 and 9)
    "outreach": (_outreach, ("contact", "1001"), {7: "7", 9: "9"}),
    "salesloft": (_salesloft, ("contact", "1701"), {7: "7", 9: "9"}),
    "pipedrive": (_pipedrive, ("contact", "42"), {7: "7", 9: "9"}),
    "salesforce": (
        _salesforce,
        ("company", "0015g00000AsDfGAAV"),
        {7: id18("0055g00000XyZa7"), 9: id18("0055g00000XyZa9")},
    ),
}


@pytest.mark.parametrize("kind", sorted(OUT_OF_ORDER))
def test_an_older_owner_change_delivered_late_is_stale_for_every_vendor(
    workspace: Workspace, kind: str
) -> None:
    """Each tool's owner change at 10:00 arrives after its change at 11:00: the 11:00 owner
    stays, and the late one is recorded as ignored (stale) with its reason."""
    build, (record_type, external), reps = OUT_OF_ORDER[kind]
    users = {"map": {reps[7]: "101", reps[9]: "102"}, "unmapped": {"policy": "leave"}}
    integration = {"kind": kind, "users": users, "ownership": {"default": "integration_wins"}}
    if kind == "salesforce":
        integration["vendor"] = {"organization_id": "00D000000000001AAA"}
    workspace.apply_config(workspace_config({"tool": integration}))
    newer = build(9, "2026-11-05T11:00:00.000Z")
    older = build(7, "2026-11-05T10:00:00.000Z")
    summary = workspace.ingest("tool", [json.dumps(newer), json.dumps(older)])
    assert summary.ok and summary.accepted == 2, summary.to_dict()
    record = record_by_external(workspace, external, "tool")
    assert record["type"] == record_type
    assert record["owner_id"] == "102"
    outcomes = [(h["owner_id"], h["outcome"]) for h in record["owner_history"]]
    assert outcomes[-1] == ("102", "ignored") and ("102", "set") in outcomes
    assert "arrived out of order" in record["owner_history"][-1]["reason"]


def link_change(
    event_id: int, kind: str, from_id: int, to_id: int, primary: bool, removed: bool = False
) -> dict[str, Any]:
    """A HubSpot ``associationChange`` made by a person in the portal."""
    subject = kind.split("_TO_")[0].lower()
    return {
        "eventId": event_id,
        "subscriptionId": 9,
        "occurredAt": NOV_1 + event_id,
        "subscriptionType": f"{subject}.associationChange",
        "associationType": kind,
        "fromObjectId": from_id,
        "toObjectId": to_id,
        "associationRemoved": removed,
        "isPrimaryAssociation": primary,
        "changeSource": "CRM_UI",
        "sourceId": "userId:5",
    }


def test_a_company_moved_in_hubspot_is_the_contacts_primary_company(
    workspace: Workspace,
) -> None:
    crm_workspace(workspace)
    dialer_company = {"object": "company", "external_id": "a-1"}
    kim = json.loads(contact_line("p-1", "u-1", "2026-11-01T08:00:00Z", event_id="d1"))
    kim["associations"] = [dialer_company]
    workspace.ingest("dialer", [json.dumps(kim)])
    email = {**owner_change(501, "", NOV_1, 1), "propertyName": "email"}
    email["propertyValue"] = "p-1@globex.test"  # HubSpot's contact 501 is the dialer's p-1
    workspace.ingest("crm", [hubspot_batch(email)])

    def companies() -> dict[str, bool]:
        record = record_by_external(workspace, "p-1")
        names = {}
        for integration, external in (("dialer", "a-1"), ("crm", "601"), ("crm", "602")):
            found = workspace.find(external=f"{integration}:{external}")
            if found:
                names[found[0]["id"]] = external
        return {
            names[a["id"]]: a["primary"] for a in record["associations"] if a["type"] == "company"
        }

    assert companies() == {"a-1": True}
    # A person adds company 602 in HubSpot (HubSpot sends both sides), then makes 601 primary.
    workspace.ingest(
        "crm",
        [
            hubspot_batch(
                link_change(10, "CONTACT_TO_COMPANY", 501, 602, primary=False),
                link_change(11, "COMPANY_TO_CONTACT", 602, 501, primary=False),
            ),
            hubspot_batch(link_change(12, "CONTACT_TO_COMPANY", 501, 601, primary=True)),
        ],
    )
    assert companies() == {"a-1": False, "601": True, "602": False}
    # A link removed in HubSpot changes nothing (leadsync never ends a link).
    workspace.ingest(
        "crm", [hubspot_batch(link_change(13, "CONTACT_TO_COMPANY", 501, 602, False, True))]
    )
    assert companies() == {"a-1": False, "601": True, "602": False}
    # The dialer's next call goes to the company the contact is at now.
    call = {
        "id": "c1",
        "type": "activity",
        "occurred_at": "2026-11-02T10:00:00Z",
        "activity": "call",
        "external_id": "call-1",
        "owner": "u-1",
        "properties": {"duration_s": 300, "outcome": "connected"},
        "associations": [{"object": "contact", "external_id": "p-1"}],
    }
    workspace.ingest("dialer", [json.dumps(call)])
    (item,) = record_by_external(workspace, "p-1")["timeline"]
    [company_601] = workspace.find(external="crm:601")
    assert company_601["id"] in {a["id"] for a in item["associations"]}


def test_a_persons_change_in_the_crm_is_never_taken_for_leadsyncs_own_write_echoed(
    workspace: Workspace,
) -> None:
    """leadsync wrote 104 to a bidirectional CRM (a person's `records set-owner`); HubSpot's
    report of that write came from leadsync's app, so the adapter dropped it and the write
    stayed awaited. Later a person picked 104 in HubSpot (CRM_UI): it was read as the echo
    of that write and ignored — leadsync kept 102 while HubSpot showed 104."""
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(
                    ownership={"default": "integration_wins", "protect_manual_days": 0}
                ),
                "crm": {
                    "kind": "hubspot",
                    "secret_env": "HS_SECRET",
                    "vendor": {"app_id": "777"},
                    "ownership": {"default": "bidirectional"},
                },
            }
        )
    )
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T08:00:00Z", event_id="d1",
                                             email="kim@globex.test")])  # fmt: skip
    email = {
        "eventId": 1, "subscriptionId": 2, "occurredAt": NOV_1 - 1000,
        "subscriptionType": "contact.propertyChange", "objectId": 501,
        "propertyName": "email", "propertyValue": "kim@globex.test",
        "changeSource": "CRM_UI", "sourceId": "userId:5",
    }  # fmt: skip
    workspace.ingest("crm", [hubspot_batch(email)])
    kim = record_by_external(workspace, "p-1")["id"]
    workspace.set_owner("contact", kim, "104", at="2026-11-01T12:00:00Z")
    assert [(o["integration"], o["owner_id"]) for o in workspace.outbox()] == [("crm", "104")]
    # Its report, made by leadsync's app (dropped), then the dialer's change to 102.
    noon = 1_793_534_400_000  # 2026-11-01T12:00:00Z
    ours = owner_change(501, "104", noon + 60_000, 2, source="INTEGRATION", by="777")
    workspace.ingest("crm", [hubspot_batch(ours)])
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-01T13:00:00Z", event_id="d2",
                                             email="kim@globex.test")])  # fmt: skip
    assert record_by_external(workspace, "p-1")["owner_id"] == "102"
    # A person picks 104 in HubSpot: a person's change, whatever leadsync wrote before.
    workspace.ingest("crm", [hubspot_batch(owner_change(501, "104", noon + 2 * 3_600_000, 3))])
    record = record_by_external(workspace, "p-1")
    assert record["owner_id"] == "104", record["owner_history"][-1]["reason"]
    assert "echoed back" not in record["owner_history"][-1]["reason"]
