"""What a database's refusal tells the user: PostgreSQL refusing a connection for good (a
database or role it does not have, a URL option libpq refuses) and SQLite refusing a file this
user may not write are the user's to fix (exit 2), said in words; anything else is left to
the caller (an outage that passes)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from leadsync.errors import UserError

ALLOWED = "allowed: sqlite:///PATH, a plain PATH (a SQLite file), or postgresql://USER@HOST:PORT/DB"


# What PostgreSQL answers a connection to a database it does not have (the driver gives no
# error code for a connection that failed: its words are all there is).
_NO_DATABASE = re.compile(r'database "(?P<name>[^"]+)" does not exist')
# A server that answered and refused the connection for good (a role it does not have, a
# wrong password, no pg_hba.conf entry) says FATAL; these FATALs pass by themselves.
_FATAL = re.compile(r"FATAL:\s+(?P<why>[^\n]+)")
_PASSING = (
    "starting up",
    "shutting down",
    "recovery mode",
    # "the database system is not yet accepting connections" (a standby not consistent
    # yet), "the database system is not accepting connections" (a standby without
    # hot_standby, until a failover promotes it), 'database "X" is not currently accepting
    # connections' (its ALLOW_CONNECTIONS turned off for a while: a maintenance window).
    "accepting connections",
    "too many",
    "connection slots",
    "terminating",
    "timeout",
)
# libpq refusing the URL before any connection: ``invalid sslmode value: "bogus"``.
_BAD_OPTION = re.compile(r"\binvalid [\w ]+ value\b|\binvalid (URI|connection option)\b")


def first_line(exc: BaseException | None) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


# What sqlite3 says of a file or folder this user may not write (a permanent state: exit 2).
_READ_ONLY = "attempt to write a readonly database"  # a write to a file it may not write
_SQLITE_NOT_WRITABLE = (_READ_ONLY, "unable to open database file")


def refusal(url: sa.URL, exc: sa.exc.OperationalError) -> str | None:
    """What to tell the user when PostgreSQL (or the driver, for the URL's options) refused
    the connection, or SQLite its file, for a reason that does not pass by itself; None for
    any other failure (a server that is down or starting stays transient)."""
    if url.get_backend_name() == "sqlite":
        said = str(exc.orig)
        return _not_writable(said) if said in _SQLITE_NOT_WRITABLE else None
    if url.get_backend_name() != "postgresql":
        return None
    text = str(exc.orig)
    if (missing := _NO_DATABASE.search(text)) is not None:
        return _missing_database(url, missing["name"])
    fatal = _FATAL.search(text)
    if fatal is not None and not any(word in fatal["why"] for word in _PASSING):
        return (
            f"the server refused the connection: {fatal['why'].strip()} (check the URL's "
            "user, password and database)"
        )
    if _BAD_OPTION.search(text):
        return option_refused(first_line(exc.orig).removeprefix("connection is bad: "))
    return None


def option_refused(said: str) -> str:
    """The driver's words of an option of the URL it refused, with what it takes."""
    if "sslmode" in said:
        allowed = "allowed sslmode values: disable, allow, prefer, require, verify-ca, verify-full"
    else:
        allowed = "allowed: libpq's connection options, postgresql://USER@HOST:PORT/DB?OPTION=VALUE"
    return f"{said} (an option of the URL, after ?); {allowed}"


def _missing_database(url: sa.URL, name: str) -> str:
    """What to tell the user when PostgreSQL refused to connect to a database it does not
    have."""
    server = f"server at {url.host}:{url.port or 5432}" if url.host else "local server"
    createdb = " ".join(
        ["createdb"]
        + ([f"-h {url.host}"] if url.host else [])
        + ([f"-p {url.port}"] if url.port else [])
        + ([f"-U {url.username}"] if url.username else [])
        + [name]
    )
    return (
        f"{name} does not exist on the PostgreSQL {server}; create it first ({createdb}), "
        "then run leadsync init, which creates the tables but not the database"
    )


def sqlite_not_writable(shown: str) -> Callable[[Any], UserError | None]:
    """A write to a file this user may not write, wherever it happens (a read-only file in a
    writable folder opens and reads): the user's to fix, exit 2 — not an outage retried for
    ever, nor a traceback."""

    def refused(context: Any) -> UserError | None:
        said = str(context.original_exception)
        # (Not "unable to open database file": a file or folder gone while it runs is the
        # outage it reports as such.)
        if said == _READ_ONLY:
            return UserError(f"database {shown}: {_not_writable(said)}")
        return None

    return refused


def _not_writable(said: str) -> str:
    return (
        f"SQLite cannot write it ({said}): the file or its folder is read-only to this user; "
        "allowed: a file and a folder this user may write (SQLite writes the file and, beside "
        "it, its -wal and -shm files)"
    )
