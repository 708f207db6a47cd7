"""A call two tools logged (a dedupe rule) is one activity, the same whatever order its
events arrive in — also when one tool's later event is one its filters skip. The skipped
tool's values are no longer the call's (its own filters say it is no call of its), so the
call is what the other tool says; before, a skipped update waited in the tool's memory and
the next event of the *other* tool wrote it (a 70 s call became 3 s, or stayed 70 s, by
arrival order)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from leadsync.settings import load_config
from leadsync.workspace import Workspace
from tests.helpers import OWNERS

KIM = "+14155550100"


def config() -> Any:
    phone = {
        "kind": "generic",
        "region": "US",
        "users": {"map": {"p-ana": "101"}},
        "activities": {"call": {"enabled": True, "min_duration_s": 10}},
    }
    eng = {"kind": "generic", "region": "US", "users": {"map": {"e-ana": "101"}}}
    doc = {
        "owners": OWNERS,
        "integrations": {"phone": phone, "eng": eng},
        "dedupe": [
            {
                "activity": "call",
                "integrations": ["phone", "eng"],
                "window_s": 120,
                "prefer": "phone",
            }
        ],
    }
    return load_config(json.dumps(doc), "ws.yaml")


def call(
    integration: str, ext: str, name: str, changed: str | None, **props: Any
) -> tuple[str, str]:
    event: dict[str, Any] = {
        "id": name,
        "occurred_at": "2026-11-01T10:00:00Z" if integration == "phone" else "2026-11-01T10:02:00Z",
        "type": "activity",
        "activity": "call",
        "external_id": ext,
        "owner": "p-ana" if integration == "phone" else "e-ana",
        "properties": props,
    }
    if changed is not None:
        event["changed_at"] = changed
    return integration, json.dumps(event)


EVENTS = {
    "ph1": call("phone", "pa", "ph1", None, direction="outbound", to_number=KIM,
                duration_s=60, outcome="connected", body="phone body"),
    "en1": call("eng", "ea", "en1", None, direction="outbound", to_number="(415) 555-0100",
                duration_s=65, outcome="connected", body="eng body"),
    "en2": call("eng", "ea", "en2", "2026-11-01T10:06:00Z", outcome="voicemail"),
    "ph2": call("phone", "pa", "ph2", "2026-11-01T10:05:00Z", duration_s=70),
    "ph3": call("phone", "pa", "ph3", "2026-11-01T10:07:00Z", duration_s=3),  # filtered
    "en3": call("eng", "ea", "en3", "2026-11-01T10:08:00Z", body="eng body v2"),
}  # fmt: skip


def outcome(tmp_path: Path, order: list[str]) -> list[tuple[Any, ...]]:
    with Workspace(f"sqlite:///{tmp_path / ('-'.join(order) + '.db')}") as ws:
        ws.apply_config(config())
        ws.ingest("phone", [json.dumps({"id": "k", "occurred_at": "2026-11-01T09:00:00Z",
                  "type": "record", "object": "contact", "external_id": "k-1",
                  "properties": {"email": "kim@globex.test", "phone": KIM}})])  # fmt: skip
        for name in order:
            integration, line = EVENTS[name]
            ws.ingest(integration, [line])
        return [
            (a["properties"].get("duration_s"), a["properties"].get("outcome"),
             a["properties"].get("body"))
            for a in ws.activities()
        ]  # fmt: skip


@pytest.mark.parametrize(
    "order",
    [
        ["ph1", "en1", "en2", "ph2", "en3", "ph3"],
        ["ph1", "en1", "en2", "ph2", "ph3", "en3"],
        ["en1", "en2", "en3", "ph1", "ph2", "ph3"],
        ["ph3", "ph2", "ph1", "en3", "en2", "en1"],
    ],
    ids="-".join,
)
def test_any_order_gives_the_call_the_tool_its_filters_keep_says(
    tmp_path: Path, order: list[str]
) -> None:
    assert outcome(tmp_path, order) == [(65, "voicemail", "eng body v2")]
