"""``assign_on_activity`` through a live service with Aircall's published captures: the
account's missed inbound call (created, rung on Koen's phone, hung up, a voicemail left,
ended) gives the contact its caller's number made no owner, saying why, in any order —
even when ``call.ringing_on_agent`` comes first and makes that contact; its inbound call
that Koen answered gives that contact Koen's owner. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.schema import records
from leadsync.workspace import Workspace
from tests.live import serve, wait_applied
from tests.test_source_published_live import PHONE, configured, koen_day, letters, post
from tests.test_source_published_round6 import KOEN_TOKEN

MISSED, ANSWERED = "780836754", "780883160"
#: Koen's calls that day from the account's other line: a number no contact has; the
#: account's own lines are learned only from its outbound call and its agent, not sent here.
INBOUND = {
    "call.created.inbound.koenverduijn.json": MISSED,
    "call.ringing_on_agent.koenverduijn.json": MISSED,
    "call.hungup.missed.koenverduijn.json": MISSED,
    "call.ended.voicemail.koenverduijn.json": MISSED,
    "call.voicemail_left.koenverduijn.json": MISSED,
    "call.answered.inbound.koenverduijn.json": ANSWERED,
    "call.unsuccessful_transfer.koenverduijn.json": ANSWERED,
    "call.tagged.koenverduijn.json": ANSWERED,
    "call.commented.koenverduijn.json": ANSWERED,
}


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    return workspace


def the_contact(ws: Workspace) -> dict[str, object]:
    """The one contact made for the caller's number."""
    with ws.engine.connect() as connection:
        [made] = connection.execute(
            sa.select(records.c.id).where(records.c.origin == "unknown_number")
        ).scalars()
    return ws.record("contact", made)


@pytest.mark.parametrize("order", ["as sent", "ringing first", "reversed"])
def test_aircall_missed_inbound_call_gives_no_owner_and_the_answered_one_does(
    ws: Workspace, order: str
) -> None:
    phone = {
        **PHONE,
        "ownership": {"assign_on_activity": True},
        "unknown_counterpart": {"policy": "create"},
    }
    configured(ws, {"phone": phone})
    day = [p for p in koen_day() if p.name in INBOUND]
    assert len(day) == len(INBOUND)
    missed: list[Path] = [p for p in day if INBOUND[p.name] == MISSED]
    answered: list[Path] = [p for p in day if INBOUND[p.name] == ANSWERED]
    if order == "reversed":
        missed, answered = missed[::-1], answered[::-1]
    elif order == "ringing first":  # a redelivery puts it before call.created: it finds
        missed.sort(key=lambda p: "ringing" not in p.name)  # (makes) the caller's contact
    with serve(ws, environ={"AIRCALL_TOKEN_KOEN": KOEN_TOKEN}) as live:
        for path in missed:
            assert post(live, path, "phone").status_code == 200, path.name
        wait_applied(ws)
        contact = the_contact(ws)
        assert contact["owner_id"] is None  # Koen's phone rang; nobody answered
        history = contact["owner_history"]
        assert isinstance(history, list) and history
        reasons = [d["reason"] for d in history if d["strategy"] == "assign_on_activity"]
        assert reasons and all(
            r.startswith("ignored: not assigned: the inbound call was not answered")
            and "rep 731416 (owner 101) is only the agent it rang" in r
            for r in reasons
        )
        for path in answered:
            assert post(live, path, "phone").status_code == 200, path.name
        wait_applied(ws)
    assert letters(ws) == []
    contact = the_contact(ws)
    assert contact["owner_id"] == "101"  # Koen answered the next call from that number
    history = contact["owner_history"]
    assert isinstance(history, list)
    sets = [(d["strategy"], d["owner_id"]) for d in history if d["outcome"] == "set"]
    assert sets == [("assign_on_activity", "101")]
