"""Migration 0026: record identities get ``merged_into`` and ``merged_at`` (a merge at their
tool, engine/merges.py); identities that exist keep their record and get null in both (no
merge was kept before), and a downgrade drops the columns. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from tests.test_decided_at_migration import _database, _migrate


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_identities_that_exist_are_not_merged(backend: str, tmp_path: Path) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")
            _migrate(engine, "0025", down=True)
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO record_identities (integration, type, external_id, "
                        "record_id) VALUES ('crm', 'contact', '5101', 1)"
                    )
                )
            _migrate(engine, "0026")
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.text(
                        "SELECT external_id, record_id, merged_into, merged_at "
                        "FROM record_identities"
                    )
                ).all()
            assert [tuple(r) for r in rows] == [("5101", 1, None, None)]
            _migrate(engine, "0025", down=True)
            columns = {c["name"] for c in sa.inspect(engine).get_columns("record_identities")}
            assert not {"merged_into", "merged_at"} & columns
        finally:
            engine.dispose()
