"""The health snapshot's line on the integrations and health pages: when the report was
taken, "refresh now" (admin), and the poll that reloads the page once a newer one is ready.

The service takes the report in the background (:mod:`leadsync.ops.snapshot`), so those
pages never wait for it. ``POST /health/refresh`` asks for a snapshot now and answers at
once; ``GET /health/snapshot?shown=T`` is the fragment htmx polls while one is being taken
(``shown``: the snapshot the page shows, empty before the first) — it answers
``HX-Refresh`` once a newer snapshot is ready, and the page reloads with it. Without
JavaScript, the refresh form posts and redirects back.
"""

from __future__ import annotations

from fastapi import Form, Response
from fastapi.responses import RedirectResponse

from .console import Changing, Viewing, is_htmx, page_router, safe_next

router = page_router()


@router.post("/health/refresh")
def refresh_snapshot(page: Changing, next: str = Form("/")) -> Response:
    back = safe_next(next)
    current = page.console.health_snapshot()
    if page.console.snapshots is not None:
        page.console.snapshots.request_refresh()
    if not is_htmx(page.request):
        return RedirectResponse(back, status_code=303)
    return snapshot_status(page, current.taken_at if current is not None else "", back)


@router.get("/health/snapshot")
def snapshot_status(page: Viewing, shown: str = "", back: str = "/") -> Response:
    current = page.console.health_snapshot()
    refreshing = page.console.refreshing
    if current is not None and current.taken_at != shown and not refreshing:
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    return page.render(
        "snapshot_status.html",
        snapshot=current,
        refreshing=refreshing or current is None,
        shown=shown,
        back=safe_next(back),
    )
