"""HubSpot's 5xx answers and unreachable moments: resent with capped exponential backoff and
jitter over about a minute or two (HubSpot: pause a few seconds, then retry), Retry-After
honoured; a short outage is waited out. Every wait goes through an injected ``sleep`` that
advances a manual clock: nothing here sleeps for real or reads the wall clock."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from leadsync.destinations.hubspot.client import (
    LOCKED_WAIT_S,
    HubSpotClient,
    HubSpotUnavailable,
    LeaseLost,
    RetryPolicy,
)
from leadsync.destinations.hubspot.fake import HubSpotDouble, ManualClock
from leadsync.destinations.hubspot.pusher import LEASE, LEASE_TTL_S
from leadsync.settings.workspace import DestinationSettings
from leadsync.store.database import begin_writing
from leadsync.store.push_lease import take_lease
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import OWNERS, run
from tests.test_hubspot_push import company_contact_call, config

SETTINGS = DestinationSettings(kind="hubspot", base_url="http://hubspot.test")


class Sleeps:
    """The injected sleep: records each wait and moves the stand-in's clock by it."""

    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds)


def scripted(*answers: int | Exception, headers: dict[str, str] | None = None) -> Any:
    """A transport answering in turn: a status (a HubSpot error body, or 200 ``{}``), or
    raising the exception; then 200 for ever. Returns (transport, requests seen)."""
    seen: list[str] = []
    plan = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        step = plan.pop(0) if plan else 200
        if isinstance(step, Exception):
            raise step
        if step == 200:
            return httpx.Response(200, json={"results": []})
        body = {"status": "error", "message": "Service Unavailable", "category": "UNAVAILABLE"}
        return httpx.Response(step, json=body, headers=headers or {})

    return httpx.MockTransport(answer), seen


def client(transport: httpx.MockTransport, sleeps: Sleeps, **options: Any) -> HubSpotClient:
    return HubSpotClient(
        SETTINGS,
        None,
        token=TOKEN,
        transport=transport,
        sleep=sleeps,
        rng=random.Random(3),
        **options,
    )


# ------------------------------------------------------------------ the policy


def test_the_waits_double_up_to_a_cap_with_jitter_never_below_half_a_step() -> None:
    policy = RetryPolicy()
    rng = random.Random(1)
    steps = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30]
    for retry, step in enumerate(steps, start=1):
        waits = [policy.wait_s(retry, rng) for _ in range(200)]
        assert step / 2 <= min(waits) and max(waits) <= step
        assert max(waits) - min(waits) > step / 4  # jittered, not one value
    assert policy.max_attempts == len(steps) + 1
    # About one to two minutes in all: a short outage is waited out.
    least, most = policy.span_s()
    assert (round(least, 2), round(most, 2)) == (55.55, 111.1)


# ------------------------------------------------------------------ the client


def test_5xx_answers_are_resent_over_the_policys_span_then_given_up() -> None:
    transport, seen = scripted(*([503] * 20))
    sleeps = Sleeps()
    with pytest.raises(HubSpotUnavailable) as raised:
        client(transport, sleeps).request("GET", "/crm/v3/owners/")
    assert len(seen) == 12
    assert len(sleeps.waits) == 11  # none after the last attempt
    least, most = RetryPolicy().span_s()
    assert least <= sum(sleeps.waits) <= most
    assert sleeps.waits == sorted(sleeps.waits[:8]) + sleeps.waits[8:]  # growing, then capped
    assert "failed 12 times; last: HTTP 503 UNAVAILABLE: Service Unavailable" in str(raised.value)


@pytest.mark.parametrize("failure", [502, 503, 504, 521, httpx.ConnectError("refused")])
def test_a_short_outage_is_waited_out(failure: int | Exception) -> None:
    # Nine failures in a row, over at least 25 s: the old 6 attempts within ~3 s gave up at
    # the sixth.
    transport, seen = scripted(*([failure] * 9))
    sleeps = Sleeps()
    answer = client(transport, sleeps).request("GET", "/crm/v3/owners/")
    assert answer.status == 200 and len(seen) == 10
    assert sum(sleeps.waits) >= (0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 6.4 + 12.8 + 25.6) / 2


