"""HubSpot over HTTP: one request budget per app shared through the database, retries with
backoff, and HubSpot's error bodies read into one error type.

The HTTP transport is the seam (httpx): tests pass the in-process stand-in's transport, the
service uses the network. The token is read from the environment when the client is made and
lives only in the ``Authorization`` header; no message, log line or error carries it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import socket
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from leadsync.errors import TransientError, UserError
from leadsync.logs import hide
from leadsync.settings import DestinationSettings

if TYPE_CHECKING:  # the budget module reads this one's answers and errors
    from leadsync.destinations.hubspot.budget import RateBudget

log = logging.getLogger("leadsync.hubspot")

# The 429 of the search endpoints' own limit (a few per second): the search waits a second
# and is resent; the other requests go on.
SEARCH_POLICY = "SECONDLY"
# HubSpot resets its daily limit at midnight in the portal's time zone, which the API does not
# tell (developers.hubspot.com/apisbytier, "API usage guidelines"). Time zones are whole
# quarter hours off UTC, so after a DAILY 429 the push looks again at the next quarter hour:
# one request each time (at most 96 a day), where waiting for UTC midnight would stall a
# portal in the Americas for most of a day after its own reset.
DAILY_PROBE_S = 900.0
# 423 Locked: HubSpot's lock lasts 2 s; wait at least that before the request is resent
# (docs/api-reference/error-handling).
LOCKED_WAIT_S = 2.0
# 477 Migration in Progress: the portal moves between data centres and HubSpot says in
# Retry-After (seconds, up to a day) when to come back. A wait up to this long is slept and
# the request resent; a longer one (or none said) pauses the push (HubSpotMigrating).
MIGRATION_SLEEP_MAX_S = 60.0
MIGRATION_DEFAULT_WAIT_S = 300.0


# A 429's Retry-After is taken up to the rate limit's own window, and for so long in all.
RATE_LIMIT_WAIT_MAX_S = 10.0
RATE_LIMITED_FOR_MAX_S = 30.0
#: The longest sleep between two calls of the client's ``keep_alive`` (the push lease, 60 s,
#: is renewed there once a quarter of it has passed).
KEEP_ALIVE_EVERY_S = 5.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a request HubSpot answered 5xx (or that did not reach it) is sent again.

    HubSpot's advice for 502/504, 503 and 521 is to pause a few seconds, then retry
    (docs/api-reference/error-handling). The waits grow from ``first_wait_s``, doubling, up
    to ``max_wait_s`` each, with "equal jitter" (each is half its step plus a random part of
    the other half) so that processes hit by one outage do not come back together, and
    never shorter than half a step, so the span is what it says: with the defaults the
    request is sent ``max_attempts`` = 12 times over 56 to 111 s of waiting — a lone 5xx
    costs a tenth of a second, a few seconds' pause comes by the fifth resend, a short
    HubSpot outage is waited out, a long one still ends in HubSpotUnavailable (the push
    loop tries again on its next cycle; a CLI ``push`` exits 1: try again). A Retry-After
    that HubSpot sends is honoured (the wait is at least that); one longer than
    ``max_retry_after_s`` is not slept through: the request fails at once, saying so."""

    max_attempts: int = 12
    first_wait_s: float = 0.1
    max_wait_s: float = 30.0
    max_retry_after_s: float = 120.0

    def wait_s(self, retry: int, rng: random.Random) -> float:
        """The pause before the ``retry``-th resend (1 for the first)."""
        step = min(self.max_wait_s, self.first_wait_s * 2.0 ** max(retry - 1, 0))
        return step / 2 + rng.uniform(0, step / 2)

    def span_s(self) -> tuple[float, float]:
        """The least and the most time waited between the first and the last attempt."""
        steps = [
            min(self.max_wait_s, self.first_wait_s * 2.0**k) for k in range(self.max_attempts - 1)
        ]
        return sum(steps) / 2, float(sum(steps))


class HubSpotRefused(UserError):
    """HubSpot refused the credentials (401) or a scope is missing (403)."""


class PushPaused(TransientError):
    """HubSpot said to stop for a while: pushing pauses until ``until`` (epoch seconds), every
    process (the loop waits it out: :mod:`leadsync.destinations.hubspot.loop`)."""

    def __init__(self, until: float, why: str, then: str = "pushing pauses until") -> None:
        self.until = until
        moment = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(f"{why}; {then} {moment}")


class DailyLimitReached(PushPaused):
    """HubSpot's daily limit is used up."""

    def __init__(self, until: float) -> None:
        super().__init__(
            until,
            "HubSpot's daily request limit is reached (it resets at midnight in the portal's "
            "time zone)",
            "pushing tries again at",
        )


# A host name that does not resolve, or a host where nothing listens on the port, is tried
# this many times (a second or so), not over the policy's minutes: it is a wrong base_url, a
# stand-in not started or no network far more often than a blip.
UNRESOLVED_ATTEMPTS = 3


