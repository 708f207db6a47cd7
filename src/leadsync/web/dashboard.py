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


def _rows(snapshot: HealthSnapshot, check: str) -> list[dict[str, Any]]:
    return [row for f in snapshot.report.findings if f.check == check for row in f.rows]


def unowned_rows(snapshot: HealthSnapshot) -> list[dict[str, Any]]:
    """The report's unowned new leads per integration (the one that created them; None: no
    integration) and why, as ``leadsync report`` lists them (the records it names are the
    card's links)."""
    return [row for row in _rows(snapshot, "unowned_new_leads") if "record" not in row]


def unmapped_rows(snapshot: HealthSnapshot) -> list[dict[str, Any]]:
    """The report's unmapped external users, one per integration and user, as ``leadsync
    report`` lists them: events, last seen, and how the mapping found no owner."""
    return _rows(snapshot, "unmapped_external_users")


@router.get("/health")
def dashboard_page(page: Viewing) -> Response:
    snapshot = page.console.health_snapshot()
    if snapshot is None:
        return page.render("snapshot_pending.html", heading="Health", back="/health")
    return page.render(
        "dashboard.html",
        dashboard=page.workspace.dashboard(snapshot=snapshot),
        flapping=flapping_rows(snapshot),
        unowned=unowned_rows(snapshot),
        unmapped=unmapped_rows(snapshot),
        configured=set(page.workspace.rules().integrations),
        owners=page.workspace.owner_names(),
        snapshot=snapshot,
        refreshing=page.console.refreshing,
        back="/health",
    )
