"""Readiness: whether the workspace's database answers and its inbox keeps up (``/readyz``),
which process answers (several ``serve`` processes sit behind one load balancer), and what in
the configuration needs a person though the workspace keeps working (``warnings``)."""

from __future__ import annotations

import logging
import time
import weakref

import sqlalchemy as sa
from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.errors import ConfigError
from leadsync.observability import database_outage, process_name
from leadsync.results import ResultModel
from leadsync.rules.workspace import configuration_problems
from leadsync.store.refusals import first_line
from leadsync.store.sqlite_file import broken_file, header_problem
from leadsync.store.views import inbox_lag
from leadsync.workspace_config import load_rules

log = logging.getLogger("leadsync.health")


class Readiness(ResultModel):
    """The database answers and the oldest pending event is not older than ``max_lag_s``
    (``ready``), or why not: ``lagging``, or ``not ready`` with the database unreachable."""

    status: str
    database: str
    pending: int | None = Field(
        description="Events waiting in the inbox; null when the database did not answer "
        "(unknown, not none)."
    )
    oldest_pending_at: str | None
    lag_s: float | None = Field(
        description="Age of the oldest pending event, in seconds; null when the database did "
        "not answer."
    )
    max_lag_s: float | None = Field(
        description="The lag past which this process answers 503; null: lag never makes it "
        "unready (a server without its own worker: intake does not wait for the workers)."
    )
    process: str = Field(
        default_factory=process_name,
        description="The process that answered: LEADSYNC_PROCESS_NAME, else HOST:PID.",
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="What in the configuration needs a person, though the workspace keeps "
        "working (an owner whose email is not an address, an inactive fallback owner); "
        "they do not change the status.",
    )

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def readiness(engine: Engine, max_lag_s: float | None) -> Readiness:
    """The readiness of the workspace at ``engine``. A database that cannot be reached is an
    answer (``not ready``, naming the error's class), never an exception: a probe asks. An
    outage is one warning line; another database error (a defect) is logged with its
    traceback. A SQLite file that is not (or no longer) a database is ``not ready`` too
    (``broken (…)``, one warning line), as soon as its header says so
    (:func:`~leadsync.store.sqlite_file.header_problem`) or a read meets it; ready again once
    the file is restored (:mod:`leadsync.store.sqlite_file`)."""
    try:
        broken = header_problem(engine)
        if broken is not None:
            log.warning("readiness: database broken (%s)", broken)
            return _not_ready(f"broken ({broken})", max_lag_s)
        lag = inbox_lag(engine)
        warnings = configuration_warnings(engine)
    except sa.exc.SQLAlchemyError as exc:
        if broken_file(exc):
            said = first_line(exc.orig) if isinstance(exc, sa.exc.DBAPIError) else ""
            log.warning("readiness: database broken (%s)", said or type(exc).__name__)
            return _not_ready(f"broken ({said or type(exc).__name__})", max_lag_s)
        if database_outage(exc):
            log.warning("readiness: database unavailable (%s)", type(exc).__name__)
        else:
            log.exception("readiness: reading the inbox failed")
        return _not_ready(f"unreachable ({type(exc).__name__})", max_lag_s)
    return Readiness(
        status="ready" if max_lag_s is None or lag.lag_s <= max_lag_s else "lagging",
        database="ok",
        pending=lag.pending,
        oldest_pending_at=lag.oldest_pending_at,
        lag_s=lag.lag_s,
        max_lag_s=max_lag_s,
        warnings=warnings,
    )


def _not_ready(database: str, max_lag_s: float | None) -> Readiness:
    return Readiness(
        status="not ready",
        database=database,
        pending=None,  # not known: the database did not answer
        oldest_pending_at=None,
        lag_s=None,
        max_lag_s=max_lag_s,
    )


# A load balancer asks for readiness every few seconds: the configuration's warnings (the
# whole rules loaded) are read again at most this often per workspace.
WARNINGS_TTL_S = 30.0
_warnings: weakref.WeakKeyDictionary[Engine, tuple[float, list[str]]] = weakref.WeakKeyDictionary()


def forget_warnings(engine: Engine) -> None:
    """Read the warnings again at the next readiness (the configuration changed)."""
    _warnings.pop(engine, None)


def configuration_warnings(engine: Engine) -> list[str]:
    """:func:`~leadsync.rules.workspace.configuration_problems` of the stored configuration
    (read again at most every :data:`WARNINGS_TTL_S`); stored settings that cannot be read at
    all are each a warning too (every command that needs them says so as well)."""
    cached = _warnings.get(engine)
    if cached is not None and time.monotonic() - cached[0] < WARNINGS_TTL_S:
        return list(cached[1])
    try:
        found = configuration_problems(load_rules(engine))
    except ConfigError as exc:
        found = [f"the stored configuration cannot be read: {p}" for p in exc.problems]
    _warnings[engine] = (time.monotonic(), found)
    return list(found)
