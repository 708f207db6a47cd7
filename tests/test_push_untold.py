"""What HubSpot does not do is never dropped in silence: a link it refuses, or an input its
answer names neither among the done nor among the refused, is a push failure of the object
(and its retry sends it again, without duplicates); under bidirectional, a change made in
HubSpot is dated when HubSpot says it was made, not when the push saw it (a QA pass found
all three: the first two left `push` exiting 0 with nothing queued and nothing failed)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN, ev, run
from tests.test_hubspot_push import (  # noqa: F401
    company_contact_call,
    config,
    dialers_later_change,
    linked_ids,
    only,
    ws,
)

__all__ = ["ws"]


def _contact(ext: str, email: str, title: str = "", **extra: Any) -> dict[str, Any]:
    properties = {"email": email, **({"jobtitle": title} if title else {})}
    return ev("record", object="contact", external_id=ext, properties=properties, **extra)


def test_a_link_hubspot_refuses_is_a_failure_of_the_object_and_its_retry_sends_it_again(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    run(ws, *company_contact_call(), _contact("p-2", "lee@globex.test"))
    assert ws.push().failures == 0
    company = only(hub, "companies")["id"]
    hub.set_faults(link_refusal_rate=1.0)
    # Lee is now at Globex: a link HubSpot refuses.
    run(
        ws,
        _contact(
            "p-2", "lee@globex.test", associations=[{"object": "company", "domain": "globex.test"}]
        ),
    )
    result = ws.push()
    assert (result.failures, result.associations) == (1, 0)
    [failure] = ws.push_failures()
    assert failure["operation"] == "associate" and failure["object_type"] == "contact"
    assert f"→ company {company} (HubSpot ids)" in failure["message"]
    assert ws.push_status()["failures"] == 1
    # Retried: the link is sent again (HubSpot still refuses it: a failure again, not lost).
    sent = hub.stats()["requests"]
    ws.resolve_push_failures([failure["id"]], "retry")
    again = ws.push()
    assert hub.stats()["requests"] > sent and again.failures == 1
    assert [f["operation"] for f in ws.push_failures()] == ["associate"]


def test_a_later_change_of_an_object_whose_link_was_refused_sends_the_link_again(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    """Saving the object closes its open failure: the link goes with it, else the failure
    closed as "pushed" with the link still missing and nobody told."""
    run(ws, *company_contact_call(), _contact("p-2", "lee@globex.test"))
    ws.push()
    hub.set_faults(link_refusal_rate=1.0)
    linked = _contact(
        "p-2", "lee@globex.test", associations=[{"object": "company", "domain": "globex.test"}]
    )
    run(ws, linked)
    assert ws.push().failures == 1
    run(ws, _contact("p-2", "lee@globex.test", title="CFO"))  # an unrelated edit
    again = ws.push()
    assert again.failures == 1  # the link was sent again, and refused again
    assert [f["operation"] for f in ws.push_failures()] == ["associate"]


def test_a_dry_run_reports_no_failure_for_what_it_did_not_send(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    run(ws, *company_contact_call())
    queued, shown = ws.push_dry_run()
    assert shown and ws.push_failures() == []
    result = ws.pusher(dry_run=True).run_once()
    assert result.failures == 0


class _Untold(httpx.BaseTransport):
    """HubSpot's answer to the first create of calls leaves one input out of its results and
    gives an error whose context names no input (the call is created all the same)."""

    def __init__(self, inner: httpx.BaseTransport, errors: list[dict[str, Any]]) -> None:
        self.inner = inner
        self.errors = errors
        self.done = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.done or not request.url.path.endswith("/calls/batch/create"):
            return response
        self.done = True
        body = json.loads(response.read())
        body["results"] = body["results"][1:]
        body["errors"] = self.errors
        body["status"] = "COMPLETE"
        return httpx.Response(207, json=body, headers={"content-type": "application/json"})


UNTRACED = {"status": "error", "category": "VALIDATION_ERROR", "message": "Bad", "context": {}}


@pytest.mark.parametrize(
    ("errors", "said"),
    [([], "names this input neither among the done nor among the refused"), ([UNTRACED], "Bad")],
    ids=["no-error", "one-untraced-error"],
)
def test_an_input_hubspots_answer_does_not_account_for_is_a_failure_and_its_retry_makes_no_twin(
    db_url: str, hub: HubSpotDouble, monkeypatch: Any, errors: list[dict[str, Any]], said: str
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", HUBSPOT_TOKEN)
    with Workspace(db_url, hubspot_transport=_Untold(hub.transport(), errors)) as workspace:
        workspace.apply_config(config())
        workspace.hubspot_setup()
        calls = [
            ev(
                "activity",
                f"2026-11-01T10:0{i}:00Z",
                activity="call",
                external_id=f"c-{i}",
                owner="u-1",
                properties={"duration_s": 95, "outcome": "connected", "direction": "outbound"},
                associations=[{"object": "contact", "external_id": "p-1"}],
            )
            for i in range(3)
        ]
        run(workspace, company_contact_call()[0], *calls)
        result = workspace.push()
        assert result.failures == 1 and result.created.get("call") == 2
        [failure] = workspace.push_failures()
        assert failure["operation"] == "create" and said in failure["message"]
        workspace.resolve_push_failures([failure["id"]], "retry")
        assert workspace.push().failures == 0
    assert len(hub.objects("calls")) == 3
    assert hub.duplicates("calls", "leadsync_id") == {}
    assert workspace_failures_open(db_url) == 0


def workspace_failures_open(db_url: str) -> int:
    with Workspace(db_url) as workspace:
        return int(workspace.push_status()["failures"])


def test_under_bidirectional_a_newer_change_beats_an_older_one_made_in_hubspot(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    """A contact leadsync created, reassigned in HubSpot at 10:30 (HubSpot's own date), and
    the dialer's change at 11:00 pushed after: the newer change wins — it lost to the push's
    own clock."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")["id"]
    hub._wall_clock = lambda: 1_793_529_000.0  # noqa: SLF001 - 2026-11-01T10:30:00Z
    hub.set_owner("contacts", contact, "104")
    run(ws, dialers_later_change())  # 102 at 11:00
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    [record] = ws.find(email="kim@globex.test")
    assert record["owner_id"] == "102"
