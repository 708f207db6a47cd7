"""The health report as the service keeps it: computed in the background, read by pages.

On a large workspace the 7-day report (:func:`leadsync.ops.monitor.report`, the code behind
``leadsync report``) and the dashboard's per-day counts take seconds (docs/PERFORMANCE.md),
too long for every view of the console's integrations and health pages. So the service
takes a :class:`HealthSnapshot` — the report and the per-day charts, with when it was taken
and how long that took — in a thread (:class:`SnapshotKeeper`, started with the service like
the worker), every ``interval_s`` and again at once after a settings save or an admin's
"refresh now"; the pages read the newest one and say when it was taken. Nothing here
decides anything: :func:`take` calls the report and the chart queries as they are.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.model import add_days
from leadsync.observability import log_failure, process_name
from leadsync.ops.dashboard import Chart, charts, days_of
from leadsync.ops.monitor import Report, report
from leadsync.ops.overview import HEALTH_DAYS
from leadsync.pipeline.intake import database_unavailable
from leadsync.results import ResultModel
from leadsync.settings import MonitoringSettings

log = logging.getLogger("leadsync.snapshot")
_T = TypeVar("_T")

#: How often the service takes a snapshot when nothing asks for one sooner.
DEFAULT_INTERVAL_S = 60.0


class HealthSnapshot(ResultModel):
    """The report over the ``HEALTH_DAYS`` before ``taken_at``, and the per-day charts of
    the same window."""

    taken_at: str = Field(description="The report's 'now' (a canonical time).")
    seconds: float = Field(description="How long taking it took.")
    report: Report
    days: list[str] = Field(description="Every day of the window (UTC), oldest first.")
    charts: list[Chart] = Field(default_factory=list)


def take(
    engine: Engine, rules: WorkspaceRules, monitoring: MonitoringSettings, now: str
) -> HealthSnapshot:
    """The snapshot at ``now``: the report and the chart queries, one after the other."""
    started = time.perf_counter()
    since = add_days(now, -HEALTH_DAYS)
    health = report(engine, rules, monitoring, since, now)
    drawn = charts(engine, monitoring, since, now)
    return HealthSnapshot(
        taken_at=now,
        seconds=round(time.perf_counter() - started, 3),
        report=health,
        days=days_of(since, now),
        charts=drawn,
    )


class Shared(Protocol):
    """Where the newest snapshot is kept for every process
    (:class:`~leadsync.store.console_state.SharedConsole`: the workspace database)."""

    def snapshot_state(self) -> dict[str, Any] | None: ...
    def snapshot_newer_than(self, taken_from: float | None) -> tuple[float, Any] | None: ...
    def ask_snapshot(self, now: float) -> None: ...
    def claim_snapshot(self, holder: str, now: float, until: float) -> bool: ...
    def store_snapshot(self, holder: str, body: Any, taken_from: float) -> None: ...
    def release_snapshot(self, holder: str) -> None: ...


#: How often a process looks for a snapshot another one took, or a refresh another asked.
SHARED_POLL_S = 5.0
#: How long one process's claim to take the next snapshot holds; another takes over after
#: (the claimer died mid-way: a snapshot takes seconds, a minute on the largest workspaces).
CLAIM_S = 300.0


def _asked_since(state: dict[str, Any]) -> bool:
    """A refresh was asked for after the newest snapshot's taking began (or none was taken)."""
    asked_at, taken_from = state.get("asked_at"), state.get("taken_from")
    return asked_at is not None and (taken_from is None or asked_at >= taken_from)


