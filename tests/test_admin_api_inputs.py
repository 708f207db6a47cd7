"""The admin API's path and query values, over real HTTP on both databases: an integer is
written in digits or refused (``1_0`` was record 10), within what the databases hold (a
huge ``limit`` was a 500), given once; no text of a path, a query or a settings body holds
a NUL (PostgreSQL answered 500 where SQLite stored it); ``Authorization`` is given once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from leadsync.workspace import Workspace
from tests.helpers import KIM_CONTACT
from tests.live import ADMIN_TOKEN, LiveServer, generic_signature, serve
from tests.test_admin_api import problem_of


@pytest.fixture
def server(ws: Workspace) -> Iterator[LiveServer]:
    summary = ws.ingest("dialer", [json.dumps(KIM_CONTACT)])
    assert summary.ok, summary.to_dict()
    with serve(ws) as live:
        yield live


@pytest.mark.parametrize("written", ["1_0", "1.0", "+1", "%201", "1e1", "١"])
def test_an_id_or_a_limit_not_in_digits_is_refused(server: LiveServer, written: str) -> None:
    for url in (f"/api/records/contact/{written}", f"/api/inbox?limit={written}"):
        body = problem_of(server.client.get(url), 400)
        assert "must be a whole number written in digits, like 42" in body["detail"], url


def test_digits_are_still_taken(server: LiveServer) -> None:
    assert server.client.get("/api/records/contact/1").json()["id"] == 1
    assert len(server.client.get("/api/inbox?limit=1").json()) == 1


@pytest.mark.parametrize(
    "url",
    [
        "/api/records/contact/1?limit=99999999999999999999999",
        "/api/lookup/email/kim@globex.test?limit=9223372036854775808",
        "/api/dead-letters?before=9223372036854775808",
    ],
)
def test_an_integer_beyond_what_the_database_holds_is_refused(server: LiveServer, url: str) -> None:
    body = problem_of(server.client.get(url), 400)
    assert "9223372036854775807" in body["detail"]


def test_a_huge_limit_within_range_answers_everything(server: LiveServer) -> None:
    found = server.client.get("/api/records/contact/1?limit=9223372036854775807")
    assert found.status_code == 200 and found.json()["id"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "/api/lookup/external/dialer/p%00-1",
        "/api/lookup/email/a%00b@x.test",
        "/api/lookup/domain/a%00b.test",
        "/api/dead-letters?integration=dia%00ler",
    ],
)
def test_a_nul_in_the_path_or_the_query_is_refused(server: LiveServer, url: str) -> None:
    body = problem_of(server.client.get(url), 400)
    assert body["detail"] == (
        "the path or the query holds a NUL character (%00); allowed: text without one"
    )


def test_a_nul_in_settings_is_refused_at_its_key_and_nothing_is_saved(
    server: LiveServer,
) -> None:
    before = server.client.get("/api/integrations/dialer/settings").json()
    settings = {**before, "users": {"map": {"a\u0000b": "101"}}}
    body = problem_of(server.client.put("/api/integrations/dialer/settings", json=settings), 422)
    assert "users.map" in body["detail"]
    assert "holds a NUL character (\\x00); allowed: text without one" in body["detail"]
    assert server.client.get("/api/integrations/dialer/settings").json() == before


def test_a_query_parameter_given_twice_is_refused(server: LiveServer) -> None:
    body = problem_of(server.client.get("/api/inbox?limit=1&limit=2"), 400)
    assert body["detail"] == "query parameter 'limit' is given 2 times; allowed: once"


def test_two_different_authorization_headers_are_refused_in_either_order(
    server: LiveServer,
) -> None:
    right, wrong = f"Bearer {ADMIN_TOKEN}", "Bearer not-the-token"
    for first, second in ((right, wrong), (wrong, right)):
        answer = server.client.get(
            "/api/integrations",
            headers=[("authorization", first), ("authorization", second)],
        )
        body = problem_of(answer, 401)
        assert "given more than once with different values" in body["detail"]


def test_an_unknown_webhook_name_is_not_echoed_whole(server: LiveServer) -> None:
    name = "a" * 5000
    body = problem_of(server.client.post(f"/webhooks/{name}", content=b"{}"), 404)
    assert body["detail"] == f"no integration named '{'a' * 100}…'"
    assert len(body["instance"]) <= 201


def test_one_of_several_dismissals_at_once_wins_and_the_others_are_told(
    ws: Workspace, server: LiveServer
) -> None:
    """Eight admins dismiss one letter at the same moment: one 200, the others 409 naming who
    dismissed it and why — before, on PostgreSQL several were answered 200 and their reasons
    silently dropped."""
    body = b"not json"
    signed = {"content-type": "application/json", **generic_signature(body)}
    assert server.client.post("/webhooks/dialer", content=body, headers=signed).status_code == 400
    [letter] = server.client.get("/api/dead-letters").json()
    url = f"{server.base_url}/api/dead-letters/{letter['id']}/dismiss"
    start = threading.Barrier(8)

    def dismiss(n: int) -> httpx.Response:
        with httpx.Client(headers={"authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=60) as c:
            start.wait()
            return c.post(url, json={"reason": f"reason-{n}", "by": f"admin{n}"})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(dismiss, range(8)))
    won = [a for a in answers if a.status_code == 200]
    assert len(won) == 1, [a.status_code for a in answers]
    kept = won[0].json()["dismissed_reason"]
    for lost in (a for a in answers if a.status_code != 200):
        said = problem_of(lost, 409)["detail"]
        assert "was dismissed at" in said and kept in said
    assert ws.dead_letter(letter["id"])["dismissed_reason"] == kept


def test_a_put_with_if_match_does_not_overwrite_settings_changed_since(
    server: LiveServer,
) -> None:
    """Two admins read the settings; the first saves; the second's PUT, with the ETag it
    read, is refused (412) rather than silently undoing the first's change."""
    url = "/api/integrations/dialer/settings"
    read = server.client.get(url)
    tag, settings = read.headers["etag"], read.json()
    assert tag.startswith('"') and tag.endswith('"')
    first = server.client.put(url, json={**settings, "region": "GB"}, headers={"If-Match": tag})
    assert first.status_code == 200, first.text
    assert first.headers["etag"] not in (tag, None)
    stale = server.client.put(url, json={**settings, "region": "FR"}, headers={"If-Match": tag})
    said = problem_of(stale, 412)["detail"]
    assert "changed since they were read" in said and first.headers["etag"] in said
    assert server.client.get(url).json()["region"] == "GB"  # the first change stands
    fresh = server.client.get(url).headers["etag"]
    assert fresh == first.headers["etag"]
    again = server.client.put(url, json={**settings, "region": "FR"}, headers={"If-Match": fresh})
    assert again.status_code == 200 and again.json()["region"] == "FR"
    anyway = server.client.put(url, json=settings, headers={"If-Match": "*"})
    assert anyway.status_code == 200
    plain = server.client.put(url, json=settings)  # no If-Match: as before, last write wins
    assert plain.status_code == 200
