"""What the listings show people: owners by name beside their ids, the activities created
(with their records and why) beside those skipped (with the record each was for), ``--since``
as a duration, a date or a time, and one name for the settings a decision was made under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import EXAMPLE_YAML
from tests.test_cli import EVENTS, Cli

# After the README's four events: two short calls on p-1 (skipped), one on a contact no event
# created (skipped too), a busy call, and a disabled email.
MORE = [
    {
        "id": "e5",
        "occurred_at": "2026-11-02T09:20:00Z",
        "type": "activity",
        "activity": "call",
        "external_id": "c-2",
        "owner": "u-1",
        "properties": {"duration_s": 3},
        "associations": [{"object": "contact", "external_id": "p-1"}],
    },
    {
        "id": "e6",
        "occurred_at": "2026-11-02T09:21:00Z",
        "type": "activity",
        "activity": "call",
        "external_id": "c-3",
        "owner": "u-1",
        "properties": {"duration_s": 4.5},
        "associations": [
            {"object": "company", "external_id": "a-1"},
            {"object": "contact", "email": "kim@globex.test"},
        ],
    },
    {
        "id": "e7",
        "occurred_at": "2026-11-02T09:22:00Z",
        "type": "activity",
        "activity": "call",
        "external_id": "c-4",
        "owner": "u-1",
        "properties": {"duration_s": 2},
        "associations": [{"object": "contact", "external_id": "p-77"}],
    },
    {
        "id": "e8",
        "occurred_at": "2026-11-02T09:23:00Z",
        "type": "activity",
        "activity": "email",
        "external_id": "m-1",
        "owner": "u-9",
        "properties": {"subject": "Hi"},
        "associations": [{"object": "contact", "external_id": "p-1"}],
    },
]


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    (tmp_path / "leadsync.yaml").write_text(EXAMPLE_YAML)
    (tmp_path / "events.jsonl").write_text(EVENTS + "".join(json.dumps(e) + "\n" for e in MORE))
    runner = Cli(db_url)
    assert runner("apply", str(tmp_path / "leadsync.yaml")).exit_code == 0
    assert runner("ingest", "dialer", str(tmp_path / "events.jsonl")).exit_code == 0
    return runner


def text(cli: Cli, *args: str) -> str:
    """A command's text on a wide terminal, so that table cells are not wrapped."""
    from leadsync.cli import app

    result = cli.runner.invoke(app, ["--db", cli.db_url, *args], env={"COLUMNS": "250"})
    assert result.exit_code in (0, 1), result.output
    return str(result.stdout)


def test_tables_show_owner_names_beside_owner_ids(cli: Cli) -> None:
    assert "101 Ana Ng" in text(cli, "records", "find", "--email", "kim@globex.test")
    shown = text(cli, "records", "show", "contact", "1")
    assert "owner: 101 Ana Ng" in shown
    assert "- -> 101 Ana Ng" in shown  # the owner history
    assert "owner 101 Ana Ng" in shown  # the timeline
    assert "-> 101 Ana Ng" in text(cli, "decisions", "list")
    users = text(cli, "users", "list", "dialer")
    assert "101 Ana Ng" in users and "102 Bo Li" in users
    assert "101 Ana Ng" in text(cli, "activities", "list")
    deal = text(cli, "records", "show", "deal", "3")
    assert "is_closed=no" in deal and "False" not in deal  # plain words, not Python values
    # JSON keeps the ids alone.
    assert cli.json("records", "find", "--email", "kim@globex.test")[0]["owner_id"] == "101"


def test_activities_list_shows_created_activities_with_their_records_and_why(cli: Cli) -> None:
    [call] = cli.json("activities", "list")
    assert (call["integration"], call["type"], call["external_id"]) == ("dialer", "call", "c-1")
    assert call["owner_id"] == "101" and call["properties"]["duration_s"] == 95
    assert type(call["properties"]["duration_s"]) is int  # as the event gave it, not 95.0
    assert call["records"] == [
        {"type": "contact", "id": 1, "source": "event", "why": "named by the event"},
        {
            "type": "company",
            "id": 2,
            "source": "auto",
            "reason": "contact 1's primary company, by associations.company: primary",
            "why": "contact 1's primary company, by associations.company: primary",
        },
    ]
    assert call["merged_from"] == []
    assert cli.json("activities", "list", "--type", "email") == []
    unknown = cli("activities", "list", "--integration", "elsewhere", "--json")
    assert unknown.exit_code == 2
    assert "unknown integration 'elsewhere'; configured integrations: dialer" in unknown.stderr
    assert cli.json("activities", "list", "--since", "2026-11-02") == []
    assert len(cli.json("activities", "list", "--since", "2026-11-01")) == 1
    shown = text(cli, "activities", "list")
    assert "contact 1: named by the event" in shown and "dialer" in shown
    bad = cli("activities", "list", "--type", "fax")
    assert bad.exit_code == 2 and "allowed: call, email, meeting, note, task" in bad.stderr