def _unresolved(exc: BaseException) -> bool:
    """Whether a transport error comes from a host name that does not resolve, or a
    connection refused (nothing listens there)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror | ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class HubSpotUnavailable(TransientError):
    """HubSpot kept answering 5xx (or could not be reached) through every attempt."""


class LeaseLost(TransientError):
    """Another pusher took the lease over from this one (which could not renew it in time):
    this one stops sending; the queue is the other's now."""

    def __init__(self, holder: str) -> None:
        super().__init__(
            f"the push lease lapsed while {holder} waited and another pusher holds it now: "
            "this one stops (the other pushes the queue; what this one sent is matched by "
            "leadsync_id)"
        )


class HubSpotMigrating(PushPaused):
    """HubSpot answered 477 Migration in Progress, for longer than is worth sleeping through
    (its Retry-After header says until when)."""

    def __init__(self, until: float) -> None:
        super().__init__(
            until, "HubSpot is migrating the portal between data hosting locations (477)"
        )


@dataclass
class Answer:
    """One HubSpot response: status, JSON body (``{}`` when none), headers."""

    status: int
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def error_text(self) -> str:
        message = str(self.body.get("message") or f"HTTP {self.status}")
        category = self.body.get("category")
        return f"{category}: {message}" if category else message


def next_daily_probe(now: float) -> float:
    """When to look again after a DAILY 429: the next quarter hour (a midnight somewhere)."""
    return (math.floor(now / DAILY_PROBE_S) + 1) * DAILY_PROBE_S


