"""When something happened at a vendor, from an epoch number: :func:`event_time_from_epoch`.

A time in the other unit reads as a time all the same — HubSpot's milliseconds sent as
seconds by a relay read as January 1970, and every change it dates is then older than the
record's and ignored as stale. A value before :data:`EARLIEST_EVENT_S` is no event's time:
refused, naming the unit it was likely in (Aircall's seconds sent as milliseconds are refused
already: they read as a year past 9999).
"""

from __future__ import annotations

from typing import Any

from leadsync.model import epoch_ts
from leadsync.sources.base import refuse, time_from_epoch
from leadsync.values import EpochUnit

#: The earliest epoch a vendor's time of an event can hold, in seconds (1973-03-03).
EARLIEST_EVENT_S = 1e8
#: The same, as a canonical time: canonical times compare as text.
EARLIEST_EVENT = epoch_ts(EARLIEST_EVENT_S)


def too_early(moment: str) -> str | None:
    """Why a canonical time is no event's time (before :data:`EARLIEST_EVENT`: a unix time
    read in the wrong unit, or a placeholder date such as 1900-01-01), else None."""
    if moment >= EARLIEST_EVENT:
        return None
    return (
        f"{moment} is before {EARLIEST_EVENT[:10]}, earlier than any tool dates an event (a "
        "unix time in another unit, or a placeholder date?); allowed: a time from then on"
    )


def event_time_from_epoch(value: Any, path: str, unit: EpochUnit = "s") -> str | None:
    """:func:`~leadsync.sources.base.time_from_epoch` of when something happened at the
    vendor (an event, a call): a value that reads as before 1973 is refused as a time in the
    other unit, not taken as 1970."""
    moment = time_from_epoch(value, path, unit)
    if moment is not None and float(value) < EARLIEST_EVENT_S * (1000 if unit == "ms" else 1):
        other = "s" if unit == "ms" else "ms"
        refuse(
            path,
            f"must be a unix time in {unit}, got {str(value)[:40]!r}, which reads as "
            f"{moment[:10]} (a time in {other}?)",
        )
    return moment


def event_time(moment: str | None, path: str) -> str | None:
    """``moment``, read from ``path`` as when something happened at the vendor: refused
    (naming ``path``) when it is before :data:`EARLIEST_EVENT` (:func:`too_early`)."""
    if moment is not None and (why := too_early(moment)) is not None:
        refuse(path, why)
    return moment
