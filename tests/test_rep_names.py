"""A rep's display name travels with the owner an event names (``owner.name``), from every
payload that has one, so an unmapped rep is listed as "Ana Ng", not a bare id."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from leadsync.errors import EventError
from leadsync.model import ExternalUserRef
from leadsync.sources.canonical import OWNER_KEYS, event_to_dict, parse_event
from leadsync.workspace import Workspace
from tests import adapters as harness
from tests.helpers import settings, workspace_config

# ------------------------------------------------------------------ the model


def test_a_name_is_not_part_of_who_the_rep_is() -> None:
    named = ExternalUserRef("u-1", "ana@acme.test", "Ana Ng")
    assert named == ExternalUserRef("u-1", "ana@acme.test")
    assert named == ExternalUserRef("u-1", "ana@acme.test", "Ana Ng-Lopez")
    assert named != ExternalUserRef("u-2", "ana@acme.test", "Ana Ng")
    assert named.name == "Ana Ng" and ExternalUserRef("u-1").name is None


# ------------------------------------------------------------------ the canonical format


def call(owner: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "occurred_at": "2026-11-01T09:00:00Z",
        "type": "activity",
        "activity": "call",
        "owner": owner,
    }


def test_the_canonical_owner_carries_a_name_and_gives_it_back() -> None:
    assert OWNER_KEYS == ("id", "email", "name")
    event = parse_event(call({"id": "u-1", "name": "  Ana Ng "}), "dialer")
    assert event.owner is not None
    assert (event.owner.id, event.owner.email, event.owner.name) == ("u-1", None, "Ana Ng")
    assert event_to_dict(event)["owner"] == {"id": "u-1", "name": "Ana Ng"}
    full = {"id": "u-1", "email": "ana@acme.test", "name": "Ana Ng"}
    again = parse_event(event_to_dict(parse_event(call(full), "dialer")), "dialer")
    assert again.owner is not None and again.owner.name == "Ana Ng"
    assert event_to_dict(again)["owner"] == full
    # Without a name the shapes are what they were.
    assert event_to_dict(parse_event(call({"id": "u-1"}), "dialer"))["owner"] == "u-1"
    plain = parse_event(call("u-1"), "dialer")
    assert plain.owner is not None and plain.owner.name is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (5, 'field "owner.name": expected a string, got 5'),
        (["Ana"], 'field "owner.name": expected a string, got ["Ana"]'),
        ("", 'field "owner.name": must not be empty'),
        ("   ", 'field "owner.name": must not be empty'),
        ("x" * 201, 'field "owner.name": at most 200 characters, got 201'),
    ],
)
def test_an_owner_name_that_is_no_name_is_refused_with_its_path(name: Any, message: str) -> None:
    with pytest.raises(EventError) as caught:
        parse_event(call({"id": "u-1", "name": name}), "dialer")
    assert str(caught.value.detail) == message


def test_a_name_alone_does_not_name_a_rep_and_other_keys_are_still_refused() -> None:
    with pytest.raises(EventError) as caught:
        parse_event(call({"name": "Ana Ng"}), "dialer")
    assert caught.value.detail == 'field "owner": needs id or email (or both)'
    with pytest.raises(EventError) as caught:
        parse_event(call({"id": "u-1", "title": "AE"}), "dialer")
    assert caught.value.detail == 'field "owner.title": not allowed; allowed: id, email, name'


# ------------------------------------------------------------------ learned, and listed


def line(n: int, owner: Any, kind: str = "activity", **extra: Any) -> str:
    event: dict[str, Any] = {
        "id": f"e{n}",
        "occurred_at": f"2026-11-01T09:{n:02d}:00Z",
        "type": kind,
        "owner": owner,
        **extra,
    }
    if kind == "activity":
        event["activity"] = "call"
    return json.dumps(event)


def listed(ws: Workspace, rep: str) -> Any:
    return {u["id"]: u for u in ws.external_users("dialer")}[rep]["name"]


def unmapped_settings() -> dict[str, Any]:
    return settings(users={"unmapped": {"policy": "leave"}})


def test_an_unmapped_rep_is_listed_by_the_latest_name_any_event_gave(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": unmapped_settings()}))
        ws.ingest("dialer", [line(1, "u-4411")], source="a.jsonl")
        assert listed(ws, "u-4411") is None
        ws.ingest("dialer", [line(2, {"id": "u-4411", "name": "Ana Lopez"})], source="b.jsonl")
        [row] = [u for u in ws.external_users("dialer") if u["id"] == "u-4411"]
        assert (row["name"], row["status"], row["events"]) == ("Ana Lopez", "unmapped", 2)
        # A later event without a name never erases it, in a later batch or the same one.
        ws.ingest("dialer", [line(3, "u-4411")], source="c.jsonl")
        assert listed(ws, "u-4411") == "Ana Lopez"
        batch = [
            line(4, {"id": "u-4411", "name": "Ana Lopez-Ng"}),
            line(5, {"id": "u-4411", "email": "ana@acme.test"}),
        ]
        ws.ingest("dialer", batch, source="d.jsonl")
        assert listed(ws, "u-4411") == "Ana Lopez-Ng"


def test_a_user_events_name_property_still_names_the_rep(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": unmapped_settings()}))
        user = line(1, {"id": "u-7"}, kind="user", properties={"name": "Bo Li"})
        ws.ingest("dialer", [user, line(2, "u-7")], source="a.jsonl")
        assert listed(ws, "u-7") == "Bo Li"
        # Both given: the property, as before; then a later activity's name is the latest.
        both = line(3, {"id": "u-7", "name": "B. Li"}, kind="user", properties={"name": "Bo Li"})
        ws.ingest("dialer", [both], source="b.jsonl")
        assert listed(ws, "u-7") == "Bo Li"
        ws.ingest("dialer", [line(4, {"id": "u-7", "name": "Bo Li Ng"})], source="c.jsonl")
        assert listed(ws, "u-7") == "Bo Li Ng"


# ------------------------------------------------------------------ vendors


def events_of(kind: str, body: dict[str, Any]) -> list[Any]:
    _, found = harness.read(kind, json.dumps({"body": body}))
    return [event for events in found for event in events]


def owners(kind: str, body: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    return [
        (e.owner.id, e.owner.email, e.owner.name)
        for e in events_of(kind, body)
        if e.owner is not None
    ]


def test_an_aircall_call_names_its_agent() -> None:
    body = harness.body("aircall", "call.ended")
    assert owners("aircall", body) == [("4411", "ana@acme.test", "Ana Ng")]
    # A name that is no name is passed over: the call is not refused for it.
    for odd in (None, "  ", 12):
        changed = copy.deepcopy(body)
        changed["data"]["user"]["name"] = odd
        assert owners("aircall", changed) == [("4411", "ana@acme.test", None)]


def test_a_calendly_meeting_names_its_host() -> None:
    body = harness.body("calendly", "invitee.created")
    member = body["payload"]["scheduled_event"]["event_memberships"][0]
    assert [o[2] for o in owners("calendly", body)] == [member["user_name"]]
    del member["user_name"]
    assert [o[2] for o in owners("calendly", body)] == [None]


def test_a_pipedrive_v1_record_names_its_owner() -> None:
    person = harness.body("pipedrive", "v1.added.person")
    assert owners("pipedrive", person) == [("7", None, "Ana Ng")]
    # v1's user object carries the name itself.
    person["current"]["owner_id"] = {"id": 7, "value": 7, "name": "Ana N.", "email": "a@acme.test"}
    assert owners("pipedrive", person) == [("7", "a@acme.test", "Ana N.")]


def test_users_list_shows_the_agent_an_aircall_call_named(db_url: str) -> None:
    """Only calls name this agent (no user event): ``leadsync users list`` shows its name."""
    from typer.testing import CliRunner

    from leadsync.cli import app

    leave = {"kind": "aircall", "users": {"unmapped": {"policy": "leave"}}}
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"aircall": leave}))
        body = harness.body("aircall", "call.ended")
        body["data"]["user"]["email"] = "zed@elsewhere.test"  # no owner has it: unmapped
        call_line = json.dumps({"body": body})
        summary = ws.ingest("aircall", [call_line], source="aircall.jsonl")
        assert summary.accepted == 1 and summary.dead_letter_count == 0
        # The health report's unmapped reps (the CLI's rows, the dashboard's card) name it.
        found = ws.report("2000-01-01T00:00:00.000Z").findings
        [unmapped] = [f for f in found if f.check == "unmapped_external_users"]
        assert [(r["external_user"], r["name"]) for r in unmapped.rows] == [("4411", "Ana Ng")]
    runner = CliRunner()
    args = ["--db", db_url, "users", "list", "aircall"]
    [row] = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert (row["id"], row["name"], row["status"]) == ("4411", "Ana Ng", "unmapped")
    shown = runner.invoke(app, args, env={"COLUMNS": "250"}).stdout
    assert "4411" in shown and "Ana Ng" in shown
