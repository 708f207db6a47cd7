"""Records: a search by email, domain, name or external id a page at a time
(:meth:`Workspace.search_records`), and a record's page — its owner history with each
reason, its timeline with associations, and what HubSpot has (:meth:`Workspace.record`,
:meth:`Workspace.record_hubspot`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response
from pydantic import BeforeValidator

from leadsync.errors import UserError
from leadsync.model import RecordType
from leadsync.ops.records import SEARCH_BY
from leadsync.rules.associations import why_associated
from leadsync.values import LARGEST_ID, digits_only

from .console import Viewing, page_router

router = page_router()

#: Activities shown on a record's page, newest first.
TIMELINE = 100
RecordId = Annotated[int, Path(ge=1, le=LARGEST_ID), BeforeValidator(digits_only)]


@router.get("/records")
def record_search(
    page: Viewing,
    by: str = "email",
    q: str = "",
    after: Annotated[str | None, Query(max_length=1000)] = None,
    after_id: Annotated[
        int | None, Query(ge=0, le=LARGEST_ID), BeforeValidator(digits_only)
    ] = None,
) -> Response:
    """The form alone until a text is given; a page of matches after it. A text the search
    cannot take (an external id without its integration) shows the form again with the
    error beside the field and the text kept (400)."""
    cursor = (after, after_id) if after is not None and after_id is not None else None
    found, error = None, None
    if q.strip():
        try:
            found = page.workspace.search_records(by, q, cursor)
        except UserError as exc:
            error = str(exc)
    return page.render(
        "records.html",
        400 if error else 200,
        search_by=SEARCH_BY,
        by=by,
        q=q,
        found=found,
        error=error,
        owners=page.workspace.owner_names() if found else {},
    )


@router.get("/records/{record_type}/{record_id}")
def record_page(page: Viewing, record_type: RecordType, record_id: RecordId) -> Response:
    ws = page.workspace
    return page.render(
        "record.html",
        record=ws.record(record_type, record_id, TIMELINE),
        hubspot=ws.record_hubspot(record_id),
        owners=ws.owner_names(),
        shown=TIMELINE,
        why_associated=why_associated,
    )
