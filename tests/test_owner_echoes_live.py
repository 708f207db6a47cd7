"""The late echo of leadsync's first write, end to end: a live server takes the webhooks of
HubSpot (a person changes a contact's owner twice), Salesloft and Pipedrive (both
``bidirectional``: each is written both owners through the outbox, and echoes the first after
the second change), in the vendors' published payload shapes (tests/fixtures/published/:
Salesloft's ``person_updated`` with the current owner and no previous value, Pipedrive's
webhooks v2 ``change`` with ``previous``). The echoes change nothing; a person's later change
in a tool is taken. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.sources.hubspot import sign_v3
from leadsync.workspace import Workspace
from tests.helpers import workspace_config
from tests.live import NOW_MS, LiveServer, compact, serve, wait_applied

PUBLISHED = Path(__file__).parent / "fixtures" / "published"
SECRETS = {
    "HUBSPOT_SECRET": "hubspot-client-secret",
    "SALESLOFT_SECRET": "salesloft-callback-token",
    "PIPEDRIVE_SECRET": "hooks:pipedrive-password",
}
EMAIL = "pat.johnson@example.com"  # Salesloft's published person
BIDIRECTIONAL = {"default": "bidirectional", "protect_manual_days": 0}
NOV_1 = 1_793_523_600_000  # 2026-11-01T09:00:00Z in ms
ECHO = "its own change echoed back"


def _integrations() -> dict[str, dict[str, Any]]:
    leave = {"unmapped": {"policy": "leave"}}
    return {
        "crm": {"kind": "hubspot", "secret_env": "HUBSPOT_SECRET", "vendor": {"app_id": "777"}},
        "engage": {
            "kind": "salesloft",
            "secret_env": "SALESLOFT_SECRET",
            "users": {"map": {"7": "101", "8": "102", "9": "104"}, **leave},
            "ownership": BIDIRECTIONAL,
        },
        "deals": {
            "kind": "pipedrive",
            "secret_env": "PIPEDRIVE_SECRET",
            "users": {"map": {"12415231": "102", "501": "101", "509": "104"}, **leave},
            "ownership": BIDIRECTIONAL,
        },
    }


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    workspace.apply_config(workspace_config(_integrations()))
    with serve(workspace, environ=SECRETS) as server:
        yield server


def _published(vendor: str, name: str) -> Any:
    return json.loads((PUBLISHED / vendor / name).read_text(encoding="utf-8"))


def _minute(n: int) -> str:
    return f"2026-11-01T{9 + n // 60:02d}:{n % 60:02d}:00.000Z"


def _salesloft(live: LiveServer, owner: int, minute: int) -> None:
    """Salesloft's published ``person_updated``: the whole person, its current owner."""
    sample = _published("salesloft", "person_updated.api_docs.json")
    body = copy.deepcopy(sample["body"])
    body["owner"] = {"id": owner, "_href": f"https://api.salesloft.com/v2/users/{owner}"}
    body["updated_at"] = _minute(minute)
    raw = compact(body)
    signature = hmac.new(SECRETS["SALESLOFT_SECRET"].encode(), raw, hashlib.sha1).hexdigest()
    headers = {
        "content-type": "application/json",
        "x-salesloft-event": "person_updated",
        "x-salesloft-signature": signature,
    }
    _accepted(live.client.post("/webhooks/engage", content=raw, headers=headers))


def _pipedrive(live: LiveServer, owner: int, previous: int | None, minute: int) -> None:
    """Pipedrive's published v2 person ``change``, with the person's email; ``previous``
    holds the owner it had when the owner changed (Pipedrive sends the changed fields)."""
    body = _published("pipedrive", "change.person.migration_guide.json")
    body["data"]["owner_id"] = owner
    body["data"]["emails"] = [{"label": "work", "value": EMAIL, "primary": True}]
    body["previous"] = {"owner_id": previous} if previous is not None else {"name": "Sample"}
    body["meta"]["timestamp"] = _minute(minute)
    body["meta"]["id"] = f"pd-{minute}-{owner}"
    token = base64.b64encode(SECRETS["PIPEDRIVE_SECRET"].encode()).decode()
    headers = {"content-type": "application/json", "authorization": f"Basic {token}"}
    _accepted(live.client.post("/webhooks/deals", content=compact(body), headers=headers))


