"""The review queue: the questions the engine would not guess, a page at a time (filters:
state, kind, integration; keyset pages), each with its candidates to choose from, a free
"other record" field, and skip (:meth:`Workspace.review_items`,
:meth:`Workspace.resolve_review`). Answering shows what the engine applied.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Path, Query, Response

from leadsync.ops.review import PAGE, STATUSES, Resolution, ReviewItem
from leadsync.rules.counterparts import KINDS

from .console import Changing, Page, Refused, Viewing, page_router
from .settings_page import actor

router = page_router()

ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ALL = "all"


@router.get("/review")
def review_list(
    page: Viewing,
    status: str = "open",
    kind: str = "",
    integration: str = "",
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
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
        integrations=sorted(ws.rules().integrations),
        state=status or ALL,  # (``status`` is the response's)
        kind=kind,
        integration=integration,
        after=after,
        owners=ws.owner_names(),
    )


@router.get("/review/{item_id}")
def review_item_page(page: Viewing, item_id: ItemId) -> Response:
    return _item_page(page, page.workspace.review_item(item_id), None)


@router.post("/review/{item_id}/resolve")
def resolve(
    page: Changing,
    item_id: ItemId,
    choice: Annotated[str, Form(max_length=200)] = "",
    other: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """A candidate (``choice``) or another record's id (``other``), not both; the question's
    page then shows what the engine applied."""
    picked, typed = choice.strip(), other.strip()
    if picked and typed and picked != typed:
        raise Refused(
            400,
            "Two answers",
            f"Review item {item_id}: pick a candidate or type another record's id, not both "
            "(nothing was changed).",
        )
    chosen = typed or picked
    if not chosen:
        raise Refused(
            400,
            "No answer",
            f"Review item {item_id}: pick a candidate or type another record's id, or skip "
            "it (nothing was changed).",
        )
    resolution = page.workspace.resolve_review(item_id, choose=chosen, by=actor(page))
    return _item_page(page, resolution.item, resolution)


@router.post("/review/{item_id}/skip")
def skip(page: Changing, item_id: ItemId) -> Response:
    """Leave it without a record; the question's page then says so."""
    resolution = page.workspace.resolve_review(item_id, skip=True, by=actor(page))
    return _item_page(page, resolution.item, resolution)


def _item_page(page: Page, item: ReviewItem, resolution: Resolution | None) -> Response:
    return page.render(
        "review_item.html",
        item=item,
        resolution=resolution,
        owners=page.workspace.owner_names(),
    )
