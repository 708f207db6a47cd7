"""Owners the workspace stored that its checks would refuse now, and fallback owners who
left: leadsync keeps working, the checks where settings are written refuse them, and the
health checks (readiness, ``users list``) say what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import ConfigError
from leadsync.ops.settings_change import Actor
from leadsync.settings import dump_config, load_config
from leadsync.store.schema import owners
from leadsync.workspace import Workspace
from tests.helpers import (
    OWNERS,
    ev,
    hubspot_property_change,
    run,
    settings,
    setup,
    workspace_config,
)

OWNER_102 = (
    "owner 102 has a stored email that is not an email address (leadsync owners list shows "
    "it): the owner is kept (records, history, the map and teams still name it) but no rep is "
    "matched to it by email; correct the email in the workspace file and run leadsync apply "
    "(owners from HubSpot: correct it there, then leadsync owners pull)"
)


def store_owner(ws: Workspace, owner_id: str, **values: Any) -> None:
    """An owner row as an older version (or a pull) left it, written past today's checks."""
    with ws.engine.begin() as connection:
        connection.execute(sa.update(owners).where(owners.c.id == owner_id).values(**values))


def apply_map_from_hubspot(
    workspace: Workspace, tmp_path: Path, entry: tuple[str, str], dry_run: bool
) -> tuple[Path, Any]:
    """`leadsync apply FILE --json` of a file with owners from HubSpot whose dialer maps u-1 to
    101 and ``entry`` (rep, owner), the map's entry on line 10: the file and the result."""
    file = tmp_path / "ws.yaml"
    file.write_text(
        "owners: {source: hubspot}\n"
        "destination: {kind: hubspot, token_env: HS_TEST_TOKEN}\n"
        "integrations:\n"
        "  dialer:\n"
        "    kind: generic\n"
        "    secret_env: DIALER_SECRET\n"
        "    users:\n"
        "      map:\n"
        '        u-1: "101"\n'
        f'        {entry[0]}: "{entry[1]}"\n'
    )
    args = ["--db", workspace.url, "apply", str(file), "--json"] + (
        ["--dry-run"] if dry_run else []
    )
    return file, CliRunner().invoke(app, args)


def fallback(owner: str) -> dict[str, Any]:
    return settings(
        users={**settings()["users"], "unmapped": {"policy": "fallback", "owner": owner}}
    )


def test_an_owner_stored_with_an_email_that_is_not_an_address_stops_nothing(
    workspace: Workspace,
) -> None:
    ws = workspace
    setup(ws)
    # Stored before 'a b@x.test' was refused everywhere (or pulled so from the CRM).
    store_owner(ws, "102", email="bo acme.test")

    # Every face that read the configuration back failed on it (a pydantic traceback).
    exported = ws.export_config()
    assert [o.email for o in exported.owner_specs if o.id == "102"] == ["bo acme.test"]
    assert ws.report("2026-10-01T00:00:00.000Z").findings
    assert ws.health_snapshot() is not None
    rules = ws.rules()
    assert rules.directory.unmatchable == ("102",) and rules.directory.is_active("102")
    # The owner is kept: the map still reaches it; events still apply.
    summary = run(ws, ev("record", object="contact", external_id="p-1", owner="u-9"))
    assert summary.owners["set"] == 1
    assert ws.record("contact", 1)["owner_id"] == "102"
    # A settings change through the API or the console is not refused for it ...
    saved = ws.replace_integration("dialer", settings(ownership={"protect_manual_days": 3}))
    assert saved.ownership.protect_manual_days == 3
    # ... and the health checks say what to fix.
    assert ws.readiness(60).warnings == [OWNER_102]
    assert ws.readiness(60).status == "ready"

    # Where the email is written, it is refused: the exported file names the place.
    text = dump_config(ws.export_config())
    with pytest.raises(ConfigError) as refused:
        load_config(text, "leadsync.yaml")
    line = text.splitlines().index("  email: bo acme.test") + 1
    assert refused.value.problems == [
        f"leadsync.yaml:{line}: owners[1].email: expected an email address with no spaces; "
        "got 'bo acme.test'"
    ]
    # The corrected file applies, audited (reading the configuration before it works).
    fixed = load_config(text.replace("bo acme.test", "bo@acme.test"), "leadsync.yaml")
    changes = ws.apply_config(fixed, by=Actor("admin", "cli: test"))
    assert changes.owners_updated == ["102"]
    assert ws.readiness(60).warnings == []


