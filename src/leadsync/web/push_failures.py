"""Push failures: what the push to HubSpot could not do (HubSpot's refusals, and leadsync's
own reports: not sent, a value HubSpot would not take), one failure's page with the object
it is about, retry and dismiss — as ``leadsync push failures`` does
(:mod:`leadsync.ops.push_status`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query, Response
from fastapi.responses import RedirectResponse
from pydantic import BeforeValidator

from leadsync.errors import NotFoundError
from leadsync.ops import listings
from leadsync.ops.push_status import push_failure, resolve_failures
from leadsync.values import LARGEST_ID, digits_only

from .console import Changing, Viewing, not_done, page_router
from .drafts import keeps_draft

router = page_router()

FailureId = Annotated[int, Path(ge=1, le=LARGEST_ID), BeforeValidator(digits_only)]
SHOWN = 200
# The CLI's hint in the workspace's refusal, and what the console says instead.
_CLI_HINT = "; see `leadsync push failures list`"


@router.get("/push-failures")
def push_failure_list(
    page: Viewing,
    resolved: bool = False,
    before: Annotated[int, Query(ge=0, le=LARGEST_ID), BeforeValidator(digits_only)] = 0,
    done: str | None = None,
) -> Response:
    """A page of failures, newest first (``before``: older than that id), with how many
    are open in all; retry every open one at once."""
    engine = page.workspace.engine
    failures = listings.push_failures(engine, SHOWN, resolved, before)
    return page.render(
        "push_failures.html",
        failures=failures,
        open_count=listings.open_push_failures(engine),
        resolved=resolved,
        before=before,
        older=failures[-1]["id"] if len(failures) == SHOWN else None,
        shown=SHOWN,
        done=done,
    )


@router.post("/push-failures/retry")
def retry_every_one(page: Changing) -> Response:
    """Every open failure's object queued again, as ``push failures retry --all``."""
    count = resolve_failures(page.workspace.engine, None, "retry", by=page.session.who)
    return RedirectResponse(f"/push-failures?done=retried-{count}", status_code=303)


@router.get("/push-failures/{failure_id}")
def push_failure_page(page: Viewing, failure_id: FailureId, done: str | None = None) -> Response:
    """The failure; after a sign-in that kept a dismiss form (:mod:`.drafts`), its reason."""
    draft = page.kept_draft()
    reason = draft.value("reason") if draft is not None else None
    failure = push_failure(page.workspace.engine, failure_id)
    return page.render("push_failure.html", failure=failure, done=done, reason=reason)


def _back(failure_id: int) -> tuple[str, str]:
    return f"/push-failures/{failure_id}", f"Back to push failure #{failure_id}"


@router.post("/push-failures/{failure_id}/retry")
def retry(page: Changing, failure_id: FailureId) -> Response:
    """The object queued again: the next push sends it (and its links) again."""
    try:
        resolve_failures(page.workspace.engine, [failure_id], "retry", by=page.session.who)
    except NotFoundError as exc:  # retried, dismissed or pushed meanwhile
        exc.args = (str(exc).replace(_CLI_HINT, ""),)
        raise not_done(exc, "Not retried", _back(failure_id)) from None
    return RedirectResponse(f"/push-failures/{failure_id}?done=retried", status_code=303)


@router.post("/push-failures/{failure_id}/dismiss")
@keeps_draft
def dismiss(
    page: Changing,
    failure_id: FailureId,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Closed with the reason (the object is not pushed again until its next change);
    without a reason (blank), the failure's page again with the error at the field."""
    if not reason.strip():
        failure = push_failure(page.workspace.engine, failure_id)
        return page.render(
            "push_failure.html",
            400,
            failure=failure,
            reason=reason,
            reason_error="Give the reason it is left as it is: more than spaces (nothing "
            "was changed).",
        )
    try:
        resolve_failures(
            page.workspace.engine, [failure_id], "dismiss", reason.strip(), by=page.session.who
        )
    except NotFoundError as exc:
        exc.args = (str(exc).replace(_CLI_HINT, ""),)
        raise not_done(exc, "Not dismissed", _back(failure_id)) from None
    return RedirectResponse(f"/push-failures/{failure_id}?done=dismissed", status_code=303)
