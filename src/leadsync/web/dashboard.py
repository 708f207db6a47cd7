"""``GET /health``: the health dashboard — the report's checks as cards that link to the
records behind them, and charts per day drawn by ``static/charts.js`` (uPlot) from the same
numbers the page lists as tables (:meth:`Workspace.dashboard`), as of the service's health
snapshot (see :mod:`.health_snapshot`)."""

from __future__ import annotations

from fastapi import Response

from .console import Viewing, page_router

router = page_router()


@router.get("/health")
def dashboard_page(page: Viewing) -> Response:
    snapshot = page.console.health_snapshot()
    if snapshot is None:
        return page.render("snapshot_pending.html", heading="Health", back="/health")
    return page.render(
        "dashboard.html",
        dashboard=page.workspace.dashboard(snapshot=snapshot),
        snapshot=snapshot,
        refreshing=page.console.refreshing,
        back="/health",
    )
