"""Webhook authenticity checks: one pure function per vendor.

Each ``verify_*`` function returns ``None`` when the request is authentic and raises
:class:`SignatureError` otherwise. They never read the clock: where a time window applies the
caller passes ``now`` (unix seconds).

==========  ==================================================  ============================================  ======
Vendor      Header                                              Algorithm                                     Window
==========  ==================================================  ============================================  ======
HubSpot v3  ``X-HubSpot-Signature-v3`` and                      base64(HMAC-SHA256(secret, method + URI +     ±300 s
            ``X-HubSpot-Request-Timestamp`` (ms)                body + timestamp))
Calendly    ``Calendly-Webhook-Signature: t=<unix>,v1=<hex>``   hex HMAC-SHA256(signing key, t + "." + body)  ±180 s
Outreach    ``Outreach-Webhook-Signature: <hex>``               hex HMAC-SHA256(secret, body)                 none
Salesloft   ``x-salesloft-signature: <hex>``                    hex HMAC-SHA1(callback token, body)           none
Aircall     none; the body's ``token`` field                    equal to the configured token                 none
Pipedrive   ``Authorization: Basic base64(user:password)``      equal to the configured user and password     none
generic     ``X-Leadsync-Signature: sha256=<hex>``              hex HMAC-SHA256(secret, body)                 none
generic     the same and ``X-Leadsync-Timestamp: <unix s>``     hex HMAC-SHA256(secret, t + "." + body)       ±300 s
==========  ==================================================  ============================================  ======

Rules: header names are matched case-insensitively; hex digests are compared
case-insensitively; every comparison uses :func:`hmac.compare_digest`; a window is inclusive
and applies both ways (too old and too far in the future); a malformed value is a
:class:`SignatureError`, never another exception. A header sent more than once with
different values is refused (HTTP allows repeated headers; when ``headers`` has a ``getlist``
method, as :class:`leadsync.sources.hygiene.Headers` and Starlette's headers do, every copy is
seen): a bad copy cannot hide behind a good one.

Secrets come from configuration (an integration's ``secret_env`` names the environment
variable that holds them). They are never logged, and no error message contains a secret, the
expected signature or the signature that was received.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
from collections.abc import Mapping

from leadsync.errors import SignatureError

__all__ = [
    "GENERIC_TIMESTAMP",
    "SignatureError",
    "verify_aircall",
    "verify_basic_auth",
    "verify_calendly",
    "verify_generic",
    "verify_hubspot_v3",
    "verify_outreach",
    "verify_salesloft",
]

HUBSPOT_SIGNATURE = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP = "X-HubSpot-Request-Timestamp"
CALENDLY_SIGNATURE = "Calendly-Webhook-Signature"
OUTREACH_SIGNATURE = "Outreach-Webhook-Signature"
SALESLOFT_SIGNATURE = "x-salesloft-signature"
AUTHORIZATION = "Authorization"
GENERIC_SIGNATURE = "X-Leadsync-Signature"
GENERIC_TIMESTAMP = "X-Leadsync-Timestamp"
GENERIC_WINDOW_S = 300.0

_DIGITS = re.compile(r"[0-9]+")  # ASCII only; int() would also take "1_000", "١٢", " +1"
_MOST_DIGITS = 20
_HEX = re.compile(r"[0-9a-fA-F]+")


# The escapes HubSpot decodes in the URI before it signs it (its "Validate the v3 request
# signature": %3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B); every other one stays.
_HUBSPOT_DECODED = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def verify_hubspot_v3(
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float,
    window_s: float = 300,
) -> None:
    """HubSpot webhooks v3: ``uri`` is the full request URI HubSpot called."""
    _require_secret(secret)
    signature = _header(headers, HUBSPOT_SIGNATURE)
    timestamp = _header(headers, HUBSPOT_TIMESTAMP)
    millis = _parse_int(timestamp, f"header {HUBSPOT_TIMESTAMP}", "milliseconds since the epoch")
    _check_window(millis / 1000, now, window_s, f"header {HUBSPOT_TIMESTAMP}", raw=(millis, "ms"))
    try:
        received = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"header {HUBSPOT_SIGNATURE} is not valid base64") from None
    signed = _HUBSPOT_DECODED.sub(lambda m: chr(int(m[1], 16)), uri)
    message = method.encode() + signed.encode() + body + timestamp.encode()
    expected = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    if not hmac.compare_digest(received, expected):
        address, query = uri.partition("?")[::2]  # a query may hold a token: not said
        shown = f"{address}?…" if query else address
        raise SignatureError(
            f"header {HUBSPOT_SIGNATURE}: bad signature for {method} {shown} (the URI HubSpot "
            "signs; behind a proxy, set serve --public-url to the base URL HubSpot calls, "
            "https://host[/prefix] without /webhooks/NAME)"
        )


def verify_calendly(
    signing_key: str, body: bytes, headers: Mapping[str, str], now: float, window_s: float = 180
) -> None:
    """Calendly: ``t=<unix>,v1=<hex>``; parts in any order, spaces allowed, unknown keys ignored."""
    _require_secret(signing_key)
    value = _header(headers, CALENDLY_SIGNATURE)
    timestamps: list[str] = []
    candidates: list[str] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        key, sep, item = part.partition("=")
        if not sep:
            raise SignatureError(
                f"header {CALENDLY_SIGNATURE} is malformed: expected t=<unix>,v1=<hex>"
            )
        key = key.strip().lower()
        if key == "t":
            timestamps.append(item.strip())
        elif key == "v1":
            candidates.append(item.strip())
    if not timestamps:
        raise SignatureError(f"header {CALENDLY_SIGNATURE} has no t= part")
    if len(timestamps) > 1:
        raise SignatureError(f"header {CALENDLY_SIGNATURE} has more than one t= part")
    if not candidates:
        raise SignatureError(f"header {CALENDLY_SIGNATURE} has no v1= part")
    where = f"header {CALENDLY_SIGNATURE} part t"
    seconds = _parse_int(timestamps[0], where, "unix seconds")
    _check_window(float(seconds), now, window_s, where, raw=(seconds, "s"))
    message = timestamps[0].encode() + b"." + body
    expected = hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()
    for candidate in candidates:
        _check_hex(candidate, 64, f"header {CALENDLY_SIGNATURE} part v1")
    if not any(_hex_equal(candidate, expected) for candidate in candidates):
        raise SignatureError(f"header {CALENDLY_SIGNATURE}: bad signature")


def verify_outreach(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Outreach: hex HMAC-SHA256 of the raw body."""
    _verify_hex_hmac(secret, body, headers, OUTREACH_SIGNATURE, "sha256", prefix=None)


