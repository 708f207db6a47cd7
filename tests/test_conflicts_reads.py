"""What the router orders, reads apart from writes (``engine/conflicts``).

The read pairs (``_neighbours``): what the load reads beside a record — its companies, its
deals and its companies' deals — orders two events only when a row may change what is read.
Two calls on two contacts of one company only read the company and its deals: they may apply
side by side; an event that names the company, one of its deals, or a contact's link to it
is ordered with both.

The rep (``rep_keys``): the events of one rep are ordered when the window gives it two
emails or two names (it keeps the latest), or changes the email learned for it and a mapping
reads that email — not when every event maps the same whatever was learned."""

from __future__ import annotations

import json

import pytest

from leadsync.engine import conflicts
from leadsync.sources.canonical import parse_event
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from tests.helpers import settings, workspace_config

AT = "2026-11-02T09:00:00Z"


def _line(i: int, row: dict[str, object]) -> str:
    return json.dumps({"id": f"setup-{i}", "occurred_at": f"2026-11-01T09:{i:02d}:00Z", **row})


@pytest.fixture
def company_with_two_contacts(workspace: Workspace) -> Workspace:
    """Globex (a company) with its contacts ana and bo, an open deal of Globex, and ivy, a
    contact of another company (Initech) — applied, in the database."""
    workspace.apply_config(workspace_config({"dialer": settings()}))
    globex = {"object": "company", "external_id": "co-1"}
    rows = [
        {"type": "record", "object": "company", "external_id": "co-1",
         "properties": {"name": "Globex", "domain": "globex.test"}},
        {"type": "record", "object": "company", "external_id": "co-2",
         "properties": {"name": "Initech", "domain": "initech.test"}},
        {"type": "record", "object": "contact", "external_id": "ana",
         "properties": {"email": "ana@globex.test"}, "associations": [globex]},
        {"type": "record", "object": "contact", "external_id": "bo",
         "properties": {"email": "bo@globex.test"}, "associations": [globex]},
        {"type": "record", "object": "contact", "external_id": "ivy",
         "properties": {"email": "ivy@initech.test"},
         "associations": [{"object": "company", "external_id": "co-2"}]},
        {"type": "record", "object": "deal", "external_id": "deal-1",
         "properties": {"name": "Globex renewal", "stage": "qualified"},
         "associations": [globex]},
    ]  # fmt: skip
    summary = workspace.ingest("dialer", [_line(i, row) for i, row in enumerate(rows)])
    assert summary.ok and summary.events == len(rows), summary
    return workspace


def _call(external_id: str, contact: str, rep: object = None) -> dict[str, object]:
    call: dict[str, object] = {
        "type": "activity",
        "activity": "call",
        "external_id": external_id,
        "properties": {"duration_s": 120, "direction": "outbound"},
        "associations": [{"object": "contact", "external_id": contact}],
    }
    if rep is not None:
        call["owner"] = rep
    return call


def _components(workspace: Workspace, rows: list[dict[str, object]]) -> list[int]:
    rules = load_rules(workspace.engine)
    events = [
        [parse_event({"id": f"e{i}", "occurred_at": AT, **row}, "dialer")]
        for i, row in enumerate(rows)
    ]
    with workspace.engine.connect() as connection:
        keys = [
            [*conflicts.row_keys(row, rules), *more]
            for row, more in zip(events, conflicts.rep_keys(connection, rules, events), strict=True)
        ]
        pairs = conflicts.resolve(connection, rules, {k for ks in keys for k in ks})
    assert any(b[0] == "n" for _, b in pairs), "the contacts' company is read beside them"
    return conflicts.components(keys, pairs)


def test_calls_on_two_contacts_of_one_company_only_read_it_and_apply_apart(
    company_with_two_contacts: Workspace,
) -> None:
    found = _components(company_with_two_contacts, [_call("c-1", "ana"), _call("c-2", "bo")])
    assert found[0] != found[1]


@pytest.mark.parametrize(
    "writer",
    [
        # The company itself changes (its owner, its name).
        {
            "type": "record",
            "object": "company",
            "external_id": "co-1",
            "properties": {"name": "Globex Corp"},
        },
        # One of its deals closes: "the most recent open deal" is another now.
        {
            "type": "record",
            "object": "deal",
            "external_id": "deal-1",
            "properties": {"stage": "closedwon"},
        },
        # A new deal of the company: one more open deal to choose from.
        {
            "type": "record",
            "object": "deal",
            "external_id": "deal-2",
            "properties": {"name": "Globex upsell", "stage": "qualified"},
            "associations": [{"object": "company", "domain": "globex.test"}],
        },
        # A third contact joins the company (a link to it is made).
        {
            "type": "record",
            "object": "contact",
            "external_id": "cy",
            "properties": {"email": "cy@globex.test"},
            "associations": [{"object": "company", "external_id": "co-1"}],
        },
    ],  # fmt: skip
    ids=["company", "deal-closes", "new-deal", "new-contact"],
)
def test_a_row_that_may_change_what_both_read_orders_them_all(
    company_with_two_contacts: Workspace, writer: dict[str, object]
) -> None:
    rows = [_call("c-1", "ana"), writer, _call("c-2", "bo"), _call("c-3", "ivy")]
    found = _components(company_with_two_contacts, rows)
    assert found[0] == found[1] == found[2]
    assert found[3] != found[0]  # ivy's company is another: nothing of hers is written


def test_a_contact_event_orders_the_calls_on_that_contact_only(
    company_with_two_contacts: Workspace,
) -> None:
    """Ana's own event may change her links: it is ordered with the call on her. It names
    no company, so bo's call, which reads only the company and its deals, stays apart."""
    writer = {
        "type": "record",
        "object": "contact",
        "external_id": "ana",
        "properties": {"first_name": "Ana"},
    }
    found = _components(
        company_with_two_contacts, [_call("c-1", "ana"), writer, _call("c-2", "bo")]
    )
    assert found[0] == found[1]
    assert found[2] != found[0]  # names no company: bo's reads are not touched


@pytest.mark.parametrize(
    ("first", "second", "ordered"),
    [
        # The directory names u-1's email: what is learned of it is never read.
        ({"id": "u-1", "email": "ana@acme.test"}, {"id": "u-1"}, False),
        # The same name twice: both write what the other writes.
        ({"id": "u-1", "name": "Ana"}, {"id": "u-1", "name": "Ana"}, False),
        # The map names u-9's owner: its email is never read.
        ({"id": "u-9", "email": "bo@acme.test"}, {"id": "u-9"}, False),
        # u-20 is in no map nor directory: its learned email maps the second call to 104.
        ({"id": "u-20", "email": "di@acme.test"}, {"id": "u-20"}, True),
        # Two names: the rep keeps the latest, by arrival.
        ({"id": "u-1", "name": "Ana"}, {"id": "u-1", "name": "Ana Ng"}, True),
        # Two emails: the rep keeps the latest, by arrival.
        ({"id": "u-1", "email": "ana@acme.test"}, {"id": "u-1", "email": "ana.ng@acme.test"}, True),
    ],
    ids=["directory", "same-name", "map", "learned-email-read", "two-names", "two-emails"],
)
def test_a_reps_events_are_ordered_only_when_one_changes_what_another_reads_or_keeps(
    company_with_two_contacts: Workspace,
    first: dict[str, str],
    second: dict[str, str],
    ordered: bool,
) -> None:
    """Two calls of one rep on contacts of two companies: only the rep can join them."""
    rows = [_call("c-1", "ana", first), _call("c-2", "ivy", second)]
    found = _components(company_with_two_contacts, rows)
    assert (found[0] == found[1]) is ordered
