"""What the batch learns of the reps its events name: each rep's email (by which it may map
to an owner) and name, the newest word by the tool's clock (an older event delivered late
changes neither: :func:`leadsync.rules.mapping.newer_word`), when it was first and last seen,
and how many events it sent. Written set-based with the same rule
(:func:`leadsync.store.external_users.upsert_external_users`), so batches and parallel workers may
write in any order.

Functions over a :class:`~leadsync.engine.decide.BatchDecider`; pure like it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadsync.model import Event, EventType
from leadsync.rules.mapping import given_rep_name, newer_word

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


def learn_rep(d: BatchDecider, event: Event) -> None:
    """Remember the rep an event names (a user event introduces one, counting no event)."""
    rep = event.owner
    if rep is None or rep.id is None:
        return
    key = (event.integration, rep.id)
    at = event.occurred_at
    email = rep.email if rep.email and newer_word(at, d.state.learned_at.get(key)) else None
    if email is not None:
        d.learned_emails[key] = email
        d.state.learned_at[key] = at
    sent = 0 if event.type is EventType.USER else 1
    name = given_rep_name(event)
    seen = d.external_users.get(key)
    if seen is None:
        d.external_users[key] = {
            "integration": event.integration,
            "external_id": rep.id,
            "email": email,
            "email_at": at if email is not None else None,
            "name": name,
            "name_at": at if name is not None else None,
            "first_seen_at": at,
            "last_seen_at": at,
            "events": sent,
        }
        return
    if email is not None:
        seen["email"], seen["email_at"] = email, at
    if name is not None and newer_word(at, seen["name_at"]):
        seen["name"], seen["name_at"] = name, at
    seen["last_seen_at"] = max(seen["last_seen_at"], at)
    seen["first_seen_at"] = min(seen["first_seen_at"], at)
    seen["events"] += sent
