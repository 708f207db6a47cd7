"""The settings page's "Vendor options": each kind's ``vendor:`` options, generated from its
options model (``sources/options.py``), set through the same preview and save as the rest.

Without a database: every option of every kind gets a control and a description, and the
shapes no kind has yet (a list, a nested model) are read back as they are shown. Over plain
HTTP on SQLite and PostgreSQL: the page's form sent back untouched changes nothing, for
every kind; Salesforce's organization id and timestamp window are set, saved and audited; a
wrong organization id is refused beside its field with the settings' own message, the form
as typed, nothing saved; options are cleared back to their defaults; a boolean is ticked and
unticked; a Pipedrive mapping loses and gains lines; a workspace managed by file refuses the
save; a kind without options has no section. In Debian's Chromium: an admin corrects a
wrong organization id, ticks a box, previews and saves.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import Field

from leadsync.ops.settings_change import Actor, ManagedBy
from leadsync.ops.settings_form import Control, change_from_form, vendor_options
from leadsync.sources import KINDS, adapter_class
from leadsync.sources.options import OPTION_MODELS, VendorOptions
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, form_token, sign_in, signed_in
from tests.helpers import settings, workspace_config
from tests.live import ADMIN_TOKEN, LiveServer

ORG = "00D5g000004Xyz1EAC"
INTEGRATIONS: dict[str, dict[str, Any]] = {
    "dialer": settings(
        secret_env="DIALER_SECRET",
        vendor={"require_timestamp": False, "timestamp_tolerance_s": 120},
    ),
    "sf": {"kind": "salesforce"},
    "pd": {
        "kind": "pipedrive",
        "secret_env": "PD_SECRET",
        "vendor": {"activity_types": {"lunch": "meeting", "demo": "call"}},
    },
    "crm": {"kind": "hubspot", "secret_env": "HUBSPOT_SECRET", "vendor": {"app_id": "777"}},
    "phone": {"kind": "aircall", "secret_env": "AIRCALL_TOKEN"},
}
ADMIN = Actor("admin", "tests")


def page_url(name: str) -> str:
    return f"/integrations/{name}/settings"


def preview_url(name: str) -> str:
    return f"/integrations/{name}/settings/preview"


class _FormFields(HTMLParser):
    """What a browser sends for ``<form id="settings-form">`` as it stands."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, list[str]] = {}
        self.inside = False
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = a.get("id") == "settings-form"
        if not self.inside or "name" not in a and tag != "option":
            return
        if tag == "input" and a.get("type") != "checkbox" or "checked" in a:
            self.fields.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select":
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select is not None:
            self.options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields.setdefault(a["name"], []).append("")

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.fields[self.textarea][-1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            chosen = [value for value, selected in self.options if selected] or [self.options[0][0]]
            self.fields.setdefault(self.select, []).append(chosen[0])
            self.select = None
        elif tag == "textarea":
            self.textarea = None


def page_form(page: str) -> dict[str, list[str]]:
    reader = _FormFields()
    reader.feed(page)
    return reader.fields


def field_error(page: str, control: str) -> str:
    found = re.search(rf'<p id="{control}-error" class="error-text field-error">(.*?)</p>', page)
    assert found, f"no error beside {control}"
    return html.unescape(found.group(1))


def refused_pages(client: httpx.Client, name: str, sent: dict[str, list[str]]) -> list[str]:
    """``sent`` posted to the preview and to the save: each refused (422, nothing saved)
    with the page filled back; the two pages, to check alike."""
    pages = []
    for path, extra in ((preview_url(name), {}), (page_url(name), {"previewed": ["x"]})):
        refused = client.post(path, data={**sent, **extra})
        assert refused.status_code == 422, refused.text
        pages.append(refused.text)
    return pages


def previewed_and_saved(client: httpx.Client, name: str, sent: dict[str, list[str]]) -> None:
    """``sent`` previewed, then saved as a browser without JavaScript does: a plain post,
    whose answer is the page filled with the proposal, and its form posted by its Save."""
    preview = client.post(preview_url(name), data=sent)
    assert preview.status_code == 200, preview.text
    [previewed] = re.findall(r'name="previewed" value="(\w+)"', preview.text)
    shown = page_form(preview.text)
    saved = client.post(page_url(name), data={**shown, "previewed": [previewed]})
    assert saved.status_code == 303, saved.text


# ------------------------------------------------------------------ without a database


@pytest.mark.parametrize("kind", KINDS)
def test_every_option_of_every_kind_has_a_control_and_a_description(kind: str) -> None:
    model = adapter_class(kind).options_model
    assert model in OPTION_MODELS
    options = vendor_options(model())
    assert [o.path[0] for o in options if len(o.path) == 1] == list(model.model_fields)
    assert all(o.description.strip() for o in options), [o.name for o in options]


class _Window(VendorOptions):
    """A shape no kind has yet: a nested model."""

    days: int = Field(default=7, description="Days.")
    strict: bool = Field(default=False, description="Strict.")


class _Shapes(VendorOptions):
    hosts: tuple[str, ...] = Field(default=(), description="Hosts.")
    window: _Window = Field(default_factory=_Window, description="A window.")


def test_a_list_and_a_nested_model_are_shown_and_read_back_as_they_are() -> None:
    current = _Shapes(hosts=("a.test", "b.test"), window=_Window(days=3, strict=True))
    options = vendor_options(current)
    assert [(o.name, o.control) for o in options] == [
        ("hosts", Control.LINES),
        ("window", Control.GROUP),
        ("window.days", Control.NUMBER),
        ("window.strict", Control.CHECKBOX),
    ]
    assert [options[0].text, options[2].text, options[3].ticked] == ["a.test\nb.test", "3", True]
    assert [o.is_set for o in options] == [True, False, True, True]
    untouched = {
        "sections": ["vendor"],
        "vendor.hosts": ["a.test\r\nb.test\r\n"],
        "vendor.window.days": ["3"],
        "vendor.window.strict": ["true"],
    }
    assert _Shapes.model_validate(change_from_form(untouched, current).data["vendor"]) == current
    edited = {
        "sections": ["vendor"],
        "vendor.hosts": ["c.test"],
        "vendor.window.days": [""],
        "vendor.clear": ["window.strict"],
    }
    assert change_from_form(edited, current).data["vendor"] == {
        "hosts": ["c.test"],
        "window": {"days": None, "strict": None},
    }


# ------------------------------------------------------- plain HTTP, both databases


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    workspace.apply_config(workspace_config(INTEGRATIONS))
    with console_server(workspace) as server:
        yield server


@pytest.fixture
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.base_url, timeout=60) as client:
        yield signed_in(client, PASSWORD)


