"""Two `serve` processes given the same events at once insert the same keys in different
orders; each waits for the other's, and PostgreSQL ends one of them with a deadlock. That
group commit is made again (its statement was undone whole): its requests are answered, the
other's rows counted as duplicates, never a 503 "database unavailable" while it is up."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from leadsync.store import inbox as inbox_store
from leadsync.store.inbox import PENDING, Appender, InboxRow
from leadsync.workspace import Workspace

AT = "2026-12-07T09:00:00.000Z"


def _row(key: str) -> InboxRow:
    return InboxRow("dialer", key, AT, AT, '{"body":{}}', PENDING, "webhook", None)


def _waiting_on_a_lock(engine: sa.Engine) -> bool:
    with engine.connect() as c:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return bool(c.execute(sa.text(query)).scalar_one())


def test_a_group_commit_ended_by_a_deadlock_with_another_servers_is_made_again(
    ws: Workspace, db_url: str
) -> None:
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite has one writer: no two commits wait for each other")
    other = ws.engine.connect()  # the other server's group commit, held open
    other.begin()
    # The other server notices the deadlock late: this appender is the one PostgreSQL ends.
    other.exec_driver_sql("SET LOCAL deadlock_timeout = '60s'")
    inbox_store.append(other, [_row("b")])
    appender = Appender(ws.engine)
    outcome: list[object] = []

    def commit() -> None:
        try:
            outcome.append(appender.append([_row("a"), _row("b")]))
        except Exception as exc:  # what the writer would answer with a 503
            outcome.append(exc)

    mine = threading.Thread(target=commit)
    mine.start()
    for _ in range(600):  # until it has inserted "a" and waits for the other's "b"
        if _waiting_on_a_lock(ws.engine):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the group commit never waited for the other's row")
    theirs = threading.Thread(target=lambda: inbox_store.append(other, [_row("a")]))
    theirs.start()  # waits for this commit's "a": a cycle, which PostgreSQL breaks
    theirs.join(60)
    assert not theirs.is_alive()
    other.commit()
    other.close()
    mine.join(60)
    appender.close()
    assert outcome == [[None, None]]  # made again: both the other's, duplicates
    with ws.engine.connect() as c:
        keys = c.exec_driver_sql("SELECT event_id FROM inbox ORDER BY seq").scalars().all()
    assert keys == ["b", "a"]
