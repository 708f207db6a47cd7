"""The inbox's own steps, on SQLite and PostgreSQL: the write with dedupe, the claim order,
the drain's dead letters, the requeue of dead letters, vendor lines read as webhooks, and the
one "batch, else each alone" fallback every batched apply goes through."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.engine import BatchResult
from leadsync.errors import EventError
from leadsync.model import ts_to_datetime
from leadsync.pipeline import inbox
from leadsync.pipeline.drain import drain
from leadsync.pipeline.fallback import Refusal, apply_with_fallback, attempt, failure_text
from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.pipeline.ingest import items_of_line, vendor_line_request
from leadsync.sources import adapter_for
from leadsync.store import inbox as inbox_store
from leadsync.store.database import begin_writing
from leadsync.workspace import Workspace
from tests.helpers import contact_line, settings, workspace_config

AT = "2026-11-01T09:00:00.000Z"
AIRCALL = Path(__file__).parent / "fixtures" / "webhooks" / "aircall"


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    leave = {"unmapped": {"policy": "leave"}}
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(),
                "other": settings(),
                "aircall": {"kind": "aircall", "users": leave},
            }
        )
    )
    return workspace


def write(ws: Workspace, integration: str, items: list[InboxItem], status: str = "pending") -> Any:
    with begin_writing(ws.engine) as connection:
        return write_items(connection, integration, items, AT, "test", status)


def statuses(ws: Workspace) -> list[tuple[int, str, str, str]]:
    rows = ws.inbox_rows(limit=100)
    return sorted((r["seq"], r["integration"], r["event_id"], r["status"]) for r in rows)


# ------------------------------------------------------------------ the write, with dedupe


def test_write_items_numbers_new_items_in_order_and_counts_redeliveries(ws: Workspace) -> None:
    first = [
        InboxItem(f"e{n}", AT, contact_line(f"p-{n}", "u-1", event_id=f"e{n}")) for n in range(3)
    ]
    written, duplicates = write(ws, "dialer", first)
    assert [(seq, item.key) for seq, item in written] == [(1, "e0"), (2, "e1"), (3, "e2")]
    assert duplicates == 0
    # A redelivery of e1 and e2, a repeat of e3 within the same call, one key another
    # integration also uses (not a duplicate: dedupe is per integration).
    again = [first[1], first[2], InboxItem("e3", AT, "{}"), InboxItem("e3", AT, "{}")]
    written, duplicates = write(ws, "dialer", again)
    # SQLite numbers without gaps; PostgreSQL's sequence gives a redelivery a number it
    # then does not use (its numbers have gaps anyway: see store/inbox.py).
    e3 = 4 if ws.engine.dialect.name == "sqlite" else 6
    assert [(seq, item.key) for seq, item in written] == [(e3, "e3")] and duplicates == 3
    written, duplicates = write(ws, "other", [InboxItem("e0", None, "{}")])
    assert [seq for seq, _ in written] == [e3 + 1] and duplicates == 0
    assert statuses(ws) == [
        (1, "dialer", "e0", "pending"),
        (2, "dialer", "e1", "pending"),
        (3, "dialer", "e2", "pending"),
        (e3, "dialer", "e3", "pending"),
        (e3 + 1, "other", "e0", "pending"),
    ]
    [row] = ws.inbox_rows(integration="other")
    assert row["occurred_at"] == AT  # no vendor time: the time it was received


def test_an_item_with_an_error_is_written_failed_with_its_dead_letter(ws: Workspace) -> None:
    bad = InboxItem("k1", None, "not json", error="cannot be read", line_no=7)
    written, _ = write(ws, "dialer", [InboxItem("k0", None, "{}"), bad], status="applied")
    assert [item.key for _, item in written] == ["k0", "k1"]
    assert [s for *_, s in statuses(ws)] == ["applied", "failed"]
    [letter] = ws.dead_letters("dialer")
    assert (letter["event_id"], letter["line_no"], letter["raw"], letter["error"]) == (
        "k1",
        7,
        "not json",
        "cannot be read",
    )


# ------------------------------------------------------------------ claim and drain


def test_pending_rows_are_claimed_oldest_first_and_only_pending_ones(ws: Workspace) -> None:
    write(ws, "dialer", [InboxItem("a", None, "{}")], status="applied")
    write(ws, "dialer", [InboxItem(k, None, "{}") for k in ("b", "c", "d")])
    write(ws, "other", [InboxItem("e", None, "{}")])
    with ws.engine.begin() as connection:
        assert inbox_store.has_pending(connection)
        claimed = inbox_store.claim_pending(connection, 3)
        assert [(r["seq"], r["event_id"]) for r in claimed] == [(2, "b"), (3, "c"), (4, "d")]
        inbox_store.mark_applied(connection, 2, 4)
        assert [r["event_id"] for r in inbox_store.claim_pending(connection, 3)] == ["e"]


def test_drain_applies_in_sequence_order_and_dead_letters_only_the_unreadable_rows(
    ws: Workspace,
) -> None:
    items = [
        InboxItem("c1", None, contact_line("p-1", "u-1", "2026-11-01T09:00:00Z", "c1")),
        InboxItem("junk", None, "{not json"),
        InboxItem("c2", None, contact_line("p-2", "u-1", event_id="c2")),
    ]
    write(ws, "dialer", items)
    write(ws, "gone", [InboxItem("g1", None, contact_line("p-3", "u-1", event_id="g1"))])
    batches: list[BatchResult] = []  # what each batch did, told as it committed
    failures = inbox.Problems()
    started = datetime.now(UTC).replace(microsecond=0)
    result = drain(ws.engine, ws.rules(), batch_size=2, on_batch=batches.append, failures=failures)
    assert result.events == 2 and sum(b.events for b in batches) == 2
    if ws.engine.dialect.name == "sqlite":  # PostgreSQL's router cuts its own parts
        assert [b.events for b in batches] == [1, 1]  # two rows each, one unreadable each
    assert [s for *_, s in statuses(ws)] == ["applied", "failed", "applied", "failed"]
    errors = {d.where: d.error for d in failures}
    assert sorted(errors) == ["test (inbox #2)", "test (inbox #4)"]  # the rows' source named
    assert "integration 'gone' is no longer configured" in errors["test (inbox #4)"]
    assert {letter["event_id"] for letter in ws.dead_letters()} == {"junk", "g1"}
    assert drain(ws.engine, ws.rules()).events == 0  # nothing pending: nothing claimed
    # When each letter was made: a time (the place is in the error, not in received_at).
    for letter in ws.dead_letters():
        assert started <= ts_to_datetime(letter["received_at"]) <= datetime.now(UTC)


def test_a_worker_dead_letters_a_row_numbered_past_ten_million(ws: Workspace) -> None:
    """A row whose place is long ("test (inbox #10000001)") is dead-lettered with its time:
    the place once went into the 24-character time column, which PostgreSQL refused, and the
    drain retried that batch for ever."""
    if ws.engine.dialect.name == "postgresql":
        with ws.engine.begin() as connection:
            connection.exec_driver_sql("SELECT setval('inbox_seqs', 10000000)")
    else:
        write(ws, "dialer", [InboxItem("filler", None, "{}")], status="applied")
        with ws.engine.begin() as connection:
            connection.execute(sa.update(inbox_store.inbox).values(seq=10_000_000))
    write(ws, "dialer", [InboxItem("junk", None, "{not json")])
    write(ws, "dialer", [InboxItem("c1", None, contact_line("p-1", "u-1", event_id="c1"))])
    failures = inbox.Problems()
    assert drain(ws.engine, ws.rules(), failures=failures).events == 1
    [failure] = failures
    assert failure.where == "test (inbox #10000001)"
    [letter] = ws.dead_letters()
    assert letter["error"].startswith("test (inbox #10000001): ")
    assert ts_to_datetime(letter["received_at"]) <= datetime.now(UTC)


def test_a_row_retried_alone_after_another_worker_took_it_is_not_applied_twice(
    ws: Workspace,
) -> None:
    # Between a refused batch's rollback and its one-by-one retry the lock is free: another
    # worker may apply (or fail) some of its rows. The retry leaves those alone.
    from leadsync.pipeline.drain import _Drainer, adapters_for

    write(ws, "dialer", [InboxItem("c1", None, contact_line("p-1", "u-1", event_id="c1"))])
    rules = ws.rules()
    assert drain(ws.engine, rules).events == 1  # "the other worker"
    drainer = _Drainer(ws.engine, rules, adapters_for(rules), 10)
    row = {"seq": 1, "integration": "dialer"}
    with ws.engine.begin() as connection:
        assert drainer.apply_row(connection, row).events == 0
    drainer.refuse_row(row, RuntimeError("refused"))
    assert [s for *_, s in statuses(ws)] == ["applied"]
    assert ws.dead_letters() == []
    assert len(ws.decisions(limit=100)) == 1


# ------------------------------------------------------------------ requeue


def test_a_failed_inbox_event_is_requeued_in_place(ws: Workspace) -> None:
    write(ws, "gone", [InboxItem("g1", None, contact_line("p-3", "u-1", event_id="g1"))])
    assert inbox.process(ws.engine, ws.rules()).failed.total == 1
    [letter] = ws.dead_letters()
    ws.apply_config(workspace_config({"dialer": settings(), "gone": settings()}))  # back again
    assert ws.retry_dead_letter(letter["id"]).resolution == "inbox #1 is pending again"
    assert [s for *_, s in statuses(ws)] == ["pending"]
    assert ws.process_inbox().events == 1


def test_an_event_that_still_cannot_be_read_is_not_put_back(ws: Workspace) -> None:
    body = json.loads((AIRCALL / "call.ended.json").read_text())["body"]
    lines = [json.dumps(body), json.dumps({**body, "event": "webhook.opened", "resource": None})]
    ws.ingest("aircall", lines, source="captured.jsonl")
    [letter] = ws.dead_letters("aircall")
    assert letter["line_no"] == 2 and letter["event_id"]  # it is in the inbox, failed
    before = statuses(ws)
    with pytest.raises(EventError, match="webhook.opened"):
        ws.retry_dead_letter(letter["id"])
    assert statuses(ws) == before  # still failed, not pending to fail again
    assert ws.dead_letter(letter["id"])["state"] == "open"


def test_an_event_that_fails_again_keeps_its_file_and_line(ws: Workspace) -> None:
    from leadsync.pipeline.drain import fail_rows

    first = inbox.dead_letter_row("dialer", "events.jsonl", 7, "{}", "events.jsonl:7: no", AT, "e1")
    with ws.engine.begin() as connection:
        inbox_store.insert_dead_letters(connection, [first])
    written, _duplicates = write(ws, "dialer", [InboxItem("e1", None, "{}")])
    seq = written[0][0]
    problems = inbox.Problems()
    with ws.engine.begin() as connection:
        row = {"seq": seq, "integration": "dialer", "source": "events.jsonl", "event_id": "e1"}
        fail_rows(connection, [({**row, "payload": "{}"}, "it failed again")], problems)
    assert [(d.where, d.error) for d in problems] == [("events.jsonl:7", "it failed again")]
    again = max(ws.dead_letters("dialer"), key=lambda d: d["id"])
    assert (again["line_no"], again["error"]) == (7, "events.jsonl:7: it failed again")


def test_a_dead_line_is_read_again_and_added_once(ws: Workspace) -> None:
    summary = ws.ingest("dialer", ["{broken", contact_line("p-1", "u-1", event_id="ok")])
    [letter] = ws.dead_letters("dialer")
    assert letter["line_no"] == 1 and summary.dead_letters.total == 1
    with ws.engine.begin() as connection:
        with pytest.raises(EventError, match="dead letter"):
            inbox.requeue(connection, ws.rules(), letter)  # still unreadable: refused
        fixed = {**letter, "raw": contact_line("p-2", "u-1", event_id="new")}
        assert inbox.requeue(connection, ws.rules(), fixed) == "added to the inbox as #2"
        again = {**fixed, "event_id": None}
        assert inbox.requeue(connection, ws.rules(), again) == (
            "already in the inbox (1 duplicate events); nothing added"
        )
    assert statuses(ws) == [(1, "dialer", "ok", "applied"), (2, "dialer", "new", "pending")]


# ------------------------------------------------------------------ vendor lines


def test_a_vendor_line_is_read_as_the_webhook_it_was_captured_from(ws: Workspace) -> None:
    body = json.loads((AIRCALL / "call.ended.json").read_text())["body"]
    adapter = adapter_for("aircall", "aircall")
    plain = vendor_line_request(json.dumps(body), adapter)
    assert plain.content_type == "application/json" and json.loads(plain.body) == body
    envelope = json.dumps({"headers": {"X-Kept": "1"}, "body": "<xml/>"})
    request = vendor_line_request(envelope, adapter)
    assert (request.body, request.headers) == (
        b"<xml/>",
        {"x-kept": "1", "content-type": "text/xml"},
    )
    with pytest.raises(EventError, match='field "headers": must be an object of strings'):
        vendor_line_request(json.dumps({"headers": {"a": 1}, "body": {}}), adapter)

    [item] = items_of_line(adapter, json.dumps(body), "calls.jsonl:1", 1)
    assert item.error is None and item.events and item.where == "calls.jsonl:1"
    summary = ws.ingest("aircall", [json.dumps(body), json.dumps(body)], source="calls.jsonl")
    assert (summary.accepted, summary.duplicates) == (1, 1)
    assert summary.events == len(item.events)
    [row] = ws.inbox_rows(integration="aircall")
    assert row["event_id"] == item.key and row["status"] == "applied"
    assert "tok-4f1c9a0e" not in row["payload"]  # Aircall's token is not kept


def test_an_aircall_recording_ready_after_the_call_ended_lands_on_the_call(ws: Workspace) -> None:
    ended = json.loads((AIRCALL / "call.ended.json").read_text())["body"]
    ended["data"].update(recording=None, asset=None)
    assets = json.loads((AIRCALL / "call.comm_assets_generated.json").read_text())["body"]
    late = {**ended, "timestamp": assets["timestamp"] + 60}  # a redelivery without links
    summary = ws.ingest("aircall", [json.dumps(b) for b in (ended, assets, late)])
    assert (summary.accepted, len(summary.failed)) == (3, 0)
    [call] = ws.activities(integration="aircall")
    assert call["properties"]["recording_url"] == assets["data"]["asset"]
    assert call["properties"]["duration_s"] == ended["data"]["duration"]


def test_a_generic_line_is_one_canonical_event_stored_as_written(ws: Workspace) -> None:
    line = contact_line("p-1", "u-1", event_id="x1")
    [item] = items_of_line(adapter_for("generic", "dialer"), line, "f:1", 1)
    assert (item.key, item.payload, len(item.events or [])) == ("x1", line, 1)


# ------------------------------------------------------------------ the fallback


@pytest.fixture
def numbers(ws: Workspace) -> Any:
    """A scratch table whose unique key refuses a number written twice."""
    table = sa.Table("pipeline_numbers", sa.MetaData(), sa.Column("n", sa.Integer, unique=True))
    table.create(ws.engine)
    yield table
    table.drop(ws.engine)


def test_a_refused_batch_is_applied_unit_by_unit(ws: Workspace, numbers: sa.Table) -> None:
    refused: list[tuple[int, str]] = []

    def insert(connection: sa.Connection, values: list[int]) -> int:
        connection.execute(sa.insert(numbers), [{"n": n} for n in values])
        return len(values)

    def each(connection: sa.Connection, n: int) -> int:
        return insert(connection, [n])

    def batch(connection: sa.Connection) -> int:
        return insert(connection, [1, 2, 2, 3])

    done = apply_with_fallback(
        ws.engine, batch, [1, 2, 2, 3], each, lambda n, exc: refused.append((n, failure_text(exc)))
    )
    assert done == [1, 1, 1]
    assert [n for n, _ in refused] == [2]
    assert refused[0][1].startswith("the database refused the event: ")
    with ws.engine.connect() as connection:
        assert sorted(connection.scalars(sa.select(numbers.c.n))) == [1, 2, 3]
    # A batch that goes through is one transaction; its units are never looked at.
    assert apply_with_fallback(ws.engine, lambda c: insert(c, [4, 5]), [4, 5], each, never) == [2]


def never(unit: object, error: Exception) -> None:
    pytest.fail(f"{unit} refused: {error}")


def test_a_refused_batch_with_nothing_to_isolate_raises(ws: Workspace, numbers: sa.Table) -> None:
    def twice(connection: sa.Connection) -> None:
        connection.execute(sa.insert(numbers), [{"n": 7}, {"n": 7}])

    with pytest.raises(sa.exc.IntegrityError):
        apply_with_fallback(ws.engine, twice, [], lambda c, u: None, never)
    outcome = attempt(ws.engine, twice)
    assert isinstance(outcome, Refusal) and isinstance(outcome.error, sa.exc.IntegrityError)
    with ws.engine.connect() as connection:  # rolled back: nothing of it is kept
        assert list(connection.scalars(sa.select(numbers.c.n))) == []


def test_a_table_gone_is_an_outage_not_a_dead_letter_per_row(ws: Workspace) -> None:
    """A table the batch writes is missing (a database restored without it, a migration
    not run): every row would fail alike, so nothing is dead-lettered for the database's
    fault — the drain raises, and the rows wait for the table (SQLite says "no such table",
    an OperationalError; PostgreSQL an UndefinedTable, a ProgrammingError)."""
    items = [
        InboxItem(f"c{i}", None, contact_line(f"p-{i}", "u-1", event_id=f"c{i}")) for i in (1, 2)
    ]
    write(ws, "dialer", items)
    with ws.engine.begin() as connection:  # renamed back after: the database is shared
        connection.execute(sa.text("ALTER TABLE owner_decisions RENAME TO decisions_away"))
    try:
        with pytest.raises(sa.exc.DBAPIError):
            drain(ws.engine, ws.rules())
        assert [s for *_, s in statuses(ws)] == ["pending", "pending"]
        assert ws.dead_letters() == []
    finally:
        with ws.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE decisions_away RENAME TO owner_decisions"))


def test_an_outage_is_raised_not_taken_for_a_refusal(ws: Workspace) -> None:
    def outage(_connection: sa.Connection) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    with pytest.raises(sa.exc.OperationalError):
        apply_with_fallback(ws.engine, outage, [1], lambda c, u: None, never)
