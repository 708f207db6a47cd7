"""``push failures dismiss --reason``: a dismissal keeps who, when and why, and
``push failures list --all`` lists dismissed failures again (as ``dead-letters list --all``)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.model import now_ts
from leadsync.store import push as push_store
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.test_hubspot_push import config


@pytest.fixture
def ws(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    workspace = Workspace(db_url)
    workspace.apply_config(config())
    with workspace.engine.begin() as connection:
        push_store.add_failures(
            connection,
            [
                {
                    "kind": push_store.RECORD,
                    "local_id": local_id,
                    "object_type": "contact",
                    "operation": "create",
                    "status": 400,
                    "category": "VALIDATION_ERROR",
                    "message": f"Email address {who}@ is invalid",
                    "correlation_id": None,
                    "at": now_ts(),
                }
                for local_id, who in ((7, "kim"), (8, "lee"))
            ],
        )
    yield workspace
    workspace.close()


def failures_cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", db_url, "push", "failures", *args])
    return result.exit_code, result.stdout, result.stderr


def ids_by_object(ws: Workspace) -> dict[int, int]:
    return {int(f["local_id"]): int(f["id"]) for f in ws.push_failures()}


def test_a_dismissal_keeps_its_reason_and_is_listed_with_all(ws: Workspace, db_url: str) -> None:
    kim = ids_by_object(ws)[7]
    code, out, err = failures_cli(
        db_url, "dismiss", str(kim), "--reason", "a test record, never in HubSpot", "--by", "ana"
    )
    assert (code, out, err) == (0, "dismissed: 1 (see `leadsync push failures list --all`)\n", "")
    # The open list no longer has it ...
    code, out, _err = failures_cli(db_url, "list", "--json")
    assert code == 0 and [r["local_id"] for r in json.loads(out)] == [8]
    # ... the whole list has both, the dismissed one with who, when and why.
    code, out, _err = failures_cli(db_url, "list", "--all", "--json")
    rows = {r["local_id"]: r for r in json.loads(out)}
    assert code == 0 and set(rows) == {7, 8}
    assert rows[8]["state"] == "open" and rows[8]["resolved_by"] is None
    dismissed = rows[7]
    assert dismissed["state"] == dismissed["resolution"] == "dismissed"
    assert dismissed["resolved_by"] == "ana"
    assert dismissed["dismissed_reason"] == "a test record, never in HubSpot"
    assert dismissed["resolved_at"] is not None
    code, out, _err = failures_cli(db_url, "list", "--all")
    text = " ".join(out.split())  # the table may wrap a cell
    assert code == 0 and "state" in out and "open" in out
    assert "by ana: a test record, never in HubSpot" in text
    assert "dismissed" in text and "Email address kim@ is invalid" in text
    code, out, _err = failures_cli(db_url, "list")
    assert "kim@" not in out and "lee@" in out and "state" not in out


def test_a_dismissal_without_a_reason_is_refused_and_changes_nothing(
    ws: Workspace, db_url: str
) -> None:
    kim = ids_by_object(ws)[7]
    for reason in ((), ("--reason", "  ")):
        code, out, err = failures_cli(db_url, "dismiss", str(kim), *reason)
        assert (code, out) == (2, "")
        said = "blank" if reason else "missing"
        assert f"--reason is {said}; allowed: some text, why the failures are not pushed" in err
    assert set(ids_by_object(ws)) == {7, 8}


def test_the_dismissers_name_defaults_to_the_user_and_a_retry_keeps_who_too(
    ws: Workspace, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "kim-admin")
    monkeypatch.setenv("LOGNAME", "kim-admin")
    ids = ids_by_object(ws)
    assert failures_cli(db_url, "dismiss", str(ids[7]), "--reason", "duplicate", "--json")[:2] == (
        0,
        '{\n  "dismissed": 1,\n  "reason": "duplicate"\n}\n',
    )
    assert failures_cli(db_url, "retry", str(ids[8]))[:2] == (0, "queued again: 1\n")
    rows = {
        r["local_id"]: r for r in json.loads(failures_cli(db_url, "list", "--all", "--json")[1])
    }
    assert rows[7]["resolved_by"] == rows[8]["resolved_by"] == "kim-admin"
    assert (rows[8]["state"], rows[8]["dismissed_reason"]) == ("retried", None)
    code, out, _err = failures_cli(db_url, "list")
    assert (code, out) == (0, "no open push failures\n")
    # Dismissed again: it is no longer open.
    code, _out, err = failures_cli(db_url, "dismiss", str(ids[7]), "--reason", "again")
    assert code == 2 and f"no open push failure with id {ids[7]}" in err
