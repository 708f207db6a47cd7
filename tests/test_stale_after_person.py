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


def _dialer(
    workspace: Workspace, users: dict[str, object], ownership: dict[str, object]
) -> Workspace:
    workspace.apply_config(workspace_config({"dialer": settings(users=users, ownership=ownership)}))
    return workspace


def first_event() -> dict[str, object]:
    """The dialer's contact p-1, Kim, given to rep a1 at 09:00."""
    return ev("record", "2026-11-01T09:00:00Z", object="contact", external_id="p-1",
              owner="a1", properties={"email": "kim@globex.test"})  # fmt: skip


def test_a_late_event_older_than_the_tools_own_last_word_is_stale_after_a_persons_change(
    workspace: Workspace,
) -> None:
    users = {"map": {"a1": "101", "a2": "102"}, "unmapped": {"policy": "leave"}}
    ownership = {"default": "integration_wins", "protect_manual_days": 0}
    run(
        _dialer(workspace, users, ownership),
        first_event(),
        owner_event("2026-11-01T09:10:00Z", "a2"),
    )
    [contact] = workspace.find(email="kim@globex.test")
    workspace.set_owner("contact", contact["id"], "104", at="2026-11-01T09:20:00Z")
    run(workspace, owner_event("2026-11-01T09:05:00Z", "a1"))  # arrives last
    record = workspace.record("contact", contact["id"])
    assert record["owner_id"] == "104"
    last = record["owner_history"][-1]
    assert last["outcome"] == "ignored"
    assert "stale: the event happened at" in last["reason"]
    assert (
        "before dialer's own later word, rep a2 at 2026-11-01T09:10:00Z (it arrived out of "
        "order); the owner stays 104" in last["reason"]
    ), last["reason"]


def test_a_late_event_older_than_a_word_the_strategy_kept_out_says_that_word(
    workspace: Workspace,
) -> None:
    """Under fill_if_empty the tool's later rep was kept out (the record had an owner); a
    person emptied the record; the tool's older event arrives last. It is stale against the
    tool's own later word — which the reason names as that, not as an owner the tool gave
    (it said "before the owner dialer gave at 10:00", an owner the record never had)."""
    users = {"map": {"a1": "101", "a2": "102", "a3": "103"}, "unmapped": {"policy": "leave"}}
    ownership = {"default": "fill_if_empty", "protect_manual_days": 0}
    run(
        _dialer(workspace, users, ownership),
        first_event(),
        owner_event("2026-11-01T10:00:00Z", "a2"),
    )
    [contact] = workspace.find(email="kim@globex.test")
    kept = workspace.record("contact", contact["id"])["owner_history"][-1]
    assert (kept["outcome"], kept["owner_id"]) == ("kept", "101")
    workspace.set_owner("contact", contact["id"], None, at="2026-11-01T10:05:00Z")
    run(workspace, owner_event("2026-11-01T09:50:00Z", "a3"))  # arrives last
    last = workspace.record("contact", contact["id"])["owner_history"][-1]
    assert last["outcome"] == "ignored"
    assert last["reason"] == (
        "ignored: stale: the event happened at 2026-11-01T09:50:00Z, before dialer's own later "
        "word, rep a2 at 2026-11-01T10:00:00Z (it arrived out of order); it stays without an "
        "owner"
    )
