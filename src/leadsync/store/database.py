"""Opening a workspace database, migrating it, and the few dialect differences we accept."""

from __future__ import annotations

import json
import os
import re
import select
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from leadsync.errors import TransientError, UserError
from leadsync.store import upgrade
from leadsync.store.refusals import ALLOWED as _ALLOWED
from leadsync.store.refusals import first_line, option_refused, refusal, sqlite_not_writable
from leadsync.store.sqlite_file import drop_on_broken_file

DEFAULT_DB_URL = "sqlite:///leadsync.db"
DB_ENV = "LEADSYNC_DB"
MIGRATIONS = Path(__file__).with_name("migrations")

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# libpq's keyword/value form (``host=… user=… password=… dbname=…``), which psql takes.
_KEYWORDS = re.compile(r"^\s*[A-Za-z_]+\s*=\s*\S*(?:\s+[A-Za-z_]+\s*=\s*\S*)*\s*$")
_KEYWORD_PASSWORD = re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)")


def _libpq_keywords(text: str) -> bool:
    """Whether ``text`` is libpq's keyword/value form naming a server (``host=… dbname=…``)."""
    if not _KEYWORDS.match(text):
        return False
    keys = {part.split("=", 1)[0].strip().lower() for part in re.split(r"\s+(?=\w+\s*=)", text)}
    return bool(keys & {"host", "hostaddr", "port", "dbname", "user", "password", "service"})


def typed_url(url: str | None) -> str:
    """What names the database, as the user typed it: the argument, else ``LEADSYNC_DB``,
    else ``sqlite:///leadsync.db``."""
    return url or os.environ.get(DB_ENV) or DEFAULT_DB_URL


def resolve_url(url: str | None) -> str:
    """The SQLAlchemy URL of :func:`typed_url`: a plain path (no ``scheme://``) is a SQLite
    file, and ``postgresql://`` / ``postgres://`` use the psycopg driver."""
    url = typed_url(url)
    scheme = _SCHEME.match(url)
    if scheme is None:
        if _libpq_keywords(url):  # would be a SQLite file named after its password
            raise UserError(
                f"database {mask_password(url)} is libpq's key=value form, not a URL; "
                "allowed: a URL (postgresql://USER:PASSWORD@HOST:PORT/DBNAME) or a SQLite "
                "file's path"
            )
        return "sqlite:///" + str(Path(url).expanduser())
    authority = url[scheme.end() :].split("/", 1)[0]
    if authority.count("@") > 1:  # the driver would read the password's rest as the host
        raise UserError(
            f"database {mask_password(url)}: its password holds '@' (a URL's first '@' ends "
            "the password); allowed: postgresql://USER:PASSWORD@HOST:PORT/DBNAME with '@', "
            "':' and '/' in the user or the password written %40, %3A and %2F"
        )
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def shown_url(url: str | None) -> str:
    """:func:`typed_url` as messages show it: as typed, with any password masked (``***``),
    and where it came from when that was not ``--db``."""
    text = mask_password(typed_url(url))
    if url:
        return text
    if os.environ.get(DB_ENV):
        return f"{text} (from {DB_ENV})"
    return f"{text} (the default)"


def mask_password(text: str) -> str:
    """A database URL as typed, with the password (in the authority, a ``password=`` or
    ``sslpassword=`` query parameter, or libpq's ``password=`` keyword) replaced by ``***``;
    everything else exactly as typed. Works on text that does not parse as a URL too."""
    scheme = _SCHEME.match(text)
    if scheme is None and _libpq_keywords(text):
        return _KEYWORD_PASSWORD.sub(r"\1***", text)
    # A SQLite path (sqlite:///a@b.db) has no authority to mask; sqlite://u:pw@host/x.db does.
    if scheme is None or (
        text.lower().startswith("sqlite") and text[scheme.end() :].startswith("/")
    ):
        return text
    rest = text[scheme.end() :]
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at]:
        user = rest[:at].split(":", 1)[0]
        rest = f"{user}:***{rest[at:]}"
    rest = re.sub(r"(?i)([?&][a-z_]*password=)[^&]*", r"\1***", rest)  # sslpassword too
    return text[: scheme.end()] + rest


