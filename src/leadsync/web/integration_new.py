"""``/integrations/new``: adding an integration from the console, so a new admin needs neither
the workspace file nor the API for the first one.

Creating is :meth:`Workspace.add_integration` — the admin API's ``POST /api/integrations``:
checked like the file, refused when the name exists or the workspace is managed by file,
recorded in the audit log. A problem the settings find in a field is shown beside it, in the
settings' own words; then the browser goes to the new integration's settings page, which
shows the webhook URL to paste into the vendor. The secret is never typed here: only the
name of the environment variable that holds it. A kind's ``vendor:`` options are set on that
settings page (its "Vendor options" section, generated from the kind's options model); this
page names the options each kind takes, so that nobody is surprised by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Form, Response

from leadsync.errors import ConfigError, WorkspaceError
from leadsync.settings import INTEGRATION_NAME_RE, SECRET_ENV_RE
from leadsync.settings.base import format_path
from leadsync.sources import KINDS, adapter_class

from .console import Changing, Page, Viewing, page_router
from .drafts import keeps_draft
from .settings_page import _redirect, _settings_url, actor

router = page_router()

#: The form's fields that the settings check, in the page's order.
FIELDS = ("name", "kind", "secret_env")


@dataclass(frozen=True)
class KindChoice:
    """One option of the kind select: the kind, how its adapter checks a webhook, and the
    ``vendor:`` options it takes (set on the settings page once added)."""

    kind: str
    signature_scheme: str
    options: tuple[str, ...]


def kind_choices() -> list[KindChoice]:
    return [
        KindChoice(
            kind,
            adapter_class(kind).signature_scheme,
            tuple(adapter_class(kind).options_model.model_fields),
        )
        for kind in KINDS
    ]


def field_problems(name: str, problems: list[str]) -> dict[str, list[str]]:
    """Each problem of a ConfigError under the form field its key path names (``""``: none
    of them). The settings name the new integration's key ``integrations.NAME`` (a bad name
    itself) and its fields ``integrations.NAME.kind``; the text after the path is theirs."""
    prefixes = {"name": format_path(("integrations", name)) + ": "} | {
        field: format_path(("integrations", name, field)) + ": " for field in FIELDS[1:]
    }
    found: dict[str, list[str]] = {}
    for problem in problems:
        where = problem.partition(": ")[2]  # after the document's name (``<api>``)
        field = next((f for f, p in prefixes.items() if where.startswith(p)), "")
        found.setdefault(field, []).append(where.removeprefix(prefixes.get(field, "")))
    return found


def _form(
    page: Page,
    status: int = 200,
    sent: dict[str, str] | None = None,
    problems: dict[str, list[str]] | None = None,
) -> Response:
    return page.render(
        "integration_new.html",
        status,
        sent=sent or {"name": "", "kind": "", "secret_env": ""},
        problems=problems or {},
        kinds=kind_choices(),
        managed_file=page.workspace.managed_file(),
        name_pattern=INTEGRATION_NAME_RE.pattern,
        secret_env_pattern=SECRET_ENV_RE.pattern,
    )


@router.get("/integrations/new")
def new_integration_page(page: Viewing) -> Response:
    """The form; after a sign-in that kept it (:mod:`.drafts`), as it was sent."""
    if (draft := page.kept_draft()) is not None:
        return _form(page, sent={f: draft.value(f).strip() for f in FIELDS})
    return _form(page)


@router.post("/integrations/new")
@keeps_draft
def create_integration(
    page: Changing,
    # Long bounds: the workspace's own checks say what is wrong beside the field, the form
    # kept as sent (a pasted token in secret_env is refused there without being shown).
    name: Annotated[str, Form(max_length=10_000)] = "",
    kind: Annotated[str, Form(max_length=10_000)] = "",
    secret_env: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    """Created: to its settings page (``done=created``). Invalid: the form again as sent,
    each problem beside its field (422). An existing name or a workspace managed by file:
    the form again with the refusal, which says what to do instead (409)."""
    sent = {"name": name.strip(), "kind": kind, "secret_env": secret_env.strip()}
    data = {"kind": kind} | ({"secret_env": sent["secret_env"]} if sent["secret_env"] else {})
    try:
        page.workspace.add_integration(sent["name"], data, by=actor(page))
    except ConfigError as exc:
        problems = field_problems(sent["name"], exc.problems)
        if problems.get("secret_env"):  # refused, it is often the secret itself: not shown
            sent["secret_env"] = ""
        return _form(page, 422, sent, problems)
    except WorkspaceError as exc:  # a name taken is the name field's problem
        taken = sent["name"] in page.workspace.rules().integrations
        return _form(page, 409, sent, {"name" if taken else "": [str(exc)]})
    return _redirect(page, _settings_url(sent["name"], "created"))
