"""The command line as a user meets it: exit codes, messages, --json, and the config round trip."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.model import now_ts
from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.workspace import Workspace
from tests.helpers import EXAMPLE_YAML as EXAMPLE
from tests.helpers import contact_line, snapshot

EVENTS = """\
{"id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record", "object": "contact", "external_id": "p-1", "properties": {"email": "kim@globex.test", "firstname": "Kim"}, "owner": "u-1", "associations": [{"object": "company", "external_id": "a-1"}]}
{"id": "e2", "occurred_at": "2026-11-01T09:05:00Z", "type": "owner", "object": "contact", "external_id": "p-1", "owner": {"id": "u-2", "email": "bo@acme.test"}}
{"id": "e3", "occurred_at": "2026-11-01T09:10:00Z", "type": "activity", "activity": "call", "external_id": "c-1", "owner": "u-1", "properties": {"direction": "outbound", "duration_s": 95, "outcome": "connected", "body": "Intro call"}, "associations": [{"object": "contact", "external_id": "p-1"}]}
{"id": "e4", "occurred_at": "2026-11-01T09:00:00Z", "type": "record", "object": "deal", "external_id": "d-1", "properties": {"name": "Globex renewal", "stage": "qualified", "is_closed": false}, "associations": [{"object": "contact", "external_id": "p-1"}]}
"""


class Cli:
    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Any:
        return self.runner.invoke(app, ["--db", self.db_url, *args], input=input)

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "leadsync.yaml").write_text(EXAMPLE)
    (tmp_path / "events.jsonl").write_text(EVENTS)
    return tmp_path


def test_apply_is_idempotent_and_export_round_trips(cli: Cli, files: Path) -> None:
    first = cli.json("apply", str(files / "leadsync.yaml"))
    assert first["changed"] and first["owners_added"] == ["101", "102", "103"]
    again = cli("apply", str(files / "leadsync.yaml"))
    assert again.exit_code == 0 and "no changes" in again.stdout

    exported = cli("export")
    assert exported.exit_code == 0
    (files / "exported.yaml").write_text(exported.stdout)
    assert cli.json("apply", str(files / "exported.yaml"))["changed"] is False
    assert "kind: generic" in exported.stdout and "min_duration_s: 10" in exported.stdout
    assert cli("export").stdout == exported.stdout


def test_export_to_a_path_it_cannot_write_names_it_without_a_traceback(
    cli: Cli, files: Path
) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    for target, why in ((files / "missing" / "x.yaml", "No such file"), (files, "Is a directory")):
        result = cli("export", "-o", str(target))
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith(f"error: {target}: cannot write: {why}")
        assert "allowed: a file path in a folder that exists" in result.stderr
        assert "Traceback" not in result.stderr
    written = files / "out.yaml"
    assert cli("export", "-o", str(written)).exit_code == 0
    assert "kind: generic" in written.read_text()


# A Salesforce integration beside the example's. A Salesforce id has two forms: 15 characters
# (case-sensitive, as the UI shows it) and 18 (those plus a 3-character case checksum).
SALESFORCE_YAML = """\
  crm:
    kind: salesforce
    vendor:
      organization_id: 00D5g000004Xyz1EAC
