"""Alembic environment: runs on the connection that ``leadsync.store.migrate`` hands over."""

from __future__ import annotations

from alembic import context

from leadsync.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only the leadsync API runs these migrations
    raise RuntimeError("leadsync migrations run through leadsync.store.migrate()")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
