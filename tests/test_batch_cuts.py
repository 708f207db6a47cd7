"""The engine's result does not depend on where batches are cut: the same events in the
same order end in exactly the same state applied a row at a time, in batches of 2, 3 or 7,
all at once, or cut anywhere (parallel workers rely on it: their parts are applied in
batches cut otherwise than the one worker's).

The streams are the parallel workers' model streams (tests/test_parallel_workers.py:
overlapping records, calls by number, reps whose email changes, round robin, ...) with
emails and domains of existing records changing, and later events naming the old value: a
lookup within a batch must answer as the database answers the next batch (who holds the
value now, the lowest id), whatever happened earlier in the batch.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.pipeline.drain import drain
from leadsync.settings import DedupeRule
from leadsync.store.schema import dead_letters, inbox
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from tests.conftest import truncate_database
from tests.test_parallel_workers import (
    COMPANIES,
    PEOPLE,
    _config,
    _load,
    canonical_state,
    stream,
)
from tests.test_record_join_parallel import merging_stream

Events = list[tuple[str, dict[str, Any]]]


def changing_stream(rng: random.Random, n: int) -> Events:
    """The model stream with emails and domains that change: after some events, a contact
    of either integration is given another email (a new one, or another person's: then two
    contacts share it) or a company its domain changes; the stream's later events go on
    naming the old values (a call by email, a contact's record event, a company by domain)."""
    return with_changes(rng, stream(rng, n))


def with_changes(rng: random.Random, events: Events) -> Events:
    """``events`` with emails and domains that change after some of them (see above)."""
    out: Events = []
    for k, (integration, event) in enumerate(events):
        out.append((integration, event))
        at = event["occurred_at"]
        roll = rng.random()
        if roll < 0.12:  # a contact's email changes (HubSpot's contact.propertyChange)
            person = rng.randrange(PEOPLE)
            side = rng.choice(["dialer", "crm"])
            other = rng.randrange(PEOPLE)
            email = rng.choice(
                [f"p{person}.{k}@moved.test", f"p{other}@globex{other % COMPANIES}.test"]
            )
            out.append(
                (side, {"id": f"x{k}", "occurred_at": at, "type": "record", "object": "contact",
                        "external_id": f"{side[0]}-{person}", "properties": {"email": email}})
            )  # fmt: skip
        elif roll < 0.2:  # a company's domain changes; another event names one by domain
            company = rng.randrange(COMPANIES)
            domain = rng.choice([f"globex{company}-{k}.test", f"globex{rng.randrange(3)}.test"])
            out.append(
                ("crm", {"id": f"x{k}", "occurred_at": at, "type": "record", "object": "company",
                         "external_id": f"co-{company}", "properties": {"domain": domain,
                                                                        "name": f"Co {k}"}})
            )  # fmt: skip
    return out


@contextmanager
def _workspace(url: str | None, template: Path, config: Any = None) -> Iterator[Workspace]:
    """A fresh workspace with the model's settings (or ``config``): a SQLite file copied
    from the migrated template, or the PostgreSQL test database emptied."""
    with tempfile.TemporaryDirectory() as folder:
        if url is None:
            path = Path(folder) / "leadsync.db"
            shutil.copyfile(template, path)
            target = f"sqlite:///{path}"
        else:
            truncate_database(url)
            target = url
        ws = Workspace(target)
        try:
            ws.apply_config(config if config is not None else _config())
            yield ws
        finally:
            ws.close()


def apply_cut(
    events: Events,
    cuts: Sequence[int],
    template: Path,
    url: str | None = None,
    config: Any = None,
) -> dict[str, Any]:
    """``events`` applied by the product's drain in batches ending at ``cuts`` (indexes
    into the stream; the rest is one last batch), on SQLite (``url`` None) or PostgreSQL
    (one part per window: in arrival order), under the model's settings or ``config``; the
    canonical state then."""
    bounds = sorted({c for c in cuts if 0 < c < len(events)}) + [len(events)]
    with _workspace(url, template, config) as ws:
        rules = load_rules(ws.engine)
        start = 0
        for end in bounds:
            chunk = events[start:end]
            _load(ws, chunk, first_seq=start + 1)
            drain(ws.engine, rules, batch_size=len(chunk), parts=1)
            start = end
        with ws.engine.connect() as connection:
            statuses = connection.execute(sa.select(inbox.c.status)).scalars().all()
            assert set(statuses) == {"applied"}, statuses
            # A batch that failed and was retried one row at a time was not cut there.
            assert (
                connection.execute(
                    sa.select(sa.func.count()).select_from(dead_letters)
                ).scalar_one()
                == 0
            )
            return canonical_state(connection)


def every(size: int, n: int) -> list[int]:
    return list(range(size, n, size))


def difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    for table in a:
        if a[table] != b[table]:
            only_a = [x for x in a[table] if x not in b[table]][:3]
            only_b = [x for x in b[table] if x not in a[table]][:3]
            return f"{table}: row at a time only {only_a}; cut only {only_b}"
    return ""


def assert_fixed_sizes_end_as_one_row_at_a_time(
    events: Events, template: Path, config: Any = None
) -> dict[str, Any]:
    """Batches of 2, 3, 7 and all at once end in the state of one row at a time (returned)."""
    one = apply_cut(events, every(1, len(events)), template, None, config)
    for size in (2, 3, 7, len(events)):
        cut = apply_cut(events, every(size, len(events)), template, None, config)
        assert cut == one, f"batches of {size}: {difference(one, cut)}"
    return one


def assert_cut_ends_as_one_row_at_a_time(events: Events, cuts: list[int], template: Path) -> None:
    """Batches ending at ``cuts`` end in the state of one row at a time."""
    one = apply_cut(events, every(1, len(events)), template)
    cut = apply_cut(events, cuts, template)
    assert cut == one, f"cut at {sorted(set(cuts))}: {difference(one, cut)}"


def _with_call_dedupe(window_s: int = 600) -> Any:
    """The model's settings with a dedupe rule: the dialer's and the CRM's calls."""
    rule = {"activity": "call", "integrations": ["dialer", "crm"], "window_s": window_s}
    return _config().model_copy(update={"dedupe": [DedupeRule.model_validate(rule)]})


@pytest.mark.parametrize("seed", [5, 9, 13])
def test_calls_two_tools_logged_are_one_whatever_the_batch_cut(
    sqlite_template: Path, seed: int
) -> None:
    """With a dedupe rule over the model's calls (the dialer's and the CRM's), the calls
    joined as one are the same whatever the cut."""
    one = assert_fixed_sizes_end_as_one_row_at_a_time(
        stream(random.Random(seed), 60), sqlite_template, _with_call_dedupe()
    )
    assert one["activity_sources"], "the stream has calls both tools logged"


@pytest.mark.parametrize("seed", [1, 3, 4, 5])
def test_batches_of_any_fixed_size_end_where_one_row_at_a_time_ends(
    sqlite_template: Path, seed: int
) -> None:
    events = changing_stream(random.Random(seed), 60)
    assert any(e["id"].startswith("x") for _, e in events)
    assert_fixed_sizes_end_as_one_row_at_a_time(events, sqlite_template)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(5, 45),
    cuts=st.lists(st.integers(1, 60), max_size=8),
)
def test_batches_cut_anywhere_end_where_one_row_at_a_time_ends(
    sqlite_template: Path, seed: int, size: int, cuts: list[int]
) -> None:
    events = changing_stream(random.Random(seed), size)
    assert_cut_ends_as_one_row_at_a_time(events, cuts, sqlite_template)


