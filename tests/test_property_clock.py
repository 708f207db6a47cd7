"""A record's properties by the vendor's clock, not by arrival: vendors retry and reorder
webhooks, and a retried ``contact.created`` (or any older update) arriving after a newer
``contact.updated`` must not put the old name, title or email back. Per property, an event
older (``changed_at``, else ``occurred_at``) than the one that gave the value shown changes
nothing there, whichever integration either is from; equal times are not older (the later
arrival wins); a clear older than a value is ignored. A contact's primary company follows the
same clock. Any order and any cut into batches of the same events (distinct times) end in the
same properties — on SQLite and PostgreSQL, in memory over many orders, and through the real
service with the vendors' published samples sent newest first.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.engine import WorkspaceRules
from leadsync.engine import decide as decide_batch
from leadsync.model import Event, Owner, display_ts
from leadsync.rules.mapping import OwnerDirectory
from leadsync.rules.records import newer_properties
from leadsync.sources.canonical import parse_event
from leadsync.store.schema import records
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, reset_database, workspace_config
from tests.helpers import settings as integration_settings
from tests.live import LiveServer, compact, fixture, serve, vendor_headers, wait_applied
from tests.test_properties import NOW, _reloaded, empty_state

T = [f"2026-11-01T09:0{m}:00.000Z" for m in range(8)]

# ------------------------------------------------------------------------ the rule itself


def test_an_older_value_or_clear_changes_nothing_and_equal_times_are_not_older() -> None:
    times: dict[str, Any] = {}
    taken, older = newer_properties({"firstname": "Kim", "title": "CTO"}, times, T[2], "phone")
    assert (taken, older) == ({"firstname": "Kim", "title": "CTO"}, [])
    assert times == {"firstname": [T[2], "phone"], "title": [T[2], "phone"]}
    # Older, from any integration: nothing there; a clear is a value like any other.
    taken, older = newer_properties({"firstname": "K", "title": None}, times, T[1], "crm")
    assert (taken, older) == ({}, ["firstname", "title"])
    # Newer from another integration: taken, with its time and name.
    taken, older = newer_properties({"title": None, "city": "Oslo"}, times, T[3], "crm")
    assert (taken, older) == ({"title": None, "city": "Oslo"}, [])
    assert times["title"] == [T[3], "crm"]
    # Equal times are not older: the later arrival wins.
    taken, _ = newer_properties({"title": "VP"}, times, T[3], "phone")
    assert taken == {"title": "VP"} and times["title"] == [T[3], "phone"]
    # A property of its own rule (a contact's phone numbers) passes, untimed.
    taken, older = newer_properties({"phone": "1", "city": "X"}, times, T[0], "crm", ("phone",))
    assert (taken, older) == ({"phone": "1"}, ["city"]) and "phone" not in times


# ------------------------------------------------------- explicit orders, on each database

# One contact from two tools (a dialer and an engagement tool) and one deal (a deal has no
# email to match by: one tool's): each property should end with its latest event's value by
# the vendor's clock.
CONTACT = [
    ("dialer", T[1], {"email": "kim@globex.test", "firstname": "Kim", "jobtitle": "Intern",
                      "city": "Oslo"}, ["a-1"]),
    ("dialer", T[4], {"firstname": "Kimberly", "jobtitle": None}, []),
    ("engage", T[3], {"jobtitle": "CTO", "lastname": "Lee"}, ["a-2"]),
    ("dialer", T[5], {"lastname": "Lee-Park"}, []),
    ("engage", T[2], {"firstname": "Kimmy", "city": "Bergen"}, ["a-1"]),
]  # fmt: skip
DEAL = [
    ("dialer", T[1], {"name": "Globex renewal", "stage": "qualified", "is_closed": False}),
    ("dialer", T[6], {"stage": "closedwon", "is_closed": True}),
    ("dialer", T[2], {"stage": "presentation"}),
]
EXPECTED_CONTACT = {
    "email": "kim@globex.test",
    "firstname": "Kimberly",
    "jobtitle": None,
    "lastname": "Lee-Park",
    "city": "Bergen",  # the engagement tool's, newer than the dialer's first
}
EXPECTED_DEAL = {"name": "Globex renewal", "stage": "closedwon", "is_closed": True}


def _events() -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    for n, (integration, at, properties, companies) in enumerate(CONTACT):
        ext = "p-1" if integration == "dialer" else "pe-1"
        event = {
            "id": f"c{n}",
            "occurred_at": at,
            "type": "record",
            "object": "contact",
            "external_id": ext,
            # Each tool names the contact by its id, and gives its email: one contact,
            # whichever event comes first (record matching by email).
            "properties": {**properties, "email": "kim@globex.test"},
            "associations": [{"object": "company", "external_id": c} for c in companies],
        }
        out.append((integration, event))
    for n, (integration, at, properties) in enumerate(DEAL):
        event = {
            "id": f"d{n}",
            "occurred_at": at,
            "type": "record",
            "object": "deal",
            "external_id": "d-1",
            "properties": properties,
        }
        out.append((integration, event))
    return out


def _config() -> Any:
    leave = {"unmapped": {"policy": "leave"}}
    return workspace_config(
        {"dialer": integration_settings(users=leave), "engage": integration_settings(users=leave)}
    )


def _state_of(ws: Workspace) -> dict[str, Any]:
    """The contact's and the deal's properties and core fields, and the contact's primary
    company (by external id)."""
    with ws.engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(sa.select(records))]
    contacts = [r for r in rows if r["type"] == "contact"]
    assert len(contacts) == 1, contacts
    [deal] = [r for r in rows if r["type"] == "deal"]
    [contact] = contacts
    kim = ws.record("contact", contact["id"])
    companies = {r["id"]: r for r in rows if r["type"] == "company"}
    names = {i: next(x["external_id"] for x in ws.record("company", i)["identities"])
             for i in companies}  # fmt: skip
    primary = [names[a["id"]] for a in kim["associations"] if a.get("primary")]
    return {
        "contact": {k: v for k, v in contact["properties"].items() if k != "email"}
        | {"name": contact["name"], "email": contact["email"]},
        "deal": deal["properties"] | {"stage": deal["stage"], "closed": deal["is_closed"]},
        "primary": primary,
    }


EXPECTED = {
    "contact": {k: v for k, v in EXPECTED_CONTACT.items() if k != "email"}
    | {"name": "Kimberly Lee-Park", "email": "kim@globex.test"},
    "deal": EXPECTED_DEAL | {"closed": True},
    "primary": ["a-2"],  # the engagement tool's event at T[3] names its a-2 first: the latest
}


def _orders() -> list[list[int]]:
    """Arrival orders of the events: in time order, newest first, and a few shuffles."""
    n = len(CONTACT) + len(DEAL)
    by_time = sorted(range(n), key=lambda i: _events()[i][1]["occurred_at"])
    rng = random.Random(31)
    shuffled = []
    while len(shuffled) < 4:
        order = list(range(n))
        rng.shuffle(order)
        shuffled.append(order)
    return [by_time, by_time[::-1], *shuffled]


@pytest.mark.parametrize("batch_size", [1, 50])
def test_any_order_of_the_events_ends_in_the_same_properties(
    workspace: Workspace, batch_size: int
) -> None:
    events = _events()
    for order in _orders():
        reset_database(workspace.engine)
        workspace.apply_config(_config())
        for i in order:
            integration, event = events[i]
            workspace.ingest(integration, [json.dumps(event)], batch_size=batch_size)
        assert _state_of(workspace) == EXPECTED, [events[i][1]["id"] for i in order]


def test_the_times_are_stored_with_the_record_and_a_later_batch_reads_them(
    workspace: Workspace,
) -> None:
    workspace.apply_config(_config())
    newer, older = _events()[1], _events()[0]
    workspace.ingest(*_one(_events()[0]))
    workspace.ingest(*_one(newer))
    workspace.ingest(*_one(older))  # a retry of the first, in a batch of its own
    with workspace.engine.connect() as connection:
        [row] = connection.execute(sa.select(records).where(records.c.type == "contact")).all()
    times = row.property_times
    assert times["firstname"] == [T[4], "dialer"] and times["jobtitle"] == [T[4], "dialer"]
    assert times["city"] == [T[1], "dialer"] and times["email"] == [T[4], "dialer"]
    assert row.properties["firstname"] == "Kimberly" and row.properties["jobtitle"] is None
    assert row.primary_company_at == T[1]


def test_records_show_says_who_gave_each_value_and_when(workspace: Workspace) -> None:
    """What an admin reads when an update did not take: the record's JSON (the admin API's)
    and `records show` name, per property, the integration and the vendor's time of the
    value shown."""
    workspace.apply_config(_config())
    for pair in (_events()[0], _events()[1], _events()[0]):
        workspace.ingest(*_one(pair))
    [rid] = [int(r["id"]) for r in workspace.find(email="kim@globex.test")]
    record = workspace.record("contact", rid)
    assert record["properties_given"]["firstname"] == {"integration": "dialer", "at": T[4]}
    assert record["properties_given"]["city"] == {"integration": "dialer", "at": T[1]}
    shown = CliRunner().invoke(app, ["--db", workspace.url, "records", "show", "contact", str(rid)])
    assert shown.exit_code == 0, shown.output
    [line] = [x for x in shown.stdout.splitlines() if x.startswith("  given: ")]
    assert f"firstname by dialer at {display_ts(T[4])}" in line
    assert f"city by dialer at {display_ts(T[1])}" in line


def _one(pair: tuple[str, dict[str, Any]]) -> tuple[str, list[str]]:
    return pair[0], [json.dumps(pair[1])]


def test_a_preview_of_an_older_event_says_what_it_does_not_take(workspace: Workspace) -> None:
    """Preview reuses the engine: a retried older event shows the properties it would not
    take, and the older company it names stays a plain association."""
    workspace.apply_config(_config())
    for pair in _events()[:4]:
        workspace.ingest(*_one(pair))
    retried = {**_events()[0][1], "id": "c0-retry"}
    [entry] = workspace.preview("dialer", [json.dumps(retried)]).events
    assert entry.counterpart is not None
    assert "not taken: firstname, jobtitle" in entry.counterpart
    assert "stays contact 1's primary company: this event is older" in entry.counterpart
    with workspace.engine.connect() as connection:
        [kim] = connection.execute(sa.select(records.c.properties).where(
            records.c.type == "contact")).scalars().all()  # fmt: skip
    assert kim["firstname"] == "Kimberly"  # nothing written


# ------------------------------------------------------------- in memory, many orders


def _memory_rules() -> WorkspaceRules:
    owners = {
        o["id"]: Owner(o["id"], o["email"], o["first_name"], o["last_name"], o.get("active", True))
        for o in OWNERS
    }
    return WorkspaceRules(
        directory=OwnerDirectory.build(owners, {"sdr": ("101", "102")}),
        integrations=dict(_config().integrations),
    )


def _memory_end(events: list[Event], cuts: list[int]) -> dict[str, Any]:
    """``events`` decided in batches cut at ``cuts`` (each batch on the last one's state, as
    the database gives it back): per record, by its identities, its properties, core fields,
    their times and its primary company."""
    state, start = empty_state(), 0
    rules = _memory_rules()
    for end in [*cuts, len(events)]:
        decide_batch(state, rules, events[start:end], NOW)
        state = _reloaded(state)
        start = end
    names: dict[int, list[str]] = defaultdict(list)
    for key, rid in state.identity.items():
        names[rid].append(":".join(key))
    out = {}
    for r in state.records.values():
        props = json.loads(r.properties) if isinstance(r.properties, str) else r.properties
        primary = state.primary.get(r.id)
        out["|".join(sorted(names[r.id])) or f"{r.type.value}:{r.email}"] = (
            props,
            r.times(),
            (r.email, r.name, r.stage, r.is_closed),
            "|".join(sorted(names[primary])) if primary is not None else None,
        )
    return out


PEOPLE = ["p-1", "p-2"]
PROPS = ["firstname", "jobtitle", "city"]
# The properties a clear is given to: every one, names included — a name column made of
# properties all cleared is empty whichever order the value and the clear arrived in
# (rules/records.py core_fields).
CLEARED = PROPS


@st.composite
def timed_streams(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Record events of two contacts (from two tools: the dialer names them by id and email,
    the other by email) and a deal, each at its own time, giving, changing or clearing a few
    properties, some naming companies."""
    minutes = draw(st.lists(st.integers(0, 600), min_size=1, max_size=14, unique=True))
    out = []
    for n, minute in enumerate(minutes):
        at = f"2026-11-01T{9 + minute // 60:02d}:{minute % 60:02d}:00Z"
        values = st.one_of(st.none(), st.sampled_from(["A", "B", "C"]))
        given = draw(st.dictionaries(st.sampled_from(PROPS), values, max_size=3))
        given = {k: v for k, v in given.items() if v is not None or k in CLEARED}
        if draw(st.booleans()):
            person = draw(st.sampled_from(PEOPLE))
            by_id = draw(st.booleans())
            companies = draw(st.lists(st.sampled_from(["a-1", "a-2", "a-3"]), max_size=2,
                                      unique=True))  # fmt: skip
            event = {
                "type": "record",
                "object": "contact",
                "properties": {**given, "email": f"{person}@globex.test"},
                "associations": [{"object": "company", "external_id": c} for c in companies],
            }
            if by_id:
                event["external_id"] = person
        else:
            given["is_closed"] = draw(st.booleans())
            event = {"type": "record", "object": "deal", "external_id": "d-1", "properties": given}
        out.append({"id": f"e{n}", "occurred_at": at, **event})
    return out


