"""The next window cut while parts are still open (PostgreSQL): the elected router analyses
the open parts' pending rows beside it; what meets none of them is taken at once, what meets
some waits for their parts (``route_parts.after``); either way every record sees its events
in arrival order."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.engine import BatchResult
from leadsync.pipeline import routing
from leadsync.pipeline.drain import _drain_rows, _Drainer, adapters_for, drain
from leadsync.store import routing as routing_store
from leadsync.store.schema import inbox
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from tests.conftest import truncate_database
from tests.test_parallel_workers import _config, _enlisted, _load, _phone, canonical_state

AT = "2026-11-01T09:00:00Z"
EMAIL = "kim@globex0.test"
# A contact with an email and a number (the open part's pending row); then a call to the
# number alone and another integration's contact with the email alone: the two name no key
# in common, yet both meet the contact the first row makes.
MAKER = (
    "crm",
    {
        "id": "e0",
        "occurred_at": AT,
        "type": "record",
        "object": "contact",
        "external_id": "c-1",
        "properties": {"email": EMAIL, "phone": _phone(1), "firstname": "Kim"},
        "owner": {"id": "u-1"},
    },
)
CALL = (
    "dialer",
    {
        "id": "e1",
        "occurred_at": AT,
        "type": "activity",
        "activity": "call",
        "external_id": "call-1",
        "owner": {"id": "u-1"},
        "properties": {"direction": "outbound", "duration_s": 60, "to_number": _phone(1)},
    },
)
SAME_EMAIL = (
    "dialer",
    {
        "id": "e2",
        "occurred_at": AT,
        "type": "record",
        "object": "contact",
        "external_id": "d-1",
        "properties": {"email": EMAIL, "firstname": "Kim D"},
        "owner": {"id": "u-1"},
    },
)
OTHER = (
    "crm",
    {
        "id": "e3",
        "occurred_at": AT,
        "type": "record",
        "object": "contact",
        "external_id": "c-7",
        "properties": {"email": "someone@initech.test", "firstname": "Sam"},
        "owner": {"id": "u-1"},
    },
)
EVENTS = [MAKER, CALL, SAME_EMAIL, OTHER]


@pytest.fixture
def ws(postgres_url: str) -> Any:
    """The stream in the inbox; the first row alone in an open part, as a worker holds it
    while the elected router looks at the rest."""
    truncate_database(postgres_url)
    workspace = Workspace(postgres_url)
    workspace.apply_config(_config())
    _load(workspace, EVENTS)
    with workspace.engine.begin() as connection:
        routing_store.create_parts(connection, [([1], [None], [None])], AT)
    yield workspace
    workspace.close()


def _drainer(ws: Workspace) -> _Drainer:
    rules = load_rules(ws.engine)
    return _Drainer(ws.engine, rules, adapters_for(rules), 3)


def _cut(ws: Workspace, drainer: _Drainer) -> Any:
    with _enlisted(ws.engine, 2), ws.engine.begin() as connection:
        return routing.cut_next(connection, drainer.rules, drainer.parse_row, 3, parts=2)


def _parts(ws: Workspace) -> list[tuple[int, list[int], list[int], bool]]:
    """Every part: its id, rows, the parts it waits for, done."""
    with ws.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT id, seqs, coalesce(after, '{}'), done FROM route_parts ORDER BY id"
        ).all()
    return [(int(i), list(seqs), list(after), bool(done)) for i, seqs, after, done in rows]


def _ready(ws: Workspace) -> list[int]:
    with ws.engine.connect() as connection:
        return routing_store.ready_parts(connection)


def _finish_first_part(ws: Workspace, drainer: _Drainer) -> None:
    """The part open before the cut applied and done, as the worker holding it would."""
    with ws.engine.connect() as connection:
        drainer.part = routing_store.open_part(connection, 1)
    _drain_rows(drainer, BatchResult())
    with ws.engine.begin() as connection:
        assert routing_store.finish(connection, 1)
    drainer.part = None


def _serial(postgres_url: str) -> dict[str, Any]:
    truncate_database(postgres_url)
    serial = Workspace(postgres_url)
    try:
        serial.apply_config(_config())
        _load(serial, EVENTS)
        drain(serial.engine, load_rules(serial.engine), batch_size=3, parts=1)
        with serial.engine.connect() as connection:
            return canonical_state(connection)
    finally:
        serial.close()


def test_rows_that_meet_only_through_an_open_parts_pending_row_wait_for_its_part(
    ws: Workspace,
) -> None:
    drainer = _drainer(ws)
    routed = _cut(ws, drainer)
    assert [int(row["seq"]) for row, _events in routed] == [2, 3, 4]
    # The call (by number) and the contact (by email) meet through the pending row: they
    # wait for its part; the other contact is a part to take at once.
    assert _parts(ws) == [(1, [1], [], False), (2, [4], [], False), (3, [2, 3], [1], False)]
    assert _ready(ws) == [1, 2]
    # Without the pending row beside them the database finds nothing to join them: they
    # would have been cut apart and applied side by side.
    with ws.engine.connect() as connection:
        rows = [r for r in routing_store.held_pending(connection) if r["seq"] in (2, 3, 4)]
        events = [drainer.parse_row(row) for row in rows]
        alone = routing._components(connection, drainer.rules, [2, 3, 4], events, {})
    assert alone[0] != alone[1]


def test_a_part_that_waits_is_taken_once_its_parts_are_done_and_ends_in_the_serial_state(
    ws: Workspace, postgres_url: str
) -> None:
    drainer = _drainer(ws)
    assert _cut(ws, drainer) is not None
    assert 3 not in _ready(ws)
    _finish_first_part(ws, drainer)
    assert sorted(_ready(ws)) == [2, 3]
    drain(ws.engine, drainer.rules, batch_size=3, parts=2)
    with ws.engine.connect() as connection:
        assert Counter(connection.execute(sa.select(inbox.c.status)).scalars()) == {"applied": 4}
        parallel = canonical_state(connection)
    assert parallel == _serial(postgres_url)


def test_exclusive_work_closes_the_parts_that_wait_too(ws: Workspace, postgres_url: str) -> None:
    drainer = _drainer(ws)
    assert _cut(ws, drainer) is not None
    with ws.engine.begin() as connection:  # what a preview, an undo, a review answer take
        routing_store.lock_batch(connection, shared=False)
    assert [done for *_rest, done in _parts(ws)] == [True, True, True]
    with ws.engine.connect() as connection:
        assert [int(r["seq"]) for r in routing_store.routable(connection, 10)] == [1, 2, 3, 4]
    drain(ws.engine, drainer.rules, batch_size=3, parts=2)
    with ws.engine.connect() as connection:
        parallel = canonical_state(connection)
    assert parallel == _serial(postgres_url)


def test_no_cut_while_the_open_parts_have_more_than_a_window_pending(ws: Workspace) -> None:
    drainer = _drainer(ws)
    with ws.engine.begin() as connection:
        routing_store.reroute_open(connection)
        routing_store.create_parts(connection, [([1, 2, 3], [None] * 3, [None] * 3)], AT)
    with _enlisted(ws.engine, 2), ws.engine.begin() as connection:  # windows of 1 x 2 rows
        assert routing.cut_next(connection, drainer.rules, drainer.parse_row, 1, 2) is None
    assert len(_parts(ws)) == 2


def test_a_lone_worker_cuts_nothing_ahead(ws: Workspace) -> None:
    drainer = _drainer(ws)
    with _enlisted(ws.engine, 1), ws.engine.begin() as connection:
        assert routing.cut_next(connection, drainer.rules, drainer.parse_row, 3, parts=2) is None
