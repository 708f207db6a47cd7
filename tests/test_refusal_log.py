"""A request refused before it is stored (a bad signature, a stale timestamp, a body that
cannot be read) is said in leadsync's own log, not only to its sender: an admin whose proxy
rewrote the URL HubSpot signs saw 401s in the access log and no reason (found by a probe).
A flood of them is a line a minute per integration and status, with how many more."""

from __future__ import annotations

import logging

import pytest

from leadsync.pipeline.outage import RefusalLog
from leadsync.workspace import Workspace
from tests.helpers import Clock
from tests.live import DIALER_SECRET, compact, serve


def test_a_refused_request_is_said_with_its_reason(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    body = compact([{"id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record",
                     "object": "contact", "external_id": "p-1"}])  # fmt: skip
    with serve(ws) as live, caplog.at_level(logging.WARNING, logger="leadsync.intake"):
        answer = live.post_generic("dialer", body, secret="not-" + DIALER_SECRET)
        assert answer.status_code == 401
        assert live.post_generic("dialer", body).status_code == 200  # the good one: no line
    lines = [r.getMessage() for r in caplog.records if "a request for" in r.getMessage()]
    assert lines == [f"intake: a request for dialer refused 401: {answer.json()['detail']}"]
    assert DIALER_SECRET not in lines[0]


def test_a_flood_is_a_line_a_minute_per_integration_and_status() -> None:
    clock = Clock(1000.0)
    said: list[str] = []

    class Log(logging.Logger):
        def warning(self, msg: object, *args: object, **_: object) -> None:
            said.append(str(msg) % args)

    refusals = RefusalLog(Log("test"), every_s=60.0, clock=clock)
    for _ in range(5):
        refusals.refused("crm", 401, "bad signature")
    refusals.refused("crm", 415, "gzip")  # another status: said at once
    clock.now += 61
    refusals.refused("crm", 401, "bad signature")
    assert said == [
        "intake: a request for crm refused 401: bad signature",
        "intake: a request for crm refused 415: gzip",
        "intake: a request for crm refused 401: bad signature (4 more since the last line)",
    ]