def test_the_page_sent_back_untouched_changes_nothing_for_any_kind(
    workspace: Workspace, admin: httpx.Client
) -> None:
    for name in INTEGRATIONS:
        sent = page_form(admin.get(page_url(name)).text)
        assert ("vendor" in sent["sections"]) == (name != "phone"), name
        preview = admin.post(preview_url(name), data=sent)
        assert preview.status_code == 200, (name, preview.text)
        assert "The settings as proposed are the current ones: nothing to save." in preview.text


def test_salesforce_s_organization_id_and_window_are_set_saved_and_audited(
    workspace: Workspace, admin: httpx.Client
) -> None:
    page = admin.get(page_url("sf")).text
    assert '<fieldset class="section" id="vendor">' in page
    assert '<label for="vendor-organization_id"><code>organization_id</code></label>' in page
    assert "00D followed by 12 or 15 letters and digits (Setup &gt; Company Information)" in page
    assert 'id="vendor-organization_id-clear"' not in page  # not set: nothing to clear
    sent = {
        **page_form(page),
        "vendor.organization_id": [ORG],
        "vendor.timestamp_tolerance_s": ["45"],
    }
    previewed_and_saved(admin, "sf", sent)
    vendor = workspace.integration("sf").vendor
    assert vendor.model_dump() == {
        "organization_id": ORG,
        "timestamp_tolerance_s": 45.0,
        "require_timestamp": None,
    }
    [entry] = workspace.audit_log().entries
    assert entry.who.startswith("console (password) · session ")
    assert entry.summary == (
        f"vendor.organization_id: (not set) → {ORG}; vendor.timestamp_tolerance_s: (not set) → 45"
    )
    assert f"+      organization_id: {ORG}\n" in entry.yaml_diff
    shown = admin.get(page_url("sf")).text
    assert f'value="{ORG}"' in shown and 'id="vendor-organization_id-clear"' in shown


