"""The review queue's faces: ``leadsync review list|show|resolve`` (text and --json, the
errors), the admin API's ``/api/review`` endpoints (and their OpenAPI schemas), and the
console's ``/review`` page — over plain HTTP on SQLite and PostgreSQL, then in Chromium: pick
the second candidate, resolve, and find the call on that contact's page; a viewer cannot."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import leadsync.cli.review  # noqa: F401  (attaches `leadsync review` to the app)
from leadsync.cli import app
from leadsync.ops.review import STATUSES
from leadsync.rules.counterparts import KINDS
from leadsync.store import counterparts as counterpart_store
from leadsync.workspace import Workspace
from tests.browser import (
    PASSWORD,
    VIEWER_TOKEN,
    WIDE,
    chromium,
    console_server,
    form_token,
    sign_in,
    signed_in,
)
from tests.live import LiveServer, configure, serve

PROBLEM = "application/problem+json"
#: Where answering question 1 with a contact leads (the chosen record's type named).
RESOLVED_CONTACT = "/review/1?done=resolved&record=contact"

# Two contacts with one number (+44 20 7946 0000, written two ways), a company, and calls.
K1 = {"email": "k1@x.test", "firstname": "Kim", "phone": "+44 20 7946 0000"}
K2 = {"email": "k2@x.test", "firstname": "Kay", "mobilephone": "+442079460000"}
SHARED_CALL = {
    "duration_s": 60,
    "outcome": "connected",
    "direction": "inbound",
    "from_number": "+442079460000",
    "to_number": "+441130000000",
}
UNKNOWN_CALL = {**SHARED_CALL, "from_number": "+442079461111"}


def record(n: int, kind: str, external_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"r{n}",
        "occurred_at": "2026-11-01T08:00:00Z",
        "type": "record",
        "object": kind,
        "external_id": external_id,
        "properties": properties,
    }


def call(n: int, external_id: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"r{n}",
        "occurred_at": "2026-11-01T10:00:00Z",
        "type": "activity",
        "activity": "call",
        "external_id": external_id,
        "owner": "u-1",
        "properties": properties,
    }


def queue_questions(ws: Workspace) -> dict[str, int]:
    """Question 1 (kind number: contacts k1 and k2 share the call's number) and question 2
    (kind unknown: a call whose number nobody got within the hold); the record ids by name."""
    events = [
        record(1, "contact", "k1", K1),
        record(2, "contact", "k2", K2),
        record(3, "company", "a1", {"name": "Globex", "domain": "globex.test"}),
        record(4, "contact", "k3", {"email": "k3@x.test"}),
        call(5, "c1", SHARED_CALL),
        call(6, "c2", UNKNOWN_CALL),
    ]
    summary = ws.ingest("dialer", [json.dumps(e) for e in events])
    assert summary.ok, summary.to_dict()
    assert ws.expire_holds(now="2026-12-01T00:00:00Z") == 1
    assert [i.kind for i in ws.review_items().items] == ["number", "unknown"]
    return {name: ws.find(external=f"dialer:{name}")[0]["id"] for name in ("k1", "k2", "k3", "a1")}


def on_record(ws: Workspace, record_id: int, external_id: str) -> list[dict[str, Any]]:
    """The associations of the activity ``external_id`` on the record's timeline."""
    timeline = ws.record("contact", record_id)["timeline"]
    return [link for a in timeline if a["external_id"] == external_id for link in a["associations"]]


@pytest.fixture
def ids(ws: Workspace) -> dict[str, int]:
    return queue_questions(ws)


# ------------------------------------------------------------------------ the command line


class Cli:
    def __init__(self, db_url: str) -> None:
        self.db_url, self.runner = db_url, CliRunner()

    def __call__(self, *args: str) -> Any:
        return self.runner.invoke(app, ["--db", self.db_url, "review", *args])

    def json(self, *args: str) -> Any:
        result = self(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def cli(db_url: str) -> Cli:
    return Cli(db_url)


def test_cli_lists_shows_and_resolves_a_question(
    ws: Workspace, ids: dict[str, int], cli: Cli
) -> None:
    listed = cli.json("list")
    assert listed["open"] == 2 and listed["next_after"] is None
    first, second = listed["items"]
    assert (first["kind"], first["subject"], second["kind"]) == (
        "number",
        "+442079460000",
        "unknown",
    )
    assert [c["record_id"] for c in first["candidates"]] == [ids["k1"], ids["k2"]]
    assert second["candidates"] == []

    text = cli("list", "--limit", "1")
    assert text.exit_code == 0
    assert "2 open in the queue; next page: --after 1" in text.stdout
    assert "number" in text.stdout and "unknown" not in text.stdout
    assert [i["id"] for i in cli.json("list", "--after", "1")["items"]] == [2]
    assert [i["id"] for i in cli.json("list", "--kind", "unknown")["items"]] == [2]
    # A filtered list's figure is the whole queue's, and says so (it read as the filter's).
    filtered = cli("list", "--kind", "unknown").stdout
    assert "2 open in the queue (of every integration and kind, not only those listed)" in (
        filtered
    )
    assert cli.json("list", "--integration", "router")["items"] == []

    ws.set_owner("contact", ids["k1"], "101")  # Kim is Ana's; Kay is nobody's
    shown = cli("show", "1")
    assert shown.exit_code == 0, shown.stderr
    assert "question: 2 contacts have +442079460000: which one was on this call?" in shown.stdout
    # Each record candidate with its owner now: a clue for who answers.
    assert (
        f"contact {ids['k1']} Kim (owner 101 Ana Ng): contact {ids['k1']} has +442079460000 as "
        "phone" in shown.stdout
    )
    assert (
        f"contact {ids['k2']} Kay (owner -): contact {ids['k2']} has +442079460000 as "
        "mobilephone" in shown.stdout
    )
    detail = cli.json("show", "1")
    assert [c["owner_id"] for c in detail["candidates"]] == ["101", None]
    assert "activity: call " in shown.stdout and "owner 101 Ana Ng" in shown.stdout
    assert "from +442079460000" in shown.stdout
    assert detail["activity"]["external_id"] == "c1" and detail["status"] == "open"

    resolved = cli("resolve", "1", "--choose", str(ids["k2"]))
    assert resolved.exit_code == 0, resolved.stderr
    assert resolved.stdout.startswith("review item 1 resolved:\n")
    assert f"attached to contact {ids['k2']} (resolved by a person in review item 1: cli: " in (
        resolved.stdout
    )
    assert [link["source"] for link in on_record(ws, ids["k2"], "c1")] == ["person"]
    assert on_record(ws, ids["k1"], "c1") == []

    after = cli.json("show", "1")
    assert (after["status"], after["choice"]) == ("resolved", str(ids["k2"]))
    assert after["closed_by"].startswith("cli: ")
    assert "resolved by a person" in after["outcome"]
    closed = cli("show", "1")
    assert "resolved by cli: " in closed.stdout and f"chose {ids['k2']}" in closed.stdout
    assert [i["id"] for i in cli.json("list", "--status", "resolved")["items"]] == [1]
    every = cli("list", "--status", "all")
    assert every.exit_code == 0 and "status" in every.stdout  # a column of its own
    assert "resolv" in every.stdout  # (folded in the runner's 80 columns)
    assert "1 open in the queue" in every.stdout


def test_cli_skip_and_json_resolution(ws: Workspace, ids: dict[str, int], cli: Cli) -> None:
    answer = cli.json("resolve", "2", "--skip")
    assert answer["item"]["status"] == "skipped"
    assert answer["applied"] == [answer["item"]["outcome"]]
    assert "left without a record" in answer["applied"][0]
    # A record not among the candidates may be chosen; the decision says so.
    chosen = cli.json("resolve", "1", "--choose", str(ids["k3"]))
    assert "not one of the candidates" in chosen["item"]["outcome"]
    assert [link["source"] for link in on_record(ws, ids["k3"], "c1")] == ["person"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "99"), "review item 99 does not exist"),
        (("resolve", "99", "--skip"), "review item 99 does not exist"),
        (("resolve", "1", "--choose", "K2", "--skip"), "exactly one of --choose RECORD or --skip"),
        (("resolve", "1"), "exactly one of --choose RECORD or --skip"),
        (("resolve", "1", "--choose", "COMPANY"), "is a company; review item 1 asks for a contact"),
        (("resolve", "1", "--choose", "nine"), "choice 'nine' is not a record id"),
        # read by int() as another number (1_0 as record 10): digits only
        (("resolve", "1", "--choose", "1_0"), "choice '1_0' is not a record id; allowed: a"),
        (("resolve", "1", "--choose", "+1"), "choice '+1' is not a record id"),
        (("resolve", "1", "--choose", "١"), "is not a record id"),
        (("resolve", "1", "--choose", "9999"), "record 9999 does not exist"),
        (("list", "--status", "done"), "allowed: open, resolved, skipped, attached, all"),
        (("list", "--kind", "phone"), "kind 'phone' is not allowed; allowed: number, email"),
    ],
)
def test_cli_errors_exit_2_naming_the_input_and_change_nothing(
    ws: Workspace, ids: dict[str, int], cli: Cli, args: tuple[str, ...], message: str
) -> None:
    names = {"K2": str(ids["k2"]), "COMPANY": str(ids["a1"])}
    result = cli(*(names.get(a, a) for a in args))
    assert result.exit_code == 2, result.stdout
    assert message in result.stderr.replace("\n", " "), result.stderr
    assert result.stderr.startswith("error: ")
    assert [i.status for i in ws.review_items(status=None).items] == ["open", "open"]
    assert on_record(ws, ids["k2"], "c1") == []


