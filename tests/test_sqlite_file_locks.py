"""Readiness reads a SQLite file's header without dropping the service's locks on it.

Closing any descriptor of a file drops every POSIX lock its process holds on that file,
SQLite's own included. A ``/readyz`` that opened and closed the workspace file let the next
``leadsync`` command (another process) take itself for the file's last user: on closing it
checkpointed and deleted the write-ahead log the service was still writing, so webhooks
answered 200 afterwards were lost and the file could be corrupted."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from leadsync.store.sqlite_file import header_problem

OTHER_PROCESS = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
connection.execute("SELECT count(*) FROM t").fetchone()
connection.close()
"""


def test_the_header_probe_leaves_the_service_its_write_ahead_log(tmp_path: Path) -> None:
    path = tmp_path / "ws.db"
    service = sqlite3.connect(path, isolation_level=None)
    service.execute("PRAGMA journal_mode=WAL")
    service.execute("CREATE TABLE t (x)")
    service.execute("INSERT INTO t VALUES (1)")
    engine = sa.create_engine(f"sqlite:///{path}")
    for _ in range(2):  # the first probe opens the file, the second reads it again
        assert header_problem(engine) is None
        subprocess.run([sys.executable, "-c", OTHER_PROCESS, str(path)], check=True)
        # The other process saw the service: it left the write-ahead log in place.
        assert (tmp_path / "ws.db-wal").exists()
    service.execute("INSERT INTO t VALUES (2)")  # written where every reader finds it
    service.close()
    check = sqlite3.connect(path)
    assert check.execute("SELECT count(*) FROM t").fetchone() == (2,)
    assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    check.close()
    engine.dispose()


def test_a_file_overwritten_in_place_is_still_told_broken(tmp_path: Path) -> None:
    path = tmp_path / "ws.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    engine = sa.create_engine(f"sqlite:///{path}")
    assert header_problem(engine) is None
    with path.open("r+b") as file:
        file.write(b"not a database!!")
    assert header_problem(engine) == "file is not a database"
    path.unlink()
    path.write_bytes(Path(__file__).read_bytes())  # another file at the path: read anew
    assert header_problem(engine) == "file is not a database"
    engine.dispose()
