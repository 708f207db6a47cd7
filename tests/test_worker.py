"""Workers side by side and the group-commit writer, without HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from leadsync.intake import GroupCommitWriter, Intake, IntakeError
from leadsync.sources.base import WebhookRequest
from leadsync.worker import Worker
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
            }
        )
    )
    intake = Intake(workspace.engine, environ={"DIALER_SECRET": "s3cret", "PHONE_TOKEN": ""})
    problems = intake.secret_problems()
    assert problems == [
        "integration open: no secret_env, so its webhooks are refused (401)",
        "integration phone: environment variable PHONE_TOKEN is not set, so its webhooks are "
        "refused (401)",
    ]
    assert not any("s3cret" in p for p in problems)
