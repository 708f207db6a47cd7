"""The engine end to end on a real database (SQLite and PostgreSQL): events in, decisions out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadsync.model import CRM_SOURCE
from leadsync.workspace import Workspace
from tests.helpers import (
    ev,
    hubspot_property_change,
    owner_of,
    record_by_external,
    run,
    settings,
    setup,
    workspace_config,
)

ISSUE_LINES = [
    {
        "id": "e1",
        "occurred_at": "2026-11-01T09:00:00Z",
        "type": "record",
        "object": "contact",
        "external_id": "p-1",
        "properties": {"email": "kim@globex.test", "firstname": "Kim"},
        "owner": "u-1",
        "associations": [{"object": "company", "external_id": "a-1"}],
    },  # noqa: E501
    {
        "id": "e2",
        "occurred_at": "2026-11-01T09:05:00Z",
        "type": "owner",
        "object": "contact",
        "external_id": "p-1",
        "owner": {"id": "u-2", "email": "bo@acme.test"},
    },  # noqa: E501
    {
        "id": "e3",
        "occurred_at": "2026-11-01T09:10:00Z",
        "type": "activity",
        "activity": "call",
        "external_id": "c-1",
        "owner": "u-1",
        "properties": {
            "direction": "outbound",
            "duration_s": 95,
            "outcome": "connected",
            "body": "Intro call",
        },
        "associations": [{"object": "contact", "external_id": "p-1"}],
    },  # noqa: E501
    {
        "id": "e4",
        "occurred_at": "2026-11-01T09:00:00Z",
        "type": "record",
        "object": "deal",
        "external_id": "d-1",
        "properties": {"name": "Globex renewal", "stage": "qualified", "is_closed": False},
        "associations": [{"object": "contact", "external_id": "p-1"}],
    },  # noqa: E501
]


def contact(
    ext: str, owner: object = None, at: str = "2026-11-01T09:00:00Z", **props: object
) -> dict:
    fields: dict = {"object": "contact", "external_id": ext, "properties": props}
    if owner is not None:
        fields["owner"] = owner
    return ev("record", at, **fields)


def owner_event(obj: str, ext: str, owner: object, at: str) -> dict:
    return ev("owner", at, object=obj, external_id=ext, owner=owner)


def call(
    ext: str,
    contact_ext: str,
    owner: object = "u-1",
    at: str = "2026-11-01T10:00:00Z",
    **props: object,
) -> dict:
    properties = {"direction": "outbound", "duration_s": 60, "outcome": "connected", **props}
    return ev(
        "activity",
        at,
        activity="call",
        external_id=ext,
        owner=owner,
        properties=properties,
        associations=[{"object": "contact", "external_id": contact_ext}],
    )


def test_the_issue_example_end_to_end(workspace: Workspace) -> None:
    setup(workspace)
    summary = run(workspace, *ISSUE_LINES)
    assert summary.ok and summary.accepted == 4

    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "101"  # u-1 is ANA@acme.test in the directory
    assert kim["properties"] == {"email": "kim@globex.test", "firstname": "Kim"}
    history = kim["owner_history"]
    assert [(h["outcome"], h["owner_id"]) for h in history] == [("set", "101"), ("kept", "101")]
    # The reason names the owner it kept out, and why that one was proposed.
    assert history[1]["reason"] == (
        "kept 101: fill_if_empty and the contact already has an owner; "
        "rep u-2 (bo@acme.test) maps to 102 by email bo@acme.test"
    )
    assert history[1]["strategy"] == "fill_if_empty" and history[1]["integration"] == "dialer"
    assert history[1]["previous_owner_id"] == "101" and history[1]["proposed_owner_id"] == "102"

    [call_item] = kim["timeline"]
    assert call_item["type"] == "call" and call_item["external_id"] == "c-1"
    assert call_item["owner_id"] == "101"
    assert call_item["properties"]["duration_s"] == 95
    company = record_by_external(workspace, "a-1")
    assert company["type"] == "company" and company["placeholder"] is True
    # the call came before the deal existed: contact and its primary company only
    assert {(a["type"], a["id"]) for a in call_item["associations"]} == {
        ("contact", kim["id"]),
        ("company", company["id"]),
    }
    assert {"type": "company", "id": company["id"], "primary": True} in kim["associations"]

    deal = record_by_external(workspace, "d-1")
    assert deal["name"] == "Globex renewal" and deal["is_closed"] is False
    assert deal["owner_id"] is None
    assert deal["owner_history"][0]["outcome"] == "ignored"
    assert {"type": "contact", "id": kim["id"], "primary": False} in deal["associations"]


@pytest.mark.parametrize(
    ("strategy", "new", "empty", "owned"),
    [
        ("integration_wins", "102", "102", "102"),
        ("fill_if_empty", "102", "102", "101"),
        ("never_overwrite", "102", None, "101"),
        ("bidirectional", "102", "102", "102"),
    ],
)
def test_strategies_on_new_empty_and_owned_records(
    workspace: Workspace, strategy: str, new: str | None, empty: str | None, owned: str | None
) -> None:
    setup(workspace, ownership={"default": strategy, "protect_manual_days": 0})
    run(
        workspace,
        contact("empty", at="2026-11-01T08:00:00Z"),
        contact("owned", owner="u-1", at="2026-11-01T08:00:00Z"),
    )
    run(
        workspace,
        contact("new", owner="u-9", at="2026-11-01T09:00:00Z"),
        owner_event("contact", "empty", "u-9", "2026-11-01T09:00:00Z"),
        owner_event("contact", "owned", "u-9", "2026-11-01T09:00:00Z"),
    )
    assert owner_of(workspace, "new") == new
    assert owner_of(workspace, "empty") == empty
    assert owner_of(workspace, "owned") == owned
    last = record_by_external(workspace, "owned")["owner_history"][-1]
    assert last["strategy"] == strategy
    assert last["reason"]


def test_a_placeholder_counts_as_created_for_never_overwrite(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "never_overwrite"})
    run(workspace, call("c-1", "p-1"))  # names p-1 only as an association: placeholder
    assert record_by_external(workspace, "p-1")["placeholder"] is True
    run(workspace, contact("p-1", owner="u-9", email="kim@globex.test"))
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "102" and kim["placeholder"] is False


def test_round_robin_rotates_deterministically_and_survives_restarts(db_url: str) -> None:
    with Workspace(db_url) as ws:
        setup(ws)
        run(ws, *(contact(f"p-{i}", owner=f"stranger-{i}") for i in range(3)))
        assert [owner_of(ws, f"p-{i}") for i in range(3)] == ["101", "102", "101"]
        # an owner that is kept does not take a turn
        run(ws, owner_event("contact", "p-0", "stranger-x", "2026-11-02T00:00:00Z"))
    with Workspace(db_url) as ws:  # a new process: the rotation goes on where it was
        run(ws, contact("p-3", owner="stranger-3"), contact("p-4", owner="stranger-4"))
        assert [owner_of(ws, "p-3"), owner_of(ws, "p-4")] == ["102", "101"]
        reason = record_by_external(ws, "p-3")["owner_history"][0]["reason"]
        assert "round robin" in reason and "stranger-3" in reason


def test_round_robin_skips_inactive_members(workspace: Workspace) -> None:
    config = workspace_config({"dialer": settings()})
    doc = json.loads(json.dumps({"owners": [o.model_dump() for o in config.owners]}))
    doc["teams"] = {"sdr": ["101", "103", "102"]}  # 103 is inactive
    doc["integrations"] = {"dialer": settings()}
    from leadsync.settings import load_config

    workspace.apply_config(load_config(json.dumps(doc), "t.yaml"))
    run(workspace, *(contact(f"p-{i}", owner=f"x-{i}") for i in range(4)))
    assert [owner_of(workspace, f"p-{i}") for i in range(4)] == ["101", "102", "101", "102"]
    # The reason says why 102 took a turn the team's order gave 103 (it read as any turn).
    reasons = [
        record_by_external(workspace, f"p-{i}")["owner_history"][0]["reason"] for i in (0, 1)
    ]
    assert "turn passed" not in reasons[0]
    assert reasons[1].endswith(" (103's turn passed: inactive)"), reasons[1]


def test_round_robin_does_not_deal_a_record_again_on_each_update(workspace: Workspace) -> None:
    """An unmapped rep's updates of a record its team has already keep it with that member
    (no flapping), and take no turn: the next new record gets the next member."""
    setup(workspace, ownership={"default": "integration_wins"})
    run(
        workspace,
        contact("p-1", owner="stranger"),
        owner_event("contact", "p-1", "stranger", "2026-11-01T10:00:00Z"),
        contact("p-1", owner="stranger", at="2026-11-01T11:00:00Z", firstname="Kim"),
        contact("p-2", owner="stranger"),
    )
    history = record_by_external(workspace, "p-1")["owner_history"]
    assert [(h["outcome"], h["owner_id"]) for h in history] == [
        ("set", "101"),
        ("kept", "101"),
        ("kept", "101"),
    ]
    assert "is with 101 of team sdr already" in history[1]["reason"]
    assert owner_of(workspace, "p-2") == "102"


def test_unmapped_leave_keeps_owner_and_flags(workspace: Workspace) -> None:
    setup(
        workspace,
        users={"unmapped": {"policy": "leave"}},
        ownership={"default": "integration_wins"},
    )
    run(workspace, contact("p-1", owner="u-1"))
    summary = run(workspace, owner_event("contact", "p-1", "stranger", "2026-11-02T00:00:00Z"))
    assert summary.applied.flagged == 1
    assert owner_of(workspace, "p-1") == "101"
    last = record_by_external(workspace, "p-1")["owner_history"][-1]
    assert last["outcome"] == "ignored" and last["flagged"] is True
    assert "unmapped policy is leave" in last["reason"]
    run(workspace, contact("p-2", owner="stranger"))
    assert owner_of(workspace, "p-2") is None


def test_unmapped_fallback_uses_the_named_owner(workspace: Workspace) -> None:
    setup(workspace, users={"unmapped": {"policy": "fallback", "owner": "104"}})
    run(workspace, contact("p-1", owner={"id": "u-77", "email": "nobody@acme.test"}))
    assert owner_of(workspace, "p-1") == "104"
    assert (
        "fallback owner 104" in record_by_external(workspace, "p-1")["owner_history"][0]["reason"]
    )


def test_mapping_order_map_beats_email_and_inactive_counts_as_unmapped(
    workspace: Workspace,
) -> None:
    setup(
        workspace,
        users={
            "map": {"u-1": "104"},  # the directory says ana@, but the explicit map wins
            "unmapped": {"policy": "fallback", "owner": "102"},
        },
    )
    run(
        workspace,
        contact("p-1", owner="u-1"),
        contact("p-2", owner="u-3"),  # cy@ is inactive -> unmapped -> fallback 102
        contact("p-3", owner={"id": "u-5", "email": "  BO@ACME.test "}),  # event email, trimmed
    )
    assert owner_of(workspace, "p-1") == "104"
    assert owner_of(workspace, "p-2") == "102"
    assert "inactive" in record_by_external(workspace, "p-2")["owner_history"][0]["reason"]
    assert owner_of(workspace, "p-3") == "102"
    # the email learned from an event maps the same rep later, by id alone
    setup(
        workspace,
        users={"unmapped": {"policy": "leave"}},
        ownership={"default": "integration_wins"},
    )
    run(workspace, contact("p-4", owner="u-5"))
    assert owner_of(workspace, "p-4") == "102"


def test_auto_match_none_uses_only_the_map(workspace: Workspace) -> None:
    setup(workspace, users={"auto_match": "none", "unmapped": {"policy": "leave"}})
    run(workspace, contact("p-1", owner="u-1"), contact("p-2", owner="u-9"))
    assert owner_of(workspace, "p-1") is None
    assert owner_of(workspace, "p-2") == "102"


def test_bidirectional_ignores_stale_events(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "bidirectional"})
    run(
        workspace,
        contact("p-1", owner="u-1", at="2026-11-01T09:00:00Z"),
        owner_event("contact", "p-1", "u-9", "2026-11-01T12:00:00Z"),
        owner_event("contact", "p-1", "u-1", "2026-11-01T10:00:00Z"),  # older: stale
    )
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "102"
    assert kim["owner_history"][-1]["outcome"] == "ignored"
    assert "stale" in kim["owner_history"][-1]["reason"]


@pytest.mark.parametrize("batches", [1, 4])  # one batch, or each event a batch of its own
def test_an_older_event_arriving_after_one_that_gave_the_owner_again_is_stale(
    workspace: Workspace, batches: int
) -> None:
    """integration_wins: the dialer gives 102 at 09:00, gives 102 again at 11:00 (kept: already
    the owner), and an event of 10:00 giving 101 arrives last. At 11:00 the dialer said 102:
    the 10:00 event is stale, as it is when the 11:00 one changed the owner — the order the
    events arrive in does not decide the owner."""
    setup(workspace, ownership={"default": "integration_wins"})
    events = [
        contact("p-1", owner="u-1", at="2026-11-01T08:00:00Z"),
        owner_event("contact", "p-1", "u-9", "2026-11-01T09:00:00Z"),
        owner_event("contact", "p-1", "u-9", "2026-11-01T11:00:00Z"),
        owner_event("contact", "p-1", "u-1", "2026-11-01T10:00:00Z"),  # late
    ]
    for part in [events] if batches == 1 else [[e] for e in events]:
        run(workspace, *part)
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "102"
    last = kim["owner_history"][-1]
    assert (last["outcome"], last["owner_id"]) == ("ignored", "102")
    assert last["reason"].startswith(
        "ignored: stale: the event happened at 2026-11-01T10:00:00Z, before the owner dialer "
        "gave at 2026-11-01T11:00:00Z (it arrived out of order)"
    )


def test_manual_change_is_protected_then_released(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "integration_wins", "protect_manual_days": 14})
    run(workspace, contact("p-1", owner="u-1", at="2026-11-01T09:00:00Z"))
    kim = record_by_external(workspace, "p-1")
    decision = workspace.set_owner("contact", kim["id"], "104", at="2026-11-02T09:00:00.000Z")
    assert decision.outcome.value == "set"
    run(workspace, owner_event("contact", "p-1", "u-9", "2026-11-10T09:00:00Z"))
    assert owner_of(workspace, "p-1") == "104"
    kept = record_by_external(workspace, "p-1")["owner_history"][-1]
    assert kept["outcome"] == "kept" and "protected for 14 days" in kept["reason"]
    run(workspace, owner_event("contact", "p-1", "u-9", "2026-11-16T09:00:01Z"))
    assert owner_of(workspace, "p-1") == "102"
    manual = record_by_external(workspace, "p-1")["owner_history"][1]
    assert manual["strategy"] == "manual" and manual["integration"] is None


def test_the_longest_protection_allowed_still_decides(workspace: Workspace) -> None:
    """A century of protection (the most the settings take) is a date the engine can reach:
    the protection holds, no overflow turns the event into a dead letter."""
    setup(workspace, ownership={"default": "integration_wins", "protect_manual_days": 36_500})
    run(workspace, contact("p-1", owner="u-1", at="2026-11-01T09:00:00Z"))
    kim = record_by_external(workspace, "p-1")
    workspace.set_owner("contact", kim["id"], "104", at="2026-11-02T09:00:00.000Z")
    summary = run(workspace, owner_event("contact", "p-1", "u-9", "2100-01-01T09:00:00Z"))
    assert summary.ok and owner_of(workspace, "p-1") == "104"


def test_event_without_owner_never_clears_one(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "integration_wins"})
    run(workspace, contact("p-1", owner="u-1"))
    run(
        workspace,
        contact("p-1", firstname="Kim"),
        owner_event("contact", "p-1", None, "2026-11-02T00:00:00Z"),
    )
    assert owner_of(workspace, "p-1") == "101"
    assert record_by_external(workspace, "p-1")["owner_history"][-1]["outcome"] == "ignored"


def test_outbox_for_bidirectional_integrations_without_echo(workspace: Workspace) -> None:
    bi = {"default": "bidirectional", "protect_manual_days": 0}
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(ownership=bi),
                "crm2": settings(ownership=bi, users={"map": {"sf-2": "102", "sf-4": "104"}}),
                "seq": settings(ownership={"default": "fill_if_empty"}),
            }
        )
    )
    run(workspace, contact("p-1", owner="u-1", email="kim@globex.test"))
    run(workspace, contact("sf-p1", email="kim@globex.test"), integration="crm2")
    run(workspace, contact("o-1", email="kim@globex.test"), integration="seq")
    kim = record_by_external(workspace, "p-1")
    assert kim["id"] == record_by_external(workspace, "sf-p1", "crm2")["id"]

    workspace.set_owner("contact", kim["id"], "104", at="2026-11-03T00:00:00.000Z")
    rows = workspace.outbox()
    assert {(r["integration"], r["external_id"], r["owner_id"]) for r in rows} == {
        ("dialer", "p-1", "104"),
        ("crm2", "sf-p1", "104"),
    }
    crm2 = next(r for r in rows if r["integration"] == "crm2")
    assert crm2["external_owner_id"] == "sf-4" and crm2["source"] == CRM_SOURCE

    # a change that came from the dialer goes to crm2, never back to the dialer
    run(workspace, owner_event("contact", "p-1", "u-9", "2026-11-04T00:00:00Z"))
    later = workspace.outbox()[len(rows) :]
    assert [(r["integration"], r["owner_id"], r["source"]) for r in later] == [
        ("crm2", "102", "dialer")
    ]
    assert later[0]["external_owner_id"] == "sf-2"


def test_the_outbox_names_a_crms_owner_by_its_own_id(workspace: Workspace) -> None:
    """A CRM integration's owner ids are the owners' own (it said `external owner ?`)."""
    bi = {"default": "bidirectional", "protect_manual_days": 0}
    hub = {"kind": "hubspot", "ownership": bi, "vendor": {"app_id": "777"}}
    workspace.apply_config(workspace_config({"dialer": settings(ownership=bi), "hub": hub}))
    workspace.ingest("hub", [hubspot_property_change(501, "email", "kim@globex.test")])
    run(workspace, contact("p-1", owner="u-1", email="kim@globex.test"))
    [row] = [r for r in workspace.outbox() if r["integration"] == "hub"]
    assert (row["external_id"], row["owner_id"], row["external_owner_id"]) == ("501", "101", "101")


def test_activity_filters_record_why_they_skip(workspace: Workspace) -> None:
    setup(workspace)
    summary = run(
        workspace,
        contact("p-1", owner="u-1"),
        call("c-short", "p-1", duration_s=9),
        call("c-ok", "p-1", duration_s=10),
        call("c-busy", "p-1", outcome="busy"),
        ev(
            "activity",
            activity="email",
            external_id="m-1",
            owner="u-1",
            properties={"subject": "Hi"},
            associations=[{"object": "contact", "external_id": "p-1"}],
        ),
        call("c-unknown-duration", "p-1", duration_s=None),
    )
    assert summary.applied.activities_created == 2
    assert summary.applied.activities_skipped == 3
    kim = record_by_external(workspace, "p-1")
    assert sorted(i["external_id"] for i in kim["timeline"]) == ["c-ok", "c-unknown-duration"]
    reasons = _skip_reasons(workspace)
    assert "call lasted 9 s, shorter than min_duration_s 10 s" in reasons["c-short"]
    assert "busy" in reasons["c-busy"]
    assert "email activities are disabled for dialer" in reasons["m-1"]


def _skip_reasons(ws: Workspace) -> dict[str, str]:
    import sqlalchemy as sa

    from leadsync.store.schema import activity_skips

    with ws.engine.connect() as connection:
        return {r.external_id: r.reason for r in connection.execute(sa.select(activity_skips))}


def test_same_activity_id_updates_and_a_later_filter_removes_it(workspace: Workspace) -> None:
    setup(workspace)
    run(workspace, contact("p-1", owner="u-1"), call("c-1", "p-1", duration_s=None, outcome=None))
    run(workspace, call("c-1", "p-1", at="2026-11-01T10:05:00Z", recording_url="https://r.test/1"))
    [item] = record_by_external(workspace, "p-1")["timeline"]
    assert item["properties"]["recording_url"] == "https://r.test/1"
    assert item["properties"]["duration_s"] == 60
    run(workspace, call("c-1", "p-1", at="2026-11-01T10:06:00Z", duration_s=3))
    assert record_by_external(workspace, "p-1")["timeline"] == []
    assert "removed" in _skip_reasons(workspace)["c-1"]


def test_automatic_associations_pick_primary_company_and_open_deals(workspace: Workspace) -> None:
    setup(workspace, associations={"deal": "all_open", "max_deals": 2})
    run(
        workspace,
        contact("p-1", owner="u-1"),
        ev(
            "record",
            "2026-11-01T09:00:00Z",
            object="contact",
            external_id="p-2",
            associations=[
                {"object": "company", "external_id": "a-1"},
                {"object": "company", "external_id": "a-2"},
            ],
        ),
        _deal("d-old", "2026-11-01T01:00:00Z", contact="p-2"),
        _deal("d-new", "2026-11-01T03:00:00Z", contact="p-2"),
        _deal("d-closed", "2026-11-01T04:00:00Z", contact="p-2", is_closed=True),
        _deal("d-company", "2026-11-01T02:00:00Z", company="a-1"),
        _deal("d-other-company", "2026-11-01T05:00:00Z", company="a-2"),
        call("c-1", "p-2"),
    )
    [item] = record_by_external(workspace, "p-2")["timeline"]
    ids = {record_by_external(workspace, x)["id"]: x for x in ("p-2", "a-1", "d-new", "d-company")}
    assert {ids.get(a["id"], a["id"]) for a in item["associations"]} == {
        "p-2",
        "a-1",
        "d-new",
        "d-company",
    }
    sources = {a["id"]: a["source"] for a in item["associations"]}
    assert sources[record_by_external(workspace, "p-2")["id"]] == "event"
    assert sources[record_by_external(workspace, "a-1")["id"]] == "auto"


def _deal(
    ext: str,
    at: str,
    contact: str | None = None,
    company: str | None = None,
    is_closed: bool = False,
) -> dict:
    assoc = []
    if contact:
        assoc.append({"object": "contact", "external_id": contact})
    if company:
        assoc.append({"object": "company", "external_id": company})
    return ev(
        "record",
        at,
        object="deal",
        external_id=ext,
        properties={"name": ext, "is_closed": is_closed},
        associations=assoc,
    )


def test_most_recent_open_deal_and_manual_mode(workspace: Workspace) -> None:
    setup(workspace)
    run(
        workspace,
        contact("p-1"),
        _deal("d-1", "2026-11-01T01:00:00Z", contact="p-1"),
        _deal("d-2", "2026-11-01T02:00:00Z", contact="p-1"),
        call("c-1", "p-1"),
    )
    [item] = record_by_external(workspace, "p-1")["timeline"]
    d2 = record_by_external(workspace, "d-2")["id"]
    assert [a["id"] for a in item["associations"] if a["type"] == "deal"] == [d2]

    setup(workspace, associations={"mode": "manual"})
    run(workspace, call("c-2", "p-1"))
    latest = record_by_external(workspace, "p-1")["timeline"][0]
    assert latest["external_id"] == "c-2"
    assert [a["type"] for a in latest["associations"]] == ["contact"]


def test_record_matching_by_email_domain_and_placeholders(workspace: Workspace) -> None:
    setup(workspace)
    run(
        workspace,
        contact("p-1", email="Kim@Globex.test"),
        ev(
            "record",
            object="company",
            external_id="a-1",
            properties={"domain": "https://www.globex.test/"},
        ),
    )
    run(
        workspace,
        ev("record", object="contact", properties={"email": "kim@globex.test"}, owner="u-1"),
        ev("record", object="company", external_id="acc-9", properties={"domain": "GLOBEX.test"}),
    )
    found = workspace.find(email="KIM@globex.test")
    assert len(found) == 1 and found[0]["owner_id"] == "101"
    assert (
        workspace.find(domain="www.globex.test")[0]["id"]
        == record_by_external(workspace, "acc-9")["id"]
    )


def test_events_apply_in_arrival_order_not_by_time(workspace: Workspace) -> None:
    """An older owner change from the same integration that arrives after a newer one (an
    out-of-order redelivery) is decided in arrival order and ignored as stale, whatever the
    strategy; history keeps arrival order and shows each event's own time."""
    setup(workspace, ownership={"default": "integration_wins"})
    run(
        workspace,
        contact("p-1", owner="u-1", at="2026-11-05T00:00:00Z"),
        owner_event("contact", "p-1", "u-9", "2026-11-01T00:00:00Z"),  # older, but arrives later
        owner_event("contact", "p-1", "u-9", "2026-11-06T00:00:00Z"),  # newer: applies
    )
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "102"
    history = kim["owner_history"]
    assert [h["at"] for h in history] == [
        "2026-11-05T00:00:00.000Z",
        "2026-11-01T00:00:00.000Z",
        "2026-11-06T00:00:00.000Z",
    ]
    assert [h["outcome"] for h in history] == ["set", "ignored", "set"]
    assert "stale" in history[1]["reason"] and "out of order" in history[1]["reason"]


