"""One call logged by the dialer and by the engagement tool is one activity (``dedupe:``)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.errors import ConfigError
from leadsync.rules.dedupe import e164
from leadsync.settings import config_to_dict, load_config
from leadsync.store.schema import activities, activity_sources
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, ev, run, settings

RULE = {
    "activity": "call",
    "integrations": ["phone", "outreach"],
    "window_s": 120,
    "prefer": "phone",
}


def _config(rule: dict[str, Any] | None = RULE) -> Any:
    doc: dict[str, Any] = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {"phone": settings(), "outreach": settings()},
    }
    if rule is not None:
        doc["dedupe"] = [rule]
    return load_config(json.dumps(doc), "dedupe.yaml")


def _phone_call(at: str = "2026-11-01T09:00:00Z", **props: Any) -> dict[str, Any]:
    return ev(
        "activity",
        at,
        activity="call",
        external_id="ac-1",
        owner="u-1",
        properties={
            "direction": "outbound",
            "to_number": "+1 415-555-0100",
            "duration_s": 95,
            "outcome": "connected",
            **props,
        },
        associations=[{"object": "contact", "external_id": "p-1"}],
    )


def _outreach_call(at: str = "2026-11-01T09:00:14Z", owner: str = "u-1", **props: Any) -> Any:
    return ev(
        "activity",
        at,
        activity="call",
        external_id="991",
        owner=owner,
        properties={
            "direction": "outbound",
            "to_number": "(+1) 415 555 0100",
            "duration_s": 90,
            "body": "Talked pricing",
            **props,
        },
    )


def _calls(ws: Workspace) -> list[dict[str, Any]]:
    with ws.engine.connect() as c:
        return [
            dict(r._mapping) for r in c.execute(sa.select(activities).order_by(activities.c.id))
        ]


def _sources(ws: Workspace) -> list[dict[str, Any]]:
    with ws.engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.select(activity_sources))]


@pytest.mark.parametrize("first", ["phone", "outreach"])
def test_the_same_call_from_both_tools_is_one_activity_whichever_arrives_first(
    db_url: str, first: str
) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        batches = [("phone", _phone_call()), ("outreach", _outreach_call())]
        if first == "outreach":
            batches.reverse()
        for integration, event in batches:
            assert run(ws, event, integration=integration).ok
        (call,) = _calls(ws)
        # phone's values win where both have one; outreach fills the rest.
        assert (call["duration_s"], call["body"], call["outcome"]) == (
            95,
            "Talked pricing",
            "connected",
        )
        assert call["occurred_at"] == "2026-11-01T09:00:00.000Z"  # the preferred tool's time
        assert call["owner_id"] == "101"
        (source,) = _sources(ws)
        other = "outreach" if first == "phone" else "phone"
        assert source["integration"] == other
        assert "same rep, same number +14155550100, 14 s apart" in source["reason"]
        assert source["reason"].startswith(f"merged with {first} call ")


def test_later_updates_of_either_source_land_on_the_merged_activity(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        run(ws, _phone_call(), integration="phone")
        run(ws, _outreach_call(), integration="outreach")
        # outreach's later update names nothing but its call; phone still wins the duration.
        update = ev(
            "activity", "2026-11-01T09:00:14Z", activity="call", external_id="991",
            changed_at="2026-11-01T09:05:00Z", properties={"duration_s": 91, "title": "Pricing"},
        )  # fmt: skip
        assert run(ws, update, integration="outreach").ok
        (call,) = _calls(ws)
        assert (call["duration_s"], call["title"]) == (95, "Pricing")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"owner": "u-9"}, "another rep"),
        ({"at": "2026-11-01T09:03:00Z"}, "outside the window"),
        ({"to_number": "+1 415 555 0199"}, "another number"),
        ({"duration_s": 300}, "durations far apart"),
    ],
)
def test_calls_that_differ_stay_apart(db_url: str, change: dict[str, Any], why: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        run(ws, _phone_call(), integration="phone")
        props = {k: v for k, v in change.items() if k not in ("owner", "at")}
        kwargs = {k: v for k, v in change.items() if k in ("owner", "at")}
        run(ws, _outreach_call(**kwargs, **props), integration="outreach")
        assert len(_calls(ws)) == 2, why
        assert _sources(ws) == []


@pytest.mark.parametrize("first", ["phone", "outreach"])
def test_talk_times_are_compared_where_a_duration_counts_the_ringing(
    db_url: str, first: str
) -> None:
    """Aircall's duration counts the ringing (90 s, 25 of them ringing), Outreach's is the
    talk time (65 s): 25 s apart, more than the slack, they stayed two calls. Both say when
    the call was answered and ended, and those agree: one call."""
    answered = {"answered_at": "2026-11-01T09:00:25Z", "ended_at": "2026-11-01T09:01:30Z"}
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        batches = [
            ("phone", _phone_call(duration_s=90, **answered)),
            ("outreach", _outreach_call(duration_s=65, **answered)),
        ]
        if first == "outreach":
            batches.reverse()
        for integration, event in batches:
            assert run(ws, event, integration=integration).ok
        (call,) = _calls(ws)
        assert call["duration_s"] == 90  # phone's, preferred
        (source,) = _sources(ws)
        assert "same rep, same number +14155550100" in source["reason"]


def test_without_a_rule_both_tools_keep_their_own_call(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config(None))
        run(ws, _phone_call(), integration="phone")
        run(ws, _outreach_call(), integration="outreach")
        assert len(_calls(ws)) == 2


def test_a_call_merges_once_per_tool(db_url: str) -> None:
    """Two outreach calls near one phone call: the first merges, the second is its own."""
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        run(ws, _phone_call(), integration="phone")
        run(ws, _outreach_call(), integration="outreach")
        second = _outreach_call(at="2026-11-01T09:00:30Z")
        second["external_id"] = "992"
        run(ws, second, integration="outreach")
        assert len(_calls(ws)) == 2


def test_in_one_batch_too(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        # Both in the same ingest batch of one integration are never twins; across the two
        # integrations a single worker batch holds both (the inbox's order).
        run(ws, _phone_call(), integration="phone")
        summary = run(ws, _outreach_call(), integration="outreach")
        assert summary.applied.activities_merged == 1


def test_preview_shows_the_merge_and_its_reason(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        run(ws, _phone_call(), integration="phone")
        result = ws.preview("outreach", [json.dumps(_outreach_call())])
        (entry,) = result.events
        assert entry.activity is not None and entry.activity["outcome"] == "merged"
        assert "same number" in entry.activity["reason"]
        assert len(_calls(ws)) == 1  # a preview changes nothing


def test_config_errors_name_the_place() -> None:
    with pytest.raises(
        ConfigError, match=r"dedupe\[0\]\.integrations\[1\].*unknown integration 'dialer'"
    ):
        _config({**RULE, "integrations": ["phone", "dialer"]})
    with pytest.raises(ConfigError, match=r"dedupe\[0\].*prefer 'crm' is not one of integrations"):
        _config({**RULE, "prefer": "crm"})
    with pytest.raises(ConfigError, match=r"dedupe\[0\]\.window_s"):
        _config({**RULE, "window_s": 0})
    round_trip = config_to_dict(_config())
    assert round_trip["dedupe"] == [RULE]


def test_apply_and_export_keep_the_rules(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        assert config_to_dict(ws.export_config())["dedupe"] == [RULE]


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+1 (415) 555-0100", "+14155550100"),
        ("0014155550100", "+14155550100"),
        ("14155550100", "+14155550100"),
        ("+33 1 23 45 67 89", "+33123456789"),
        ("555-0100", "5550100"),  # national, no country: its digits
        ("", None),
    ],
)
def test_numbers_are_compared_in_e164(raw: str, normal: str | None) -> None:
    assert e164(raw) == normal


def test_report_counts_merges_per_pair_of_tools(db_url: str) -> None:
    with Workspace(db_url) as ws:
        ws.apply_config(_config())
        run(ws, _phone_call(), integration="phone")
        run(ws, _outreach_call(), integration="outreach")
        findings = {f.check: f for f in ws.report("2026-10-01T00:00:00.000Z").findings}
        merged = findings["activities_merged"]
        assert merged.rows == [
            {"first": "phone", "merged": "outreach", "type": "call", "activities": 1}
        ]
        assert "phone + outreach: 1 calls" in merged.summary