# ------------------------------------------------------- each cause, shrunk, both databases


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str | None:
    """None for SQLite (a file per run), else the PostgreSQL test database's URL."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


def _contact(i: int, side: str, person: str, email: str, **more: Any) -> tuple[str, dict[str, Any]]:
    at = f"2026-11-01T09:{i:02d}:00Z"
    return (
        side,
        {"id": f"e{i}", "occurred_at": at, "type": "record", "object": "contact",
         "external_id": person, "properties": {"email": email}, **more},
    )  # fmt: skip


def _company(i: int, external_id: str, domain: str) -> tuple[str, dict[str, Any]]:
    at = f"2026-11-01T09:{i:02d}:00Z"
    return (
        "crm",
        {"id": f"e{i}", "occurred_at": at, "type": "record", "object": "company",
         "external_id": external_id, "properties": {"domain": domain}},
    )  # fmt: skip


def _records(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The records by what the canonical state calls them (their identities, else
    ``type:email-or-domain``)."""
    return {r["key"]: r for r in map(json.loads, state["records"])}


def _row_at_a_time_and_whole(
    events: Events, template: Path, url: str | None, config: Any = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    one = apply_cut(events, every(1, len(events)), template, url, config)
    whole = apply_cut(events, [], template, url, config)
    assert whole == one, difference(one, whole)
    return one, whole


def test_an_email_given_up_within_the_batch_is_not_found_there_any_more(
    sqlite_template: Path, backend: str | None
) -> None:
    """After d-1's email changed within the batch, an event naming the old email creates a
    new contact, as the next batch would (main found d-1 by its old email)."""
    events = [
        _contact(1, "dialer", "d-1", "a@old.test"),
        _contact(2, "dialer", "d-1", "b@new.test"),
        _contact(3, "crm", "c-9", "a@old.test"),
    ]
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend)
    records = _records(state)
    assert records["dialer:contact:d-1"]["email"] == "b@new.test"
    assert records["crm:contact:c-9"]["email"] == "a@old.test"  # a contact of its own


