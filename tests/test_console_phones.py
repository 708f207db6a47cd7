"""The settings page's "Phone numbers and questions": an integration's ``region``,
``own_numbers``, ``unknown_counterpart`` and ``ambiguous`` set through the same preview and
save as the rest of the page; and the test lead's rep picker, which for the CRM offers its
active owners.

Without a database: the section's fields become the three keys (emptied: their defaults).
Over plain HTTP on SQLite and PostgreSQL, as a browser without JavaScript sends the form:
the three are shown as they are, set, saved and audited, then put back to their defaults; a
wrong region (and a hold of 0 days) is refused beside its field in the settings' words, the
rest as typed, nothing saved; the page sent back untouched changes nothing; a workspace
managed by file previews the change and refuses the save; the test lead's reps of a HubSpot
integration are the active owners, by id and name, and the page says why.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leadsync.ops.settings_change import Actor, ManagedBy
from leadsync.ops.settings_form import change_from_form
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, signed_in
from tests.helpers import settings, workspace_config
from tests.live import LiveServer
from tests.test_console_vendor_options import (
    field_error,
    page_form,
    page_url,
    preview_url,
    previewed_and_saved,
    refused_pages,
)

INTEGRATIONS: dict[str, dict[str, Any]] = {
    "dialer": settings(secret_env="DIALER_SECRET"),
    "phone": {
        "kind": "aircall",
        "secret_env": "AIRCALL_TOKEN",
        "region": "gb",
        "unknown_counterpart": {"policy": "skip", "hold_days": 2.5},
        "ambiguous": {"email": "skip"},
    },
    "crm": {"kind": "hubspot", "secret_env": "HUBSPOT_SECRET"},
}
ADMIN = Actor("admin", "tests")
NOTHING = "The settings as proposed are the current ones: nothing to save."


def selected(page: str, control: str) -> str:
    """The value of the option selected in the select ``control``."""
    found = re.search(rf'<select id="{control}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select {control}"
    [value] = re.findall(r'<option value="([^"]*)" selected>', found.group(1))
    return value


def phones(ws: Workspace, name: str) -> dict[str, Any]:
    """The three keys of integration ``name`` as saved."""
    saved = ws.integration(name)
    return {
        "region": saved.region,
        "unknown_counterpart": saved.unknown_counterpart.model_dump(mode="json"),
        "ambiguous": saved.ambiguous.model_dump(mode="json"),
    }


DEFAULTS = {
    "region": None,
    "unknown_counterpart": {"policy": "hold", "hold_days": 7.0},
    "ambiguous": {"number": "queue", "email": "queue", "deal": "queue", "owner": "queue"},
}


# ------------------------------------------------------------------ without a database


def test_the_section_s_fields_become_the_four_keys() -> None:
    sent = {
        "sections": ["phones"],
        "region": [" gb "],
        "own_numbers": ["020 7946 0100\r\n\r\n +44 113 000 0000 \r\n"],
        "unknown_counterpart.policy": ["create"],
        "unknown_counterpart.hold_days": ["2.5"],
        "ambiguous.number": ["skip"],
        "ambiguous.email": ["queue"],
        "ambiguous.deal": ["skip"],
        "ambiguous.owner": ["queue"],
    }
    assert change_from_form(sent).data == {
        "region": "gb",  # the settings' check upper-cases it
        "unknown_counterpart": {"policy": "create", "hold_days": 2.5},
        "ambiguous": {"number": "skip", "email": "queue", "deal": "skip", "owner": "queue"},
        "own_numbers": ["020 7946 0100", "+44 113 000 0000"],  # a line each, blanks none
    }
    assert change_from_form({**sent, "own_numbers": [""]}).data["own_numbers"] == []
    emptied = {**sent, "region": [""], "unknown_counterpart.hold_days": [""]}
    change = change_from_form(emptied).data
    assert change["region"] is None and change["unknown_counterpart"]["hold_days"] is None
    assert change_from_form({**sent, "sections": ["webhook"]}).data == {"secret_env": None}


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


def test_the_section_shows_each_setting_as_it_is(workspace: Workspace, admin: httpx.Client) -> None:
    page = admin.get(page_url("phone")).text
    assert '<fieldset class="section" id="phones">' in page
    assert "<legend><h2>Phone numbers and questions</h2></legend>" in page
    assert re.search(r'<input id="region" name="region" type="text" value="GB"', page)
    assert "An ISO 3166 two-letter code, such as <code>GB</code>" in page  # the format
    assert selected(page, "counterpart-policy") == "skip"
    assert re.search(r'id="hold-days" name="unknown_counterpart.hold_days"[^>]*value="2.5"', page)
    assert [selected(page, f"ambiguous-{k}") for k in DEFAULTS["ambiguous"]] == [
        "queue",
        "skip",
        "queue",
        "queue",
    ]
    for help_id in ("region-help", "counterpart-help", "hold-days-help", "ambiguous-deal-help"):
        assert re.search(rf'<p id="{help_id}" class="note">\S', page), help_id
    default = admin.get(page_url("dialer")).text
    assert re.search(r'<input id="region" name="region" type="text" value=""', default)
    assert selected(default, "counterpart-policy") == "hold"
    assert re.search(r'id="hold-days"[^>]*value="7"', default)


def test_region_a_hold_and_a_question_policy_are_set_saved_audited_and_put_back(
    workspace: Workspace, admin: httpx.Client
) -> None:
    sent = {
        **page_form(admin.get(page_url("dialer")).text),
        "region": ["gb"],
        "unknown_counterpart.policy": ["hold"],
        "unknown_counterpart.hold_days": ["3"],
        "ambiguous.deal": ["skip"],
    }
    previewed_and_saved(admin, "dialer", sent)
    assert phones(workspace, "dialer") == {
        "region": "GB",
        "unknown_counterpart": {"policy": "hold", "hold_days": 3.0},
        "ambiguous": {**DEFAULTS["ambiguous"], "deal": "skip"},
    }
    [entry] = workspace.audit_log().entries
    assert entry.who.startswith("console (password) · session ")
    assert entry.integration == "dialer"
    assert entry.summary == (
        "region: (not set) → GB; unknown_counterpart.hold_days: 7 → 3; ambiguous.deal: queue → skip"
    )
    assert "+    region: GB\n" in entry.yaml_diff
    shown = admin.get(page_url("dialer")).text
    assert 'value="GB"' in shown and selected(shown, "ambiguous-deal") == "skip"

    # Emptied: no region, the default hold; another policy.
    back = {
        **page_form(shown),
        "region": [""],
        "unknown_counterpart.policy": ["create"],
        "unknown_counterpart.hold_days": [""],
        "ambiguous.deal": ["queue"],
        "ambiguous.owner": ["skip"],
    }
    previewed_and_saved(admin, "dialer", back)
    assert phones(workspace, "dialer") == {
        "region": None,
        "unknown_counterpart": {"policy": "create", "hold_days": 7.0},
        "ambiguous": {**DEFAULTS["ambiguous"], "owner": "skip"},
    }
    assert workspace.audit_log().entries[0].summary == (
        "region: GB → (not set); unknown_counterpart.policy: hold → create; "
        "unknown_counterpart.hold_days: 3 → 7; ambiguous.deal: skip → queue; "
        "ambiguous.owner: queue → skip"
    )  # in the settings' own order, the key no longer set where it was


def test_a_wrong_region_is_refused_beside_its_field_and_nothing_is_saved(
    workspace: Workspace, admin: httpx.Client
) -> None:
    before = workspace.integration("phone")
    sent = {
        **page_form(admin.get(page_url("phone")).text),
        "region": ["Narnia"],
        "unknown_counterpart.policy": ["create"],
        "unknown_counterpart.hold_days": ["0"],
        "ambiguous.number": ["skip"],
        "secret_env": ["PHONE_SECRET"],
    }
    for text in refused_pages(admin, "phone", sent):
        assert field_error(text, "region") == (
            "'Narnia' is not a country phone numbers are known for; allowed: an ISO 3166 "
            "two-letter code such as GB, US, DE, FR."
        )
        assert field_error(text, "hold-days") == (
            "Must be more than 0 (allowed: a number more than 0, at most 365)."
        )
        summary = re.findall(r'<li><a href="#([\w-]+)">', text)
        assert summary == ["region", "hold-days"]
        assert re.search(r'id="region" name="region" type="text" value="Narnia"[^>]*invalid', text)
        assert re.search(r'id="hold-days"[^>]*value="0"', text)
        assert selected(text, "counterpart-policy") == "create"
        assert selected(text, "ambiguous-number") == "skip"
        assert selected(text, "ambiguous-email") == "skip"  # as the page showed it
        assert 'value="PHONE_SECRET"' in text
        assert "ambiguous-number-error" not in text and "counterpart-policy-error" not in text
        assert 'class="preview"' not in text
    assert workspace.integration("phone") == before
    assert workspace.audit_log().entries == []


def test_own_numbers_are_set_one_per_line_a_wrong_one_refused_and_the_learned_lines_shown(
    workspace: Workspace, admin: httpx.Client
) -> None:
    """The company's own numbers, one per line: saved as typed and audited; one that does not
    read as a phone number is refused beside the field, in the settings' words, nothing
    saved; the lines the tool named itself are listed beside the field (not settings)."""
    line = {"id": "n1", "occurred_at": "2026-11-01T09:00:00Z", "type": "line",
            "properties": {"number": "+44 20 7946 0900", "name": "Front desk"}}  # fmt: skip
    assert workspace.ingest("dialer", [json.dumps(line)], source="line.jsonl").ok
    page = admin.get(page_url("dialer")).text
    assert re.search(r'<textarea id="own-numbers" name="own_numbers"[^>]*></textarea>', page)
    assert "<code>+442079460900</code> (Front desk)" in page
    sent = {**page_form(page), "region": ["gb"], "own_numbers": ["020 7946 0100\n+441130000000"]}
    previewed_and_saved(admin, "dialer", sent)
    assert workspace.integration("dialer").own_numbers == ("020 7946 0100", "+441130000000")
    assert workspace.audit_log().entries[0].summary == (
        "region: (not set) → GB; own_numbers: [] → [020 7946 0100, +441130000000]"
    )
    shown = admin.get(page_url("dialer")).text
    assert ">020 7946 0100\n+441130000000</textarea>" in shown
    wrong = {**page_form(shown), "own_numbers": ["020 7946 0100\n999"]}
    for text in refused_pages(admin, "dialer", wrong):
        assert field_error(text, "own-numbers") == (
            "'999' does not read as a phone number in GB; allowed: a phone number, +44 20 7946 "
            "0000 (a national one with region: set)."
        )
    assert workspace.integration("dialer").own_numbers == ("020 7946 0100", "+441130000000")


def test_the_page_sent_back_untouched_changes_nothing(
    workspace: Workspace, admin: httpx.Client
) -> None:
    for name in INTEGRATIONS:
        before = workspace.integration(name)
        sent = page_form(admin.get(page_url(name)).text)
        assert "phones" in sent["sections"]
        preview = admin.post(preview_url(name), data=sent)
        assert preview.status_code == 200, (name, preview.text)
        assert NOTHING in preview.text, name
        assert 'name="previewed"' not in preview.text  # nothing to save
        assert workspace.integration(name) == before
    assert workspace.audit_log().entries == []


def test_managed_by_file_previews_the_change_but_refuses_the_save(
    workspace: Workspace, admin: httpx.Client
) -> None:
    workspace.apply_config(workspace.export_config(), ADMIN, ManagedBy("team.yaml"))
    before = workspace.integration("dialer")
    sent = {
        **page_form(admin.get(page_url("dialer")).text),
        "region": ["de"],
        "unknown_counterpart.policy": ["skip"],
        "ambiguous.email": ["skip"],
    }
    preview = admin.post(preview_url("dialer"), data=sent)
    assert preview.status_code == 200
    shown = html.unescape(preview.text)
    assert "+    region: DE" in shown and "+      policy: skip" in shown
    assert "Save these settings" not in preview.text
    assert "leadsync apply team.yaml" in preview.text
    refused = admin.post(page_url("dialer"), data={**sent, "previewed": ["0" * 20]})
    assert refused.status_code == 409
    assert "managed by file (team.yaml)" in refused.text
    assert workspace.integration("dialer") == before
    assert [e.summary for e in workspace.audit_log().entries] == ["managed by file: on (team.yaml)"]


def test_the_test_lead_s_reps_of_the_crm_are_its_active_owners(
    workspace: Workspace, admin: httpx.Client
) -> None:
    reps = admin.get("/test-lead/reps", params={"integration": "crm"})
    assert reps.status_code == 200
    text = html.unescape(reps.text)
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', text)
    # Active owners by id and name (Cy, 103, is inactive); no external user of the CRM.
    assert options == [
        ("101", "Ana Ng — owner 101"),
        ("102", "Bo Li — owner 102"),
        ("104", "Di Ro — owner 104"),
    ]
    assert "crm is the CRM (hubspot): its reps are owner ids." in text
    page = html.unescape(admin.get("/test-lead", params={"integration": "crm"}).text)
    assert '<option value="104">Di Ro — owner 104</option>' in page
    assert "its reps are owner ids" in page
    # Another kind: its external users, as before (here the directory's and the map's).
    dialer = html.unescape(admin.get("/test-lead/reps", params={"integration": "dialer"}).text)
    assert "its reps are owner ids" not in dialer
    assert "Type an id, or pick one the integration knows." in dialer
    assert re.findall(r'<option value="([^"]*)">', dialer) == ["u-1", "u-3", "u-9"]