def test_stored_owners_sharing_an_email_stop_nothing(workspace: Workspace) -> None:
    ws = workspace
    setup(ws)
    store_owner(ws, "104", email="BO@acme.test")  # as owners pulled from a CRM may
    assert [o.email for o in ws.export_config().owner_specs][3] == "BO@acme.test"
    assert ws.rules().directory.shared_emails == {"bo@acme.test": ("102", "104")}
    # The export applies (it was refused: export and apply disagreed), with a warning.
    text = dump_config(ws.export_config())
    warnings: list[str] = []
    assert ws.apply_config(load_config(text, "leadsync.yaml", warnings)).changed is False
    line = text.splitlines().index("  email: BO@acme.test") + 1
    assert [w.split(" (both active)")[0] for w in warnings] == [
        f"leadsync.yaml:{line}: owners[3].email: 'BO@acme.test' is also the email of owners[1]"
    ]
    assert dump_config(ws.export_config()) == text


def test_an_archived_owner_a_team_or_the_map_still_names_is_exported_inactive(
    workspace: Workspace,
) -> None:
    ws = workspace
    setup(ws)  # team sdr: 101, 102; the dialer maps u-9 to 102
    store_owner(ws, "102", archived=True)  # as `leadsync owners pull` archives one gone
    # The export, and every command that reads it (apply, report, a save), failed with a
    # traceback (unknown owner '102'); the owner is written inactive, so the file applies.
    config = ws.export_config()
    assert [(o.id, o.active) for o in config.owner_specs] == [
        ("101", True),
        ("103", False),
        ("104", True),
        ("102", False),
    ]
    assert ws.report("2026-10-01T00:00:00.000Z") is not None
    text = dump_config(config)
    ws.apply_config(load_config(text, "leadsync.yaml"), by=Actor("admin", "cli: test"))
    assert ws.rules().directory.is_active("102") is False
    assert dump_config(ws.export_config()) == text
    # An archived owner nothing names is left out, as before.
    store_owner(ws, "103", archived=True)
    assert "103" not in [o.id for o in ws.export_config().owner_specs]


def test_users_list_warns_of_owners_never_matched_by_email(workspace: Workspace) -> None:
    ws = workspace
    setup(ws)
    store_owner(ws, "102", email="bo acme.test")
    result = CliRunner().invoke(app, ["--db", ws.url, "users", "list", "dialer", "--json"])
    assert result.exit_code == 0, result.output
    assert f"warning: {OWNER_102}" in " ".join(result.stderr.split())
    assert json.loads(result.stdout)[0]["id"] == "u-1"  # the JSON is the rows, as before


def test_an_inactive_fallback_owner_is_refused_where_settings_are_written(
    workspace: Workspace,
) -> None:
    ws = workspace
    doc = {"owners": OWNERS, "teams": {"sdr": ["101", "102"]}, "integrations": {}}
    allowed = "allowed: an active owner: 101, 102, 104"
    # The file.
    text = json.dumps({**doc, "integrations": {"dialer": fallback("103")}}, indent=1)
    with pytest.raises(ConfigError) as refused:
        load_config(text, "leadsync.yaml")
    [problem] = refused.value.problems
    assert problem.endswith(
        "integrations.dialer.users.unmapped.owner: owner '103' is inactive (owners[2] has "
        f"active: false), so reps that map to nobody would get no owner; {allowed}"
    )
    # A rollout's proposed settings too.
    rollout = {**settings(), "rollout": {"percent": 10, "settings": fallback("103")}}
    with pytest.raises(
        ConfigError, match=r"rollout\.settings\.users\.unmapped\.owner: owner '103'"
    ):
        workspace_config({"dialer": rollout})
    # The admin API and the console save through the same checks.
    setup(ws)
    with pytest.raises(ConfigError) as refused:
        ws.replace_integration("dialer", fallback("103"))
    assert refused.value.problems == [
        "<api>: integrations.dialer.users.unmapped.owner: owner '103' is inactive (owners[2] "
        f"has active: false), so reps that map to nobody would get no owner; {allowed}"
    ]
    with pytest.raises(ConfigError, match="owner '103' is inactive"):
        ws.proposed_settings_from_data("dialer", {"users": {"unmapped": {"owner": "103"}}})
    assert ws.integration("dialer").users.unmapped.team == "sdr"  # nothing changed
    ws.replace_integration("dialer", fallback("104"))  # an active one is taken


