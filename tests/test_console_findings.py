"""What a walk through the console in Chromium found, mended: the settings form's errors
beside their fields in the form's words (a summary on top, focused, linking to them) and no
preview of other settings than those on the page; every page at a phone's width with long
vendor ids and emails; the dead-letter, audit and review filters offering removed
integrations that have entries; console pages and buttons instead of CLI commands; what an
emptied number field means; and the audit log in the workspace file's spelling, with owners
by name."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadsync.ops.settings_change import Actor
from leadsync.pipeline.inbox import dead_letter_row
from leadsync.settings import integration_to_dict
from leadsync.store.inbox import insert_dead_letters
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, form_token, sign_in, signed_in
from tests.helpers import settings, workspace_config
from tests.live import ADMIN_TOKEN, LiveServer, configure, wait_until
from tests.test_console_settings import LEAVE, PREVIEW, SAVE, configured, form
from tests.test_review_faces import K1, K2, SHARED_CALL, call, record

PHONE = {"width": 390, "height": 844}
ADMIN = Actor("admin", "console (token) · session 0123abcd")
LONG = "x" * 90
AT_NOON = "2026-11-01T12:00:00.000Z"
PROTECT = "Protect an owner a person set in the CRM for (days)"


@pytest.fixture
def sqlite_ws(tmp_path: Path, sqlite_template: Path) -> Iterator[Workspace]:
    path = tmp_path / "console.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws:
        yield ws


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(configured(workspace)) as server:
        yield server


def admin(live: LiveServer) -> tuple[httpx.Client, str]:
    """The live server's client signed in, and the settings form's token."""
    client = signed_in(live.client, PASSWORD)
    return client, form_token(client.get(SAVE).text, PREVIEW)


# ------------------------------------------------------- 1. the settings form's errors


def test_a_refused_preview_shows_each_error_at_its_field_and_no_stale_preview(
    sqlite_ws: Workspace, browser: Any
) -> None:
    configured(sqlite_ws)
    context = browser.new_context(viewport=WIDE)
    tab = context.new_page()
    with console_server(sqlite_ws) as server:
        sign_in(tab, server, ADMIN_TOKEN, SAVE)
        tab.get_by_label("Strategy for every record type").select_option("integration_wins")
        tab.get_by_role("button", name="Preview the change").click()
        tab.locator("#preview section.preview").wait_for()
        # Edited after its preview: the preview (and its Save) is of other settings: gone.
        tab.get_by_label("When a user maps to no owner").select_option("fallback")
        assert tab.locator("#preview section.preview").count() == 0
        assert tab.get_by_role("button", name="Save these settings").count() == 0
        assert "preview the change again" in tab.locator("#preview").inner_text()

        tab.get_by_label(PROTECT).fill("40000")
        tab.get_by_role("button", name="Preview the change").click()  # at the page's foot
        summary = tab.locator("#form-errors")
        summary.wait_for()
        assert tab.evaluate("document.activeElement.id") == "form-errors"
        top = tab.evaluate("document.getElementById('form-errors').getBoundingClientRect().top")
        assert 0 <= top < WIDE["height"]  # in view, though the fields edited are lower
        lines = summary.locator("li").all_inner_texts()
        assert lines == [
            "Fallback owner: needed with “Give the record to a fallback owner”: choose one",
            f"{PROTECT}: must be 36500 or less (allowed: a number from 0 to 36500)",
        ]
        assert "integrations.dialer" not in tab.locator("main").inner_text()
        assert tab.locator("#preview").inner_text() == ""  # no preview of other settings
        # Beside each field, and read with it; the form as sent.
        days = tab.get_by_label(PROTECT)
        assert days.input_value() == "40000" and days.get_attribute("aria-invalid") == "true"
        described = (days.get_attribute("aria-describedby") or "").split()
        assert tab.locator(f"#{described[0]}").inner_text() == (
            "Must be 36500 or less (allowed: a number from 0 to 36500)."
        )
        assert "protect-help" in described
        owner = tab.get_by_label("Fallback owner")
        error_id = (owner.get_attribute("aria-describedby") or "").split()[0]
        assert tab.locator(f"#{error_id}").inner_text().startswith("Needed with")
        assert tab.get_by_label("When a user maps to no owner").input_value() == "fallback"
        assert tab.get_by_label("Strategy for every record type").input_value() == (
            "integration_wins"
        )
        summary.get_by_role("link", name="Fallback owner").click()
        assert tab.evaluate("document.activeElement.id") == "unmapped-owner"

        # Corrected: the preview, and no error left over.
        owner.select_option(label="Bo Li")
        days.fill("3")
        tab.get_by_role("button", name="Preview the change").click()
        tab.locator("#preview section.preview").wait_for()
        assert tab.locator("#form-errors").count() == 0
        assert tab.locator(".field-error").count() == 0
        changes = tab.locator(".change-summary li").all_inner_texts()
        assert "users.unmapped.owner: (not set) → Bo Li (102)" in changes
        tab.get_by_role("button", name="Save these settings").click()
        tab.wait_for_url(f"{server.base_url}{SAVE}?done=saved")
    context.close()
    assert sqlite_ws.integration("dialer").ownership.protect_manual_days == 3


def test_without_javascript_a_refused_form_comes_back_as_sent(live: LiveServer) -> None:
    client, token = admin(live)
    sent = form(
        **{
            "users.map.u-3": "999",
            "activities.call.skip_outcomes": ["busy", "zzz"],
            "ownership.deal": "integration_wins",
            "associations.max_deals": "2.5",
        }
    )
    page = client.post(PREVIEW, data={**sent, "csrf_token": [token]})
    assert page.status_code == 422
    html = page.text
    assert "Not previewed: 3 fields need correcting" in html
    summary = re.findall(r"<li>(.*?)</li>", html.split('id="form-errors"')[1].split("</ul>")[0])
    assert summary == [  # in the page's order
        '<a href="#map-2">Owner for u-3</a>: owner 999 is not (or no longer) one of the '
        "workspace&#39;s owners: choose another",
        '<a href="#skip-call-connected">Skip calls with the outcome</a>: “zzz” is not one of '
        "the choices (allowed: connected, no_answer, busy, voicemail, left_live_message, "
        "wrong_number, failed, canceled)",
        '<a href="#assoc-max-deals">At most this many deals</a>: must be a whole number',
    ]
    assert "integrations.dialer" not in html and 'class="preview"' not in html
    assert 'id="form-errors" class="error error-summary" tabindex="-1" autofocus' in html
    assert re.search(r'id="assoc-max-deals"[^>]*value="2.5"[^>]*aria-invalid="true"', html)
    assert re.search(r'<option value="integration_wins" selected>', html.split("strategy-deal")[2])
    # The save of a form edited after its preview is refused the same way.
    saved = client.post(SAVE, data={**sent, "csrf_token": [token], "previewed": ["x" * 20]})
    assert saved.status_code == 422 and "Not saved: 3 fields need correcting" in saved.text


def test_with_htmx_a_refused_form_replaces_the_page_content(live: LiveServer) -> None:
    client, token = admin(live)
    sent = {**form(**{"users.unmapped.policy": "round_robin"}), "csrf_token": [token]}
    page = client.post(PREVIEW, data=sent, headers={"hx-request": "true"})
    assert page.status_code == 422
    assert page.headers["hx-retarget"] == "#main" and page.headers["hx-reselect"] == "#main"
    assert '<main id="main"' in page.text
    assert "Round-robin team</a>: needed with “Give records in turn to a team" in page.text
    # Corrected after errors were shown: the whole page again, errors gone, with the preview.
    fixed = {**sent, "users.unmapped.team": ["sdr"], "shown_errors": ["1"]}
    again = client.post(PREVIEW, data=fixed, headers={"hx-request": "true"})
    assert again.status_code == 200 and again.headers["hx-retarget"] == "#main"
    assert 'class="preview"' in again.text and "form-errors" not in again.text


# ------------------------------------------------------------- 2. at a phone's width


def long_values(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Records, a question, dead letters and audit entries with long unbroken ids/emails."""
    from leadsync.pipeline import drain as drain_module
    from leadsync.pipeline import ingest as ingest_module

    configure(ws)
    email = f"kim.{LONG}@globex-{LONG}.test"
    events = [
        record(1, "contact", "k1-" + LONG, {**K1, "email": email, "firstname": "Kim" + LONG}),
        record(2, "contact", "k2-" + LONG, {**K2, "email": f"kay.{LONG}@globex.test"}),
        record(3, "company", "a1-" + LONG, {"name": "Globex" + LONG, "domain": f"g{LONG}.test"}),
        call(5, "c1-" + LONG, SHARED_CALL),
    ]
    assert ws.ingest("dialer", [json.dumps(e) for e in events]).ok
    unreadable = {"id": "bad-" + LONG, "type": LONG, "occurred_at": "2026-11-01T09:00:00Z"}
    applying = drain_module.apply_batch

    def refused(connection: Any, rules: Any, batch: Any) -> Any:
        if any(e.id.startswith("refused-") for e in batch):
            raise ValueError("refused by the test: " + LONG)
        return applying(connection, rules, batch)

    for module in (drain_module, ingest_module):
        monkeypatch.setattr(module, "apply_batch", refused)
    refused_event = {**events[0], "id": "refused-" + LONG}
    ws.ingest("dialer", [json.dumps(unreadable), json.dumps(refused_event)])
    for module in (drain_module, ingest_module):
        monkeypatch.setattr(module, "apply_batch", applying)
    data = integration_to_dict(ws.integration("dialer"))
    data["users"]["map"] = {**data["users"].get("map", {}), f"u-{LONG}": "104"}
    ws.replace_integration("dialer", data, by=ADMIN)
    return {"email": email, "record": ws.find(email=email)[0]}


