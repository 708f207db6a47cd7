"""The published merge samples through a live server, when leadsync held both records before
the merge (engine/record_joins.py): HubSpot's ``*.merge`` and Pipedrive's v1
``merged.organization`` join the record of the id merged away into the kept one."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.helpers import workspace_config
from tests.live import LiveServer, serve, vendor_headers, wait_applied
from tests.test_source_published_live_crm import (
    ENVIRON,
    PUBLISHED,
    SECRETS,
    dead_letters,
    integrations,
    record,
    send,
)

NAMES = {"contact": "firstname", "company": "name", "deal": "dealname", "ticket": "subject"}
OTHER = {"contact": "lastname", "company": "domain", "deal": "dealstage", "ticket": "subject"}
#: The property each is kept as (docs/WEBHOOKS.md: deal ``dealname`` -> name, ``dealstage``
#: -> stage).
KEPT_AS = {"dealname": "name", "dealstage": "stage"}


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    workspace.apply_config(workspace_config(integrations()))
    with serve(workspace, environ=ENVIRON) as server:
        yield server


def _hubspot_change(server: LiveServer, sample: dict[str, Any], **change: Any) -> None:
    event = {**sample, **change}
    event.pop("mergedObjectIds", None)
    event.pop("changeFlag", None)
    body = json.dumps([event]).encode()
    headers = vendor_headers("hubspot", body, server.webhook_uri("hubspot"), SECRETS["hubspot"])
    assert server.client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200


@pytest.mark.parametrize("kind", ["contact", "company", "deal", "ticket"])
def test_a_hubspot_merge_sample_joins_the_two_records_leadsync_held(
    workspace: Workspace,
    live: LiveServer,
    kind: str,
) -> None:
    """Both records came in before the merge (a change each, HubSpot's webhooks); the merge
    sample joins the gone id's record into the kept one: one record, the kept one's values
    first, the gone one's filling what it lacked; the other marked merged into it."""
    sample = json.loads((PUBLISHED / "hubspot" / f"{kind}.merge.sim.json").read_text())[0]
    kept, [gone] = str(sample["objectId"]), [str(i) for i in sample["mergedObjectIds"]]
    at = sample["occurredAt"] - 60_000
    change = {"subscriptionType": f"{kind}.propertyChange", "occurredAt": at}
    other = "globex.test" if kind == "company" else "closedwon" if kind == "deal" else "Lee"
    _hubspot_change(live, sample, eventId=1, objectId=int(kept), propertyName=NAMES[kind],
                    propertyValue="Kept", **change)  # fmt: skip
    if kind != "ticket":  # (a ticket keeps one such property: the name is the kept one's)
        _hubspot_change(live, sample, eventId=2, objectId=int(gone), propertyName=OTHER[kind],
                        propertyValue=other, **change)  # fmt: skip
    _hubspot_change(live, sample, eventId=3, objectId=int(gone), propertyName=NAMES[kind],
                    propertyValue="Gone", **change)  # fmt: skip
    wait_applied(workspace)
    before = record(workspace, f"hubspot:{gone}")["id"]
    assert before != record(workspace, f"hubspot:{kept}")["id"]
    send(workspace, live, f"hubspot/{kind}.merge.sim.json")
    assert dead_letters(workspace) == []
    joined = record(workspace, f"hubspot:{kept}")
    assert joined == record(workspace, f"hubspot:{gone}")
    name, filled = KEPT_AS.get(NAMES[kind], NAMES[kind]), KEPT_AS.get(OTHER[kind], OTHER[kind])
    assert joined["properties"][name] == "Kept"  # the kept record's value wins
    if kind != "ticket":
        assert joined["properties"][filled] == other  # the gone one's fills the gap
    assert joined["joined"] == [{"id": before, "merged_at": "2025-11-09T03:33:33.730Z"}]
    absorbed = workspace.record(kind, before)  # type: ignore[arg-type]
    assert absorbed["merged_into"] == joined["id"] and absorbed["identities"] == []


def _v1_organization(number: int, name: str, owner: int, at: int, **more: Any) -> bytes:
    """The merged sample's organization as a v1 ``added.organization`` of its own."""
    sample = PUBLISHED / "pipedrive" / "v1.merged.organization.django_pipedrive.json"
    body = copy.deepcopy(json.loads(sample.read_text()))
    body["event"], body["previous"] = "added.organization", None
    body["meta"].update(action="added", id=number, timestamp=at, timestamp_milli=at * 1000)
    body["current"].update(id=number, name=name, owner_id=owner, **more)
    body["current"].pop("merge_what_id", None)
    return json.dumps(body).encode()


def test_a_pipedrive_merge_sample_joins_the_two_organizations_leadsync_held(
    workspace: Workspace,
    live: LiveServer,
) -> None:
    """Organizations 995 and 996 came in before (``added.organization``); the published
    ``merged.organization`` (995 into 996) makes them one company: 996's name, 995's web
    domain filling what 996 lacked."""
    for body in (
        _v1_organization(
            995, "TEST_ORGANIZATION_2", 222, 1492654000, website="https://globex.test"
        ),
        _v1_organization(996, "TEST_ORGANIZATION_1", 111, 1492654100),
    ):
        headers = vendor_headers(
            "pipedrive", body, live.webhook_uri("pipedrive"), SECRETS["pipedrive"]
        )
        response = live.client.post("/webhooks/pipedrive", content=body, headers=headers)
        assert response.status_code == 200, response.text
    wait_applied(workspace)
    gone = record(workspace, "pipedrive:995")["id"]
    assert gone != record(workspace, "pipedrive:996")["id"]
    send(workspace, live, "pipedrive/v1.merged.organization.django_pipedrive.json")
    assert dead_letters(workspace) == []
    company = record(workspace, "pipedrive:995")
    assert company == record(workspace, "pipedrive:996")
    assert (company["name"], company["domain"]) == ("TEST_ORGANIZATION_1", "globex.test")
    assert [c["id"] for c in workspace.find(domain="globex.test")] == [company["id"]]
    assert workspace.record("company", gone)["merged_into"] == company["id"]  # type: ignore[arg-type]


def _v2_person(action: str, number: int, at: str, **meta: Any) -> bytes:
    """The migration guide's person change, as another v2 event of person ``number``."""
    sample = PUBLISHED / "pipedrive" / "change.person.migration_guide.json"
    body = copy.deepcopy(json.loads(sample.read_text()))
    body["meta"].update(action=action, entity_id=str(number), id=f"ev-{number}-{at}", **meta)
    body["meta"]["timestamp"] = at
    if action == "delete":
        body["previous"], body["data"] = {**body["data"], "id": number}, None
    else:
        body["data"].update(id=number, emails=[{"value": f"p{number}@globex.test"}])
        body["previous"] = None if action == "create" else body["previous"]
    return json.dumps(body).encode()


def test_a_pipedrive_v2_merge_joins_the_two_persons_leadsync_held(
    workspace: Workspace,
    live: LiveServer,
) -> None:
    """Webhooks v2 sends a merge as a delete of the merged-away person (``merged_to_id``) and a
    change of the kept one naming it (``merged_from_id``, Pipedrive's "Guide for Webhooks
    v2"): the two records leadsync held are one from then on, in either order."""
    for body in (
        _v2_person("create", 7, "2022-11-24T13:00:00.000Z"),
        _v2_person("create", 8, "2022-11-24T13:18:55.000Z"),
        _v2_person("delete", 7, "2022-11-24T15:18:35.616Z", merged_to_id="8"),
        _v2_person("change", 8, "2022-11-24T15:18:35.617Z", merged_from_id="7"),
    ):
        headers = vendor_headers(
            "pipedrive", body, live.webhook_uri("pipedrive"), SECRETS["pipedrive"]
        )
        response = live.client.post("/webhooks/pipedrive", content=body, headers=headers)
        assert response.status_code == 200, response.text
    wait_applied(workspace)
    assert dead_letters(workspace) == []
    person = record(workspace, "pipedrive:7")
    assert person == record(workspace, "pipedrive:8")
    assert [c["id"] for c in workspace.find(email="p7@globex.test")] == [person["id"]]
