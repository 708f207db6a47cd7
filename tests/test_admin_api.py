"""The admin API over real HTTP: bearer auth, records, integration settings, the inbox, dead
letters and their retry, external users, and the OpenAPI document."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import openapi_spec_validator
import pytest

from leadsync.model import RecordType, Strategy
from leadsync.settings import config_to_dict, integration_to_dict
from leadsync.sources.jsontext import MAX_DEPTH
from leadsync.web import ConsoleOptions
from leadsync.web.auth import FAILED_SIGN_IN_WINDOW_S, MAX_FAILED_SIGN_INS, FailedTries
from leadsync.workspace import Workspace
from tests.helpers import KIM_CONTACT, record_by_external, settings, workspace_config
from tests.live import (
    ADMIN_TOKEN,
    LiveServer,
    compact,
    generic_signature,
    integrations,
    serve,
    wait_applied,
)
from tests.test_review_faces import queue_questions

PROBLEM = "application/problem+json"

# Every admin operation, with values for its path parameters.
ADMIN_OPERATIONS = [
    ("get", "/api/review"),
    ("get", "/api/review/{item_id}"),
    ("post", "/api/review/{item_id}/resolve"),
    ("get", "/api/records/{record_type}/{record_id}"),
    ("post", "/api/preview"),
    ("post", "/api/replay"),
    ("get", "/api/report"),
    ("get", "/api/lookup/email/{email}"),
    ("get", "/api/lookup/domain/{domain}"),
    ("get", "/api/lookup/external/{integration}/{external_id}"),
    ("get", "/api/integrations"),
    ("post", "/api/integrations"),
    ("get", "/api/integrations/{name}/settings"),
    ("put", "/api/integrations/{name}/settings"),
    ("get", "/api/integrations/{name}/users"),
    ("get", "/api/integrations/{name}/lines"),
    ("get", "/api/integrations/{name}/rollout"),
    ("post", "/api/integrations/{name}/rollout/promote"),
    ("post", "/api/integrations/{name}/rollout/abort"),
    ("get", "/api/inbox"),
    ("get", "/api/inbox/counts"),
    ("get", "/api/dead-letters"),
    ("get", "/api/dead-letters/count"),
    ("get", "/api/dead-letters/{letter_id}"),
    ("post", "/api/dead-letters/{letter_id}/retry"),
    ("post", "/api/dead-letters/{letter_id}/dismiss"),
    ("get", "/api/push/status"),
    ("get", "/api/push-failures"),
    ("get", "/api/push-failures/count"),
    ("get", "/api/push-failures/{failure_id}"),
    ("post", "/api/push/retry-failures"),
    ("post", "/api/push-failures/{failure_id}/retry"),
    ("post", "/api/push-failures/{failure_id}/dismiss"),
    ("post", "/api/integrations/{name}/test-lead"),
    ("post", "/api/test-leads/cleanup"),
]
PATH_VALUES = {
    "item_id": "1",
    "record_type": "contact",
    "record_id": "1",
    "name": "dialer",
    "letter_id": "1",
    "failure_id": "1",
    "email": "kim@globex.test",
    "domain": "globex.test",
    "integration": "dialer",
    "external_id": "p-1",
}

KIM = {**KIM_CONTACT, "associations": [{"object": "company", "domain": "globex.test"}]}
CALL = {
    "id": "e2",
    "occurred_at": "2026-11-01T09:10:00Z",
    "type": "activity",
    "activity": "call",
    "external_id": "call-1",
    "owner": "u-1",
    "properties": {"duration_s": 60, "outcome": "connected"},
    "associations": [{"object": "contact", "external_id": "p-1"}],
}


@pytest.fixture
def server(ws: Workspace) -> Iterator[LiveServer]:
    with serve(ws) as live:
        yield live


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def as_json(data: Any) -> Any:
    return json.loads(json.dumps(data))


def ingest(ws: Workspace, *events: dict[str, Any], integration: str = "dialer") -> None:
    summary = ws.ingest(integration, [json.dumps(e) for e in events])
    assert summary.ok, summary.to_dict()


# ------------------------------------------------------------------ auth


def call_operation(client: httpx.Client, method: str, path: str) -> httpx.Response:
    url = path.format(**PATH_VALUES)
    body = {"kind": "generic"} if method == "put" else None
    return client.request(method.upper(), url, json=body)


REFUSED_CREDENTIALS = {
    "no token": ({}, "missing header Authorization: Bearer <token>"),
    "wrong token": ({"authorization": "Bearer not-the-token"}, "wrong admin token"),
    "not bearer": (
        {"authorization": f"Basic {ADMIN_TOKEN}"},
        "header Authorization uses the scheme 'Basic'; allowed: Bearer <token>",
    ),
    "no scheme": ({"authorization": ADMIN_TOKEN}, "header Authorization has no scheme"),
    "empty bearer": ({"authorization": "Bearer"}, "header Authorization names no token"),
}


def test_every_admin_operation_needs_the_token(ws: Workspace, subtests: pytest.Subtests) -> None:
    before = config_to_dict(ws.export_config())
    with serve(ws, max_failed_sign_ins=0) as server:  # more wrong tokens than one may give
        _every_operation_refuses(server, subtests)
    assert config_to_dict(ws.export_config()) == before


def _every_operation_refuses(server: LiveServer, subtests: pytest.Subtests) -> None:
    for case, (headers, detail) in REFUSED_CREDENTIALS.items():
        with httpx.Client(base_url=server.base_url, headers=headers) as anonymous:
            for method, path in ADMIN_OPERATIONS:
                with subtests.test(credentials=case, operation=f"{method.upper()} {path}"):
                    response = call_operation(anonymous, method, path)
                    assert detail in problem_of(response, 401)["detail"]
                    assert ADMIN_TOKEN not in response.text  # never shown back
                    assert response.headers["www-authenticate"] == "Bearer"


def from_address(server: LiveServer, address: str, token: str | None) -> httpx.Client:
    """A client whose requests come from ``address`` (any of 127.0.0.0/8 is this machine)."""
    headers = {} if token is None else {"authorization": f"Bearer {token}"}
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.base_url, headers=headers, transport=transport)


def test_wrong_tokens_make_the_address_wait_and_the_console_counts_with_them(
    ws: Workspace,
) -> None:
    """Ten wrong secrets from one address (the admin API's token, the console's sign-in:
    one count) and it waits, with 429 and Retry-After, even with the right token: the API
    is no way around the console's limit. Other addresses go on; no token (a scraper not
    set up yet) is not a guess."""
    with serve(ws, console=ConsoleOptions()) as server:
        with from_address(server, "127.0.0.2", "not-the-token") as guesser:
            for _ in range(4):
                problem_of(guesser.get("/api/integrations"), 401)
        with from_address(server, "127.0.0.2", None) as browser:
            problem_of(browser.get("/api/inbox/counts"), 401)  # no token: not counted
            for n in range(6):  # six wrong sign-ins on the console's form
                form = browser.get("/login")
                token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
                assert token is not None
                answer = browser.post(
                    "/login", data={"secret": f"guess-{n}", "csrf_token": token.group(1)}
                )
                assert answer.status_code == 401
        with from_address(server, "127.0.0.2", ADMIN_TOKEN) as right:
            refused = right.get("/api/integrations")
            problem = problem_of(refused, 429)
            assert problem["title"] == "Too many failed tries"
            wait_s = int(refused.headers["retry-after"])
            assert 0 < wait_s <= 600 and f"try again in {wait_s} s" in problem["detail"]
            assert ADMIN_TOKEN not in refused.text
            assert right.get("/metrics").status_code == 429
        with from_address(server, "127.0.0.3", ADMIN_TOKEN) as other:
            assert other.get("/api/integrations").status_code == 200


def test_the_viewer_token_reads_the_api_and_is_no_wrong_guess(ws: Workspace) -> None:
    """The viewer token (read-only in the console) reads the API and the metrics; a change
    with it is 403, not a wrong admin token: eleven of them from one address locked that
    address out, the admin included."""
    before = integration_to_dict(ws.integration("dialer"))
    with serve(ws, console=ConsoleOptions(viewer_token="viewer-token-0123")) as server:
        with from_address(server, "127.0.0.4", "viewer-token-0123") as viewer:
            for _ in range(MAX_FAILED_SIGN_INS + 1):
                assert viewer.get("/api/integrations").status_code == 200
                put = viewer.put("/api/integrations/dialer/settings", json={"kind": "generic"})
                assert problem_of(put, 403)["detail"] == (
                    "the viewer token reads only (GET and HEAD); PUT takes the admin token"
                )
            assert viewer.get("/metrics").status_code == 200
            assert viewer.head("/api/inbox/counts").status_code == 200
            problem_of(viewer.post("/api/integrations/dialer/rollout/abort"), 403)
        assert integration_to_dict(ws.integration("dialer")) == before
        with from_address(server, "127.0.0.4", ADMIN_TOKEN) as admin:
            assert admin.get("/api/integrations").status_code == 200
        with from_address(server, "127.0.0.5", "viewer-token-0124") as guesser:
            assert problem_of(guesser.get("/api/integrations"), 401)["detail"] == (
                "wrong admin token"
            )


def test_a_refusal_says_why_and_the_whole_seconds_left() -> None:
    tries = FailedTries(limit=3)
    for at in (100.0, 200.0, 300.0):
        assert tries.refusal("10.0.0.1", at) is None
        tries.failed("10.0.0.1", at)
    assert tries.refusal("10.0.0.1", 300.5) == (
        FAILED_SIGN_IN_WINDOW_S - 200,  # 399.5 s left, rounded up
        "this address gave a wrong secret 3 times in 10 minutes",
    )
    assert tries.refusal("10.0.0.1", 100.0 + FAILED_SIGN_IN_WINDOW_S + 1) is None
    off = FailedTries(limit=0)  # no limit: nothing counted, nobody waits
    for _ in range(20):
        off.failed("10.0.0.1", 0.0)
    assert off.refusal("10.0.0.1", 0.0) is None


def test_the_cli_default_is_the_consoles_limit() -> None:
    from leadsync.cli.serve import serve as serve_command

    default = inspect.signature(serve_command).parameters["max_failed_sign_ins"].default
    assert default == MAX_FAILED_SIGN_INS


def test_without_a_server_token_the_admin_api_is_disabled(ws: Workspace) -> None:
    with serve(ws, admin_token=None) as live:
        for token in (None, ADMIN_TOKEN):
            headers = {} if token is None else {"authorization": f"Bearer {token}"}
            response = live.client.get("/api/integrations", headers=headers)
            problem = problem_of(response, 401)
            assert problem["title"] == "Admin API disabled"
            assert "LEADSYNC_ADMIN_TOKEN" in problem["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
        assert live.client.get("/healthz").status_code == 200  # the rest still serves


# ------------------------------------------------------------------ records


def test_records_by_id_and_by_email_domain_external(ws: Workspace, server: LiveServer) -> None:
    ingest(ws, KIM, CALL)
    kim = record_by_external(ws, "p-1")
    [company] = ws.find(domain="globex.test")
    got = server.client.get(f"/api/records/contact/{kim['id']}")
    assert got.status_code == 200
    assert got.json() == as_json(ws.record("contact", kim["id"]))
    assert got.json()["owner_history"][0]["owner_id"] == "101"
    assert [a["external_id"] for a in got.json()["timeline"]] == ["call-1"]
    limited = server.client.get(f"/api/records/contact/{kim['id']}", params={"limit": 1})
    assert limited.json() == as_json(ws.record("contact", kim["id"], 1))
    for url, expected in [
        ("/api/lookup/email/KIM@globex.test", [("contact", kim["id"])]),
        ("/api/lookup/domain/www.Globex.test", [("company", company["id"])]),
        ("/api/lookup/external/dialer/p-1", [("contact", kim["id"])]),
        ("/api/lookup/email/nobody@globex.test", []),
        ("/api/lookup/external/phone/p-1", []),
    ]:
        found = server.client.get(url)
        assert found.status_code == 200, found.text
        assert found.json() == {"records": [as_json(ws.record(t, i)) for t, i in expected]}


def test_an_external_id_or_email_holding_a_slash_is_found(
    ws: Workspace, server: LiveServer
) -> None:
    """Canonical external ids are free text: `acct/42` is one id, sent as is or as `%2F`."""
    ingest(
        ws,
        {
            **KIM,
            "id": "e-slash",
            "external_id": "acct/42",
            "properties": {"email": "a/b@globex.test"},
        },
    )
    [record] = ws.find(external="dialer:acct/42")
    for url in (
        "/api/lookup/external/dialer/acct/42",
        "/api/lookup/external/dialer/acct%2F42",
        "/api/lookup/email/a%2Fb@globex.test",
    ):
        found = server.client.get(url)
        assert found.status_code == 200, (url, found.text)
        assert [r["id"] for r in found.json()["records"]] == [record["id"]], url


LOOKUP_FAILURES = [
    ("/api/records/widget/1", 400, "path.record_type: Input should be 'contact', 'company'"),
    ("/api/records/contacts/1", 400, "or 'lead'; got 'contacts'"),
    ("/api/records/contact/999", 404, "no contact with id 999"),
    ("/api/records/company/1", 404, "no company with id 1"),
    (
        "/api/records/contact/abc",
        400,
        "path.record_id: must be a whole number written in digits, like 42; got 'abc'",
    ),
    (
        "/api/records/contact/0",
        400,
        "path.record_id: Input should be greater than or equal to 1; got '0'",
    ),
    ("/api/lookup/external/dialer", 404, "Not Found"),
    (
        "/api/records/contact/1?limit=0",
        400,
        "query.limit: Input should be greater than or equal to 1; got '0'",
    ),
    # A mistyped integration is not an empty answer (as the CLI refuses it).
    ("/api/lookup/external/nope/q-1", 404, "unknown integration 'nope'; configured"),
    # Text that is not an email or a domain is a typo, as `records find` says (not "none").
    ("/api/lookup/email/kim.globex.test", 400, "email 'kim.globex.test' is not an email address"),
    ("/api/lookup/domain/not%20a%20domain", 400, "domain 'not a domain' is not a domain"),
    ("/api/inbox?integration=nope", 400, "unknown integration 'nope'"),
    ("/api/dead-letters?integration=nope", 400, "unknown integration 'nope'"),
    ("/api/dead-letters/count?integration=nope", 400, "unknown integration 'nope'"),
    # A misspelled filter is not left out (the answer, unfiltered, taken for the filtered one).
    (
        "/api/dead-letters/count?integraton=nope",
        400,
        "query parameter 'integraton' is not taken here; allowed: integration",
    ),
    (
        "/api/inbox?stauts=failed&limit=1",
        400,
        "query parameter 'stauts' is not taken here; allowed: ",
    ),
    ("/api/records/contact/1?limt=3", 400, "query parameter 'limt' is not taken here"),
]


def test_record_lookups_that_fail_say_why(
    ws: Workspace, server: LiveServer, subtests: pytest.Subtests
) -> None:
    ingest(ws, KIM)
    assert record_by_external(ws, "p-1")["id"] == 1
    for url, status, detail in LOOKUP_FAILURES:
        with subtests.test(url=url):
            assert detail in problem_of(server.client.get(url), status)["detail"]


# ------------------------------------------------------------------ integration settings


def test_integration_settings_round_trip(ws: Workspace, server: LiveServer) -> None:
    listed = server.client.get("/api/integrations").json()
    assert {"name": "phone", "kind": "aircall"} in listed
    assert sorted(i["name"] for i in listed) == sorted(integrations())
    current = server.client.get("/api/integrations/dialer/settings")
    assert current.status_code == 200
    assert current.json() == as_json(integration_to_dict(ws.integration("dialer")))
    assert current.json()["secret_env"] == "DIALER_SECRET"

    changed = {**current.json(), "ownership": {"default": "integration_wins"}}
    put = server.client.put("/api/integrations/dialer/settings", json=changed)
    assert put.status_code == 200, put.text
    assert server.client.get("/api/integrations/dialer/settings").json() == put.json()
    assert put.json()["ownership"]["default"] == "integration_wins"
    assert ws.rules().strategy("dialer", RecordType.CONTACT) is Strategy.INTEGRATION_WINS
    # The rules in force: an owner change now replaces the owner (fill_if_empty kept it).
    ingest(ws, KIM)
    ingest(ws, {**KIM, "id": "e9", "occurred_at": "2026-11-02T09:00:00Z", "owner": "u-9"})
    assert record_by_external(ws, "p-1")["owner_id"] == "102"


def test_putting_an_unknown_integration_is_404_and_creating_one_is_a_post(
    ws: Workspace, server: LiveServer
) -> None:
    """A typo in a PUT's name never creates an integration the workspace file lacks."""
    new = {"kind": "aircall", "secret_env": "CHAT_TOKEN", "ownership": {"default": "fill_if_empty"}}
    before = config_to_dict(ws.export_config())
    missing = problem_of(server.client.put("/api/integrations/chat/settings", json=new), 404)
    assert "unknown integration 'chat'" in missing["detail"]
    assert "create it with POST /api/integrations" in missing["detail"]
    assert config_to_dict(ws.export_config()) == before

    created = server.client.post("/api/integrations", json={"name": "chat", "settings": new})
    assert created.status_code == 201, created.text
    assert created.json()["kind"] == "aircall"
    assert created.headers["location"] == "/api/integrations/chat/settings"
    assert server.client.get(created.headers["location"]).json() == created.json()
    assert ws.integration("chat").secret_env == "CHAT_TOKEN"
    assert {"name": "chat", "kind": "aircall"} in server.client.get("/api/integrations").json()
    again = server.client.post("/api/integrations", json={"name": "chat", "settings": new})
    assert "exists already" in problem_of(again, 409)["detail"]
    assert server.client.put("/api/integrations/chat/settings", json=new).status_code == 200
    assert sorted(ws.rules().integrations) == sorted([*integrations(), "chat"])


