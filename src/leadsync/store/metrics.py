"""The figures a Prometheus scrape reads from the database (:mod:`leadsync.observability`):
one cheap query each, all on one connection, nothing written.

Each query is bounded by an index or by a table that stays small: pending inbox rows (the
partial index of pending rows), open review questions (``ix_review_items_status``), the
push queue (drained as it fills), unresolved dead letters (kept, but few are left open) and
the request budget (one row per HubSpot app).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import ts_to_datetime
from leadsync.store.schema import (
    dead_letters,
    inbox,
    integrations,
    push_budget,
    push_queue,
    review_items,
)

# HubSpot's short window (seconds), as the request budget counts it (destinations/hubspot).
BUDGET_WINDOW_S = 10.0


@dataclass
class BudgetGauge:
    """One HubSpot app's request budget: requests counted in the last ten seconds (sent or
    in flight), what HubSpot's last headers said remains, and whether pushing is paused."""

    app: str
    used_10s: int
    remaining_10s: int | None
    remaining_daily: int | None
    paused: bool
    refused: bool = False  # HubSpot's last answer refused the token or a scope


@dataclass
class Gauges:
    inbox_pending: int = 0
    inbox_lag_s: float = 0.0
    dead_letters_open: dict[str, int] = field(default_factory=dict)
    integrations: list[str] = field(default_factory=list)  # the configured ones, by name
    review_open: dict[str, int] = field(default_factory=dict)
    push_queued: dict[str, int] = field(default_factory=dict)
    push_lag_s: float = 0.0
    budgets: list[BudgetGauge] = field(default_factory=list)


def _age_s(ts: str | None, now: float) -> float:
    if ts is None:
        return 0.0
    return max(0.0, now - ts_to_datetime(ts).timestamp())


def read_gauges(connection: Connection, now: float) -> Gauges:
    """Every gauge at ``now`` (a Unix time)."""
    gauges = Gauges()
    pending, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(inbox.c.received_at)).where(
            inbox.c.status == "pending"
        )
    ).one()
    gauges.inbox_pending = int(pending)
    gauges.inbox_lag_s = _age_s(oldest, now)
    gauges.dead_letters_open = {
        str(integration): int(count)
        for integration, count in connection.execute(
            sa.select(dead_letters.c.integration, sa.func.count())
            .where(dead_letters.c.resolved_at.is_(None))
            .group_by(dead_letters.c.integration)
        )
    }
    gauges.integrations = [str(n) for n in connection.scalars(sa.select(integrations.c.name))]
    gauges.review_open = {
        str(kind): int(count)
        for kind, count in connection.execute(
            sa.select(review_items.c.kind, sa.func.count())
            .where(review_items.c.status == "open")
            .group_by(review_items.c.kind)
        )
    }
    oldest_queued: str | None = None
    for object_type, count, first in connection.execute(
        sa.select(push_queue.c.object_type, sa.func.count(), sa.func.min(push_queue.c.queued_at))
        .group_by(push_queue.c.object_type)
        .order_by(push_queue.c.object_type)
    ):
        gauges.push_queued[str(object_type)] = int(count)
        oldest_queued = first if oldest_queued is None else min(oldest_queued, first)
    gauges.push_lag_s = _age_s(oldest_queued, now)
    gauges.budgets = [
        _budget(row._mapping, now)
        for row in connection.execute(
            sa.select(
                push_budget.c.app,
                push_budget.c.sent,
                push_budget.c.paused_until,
                push_budget.c.header_remaining,
                push_budget.c.header_daily_remaining,
                push_budget.c.refused,
            ).order_by(push_budget.c.app)
        )
    ]
    return gauges


def _budget(row: sa.RowMapping, now: float) -> BudgetGauge:
    sent = row["sent"]
    if isinstance(sent, str):
        sent = json.loads(sent)
    # A slot is an answer's time (>= 0) or, while in flight, minus the time it was taken.
    used = sum(1 for t in sent if abs(float(t)) > now - BUDGET_WINDOW_S)
    paused_until = row["paused_until"]
    return BudgetGauge(
        app=str(row["app"]),
        used_10s=used,
        remaining_10s=row["header_remaining"],
        remaining_daily=row["header_daily_remaining"],
        paused=paused_until is not None and paused_until > now,
        refused=row["refused"] is not None,
    )