def test_retry_after_is_honoured_and_a_long_one_fails_at_once() -> None:
    transport, seen = scripted(503, headers={"Retry-After": "7"})
    sleeps = Sleeps()
    assert client(transport, sleeps).request("GET", "/crm/v3/owners/").ok
    assert sleeps.waits == [7.0]  # not the first step's 0.05-0.1 s
    transport, seen = scripted(503, 503, headers={"Retry-After": "600"})
    sleeps = Sleeps()
    with pytest.raises(HubSpotUnavailable) as raised:
        client(transport, sleeps).request("GET", "/crm/v3/owners/")
    assert len(seen) == 1 and sleeps.waits == []
    assert "asks to retry after 600 s (Retry-After), longer than 120 s" in str(raised.value)


@pytest.mark.parametrize(("given", "waited"), [({"Retry-After": "3"}, [3.0]), ({}, [1.0])])
def test_a_429_waits_as_its_retry_after_says_else_a_second(
    given: dict[str, str], waited: list[float]
) -> None:
    """A secondly 429 was resent at once when the budget saw room left in its window."""
    transport, seen = scripted(429, headers=given)
    sleeps = Sleeps()
    assert client(transport, sleeps).request("GET", "/crm/v3/owners/").ok
    assert len(seen) == 2 and sleeps.waits == waited


def test_429s_asking_long_waits_stop_before_the_push_lease_could_lapse() -> None:
    transport, seen = scripted(*([429] * 10), headers={"Retry-After": "600"})
    sleeps = Sleeps()
    with pytest.raises(HubSpotUnavailable, match="rate limited for more than 30 s"):
        client(transport, sleeps).request("GET", "/crm/v3/owners/")
    assert sleeps.waits == [10.0, 10.0, 10.0] and len(seen) == 4


def test_a_423_still_waits_at_least_two_seconds() -> None:
    transport, _ = scripted(423)
    sleeps = Sleeps()
    client(transport, sleeps).request("GET", "/crm/v3/owners/")
    assert sleeps.waits and sleeps.waits[0] >= LOCKED_WAIT_S


def test_the_policy_and_the_attempts_are_the_callers() -> None:
    transport, seen = scripted(*([500] * 5))
    sleeps = Sleeps()
    quick = RetryPolicy(max_attempts=3, first_wait_s=0.01, max_wait_s=0.02)
    with pytest.raises(HubSpotUnavailable, match="failed 3 times"):
        client(transport, sleeps, retry=quick).request("GET", "/crm/v3/owners/")
    assert len(seen) == 3 and all(w <= 0.02 for w in sleeps.waits)
    transport, seen = scripted(*([500] * 5))
    with pytest.raises(HubSpotUnavailable, match="failed 1 times"):
        client(transport, Sleeps(), max_attempts=1).request("GET", "/crm/v3/owners/")


# ------------------------------------------------------------------ the stand-in and the push


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def down(clock: ManualClock) -> Iterator[HubSpotDouble]:
    double = HubSpotDouble(TOKEN, clock=clock, sleep=clock.sleep)
    for owner in OWNERS:
        double.add_owner(str(owner["email"]), owner_id=str(owner["id"]))
    yield double
    double.assert_contract_kept()


