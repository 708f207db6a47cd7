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