def test_a_new_integration_is_checked_like_the_file(ws: Workspace, server: LiveServer) -> None:
    before = config_to_dict(ws.export_config())
    bad = {"name": "chat", "settings": {"kind": "aircall", "secret_env": "1BAD"}}
    problem = problem_of(server.client.post("/api/integrations", json=bad), 422)
    assert any(
        "integrations.chat.secret_env: a value of 4 characters (not shown) is not an "
        "environment variable name" in line
        for line in problem["problems"]
    ), problem["problems"]
    assert problem["detail"] == problem["problems"][0]  # one problem: the detail says it
    for body in (
        {"name": "Chat Room", "settings": {"kind": "generic"}},
        {"name": "chat"},
        {"name": "chat", "settings": {"kind": "generic"}, "extra": 1},
    ):
        problem_of(server.client.post("/api/integrations", json=body), 400)
    # A name is refused in the words the file's check uses, not pydantic's pattern text.
    named = problem_of(
        server.client.post(
            "/api/integrations", json={"name": "Dialer2", "settings": {"kind": "generic"}}
        ),
        400,
    )
    assert (
        "'Dialer2' is not a valid integration name; allowed: lowercase letters" in named["detail"]
    )
    assert config_to_dict(ws.export_config()) == before


INVALID: dict[str, tuple[str, Any, str]] = {
    "unknown strategy": (
        "dialer",
        settings(ownership={"default": "sometimes"}),
        "integrations.dialer.ownership.default: 'sometimes' is not allowed; allowed: "
        "integration_wins, fill_if_empty, never_overwrite, bidirectional",
    ),
    "unknown owner in the map": (
        "dialer",
        settings(users={"map": {"u-9": "999"}}),
        "integrations.dialer.users.map.u-9: unknown owner '999'; known owners: ",
    ),
    "unknown team": (
        "dialer",
        settings(users={"unmapped": {"policy": "round_robin", "team": "closers"}}),
        "integrations.dialer.users.unmapped.team: unknown team 'closers'",
    ),
    "unknown kind": ("dialer", {"kind": "fax"}, "integrations.dialer.kind: 'fax'"),
    "vendor option of another kind": (
        "dialer",
        {"kind": "generic", "vendor": {"app_id": "1"}},
        "integrations.dialer.vendor.app_id: not allowed for kind generic; only for hubspot",
    ),
}