def test_the_next_holder_of_an_email_is_found_when_the_lowest_gives_it_up(
    sqlite_template: Path, backend: str | None
) -> None:
    """Two contacts share an email; the lowest id gives it up within the batch: an event
    naming the email finds the other one (the lowest id holding it now), not the first."""
    events = [
        _contact(1, "dialer", "d-1", "a@shared.test"),
        _contact(2, "dialer", "d-2", "c@other.test"),
        _contact(3, "dialer", "d-2", "a@shared.test"),  # now both hold it
        _contact(4, "dialer", "d-1", "b@new.test"),  # the lowest gives it up
        _contact(5, "crm", "c-9", "a@shared.test"),
    ]
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend)
    records = _records(state)
    assert "crm:contact:c-9|dialer:contact:d-2" in records
    assert records["dialer:contact:d-1"]["email"] == "b@new.test"


def test_a_domain_given_up_within_the_batch_names_a_new_company(
    sqlite_template: Path, backend: str | None
) -> None:
    """After co-1's domain changed within the batch, a contact naming its company by the old
    domain gets a new company with it, as the next batch would (main linked it to co-1)."""
    events = [
        _company(1, "co-1", "globex.test"),
        _company(2, "co-1", "globex-new.test"),
        _contact(3, "dialer", "d-1", "p@globex.test",
                 associations=[{"object": "company", "domain": "globex.test"}]),
    ]  # fmt: skip
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend)
    records = _records(state)
    assert records["crm:company:co-1"]["domain"] == "globex-new.test"
    assert records["company:globex.test"]["placeholder"] is True
    assert ("dialer:contact:d-1", "company:globex.test", True) in state["record_links"]


def test_a_call_on_a_contact_since_an_earlier_event_of_the_batch_is_not_held_by_its_number(
    sqlite_template: Path, backend: str | None
) -> None:
    """A call linked to a contact by an earlier event of the same batch is on a person from
    then on: its later event, whose email became shared meanwhile, giving a number nobody has,
    is not held for that number (main held it: ``attached`` was known only to the next
    batch)."""
    call = {"type": "activity", "activity": "call", "external_id": "call-19",
            "owner": {"id": "u-9"}}  # fmt: skip
    props = {"direction": "outbound", "duration_s": 300, "outcome": "connected"}
    events: Events = [
        ("dialer", {"id": "e1", "occurred_at": "2026-11-01T10:39:00Z", "type": "activity",
                    "activity": "call", "external_id": "call-16", "owner": {"id": "u-7"},
                    "properties": props,
                    "associations": [{"object": "contact", "external_id": "d-5"}]}),
        ("dialer", {"id": "e2", "occurred_at": "2026-11-01T10:45:00Z", **call,
                    "properties": props,
                    "associations": [{"object": "contact", "email": "p5@globex2.test"}]}),
        ("dialer", {"id": "e3", "occurred_at": "2026-11-01T10:45:00Z", "type": "record",
                    "object": "contact", "external_id": "d-5",
                    "properties": {"email": "p5@globex2.test"}}),  # the email is shared now
        ("dialer", {"id": "e4", "occurred_at": "2026-11-01T11:11:00Z", **call,
                    "properties": {**props, "to_number": "+44 20 7946 0004"},
                    "associations": []}),
    ]  # fmt: skip
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend)
    assert state["held"] == []
    assert [link for link in state["activity_links"] if link[0] == "dialer:call:call-19"]


