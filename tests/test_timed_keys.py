"""Hashed dedupe keys begin with the event's time (``t:<time>:<hash>``), and an inbox written
before that still recognizes a redelivery stored under the untimed form (``h:<hash>``), on
SQLite and PostgreSQL, through webhook intake (group commits) and an ingest (the caller's
transaction); the migration that marks when untimed keys stopped being written."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.model import ts_to_datetime
from leadsync.pipeline.intake import Intake
from leadsync.sources import adapter_for
from leadsync.sources.base import WebhookRequest, stable_key, timed_key
from leadsync.store import inbox as inbox_store
from leadsync.store.database import MIGRATIONS, create_db_engine, migrate
from leadsync.workspace import Workspace
from tests.helpers import settings as integration_settings
from tests.helpers import workspace_config

TOKEN = "aircall-token"
FIXTURE = Path(__file__).parent / "fixtures" / "webhooks" / "aircall" / "call.ended.json"


def call_body(call_id: int, timestamp: int) -> bytes:
    body = json.loads(FIXTURE.read_text())["body"]
    body["token"] = TOKEN
    body["data"]["id"] = call_id
    body["timestamp"] = timestamp
    return json.dumps(body).encode()


def request(body: bytes) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    return WebhookRequest("POST", "http://test/webhooks/phone", headers, body)


def key_of(body: bytes) -> str:
    adapter = adapter_for("aircall", "phone", None)
    [piece] = adapter.pieces(request(body))
    return piece.key


@pytest.fixture
def intake(workspace: Workspace) -> Iterator[Intake]:
    config = {"phone": integration_settings(kind="aircall", secret_env="PHONE_TOKEN")}
    workspace.apply_config(workspace_config(config))
    service = Intake(workspace.engine, environ={"PHONE_TOKEN": TOKEN})
    service.start()
    try:
        yield service
    finally:
        service.stop()


def stored_before_timed_keys(workspace: Workspace, event_id: str, until: str) -> None:
    """An inbox row as a version before timed keys wrote it, and the mark migration 0012
    leaves when the inbox held rows (epoch ms)."""
    until_ms = _epoch_ms(until)
    with workspace.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO inbox (seq, integration, event_id, received_at, occurred_at, "
                "payload, status, source) VALUES (1, 'phone', :e, '2026-11-01T09:00:01.000Z', "
                "'2026-11-01T09:00:00.000Z', '{}', 'applied', 'webhook')"
            ),
            {"e": event_id},
        )
        connection.execute(
            sa.text("INSERT INTO counters (name, value) VALUES (:n, :v)"),
            {"n": inbox_store.UNTIMED_UNTIL, "v": until_ms},
        )
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT setval('inbox_seqs', 1)"))


def _epoch_ms(ts: str) -> int:
    return int(ts_to_datetime(ts).timestamp() * 1000)


def test_a_hashed_key_begins_with_the_event_time_and_keeps_the_hash() -> None:
    body = call_body(812345, 1_762_095_600)  # 2025-11-02T15:00:00Z
    key = key_of(body)
    untimed = stable_key("aircall", "call.ended", 812345, 1_762_095_600)
    assert key == "t:2025-11-02T15:00:00.000Z:" + untimed.removeprefix("h:")
    assert inbox_store.untimed_key(key) == untimed
    # The same body delivered again has the same key; another time is another event.
    assert key_of(body) == key
    assert key_of(call_body(812345, 1_762_095_601)) != key
    # Keys a vendor gives, and hashed keys of events without a time, are left as they are.
    assert timed_key("evt-1", "2026-11-01T09:00:00.000Z") == "evt-1"
    assert timed_key(untimed, None) == untimed
    assert inbox_store.untimed_key("evt-1") is None
    assert inbox_store.untimed_key(untimed) is None


def test_a_redelivery_stored_under_its_untimed_key_is_recognized(
    workspace: Workspace, intake: Intake
) -> None:
    body = call_body(812345, 1_762_095_600)
    untimed = inbox_store.untimed_key(key_of(body))
    assert untimed is not None
    stored_before_timed_keys(workspace, untimed, until="2026-01-01T00:00:00.000Z")
    receipt = intake.receive("phone", request(body)).result(timeout=60)
    assert (receipt.accepted, receipt.duplicates) == (0, 1)
    # A new event beside it in the same commit is still written, numbered after the old row.
    other = call_body(812346, 1_762_095_700)
    both = [intake.receive("phone", request(b)) for b in (body, other)]
    assert [(r.accepted, r.duplicates) for r in (f.result(timeout=60) for f in both)] == [
        (0, 1),
        (1, 0),
    ]
    with workspace.engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT seq, event_id FROM inbox ORDER BY seq")).all()
    assert rows == [(1, untimed), (2, key_of(other))]
    # Preview's lookup answers with the key it was asked for.
    with workspace.engine.connect() as connection:
        known = inbox_store.known_event_ids(
            connection, "phone", {key_of(body), key_of(other), "t:unknown"}
        )
    assert known == {key_of(body), key_of(other)}


def test_an_ingest_recognizes_an_untimed_key_too(workspace: Workspace, intake: Intake) -> None:
    body = call_body(812345, 1_762_095_600)
    untimed = inbox_store.untimed_key(key_of(body))
    assert untimed is not None
    stored_before_timed_keys(workspace, untimed, until="2026-01-01T00:00:00.000Z")
    result = workspace.ingest("phone", [body.decode()])
    assert (result.accepted, result.duplicates) == (0, 1)


def test_events_after_the_mark_are_not_looked_up_under_an_untimed_key(
    workspace: Workspace, intake: Intake
) -> None:
    """Only events older than the mark can have been stored untimed: a newer one costs no
    lookup (and an untimed row of it, which no version writes any more, is not looked for)."""
    body = call_body(812345, 1_762_095_600)  # 2025-11-02: after the mark below
    untimed = inbox_store.untimed_key(key_of(body))
    assert untimed is not None
    stored_before_timed_keys(workspace, untimed, until="2025-11-01T00:00:00.000Z")
    receipt = intake.receive("phone", request(body)).result(timeout=60)
    assert (receipt.accepted, receipt.duplicates) == (1, 0)


def _migrations(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _at(url: str, revision: str) -> sa.Engine:
    engine = create_db_engine(url)
    with engine.begin() as connection:
        command.upgrade(_migrations(connection), revision)
    return engine


def test_the_migration_marks_an_inbox_that_held_rows_and_down_restores_the_counter(
    tmp_path: Path,
) -> None:
    empty = _at(f"sqlite:///{tmp_path / 'empty.db'}", "0011")
    assert migrate(empty) is True
    with empty.connect() as connection:
        marks = connection.execute(sa.text("SELECT count(*) FROM counters")).scalar_one()
    empty.dispose()
    assert marks == 0  # never held an untimed key: no lookup, ever

    held = _at(f"sqlite:///{tmp_path / 'held.db'}", "0011")
    with held.begin() as connection:
        for seq in (1, 2):
            connection.execute(
                sa.text(
                    "INSERT INTO inbox (seq, integration, event_id, received_at, occurred_at, "
                    "payload, status) VALUES (:s, 'phone', :e, '2026-11-01T09:00:01.000Z', "
                    "'2026-11-01T09:00:00.000Z', '{}', 'applied')"
                ),
                {"s": seq, "e": f"h:{seq}"},
            )
    assert migrate(held) is True
    with held.connect() as connection:
        [(name, until)] = connection.execute(sa.text("SELECT name, value FROM counters")).all()
    # A day from the migration on: time for the older version's last rows and retries.
    assert name == inbox_store.UNTIMED_UNTIL and until > (time.time() + 23 * 3600) * 1000
    with held.begin() as connection:
        command.downgrade(_migrations(connection), "0011")
    with held.connect() as connection:
        counters = connection.execute(sa.text("SELECT name, value FROM counters")).all()
    held.dispose()
    # The older code numbers SQLite's rows with this counter: it goes on after the last.
    assert counters == [("inbox_seq", 2)]


# ------------------------------------------------------------------ appends, against a model

_HASHES = [hashlib.sha256(str(n).encode()).hexdigest()[:40] for n in range(12)]
_BEFORE, _MARK, _AFTER = (
    "2026-01-01T00:00:00.000Z",
    "2026-02-01T00:00:00.000Z",
    "2026-03-01T00:00:00.000Z",
)

# (integration, event, after the mark?) — the event's timed key, or its untimed one when stored
# by an older version before the test's appends.
_row = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 11), st.booleans())


def _inbox_row(integration: str, event: int, late: bool) -> inbox_store.InboxRow:
    at = _AFTER if late else _BEFORE
    key = f"t:{at}:{_HASHES[event]}"
    return inbox_store.InboxRow(integration, key, at, at, "{}", "pending", "test", None)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=st.lists(_row, max_size=6),
    marked=st.booleans(),
    commits=st.lists(st.lists(_row, min_size=1, max_size=6), min_size=1, max_size=6),
)
def test_appends_number_and_skip_rows_as_a_model_says(
    workspace: Workspace,
    old: list[tuple[str, int, bool]],
    marked: bool,
    commits: list[list[tuple[str, int, bool]]],
) -> None:
    """Group commits (the Appender) and appends in a transaction (an ingest), in turn: each
    row gets the next number unless the inbox holds its key — or, for an event older than the
    mark, its untimed key — or an earlier row of the same append has it. SQLite's numbers have
    no gaps; PostgreSQL's grow in the order of the rows."""
    engine = workspace.engine
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM inbox"))
        connection.execute(sa.text("DELETE FROM counters"))
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT setval('inbox_seqs', 1, false)"))
        for integration, event, _ in dict.fromkeys(old):
            inbox_store.append(
                connection,
                [_inbox_row(integration, event, False)._replace(event_id=f"h:{_HASHES[event]}")],
            )
        if marked:
            connection.execute(
                sa.text("INSERT INTO counters (name, value) VALUES (:n, :v)"),
                {"n": inbox_store.UNTIMED_UNTIL, "v": _epoch_ms(_MARK)},
            )
    held = {(integration, f"h:{_HASHES[event]}") for integration, event, _ in old}
    appender = inbox_store.Appender(engine)
    numbers: list[int] = []
    try:
        for turn, commit in enumerate(commits):
            rows = [_inbox_row(*row) for row in commit]
            expected_new: list[bool] = []
            for row, (integration, event, late) in zip(rows, commit, strict=True):
                untimed = (integration, f"h:{_HASHES[event]}")
                new = (integration, row.event_id) not in held and not (
                    marked and not late and untimed in held
                )
                expected_new.append(new)
                held.add((integration, row.event_id))
            if turn % 2:
                seqs = appender.append(rows)
            else:
                with engine.begin() as connection:
                    seqs = inbox_store.append(connection, rows)
            assert [seq is not None for seq in seqs] == expected_new
            given = [seq for seq in seqs if seq is not None]
            assert given == sorted(given) and all(not numbers or s > numbers[-1] for s in given)
            numbers += given
    finally:
        appender.close()
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT seq, integration, event_id FROM inbox")).all()
    assert sorted(seq for seq, _, _ in stored if seq in numbers) == numbers
    assert len({(i, e) for _, i, e in stored}) == len(stored)
    if engine.dialect.name == "sqlite":
        assert sorted(seq for seq, _, _ in stored) == list(range(1, len(stored) + 1))
