"""A call a vendor sends in pieces is one call with everything its pieces say, whatever order
and batches they arrive in: Outreach's answer and end in separate updates still give the
call its duration (which the call filters see), through the real webhook intake."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.pipeline.intake import Intake
from leadsync.sources.base import WebhookRequest
from leadsync.workspace import Workspace
from tests import adapters as harness
from tests.helpers import settings, workspace_config

OUTREACH_SECRET = "outreach-test-secret"


def _call_settings(kind: str, secret_env: str) -> dict[str, Any]:
    return settings(
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
