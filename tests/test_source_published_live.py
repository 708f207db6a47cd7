"""Published Aircall, Calendly, Outreach and Salesloft payloads through a live service (round 8).

Every sample of ``tests/fixtures/published/<kind>/`` for these four vendors — the earlier
rounds' and :data:`ROUND8_SOURCES` — is sent to a running ``leadsync serve`` (the service on
a free local port, its own worker applying what it stores: :mod:`tests.live`) as the vendor
sends it: the body as published, the vendor's authenticity by the vendor's own recipe
(:func:`tests.live.vendor_headers`: Calendly's and Outreach's HMAC-SHA256, Salesloft's
HMAC-SHA1; Aircall's token is in the body), each integration configured as an admin would
(its kind, the variable holding its secret, the reps it maps). On SQLite and PostgreSQL.

What is checked is what a RevOps admin expects (docs/WEBHOOKS.md): every sample answered
``200`` and taken, a redelivery taken as a duplicate, nothing a dead letter but what leadsync
documents as unreadable, and the calls, meetings, tasks and emails on the right people, with
the right rep, outcome and reason. The samples' own readings (keys, canonical events) are
pinned by the earlier rounds' modules and, for this round's, by
:func:`test_a_sample_gives_canonical_events_or_a_named_dead_letter`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from leadsync.store.schema import own_lines, records
from leadsync.workspace import Workspace
from tests import test_source_published as published
from tests.helpers import workspace_config
from tests.live import NOW, LiveServer, serve, vendor_headers, wait_applied
from tests.test_source_published import PUBLISHED, e164
from tests.test_source_published_round6 import HULL_OUTREACH, KOEN_AIRCALL, KOEN_TOKEN

ROUND8_SOURCES: dict[str, str] = {
    # Aircall: the rest of the captures of one account's 2022-03-04 (and one of 03-07).
    "aircall/call.created.outbound.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "callWebhookData entry 'call.created', outbound"
    ),
    "aircall/call.created.inbound.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.created', inbound"
    ),
    "aircall/call.answered.inbound.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.answered', inbound"
    ),
    "aircall/call.hold.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.hold', outbound"
    ),
    "aircall/call.unhold.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.unhold', outbound"
    ),
    "aircall/call.hungup.outbound.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.hungup', outbound"
    ),
    "aircall/call.tagged.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.tagged', inbound"
    ),
    "aircall/call.ended.voicemail.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.ended', inbound"
    ),
    "aircall/call.archived.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.archived', inbound (another day, another webhook token)"
    ),
    "aircall/contact.created.koenverduijn.json": KOEN_AIRCALL.format(
        "contact.js", "contactWebhookData entry 'contact.created'"
    ),
    "aircall/contact.deleted.koenverduijn.json": KOEN_AIRCALL.format(
        "contact.js", "entry 'contact.deleted'"
    ),
    # Outreach
    "outreach/task.completed.hull.json": HULL_OUTREACH.format("task-completed.json"),
    "outreach/mailing.updated.scheduled.hull.json": HULL_OUTREACH.format("mailing-scheduled.json"),
    "outreach/sequenceState.advanced.hull.json": HULL_OUTREACH.format(
        "sequence-state-advanced.json"
    ),
    # Calendly
    "calendly/invitee.canceled.activepieces.json": "github.com/activepieces/activepieces "
    "packages/pieces/community/calendly/src/lib/trigger/invitee-canceled.trigger.ts "
    "(sampleData: a cancellation by the host; the JavaScript object literal as the JSON it "
    "spells)",
}

KINDS = ("aircall", "calendly", "outreach", "salesloft")
#: Each vendor's secret as its integration's variable holds it (Aircall's: the tokens below).
SECRETS = {
    "calendly": "calendly-signing-key-for-tests",
    "outreach": "outreach-webhook-secret-for-tests",
    "salesloft": "salesloft-callback-token-for-tests",
}
#: The token of the one capture of the Aircall account's other webhook (call.archived).
KOEN_OTHER_TOKEN = "8f8da879a8bfd89b6c4ff3b73efc0409"
#: Documented as unreadable: Activepieces' invented call.ended (ISO times, which Aircall does
#: not send) and its Calendly sample data without the envelope's ``event`` — a dead letter
#: naming the field, never a 4xx.
DEAD: dict[str, dict[str, str]] = {
    "aircall": {
        "call.ended.activepieces.json": (
            "field \"data.started_at\": must be a unix time in s, got '2023-07-31T10:30:00Z'"
        )
    },
    "calendly": {
        "invitee.created.activepieces.json": (
            'field "event": required: the event\'s name; known: invitee.created, '
            "invitee.canceled, invitee_no_show.created, invitee_no_show.deleted, "
            "routing_form_submission.created, event_type.*, meeting_recap.*, contact.*"
        )
    },
}


def samples(kind: str) -> list[Path]:
    return sorted((PUBLISHED / kind).glob("*.json"))


def token_of(path: Path) -> str:
    token: str = json.loads(path.read_text("utf-8"))["token"]
    return token


#: An Aircall account is an integration of its own (its webhook's token is its secret):
#: one per token the samples carry.
AIRCALL_TOKENS = sorted({token_of(p) for p in samples("aircall")})


def integration_of(path: Path) -> str:
    """The integration a sample is posted to: its kind's, or its Aircall account's."""
    kind = path.parent.name
    if kind != "aircall":
        return kind
    return f"aircall-{AIRCALL_TOKENS.index(token_of(path)) + 1}"


def environ() -> dict[str, str]:
    found = {f"{kind.upper()}_SECRET": secret for kind, secret in SECRETS.items()}
    for number, token in enumerate(AIRCALL_TOKENS, start=1):
        found[f"AIRCALL_TOKEN_{number}"] = token
    return found


def every_integration() -> dict[str, dict[str, Any]]:
    """One integration per vendor (Aircall: per account), as the docs' YAML configures it."""
    found: dict[str, dict[str, Any]] = {
        kind: {"kind": kind, "secret_env": f"{kind.upper()}_SECRET"} for kind in KINDS[1:]
    }
    for number in range(1, len(AIRCALL_TOKENS) + 1):
        found[f"aircall-{number}"] = {"kind": "aircall", "secret_env": f"AIRCALL_TOKEN_{number}"}
    return found


