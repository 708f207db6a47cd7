"""Parallel workers on PostgreSQL end exactly where one worker applying the inbox in arrival
order ends: owners, decisions with their reasons, activities, their links, round-robin turns,
learned reps, skips, holds and questions, the company's lines learned and the internal calls
— for random streams over records that overlap (one email in two integrations, companies by
domain, deals, calls by number, reps whose email changes, a round-robin team, a call's
record seen under its own id before an event names it as the call's alias, calls to the
company's own lines before and after a call or a line event names them, record events
arriving after newer ones: their properties and the companies they name by the vendor's
clock). The records' properties, with when each was given, are compared whole.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.engine.state import ACTIVITY_IDS, RECORD_IDS
from leadsync.pipeline.drain import drain
from leadsync.settings import DedupeRule
from leadsync.store import routing as routing_store
from leadsync.store.database import create_db_engine
from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_skips,
    activity_sources,
    counters,
    external_users,
    held_activities,
    inbox,
    internal_activities,
    outbox,
    own_lines,
    owner_decisions,
    record_associations,
    record_identities,
    record_phones,
    records,
    review_items,
    route_parts,
)
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from tests.conftest import truncate_database
from tests.helpers import settings as integration_settings
from tests.helpers import workspace_config

PEOPLE = 6
COMPANIES = 3
REPS = [
    {"id": "u-1"},  # maps to 101 (directory)
    {"id": "u-9"},  # mapped by hand to 102
    {"id": "u-5"},  # unmapped: round robin on the dialer
    {"id": "u-5"},
    {"id": "u-7", "email": "bo@acme.test"},  # its email changes along the stream
    {"id": "u-7", "email": "di@acme.test"},
    {"id": "u-7"},
]


def _config() -> Any:
    dialer = integration_settings(
        unknown_counterpart={"policy": "hold", "hold_days": 90},
        region="GB",
        # Contacts bidirectional on both sides: each is written the other's owner changes
        # (the outbox), and reports them back (rules/echoes.py).
        ownership={"assign_on_activity": True, "contact": "bidirectional"},
    )
    crm = integration_settings(
        # Owners the outbox can name to it: leadsync's writes come back (rules/echoes.py).
        users={
            "auto_match": "email",
            "map": {"u-9": "102"},
            "directory": [{"id": "u-1", "email": "ana@acme.test"}],
            "unmapped": {"policy": "leave"},
        },
        # Contacts bidirectional: the same rep again is no owner change (record_identities'
        # owner_rep, read through the event's own identity key).
        ownership={
            "default": "integration_wins",
            "contact": "bidirectional",
            "protect_manual_days": 0,
        },  # fmt: skip
        region="GB",
    )
    return workspace_config({"dialer": dialer, "crm": crm})


def _phone(person: int) -> str:
    return f"+44 20 7946 0{person:03d}"


#: The company's own lines: calls are made from them (naming the line), and sometimes to one
#: (a colleague's). The last is named only by the tool's line events: calls reach it before.
LINES = ("+44 20 7946 0900", "+44 20 7946 0901", "+44 20 7946 0902")


def stream(rng: random.Random, n: int) -> list[tuple[str, dict[str, Any]]]:
    """``n`` events (integration, canonical event) over a few people, companies and deals."""
    out: list[tuple[str, dict[str, Any]]] = []
    minute = 0
    calls = 0
    # Retries and reordered deliveries: some record events arrive after newer ones (their
    # properties, a clear among them, and the companies they name then change nothing). Drawn
    # from a generator of their own, so that the stream's other choices stay as they were.
    late = random.Random(sum(rng.getstate()[1]))
    # The names u-1 is given change along the stream (the latest is kept): a generator of
    # their own too.
    names = random.Random(sum(rng.getstate()[1]) + 1)
    # The CRM's own log of some calls (another id, the contact or only the company named):
    # one call to dedupe, or another call on that company. A generator of their own too.
    logged = random.Random(sum(rng.getstate()[1]) + 2)
    for i in range(n):
        minute += rng.randint(0, 3)
        at = f"2026-11-01T{9 + minute // 60:02d}:{minute % 60:02d}:00Z"
        if late.random() < 0.25:
            back = max(0, minute - late.randint(1, 20))
            retried = f"2026-11-01T{9 + back // 60:02d}:{back % 60:02d}:00Z"
        else:
            retried = at
        gives_title, jobtitle = late.random() < 0.4, late.choice([None, "CTO", "VP Sales"])
        person = rng.randrange(PEOPLE)
        company = person % COMPANIES
        email = f"p{person}@globex{company}.test"
        rep = rng.choice(REPS)
        if rep["id"] == "u-1" and names.random() < 0.5:
            rep = {**rep, "name": names.choice(["Cy", "Cy Ng"])}
        kind = rng.random()
        if i == 0:  # a round-robin turn in every stream: an unmapped rep's new contact
            rep, kind = {"id": "u-5"}, 0.0
        event: dict[str, Any] = {"id": f"e{i}", "occurred_at": at}
        if kind < 0.3:
            integration = "dialer" if i == 0 else rng.choice(["dialer", "crm"])
            properties: dict[str, Any] = {"email": email, "firstname": f"P{person}-{i}"}
            if rng.random() < 0.5:
                properties["phone"] = _phone(person)
            if gives_title:  # a title, or its clear
                properties["jobtitle"] = jobtitle
            event["occurred_at"] = retried
            event.update(
                type="record",
                object="contact",
                external_id=f"{integration[0]}-{person}",
                properties=properties,
                owner=rep,
                associations=[{"object": "company", "domain": f"globex{company}.test"}],
            )
        elif kind < 0.45:
            integration = "crm"
            event.update(type="owner", object="contact", external_id=f"c-{person}", owner=rep)
        elif kind < 0.55:
            integration = "crm"
            event["occurred_at"] = retried
            event.update(
                type="record",
                object="deal",
                external_id=f"d-{company}-{rng.randrange(2)}",
                properties={"name": f"Deal {i}", "is_closed": rng.random() < 0.3},
                owner=rep,
                associations=[{"object": "company", "domain": f"globex{company}.test"}],
            )
        elif kind < 0.58:  # the tool names one of the company's lines (Aircall's numbers)
            integration = "dialer"
            event.update(type="line", properties={"number": rng.choice(LINES)})
        else:
            integration = "dialer"
            if calls and rng.random() < 0.3:
                external_id = f"call-{rng.randrange(calls)}"  # a later event of a call
            else:
                external_id = f"call-{calls}"
                calls += 1
            properties = {
                "direction": "outbound",
                "duration_s": rng.choice([5, 60, 300]),
                "outcome": rng.choice(["connected", "no_answer"]),
            }
            associations = []
            how = rng.random()
            if how < 0.4:
                associations = [{"object": "contact", "email": email}]
            elif how < 0.6:
                associations = [{"object": "contact", "external_id": f"d-{person}"}]
            else:
                properties["to_number"] = _phone(person)
                if rng.random() < 0.35:  # a colleague's line: internal, once it is known
                    properties["to_number"] = rng.choice(LINES)
            if rng.random() < 0.25:  # the call names the company's line it was made from
                properties["from_number"] = properties["line_number"] = rng.choice(LINES[:2])
            event.update(
                type="activity",
                activity="call",
                external_id=external_id,
                owner=rep,
                properties=properties,
                associations=associations,
            )
            # A dialer's record of the call (Salesloft's call data record): under its own
            # id until it is logged to the call, then the call with that id as its alias.
            record = "rec-" + external_id.removeprefix("call-")
            how = rng.random()
            if how < 0.15:
                event["external_id"] = record
            elif how < 0.3:
                event["aliases"] = [record]
            if logged.random() < 0.25:
                out.append((integration, event))
                integration = "crm"
                named = logged.choice(
                    [{"object": "contact", "external_id": f"c-{person}"},
                     {"object": "company", "domain": f"globex{company}.test"}]
                )  # fmt: skip
                event = {
                    "id": f"e{i}-crm", "occurred_at": at, "type": "activity", "activity": "call",
                    "external_id": f"k-{i}", "owner": rep, "associations": [named],
                    "properties": {"direction": "outbound", "duration_s": properties["duration_s"]},
                }  # fmt: skip
        out.append((integration, event))
    return out


def _load(ws: Workspace, events: list[tuple[str, dict[str, Any]]], first_seq: int = 1) -> None:
    """The stream into the inbox as pending rows, in one transaction, in arrival order
    (numbered from ``first_seq``: a stream loaded in pieces)."""
    with ws.engine.begin() as connection:
        connection.execute(
            sa.insert(inbox),
            [
                {
                    "seq": seq,
                    "integration": integration,
                    "event_id": event["id"],
                    "received_at": event["occurred_at"],
                    "occurred_at": event["occurred_at"],
                    "payload": json.dumps(event),
                    "status": "pending",
                    "source": "model",
                }
                for seq, (integration, event) in enumerate(events, start=first_seq)
            ],
        )


def _run(
    url: str,
    events: list[tuple[str, dict[str, Any]]],
    workers: int,
    split: bool = False,
    config: Any = None,
) -> dict[str, Any]:
    """The stream applied by ``workers`` threads side by side (one: in arrival order, one
    part per window), then the state, canonical. ``split``: some window must have been cut
    in several parts (a stream long enough for it; a short random one may hold one
    component per window, as the property test's seed 24084 of 23 events does). ``config``:
    the settings, else the model's (:func:`_config`)."""
    truncate_database(url)
    ws = Workspace(url)
    try:
        ws.apply_config(config or _config())
        _load(ws, events)
        rules = load_rules(ws.engine)
        parts = 1 if workers == 1 else 4
        errors: list[BaseException] = []

        def work() -> None:
            try:
                drain(ws.engine, rules, batch_size=3, parts=parts)
            except BaseException as exc:  # reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(workers)]
        with _enlisted(ws.engine, workers if workers > 1 else 0):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        assert not errors, errors
        with ws.engine.connect() as connection:
            statuses = Counter(connection.execute(sa.select(inbox.c.status)).scalars().all())
            assert statuses == {"applied": len(events)}, statuses
            if split and workers > 1:  # windows were cut in parts, not taken whole
                assert _parts_and_windows(connection)[0] > _parts_and_windows(connection)[1]
            return canonical_state(connection)
    finally:
        ws.close()


def _serial_then_pending(url: str, events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The state one worker reaches applying ``events`` in arrival order; then the
    database starts afresh with the events in its inbox, pending."""
    one = _run(url, events, 1)
    truncate_database(url)
    ws = Workspace(url)
    try:
        ws.apply_config(_config())
        _load(ws, events)
    finally:
        ws.close()
    return one


@contextmanager
def _enlisted(engine: sa.Engine, n: int) -> Iterator[None]:
    """``n`` workers counted as draining from the start (the threads enlist as they start,
    one after another: the first window would otherwise be cut for fewer)."""
    holders = [engine.connect() for _ in range(n)]
    try:
        for holder in holders:
            routing_store.enlist(holder)
        yield
    finally:
        for holder in holders:
            routing_store.leave(holder)  # a pooled connection would keep its session lock
            holder.close()


def _parts_and_windows(connection: sa.Connection) -> tuple[int, int]:
    """How many parts the routers cut, in how many windows (a window's parts share their
    time of creation)."""
    c = route_parts.c
    query = sa.select(sa.func.count(), sa.func.count(sa.distinct(c.created_at)))
    parts, windows = connection.execute(query.select_from(route_parts)).one()
    return int(parts), int(windows)


_IDS_IN_TEXT = re.compile(r"\b(contact|company|deal|lead|ticket|record|activity) (\d+)\b")


def canonical_state(connection: sa.Connection) -> dict[str, Any]:
    """Every table of decided state with ids replaced by what the records and activities
    are (their identities, email or domain; an activity's source key), reasons included."""
    names: dict[int, str] = {}
    idents: dict[int, list[str]] = {}
    reps: list[tuple[str, str | None, str | None]] = []
    for record_id, integration, rtype, external_id, rep, rep_at in connection.execute(
        sa.select(
            record_identities.c.record_id,
            record_identities.c.integration,
            record_identities.c.type,
            record_identities.c.external_id,
            record_identities.c.owner_rep,
            record_identities.c.owner_rep_at,
        )
    ):
        idents.setdefault(int(record_id), []).append(f"{integration}:{rtype}:{external_id}")
        reps.append((f"{integration}:{rtype}:{external_id}", rep, rep_at))
    rows = [dict(r._mapping) for r in connection.execute(sa.select(records))]
    for row in rows:
        rid = int(row["id"])
        names[rid] = "|".join(sorted(idents.get(rid, []))) or (
            f"{row['type']}:{row['email'] or row['domain'] or row['name'] or row['origin']}"
        )
    activity_names = {
        int(r.id): f"{r.integration}:{r.type}:{r.external_id}"
        for r in connection.execute(
            sa.select(activities.c.id, activities.c.integration, activities.c.type,
                      activities.c.external_id)
        )
    }  # fmt: skip

    def text(value: Any) -> Any:
        if not isinstance(value, str):
            return value

        def swap(m: re.Match[str]) -> str:
            n = int(m.group(2))
            if m.group(1) == "activity":
                return f"activity <{activity_names.get(n, n)}>"
            return f"{m.group(1)} <{names.get(n, n)}>"

        return _IDS_IN_TEXT.sub(swap, value)

    def rec(value: Any) -> Any:
        return None if value is None else names.get(int(value), f"? {value}")

    state: dict[str, Any] = {"identity_reps": sorted(reps)}
    state["records"] = sorted(
        json.dumps(
            {
                **{k: text(v) for k, v in row.items() if k not in ("id",)},
                "key": names[row["id"]],
                "merged_into": rec(row["merged_into"]),  # joined into (engine/record_joins.py)
            },
            sort_keys=True,
            default=str,
        )
        for row in rows
    )
    state["record_links"] = sorted(
        (rec(r.left_id), rec(r.right_id), bool(r.is_primary))
        for r in connection.execute(sa.select(record_associations))
    )
    state["decisions"] = sorted(
        json.dumps(
            {
                # decided_at: when each run decided, not what (the runs differ in it).
                **{
                    k: text(v) for k, v in dict(r._mapping).items() if k not in ("id", "decided_at")
                },
                "record_id": rec(r.record_id),
            },
            sort_keys=True,
            default=str,
        )
        for r in connection.execute(sa.select(owner_decisions))
    )
    state["activities"] = sorted(
        json.dumps(
            {k: text(v) for k, v in dict(r._mapping).items() if k != "id"}
            | {"key": activity_names[int(r.id)]},
            sort_keys=True,
            default=str,
        )
        for r in connection.execute(sa.select(activities))
    )
    state["activity_sources"] = sorted(
        (
            f"{r.integration}:{r.type}:{r.external_id}",
            activity_names.get(int(r.activity_id), "removed"),
            text(r.reason),
        )
        for r in connection.execute(sa.select(activity_sources))
    )
    state["activity_links"] = sorted(
        (activity_names[int(r.activity_id)], rec(r.record_id), r.source, text(r.reason))
        for r in connection.execute(sa.select(activity_associations))
    )
    state["skips"] = sorted(
        json.dumps(
            {k: text(v) for k, v in dict(r._mapping).items() if k != "id"}
            | {"record_id": rec(r.record_id)}
            # The activity a later event created (since removed again: no longer named).
            | {"activity_id": r.activity_id and activity_names.get(int(r.activity_id), "gone")},
            sort_keys=True,
            default=str,
        )
        for r in connection.execute(sa.select(activity_skips))
    )
    state["round_robin"] = sorted(
        (r.name, int(r.value))
        for r in connection.execute(sa.select(counters).where(counters.c.name.startswith("rr:")))
    )
    state["reps"] = sorted(tuple(r) for r in connection.execute(sa.select(external_users)))
    state["phones"] = sorted(
        (rec(r.record_id), r.property, r.number, bool(r.valid))
        for r in connection.execute(sa.select(record_phones))
    )
    state["held"] = sorted(
        (activity_names.get(int(r.activity_id)), r.number, bool(r.queued))
        for r in connection.execute(sa.select(held_activities))
    )
    state["questions"] = sorted(
        (r.kind, _question_key(r.key, activity_names), r.status, text(r.outcome))
        for r in connection.execute(sa.select(review_items))
    )
    state["own_lines"] = sorted(tuple(r) for r in connection.execute(sa.select(own_lines)))
    state["internal"] = sorted(
        (activity_names.get(int(r.activity_id)), r.integration, r.number, text(r.reason))
        for r in connection.execute(sa.select(internal_activities))
    )
    # The owners written to the tools and what became of each (awaited, echoed, passed).
    state["outbox"] = sorted(
        json.dumps(
            {k: text(v) for k, v in dict(r._mapping).items() if k != "id"}
            | {"record_id": rec(r.record_id)},
            sort_keys=True,
            default=str,
        )
        for r in connection.execute(sa.select(outbox))
    )
    return state


def _question_key(key: str, activity_names: dict[int, str]) -> str:
    """A review question's key with its activity named (``email:31:a@b.test`` is
    ``email:<dialer:call:c-9>:a@b.test``): ids are the sequences', which a router killed
    while routing leaves with a gap (a sequence gives back nothing on a rollback), so two
    runs may number the same activity differently."""
    kind, _, rest = key.partition(":")
    number, sep, suffix = rest.partition(":")
    if not number.isdigit():  # an owner question names no activity
        return key
    return f"{kind}:<{activity_names.get(int(number), 'removed')}>{sep}{suffix}"


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    yield postgres_url


def _difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    for table in a:
        if a[table] != b[table]:
            only_a = [x for x in a[table] if x not in b[table]][:3]
            only_b = [x for x in b[table] if x not in a[table]][:3]
            return f"{table}: one worker only {only_a}; parallel only {only_b}"
    return ""


def _arrive_late(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The record events that arrive after a newer one of the same person (or deal)."""
    newest: dict[str, str] = {}
    late = []
    for _, event in events:
        if event["type"] != "record":
            continue
        who = event["properties"].get("email") or event["external_id"]
        if event["occurred_at"] < newest.get(who, ""):
            late.append(event["id"])
        newest[who] = max(newest.get(who, ""), event["occurred_at"])
    return late


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_and_four_workers_end_where_one_worker_in_arrival_order_ends(
    pg_url: str, seed: int
) -> None:
    events = stream(random.Random(seed), 160)
    one = _run(pg_url, events, 1)
    assert one["decisions"] and one["activity_links"] and one["round_robin"]
    assert [d for d in one["decisions"] if "gave the same rep as before" in d]  # bidirectional
    assert one["activity_sources"]  # a call's record joined the call
    assert _arrive_late(events)  # record events after newer ones: the vendor's clock decides
    for workers in (2, 4):
        many = _run(pg_url, events, workers, split=True)
        assert many == one, f"{workers} workers: {_difference(one, many)}"


def test_the_tools_echoes_of_leadsyncs_writes_end_where_one_worker_ends(pg_url: str) -> None:
    """The owners written to a tool and awaited back are read and written through the
    identity its events name (rules/echoes.py): a stream whose tools echo writes (seed 6),
    applied by two and four workers, ends with the same echoes, passed writes and decisions."""
    events = stream(random.Random(6), 160)
    one = _run(pg_url, events, 1)
    assert [d for d in one["decisions"] if "its own change echoed back" in d]
    echoes = {json.loads(row)["echo"] for row in one["outbox"]}
    assert {"awaited", "echoed", "passed"} <= echoes
    for workers in (2, 4):
        many = _run(pg_url, events, workers, split=True)
        assert many == one, f"{workers} workers: {_difference(one, many)}"


@pytest.mark.parametrize("seed", [4, 6])
def test_calls_two_tools_logged_are_one_with_two_and_four_workers_as_with_one(
    pg_url: str, seed: int
) -> None:
    """Under a dedupe rule over the dialer's and the CRM's calls, the calls joined as one
    (and those kept apart: a CRM call on the company is not the dialer's on its contact)
    are the same whichever worker applied them."""
    rule = {"activity": "call", "integrations": ["dialer", "crm"], "window_s": 600}
    config = _config().model_copy(update={"dedupe": [DedupeRule.model_validate(rule)]})
    events = stream(random.Random(seed), 160)
    one = _run(pg_url, events, 1, config=config)
    assert [s for s in one["activity_sources"] if s[0].startswith("crm:")], "a CRM call joined"
    for workers in (2, 4):
        many = _run(pg_url, events, workers, split=True, config=config)
        assert many == one, f"{workers} workers: {_difference(one, many)}"


# Streams the property test tries: a few in CI; LEADSYNC_MODEL_EXAMPLES=60 for a longer look.
MODEL_EXAMPLES = int(os.environ.get("LEADSYNC_MODEL_EXAMPLES", "6"))


@settings(
    max_examples=MODEL_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(20, 200), workers=st.sampled_from([2, 3]))
def test_any_stream_parallel_equals_serial(pg_url: str, seed: int, size: int, workers: int) -> None:
    events = stream(random.Random(seed), size)
    one = _run(pg_url, events, 1)
    many = _run(pg_url, events, workers)
    assert many == one, f"{workers} workers: {_difference(one, many)}"


LEADSYNC = Path(sys.executable).parent / "leadsync"


def _worker(url: str) -> subprocess.Popen[bytes]:
    """A real ``leadsync worker`` process draining what is pending, in small batches."""
    return subprocess.Popen(
        [str(LEADSYNC), "--db", url, "worker", "--once", "--no-push", "--batch-size", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _progress(url: str) -> tuple[int, int]:
    """(rows applied, parts held by a worker right now)."""
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            applied = connection.execute(
                sa.select(sa.func.count()).where(inbox.c.status == "applied")
            ).scalar_one()
            held = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = 27764 AND granted"  # 0x6C74: the parts' session locks
            ).scalar_one()
        return int(applied), int(held)
    finally:
        engine.dispose()


def test_workers_killed_with_parts_held_are_taken_over_nothing_lost_or_applied_twice(
    pg_url: str,
) -> None:
    events = stream(random.Random(11), 240)
    one = _serial_then_pending(pg_url, events)
    rng = random.Random(5)
    killed_holding = 0
    workers = [_worker(pg_url) for _ in range(3)]
    for target in (40, 110, 180):  # three rounds: kill mid-run, start replacements
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            applied, held = _progress(pg_url)
            if applied >= target and held:
                break
            if all(w.poll() is not None for w in workers):
                break
            time.sleep(0.005)
        if held and applied < len(events):
            killed_holding += 1
        for victim in rng.sample(workers, 2):
            victim.send_signal(signal.SIGKILL)
            victim.wait()
        workers = [w for w in workers if w.poll() is None] + [_worker(pg_url) for _ in range(2)]
    for w in workers:
        assert w.wait(timeout=300) == 0
    assert killed_holding, "no worker was killed while parts were held"
    engine = create_db_engine(pg_url)
    try:
        with engine.connect() as connection:
            statuses = Counter(connection.execute(sa.select(inbox.c.status)).scalars().all())
            assert statuses == {"applied": len(events)}, statuses
            after = canonical_state(connection)
    finally:
        engine.dispose()
    assert after == one, _difference(one, after)


def test_ids_a_killed_router_reserved_are_gone_and_the_state_is_one_workers(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A router killed after reserving its window's ids leaves the sequences past them (a
    sequence gives nothing back on a rollback): the next router reserves the window again,
    further on. Ids then differ from one worker's, never the order they are taken in, nor
    anything decided (the SIGKILL test above met this when a victim was routing)."""
    events = stream(random.Random(11), 120)
    one = _run(pg_url, events, 1)
    reserve_run = routing_store.reserve_run
    burned: Counter[str] = Counter()

    def killed_first(connection: sa.Connection, kind: str, n: int) -> int | None:
        routing_store.reserve_ids(connection, kind, n)  # what the killed router took
        burned[kind] += n
        return reserve_run(connection, kind, n)

    monkeypatch.setattr(routing_store, "reserve_run", killed_first)
    many = _run(pg_url, events, 2, split=True)
    assert burned[ACTIVITY_IDS] and burned[RECORD_IDS]
    engine = create_db_engine(pg_url)
    try:
        with engine.connect() as connection:
            top = connection.execute(sa.select(sa.func.max(activities.c.id))).scalar_one()
            count = connection.execute(sa.select(sa.func.count(activities.c.id))).scalar_one()
    finally:
        engine.dispose()
    assert top > count  # gaps: ids differ from one worker's
    assert many == one, _difference(one, many)


def test_every_event_that_may_take_a_turn_shares_the_team_key_whatever_came_first(
    workspace: Workspace,
) -> None:
    """A rep's activity first in a window (it takes no turn) does not hide the turns its
    record and owner events take; disjoint records join through the team only."""
    from leadsync.engine import conflicts
    from leadsync.sources.canonical import parse_event

    workspace.apply_config(_config())
    rules = load_rules(workspace.engine)
    rows = [
        {"type": "activity", "activity": "call", "external_id": "c-1", "owner": "u-5",
         "properties": {"duration_s": 60}, "associations": [{"object": "contact",
                                                            "external_id": "d-1"}]},
        {"type": "record", "object": "contact", "external_id": "d-2", "owner": "u-5",
         "properties": {"email": "two@globex.test"}},
        {"type": "owner", "object": "contact", "external_id": "d-3", "owner": "u-5"},
        {"type": "record", "object": "contact", "external_id": "d-4", "owner": "u-1",
         "properties": {"email": "four@globex.test"}},
    ]  # fmt: skip
    events = [
        [parse_event({"id": f"e{i}", "occurred_at": "2026-11-01T09:00:00Z", **row}, "dialer")]
        for i, row in enumerate(rows)
    ]
    with workspace.engine.connect() as connection:
        keys = [
            [k for e in row for k in conflicts.event_keys(e, rules)] + more
            for row, more in zip(events, conflicts.rep_keys(connection, rules, events), strict=True)
        ]
        pairs = conflicts.resolve(connection, rules, {k for ks in keys for k in ks})
    component = conflicts.components(keys, pairs)
    assert ("rr", "dialer", "sdr") not in keys[0]
    assert component[1] == component[2]  # both may take the team's next turn
    assert len({component[0], component[1], component[3]}) == 3


def test_a_lone_worker_takes_each_window_whole_and_looks_nothing_up(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadsync.engine import conflicts

    def looked_up(*args: object, **kwargs: object) -> object:
        raise AssertionError("a lone worker's window is one part: nothing to look up")

    monkeypatch.setattr(conflicts, "resolve", looked_up)
    events = stream(random.Random(5), 40)[:40]  # (with the CRM's calls, more than 40)
    truncate_database(pg_url)
    ws = Workspace(pg_url)
    try:
        ws.apply_config(_config())
        _load(ws, events)
        drain(ws.engine, load_rules(ws.engine), batch_size=3, parts=4)
        with ws.engine.connect() as connection:
            statuses = Counter(connection.execute(sa.select(inbox.c.status)).scalars().all())
            assert statuses == {"applied": len(events)}
            parts, windows = _parts_and_windows(connection)
            sizes = connection.execute(sa.select(route_parts.c.events)).scalars().all()
        assert parts == windows == 4  # windows of batch x parts = 12 rows: 12, 12, 12, 4
        assert sorted(sizes) == [4, 12, 12, 12]
    finally:
        ws.close()


def test_rows_of_a_part_taken_back_are_not_retried_alone_by_its_worker(pg_url: str) -> None:
    """Exclusive work (a preview, an undo, ...) closes the open parts between a refused
    batch and its rows retried alone: those rows are the router's again (another worker may
    apply them now), so the part's worker neither applies nor fails them."""
    from leadsync.pipeline.drain import _Drainer, adapters_for

    serial = _serial_then_pending(pg_url, stream(random.Random(7), 3))
    ws = Workspace(pg_url)
    try:
        rules = load_rules(ws.engine)
        with ws.engine.begin() as connection:
            rows = routing_store.routable(connection, 10)
            seqs = [int(r["seq"]) for r in rows]
            routing_store.create_parts(
                connection, [(seqs, [None] * 3, [None] * 3)], "2026-12-04T00:00:00.000Z"
            )
            (part_id,) = routing_store.open_parts(connection)
        drainer = _Drainer(ws.engine, rules, adapters_for(rules), 10)
        with ws.engine.connect() as connection:
            drainer.part = routing_store.open_part(connection, part_id)
        with ws.engine.begin() as connection:  # still its own: applied
            assert drainer.apply_row(connection, rows[0]).events == 1
        with ws.engine.begin() as connection:  # what exclusive work does first
            routing_store.lock_batch(connection, shared=False)
        with ws.engine.begin() as connection:
            assert drainer.apply_row(connection, rows[1]).events == 0
        drainer.refuse_row(rows[2], RuntimeError("refused"))
        with ws.engine.connect() as connection:
            statuses = connection.execute(
                sa.select(inbox.c.seq, inbox.c.status).order_by(inbox.c.seq)
            ).all()
        assert [s for _, s in statuses] == ["applied", "pending", "pending"]
        assert ws.dead_letters() == []
        drain(ws.engine, rules, batch_size=2, parts=1)  # the router's again: applied once
        with ws.engine.connect() as connection:
            assert Counter(connection.execute(sa.select(inbox.c.status)).scalars()) == {
                "applied": 3
            }
            assert canonical_state(connection) == serial
    finally:
        ws.close()
