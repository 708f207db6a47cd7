"""A Salesloft meeting names its owner by the user's GUID (``owned_by_user``), everything else
by the user's numeric id; the email that bridges the two (``owned_by_meetings_settings``) is
in the body only when Salesloft includes it. A user event now gives the GUID the user's email
and name too: the meeting's owner maps as the user's other activities do. Before, it was an
unmapped rep of no email, and the meeting landed ownerless."""

from __future__ import annotations

import json
from typing import Any

from leadsync.settings import load_config
from leadsync.workspace import Workspace

GUID = "9cc6da15-d403-4f5b-aeed-c4b8463cf9ae"


def _line(event: str, body: dict[str, Any]) -> str:
    return json.dumps({"headers": {"x-salesloft-event": event}, "body": body})


USER = {
    "id": 1,
    "guid": GUID,
    "created_at": "2026-10-01T09:00:00.000000Z",
    "updated_at": "2026-10-02T09:00:00.000000Z",
    "name": "Ana Ng",
    "email": "ana@acme.test",
}
MEETING = {
    "id": 5101,
    "title": "Intro",
    "start_time": "2026-12-10T15:00:00.000000Z",
    "end_time": "2026-12-10T15:30:00.000000Z",
    "recipient_email": "mika@initech.test",
    "created_at": "2026-12-02T09:00:00.000000Z",
    "updated_at": "2026-12-02T09:00:00.000000Z",
    "person": {"id": 1701, "_href": "https://api.salesloft.com/v2/people/1701"},
    "owned_by_user": {"id": GUID, "_href": f"https://api.salesloft.com/v2/users/{GUID}"},
    "status": "booked",
    "no_show": False,
    "canceled_at": None,
}


def test_a_meeting_owned_by_a_users_guid_has_that_users_owner(workspace: Workspace) -> None:
    doc = {
        "owners": [{"id": "101", "email": "ana@acme.test"}, {"id": "102", "email": "bo@acme.test"}],
        "integrations": {"salesloft": {"kind": "salesloft", "users": {"auto_match": "email"}}},
    }
    workspace.apply_config(load_config(json.dumps(doc), "t.yaml"))
    summary = workspace.ingest(
        "salesloft", [_line("user_updated", USER), _line("meeting_booked", MEETING)]
    )
    assert summary.ok, summary
    [meeting] = [a for a in workspace.activities() if a["type"] == "meeting"]
    assert meeting["owner_id"] == "101"
    users = {u["id"]: u for u in workspace.external_users("salesloft")}
    assert users["1"]["email"] == users[GUID]["email"] == "ana@acme.test"
