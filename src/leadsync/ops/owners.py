"""A person's owner change told to leadsync (``records set-owner``): the owner checked, the
change decided and written by the engine's own path for a change made in the CRM, and the
decision as the faces show it."""

from __future__ import annotations

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules, change_owner_in_crm
from leadsync.errors import NotFoundError, UserError, WorkspaceError
from leadsync.model import Outcome, OwnerDecision, RecordType, now_ts
from leadsync.results import ResultModel
from leadsync.store.database import begin_writing
from leadsync.values import stored_id


class ManualOwnerChange(ResultModel):
    """The decision on a person's owner change: set, or ignored as stale, with its reason
    (the JSON of ``records set-owner --json``)."""

    record_id: int
    record_type: RecordType = Field(alias="type")
    at: str
    previous_owner_id: str | None
    owner_id: str | None = Field(description="The owner now (null: none).")
    outcome: Outcome
    reason: str

    @classmethod
    def of(cls, decision: OwnerDecision) -> ManualOwnerChange:
        return cls(
            record_id=decision.record_id,
            record_type=decision.record_type,
            at=decision.at,
            previous_owner_id=decision.previous_owner_id,
            owner_id=decision.owner_id,
            outcome=decision.outcome,
            reason=decision.reason,
        )


def set_owner(
    engine: Engine,
    rules: WorkspaceRules,
    record_type: RecordType,
    record_id: int,
    owner_id: str | None,
    at: str,
) -> ManualOwnerChange:
    """See :meth:`leadsync.workspace.Workspace.set_owner`: an unknown owner is NotFoundError
    naming the known ones, an inactive one WorkspaceError, a missing record NotFoundError, a
    time in the future UserError (it would outdate every change made until then: each would
    be ignored as stale, and the owner protected past it)."""
    now = now_ts()
    if at > now:
        raise UserError(
            f"the change's time {at} is in the future (it is {now} now); allowed: the time "
            "the person made it, or none for now"
        )
    if owner_id is not None:
        owner = rules.directory.owners.get(owner_id)
        if owner is None:
            known = ", ".join(sorted(rules.directory.owners)[:20]) or "none"
            raise NotFoundError(f"unknown owner {owner_id!r}; known owners: {known}")
        if not owner.active:
            raise WorkspaceError(
                f"owner {owner_id} is inactive; only active owners can be given records"
            )
    if not stored_id(record_id):
        raise NotFoundError(f"no {record_type.value} with id {record_id}")
    with begin_writing(engine) as connection:
        # The engine's own path for a change made in the CRM, as one small batch.
        decision = change_owner_in_crm(connection, rules, record_type, record_id, owner_id, at)
        if decision is None:
            raise NotFoundError(f"no {record_type.value} with id {record_id}")
    return ManualOwnerChange.of(decision)
