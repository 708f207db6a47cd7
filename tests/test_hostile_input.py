"""Hostile bytes cost nobody else.

Whatever a sender puts in a body, a header or a captured line: one request's bytes never fail
another's commit, nothing is answered 5xx for its content (only a database that is away is),
nothing raises past the adapters (a 4xx problem or a dead letter instead), SQLite and
PostgreSQL agree, and a secret never lands in a dead letter. The last part fuzzes every
adapter over the real HTTP service and through ``ingest`` (Hypothesis, a few hundred
examples per test).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import copy
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.errors import EventError, SignatureError
from leadsync.pipeline.inbox import InboxItem, batch_friendly_gc
from leadsync.pipeline.intake import GroupCommitWriter, IntakeError, Receipt
from leadsync.settings import integration_from_dict
from leadsync.sources import KINDS as INTEGRATION_KINDS
from leadsync.sources import adapter_for
from leadsync.sources.base import WebhookRequest, decode_json, number
from leadsync.sources.canonical import parse_line
from leadsync.sources.hubspot import sign_v3
from leadsync.sources.hygiene import Headers, redact_text, representable, storable_key
from leadsync.sources.signatures import (
    verify_calendly,
    verify_generic,
    verify_hubspot_v3,
    verify_outreach,
)
from leadsync.workspace import Workspace
from tests.helpers import record_by_external, workspace_config
from tests.live import (
    FIXTURES,
    NOW,
    NOW_MS,
    LiveServer,
    compact,
    serve,
    vendor_headers,
    wait_applied,
    wait_until,
)

PROBLEM = "application/problem+json"
MAX_BODY = 64 * 1024
AIRCALL_TOKEN = "tok-4f1c9a0e"  # the token of the Aircall fixtures
SALESFORCE_ORG = "00D5g000004Xyz1EAC"  # the organization of the Salesforce fixtures
SECRETS = {
    "aircall": AIRCALL_TOKEN,
    "calendly": "calendly-signing-key",
    "generic": "generic-secret",
    "hubspot": "hubspot-client-secret",
    "outreach": "outreach-secret",
    "pipedrive": "hooks:pipedrive-password",
    "salesforce": "relay-secret",
    "salesloft": "salesloft-callback-token",
}
ENVIRON = {f"{kind.upper()}_SECRET": secret for kind, secret in SECRETS.items()}
# What only a defect of ours (not the input) would write: never expected.
DEFECT = "internal error"


def integrations() -> dict[str, dict[str, Any]]:
    """One integration of each kind, named after it, plus ``strict`` (generic, signed
    timestamps required within 60 s)."""
    leave = {"unmapped": {"policy": "leave"}}
    found: dict[str, dict[str, Any]] = {
        kind: {"kind": kind, "secret_env": f"{kind.upper()}_SECRET", "users": leave}
        for kind in INTEGRATION_KINDS
    }
    found["hubspot"]["vendor"] = {"app_id": "777"}
    found["salesforce"]["vendor"] = {"organization_id": SALESFORCE_ORG}
    found["strict"] = {
        "kind": "generic",
        "secret_env": "GENERIC_SECRET",
        "users": leave,
        "vendor": {"timestamp_tolerance_s": 60, "require_timestamp": True},
    }
    return found


@pytest.fixture
def ws(db_url: str) -> Iterator[Workspace]:
    workspace = Workspace(db_url)
    workspace.apply_config(workspace_config(integrations()))
    yield workspace
    workspace.close()


@pytest.fixture
def live(ws: Workspace) -> Iterator[LiveServer]:
    with serve(ws, environ=ENVIRON, max_body=MAX_BODY) as server:
        yield server


@pytest.fixture(params=[True, False], ids=["fast path", "routed"])
def either(ws: Workspace, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    with serve(ws, environ=ENVIRON, max_body=MAX_BODY, fast_path=request.param) as server:
        yield server


def hex_hmac(secret: str, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def signed(
    kind: str, body: bytes, uri: str, content_type: str = "application/json"
) -> dict[str, str]:
    """The headers a real sender of ``kind`` would send with ``body`` (tests/live.py)."""
    return vendor_headers(kind, body, uri, SECRETS.get(kind, ""), content_type)


def contact(n: int | str, email: str | None = None) -> dict[str, Any]:
    return {
        "id": f"c{n}",
        "occurred_at": "2026-11-01T09:00:00Z",
        "type": "record",
        "object": "contact",
        "external_id": f"p-{n}",
        "properties": {"email": email if email is not None else f"kim{n}@globex.test"},
    }


def ascii_json(data: Any) -> bytes:
    """JSON as Python writes it by default: a lone surrogate becomes ``\\ud800``."""
    return json.dumps(data, ensure_ascii=True).encode()


def post(server: LiveServer, kind: str, body: bytes, **headers: str) -> httpx.Response:
    integration = headers.pop("integration", kind)
    sent = {**signed(kind, body, server.webhook_uri(integration)), **headers}
    return server.client.post(f"/webhooks/{integration}", content=body, headers=sent)


def assert_problem(response: httpx.Response, status: int, fragment: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert fragment in problem["detail"], problem["detail"]
    return problem


def stored_texts(ws: Workspace) -> list[str]:
    letters = ws.dead_letters(limit=10_000, include_resolved=True)
    rows = ws.inbox_rows(limit=10_000)
    return (
        [row["payload"] for row in rows]
        + [row["error"] or "" for row in rows]
        + [letter["raw"] for letter in letters]
        + [letter["error"] for letter in letters]
    )


# ============================================================ 1. one request's bytes fail
# nobody else's commit; NUL and lone surrogates are handled alike on every database

# a text no database column can hold -> the escape its dead letter names
HOSTILE_TEXTS = {
    "\ud800": "\\ud800",
    "a\udfffb": "\\udfff",
    "Kim\x00": "\\u0000",
    "x\udbffy": "\\udbff",
}


def test_unstorable_characters_in_one_request_fail_no_other_request(
    ws: Workspace, live: LiveServer
) -> None:
    """400 valid requests and a few with a lone surrogate or a NUL, posted at once (so they
    share group commits): every one is committed and answered 200; each hostile event
    becomes a dead letter naming its field, on SQLite and PostgreSQL alike."""
    url = live.webhook_uri("generic")
    hostile = dict(zip((7, 77, 177, 277), HOSTILE_TEXTS, strict=True))

    def send(n: int) -> httpx.Response:
        event = contact(n)
        if n in hostile:
            event["properties"]["firstname"] = hostile[n]
        body = ascii_json(event)
        return client.post(url, content=body, headers=signed("generic", body, url))

    with (
        httpx.Client(timeout=60, limits=httpx.Limits(max_connections=50)) as client,
        concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool,
    ):
        responses = list(pool.map(send, range(400)))
    assert Counter(r.status_code for r in responses) == {200: 400}
    assert all(r.json()["accepted"] == 1 for r in responses)
    wait_applied(ws)
    counts = {c["status"]: c["count"] for c in ws.inbox_counts()}
    assert counts == {"applied": 396, "failed": 4}
    letters = {letter["event_id"]: letter for letter in ws.dead_letters(limit=100)}
    assert set(letters) == {f"c{n}" for n in hostile}
    for n, text in hostile.items():
        error = letters[f"c{n}"]["error"]
        assert 'field "properties.firstname": holds a' in error, error
        assert f"({HOSTILE_TEXTS[text]}) at character" in error
        assert "allowed: text without NUL characters (U+0000) or unpaired surrogates" in error
        # The stored row is the request's JSON with the character escaped: nothing lost.
        assert json.loads(letters[f"c{n}"]["raw"])["properties"]["firstname"] == text
    assert record_by_external(ws, "p-8", "generic")["email"] == "kim8@globex.test"


def test_rows_the_database_refuses_fail_only_their_own_request(ws: Workspace) -> None:
    """The writer's own guarantee, whatever reaches it: rows the database refuses (here a
    dedupe key with a lone surrogate, which no driver can encode) fail only their request,
    which is kept as a dead letter and refused with a 400; the 20 requests committed in the
    same group are committed."""
    gate = threading.Event()
    held: list[bool] = []

    def hold_after_the_first_commit() -> None:
        if not held:
            held.append(True)
            gate.wait(30)

    writer = GroupCommitWriter(ws.engine, on_commit=hold_after_the_first_commit)
    good = [InboxItem(f"k{n}", None, json.dumps(contact(n))) for n in range(20)]
    bad = InboxItem("k-\ud800", None, json.dumps(contact(99)))
    writer.start()
    try:
        writer.submit("generic", [InboxItem("k-open", None, "{}")], None).result(timeout=30)
        # The writer waits in its first on_commit: everything below is one group.
        jobs = [[item] for item in good[:10]] + [[bad]] + [[item] for item in good[10:]]
        futures = [writer.submit("generic", items, None, lambda: "kept as sent") for items in jobs]
        gate.set()
        outcomes = [_outcome(future) for future in futures]
    finally:
        gate.set()
        writer.stop()
    refused = outcomes.pop(10)
    assert isinstance(refused, IntakeError) and refused.status == 400, refused
    # sqlite3 cannot encode it; PostgreSQL refuses it in the JSON that carries a group's rows.
    cause = {"sqlite": "(UnicodeEncodeError", "postgresql": "(InvalidTextRepresentation"}
    expected = f"the inbox cannot store this request {cause[ws.engine.dialect.name]}"
    assert refused.detail.startswith(expected), refused.detail
    assert refused.detail.endswith("; it is kept as a dead letter")
    assert all(isinstance(o, Receipt) and o.accepted == 1 for o in outcomes), outcomes
    assert sorted(row["event_id"] for row in ws.inbox_rows(limit=100)) == sorted(
        ["k-open", *(item.key for item in good)]
    )
    [letter] = ws.dead_letters()
    assert (letter["raw"], letter["source"]) == ("kept as sent", "webhook")
    assert letter["error"] == refused.detail


def _outcome(future: concurrent.futures.Future[Receipt]) -> Receipt | BaseException:
    try:
        return future.result(timeout=60)
    except Exception as exc:
        return exc


def test_unstorable_characters_are_refused_alike_on_every_database(ws: Workspace) -> None:
    """The same ingest gives the same dead letters on SQLite and PostgreSQL (which alone
    would refuse NUL): vendor events and canonical lines, in several fields."""
    call = json.loads((FIXTURES / "aircall" / "call.ended.json").read_text())["body"]
    data = call["data"]
    lines = [
        {
            **call,
            "timestamp": 1796560101,
            "data": {**data, "user": {"id": 1, "email": "a\x00@x.t"}},
        },
        {**call, "timestamp": 1796560102, "data": {**data, "tags": [{"name": "\ud800"}]}},
        {**call, "timestamp": 1796560103, "data": {**data, "id": "\x00"}},
        {**call, "timestamp": 1796560104, "data": {**data, "user": {"id": 1, "name": "\ud800"}}},
        {**call, "timestamp": 1796560105, "data": {**data, "user": {"id": 1, "name": "ok\x00"}}},
    ]
    summary = ws.ingest("aircall", [ascii_json(line) for line in lines], source="calls.jsonl")
    failed = {d.where: d.error for d in summary.dead_letters}
    assert sorted(failed) == [f"calls.jsonl:{n}" for n in range(1, 6)], failed
    # The rep's name too (it failed later, as a driver's UnicodeEncodeError naming no field,
    # and a NUL in it was stored on SQLite).
    assert 'field "owner.name": holds an unpaired surrogate' in failed["calls.jsonl:4"]
    assert 'field "owner.name": holds a NUL character' in failed["calls.jsonl:5"]
    assert 'field "owner.email": holds a NUL character (\\u0000)' in failed["calls.jsonl:1"]
    assert (
        'field "properties.tags[0]": holds an unpaired surrogate (\\ud800) at character 1'
        in (failed["calls.jsonl:2"])
    )
    assert 'field "external_id": holds a NUL character' in failed["calls.jsonl:3"]
    named = contact(1)
    named["properties"]["firstname"] = "\ud800"
    generic = ws.ingest(
        "generic", [ascii_json(named), ascii_json(contact("\x00"))], source="g.jsonl"
    )
    letters = {d.where: d.error for d in generic.dead_letters}
    assert sorted(letters) == ["g.jsonl:1", "g.jsonl:2"]
    assert 'field "properties.firstname": holds an unpaired surrogate' in letters["g.jsonl:1"]
    assert 'field "id": holds a NUL character' in letters["g.jsonl:2"]
    assert all(representable(text) == text for text in stored_texts(ws))


def test_representable_keeps_json_the_same_json() -> None:
    text = '{"a": "x' + "\x00" + 'y", "b": "' + "\ud800" + '"}'
    kept = representable(text)
    assert kept == '{"a": "x\\u0000y", "b": "\\ud800"}'
    assert json.loads(kept) == {"a": "x\x00y", "b": "\ud800"}
    assert representable("plain é 😀") == "plain é 😀"


def test_keys_the_inbox_cannot_keep_are_hashed_the_same_way_every_time() -> None:
    assert storable_key("123:456") == "123:456"
    for key in ("a\x00", "\ud800", "x" * 201):
        hashed = storable_key(key)
        assert hashed.startswith("h:") and len(hashed) == 42
        assert storable_key(key) == hashed
    assert storable_key("a\x00") != storable_key("a\x01")


def test_a_hubspot_event_id_the_inbox_cannot_keep_is_still_taken(
    ws: Workspace, live: LiveServer
) -> None:
    element = json.loads((FIXTURES / "hubspot" / "contact.creation.json").read_text())["body"][0]
    body = ascii_json(
        [{**element, "subscriptionId": "s" * 300}, {**element, "subscriptionId": "\ud800"}]
    )
    response = post(live, "hubspot", body)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2
    assert all(len(row["event_id"]) <= 200 for row in ws.inbox_rows())


# ============================================================ 2. numbers Python cannot read


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"a": 1,\n "n": ' + "1" * 5000 + "}",
            "the number 11111111111111111111... has 5000 digits; allowed: integers of at most "
            "4300 digits (line 2, column 7)",
        ),
        (
            '{"a": "' + "9" * 5000 + '", "n": 1e400}',
            "the number 1e400 is out of range; allowed: numbers of magnitude at most 1.8e308 "
            "(a 64-bit float) (line 1, column 5016)",
        ),
        (
            "[0.5,\n\n   -1E+309]",
            "the number -1E+309 is out of range; allowed: numbers of magnitude at most 1.8e308 "
            "(a 64-bit float) (line 3, column 4)",
        ),
    ],
)
def test_numbers_python_cannot_read_are_malformed_json_naming_the_place(
    text: str, message: str
) -> None:
    with pytest.raises(EventError) as caught:
        decode_json(text.encode())
    assert str(caught.value) == f"body is not valid JSON: {message}"
    assert "not allowed" not in str(caught.value)  # 1e400 is no NaN or Infinity constant


def test_numbers_at_the_edge_are_read() -> None:
    assert decode_json(b'{"n": ' + b"1" * 4300 + b', "f": 1e308, "z": 1e-400}')["z"] == 0.0
    assert decode_json(b'{"s": "1e400 and ' + b"1" * 5000 + b'"}')  # inside a string: text


def test_a_canonical_line_names_an_out_of_range_number() -> None:
    line = json.dumps(contact(1))[:-1] + ', "manual": 1e400}'
    with pytest.raises(EventError) as caught:
        parse_line(line, "dialer", where="events.jsonl:3")
    assert str(caught.value).startswith(
        "events.jsonl:3: not valid JSON: the number 1e400 is out of range"
    )
    assert "(column " in str(caught.value) and "line 1" not in str(caught.value)


def test_an_integer_beyond_a_double_is_refused_as_a_number() -> None:
    with pytest.raises(EventError, match='field "d": must be a finite number'):
        number({"d": 10**400}, "d")


def test_a_huge_number_is_a_400_before_aircall_looks_for_its_token(
    ws: Workspace, either: LiveServer
) -> None:
    body = b'{"event": "call.ended", "data": {"id": ' + b"7" * 5000 + b"}}"
    response = either.client.post(
        "/webhooks/aircall", content=body, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "has 5000 digits; allowed: integers of at most 4300 digits")
    assert ws.dead_letters() == []  # not authentic (no token was read): not kept


def test_a_signed_body_with_an_out_of_range_number_is_kept_as_a_dead_letter(
    ws: Workspace, either: LiveServer
) -> None:
    body = b'{"id": "c1", "n": 1e400}'
    problem = assert_problem(post(either, "generic", body), 400, "the number 1e400 is out of range")
    [letter] = ws.dead_letters()
    assert letter["error"] == problem["detail"]
    assert json.loads(letter["raw"])["body"] == body.decode()


def test_bad_numbers_in_an_ingest_chunk_cost_only_their_lines(ws: Workspace) -> None:
    call = (FIXTURES / "aircall" / "call.ended.json").read_text()
    good = json.dumps(json.loads(call)["body"])
    lines = [
        good,
        good.replace('"duration": 103', '"duration": ' + "1" * 5000),
        good.replace('"duration": 103', '"duration": 1e400'),
        # Read, but beyond a double: the event is refused (the key differs by its time).
        good.replace('"duration": 103', '"duration": ' + "9" * 400).replace("17936", "17935"),
        good.replace("812345", "812346"),
    ]
    summary = ws.ingest("aircall", [line.encode() for line in lines], source="calls.jsonl")
    assert summary.accepted == 2
    letters = {d.where: d.error for d in summary.dead_letters}
    assert set(letters) == {"calls.jsonl:2", "calls.jsonl:3", "calls.jsonl:4"}
    assert "has 5000 digits" in letters["calls.jsonl:2"]
    assert "1e400 is out of range" in letters["calls.jsonl:3"]
    assert 'field "data.duration": must be a finite number' in letters["calls.jsonl:4"]
    assert {c["status"]: c["count"] for c in ws.inbox_counts()} == {"applied": 2, "failed": 1}


def test_the_cli_ingest_keeps_the_good_lines_of_a_chunk_with_a_huge_number(
    db_url: str, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from leadsync.cli import app

    ws = Workspace(db_url)
    ws.apply_config(workspace_config(integrations()))
    ws.close()
    lines = [json.dumps(contact(1)), '{"id": ' + "1" * 5000 + "}", json.dumps(contact(2))]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["--db", db_url, "ingest", "generic", str(path), "--json"])
    assert result.exit_code == 2, result.output
    summary = json.loads(result.stdout)
    assert summary["accepted"] == 2
    [letter] = summary["dead_letters"]
    assert letter["where"] == f"{path}:2"
    assert "has 5000 digits; allowed: integers of at most 4300 digits (column 8)" in letter["error"]


# ============================================================ 3. repeated headers


def test_conflicting_copies_of_a_signature_header_are_refused(
    ws: Workspace, either: LiveServer
) -> None:
    body = compact(contact(1))
    good = signed("generic", body, either.webhook_uri("generic"))
    bad = "sha256=" + "0" * 64
    for order in ([bad, good["x-leadsync-signature"]], [good["x-leadsync-signature"], bad]):
        response = either.client.post(
            "/webhooks/generic",
            content=body,
            headers=[("content-type", "application/json")]
            + [("x-leadsync-signature", value) for value in order],
        )
        assert_problem(response, 401, "X-Leadsync-Signature is given more than once")
    same = [("x-leadsync-signature", good["x-leadsync-signature"])] * 2
    response = either.client.post(
        "/webhooks/generic", content=body, headers=[("content-type", "application/json"), *same]
    )
    assert response.status_code == 200, response.text
    hub_body = compact(
        [json.loads((FIXTURES / "hubspot" / "contact.creation.json").read_text())["body"][0]]
    )
    hub = signed("hubspot", hub_body, either.webhook_uri("hubspot"))
    pairs = [(k, v) for k, v in hub.items()] + [("X-HubSpot-Request-Timestamp", str(NOW_MS - 1))]
    response = either.client.post("/webhooks/hubspot", content=hub_body, headers=pairs)
    assert_problem(response, 401, "X-HubSpot-Request-Timestamp is given more than once")


def test_conflicting_content_types_or_kept_headers_are_refused(
    ws: Workspace, either: LiveServer
) -> None:
    body = compact(contact(1))
    headers = [(k, v) for k, v in signed("generic", body, "").items()]
    response = either.client.post(
        "/webhooks/generic", content=body, headers=[*headers, ("Content-Type", "text/xml")]
    )
    assert_problem(response, 400, "header content-type is given more than once")
    person = json.loads((FIXTURES / "salesloft" / "person_created.json").read_text())
    sl_body = compact(person["body"])
    sl = [(k, v) for k, v in signed("salesloft", sl_body, "").items()]
    events = [("x-salesloft-event", "person_created"), ("x-salesloft-event", "person_updated")]
    response = either.client.post("/webhooks/salesloft", content=sl_body, headers=[*sl, *events])
    assert_problem(response, 400, "header x-salesloft-event is given more than once")
    assert ws.inbox_rows() == [] and ws.dead_letters() == []


def test_every_signature_check_sees_every_copy_of_its_header() -> None:
    body = b"{}"
    good = hex_hmac("s", body)
    copies = Headers(
        [("Outreach-Webhook-Signature", "0" * 64), ("outreach-webhook-signature", good)]
    )
    with pytest.raises(SignatureError, match="given more than once"):
        verify_outreach("s", body, copies)
    verify_outreach("s", body, Headers([("outreach-webhook-signature", good)] * 2))
    stamp = str(int(NOW))
    v1 = hex_hmac("k", stamp.encode() + b"." + body)
    calendly = Headers(
        [
            ("calendly-webhook-signature", f"t={stamp},v1={v1}"),
            ("calendly-webhook-signature", "t=1,v1=00"),
        ]
    )
    with pytest.raises(SignatureError, match="given more than once"):
        verify_calendly("k", body, calendly, NOW)
    hub = sign_v3("h", "POST", "https://x.test/", body, NOW_MS)
    pairs = [*hub.items(), ("x-hubspot-signature-v3", "AAAA")]
    with pytest.raises(SignatureError, match="given more than once"):
        verify_hubspot_v3("h", "POST", "https://x.test/", body, Headers(pairs), NOW)


@pytest.mark.parametrize(
    "headers",
    [
        '{"x-salesloft-event": "person_created", "X-Salesloft-Event": "person_updated"}',
        '{"x-salesloft-event": "person_created", "x-salesloft-event": "person_updated"}',
    ],
    ids=["case", "same key twice"],
)
def test_an_ingest_envelope_with_conflicting_headers_is_a_dead_letter(
    ws: Workspace, headers: str
) -> None:
    person = json.loads((FIXTURES / "salesloft" / "person_created.json").read_text())
    line = '{"headers": ' + headers + ', "body": ' + json.dumps(person["body"]) + "}"
    summary = ws.ingest("salesloft", [line, json.dumps(person)], source="sl.jsonl")
    [letter] = summary.dead_letters
    assert letter.where == "sl.jsonl:1"
    assert "field \"headers\": header 'x-salesloft-event' is given more than once" in letter.error
    assert summary.accepted == 1


# ============================================================ 4. secrets found after parsing

ESCAPED_TOKENS = [
    '{"tok\\u0065n": "%s", "event": 1}',
    '{"\\u0074\\u006f\\u006b\\u0065\\u006e": "%s"}',
    '{"token": "x", "tok\\u0065n": "%s"}',
    '{"token": "%s", "token": "x"}',
    '{"headers": {}, "body": "{\\"tok\\\\u0065n\\": \\"%s\\"}"}',
    '{"headers": {}, "body": {"tok\\u0065n": "%s"}}',
    '{"tok\\u0065n": "%s", "data": ',  # not JSON: cut short
    '{"tok\\u0065n": "%s',  # cut inside the token
    '{"a": "x, "tok\\u0065n": "%s"}',  # not JSON: a quote missing before the key
    '{"body": "{\\"token\\": \\"%s\\", ',  # not JSON, the token in an escaped body
    '{"Token": "%s", "event": 1}',  # another case, blanks around it: the same field
    '{"TOKEN ": "%s"}',
    '{"Tok\\u0065n": "%s", "data": ',  # not JSON, another case
    '{"a": "x, " Token ": "%s"}',  # not JSON, out of step, blanks around another case
]


@pytest.mark.parametrize("template", ESCAPED_TOKENS)
def test_the_aircall_token_is_redacted_however_its_key_is_spelled(template: str) -> None:
    text = template % AIRCALL_TOKEN
    kept = adapter_for("aircall", "aircall").redact(text)
    assert AIRCALL_TOKEN not in kept
    assert "[redacted]" in kept


def test_redaction_keeps_what_is_not_secret_and_leaves_clean_text_as_it_is() -> None:
    assert redact_text('{"a": 1,  "b": "tok"}', ("token",)) == '{"a": 1,  "b": "tok"}'
    kept = json.loads(redact_text('{"tok\\u0065n": "s", "data": {"tokens": "inner"}}', ("token",)))
    assert kept == {"token": "[redacted]", "data": {"tokens": "inner"}}
    envelope = '{"headers": {"Authorization": "Basic aG9va3M6cHc="}, "body": {"id": 1}}'
    assert json.loads(redact_text(envelope)) == {
        "headers": {"Authorization": "[redacted]"},
        "body": {"id": 1},
    }


def test_an_escaped_token_key_is_not_kept_over_http_or_from_ingest(
    ws: Workspace, live: LiveServer
) -> None:
    body = json.loads((FIXTURES / "aircall" / "call.ended.json").read_text())["body"]
    text = compact({**body, "timestamp": "soon"}).replace(b'"token"', b'"tok\\u0065n"')
    response = live.client.post(
        "/webhooks/aircall", content=text, headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, 'field "timestamp"')
    line = compact({"body": {**body, "timestamp": "soon"}}).replace(b'"token"', b'"tok\\u0065n"')
    ws.ingest("aircall", [line, line[:-40]], source="calls.jsonl")
    letters = ws.dead_letters(limit=10)
    assert len(letters) == 3
    assert not any(AIRCALL_TOKEN in text for text in stored_texts(ws))


def test_a_token_key_in_another_case_is_not_kept_in_a_good_event(
    ws: Workspace, live: LiveServer
) -> None:
    """A readable Aircall body whose token key is spelled ``Token`` / ``TOKEN`` (beside the
    real ``token``, or alone in a captured line) is taken, and the secret is in no stored
    payload, dead letter or error."""
    body = json.loads((FIXTURES / "aircall" / "call.ended.json").read_text())["body"]
    sent = {**body, "token": AIRCALL_TOKEN, "TOKEN": AIRCALL_TOKEN}
    response = post(live, "aircall", compact(sent))
    assert response.status_code == 200, response.text
    captured = {**body, "timestamp": body["timestamp"] + 1, "Token": AIRCALL_TOKEN}
    line = compact({"body": captured}).replace(b'"token"', b'"TOK\\u0045N"')
    summary = ws.ingest("aircall", [line], source="calls.jsonl")
    assert summary.accepted == 1 and not summary.dead_letters
    wait_until(lambda: not any(c["status"] == "pending" for c in ws.inbox_counts()), "the worker")
    assert not any(AIRCALL_TOKEN in text for text in stored_texts(ws))


def test_credentials_in_a_captured_line_are_not_kept(ws: Workspace) -> None:
    line = '{"headers": {"Authorization": "Basic aG9va3M6cHc="}, "body": {"meta": 5}}'
    ws.ingest("pipedrive", [line], source="p.jsonl")
    [letter] = ws.dead_letters()
    assert "aG9va3M6cHc=" not in letter["raw"]


# ============================================================ 5. a replay window for generic


def timestamped(body: bytes, stamp: int, secret: str = SECRETS["generic"]) -> dict[str, str]:
    mac = hex_hmac(secret, str(stamp).encode() + b"." + body)
    return {
        "content-type": "application/json",
        "x-leadsync-signature": f"sha256={mac}",
        "x-leadsync-timestamp": str(stamp),
    }


def test_a_signed_timestamp_is_checked_against_the_tolerance() -> None:
    body, secret = b'{"id": 1}', "s"
    ok = timestamped(body, int(NOW) - 300, secret)
    verify_generic(secret, body, ok, NOW)  # inclusive
    verify_generic(secret, body, timestamped(body, int(NOW) + 300, secret), NOW)
    with pytest.raises(SignatureError) as old:
        verify_generic(secret, body, timestamped(body, int(NOW) - 301, secret), NOW)
    assert str(old.value) == (
        "header X-Leadsync-Timestamp: timestamp 301 s old, 1 s past the tolerance (at most 300 s old)"
    )
    with pytest.raises(
        SignatureError, match=r"100 s in the future, 40 s past the tolerance \(at most 60 s ahead\)"
    ):
        verify_generic(secret, body, timestamped(body, int(NOW) + 100, secret), NOW, 60)
    # The timestamp is signed: a fresh one on a captured request does not pass.
    replayed = {**ok, "x-leadsync-timestamp": str(int(NOW))}
    with pytest.raises(SignatureError, match="X-Leadsync-Signature: bad signature"):
        verify_generic(secret, body, replayed, NOW)
    body_only = {"x-leadsync-signature": "sha256=" + hex_hmac(secret, body)}
    verify_generic(secret, body, body_only, NOW)  # a sender that signs the body alone
    with pytest.raises(SignatureError, match="missing header X-Leadsync-Timestamp"):
        verify_generic(secret, body, body_only, NOW, require_timestamp=True)
    with pytest.raises(SignatureError, match="must be a non-negative integer"):
        verify_generic(secret, body, {**ok, "x-leadsync-timestamp": "soon"}, NOW)
    huge = {**ok, "x-leadsync-timestamp": "1" + "0" * 40}  # an integer, but no time
    with pytest.raises(
        SignatureError, match=r"X-Leadsync-Timestamp is out of range \(41 digits\); allowed: "
    ):
        verify_generic(secret, body, huge, NOW)


def test_the_generic_tolerance_is_the_integrations_setting(ws: Workspace, live: LiveServer) -> None:
    body = compact(contact(1))
    for integration, stamp, status, detail in [
        ("generic", int(NOW) - 250, 200, None),
        (
            "strict",
            int(NOW) - 250,
            401,
            "timestamp 250 s old, 190 s past the tolerance (at most 60 s old)",
        ),
        ("strict", int(NOW) - 30, 200, None),
    ]:
        response = live.client.post(
            f"/webhooks/{integration}", content=body, headers=timestamped(body, stamp)
        )
        if detail is None:
            assert response.status_code == 200, response.text
        else:
            assert_problem(response, status, f"header X-Leadsync-Timestamp: {detail}")
    unsigned_time = signed("generic", body, "")
    response = live.client.post("/webhooks/strict", content=body, headers=unsigned_time)
    assert_problem(response, 401, "missing header X-Leadsync-Timestamp")
    response = live.client.post("/webhooks/generic", content=body, headers=unsigned_time)
    assert response.status_code == 200  # the old signature still works where not required


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("timestamp_tolerance_s: 0", "timestamp_tolerance_s: must be more than 0; got 0"),
        ("timestamp_tolerance_s: 5m", "timestamp_tolerance_s: expected a number; got '5m'"),
        ("timestamp_tolerance_s: 100000", "timestamp_tolerance_s: must be at most 86400"),
        ("require_timestamp: 'on'", "require_timestamp: expected true or false; got 'on'"),
    ],
)
def test_generic_timestamp_settings_errors_name_the_line_and_key(option: str, message: str) -> None:
    from leadsync.errors import ConfigError
    from leadsync.settings import load_config

    text = (
        'owners: [{id: "101", email: ana@acme.test}]\n'
        "integrations:\n"
        "  dialer:\n"
        "    kind: generic\n"
        "    vendor:\n"
        f"      {option}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(text, "team.yaml")
    [problem] = caught.value.problems
    assert problem.startswith(f"team.yaml:6: integrations.dialer.vendor.{message}"), problem


def test_signed_timestamp_settings_belong_to_the_kinds_that_read_them() -> None:
    from leadsync.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        integration_from_dict(
            {"kind": "outreach", "vendor": {"require_timestamp": True}},
            "team.yaml:4",
            "integrations.o",
        )
    assert caught.value.problems == [
        "team.yaml:4: integrations.o.vendor.require_timestamp: not allowed for kind outreach; "
        "only for generic, salesforce"
    ]


def test_an_unknown_xml_encoding_is_malformed() -> None:
    adapter = adapter_for("salesforce", "salesforce", {"organization_id": SALESFORCE_ORG})
    body = b'<?xml version="1.0" encoding="bogus"?><notifications/>'
    request = WebhookRequest("POST", "", {"content-type": "text/xml"}, body)
    with pytest.raises(EventError, match="names an unknown encoding .*allowed: UTF-8"):
        adapter.verify(request, None, NOW)


# ============================================================ 6. fuzzing every adapter


class Raw(str):
    """JSON text written as is: a number JSON's grammar allows but Python cannot read."""


