"""An integration's settings edited in a tab opened before someone else saved them: the page
again (409), in the console's layout, saying what the other change was (in the preview's
words), the admin's own edits kept in the form over the settings as they are now, and
nothing saved until the admin previews and saves again — against the new settings. A save
refused for another reason shows the form as sent, saying why. On SQLite and PostgreSQL over
HTTP, and in Debian's Chromium.
"""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from leadsync.ops.settings_change import ManagedBy
from leadsync.ops.settings_rebase import loaded_digest
from leadsync.workspace import Workspace
from tests.browser import WIDE, console_server, form_token, sign_in
from tests.live import ADMIN_TOKEN, LiveServer
from tests.test_console_conflicts import ADMIN, LAYOUT, live, signed_in
from tests.test_console_settings import PREVIEW, SAVE, form, sqlite_ws
from tests.test_rollout_change import audit_example

__all__ = ["live", "sqlite_ws"]  # the same served workspaces as the conflicts and settings tests

PROTECT = "Protect an owner a person set in the CRM for (days)"
MIN_DURATION = "Skip calls shorter than (seconds)"
# Looks like a token: the settings refuse it as a variable's name, and no page may show it.
SECRET = "sk_live_a1B2c3D4e5F6g7H8i9J0k1L2"


def opened(html: str) -> dict[str, list[str]]:
    """What a settings page's form carries besides its fields: the session's token and the
    settings it was filled from (their digest and themselves)."""
    [loaded] = re.findall(r'name="loaded" value="(\w+)"', html)
    [carried] = re.findall(r'name="loaded_settings" value="([^"]+)"', html)
    return {
        "csrf_token": [form_token(html, PREVIEW)],
        "loaded": [loaded],
        "loaded_settings": [unescape(carried)],
    }


def preview_and_save(admin: httpx.Client, sent: dict[str, list[str]]) -> httpx.Response:
    preview = admin.post(PREVIEW, data=sent)
    assert preview.status_code == 200, preview.text
    [previewed] = re.findall(r'name="previewed" value="(\w+)"', preview.text)
    return admin.post(SAVE, data={**sent, "previewed": [previewed]})


def section(html: str, ident: str) -> str:
    start = html.index(f'id="{ident}"')
    return html[start : html.index("</section>", start)]


def value_of(html: str, name: str) -> str:
    """The value a field of the page's form holds: an input's, or a select's option chosen."""
    start = html.index(f'name="{name}"')
    if html.rfind("<select", 0, start) > html.rfind("<input", 0, start):
        chosen = re.search(r'<option value="([^"]*)" selected>', html[start:])
        assert chosen is not None
        return chosen.group(1)
    found = re.search(r'value="([^"]*)"', html[start : html.index(">", start)])
    assert found is not None
    return found.group(1)


def test_a_stale_tab_keeps_its_edits_over_the_new_settings_until_saved_again(
    workspace: Workspace, live: LiveServer
) -> None:
    with signed_in(live) as admin:
        a, b = opened(admin.get(SAVE).text), opened(admin.get(SAVE).text)  # two tabs
        mine = form(**{"activities.call.min_duration_s": "25", "users.map.u-7": "101"})
        theirs = form(**{"ownership.protect_manual_days": "20", "users.map.u-7": "104"})
        assert preview_and_save(admin, {**theirs, **a}).status_code == 303
        for path, what in ((PREVIEW, "previewed"), (SAVE, "saved")):
            stale = admin.post(path, data={**mine, **b, "previewed": ["0" * 20]})
            assert stale.status_code == 409 and LAYOUT in stale.text
            said = section(stale.text, "changed-meanwhile")
            assert f"Not {what}: these settings changed since you opened the page" in said
            other = said[said.index("other-change") : said.index("your-edits")]
            assert "<code>ownership.protect_manual_days</code>: 14 → 20" in other
            assert "<code>users.map.u-7</code>: (not set) → Di Ro (104)" in other
            edits = said[said.index("your-edits") :]
            assert "<code>activities.call.min_duration_s</code>: 10 → 25" in edits
            assert "<code>users.map.u-7</code>: (not set) → Ana Ng (101)" in edits
            assert "both set <code>users.map.u-7</code>: the form has your value" in edits
            shown = stale.text
            assert value_of(shown, "ownership.protect_manual_days") == "20"  # theirs kept
            assert value_of(shown, "activities.call.min_duration_s") == "25"  # mine kept
            assert value_of(shown, "users.map.u-7") == "101"  # both: mine
            settings = workspace.integration("dialer")  # nothing of mine saved
            assert settings.activities.call.min_duration_s == 10
            assert settings.users.map["u-7"] == "104"
        # The second submit, from the page as shown: against the new settings.
        again = opened(shown)
        assert again["loaded"] == [loaded_digest(workspace.integration("dialer"))]
        resent = form(
            **{
                "ownership.protect_manual_days": "20",
                "activities.call.min_duration_s": "25",
                "users.map.u-7": "101",
            }
        )
        preview = admin.post(PREVIEW, data={**resent, **again})
        assert preview.status_code == 200
        lines = re.findall(r"<li><code>([^<]+)</code>: ([^<]+)</li>", preview.text)
        assert lines == [  # the change: mine alone
            ("users.map.u-7", "Di Ro (104) → Ana Ng (101)"),
            ("activities.call.min_duration_s", "10 → 25"),
        ]
        assert preview_and_save(admin, {**resent, **again}).status_code == 303
    settings = workspace.integration("dialer")
    assert settings.ownership.protect_manual_days == 20  # the other change stands
    assert (settings.activities.call.min_duration_s, settings.users.map["u-7"]) == (25, "101")