def request_of(path: Path) -> tuple[dict[str, str], bytes]:
    """A sample as its vendor posts it: the file's bytes as published, or — a Salesloft
    sample kept as ``{"headers", "body"}`` — the body as JSON with those headers."""
    data = json.loads(path.read_text("utf-8"))
    headers = {"content-type": "application/json"}
    if isinstance(data, dict) and "body" in data and set(data) <= {"headers", "body"}:
        return {**headers, **data.get("headers", {})}, json.dumps(data["body"]).encode()
    return headers, path.read_bytes()


def post(
    live: LiveServer, path: Path, integration: str | None = None, now: float = NOW
) -> httpx.Response:
    """``path`` posted, signed as its vendor signs, to its integration (or ``integration``)."""
    kind = path.parent.name
    headers, body = request_of(path)
    name = integration or integration_of(path)
    uri = live.webhook_uri(name)
    signed = vendor_headers(kind, body, uri, SECRETS.get(kind, ""), headers["content-type"], now)
    return live.client.post(f"/webhooks/{name}", content=body, headers={**headers, **signed})


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """The scratch workspace, left for each test to configure as its admin would."""
    return workspace


def configured(ws: Workspace, integrations: Mapping[str, dict[str, Any]]) -> Workspace:
    ws.apply_config(workspace_config(dict(integrations)))
    return ws


def letters(ws: Workspace) -> list[str]:
    return sorted(str(letter["error"]) for letter in ws.dead_letters(limit=100))


def activities(ws: Workspace, integration: str) -> dict[str, dict[str, Any]]:
    return {a["external_id"]: a for a in ws.activities(integration=integration, limit=100)}


@pytest.mark.parametrize("name", sorted(ROUND8_SOURCES))
def test_a_sample_gives_canonical_events_or_a_named_dead_letter(name: str) -> None:
    published.test_a_sample_gives_canonical_events_or_a_named_dead_letter(name)