def test_a_wrong_organization_id_is_refused_beside_its_field_and_nothing_is_saved(
    workspace: Workspace, admin: httpx.Client
) -> None:
    before = workspace.integration("sf")
    page = admin.get(page_url("sf")).text
    sent = {
        **page_form(page),
        "secret_env": ["SF_SECRET"],
        "vendor.organization_id": ["00Dnope"],
        "vendor.timestamp_tolerance_s": ["45"],
        "vendor.require_timestamp": ["true"],
    }
    for text in refused_pages(admin, "sf", sent):
        assert field_error(text, "vendor-organization_id") == (
            "'00Dnope' is not a Salesforce organization id; allowed: 00D followed by 12 or 15 "
            "letters and digits (Setup > Company Information)."
        )
        assert '<a href="#vendor-organization_id">organization_id</a>' in text  # the summary
        assert re.search(r'id="vendor-organization_id"[^>]*value="00Dnope"[^>]*aria-invalid', text)
        assert re.search(r'id="vendor-timestamp_tolerance_s"[^>]*value="45"', text)
        assert re.search(r'id="vendor-require_timestamp"[^>]*checked', text)
        assert 'id="secret-env"' in text and 'value="SF_SECRET"' in text
        assert "vendor-timestamp_tolerance_s-error" not in text
        assert 'class="preview"' not in text
    assert workspace.integration("sf") == before
    assert workspace.audit_log().entries == []


def test_options_are_cleared_back_to_their_defaults(
    workspace: Workspace, admin: httpx.Client
) -> None:
    sent = {
        **page_form(admin.get(page_url("sf")).text),
        "vendor.organization_id": [ORG],
        "vendor.timestamp_tolerance_s": ["45"],
    }
    previewed_and_saved(admin, "sf", sent)
    page = admin.get(page_url("sf")).text
    assert "Clear: back to the default (not set)" in page
    # "Clear" ticked (the id still in its field), and a field emptied: both defaults again.
    cleared = {
        **page_form(page),
        "vendor.clear": ["organization_id"],
        "vendor.timestamp_tolerance_s": [""],
    }
    assert cleared["vendor.organization_id"] == [ORG]
    previewed_and_saved(admin, "sf", cleared)
    assert workspace.integration("sf").vendor.model_dump() == {
        "organization_id": None,
        "timestamp_tolerance_s": None,
        "require_timestamp": None,
    }
    assert workspace.audit_log().entries[0].summary == (
        f"vendor.organization_id: {ORG} → (not set); vendor.timestamp_tolerance_s: 45 → (not set)"
    )


def test_a_boolean_option_is_a_checkbox_ticked_unticked_and_cleared(
    workspace: Workspace, admin: httpx.Client
) -> None:
    # dialer's require_timestamp is false in the file: unticked, with "Clear" offered.
    page = admin.get(page_url("dialer")).text
    assert re.search(r'<input type="checkbox" id="vendor-require_timestamp"(?![^>]*checked)', page)
    assert 'id="vendor-require_timestamp-clear"' in page
    steps = [
        ({"vendor.clear": ["require_timestamp"]}, None, "false → (not set)"),
        ({"vendor.require_timestamp": ["true"]}, True, "(not set) → true"),
        ({}, None, "true → (not set)"),  # unticked: off, which is its default
    ]
    for ticked, expected, change in steps:
        sent = page_form(admin.get(page_url("dialer")).text)
        sent.pop("vendor.require_timestamp", None)
        previewed_and_saved(admin, "dialer", {**sent, **ticked})
        assert workspace.integration("dialer").vendor.require_timestamp is expected
        assert workspace.audit_log().entries[0].summary == f"vendor.require_timestamp: {change}"
    assert workspace.integration("dialer").vendor.timestamp_tolerance_s == 120  # kept


