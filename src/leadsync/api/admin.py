"""The admin API: read records, create an integration or read and replace its settings, see,
promote or abort its staged rollout (:mod:`.rollout`), look at the inbox and the dead
letters, retry or dismiss a dead letter, list and answer the review queue's questions, list
an integration's own lines (:mod:`.lines`). Behind a bearer token (``LEADSYNC_ADMIN_TOKEN``).

Each endpoint is a few lines over :class:`~leadsync.workspace.Workspace`; the JSON is the
CLI's ``--json`` output.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from leadsync.errors import LeadsyncError, NotFoundError, UserError
from leadsync.model import RecordType
from leadsync.ops import listings
from leadsync.ops.deadletters import RetryResult, dismiss_hint
from leadsync.ops.monitor import Report
from leadsync.ops.preview import SAMPLE, SAMPLE_MAX, PreviewResult
from leadsync.ops.replay import ReplayResult
from leadsync.ops.review import PAGE, Resolution, ReviewItem, ReviewPage
from leadsync.ops.settings_change import API_ACTOR, etag
from leadsync.settings import INTEGRATION_NAME_RE, IntegrationSettings, integration_to_dict
from leadsync.settings.base import IntegrationName
from leadsync.values import since_ts
from leadsync.web.auth import FailedTries
from leadsync.workspace import Workspace

from . import lines, lookups, push, rollout, test_lead
from .auth import require_admin
from .lookups import After, Before, Count, Limit, PageLimit, PositiveId, checked_request
from .problems import PROBLEM_RESPONSES, SINCE, ProblemError, Reason, takes_no_body
from .review_answer import Answer, ChooseAnswer

# ------------------------------------------------------------------ response models


class IntegrationSummary(BaseModel):
    name: str
    kind: str


class InboxCount(BaseModel):
    integration: str
    status: str
    count: int


class InboxCounts(BaseModel):
    counts: list[InboxCount]
    pending: int
    oldest_pending_at: str | None
    lag_s: float


class InboxRow(BaseModel):
    seq: int
    integration: str
    event_id: str
    received_at: str
    occurred_at: str
    status: str
    source: str | None
    error: str | None
    payload: str


class DeadLetter(BaseModel):
    id: int
    integration: str
    received_at: str
    source: str | None
    line_no: int | None
    event_id: str | None
    raw: str
    error: str
    resolved_at: str | None
    resolution: str | None
    resolved_by: str | None = Field(description="Who retried or dismissed it.")
    dismissed_reason: str | None = Field(description="Why it was dismissed (dismissed only).")
    state: Literal["open", "retried", "dismissed"] = Field(
        description="open counts in the report's dead-letter check; retried and dismissed "
        "letters are kept for the record."
    )


_ONE_LINE = re.compile(r"^[^\x00-\x1f\x7f]*$")


def _one_line(value: str | None) -> str | None:
    if value is not None and not _ONE_LINE.match(value):
        raise ValueError("one line of text: no control characters (a newline, a tab)")
    return (value or "").strip() or None


class DismissRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    by: Annotated[str | None, AfterValidator(_one_line)] = Field(
        None,
        max_length=200,
        description="Who dismisses it, on one line: recorded as `NAME via admin API (admin "
        "token)` (blank or absent: `admin API (admin token)`, as every change through the "
        "API is).",
        json_schema_extra={"pattern": _ONE_LINE.pattern},
    )


PROPOSED_SETTINGS = (
    "Proposed settings in the YAML's schema: a whole workspace (owners and integrations) "
    "replaces the integration's settings; one integration's settings, whole or in part "
    "(or {integrations: {NAME: ...}}), are merged over the current ones: mappings key by "
    "key, lists and values replaced, null back to the default."
)


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration: str
    events: list[Any] = Field(
        description="Events as `leadsync ingest` reads them: canonical event objects for a "
        "generic integration, vendor webhook bodies (or {headers, body}) otherwise; a string "
        "is taken as one line as it is."
    )
    sample: int | None = Field(
        None,
        ge=1,
        le=SAMPLE_MAX,
        description=f"Only the first N events (without: the first {SAMPLE:,}; cut_at in the "
        "answer says when there were more).",
    )
    settings: dict[str, Any] | None = Field(None, description=PROPOSED_SETTINGS)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    integration: str
    settings: dict[str, Any] = Field(description=PROPOSED_SETTINGS)
    since: str | None = Field(None, description=SINCE, min_length=1)


class ExternalUser(BaseModel):
    id: str
    email: str | None
    name: str | None
    status: str = Field(description="mapped, auto-matched or unmapped")
    owner_id: str | None
    how: str
    records: str | None = Field(
        default=None,
        description="Unmapped: where the unmapped policy sends the rep's records ('go to the "
        "fallback owner 101 (Ana Ng) by the unmapped policy'), as the health report says it.",
    )
    events: int
    first_seen_at: str | None
    last_seen_at: str | None


# The queue's states and kinds (leadsync.ops.review.STATUSES, leadsync.rules.counterparts.KINDS;
# a test checks they agree), and "all" for every state.
ReviewStatus = Literal["open", "resolved", "skipped", "attached", "all"]
ReviewKind = Literal["number", "email", "deal", "owner", "unknown"]

ADMIN_API = API_ACTOR.who  # who a dead letter's retry or dismissal names
InboxStatus = Literal["pending", "applied", "failed"]


# The settings' canonical form, for the document (the app adds the schema to its components);
# the checks are the file's: shorthands such as `meeting: true` and numeric ids are accepted,
# and owners and teams must exist.
SETTINGS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/IntegrationSettings"}}
        },
    }
}


IntegrationFilter = Annotated[
    str | None,
    Query(description="Only this integration's (a name it has).", min_length=1),
]


def _settings_schema(schema: dict[str, Any]) -> None:
    schema.clear()  # (allOf: pydantic resolves a bare $ref itself, and the app adds this one)
    schema["allOf"] = [{"$ref": "#/components/schemas/IntegrationSettings"}]


class NewIntegration(BaseModel):
    """An integration to create: its name and its settings in the YAML file's schema."""

    model_config = ConfigDict(extra="forbid")

    # Refused in the file's words (IntegrationName); the pattern documents it in OpenAPI.
    name: IntegrationName = Field(
        pattern=INTEGRATION_NAME_RE.pattern,
        description="Lowercase letters, digits, '_' and '-', at most 63 characters.",
    )
    # Documented as the settings' canonical form; checked like the file (shorthands too).
    settings: dict[str, Any] = Field(json_schema_extra=_settings_schema)


