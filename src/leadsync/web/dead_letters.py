"""Dead letters: the list, one letter's body (as stored: secrets already redacted by its
adapter), retry and dismiss — :meth:`Workspace.dead_letters` and its neighbours."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Response
from fastapi.responses import RedirectResponse
from pydantic import BeforeValidator

from leadsync.errors import LeadsyncError, WorkspaceError
from leadsync.ops.deadletters import dismiss_hint
from leadsync.values import LARGEST_ID, digits_only

from . import flash
from .console import (
    Changing,
    Refused,
    Viewing,
    filter_integrations,
    is_htmx,
    not_done,
    page_router,
)
from .drafts import keeps_draft

router = page_router()

LetterId = Annotated[int, Path(ge=1, le=LARGEST_ID), BeforeValidator(digits_only)]
SHOWN = 200
#: ``done`` after a refused retry: the letter's page shows why (left by the redirect).
REFUSED = "refused"


@router.get("/dead-letters")
def dead_letter_list(
    page: Viewing, integration: str | None = None, resolved: bool = False
) -> Response:
    ws = page.workspace
    letters = ws.dead_letters(integration or None, SHOWN, include_resolved=resolved)
    return page.render(
        "dead_letters.html",
        letters=letters,
        open_count=ws.dead_letter_count(integration or None),
        integrations=filter_integrations(ws, "dead_letters"),
        configured=set(ws.rules().integrations),
        integration=integration or "",
        resolved=resolved,
        shown=SHOWN,
    )


def _back(letter_id: int) -> tuple[str, str]:
    """The link back from a refused retry or dismiss: the letter's page, as it is now."""
    return f"/dead-letters/{letter_id}", f"Back to dead letter #{letter_id}"


@router.get("/dead-letters/{letter_id}")
def dead_letter_page(page: Viewing, letter_id: LetterId, done: str | None = None) -> Response:
    """The letter; after a sign-in that kept a dismiss form (:mod:`.drafts`), its reason."""
    letter = page.workspace.dead_letter(letter_id)
    kept = flash.message(page) if done == REFUSED else None
    refused = " ".join(kept) if kept else None
    shown = None if done == REFUSED else done
    draft = page.kept_draft()
    reason = draft.value("reason") if draft is not None else None
    response = page.render(
        "dead_letter.html", letter=letter, done=shown, refused=refused, reason=reason
    )
    return flash.shown(page, response)


#: What the console says instead of the workspace's dismiss hint (the CLI's command): the
#: form on the letter's page (shown with it).
FORM_DISMISS = "dismiss it with the Dismiss form on this page (give the reason it cannot be fixed)"


@router.post("/dead-letters/{letter_id}/retry")
def retry(page: Changing, letter_id: LetterId) -> Response:
    """Back into the inbox under the current settings; the service's worker applies it.
    When it cannot be retried, the letter's page again with why, pointing to its Dismiss
    form (not to the CLI) and nothing changed."""
    try:
        page.workspace.retry_dead_letter(letter_id, by=page.session.who)
    except WorkspaceError as exc:  # retried or dismissed meanwhile (from another tab)
        raise not_done(exc, "Not retried", _back(letter_id)) from None
    except LeadsyncError as exc:
        hint = dismiss_hint(letter_id)
        if hint not in str(exc):
            raise
        why = str(exc).replace(hint, FORM_DISMISS)
        if is_htmx(page.request):  # shown in the page's messages, above the form
            raise Refused(exc.http_status, exc.title, why) from None
        # Post/redirect/get: the letter's own address, with why (reload re-posts nothing).
        return flash.redirect_with(page, f"/dead-letters/{letter_id}", f"done={REFUSED}", [why])
    if page.console.on_requeue is not None:
        page.console.on_requeue()
    return RedirectResponse(f"/dead-letters/{letter_id}?done=retried", status_code=303)


@router.post("/dead-letters/{letter_id}/dismiss")
@keeps_draft
def dismiss(
    page: Changing,
    letter_id: LetterId,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Kept, listed as dismissed with the reason; no longer counted by the report. Without
    a reason (blank), the letter's page again with the error at the field."""
    if not reason.strip():
        letter = page.workspace.dead_letter(letter_id)
        return page.render(
            "dead_letter.html",
            400,
            letter=letter,
            refused=None,
            reason=reason,
            reason_error="Give the reason it cannot be fixed: more than spaces (nothing "
            "was changed).",
        )
    try:
        page.workspace.dismiss_dead_letters([letter_id], reason.strip(), by=page.session.who)
    except WorkspaceError as exc:  # retried or dismissed meanwhile (from another tab)
        raise not_done(exc, "Not dismissed", _back(letter_id)) from None
    return RedirectResponse(f"/dead-letters/{letter_id}?done=dismissed", status_code=303)
