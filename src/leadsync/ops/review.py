"""The review queue: the questions the engine would not guess (a number or an email several
contacts have, tied open deals, a rep matching several owners, held activities whose number
nobody got in time), listed, shown and answered by a person.

Answering applies the choice through the engine (:func:`leadsync.engine.attach_activity`:
the record, then what the association rules add for it) and records it as "resolved by a
person"; a rep's question becomes an entry of the integration's ``users.map``, saved like
any settings change (audited; refused when the workspace is managed by file). Held
activities enter the queue when their hold ends (:func:`expire_holds`, run by the worker
and before the queue is listed).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field
from sqlalchemy.engine import Connection, Engine

from leadsync.engine import WorkspaceRules, attach_activity
from leadsync.errors import NotFoundError, UserError, WorkspaceError
from leadsync.model import display_ts, now_ts
from leadsync.ops import settings_change
from leadsync.ops.rep_settle import answer_rep_question
from leadsync.ops.settings_change import Actor
from leadsync.pipeline.expiry import expire_holds as expire_holds
from leadsync.results import ResultModel
from leadsync.rules import counterparts as rules
from leadsync.settings import IntegrationSettings, integration_to_dict
from leadsync.store import batch as batch_store
from leadsync.store import counterparts as counterpart_store
from leadsync.store import review as store
from leadsync.store.database import begin_writing
from leadsync.values import digits, stored_id
from leadsync.workspace_config import load_rules

STATUSES = ("open", "resolved", "skipped", "attached")
PAGE = 50
_ACTIVITY_KINDS = (rules.NUMBER, rules.EMAIL, rules.UNKNOWN)


class ReviewCandidate(ResultModel):
    """One possible answer and why it matched."""

    record_id: int | None = Field(default=None, description="A record's id (null: an owner).")
    record_type: str | None = None
    owner_id: str | None = Field(
        default=None, description="The owner proposed; for a record, the record's owner now."
    )
    name: str | None = None
    why: str


class ReviewItem(ResultModel):
    """A question in the review queue."""

    id: int
    kind: str = Field(description="number, email, deal, owner or unknown")
    integration: str
    activity_id: int | None
    event_id: str | None
    subject: str = Field(description="What it is about: the number, the email, the rep.")
    question: str
    candidates: list[ReviewCandidate]
    created_at: str
    status: str = Field(description="open, resolved, skipped or attached")
    closed_at: str | None = None
    closed_by: str | None = None
    choice: str | None = None
    outcome: str | None = None
    activity: dict[str, Any] | None = Field(
        default=None, description="The activity it is about, as stored (show only)."
    )


class ReviewPage(ResultModel):
    """A page of the queue, oldest first."""

    items: list[ReviewItem]
    open: int = Field(description="Open questions in the whole queue.")
    next_after: int | None = Field(description="Pass as after= for the next page; null: last.")


class ChosenRecord(ResultModel):
    """The record a question was answered with (its type as found when answering)."""

    type: str = Field(description="contact, lead or deal")
    id: int


class Resolution(ResultModel):
    """What answering a question did."""

    item: ReviewItem
    applied: list[str] = Field(description="What the engine did, one sentence each.")
    record: ChosenRecord | None = Field(
        default=None,
        description="The record chosen, listed or typed (null: skipped, or a rep's question).",
    )


def _item(row: dict[str, Any], activity: dict[str, Any] | None = None) -> ReviewItem:
    candidates = row["candidates"]
    return ReviewItem(
        id=row["id"],
        kind=row["kind"],
        integration=row["integration"],
        activity_id=row["activity_id"],
        event_id=row["event_id"],
        subject=row["subject"],
        question=row["question"],
        candidates=[ReviewCandidate(**c) for c in candidates or []],
        created_at=row["created_at"],
        status=row["status"],
        closed_at=row["closed_at"],
        closed_by=row["closed_by"],
        choice=row["choice"],
        outcome=row["outcome"],
        activity=activity,
    )


def page(
    engine: Engine,
    status: str | None = "open",
    kind: str | None = None,
    integration: str | None = None,
    limit: int = PAGE,
    after: int | None = None,
) -> ReviewPage:
    if status is not None and status not in STATUSES:
        raise UserError(f"status {status!r} is not allowed; allowed: {', '.join(STATUSES)}")
    if kind is not None and kind not in rules.KINDS:
        raise UserError(f"kind {kind!r} is not allowed; allowed: {', '.join(rules.KINDS)}")
    if limit < 1:
        raise UserError(f"limit {limit} is not allowed; allowed: 1 or more")
    with engine.connect() as connection:
        rows = store.page(connection, status, kind, integration, limit + 1, after)
        total = store.count_open(connection)
        more = len(rows) > limit
        items = _with_owners(connection, [_item(r) for r in rows[:limit]])
    return ReviewPage(
        items=items,
        open=total,
        next_after=items[-1].id if more else None,
    )


def show(engine: Engine, item_id: int) -> ReviewItem:
    with engine.connect() as connection:
        row = store.one(connection, item_id)
        if row is None:
            raise NotFoundError(f"review item {item_id} does not exist")
        activity = (
            store.activity_of(connection, row["activity_id"])
            if row["activity_id"] is not None
            else None
        )
        return _with_owners(connection, [_item(row, activity)])[0]


def _with_owners(connection: Connection, items: list[ReviewItem]) -> list[ReviewItem]:
    """Each record candidate with its record's owner now (a clue for who answers: the caller's
    rep may own one of them), read for a page at once."""
    ids = {c.record_id for item in items for c in item.candidates if c.record_id is not None}
    owners = store.owners_of(connection, ids)
    for item in items:
        for candidate in item.candidates:
            if candidate.record_id is not None:
                candidate.owner_id = owners.get(candidate.record_id)
    return items


def resolve(
    engine: Engine,
    rules_: WorkspaceRules,
    item_id: int,
    choose: str | None,
    skip: bool,
    by: Actor,
) -> Resolution:
    """Answer a question: ``choose`` a record id (an owner id for a rep's question), or
    ``skip`` it (the activity stays where it is and is held no more). The choice need not
    be one of the candidates (a person may know better); it must be a record of a type the
    question is about, and the answer says when it was not a candidate."""
    if (choose is None) == (not skip):
        raise UserError("answer with exactly one of: choose a record, or skip")
    item = show(engine, item_id)
    if item.status != store.OPEN:
        raise WorkspaceError(
            f"review item {item_id} is {item.status} already"
            + (f" (by {item.closed_by} at {display_ts(item.closed_at)})" if item.closed_by else "")
        )
    who = f"{by.who} ({by.role})"
    now = now_ts()
    if skip:
        outcome = f"skipped by a person ({who}): " + (
            f"rep {item.subject} stays mapped to nobody; its next event asks again"
            if item.kind == rules.OWNER
            else "left without a record"
        )
        with begin_writing(engine) as connection:
            batch_store.lock_counters(connection, [batch_store.RECORD_ID])
            if not store.close(connection, item_id, "skipped", now, by.who, None, outcome):
                raise WorkspaceError(f"review item {item_id} was closed meanwhile")
            if item.activity_id is not None and item.kind in _ACTIVITY_KINDS:
                counterpart_store.release(connection, [item.activity_id])
        return Resolution(item=show(engine, item_id), applied=[outcome])
    assert choose is not None
    if item.kind == rules.OWNER:
        return _choose_owner(engine, rules_, item, choose, by, now)
    return _choose_record(engine, rules_, item, choose, by, now)


def _choose_record(
    engine: Engine,
    rules_: WorkspaceRules,
    item: ReviewItem,
    choose: str,
    by: Actor,
    now: str,
) -> Resolution:
    text = choose.strip()
    if not digits(text):
        raise UserError(
            f"choice {choose[:100]!r} is not a record id; allowed: a whole number written in "
            "digits, like 42"
        )
    record_id = int(text)
    wanted = ("deal",) if item.kind == rules.DEAL else ("contact", "lead")
    listed = any(c.record_id == record_id for c in item.candidates)
    note = "" if listed or not item.candidates else " (not one of the candidates)"
    reason = f"resolved by a person in review item {item.id}{note}: {by.who} ({by.role})"
    missing = UserError(  # a wrong answer (exit 2, 400), not an unknown question (404)
        f"record {record_id} does not exist; allowed: the id of a {' or '.join(wanted)}"
    )
    if not stored_id(record_id):
        raise missing
    with begin_writing(engine) as connection:
        found = store.record_type_of(connection, record_id)
        if found is None:
            raise missing
        if found not in wanted:
            raise UserError(
                f"record {record_id} is a {found}; review item {item.id} asks for a "
                + " or ".join(wanted)
            )
        activity = store.activity_of(connection, item.activity_id or 0)
        if activity is None:
            raise NotFoundError(f"activity {item.activity_id} of review item {item.id} is gone")
        # Closed as the person's answer first: attaching closes the activity's other open
        # questions about its number as answered by it.
        if not store.close(connection, item.id, "resolved", now, by.who, str(record_id), reason):
            raise WorkspaceError(f"review item {item.id} was closed meanwhile")
        chosen = attach_activity(connection, rules_, activity, record_id, reason)
        if chosen is None:
            raise missing
    applied = [
        f"{activity['type']} {activity['id']} attached to {c.record_type.value} {c.record_id}"
        + (f" ({c.reason})" if c.reason else " (association rules)")
        for c in chosen
    ]
    return Resolution(
        item=show(engine, item.id),
        applied=applied,
        record=ChosenRecord(type=found, id=record_id),
    )


def _choose_owner(
    engine: Engine,
    rules_: WorkspaceRules,
    item: ReviewItem,
    choose: str,
    by: Actor,
    now: str,
) -> Resolution:
    owner = rules_.directory.owners.get(choose)
    if owner is None or not owner.active:
        listed = ", ".join(c.owner_id for c in item.candidates if c.owner_id) or "none"
        raise UserError(
            f"choice {choose!r} is not an active owner; allowed: an active owner's id "
            f"(the candidates: {listed})"
        )
    settings = rules_.integrations.get(item.integration)
    if settings is None:
        raise NotFoundError(f"integration {item.integration} no longer exists")
    rep = item.subject
    mapped = settings.users.target_of(rep) == choose  # a file applied since gave the entry
    if not mapped:
        file = settings_change.managed_file(engine)
        if file is not None:
            raise WorkspaceError(
                f"the workspace is managed by file ({file}): add {rep!r}: {choose!r} to "
                f"integrations.{item.integration}.users.map there (users: {{map: "
                f'{{"{rep}": "{choose}"}}}}) and run `leadsync apply {file}`: that answers '
                "this question, and the records its events left unowned are decided then"
            )

        def mapped_too(current: IntegrationSettings | None) -> Any:
            """The settings as saved now (another change may have landed since they were
            read), with the entry; the keys written stay written."""
            data = integration_to_dict(current) if current is not None else None
            if data is not None:
                data.setdefault("users", {}).setdefault("map", {})[rep] = choose
            return data

        settings_change.edit_integration(
            engine, item.integration, mapped_too, False, by, settle=False
        )
    asked = any(c.owner_id == choose for c in item.candidates)
    note = "" if asked or not item.candidates else " (not one of the candidates)"
    reason = (
        f"resolved by a person in review item {item.id}{note}: {by.who} ({by.role}) "
        + ("found" if mapped else "set")
        + f" users.map {rep} -> {choose}"
    )
    rules_ = load_rules(engine)  # with the rep in the map
    row = {"id": item.id, "integration": item.integration, "subject": rep}
    note = f"decided again: review item {item.id} answered by {by.who} ({by.role})"
    with begin_writing(engine) as connection:
        decided = answer_rep_question(connection, rules_, row, choose, by.who, now, reason, note)
    if decided is None:
        raise WorkspaceError(f"review item {item.id} was closed meanwhile")
    applied = [f"{item.integration}: rep {rep} now maps to owner {choose} ({owner.name})"]
    applied += [
        f"{d.record_type.value} {d.record_id}: {d.outcome.value}, owner "
        f"{d.owner_id or 'none'} ({d.reason})"
        for d in decided.decisions
    ]
    applied += [f"{kind} {i}: owner {o} (its rep's)" for kind, i, o in decided.activities]
    return Resolution(item=show(engine, item.id), applied=applied)
