"""leadsync.values: the one time parser and the one email and domain check, and that every
reader of those values in the package agrees with them."""

from __future__ import annotations

import pytest

from leadsync.errors import ConfigError, EventError, UserError
from leadsync.settings import load_config
from leadsync.sources.base import domain_or_none, email_or_none, time_from_epoch, time_from_iso
from leadsync.sources.canonical import parse_event
from leadsync.values import (
    normalize_domain,
    normalize_email,
    parse_time,
    since_ts,
    valid_domain,
    valid_email,
)

# ------------------------------------------------------------------------- parse_time


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("2026-11-01T09:00:00Z", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01T09:00:00.000Z", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01T09:00:00.123456Z", "2026-11-01T09:00:00.123Z"),
        ("2026-11-01T10:00:00+01:00", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01T04:00:00-0500", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01T09:00Z", "2026-11-01T09:00:00.000Z"),
        (" 2026-11-01T09:00:00z ", "2026-11-01T09:00:00.000Z"),
        ("2026-11-01 09:00:00+00:00", "2026-11-01T09:00:00.000Z"),
        ("1000-01-01T00:00:00Z", "1000-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
    ],
)
def test_an_iso_time_with_an_offset_becomes_the_fixed_utc_form(written: str, stored: str) -> None:
    assert parse_time(written) == stored


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (
            "yesterday",
            "'yesterday' is not an ISO 8601 time with offset (e.g. 2026-11-01T09:00:00Z)",
        ),
        (
            "2026-02-30T09:00:00Z",
            "'2026-02-30T09:00:00Z' is not an ISO 8601 time with offset: there is no day "
            "2026-02-30 (e.g. 2026-11-01T09:00:00Z)",
        ),
        ("2026-11-01T25:00:00Z", "offset: 25:00:00 is no time of day ("),
        (
            "2026-11-01T09:00:00+99:00",
            "offset: the offset +99:00 is out of range; allowed: -23:59 to +23:59 (",
        ),
        ("2026-11-01T09:00:00.+12Z", "'2026-11-01T09:00:00.+12Z' is not an ISO 8601 time"),
        ("0999-01-01T00:00:00Z", "'0999-01-01T00:00:00Z' is not an ISO 8601 time in the years"),
        ("0001-01-01T00:00:00+01:00", "' is not an ISO 8601 time in the years 1000 to 9999"),
        ("2026-11-01T09:00", "'2026-11-01T09:00' has no time zone offset (add Z or +00:00)"),
        ("2026-11-01", "'2026-11-01' has no time zone offset"),
        ("", "'' is not an ISO 8601 time"),
    ],
)
def test_a_bad_time_says_what_is_wrong_without_naming_a_field(written: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_time(written)
    assert message in str(caught.value), str(caught.value)


def test_a_long_value_is_shortened_in_the_message() -> None:
    with pytest.raises(ValueError) as caught:
        parse_time("x" * 500)
    assert len(str(caught.value)) < 140


@pytest.mark.parametrize("value", [1793523600, 1793523600.5, True, None, ["2026"], {"t": 1}])
def test_numbers_and_other_json_values_are_refused_without_epoch(value: object) -> None:
    with pytest.raises(ValueError, match="expected an ISO 8601 time with offset"):
        parse_time(value)


def test_epoch_seconds_and_milliseconds_where_the_caller_allows_them() -> None:
    assert parse_time(1793523600, epoch="s") == "2026-11-01T09:00:00.000Z"
    assert parse_time(1793523600.25, epoch="s") == "2026-11-01T09:00:00.250Z"
    assert parse_time(1793523600123, epoch="ms") == "2026-11-01T09:00:00.123Z"
    # Strings are still ISO times; booleans are never numbers.
    assert parse_time("2026-11-01T09:00:00Z", epoch="ms") == "2026-11-01T09:00:00.000Z"
    with pytest.raises(ValueError, match="expected an ISO 8601 time with offset or a unix time"):
        parse_time(True, epoch="s")
    for out_of_range in (-(10**12), 10**20, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="is not a unix time in s"):
            parse_time(out_of_range, epoch="s")


def test_a_time_without_offset_is_utc_where_the_caller_allows_it() -> None:
    assert parse_time("2026-11-01T09:00", naive_is_utc=True) == "2026-11-01T09:00:00.000Z"
    assert parse_time("2026-11-01", naive_is_utc=True) == "2026-11-01T00:00:00.000Z"
    assert parse_time("2026-11-01T10:00+01:00", naive_is_utc=True) == "2026-11-01T09:00:00.000Z"
    with pytest.raises(ValueError, match="^'later' is not an ISO 8601 time \\(e.g."):
        parse_time("later", naive_is_utc=True)


def test_a_plain_date_is_its_midnight_utc_where_the_caller_allows_it() -> None:
    assert parse_time("2026-11-01", plain_date=True) == "2026-11-01T00:00:00.000Z"
    assert parse_time(" 2026-11-01 ", plain_date=True) == "2026-11-01T00:00:00.000Z"
    assert parse_time("2026-11-01T09:00:00Z", plain_date=True) == "2026-11-01T09:00:00.000Z"
    with pytest.raises(ValueError, match="^'2026-13-01' is not a date \\(YYYY-MM-DD\\)$"):
        parse_time("2026-13-01", plain_date=True)
    with pytest.raises(ValueError, match="is not a date in the years 1000 to 9999"):
        parse_time("0999-01-01", plain_date=True)
    with pytest.raises(ValueError, match="has no time zone offset"):
        parse_time("2026-11-01T09:00", plain_date=True)


def test_since_is_a_duration_ago_with_the_year_1000_the_earliest() -> None:
    assert since_ts("7d", now="2026-11-10T00:00:00.000Z") == "2026-11-03T00:00:00.000Z"
    assert since_ts("12h", now="2026-11-10T00:00:00.000Z") == "2026-11-09T12:00:00.000Z"
    assert since_ts("90m", now="2026-11-10T00:00:00.000Z") == "2026-11-09T22:30:00.000Z"
    for far in ("969108d", "999999999h"):
        with pytest.raises(UserError, match="too far back"):
            since_ts(far)
    with pytest.raises(UserError, match="expected a duration"):
        since_ts("soon")
    with pytest.raises(UserError, match="expected a duration"):  # digits of another script
        since_ts("\u0663\u0660d")


def test_a_since_in_the_future_is_refused_not_an_empty_window() -> None:
    """``report --since 2030-01-01`` in a cron job would say all clear for ever."""
    now = "2026-11-10T00:00:00.000Z"
    assert since_ts("2026-11-10T00:00:00Z", now=now) == now  # now itself: an empty window
    for future in ("2030-01-01", "2026-11-10T00:00:01Z", "2026-11-10T01:00:00+00:00"):
        with pytest.raises(UserError, match=r"in the future \(it is 2026-11-10T00:00:00.000Z"):
            since_ts(future, now=now)


def test_since_takes_a_date_or_a_time_without_offset_as_utc() -> None:
    assert since_ts("2026-11-01") == "2026-11-01T00:00:00.000Z"
    assert since_ts(" 2026-11-01T09:30 ") == "2026-11-01T09:30:00.000Z"
    assert since_ts("2026-11-01 09:30:00") == "2026-11-01T09:30:00.000Z"
    assert since_ts("2026-11-01T09:30:00+01:00") == "2026-11-01T08:30:00.000Z"
    for wrong in ("2026-13-01", "yesterday", "0999-01-01"):
        with pytest.raises(UserError, match=r"a date \(2026-11-01\)"):
            since_ts(wrong)


def test_every_time_reader_uses_it_and_names_its_own_place() -> None:
    base = {"id": "e1", "type": "record", "object": "contact", "external_id": "p-1"}
    for written in ("2026-11-01T10:00:00+01:00", "2026-11-01T09:00:00Z"):
        event = parse_event({**base, "occurred_at": written}, "dialer")
        assert event.occurred_at == "2026-11-01T09:00:00.000Z"
        assert time_from_iso(written, "created_at") == event.occurred_at
        assert since_ts(written) == event.occurred_at
    assert time_from_epoch(1793523600, "timestamp") == "2026-11-01T09:00:00.000Z"
    assert time_from_epoch("1793523600000", "timestamp", "ms") == "2026-11-01T09:00:00.000Z"
    with pytest.raises(EventError, match="^field \"occurred_at\": 'noon' is not an ISO 8601"):
        parse_event({**base, "occurred_at": "noon"}, "dialer")
    # A vendor's time says what is wrong in the canonical reader's words.
    with pytest.raises(EventError, match="^field \"created_at\": 'noon' is not an ISO 8601"):
        time_from_iso("noon", "created_at")
    with pytest.raises(EventError, match='^field "timestamp": must be a unix time in s'):
        time_from_epoch("noon", "timestamp")
    with pytest.raises(UserError, match="^since 'noon': expected a duration"):
        since_ts("noon")


# ------------------------------------------------------------------ emails, domains


def test_an_email_is_trimmed_and_lowercased() -> None:
    assert normalize_email("  Kim@Globex.TEST ") == "kim@globex.test"


def test_an_email_typed_with_a_combining_accent_is_the_composed_one() -> None:
    """``jose`` + U+0301 and ``josé`` (one character) are one address, as an owner's email
    and a rep's may be typed by two tools."""
    assert normalize_email("Jose\u0301@Acme.test") == normalize_email("jos\u00e9@acme.test")
    assert normalize_email("jos\u00e9@acme.test") == "jos\u00e9@acme.test"


@pytest.mark.parametrize("text", ["kim@globex.test", " Kim@Globex.TEST ", "a+b.c@x", "a@b"])
def test_valid_emails(text: str) -> None:
    assert valid_email(text)


@pytest.mark.parametrize(
    "text",
    [
        "a b@x.test",  # the case the two checks disagreed on: one took it
        "ab@x .test",
        "a\tb@x.test",
        "a@b@x.test",
        "kim(at)globex.test",
        "@x.test",
        "kim@",
        "",
        "   ",
    ],
)
def test_invalid_emails(text: str) -> None:
    assert not valid_email(text)


_OWNERS = "owners:\n  - {{id: '101', email: '{email}'}}\n"


def test_an_email_with_a_space_is_refused_by_every_reader() -> None:
    """Canonical events, vendor payloads and the configuration read emails one way: before,
    the canonical parser and the configuration took ``a b@x.test`` while vendor adapters
    dropped it."""
    with pytest.raises(EventError, match=r"'a b@x.test' is not an email address .*no spaces"):
        parse_event(
            {
                "id": "e1",
                "occurred_at": "2026-11-01T09:00:00Z",
                "type": "record",
                "object": "contact",
                "properties": {"email": "a b@x.test"},
            },
            "dialer",
        )
    assert email_or_none("a b@x.test") is None
    with pytest.raises(ConfigError) as caught:
        load_config(_OWNERS.format(email="a b@x.test"), "team.yaml")
    assert caught.value.problems == [
        "team.yaml:2: owners[0].email: expected an email address with no spaces; got 'a b@x.test'"
    ]
    assert load_config(_OWNERS.format(email=" Ana@X.test "), "team.yaml").owners[0].email == (
        "Ana@X.test"
    )


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        (" https://www.Globex.test/about", "globex.test"),
        ("http://globex.test?x=1", "globex.test"),
        ("globex.test#top", "globex.test"),
        ("WWW.GLOBEX.TEST", "globex.test"),
    ],
)
def test_a_domain_is_normalized(text: str, domain: str) -> None:
    assert normalize_domain(text) == domain
    assert valid_domain(normalize_domain(text))


@pytest.mark.parametrize("text", ["globex", "n/a", "kim@globex.test", "glo bex.test", ""])
def test_invalid_domains(text: str) -> None:
    assert not valid_domain(normalize_domain(text))
    assert domain_or_none(text) is None


def test_a_since_whose_offset_sign_became_a_space_says_how_to_send_a_plus() -> None:
    """`?since=2026-11-01T10:00:00+02:00` unencoded arrives with a space for the +: the
    error said only what is expected (found by a probe)."""
    with pytest.raises(UserError) as refused:
        since_ts("2026-11-01T10:00:00 02:00", now="2026-12-01T00:00:00.000Z")
    assert str(refused.value).endswith("; a + in a URL's query reads as a space: write it %2B")
    with pytest.raises(UserError) as other:
        since_ts("yesterday", now="2026-12-01T00:00:00.000Z")
    assert "%2B" not in str(other.value)
    assert since_ts("2026-11-01T10:00:00+02:00", now="2026-12-01T00:00:00.000Z") == (
        "2026-11-01T08:00:00.000Z"
    )
