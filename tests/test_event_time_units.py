"""A vendor's event time in the other unit: HubSpot's `occurredAt` in seconds (milliseconds
expected) was taken as January 1970 — every owner change it dated then stale — while
Aircall's milliseconds (seconds expected) were refused. Both are refused now, naming the
unit it was likely in; good elements beside it go through (found by a probe)."""

from __future__ import annotations

import pytest

from leadsync.errors import EventError
from leadsync.sources.epoch import event_time_from_epoch


@pytest.mark.parametrize(
    ("value", "unit", "said"),
    [
        (1796560100, "ms", "got '1796560100', which reads as 1970-01-21 (a time in s?)"),
        ("1796560", "s", "got '1796560', which reads as 1970-01-21 (a time in ms?)"),
        (0, "s", "got '0', which reads as 1970-01-01 (a time in ms?)"),
    ],
)
def test_a_time_in_the_other_unit_is_refused_naming_it(value: object, unit: str, said: str) -> None:
    with pytest.raises(EventError) as raised:
        event_time_from_epoch(value, "occurredAt", unit)  # type: ignore[arg-type]
    assert f'field "occurredAt": must be a unix time in {unit}, {said}' in str(raised.value)


def test_a_time_of_these_years_is_taken() -> None:
    assert event_time_from_epoch(1796560100000, "occurredAt", "ms") == "2026-12-06T12:28:20.000Z"
    assert event_time_from_epoch("1796560100", "timestamp", "s") == "2026-12-06T12:28:20.000Z"
    assert event_time_from_epoch(None, "timestamp") is None