def test_redelivery_is_not_applied_twice(workspace: Workspace) -> None:
    setup(workspace)
    events = [contact("p-1", owner="u-1"), call("c-1", "p-1")]
    first = run(workspace, *events)
    again = run(workspace, *events, *events)
    assert first.accepted == 2 and again.accepted == 0 and again.duplicates == 4
    kim = record_by_external(workspace, "p-1")
    assert len(kim["timeline"]) == 1 and len(kim["owner_history"]) == 1


def test_bad_lines_go_to_dead_letters_and_good_lines_apply(
    workspace: Workspace, tmp_path: Path
) -> None:
    setup(workspace)
    good = json.dumps(contact("p-1", owner="u-1"))
    lines = [
        good,
        "{not json",
        json.dumps({"id": "x", "type": "record"}),
        "",
        json.dumps(call("c-1", "p-1")),
    ]
    summary = workspace.ingest("dialer", lines, source="in.jsonl")
    assert summary.accepted == 2 and not summary.ok
    assert [d.where for d in summary.dead_letters] == ["in.jsonl:2", "in.jsonl:3"]
    assert owner_of(workspace, "p-1") == "101"
    stored = workspace.dead_letters()
    assert {r["line_no"] for r in stored} == {2, 3}
    assert all(r["raw"] and r["error"] for r in stored)


