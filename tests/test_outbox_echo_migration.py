"""Migration 0027: outbox rows get their echo columns; rows written before it are not awaited
(leadsync did not follow their echoes), and the partial index of awaited rows is made. On
SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from tests.test_decided_at_migration import _database, _migrate

ECHO_COLUMNS = {"echo", "echo_event_id", "echo_at", "awaited_until"}


def _columns_and_indexes(engine: sa.Engine) -> tuple[set[str], set[str]]:
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        columns = {c["name"] for c in inspector.get_columns("outbox")}
        indexes = {str(i["name"]) for i in inspector.get_indexes("outbox")}
    return columns, indexes


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_rows_from_before_are_not_awaited(backend: str, tmp_path: Path) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")  # a scratch PostgreSQL database starts there
            _migrate(engine, "0026", down=True)
            assert not _columns_and_indexes(engine)[0] & ECHO_COLUMNS
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO outbox (integration, record_id, record_type, external_id, "
                        "owner_id, external_owner_id, changed_at, source, reason, status) "
                        "VALUES ('dialer', 1, 'contact', 'p-1', '101', 'u-1', "
                        "'2026-11-01T09:00:00.000Z', '(crm)', 'set 101', 'pending')"
                    )
                )
            _migrate(engine, "0027")
            columns, indexes = _columns_and_indexes(engine)
            assert columns >= ECHO_COLUMNS and "ix_outbox_awaited" in indexes
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.text("SELECT external_owner_id, echo, awaited_until FROM outbox")
                ).all()
            assert [tuple(r) for r in rows] == [("u-1", None, None)]
            _migrate(engine, "0026", down=True)  # and back: the columns and the index go
            columns, indexes = _columns_and_indexes(engine)
            assert not columns & ECHO_COLUMNS and "ix_outbox_awaited" not in indexes
        finally:
            engine.dispose()
