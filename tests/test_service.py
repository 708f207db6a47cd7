"""The service end to end over real HTTP: uvicorn on a local port, httpx as the vendor.

Every test starts the real app (writer and worker threads included) for a workspace on each
backend, posts what a vendor would post, then looks at what the database holds through the
Workspace API once the worker has taken every pending row.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from leadsync.errors import EventError
from leadsync.sources.hubspot import sign_v3
from leadsync.sources.jsontext import MAX_DEPTH
from leadsync.workspace import Workspace
from tests.helpers import record_by_external
from tests.live import (
    ADMIN_TOKEN,
    AIRCALL_TOKEN,
    DIALER_SECRET,
    FIXTURES,
    HUBSPOT_SECRET,
    NOW_MS,
    LiveServer,
    compact,
    fixture,
    generic_signature,
    serve,
    wait_applied,
)

MAX_BODY = 16_384
PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}


@pytest.fixture
def server(ws: Workspace) -> Iterator[LiveServer]:
    with serve(ws, max_body=MAX_BODY) as live:
        yield live


@pytest.fixture(params=[True, False], ids=["fast path", "routed"])
def either(ws: Workspace, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The service with webhooks answered by the fast path, and by the FastAPI route."""
    with serve(ws, max_body=MAX_BODY, fast_path=request.param) as live:
        yield live


def contact(n: int, owner: str = "u-1", at: str = "2026-11-01T09:00:00Z") -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "occurred_at": at,
        "type": "record",
        "object": "contact",
        "external_id": f"p-{n}",
        "properties": {"email": f"kim{n}@globex.test"},
        "owner": owner,
    }


def owner_change(event_id: str, external_id: str, owner: str, at: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "occurred_at": at,
        "type": "owner",
        "object": "contact",
        "external_id": external_id,
        "owner": owner,
    }


def call(event_id: str, external_id: str, contact_id: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "occurred_at": "2026-11-01T09:10:00Z",
        "type": "activity",
        "activity": "call",
        "external_id": external_id,
        "owner": "u-1",
        "properties": {"direction": "outbound", "duration_s": 95, "outcome": "connected"},
        "associations": [{"object": "contact", "external_id": contact_id}],
    }


def hubspot_element(name: str, **changes: Any) -> dict[str, Any]:
    element: dict[str, Any] = fixture("hubspot", name)["body"][0]
    return {**element, **changes}


def hubspot_headers(server: LiveServer, body: bytes, uri: str | None = None) -> dict[str, str]:
    uri = uri or server.webhook_uri("crm")
    return {
        "content-type": "application/json",
        **sign_v3(HUBSPOT_SECRET, "POST", uri, body, NOW_MS),
    }


def every_stored_text(ws: Workspace) -> list[str]:
    """Every inbox payload and dead letter the workspace holds."""
    payloads = [row["payload"] for row in ws.inbox_rows(limit=1000)]
    letters = ws.dead_letters(limit=1000, include_resolved=True)
    return payloads + [row["raw"] for row in letters] + [row["error"] for row in letters]


# ------------------------------------------------------------------ accepted, then applied

OWNER_OF = {"u-1": "101", "u-9": "102"}
Encode = Callable[[list[dict[str, Any]]], bytes]
# shape: (content type, how the events are written, how many)
SHAPES: dict[str, tuple[str, Encode, int]] = {
    "json object": ("application/json", lambda events: compact(events[0]), 1),
    "json array": ("application/json", compact, 3),
    "ndjson": ("application/x-ndjson", lambda evs: b"".join(compact(e) + b"\n" for e in evs), 3),
}