def test_invalid_settings_are_refused_with_key_paths(
    ws: Workspace, server: LiveServer, subtests: pytest.Subtests
) -> None:
    before = config_to_dict(ws.export_config())
    for case, (name, data, line) in INVALID.items():
        with subtests.test(case=case):
            response = server.client.put(f"/api/integrations/{name}/settings", json=data)
            problem = problem_of(response, 422)
            assert problem["problems"], problem
            assert any(line in p for p in problem["problems"]), problem["problems"]
            assert config_to_dict(ws.export_config()) == before


def test_settings_that_are_not_an_object_are_refused(ws: Workspace, server: LiveServer) -> None:
    before = config_to_dict(ws.export_config())
    response = server.client.put("/api/integrations/dialer/settings", json=["generic"])
    problem = problem_of(response, 400)
    assert "body" in problem["detail"]
    assert problem_of(server.client.get("/api/integrations/none/settings"), 404)["detail"]
    assert config_to_dict(ws.export_config()) == before


def test_the_document_says_what_get_gives_back_and_put_takes(
    ws: Workspace, server: LiveServer
) -> None:
    """An activity type's ``true``/``false`` shorthand, which GET returns and PUT accepts, is
    in the schema; an empty filter or ``since`` is refused as the document says."""
    document = httpx.get(f"{server.base_url}/openapi.json").json()
    activity = document["components"]["schemas"]["ActivityTypeSettings"]
    assert any(option.get("type") == "boolean" for option in activity["anyOf"])
    current = server.client.get("/api/integrations/dialer/settings").json()
    assert any(isinstance(v, bool) for v in current["activities"].values())
    assert server.client.put("/api/integrations/dialer/settings", json=current).status_code == 200
    params = document["paths"]["/api/dead-letters"]["get"]["parameters"]
    [integration] = [p for p in params if p["name"] == "integration"]
    assert "minLength" in json.dumps(integration["schema"])
    empty = server.client.get("/api/dead-letters", params={"integration": ""})
    assert "query.integration" in problem_of(empty, 400)["detail"]
    replay = server.client.post("/api/replay", json={"integration": "dialer", "settings": {}})
    assert replay.status_code in (400, 422)
    assert "expected the keys to change" in replay.json()["detail"], replay.text