# ------------------------------------------------------------------ every sample


@pytest.mark.parametrize("kind", KINDS)
def test_every_published_sample_is_answered_taken_and_a_redelivery_is_a_duplicate(
    ws: Workspace, kind: str
) -> None:
    """Each sample, signed as its vendor signs it, is answered 200 and taken once; sent again
    it is a duplicate. The worker reads every one of them: nothing is a dead letter but the
    samples leadsync documents as unreadable, each naming the field."""
    configured(ws, every_integration())
    paths = samples(kind)
    with serve(ws, environ=environ()) as live:
        for path in paths:
            answer = post(live, path)
            assert answer.status_code == 200, (path.name, answer.text)
            assert answer.json()["accepted"] == 1, (path.name, answer.json())
        wait_applied(ws)
        for path in paths:
            answer = post(live, path)
            assert answer.status_code == 200, (path.name, answer.text)
            assert (answer.json()["accepted"], answer.json()["duplicates"]) == (0, 1), path.name
    expected = DEAD.get(kind, {})
    assert [error.split(": ", 1)[1] for error in letters(ws)] == sorted(expected.values())
    counts = {(c["integration"], c["status"]): c["count"] for c in ws.inbox_counts()}
    assert sum(n for (_, status), n in counts.items() if status == "failed") == len(expected)
    assert sum(counts.values()) == len(paths)


# ------------------------------------------------------------------ Aircall

#: The account's reps as its admin maps them: Koen Verduijn SE to Ana, the test user to Bo.
KOEN_REPS = {"731416": "101", "736640": "102"}
PHONE = {
    "kind": "aircall",
    "secret_env": "AIRCALL_TOKEN_KOEN",
    "region": "GB",
    "users": {"map": KOEN_REPS},
}


def koen_day() -> list[Path]:
    """The account's 2022-03-04 captures in the order Aircall sent them (its timestamps)."""
    paths = [p for p in samples("aircall") if "koenverduijn" in p.name]
    day = [p for p in paths if token_of(p) == KOEN_TOKEN]
    return sorted(day, key=lambda p: (json.loads(p.read_text("utf-8"))["timestamp"], p.name))


def test_aircall_account_day_gives_each_call_once_with_its_rep_outcome_and_numbers(
    ws: Workspace,
) -> None:
    """One account's day of webhooks, as sent: an outbound call (created, answered, put on
    hold and back, hung up, ended), a missed inbound call whose caller left a voicemail, an
    inbound call transferred without success, then tagged and commented, and a contact made
    and deleted. Each call is one activity with its final values, on the rep who took it;
    the events Aircall adds over time (hold, unhold, an unsuccessful transfer) update the
    call without a dead letter; the contact's empty list gives it no number."""
    configured(ws, {"phone": PHONE})
    with serve(ws, environ={"AIRCALL_TOKEN_KOEN": KOEN_TOKEN}) as live:
        for path in koen_day():
            answer = post(live, path, "phone")
            assert answer.status_code == 200, (path.name, answer.text)
        wait_applied(ws)
    assert letters(ws) == []
    calls = activities(ws, "phone")
    assert sorted(calls) == ["780836699", "780836754", "780883160"]

    outbound = calls["780836699"]
    assert outbound["owner_id"] == "102"  # the test user made it
    assert outbound["occurred_at"] == "2022-03-04T10:28:55.000Z"  # started_at
    props = outbound["properties"]
    assert (props["direction"], props["outcome"], props["duration_s"]) == (
        "outbound",
        "connected",
        20,
    )
    assert e164(props["from_number"]) == "+443308186690"  # the account's line
    assert e164(props["to_number"]) == "+43720880079"  # the number dialled

    voicemail = calls["780836754"]
    assert voicemail["owner_id"] == "101"  # the agent it rang on; nobody answered
    props = voicemail["properties"]
    assert props["outcome"] == "voicemail"  # never the missed call call.ended also says
    assert props["recording_url"] == "https://assets.aircall.io/calls/780836754/voicemail"
    assert (props["duration_s"], props["aircall_missed_call_reason"]) == (
        17,
        "agents_did_not_answer",
    )
    assert (e164(props["from_number"]), e164(props["to_number"])) == (
        "+443308186690",
        "+43720880079",
    )

    transferred = calls["780883160"]
    assert transferred["owner_id"] == "101"
    props = transferred["properties"]
    assert props["tags"] == ["Assess_Eng_Lvl"]
    assert props["comments"] == ["asdfasdfasdf\nalskdfjlaskdjflaksjdf"]
    assert "outcome" not in props  # its call.ended was not captured: nothing final yet

    [contact] = ws.find(external="phone:76041687")  # deleted in Aircall: kept here
    assert contact["email"] == "koen.verduijn+t9pzmjebch@aircall.io"
    assert contact["name"] == "Koen Test FuPPaYFelC"
    shown = ws.record("contact", contact["id"])
    assert shown["properties"]["company"] == "SE Global Account"
    assert shown["phones"] == []

    reps = {u["id"]: u for u in ws.external_users("phone")}
    assert {rep: reps[rep]["owner_id"] for rep in KOEN_REPS} == KOEN_REPS
    assert reps["731416"]["name"] == "Koen Verduijn SE"
    assert reps["736640"]["email"] == "koen.verduijn+v5doewlrdy@aircall.io"
    kept = [row["payload"] for row in ws.inbox_rows(limit=100)]
    assert kept and not any(KOEN_TOKEN in text for text in kept)


