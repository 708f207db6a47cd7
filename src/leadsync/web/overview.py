"""``GET /``: every integration at a glance (:meth:`Workspace.overview`), its health badges
from the service's health snapshot (see :mod:`.health_snapshot`)."""

from __future__ import annotations

from fastapi import Response

from .console import Viewing, page_router

router = page_router()


@router.get("/")
def overview_page(page: Viewing) -> Response:
    snapshot = page.console.health_snapshot()
    if snapshot is None:
        return page.render("snapshot_pending.html", heading="Integrations", back="/")
    result = page.workspace.overview(page.console.environ, snapshot=snapshot)
    return page.render(
        "overview.html",
        overview=result,
        base_url=page.console.base_url(page.request),
        snapshot=snapshot,
        refreshing=page.console.refreshing,
        managed_file=page.workspace.managed_file(),
        back="/",
    )