RAW_NUMBERS = st.sampled_from(
    ["1e400", "-1e400", "1E+309", "1" * 5000, "-" + "9" * 4400, "7" * 400, "1e-400", "-0"]
).map(Raw)
HOSTILE_STRINGS = st.one_of(
    st.sampled_from(
        ["\x00", "\ud800", "a\udfffb", "\udbff\udbff", "", " ", "n/a", "a" * 300, "call.ended",
         "2026-11-01T09:00:00Z", "9" * 30, "-1", "\u202e", "😀", '"', "\\", "{}", "token"]
    ),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Ll", "Nd", "Po"]), max_size=12),
)  # fmt: skip
LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    RAW_NUMBERS,
    HOSTILE_STRINGS,
)
JSONISH = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(HOSTILE_STRINGS, children, max_size=4)
    ),
    max_leaves=12,
)


def to_json(value: Any, escape_keys: bool = False, ascii_only: bool = True) -> str:
    """JSON text of ``value``; :class:`Raw` is written as is, lone surrogates as escapes
    (``ascii_only``) or raw; ``escape_keys`` writes every key letter as a ``\\u`` escape."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        items = (
            f"{_key(k, escape_keys, ascii_only)}:{to_json(v, escape_keys, ascii_only)}"
            for k, v in value.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v, escape_keys, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def _key(key: str, escape: bool, ascii_only: bool) -> str:
    if not escape:
        return json.dumps(key, ensure_ascii=ascii_only)
    return (
        '"' + "".join(f"\\u{ord(c):04x}" if c.isalpha() else json.dumps(c)[1:-1] for c in key) + '"'
    )


def _fixture_bodies(kind: str) -> list[tuple[dict[str, str], Any]]:
    found = []
    for path in sorted((FIXTURES / kind).glob("*")) if (FIXTURES / kind).is_dir() else []:
        if path.suffix == ".xml":
            found.append(({"content-type": "text/xml"}, path.read_text()))
        elif path.suffix == ".json":
            data = json.loads(path.read_text())
            found.append((data.get("headers", {}), data["body"]))
    if kind == "generic":
        found = [({}, contact(1)), ({}, [contact(2), contact(3)])]
    return found


FIXTURE_BODIES = {kind: _fixture_bodies(kind) for kind in INTEGRATION_KINDS}


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*path, index)))
    return found


@st.composite
def requests(draw: st.DrawFn, kind: str) -> tuple[bytes, dict[str, str]]:
    """A body and headers a hostile (or merely broken) sender of ``kind`` could send:
    arbitrary bytes, arbitrary JSON-ish text, or a real payload with values swapped for
    hostile ones (huge numbers, NUL, lone surrogates, escaped keys), cut short or not."""
    fixture_headers, body = copy.deepcopy(draw(st.sampled_from(FIXTURE_BODIES[kind])))
    shape = draw(st.sampled_from(["bytes", "jsonish", "mutated", "mutated", "mutated"]))
    headers = {k.lower(): v for k, v in fixture_headers.items()}
    if shape == "bytes":
        raw = draw(st.binary(max_size=600))
    elif isinstance(body, str):  # an XML Outbound Message: text swapped in
        start = draw(st.integers(0, len(body)))
        end = draw(st.integers(start, min(len(body), start + 40)))
        raw = (body[:start] + draw(HOSTILE_STRINGS) + body[end:]).encode("utf-8", "surrogatepass")
    else:
        if shape == "jsonish":
            body = draw(JSONISH)
        else:
            for _ in range(draw(st.integers(1, 3))):
                where = draw(st.sampled_from(_paths(body)))
                if not where:
                    body = draw(JSONISH)
                    continue
                target = body
                for step in where[:-1]:
                    target = target[step]
                target[where[-1]] = draw(JSONISH)
        if kind == "aircall" and isinstance(body, dict) and draw(st.booleans()):
            body["token"] = AIRCALL_TOKEN
        text = to_json(body, escape_keys=draw(st.booleans()), ascii_only=draw(st.booleans()))
        raw = text.encode("utf-8", "surrogatepass")
        if draw(st.integers(0, 9)) == 0:
            raw = raw[: draw(st.integers(0, len(raw)))]
    if kind == "salesloft":
        headers.setdefault("x-salesloft-event", draw(st.sampled_from(["person_created", "x", ""])))
    return raw, headers


ADAPTER_EXAMPLES = 150


@pytest.mark.parametrize("kind", INTEGRATION_KINDS)
def test_adapters_raise_nothing_but_refusals_on_any_input(kind: str) -> None:
    """Verify (with the right secret), decode, split and convert any request: only a
    SignatureError (a 401) or an EventError (a 400 or a dead letter) may come out, and every
    stored key and payload is text every database can keep."""
    options = integrations()[kind].get("vendor")
    adapter = adapter_for(kind, kind, options)

    @settings(
        max_examples=ADAPTER_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def read(data: st.DataObject) -> None:
        raw, extra = data.draw(requests(kind))
        content_type = data.draw(st.sampled_from([*adapter.content_types, "text/plain"]))
        headers = {**signed(kind, raw, "https://leadsync.test/", content_type), **extra}
        if kind == "salesforce" and raw.lstrip().startswith(b"<"):
            headers["content-type"] = "text/xml"
        request = WebhookRequest("POST", "https://leadsync.test/", Headers(headers.items()), raw)
        try:
            adapter.verify(request, SECRETS[kind], NOW)
            pieces = adapter.pieces(request)
        except (SignatureError, EventError):
            return
        for piece in pieces:
            assert storable_key(piece.key) == piece.key
            assert representable(piece.payload()) == piece.payload()
            with contextlib.suppress(EventError):
                adapter.events_of(piece.payload(), piece.key, 1, "fuzz", None)

    read()


HTTP_EXAMPLES = 200


def test_no_request_gets_a_5xx_or_a_traceback(ws: Workspace, live: LiveServer) -> None:
    """Any body to any adapter over the real service: a 200 (committed), or a 4xx problem;
    then the worker takes every committed row (applied or a dead letter), none by defect."""
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=HTTP_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def send(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(INTEGRATION_KINDS), label="kind")
        raw, extra = data.draw(requests(kind), label="request")
        adapter = adapter_for(kind, kind)
        content_type = data.draw(st.sampled_from([*adapter.content_types, "text/plain"]))
        if kind == "salesforce" and raw.lstrip().startswith(b"<"):
            content_type = "text/xml"
        headers = {**signed(kind, raw, live.webhook_uri(kind), content_type), **extra}
        if data.draw(st.integers(0, 9), label="unsigned") == 0:
            headers = {"content-type": content_type}
        response = live.client.post(f"/webhooks/{kind}", content=raw, headers=headers)
        statuses[response.status_code] += 1
        assert response.status_code < 500, response.text
        if response.status_code == 200:
            assert response.headers["content-type"].split(";")[0] in (
                "application/json",
                "text/xml",
            )
            return
        assert 400 <= response.status_code < 500
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["status"] == response.status_code and problem["title"]
        assert DEFECT not in problem["detail"], problem["detail"]
        assert "Traceback" not in response.text

    send()
    assert statuses[200] and statuses[400] and statuses[401], statuses  # every path was taken
    wait_until(lambda: not any(c["status"] == "pending" for c in ws.inbox_counts()), "the worker")
    assert not any(DEFECT in text for text in stored_texts(ws))
    assert all(representable(text) == text for text in stored_texts(ws))
    assert not any(AIRCALL_TOKEN in text for text in stored_texts(ws))


INGEST_EXAMPLES = 120


def test_no_line_breaks_an_ingest_or_costs_the_lines_beside_it(ws: Workspace) -> None:
    """Any lines to any integration through ``ingest``: it never raises; a good line in the
    same chunk is accepted; every other line is taken or a dead letter naming FILE:LINE."""
    good = {
        kind: json.dumps(
            {"headers": bodies[0][0], "body": bodies[0][1]} if bodies[0][0] else bodies[0][1]
        ).encode()
        for kind, bodies in FIXTURE_BODIES.items()
    }

    @settings(
        max_examples=INGEST_EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def ingest(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(INTEGRATION_KINDS), label="kind")
        lines = [good[kind]]
        for _ in range(data.draw(st.integers(1, 3))):
            raw, headers = data.draw(requests(kind))
            if data.draw(st.booleans()) and not raw.lstrip().startswith(b"<"):
                try:
                    envelope = '{"headers": ' + json.dumps(headers) + ', "body": '
                    raw = envelope.encode() + raw + b"}"
                except (TypeError, ValueError):
                    pass
            lines.append(raw.replace(b"\n", b" ").replace(b"\r", b" "))
        summary = ws.ingest(kind, lines, source="fuzz.jsonl", batch_size=10)
        wheres = [d.where for d in summary.dead_letters]
        assert not any(w == "fuzz.jsonl:1" or w.startswith("fuzz.jsonl:1 ") for w in wheres)
        assert summary.accepted + summary.duplicates >= 1
        for letter in [*summary.dead_letters, *summary.failed]:
            assert DEFECT not in letter.error, letter

    with batch_friendly_gc():  # one collection for the whole run, not one per ingest
        ingest()
    assert not any(c["status"] == "pending" for c in ws.inbox_counts())
    assert not any(DEFECT in text for text in stored_texts(ws))
    assert not any(AIRCALL_TOKEN in text for text in stored_texts(ws))


def test_a_broken_body_sent_again_is_one_dead_letter_while_it_is_open(
    ws: Workspace, live: LiveServer
) -> None:
    """A vendor retrying a 400 filled the list with copies of one body."""
    broken = b'{"id": "rep-1", broken'
    for _ in range(3):
        assert_problem(post(live, "generic", broken), 400, "not valid JSON")
    [letter] = ws.dead_letters()
    assert "rep-1" in str(letter["raw"])
    other = b'{"id": "rep-2", broken'
    assert_problem(post(live, "generic", other), 400, "not valid JSON")
    assert len(ws.dead_letters()) == 2
    # Once dismissed, the body coming again is kept again: someone must see it.
    ws.dismiss_dead_letters([letter["id"]], "looked at it")
    assert_problem(post(live, "generic", broken), 400, "not valid JSON")
    assert len(ws.dead_letters()) == 2


def test_a_secret_field_is_redacted_at_any_depth_and_in_a_list_of_bodies() -> None:
    """A capture's envelope with keys of its own (``received_at``) is no envelope to the
    reader, and a list of bodies on one line is no body: their tokens and credential
    headers were kept as sent."""
    line = {
        "Headers": {"Authorization": "Basic c2VjcmV0", "X-Api-Key": "k-1", "Accept": "*/*"},
        "body": {"token": "t-1", "event": "call.ended", "data": {"id": 1}},
        "received_at": "2026-11-01T00:00:00Z",
    }
    kept = json.loads(redact_text(json.dumps(line), ("token",)))
    assert kept["Headers"] == {
        "Authorization": "[redacted]",
        "X-Api-Key": "[redacted]",
        "Accept": "*/*",
    }
    assert kept["body"]["token"] == "[redacted]" and kept["body"]["data"] == {"id": 1}
    bodies = [{"token": "t-2", "event": "call.ended"}, {"Token ": "t-3"}]
    assert json.loads(redact_text(json.dumps(bodies), ("token",))) == [
        {"token": "[redacted]", "event": "call.ended"},
        {"Token ": "[redacted]"},
    ]


def test_a_dead_letter_keeps_no_credential_a_body_holds_whatever_its_vendor(
    ws: Workspace,
) -> None:
    """``dead-letters show`` said "body (as kept: secrets redacted)" over a body's
    ``password`` and ``api_key`` (found by a probe): only the vendor's own secret fields and
    credential headers were redacted."""
    line = {"password": "PW-1", "data": {"API_Key": "K-1", "client_secret": "S-1", "id": 7}}
    summary = ws.ingest("aircall", [json.dumps(line)], source="odd.jsonl")
    assert summary.dead_letter_count == 1
    [letter] = ws.dead_letters(limit=10)
    assert not any(secret in letter["raw"] for secret in ("PW-1", "K-1", "S-1"))
    assert json.loads(letter["raw"])["body"]["data"] == {
        "API_Key": "[redacted]",
        "client_secret": "[redacted]",
        "id": 7,
    }


def test_a_wrapped_or_listed_aircall_body_is_stored_without_its_token(ws: Workspace) -> None:
    body = json.loads((FIXTURES / "aircall" / "call.ended.json").read_text())["body"]
    wrapped = {"headers": {"content-type": "application/json"}, "body": body, "received_at": "x"}
    ws.ingest("aircall", [compact(wrapped), compact([body])], source="odd.jsonl")
    assert not any(AIRCALL_TOKEN in text for text in stored_texts(ws))
