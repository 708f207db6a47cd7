"""The push as a background loop of ``serve`` and ``worker``: drain the queue whenever it has
rows, pull owners again every ``owners_refresh_minutes`` when they come from HubSpot, and
wait out what HubSpot says (a daily pause, a portal migration, an outage) without losing
anything: the queue is in the database, so a stopped loop resumes where it was."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from leadsync.destinations.hubspot.client import PushPaused
from leadsync.errors import LeadsyncError, TransientError, UserError
from leadsync.logs import Recovery
from leadsync.observability import database_outage, error_class, log_failure

log = logging.getLogger("leadsync.push")


class PushLoop:
    """Runs ``push_once`` (drain) every ``poll_s`` and ``refresh_owners`` every
    ``refresh_s`` (when given), in a thread; ``on_stop`` runs once the loop has stopped
    (gives up the push lease: another process pushes at once, not when it lapses)."""

    def __init__(
        self,
        push_once: Callable[[], int],
        *,
        poll_s: float = 1.0,
        refresh_owners: Callable[[], object] | None = None,
        refresh_s: float = 900.0,
        clock: Callable[[], float] = time.time,
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        self.push_once = push_once
        self.on_stop = on_stop
        self.poll_s = poll_s
        self.refresh_owners = refresh_owners
        self.refresh_s = refresh_s
        self.clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_refresh = 0.0
        self.pushed = 0
        self.errors = 0
        self._recovery = Recovery(log, "push")

    def wake(self) -> None:
        self._wake.set()

    def step(self) -> float:
        """One turn; returns how long to wait before the next."""
        now = self.clock()
        try:
            if self.refresh_owners is not None and now >= self._next_refresh:
                self.refresh_owners()
                self._next_refresh = now + self.refresh_s
            changes = self.push_once()
            self.pushed += changes
            self._recovery.ok()
            return 0.0 if changes else self.poll_s
        except PushPaused as exc:
            log.warning("push: %s", exc)
            return max(self.poll_s, min(exc.until - now, 3600.0))
        except TransientError as exc:
            self.errors += 1
            self._recovery.failed()
            log.warning("push: %s; trying again later", exc)
            return float(min(60.0, self.poll_s * 2.0 ** min(self.errors, 6)))
        except UserError as exc:
            # A missing token or scope: nothing is lost; the queue waits for the fix.
            self.errors += 1
            self._recovery.failed()
            log.error("push: %s", exc)
            return 60.0
        except LeadsyncError:  # pragma: no cover - every error is a User or Transient one
            self.errors += 1
            log.exception("push failed")
            return 60.0
        except Exception as exc:
            self.errors += 1
            self._recovery.failed()
            log_failure(log, exc, "push: {}; retrying", "push: a cycle failed; retrying")
            return float(min(60.0, self.poll_s * 2.0 ** min(self.errors, 6)))

    def run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            wait = self.step()
            if wait > 0:
                self._wake.wait(wait)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="leadsync-push", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop after the turn under way (its results recorded), then ``on_stop``: a clean
        stop (SIGTERM, the end of serve or worker) gives the lease up."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self.on_stop is not None:
            try:
                self.on_stop()
            except Exception as exc:  # the database away at shutdown: the lease lapses
                why = error_class(exc) if database_outage(exc) else str(exc)
                log.warning("push: the lease was not given up (%s); it lapses in a minute", why)