"""
LEAD_15 = "00Q5g00000AbCdF"
LEAD_CHANGE = {
    "ChangeEventHeader": {
        "entityName": "Lead",
        "recordIds": [LEAD_15],
        "changeType": "CREATE",
        "commitTimestamp": 1_793_520_000_000,
        "commitUser": "0055g00000XyZaB",
        "transactionKey": "00027c4e-aaaa-bbbb",
        "sequenceNumber": 1,
    },
    "LastName": "Lee",
    "Email": "kim@initech.test",
    "OwnerId": "0055g00000XyZaB",
}


def test_find_by_external_id_takes_either_salesforce_id_form(cli: Cli, files: Path) -> None:
    (files / "leadsync.yaml").write_text(EXAMPLE + SALESFORCE_YAML)
    cli("apply", str(files / "leadsync.yaml"))
    (files / "crm.jsonl").write_text(json.dumps(LEAD_CHANGE) + "\n")
    assert cli.json("ingest", "crm", str(files / "crm.jsonl"))["accepted"] == 1
    lead_18 = cli.json("records", "show", "contact", "1")["identities"][0]["external_id"]
    assert lead_18 == LEAD_15 + "EAV"  # the events carry the 18-character form
    [kim] = cli.json("records", "find", "--external", f"crm:{lead_18}")
    for typed in (LEAD_15, lead_18.lower(), lead_18.upper(), f" {LEAD_15} "):
        assert cli.json("records", "find", "--external", f"crm:{typed}") == [kim], typed
    # Only Salesforce ids are rewritten: another integration's ids are taken as given.
    assert cli.json("records", "find", "--external", f"dialer:{LEAD_15}") == []
    unknown = cli("records", "find", "--external", f"nowhere:{LEAD_15}", "--json")
    assert unknown.exit_code == 2
    assert "unknown integration 'nowhere'; configured integrations: crm, dialer" in unknown.stderr


def test_a_bad_config_names_file_line_and_key_and_changes_nothing(cli: Cli, files: Path) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    from leadsync.workspace import Workspace

    with Workspace(cli.db_url) as ws:
        before = ws.export_config()
    bad = EXAMPLE.replace("default: fill_if_empty", "default: fill_if_emty").replace(
        'map: {"u-9": "102"}', 'map: {"u-9": "999"}'
    )
    bad = bad.replace(
        '  - {id: "103", email: cy@acme.test, first_name: Cy, last_name: Oh, active: false}\n', ""
    )
    (files / "bad.yaml").write_text(bad)
    result = cli("apply", str(files / "bad.yaml"))
    assert result.exit_code == 2
    assert "bad.yaml:" in result.stderr
    assert "integrations.dialer.ownership.default" in result.stderr
    assert (
        "allowed: integration_wins, fill_if_empty, never_overwrite, bidirectional" in result.stderr
    )
    with Workspace(cli.db_url) as ws:
        assert ws.export_config() == before

    (files / "broken.yaml").write_text("owners: [\n  {id: 1\n")
    broken = cli("apply", str(files / "broken.yaml"))
    assert broken.exit_code == 2 and "broken.yaml:" in broken.stderr


def test_ingest_show_find_and_set_owner(cli: Cli, files: Path) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    summary = cli.json("ingest", "dialer", str(files / "events.jsonl"))
    assert summary["accepted"] == 4 and summary["owners"]["set"] == 1

    [kim] = cli.json("records", "find", "--email", "KIM@globex.test")
    assert cli.json("records", "find", "--external", "dialer:p-1") == [kim]
    record = cli.json("records", "show", "contact", str(kim["id"]))
    for key in ("id", "type", "owner_id", "properties", "owner_history", "timeline"):
        assert key in record
    for key in (
        "at",
        "owner_id",
        "previous_owner_id",
        "integration",
        "strategy",
        "outcome",
        "reason",
    ):
        assert key in record["owner_history"][0]
    item = record["timeline"][0]
    for key in (
        "id",
        "type",
        "occurred_at",
        "owner_id",
        "integration",
        "external_id",
        "properties",
        "associations",
    ):
        assert key in item
    assert {"type", "id"} <= set(item["associations"][0])

    human = cli("records", "show", "contact", str(kim["id"]))
    assert human.exit_code == 0
    assert "kept 101: fill_if_empty and the contact already has an owner" in human.stdout

    changed = cli.json(
        "records", "set-owner", "contact", str(kim["id"]), "102", "--at", "2026-11-02T10:00:00"
    )  # without an offset: UTC, as every --since reads it
    assert changed["outcome"] == "set" and changed["owner_id"] == "102"
    assert changed["at"] == "2026-11-02T10:00:00.000Z"
    assert cli.json("records", "show", "contact", str(kim["id"]))["owner_id"] == "102"

    decisions = cli.json("decisions", "list", "--outcome", "kept")
    assert [d["outcome"] for d in decisions] == ["kept"]
    assert cli.json("activities", "skipped") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["ingest", "nope", "events.jsonl"],
            "unknown integration 'nope'; configured integrations: dialer",
        ),
        (["ingest", "dialer", "missing.jsonl"], "missing.jsonl: no such file"),
        (["records", "show", "contact", "999"], "no contact with id 999"),
        (["records", "show", "person", "1"], "record type 'person' is not allowed"),
        (["records", "set-owner", "contact", "1", "999"], "unknown owner '999'"),
        (["records", "set-owner", "contact", "1", "103"], "owner 103 is inactive"),
        (["records", "set-owner", "contact", "1", "101", "--at", "yesterday"], "--at 'yesterday'"),
        # A typo in the year would make every change until then stale, the owner protected.
        (
            ["records", "set-owner", "contact", "1", "101", "--at", "2999-01-01T00:00:00"],
            "the change's time 2999-01-01T00:00:00.000Z is in the future",
        ),
        (["records", "find", "--external", "p-1"], "expected INTEGRATION:EXTERNAL_ID"),
        (["records", "find"], "give exactly one of"),
        (["records", "find", "--external", "nosuch:p-1"], "unknown integration 'nosuch'"),
        (["activities", "list", "--integration", "nosuch"], "unknown integration 'nosuch'"),
        (["activities", "skipped", "--integration", "nosuch"], "unknown integration 'nosuch'"),
        (["review", "list", "--integration", "nosuch"], "unknown integration 'nosuch'"),
        (["dead-letters", "list", "--integration", "nosuch"], "unknown integration 'nosuch'"),
        (
            ["dead-letters", "dismiss", "--all", "--integration", "nosuch", "--reason", "x"],
            "unknown integration 'nosuch'; configured integrations: dialer",
        ),
        (["ingest", "dialer", "."], ".: cannot read: Is a directory"),
        (["preview", "dialer", "."], ".: cannot read: Is a directory"),
        (["preview", "dialer", "missing.jsonl"], "missing.jsonl: no such file"),
        (["records", "set-owner", "contact", "1", ""], "OWNER_ID is empty; allowed: an owner"),
        (["records", "set-owner", "contact", "1", "  "], "or none to clear the owner"),
        (["apply", "leadsync.yaml", "--managed", "--unmanaged"], "contradict each other"),
        (["decisions", "list", "--outcome", "maybe"], "allowed: set, kept, ignored"),
        (["records", "find", "--email", "notanemail"], "'notanemail' is not an email address"),
        (["records", "find", "--domain", "acme"], "--domain 'acme' is not a domain"),
        (["report", "--since", "2999-01-01"], "in the future"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    cli: Cli, files: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(files)
    cli("apply", "leadsync.yaml")
    cli("ingest", "dialer", "events.jsonl")
    result = cli(*args)
    assert result.exit_code == 2, result.stdout + result.stderr
    assert message in result.stderr


def test_an_integration_removed_from_the_file_can_still_be_filtered_on(
    cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(files)
    cli("apply", "leadsync.yaml")
    cli("ingest", "dialer", "events.jsonl")
    (files / "other.yaml").write_text(EXAMPLE.replace("  dialer:", "  phone:"))
    assert cli("apply", "other.yaml").exit_code == 0
    # Its rows stay, and can be listed by its name.
    assert len(cli.json("activities", "list", "--integration", "dialer")) == 1
    assert cli.json("records", "find", "--external", "dialer:p-1")[0]["id"] == 1
    refused = cli("activities", "list", "--integration", "nosuch")
    assert refused.exit_code == 2
    assert "configured integrations: phone" in refused.stderr


def test_finding_no_record_is_no_error(cli: Cli, files: Path) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    text = cli("records", "find", "--email", "nobody@x.test")
    assert (text.exit_code, text.stdout) == (0, "no records found\n")
    assert cli.json("records", "find", "--email", "nobody@x.test") == []


def test_set_owner_none_clears_and_blank_changes_nothing(cli: Cli, files: Path) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    cli("ingest", "dialer", str(files / "events.jsonl"))
    before = cli.json("records", "show", "contact", "1")["owner_id"]
    assert before is not None
    assert cli("records", "set-owner", "contact", "1", "").exit_code == 2
    assert cli.json("records", "show", "contact", "1")["owner_id"] == before
    assert cli("records", "set-owner", "contact", "1", "none").exit_code == 0
    assert cli.json("records", "show", "contact", "1")["owner_id"] is None


def test_an_empty_file_is_not_applied(cli: Cli, files: Path) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    (files / "empty.yaml").write_text("# all commented out\n")
    result = cli("apply", str(files / "empty.yaml"))
    assert result.exit_code == 2
    assert "the file declares nothing (it is empty)" in result.stderr
    assert [o["id"] for o in cli.json("owners", "list") if not o["archived"]] == [
        "101",
        "102",
        "103",
    ]


def test_a_file_without_owners_is_not_applied_over_a_workspace_that_has_some(
    cli: Cli, files: Path
) -> None:
    """A file with integrations but no owners: key would archive every owner, as an empty
    file would: refused (exit 2, nothing applied); owners: [] says it on purpose."""
    cli("apply", str(files / "leadsync.yaml"))
    (files / "only.yaml").write_text("integrations:\n  dialer:\n    kind: generic\n")
    result = cli("apply", str(files / "only.yaml"))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: {files / 'only.yaml'}: the file lists no owners (no owners: key), so applying "
        "it would archive every owner of the workspace (101, 102, 103); list them, write "
        "owners: [] to archive them all, or owners: {source: hubspot} to take them from HubSpot"
    )
    active = [o["id"] for o in cli.json("owners", "list") if not o["archived"]]
    assert active == ["101", "102", "103"]
    (files / "none.yaml").write_text("owners: []\nintegrations:\n  dialer:\n    kind: generic\n")
    assert cli("apply", str(files / "none.yaml")).exit_code == 0
    assert not [o for o in cli.json("owners", "list") if not o["archived"]]
    assert cli("apply", str(files / "only.yaml")).exit_code == 0  # no owner left to archive


def test_a_file_without_integrations_is_not_applied_over_a_workspace_that_has_some(
    cli: Cli, files: Path
) -> None:
    """A file whose integrations: key is missing or has its entries commented out would remove
    every integration (their webhooks answered 404 from then on): refused, nothing applied;
    integrations: {} says it on purpose."""
    cli("apply", str(files / "leadsync.yaml"))
    owners = "owners:\n  - {id: '101', email: ana@acme.test}\n"
    (files / "cut.yaml").write_text(owners + "integrations:\n#  dialer:\n#    kind: generic\n")
    result = cli("apply", str(files / "cut.yaml"), "--dry-run")
    assert result.exit_code == 2, result.output
    assert result.stderr.strip().startswith(
        f"error: {files / 'cut.yaml'}: the file lists no integrations (no integrations: key, or "
        "one with nothing under it), so applying it would remove every integration of the "
        "workspace ("
    )
    assert "write integrations: {} to remove them all" in result.stderr
    assert cli("apply", str(files / "cut.yaml")).exit_code == 2
    assert "dialer" in cli("export").stdout  # nothing applied
    (files / "none.yaml").write_text(owners + "integrations: {}\n")
    assert cli("apply", str(files / "none.yaml")).exit_code == 0
    assert cli("apply", str(files / "cut.yaml")).exit_code == 0  # none left to remove


def test_values_longer_than_the_store_keeps_are_refused_at_their_key(cli: Cli, files: Path) -> None:
    """An owner id, an email, a name or a rep's id longer than the store keeps is refused
    where it is written (PostgreSQL would refuse it at the write; SQLite would keep it), as
    an event's is."""
    long_id, email, name, rep = "1" * 65, "a" * 320 + "@x.test", "n" * 201, "u" * 201
    (files / "long.yaml").write_text(
        f"owners:\n  - {{id: '{long_id}', email: ana@acme.test}}\n"
        f"  - {{id: '102', email: '{email}', first_name: {name}}}\n"
        f"integrations:\n  dialer:\n    kind: generic\n    users:\n      map: {{{rep}: '102'}}\n"
    )
    result = cli("apply", str(files / "long.yaml"))
    assert result.exit_code == 2
    errors = result.stderr.strip().splitlines()
    assert errors[:3] == [
        f"error: {files / 'long.yaml'}:2: owners[0].id: has 65 characters; allowed: at most 64",
        f"error: {files / 'long.yaml'}:3: owners[1].email: has 327 characters; allowed: at "
        "most 320",
        f"error: {files / 'long.yaml'}:3: owners[1].first_name: has 201 characters; allowed: "
        "at most 200",
    ]
    assert errors[3].endswith(": has 201 characters; allowed: at most 200")


