"""Own numbers a settings change declared: a call held for one of them, or asked about it as
a number several records have, is an internal call once the admin says the number is the
company's own (``own_numbers`` saved on the settings page or through the API, a file
applied) — its hold released and its question closed with the reason, as when a tool names
the line (``engine.settle_declared_lines``). Without it, such a call stayed held until its
hold ended and then asked a person what the settings already said. And an entry removed
gives back the calls it made internal: looked for again as calls to that number (they were
on no timeline, held nowhere and asked of nobody: lost)."""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from leadsync.engine import settle_declared_lines
from leadsync.observability import log_failure
from leadsync.store import config as config_store
from leadsync.store import own_lines as own_store
from leadsync.store.database import begin_writing
from leadsync.workspace_config import rules_on

log = logging.getLogger("leadsync.review")


def settle_declared(engine: Engine) -> int:
    """Settle what waits for a declared own number, in a transaction that reads the settings
    under the configuration's lock (a save landing meanwhile is seen, never undone). How
    many activities were looked for again. Best effort: the settings change it follows is
    committed already, so a failure here is logged (one line for the database away, the
    traceback for a defect: :func:`~leadsync.observability.log_failure`) and what waits
    keeps waiting (the next save, or the line named by the tool, settles it)."""
    try:
        with engine.connect() as connection:  # most saves declare nothing anything waits for
            declared = rules_on(connection).declared_lines
            lines = {(name, number) for name, found in declared.items() for number in found}
            if not own_store.waiting_for(connection, lines) and not (
                own_store.internal_without_line(connection, lines)
            ):
                return 0
        with begin_writing(engine) as connection:
            config_store.lock_config(connection)
            return settle_declared_lines(connection, rules_on(connection))
    except Exception as exc:  # noqa: BLE001 - the save is committed; what waits keeps waiting
        log_failure(
            log,
            exc,
            "calls waiting for a declared own number not settled after a settings change "
            "({}); they stay as they are",
            "calls waiting for a declared own number not settled after a settings change; "
            "they stay as they are",
        )
        return 0
