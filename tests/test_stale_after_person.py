"""An integration's event that arrives after a newer one of its own is stale, also when a
person changed the owner between them: the integration's own last word is what it is
compared with (README, check 2), not only the owner's last source. Before, a person's change
made the late event count as new, and under ``integration_wins`` it undid both the person's
choice and the integration's newer word."""

from __future__ import annotations

from leadsync.workspace import Workspace
from tests.helpers import ev, run, settings, workspace_config


def owner_event(at: str, rep: str) -> dict[str, object]:
    return ev("owner", at, object="contact", external_id="p-1", owner=rep)


def test_a_late_event_older_than_the_tools_own_last_word_is_stale_after_a_persons_change(
    workspace: Workspace,
) -> None:
    users = {"map": {"a1": "101", "a2": "102"}, "unmapped": {"policy": "leave"}}
    ownership = {"default": "integration_wins", "protect_manual_days": 0}
    workspace.apply_config(workspace_config({"dialer": settings(users=users, ownership=ownership)}))
    first = ev(
        "record",
        "2026-11-01T09:00:00Z",
        object="contact",
        external_id="p-1",
        owner="a1",
        properties={"email": "kim@globex.test"},
    )
    run(workspace, first, owner_event("2026-11-01T09:10:00Z", "a2"))
    [contact] = workspace.find(email="kim@globex.test")
    workspace.set_owner("contact", contact["id"], "104", at="2026-11-01T09:20:00Z")
    run(workspace, owner_event("2026-11-01T09:05:00Z", "a1"))  # arrives last
    record = workspace.record("contact", contact["id"])
    assert record["owner_id"] == "104"
    last = record["owner_history"][-1]
    assert last["outcome"] == "ignored"
    assert "stale: the event happened at" in last["reason"]
    assert "before the owner dialer gave at 2026-11-01T09:10:00Z" in last["reason"], last["reason"]
