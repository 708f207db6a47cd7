"""``leadsync activities list`` shows a held call (waiting for a contact or lead to get its
number) as held, with its number and until when, rather than on no record; once that time has
passed, as expired (the list's clock is set by the tests)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.ops import listings
from leadsync.workspace import Workspace
from tests.helpers import run
from tests.test_counterparts import _call, _contact, _setup


def listed(ws: Workspace, *args: str) -> Any:
    result = CliRunner().invoke(
        app,
        ["--db", ws.engine.url.render_as_string(hide_password=False), "activities", "list", *args],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def clock_at(monkeypatch: pytest.MonkeyPatch, now: str) -> None:
    """The listing's clock (what ``activities list`` takes as now) set to ``now``."""
    monkeypatch.setattr(listings, "now_ts", lambda: now)


def test_a_held_call_is_listed_as_held_until_its_hold_ends(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(workspace)
    run(workspace, _call("c1", "07700 900123"))
    clock_at(monkeypatch, "2026-11-02T00:00:00.000Z")
    [call] = json.loads(listed(workspace, "--json"))
    assert call["records"] == []
    waiting = (
        "held: no contact or lead has +447700900123 yet; attached when one gets it, else in "
        "the review queue after 2026-11-08T10:00:00Z"
    )
    assert call["held"] == {
        "numbers": ["+447700900123"],
        "held_at": "2026-11-01T10:00:00.000Z",
        "expires_at": "2026-11-08T10:00:00.000Z",
        "ended": False,
        "queued": False,
        "why": waiting,
    }
    shown = listed(workspace)
    assert waiting in shown and "none" not in shown
    # Its hold over: in the review queue, held still.
    assert workspace.expire_holds(now="2026-11-08T10:00:00Z") == 1
    [call] = json.loads(listed(workspace, "--json"))
    assert call["held"]["queued"] is True
    queued = (
        "held: no contact or lead got +447700900123 by 2026-11-08T10:00:00Z; in the review "
        "queue (leadsync review list), still attached if one gets it"
    )
    assert call["held"]["why"] == queued and queued in listed(workspace)
    # A contact gets the number: the call is on it, held no more.
    run(workspace, _contact("k1", at="2026-11-12T10:00:00Z", phone="+447700900123"))
    [call] = json.loads(listed(workspace, "--json"))
    assert call["held"] is None and [r["type"] for r in call["records"]] == ["contact"]
    assert "held" not in listed(workspace)


def test_a_hold_past_its_deadline_is_shown_expired_until_the_worker_queues_it(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The deadline passed, the worker's minute tick not yet come: the list says the hold
    expired (and when), never that the call waits until a time already gone; by the rule the
    expiry itself uses, so at the very deadline both agree it is due."""
    _setup(workspace)
    run(workspace, _call("c1", "07700 900123"))  # held until 2026-11-08T10:00:00Z
    deadline, before = "2026-11-08T10:00:00.000Z", "2026-11-08T09:59:59.999Z"
    [call] = workspace.activities(now=before)
    assert (
        call["held"]["ended"] is False and "else in the review queue after" in call["held"]["why"]
    )
    assert workspace.expire_holds(now=before) == 0
    expired = (
        "held: no contact or lead got +447700900123 by 2026-11-08T10:00:00Z; the hold expired "
        "then: the worker's next pass (once a minute) puts it in the review queue (leadsync "
        "review list), still attached if one gets it"
    )
    for now in (deadline, "2026-12-01T00:00:00.000Z"):
        [call] = workspace.activities(now=now)
        assert (call["held"]["ended"], call["held"]["queued"]) == (True, False)
        assert call["held"]["why"] == expired
    clock_at(monkeypatch, "2026-12-01T00:00:00.000Z")
    [call] = json.loads(listed(workspace, "--json"))
    assert call["held"]["ended"] is True and call["held"]["why"] == expired
    shown = listed(workspace)
    assert expired in shown and "else in the review queue after" not in shown
    # The worker's pass at the deadline finds it due too: queued, listed as in the queue.
    assert workspace.expire_holds(now=deadline) == 1
    [call] = workspace.activities(now=deadline)
    assert call["held"]["queued"] is True and "; in the review queue" in call["held"]["why"]


def test_an_activity_not_held_has_no_hold(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", mobilephone="+44 20 7946 0000"), integration="crm")
    run(workspace, _call("c1", "020 7946 0000"))
    [call] = json.loads(listed(workspace, "--json"))
    assert call["held"] is None and call["records"][0]["why"].startswith("matched by number")


def test_a_call_with_an_open_question_says_so_with_the_command(workspace: Workspace) -> None:
    """A number two contacts have: the call is on neither, and the list says why and where
    the question is, not "none"."""
    _setup(workspace)
    run(workspace, _contact("k1", phone="+447700900123"), _contact("k2", phone="+447700900123"))
    run(workspace, _call("c1", "07700 900123", at="2026-11-01T11:00:00Z"))
    [call] = json.loads(listed(workspace, "--json"))
    [item] = workspace.review_items().items
    assert call["questions"] == [{"id": item.id, "kind": "number", "subject": "+447700900123"}]
    shown = listed(workspace)
    assert f"open question about +447700900123: leadsync review show {item.id}" in shown
    assert "none" not in shown
    # Answered: the call is on the contact chosen, and no question is listed.
    workspace.resolve_review(item.id, choose=str(item.candidates[0].record_id))
    [call] = json.loads(listed(workspace, "--json"))
    assert call["questions"] == [] and len(call["records"]) >= 1
    assert "open question" not in listed(workspace)


def test_a_records_timeline_names_its_calls_open_questions(workspace: Workspace) -> None:
    """Two open deals equally recent: the call is on the contact, and the question which deal
    waits; ``records show`` (text and JSON) and the record's page name it, with where to
    answer it."""
    from tests.browser import console_server, signed_in
    from tests.test_counterparts_cases import contact_with_tied_deals

    contact_with_tied_deals(workspace)
    run(
        workspace,
        _call("c1", "07700 900123", associations=[{"object": "contact", "external_id": "k1"}]),
    )
    [item] = workspace.review_items().items
    contact = workspace.find(external="dialer:k1")[0]["id"]
    [call] = workspace.record("contact", contact)["timeline"]
    assert call["questions"] == [{"id": item.id, "kind": "deal", "subject": item.subject}]
    shown = CliRunner().invoke(
        app,
        ["--db", workspace.engine.url.render_as_string(hide_password=False), "records", "show",
         "contact", str(contact)],
        env={"COLUMNS": "300"},
    )  # fmt: skip
    assert f"open question about {item.subject}: leadsync review show {item.id}" in shown.stdout
    with console_server(workspace) as server, httpx.Client(base_url=server.base_url) as client:
        page = signed_in(client).get(f"/records/contact/{contact}").text
    assert f'<a href="/review/{item.id}">Open question #{item.id}</a>' in page