def retry_after_s(answer: Answer) -> float | None:
    """The Retry-After header in seconds (None: absent or not a number of seconds)."""
    value = answer.header("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def read_token(settings: DestinationSettings) -> str:
    token = os.environ.get(settings.token_env, "").strip()
    hide(token)
    if not token:
        raise UserError(
            f"the HubSpot token is missing: set the environment variable {settings.token_env} "
            "(destination.token_env) to a private app or service key token"
        )
    if not (token.isascii() and token.isprintable()) or any(ch.isspace() for ch in token):
        # An HTTP header cannot carry it (it ended in the driver's traceback); never shown.
        raise UserError(
            f"the HubSpot token in {settings.token_env} has a character no token has (a space, "
            "a letter outside ASCII, a control character; not shown): copy the private app's "
            "token again"
        )
    return token


class HubSpotClient:
    """JSON requests to HubSpot through the shared budget, with bounded retries.

    5xx and network errors: capped exponential backoff with jitter and Retry-After honoured,
    as ``retry`` (:class:`RetryPolicy`) says, then HubSpotUnavailable; ``sleep`` and ``rng``
    are the seams tests replace (nothing waits for real). 423 Locked: the same, waiting at
    least 2 s. A TEN_SECONDLY 429: wait
    and resend (it does not use an attempt, up to ``max_rate_limited``). A DAILY 429:
    DailyLimitReached. 477: its Retry-After slept when short, else HubSpotMigrating.
    401/403: HubSpotRefused. Any other answer (2xx, 207, 4xx) is returned for the caller to
    read per input; one whose status the caller names in ``expected`` (the 404 of an
    existence check) is not counted as an error answer.
    """

    def __init__(
        self,
        settings: DestinationSettings,
        budget: RateBudget | None,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        max_attempts: int | None = None,
        max_rate_limited: int = 50,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.budget = budget
        retry = retry or RetryPolicy()
        if max_attempts is not None:  # a shorthand for the attempts alone
            retry = replace(retry, max_attempts=max_attempts)
        self.retry = retry
        self.max_rate_limited = max_rate_limited
        self.sleep = sleep
        # Called between a request's attempts, at least every KEEP_ALIVE_EVERY_S of waiting
        # (the pusher renews its lease there; it may raise to stop the request).
        self.keep_alive: Callable[[], None] | None = None
        self.rng = rng or random.Random()
        self.requests = 0
        secret = token if token is not None else read_token(settings)
        # What an answer echoing the request (a proxy, a gateway) would show: masked in it.
        self._secret = secret
        self.http = httpx.Client(
            base_url=settings.base_url,
            transport=transport,
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {secret}", "User-Agent": "leadsync"},
        )

    def close(self) -> None:
        self.flush()
        self.http.close()

    def flush(self) -> None:
        """Write what this process knows of its requests into the shared budget."""
        if self.budget is not None:
            self.budget.flush()

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def max_attempts(self) -> int:
        return self.retry.max_attempts

    def _pause(self, attempt: int, what: str, least_s: float = 0.0) -> None:
        """After failed attempt number ``attempt`` (``what`` went wrong): wait before the
        next one, at least ``least_s``; nothing after the last."""
        if attempt >= self.retry.max_attempts:
            return
        wait = max(self.retry.wait_s(attempt, self.rng), least_s)
        log.warning(
            "%s; attempt %d of %d, next in %.1f s", what, attempt, self.retry.max_attempts, wait
        )
        self._wait(wait)

    def _wait(self, seconds: float) -> None:
        """Sleep before an attempt, ``keep_alive`` called at least every KEEP_ALIVE_EVERY_S
        (a 5xx's waits add up to a minute or two, and a Retry-After may ask for more)."""
        if self.keep_alive is None:
            self.sleep(seconds)
            return
        while True:
            self.keep_alive()
            if seconds <= 0:
                return
            step = min(seconds, KEEP_ALIVE_EVERY_S)
            self.sleep(step)
            seconds -= step

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        *,
        expected: Collection[int] = (),
    ) -> Answer:
        attempt = 0
        limited = 0
        rate_waited = 0.0
        last = ""
        while attempt < self.max_attempts:
            stamp = self.budget.acquire() if self.budget is not None else None
            self.requests += 1
            try:
                response = self.http.request(method, path, json=body, params=params)
            except httpx.TransportError as exc:
                if self.budget is not None and stamp is not None:
                    self.budget.settle(stamp)
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                attempt += 1
                if _unresolved(exc) and attempt >= UNRESOLVED_ATTEMPTS:
                    # a name that does not resolve, nothing listening: a typo, said at once
                    last += f" (check destination.base_url: {self.settings.base_url})"
                    break
                self._pause(attempt, f"HubSpot {method} {path}: {last}")
                continue
            answer = _answer(response, self._secret)
            if self.budget is not None:
                self.budget.observe(answer, stamp, expected=expected)
            if answer.status == 429:
                if answer.body.get("policyName") == "DAILY":
                    raise DailyLimitReached(next_daily_probe(time.time()))
                limited += 1
                if limited > self.max_rate_limited:
                    raise HubSpotUnavailable(
                        f"HubSpot {method} {path}: rate limited {limited} times in a row"
                    )
                asked = retry_after_s(answer)  # HubSpot does not promise it; when given, taken
                if asked is not None:
                    # Within its 10-second window, and never so long in all that the push's
                    # lease (60 s) could lapse meanwhile: then the loop tries again later.
                    pause = min(asked, RATE_LIMIT_WAIT_MAX_S)
                    rate_waited += pause
                    if rate_waited > RATE_LIMITED_FOR_MAX_S:
                        raise HubSpotUnavailable(
                            f"HubSpot {method} {path}: rate limited for more than "
                            f"{RATE_LIMITED_FOR_MAX_S:.0f} s (Retry-After); try again later"
                        )
                    self._wait(pause)
                elif self.budget is None or answer.body.get("policyName") == SEARCH_POLICY:
                    self._wait(1.0)
                continue
            if answer.status == 477:
                wait = retry_after_s(answer)
                if wait is None or wait > MIGRATION_SLEEP_MAX_S:
                    wait = MIGRATION_DEFAULT_WAIT_S if wait is None else wait
                    raise HubSpotMigrating(time.time() + wait)
                last = f"HTTP 477 {answer.error_text()}"
                attempt += 1
                log.warning("HubSpot %s %s: %s; retrying in %.0f s", method, path, last, wait)
                self._wait(wait)
                continue
            if answer.status >= 500 or answer.status == 423:
                last = f"HTTP {answer.status} {answer.error_text()}"
                attempt += 1
                asked = retry_after_s(answer)
                if asked is not None and asked > self.retry.max_retry_after_s:
                    raise HubSpotUnavailable(
                        f"HubSpot {method} {self.settings.base_url.rstrip('/')}{path}: {last}; "
                        f"it asks to retry after {asked:.0f} s (Retry-After), longer than "
                        f"{self.retry.max_retry_after_s:.0f} s: try again later"
                    )
                least = LOCKED_WAIT_S if answer.status == 423 else 0.0
                self._pause(attempt, f"HubSpot {method} {path}: {last}", max(least, asked or 0))
                continue
            if answer.status in (401, 403):
                refused = (
                    f"HubSpot refused the token in {self.settings.token_env} (401): "
                    f"{answer.error_text()}"
                    if answer.status == 401
                    else f"HubSpot refused {method} {path} (403): {answer.error_text()}"
                    + _scopes_text(answer.body)
                )
                if self.budget is not None:
                    self.budget.refused(refused)
                raise HubSpotRefused(refused)
            return answer
        raise HubSpotUnavailable(
            f"HubSpot {method} {self.settings.base_url.rstrip('/')}{path} failed "
            f"{attempt} times; last: {last}"
        )


def _scopes_text(body: Mapping[str, Any]) -> str:
    scopes: list[str] = []
    for error in body.get("errors") or []:
        context = error.get("context") if isinstance(error, dict) else None
        if isinstance(context, dict):
            for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
                value = context.get(key)
                if isinstance(value, list):
                    scopes += [str(s) for s in value]
    return f"; missing scope: {', '.join(scopes)}" if scopes else ""


def _answer(response: httpx.Response, secret: str) -> Answer:
    """The response as an :class:`Answer`; the token, should the server echo the request
    (a debugging proxy, a gateway), is ``***`` in it: its text is shown, logged and kept
    with refused inputs."""
    body: dict[str, Any] = {}
    if response.content:
        text = response.text
        if secret and secret in text:
            text = text.replace(secret, "***")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = {"message": text[:500]}
        body = parsed if isinstance(parsed, dict) else {"results": parsed}
    return Answer(response.status_code, body, dict(response.headers))
