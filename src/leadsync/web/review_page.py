"""The review queue: the questions the engine would not guess, a page at a time (filters:
state, kind, integration; keyset pages), each with its candidates to choose from, a free
"other record" field, and skip (:meth:`Workspace.review_items`,
:meth:`Workspace.resolve_review`). Answering shows what the engine applied, linking the
record chosen; a refused answer shows the question again with why and what was typed. Both
by post/redirect/get (:mod:`.flash`): a reload posts nothing again.
"""

from __future__ import annotations

import enum
from typing import Annotated

from fastapi import Form, Path, Query, Response
from pydantic import BeforeValidator

from leadsync.errors import UserError, WorkspaceError
from leadsync.model import RecordType
from leadsync.ops.review import PAGE, STATUSES, Resolution, ReviewItem
from leadsync.rules.counterparts import KINDS
from leadsync.values import LARGEST_ID, digits_only

from . import flash
from .console import Changing, Page, Refused, Viewing, filter_integrations, page_router
from .drafts import keeps_draft
from .settings_page import actor

router = page_router()

ItemId = Annotated[int, Path(ge=1, le=LARGEST_ID), BeforeValidator(digits_only)]
ALL = "all"


class Done(enum.StrEnum):
    """What the question's page says was just done (the answer's redirect)."""

    RESOLVED = "resolved"
    SKIPPED = "skipped"
    #: An answer refused: why and what was sent are left by the redirect.
    REFUSED = "refused"


@router.get("/review")
def review_list(
    page: Viewing,
    status: str = "open",
    kind: str = "",
    integration: str = "",
    after: Annotated[int | None, Query(ge=0, le=LARGEST_ID), BeforeValidator(digits_only)] = None,
) -> Response:
    """A page of questions, oldest first; a filter left empty (or ``all``) takes every one.
    A state the page does not offer is refused with the ones it does."""
    if status not in (*STATUSES, ALL, ""):
        raise Refused(
            400,
            "Invalid address",
            "In the address /review, the query parameter status is not one of those allowed; "
            f"allowed: {', '.join((*STATUSES, ALL))}.",
        )
    ws = page.workspace
    found = ws.review_items(
        None if status in (ALL, "") else status,
        kind=kind or None,
        integration=integration or None,
        limit=PAGE,
        after=after,
    )
    return page.render(
        "review.html",
        found=found,
        statuses=(*STATUSES, ALL),
        kinds=KINDS,
        integrations=filter_integrations(ws, "review_items"),
        configured=set(ws.rules().integrations),
        state=status or ALL,  # (``status`` is the response's)
        kind=kind,
        integration=integration,
        after=after,
        owners=ws.owner_names(),
    )


@router.get("/review/{item_id}")
def review_item_page(
    page: Viewing,
    item_id: ItemId,
    done: Annotated[Done | None, Query()] = None,
    record: Annotated[RecordType | None, Query()] = None,
) -> Response:
    """The question; after an answer (``done``), what was applied (left by the answer's
    redirect, else the question's stored outcome) and a link to the record chosen (its type
    is ``record``, given by the answer's redirect; else the candidate's); after a refused
    answer, why beside the form, with what was sent (left by the redirect)."""
    item = page.workspace.review_item(item_id)
    # An answer kept through a sign-in (.drafts), to a question still open: shown, not sent.
    if item.status == "open" and done is None and (draft := page.kept_draft()) is not None:
        kept = {"picked": draft.value("choice").strip(), "typed": draft.value("other")}
        return _item_page(page, item, None, answer=kept)
    if done is Done.REFUSED:
        why = flash.message(page)
        sent = flash.kept(page)
        answer = (
            {
                "answer_error": " ".join(why),
                "picked": sent.get("picked", ""),
                "typed": sent.get("typed", ""),
            }
            if why
            else {}
        )
        return flash.shown(page, _item_page(page, item, None, answer=answer))
    applied = _applied_shown(page, item) if done is not None else None
    chosen = _chosen(item, record) if applied is not None else None
    return flash.shown(page, _item_page(page, item, applied, chosen=chosen))


@router.post("/review/{item_id}/resolve")
@keeps_draft
def resolve(
    page: Changing,
    item_id: ItemId,
    choice: Annotated[str, Form(max_length=200)] = "",
    other: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A candidate (``choice``) or another record's id (``other``), not both; then the
    question's page (a redirect) shows what the engine applied. A wrong answer: the
    question's page again (a redirect too) with the error beside the form and what was
    typed kept."""
    picked, typed = choice.strip(), other.strip()
    problem = None
    if picked and typed and picked != typed:
        problem = "Pick a candidate or type another record's id, not both (nothing was changed)."
    elif not (typed or picked):
        problem = (
            "Pick a candidate or type another record's id, or skip the question "
            "(nothing was changed)."
        )
    if problem is None:
        try:
            resolution = page.workspace.resolve_review(
                item_id, choose=typed or picked, by=actor(page)
            )
        except UserError as exc:  # a wrong answer, not a closed or unknown question
            problem = f"{exc} (nothing was changed)."
        else:
            return _answered(page, resolution, Done.RESOLVED)
    sent = {"picked": picked, "typed": other}
    return flash.redirect_with(page, _item_url(item_id), f"done={Done.REFUSED}", [problem], sent)


@router.post("/review/{item_id}/skip")
def skip(page: Changing, item_id: ItemId) -> Response:
    """Leave it without a record; the question's page (a redirect) then says so. Closed
    meanwhile (answered in another tab): the question's page with why, as a refused answer
    is shown."""
    try:
        resolution = page.workspace.resolve_review(item_id, skip=True, by=actor(page))
    except WorkspaceError as exc:
        why = [f"{exc} (nothing was changed)."]
        return flash.redirect_with(page, _item_url(item_id), f"done={Done.REFUSED}", why)
    return _answered(page, resolution, Done.SKIPPED)


def _item_url(item_id: int) -> str:
    return f"/review/{item_id}"


def _answered(page: Page, resolution: Resolution, done: Done) -> Response:
    """Post/redirect/get: the question's page, with what was applied for it."""
    url = _item_url(resolution.item.id)
    query = f"done={done.value}"
    if resolution.record is not None:
        query += f"&record={resolution.record.type}"
    return flash.redirect_with(page, url, query, resolution.applied)


def _chosen(item: ReviewItem, record: RecordType | None) -> tuple[str, int] | None:
    """The record the question was answered with, as (type, id): the type the answer's
    redirect gave, else the candidate's; None for a rep's question or an unknown type."""
    if item.kind == "owner" or not item.choice:
        return None
    try:
        record_id = int(item.choice)
    except ValueError:
        return None
    if record is not None:
        return record.value, record_id
    listed = [c.record_type for c in item.candidates if c.record_id == record_id]
    return (listed[0], record_id) if listed and listed[0] else None


def _applied_shown(page: Page, item: ReviewItem) -> list[str] | None:
    """What the answer applied (left by its redirect), else the question's outcome; None
    while it is still open."""
    if item.status == "open":
        return None
    return flash.message(page) or ([item.outcome] if item.outcome else [])


def _item_page(
    page: Page,
    item: ReviewItem,
    applied: list[str] | None,
    chosen: tuple[str, int] | None = None,
    answer: dict[str, str] | None = None,
) -> Response:
    return page.render(
        "review_item.html",
        item=item,
        applied=applied,
        chosen=chosen,
        owners=page.workspace.owner_names(),
        answer=answer or {},
    )
