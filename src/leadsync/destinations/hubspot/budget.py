"""The app's HubSpot request budget, shared through the workspace database by every process
that calls HubSpot (pushers, owner refreshes, test leads): a sliding log of the last ten
seconds' requests, narrowed by HubSpot's rate headers and paused by its 429s and 477s
(:class:`RateBudget`). The client (:mod:`.client`) takes a slot before each request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection

from sqlalchemy.engine import Engine

from leadsync.destinations.hubspot.client import (
    MIGRATION_DEFAULT_WAIT_S,
    MIGRATION_SLEEP_MAX_S,
    SEARCH_POLICY,
    Answer,
    DailyLimitReached,
    HubSpotMigrating,
    next_daily_probe,
    retry_after_s,
)
from leadsync.store import push_lease
from leadsync.store.database import begin_writing

WINDOW_S = 10.0
# After a TEN_SECONDLY 429 every process holds its requests this long (the sliding log
# keeps the pace; the pause only lets HubSpot's own window move on).
TEN_SECONDLY_PAUSE_S = 0.5
# A plain 2xx's rate headers are saved (for `push status`) at most this often per process;
# errors, 429s and an exhausted window are saved at once.
HEADERS_SAVE_EVERY_S = 1.0
# HubSpot counts a request when it arrives, which is after we take its slot and before its
# answer reaches us. So a slot is stamped twice: when taken (in flight: it counts, whatever
# its age) and, settled, when its answer comes back. A new request may leave when fewer than
# the limit were answered within the window before it: those that HubSpot counted in the
# window ending at the new one's arrival are among them, whatever the network's or the
# server's delays. The margin only absorbs clock granularity.
WINDOW_MARGIN_S = 0.01
# A slot still in flight this long after it was taken (its process died) stops counting.
IN_FLIGHT_MAX_S = 120.0
# How soon to look again when the window is full of requests still in flight.
IN_FLIGHT_POLL_S = 0.02


class RateBudget:
    """The app's request budget, in the workspace database so that every process (pushers,
    owner refreshes, test leads, on SQLite or PostgreSQL) draws from the same one.

    A sliding log: a request may go when fewer than ``per_10s`` were answered in the last ten
    seconds or are still in flight (see WINDOW_MARGIN_S). An answer's time is kept in this
    process and written with its next transaction on the row (the next slot it takes, or
    headers it saves, or ``flush``): until then the slot counts as in flight, which only
    errs on the safe side. HubSpot's headers narrow it: a lower ``-Max`` becomes the limit,
    ``-Remaining: 0`` holds requests for a second, a DAILY 429 pauses everyone until the
    next quarter hour (see DAILY_PROBE_S), and a 477 until its Retry-After."""

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
        self._answered: dict[float, float] = {}  # slot stamp -> answer time, not yet written
        self._answered_lock = threading.Lock()
        # This process's threads take the row one at a time here: a thread waiting on this
        # lock wakes as soon as it is free, where one waiting on the database's lock polls
        # (SQLite's busy handler sleeps up to tens of milliseconds between tries).
        self._row_lock = threading.Lock()
        # Whether the row held a refusal when last read (each slot taken reads it): the next
        # answer HubSpot accepts clears it.
        self._refused_seen = False

    def acquire(self) -> float:
        """Wait for a slot and take it; raises DailyLimitReached while the daily pause holds.
        Returns the slot's stamp, for ``observe`` (or ``settle``) once the request is over."""
        while True:
            wait, stamp = self._try_acquire()
            if wait <= 0:
                return stamp
            self.sleep(wait)

    def _try_acquire(self) -> tuple[float, float]:
        """(seconds to wait, 0) or (0, the stamp of the slot taken)."""
        with self._row_lock, begin_writing(self.engine) as connection:
            row = push_lease.lock_budget(connection, self.app)
            self._refused_seen = row.refused is not None
            now = self.clock()
            if row.paused_until is not None and row.paused_until > now:
                if row.pause_reason == "daily":
                    raise DailyLimitReached(row.paused_until)
                if row.pause_reason == "migration":
                    raise HubSpotMigrating(row.paused_until)
                return row.paused_until - now, 0.0
            answered = self._write_answered(row)
            limit = self._limit(row)
            sent = _live(row.sent, now)
            if len(sent) >= limit:
                # When the oldest slot that keeps the window full stops counting.
                ends = sorted(t + WINDOW_S + WINDOW_MARGIN_S if t >= 0 else math.inf for t in sent)
                end = ends[len(ends) - limit]
                if answered:
                    push_lease.write_budget(connection, row)
                return (IN_FLIGHT_POLL_S if end == math.inf else end - now + 0.001), 0.0
            sent.append(-now)  # in flight
            row.sent = sent
            row.requests += 1
            push_lease.write_budget(connection, row)
            return 0.0, now

    def settle(self, stamp: float) -> None:
        """The request of slot ``stamp`` is over (answered, or failed on the network)."""
        with self._answered_lock:
            self._answered[stamp] = self.clock()

    def flush(self) -> None:
        """Write the answer times kept in this process (when it stops sending)."""
        if self._answered:
            with self._row_lock, begin_writing(self.engine) as connection:
                row = push_lease.lock_budget(connection, self.app)
                self._write_answered(row)
                push_lease.write_budget(connection, row)

    def refused(self, message: str) -> None:
        """HubSpot refused the token (401) or a scope (403): every process's push stops on
        it, so it is kept for `push status`, the report and the metrics, until an answer
        HubSpot accepts clears it."""
        with self._row_lock, begin_writing(self.engine) as connection:
            row = push_lease.lock_budget(connection, self.app)
            row.refused, row.refused_at = message[:2000], self.clock()
            push_lease.write_budget(connection, row)
        self._refused_seen = True

    def _limit(self, row: push_lease.BudgetRow) -> int:
        """The configured limit, or HubSpot's ``-Max`` where lower."""
        if row.header_max is not None and 0 < row.header_max < self.per_10s:
            return row.header_max
        return self.per_10s

    def _room(self, row: push_lease.BudgetRow, now: float) -> bool:
        """Whether the log would let another request go now."""
        return len(_live(row.sent, now)) < self._limit(row)

    def _write_answered(self, row: push_lease.BudgetRow) -> bool:
        """Put the answer times kept in this process into ``row`` (which the caller writes);
        whether there were any."""
        with self._answered_lock:
            answered, self._answered = self._answered, {}
        for stamp, at in answered.items():
            if -stamp in row.sent:  # else: no longer counted
                row.sent[row.sent.index(-stamp)] = at
        return bool(answered)

    def observe(
        self, answer: Answer, stamp: float | None = None, *, expected: Collection[int] = ()
    ) -> None:
        """Settle the request's slot (``stamp``, from ``acquire``), take in HubSpot's rate
        headers and count errors; a 429 pauses every process. ``-Max`` lower than the
        configured limit becomes the limit. A status in ``expected`` is the answer the caller
        asked for (the 404 of an existence check), not an error: HubSpot's 5 % guideline,
        which the count is read against, is about real errors."""
        headers = {k.lower(): v for k, v in answer.headers.items()}

        def number(name: str) -> int | None:
            value = headers.get(f"x-hubspot-ratelimit-{name}")
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        if stamp is not None:
            self.settle(stamp)
        remaining = number("remaining")
        now = self.clock()
        error = answer.status >= 400 and answer.status not in expected
        rated = any(name.startswith("x-hubspot-ratelimit-") for name in headers)
        clear = answer.ok and self._refused_seen  # HubSpot takes the token again
        if (
            not error
            and not clear
            and remaining != 0
            and (not rated or now - self._headers_saved_at < HEADERS_SAVE_EVERY_S)
        ):
            # Nothing to act on: no rate headers (the token's description), or they were
            # saved a moment ago.
            return
        self._headers_saved_at = now
        with self._row_lock, begin_writing(self.engine) as connection:
            row = push_lease.lock_budget(connection, self.app)
            self._write_answered(row)
            if (m := number("max")) is not None:
                row.header_max = m
            if remaining is not None:
                row.header_remaining = remaining
            if (d := number("daily")) is not None:
                row.header_daily = d
            if (dr := number("daily-remaining")) is not None:
                row.header_daily_remaining = dr
            row.headers_at = now
            if clear:
                row.refused = row.refused_at = None
                self._refused_seen = False
            if error:
                row.errors += 1
            if answer.status == 429:
                row.rate_limited += 1
                policy = answer.body.get("policyName")
                if policy == "DAILY":
                    row.paused_until = next_daily_probe(now)
                    row.pause_reason = "daily"
                elif policy == SEARCH_POLICY:
                    pass  # the search limit's own (per second): only that search waits
                elif (remaining is None or remaining <= 0) and self._room(row, now):
                    # HubSpot's window is full (or it does not say) while the log has room:
                    # someone else spends the app's budget; everyone holds a moment. (Where
                    # the log is full too, it already holds everyone; a 429 that reports
                    # room left is resent without holding anyone.)
                    row.paused_until = now + TEN_SECONDLY_PAUSE_S
                    row.pause_reason = "ten_secondly"
            elif answer.status == 477:
                wait = retry_after_s(answer)
                wait = MIGRATION_DEFAULT_WAIT_S if wait is None else wait
                if wait > MIGRATION_SLEEP_MAX_S:
                    row.paused_until = now + wait
                    row.pause_reason = "migration"
            elif row.header_remaining == 0 and answer.ok and self._room(row, now):
                row.paused_until = now + TEN_SECONDLY_PAUSE_S
                row.pause_reason = "remaining 0"
            push_lease.write_budget(connection, row)


def _live(sent: list[float], now: float) -> list[float]:
    """The slots that still count: answered within the window (stamp >= 0, the answer's
    time) or in flight (stamp < 0, minus the time taken) and not abandoned."""
    return [
        t
        for t in sent
        if (t >= 0 and t > now - WINDOW_S - WINDOW_MARGIN_S)
        or (t < 0 and -t > now - IN_FLIGHT_MAX_S)
    ]
