"""A skipped activity that a later event creates after all is no activity "not created" any
more: Aircall's missed ``call.ended`` (skipped as ``no_answer``), then ``call.voicemail_left``
of the same call. The skip stays as history with which activity came and when; the listing,
the report and the console's dashboard read one rule (``store.reports.not_created``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from leadsync.workspace import Workspace
from tests.helpers import workspace_config
from tests.phone_helpers import ingest_ok
from tests.test_cli import Cli
from tests.test_decided_at_migration import _database, _migrate

WEBHOOKS = Path(__file__).parent / "fixtures" / "webhooks" / "aircall"
SINCE, NOW = "2026-11-01T00:00:00.000Z", "2026-11-03T00:00:00.000Z"
SKIPPED = "call outcome no_answer is in skip_outcomes for phone"
VOICEMAIL_AT = 1793631720  # 2026-11-02T15:02:00Z, after the missed call.ended (15:01:30)


def _body(name: str, timestamp: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((WEBHOOKS / name).read_text())["body"]
    if timestamp is not None:
        body["timestamp"] = timestamp
    return body


def _setup(ws: Workspace) -> None:
    settings = {"kind": "aircall", "activities": {"call": {"skip_outcomes": ["no_answer"]}}}
    ws.apply_config(workspace_config({"phone": settings}))


def _not_created(ws: Workspace) -> tuple[str, list[dict[str, Any]]]:
    finding = {f.check: f for f in ws.report(SINCE, NOW).findings}["activities_not_created"]
    return finding.summary, finding.rows


def _skipped_chart_total(ws: Workspace) -> int:
    board = ws.dashboard(NOW)
    return next(c for c in board.charts if c.key == "skipped").total


@pytest.mark.parametrize("one_batch", [False, True])
def test_a_voicemail_after_a_skipped_missed_call_resolves_the_skip(
    workspace: Workspace, db_url: str, one_batch: bool
) -> None:
    _setup(workspace)
    missed, voicemail = _body("call.ended.missed.json"), _body("call.voicemail_left.json")
    if one_batch:
        ingest_ok(workspace, "phone", missed, _body("call.voicemail_left.json", VOICEMAIL_AT))
    else:
        ingest_ok(workspace, "phone", missed)
        # Two skips (Aircall's missed call.ended is read as the missed outcome, dated at the
        # call's start so that a voicemail left on it wins, and the rest of the call), one
        # call listed: under its latest reason.
        assert [s["reason"] for s in workspace.skipped_activities()] == [SKIPPED]
        assert _not_created(workspace)[0].startswith("1 activity received but not created")
        voicemail["timestamp"] = VOICEMAIL_AT
        ingest_ok(workspace, "phone", voicemail)
    [call] = workspace.activities(integration="phone")
    assert call["external_id"] == "812345" and call["properties"]["outcome"] == "voicemail"
    assert workspace.skipped_activities() == []
    summary, rows = _not_created(workspace)
    assert summary.startswith("0 activities received but not created") and rows == []
    assert _skipped_chart_total(workspace) == 0
    history = workspace.skipped_activities(created_later=True)
    assert [h["reason"] for h in history] == [SKIPPED, SKIPPED]
    for h in history:
        assert h["created_later"] == {"activity_id": call["id"], "at": "2026-11-02T15:02:00.000Z"}
    cli = Cli(db_url)
    assert cli.json("activities", "skipped") == []
    shown = cli("activities", "skipped", "--created-later")
    assert shown.exit_code == 0
    assert f"[created later at 2026-11-02T15:02:00Z: activity {call['id']}]" in shown.stdout


def test_an_activity_removed_again_is_not_created_again(workspace: Workspace) -> None:
    """The voicemail's call is made too short by a later ``call.ended`` (later by Aircall's
    clock, a duration of 5 s under a 10 s minimum): the activity is removed, and that skip is
    one not created — once, with the first skips kept as history of when it came."""
    settings = {
        "kind": "aircall",
        "activities": {"call": {"skip_outcomes": ["no_answer"], "min_duration_s": 10}},
    }
    workspace.apply_config(workspace_config({"phone": settings}))
    ingest_ok(workspace, "phone", _body("call.ended.missed.json"))
    ingest_ok(workspace, "phone", _body("call.voicemail_left.json", VOICEMAIL_AT))
    shorter = _body("call.ended.missed.json", VOICEMAIL_AT + 60)
    shorter["data"]["duration"] = 5
    ingest_ok(workspace, "phone", shorter)
    assert workspace.activities(integration="phone") == []
    [removed] = workspace.skipped_activities()
    assert removed["created_later"] is None and "removed" in removed["reason"]
    assert len(workspace.skipped_activities(created_later=True)) == 3
    assert _not_created(workspace)[0].startswith("1 activity received but not created")
    assert _skipped_chart_total(workspace) == 1


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_migration_resolves_the_skips_of_activities_that_exist(
    backend: str, tmp_path: Path
) -> None:
    """Skips stored before this: those whose activity exists now (by its key, or merged into
    another tool's) get its id, when unknown; the others stay not created."""
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")
            _migrate(engine, "0023", down=True)
            with engine.begin() as c:
                for activity_id, external_id in ((7, "c-1"), (8, "c-8")):
                    c.execute(
                        sa.text(
                            "INSERT INTO activities (id, type, integration, external_id, "
                            "event_id, occurred_at, properties) VALUES (:i, 'call', 'phone', "
                            ":x, 'e', '2026-11-02T15:00:00.000Z', '{}')"
                        ),
                        {"i": activity_id, "x": external_id},
                    )
                c.execute(
                    sa.text(
                        "INSERT INTO activity_sources (integration, type, external_id, "
                        "activity_id, merged_at, reason) VALUES ('crm', 'call', 'x-2', 8, "
                        "'2026-11-02T15:00:00.000Z', 'twin')"
                    )
                )
                for skip_id, integration, external_id in (
                    (1, "phone", "c-1"),  # created later
                    (2, "crm", "x-2"),  # merged into activity 8 later
                    (3, "phone", "c-3"),  # still not created
                    (4, "phone", None),  # no id of its own
                ):
                    c.execute(
                        sa.text(
                            "INSERT INTO activity_skips (id, event_id, integration, type, "
                            "external_id, occurred_at, reason, kind) VALUES (:i, 'e', :n, "
                            "'call', :x, '2026-11-02T14:00:00.000Z', 'r', 'k')"
                        ),
                        {"i": skip_id, "n": integration, "x": external_id},
                    )
            _migrate(engine, "0024")
            with engine.connect() as c:
                found = c.execute(
                    sa.text("SELECT id, activity_id, created_later_at FROM activity_skips")
                ).all()
            assert sorted(tuple(r) for r in found) == [
                (1, 7, None),
                (2, 8, None),
                (3, None, None),
                (4, None, None),
            ]
            _migrate(engine, "0023", down=True)
            with engine.connect() as c:
                columns = {col["name"] for col in sa.inspect(c).get_columns("activity_skips")}
            assert "activity_id" not in columns and "created_later_at" not in columns
        finally:
            engine.dispose()
