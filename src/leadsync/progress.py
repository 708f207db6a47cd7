"""Progress of long work (``ingest`` of a file, ``replay``, ``push``), always on stderr so that
stdout stays what ``--json`` promises.

On a terminal: a Rich bar with the total and the time left when the size is known (a file's
bytes, the inbox's rows, the push queue), a counter when it is not (stdin). Elsewhere (cron,
a log file): a plain line every ``interval_s`` seconds (``LEADSYNC_PROGRESS_INTERVAL``,
default 5) —

    ingest: 12,000 lines, 3.1 MB of 10.2 MB (30 %), about 20 s left

— and, when any was printed, a last one saying what was done and in how long. Work shorter
than the interval prints nothing.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from types import TracebackType
from typing import Literal

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from leadsync.results import counted

INTERVAL_ENV = "LEADSYNC_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 5.0

Unit = Literal["bytes", "events", "changes"]
_ONE = {"events": "event", "changes": "change"}  # a unit's noun for a count of 1


def progress_interval() -> float:
    """Seconds between plain progress lines: ``LEADSYNC_PROGRESS_INTERVAL``, else 5 (also
    when the variable is not a number >= 0)."""
    try:
        value = float(os.environ.get(INTERVAL_ENV, DEFAULT_INTERVAL_S))
    except ValueError:
        return DEFAULT_INTERVAL_S
    return value if math.isfinite(value) and value >= 0 else DEFAULT_INTERVAL_S


class WorkProgress:
    """``update(done, lines=…)`` (or ``advance(more)``) as the work goes (``done`` in ``unit``;
    ``lines``: lines read, for a file); shown as the console allows (see the module)."""

    def __init__(
        self,
        console: Console,
        label: str,
        total: int | None,
        unit: Unit = "events",
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.label = label
        self.total = total
        self.unit = unit
        self.interval_s = progress_interval() if interval_s is None else interval_s
        self.clock = clock
        self.done = 0
        self.lines: int | None = None
        self.printed = False
        self.bar: Progress | None = None
        if console.is_terminal:
            self.bar = Progress(*self._columns(), console=console, transient=True)
            self.task = self.bar.add_task(label, total=total)

    def _columns(self) -> list[ProgressColumn | str]:
        amount: ProgressColumn = DownloadColumn() if self.unit == "bytes" else MofNCompleteColumn()
        columns: list[ProgressColumn | str] = [
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            amount,
        ]
        if self.unit != "bytes":
            columns.append(TextColumn(self.unit))
        if self.total is not None:
            columns += [TaskProgressColumn(), TimeRemainingColumn()]
        return columns

    def __enter__(self) -> WorkProgress:
        self.started = self.last = self.clock()
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.bar is not None:
            self.bar.stop()
        elif self.printed and exc_type is None:
            took = _duration(self.clock() - self.started)
            self.console.print(f"{self.label}: done: {self._counts()} in {took}", markup=False)

    def update(self, done: int, lines: int | None = None) -> None:
        self.done, self.lines = done, lines
        if self.bar is not None:
            description = self.label if lines is None else f"{self.label} ({lines:,} lines)"
            self.bar.update(self.task, completed=done, description=description)
            return
        now = self.clock()
        if now - self.last >= self.interval_s:
            self.last = now
            self.printed = True
            self.console.print(f"{self.label}: {self._line(now)}", markup=False)

    def advance(self, more: int) -> None:
        """``more`` done since the last update."""
        self.update(self.done + more, self.lines)

    def refresh(self) -> None:
        """Draw the bar now (it redraws itself a few times a second anyway)."""
        if self.bar is not None:
            self.bar.refresh()

    def _counts(self) -> str:
        """What was done: ``12,000 lines, 3.1 MB`` or ``40,000 events``."""
        if self.unit == "bytes":
            lines = "" if self.lines is None else f"{counted(self.lines, 'line')}, "
            return lines + _size(self.done)
        return counted(self.done, _ONE[self.unit], self.unit)

    def _line(self, now: float) -> str:
        if self.total is None:
            return self._counts()
        share = min(100, 100 * self.done // self.total) if self.total else 100
        if self.unit == "bytes":
            lines = "" if self.lines is None else f"{counted(self.lines, 'line')}, "
            text = f"{lines}{_size(self.done)} of {_size(self.total)} ({share} %)"
        else:
            of = counted(self.total, _ONE[self.unit], self.unit)
            text = f"{self.done:,} of {of} ({share} %)"
        elapsed = now - self.started
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        if self.done < self.total and left >= 1:
            text += f", about {_duration(left)} left"
        return text


def _size(n: float) -> str:
    """Bytes in decimal units, as Rich's bar shows them: ``512 B``, ``2.5 kB``, ``3.1 MB``."""
    if n < 1000:
        return f"{int(n)} B"
    for unit in ("kB", "MB", "GB"):
        n /= 1000
        if n < 1000 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


def _duration(seconds: float) -> str:
    """``14 s``, ``3 min``, ``1 min 30 s``, ``2 h 5 min``."""
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {secs} s" if secs else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")
