"""Upgrading a workspace: what an older leadsync's line of migrations left out is added, and a
workspace a newer leadsync upgraded is refused in words (store/upgrade.py). On SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.errors import UserError
from leadsync.store.database import create_db_engine, head_revision, migrate
from leadsync.store.schema import metadata
from tests.test_decided_at_migration import _database, _migrate


def _stamp(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_what_another_line_of_migrations_left_out_is_added_on_upgrade(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database stamped 0036 by the other line's 0036 (and 0015 by its 0015) lacks this
    line's columns, index and table: upgraded, it has them, its rows kept."""
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            _migrate(engine, "head")
            _migrate(engine, "0036", down=True)
            with engine.begin() as connection:
                connection.execute(sa.text("DROP INDEX ix_push_objects_pushed"))
                connection.execute(sa.text("ALTER TABLE route_parts DROP COLUMN after"))
                connection.execute(
                    sa.text("ALTER TABLE push_objects DROP COLUMN followed_owner_id")
                )
                connection.execute(sa.text("DROP TABLE console_drafts"))
                connection.execute(
                    sa.text(
                        "INSERT INTO dead_letters (integration, received_at, raw, error) "
                        "VALUES ('dialer', '2026-12-04T10:00:00.000Z', 'x', 'bad')"
                    )
                )
            with caplog.at_level(logging.WARNING, logger="leadsync.store"):
                assert migrate(engine) is True
            with engine.connect() as connection:
                context = MigrationContext.configure(connection)
                assert context.get_current_revision() == head_revision()
                assert [
                    d for d in compare_metadata(context, metadata) if d[0] != "remove_index"
                ] == []
                kept = connection.execute(sa.text("SELECT raw, raw_hash FROM dead_letters")).all()
            assert [r[0] for r in kept] == ["x"] and kept[0][1]
            said = caplog.text
            for added in (
                "table console_drafts",
                "column route_parts.after",
                "column push_objects.followed_owner_id",
                "index ix_push_objects_pushed",
            ):
                assert added in said, said
            assert migrate(engine) is False  # at head and whole: nothing more
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_workspace_a_newer_leadsync_upgraded_is_refused_in_words(
    backend: str, tmp_path: Path
) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            migrate(engine)
            _stamp(engine, "0999")
            with pytest.raises(UserError, match="upgraded by a newer leadsync") as refused:
                migrate(engine)
            assert f"schema 0999; this version knows schemas up to {head_revision()}" in str(
                refused.value
            )
            cli = CliRunner().invoke(app, ["--db", url, "inbox", "status"])
            assert cli.exit_code == 2 and "upgraded by a newer leadsync" in cli.stderr
            assert "Traceback" not in cli.output
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_workspace_is_not_made_beside_another_applications_tables(
    backend: str, tmp_path: Path
) -> None:
    with _database(backend, tmp_path) as url:
        engine = create_db_engine(url)
        try:
            with engine.begin() as connection:
                if backend == "postgres":  # the scratch database comes migrated: emptied
                    connection.execute(sa.text("DROP SCHEMA public CASCADE"))
                    connection.execute(sa.text("CREATE SCHEMA public"))
                connection.execute(sa.text("CREATE TABLE customers (id integer)"))
            refused = CliRunner().invoke(app, ["--db", url, "init"])
            assert refused.exit_code == 2, refused.output
            assert "holds tables that are not a leadsync workspace (customers)" in refused.stderr
            with engine.connect() as connection:
                assert sa.inspect(connection).get_table_names() == ["customers"]  # untouched
        finally:
            engine.dispose()


def test_an_upgrade_is_said(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_db_engine(url)
    try:
        _migrate(engine, "0036")
    finally:
        engine.dispose()
    said = CliRunner().invoke(app, ["--db", url, "inbox", "status"])
    assert said.exit_code == 0, said.output
    assert f"upgraded from schema 0036 to {head_revision()}" in said.stderr
    again = CliRunner().invoke(app, ["--db", url, "inbox", "status"])
    assert "upgraded" not in again.stderr


def test_a_running_worker_stops_when_a_newer_leadsync_upgrades_the_workspace(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker of the old version went on writing after a newer leadsync upgraded the
    workspace under it: it stops, saying why, and `leadsync worker` exits 2."""
    from leadsync.workspace import Workspace  # noqa: PLC0415

    url = f"sqlite:///{tmp_path / 'ws.db'}"
    with Workspace(url) as ws:
        loop = ws.worker(100, 0.01)
        loop.rules()  # read once: the schema is this version's
        loop.rules.invalidate()
        _stamp(ws.engine, "0999")
        with caplog.at_level(logging.ERROR, logger="leadsync.worker"):
            loop.start()
            assert loop._thread is not None
            loop._thread.join(timeout=30)  # ends by itself: no stop asked
            stopped = not loop._thread.is_alive()
            loop.stop()
        assert stopped, "the worker went on under a newer schema"
        assert loop.upgraded is not None and "schema is now 0999" in str(loop.upgraded)
        assert "restart it with the new version" in caplog.text
        _stamp(ws.engine, head_revision() or "")
    with Workspace(url) as ws:
        _stamp(ws.engine, "0999")
        ran = CliRunner().invoke(app, ["--db", url, "worker", "--no-push", "--poll", "0.01"])
    assert ran.exit_code == 2, ran.output
