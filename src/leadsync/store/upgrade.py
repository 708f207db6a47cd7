"""What an upgrade of the schema checks beyond Alembic's revisions.

- :func:`check`: a workspace a newer leadsync upgraded is refused by its name, not by
  Alembic's "Can't locate revision" traceback; a new workspace is not made beside another
  application's tables.
- :func:`complete_schema`: after an upgrade, every table, column and index the schema
  declares (``store.schema``) and the database lacks is added. Earlier versions of leadsync
  gave the same revision id to different migrations (0015, 0026, 0029–0032, 0036 were each
  two migrations on two lines of development): a database stamped with such an id by the
  other one never ran this line's, and would miss what it adds (``route_parts.after``: every
  drain failed). What the other line added and this one does not declare is left as it is
  (every such column takes null).
"""

from __future__ import annotations

import logging
import warnings

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection, Engine

from leadsync.errors import UserError, WorkspaceUpgraded
from leadsync.store.schema import metadata

log = logging.getLogger("leadsync.store")


def check(engine: Engine, scripts: ScriptDirectory, revision: str | None, shown: str) -> None:
    """Before migrating: refuse a database stamped with a revision these migrations do not
    have — a newer leadsync upgraded it — and, for a new workspace, a database that holds
    another application's tables (leadsync's would be added beside them). UserError (exit
    2); nothing is changed."""
    if revision is None:
        with engine.connect() as connection:
            tables = sorted(sa.inspect(connection).get_table_names())
        if tables:
            named = ", ".join(tables[:5]) + (
                f" … ({len(tables)} tables)" if len(tables) > 5 else ""
            )
            raise UserError(
                f"database {shown} holds tables that are not a leadsync workspace ({named}); "
                "leadsync keeps its workspace in a database of its own: name a new file or an "
                "empty database"
            )
        return
    try:
        scripts.get_revision(revision)
    except (RevisionError, CommandError):  # an id these migrations do not have
        head = scripts.get_current_head()
        raise UserError(
            f"database {shown} was upgraded by a newer leadsync (schema {revision}; this "
            f"version knows schemas up to {head}): run that version or a newer one"
        ) from None


def complete_schema(
    connection: Connection, revision: str, shown: str, upgraded: list[str] | None = None
) -> list[str]:
    """After upgrading from ``revision``: say so in the log (a command says it on stderr:
    ``upgraded`` gets ``revision``), and add what the declared schema has and the database
    lacks — tables, columns (taking null), indexes — saying each; the rest is left."""
    context = MigrationContext.configure(connection)
    head = context.get_current_revision()
    if upgraded is not None:
        upgraded.append(revision)
    log.info("workspace %s upgraded from schema %s to %s", shown, revision, head)
    with warnings.catch_warnings():  # SQLite cannot reflect an expression index: not compared
        warnings.simplefilter("ignore")
        differences = compare_metadata(context, metadata)
    operations = Operations(context)
    added: list[str] = []
    for difference in differences:
        if not isinstance(difference, tuple):
            continue  # a list: a column's type or nullability, which is left as it is
        kind = difference[0]
        if kind == "add_table":
            table: sa.Table = difference[1]
            table.create(connection)
            added.append(f"table {table.name}")
        elif kind == "add_column":
            _, _, table_name, column = difference
            kept = sa.Column(column.name, column.type, server_default=column.server_default)
            operations.add_column(table_name, kept)
            added.append(f"column {table_name}.{column.name}")
        elif kind == "add_index":
            index: sa.Index = difference[1]
            connection.execute(sa.schema.CreateIndex(index, if_not_exists=True))
            added.append(f"index {index.name}")
    if added:
        log.warning("schema completed after its upgrade: added %s", ", ".join(added))
    return added


def still_current(connection: Connection, head: str | None) -> None:
    """For a running process: WorkspaceUpgraded when the workspace's schema is no longer
    ``head``, the newest this leadsync knows (a newer one upgraded it meanwhile)."""
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision != head:
        raise WorkspaceUpgraded(
            f"the workspace's schema is now {revision}, and this leadsync knows up to {head}: "
            "a newer leadsync upgraded it; this worker stops rather than write what the new "
            "schema does not expect — restart it with the new version"
        )