def test_a_team_member_twice_is_a_config_problem_with_the_others(
    cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(files)
    text = EXAMPLE.replace('sdr: ["101", "102"]', 'sdr: ["101", "102", "102"]')
    (files / "dupes.yaml").write_text(text.replace("max_deals: 5", "max_deals: 0"))
    result = cli("apply", "dupes.yaml")
    assert result.exit_code == 2, result.stderr
    assert "dupes.yaml:6: teams.sdr[2]: duplicate member 102 (also teams.sdr[1])" in result.stderr
    assert "dupes.yaml:33: integrations.dialer.associations.max_deals" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_with_bad_lines_applies_the_rest_and_exits_2(cli: Cli, files: Path) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    lines = EVENTS.splitlines()
    mixed = "\n".join([lines[0], '{"id": "bad", "type": "record"}', "not json", *lines[1:]]) + "\n"
    result = cli("ingest", "dialer", "-", "--json", input=mixed)
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 4
    assert [d["where"] for d in summary["dead_letters"]] == ["<stdin>:2", "<stdin>:3"]
    assert "occurred_at" in summary["dead_letters"][0]["error"]
    dead = cli.json("dead-letters", "list")
    assert {d["line_no"] for d in dead} == {2, 3}
    # A page at a time, and the page says when more are older, with the command.
    first = cli("dead-letters", "list", "--limit", "1")
    newest, oldest = sorted(d["id"] for d in dead)[::-1]
    assert first.stderr.strip().splitlines() == [
        f"one letter whole, with its body: leadsync dead-letters show {newest}",
        f"… more are older: leadsync dead-letters list --before {newest} --limit 1",
    ]
    rest = cli("dead-letters", "list", "--limit", "1", "--before", str(newest), "--json")
    assert [d["id"] for d in json.loads(rest.stdout)] == [oldest] and rest.stderr == ""
    assert cli.json("inbox", "status") == [
        {"integration": "dialer", "status": "applied", "count": 4}
    ]


def test_reads_offer_json_and_every_command_has_help() -> None:
    command = typer.main.get_command(app)

    def walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
        found = [(path, cmd)]
        for name, sub in getattr(cmd, "commands", {}).items():
            found.extend(walk(sub, [*path, name]))
        return found

    leaves = [(p, c) for p, c in walk(command, []) if not getattr(c, "commands", None)]
    assert len(leaves) >= 15
    for path, cmd in leaves:
        assert cmd.help, f"leadsync {' '.join(path)} has no help text"
    # export prints YAML; init, demo write files; serve, worker and the HubSpot stand-in run
    # until stopped.
    reads = {("export",), ("init",), ("demo",), ("serve",), ("worker",), ("hubspot", "fake")}
    for path, cmd in leaves:
        if tuple(path) in reads or path[-1] in ("set-owner",):
            continue
        names = {o for p in cmd.params for o in getattr(p, "opts", [])}
        assert "--json" in names, f"leadsync {' '.join(path)} lacks --json"


def test_help_shows_every_bracketed_word_it_is_written_with() -> None:
    """Rich reads ``[word]`` in a help text as a style and drops it ("is marked ." for "is
    marked [rollout]."): each one written must be shown (escaped as ``\\[word]``)."""
    command = typer.main.get_command(app)

    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    checked = 0
    for path, cmd in walk(command, []):
        texts = [cmd.help or "", *(getattr(p, "help", None) or "" for p in cmd.params)]
        words = {w for t in texts for w in re.findall(r"\[[a-z][a-z_ -]*\]", t.replace("\\[", "["))}
        if not words:
            continue
        shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"})
        assert shown.exit_code == 0, shown.output
        for word in words:
            checked += 1
            assert word in shown.output, f"leadsync {' '.join(path)} --help drops {word}"
    assert checked >= 2  # decisions list and activities skipped mark [rollout]


def test_help_lists_the_commands_in_their_order() -> None:
    """Each command group is a module of leadsync.cli; the order of their imports is the
    order of ``leadsync --help``, which this pins."""
    command = typer.main.get_command(app)
    assert list(getattr(command, "commands", {})) == [
        *("init", "apply", "export", "ingest", "preview", "replay", "report", "undo"),
        *("test-lead", "serve", "worker", "demo", "records", "decisions", "activities"),
        *("owners", "inbox", "dead-letters", "review", "outbox", "users", "lines"),
        *("rollout", "hubspot", "push"),
    ]


def test_the_installed_command_runs_the_demo_in_its_own_workspace(tmp_path: Path) -> None:
    user_db = tmp_path / "mine.db"
    env = {**os.environ, "LEADSYNC_DB": f"sqlite:///{user_db}"}
    exe = Path(sys.executable).with_name("leadsync")

    def demo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), "demo", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )

    first = demo()
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "STAND-IN" in out and "owners pulled from HubSpot: 101, 102, 103" in out
    assert "HubSpot contact" in out and "owner: 101 Ana Ng" in out  # as the CLI names owners
    assert "timeline (3 activities)" in out and "call" in out and "95 s" in out
    # The user's workspace (LEADSYNC_DB) was never opened; the demo has its own file.
    assert not user_db.exists()
    assert (tmp_path / "leadsync-demo.db").exists()
    again = demo()
    assert again.returncode == 0 and "HubSpot contact" in again.stdout
    # A file that is not a demo workspace is refused, never overwritten.
    (tmp_path / "other.db").write_bytes(b"not a demo")
    refused = demo("--file", "other.db")
    assert refused.returncode == 2 and "not a leadsync demo workspace" in refused.stderr
    assert (tmp_path / "other.db").read_bytes() == b"not a demo"