def redact(url: str) -> str:
    """A URL safe to print: the password is never shown, nor the driver leadsync chose
    (``postgresql://``, as users write it, rather than ``postgresql+psycopg://``). Where
    the user named the database, show :func:`shown_url` instead: it is as typed."""
    try:
        parsed = sa.engine.make_url(url)
        parsed = parsed.set(drivername=parsed.get_backend_name())
        return mask_password(parsed.render_as_string(hide_password=True))
    except (sa.exc.ArgumentError, ValueError):
        return mask_password(url)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, say where transactions begin, so that reads in a
    # transaction see one snapshot and SAVEPOINTs work (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it returns (WAL fsync per commit); every 2xx the
        # service gives and every ingest chunk reported done survives a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
    except Exception:
        # Closed at once, not when the collector frees the error's traceback (which keeps the
        # connection alive): a connection that failed on the file (one that is not a database)
        # may hold a lock on it until closed, which every writer of the file would wait for.
        cursor.close()
        dbapi_connection.close()
        raise
    cursor.close()


# The execution option that marks a transaction as one that writes (:func:`begin_writing`).
_WRITES = "leadsync_writes"


def _sqlite_begin(connection: Connection) -> None:
    writes = connection.get_execution_options().get(_WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def begin_writing(bind: Engine | Connection) -> Any:
    """``bind.begin()`` for work that writes — every such transaction of leadsync begins so.

    SQLite: ``BEGIN IMMEDIATE`` takes the write lock at once, waiting the busy timeout for
    another writer. A plain (deferred) BEGIN fixes the transaction's snapshot at its first
    read, and a writer committing between that read and this transaction's first write
    (the worker or the service beside a command on one file) makes the write fail at once
    with "database is locked": SQLite cannot wait that out, the snapshot is stale. Reads
    (``engine.connect()``) keep the plain BEGIN: they never wait for a writer, nor make one
    wait. PostgreSQL: the same ``begin()``. As a context manager it yields the connection
    (an engine's) or the transaction (a connection's, to roll back a dry run)."""
    return bind.execution_options(**{_WRITES: True}).begin()


# psycopg's prepare_threshold that no count of single executions reaches (see create_db_engine).
_NEVER = 2**62

#: libpq's settings for a PostgreSQL server that goes away without a word (its host down, a
#: network cut), each unless the URL sets its own (``?connect_timeout=30``): without them a
#: statement sent waits for the kernel to give up retransmitting (about 15 minutes) and an
#: idle pooled connection is found dead only when used; with them a new connection gives up
#: after 10 s, data unacknowledged for 30 s ends the connection, and an idle one is probed
#: every 10 s after 30 s — the failure is then an outage like any other (a 503, a retry).
NETWORK_DEFAULTS = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,  # milliseconds
}


def _refuse_unkeepable(url: str | None, parsed: sa.engine.URL) -> None:
    """A URL that names no place a workspace can be kept: SQLite in memory (every command
    would start from nothing: what ``apply`` took would be gone when it ends), a folder
    where a file is wanted, a port no server can listen on."""
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite":
        if database in ("", ":memory:") or "mode=memory" in str(parsed.query):
            raise UserError(
                f"database {shown_url(url)} is in memory: nothing would be kept past the "
                f"command; {_ALLOWED}"
            )
        if Path(database).expanduser().is_dir():
            raise UserError(f"database {shown_url(url)} is a folder; allowed: a file's path")
    elif parsed.port is not None and not 0 < parsed.port < 65536:
        raise UserError(
            f"database {shown_url(url)}: port {parsed.port} is no port; allowed: 1 to 65535"
        )


