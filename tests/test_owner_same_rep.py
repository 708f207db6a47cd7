"""Under ``bidirectional`` the most recent owner change from any side wins. Salesloft's
``person_updated``, Salesforce's Outbound Messages and a change event that carries every field
send the record's current owner with every edit, so an edit of something else gives the same
rep again: that is no owner change, and it must not undo a person's change made since. A QA
pass with the vendors' payload shapes found it did (the owner went back to the tool's, the
outbox had queued the person's owner for the tool, and the two sides could flap).

The engine keeps, per identity (the record as the integration names it), the rep that
integration last gave and when (``record_identities.owner_rep``/``owner_rep_at``)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from leadsync.sources.salesforce import id18
from leadsync.workspace import Workspace
from tests.helpers import contact_line, ev, record_by_external, run, settings, workspace_config

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
T1, T2, T3, T4 = (f"2026-11-0{d}T09:00:00.000Z" for d in (1, 2, 3, 4))
SAME_REP = "gave the same rep as before"


def _salesloft(ws: Workspace, owner: int, at: str, **fields: Any) -> None:
    """A ``person_updated`` of person 1701 as Salesloft sends it: the whole person, with its
    current owner."""
    body = json.loads((FIXTURES / "salesloft" / "person_updated.json").read_text())
    body["body"].update(owner={"id": owner, "_href": f"https://api.salesloft.com/v2/users/{owner}"})
    body["body"].update(updated_at=at, email_address="kim@globex.test", **fields)
    summary = ws.ingest("engage", [json.dumps(body)])
    assert summary.ok and summary.accepted == 1, summary.to_dict()


def _engage(ws: Workspace, strategy: str = "bidirectional", **users: Any) -> None:
    mapped = {"map": {"7": "101", "8": "102", "9": "104"}, "unmapped": {"policy": "leave"}}
    integration = {"kind": "salesloft", "users": {**mapped, **users}}
    ws.apply_config(
        workspace_config({"engage": {**integration, "ownership": {"default": strategy}}})
    )


def _last(record: dict[str, Any]) -> dict[str, Any]:
    last: dict[str, Any] = record["owner_history"][-1]
    return last


def test_a_salesloft_edit_that_leaves_the_owner_keeps_a_persons_change(
    workspace: Workspace,
) -> None:
    _engage(workspace)
    _salesloft(workspace, 8, T1, title="CFO")
    kim = record_by_external(workspace, "1701", "engage")
    assert kim["owner_id"] == "102"
    workspace.set_owner("contact", kim["id"], "101", at=T2)  # a person's change
    outbox = workspace.outbox()
    assert [(o["integration"], o["owner_id"], o["external_owner_id"]) for o in outbox] == [
        ("engage", "101", "7")
    ]
    # Salesloft: only the title changed; the owner is rep 8, as before.
    _salesloft(workspace, 8, T3, title="CEO")
    kim = record_by_external(workspace, "1701", "engage")
    assert kim["owner_id"] == "101"
    assert kim["properties"]["title"] == "CEO"  # the event's other fields still apply
    last = _last(kim)
    assert (last["outcome"], last["owner_id"], last["proposed_owner_id"]) == (
        "ignored",
        "101",
        "102",
    )
    assert f"engage {SAME_REP} (rep 8): not an owner change" in last["reason"], last["reason"]
    assert "the owner stays 101" in last["reason"]
    assert workspace.outbox() == outbox  # nothing more queued: no flapping
    # Salesloft gives the person to rep 9: a change, the most recent one.
    _salesloft(workspace, 9, T4, title="CEO")
    kim = record_by_external(workspace, "1701", "engage")
    assert kim["owner_id"] == "104"
    assert "bidirectional and this is the most recent change (was 101)" in _last(kim)["reason"]


def _outbound(at: str, notification: str, status: str) -> str:
    xml = (FIXTURES / "salesforce" / "om_lead.xml").read_text()
    xml = xml.replace("2026-11-01T09:00:00.000+0000", at.replace("Z", "+0000"))
    xml = xml.replace("04l5g0000001AaAAAU", notification)
    return json.dumps({"body": xml.replace("Open - Not Contacted", status)})


def _change_event(at: str, notification: str, status: str) -> str:
    """The Lead's change event as a relay sends it when it gives every field and no
    ``changedFields`` (every field present counts, OwnerId unchanged among them)."""
    body = json.loads((FIXTURES / "salesforce" / "cdc_create_lead.json").read_text())
    header = body["body"]["ChangeEventHeader"]
    header.update(changeType="UPDATE", commitTimestamp=_millis(at), transactionKey=notification)
    body["body"].update(Status=status, LastModifiedDate=at)
    return json.dumps(body)


def _millis(at: str) -> int:
    return int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize("channel", ["outbound", "cdc"])
def test_a_salesforce_message_where_only_status_changed_keeps_a_persons_change(
    workspace: Workspace, channel: str
) -> None:
    rep = id18("0055g00000XyZaB")
    assert rep is not None
    salesforce = {
        "kind": "salesforce",
        "vendor": {"organization_id": "00D5g000004Xyz1EAC"},
        "users": {"map": {rep: "102"}, "unmapped": {"policy": "leave"}},
        "ownership": {"default": "bidirectional"},
    }
    workspace.apply_config(workspace_config({"sf": salesforce}))
    message = _outbound if channel == "outbound" else _change_event
    assert workspace.ingest("sf", [message(T1, "04l5g0000001AaAAAU", "Open")]).accepted == 1
    lead = record_by_external(workspace, "00Q5g00000AbCdEEAV", "sf")
    assert lead["owner_id"] == "102"
    workspace.set_owner("contact", lead["id"], "101", at=T2)
    summary = workspace.ingest("sf", [message(T3, "04l5g0000001AaBBBU", "Working")])
    assert summary.ok and summary.accepted == 1, summary.to_dict()
    lead = record_by_external(workspace, "00Q5g00000AbCdEEAV", "sf")
    assert lead["owner_id"] == "101"
    assert f"sf {SAME_REP} (rep {rep})" in _last(lead)["reason"]


def test_integration_wins_still_takes_the_tools_owner_back(workspace: Workspace) -> None:
    """Only bidirectional reads "the most recent change": under integration_wins the tool's
    owner replaces the CRM's on every event, a person's change included (protect_manual_days
    is what keeps one)."""
    _engage(workspace, "integration_wins")
    _salesloft(workspace, 8, T1)
    kim = record_by_external(workspace, "1701", "engage")
    workspace.set_owner("contact", kim["id"], "101", at=T2)
    _salesloft(workspace, 8, T3, title="CEO")
    kim = record_by_external(workspace, "1701", "engage")
    assert kim["owner_id"] == "102"
    assert _last(kim)["reason"].startswith("set 102: integration_wins replaces 101")


def test_the_same_rep_mapped_to_another_owner_since_is_no_change(workspace: Workspace) -> None:
    """A users.map change is no owner change: the records keep their owners; a rep the tool
    gives anew takes the new mapping."""
    _engage(workspace)
    _salesloft(workspace, 8, T1)
    _engage(workspace, map={"7": "101", "8": "104", "9": "104"})
    _salesloft(workspace, 8, T2, title="CEO")
    kim = record_by_external(workspace, "1701", "engage")
    assert kim["owner_id"] == "102"
    assert SAME_REP in _last(kim)["reason"] and "rep 8 maps to 104" in _last(kim)["reason"]
    _salesloft(workspace, 7, T3)
    _salesloft(workspace, 8, T4)  # now a change again: rep 7 came between
    assert record_by_external(workspace, "1701", "engage")["owner_id"] == "104"


def test_a_record_with_no_owner_takes_the_rep_mapped_since(workspace: Workspace) -> None:
    """A rep that mapped to nobody left the record without an owner (flagged); once the
    settings map it, the tool's next edit gives the record that owner: an empty owner is
    filled by the rep the tool still gives."""
    _engage(workspace, map={"7": "101"})
    _salesloft(workspace, 8, T1)
    kim = record_by_external(workspace, "1701", "engage")
    assert kim["owner_id"] is None and _last(kim)["flagged"]
    _salesloft(workspace, 8, T2)  # still unmapped: flagged again
    assert _last(record_by_external(workspace, "1701", "engage"))["flagged"]
    _engage(workspace)
    _salesloft(workspace, 8, T3, title="CEO")
    kim = record_by_external(workspace, "1701", "engage")
    assert kim["owner_id"] == "102" and _last(kim)["outcome"] == "set"


def _dialer(ws: Workspace) -> None:
    ownership = {"default": "bidirectional", "protect_manual_days": 0}
    ws.apply_config(workspace_config({"dialer": settings(ownership=ownership)}))


def test_an_older_event_of_another_rep_after_the_same_rep_again_is_stale(
    workspace: Workspace,
) -> None:
    """The tool's newer word (rep u-1 again at T4) stands over an older one arriving late
    (u-9 at T3): its rep is not the tool's current one."""
    _dialer(workspace)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", T1)])
    kim = record_by_external(workspace, "p-1")
    workspace.set_owner("contact", kim["id"], "104", at=T2)
    workspace.ingest("dialer", [contact_line("p-1", "u-1", T4, title="CEO")])
    workspace.ingest("dialer", [contact_line("p-1", "u-9", T3)])
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "104"
    reason = _last(kim)["reason"]
    assert reason.startswith("ignored: stale: dialer gave rep u-1 at "), reason
    assert "(it arrived out of order)" in reason


@pytest.mark.parametrize("batch_size", [1, 100])
def test_each_identity_of_a_record_keeps_its_own_rep_in_one_batch_or_many(
    workspace: Workspace, batch_size: int
) -> None:
    """One tool naming one person twice (a Salesforce Lead and a Contact with one email):
    each names its own owner, and an edit of one gives its rep again, no change of the other's
    — in one batch as in one event per batch."""
    _dialer(workspace)
    email = {"email": "kim@globex.test"}
    events = [
        ev("record", T1, object="contact", external_id="lead-1", owner="u-1", properties=email),
        ev("record", T2, object="contact", external_id="contact-1", owner="u-9", properties=email),
        ev("record", T3, object="contact", external_id="lead-1", owner="u-1",
           properties={**email, "title": "CEO"}),
    ]  # fmt: skip
    assert run(workspace, *events, batch_size=batch_size).accepted == 3
    kim = record_by_external(workspace, "lead-1")
    assert kim["id"] == record_by_external(workspace, "contact-1")["id"]
    assert kim["owner_id"] == "102"
    assert [h["outcome"] for h in kim["owner_history"]] == ["set", "set", "ignored"]
