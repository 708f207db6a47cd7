"""Held activities whose hold ended become questions in the review queue.

An activity held for an unknown number (``unknown_counterpart: hold``) waits ``hold_days``
after it happened for a contact or lead to get the number; then it is also a question of
kind ``unknown``. It stays held, so a record that gets the number later still takes it (and
closes the question). The worker runs this once a minute; listing the queue runs it first.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from leadsync.model import now_ts
from leadsync.rules import counterparts as rules
from leadsync.rules.workspace import WorkspaceRules
from leadsync.store import batch as batch_store
from leadsync.store import counterparts as counterpart_store
from leadsync.store import review as store
from leadsync.store.database import begin_writing


def expire_holds(engine: Engine, rules_: WorkspaceRules, now: str | None = None) -> int:
    """Held activities whose hold ended (``hold_days`` after the activity) become questions
    of kind ``unknown``; they stay held, so a record that gets the number later still
    takes them (and closes the question). Returns how many were queued. The question says
    the hold each had (its rows' ``held_at`` to ``expires_at``), not today's ``hold_days``:
    ``rules_`` is not read (kept for the callers)."""
    now = now or now_ts()
    with engine.connect() as connection:  # most minutes there is nothing: no lock taken
        if not store.expired_holds(connection, now, limit=1):
            return 0
    with begin_writing(engine) as connection:
        batch_store.lock_counters(connection, [batch_store.RECORD_ID, batch_store.ACTIVITY_ID])
        due = store.expired_holds(connection, now)
        if not due:
            return 0
        by_activity: dict[int, list[dict[str, Any]]] = {}
        for row in due:
            by_activity.setdefault(int(row["activity_id"]), []).append(row)
        questions = []
        for activity_id, held in by_activity.items():
            first = held[0]
            numbers = " or ".join(h["number"] for h in held)
            questions.append(
                {
                    "key": f"{rules.UNKNOWN}:{activity_id}",
                    "kind": rules.UNKNOWN,
                    "integration": first["integration"],
                    "activity_id": activity_id,
                    "event_id": None,
                    "subject": numbers,
                    "question": rules.expired_question(
                        first["type"], numbers, first["held_at"], first["expires_at"]
                    ),
                    "candidates": [],
                    "created_at": now,
                    "status": store.OPEN,
                    "closed_at": None,
                    "closed_by": None,
                    "choice": None,
                    "outcome": None,
                }
            )
        counterpart_store.queue_hold_ended(connection, questions)
        store.mark_queued(connection, list(by_activity))
        return len(by_activity)
