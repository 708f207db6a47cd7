"""What intake tells the service (SQLite and PostgreSQL, without HTTP): every answered
webhook request through ``Intake.on_request``, and an outage of the database as one log line
without a traceback, answered 503."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from leadsync.api.webhooks import answer_webhook
from leadsync.pipeline.intake import UNKNOWN_INTEGRATION, GroupCommitWriter, Intake
from leadsync.sources.base import WebhookRequest
from leadsync.workspace import Workspace
from tests.helpers import contact_line, settings, workspace_config

SECRET = "s3cret"
PATH = "/webhooks/dialer"


def request(*event_ids: str, secret: str = SECRET) -> WebhookRequest:
    body = "\n".join(contact_line(f"p-{e}", "u-1", event_id=e) for e in event_ids).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/x-ndjson",
        "x-leadsync-signature": f"sha256={signature}",
    }
    return WebhookRequest("POST", "http://test" + PATH, headers, body)


class Held:
    """A writer hook that holds the writer in its first commit until released, so that the
    requests sent meanwhile make one group."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.commits: list[int] = []

    def __call__(self, seconds: float, rows: int) -> None:
        self.commits.append(rows)
        if len(self.commits) == 1:
            self.entered.set()
            self.gate.wait(30)


@pytest.fixture
def held() -> Held:
    return Held()


@pytest.fixture
def intake(workspace: Workspace, held: Held) -> Iterator[Intake]:
    workspace.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
    writer = GroupCommitWriter(workspace.engine, on_commit=held)
    service = Intake(workspace.engine, environ={"DIALER_SECRET": SECRET}, writer=writer)
    service.start()
    try:
        yield service
    finally:
        held.gate.set()
        service.stop()


def rename_inbox(workspace: Workspace, old: str, new: str) -> None:
    with workspace.engine.begin() as connection:
        connection.execute(sa.text(f"ALTER TABLE {old} RENAME TO {new}"))


def test_every_answered_request_is_heard_with_its_status(intake: Intake, held: Held) -> None:
    held.gate.set()
    heard: list[tuple[str, int]] = []
    intake.on_request = lambda integration, status: heard.append((integration, status))

    async def answers() -> list[int]:
        statuses = []
        for integration, req in [
            ("dialer", request("e1")),
            ("dialer", request("e1")),  # a redelivery: acknowledged again
            ("dialer", request("e2", secret="guess")),
            ("made-up", request("e3")),
        ]:
            answer = await answer_webhook(intake, integration, req, PATH)
            statuses.append(answer.status)
        return statuses

    assert asyncio.run(answers()) == [200, 200, 401, 404]
    # A name nobody configured is never a label of its own.
    assert heard == [
        ("dialer", 200),
        ("dialer", 200),
        ("dialer", 401),
        (UNKNOWN_INTEGRATION, 404),
    ]


def test_an_outage_is_one_log_line_without_a_traceback_and_a_503_each(
    workspace: Workspace, intake: Intake, held: Held, caplog: pytest.LogCaptureFixture
) -> None:
    heard: list[tuple[str, int]] = []
    intake.on_request = lambda integration, status: heard.append((integration, status))
    caplog.set_level(logging.INFO, logger="leadsync")

    async def during_the_outage() -> list[int]:
        first = asyncio.ensure_future(answer_webhook(intake, "dialer", request("e0"), PATH))
        await asyncio.get_running_loop().run_in_executor(None, held.entered.wait, 30)
        rename_inbox(workspace, "inbox", "inbox_away")  # the inbox is away
        # Three requests while the writer is held: one group, one failed commit.
        waiting = [
            asyncio.ensure_future(answer_webhook(intake, "dialer", request(f"e{n}"), PATH))
            for n in (1, 2, 3)
        ]
        await asyncio.sleep(0)  # each has checked and queued its rows
        held.gate.set()
        answers = await asyncio.gather(first, *waiting)
        return [answer.status for answer in answers]

    try:
        statuses = asyncio.run(during_the_outage())
    finally:
        rename_inbox(workspace, "inbox_away", "inbox")
    assert statuses == [200, 503, 503, 503]
    assert heard == [("dialer", 200)] + [("dialer", 503)] * 3
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    [line] = lines
    assert line.getMessage().startswith("intake: database unavailable (")
    assert line.getMessage().endswith("); 3 request(s) answered 503")
    assert line.exc_info is None
    assert [r["event_id"] for r in workspace.inbox_rows()] == ["e0"]
    # More requests answered 503 while it lasts: counted, not a line each; the database
    # back, one line says how many.
    rename_inbox(workspace, "inbox", "inbox_away")
    try:
        for n in range(5):
            assert (
                asyncio.run(answer_webhook(intake, "dialer", request(f"f{n}"), PATH)).status == 503
            )
    finally:
        rename_inbox(workspace, "inbox_away", "inbox")
    assert asyncio.run(answer_webhook(intake, "dialer", request("g0"), PATH)).status == 200
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(said) == 2, said
    assert said[1].startswith("intake: database available again: requests were answered 503 from ")
    assert said[1].endswith("s ago; 5 more request(s) answered 503")


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_restart_between_commits_costs_no_commit(
    workspace: Workspace, intake: Intake, held: Held, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL restarting between two requests: every session is gone. The writer gave
    its connection back to the pool once idle, and the pool replaces a session the server
    ended before it is used (tests/test_ops_outage.py on a live service): the next commit
    succeeds, with no 503 and no warning."""
    held.gate.set()
    caplog.set_level(logging.INFO, logger="leadsync")

    async def answer(event_id: str) -> int:
        return (await answer_webhook(intake, "dialer", request(event_id), PATH)).status

    assert asyncio.run(answer("e1")) == 200
    with workspace.engine.connect() as connection:
        connection.execute(
            sa.text(
                # Each session gone before this returns (its timeout, ms).
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert asyncio.run(answer("e2")) == 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert sorted(r["event_id"] for r in workspace.inbox_rows()) == ["e1", "e2"]
