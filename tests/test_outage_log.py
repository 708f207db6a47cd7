"""A database outage in a few lines, whatever the traffic: intake said one line per group
commit refused (a probe counted 524 warnings for 20 s away at 50 requests a second)."""

from __future__ import annotations

import logging

import pytest

from leadsync.pipeline.outage import OutageLog


def test_an_outage_is_its_first_line_one_every_ten_seconds_and_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    outage = OutageLog(logging.getLogger("leadsync.intake"), "intake", clock=lambda: now[0])
    caplog.set_level(logging.WARNING, "leadsync.intake")
    outage.back()  # all well: nothing said
    for step in range(250):  # 25 s at 10 requests a second, in groups of 2
        now[0] = 100.0 + step / 10
        outage.away("OperationalError", 2)
    now[0] = 140.0  # the first request through comes 15 s after the last 503
    outage.back()
    outage.back()  # said once
    assert [r.getMessage() for r in caplog.records] == [
        "intake: database unavailable (OperationalError); 2 request(s) answered 503",
        "intake: database still unavailable (OperationalError) after 10 s; 200 request(s) "
        "answered 503 since the last line",
        "intake: database still unavailable (OperationalError) after 20 s; 200 request(s) "
        "answered 503 since the last line",
        "intake: database available again: requests were answered 503 from 40 s ago until "
        "15 s ago; 98 more request(s) answered 503",
    ]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in caplog.records)
    caplog.clear()
    outage.away("OperationalError", 1)  # the next outage starts over
    assert [r.getMessage() for r in caplog.records] == [
        "intake: database unavailable (OperationalError); 1 request(s) answered 503"
    ]
