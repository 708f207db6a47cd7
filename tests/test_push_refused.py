"""A token HubSpot refuses (revoked, rotated on one side) stops every push: it was said only
in the pushing process's log, and `push status`, the report and the metrics showed nothing
until the queue's lag alerted. The refusal is kept in the shared budget row until an answer
HubSpot accepts clears it. Through the stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.errors import UserError
from leadsync.observability import Metrics
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN, ev, run
from tests.test_push_clears import ws

__all__ = ["ws"]  # the fixture: a workspace pushing to the stand-in, set up


def _gauge(ws: Workspace) -> list[str]:
    text = generate_latest(Metrics(ws.engine).registry).decode()
    return [line for line in text.splitlines() if line.startswith("leadsync_hubspot_refused{")]


def test_a_refused_token_is_said_by_status_report_and_metrics_until_it_is_fixed(
    ws: Workspace, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(ws, ev("record", "2026-11-01T09:00:00Z", object="contact", external_id="p-1",
               owner="u-1", properties={"email": "kim@globex.test"}))  # fmt: skip
    assert ws.push_status()["refused"] is None
    monkeypatch.setenv("HS_TEST_TOKEN", "pat-na1-00000000-0000-0000-0000-000000000000")
    with pytest.raises(UserError, match=r"HubSpot refused the token in HS_TEST_TOKEN \(401\)"):
        ws.push()
    status = ws.push_status()
    assert status["queued_total"] >= 1  # nothing lost: it waits
    refused = status["refused"]
    assert refused is not None and refused["at"].endswith("Z")
    assert refused["message"].startswith("HubSpot refused the token in HS_TEST_TOKEN (401)")
    findings = {f.check: f for f in ws.report("2026-11-01T00:00:00.000Z").findings}
    assert findings["push_refused"].alert
    assert "HubSpot refused the token in HS_TEST_TOKEN (401)" in findings["push_refused"].summary
    [gauge] = _gauge(ws)
    assert gauge.endswith(" 1.0"), gauge
    # The token fixed: the next push goes, and the refusal is gone everywhere.
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    assert ws.push().failures == 0
    assert len(hub.objects("contacts")) == 1
    assert ws.push_status()["refused"] is None
    findings = {f.check: f for f in ws.report("2026-11-01T00:00:00.000Z").findings}
    assert not findings["push_refused"].alert
    [gauge] = _gauge(ws)
    assert gauge.endswith(" 0.0"), gauge
