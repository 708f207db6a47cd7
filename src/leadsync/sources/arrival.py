"""An event's time is never much later than its arrival.

A vendor's clock that runs ahead, or a time written in the wrong zone, dates a change in the
future; taken as it is, every later change of the record, its properties or its activity
read as older and was ignored ("stale") until that time passed, without a word — a Calendly
booking dated 2099 kept its meeting scheduled though it was canceled since. A change dated
more than :data:`ARRIVAL_SLACK_S` after its arrival is taken at its arrival; so is the time
of an activity that cannot lie ahead (a call, an email, a note — a meeting or a task may:
its time stays, its change is ordered at its arrival). The inbox keeps the vendor's time
(``occurred_at``) and the arrival (``received_at``) as they were.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache

from leadsync.model import ActivityType, Event, EventType, format_ts, ts_to_datetime

#: How far after its arrival an event's time is still taken as the vendor gives it (the
#: clocks of two machines differ by seconds; a zone mistake by hours).
ARRIVAL_SLACK_S = 300
#: Activities whose time may lie ahead of the change that tells of them.
MAY_LIE_AHEAD = frozenset({ActivityType.MEETING, ActivityType.TASK})


@lru_cache(maxsize=256)
def latest_time(received_at: str) -> str:
    """The latest time an event that arrived at ``received_at`` is taken at as given."""
    return format_ts(ts_to_datetime(received_at) + timedelta(seconds=ARRIVAL_SLACK_S))


def dated_by_arrival(events: Iterable[Event], received_at: str) -> None:
    """Each event's times no later than :func:`latest_time` of its arrival (in place)."""
    latest = latest_time(received_at)
    for event in events:
        if event.changed_at is not None and event.changed_at > latest:
            event.changed_at = received_at
        if event.occurred_at <= latest:
            continue
        if event.type is EventType.ACTIVITY and event.activity in MAY_LIE_AHEAD:
            if event.changed_at is None:  # the change ordered at its arrival, not its time
                event.changed_at = received_at
        else:
            event.occurred_at = received_at