#: The account's two lines, as its captures name them: "Koens Test" (404821) and "Koens
#: Product number" (397375). Its day's calls are all between them: the outbound call from
#: the first to the second, the inbound calls on the second from the first.
GB_LINE, AT_LINE = "+443308186690", "+43720880079"


def _internal(number: str) -> str:
    return (
        f"internal call: {number} is one of the company's Aircall lines (learned from phone's "
        "events), so no contact or lead is looked for by it (not held, no question, no "
        "contact made)"
    )


@pytest.mark.parametrize("order", ["as sent", "reversed"])
def test_aircall_calls_between_the_accounts_own_lines_are_internal_in_any_order(
    ws: Workspace, order: str
) -> None:
    """Every call of the account's day goes from one of its Aircall lines to the other (a
    transfer, a colleague's call). Each is an internal call — on no contact, held for
    nothing, asked about nowhere —, saying which line; the lines are learned from the
    calls (each names its own line) and the user event (its agent's lines). As sent, the
    outbound call reaches the other line before anything named it: held at first, then
    released as internal when the inbound leg names that line; in reverse, it is internal at
    once. Both end the same."""
    configured(ws, {"phone": PHONE})
    days = koen_day() if order == "as sent" else koen_day()[::-1]
    with serve(ws, environ={"AIRCALL_TOKEN_KOEN": KOEN_TOKEN}) as live:
        for path in days:
            answer = post(live, path, "phone")
            assert answer.status_code == 200, (path.name, answer.text)
        wait_applied(ws)
    assert letters(ws) == []
    calls = activities(ws, "phone")
    assert {key: (c["internal"], c["records"], c["held"]) for key, c in calls.items()} == {
        "780836699": (_internal(AT_LINE), [], None),  # outbound, to the other line
        "780836754": (_internal(GB_LINE), [], None),  # inbound, from the other line
        "780883160": (_internal(GB_LINE), [], None),
    }
    assert all(call["questions"] == [] for call in calls.values())
    assert ws.review_items(status=None).items == []
    assert ws.record("contact", ws.find(external="phone:76041687")[0]["id"])["phones"] == []
    with ws.engine.connect() as connection:
        learned = {row.number for row in connection.execute(sa.select(own_lines))}
    assert {GB_LINE, AT_LINE} <= learned  # and the agent's other lines (user.connected)


