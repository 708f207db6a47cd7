"""``leadsync apply`` as a user meets it: a refusal under --json is a JSON object on stdout
(each error's place and message) with the error's exit code, and the summary of a large file
names the first few ids of each list (--json keeps them all)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.workspace import Workspace
from tests.helpers import EXAMPLE_YAML


class Applied:
    def __init__(self, db_url: str, folder: Path) -> None:
        self.db_url, self.folder = db_url, folder

    def __call__(self, text: str | None, *args: str, name: str = "leadsync.yaml") -> Any:
        path = self.folder / name
        if text is not None:
            path.write_text(text)
        return CliRunner().invoke(app, ["--db", self.db_url, "apply", str(path), *args])


@pytest.fixture
def apply(db_url: str, tmp_path: Path) -> Applied:
    return Applied(db_url, tmp_path)


def owners_yaml(n: int) -> str:
    lines = [f'  - {{id: "{i}", email: o{i}@acme.test}}' for i in range(1000, 1000 + n)]
    return "owners:\n" + "\n".join(lines) + "\n"


def test_a_file_with_an_error_is_refused_as_json_with_its_place(
    apply: Applied, tmp_path: Path
) -> None:
    bad = EXAMPLE_YAML.replace("protect_manual_days: 14", "protect_manual_days: soon")
    result = apply(bad, "--json")
    assert result.exit_code == 2
    answer = json.loads(result.stdout)  # one JSON object, nothing else
    file = str(tmp_path / "leadsync.yaml")
    line = bad.splitlines().index("      protect_manual_days: soon") + 1
    assert answer["ok"] is False
    [error] = answer["errors"]
    assert error["place"] == f"{file}:{line}"
    assert error["message"].startswith("integrations.dialer.ownership.protect_manual_days: ")
    # The same error, as the human reads it, on stderr.
    assert f"error: {error['place']}: {error['message']}" in " ".join(result.stderr.split())


def test_every_refusal_of_apply_is_json_under_json(apply: Applied, tmp_path: Path) -> None:
    file = str(tmp_path / "leadsync.yaml")
    assert json.loads(apply(EXAMPLE_YAML, "--json").stdout)["ok"] is True
    # A file that would archive every owner.
    result = apply("integrations: {}\n", "--json")
    assert result.exit_code == 2
    [error] = json.loads(result.stdout)["errors"]
    assert error["place"] == file
    assert error["message"].startswith("the file lists no owners (no owners: key)")
    # A file that is not there; options that contradict each other (no place in the file).
    result = apply(None, "--json", name="missing.yaml")
    assert result.exit_code == 2
    assert json.loads(result.stdout)["errors"] == [
        {"place": str(tmp_path / "missing.yaml"), "message": "file not found"}
    ]
    result = apply(EXAMPLE_YAML, "--json", "--managed", "--unmanaged")
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "ok": False,
        "errors": [
            {
                "place": None,
                "message": "--managed and --unmanaged contradict each other; give one",
            }
        ],
    }
    # Without --json, stdout stays empty: the errors are on stderr.
    result = apply("integrations: {}\n")
    assert result.exit_code == 2 and result.stdout == ""
    assert "the file lists no owners" in result.stderr


def test_the_summary_names_the_first_ten_ids_of_each_list(apply: Applied) -> None:
    result = apply(owners_yaml(25))
    assert result.exit_code == 0, result.stderr
    shown = ", ".join(str(i) for i in range(1000, 1010))
    assert result.stdout.splitlines() == [f"owners added: {shown} … and 15 more"]
    # --json names them all.
    result = apply(owners_yaml(26), "--json")
    answer = json.loads(result.stdout)
    assert answer["ok"] is True and answer["owners_added"] == ["1025"]
    # Ten or fewer: all of them, nothing more said.
    result = apply(owners_yaml(16))
    assert result.exit_code == 0, result.stderr
    gone = ", ".join(str(i) for i in range(1016, 1026))
    assert result.stdout.splitlines() == [f"owners archived: {gone}"]


# A workspace as a RevOps team keeps it in git: a dialer, a sales engagement tool with a
# staged rollout, a scheduler, CRMs with vendor options, dedupe rules, free-mail overrides,
# monitoring and a destination; values equal to their defaults written on purpose.
GIT_YAML = """\
owners:
- id: '101'
  email: ana@acme.test
  first_name: Ana
  last_name: Ng
- id: '102'
  email: bo@acme.test
- id: '103'
  email: cy@acme.test
  active: false
teams:
  sdr:
  - '102'
  - '101'
integrations:
  phone:
    kind: aircall
    secret_env: AIRCALL_WEBHOOK_TOKEN
    region: GB
    users:
      auto_match: email
      map:
        '9001': '101'
      unmapped:
        policy: fallback
        owner: '102'
    ownership:
      default: fill_if_empty
      contact: integration_wins
      protect_manual_days: 14
    activities:
      call:
        enabled: true
        min_duration_s: 10
        skip_outcomes:
        - no_answer
      email: false
    associations:
      mode: automatic
      max_deals: 3
    unknown_counterpart:
      policy: hold
      hold_days: 7
  outreach:
    kind: outreach
    secret_env: OUTREACH_WEBHOOK_SECRET
    users:
      auto_match: none
      unmapped:
        policy: round_robin
        team: sdr
    rollout:
      percent: 25
      settings:
        ownership:
          default: fill_if_empty
  scheduler:
    kind: calendly
    users:
      unmapped:
        policy: leave
  crm:
    kind: pipedrive
    vendor:
      activity_types:
        lunch: meeting
      other_activity_types: task
  sfdc:
    kind: salesforce
    vendor:
      organization_id: 00D5e000000abcdEAA
      require_timestamp: true