def test_cli_refuses_a_closed_question(ws: Workspace, ids: dict[str, int], cli: Cli) -> None:
    assert cli("resolve", "1", "--skip").exit_code == 0
    again = cli("resolve", "1", "--choose", str(ids["k1"]))
    assert again.exit_code == 2
    assert "review item 1 is skipped already (by cli: " in again.stderr
    assert on_record(ws, ids["k1"], "c1") == []


def ask_owner(ws: Workspace) -> int:
    """A rep's question as the engine asks it when owners pulled from the CRM share the rep's
    email (the workspace file's owners cannot): queued directly, its id returned."""
    question = {
        "key": "owner:dialer:u-77",
        "kind": "owner",
        "integration": "dialer",
        "activity_id": None,
        "event_id": "r9",
        "subject": "u-77",
        "question": "ana@acme.test is the email of 2 active owners: which owner is rep u-77?",
        "candidates": [
            {"owner_id": o, "name": n, "why": f"owner {o} is active with that email"}
            for o, n in (("101", "Ana Ng"), ("104", "Di Ro"))
        ],
        "created_at": "2026-11-01T09:00:00.000Z",
        "status": "open",
        "closed_at": None,
        "closed_by": None,
        "choice": None,
        "outcome": None,
    }
    with ws.engine.begin() as connection:
        counterpart_store.queue(connection, [question])
    return ws.review_items(kind="owner").items[0].id


