"""``owner_unchanged``: an edit of something else that names the record's owner as the source
has it (Pipedrive's change events). A record first seen through such an edit — one made
before the webhook was connected — takes that owner; a record that exists is not decided
again (re-asserting the owner would undo a change made elsewhere since). A QA pass found a
Pipedrive deal first seen through an edit created with no owner, though its payload named
one."""

from __future__ import annotations

import pytest

from leadsync.errors import EventError
from leadsync.sources.canonical import parse_event
from leadsync.workspace import Workspace
from tests.helpers import ev, owner_of, run, settings, workspace_config


def _edit(owner: str, at: str, **fields: object) -> dict[str, object]:
    return ev(
        "record",
        at,
        object="contact",
        external_id="p-1",
        owner=owner,
        owner_unchanged=True,
        properties={"email": "p-1@globex.test", **fields},
    )


@pytest.mark.parametrize("strategy", ["fill_if_empty", "integration_wins", "bidirectional"])
def test_a_record_first_seen_through_an_edit_takes_the_owner_and_an_existing_one_keeps_its_own(
    workspace: Workspace, strategy: str
) -> None:
    workspace.apply_config(workspace_config({"dialer": settings(ownership={"default": strategy})}))
    run(workspace, _edit("u-1", "2026-11-01T09:00:00Z", title="CFO"))
    assert owner_of(workspace, "p-1") == "101"
    # A person changed the owner in the CRM after that.
    record = workspace.find(external="dialer:p-1")[0]["id"]
    workspace.set_owner("contact", record, "104", at="2026-11-02T09:00:00.000Z")
    assert owner_of(workspace, "p-1") == "104"
    decisions = len(workspace.decisions())
    # A later edit of the title names the source's owner, unchanged: nothing is decided.
    run(workspace, _edit("u-1", "2026-11-03T09:00:00Z", title="CEO"))
    assert owner_of(workspace, "p-1") == "104"
    assert len(workspace.decisions()) == decisions


def test_owner_unchanged_is_for_record_events_and_a_boolean() -> None:
    with pytest.raises(EventError, match="owner_unchanged.*only on record events"):
        parse_event(
            {
                "id": "o1",
                "occurred_at": "2026-11-01T09:00:00Z",
                "type": "owner",
                "object": "contact",
                "external_id": "p-1",
                "owner": "u-1",
                "owner_unchanged": True,
            },
            "dialer",
        )
    with pytest.raises(EventError, match="owner_unchanged.*expected true or false"):
        parse_event({**_edit("u-1", "2026-11-01T09:00:00Z"), "owner_unchanged": "yes"}, "dialer")
    no_owner = {k: v for k, v in _edit("u-1", "2026-11-01T09:00:00Z").items() if k != "owner"}
    with pytest.raises(EventError, match="owner_unchanged.*needs an owner"):
        parse_event(no_owner, "dialer")