monitoring:
  flapping_changes: 3
destination:
  kind: hubspot
  token_env: HUBSPOT_PRIVATE_APP_TOKEN
  api_version: 2026-03
dedupe:
- activity: call
  integrations:
  - phone
  - outreach
  window_s: 120
  prefer: phone
free_mail:
  add:
  - contractors-mail.test
"""


def exported(db_url: str) -> str:
    result = CliRunner().invoke(app, ["--db", db_url, "export"])
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_export_writes_back_the_file_as_written_and_apply_export_is_identical(
    apply: Applied, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUBSPOT_PRIVATE_APP_TOKEN", "pat-na1-not-to-be-seen")
    monkeypatch.setenv("AIRCALL_WEBHOOK_TOKEN", "aircall-not-to-be-seen")
    assert apply(GIT_YAML).exit_code == 0
    # Keys in the schema's order, comments-free, every value written kept (a default too:
    # api_version pins the version, auto_match: email, policy: leave), no secret.
    text = exported(db_url)
    assert text == GIT_YAML
    result = apply(text, name="exported.yaml")
    assert (
        result.stdout
        == f"{apply.folder / 'exported.yaml'}: no changes; the workspace already matches\n"
    )
    assert exported(db_url) == text


def test_a_dry_run_shows_the_change_and_changes_nothing(
    apply: Applied, db_url: str, tmp_path: Path, workspace: Workspace
) -> None:
    assert apply(GIT_YAML).exit_code == 0
    changed = GIT_YAML.replace("      max_deals: 3\n", "      max_deals: 4\n").replace(
        "  email: bo@acme.test\n", "  email: bo@acme.test\n- id: '104'\n  email: di@acme.test\n"
    )
    result = apply(changed, "--dry-run")
    assert result.exit_code == 0, result.stderr
    file = tmp_path / "leadsync.yaml"
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"{file}: applying it would change (--dry-run: nothing changed):",
        "owners added: 104",
        "integrations updated: phone",
    ]
    assert lines[3:5] == ["--- current.yaml", "+++ proposed.yaml"]
    assert "+- id: '104'" in lines and "-      max_deals: 3" in lines
    assert "+      max_deals: 4" in lines
    assert exported(db_url) == GIT_YAML  # nothing changed, nothing audited
    assert len(workspace.audit_log().entries) == 1  # the first apply's
    answer = json.loads(apply(changed, "--dry-run", "--json").stdout)
    assert answer["dry_run"] is True and answer["owners_added"] == ["104"]
    assert "+      max_deals: 4\n" in answer["yaml_diff"]
    # Refused as apply would be, and a database with no workspace stays without one.
    result = apply("integrations: {}\n", "--dry-run")
    assert result.exit_code == 2 and "the file lists no owners" in result.stderr
    fresh = tmp_path / "fresh.db"
    result = CliRunner().invoke(app, ["--db", str(fresh), "apply", str(file), "--dry-run"])
    assert result.exit_code == 2 and "no workspace at" in result.stderr
    assert not fresh.exists()


def test_a_file_on_stdin_is_applied_and_named_stdin(db_url: str) -> None:
    """``git show HEAD:leadsync.yaml | leadsync apply -`` (it said '-: file not found')."""
    runner = CliRunner()
    planned = runner.invoke(app, ["--db", db_url, "apply", "-", "--dry-run"], input=EXAMPLE_YAML)
    assert planned.exit_code == 0, planned.output
    assert planned.stdout.startswith("<stdin>: applying it would change (--dry-run")
    done = runner.invoke(app, ["--db", db_url, "apply", "-", "--json"], input=EXAMPLE_YAML)
    assert done.exit_code == 0 and json.loads(done.stdout)["owners_added"] == ["101", "102", "103"]
    bad = runner.invoke(app, ["--db", db_url, "apply", "-"], input="owners: [\n")
    assert bad.exit_code == 2 and bad.stderr.startswith("error: <stdin>:2: invalid YAML")
    marked = runner.invoke(app, ["--db", db_url, "apply", "-", "--managed"], input=EXAMPLE_YAML)
    assert marked.exit_code == 2 and "stdin has none" in marked.stderr
    latin = runner.invoke(
        app, ["--db", db_url, "apply", "-"], input="name: caf\xe9\n".encode("latin-1")
    )
    assert latin.exit_code == 2 and "<stdin>:1: not UTF-8 text (byte 0xE9" in latin.stderr
    with Workspace(db_url) as ws:
        [entry, *_] = ws.audit_log().entries
        assert entry.who.startswith("cli: leadsync apply <stdin> (")