def test_a_reps_question_names_owners_and_its_answer_maps_the_rep(
    ws: Workspace, ids: dict[str, int], cli: Cli
) -> None:
    item_id = ask_owner(ws)
    shown = cli("show", str(item_id))
    assert "  owner 101 Ana Ng: owner 101 is active with that email" in shown.stdout
    assert "  owner 104 Di Ro: owner 104 is active with that email" in shown.stdout
    refused = cli("resolve", str(item_id), "--choose", "103")  # archived
    assert refused.exit_code == 2 and "choice '103' is not an active owner" in refused.stderr
    answer = cli("resolve", str(item_id), "--choose", "104")
    assert answer.exit_code == 0, answer.stderr
    assert "dialer: rep u-77 now maps to owner 104 (Di Ro)" in answer.stdout
    assert ws.integration("dialer").users.map["u-77"] == "104"
    [change] = ws.audit_log().entries[:1]
    assert change.who.startswith("cli: ") and change.integration == "dialer"
    closed = ws.review_item(item_id)
    assert closed.choice == "104" and "(not one of the candidates)" not in (closed.outcome or "")


def test_a_reps_question_answered_with_an_owner_not_among_its_candidates_says_so(
    ws: Workspace, ids: dict[str, int], cli: Cli
) -> None:
    item_id = ask_owner(ws)
    assert cli("resolve", str(item_id), "--choose", "102").exit_code == 0  # active, not asked
    closed = ws.review_item(item_id)
    assert closed.choice == "102"
    assert (closed.outcome or "").startswith(
        f"resolved by a person in review item {item_id} (not one of the candidates): cli: "
    )


# ------------------------------------------------------------------------ the admin API


@pytest.fixture
def server(ws: Workspace, ids: dict[str, int]) -> Iterator[LiveServer]:
    with serve(ws) as live:
        yield live


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


