"""The integrations a webhook intake serves, as configured: their adapters and the names of
the variables holding their secrets, re-read from the database at most every ``ttl_s``, at
once for a name not known yet (``leadsync apply`` or a save in another process is seen
without a restart), and after :meth:`Configured.invalidate` (a save in this process).

One read at a time (:meth:`Configured.reading`): however many requests find a read due, one
thread reads and the others wait for its outcome. A request is never checked against a read
older than ``ttl_s``: past it, requests wait for the next read (after an idle spell, say);
under a steady load the read is made ahead, from :data:`READ_AHEAD` of ``ttl_s`` on, on that
thread while requests go on against the last one, so nobody waits. An event loop asks
:meth:`Configured.current`, which never reads on the loop. Before, every request that found
a read due while one was under way read on a thread of its own: at 3,000 requests a second,
dozens of threads every two seconds, each parsing every integration's settings
(docs/PERFORMANCE.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.engine import Engine

from leadsync.logs import hide, what_changed
from leadsync.settings import integration_from_dict
from leadsync.sources import adapter_for
from leadsync.sources.base import Adapter
from leadsync.store import config as config_store

log = logging.getLogger("leadsync.intake")

Found = tuple[Adapter, str | None]

READ_AHEAD = 0.75
"""The share of ``ttl_s`` after which a request starts the next read without waiting for it."""

UNKNOWN_RETRY_S = 0.2
"""How long after a read a name it did not know makes the next one (a flood of requests for a
name nobody configured reads at most five times a second)."""


class Configured:
    """The configured integrations and their adapters, re-read at most every ``ttl_s``, at
    once for a name it does not know (``leadsync apply`` from another process is seen
    without a restart), and after :meth:`invalidate` (a save in this process)."""

    def __init__(
        self,
        engine: Engine,
        unavailable: Callable[[BaseException], bool],
        ttl_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.engine = engine
        self.environ = os.environ if environ is None else environ
        self.unavailable = unavailable  # the intake's: the database away, not a defect
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._loaded_at = -1.0  # never read
        # Saves in this process (invalidate) and the count the last read began after.
        self._saves = 1
        self._read_saves = 0
        self._reading: concurrent.futures.Future[None] | None = None
        self.adapters: dict[str, Adapter] = {}
        self.secret_env: dict[str, str | None] = {}
        self._read: dict[str, Any] | None = None  # the settings as last read, by integration

    def invalidate(self) -> None:
        """Re-read before the next request (a save may land while a read is under way: that
        read does not count as the new one)."""
        with self._lock:
            self._saves += 1

    def refresh(self) -> None:
        with self._lock:
            saves = self._saves
        started = self.clock()  # what is read is as new as this
        with self.engine.connect() as connection:
            rows = config_store.read_integrations(connection)
        adapters: dict[str, Adapter] = {}
        secret_env: dict[str, str | None] = {}
        for name, _kind, data in rows:
            settings = integration_from_dict(data, "<workspace>", f"integrations.{name}")
            adapters[name] = adapter_for(settings.kind, name, settings.vendor_options())
            secret_env[name] = settings.secret_env
        hide(*(self.environ.get(env) for env in secret_env.values() if env))
        read = {name: data for name, _kind, data in rows}
        with self._lock:
            changed = None if self._read is None else what_changed(self._read, read)
            self._read = read
            self.adapters, self.secret_env = adapters, secret_env
            self._loaded_at = started
            self._read_saves = max(self._read_saves, saves)
        if changed is not None:
            log.info("intake: integrations read again: %s", changed)

    def _refresh_or_keep(self) -> None:
        """:meth:`refresh`; while the database is away, the integrations as last read are
        kept (for ``ttl_s``, one log line each time; a save in this process is read with the
        next read): the commit will tell the vendor to retry. With none read yet, the outage
        is raised (a 503)."""
        with self._lock:
            saves = self._saves
        try:
            self.refresh()
        except Exception as exc:
            if not self.unavailable(exc) or self._loaded_at < 0:
                raise
            log.warning(
                "intake: database unavailable (%s); integrations as last read",
                type(exc).__name__,
            )
            with self._lock:
                self._loaded_at = self.clock()
                self._read_saves = max(self._read_saves, saves)

    def _needed(self, name: str) -> bool:
        """Whether a request for ``name`` must wait for a read: none yet, one older than
        ``ttl_s``, a save in this process since the last, or a name it did not know (at most
        every :data:`UNKNOWN_RETRY_S`)."""
        age = self.clock() - self._loaded_at
        if self._read_saves < self._saves or age > self.ttl_s:
            return True
        return name not in self.adapters and age > UNKNOWN_RETRY_S

    def reading(self) -> tuple[concurrent.futures.Future[None], bool]:
        """The read under way, or a new one on a thread of its own (then True): one at a
        time, its outcome (an error too) shared by everyone waiting for it."""
        with self._lock:
            if self._reading is not None and not self._reading.done():
                return self._reading, False
            future: concurrent.futures.Future[None] = concurrent.futures.Future()
            self._reading = future
        threading.Thread(
            target=self._read_into, args=(future,), name="leadsync-integrations", daemon=True
        ).start()
        return future, True

    def _read_into(self, future: concurrent.futures.Future[None]) -> None:
        try:
            self._refresh_or_keep()
        except BaseException as exc:
            future.set_exception(exc)
        else:
            future.set_result(None)

    async def current(self, name: str) -> Found | None:
        """:meth:`get` for an event loop, never reading on it: a read a request needs is
        awaited (the one reading thread's; twice at most, when the one under way began
        before a save); one that is only near ``ttl_s`` starts beside the request, which
        goes on against the last read."""
        for _ in range(2):
            if not self._needed(name):
                break
            await asyncio.wrap_future(self.reading()[0])
        if self.clock() - self._loaded_at > self.ttl_s * READ_AHEAD:
            reading, started = self.reading()
            if started:
                reading.add_done_callback(_logged)
        return self._found(name)

    def get(self, name: str) -> Found | None:
        """The adapter of ``name`` and its secret's variable (None: not configured), read
        first when due (waiting for a read under way elsewhere)."""
        for _ in range(2):
            if not self._needed(name):
                break
            self.reading()[0].result()
        return self._found(name)

    def _found(self, name: str) -> Found | None:
        adapter = self.adapters.get(name)
        if adapter is None:
            return None
        return adapter, self.secret_env.get(name)


def _logged(future: concurrent.futures.Future[None]) -> None:
    """A read due by age failed where nobody waited for it: said, not lost (the next
    request's read tries again)."""
    exc = future.exception()
    if exc is not None:
        log.error("intake: reading the integrations failed", exc_info=exc)
