"""The configuration keeps the order its file wrote: ``leadsync export`` after ``apply`` gives
the file back in its order (owners, teams, each team's members, integrations, a user map's
entries, the directory, vendor options' mappings, the free-mail lists, the dedupe rules), on
SQLite and PostgreSQL. A reorder the engine reads (a team's members: whose turn is next; the
owners) is a change ``apply`` and ``--dry-run`` report; one it does not read (the teams, the
integrations, a map's entries, the free-mail domains, the dedupe rules) is written, so the
export keeps it, but reported by neither — ``--dry-run`` shows it in the YAML diff only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.rules.mapping import round_robin_turn
from leadsync.settings import dump_config, load_config
from leadsync.store.database import MIGRATIONS, create_db_engine
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, contact_line
from tests.helpers import settings as integration_settings

# Written as the export writes (block style, its quoting), every list and user-keyed mapping
# out of alphabetical order.
FILE = """\
owners:
- id: '103'
  email: cy@acme.test
  first_name: Cy
- id: '101'
  email: ana@acme.test
- id: '102'
  email: bo@acme.test
teams:
  zeta:
  - '102'
  - '101'
  alpha:
  - '103'
  - '101'
integrations:
  zulu:
    kind: generic
    secret_env: ZULU_SECRET
    users:
      map:
        u-9: '102'
        u-1: '101'
        U-10: '103'
      directory:
      - id: u-3
        email: cy@acme.test
      - id: u-1
        email: ana@acme.test
      unmapped:
        policy: round_robin
        team: zeta
    activities:
      call:
        enabled: true
        skip_outcomes:
        - no_answer
        - busy
  mike:
    kind: pipedrive
    secret_env: MIKE_SECRET
    vendor:
      activity_types:
        zz: call
        aa: meeting
  alpha:
    kind: generic
    secret_env: ALPHA_SECRET
dedupe:
- activity: meeting
  integrations:
  - zulu
  - mike
  window_s: 120
  prefer: zulu
- activity: call
  integrations:
  - alpha
  - zulu
  window_s: 60
  prefer: alpha
free_mail:
  add:
  - zz.test
  - aa.test
  allow:
  - fastmail.com
  - yahoo.com
"""


def _applied(ws: Workspace, text: str) -> Any:
    return ws.apply_config(load_config(text, "leadsync.yaml"))


def _exported(ws: Workspace) -> str:
    return dump_config(ws.export_config())


def _swapped(text: str, first: str, second: str) -> str:
    """``text`` with two blocks of lines (each written once) in each other's place."""
    assert text.count(first) == 1 and text.count(second) == 1
    return text.replace(first, "\0").replace(second, first).replace("\0", second)


def test_an_export_gives_the_file_back_in_its_order(workspace: Workspace) -> None:
    _applied(workspace, FILE)
    assert _exported(workspace) == FILE
    again = _applied(workspace, _exported(workspace))
    assert not again.changed, again.to_dict()
    assert _exported(workspace) == FILE


_ALPHA = FILE[FILE.index("  alpha:\n    kind") : FILE.index("dedupe:\n")]

# Reorders the engine does not read: each is written (the export keeps it), none reported.
UNREAD_REORDERS = {
    "teams": _swapped(FILE, "  zeta:\n  - '102'\n  - '101'\n", "  alpha:\n  - '103'\n  - '101'\n"),
    # alpha's block, the last, before zulu's, the first
    "integrations": FILE.replace(_ALPHA, "", 1).replace("  zulu:\n", _ALPHA + "  zulu:\n", 1),
    "users.map": _swapped(FILE, "        u-9: '102'\n", "        U-10: '103'\n"),
    "vendor.activity_types": _swapped(FILE, "        zz: call\n", "        aa: meeting\n"),
    "free_mail.add": _swapped(FILE, "  - zz.test\n", "  - aa.test\n"),
    "dedupe": _swapped(
        FILE,
        "- activity: meeting\n  integrations:\n  - zulu\n  - mike\n  window_s: 120\n"
        "  prefer: zulu\n",
        "- activity: call\n  integrations:\n  - alpha\n  - zulu\n  window_s: 60\n  prefer: alpha\n",
    ),
}