def test_api_lists_and_shows_questions(
    ws: Workspace, ids: dict[str, int], server: LiveServer
) -> None:
    client = server.client
    page = client.get("/api/review")
    assert page.status_code == 200, page.text
    assert page.json() == json.loads(ws.review_items().model_dump_json())
    assert [i["id"] for i in client.get("/api/review", params={"limit": 1}).json()["items"]] == [1]
    assert client.get("/api/review", params={"limit": 1}).json()["next_after"] == 1
    assert [i["id"] for i in client.get("/api/review", params={"after": 1}).json()["items"]] == [2]
    assert [i["id"] for i in client.get("/api/review", params={"kind": "unknown"}).json()["items"]] == [2]  # fmt: skip
    assert client.get("/api/review", params={"status": "resolved"}).json()["items"] == []
    assert len(client.get("/api/review", params={"status": "all"}).json()["items"]) == 2
    problem = problem_of(client.get("/api/review", params={"status": "done"}), 400)
    assert "status" in problem["detail"]

    item = client.get("/api/review/1").json()
    assert item["activity"]["external_id"] == "c1"
    assert [c["why"] for c in item["candidates"]] == [
        f"contact {ids['k1']} has +442079460000 as phone",
        f"contact {ids['k2']} has +442079460000 as mobilephone",
    ]
    assert (
        "review item 77 does not exist" in problem_of(client.get("/api/review/77"), 404)["detail"]
    )
    anonymous = httpx.get(f"{server.base_url}/api/review")
    assert problem_of(anonymous, 401)["title"] == "Unauthorized"


def test_api_resolves_a_question_through_the_engine(
    ws: Workspace, ids: dict[str, int], server: LiveServer
) -> None:
    client = server.client
    resolve = "/api/review/{}/resolve".format
    both = client.post(resolve(1), json={"choose": str(ids["k2"]), "skip": True})
    assert problem_of(both, 400)["detail"].startswith(
        'body: give choose or skip, not both: the answer is {"choose": "41"}'
    )
    problem_of(client.post(resolve(1), json={}), 400)
    problem_of(client.post(resolve(1), json={"skip": False}), 400)
    wrong = problem_of(client.post(resolve(1), json={"choose": str(ids["a1"])}), 400)
    assert (
        f"record {ids['a1']} is a company; review item 1 asks for a contact or lead"
        == (wrong["detail"])
    )
    assert problem_of(client.post(resolve(99), json={"skip": True}), 404)["detail"] == (
        "review item 99 does not exist"
    )
    assert on_record(ws, ids["k2"], "c1") == []

    answer = client.post(resolve(1), json={"choose": str(ids["k2"])})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["item"]["status"] == "resolved"
    assert body["item"]["closed_by"] == "admin API (admin token)"
    assert body["applied"][0].endswith(
        f"attached to contact {ids['k2']} (resolved by a person in review item 1: "
        "admin API (admin token) (admin))"
    )
    assert [link["source"] for link in on_record(ws, ids["k2"], "c1")] == ["person"]
    again = problem_of(client.post(resolve(1), json={"skip": True}), 409)
    assert again["detail"].startswith("review item 1 is resolved already")

    skipped = client.post(resolve(2), json={"skip": True}).json()
    assert skipped["item"]["status"] == "skipped"
    assert client.get("/api/review").json()["open"] == 0


def test_openapi_documents_the_review_endpoints(server: LiveServer) -> None:
    spec = server.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"ReviewPage", "ReviewItem", "ReviewCandidate", "Resolution"} <= set(schemas)
    listing = spec["paths"]["/api/review"]["get"]
    params = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert params["status"]["enum"] == [*STATUSES, "all"]
    kind = params["kind"].get("anyOf", [params["kind"]])[0]
    assert kind["enum"] == list(KINDS)
    ok = listing["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ReviewPage"}
    answer = spec["paths"]["/api/review/{item_id}/resolve"]["post"]
    assert {"400", "401", "404", "409"} <= set(answer["responses"])
    body = answer["requestBody"]["content"]["application/json"]["schema"]
    assert len(body["anyOf"]) == 2  # {"choose": ...} or {"skip": true}


# ------------------------------------------------------------------------ the console


@pytest.fixture
def console(ws: Workspace, ids: dict[str, int]) -> Iterator[LiveServer]:
    with console_server(ws) as live:
        yield live


