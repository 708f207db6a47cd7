"""HubSpot over HTTP: one request budget per app shared through the database, retries with
backoff, and HubSpot's error bodies read into one error type.

The HTTP transport is the seam (httpx): tests pass the in-process stand-in's transport, the
service uses the network. The token is read from the environment when the client is made and
lives only in the ``Authorization`` header; no message, log line or error carries it.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from leadsync.errors import TransientError, UserError
from leadsync.settings import DestinationSettings
from leadsync.store import push as push_store

log = logging.getLogger("leadsync.hubspot")

WINDOW_S = 10.0
# After a TEN_SECONDLY 429 every process holds its requests this long (the sliding log
# keeps the pace; the pause only lets HubSpot's own window move on).
TEN_SECONDLY_PAUSE_S = 0.5
# A plain 2xx's rate headers are saved (for `push status`) at most this often per process;
# errors, 429s and an exhausted window are saved at once.
HEADERS_SAVE_EVERY_S = 1.0
# Sent times are taken before the request leaves; HubSpot counts them when they arrive. The
# margin keeps a request that left a little late out of HubSpot's next window. (A server that
# stalls and then works through its backlog stamps several arrivals together: the stand-in,
# under CPU and GC pressure, counted up to 194-196 in one window whatever the margin, 0.1 to
# 0.5 s; those few 429s are resent. docs/PERFORMANCE.md)
WINDOW_MARGIN_S = 0.25


class HubSpotRefused(UserError):
    """HubSpot refused the credentials (401) or a scope is missing (403)."""


class DailyLimitReached(TransientError):
    """HubSpot's daily limit is used up; pushing pauses until ``until`` (epoch seconds)."""

    def __init__(self, until: float) -> None:
        self.until = until
        moment = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(f"HubSpot's daily request limit is reached; pushing pauses until {moment}")


class HubSpotUnavailable(TransientError):
    """HubSpot kept answering 5xx (or could not be reached) through every attempt."""


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


