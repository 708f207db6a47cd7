"""Under ``bidirectional`` leadsync writes owner changes made elsewhere to the tool (the
outbox), and the tool reports them back. A known defect: the tool's echo of leadsync's first
write, arriving after a person's second change, was taken as the tool's own change — the
owner went back to the first, and that was sent on. Each write is now awaited until the tool
reports it (rules/echoes.py): a report of an awaited write is leadsync's own change echoed,
whichever order echoes come in; the tool's own changes are still taken.

Every test runs on SQLite and PostgreSQL, through the engine (ingest, the inbox, preview).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.store.database import begin_writing
from leadsync.workspace import Workspace
from tests.helpers import (
    contact_line,
    ev,
    record_by_external,
    reset_database,
    settings,
    snapshot,
    workspace_config,
)
from tests.test_cli import Cli
from tests.test_crm_sync import NOV_1, hubspot_batch, owner_change

T = [f"2026-11-01T{9 + n // 60:02d}:{n % 60:02d}:00Z" for n in range(120)]
ECHO = "its own change echoed back"
USERS = {
    "auto_match": "email",
    "map": {"u-9": "102"},
    "directory": [{"id": "u-1", "email": "ana@acme.test"}, {"id": "u-4", "email": "di@acme.test"}],
    "unmapped": {"policy": "leave"},
}
BIDIRECTIONAL = {"default": "bidirectional", "protect_manual_days": 0}
# The CRM side as a generic integration whose contacts' owners win (reps a: 101, d: 104).
CRM = settings(
    users={"map": {"a": "101", "d": "104"}, "unmapped": {"policy": "leave"}},
    ownership={"default": "integration_wins", "protect_manual_days": 0},
)


def _dialer(ws: Workspace, **more: dict[str, Any]) -> None:
    dialer = settings(users=USERS, ownership=BIDIRECTIONAL)
    ws.apply_config(workspace_config({"dialer": dialer, **more}))


def _tool(ws: Workspace, rep: str, at: str, ext: str = "p-1", **properties: Any) -> None:
    summary = ws.ingest("dialer", [contact_line(ext, rep, at, **properties)])
    assert summary.ok and summary.accepted == 1, summary.to_dict()


def _history(ws: Workspace, ext: str = "p-1") -> list[dict[str, Any]]:
    history: list[dict[str, Any]] = record_by_external(ws, ext)["owner_history"]
    return history


def _echo_states(ws: Workspace) -> list[tuple[str | None, str | None]]:
    return [(o["external_owner_id"], o["echo"]) for o in ws.outbox()]


def _two_changes_by_a_person(ws: Workspace) -> int:
    """The dialer's contact (rep u-9: 102), then a person gives it to 101, then to 104: two
    writes to the dialer, u-1 and u-4, both awaited."""
    _dialer(ws)
    _tool(ws, "u-9", T[0])
    kim = record_by_external(ws, "p-1")
    ws.set_owner("contact", kim["id"], "101", at=T[1])
    ws.set_owner("contact", kim["id"], "104", at=T[2])
    assert [o["external_owner_id"] for o in ws.outbox()] == ["u-1", "u-4"]
    return int(kim["id"])


def test_the_late_echo_of_the_first_write_after_a_second_change_is_no_change(
    workspace: Workspace, db_url: str
) -> None:
    _two_changes_by_a_person(workspace)
    _tool(workspace, "u-1", T[10])  # the dialer's echo of the first write, after the second
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "104"
    last = kim["owner_history"][-1]
    assert (last["outcome"], last["owner_id"], last["proposed_owner_id"]) == (
        "ignored",
        "104",
        "101",
    )
    assert last["reason"] == (
        "ignored: dialer reports rep u-1, which leadsync itself wrote to it as 101 (the CRM's "
        "change at 2026-11-01T09:01:00Z): its own change echoed back, not a change made in "
        "dialer; the owner stays 104"
    )
    # Nothing sent on, the write marked as echoed by that event, at the dialer's time.
    outbox = workspace.outbox()
    assert len(outbox) == 2
    assert [(o["external_owner_id"], o["echo"]) for o in outbox] == [
        ("u-1", "echoed"),
        ("u-4", "awaited"),
    ]
    assert outbox[0]["echo_at"] == "2026-11-01T09:10:00.000Z"
    assert outbox[0]["echo_event_id"] == last["event_id"]
    _tool(workspace, "u-4", T[11])  # the echo of the second write
    assert _history(workspace)[-1]["reason"].startswith("ignored: dialer reports rep u-4")
    assert _echo_states(workspace) == [("u-1", "echoed"), ("u-4", "echoed")]
    listed = Cli(db_url)("outbox", "list")
    assert listed.exit_code == 0, listed.output
    assert f"echoed by {last['event_id']} at 2026-11-01T09:10:00Z" in " ".join(
        listed.output.split()
    )
    # A person in the dialer then chooses u-1: a change, the most recent one.
    _tool(workspace, "u-1", T[20], title="CEO")
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "101"
    assert "bidirectional and this is the most recent change" in kim["owner_history"][-1]["reason"]


@pytest.mark.parametrize("first_at", [T[9], T[10]])
def test_echoes_in_any_order_change_nothing(workspace: Workspace, first_at: str) -> None:
    """The second write's echo arrives first; the first write's echo, made in the dialer at or
    before it (its webhooks come out of order), is still an echo."""
    _two_changes_by_a_person(workspace)
    _tool(workspace, "u-4", T[10])
    _tool(workspace, "u-1", first_at)
    history = _history(workspace)
    assert record_by_external(workspace, "p-1")["owner_id"] == "104"
    assert [h["outcome"] for h in history[-2:]] == ["ignored", "ignored"]
    assert ECHO in history[-1]["reason"] and "rep u-1" in history[-1]["reason"]
    assert _echo_states(workspace) == [("u-1", "echoed"), ("u-4", "echoed")]


def test_the_first_writes_rep_after_the_second_was_echoed_is_the_tools_change(
    workspace: Workspace,
) -> None:
    """The first write never came back (it failed in the dialer, or the sender sent only the
    latest); the dialer echoed the second; a person there then chose u-1: taken."""
    _two_changes_by_a_person(workspace)
    _tool(workspace, "u-4", T[10])
    _tool(workspace, "u-1", T[30])
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "101"
    assert kim["owner_history"][-1]["outcome"] == "set"
    assert _echo_states(workspace) == [("u-1", "passed"), ("u-4", "echoed")]


def test_an_edit_giving_the_same_rep_before_the_writes_arrive_leaves_them_awaited(
    workspace: Workspace,
) -> None:
    """A tool that sends its current owner with every edit (Salesloft, Salesforce): an edit
    made before leadsync's writes reached it gives its old rep — no change, and the writes'
    echoes that follow are still echoes."""
    _two_changes_by_a_person(workspace)
    _tool(workspace, "u-9", T[5], title="CFO")
    assert "gave the same rep as before" in _history(workspace)[-1]["reason"]
    _tool(workspace, "u-1", T[10])
    _tool(workspace, "u-4", T[11])
    assert record_by_external(workspace, "p-1")["owner_id"] == "104"
    assert [ECHO in h["reason"] for h in _history(workspace)[-2:]] == [True, True]


def test_the_tools_own_change_is_taken_and_a_write_that_overtook_it_followed(
    workspace: Workspace,
) -> None:
    """The dialer's own change (u-4, a rep leadsync never wrote there) is taken; a write made
    before it that reaches the dialer only afterwards is what the dialer then has: when it
    comes back it is taken too, so the two sides agree."""
    _dialer(workspace)
    _tool(workspace, "u-9", T[0])
    kim = record_by_external(workspace, "p-1")
    workspace.set_owner("contact", kim["id"], "101", at=T[1])  # written: u-1
    _tool(workspace, "u-4", T[5])  # a person in the dialer: 104
    assert record_by_external(workspace, "p-1")["owner_id"] == "104"
    _tool(workspace, "u-1", T[6])  # u-1 reaches the dialer after its own change
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "101" and kim["owner_history"][-1]["outcome"] == "set"
    assert _echo_states(workspace) == [("u-1", "passed")]


def test_an_undo_is_a_write_like_any_other(workspace: Workspace) -> None:
    """The CRM side gives the contact to 101, then 104 (writes u-1, u-4, echoed late);
    undoing its second event writes 101 (u-1) to the dialer again: awaited, and its echo is
    no change."""
    _dialer(workspace, crm=CRM)
    _tool(workspace, "u-9", T[0])
    for n, (owner, event_id) in enumerate((("a", "crm-1"), ("d", "crm-2"))):
        crm = ev("record", T[1 + n], object="contact", external_id="c-1", owner=owner,
                 properties={"email": "p-1@globex.test"})  # fmt: skip
        assert workspace.ingest("crm", [json.dumps({**crm, "id": event_id})]).ok
    _tool(workspace, "u-1", T[10])
    _tool(workspace, "u-4", T[11])
    assert record_by_external(workspace, "p-1")["owner_id"] == "104"
    undone = workspace.undo(event_id="crm-2", integration="crm", at=T[12])
    assert undone.restored, undone
    assert record_by_external(workspace, "p-1")["owner_id"] == "101"
    assert _echo_states(workspace) == [("u-1", "echoed"), ("u-4", "echoed"), ("u-1", "awaited")]
    # The outbox says the undo sent it (it said "(crm)", as for a person's change).
    assert workspace.outbox()[-1]["source"] == "(undo)"
    _tool(workspace, "u-1", T[13])
    assert ECHO in _history(workspace)[-1]["reason"]
    assert "(the undo at " in _history(workspace)[-1]["reason"]
    assert _echo_states(workspace)[-1] == ("u-1", "echoed")


def _pending(ws: Workspace, rows: list[tuple[str, dict[str, Any]]]) -> None:
    """Events into the inbox as pending rows, in arrival order (applied by process_inbox)."""
    with begin_writing(ws.engine) as connection:
        for integration, event in rows:
            item = InboxItem(event["id"], event["occurred_at"], json.dumps(event))
            write_items(connection, integration, [item], event["occurred_at"], "test", "pending")


def _stream() -> list[tuple[str, dict[str, Any]]]:
    """Two contacts; the CRM side (a generic integration whose contacts' owners win) gives
    each two owners, and the dialer's echoes come back late and out of order, interleaved."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for n, ext in enumerate(("p-1", "p-2")):
        email = {"email": f"{ext}@globex.test"}
        rows.append(
            ("dialer", ev("record", T[n], object="contact", external_id=ext, owner="u-9",
                          properties=email))
        )  # fmt: skip
    for n, (ext, owner) in enumerate([("p-1", "a"), ("p-2", "a"), ("p-1", "d"), ("p-2", "d")]):
        crm = {
            "object": "contact",
            "external_id": f"c-{ext}",
            "properties": {"email": f"{ext}@globex.test"},
        }
        rows.append(("crm", ev("record", T[10 + n], owner=owner, **crm)))
    # In arrival order; p-2's echoes out of order (u-1's made in the dialer before u-4's).
    late = [("p-2", "u-4", 23), ("p-1", "u-1", 20), ("p-2", "u-1", 21), ("p-1", "u-4", 22)]
    for ext, rep, minute in late:
        rows.append(
            ("dialer", ev("record", T[minute], object="contact", external_id=ext, owner=rep,
                          properties={"title": f"t{minute}"}))
        )  # fmt: skip
    rows.append(
        ("dialer", ev("record", T[40], object="contact", external_id="p-1", owner="u-1"))
    )  # the dialer's own change, after both echoes
    return rows


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_one_batch_or_many_and_several_records_decide_the_same(
    workspace: Workspace, batch_size: int
) -> None:
    """A change and its echo in one batch decide as in two (the batch's own writes are
    awaited as it makes them), per identity, for several records."""
    _dialer(workspace, crm=CRM)
    _pending(workspace, _stream())
    summary = workspace.process_inbox(batch_size=batch_size)
    assert summary.ok, summary.to_dict()
    for ext, owner in (("p-1", "101"), ("p-2", "104")):
        history = _history(workspace, ext)
        echoes = [h for h in history if ECHO in h["reason"]]
        assert [h["integration"] for h in echoes] == ["dialer", "dialer"], history
        assert record_by_external(workspace, ext)["owner_id"] == owner
    assert sorted(_echo_states(workspace)) == [("u-1", "echoed")] * 2 + [("u-4", "echoed")] * 2
    assert "most recent change" in _history(workspace, "p-1")[-1]["reason"]


def test_a_preview_says_what_the_run_does(workspace: Workspace) -> None:
    _two_changes_by_a_person(workspace)
    lines = [contact_line("p-1", "u-1", T[10]), contact_line("p-1", "u-4", T[11])]
    before = _echo_states(workspace)
    previewed = workspace.preview("dialer", lines)
    said = [(d["outcome"], d["reason"]) for e in previewed.events for d in e.owner]
    assert _echo_states(workspace) == before == [("u-1", "awaited"), ("u-4", "awaited")]
    workspace.ingest("dialer", lines)
    assert said == [(h["outcome"], h["reason"]) for h in _history(workspace)[-2:]]
    assert [ECHO in reason for _, reason in said] == [True, True]


def test_a_tool_naming_the_record_after_a_change_is_sent_none_of_it(workspace: Workspace) -> None:
    """The CRM side changes the owner of a contact the dialer does not know yet; then the
    dialer names it (by email). The change was made before: nothing of it is written to the
    dialer — in one batch as in one event per batch (where the dialer's identity does not
    exist yet when the change is written)."""
    _dialer(workspace, crm=CRM)
    email = {"email": "p-1@globex.test"}
    _pending(
        workspace,
        [
            ("crm", ev("record", T[1], object="contact", external_id="c-1", properties=email)),
            ("crm", ev("owner", T[2], object="contact", external_id="c-1", owner="a")),
            ("dialer", ev("record", T[3], object="contact", external_id="p-1", owner="u-9",
                          properties=email)),
        ],
    )  # fmt: skip
    assert workspace.process_inbox(batch_size=100).ok  # one batch
    assert record_by_external(workspace, "p-1")["owner_id"] == "102"
    assert workspace.outbox() == []


# Two tools both bidirectional for contacts: each is written the other's owner changes and
# reports them back, in any order and any cut into batches.
BOTH = {
    "dialer": settings(users=USERS, ownership=BIDIRECTIONAL),
    "crm": settings(users=CRM["users"], ownership=BIDIRECTIONAL),
}
REPS = {"dialer": ["u-1", "u-9", "u-4", "u-7"], "crm": ["a", "d", "z"]}


@st.composite
def _tool_events(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    integration = draw(st.sampled_from(["dialer", "crm"]))
    person = draw(st.sampled_from(["0", "1"]))
    event = ev(
        "record",
        T[draw(st.integers(0, 12))],
        object="contact",
        external_id=f"{integration[0]}-{person}",
        owner=draw(st.sampled_from(REPS[integration])),
        properties={"email": f"k{person}@globex.test"},
    )
    return integration, event


@settings_(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(events=st.lists(_tool_events(), min_size=2, max_size=16), batch_size=st.integers(2, 16))
def test_any_split_into_batches_equals_one_event_at_a_time(
    workspace: Workspace, events: list[tuple[str, dict[str, Any]]], batch_size: int
) -> None:
    """Owners written and echoed, and the decisions, the same whatever the batches."""
    ends = []
    for size in (1, batch_size):
        reset_database(workspace.engine)
        workspace.apply_config(workspace_config(BOTH))
        _pending(workspace, events)
        assert workspace.process_inbox(batch_size=size).ok
        ends.append(snapshot(workspace))
    assert ends[0] == ends[1]


def test_the_crms_late_echo_of_an_outbox_write_is_no_change(workspace: Workspace) -> None:
    """HubSpot as a ``bidirectional`` integration is written the dialer's changes through the
    outbox (owner ids), by a sender that is not leadsync's app: its webhook reports them
    back, the first after the second change — no change either."""
    hubspot = {
        "kind": "hubspot",
        "secret_env": "HS_SECRET",
        "vendor": {"app_id": "777"},
        "ownership": BIDIRECTIONAL,
    }
    _dialer(workspace, crm=hubspot)
    _tool(workspace, "u-9", T[0])
    email = {**owner_change(501, "", NOV_1, 1), "propertyName": "email"}
    email["propertyValue"] = "p-1@globex.test"
    assert workspace.ingest("crm", [hubspot_batch(email)]).ok
    _tool(workspace, "u-1", T[30])  # the dialer's changes: 101, then 104
    _tool(workspace, "u-4", T[31])
    assert [(o["integration"], o["external_owner_id"]) for o in workspace.outbox()] == [
        ("crm", "101"),
        ("crm", "104"),
    ]
    sender = owner_change(501, "101", NOV_1 + 40 * 60_000, 2, "INTEGRATION", "999")
    assert workspace.ingest("crm", [hubspot_batch(sender)]).ok
    kim = record_by_external(workspace, "p-1")
    assert kim["owner_id"] == "104"
    last = kim["owner_history"][-1]
    assert (last["integration"], last["outcome"]) == ("crm", "ignored")
    assert last["reason"].startswith(
        "ignored: crm reports owner 101, which leadsync itself wrote to it as 101 (dialer's "
        "change at 2026-11-01T09:30:00Z): its own change echoed back"
    )
    assert _echo_states(workspace) == [("101", "echoed"), ("104", "awaited")]


def test_a_cleared_owner_in_the_outbox_list_is_none_not_unknown(db_url: str) -> None:
    """A person clears the owner: the bidirectional tool is to clear it too. ``outbox list``
    showed "?" for it, as for an owner none of the tool's users is (found by a probe); "?"
    stays for that."""
    with Workspace(db_url) as workspace:
        _dialer(workspace)
        _tool(workspace, "u-9", T[0])
        kim = record_by_external(workspace, "p-1")
        workspace.set_owner("contact", kim["id"], None, at=T[5])
        rows = workspace.outbox()
    assert [(r["owner_id"], r["external_owner_id"]) for r in rows][-1] == (None, None)
    listed = Cli(db_url)("outbox", "list")
    assert listed.exit_code == 0, listed.output
    cleared = [line for line in listed.stdout.splitlines() if "contact" in line][-1]
    assert "│ none " in cleared and "│ ? " not in cleared, cleared
