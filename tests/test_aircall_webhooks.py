"""Aircall calls through the real webhook intake (the service over HTTP, its worker), on each
backend, in the shapes Aircall publishes: a voicemail is a voicemail whatever the order of
its events, a tag removed leaves the call, and a call from a hidden number or of no
direction is a question or on a person, never on nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.workspace import Workspace
from tests.helpers import workspace_config
from tests.live import LiveServer, compact, fixture, serve, wait_applied

CALL = "812345"  # the call of the fixtures
JSON = {"content-type": "application/json"}
PHONE = {
    "kind": "aircall",
    "secret_env": "AIRCALL_TOKEN",
    "region": "US",
    "users": {"unmapped": {"policy": "leave"}},
    "activities": {"call": {"skip_outcomes": ["no_answer"]}},  # the README's own filter
}


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    workspace.apply_config(workspace_config({"phone": PHONE}))
    return workspace


@pytest.fixture
def server(ws: Workspace) -> Iterator[LiveServer]:
    with serve(ws) as live:
        yield live


def body(name: str, **data: Any) -> dict[str, Any]:
    """A fixture's body with ``data`` fields replaced (``event``/``timestamp`` too)."""
    loaded: dict[str, Any] = copy.deepcopy(fixture("aircall", f"{name}.json")["body"])
    for key in ("event", "timestamp"):
        if key in data:
            loaded[key] = data.pop(key)
    loaded["data"].update(data)
    return loaded


def post(server: LiveServer, ws: Workspace, *bodies: dict[str, Any]) -> None:
    """Each body as Aircall posts it, one request each, then until the worker took them."""
    for one in bodies:
        response = server.client.post("/webhooks/phone", content=compact(one), headers=JSON)
        assert response.status_code == 200, response.text
    wait_applied(ws)