def verify_salesloft(token: str, body: bytes, headers: Mapping[str, str]) -> None:
    """Salesloft: hex HMAC-SHA1 of the raw body, keyed with the callback token."""
    _verify_hex_hmac(token, body, headers, SALESLOFT_SIGNATURE, "sha1", prefix=None)


def verify_generic(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    now: float | None = None,
    window_s: float = GENERIC_WINDOW_S,
    require_timestamp: bool = False,
) -> None:
    """leadsync's own format: ``sha256=<hex HMAC-SHA256 of the raw body>``.

    With ``now`` (unix seconds), a request may carry ``X-Leadsync-Timestamp: <unix seconds>``;
    the signature then covers ``<timestamp> + "." + body`` and the timestamp must be within
    ``window_s`` of ``now`` (both ways), so a captured request cannot be replayed later.
    Without the header the body alone is signed (senders that predate the timestamp), unless
    ``require_timestamp``. ``now=None`` reads no timestamp at all."""
    _require_secret(secret)
    if now is None or not _values(headers, GENERIC_TIMESTAMP):
        if now is not None and require_timestamp:
            raise SignatureError(
                f"missing header {GENERIC_TIMESTAMP}: this integration requires a signed "
                f"timestamp (unix seconds, tolerance {window_s:g} s)"
            )
        _verify_hex_hmac(secret, body, headers, GENERIC_SIGNATURE, "sha256", prefix="sha256")
        return
    timestamp = _header(headers, GENERIC_TIMESTAMP).strip()
    seconds = _parse_int(timestamp, f"header {GENERIC_TIMESTAMP}", "unix seconds")
    where = f"header {GENERIC_TIMESTAMP}"
    _check_window(float(seconds), now, window_s, where, "tolerance", raw=(seconds, "s"))
    message = timestamp.encode() + b"." + body
    _verify_hex_hmac(secret, message, headers, GENERIC_SIGNATURE, "sha256", prefix="sha256")


def verify_aircall(token: str, payload_token: str | None) -> None:
    """Aircall sends no signature: the body's ``token`` field must equal the configured token."""
    _require_secret(token)
    if payload_token is None:
        raise SignatureError(
            "body has no token field; allowed: a body whose token is the integration's "
            "Aircall webhook token (as Aircall sends it)"
        )
    if not isinstance(payload_token, str):
        kind = {bool: "true or false", dict: "an object", list: "a list"}.get(
            type(payload_token), "a number"
        )
        raise SignatureError(
            f"body field token is {kind}, not a string; allowed: the integration's Aircall "
            "webhook token as a string"
        )
    # A JSON body may escape a lone surrogate ("\\ud800"): it must compare unequal, not raise.
    given = payload_token.encode("utf-8", "surrogatepass")
    if not hmac.compare_digest(given, token.encode("utf-8", "surrogatepass")):
        raise SignatureError("body field token does not match the configured token")


