"""The push clears in HubSpot an activity's property whose value leadsync no longer holds —
only where leadsync itself gave HubSpot a value for it, by the records' rules and path
(``cycle.clears``; tests/test_push_clears.py for records).

An integration clears a call's notes (a canonical ``null`` or ``""`` body), a meeting's end
time, a task's body or priority: the activity's update sends the HubSpot property as ``""``
(HubSpot's documented way to clear a property) when leadsync's own confirmed write left a
value there and did not clear it since. A property leadsync never sent a value is never
blanked; a clear is sent once; an unconfirmed write (the pusher killed before recording
HubSpot's answer) is settled by reading HubSpot first; a dry run shows the clear. Fields that
are never cleared (``hs_timestamp``, a call's direction, a task's status and type, an email's
direction and status, a meeting's start) stay as they are. Through the stand-in (every request
checked against openapi.yaml), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import ev, run
from tests.test_hubspot_push import only
from tests.test_push_clears import kim, open_workspace, push_killed, updates


@pytest.fixture
def ws(db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    workspace = open_workspace(db_url, hub)
    yield workspace
    workspace.close()


def call(at: str = "2026-11-01T10:00:00Z", **props: Any) -> dict[str, Any]:
    """An event of the call ``c-1`` on Kim (``p-1``); its properties as given."""
    return ev(
        "activity",
        at,
        activity="call",
        external_id="c-1",
        owner="u-1",
        properties=props,
        associations=[{"object": "contact", "external_id": "p-1"}],
    )


def hubspot_call(hub: HubSpotDouble) -> tuple[str, dict[str, Any]]:
    """The one call HubSpot has: its id and its properties."""
    found = only(hub, "calls")
    return str(found["id"]), found["properties"]


def pushed(ws: Workspace) -> None:
    assert ws.push().failures == 0


def first_call(ws: Workspace, hub: HubSpotDouble, **props: Any) -> str:
    """Kim and her outbound call, pushed; the call's HubSpot id."""
    run(ws, kim(firstname="Kim"), call(direction="outbound", duration_s=95, **props))
    pushed(ws)
    return hubspot_call(hub)[0]


@pytest.mark.parametrize("empty", [None, ""], ids=["null", "empty-string"])
def test_a_call_body_an_integration_clears_is_cleared_in_hubspot_and_nothing_else_is(
    ws: Workspace, hub: HubSpotDouble, empty: str | None
) -> None:
    """The dialer gave the call notes and later clears them: the dry run shows
    ``hs_call_body: ""``, the push clears it. The recording URL the dialer gave as null from
    the start (leadsync never sent it a value) is not blanked though a person set one in
    HubSpot; the time and direction stay."""
    call_id = first_call(ws, hub, body="Talked pricing", recording_url=None)
    props = hubspot_call(hub)[1]
    assert props["hs_call_body"] == "Talked pricing" and "hs_call_recording_url" not in props
    hub.update_object("calls", call_id, {"hs_call_recording_url": "https://rec.test/1"})
    timestamp, direction = props["hs_timestamp"], props["hs_call_direction"]

    run(ws, call("2026-11-01T11:00:00Z", body=empty, recording_url=None))
    _count, sent = ws.push_dry_run()
    [update] = updates(sent)
    assert update["hs_call_body"] == ""
    assert "hs_call_recording_url" not in update
    assert update["hs_call_duration"] == "95000"

    pushed(ws)
    props = hubspot_call(hub)[1]
    assert not props.get("hs_call_body")
    assert props["hs_call_recording_url"] == "https://rec.test/1"
    assert props["hs_timestamp"] == timestamp and props["hs_call_direction"] == direction
    assert props["hs_call_duration"] == "95000"


