"""Webhook intake without HTTP, on SQLite and PostgreSQL: each refusal of ``Intake.check``,
redeliveries, and the group-commit writer's promises (requests share commits; a commit that
fails fails every request in it and loses nothing acknowledged before)."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from leadsync.pipeline.inbox import InboxItem
from leadsync.pipeline.intake import GroupCommitWriter, Intake, IntakeError, Receipt
from leadsync.sources.base import WebhookRequest
from leadsync.workspace import Workspace
from tests.helpers import contact_line, settings, workspace_config

SECRET = "s3cret"
NDJSON = "application/x-ndjson"


def request(body: bytes, secret: str = SECRET, content_type: str = NDJSON) -> WebhookRequest:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"content-type": content_type, "x-leadsync-signature": f"sha256={signature}"}
    return WebhookRequest("POST", "http://test/webhooks/dialer", headers, body)


def lines(*event_ids: str) -> bytes:
    return "\n".join(contact_line(f"p-{e}", "u-1", event_id=e) for e in event_ids).encode()


@pytest.fixture
def intake(workspace: Workspace) -> Iterator[Intake]:
    workspace.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
    service = Intake(workspace.engine, environ={"DIALER_SECRET": SECRET}, max_body=4096)
    service.start()
    try:
        yield service
    finally:
        service.stop()


def refusal(intake: Intake, integration: str, req: WebhookRequest) -> IntakeError:
    with pytest.raises(IntakeError) as caught:
        intake.check(integration, req)
    return caught.value


# ------------------------------------------------------------------ Intake.check


def test_a_good_request_is_cut_into_one_item_per_event(intake: Intake) -> None:
    items, ack = intake.check("dialer", request(lines("e1", "e2")))
    assert [item.key for item in items] == ["e1", "e2"] and ack is None


def test_each_refusal_has_its_status_and_says_what_is_allowed(
    workspace: Workspace, intake: Intake
) -> None:
    unknown = refusal(intake, "nobody", request(lines("e1")))
    assert (unknown.status, unknown.detail) == (404, "no integration named 'nobody'")
    large = refusal(intake, "dialer", request(b"x" * 4097))
    assert large.status == 413
    assert large.detail == "the body has 4097 bytes; at most 4096 are accepted"
    media = refusal(intake, "dialer", request(lines("e1"), content_type="text/plain"))
    assert media.status == 415 and "content type 'text/plain' is not accepted" in media.detail
    assert NDJSON in media.detail
    forged = refusal(intake, "dialer", request(lines("e1"), secret="guess"))
    assert forged.status == 401
    # None of these is kept: they are not known to come from the vendor.
    assert workspace.dead_letters() == []
    assert workspace.inbox_rows() == []


def test_an_authentic_body_that_cannot_be_cut_is_kept_as_a_dead_letter(
    workspace: Workspace, intake: Intake
) -> None:
    broken = refusal(intake, "dialer", request(b'{"id": ', content_type="application/json"))
    assert broken.status == 400 and broken.title == "Malformed body"
    [letter] = workspace.dead_letters("dialer")
    assert (letter["source"], letter["event_id"]) == ("webhook", None)
    assert letter["error"] == broken.detail
    # Kept as the request it was (its kept headers and body), so a retry reads it again.
    assert json.loads(letter["raw"]) == {
        "headers": {"content-type": "application/json"},
        "body": '{"id": ',
    }
    assert workspace.inbox_rows() == []


def test_a_redelivered_request_is_acknowledged_as_duplicates(
    workspace: Workspace, intake: Intake
) -> None:
    first = intake.receive("dialer", request(lines("e1", "e2"))).result(timeout=60)
    again = intake.receive("dialer", request(lines("e2", "e3"))).result(timeout=60)
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (1, 1)
    assert sorted(r["event_id"] for r in workspace.inbox_rows()) == ["e1", "e2", "e3"]


# ------------------------------------------------------------------ GroupCommitWriter


def item(key: str) -> list[InboxItem]:
    return [InboxItem(key, None, contact_line(f"p-{key}", "u-1", event_id=key))]


def test_requests_waiting_for_a_commit_share_the_next_one(workspace: Workspace) -> None:
    entered, gate = threading.Event(), threading.Event()
    commits: list[tuple[float, int]] = []
    wakes: list[int] = []

    def hold_the_first(seconds: float, rows: int) -> None:
        commits.append((seconds, rows))
        if len(commits) == 1:  # the writer waits here: the requests below queue up
            entered.set()
            gate.wait(30)

    writer = GroupCommitWriter(
        workspace.engine, on_commit=hold_the_first, wake=lambda: wakes.append(1)
    )
    writer.start()
    try:
        first = writer.submit("dialer", item("k-first"), None)
        assert entered.wait(30)
        futures = [writer.submit("dialer", item(f"k{n}"), None) for n in range(10)]
        gate.set()
        receipts = [future.result(timeout=60) for future in [first, *futures]]
        again = writer.submit("dialer", item("k3"), None).result(timeout=60)
    finally:
        gate.set()
        writer.stop()
    assert [(r.accepted, r.duplicates) for r in receipts] == [(1, 0)] * 11
    assert (again.accepted, again.duplicates) == (0, 1)
    # The first request alone, the ten that waited in one commit, the redelivery alone:
    # every commit is heard with the rows it added; the worker is woken for new rows only.
    assert writer.jobs == 12 and writer.groups == 3
    assert [rows for _, rows in commits] == [1, 10, 0]
    assert all(seconds >= 0 for seconds, _ in commits) and len(wakes) == 2
    assert len(workspace.inbox_rows()) == 11


def test_a_hook_without_arguments_is_taken_as_the_wake_up(workspace: Workspace) -> None:
    """The older form, ``on_commit=worker.wake``: called after a commit that added rows."""
    wakes: list[int] = []
    writer = GroupCommitWriter(workspace.engine, on_commit=lambda: wakes.append(1))
    assert writer.on_commit is None and writer.wake is not None
    writer.start()
    try:
        writer.submit("dialer", item("k1"), None).result(timeout=60)
    finally:
        writer.stop()
    assert wakes == [1]


def test_a_failed_commit_fails_every_request_in_it_and_loses_nothing_acknowledged(
    workspace: Workspace,
) -> None:
    writer = GroupCommitWriter(workspace.engine)
    writer.start()
    try:
        acknowledged = writer.submit("dialer", item("kept"), None).result(timeout=60)
        assert isinstance(acknowledged, Receipt) and acknowledged.accepted == 1
        with workspace.engine.begin() as connection:  # the inbox goes away
            connection.execute(sa.text("ALTER TABLE inbox RENAME TO inbox_away"))
        futures = [writer.submit("dialer", item(f"lost{n}"), None) for n in range(3)]
        outcomes = [outcome(future) for future in futures]
        with workspace.engine.begin() as connection:
            connection.execute(sa.text("ALTER TABLE inbox_away RENAME TO inbox"))
        retried = writer.submit("dialer", item("lost0"), None).result(timeout=60)
    finally:
        writer.stop()
    # Every request of the failed commits is failed (the vendor retries it): none is
    # answered as if it had been stored, none is refused as the vendor's fault.
    assert all(isinstance(o, sa.exc.DBAPIError) for o in outcomes), outcomes
    assert retried.accepted == 1
    assert sorted(r["event_id"] for r in workspace.inbox_rows()) == ["kept", "lost0"]
    assert workspace.dead_letters() == []


def outcome(future: concurrent.futures.Future[Receipt]) -> Receipt | BaseException:
    try:
        return future.result(timeout=60)
    except Exception as exc:
        return exc


def test_a_stopped_writer_takes_no_request(workspace: Workspace) -> None:
    writer = GroupCommitWriter(workspace.engine)
    with pytest.raises(RuntimeError, match="the writer is not running"):
        writer.submit("dialer", item("k"), None)
    assert workspace.inbox_rows() == []