def test_ingest_twice_from_the_cli_changes_nothing(cli: Cli, files: Path) -> None:
    from leadsync.workspace import Workspace

    cli("apply", str(files / "leadsync.yaml"))
    cli("ingest", "dialer", str(files / "events.jsonl"))
    with Workspace(cli.db_url) as ws:
        before = snapshot(ws)
    result = cli.json("ingest", "dialer", str(files / "events.jsonl"))
    assert result["duplicates"] == 4 and result["applied"] == 0
    with Workspace(cli.db_url) as ws:
        assert snapshot(ws) == before


# ------------------------------------------------------------- which workspace (--db)

# Arguments that get each command as far as opening the workspace; the others need none.
COMMAND_ARGS: dict[tuple[str, ...], list[str]] = {
    ("ingest",): ["dialer", "{files}/events.jsonl"],
    ("preview",): ["dialer", "{files}/events.jsonl"],
    ("replay",): ["dialer", "--settings", "{files}/leadsync.yaml"],
    ("undo",): ["--event", "e1"],
    ("test-lead",): ["dialer", "--rep", "u-1"],
    ("serve",): ["--port", "0"],
    ("worker",): ["--once"],
    ("records", "show"): ["contact", "1"],
    ("records", "find"): ["--email", "kim@globex.test"],
    ("records", "set-owner"): ["contact", "1", "101"],
    ("dead-letters", "retry"): ["1"],
    ("dead-letters", "show"): ["1"],
    ("review", "show"): ["1"],
    ("review", "resolve"): ["1", "--skip"],
    ("dead-letters", "dismiss"): ["1", "--reason", "a typo"],
    ("users", "list"): ["dialer"],
    ("rollout", "promote"): ["dialer"],
    ("rollout", "abort"): ["dialer"],
    ("push", "failures", "retry"): ["1"],
    ("push", "failures", "dismiss"): ["1", "--reason", "a test record"],
}
# Only these create a workspace (the demo makes its own file; the stand-in has none).
CREATING = {("init",), ("apply",), ("demo",), ("hubspot", "fake")}


