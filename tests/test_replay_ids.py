"""Replay's owner changes name records as the workspace knows them: ``id`` is the workspace's
record of that name (found in one query for all), never the id a scratch run gave it, and
null when the workspace has no such record; a record both integrations know is named by the
replayed integration's identity. On both backends (the workspace's lookup is the one query
that runs on it)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.model import format_ts, now_ts
from leadsync.ops.preview import settings_from_file
from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.store import replay as replay_store
from leadsync.workspace import Workspace
from tests.helpers import call_line, contact_line, ev, settings, setup, workspace_config
from tests.live import serve

MAPPED = {"users": {"map": {"u-1": "101"}}}
REMAPPED = {"users": {"map": {"u-1": "102"}}}


def proposal(ws: Workspace, data: dict[str, Any]) -> Any:
    return settings_from_file(json.dumps(data), "p.yaml", "dialer", ws.export_config())


def shifted(ws: Workspace) -> int:
    """Contact p-0 (id 1) before the cut, contact p-1 after it: replayed since the cut, p-1
    is the scratch run's first record (id 1). Returns p-1's id in the workspace."""
    setup(ws, **MAPPED)
    ws.ingest(
        "dialer",
        [
            contact_line("p-0", "u-1", "2026-11-01T09:00:00Z"),
            contact_line("p-1", "u-1", "2026-12-01T09:00:00Z"),
        ],
    )
    [p1] = ws.find(external="dialer:p-1")
    assert p1["id"] == 2
    return int(p1["id"])


def test_an_owner_change_gives_the_workspace_id_not_the_scratch_one(workspace: Workspace) -> None:
    p1 = shifted(workspace)
    result = workspace.replay("dialer", proposal(workspace, REMAPPED), since="2026-11-15T00:00:00Z")
    [change] = result.owner_changes
    assert change["record"] == "dialer:contact:p-1"
    assert change["id"] == p1  # the scratch run made it 1: p-0's id here
    assert workspace.record("contact", p1)["identities"][0]["external_id"] == "p-1"


def test_a_record_only_the_replay_makes_has_no_id(workspace: Workspace) -> None:
    setup(workspace, **MAPPED)
    workspace.ingest("dialer", [contact_line("p-0", "u-1")])
    # In the inbox, not applied yet: the replay makes p-2, the workspace has no such record.
    with workspace.engine.begin() as connection:
        line = contact_line("p-2", "u-1", event_id="e-2")
        write_items(connection, "dialer", [InboxItem("e-2", None, line)], now_ts(), "x", "pending")
    result = workspace.replay("dialer", proposal(workspace, REMAPPED))
    ids = {c["record"]: c["id"] for c in result.owner_changes}
    assert ids == {"dialer:contact:p-0": 1, "dialer:contact:p-2": None}
    assert workspace.find(external="dialer:p-2") == []


def test_the_cli_and_the_api_give_the_workspace_id(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    p1 = shifted(workspace)
    file = tmp_path / "p.yaml"
    file.write_text(json.dumps(REMAPPED))
    since = ["--since", "2026-11-15"]
    args = ["replay", "dialer", "--settings", str(file), *since]
    runner = CliRunner()
    shown = runner.invoke(app, [*args, "--json"], env={"LEADSYNC_DB": db_url})
    assert shown.exit_code == 0, shown.output
    [change] = json.loads(shown.stdout)["owner_changes"]
    assert (change["record"], change["id"]) == ("dialer:contact:p-1", p1)
    text = runner.invoke(app, args, env={"LEADSYNC_DB": db_url})
    assert f"  contact dialer:contact:p-1 (id {p1}): 101 Ana Ng -> 102 Bo Li" in text.stdout
    with serve(workspace) as live:
        body = {"integration": "dialer", "settings": REMAPPED, "since": "2026-11-15"}
        answer = live.client.post("/api/replay", json=body)
    assert answer.status_code == 200, answer.text
    assert [(c["record"], c["id"]) for c in answer.json()["owner_changes"]] == [
        ("dialer:contact:p-1", p1)
    ]


def test_a_record_two_integrations_know_is_named_by_the_replayed_ones_identity(
    workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    # crm:contact:sf-0 and dialer:contact:p-0 are one contact (one email); "crm" sorts first.
    workspace.apply_config(workspace_config({"crm": settings(), "dialer": settings(**MAPPED)}))
    sf0 = ev(
        "record",
        "2026-11-01T08:00:00Z",
        object="contact",
        external_id="sf-0",
        properties={"email": "kim@globex.test"},
    )
    workspace.ingest("crm", [json.dumps(sf0)])
    kim = contact_line("p-0", "u-1", "2026-11-01T09:00:00Z", email="kim@globex.test")
    workspace.ingest("dialer", [kim, call_line("c-0", "p-0", 60)])
    [record] = workspace.find(email="kim@globex.test")
    stricter = {**REMAPPED, "activities": {"call": {"min_duration_s": 100}}}
    result = workspace.replay("dialer", proposal(workspace, stricter))
    assert [(c["record"], c["id"]) for c in result.owner_changes] == [
        ("dialer:contact:p-0", record["id"])
    ]
    file = tmp_path / "p.yaml"
    file.write_text(json.dumps(stricter))
    shown = CliRunner().invoke(
        app,
        ["replay", "dialer", "--settings", str(file), "--format", "csv"],
        env={"LEADSYNC_DB": db_url},
    )
    assert shown.exit_code == 0, shown.output
    rows = list(csv.DictReader(io.StringIO(shown.stdout)))
    assert [(r["difference"], r["record"], r["activity"], r["current_records"]) for r in rows] == [
        ("owner", "dialer:contact:p-0", "", ""),
        ("activity disappears", "", "dialer:call:c-0", "dialer:contact:p-0"),
    ]


def test_the_workspace_lookup_is_one_query_by_identity_email_or_domain(
    workspace: Workspace,
) -> None:
    setup(workspace, **MAPPED)
    company = ev(
        "record",
        object="company",
        external_id="a-1",
        properties={"name": "Acme", "domain": "acme-corp.test"},
    )
    workspace.ingest("dialer", [contact_line("p-0", "u-1"), json.dumps(company)])
    name = replay_store.RecordName
    wanted = [
        name("contact", "dialer", "p-0", None, None),
        name("contact", None, None, "p-0@globex.test", None),
        name("company", None, None, None, "acme-corp.test"),
        name("contact", "dialer", "p-9", None, None),  # none of these
        name("contact", None, None, "nobody@globex.test", None),
        name("company", None, None, None, "nowhere.test"),
        name("company", None, None, "p-0@globex.test", None),  # a contact's email
    ]
    statements: list[str] = []
    with workspace.engine.connect() as connection:

        def count(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(connection, "before_cursor_execute", count)
        found = replay_store.workspace_ids(connection, wanted)
        event.remove(connection, "before_cursor_execute", count)
    contact = workspace.find(external="dialer:p-0")[0]["id"]
    acme = workspace.find(domain="acme-corp.test")[0]["id"]
    assert found == {wanted[0]: contact, wanted[1]: contact, wanted[2]: acme}
    assert len([s for s in statements if s.lstrip().startswith("SELECT")]) == 1


def test_a_contact_made_for_a_calls_number_is_named_by_its_number_in_both_runs(
    workspace: Workspace,
) -> None:
    """Contacts ``unknown_counterpart: create`` makes have no identity, email or domain: they
    were named by their scratch ids, which differ between the runs, so a contact both runs
    make was counted in neither and another integration's call on it "moved" records."""

    def call(ext: str, number: str, at: str) -> dict[str, Any]:
        properties = {"direction": "outbound", "duration_s": 60, "outcome": "connected",
                      "from_number": "+15550000000", "to_number": number}  # fmt: skip
        return ev("activity", at, activity="call", external_id=ext, properties=properties)

    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(unknown_counterpart={"policy": "hold"}),
                "phone": settings(unknown_counterpart={"policy": "create"}),
            }
        )
    )
    workspace.ingest("dialer", [json.dumps(call("c-1", "+15550001111", "2026-11-01T09:00:00Z"))])
    workspace.ingest("phone", [json.dumps(call("c-2", "+15550002222", "2026-11-01T09:05:00Z"))])
    proposed = proposal(workspace, {"unknown_counterpart": {"policy": "create"}})
    result = workspace.replay("dialer", proposed)
    assert (result.only_in_current, result.only_in_proposed) == (0, 1)  # +1 555 000 1111's
    assert result.associations_differ == 1  # dialer's call, on the contact made for it
    assert result.records_compared == 1  # phone's contact, in both runs


def test_a_change_of_hold_days_shows_in_the_queue_each_run_leaves(workspace: Workspace) -> None:
    """A call held for its number: with 2 days its hold ended long ago (a question for the
    review queue), with 365 it still waits. The replay never ended holds, so both runs
    said 0 questions and a hold_days change showed no difference."""

    properties = {"direction": "outbound", "duration_s": 60, "outcome": "connected",
                  "from_number": "+15550000000", "to_number": "+15550001111"}  # fmt: skip
    month_ago = format_ts(datetime.now(UTC) - timedelta(days=30))  # held 30 days so far
    call = ev("activity", month_ago, activity="call", external_id="c-1", properties=properties)
    workspace.apply_config(
        workspace_config(
            {"dialer": settings(unknown_counterpart={"policy": "hold", "hold_days": 2})}
        )
    )
    workspace.ingest("dialer", [json.dumps(call)])
    proposed = proposal(workspace, {"unknown_counterpart": {"policy": "hold", "hold_days": 365}})
    result = workspace.replay("dialer", proposed)
    queued = {
        side: result.counterparts[side]["queued_for_review"] for side in ("current", "proposed")
    }
    assert queued == {"current": 1, "proposed": 0}
