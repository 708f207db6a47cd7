"""A staged rollout's change shown before and when it is made: promote and abort (CLI text
and --json, --dry-run, the console's confirmation, the admin API) list each key they change,
before → after; ``rollout status`` counts what the rollout decided so far (in SQL, both
databases); ``decisions`` filtered to the rollout's; the managed-by-file words say how to
promote or abort in the file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.engine import in_rollout
from leadsync.ops import listings
from leadsync.ops.settings_change import ManagedBy
from leadsync.settings import load_config
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, VIEWER_TOKEN, console_server, form_token, signed_in
from tests.helpers import call_line, contact_line, settings, workspace_config
from tests.live import ADMIN_TOKEN, LiveServer, serve

# The audit's example: the rollout names ownership, which replaces the current section whole.
AUDIT_YAML = """\
owners: [{id: "101", email: ana@acme.test}]
integrations:
  dialer:
    kind: generic
    ownership: {default: fill_if_empty, deal: never_overwrite, protect_manual_days: 14}
    rollout: {percent: 30, settings: {ownership: {default: integration_wins}}}
"""
DROPPED = [
    "ownership.default: fill_if_empty → integration_wins",
    "ownership.deal: never_overwrite → (not set)",
    "ownership.protect_manual_days: 14 → 0",
]
SETTINGS = "/integrations/dialer/settings"
API = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def audit_example(ws: Workspace) -> Workspace:
    ws.apply_config(load_config(AUDIT_YAML, "leadsync.yaml"))
    return ws


def cli(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["--db", db_url, *args], env={"COLUMNS": "250"})


# ----------------------------------------------------------------- promote and abort


def test_promote_says_which_keys_change(db_url: str) -> None:
    with Workspace(db_url) as ws:
        audit_example(ws)
    done = cli(db_url, "rollout", "promote", "dialer")
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "dialer: rollout promoted; its settings are now current for every record (the "
        "sample, 30% of records by id, had them)"
    )
    assert lines[1].startswith("keys that change for the records outside the sample (the ")
    assert lines[2:5] == [f"  {each}" for each in DROPPED]
    assert "(not set): the key's default applies" in lines
    with Workspace(db_url) as ws:
        ownership = ws.integration("dialer").ownership
        assert (ownership.deal, ownership.protect_manual_days) == (None, 0)
        [entry] = ws.audit_log().entries  # the audit log has the same keys
    assert all(each in entry.summary for each in DROPPED)


def test_promote_json_lists_the_changes_and_the_settings_after(db_url: str) -> None:
    with Workspace(db_url) as ws:
        audit_example(ws)
    done = cli(db_url, "rollout", "promote", "dialer", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert (result["action"], result["dry_run"], result["percent"]) == ("promote", False, 30)
    # Whole numbers as the settings file writes them (30, 14), never 30.0 or 14.0.
    assert '"percent": 30,' in done.stdout and '"before": 14,' in done.stdout
    assert result["sections"] == ["ownership"]
    assert result["changes"] == [
        {"path": "ownership.default", "before": "fill_if_empty", "after": "integration_wins"},
        {"path": "ownership.deal", "before": "never_overwrite", "after": None},
        {"path": "ownership.protect_manual_days", "before": 14, "after": 0},
    ]
    assert result["summary"] == "; ".join(DROPPED)
    assert "-    rollout:" in result["yaml_diff"]
    assert result["settings"]["ownership"] == {"default": "integration_wins"}


def test_dry_run_shows_the_change_and_makes_none(db_url: str) -> None:
    with Workspace(db_url) as ws:
        audit_example(ws)
        before = ws.export_config()
    promote = cli(db_url, "rollout", "promote", "dialer", "--dry-run")
    assert promote.exit_code == 0, promote.output
    assert promote.stdout.splitlines()[0].endswith("; nothing changed (--dry-run)")
    assert all(f"  {each}" in promote.stdout.splitlines() for each in DROPPED)
    abort = cli(db_url, "rollout", "abort", "dialer", "--dry-run", "--json")
    assert abort.exit_code == 0, abort.output
    back = json.loads(abort.stdout)
    assert back["dry_run"] is True and back["action"] == "abort"
    assert back["summary"] == (
        "ownership.default: integration_wins → fill_if_empty; ownership.deal: (not set) → "
        "never_overwrite; ownership.protect_manual_days: 0 → 14"
    )
    with Workspace(db_url) as ws:
        assert ws.export_config() == before
        assert ws.audit_log().entries == []


def test_abort_says_what_the_sample_gets_back(db_url: str) -> None:
    with Workspace(db_url) as ws:
        audit_example(ws)
    done = cli(db_url, "rollout", "abort", "dialer")
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[:3] == [
        "dialer: rollout aborted; the current settings apply to every record again (the "
        "sample, 30% of records by id, had them); what was decided under the rollout stays as "
        "it is (owners set, activities skipped)",
        "keys that change for the 30% in the sample:",
        "  ownership.default: integration_wins → fill_if_empty",
    ]
    with Workspace(db_url) as ws:
        assert ws.integration("dialer").rollout is None


def test_managed_by_file_says_how_to_promote_or_abort_in_the_file(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(load_config(AUDIT_YAML, "x"), managed=ManagedBy("team.yaml"))
    refused = cli(db_url, "rollout", "promote", "dialer")
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert (
        "the workspace is managed by file (team.yaml): promote in the file: copy each section "
        "under integrations.dialer.rollout.settings into integrations.dialer (it replaces the "
        "section of that name whole) and delete integrations.dialer.rollout, then run "
        "`leadsync apply team.yaml`"
    ) in said
    aborted = cli(db_url, "rollout", "abort", "dialer")
    assert "abort in the file: delete integrations.dialer.rollout, then run" in " ".join(
        aborted.output.split()
    )
    dry = cli(db_url, "rollout", "promote", "dialer", "--dry-run")
    assert dry.exit_code == 0 and "promote in the file: copy each section" in dry.stdout
    with Workspace(db_url) as ws:
        assert ws.integration("dialer").rollout is not None


# ------------------------------------------------------------ status and the listings


def sampled_workspace(ws: Workspace) -> tuple[int, int]:
    """A 50% rollout of integration_wins and a 60 s minimum against fill_if_empty and 10 s:
    40 contacts moved to another rep, a 30 s call on each. Returns the sampled contacts and
    the calls skipped."""
    rollout = {
        "percent": 50,
        "settings": {
            "ownership": {"default": "integration_wins"},
            "activities": {"call": {"min_duration_s": 60}},
        },
    }
    ws.apply_config(workspace_config({"dialer": settings(rollout=rollout)}))
    first = [contact_line(f"p-{i}", "u-1", "2026-11-01T09:00:00Z") for i in range(40)]
    second = [contact_line(f"p-{i}", "u-9", "2026-11-02T09:00:00Z") for i in range(40)]
    calls = [call_line(f"c-{i}", f"p-{i}", 30, "2026-11-03T09:00:00Z") for i in range(40)]
    ws.ingest("dialer", first + second + calls)
    sampled = sum(
        in_rollout(str(ws.find(external=f"dialer:p-{i}")[0]["id"]), 50) for i in range(40)
    )
    assert 0 < sampled < 40
    return sampled, sampled


def test_status_counts_what_the_rollout_decided(db_url: str) -> None:
    with Workspace(db_url) as ws:
        sampled, skipped = sampled_workspace(ws)
    done = cli(db_url, "rollout", "status", "dialer", "--json")
    assert done.exit_code == 0, done.output
    [state] = json.loads(done.stdout)["rollouts"]
    assert (state["integration"], state["percent"]) == ("dialer", 50)
    assert state["sections"] == ["ownership", "activities"]
    assert "ownership.default: fill_if_empty → integration_wins" in state["summary"]
    assert "activities.call.min_duration_s: 10 → 60" in state["summary"]
    counts = state["under_rollout"]
    # Each sampled contact: set when created, then moved (integration_wins).
    assert counts["decisions"] == 2 * sampled
    assert counts["by_outcome"] == {"set": 2 * sampled, "kept": 0, "ignored": 0}
    assert (counts["first_at"], counts["last_at"]) != (None, None)
    assert counts["skips"] == skipped
    assert counts["skips_by_kind"] == {"shorter than min_duration_s (60 s)": skipped}
    text = cli(db_url, "rollout", "status")
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0] == (
        "dialer: rollout to 50% of records; it names ownership, activities (each replaces the "
        "current section whole)"
    )
    assert f"  under the rollout so far: {2 * sampled} owner decisions ({2 * sampled} set," in (
        text.stdout
    )
    assert f"    skipped {skipped}: shorter than min_duration_s (60 s)" in text.stdout


def test_status_since_counts_a_recent_window(db_url: str) -> None:
    """The moves of 2026-11-02 and the calls of the 3rd, not the creations of the 1st."""
    with Workspace(db_url) as ws:
        sampled, skipped = sampled_workspace(ws)
    done = cli(db_url, "rollout", "status", "dialer", "--since", "2026-11-02", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["since"] == "2026-11-02T00:00:00.000Z"
    counts = result["rollouts"][0]["under_rollout"]
    assert counts["by_outcome"] == {"set": sampled, "kept": 0, "ignored": 0}
    assert counts["skips"] == skipped
    later = cli(db_url, "rollout", "status", "dialer", "--since", "2026-11-03")
    assert "  under the rollout since 2026-11-03T00:00:00Z: 0 owner decisions, " in (later.stdout)
    assert f"{skipped} activities skipped" in later.stdout
    bad = cli(db_url, "rollout", "status", "--since", "last week")
    assert bad.exit_code == 2 and "since 'last week': expected a duration" in bad.output
    with Workspace(db_url) as ws, serve(ws) as server:
        answer = server.client.get(
            "/api/integrations/dialer/rollout", params={"since": "2026-11-02"}, headers=API
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["under_rollout"]["decisions"] == sampled
        everything = server.client.get("/api/integrations/dialer/rollout", headers=API)
        assert everything.json()["under_rollout"]["decisions"] == 2 * sampled
        refused = server.client.get(
            "/api/integrations/dialer/rollout", params={"since": "soon"}, headers=API
        )
        assert refused.status_code == 400 and "since 'soon'" in refused.json()["detail"]


def test_status_of_an_integration_without_a_rollout_and_of_none(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config())
    assert cli(db_url, "rollout", "status").stdout == "no integration has a rollout\n"
    one = cli(db_url, "rollout", "status", "dialer")
    assert one.stdout.splitlines()[0] == "dialer: no rollout"
    missing = cli(db_url, "rollout", "status", "nope")
    assert missing.exit_code == 2 and "unknown integration 'nope'" in missing.output


def test_decisions_can_be_only_the_rollouts(workspace: Workspace) -> None:
    sampled, _ = sampled_workspace(workspace)
    rows = listings.decisions(workspace.engine, "dialer", None, False, 500, rollout=True)
    assert len(rows) == 2 * sampled and {r["settings"] for r in rows} == {"rollout"}
    every = listings.decisions(workspace.engine, "dialer", None, False, 500)
    assert {r["settings"] for r in every} == {"rollout", "current"}


# ---------------------------------------------------------------- the console and API


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    with console_server(audit_example(workspace)) as server:
        yield server


def test_the_console_confirms_a_promotion_showing_what_changes(
    workspace: Workspace, live: LiveServer
) -> None:
    with httpx.Client(base_url=live.base_url, timeout=60) as admin:
        page = signed_in(admin, PASSWORD).get(SETTINGS).text
        # The rollout's section says what it changes, before anything is asked.
        section = page[page.index('id="rollout"') :]
        assert "<code>ownership.deal</code>: never_overwrite → (not set)" in section
        token = form_token(page, "/integrations/dialer/settings/preview")
        # A post without the confirmation changes nothing: it asks for the confirmation.
        asked = admin.post("/integrations/dialer/rollout/promote", data={"csrf_token": token})
        assert asked.status_code == 303
        assert asked.headers["location"].endswith("?confirm=promote#rollout-actions")
        assert workspace.integration("dialer").rollout is not None
        confirm = admin.get(SETTINGS, params={"confirm": "promote"}).text
        box = confirm[confirm.index('id="rollout-confirm"') :]
        for path, change in (
            ("ownership.default", "fill_if_empty → integration_wins"),
            ("ownership.protect_manual_days", "14 → 0"),
            ("ownership.deal", "never_overwrite → (not set)"),
        ):
            assert f"<code>{path}</code>: {change}" in box
        seen = re.search(r'name="seen" value="([0-9a-f]+)"', box)
        assert seen is not None
        stale = admin.post(
            "/integrations/dialer/rollout/promote",
            data={"csrf_token": token, "seen": "0" * 20},
        )
        assert stale.status_code == 409 and "so nothing was done" in stale.text
        assert workspace.integration("dialer").rollout is not None
        done = admin.post(
            "/integrations/dialer/rollout/promote",
            data={"csrf_token": token, "seen": seen.group(1)},
        )
        assert done.status_code == 303 and done.headers["location"].endswith("?done=promoted")
    assert workspace.integration("dialer").rollout is None
    [entry] = workspace.audit_log().entries
    assert entry.summary.startswith("; ".join(DROPPED))


def test_the_viewer_sees_the_change_but_cannot_confirm(
    workspace: Workspace, live: LiveServer
) -> None:
    with httpx.Client(base_url=live.base_url, timeout=60) as viewer:
        confirm = signed_in(viewer, VIEWER_TOKEN).get(SETTINGS, params={"confirm": "abort"}).text
        box = confirm[confirm.index('id="rollout-confirm"') :]
        assert "<code>ownership.default</code>: integration_wins → fill_if_empty" in box
        assert re.search(r'<button type="submit" class="button primary" disabled', box)


def test_the_managed_console_page_says_how_to_promote_in_the_file(
    workspace: Workspace, live: LiveServer
) -> None:
    workspace.apply_config(workspace.export_config(), managed=ManagedBy("team.yaml"))
    with httpx.Client(base_url=live.base_url, timeout=60) as admin:
        page = signed_in(admin, PASSWORD).get(SETTINGS).text
    assert "Promote or abort below the form" not in page
    assert 'id="rollout-actions"' not in page  # no control that would be refused
    said = re.sub(r"<[^>]+>", "", " ".join(page.split()))
    assert (
        "promote in the file: copy each section under integrations.dialer.rollout.settings "
        "into integrations.dialer (it replaces the section of that name whole) and delete "
        "integrations.dialer.rollout, then run leadsync apply team.yaml"
    ) in said
    assert "abort in the file: delete integrations.dialer.rollout, then run" in said


def test_the_admin_api_promotes_and_aborts(workspace: Workspace, live: LiveServer) -> None:
    client = live.client
    base = "/api/integrations/dialer/rollout"
    state = client.get(base, headers=API)
    assert state.status_code == 200 and state.json()["percent"] == 30
    assert '"percent":30,' in state.text  # as the settings endpoint writes it, never 30.0
    dry = client.post(f"{base}/promote", params={"dry_run": "true"}, headers=API)
    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert dry.json()["summary"] == "; ".join(DROPPED)
    assert workspace.integration("dialer").rollout is not None
    # A body is refused, not ignored: the dry run asked in it would have been a real change.
    for action in ("promote", "abort"):
        bodied = client.post(f"{base}/{action}", json={"dry_run": True}, headers=API)
        assert bodied.status_code == 400, bodied.text
        assert bodied.json()["detail"] == (
            "body: this operation takes no body; its options are query parameters "
            "(?dry_run=); allowed: no body, or {}"
        )
        assert workspace.integration("dialer").rollout is not None
    assert client.post(f"{base}/promote", json={}, params={"dry_run": "true"}, headers=API).json()[
        "dry_run"
    ]
    done = client.post(f"{base}/promote", headers=API)
    assert done.status_code == 200, done.text
    assert done.json()["dry_run"] is False and done.json()["summary"] == "; ".join(DROPPED)
    assert workspace.integration("dialer").rollout is None
    assert workspace.audit_log().entries[0].who == "admin API (admin token)"
    again = client.post(f"{base}/abort", headers=API)
    assert again.status_code == 409 and "no rollout to abort" in again.json()["detail"]
    audit_example(workspace)
    workspace.apply_config(workspace.export_config(), managed=ManagedBy("team.yaml"))
    refused = client.post(f"{base}/abort", headers=API)
    assert refused.status_code == 409
    assert "abort in the file: delete integrations.dialer.rollout" in refused.json()["detail"]
    assert workspace.integration("dialer").rollout is not None
    assert client.post("/api/integrations/nope/rollout/promote", headers=API).status_code == 404
