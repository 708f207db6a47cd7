"""A call a vendor sends in pieces is one call with everything its pieces say, whatever order
and batches they arrive in, through the real webhook intake: Outreach's answer and end in
separate updates still give the call its duration (which the call filters see); Salesloft's
call data record, first seen before it was logged to a call, and that call are one activity
(and one call in HubSpot)."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.pipeline.intake import Intake
from leadsync.settings import load_config
from leadsync.sources.base import WebhookRequest
from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_sources,
    record_identities,
)
from leadsync.workspace import Workspace
from tests import adapters as harness
from tests.helpers import HUBSPOT_TOKEN, reset_database, workspace_config
from tests.helpers import settings as integration_settings

OUTREACH_SECRET = "outreach-test-secret"


def _call_settings(kind: str, secret_env: str) -> dict[str, Any]:
    return integration_settings(
        kind=kind,
        secret_env=secret_env,
        users={"auto_match": "none", "map": {"7": "101"}},
        activities={"call": {"enabled": True, "min_duration_s": 15}},
    )


@pytest.fixture
def outreach(workspace: Workspace) -> Iterator[Intake]:
    workspace.apply_config(
        workspace_config({"outreach": _call_settings("outreach", "OUTREACH_SECRET")})
    )
    service = Intake(workspace.engine, environ={"OUTREACH_SECRET": OUTREACH_SECRET})
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _send(intake: Intake, integration: str, headers: dict[str, str], body: bytes) -> None:
    request = WebhookRequest("POST", f"http://test/webhooks/{integration}", headers, body)
    receipt = intake.receive(integration, request).result(timeout=60)
    assert (receipt.accepted, receipt.duplicates) == (1, 0)


def _outreach_call_in_pieces(talk_s: int) -> list[dict[str, Any]]:
    """Outreach's call 9001 as three deliveries: created (dialed), answered (an update that
    carries only ``answeredAt``), ended (``completedAt`` and ``outcome`` only)."""
    created = harness.body("outreach", "call.created")
    answered = copy.deepcopy(harness.body("outreach", "call.updated"))
    answered["data"]["attributes"] = {
        "answeredAt": "2026-11-03T14:00:10.000Z",
        "updatedAt": "2026-11-03T14:00:10.000Z",
    }
    ended = copy.deepcopy(answered)
    ended["data"]["attributes"] = {
        "completedAt": f"2026-11-03T14:{(10 + talk_s) // 60:02d}:{(10 + talk_s) % 60:02d}.000Z",
        "outcome": "Answered",
        "updatedAt": "2026-11-03T14:03:00.000Z",
    }
    return [created, answered, ended]


def _send_outreach(intake: Intake, body: dict[str, Any]) -> None:
    raw = harness.encode(body)
    headers = {
        "content-type": "application/json",
        "outreach-webhook-signature": harness.hmac_hex(OUTREACH_SECRET, raw),
    }
    _send(intake, "outreach", headers, raw)


@pytest.mark.parametrize("batch_size", [1, 3], ids=["a batch each", "one batch"])
@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_an_outreach_call_answered_and_ended_in_separate_updates_is_filtered_by_its_duration(
    workspace: Workspace, outreach: Intake, order: tuple[int, ...], batch_size: int
) -> None:
    pieces = _outreach_call_in_pieces(talk_s=4)
    for index in order:
        _send_outreach(outreach, pieces[index])
    assert workspace.process_inbox(batch_size=batch_size).ok
    assert workspace.activities() == []  # 4 s is shorter than min_duration_s 15
    reasons = [s["reason"] for s in workspace.skipped_activities()]
    assert any(r.startswith("call lasted 4 s, shorter than min_duration_s 15 s") for r in reasons)


@pytest.mark.parametrize("reverse", [False, True], ids=["in order", "reversed"])
def test_an_outreach_call_answered_and_ended_in_separate_updates_has_its_duration(
    workspace: Workspace, outreach: Intake, reverse: bool
) -> None:
    pieces = _outreach_call_in_pieces(talk_s=95)
    for body in reversed(pieces) if reverse else pieces:
        _send_outreach(outreach, body)
        assert workspace.process_inbox().ok
    [call] = workspace.activities()
    properties = call["properties"]
    assert (properties["duration_s"], properties["outcome"], call["owner_id"]) == (
        95,
        "connected",
        "101",
    )


# ------------------------------------------------------------------ Salesloft


SALESLOFT_SECRET = "salesloft-callback-token"
KIM = "+14155550100"


def _salesloft_config(push: bool = False, dedupe: bool = False) -> Any:
    integrations = {"salesloft": _call_settings("salesloft", "SALESLOFT_TOKEN")}
    if dedupe:  # the dialer's calls are Salesloft's too
        integrations["phone"] = _call_settings("aircall", "PHONE_TOKEN")
    doc = workspace_config(integrations).model_dump(mode="json", exclude_defaults=True)
    if push:
        doc["destination"] = {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"}
    if dedupe:
        doc["dedupe"] = [{"activity": "call", "integrations": ["phone", "salesloft"]}]
    return load_config(json.dumps(doc), "test.yaml")


def _salesloft_body(name: str, **changes: Any) -> dict[str, Any]:
    """A Salesloft fixture (header and body), its body changed."""
    envelope = copy.deepcopy(harness.envelope("salesloft", name))
    envelope["body"].update(changes)
    return envelope


def _kim() -> dict[str, Any]:
    """Person 1701 (Kim, of account 501), whose phone the call data record dials."""
    return _salesloft_body("person_created", phone=KIM)


def _one_call_in_pieces() -> list[dict[str, Any]]:
    """One call as Salesloft sends it: its call data record 8850 created and completed
    before it is logged to a call (``call: null``, no person), the call 19150 created, then
    the record updated once logged to that call."""
    record = {
        "id": 8850,
        "from": "+14155550001",
        "to": KIM,
        "call": None,
        "called_person": None,
        "started_at": "2026-11-03T14:00:05.000000Z",
        "created_at": "2026-11-03T14:00:05.000000Z",
    }
    ringing = _salesloft_body(
        "call_data_record_created",
        **record,
        status="in-progress",
        duration=0,
        ended_at=None,
        recording=None,
        updated_at="2026-11-03T14:00:05.000000Z",
    )
    completed = _salesloft_body(
        "call_data_record_created", **record, updated_at="2026-11-03T14:01:41.000000Z"
    )
    completed["headers"]["x-salesloft-event"] = "call_data_record_updated"
    call = _salesloft_body("call_created", id=19150, to=KIM)
    logged = copy.deepcopy(completed)
    logged["body"].update(
        call={"id": 19150, "_href": "https://api.salesloft.test/v2/activities/calls/19150"},
        called_person={"id": 1701, "_href": "https://api.salesloft.test/v2/people/1701"},
        updated_at="2026-11-03T14:02:05.000000Z",
    )
    return [ringing, completed, call, logged]


def _send_salesloft(intake: Intake, envelope: dict[str, Any]) -> None:
    raw = harness.encode(envelope["body"])
    headers = {
        "content-type": "application/json",
        "x-salesloft-event": envelope["headers"]["x-salesloft-event"],
        "x-salesloft-signature": harness.hmac_hex(SALESLOFT_SECRET, raw, hashlib.sha1),
    }
    _send(intake, "salesloft", headers, raw)


@contextmanager
def _salesloft_intake(workspace: Workspace) -> Iterator[Intake]:
    service = Intake(workspace.engine, environ={"SALESLOFT_TOKEN": SALESLOFT_SECRET})
    service.start()
    try:
        yield service
    finally:
        service.stop()


def _the_call(workspace: Workspace) -> dict[str, Any]:
    """The one call activity as the end state shows it, without what only says which of its
    ids came first (its row id, its own id, when each id joined): its properties, owner and
    time, its ids at Salesloft, and the records it is on (by their Salesloft ids)."""
    with workspace.engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(sa.select(activities))]
        assert len(rows) == 1, rows
        [row] = rows
        sources = c.execute(
            sa.select(activity_sources.c.external_id, activity_sources.c.activity_id)
        ).all()
        linked = c.execute(
            sa.select(record_identities.c.type, record_identities.c.external_id)
            .join(
                activity_associations,
                activity_associations.c.record_id == record_identities.c.record_id,
            )
            .where(activity_associations.c.activity_id == row["id"])
        ).all()
    assert {activity_id for _, activity_id in sources} == {row["id"]}
    ids = {row.pop("external_id"), *(external_id for external_id, _ in sources)}
    row.pop("id")
    return {**row, "ids": ids, "records": set(linked)}


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(order=st.permutations(range(4)), batch_size=st.integers(1, 4))
def test_a_salesloft_call_data_record_logged_to_its_call_later_is_one_activity(
    db_url: str, order: list[int], batch_size: int
) -> None:
    """QA's sequence (a call shown twice: ``cdr:8850`` and ``19150``) and every other
    arrival order and cut into batches end in one call, the same one."""
    ends = []
    for arrival, size in (([0, 1, 2, 3], 1), (order, batch_size)):
        with Workspace(db_url) as workspace:
            reset_database(workspace.engine)
            workspace.apply_config(_salesloft_config())
            pieces = _one_call_in_pieces()
            with _salesloft_intake(workspace) as intake:
                _send_salesloft(intake, _kim())
                assert workspace.process_inbox().ok
                for index in arrival:
                    _send_salesloft(intake, pieces[index])
                assert workspace.process_inbox(batch_size=size).ok
            ends.append(_the_call(workspace))
    first = ends[0]
    assert first["ids"] == {"19150", "cdr:8850"}
    assert ("contact", "1701") in first["records"] and ("company", "501") in first["records"]
    assert (first["duration_s"], first["outcome"], first["owner_id"]) == (95, "connected", "101")
    assert first["occurred_at"] == "2026-11-03T14:00:05.000Z"  # when the call started
    assert ends[1] == first


def test_a_call_data_record_pushed_before_it_was_logged_to_its_call_is_one_call_in_hubspot(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA's sequence with a push after each piece: the record's call and the call's reach
    HubSpot as two calls before Salesloft says they are one; then the one made later is
    archived and the other carries everything."""
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    with Workspace(db_url, hubspot_transport=hub.transport()) as workspace:
        workspace.apply_config(_salesloft_config(push=True))
        workspace.hubspot_setup()
        with _salesloft_intake(workspace) as intake:
            for envelope in [_kim(), *_one_call_in_pieces()]:
                _send_salesloft(intake, envelope)
                assert workspace.process_inbox().ok
                assert workspace.push().failures == 0
                if envelope["body"]["id"] == 19150:
                    assert len(hub.objects("calls")) == 2  # not one yet: nothing said so
        [call] = hub.objects("calls")
        assert len(hub.objects("calls", archived=True)) == 1
        assert call["properties"]["hs_call_duration"] == "95000"
        [contact] = hub.objects("contacts")
        assert {a["id"] for a in call["associations"]["contacts"]} == {contact["id"]}
        assert len(workspace.activities()) == 1