def test_signed_generic_events_are_committed_then_applied(
    ws: Workspace, either: LiveServer, subtests: pytest.Subtests
) -> None:
    for index, (shape, (content_type, encode, count)) in enumerate(SHAPES.items()):
        with subtests.test(shape=shape):
            first = 10 * index
            events = [contact(first, "u-1"), contact(first + 1, "u-9"), contact(first + 2)][:count]
            response = either.post_generic("dialer", encode(events), content_type)
            assert response.status_code == 200, response.text
            assert response.json() == {"integration": "dialer", "accepted": count, "duplicates": 0}
            wait_applied(ws)
            for event in events:
                record = record_by_external(ws, event["external_id"])
                expected_owner = OWNER_OF[event["owner"]]
                assert record["owner_id"] == expected_owner
                assert record["email"] == event["properties"]["email"]
                [decision] = record["owner_history"]
                assert decision["event_id"] == event["id"]
                assert (decision["outcome"], decision["owner_id"]) == ("set", expected_owner)
                assert decision["integration"] == "dialer"
                assert decision["external_user"] == event["owner"]
            assert [c["status"] for c in ws.inbox_counts()] == ["applied"]


def test_a_trailing_slash_is_the_same_webhook_not_a_redirect(
    ws: Workspace, either: LiveServer
) -> None:
    """Vendors do not follow redirects on POST: /webhooks/NAME/ is answered like
    /webhooks/NAME, never with a 307."""
    body = compact([contact(1)])
    response = either.client.post(
        "/webhooks/dialer/",
        content=body,
        headers={"content-type": "application/json", **generic_signature(body)},
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"integration": "dialer", "accepted": 1, "duplicates": 0}
    wait_applied(ws)
    assert record_by_external(ws, "p-1")["owner_id"] == OWNER_OF["u-1"]
    unsigned = either.client.post("/webhooks/dialer/", content=body, headers=JSON)
    assert unsigned.status_code == 401 and unsigned.headers["content-type"] == PROBLEM
    nested = either.client.post("/webhooks/dialer/x", content=body, headers=JSON)
    assert nested.status_code == 404 and nested.headers["content-type"] == PROBLEM


def test_redelivery_is_acknowledged_and_applied_once(ws: Workspace, server: LiveServer) -> None:
    bodies = [compact(contact(1)), compact(call("k1", "call-1", "p-1"))]
    for body in bodies:
        assert server.post_generic("dialer", body).json()["accepted"] == 1
    wait_applied(ws)
    for body in bodies:
        again = server.post_generic("dialer", body)
        assert again.status_code == 200
        assert again.json() == {"integration": "dialer", "accepted": 0, "duplicates": 1}
    wait_applied(ws)
    record = record_by_external(ws, "p-1")
    assert len(record["owner_history"]) == 1
    assert [a["external_id"] for a in record["timeline"]] == ["call-1"]
    assert len(ws.inbox_rows(limit=1000)) == 2
    assert len(ws.decisions()) == 1


# ------------------------------------------------------------------ vendors


