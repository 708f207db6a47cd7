"""A rep's question answered decides again the records its events left without an owner.

A rep whose email two active owners share maps to nobody: its events give no owner and ask
which owner it is (one question per rep). Answering it puts the rep in ``users.map`` and
decides the records those events left unowned again, each as its event would have been
decided with the rep mapped (the strategy the record gets, at the event's time) — but not a
record whose owner something set since. On SQLite and PostgreSQL, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

import leadsync.cli.review  # noqa: F401  (attaches `leadsync review` to the app)
from leadsync.cli import app
from leadsync.ops import rep_settle
from leadsync.store.schema import owners
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, settings, workspace_config

ANA = "ana@acme.test"  # owner 101's email, and owner 104's too below


def line(event_id: str, at: str, kind: str, ext: str, owner: Any, **props: Any) -> str:
    event: dict[str, Any] = {
        "id": event_id,
        "occurred_at": f"2026-11-01T{at}:00Z",
        "type": "record",
        "object": kind,
        "external_id": ext,
        "properties": props,
    }
    if owner is not None:
        event["owner"] = owner
    return json.dumps(event)


def call(event_id: str, at: str, ext: str, owner: str, contact: str) -> str:
    return json.dumps(
        {
            "id": event_id,
            "occurred_at": f"2026-11-01T{at}:00Z",
            "type": "activity",
            "activity": "call",
            "external_id": ext,
            "owner": owner,
            "properties": {"duration_s": 60, "outcome": "connected", "direction": "outbound"},
            "associations": [{"object": "contact", "external_id": contact}],
        }
    )


def call_owners(ws: Workspace) -> dict[str, str | None]:
    return {a["external_id"]: a["owner_id"] for a in ws.activities()}


@pytest.fixture
def ws(db_url: str) -> Iterator[Workspace]:
    with Workspace(db_url) as workspace:
        # fill_if_empty for contacts, never_overwrite for deals; u-1 is ANA in the
        # directory; u-9 maps to 102; the unmapped policy is round robin (not used here:
        # an ambiguous rep is a question, not a turn).
        workspace.apply_config(workspace_config({"dialer": settings()}))
        with workspace.engine.begin() as connection:  # as owners pulled from a CRM may
            connection.execute(sa.update(owners).where(owners.c.id == "104").values(email=ANA))
        yield workspace


def record_of(ws: Workspace, ext: str) -> dict[str, Any]:
    [found] = ws.find(external=f"dialer:{ext}")
    return found


def owner_of(ws: Workspace, kind: str, ext: str) -> str | None:
    found = record_of(ws, ext)
    assert found["type"] == kind
    owner: str | None = found["owner_id"]
    return owner


def resolve(db_url: str, item_id: int, owner: str) -> Any:
    runner = CliRunner()
    args = ["--db", db_url, "review", "resolve", str(item_id), "--choose", owner, "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_answering_a_reps_question_owns_the_records_it_left_unowned(
    ws: Workspace, db_url: str
) -> None:
    lines = [
        line("e1", "09:00", "contact", "p1", "u-1", email="p1@globex.test"),
        line("e2", "09:05", "contact", "p2", "u-1", email="p2@globex.test"),
        line("e3", "09:10", "deal", "d1", "u-1", name="Renewal"),
        # p3: left unowned by u-1, then given an owner by u-9 (102): not decided again.
        line("e4", "09:15", "contact", "p3", "u-1", email="p3@globex.test"),
        line("e5", "10:00", "contact", "p3", "u-9"),
        # p5: owned by u-9 first; u-1's later event left it as it was (fill if empty).
        line("e6", "09:20", "contact", "p5", "u-9", email="p5@globex.test"),
        line("e7", "09:25", "contact", "p5", "u-1"),
        # p6: another rep's unmapped record (a directory email nobody has): not this rep's.
        line("e8", "09:30", "contact", "p6", {"id": "u-5", "email": "zed@acme.test"}),
        # Calls: u-1's on p1 (no owner: its rep maps to nobody), u-9's (owner 102).
        call("c1", "09:40", "k-1", "u-1", "p1"),
        call("c2", "09:45", "k-2", "u-9", "p1"),
    ]
    ws.ingest("dialer", lines)
    assert [owner_of(ws, "contact", p) for p in ("p1", "p2", "p3", "p5")] == [
        None,
        None,
        "102",
        "102",
    ]
    assert owner_of(ws, "deal", "d1") is None
    assert call_owners(ws) == {"k-1": None, "k-2": "102"}
    [question] = ws.review_items(kind="owner").items
    assert question.subject == "u-1"
    p6 = owner_of(ws, "contact", "p6")  # round robin's turn: 101

    answer = resolve(db_url, question.id, "104")

    assert [owner_of(ws, "contact", p) for p in ("p1", "p2", "p3", "p5", "p6")] == [
        "104",
        "104",
        "102",
        "102",
        p6,
    ]
    assert owner_of(ws, "deal", "d1") == "104"  # a new deal gets its first owner
    assert call_owners(ws) == {"k-1": "104", "k-2": "102"}  # the rep's call gets its owner
    applied = answer["applied"]
    assert applied[0] == "dialer: rep u-1 now maps to owner 104 (Di Ro)"
    k1 = next(a["id"] for a in ws.activities() if a["external_id"] == "k-1")
    assert applied[-1] == f"call {k1}: owner 104 (its rep's)"
    outcomes = sorted(a.split(" (", 1)[0] for a in applied[1:-1])
    ids = {p: record_of(ws, p)["id"] for p in ("p1", "p2", "p5")}
    deal = record_of(ws, "d1")
    assert outcomes == sorted(
        [
            f"contact {ids['p1']}: set, owner 104",
            f"contact {ids['p2']}: set, owner 104",
            f"contact {ids['p5']}: kept, owner 102",
            f"deal {deal['id']}: set, owner 104",
        ]
    )
    # Each decision says why, and that an answer decided it again.
    [decision] = [
        d
        for d in ws.record("contact", ids["p1"])["owner_history"]
        if d["owner_id"] == "104" and d["outcome"] == "set"
    ]
    assert "rep u-1 maps to 104 by the explicit map" in decision["reason"]
    assert f"decided again: review item {question.id} answered by cli: " in decision["reason"]
    assert decision["event_id"] == "e1" and decision["at"].startswith("2026-11-01T09:00")

    # Later events of the rep map by the answer; answering again is refused.
    ws.ingest("dialer", [line("e9", "11:00", "contact", "p7", "u-1", email="p7@globex.test")])
    assert owner_of(ws, "contact", "p7") == "104"
    assert ws.review_items(kind="owner", status="open").items == []


def test_a_rep_named_only_by_email_is_mapped_by_it(ws: Workspace, db_url: str) -> None:
    rep = {"email": ANA}
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p1", rep, email="p1@globex.test")])
    assert owner_of(ws, "contact", "p1") is None
    [question] = ws.review_items(kind="owner").items
    assert question.subject == ANA

    resolve(db_url, question.id, "101")

    assert ws.integration("dialer").users.map[ANA] == "101"
    assert owner_of(ws, "contact", "p1") == "101"
    ws.ingest("dialer", [line("e2", "10:00", "contact", "p2", rep, email="p2@globex.test")])
    assert owner_of(ws, "contact", "p2") == "101"  # the map's email entry is read
    assert ws.review_items(kind="owner", status="open").items == []


def test_the_answer_keeps_the_keys_the_settings_wrote(ws: Workspace, db_url: str) -> None:
    """The map's entry is added to the settings as written: keys written with their default
    values (``auto_match: email``, ``assign_on_activity: false``) stay written, as
    ``leadsync export`` shows them."""
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p1", "u-1", email="p1@globex.test")])
    [question] = ws.review_items(kind="owner").items
    resolve(db_url, question.id, "104")
    exported = ws.export_config().integrations["dialer"]
    assert exported.users.map["u-1"] == "104"
    assert "auto_match" in exported.users.model_fields_set
    assert "assign_on_activity" in exported.ownership.model_fields_set


def review(db_url: str, *args: str) -> Any:
    return CliRunner().invoke(app, ["--db", db_url, "review", *args])


def test_a_skipped_reps_question_is_asked_again_by_its_next_event(
    ws: Workspace, db_url: str
) -> None:
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p1", "u-1", email="p1@globex.test")])
    [question] = ws.review_items(kind="owner").items
    skipped = review(db_url, "resolve", str(question.id), "--skip")
    assert skipped.exit_code == 0, skipped.stderr
    closed = ws.review_item(question.id)
    assert closed.status == "skipped"
    assert closed.outcome is not None and closed.outcome.endswith(
        "rep u-1 stays mapped to nobody; its next event asks again"
    )
    assert ws.review_items(kind="owner").items == []

    ws.ingest("dialer", [line("e2", "10:00", "contact", "p2", "u-1", email="p2@globex.test")])

    [again] = ws.review_items(kind="owner").items  # the same question, open again
    assert (again.id, again.status, again.event_id) == (question.id, "open", "e2")
    assert again.closed_by is None and again.outcome is None
    resolve(db_url, again.id, "101")
    assert [owner_of(ws, "contact", p) for p in ("p1", "p2")] == ["101", "101"]


def test_a_workspace_managed_by_file_is_answered_once_the_file_maps_the_rep(
    ws: Workspace, db_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "leadsync.yaml"
    doc = {"owners": OWNERS, "teams": {"sdr": ["101", "102"]}, "integrations": {}}
    doc["integrations"] = {"dialer": settings()}
    file.write_text(json.dumps(doc))
    cli = CliRunner()
    assert cli.invoke(app, ["--db", db_url, "apply", str(file), "--managed"]).exit_code == 0
    with ws.engine.begin() as connection:
        connection.execute(sa.update(owners).where(owners.c.id == "104").values(email=ANA))
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p1", "u-1", email="p1@globex.test")])
    [question] = ws.review_items(kind="owner").items

    refused = review(db_url, "resolve", str(question.id), "--choose", "104")
    assert refused.exit_code == 2
    said = " ".join(refused.stderr.split())
    assert f"the workspace is managed by file ({file})" in said
    assert 'users: {map: {"u-1": "104"}}' in said and "that answers this question" in said
    assert owner_of(ws, "contact", "p1") is None
    assert ws.review_item(question.id).status == "open"

    doc["integrations"]["dialer"]["users"]["map"]["u-1"] = "104"
    file.write_text(json.dumps(doc))
    assert cli.invoke(app, ["--db", db_url, "apply", str(file)]).exit_code == 0
    # The file's entry answers the question: closed, and the rep's record decided again.
    assert owner_of(ws, "contact", "p1") == "104"
    answered = ws.review_item(question.id)
    assert (answered.status, answered.choice) == ("resolved", "104")
    assert "resolved by a settings change" in (answered.outcome or "")


def test_a_rep_mapped_on_the_settings_page_answers_its_question(ws: Workspace) -> None:
    """A users.map entry saved in the settings (the console, the API) is the answer: the
    question closes and the records the rep's events left unowned get their owner (they
    stayed ownerless until someone answered what the settings already said)."""
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p1", "u-1", email="p1@globex.test")])
    [question] = ws.review_items(kind="owner").items
    assert owner_of(ws, "contact", "p1") is None
    data = settings()
    data["users"]["map"]["u-1"] = "104"
    ws.replace_integration("dialer", data)
    assert owner_of(ws, "contact", "p1") == "104"
    answered = ws.review_item(question.id)
    assert (answered.status, answered.choice) == ("resolved", "104")
    assert ws.review_items(kind="owner").items == []


def test_an_ingest_counts_the_questions_it_put_in_the_queue_not_those_asked_again(
    ws: Workspace,
) -> None:
    # The rep named with and without its email: two asks of one question.
    first = ws.ingest(
        "dialer",
        [
            line("e1", "09:00", "contact", "p1", {"id": "u-1", "email": ANA}, email="p1@x.test"),
            line("e2", "09:05", "contact", "p2", "u-1", email="p2@globex.test"),
        ],
    )
    assert first.counterparts["queued_for_review"] == 1
    assert len(ws.review_items(kind="owner").items) == 1
    again = ws.ingest("dialer", [line("e3", "10:00", "contact", "p3", "u-1", email="p3@x.test")])
    assert again.counterparts["queued_for_review"] == 0  # open already: not put again
    assert len(ws.review_items().items) == 1


def test_a_settlement_that_fails_leaves_the_save_done_and_the_question_open(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The save is committed before its questions are settled: a failure then is logged
    and the question waits (the save answered an error after it was made)."""
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p1", "u-1", email="p1@globex.test")])
    [question] = ws.review_items(kind="owner").items

    def broken(*_args: Any) -> Any:
        raise RuntimeError("a defect")

    monkeypatch.setattr(rep_settle, "decide_for_rep", broken)
    data = settings()
    data["users"]["map"]["u-1"] = "104"
    ws.replace_integration("dialer", data)  # no error: the settings are saved
    assert ws.integration("dialer").users.target_of("u-1") == "104"
    assert ws.review_item(question.id).status == "open"
    assert any("stays open" in r.getMessage() for r in caplog.records)


