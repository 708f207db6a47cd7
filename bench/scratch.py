"""Scratch PostgreSQL databases for the benches: made empty or copied from a template, their
server processes listed (for their CPU time), and dropped at the end — ``WITH (FORCE)``, so a
connection a failed run left open does not keep one.

    with Scratch("postgresql://postgres@127.0.0.1:5432/test") as scratch:
        name = scratch.create("leadsync_bench_1")
        url = scratch.url(name)
"""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa


def driver_url(url: str) -> str:
    """A ``postgresql://`` URL with psycopg 3 named as its driver (SQLAlchemy's default is
    psycopg2, which the project does not install)."""
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


class Scratch:
    """The databases one bench run makes on the server of ``server_url``; :meth:`close`
    drops every one of them."""

    def __init__(self, server_url: str) -> None:
        self.admin = sa.create_engine(driver_url(server_url), isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create(self, name: str, template: str | None = None) -> str:
        """A new database ``name`` (dropped first if it exists): empty, or a copy of
        ``template``. Its name."""
        clause = f' TEMPLATE "{template}"' if template else ""
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        if name not in self.created:
            self.created.append(name)
        return name

    def url(self, name: str) -> str:
        """The URL of database ``name`` on the server, psycopg 3 as its driver."""
        url = sa.engine.make_url(str(self.admin.url)).set(database=name)
        return url.render_as_string(hide_password=False)

    def backend_pids(self, name: str) -> list[int]:
        """The server processes connected to database ``name`` now."""
        with self.admin.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            return [int(pid) for (pid,) in rows]

    def drop(self, name: str) -> None:
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        """Drop every database this run made."""
        for name in list(reversed(self.created)):
            self.drop(name)
        self.admin.dispose()

    def __enter__(self) -> Scratch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
