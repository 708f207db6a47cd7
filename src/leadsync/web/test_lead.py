"""The test lead: run it for an integration and a rep, see each check pass or fail
(:meth:`Workspace.test_lead`).

The rep picker offers the integration's external users; for the CRM itself (kind
``hubspot``), whose reps are owner ids and which has no external users, the workspace's
active owners, and the page says so."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Form, Response

from leadsync.workspace import Workspace

from . import flash
from .console import Changing, Viewing, page_router
from .drafts import keeps_draft

router = page_router()


#: ``done`` after the test records were removed (the redirect of the button's POST).
CLEANED = "cleaned"


def rep_choices(ws: Workspace, integration: str | None) -> dict[str, Any]:
    """What the rep picker offers for ``integration``: ``reps`` (id, name, what each is) and
    ``crm`` — the integration is the CRM, its reps are owner ids: the active owners."""
    if integration is None:
        return {"reps": [], "crm": False, "kind": None}
    settings = ws.integration(integration)
    if not settings.is_crm:
        users = ws.external_users(integration)
        reps = [
            {"id": u["id"], "name": u["name"] or u["email"], "what": u["status"]} for u in users
        ]
        return {"reps": reps, "crm": False, "kind": settings.kind}
    names = ws.owner_names()
    owners = [o for o in ws.owners() if o["active"] and not o["archived"]]
    reps = [{"id": o["id"], "name": names.get(o["id"]), "what": "owner"} for o in owners]
    return {"reps": reps, "crm": True, "kind": settings.kind}


@router.get("/test-lead")
def test_lead_form(
    page: Viewing, integration: str | None = None, done: str | None = None
) -> Response:
    ws = page.workspace
    names = sorted(ws.rules().integrations)
    draft = page.kept_draft()  # a test lead's form kept through a sign-in (.drafts): not run
    if draft is not None:
        integration = draft.value("integration")
    chosen = integration if integration in names else (names[0] if names else None)
    cleaned = flash.message(page) if done == CLEANED else None
    response = page.render(
        "test_lead.html",
        integrations=names,
        integration=chosen,
        **rep_choices(ws, chosen),
        rep=draft.value("rep") if draft is not None else None,
        result=None,
        cleaned=" ".join(cleaned) if cleaned else None,
    )
    return flash.shown(page, response)


@router.post("/test-lead/cleanup")
def cleanup(page: Changing) -> Response:
    """Every test lead and test call removed (``leadsync test-lead --cleanup``); the page
    again, saying how many."""
    removed = page.workspace.cleanup_test_leads()
    records, calls = removed["records"], removed["activities"]
    said = (
        f"Removed {records} test record{'' if records == 1 else 's'} and {calls} test "
        f"activit{'y' if calls == 1 else 'ies'}."
    )
    return flash.redirect_with(page, "/test-lead", f"done={CLEANED}", [said])


@router.get("/test-lead/reps")
def rep_options(page: Viewing, integration: str) -> Response:
    """The rep choices of one integration (htmx swaps them in when the integration changes)."""
    return page.render(
        "test_lead_reps.html", integration=integration, **rep_choices(page.workspace, integration)
    )


@router.post("/test-lead")
@keeps_draft
def run_test_lead(
    page: Changing,
    integration: Annotated[str, Form(min_length=1, max_length=63)],
    rep: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    ws = page.workspace
    result = ws.test_lead(integration, rep.strip())
    if page.request.headers.get("hx-request") == "true":
        return page.render("test_lead_result.html", result=result, integration=integration, rep=rep)
    names = sorted(ws.rules().integrations)
    return page.render(
        "test_lead.html",
        integrations=names,
        integration=integration,
        **rep_choices(ws, integration),
        rep=rep,
        result=result,
    )
