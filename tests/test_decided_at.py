"""Every owner decision records when leadsync made it (``decided_at``: the batch's clock, the
time of writing passed to decide), beside when its event happened (``at``): the engine's
batches, a person's change (``records set-owner``), a review answer deciding a rep's records
again, an undo. ``undo --since`` picks the decisions by it: a backlog received before the
time but drained after it, a dead letter retried after it, are undone; what was decided
before is not. On SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from leadsync.engine import decide
from leadsync.model import Outcome, OwnerDecision, RecordType, now_ts
from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.sources.canonical import parse_event
from leadsync.store import batch as batch_store
from leadsync.store.schema import owner_decisions, owners
from leadsync.workspace import Workspace
from tests.helpers import (
    contact_line,
    owner_of,
    record_by_external,
    settings,
    setup,
    workspace_config,
)
from tests.test_decide import CONTACT
from tests.test_properties import NOW, empty_state, memory_rules
from tests.test_review_rep_answer import ANA, line
from tests.test_undo import received_cut


def _clock() -> str:
    """A reading of the clock strictly between what ran before and what runs after."""
    return received_cut()


def _decisions(ws: Workspace) -> list[dict[str, object]]:
    with ws.engine.connect() as connection:
        rows = connection.execute(sa.select(owner_decisions).order_by(owner_decisions.c.id))
        return [dict(r._mapping) for r in rows]


def test_decide_stamps_every_decision_with_the_time_of_writing() -> None:
    """Pure: the ``now`` passed to decide is each decision's decided_at; ``at`` stays the
    event's time (one of them a month older)."""
    late = {**CONTACT, "id": "e0", "external_id": "p-0", "occurred_at": "2026-10-01T09:00:00Z"}
    events = [parse_event(e, "dialer") for e in (CONTACT, late)]
    decided = decide(empty_state(), memory_rules("fill_if_empty", False), events, NOW)
    assert [(d.at, d.decided_at) for d in decided.decisions] == [
        ("2026-11-01T09:00:00.000Z", NOW),
        ("2026-10-01T09:00:00.000Z", NOW),
    ]
    assert NOW != "2026-11-01T09:00:00.000Z"


def test_the_same_events_decided_at_two_times_are_equal_decisions() -> None:
    """A preview and its run, replay's two runs, a test lead's expectation and its run decide
    at different times: equality of decisions leaves decided_at out."""
    events = [parse_event(CONTACT, "dialer")]
    rules = memory_rules("fill_if_empty", False)
    first = decide(empty_state(), rules, events, NOW).decisions
    again = decide(empty_state(), rules, events, "2026-12-24T00:00:00.000Z").decisions
    assert [d.decided_at for d in first] != [d.decided_at for d in again]
    assert first == again


def test_a_batch_writes_its_decisions_with_when_they_were_decided(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    before = _clock()
    workspace.ingest(
        "dialer",
        [
            contact_line("p-1", "u-1", "2026-11-01T09:00:00Z"),
            contact_line("p-1", "u-9", "2026-11-02T09:00:00Z"),
        ],
    )
    after = _clock()
    rows = _decisions(workspace)
    assert [r["at"] for r in rows] == ["2026-11-01T09:00:00.000Z", "2026-11-02T09:00:00.000Z"]
    decided = {r["decided_at"] for r in rows}
    assert len(decided) == 1  # one batch, one clock reading
    assert before < decided.pop() < after  # type: ignore[operator]


def test_a_persons_change_an_undo_and_a_review_answer_are_decided_when_made(
    workspace: Workspace,
) -> None:
    """set-owner dated earlier (``--at``) is still decided now; an undo's decisions are
    decided at the undo's time; a rep's records decided again by a review answer keep their
    event's time and are decided when the answer was given."""
    setup(workspace, ownership={"default": "integration_wins"})
    workspace.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "e1")])
    p1 = record_by_external(workspace, "p-1")["id"]
    before = _clock()
    workspace.set_owner("contact", p1, "102", at="2026-11-01T10:00:00.000Z")
    after = _clock()
    person = _decisions(workspace)[-1]
    assert person["strategy"] == "manual" and person["at"] == "2026-11-01T10:00:00.000Z"
    assert before < person["decided_at"] < after  # type: ignore[operator]

    workspace.ingest("dialer", [contact_line("p-2", "u-1", "2026-11-01T11:00:00Z", "e2")])
    undone = workspace.undo(event_id="e2", at="2026-12-05T12:00:00.000Z")
    assert [r["owner_id"] for r in undone.restored] == [None]
    undo_row = _decisions(workspace)[-1]
    assert undo_row["strategy"] == "undo"
    assert undo_row["decided_at"] == undo_row["at"] == "2026-12-05T12:00:00.000Z"
    history = record_by_external(workspace, "p-2")["owner_history"]
    assert history[-1]["decided_at"] == "2026-12-05T12:00:00.000Z"


