"""The router routes the next window while the parts it cut are still open (PostgreSQL): a row
that meets an open part goes into it, after its rows; a row meeting none goes into a new
part; a row meeting two is left for later with the ids it was given, in arrival order. A
router that did not cut the open parts, or that routes one part at a time, waits for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.pipeline.drain import _Drainer, adapters_for, drain
from leadsync.pipeline.routing import Router
from leadsync.store.schema import inbox
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from tests.test_parallel_workers import _config, _load, _run, canonical_state

AT = "2026-11-01T09:00:00Z"


def _contact(i: int, person: str) -> tuple[str, dict[str, Any]]:
    event = {
        "id": f"e{i}",
        "occurred_at": AT,
        "type": "record",
        "object": "contact",
        "external_id": f"x-{person}",
        "properties": {"email": f"{person}@globex.test"},
        "owner": {"id": "u-1"},
    }
    return "crm", event


def _call(i: int, *people: str) -> tuple[str, dict[str, Any]]:
    event = {
        "id": f"e{i}",
        "occurred_at": AT,
        "type": "activity",
        "activity": "call",
        "external_id": f"call-{i}",
        "owner": {"id": "u-1"},
        "properties": {"duration_s": 60, "outcome": "connected"},
        "associations": [{"object": "contact", "external_id": f"x-{p}"} for p in people],
    }
    return "crm", event


# Window 1 (4 rows, 2 parts): a, b, c, d (a and c in one part, b and d in the other).
# Window 2: a again (into a's part), e, f, g (new). Window 3: a call on c and b (it meets both
# parts: left for later), h, i, j (new).
STREAM = [
    *(_contact(i, p) for i, p in enumerate("abcd", start=1)),
    _contact(5, "a"),
    *(_contact(i, p) for i, p in enumerate("efg", start=6)),
    _call(9, "c", "b"),
    *(_contact(i, p) for i, p in enumerate("hij", start=10)),
]


@pytest.fixture
def ws(postgres_url: str) -> Iterator[Workspace]:
    from tests.conftest import truncate_database

    truncate_database(postgres_url)
    workspace = Workspace(postgres_url)
    try:
        workspace.apply_config(_config())
        _load(workspace, STREAM)
        yield workspace
    finally:
        workspace.close()


def _rows(ws: Workspace) -> dict[str, tuple[int | None, int | None]]:
    with ws.engine.connect() as connection:
        query = sa.select(inbox.c.event_id, inbox.c.part, inbox.c.record_ids_from)
        return {e: (p, r) for e, p, r in connection.execute(query)}


def test_the_next_window_is_routed_while_the_parts_before_are_open(ws: Workspace) -> None:
    rules = load_rules(ws.engine)
    parse = _Drainer(ws.engine, rules, adapters_for(rules), 2).parse_row
    router = Router(rules, batch_size=2, parts=2)
    with ws.engine.begin() as connection:
        first = router.route(connection, parse)
    assert first is not None and first.parts == 2 and first.deferred == 0
    window1 = _rows(ws)
    part_a, part_b = window1["e1"][0], window1["e2"][0]
    assert part_a is not None and part_b is not None and part_a != part_b

    # Nothing applied: the parts are open. Another router (it did not cut them) waits; one
    # that routes a part at a time waits.
    with ws.engine.begin() as connection:
        assert Router(rules, batch_size=2, parts=2).route(connection, parse) is None
    with ws.engine.begin() as connection:
        assert Router(rules, batch_size=2, parts=1).route(connection, parse) is None

    with ws.engine.begin() as connection:
        second = router.route(connection, parse)
    assert second is not None and second.deferred == 0
    rows = _rows(ws)
    assert rows["e5"][0] == part_a  # a's second event, after its first, in a's part
    assert {rows[e][0] for e in ("e6", "e7", "e8")}.isdisjoint({None, part_a, part_b})

    with ws.engine.begin() as connection:
        third = router.route(connection, parse)
    assert third is not None and third.deferred == 1
    rows = _rows(ws)
    assert rows["e9"][0] is None  # meets a's part (c) and b's: later
    assert {rows[e][0] for e in ("e10", "e11", "e12")}.isdisjoint({None, part_a, part_b})
    reserved = [rows[f"e{i}"][1] for i in range(1, 13)]
    assert all(r is not None for r in reserved)
    assert reserved == sorted(reserved)  # ids in arrival order, the row left for later too

    # Only the row left for later is routable, and it still meets both open parts: nothing
    # to do until one of them is done (it is not looked up again meanwhile).
    with ws.engine.begin() as connection:
        stalled = router.route(connection, parse)
    assert stalled is not None and not stalled.rows and stalled.deferred == 1
    with ws.engine.begin() as connection:
        assert router.route(connection, parse) is None

    drain(ws.engine, rules, batch_size=2, parts=2)  # its own router: waits, then routes e9
    with ws.engine.connect() as connection:
        statuses = connection.execute(sa.select(inbox.c.status)).scalars().all()
        assert set(statuses) == {"applied"}
        after = canonical_state(connection)
    assert rows["e9"][1] == _rows(ws)["e9"][1]  # it kept the ids it was given
    assert after == _run(str(ws.engine.url.render_as_string(hide_password=False)), STREAM, 1)
