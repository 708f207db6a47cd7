"""The integrations webhook intake serves are read one read at a time: however many requests
find a read due share one read; none is checked against a read older than the re-read
interval (after an idle spell they wait for the next), and under a steady load the next read
is made ahead so nobody waits; a save in this process is read before the next request is
checked, even while a read that began before it is under way.

Before, every request that found a read due while one was under way started its own read on
a thread of its own: dozens of threads every two seconds at 3,000 requests a second."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.engine import Connection

from leadsync.pipeline import configured
from leadsync.pipeline.configured import Configured
from leadsync.pipeline.intake import database_unavailable
from leadsync.store import config as config_store
from leadsync.workspace import Workspace
from tests.helpers import Clock, settings, workspace_config
from tests.live import integrations


class Reads:
    """Counts the reads of the stored integrations; while ``gate`` is closed, a read has
    its rows and waits before giving them."""

    def __init__(self) -> None:
        self.started = 0
        self.gate = threading.Event()
        self.gate.set()
        self.under_way = threading.Event()
        self._real = config_store.read_integrations

    def __call__(self, connection: Connection) -> Any:
        self.started += 1
        rows = self._real(connection)
        self.under_way.set()
        assert self.gate.wait(30), "the test never opened the gate"
        return rows


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[Reads]:
    counted = Reads()  # the intake's reads only (a save reads them too)
    replaced = SimpleNamespace(read_integrations=counted)
    monkeypatch.setattr("leadsync.pipeline.configured.config_store", replaced)
    yield counted
    counted.gate.set()


def _known(ws: Workspace, clock: Clock) -> Configured:
    return Configured(ws.engine, database_unavailable, ttl_s=2.0, clock=clock)


def test_requests_after_the_re_read_interval_wait_for_one_read_they_share(
    ws: Workspace, reads: Reads
) -> None:
    """After an idle spell, no request is checked against settings older than ``ttl_s``
    (another process's save would decide it): they wait, and one read serves them all."""
    clock = Clock()
    known = _known(ws, clock)
    assert known.get("dialer") is not None
    clock.now += 10.0  # an idle spell
    reads.under_way.clear()
    reads.gate.clear()

    async def many() -> list[Any]:
        waiting = asyncio.gather(*(known.current("dialer") for _ in range(50)))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # not answered from the old read
        assert await asyncio.to_thread(reads.under_way.wait, 30)
        reads.gate.set()
        return await asyncio.wait_for(waiting, 30)

    found = asyncio.run(many())
    assert all(f is not None and f[0].integration == "dialer" for f in found)
    assert reads.started == 2  # one read for fifty requests


def test_under_a_steady_load_the_next_read_is_made_ahead_and_nobody_waits(
    ws: Workspace, reads: Reads
) -> None:
    clock = Clock()
    known = _known(ws, clock)
    known.get("dialer")
    clock.now += 2.0 * configured.READ_AHEAD + 0.1  # near the interval, not past it
    reads.under_way.clear()
    reads.gate.clear()

    async def many() -> list[Any]:
        return await asyncio.wait_for(
            asyncio.gather(*(known.current("dialer") for _ in range(50))), 20
        )

    found = asyncio.run(many())  # answered while the read they started still waits
    assert reads.under_way.wait(30)
    assert all(f is not None and f[0].integration == "dialer" for f in found)
    assert reads.started == 2  # one read for fifty requests
    reads.gate.set()
    known.reading()[0].result(30)
    assert reads.started == 2


def test_threads_finding_a_read_due_share_one_read(ws: Workspace, reads: Reads) -> None:
    clock = Clock()
    known = _known(ws, clock)
    known.get("dialer")
    clock.now += 10.0
    reads.under_way.clear()
    reads.gate.clear()
    found: list[Any] = []
    threads = [
        threading.Thread(target=lambda: found.append(known.get("router"))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    assert reads.under_way.wait(30)
    reads.gate.set()
    for thread in threads:
        thread.join(30)
    assert len(found) == 20 and all(f is not None for f in found)
    assert reads.started == 2


def test_a_save_in_this_process_is_read_before_the_next_request_even_during_an_older_read(
    ws: Workspace, reads: Reads
) -> None:
    clock = Clock()
    known = _known(ws, clock)
    assert known.get("later") is None
    clock.now += 2.0 * configured.READ_AHEAD + 0.1
    reads.under_way.clear()
    reads.gate.clear()
    asyncio.run(known.current("dialer"))  # starts a read ahead; it has its rows already
    assert reads.under_way.wait(30)
    ws.apply_config(
        workspace_config({**integrations(), "later": settings(secret_env="DIALER_SECRET")})
    )
    known.invalidate()  # the save, after the read under way began

    async def after_the_save() -> Any:
        task = asyncio.ensure_future(known.current("later"))
        await asyncio.sleep(0.05)
        assert not task.done()  # it waits for a read, not answered from the old one
        reads.gate.set()
        return await asyncio.wait_for(task, 30)

    found = asyncio.run(after_the_save())
    assert found is not None and found[0].integration == "later"
    assert reads.started == 3  # the old read, then one begun after the save


def test_a_name_not_configured_is_read_once_for_many_requests(ws: Workspace, reads: Reads) -> None:
    clock = Clock()
    known = _known(ws, clock)
    known.get("dialer")
    configured_at = reads.started
    clock.now += configured.UNKNOWN_RETRY_S + 0.05

    async def many() -> list[Any]:
        return await asyncio.gather(*(known.current("nope") for _ in range(30)))

    assert asyncio.run(many()) == [None] * 30
    assert reads.started == configured_at + 1
