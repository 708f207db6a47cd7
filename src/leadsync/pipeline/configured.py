"""The integrations a webhook intake serves, as configured: their adapters and the names of
the variables holding their secrets, re-read from the database at most every ``ttl_s``, at
once for a name not known yet (``leadsync apply`` or a save in another process is seen
without a restart), and after :meth:`Configured.invalidate` (a save in this process).

An event loop asks :meth:`Configured.due` first and runs a read that is due on a thread of
its own: a database that does not answer must not stall every other request of the process
(``/healthz`` included) while one waits for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from leadsync.settings import integration_from_dict
from leadsync.sources import adapter_for
from leadsync.sources.base import Adapter
from leadsync.store import config as config_store

log = logging.getLogger("leadsync.intake")


class Configured:
    """The configured integrations and their adapters, re-read at most every ``ttl_s``, at
    once for a name it does not know (``leadsync apply`` from another process is seen
    without a restart), and after :meth:`invalidate` (a save in this process)."""

    def __init__(
        self, engine: Engine, unavailable: Callable[[BaseException], bool], ttl_s: float = 2.0
    ) -> None:
        self.engine = engine
        self.unavailable = unavailable  # the intake's: the database away, not a defect
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._loaded_at = -1.0  # never read
        self._stale = True
        self.adapters: dict[str, Adapter] = {}
        self.secret_env: dict[str, str | None] = {}

    def invalidate(self) -> None:
        """Re-read before the next request (a save may land while a read is under way: the
        flag is cleared before reading, so that read does not count as the new one)."""
        self._stale = True

    def refresh(self) -> None:
        self._stale = False
        with self.engine.connect() as connection:
            rows = config_store.read_integrations(connection)
        adapters: dict[str, Adapter] = {}
        secret_env: dict[str, str | None] = {}
        for name, _kind, data in rows:
            settings = integration_from_dict(data, "<workspace>", f"integrations.{name}")
            adapters[name] = adapter_for(settings.kind, name, settings.vendor_options())
            secret_env[name] = settings.secret_env
        with self._lock:
            self.adapters, self.secret_env = adapters, secret_env
            self._loaded_at = time.monotonic()

    def _refresh_or_keep(self) -> None:
        """:meth:`refresh`; while the database is away, the integrations as last read are
        kept (for ``ttl_s``, one log line each time): the commit will tell the vendor to
        retry. With none read yet, the outage is raised (a 503)."""
        try:
            self.refresh()
        except Exception as exc:
            if not self.unavailable(exc) or self._loaded_at < 0:
                raise
            log.warning(
                "intake: database unavailable (%s); integrations as last read",
                type(exc).__name__,
            )
            self._loaded_at = time.monotonic()

    def due(self, name: str) -> bool:
        """Whether :meth:`get` of ``name`` reads the database now (a loop does it aside)."""
        age = time.monotonic() - self._loaded_at
        return self._stale or age > self.ttl_s or (name not in self.adapters and age > 0.2)

    def get(self, name: str) -> tuple[Adapter, str | None] | None:
        if self._stale or time.monotonic() - self._loaded_at > self.ttl_s:
            self._refresh_or_keep()
        adapter = self.adapters.get(name)
        if adapter is None and time.monotonic() - self._loaded_at > 0.2:
            self._refresh_or_keep()
            adapter = self.adapters.get(name)
        if adapter is None:
            return None
        return adapter, self.secret_env.get(name)
