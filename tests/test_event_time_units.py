"""A vendor's event time in the other unit: HubSpot's `occurredAt` in seconds (milliseconds
expected) was taken as January 1970 — every owner change it dated then stale — while
Aircall's milliseconds (seconds expected) were refused. Both are refused now, naming the
unit it was likely in; good elements beside it go through (found by a probe)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from leadsync.errors import EventError
from leadsync.sources import pipedrive, salesforce
from leadsync.sources.base import WebhookRequest, time_from_iso
from leadsync.sources.canonical import parse_event
from leadsync.sources.epoch import event_time_from_epoch

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"


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


# A time before 1973 from a vendor that says its time as text or in a unit leadsync guesses
# (Salesforce's LastModifiedDate as epoch milliseconds, Pipedrive's meta.timestamp told
# apart by magnitude), or as ISO 8601 from any tool: taken as 1970 (or 1900), every change
# it dated was ignored as stale without a word (found by a probe).

EARLY = "before 1973-03-03, earlier than any tool dates an event"


@pytest.mark.parametrize("field", ["occurred_at", "changed_at"])
@pytest.mark.parametrize("value", ["1900-01-01T00:00:00Z", "1970-01-21T18:53:20Z"])
def test_a_canonical_time_before_1973_is_refused_naming_its_field(field: str, value: str) -> None:
    line = {"id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record"}
    line |= {"object": "contact", "external_id": "p-1", field: value}
    with pytest.raises(EventError) as raised:
        parse_event(line, "dialer")
    assert f'field "{field}": {value.replace("Z", ".000Z")} is {EARLY}' in str(raised.value)
    later = line | {field: "1973-03-04T00:00:00Z"}
    assert parse_event(later, "dialer").id == "e1"


def test_salesforce_seconds_read_as_milliseconds_are_refused_naming_the_field() -> None:
    raw = (FIXTURES / "salesforce" / "om_lead.xml").read_text()
    stamp = re.search(r"<sf:LastModifiedDate>[^<]*</sf:LastModifiedDate>", raw)
    assert stamp is not None
    sent = raw.replace(stamp.group(0), "<sf:LastModifiedDate>1796000000</sf:LastModifiedDate>")
    adapter = salesforce.ADAPTER("crm", {"organization_id": "00D5g000004Xyz1"})
    request = WebhookRequest("POST", "/webhooks/crm", {"content-type": "text/xml"}, sent.encode())
    with pytest.raises(EventError) as raised:
        adapter.pieces(request)
    assert (
        'field "notifications.Notification[0].fields.LastModifiedDate": 1970-01-21T18:53:20.000Z is '
        + EARLY
        in str(raised.value)
    )


@pytest.mark.parametrize(("path", "value"), [("meta.timestamp", 1), ("meta.timestamp_milli", 5)])
def test_pipedrive_v1_times_of_1970_are_refused_naming_the_field(path: str, value: int) -> None:
    body = json.loads((FIXTURES / "pipedrive" / "v1.updated.person.json").read_text())["body"]
    body["meta"].pop("timestamp_micro", None)
    body["meta"].pop("timestamp_milli", None)
    body["meta"][path.rpartition(".")[2]] = value
    with pytest.raises(EventError) as raised:
        pipedrive.ADAPTER("crm", {}).occurred_at(body, {})
    assert f'field "{path}": 1970-01-01' in str(raised.value) and EARLY in str(raised.value)


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2026-02-29T10:00:00Z", "there is no day 2026-02-29"),
        ("2026-13-01T00:00:00Z", "there is no day 2026-13-01"),
        ("2026-11-01T24:00:00Z", "24:00:00"),
    ],
)
def test_a_vendor_time_in_iso_shape_that_names_no_moment_says_why(value: str, why: str) -> None:
    """A vendor's ISO time was refused as "must be an ISO 8601 time (e.g. …), got
    '2026-02-29T10:00:00Z'" — which looks like one; the canonical reader's reason is kept."""
    with pytest.raises(EventError) as raised:
        time_from_iso(value, "updated_at")
    said = str(raised.value)
    assert said.startswith(f"field \"updated_at\": '{value}' is not an ISO 8601 time"), said
    assert why in said, said
