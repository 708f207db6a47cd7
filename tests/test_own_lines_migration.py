"""Migration 0028: the company's lines tools named (``own_lines``, indexed by number) and the
internal calls (``internal_activities``) start empty — a workspace learns its lines from the
events after the upgrade —; the downgrade drops both. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from tests.test_decided_at_migration import _database, _migrate

TABLES = {"own_lines", "internal_activities"}


def _tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(sa.inspect(connection).get_table_names()) & TABLES


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_tables_come_empty_and_go_on_downgrade(backend: str, tmp_path: Path) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")  # a scratch PostgreSQL database starts there
            _migrate(engine, "0027", down=True)
            assert _tables(engine) == set()
            _migrate(engine, "0028")
            assert _tables(engine) == TABLES
            with engine.connect() as connection:
                indexes = {i["name"] for i in sa.inspect(connection).get_indexes("own_lines")}
                counts = [
                    connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in sorted(TABLES)
                ]
            assert "ix_own_lines_number" in indexes and counts == [0, 0]
            _migrate(engine, "0027", down=True)
            assert _tables(engine) == set()
        finally:
            engine.dispose()