def create_db_engine(url: str | None = None) -> Engine:
    """An Engine for the workspace at ``url`` (see :func:`resolve_url`). Nothing is
    connected to, so nothing is created yet."""
    resolved = resolve_url(url)
    try:
        backend = sa.engine.make_url(resolved).get_backend_name()
    except (sa.exc.ArgumentError, ValueError) as exc:
        why = "" if isinstance(exc, sa.exc.ArgumentError) else f" ({exc})"
        if "invalid literal for int()" in why:  # the port
            why = " (its port is not a number)"
        raise UserError(f"database {shown_url(url)} is not a URL{why}; {_ALLOWED}") from None
    if backend not in ("sqlite", "postgresql"):
        raise UserError(
            f"database {shown_url(url)}: {backend} is not supported; "
            f"allowed: sqlite, postgresql ({_ALLOWED.removeprefix('allowed: ')})"
        )
    _refuse_unkeepable(url, sa.engine.make_url(resolved))
    try:
        # PostgreSQL: executemany goes to psycopg's pipelined executemany rather than
        # SQLAlchemy's "insertmanyvalues" (one big INSERT rendered in Python): the inbox's
        # group commits take a sixth less CPU and the engine is no slower (docs/PERFORMANCE.md).
        # Only executemany prepares its statement server-side (psycopg prepares those
        # whatever the threshold; None would stop that too and plan every row): a single
        # statement is never prepared. The engine's loads pass their keys as one array
        # (``= ANY``); once such a statement is prepared and run five times, PostgreSQL may
        # switch it to a generic plan, which cannot hash the array and compares every row
        # with every key: on 200,000 events a load took 12 s instead of 25 ms.
        options: dict[str, Any] = {}
        if backend == "postgresql":
            # READ COMMITTED whatever the server's default: every statement sees what committed
            # before it began, which the router's horizon relies on (store.routing).
            given = sa.engine.make_url(resolved).query
            network = {k: v for k, v in NETWORK_DEFAULTS.items() if k not in given}
            options = {
                "connect_args": {"prepare_threshold": _NEVER, **network},
                "isolation_level": "READ COMMITTED",
            }
        engine = sa.create_engine(resolved, use_insertmanyvalues=backend == "sqlite", **options)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise UserError(f"database {shown_url(url)} is not usable: {exc}; {_ALLOWED}") from None
    except ModuleNotFoundError as exc:  # a driver named in the URL (+asyncpg) not installed
        raise UserError(
            f"database {shown_url(url)}: its driver {exc.name} is not installed; {_ALLOWED}"
        ) from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
        sa.event.listen(engine, "handle_error", sqlite_not_writable(shown_url(url)))
        sa.event.listen(engine, "handle_error", drop_on_broken_file)
    else:
        sa.event.listen(engine, "checkout", _drop_sessions_the_server_ended)
    return engine