def test_aircall_call_lands_on_the_contact_timeline(ws: Workspace, server: LiveServer) -> None:
    body = fixture("aircall", "call.ended.json")["body"]
    assert body["token"] == AIRCALL_TOKEN
    response = server.client.post(
        "/webhooks/phone", content=compact(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"integration": "phone", "accepted": 1, "duplicates": 0}
    wait_applied(ws)
    person = record_by_external(ws, "9001", "phone")
    assert person["email"] == "kim.lee@globex.test"
    [activity] = person["timeline"]
    assert (activity["type"], activity["external_id"]) == ("call", "812345")
    assert activity["owner_id"] == "101"  # the agent ana@acme.test, matched by email
    assert activity["properties"]["duration_s"] == 103
    assert activity["properties"]["outcome"] == "connected"
    assert not any(AIRCALL_TOKEN in text for text in every_stored_text(ws))


def test_aircall_token_is_not_kept_with_a_rejected_body(ws: Workspace, server: LiveServer) -> None:
    """An authentic Aircall body that cannot be read is kept as a dead letter, but the token
    (the integration's secret) must not be kept with it."""
    body = {**fixture("aircall", "call.ended.json")["body"], "timestamp": "soon"}
    response = server.client.post(
        "/webhooks/phone", content=compact(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert 'field "timestamp"' in response.json()["detail"]
    [letter] = ws.dead_letters("phone")
    kept = json.loads(json.loads(letter["raw"])["body"])
    assert kept == {**body, "token": "[redacted]"}
    assert not any(AIRCALL_TOKEN in text for text in every_stored_text(ws))


def test_hubspot_batch_ignores_the_echo_and_takes_the_crm_change(
    ws: Workspace, either: LiveServer
) -> None:
    person = hubspot_element(
        "contact.propertyChange.owner_crm_ui.json",
        propertyValue="102",
        occurredAt=NOW_MS - 60_000,
    )
    echo = hubspot_element(
        "contact.propertyChange.owner_echo.json",
        propertyValue="104",
        occurredAt=NOW_MS - 30_000,  # newer: it would win if it were not ignored
    )
    body = compact([echo, person])
    response = either.client.post(
        "/webhooks/crm", content=body, headers=hubspot_headers(either, body)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"integration": "crm", "accepted": 2, "duplicates": 0}
    wait_applied(ws)
    record = record_by_external(ws, "5101", "crm")
    assert record["owner_id"] == "102"
    [decision] = record["owner_history"]
    assert decision["strategy"] == "crm"
    assert decision["integration"] == "crm"
    assert (decision["event_id"], decision["outcome"], decision["owner_id"]) == (
        f"{person['subscriptionId']}:{person['eventId']}@{person['objectId']}",
        "set",
        "102",
    )
    assert sorted(row["status"] for row in ws.inbox_rows(integration="crm")) == [
        "applied",
        "applied",
    ]


SALESFORCE_OM = FIXTURES / "salesforce" / "om_contact.xml"


def test_salesforce_outbound_message_is_answered_with_the_soap_ack(
    ws: Workspace, either: LiveServer
) -> None:
    response = either.client.post(
        "/webhooks/sf", content=SALESFORCE_OM.read_bytes(), headers={"content-type": "text/xml"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Ack>true</Ack>" in response.text
    wait_applied(ws)
    assert record_by_external(ws, "0035g00000QwErTAAV", "sf")["email"] == "bo@initech.test"


# ------------------------------------------------------------------ refusals

Headers = Callable[[LiveServer, bytes], dict[str, str]]


def signed(content_type: str = "application/json", secret: str = DIALER_SECRET) -> Headers:
    return lambda _server, body: {"content-type": content_type, **generic_signature(body, secret)}


def hubspot_for(uri: str | None = None) -> Headers:
    return lambda server, body: hubspot_headers(server, body, uri)


NO_EVENT_ID = [
    {k: v for k, v in hubspot_element("contact.creation.json").items() if k != "eventId"}
]
# name: (integration, body, headers, status, title, detail pattern, kept as a dead letter)
REFUSALS: dict[str, tuple[str, bytes, Headers, int, str, str, bool]] = {
    "bad signature": (
        "dialer", compact(contact(1)), signed(secret="wrong"), 401, "Not authentic",
        "X-Leadsync-Signature: bad signature", False,
    ),
    "no signature": (
        "dialer", compact(contact(1)), lambda _s, _b: {"content-type": "application/json"},
        401, "Not authentic", "missing header X-Leadsync-Signature", False,
    ),
    "secret variable unset": (
        "nosecret", compact(contact(1)), signed(), 401, "Not authentic",
        "no webhook secret is configured", False,
    ),
    "hubspot signed for another URI": (
        "crm", compact([hubspot_element("contact.creation.json")]),
        hubspot_for("https://elsewhere.test/webhooks/crm"), 401, "Not authentic",
        "bad signature", False,
    ),
    "malformed JSON": (
        "dialer", b'{"id": "c1",\n "type": }', signed(), 400, "Malformed body",
        r"not valid JSON: .* \(line 2, column 10\)", True,
    ),
    "not UTF-8": (
        "dialer", b'{"id": "\xff"}', signed(), 400, "Malformed body",
        "not valid UTF-8 at byte 8", True,
    ),
    "empty": (  # it said "Expecting value (line 1, column 1)"
        "crm", b"", hubspot_for(), 400, "Malformed body", "^body is empty; expected JSON$", True,
    ),
    "hubspot batch without eventId": (
        "crm", compact(NO_EVENT_ID), hubspot_for(), 400, "Malformed body",
        r'field "\[0\]\.eventId": required', True,
    ),
    "unknown integration": (
        "nope", compact(contact(1)), signed(), 404, "Unknown integration",
        "no integration named 'nope'", False,
    ),
    "over max_body": (
        "dialer", b" " * (MAX_BODY + 1), signed(), 413, "Body too large",
        f"at most {MAX_BODY}", False,
    ),
    "wrong content type": (
        "dialer", compact(contact(1)), signed("text/plain"), 415, "Unsupported media type",
        "'text/plain' is not accepted for generic; allowed: application/json", False,
    ),
    "no content type": (
        "dialer", compact(contact(1)), signed(""), 415, "Unsupported media type",
        "^header Content-Type is missing for generic; allowed: application/json, ", False,
    ),
}  # fmt: skip


def test_refusals_are_problems_and_authentic_bodies_are_kept(
    ws: Workspace, either: LiveServer, subtests: pytest.Subtests
) -> None:
    for case, (integration, body, headers, status, title, detail, kept) in REFUSALS.items():
        with subtests.test(case=case):
            letters_before = ws.dead_letters(limit=1000)
            response = either.client.post(
                f"/webhooks/{integration}", content=body, headers=headers(either, body)
            )
            assert response.status_code == status, response.text
            assert response.headers["content-type"] == PROBLEM
            problem = response.json()
            assert (problem["status"], problem["title"]) == (status, title)
            assert re.search(detail, problem["detail"]), problem["detail"]
            assert problem["instance"] == f"/webhooks/{integration}"
            assert ws.inbox_rows() == []
            letters = ws.dead_letters(limit=1000)
            if kept:
                assert letters[1:] == letters_before
                letter = letters[0]
                assert (letter["integration"], letter["source"]) == (integration, "webhook")
                assert letter["error"] == problem["detail"]
                raw = json.loads(letter["raw"])
                if "body_base64" in raw:  # not UTF-8 text: kept as its bytes
                    assert base64.b64decode(raw["body_base64"]) == body
                else:
                    assert raw["body"] == body.decode("utf-8")
            else:
                assert letters == letters_before
    with subtests.test(case="streamed body over max_body"):
        chunks = [b" " * 4096 for _ in range(MAX_BODY // 4096 + 2)]
        response = either.client.post(
            "/webhooks/dialer",
            content=iter(chunks),  # chunked: no Content-Length to refuse on
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["title"] == "Body too large"
        assert f"at most {MAX_BODY}" in response.json()["detail"]
        assert ws.inbox_rows() == []


UNREADABLE: dict[str, tuple[str, dict[str, Any], str]] = {
    "generic": ("dialer", {**contact(1), "type": "meeting_booked"}, 'field "type"'),
    "aircall": (
        "phone",
        {"resource": "webhook", "event": "webhook.created", "timestamp": 1793631735,
         "token": AIRCALL_TOKEN, "data": {"id": 77}},
        "unknown event 'webhook.created'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", UNREADABLE)
def test_verified_events_that_cannot_be_read_become_dead_letters(
    ws: Workspace, server: LiveServer, case: str
) -> None:
    integration, event, error = UNREADABLE[case]
    response = server.client.post(
        f"/webhooks/{integration}",
        content=compact(event),
        headers={"content-type": "application/json", **generic_signature(compact(event))},
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    wait_applied(ws)
    [row] = ws.inbox_rows()
    assert row["status"] == "failed"
    assert error in row["error"]
    [letter] = ws.dead_letters()
    assert letter["integration"] == integration
    assert error in letter["error"]
    assert letter["error"].startswith(f"webhook (inbox #{row['seq']}): ")  # docs/WEBHOOKS.md
    assert letter["event_id"] == row["event_id"]
    assert not any(AIRCALL_TOKEN in text for text in every_stored_text(ws))


def test_an_event_of_a_hubspot_batch_that_cannot_be_read_names_its_index(
    ws: Workspace, either: LiveServer
) -> None:
    """HubSpot posts up to 100 events in one array: the one that cannot be read becomes a
    dead letter naming its index in the request (docs/WEBHOOKS.md), the four beside it are
    applied."""
    batch = [
        hubspot_element("contact.propertyChange.email.json", eventId=3100 + n, objectId=5200 + n)
        for n in range(5)
    ]
    del batch[3]["propertyValue"]  # a propertyChange must say the value
    body = compact(batch)
    response = either.client.post(
        "/webhooks/crm", content=body, headers=hubspot_headers(either, body)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"integration": "crm", "accepted": 5, "duplicates": 0}
    wait_applied(ws)
    rows = {row["event_id"]: row for row in ws.inbox_rows(integration="crm")}
    failed = rows.pop("55:3103@5203")
    assert failed["status"] == "failed"
    assert {row["status"] for row in rows.values()} == {"applied"}
    for n in (0, 1, 2, 4):
        assert record_by_external(ws, str(5200 + n), "crm")["email"] == "kim@globex.test"
    [letter] = ws.dead_letters("crm")
    assert (letter["source"], letter["event_id"]) == ("webhook [3]", "55:3103@5203")
    assert letter["error"] == (
        f"webhook [3] (inbox #{failed['seq']}): "
        'field "propertyValue": required on a propertyChange event'
    )
    assert letter["error"] == failed["error"]
    assert json.loads(letter["raw"]) == {"body": batch[3]}
    with pytest.raises(EventError, match=r"required on a propertyChange event \(the vendor sent"):
        ws.retry_dead_letter(letter["id"])


def test_a_body_is_taken_to_the_depth_limit_and_refused_one_level_past_it(
    ws: Workspace, either: LiveServer
) -> None:
    """docs/WEBHOOKS.md: at most 128 levels of arrays and objects, whoever reads the body.
    The element's extra field is one HubSpot does not send: the adapter passes it over."""

    def batch(levels: int, event_id: int) -> bytes:
        # The array and its element are two levels; ``extra`` holds the rest.
        extra: Any = []
        for _ in range(levels - 3):
            extra = [extra]
        element = hubspot_element("contact.propertyChange.email.json", eventId=event_id)
        return compact([{**element, "extra": extra}])

    at_limit = batch(MAX_DEPTH, 3200)
    assert at_limit.count(b"[") == MAX_DEPTH - 1  # and the element's object
    response = either.client.post(
        "/webhooks/crm", content=at_limit, headers=hubspot_headers(either, at_limit)
    )
    assert response.status_code == 200, response.text
    wait_applied(ws)
    assert [row["status"] for row in ws.inbox_rows(integration="crm")] == ["applied"]
    assert record_by_external(ws, "5101", "crm")["email"] == "kim@globex.test"
    past = batch(MAX_DEPTH + 1, 3201)
    response = either.client.post(
        "/webhooks/crm", content=past, headers=hubspot_headers(either, past)
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["detail"] == (
        "body is not valid JSON: nested deeper than 128 levels; allowed: at most 128 levels of "
        "arrays and objects"
    )
    [letter] = ws.dead_letters("crm")  # authentic: kept as the request it was
    assert (letter["source"], letter["error"]) == ("webhook", problem["detail"])
    assert len(ws.inbox_rows(integration="crm")) == 1


# ------------------------------------------------------------------ order and load


def test_an_older_owner_change_arriving_late_is_stale(ws: Workspace, server: LiveServer) -> None:
    newest = owner_change("o-new", "p-1", "u-9", "2026-11-01T10:00:00Z")
    older = owner_change("o-old", "p-1", "u-1", "2026-11-01T09:30:00Z")
    for event in (newest, older):
        assert server.post_generic("router", compact(event)).json()["accepted"] == 1
        wait_applied(ws)
    record = record_by_external(ws, "p-1", "router")
    assert record["owner_id"] == "102"
    first, second = record["owner_history"]
    assert (first["event_id"], first["outcome"], first["owner_id"]) == ("o-new", "set", "102")
    assert (second["event_id"], second["outcome"]) == ("o-old", "ignored")
    assert (second["proposed_owner_id"], second["owner_id"]) == ("101", "102")
    assert "stale" in second["reason"]


def test_concurrent_requests_are_each_committed(ws: Workspace, server: LiveServer) -> None:
    url = server.webhook_uri("dialer")

    def post(n: int) -> httpx.Response:
        body = compact(contact(n))
        headers = {"content-type": "application/json", **generic_signature(body)}
        return httpx.post(url, content=body, headers=headers, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(post, range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.json()["accepted"] == 1 for r in responses)
    assert len(ws.inbox_rows(limit=1000)) == 50
    writer = server.app.state.intake.writer
    assert writer.jobs == 50
    assert writer.groups >= 1
    wait_applied(ws)
    assert ws.inbox_counts() == [{"integration": "dialer", "status": "applied", "count": 50}]
    assert len({record_by_external(ws, f"p-{n}")["id"] for n in range(50)}) == 50


# ------------------------------------------------------------------ health


def test_healthz_and_readyz_report_the_inbox(ws: Workspace) -> None:
    with serve(ws, worker=False) as live:
        health = live.client.get("/healthz")
        process = f"{socket.gethostname()}:{os.getpid()}"  # which process answered
        assert (health.status_code, health.json()) == (200, {"status": "ok", "process": process})
        ready = live.client.get("/readyz")
        assert ready.status_code == 200
        assert (ready.json()["database"], ready.json()["process"]) == ("ok", process)
        assert (ready.json()["status"], ready.json()["pending"]) == ("ready", 0)
        assert ready.json()["oldest_pending_at"] is None
        assert (
            live.post_generic("dialer", compact([contact(1), contact(2), contact(3)])).json()[
                "accepted"
            ]
            == 3
        )
        ready = live.client.get("/readyz")  # committed before the 200; no worker takes them
        assert ready.status_code == 200
        assert (ready.json()["status"], ready.json()["pending"]) == ("ready", 3)
        assert ready.json()["oldest_pending_at"] is not None


def test_an_intake_servers_readiness_does_not_wait_for_the_workers(ws: Workspace) -> None:
    """`serve --no-worker` answered 503 once the workers fell behind --max-lag-s (300 s by
    default): stalled workers took every intake server out of the load balancer."""
    from leadsync.cli.serve import readiness_bound

    assert readiness_bound(None, worker=True) == 300.0
    assert readiness_bound(None, worker=False) is None
    assert readiness_bound(2.0, worker=False) == 2.0
    with serve(ws, worker=False, max_lag_s=None) as live:
        assert live.post_generic("dialer", compact([contact(1)])).json()["accepted"] == 1
        ready = live.client.get("/readyz")
    assert ready.status_code == 200
    assert (ready.json()["status"], ready.json()["pending"]) == ("ready", 1)
    assert ready.json()["max_lag_s"] is None


def test_a_database_that_refuses_gets_503_and_nothing_is_acknowledged(ws: Workspace) -> None:
    """While the inbox cannot be written, webhooks get 503 with Retry-After (the vendor
    retries; nothing was acknowledged) and /readyz says not ready; once it can, the same
    request is taken."""
    body = compact([contact(1)])
    with serve(ws, worker=False) as live:
        with ws.engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE inbox RENAME TO inbox_away")
        try:
            refused = live.post_generic("dialer", body)
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["retry-after"] == "5"
            assert "retry later" in refused.json()["detail"]
            ready = live.client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["status"] == "not ready"
            # how many events wait is not known then: null, never "none waiting"
            assert (ready.json()["pending"], ready.json()["lag_s"]) == (None, None)
        finally:
            with ws.engine.begin() as connection:
                connection.exec_driver_sql("ALTER TABLE inbox_away RENAME TO inbox")
        taken = live.post_generic("dialer", body)
        assert (taken.status_code, taken.json()["accepted"]) == (200, 1)


def test_head_answers_like_get_without_the_body(ws: Workspace) -> None:
    """Load balancers probe with HEAD: the health, readiness and metrics endpoints (and any
    other GET resource, the console's included) answer it as their GET, headers only."""
    token = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with serve(ws, worker=False) as live:
        for path, headers in [
            ("/healthz", {}),
            ("/readyz", {}),
            ("/metrics", token),
            ("/api/integrations", token),
            ("/openapi.json", {}),
            ("/", {}),  # the console: to its sign-in page
            ("/login", {}),
        ]:
            got = live.client.get(path, headers=headers)
            head = live.client.head(path, headers=headers)
            assert head.status_code == got.status_code, path
            for header in ("content-type", "location"):
                assert head.headers.get(header) == got.headers.get(header), (path, header)
            assert head.content == b"", path
        refused = httpx.head(f"{live.base_url}/metrics")  # no token
        assert (refused.status_code, refused.content) == (401, b"")
        post_only = live.client.head("/webhooks/dialer")
        assert post_only.status_code == 405 and post_only.headers["allow"] == "POST"
        assert live.client.put("/healthz").headers["allow"] == "GET, HEAD"


def test_every_path_takes_a_trailing_slash_like_none(ws: Workspace) -> None:
    """A load balancer's probe or a scraper configured with a trailing slash gets the answer,
    never a redirect it would count as a failure (README: "A trailing slash … is taken the same
    as none, never redirected")."""
    token = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with serve(ws, worker=False) as live:
        for path, headers in [
            ("/healthz", {}),
            ("/readyz", {}),
            ("/metrics", token),
            ("/openapi.json", {}),
            ("/login", {}),
        ]:
            plain = live.client.get(path, headers=headers)
            slashed = live.client.get(f"{path}/", headers=headers)
            assert (slashed.status_code, plain.status_code) == (200, 200), path
            assert slashed.headers["content-type"] == plain.headers["content-type"], path
        assert live.client.get("/healthz/").json() == live.client.get("/healthz").json()
        refused = httpx.get(f"{live.base_url}/metrics/")  # still behind the token
        assert refused.status_code == 401
        assert live.client.get("/nothing/").status_code == 404


def test_metrics_follow_accept_like_the_metrics_port(ws: Workspace) -> None:
    """Prometheus's negotiation (prometheus_client's choose_encoder), as --metrics-port does."""
    token = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    with serve(ws, worker=False) as live:
        for accept, media in [
            (None, "text/plain; version=0.0.4"),
            ("text/plain;version=0.0.4", "text/plain; version=0.0.4"),
            ("text/plain;version=1.0.0", "text/plain; version=1.0.0"),
            ("application/openmetrics-text; version=1.0.0", "application/openmetrics-text"),
        ]:
            headers = token if accept is None else {**token, "accept": accept}
            answer = live.client.get("/metrics", headers=headers)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith(media), accept
            assert "leadsync_database_up" in answer.text
        assert answer.text.endswith("# EOF\n")  # OpenMetrics' end marker
