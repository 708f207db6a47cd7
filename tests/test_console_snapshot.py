"""The health snapshot the integrations and health pages read, and saved settings taking
effect at once in the service's process.

The service takes the 7-day report in a thread (:mod:`leadsync.ops.snapshot`), so those
pages never compute it: before the first snapshot they are a placeholder that polls, after
it they say when it was taken, and an admin's "Refresh now" asks for another. A save through
the service (admin API, console) reaches the worker and the intake before their next batch
or request: their own re-read is made an hour long here, so only the save can explain the
new decision. Both databases.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadsync.model import add_days
from leadsync.ops.snapshot import HealthSnapshot, SnapshotKeeper
from leadsync.settings import integration_to_dict
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, VIEWER_TOKEN, console_server, form_token, signed_in
from tests.helpers import owner_of, settings, workspace_config
from tests.live import ADMIN_TOKEN, DIALER_SECRET, HUBSPOT_SECRET, LiveServer, compact, wait_applied

NOW = "2031-03-10T12:00:00.000Z"
API = {"authorization": f"Bearer {ADMIN_TOKEN}"}
HTMX = {"hx-request": "true"}


def contact(event_id: str, external_id: str, rep: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "type": "record",
        "object": "contact",
        "external_id": external_id,
        "properties": {"email": f"{external_id}@globex.test"},
        "owner": rep,
    }


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    leave = {"unmapped": {"policy": "leave"}}
    workspace.apply_config(
        workspace_config({"dialer": settings(secret_env="DIALER_SECRET", users=leave)})
    )
    with console_server(workspace) as server:
        yield server


def test_the_snapshot_is_the_report_of_leadsync_report(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config())
    snapshot = workspace.health_snapshot(NOW)
    assert snapshot.taken_at == NOW
    assert snapshot.report == workspace.report(add_days(NOW, -7), NOW)
    assert snapshot.days[0] == "2031-03-03" and snapshot.days[-1] == "2031-03-10"
    board = workspace.dashboard(NOW, snapshot)
    assert board.charts == snapshot.charts and board.until == NOW


def test_a_failed_snapshot_keeps_the_previous_one(workspace: Workspace) -> None:
    workspace.apply_config(workspace_config())
    taken: list[HealthSnapshot] = [workspace.health_snapshot(NOW)]

    def take() -> HealthSnapshot:
        if not taken:
            raise RuntimeError("database gone")
        return taken.pop()

    keeper = SnapshotKeeper(take, interval_s=3600)
    assert keeper.current is None
    first = keeper.refresh()
    with pytest.raises(RuntimeError):
        keeper.refresh()
    assert keeper.current is first and not keeper.refreshing
    with pytest.raises(ValueError, match="interval_s must be positive"):
        SnapshotKeeper(take, interval_s=0)


def test_pages_wait_for_the_first_snapshot_then_show_it_and_refresh_on_request(
    workspace: Workspace, live: LiveServer
) -> None:
    keeper = SnapshotKeeper(workspace.health_snapshot, interval_s=3600)  # never started
    live.app.state.console.snapshots = keeper
    client = signed_in(live.client, PASSWORD)

    for path, heading in (("/", "Integrations"), ("/health", "Health")):
        pending = client.get(path)
        assert pending.status_code == 200
        assert f"<h1>{heading}</h1>" in pending.text
        assert "Computing the health report" in pending.text
        assert 'hx-get="/health/snapshot?shown=&amp;back=' in pending.text
        assert "Refresh now" not in pending.text
    poll = client.get("/health/snapshot", params={"shown": ""}, headers=HTMX)
    assert "HX-Refresh" not in poll.headers and 'hx-trigger="load delay:1s"' in poll.text

    first = keeper.refresh()
    ready = client.get("/health/snapshot", params={"shown": ""}, headers=HTMX)
    assert ready.headers["HX-Refresh"] == "true"
    page = client.get("/")
    assert 'tr data-integration="dialer"' in page.text
    assert f'<time datetime="{first.taken_at}">{first.taken_at[11:19]}</time>' in page.text
    assert "Computing the health report" not in page.text
    token = form_token(page.text, "/health/refresh")
    assert "Refresh now" in client.get("/health").text

    assert client.post("/health/refresh", data={"next": "/health"}).status_code == 403
    asked = client.post("/health/refresh", data={"csrf_token": token, "next": "/health"})
    assert asked.status_code == 303 and asked.headers["location"] == "/health"
    assert keeper.refreshing and keeper.current is first
    assert "Computing the health report" in client.get("/health").text
    shown = {"shown": first.taken_at}
    still = client.get("/health/snapshot", params=shown, headers=HTMX)
    assert "HX-Refresh" not in still.headers and "hx-get" in still.text
    second = keeper.refresh()
    assert second.taken_at != first.taken_at  # taken later (millisecond times)
    newer = client.get("/health/snapshot", params=shown, headers=HTMX)
    assert newer.headers["HX-Refresh"] == "true"


def test_a_viewer_sees_when_but_cannot_refresh(live: LiveServer) -> None:
    admin_page = signed_in(live.client, PASSWORD)
    live.app.state.snapshots.refresh()
    token = form_token(admin_page.get("/").text, "/health/refresh")
    live.client.cookies.clear()
    viewer = signed_in(live.client, VIEWER_TOKEN)
    page = viewer.get("/health")
    assert "Health as of" in page.text and "Refresh now" not in page.text
    refused = viewer.post("/health/refresh", data={"csrf_token": token}, headers=HTMX)
    assert refused.status_code == 403


def test_a_save_decides_the_next_webhook_at_once(workspace: Workspace, live: LiveServer) -> None:
    worker, intake = live.app.state.worker, live.app.state.intake
    worker.rules.ttl_s = intake.integrations.ttl_s = 3600.0  # only the save makes them re-read

    def post(event: dict[str, Any], secret: str = DIALER_SECRET) -> int:
        return live.post_generic("dialer", compact(event), secret=secret).status_code

    assert post(contact("c1", "p-1", "u-7")) == 200
    wait_applied(workspace)
    assert owner_of(workspace, "p-1") is None  # u-7 is unmapped; the policy leaves it

    data = integration_to_dict(workspace.integration("dialer"))
    data["users"]["map"] = {"u-7": "104"}
    assert live.client.put("/api/integrations/dialer/settings", json=data, headers=API).is_success
    assert post(contact("c2", "p-2", "u-7")) == 200
    wait_applied(workspace)
    assert owner_of(workspace, "p-2") == "104"
    [found] = workspace.find(external="dialer:p-2")
    history = workspace.record("contact", found["id"])["owner_history"]
    assert "u-7" in json.dumps(history)

    data["secret_env"] = "HUBSPOT_SECRET"  # the intake verifies with the new secret at once
    assert live.client.put("/api/integrations/dialer/settings", json=data, headers=API).is_success
    assert post(contact("c3", "p-3", "u-7")) == 401
    assert post(contact("c4", "p-4", "u-7"), secret=HUBSPOT_SECRET) == 200
