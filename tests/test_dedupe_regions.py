"""Two tools log one call with the other party's number in their own national forms (an
Aircall "+1 415-555-0900", an Outreach "(415) 555-0900"), before anyone has that number:
both calls are held. Dedupe compared the numbers by their digits (``4155550900`` against
``14155550900``) and kept two activities — a contact that got the number later had the call
twice. A national number is now read in the region of the tool that logged it."""

from __future__ import annotations

import json
from typing import Any

from leadsync.settings import load_config
from leadsync.workspace import Workspace
from tests.helpers import ev, run


def _config(region: str | None) -> Any:
    tool: dict[str, Any] = {"kind": "generic", "users": {"map": {"u-1": "101"}}}
    if region is not None:
        tool["region"] = region
    doc = {
        "owners": [{"id": "101", "email": "ana@acme.test"}],
        "integrations": {"phone": dict(tool), "engage": dict(tool)},
        "dedupe": [{"activity": "call", "integrations": ["phone", "engage"], "window_s": 120}],
    }
    return load_config(json.dumps(doc), "t.yaml")


def _call(ext: str, at: str, number: str) -> dict[str, Any]:
    return ev("activity", at, activity="call", external_id=ext, owner="u-1",
              properties={"direction": "outbound", "to_number": number, "duration_s": 60,
                          "outcome": "connected"})  # fmt: skip


def test_a_call_two_tools_give_in_their_national_forms_is_one(workspace: Workspace) -> None:
    workspace.apply_config(_config("US"))
    assert run(workspace, _call("ac-1", "2026-11-01T09:00:00Z", "+1 415-555-0900"),
               integration="phone").ok  # fmt: skip
    assert run(workspace, _call("or-1", "2026-11-01T09:00:10Z", "(415) 555-0900"),
               integration="engage").ok  # fmt: skip
    calls = [a for a in workspace.activities() if a["type"] == "call"]
    assert len(calls) == 1, calls
    # A contact gets the number later: the one call lands on its timeline.
    assert run(workspace, ev("record", "2026-11-02T09:00:00Z", object="contact",
                             external_id="p-1", properties={"email": "kim@globex.test",
                                                            "phone": "+14155550900"}),
               integration="phone").ok  # fmt: skip
    [contact] = workspace.find(external="phone:p-1")
    timeline = workspace.record("contact", contact["id"])["timeline"]
    assert len(timeline) == 1, timeline