def verify_basic_auth(username: str, password: str, headers: Mapping[str, str]) -> None:
    """Pipedrive: ``Authorization: Basic base64(username:password)``."""
    _require_secret(password)
    value = _header(headers, AUTHORIZATION)
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "basic":
        raise SignatureError(f"header {AUTHORIZATION} must use the Basic scheme")
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError(f"header {AUTHORIZATION}: credentials are not valid base64") from None
    user, sep, given = decoded.partition(b":")
    if not sep:
        raise SignatureError(f"header {AUTHORIZATION}: credentials must be username:password")
    user_ok = hmac.compare_digest(user, username.encode())
    password_ok = hmac.compare_digest(given, password.encode())
    if not (user_ok and password_ok):
        raise SignatureError(f"header {AUTHORIZATION}: wrong username or password")


def _verify_hex_hmac(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    name: str,
    digestmod: str,
    prefix: str | None,
) -> None:
    _require_secret(secret)
    value = _header(headers, name).strip()
    if prefix is not None:
        scheme, sep, value = value.partition("=")
        if not sep or scheme.strip().lower() != prefix:
            raise SignatureError(f"header {name} must look like {prefix}=<hex>")
        value = value.strip()
    expected = hmac.new(secret.encode(), body, digestmod).hexdigest()
    _check_hex(value, len(expected), f"header {name}")
    if not _hex_equal(value, expected):
        raise SignatureError(f"header {name}: bad signature")


def _require_secret(secret: str) -> None:
    if not secret:
        raise SignatureError("the configured secret is empty; refusing to accept the request")


def _values(headers: Mapping[str, str], name: str) -> set[str]:
    """Every distinct value of header ``name`` (any case), every copy of a repeated header
    included when ``headers`` can tell (a ``getlist`` method)."""
    wanted = name.lower()
    values = {value for key, value in headers.items() if key.lower() == wanted}
    getlist = getattr(headers, "getlist", None)
    if callable(getlist):
        values.update(getlist(wanted))
    return values


def _header(headers: Mapping[str, str], name: str) -> str:
    """The value of header ``name`` (any case); missing, empty or conflicting is an error."""
    values = _values(headers, name)
    if not values:
        raise SignatureError(f"missing header {name}")
    if len(values) > 1:
        raise SignatureError(f"header {name} is given more than once with different values")
    value = values.pop()
    if not value.strip():
        raise SignatureError(f"header {name} is empty")
    return value


def _parse_int(text: str, where: str, unit: str) -> int:
    text = text.strip()
    if not _DIGITS.fullmatch(text):
        raise SignatureError(f"{where} must be a non-negative integer ({unit})")
    if len(text) > _MOST_DIGITS:
        raise SignatureError(
            f"{where} is out of range ({len(text)} digits); allowed: {unit}, at most "
            f"{_MOST_DIGITS} digits"
        )
    return int(text)


def _check_window(
    sent: float,
    now: float,
    window_s: float,
    where: str,
    word: str = "window",
    raw: tuple[int, str] | None = None,
) -> None:
    """SignatureError when ``sent`` (seconds) is outside ``window_s`` of ``now``; ``raw``: the
    header's number and its unit ("s", "ms"), to say so when it reads as a time in the other
    unit (a relay's seconds where HubSpot sends milliseconds read as 1970)."""
    if not (math.isfinite(now) and math.isfinite(window_s) and window_s >= 0):
        raise ValueError("now and window_s must be finite and window_s non-negative")
    age = now - sent
    hint = ""
    if raw is not None:
        number, unit = raw
        other = number if unit == "ms" else number / 1000  # read in the other unit, seconds
        if abs(now - other) <= max(window_s, 86_400):
            said = ("seconds", "milliseconds") if unit == "ms" else ("milliseconds", "seconds")
            hint = f"; it reads as a time in {said[0]}, and the header holds {said[1]}"
    if age > window_s:
        raise SignatureError(
            f"{where}: timestamp {_seconds(age)} s old, {_seconds(age - window_s)} s past the "
            f"{word} (at most {window_s:g} s old){hint}"
        )
    if -age > window_s:
        raise SignatureError(
            f"{where}: timestamp {_seconds(-age)} s in the future, {_seconds(-age - window_s)} "
            f"s past the {word} (at most {window_s:g} s ahead){hint}"
        )


def _seconds(excess: float) -> int:
    return max(1, math.ceil(excess))


def _check_hex(value: str, length: int, where: str) -> None:
    if not _HEX.fullmatch(value):
        raise SignatureError(f"{where} is not hexadecimal")
    if len(value) != length:
        raise SignatureError(f"{where} must be {length} hexadecimal characters, got {len(value)}")


def _hex_equal(received: str, expected: str) -> bool:
    return hmac.compare_digest(received.lower().encode(), expected.lower().encode())