def test_a_mapping_option_loses_and_gains_lines_and_a_wrong_value_names_its_line(
    workspace: Workspace, admin: httpx.Client
) -> None:
    page = admin.get(page_url("pd")).text
    sent = page_form(page)
    [shown] = sent["vendor.activity_types"]
    assert sorted(shown.splitlines()) == ["demo: call", "lunch: meeting"]  # stored in any order
    assert sent["vendor.other_activity_types"] == [""]  # "Not set"
    wrong = {**sent, "vendor.activity_types": ["demo: meeting\nwebinar: lecture"]}
    refused = admin.post(preview_url("pd"), data=wrong)
    assert refused.status_code == 422
    assert field_error(refused.text, "vendor-activity_types") == (
        "Line 2 ('webinar: lecture'): 'lecture' is not allowed; allowed: call, email, meeting, "
        "note, task."
    )
    assert "demo: meeting\nwebinar: lecture</textarea>" in refused.text
    # The text's own mistakes, beside the field (a key given twice was taken, the last line
    # winning; a line without a colon said "For [...]: '' is not allowed").
    for text, said in (
        (
            "demo: call\ndemo: meeting",
            "Line 2 ('demo: meeting'): 'demo' is given on line 1 too; allowed: each key once.",
        ),
        (
            "demo: call\nthis line has no colon",
            "Line 2 ('this line has no colon'): not key: value; allowed: one key: value a line, "
            "the value one of call, email, meeting, note, task.",
        ),
    ):
        refused = admin.post(preview_url("pd"), data={**sent, "vendor.activity_types": [text]})
        assert refused.status_code == 422, refused.text
        assert field_error(refused.text, "vendor-activity_types") == said
    changed = {
        **sent,
        "vendor.activity_types": ["demo: meeting\r\n\r\nsite_visit: note\r\n"],
        "vendor.other_activity_types": ["note"],
    }
    previewed_and_saved(admin, "pd", changed)
    vendor = workspace.integration("pd").vendor
    assert vendor.model_dump(mode="json") == {
        "activity_types": {"demo": "meeting", "site_visit": "note"},
        "other_activity_types": "note",
    }


def test_every_bad_line_of_a_mapping_is_named_beside_it_and_the_good_lines_are_kept(
    workspace: Workspace, admin: httpx.Client
) -> None:
    """Each line the form's own reading refuses (no colon, no key, a key given again) and
    each the settings' check refuses (a value not allowed), in one answer, in line order,
    each with its number and what is allowed; the text comes back as typed."""
    before = workspace.integration("pd")
    text = (
        "demo: call\n"
        "this line has no colon\n"
        "webinar: lecture\n"
        "\n"
        "demo: meeting\n"
        "site_visit: note\n"
        ": task\n"
        "expo: fair"
    )
    sent = {**page_form(admin.get(page_url("pd")).text), "vendor.activity_types": [text]}
    allowed = "call, email, meeting, note, task"
    for page in refused_pages(admin, "pd", sent):
        assert field_error(page, "vendor-activity_types") == " ".join(
            [
                "Line 2 ('this line has no colon'): not key: value; allowed: one key: value a "
                f"line, the value one of {allowed}.",
                f"Line 3 ('webinar: lecture'): 'lecture' is not allowed; allowed: {allowed}.",
                "Line 5 ('demo: meeting'): 'demo' is given on line 1 too; allowed: each key once.",
                "Line 7 (': task'): not key: value; allowed: one key: value a line, the value "
                f"one of {allowed}.",
                f"Line 8 ('expo: fair'): 'fair' is not allowed; allowed: {allowed}.",
            ]
        )
        summary = page.split('id="form-errors"')[1].split("</ul>")[0]
        assert "Not previewed: 1 field needs correcting" in page or "Not saved: 1 field" in page
        assert summary.count('<a href="#vendor-activity_types">activity_types</a>') == 5
        assert f"{html.escape(text, quote=False)}</textarea>" in page
    assert workspace.integration("pd") == before
    assert workspace.audit_log().entries == []