# ------------------------------------------------------------------ inbox and dead letters


def post(server: LiveServer, integration: str, event: dict[str, Any]) -> None:
    response = server.post_generic(integration, compact(event))
    assert response.status_code == 200, response.text


UNKNOWN_TYPE = {**KIM, "id": "bad-1", "type": "meeting_booked"}


def test_inbox_and_dead_letters_are_listed_and_counted(ws: Workspace, server: LiveServer) -> None:
    for event in (KIM, CALL, UNKNOWN_TYPE):
        post(server, "dialer", event)
    wait_applied(ws)
    rows = server.client.get("/api/inbox").json()
    assert [r["seq"] for r in rows] == [3, 2, 1]
    assert [r["status"] for r in rows] == ["failed", "applied", "applied"]
    assert json.loads(rows[2]["payload"]) == KIM
    applied = server.client.get("/api/inbox", params={"status": "applied"}).json()
    assert [r["event_id"] for r in applied] == ["e2", "e1"]
    [failed] = server.client.get("/api/inbox", params={"status": "failed"}).json()
    assert 'field "type"' in failed["error"]
    assert server.client.get("/api/inbox", params={"integration": "phone"}).json() == []
    assert len(server.client.get("/api/inbox", params={"limit": 1}).json()) == 1
    # Pages: the next is before the last row's seq, to the end.
    pages = [server.client.get("/api/inbox", params={"limit": 2}).json()]
    pages.append(server.client.get("/api/inbox", params={"limit": 2, "before": 2}).json())
    assert [[r["seq"] for r in page] for page in pages] == [[3, 2], [1]]
    assert server.client.get("/api/inbox", params={"before": 1}).json() == []
    bad = problem_of(server.client.get("/api/inbox", params={"status": "done"}), 400)
    assert bad["detail"] == (
        "query.status: Input should be 'pending', 'applied' or 'failed'; got 'done'"
    )
    problem_of(server.client.get("/api/inbox", params={"limit": 0}), 400)

    counts = server.client.get("/api/inbox/counts").json()
    assert counts["counts"] == [
        {"integration": "dialer", "status": "applied", "count": 2},
        {"integration": "dialer", "status": "failed", "count": 1},
    ]
    assert (counts["pending"], counts["oldest_pending_at"]) == (0, None)

    [letter] = server.client.get("/api/dead-letters").json()
    assert (letter["integration"], letter["event_id"]) == ("dialer", failed["event_id"])
    assert letter["error"] == failed["error"]
    assert letter["resolved_at"] is None
    assert server.client.get("/api/dead-letters/count").json() == {"count": 1}
    assert server.client.get(f"/api/dead-letters/{letter['id']}").json() == letter
    missing = problem_of(server.client.get("/api/dead-letters/999"), 404)
    assert missing["detail"] == "no dead letter with id 999"
    count = server.client.get("/api/dead-letters/count", params={"integration": "phone"})
    assert count.json() == {"count": 0}
    assert server.client.get("/api/dead-letters", params={"integration": "phone"}).json() == []
    older = server.client.get("/api/dead-letters", params={"before": letter["id"]})
    assert older.json() == []
    problem_of(server.client.get("/api/dead-letters", params={"before": 0}), 400)


