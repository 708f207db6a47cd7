"""`leadsync worker`/`serve` starting while PostgreSQL takes no connections (a standby, a
server stopping, a database closed for maintenance) is a failure that passes (exit 1: try
again), not a URL to fix (exit 2)."""

from __future__ import annotations

import os

import psycopg
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.store.refusals import refusal as _refused
from tests.conftest import PG_ENV, scratch_postgres

SERVER = 'connection failed: connection to server at "10.0.0.7", port 5432 failed: '


@pytest.mark.parametrize(
    "said",
    [
        "FATAL:  the database system is not accepting connections\n"
        "DETAIL:  Hot standby mode is disabled.",
        'FATAL:  database "leadsync" is not currently accepting connections',
        "FATAL:  the database system is not yet accepting connections\n"
        "DETAIL:  Consistent recovery state has not been yet reached.",
        "FATAL:  the database system is shutting down",
    ],
)
def test_a_server_taking_no_connections_for_now_is_no_url_to_fix(said: str) -> None:
    url = sa.engine.make_url("postgresql://kim@10.0.0.7/leadsync")
    error = sa.exc.OperationalError("connect", {}, psycopg.OperationalError(SERVER + said))
    assert _refused(url, error) is None


@pytest.mark.usefixtures("postgres_url")  # PostgreSQL only: deselected, and said, without it
@pytest.mark.parametrize("command", [["worker", "--once"], ["serve", "--port", "0"]])
def test_serve_and_worker_exit_1_while_their_database_takes_no_connections(
    command: list[str],
) -> None:
    """The real refusal, from a scratch database closed to connections."""
    with scratch_postgres("leadsync_closed") as url:
        name = sa.engine.make_url(url).database
        admin = sa.create_engine(
            sa.engine.make_url(url).set(database=sa.engine.make_url(os.environ[PG_ENV]).database),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.dispose()
        result = CliRunner().invoke(app, ["--db", url, *command])
    assert result.exit_code == 1, result.output
    assert "is not currently accepting connections" in result.output
    assert "check the URL" not in result.output