def _drop_sessions_the_server_ended(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """A pooled PostgreSQL connection whose session the server ended while it sat in the
    pool (a restart, a failover, ``pg_terminate_backend``, ``idle_session_timeout``) is
    replaced at checkout, before anything is sent on it: the pool takes
    ``DisconnectionError`` as "connect again" (SQLAlchemy's pessimistic disconnect handling).
    Without it every process fails one request (a 503), or the worker one batch, per
    connection it pooled before the server went away.

    Asking the kernel (:func:`session_ended`) costs one ``poll``, 3 µs and no round trip,
    where ``pool_pre_ping`` sends a statement at every checkout: a round trip, 190 µs to a
    local server (a network's latency otherwise), two or three times in each batch of the
    worker. The other ways leave a request to fail first: SQLAlchemy already drops the whole
    pool after a disconnect error (``handle_error``), and retrying the failed transaction is
    only safe when nothing could have committed, which an error from a connection lost
    mid-statement cannot tell. A server that vanishes without a word (a host down, a network
    cut) is not seen here, nor by a ping before its timeout."""
    if session_ended(dbapi_connection):
        raise sa.exc.DisconnectionError("the server ended the session")


def session_ended(dbapi_connection: Any) -> bool:
    """Whether the server ended an idle PostgreSQL connection's session. An idle session is
    asked nothing, so the server writes to it only to end it (its FATAL, then end of file;
    leadsync never ``LISTEN``s): a socket with something to read is one the server ended (a
    configuration reload's parameter report reads so too, and costs one reconnection)."""
    if dbapi_connection.closed:
        return True
    poller = select.poll()
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


def has_workspace(engine: Engine, shown: str) -> bool:
    """Whether the database holds a leadsync workspace (a schema leadsync migrated), without
    creating anything: a SQLite file that does not exist is not looked into (connecting
    would create it). ``shown`` names the database in errors."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:"):
            return False
        if not database.startswith("file:") and not Path(database).is_file():
            return False
    return _revision(engine, shown) is not None


def _revision(engine: Engine, shown: str) -> str | None:
    try:
        return current_revision(engine)
    except sa.exc.OperationalError as exc:
        refused = refusal(engine.url, exc)
        if refused is not None:  # a mistyped name or option is the user's to fix
            raise UserError(f"database {shown}: {refused}") from None
        raise TransientError(f"database {shown} unreachable: {exc.orig}") from None
    except sa.exc.DatabaseError as exc:
        if engine.url.get_backend_name() == "sqlite":  # "file is not a database"
            raise UserError(f"{shown} is not a leadsync workspace: {exc.orig}") from None
        # The server refused a statement (no permission on the workspace's tables: it names
        # an SQLSTATE), or the driver the URL's options (``connect_timeout=abc``, an unknown
        # query parameter: none), which the URL's allowed forms then follow.
        server = getattr(exc.orig, "sqlstate", None) is not None
        said = first_line(exc.orig) if server else option_refused(first_line(exc.orig))
        raise UserError(f"database {shown}: {said}") from None


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str | None:
    return _scripts().get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, shown: str | None = None, upgraded: list[str] | None = None) -> bool:
    """Bring the schema to the newest revision. Returns True when something was applied,
    and puts the revision it upgraded from in ``upgraded`` (none for a new workspace).
    ``shown`` names the database in errors (default: its URL, password hidden)."""
    shown = shown or redact(str(engine.url))
    revision = _revision(engine, shown)
    if revision == head_revision():
        return False
    upgrade.check(engine, _scripts(), revision, shown)
    try:
        with begin_writing(engine) as connection:
            command.upgrade(_alembic_config(connection), "head")
            if revision is not None:  # an upgrade, not a new workspace
                upgrade.complete_schema(connection, revision, shown, upgraded)
    except sa.exc.OperationalError as exc:
        refused = refusal(engine.url, exc)
        if refused is not None:
            raise UserError(f"database {shown}: {refused}") from None
        raise TransientError(f"database {shown} unreachable: {exc.orig}") from None
    return True


def insert_ignore(connection: Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def upsert(
    connection: Connection, table: sa.Table, keys: Sequence[str], update: dict[str, Any]
) -> Any:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET update`` for the connection's dialect.

    ``update`` values may use ``excluded(name)`` to refer to the proposed row.
    """
    stmt: Any
    if connection.dialect.name == "postgresql":
        stmt = postgresql.insert(table)
    else:
        stmt = sqlite.insert(table)
    values = {k: (v(stmt.excluded) if callable(v) else v) for k, v in update.items()}
    return stmt.on_conflict_do_update(index_elements=list(keys), set_=values)


_BIGINTS = postgresql.ARRAY(sa.BigInteger)
_TEXTS = postgresql.ARRAY(sa.Text)
# A parameter sent as text of no declared type, which the CAST around it then types: the
# server reads the array once per execution (cast from text, it would read it row by row).
_UNTYPED = sa.types.NullType()


def id_array(values: Iterable[int | None]) -> str:
    """Integers (None for NULL) as PostgreSQL's array literal, for a ``%s::bigint[]``
    parameter: psycopg adapts a list item by item in Python, ten times slower."""
    items = list(values)
    if None in items:
        return "{" + ",".join("NULL" if v is None else str(int(v)) for v in items) + "}"
    return "{" + ",".join(map(str, map(int, items))) + "}"  # type: ignore[arg-type]


def _text_array(values: Sequence[object]) -> str:
    """Texts as PostgreSQL's array literal: each quoted, its backslashes and quotes escaped
    (none to escape, the usual case, is one join)."""
    items = [str(v) for v in values]
    joined = '","'.join(items)
    if "\\" in joined or '"' in "".join(items):
        joined = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in items)
    return '{"' + joined + '"}' if items else "{}"


def dicts(result: sa.CursorResult[Any]) -> list[dict[str, Any]]:
    """A result's rows as dicts (``dict(row._mapping)`` costs several times more)."""
    names = tuple(result.keys())
    return [dict(zip(names, row, strict=True)) for row in result]


