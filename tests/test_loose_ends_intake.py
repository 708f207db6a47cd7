"""A SQLite file that is not (or no longer) a database — "file is not a database", "database
disk image is malformed": ``sqlite3.DatabaseError``, ``sa.exc.DatabaseError`` — is the same
for every request: the intake answers 503 (the vendor retries), logs one line, and keeps
nothing as the request's fault (``pipeline.intake.database_unavailable``). A value the
database cannot hold (SQLite's "string or blob too big") is still that request's alone: a
400 and a dead letter, the others committed.

The errors are SQLite's own: a file whose header or a table's page is overwritten, a
connection whose length limit a row passes."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.observability import database_outage
from leadsync.pipeline.inbox import InboxItem
from leadsync.pipeline.intake import GroupCommitWriter, IntakeError, database_unavailable
from leadsync.store.database import create_db_engine
from leadsync.store.sqlite_file import HEADER
from leadsync.workspace import Workspace
from tests.live import checkpoint, compact, configure, serve


def caught(action: object) -> BaseException:
    assert callable(action)
    try:
        action()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


def event(n: int) -> bytes:
    return compact(
        [
            {"id": f"c{n}", "occurred_at": "2026-11-01T09:00:00Z", "type": "record"}
            | {"object": "contact", "external_id": f"p-{n}", "owner": "u-1"}
        ]
    )


@pytest.fixture
def ws(tmp_path: Path, sqlite_template: Path) -> Iterator[Workspace]:
    shutil.copyfile(sqlite_template, tmp_path / "broken.db")
    workspace = Workspace(f"sqlite:///{tmp_path / 'broken.db'}")
    configure(workspace)
    yield workspace
    workspace.close()


def overwrite(path: Path, data: bytes, at: int = 0) -> None:
    with path.open("r+b") as file:
        file.seek(at)
        file.write(data)


def test_a_file_broken_after_start_is_a_503_one_line_and_no_dead_letter(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    path = Path(str(ws.engine.url.database))
    # No push loop: it reads every poll, and a pooled connection that read page 1 between
    # the checkpoint and the overwrite keeps it cached (the write-ahead log's header has not
    # changed), so the writer handed that connection commits as if the file were whole and
    # puts page 1 in the log, mending the file for everyone (CI, once under load).
    with serve(ws, worker=False, console=None, push=False) as live:
        assert live.post_generic("dialer", event(1)).status_code == 200
        checkpoint(path)
        overwrite(path, b"not a database!\x00")
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="leadsync.intake"):
            try:
                answers = [live.post_generic("dialer", event(n)) for n in (2, 3)]
            finally:
                overwrite(path, HEADER)
        lines = [r for r in caplog.records if r.name.startswith("leadsync.intake")]
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.headers["retry-after"]
        # One warning line for the outage (the second request is counted toward its next
        # line: pipeline/outage.py), no traceback, nothing "kept as a dead letter".
        assert [r.getMessage() for r in lines if "answered 503" in r.getMessage()] == [
            "intake: database unavailable (DatabaseError); 1 request(s) answered 503"
        ], [r.getMessage() for r in lines]
        assert all(r.levelno == logging.WARNING and not r.exc_info for r in lines)
        assert all("\n" not in r.getMessage() for r in lines)
        assert not [r for r in lines if "dead letter" in r.getMessage()]
    # The file mended: read with connections of their own (SQLite keeps a connection that met
    # a file that is not a database failing; the service drops its own: test_mended_sqlite).
    mended = Workspace(f"sqlite:///{path}")
    try:
        assert mended.dead_letters() == []
        assert [row["event_id"] for row in mended.inbox_rows()] == ["c1"]
    finally:
        mended.close()


def test_a_broken_file_is_unavailable_a_value_too_big_is_the_rows(tmp_path: Path) -> None:
    """``(database_outage, database_unavailable)`` of SQLite's own errors: a broken file is
    every request's, as a statement refused whatever the rows is (a defect to the loops: a
    traceback; a 503 to the intake); a value too big is the request's own."""
    path = tmp_path / "pages.db"
    engine = create_db_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
        connection.exec_driver_sql("INSERT INTO t VALUES ('a', ?)", ("x" * 100_000,))
    engine.dispose()

    def brief_limit(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 1000)

    short = create_db_engine(f"sqlite:///{path}")
    sa.event.listen(short, "connect", brief_limit)
    with short.connect() as connection:
        too_big = caught(
            lambda: connection.exec_driver_sql("INSERT INTO t VALUES ('b', ?)", ("y" * 2000,))
        )
    short.dispose()
    checkpoint(path)
    overwrite(path, b"\xff" * 4096 * 3, at=4096)  # the pages after the first: the table's
    engine = create_db_engine(f"sqlite:///{path}")
    malformed = caught(lambda: engine.connect().exec_driver_sql("SELECT * FROM t").fetchall())
    engine.dispose()
    overwrite(path, b"not a database!\x00")
    engine = create_db_engine(f"sqlite:///{path}")
    not_a_database = caught(engine.connect)
    engine.dispose()
    assert "database disk image is malformed" in str(malformed)
    assert "file is not a database" in str(not_a_database)
    assert "string or blob too big" in str(too_big)
    judged = {
        name: (database_outage(exc), database_unavailable(exc))
        for name, exc in {
            "malformed": malformed,
            "not a database": not_a_database,
            "too big": too_big,
        }.items()
    }
    assert judged == {
        "malformed": (False, True),
        "not a database": (False, True),
        "too big": (False, False),
    }


def test_a_value_the_database_cannot_hold_is_still_that_request_alone(
    ws: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite refuses one request's row (longer than the connection's length limit): that
    request is a 400 and a dead letter, as before; the one beside it is committed."""

    def brief_limit(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 5000)

    sa.event.listen(ws.engine, "connect", brief_limit)
    ws.engine.dispose()
    writer = GroupCommitWriter(ws.engine)
    good = InboxItem("k-good", None, json.dumps({"id": "k-good"}))
    big = InboxItem("k-big", None, json.dumps({"id": "k-big", "note": "z" * 6000}))
    writer.start()
    try:
        with caplog.at_level(logging.WARNING, logger="leadsync.intake"):
            refused = caught(
                lambda: writer.submit("dialer", [big], None, lambda: "kept as sent").result(30)
            )
        assert writer.submit("dialer", [good], None).result(timeout=30).accepted == 1
    finally:
        writer.stop()
    assert isinstance(refused, IntakeError) and refused.status == 400, refused
    assert refused.detail.startswith("the inbox cannot store this request (DataError")
    warned = [r for r in caplog.records if r.levelno >= logging.WARNING]  # (the writer's
    # closing INFO line shows too where an earlier test left the logger at INFO)
    assert [r.getMessage() for r in warned if r.name == "leadsync.intake"] == [
        "inbox refused a request for dialer (DataError); kept as a dead letter"
    ]
    [letter] = ws.dead_letters()
    assert (letter["raw"], letter["error"]) == ("kept as sent", refused.detail)
    assert [row["event_id"] for row in ws.inbox_rows()] == ["k-good"]
