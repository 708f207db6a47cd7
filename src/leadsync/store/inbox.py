"""The inbox and the dead letters in the database: appending rows, claiming them in order,
marking what became of them, and the dedupe lookup.

Every inbox row is appended by :func:`append` (in the caller's transaction: an ingest's
chunks, a dead letter's retry) or an :class:`Appender` (transactions of their own, through
the bare driver: webhook intake's group commits). Both give each new row its sequence number
and skip a row whose ``(integration, event_id)`` the inbox already holds, the same way:

- **PostgreSQL**: ONE statement, ``INSERT … SELECT … FROM jsonb_array_elements(…) ON
  CONFLICT DO NOTHING RETURNING seq`` over the rows as one JSON array: the sequence number is the column's default (``nextval('inbox_seqs')``),
  the writing transaction's id is ``txid``'s default, and no row is locked but the new ones,
  so any number of writers (several ``serve`` processes, an ingest) append side by side.
  Their rows may commit out of ``seq`` order; the router takes rows only once their
  transaction is over, in ``(txid, seq)`` order (:mod:`leadsync.store.routing`). Two writers
  racing on one event: the second waits for the first, then skips it.
- **SQLite**: one writer at a time holds the database's write lock (the insert takes it), so
  rows commit in ``seq`` order, which the drain's claim and :func:`mark_applied` rely on.
  ``seq`` is the table's rowid: a row inserted without one gets the largest plus one, and a
  redelivery skipped by ``ON CONFLICT DO NOTHING`` takes none, so the numbers have no gaps
  (inbox rows are never deleted). One ``executemany`` and ``last_insert_rowid()`` give the
  numbers; only when some rows were skipped are the new ones read back. No counters row is
  written: an extra page per commit (docs/PERFORMANCE.md).

The writes go through the bare driver (plain tuples, or arrays on PostgreSQL): intake writes
every webhook piece here and an ingest every line, so SQLAlchemy's per-statement and per-row
work would be paid per event. The pipeline (:mod:`leadsync.pipeline`) decides what to write
and when; nothing here commits but an :class:`Appender`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Collection, Mapping, Sequence
from contextlib import closing, suppress
from typing import Any, NamedTuple, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadsync.model import epoch_ts, older_keys
from leadsync.store.database import (
    dicts,
    in_values,
    insert_rows,
    json_text,
    session_ended,
    update_rows,
)
from leadsync.store.schema import dead_letters, inbox
from leadsync.store.sqlite_file import broken_file, let_go

PENDING = "pending"
APPLIED = "applied"
FAILED = "failed"


class InboxRow(NamedTuple):
    """One inbox row to append, in the column order of the insert; its sequence number is
    :func:`append`'s to give."""

    integration: str
    event_id: str
    received_at: str
    occurred_at: str
    payload: str
    status: str
    source: str | None
    error: str | None


class DeadLetterRow(NamedTuple):
    """One dead letter to insert, in the column order of the insert."""

    integration: str
    received_at: str
    source: str | None
    line_no: int | None
    event_id: str | None
    raw: str
    error: str
    raw_hash: str


# ------------------------------------------------------------------ appending


_COLUMNS = InboxRow._fields
# No join for the planner to choose: a redelivery is skipped by the unique index's own check
# (it takes a number it does not use: PostgreSQL's numbers have gaps anyway, from rolled back
# transactions). A lookup joined here would be planned once for the prepared statement, and
# a plan made while the inbox was small (a hash join over a table scan) scans the whole
# inbox on every commit once it is not.
# The rows come as one JSON array (the json module's C encoder), as the engine's writes do
# (store.database.insert_rows): psycopg escapes a text array value by value in Python.
_PG_APPEND = (
    f"INSERT INTO inbox ({', '.join(_COLUMNS)}) "
    f"SELECT {', '.join(f'e->>{i}' for i in range(len(_COLUMNS)))} "
    "FROM jsonb_array_elements(%s::jsonb) AS e "
    "ON CONFLICT (integration, event_id) DO NOTHING "
    "RETURNING seq, integration, event_id"
)
_SQLITE_INSERT = (
    f"INSERT INTO inbox ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(['?'] * len(_COLUMNS))}) "
    "ON CONFLICT (integration, event_id) DO NOTHING"
)
# ``seq`` is the table's rowid: a row inserted without one gets the largest plus one, and a
# row skipped as a redelivery takes no number. Rows are never deleted, so the numbers have
# no gaps and are never given twice.
_SQLITE_LAST = "SELECT last_insert_rowid()"
_SQLITE_SINCE = "SELECT seq, integration, event_id FROM inbox WHERE seq > ?"