def test_a_fallback_owner_who_left_after_the_settings_were_saved_is_reported(
    workspace: Workspace,
) -> None:
    ws = workspace
    ws.apply_config(workspace_config({"dialer": fallback("104"), "phone": fallback("101")}))
    store_owner(ws, "104", active=False)  # deactivated in HubSpot, then pulled
    # Nothing fails: the rules load, events apply (the rep gets nobody, flagged).
    summary = run(ws, ev("record", object="contact", external_id="p-1", owner="x-7"))
    assert (summary.owners["ignored"], summary.flagged) == (1, 1)
    decision = ws.record("contact", 1)["owner_history"][0]
    assert "the fallback owner 104 is inactive" in decision["reason"]
    report = ws.report("2026-10-01T00:00:00.000Z")
    [deactivated] = [f for f in report.findings if f.check == "deactivated_owners"]
    assert deactivated.alert and {"owner_id": "104", "fallback_of": "dialer"} in deactivated.rows
    assert deactivated.parts["dialer"] == (
        "1 mapping of this integration (its external users', its fallback owner) still names a "
        "deactivated owner"
    )
    assert ws.export_config().integrations["dialer"].users.unmapped.owner == "104"
    # Readiness names the key path and who may take over.
    assert ws.readiness(60).warnings == [
        "integrations.dialer.users.unmapped.owner: the fallback owner 104 is inactive or "
        "archived: reps of dialer that map to nobody get no owner (their decisions are "
        "flagged); name an active owner (active owners: 101, 102)"
    ]
    # A preview of another integration's change is not refused for it ...
    preview = ws.proposed_settings_from_data("phone", {"ownership": {"default": "fill_if_empty"}})
    assert preview.settings.users.unmapped.owner == "101"
    with pytest.raises(ConfigError, match="owner '104' is inactive"):
        ws.proposed_settings_from_data("dialer", {"ownership": {"default": "integration_wins"}})
    # Saving another integration is not refused for it either (only what is saved is
    # written) ...
    ws.replace_integration("phone", fallback("102"))
    # ... and naming an active fallback owner is how it is fixed.
    ws.replace_integration("dialer", fallback("102"))
    assert ws.readiness(60).warnings == []


def test_an_owner_not_pulled_from_hubspot_is_refused_at_its_key_path(
    workspace: Workspace,
) -> None:
    hubspot = {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"}
    doc: dict[str, Any] = {"owners": {"source": "hubspot"}, "destination": hubspot}
    workspace.apply_config(workspace_config({}))  # the owners, as a pull would leave them
    doc["integrations"] = {"dialer": fallback("999")}
    with pytest.raises(ConfigError) as refused:
        workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))
    [problem] = refused.value.problems
    assert problem == (
        "<owners from hubspot>: integrations.dialer.users.unmapped.owner: unknown owner '999'; "
        "owners pulled from HubSpot: 101, 102, 103, 104 (one added since? `leadsync owners "
        "pull` again)"
    )


@pytest.mark.parametrize("dry_run", [False, True])
def test_apply_places_an_owner_not_pulled_at_its_files_line(
    workspace: Workspace, tmp_path: Path, dry_run: bool
) -> None:
    """`leadsync apply FILE` with owners from HubSpot: a map entry naming an owner nobody
    pulled is refused at FILE:LINE, as with a written owners list (it said
    "<owners from hubspot>: …", and --json's place was null)."""
    workspace.apply_config(workspace_config({}))  # the owners, as a pull would leave them
    file, said = apply_map_from_hubspot(workspace, tmp_path, ("u-9", "299"), dry_run)
    assert said.exit_code == 2, said.output
    [error] = json.loads(said.stdout)["errors"]
    assert error["place"] == f"{file}:10"
    assert "integrations.dialer.users.map.u-9: unknown owner '299'" in error["message"]