def next_utc_midnight(now: float) -> float:
    day = datetime.fromtimestamp(now, UTC).date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class RateBudget:
    """The app's request budget, in the workspace database so that every process (pushers,
    owner refreshes, test leads, on SQLite or PostgreSQL) draws from the same one.

    A sliding log: a request may go when fewer than ``per_10s`` were sent in the last ten
    seconds (plus a margin). HubSpot's headers narrow it: a lower ``-Max`` becomes the limit,
    ``-Remaining: 0`` holds requests for a second, and a DAILY 429 pauses everyone until the
    next UTC midnight."""

    def __init__(
        self,
        engine: Engine,
        app: str,
        per_10s: int,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.app = app
        self.per_10s = per_10s
        self.clock = clock
        self.sleep = sleep
        self._headers_saved_at = float("-inf")

    def acquire(self) -> None:
        """Wait for a slot and take it; raises DailyLimitReached while the daily pause holds."""
        while True:
            wait = self._try_acquire()
            if wait <= 0:
                return
            self.sleep(wait)

    def _try_acquire(self) -> float:
        with self.engine.begin() as connection:
            row = push_store.lock_budget(connection, self.app)
            now = self.clock()
            if row.paused_until is not None and row.paused_until > now:
                if row.pause_reason == "daily":
                    raise DailyLimitReached(row.paused_until)
                return row.paused_until - now
            window = WINDOW_S + WINDOW_MARGIN_S
            limit = self.per_10s
            if row.header_max is not None and 0 < row.header_max < limit:
                limit = row.header_max
            sent = [t for t in row.sent if t > now - window]
            if len(sent) >= limit:
                return sent[len(sent) - limit] + window - now + 0.001
            sent.append(now)
            row.sent = sent[-limit:]
            row.requests += 1
            push_store.write_budget(connection, row)
            return 0.0

    def observe(self, answer: Answer) -> None:
        """Take in HubSpot's rate headers and count errors; a 429 pauses every process.
        ``-Max`` lower than the configured limit becomes the limit."""
        headers = {k.lower(): v for k, v in answer.headers.items()}

        def number(name: str) -> int | None:
            value = headers.get(f"x-hubspot-ratelimit-{name}")
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        remaining = number("remaining")
        now = self.clock()
        if (
            answer.status < 400
            and remaining != 0
            and now - self._headers_saved_at < HEADERS_SAVE_EVERY_S
        ):
            return  # nothing to act on; the headers were saved a moment ago
        self._headers_saved_at = now
        with self.engine.begin() as connection:
            row = push_store.lock_budget(connection, self.app)
            if (m := number("max")) is not None:
                row.header_max = m
            if remaining is not None:
                row.header_remaining = remaining
            if (d := number("daily")) is not None:
                row.header_daily = d
            if (dr := number("daily-remaining")) is not None:
                row.header_daily_remaining = dr
            row.headers_at = now
            if answer.status >= 400:
                row.errors += 1
            if answer.status == 429:
                row.rate_limited += 1
                if answer.body.get("policyName") == "DAILY":
                    row.paused_until = next_utc_midnight(now)
                    row.pause_reason = "daily"
                elif remaining is None or remaining <= 0:
                    # HubSpot's window is full (or it does not say): everyone holds a moment.
                    # A 429 that reports room left is resent without holding anyone.
                    row.paused_until = now + TEN_SECONDLY_PAUSE_S
                    row.pause_reason = "ten_secondly"
            elif row.header_remaining == 0 and answer.ok:
                row.paused_until = now + TEN_SECONDLY_PAUSE_S
                row.pause_reason = "remaining 0"
            push_store.write_budget(connection, row)


def read_token(settings: DestinationSettings) -> str:
    token = os.environ.get(settings.token_env, "").strip()
    if not token:
        raise UserError(
            f"the HubSpot token is missing: set the environment variable {settings.token_env} "
            "(destination.token_env) to a private app or service key token"
        )
    return token


class HubSpotClient:
    """JSON requests to HubSpot through the shared budget, with bounded retries.

    5xx and network errors: exponential backoff with full jitter, ``max_attempts`` in all, then
    HubSpotUnavailable. A TEN_SECONDLY 429: wait and resend (it does not use an attempt, up
    to ``max_rate_limited``). A DAILY 429: DailyLimitReached. 401/403: HubSpotRefused.
    Any other answer (2xx, 207, 4xx) is returned for the caller to read per input.
    """

    def __init__(
        self,
        settings: DestinationSettings,
        budget: RateBudget | None,
        *,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = 6,
        max_rate_limited: int = 50,
        backoff_s: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.settings = settings
        self.budget = budget
        self.max_attempts = max_attempts
        self.max_rate_limited = max_rate_limited
        self.backoff_s = backoff_s
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.requests = 0
        self.http = httpx.Client(
            base_url=settings.base_url,
            transport=transport,
            timeout=timeout_s,
            headers={
                "Authorization": f"Bearer {token if token is not None else read_token(settings)}",
                "User-Agent": "leadsync",
            },
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        return float(self.rng.uniform(0, min(30.0, self.backoff_s * 2**attempt)))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Answer:
        attempt = 0
        limited = 0
        last = ""
        while attempt < self.max_attempts:
            if self.budget is not None:
                self.budget.acquire()
            self.requests += 1
            try:
                response = self.http.request(method, path, json=body, params=params)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}"
                attempt += 1
                log.warning("HubSpot %s %s: %s; retrying", method, path, last)
                self.sleep(self._backoff(attempt))
                continue
            answer = _answer(response)
            if self.budget is not None:
                self.budget.observe(answer)
            if answer.status == 429:
                if answer.body.get("policyName") == "DAILY":
                    raise DailyLimitReached(next_utc_midnight(time.time()))
                limited += 1
                if limited > self.max_rate_limited:
                    raise HubSpotUnavailable(
                        f"HubSpot {method} {path}: rate limited {limited} times in a row"
                    )
                if self.budget is None:
                    self.sleep(1.0)
                continue
            if answer.status >= 500:
                last = f"HTTP {answer.status} {answer.error_text()}"
                attempt += 1
                log.warning("HubSpot %s %s: %s; retrying", method, path, last)
                self.sleep(self._backoff(attempt))
                continue
            if answer.status == 401:
                raise HubSpotRefused(
                    f"HubSpot refused the token in {self.settings.token_env} (401): "
                    f"{answer.error_text()}"
                )
            if answer.status == 403:
                raise HubSpotRefused(
                    f"HubSpot refused {method} {path} (403): {answer.error_text()}"
                    + _scopes_text(answer.body)
                )
            return answer
        raise HubSpotUnavailable(
            f"HubSpot {method} {path} failed {self.max_attempts} times; last: {last}"
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


def _answer(response: httpx.Response) -> Answer:
    body: dict[str, Any] = {}
    if response.content:
        try:
            parsed = response.json()
        except ValueError:
            parsed = {"message": response.text[:500]}
        body = parsed if isinstance(parsed, dict) else {"results": parsed}
    return Answer(response.status_code, body, dict(response.headers))
