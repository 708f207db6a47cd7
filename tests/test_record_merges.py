"""Records a tool merged (engine/merges.py): from the merge on, the merged-away ids name the
record the tool kept — later events of either id land on one record — and nothing writes to
an id that is gone: the HubSpot push writes to the id HubSpot kept, the outbox to the
Pipedrive person that stays. Through the real engine (ingest) on SQLite and PostgreSQL, the
HubSpot push against the stand-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.engine.conflicts import event_keys
from leadsync.errors import EventError
from leadsync.rules.mapping import OwnerDirectory
from leadsync.rules.workspace import WorkspaceRules
from leadsync.sources.canonical import parse_event
from leadsync.store.schema import outbox, record_identities
from leadsync.workspace import Workspace
from tests.helpers import (
    ev,
    run,
    workspace_config,
)

PIPEDRIVE = Path(__file__).parent / "fixtures" / "webhooks" / "pipedrive"


def hubspot_merge(kept: str, merged: list[str], at_ms: int, **ids: Any) -> str:
    """A HubSpot ``contact.merge`` (a batch of one, as HubSpot sends it) as an ingest line."""
    event = {
        "eventId": at_ms % 100_000,
        "subscriptionId": 7,
        "portalId": 62515,
        "appId": 1,
        "occurredAt": at_ms,
        "subscriptionType": "contact.merge",
        "attemptNumber": 0,
        "objectId": int(kept),
        "primaryObjectId": int(kept),
        "mergedObjectIds": [int(m) for m in merged],
        "changeSource": "CRM_UI",
        "sourceId": "userId:9001",
        **ids,
    }
    return json.dumps([event])


def hubspot_change(object_id: str, name: str, value: str, at_ms: int) -> str:
    event = {
        "eventId": at_ms % 100_000 + 1,
        "subscriptionId": 8,
        "portalId": 62515,
        "occurredAt": at_ms,
        "subscriptionType": "contact.propertyChange",
        "objectId": int(object_id),
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }
    return json.dumps([event])


def ingest(ws: Workspace, integration: str, *lines: str) -> None:
    summary = ws.ingest(integration, list(lines), source="x.jsonl")
    assert summary.ok, summary


def record_of(ws: Workspace, external: str) -> int:
    [found] = ws.find(external=external)
    return int(found["id"])


def identities(ws: Workspace, record_id: int) -> dict[str, str | None]:
    """The record's ids, each with the id its tool merged it into (None: its own)."""
    return {
        f"{i['integration']}:{i['external_id']}": i.get("merged_into")
        for i in ws.record("contact", record_id)["identities"]
    }


# ------------------------------------------------------------------ HubSpot, the CRM


def test_a_hubspot_merge_makes_the_merged_contact_name_the_kept_one(workspace: Workspace) -> None:
    """Two contacts HubSpot reported separately; merged, a later change of the merged-away
    id lands on the kept contact's record. The other record leadsync held under the gone id
    is joined into it (tests/test_record_join.py): marked merged into it, no id names it."""
    workspace.apply_config(workspace_config({"crm": {"kind": "hubspot"}}))
    at = 1_790_000_000_000
    ingest(
        workspace,
        "crm",
        hubspot_change("5101", "email", "kim@globex.test", at),
        hubspot_change("5102", "firstname", "Kimberly", at + 1000),
    )
    kept, other = record_of(workspace, "crm:5101"), record_of(workspace, "crm:5102")
    assert kept != other
    ingest(workspace, "crm", hubspot_merge("5101", ["5102"], at + 2000))
    assert record_of(workspace, "crm:5102") == kept
    assert identities(workspace, kept) == {"crm:5101": None, "crm:5102": "5101"}
    ingest(workspace, "crm", hubspot_change("5102", "lastname", "Lee", at + 3000))
    record = workspace.record("contact", kept)
    assert record["properties"]["lastname"] == "Lee"
    [merged] = [i for i in record["identities"] if i["external_id"] == "5102"]
    assert merged["merged_at"] == "2026-09-21T14:13:22.000Z"
    left = workspace.record("contact", other)
    assert left["identities"] == [] and left["merged_into"] == kept
    shown = CliRunner().invoke(
        app,
        ["--db", workspace.engine.url.render_as_string(hide_password=False), "records", "show",
         "contact", str(kept)],
        env={"COLUMNS": "300"},
    )  # fmt: skip
    assert "known as: crm:5101, crm:5102 (merged into 5101 there at 2026-09-21" in shown.stdout


