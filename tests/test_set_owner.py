"""`records set-owner`: a person's owner change goes through the engine's own path for a
manual change (the decision, the protection window, updated_at, outbox and push queue), so
it leaves a record exactly as the CRM's webhook reporting the same change does (SQLite and
PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.model import CRM_SOURCE
from leadsync.store.schema import push_queue, records
from leadsync.workspace import Workspace
from tests.helpers import contact_line, owner_of, record_by_external, settings, workspace_config

NOV_3 = 1_793_696_400_000  # 2026-11-03T09:00:00Z in ms


def _row(ws: Workspace, record_id: int) -> dict[str, Any]:
    with ws.engine.connect() as connection:
        row = connection.execute(sa.select(records).where(records.c.id == record_id)).one()
    return dict(row._mapping)


def _person_changes_owner_in_hubspot(object_id: int, owner: str, at_ms: int) -> str:
    """HubSpot's webhook for a person's owner change (changeSource CRM_UI)."""
    change = {
        "eventId": 9,
        "subscriptionId": 1,
        "occurredAt": at_ms,
        "subscriptionType": "contact.propertyChange",
        "objectId": object_id,
        "propertyName": "hubspot_owner_id",
        "propertyValue": owner,
        "changeSource": "CRM_UI",
        "sourceId": "userId:5",
        "portalId": 62515,
        "appId": 1,
        "attemptNumber": 0,
    }
    return json.dumps([change])


def _workspace(ws: Workspace) -> None:
    ws.apply_config(
        workspace_config(
            {
                "dialer": settings(ownership={"default": "integration_wins"}),
                "crm": {"kind": "hubspot", "secret_env": "HS_SECRET", "vendor": {"app_id": "777"}},
            }
        )
    )


def test_set_owner_moves_updated_at(workspace: Workspace) -> None:
    _workspace(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z")])
    kim = record_by_external(workspace, "p-1")
    workspace.set_owner("contact", kim["id"], "104", at="2026-11-03T09:00:00.000Z")
    row = _row(workspace, kim["id"])
    assert row["owner_id"] == "104" and row["updated_at"] == "2026-11-03T09:00:00.000Z"
    assert (
        row["manual_owner_at"] == "2026-11-03T09:00:00.000Z" and row["owner_source"] == CRM_SOURCE
    )


def test_the_decision_has_one_json_form(workspace: Workspace) -> None:
    """What `records set-owner --json` prints: the record, when, both owners, the outcome and
    its reason; serialized by the result model, not by the face."""
    _workspace(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z")])
    kim = record_by_external(workspace, "p-1")
    cleared = workspace.set_owner("contact", kim["id"], None, at="2026-11-03T09:00:00.000Z")
    assert cleared.model_dump(mode="json") == {
        "record_id": kim["id"],
        "type": "contact",
        "at": "2026-11-03T09:00:00.000Z",
        "previous_owner_id": "101",
        "owner_id": None,
        "outcome": "set",
        "reason": cleared.reason,
    }
    assert "a person changed the owner in the CRM (was 101)" in cleared.reason


def test_set_owner_leaves_a_record_as_the_crms_manual_change_does(workspace: Workspace) -> None:
    _workspace(workspace)
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z"),
            contact_line("p-2", "u-1", "2026-11-01T09:00:00Z"),
        ],
    )
    one = record_by_external(workspace, "p-1")["id"]
    two = record_by_external(workspace, "p-2")["id"]
    # HubSpot knows p-2 as object 502 (its email names the same contact).
    email = {
        "eventId": 1,
        "subscriptionId": 2,
        "occurredAt": NOV_3 - 86_400_000,
        "subscriptionType": "contact.propertyChange",
        "objectId": 502,
        "propertyName": "email",
        "propertyValue": "p-2@globex.test",
        "changeSource": "CRM_UI",
        "sourceId": "userId:5",
        "portalId": 62515,
        "appId": 1,
        "attemptNumber": 0,
    }
    workspace.ingest("crm", [json.dumps([email])])
    assert record_by_external(workspace, "502", "crm")["id"] == two
    workspace.set_owner("contact", one, "104", at="2026-11-03T09:00:00.000Z")
    workspace.ingest("crm", [_person_changes_owner_in_hubspot(502, "104", NOV_3)])
    fields = ("owner_id", "updated_at", "owner_changed_at", "owner_source", "manual_owner_at")
    by_set_owner, by_crm = _row(workspace, one), _row(workspace, two)
    assert {f: by_set_owner[f] for f in fields} == {f: by_crm[f] for f in fields}


def test_a_change_older_than_the_last_owner_change_is_stale(workspace: Workspace) -> None:
    _workspace(workspace)
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z"),
            contact_line("p-1", "u-9", "2026-11-05T09:00:00Z"),
        ],
    )
    kim = record_by_external(workspace, "p-1")
    decision = workspace.set_owner("contact", kim["id"], "104", at="2026-11-03T09:00:00.000Z")
    assert decision.outcome.value == "ignored" and "stale" in decision.reason
    assert owner_of(workspace, "p-1") == "102"
    last = record_by_external(workspace, "p-1")["owner_history"][-1]
    assert (last["strategy"], last["integration"], last["outcome"]) == ("manual", None, "ignored")


def test_set_owner_queues_the_push_and_the_outbox(workspace: Workspace) -> None:
    bi = {"default": "bidirectional", "protect_manual_days": 0}
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(ownership=bi),
                "seq": settings(ownership={"default": "fill_if_empty"}),
            }
        )
    )
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z")])
    kim = record_by_external(workspace, "p-1")
    workspace.set_owner("contact", kim["id"], "104", at="2026-11-03T09:00:00.000Z")
    assert [(r["integration"], r["owner_id"], r["source"]) for r in workspace.outbox()] == [
        ("dialer", "104", CRM_SOURCE)
    ]
    with workspace.engine.connect() as connection:
        queued = connection.execute(sa.select(push_queue)).all()
    assert queued == []  # no destination: nothing to push


def test_a_person_choosing_the_owner_the_record_has_is_protected_as_their_choice(
    workspace: Workspace,
) -> None:
    """`records set-owner` to the owner the record has already is a person's choice all the
    same: protect_manual_days counts from it (the dialer's rep does not replace it)."""
    _workspace(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z")])
    kim = record_by_external(workspace, "p-1")
    confirmed = workspace.set_owner("contact", kim["id"], "101", at="2026-11-03T09:00:00.000Z")
    assert (confirmed.outcome.value, confirmed.owner_id) == ("kept", "101")
    assert "counts as their choice from now" in confirmed.reason
    assert workspace.outbox() == []  # nothing changed: nothing to send
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-04T09:00:00Z")])
    assert owner_of(workspace, "p-1") == "101"
    last = record_by_external(workspace, "p-1")["owner_history"][-1]
    assert last["outcome"] == "kept"
    assert last["reason"].startswith(
        "kept 101: a person set the owner in the CRM at 2026-11-03T09:00:00Z, protected for "
        "14 days until 2026-11-17T09:00:00Z"
    )


@pytest.mark.parametrize("taken_over", ["set-owner", "undo"])
def test_the_integrations_next_events_after_its_owner_won_over_a_newer_change_are_not_stale(
    workspace: Workspace, taken_over: str
) -> None:
    """integration_wins takes its owner over a person's change (or an undo) made after its
    events: its own later events still apply in their order, and only an older one of its
    own is stale — against the time it gave the owner, not the person's (a QA pass found
    4 of 5 in-order events ignored as "arrived out of order")."""
    ownership = {"default": "integration_wins", "protect_manual_days": 0}
    workspace.apply_config(workspace_config({"dialer": settings(ownership=ownership)}))
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T10:00:00Z"),
            contact_line("p-1", "u-9", "2026-11-01T11:00:00Z", event_id="b"),
        ],
    )
    kim = record_by_external(workspace, "p-1")["id"]
    if taken_over == "set-owner":
        workspace.set_owner("contact", kim, "104", at="2026-11-03T09:00:00.000Z")
    else:
        workspace.undo(event_id="b", at="2026-11-03T09:00:00.000Z")
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-01T12:00:00Z")])
    assert owner_of(workspace, "p-1") == "102"
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T13:00:00Z")])
    assert owner_of(workspace, "p-1") == "101"
    workspace.ingest("dialer", [contact_line("p-1", "u-9", "2026-11-01T12:30:00Z")])
    assert owner_of(workspace, "p-1") == "101"
    [last] = workspace.decisions(limit=1)
    assert last["reason"] == (
        "ignored: stale: the event happened at 2026-11-01T12:30:00Z, before the owner dialer "
        "gave at 2026-11-01T13:00:00Z (it arrived out of order); the owner stays 101"
    )