@settings(max_examples=300, deadline=None)
@given(
    stream=timed_streams(),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(0, 14), max_size=3),
)
def test_any_order_and_any_cut_into_batches_end_in_the_same_records_in_memory(
    stream: list[dict[str, Any]], order: random.Random, cuts: list[int]
) -> None:
    events = [parse_event(e, "dialer") for e in stream]
    shuffled = list(events)
    order.shuffle(shuffled)
    in_time = sorted(events, key=lambda e: e.occurred_at)
    expected = _memory_end(in_time, [])
    assert _memory_end(shuffled, sorted(c for c in cuts if c <= len(events))) == expected


def test_every_order_of_the_explicit_events_ends_the_same_in_memory() -> None:
    """All 40,320 orders of the explicit events would take long: every order of the contact's
    five (120), each with the deal's three in and out of time order, one event a batch and
    all in one."""
    contact = [parse_event(e, i) for i, e in _events()[:5]]
    deal = [parse_event(e, i) for i, e in _events()[5:]]
    first = None
    for order in itertools.permutations(contact):
        for deals in (deal, deal[::-1]):
            events = [*order, *deals]
            for cuts in ([], list(range(1, len(events)))):
                end = _memory_end_by_email(events, cuts)
                first = first or end
                assert end == first
    assert first is not None
    props, times, fields, primary = first["contact"]
    assert props == EXPECTED_CONTACT and primary == "engage:company:a-2"
    assert fields == ("kim@globex.test", "Kimberly Lee-Park", None, None)
    assert first["deal"][0] == EXPECTED_DEAL