def test_a_settings_change_that_maps_the_rep_by_its_learned_email_answers_its_question(
    ws: Workspace,
) -> None:
    """A rep the directory does not name, whose events gave an email two owners shared: the
    file applied again without the second owner's copy of that email maps the rep by it, so
    its question closes and its record gets the owner (the question stayed open: the
    settlement mapped the rep without the email its events gave)."""
    rep = {"id": "u-5", "email": ANA}
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p5", rep, email="p5@globex.test")])
    [question] = ws.review_items(kind="owner").items
    assert owner_of(ws, "contact", "p5") is None
    ws.apply_config(workspace_config({"dialer": settings()}))  # 104's own email back
    assert owner_of(ws, "contact", "p5") == "101"
    answered = ws.review_item(question.id)
    assert (answered.status, answered.choice) == ("resolved", "101")
    assert "by email" in (answered.outcome or ""), answered.outcome


def test_users_list_says_what_the_engine_did_with_an_ambiguous_rep_under_skip(
    ws: Workspace,
) -> None:
    """With ``ambiguous: {owner: skip}`` the engine gives such a rep's record to the unmapped
    policy (round robin) and asks nothing; ``users list`` and the report said it waits for a
    question in the review queue."""
    data = settings(ambiguous={"owner": "skip"})
    ws.replace_integration("dialer", data)
    rep = {"id": "u-5", "email": ANA}
    ws.ingest("dialer", [line("e1", "09:00", "contact", "p5", rep, email="p5@globex.test")])
    assert ws.review_items(kind="owner").items == []
    assert owner_of(ws, "contact", "p5") in ("101", "102")  # team sdr's turn
    [user] = [u for u in ws.external_users("dialer") if u["id"] == "u-5"]
    said = json.dumps(user)
    assert "review queue" not in said, said
    assert "round robin" in said, said
