"""A held call attaches when a contact gets its number — with what the association rules
add for that contact (its primary company, its open deal) as the event that gave the number
leaves it: an event that gives the number and names the contact's company (or moves it to
another) attaches the call to that company, not to none or the one it replaced."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from leadsync.store.schema import activity_associations
from leadsync.workspace import Workspace
from tests.helpers import ev, run, workspace_config
from tests.helpers import settings as integration_settings

AT = "2026-12-05T10:00:00Z"


def _setup(ws: Workspace) -> None:
    ws.apply_config(workspace_config({"dialer": integration_settings(region="GB")}))


def _company(ext: str, domain: str) -> dict[str, Any]:
    return ev("record", AT, object="company", external_id=ext, properties={"domain": domain})


def _deal(ext: str, company: str) -> dict[str, Any]:
    return ev(
        "record",
        AT,
        object="deal",
        external_id=ext,
        properties={"name": ext, "is_closed": False},
        associations=[{"object": "company", "external_id": company}],
    )


def _held_call(ext: str, number: str) -> dict[str, Any]:
    return ev(
        "activity",
        AT,
        activity="call",
        external_id=ext,
        owner="u-1",
        properties={"direction": "inbound", "duration_s": 95, "from_number": number},
    )


def _contact(ext: str, company: str, at: str, **properties: Any) -> dict[str, Any]:
    return ev(
        "record",
        at,
        object="contact",
        external_id=ext,
        properties={"email": f"{ext}@globex.test", **properties},
        associations=[{"object": "company", "external_id": company}],
    )


def _linked(ws: Workspace, activity_id: int) -> dict[str, str]:
    """The call's associations: record type -> source."""
    with ws.engine.connect() as c:
        rows = c.execute(
            sa.select(
                activity_associations.c.record_id,
                activity_associations.c.record_type,
                activity_associations.c.source,
            ).where(activity_associations.c.activity_id == activity_id)
        ).all()
    return {f"{t} {r}": s for r, t, s in rows}


def _id(ws: Workspace, ext: str) -> int:
    [found] = ws.find(external=f"dialer:{ext}")
    return int(found["id"])


def test_a_held_call_takes_the_company_the_same_event_gives_its_contact(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _company("a-1", "globex.test"), _deal("d-1", "a-1"))
    run(workspace, _held_call("c-3", "07700 900888"))
    run(workspace, _contact("p-2", "a-1", "2026-12-06T09:00:00Z", mobilephone="07700 900888"))
    contact, company, deal = _id(workspace, "p-2"), _id(workspace, "a-1"), _id(workspace, "d-1")
    [call] = workspace.activities()
    assert _linked(workspace, int(call["id"])) == {
        f"contact {contact}": "held",
        f"company {company}": "auto",
        f"deal {deal}": "auto",
    }


def test_a_held_call_takes_the_company_its_contact_moves_to_in_that_event(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _company("a-1", "globex.test"), _company("a-2", "initech.test"))
    run(workspace, _contact("p-3", "a-2", AT))  # at a-2 first
    run(workspace, _held_call("c-4", "07700 900555"))
    # A later event gives p-3 the number and moves it to a-1 (primary now).
    run(workspace, _contact("p-3", "a-1", "2026-12-06T09:00:00Z", mobilephone="07700 900555"))
    contact, new, old = _id(workspace, "p-3"), _id(workspace, "a-1"), _id(workspace, "a-2")
    [call] = workspace.activities()
    linked = _linked(workspace, int(call["id"]))
    assert linked == {f"contact {contact}": "held", f"company {new}": "auto"}, (
        old,
        linked,
    )


def test_a_preview_of_the_move_says_both_the_move_and_the_call_it_attaches(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _company("a-1", "globex.test"), _company("a-2", "initech.test"))
    run(workspace, _contact("p-3", "a-2", AT))
    run(workspace, _held_call("c-4", "07700 900555"))
    moved = _contact("p-3", "a-1", "2026-12-06T09:00:00Z", mobilephone="07700 900555")
    [entry] = workspace.preview("dialer", [json.dumps(moved)]).events
    said = str(entry.counterpart)
    assert "primary company now (this event names it first)" in said, said
    assert "held for +447700900555: attached 23 hours later when contact" in said, said
    assert workspace.activities()[0]["id"] and _linked(workspace, 1) == {}  # nothing written