def _memory_end_by_email(events: list[Event], cuts: list[int]) -> dict[str, Any]:
    """:func:`_memory_end` with the contact named "contact" (two tools' ids, one record) and
    the deal "deal"."""
    ends = _memory_end(events, cuts)
    out = {}
    for key, value in ends.items():
        if ":contact:" in key:
            out["contact"] = value
        elif ":deal:" in key:
            out["deal"] = value
    return out


# ---------------------------------------- through the service: published samples, newest first

SECRETS = {
    "AIRCALL_TOKEN": "tok-4f1c9a0e",  # the token in the Aircall fixtures
    "PIPEDRIVE_SECRET": "hooks:pipedrive-password",
    "OUTREACH_SECRET": "outreach-webhook-secret",
}


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    leave = {"unmapped": {"policy": "leave"}}
    workspace.apply_config(
        workspace_config(
            {
                "phone": {"kind": "aircall", "secret_env": "AIRCALL_TOKEN", "users": leave},
                "deals": {"kind": "pipedrive", "secret_env": "PIPEDRIVE_SECRET", "users": leave},
                "engage": {"kind": "outreach", "secret_env": "OUTREACH_SECRET", "users": leave},
            }
        )
    )
    with serve(workspace, environ=SECRETS) as server:
        yield server


