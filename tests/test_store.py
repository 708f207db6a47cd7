"""The store: migrations agree with the table definitions, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from leadsync.errors import UserError
from leadsync.store.database import (
    create_db_engine,
    head_revision,
    mask_password,
    migrate,
    redact,
    resolve_url,
)
from leadsync.store.schema import metadata


# SQLite's reflection cannot read an expression index (ix_records_name_lower): it is
# compared on PostgreSQL only.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
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


@pytest.mark.parametrize(
    ("typed", "resolved"),
    [
        ("fresh.db", "sqlite:///fresh.db"),
        ("/srv/leadsync/ws.db", "sqlite:////srv/leadsync/ws.db"),
        ("sqlite:///fresh.db", "sqlite:///fresh.db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_a_plain_path_is_a_sqlite_file(typed: str, resolved: str) -> None:
    assert resolve_url(typed) == resolved


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("postgresql://u:secret@h:5432/db", "postgresql://u:***@h:5432/db"),
        ("postgresql://u:se/cr@et@h:5x/db", "postgresql://u:***@h:5x/db"),
        (
            "postgresql://u@h/db?password=secret&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        (
            "postgresql://u@h/db?sslpassword=secret&sslmode=require",
            "postgresql://u@h/db?sslpassword=***&sslmode=require",
        ),
        ("host=h user=u password=secret dbname=x", "host=h user=u password=*** dbname=x"),
        ("sqlite:///a:b@c.db", "sqlite:///a:b@c.db"),
        ("leadsync.db", "leadsync.db"),
    ],
)
def test_a_typed_url_is_shown_as_typed_with_the_password_masked(typed: str, shown: str) -> None:
    assert mask_password(typed) == shown
    assert "secret" not in redact(typed) and "unparseable" not in redact(typed)


def test_without_create_a_missing_workspace_is_refused_and_not_made(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from leadsync.errors import WorkspaceError
    from leadsync.workspace import Workspace

    path = tmp_path / "typo.db"
    with pytest.raises(WorkspaceError, match=f"no workspace at {path}; run leadsync init"):
        Workspace(str(path), create=False)
    assert not path.exists()
    path.write_bytes(b"")  # an empty file is no workspace either
    with pytest.raises(WorkspaceError, match="no workspace at"):
        Workspace(str(path), create=False)
    with Workspace(str(path)) as ws:
        assert ws.migrated
    with Workspace(str(path), create=False) as ws:
        assert not ws.migrated


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


def test_skips_stored_before_get_the_kind_of_their_reason(tmp_path: Path) -> None:
    """Migration 0007 works out each old skip's kind from its reason (the report counts by
    kind); such skips name no record (the event is not read again)."""
    from alembic import command
    from alembic.config import Config

    from leadsync.store.database import MIGRATIONS

    engine = create_db_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
        reasons = [
            "call lasted 3 s, shorter than min_duration_s 15 s",
            "call lasted 4.5 s, shorter than min_duration_s 15 s; the activity created earlier "
            "from it was removed",
            "email activities are disabled for dialer",
            "meeting outcome no_show is in skip_outcomes for cal",
        ]
        for n, reason in enumerate(reasons):
            connection.execute(
                sa.text(
                    "INSERT INTO activity_skips (event_id, integration, type, occurred_at, reason)"
                    " VALUES (:e, 'dialer', 'call', '2026-11-01T09:00:00.000Z', :r)"
                ),
                {"e": f"e{n}", "r": reason},
            )
    assert migrate(engine) is True
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT kind, record_id FROM activity_skips ORDER BY id")
        ).all()
    engine.dispose()
    assert rows == [
        ("shorter than min_duration_s (15 s)", None),
        ("shorter than min_duration_s (15 s)", None),
        ("email activities are disabled", None),
        ("outcome no_show is in skip_outcomes", None),
    ]


def test_libpqs_key_value_form_is_refused_not_taken_for_a_file_named_after_its_password() -> None:
    """``host=… password=… dbname=…`` (what psql takes) was a SQLite path: ``init`` made a
    file named with the password and printed it."""
    with pytest.raises(UserError) as refused:
        resolve_url("host=127.0.0.1 user=postgres password=secret dbname=x")
    said = str(refused.value)
    assert "secret" not in said and "password=***" in said
    assert "is libpq's key=value form, not a URL; allowed: a URL (postgresql://" in said
    assert resolve_url("a=b.db") == "sqlite:///a=b.db"  # a file's name may hold one '='
