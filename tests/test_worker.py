"""Workers side by side and the group-commit writer, without HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from leadsync.pipeline.intake import GroupCommitWriter, Intake, IntakeError
from leadsync.pipeline.worker import Worker
from leadsync.sources.base import WebhookRequest
from leadsync.workspace import Workspace
from tests.helpers import settings, snapshot, workspace_config


def generic_request(events: list[dict[str, object]], secret: str = "s3cret") -> WebhookRequest:
    import hashlib
    import hmac

    body = "\n".join(json.dumps(e) for e in events).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/x-ndjson",
        "x-leadsync-signature": f"sha256={signature}",
    }
    return WebhookRequest("POST", "http://test/webhooks/dialer", headers, body)


def contact(n: int, owner: str = "u-1") -> dict[str, object]:
    return {
        "id": f"c{n}",
        "occurred_at": f"2026-11-01T09:{n // 60:02d}:{n % 60:02d}Z",
        "type": "record",
        "object": "contact",
        "external_id": f"p-{n % 40}",
        "properties": {"email": f"p{n % 40}@globex.test"},
        "owner": owner,
    }


@pytest.fixture
def intake(workspace: Workspace) -> Iterator[Intake]:
    workspace.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
    service = Intake(workspace.engine, environ={"DIALER_SECRET": "s3cret"})
    service.start()
    try:
        yield service
    finally:
        service.stop()


def test_requests_from_many_threads_are_committed_exactly_once(
    workspace: Workspace, intake: Intake
) -> None:
    receipts = []
    errors: list[BaseException] = []

    def post(start: int) -> None:
        try:
            events = [contact(n) for n in range(start, start + 5)]
            receipts.append(intake.receive("dialer", generic_request(events)).result(timeout=60))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i * 5,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sum(r.accepted for r in receipts) == 200
    # The same 200 events again, from one thread: all duplicates, nothing added.
    again = intake.receive("dialer", generic_request([contact(n) for n in range(200)]))
    assert again.result(timeout=60).duplicates == 200
    counts = {r["status"]: r["count"] for r in workspace.inbox_counts()}
    assert counts == {"pending": 200}
    assert intake.writer.jobs == 41 and intake.writer.groups >= 1


def test_refusals_are_raised_before_anything_is_queued(
    workspace: Workspace, intake: Intake
) -> None:
    bad = generic_request([contact(1)], secret="wrong")
    with pytest.raises(IntakeError) as caught:
        intake.receive("dialer", bad)
    assert caught.value.status == 401
    with pytest.raises(IntakeError) as unknown:
        intake.receive("nope", generic_request([contact(1)]))
    assert unknown.value.status == 404
    assert workspace.inbox_counts() == []


def test_two_workers_apply_every_row_once_and_in_order(
    workspace: Workspace, intake: Intake, db_url: str
) -> None:
    for start in range(0, 300, 30):
        events = [contact(n, owner="u-1" if n % 2 else "u-9") for n in range(start, start + 30)]
        intake.receive("dialer", generic_request(events)).result(timeout=60)
    workers = [Worker(workspace.engine, batch_size=7, poll_s=0.01) for _ in range(2)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(w.applied for w in workers) == 300
    assert {r["status"] for r in workspace.inbox_counts()} == {"applied"}
    if not db_url.startswith("sqlite"):
        return
    # Same state as one process applying the same events from a file, in order (compared on
    # SQLite, where a second database is one more file).
    with Workspace(db_url.replace("leadsync.db", "alone.db")) as alone:
        alone.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
        alone.ingest(
            "dialer",
            [json.dumps(contact(n, owner="u-1" if n % 2 else "u-9")) for n in range(300)],
            batch_size=7,
        )
        assert snapshot(alone) == snapshot(workspace)


def test_worker_thread_wakes_and_stops(workspace: Workspace, intake: Intake) -> None:
    worker = Worker(workspace.engine, poll_s=30)  # only a wake-up makes it look again soon
    writer: GroupCommitWriter = intake.writer
    writer.on_commit = worker.wake
    worker.start()
    try:
        intake.receive("dialer", generic_request([contact(1)])).result(timeout=60)
        for _ in range(600):
            if workspace.inbox_counts() == [
                {"integration": "dialer", "status": "applied", "count": 1}
            ]:
                break
            threading.Event().wait(0.05)
        assert workspace.inbox_counts() == [
            {"integration": "dialer", "status": "applied", "count": 1}
        ]
    finally:
        worker.stop()
    assert worker.applied == 1 and worker.errors == 0


def test_integrations_that_cannot_receive_webhooks_are_named(workspace: Workspace) -> None:
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(secret_env="DIALER_SECRET"),
                "phone": {"kind": "aircall", "secret_env": "PHONE_TOKEN"},
                "open": {"kind": "outreach"},
                "sf": {"kind": "salesforce", "vendor": {"organization_id": "00D000000000001AAA"}},
                "sf2": {
                    "kind": "salesforce",
                    "secret_env": "SF_SECRET",
                    "vendor": {"organization_id": "00D000000000002AAA"},
                },
            }
        )
    )
    intake = Intake(workspace.engine, environ={"DIALER_SECRET": "s3cret", "PHONE_TOKEN": ""})
    problems = intake.secret_problems()
    assert problems == [
        "integration open: no secret_env, so its webhooks are refused (401)",
        "integration phone: environment variable PHONE_TOKEN is not set, so its webhooks are "
        "refused (401)",
        # Outbound Messages are checked by organization id: only the relay's need the secret.
        "integration sf2: environment variable SF_SECRET is not set, so its webhooks that need "
        "it are refused (401); the others are checked otherwise (Outbound Messages: "
        "OrganizationId equals vendor.organization_id; relayed change events: "
        "X-Leadsync-Signature, as the generic kind)",
    ]
    assert not any("s3cret" in p for p in problems)


# ------------------------------------------------------------------ review findings (issue 10)


def json_request(events: list[dict[str, object]], secret: str = "s3cret") -> WebhookRequest:
    import hashlib
    import hmac

    body = json.dumps(events).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-leadsync-signature": f"sha256={signature}"}
    return WebhookRequest("POST", "http://test/webhooks/dialer", headers, body)


def test_a_generic_request_is_read_once_before_it_is_answered(
    intake: Intake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its key and time come from one reading of each event; a JSON body is decoded once."""
    from leadsync.sources import canonical as generic

    calls = {"parse_line": 0, "parse_event": 0}
    for name in calls:
        real = getattr(generic, name)

        def spy(*args: object, _real: object = real, _name: str = name, **kw: object) -> object:
            calls[_name] += 1
            return _real(*args, **kw)  # type: ignore[operator]

        monkeypatch.setattr(generic, name, spy)
    events = [contact(n) for n in range(3)]
    for request, lines_parsed in ((json_request(events), 0), (generic_request(events), 3)):
        calls.update(parse_line=0, parse_event=0)
        items, _ = intake.check("dialer", request)
        assert [item.key for item in items] == ["c0", "c1", "c2"]
        assert [item.occurred_at for item in items] == [
            f"2026-11-01T09:00:0{n}.000Z" for n in range(3)
        ]
        assert calls == {"parse_line": lines_parsed, "parse_event": 3}, request.content_type
    unreadable = json_request([{"id": "x"}])  # kept under a hash of its text, time unknown
    [item] = intake.check("dialer", unreadable)[0]
    assert item.key.startswith("h:") and item.occurred_at is None


