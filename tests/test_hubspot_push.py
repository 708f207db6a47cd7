"""The HubSpot push end to end: the engine queues, the pusher sends through the real client
to the stand-in (every request checked against the project's OpenAPI description), on SQLite
and PostgreSQL."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadsync.destinations.hubspot.budget import RateBudget
from leadsync.destinations.hubspot.client import Answer
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.errors import UserError, WorkspaceError
from leadsync.ops.settings_change import ManagedBy
from leadsync.settings import config_from_dict, config_to_dict, load_config
from leadsync.store import push_lease
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import OWNERS, contact_line, ev, hubspot_property_change, run, settings


def config(ownership: dict[str, Any] | None = None, **extra: Any) -> Any:
    doc: dict[str, Any] = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {
            "dialer": settings(ownership=ownership or {}, activities={"email": {"enabled": True}}),
            "crm": {"kind": "hubspot"},
        },
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN", **extra},
    }
    return load_config(json.dumps(doc), "test.yaml")


@pytest.fixture
def ws(db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    workspace = Workspace(db_url, hubspot_transport=hub.transport())
    workspace.apply_config(config())
    workspace.hubspot_setup()
    yield workspace
    workspace.close()


def dialers_later_change() -> dict[str, object]:
    """The dialer's rep u-9 (owner 102) on Kim at 11:00: an owner for the push to write."""
    return ev(
        "record",
        "2026-11-01T11:00:00Z",
        object="contact",
        external_id="p-1",
        owner="u-9",
        properties={"email": "kim@globex.test"},
    )


def company_contact_call() -> list[dict[str, Any]]:
    return [
        ev(
            "record",
            object="contact",
            external_id="p-1",
            owner="u-1",
            properties={"email": "kim@globex.test", "firstname": "Kim"},
            associations=[{"object": "company", "domain": "globex.test"}],
        ),
        ev(
            "activity",
            "2026-11-01T10:00:00Z",
            activity="call",
            external_id="c-1",
            owner="u-1",
            properties={"duration_s": 95, "outcome": "connected", "direction": "outbound"},
            associations=[{"object": "contact", "external_id": "p-1"}],
        ),
    ]


def only(hub: HubSpotDouble, object_type: str) -> dict[str, Any]:
    objects = hub.objects(object_type)
    assert len(objects) == 1, objects
    return objects[0]


def linked_ids(obj: dict[str, Any], to_type: str) -> set[str]:
    return {str(a["id"]) for a in (obj.get("associations") or {}).get(to_type, [])}


def test_records_activities_and_associations_reach_hubspot(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, *company_contact_call())
    assert ws.push_status()["queued_total"] > 0
    result = ws.push()
    assert result.failures == 0
    contact = only(hub, "contacts")
    company = only(hub, "companies")
    call = only(hub, "calls")
    assert contact["properties"]["email"] == "kim@globex.test"
    assert contact["properties"]["hubspot_owner_id"] == "101"
    assert contact["properties"]["leadsync_id"]
    assert call["properties"]["hubspot_owner_id"] == "101"
    assert call["properties"]["hs_call_duration"] == "95000"
    assert call["properties"]["hs_call_status"] == "COMPLETED"
    assert "hs_call_body" not in call["properties"]  # no body, comments nor tags
    assert linked_ids(call, "contacts") == {contact["id"]}
    assert linked_ids(call, "companies") == {company["id"]}
    assert linked_ids(contact, "companies") == {company["id"]}
    status = ws.push_status()
    assert status["queued_total"] == 0 and status["failures"] == 0
    # Pushing again sends nothing: the queue is empty.
    before = hub.stats()["requests"]
    assert ws.push().changes == 0
    assert hub.stats()["requests"] == before
    # HubSpot ids are stored locally and HubSpot's webhooks will find the records.
    found = ws.find(external=f"crm:{contact['id']}")
    assert [f["type"] for f in found] == ["contact"]


def test_a_lead_is_created_with_its_primary_contact(ws: Workspace, hub: HubSpotDouble) -> None:
    run(
        ws,
        *company_contact_call(),
        ev(
            "record",
            object="lead",
            external_id="l-1",
            owner="u-1",
            properties={"name": "Globex expansion"},
            associations=[{"object": "contact", "external_id": "p-1"}],
        ),
    )
    assert ws.push().failures == 0
    lead = only(hub, "leads")
    assert lead["properties"]["hs_lead_name"] == "Globex expansion"
    assert linked_ids(lead, "contacts") == {only(hub, "contacts")["id"]}


def test_changes_of_one_record_coalesce_into_one_write(ws: Workspace, hub: HubSpotDouble) -> None:
    events = [
        ev(
            "record",
            f"2026-11-01T09:0{i}:00Z",
            object="contact",
            external_id="p-1",
            properties={"email": "kim@globex.test", "jobtitle": f"title {i}"},
        )
        for i in range(5)
    ]
    for event in events:  # five batches: five queued changes
        run(ws, event)
    assert ws.push_status()["queued"]["contact"] == 5
    ws.push()
    contact = only(hub, "contacts")
    assert contact["properties"]["jobtitle"] == "title 4"
    calls = hub.stats()["by_endpoint"]
    creates = sum(
        sum(c.values())
        for k, c in calls.items()
        if k.startswith("POST objects/contacts/batch/create")
    )
    updates = sum(
        sum(c.values())
        for k, c in calls.items()
        if k.startswith("POST objects/contacts/batch/update")
    )
    assert creates == 1 and updates == 0