def test_a_changing_stream_cut_in_batches_ends_the_same_on_postgresql(postgres_url: str) -> None:
    """The property above on PostgreSQL (one worker: a part per window), a stream of each
    kind of change: row at a time, batches of 3 and 7, whole."""
    template = Path()  # unused on PostgreSQL
    events = changing_stream(random.Random(1), 60)
    one = apply_cut(events, every(1, len(events)), template, postgres_url)
    for size in (3, 7, len(events)):
        cut = apply_cut(events, every(size, len(events)), template, postgres_url)
        assert cut == one, f"batches of {size}: {difference(one, cut)}"


@pytest.mark.parametrize("seed", [2, 3])
def test_parallel_workers_end_where_one_worker_ends_while_emails_and_domains_change(
    postgres_url: str, seed: int
) -> None:
    """Two workers apply a changing stream cut in parts (the router's conflict keys put
    events that can meet through an email or domain in one component: every company that
    may hold a domain when an event names it)."""
    from tests.test_parallel_workers import _difference, _run

    events = changing_stream(random.Random(seed), 120)
    one = _run(postgres_url, events, 1)
    many = _run(postgres_url, events, 2, split=True)
    assert many == one, _difference(one, many)


def test_the_router_joins_every_company_that_may_hold_a_domain_an_event_names(
    workspace: Workspace,
) -> None:
    """Two companies hold a domain; in the next window the lowest gives it up, then a contact
    names its company by the domain (it finds the other one then), then the other gives it
    up too: all three events are one component, so they apply in arrival order (main joined
    the domain to its lowest holder only: the third event could apply before the second)."""
    from leadsync.engine import conflicts
    from leadsync.sources.canonical import parse_event

    workspace.apply_config(_config())
    rules = load_rules(workspace.engine)
    before = [
        _company(1, "co-1", "globex.test"),
        _company(2, "co-2", "other.test"),
        _company(3, "co-2", "globex.test"),  # both hold it now
    ]
    _load(workspace, before)
    drain(workspace.engine, rules, batch_size=10, parts=1)
    window = [
        _company(4, "co-1", "globex-new.test"),
        _contact(5, "dialer", "d-1", "p@globex.test",
                 associations=[{"object": "company", "domain": "globex.test"}]),
        _company(6, "co-2", "globex-other.test"),
    ]  # fmt: skip
    events = [[parse_event(event, integration)] for integration, event in window]
    keys = [conflicts.row_keys(row, rules) for row in events]
    with workspace.engine.connect() as connection:
        pairs = conflicts.resolve(connection, rules, {k for ks in keys for k in ks})
    component = conflicts.components(keys, pairs)
    assert component[0] == component[1] == component[2]


# ------------------------------------------ merges at a tool, and records joined by them


def _merge(i: int, side: str, kept: str, gone: str) -> tuple[str, dict[str, Any]]:
    at = f"2026-11-01T10:{i:02d}:00Z"
    return (
        side,
        {"id": f"m{i}", "occurred_at": at, "type": "record", "object": "contact",
         "external_id": kept, "merged": [gone], "properties": {}},
    )  # fmt: skip


