"""A worker's drain of a backlog is many batches, and the worker answers between them: a
settings change (saved here or in another process) applies from the next batch, a stop ends
the drain after the batch under way, and each batch is counted as it commits. A probe found
all three waiting for the whole backlog: 45,000 events decided under a map changed 20 s
before, a SIGTERM honoured 17 s later, ``leadsync_events_applied_total`` flat during the
drain (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadsync.engine import BatchResult
from leadsync.pipeline.intake import Intake
from leadsync.pipeline.worker import Worker
from leadsync.workspace import Workspace
from tests.helpers import settings, workspace_config
from tests.test_worker import generic_request


def _contact(n: int) -> dict[str, object]:
    return {
        "id": f"c{n}",
        "occurred_at": f"2026-11-01T09:00:{n:02d}Z",
        "type": "record",
        "object": "contact",
        "external_id": f"p-{n}",
        "properties": {"email": f"p{n}@globex.test"},
        "owner": "u-7",
    }


def _config(owner: str) -> object:
    return workspace_config(
        {"dialer": settings(secret_env="DIALER_SECRET", users={"map": {"u-7": owner}})}
    )


@pytest.fixture
def backlog(workspace: Workspace) -> Iterator[Workspace]:
    """Twelve contacts of rep u-7 pending in the inbox, u-7 mapped to owner 101."""
    workspace.apply_config(_config("101"))
    intake = Intake(workspace.engine, environ={"DIALER_SECRET": "s3cret"})
    intake.start()
    try:
        request = generic_request([_contact(n) for n in range(12)])
        assert intake.receive("dialer", request).result(timeout=60).accepted == 12
    finally:
        intake.stop()
    yield workspace


def _owners(ws: Workspace) -> list[str | None]:
    return [ws.find(external=f"dialer:p-{n}")[0]["owner_id"] for n in range(12)]


def test_a_settings_change_reaches_a_drain_under_way_at_its_next_batch(backlog: Workspace) -> None:
    worker = Worker(backlog.engine, batch_size=4)
    batches: list[int] = []

    def after(batch: BatchResult) -> None:
        batches.append(batch.events)
        if len(batches) == 1:  # a person maps u-7 to 102 while the backlog drains
            backlog.apply_config(_config("102"))
            worker.reload_rules()

    worker.on_result = after
    assert worker.run_once().events == 12  # one call: the drain goes on under the new rules
    assert _owners(backlog) == ["101"] * 4 + ["102"] * 8
    assert batches == [4, 4, 4] and worker.applied == 12


def test_a_change_saved_by_another_process_is_read_within_its_ttl(backlog: Workspace) -> None:
    worker = Worker(backlog.engine, batch_size=4)
    worker.rules = type(worker.rules)(backlog.engine, ttl_s=0.0)  # another process's save
    done: list[int] = []

    def after(batch: BatchResult) -> None:
        done.append(batch.events)
        if len(done) == 2:
            backlog.apply_config(_config("102"))  # no reload_rules: not this process

    worker.on_result = after
    assert worker.run_once().events == 12
    assert _owners(backlog) == ["101"] * 8 + ["102"] * 4


def test_a_stop_ends_the_drain_after_the_batch_under_way(backlog: Workspace) -> None:
    worker = Worker(backlog.engine, batch_size=4)
    worker.on_result = lambda _batch: worker.stop_soon()
    assert worker.run_once().events == 4
    counts = {r["status"]: r["count"] for r in backlog.inbox_counts()}
    assert counts == {"applied": 4, "pending": 8}
    # Another worker takes up the rest, each row once.
    other = Worker(backlog.engine, batch_size=4)
    assert other.run_once().events == 8
    assert {r["status"]: r["count"] for r in backlog.inbox_counts()} == {"applied": 12}
    assert _owners(backlog) == ["101"] * 12


def test_each_batch_is_counted_as_it_commits(backlog: Workspace) -> None:
    worker = Worker(backlog.engine, batch_size=5)
    seen: list[tuple[int, int]] = []  # (events of the batch, applied so far) as each commits
    worker.on_result = lambda batch: seen.append((batch.events, worker.applied))
    timed: list[float] = []
    worker.on_batch_seconds = timed.append
    assert worker.run_once().events == 12
    # Batches (SQLite: 5, 5, 2; PostgreSQL: as the router's parts cut them), each counted
    # when it commits, not all at the end.
    assert len(seen) >= 2 and all(events > 0 for events, _ in seen)
    assert [applied for _, applied in seen] == [
        sum(events for events, _ in seen[: i + 1]) for i in range(len(seen))
    ]
    assert seen[-1][1] == 12
    assert len(timed) == len(seen) and all(t >= 0 for t in timed)
