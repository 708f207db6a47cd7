"""The canonical JSONL event format: leadsync.sources.canonical."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.errors import EventError, UserError
from leadsync.model import (
    CALL_OUTCOMES,
    DIRECTIONS,
    EMAIL_DIRECTIONS,
    MEETING_OUTCOMES,
    TASK_PRIORITIES,
    TASK_STATUSES,
    ActivityType,
    Event,
    EventType,
    ExternalUserRef,
    RecordRef,
    RecordType,
)
from leadsync.sources.canonical import (
    ALLOWED_KEYS,
    NOTE_BODY_MAX,
    event_to_dict,
    near_miss,
    parse_event,
    parse_line,
)
from leadsync.workspace import Workspace
from tests.helpers import setup

LINE_1 = (
    '{"id": "e1", "occurred_at": "2026-11-01T09:00:00Z", "type": "record", "object": "contact",'
    ' "external_id": "p-1", "properties": {"email": "kim@globex.test", "firstname": "Kim"},'
    ' "owner": "u-1", "associations": [{"object": "company", "external_id": "a-1"}]}'
)
LINE_2 = (
    '{"id": "e2", "occurred_at": "2026-11-01T09:05:00Z", "type": "owner", "object": "contact",'
    ' "external_id": "p-1", "owner": {"id": "u-2", "email": "bo@acme.test"}}'
)
LINE_3 = (
    '{"id": "e3", "occurred_at": "2026-11-01T09:10:00Z", "type": "activity", "activity": "call",'
    ' "external_id": "c-1", "owner": "u-1", "properties": {"direction": "outbound",'
    ' "duration_s": 95, "outcome": "connected", "body": "Intro call"},'
    ' "associations": [{"object": "contact", "external_id": "p-1"}]}'
)
LINE_4 = (
    '{"id": "e4", "occurred_at": "2026-11-01T09:00:00Z", "type": "record", "object": "deal",'
    ' "external_id": "d-1", "properties": {"name": "Globex renewal", "stage": "qualified",'
    ' "is_closed": false}, "associations": [{"object": "contact", "external_id": "p-1"}]}'
)

EXPECTED = {
    LINE_1: Event(
        id="e1",
        integration="generic",
        type=EventType.RECORD,
        occurred_at="2026-11-01T09:00:00.000Z",
        seq=1,
        object=RecordType.CONTACT,
        activity=None,
        external_id="p-1",
        email="kim@globex.test",
        domain=None,
        properties={"email": "kim@globex.test", "firstname": "Kim"},
        owner=ExternalUserRef(id="u-1", email=None),
        associations=(RecordRef(RecordType.COMPANY, external_id="a-1"),),
    ),
    LINE_2: Event(
        id="e2",
        integration="generic",
        type=EventType.OWNER,
        occurred_at="2026-11-01T09:05:00.000Z",
        seq=2,
        object=RecordType.CONTACT,
        activity=None,
        external_id="p-1",
        email=None,
        domain=None,
        properties={},
        owner=ExternalUserRef(id="u-2", email="bo@acme.test"),
        associations=(),
    ),
    LINE_3: Event(
        id="e3",
        integration="generic",
        type=EventType.ACTIVITY,
        occurred_at="2026-11-01T09:10:00.000Z",
        seq=3,
        object=None,
        activity=ActivityType.CALL,
        external_id="c-1",
        email=None,
        domain=None,
        properties={
            "direction": "outbound",
            "duration_s": 95,
            "outcome": "connected",
            "body": "Intro call",
        },
        owner=ExternalUserRef(id="u-1", email=None),
        associations=(RecordRef(RecordType.CONTACT, external_id="p-1"),),
    ),
    LINE_4: Event(
        id="e4",
        integration="generic",
        type=EventType.RECORD,
        occurred_at="2026-11-01T09:00:00.000Z",
        seq=4,
        object=RecordType.DEAL,
        activity=None,
        external_id="d-1",
        email=None,
        domain=None,
        properties={"name": "Globex renewal", "stage": "qualified", "is_closed": False},
        owner=None,
        associations=(RecordRef(RecordType.CONTACT, external_id="p-1"),),
    ),
}
SAMPLE_LINES = list(EXPECTED)


# ------------------------------------------------------------------ the documented lines


@pytest.mark.parametrize("line", SAMPLE_LINES, ids=["e1", "e2", "e3", "e4"])
def test_documented_lines_parse_to_the_expected_events(line: str) -> None:
    expected = EXPECTED[line]
    event = parse_line(line, "generic", expected.seq, where="events.jsonl:1")
    assert event == expected
    # The enums are the model's enums, not bare strings that happen to compare equal.
    assert type(event.type) is EventType
    assert event.object is None or type(event.object) is RecordType
    assert event.activity is None or type(event.activity) is ActivityType
    assert all(type(ref.type) is RecordType for ref in event.associations)


def test_sample_fields_in_detail() -> None:
    contact = parse_line(LINE_1, "generic", 7)
    assert contact.seq == 7
    assert contact.integration == "generic"
    assert contact.subject_ref() == RecordRef(RecordType.CONTACT, "p-1", "kim@globex.test")
    owner = parse_line(LINE_2.encode(), "generic")
    assert owner.owner == ExternalUserRef("u-2", "bo@acme.test")
    assert owner.properties == {}
    call = parse_line(LINE_3, "generic")
    assert call.properties["duration_s"] == 95
    assert call.subject_ref() is None
    deal = parse_line(LINE_4, "generic")
    assert deal.properties["is_closed"] is False


@pytest.mark.parametrize("line", SAMPLE_LINES, ids=["e1", "e2", "e3", "e4"])
def test_event_to_dict_round_trip(line: str) -> None:
    event = parse_line(line, "generic", 5)
    data = event_to_dict(event)
    assert parse_event(data, event.integration, event.seq) == event
    assert parse_line(json.dumps(data), event.integration, event.seq) == event
    assert event_to_dict(parse_event(data, "generic", 5)) == data
    assert set(data) <= set(ALLOWED_KEYS)


def test_event_to_dict_shape() -> None:
    assert event_to_dict(parse_line(LINE_1, "generic")) == {
        "id": "e1",
        "occurred_at": "2026-11-01T09:00:00.000Z",
        "type": "record",
        "object": "contact",
        "external_id": "p-1",
        "owner": "u-1",
        "properties": {"email": "kim@globex.test", "firstname": "Kim"},
        "associations": [{"object": "company", "external_id": "a-1"}],
    }
    assert event_to_dict(parse_line(LINE_2, "generic"))["owner"] == {
        "id": "u-2",
        "email": "bo@acme.test",
    }


def test_event_to_dict_keeps_an_explicit_no_owner() -> None:
    line = json.dumps(_base_owner(owner=None))
    event = parse_line(line, "generic")
    assert event.owner is None
    data = event_to_dict(event)
    assert "owner" in data and data["owner"] is None
    assert parse_event(data, "generic") == event


def test_event_to_dict_carries_email_and_domain_set_by_an_adapter() -> None:
    event = Event(
        id="x1",
        integration="vendor",
        type=EventType.RECORD,
        occurred_at="2026-11-01T09:00:00.000Z",
        object=RecordType.CONTACT,
        email="kim@globex.test",
    )
    again = parse_event(event_to_dict(event), "vendor")
    assert again.email == "kim@globex.test"
    assert again.subject_ref() == event.subject_ref()


# ------------------------------------------------------------------ bad lines

DROP = object()


def _base_record(**changes: Any) -> dict[str, Any]:
    return _apply(json.loads(LINE_1), changes)


def _base_owner(**changes: Any) -> dict[str, Any]:
    return _apply(json.loads(LINE_2), changes)


def _base_call(**changes: Any) -> dict[str, Any]:
    return _apply(json.loads(LINE_3), changes)


def _base_activity(activity: str, properties: dict[str, Any]) -> dict[str, Any]:
    return _apply(
        json.loads(LINE_3), {"activity": activity, "properties": properties, "external_id": "a-9"}
    )


def _apply(data: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    for key, value in changes.items():
        if value is DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _call_props(**changes: Any) -> dict[str, Any]:
    return _apply(
        {"direction": "outbound", "duration_s": 95, "outcome": "connected", "body": "Intro call"},
        changes,
    )


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data)


ALL_OBJECTS = "allowed: contact, company, deal, ticket, lead"
ALL_OUTCOMES = "allowed: " + ", ".join(CALL_OUTCOMES)

BAD_LINES: list[tuple[str, str, list[str]]] = [
    # (case, line, fragments the message must contain)
    ("non-JSON", '{"id": "e1", "occurred_at": ', ["not valid JSON"]),
    ("empty line", "", ["not valid JSON"]),
    ("array top level", "[1, 2]", ["must be a JSON object", "array"]),
    ("string top level", '"e1"', ["must be a JSON object", "string"]),
    ("NaN", _dump(_base_record(properties={"score": 1.0})).replace("1.0", "NaN"), ["NaN"]),
    ("missing id", _dump(_base_record(id=DROP)), ['field "id": required']),
    ("empty id", _dump(_base_record(id="")), ['field "id": must not be empty']),
    ("id a list", _dump(_base_record(id=["e1"])), ['field "id": expected a string, got ["e1"]']),
    (
        "missing occurred_at",
        _dump(_base_record(occurred_at=DROP)),
        ['field "occurred_at": required'],
    ),
    (
        "naive occurred_at",
        _dump(_base_record(occurred_at="2026-11-01 09:00")),
        [
            """field "occurred_at": '2026-11-01 09:00' has no time zone offset"""
            " (add Z or +00:00)"
        ],
    ),
    (
        "occurred_at not a time",
        _dump(_base_record(occurred_at="yesterday")),
        ["""field "occurred_at": 'yesterday' is not an ISO 8601 time"""],
    ),
    (
        "occurred_at out of range",
        _dump(_base_record(occurred_at="2026-02-30T09:00:00Z")),
        ['field "occurred_at"', "is not an ISO 8601 time"],
    ),
    (
        "occurred_at epoch",
        _dump(_base_record(occurred_at=1793523600)),
        ['field "occurred_at": expected an ISO 8601 time', "got 1793523600"],
    ),
    (
        "bad type",
        _dump(_base_record(type="recrod")),
        ["""field "type": 'recrod' is not allowed; allowed: record, owner, activity"""],
    ),
    ("missing type", _dump(_base_record(type=DROP)), ['field "type": required']),
    (
        "bad object",
        _dump(_base_record(object="person")),
        [f"""field "object": 'person' is not allowed; {ALL_OBJECTS}"""],
    ),
    ("missing object", _dump(_base_record(object=DROP)), ['field "object": required']),
    (
        "unknown top-level key",
        _dump(_base_record(source="crm")),
        ['field "source": not allowed', "allowed: " + ", ".join(ALLOWED_KEYS)],
    ),
    (
        "two unknown top-level keys",
        _dump(_base_record(source="crm", seq=3)),
        ['fields "seq", "source": not allowed'],
    ),
    (
        "owner event without owner key",
        _dump(_base_owner(owner=DROP)),
        ['field "owner": required on an owner event'],
    ),
    (
        "owner event with properties",
        _dump(_base_owner(properties={"firstname": "Kim"})),
        ['field "properties": must be absent or empty on an owner event'],
    ),
    (
        "owner event without external_id",
        _dump(_base_owner(external_id=DROP)),
        ['field "external_id": required on an owner event'],
    ),
    (
        "activity on record event",
        _dump(_base_record(activity="call")),
        ['field "activity": not allowed on a record event'],
    ),
    (
        "object on activity event",
        _dump(_base_call(object="contact")),
        ['field "object": not allowed on an activity event'],
    ),
    (
        "bad activity",
        _dump(_base_call(activity="cal")),
        ["""field "activity": 'cal' is not allowed; allowed: call, email, meeting, note, task"""],
    ),
    (
        "record without identifier",
        _dump(_base_record(external_id=DROP, properties={"firstname": "Kim"})),
        ['field "external_id": required', "properties.email for a contact"],
    ),
    (
        "deal without external_id",
        _dump(_apply(json.loads(LINE_4), {"external_id": None})),
        ['field "external_id": required'],
    ),
    (
        "bad call outcome",
        _dump(_base_call(properties=_call_props(outcome="hung_up"))),
        [f"""field "properties.outcome": 'hung_up' is not allowed; {ALL_OUTCOMES}"""],
    ),
    (
        "bad call direction",
        _dump(_base_call(properties=_call_props(direction="sideways"))),
        ['field "properties.direction"', "allowed: inbound, outbound"],
    ),
    (
        "duration as bool",
        _dump(_base_call(properties=_call_props(duration_s=True))),
        ['field "properties.duration_s": expected a number >= 0, got true'],
    ),
    (
        "duration negative",
        _dump(_base_call(properties=_call_props(duration_s=-5))),
        ['field "properties.duration_s": expected a number >= 0, got -5'],
    ),
    (
        "duration as text",
        _dump(_base_call(properties=_call_props(duration_s="ninety"))),
        ['field "properties.duration_s": expected a number >= 0, got "ninety"'],
    ),
    (
        "recording_url a number",
        _dump(_base_call(properties=_call_props(recording_url=5))),
        ['field "properties.recording_url": expected a string, got 5'],
    ),
    (
        "association without identifier",
        _dump(
            _base_call(
                associations=[{"object": "contact", "external_id": "p-1"}, {"object": "deal"}]
            )
        ),
        ['field "associations[1]": needs external_id, or email for a contact'],
    ),
    (
        "association without object",
        _dump(
            _base_call(
                associations=[{"object": "contact", "external_id": "p-1"}, {"external_id": "d"}]
            )
        ),
        ['field "associations[1].object": required', ALL_OBJECTS],
    ),
    (
        "association of contact to contact",
        _dump(_base_record(associations=[{"object": "contact", "external_id": "p-2"}])),
        ['field "associations[0].object": a contact cannot be associated with another contact'],
    ),
    (
        "association email on a deal",
        _dump(_base_call(associations=[{"object": "deal", "email": "kim@globex.test"}])),
        ['field "associations[0].email": only allowed for a contact'],
    ),
    (
        "association unknown key",
        _dump(_base_call(associations=[{"object": "deal", "id": "d-1"}])),
        ['field "associations[0].id": not allowed', "allowed: object, external_id, email, domain"],
    ),
    (
        "associations not a list",
        _dump(_base_call(associations={"object": "deal", "external_id": "d-1"})),
        ['field "associations": expected a list of objects'],
    ),
    (
        "nested property object",
        _dump(_base_record(properties={"email": "kim@globex.test", "address": {"city": "X"}})),
        ['field "properties.address": nested objects are not allowed'],
    ),
    (
        "list property with a number",
        _dump(_base_record(properties={"email": "kim@globex.test", "tags": ["a", 2]})),
        ['field "properties.tags[1]": a list property may only hold strings, got 2'],
    ),
    (
        "properties not an object",
        _dump(_base_record(properties=["email"])),
        ['field "properties": expected an object'],
    ),
    (
        "bad email",
        _dump(_base_record(properties={"email": "kim(at)globex.test"})),
        ["""field "properties.email": 'kim(at)globex.test' is not an email address"""],
    ),
    (
        "email with two @",
        _dump(_base_record(properties={"email": "kim@x@globex.test"})),
        ['field "properties.email"', "is not an email address"],
    ),
    (
        "bad domain",
        _dump(
            _apply(
                json.loads(LINE_1),
                {"object": "company", "associations": DROP, "properties": {"domain": "globex"}},
            )
        ),
        ["""field "properties.domain": 'globex' is not a domain"""],
    ),
    (
        "deal is_closed as text",
        _dump(_apply(json.loads(LINE_4), {"properties": {"is_closed": "no"}})),
        ['field "properties.is_closed": expected true or false, got "no"'],
    ),
    (
        "deal amount as text",
        _dump(_apply(json.loads(LINE_4), {"properties": {"amount": "1000"}})),
        ['field "properties.amount": expected a number, got "1000"'],
    ),
    (
        "deal closedate in epoch seconds",
        _dump(_apply(json.loads(LINE_4), {"properties": {"closedate": 1798675200}})),
        ['field "properties.closedate": '],
    ),
    (
        "deal closedate as a US date",
        _dump(_apply(json.loads(LINE_4), {"properties": {"closedate": "12/31/2026"}})),
        ['field "properties.closedate": ', "12/31/2026"],
    ),
    (
        "meeting end before start",
        _dump(
            _base_activity(
                "meeting",
                {"start": "2026-11-01T10:00:00Z", "end": "2026-11-01T09:30:00Z"},
            )
        ),
        [
            'field "properties.end": 2026-11-01T09:30:00.000Z is before properties.start'
            " 2026-11-01T10:00:00.000Z"
        ],
    ),
    (
        "aliases on a record",
        _dump(_apply(json.loads(LINE_4), {"aliases": ["d-2"]})),
        ['field "aliases": not allowed on a record event (only on activity events)'],
    ),
    (
        "aliases without an external_id",
        _dump(_apply(_base_activity("call", {}), {"external_id": DROP, "aliases": ["c-2"]})),
        ['field "aliases": needs an external_id'],
    ),
    (
        "an alias that is the external_id",
        _dump(_apply(_base_activity("call", {}), {"aliases": ["c-2", "a-9"]})),
        ["field \"aliases[1]\": 'a-9' is given twice (or is the external_id)"],
    ),
    (
        "aliases not a list",
        _dump(_apply(_base_activity("call", {}), {"aliases": "c-2"})),
        ['field "aliases": expected a list of ids, got "c-2"'],
    ),
    (
        "call ended before it was answered",
        _dump(
            _base_activity(
                "call",
                {"answered_at": "2026-11-01T10:00:00Z", "ended_at": "2026-11-01T09:59:00Z"},
            )
        ),
        [
            'field "properties.ended_at": 2026-11-01T09:59:00.000Z is before '
            "properties.answered_at 2026-11-01T10:00:00.000Z"
        ],
    ),
    (
        "meeting start naive",
        _dump(_base_activity("meeting", {"start": "2026-11-01T10:00:00"})),
        ['field "properties.start"', "has no time zone offset"],
    ),
    (
        "task bad due date",
        _dump(_base_activity("task", {"due": "2026-13-01"})),
        ['field "properties.due"', "is not a date"],
    ),
    (
        "task bad status",
        _dump(_base_activity("task", {"status": "done"})),
        ['field "properties.status"', "allowed: " + ", ".join(TASK_STATUSES)],
    ),
    (
        "note too long",
        _dump(_base_activity("note", {"body": "x" * (NOTE_BODY_MAX + 1)})),
        ['field "properties.body": too long'],
    ),
    (
        "owner unknown key",
        _dump(_base_record(owner={"id": "u-1", "title": "AE"})),
        ['field "owner.title": not allowed; allowed: id, email, name'],
    ),
    (
        "owner object empty",
        _dump(_base_record(owner={})),
        ['field "owner": needs id or email'],
    ),
    (
        "owner bad email",
        _dump(_base_record(owner={"email": "bo"})),
        ['field "owner.email"', "is not an email address"],
    ),
    (
        "owner a boolean",
        _dump(_base_record(owner=True)),
        ['field "owner": expected a user id', "got true"],
    ),
]


@pytest.mark.parametrize(
    ("line", "fragments"),
    [pytest.param(line, fragments, id=case) for case, line, fragments in BAD_LINES],
)
def test_bad_lines_are_refused_with_a_precise_message(line: str, fragments: list[str]) -> None:
    with pytest.raises(EventError) as caught:
        parse_line(line, "generic", 12, where="events.jsonl:12")
    error = caught.value
    assert isinstance(error, UserError)
    assert error.where == "events.jsonl:12"
    assert str(error).startswith("events.jsonl:12: ")
    for fragment in fragments:
        assert fragment in error.detail


def test_where_is_optional() -> None:
    with pytest.raises(EventError) as caught:
        parse_event([], "generic")
    assert caught.value.where is None
    assert str(caught.value) == "an event must be a JSON object, got an array"


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(EventError) as caught:
        parse_event(_base_call(activity="c" * 500), "generic")
    assert len(caught.value.detail) < 200


def test_invalid_utf8_is_an_event_error() -> None:
    with pytest.raises(EventError, match="UTF-8"):
        parse_line(b'{"id": "\xff"}', "generic", where="x:1")


# ------------------------------------------------------------------ normalization


def _parse(data: dict[str, Any]) -> Event:
    return parse_event(data, "generic")


def test_times_are_normalized_to_utc_milliseconds() -> None:
    for written, stored in [
        ("2026-11-01T09:00:00Z", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01T09:00:00.000Z", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01T09:00:00.123456Z", "2026-11-01T09:00:00.123Z"),
        ("2026-11-01T10:00:00+01:00", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01T09:00Z", "2026-11-01T09:00:00.000Z"),
        (" 2026-11-01T09:00:00z ", "2026-11-01T09:00:00.000Z"),
    ]:
        assert _parse(_base_record(occurred_at=written)).occurred_at == stored, written


def test_bad_milliseconds_in_the_canonical_shape_are_refused() -> None:
    # the canonical-shape shortcut of values.parse_time must not return these unchanged.
    for written in ("2026-11-01T09:00:00.+12Z", "2026-11-01T09:00:00. 12Z"):
        with pytest.raises(EventError, match="is not an ISO 8601 time"):
            _parse(_base_record(occurred_at=written))


def test_years_before_1000_are_refused() -> None:
    with pytest.raises(EventError, match="is not an ISO 8601 time"):
        _parse(_base_record(occurred_at="0999-01-01T00:00:00Z"))


def test_ids_may_be_integers() -> None:
    event = _parse(_base_record(id=17, external_id=42, owner=7))
    assert (event.id, event.external_id, event.owner) == ("17", "42", ExternalUserRef("7"))
    with pytest.raises(EventError, match='field "id": expected a string, got true'):
        _parse(_base_record(id=True))


def test_contact_email_is_normalized_and_names_the_contact() -> None:
    event = _parse(_base_record(external_id=DROP, properties={"email": "  Kim@Globex.TEST "}))
    assert event.external_id is None
    assert event.email == "kim@globex.test"
    assert event.properties["email"] == "kim@globex.test"
    assert event.subject_ref() == RecordRef(RecordType.CONTACT, email="kim@globex.test")


@pytest.mark.parametrize(
    "written",
    [
        "globex.test",
        " GLOBEX.test ",
        "https://www.globex.test/",
        "http://globex.test/about?x=1",
        "www.globex.test",
        "globex.test/",
    ],
)
def test_company_domain_is_normalized_and_names_the_company(written: str) -> None:
    data = _base_record(
        object="company", external_id=DROP, associations=DROP, properties={"domain": written}
    )
    event = _parse(data)
    assert event.domain == "globex.test"
    assert event.properties["domain"] == "globex.test"
    assert event.email is None


def test_null_email_does_not_name_the_contact() -> None:
    event = _parse(_base_record(properties={"email": None}))
    assert event.email is None
    assert event.properties == {"email": None}


def test_email_of_a_non_contact_is_a_free_property() -> None:
    data = _base_record(object="lead", properties={"email": "not checked"}, associations=DROP)
    event = _parse(data)
    assert event.email is None
    assert event.properties == {"email": "not checked"}


def test_call_vocabulary_is_case_insensitive() -> None:
    event = _parse(_base_call(properties=_call_props(direction=" Inbound", outcome="NO_ANSWER")))
    assert event.properties["direction"] == "inbound"
    assert event.properties["outcome"] == "no_answer"


def test_free_properties_are_kept_and_copied() -> None:
    properties = {
        "email": "kim@globex.test",
        "tags": ["a", "b"],
        "score": 1.5,
        "n": 3,
        "ok": True,
        "gone": None,
    }
    data = _base_record(properties=properties)
    event = _parse(data)
    assert event.properties == properties
    assert event.properties is not properties
    assert event.properties["tags"] is not properties["tags"]


def test_nulls_count_as_absent() -> None:
    data = _base_call(external_id=None, owner=None, associations=None, properties=None)
    data["object"] = None
    event = _parse(data)
    assert (event.external_id, event.owner, event.associations, event.properties) == (
        None,
        None,
        (),
        {},
    )


def test_owner_object_forms() -> None:
    assert _parse(_base_record(owner={"email": " Bo@Acme.test"})).owner == ExternalUserRef(
        None, "bo@acme.test"
    )
    assert _parse(_base_record(owner={"id": "u-9"})).owner == ExternalUserRef("u-9")


def test_associations_by_email_and_domain() -> None:
    data = _base_call(
        associations=[
            {"object": "contact", "email": "Kim@Globex.test"},
            {"object": "company", "domain": "https://www.globex.test/x"},
            {"object": "deal", "external_id": 9},
        ]
    )
    assert _parse(data).associations == (
        RecordRef(RecordType.CONTACT, email="kim@globex.test"),
        RecordRef(RecordType.COMPANY, domain="globex.test"),
        RecordRef(RecordType.DEAL, external_id="9"),
    )


def test_meeting_and_task_times() -> None:
    meeting = _parse(
        _base_activity(
            "meeting",
            {
                "start": "2026-11-01T10:00:00+01:00",
                "end": "2026-11-01T09:30:00Z",
                "outcome": "Completed",
            },
        )
    )
    assert meeting.properties == {
        "start": "2026-11-01T09:00:00.000Z",
        "end": "2026-11-01T09:30:00.000Z",
        "outcome": "completed",
    }
    task = _parse(_base_activity("task", {"due": "2026-11-03", "priority": "HIGH"}))
    assert task.properties == {"due": "2026-11-03T00:00:00.000Z", "priority": "high"}
    task = _parse(_base_activity("task", {"due": "2026-11-03T17:00:00-05:00"}))
    assert task.properties == {"due": "2026-11-03T22:00:00.000Z"}


def test_note_body_at_the_limit() -> None:
    body = "x" * NOTE_BODY_MAX
    assert _parse(_base_activity("note", {"body": body})).properties["body"] == body


def test_a_leading_byte_order_mark_is_ignored() -> None:
    assert parse_line("\ufeff" + LINE_1, "generic", 1) == EXPECTED[LINE_1]
    assert parse_line(("\ufeff" + LINE_1).encode(), "generic", 1) == EXPECTED[LINE_1]


# ------------------------------------------------------------------ property: round trip

_FIXED_ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))]


def _iso(moment: datetime, style: int) -> str:
    if style == 0 and moment.utcoffset() == timedelta(0):
        return moment.replace(tzinfo=None).isoformat() + "Z"
    if style == 1:
        return moment.isoformat(timespec="seconds")
    return moment.isoformat()


moments = st.datetimes(  # from 1973-03-05: an event time before 1973-03-03 is refused
    min_value=datetime(1973, 3, 5),
    max_value=datetime(2099, 12, 30),
    timezones=st.sampled_from(_FIXED_ZONES),
)
times = st.builds(_iso, moments, st.integers(0, 2))
ids = st.one_of(
    st.text(min_size=1, max_size=8).filter(lambda s: not s.isspace()),
    st.integers(0, 10**12),
)
_word = st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)
emails = st.builds(
    lambda local, host, upper, pad: (
        (" " * pad) + (f"{local}@{host}.test".upper() if upper else f"{local}@{host}.test")
    ),
    _word,
    _word,
    st.booleans(),
    st.integers(0, 2),
)
domains = st.builds(
    lambda prefix, host, suffix: f"{prefix}{host}.test{suffix}",
    st.sampled_from(["", "http://", "https://", "www.", "https://www.", "HTTP://WWW."]),
    _word,
    st.sampled_from(["", "/", "/about", "/a/b?c=1"]),
)
free_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.text(max_size=6), max_size=3),
)
_TYPED_NAMES = {
    "email", "domain", "is_closed", "amount", "direction", "duration_s", "outcome",
    "recording_url", "from_number", "to_number", "body", "title", "subject", "start", "end",
    "status", "priority", "due",
}  # fmt: skip
free_properties = st.dictionaries(
    # Free names: neither typed nor a near miss of a typed name (refused as a typo).
    st.text(min_size=1, max_size=8).filter(
        lambda key: key not in _TYPED_NAMES and near_miss(key, tuple(_TYPED_NAMES)) is None
    ),
    free_values,
    max_size=4,
)


def _cased(values: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda value, upper: value.upper() if upper else value,
        st.sampled_from(values),
        st.booleans(),
    )


owners = st.one_of(
    st.none(),
    ids,
    st.fixed_dictionaries({"id": ids}),
    st.fixed_dictionaries({"email": emails}),
    st.fixed_dictionaries({"id": ids, "email": emails}),
)


@st.composite
def associations(draw: st.DrawFn, subject: str | None) -> list[dict[str, Any]]:
    refs = []
    for _ in range(draw(st.integers(0, 3))):
        obj = draw(st.sampled_from([t.value for t in RecordType if t.value != subject]))
        ref: dict[str, Any] = {"object": obj}
        if obj == "contact" and draw(st.booleans()):
            ref["email"] = draw(emails)
        elif obj == "company" and draw(st.booleans()):
            ref["domain"] = draw(domains)
        if "email" not in ref and "domain" not in ref or draw(st.booleans()):
            ref["external_id"] = draw(ids)
        refs.append(ref)
    return refs


def _maybe(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    return draw(strategy) if draw(st.booleans()) else None


@st.composite
def activity_properties(draw: st.DrawFn, activity: str) -> dict[str, Any]:
    texts = st.text(max_size=20)
    typed: dict[str, Any] = {}
    if activity == "call":
        typed = {
            "direction": _maybe(draw, _cased(DIRECTIONS)),
            "duration_s": _maybe(
                draw, st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False))
            ),
            "outcome": _maybe(draw, _cased(CALL_OUTCOMES)),
            "recording_url": _maybe(draw, texts),
            "from_number": _maybe(draw, texts),
            "body": _maybe(draw, texts),
        }
    elif activity == "email":
        typed = {
            "direction": _maybe(draw, _cased(EMAIL_DIRECTIONS)),
            "subject": _maybe(draw, texts),
            "body": _maybe(draw, texts),
        }
    elif activity == "meeting":
        first, second = draw(moments), draw(moments)
        start, end = sorted([first, second])
        style = draw(
            st.integers(0, 2)
        )  # one style for both: truncating only one could reorder them
        typed = {
            "start": _iso(start, style),
            "end": _iso(end, style),
            "outcome": _maybe(draw, _cased(MEETING_OUTCOMES)),
            "title": _maybe(draw, texts),
        }
    elif activity == "task":
        due = st.one_of(times, st.dates(min_value=datetime(1970, 1, 1).date()).map(str))
        typed = {
            "status": _maybe(draw, _cased(TASK_STATUSES)),
            "priority": _maybe(draw, _cased(TASK_PRIORITIES)),
            "due": _maybe(draw, due),
            "subject": _maybe(draw, texts),
        }
    elif activity == "note":
        typed = {"body": _maybe(draw, st.text(max_size=200))}
    kept = {key: value for key, value in typed.items() if value is not None or draw(st.booleans())}
    return {**draw(free_properties), **kept}


@st.composite
def raw_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["record", "owner", "activity"]))
    data: dict[str, Any] = {"id": draw(ids), "occurred_at": draw(times), "type": kind}
    if kind == "activity":
        activity = draw(st.sampled_from([t.value for t in ActivityType]))
        data["activity"] = activity
        if draw(st.booleans()):
            data["external_id"] = draw(ids)
        data["properties"] = draw(activity_properties(activity))
        data["associations"] = draw(associations(None))
    else:
        obj = draw(st.sampled_from([t.value for t in RecordType]))
        data["object"] = obj
        properties: dict[str, Any] = {}
        if kind == "record":
            properties = draw(free_properties)
            if obj == "contact" and draw(st.booleans()):
                properties["email"] = draw(emails)
            elif obj == "company" and draw(st.booleans()):
                properties["domain"] = draw(domains)
            elif obj == "deal":
                properties["is_closed"] = draw(st.booleans())
                properties["amount"] = draw(st.integers(0, 10**9))
            data["properties"] = properties
        if kind == "owner" or draw(st.booleans()) or not {"email", "domain"} & set(properties):
            data["external_id"] = draw(ids)
        data["associations"] = draw(associations(obj))
    owner = draw(owners)
    if owner is not None or kind == "owner":
        data["owner"] = owner
    return data


@settings(max_examples=300)
@given(raw_events(), st.sampled_from(["generic", "acme"]), st.integers(0, 10**9))
def test_round_trip_of_generated_events(data: dict[str, Any], integration: str, seq: int) -> None:
    event = parse_event(data, integration, seq)
    out = event_to_dict(event)
    assert parse_event(out, integration, seq) == event
    assert parse_line(json.dumps(out), integration, seq) == event
    assert event_to_dict(parse_event(out, integration, seq)) == out
    assert len(event.occurred_at) == 24


def test_values_longer_than_the_store_keeps_are_refused_with_the_field_named() -> None:
    long_id = "x" * 201
    with pytest.raises(EventError, match=r'"external_id".*at most 200 characters, got 201'):
        parse_line(LINE_1.replace('"p-1"', f'"{long_id}"'), "generic")
    long_email = "a" * 320 + "@globex.test"
    with pytest.raises(EventError, match="at most 320 characters"):
        parse_line(LINE_1.replace("kim@globex.test", long_email), "generic")


# ------------------------------------------------------------------ typos of typed properties

# (case, event, the property, the typed one it is a near miss of)
NEAR_MISSES: list[tuple[str, dict[str, Any], str, str]] = [
    ("the issue's call", _base_call(properties={"duration": 3}), "duration", "duration_s"),
    ("case", _base_call(properties={"Duration_S": 3}), "Duration_S", "duration_s"),
    ("camel case", _base_call(properties={"durationS": 3}), "durationS", "duration_s"),
    ("another unit", _base_call(properties={"duration_ms": 3000}), "duration_ms", "duration_s"),
    ("a letter short", _base_call(properties={"outcom": "busy"}), "outcom", "outcome"),
    ("a letter wrong", _base_call(properties={"to_numbr": "+1 415"}), "to_numbr", "to_number"),
    ("camel number", _base_call(properties={"fromNumber": "+1 415"}), "fromNumber", "from_number"),
    ("a null typo", _base_call(properties={"directon": None}), "directon", "direction"),
    ("contact email", _base_record(properties={"emial": "kim@globex.test"}), "emial", "email"),
    (
        "company domain",
        _base_record(object="company", properties={"Domain": "globex.test"}),
        "Domain",
        "domain",
    ),
    (
        "deal closed",
        _base_record(object="deal", properties={"isClosed": True}, associations=DROP),
        "isClosed",
        "is_closed",
    ),
    ("meeting end", _base_activity("meeting", {"ends": "2026-11-01T10:00:00Z"}), "ends", "end"),
    ("task status", _base_activity("task", {"Status": "waiting"}), "Status", "status"),
    ("note body", _base_activity("note", {"bdy": "hello"}), "bdy", "body"),
]


@pytest.mark.parametrize(
    ("data", "name", "meant"),
    [pytest.param(data, name, meant, id=case) for case, data, name, meant in NEAR_MISSES],
)
def test_a_near_miss_of_a_typed_property_is_refused(
    data: dict[str, Any], name: str, meant: str
) -> None:
    with pytest.raises(EventError) as caught:
        parse_line(json.dumps(data), "generic", 3, where="events.jsonl:3")
    assert caught.value.detail.startswith(
        f'field "properties.{name}": unknown property; did you mean {meant}?'
    ), caught.value.detail


def test_free_properties_that_are_no_near_miss_stay_free() -> None:
    free = {
        "pipedrive_outcome": "x",
        "outreach_state": "y",
        "duration_minutes_billed": 4,
        "description": "a",
        "disposition": "b",
        "phone_number": "+1 415",
        "tags": ["a"],
    }
    assert _parse(_base_call(properties=free)).properties == free
    # A typed name of another type is free here: an email's subject on a call.
    assert _parse(_base_call(properties={"subject": "hi"})).properties == {"subject": "hi"}
    assert _parse(_base_record(object="lead", properties={"emial": "x"}, associations=DROP))
    # Close to a typed name, but a value that name could never take: not a typo of it.
    state = {"state": "confirmed"}  # a meeting's start is a time
    assert _parse(_base_activity("meeting", state)).properties == state
    assert _parse(_base_record(properties={"emails": 3})).properties == {"emails": 3}


def test_a_typed_property_of_the_wrong_type_names_it() -> None:
    with pytest.raises(EventError) as caught:
        _parse(_base_call(properties={"duration_s": "abc"}))
    assert caught.value.detail == 'field "properties.duration_s": expected a number >= 0, got "abc"'


def test_a_typo_is_a_dead_letter_not_a_call_past_the_filter(workspace: Workspace) -> None:
    # The issue: "duration": 3 made a 3-second call that a 15-second filter never saw.
    setup(workspace, activities={"call": {"enabled": True, "min_duration_s": 15}})
    line = json.dumps(_base_call(properties={"duration": 3, "outcome": "connected"}))
    summary = workspace.ingest("dialer", [line], source="calls.jsonl")
    assert (len(summary.dead_letters), summary.applied.events) == (1, 0)
    [letter] = workspace.dead_letters()
    assert (letter["source"], letter["line_no"]) == ("calls.jsonl", 1)
    assert letter["error"].startswith(
        'field "properties.duration": unknown property; did you mean duration_s?'
    )
    assert json.loads(letter["raw"])["properties"] == {"duration": 3, "outcome": "connected"}


@pytest.mark.parametrize("key", ["duration_s", "seats"])
@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 123456789012345678901234567890])
def test_a_whole_number_no_column_holds_is_refused_naming_the_property(
    workspace: Workspace, key: str, value: int
) -> None:
    # It reached the write as a defect ("Python int too large to convert to SQLite INTEGER"),
    # a dead letter naming no field and no line, while the lines beside it were applied.
    setup(workspace)
    good = json.dumps(_base_call(id="ok", properties={key: 2**63 - 1}))
    if key == "duration_s" and value < 0:
        value = 2**64  # a negative duration is refused as such
    bad = json.dumps(_base_call(id="big", properties={key: value}))
    summary = workspace.ingest("dialer", [good, bad], source="calls.jsonl")
    assert (summary.accepted, len(summary.dead_letters), summary.applied.events) == (1, 1, 1)
    [letter] = workspace.dead_letters()
    assert (letter["source"], letter["line_no"]) == ("calls.jsonl", 2)
    assert letter["error"].startswith(f'field "properties.{key}": whole number out of range (')
    assert "allowed: -9223372036854775808 to 9223372036854775807" in letter["error"]


def test_a_file_ingested_again_keeps_one_dead_letter_per_bad_line(workspace: Workspace) -> None:
    setup(workspace)
    good = json.dumps(_base_call(id="ok"))
    bad = json.dumps(_base_call(id="bad", properties={"duration_s": "abc"}))
    lines = [good, bad, "{not json"]
    first = workspace.ingest("dialer", lines, source="calls.jsonl")
    again = workspace.ingest("dialer", lines, source="calls.jsonl")
    # Told each time (the lines are still bad), kept once.
    assert len(first.dead_letters) == len(again.dead_letters) == 2
    assert again.duplicates == 1
    assert sorted(d["line_no"] for d in workspace.dead_letters()) == [2, 3]
    # The same lines under another name are the letters they were (reported, not kept
    # again); a line that changed is a letter of its own.
    other = workspace.ingest("dialer", lines, source="other.jsonl")
    assert len(other.dead_letters) == 2 and len(workspace.dead_letters()) == 2
    workspace.ingest("dialer", [good, bad.replace("abc", "abd")], source="calls.jsonl")
    assert len(workspace.dead_letters()) == 3
