"""Mounting the console on the service: its state, its assets and every page's router."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.staticfiles import StaticFiles

from leadsync.ops.snapshot import SnapshotKeeper
from leadsync.workspace import Workspace

from . import (
    audit_page,
    dashboard,
    dead_letters,
    health_snapshot,
    integration_new,
    overview,
    push_failures,
    records_page,
    review_page,
    rollout_page,
    settings_page,
    signin,
    test_lead,
)
from .auth import Credentials, FailedTries, SessionKeys
from .console import Console, ConsoleOptions, templates
from .html_errors import add_html_errors

STATIC = Path(__file__).parent / "static"
#: Every page module, in the navigation's order; a new page adds its module here.
PAGES = (
    signin,
    overview,
    integration_new,
    settings_page,
    rollout_page,
    records_page,
    review_page,
    dashboard,
    dead_letters,
    push_failures,
    test_lead,
    audit_page,
    health_snapshot,
)


def add_console(
    app: FastAPI,
    workspace: Workspace,
    options: ConsoleOptions,
    *,
    admin_token: str | None,
    public_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    on_requeue: Callable[[], None] | None = None,
    snapshots: SnapshotKeeper | None = None,
    tries: FailedTries | None = None,
) -> None:
    """Serve the console at ``/`` and its assets at ``/static`` on ``app``; ``tries`` counts
    failed sign-ins (the admin API's may share it). Sign-outs, failed tries and kept forms
    are shared with every process of the workspace through its database."""
    credentials = Credentials(admin_token, options.password, options.viewer_token)
    shared = workspace.shared_console
    tries = tries or FailedTries(shared=shared)
    keys = (
        SessionKeys(
            credentials, options.session_secret, options.session_hours, tries=tries, shared=shared
        )
        if options.session_secret
        else SessionKeys.generated(credentials, options.session_hours, tries, shared)
    )
    app.state.console = Console(
        workspace,
        keys,
        templates(),
        shared,
        public_url,
        environ if environ is not None else os.environ,
        on_requeue,
        snapshots,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)
    for page in PAGES:
        app.include_router(page.router)
    add_html_errors(app)


#: The console's icon (in the module: the package ships ``static/`` by pattern).
FAVICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="6" fill="#1f4e79"/>'
    '<path d="M9 7h4v14h10v4H9z" fill="#fff"/></svg>'
)


def favicon() -> Response:
    """The console's icon where browsers look for it first (pages link it too)."""
    return Response(
        FAVICON,
        media_type="image/svg+xml",
        headers={"cache-control": "public, max-age=86400"},
    )
