"""The admin API's push (status, failures listed, counted, read, retried, dismissed) and
test lead (run, cleanup): what the CLI and the console do, over real HTTP. They had no API
counterpart (found by a probe): an engineer supporting RevOps could not see or retry a
refused push without a shell on the machine."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.web import ConsoleOptions
from leadsync.workspace import Workspace
from tests.helpers import ev, record_by_external, run, workspace_config
from tests.live import serve
from tests.test_push_clears import ws

__all__ = ["ws"]  # the fixture: a workspace pushing to the stand-in, set up
PROBLEM = "application/problem+json"


@pytest.fixture
def api(ws: Workspace) -> Iterator[httpx.Client]:
    with serve(ws, worker=False, push=False) as live:
        yield live.client


def _refused_contact(ws: Workspace, hub: HubSpotDouble) -> None:
    """A contact whose owner the portal does not have: its create is refused."""
    hub.remove_owner("104")
    run(
        ws,
        ev(
            "record",
            "2026-11-01T09:00:00Z",
            object="contact",
            external_id="p-1",
            properties={"email": "kim@globex.test"},
        ),
    )
    ws.set_owner("contact", record_by_external(ws, "p-1")["id"], "104")
    assert ws.push().refused == 1


def test_push_failures_are_listed_read_retried_and_dismissed(
    ws: Workspace, hub: HubSpotDouble, api: httpx.Client
) -> None:
    status = api.get("/api/push/status")
    assert status.status_code == 200, status.text
    assert status.json() == ws.push_status() | {"lease": status.json()["lease"]}
    _refused_contact(ws, hub)
    [failure] = api.get("/api/push-failures").json()
    assert failure == ws.push_failures()[0] | {"records": None}
    assert failure["state"] == "open" and "INVALID_OWNER_ID" in failure["message"]
    assert api.get("/api/push-failures/count").json() == {"count": 1}
    assert api.get(f"/api/push-failures/{failure['id']}").json() == failure
    missing = api.get("/api/push-failures/99")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert "no push failure with id 99" in missing.json()["detail"]
    retry = f"/api/push-failures/{failure['id']}/retry"
    assert api.post(retry, json={"dry_run": True}).status_code == 400  # no body taken
    assert api.post(retry).json() == {"count": 1}
    assert api.get("/api/push-failures").json() == []
    [retried] = api.get("/api/push-failures", params={"include_resolved": True}).json()
    assert (retried["state"], retried["resolved_by"]) == ("retried", "admin API (admin token)")
    again = api.post(retry)
    assert again.status_code == 404 and "no open push failure" in again.json()["detail"]
    # Queued again and refused again (the owner is still not the portal's): dismissed.
    assert ws.push().refused == 1
    [second] = api.get("/api/push-failures").json()
    dismiss = f"/api/push-failures/{second['id']}/dismiss"
    blank = api.post(dismiss, json={"reason": "  "})
    assert blank.status_code == 400 and "body.reason" in blank.json()["detail"]
    done = api.post(dismiss, json={"reason": "Di left the company"})
    assert done.json() == {"count": 1}
    closed = api.get(f"/api/push-failures/{second['id']}").json()
    assert (closed["state"], closed["dismissed_reason"]) == ("dismissed", "Di left the company")
    assert api.get("/api/push-failures/count").json() == {"count": 0}
    assert api.post("/api/push/retry-failures").json() == {"count": 0}


def test_every_open_push_failure_is_retried_at_once(
    ws: Workspace, hub: HubSpotDouble, api: httpx.Client
) -> None:
    _refused_contact(ws, hub)
    hub.add_owner("di@acme.test", "Di", "Ro", owner_id="104")  # the portal has Di again
    assert api.post("/api/push/retry-failures").json() == {"count": 1}
    result = ws.push()
    assert (result.refused, result.failures) == (0, 0)
    [contact] = hub.objects("contacts")
    assert contact["properties"]["hubspot_owner_id"] == "104"


def test_push_status_without_a_destination_says_so(db_url: str) -> None:
    with Workspace(db_url) as plain:
        plain.apply_config(workspace_config())
        with serve(plain, worker=False) as live:
            answer = live.client.get("/api/push/status")
    assert answer.status_code == 409 and answer.headers["content-type"] == PROBLEM
    assert "destination" in answer.json()["detail"]


def test_a_test_lead_runs_and_is_cleaned_up_through_the_api(
    ws: Workspace, api: httpx.Client
) -> None:
    ran = api.post("/api/integrations/dialer/test-lead", json={"rep": "u-1"})
    assert ran.status_code == 200, ran.text
    body = ran.json()
    assert body["passed"] is True and body["record_id"] is not None
    assert {c["check"] for c in body["checks"]} >= {"owner", "call"}
    assert all(c["passed"] for c in body["checks"])
    refused = api.post("/api/integrations/nope/test-lead", json={"rep": "u-1"})
    assert refused.status_code == 404 and "unknown integration 'nope'" in refused.json()["detail"]
    empty = api.post("/api/integrations/dialer/test-lead", json={"rep": ""})
    assert empty.status_code == 400
    assert api.post("/api/test-leads/cleanup", params={"integration": "nope"}).status_code == 404
    cleaned = api.post("/api/test-leads/cleanup", params={"integration": "dialer"})
    assert cleaned.status_code == 200, cleaned.text
    assert cleaned.json() == {"records": 1, "activities": 1, "archived": 2}  # both pushed
    assert api.post("/api/test-leads/cleanup").json() == {
        "records": 0,
        "activities": 0,
        "archived": 0,
    }


def test_the_viewer_token_reads_push_failures_and_changes_none(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    _refused_contact(ws, hub)
    options = ConsoleOptions(viewer_token="viewer-token-0123")
    with serve(ws, worker=False, push=False, console=options) as live:
        headers = {"authorization": "Bearer viewer-token-0123"}
        with httpx.Client(base_url=live.base_url, headers=headers) as viewer:
            assert viewer.get("/api/push-failures/count").json() == {"count": 1}
            assert viewer.post("/api/push/retry-failures").status_code == 403
            assert (
                viewer.post("/api/integrations/dialer/test-lead", json={"rep": "u-1"}).status_code
                == 403
            )
    assert len(ws.push_failures()) == 1
