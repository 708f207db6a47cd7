"""Migration 0019 gives every older owner decision a ``decided_at``: its event's inbox
``received_at`` (by the event's id, or by the inbox row a further event ``KEY#suffix`` came
from), else its own ``at`` (no event: a person's change, an undo; an event no longer in the
inbox); down removes the column and its indexes. The indexes serve what reads them: the
list newest decided first, and ``undo --since`` (one integration's decisions made since a
time) reading only the window. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from leadsync.store.database import MIGRATIONS, create_db_engine
from leadsync.workspace import Workspace
from tests.conftest import scratch_postgres
from tests.helpers import contact_line, setup
from tests.test_undo import received_cut

T0 = "2026-11-01T09:00:00.000Z"

# (event_id, integration, at) of decisions an older version wrote, and the decided_at each gets.
OLD_DECISIONS = [
    ("e1", "dialer", T0, "2026-11-03T10:00:00.000Z"),  # its inbox row's received_at
    ("sf-1#00Q1", "sf", T0, "2026-11-03T11:00:00.000Z"),  # a further event of row sf-1
    ("sf-1#00Q2", "sf", T0, "2026-11-03T11:00:00.000Z"),
    ("a#b#c", "dialer", T0, "2026-11-03T12:00:00.000Z"),  # row a#b: up to the last "#"
    ("gone", "dialer", "2026-11-02T08:00:00.000Z", "2026-11-02T08:00:00.000Z"),  # not in inbox
    (None, None, "2026-11-04T09:30:00.000Z", "2026-11-04T09:30:00.000Z"),  # a person's change
    ("e1", "other", "2026-11-05T09:00:00.000Z", "2026-11-05T09:00:00.000Z"),  # other's e1: none
]
INBOX = [
    ("dialer", "e1", "2026-11-03T10:00:00.000Z"),
    ("sf", "sf-1", "2026-11-03T11:00:00.000Z"),
    ("dialer", "a#b", "2026-11-03T12:00:00.000Z"),
]


@contextmanager
def _database(backend: str, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        with scratch_postgres("leadsync_decided_at") as url:
            yield url


def _migrate(engine: sa.Engine, to: str, down: bool = False) -> None:
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, to)


def _indexes(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return {str(i["name"]) for i in sa.inspect(connection).get_indexes("owner_decisions")}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_older_decisions_get_their_events_received_time_else_their_own(
    backend: str, tmp_path: Path
) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            if backend == "postgres":
                _migrate(engine, "0018", down=True)
            else:
                _migrate(engine, "0018")
            with engine.begin() as connection:
                for seq, (integration, event_id, received) in enumerate(INBOX, 1):
                    connection.execute(
                        sa.text(
                            "INSERT INTO inbox (seq, integration, event_id, received_at, "
                            "occurred_at, payload, status) VALUES (:s, :i, :e, :r, :r, '{}', "
                            "'applied')"
                        ),
                        {"s": seq, "i": integration, "e": event_id, "r": received},
                    )
                for event_id, integration, at, _ in OLD_DECISIONS:
                    connection.execute(
                        sa.text(
                            "INSERT INTO owner_decisions (record_id, record_type, event_id, "
                            "integration, strategy, at, outcome, reason, flagged) VALUES (1, "
                            "'contact', :e, :i, 'fill_if_empty', :a, 'set', 'old', false)"
                        ),
                        {"e": event_id, "i": integration, "a": at},
                    )
            _migrate(engine, "head")
            with engine.connect() as connection:
                decided = connection.execute(
                    sa.text("SELECT decided_at FROM owner_decisions ORDER BY id")
                ).scalars()
                assert list(decided) == [d for *_, d in OLD_DECISIONS]
            assert {"ix_owner_decisions_decided", "ix_owner_decisions_integration_decided"} <= (
                _indexes(engine)
            )
            _migrate(engine, "0018", down=True)
            with engine.connect() as connection:
                columns = {c["name"] for c in sa.inspect(connection).get_columns("owner_decisions")}
            assert "decided_at" not in columns
            assert not {i for i in _indexes(engine) if "decided" in i}
            _migrate(engine, "head")  # the scratch database back as the others are
        finally:
            engine.dispose()


def _plans(engine: sa.Engine, run: Any) -> list[str]:
    """SQLite's plan of every owner_decisions query ``run`` sends (seen as the driver sends
    them: SQLAlchemy's cursor events, nothing patched)."""
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM owner_decisions" in statement and not statement.startswith("INSERT"):
            sent.append((statement, params))

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        run()
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    plans = []
    with engine.connect() as connection:
        for statement, params in sent:
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)
            plans.append(" | ".join(str(r[3]) for r in rows))
    return plans


def test_the_list_and_undo_since_read_the_decided_indexes(tmp_path: Path) -> None:
    """SQLite keeps no statistics: without its own index undo --since would read every
    decision of the integration (through (integration, at)), and the list sort them all."""
    with Workspace(f"sqlite:///{tmp_path / 'plans.db'}") as ws:
        setup(ws)
        ws.ingest("dialer", [contact_line("p-1", "u-1")])
        since = received_cut()
        ws.ingest("dialer", [contact_line("p-2", "u-9")])
        undo = _plans(ws.engine, lambda: ws.undo(integration="dialer", since=since, dry_run=True))
        assert "(integration=? AND decided_at>?)" in undo[0], undo
        assert "ix_owner_decisions_integration_decided" in undo[0], undo
        listed = _plans(ws.engine, lambda: ws.decisions(limit=10))
        assert listed == ["SCAN owner_decisions USING INDEX ix_owner_decisions_decided"]
        one = _plans(ws.engine, lambda: ws.decisions("dialer", limit=10))
        assert one == [
            "SEARCH owner_decisions USING INDEX ix_owner_decisions_integration_decided "
            "(integration=?)"
        ]