def test_assign_on_activity_fills_an_empty_owner(workspace: Workspace) -> None:
    setup(workspace, ownership={"assign_on_activity": True})
    run(workspace, contact("p-1"), contact("p-2", owner="u-9"))
    run(
        workspace,
        call("c-1", "p-1", owner="u-1"),
        call("c-2", "p-2", owner="u-1"),
        call("c-3", "p-3", owner="stranger"),
    )
    assert owner_of(workspace, "p-1") == "101"
    assert owner_of(workspace, "p-2") == "102"  # already owned: untouched
    assert owner_of(workspace, "p-3") is None  # unmapped reps never assign
    last = record_by_external(workspace, "p-1")["owner_history"][-1]
    assert last["strategy"] == "assign_on_activity" and last["outcome"] == "set"


def test_activity_owner_is_the_mapped_rep(workspace: Workspace) -> None:
    setup(workspace, users={"unmapped": {"policy": "fallback", "owner": "104"}})
    run(
        workspace,
        contact("p-1", owner="u-1"),
        call("c-1", "p-1", owner="u-9"),
        call("c-2", "p-1", owner="zz"),
    )
    owners = {
        i["external_id"]: i["owner_id"] for i in record_by_external(workspace, "p-1")["timeline"]
    }
    assert owners == {"c-1": "102", "c-2": "104"}


