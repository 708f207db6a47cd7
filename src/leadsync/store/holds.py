"""Held and questioned activities as the lists show them (``leadsync activities list``): for
a page of activities, the numbers each waits for and until when, and the review queue's open
questions about each. The engine's own reads and writes of
holds are in :mod:`leadsync.store.counterparts`, the review queue's in
:mod:`leadsync.store.review`."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values
from leadsync.store.review import hold_ended
from leadsync.store.schema import held_activities, review_items


def holds_of(
    connection: Connection, activity_ids: Collection[int], now: str
) -> dict[int, dict[str, Any]]:
    """activity id -> its hold, for those of ``activity_ids`` that are held: ``numbers``
    (the counterpart numbers it waits for, in order), ``held_at``, ``expires_at`` (when it
    goes to the review queue), ``ended`` (that time has come by ``now``, by the expiry's own
    rule: :func:`.review.hold_ended`) and ``queued`` (it is there already; still held). One
    query."""
    if not activity_ids:
        return {}
    h = held_activities
    rows = connection.execute(
        sa.select(
            h.c.activity_id,
            h.c.number,
            h.c.held_at,
            h.c.expires_at,
            h.c.queued,
            hold_ended(now).label("ended"),
        )
        .where(in_values(h.c.activity_id, activity_ids, connection.dialect.name))
        .order_by(h.c.activity_id, h.c.number)
    )
    found: dict[int, dict[str, Any]] = {}
    for activity_id, number, held_at, expires_at, queued, ended in rows:
        hold = found.setdefault(
            int(activity_id),
            {
                "numbers": [],
                "held_at": held_at,
                "expires_at": expires_at,
                "ended": False,
                "queued": False,
            },
        )
        hold["numbers"].append(number)
        hold["held_at"] = min(hold["held_at"], held_at)
        hold["expires_at"] = min(hold["expires_at"], expires_at)
        hold["ended"] = hold["ended"] or bool(ended)  # as the expiry: a number's hold ended
        hold["queued"] = hold["queued"] or bool(queued)
    return found


def questions_of(
    connection: Connection, activity_ids: Collection[int], status: str = "open"
) -> dict[int, list[dict[str, Any]]]:
    """activity id -> the review queue's questions about it of ``status`` (``id``, ``kind``,
    ``subject``; and ``outcome``, closed ones), oldest first, for those of ``activity_ids``
    that have any. One query."""
    if not activity_ids:
        return {}
    r = review_items
    rows = connection.execute(
        sa.select(r.c.activity_id, r.c.id, r.c.kind, r.c.subject, r.c.outcome)
        .where(
            r.c.status == status,
            in_values(r.c.activity_id, activity_ids, connection.dialect.name),
        )
        .order_by(r.c.activity_id, r.c.id)
    )
    found: dict[int, list[dict[str, Any]]] = {}
    for activity_id, item_id, kind, subject, outcome in rows:
        item = {"id": int(item_id), "kind": kind, "subject": subject}
        found.setdefault(int(activity_id), []).append(
            item if status == "open" else {**item, "outcome": outcome}
        )
    return found
