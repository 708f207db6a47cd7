"""The push against HubSpot's documented answers that the stand-in does not make on its own
(423 Locked, 477 Migration in Progress), its daily reset, a task's due date, and the
stand-in's own checks of property values.

HubSpot's pages relied on: the error handling reference (423: locks last 2 s, wait at least
that; 477: Retry-After in seconds, up to a day), the API usage guidelines (the daily limit
resets at midnight in the portal's time zone) and the tasks API guide (a task's
``hs_timestamp`` is its due date)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from leadsync.destinations.hubspot.budget import RateBudget
from leadsync.destinations.hubspot.client import (
    Answer,
    DailyLimitReached,
    HubSpotMigrating,
)
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.destinations.hubspot.loop import PushLoop
from leadsync.store import push as push_store
from leadsync.store import push_lease
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import contact_line, ev, run
from tests.test_hubspot_push import company_contact_call, config


class Interposed:
    """The stand-in behind a transport that answers chosen requests itself first: each
    planned (path fragment, status, headers, body) answers the next request whose path
    holds the fragment, once; everything else reaches the stand-in."""

    def __init__(self, hub: HubSpotDouble) -> None:
        self.inner = hub.transport()
        self.plan: list[tuple[str, int, dict[str, str], dict[str, Any]]] = []
        self.answered: list[tuple[str, int]] = []

    def add(
        self, fragment: str, status: int, body: dict[str, Any], headers: dict[str, str] | None
    ) -> None:
        self.plan.append((fragment, status, headers or {}, body))

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            for index, (fragment, status, headers, body) in enumerate(self.plan):
                if fragment in request.url.path:
                    del self.plan[index]
                    self.answered.append((request.url.path, status))
                    return httpx.Response(status, headers=headers, json=body)
            return self.inner.handle_request(request)

        return httpx.MockTransport(answer)


@pytest.fixture
def wire(hub: HubSpotDouble) -> Interposed:
    return Interposed(hub)


@pytest.fixture
def ws(db_url: str, wire: Interposed, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    workspace = Workspace(db_url, hubspot_transport=wire.transport())
    workspace.apply_config(config())
    workspace.hubspot_setup()
    yield workspace
    workspace.close()


def drain(ws: Workspace, sleeps: list[float]) -> Any:
    pusher = ws.pusher(sleep=sleeps.append)
    try:
        return pusher.drain()
    finally:
        pusher.release()


def error_body(category: str, message: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": message,
        "correlationId": "0b3c9a1e-1f2d-4c5b-9a8e-7d6f5e4d3c2b",
        "category": category,
    }


# ------------------------------------------------------------------ 423 Locked


def test_a_423_locked_answer_is_resent_after_two_seconds_not_refused(
    ws: Workspace, hub: HubSpotDouble, wire: Interposed
) -> None:
    run(ws, *company_contact_call())
    wire.add("/batch/create", 423, error_body("LOCKED", "Resource is locked"), None)
    sleeps: list[float] = []
    result = drain(ws, sleeps)
    assert wire.answered and wire.answered[0][1] == 423
    assert result.failures == 0 and ws.push_failures() == []
    assert len(hub.objects("companies")) == 1
    assert len(hub.objects("contacts")) == 1 and len(hub.objects("calls")) == 1
    assert any(s >= 2.0 for s in sleeps), sleeps
    assert ws.push_status()["queued_total"] == 0


# ------------------------------------------------------- 477 Migration in Progress


def test_a_477_with_a_short_retry_after_is_waited_out_and_resent(
    ws: Workspace, hub: HubSpotDouble, wire: Interposed
) -> None:
    run(ws, *company_contact_call())
    wire.add(
        "/batch/create",
        477,
        error_body("MIGRATION_IN_PROGRESS", "Migration in progress"),
        {"Retry-After": "30"},
    )
    sleeps: list[float] = []
    result = drain(ws, sleeps)
    assert wire.answered[0][1] == 477
    assert sum(sleeps) >= 30.0  # slept through (in steps: the push's lease is renewed between)
    assert result.failures == 0 and ws.push_failures() == []
    assert len(hub.objects("companies")) == 1 and len(hub.objects("calls")) == 1


def test_a_477_with_a_long_retry_after_pauses_the_push_and_loses_nothing(
    ws: Workspace, hub: HubSpotDouble, wire: Interposed
) -> None:
    run(ws, *company_contact_call())
    queued = ws.push_status()["queued_total"]
    wire.add(
        "/batch/create",
        477,
        error_body("MIGRATION_IN_PROGRESS", "Migration in progress"),
        {"Retry-After": "7200"},
    )
    before = datetime.now(UTC).timestamp()
    with pytest.raises(HubSpotMigrating) as raised:
        drain(ws, [])
    assert 7200 <= raised.value.until - before < 7300
    assert ws.push_failures() == []  # not the inputs' fault
    status = ws.push_status()
    assert status["pause_reason"] == "migration"
    assert status["queued_total"] == queued
    # Every process holds: the next push sends nothing until the time HubSpot said.
    requests = hub.stats()["requests"]
    with pytest.raises(HubSpotMigrating):
        drain(ws, [])
    assert hub.stats()["requests"] == requests
    assert hub.objects("companies") == []


def test_the_push_loop_waits_out_a_migration_rather_than_retrying_every_minute() -> None:
    now = 1_000_000.0

    def push_once() -> int:
        raise HubSpotMigrating(now + 7200)

    loop = PushLoop(push_once, clock=lambda: now)
    assert loop.step() == 3600.0


# ------------------------------------------------------------------ daily reset


def test_a_daily_429_looks_again_by_the_portals_own_midnight_not_utc_midnight(
    db_url: str,
) -> None:
    """A portal on US Eastern time resets at 05:00 UTC; its DAILY 429 at 04:50 UTC must not
    hold the push until the next UTC midnight, 19 hours after HubSpot's reset."""
    ws = Workspace(db_url)
    now = [datetime(2026, 11, 2, 4, 50, tzinfo=UTC).timestamp()]
    budget = RateBudget(ws.engine, "app", 10, clock=lambda: now[0], sleep=lambda s: None)
    stamp = budget.acquire()
    budget.observe(Answer(429, {"policyName": "DAILY", "errorType": "RATE_LIMIT"}), stamp)
    with ws.engine.connect() as connection:
        row = push_lease.read_budget(connection, "app")
    assert row is not None and row.pause_reason == "daily"
    eastern_midnight = datetime(2026, 11, 2, 5, 0, tzinfo=UTC).timestamp()
    assert row.paused_until is not None and now[0] < row.paused_until <= eastern_midnight
    with pytest.raises(DailyLimitReached):
        budget.acquire()
    now[0] = eastern_midnight
    budget.acquire()  # HubSpot has reset: the push goes on
    ws.close()


