"""The defects the generative tests of varied vendor samples found
(tests/test_fuzz_published.py), each pinned by the smallest request that shows it, sent to a
live service (tests/live.py) as the vendor sends it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from leadsync.observability import database_outage
from leadsync.pipeline.fallback import is_outage
from leadsync.workspace import Workspace
from tests.helpers import workspace_config
from tests.live import SALESFORCE_ORG, LiveServer, serve, vendor_headers, wait_applied

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


# ------------------------------------------------------------------ a long name


def test_a_contact_with_a_very_long_name_is_applied_and_found_by_its_name(
    workspace: Workspace,
) -> None:
    """A person whose first name is 3,000 characters of text that does not compress (the
    name index's entry on PostgreSQL once outgrew its limit, and the worker took the refusal
    for an outage: the row stayed pending and held back every row after it). The name is
    kept whole; the name search reads its first 200 characters."""
    secret = "hooks:pipedrive-password-for-tests"
    workspace.apply_config(
        workspace_config(
            {
                "pipedrive": {
                    "kind": "pipedrive",
                    "secret_env": "PIPEDRIVE_SECRET",
                    "users": {"unmapped": {"policy": "leave"}},
                }
            }
        )
    )
    body = json.loads((PUBLISHED / "pipedrive" / "v1.added.person.hull.json").read_text("utf-8"))
    first = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(3000))
    body["current"]["first_name"] = first
    raw = json.dumps(body).encode()
    with serve(workspace, environ={"PIPEDRIVE_SECRET": secret}) as live:
        headers = vendor_headers("pipedrive", raw, live.webhook_uri("pipedrive"), secret)
        response = live.client.post("/webhooks/pipedrive", content=raw, headers=headers)
        assert response.status_code == 200, response.text
        wait_applied(workspace)
    assert workspace.dead_letters() == []
    external = f"pipedrive:{body['current']['id']}"
    [found] = [r for r in workspace.find(external=external) if r["type"] == "contact"]
    person = workspace.record("contact", found["id"])
    assert person["name"].startswith(first)
    found = workspace.search_records("name", first[:250])
    assert [r.id for r in found.records] == [person["id"]]


def test_a_value_too_large_for_the_database_is_a_refusal_not_an_outage() -> None:
    """PostgreSQL's class 54 (program limit exceeded: an index row too large), which the
    driver raises as an OperationalError, refuses the rows that hold it — they become dead
    letters and the others are applied — rather than being waited out as an outage."""
    too_large = psycopg.errors.ProgramLimitExceeded("index row requires 9024 bytes")
    refused = sa.exc.OperationalError("INSERT …", {}, too_large)
    assert not database_outage(refused)
    assert not is_outage(refused)
    away = sa.exc.OperationalError("INSERT …", {}, psycopg.errors.AdminShutdown("shutdown"))
    assert database_outage(away)