@pytest.mark.parametrize("policy", ["create", "hold"])
def test_aircall_own_lines_declared_make_no_contact_for_them_under_any_policy(
    ws: Workspace, policy: str
) -> None:
    """What cannot be undone — a contact ``create`` made for the other line before it was
    known — is avoided by declaring the account's lines: no contact is made for either, the
    calls are internal from the first event, the reason naming the declaration."""
    phone = {
        **PHONE,
        "own_numbers": ["+44 330 818 6690", "+43 720 880079"],
        "unknown_counterpart": {"policy": policy},
    }
    configured(ws, {"phone": phone})
    with serve(ws, environ={"AIRCALL_TOKEN_KOEN": KOEN_TOKEN}) as live:
        for path in koen_day():
            assert post(live, path, "phone").status_code == 200, path.name
        wait_applied(ws)
    assert letters(ws) == []
    with ws.engine.connect() as connection:
        made = connection.execute(
            sa.select(sa.func.count()).where(records.c.origin == "unknown_number")
        ).scalar_one()
    assert made == 0
    outbound = activities(ws, "phone")["780836699"]
    assert outbound["internal"] == (
        f"internal call: {AT_LINE} is one of the company's own numbers (phone's own_numbers), so "
        "no contact or lead is looked for by it (not held, no question, no contact made)"
    )
    assert outbound["records"] == [] and outbound["held"] is None


def test_aircall_account_second_webhook_is_its_own_integration_by_its_token(
    ws: Workspace,
) -> None:
    """The capture of another day came from another webhook of the account, with its own
    token: sent to the first webhook's integration it is not authentic (401, nothing kept);
    to its own, it is the archived missed call with its tag — no rep (nobody took it), no
    outcome (call.archived is no final event) — and its token is never stored."""
    path = PUBLISHED / "aircall/call.archived.koenverduijn.json"
    second = {**PHONE, "secret_env": "AIRCALL_TOKEN_OTHER"}
    configured(ws, {"phone": PHONE, "phone-2": second})
    tokens = {"AIRCALL_TOKEN_KOEN": KOEN_TOKEN, "AIRCALL_TOKEN_OTHER": KOEN_OTHER_TOKEN}
    with serve(ws, environ=tokens) as live:
        refused = post(live, path, "phone")
        assert refused.status_code == 401, refused.text
        assert ws.inbox_counts() == []
        assert post(live, path, "phone-2").status_code == 200
        wait_applied(ws)
    [call] = activities(ws, "phone-2").values()
    assert call["external_id"] == "782972196" and call["owner_id"] is None
    assert call["occurred_at"] == "2022-03-07T11:04:36.000Z"
    assert call["properties"]["tags"] == ["Callback Request"]
    assert call["properties"]["direction"] == "inbound"
    assert "outcome" not in call["properties"]
    assert not any(KOEN_OTHER_TOKEN in row["payload"] for row in ws.inbox_rows(limit=10))


# ------------------------------------------------------------------ Outreach

#: One Outreach sandbox's deliveries of 2018-09-26: prospect 3 (Luke Skywalker) is put in a
#: sequence, whose step makes task 2 and mailing 1; the task is completed, the mailing goes
#: from drafted through scheduled, queued and delivering to delivered.
OUTREACH_SEQUENCE = [
    "prospect.created.hull.json",
    "sequenceState.created.hull.json",
    "task.created.hull.json",
    "mailing.created.hull.json",
    "sequenceState.advanced.hull.json",
    "mailing.updated.scheduled.hull.json",
    "mailing.updated.queued.hull.json",
    "mailing.updated.delivering.hull.json",
    "mailing.updated.delivered.hull.json",
    "task.updated.complete.hull.json",
    "task.completed.hull.json",
]


