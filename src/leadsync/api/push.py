"""The admin API's HubSpot push: ``GET /api/push/status`` (what ``leadsync push status
--json`` prints) and the push failures — listed a page at a time, counted, read one by one,
retried or dismissed (``leadsync push failures …``; the console's push failures page), through
the same functions (:mod:`leadsync.ops.push_status`, :mod:`leadsync.ops.listings`).

Added to the admin router by :func:`add_routes` (its token, its problem answers).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from leadsync.ops import listings
from leadsync.ops.push_status import push_failure, resolve_failures
from leadsync.ops.settings_change import API_ACTOR
from leadsync.workspace import Workspace

from .lookups import Before, Count, PageLimit, PositiveId
from .problems import PROBLEM_RESPONSES, Reason, takes_no_body

NO_DESTINATION = PROBLEM_RESPONSES[400] | {
    "description": "The workspace has no destination (`destination:` in its settings)"
}


class PushFailure(BaseModel):
    id: int
    kind: Literal["record", "activity"] = Field(description="What leadsync pushed.")
    local_id: int = Field(description="The record's or activity's id in leadsync.")
    object_type: str = Field(description="HubSpot's object type (contact, call, …).")
    operation: str = Field(description="create, update, associate, archive, …")
    status: int | None = Field(
        description="HubSpot's HTTP status; null: leadsync's own check, HubSpot never saw it."
    )
    category: str | None = Field(description="HubSpot's category, or leadsync's own.")
    message: str = Field(description="Why, in words (HubSpot's refused values one by one).")
    correlation_id: str | None = Field(description="HubSpot's, for its support.")
    at: str
    resolved_at: str | None
    resolution: str | None = Field(description="retried, dismissed or pushed.")
    resolved_by: str | None = Field(description="Who retried or dismissed it.")
    dismissed_reason: str | None
    refused_by: Literal["hubspot", "leadsync"]
    state: Literal["open", "retried", "dismissed", "pushed"]
    records: list[tuple[str, int]] | None = Field(
        None, description="One failure of an activity: the records it is on (type, id)."
    )


class Resolved(BaseModel):
    count: int = Field(description="The failures closed: every open one of the objects named.")


class DismissFailure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


def add_routes(router: APIRouter, workspace: Workspace) -> None:
    """The push endpoints on the admin API's ``router``."""
    engine = workspace.engine

    @router.get(
        "/push/status",
        summary="The HubSpot push: queue, failures, request budget",
        responses={409: NO_DESTINATION},
    )
    def get_push_status() -> dict[str, Any]:
        """Queue depth per object type, oldest pending, pushed in the last hour, failures,
        the request budget (10 s and daily, from HubSpot's headers), any pause and who
        holds the push lease: `leadsync push status --json`."""
        return workspace.push_status()

    @router.get("/push-failures", summary="Push failures, newest first")
    def list_push_failures(
        limit: PageLimit = 100, include_resolved: bool = False, before: Before = None
    ) -> list[PushFailure]:
        """A page: the next is `before` the last failure's `id` — `leadsync push failures
        list --json`."""
        rows = listings.push_failures(engine, limit, include_resolved, before or 0)
        return [PushFailure(**row) for row in rows]

    @router.get("/push-failures/count", summary="How many push failures are open")
    def count_push_failures() -> Count:
        return Count(count=listings.open_push_failures(engine))

    @router.get(
        "/push-failures/{failure_id}",
        summary="One push failure",
        responses={404: PROBLEM_RESPONSES[400] | {"description": "No push failure of that id"}},
    )
    def get_push_failure(failure_id: PositiveId) -> PushFailure:
        """Open or resolved; an activity's names the records it is on."""
        return PushFailure(**push_failure(engine, failure_id))

    @router.post(
        "/push/retry-failures",
        summary="Retry every open push failure",
        dependencies=[Depends(takes_no_body)],
    )
    def retry_every_push_failure() -> Resolved:
        """Their objects are queued again (up to 100,000 at once: the rest, again) —
        `leadsync push failures retry --all`."""
        return Resolved(count=resolve_failures(engine, None, "retry", by=API_ACTOR.who))

    @router.post(
        "/push-failures/{failure_id}/retry",
        summary="Retry a push failure",
        dependencies=[Depends(takes_no_body)],
        responses={404: PROBLEM_RESPONSES[400] | {"description": "No open failure of that id"}},
    )
    def retry_push_failure(failure_id: PositiveId) -> Resolved:
        """Its object is queued again; the next push sends it as it is now."""
        return Resolved(count=resolve_failures(engine, [failure_id], "retry", by=API_ACTOR.who))

    @router.post(
        "/push-failures/{failure_id}/dismiss",
        summary="Dismiss a push failure that cannot be fixed",
        responses={404: PROBLEM_RESPONSES[400] | {"description": "No open failure of that id"}},
    )
    def dismiss_push_failure(failure_id: PositiveId, request: DismissFailure) -> Resolved:
        """Closed with the reason, kept for the record (`include_resolved`)."""
        closed = resolve_failures(engine, [failure_id], "dismiss", request.reason, API_ACTOR.who)
        return Resolved(count=closed)
