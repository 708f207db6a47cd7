"""``GET /``: every integration at a glance (:meth:`Workspace.overview`)."""

from __future__ import annotations

from fastapi import Response

from .console import Viewing, page_router

router = page_router()


@router.get("/")
def overview_page(page: Viewing) -> Response:
    result = page.workspace.overview(page.console.environ)
    return page.render(
        "overview.html", overview=result, base_url=page.console.base_url(page.request)
    )