def test_a_daily_limit_during_a_push_is_tried_again_within_a_quarter_hour(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, *company_contact_call())
    hub.set_faults(daily_cap=hub.stats()["requests"])
    before = datetime.now(UTC).timestamp()
    with pytest.raises(DailyLimitReached) as raised:
        drain(ws, [])
    assert raised.value.until - before <= 900.0
    assert ws.push_status()["pause_reason"] == "daily"


# ------------------------------------------------------------------ tasks


def test_a_tasks_hs_timestamp_is_its_due_date(ws: Workspace, hub: HubSpotDouble) -> None:
    run(
        ws,
        *company_contact_call(),
        ev(
            "activity",
            "2026-11-01T11:00:00Z",
            activity="task",
            external_id="t-1",
            owner="u-1",
            properties={
                "subject": "Send the proposal",
                "due": "2026-11-05T15:00:00Z",
                "status": "not_started",
            },
            associations=[{"object": "contact", "external_id": "p-1"}],
        ),
    )
    assert drain(ws, []).failures == 0
    [task] = hub.objects("tasks")
    assert task["properties"]["hs_task_subject"] == "Send the proposal"
    assert task["properties"]["hs_timestamp"] == "2026-11-05T15:00:00.000Z"


def test_a_meetings_hs_timestamp_is_its_start(ws: Workspace, hub: HubSpotDouble) -> None:
    """Booked on the 1st for the 2nd: the timeline shows it on the 2nd (it showed the day it
    was booked, a day off)."""
    run(
        ws,
        *company_contact_call(),
        ev(
            "activity",
            "2026-11-01T10:20:00Z",
            activity="meeting",
            external_id="m-1",
            owner="u-1",
            properties={
                "title": "Demo",
                "start": "2026-11-02T14:00:00Z",
                "end": "2026-11-02T14:30:00Z",
            },
            associations=[{"object": "contact", "external_id": "p-1"}],
        ),
    )
    assert drain(ws, []).failures == 0
    [meeting] = hub.objects("meetings")
    assert meeting["properties"]["hs_timestamp"] == "2026-11-02T14:00:00.000Z"
    assert meeting["properties"]["hs_meeting_start_time"] == "2026-11-02T14:00:00.000Z"


