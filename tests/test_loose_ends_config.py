"""``leadsync apply`` of a file whose only difference is an order leadsync does not read (the
teams, the integrations, a mapping's keys, the free-mail domains, the dedupe rules) writes the
new order, so the export keeps it, and says so in words — "no change leadsync reads; the new
order of … is kept for export" — rather than "no changes"; the audit log records it like any
apply that wrote something. ``--json`` names it in ``reordered`` (``changed`` stays false)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.settings import dump_config, load_config
from leadsync.workspace import Workspace
from tests.test_config_order import _ALPHA, FILE, UNREAD_REORDERS

# What each reorder of tests/test_config_order.py is named as.
NAMED = {
    "teams": ["teams"],
    "integrations": ["integrations"],
    "users.map": ["integrations.zulu.users.map"],
    "vendor.activity_types": ["integrations.mike.vendor.activity_types"],
    "free_mail.add": ["free_mail"],
    "dedupe": ["dedupe"],
}
# Teams and integrations both reordered.
BOTH = UNREAD_REORDERS["integrations"].replace(
    "  zeta:\n  - '102'\n  - '101'\n  alpha:\n  - '103'\n  - '101'\n",
    "  alpha:\n  - '103'\n  - '101'\n  zeta:\n  - '102'\n  - '101'\n",
)


def cli(db_url: str, path: Path, text: str, *args: str) -> tuple[int, str]:
    path.write_text(text)
    result = CliRunner().invoke(app, ["--db", db_url, "apply", str(path), *args])
    return result.exit_code, result.stdout


def summaries(ws: Workspace) -> list[str]:
    return [entry.summary for entry in ws.audit_log().entries]


def test_a_reorder_only_apply_says_what_it_kept_and_is_audited(
    db_url: str, workspace: Workspace, tmp_path: Path
) -> None:
    file = tmp_path / "leadsync.yaml"
    assert cli(db_url, file, FILE)[0] == 0
    assert BOTH != FILE and sorted(BOTH.splitlines()) == sorted(FILE.splitlines())
    code, out = cli(db_url, file, BOTH, "--dry-run")
    assert (code, out.splitlines()[:4]) == (
        0,
        [
            f"{file}: applying it would change (--dry-run: nothing changed):",
            "new order kept for export (no change leadsync reads): teams, integrations",
            "--- current.yaml",
            "+++ proposed.yaml",
        ],
    )
    assert len(workspace.audit_log().entries) == 1
    code, out = cli(db_url, file, BOTH)
    assert (code, out) == (
        0,
        f"{file}: no change leadsync reads; the new order of teams, integrations is kept "
        "for export\n",
    )
    assert dump_config(workspace.export_config()) == BOTH
    newest = workspace.audit_log().entries[0]
    assert newest.summary == (
        "new order kept for export (no change leadsync reads): teams, integrations"
    )
    assert "+  alpha:\n" in newest.yaml_diff and "-  alpha:\n" in newest.yaml_diff
    # Applied again: nothing written, nothing recorded.
    assert cli(db_url, file, BOTH) == (0, f"{file}: no changes; the workspace already matches\n")
    assert len(workspace.audit_log().entries) == 2


def test_a_reorder_only_apply_under_json(db_url: str, workspace: Workspace, tmp_path: Path) -> None:
    file = tmp_path / "leadsync.yaml"
    cli(db_url, file, FILE)
    code, out = cli(db_url, file, UNREAD_REORDERS["users.map"], "--json")
    answer = json.loads(out)
    assert code == 0 and answer["ok"] is True
    assert (answer["changed"], answer["reordered"]) == (False, ["integrations.zulu.users.map"])
    assert answer["integrations_updated"] == []
    assert summaries(workspace)[0] == (
        "new order kept for export (no change leadsync reads): integrations.zulu.users.map"
    )
    again = json.loads(cli(db_url, file, UNREAD_REORDERS["users.map"], "--json")[1])
    assert (again["changed"], again["reordered"]) == (False, [])
    assert len(summaries(workspace)) == 2
    # A dry run names it too, and writes nothing.
    dry = json.loads(cli(db_url, file, FILE, "--dry-run", "--json")[1])
    assert (dry["changed"], dry["reordered"]) == (False, ["integrations.zulu.users.map"])
    assert dump_config(workspace.export_config()) == UNREAD_REORDERS["users.map"]


def test_a_change_and_a_reorder_say_both(db_url: str, workspace: Workspace, tmp_path: Path) -> None:
    file = tmp_path / "leadsync.yaml"
    cli(db_url, file, FILE)
    changed = UNREAD_REORDERS["teams"].replace("    secret_env: ALPHA_SECRET\n", "")
    code, out = cli(db_url, file, changed)
    assert (code, out.splitlines()) == (
        0,
        [
            "integrations updated: alpha",
            "new order kept for export (no change leadsync reads): teams",
        ],
    )
    assert summaries(workspace)[0] == (
        "integrations updated: alpha; new order kept for export (no change leadsync reads): teams"
    )


@pytest.mark.parametrize("what", sorted(UNREAD_REORDERS))
def test_each_reorder_the_engine_does_not_read_is_named(workspace: Workspace, what: str) -> None:
    workspace.apply_config(load_config(FILE, "leadsync.yaml"))
    changes = workspace.apply_config(load_config(UNREAD_REORDERS[what], "leadsync.yaml"))
    assert (changes.changed, changes.reordered) == (False, NAMED[what])


def test_one_removed_or_added_beside_the_others_moves_none(workspace: Workspace) -> None:
    workspace.apply_config(load_config(FILE, "leadsync.yaml"))
    without_alpha = FILE.replace(_ALPHA, "", 1).replace(
        "  - alpha\n  - zulu\n  window_s: 60\n  prefer: alpha\n",
        "  - mike\n  - zulu\n  window_s: 60\n  prefer: mike\n",
    )
    changes = workspace.apply_config(load_config(without_alpha, "leadsync.yaml"))
    assert changes.integrations_removed == ["alpha"] and changes.reordered == []
    changes = workspace.apply_config(load_config(FILE, "leadsync.yaml"))
    assert changes.integrations_added == ["alpha"] and changes.reordered == []