def test_the_stand_in_is_down_for_the_outage_it_is_given(
    down: HubSpotDouble, clock: ManualClock
) -> None:
    http = httpx.Client(
        transport=down.transport(),
        base_url="http://hubspot.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert down.set_faults(outage_s=30)["outage_s"] == 30
    answer = http.get("/crm/v3/owners/", params={"limit": 10})
    assert answer.status_code == 503 and "Retry-After" not in answer.headers
    assert answer.json()["category"] == "SERVICE_UNAVAILABLE"
    clock.advance(29.9)
    assert http.get("/crm/v3/owners/", params={"limit": 10}).status_code == 503
    clock.advance(0.2)
    assert http.get("/crm/v3/owners/", params={"limit": 10}).status_code == 200
    with pytest.raises(ValueError, match="outage_s: -1 is negative"):
        down.set_faults(outage_s=-1)
    answer = http.post("/_double/faults", json={"outage_s": 5})
    assert answer.json()["outage_s"] == 5
    assert http.get("/crm/v3/owners/", params={"limit": 10}).status_code == 503


def test_a_push_during_a_short_hubspot_outage_goes_through(
    db_url: str, down: HubSpotDouble, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    ws = Workspace(db_url, hubspot_transport=down.transport())
    try:
        ws.apply_config(config())
        ws.hubspot_setup()
        run(ws, *company_contact_call())
        down.set_faults(outage_s=45)  # HubSpot answers 503 for 45 s
        sleeps = Sleeps(clock)
        pusher = ws.pusher(sleep=sleeps, rng=random.Random(5))
        try:
            result = pusher.drain()
        finally:
            pusher.release()
        assert result.failures == 0 and ws.push_status()["queued_total"] == 0
        assert len(down.objects("companies")) == 1 and len(down.objects("contacts")) == 1
        assert len(down.objects("calls")) == 1
        assert sum(sleeps.waits) >= 45  # waited out on the stand-in's clock
        assert json.dumps(down.stats()).count("503") >= 1
    finally:
        ws.close()


def _unresolved() -> httpx.ConnectError:
    """What httpx raises for a host name that does not resolve (the resolver's error as its
    cause)."""
    import socket

    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as cause:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from cause
    except httpx.ConnectError as exc:
        return exc


def _refused() -> httpx.ConnectError:
    """What httpx raises where nothing listens on the port (a stand-in not started)."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as cause:
            raise httpx.ConnectError("[Errno 111] Connection refused") from cause
    except httpx.ConnectError as exc:
        return exc


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (_unresolved, "[Errno -2] Name or service not known"),  # a mistyped host, no network
        (_refused, "[Errno 111] Connection refused"),  # nothing listens: a stand-in not started
    ],
)
def test_a_base_url_that_cannot_be_reached_fails_within_a_few_tries_naming_the_key(
    error: Callable[[], httpx.ConnectError], said: str
) -> None:
    # Said in a second or so, not after minutes of waits.
    transport, seen = scripted(*[error() for _ in range(20)])
    sleeps = Sleeps()
    with pytest.raises(HubSpotUnavailable) as raised:
        client(transport, sleeps).request("GET", "/crm/v3/owners/")
    assert len(seen) == 3 and sum(sleeps.waits) <= 0.3
    assert f"failed 3 times; last: ConnectError: {said} (check destination.base_url: " in str(
        raised.value
    )


def test_a_push_waiting_out_an_outage_longer_than_its_lease_keeps_it(
    db_url: str, down: HubSpotDouble, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HubSpot answers 503 for 70 s; the policy waits it out (56–111 s of waits). The push's
    lease lasts 60 s unless renewed: it is renewed between the attempts, so another pusher
    trying at any moment of the outage finds it held (before: it took the lease over after
    a minute and pushed the same changes beside the first)."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    ws = Workspace(db_url, hubspot_transport=down.transport())
    tries: list[bool] = []

    class Contending(Sleeps):
        def __call__(self, seconds: float) -> None:
            super().__call__(seconds)
            with begin_writing(ws.engine) as connection:  # another pusher, now
                tries.append(take_lease(connection, LEASE, "other", clock(), LEASE_TTL_S))

    try:
        ws.apply_config(config())
        ws.hubspot_setup()
        run(ws, *company_contact_call())
        down.set_faults(outage_s=70)
        sleeps = Contending(clock)
        pusher = ws.pusher(sleep=sleeps, rng=random.Random(5))
        pusher.clock = clock
        try:
            result = pusher.drain()
        finally:
            pusher.release()
        assert sum(sleeps.waits) >= 70 > LEASE_TTL_S
        assert tries and not any(tries)  # never another's
        assert result.failures == 0 and ws.push_status()["queued_total"] == 0
        assert len(down.objects("calls")) == 1
    finally:
        ws.close()


def test_a_pusher_whose_lease_another_took_stops_sending() -> None:
    """Its lease lapsed (the process stopped for a minute) and another pusher holds it: the
    next renewal between attempts raises, and nothing more is sent."""
    transport, seen = scripted(503, 503, 503)
    sent = client(transport, Sleeps())

    def lost() -> None:
        if len(seen) >= 2:
            raise LeaseLost("worker-1 (host:1)")

    sent.keep_alive = lost
    with pytest.raises(LeaseLost, match="another pusher holds it now"):
        sent.request("GET", "/crm/v3/owners/")
    assert len(seen) == 2
