"""The inbox and the dead letters in the database: writing rows, claiming them in order,
marking what became of them, and the dedupe lookup.

The writes go through the bare driver (:func:`~leadsync.store.database.executemany` over
tuples): an ingest writes every line it reads here, and intake every webhook piece, so
SQLAlchemy's per-row parameter processing would be paid once per event. The pipeline
(:mod:`leadsync.pipeline`) decides what to write and when; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import executemany, in_values, insert_sql, update_sql
from leadsync.store.schema import dead_letters, inbox

PENDING = "pending"
APPLIED = "applied"
FAILED = "failed"


class InboxRow(NamedTuple):
    """One inbox row to insert, in the column order of the insert."""

    seq: int
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


def insert_rows(connection: Connection, rows: Sequence[InboxRow]) -> None:
    """Insert inbox rows (sequence numbers allocated by the caller under the counter's lock)."""
    executemany(connection, insert_sql(connection, inbox, InboxRow._fields), rows)


def insert_dead_letters(connection: Connection, rows: Sequence[DeadLetterRow]) -> None:
    executemany(connection, insert_sql(connection, dead_letters, DeadLetterRow._fields), rows)


def known_event_ids(
    connection: Connection, integration: str, event_ids: Collection[str]
) -> set[str]:
    """The ones among ``event_ids`` the inbox already holds for the integration."""
    if not event_ids:
        return set()
    query = sa.select(inbox.c.event_id).where(
        inbox.c.integration == integration,
        in_values(inbox.c.event_id, event_ids, connection.dialect.name),
    )
    return set(connection.scalars(query).all())


def has_pending(connection: Connection) -> bool:
    """Whether any inbox row still waits to be applied (uses the partial pending index)."""
    query = sa.select(inbox.c.seq).where(inbox.c.status == PENDING).limit(1)
    return connection.execute(query).first() is not None


_CLAIMED = (inbox.c.seq, inbox.c.integration, inbox.c.source, inbox.c.event_id)


def claim_pending(connection: Connection, limit: int) -> list[dict[str, Any]]:
    """The oldest ``limit`` pending rows, in sequence order, without their payloads (a
    chunk an ingest parsed already needs none: :func:`load_payloads` reads the others).
    Claiming is safe only under the counters' lock the batch holds."""
    query = sa.select(*_CLAIMED).where(inbox.c.status == PENDING).order_by(inbox.c.seq)
    return [dict(row._mapping) for row in connection.execute(query.limit(limit))]


def load_payloads(connection: Connection, seqs: Collection[int]) -> dict[int, str]:
    """Inbox sequence -> stored payload."""
    if not seqs:
        return {}
    query = sa.select(inbox.c.seq, inbox.c.payload).where(
        in_values(inbox.c.seq, seqs, connection.dialect.name)
    )
    return {seq: payload for seq, payload in connection.execute(query).all()}


def load_pending_row(connection: Connection, seq: int) -> dict[str, Any] | None:
    """One row with its payload while it is still pending; None once it is not (another
    worker applied or failed it between a refused batch and its one-by-one retry)."""
    query = sa.select(*_CLAIMED, inbox.c.payload).where(
        inbox.c.seq == seq, inbox.c.status == PENDING
    )
    row = connection.execute(query).one_or_none()
    return None if row is None else dict(row._mapping)


def mark_applied(connection: Connection, first_seq: int, last_seq: int) -> None:
    """Mark the pending rows of a claimed range applied, in one statement.

    Safe because appends allocate sequence numbers under the ``inbox_seq`` counter's lock and
    commit in that order: once a batch has claimed up to ``last_seq``, no row below it can
    still be uncommitted, so every pending row in the range is one the batch claimed.
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
    sql = update_sql(connection, inbox, ("status", "error"), "seq")
    executemany(connection, sql, [(status, error, seq) for seq in seqs])


def failed_seqs(connection: Connection, integration: str, event_id: str) -> list[int]:
    """The failed rows of one event (a dead letter's retry sets them pending again)."""
    query = sa.select(inbox.c.seq).where(
        inbox.c.integration == integration,
        inbox.c.event_id == event_id,
        inbox.c.status == FAILED,
    )
    return [int(seq) for seq in connection.execute(query).scalars()]