def test_a_merge_into_a_new_hubspot_id_names_the_record_the_merged_ids_had(
    workspace: Workspace,
) -> None:
    """HubSpot made a new record of the merge (``newObjectId``): the new id, unknown so far,
    names the record leadsync held under the primary id; the primary's and the merged ids
    are gone."""
    workspace.apply_config(workspace_config({"crm": {"kind": "hubspot"}}))
    at = 1_790_000_000_000
    ingest(workspace, "crm", hubspot_change("6201", "email", "kim@globex.test", at))
    held = record_of(workspace, "crm:6201")
    ingest(workspace, "crm", hubspot_merge("6201", ["6203"], at + 1000, newObjectId=6300))
    assert identities(workspace, held) == {
        "crm:6201": "6300",
        "crm:6203": "6300",
        "crm:6300": None,
    }
    ingest(workspace, "crm", hubspot_change("6300", "firstname", "Kim", at + 2000))
    assert workspace.record("contact", held)["properties"]["firstname"] == "Kim"


def test_the_push_writes_to_the_contact_hubspot_kept_not_to_the_one_merged_away(
    pushing: Workspace, hub: HubSpotDouble
) -> None:
    """leadsync created Kim in HubSpot; a person there merged that contact into another.
    The dialer's next owner change is written to the contact HubSpot kept — never to the id
    that is gone (whose string sorts first here, as a HubSpot id of an older contact would)."""
    contact = {"object": "contact", "external_id": "p-1"}
    run(pushing, ev("record", properties={"email": "kim@globex.test"}, owner="u-1", **contact))
    assert pushing.push().failures == 0
    [gone] = [o["id"] for o in hub.objects("contacts")]
    kept = hub.add_object("contacts", {"email": "kim.lee@globex.test", "firstname": "Kim"})
    assert gone < kept  # the gone id is the least: a "first id" reading would pick it
    # The stand-in does not merge: the contact merged away gives up its unique values (its
    # email, leadsync's id), as HubSpot's merge leaves them to the one kept.
    hub.update_object("contacts", gone, {"email": "merged.away@globex.test", "leadsync_id": ""})
    merge = hubspot_merge(kept, [gone], 1_793_000_000_000)
    ingest(pushing, "crm", merge)
    kim = record_of(pushing, "dialer:p-1")
    assert record_of(pushing, f"crm:{kept}") == kim
    assert identities(pushing, kim)[f"crm:{gone}"] == kept
    later = ev("record", "2026-11-02T09:00:00Z", owner="u-9", **contact)
    run(pushing, later)
    assert pushing.push().failures == 0
    assert hub.get_object("contacts", kept)["properties"]["hubspot_owner_id"] == "102"
    assert hub.get_object("contacts", gone)["properties"]["hubspot_owner_id"] == "101"
    assert pushing.record("contact", kim)["hubspot"]["id"] == kept


def test_a_record_hubspot_named_by_a_merged_id_is_matched_by_the_kept_one(
    pushing: Workspace, hub: HubSpotDouble
) -> None:
    """Kim came from HubSpot's webhooks (never pushed by leadsync): the push matches her by
    the id HubSpot kept after the merge, not by the one it merged away."""
    kept = hub.add_object("contacts", {"email": "kim@globex.test"})
    gone = str(int(kept) - 1)  # an older contact: its id sorts first
    ingest(pushing, "crm", hubspot_change(gone, "email", "kim@globex.test", 1_793_000_000_000))
    ingest(pushing, "crm", hubspot_merge(kept, [gone], 1_793_000_001_000))
    contact = {"object": "contact", "external_id": "p-1"}
    run(pushing, ev("record", properties={"email": "kim@globex.test"}, owner="u-9", **contact))
    assert pushing.push().failures == 0
    assert hub.get_object("contacts", kept)["properties"]["hubspot_owner_id"] == "102"
    assert [o["id"] for o in hub.objects("contacts")] == [kept]


# ------------------------------------------------------------------ Pipedrive, bidirectional


def _v1_merged() -> dict[str, Any]:
    body: dict[str, Any] = json.loads((PIPEDRIVE / "v1.merged.person.json").read_text())["body"]
    return body


