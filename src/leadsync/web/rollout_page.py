"""Promote and abort of an integration's staged rollout, from its settings page
(:mod:`.settings_page`, which shows the rollout and the confirmation).

Both are confirmed: the settings page's button asks for the page with ``?confirm=promote``
(or ``abort``), which shows the keys it changes and the YAML diff
(:func:`~leadsync.ops.rollout.plan`); only that confirmation posts, with the plan's
fingerprint, and a post without one (or with a stale one) gets the confirmation (again)
instead of a change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Response

from leadsync.errors import WorkspaceError
from leadsync.ops import rollout as rollout_ops
from leadsync.ops.rollout import Action

from .console import Changing, Page, is_htmx, not_done, page_router
from .settings_page import _page, _redirect, _settings_url, _whole_page, actor

router = page_router()


def _rollout(page: Page, name: str, action: Action, seen: str | None) -> Response:
    """Promote or abort as confirmed: without the confirmation's fingerprint, the
    confirmation; with one no longer current (the settings changed since), the confirmation
    of what it would change now (409); else done, and the page says so."""
    ws = page.workspace
    if seen is None:
        return _redirect(page, f"{_settings_url(name)}?confirm={action}#rollout-actions")
    back = (_settings_url(name), f"Back to the settings of {name}")
    done = "Not promoted" if action == "promote" else "Not aborted"
    try:
        plan = rollout_ops.plan(ws.engine, name, action)
    except WorkspaceError as exc:  # no rollout now: promoted or aborted meanwhile
        raise not_done(exc, done, back) from None
    if plan.fingerprint != seen:
        form = ws.settings_form(name)
        owner_names = ws.owner_names()
        response = _page(
            page, form, 409, confirm=plan, stale=True, owner_names=owner_names, layout="base.html"
        )
        return _whole_page(response) if is_htmx(page.request) else response
    save = ws.rollout_promote if action == "promote" else ws.rollout_abort
    try:
        rollout_ops.carry_out(ws.engine, name, action, save, actor(page), seen=seen)
    except WorkspaceError as exc:  # changed as it was written, or managed by file since
        raise not_done(exc, done, back) from None
    return _redirect(page, _settings_url(name, "promoted" if action == "promote" else "aborted"))


Seen = Annotated[str | None, Form(max_length=64)]


@router.post("/integrations/{name}/rollout/promote")
def promote(page: Changing, name: str, seen: Seen = None) -> Response:
    """The rollout's settings become the current ones, for every record — once confirmed."""
    return _rollout(page, name, "promote", seen)


@router.post("/integrations/{name}/rollout/abort")
def abort(page: Changing, name: str, seen: Seen = None) -> Response:
    """Every record gets the current settings again — once confirmed."""
    return _rollout(page, name, "abort", seen)
