"""Hashed dedupe keys begin with the event's time and the object's id
(``t:<time>:<id>:<hash>``), and an inbox written before that still recognizes a redelivery
stored under an older form (``h:<hash>`` before migration 0012, ``t:<time>:<hash>`` before
0013), on SQLite and PostgreSQL, through webhook intake (group commits) and an ingest (the
caller's transaction); the migrations that mark when the older forms stopped being written."""

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

from leadsync.model import hashed_key, older_keys, ts_to_datetime
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


def stored_by_an_older_version(workspace: Workspace, event_id: str, until: str) -> None:
    """An inbox row as an older version wrote it, and the mark migrations 0012 and 0013
    leave when the inbox held rows (epoch ms)."""
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
            {"n": inbox_store.OLDER_KEYS_UNTIL, "v": until_ms},
        )
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT setval('inbox_seqs', 1)"))


def _epoch_ms(ts: str) -> int:
    return int(ts_to_datetime(ts).timestamp() * 1000)


AT = "2025-11-02T15:00:00.000Z"


def test_a_hashed_key_begins_with_the_event_time_and_the_call_id_and_keeps_the_hash() -> None:
    body = call_body(812345, 1_762_095_600)  # 2025-11-02T15:00:00Z
    key = key_of(body)
    untimed = stable_key("aircall", "call.ended", 812345, 1_762_095_600)
    digest = untimed.removeprefix("h:")
    content = key.rsplit(":", 1)[1]
    assert key == f"t:{AT}:812345:{digest}:{content}" and len(content) == 16
    # The forms an older version stored it under: before migration 0021, 0012, 0013.
    assert older_keys(key) == (f"t:{AT}:812345:{digest}", untimed, f"t:{AT}:{digest}")
    assert older_keys(f"t:{AT}:812345:{digest}") == (untimed, f"t:{AT}:{digest}")
    assert older_keys(f"t:{AT}:{digest}") == (untimed,)
    # The same body delivered again has the same key; another time is another event, and
    # so is another call at the same time.
    assert key_of(body) == key
    assert key_of(call_body(812345, 1_762_095_601)) != key
    assert key_of(call_body(812346, 1_762_095_600)).startswith(
        f"t:{AT}:812346:"
        + stable_key("aircall", "call.ended", 812346, 1_762_095_600).removeprefix("h:")
    )
    # Keys a vendor gives are left as they are, and so is their (absent) older form.
    assert timed_key("evt-1", AT) == "evt-1"
    assert timed_key("h:not-a-hash", AT) == "h:not-a-hash"
    assert older_keys("evt-1") == older_keys(untimed) == older_keys(f"t:{AT}:x") == ()
    # A hashed key of an event without a time is the one form it always had.
    assert timed_key(stable_key("aircall", "x", 1, None, order=1), None) == stable_key(
        "aircall", "x", 1, None
    )


@pytest.mark.parametrize(
    ("order", "kept"),
    [
        (812345, "812345"),
        ("0034x00001AbCdEf", "0034x00001AbCdEf"),
        ("run-12.v_2", "run-12.v_2"),
        ("x" * 32, "x" * 32),
        (None, None),
        (True, None),  # a boolean is no id
        (1.5, None),
        ("x" * 33, None),  # too long for the index's sake
        ("a b", None),  # not plain: spaces, colons, slashes, other letters
        ("a:b", None),
        ("https://api.calendly.com/invitees/AAA", None),
        ("é1", None),
        ("", None),
    ],
)
def test_only_a_plain_object_id_goes_into_the_key(order: object, kept: str | None) -> None:
    digest = "0123456789abcdef0123456789abcdef01234567"
    key = timed_key(hashed_key(digest, order), AT)
    assert key == (f"t:{AT}:{kept}:{digest}" if kept else f"t:{AT}:{digest}")
    assert older_keys(key)[0] == f"h:{digest}"