def _v1_person(person_id: int, name: str, at: int) -> dict[str, Any]:
    """The merged fixture's person as a v1 ``added.person`` of ``person_id`` at ``at``."""
    body = _v1_merged()
    body["event"], body["previous"] = "added.person", None
    body["meta"].update(action="added", id=person_id, timestamp=at, timestamp_micro=at * 10**6)
    body["current"].update(id=person_id, name=name, email=[], phone=[])
    body["current"].pop("merge_what_id", None)
    return body


def test_a_pipedrive_merge_names_the_kept_person_and_the_outbox_skips_the_gone_one(
    workspace: Workspace,
) -> None:
    """Persons 42 and 43 in Pipedrive (webhooks v1), then 43 merged into 42: a later event
    of 43 lands on 42's record, and an owner change there is sent to person 42 alone."""
    leave = {"unmapped": {"policy": "leave"}}
    pipedrive = {"kind": "pipedrive", "users": {**leave, "map": {"9": "101", "7": "102"}}}
    pipedrive["ownership"] = {"default": "bidirectional"}
    workspace.apply_config(workspace_config({"pd": pipedrive, "crm": {"kind": "hubspot"}}))
    t0 = 1_793_700_000
    ingest(
        workspace,
        "pd",
        json.dumps(_v1_person(42, "Bo Park", t0)),
        json.dumps(_v1_person(43, "Bo P.", t0 + 10)),
    )
    kept, other = record_of(workspace, "pd:42"), record_of(workspace, "pd:43")
    assert kept != other
    ingest(workspace, "pd", json.dumps(_v1_merged()))
    assert identities(workspace, kept) == {"pd:42": None, "pd:43": "42"}
    late = _v1_person(43, "Bo Park-Lee", t0 + 7200)
    late["event"] = "updated.person"
    late["meta"]["action"] = "updated"
    ingest(workspace, "pd", json.dumps(late))
    assert workspace.record("contact", kept)["properties"]["name"] == "Bo Park-Lee"
    assert workspace.record("contact", other)["properties"]["name"] == "Bo P."
    workspace.set_owner("contact", kept, "104")
    with workspace.engine.connect() as c:
        sent = c.execute(sa.select(outbox.c.integration, outbox.c.external_id)).all()
    assert [tuple(row) for row in sent] == [("pd", "42")]


# ------------------------------------------------------------------ the canonical field


def test_merged_is_read_on_record_events_only() -> None:
    base = {"id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "object": "contact"}
    event = parse_event({**base, "type": "record", "external_id": "5", "merged": [6, "4"]}, "x")
    assert event.merged == ("4", "6")
    refusals = [
        ({**base, "type": "owner", "external_id": "5", "owner": None, "merged": ["6"]}, "owner"),
        ({**base, "type": "record", "properties": {"email": "k@g.test"}, "merged": ["6"]}, "id"),
        ({**base, "type": "record", "external_id": "5", "merged": ["5"]}, "twice"),
        ({**base, "type": "record", "external_id": "5", "merged": "6"}, "list"),
    ]
    for data, word in refusals:
        with pytest.raises(EventError) as caught:
            parse_event(data, "x")
        assert caught.value.detail.startswith('field "merged'), caught.value.detail
        assert word in caught.value.detail


def test_a_merge_event_s_keys_name_every_id_so_parallel_workers_keep_one_record_in_order() -> None:
    """The router joins an event with every event naming any of its ids (engine/conflicts)."""
    rules = WorkspaceRules(directory=OwnerDirectory.build({}, {}), integrations={})
    data = {"id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record"}
    event = parse_event({**data, "object": "contact", "external_id": "1", "merged": ["2"]}, "crm")
    keys = event_keys(event, rules)
    assert ("i", "crm", "contact", "1") in keys and ("i", "crm", "contact", "2") in keys


def test_a_merged_identity_is_written_once_whatever_the_redeliveries(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config({"crm": {"kind": "hubspot"}}))
    merge = hubspot_merge("7101", ["7102"], 1_790_000_000_000)
    ingest(workspace, "crm", merge)
    again = workspace.ingest("crm", [merge], source="x.jsonl")
    assert again.duplicates == 1
    with workspace.engine.connect() as c:
        rows = c.execute(
            sa.select(record_identities.c.external_id, record_identities.c.merged_into)
        ).all()
    assert sorted(tuple(r) for r in rows) == [("7101", None), ("7102", "7101")]
