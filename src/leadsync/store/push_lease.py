"""The push's lease (one pusher at a time per workspace) and HubSpot rate budget rows: the
state pushers share through the database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import insert_ignore
from leadsync.store.schema import push_budget, push_lease

# ----------------------------------------------------------------------------- lease


def take_lease(connection: Connection, name: str, holder: str, now: float, ttl_s: float) -> bool:
    """Take or renew the lease ``name`` for ``holder`` unless another holder's is current;
    ``since`` stays while the holder renews its own current lease."""
    connection.execute(
        insert_ignore(connection, push_lease), [{"name": name, "holder": holder, "until": 0.0}]
    )
    renewing = sa.and_(
        push_lease.c.holder == holder, push_lease.c.until >= now, push_lease.c.since.is_not(None)
    )
    result = connection.execute(
        sa.update(push_lease)
        .where(
            push_lease.c.name == name,
            sa.or_(push_lease.c.holder == holder, push_lease.c.until < now),
        )
        .values(
            holder=holder,
            until=now + ttl_s,
            since=sa.case((renewing, push_lease.c.since), else_=sa.literal(now, sa.Float)),
            released_at=None,
        )
    )
    return result.rowcount == 1


def release_lease(connection: Connection, name: str, holder: str, now: float) -> None:
    """Give the lease up (a clean stop): another holder may take it at once; when it was
    given up is kept, so that ``push status`` tells a stop from a death."""
    connection.execute(
        sa.update(push_lease)
        .where(push_lease.c.name == name, push_lease.c.holder == holder)
        .values(until=0.0, released_at=now)
    )


def read_lease(connection: Connection, name: str) -> dict[str, Any] | None:
    """The lease's row: holder, since, until (0 once given up) and released_at; None when
    nobody ever took it."""
    row = connection.execute(
        sa.select(
            push_lease.c.holder, push_lease.c.since, push_lease.c.until, push_lease.c.released_at
        ).where(push_lease.c.name == name)
    ).first()
    return dict(row._mapping) if row is not None else None


# ---------------------------------------------------------------------------- budget


@dataclass
class BudgetRow:
    app: str
    sent: list[float]
    paused_until: float | None
    pause_reason: str | None
    header_max: int | None
    header_remaining: int | None
    header_daily: int | None
    header_daily_remaining: int | None
    headers_at: float | None
    requests: int
    errors: int
    rate_limited: int
    refused: str | None = None
    refused_at: float | None = None


def lock_budget(connection: Connection, app: str) -> BudgetRow:
    """Lock the app's budget row (created when missing) for the rest of the transaction and
    read it. The UPDATE comes first so that SQLite takes its write lock before reading."""
    connection.execute(
        insert_ignore(connection, push_budget),
        [{"app": app, "sent": [], "requests": 0, "errors": 0, "rate_limited": 0}],
    )
    connection.execute(
        sa.update(push_budget)
        .where(push_budget.c.app == app)
        .values(requests=push_budget.c.requests)
    )
    return read_budget(connection, app) or BudgetRow(
        app, [], None, None, None, None, None, None, None, 0, 0, 0
    )


def read_budget(connection: Connection, app: str) -> BudgetRow | None:
    row = connection.execute(sa.select(push_budget).where(push_budget.c.app == app)).first()
    if row is None:
        return None
    data = dict(row._mapping)
    sent = data["sent"]
    if isinstance(sent, str):
        sent = json.loads(sent)
    data["sent"] = [float(t) for t in sent]
    return BudgetRow(**data)


def read_budgets(connection: Connection) -> list[BudgetRow]:
    apps = connection.execute(sa.select(push_budget.c.app).order_by(push_budget.c.app))
    return [b for (app,) in apps if (b := read_budget(connection, app)) is not None]


def write_budget(connection: Connection, row: BudgetRow) -> None:
    values = {k: v for k, v in row.__dict__.items() if k != "app"}
    connection.execute(sa.update(push_budget).where(push_budget.c.app == row.app).values(values))
