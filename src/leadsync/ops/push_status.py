"""How the push to HubSpot stands, for ``leadsync push status`` and the console: the queue,
the failures, the records it cannot create yet and the links waiting for them, the request
budget as both sides count it, any pause, and who pushes (since when, until when)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from leadsync.destinations.hubspot.pusher import LEASE, LEASE_TTL_S, holder_label
from leadsync.errors import NotFoundError, UserError
from leadsync.model import epoch_ts, format_ts, now_ts, ts_to_datetime
from leadsync.results import agreeing, counted
from leadsync.settings import DestinationSettings
from leadsync.sources.hygiene import representable
from leadsync.store import push as push_store
from leadsync.store import push_lease, push_waiting
from leadsync.store.database import begin_writing
from leadsync.values import stored_id

SHOWN = 10  # records that cannot be created listed by ``push status`` (counts are complete)


def _age_s(ts: str | None) -> float | None:
    if ts is None:
        return None
    return round((datetime.now(UTC) - ts_to_datetime(ts)).total_seconds(), 1)


def push_status(engine: Engine, settings: DestinationSettings) -> dict[str, Any]:
    """Queue depth per object type, oldest pending, pushed in the last hour, failures (and of
    them those leadsync's own check did not send), the records the push cannot create yet
    with the links waiting for them (``not_created``), the request budget (10 s and daily,
    from HubSpot's headers), any pause, and the lease: its holder while held (``pusher``),
    and who held it last, since and until when, and how it ended (``lease``)."""
    now = time.time()
    with engine.connect() as connection:
        depth = push_store.queue_depth(connection)
        pushed = push_store.pushed_in_last(
            connection, format_ts(datetime.now(UTC) - timedelta(hours=1))
        )
        failures = push_store.count_open_failures(connection)
        not_sent = push_store.count_open_failures(connection, not_sent=True)
        budget = push_lease.read_budget(connection, settings.app_id or "default")
        lease = push_lease.read_lease(connection, LEASE)
        waiting = push_waiting.unnamed(connection, SHOWN)
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
        "failures_not_sent": not_sent,
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
        # HubSpot's refusal that stops every push (the token, a scope), until it takes one.
        "refused": (
            {"message": budget.refused, "at": epoch_ts(budget.refused_at or now)}
            if budget is not None and budget.refused is not None
            else None
        ),
        "pusher": holder_label(lease["holder"]) if lease and lease["until"] >= now else None,
        "lease": lease_state(lease, now),
        "not_created": not_created(waiting),
    }


def lease_state(lease: dict[str, Any] | None, now: float) -> dict[str, Any] | None:
    """Who holds the push lease or held it last, in canonical times: ``held`` (renewed within
    its TTL), ``since`` (taken), ``renewed`` (last, while held), ``until`` (lapses unless
    renewed; for one given up, when it was), and ``state``: held, given up (a clean stop) or
    lapsed (its holder stopped renewing it without giving it up: it died or hangs). None when
    no process ever pushed."""
    if lease is None:
        return None
    held = lease["until"] >= now
    released = lease["released_at"]
    return {
        "holder": holder_label(lease["holder"]),
        "held": held,
        "state": "held" if held else "given up" if released is not None else "lapsed",
        "since": epoch_ts(lease["since"]) if lease["since"] is not None else None,
        # A live holder renews it at least this often (each cycle, and within a long one):
        # a renewal older than that, it may be gone.
        "renewed": epoch_ts(lease["until"] - LEASE_TTL_S) if held else None,
        "renewed_within_s": LEASE_TTL_S / 4,
        "until": epoch_ts(released if released is not None else lease["until"])
        if released is not None or lease["until"] > 0
        else None,
    }


def not_created_summary(waiting: push_waiting.Unnamed, waited_s: float) -> str:
    """The report's ``push_not_created`` sentence: what cannot be created and what waits."""
    if not waiting.total:
        return "the push can create every record (none waits for a name, domain or email)"
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(waiting.records.items()))
    links = counted(waiting.links, "link")
    return (
        f"{kinds} cannot be created in HubSpot yet (nothing names "
        f"{agreeing(waiting.total, 'it', 'them')}: no name, domain or email; created once an "
        f"event does); {links} of objects HubSpot has {agreeing(waiting.links, 'waits', 'wait')}"
        + (f", the oldest for {waited_s:.0f} s" if waiting.links else "")
    )


def not_created_rows(waiting: push_waiting.Unnamed) -> list[dict[str, Any]]:
    """The first records that cannot be created, as report rows (``records show`` lines)."""
    return [
        {
            "record": {"type": r["type"], "id": r["id"]},
            "show": f"leadsync records show {r['type']} {r['id']}",
            "links_waiting": r["links"],
            **({"oldest_link_pushed": r["since"]} if r["since"] else {}),
        }
        for r in waiting.first
    ]


def not_created(waiting: push_waiting.Unnamed) -> dict[str, Any]:
    """The records the push cannot create yet (by type, their total, the first few with the
    ``records show`` line) and the links waiting for them, with since when the oldest waits:
    ``push status`` and the push's summary say them alike."""
    return {
        "records": waiting.records,
        "total": waiting.total,
        "links_waiting": waiting.links,
        "waiting_since": waiting.since,
        "first": [
            {**r, "show": f"leadsync records show {r['type']} {r['id']}"} for r in waiting.first
        ],
    }


def push_failure(engine: Engine, failure_id: int) -> dict[str, Any]:
    """One push failure (open or resolved), as ``push failures list`` shows it, and, of an
    activity's, ``records``: the records it is on (type, id), to reach its timeline;
    NotFoundError when there is none of that id."""
    found = None
    if stored_id(failure_id):
        with engine.connect() as connection:
            found = push_store.failure(connection, failure_id)
            if found is not None and found["kind"] == push_store.ACTIVITY:
                links = push_store.links_of_activities(connection, [int(found["local_id"])])
                found["records"] = sorted((rtype, rid) for _a, rid, rtype in links)
    if found is None:
        raise NotFoundError(f"no push failure with id {failure_id}")
    return found


AT_ONCE = 100_000  # open failures one resolve of "every one" takes (the rest: run it again)


def resolve_failures(
    engine: Engine,
    ids: Sequence[int] | None,
    action: str,
    reason: str | None = None,
    by: str | None = None,
) -> int:
    """See :meth:`leadsync.workspace.Workspace.resolve_push_failures`: all or nothing, an id
    that is not an open failure is NotFoundError; ``ids`` None: every open failure (up to
    :data:`AT_ONCE`; the rest, again). ``by`` (who) is kept with the failures
    closed, and with ``dismiss`` the ``reason`` too (``push failures list --all`` shows both);
    the failures closed are every open one of the objects the ids name. A dismissal without
    a reason, or another action, is a UserError."""
    if action not in ("retry", "dismiss"):
        raise UserError(f"action {action!r}: allowed: retry, dismiss")
    text = representable(reason or "").strip() or None
    if action == "dismiss" and text is None:
        raise UserError("a dismissal needs a reason (some text); it is kept with the failure")
    who = representable((by or "").strip())[:200] or None
    with begin_writing(engine) as connection:
        if ids is None:
            rows = push_store.open_failures(connection, AT_ONCE)
            ids = [int(r["id"]) for r in rows]
        else:
            held = [i for i in ids if stored_id(i)]
            found = push_store.failures_by_id(connection, held)
            rows = [r for r in found if r["resolved_at"] is None]
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
