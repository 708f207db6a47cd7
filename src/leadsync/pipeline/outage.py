"""An outage of the database in a few lines, whatever the traffic.

Intake answers every request 503 while the database is away (the vendors retry), and said
so in a line per request or group commit: at a few hundred webhooks a second, tens of
thousands of warnings for a two-minute outage (found by a probe). :class:`OutageLog` says
the first one as it was, then one line every :data:`EVERY_S` seconds while it lasts, with
the requests answered 503 since the last line, and one line when the database is back.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

#: Seconds between the lines of an outage that goes on.
EVERY_S = 10.0


class OutageLog:
    """The lines of ``what``'s outages (``intake``), to ``log``. Thread-safe: the intake's
    writer thread and its event loop both report."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log, self._what, self._every_s, self._clock = log, what, every_s, clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when the outage began (None: no outage)
        self._last = 0.0  # when a request was last answered 503
        self._said = 0.0  # when its last line was written
        self._untold = 0  # requests answered 503 since that line

    def away(self, cause: str, requests: int) -> None:
        """``requests`` were answered 503 because the database is away (``cause``: the
        error's name)."""
        with self._lock:
            now = self._last = self._clock()
            if self._since is None:
                self._since = self._said = now
                self._log.warning(
                    "%s: database unavailable (%s); %d request(s) answered 503",
                    self._what,
                    cause,
                    requests,
                )
                return
            self._untold += requests
            if now - self._said < self._every_s:
                return
            self._log.warning(
                "%s: database still unavailable (%s) after %.0f s; %d request(s) answered "
                "503 since the last line",
                self._what,
                cause,
                now - self._since,
                self._untold,
            )
            self._said, self._untold = now, 0

    def back(self) -> None:
        """The database answered again: the outage, if any, is over (one line)."""
        if self._since is None:  # the hot path: no lock while all is well
            return
        with self._lock:
            if self._since is None:
                return
            # Known when a request gets through: the database may have been back for a
            # while by then, so the line says when the 503s began and ended.
            now = self._clock()
            self._log.warning(
                "%s: database available again: requests were answered 503 from %.0f s ago "
                "until %.0f s ago; %d more request(s) answered 503",
                self._what,
                now - self._since,
                now - self._last,
                self._untold,
            )
            self._since, self._untold = None, 0


class RefusalLog:
    """The requests refused before they are stored (a bad signature, a stale timestamp, a
    body that cannot be read), said in leadsync's own log: only the sender heard why, so an
    admin whose proxy rewrote the URL HubSpot signs, or whose clock drifted, saw 401s and no
    reason while the vendor's retries ran out (found by a probe). The first refusal of each
    integration and status is said as it was, then at most one every ``every_s`` seconds,
    with how many more there were. Thread-safe."""

    def __init__(
        self,
        log: logging.Logger,
        every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log, self._every_s, self._clock = log, every_s, clock
        self._lock = threading.Lock()
        self._said: dict[tuple[str, int], tuple[float, int]] = {}  # when, how many since

    def refused(self, integration: str, status: int, detail: str) -> None:
        """A request for ``integration`` (a configured name, or the label of unknown ones:
        the keys stay few) was answered ``status`` because of ``detail``."""
        key = (integration, status)
        with self._lock:
            now = self._clock()
            said, untold = self._said.get(key, (-math.inf, 0))
            if now - said < self._every_s:
                self._said[key] = (said, untold + 1)
                return
            self._said[key] = (now, 0)
        more = f" ({untold} more since the last line)" if untold else ""
        self._log.warning(
            "intake: a request for %s refused %d: %s%s", integration, status, detail[:300], more
        )
