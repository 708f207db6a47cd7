"""``POST /api/review/{item_id}/resolve`` reads its body in words: a record id given as a whole
number is taken as its text (the listings give ids as numbers), and any other shape is a 400
problem saying what is wrong — never the errors of both shapes pydantic tried. The document
still describes the two shapes, ``choose`` as text or a whole number."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.workspace import Workspace
from tests.live import LiveServer, configure, serve
from tests.test_review_faces import on_record, problem_of, queue_questions

CHOOSE = (
    'body: choose must be a record\'s id as text ("41", at most 200 characters) or a whole '
    "number (41); got "
)
SHAPES = 'body: the answer is {"choose": "41"} (a record\'s id) or {"skip": true}; got '

REFUSED: list[tuple[Any, str]] = [
    ({"choose": True}, CHOOSE + "true"),
    ({"choose": 7.5}, CHOOSE + "7.5"),
    ({"choose": None}, CHOOSE + "null"),
    ({"choose": ["41"]}, CHOOSE + '["41"]'),
    ({"choose": ""}, CHOOSE + '""'),
    ({}, SHAPES + "{}"),
    (
        {"choose": "41", "skip": True},
        'body: give choose or skip, not both: the answer is {"choose": "41"} (a record\'s id) '
        'or {"skip": true}; got {"choose": "41", "skip": true}',
    ),
    (
        {"skip": True, "why": "spam"},
        'body: unknown key \'why\': the answer is {"choose": "41"} (a record\'s id) or '
        '{"skip": true}; got {"skip": true, "why": "spam"}',
    ),
    ([41], SHAPES + "[41]"),
    (
        {"skip": False},
        "body: skip must be true (to leave the activity without a record); got false",
    ),
]


@pytest.fixture
def server(db_url: str) -> Iterator[tuple[Workspace, dict[str, int], LiveServer]]:
    with Workspace(db_url) as ws:
        configure(ws)
        ids = queue_questions(ws)
        with serve(ws) as live:
            yield ws, ids, live


def test_a_wrong_answer_is_a_problem_in_words(
    server: tuple[Workspace, dict[str, int], LiveServer], subtests: pytest.Subtests
) -> None:
    _ws, _ids, live = server
    for body, detail in REFUSED:
        with subtests.test(body=body):
            problem = problem_of(live.client.post("/api/review/1/resolve", json=body), 400)
            assert problem["title"] == "Bad request"
            assert problem["detail"] == detail and problem["problems"] == [detail]
    assert live.client.get("/api/review").json()["open"] == 2  # nothing answered


def test_a_record_id_as_a_whole_number_is_taken_as_its_text(
    server: tuple[Workspace, dict[str, int], LiveServer],
) -> None:
    ws, ids, live = server
    answer = live.client.post("/api/review/1/resolve", json={"choose": ids["k2"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["item"]["status"] == "resolved"
    assert [link["source"] for link in on_record(ws, ids["k2"], "c1")] == ["person"]
    missing = problem_of(live.client.post("/api/review/2/resolve", json={"choose": 9999}), 400)
    assert "record 9999 does not exist" in missing["detail"]


def test_the_document_says_choose_is_text_or_a_whole_number(
    server: tuple[Workspace, dict[str, int], LiveServer],
) -> None:
    _ws, _ids, live = server
    spec = live.client.get("/openapi.json").json()
    choose = spec["components"]["schemas"]["ChooseAnswer"]["properties"]["choose"]
    assert [t["type"] for t in choose["anyOf"]] == ["string", "integer"]
    assert "whole number" in choose["description"]
