"""Adding an integration from the console (``/integrations/new``).

Over plain HTTP on SQLite and PostgreSQL: a created integration is audited as the session's
and leads to its settings page with the webhook URL; a post without the session's form
token, an existing name and a workspace managed by file are refused with nothing created.
In Debian's Chromium: an admin adds one from the integrations page and lands on its
settings; a bad name is shown beside its field; a viewer gets the control disabled and a
post refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.ops.settings_change import Actor, ManagedBy
from leadsync.web.integration_new import field_problems
from leadsync.workspace import Workspace
from tests.browser import (
    PASSWORD,
    VIEWER_TOKEN,
    WIDE,
    console_server,
    form_token,
    sign_in,
    signed_in,
)
from tests.helpers import settings, workspace_config
from tests.live import ADMIN_TOKEN, LiveServer

NEW = "/integrations/new"
EMEA = {"name": "aircall-emea", "kind": "aircall", "secret_env": "AIRCALL_EMEA_TOKEN"}


def configured(ws: Workspace) -> Workspace:
    ws.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
    return ws


def test_each_settings_problem_goes_beside_the_field_its_path_names() -> None:
    problems = [
        "<api>: integrations[\"Bad Name\"]: 'Bad Name' is not a valid integration name",
        "<api>: integrations[\"Bad Name\"].secret_env: '1X' is not an environment variable name",
        "<api>: owners[0].email: something else",
    ]
    assert field_problems("Bad Name", problems) == {
        "name": ["'Bad Name' is not a valid integration name"],
        "secret_env": ["'1X' is not an environment variable name"],
        "": ["owners[0].email: something else"],
    }


# ------------------------------------------------------- plain HTTP, both databases


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(configured(workspace)) as server:
        yield server


@pytest.fixture
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        yield signed_in(client, PASSWORD)


def token(client: httpx.Client) -> str:
    return form_token(client.get(NEW).text, NEW)


def test_an_added_integration_is_audited_and_leads_to_its_webhook_url(
    workspace: Workspace, live: LiveServer, admin: httpx.Client
) -> None:
    created = admin.post(NEW, data={**EMEA, "csrf_token": token(admin)})
    assert created.status_code == 303
    assert created.headers["location"] == "/integrations/aircall-emea/settings?done=created"
    added = workspace.integration("aircall-emea")
    assert (added.kind, added.secret_env) == ("aircall", "AIRCALL_EMEA_TOKEN")
    [entry] = workspace.audit_log().entries
    assert entry.integration == "aircall-emea" and entry.summary.startswith("created: ")
    assert entry.who.startswith("console (password) · session ")
    page = admin.get(created.headers["location"])
    assert f"{live.base_url}/webhooks/aircall-emea" in page.text.replace("<wbr>", "")  # wraps at /
    assert "Added, and recorded in the audit log" in page.text
    assert "set AIRCALL_EMEA_TOKEN, the environment variable holding its secret" in page.text

    again = admin.post(NEW, data={**EMEA, "kind": "generic", "csrf_token": token(admin)})
    assert again.status_code == 409
    assert "integration &#39;aircall-emea&#39; exists already" in again.text
    # Beside the name field, marked as its problem (it stood at the top of the form).
    assert 'id="name-error"' in again.text and 'aria-invalid="true"' in again.text
    assert workspace.integration("aircall-emea").kind == "aircall"
    assert len(workspace.audit_log().entries) == 1


def test_an_integration_added_without_a_secret_variable_says_its_webhooks_are_refused(
    workspace: Workspace, admin: httpx.Client
) -> None:
    bare = {**EMEA, "name": "files-only", "secret_env": ""}
    created = admin.post(NEW, data={**bare, "csrf_token": token(admin)})
    assert created.status_code == 303
    page = admin.get(created.headers["location"]).text
    assert "names no environment variable for its webhook secret" in page
    assert "refused (401)" in page and "set the secret" not in page
    assert 'name one under <a href="#webhook">Webhook secret</a> below' in page
    assert 'id="secret-env"' in page


def test_a_post_without_the_form_token_creates_nothing(
    workspace: Workspace, admin: httpx.Client
) -> None:
    for sent in ({}, {"csrf_token": "not-this-session"}):
        refused = admin.post(NEW, data={**EMEA, **sent})
        assert refused.status_code == 403 and "Form expired" in refused.text
    assert list(workspace.rules().integrations) == ["dialer"]
    assert workspace.audit_log().entries == []


def test_managed_by_file_shows_the_command_and_refuses_the_post(
    workspace: Workspace, admin: httpx.Client
) -> None:
    workspace.apply_config(
        workspace.export_config(), Actor("admin", "tests"), ManagedBy("team.yaml")
    )
    shown = admin.get(NEW).text
    assert "leadsync apply team.yaml" in shown
    assert '<fieldset class="section" disabled>' in shown
    refused = admin.post(NEW, data={**EMEA, "csrf_token": token(admin)})
    assert refused.status_code == 409
    assert "managed by file (team.yaml)" in refused.text
    assert "leadsync apply team.yaml" in refused.text
    assert list(workspace.rules().integrations) == ["dialer"]
    assert len(workspace.audit_log().entries) == 1  # the apply's own


# ------------------------------------------------------------- in Chromium (SQLite)


@pytest.fixture
def sqlite_ws(tmp_path: Path, sqlite_template: Path) -> Iterator[Workspace]:
    path = tmp_path / "console.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws:
        yield configured(ws)


@pytest.fixture
def sqlite_live(sqlite_ws: Workspace) -> Iterator[LiveServer]:
    with console_server(sqlite_ws) as server:
        yield server


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE)
    yield context.new_page()
    context.close()


def test_an_admin_adds_an_integration_and_lands_on_its_settings(
    sqlite_ws: Workspace, sqlite_live: LiveServer, tab: Any
) -> None:
    live = sqlite_live
    sign_in(tab, live, ADMIN_TOKEN)
    tab.get_by_role("link", name="Add an integration").click()
    tab.wait_for_url(f"{live.base_url}{NEW}")
    tab.get_by_label("Name").fill("aircall-emea")
    kind = tab.get_by_label("Kind")
    assert "the body's token field equals the secret" in kind.inner_text()
    kind.select_option("aircall")
    tab.get_by_label("Environment variable holding its secret").fill("AIRCALL_EMEA_TOKEN")
    tab.get_by_role("button", name="Add the integration").click()

    tab.wait_for_url(f"{live.base_url}/integrations/aircall-emea/settings?done=created")
    assert tab.get_by_role("status").filter(has_text="Added").count() == 1
    webhook = f"{live.base_url}/webhooks/aircall-emea"
    assert tab.locator("p.webhook code.url").inner_text() == webhook
    tab.get_by_role("link", name="← Integrations").click()
    row = tab.locator('tr[data-integration="aircall-emea"]')
    assert row.locator("td").nth(0).inner_text() == "aircall"
    assert row.locator("code.url").inner_text() == webhook
    assert sqlite_ws.integration("aircall-emea").secret_env == "AIRCALL_EMEA_TOKEN"


def test_a_bad_name_is_shown_beside_its_field_and_nothing_is_created(
    sqlite_ws: Workspace, sqlite_live: LiveServer, tab: Any
) -> None:
    sign_in(tab, sqlite_live, PASSWORD, NEW)
    tab.get_by_label("Name").fill("Aircall EMEA")
    tab.get_by_label("Environment variable holding its secret").fill("1TOKEN")
    tab.get_by_role("button", name="Add the integration").click()
    tab.locator("#name-error").wait_for()
    assert "is not a valid integration name" in tab.locator("#name-error").inner_text()
    assert tab.get_by_label("Name").get_attribute("aria-invalid") == "true"
    assert tab.get_by_label("Name").input_value() == "Aircall EMEA"  # kept to correct
    assert list(sqlite_ws.rules().integrations) == ["dialer"]
    assert sqlite_ws.audit_log().entries == []


def test_the_viewer_sees_the_control_disabled_and_a_post_is_refused(
    sqlite_ws: Workspace, sqlite_live: LiveServer, tab: Any
) -> None:
    sign_in(tab, sqlite_live, VIEWER_TOKEN)
    assert tab.get_by_role("button", name="Add an integration").is_disabled()
    assert tab.get_by_role("link", name="Add an integration").count() == 0
    tab.goto(f"{sqlite_live.base_url}{NEW}")
    assert tab.get_by_label("Name").is_disabled()
    assert tab.get_by_role("button", name="Add the integration").is_disabled()
    status = tab.evaluate(
        """async (url) => {
            const form = new FormData(document.getElementById("new-integration"));
            form.set("name", "sneaky");
            form.set("kind", "generic");
            return (await fetch(url, {method: "POST", body: new URLSearchParams(form)})).status;
        }""",
        NEW,
    )
    assert status == 403
    assert list(sqlite_ws.rules().integrations) == ["dialer"]


def test_a_secret_pasted_as_the_variable_is_not_written_back_into_the_form(
    workspace: Workspace, admin: httpx.Client
) -> None:
    secret = "whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    refused = admin.post(NEW, data={**EMEA, "secret_env": secret, "csrf_token": token(admin)})
    assert refused.status_code == 422
    assert "looks like a token or key itself" in refused.text and secret not in refused.text
    assert "aircall-emea" not in workspace.rules().integrations
