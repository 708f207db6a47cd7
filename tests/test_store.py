"""The store: migrations agree with the table definitions, on every backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from leadsync.errors import UserError
from leadsync.store.database import create_db_engine, head_revision, migrate, redact, resolve_url
from leadsync.store.schema import metadata


def test_migrations_create_exactly_the_declared_schema(db_url: str) -> None:
    engine = create_db_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            assert context.get_current_revision() == head_revision()
            assert compare_metadata(context, metadata) == []
        assert migrate(engine) is False  # already at head: nothing to do
    finally:
        engine.dispose()


def test_database_urls_are_resolved_and_passwords_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEADSYNC_DB", raising=False)
    assert resolve_url(None) == "sqlite:///leadsync.db"
    monkeypatch.setenv("LEADSYNC_DB", "postgresql://u:secret@h/db")
    assert resolve_url(None) == "postgresql+psycopg://u:secret@h/db"
    assert "secret" not in redact(resolve_url(None))


def test_an_unsupported_database_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="allowed: sqlite, postgresql"):
        create_db_engine("mysql://u:secret@h/db")


def test_a_fresh_sqlite_file_is_created_and_migrated(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert migrate(engine) is True
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()
    assert {"records", "owner_decisions", "inbox", "dead_letters", "outbox"} <= tables