@pytest.mark.parametrize("form", [0, 1, 2], ids=["without-content", "untimed", "timed-without-id"])
def test_a_redelivery_stored_under_an_older_key_is_recognized(
    workspace: Workspace, intake: Intake, form: int
) -> None:
    body = call_body(812345, 1_762_095_600)
    untimed = older_keys(key_of(body))[form]
    stored_by_an_older_version(workspace, untimed, until="2026-01-01T00:00:00.000Z")
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


@pytest.mark.parametrize("form", [0, 1, 2], ids=["without-content", "untimed", "timed-without-id"])
def test_an_ingest_recognizes_an_older_key_too(
    workspace: Workspace, intake: Intake, form: int
) -> None:
    body = call_body(812345, 1_762_095_600)
    untimed = older_keys(key_of(body))[form]
    stored_by_an_older_version(workspace, untimed, until="2026-01-01T00:00:00.000Z")
    result = workspace.ingest("phone", [body.decode()])
    assert (result.accepted, result.duplicates) == (0, 1)


@pytest.mark.parametrize("form", [0, 1, 2], ids=["without-content", "untimed", "timed-without-id"])
def test_events_after_the_mark_are_not_looked_up_under_an_older_key(
    workspace: Workspace, intake: Intake, form: int
) -> None:
    """Only events older than the mark can have been stored under an older form: a newer one
    costs no lookup (and such a row of it, which no version writes any more, is not looked
    for)."""
    body = call_body(812345, 1_762_095_600)  # 2025-11-02: after the mark below
    untimed = older_keys(key_of(body))[form]
    stored_by_an_older_version(workspace, untimed, until="2025-11-01T00:00:00.000Z")
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
    assert name == inbox_store.OLDER_KEYS_UNTIL and until > (time.time() + 23 * 3600) * 1000
    with held.begin() as connection:
        command.downgrade(_migrations(connection), "0011")
    with held.connect() as connection:
        counters = connection.execute(sa.text("SELECT name, value FROM counters")).all()
    held.dispose()
    # The older code numbers SQLite's rows with this counter: it goes on after the last.
    assert counters == [("inbox_seq", 2)]


def _held_row(engine: sa.Engine, seq: int, event_id: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO inbox (seq, integration, event_id, received_at, occurred_at, "
                "payload, status) VALUES (:s, 'phone', :e, '2026-11-01T09:00:01.000Z', "
                "'2026-11-01T09:00:00.000Z', '{}', 'applied')"
            ),
            {"s": seq, "e": event_id},
        )


