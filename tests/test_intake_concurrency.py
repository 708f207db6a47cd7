"""Two intake writers on one database, as two ``leadsync serve`` processes behind a load
balancer would be (SQLite and PostgreSQL): every acknowledged event is stored exactly once,
sequence numbers are unique, and on PostgreSQL no writer takes the counters row."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import random
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.pipeline.intake import Intake, Receipt
from leadsync.sources.base import WebhookRequest
from leadsync.store.database import create_db_engine
from leadsync.workspace import Workspace
from tests.helpers import contact_line, settings, workspace_config

SECRET = "s3cret"
EVENTS = 120


def request(event_ids: list[str]) -> WebhookRequest:
    body = "\n".join(contact_line(f"p-{e}", "u-1", event_id=e) for e in event_ids).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "content-type": "application/x-ndjson",
        "x-leadsync-signature": f"sha256={signature}",
    }
    return WebhookRequest("POST", "http://test/webhooks/dialer", headers, body)


@pytest.fixture
def servers(workspace: Workspace, db_url: str) -> Iterator[list[Intake]]:
    """Two intakes, each with an engine (a connection pool) of its own."""
    workspace.apply_config(workspace_config({"dialer": settings(secret_env="DIALER_SECRET")}))
    engines = [create_db_engine(db_url) for _ in range(2)]
    intakes = [Intake(engine, environ={"DIALER_SECRET": SECRET}) for engine in engines]
    for intake in intakes:
        intake.start()
    try:
        yield intakes
    finally:
        for intake in intakes:
            intake.stop()
        for engine in engines:
            engine.dispose()


def deliveries(seed: int) -> list[list[str]]:
    """Every event twice (a vendor's retry lands on the other server), in requests of one
    to three events, shuffled."""
    rng = random.Random(seed)
    ids = [f"e{n}" for n in range(EVENTS)] * 2
    rng.shuffle(ids)
    out: list[list[str]] = []
    while ids:
        size = rng.randint(1, 3)
        out.append(ids[:size])
        ids = ids[size:]
    return out


def test_two_writers_store_every_acknowledged_event_once(
    workspace: Workspace, servers: list[Intake]
) -> None:
    requests = deliveries(seed=14)

    def send(index: int) -> Receipt:
        intake = servers[index % 2]
        return intake.receive("dialer", request(requests[index])).result(timeout=60)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        receipts = list(pool.map(send, range(len(requests))))
    pieces = sum(len(r) for r in requests)
    assert sum(r.accepted for r in receipts) == EVENTS
    assert sum(r.duplicates for r in receipts) == pieces - EVENTS
    with workspace.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT seq, event_id FROM inbox")).all()
        counter = connection.execute(
            sa.text("SELECT value FROM counters WHERE name = 'inbox_seq'")
        ).scalar_one_or_none()
        if connection.dialect.name == "postgresql":
            transactions = connection.execute(
                sa.text("SELECT count(DISTINCT txid), count(txid) FROM inbox")
            ).one()
    assert sorted(event_id for _, event_id in rows) == sorted(f"e{n}" for n in range(EVENTS))
    seqs = sorted(seq for seq, _ in rows)
    assert len(set(seqs)) == EVENTS
    # No writer touched the counters: numbers come from the sequence (PostgreSQL) or the
    # table's rowid (SQLite).
    assert counter is None
    if workspace.engine.dialect.name == "postgresql":
        # Each row carries the transaction that wrote it (the router's commit order).
        assert transactions[1] == EVENTS and transactions[0] > 1
    else:
        # One writer at a time: numbers without gaps, redeliveries took none.
        assert seqs == list(range(1, EVENTS + 1))


def test_an_ingest_beside_intake_takes_no_counter(
    workspace: Workspace, servers: list[Intake]
) -> None:
    servers[0].receive("dialer", request(["w1", "w2"])).result(timeout=60)
    items = [InboxItem(k, None, contact_line(f"p-{k}", "u-1", event_id=k)) for k in ("w2", "i1")]
    with workspace.engine.begin() as connection:
        written, duplicates = write_items(
            connection, "dialer", items, "2026-11-01T09:00:01.000Z", "test", "pending"
        )
        counter = connection.execute(
            sa.text("SELECT count(*) FROM counters WHERE name = 'inbox_seq'")
        ).scalar_one()
    assert [item.key for _, item in written] == ["i1"] and duplicates == 1
    [(seq, _)] = written
    assert seq == max(r["seq"] for r in workspace.inbox_rows())
    assert counter == 0