@pytest.mark.parametrize("order", ["as sent", "reversed"])
def test_outreach_sequence_step_gives_the_owners_completed_task_and_the_delivered_email(
    ws: Workspace, order: str
) -> None:
    """The task is the prospect's owner's, completed — ``task.completed`` names only the
    task, and lands on it —; the mailing, a draft until delivered, is one email on the
    prospect's timeline; the sequence states change nothing. Arriving in reverse (Outreach
    does not promise an order) gives the same."""
    configured(
        ws,
        {"outreach": {**every_integration()["outreach"], "users": {"map": {"1": "101"}}}},
    )
    paths = [PUBLISHED / "outreach" / name for name in OUTREACH_SEQUENCE]
    with serve(ws, environ=environ()) as live:
        for path in paths if order == "as sent" else paths[::-1]:
            answer = post(live, path)
            assert answer.status_code == 200, (path.name, answer.text)
        wait_applied(ws)
    assert letters(ws) == []
    [prospect] = ws.find(external="outreach:3")
    assert prospect["name"] == "Luke Skywalker"
    found = activities(ws, "outreach")
    assert sorted((a["type"], key) for key, a in found.items()) == [
        ("email", "1"),
        ("task", "2"),
    ]
    task = found["2"]
    assert task["owner_id"] == "101"
    assert task["properties"]["status"] == "completed"
    assert task["properties"]["due"] == "2018-09-26T18:35:24.000Z"
    assert task["occurred_at"] == "2018-09-26T18:15:26.000Z"  # when it was made
    email = found["1"]
    assert email["properties"]["outreach_state"] == "delivered"
    for activity in (task, email):
        named = [r for r in activity["records"] if r["source"] == "event"]
        assert [(r["type"], r["id"]) for r in named] == [("contact", prospect["id"])]


# ------------------------------------------------------------------ Calendly


def test_calendly_host_cancellation_is_the_canceled_meeting_on_the_invitee(
    ws: Workspace,
) -> None:
    """A booking the host canceled, in the early API v2 shape (the scheduled event named by
    its uri only): the invitee's meeting, canceled with the host's reason, at the
    cancellation's time; the invitee (a single name) becomes the contact. Signed more than
    three minutes before it arrives, the same body is not authentic."""
    path = PUBLISHED / "calendly/invitee.canceled.activepieces.json"
    configured(ws, {"calendly": every_integration()["calendly"]})
    with serve(ws, environ=environ()) as live:
        stale = post(live, path, now=NOW - 600)
        assert stale.status_code == 401 and " s old, " in stale.json()["detail"]
        assert post(live, path).status_code == 200
        wait_applied(ws)
    assert letters(ws) == []
    [meeting] = activities(ws, "calendly").values()
    assert meeting["external_id"] == (
        "https://api.calendly.com/scheduled_events/AAAAAAAAAAAaA/invitees/AAAAAAAA"
    )
    assert meeting["occurred_at"] == "2023-01-29T13:57:17.000Z"
    assert meeting["properties"] == {
        "outcome": "canceled",
        "calendly_status": "canceled",
        "cancellation_reason": "testing",
    }
    [contact] = ws.find(email="test@test.com")
    assert contact["name"] == "abdul"
    assert [(r["type"], r["id"]) for r in meeting["records"]] == [("contact", contact["id"])]


# ------------------------------------------------------------------ Salesloft


def test_salesloft_task_created_then_updated_is_one_task_of_the_mapped_rep(
    ws: Workspace,
) -> None:
    """A task made through the API, then its description edited: one task on the person,
    with the later description, owned by its user (mapped by the admin); the user event
    teaches the directory the rep's name and email."""
    configured(
        ws,
        {"salesloft": {**every_integration()["salesloft"], "users": {"map": {"49067": "101"}}}},
    )
    names = [
        "task_created.amp_labs.json",
        "task_updated.amp_labs.json",
        "user_updated.amp_labs.json",
    ]
    with serve(ws, environ=environ()) as live:
        for name in names:
            answer = post(live, PUBLISHED / "salesloft" / name)
            assert answer.status_code == 200, (name, answer.text)
        wait_applied(ws)
    assert letters(ws) == []
    [task] = activities(ws, "salesloft").values()
    assert (task["type"], task["external_id"], task["owner_id"]) == ("task", "721356732", "101")
    assert task["properties"]["body"].endswith("this is updated to test update webhook event")
    assert task["properties"]["due"] == "2026-01-31T00:00:00.000Z"
    [person] = ws.find(external="salesloft:436664215")
    assert [(r["type"], r["id"]) for r in task["records"]] == [("contact", person["id"])]
    [rep] = [u for u in ws.external_users("salesloft") if u["id"] == "49067"]
    assert (rep["email"], rep["name"], rep["owner_id"]) == (
        "somebody@withampersand.com",
        "Int User",
        "101",
    )
