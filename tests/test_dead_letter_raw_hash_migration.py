"""Migration 0037: dead letters get ``raw_hash`` (SHA-256 of their text), letters written
before get theirs, so a line of a file ingested again under another name is the letter it
was; a downgrade drops the column. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadsync.store.database import create_db_engine
from tests.test_decided_at_migration import _database, _migrate


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_letters_written_before_get_the_hash_of_their_text(backend: str, tmp_path: Path) -> None:
    texts = ["not json", '{"id": "é"}', *(f"line {n}" for n in range(1_005))]
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")
            _migrate(engine, "0036", down=True)
            with engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO dead_letters (integration, received_at, raw, error) "
                        "VALUES ('dialer', '2026-12-07T10:00:00Z', :raw, 'bad')"
                    ),
                    [{"raw": text} for text in texts],
                )
            _migrate(engine, "0037")
            with engine.connect() as connection:
                rows = connection.execute(
                    sa.text("SELECT raw, raw_hash FROM dead_letters ORDER BY id")
                ).all()
            assert [r[0] for r in rows] == texts  # past one chunk of a thousand
            assert [r[1] for r in rows] == [hashlib.sha256(t.encode()).hexdigest() for t in texts]
            _migrate(engine, "0036", down=True)
            columns = {c["name"] for c in sa.inspect(engine).get_columns("dead_letters")}
            assert "raw_hash" not in columns
        finally:
            engine.dispose()
