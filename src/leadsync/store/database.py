"""Opening a workspace database, migrating it, and the few dialect differences we accept."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
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

DEFAULT_DB_URL = "sqlite:///leadsync.db"
MIGRATIONS = Path(__file__).with_name("migrations")


def resolve_url(url: str | None) -> str:
    """The database URL: the argument, else ``LEADSYNC_DB``, else ``sqlite:///leadsync.db``."""
    url = url or os.environ.get("LEADSYNC_DB") or DEFAULT_DB_URL
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    elif url.startswith("postgres://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgres://")
    return url


def redact(url: str) -> str:
    """A URL safe to print: the password is never shown."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable database URL>"


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, say where transactions begin, so that reads in a
    # transaction see one snapshot and SAVEPOINTs work (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit is on disk before it returns (WAL fsync per commit); every 2xx the
    # service gives and every ingest chunk reported done survives a power cut.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def create_db_engine(url: str | None = None) -> Engine:
    """An Engine for the workspace at ``url`` (see :func:`resolve_url`)."""
    resolved = resolve_url(url)
    allowed = "allowed: sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    try:
        backend = sa.engine.make_url(resolved).get_backend_name()
    except sa.exc.ArgumentError:
        raise UserError(f"database URL {redact(resolved)!r} is not a URL; {allowed}") from None
    if backend not in ("sqlite", "postgresql"):
        raise UserError(
            f"database URL {redact(resolved)!r}: {backend} is not supported; "
            f"allowed: sqlite, postgresql ({allowed.removeprefix('allowed: ')})"
        )
    try:
        # PostgreSQL: executemany goes to psycopg's pipelined executemany rather than
        # SQLAlchemy's "insertmanyvalues" (one big INSERT rendered in Python): the inbox's
        # group commits take a sixth less CPU and the engine is no slower (docs/PERFORMANCE.md).
        engine = sa.create_engine(resolved, use_insertmanyvalues=backend == "sqlite")
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise UserError(
            f"database URL {redact(resolved)!r} is not usable: {exc}; {allowed}"
        ) from None
    if backend == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_connect)
        sa.event.listen(engine, "begin", _sqlite_begin)
    return engine


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> bool:
    """Bring the schema to the newest revision. Returns True when something was applied."""
    try:
        if current_revision(engine) == head_revision():
            return False
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
    except sa.exc.OperationalError as exc:
        raise TransientError(
            f"database {redact(str(engine.url))} unreachable: {exc.orig}"
        ) from None
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


def in_values(column: sa.ColumnElement[Any], values: Collection[Any], dialect: str) -> Any:
    """``column IN values`` as ONE bound parameter, whatever the number of values: a JSON
    array read by ``json_each`` on SQLite, an array with ``= ANY`` on PostgreSQL. One query per
    load, no per-value parameter to build, no limit on the count."""
    items = sorted(values)
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(None, items, type_=postgresql.ARRAY(column.type)))
    listed = sa.func.json_each(sa.bindparam(None, json.dumps(items), type_=sa.Text)).table_valued(
        "value"
    )
    return column.in_(sa.select(listed.c.value))
