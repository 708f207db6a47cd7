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
import threading
import time
from collections.abc import Callable

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.model import add_days
from leadsync.observability import log_failure
from leadsync.ops.dashboard import Chart, charts, days_of
from leadsync.ops.monitor import Report, report
from leadsync.ops.overview import HEALTH_DAYS
from leadsync.results import ResultModel
from leadsync.settings import MonitoringSettings

log = logging.getLogger("leadsync.snapshot")

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


class SnapshotKeeper:
    """Holds the newest snapshot and takes the next in its own thread.

    ``take_one`` takes a snapshot (``Workspace.health_snapshot``). :meth:`request_refresh`
    wakes the thread (a settings save, "refresh now"); :meth:`refresh` takes one in the
    caller's thread. Snapshots are taken one at a time: a refresh asked while one runs is
    taken after it, so the newest always reflects the newest settings. A failed snapshot is
    logged and the previous one kept; the thread tries again at its next turn. The database
    being away is one warning line per failed turn; anything else is a defect, logged with
    its traceback.
    """

    def __init__(
        self, take_one: Callable[[], HealthSnapshot], interval_s: float = DEFAULT_INTERVAL_S
    ) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be positive, not {interval_s}")
        self.take_one = take_one
        self.interval_s = interval_s
        self._current: HealthSnapshot | None = None
        self._taking = threading.Lock()
        self._asked = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def current(self) -> HealthSnapshot | None:
        """The newest snapshot; None before the first is taken."""
        return self._current

    @property
    def refreshing(self) -> bool:
        """A snapshot is asked for or being taken (the pages say so and poll)."""
        return self._asked.is_set() or self._taking.locked()

    def refresh(self) -> HealthSnapshot:
        """Take a snapshot now, in this thread, and keep it."""
        with self._taking:
            self._asked.clear()
            snapshot = self.take_one()
            self._current = snapshot
        log.info("health snapshot at %s took %.3f s", snapshot.taken_at, snapshot.seconds)
        return snapshot

    def request_refresh(self) -> None:
        """Ask the thread for a snapshot now rather than at its next turn."""
        self._asked.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception as exc:
                log_failure(
                    log,
                    exc,
                    "health snapshot: {}; the previous one is kept",
                    "health snapshot failed; the previous one is kept",
                )
            self._asked.wait(self.interval_s)

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
