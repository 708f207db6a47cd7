"""Preview, replay and the health report through the admin API (a live server)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from leadsync.workspace import Workspace
from tests.helpers import KIM_CONTACT, settings
from tests.live import LiveServer, configure, serve

KIM = KIM_CONTACT


@pytest.fixture
def server(db_url: str) -> Iterator[LiveServer]:
    with Workspace(db_url) as ws:
        configure(ws)
        ws.ingest("dialer", [json.dumps(KIM)])
        with serve(ws) as live:
            yield live


def test_preview_replay_and_report(server: LiveServer) -> None:
    later = {**KIM, "id": "e2", "occurred_at": "2026-11-02T09:00:00Z", "owner": "u-9"}
    wins = settings(secret_env="DIALER_SECRET", ownership={"default": "integration_wins"})
    shown = server.client.post(
        "/api/preview", json={"integration": "dialer", "events": [later], "settings": wins}
    )
    assert shown.status_code == 200, shown.text
    [event] = shown.json()["events"]
    assert [(d["outcome"], d["owner_id"]) for d in event["owner_decisions"]] == [("set", "102")]
    same = server.client.post(
        "/api/replay",
        json={"integration": "dialer", "settings": settings(secret_env="DIALER_SECRET")},
    )
    assert same.status_code == 200 and same.json()["changed"] is False
    bad = server.client.post(
        "/api/replay",
        json={
            "integration": "dialer",
            "settings": {"kind": "generic", "ownership": {"default": "x"}},
        },
    )
    assert bad.status_code == 422
    assert any("integrations.dialer.ownership.default" in p for p in bad.json()["problems"])
    report = server.client.get("/api/report", params={"since": "3650d"})
    assert report.status_code == 200
    checks = {f["check"] for f in report.json()["findings"]}
    assert {"owner_flapping", "unowned_new_leads", "inbox_lag"} <= checks
    assert server.client.get("/api/report", params={"since": "soon"}).status_code == 400
    assert (
        server.client.get("/api/report", params={"since": "2026-13-45T00:00Z"}).status_code == 400
    )
