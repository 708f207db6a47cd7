"""A webhook whose connection closes before its body is whole (a network cut, a vendor's
timeout): the part that arrived was taken as the whole body — a dead letter blaming the
vendor ("body is not valid JSON"), or a 401 "bad signature" read as a rotated secret. It is
not the vendor's body: nothing is kept, one line says what happened (the vendor sends an
unanswered webhook again). Over a raw socket to the live server, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import time

import pytest

from leadsync.workspace import Workspace
from tests.helpers import KIM_CONTACT
from tests.live import generic_signature, serve


def test_a_body_cut_short_is_no_dead_letter(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(KIM_CONTACT).encode()
    head = (
        "POST /webhooks/dialer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\n"
        f"x-leadsync-signature: {generic_signature(body)['x-leadsync-signature']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with serve(ws) as live, caplog.at_level("WARNING", logger="leadsync.api"):
        with socket.create_connection(("127.0.0.1", live.port)) as raw:
            raw.sendall(head + body[: len(body) // 2])
            time.sleep(0.2)
        for _ in range(100):  # the server sees the close, and says so
            if any("closed the connection" in r.getMessage() for r in caplog.records):
                break
            time.sleep(0.05)
        # The whole body, sent again, goes in as any webhook does.
        sent = live.client.post(
            "/webhooks/dialer",
            content=body,
            headers={"content-type": "application/json", **generic_signature(body)},
        )
    assert sent.status_code in (200, 202), sent.text
    assert ws.dead_letters() == []
    said = [r.getMessage() for r in caplog.records if "closed the connection" in r.getMessage()]
    assert said == [
        f"webhook dialer: the client closed the connection after {len(body) // 2} of "
        f"{len(body)} bytes of the body; nothing was kept (a vendor sends an unanswered "
        "webhook again)"
    ]
    assert sum(r["count"] for r in ws.inbox_counts()) == 1
