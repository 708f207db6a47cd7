"""Readiness: whether the workspace's database answers and its inbox keeps up (``/readyz``)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.results import ResultModel
from leadsync.store.views import inbox_lag


class Readiness(ResultModel):
    """The database answers and the oldest pending event is not older than ``max_lag_s``
    (``ready``), or why not: ``lagging``, or ``not ready`` with the database unreachable."""

    status: str
    database: str
    pending: int
    oldest_pending_at: str | None
    lag_s: float
    max_lag_s: float

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def readiness(engine: Engine, max_lag_s: float) -> Readiness:
    """The readiness of the workspace at ``engine``. A database that cannot be reached is an
    answer (``not ready``, naming the error's class), never an exception: a probe asks."""
    try:
        lag = inbox_lag(engine)
    except sa.exc.SQLAlchemyError as exc:
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
