"""A push's owner decision against the CRM records what happened to leadsync's record: when
the CRM's owner stays and differs from leadsync's, the record's owner changes to it, so the
decision is ``set`` (it read ``kept``: ``decisions list --outcome set`` missed a change); when
leadsync's owner goes to the CRM, leadsync's record keeps it."""

from __future__ import annotations

import sqlalchemy as sa

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.store.schema import records
from leadsync.workspace import Workspace
from tests.helpers import run
from tests.test_hubspot_push import (  # noqa: F401
    company_contact_call,
    config,
    dialers_later_change,
    only,
    ws,
)

__all__ = ["ws"]


def last_decision(workspace: Workspace) -> dict[str, object]:
    record = workspace.record("contact", workspace.find(email="kim@globex.test")[0]["id"])
    history: list[dict[str, object]] = record["owner_history"]
    return history[-1]


def test_the_crms_owner_kept_is_a_change_of_leadsyncs_record(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    contact = only(hub, "contacts")
    hub.set_owner("contacts", contact["id"], "104")  # a person, in HubSpot
    run(
        ws, dialers_later_change()
    )  # the dialer's 102, older than the person's change seen at the push
    ws.push()
    decision = last_decision(ws)
    assert decision["owner_id"] == "104"
    assert (decision["outcome"], decision["previous_owner_id"]) == ("set", "102")
    assert str(decision["reason"]).endswith("so leadsync's owner becomes 104 (was 102)")
    assert ws.decisions(outcome="set")[0]["owner_id"] == "104"


def test_leadsyncs_owner_written_over_the_crms_keeps_leadsyncs_record(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    ws.apply_config(config(ownership={"default": "integration_wins", "protect_manual_days": 0}))
    run(ws, *company_contact_call())
    ws.push()
    hub.set_owner("contacts", only(hub, "contacts")["id"], "104")
    run(ws, dialers_later_change())
    ws.push()
    assert only(hub, "contacts")["properties"]["hubspot_owner_id"] == "102"
    decision = last_decision(ws)
    assert decision["owner_id"] == "102"
    assert "leadsync's owner becomes" not in str(decision["reason"])


def test_the_crms_owner_kept_ends_a_persons_earlier_protection(
    ws: Workspace,  # noqa: F811
    hub: HubSpotDouble,
) -> None:
    """HubSpot's owner taken at the push is nobody's known choice: the protection of what a
    person chose earlier (``manual_owner_at``) ends with it, else that person's window would
    guard an owner they never chose."""
    ws.apply_config(config(ownership={"default": "bidirectional"}))
    run(ws, *company_contact_call())
    ws.push()
    hub.set_owner("contacts", only(hub, "contacts")["id"], "104")
    run(ws, dialers_later_change())
    record_id = ws.find(email="kim@globex.test")[0]["id"]
    with ws.engine.begin() as connection:  # an earlier choice by a person, as stored
        connection.execute(
            sa.update(records)
            .where(records.c.id == record_id)
            .values(manual_owner_at="2026-11-01T10:30:00.000Z")
        )
    ws.push()
    assert last_decision(ws)["owner_id"] == "104"
    with ws.engine.connect() as connection:
        row = connection.execute(
            sa.select(records.c.owner_id, records.c.manual_owner_at).where(
                records.c.id == record_id
            )
        ).one()
    assert (row.owner_id, row.manual_owner_at) == ("104", None)
