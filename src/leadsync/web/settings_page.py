"""An integration's settings page: one section per concern, the change previewed (the replay
of the last 30 days and the YAML diff) before it is saved, promote/abort of a staged rollout.

The form becomes proposed settings by :func:`~leadsync.ops.settings_form.change_from_form`,
read like the admin API's proposed settings; saving is :meth:`Workspace.replace_integration`
(the API's PUT), with the preview's fingerprint, so what is saved is what was previewed, and
the session is recorded in the audit log (its role and a digest of its id, never a secret).
"""

from __future__ import annotations

import hashlib
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from leadsync.ops.settings_change import Actor
from leadsync.ops.settings_form import Form as FormFields
from leadsync.ops.settings_form import change_from_form
from leadsync.settings import integration_to_dict
from leadsync.values import since_ts

from .console import Changing, Page, Viewing, is_htmx, page_router

router = page_router()

#: How far back the preview replays the inbox.
REPLAYED = "30d"


async def form_fields(request: Request) -> FormFields:
    """Every field of the submitted form with all its values (ticked boxes repeat a name)."""
    form = await request.form()
    return {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}


Fields = Annotated[FormFields, Depends(form_fields)]


def actor(page: Page) -> Actor:
    """The session as the audit log names it: role, credential kind, a digest of its id."""
    digest = hashlib.sha256(page.session.sid.encode()).hexdigest()[:8]
    return Actor(page.session.role, f"{page.session.who} · session {digest}")


def _settings_url(name: str, done: str | None = None) -> str:
    return f"/integrations/{quote(name, safe='')}/settings" + (f"?done={done}" if done else "")


def _redirect(page: Page, url: str) -> Response:
    """After a change, the page again: a redirect, or for htmx (the save button submits the
    htmx form) a whole-page navigation instead of a swap."""
    if is_htmx(page.request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


@router.get("/integrations/{name}/settings")
def settings_page(page: Viewing, name: str, done: str | None = None) -> Response:
    ws = page.workspace
    form = ws.settings_form(name)
    webhook_url = f"{page.console.base_url(page.request)}/webhooks/{quote(name, safe='')}"
    return page.render(
        "integration_settings.html", form=form, preview=None, done=done, webhook_url=webhook_url
    )


@router.post("/integrations/{name}/settings/preview")
def preview_change(page: Changing, name: str, fields: Fields) -> Response:
    """Nothing is written: the replay runs in scratch databases. An htmx request gets the
    preview alone (the form stays as edited); a plain post, the page with the form as sent."""
    ws = page.workspace
    proposal = ws.preview_settings_change(name, change_from_form(fields), since_ts(REPLAYED))
    preview, owner_names = proposal.preview, ws.owner_names()
    if is_htmx(page.request):
        return page.render("integration_preview.html", preview=preview, owner_names=owner_names)
    form = ws.settings_form(name, proposal.settings)
    return page.render(
        "integration_settings.html",
        form=form,
        done=None,
        preview=preview,
        owner_names=owner_names,
    )


@router.post("/integrations/{name}/settings")
def save_change(
    page: Changing,
    name: str,
    fields: Fields,
    previewed: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    """The same save as the admin API's PUT; refused (409) when the workspace is managed by
    file or the change is not the one previewed."""
    ws = page.workspace
    proposal = ws.proposed_settings_from_data(name, change_from_form(fields), "<console>")
    data = integration_to_dict(proposal.settings)
    ws.replace_integration(name, data, by=actor(page), previewed=previewed)
    return _redirect(page, _settings_url(name, "saved"))


@router.post("/integrations/{name}/rollout/promote")
def promote(page: Changing, name: str) -> Response:
    """The rollout's settings become the current ones, for every record."""
    page.workspace.rollout_promote(name, by=actor(page))
    return _redirect(page, _settings_url(name, "promoted"))


@router.post("/integrations/{name}/rollout/abort")
def abort(page: Changing, name: str) -> Response:
    """Every record gets the current settings again."""
    page.workspace.rollout_abort(name, by=actor(page))
    return _redirect(page, _settings_url(name, "aborted"))
