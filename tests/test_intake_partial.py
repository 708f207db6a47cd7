"""A webhook body of several events with one that cannot be identified, over real HTTP.

The events beside it are committed and applied, the vendor gets its success answer (so it
does not resend them), and the event that cannot be identified is kept as a dead letter of
its own naming its index and field (docs/WEBHOOKS.md, "What a 2xx means"). The same body sent
again adds nothing; the letter's retry reads it as a request of its own.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from leadsync.errors import EventError
from leadsync.pipeline import inbox
from leadsync.sources.hubspot import sign_v3
from leadsync.store.database import begin_writing
from leadsync.workspace import Workspace
from tests.helpers import record_by_external
from tests.live import (
    FIXTURES,
    HUBSPOT_SECRET,
    NOW_MS,
    LiveServer,
    compact,
    fixture,
    serve,
    wait_applied,
)

ACK = "<Ack>true</Ack>"


@pytest.fixture(params=[True, False], ids=["fast path", "routed"])
def server(ws: Workspace, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with serve(ws, fast_path=request.param) as live:
        yield live


def hubspot_element(event_id: int, object_id: int) -> dict[str, Any]:
    element: dict[str, Any] = fixture("hubspot", "contact.propertyChange.email.json")["body"][0]
    return {**element, "eventId": event_id, "objectId": object_id}


def post_hubspot(server: LiveServer, body: bytes) -> Any:
    uri = server.webhook_uri("crm")
    headers = {
        "content-type": "application/json",
        **sign_v3(HUBSPOT_SECRET, "POST", uri, body, NOW_MS),
    }
    return server.client.post("/webhooks/crm", content=body, headers=headers)


def dead_letters_open(server: LiveServer, integration: str) -> float | None:
    text = server.client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "leadsync_dead_letters_open" and sample.labels == {
                "integration": integration
            }:
                return sample.value
    return None


def test_a_hubspot_batch_takes_the_events_beside_one_without_event_id(
    ws: Workspace, server: LiveServer
) -> None:
    batch = [hubspot_element(3300 + n, 5300 + n) for n in range(3)]
    unidentified = {k: v for k, v in batch[1].items() if k != "eventId"}
    batch[1] = unidentified
    body = compact(batch)
    error = 'field "[1].eventId": required'

    response = post_hubspot(server, body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "integration": "crm",
        "accepted": 2,
        "duplicates": 0,
        "refused": [{"index": 1, "error": error}],
    }
    wait_applied(ws)
    rows = {row["event_id"]: row for row in ws.inbox_rows(integration="crm")}
    assert {key: (row["source"], row["status"]) for key, row in rows.items()} == {
        "55:3300@5300": ("webhook [0]", "applied"),  # named by their index in the request
        "55:3302@5302": ("webhook [2]", "applied"),
    }
    for object_id in (5300, 5302):
        assert record_by_external(ws, str(object_id), "crm")["email"] == "kim@globex.test"
    [letter] = ws.dead_letters("crm")
    assert (letter["source"], letter["event_id"], letter["line_no"]) == ("webhook [1]", None, None)
    assert letter["error"] == f"webhook [1]: {error}"
    assert json.loads(letter["raw"]) == [unidentified]  # a batch of its own
    assert dead_letters_open(server, "crm") == 1

    # HubSpot resends the request (its answer was lost): nothing new, no second letter.
    again = post_hubspot(server, body)
    assert again.status_code == 200, again.text
    assert again.json() == {
        "integration": "crm",
        "accepted": 0,
        "duplicates": 2,
        "refused": [{"index": 1, "error": error}],
    }
    wait_applied(ws)
    assert len(ws.inbox_rows(integration="crm")) == 2
    assert [d["id"] for d in ws.dead_letters("crm")] == [letter["id"]]

    # Retried as it is, it still has no eventId: refused clearly, nothing changes.
    with pytest.raises(EventError) as refused:
        ws.retry_dead_letter(letter["id"])
    assert str(refused.value) == (
        f"dead letter {letter['id']} cannot be retried: it still cannot be read: "
        'field "[0].eventId": required (the vendor sent it so); dismiss it with leadsync '
        f"dead-letters dismiss {letter['id']} --reason TEXT"
    )
    assert [d["id"] for d in ws.dead_letters("crm")] == [letter["id"]]

    # A letter of that shape whose event is good (written here as the intake writes one,
    # the id given) is read as a request of its own and applied, under its source.
    good = [{**unidentified, "eventId": 3301}]
    assert json.loads(letter["raw"]) == [unidentified]
    with begin_writing(ws.engine) as connection:
        inbox.record_rejected(connection, "crm", letter["source"], compact(good).decode(), "…")
    [fixed] = [d for d in ws.dead_letters("crm") if d["id"] != letter["id"]]
    result = ws.retry_dead_letter(fixed["id"])  # the service's worker applies it
    assert result.resolution.startswith("added to the inbox as #")
    wait_applied(ws)
    row = {r["event_id"]: r for r in ws.inbox_rows(integration="crm")}["55:3301@5301"]
    assert (row["source"], row["status"]) == ("webhook [1]", "applied")
    assert record_by_external(ws, "5301", "crm")["email"] == "kim@globex.test"


def test_an_outbound_message_takes_the_notifications_beside_one_without_id(
    ws: Workspace, server: LiveServer
) -> None:
    raw = (FIXTURES / "salesforce" / "om_two_notifications.xml").read_bytes()
    assert raw.count(b"<Id>04l5g0000001AjAAAU</Id>") == 1
    raw = raw.replace(b"<Id>04l5g0000001AjAAAU</Id>", b"")  # the first notification's Id
    response = server.client.post("/webhooks/sf", content=raw, headers={"content-type": "text/xml"})
    assert response.status_code == 200, response.text
    assert ACK in response.text  # Salesforce's Ack: it does not resend the message
    wait_applied(ws)
    [row] = ws.inbox_rows(integration="sf")
    assert (row["event_id"].split(":")[-1], row["source"], row["status"]) == (
        "04l5g0000001AkAAAU",
        "webhook [1]",
        "applied",
    )
    assert record_by_external(ws, "0035g00000QwErUAAV", "sf")["properties"]["lastname"] == "Ng"
    [letter] = ws.dead_letters("sf")
    assert (letter["source"], letter["event_id"]) == ("webhook [0]", None)
    assert letter["error"] == 'webhook [0]: field "notifications.Notification[0].Id": required'
    kept = json.loads(letter["raw"])["body"]  # the message with that notification alone
    names = [e.text for e in ET.fromstring(kept).iter() if e.tag.endswith("}LastName")]
    assert names == ["Park"]
    assert dead_letters_open(server, "sf") == 1

    again = server.client.post("/webhooks/sf", content=raw, headers={"content-type": "text/xml"})
    assert again.status_code == 200 and ACK in again.text
    assert len(ws.inbox_rows(integration="sf")) == 1
    assert [d["id"] for d in ws.dead_letters("sf")] == [letter["id"]]
    with pytest.raises(EventError, match=r'"notifications\.Notification\[0\]\.Id": required'):
        ws.retry_dead_letter(letter["id"])
