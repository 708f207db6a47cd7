"""An event dated well after its arrival (a vendor clock ahead, a zone mistake) is taken at
its arrival: dated as given, every later change of the record read as older and was ignored
as stale, silently (a probe's Calendly booking dated 2099 stayed scheduled once canceled; a
HubSpot edit dated 2100 hid every real one). A meeting or a task may lie ahead: its time is
kept, its change is ordered at its arrival."""

from __future__ import annotations

import json
from typing import Any

from leadsync.pipeline.inbox import InboxItem, write_items
from leadsync.sources.arrival import ARRIVAL_SLACK_S, dated_by_arrival
from leadsync.sources.base import envelope_text
from leadsync.store.database import begin_writing
from leadsync.workspace import Workspace
from tests.helpers import ev, record_by_external, settings, workspace_config
from tests.test_phone_beside import _body

ARRIVED = "2026-11-01T10:00:00.000Z"
LATER = "2026-11-01T10:30:00.000Z"


def _arrive(ws: Workspace, integration: str, at: str, key: str, payload: str, when: str) -> None:
    """One row into the inbox as pending, received at ``at``."""
    with begin_writing(ws.engine) as connection:
        write_items(connection, integration, [InboxItem(key, when, payload)], at, "test", "pending")


def _event(ws: Workspace, at: str, event: dict[str, Any]) -> None:
    _arrive(ws, "dialer", at, event["id"], json.dumps(event), event["occurred_at"])


def _contact(first: str, at: str) -> dict[str, Any]:
    return ev("record", at, object="contact", external_id="k1", owner="u-1",
              properties={"email": "k1@globex.test", "firstname": first})  # fmt: skip


def test_a_change_dated_hours_ahead_of_its_arrival_does_not_hide_a_later_one(
    workspace: Workspace,
) -> None:
    workspace.apply_config(workspace_config({"dialer": settings()}))
    _event(workspace, ARRIVED, _contact("Zoned", "2026-11-01T13:00:00Z"))  # +3 h: a zone slip
    _event(workspace, LATER, _contact("Real", "2026-11-01T10:29:00Z"))
    assert workspace.process_inbox().ok
    kim = record_by_external(workspace, "k1")
    assert kim["properties"]["firstname"] == "Real"
    assert kim["properties_given"]["firstname"]["at"] == "2026-11-01T10:29:00.000Z"


def test_a_time_within_the_slack_is_taken_as_given(workspace: Workspace) -> None:
    # Clocks differ by seconds: four minutes ahead is the vendor's time, and the change dated
    # before it, arriving later, is older.
    workspace.apply_config(workspace_config({"dialer": settings()}))
    _event(workspace, ARRIVED, _contact("Ahead", "2026-11-01T10:04:00Z"))
    _event(workspace, LATER, _contact("Older", "2026-11-01T10:03:00Z"))
    assert workspace.process_inbox().ok
    assert record_by_external(workspace, "k1")["properties"]["firstname"] == "Ahead"


def test_a_call_dated_ahead_is_at_its_arrival_a_meeting_ahead_keeps_its_time(
    workspace: Workspace,
) -> None:
    workspace.apply_config(workspace_config({"dialer": settings()}))
    _event(workspace, ARRIVED, _contact("Kim", "2026-11-01T09:00:00Z"))
    on_kim = [{"object": "contact", "external_id": "k1"}]
    _event(workspace, ARRIVED, ev("activity", "2100-01-01T00:00:00Z", activity="call",
                                  external_id="c1", owner="u-1", associations=on_kim,
                                  properties={"duration_s": 90}))  # fmt: skip
    _event(workspace, ARRIVED, ev("activity", "2026-11-04T15:00:00Z", activity="meeting",
                                  external_id="m1", owner="u-1", associations=on_kim,
                                  properties={"title": "Demo"}))  # fmt: skip
    assert workspace.process_inbox().ok
    timeline = {a["external_id"]: a for a in record_by_external(workspace, "k1")["timeline"]}
    assert timeline["c1"]["occurred_at"] == ARRIVED
    assert timeline["m1"]["occurred_at"] == "2026-11-04T15:00:00.000Z"


def _calendly(name: str, created_at: str) -> dict[str, Any]:
    body = _body("calendly", name)
    body["created_at"] = created_at
    return body


def test_a_calendly_booking_dated_2099_is_canceled_by_its_real_cancellation(
    workspace: Workspace,
) -> None:
    # The probe's case, with Calendly's published bodies: the booking's created_at says 2099.
    workspace.apply_config(workspace_config({"cal": {"kind": "calendly"}}))
    booked = _calendly("invitee.created.json", "2099-01-01T00:00:00.000000Z")
    canceled = _calendly("invitee.canceled.json", "2026-11-01T10:29:00.000000Z")
    _arrive(workspace, "cal", ARRIVED, "b", envelope_text({}, booked), ARRIVED)
    _arrive(workspace, "cal", LATER, "c", envelope_text({}, canceled), LATER)
    assert workspace.process_inbox().ok
    [meeting] = workspace.activities("cal")
    assert meeting["properties"]["outcome"] == "canceled"
    assert meeting["properties"]["calendly_status"] == "canceled"


def test_only_the_times_past_the_slack_move() -> None:
    from leadsync.model import ActivityType, Event, EventType

    def made(at: str, changed: str | None = None, kind: ActivityType | None = None) -> Event:
        kind_of = EventType.ACTIVITY if kind else EventType.RECORD
        return Event("e", "i", kind_of, at, activity=kind, changed_at=changed)

    edge = "2026-11-01T10:05:00.000Z"  # exactly the slack: as given
    assert ARRIVAL_SLACK_S == 300
    events = [
        made(edge),
        made("2026-11-01T10:05:00.001Z"),
        made(ARRIVED, changed="2027-01-01T00:00:00.000Z"),
        made("2027-01-01T00:00:00.000Z", kind=ActivityType.TASK),
        made("2027-01-01T00:00:00.000Z", changed=edge, kind=ActivityType.MEETING),
        made("2027-01-01T00:00:00.000Z", kind=ActivityType.EMAIL),
    ]
    dated_by_arrival(events, ARRIVED)
    assert [(e.occurred_at, e.changed_at) for e in events] == [
        (edge, None),
        (ARRIVED, None),
        (ARRIVED, ARRIVED),
        ("2027-01-01T00:00:00.000Z", ARRIVED),
        ("2027-01-01T00:00:00.000Z", edge),
        (ARRIVED, None),
    ]
