"""Resolving dead letters: a letter is never deleted, it is marked retried or dismissed (when,
by whom, how, and for a dismissal why). The reads are in :mod:`leadsync.store.views`."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.schema import dead_letters


def mark_retried(connection: Connection, letter_id: int, at: str, resolution: str, by: str) -> None:
    """Mark a dead letter resolved by a retry (``resolution`` says what became of it)."""
    connection.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.id == letter_id)
        .values(resolved_at=at, resolution=resolution, resolved_by=by)
    )


def open_event_letters(connection: Connection, integration: str) -> dict[str, list[int]]:
    """The integration's open dead letters that name their event, by event id (the inbox's
    key): those an ingest of the fixed line closes (:func:`mark_applied_since`)."""
    c = dead_letters.c
    found: dict[str, list[int]] = {}
    rows = connection.execute(
        sa.select(c.event_id, c.id).where(
            c.integration == integration, c.resolved_at.is_(None), c.event_id.is_not(None)
        )
    )
    for event_id, letter_id in rows:
        found.setdefault(str(event_id), []).append(int(letter_id))
    return found


def mark_applied_since(
    connection: Connection, letter_ids: Collection[int], at: str, resolution: str, by: str
) -> int:
    """Close the open ones of ``letter_ids`` as retried: their event was taken since (the
    line fixed and ingested again). How many it closed."""
    if not letter_ids:
        return 0
    closed = connection.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.id.in_(list(letter_ids)), dead_letters.c.resolved_at.is_(None))
        .values(resolved_at=at, resolution=resolution, resolved_by=by)
    )
    return int(closed.rowcount or 0)


def mark_dismissed(
    connection: Connection, letter_ids: Collection[int], at: str, by: str, reason: str
) -> set[int]:
    """Mark the open ones of ``letter_ids`` dismissed, with the reason; the ids it marked (one
    another transaction closed meanwhile is not among them)."""
    if not letter_ids:
        return set()
    marked = connection.execute(
        sa.update(dead_letters)
        .where(dead_letters.c.id.in_(list(letter_ids)), dead_letters.c.resolved_at.is_(None))
        .values(resolved_at=at, resolution="dismissed", resolved_by=by, dismissed_reason=reason)
        .returning(dead_letters.c.id)
    )
    return {int(i) for i in marked.scalars()}


def line_numbers(
    connection: Connection, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """(integration, event id) -> the line number the latest dead letter of that event gave
    (an event that failed again keeps the place in its file); keys with none are left out."""
    out: dict[tuple[str, str], int] = {}
    by_integration: dict[str, set[str]] = {}
    for integration, event_id in keys:
        by_integration.setdefault(integration, set()).add(event_id)
    c = dead_letters.c
    for integration, event_ids in by_integration.items():
        query = (
            sa.select(c.event_id, c.line_no)
            .where(
                c.integration == integration,
                c.event_id.in_(sorted(event_ids)),
                c.line_no.is_not(None),
            )
            .order_by(c.id)
        )
        for event_id, line_no in connection.execute(query):
            out[(integration, str(event_id))] = int(line_no)  # the latest wins
    return out