def test_before_any_pull_the_refusal_says_how_to_set_up(tmp_path: Path) -> None:
    """A pull needs the destination applied first: "run owners pull first" could not be
    done on a new workspace. The refusal gives the order that works."""
    with Workspace(f"sqlite:///{tmp_path / 'new.db'}") as fresh:
        hubspot = {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"}
        doc: dict[str, Any] = {"owners": {"source": "hubspot"}, "destination": hubspot}
        doc["integrations"] = {"dialer": fallback("999")}
        with pytest.raises(ConfigError) as refused:
            fresh.apply_config(load_config(json.dumps(doc), "ws.yaml"))
        problem = refused.value.problems[-1]  # the fallback's (the map's 102 before it)
        assert problem.endswith(
            "unknown owner '999'; no owners are pulled from HubSpot yet: apply the file "
            "without the entries that name owners (the destination and `owners: {source: "
            "hubspot}` kept), run `leadsync owners pull`, then apply it whole"
        )
        del doc["integrations"]
        fresh.apply_config(load_config(json.dumps(doc), "ws.yaml"))  # the first step goes


def test_an_inactive_fallback_owner_pulled_from_hubspot_is_refused(workspace: Workspace) -> None:
    hubspot = {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"}
    doc: dict[str, Any] = {"owners": {"source": "hubspot"}, "destination": hubspot}
    workspace.apply_config(workspace_config({}))  # the owners, as a pull would leave them
    workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))
    doc["integrations"] = {"dialer": fallback("103")}  # 103 is archived in HubSpot
    with pytest.raises(ConfigError, match="owner '103' is inactive") as refused:
        workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))
    assert "archived or deactivated in HubSpot" in str(refused.value)
    assert "owners[" not in str(refused.value) and "first?" not in str(refused.value)
    doc["integrations"] = {"dialer": fallback("104")}
    workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))


def test_an_owner_beside_one_removed_is_not_reported_updated(workspace: Workspace) -> None:
    """Removing 102 shifts 103 and 104 in the list: they did not change, and the summary (and
    the audit log) does not name them; an owner really moved, or changed, is."""
    ws = workspace
    setup(ws)

    def applied(owner_list: list[dict[str, Any]]) -> Any:
        doc = json.loads(json.dumps({"owners": owner_list, "teams": {"sdr": ["101"]}}))
        doc["integrations"] = {"dialer": {"kind": "generic"}}
        return ws.apply_config(load_config(json.dumps(doc), "test.yaml"))

    without_102 = applied([o for o in OWNERS if o["id"] != "102"])
    assert (without_102.owners_archived, without_102.owners_updated) == (["102"], [])
    back = applied(OWNERS)
    assert back.owners_updated == ["102"]  # archived, now listed again
    assert [o.id for o in ws.export_config().owner_specs] == ["101", "102", "103", "104"]
    moved = applied([OWNERS[3], *OWNERS[:3]])
    assert "104" in moved.owners_updated
    assert [o.id for o in ws.export_config().owner_specs] == ["104", "101", "102", "103"]
    renamed = applied([{**o, "first_name": "Dee"} if o["id"] == "104" else o for o in OWNERS])
    assert "104" in renamed.owners_updated


