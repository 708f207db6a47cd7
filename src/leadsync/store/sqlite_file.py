"""A SQLite workspace file that is not (or no longer) a database, and the connections that met it.

SQLite says "file is not a database" (``SQLITE_NOTADB``) or "database disk image is
malformed" (``SQLITE_CORRUPT``) when the file's header or pages were overwritten: replaced by
something else, truncated, corrupted. A connection that met such a file keeps failing so
after the file is mended (a backup copied back): its pager stays in its error state, while a
connection opened afterwards reads the mended file. So such a connection is dropped, never
used again:

- the engine's connections (the worker, the readiness probe, the admin API, the console):
  :func:`drop_on_broken_file`, the engine's ``handle_error``, marks the error a "disconnect"
  in SQLAlchemy's sense (the connection is unusable), so SQLAlchemy closes that connection
  rather than pooling it again, and replaces the pool's others at their next checkout;
- the intake's group-commit writer, which keeps one connection of its own through the bare
  driver (:class:`~leadsync.store.inbox.Appender`), drops it on the same errors.

Nothing is retried: the request, drain or probe that met the broken file fails (a 503, a
drain retried later, ``not ready``), and the next one opens the file again. Such an error is
still no outage that ends by itself (:func:`leadsync.observability.database_outage`): a person
restores the file, and the loops log it as one error line per failure until then
(:func:`leadsync.observability.log_failure`). Readiness
(``/readyz``) also looks at the file's header (:func:`header_problem`), which pages already
read cannot hide.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import suppress
from typing import Any

from sqlalchemy.engine import Engine, ExceptionContext

BROKEN_FILE_CODES = (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


def broken_file(exc: BaseException) -> bool:
    """Whether ``exc`` — SQLAlchemy's, or the sqlite3 driver's own — says the SQLite file is
    not (or no longer) a database: ``SQLITE_NOTADB`` or ``SQLITE_CORRUPT``, extended codes
    included."""
    driver = getattr(exc, "orig", None) or exc
    code = getattr(driver, "sqlite_errorcode", None)
    return (
        isinstance(driver, sqlite3.DatabaseError)
        and isinstance(code, int)
        and code & 0xFF in BROKEN_FILE_CODES
    )


def drop_on_broken_file(context: ExceptionContext) -> None:
    """``handle_error`` of a SQLite engine: a connection that met a broken file is dropped
    (see the module's docstring), once :func:`let_go`; the error raised is the same, marked
    ``connection_invalidated``."""
    if broken_file(context.original_exception):
        context.is_disconnect = True
        connection = context.connection  # None when the error came while connecting
        if connection is not None:
            let_go(connection.connection.dbapi_connection)


def let_go(driver: Any) -> None:
    """Roll back the transaction of a sqlite3 connection that met a broken file, before it
    is dropped: SQLite closes a connection whose statement failed half-way only once that
    statement is freed (``sqlite3_close_v2``: a zombie), and until then the zombie keeps the
    transaction's write lock — held by the traceback's frames past the garbage collector a
    batch pauses (pipeline/collector.py), every other writer of the file would wait out its
    busy timeout, then fail "database is locked", the restored file too."""
    if driver is not None:
        with suppress(Exception):  # nothing of the file can be trusted: whatever it says
            driver.rollback()


HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def header_problem(engine: Engine) -> str | None:
    """What is wrong with the header of a SQLite engine's file, or None (a file that begins as
    a SQLite database, is empty or absent, or no SQLite file at all). Readiness asks it: a
    connection reads pages it holds already, or the write-ahead log's, without the file, so a
    file replaced while the service runs may answer reads until a write meets it.

    The header is read through a descriptor this process keeps open for good
    (:func:`_descriptor`): closing any descriptor of a file drops every POSIX lock the
    process holds on it — SQLite's own included — so a probe that opened and closed the
    file let the next ``leadsync`` command take the service for gone, checkpoint and delete
    the write-ahead log under it: webhooks answered 200 were lost and the file corrupted."""
    url = engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:"):
        return None
    try:
        start = os.pread(_descriptor(os.path.abspath(database)), len(HEADER), 0)
    except OSError:
        return None  # absent, or unreadable: the statements say so
    if start and start != HEADER:
        return "file is not a database"
    return None


#: (device, inode) -> a read-only descriptor of that file, never closed (see
#: :func:`header_problem`): one per file this process has probed — a restored file is
#: another inode, and SQLite's connections to it hold their locks on that one.
_DESCRIPTORS: dict[tuple[int, int], int] = {}
_DESCRIPTORS_LOCK = threading.Lock()


def _descriptor(path: str) -> int:
    """The descriptor kept for the file now at ``path``; OSError when there is none."""
    found = os.stat(path)
    key = (found.st_dev, found.st_ino)
    with _DESCRIPTORS_LOCK:
        if key not in _DESCRIPTORS:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            opened = os.fstat(descriptor)
            key = (opened.st_dev, opened.st_ino)  # the path may name another file by now
            # A file renamed in between may be one held already: this descriptor is left
            # open all the same (a close would drop the process's locks on that file).
            _DESCRIPTORS.setdefault(key, descriptor)
        return _DESCRIPTORS[key]