def test_managed_by_file_previews_the_option_but_refuses_the_save(
    workspace: Workspace, admin: httpx.Client
) -> None:
    workspace.apply_config(workspace.export_config(), ADMIN, ManagedBy("team.yaml"))
    sent = {**page_form(admin.get(page_url("sf")).text), "vendor.organization_id": [ORG]}
    preview = admin.post(preview_url("sf"), data=sent)
    assert preview.status_code == 200
    assert "Save these settings" not in preview.text
    assert f"+      organization_id: {ORG}" in html.unescape(preview.text)
    assert 'name="previewed"' not in preview.text  # no save button to carry a fingerprint
    refused = admin.post(page_url("sf"), data={**sent, "previewed": ["0" * 20]})
    assert refused.status_code == 409
    assert "managed by file (team.yaml)" in refused.text
    assert workspace.integration("sf").vendor.model_dump()["organization_id"] is None
    assert [e.summary for e in workspace.audit_log().entries] == ["managed by file: on (team.yaml)"]


def test_a_kind_without_options_has_no_section_and_refuses_one_sent(
    workspace: Workspace, admin: httpx.Client
) -> None:
    page = admin.get(page_url("phone")).text
    assert 'id="vendor"' not in page and "Vendor options" not in page
    forged = {**page_form(page), "sections": ["vendor"], "vendor.organization_id": [ORG]}
    refused = admin.post(preview_url("phone"), data=forged)
    assert refused.status_code == 422
    assert "not allowed for kind aircall; only for salesforce" in refused.text
    assert workspace.integration("phone").vendor.model_dump() == {}


def test_the_new_integration_page_names_each_kind_s_options_and_points_to_them(
    workspace: Workspace, admin: httpx.Client
) -> None:
    page = admin.get("/integrations/new").text
    assert "salesforce (<code>organization_id</code>, <code>timestamp_tolerance_s</code>" in page
    created = admin.post(
        "/integrations/new",
        data={
            "name": "sf-eu",
            "kind": "salesforce",
            "secret_env": "",
            "csrf_token": form_token(page, "/integrations/new"),
        },
    )
    assert created.status_code == 303
    settings_page = admin.get(created.headers["location"]).text
    assert 'set them under <a href="#vendor">Vendor options</a> below' in settings_page
    assert '<fieldset class="section" id="vendor">' in settings_page


# ------------------------------------------------------------- in Chromium (SQLite)


@pytest.fixture
def sqlite_live(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Workspace, LiveServer]]:
    path = tmp_path / "console.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws:
        ws.apply_config(workspace_config(INTEGRATIONS))
        with console_server(ws) as server:
            yield ws, server


def test_an_admin_corrects_an_organization_id_ticks_a_box_previews_and_saves(
    browser: Any, sqlite_live: tuple[Workspace, LiveServer]
) -> None:
    ws, live = sqlite_live
    context = browser.new_context(viewport=WIDE)
    tab = context.new_page()
    sign_in(tab, live, ADMIN_TOKEN, page_url("sf"))
    section = tab.locator("fieldset#vendor")
    assert section.get_by_role("heading").inner_text() == "Vendor options"
    tab.get_by_label("organization_id", exact=True).fill("00Dnope")
    tab.get_by_label("require_timestamp", exact=True).check()
    tab.get_by_role("button", name="Preview the change").click()
    error = tab.locator("#vendor-organization_id-error")
    error.wait_for()
    assert "is not a Salesforce organization id" in error.inner_text()
    assert tab.get_by_label("require_timestamp", exact=True).is_checked()  # kept as typed
    assert tab.locator("#preview section.preview").count() == 0

    tab.get_by_label("organization_id", exact=True).fill(ORG)
    tab.get_by_role("button", name="Preview the change").click()
    preview = tab.locator("#preview section.preview")
    preview.wait_for()
    added = preview.locator("pre.diff .add").all_inner_texts()
    assert f"+      organization_id: {ORG}" in added and "+      require_timestamp: true" in added
    assert ws.integration("sf").vendor.model_dump()["organization_id"] is None  # not yet
    tab.get_by_role("button", name="Save these settings").click()
    tab.wait_for_url(f"{live.base_url}{page_url('sf')}?done=saved")
    assert tab.get_by_label("organization_id", exact=True).input_value() == ORG
    assert tab.get_by_label("require_timestamp", exact=True).is_checked()
    vendor = ws.integration("sf").vendor.model_dump()
    assert (vendor["organization_id"], vendor["require_timestamp"]) == (ORG, True)
    context.close()
