"""The integrations webhook intake serves are read one read at a time: however many requests
find a read due, one thread reads and they share it; a read due only by age is waited for by
nobody (the integrations as last read answer meanwhile); a save in this process is read
before the next request is checked, even while a read that began before it is under way.

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
from tests.helpers import settings, workspace_config
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


def test_requests_finding_a_read_due_by_age_share_one_read_and_none_waits(
    ws: Workspace, reads: Reads
) -> None:
    known = Configured(ws.engine, database_unavailable, ttl_s=3600)
    assert known.get("dialer") is not None
    assert reads.started == 1
    known.ttl_s = 0.0  # every request now finds the last read too old
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
    known = Configured(ws.engine, database_unavailable, ttl_s=3600)
    known.get("dialer")
    known.ttl_s = 0.0
    reads.gate.clear()
    found: list[Any] = []
    threads = [
        threading.Thread(target=lambda: found.append(known.get("router"))) for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    assert reads.under_way.wait(30)
    known.ttl_s = 3600  # once read, nobody reads again
    reads.gate.set()
    for thread in threads:
        thread.join(30)
    assert len(found) == 20 and all(f is not None for f in found)
    assert reads.started == 2


def test_a_save_in_this_process_is_read_before_the_next_request_even_during_an_older_read(
    ws: Workspace, reads: Reads
) -> None:
    known = Configured(ws.engine, database_unavailable, ttl_s=3600)
    assert known.get("later") is None
    known.ttl_s = 0.0
    reads.under_way.clear()
    reads.gate.clear()
    asyncio.run(known.current("dialer"))  # starts a read by age; it has its rows already
    assert reads.under_way.wait(30)
    known.ttl_s = 3600
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
    known = Configured(ws.engine, database_unavailable, ttl_s=3600)
    known.get("dialer")
    configured_at = reads.started

    async def many() -> list[Any]:
        await asyncio.sleep(configured.UNKNOWN_RETRY_S + 0.05)
        return await asyncio.gather(*(known.current("nope") for _ in range(30)))

    assert asyncio.run(many()) == [None] * 30
    assert reads.started == configured_at + 1