def test_existing_contact_is_matched_not_duplicated_and_its_owner_is_respected(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    existing = hub.add_object("contacts", {"email": "kim@globex.test", "hubspot_owner_id": "102"})
    run(ws, *company_contact_call())
    result = ws.push()
    assert result.matched.get("contact") == 1
    contact = only(hub, "contacts")
    assert contact["id"] == existing
    # fill_if_empty: HubSpot's owner stays, and the workspace follows it with a reason.
    assert contact["properties"]["hubspot_owner_id"] == "102"
    record = ws.record("contact", ws.find(email="kim@globex.test")[0]["id"])
    assert record["owner_id"] == "102"
    assert "already existed in the CRM with owner 102" in record["owner_history"][-1]["reason"]
    assert linked_ids(only(hub, "calls"), "contacts") == {existing}


def test_under_bidirectional_a_contact_hubspot_had_keeps_an_owner_assigned_later(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Matched in HubSpot, its owner assigned there after the dialer's change (HubSpot's
    hubspot_owner_assigneddate): the most recent change wins, HubSpot's — the dialer's older
    one overwrote it, the matched owner counting as undated. The dialer giving its rep u-1
    again later is no change; a change of its rep later is the most recent, and written."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    existing = hub.add_object("contacts", {"email": "kim@globex.test", "hubspot_owner_id": "102"})
    run(ws, *company_contact_call())  # Kim to u-1 (101) on 2026-11-01, before HubSpot's
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    record = ws.record("contact", ws.find(email="kim@globex.test")[0]["id"])
    assert record["owner_id"] == "102"
    later = datetime.now(UTC) + timedelta(minutes=1)
    stamp = later.strftime("%Y-%m-%dT%H:%M:%SZ")
    run(ws, {**dialers_later_change(), "occurred_at": stamp, "owner": "u-1"})  # Ana, as before
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    # A change of the dialer's after HubSpot's assignment is the most recent: it is written.
    di = {"id": "u-4", "email": "di@acme.test"}  # Di, 104
    run(ws, {**dialers_later_change(), "occurred_at": stamp, "owner": di})
    ws.push()
    contact = only(hub, "contacts")
    assert (contact["id"], contact["properties"]["hubspot_owner_id"]) == (existing, "104")


def test_under_bidirectional_a_company_matched_by_domain_keeps_an_owner_assigned_later(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Matched by the domain search (not read again): its owner's date comes with it."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    hub.add_object("companies", {"domain": "globex.test", "hubspot_owner_id": "102"})
    run(ws, *company_contact_call())  # Globex to u-1 (101) on 2026-11-01, before HubSpot's
    ws.push()
    assert only(hub, "companies")["properties"]["hubspot_owner_id"] == "102"
    assert ws.record("company", ws.find(domain="globex.test")[0]["id"])["owner_id"] == "102"


def test_owner_is_compare_and_set_against_a_change_made_in_hubspot(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    assert contact["properties"]["hubspot_owner_id"] == "101"
    # A person reassigns the contact in HubSpot; its webhook has not arrived yet.
    hub.set_owner("contacts", contact["id"], "104")
    # Meanwhile the dialer reassigns it (an older change than the person's, seen later).
    run(ws, dialers_later_change())
    result = ws.push()
    assert result.owner_checks == 1 and result.owner_redecided == 1
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "104"
    record = ws.record("contact", ws.find(email="kim@globex.test")[0]["id"])
    assert record["owner_id"] == "104"
    assert "changed to 104" in record["owner_history"][-1]["reason"]


def test_a_change_back_to_the_owner_leadsync_last_wrote_is_sent_after_hubspots_was_followed(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """The push kept an owner a person gave in HubSpot (leadsync's own write was 101, HubSpot
    has 104); the dialer later gives its rep u-1 (101) again, the most recent change: it must
    reach HubSpot. The push took 101 for what HubSpot had — leadsync's last write — and sent
    nothing, leaving 104 there and 101 in leadsync."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    hub.set_owner("contacts", contact["id"], "104")
    run(ws, dialers_later_change())
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "104"
    local_id = ws.find(email="kim@globex.test")[0]["id"]
    assert ws.record("contact", local_id)["owner_id"] == "104"
    later = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    run(ws, {**dialers_later_change(), "occurred_at": later, "owner": "u-1"})
    assert ws.record("contact", local_id)["owner_id"] == "101"
    history = len(ws.record("contact", local_id)["owner_history"])
    # HubSpot's 104 is the owner the push kept: known, and decided against by the dialer's
    # newer change — written over without deciding again (a "101 -> 101" decision of the
    # push's was recorded, and counted as a change by the flapping check).
    assert ws.push().owner_redecided == 0
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "101"
    assert len(ws.record("contact", local_id)["owner_history"]) == history
    assert ws.push_status()["queued_total"] == 0
    # A person changes it in HubSpot again: that owner is not known, and is compared.
    hub.set_owner("contacts", contact["id"], "102")
    later = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    di = {"id": "u-4", "email": "di@acme.test"}  # Di, 104
    run(ws, {**dialers_later_change(), "occurred_at": later, "owner": di})
    assert ws.push().owner_redecided == 1


def test_a_persons_change_through_leadsync_reaches_hubspot(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """`records set-owner` is pushed — with the HubSpot integration named `crm` (as here),
    the name a person's change was recorded under, the push took it for HubSpot's own
    change and sent nothing."""
    run(ws, *company_contact_call())
    ws.push()
    kim = ws.find(email="kim@globex.test")[0]["id"]
    ws.set_owner("contact", kim, "104")
    result = ws.push()
    assert result.changes >= 1
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "104"


def test_a_hubspot_integration_added_after_a_push_finds_the_records_pushed(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Its webhooks name objects by HubSpot's ids: the push gave those ids as identities to
    the HubSpot integrations it knew; one added later made a second record of a contact
    HubSpot had (and the push then pointed both at one object)."""
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    doc = config_to_dict(ws.export_config())
    doc["integrations"]["hs"] = {"kind": "hubspot"}
    ws.apply_config(config_from_dict(doc))
    change = hubspot_property_change(contact["id"], "firstname", "Kimberly", event_id=9)
    summary = ws.ingest("hs", [change])
    assert summary.records_created == 0
    [kim] = ws.find(external=f"hs:{contact['id']}")
    assert kim["id"] == ws.find(email="kim@globex.test")[0]["id"]


def test_hubspots_own_owner_change_is_never_written_back(ws: Workspace, hub: HubSpotDouble) -> None:
    """A person reassigns the contact in HubSpot (its webhook arrives), then again before the
    next push: the push wrote the first change back over the second — HubSpot had it, it was
    HubSpot's own."""
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    hub.set_owner("contacts", contact["id"], "104")
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    ws.ingest("crm", [hubspot_property_change(contact["id"], "hubspot_owner_id", "104", 7, now_ms)])
    kim = ws.record("contact", ws.find(email="kim@globex.test")[0]["id"])
    assert kim["owner_id"] == "104"
    hub.set_owner("contacts", contact["id"], "102")  # again, its webhook not yet arrived
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"


def test_integration_wins_overwrites_without_reading_first(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    ws.apply_config(config(ownership={"default": "integration_wins"}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    hub.set_owner("contacts", contact["id"], "104")
    run(ws, dialers_later_change())
    result = ws.push()
    assert result.owner_checks == 0
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"


def test_our_own_write_echoed_by_hubspot_is_not_a_manual_change(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    ws.apply_config(config(ownership={"default": "bidirectional", "protect_manual_days": 14}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    local_id = ws.find(email="kim@globex.test")[0]["id"]
    # The dialer changes the owner; leadsync pushes 102 to HubSpot.
    run(ws, dialers_later_change())
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    # HubSpot's webhook reports that change, made through an app (the integration names no
    # app_id, so the adapter passes it on: the value tells it is leadsync's write). One that
    # says a person made it (CRM_UI) is a person's change, whatever owner it names.
    echo = hubspot_property_change(contact["id"], "hubspot_owner_id", "102", 9001, 1793000000000)
    echo = echo.replace('"CRM_UI"', '"INTEGRATION"')
    summary = ws.ingest("crm", [echo.encode()], source="hubspot.jsonl")
    assert len(summary.dead_letters) == 0, summary.dead_letters.items
    record = ws.record("contact", local_id)
    assert record["owner_id"] == "102"
    last = record["owner_history"][-1]
    assert last["outcome"] == "ignored" and "echoed back" in last["reason"]
    # No protection started: the dialer's next change still applies.
    run(
        ws,
        ev(
            "record",
            "2026-11-01T12:00:00Z",
            object="contact",
            external_id="p-1",
            owner="u-1",
            properties={"email": "kim@globex.test"},
        ),
    )
    assert ws.record("contact", local_id)["owner_id"] == "101"
    ws.push()
    assert ws.push_status()["queued_total"] == 0


def many_contacts(n: int) -> list[dict[str, Any]]:
    return [json.loads(contact_line(f"p-{i}", "u-1")) for i in range(n)]


def test_refused_inputs_become_failures_and_the_rest_goes_through(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, *many_contacts(40))
    hub.set_faults(partial_207_rate=0.25, seed=3)
    result = ws.push()
    failures = ws.push_failures()
    assert result.failures == len(failures) > 0
    assert result.missing_property == 0  # refused for other reasons: no `hubspot setup` hint
    assert len(hub.objects("contacts")) == 40 - len(failures)
    assert all(f["status"] >= 400 and f["message"] and f["correlation_id"] for f in failures)
    assert ws.push_status()["queued_total"] == 0  # a refused input leaves the queue
    report = {f.check: f for f in ws.report("2026-01-01T00:00:00Z").findings}
    assert report["push_failures"].alert
    # Fixed on HubSpot's side: retried, they go through and the failures close.
    hub.set_faults(partial_207_rate=0.0)
    assert ws.resolve_push_failures([f["id"] for f in failures], "retry") == len(failures)
    ws.push()
    assert len(hub.objects("contacts")) == 40
    assert ws.push_failures() == []
    assert hub.duplicates("contacts", "email") == {}


def test_ten_secondly_429s_are_waited_out_and_resent(ws: Workspace, hub: HubSpotDouble) -> None:
    run(ws, *many_contacts(1000))
    hub.set_faults(rate_429_rate=0.4, seed=5)
    pusher = ws.pusher()
    pusher.client.budget = None  # the stand-in's 429s only; no shared pauses in this test
    pusher.client.sleep = lambda s: None
    result = pusher.drain()
    pusher.release()
    assert result.failures == 0
    assert hub.stats()["rate_limited"] > 0
    assert len(hub.objects("contacts")) == 1000


def test_test_lead_checks_what_hubspot_shows(ws: Workspace, hub: HubSpotDouble) -> None:
    result = ws.test_lead("dialer", "u-1")
    checks = {c["check"]: c for c in result.checks}
    assert checks["hubspot_owner"]["passed"], checks
    assert checks["hubspot_call"]["passed"], checks
    # Said in words: "HubSpot call 7 is associated with contact 5", not a Python list.
    assert re.fullmatch(
        r"HubSpot call \d+ is associated with contact \d+(, company \d+)?",
        checks["hubspot_call"]["detail"],
    ), checks["hubspot_call"]["detail"]
    assert result.passed
    # A person reassigns the test contact in HubSpot: the next check would see it.
    contact = next(
        o for o in hub.objects("contacts") if o["properties"]["email"].endswith(".invalid")
    )
    assert contact["properties"]["hubspot_owner_id"] == "101"
    ws.cleanup_test_leads()
    ws.push()
    assert all(not o["properties"]["email"].endswith(".invalid") for o in hub.objects("contacts"))


def test_report_alerts_on_push_lag(ws: Workspace) -> None:
    run(ws, *company_contact_call())
    findings = {
        f.check: f for f in ws.report("2026-01-01T00:00:00Z", now="2099-01-01T00:00:00Z").findings
    }
    assert findings["push_lag"].alert
    assert not findings["push_daily_budget"].alert


def test_lost_responses_and_5xx_create_no_duplicates(ws: Workspace, hub: HubSpotDouble) -> None:
    hub.set_faults(apply_then_fail_rate=0.3, error_5xx_rate=0.1, seed=7)
    lines = []
    for i in range(60):
        lines.append(json.loads(contact_line(f"p-{i}", "u-1")))
        lines.append(
            ev(
                "activity",
                "2026-11-01T10:00:00Z",
                activity="call",
                external_id=f"c-{i}",
                owner="u-1",
                properties={"duration_s": 60, "outcome": "connected"},
                associations=[{"object": "contact", "external_id": f"p-{i}"}],
            )
        )
    run(ws, *lines)
    client_options: dict[str, Any] = {"sleep": lambda s: None}
    pusher = ws.pusher(**client_options)
    pusher.drain()
    pusher.release()
    hub.set_faults(apply_then_fail_rate=0.0, error_5xx_rate=0.0)
    ws.push()
    assert hub.duplicates("contacts", "leadsync_id") == {}
    assert hub.duplicates("calls", "leadsync_id") == {}
    assert len(hub.objects("contacts")) == 60
    assert len(hub.objects("calls")) == 60
    for call in hub.objects("calls"):
        assert len(linked_ids(call, "contacts")) == 1
    assert ws.push_status()["queued_total"] == 0


def test_a_create_sent_before_a_crash_is_reconciled_not_sent_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, *company_contact_call())
    # The first pusher sends every create, then dies before recording anything.
    hub.set_faults(apply_then_fail_rate=1.0)
    pusher = ws.pusher(max_attempts=1, sleep=lambda s: None)
    with pytest.raises(Exception, match="failed 1 times"):
        pusher.run_once()
    hub.set_faults(apply_then_fail_rate=0.0)
    pusher.release()
    ws.push()
    assert len(hub.objects("companies")) == 1
    assert hub.duplicates("companies", "leadsync_id") == {}


def test_two_pushers_never_push_at_once(ws: Workspace) -> None:
    run(ws, *company_contact_call())
    first, second = ws.pusher(), ws.pusher()
    assert first.run_once().changes > 0
    assert second.run_once().busy
    first.release()


def test_budget_is_shared_by_every_process_of_the_workspace(db_url: str) -> None:
    """Two budgets on one database (two processes) with one clock: never more than the
    limit in any 10-second window, and the second one waits for the first one's sends."""
    ws = Workspace(db_url)
    now = [1000.0]
    sent: list[float] = []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    budgets = [
        RateBudget(ws.engine, "app", 10, clock=lambda: now[0], sleep=sleep) for _ in range(2)
    ]
    for i in range(60):
        stamp = budgets[i % 2].acquire()
        sent.append(now[0])
        now[0] += 0.05
        budgets[i % 2].observe(Answer(200, {}), stamp)
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 10) <= 10
    assert sent[-1] - sent[0] >= 50  # 60 requests at 10 per 10 s
    ws.close()


def test_a_slot_counts_while_in_flight_and_then_from_its_answer(db_url: str) -> None:
    """HubSpot counts a request when it arrives, somewhere between the slot's taking and the
    answer: a slot in flight counts however old it is, an answered one from its answer."""
    ws = Workspace(db_url)
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    budget = RateBudget(ws.engine, "app", 2, clock=lambda: now[0], sleep=sleep)
    slow = budget.acquire()  # answered only 15 s later
    fast = budget.acquire()
    now[0] += 0.5
    budget.observe(Answer(200, {}), fast)  # answered at 1000.5
    now[0] = 1014.0
    # The slow one is still in flight (it counts); the fast one stopped counting at 1010.5.
    waits.clear()

    def answer_slow_after_a_while(seconds: float) -> None:
        sleep(seconds)
        if now[0] >= 1015.0 and -slow in budget_row(ws).sent:
            budget.observe(Answer(200, {}), slow)

    budget.sleep = answer_slow_after_a_while
    budget.acquire()
    assert waits == [] and now[0] == 1014.0  # the fast one's slot was free
    budget.acquire()
    # The fourth needed the slow one's slot: answered at >= 1015, it counts until >= 1025.
    assert now[0] >= 1025.0
    ws.close()


def test_answers_kept_in_the_process_are_written_while_the_window_is_full(
    db_url: str,
) -> None:
    """Answer times wait in the process for its next transaction on the budget; one that
    finds the window full must still write them, or their slots would count as in flight
    (for minutes) and the window would stay full."""
    ws = Workspace(db_url)
    now = [1000.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    budget = RateBudget(ws.engine, "app", 2, clock=lambda: now[0], sleep=sleep)
    budget.observe(Answer(200, {}))  # headers saved: the next answers stay in the process
    stamps = [budget.acquire()]
    now[0] += 0.01
    stamps.append(budget.acquire())
    now[0] += 0.1
    for stamp in stamps:
        budget.observe(Answer(200, {}), stamp)
    budget.acquire()  # the window is full until both answers are 10 s old
    assert 1010.1 <= now[0] < 1010.3
    ws.close()


def test_a_full_window_at_hubspot_holds_everyone_only_when_the_log_has_room(
    db_url: str,
) -> None:
    """HubSpot saying its window is full (a 429, or Remaining: 0) while the shared log is
    full too is what the log already enforces: nobody is held on top. While the log has
    room, someone else spends the app's budget: everyone holds a moment."""
    ws = Workspace(db_url)
    now = [1000.0]
    budget = RateBudget(ws.engine, "app", 2, clock=lambda: now[0], sleep=lambda s: None)
    full = Answer(
        429,
        {"policyName": "TEN_SECONDLY_ROLLING"},
        {"X-HubSpot-RateLimit-Remaining": "0", "X-HubSpot-RateLimit-Max": "2"},
    )
    first = budget.acquire()
    budget.observe(full, first)
    assert budget_row(ws).paused_until == 1000.5  # one slot of two used: a stranger's
    now[0] = 1001.0
    second = budget.acquire()
    now[0] += 0.01
    budget.observe(Answer(200, {}, {"X-HubSpot-RateLimit-Remaining": "0"}), second)
    row = budget_row(ws)
    assert row.paused_until == 1000.5 and len([t for t in row.sent if t > 0]) == 2
    ws.close()


def budget_row(ws: Workspace) -> push_lease.BudgetRow:
    with ws.engine.connect() as connection:
        row = push_lease.read_budget(connection, "app")
    assert row is not None
    return row


def test_dry_run_sends_nothing_and_writes_nothing(ws: Workspace, hub: HubSpotDouble) -> None:
    run(ws, *company_contact_call())
    before = hub.stats()["requests"]
    pusher = ws.pusher(dry_run=True)
    pusher.drain()
    assert any("/batch/create" in path for _m, path, _b in pusher.sent)
    assert hub.stats()["requests"] == before
    assert ws.push_status()["queued_total"] > 0


def test_daily_limit_pauses_pushing_and_says_so(ws: Workspace, hub: HubSpotDouble) -> None:
    from leadsync.destinations.hubspot.client import DailyLimitReached

    run(ws, *company_contact_call())
    hub.set_faults(daily_cap=hub.stats()["requests"])
    with pytest.raises(DailyLimitReached):
        ws.push()
    status = ws.push_status()
    assert status["pause_reason"] == "daily" and status["paused_until"]
    assert status["queued_total"] > 0


def test_backfill_queues_what_the_workspace_held_once(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    ws = Workspace(db_url, hubspot_transport=hub.transport())
    plain = config()
    ws.apply_config(plain.model_copy(update={"destination": None}))
    run(ws, *company_contact_call())
    ws.apply_config(plain)
    ws.hubspot_setup()
    assert ws.push_status()["queued_total"] == 0
    assert ws.backfill_push() == 3
    ws.push()
    assert len(hub.objects("contacts")) == 1 and len(hub.objects("calls")) == 1
    from leadsync.errors import WorkspaceError

    with pytest.raises(WorkspaceError, match="once"):
        ws.backfill_push()
    ws.close()


def test_owners_pull_imports_all_pages_and_archives(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    for i in range(130):
        hub.add_owner(f"rep{i}@acme.test", f"Rep{i}", "X", teams=["sales"] if i < 3 else ())
    gone = hub.add_owner("gone@acme.test", "Gone", "Away", archived=True)
    ws = Workspace(db_url, hubspot_transport=hub.transport())
    doc = {
        "owners": {"source": "hubspot"},
        "integrations": {"dialer": {"kind": "generic"}},
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    ws.apply_config(load_config(json.dumps(doc), "t.yaml"))
    changes = ws.pull_owners()
    owners = {o["id"]: o for o in ws.owners()}
    assert len(owners) == 130 + len(OWNERS) + 1
    assert owners[str(gone["id"])]["active"] is False
    assert "sales" in changes.teams_added
    # apply no longer archives owners the file does not list.
    ws.apply_config(load_config(json.dumps(doc), "t.yaml"))
    assert all(not o["archived"] for o in ws.owners())
    assert ws.pull_owners().changed is False
    ws.close()


def test_owners_pull_is_refused_where_the_managing_file_lists_the_owners(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file's next apply would archive what a pull adds: refused, saying how to take
    owners from HubSpot in the file; with ``owners: {source: hubspot}`` there, it pulls."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    hub.add_owner("new@acme.test", "New", "Rep")
    ws = Workspace(db_url, hubspot_transport=hub.transport())
    listed = {
        "owners": copy.deepcopy(OWNERS),
        "integrations": {"dialer": {"kind": "generic"}},
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    ws.apply_config(load_config(json.dumps(listed), "team.yaml"), managed=ManagedBy("team.yaml"))
    before = hub.stats()["requests"]
    with pytest.raises(WorkspaceError) as refused:
        ws.pull_owners()
    assert "managed by file (team.yaml), which lists the owners" in str(refused.value)
    assert "write `owners: {source: hubspot}` in team.yaml" in str(refused.value)
    assert hub.stats()["requests"] == before  # nothing asked of HubSpot
    assert "new@acme.test" not in {o["email"] for o in ws.owners()}
    from_hubspot = {**listed, "owners": {"source": "hubspot"}}
    ws.apply_config(
        load_config(json.dumps(from_hubspot), "team.yaml"), managed=ManagedBy("team.yaml")
    )
    assert ws.pull_owners().changed
    assert "new@acme.test" in {o["email"] for o in ws.owners()}
    ws.close()


def test_owners_pull_is_refused_where_it_would_archive_owners_the_settings_name(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Owners typed by hand, which HubSpot has under other ids: a pull would archive them,
    leaving a team of archived members and a map to nobody — refused, naming each owner,
    where the settings name it, and HubSpot's owner of the same email; nothing written. Once
    the settings name HubSpot's ids, it pulls (and archives the typed ones)."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    hub = HubSpotDouble(TOKEN)
    hub.add_owner("ana@acme.test", "Ana", "Ng", owner_id="30000001")
    hub.add_owner("bo@acme.test", "Bo", "Li", owner_id="30000002")
    typed = [{"id": "101", "email": "ana@acme.test"}, {"id": "102", "email": "bo@acme.test"}]
    dialer = {"kind": "generic", "users": {"map": {"u-1": "102"}}}
    doc = {
        "owners": typed,
        "teams": {"sdr": ["101", "102"]},
        "integrations": {"dialer": dialer},
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    ws = Workspace(db_url, hubspot_transport=hub.transport())
    ws.apply_config(load_config(json.dumps(doc), "typed.yaml"))
    with pytest.raises(WorkspaceError) as refused:
        ws.pull_owners()
    assert str(refused.value) == (
        "HubSpot has no owner 101, 102, which the settings name: 101 (team sdr); 102 (team "
        "sdr, dialer's users.map); a pull would archive them, so nothing was pulled. By "
        "email, 101 (ana@acme.test) is HubSpot's 30000001, 102 (bo@acme.test) is HubSpot's "
        "30000002. Name HubSpot's owners there instead: with owners listed in the workspace "
        "file, list HubSpot's too (by their ids) and name those; with owners: {source: "
        "hubspot}, take 101, 102 out of those settings, pull, then name HubSpot's ids"
    )
    assert {o["id"]: o["archived"] for o in ws.owners()} == {"101": False, "102": False}
    doc["owners"] = [
        *typed,
        {"id": "30000001", "email": "ana@acme.test"},
        {"id": "30000002", "email": "bo@acme.test"},
    ]
    doc["teams"] = {"sdr": ["30000001", "30000002"]}
    doc["integrations"] = {"dialer": {**dialer, "users": {"map": {"u-1": "30000002"}}}}
    ws.apply_config(load_config(json.dumps(doc), "typed.yaml"))
    ws.pull_owners()  # 101 and 102 are named nowhere now: HubSpot's list archives them
    assert {o["id"]: o["archived"] for o in ws.owners()} == {
        "101": True,
        "102": True,
        "30000001": False,
        "30000002": False,
    }
    ws.close()


def contacts_with_calls(n: int, *, domains: bool = False) -> list[dict[str, Any]]:
    events = []
    for i in range(n):
        events.append(
            ev(
                "record",
                object="contact",
                external_id=f"p-{i}",
                owner="u-1",
                properties={"email": f"p{i}@d{i}.test"},
                associations=[{"object": "company", "domain": f"d{i}.test"}] if domains else [],
            )
        )
        events.append(
            ev(
                "activity",
                "2026-11-01T10:00:00Z",
                activity="call",
                external_id=f"c-{i}",
                owner="u-1",
                properties={"duration_s": 60, "direction": "outbound"},
                associations=[{"object": "contact", "external_id": f"p-{i}"}],
            )
        )
    return events


def requests_to(hub: HubSpotDouble, endpoint: str) -> int:
    counts = hub.stats()["by_endpoint"]
    return sum(sum(c.values()) for k, c in counts.items() if k.startswith(endpoint))


def test_a_partly_filled_batch_waits_for_the_next_cycle_while_more_is_queued(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """With more changes queued than a cycle takes, a type's last, partly filled batch stays
    queued and leaves full in the next cycle: 250 contacts and 250 calls in three requests
    each (100, 100, 50), not a partial one per cycle."""
    run(ws, *contacts_with_calls(250))
    pusher = ws.pusher()
    pusher.slice_size = 130  # 500 changes queued
    result = pusher.drain()
    pusher.release()
    assert result.cycles >= 4 and result.changes == 500
    assert len(hub.objects("contacts")) == 250 and len(hub.objects("calls")) == 250
    assert requests_to(hub, "POST objects/contacts/batch/create") == 3
    assert requests_to(hub, "POST objects/calls/batch/create") == 3
    assert hub.duplicates("calls", "leadsync_id") == {}
    assert ws.push_status()["queued_total"] == 0


def test_an_activity_waits_with_the_record_whose_create_waits(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A call linked to a contact held back for the next cycle is held too, so that its
    create carries the link: no association request of its own once the contact exists."""
    events = contacts_with_calls(150)
    run(ws, *events[0::2])
    run(ws, *reversed(events[1::2]))  # the calls of the newest contacts come first
    pusher = ws.pusher()
    pusher.slice_size = 280  # 150 contacts (50 held back) and 130 calls
    pusher.drain()
    pusher.release()
    assert requests_to(hub, "POST associations") == 0
    calls = hub.objects("calls")
    linked = [linked_ids(call, "contacts") for call in calls]
    assert len(calls) == 150 and all(len(ids) == 1 for ids in linked)
    assert set().union(*linked) == {c["id"] for c in hub.objects("contacts")}  # one each


def test_a_type_too_small_to_fill_a_batch_is_not_held_back(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(ws, *contacts_with_calls(40))
    pusher = ws.pusher()
    pusher.slice_size = 50
    first = pusher.run_once()
    pusher.release()
    assert first.changes == 50  # the slice is full, yet every change of it was pushed
    assert len(hub.objects("contacts")) == 40


def test_companies_are_matched_by_domain_in_one_search_through_every_page(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """250 new domains go in one search (filter groups of 100 values); HubSpot holds three
    companies for every fifth domain: 350 results, two pages. Every domain is matched to its
    oldest company; none is created."""
    oldest: dict[str, str] = {}
    for i in range(250):
        for _ in range(3 if i % 5 == 0 else 1):
            made = hub.add_object("companies", {"domain": f"d{i}.test", "name": f"D{i}"})
            oldest.setdefault(f"d{i}.test", made)
    run(ws, *[e for e in contacts_with_calls(250, domains=True) if e["type"] == "record"])
    result = ws.push()
    assert result.matched.get("company") == 250
    assert len(hub.objects("companies")) == 350
    assert requests_to(hub, "POST objects/companies/search") == 2  # one search, two pages
    for contact in hub.objects("contacts"):
        domain = contact["properties"]["email"].split("@")[1]
        assert linked_ids(contact, "companies") == {oldest[domain]}


def test_the_push_reports_its_progress_against_the_queue(ws: Workspace) -> None:
    """What ``push`` shows as progress: the changes each cycle pushed, of the queue's size."""
    run(ws, *company_contact_call())
    queued = ws.push_status()["queued_total"]
    pushed: list[int] = []
    result = ws.push(on_progress=pushed.append)
    assert pushed and sum(pushed) == result.changes == queued


def test_a_record_whose_refusal_was_dismissed_says_so(ws: Workspace, hub: HubSpotDouble) -> None:
    """After ``push failures dismiss``, a record HubSpot refused is neither "refused" nor
    "not pushed yet" (which reads as queued): it is not in HubSpot, its refusal dismissed —
    on the console's record page and in ``records show``."""
    from typer.testing import CliRunner

    from leadsync.cli import app

    run(ws, *many_contacts(1))
    hub.set_faults(partial_207_rate=1.0, seed=1)
    ws.push()
    [failure] = ws.push_failures()
    refused = ws.record_hubspot(failure["local_id"])
    assert refused.state == "refused by HubSpot" and refused.dismissed is None
    with pytest.raises(UserError, match="a dismissal needs a reason"):
        ws.resolve_push_failures([failure["id"]], "dismiss", "  ")
    assert ws.push_failures() == [failure]  # refused: nothing closed
    assert ws.resolve_push_failures([failure["id"]], "dismiss", "a test record") == 1
    state = ws.record_hubspot(failure["local_id"])
    assert (state.failure, state.queued, state.hubspot_id) == (None, 0, None)
    assert state.state.startswith("not in HubSpot: its refusal was dismissed")
    assert state.dismissed is not None and state.dismissed["message"] == failure["message"]
    shown = CliRunner().invoke(
        app,
        ["--db", str(ws.engine.url.render_as_string(hide_password=False)), "records", "show",
         "contact", str(failure["local_id"])],
        env={"HS_TEST_TOKEN": TOKEN},
    )  # fmt: skip
    assert shown.exit_code == 0, shown.output
    assert f"HubSpot: {state.state}: {failure['message']}" in shown.stdout


def test_records_hubspots_webhooks_named_are_matched_by_their_id_never_created_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A contact HubSpot's webhook said was created there, and a company a person associated
    with it in the portal, are HubSpot objects already: the push matches them by that id
    (their HubSpot owner compared, not cleared) instead of creating copies."""
    contact = hub.add_object("contacts", {"firstname": "Kim", "hubspot_owner_id": "102"})
    company = hub.add_object("companies", {"name": "Globex"})
    at = 1793000000000
    common = {"subscriptionId": 1, "portalId": 1, "appId": 1, "attemptNumber": 0}
    created = {"eventId": 1, "occurredAt": at, "subscriptionType": "contact.creation"}
    linked = {
        "eventId": 2,
        "occurredAt": at + 1000,
        "subscriptionType": "contact.associationChange",
        "associationType": "CONTACT_TO_COMPANY",
        "fromObjectId": int(contact),
        "toObjectId": int(company),
        "associationRemoved": False,
        "isPrimaryAssociation": True,
    }
    body = [{**common, **created, "objectId": int(contact)}, {**common, **linked}]
    summary = ws.ingest("crm", [json.dumps(body).encode()], source="hubspot.jsonl")
    assert len(summary.dead_letters) == 0, summary.dead_letters.items
    result = ws.push()
    assert result.created == {} and result.failures == 0
    assert result.matched == {"contact": 1, "company": 1}
    assert len(hub.objects("contacts")) == 1 and len(hub.objects("companies")) == 1
    assert hub.get_object("contacts", contact)["properties"]["hubspot_owner_id"] == "102"
    assert ws.push().created == {}  # and not on a later cycle either


def test_a_calls_comments_and_tags_reach_its_body_in_hubspot(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A dialer's comments on a call (Aircall's call.commented: the whole list each time) and
    its tags are what a rep wrote about the call: HubSpot's call shows them in its body, after
    the body the tool gave, and a comment added later reaches it too."""
    contact, call = company_contact_call()
    call["properties"] |= {
        "body": "Asked for pricing.",
        "comments": ["Call back on Monday", "Wants the enterprise plan"],
        "tags": ["hot lead", "pricing"],
    }
    run(ws, contact, call)
    ws.push()
    # HubSpot's call body is HTML: each paragraph after a blank line (<br><br>).
    assert only(hub, "calls")["properties"]["hs_call_body"] == (
        "Asked for pricing.<br><br>Call back on Monday<br><br>Wants the enterprise plan"
        "<br><br>Tags: hot lead, pricing"
    )
    later = copy.deepcopy(call)
    later["id"] = "ev-comment-3"
    later["occurred_at"] = "2026-11-01T10:05:00Z"
    later["properties"] = {"comments": [*call["properties"]["comments"], "Sent the quote"]}
    run(ws, later)
    ws.push()
    body = only(hub, "calls")["properties"]["hs_call_body"]
    assert body.endswith("Sent the quote<br><br>Tags: hot lead, pricing"), body


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        (
            "Budget <50k, decision maker is <Carla> & co.\nLine two",
            "Budget &lt;50k, decision maker is &lt;Carla&gt; &amp; co.<br>Line two",
        ),
        ("<p>Hi <b>Kim</b></p><p>Notes</p>", "<p>Hi <b>Kim</b></p><p>Notes</p>"),  # HTML as is
        ("Talked pricing", "Talked pricing"),
    ],
    ids=["plain text", "html", "one line"],
)
def test_a_body_reaches_hubspots_rich_text_as_html(
    ws: Workspace, hub: HubSpotDouble, body: str, sent: str
) -> None:
    """hs_note_body (and the call's, meeting's and task's) is HTML in HubSpot: plain text was
    sent as it was, so "<Carla>" was dropped as a tag by HubSpot's sanitizer and line breaks
    ran together (found by a probe)."""
    note = ev("activity", "2026-11-01T10:00:00Z", activity="note", external_id="n-1",
              owner="u-1", properties={"body": body},
              associations=[{"object": "contact", "external_id": "p-1"}])  # fmt: skip
    run(ws, json.loads(contact_line("p-1", "u-1")), note)
    assert ws.push().failures == 0
    assert only(hub, "notes")["properties"]["hs_note_body"] == sent


def email_event(external_id: str, at: str, **properties: Any) -> dict[str, Any]:
    return ev(
        "activity", at, activity="email", external_id=external_id, owner="u-1",
        properties={"direction": "outbound", "subject": "Pricing", **properties},
        associations=[{"object": "contact", "external_id": "p-1"}],
    )  # fmt: skip


def test_a_bounced_email_is_bounced_in_hubspot_and_can_be_filtered_out(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Outreach's and Salesloft's bounced emails were pushed as SENT (HubSpot has BOUNCED)
    and no filter could take them out (found by a probe). The email's outcome says it, the
    push sends HubSpot's status, and `skip_outcomes: [bounced]` skips it."""
    run(ws, json.loads(contact_line("p-1", "u-1")),
        email_event("m-1", "2026-11-01T10:00:00Z", outcome="sent"),
        email_event("m-2", "2026-11-01T10:05:00Z", outcome="bounced"))  # fmt: skip
    assert ws.push().failures == 0
    statuses = [e["properties"]["hs_email_status"] for e in hub.objects("emails")]
    assert statuses == ["SENT", "BOUNCED"]
    # Filtered out: a later bounce removes the email it had made.
    dialer = settings(activities={"email": {"enabled": True, "skip_outcomes": ["bounced"]}})
    ws.replace_integration("dialer", dialer)
    run(ws, email_event("m-3", "2026-11-01T11:00:00Z", outcome="sent"))
    run(ws, email_event("m-3", "2026-11-01T11:05:00Z", outcome="bounced"))
    [skip] = [s for s in ws.skipped_activities() if s["external_id"] == "m-3"]
    assert skip["reason"].startswith("email outcome bounced is in skip_outcomes for dialer")
    assert ws.push().failures == 0
    assert [e["properties"]["hs_email_status"] for e in hub.objects("emails")] == [
        "SENT",
        "BOUNCED",
    ]  # the third, bounced, never reached HubSpot


def test_a_call_or_email_task_reaches_hubspot_with_its_type(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Every task reached HubSpot as a to-do: a rep's "call Kim back" (Outreach's action
    call, Salesloft's task_type call) was not in their call queue (found by a probe)."""
    tasks = [
        ev("activity", "2026-11-01T10:00:00Z", activity="task", external_id=f"t-{kind}",
           owner="u-1", properties={"subject": f"A {kind}", **({"task_type": kind} if kind else {})},
           associations=[{"object": "contact", "external_id": "p-1"}])
        for kind in ("call", "email", "todo", None)
    ]  # fmt: skip
    run(ws, json.loads(contact_line("p-1", "u-1")), *tasks)
    assert ws.push().failures == 0
    assert [t["properties"]["hs_task_type"] for t in hub.objects("tasks")] == [
        "CALL",
        "EMAIL",
        "TODO",
        "TODO",
    ]


def test_an_html_email_body_reaches_hubspots_html_body(ws: Workspace, hub: HubSpotDouble) -> None:
    """Salesloft's email bodies are HTML: sent to hs_email_text, plain text, HubSpot showed
    `<p>Hi Kim</p>` with its tags (found by a probe). HTML goes to hs_email_html, plain text
    to hs_email_text, and a body that turns plain clears the HTML leadsync wrote."""
    run(ws, json.loads(contact_line("p-1", "u-1")),
        email_event("m-1", "2026-11-01T10:00:00Z", body="<p>Hi <b>Kim</b></p>"))  # fmt: skip
    assert ws.push().failures == 0
    props = only(hub, "emails")["properties"]
    assert props["hs_email_html"] == "<p>Hi <b>Kim</b></p>" and not props.get("hs_email_text")
    run(ws, email_event("m-1", "2026-11-01T10:05:00Z", body="Hi Kim"))
    assert ws.push().failures == 0
    props = only(hub, "emails")["properties"]
    assert props["hs_email_text"] == "Hi Kim" and not props.get("hs_email_html")