def _outbox(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(integration, external id, owner) of each outbox row."""
    rows = map(json.loads, state["outbox"])
    return sorted((r["integration"], r["external_id"], r["owner_id"]) for r in rows)


@pytest.mark.parametrize("seed", [1, 2, 8, 12])
def test_streams_with_merges_cut_in_batches_end_where_one_row_at_a_time_ends(
    sqlite_template: Path, seed: int
) -> None:
    """The record-join model's streams (tools merging contacts both held, redelivered) with
    emails and domains that change, in batches of 2, 3, 7 and whole."""
    events = with_changes(random.Random(seed), merging_stream(seed, 100))
    assert_fixed_sizes_end_as_one_row_at_a_time(events, sqlite_template)


@pytest.mark.parametrize("seed", [2, 3, 5])
def test_streams_with_merges_and_call_dedupe_cut_in_batches_end_as_one_row_at_a_time(
    sqlite_template: Path, seed: int
) -> None:
    """The merge streams under a dedupe rule over the dialer's and the CRM's calls (seeds
    whose calls are joined). Their calls do not fall on a contact joined later in the batch:
    the test below has that case."""
    events = merging_stream(seed, 100)
    one = assert_fixed_sizes_end_as_one_row_at_a_time(events, sqlite_template, _with_call_dedupe())
    assert one["activity_sources"], "the stream has calls both tools logged"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(20, 90),
    cuts=st.lists(st.integers(1, 120), max_size=10),
)
def test_streams_with_merges_cut_anywhere_end_where_one_row_at_a_time_ends(
    sqlite_template: Path, seed: int, size: int, cuts: list[int]
) -> None:
    events = with_changes(random.Random(seed), merging_stream(seed, size))
    assert_cut_ends_as_one_row_at_a_time(events, cuts, sqlite_template)


def test_an_id_merged_later_in_the_batch_is_sent_the_owner_change_made_before(
    sqlite_template: Path, backend: str | None
) -> None:
    """The CRM's c-0 gets an owner from a call (both bidirectional), then the CRM merges c-0
    into c-1: the outbox writes the owner to c-0, as when the merge comes in a later batch
    (main wrote nothing: at the batch's write c-0 was merged already)."""
    events: Events = [
        _contact(1, "crm", "c-0", "p1@globex1.test"),
        ("dialer", {"id": "e2", "occurred_at": "2026-11-01T09:17:00Z", "type": "activity",
                    "activity": "call", "external_id": "call-2", "owner": {"id": "u-9"},
                    "properties": {"direction": "outbound", "duration_s": 300,
                                   "outcome": "connected"},
                    "associations": [{"object": "contact", "email": "p1@globex1.test"}]}),
        _merge(8, "crm", "c-1", "c-0"),
    ]  # fmt: skip
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend)
    assert _outbox(state) == [("crm", "c-0", "102")]


def test_an_id_made_after_a_change_of_a_record_then_joined_is_not_sent_that_change(
    sqlite_template: Path, backend: str | None
) -> None:
    """c-1 gets owner 102 from the CRM; the dialer's d-1 finds the contact by email after
    that; the CRM merges c-1 into c-5, another contact: the two records are joined. d-1 is
    sent no change made before it knew the contact (the re-applied join sent it the first)."""
    events: Events = [
        _contact(1, "crm", "c-1", "p1@globex1.test", owner={"id": "u-7", "email": "bo@acme.test"}),
        _contact(2, "dialer", "d-1", "p1@globex1.test", owner={"id": "u-5"}),
        _contact(3, "crm", "c-5", "p5@globex2.test", owner={"id": "u-5"}),
        _merge(4, "crm", "c-5", "c-1"),
    ]
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend)
    first = [
        r
        for r in map(json.loads, state["outbox"])
        if r["external_id"] == "d-1" and r["changed_at"] == "2026-11-01T09:01:00.000Z"
    ]
    assert first == []  # the CRM's change at 09:01, before d-1 knew the contact
    records = _records(state)
    joined = [r for r in records.values() if r["merged_into"] is not None]
    assert len(joined) == 1


def test_an_owner_reported_by_an_id_merged_away_is_no_echo_of_the_batchs_own_write(
    sqlite_template: Path, backend: str | None
) -> None:
    """The CRM merged c-2 into c-1 earlier; the dialer gives the contact owner 101, then the
    CRM reports 101 under the merged id c-2: a report, not the echo of leadsync's write (the
    outbox wrote c-1, never the merged c-2), as when the report comes in a later batch."""
    events: Events = [
        _contact(1, "crm", "c-1", "p1@globex1.test"),
        _merge(2, "crm", "c-1", "c-2"),
        _contact(3, "dialer", "d-1", "p1@globex1.test", owner={"id": "u-1"}),
        ("crm", {"id": "e4", "occurred_at": "2026-11-01T10:04:00Z", "type": "owner",
                 "object": "contact", "external_id": "c-2", "owner": {"id": "u-1"}}),
    ]  # fmt: skip
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend)
    [last] = [d for d in map(json.loads, state["decisions"]) if d["event_id"] == "e4"]
    assert "echoed back" not in last["reason"], last["reason"]


