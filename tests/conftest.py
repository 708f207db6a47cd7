"""Every database test runs on SQLite and on PostgreSQL (dlt's one-fixture pattern).

PostgreSQL runs when ``LEADSYNC_TEST_POSTGRES_URL`` names a server (``.ci/run`` sets it); each
test session gets a database of its own, migrated once and truncated between tests. Without
the variable the PostgreSQL half is deselected, and the run says so in one line at the end.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.store.database import create_db_engine, migrate, resolve_url
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN, OWNERS, hubspot_pushing_workspace, reset_database
from tests.live import configure

# The CLI's Rich consoles read COLUMNS once, when leadsync.cli.render is imported; pytest-xdist
# workers inherit a COLUMNS=80 the CLI tests did not set. Without it the tests' own COLUMNS
# (CliRunner's env) decides each invocation's width, as in a run without workers.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

PG_ENV = "LEADSYNC_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """A migrated PostgreSQL database of its own on the test server, dropped afterwards
    (whatever a test did to it, dropping it included); the test is skipped, saying what to
    set, without a server."""
    admin_url = os.environ.get(PG_ENV)
    if not admin_url:
        pytest.skip(f"PostgreSQL tests skipped: set {PG_ENV} to run them")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(resolve_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            # Tests need no durability across a crash of the server; commits get fast.
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        url = sa.engine.make_url(resolve_url(admin_url)).set(database=name)
        test_url = url.render_as_string(hide_password=False)
        engine = create_db_engine(test_url)
        migrate(engine)
        engine.dispose()
        yield test_url
    finally:
        drop_postgres(name)
        admin.dispose()


def drop_postgres(name: str) -> None:
    """Drop a database of the test server, its sessions ended first."""
    admin = sa.create_engine(resolve_url(os.environ[PG_ENV]), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with scratch_postgres("leadsync_test") as url:
        yield url


def truncate_database(url: str) -> None:
    """Empty every table of a workspace database (the sequences start again)."""
    engine = create_db_engine(url)
    reset_database(engine)
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A fresh, migrated, empty workspace database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "leadsync.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    truncate_database(url)
    return url


@pytest.fixture
def workspace(db_url: str) -> Iterator[Workspace]:
    ws = Workspace(db_url)
    yield ws
    ws.close()


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    """The workspace with the integrations the served tests use (``tests.live.configure``);
    a module that needs another one defines its own ``ws``."""
    configure(workspace)
    return workspace


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a PostgreSQL server, the PostgreSQL half is deselected, not skipped test by
    test (``-ra`` would list every one): the summary says so in one line."""
    if os.environ.get(PG_ENV):
        return
    postgres = [item for item in items if _on_postgres(item)]
    if postgres:
        config.hook.pytest_deselected(items=postgres)
        items[:] = [item for item in items if not _on_postgres(item)]
    config.stash[_PG_NOT_RUN] = len(postgres)
    if hasattr(config, "workeroutput"):  # an xdist worker: the controller collects nothing
        config.workeroutput["pg_not_run"] = len(postgres)


@pytest.hookimpl(optionalhook=True)  # an xdist hook
def pytest_testnodedown(node: Any, error: Any) -> None:
    """With xdist, the count each worker found (every worker collects every test)."""
    found = getattr(node, "workeroutput", {}).get("pg_not_run", 0)
    node.config.stash[_PG_NOT_RUN] = max(node.config.stash.get(_PG_NOT_RUN, 0), found)


def _on_postgres(item: pytest.Item) -> bool:
    """A test of the PostgreSQL half: the ``db_url`` fixture's PostgreSQL side, or any test
    asking for the PostgreSQL server itself (``postgres_url``, directly or through another
    fixture)."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and callspec.params.get("db_url") == "postgres":
        return True
    return "postgres_url" in getattr(item, "fixturenames", ())


_PG_NOT_RUN = pytest.StashKey[int]()


@pytest.hookimpl(trylast=True)  # after the other summaries: the line before the counts
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    count = config.stash.get(_PG_NOT_RUN, 0)
    if count:
        terminalreporter.write_line(
            f"NOTE: PostgreSQL: {count} test{'' if count == 1 else 's'} not run; only SQLite "
            f"ran (set {PG_ENV}, e.g. postgresql://postgres@127.0.0.1:5432/test, to run them).",
            yellow=True,
            bold=True,
        )


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium (the system's, through Playwright), one per test module."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched


@pytest.fixture
def hub() -> Iterator[HubSpotDouble]:
    """The in-process HubSpot stand-in, with the test owners; a test that sent a request
    outside the contract (openapi.yaml) fails at teardown."""
    double = HubSpotDouble(HUBSPOT_TOKEN)
    for owner in OWNERS:
        double.add_owner(
            str(owner["email"]),
            str(owner["first_name"]),
            str(owner["last_name"]),
            owner_id=str(owner["id"]),
            archived=owner.get("active") is False,
        )
    yield double
    double.assert_contract_kept()


@pytest.fixture
def pushing(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    """A workspace pushing to ``hub`` (``tests.helpers.hubspot_pushing_workspace``)."""
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    workspace = hubspot_pushing_workspace(db_url, hub.transport())
    yield workspace
    workspace.close()
