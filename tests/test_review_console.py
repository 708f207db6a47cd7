"""The review page after an answer: the record chosen is linked whether it was a listed
candidate or a typed id (the answer carries its type), and a refused answer is shown by
post/redirect/get (a reload posts nothing again), the value typed kept and the error beside
the field."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadsync.ops.settings_change import Actor
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, form_token, signed_in
from tests.live import LiveServer
from tests.test_review_faces import ids  # noqa: F401  (the same fixture)

__all__ = ["ids"]


@pytest.fixture
def console(ws: Workspace, ids: dict[str, int]) -> Iterator[LiveServer]:
    with console_server(ws) as live:
        yield live


def test_the_answer_carries_the_record_chosen_typed_or_listed(
    ws: Workspace, ids: dict[str, int]
) -> None:
    by = Actor(who="tester", role="admin")
    typed = ws.resolve_review(2, choose=str(ids["k3"]), by=by)  # an unknown: no candidates
    assert typed.record is not None
    assert (typed.record.type, typed.record.id) == ("contact", ids["k3"])
    listed = ws.resolve_review(1, choose=str(ids["k2"]), by=by)
    assert listed.record is not None and listed.record.id == ids["k2"]


def test_a_typed_record_id_is_linked_in_what_was_applied(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    client = signed_in(console.client, PASSWORD)
    token = form_token(client.get("/review/2").text, "/review/2/resolve")
    posted = client.post("/review/2/resolve", data={"csrf_token": token, "other": str(ids["k3"])})
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"] == "/review/2?done=resolved&record=contact"
    link = f'<a href="/records/contact/{ids["k3"]}">Open contact {ids["k3"]}</a>'
    assert link in client.get(posted.headers["location"]).text
    again = client.get(posted.headers["location"])  # the message shown once; the link stays
    assert link in again.text
    bad = client.get("/review/2", params={"done": "resolved", "record": "planet"})
    assert bad.status_code == 400


def test_a_skipped_question_links_no_record(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    client = signed_in(console.client, PASSWORD)
    token = form_token(client.get("/review/2").text, "/review/2/skip")
    posted = client.post("/review/2/skip", data={"csrf_token": token})
    assert posted.headers["location"] == "/review/2?done=skipped"
    assert "Open contact" not in client.get(posted.headers["location"]).text


def test_a_refused_answer_redirects_keeping_the_value_and_the_error(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    client = signed_in(console.client, PASSWORD)
    token = form_token(client.get("/review/2").text, "/review/2/resolve")
    posted = client.post("/review/2/resolve", data={"csrf_token": token, "other": "999999"})
    assert (posted.status_code, posted.headers["location"]) == (303, "/review/2?done=refused")
    shown = client.get(posted.headers["location"])
    assert shown.status_code == 200
    html = shown.text
    error = html.index('id="review-2-error"')
    field = html.index('name="other"')
    assert error < field and "record 999999 does not exist" in html[error:field]
    assert 'value="999999"' in html[field : html.index(">", field)]
    assert 'aria-invalid="true"' in html
    reload = client.get(posted.headers["location"])  # shown once; nothing posted again
    assert reload.status_code == 200 and "does not exist" not in reload.text
    assert ws.review_item(2).status == "open"


def test_a_refused_pick_keeps_the_candidate_ticked(
    ws: Workspace, ids: dict[str, int], console: LiveServer
) -> None:
    client = signed_in(console.client, PASSWORD)
    token = form_token(client.get("/review/1").text, "/review/1/resolve")
    both = {"csrf_token": token, "choice": str(ids["k1"]), "other": str(ids["a1"])}
    posted = client.post("/review/1/resolve", data=both)
    assert (posted.status_code, posted.headers["location"]) == (303, "/review/1?done=refused")
    html = client.get(posted.headers["location"]).text
    assert "not both" in html
    assert f'name="choice" value="{ids["k1"]}" checked' in html
    assert f'value="{ids["a1"]}"' in html
