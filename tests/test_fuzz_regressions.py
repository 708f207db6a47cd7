"""The defects the generative tests of varied vendor samples found
(tests/test_fuzz_published.py), each pinned by the smallest request that shows it, sent to a
live service (tests/live.py) as the vendor sends it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from leadsync.workspace import Workspace
from tests.live import SALESFORCE_ORG, LiveServer, serve, wait_applied

PUBLISHED = Path(__file__).parent / "fixtures" / "published"


@pytest.fixture
def server(ws: Workspace) -> Iterator[LiveServer]:
    with serve(ws) as live:
        yield live


def every_stored_text(ws: Workspace) -> list[str]:
    payloads = [row["payload"] for row in ws.inbox_rows(limit=1000)]
    letters = ws.dead_letters(limit=1000, include_resolved=True)
    return payloads + [row["raw"] for row in letters] + [row["error"] for row in letters]


# ------------------------------------------------------------------ Salesforce's SessionId

#: The published Contact Outbound Message whose sender checked "Send Session ID", sent to the
#: ``sf`` integration (its organization id put in).
SESSION = (
    "00Dn00000008y2t!AQ8AQHwogrxFUHYyM3M65BM_mzU63mbZl78iW8nEItuuU.GRQJ6r6.nGSAaNzIfqNWwITcnpLAmz"
    "O2L2ZQqlL7VD3wNUGecD"
)


def outbound_message() -> str:
    text = (PUBLISHED / "salesforce" / "om_contact.sql_listener.xml").read_text("utf-8")
    assert SESSION in text
    return text.replace("00Dn00000008y2tEAA", SALESFORCE_ORG)


def test_a_refused_outbound_message_is_kept_without_its_session_id(
    ws: Workspace, server: LiveServer
) -> None:
    """An authentic Outbound Message that cannot be cut (its modification time unreadable) is
    refused and kept whole as a dead letter: without the session id Salesforce sent with it,
    a credential to its API."""
    body = outbound_message().replace(
        "<sf:LastModifiedDate>2017-11-03T17:24:20.000Z", "<sf:LastModifiedDate>soon"
    )
    response = server.client.post(
        "/webhooks/sf", content=body.encode(), headers={"content-type": "text/xml"}
    )
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert 'Notification[0].fields.LastModifiedDate": must be an ISO 8601 time' in detail
    [letter] = ws.dead_letters("sf")
    assert "<SessionId>[redacted]</SessionId>" in json.loads(letter["raw"])["body"]
    assert not any(SESSION in text for text in every_stored_text(ws))


def test_a_taken_outbound_message_keeps_no_session_id(ws: Workspace, server: LiveServer) -> None:
    response = server.client.post(
        "/webhooks/sf", content=outbound_message().encode(), headers={"content-type": "text/xml"}
    )
    assert response.status_code == 200 and "<Ack>true</Ack>" in response.text
    wait_applied(ws)
    assert ws.inbox_counts() and not any(SESSION in text for text in every_stored_text(ws))


def test_an_ingested_outbound_message_that_cannot_be_read_keeps_no_session_id(
    ws: Workspace,
) -> None:
    """``leadsync ingest sf message.xml``: an unreadable message is a dead letter, kept (as a
    JSON line holding the XML) without the session id."""
    body = outbound_message().replace("</soapenv:Envelope>", "")  # cut short
    ws.ingest("sf", [json.dumps({"body": body})], source="message.xml")
    [letter] = ws.dead_letters("sf")
    assert "not well-formed XML" in letter["error"]
    assert "[redacted]" in letter["raw"]
    assert not any(SESSION in text for text in every_stored_text(ws))