def test_console_lists_questions_and_resolves_with_the_session_token(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    client = signed_in(console.client, PASSWORD)
    listing = client.get("/review")
    assert listing.status_code == 200
    html = listing.text
    assert "2 open</span> in the queue" in html
    assert f'name="choice" value="{ids["k2"]}"' in html
    assert f'href="/records/contact/{ids["k2"]}"' in html
    assert f"contact {ids['k2']} Kay — contact {ids['k2']} has +442079460000 as mobilephone" in (
        html
    )
    assert 'aria-current="page"' in html and 'href="/review"' in html
    only_unknown = client.get("/review", params={"kind": "unknown"}).text
    assert 'data-item="2"' in only_unknown and 'data-item="1"' not in only_unknown
    first = client.get("/review", params={"status": "all"}).text
    assert 'data-item="1"' in first
    assert client.get("/review", params={"status": "done"}).status_code == 400

    token = form_token(html, "/review/1/resolve")
    missing = client.post("/review/1/resolve", data={"choice": str(ids["k2"])})
    assert missing.status_code == 403
    neither = client.post("/review/1/resolve", data={"csrf_token": token}, follow_redirects=True)
    assert neither.status_code == 200 and "Pick a candidate" in neither.text
    two = {"csrf_token": token, "choice": str(ids["k1"]), "other": str(ids["k2"])}
    both = client.post("/review/1/resolve", data=two, follow_redirects=True)
    assert "not both" in both.text
    wrong = client.post(
        "/review/1/resolve",
        data={"csrf_token": token, "other": str(ids["a1"])},
        follow_redirects=True,
    )
    assert str(wrong.url).endswith("/review/1?done=refused") and "is a company" in wrong.text
    assert on_record(ws, ids["k2"], "c1") == []

    posted = client.post("/review/1/resolve", data={"csrf_token": token, "choice": str(ids["k2"])})
    assert (posted.status_code, posted.headers["location"]) == (303, RESOLVED_CONTACT)
    done = client.get(posted.headers["location"])
    assert done.status_code == 200, done.text
    assert f"attached to contact {ids['k2']}" in done.text
    item = ws.review_item(1)
    assert item.status == "resolved" and item.closed_by.startswith("console (password)")
    assert [link["source"] for link in on_record(ws, ids["k2"], "c1")] == ["person"]
    again = client.post("/review/1/skip", data={"csrf_token": token})
    # Answered already: the question's page says so, post/redirect/get.
    assert (again.status_code, again.headers["location"]) == (303, "/review/1?done=refused")
    shown = client.get(again.headers["location"])
    assert "Not applied" in shown.text and "is resolved already" in shown.text
    # Another tab answers it again: said so at the top, not a silent page.
    late = {"csrf_token": token, "choice": str(ids["k1"])}
    stale = client.post("/review/1/resolve", data=late, follow_redirects=True)
    assert stale.status_code == 200 and '<h2 id="refused-title">Not applied</h2>' in stale.text
    assert "is resolved already" in stale.text
    skipped = client.post("/review/2/skip", data={"csrf_token": token}, follow_redirects=True)
    assert skipped.status_code == 200 and "left without a record" in skipped.text
    assert str(skipped.url).endswith("/review/2?done=skipped")
    assert "No open questions." in client.get("/review").text


def test_console_offers_a_reps_question_as_owners(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    item_id = ask_owner(ws)
    client = signed_in(console.client, PASSWORD)
    html = client.get(f"/review/{item_id}").text
    assert "Which owner?" in html and "Another owner&#39;s id" in html
    assert 'name="choice" value="104"' in html
    assert "owner 104 Di Ro — owner 104 is active with that email" in html
    token = form_token(html, f"/review/{item_id}/resolve")
    done = client.post(
        f"/review/{item_id}/resolve",
        data={"csrf_token": token, "choice": "104"},
        follow_redirects=True,
    )
    assert done.status_code == 200, done.text
    assert "dialer: rep u-77 now maps to owner 104 (Di Ro)" in done.text
    assert ws.integration("dialer").users.map["u-77"] == "104"
    assert ws.audit_log().entries[0].who.startswith("console (password) · session ")


def test_console_viewer_sees_the_queue_but_cannot_resolve(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    viewer = signed_in(console.client, VIEWER_TOKEN)
    html = viewer.get("/review").text
    assert "Read-only: you are signed in as a viewer." in html
    assert re.search(r'<button type="submit" class="button primary" disabled[^>]*>Resolve', html)
    token = form_token(html, "/review/1/resolve")
    for path, data in (
        ("/review/1/resolve", {"choice": str(ids["k2"])}),
        ("/review/2/skip", {}),
    ):
        assert viewer.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert [i.status for i in ws.review_items().items] == ["open", "open"]


# ------------------------------------------------------------------------ in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE)
    yield context.new_page()
    context.close()


@pytest.fixture
def queued(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[Workspace, dict[str, int]]]:
    """The questions in a SQLite workspace (the browser's; the HTTP tests above run both)."""
    path = tmp_path / "review.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as workspace:
        configure(workspace)
        yield workspace, queue_questions(workspace)


@pytest.fixture
def live(queued: tuple[Workspace, dict[str, int]]) -> Iterator[LiveServer]:
    with console_server(queued[0]) as server:
        yield server


def test_a_person_picks_the_second_candidate_and_the_call_is_on_that_contact(
    queued: tuple[Workspace, dict[str, int]], live: LiveServer, page: Any
) -> None:
    ws, ids = queued
    sign_in(page, live, PASSWORD, "/review")
    question = page.locator('[data-item="1"]')
    assert "2 contacts have +442079460000" in question.get_by_role("heading").inner_text()
    choice = question.get_by_label(re.compile(rf"^contact {ids['k2']} Kay — "))
    choice.focus()
    page.keyboard.press("Space")  # usable from the keyboard
    assert choice.is_checked()
    question.get_by_role("button", name="Resolve").click()
    page.wait_for_url(f"{live.base_url}{RESOLVED_CONTACT}")
    applied = page.locator("section.applied")
    activity_id = ws.review_item(1).activity_id
    assert f"call {activity_id} attached to contact {ids['k2']}" in applied.inner_text()
    applied.get_by_role("link", name=f"Open contact {ids['k2']}").click()
    page.wait_for_url(f"{live.base_url}/records/contact/{ids['k2']}")
    row = page.locator("table.timeline tbody tr")
    assert row.count() == 1
    assert "call" in row.inner_text() and "c1" in row.inner_text()
    assert "resolved by a person in review item 1" in row.locator(".associations").inner_text()
    page.goto(f"{live.base_url}/review")
    assert page.locator('[data-item="1"]').count() == 0
    assert page.locator(".open-count").inner_text() == "1 open"


def test_the_viewer_sees_the_question_with_its_controls_disabled(
    queued: tuple[Workspace, dict[str, int]], live: LiveServer, page: Any
) -> None:
    ws, ids = queued
    sign_in(page, live, VIEWER_TOKEN, "/review/1")
    assert page.get_by_label(re.compile(rf"^contact {ids['k2']} Kay — ")).is_disabled()
    assert page.get_by_label("Another record's id").is_disabled()
    assert page.get_by_role("button", name="Resolve").is_disabled()
    assert page.get_by_role("button", name="Skip").is_disabled()
    assert "call" in page.locator("dl.activity").inner_text()
    assert ws.review_item(1).status == "open"


def test_console_wrong_answer_shows_the_question_again_with_the_error_and_the_input(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    client = signed_in(console.client, PASSWORD)
    token = form_token(client.get("/review/1").text, "/review/1/resolve")
    for typed, says in (
        ("abc", "is not a record id"),
        ("999999", "does not exist"),
        (str(ids["a1"]), "is a company"),
    ):
        wrong = client.post("/review/1/resolve", data={"csrf_token": token, "other": typed})
        assert (wrong.status_code, wrong.headers["location"]) == (303, "/review/1?done=refused")
        html = client.get(wrong.headers["location"]).text
        assert "Bad request" not in html and "Question #1" in html  # the question, not a bare page
        assert says in html and 'id="review-1-error"' in html
        assert (
            f'name="other" type="text" maxlength="200" autocomplete="off" value="{typed}"' in html
        )
        assert 'aria-invalid="true"' in html
        assert form_token(html, "/review/1/resolve") == token
    nothing = client.post("/review/1/resolve", data={"csrf_token": token}, follow_redirects=True)
    assert nothing.status_code == 200 and "Question #1" in nothing.text
    assert "Pick a candidate" in nothing.text
    assert ws.review_item(1).status == "open"


def test_console_answer_redirects_so_a_reload_does_not_post_again(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    client = signed_in(console.client, PASSWORD)
    token = form_token(client.get("/review/1").text, "/review/1/resolve")
    posted = client.post("/review/1/resolve", data={"csrf_token": token, "choice": str(ids["k2"])})
    assert (posted.status_code, posted.headers["location"]) == (303, RESOLVED_CONTACT)
    first = client.get(RESOLVED_CONTACT)
    assert f"attached to contact {ids['k2']}" in first.text and "section" in first.text
    reload = client.get("/review/1?done=resolved")  # shown once; the outcome stays
    assert reload.status_code == 200 and "what was applied" in reload.text
    assert "resolved by a person in review item 1" in reload.text
    assert client.get("/review/1?done=maybe").status_code == 400