def test_a_batch_that_breaks_is_retried_event_by_event(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected failure in one event dead-letters that event; its neighbours apply."""
    from leadsync import engine

    setup(workspace)
    original = engine.BatchDecider.apply_record

    def explode_on_p2(self: engine.BatchDecider, event, settings):  # type: ignore[no-untyped-def]
        if event.external_id == "p-2":
            raise RuntimeError("boom")
        return original(self, event, settings)

    monkeypatch.setattr(engine.BatchDecider, "apply_record", explode_on_p2)
    summary = run(
        workspace,
        contact("p-1", owner="u-1"),
        contact("p-2", owner="u-1"),
        contact("p-3", owner="u-1"),
    )
    assert [f.error for f in summary.failed] == ["RuntimeError: boom"]
    assert owner_of(workspace, "p-1") == "101" and owner_of(workspace, "p-3") == "101"
    assert workspace.find(external="dialer:p-2") == []
    counts = {(r["status"]): r["count"] for r in workspace.inbox_counts()}
    assert counts == {"applied": 2, "failed": 1}


def test_an_owner_event_creates_the_record_once(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "never_overwrite"})
    run(workspace, owner_event("contact", "p-1", "u-1", "2026-11-01T09:00:00Z"))
    assert owner_of(workspace, "p-1") == "101"  # the owner event created it
    run(workspace, contact("p-1", owner="u-9", email="kim@globex.test"))
    assert owner_of(workspace, "p-1") == "101"  # not created a second time
    last = record_by_external(workspace, "p-1")["owner_history"][-1]
    assert last["outcome"] == "kept" and "never_overwrite" in last["reason"]


def test_pending_inbox_rows_apply_before_newer_input(workspace: Workspace) -> None:
    """Rows an earlier run left pending (a crash between commit and apply) keep their place
    in arrival order: they are applied before the next input, and `process_inbox` drains them."""
    import sqlalchemy as sa

    from leadsync.store.schema import inbox

    setup(workspace, ownership={"default": "integration_wins"})
    older = contact("p-1", owner="u-1", at="2026-11-01T09:00:00Z")
    with workspace.engine.begin() as connection:
        connection.execute(
            sa.insert(inbox),
            [
                {
                    "seq": 1,
                    "integration": "dialer",
                    "event_id": older["id"],
                    "received_at": "2026-11-01T09:00:01.000Z",
                    "occurred_at": "2026-11-01T09:00:00.000Z",
                    "payload": json.dumps(older),
                    "status": "pending",
                    "source": "crashed-run.jsonl",
                }
            ],
        )
        if connection.dialect.name == "postgresql":  # numbers come from a sequence there
            connection.execute(sa.text("SELECT setval('inbox_seqs', 1)"))
    run(workspace, owner_event("contact", "p-1", "u-9", "2026-11-01T10:00:00Z"))
    kim = record_by_external(workspace, "p-1")
    assert [h["owner_id"] for h in kim["owner_history"]] == ["101", "102"]
    assert {r["status"] for r in workspace.inbox_counts()} == {"applied"}


def test_process_inbox_applies_what_is_pending(workspace: Workspace) -> None:
    import sqlalchemy as sa

    from leadsync.store.schema import inbox

    setup(workspace)
    event = contact("p-1", owner="u-1")
    with workspace.engine.begin() as connection:
        connection.execute(
            sa.insert(inbox),
            [
                {
                    "seq": 1,
                    "integration": "dialer",
                    "event_id": event["id"],
                    "received_at": "2026-11-01T09:00:01.000Z",
                    "occurred_at": "2026-11-01T09:00:00.000Z",
                    "payload": json.dumps(event),
                    "status": "pending",
                    "source": None,
                },
                {
                    "seq": 2,
                    "integration": "dialer",
                    "event_id": "broken",
                    "received_at": "2026-11-01T09:00:01.000Z",
                    "occurred_at": "2026-11-01T09:00:00.000Z",
                    "payload": '{"id": "broken"}',
                    "status": "pending",
                    "source": None,
                },
            ],
        )
    result = workspace.process_inbox()
    assert result.events == 1 and owner_of(workspace, "p-1") == "101"
    counts = {r["status"]: r["count"] for r in workspace.inbox_counts()}
    assert counts == {"applied": 1, "failed": 1}
    [dead] = workspace.dead_letters()
    assert "inbox #2" in dead["error"] and "occurred_at" in dead["error"]


def test_a_person_can_clear_the_owner_and_fill_if_empty_then_fills_it(workspace: Workspace) -> None:
    setup(workspace, ownership={"default": "fill_if_empty", "protect_manual_days": 0})
    run(workspace, contact("p-1", owner="u-1", at="2026-11-01T09:00:00Z"))
    kim = record_by_external(workspace, "p-1")
    cleared = workspace.set_owner("contact", kim["id"], None, at="2026-11-02T00:00:00.000Z")
    assert cleared.outcome.value == "set" and cleared.owner_id is None
    assert "a person changed the owner in the CRM (was 101)" in cleared.reason
    run(workspace, owner_event("contact", "p-1", "u-9", "2026-11-03T00:00:00Z"))
    assert owner_of(workspace, "p-1") == "102"
