"""Invariants of the engine, over generated event streams, on SQLite and PostgreSQL:

- delivering every event twice gives the same state as delivering it once;
- any split into batches gives the same state as applying one event at a time.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.workspace import Workspace
from tests.helpers import reset_database, snapshot, workspace_config
from tests.helpers import settings as integration_settings

TIMES = [f"2026-11-01T{h:02d}:00:00Z" for h in range(8, 14)]
REPS = ["u-1", "u-9", "u-3", "x-1", "x-2", None]
CONTACTS = ["p-0", "p-1", "p-2"]
COMPANIES = ["a-0", "a-1"]
DEALS = ["d-0", "d-1"]

times = st.sampled_from(TIMES)
reps = st.sampled_from(REPS)


@st.composite
def contact_events(draw: st.DrawFn) -> dict[str, Any]:
    ext = draw(st.sampled_from(CONTACTS))
    event: dict[str, Any] = {
        "type": "record",
        "object": "contact",
        "external_id": ext,
        "occurred_at": draw(times),
        "properties": {
            "email": f"{ext}@globex.test",
            "firstname": draw(st.sampled_from(["A", "B"])),
        },
        "owner": draw(reps),
    }
    companies = draw(st.lists(st.sampled_from(COMPANIES), max_size=2, unique=True))
    event["associations"] = [{"object": "company", "external_id": c} for c in companies]
    return event


@st.composite
def deal_events(draw: st.DrawFn) -> dict[str, Any]:
    linked = draw(st.sampled_from(["contact", "company"]))
    linked_id = draw(st.sampled_from(CONTACTS if linked == "contact" else COMPANIES))
    return {
        "type": "record",
        "object": "deal",
        "external_id": draw(st.sampled_from(DEALS)),
        "occurred_at": draw(times),
        "properties": {"name": "Deal", "is_closed": draw(st.booleans())},
        "owner": draw(reps),
        "associations": [{"object": linked, "external_id": linked_id}],
    }


@st.composite
def owner_events(draw: st.DrawFn) -> dict[str, Any]:
    obj = draw(st.sampled_from(["contact", "deal"]))
    return {
        "type": "owner",
        "object": obj,
        "external_id": draw(st.sampled_from(CONTACTS if obj == "contact" else DEALS)),
        "occurred_at": draw(times),
        "owner": draw(reps),
    }


@st.composite
def activity_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["call", "call", "meeting", "email", "note"]))
    properties: dict[str, Any] = {}
    if kind == "call":
        properties = {
            "duration_s": draw(st.sampled_from([None, 5, 30, 120])),
            "outcome": draw(st.sampled_from(["connected", "no_answer", "voicemail"])),
        }
        properties = {k: v for k, v in properties.items() if v is not None}
    return {
        "type": "activity",
        "activity": kind,
        "external_id": draw(st.sampled_from(["c-0", "c-1", "c-2"])),
        "occurred_at": draw(times),
        "owner": draw(reps),
        "properties": properties,
        "associations": [{"object": "contact", "external_id": draw(st.sampled_from(CONTACTS))}],
    }


event_streams = st.lists(
    st.one_of(contact_events(), deal_events(), owner_events(), activity_events()),
    min_size=1,
    max_size=25,
)
strategies = st.sampled_from(
    ["integration_wins", "fill_if_empty", "never_overwrite", "bidirectional"]
)


def _lines(events: list[dict[str, Any]]) -> list[str]:
    return [json.dumps({"id": f"e{i}", **e}) for i, e in enumerate(events)]


def _reset(ws: Workspace, strategy: str, assign: bool) -> None:
    reset_database(ws.engine)
    ownership = {"default": strategy, "protect_manual_days": 1, "assign_on_activity": assign}
    ws.apply_config(workspace_config({"dialer": integration_settings(ownership=ownership)}))


PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(events=event_streams, strategy=strategies, assign=st.booleans(), adjacent=st.booleans())
def test_delivering_every_event_twice_changes_nothing(
    workspace: Workspace, events: list[dict[str, Any]], strategy: str, assign: bool, adjacent: bool
) -> None:
    lines = _lines(events)
    _reset(workspace, strategy, assign)
    workspace.ingest("dialer", lines)
    once = snapshot(workspace)

    _reset(workspace, strategy, assign)
    twice = [x for line in lines for x in (line, line)] if adjacent else lines + lines
    summary = workspace.ingest("dialer", twice)
    assert summary.duplicates == len(lines)
    assert snapshot(workspace) == once


@PROPERTY_SETTINGS
@given(
    events=event_streams,
    strategy=strategies,
    assign=st.booleans(),
    batch_size=st.integers(min_value=2, max_value=30),
    cut=st.integers(min_value=0, max_value=25),
)
def test_any_split_into_batches_equals_one_event_at_a_time(
    workspace: Workspace,
    events: list[dict[str, Any]],
    strategy: str,
    assign: bool,
    batch_size: int,
    cut: int,
) -> None:
    lines = _lines(events)
    _reset(workspace, strategy, assign)
    workspace.ingest("dialer", lines, batch_size=1)
    one_at_a_time = snapshot(workspace)

    _reset(workspace, strategy, assign)
    workspace.ingest("dialer", lines[:cut], batch_size=batch_size)
    workspace.ingest("dialer", lines[cut:], batch_size=batch_size)
    assert snapshot(workspace) == one_at_a_time
