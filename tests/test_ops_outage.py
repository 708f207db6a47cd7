"""PostgreSQL ends every session of the workspace's database (a restart, a failover,
``pg_terminate_backend``) while a service runs: the next webhook is answered 2xx and its rows
are in the inbox, the admin API answers, and a worker's next drain applies the next rows (no
failed drain, which its loop would count as an error). Each process holds pooled connections
(and the intake its appender's, given back when idle); a session the server ended is found
before it is used (store/database.py, ``_drop_sessions_the_server_ended``), never by failing
a request.

The test has a database of its own on the test server, and terminates that database's
sessions only (other tests run on the same server)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from leadsync.observability import database_outage
from leadsync.pipeline import drain as drain_module
from leadsync.pipeline.inbox import InboxItem
from leadsync.pipeline.intake import GroupCommitWriter, database_unavailable
from leadsync.store.database import create_db_engine
from leadsync.store.inbox import Appender
from leadsync.workspace import Workspace
from tests.conftest import PG_ENV, scratch_postgres
from tests.live import compact, configure, serve, wait_until
from tests.test_observability import contact

# The PostgreSQL half: without a server, deselected and counted in the run's summary.
pytestmark = pytest.mark.usefixtures("postgres_url")


@pytest.fixture
def ws() -> Iterator[Workspace]:
    with scratch_postgres("leadsync_stale") as url:
        workspace = Workspace(url)
        configure(workspace)
        yield workspace
        workspace.close()


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    url = sa.engine.make_url(os.environ[PG_ENV]).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def _others_idle(database: str) -> bool:
    """Every other session of ``database`` is idle (none is in a statement or a transaction)."""
    with _admin() as admin:
        busy = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'",
            (database,),
        ).fetchone()
    return busy is not None and busy[0] == 0


def end_sessions(database: str) -> int:
    """``pg_terminate_backend`` every session of ``database`` (the scratch one) but this one;
    how many there were."""
    with _admin() as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()
        # pg_terminate_backend only signals: wait until the sessions are gone.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            left = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                "AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
            if left is not None and left[0] == 0:
                break
            time.sleep(0.01)
    return int(ended[0]) if ended is not None else 0


def test_a_webhook_after_the_server_ended_every_session_is_answered_and_kept(
    ws: Workspace,
) -> None:
    """The intake and the admin API (the worker: the test below, where nothing else runs
    that could be under way when the sessions end: a statement under way would rightly
    fail)."""
    database = str(ws.engine.url.database)
    with serve(ws, console=None, worker=False) as live:
        assert live.post_generic("dialer", compact([contact(1)])).status_code == 200
        assert live.client.get("/api/inbox/counts").status_code == 200
        wait_until(lambda: _others_idle(database), "the service's sessions to be idle")
        assert end_sessions(database) >= 1

        answer = live.post_generic("dialer", compact([contact(2)]))
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == 1
        assert {row["event_id"] for row in ws.inbox_rows()} == {"c1", "c2"}

        end_sessions(database)
        assert live.client.get("/api/inbox/counts").status_code == 200
        scraped = live.client.get("/metrics").text
    assert "leadsync_database_up 1.0" in scraped


def test_an_inbox_writer_that_cannot_open_a_session_is_an_outage_never_a_dead_letter(
    ws: Workspace,
) -> None:
    """The inbox writer's session gone while the database takes no new one (closed to
    connections, starting up, out of slots) and another session still alive: the writer's
    reconnect failed with the driver's own error, not taken for an outage — the request was
    kept through the live session as a dead letter and answered 400, which vendors do not
    retry. It is the 503 of an outage: the vendor retries."""
    database = str(ws.engine.url.database)
    writer = GroupCommitWriter(ws.engine)  # dead letters through the workspace's sessions
    closed = create_db_engine(ws.engine.url.render_as_string(hide_password=False))
    writer.appender = Appender(closed)  # the writer's own session: a new one, refused
    writer.start()
    try:
        with _admin() as admin:
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            try:
                item = InboxItem(key="c2", payload=json.dumps(contact(2)), occurred_at=None)
                future = writer.submit("dialer", [item], None)
                try:
                    outcome: object = future.result(timeout=60)
                except Exception as exc:
                    outcome = exc
            finally:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    finally:
        writer.stop()
        closed.dispose()
    assert isinstance(outcome, sa.exc.OperationalError), outcome
    assert database_unavailable(outcome)  # answered 503, the vendor retries
    assert ws.dead_letters() == []
    assert ws.inbox_rows() == []


def test_a_drain_whose_lock_session_ends_fails_as_the_outage_it_is(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The session holding a worker's part locks ended mid-drain: the drain fails with the
    outage (one warning line from the worker's loop), not with the PendingRollbackError its
    clean-up met on that session (a traceback, logged as a defect)."""

    def session_ended_under_way(*args: object) -> None:
        holder = args[-1]
        assert isinstance(holder, sa.Connection)
        pid = holder.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with _admin() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        wait_until(lambda: not _alive(int(str(pid))), "the session to end")
        holder.exec_driver_sql("SELECT 1")  # cut off

    monkeypatch.setattr(drain_module, "_parts_loop", session_ended_under_way)
    with pytest.raises(sa.exc.OperationalError) as caught:
        drain_module.drain(ws.engine, ws.rules())
    assert database_outage(caught.value)


def _alive(pid: int) -> bool:
    with _admin() as admin:
        found = admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return found is not None


def test_the_worker_applies_its_next_batch_on_sessions_of_its_own(ws: Workspace) -> None:
    """A worker whose pooled sessions the server ended applies the next rows at its next
    drain: no failed drain, so its loop counts no error."""
    worker = ws.worker()
    received(ws, contact(1))
    assert worker.run_once().events == 1
    end_sessions(str(ws.engine.url.database))
    received(ws, contact(2))
    assert worker.run_once().events == 1


def received(ws: Workspace, event: dict[str, object]) -> None:
    """``event`` committed to the inbox by the intake of another process (sessions of its
    own, opened now)."""
    other = Workspace(ws.engine.url.render_as_string(hide_password=False))
    writer = GroupCommitWriter(other.engine)
    writer.start()
    try:
        item = InboxItem(str(event["id"]), None, json.dumps(event))
        writer.submit("dialer", [item], None).result(timeout=30)
    finally:
        writer.stop()
        other.close()