# Hashed keys had no time before migration 0012 (``h:<hash>``) and no object id before 0013
# (``t:<time>:<hash>``; model.timed_key). For events older than this counter (epoch ms,
# written by each migration only when the inbox held rows then), a redelivery is also looked
# for under those forms (model.older_keys).
OLDER_KEYS_UNTIL = "inbox_untimed_keys_until"  # the name migration 0012 gave it
_OLDER_SQL = {
    "sqlite": "SELECT event_id FROM inbox WHERE integration = ? "
    "AND event_id IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT event_id FROM inbox WHERE integration = %s "
    "AND event_id IN (SELECT jsonb_array_elements_text(%s::jsonb))",
}
_UNTIL_SQL = f"SELECT value FROM counters WHERE name = '{OLDER_KEYS_UNTIL}'"


class _Statements(Protocol):
    def rows(self, sql: str, params: Sequence[Any], prepare: bool = False) -> list[Any]:
        """Run ``sql`` once; the rows it returns (none for a statement without)."""

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run ``sql`` for each row; the rows it changed."""


class _Through:
    """Statements on a SQLAlchemy connection, sent as written (``exec_driver_sql``)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def rows(self, sql: str, params: Sequence[Any], prepare: bool = False) -> list[Any]:
        result = self.connection.exec_driver_sql(sql, tuple(params))
        return list(result.fetchall()) if result.returns_rows else []

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        return int(self.connection.exec_driver_sql(sql, list(rows)).rowcount)


