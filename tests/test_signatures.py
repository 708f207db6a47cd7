"""Webhook authenticity checks: leadsync.sources.signatures (pure; no database)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import pytest

from leadsync.errors import UserError
from leadsync.sources.signatures import (
    SignatureError,
    verify_aircall,
    verify_basic_auth,
    verify_calendly,
    verify_generic,
    verify_hubspot_v3,
    verify_outreach,
    verify_salesloft,
)

SECRET = "s3cr3t-Zq9-do-not-leak"
OTHER = "another-secret-entirely"
BODY = b'{"event":"invitee.created","payload":{"email":"kim@globex.test"}}'
NOW = 1_790_000_000.0
METHOD = "POST"
URI = "https://hooks.leadsync.test/hubspot?integration=crm-1"

Headers = Mapping[str, str]


def hex_hmac(key: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(key.encode(), message, algorithm).hexdigest()


# --- header builders: the headers a vendor would send, for a given secret, body and time ---


def hubspot_headers(
    secret: str, body: bytes, ts_ms: int, method: str = METHOD, uri: str = URI
) -> dict[str, str]:
    message = method.encode() + uri.encode() + body + str(ts_ms).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": str(ts_ms),
    }


def calendly_headers(key: str, body: bytes, t: int) -> dict[str, str]:
    v1 = hex_hmac(key, f"{t}.".encode() + body)
    return {"Calendly-Webhook-Signature": f"t={t},v1={v1}"}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --- one table: vendor -> (sign, verify) -----------------------------------------------------


@dataclass(frozen=True)
class Vendor:
    name: str
    header: str
    sign: Callable[[str, bytes], dict[str, str]]
    verify: Callable[[str, bytes, Headers], None]


VENDORS = [
    Vendor(
        "hubspot",
        "X-HubSpot-Signature-v3",
        lambda s, b: hubspot_headers(s, b, int(NOW * 1000)),
        lambda s, b, h: verify_hubspot_v3(s, METHOD, URI, b, h, NOW),
    ),
    Vendor(
        "calendly",
        "Calendly-Webhook-Signature",
        lambda s, b: calendly_headers(s, b, int(NOW)),
        lambda s, b, h: verify_calendly(s, b, h, NOW),
    ),
    Vendor(
        "outreach",
        "Outreach-Webhook-Signature",
        lambda s, b: {"Outreach-Webhook-Signature": hex_hmac(s, b)},
        verify_outreach,
    ),
    Vendor(
        "salesloft",
        "x-salesloft-signature",
        lambda s, b: {"x-salesloft-signature": hex_hmac(s, b, "sha1")},
        verify_salesloft,
    ),
    Vendor(
        "generic",
        "X-Leadsync-Signature",
        lambda s, b: {"X-Leadsync-Signature": "sha256=" + hex_hmac(s, b)},
        verify_generic,
    ),
]
IDS = [v.name for v in VENDORS]


def fails(call: Callable[[], None], *needles: str) -> SignatureError:
    """``call`` raises a SignatureError whose message contains every needle and no secret."""
    with pytest.raises(SignatureError) as info:
        call()
    message = str(info.value)
    for needle in needles:
        assert needle in message, message
    assert SECRET not in message and OTHER not in message, message
    return info.value


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_valid_signature_passes(vendor: Vendor) -> None:
    vendor.verify(SECRET, BODY, vendor.sign(SECRET, BODY))


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_wrong_secret_fails(vendor: Vendor) -> None:
    fails(lambda: vendor.verify(SECRET, BODY, vendor.sign(OTHER, BODY)), "bad signature")


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_tampered_body_fails(vendor: Vendor) -> None:
    headers = vendor.sign(SECRET, BODY)
    tampered = BODY.replace(b"kim", b"bob")
    fails(lambda: vendor.verify(SECRET, tampered, headers), "bad signature")
    fails(lambda: vendor.verify(SECRET, BODY + b" ", headers), "bad signature")


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_missing_header_names_it(vendor: Vendor) -> None:
    headers = vendor.sign(SECRET, BODY)
    del headers[vendor.header]
    fails(lambda: vendor.verify(SECRET, BODY, headers), f"missing header {vendor.header}")


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
@pytest.mark.parametrize("case", [str.lower, str.upper, str.swapcase])
def test_header_names_in_any_case_pass(vendor: Vendor, case: Callable[[str], str]) -> None:
    headers = {case(k): v for k, v in vendor.sign(SECRET, BODY).items()}
    vendor.verify(SECRET, BODY, headers)


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_empty_header_value_fails(vendor: Vendor) -> None:
    headers = vendor.sign(SECRET, BODY)
    headers[vendor.header] = "  "
    fails(lambda: vendor.verify(SECRET, BODY, headers), f"header {vendor.header} is empty")


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_conflicting_duplicate_header_fails(vendor: Vendor) -> None:
    headers = vendor.sign(SECRET, BODY)
    headers[vendor.header.upper()] = vendor.sign(OTHER, BODY)[vendor.header]
    fails(lambda: vendor.verify(SECRET, BODY, headers), "more than once")


@pytest.mark.parametrize("vendor", VENDORS, ids=IDS)
def test_empty_configured_secret_is_refused(vendor: Vendor) -> None:
    # With an empty key anyone could compute the signature: refuse rather than accept.
    fails(lambda: vendor.verify("", BODY, vendor.sign("", BODY)), "secret is empty")


@pytest.mark.parametrize("vendor", VENDORS[2:], ids=IDS[2:])
def test_hex_digest_is_case_insensitive(vendor: Vendor) -> None:
    headers = {k: v.upper() for k, v in vendor.sign(SECRET, BODY).items()}
    vendor.verify(SECRET, BODY, headers)


def test_hex_calendly_v1_is_case_insensitive() -> None:
    v1 = hex_hmac(SECRET, f"{int(NOW)}.".encode() + BODY).upper()
    verify_calendly(SECRET, BODY, {"Calendly-Webhook-Signature": f"t={int(NOW)},v1={v1}"}, NOW)


# --- malformed values: a SignatureError with a clear message, never another exception ---------

SHA256_HEX = hex_hmac(SECRET, BODY)

MALFORMED: list[tuple[str, Callable[[], None], str]] = [
    # HubSpot
    (
        "hubspot bad base64",
        lambda: verify_hubspot_v3(
            SECRET,
            METHOD,
            URI,
            BODY,
            {**hubspot_headers(SECRET, BODY, int(NOW * 1000)), "X-HubSpot-Signature-v3": "@@!"},
            NOW,
        ),
        "not valid base64",
    ),
    (
        "hubspot non-ascii signature",
        lambda: verify_hubspot_v3(
            SECRET,
            METHOD,
            URI,
            BODY,
            {**hubspot_headers(SECRET, BODY, int(NOW * 1000)), "X-HubSpot-Signature-v3": "é"},
            NOW,
        ),
        "not valid base64",
    ),
    *[
        (
            f"hubspot timestamp {ts!r}",
            (
                lambda ts=ts: verify_hubspot_v3(
                    SECRET,
                    METHOD,
                    URI,
                    BODY,
                    {**hubspot_headers(SECRET, BODY, 0), "X-HubSpot-Request-Timestamp": ts},
                    NOW,
                )
            ),
            "X-HubSpot-Request-Timestamp must be a non-negative integer",
        )
        for ts in ["abc", "1.5e12", "-1", "1_790_000_000_000", "٣"]
    ],
    (
        "hubspot timestamp of 400 digits",
        lambda: verify_hubspot_v3(
            SECRET,
            METHOD,
            URI,
            BODY,
            {**hubspot_headers(SECRET, BODY, 0), "X-HubSpot-Request-Timestamp": "9" * 400},
            NOW,
        ),
        "X-HubSpot-Request-Timestamp is out of range (400 digits)",
    ),
    # Calendly
    *[
        (
            f"calendly {value!r}",
            (
                lambda value=value: verify_calendly(
                    SECRET, BODY, {"Calendly-Webhook-Signature": value}, NOW
                )
            ),
            needle,
        )
        for value, needle in [
            (f"v1={SHA256_HEX}", "no t= part"),
            (f"t={int(NOW)}", "no v1= part"),
            (f"t={int(NOW)},t={int(NOW)},v1={SHA256_HEX}", "more than one t= part"),
            (f"t={int(NOW)};v1={SHA256_HEX}", "no v1= part"),
            (f"t={int(NOW)},v1", "malformed"),
            (f"t=now,v1={SHA256_HEX}", "part t must be a non-negative integer"),
            (f"t={int(NOW)},v1=xyz", "part v1 is not hexadecimal"),
            (f"t={int(NOW)},v1=abcd", "part v1 must be 64 hexadecimal characters, got 4"),
        ]
    ],
    # hex vendors
    (
        "outreach non-hex",
        lambda: verify_outreach(SECRET, BODY, {"Outreach-Webhook-Signature": "zz" * 32}),
        "Outreach-Webhook-Signature is not hexadecimal",
    ),
    (
        "outreach non-ascii",
        lambda: verify_outreach(SECRET, BODY, {"Outreach-Webhook-Signature": "é" * 64}),
        "is not hexadecimal",
    ),
    (
        "outreach short",
        lambda: verify_outreach(SECRET, BODY, {"Outreach-Webhook-Signature": SHA256_HEX[:40]}),
        "must be 64 hexadecimal characters, got 40",
    ),
    (
        "salesloft sha256 instead of sha1",
        lambda: verify_salesloft(SECRET, BODY, {"x-salesloft-signature": SHA256_HEX}),
        "must be 40 hexadecimal characters, got 64",
    ),
    (
        "generic without prefix",
        lambda: verify_generic(SECRET, BODY, {"X-Leadsync-Signature": SHA256_HEX}),
        "must look like sha256=<hex>",
    ),
    (
        "generic wrong algorithm",
        lambda: verify_generic(SECRET, BODY, {"X-Leadsync-Signature": "sha1=" + SHA256_HEX}),
        "must look like sha256=<hex>",
    ),
    (
        "generic non-hex",
        lambda: verify_generic(SECRET, BODY, {"X-Leadsync-Signature": "sha256=" + "g" * 64}),
        "is not hexadecimal",
    ),
    # Basic auth
    (
        "basic wrong scheme",
        lambda: verify_basic_auth("leadsync", SECRET, {"Authorization": f"Bearer {SECRET}"}),
        "must use the Basic scheme",
    ),
    (
        "basic bad base64",
        lambda: verify_basic_auth("leadsync", SECRET, {"Authorization": "Basic %%%"}),
        "not valid base64",
    ),
    (
        "basic no colon",
        lambda: verify_basic_auth(
            "leadsync",
            SECRET,
            {"Authorization": "Basic " + base64.b64encode(SECRET.encode()).decode()},
        ),
        "must be username:password",
    ),
]


@pytest.mark.parametrize(
    ("call", "needle"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_values_fail_cleanly(call: Callable[[], None], needle: str) -> None:
    error = fails(call, needle)
    assert isinstance(error, UserError)


def test_calendly_parses_spaces_and_order() -> None:
    t = int(NOW)
    v1 = hex_hmac(SECRET, f"{t}.".encode() + BODY)
    for value in [
        f"v1={v1},t={t}",
        f" t = {t} ,  v1= {v1} ",
        f"t={t},v0=deadbeef,v1={v1},",
        f"T={t},V1={v1}",
        f"t={t},v1={'0' * 64},v1={v1}",  # several v1 (key rotation): one must match
    ]:
        verify_calendly(SECRET, BODY, {"calendly-webhook-signature": value}, NOW)


# --- time windows (HubSpot: ms, default 300 s; Calendly: s, default 180 s) --------------------


def hubspot_at(sent: float, window: float | None = None) -> None:
    ts_ms = round(sent * 1000)
    headers = hubspot_headers(SECRET, BODY, ts_ms)
    if window is None:
        verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, NOW)
    else:
        verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, NOW, window_s=window)


def calendly_at(sent: float, window: float | None = None) -> None:
    headers = calendly_headers(SECRET, BODY, int(sent))
    if window is None:
        verify_calendly(SECRET, BODY, headers, NOW)
    else:
        verify_calendly(SECRET, BODY, headers, NOW, window_s=window)


WINDOWED = [
    ("hubspot", hubspot_at, 300, "X-HubSpot-Request-Timestamp"),
    ("calendly", calendly_at, 180, "Calendly-Webhook-Signature"),
]


@pytest.mark.parametrize(
    ("send", "window", "header"), [w[1:] for w in WINDOWED], ids=["hubspot", "calendly"]
)
def test_window_edges(send: Callable[..., None], window: int, header: str) -> None:
    for offset in [0, 1, window - 1, window]:  # inclusive both ways
        send(NOW - offset)
        send(NOW + offset)
    fails(
        lambda: send(NOW - window - 1),
        header,
        "s old, 1 s past the window",
        f"(at most {window} s old)",
    )
    fails(lambda: send(NOW - window - 3600), "s old, 3600 s past the window")
    fails(lambda: send(NOW + window + 1), header, "s in the future, 1 s past the window")
    fails(
        lambda: send(NOW + window + 60), "in the future, 60 s past", f"(at most {window} s ahead)"
    )
    fails(lambda: send(0), " s old, ")


@pytest.mark.parametrize(
    ("send", "window"), [w[1:3] for w in WINDOWED], ids=["hubspot", "calendly"]
)
def test_custom_window(send: Callable[..., None], window: int) -> None:
    send(NOW - 30, window=30)
    fails(lambda: send(NOW - 31, window=30), "31 s old, 1 s past the window (at most 30 s old)")
    fails(lambda: send(NOW - 1, window=0), "1 s old, 1 s past the window (at most 0 s old)")


def test_hubspot_millisecond_edge() -> None:
    hubspot_at(NOW - 300)
    fails(lambda: hubspot_at(NOW - 300.001), "s old, 1 s past the window")
    fails(lambda: hubspot_at(NOW + 300.001), "in the future, 1 s past the window")


def test_stale_timestamp_is_refused_even_with_a_good_signature() -> None:
    # A replayed request: signature fine, timestamp old. The window is what stops it.
    headers = hubspot_headers(SECRET, BODY, int((NOW - 301) * 1000))
    fails(lambda: verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, NOW), " s old, ")
    verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, NOW - 301)


def test_hubspot_signs_method_and_uri() -> None:
    headers = hubspot_headers(SECRET, BODY, int(NOW * 1000))
    fails(lambda: verify_hubspot_v3(SECRET, "PUT", URI, BODY, headers, NOW), "bad signature")
    other_uri = URI.replace("crm-1", "crm-2")
    fails(lambda: verify_hubspot_v3(SECRET, METHOD, other_uri, BODY, headers, NOW), "bad signature")


def test_hubspot_signs_the_uri_with_its_twelve_escapes_decoded() -> None:
    """HubSpot decodes %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B (either case) in the
    URI before it signs it, and no other escape: a query holding an email, a path or a list
    is checked as HubSpot signed it, and a signature over the raw URI, which HubSpot never
    makes, is refused."""
    raw = "https://hooks.leadsync.test/hubspot?u=ops%40acme.test&next=%2fa%2Fb&ids=1%2C2&n=a%20b"
    signed = "https://hooks.leadsync.test/hubspot?u=ops@acme.test&next=/a/b&ids=1,2&n=a%20b"
    ts = int(NOW * 1000)
    verify_hubspot_v3(SECRET, METHOD, raw, BODY, hubspot_headers(SECRET, BODY, ts, uri=signed), NOW)
    as_raw = hubspot_headers(SECRET, BODY, ts, uri=raw)
    fails(lambda: verify_hubspot_v3(SECRET, METHOD, raw, BODY, as_raw, NOW), "bad signature")


def test_hubspot_timestamp_is_signed() -> None:
    headers = hubspot_headers(SECRET, BODY, int(NOW * 1000))
    headers["X-HubSpot-Request-Timestamp"] = str(int(NOW * 1000) - 1)
    fails(lambda: verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, NOW), "bad signature")


def test_calendly_timestamp_is_signed() -> None:
    v1 = hex_hmac(SECRET, f"{int(NOW)}.".encode() + BODY)
    value = f"t={int(NOW) - 1},v1={v1}"
    fails(
        lambda: verify_calendly(SECRET, BODY, {"Calendly-Webhook-Signature": value}, NOW),
        "bad signature",
    )


def test_hubspot_missing_timestamp_header() -> None:
    headers = hubspot_headers(SECRET, BODY, int(NOW * 1000))
    del headers["X-HubSpot-Request-Timestamp"]
    fails(
        lambda: verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, NOW),
        "missing header X-HubSpot-Request-Timestamp",
    )


@pytest.mark.parametrize("now", [float("nan"), float("inf")])
def test_non_finite_clock_is_a_programming_error(now: float) -> None:
    headers = hubspot_headers(SECRET, BODY, int(NOW * 1000))
    with pytest.raises(ValueError):
        verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, now)


# --- Aircall: the body's token -------------------------------------------------------------


def test_aircall() -> None:
    verify_aircall(SECRET, SECRET)
    fails(lambda: verify_aircall(SECRET, OTHER), "does not match")
    fails(lambda: verify_aircall(SECRET, SECRET + "x"), "does not match")
    fails(lambda: verify_aircall(SECRET, SECRET.upper()), "does not match")
    fails(lambda: verify_aircall(SECRET, "ünïcödé"), "does not match")
    fails(lambda: verify_aircall(SECRET, None), "body has no token field")
    fails(lambda: verify_aircall(SECRET, 123), "not a string")  # type: ignore[arg-type]
    fails(lambda: verify_aircall("", ""), "secret is empty")


# --- Pipedrive: HTTP Basic auth ---------------------------------------------------------------


def test_basic_auth() -> None:
    verify_basic_auth("leadsync", SECRET, basic("leadsync", SECRET))
    verify_basic_auth("leadsync", "pa:ss", basic("leadsync", "pa:ss"))  # colon in password
    verify_basic_auth(
        "leadsync",
        SECRET,
        {"authorization": basic("leadsync", SECRET)["Authorization"].replace("Basic", "basic")},
    )
    fails(
        lambda: verify_basic_auth("leadsync", SECRET, basic("leadsync", OTHER)),
        "wrong username or password",
    )
    fails(
        lambda: verify_basic_auth("leadsync", SECRET, basic("intruder", SECRET)),
        "wrong username or password",
    )
    fails(lambda: verify_basic_auth("leadsync", SECRET, {}), "missing header Authorization")
    fails(lambda: verify_basic_auth("leadsync", "", basic("leadsync", "")), "secret is empty")


# --- the secret never appears in a message ---------------------------------------------------


def test_no_message_contains_the_secret_or_a_signature() -> None:
    """Collect every failure above in one place and check the messages as a whole."""
    calls: list[Callable[[], None]] = [m[1] for m in MALFORMED]
    for v in VENDORS:
        calls += [
            partial(v.verify, SECRET, BODY, v.sign(OTHER, BODY)),
            partial(v.verify, SECRET, BODY + b"x", v.sign(SECRET, BODY)),
            partial(v.verify, SECRET, BODY, {}),
        ]
    calls += [
        lambda: hubspot_at(NOW - 1000),
        lambda: calendly_at(NOW + 1000),
        lambda: verify_aircall(SECRET, OTHER),
        lambda: verify_basic_auth("leadsync", SECRET, basic("leadsync", OTHER)),
        lambda: verify_basic_auth("leadsync", SECRET, {"Authorization": f"Bearer {SECRET}"}),
    ]
    leaks = {SECRET, OTHER, SHA256_HEX, hex_hmac(SECRET, BODY, "sha1")}
    for v in VENDORS:
        leaks |= set(v.sign(SECRET, BODY).values()) | set(v.sign(OTHER, BODY).values())
    leaks -= {str(int(NOW)), str(int(NOW * 1000))}  # timestamps are not secret
    for call in calls:
        with pytest.raises(SignatureError) as info:
            call()
        message = str(info.value)
        assert message
        for leak in leaks:
            assert leak not in message, (message, leak)


def test_a_timestamp_in_the_other_unit_is_said_so() -> None:
    """A HubSpot timestamp sent in seconds read "1790000000 s old" (1970), a Calendly t in
    milliseconds "… s in the future": neither named the unit (found by a probe)."""
    headers = hubspot_headers(SECRET, BODY, int(NOW))  # seconds, where HubSpot sends ms
    fails(
        lambda: verify_hubspot_v3(SECRET, METHOD, URI, BODY, headers, NOW),
        "; it reads as a time in seconds, and the header holds milliseconds",
    )
    stale = hubspot_headers(SECRET, BODY, int((NOW - 3600) * 1000))  # an hour old: no hint
    with pytest.raises(SignatureError) as refused:
        verify_hubspot_v3(SECRET, METHOD, URI, BODY, stale, NOW)
    assert "reads as a time in" not in str(refused.value)
    # Calendly's t in milliseconds (it sends unix seconds).
    calendly = calendly_headers(SECRET, BODY, int(NOW * 1000))
    fails(
        lambda: verify_calendly(SECRET, BODY, calendly, NOW),
        "; it reads as a time in milliseconds, and the header holds seconds",
    )
