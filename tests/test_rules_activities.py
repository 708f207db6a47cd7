"""Activity rules, without a database: the filters and their reasons, what a skip does to an
activity created earlier, drafts, and the owner an activity gets."""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.model import ActivityType, MappingResult
from leadsync.rules.activities import (
    activity_owner,
    activity_owner_reason,
    derived_properties,
    draft_reason,
    skip_reason,
    skip_with_earlier,
)
from leadsync.settings import ActivitySettings
from tests.helpers import settings, workspace_config


def activity_settings() -> ActivitySettings:
    """The example's: calls of 10 s or more, not no_answer/busy; emails disabled."""
    return workspace_config({"dialer": settings()}).integrations["dialer"].activities


@pytest.mark.parametrize(
    ("kind", "properties", "skip"),
    [
        (ActivityType.CALL, {"duration_s": 120, "outcome": "connected"}, None),
        (ActivityType.CALL, {}, None),  # no duration: unknown, not short
        (
            ActivityType.CALL,
            {"duration_s": 3},
            ("shorter than min_duration_s (10 s)", "call lasted 3 s, shorter than "
             "min_duration_s 10 s"),
        ),
        (
            ActivityType.CALL,
            {"duration_s": 60, "outcome": "busy"},
            ("outcome busy is in skip_outcomes",
             "call outcome busy is in skip_outcomes for dialer"),
        ),
        (
            ActivityType.EMAIL,
            {},
            ("email activities are disabled", "email activities are disabled for dialer"),
        ),
        (ActivityType.MEETING, {"duration_s": 1, "outcome": "busy"}, None),  # no call filters
    ],
)  # fmt: skip
def test_skip_reason(
    kind: ActivityType, properties: dict[str, Any], skip: tuple[str, str] | None
) -> None:
    found = skip_reason(kind, properties, activity_settings(), "dialer")
    assert (None if found is None else (found.kind, found.reason)) == skip


ANSWERED = "2026-11-03T14:00:10.000Z"


@pytest.mark.parametrize(
    ("kind", "properties", "duration"),
    [
        (ActivityType.CALL, {"answered_at": ANSWERED, "ended_at": "2026-11-03T14:00:14.000Z"}, 4),
        (ActivityType.CALL, {"answered_at": ANSWERED, "ended_at": "2026-11-03T14:00:14.500Z"},
         4.5),
        (ActivityType.CALL, {"answered_at": ANSWERED}, None),  # not ended yet: unknown
        (ActivityType.CALL, {"ended_at": ANSWERED}, None),  # never answered: no talk time
        (ActivityType.CALL, {"answered_at": ANSWERED, "ended_at": ANSWERED}, 0),
        # An end before the answer (two updates that disagree): no duration, not a negative one.
        (ActivityType.CALL, {"answered_at": ANSWERED, "ended_at": "2026-11-03T14:00:00.000Z"},
         None),
        # A duration an event gave wins (Aircall's counts the ringing too).
        (ActivityType.CALL,
         {"duration_s": 30, "answered_at": ANSWERED, "ended_at": "2026-11-03T14:00:14.000Z"}, 30),
        (ActivityType.MEETING,
         {"answered_at": ANSWERED, "ended_at": "2026-11-03T14:00:14.000Z"}, None),
    ],
)  # fmt: skip
def test_a_calls_duration_follows_from_its_answer_and_end(
    kind: ActivityType, properties: dict[str, Any], duration: float | None
) -> None:
    derived = derived_properties(kind, properties)
    assert derived.get("duration_s") == duration
    assert {k: v for k, v in derived.items() if k != "duration_s"} == {
        k: v for k, v in properties.items() if k != "duration_s"
    }
    # What the filters read: a 4 s call is short.
    if duration == 4:
        skip = skip_reason(kind, derived, activity_settings(), "dialer")
        assert skip is not None and skip.reason.startswith("call lasted 4 s")


@pytest.mark.parametrize(
    ("exists", "other_sources", "reason", "removed"),
    [
        (False, False, "why", False),
        (False, True, "why", False),
        (True, False, "why; the activity created earlier from it was removed", True),
        (True, True, "why; the activity stays: other tools logged it too", False),
    ],
)
def test_a_skip_removes_the_activity_earlier_events_created_unless_others_logged_it(
    exists: bool, other_sources: bool, reason: str, removed: bool
) -> None:
    assert skip_with_earlier("why", exists, other_sources) == (reason, removed)


def test_a_draft_says_it_waits_for_the_event_that_sends_it() -> None:
    reason = draft_reason(ActivityType.EMAIL, "seq")
    assert reason.startswith("not created: the email is a draft at seq (not sent yet)")


@pytest.mark.parametrize(
    ("mapping", "owner"),
    [
        (None, None),
        (MappingResult("101", True, "by the map"), "101"),
        (MappingResult("104", False, "the fallback owner"), "104"),
        (MappingResult(None, False, "leave", flagged=True), None),
        (MappingResult(None, False, "round robin", round_robin_team="sdr"), None),
    ],
)
def test_activity_owner_is_the_mapped_owner_never_a_round_robin_turn(
    mapping: MappingResult | None, owner: str | None
) -> None:
    assert activity_owner(mapping) == owner


@pytest.mark.parametrize(
    ("mapping", "reason"),
    [
        (None, "no owner: the activity's events name no rep"),
        (MappingResult("101", True, "rep u-1 maps to 101 by the map"), "rep u-1 maps to 101 by the map"),
        (MappingResult(None, False, "rep u-1 …, and the unmapped policy is leave", flagged=True),
         "rep u-1 …, and the unmapped policy is leave"),
        (MappingResult(None, False, "rep u-1 …, so team sdr takes it in round robin",
                       round_robin_team="sdr"),
         "no owner: rep u-1 …, so team sdr takes it in round robin, but a round robin turns "
         "for records, not activities"),
    ],
)  # fmt: skip
def test_activity_owner_reason_is_the_mappings_own_words(
    mapping: MappingResult | None, reason: str
) -> None:
    assert activity_owner_reason(mapping) == reason