def test_retrying_a_dead_letter_after_fixing_its_cause(ws: Workspace) -> None:
    """The integration was removed while its event waited; put back, the event applies."""
    event = {**KIM, "id": "r1", "external_id": "p-7", "properties": {"email": "r@globex.test"}}
    with serve(ws, worker=False) as live:
        post(live, "router", event)
        without = {k: v for k, v in integrations().items() if k != "router"}
        ws.apply_config(workspace_config(without))
        ws.process_inbox()
        [letter] = live.client.get("/api/dead-letters").json()
        assert "integration 'router' is no longer configured" in letter["error"]
        retry_url = f"/api/dead-letters/{letter['id']}/retry"
        assert (
            "unknown integration 'router'" in problem_of(live.client.post(retry_url), 404)["detail"]
        )
        assert live.client.get("/api/dead-letters/count").json() == {"count": 1}

        back = {"name": "router", "settings": integrations()["router"]}
        put = live.client.post("/api/integrations", json=back)
        assert put.status_code == 201, put.text
        bodied = problem_of(live.client.post(retry_url, json={"by": "me"}), 400)
        assert bodied["detail"] == "body: this operation takes no body; allowed: no body, or {}"
        retried = live.client.post(retry_url)
        assert retried.status_code == 200, retried.text
        assert retried.json()["id"] == letter["id"]
        assert retried.json()["integration"] == "router"
        assert "pending again" in retried.json()["resolution"]
        ws.process_inbox()
        assert record_by_external(ws, "p-7", "router")["owner_id"] == "101"
        assert [r["status"] for r in ws.inbox_rows()] == ["applied"]
        assert live.client.get("/api/dead-letters").json() == []
        assert live.client.get("/api/dead-letters/count").json() == {"count": 0}
        [resolved] = live.client.get("/api/dead-letters", params={"include_resolved": True}).json()
        assert resolved["resolution"] == retried.json()["resolution"]
        assert resolved["resolved_at"] is not None

        again = problem_of(live.client.post(retry_url), 409)
        assert "already retried" in again["detail"]
        assert (
            "no dead letter with id 999"
            in problem_of(live.client.post("/api/dead-letters/999/retry"), 404)["detail"]
        )


def test_a_retried_event_that_still_cannot_be_read_is_refused_and_nothing_changes(
    ws: Workspace, server: LiveServer
) -> None:
    post(server, "dialer", UNKNOWN_TYPE)
    wait_applied(ws)
    [letter] = server.client.get("/api/dead-letters").json()
    retry = problem_of(server.client.post(f"/api/dead-letters/{letter['id']}/retry"), 422)
    assert "it still cannot be read" in retry["detail"]
    every = server.client.get("/api/dead-letters", params={"include_resolved": True}).json()
    assert every == [letter]  # still open, no new letter
    assert [r["status"] for r in ws.inbox_rows()] == ["failed"]


def test_retrying_a_body_that_still_cannot_be_read_changes_nothing(
    ws: Workspace, server: LiveServer
) -> None:
    body = b'{"id": '
    response = server.client.post(
        "/webhooks/dialer",
        content=body,
        headers={"content-type": "application/json", **generic_signature(body)},
    )
    assert response.status_code == 400
    [letter] = server.client.get("/api/dead-letters").json()
    assert letter["state"] == "open"
    retry = problem_of(server.client.post(f"/api/dead-letters/{letter['id']}/retry"), 422)
    # Read as the request it was (not as a canonical line: "fields body, headers: not
    # allowed"), and said in plain words, with the way out.
    assert retry["detail"] == (
        f"dead letter {letter['id']} cannot be retried: its body is not valid JSON: "
        "Expecting value (line 1, column 8) (the vendor sent it so); dismiss it with "
        f"POST /api/dead-letters/{letter['id']}/dismiss"
    )  # this API's way out, not the CLI's
    assert server.client.get("/api/dead-letters").json() == [letter]
    assert ws.inbox_rows() == []


def test_a_dismissed_dead_letter_is_kept_and_stops_counting(
    ws: Workspace, server: LiveServer
) -> None:
    body = b"not json"
    signed = {"content-type": "application/json", **generic_signature(body)}
    assert server.client.post("/webhooks/dialer", content=body, headers=signed).status_code == 400
    [letter] = server.client.get("/api/dead-letters").json()
    alerts = [f.check for f in ws.report("2000-01-01T00:00:00.000Z").alerts]
    assert "dead_letters" in alerts
    url = f"/api/dead-letters/{letter['id']}/dismiss"
    problem_of(server.client.post(url, json={"reason": "   "}), 400)
    problem_of(server.client.post(url, json={"reason": "\u001e"}), 400)  # a control character
    dismissed = server.client.post(url, json={"reason": "the vendor's test ping"})
    assert dismissed.status_code == 200, dismissed.text
    got = dismissed.json()
    assert (got["id"], got["state"], got["dismissed_reason"]) == (
        letter["id"],
        "dismissed",
        "the vendor's test ping",
    )
    assert got["resolved_by"] == "admin API (admin token)" and got["resolved_at"] is not None
    assert server.client.get("/api/dead-letters").json() == []
    assert server.client.get("/api/dead-letters/count").json() == {"count": 0}
    kept = server.client.get("/api/dead-letters", params={"include_resolved": True}).json()
    assert kept == [got]
    alerts = [f.check for f in ws.report("2000-01-01T00:00:00.000Z").alerts]
    assert "dead_letters" not in alerts
    assert (
        "was dismissed" in problem_of(server.client.post(url, json={"reason": "x"}), 409)["detail"]
    )
    retry = problem_of(server.client.post(f"/api/dead-letters/{letter['id']}/retry"), 409)
    assert "the vendor's test ping" in retry["detail"]
    problem_of(server.client.post("/api/dead-letters/999/dismiss", json={"reason": "x"}), 404)


