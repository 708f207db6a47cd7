"""What a staged rollout has done so far: the owner decisions and activity skips its proposed
settings made, counted per integration in the database (two grouped queries, whatever the
number of rows), never read row by row."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store import reports
from leadsync.store.database import in_values
from leadsync.store.schema import activity_skips, owner_decisions


def counts(
    connection: Connection, integrations: Collection[str], settings: str, since: str | None = None
) -> dict[str, dict[str, Any]]:
    """For each of ``integrations``: its owner decisions stored with ``settings`` (the label
    a rollout's decisions carry) by outcome, with the first and last one's time, and its
    activity skips stored with it by kind (activities not created: not those a later event
    created after all, :func:`leadsync.store.reports.not_created`; an activity once however
    many of its events were skipped, as the report counts them); only those of events at
    or after ``since`` when given. Every integration asked for is in the answer (zeros when none)."""
    found: dict[str, dict[str, Any]] = {
        name: {"by_outcome": {}, "first_at": None, "last_at": None, "skips_by_kind": {}}
        for name in integrations
    }
    if not found:
        return found
    dialect = connection.dialect.name
    d = owner_decisions
    decisions = (
        sa.select(
            d.c.integration,
            d.c.outcome,
            sa.func.count().label("n"),
            sa.func.min(d.c.at).label("first_at"),
            sa.func.max(d.c.at).label("last_at"),
        )
        .where(d.c.settings == settings, in_values(d.c.integration, found, dialect))
        .where(d.c.at >= since if since is not None else sa.true())
        .group_by(d.c.integration, d.c.outcome)
    )
    for row in connection.execute(decisions):
        each = found[row.integration]
        each["by_outcome"][row.outcome] = int(row.n)
        each["first_at"] = min(filter(None, (each["first_at"], row.first_at)))
        each["last_at"] = max(filter(None, (each["last_at"], row.last_at)))
    s = activity_skips
    activities_n = reports.skipped_activities()  # an activity once, however many events skipped
    skips = (
        sa.select(s.c.integration, s.c.kind, activities_n.label("n"))
        .where(s.c.settings == settings, in_values(s.c.integration, found, dialect))
        .where(reports.not_created(), reports.latest_skip())
        .where(s.c.occurred_at >= since if since is not None else sa.true())
        .group_by(s.c.integration, s.c.kind)
        .order_by(s.c.integration, activities_n.desc(), s.c.kind)
    )
    for row in connection.execute(skips):
        found[row.integration]["skips_by_kind"][row.kind] = int(row.n)
    return found
