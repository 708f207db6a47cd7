"""A contact (or lead) that moves account: its primary company follows what the sources say
now. The latest event of the contact itself that names companies makes the first of them its
primary company; the company it leaves stays associated (no source says a link ended);
activities made before keep their company and deal, new ones follow the new primary company
(the association rules), and the push moves the primary in HubSpot by labelling the new one
(HubSpot demotes the old)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.engine import decide
from leadsync.sources.canonical import parse_event
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN, ev, record_by_external, run, setup
from tests.test_engine import _deal, call
from tests.test_hubspot_push import config as push_config
from tests.test_properties import NOW, empty_state, memory_rules

AT = "2026-11-01T08:00:00Z"


def person(ext: str, *companies: str, at: str = AT, obj: str = "contact") -> dict[str, Any]:
    """A record event of contact (or lead) ``ext`` naming ``companies``, in that order."""
    return ev(
        "record",
        at,
        object=obj,
        external_id=ext,
        properties={"email": f"{ext}@globex.test"} if obj == "contact" else {"name": ext},
        associations=[{"object": "company", "external_id": c} for c in companies],
    )


def company(ext: str, *contacts: str, at: str = AT) -> dict[str, Any]:
    return ev(
        "record",
        at,
        object="company",
        external_id=ext,
        properties={"name": ext},
        associations=[{"object": "contact", "external_id": c} for c in contacts],
    )


def ids(ws: Workspace, *exts: str) -> dict[int, str]:
    return {record_by_external(ws, e)["id"]: e for e in exts}


def companies_of(ws: Workspace, ext: str) -> dict[str, bool]:
    """The companies of ``ext`` by external id: whether each is its primary company."""
    names = ids(ws, *(e for e in ("a-1", "a-2", "a-3") if ws.find(external=f"dialer:{e}")))
    return {
        names[a["id"]]: a["primary"]
        for a in record_by_external(ws, ext)["associations"]
        if a["type"] == "company"
    }


def on_call(ws: Workspace, contact: str, external_id: str) -> dict[str, tuple[str, str | None]]:
    """The records call ``external_id`` is on, by external id: (source, reason)."""
    names = ids(ws, contact, "a-1", "a-2", "d-1", "d-2")
    [item] = [
        i for i in record_by_external(ws, contact)["timeline"] if i["external_id"] == external_id
    ]
    return {names[a["id"]]: (a["source"], a.get("reason")) for a in item["associations"]}


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_a_contact_that_moves_account_takes_its_new_company_as_primary(
    workspace: Workspace, batch_size: int
) -> None:
    setup(workspace)
    run(
        workspace,
        person("p-1", "a-1"),
        company("a-2"),
        _deal("d-1", "2026-11-01T08:10:00Z", company="a-1"),
        _deal("d-2", "2026-11-01T08:20:00Z", company="a-2"),
        call("c-1", "p-1", at="2026-11-01T09:00:00Z"),
        person("p-1", "a-2", at="2026-11-01T09:30:00Z"),  # Kim moved to a-2
        call("c-2", "p-1", at="2026-11-01T10:00:00Z"),
        batch_size=batch_size,
    )
    # One primary company: the new one; the old one stays associated.
    assert companies_of(workspace, "p-1") == {"a-1": False, "a-2": True}
    kim, a2 = record_by_external(workspace, "p-1")["id"], record_by_external(workspace, "a-2")["id"]
    # The call made before the move keeps its company and deal.
    assert set(on_call(workspace, "p-1", "c-1")) == {"p-1", "a-1", "d-1"}
    # The call made after it is on the new company and that company's open deal.
    assert on_call(workspace, "p-1", "c-2") == {
        "p-1": ("event", None),
        "a-2": ("auto", f"contact {kim}'s primary company, by associations.company: primary"),
        "d-2": (
            "auto",
            f"the most recently updated open deal of contact {kim}'s primary company {a2}, "
            "by associations.deal: most_recent_open",
        ),
    }


def test_the_primary_moves_to_a_company_the_contact_had_already(workspace: Workspace) -> None:
    setup(workspace)
    run(workspace, person("p-1", "a-1", "a-2"))
    assert companies_of(workspace, "p-1") == {"a-1": True, "a-2": False}  # the first named
    run(workspace, person("p-1", "a-2", at="2026-11-01T09:00:00Z"))
    assert companies_of(workspace, "p-1") == {"a-1": False, "a-2": True}
    # An event naming both, the old one first, moves it back: its first company is primary.
    run(workspace, person("p-1", "a-1", "a-2", at="2026-11-01T09:10:00Z"))
    assert companies_of(workspace, "p-1") == {"a-1": True, "a-2": False}
    # An event naming no company says nothing about them.
    run(workspace, person("p-1", at="2026-11-01T09:20:00Z"))
    assert companies_of(workspace, "p-1") == {"a-1": True, "a-2": False}


def test_a_company_event_naming_the_contact_leaves_its_primary(workspace: Workspace) -> None:
    setup(workspace)
    run(workspace, person("p-1", "a-1"), company("a-2", "p-1"))
    assert companies_of(workspace, "p-1") == {"a-1": True, "a-2": False}
    # A contact with no company yet takes the first company that names it, as before.
    run(workspace, company("a-3", "p-2"), company("a-1", "p-2"))
    assert companies_of(workspace, "p-2") == {"a-3": True, "a-1": False}


def test_a_lead_moves_account_too(workspace: Workspace) -> None:
    setup(workspace)
    run(workspace, person("l-1", "a-1", obj="lead"))
    run(workspace, person("l-1", "a-2", obj="lead", at="2026-11-01T09:00:00Z"))
    assert companies_of(workspace, "l-1") == {"a-1": False, "a-2": True}


def test_the_rows_of_a_move_and_the_sentence_a_preview_shows() -> None:
    """In memory: the existing links whose flag changes are written again (an upsert), the
    contact's push names its new primary company, and the event's trace says why."""
    rules = memory_rules("fill_if_empty", False)
    state = empty_state()
    first = [parse_event(e, "dialer") for e in (person("p-1", "a-1", "a-2"),)]
    decide(state, rules, first, NOW)
    for record in state.records.values():
        record.new = record.dirty = record.fields_dirty = False
    moved = person("p-1", "a-2", at="2026-11-01T09:00:00Z")
    decided = decide(state, rules, [parse_event(moved, "dialer")], NOW, trace=True)
    assert sorted((r["left_id"], r["right_id"], r["is_primary"]) for r in decided.record_links) == [
        (1, 2, False),
        (1, 3, True),
    ]
    assert decided.traces is not None
    assert decided.traces[moved["id"]].counterpart == (
        "company 3 is contact 1's primary company now (this event names it first), "
        "in place of company 2, which stays associated"
    )


def test_a_move_within_a_batch_writes_only_the_end_state() -> None:
    rules = memory_rules("fill_if_empty", False)
    events = [
        person("p-1", "a-1"),
        person("p-1", "a-2", at="2026-11-01T09:00:00Z"),
        person("p-1", "a-1", at="2026-11-01T09:10:00Z"),
    ]
    decided = decide(empty_state(), rules, [parse_event(e, "dialer") for e in events], NOW)
    assert sorted((r["left_id"], r["right_id"], r["is_primary"]) for r in decided.record_links) == [
        (1, 2, True),
        (1, 3, False),
    ]


# ------------------------------------------------------------------------------ the push


@pytest.fixture
def ws(db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    workspace = Workspace(db_url, hubspot_transport=hub.transport())
    workspace.apply_config(push_config())
    workspace.hubspot_setup()
    yield workspace
    workspace.close()


def hubspot_companies(hub: HubSpotDouble) -> dict[str, list[int]]:
    """The HubSpot contact's companies, by name (their external id here): the type ids."""
    [contact] = hub.objects("contacts")
    by_id = {c["id"]: c["properties"]["name"] for c in hub.objects("companies")}
    return {
        by_id[a["id"]]: a["typeIds"]
        for a in hub.get_object("contacts", contact["id"])["associations"]["companies"]
    }