def test_a_reps_records_decided_again_by_an_answer_are_decided_then(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config({"dialer": settings()}))
        with ws.engine.begin() as connection:  # two owners share u-1's email: a question
            connection.execute(sa.update(owners).where(owners.c.id == "104").values(email=ANA))
        ws.ingest("dialer", [line("e1", "09:00", "contact", "p1", "u-1", email="p1@globex.test")])
        [question] = ws.review_items(kind="owner").items
        before = _clock()
        ws.resolve_review(question.id, choose="104")
        after = _clock()
        last = record_by_external(ws, "p1")["owner_history"][-1]
    assert last["owner_id"] == "104" and last["event_id"] == "e1"
    assert last["at"] == "2026-11-01T09:00:00.000Z"  # its event's time
    assert before < last["decided_at"] < after


def test_a_decision_whose_maker_gives_no_decided_time_is_decided_at_its_time(
    workspace: Workspace,
) -> None:
    """The push's re-decisions are made and dated at once by the push's clock: written
    with decided_at = at."""
    decision = OwnerDecision(
        record_id=1,
        record_type=RecordType.CONTACT,
        event_id=None,
        integration=None,
        strategy="fill_if_empty",
        at="2026-12-05T09:00:00.000Z",
        previous_owner_id=None,
        proposed_owner_id="101",
        owner_id="101",
        outcome=Outcome.SET,
        reason="the push",
    )
    with workspace.engine.begin() as connection:
        batch_store.insert_owner_decisions(connection, [decision])
    assert _decisions(workspace)[-1]["decided_at"] == "2026-12-05T09:00:00.000Z"


def _pending(ws: Workspace, event_id: str, line_: str) -> None:
    """An inbox row received now and left pending (not drained)."""
    with ws.engine.begin() as connection:
        item = InboxItem(event_id, None, line_)
        write_items(connection, "dialer", [item], now_ts(), "webhook", "pending")


def test_undo_since_picks_a_backlog_and_a_dead_letter_decided_after_the_time(
    workspace: Workspace,
) -> None:
    """Before the time: p-3 is decided; p-2's event fails (its integration was dropped
    meanwhile: a dead letter); p-1's is received and left pending (a backlog). After it the
    letter is retried and the backlog drained: both are decided then, and undone; p-3 is
    not."""
    wins = settings(ownership={"default": "integration_wins"})
    workspace.apply_config(workspace_config({"dialer": wins}))
    workspace.ingest("dialer", [contact_line("p-3", "u-1", "2026-11-01T09:00:00Z", "e3")])
    workspace.apply_config(workspace_config({"other": wins}))
    _pending(workspace, "e2", contact_line("p-2", "u-9", "2026-11-01T09:00:00Z", "e2"))
    workspace.process_inbox()
    [letter] = workspace.dead_letters("dialer")
    workspace.apply_config(workspace_config({"dialer": wins}))
    _pending(workspace, "e1", contact_line("p-1", "u-9", "2026-11-01T09:00:00Z", "e1"))
    received = {r["event_id"]: r["received_at"] for r in workspace.inbox_rows(None, "dialer")}

    since = _clock()
    workspace.retry_dead_letter(letter["id"])
    workspace.process_inbox()
    assert (owner_of(workspace, "p-1"), owner_of(workspace, "p-2")) == ("102", "102")
    assert received["e1"] < since and received["e2"] < since  # both received before

    result = workspace.undo(integration="dialer", since=since)
    restored = sorted((r["record"]["id"], r["owner_id"], r["was"]) for r in result.restored)
    ids = sorted(record_by_external(workspace, p)["id"] for p in ("p-1", "p-2"))
    assert restored == [(ids[0], None, "102"), (ids[1], None, "102")]
    assert owner_of(workspace, "p-3") == "101"  # decided before the time: left