def build_router(
    workspace: Workspace,
    token: str | None,
    on_requeue: Callable[[], None] | None = None,
    tries: FailedTries | None = None,
    viewer: str | None = None,
) -> APIRouter:
    router = APIRouter(
        prefix="/api",
        tags=["admin"],
        dependencies=[
            Depends(require_admin(token, tries, viewer=viewer)),
            Depends(checked_request),
        ],
        responses=PROBLEM_RESPONSES,
    )

    def known(integration: str | None) -> None:  # not an empty list for a mistyped name
        listings.check_filter(workspace.engine, workspace.rules(), integration)

    @router.get("/records/{record_type}/{record_id}", summary="A record by id")
    def get_record(
        record_type: RecordType, record_id: PositiveId, limit: Limit = None
    ) -> dict[str, Any]:
        """The record with its identities, associations, owner history and timeline: the
        JSON of `leadsync records show --json`. The owner history is oldest decided first,
        each decision with its reason, `decided_at` (when leadsync made it) and `at` (when
        its event happened; a person's change or an undo, with no `event_id`: the time the
        change is dated). `phones`: a contact's or lead's numbers as shown, a property's own
        before those kept beside it, each with `property` (the phone property it is, or
        stands beside), `kept_beside`, `integration` (who gave a number kept beside; null
        for a property's own), `shown_as` (`mobilephone (kept beside, from calendly)`),
        `number` (E.164, else as given) and `readable`. `properties_given`: per property,
        the `integration` and the time `at` (by the vendor's clock) of the event that gave
        the value shown — an event older than that changes nothing there. A type not listed
        is 400 naming the allowed ones."""
        return workspace.record(record_type, record_id, limit)

    @router.get("/integrations", summary="Configured integrations")
    def list_integrations() -> list[IntegrationSummary]:
        rules = workspace.rules()
        return [
            IntegrationSummary(name=name, kind=s.kind)
            for name, s in sorted(rules.integrations.items())
        ]

    @router.get("/integrations/{name}/settings", summary="An integration's settings")
    def get_settings(name: str, response: Response) -> dict[str, Any]:
        """In the YAML file's schema (the keys written), as `leadsync export` writes it; its
        `ETag` is what a `PUT` with `If-Match` must still match."""
        settings = workspace.integration(name)
        response.headers["ETag"] = etag(settings)
        return integration_to_dict(settings)

    @router.put(
        "/integrations/{name}/settings",
        summary="Replace an integration's settings",
        openapi_extra=SETTINGS_BODY,
        responses={
            409: PROBLEM_RESPONSES[400]
            | {"description": "The workspace is managed by file (`leadsync apply --managed`)"},
            412: PROBLEM_RESPONSES[400]
            | {"description": "`If-Match` names settings changed since (GET them again)"},
            422: PROBLEM_RESPONSES[400]
            | {"description": "Invalid settings: every problem with its key path"},
        },
    )
    def put_settings(
        name: str,
        response: Response,
        settings: Annotated[
            dict[str, Any],
            Body(
                description="The integration in the YAML file's schema, e.g. "
                '{"kind": "aircall", "secret_env": "AIRCALL_TOKEN", "ownership": {"default": '
                '"fill_if_empty"}}',
            ),
        ],
        if_match: Annotated[str | None, Header(description="The ETag of a GET.")] = None,
    ) -> dict[str, Any]:
        """Checked exactly like the file (owners and teams included); problems come back as
        422 with one line per problem, `integrations.NAME.key.path: what is wrong; allowed: …`.
        Nothing changes unless every check passes. An integration that is not configured is
        404: creating one is `POST /api/integrations`, never a side effect of a typo. A
        workspace managed by file (`leadsync apply --managed FILE`) refuses with 409; each
        change is recorded in the audit log (the console's audit page). With `If-Match` (the
        `ETag` of a GET), settings changed since are not overwritten: 412."""
        try:
            result = workspace.replace_integration(name, settings, by=API_ACTOR, if_match=if_match)
        except NotFoundError as exc:
            raise NotFoundError(
                f"{exc}; create it with POST /api/integrations, or declare it in the "
                "workspace file and run leadsync apply"
            ) from None
        response.headers["ETag"] = etag(result)
        return integration_to_dict(result)

    @router.post(
        "/integrations",
        summary="Create an integration",
        status_code=201,
        responses={
            201: {"description": "Created: its settings as stored"},
            409: PROBLEM_RESPONSES[400] | {"description": "An integration of that name exists"},
            422: PROBLEM_RESPONSES[400]
            | {"description": "Invalid settings: every problem with its key path"},
        },
    )
    def post_integration(request: NewIntegration, response: Response) -> dict[str, Any]:
        """The settings are checked exactly like the file's (422 with every problem); the
        `Location` header names the new integration's settings. The workspace file is not
        written: `leadsync export` gives the YAML that now matches the database."""
        result = workspace.add_integration(request.name, request.settings, by=API_ACTOR)
        response.headers["Location"] = f"/api/integrations/{request.name}/settings"
        return integration_to_dict(result)

    @router.get("/integrations/{name}/users", summary="An integration's external users")
    def list_users(name: str) -> list[ExternalUser]:
        """Learned from payloads and user events, plus the configured directory and map."""
        return [ExternalUser(**u) for u in workspace.external_users(name)]

    @router.get("/inbox", summary="Inbox rows, newest first")
    def list_inbox(
        status: InboxStatus | None = None,
        integration: IntegrationFilter = None,
        limit: PageLimit = 100,
        before: Before = None,
    ) -> list[InboxRow]:
        """A page: the next is `before` the last row's `seq`. An `integration` neither
        configured nor with rows here is 400, naming the configured ones."""
        known(integration)
        rows = listings.inbox_rows(workspace.engine, status, integration, limit, before)
        return [InboxRow(**row) for row in rows]

    @router.get("/inbox/counts", summary="Inbox rows by integration and status, and the lag")
    def inbox_counts() -> InboxCounts:
        lag = workspace.inbox_lag()
        return InboxCounts(
            counts=[InboxCount(**c) for c in workspace.inbox_counts()],
            pending=lag.pending,
            oldest_pending_at=lag.oldest_pending_at,
            lag_s=lag.lag_s,
        )

    @router.get("/dead-letters", summary="Dead letters, newest first")
    def list_dead_letters(
        integration: IntegrationFilter = None,
        limit: PageLimit = 100,
        include_resolved: bool = False,
        before: Before = None,
    ) -> list[DeadLetter]:
        """A page: the next is `before` the last letter's `id`. An `integration` neither
        configured nor with rows here is 400, naming the configured ones."""
        known(integration)
        engine = workspace.engine
        rows = listings.dead_letters(engine, integration, limit, include_resolved, before)
        return [DeadLetter(**row) for row in rows]

    @router.get("/dead-letters/count", summary="How many dead letters are open")
    def count_dead_letters(integration: IntegrationFilter = None) -> Count:
        """An `integration` neither configured nor with rows here is 400, naming the
        configured ones."""
        known(integration)
        return Count(count=workspace.dead_letter_count(integration))

    @router.get(
        "/dead-letters/{letter_id}",
        summary="One dead letter",
        responses={404: PROBLEM_RESPONSES[404]},
    )
    def get_dead_letter(letter_id: PositiveId) -> DeadLetter:
        """Where it came from, why it failed, its state, and its body as kept (secrets
        redacted): `leadsync dead-letters show ID --json`."""
        return DeadLetter(**workspace.dead_letter(letter_id))

    def proposed(name: str, data: dict[str, Any]) -> IntegrationSettings:
        """The body's settings: a whole workspace replaces the integration's, anything else
        is merged over them (as ``--settings`` files are)."""
        return workspace.proposed_settings_from_data(name, data).settings

    def configured(name: str) -> None:
        """The body's integration: an unknown one is a 400 naming the field, not a 404."""
        try:
            workspace.integration(name)
        except NotFoundError as exc:
            raise UserError(f"body.integration: {exc}") from None

    @router.post(
        "/preview",
        summary="What events would do (nothing is written)",
        responses={422: PROBLEM_RESPONSES[400] | {"description": "Invalid settings"}},
    )
    def post_preview(request: PreviewRequest) -> PreviewResult:
        """Records matched or created, owner decisions with reasons, activities created or
        skipped, associations — decided by the real engine in a transaction rolled back:
        the JSON of `leadsync preview --json`."""
        configured(request.integration)
        lines = [e if isinstance(e, str) else json.dumps(e) for e in request.events]
        settings = (
            None if request.settings is None else proposed(request.integration, request.settings)
        )
        return workspace.preview(request.integration, lines, "<request>", request.sample, settings)

    @router.post(
        "/replay",
        summary="The inbox decided again under proposed settings, and the difference",
        responses={422: PROBLEM_RESPONSES[400] | {"description": "Invalid settings"}},
    )
    def post_replay(request: ReplayRequest) -> ReplayResult:
        """The JSON of `leadsync replay --json`: owners that would differ (with both
        reasons), activities that would appear or disappear, associations."""
        configured(request.integration)
        settings = proposed(request.integration, request.settings)
        since = since_ts(request.since) if request.since is not None else None
        return workspace.replay(request.integration, settings, since)

    @router.get("/report", summary="The health report")
    def get_report(
        since: Annotated[str, Query(description=SINCE, min_length=1)] = "7d",
    ) -> Report:
        """The JSON of `leadsync report --json`; `alerts` counts the findings that fire."""
        return workspace.report(since_ts(since))

    @router.post(
        "/dead-letters/{letter_id}/retry",
        summary="Retry a dead letter",
        dependencies=[Depends(takes_no_body)],
        responses={
            409: PROBLEM_RESPONSES[400] | {"description": "Already retried or dismissed"},
            422: PROBLEM_RESPONSES[400]
            | {"description": "Still cannot be read: why, and how to dismiss it (nothing changed)"},
        },
    )
    def retry_dead_letter(letter_id: PositiveId) -> RetryResult:
        """Back into the inbox under the current settings; the worker applies it, and an event
        that fails again becomes a new dead letter. The dead letter is kept, marked resolved.
        A line or request that never reached the inbox is read again first: when it still
        cannot be read, 422 saying why (and that it can be dismissed) and nothing changes."""
        try:
            result = workspace.retry_dead_letter(letter_id, by=ADMIN_API)
        except LeadsyncError as exc:  # the way out for this API, not the CLI's
            hint = dismiss_hint(letter_id)
            if hint not in str(exc):
                raise
            api_hint = f"dismiss it with POST /api/dead-letters/{letter_id}/dismiss"
            raise ProblemError(
                exc.http_status, exc.title, str(exc).replace(hint, api_hint)
            ) from None
        if on_requeue is not None:
            on_requeue()
        return result

    @router.post(
        "/dead-letters/{letter_id}/dismiss",
        summary="Dismiss a dead letter that cannot be fixed",
        responses={409: PROBLEM_RESPONSES[400] | {"description": "Already retried or dismissed"}},
    )
    def dismiss_dead_letter(letter_id: PositiveId, request: DismissRequest) -> DeadLetter:
        """The letter is kept, listed as dismissed with the reason, who and when, and no
        longer counts in the report's dead-letter check: `leadsync dead-letters dismiss`."""
        who = f"{request.by} via {ADMIN_API}" if request.by else ADMIN_API
        workspace.dismiss_dead_letters([letter_id], request.reason, who)
        return DeadLetter(**workspace.dead_letter(letter_id))

    @router.get("/review", summary="The review queue, oldest first")
    def list_review(
        status: ReviewStatus = "open",
        kind: ReviewKind | None = None,
        integration: IntegrationFilter = None,
        limit: PageLimit = PAGE,
        after: After = None,
    ) -> ReviewPage:
        """Questions the engine would not guess (a number or an email several contacts
        have, tied open deals, a rep matching several owners, a held activity whose hold
        ended), each with its candidates and why each matched; `open` counts the whole
        queue. The JSON of `leadsync review list --json`. An `integration` neither
        configured nor with rows here is 400, naming the configured ones."""
        known(integration)
        return workspace.review_items(
            None if status == "all" else status,
            kind=kind,
            integration=integration,
            limit=limit,
            after=after,
        )

    @router.get("/review/{item_id}", summary="A review question with its activity")
    def get_review_item(item_id: PositiveId) -> ReviewItem:
        """The question, its candidates, the activity it is about (as stored) and, once
        answered, who answered, the choice and what it did: `leadsync review show --json`."""
        return workspace.review_item(item_id)

    @router.post(
        "/review/{item_id}/resolve",
        summary="Answer a review question",
        responses={
            400: PROBLEM_RESPONSES[400]
            | {
                "description": "Not a record of the type the question asks for (or not an "
                "active owner)"
            },
            409: PROBLEM_RESPONSES[400]
            | {
                "description": "Already answered, or the workspace is managed by file (a rep's "
                "question saves a users.map entry)"
            },
        },
    )
    def resolve_review(
        item_id: PositiveId,
        answer: Annotated[
            Answer,
            Body(
                openapi_examples={
                    "choose": {"summary": "Choose a record", "value": {"choose": "41"}},
                    "skip": {"summary": "Leave it without a record", "value": {"skip": True}},
                }
            ),
        ],
    ) -> Resolution:
        """The choice is applied through the engine — the activity attached to the record,
        then what the association rules add for it; for a rep's question, a `users.map`
        entry saved like any settings change — and recorded as resolved by a person (the
        admin API). `applied` says what was done: `leadsync review resolve --json`."""
        if isinstance(answer, ChooseAnswer):
            return workspace.resolve_review(item_id, choose=str(answer.choose), by=API_ACTOR)
        return workspace.resolve_review(item_id, skip=True, by=API_ACTOR)

    lookups.add_routes(router, workspace)
    lines.add_routes(router, workspace)
    rollout.add_routes(router, workspace)
    push.add_routes(router, workspace)
    test_lead.add_routes(router, workspace)
    return router