class _Bare:
    """Statements on a driver cursor (:class:`Appender`)."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def rows(self, sql: str, params: Sequence[Any], prepare: bool = False) -> list[Any]:
        if prepare:  # psycopg: the same statement every commit, planned once per connection
            self.cursor.execute(sql, params, prepare=True)
        else:
            self.cursor.execute(sql, params)
        return list(self.cursor.fetchall()) if self.cursor.description is not None else []

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        self.cursor.executemany(sql, rows)
        return int(self.cursor.rowcount)


def _firsts(rows: Sequence[InboxRow]) -> list[int]:
    """Indexes of the rows whose (integration, event_id) no earlier row of ``rows`` has."""
    seen: set[tuple[str, str]] = set()
    firsts = []
    for index, row in enumerate(rows):
        key = (row.integration, row.event_id)
        if key not in seen:
            seen.add(key)
            firsts.append(index)
    return firsts


def _older_keys_until(statements: _Statements) -> str | None:
    """Events older than this time may be in the inbox under an older form of their key;
    None when the inbox has only ever held the current forms."""
    found = statements.rows(_UNTIL_SQL, ())
    return epoch_ts(int(found[0][0]) / 1000) if found else None


def _not_held_older(
    statements: _Statements,
    dialect: str,
    rows: Sequence[InboxRow],
    firsts: list[int],
    until: str | None,
) -> list[int]:
    """``firsts`` without the rows the inbox holds under an older form of their key (a
    redelivery of an event first stored before keys had their time or object id)."""
    if until is None:
        return firsts
    old: dict[str, dict[str, int]] = {}
    for index in firsts:
        row = rows[index]
        if row.occurred_at < until:
            for older in older_keys(row.event_id):
                old.setdefault(row.integration, {})[older] = index
    if not old:
        return firsts
    held: set[int] = set()
    for integration, by_key in old.items():
        found = statements.rows(_OLDER_SQL[dialect], (integration, json_text(list(by_key))))
        held.update(by_key[event_id] for (event_id,) in found)
    return [index for index in firsts if index not in held]


def _append(
    statements: _Statements, dialect: str, rows: Sequence[InboxRow], until: str | None
) -> list[int | None]:
    seqs: list[int | None] = [None] * len(rows)
    firsts = _not_held_older(statements, dialect, rows, _firsts(rows), until)
    if not firsts:
        return seqs
    if dialect == "postgresql":
        returned = statements.rows(_PG_APPEND, (json_text([rows[i] for i in firsts]),), True)
        given = {(integration, event_id): int(seq) for seq, integration, event_id in returned}
        for index in firsts:
            seqs[index] = given.get((rows[index].integration, rows[index].event_id))
        return seqs
    # SQLite: the insert takes the write lock (when the transaction does not hold it yet),
    # so the new rows' numbers are the ones after the largest, in the order of ``rows``.
    inserted = statements.many(_SQLITE_INSERT, [rows[i] for i in firsts])
    if not inserted:
        return seqs
    [(last,)] = statements.rows(_SQLITE_LAST, ())
    first = int(last) - inserted + 1
    if inserted == len(firsts):  # the usual case: no redelivery
        for n, index in enumerate(firsts):
            seqs[index] = first + n
        return seqs
    given = {
        (integration, event_id): int(seq)
        for seq, integration, event_id in statements.rows(_SQLITE_SINCE, (first - 1,))
    }
    for index in firsts:
        seqs[index] = given.get((rows[index].integration, rows[index].event_id))
    return seqs


def append(connection: Connection, rows: Sequence[InboxRow]) -> list[int | None]:
    """Append the rows the inbox does not hold yet, in the caller's transaction: for each
    row its sequence number, or None when the inbox holds its ``(integration, event_id)``
    already, or an earlier row of ``rows`` has it (a redelivery, written once). Numbers
    increase in the order of ``rows``. The transaction is one that writes
    (:func:`~leadsync.store.database.begin_writing`): on SQLite it holds the write lock
    before the reads here fix its snapshot."""
    statements, dialect = _Through(connection), connection.dialect.name
    return _append(statements, dialect, rows, _older_keys_until(statements))


class Appender:
    """:func:`append` in transactions of their own, each committed — on disk — before
    :meth:`append` returns, through the driver on one connection the appender keeps (webhook
    intake's group commits: no SQLAlchemy statement, no pool checkout per commit).

    PostgreSQL: the one statement is its own transaction (autocommit: one round trip).
    SQLite: ``BEGIN IMMEDIATE`` takes the write lock first. Errors are SQLAlchemy's, as from
    a connection (``sa.exc.OperationalError`` when the database is away); a connection the
    driver reports broken, or that met a SQLite file that is not (or no longer) a database
    (:mod:`leadsync.store.sqlite_file`), is dropped, and the next call opens another, as is
    one whose session the server ended while it was kept
    (:func:`~leadsync.store.database.session_ended`, asked before each commit on
    PostgreSQL: a ``poll``, no round trip). One thread appends."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._pooled: Any = None
        self._until: str | None = None
        self._until_read = False  # read once: only a migration writes it

    def append(self, rows: Sequence[InboxRow]) -> list[int | None]:
        dialect = self.engine.dialect.name
        if (
            self._pooled is not None
            and dialect == "postgresql"
            and session_ended(self._pooled.driver_connection)
        ):  # the server ended the kept session while the writer was idle: a new one
            self._pooled.invalidate()
            self.close()
        try:
            if self._pooled is None:  # a new session: refused like any statement when away
                self._pooled = self.engine.raw_connection()
            driver = self._pooled.driver_connection
            if not self._until_read:
                with closing(driver.cursor()) as cursor:
                    self._until = _older_keys_until(_Bare(cursor))
                driver.commit()
                self._until_read = True
            if dialect == "postgresql":
                return _committed_postgresql(driver, rows, self._until)
            return _committed_sqlite(driver, rows, self._until)
        except Exception as exc:
            raise self._translated(exc) from exc

    def close(self) -> None:
        """Give the connection back to the pool."""
        pooled, self._pooled = self._pooled, None
        if pooled is not None:
            pooled.close()

    def _translated(self, exc: Exception) -> Exception:
        """A driver error as SQLAlchemy raises it from a connection (its ``orig`` is the
        driver's); the connection dropped when the error says it is broken."""
        dialect = self.engine.dialect
        dbapi = dialect.loaded_dbapi
        if not isinstance(exc, dbapi.Error):
            return exc
        pooled = self._pooled
        # No session (its opening failed): the database is away, as for a lost one. A SQLite
        # connection that met a file that is not (or no longer) a database keeps failing after
        # the file is mended: dropped too (store.sqlite_file).
        broken = (
            pooled is None
            or broken_file(exc)
            or bool(dialect.is_disconnect(exc, pooled.driver_connection, None))
        )
        if broken and pooled is not None:
            if broken_file(exc):
                let_go(pooled.driver_connection)
            pooled.invalidate(exc)
            self.close()
        return sa.exc.DBAPIError.instance(
            "inbox append",
            None,
            exc,
            dbapi.Error,
            hide_parameters=True,
            connection_invalidated=broken,
            dialect=dialect,
        )


# A deadlock or a serialization failure undoes the whole statement, which is its own
# transaction: it is made again. Two `serve` processes given the same events at once (a
# vendor's retry landing on the other server, overlapping batches) insert the same keys in
# different orders, and each waits for the other's: PostgreSQL ends one of them. The second
# try finds the other's rows committed (duplicates, skipped).
_TRY_AGAIN = frozenset({"40P01", "40001"})
APPEND_TRIES = 5


def _committed_postgresql(
    driver: Any, rows: Sequence[InboxRow], until: str | None
) -> list[int | None]:
    driver.autocommit = True
    try:
        tries = 0
        while True:
            tries += 1
            try:
                with driver.cursor() as cursor:
                    return _append(_Bare(cursor), "postgresql", rows, until)
            except Exception as exc:
                if getattr(exc, "sqlstate", None) not in _TRY_AGAIN or tries == APPEND_TRIES:
                    raise
                time.sleep(random.uniform(0, 0.005 * tries))  # apart from the other's retry
    finally:
        with suppress(Exception):  # a broken connection is dropped anyway
            driver.autocommit = False


def _committed_sqlite(driver: Any, rows: Sequence[InboxRow], until: str | None) -> list[int | None]:
    cursor = driver.cursor()
    try:
        cursor.execute("BEGIN IMMEDIATE")
        try:
            seqs = _append(_Bare(cursor), "sqlite", rows, until)
            cursor.execute("COMMIT")
        except BaseException:
            if driver.in_transaction:
                with suppress(Exception):
                    cursor.execute("ROLLBACK")
            raise
    finally:
        cursor.close()
    return seqs


def insert_dead_letters(connection: Connection, rows: Sequence[DeadLetterRow]) -> None:
    insert_rows(connection, dead_letters, DeadLetterRow._fields, rows)


def open_dead_letter_errors(
    connection: Connection, integration: str, hashes: Mapping[str, str]
) -> dict[str, str]:
    """The open dead letters' errors of these events of an integration, by event id: those
    kept of the text given (``hashes``: event id -> the ``raw_hash`` of its text)."""
    if not hashes:
        return {}
    d = dead_letters.c
    query = sa.select(d.event_id, d.error, d.raw_hash).where(
        d.resolved_at.is_(None),
        d.integration == integration,
        in_values(d.event_id, list(hashes), connection.dialect.name),
    )
    return {
        str(event_id): str(error)
        for event_id, error, raw_hash in connection.execute(query)
        if hashes.get(str(event_id)) == raw_hash
    }


def insert_rejected_once(connection: Connection, row: DeadLetterRow) -> bool:
    """Insert a refused request's dead letter unless an open one of the same integration and
    source holds the same body (a redelivery of it); whether it was inserted."""
    d = dead_letters.c
    held = sa.select(d.id).where(
        d.integration == row.integration,
        d.raw_hash == row.raw_hash,
        d.resolved_at.is_(None),
        d.source == row.source,
        d.line_no.is_(None),
        d.raw == row.raw,
    )
    if connection.execute(held.limit(1)).first() is not None:
        return False
    insert_dead_letters(connection, [row])
    return True


def insert_new_dead_letters(connection: Connection, rows: Sequence[DeadLetterRow]) -> set[int]:
    """Insert the lines of a file that are no dead letters already. A line is known by its
    integration, text and error, whatever file, name or line number it came under (the file
    ingested again, as ``./x.jsonl`` or its absolute path, a copy, stdin): as one open
    letter (reported again, not kept twice) or one dismissed (a person said it cannot be
    fixed). Each letter stands for one line: a text a file holds twice is two letters. One
    query per call. The rows (by index) that are dismissed letters already."""
    lines = [row for row in rows if row.line_no is not None]
    if not lines:
        insert_dead_letters(connection, rows)
        return set()
    d = dead_letters.c
    query = sa.select(d.integration, d.raw_hash, d.error, d.resolution).where(
        d.integration.in_({row.integration for row in lines}),
        in_values(d.raw_hash, {row.raw_hash for row in lines}, connection.dialect.name),
        d.line_no.is_not(None),
        sa.or_(d.resolved_at.is_(None), d.resolution == "dismissed"),
    )
    # Per line's text: its open letters, then its dismissed ones (an open letter wins).
    held: dict[tuple[Any, ...], list[str | None]] = {}
    for found in connection.execute(query):
        held.setdefault(tuple(found[:3]), []).append(found[3])
    for kept in held.values():
        kept.sort(key=lambda state: state == "dismissed")
    dismissed: set[int] = set()
    new: list[DeadLetterRow] = []
    for index, row in enumerate(rows):
        states = held.get((row.integration, row.raw_hash, row.error), [])
        if row.line_no is None or not states:
            new.append(row)
        elif states.pop(0) == "dismissed":
            dismissed.add(index)
    insert_dead_letters(connection, new)
    return dismissed


def known_event_ids(
    connection: Connection, integration: str, event_ids: Collection[str]
) -> set[str]:
    """The ones among ``event_ids`` the inbox already holds for the integration (a timed key
    also under its older forms, see :func:`leadsync.model.older_keys`)."""
    if not event_ids:
        return set()
    older = {form: key for key in event_ids for form in older_keys(key)}
    query = sa.select(inbox.c.event_id).where(
        inbox.c.integration == integration,
        in_values(inbox.c.event_id, {*event_ids, *older}, connection.dialect.name),
    )
    found = set(connection.scalars(query).all())
    return (found & set(event_ids)) | {older[key] for key in found if key in older}


def has_pending(connection: Connection) -> bool:
    """Whether any inbox row still waits to be applied (uses the partial pending index)."""
    query = sa.select(inbox.c.seq).where(inbox.c.status == PENDING).limit(1)
    return connection.execute(query).first() is not None


_CLAIMED = (inbox.c.seq, inbox.c.integration, inbox.c.source, inbox.c.event_id)


def events_held(connection: Connection, integrations: Collection[str]) -> dict[str, int]:
    """How many inbox rows each of ``integrations`` holds (those holding none left out), on
    the unique index of (integration, event_id)."""
    query = (
        sa.select(inbox.c.integration, sa.func.count())
        .where(inbox.c.integration.in_(sorted(integrations)))
        .group_by(inbox.c.integration)
    )
    return {name: int(n) for name, n in connection.execute(query)}


def claim_pending(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The oldest ``limit`` pending rows, in sequence order, without their payloads (a
    chunk an ingest parsed already needs none: :func:`load_payloads` reads the others).
    Claiming is safe only under the counters' lock the batch holds."""
    query = sa.select(*_CLAIMED).where(inbox.c.status == PENDING).order_by(inbox.c.seq)
    return dicts(connection.execute(query.limit(limit)))


def load_payloads(connection: Connection, seqs: Collection[int]) -> dict[int, Stored]:
    """Inbox sequence -> stored payload, and when it arrived (what reading it needs)."""
    if not seqs:
        return {}
    query = sa.select(inbox.c.seq, inbox.c.payload, inbox.c.received_at).where(
        in_values(inbox.c.seq, seqs, connection.dialect.name)
    )
    return {seq: Stored(payload, at) for seq, payload, at in connection.execute(query).all()}


class Stored(NamedTuple):
    """A row's stored payload and its arrival."""

    payload: str
    received_at: str


def load_pending_row(connection: Connection, seq: int) -> dict[str, Any] | None:
    """One row with its payload while it is still pending; None once it is not (another
    worker applied or failed it between a refused batch and its one-by-one retry)."""
    query = sa.select(*_CLAIMED, inbox.c.payload, inbox.c.received_at).where(
        inbox.c.seq == seq, inbox.c.status == PENDING
    )
    row = connection.execute(query).one_or_none()
    return None if row is None else dict(row._mapping)


def mark_applied(connection: Connection, first_seq: int, last_seq: int) -> None:
    """Mark the pending rows of a claimed range applied, in one statement.

    Safe on SQLite only, where appends take their numbers under the write lock and commit
    in that order: once a batch has claimed up to ``last_seq``, no row below it can still be
    uncommitted, so every pending row in the range is one the batch claimed. On PostgreSQL
    rows commit out of ``seq`` order (see the module's docstring): mark them by number.
    """
    connection.execute(
        sa.update(inbox)
        .where(inbox.c.seq.between(first_seq, last_seq), inbox.c.status == PENDING)
        .values(status=APPLIED)
    )


def set_status(
    connection: Connection, seqs: Sequence[int], status: str, error: str | None = None
) -> None:
    """Set the status (and error) of the rows ``seqs``."""
    update_rows(connection, inbox, ("status", "error"), "seq", [(status, error, s) for s in seqs])


def failed_seqs(connection: Connection, integration: str, event_id: str) -> list[int]:
    """The failed rows of one event (a dead letter's retry sets them pending again)."""
    query = sa.select(inbox.c.seq).where(
        inbox.c.integration == integration,
        inbox.c.event_id == event_id,
        inbox.c.status == FAILED,
    )
    return [int(seq) for seq in connection.execute(query).scalars()]
