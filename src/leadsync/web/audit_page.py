"""``GET /audit``: who changed the configuration, what and when, newest first, a page at a
time (:meth:`Workspace.audit_log`). An entry links to its integration's settings while it is
configured; one removed since is named, marked removed, without a link."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from .console import Viewing, page_router

router = page_router()


@router.get("/audit")
def audit_log_page(
    page: Viewing,
    before: Annotated[int | None, Query(ge=1)] = None,
    integration: str | None = None,
) -> Response:
    ws = page.workspace
    return page.render(
        "audit_log.html",
        log=ws.audit_log(before, integration or None),
        before=before,
        integration=integration or "",
        integrations=sorted(ws.rules().integrations),
    )