# ------------------------------------------------------------------ external users


def test_external_users_with_their_mapping_and_event_counts(
    ws: Workspace, server: LiveServer
) -> None:
    ingest(
        ws,
        KIM,
        CALL,
        {**KIM, "id": "e3", "external_id": "p-2", "properties": {}, "owner": "u-9"},
        {**KIM, "id": "e4", "external_id": "p-3", "properties": {}, "owner": {
            "id": "u-7", "email": "zed@nowhere.test"}},
    )  # fmt: skip
    response = server.client.get("/api/integrations/dialer/users")
    assert response.status_code == 200
    users = {u["id"]: u for u in response.json()}
    assert response.json() == as_json(ws.external_users("dialer"))
    expected = {
        "u-1": ("auto-matched", "101", 2),
        "u-9": ("mapped", "102", 1),
        "u-7": ("unmapped", None, 1),
        "u-3": ("unmapped", None, 0),  # in the directory; its owner is inactive
    }
    assert {k: (u["status"], u["owner_id"], u["events"]) for k, u in users.items()} == expected
    assert users["u-7"]["email"] == "zed@nowhere.test"
    assert users["u-1"]["first_seen_at"] == "2026-11-01T09:00:00.000Z"
    assert users["u-1"]["last_seen_at"] == "2026-11-01T09:10:00.000Z"
    problem_of(server.client.get("/api/integrations/nope/users"), 404)


# ------------------------------------------------------------------ OpenAPI


def test_openapi_document_is_valid_and_complete(server: LiveServer) -> None:
    response = httpx.get(f"{server.base_url}/openapi.json")  # no token needed
    assert response.status_code == 200
    spec = response.json()
    openapi_spec_validator.validate(spec)
    assert spec["openapi"].startswith("3.")

    operations = {
        (method, path)
        for path, item in spec["paths"].items()
        for method in item
        if path.startswith("/api/")
    }
    assert operations == set(ADMIN_OPERATIONS)

    schemes = spec["components"]["securitySchemes"]
    [(scheme_name, scheme)] = schemes.items()
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for method, path in ADMIN_OPERATIONS:
        operation = spec["paths"][path][method]
        assert {scheme_name: []} in operation["security"], (method, path)
        assert "401" in operation["responses"], (method, path)

    webhook = spec["paths"]["/webhooks/{integration}"]["post"]
    for status in ("400", "401", "404", "413", "415", "503"):
        content = webhook["responses"][status]["content"]
        assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}, status
    assert {"application/json", "application/x-ndjson", "text/xml"} <= set(
        webhook["requestBody"]["content"]
    )
    problem = spec["components"]["schemas"]["Problem"]
    assert {"title", "status", "detail"} <= set(problem["required"])
    assert {"/healthz", "/readyz"} <= set(spec["paths"])


def test_docs_page_loads_swagger_ui_from_the_service_itself(server: LiveServer) -> None:
    """/docs works offline: every asset it names is a local URL the service answers."""
    page = httpx.get(f"{server.base_url}/docs")  # no token needed, like /openapi.json
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", page.text), page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
    assert 'url: "/openapi.json"' in page.text
    for url in [*assets, "/openapi.json"]:
        assert url.startswith("/"), url
        answer = httpx.get(f"{server.base_url}{url}")
        assert answer.status_code == 200, url
        assert answer.content, url
    assert httpx.get(f"{server.base_url}/redoc").status_code == 404  # it needs a CDN


def test_every_error_response_is_documented_as_a_problem_only(server: LiveServer) -> None:
    """The server sends errors as application/problem+json only, so the document says so,
    with the Problem schema (not an empty one, and no application/json beside it)."""
    spec = server.client.get("/openapi.json").json()
    problem = {"$ref": "#/components/schemas/Problem"}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    where = f"{method.upper()} {path} {status}"
                    assert response["content"] == {PROBLEM: {"schema": problem}}, where
    readyz = spec["paths"]["/readyz"]["get"]["responses"]
    readiness = {"$ref": "#/components/schemas/Readiness"}
    assert readyz["200"]["content"]["application/json"]["schema"] == readiness
    assert readyz["503"]["content"]["application/json"]["schema"] == readiness
    record = spec["paths"]["/api/records/{record_type}/{record_id}"]["get"]
    [kind] = [p for p in record["parameters"] if p["name"] == "record_type"]
    enum = spec["components"]["schemas"][kind["schema"]["$ref"].rsplit("/", 1)[1]]["enum"]
    assert enum == [t.value for t in RecordType]
    for method, path in ADMIN_OPERATIONS:
        if method in ("post", "put"):  # the body's limit and media type (app.ApiRequests)
            assert {"413", "415"} <= set(spec["paths"][path][method]["responses"]), path


# ------------------------------------------------------------------ request bodies

JSON_HEADERS = {"content-type": "application/json"}
NEW_CHAT = {"name": "chat", "settings": {"kind": "generic"}}