OUTBOUND = {"direction": "outbound", "duration_s": 60}


def _call(
    event_id: str,
    side: str,
    at: str,
    external_id: str,
    named: Sequence[dict[str, Any]] = (),
    properties: dict[str, Any] = OUTBOUND,
) -> tuple[str, dict[str, Any]]:
    """A call by rep u-1 at ``2026-11-01T{at}Z``, naming the records ``named``."""
    return (
        side,
        {"id": event_id, "occurred_at": f"2026-11-01T{at}Z", "type": "activity",
         "activity": "call", "owner": {"id": "u-1"}, "external_id": external_id,
         "properties": properties, "associations": list(named)},
    )  # fmt: skip


def test_a_call_is_a_duplicate_by_what_its_event_named_not_by_the_company_the_rules_added(
    sqlite_template: Path, backend: str | None
) -> None:
    """Dedupe's "a record both are associated with" is the person the tools named (or found
    by number): a call the rules attached to its contact's company is not the same call as
    another tool's call on that company, in one batch or in two (an earlier batch's call
    was matched by every record it was linked to, its automatic company included; one of
    the same batch by those its event named)."""
    config = _with_call_dedupe(window_s=120)
    events: Events = [
        _company(1, "co-1", "globex.test"),
        _contact(2, "dialer", "d-1", "ana@globex.test",
                 associations=[{"object": "company", "domain": "globex.test"}]),
        _call("e3", "dialer", "09:03:00", "c-1", [{"object": "contact", "external_id": "d-1"}]),
        _call("e4", "crm", "09:03:10", "k-1", [{"object": "company", "external_id": "co-1"}]),
    ]  # fmt: skip
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend, config)
    assert len(state["activities"]) == 2, state["activities"]


def test_a_call_attached_by_its_number_later_in_the_batch_is_a_duplicate_by_that_contact(
    sqlite_template: Path, backend: str | None
) -> None:
    """A dialer call held for its number, attached when a contact gets the number, is on
    that contact for dedupe from then on — in the same batch as in the next (the same
    batch's call kept the records it was made with: none)."""
    config = _with_call_dedupe(window_s=120)
    number = "+44 20 7946 0001"
    events: Events = [
        _call("e1", "dialer", "09:01:00", "c-1", properties={**OUTBOUND, "to_number": number}),
        _contact(2, "crm", "k-1", "ana@globex.test", **{"properties": {
            "email": "ana@globex.test", "phone": number}}),
        _call("e3", "crm", "09:01:20", "k-call", [{"object": "contact", "external_id": "k-1"}],
              properties={"duration_s": 60}),
    ]  # fmt: skip
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend, config)
    assert len(state["activities"]) == 1, state["activities"]
    assert state["activity_sources"], "the crm's call is a source of the dialer's"


def test_a_call_on_a_contact_joined_later_in_the_batch_is_a_duplicate_by_the_kept_one(
    sqlite_template: Path, backend: str | None
) -> None:
    """A dialer call on ana, then the CRM merges ana's contact into bo's: the call is on
    the kept contact from then on (the store moves its links), so the CRM's call on the
    kept contact is the same call — in the same batch as in the next."""
    config = _with_call_dedupe(window_s=120)
    events: Events = [
        _contact(1, "crm", "k-1", "ana@globex.test"),
        _contact(2, "crm", "k-2", "bo@globex.test"),
        _call("e3", "dialer", "09:03:00", "c-1", [{"object": "contact", "email": "ana@globex.test"}]),
        _merge(4, "crm", "k-2", "k-1"),
        _call("e5", "crm", "09:03:20", "k-call", [{"object": "contact", "external_id": "k-2"}]),
    ]  # fmt: skip
    state, _ = _row_at_a_time_and_whole(events, sqlite_template, backend, config)
    assert len(state["activities"]) == 1, state["activities"]
    assert state["activity_sources"], "the crm's call is a source of the dialer's"