def test_a_call_body_is_cleared_once_and_again_only_after_leadsync_sent_it_again(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Cleared once: notes a person types into HubSpot after the clear stay through the
    call's later updates. The dialer gives notes again: sent; cleared again: cleared."""
    call_id = first_call(ws, hub, body="Talked pricing")
    run(ws, call("2026-11-01T11:00:00Z", body=None))
    _count, sent = ws.push_dry_run()
    assert [u.get("hs_call_body") for u in updates(sent)] == [""]
    pushed(ws)
    assert not hubspot_call(hub)[1].get("hs_call_body")

    hub.update_object("calls", call_id, {"hs_call_body": "A person's notes"})
    run(ws, call("2026-11-01T12:00:00Z", body=None, title="Renewal call"))
    _count, sent = ws.push_dry_run()
    [update] = updates(sent)
    assert update["hs_call_title"] == "Renewal call" and "hs_call_body" not in update
    pushed(ws)
    props = hubspot_call(hub)[1]
    assert props["hs_call_title"] == "Renewal call"
    assert props["hs_call_body"] == "A person's notes"

    run(ws, call("2026-11-01T13:00:00Z", body="Sent the quote"))
    pushed(ws)
    assert hubspot_call(hub)[1]["hs_call_body"] == "Sent the quote"
    run(ws, call("2026-11-01T14:00:00Z", body=None))
    pushed(ws)
    assert not hubspot_call(hub)[1].get("hs_call_body")


def test_other_activities_clear_what_an_event_empties_and_keep_what_never_clears(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """A meeting's body and end time, a task's body and priority, a note's body, each
    cleared by a later event: cleared in HubSpot. The meeting's start, title and time, the
    task's subject, status, type and due time stay. (The test integration takes no
    emails.)"""
    contact = [{"object": "contact", "external_id": "p-1"}]

    def activity(kind: str, at: str, **props: Any) -> dict[str, Any]:
        return ev(
            "activity",
            at,
            activity=kind,
            external_id=f"{kind}-1",
            owner="u-1",
            properties=props,
            associations=contact,
        )

    t0, t1 = "2026-11-01T10:00:00Z", "2026-11-01T11:00:00Z"
    run(
        ws,
        kim(firstname="Kim"),
        activity(
            "meeting",
            t0,
            title="Demo",
            body="Agenda",
            start="2026-11-02T09:00:00Z",
            end="2026-11-02T10:00:00Z",
        ),
        activity("task", t0, subject="Follow up", body="Send deck", priority="high"),
        activity("note", t0, body="Met at the fair"),
    )
    pushed(ws)
    meeting = only(hub, "meetings")["properties"]
    task = only(hub, "tasks")["properties"]
    assert meeting["hs_meeting_end_time"] and task["hs_task_priority"] == "HIGH"
    before = {"meetings": dict(meeting), "tasks": dict(task)}

    run(
        ws,
        activity("meeting", t1, body=None, end=None),
        activity("task", t1, body=None, priority=None),
        activity("note", t1, body=None),
    )
    _count, sent = ws.push_dry_run()
    cleared = sorted(n for u in updates(sent) for n, v in u.items() if v == "")
    assert cleared == [
        "hs_meeting_body",
        "hs_meeting_end_time",
        "hs_note_body",
        "hs_task_body",
        "hs_task_priority",
    ]
    pushed(ws)
    meeting = only(hub, "meetings")["properties"]
    task = only(hub, "tasks")["properties"]
    assert not meeting.get("hs_meeting_body") and not meeting.get("hs_meeting_end_time")
    assert not task.get("hs_task_body") and not task.get("hs_task_priority")
    assert not only(hub, "notes")["properties"].get("hs_note_body")
    for name in ("hs_timestamp", "hs_meeting_start_time", "hs_meeting_title"):
        assert meeting[name] == before["meetings"][name]
    for name in ("hs_timestamp", "hs_task_subject", "hs_task_status", "hs_task_type"):
        assert task[name] == before["tasks"][name]


# ------------------------------------- a write sent, the pusher killed before recording it


@pytest.mark.parametrize("write", ["create", "update"])
def test_a_call_body_hubspot_applied_before_the_pusher_was_killed_is_read_back_and_cleared(
    ws: Workspace, hub: HubSpotDouble, write: str
) -> None:
    """The notes went out (the call's create, or an update) and HubSpot applied them; the
    pusher was killed before recording the answer. The dialer then clears them: HubSpot's
    value is read first (the write was never confirmed) and, being leadsync's, cleared."""
    run(ws, kim(firstname="Kim"))
    if write == "update":
        run(ws, call(direction="outbound"))
        pushed(ws)
        run(ws, call("2026-11-01T10:30:00Z", body="Talked pricing"))
    else:
        run(ws, call(direction="outbound", body="Talked pricing"))
    push_killed(ws, hub, f"/calls/batch/{write}", applied=True)
    assert hubspot_call(hub)[1]["hs_call_body"] == "Talked pricing"

    run(ws, call("2026-11-01T11:00:00Z", body=None))
    if write == "update":
        _count, sent = ws.push_dry_run()
        reads = [b for _m, p, b in sent if p.endswith("/calls/batch/read")]
        assert [r["properties"] for r in reads] == [["hs_call_body"]]
        # The dry run has no answer to that read: it shows no clear that waits for one.
        assert all("hs_call_body" not in u for u in updates(sent))

    pushed(ws)
    assert not hubspot_call(hub)[1].get("hs_call_body")


def test_a_call_value_that_never_reached_hubspot_does_not_make_a_persons_value_leadsyncs(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """The call's notes and recording URL were pushed and confirmed. An update with another
    recording URL was about to go when the pusher was killed (recorded as sent, never sent);
    a person sets a recording URL in HubSpot. The dialer clears both: the notes, confirmed,
    are cleared; the recording URL is read, is not leadsync's, and stays — and later
    updates leave it too."""
    call_id = first_call(ws, hub, body="Talked pricing", recording_url="https://rec.test/ours")
    run(ws, call("2026-11-01T10:30:00Z", recording_url="https://rec.test/ours-2"))
    push_killed(ws, hub, "/calls/batch/update", applied=False)
    assert hubspot_call(hub)[1]["hs_call_recording_url"] == "https://rec.test/ours"
    hub.update_object("calls", call_id, {"hs_call_recording_url": "https://rec.test/person"})

    for n, at in enumerate(["2026-11-01T11:00:00Z", "2026-11-01T12:00:00Z"]):
        run(ws, call(at, title=f"Call {n}", body=None, recording_url=None))
        pushed(ws)
        props = hubspot_call(hub)[1]
        assert props["hs_call_title"] == f"Call {n}" and not props.get("hs_call_body")
        assert props["hs_call_recording_url"] == "https://rec.test/person"


def test_a_call_clear_hubspot_applied_before_the_pusher_was_killed_is_not_sent_over_a_persons_notes(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """leadsync's clear of the notes reached HubSpot; the pusher was killed before recording
    it. A person then types notes into HubSpot: the next update reads them, finds they are
    not leadsync's, and leaves them."""
    call_id = first_call(ws, hub, body="Talked pricing")
    run(ws, call("2026-11-01T11:00:00Z", body=None))
    push_killed(ws, hub, "/calls/batch/update", applied=True)
    assert not hubspot_call(hub)[1].get("hs_call_body")
    hub.update_object("calls", call_id, {"hs_call_body": "A person's notes"})

    seen: list[httpx.Request] = []
    inner = hub.transport()

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return inner.handle_request(request)

    ws.hubspot_transport = httpx.MockTransport(answer)
    run(ws, call("2026-11-01T12:00:00Z", title="Renewal call", body=None))
    pushed(ws)
    assert any(r.url.path.endswith("/calls/batch/read") for r in seen)
    props = hubspot_call(hub)[1]
    assert props["hs_call_title"] == "Renewal call"
    assert props["hs_call_body"] == "A person's notes"
