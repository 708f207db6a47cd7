"""The next window cut ahead (PostgreSQL): the elected router cuts it while the last parts
are still applied, with their pending rows analysed beside it, and the barrier takes the cut
as it is while it holds (its rows still first, no exclusive work since)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.engine import BatchResult, conflicts
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


def _cut(ws: Workspace, drainer: _Drainer) -> routing.Ahead | None:
    with _enlisted(ws.engine, 2), ws.engine.begin() as connection:
        return routing.cut_ahead(connection, drainer.rules, drainer.parse_row, 3, parts=2)


def _finish_open_part(ws: Workspace, drainer: _Drainer) -> None:
    """The open part applied and done, as the worker holding it would."""
    with ws.engine.connect() as connection:
        (part_id,) = routing_store.open_parts(connection)
        drainer.part = routing_store.open_part(connection, part_id)
    _drain_rows(drainer, BatchResult(), None)
    with ws.engine.begin() as connection:
        assert routing_store.finish(connection, part_id)
    drainer.part = None


def _route(ws: Workspace, drainer: _Drainer, ahead: routing.Ahead | None) -> list[list[int]]:
    """Route the next window with the cut made ahead; the parts it made (their rows)."""
    with _enlisted(ws.engine, 2), ws.engine.begin() as connection:
        routed = routing.route_window(
            connection, drainer.rules, drainer.parse_row, 3, parts=2, ahead=ahead
        )
        assert routed is not None
        rows = connection.exec_driver_sql(
            "SELECT seqs FROM route_parts WHERE NOT done ORDER BY id"
        ).scalars()
        return [list(r) for r in rows]


def test_rows_that_meet_only_through_an_open_parts_pending_row_are_cut_together(
    ws: Workspace,
) -> None:
    drainer = _drainer(ws)
    ahead = _cut(ws, drainer)
    assert ahead is not None
    assert ahead.seqs == (2, 3, 4)
    # The call (by number) and the contact (by email) join through the pending row.
    assert sorted(sorted(b) for b in ahead.bins) == [[0, 1], [2]]
    # Without the pending row beside them the database finds nothing to join them: the cut
    # would put them side by side.
    with ws.engine.connect() as connection:
        rows = routing_store.routable(connection, 6)
        events = [drainer.parse_row(row) for row in rows]
        alone = routing._components(connection, drainer.rules, [2, 3, 4], events, {})
    assert alone[0] != alone[1]


def test_the_barrier_takes_the_cut_made_ahead_and_ends_in_the_serial_state(
    ws: Workspace, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drainer = _drainer(ws)
    ahead = _cut(ws, drainer)
    assert ahead is not None
    _finish_open_part(ws, drainer)
    resolved: list[int] = []
    inner = conflicts.resolve
    monkeypatch.setattr(conflicts, "resolve", lambda *a, **k: resolved.append(1) or inner(*a, **k))
    parts = _route(ws, drainer, ahead)
    assert not resolved  # nothing looked up at the barrier
    assert sorted(parts) == [[2, 3], [4]]
    drain(ws.engine, drainer.rules, batch_size=3, parts=2)
    with ws.engine.connect() as connection:
        assert Counter(connection.execute(sa.select(inbox.c.status)).scalars()) == {"applied": 4}
        parallel = canonical_state(connection)
    truncate_database(postgres_url)
    serial = Workspace(postgres_url)
    try:
        serial.apply_config(_config())
        _load(serial, EVENTS)
        drain(serial.engine, load_rules(serial.engine), batch_size=3, parts=1)
        with serial.engine.connect() as connection:
            assert canonical_state(connection) == parallel
    finally:
        serial.close()


def test_exclusive_work_since_the_cut_makes_the_barrier_cut_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    drainer = _drainer(ws)
    ahead = _cut(ws, drainer)
    assert ahead is not None
    _finish_open_part(ws, drainer)
    with ws.engine.begin() as connection:  # what a preview, an undo, a review answer take
        routing_store.lock_batch(connection, shared=False)
    resolved: list[int] = []
    inner = conflicts.resolve
    monkeypatch.setattr(conflicts, "resolve", lambda *a, **k: resolved.append(1) or inner(*a, **k))
    assert sorted(_route(ws, drainer, ahead)) == [[2, 3], [4]]
    assert resolved  # cut again, at the barrier


def test_a_row_handed_back_before_the_cut_makes_the_barrier_cut_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    drainer = _drainer(ws)
    ahead = _cut(ws, drainer)
    assert ahead is not None
    with ws.engine.begin() as connection:  # the open part closed with its row pending
        routing_store.reroute_open(connection)
    resolved: list[int] = []
    inner = conflicts.resolve
    monkeypatch.setattr(conflicts, "resolve", lambda *a, **k: resolved.append(1) or inner(*a, **k))
    parts = _route(ws, drainer, ahead)
    assert resolved
    assert sorted(parts) == [[1, 2, 3], [4]]  # the handed-back row first, with what it meets


def test_no_cut_ahead_while_the_open_parts_have_more_than_a_batch_pending(
    ws: Workspace,
) -> None:
    drainer = _drainer(ws)
    with ws.engine.begin() as connection:
        routing_store.reroute_open(connection)
        routing_store.create_parts(connection, [([1, 2, 3, 4], [None] * 4, [None] * 4)], AT)
    with _enlisted(ws.engine, 2), ws.engine.begin() as connection:
        assert routing.cut_ahead(connection, drainer.rules, drainer.parse_row, 3, 2) is None
