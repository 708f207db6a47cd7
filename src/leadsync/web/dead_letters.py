"""Dead letters: the list, one letter's body (as stored: secrets already redacted by its
adapter), retry and dismiss — :meth:`Workspace.dead_letters` and its neighbours."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Response
from fastapi.responses import RedirectResponse

from .console import Changing, Viewing, page_router

router = page_router()

LetterId = Annotated[int, Path(ge=1)]
SHOWN = 200


@router.get("/dead-letters")
def dead_letter_list(
    page: Viewing, integration: str | None = None, resolved: bool = False
) -> Response:
    ws = page.workspace
    return page.render(
        "dead_letters.html",
        letters=ws.dead_letters(integration or None, SHOWN, include_resolved=resolved),
        open_count=ws.dead_letter_count(integration or None),
        integrations=sorted(ws.rules().integrations),
        integration=integration or "",
        resolved=resolved,
        shown=SHOWN,
    )


@router.get("/dead-letters/{letter_id}")
def dead_letter_page(page: Viewing, letter_id: LetterId, done: str | None = None) -> Response:
    return page.render("dead_letter.html", letter=page.workspace.dead_letter(letter_id), done=done)


@router.post("/dead-letters/{letter_id}/retry")
def retry(page: Changing, letter_id: LetterId) -> Response:
    """Back into the inbox under the current settings; the service's worker applies it."""
    page.workspace.retry_dead_letter(letter_id, by=page.session.who)
    if page.console.on_requeue is not None:
        page.console.on_requeue()
    return RedirectResponse(f"/dead-letters/{letter_id}?done=retried", status_code=303)


@router.post("/dead-letters/{letter_id}/dismiss")
def dismiss(
    page: Changing,
    letter_id: LetterId,
    reason: Annotated[str, Form(min_length=1, max_length=2000, pattern=r"\S")],
) -> Response:
    """Kept, listed as dismissed with the reason; no longer counted by the report."""
    page.workspace.dismiss_dead_letters([letter_id], reason.strip(), by=page.session.who)
    return RedirectResponse(f"/dead-letters/{letter_id}?done=dismissed", status_code=303)