class SnapshotKeeper:
    """Holds the newest snapshot and takes the next in its own thread.

    ``take_one`` takes a snapshot (``Workspace.health_snapshot``). :meth:`request_refresh`
    wakes the thread (a settings save, "refresh now"); :meth:`refresh` takes one in the
    caller's thread. Snapshots are taken one at a time: a refresh asked while one runs is
    taken after it, so the newest always reflects the newest settings. A failed snapshot is
    logged and the previous one kept; the thread tries again at its next turn. The database
    being away is one warning line per failed turn; anything else is a defect, logged with
    its traceback.

    With ``shared`` (the service's: the workspace database), the snapshot is the
    workspace's, not the process's: every ``serve`` process shows the newest one any of
    them took, a refresh asked through one is taken by one (whichever claims it first) and
    seen by all, and with N processes the report is still taken once per ``interval_s``,
    not N times. Each looks every :data:`SHARED_POLL_S` for a newer one or a refresh asked;
    while the database does not answer, it keeps what it has.
    """

    def __init__(
        self,
        take_one: Callable[[], HealthSnapshot],
        interval_s: float = DEFAULT_INTERVAL_S,
        shared: Shared | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.take_one = take_one
        self.interval_s = interval_s
        self.shared = shared
        self.clock = clock
        # Who claims and took a snapshot: this process, and this keeper within it.
        self.holder = f"{process_name()}/{secrets.token_hex(3)}"
        self._current: HealthSnapshot | None = None
        self._from: float | None = None  # when the current one's taking began
        self._taking = threading.Lock()
        self._asked = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _quietly(self, read: Callable[[], _T], otherwise: _T) -> _T:
        """``read()`` of the shared store; ``otherwise`` while the database is away."""
        try:
            return read()
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            return otherwise

    @property
    def current(self) -> HealthSnapshot | None:
        """The newest snapshot (any process's, with ``shared``); None before the first."""
        if self.shared is not None:
            self._quietly(self._adopt, None)
        return self._current

    @property
    def refreshing(self) -> bool:
        """A snapshot is asked for or being taken (the pages say so and poll)."""
        if self._asked.is_set() or self._taking.locked():
            return True
        if self.shared is None:
            return False
        state = self._quietly(self.shared.snapshot_state, None)
        if state is None:
            return False
        until = state["until"]
        return _asked_since(state) or (until is not None and until >= self.clock())

    def _adopt(self) -> None:
        """The newest snapshot another process stored, when newer than this one's."""
        assert self.shared is not None
        found = self.shared.snapshot_newer_than(self._from)
        if found is not None:
            self._from, body = found
            self._current = HealthSnapshot.model_validate(body)

    def refresh(self) -> HealthSnapshot:
        """Take a snapshot now, in this thread, and keep it (for every process, with
        ``shared``)."""
        with self._taking:
            self._asked.clear()
            began = self.clock()
            shared = self.shared
            try:
                snapshot = self.take_one()
            except BaseException:
                if shared is not None:
                    self._quietly(lambda: shared.release_snapshot(self.holder), None)
                raise
            self._current, self._from = snapshot, began
            if shared is not None:
                shared.store_snapshot(self.holder, snapshot.model_dump(mode="json"), began)
        log.info("health snapshot at %s took %.3f s", snapshot.taken_at, snapshot.seconds)
        return snapshot

    def request_refresh(self) -> None:
        """Ask the thread for a snapshot now rather than at its next turn (and, with
        ``shared``, every process: the one that claims it takes it)."""
        self._asked.set()
        if self.shared is not None:
            shared = self.shared
            self._quietly(lambda: shared.ask_snapshot(self.clock()), None)

    def _turn(self) -> None:
        """Take the next snapshot when it is due; with ``shared``, only when this process
        claims it (else the newest another took is adopted)."""
        if self.shared is None:
            self.refresh()
            return
        self._asked.clear()  # a refresh asked here is in the shared row: read it there
        now = self.clock()
        state = self.shared.snapshot_state() or {}
        taken_from = state.get("taken_from")
        due = _asked_since(state) or taken_from is None or taken_from + self.interval_s <= now
        if due and self.shared.claim_snapshot(self.holder, now, now + CLAIM_S):
            self.refresh()
        else:
            self._adopt()

    def _run(self) -> None:
        wait_s = self.interval_s if self.shared is None else min(self.interval_s, SHARED_POLL_S)
        while not self._stop.is_set():
            try:
                self._turn()
            except Exception as exc:
                log_failure(
                    log,
                    exc,
                    "health snapshot: {}; the previous one is kept",
                    "health snapshot failed; the previous one is kept",
                )
            self._asked.wait(wait_s)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="leadsync-health", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._asked.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
