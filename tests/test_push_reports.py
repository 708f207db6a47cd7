"""What the push says about itself: the error answers ``push status`` counts, the associations
its summary counts, and ``push failures list`` without a destination."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble, serving
from leadsync.destinations.hubspot.objects import Paths
from leadsync.model import now_ts
from leadsync.store import push as push_store
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import ev, run
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
    for args in (("failures", "list"), ("failures", "list", "--json")):
        assert push_cli(db_url, *args) == (2, "", status[2])


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
