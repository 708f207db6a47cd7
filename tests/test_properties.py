"""Invariants of the engine, over generated event streams:

- delivering every event twice gives the same state as delivering it once;
- any split into batches gives the same state as applying one event at a time.

Both run end to end (inbox, load, decide, write) on SQLite and PostgreSQL with a few
examples each. The batch-split property also runs with many examples in memory through the
pure decide step (:func:`leadsync.engine.decide`): each batch's loaded state is the previous
batch's end state as the database would give it back (:func:`_reloaded`), and what each batch
decides is applied to an in-memory model of the tables (:class:`_Tables`). Redelivery is the
inbox's (dedupe by event id), so it has no in-memory form.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.engine import ActivityState, Decided, LoadedState, RecordState, WorkspaceRules
from leadsync.engine import decide as decide_batch
from leadsync.engine.lookups import Lookup
from leadsync.model import Event, Owner, RecordType
from leadsync.rules.mapping import OwnerDirectory
from leadsync.sources.canonical import parse_event
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, reset_database, snapshot, workspace_config
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
    max_examples=8,
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


# ------------------------------------------------------------------ in memory, many examples

NOW = "2026-11-02T00:00:00.000Z"


def memory_rules(strategy: str, assign: bool) -> WorkspaceRules:
    ownership = {"default": strategy, "protect_manual_days": 1, "assign_on_activity": assign}
    config = workspace_config({"dialer": integration_settings(ownership=ownership)})
    owners = {
        o["id"]: Owner(o["id"], o["email"], o["first_name"], o["last_name"], o.get("active", True))
        for o in OWNERS
    }
    return WorkspaceRules(
        directory=OwnerDirectory.build(owners, {"sdr": ("101", "102")}),
        integrations=dict(config.integrations),
    )


def empty_state() -> LoadedState:
    return LoadedState(
        next_record_id=1,
        next_activity_id=1,
        round_robin={},
        identity={},
        by_email=Lookup(),
        by_domain=Lookup(),
        records={},
        links=defaultdict(set),
        primary={},
        known_links=set(),
        deal_info={},
        pushed_owners={},
        activities={},
        activity_by_id={},
        memory={},
        sources={},
        candidates=defaultdict(list),
        learned_emails={},
    )


def _reloaded(state: LoadedState) -> LoadedState:
    """A decided batch's end state as the next batch would load it from the tables: flags
    cleared, properties and memories back as stored JSON, removed activities gone, and the
    email and domain lookups rebuilt from the records (who holds each value), as
    ``store.counterparts.load_holders`` answers them."""
    records: dict[int, RecordState] = {}
    for r in state.records.values():
        props = r.properties if isinstance(r.properties, str) else json.dumps(r.properties)
        times = r.property_times
        records[r.id] = RecordState(
            r.id, r.type, r.owner_id, r.email, r.domain, r.name, r.stage, r.is_closed, props,
            r.placeholder, r.created_at, r.updated_at, r.created_by, r.owner_changed_at,
            r.owner_source, r.manual_owner_at, r.origin, r.owner_source_at,
            merged_into=r.merged_into, merged_at=r.merged_at,
            property_times=times if times is None or isinstance(times, str) else json.dumps(times),
            primary_company_at=r.primary_company_at,
        )  # fmt: skip
    by_email: dict[str, list[int]] = {}
    by_domain: dict[str, list[int]] = {}
    for r in sorted(records.values(), key=lambda r: r.id):
        if r.type is RecordType.CONTACT and r.email is not None:
            by_email.setdefault(r.email, []).append(r.id)
        if r.type is RecordType.COMPANY and r.domain is not None:
            by_domain.setdefault(r.domain, []).append(r.id)
    activities = {
        key: ActivityState(a.id, json.loads(json.dumps(a.row)))
        for key, a in state.activities.items()
        if not a.deleted
    }
    return LoadedState(
        next_record_id=state.next_record_id,
        next_activity_id=state.next_activity_id,
        round_robin=dict(state.round_robin),
        identity=dict(state.identity),
        by_email=Lookup(by_email),
        by_domain=Lookup(by_domain),
        records=records,
        links=defaultdict(set, {k: set(v) for k, v in state.links.items()}),
        primary=dict(state.primary),
        known_links=set(state.known_links),
        deal_info={},
        pushed_owners={},
        activities=activities,
        activity_by_id={a.id: a for a in activities.values()},
        memory={k: json.loads(json.dumps(m)) for k, m in state.memory.items()},
        sources={},
        candidates=defaultdict(list),
        learned_emails=dict(state.learned_emails),
        learned_at=dict(state.learned_at),
        given_reps=dict(state.given_reps),
    )


class _Tables:
    """The tables a batch writes, kept in memory: each :class:`Decided` applied as the
    store's statements apply it (inserts that ignore conflicts keep the first row; record
    links are upserted)."""

    def __init__(self) -> None:
        self.records: dict[int, dict[str, Any]] = {}
        self.identities: dict[tuple[str, str, str], int] = {}
        self.identity_reps: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.record_links: dict[tuple[int, int], dict[str, Any]] = {}
        self.activities: dict[int, dict[str, Any]] = {}
        self.activity_links: dict[tuple[int, int], dict[str, Any]] = {}
        self.decisions: list[dict[str, Any]] = []
        self.skips: list[dict[str, Any]] = []
        self.external_users: dict[tuple[str, str], dict[str, Any]] = {}
        self.counters: dict[str, int] = {}

    def apply(self, d: Decided) -> None:
        for row in d.new_records:
            self.records[row["id"]] = copy.deepcopy(row)
        for row in d.changed_records + d.owner_rows:
            self.records[row["id"]].update(copy.deepcopy(row))
        for row in d.identities:
            key = (row["integration"], row["type"], row["external_id"])
            self.identities.setdefault(key, row["record_id"])
        for row in d.identity_reps:
            key = (row["integration"], row["type"], row["external_id"])
            self.identity_reps[key] = (row["owner_rep"], row["owner_rep_at"])
        for row in d.record_links:  # an upsert: a moved primary company changes the flag
            self.record_links[(row["left_id"], row["right_id"])] = dict(row)
        for activity_id in d.deleted_activities:
            del self.activities[activity_id]
            self.activity_links = {
                k: v for k, v in self.activity_links.items() if k[0] != activity_id
            }
        for row in d.new_activities:
            self.activities[row["id"]] = copy.deepcopy(row)
        for row in d.changed_activities:
            self.activities[row["id"]].update(copy.deepcopy(row))
        for row in d.activity_links:
            self.activity_links.setdefault((row["activity_id"], row["record_id"]), dict(row))
        self.decisions.extend(asdict(x) for x in d.decisions)
        # The skips of earlier batches whose activity this batch created after all, as
        # store.reports.resolve_activity_skips marks them (before the batch's own).
        for made in d.created_later:
            for skip in self.skips:
                kind = getattr(skip["type"], "value", skip["type"])
                key = (skip["integration"], kind, skip["external_id"])
                made_key = (made["integration"], made["type"], made["external_id"])
                if key == made_key and skip["activity_id"] is None:
                    skip["activity_id"] = made["activity_id"]
                    skip["created_later_at"] = made["created_later_at"]
        self.skips.extend(asdict(x) for x in d.skips)
        for row in d.external_users:
            key = (row["integration"], row["external_id"])
            held = self.external_users.get(key)
            if held is None:
                self.external_users[key] = dict(row)
            else:
                for value in ("email", "name"):  # the newest word (store.upsert_external_users)
                    at = f"{value}_at"
                    newer = held[value] is None or held[at] is None or row[at] >= held[at]
                    if row[value] is not None and newer:
                        held[value], held[at] = row[value], row[at]
                held["first_seen_at"] = min(held["first_seen_at"], row["first_seen_at"])
                held["last_seen_at"] = max(held["last_seen_at"], row["last_seen_at"])
                held["events"] += row["events"]
        self.counters.update(d.counters)

    def rows(self) -> dict[str, list[str]]:
        """Every table as JSON lines: keyed tables sorted (as a snapshot sorts rows), the
        decisions and skips in the order written (their ids follow it)."""

        def line(value: Any) -> str:
            return json.dumps(value, sort_keys=True, default=lambda v: getattr(v, "value", v))

        return {
            name: sorted(line([list(k) if isinstance(k, tuple) else k, v]) for k, v in t.items())
            if isinstance(t, dict)
            else [line(row) for row in t]
            for name, t in vars(self).items()
        }


def _decide_in_memory(
    events: Sequence[Event], batches: Sequence[int], rules: WorkspaceRules
) -> dict[str, Any]:
    """``events`` decided in batches of the given sizes, each on the last one's state."""
    tables, state, start = _Tables(), empty_state(), 0
    for size in batches:
        batch = events[start : start + size]
        start += size
        tables.apply(decide_batch(state, rules, batch, NOW))
        state = _reloaded(state)
    return tables.rows()


