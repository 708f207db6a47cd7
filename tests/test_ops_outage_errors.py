"""Which errors are "the database is away": one definition
(``observability.database_outage``: a loop logs one line, not a traceback) and the intake's,
built on it (``pipeline.intake.database_unavailable``: 503, the vendor retries), wider by the
statements a database refuses whatever the rows. A value the database cannot hold is neither:
the intake refuses that request alone (400 and a dead letter).

The errors are the databases' and drivers' own, caught from real statements."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.observability import database_outage
from leadsync.pipeline.intake import database_unavailable
from leadsync.store.database import create_db_engine
from leadsync.workspace import Workspace
from tests.live import compact, configure, serve

# What each kind of failure is to the two predicates: (database_outage, database_unavailable).
KINDS = {
    "away": (True, True),  # every request alike, and expected: one line, a 503
    "statement": (False, True),  # every request alike, but a defect: a traceback, a 503
    "rows": (False, False),  # this request's values: a 400 and a dead letter
}


def caught(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def judged(cases: dict[str, tuple[str, BaseException]]) -> dict[str, tuple[bool, bool]]:
    """Each case's answers, next to what its kind expects, for one assert over the table."""
    return {
        name: (database_outage(exc), database_unavailable(exc))
        for name, (_kind, exc) in cases.items()
    }


def expected(cases: dict[str, tuple[str, BaseException]]) -> dict[str, tuple[bool, bool]]:
    return {name: KINDS[kind] for name, (kind, _exc) in cases.items()}


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'errors.db'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY)")
        connection.exec_driver_sql("INSERT INTO t VALUES ('taken')")
    yield engine
    engine.dispose()


def run(engine: sa.Engine, *statements: tuple[str, tuple[object, ...]]) -> None:
    with engine.begin() as connection:
        for sql, parameters in statements:
            connection.exec_driver_sql(sql, parameters)


def test_sqlite_errors(sqlite_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "errors.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    locked = caught(
        lambda: run(
            sqlite_engine,
            ("PRAGMA busy_timeout=0", ()),
            ("INSERT INTO t VALUES (?)", ("new",)),
        )
    )
    holder.execute("ROLLBACK")
    holder.close()
    one = sa.create_engine(f"sqlite:///{path}", pool_size=1, max_overflow=0, pool_timeout=0.01)
    with one.connect():
        pool_waited_out = caught(one.connect)
    one.dispose()
    cases = {
        "locked": ("away", locked),
        "no such table": ("away", caught(lambda: run(sqlite_engine, ("SELECT * FROM nope", ())))),
        "pool waited out": ("away", pool_waited_out),
        "a key taken": (
            "rows",
            caught(lambda: run(sqlite_engine, ("INSERT INTO t VALUES (?)", ("taken",)))),
        ),
        "a lone surrogate": (
            "rows",
            caught(lambda: run(sqlite_engine, ("INSERT INTO t VALUES (?)", ("\ud800",)))),
        ),
    }
    assert "database is locked" in str(locked)
    assert judged(cases) == expected(cases)


def test_errors_before_any_database() -> None:
    refused = create_db_engine("postgresql://nobody@127.0.0.1:1/nothing?connect_timeout=2")
    cases = {
        "server refusing": ("away", caught(refused.connect)),
        "a socket refused": ("away", ConnectionRefusedError()),
        "a dead pooled connection": ("away", sa.exc.DisconnectionError("ended")),
        "a bug": ("rows", ValueError("a bug")),
    }
    refused.dispose()
    assert judged(cases) == expected(cases)


def test_postgresql_errors(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)

    def select(sql: str, *parameters: object) -> Callable[[], object]:
        return lambda: run(engine, (sql, parameters))

    try:
        cases = {
            "session ended": (
                "away",
                caught(select("SELECT pg_terminate_backend(pg_backend_pid())")),
            ),
            "no such table": ("away", caught(select("SELECT * FROM nope"))),
            "syntax": ("statement", caught(select("SELEC 1"))),
            "not a number": ("rows", caught(select("SELECT %s::integer", "abc"))),
            "a NUL character": ("rows", caught(select("SELECT %s::text", "a\x00b"))),
            "too long": (
                "rows",
                caught(
                    lambda: run(
                        engine,
                        ("CREATE TEMPORARY TABLE short (c varchar(2))", ()),
                        ("INSERT INTO short VALUES (%s)", ("abc",)),
                    )
                ),
            ),
        }
    finally:
        engine.dispose()
    assert judged(cases) == expected(cases)


def rename(ws: Workspace, old: str, new: str) -> None:
    with ws.engine.begin() as connection:
        connection.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")


def event(n: int) -> bytes:
    return compact(
        [
            {"id": f"c{n}", "occurred_at": "2026-11-01T09:00:00Z", "type": "record"}
            | {"object": "contact", "external_id": f"p-{n}", "owner": "u-1"}
        ]
    )


def test_the_inbox_table_gone_is_a_503_and_no_dead_letter(ws: Workspace) -> None:
    with serve(ws, worker=False, console=None) as live:
        assert live.post_generic("dialer", event(1)).status_code == 200
        rename(ws, "inbox", "inbox_away")
        try:
            answer = live.post_generic("dialer", event(2))
        finally:
            rename(ws, "inbox_away", "inbox")
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"]
        assert live.post_generic("dialer", event(3)).status_code == 200
    assert ws.dead_letters() == []
    assert sorted(row["event_id"] for row in ws.inbox_rows()) == ["c1", "c3"]


def test_a_locked_sqlite_is_a_503_and_no_dead_letter(tmp_path: Path, sqlite_template: Path) -> None:
    shutil.copyfile(sqlite_template, tmp_path / "locked.db")
    ws = Workspace(f"sqlite:///{tmp_path / 'locked.db'}")
    try:
        configure(ws)

        def brief_waits(dbapi_connection: sqlite3.Connection, _record: object) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=50")  # after the engine's 30 s

        sa.event.listen(ws.engine, "connect", brief_waits)
        ws.engine.dispose()
        with serve(ws, worker=False, console=None) as live:
            holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another process writing, for long
            try:
                answer = live.post_generic("dialer", event(1))
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert answer.status_code == 503, answer.text
            assert live.post_generic("dialer", event(2)).status_code == 200
        assert ws.dead_letters() == []
        assert [row["event_id"] for row in ws.inbox_rows()] == ["c2"]
    finally:
        ws.close()
