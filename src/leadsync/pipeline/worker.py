"""The worker loop: apply what the inbox holds as pending, then wait for more.

The service runs one in a thread beside the HTTP server (woken after each group commit);
``leadsync worker`` runs it on its own, as many processes as the load needs. On PostgreSQL
the workers apply disjoint parts of the inbox side by side (pipeline/routing.py); on SQLite a
batch is claimed and applied under the one write lock. Either way a batch commits with its
rows marked applied, so no row is applied twice, and each record sees its events in
arrival order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine

from leadsync.engine import BatchResult, WorkspaceRules
from leadsync.errors import WorkspaceUpgraded
from leadsync.logs import Recovery, what_changed
from leadsync.observability import log_failure
from leadsync.pipeline.collector import batch_friendly_gc
from leadsync.pipeline.drain import drain
from leadsync.pipeline.expiry import expire_holds
from leadsync.pipeline.inbox import DEFAULT_BATCH, Problems
from leadsync.pipeline.routing import DEFAULT_PARTS
from leadsync.store import inbox as inbox_store
from leadsync.store.database import head_revision
from leadsync.store.upgrade import still_current
from leadsync.workspace_config import load_rules

log = logging.getLogger("leadsync.worker")

# How often the worker queues the held activities whose hold ended.
EXPIRY_EVERY_S = 60.0


class RulesCache:
    """The workspace's rules, re-read at most every ``ttl_s`` (for long-running workers), and
    at the next call after :meth:`invalidate` (a save in this process). A read that finds
    them unchanged keeps the object it had: a new object means new rules (a drain under way
    stops at its next batch for them, :meth:`Worker.run_once`)."""

    def __init__(self, engine: Engine, ttl_s: float = 2.0) -> None:
        self.engine = engine
        self.ttl_s = ttl_s
        self._stale = True
        self._loaded: tuple[float, WorkspaceRules] | None = None
        self._head = head_revision()

    def invalidate(self) -> None:
        self._stale = True

    def __call__(self) -> WorkspaceRules:
        now = time.monotonic()
        if self._stale or self._loaded is None or now - self._loaded[0] > self.ttl_s:
            self._stale = False  # before reading: a save during the read marks it stale again
            with self.engine.connect() as connection:  # a newer leadsync upgraded it: stop
                still_current(connection, self._head)
            rules = load_rules(self.engine)
            if self._loaded is not None and rules == self._loaded[1]:
                rules = self._loaded[1]
            elif self._loaded is not None:
                before = self._loaded[1].integrations
                changed = what_changed(before, rules.integrations)
                log.info(
                    "worker: settings read again: %s",
                    f"integrations {changed}" if changed else "owners, teams or users changed",
                )
            self._loaded = (now, rules)
        return self._loaded[1]


def rules_loader(engine: Engine, ttl_s: float = 2.0) -> RulesCache:
    """The workspace's rules as a long-running worker reads them (:class:`RulesCache`)."""
    return RulesCache(engine, ttl_s)


class Worker:
    """Drains the inbox whenever it has pending rows; ``wake`` shortens the wait."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_size: int = DEFAULT_BATCH,
        poll_s: float = 1.0,
        rules: Callable[[], WorkspaceRules] | None = None,
        on_result: Callable[[BatchResult], None] | None = None,
    ) -> None:
        self.engine = engine
        self.batch_size = batch_size
        self.poll_s = poll_s
        self.rules = rules or rules_loader(engine)
        self.on_result = on_result
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.applied = 0
        self.errors = 0
        self.upgraded: WorkspaceUpgraded | None = None  # why it stopped by itself, if it did
        # PostgreSQL: parts per routed window (pipeline/routing.py).
        self.parts = DEFAULT_PARTS
        # Told the seconds of each batch (from the end of the one before: claim included).
        self.on_batch_seconds: Callable[[float], None] | None = None
        self._next_expiry = 0.0

    def wake(self) -> None:
        self._wake.set()

    def reload_rules(self) -> None:
        """The configuration changed in this process: read it again (a drain under way
        finishes its batch with the rules it started with, then goes on with these)."""
        invalidate = getattr(self.rules, "invalidate", None)
        if invalidate is not None:
            invalidate()

    def run_once(self, failures: Problems | None = None) -> BatchResult:
        """Apply the pending rows now (nothing when the inbox has none), a batch at a time,
        until none is left or the worker is asked to stop; when the workspace's rules change
        (a save here or in another process) the next batch applies them (a batch under way
        finishes with the rules it began with). Each batch is counted as it commits
        (``applied``, ``on_result``). Once a minute, queue the held activities whose hold
        ended (:func:`leadsync.ops.review.expire_holds`). ``failures`` collects the rows
        that became dead letters."""
        now = time.monotonic()
        if now >= self._next_expiry:
            self._next_expiry = now + EXPIRY_EVERY_S
            expire_holds(self.engine, self.rules())
        with self.engine.connect() as connection:
            if not inbox_store.has_pending(connection):
                return BatchResult()
        total = BatchResult()
        on_batch = self._counter()
        while True:  # a drain per version of the rules, until none is left or a stop
            result, changed = self._drain(self.rules(), on_batch, failures)
            total.add(result)
            if not changed:
                return total

    def _drain(
        self,
        rules: WorkspaceRules,
        on_batch: Callable[[BatchResult], None],
        failures: Problems | None,
    ) -> tuple[BatchResult, bool]:
        """One drain under ``rules``: what it applied, and whether it stopped because the
        rules changed (not because none was left, nor for a stop)."""
        changed = False

        def keep_going() -> bool:
            nonlocal changed
            if self._stop.is_set():
                return False
            changed = self.rules() is not rules
            return not changed

        result = drain(
            self.engine,
            rules,
            self.batch_size,
            on_batch=on_batch,
            failures=failures,
            parts=self.parts,
            keep_going=keep_going,
        )
        return result, changed

    def _counter(self) -> Callable[[BatchResult], None]:
        """What each committed batch tells: its events (``applied``, ``on_result``) and its
        seconds (``on_batch_seconds``, from the end of the one before: claim included)."""
        last = [time.perf_counter()]

        def on_batch(batch: BatchResult) -> None:
            self.applied += batch.events
            if self.on_result is not None and batch.events:
                self.on_result(batch)
            if self.on_batch_seconds is not None:
                now = time.perf_counter()
                self.on_batch_seconds(now - last[0])
                last[0] = now

        return on_batch

    def run(self) -> None:
        """Loop until :meth:`stop`; a failure is logged (:func:`~leadsync.observability.log_failure`:
        one line for a database outage or a broken SQLite file, the traceback for a defect) and
        retried after a pause."""
        with batch_friendly_gc():
            self._loop()

    def _loop(self) -> None:
        backoff = self.poll_s
        recovery = Recovery(log, "worker")
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.run_once()
                backoff = self.poll_s
                recovery.ok()
            except WorkspaceUpgraded as exc:  # retrying cannot help: this process is too old
                log.error("worker: %s", exc)
                self.upgraded = exc
                self._stop.set()
                return
            except Exception as exc:
                self.errors += 1
                recovery.failed()
                log_failure(log, exc, "worker: {}; retrying", "worker: a drain failed; retrying")
                backoff = min(backoff * 2, 30.0)
            self._wake.wait(backoff)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="leadsync-worker", daemon=True)
            self._thread.start()

    def stop_soon(self) -> None:
        """Ask the loop to end after the current batch (safe from a signal handler)."""
        self._stop.set()
        self._wake.set()

    def stop(self) -> None:
        self.stop_soon()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
