"""Every command's ``--json`` says a refusal as one JSON object on stdout — ``{"ok": false,
"errors": [{"place", "message"}]}`` — beside the ``error:`` lines on stderr and the same exit
code (README, "Configuration"); a command after it in the same process prints its own JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadsync.cli import app

REFUSED = [
    (["records", "show", "contact", "999"], "no contact with id 999"),
    (["dead-letters", "retry", "7"], "no dead letter with id 7"),
    (["dead-letters", "dismiss", "7", "--reason", "x"], "no dead letter with id 7"),
    (["users", "list", "nope"], "unknown integration 'nope'"),
    (["activities", "list", "--integration", "nope"], "unknown integration 'nope'"),
    (["report", "--since", "bogus"], "since 'bogus': expected a duration"),
    (["rollout", "status", "nope"], "unknown integration 'nope'"),
]


@pytest.mark.parametrize(("args", "said"), REFUSED, ids=[" ".join(a[:2]) for a, _ in REFUSED])
def test_a_refusal_with_json_is_a_json_object_on_stdout(
    db_url: str, args: list[str], said: str
) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--db", db_url, "init"]).exit_code == 0
    refused = runner.invoke(app, ["--db", db_url, *args, "--json"])
    assert refused.exit_code == 2, refused.output
    shown = json.loads(refused.stdout)
    assert shown["ok"] is False and len(shown["errors"]) == 1, shown
    assert shown["errors"][0]["place"] is None and shown["errors"][0]["message"].startswith(said)
    assert f"error: {shown['errors'][0]['message']}" in refused.stderr

    plain = runner.invoke(app, ["--db", db_url, *args])  # without --json: stderr alone
    assert plain.exit_code == 2 and plain.stdout == "" and said in plain.stderr
    listed = runner.invoke(app, ["--db", db_url, "dead-letters", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout) == []


def test_a_refusal_in_a_file_is_placed_at_its_line(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("owners: [\n")
    refused = CliRunner().invoke(
        app, ["--db", db_url, "apply", str(tmp_path / "bad.yaml"), "--json"]
    )
    assert refused.exit_code == 2
    (error,) = json.loads(refused.stdout)["errors"]
    assert error["place"] == f"{tmp_path / 'bad.yaml'}:2" and "invalid YAML" in error["message"]
