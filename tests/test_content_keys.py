"""Two different events a vendor times to the same second are two events, not a redelivery:
the key of Aircall's, Outreach's and Salesloft's events holds a hash of what the event says
(a QA pass lost the second comment on a call, and the second edit of a prospect, as
"duplicates" nobody saw)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leadsync.pipeline.intake import Intake
from leadsync.sources import adapter_for
from leadsync.sources.base import WebhookRequest
from leadsync.workspace import Workspace
from tests.test_timed_keys import TOKEN, intake  # noqa: F401 - the fixture

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


def _fixture(kind: str, name: str) -> tuple[dict[str, str], Any]:
    data = json.loads((FIXTURES / kind / name).read_text())
    return data.get("headers", {}), data["body"]


def _key(kind: str, headers: dict[str, str], body: Any) -> str:
    adapter = adapter_for(kind, "x", None)
    headers = {"content-type": "application/json", **headers}
    raw = json.dumps(body).encode()
    [piece] = adapter.pieces(WebhookRequest("POST", "http://test/webhooks/x", headers, raw))
    return piece.key


def _reordered(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order (a redelivery written
    by another serializer)."""
    if isinstance(value, dict):
        return {k: _reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    return value


def _comment(body: Any) -> None:
    body["data"]["comments"] = [*body["data"].get("comments", []), {"id": 99, "content": "x"}]


def _email(body: Any) -> None:  # another change of the prospect, in the same second
    attributes = body["data"]["attributes"]
    body["data"]["attributes"] = {
        "emails": ["zoe@globex.test"],
        "updatedAt": attributes["updatedAt"],
    }


def _title(body: Any) -> None:
    body["title"] = "Head of Procurement"


def _delivered_later(body: Any) -> None:
    body["meta"]["deliveredAt"] = "2026-11-02T10:07:00.000"


@pytest.mark.parametrize(
    ("kind", "name", "change", "retry"),
    [
        # Aircall: one event per comment, each carrying the whole call; times to the second.
        ("aircall", "call.commented.json", _comment, None),
        # Outreach: an update carries the changed attributes only, updatedAt to the second;
        # a retry may be delivered at another time.
        ("outreach", "prospect.updated.json", _email, _delivered_later),
        ("salesloft", "person_updated.json", _title, None),
    ],
)
def test_another_event_in_the_same_second_has_another_key_and_a_redelivery_the_same(
    kind: str, name: str, change: Callable[[Any], None], retry: Callable[[Any], None] | None
) -> None:
    headers, body = _fixture(kind, name)
    key = _key(kind, headers, body)
    assert _key(kind, headers, _reordered(copy.deepcopy(body))) == key
    if retry is not None:
        again = copy.deepcopy(body)
        retry(again)
        assert _key(kind, headers, again) == key
    other = copy.deepcopy(body)
    change(other)
    other_key = _key(kind, headers, other)
    assert other_key != key
    # Same time and object: the keys still sit side by side in the inbox's index.
    assert other_key.rsplit(":", 1)[0] == key.rsplit(":", 1)[0]


def _commented(body: Any, texts: list[str]) -> Any:
    """Aircall's ``call.commented``: the call with its whole list of comments so far."""
    out = copy.deepcopy(body)
    out["data"]["comments"] = [{"id": n, "content": t} for n, t in enumerate(texts, 1)]
    return out


@pytest.mark.parametrize("batches", ["one batch", "two batches"])
@pytest.mark.parametrize("arrival", ["in order", "reversed"])
def test_two_comments_on_a_call_in_one_second_are_both_kept(
    workspace: Workspace,
    intake: Intake,  # noqa: F811 - the fixture imported above
    arrival: str,
    batches: str,
) -> None:
    _, body = _fixture("aircall", "call.commented.json")
    body["token"] = TOKEN
    first = _commented(body, ["first note"])
    # The second comment whose event's key (the tie-break of one second) sorts before the
    # first's: the greater id alone would keep the first's list and lose it.
    second = next(
        two
        for text in ("second note: callback Tuesday", "wants a demo", "sent pricing", "busy")
        if _key("aircall", {}, two := _commented(body, ["first note", text]))
        < _key("aircall", {}, first)
    )

    def send(b: Any) -> tuple[int, int]:
        request = WebhookRequest(
            "POST",
            "http://test/webhooks/phone",
            {"content-type": "application/json"},
            json.dumps(b).encode(),
        )
        receipt = intake.receive("phone", request).result(timeout=60)
        return receipt.accepted, receipt.duplicates

    pair = [first, second] if arrival == "in order" else [second, first]
    for b in pair:
        assert send(b) == (1, 0)
        if batches == "two batches":
            workspace.process_inbox()
    assert send(second) == (0, 1)  # Aircall sends it again: a redelivery
    workspace.process_inbox()
    [call] = workspace.activities()
    assert call["properties"]["comments"] == [c["content"] for c in second["data"]["comments"]]
