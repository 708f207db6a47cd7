"""The test lead: run it for an integration and a rep, see each check pass or fail
(:meth:`Workspace.test_lead`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Response

from . import flash
from .console import Changing, Viewing, page_router

router = page_router()


#: ``done`` after the test records were removed (the redirect of the button's POST).
CLEANED = "cleaned"


@router.get("/test-lead")
def test_lead_form(
    page: Viewing, integration: str | None = None, done: str | None = None
) -> Response:
    ws = page.workspace
    names = sorted(ws.rules().integrations)
    chosen = integration if integration in names else (names[0] if names else None)
    cleaned = flash.message(page) if done == CLEANED else None
    response = page.render(
        "test_lead.html",
        integrations=names,
        integration=chosen,
        reps=ws.external_users(chosen) if chosen else [],
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
    return page.render("test_lead_reps.html", reps=page.workspace.external_users(integration))


@router.post("/test-lead")
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
        reps=ws.external_users(integration),
        rep=rep,
        result=result,
    )
