"""The admin API's test lead: ``POST /api/integrations/{name}/test-lead`` (``leadsync
test-lead NAME --rep REP --json``; the console's Test lead page) and ``POST
/api/test-leads/cleanup`` (``leadsync test-lead --cleanup``), through the workspace's own
functions (:mod:`leadsync.ops.testlead`): the expectation is the engine's, never a copy.

Added to the admin router by :func:`add_routes` (its token, its problem answers).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from leadsync.ops.testlead import TestLeadResult
from leadsync.workspace import Workspace

from .problems import PROBLEM_RESPONSES, takes_no_body


class TestLeadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rep: str = Field(
        min_length=1,
        max_length=200,
        description="The rep as the integration's events name it (its user id; for the CRM "
        "itself, an owner id).",
    )


class Removed(BaseModel):
    records: int = Field(description="Test records removed (archived in HubSpot too).")
    activities: int = Field(description="Test activities removed.")
    archived: int = Field(description="Of them, those pushed: queued for archiving in HubSpot.")


def add_routes(router: APIRouter, workspace: Workspace) -> None:
    """The test-lead endpoints on the admin API's ``router``."""

    @router.post(
        "/integrations/{name}/test-lead",
        summary="Send a test lead and a test call through the engine and check them",
        responses={404: PROBLEM_RESPONSES[400] | {"description": "No such integration"}},
    )
    def run_test_lead(name: str, request: TestLeadRequest) -> TestLeadResult:
        """A marked test lead (`@leadsync.invalid`) and the rep's test call, decided by the
        engine: `passed` when the owner is the one the mapping and strategy give and the
        timeline holds the call with the expected associations (a call the settings skip
        passes, with a note); with a destination, pushed and read back from HubSpot. Each
        check says what was expected and found — `leadsync test-lead NAME --rep REP
        --json`. A failed check is 200 with `passed: false`."""
        return workspace.test_lead(name, request.rep)

    @router.post(
        "/test-leads/cleanup",
        summary="Remove the test leads and calls",
        dependencies=[Depends(takes_no_body)],
    )
    def cleanup_test_leads(
        integration: Annotated[
            str | None, Query(min_length=1, description="Only this integration's.")
        ] = None,
    ) -> Removed:
        """Every test record and activity (or one integration's), with the round-robin turns
        and rep counts the tests took given back — `leadsync test-lead --cleanup`."""
        if integration is not None:
            workspace.integration(integration)
        removed = workspace.cleanup_test_leads(integration)
        return Removed(**removed)