@pytest.mark.parametrize("what", sorted(UNREAD_REORDERS))
def test_a_reorder_the_engine_does_not_read_is_kept_but_no_change(
    workspace: Workspace, what: str
) -> None:
    _applied(workspace, FILE)
    reordered = UNREAD_REORDERS[what]
    assert reordered != FILE and sorted(reordered.splitlines()) == sorted(FILE.splitlines())
    changes = _applied(workspace, reordered)
    assert not changes.changed, changes.to_dict()
    assert _exported(workspace) == reordered
    assert not _applied(workspace, reordered).changed


def _dry_run(db_url: str, folder: Path, text: str) -> dict[str, Any]:
    path = folder / "leadsync.yaml"
    path.write_text(text)
    result = CliRunner().invoke(app, ["--db", db_url, "apply", str(path), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


def test_a_dry_run_shows_a_teams_reorder_in_the_diff_only(
    db_url: str, workspace: Workspace, tmp_path: Path
) -> None:
    _applied(workspace, FILE)
    answer = _dry_run(db_url, tmp_path, UNREAD_REORDERS["teams"])
    assert answer["changed"] is False and answer["teams_changed"] == []
    assert "-  alpha:" in answer["yaml_diff"] and "+  alpha:" in answer["yaml_diff"]
    assert _exported(workspace) == FILE  # nothing written


def test_a_team_members_reorder_is_a_change_as_whose_turn_is_next(
    db_url: str, workspace: Workspace, tmp_path: Path
) -> None:
    _applied(workspace, FILE)
    assert round_robin_turn(workspace.rules().directory, "zeta", 0) == ("102", 1)
    before, after = "  zeta:\n  - '102'\n  - '101'\n", "  zeta:\n  - '101'\n  - '102'\n"
    members_swapped = FILE.replace(before, after)
    answer = _dry_run(db_url, tmp_path, members_swapped)
    assert (answer["changed"], answer["teams_changed"]) == (True, ["zeta"])
    assert _applied(workspace, members_swapped).teams_changed == ["zeta"]
    assert round_robin_turn(workspace.rules().directory, "zeta", 0) == ("101", 1)
    assert _exported(workspace) == members_swapped


def test_an_owners_reorder_is_a_change(workspace: Workspace) -> None:
    """The owners' order is read (the first owner with an email is the one a reason names):
    an owner moved among the others is reported, as before."""
    _applied(workspace, FILE)
    moved = _swapped(
        FILE, "- id: '101'\n  email: ana@acme.test\n", "- id: '102'\n  email: bo@acme.test\n"
    )
    assert sorted(_applied(workspace, moved).owners_updated) == ["101", "102"]
    assert _exported(workspace) == moved


def test_a_directory_reorder_is_a_change(workspace: Workspace) -> None:
    """An integration's directory is read in order (its first user with an owner's email is
    the one a two-way tool is told): reordered, the integration is updated."""
    _applied(workspace, FILE)
    moved = _swapped(
        FILE,
        "      - id: u-3\n        email: cy@acme.test\n",
        "      - id: u-1\n        email: ana@acme.test\n",
    )
    assert _applied(workspace, moved).integrations_updated == ["zulu"]
    assert _exported(workspace) == moved


def test_a_team_with_no_members_applies_once(workspace: Workspace) -> None:
    """A team of no members is nothing to the engine (no round robin may name it): applying
    it again is no change, and the export leaves it out."""
    with_empty = FILE.replace("teams:\n", "teams:\n  nobody: []\n")
    assert _applied(workspace, with_empty).teams_added == ["alpha", "zeta"]
    assert not _applied(workspace, with_empty).changed
    assert _exported(workspace) == FILE


OWNER_IDS = ["101", "102", "103", "104"]
NAMES = ["alpha", "bravo", "charlie", "delta"]


@st.composite
def _orders(draw: st.DrawFn) -> dict[str, Any]:
    """A workspace whose owners, teams, members, integrations and map entries are in an
    order of Hypothesis's choosing."""
    owners = draw(st.permutations(OWNER_IDS))
    team_names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    teams = {
        name: draw(st.lists(st.sampled_from(OWNER_IDS), min_size=1, max_size=4, unique=True))
        for name in team_names
    }
    integrations = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    reps = draw(st.permutations(["u-1", "u-2", "U-3", "u-10"]))
    return {
        "owners": [{"id": o, "email": f"o{o}@acme.test"} for o in owners],
        "teams": teams,
        "integrations": {
            name: {
                "kind": "generic",
                "secret_env": f"{name.upper()}_SECRET",
                "users": {"map": {rep: OWNER_IDS[i] for i, rep in enumerate(reps)}},
            }
            for name in integrations
        },
        "free_mail": {"add": draw(st.permutations(["a.test", "b.test", "c.test"]))},
    }


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=_orders(), then=_orders())
def test_any_order_applied_is_the_order_exported(
    workspace: Workspace, first: dict[str, Any], then: dict[str, Any]
) -> None:
    """Whatever the order, and whatever was applied before: the export has the file's order,
    and applies as no change."""
    for document in (first, then):
        text = json.dumps(document)
        _applied(workspace, text)
        exported = workspace.export_config()
        assert list(exported.teams.items()) == [(t, tuple(m)) for t, m in document["teams"].items()]
        assert [o.id for o in exported.owner_specs] == [o["id"] for o in document["owners"]]
        assert list(exported.integrations) == list(document["integrations"])
        for name, written in document["integrations"].items():
            assert list(exported.integrations[name].users.map) == list(written["users"]["map"])
        assert list(exported.free_mail.add) == document["free_mail"]["add"]
        assert not _applied(workspace, dump_config(exported)).changed


def _alembic(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_a_workspace_stored_before_0018_reads_the_same_and_then_keeps_the_order(
    db_url: str,
) -> None:
    """Migration 0018 (PostgreSQL: an integration's settings ``json``, no longer ``jsonb``)
    down and up again: teams stored with positions counted from 0 in each team read by their
    names, each in its member order, as they did; the next apply writes the file's order."""
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as connection:
            command.downgrade(_alembic(connection), "0017")
        ws = Workspace(db_url, auto_migrate=False)
        _applied(ws, FILE)
        with engine.begin() as connection:  # teams as stored before: from 0 in each team
            connection.execute(sa.text("DELETE FROM team_members"))
            connection.execute(
                sa.text("INSERT INTO team_members VALUES (:t, :o, :p)"),
                [
                    {"t": "zeta", "o": "102", "p": 0},
                    {"t": "zeta", "o": "101", "p": 1},
                    {"t": "alpha", "o": "103", "p": 0},
                    {"t": "alpha", "o": "101", "p": 1},
                ],
            )
        ws.close()
    finally:
        with engine.begin() as connection:
            command.upgrade(_alembic(connection), "head")
        engine.dispose()
    ws = Workspace(db_url)
    try:
        stored = ws.export_config()
        teams = [("alpha", ("103", "101")), ("zeta", ("102", "101"))]
        assert list(stored.teams.items()) == teams
        if ws.engine.dialect.name == "postgresql":  # jsonb sorted the map (shorter keys first)
            assert list(stored.integrations["zulu"].users.map) == ["u-1", "u-9", "U-10"]
        assert not _applied(ws, FILE).changed
        assert _exported(ws) == FILE
    finally:
        ws.close()


def test_a_team_edit_keeps_whose_turn_it_is(workspace: Workspace) -> None:
    """101 and 102 took their turns, 104 is due; 101 leaves the team: 104 still gets the
    next turn, then 102 (counted in the old order, 102 got it: its second in three)."""

    def apply(members: list[str]) -> None:
        doc = {
            "owners": OWNERS,
            "teams": {"sdr": members},
            "integrations": {
                "dialer": integration_settings(
                    users={"unmapped": {"policy": "round_robin", "team": "sdr"}}
                )
            },
        }
        workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))

    apply(["101", "102", "104"])
    workspace.ingest(
        "dialer", [contact_line(f"p-{i}", "u-x", "2026-11-01T09:00:00Z") for i in (1, 2)]
    )
    apply(["102", "104"])
    workspace.ingest(
        "dialer", [contact_line(f"p-{i}", "u-x", "2026-11-01T09:00:00Z") for i in (3, 4)]
    )
    got = {i: workspace.find(external=f"dialer:p-{i}")[0]["owner_id"] for i in (1, 2, 3, 4)}
    assert got == {1: "101", 2: "102", 3: "104", 4: "102"}