def test_a_stale_form_that_cannot_be_read_comes_back_as_sent_without_a_secret(
    workspace: Workspace, live: LiveServer
) -> None:
    with signed_in(live) as admin:
        a, b = opened(admin.get(SAVE).text), opened(admin.get(SAVE).text)
        theirs = form(**{"ownership.protect_manual_days": "20"})
        assert preview_and_save(admin, {**theirs, **a}).status_code == 303
        wrong = form(secret_env=SECRET, **{"activities.call.min_duration_s": "soon"})
        stale = admin.post(PREVIEW, data={**wrong, **b})
    assert stale.status_code == 409 and LAYOUT in stale.text
    assert SECRET not in stale.text
    said = section(stale.text, "changed-meanwhile")
    assert "<code>ownership.protect_manual_days</code>: 14 → 20" in said
    assert "The form below is as you sent it, with what needs correcting" in said
    assert "Skip calls shorter than (seconds)</a>: must be a number" in stale.text
    assert value_of(stale.text, "activities.call.min_duration_s") == "soon"
    assert workspace.integration("dialer").secret_env == "DIALER_SECRET"


def test_a_save_refused_for_another_reason_shows_the_form_as_sent(
    workspace: Workspace, live: LiveServer
) -> None:
    """Managed by file since the page was opened (the settings themselves unchanged): the
    page again, the form as sent, saying why and what to do, nothing saved."""
    with signed_in(live) as admin:
        tab = opened(admin.get(SAVE).text)
        mine = {**form(**{"activities.call.min_duration_s": "25"}), **tab}
        preview = admin.post(PREVIEW, data=mine)
        [previewed] = re.findall(r'name="previewed" value="(\w+)"', preview.text)
        workspace.apply_config(workspace.export_config(), ADMIN, ManagedBy("team.yaml"))
        refused = admin.post(SAVE, data={**mine, "previewed": [previewed]})
    assert refused.status_code == 409 and LAYOUT in refused.text
    said = section(refused.text, "refusal")
    assert "Not saved" in said and "The workspace is managed by file (team.yaml)" in said
    assert '<code class="command">leadsync apply team.yaml</code>' in said
    assert value_of(refused.text, "activities.call.min_duration_s") == "25"
    assert workspace.integration("dialer").activities.call.min_duration_s == 10


# ------------------------------------------------------------- in Chromium (SQLite)


def test_in_chromium_a_stale_tab_saves_its_edits_over_the_new_settings(
    sqlite_ws: Workspace, browser: Any
) -> None:
    with console_server(sqlite_ws) as live:
        context = browser.new_context(viewport=WIDE)
        first = context.new_page()
        sign_in(first, live, ADMIN_TOKEN, SAVE)
        second = context.new_page()  # the same session, opened before the first saves
        second.goto(f"{live.base_url}{SAVE}")
        first.get_by_label(PROTECT).fill("20")
        first.get_by_role("button", name="Preview the change").click()
        first.get_by_role("button", name="Save these settings").click()
        first.wait_for_url(f"{live.base_url}{SAVE}?done=saved")

        second.get_by_label(MIN_DURATION).fill("25")
        second.get_by_role("button", name="Preview the change").click()
        said = second.locator("#changed-meanwhile")
        said.wait_for()
        assert (
            "ownership.protect_manual_days: 14 → 20" in said.locator(".other-change").inner_text()
        )
        assert "activities.call.min_duration_s: 10 → 25" in said.locator(".your-edits").inner_text()
        assert second.get_by_label(PROTECT).input_value() == "20"
        assert second.get_by_label(MIN_DURATION).input_value() == "25"
        assert sqlite_ws.integration("dialer").activities.call.min_duration_s == 10

        second.get_by_role("button", name="Preview the change").click()
        preview = second.locator("#preview section.preview")
        preview.wait_for()
        assert second.locator("#changed-meanwhile").count() == 0  # the page, replaced whole
        assert preview.locator("ul.changes li").all_inner_texts() == [
            "activities.call.min_duration_s: 10 → 25"
        ]
        second.get_by_role("button", name="Save these settings").click()
        second.wait_for_url(f"{live.base_url}{SAVE}?done=saved")
        context.close()
    settings = sqlite_ws.integration("dialer")
    assert (settings.ownership.protect_manual_days, settings.activities.call.min_duration_s) == (
        20,
        25,
    )


def test_an_edit_of_a_rollout_promoted_meanwhile_is_not_kept_and_says_so(
    workspace: Workspace,
) -> None:
    with console_server(audit_example(workspace)) as live, signed_in(live) as admin:
        tab = opened(admin.get(SAVE).text)
        workspace.rollout_promote("dialer", ADMIN)
        sent = {"sections": ["rollout"], "rollout.percent": ["50"], **tab}
        stale = admin.post(PREVIEW, data=sent)
    assert stale.status_code == 409 and LAYOUT in stale.text
    said = section(stale.text, "changed-meanwhile")
    assert "<code>rollout.percent</code>: 30 → (not set)" in said  # the other change
    assert "Not kept: your edit of <code>rollout.percent</code>" in said
    assert "Your edits" not in said and "You had changed nothing" not in said
    assert 'id="rollout-percent"' not in stale.text  # no rollout to set a share of now
    assert workspace.integration("dialer").rollout is None