def _events(events: list[dict[str, Any]]) -> list[Event]:
    return [parse_event(json.loads(line), "dialer") for line in _lines(events)]


def _sizes(total: int, cut: int, batch_size: int) -> list[int]:
    """Batch sizes of two ingests (``cut`` events, then the rest), each in ``batch_size``."""
    cut = min(cut, total)
    return [
        min(batch_size, part - start)
        for part in (cut, total - cut)
        for start in range(0, part, batch_size)
    ]


@settings(max_examples=300, deadline=None)
@given(
    events=event_streams,
    strategy=strategies,
    assign=st.booleans(),
    batch_size=st.integers(min_value=2, max_value=30),
    cut=st.integers(min_value=0, max_value=25),
)
def test_any_split_into_batches_equals_one_event_at_a_time_in_memory(
    events: list[dict[str, Any]], strategy: str, assign: bool, batch_size: int, cut: int
) -> None:
    rules = memory_rules(strategy, assign)
    parsed = _events(events)
    one_at_a_time = _decide_in_memory(parsed, [1] * len(parsed), rules)
    split = _decide_in_memory(parsed, _sizes(len(parsed), cut, batch_size), rules)
    assert split == one_at_a_time


def test_the_in_memory_harness_sees_a_batch_that_differs() -> None:
    """The in-memory property can fail: a batch that leaves out an event is told apart."""
    events = _events(
        [
            {"type": "record", "object": "contact", "external_id": "p-0",
             "occurred_at": TIMES[0], "properties": {"email": "p-0@globex.test"}, "owner": "u-1"},
            {"type": "owner", "object": "contact", "external_id": "p-0",
             "occurred_at": TIMES[1], "owner": "u-9"},
        ]
    )  # fmt: skip
    rules = memory_rules("integration_wins", False)
    whole = _decide_in_memory(events, [2], rules)
    assert whole == _decide_in_memory(events, [1, 1], rules)
    assert whole != _decide_in_memory(events[:1], [1], rules)
    decisions = [json.loads(line) for line in whole["decisions"]]
    assert [(d["outcome"], d["owner_id"]) for d in decisions] == [("set", "101"), ("set", "102")]
