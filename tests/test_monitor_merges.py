"""The health report over merges: activities two tools logged (a dedupe rule) count for
each tool whichever arrived first, and once however many ids a tool gave one; records a
tool's merge joined into another (gone there) and test leads are neither unowned new leads
nor records a deactivated owner still owns."""

from __future__ import annotations

import json
from typing import Any

from leadsync.settings import load_config
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, contact_line, ev, settings

NOW = "2026-11-10T12:00:00.000Z"
SINCE = "2026-11-03T12:00:00.000Z"
TODAY = "2026-11-10T09:00:00Z"


def configure(ws: Workspace, owners: list[dict[str, Any]] | None = None) -> None:
    doc = {
        "owners": owners or OWNERS,
        "teams": {"sdr": ["101"]},
        "integrations": {
            "dialer": settings(users={"unmapped": {"policy": "leave"}, "map": {"u-9": "102"}}),
            "engage": settings(),
        },
        "dedupe": [{"activity": "call", "integrations": ["dialer", "engage"], "prefer": "dialer"}],
    }
    ws.apply_config(load_config(json.dumps(doc), "t.yaml"))


def call(ext: str, at: str, **more: Any) -> str:
    return json.dumps(
        ev(
            "activity",
            at,
            activity="call",
            external_id=ext,
            owner="u-1",
            properties={"duration_s": 60, "outcome": "connected"},
            associations=[{"object": "contact", "external_id": "p-1"}],
            **more,
        )
    )


def findings(ws: Workspace) -> dict[str, Any]:
    return {f.check: f for f in ws.report(SINCE, NOW).findings}


def test_calls_both_tools_logged_count_for_each_whichever_came_first(
    workspace: Workspace,
) -> None:
    configure(workspace)
    contact = contact_line("p-1", "u-1", "2026-11-02T09:00:00Z")
    workspace.ingest("dialer", [contact])
    workspace.ingest("engage", [contact])
    # A week before: the dialer's call arrives first, the engagement tool's joins it.
    for i in range(6):
        at = f"2026-11-03T0{i}:00:00Z"
        workspace.ingest("dialer", [call(f"d-{i}", at)])
        workspace.ingest("engage", [call(f"e-{i}", at)])
    # The last day: the same six calls, the engagement tool's first.
    for i in range(6):
        at = f"2026-11-10T0{i}:00:00Z"
        workspace.ingest("engage", [call(f"e-t{i}", at)])
        workspace.ingest("dialer", [call(f"d-t{i}", at)])
    assert len(workspace.activities(limit=1000)) == 12  # each pair is one call
    drop = findings(workspace)["activity_drop"]
    assert not drop.alert, drop.rows


def test_a_call_a_tool_gave_two_ids_is_one_merged_call(workspace: Workspace) -> None:
    configure(workspace)
    contact = contact_line("p-1", "u-1", "2026-11-02T09:00:00Z")
    workspace.ingest("dialer", [contact])
    workspace.ingest("engage", [contact])  # the same person (by email) in both tools
    workspace.ingest("dialer", [call("dcall-9", "2026-11-10T08:00:00Z")])
    workspace.ingest("engage", [call("cdr:9", "2026-11-10T08:00:10Z")])
    workspace.ingest("engage", [call("ec-9", "2026-11-10T08:00:10Z", aliases=["cdr:9"])])
    assert len(workspace.activities()) == 1
    [row] = findings(workspace)["activities_merged"].rows
    assert row["activities"] == 1, row


def merge_lines(
    gone: str, kept: str, owner: str | None, gone_owner: str | None = None
) -> list[str]:
    first = ev(
        "record",
        "2026-11-10T08:00:00Z",
        object="contact",
        external_id=gone,
        properties={"email": f"{gone}@hooli.test"},
        **({"owner": gone_owner} if gone_owner else {}),
    )
    second = ev(
        "record",
        "2026-11-10T08:01:00Z",
        object="contact",
        external_id=kept,
        properties={"email": f"{kept}@hooli.test"},
        **({"owner": owner} if owner else {}),
    )
    merge = ev(
        "record",
        "2026-11-10T09:00:00Z",
        object="contact",
        external_id=kept,
        properties={},
        merged=[gone],
    )
    return [json.dumps(e) for e in (first, second, merge)]


def test_a_record_merged_away_is_no_unowned_new_lead(workspace: Workspace) -> None:
    configure(workspace)
    workspace.ingest("dialer", merge_lines("p-30", "p-31", "u-1"))
    unowned = findings(workspace)["unowned_new_leads"]
    assert not unowned.alert, unowned.rows


def test_a_record_merged_away_or_a_test_lead_is_not_owned_by_a_deactivated_owner(
    workspace: Workspace,
) -> None:
    configure(workspace)
    workspace.ingest("dialer", merge_lines("p-40", "p-41", "u-1", gone_owner="u-9"))
    assert workspace.test_lead("dialer", "u-9").passed
    owners = [dict(o) for o in OWNERS]
    owners[1]["active"] = False  # 102 leaves; it owns only a merged record and a test lead
    doc = {
        "owners": owners,
        "teams": {"sdr": ["101"]},
        "integrations": {"dialer": settings(), "engage": settings()},
    }
    workspace.apply_config(load_config(json.dumps(doc), "t.yaml"))
    rows = findings(workspace)["deactivated_owners"].rows
    assert not [r for r in rows if "still_owns" in r], rows