def _counters(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        return [
            tuple(row) for row in connection.execute(sa.text("SELECT name, value FROM counters"))
        ]


def test_migration_0013_marks_an_inbox_that_held_keys_without_the_id(tmp_path: Path) -> None:
    # Empty when 0012 ran (no mark), then rows written as t:<time>:<hash>: 0013 marks it.
    written = _at(f"sqlite:///{tmp_path / 'written.db'}", "0012")
    _held_row(written, 1, "t:2026-11-01T09:00:00.000Z:" + "a" * 40)
    assert _counters(written) == []
    assert migrate(written) is True
    [(name, until)] = _counters(written)
    assert name == inbox_store.OLDER_KEYS_UNTIL and until > (time.time() + 23 * 3600) * 1000
    written.dispose()

    # A mark further ahead (a clock that ran ahead when 0012 ran) is kept as it is.
    ahead = _at(f"sqlite:///{tmp_path / 'ahead.db'}", "0012")
    _held_row(ahead, 1, "h:" + "a" * 40)
    far = int((time.time() + 30 * 86400) * 1000)
    with ahead.begin() as connection:
        connection.execute(
            sa.text("INSERT INTO counters (name, value) VALUES (:n, :v)"),
            {"v": far, "n": inbox_store.OLDER_KEYS_UNTIL},
        )
    assert migrate(ahead) is True
    assert _counters(ahead) == [(inbox_store.OLDER_KEYS_UNTIL, far)]
    # Down to 0012 the mark stays (the older code then looks h:<hash> up, never wrongly).
    with ahead.begin() as connection:
        command.downgrade(_migrations(connection), "0012")
    assert _counters(ahead) == [(inbox_store.OLDER_KEYS_UNTIL, far)]
    ahead.dispose()


def test_migration_0021_marks_an_inbox_that_held_keys_without_their_content(
    tmp_path: Path,
) -> None:
    # At 0020 with rows (their mark long past): 0021 marks it again, a day ahead.
    written = _at(f"sqlite:///{tmp_path / 'written.db'}", "0020")
    _held_row(written, 1, "t:2026-11-01T09:00:00.000Z:812345:" + "a" * 40)
    with written.begin() as connection:
        connection.execute(sa.text("DELETE FROM counters"))
    assert migrate(written) is True
    [(name, until)] = _counters(written)
    assert name == inbox_store.OLDER_KEYS_UNTIL and until > (time.time() + 23 * 3600) * 1000
    written.dispose()
    # An empty inbox needs no lookup: no mark.
    empty = _at(f"sqlite:///{tmp_path / 'empty.db'}", "0020")
    with empty.begin() as connection:
        connection.execute(sa.text("DELETE FROM counters"))
    assert migrate(empty) is True
    assert _counters(empty) == []
    empty.dispose()


# ------------------------------------------------------------------ appends, against a model

_HASHES = [hashlib.sha256(str(n).encode()).hexdigest()[:40] for n in range(12)]
_BEFORE, _MARK, _AFTER = (
    "2026-01-01T00:00:00.000Z",
    "2026-02-01T00:00:00.000Z",
    "2026-03-01T00:00:00.000Z",
)

# (integration, event, after the mark?) — the event's key (with its time and id), appended.
_row = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 11), st.booleans())
# (integration, event, form) — the event (before the mark) as an older version stored it:
# ``h:<hash>`` (form 0) or ``t:<time>:<hash>`` (form 1).
_old = st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 11), st.integers(0, 1))


def _inbox_row(integration: str, event: int, late: bool) -> inbox_store.InboxRow:
    at = _AFTER if late else _BEFORE
    key = f"t:{at}:{event}:{_HASHES[event]}"
    return inbox_store.InboxRow(integration, key, at, at, "{}", "pending", "test", None)


def _older(event: int, form: int) -> str:
    return f"h:{_HASHES[event]}" if form == 0 else f"t:{_BEFORE}:{_HASHES[event]}"


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old=st.lists(_old, max_size=6),
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
    mark, one of its older keys — or an earlier row of the same append has it. SQLite's
    numbers have no gaps; PostgreSQL's grow in the order of the rows."""
    engine = workspace.engine
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM inbox"))
        connection.execute(sa.text("DELETE FROM counters"))
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT setval('inbox_seqs', 1, false)"))
        for integration, event, form in dict.fromkeys(old):
            inbox_store.append(
                connection,
                [_inbox_row(integration, event, False)._replace(event_id=_older(event, form))],
            )
        if marked:
            connection.execute(
                sa.text("INSERT INTO counters (name, value) VALUES (:n, :v)"),
                {"n": inbox_store.OLDER_KEYS_UNTIL, "v": _epoch_ms(_MARK)},
            )
    held = {(integration, _older(event, form)) for integration, event, form in old}
    appender = inbox_store.Appender(engine)
    numbers: list[int] = []
    try:
        for turn, commit in enumerate(commits):
            rows = [_inbox_row(*row) for row in commit]
            expected_new: list[bool] = []
            for row, (integration, event, late) in zip(rows, commit, strict=True):
                stored_older = any((integration, _older(event, f)) in held for f in (0, 1))
                new = (integration, row.event_id) not in held and not (
                    marked and not late and stored_older
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