def test_activities_skipped_names_the_record_each_skip_was_for(cli: Cli) -> None:
    rows = {r["external_id"]: r for r in cli.json("activities", "skipped")}
    assert set(rows) == {"c-2", "c-3", "c-4", "m-1"}
    assert rows["c-2"]["record"] == {"type": "contact", "id": 1, "named": "p-1"}
    # The contact (the primary record type) over the company named first; named by email.
    assert rows["c-3"]["record"] == {"type": "contact", "id": 1, "named": "kim@globex.test"}
    # A contact that no event created: named as the event named it.
    assert rows["c-4"]["record"] == {"type": "contact", "id": None, "named": "p-77"}
    assert rows["m-1"]["record"]["id"] == 1
    shown = text(cli, "activities", "skipped")
    assert "contact 1" in shown and "contact p-77 (not in the workspace)" in shown
    calls = cli.json("activities", "skipped", "--type", "call", "--since", "2026-11-02T09:21:00")
    assert {r["external_id"] for r in calls} == {"c-3", "c-4"}


def test_decisions_and_skips_name_the_settings_they_were_made_under_the_same_way(
    cli: Cli, tmp_path: Path
) -> None:
    decisions = cli.json("decisions", "list")
    history = cli.json("records", "show", "contact", "1")["owner_history"]
    skips = cli.json("activities", "skipped")
    assert {d["settings"] for d in decisions} == {"current"}
    assert {d["settings"] for d in history} == {"current"}
    assert {s["settings"] for s in skips} == {"current"}
    new_contact = json.loads(EVENTS.splitlines()[0]) | {"id": "n1", "external_id": "p-5"}
    new_contact["properties"] = {"email": "p-5@globex.test"}
    short_call = MORE[0] | {"id": "n2", "external_id": "c-9"}
    (tmp_path / "two.jsonl").write_text(json.dumps(new_contact) + "\n" + json.dumps(short_call))
    preview = cli.json("preview", "dialer", str(tmp_path / "two.jsonl"))
    owner_decisions = [d for e in preview["events"] for d in e["owner_decisions"]]
    assert owner_decisions and {d["settings"] for d in owner_decisions} == {"current"}
    [skipped] = [e["activity"] for e in preview["events"] if e["activity"]]
    assert skipped["settings"] == "current"


def test_since_takes_a_date_and_a_time_without_offset_everywhere(cli: Cli) -> None:
    for since in ("2026-11-01", "2026-11-01T00:00", "2026-11-01 00:00:00", "3650d"):
        assert len(cli.json("activities", "list", "--since", since)) == 1, since
        report = cli("report", "--since", since, "--json")
        assert report.exit_code in (0, 1), report.output
    bad = cli("activities", "list", "--since", "2026-13-01")
    assert bad.exit_code == 2 and "2026-11-01" in bad.stderr  # says what it takes


def test_decisions_say_who_made_each_an_integration_an_admins_undo_a_person(cli: Cli) -> None:
    """A decision without an integration is an admin's undo or a person's change in the CRM,
    each said as such (an undo is not "a person in the CRM")."""
    [first] = [d for d in cli.json("decisions", "list") if d["event_id"] == "e1"]
    assert cli("undo", "--event", "e1").exit_code == 0
    changed = cli("records", "set-owner", first["record_type"], str(first["record_id"]), "102")
    assert changed.exit_code == 0
    listed = text(cli, "decisions", "list")
    assert "by an admin (undo)" in listed
    assert "by a person in the CRM (manual)" in listed
    assert "by dialer (" in listed
    shown = text(cli, "records", "show", first["record_type"], str(first["record_id"]))
    assert "by an admin (undo)" in shown and "by a person in the CRM (manual)" in shown


def test_a_table_into_a_pipe_keeps_each_row_on_one_line(cli: Cli) -> None:
    """Piped (no terminal, no COLUMNS), a table is as wide as its cells: each row one line
    that grep finds whole, not wrapped at 80 columns (a time cut as 2026-11-01T09:1 / 0Z)."""
    from leadsync.cli import app

    piped = cli.runner.invoke(app, ["--db", cli.db_url, "activities", "list"], env={"COLUMNS": ""})
    assert piped.exit_code == 0, piped.output
    [row] = [line for line in piped.stdout.splitlines() if "c-1" in line]
    assert "2026-11-01T09:10:00Z" in row and "dialer" in row and "101 Ana Ng" in row
    assert 80 < max(len(line) for line in piped.stdout.splitlines()) < 200  # no padding


@pytest.mark.parametrize(
    ("args", "what"),
    [(("activities", "skipped"), "skipped activities"), (("decisions", "list"), "decisions")],
)
def test_a_list_its_limit_cut_says_more_are_there(
    cli: Cli, args: tuple[str, ...], what: str
) -> None:
    """They stopped at --limit (100 by default) without a word: an admin counting rows got a
    wrong total."""
    whole = cli.json(*args)
    assert len(whole) >= 2
    cut = cli(*args, "--limit", str(len(whole) - 1))
    assert cut.exit_code == 0
    assert f"… the newest {len(whole) - 1} {what} shown, and more there are" in cut.stderr
    assert "more there are" not in cli(*args, "--limit", str(len(whole))).stderr
