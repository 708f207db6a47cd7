"""Activity sync: which activities an integration creates, and why the others are skipped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadsync.model import ActivityType, MappingResult, Outcome, ts_to_datetime
from leadsync.rules.ownership import Verdict
from leadsync.settings import ActivitySettings
from leadsync.values import whole


@dataclass(frozen=True, slots=True)
class Skip:
    """Why an activity is not created: ``reason``, the sentence stored with the skip
    (``call lasted 3 s, shorter than min_duration_s 15 s``), and ``kind``, the rule and its
    setting without this activity's own values (``shorter than min_duration_s (15 s)``),
    which the report counts by."""

    kind: str
    reason: str


def derived_properties(
    activity_type: ActivityType, properties: Mapping[str, Any]
) -> dict[str, Any]:
    """An activity's properties (all its events' merged, or one event's) with what follows
    from them: a call that no event gave a ``duration_s`` lasted ``ended_at - answered_at``
    (its talk time), once both are known and the end is not before the answer. Vendors that
    send the answer and the end in separate updates (Outreach) get their duration here, from
    the activity as all its events say, not from one event."""
    out = dict(properties)
    if activity_type is not ActivityType.CALL or out.get("duration_s") is not None:
        return out
    talk = talk_seconds(out)
    if talk is not None:
        out["duration_s"] = talk
    return out


def talk_seconds(properties: Mapping[str, Any]) -> int | float | None:
    """A call's talk time, ``ended_at - answered_at``, once both are known and the end is
    not before the answer; None otherwise. Tools that give both (Aircall, Outreach) agree on
    it where their ``duration_s`` may not (Aircall's counts the ringing)."""
    answered, ended = properties.get("answered_at"), properties.get("ended_at")
    if answered is None or ended is None or ended < answered:  # fixed-width UTC strings
        return None
    return whole((ts_to_datetime(ended) - ts_to_datetime(answered)).total_seconds())


def skip_reason(
    activity_type: ActivityType,
    properties: Mapping[str, Any],
    settings: ActivitySettings,
    integration: str,
) -> Skip | None:
    """Why this activity is not created, or None when it is.

    A call with no duration is not filtered by ``min_duration_s``: the duration is unknown,
    not short (a dialer may send the call before it ends and the duration later).
    """
    rules = settings.for_type(activity_type)
    kind = activity_type.value
    if not rules.enabled:
        return Skip(
            f"{kind} activities are disabled", f"{kind} activities are disabled for {integration}"
        )
    if rules.min_duration_s is not None:
        duration = properties.get("duration_s")
        if duration is not None and duration < rules.min_duration_s:
            return Skip(
                f"shorter than min_duration_s ({rules.min_duration_s:g} s)",
                f"{kind} lasted {duration:g} s, shorter than min_duration_s "
                f"{rules.min_duration_s:g} s",
            )
    outcome = properties.get("outcome")
    if outcome is not None and outcome in rules.skip_outcomes:
        return Skip(
            f"outcome {outcome} is in skip_outcomes",
            f"{kind} outcome {outcome} is in skip_outcomes for {integration}",
        )
    return None


def skip_with_earlier(reason: str, exists: bool, other_sources: bool) -> tuple[str, bool]:
    """A skip's reason with what it does to the activity earlier events of the same activity
    created (``exists``), and whether that activity is removed: it is, unless other tools
    logged it too (``other_sources``: merged by a dedupe rule), when it stays theirs."""
    if not exists:
        return reason, False
    if other_sources:
        return reason + "; the activity stays: other tools logged it too", False
    return reason + "; the activity created earlier from it was removed", True


def draft_reason(activity_type: ActivityType, integration: str) -> str:
    """Why a draft creates nothing yet (what it says is kept for the event that sends it)."""
    if activity_type is ActivityType.EMAIL:
        return (
            f"not created: the email is a draft at {integration} (not sent yet); "
            "what it says is remembered for the event that sends it"
        )
    return (
        f"not created: the {activity_type.value} is planned at {integration} (not done yet); "
        "what it says is remembered for the event that marks it done"
    )


def activity_owner(mapping: MappingResult | None) -> str | None:
    """The owner an activity gets: the owner its rep maps to (a fallback owner included).
    None without a rep, or when only a round robin could name one: a turn is taken by
    records, never by an activity."""
    if mapping is None or mapping.round_robin_team is not None:
        return None
    return mapping.owner_id


def activity_owner_reason(mapping: MappingResult | None) -> str:
    """Why an activity has the owner :func:`activity_owner` gives it, in the mapping's words."""
    if mapping is None:
        return "no owner: the activity's events name no rep"
    if mapping.round_robin_team is not None:
        return f"no owner: {mapping.how}, but a round robin turns for records, not activities"
    return mapping.how


#: A call's outcomes that say someone picked up (the others: nobody did, or a machine).
ANSWERED_OUTCOMES = frozenset({"connected", "left_live_message", "wrong_number"})


def unanswered_inbound(activity_type: ActivityType, properties: Mapping[str, Any]) -> str | None:
    """Why an activity's rep may not fill an empty owner (``assign_on_activity``) — an
    inbound call not known to be answered: its rep is only the agent it rang — or None when
    it may (an answered inbound call, an outbound call or one of no direction: the rep
    acted, any other activity). ``properties``: the call as all its events so far say, so
    an event that makes it answered lets its rep fill the owner, whatever came first."""
    if activity_type is not ActivityType.CALL or properties.get("direction") != "inbound":
        return None
    outcome = properties.get("outcome")
    if properties.get("answered_at") is not None or outcome in ANSWERED_OUTCOMES:
        return None
    if outcome is not None:
        return f"the inbound call was not answered (outcome {outcome})"
    return "the inbound call was not answered (nothing says yet that anyone answered it)"


def unanswered_verdict(why: str, kind: str, rep: str, proposed: str | None) -> Verdict:
    """The owner decision of a record (of type ``kind``) with no owner that an unanswered
    inbound call names (``why``: :func:`unanswered_inbound`): not assigned to its rep."""
    return Verdict(
        Outcome.IGNORED,
        None,
        proposed,
        f"ignored: not assigned: {why}, so {rep} is only the agent it rang; assign_on_activity "
        f"gives an inbound call's rep as the owner once it is answered; the {kind} stays "
        "without an owner",
    )