# ------------------------------------------------------------------ the stand-in


def test_the_stand_in_refuses_an_invalid_email_as_hubspot_does(hub: HubSpotDouble) -> None:
    inputs = [
        {"properties": {"email": email}, "associations": [], "objectWriteTraceId": f"t{i}"}
        for i, email in enumerate(["ok@globex.test", "example.lcom", "dsfsafas@", "kim@globex"])
    ]
    with httpx.Client(
        transport=hub.transport(),
        base_url="https://api.hubapi.com",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        response = client.post("/crm/v3/objects/contacts/batch/create", json={"inputs": inputs})
        assert response.status_code == 207
        body = response.json()
        assert [r["properties"]["email"] for r in body["results"]] == ["ok@globex.test"]
        assert body["numErrors"] == 3
        for error in body["errors"]:
            assert error["category"] == "VALIDATION_ERROR"
            details = json.loads(error["message"].split(": ", 1)[1])
            assert [d["error"] for d in details] == ["INVALID_EMAIL"]
        # Without trace ids the batch is refused whole, naming the bad address.
        plain = [{"properties": {"email": "example.lcom"}, "associations": []}]
        refused = client.post("/crm/v3/objects/contacts/batch/create", json={"inputs": plain})
        assert refused.status_code == 400
        assert "Email address example.lcom is invalid" in refused.json()["message"]
    assert len(hub.objects("contacts")) == 1


def test_a_portal_that_cannot_be_reached_is_named_with_the_cause() -> None:
    from leadsync.destinations.hubspot.client import HubSpotClient, HubSpotUnavailable
    from leadsync.settings.workspace import DestinationSettings

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    settings = DestinationSettings(kind="hubspot", base_url="http://127.0.0.1:9")
    client = HubSpotClient(
        settings, None, token=TOKEN, transport=httpx.MockTransport(refuse), sleep=lambda _s: None
    )
    with pytest.raises(HubSpotUnavailable) as raised:
        client.request("GET", "/crm/v3/owners/")
    text = str(raised.value)
    assert "GET http://127.0.0.1:9/crm/v3/owners/ failed 12 times" in text
    assert "ConnectError: [Errno 111] Connection refused" in text
    assert TOKEN not in text


def test_an_answer_echoing_the_request_shows_no_token() -> None:
    """A proxy or gateway that echoes the request in its error answer (HubSpot does not)
    put the token into the message leadsync shows, logs and keeps with refused inputs."""
    from leadsync.destinations.hubspot.client import HubSpotClient, HubSpotRefused
    from leadsync.settings.workspace import DestinationSettings

    def echo(request: httpx.Request) -> httpx.Response:
        headers = dict(request.headers)
        return httpx.Response(
            401, json={"category": "INVALID_AUTHENTICATION", "message": f"echo: {headers}"}
        )

    settings = DestinationSettings(kind="hubspot", base_url="http://127.0.0.1:9")
    client = HubSpotClient(settings, None, token=TOKEN, transport=httpx.MockTransport(echo))
    with pytest.raises(HubSpotRefused) as refused:
        client.request("GET", "/crm/v3/owners/")
    assert TOKEN not in str(refused.value)
    assert "'authorization': 'Bearer ***'" in str(refused.value)


# ------------------------------------------- a create applied, its answer lost, resent


@pytest.mark.parametrize("calls", [40, 1], ids=["a batch", "one call"])
@pytest.mark.parametrize(
    "conflict", ["409 naming one", "400 unique value taken", "400 for the whole batch"]
)
def test_a_create_whose_answer_was_lost_is_settled_by_one_read_not_by_halves(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch, calls: int, conflict: str
) -> None:
    """HubSpot made the calls, but the answer never came (a read timeout); the client
    resends and HubSpot refuses the whole batch: a 409 naming one existing call, or — its
    answer for a unique property's value taken, the stand-in's — a 400 VALIDATION_ERROR coded
    CONFLICTING_UNIQUE_VALUE on leadsync_id that names no call, per input (a 207) or for
    the whole batch. One batch read by
    leadsync_id finds them all — before, the batch was halved down to single inputs (79
    creates for 40, every one an error answer), and a 400 left every call an open failure
    though HubSpot held it."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    inner = hub.transport()
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        creates = sum(p.endswith("/calls/batch/create") for p in seen)
        if (
            request.url.path.endswith("/calls/batch/create")
            and creates == 2
            and conflict == "409 naming one"
        ):
            first = hub.objects("calls")[0]["id"]
            message = f"A call with leadsync_id already exists. Existing ID: {first}"
            return httpx.Response(409, json=error_body("CONFLICT", message))
        if (
            request.url.path.endswith("/calls/batch/create")
            and creates == 2
            and conflict == "400 for the whole batch"
        ):
            taken = {"isValid": False, "message": "taken", "error": "CONFLICTING_UNIQUE_VALUE"}
            message = "Property values were not valid: " + json.dumps(
                [taken | {"name": "leadsync_id"}]
            )
            return httpx.Response(400, json=error_body("VALIDATION_ERROR", message))
        response = inner.handle_request(request)
        if request.url.path.endswith("/calls/batch/create") and creates == 1:
            raise httpx.ReadTimeout("the answer was lost", request=request)  # applied, unsaid
        return response

    with Workspace(db_url, hubspot_transport=httpx.MockTransport(answer)) as ws:
        ws.apply_config(config())
        ws.hubspot_setup()
        contact = json.loads(contact_line("p-1", "u-1"))
        events = [
            ev("activity", "2026-11-01T10:00:00Z", activity="call", external_id=f"c-{i}",
               owner="u-1", properties={"duration_s": 60, "outcome": "connected"},
               associations=[{"object": "contact", "external_id": "p-1"}])
            for i in range(calls)
        ]  # fmt: skip
        run(ws, contact, *events)
        result = drain(ws, [])
        assert result.failures == 0 and ws.push_failures() == []
        held = hub.objects("calls")
        assert len(held) == calls and hub.duplicates("calls", "leadsync_id") == {}
        creates = [p for p in seen if p.endswith("/calls/batch/create")]
        reads = [p for p in seen if p.endswith("/calls/batch/read")]
        # Sent, resent (refused), one read back — none where the 409 names the one call.
        named = conflict == "409 naming one" and calls == 1
        assert (len(creates), len(reads)) == (2, 0 if named else 1)
        assert ws.push_status()["queued_total"] == 0
        # Each call is the one HubSpot holds, linked to the contact as its create said.
        with ws.engine.connect() as connection:
            pushed = push_store.load_pushed(connection, "activity", range(1, calls + 10))
        assert sorted(row["hubspot_id"] for row in pushed.values()) == sorted(
            str(o["id"]) for o in held
        )
        assert hub.association_count("calls", "contacts") == calls
