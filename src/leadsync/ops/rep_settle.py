"""Owner questions a settings change answered: the review queue asks which owner a rep is
when several active owners have its email; once the settings map the rep (a ``users.map``
entry saved on the settings page or through the API, a file applied), the question is
answered — closed as resolved with the owner the rules now give, and what the rep's events
left without an owner is decided again by the engine (``engine.decide_for_rep``), as
answering the question in the queue does. Without it, the question stayed open and the
rep's records ownerless until someone answered what the settings already said."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection, Engine

from leadsync.engine import RepDecided, WorkspaceRules, decide_for_rep
from leadsync.model import ExternalUserRef, now_ts
from leadsync.observability import log_failure
from leadsync.rules.counterparts import OWNER
from leadsync.rules.mapping import map_rep
from leadsync.store import config as config_store
from leadsync.store import external_users
from leadsync.store import review as store
from leadsync.store.database import begin_writing
from leadsync.workspace_config import rules_on

log = logging.getLogger("leadsync.review")

# Open owner questions read a page at a time (there are few: one per ambiguous rep).
_PAGE = 500


def settle_mapped_reps(engine: Engine, who: str) -> int:
    """Close the open owner questions whose rep the settings now map, deciding the rep's
    ownerless records and activities again; ``who`` made the settings change. How many.
    Each question in a transaction of its own that reads the settings under the
    configuration's lock (a save landing meanwhile is seen, never undone). Best effort: the
    settings change it follows is committed already, so a failure here is logged (one line
    for the database away, the traceback for a defect:
    :func:`~leadsync.observability.log_failure`) and the question stays open (answered in
    the queue, or by the next save)."""
    settled = 0
    for row in _open_owner_questions(engine):
        try:
            with begin_writing(engine) as connection:
                config_store.lock_config(connection)
                rules = rules_on(connection)
                settings = rules.integrations.get(row["integration"])
                if settings is None:
                    continue
                rep = ExternalUserRef(row["subject"])
                key = (row["integration"], row["subject"])  # the email its events gave
                learned = external_users.load_learned_emails(connection, [key]).get(key)
                email = learned.email if learned is not None else None
                mapping = map_rep(rep, settings, rules.directory, email)
                if not mapping.mapped or mapping.owner_id is None:
                    continue
                reason = (
                    f"resolved by a settings change ({who}): {mapping.how}, so rep {rep.id} "
                    f"is owner {mapping.owner_id}"
                )
                note = f"decided again: review item {row['id']} {reason}"
                owner = mapping.owner_id
                if answer_rep_question(connection, rules, row, owner, who, now_ts(), reason, note):
                    settled += 1
        except Exception as exc:  # noqa: BLE001 - the save is committed; the question waits
            item = f"review item {row['id']} not settled after a settings change"
            log_failure(log, exc, item + " ({}); it stays open", item + "; it stays open")
    return settled


def answer_rep_question(
    connection: Connection,
    rules: WorkspaceRules,
    row: Mapping[str, Any],
    owner_id: str,
    who: str,
    at: str,
    reason: str,
    note: str,
) -> RepDecided | None:
    """Close the rep's question ``row`` as resolved with ``owner_id`` (by ``who``, at
    ``at``) and decide again what the rep's events left without an owner (``note`` ends
    each reason), in the caller's transaction; None when the question was closed meanwhile
    (nothing decided). The one answer of a rep's question: the queue's and a settings
    change's."""
    if not store.close(connection, row["id"], "resolved", at, who, owner_id, reason):
        return None
    integration, rep = row["integration"], row["subject"]
    return decide_for_rep(
        connection,
        rules,
        integration,
        ExternalUserRef(rep),
        store.left_by_rep(connection, integration, rep),
        store.ownerless_activities(connection, integration, rep),
        note,
    )


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
