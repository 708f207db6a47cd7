"""How the push to HubSpot stands, for ``leadsync push status`` and the console: the queue,
the failures, the request budget as both sides count it, any pause, and who pushes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from leadsync.errors import NotFoundError
from leadsync.model import epoch_ts, format_ts, now_ts, ts_to_datetime
from leadsync.settings import DestinationSettings
from leadsync.sources.hygiene import representable
from leadsync.store import push as push_store


def _age_s(ts: str | None) -> float | None:
    if ts is None:
        return None
    return round((datetime.now(UTC) - ts_to_datetime(ts)).total_seconds(), 1)


def push_status(engine: Engine, settings: DestinationSettings) -> dict[str, Any]:
    """Queue depth per object type, oldest pending, pushed in the last hour, failures, the
    request budget (10 s and daily, from HubSpot's headers) and any pause."""
    now = time.time()
    with engine.connect() as connection:
        depth = push_store.queue_depth(connection)
        pushed = push_store.pushed_in_last(
            connection, format_ts(datetime.now(UTC) - timedelta(hours=1))
        )
        failures = push_store.count_open_failures(connection)
        budget = push_store.read_budget(connection, settings.app_id or "default")
        holder = push_store.lease_holder(connection, "hubspot", now)
    oldest = min((d["oldest"] for d in depth), default=None)
    window = [t for t in (budget.sent if budget else []) if t > now - 10]
    limit = settings.limits.per_10s
    if budget is not None and budget.header_max:
        limit = min(limit, budget.header_max)
    paused = budget is not None and budget.paused_until is not None and budget.paused_until > now
    return {
        "queued": {d["object_type"]: d["queued"] for d in depth},
        "queued_total": sum(d["queued"] for d in depth),
        "oldest_pending": oldest,
        "oldest_pending_age_s": _age_s(oldest),
        "pushed_last_hour": pushed,
        "failures": failures,
        "budget": {
            "per_10s": limit,
            "remaining_10s": max(0, limit - len(window)),
            "hubspot_remaining_10s": budget.header_remaining if budget else None,
            "daily": budget.header_daily if budget else None,
            "daily_remaining": budget.header_daily_remaining if budget else None,
            "requests": budget.requests if budget else 0,
            "errors": budget.errors if budget else 0,
            "rate_limited": budget.rate_limited if budget else 0,
        },
        "paused_until": (
            epoch_ts(budget.paused_until)
            if paused and budget is not None and budget.paused_until
            else None
        ),
        "pause_reason": budget.pause_reason if paused and budget is not None else None,
        "pusher": holder,
    }


def resolve_failures(
    engine: Engine,
    ids: Sequence[int],
    action: str,
    reason: str | None = None,
    by: str | None = None,
) -> int:
    """See :meth:`leadsync.workspace.Workspace.resolve_push_failures`: all or nothing, an id
    that is not an open failure is NotFoundError. ``by`` (who) is kept with the failures
    closed, and with ``dismiss`` the ``reason`` too (``push failures list --all`` shows both);
    the failures closed are every open one of the objects the ids name."""
    text = representable(reason or "").strip() or None
    who = representable((by or "").strip())[:200] or None
    with engine.begin() as connection:
        rows = [r for r in push_store.failures_by_id(connection, ids) if r["resolved_at"] is None]
        missing = sorted(set(ids) - {int(r["id"]) for r in rows})
        if missing:
            raise NotFoundError(
                f"no open push failure with id {', '.join(map(str, missing))}; "
                "see `leadsync push failures list`"
            )
        at = now_ts()
        if action == "retry":
            push_store.requeue(connection, rows, at)
        for kind in {r["kind"] for r in rows}:
            push_store.resolve_failures(
                connection,
                kind,
                [r["local_id"] for r in rows if r["kind"] == kind],
                at,
                "retried" if action == "retry" else "dismissed",
                by=who,
                reason=text if action == "dismiss" else None,
            )
    return len(rows)
