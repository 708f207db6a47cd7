"""``GET /health``: the health dashboard — the report's checks as cards that link to the
records behind them, and charts per day drawn by ``static/charts.js`` (uPlot) from the same
numbers the page lists as tables (:meth:`Workspace.dashboard`), as of the service's health
snapshot (see :mod:`.health_snapshot`)."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from leadsync.ops.snapshot import HealthSnapshot

from .console import Viewing, page_router

router = page_router()

#: Owner changes listed under a flapping record (the latest; the record's page has them all).
HISTORY_SHOWN = 10


def flapping_rows(snapshot: HealthSnapshot) -> list[dict[str, Any]]:
    """The report's flapping records as ``leadsync report`` lists them: each with its count,
    who changed it (``by``) and its latest owner changes (``history``, ``earlier`` left
    out)."""
    return [
        {
            **row,
            "history": row["history"][-HISTORY_SHOWN:],
            "earlier": len(row["history"][:-HISTORY_SHOWN]),
        }
        for finding in snapshot.report.findings
        if finding.check == "owner_flapping"
        for row in finding.rows
    ]


@router.get("/health")
def dashboard_page(page: Viewing) -> Response:
    snapshot = page.console.health_snapshot()
    if snapshot is None:
        return page.render("snapshot_pending.html", heading="Health", back="/health")
    return page.render(
        "dashboard.html",
        dashboard=page.workspace.dashboard(snapshot=snapshot),
        flapping=flapping_rows(snapshot),
        owners=page.workspace.owner_names(),
        snapshot=snapshot,
        refreshing=page.console.refreshing,
        back="/health",
    )
