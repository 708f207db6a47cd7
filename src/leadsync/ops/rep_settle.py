"""Owner questions a settings change answered: the review queue asks which owner a rep is
when several active owners have its email; once the settings map the rep (a ``users.map``
entry saved on the settings page, a file applied, an owner archived), the question is
answered — closed as resolved with the owner the rules now give, and what the rep's events
left without an owner is decided again by the engine (``engine.decide_for_rep``), as
answering the question in the queue does. Without it, the question stayed open and the
rep's records ownerless until someone answered what the settings already said."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from leadsync.engine import decide_for_rep
from leadsync.model import ExternalUserRef, now_ts
from leadsync.rules.counterparts import OWNER
from leadsync.rules.mapping import map_external_user
from leadsync.store import review as store
from leadsync.store.database import begin_writing
from leadsync.workspace_config import load_rules

# Open owner questions read a page at a time (there are few: one per ambiguous rep).
_PAGE = 500


def settle_mapped_reps(engine: Engine, who: str) -> int:
    """Close the open owner questions whose rep the settings now map, deciding the rep's
    ownerless records and activities again; ``who`` made the settings change. How many."""
    rules = load_rules(engine)
    settled = 0
    for row in _open_owner_questions(engine):
        settings = rules.integrations.get(row["integration"])
        if settings is None:
            continue
        rep = ExternalUserRef(row["subject"])
        mapping = map_external_user(rep, settings.users, rules.directory, None)
        if not mapping.mapped or mapping.owner_id is None:
            continue
        reason = (
            f"resolved by a settings change ({who}): {mapping.how}, so rep {rep.id} is "
            f"owner {mapping.owner_id}"
        )
        with begin_writing(engine) as connection:
            if not store.close(
                connection, row["id"], "resolved", now_ts(), who, mapping.owner_id, reason
            ):
                continue  # answered meanwhile
            decide_for_rep(
                connection,
                rules,
                row["integration"],
                rep,
                store.left_by_rep(connection, row["integration"], row["subject"]),
                store.ownerless_activities(connection, row["integration"], row["subject"]),
                f"decided again: review item {row['id']} {reason}",
            )
        settled += 1
    return settled


def _open_owner_questions(engine: Engine) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    with engine.connect() as connection:
        while True:
            rows = store.page(connection, store.OPEN, OWNER, None, _PAGE, after)
            found += rows
            if len(rows) < _PAGE:
                return found
            after = rows[-1]["id"]