def _hubspot(live: LiveServer, *changes: tuple[str, str, int]) -> None:
    """HubSpot's published batch shape: (property, value, minute) changes of contact 501, made
    by a person in HubSpot."""
    [element] = [
        e
        for e in _published("hubspot", "webhooks_guide_example.json")
        if e["subscriptionType"] == "contact.propertyChange"
    ]
    batch = [
        {
            **element,
            "objectId": 501,
            "propertyName": name,
            "propertyValue": value,
            "changeSource": "CRM_UI",
            "sourceId": "userId:5",
            "eventId": 1000 + minute,
            "occurredAt": NOV_1 + minute * 60_000,
        }
        for name, value, minute in changes
    ]
    raw = compact(batch)
    headers = {
        "content-type": "application/json",
        **sign_v3(SECRETS["HUBSPOT_SECRET"], "POST", live.webhook_uri("crm"), raw, NOW_MS),
    }
    _accepted(live.client.post("/webhooks/crm", content=raw, headers=headers))


def _accepted(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] >= 1, response.text


def _pat(ws: Workspace, named: str = "engage:1") -> dict[str, Any]:
    """Pat, the contact (Salesloft's person 1; its account 1 is a company)."""
    [found] = [r for r in ws.find(external=named) if r["type"] == "contact"]
    return ws.record("contact", found["id"])


def _echoes(ws: Workspace) -> list[tuple[str, str | None, str | None]]:
    return [(o["integration"], o["external_owner_id"], o["echo"]) for o in ws.outbox()]


def test_tools_echoing_the_first_write_after_a_second_change_change_nothing(
    workspace: Workspace, live: LiveServer
) -> None:
    _salesloft(live, 8, 0)  # Pat, Salesloft's rep 8: 102
    _pipedrive(live, 12415231, None, 1)  # the same person in Pipedrive, its owner unchanged
    _hubspot(live, ("email", EMAIL, 2), ("hubspot_owner_id", "101", 3))
    _hubspot(live, ("hubspot_owner_id", "104", 5))  # the person's second change
    wait_applied(workspace)
    pat = _pat(workspace)
    assert pat["id"] == _pat(workspace, "deals:8")["id"]
    assert pat["owner_id"] == "104"
    written = [(o["integration"], o["external_owner_id"]) for o in workspace.outbox()]
    assert written == [("deals", "501"), ("engage", "7"), ("deals", "509"), ("engage", "9")]

    # Both tools' echoes of the first write arrive now, after the second change.
    _salesloft(live, 7, 6)
    _pipedrive(live, 501, 12415231, 6)
    wait_applied(workspace)
    pat = _pat(workspace)
    assert pat["owner_id"] == "104"
    assert len(workspace.outbox()) == 4  # nothing sent on
    late = pat["owner_history"][-2:]
    assert [(h["integration"], h["outcome"]) for h in late] == [
        ("engage", "ignored"),
        ("deals", "ignored"),
    ]
    assert late[0]["reason"].startswith(
        "ignored: engage reports rep 7, which leadsync itself wrote to it as 101 (crm's change "
        "at 2026-11-01T09:03:00Z): its own change echoed back"
    )
    assert "deals reports rep 501" in late[1]["reason"] and ECHO in late[1]["reason"]
    assert [e for _, _, e in _echoes(workspace)] == ["echoed", "echoed", "awaited", "awaited"]

    # The second write's echoes: no change either.
    _salesloft(live, 9, 7)
    _pipedrive(live, 509, 501, 7)
    wait_applied(workspace)
    assert [e for _, _, e in _echoes(workspace)] == ["echoed"] * 4
    assert len(workspace.outbox()) == 4  # nothing sent on

    # A person in Pipedrive gives Pat to user 501 again: a change, sent on to Salesloft
    # (rep 7), whose echo in turn is no change.
    _pipedrive(live, 501, 509, 20)
    wait_applied(workspace)
    pat = _pat(workspace)
    assert pat["owner_id"] == "101"
    assert "bidirectional and this is the most recent change" in pat["owner_history"][-1]["reason"]
    assert _echoes(workspace)[-1] == ("engage", "7", "awaited")
    _salesloft(live, 7, 21)
    wait_applied(workspace)
    pat = _pat(workspace)
    assert pat["owner_id"] == "101" and ECHO in pat["owner_history"][-1]["reason"]
    assert _echoes(workspace)[-1] == ("engage", "7", "echoed")