def workspace_commands() -> list[tuple[str, ...]]:
    """Every command that opens the workspace: the leaves, and groups that run alone (push)."""
    found: list[tuple[str, ...]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if not subs or getattr(cmd, "invoke_without_command", False):
            found.append(path)
        for name, sub in (subs or {}).items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return [path for path in found if path and path not in CREATING]


def test_commands_refuse_a_database_without_a_workspace_and_create_none(
    files: Path, subtests: pytest.Subtests
) -> None:
    """A mistyped --db is refused by every command but init and apply, never made a workspace."""
    fresh = files / "fresh.db"
    typed = f"sqlite:///{fresh}"
    runner = CliRunner()
    commands = workspace_commands()
    assert len(commands) >= 30
    for path in commands:
        args = [a.format(files=files) for a in COMMAND_ARGS.get(path, [])]
        with subtests.test(command=" ".join(path)):
            result = runner.invoke(app, ["--db", typed, *path, *args])
            assert result.exit_code == 2, result.stdout + result.stderr
            assert f"no workspace at {typed}; run leadsync init" in result.stderr
            assert not fresh.exists()
    created = runner.invoke(app, ["--db", typed, "init"])
    assert created.exit_code == 0 and fresh.is_file()
    assert runner.invoke(app, ["--db", typed, "owners", "list", "--json"]).stdout.strip() == "[]"


@pytest.fixture
def runner(files: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner in the files' folder with no LEADSYNC_DB: only what --db names counts."""
    monkeypatch.chdir(files)
    monkeypatch.delenv("LEADSYNC_DB", raising=False)
    return CliRunner()


def test_a_plain_path_is_a_sqlite_file_from_db_or_leadsync_db(
    files: Path, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> None:
    missing = runner.invoke(app, ["--db", "leadsync.db", "owners", "list"])
    assert missing.exit_code == 2
    assert "no workspace at leadsync.db; run leadsync init" in missing.stderr
    assert "not a URL" not in missing.stderr
    default = runner.invoke(app, ["owners", "list"])
    assert "no workspace at sqlite:///leadsync.db (the default)" in default.stderr
    assert not (files / "leadsync.db").exists()

    applied = runner.invoke(app, ["--db", "leadsync.db", "apply", "leadsync.yaml"])
    assert applied.exit_code == 0, applied.stderr
    assert (files / "leadsync.db").is_file()
    for env in ("leadsync.db", f"sqlite:///{files / 'leadsync.db'}"):
        monkeypatch.setenv("LEADSYNC_DB", env)
        owners = runner.invoke(app, ["owners", "list", "--json"])
        assert owners.exit_code == 0, owners.stderr
        assert [o["id"] for o in json.loads(owners.stdout)] == ["101", "102", "103"]
    monkeypatch.setenv("LEADSYNC_DB", "other.db")
    other = runner.invoke(app, ["owners", "list"])
    assert other.exit_code == 2
    assert "no workspace at other.db (from LEADSYNC_DB); run leadsync init" in other.stderr
    assert not (files / "other.db").exists()


def test_an_empty_db_and_a_missing_folder_are_refused(
    files: Path, monkeypatch: pytest.MonkeyPatch, runner: CliRunner
) -> None:
    for empty in ("", " "):
        result = runner.invoke(app, ["--db", empty, "init"])
        assert result.exit_code == 2, result.stderr
        assert "--db is empty" in result.stderr
    assert not (files / "leadsync.db").exists()  # not the default instead
    missing = files / "no" / "such" / "x.db"
    for how in ("--db", "LEADSYNC_DB"):
        args = ["--db", str(missing), "init"] if how == "--db" else ["init"]
        result = runner.invoke(app, args, env={"LEADSYNC_DB": str(missing)})
        assert result.exit_code == 2, result.stderr
        assert f"the folder {files / 'no' / 'such'} does not exist; create it first" in (
            result.stderr
        )
    result = runner.invoke(app, ["--db", f"sqlite:///{missing}", "apply", "leadsync.yaml"])
    assert result.exit_code == 2 and "does not exist" in result.stderr
    assert not (files / "no").exists()


DATABASE_MESSAGES = [
    # (what was typed, exit code, what the message says)
    ("postgresql://kim:hunter2@127.0.0.1:1/leadsync", 1, "postgresql://kim:***@127.0.0.1:1/"),
    ("postgresql://kim:hunter2@127.0.0.1:5x/leadsync", 2, "postgresql://kim:***@127.0.0.1:5x/"),
    ("postgresql://kim@h/db?password=hunter2", 1, "postgresql://kim@h/db?password=***"),
    ("mysql://kim:hunter2@h/db", 2, "mysql://kim:***@h/db"),
    ("sqlite://kim:hunter2@localhost/x.db", 2, "sqlite://kim:***@localhost/x.db"),
]


def test_database_messages_show_what_was_typed_but_never_a_password(
    files: Path, monkeypatch: pytest.MonkeyPatch, subtests: pytest.Subtests
) -> None:
    monkeypatch.delenv("LEADSYNC_DB", raising=False)
    (files / "notes.txt").write_text("not a database\n" * 100)
    runner = CliRunner()
    cases = [*DATABASE_MESSAGES, (str(files / "notes.txt"), 2, "is not a leadsync workspace")]
    for typed, code, shown in cases:
        for how in ("--db", "LEADSYNC_DB"):
            with subtests.test(typed=typed, how=how):
                if how == "--db":
                    result = runner.invoke(app, ["--db", typed, "owners", "list"])
                else:
                    result = runner.invoke(app, ["owners", "list"], env={"LEADSYNC_DB": typed})
                assert result.exit_code == code, result.stderr
                assert shown in result.stderr
                assert "hunter2" not in result.stderr + result.stdout
                assert ("(from LEADSYNC_DB)" in result.stderr) == (how == "LEADSYNC_DB")


# ------------------------------------------------------------------ dead letters


def test_dead_letters_show_gives_one_letter_whole_with_what_resolves_it(
    cli: Cli, files: Path
) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    bad = files / "bad.jsonl"
    bad.write_text(
        contact_line("p-1", "u-1", event_id="e-1")
        + "\n"
        + json.dumps({"id": "e-2", "type": "record", "object": "contact"})
        + "\n"
    )
    assert cli("ingest", "dialer", str(bad)).exit_code == 2
    [letter] = cli.json("dead-letters", "list")
    shown = cli("dead-letters", "show", str(letter["id"]))
    assert shown.exit_code == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"dead letter {letter['id']}"
    assert f"  where:       {bad}:2" in lines
    assert f"  error:       {letter['error']}" in lines
    assert "  state:       open" in lines
    body = shown.stdout.split("body (as kept: secrets redacted):\n", 1)[1]
    assert json.loads(body) == {"id": "e-2", "type": "record", "object": "contact"}
    assert body.startswith('{\n  "id": "e-2",')  # indented for reading
    assert f"leadsync dead-letters retry {letter['id']}" in " ".join(shown.stderr.split())
    assert cli.json("dead-letters", "show", str(letter["id"])) == letter

    cli("dead-letters", "dismiss", str(letter["id"]), "--reason", "a test line")
    shown = cli("dead-letters", "show", str(letter["id"]))
    assert "  state:       dismissed " in shown.stdout and ": a test line" in shown.stdout
    assert "retry" not in shown.stderr  # nothing left to resolve

    missing = cli("dead-letters", "show", "999")
    assert missing.exit_code == 2
    assert "no dead letter with id 999" in missing.stderr


def test_a_retried_event_that_still_cannot_be_read_is_refused_and_exits_2(
    cli: Cli, files: Path
) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    # A row the inbox took but the drain cannot read (as a webhook's is), then processed.
    bad = json.dumps({"id": "bad-1", "occurred_at": "2026-11-01T09:00:00Z", "type": "meeting"})
    with Workspace(cli.db_url) as ws:
        with ws.engine.begin() as connection:
            write_items(
                connection, "dialer", [InboxItem("bad-1", None, bad)], now_ts(), "test", "pending"
            )
        assert ws.process_inbox().failed.total == 1
    [letter] = cli.json("dead-letters", "list")
    retried = cli("dead-letters", "retry", str(letter["id"]))
    assert retried.exit_code == 2, retried.stdout + retried.stderr
    assert f"dead letter {letter['id']} cannot be retried: it still cannot be read" in (
        retried.stderr
    )
    assert cli.json("dead-letters", "list") == [letter]  # still open, nothing new


def test_a_retried_event_that_fails_again_is_said_and_exits_2(
    cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadsync.pipeline import drain as drain_module

    cli("apply", str(files / "leadsync.yaml"))
    line = contact_line("p-1", "u-1", event_id="e-1")
    with Workspace(cli.db_url) as ws, ws.engine.begin() as connection:
        write_items(
            connection, "dialer", [InboxItem("e-1", None, line)], now_ts(), "x.jsonl", "pending"
        )
    applying = drain_module.apply_batch

    def refused(connection: Any, rules: Any, events: Any) -> Any:
        if any(e.id == "e-1" for e in events):  # the database refuses this one
            raise ValueError("refused by the test")
        return applying(connection, rules, events)

    monkeypatch.setattr(drain_module, "apply_batch", refused)
    with Workspace(cli.db_url) as ws:
        assert ws.process_inbox().failed.total == 1
    [letter] = cli.json("dead-letters", "list")
    retried = cli("dead-letters", "retry", str(letter["id"]))
    assert retried.exit_code == 2, retried.stdout + retried.stderr
    assert f"dead letter {letter['id']}: " in retried.stdout
    [said] = [line for line in retried.stdout.splitlines() if line.startswith("failed again")]
    assert said.startswith("failed again (a new dead letter): x.jsonl (inbox #")
    assert said.count("inbox #") == 1 and "refused by the test" in said
    [new] = cli.json("dead-letters", "list")
    assert new["id"] != letter["id"] and new["error"] == letter["error"]
    as_json = cli("dead-letters", "retry", str(new["id"]), "--json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["failed_again"] == [
        said.removeprefix("failed again (a new dead letter): ")
    ]


def test_dead_letters_can_be_dismissed_with_a_reason_and_stop_the_alert(
    cli: Cli, files: Path
) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    lines = EVENTS.splitlines()
    mixed = "\n".join([lines[0], '{"id": "bad", "type": "record"}', "not json"]) + "\n"
    assert cli("ingest", "dialer", "-", input=mixed).exit_code == 2
    first, second = sorted(d["id"] for d in cli.json("dead-letters", "list"))
    report = cli("report", "--since", "3650d", "--json")
    assert json.loads(report.stdout)["alerts"] >= 1
    assert "dead_letters" in alerted(report.stdout)

    retry = cli("dead-letters", "retry", str(first))
    assert retry.exit_code == 2
    assert (
        f"dead letter {first} cannot be retried: it still cannot be read: " in retry.stderr
        and f"(so it was at <stdin>:2); dismiss it with leadsync dead-letters dismiss {first} "
        "--reason TEXT"
        in retry.stderr
    ), retry.stderr

    no_reason = cli("dead-letters", "dismiss", str(first))
    assert no_reason.exit_code == 2 and "--reason" in no_reason.stderr
    assert cli("dead-letters", "dismiss", "--reason", "x").exit_code == 2  # IDs or --all
    assert cli("dead-letters", "dismiss", "999", "--reason", "x").exit_code == 2
    done = cli.json("dead-letters", "dismiss", str(first), "--reason", "a test line", "--by", "kim")
    assert done == {"dismissed": [first], "count": 1, "reason": "a test line"}
    assert [d["id"] for d in cli.json("dead-letters", "list")] == [second]
    again = cli("dead-letters", "dismiss", str(first), "--reason", "again")
    assert again.exit_code == 2 and "was dismissed at" in again.stderr

    everything = cli.json("dead-letters", "dismiss", "--all", "--reason", "cleanup")
    assert everything["dismissed"] == [second]
    assert cli.json("dead-letters", "list") == []
    kept = {d["id"]: d for d in cli.json("dead-letters", "list", "--all")}
    assert (kept[first]["state"], kept[first]["dismissed_reason"]) == ("dismissed", "a test line")
    assert kept[first]["resolved_by"] == "kim" and kept[first]["resolved_at"]
    assert kept[second]["dismissed_reason"] == "cleanup" and kept[second]["resolved_by"]
    table = cli("dead-letters", "list", "--all")
    assert table.exit_code == 0 and "dismissed" in table.stdout
    assert "dead_letters" not in alerted(cli("report", "--since", "3650d", "--json").stdout)
    # The same input again (a daily export): the dismissed lines stay dismissed, unreported.
    again = cli("ingest", "dialer", "-", input=mixed)
    assert again.exit_code == 0, again.output
    assert "0 dead letters (2 dismissed before, not kept again)" in again.stdout
    assert cli.json("dead-letters", "list") == []
    assert len(cli.json("dead-letters", "list", "--all")) == 2


def test_a_file_ingested_again_under_another_name_is_the_letters_it_was(
    cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dead letters are known by their text: the same file as ``./name``, its absolute path,
    a copy with a line added above, or stdin makes no letter twice, and a dismissal follows
    the text; a text a file holds twice is two letters."""
    cli("apply", str(files / "leadsync.yaml"))
    good = EVENTS.splitlines()[0]
    (files / "day.jsonl").write_text("\n".join([good, "not json", "not json", "{oops"]) + "\n")
    monkeypatch.chdir(files)
    first = cli("ingest", "dialer", "day.jsonl")
    assert first.exit_code == 2 and "3 dead letters" in first.stdout, first.stdout
    assert len(cli.json("dead-letters", "list")) == 3
    for name in ("./day.jsonl", str(files / "day.jsonl")):
        again = cli("ingest", "dialer", name)
        assert again.exit_code == 2 and "3 dead letters" in again.stdout  # reported, not kept
        assert len(cli.json("dead-letters", "list")) == 3
    (files / "copy.jsonl").write_text('{"id": "x"\n' + (files / "day.jsonl").read_text())
    copied = cli("ingest", "dialer", "copy.jsonl")
    assert copied.exit_code == 2 and "4 dead letters" in copied.stdout, copied.stdout
    letters = cli.json("dead-letters", "list")
    assert sorted(d["raw"] for d in letters) == ["not json", "not json", '{"id": "x"', "{oops"]

    oops = next(d["id"] for d in letters if d["raw"] == "{oops")
    cli.json("dead-letters", "dismiss", str(oops), "--reason", "a broken export")
    piped = cli("ingest", "dialer", "-", input=(files / "day.jsonl").read_text())
    assert "2 dead letters (1 dismissed before, not kept again)" in piped.stdout, piped.stdout
    assert len(cli.json("dead-letters", "list")) == 3
    assert len(cli.json("dead-letters", "list", "--all")) == 4


def alerted(report_json: str) -> set[str]:
    return {f["check"] for f in json.loads(report_json)["findings"] if f["alert"]}


def test_inbox_process_prints_the_shape_ingest_prints(cli: Cli, files: Path) -> None:
    cli("apply", str(files / "leadsync.yaml"))
    ingested = json.loads(cli("ingest", "dialer", str(files / "events.jsonl"), "--json").stdout)
    processed = cli.json("inbox", "process")
    assert set(processed) == set(ingested)
    assert set(processed["owners"]) == set(ingested["owners"])
    assert set(processed["activities"]) == set(ingested["activities"])
    assert processed["integration"] is None and processed["applied"] == 0
    assert processed["failed"] == [] and processed["failed_count"] == 0


def test_db_after_the_command_is_taken_as_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``leadsync apply --db URL FILE`` said "No such option: --db": the option is the
    app's, which click reads only before the command. The console script moves it there;
    what follows ``--`` stays as given."""
    from leadsync.cli.app import db_first, main

    assert db_first(["apply", "--db", "x.db", "f.yaml"]) == ["--db", "x.db", "apply", "f.yaml"]
    assert db_first(["records", "find", "--db=x.db"]) == ["--db=x.db", "records", "find"]
    assert db_first(["ingest", "d", "--", "--db", "x"]) == ["ingest", "d", "--", "--db", "x"]
    (tmp_path / "leadsync.yaml").write_text(EXAMPLE)
    db = f"sqlite:///{tmp_path / 'after.db'}"
    monkeypatch.setattr(
        "sys.argv", ["leadsync", "apply", "--db", db, str(tmp_path / "leadsync.yaml")]
    )
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code in (0, None), capsys.readouterr()
    assert "integrations:" in Cli(db)("export").stdout


def test_records_show_limit_says_when_it_cut_the_timeline(db_url: str) -> None:
    """``records show --limit`` took 0 (an empty timeline), -1 (all) and cut without a word,
    unlike every other list (found by a probe)."""
    from tests.helpers import call_line, contact_line, setup

    with Workspace(db_url) as ws:
        setup(ws)
        ws.ingest(
            "dialer",
            [contact_line("p-1", "u-1")]
            + [call_line(f"c-{n}", "p-1", 60, f"2026-11-0{n}T10:00:00Z") for n in (1, 2, 3)],
        )
        [kim] = ws.find(external="dialer:p-1")
    cli = Cli(db_url)
    cut = cli("records", "show", "contact", str(kim["id"]), "--limit", "2")
    assert cut.exit_code == 0, cut.stderr
    assert "timeline (2 activities)" in cut.stdout
    assert "c-3" in cut.stdout and "c-2" in cut.stdout and "c-1" not in cut.stdout
    assert "… the newest 2 activities shown, and more there are: --limit N lists more" in (
        cut.stderr
    )
    whole = cli("records", "show", "contact", str(kim["id"]), "--limit", "3")
    assert "timeline (3 activities)" in whole.stdout and "more there are" not in whole.stderr
    as_json = cli("records", "show", "contact", str(kim["id"]), "--limit", "1", "--json")
    assert [a["external_id"] for a in json.loads(as_json.stdout)["timeline"]] == ["c-3"]
    for bad in ("0", "-1"):
        assert cli("records", "show", "contact", str(kim["id"]), "--limit", bad).exit_code == 2