def _post(live: LiveServer, integration: str, kind: str, secret: str, body: Any) -> None:
    raw = compact(body)
    headers = vendor_headers(kind, raw, live.webhook_uri(integration), secret)
    response = live.client.post(f"/webhooks/{integration}", content=raw, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1, response.text


def _published(name: str) -> Any:
    from tests.live import FIXTURES

    return json.loads((FIXTURES.parent / "published" / name).read_text(encoding="utf-8"))


def test_published_samples_sent_newest_first_end_as_sent_in_order(
    workspace: Workspace, live: LiveServer
) -> None:
    """Aircall's ``contact.updated`` (Kim renamed Kimberly, 11-02 15:06:40) before its
    ``contact.created`` (15:05); Pipedrive's v2 person ``change`` (Lee-Park, 11-02 10:00)
    before its ``create`` (Lee, 11-01), the same person by email; Outreach's prospect 3 as
    Hull captured it — linked to account 6 (18:07:49) before its creation on account 5
    (18:01:58). Each property ends as its newest event says."""
    aircall = SECRETS["AIRCALL_TOKEN"]
    for name in ("contact.updated", "contact.created"):
        _post(live, "phone", "aircall", aircall, fixture("aircall", f"{name}.json")["body"])
    pipedrive = SECRETS["PIPEDRIVE_SECRET"]
    for name in ("change.person", "create.person"):
        _post(live, "deals", "pipedrive", pipedrive, fixture("pipedrive", f"{name}.json")["body"])
    outreach = SECRETS["OUTREACH_SECRET"]
    for name in ("prospect.updated.linked_account.hull", "prospect.created.hull"):
        _post(live, "engage", "outreach", outreach, _published(f"outreach/{name}.json"))
    wait_applied(workspace)

    def contact(external: str) -> dict[str, Any]:
        [found] = [r for r in workspace.find(external=external) if r["type"] == "contact"]
        return workspace.record("contact", found["id"])

    # Aircall's contact 9001 and Pipedrive's person 42 share an email: one contact, whose
    # every property shows its latest word by the vendors' clocks.
    kim = contact("phone:9001")
    assert contact("deals:42")["id"] == kim["id"]
    properties = kim["properties"]
    assert properties["firstname"] == "Kimberly"  # Aircall's update (11-02 15:06:40), newest
    assert properties["lastname"] == "Lee"  # Aircall's creation (11-02 15:05) is newer than
    # Pipedrive's change to Lee-Park (11-02 10:00), though it arrived first
    assert properties["name"] == "Kim Lee-Park"  # Pipedrive's change, not its older create
    assert kim["name"] == "Kimberly Lee"
    luke = contact("engage:3")
    assert luke["properties"]["firstname"] == "Luke"  # no newer event gave it
    accounts = {
        next(i["external_id"] for i in workspace.record("company", a["id"])["identities"]):
        bool(a.get("primary"))
        for a in luke["associations"]
        if a["type"] == "company"
    }  # fmt: skip
    assert accounts == {"6": True, "5": False}  # the newer link's account stays primary