def in_values(column: sa.ColumnElement[Any], values: Collection[Any], dialect: str) -> Any:
    """``column IN values`` as ONE bound parameter, whatever the number of values: a JSON
    array read by ``json_each`` on SQLite, an array with ``= ANY`` on PostgreSQL. One query per
    load, no per-value parameter to build, no limit on the count."""
    items = sorted(values)
    if dialect == "postgresql":
        # The array as its text form, cast by the server: psycopg adapts a list item by
        # item in Python (about 0.6 µs each, and the loads pass thousands per batch).
        if isinstance(column.type, sa.Integer):
            text = id_array(items)
            return column == sa.any_(sa.cast(sa.bindparam(None, text, type_=_UNTYPED), _BIGINTS))
        if isinstance(column.type, sa.String):
            text = _text_array(items)
            return column == sa.any_(sa.cast(sa.bindparam(None, text, type_=_UNTYPED), _TEXTS))
        return column == sa.any_(sa.bindparam(None, items, type_=postgresql.ARRAY(column.type)))
    listed = sa.func.json_each(sa.bindparam(None, json.dumps(items), type_=sa.Text)).table_valued(
        "value"
    )
    return column.in_(sa.select(listed.c.value))


# ------------------------------------------------------------ batched writes, bare driver

_DRIVER_SQL: dict[tuple[str, Hashable], str] = {}


def driver_sql(
    connection: Connection, key: Hashable, build: Callable[[Callable[[str], str], str], str]
) -> str:
    """SQL text for the driver, written once per dialect and ``key``: ``build(quote, mark)``
    gets the dialect's identifier quoting and its parameter marker (``?`` for sqlite3, ``%s``
    for psycopg). The engine's writes run thousands of rows through a handful of statements;
    SQLAlchemy would build and process every row's parameters (and compile its
    ``on_conflict_do_*`` constructs again on every execute, as they are not cacheable)."""
    dialect = connection.dialect
    cache_key = (dialect.name, key)
    sql = _DRIVER_SQL.get(cache_key)
    if sql is None:
        mark = "?" if dialect.name == "sqlite" else "%s"
        sql = _DRIVER_SQL[cache_key] = build(dialect.identifier_preparer.quote, mark)
    return sql


def insert_sql(
    connection: Connection, table: sa.Table, columns: Sequence[str], on_conflict: str = ""
) -> str:
    """``INSERT INTO table (columns) VALUES (...)`` with an ``ON CONFLICT`` clause as written
    (the same text on SQLite and PostgreSQL), for :func:`executemany`."""

    def build(quote: Callable[[str], str], mark: str) -> str:
        names = ", ".join(quote(c) for c in columns)
        values = ", ".join([mark] * len(columns))
        suffix = f" {on_conflict}" if on_conflict else ""
        return f"INSERT INTO {quote(table.name)} ({names}) VALUES ({values}){suffix}"

    return driver_sql(connection, ("insert", table.name, tuple(columns), on_conflict), build)


def update_sql(connection: Connection, table: sa.Table, columns: Sequence[str], key: str) -> str:
    """``UPDATE table SET columns WHERE key = ...``: parameters are the columns, then the key."""

    def build(quote: Callable[[str], str], mark: str) -> str:
        sets = ", ".join(f"{quote(c)} = {mark}" for c in columns)
        return f"UPDATE {quote(table.name)} SET {sets} WHERE {quote(key)} = {mark}"

    return driver_sql(connection, ("update", table.name, tuple(columns), key), build)


