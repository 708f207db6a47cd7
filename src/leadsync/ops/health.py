"""Readiness: whether the workspace's database answers and its inbox keeps up (``/readyz``),
and which process answers (several ``serve`` processes sit behind one load balancer)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.observability import database_outage, process_name
from leadsync.results import ResultModel
from leadsync.store.views import inbox_lag

log = logging.getLogger("leadsync.health")


class Readiness(ResultModel):
    """The database answers and the oldest pending event is not older than ``max_lag_s``
    (``ready``), or why not: ``lagging``, or ``not ready`` with the database unreachable."""

    status: str
    database: str
    pending: int
    oldest_pending_at: str | None
    lag_s: float
    max_lag_s: float
    process: str = Field(
        default_factory=process_name,
        description="The process that answered: LEADSYNC_PROCESS_NAME, else HOST:PID.",
    )

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def readiness(engine: Engine, max_lag_s: float) -> Readiness:
    """The readiness of the workspace at ``engine``. A database that cannot be reached is an
    answer (``not ready``, naming the error's class), never an exception: a probe asks. An
    outage is one warning line; another database error (a defect) is logged with its
    traceback."""
    try:
        lag = inbox_lag(engine)
    except sa.exc.SQLAlchemyError as exc:
        if database_outage(exc):
            log.warning("readiness: database unavailable (%s)", type(exc).__name__)
        else:
            log.exception("readiness: reading the inbox failed")
        return Readiness(
            status="not ready",
            database=f"unreachable ({type(exc).__name__})",
            pending=0,
            oldest_pending_at=None,
            lag_s=0.0,
            max_lag_s=max_lag_s,
        )
    return Readiness(
        status="ready" if lag.lag_s <= max_lag_s else "lagging",
        database="ok",
        pending=lag.pending,
        oldest_pending_at=lag.oldest_pending_at,
        lag_s=lag.lag_s,
        max_lag_s=max_lag_s,
    )
