"""The health dashboard's charts: counts per day (and per integration where it has one), each
one grouped query over a time index.

The rows a chart counts are the report's own filters (:mod:`leadsync.store.reports`:
``owner_changed_since``, ``unowned_new``, ``skipped_since``, ``open_dead_letters_since``,
``not_test``), so the days of a chart add up to the number the report's check gives for the
same window. A day is the first ten characters of a stored time (``YYYY-MM-DD``, UTC).
Every function returns ``(day, integration, n)`` rows (``integration`` None where the
count has none), ordered by day then integration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from leadsync.store import reports
from leadsync.store.schema import (
    activities,
    activity_skips,
    dead_letters,
    inbox,
    owner_decisions,
    records,
)

Rows = Sequence[Row[Any]]


def _per_day(
    connection: Connection,
    at: sa.ColumnElement[str],
    integration: sa.ColumnElement[Any] | None,
    where: Sequence[sa.ColumnElement[bool]],
    *more: sa.ColumnElement[Any],
    count: sa.ColumnElement[int] | None = None,
) -> Rows:
    """``(day, integration, *more, n)`` rows: ``more`` are further columns to count by;
    ``count`` what ``n`` counts (default: the rows)."""
    day = sa.func.substr(at, 1, 10).label("day")
    keys = (*(() if integration is None else (integration,)), *more)
    group = integration if integration is not None else sa.null()
    n = count if count is not None else sa.func.count()
    query = (
        sa.select(day, group.label("integration"), *more, n.label("n"))
        .where(*where)
        .group_by(day, *keys)
        .order_by(day, *keys)
    )
    return connection.execute(query).all()


def events_per_day(connection: Connection, since: str, until: str) -> Rows:
    """Events received (inbox rows, whatever became of them) per day and integration."""
    i = inbox
    return _per_day(
        connection,
        i.c.received_at,
        i.c.integration,
        [i.c.received_at >= since, i.c.received_at < until],
    )


def activities_per_day(connection: Connection, since: str, until: str, test_prefix: str) -> Rows:
    """Activities created (by when they happened) per day and integration, test calls left
    out."""
    a = activities
    where = [a.c.occurred_at >= since, a.c.occurred_at < until, reports.not_test(a, test_prefix)]
    return _per_day(connection, a.c.occurred_at, a.c.integration, where)


def skips_per_day(connection: Connection, since: str, until: str, test_prefix: str) -> Rows:
    """Activities received but not created, per day and integration, as the report counts
    them (:func:`leadsync.store.reports.skipped_activities`, test calls left out; an
    activity skipped on two days counts on each)."""
    s = activity_skips
    where = [
        reports.skipped_since(since),
        s.c.occurred_at < until,
        reports.not_test(s, test_prefix),
    ]
    count = reports.skipped_activities()
    return _per_day(connection, s.c.occurred_at, s.c.integration, where, count=count)


def owner_changes_per_day(connection: Connection, since: str, until: str, test_domain: str) -> Rows:
    """Owner changes per day, ``(day, integration, strategy, n)``: the integration that
    decided, or None with the strategy of a change made without one (a person's in the CRM,
    an undo, the push's); test leads' left out."""
    d = owner_decisions
    where = [*reports.owner_changed_since(since, test_domain), d.c.at < until]
    strategy = sa.case((d.c.integration.is_(None), d.c.strategy)).label("strategy")
    return _per_day(connection, d.c.at, d.c.integration, where, strategy)


def unowned_new_per_day(connection: Connection, since: str, settled: str, test_domain: str) -> Rows:
    """Contacts and leads still without an owner, per day they were created (the report's
    ``unowned_new_leads``)."""
    r = records
    return _per_day(
        connection, r.c.created_at, None, reports.unowned_new(since, settled, test_domain)
    )


def open_dead_letters_per_day(connection: Connection, since: str, until: str) -> Rows:
    """Dead letters not resolved, per day received and integration."""
    dl = dead_letters
    where = [*reports.open_dead_letters_since(since), dl.c.received_at < until]
    return _per_day(connection, dl.c.received_at, dl.c.integration, where)
