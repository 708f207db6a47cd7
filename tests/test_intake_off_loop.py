"""A webhook whose integrations must be read again reads them on a thread, not on the event
loop: while PostgreSQL keeps that read waiting (a lock here; a network cut in production),
every other request of the process — ``/healthz`` first — is answered."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from leadsync.workspace import Workspace
from tests.helpers import KIM_CONTACT
from tests.live import LiveServer, generic_signature, serve


@pytest.fixture
def server(ws: Workspace, db_url: str) -> Iterator[LiveServer]:
    if db_url.startswith("sqlite"):
        pytest.skip("a reader waits on a lock only on PostgreSQL (SQLite's WAL readers never do)")
    with serve(ws) as live:
        yield live


def _waiting_on_a_lock(engine: sa.Engine) -> bool:
    with engine.connect() as c:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return bool(c.execute(sa.text(query)).scalar_one())


def _healthz_answers_while_held(
    ws: Workspace, server: LiveServer, table: str, path: str, body: bytes, wait_s: float = 0.0
) -> list[int]:
    """Hold ``table`` locked, POST ``body`` (signed) to ``path`` from a thread, and once its
    request waits on the lock check ``/healthz`` is answered beside it; the lock released,
    the webhook's status codes."""
    headers = {"content-type": "application/json", **generic_signature(body)}
    answered: list[int] = []
    locker = ws.engine.connect()
    locker.begin()
    locker.execute(sa.text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
    time.sleep(wait_s)

    def send() -> None:
        with httpx.Client(base_url=server.base_url, timeout=60) as client:
            answered.append(client.post(path, content=body, headers=headers).status_code)

    sender = threading.Thread(target=send)
    sender.start()
    try:
        for _ in range(600):  # until the webhook's database work waits on the lock
            if _waiting_on_a_lock(ws.engine):
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the webhook never waited on the lock of {table}")
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            assert client.get("/healthz").status_code == 200
        assert answered == []  # the webhook still waits, and healthz was answered beside it
    finally:
        locker.rollback()
        locker.close()
    sender.join(60)
    return answered


def test_healthz_answers_while_a_webhooks_read_of_the_integrations_waits(
    ws: Workspace, server: LiveServer
) -> None:
    body = json.dumps(KIM_CONTACT).encode()
    # (a name the process does not know is looked up again after 0.2 s)
    answered = _healthz_answers_while_held(ws, server, "integrations", "/webhooks/nope", body, 0.3)
    assert answered == [404]  # no integration named so, once the read could be made


def test_healthz_answers_while_a_refused_requests_dead_letter_waits(
    ws: Workspace, server: LiveServer
) -> None:
    """An authentic body that cannot be read is kept as a dead letter before the 400: that
    write ran on the event loop, so while the database kept it waiting nothing else of the
    process — not /healthz, not other vendors' webhooks — was answered."""
    body = b'{"id": '  # signed, so authentic; not JSON
    answered = _healthz_answers_while_held(ws, server, "dead_letters", "/webhooks/dialer", body)
    assert answered == [400]
    assert len(ws.dead_letters()) == 1
