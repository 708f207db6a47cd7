"""Apply a batch in one transaction, else one unit at a time.

Events are applied in batches for speed, but one event the engine or the database refuses
must not hold back the events beside it. Every batched apply therefore makes the same
choice, written here once: try the whole batch in one transaction; when it is refused, roll
it back and apply each unit (an inbox row, a scratch run's row) in a transaction of its own,
so that only the units that fail alone are left out (the drain makes them dead letters).

A database outage (:func:`leadsync.observability.database_outage`: connection lost or closed,
database locked or restarting, the pool exhausted, a table missing) is never a refusal: the
units would fail alike — each made a dead letter for the database's fault — so it is raised
and the caller retries later. Nor is a SQLite file that is not (or no longer) a database:
the caller retries once a person has restored it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from leadsync.observability import database_outage
from leadsync.store.database import begin_writing
from leadsync.store.sqlite_file import broken_file

P = ParamSpec("P")
R = TypeVar("R")
U = TypeVar("U")


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is away, or its SQLite file broken, rather than
    refusing this work: no unit would fare better alone, and none is the unit's fault."""
    return database_outage(exc) or broken_file(exc)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a transaction was rolled back: what it raised, an outage excepted."""

    error: Exception


def attempt(
    engine: Engine,
    work: Callable[Concatenate[Connection, P], R],
    *args: P.args,
    **kwargs: P.kwargs,
) -> R | Refusal:
    """``work(connection, *args, **kwargs)`` in one transaction, committed when it returns.
    Anything it raises (the commit included) rolls the transaction back and is returned as
    a :class:`Refusal`, except an outage, which is raised."""
    try:
        with begin_writing(engine) as connection:
            return work(connection, *args, **kwargs)
    except Exception as exc:
        if is_outage(exc):
            raise
        return Refusal(exc)


def apply_with_fallback(
    engine: Engine,
    batch: Callable[[Connection], R],
    units: Iterable[U],
    each: Callable[[Connection, U], R],
    refused: Callable[[U, Exception], None],
) -> list[R]:
    """``batch`` in one transaction; when it is refused, ``each`` unit in a transaction of
    its own, and ``refused(unit, error)`` for the units refused alone (outside any
    transaction: it opens its own to record the failure).

    Returns the results of the transactions that committed: the batch's alone, or the
    units'. ``units`` is iterated only after the batch was refused, so the batch may fill it
    (the drain claims its rows inside the batch's transaction). A refused batch with no unit
    to try alone has nothing to isolate: its error is raised.
    """
    outcome = attempt(engine, batch)
    if not isinstance(outcome, Refusal):
        return [outcome]
    results: list[R] = []
    tried = False
    for unit in units:
        tried = True
        alone = attempt(engine, each, unit)
        if isinstance(alone, Refusal):
            refused(unit, alone.error)
        else:
            results.append(alone)
    if not tried:
        raise outcome.error
    return results


def failure_text(exc: Exception) -> str:
    """Why a unit could not be applied, in one line: for a database refusal, the database's
    own first line (not the statement and its parameters)."""
    if isinstance(exc, sa.exc.StatementError) and exc.orig is not None:
        first = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else ""
        return f"the database refused the event: {first or type(exc.orig).__name__}"
    return f"{type(exc).__name__}: {exc}"