def executemany(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> int:
    """Run ``sql`` over rows of plain tuples with the driver's own executemany (sqlite3's, or
    psycopg's pipelined one). It goes through ``exec_driver_sql``, so the transaction, the
    events and the errors (``sa.exc.OperationalError`` for an outage) are SQLAlchemy's as
    for every other statement; only the per-row parameter processing is skipped, so values
    must be what the driver stores: JSON as text (``json_text``), booleans as ``bool``.
    Returns the rows the statements changed (the driver's count)."""
    if not rows:
        return 0
    done = connection.exec_driver_sql(sql, rows if isinstance(rows, list) else list(rows))
    return max(0, done.rowcount)


# The text json.dumps writes (what SQLAlchemy's JSON type stores), without the check for
# reference cycles, which values decoded from JSON cannot have: it takes half the time of
# encoding an activity's memory.
json_text: Callable[[Any], str] = json.JSONEncoder(check_circular=False).encode


# PostgreSQL takes a batch's rows as one statement over one JSON array of rows
# (``INSERT ... SELECT ... FROM jsonb_array_elements(...)``), encoded by the json module's C
# encoder. psycopg's pipelined executemany sends a Bind and an Execute per row, and arrays
# per column are escaped value by value in Python: 35 and 41 µs of client CPU per row of ten
# columns against 4 for the JSON text, 24 and 14 µs of server CPU against 10
# (docs/PERFORMANCE.md). SQLite keeps sqlite3's executemany, in C already.


def insert_rows(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    on_conflict: str = "",
    *,
    unique: Sequence[str] = (),
) -> int:
    """Insert rows (tuples in ``columns`` order, values as :func:`executemany` wants them)
    with ``on_conflict`` as written. Rows go in their order (ids from a sequence follow it).
    ``unique`` names the columns an ``ON CONFLICT (...) DO UPDATE`` targets: PostgreSQL
    cannot update one row twice in a statement, so rows that repeat a key go one by one.
    Returns the rows inserted or updated (not those a conflict left alone)."""
    if not rows:
        return 0
    if connection.dialect.name != "postgresql" or _repeats(rows, columns, unique):
        return executemany(connection, insert_sql(connection, table, columns, on_conflict), rows)

    def build(quote: Callable[[str], str], mark: str) -> str:
        names = ", ".join(quote(c) for c in columns)
        suffix = f" {on_conflict}" if on_conflict else ""
        select = _select_rows(connection, table, columns)
        return f"INSERT INTO {quote(table.name)} ({names}) {select}{suffix}"

    sql = driver_sql(connection, ("insert-json", table.name, tuple(columns), on_conflict), build)
    return max(0, connection.exec_driver_sql(sql, (json_text(rows),)).rowcount)


def update_rows(
    connection: Connection,
    table: sa.Table,
    columns: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
) -> None:
    """``UPDATE table SET columns WHERE key = ...`` for rows of the columns' values then the
    key's; a key given twice is set in the rows' order (the last one stays)."""
    if not rows:
        return
    every = (*columns, key)
    if connection.dialect.name != "postgresql" or _repeats(rows, every, (key,)):
        executemany(connection, update_sql(connection, table, columns, key), rows)
        return

    def build(quote: Callable[[str], str], mark: str) -> str:
        sets = ", ".join(f"{quote(c)} = v.{quote(c)}" for c in columns)
        names = ", ".join(quote(c) for c in every)
        return (
            f"UPDATE {quote(table.name)} SET {sets} "
            f"FROM ({_select_rows(connection, table, every)}) AS v ({names}) "
            f"WHERE {quote(table.name)}.{quote(key)} = v.{quote(key)}"
        )

    sql = driver_sql(connection, ("update-json", table.name, tuple(columns), key), build)
    connection.exec_driver_sql(sql, (json_text(rows),))


def _select_rows(connection: Connection, table: sa.Table, columns: Sequence[str]) -> str:
    """``SELECT`` the columns out of the JSON array of rows (one parameter), in its order.
    Text stays text, so the column's own assignment checks its length (an explicit cast to
    ``varchar(n)`` would cut it); other values are cast to the column's type."""
    dialect = connection.dialect
    values = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        plain = getattr(column_type, "impl", column_type)
        if isinstance(plain, sa.String):
            values.append(f"e->>{index}")
        else:
            values.append(f"(e->>{index})::{column_type.compile(dialect=dialect)}")
    return f"SELECT {', '.join(values)} FROM jsonb_array_elements(%s::jsonb) AS e"


def _repeats(rows: Sequence[Sequence[Any]], columns: Sequence[str], key: Sequence[str]) -> bool:
    """Whether two rows have the same values in the ``key`` columns."""
    if not key:
        return False
    at = [columns.index(c) for c in key]
    if len(at) == 1:
        keys: set[Any] = {row[at[0]] for row in rows}
    else:
        keys = {tuple(row[i] for i in at) for row in rows}
    return len(keys) < len(rows)