def test_every_page_fits_a_phone_with_long_ids_and_emails(
    sqlite_ws: Workspace, browser: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = long_values(sqlite_ws, monkeypatch)
    letters = sqlite_ws.dead_letters()
    assert any(letter["event_id"] for letter in letters)
    found = made["record"]
    pages = [
        "/",
        "/integrations/dialer/settings",
        "/integrations/new",
        "/records?by=email&q=kim",
        f"/records?by=external&q=dialer:k1-{LONG}",
        f"/records/{found['type']}/{found['id']}",
        "/review",
        "/review/1",
        "/health",
        "/dead-letters",
        "/dead-letters?resolved=true",
        *(f"/dead-letters/{letter['id']}" for letter in letters),
        "/test-lead",
        "/audit",
    ]
    context = browser.new_context(viewport=PHONE)
    tab = context.new_page()
    wider = {}
    with console_server(sqlite_ws) as server:
        sign_in(tab, server, ADMIN_TOKEN)
        for path in pages:
            response = tab.goto(f"{server.base_url}{path}")
            assert response is not None and response.status == 200, path
            width = tab.evaluate("document.documentElement.scrollWidth - innerWidth")
            if width > 0:
                wider[path] = width
        tab.goto(f"{server.base_url}/test-lead")
        tab.get_by_label("Rep (external user id)").fill(f"u-{LONG}")
        tab.get_by_role("button", name="Run the test lead").click()
        tab.locator("#test-lead-result section").wait_for()
        width = tab.evaluate("document.documentElement.scrollWidth - innerWidth")
        if width > 0:
            wider["/test-lead (a result)"] = width
    context.close()
    assert not wider, f"pages wider than 390 px: {wider}"


# ------------------------------------------- 3. filters of removed integrations' entries


def test_the_filters_offer_removed_integrations_that_have_entries(
    workspace: Workspace, live: LiveServer
) -> None:
    ws = workspace
    ws.add_integration("crm4", {"kind": "generic"}, by=ADMIN)
    ws.add_integration("crm5", {"kind": "generic"}, by=ADMIN)
    unreadable = {"id": "bad-1", "type": "meeting_booked", "occurred_at": "2026-11-01T09:00:00Z"}
    ws.ingest("crm4", [json.dumps(unreadable)])
    config = ws.export_config()
    del config.integrations["crm4"]
    del config.integrations["crm5"]
    ws.apply_config(config, Actor("admin", "cli: leadsync apply leadsync.yaml"))
    client = signed_in(live.client, PASSWORD)

    def offered(path: str, select: str) -> list[str]:
        html = client.get(path).text
        found = re.search(rf'<select id="{select}"[^>]*>(.*?)</select>', html, re.S)
        assert found, path
        return re.findall(r"<option [^>]*>([^<]*)</option>", found.group(1))

    letters = offered("/dead-letters", "filter-integration")
    assert letters == ["All", "crm4 (removed)", "dialer"]
    # A letter with no inbox row (a refused webhook kept as it came), not on the page shown.
    row = dead_letter_row("crm6", None, None, "{}", "webhook: refused", AT_NOON, None)
    with ws.engine.begin() as connection:
        insert_dead_letters(connection, [row])
    letters = offered("/dead-letters?integration=crm4", "filter-integration")
    assert letters == ["All", "crm4 (removed)", "crm6 (removed)", "dialer"]
    assert "#1" in client.get("/dead-letters?integration=crm4").text
    audit = offered("/audit", "audit-integration")
    assert audit == ["All", "crm4 (removed)", "crm5 (removed)", "dialer"]
    assert "crm5" in client.get("/audit?integration=crm5").text
    assert offered("/review", "filter-integration") == ["All", "dialer"]


# ------------------------------------------------ 4. console pages instead of commands


def test_messages_link_to_console_pages_instead_of_commands(
    workspace: Workspace, live: LiveServer
) -> None:
    ws = workspace
    ws.add_integration("crm4", {"kind": "generic"}, by=ADMIN)
    ws.ingest("crm4", [json.dumps({"id": "bad-1", "type": "meeting_booked"})])
    [letter] = [d["id"] for d in ws.dead_letters()]
    config = ws.export_config()
    del config.integrations["crm4"]
    ws.apply_config(config)
    client = signed_in(live.client, PASSWORD)

    def snapshot_taken() -> str | None:
        text = client.get("/health").text
        return text if 'data-check="dead_letters"' in text else None

    health = wait_until(snapshot_taken, "the health snapshot")
    card = health.split('data-check="dead_letters"')[1].split("</li>")[0]
    assert '<a href="/dead-letters">Dead letters</a>' in card
    assert "leadsync dead-letters" not in health
    # A letter of a removed integration: add it again on its page, or dismiss it here.
    address = f"/dead-letters/{letter}"
    token = form_token(client.get(address).text, f"{address}/retry")
    redirect = client.post(f"{address}/retry", data={"csrf_token": token})
    assert redirect.status_code == 303
    refused = client.get(redirect.headers["location"])
    assert refused.status_code == 200 and "Not retried" in refused.text
    assert '(<a href="/integrations/new">Add an integration</a>)' in refused.text
    assert "leadsync apply" not in refused.text and "leadsync dead-letters" not in refused.text


def test_the_test_records_are_removed_with_a_button(workspace: Workspace, live: LiveServer) -> None:
    ws = workspace
    assert ws.test_lead("dialer", "u-1").record_id is not None
    client = signed_in(live.client, PASSWORD)
    page = client.get("/test-lead").text
    assert "--cleanup" not in page and '<a href="#cleanup">Remove the test records</a>' in page
    token = form_token(page, "/test-lead/cleanup")
    redirect = client.post("/test-lead/cleanup", data={"csrf_token": token})
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/test-lead?done=cleaned"
    done = client.get(redirect.headers["location"])
    assert "Removed 1 test record and 1 test activity." in done.text
    assert ws.cleanup_test_leads() == {"records": 0, "activities": 0, "archived": 0}


# ---------------------------------------------------------- 5. an emptied number field


def test_an_emptied_number_field_says_it_takes_the_default(live: LiveServer) -> None:
    client, token = admin(live)
    html = client.get(SAVE).text
    hints = {
        "protect-days": ("protect-help", "Left empty, it is the default: 0 (no protection)."),
        "min-duration": ("min-duration-help", "Left empty: no minimum"),
        "assoc-max-deals": ("max-deals-help", "Left empty, it is the default: 5."),
    }
    for control, (hint, text) in hints.items():
        tag = re.search(rf'<input id="{control}"[^>]*>', html)
        assert tag and f'aria-describedby="{hint}"' in tag.group(0), control
        said = re.search(rf'<p id="{hint}" class="note">(.*?)</p>', html)
        assert said and text in said.group(1), control
    emptied = form(**{"ownership.protect_manual_days": "", "associations.max_deals": ""})
    preview = client.post(PREVIEW, data={**emptied, "csrf_token": [token]}).text
    assert "ownership.protect_manual_days</code>: 14 → 0" in preview


def test_each_number_field_gives_both_its_bounds_as_the_settings_check_them(
    live: LiveServer,
) -> None:
    # The help of protect_manual_days and min_duration_s gave no upper bound (the file
    # refuses more than 36,500 days and 86,400 s), and their fields let the browser send any;
    # every bound now comes from the settings' own model.
    client, _ = admin(live)
    html = client.get(SAVE).text
    expected = {
        "protect-days": (' min="0" max="36500"', "protect-help", "From 0 to 36,500."),
        "min-duration": (' min="0" max="86400"', "min-duration-help", "From 0 to 86,400."),
        "assoc-max-deals": (' min="1" max="100"', "max-deals-help", "From 1 to 100."),
        "hold-days": (' max="365"', "hold-days-help", "More than 0, up to 365."),
    }
    for control, (attributes, hint, words) in expected.items():
        tag = re.search(rf'<input id="{control}"[^>]*>', html)
        assert tag and attributes in tag.group(0), (control, tag and tag.group(0))
        assert "min=" not in tag.group(0).replace(attributes, ""), control
        said = re.search(rf'<p id="{hint}" class="note">(.*?)</p>', html)
        assert said and words in said.group(1), (control, said and said.group(1))


def test_the_preview_says_what_people_did_that_it_does_not_replay(
    workspace: Workspace, live: LiveServer
) -> None:
    """As the CLI's replay does: a person's owner change is no tool's event, so the
    preview's "now" owners are the tools' events alone."""
    from tests.test_console_settings import HISTORY

    workspace.ingest("dialer", [json.dumps(e) for e in HISTORY], source="history.jsonl")
    [p1] = workspace.find(external="dialer:p-1")
    workspace.set_owner("contact", p1["id"], "104")
    client, token = admin(live)
    html = client.post(PREVIEW, data={**form(), "csrf_token": [token]}).text
    said = re.search(r'<p class="note not-replayed">(.*?)</p>', html, re.S)
    assert said and said.group(1).startswith(
        "Not replayed, being no tool's event: 1 owner change made by people since then"
    ), html


# ------------------------------------------------------------------ 6. the audit log


def test_the_audit_log_is_in_the_files_spelling_with_owners_by_name(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.apply_config(
        workspace_config({"dialer": settings(users=LEAVE)}), Actor("admin", "cli: leadsync apply")
    )
    data = integration_to_dict(ws.integration("dialer"))
    data["users"]["map"]["u-7"] = "104"
    data["ownership"]["assign_on_activity"] = True
    data["activities"]["note"] = False
    ws.replace_integration("dialer", data, by=ADMIN)
    with console_server(ws) as live:
        html = signed_in(live.client, PASSWORD).get("/audit").text
    entries = re.findall(r'<ul class="summary changes">(.*?)</ul>', html, re.S)
    newest = re.sub(r"<[^>]+>", "", entries[0]).replace("→", "->")
    assert "users.map.u-7: (not set) -> Di Ro (104)" in newest
    assert "ownership.assign_on_activity: false -> true" in newest
    assert "activities.note.enabled: true -> false" in newest
    assert "True" not in newest and "False" not in newest
    whole = re.sub(r"<[^>]+>", "", entries[-1])
    assert "owners added: Ana Ng (101), Bo Li (102), Cy Oh (103), Di Ro (104)" in whole