def test_owners_are_written_in_a_few_statements_whatever_their_number(
    workspace: Workspace,
) -> None:
    """A portal's thousands of owners (pulled, or listed in the file) are added, changed and
    archived a statement each, not a statement per owner (50,000 owners took minutes), and
    the rows are the ones listed."""
    ws = workspace
    setup(ws)

    def many(n: int, name: str) -> list[dict[str, Any]]:
        return [
            {"id": str(1000 + i), "email": f"o{i}@corp.test", "first_name": name, "last_name": "X"}
            for i in range(n)
        ]

    def writes(owner_list: list[dict[str, Any]]) -> int:
        doc = {"owners": [*OWNERS, *owner_list], "integrations": {"dialer": {"kind": "generic"}}}
        seen: list[str] = []

        def count(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
            if statement.lstrip().upper().startswith(("INSERT INTO OWNERS", "UPDATE OWNERS")):
                seen.append(statement)

        sa.event.listen(ws.engine, "before_cursor_execute", count)
        try:
            ws.apply_config(load_config(json.dumps(doc), "ws.yaml"))
        finally:
            sa.event.remove(ws.engine, "before_cursor_execute", count)
        return len(seen)

    # 6 added (an insert); 3 renamed and 3 archived (an update each way).
    assert [writes(many(6, "A")), writes(many(3, "B"))] == [1, 2]
    # 594 added and 6 changed back; 300 renamed and 300 archived: still a statement each.
    assert [writes(many(600, "A")), writes(many(300, "B"))] == [2, 2]
    stored = {o.id: o for o in ws.export_config().owner_specs}
    assert len(stored) == len(OWNERS) + 300
    assert stored["1299"].first_name == "B" and "1300" not in stored
    with ws.engine.connect() as connection:
        archived = connection.execute(
            sa.select(sa.func.count()).where(owners.c.archived.is_(True))
        ).scalar_one()
    assert archived == 300  # 1300-1599; 1003-1005, archived by the second apply, are back


def test_a_team_pulled_from_hubspot_may_take_the_unmapped_reps_in_round_robin(
    workspace: Workspace,
) -> None:
    """With owners from HubSpot the pulled teams stay (a file's teams are added to them), so
    a round robin may name one: it was refused as an unknown team."""
    hubspot = {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"}
    doc: dict[str, Any] = {"owners": {"source": "hubspot"}, "destination": hubspot}
    workspace.apply_config(workspace_config({}))  # owners and team sdr, as a pull leaves them
    workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))
    users = {"unmapped": {"policy": "round_robin", "team": "sdr"}}
    doc["integrations"] = {"dialer": settings(users=users)}
    workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))
    assert workspace.integration("dialer").users.unmapped.team == "sdr"
    users["unmapped"]["team"] = "ghosts"
    with pytest.raises(ConfigError, match="unknown team 'ghosts'"):
        workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))


@pytest.mark.parametrize("dry_run", [False, True])
def test_apply_warns_of_a_rep_mapped_to_an_owner_archived_in_hubspot(
    workspace: Workspace, tmp_path: Path, dry_run: bool
) -> None:
    """With owners from HubSpot, a map entry naming an owner archived there applied without a
    word (a file's own `active: false` owner is warned of): the rep maps to nobody (found by
    a probe)."""
    workspace.apply_config(workspace_config({}))  # the owners, as a pull would leave them
    store_owner(workspace, "104", active=False)  # archived in HubSpot, as the pull saw it
    _file, said = apply_map_from_hubspot(workspace, tmp_path, ("u-4", "104"), dry_run)
    assert said.exit_code == 0, said.output
    assert json.loads(said.stdout)["warnings"] == [
        "integrations.dialer.users.map.u-4: owner '104' is inactive in the workspace: rep u-4 "
        "maps to nobody, and the unmapped policy decides its owner"
    ]


def test_a_hubspot_change_to_an_owner_archived_there_is_said_and_flagged(
    workspace: Workspace,
) -> None:
    """The engine gives the rule whether the owner is active: a HubSpot webhook setting an
    owner archived there read "the owner was changed in the CRM", unflagged."""
    doc = {"owners": OWNERS, "integrations": {"crm": {"kind": "hubspot"}}}
    workspace.apply_config(load_config(json.dumps(doc), "ws.yaml"))
    store_owner(workspace, "104", active=False)
    change = hubspot_property_change(5001, "hubspot_owner_id", "104")
    workspace.ingest("crm", [change.encode()], source="hubspot.jsonl")
    [decision] = workspace.decisions()
    assert (decision["outcome"], decision["owner_id"], decision["flagged"]) == (
        "set",
        "104",
        True,
    )
    assert str(decision["reason"]).endswith("; 104 is inactive"), decision["reason"]