@pytest.mark.parametrize("reverse", [False, True], ids=["QA's order", "reversed"])
def test_a_short_salesloft_call_is_filtered_whichever_of_its_ids_said_so(
    workspace: Workspace, reverse: bool
) -> None:
    """A 4-second call: each piece that has a duration says so, and the call and its record
    are one activity that min_duration_s (15 s) skips, whichever id made it first."""
    workspace.apply_config(_salesloft_config())
    pieces = _one_call_in_pieces()
    for envelope in pieces[1:]:
        envelope["body"]["duration"] = 4
    with _salesloft_intake(workspace) as intake:
        _send_salesloft(intake, _kim())
        for envelope in reversed(pieces) if reverse else pieces:
            _send_salesloft(intake, envelope)
            assert workspace.process_inbox().ok
    assert workspace.activities() == []


def test_a_call_whose_ids_are_one_activity_already_is_removed_when_it_turns_out_short(
    workspace: Workspace,
) -> None:
    """The record ringing (``cdr:8850``), then logged to its call while still ringing (the
    call's id joins the activity as its source), then completed after 4 s under its own id:
    the activity is removed — its sources are its own ids, not another tool's."""
    workspace.apply_config(_salesloft_config())
    ringing, completed, _, _ = _one_call_in_pieces()
    logged_ringing = copy.deepcopy(ringing)
    logged_ringing["headers"]["x-salesloft-event"] = "call_data_record_updated"
    logged_ringing["body"].update(
        call={"id": 19150, "_href": "https://api.salesloft.test/v2/activities/calls/19150"},
        updated_at="2026-11-03T14:00:06.000000Z",
    )
    completed["body"]["duration"] = 4
    with _salesloft_intake(workspace) as intake:
        _send_salesloft(intake, _kim())
        for envelope in (ringing, logged_ringing):
            _send_salesloft(intake, envelope)
            assert workspace.process_inbox().ok
        [call] = workspace.activities()
        assert {m["external_id"] for m in call["merged_from"]} == {"19150"}
        _send_salesloft(intake, completed)
        assert workspace.process_inbox().ok
    assert workspace.activities() == []


def test_a_call_and_its_record_are_not_counted_as_two_tools_merged(workspace: Workspace) -> None:
    """The report's ``activities_merged`` is about two tools' activities; one tool's two
    ids for one call are not such a merge."""
    workspace.apply_config(_salesloft_config(dedupe=True))
    with _salesloft_intake(workspace) as intake:
        for envelope in [_kim(), *_one_call_in_pieces()]:
            _send_salesloft(intake, envelope)
            assert workspace.process_inbox().ok
    [call] = workspace.activities()
    assert [m["external_id"] for m in call["merged_from"]] == ["19150"]
    findings = {f.check: f for f in workspace.report("2026-10-01T00:00:00.000Z").findings}
    assert findings["activities_merged"].rows == []
