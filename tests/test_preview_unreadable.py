"""A preview of a file with a line that cannot be read says so as ``ingest`` does: the line on
stderr with why, counted in the summary (text and ``--json``), and exit code 2 — after the
whole result, the other lines previewed all the same. A file that reads whole exits 0."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, setup

GOOD = [contact_line("p-1", "u-1"), contact_line("p-2", "u-9"), call_line("c-1", "p-2", 95)]
BAD = "{not json"
WHY = "not valid JSON: Expecting property name enclosed in double quotes (column 2)"


def test_an_unreadable_line_is_counted_and_exits_2_like_ingest(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    setup(workspace)
    events = tmp_path / "sample.jsonl"
    events.write_text("\n".join([*GOOD[:2], BAD, GOOD[2]]) + "\n")
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}

    text = runner.invoke(app, ["preview", "dialer", str(events)], env=env)
    assert text.exit_code == 2, text.output
    assert f"{events}:3: {WHY}\n" in text.stderr
    [summary] = [line for line in text.stdout.splitlines() if line.startswith("preview of")]
    assert summary.startswith("preview of 3 events (nothing written): 2 records created;")
    assert summary.endswith(
        "; 1 unreadable (on stderr, each with why; ingest would make it a dead letter)"
    )

    as_json = runner.invoke(app, ["preview", "dialer", str(events), "--json"], env=env)
    assert as_json.exit_code == 2, as_json.output
    result = json.loads(as_json.stdout)
    assert (result["summary"]["events"], result["summary"]["unreadable"]) == (3, 1)
    assert result["unreadable"] == [{"where": f"{events}:3", "error": WHY}]

    ingested = runner.invoke(app, ["ingest", "dialer", str(events)], env=env)
    assert ingested.exit_code == 2  # the same file, the same exit code


def test_a_file_that_reads_whole_exits_0_and_says_nothing_of_unreadable_lines(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    setup(workspace)
    events = tmp_path / "sample.jsonl"
    events.write_text("\n".join(GOOD) + "\n")
    text = CliRunner().invoke(app, ["preview", "dialer", str(events)], env={"LEADSYNC_DB": db_url})
    assert text.exit_code == 0, text.output
    assert "unreadable" not in text.stdout and text.stderr == ""
    assert "preview of 3 events (nothing written)" in text.stdout
    assert "duplicate" not in text.stdout
    # Ingested, the same file previewed again: every line is in the inbox, and the summary
    # says so (it said "preview of 0 events" after a line per duplicate).
    env = {"LEADSYNC_DB": db_url}
    assert CliRunner().invoke(app, ["ingest", "dialer", str(events)], env=env).exit_code == 0
    again = CliRunner().invoke(app, ["preview", "dialer", str(events)], env=env)
    assert "preview of 0 events (nothing written)" in again.stdout
    assert "; 3 duplicates (already in the inbox: ingest would not apply them again)" in (
        again.stdout
    )


FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def test_a_file_previews_as_ingest_reads_it_pretty_printed_or_xml(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    """A pretty-printed file of documents and an XML capture are each read whole by the
    preview, as by ``ingest`` (it read them line by line: a dead letter per line)."""
    from tests.helpers import settings, workspace_config

    org = "00D5g000004Xyz1EAC"  # the organization of the Salesforce fixtures
    leave = {"unmapped": {"policy": "leave"}}
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(),
                "sf": {"kind": "salesforce", "users": leave, "vendor": {"organization_id": org}},
            }
        )
    )
    pretty = tmp_path / "pretty.json"
    pretty.write_text("\n".join(json.dumps(json.loads(line), indent=2) for line in GOOD) + "\n")
    runner, env = CliRunner(), {"LEADSYNC_DB": db_url}
    shown = runner.invoke(app, ["preview", "dialer", str(pretty), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.stdout)
    assert (result["summary"]["events"], result["summary"]["unreadable"]) == (3, 0)

    capture = FIXTURES / "salesforce" / "om_contact.xml"
    shown = runner.invoke(app, ["preview", "sf", str(capture), "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    result = json.loads(shown.stdout)
    assert result["summary"]["unreadable"] == 0 and result["summary"]["events"] >= 1
    assert all(e["where"].startswith(f"{capture}:1") for e in result["events"])


def test_a_refused_file_or_settings_file_is_a_json_object_with_json(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    """A file refused whole (a CSV given by mistake) and a --settings file with a mistake are
    a JSON object on stdout with --json, as ingest's and apply's refusals are (stdout was
    empty: a script reading it had nothing to parse)."""
    setup(workspace)
    csv = tmp_path / "contacts.csv"
    csv.write_text("email,name\nkim@x.test,Kim\n")
    events = tmp_path / "sample.jsonl"
    events.write_text("\n".join(GOOD) + "\n")
    wrong = tmp_path / "proposed.yaml"
    wrong.write_text("ownership: {default: integration_win}\n")
    runner = CliRunner()
    env = {"LEADSYNC_DB": db_url}
    for args, place in (
        (["preview", "dialer", str(csv), "--json"], f"{csv}:1"),
        (["preview", "dialer", str(events), "--settings", str(wrong), "--json"], f"{wrong}:1"),
    ):
        refused = runner.invoke(app, args, env=env)
        assert refused.exit_code == 2, refused.output
        shown = json.loads(refused.stdout)
        assert shown["ok"] is False and shown["errors"][0]["place"] == place, shown