def test_each_batch_locks_the_id_counters_once(workspace: Workspace, intake: Intake) -> None:
    import sqlalchemy as sa

    locks: list[int] = []

    def on_begin(_connection: object) -> None:
        locks.append(0)

    shared: list[str] = []

    def on_statement(*args: object) -> None:
        statement = str(args[2])
        if statement.lstrip().upper().startswith("UPDATE COUNTERS") and locks:
            locks[-1] += 1
        if "pg_advisory_xact_lock_shared" in statement:
            shared.append(statement)

    sa.event.listen(workspace.engine, "begin", on_begin)
    sa.event.listen(workspace.engine, "before_cursor_execute", on_statement)
    try:
        summary = workspace.ingest("dialer", [json.dumps(contact(n)) for n in range(20)])
        assert summary.ok and summary.events == 20
        assert max(locks) == 1, locks  # the direct path: inbox write and engine, one lock
        locks.clear()
        intake.receive("dialer", generic_request([contact(n) for n in range(20, 40)])).result(
            timeout=60
        )
        before = len(locks)
        assert workspace.process_inbox(batch_size=7).events == 20
        if workspace.engine.dialect.name == "postgresql":
            locks = locks[before:]
            # Parallel workers: no batch of the drain waits on the counters row (ids come
            # from sequences; each batch holds the batch lock shared).
            assert locks and max(locks) == 0, locks
            assert shared, "the drain's batches take the batch lock shared"
        else:
            assert locks and max(locks) == 1, locks  # the drain: claim and engine, one lock
    finally:
        sa.event.remove(workspace.engine, "begin", on_begin)
        sa.event.remove(workspace.engine, "before_cursor_execute", on_statement)


def test_the_collector_pause_lasts_until_the_last_run_in_any_thread_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from leadsync.pipeline.inbox import batch_friendly_gc

    # What is checked is the bookkeeping (thresholds, freezing) of overlapping runs, and
    # which generations each first run collects: the young ones only — a full collection
    # walks every object the process holds (in a long test session, every object the
    # session made: 1,600 of them took four minutes).
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda generation=2: collections.append(generation) or 0)
    before = gc.get_threshold()
    inside, leave = threading.Event(), threading.Event()

    def first_run() -> None:
        with batch_friendly_gc():
            inside.set()
            leave.wait(timeout=10)

    thread = threading.Thread(target=first_run)
    thread.start()
    assert inside.wait(timeout=10)
    with batch_friendly_gc():
        leave.set()
        thread.join(timeout=10)  # the first run left while this one still runs
        assert gc.get_threshold()[0] == 50_000 and gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0

    def many() -> None:
        for _ in range(200):
            with batch_friendly_gc():
                pass

    threads = [threading.Thread(target=many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert collections and set(collections) == {1}  # young garbage collected, then frozen


def test_the_collector_is_off_during_a_batch_until_the_last_batch_in_any_thread_ends() -> None:
    import gc

    from leadsync.pipeline.collector import collector_off_during_batch

    assert gc.isenabled()
    inside, leave = threading.Event(), threading.Event()

    def first_batch() -> None:
        with collector_off_during_batch():
            inside.set()
            leave.wait(timeout=10)

    thread = threading.Thread(target=first_batch)
    thread.start()
    assert inside.wait(timeout=10)
    with collector_off_during_batch():
        assert not gc.isenabled()
        leave.set()
        thread.join(timeout=10)  # the first batch ended while this one still runs
        assert not gc.isenabled()
    assert gc.isenabled()

    gc.disable()  # turned off by someone else: a batch leaves it off
    try:
        with collector_off_during_batch():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