def test_api_bodies_over_the_limit_are_refused_before_they_are_read(ws: Workspace) -> None:
    before = config_to_dict(ws.export_config())
    body = compact({**NEW_CHAT, "pad": "x" * 2000})
    with serve(ws, max_api_body=1000) as live:
        declared = live.client.post("/api/integrations", content=body, headers=JSON_HEADERS)
        problem = problem_of(declared, 413)
        assert problem["detail"] == f"the body has {len(body)} bytes; at most 1000 are accepted"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
            yield from (body[i : i + 100] for i in range(0, len(body), 100))

        chunked = live.client.post("/api/integrations", content=chunks(), headers=JSON_HEADERS)
        assert "more than 1000" in problem_of(chunked, 413)["detail"]
        small = live.client.post("/api/integrations", json=NEW_CHAT)
        assert small.status_code == 201, small.text
    assert config_to_dict(ws.export_config()) != before  # only the small one was taken
    assert sorted(ws.rules().integrations) == sorted([*integrations(), "chat"])


BAD_BODIES = [
    # (method, path, content type, body, status, detail)
    (
        "POST",
        "/api/integrations",
        "application/json",
        b"{bad",
        400,
        "body: not valid JSON at character 1: Expecting property name enclosed in double quotes",
    ),
    (
        "PUT",
        "/api/integrations/dialer/settings",
        "text/plain",
        b'{"kind": "generic"}',
        415,
        "content type 'text/plain' is not accepted; allowed: application/json",
    ),
    (
        "POST",
        "/api/preview",
        None,
        b'{"integration": "dialer", "events": []}',
        415,
        "header Content-Type is missing; allowed: application/json",
    ),
    (
        "POST",
        "/api/integrations",
        "application/json",
        b'{"name": "a", "name": "b", "settings": {"kind": "generic"}}',
        400,
        "body: key 'name' is given more than once; allowed: each key once",
    ),
    (
        "PUT",
        "/api/integrations/dialer/settings",
        "application/json",
        b'{"kind": "generic", "users": {"map": {"u-1": "101", "u-1": "102"}}}',
        400,
        "body.users.map: key 'u-1' is given more than once; allowed: each key once",
    ),
    (
        "POST",
        "/api/preview",
        "application/json; charset=utf-8",
        b'{"integration": "dialer", "events": [{"a": 1, "a": 2}]}',
        400,
        "body.events.0: key 'a' is given more than once",
    ),
    (
        "POST",
        "/api/preview",
        "application/json",
        b'{"integration": "dialer", "events": [], "smaple": 3}',
        400,
        "body.smaple: unknown field; allowed: integration, events, sample, settings",
    ),
    (
        "POST",
        "/api/replay",
        "application/json",
        b'{"integration": "dialer", "settings": {}, "snice": "30d"}',
        400,
        "body.snice: unknown field; allowed: integration, settings, since",
    ),
    (
        "POST",
        "/api/integrations",
        "application/json",
        b'{"name": "n1", "settings": {"kind": "generic"}, "secret": "zzz"}',
        400,
        "body.secret: unknown field; allowed: name, settings",
    ),
    ("PUT", "/api/integrations/dialer/settings", "application/json", b"", 400, "body: empty"),
    (
        "PUT",
        "/api/integrations/dialer/settings",
        "application/json",
        b"[1, 2]",
        400,
        "body: expected a JSON object, got an array",
    ),
    (
        "POST",
        "/api/preview",
        "application/json",
        b'{"integration": "nope", "events": []}',
        400,
        "body.integration: unknown integration 'nope'; configured integrations: crm, dialer",
    ),
    (
        "POST",
        "/api/integrations",
        "application/json",
        b'{"name": "\xff"}',
        400,
        "body: not valid JSON: not UTF-8 text at byte 10",
    ),
    # Numbers JSON has not, or Python cannot read: said so, with the place (FastAPI said
    # "There was an error parsing the body", or took them as infinity).
    (
        "POST",
        "/api/integrations",
        "application/json",
        b'{"name": "q", "settings": {"kind": "generic", "ownership": '
        b'{"protect_manual_days": ' + b"9" * 5000 + b"}}}",
        400,
        "body: not valid JSON: the number 99999999999999999999... has 5000 digits; allowed: "
        "integers of at most 4300 digits (line 1, column 84)",
    ),
    (
        "POST",
        "/api/integrations",
        "application/json",
        b'{"name": "q", "settings": {"kind": "generic", "ownership": '
        b'{"protect_manual_days": 1e400}}}',
        400,
        "body: not valid JSON: the number 1e400 is out of range; allowed: numbers of magnitude",
    ),
    (
        "POST",
        "/api/preview",
        "application/json",
        b'{"integration": "dialer", "events": [{"duration_s": NaN}]}',
        400,
        "body: not valid JSON: NaN is not allowed; allowed: numbers",
    ),
    (  # a byte order mark before it (FastAPI reads past it): checked all the same
        "POST",
        "/api/preview",
        "application/json",
        b'\xef\xbb\xbf{"integration": "dialer", "events": [{"duration_s": NaN}]}',
        400,
        "body: not valid JSON: NaN is not allowed; allowed: numbers",
    ),
    # A patch document would be read as whole settings, the rest of them lost.
    (
        "PUT",
        "/api/integrations/dialer/settings",
        "application/merge-patch+json",
        b'{"kind": "generic"}',
        415,
        "content type 'application/merge-patch+json' is not accepted; allowed: application/json "
        "with the whole document (no patch is taken)",
    ),
    (
        "POST",
        "/api/dead-letters/1/dismiss",
        "application/json",
        b'{"reason": "   "}',
        400,
        "body.reason: needs some text, not only blanks or control characters",
    ),
]


def test_api_bodies_that_are_not_one_json_document_say_what_and_where(
    ws: Workspace, server: LiveServer, subtests: pytest.Subtests
) -> None:
    before = config_to_dict(ws.export_config())
    for method, path, content_type, body, status, detail in BAD_BODIES:
        with subtests.test(path=path, body=body):
            headers = {} if content_type is None else {"content-type": content_type}
            response = server.client.request(method, path, content=body, headers=headers)
            assert detail in problem_of(response, status)["detail"]
    assert config_to_dict(ws.export_config()) == before