def calls(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {a["external_id"]: a for a in ws.activities("phone")}


# ------------------------------------------------------------------ a voicemail left

VOICEMAIL = "https://voicemails.aircall.test/812345.mp3?token=def"


def voicemail_left() -> dict[str, Any]:
    return body("call.voicemail_left")  # timestamp started + 60 s, its link set


def missed_end() -> dict[str, Any]:
    # started + 90 s; the voicemail's link null until the assets are generated
    return body("call.ended.missed", missed_call_reason="agents_did_not_answer")


def assets() -> dict[str, Any]:
    return body("call.voicemail_left", event="call.comm_assets_generated", timestamp=1793631790)


@pytest.mark.parametrize(
    "sent",
    [
        pytest.param(("left", "ended", "assets"), id="voicemail_left, ended, assets"),
        pytest.param(("left", "ended"), id="no assets event"),
        pytest.param(("ended", "assets"), id="no voicemail_left subscribed"),
        pytest.param(("assets", "ended", "left"), id="backwards"),
    ],
)
def test_a_voicemail_is_a_voicemail_whatever_aircall_sends_first(
    ws: Workspace, server: LiveServer, sent: tuple[str, ...]
) -> None:
    """call.ended says the call was missed (no answer, no voicemail link yet): that outcome
    is dated at the call's start, so a voicemail left on it — call.voicemail_left, or any
    event with the voicemail's link — is never overridden by it, and the README's filter
    ``skip_outcomes: [no_answer]`` does not remove the call."""
    made = {"left": voicemail_left, "ended": missed_end, "assets": assets}
    post(server, ws, *(made[name]() for name in sent))
    call = calls(ws)[CALL]
    assert call["properties"]["outcome"] == "voicemail"
    assert call["properties"]["recording_url"] == VOICEMAIL
    assert call["properties"]["duration_s"] == 40  # call.ended's final value, the latest


def test_a_missed_call_is_still_skipped_and_never_made(ws: Workspace, server: LiveServer) -> None:
    """Its missed outcome comes first, with the whole call: skipped before anything is made
    for it (no activity, no hold, no question), as before it was dated."""
    post(server, ws, missed_end())
    assert calls(ws) == {}
    # One row for the call (its call.ended is two events: the missed outcome, the rest):
    # the list gave one per event skipped.
    skips = ws.skipped_activities("phone")
    assert [(s["external_id"], s["kind"]) for s in skips] == [
        (CALL, "outcome no_answer is in skip_outcomes")
    ]
    assert ws.review_items().items == []


def test_a_missed_call_ingested_counts_one_activity_skipped(ws: Workspace) -> None:
    """`ingest` said "2 skipped" for one missed call (two events of one call.ended)."""
    summary = ws.ingest("phone", [compact(missed_end())], source="aircall.jsonl")
    assert summary.applied.activities_skipped == 1


# ------------------------------------------------------------------ tags removed


def test_untagging_a_call_removes_its_tags(ws: Workspace, server: LiveServer) -> None:
    tagged = body("call.tagged")  # Hot lead, Demo
    one_left = body(
        "call.tagged", event="call.untagged", timestamp=1793631740, tags=[{"id": 8, "name": "Demo"}]
    )
    none_left = body("call.tagged", event="call.untagged", timestamp=1793631750, tags=[])
    post(server, ws, tagged)
    assert calls(ws)[CALL]["properties"]["tags"] == ["Hot lead", "Demo"]
    post(server, ws, one_left)
    assert calls(ws)[CALL]["properties"]["tags"] == ["Demo"]
    post(server, ws, none_left)
    assert calls(ws)[CALL]["properties"]["tags"] == []
    post(server, ws, tagged)  # a late redelivery of the tag changes nothing
    assert calls(ws)[CALL]["properties"]["tags"] == []


# ------------------------------------------------------------------ numbers that name nobody


HIDDEN = ["anonymous", "Anonymous", "unknown", "private", "restricted", ""]


def hidden_call(n: int, raw_digits: str) -> dict[str, Any]:
    return body("call.voicemail_left", id=900 + n, raw_digits=raw_digits, contact=None)


def test_a_hidden_number_is_asked_at_once_like_999(ws: Workspace, server: LiveServer) -> None:
    """Aircall's ``anonymous`` (and what other dialers write for a withheld number) reads as
    no number, as ``999`` does: the call is made, held for nothing, and asked about at once,
    saying the caller withheld the number; the report counts the question."""
    post(server, ws, *(hidden_call(n, raw) for n, raw in enumerate([*HIDDEN, "999"])))
    made = calls(ws)
    assert sorted(made) == [str(900 + n) for n in range(len(HIDDEN) + 1)]
    assert all(a["held"] is None and a["records"] == [] for a in made.values())
    questions = {q.activity_id: q for q in ws.review_items().items}
    for n, raw in enumerate([*HIDDEN, "999"]):
        question = questions[made[str(900 + n)]["id"]]
        assert (question.kind, question.status) == ("unknown", "open")
        why = "the caller withheld the number" if raw != "999" else "not readable as a phone number"
        assert question.subject == (raw or "withheld")
        # An empty number is said as none, not as '' (found by a probe).
        named = f"{raw!r} ({why})" if raw else "no number (the caller withheld it)"
        assert question.question == (
            f"the call of 2026-11-02T15:00:00Z names only {named}, which no contact "
            "or lead can have, so it is not held (unknown_counterpart: hold): which record "
            "should it be on?"
        )
    [queue] = [f for f in ws.report("2026-11-01T00:00:00Z").findings if f.check == "review_queue"]
    assert queue.summary.startswith("7 questions wait in the review queue")


def test_a_contact_aircall_names_without_an_email_is_found_by_the_calls_number(
    workspace: Workspace,
) -> None:
    """Aircall's contact 777 has a name and a number but no email: its id alone joins no
    record of the CRM's. The call lands on the CRM's contact with that number (it went to a
    blank contact of its own, and the next call by the number to the CRM's: two records)."""

    crm = {"kind": "generic", "region": "US"}
    workspace.apply_config(workspace_config({"phone": PHONE, "crm": crm}))
    contact = {
        "id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record",
        "object": "contact", "external_id": "1001",
        "properties": {"firstname": "Pat", "phone": "+1 (415) 555-0199"},
    }  # fmt: skip
    workspace.ingest("crm", [compact(contact)], source="crm.jsonl")
    named = {"id": 777, "first_name": "Pat", "last_name": "X", "emails": [],
             "phone_numbers": [{"label": "Work", "value": "+1 415-555-0199"}]}  # fmt: skip
    first = body("call.voicemail_left", id=961, contact=named, raw_digits="+1 415-555-0199")
    second = body("call.voicemail_left", id=962, contact=None, raw_digits="+1 415-555-0199")
    workspace.ingest("phone", [compact(first), compact(second)], source="calls.jsonl")
    made = calls(workspace)
    for call in ("961", "962"):
        [link] = made[call]["records"]
        assert link["type"] == "contact" and link["why"].startswith("matched by number"), link
    assert made["961"]["records"][0]["id"] == made["962"]["records"][0]["id"]
    with workspace.engine.connect() as connection:  # no blank contact beside the CRM's
        assert connection.execute(sa.text("SELECT count(*) FROM records")).scalar() == 1


def test_a_call_without_a_direction_is_found_by_the_callers_number(
    ws: Workspace, server: LiveServer
) -> None:
    """Aircall's ``raw_digits`` is the other party's number whichever way the call went: a
    call of no direction is on the contact with that number (never on the line's own
    number), and one from a hidden number is a question."""
    post(server, ws, body("contact.created"))  # Kim Lee, +14155550142 among her numbers
    post(
        server,
        ws,
        body("call.voicemail_left", id=951, direction=None, contact=None),
        body("call.voicemail_left", id=952, direction=None, contact=None, raw_digits="anonymous"),
    )
    made = calls(ws)
    [link] = made["951"]["records"]
    assert link["type"] == "contact" and link["why"].startswith("matched by number")
    assert made["951"]["properties"]["to_number"] == "+1 415-555-0142"
    assert "from_number" not in made["951"]["properties"]
    [question] = ws.review_items().items
    assert question.activity_id == made["952"]["id"]
    assert "'anonymous' (the caller withheld the number)" in question.question