@pytest.mark.parametrize("had_it", [False, True])
def test_the_push_moves_the_primary_company_in_hubspot(
    ws: Workspace, hub: HubSpotDouble, had_it: bool
) -> None:
    first = person("p-1", "a-1", "a-2") if had_it else person("p-1", "a-1")
    run(ws, company("a-1"), company("a-2"), first)
    assert ws.push().failures == 0
    before = hubspot_companies(hub)
    assert before == ({"a-1": [1, 279], "a-2": [279]} if had_it else {"a-1": [1, 279]})
    run(ws, person("p-1", "a-2", at="2026-11-01T09:00:00Z"))
    assert ws.push().failures == 0
    # HubSpot keeps one primary company: labelling the new one demotes the old.
    assert hubspot_companies(hub) == {"a-1": [279], "a-2": [1, 279]}


def test_a_company_created_with_the_move_carries_the_primary_label(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, company("a-1"), person("p-1", "a-1"))
    assert ws.push().failures == 0
    run(ws, company("a-2"), person("p-1", "a-2", at="2026-11-01T09:00:00Z"))
    assert ws.push().failures == 0
    assert hubspot_companies(hub) == {"a-1": [279], "a-2": [1, 279]}


# --------------------------------------------------------------------- parallel workers


def moving_stream(seed: int, n: int) -> list[tuple[str, dict[str, Any]]]:
    """The model test's stream (tests/test_parallel_workers.py) with people who move: some
    of their contact events name another company, or two, in either order."""
    from tests.test_parallel_workers import COMPANIES, stream

    rng = random.Random(seed)
    out = []
    for integration, event in stream(rng, n):
        event = copy.deepcopy(event)
        if event.get("object") == "contact" and event["type"] == "record" and rng.random() < 0.6:
            picked = rng.sample(range(COMPANIES), rng.choice([1, 1, 2]))
            event["associations"] = [
                {"object": "company", "domain": f"globex{c}.test"} for c in picked
            ]
        out.append((integration, event))
    return out


@pytest.mark.parametrize("seed", [4, 5])
def test_parallel_workers_move_primaries_as_one_worker_does(postgres_url: str, seed: int) -> None:
    from tests.test_parallel_workers import _difference, _run

    events = moving_stream(seed, 160)
    one = _run(postgres_url, events, 1)
    plain = [(a, b) for a, b, primary in one["record_links"] if not primary and "company" in b]
    assert plain, "somebody moved: a company link that is not primary"
    for workers in (2, 3):
        many = _run(postgres_url, events, workers, split=True)
        assert many == one, f"{workers} workers: {_difference(one, many)}"


def test_a_preview_says_the_contact_moves(workspace: Workspace) -> None:
    setup(workspace)
    run(workspace, person("p-1", "a-1"), company("a-2"))
    kim, a1, a2 = (record_by_external(workspace, e)["id"] for e in ("p-1", "a-1", "a-2"))
    moved = person("p-1", "a-2", at="2026-11-01T09:00:00Z")
    [entry] = workspace.preview("dialer", [json.dumps(moved)]).events
    assert entry.counterpart == (
        f"company {a2} is contact {kim}'s primary company now (this event names it first), "
        f"in place of company {a1}, which stays associated"
    )
    assert companies_of(workspace, "p-1") == {"a-1": True}  # nothing written
