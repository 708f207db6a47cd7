"""Activity sync: which activities an integration creates, and why the others are skipped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsync.model import ActivityType
from leadsync.settings import ActivitySettings


def skip_reason(
    activity_type: ActivityType,
    properties: Mapping[str, Any],
    settings: ActivitySettings,
    integration: str,
) -> str | None:
    """Why this activity is not created, or None when it is.

    A call with no duration is not filtered by ``min_duration_s``: the duration is unknown,
    not short (a dialer may send the call before it ends and the duration later).
    """
    rules = settings.for_type(activity_type)
    kind = activity_type.value
    if not rules.enabled:
        return f"{kind} activities are disabled for {integration}"
    if rules.min_duration_s is not None:
        duration = properties.get("duration_s")
        if duration is not None and duration < rules.min_duration_s:
            return (
                f"{kind} lasted {duration:g} s, shorter than min_duration_s "
                f"{rules.min_duration_s:g} s"
            )
    outcome = properties.get("outcome")
    if outcome is not None and outcome in rules.skip_outcomes:
        return f"{kind} outcome {outcome} is in skip_outcomes for {integration}"
    return None
