"""SQLite: every transaction that writes holds the write lock from its BEGIN
(:func:`leadsync.store.database.begin_writing`).

A deferred BEGIN fixes the snapshot at the first read; another writer committing between that
read and the transaction's first write (the worker or the service beside a command on the same
file) made the write fail at once with "database is locked" — SQLite cannot wait that out, and
the busy timeout never applies. Each case below lets another connection try to commit right
after the operation's first read: it must wait for the operation (and, with a short timeout,
give up), and the operation must succeed."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.store.database import begin_writing
from leadsync.workspace import Workspace
from tests.helpers import contact_line, settings, workspace_config


def _another_writer_after_each_read(engine: sa.Engine, path: str) -> list[str]:
    """After each SELECT run inside a transaction, another connection (its own, with a short
    busy timeout) tries to commit a write; what it met each time is appended to the list."""
    met: list[str] = []

    def after_execute(connection: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if not connection.in_transaction():
            return
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            return
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        try:
            other.execute(
                "INSERT INTO counters (name, value) VALUES ('another writer', 1) "
                "ON CONFLICT (name) DO UPDATE SET value = value + 1"
            )
            met.append("committed")
        except sqlite3.OperationalError as exc:
            met.append(str(exc))
        finally:
            other.close()

    sa.event.listen(engine, "after_cursor_execute", after_execute)
    return met


def _settings_save(ws: Workspace) -> None:
    ws.apply_config(workspace_config({"dialer": settings(), "crm": settings()}))


def _ingest(ws: Workspace) -> None:
    summary = ws.ingest("dialer", [contact_line("p-1", "u-1")])
    assert summary.accepted == 1


def _dismiss(ws: Workspace) -> None:
    ws.ingest("dialer", ["{not json"])
    letters = ws.dead_letters()
    assert len(letters) == 1
    ws.dismiss_dead_letters([letters[0]["id"]], "a test", by="admin")


OPERATIONS: dict[str, Callable[[Workspace], None]] = {
    "settings save": _settings_save,
    "ingest": _ingest,
    "dead letter dismissed": _dismiss,
}


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_a_write_beside_another_writer_waits_for_it_instead_of_failing(
    tmp_path: Path, name: str
) -> None:
    path = str(tmp_path / "leadsync.db")
    ws = Workspace(f"sqlite:///{path}")
    try:
        ws.apply_config(workspace_config({"dialer": settings()}))
        met = _another_writer_after_each_read(ws.engine, path)
        OPERATIONS[name](ws)
    finally:
        ws.close()
    # The operation succeeded, though the other writer tried to commit after each of its
    # reads: in its writing transactions it waited for the operation's lock (in vain, with
    # its short timeout), held from their BEGIN; beside its reads it committed.
    assert "database is locked" in met
    assert set(met) <= {"database is locked", "committed"}


def test_a_read_takes_no_write_lock(tmp_path: Path) -> None:
    """Reads keep the deferred BEGIN: a writer commits beside them."""
    path = str(tmp_path / "leadsync.db")
    ws = Workspace(f"sqlite:///{path}")
    try:
        ws.apply_config(workspace_config({"dialer": settings()}))
        met = _another_writer_after_each_read(ws.engine, path)
        with ws.engine.connect() as connection:
            connection.execute(sa.text("SELECT count(*) FROM inbox")).scalar()
    finally:
        ws.close()
    assert met == ["committed"]


def test_begin_writing_without_it_the_write_fails_at_once(tmp_path: Path) -> None:
    """What the lock is for: a deferred transaction that read first cannot write once another
    writer committed, and begin_writing's can (the other writer waited)."""
    path = str(tmp_path / "leadsync.db")
    ws = Workspace(f"sqlite:///{path}")
    insert = sa.text("INSERT INTO counters (name, value) VALUES (:name, 0)")
    count = sa.text("SELECT count(*) FROM counters")
    try:
        ws.apply_config(workspace_config({"dialer": settings()}))
        met = _another_writer_after_each_read(ws.engine, path)
        with (
            pytest.raises(sa.exc.OperationalError, match="database is locked"),
            ws.engine.connect() as connection,
            connection.begin(),
        ):
            connection.execute(count)
            connection.execute(insert, {"name": "deferred"})
        assert met == ["committed"]
        met.clear()
        with begin_writing(ws.engine) as connection:
            connection.execute(count)
            connection.execute(insert, {"name": "immediate"})
        assert met == ["database is locked"]
    finally:
        ws.close()
