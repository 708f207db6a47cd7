"""Python's cyclic garbage collector, kept off the long-lived objects while batches run, and
off a batch's own objects while it runs."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _GcPause:
    """How many runs, in any thread, are inside :func:`batch_friendly_gc`, and the collector's
    thresholds to restore when the last one leaves; changed only under ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.thresholds: tuple[int, int, int] = gc.get_threshold()


class _BatchPause:
    """How many batches, in any thread, are running inside :func:`collector_off_during_batch`,
    and whether the collector was enabled when the first of them started; changed only under
    ``lock``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_enabled = True


_gc_pause = _GcPause()
_batch_pause = _BatchPause()


@contextmanager
def batch_friendly_gc() -> Iterator[None]:
    """Keep Python's cyclic collector off the long-lived objects while batches run.

    Every full collection walks every tracked object: the modules, SQLAlchemy's metadata and
    statement caches, the settings. Freezing what exists when a run starts (after collecting
    the young generations' garbage) and collecting the young generation less often cuts an
    ingest's time by about a sixth (see docs/PERFORMANCE.md). No full collection on entry:
    it would walk the whole heap at every run — in a process that calls ingest again and
    again (an application embedding leadsync, the test suite) that heap is large, and a full
    collection took 70 ms to half a second; the old generation's garbage is frozen with the
    rest and collectable again once the run ends. The collector is process-wide and runs
    overlap (the service's worker, intake, several threads): the first run to enter pauses
    it, the last to leave restores it, whatever the order they leave in.
    """
    pause = _gc_pause
    with pause.lock:
        pause.depth += 1
        if pause.depth == 1:
            pause.thresholds = gc.get_threshold()
            gc.collect(1)
            gc.freeze()
            gc.set_threshold(50_000, pause.thresholds[1], pause.thresholds[2])
    try:
        yield
    finally:
        with pause.lock:
            pause.depth -= 1
            if pause.depth == 0:
                gc.set_threshold(*pause.thresholds)
                gc.unfreeze()


@contextmanager
def collector_off_during_batch() -> Iterator[None]:
    """No automatic collection while one batch runs; the collector is back on between
    batches.

    A batch keeps its events, its loaded state and its rows alive until it is written, a
    few hundred thousand objects, and creates almost no cycles: every collection in the
    middle of it walks those objects only to find them alive (about a tenth of an ingest's
    CPU time, measured by bench/engine_profile.py). Between batches they are freed by their
    reference counts, so the collection that follows finds little to walk. Garbage cycles
    wait at most one batch. Overlapping batches (several threads) keep it off until the last
    one ends; a collector someone else turned off stays off.
    """
    pause = _batch_pause
    with pause.lock:
        pause.depth += 1
        if pause.depth == 1:
            pause.was_enabled = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with pause.lock:
            pause.depth -= 1
            if pause.depth == 0 and pause.was_enabled:
                gc.enable()
