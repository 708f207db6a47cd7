"""An integration's settings page and the audit log.

On SQLite and PostgreSQL: the form becomes proposed settings through the same reader as the
admin API's; a save is recorded (who, what, when, the YAML diff) whether it comes from the
console, the admin API or ``leadsync apply``; a save that is not the previewed change, and
any save while the workspace is managed by file, is refused with nothing changed. In
Debian's Chromium: a person maps an unmapped rep and changes a strategy, sees the replay and
the YAML diff, saves, and the engine then decides with the new settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from leadsync.cli import app as cli_app
from leadsync.cli.app import user_name
from leadsync.errors import ConfigError, WorkspaceError
from leadsync.ops.settings_change import Actor, ManagedBy, fingerprint, summarize
from leadsync.ops.settings_form import change_from_form
from leadsync.settings import dump_config, integration_to_dict
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
from tests.helpers import owner_of, settings, workspace_config
from tests.live import ADMIN_TOKEN, LiveServer, compact, wait_applied

LEAVE = {"unmapped": {"policy": "leave"}, "map": {"u-9": "102"}}
PREVIEW = "/integrations/dialer/settings/preview"
SAVE = "/integrations/dialer/settings"
ADMIN = Actor("admin", "console (token) · session 0123abcd")


def days_ago(days: float) -> str:
    """A time within the preview's 30 days (the replay reads events by when they happened)."""
    return (datetime.now(UTC) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def contact(event_id: str, external_id: str, owner: str, days: float) -> dict[str, Any]:
    """A new contact event by the rep ``owner``, ``days`` ago."""
    return {
        "id": event_id,
        "occurred_at": days_ago(days),
        "type": "record",
        "object": "contact",
        "external_id": external_id,
        "properties": {"email": f"{external_id}@globex.test"},
        "owner": owner,
    }


def owner_change(event_id: str, external_id: str, owner: str, days: float) -> dict[str, Any]:
    """The rep ``owner`` takes the contact, ``days`` ago."""
    event = {**contact(event_id, external_id, owner, days), "type": "owner"}
    del event["properties"]
    return event


# u-7 maps to nobody (the policy leaves the owner); p-2 is u-1's (Ana, by email), then u-9
# (Bo, by the map) sends a newer owner, which fill_if_empty does not take.
HISTORY = [
    contact("h1", "p-1", "u-7", 3),
    contact("h2", "p-2", "u-1", 3),
    owner_change("h3", "p-2", "u-9", 2),
]


def configured(ws: Workspace) -> Workspace:
    ws.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET", users=LEAVE)}))
    return ws


def form(**fields: str | list[str]) -> dict[str, list[str]]:
    """A submitted settings form: every section's fields as the page sends them now, with
    ``fields`` (dots as in the page's names, ``__`` here) replaced."""
    base: dict[str, list[str]] = {
        "sections": ["webhook", "users", "ownership", "activities", "associations"],
        "secret_env": ["DIALER_SECRET"],
        "users.auto_match": ["email"],
        "users.map.u-7": [""],
        "users.map.u-9": ["102"],
        "users.unmapped.policy": ["leave"],
        "users.unmapped.owner": [""],
        "users.unmapped.team": [""],
        "ownership.default": ["fill_if_empty"],
        **{f"ownership.{t}": [""] for t in ("contact", "company", "ticket", "lead")},
        "ownership.deal": ["never_overwrite"],
        "ownership.protect_manual_days": ["14"],
        "activities.call.enabled": ["true"],
        "activities.call.min_duration_s": ["10"],
        "activities.call.skip_outcomes": ["no_answer", "busy"],
        "activities.meeting.enabled": ["true"],
        "activities.note.enabled": ["true"],
        "activities.task.enabled": ["true"],
        "associations.mode": ["automatic"],
        "associations.primary": ["contact"],
        "associations.company": ["primary"],
        "associations.deal": ["most_recent_open"],
        "associations.max_deals": ["5"],
    }
    for key, value in fields.items():
        base[key.replace("__", ".")] = [value] if isinstance(value, str) else value
    return base


# --------------------------------------------------------------- the ops, both databases


def test_the_form_as_it_stands_proposes_the_current_settings(workspace: Workspace) -> None:
    ws = configured(workspace)
    proposal = ws.proposed_settings_from_data("dialer", change_from_form(form()).data, "<console>")
    assert proposal.settings == ws.integration("dialer")


def test_the_form_becomes_proposed_settings(workspace: Workspace) -> None:
    ws = configured(workspace)
    changed = form(
        **{
            "users.map.u-7": "104",
            "users.map.u-9": "",
            "users.unmapped.policy": "round_robin",
            "users.unmapped.team": "sdr",
            "users.unmapped.owner": "101",  # not the policy's: left out, not refused
            "ownership.default": "integration_wins",
            "ownership.deal": "",
            "ownership.protect_manual_days": "2.5",
            "ownership.assign_on_activity": "true",
            "activities.call.min_duration_s": "",
            "activities.call.skip_outcomes": ["busy"],
            "associations.deal": "all_open",
        }
    )
    del changed["activities.meeting.enabled"]  # unticked
    proposed = ws.proposed_settings_from_data("dialer", change_from_form(changed).data).settings
    assert proposed.users.map == {"u-7": "104"}
    assert (proposed.users.unmapped.policy, proposed.users.unmapped.team) == ("round_robin", "sdr")
    assert proposed.users.unmapped.owner is None
    assert proposed.ownership.strategy_for("deal") == "integration_wins"
    assert (proposed.ownership.protect_manual_days, proposed.ownership.assign_on_activity) == (
        2.5,
        True,
    )
    call = proposed.activities.call
    assert (call.min_duration_s, call.skip_outcomes) == (None, ("busy",))
    assert proposed.activities.meeting.enabled is False
    assert proposed.associations.deal == "all_open"
    assert proposed.kind == "generic" and proposed.secret_env == "DIALER_SECRET"


def test_a_form_saved_keeps_the_order_the_settings_were_written_in(workspace: Workspace) -> None:
    """The page sends map entries and ticked outcomes in its own order: saved as they were
    written (the export, kept in git, changed beyond the edit, and apply saw a change)."""
    written = settings(
        secret_env="DIALER_SECRET",
        users={"map": {"u-9": "102", "u-1": "101"}, "unmapped": {"policy": "leave"}},
    )
    written["activities"]["call"]["skip_outcomes"] = ["busy", "no_answer"]
    workspace.apply_config(workspace_config({"dialer": written}))
    before = integration_to_dict(workspace.integration("dialer"))
    sent = form(**{"ownership.default": "integration_wins", "users.map.u-1": "101"})
    sent["activities.call.skip_outcomes"] = ["no_answer", "busy"]  # the page's order
    del sent["users.map.u-7"]
    sent = {"users.map.u-1": sent.pop("users.map.u-1"), **sent}  # u-1 sent before u-9
    proposed = workspace.proposed_settings_from_data("dialer", change_from_form(sent).data).settings
    after = integration_to_dict(proposed)
    assert list(after["users"]["map"]) == ["u-9", "u-1"]
    assert after["activities"]["call"]["skip_outcomes"] == ["busy", "no_answer"]
    assert summarize(before, after) == "ownership.default: fill_if_empty → integration_wins"


def test_a_wrong_field_is_refused_at_its_key_path(workspace: Workspace) -> None:
    ws = configured(workspace)
    data = change_from_form(form(**{"users.map.u-7": "999", "associations.max_deals": "many"})).data
    with pytest.raises(ConfigError) as refused:
        ws.proposed_settings_from_data("dialer", data, "<console>")
    text = str(refused.value)
    assert "integrations.dialer.users.map.u-7" in text and "999" in text
    assert "integrations.dialer.associations.max_deals" in text


def test_a_save_is_audited_with_who_and_the_yaml_diff(workspace: Workspace) -> None:
    ws = configured(workspace)
    data = integration_to_dict(ws.integration("dialer"))
    data["ownership"] = {**data["ownership"], "default": "integration_wins"}
    ws.replace_integration("dialer", data, by=ADMIN)
    ws.replace_integration("dialer", data, by=ADMIN)  # the same again: nothing to record
    [entry] = ws.audit_log().entries
    assert (entry.role, entry.who, entry.integration) == ("admin", ADMIN.who, "dialer")
    assert entry.summary == "ownership.default: fill_if_empty → integration_wins"
    # The file wrote the default (the export keeps it): the line changes.
    assert (
        "     ownership:\n-      default: fill_if_empty\n+      default: integration_wins\n"
        in entry.yaml_diff
    )
    assert ws.integration("dialer").ownership.default == "integration_wins"


def test_the_audit_log_pages_newest_first(workspace: Workspace) -> None:
    ws = configured(workspace)
    data = integration_to_dict(ws.integration("dialer"))
    for days in range(1, 56):
        data["ownership"] = {**data["ownership"], "protect_manual_days": days}
        ws.replace_integration("dialer", data, by=ADMIN)
    first = ws.audit_log()
    assert len(first.entries) == 50 and first.older is not None
    assert first.entries[0].summary.endswith("→ 55")
    rest = ws.audit_log(before=first.older)
    assert [e.summary.rsplit(" ", 1)[1] for e in rest.entries] == ["5", "4", "3", "2", "1"]
    assert rest.older is None
    assert ws.audit_log(integration="other").entries == []


def test_a_save_must_be_the_previewed_change(workspace: Workspace) -> None:
    ws = configured(workspace)
    before = dump_config(ws.export_config())
    data = integration_to_dict(ws.integration("dialer"))
    data["associations"] = {"deal": "none"}
    with pytest.raises(WorkspaceError, match="preview again"):
        ws.replace_integration("dialer", data, by=ADMIN, previewed=fingerprint(before, before))
    assert dump_config(ws.export_config()) == before and ws.audit_log().entries == []


def test_the_preview_replays_the_last_30_days_and_diffs_the_yaml(workspace: Workspace) -> None:
    ws = configured(workspace)
    ws.ingest("dialer", [json.dumps(e) for e in HISTORY], source="history.jsonl")
    data = change_from_form(
        form(**{"users.map.u-7": "104", "ownership.default": "integration_wins"})
    ).data
    preview = ws.preview_settings_change("dialer", data, days_ago(30)).preview
    changes = {c["record"]: c for c in preview.replay.owner_changes}
    assert preview.replay.owners_differ == 2
    mapped, taken = changes["dialer:contact:p-1"], changes["dialer:contact:p-2"]
    assert (mapped["current_owner_id"], mapped["proposed_owner_id"]) == (None, "104")
    assert "u-7" in mapped["current_reason"] and "u-7" in mapped["proposed_reason"]
    assert (taken["current_owner_id"], taken["proposed_owner_id"]) == ("101", "102")
    assert "fill_if_empty" in taken["current_reason"]
    assert "integration_wins" in taken["proposed_reason"]
    assert preview.summary == (
        "users.map.u-7: (not set) → 104; ownership.default: fill_if_empty → integration_wins"
    )
    assert "+        u-7: '104'\n" in preview.yaml_diff
    assert "+      default: integration_wins\n" in preview.yaml_diff
    assert ws.integration("dialer").users.map == {"u-9": "102"}  # nothing saved
    saved = ws.proposed_settings_from_data("dialer", data).settings
    ws.replace_integration("dialer", integration_to_dict(saved), previewed=preview.fingerprint)
    assert ws.integration("dialer").users.map == {"u-7": "104", "u-9": "102"}


def test_managed_by_file_refuses_saves_and_apply_records_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    ws = configured(workspace)
    cli = Actor("admin", "cli: leadsync apply leadsync.yaml")
    changes = ws.apply_config(ws.export_config(), cli, ManagedBy("leadsync.yaml"))
    assert changes.settings_changed == ["managed_by_file"]
    with pytest.raises(WorkspaceError, match=r"`leadsync apply leadsync\.yaml`"):
        ws.replace_integration("dialer", integration_to_dict(ws.integration("dialer")))
    with pytest.raises(WorkspaceError, match="managed by file"):
        ws.add_integration("other", {"kind": "generic"})  # every save, not only the console's
    [entry] = ws.audit_log().entries
    assert (entry.who, entry.integration) == (cli.who, None)
    assert entry.summary == "managed by file: on (leadsync.yaml)"
    ws.apply_config(ws.export_config(), cli, ManagedBy("leadsync.yaml", on=False))
    assert ws.audit_log().entries[0].summary == "managed by file: off"
    ws.replace_integration("dialer", integration_to_dict(ws.integration("dialer")))


def test_leadsync_apply_is_audited_and_marks_the_workspace_managed(
    db_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "leadsync.yaml"
    file.write_text(dump_config(workspace_config()), encoding="utf-8")
    result = CliRunner().invoke(cli_app, ["--db", db_url, "apply", str(file), "--managed"])
    assert result.exit_code == 0, result.output
    # In words, as the audit log says it (it printed "settings changed: managed_by_file").
    assert f"managed by file: on ({file})" in result.stdout and "managed_by" not in result.stdout
    with Workspace(db_url) as ws:
        [entry] = ws.audit_log().entries
        assert entry.who == f"cli: leadsync apply {file} ({user_name()})"  # who ran it
        assert entry.role == "admin"
        assert "integrations added: dialer" in entry.summary
        assert f"managed by file: on ({file})" in entry.summary
        assert "+  dialer:\n" in entry.yaml_diff
        assert ws.settings_form("dialer").managed_file == str(file)
    off = CliRunner().invoke(
        cli_app, ["--db", db_url, "apply", str(file), "--unmanaged", "--by", "ci: kim @ 1a2b3c"]
    )
    assert "managed by file: off (no file)" in off.stdout and "managed_by" not in off.stdout
    with Workspace(db_url) as ws:
        assert ws.audit_log().entries[0].who == f"cli: leadsync apply {file} (ci: kim @ 1a2b3c)"


def test_applying_another_file_to_a_workspace_managed_by_file_is_refused(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Managed by leadsync.yaml, a plain ``apply other.yaml`` would leave the console and
    the API telling admins to apply leadsync.yaml — which would undo other.yaml. It is
    refused, nothing applied; ``--managed`` moves the mark, explicitly. The mark holds the
    file's full path, so the same file is recognised from any folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leadsync.yaml").write_text(dump_config(workspace_config()), encoding="utf-8")
    other = workspace_config({"dialer": settings(), "phone": settings()})
    (tmp_path / "other.yaml").write_text(dump_config(other), encoding="utf-8")
    runner = CliRunner()

    def apply(*args: str) -> Any:
        return runner.invoke(cli_app, ["--db", db_url, "apply", *args])

    assert apply("leadsync.yaml", "--managed").exit_code == 0
    marked = str(tmp_path / "leadsync.yaml")
    refused = apply("other.yaml")
    assert refused.exit_code == 2, refused.output
    message = " ".join(refused.stderr.split())
    assert f"other.yaml: the workspace is managed by {marked}" in message
    assert "pass --managed to make other.yaml the workspace's file" in message
    with Workspace(db_url) as ws:
        assert set(ws.export_config().integrations) == {"dialer"}  # nothing applied
        assert ws.managed_file() == marked
    # A dry run of it (a pull request's copy, checked out elsewhere) is shown, with a warning.
    planned = apply("other.yaml", "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "integrations added: phone" in planned.stdout
    warned = " ".join(planned.stderr.split())
    assert (
        f"warning: applying other.yaml is refused without --managed: the workspace is "
        f"managed by {marked}" in warned
    )
    with Workspace(db_url) as ws:
        assert set(ws.export_config().integrations) == {"dialer"}  # the dry run changed nothing
    monkeypatch.chdir(tmp_path.parent)  # the same file from elsewhere: taken
    assert apply(str(tmp_path / "leadsync.yaml")).exit_code == 0
    monkeypatch.chdir(tmp_path)
    assert apply("other.yaml", "--managed").exit_code == 0
    with Workspace(db_url) as ws:
        assert set(ws.export_config().integrations) == {"dialer", "phone"}
        assert ws.managed_file() == str(tmp_path / "other.yaml")


@pytest.mark.parametrize(
    ("before", "after", "summary"),
    [
        ({"a": 1}, {"a": 1}, "no change"),
        ({"a": {"b": 1}}, {"a": {"b": 2}}, "a.b: 1 → 2"),
        (
            {"users": {"map": {}}},
            {"users": {"map": {"u-7": "104"}}},
            "users.map.u-7: (not set) → 104",
        ),
        ({"x": [1, 2], "y": None}, {"y": 2.0}, "x: [1, 2] → (not set); y: (not set) → 2"),
        ({"a": 1, "b": 2}, {"a": 3, "b": 4}, "a: 1 → 3; b: 2 → 4"),
    ],
)
def test_summarize_names_each_changed_key_path(
    before: dict[str, Any], after: dict[str, Any], summary: str
) -> None:
    assert summarize(before, after) == summary


# ------------------------------------------------------ over HTTP, both databases


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(configured(workspace)) as server:
        yield server


def test_the_admin_api_put_is_audited_and_refused_when_managed(
    workspace: Workspace, live: LiveServer
) -> None:
    api = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    data = integration_to_dict(workspace.integration("dialer"))
    data["associations"] = {"max_deals": 3}
    assert live.client.put("/api/integrations/dialer/settings", json=data, headers=api).is_success
    [entry] = workspace.audit_log().entries
    assert entry.who == "admin API (admin token)"
    assert entry.summary == "associations.max_deals: 5 → 3"

    workspace.apply_config(workspace.export_config(), ADMIN, ManagedBy("team.yaml"))
    data["associations"]["max_deals"] = 4
    refused = live.client.put("/api/integrations/dialer/settings", json=data, headers=api)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "managed by file (team.yaml)" in refused.json()["detail"]
    assert "leadsync apply team.yaml" in refused.json()["detail"]
    assert workspace.integration("dialer").associations.max_deals == 3


def test_the_audit_log_links_only_integrations_that_still_exist(
    workspace: Workspace, live: LiveServer
) -> None:
    workspace.add_integration("crm4", {"kind": "generic"}, by=ADMIN)
    data = integration_to_dict(workspace.integration("dialer"))
    data["ownership"] = {**data["ownership"], "default": "integration_wins"}
    workspace.replace_integration("dialer", data, by=ADMIN)
    config = workspace.export_config()
    del config.integrations["crm4"]
    workspace.apply_config(config, Actor("admin", "cli: leadsync apply leadsync.yaml"))
    assert "crm4" not in workspace.rules().integrations
    with httpx.Client(base_url=live.base_url, timeout=60) as viewer:
        page = signed_in(viewer, VIEWER_TOKEN).get("/audit").text
        links = re.findall(r'href="(/integrations/[^"]+/settings)"', page)
        assert links == ["/integrations/dialer/settings"]
        assert all(viewer.get(link).status_code == 200 for link in links)
    assert '<span class="removed-integration">crm4 (removed)</span>' in page


def test_the_viewer_sees_the_page_disabled_and_cannot_save(
    workspace: Workspace, live: LiveServer
) -> None:
    with httpx.Client(base_url=live.base_url, timeout=60) as viewer:
        page = signed_in(viewer, VIEWER_TOKEN).get(SAVE)
        assert page.status_code == 200
        fieldsets = re.findall(r'<fieldset class="section" id="\w+"( disabled)?>', page.text)
        assert fieldsets == [" disabled"] * 7  # webhook, vendor options, users ... phones
        token = form_token(page.text, PREVIEW)
        for path in (PREVIEW, SAVE, "/integrations/dialer/rollout/abort"):
            sent = {**form(**{"ownership.default": "integration_wins"}), "previewed": ["x"]}
            refused = viewer.post(path, data={**sent, "csrf_token": token})
            assert refused.status_code == 403 and "viewer" in refused.text
    assert workspace.integration("dialer").ownership.default == "fill_if_empty"
    assert workspace.audit_log().entries == []


def test_a_console_save_without_its_preview_is_refused(
    workspace: Workspace, live: LiveServer
) -> None:
    with httpx.Client(base_url=live.base_url, timeout=60) as admin:
        token = form_token(signed_in(admin, PASSWORD).get(SAVE).text, PREVIEW)
        sent = {**form(**{"ownership.default": "integration_wins"}), "csrf_token": [token]}
        missing = admin.post(SAVE, data=sent)  # said in words (it named the field "previewed")
        assert missing.status_code == 422, missing.text
        assert "preview the change first, then save what it shows" in missing.text
        stale = admin.post(SAVE, data={**sent, "previewed": ["0" * 20]})
        assert stale.status_code == 409 and "preview again" in stale.text
    assert workspace.integration("dialer").ownership.default == "fill_if_empty"


def test_a_page_opened_before_another_save_previews_and_saves_nothing(
    workspace: Workspace, live: LiveServer
) -> None:
    """Two tabs: B opened before A saved. B's form still held the older settings, so its
    preview showed A's change undone as if it were B's edit, and its save undid it. Both are
    refused (409), the page now showing the settings as saved with B's edit over them."""
    with httpx.Client(base_url=live.base_url, timeout=60) as admin:
        page = signed_in(admin, PASSWORD).get(SAVE).text
        token = form_token(page, PREVIEW)
        [loaded] = re.findall(r'name="loaded" value="(\w+)"', page)
        [carried] = re.findall(r'name="loaded_settings" value="([^"]+)"', page)
        tab = {"csrf_token": [token], "loaded": [loaded], "loaded_settings": [unescape(carried)]}
        # Tab A: protect for 20 days, previewed and saved.
        a = {**form(**{"ownership.protect_manual_days": "20"}), **tab}
        [previewed] = re.findall(
            r'name="previewed" value="(\w+)"', admin.post(PREVIEW, data=a).text
        )
        assert admin.post(SAVE, data={**a, "previewed": [previewed]}).status_code == 303
        # Tab B, opened with A: calls of 25 s, from the form as it was (14 days).
        b = {**form(**{"activities.call.min_duration_s": "25"}), **tab}
        preview = admin.post(PREVIEW, data=b)
        assert preview.status_code == 409, preview.text
        assert "these settings changed since you opened the page" in preview.text
        assert 'value="20"' in preview.text  # the form as saved now (B's 25 over it)
        saved = admin.post(SAVE, data={**b, "previewed": [previewed]})
        assert saved.status_code == 409 and "Not saved" in saved.text
    settings = workspace.integration("dialer")
    assert settings.ownership.protect_manual_days == 20  # A's change stands
    assert settings.activities.call.min_duration_s == 10


def test_the_webhook_secret_variable_is_named_previewed_and_saved_in_the_console(
    workspace: Workspace, live: LiveServer
) -> None:
    """An integration added without a secret variable can be given one on its settings page
    (the way the page that adds one takes it): a wrong name is refused beside its field,
    a good one previewed, saved and audited; emptied, it names none again."""
    with httpx.Client(base_url=live.base_url, timeout=60) as admin:
        page = signed_in(admin, PASSWORD).get(SAVE).text
        assert 'id="secret-env"' in page and 'value="DIALER_SECRET"' in page
        token = form_token(page, PREVIEW)
        wrong = admin.post(PREVIEW, data={**form(secret_env="1X"), "csrf_token": [token]})
        assert 'id="secret-env-error"' in wrong.text
        assert "is not an environment variable name" in wrong.text
        for named, then in (("DIALER_TOKEN_2", "DIALER_TOKEN_2"), ("", None)):
            sent = {**form(secret_env=named), "csrf_token": [token]}
            preview = admin.post(PREVIEW, data=sent)
            assert preview.status_code == 200, preview.text
            [previewed] = re.findall(r'name="previewed" value="(\w+)"', preview.text)
            saved = admin.post(SAVE, data={**sent, "previewed": [previewed]})
            assert saved.status_code == 303, saved.text
            assert workspace.integration("dialer").secret_env == then
    first, second = reversed(workspace.audit_log().entries)
    assert first.summary == "secret_env: DIALER_SECRET → DIALER_TOKEN_2"
    assert second.summary == "secret_env: DIALER_TOKEN_2 → (not set)"


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


def post(ws: Workspace, live: LiveServer, *events: dict[str, Any]) -> None:
    for event in events:
        assert live.post_generic("dialer", compact(event)).status_code == 200
    wait_applied(ws)


def test_a_refused_preview_logs_no_error_and_a_preview_takes_the_focus(
    sqlite_ws: Workspace, sqlite_live: LiveServer, tab: Any
) -> None:
    """A form mistake (a 422) is the page's answer, not a failure of the page: htmx logged it
    as an error in the console each time. A preview asked from the keyboard takes the focus
    (the button, disabled while it ran, left it on the page's body)."""
    errors: list[str] = []

    def logged(message: Any) -> None:
        # Chromium's own network line for any 4xx ("Failed to load resource") is not the page's.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    tab.on("console", logged)
    sign_in(tab, sqlite_live, ADMIN_TOKEN, SAVE)
    tab.get_by_label("When a user maps to no owner").select_option("fallback")
    tab.get_by_role("button", name="Preview the change").click()  # no fallback owner chosen
    tab.locator("#form-errors").wait_for()
    assert errors == []
    tab.get_by_label("Fallback owner").select_option(label="Di Ro")
    button = tab.get_by_role("button", name="Preview the change")
    button.focus()
    tab.keyboard.press("Enter")
    tab.locator("#preview section.preview").wait_for()
    tab.wait_for_function("document.activeElement.matches('#preview section.preview')")
    assert errors == []


def test_map_a_rep_change_a_strategy_preview_save_and_the_engine_follows(
    sqlite_ws: Workspace, sqlite_live: LiveServer, tab: Any
) -> None:
    ws, live = sqlite_ws, sqlite_live
    post(ws, live, *HISTORY)
    sign_in(tab, live, ADMIN_TOKEN, SAVE)
    rep = tab.locator('tr[data-user="u-7"]')
    assert rep.locator(".maps-today").inner_text() == (
        "unmapped its records keep the owner they have, flagged, by the unmapped policy (leave)"
    )
    assert rep.locator("td").nth(1).inner_text() == "1"  # events
    assert (
        tab.locator('tr[data-user="u-1"] .maps-today').inner_text() == "email auto-match → Ana Ng"
    )
    tab.get_by_label("Owner for u-7").select_option(label="Di Ro")
    tab.get_by_label("Strategy for every record type").select_option("integration_wins")
    tab.get_by_role("button", name="Preview the change").click()

    preview = tab.locator("#preview section.preview")
    preview.wait_for()
    mapped = preview.locator('tr[data-record="dialer:contact:p-1"]')
    assert mapped.locator("td.current strong").inner_text() == "no owner"
    assert "u-7" in mapped.locator("td.current .reason").inner_text()
    assert mapped.locator("td.proposed strong").inner_text() == "Di Ro"
    taken = preview.locator('tr[data-record="dialer:contact:p-2"]')
    assert "fill_if_empty" in taken.locator("td.current .reason").inner_text()
    assert "integration_wins" in taken.locator("td.proposed .reason").inner_text()
    added = preview.locator("pre.diff .add").all_inner_texts()
    assert "+        u-7: '104'" in added and "+      default: integration_wins" in added
    assert ws.integration("dialer").ownership.default == "fill_if_empty"  # not yet saved

    tab.get_by_role("button", name="Save these settings").click()
    tab.wait_for_url(f"{live.base_url}{SAVE}?done=saved")
    assert tab.get_by_role("status").filter(has_text="Saved").count() == 1
    assert tab.locator('tr[data-user="u-7"] .maps-today').inner_text() == "map → Di Ro"

    # The engine decides with the new settings: a new contact of u-7 is Di's, and u-9's
    # newer owner now replaces Ana's (integration_wins). Posted to the service at once: the
    # save told its worker to re-read the settings before its next batch.
    later = [contact("n1", "p-3", "u-7", 0.1), owner_change("n2", "p-2", "u-9", 0.1)]
    post(ws, live, *later)
    assert owner_of(ws, "p-3") == "104" and owner_of(ws, "p-2") == "102"
    [found] = ws.find(external="dialer:p-3")
    tab.goto(f"{live.base_url}/records/contact/{found['id']}")
    assert tab.locator("dd.owner").inner_text() == "Di Ro"

    tab.get_by_role("link", name="Audit log").click()
    entry = tab.locator("li.audit-entry").first
    assert entry.locator(".audit-who").inner_text().startswith("console (token) · session ")
    summary = entry.locator(".summary").inner_text()
    assert "users.map.u-7: (not set) → Di Ro (104)" in summary
    assert "ownership.default: fill_if_empty → integration_wins" in summary
    entry.get_by_text("YAML diff").click()
    assert "+        u-7: '104'" in entry.locator("pre.diff .add").all_inner_texts()


def test_managed_by_file_shows_the_yaml_and_the_command_instead_of_saving(
    sqlite_ws: Workspace, sqlite_live: LiveServer, tab: Any
) -> None:
    ws = sqlite_ws
    ws.apply_config(ws.export_config(), ADMIN, ManagedBy("config/leadsync.yaml"))
    sign_in(tab, sqlite_live, PASSWORD, SAVE)
    managed = tab.locator("section.managed")
    assert "leadsync apply config/leadsync.yaml" in managed.locator("code.command").inner_text()
    tab.get_by_label("Strategy for deals").select_option("")
    tab.get_by_role("button", name="Preview the change").click()
    tab.locator("#preview section.preview").wait_for()
    assert tab.get_by_role("button", name="Save these settings").count() == 0
    shown = tab.locator("#preview .managed")
    assert "leadsync apply config/leadsync.yaml" in shown.inner_text()
    assert "-      deal: never_overwrite" in tab.locator("pre.diff .del").all_inner_texts()
    shown.get_by_text("The whole workspace file with the change").click()
    whole = shown.locator("pre.proposed-yaml").inner_text()
    assert "never_overwrite" not in whole and "dialer:" in whole
    assert ws.integration("dialer").ownership.deal == "never_overwrite"


def test_the_viewer_can_look_but_every_control_is_disabled(
    sqlite_ws: Workspace, sqlite_live: LiveServer, tab: Any
) -> None:
    sign_in(tab, sqlite_live, VIEWER_TOKEN, SAVE)
    assert tab.get_by_label("Strategy for every record type").is_disabled()
    assert tab.get_by_label("Owner for u-9").is_disabled()
    assert tab.get_by_label("Log calls").is_disabled()
    assert tab.get_by_role("button", name="Preview the change").is_disabled()
    status = tab.evaluate(
        """async (url) => {
            const form = new FormData(document.getElementById("settings-form"));
            form.set("csrf_token", document.querySelector("input[name=csrf_token]").value);
            form.set("ownership.default", "integration_wins");
            form.set("previewed", "x");
            return (await fetch(url, {method: "POST", body: new URLSearchParams(form)})).status;
        }""",
        SAVE,
    )
    assert status == 403
    assert sqlite_ws.integration("dialer").ownership.default == "fill_if_empty"


SECRET = "whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0"


def test_a_secret_pasted_as_the_variable_is_refused_and_not_written_back(
    workspace: Workspace, live: LiveServer
) -> None:
    """The message said "(not shown)", and the field beside it held the secret."""
    with httpx.Client(base_url=live.base_url, timeout=60) as admin:
        page = signed_in(admin, PASSWORD).get(SAVE)
        token = form_token(page.text, PREVIEW)
        [loaded] = re.findall(r'name="loaded" value="(\w+)"', page.text)
        sent = {**form(secret_env=SECRET), "csrf_token": [token], "loaded": [loaded]}
        refused = admin.post(PREVIEW, data=sent)
    assert refused.status_code == 422, refused.text[:500]
    assert "looks like a token or key itself" in refused.text
    assert SECRET not in refused.text
    assert workspace.integration("dialer").secret_env == "DIALER_SECRET"


def test_owners_of_one_name_are_told_apart_by_their_ids(workspace: Workspace) -> None:
    """Two owners named alike (they may share an email too): the owner lists and "maps
    today" showed two identical names."""
    from dataclasses import replace

    workspace.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
    form = workspace.settings_form("dialer")
    assert form.owner_label(form.owners[0].id) == form.owners[0].name
    twin = replace(form.owners[0], id="999")
    form.owners.append(twin)
    assert form.owner_label("999") == f"{twin.name} — owner 999"
    assert form.owner_label(form.owners[0].id) == f"{twin.name} — owner {form.owners[0].id}"
    assert form.owner_label("nobody") == "nobody"


def test_the_log_of_one_integration_has_the_applies_that_changed_it(
    db_url: str, tmp_path: Path
) -> None:
    """An apply changes any number of integrations in one entry; filtered by one of them
    (the settings page's "Changes made so far"), the log has it, and not beside another."""
    file = tmp_path / "leadsync.yaml"
    runner = CliRunner()
    for config in (
        workspace_config({"dialer": settings(), "phone": settings()}),
        workspace_config({"dialer": settings(region="GB"), "phone": settings()}),
    ):
        file.write_text(dump_config(config), encoding="utf-8")
        result = runner.invoke(cli_app, ["--db", db_url, "apply", str(file)])
        assert result.exit_code == 0, result.output
    with Workspace(db_url) as ws:
        both, only_dialer = (e.id for e in reversed(ws.audit_log().entries))
        assert [e.id for e in ws.audit_log(integration="dialer").entries] == [only_dialer, both]
        assert [e.id for e in ws.audit_log(integration="phone").entries] == [both]