def test_api_bodies_are_read_to_the_depth_limit_and_refused_one_level_past_it(
    ws: Workspace, server: LiveServer
) -> None:
    """The webhooks' limit (docs/WEBHOOKS.md): 128 levels of arrays and objects. A body at
    the limit is read, and its settings checked; one level more is refused before."""

    def settings_nested(levels: int) -> bytes:
        # The body and ``users`` are two levels; ``map`` holds the rest.
        value: Any = {}
        for _ in range(levels - 2):
            value = {"u-1": value}
        return json.dumps({"kind": "generic", "users": {"map": value["u-1"]}}).encode()

    path = "/api/integrations/dialer/settings"
    before = config_to_dict(ws.export_config())
    read = server.client.put(path, content=settings_nested(MAX_DEPTH), headers=JSON_HEADERS)
    assert "users.map.u-1" in problem_of(read, 422)["detail"]  # read: an owner id is a string
    past = server.client.put(path, content=settings_nested(MAX_DEPTH + 1), headers=JSON_HEADERS)
    assert problem_of(past, 400)["detail"] == (
        "body: not valid JSON: nested deeper than 128 levels; allowed: at most 128 levels of "
        "arrays and objects"
    )
    assert config_to_dict(ws.export_config()) == before


def test_report_since_takes_every_form_since_takes_elsewhere(
    server: LiveServer, subtests: pytest.Subtests
) -> None:
    for since, start in [
        ("2026-11-01", "2026-11-01T00:00:00.000Z"),
        ("2026-11-01T09:30:00", "2026-11-01T09:30:00.000Z"),
        ("2026-11-01T09:30:00+01:00", "2026-11-01T08:30:00.000Z"),
    ]:
        with subtests.test(since=since):
            report = server.client.get("/api/report", params={"since": since})
            assert report.status_code == 200, report.text
            assert report.json()["since"] == start
    assert server.client.get("/api/report", params={"since": "30d"}).status_code == 200
    refused = problem_of(server.client.get("/api/report", params={"since": "yesterday"}), 400)
    assert refused["detail"].startswith("since 'yesterday': expected a duration (30d, 12h, 90m)")
    spec = server.client.get("/openapi.json").json()
    [param] = spec["paths"]["/api/report"]["get"]["parameters"]
    assert "pattern" not in param["schema"]
    replay = spec["components"]["schemas"]["ReplayRequest"]["properties"]["since"]
    assert param["description"] == replay["description"]  # described once, the same


def test_api_paths_take_a_trailing_slash_like_none(server: LiveServer) -> None:
    listed = server.client.get("/api/integrations/")
    assert listed.status_code == 200, listed.text  # never a bare 307
    assert listed.json() == server.client.get("/api/integrations").json()
    assert problem_of(server.client.get("/api/nothing/"), 404)


def test_choosing_a_record_that_does_not_exist_is_a_bad_answer(
    ws: Workspace, server: LiveServer
) -> None:
    """Not 404: the question exists; the answer names no record (like a record of another
    type, a 400)."""
    queue_questions(ws)
    answer = server.client.post("/api/review/1/resolve", json={"choose": "99999"})
    assert problem_of(answer, 400)["detail"] == (
        "record 99999 does not exist; allowed: the id of a contact or lead"
    )
    for beyond in ("9223372036854775808", 10**30):  # past what the database holds
        answer = server.client.post("/api/review/1/resolve", json={"choose": beyond})
        assert problem_of(answer, 400)["detail"] == (
            f"record {beyond} does not exist; allowed: the id of a contact or lead"
        )
    answer = server.client.post("/api/review/1/resolve", json={"choose": "-1"})
    assert problem_of(answer, 400)["detail"] == (
        "choice '-1' is not a record id; allowed: a whole number written in digits, like 42"
    )
    assert ws.review_item(1).status == "open"
    unknown = server.client.post("/api/review/77/resolve", json={"choose": "99999"})
    assert problem_of(unknown, 404)["detail"] == "review item 77 does not exist"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the same page on both
def test_docs_page_renders_the_document_in_chromium(server: LiveServer, browser: Any) -> None:
    """Swagger UI draws the service's OpenAPI 3.1 document: its operations, nothing refused
    (Swagger UI 4 answered "Unable to render this definition"), no request off the machine."""
    page = browser.new_page()
    outside: list[str] = []
    page.on(
        "request", lambda r: None if r.url.startswith(server.base_url) else outside.append(r.url)
    )
    page.goto(f"{server.base_url}/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=15_000)
    text = page.inner_text("body")
    paths = [
        p.replace("\u200b", "") for p in page.locator(".opblock-summary-path").all_inner_texts()
    ]
    page.close()
    assert "Unable to render" not in text
    assert "/api/inbox" in paths and "/webhooks/{integration}" in paths
    assert outside == []


def test_a_refused_value_is_shown_unless_its_field_is_named_like_a_secret() -> None:
    from leadsync.api.problems import _where

    typed = {"type": "int_parsing", "msg": "Input should be a valid integer"}
    assert _where({**typed, "loc": ("query", "limit"), "input": "ten"}).endswith("; got 'ten'")
    for name in ("token", "admin_token", "password", "api_key"):
        said = _where({**typed, "loc": ("body", name), "input": "pat-na1-0123456789"})
        assert "pat-na1" not in said and said == f"body.{name}: Input should be a valid integer"


def test_who_dismissed_is_one_line_and_said_as_through_the_api(
    ws: Workspace, server: LiveServer
) -> None:
    """`by` names a person on whose behalf the admin token is used, on one line: a newline
    made a listing's row two lines, blanks were recorded as "unknown", and a name was
    recorded as if it had authenticated."""
    for n in range(3):
        body = f"not json {n}".encode()
        signed = {"content-type": "application/json", **generic_signature(body)}
        server.client.post("/webhooks/dialer", content=body, headers=signed)
    letters = sorted(letter["id"] for letter in server.client.get("/api/dead-letters").json())
    assert len(letters) == 3
    url = "/api/dead-letters/{}/dismiss"
    refused = problem_of(
        server.client.post(url.format(letters[0]), json={"reason": "r", "by": "a\nb"}), 400
    )
    assert "body.by" in refused["detail"] and "no control characters" in refused["detail"]
    named = server.client.post(url.format(letters[0]), json={"reason": "r", "by": " Ana Ng "})
    assert named.json()["resolved_by"] == "Ana Ng via admin API (admin token)"
    blank = server.client.post(url.format(letters[1]), json={"reason": "r", "by": "   "})
    assert blank.json()["resolved_by"] == "admin API (admin token)"
