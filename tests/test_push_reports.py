"""What the push says about itself: the error answers ``push status`` counts, the associations
its summary counts, ``push failures list`` without a destination, an input leadsync's own
check did not send (no HTTP status: "not sent"), and the daily pause as a canonical time."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble, serving
from leadsync.destinations.hubspot.objects import Paths
from leadsync.model import epoch_ts, now_ts
from leadsync.store import push as push_store
from leadsync.store import push_lease
from leadsync.store.database import MIGRATIONS, create_db_engine, migrate
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import ev, record_by_external, run
from tests.test_hubspot_push import company_contact_call, config


@pytest.fixture
def ws(db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    workspace = Workspace(db_url, hubspot_transport=hub.transport())
    workspace.apply_config(config())
    yield workspace
    workspace.close()


def test_the_404s_of_setup_existence_checks_are_not_error_answers(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    ws.hubspot_setup()  # the stand-in has no leadsync_id yet: a 404 per object type
    assert hub.stats()["by_status"]["404"] == 9
    budget = ws.push_status()["budget"]
    assert budget["requests"] == hub.stats()["requests"] and budget["errors"] == 0
    assert budget["daily_remaining"] is not None  # HubSpot's headers kept all the same
    # A 404 nobody asked for is an error answer still.
    with ws.hubspot_client() as client:
        missing = client.request(
            "GET", Paths(ws.destination().api_version).property("contact", "no_such")
        )
    assert missing.status == 404
    assert ws.push_status()["budget"]["errors"] == 1


def test_the_summary_counts_the_associations_made_with_the_creates(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    ws.hubspot_setup()
    run(ws, *company_contact_call())
    first = ws.push()
    # contact -> company, call -> contact, call -> company: all three went with the creates.
    assert first.associations == hub.association_count() == 3
    assert not [e for e in hub.stats()["by_endpoint"] if "associations" in e]
    # A deal for the contact: the deal's create makes the link, which the contact's own
    # queued change names too; it is made, and counted, once.
    run(
        ws,
        ev(
            "record",
            "2026-11-01T11:00:00Z",
            object="deal",
            external_id="d-1",
            properties={"name": "Globex renewal", "stage": "qualified", "is_closed": False},
            associations=[{"object": "contact", "external_id": "p-1"}],
        ),
    )
    second = ws.push()
    assert second.associations == 1 and hub.association_count() == 4
    assert not [e for e in hub.stats()["by_endpoint"] if "associations" in e]


def push_cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", db_url, "push", *args])
    return result.exit_code, result.stdout, result.stderr


def test_failures_list_without_a_destination_says_so_like_the_other_push_commands(
    ws: Workspace, db_url: str
) -> None:
    assert push_cli(db_url, "failures", "list")[:2] == (0, "no open push failures\n")
    ws.apply_config(config().model_copy(update={"destination": None}))
    status = push_cli(db_url, "status")
    assert status[0] == 2 and "no destination is configured" in status[2]
    assert push_cli(db_url, "failures", "list") == (2, "", status[2])
    code, out, err = push_cli(db_url, "failures", "list", "--json")
    assert (code, err) == (2, status[2])
    assert json.loads(out) == {
        "ok": False,
        "errors": [{"place": None, "message": status[2].removeprefix("error: ").strip()}],
    }


def test_failures_of_an_earlier_destination_are_still_listed(ws: Workspace, db_url: str) -> None:
    with ws.engine.begin() as connection:
        push_store.add_failures(
            connection,
            [
                {
                    "kind": push_store.RECORD,
                    "local_id": 7,
                    "object_type": "contact",
                    "operation": "create",
                    "status": 400,
                    "category": "VALIDATION_ERROR",
                    "message": "Email address kim@ is invalid",
                    "correlation_id": None,
                    "at": now_ts(),
                }
            ],
        )
    ws.apply_config(config().model_copy(update={"destination": None}))
    code, out, _err = push_cli(db_url, "failures", "list", "--json")
    assert code == 0
    assert [r["message"] for r in json.loads(out)] == ["Email address kim@ is invalid"]


def test_failures_list_cut_by_its_limit_says_so(ws: Workspace, db_url: str) -> None:
    """Three open failures, --limit 2: two listed and a line saying there are more (it cut
    3,600 to 100 without a word)."""
    failure = {
        "kind": push_store.RECORD,
        "object_type": "contact",
        "operation": "update",
        "status": 400,
        "category": "VALIDATION_ERROR",
        "message": "Email address kim@ is invalid",
        "correlation_id": None,
        "at": now_ts(),
    }
    with ws.engine.begin() as connection:
        push_store.add_failures(connection, [{**failure, "local_id": n} for n in (7, 8, 9)])
    code, out, err = push_cli(db_url, "failures", "list", "--limit", "2")
    assert code == 0 and out.count("VALIDATION_ERROR") == 2
    assert (
        "… the newest 2 push failures shown, and more there are: --limit N lists more "
        "(leadsync push status counts the open ones)"
    ) in err
    assert "more there are" not in push_cli(db_url, "failures", "list", "--limit", "3")[2]
    assert len(json.loads(push_cli(db_url, "failures", "list", "--limit", "2", "--json")[1])) == 2


def test_a_push_with_changes_hubspot_refused_exits_2_and_says_what_to_run(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    with serving(hub) as base_url, Workspace(db_url) as ws:
        ws.apply_config(config(base_url=base_url))
        ws.hubspot_setup()
        run(ws, *company_contact_call())
        assert push_cli(db_url)[0] == 0  # everything taken
        run(ws, ev("record", "2026-11-01T11:00:00Z", object="contact", external_id="p-9"))
        hub.reset()  # a portal without the leadsync_id property: the create is refused
        code, out, _err = push_cli(db_url)
        assert code == 2
        assert out.splitlines()[-1] == (
            "refused by HubSpot: 1 (each with HubSpot's reason: `leadsync push failures list`; 1 "
            "for a property the portal does not have: run `leadsync hubspot setup`, then "
            "`leadsync push failures retry` with their ids)"
        )
        code, out, _err = push_cli(db_url, "--json")  # nothing left to refuse: nothing sent
        assert code == 0 and json.loads(out)["failures"] == 0


def test_a_record_nothing_names_yet_is_said_not_created_rather_than_pushed(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    named_by_id_only = ev(
        "record",
        object="contact",
        external_id="p-1",
        properties={"email": "kim@globex.test"},
        associations=[{"object": "company", "external_id": "acc-7"}],  # a placeholder
    )
    with serving(hub) as base_url, Workspace(db_url) as ws:
        ws.apply_config(config(base_url=base_url))
        ws.hubspot_setup()
        run(ws, named_by_id_only)
        code, out, _err = push_cli(db_url)
        assert code == 0
        assert "not created in HubSpot yet: 1 company (nothing names them" in out
        assert hub.objects("companies") == [] and len(hub.objects("contacts")) == 1
        # Once an event names it, it goes.
        run(ws, ev("record", object="company", external_id="acc-7", properties={"name": "Acme"}))
        code, out, _err = push_cli(db_url, "--json")
        assert code == 0 and json.loads(out)["unnamed"] == {}
        assert [c["properties"]["name"] for c in hub.objects("companies")] == ["Acme"]


def test_a_lead_leadsyncs_own_check_keeps_back_is_not_sent_not_refused_by_hubspot(
    db_url: str,
    hub: HubSpotDouble,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    no_contact = ev(
        "record", object="lead", external_id="l-1", owner="u-1", properties={"name": "Expansion"}
    )
    with serving(hub) as base_url, Workspace(db_url) as ws:
        ws.apply_config(config(base_url=base_url))
        ws.hubspot_setup()
        run(ws, no_contact)
        lead = record_by_external(ws, "l-1")["id"]
        with caplog.at_level(logging.WARNING, logger="leadsync.push"):
            code, out, _err = push_cli(db_url)
        assert code == 2  # as for a refusal: a person has to act on it
        assert (
            "not sent: 1 (kept from HubSpot by leadsync: a lead with no contact, a value none "
            "of a dropdown's options names, an email another HubSpot contact holds: "
            "`leadsync push failures list`)"
        ) in out
        assert "refused by HubSpot" not in out
        # The push's own lines (the capture also holds other loggers', e.g. httpx's requests
        # when an earlier test left them at INFO).
        logged = [r.getMessage() for r in caplog.records if r.name.startswith("leadsync.push")]
        assert any(
            f"not sent: create lead {lead}: a lead needs a contact in HubSpot" in m for m in logged
        )
        assert not [m for m in logged if "HubSpot refused" in m]
        assert hub.objects("leads") == []

        code, out, _err = push_cli(db_url, "failures", "list", "--json")
        (row,) = json.loads(out)
        assert row["status"] is None and row["refused_by"] == "leadsync"
        assert row["category"] == "LEADSYNC_PRECONDITION"
        code, out, _err = push_cli(db_url, "failures", "list")
        # No cell says 400 (a time's milliseconds may: 04:25:10.400Z).
        assert code == 0 and not re.search(r"│\s*400\s*│", out)
        text = " ".join(out.split())
        assert "│ create │ - │ not sent: a lead needs a contact in HubSpot" in text
        assert ws.record_hubspot(lead).state == "not sent (leadsync's own check before sending)"
        assert ws.push_status()["failures_not_sent"] == 1
        assert (
            "open failures: 1 (1 not sent: leadsync's own check)" in push_cli(db_url, "status")[1]
        )
        findings = {f.check: f for f in ws.report("2026-01-01T00:00:00Z").findings}
        failures = findings["push_failures"]
        assert failures.alert and failures.summary == (
            "0 inputs refused by HubSpot, 1 not sent (leadsync's own check) "
            "(leadsync push failures list)"
        )
        assert failures.rows[0]["refused_by"] == "leadsync"


def test_the_push_pause_is_a_canonical_time_in_the_report_as_in_push_status(
    ws: Workspace, db_url: str
) -> None:
    until = float(int(time.time()) + 3600)
    with ws.engine.begin() as connection:
        budget = push_lease.lock_budget(connection, "default")
        budget.paused_until, budget.pause_reason = until, "daily"
        push_lease.write_budget(connection, budget)
    canonical = epoch_ts(until)
    assert ws.push_status()["paused_until"] == canonical
    result = CliRunner().invoke(app, ["--db", db_url, "report", "--json"])
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["push_daily_budget"]["alert"]
    assert findings["push_daily_budget"]["rows"][0]["paused_until"] == canonical
    result = CliRunner().invoke(app, ["--db", db_url, "report"])
    assert result.exit_code == 1
    assert f"paused until {canonical}" in result.stdout
    assert str(int(until)) not in result.stdout
    assert ws.dashboard().push is not None
    assert ws.dashboard().push.budgets[0].paused_until == canonical


def _migrations(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def test_an_older_not_sent_failure_stored_as_a_400_loses_the_status_on_upgrade(
    db_url: str,
) -> None:
    engine = create_db_engine(db_url)
    try:
        with engine.begin() as connection:
            command.downgrade(_migrations(connection), "0016")
        with engine.begin() as connection:
            for local_id, category in ((3, push_store.PRECONDITION), (4, "VALIDATION_ERROR")):
                connection.execute(
                    sa.text(
                        "INSERT INTO push_failures (kind, local_id, object_type, operation, "
                        "status, category, message, at) VALUES ('record', :id, 'lead', "
                        "'create', 400, :category, 'm', '2026-11-01T00:00:00.000Z')"
                    ),
                    {"id": local_id, "category": category},
                )
        assert migrate(engine) is True
        with engine.connect() as connection:
            rows = push_store.open_failures(connection)
    finally:
        engine.dispose()
    assert {r["local_id"]: (r["status"], r["refused_by"]) for r in rows} == {
        3: (None, "leadsync"),
        4: (400, "hubspot"),
    }


def test_push_exits_2_when_it_leaves_a_value_to_fix_and_0_when_it_mended_what_was_refused(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It exited 0 with an email HubSpot refused left to fix (or one another contact holds),
    and 2 with nothing open, the refused contact (deleted in HubSpot) created again."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)

    def kim(at: str, **props: str) -> dict[str, object]:
        return ev("record", at, object="contact", external_id="p-1", owner="u-1", properties=props)

    with serving(hub) as base_url, Workspace(db_url) as ws:
        ws.apply_config(config(base_url=base_url))
        ws.hubspot_setup()
        run(ws, kim("2026-11-01T09:00:00Z", email="kim@globex.test"))
        assert push_cli(db_url)[0] == 0
        run(ws, kim("2026-11-02T09:00:00Z", email="kim@globex", jobtitle="CTO"))
        code, out, _err = push_cli(db_url)
        assert code == 2 and "pushed without a value HubSpot refused: 1" in out
        run(ws, kim("2026-11-03T09:00:00Z", email="kim@globex.example"))
        assert push_cli(db_url)[0] == 0 and ws.push_failures() == []
        [contact] = hub.objects("contacts")
        hub.archive_object("contacts", contact["id"])
        run(ws, kim("2026-11-04T09:00:00Z", jobtitle="CEO"))
        code, out, _err = push_cli(db_url)
        assert code == 0, out
        assert "created again: 1 contact (HubSpot no longer had them" in out
        assert [c["properties"]["jobtitle"] for c in hub.objects("contacts")] == ["CEO"]


def test_an_activitys_update_sends_no_link_hubspot_has_already(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Each event of an activity chose its records again, and each link went to HubSpot
    again: a request per update, counted as an association made."""
    ws.hubspot_setup()
    run(ws, *company_contact_call())
    ws.push()
    made = hub.association_count()
    call = company_contact_call()[1]
    run(ws, {**call, "properties": {**call["properties"], "duration_s": 120}})
    result = ws.push()
    assert result.updated == {"call": 1} and result.associations == 0
    assert not [e for e in hub.stats()["by_endpoint"] if "associations" in e]
    assert hub.association_count() == made
    assert hub.objects("calls")[0]["properties"]["hs_call_duration"] == "120000"


def test_push_failures_retry_all_queues_every_open_one(
    ws: Workspace, hub: HubSpotDouble, db_url: str
) -> None:
    """Retrying a portal-wide refusal once fixed meant giving every id."""
    ws.hubspot_setup()
    hub.set_faults(partial_207_rate=1.0, seed=1)
    run(ws, *company_contact_call())
    ws.push()
    hub.set_faults(partial_207_rate=0.0)
    opened = len(ws.push_failures())
    assert opened >= 2
    assert push_cli(db_url, "failures", "retry")[0] == 2  # neither ids nor --all
    assert push_cli(db_url, "failures", "retry", "1", "--all")[0] == 2
    code, out, _err = push_cli(db_url, "failures", "retry", "--all")
    assert code == 0 and out == f"queued again: {opened}\n"
    assert ws.push_failures() == []
    ws.push()
    assert ws.push_failures() == [] and len(hub.objects("contacts")) == 1
