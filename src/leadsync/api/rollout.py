"""The admin API's staged rollouts: ``GET /api/integrations/{name}/rollout`` (its share, what
its proposed settings change, the decisions and skips made under it so far) and ``POST
…/rollout/promote`` and ``…/rollout/abort`` — what the console's buttons and ``leadsync
rollout promote|abort`` do, through the same functions (:mod:`leadsync.ops.rollout`), each
answering with the keys it changed (``?dry_run=true``: only that, nothing changed).

Added to the admin router by :func:`add_routes` (its token, its problem answers).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from leadsync.ops import rollout as rollout_ops
from leadsync.ops.rollout import RolloutChange, RolloutState
from leadsync.ops.settings_change import API_ACTOR
from leadsync.values import since_ts
from leadsync.workspace import Workspace

from .problems import PROBLEM_RESPONSES, SINCE, takes_no_body

DryRun = Annotated[
    bool, Query(description="true: answer what it would change, and change nothing.")
]
REFUSED = PROBLEM_RESPONSES[400] | {
    "description": "The integration has no rollout, or the workspace is managed by file "
    "(`leadsync apply --managed`): the detail says how to make the change in the file"
}


def add_routes(router: APIRouter, workspace: Workspace) -> None:
    """The rollout endpoints on the admin API's ``router``."""

    def change(name: str, action: str, dry_run: bool) -> RolloutChange:
        if dry_run:
            return rollout_ops.plan(workspace.engine, name, action)
        save = workspace.rollout_promote if action == "promote" else workspace.rollout_abort
        return rollout_ops.carry_out(workspace.engine, name, action, save, API_ACTOR)

    @router.get(
        "/integrations/{name}/rollout",
        summary="An integration's staged rollout",
        responses={400: PROBLEM_RESPONSES[400]},
    )
    def get_rollout(
        name: str, since: Annotated[str | None, Query(description=SINCE, min_length=1)] = None
    ) -> RolloutState:
        """Its share of records (`percent` null: no rollout), each key its proposed settings
        change against the current ones, and the owner decisions and activity skips made
        under it so far (`since`: of events in a recent window): `leadsync rollout status
        NAME --json`."""
        since_at = since_ts(since) if since is not None else None
        [state] = rollout_ops.status(workspace.engine, name, since_at).rollouts
        return state

    @router.post(
        "/integrations/{name}/rollout/promote",
        summary="Promote a staged rollout",
        responses={409: REFUSED},
        dependencies=[Depends(takes_no_body)],
    )
    def promote_rollout(name: str, dry_run: DryRun = False) -> RolloutChange:
        """The proposed settings become the integration's settings for every record; the
        answer lists each key that changes for the records outside the sample (a section
        the rollout names replaces the current one whole: keys it leaves out go back to
        their defaults). Recorded in the audit log: `leadsync rollout promote NAME --json`."""
        return change(name, "promote", dry_run)

    @router.post(
        "/integrations/{name}/rollout/abort",
        summary="Abort a staged rollout",
        responses={409: REFUSED},
        dependencies=[Depends(takes_no_body)],
    )
    def abort_rollout(name: str, dry_run: DryRun = False) -> RolloutChange:
        """The rollout is dropped: every record gets the current settings again; the answer
        lists each key that changes back for the sample's records. Recorded in the audit
        log: `leadsync rollout abort NAME --json`."""
        return change(name, "abort", dry_run)
