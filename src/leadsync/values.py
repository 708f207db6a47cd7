"""The values leadsync reads from outside, read the same way everywhere: times, emails, domains,
phone numbers.

Every reader of a time — canonical events, vendor payloads, ``--since``, ``--at`` — goes
through :func:`parse_time`; every email and domain through :func:`normalize_email` /
:func:`valid_email` and :func:`normalize_domain` / :func:`valid_domain`. What a caller may
allow differs (epochs for a vendor that sends them, no offset for ``--since``) and is a
parameter, never a second parser. A ``since`` of the faces (``30d``, a date, a time) is
read by :func:`since_ts`, which adds durations ago and reads the rest with
:func:`parse_time`.

:func:`parse_time` raises ``ValueError`` with a message that says what is wrong with the value
(``'yesterday' is not an ISO 8601 time with offset (e.g. 2026-11-01T09:00:00Z)``) but not
where: each caller names its own field, JSON path or option. :func:`since_ts` is the one
reader of every ``since`` (the CLI's ``--since``, the admin API's ``since``), so it names the
value itself and raises UserError (exit 2, HTTP 400).

Imports only :mod:`leadsync.model` (the fixed-width time format) and :mod:`leadsync.errors`,
so every layer above it — settings, rules, sources, the faces — may use it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any, Literal

import phonenumbers

from leadsync.errors import UserError
from leadsync.model import add_days, format_ts, now_ts

__all__ = [
    "EpochUnit",
    "normalize_domain",
    "normalize_email",
    "PhoneNumber",
    "read_call_number",
    "read_phone",
    "parse_time",
    "since_ts",
    "valid_domain",
    "valid_email",
    "whole",
]

EpochUnit = Literal["s", "ms"]

TIME_EXAMPLE = "e.g. 2026-11-01T09:00:00Z"
#: The largest integer both databases hold (BIGINT): no id is above it, nor can a limit be.
LARGEST_ID = 2**63 - 1


def stored_id(number: int) -> bool:
    """Whether ``number`` can be a row's id: 1 to :data:`LARGEST_ID` (no row has another,
    and a driver could not even send one beyond: a lookup of it is "none", never an error)."""
    return 1 <= number <= LARGEST_ID


def digits(text: str) -> bool:
    """Whether ``text`` is a whole number written in ASCII digits — what ids, limits and
    durations take. ``int()`` would also read ``1_0`` (as 10), ``+1``, `` 1`` and other
    scripts' digits (``١``), each as a number that was not written."""
    return text.isascii() and text.isdigit()


def digits_only(value: Any) -> Any:
    """A path or query integer of the admin API or the console as digits only (a pydantic
    ``BeforeValidator``): ``1_0``, ``1.0``, ``+1`` or `` 1`` would be read as another number
    (``1_0`` as 10) by the lax parse, and answered for it."""
    if isinstance(value, str) and not digits(value):
        raise ValueError("must be a whole number written in digits, like 42")
    return value


# The canonical time (what the store keeps) and its no-milliseconds "Z" variant: most times
# that arrive are one of these, and they need no datetime parsing beyond a range check.
_FAST_TS = re.compile(r"[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z", re.ASCII)
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# One @ with text on both sides, and no whitespace anywhere (after trimming).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_SPACE = re.compile(r"\s")
# A number written in E.164 already: + and 7 to 15 digits, no leading zero.
_E164 = re.compile(r"\+[1-9]\d{6,14}", re.ASCII)


# --------------------------------------------------------------------------- times


def parse_time(
    value: object,
    *,
    epoch: EpochUnit | None = None,
    naive_is_utc: bool = False,
    plain_date: bool = False,
) -> str:
    """A time as the fixed-width UTC string (:func:`leadsync.model.format_ts`).

    A string is an ISO 8601 time, trimmed, with an offset (``Z``, ``z``, ``+01:00``,
    ``+0100``); years 1000 to 9999 (the fixed form needs four digits to compare as text).
    What a caller may allow besides:

    - ``epoch="s"`` or ``"ms"``: a number (int or float, never a bool) is a unix time in that
      unit. Without it, numbers are refused.
    - ``naive_is_utc``: a time without an offset is UTC (otherwise it is refused: nobody can
      tell which zone it meant).
    - ``plain_date``: ``YYYY-MM-DD`` is that day at 00:00 UTC.

    Raises ValueError saying what is wrong, without naming the field.
    """
    if isinstance(value, str):
        fast = _FAST_TS.fullmatch(value)
        if fast is not None and _in_calendar(value[:19]):
            return value if fast.group(1) else value[:19] + ".000Z"
        return _from_text(str(value), naive_is_utc, plain_date)
    if epoch is not None and isinstance(value, int | float) and not isinstance(value, bool):
        return _from_epoch(value, epoch)
    wanted = "an ISO 8601 time" if naive_is_utc else "an ISO 8601 time with offset"
    if epoch is not None:
        wanted += f" or a unix time in {epoch}"
    example = f"{TIME_EXAMPLE}{_OR_DATE if plain_date else ''}"
    raise ValueError(f"expected {wanted} ({example}), got {_show(value)}")


def since_ts(text: str, now: str | None = None) -> str:
    """``30d``, ``12h``, ``90m`` ago (of ``now``, default the clock), a date (``2026-11-01``:
    its midnight, UTC) or an ISO time (without an offset: UTC), as a canonical time. The one
    reader of every ``--since`` (and the admin API's ``since``); UserError naming the value
    and what is allowed."""
    now = now or now_ts()
    units = {"d": 1.0, "h": 1 / 24, "m": 1 / 1440}
    value = text.strip()
    if digits(value[:-1]) and value[-1:] in units:
        try:
            moment = add_days(now, -int(value[:-1]) * units[value[-1]])
        except (OverflowError, ValueError):
            moment = ""
        if len(moment) != len(now) or moment[:4] < "1000":  # before year 1000: not a time
            raise UserError(f"since {text!r}: too far back; the earliest is the year 1000")
        return moment
    try:
        moment = parse_time(value, naive_is_utc=True, plain_date=True)
    except ValueError:
        # An offset's + sent unencoded in a URL's query arrives as a space.
        plus = (
            "; a + in a URL's query reads as a space: write it %2B"
            if _SPACED_OFFSET.search(value)
            else ""
        )
        raise UserError(
            f"since {text!r}: expected a duration (30d, 12h, 90m), a date (2026-11-01) or an "
            f"ISO time (2026-11-01T09:00:00Z; without an offset it is UTC){plus}"
        ) from None
    if moment > now:  # nothing happened since then: a typo that would hide every alert
        raise UserError(f"since {text!r}: in the future (it is {now} now); allowed: a past time")
    return moment


# A time whose offset's sign is a space (`10:00:00 02:00`).
_SPACED_OFFSET = re.compile(r"\d \d\d:?\d\d$")

# What a time that may be a plain date adds to its example.
_OR_DATE = ", or a date such as 2026-11-01"


def _in_calendar(text: str) -> bool:
    """Whether the date and time fields are in range (no month 13, no February 30)."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _from_text(text: str, naive_is_utc: bool, plain_date: bool) -> str:
    raw = text.strip()
    if plain_date and _PLAIN_DATE.fullmatch(raw):
        try:
            day = date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{_quote(text)} is not a date (YYYY-MM-DD)") from None
        if day.year < 1000:
            raise ValueError(f"{_quote(text)} is not a date in the years 1000 to 9999")
        return f"{raw}T00:00:00.000Z"
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        offset = "" if naive_is_utc else " with offset"
        example = f"{TIME_EXAMPLE}{_OR_DATE if plain_date else ''}"
        raise ValueError(
            f"{_quote(text)} is not an ISO 8601 time{offset}{_why_not(raw)} ({example})"
        ) from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise ValueError(f"{_quote(text)} has no time zone offset (add Z or +00:00)")
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        moment = datetime.min.replace(tzinfo=UTC)  # out of range: refused below
    if not 1000 <= moment.year <= 9999:
        raise ValueError(f"{_quote(text)} is not an ISO 8601 time in the years 1000 to 9999")
    return format_ts(moment)


_ISO_SHAPE = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:([+-])(\d{2}):?(\d{2}))?",
    re.ASCII,
)


def _why_not(raw: str) -> str:
    """``: <which part is wrong>`` for a time written in the ISO shape that names no moment
    (``2026-02-30``, ``25:00``, an offset of ``+99:00``); nothing for another shape."""
    shape = _ISO_SHAPE.fullmatch(raw)
    if shape is None:
        return ""
    day, hour, minute, second, sign, off_h, off_m = shape.groups()
    try:
        date.fromisoformat(day)
    except ValueError:
        return f": there is no day {day}"
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 59:
        return f": {hour}:{minute}{':' + second if second else ''} is no time of day"
    if sign is not None and (int(off_h) > 23 or int(off_m) > 59):
        return f": the offset {sign}{off_h}:{off_m} is out of range; allowed: -23:59 to +23:59"
    return ""


@lru_cache(maxsize=1024)  # the webhooks of one second share their epoch time
def _from_epoch(value: int | float, unit: EpochUnit) -> str:
    try:
        moment = datetime.fromtimestamp(float(value) / (1000 if unit == "ms" else 1), UTC)
    except (ValueError, OverflowError, OSError):
        moment = None
    if moment is None or moment.year < 1000:  # fromtimestamp stops at 9999 by itself
        raise ValueError(f"{_show(value)} is not a unix time in {unit} in the years 1000 to 9999")
    return format_ts(moment)


def _quote(text: str) -> str:
    """A string value quoted for a message, shortened."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _show(value: object) -> str:
    """A value as it would be written in JSON, shortened for a message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------ emails, domains


def normalize_email(text: str) -> str:
    """An email as stored and compared: trimmed, lowercased and, beyond ASCII, in Unicode's
    composed form (NFC: ``e`` plus a combining accent is ``é``, as another tool may type it)
    — not checked."""
    email = text.strip().lower()
    return email if email.isascii() else unicodedata.normalize("NFC", email)


def valid_email(text: str) -> bool:
    """Whether ``text`` (trimmed) is an email address: exactly one ``@`` with text on both
    sides, and no whitespace (``"a b@x.test"`` is not one)."""
    return _EMAIL.fullmatch(text.strip()) is not None


def normalize_domain(text: str) -> str:
    """A company domain as stored and compared (not checked).

    Trimmed and lowercased; a leading ``http://`` or ``https://``, a leading ``www.`` and
    everything from the first ``/``, ``?`` or ``#`` on are removed:
    ``" https://www.Globex.test/about"`` becomes ``"globex.test"``.
    """
    domain = text.strip().lower()
    if domain.startswith("https://"):
        domain = domain[8:]
    elif domain.startswith("http://"):
        domain = domain[7:]
    if domain.startswith("www."):
        domain = domain[4:]
    for stop in "/?#":
        domain = domain.partition(stop)[0]
    return domain


def valid_domain(domain: str) -> bool:
    """Whether a domain as :func:`normalize_domain` returns it is one: it has a dot, no ``@``
    and no whitespace (``"globex"`` and ``"n/a"`` are not)."""
    return "." in domain and "@" not in domain and _SPACE.search(domain) is None


# ------------------------------------------------------------------- phone numbers


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    """A phone number as leadsync matches it.

    ``number`` is the E.164 form (``+442079460000``) when the text reads as a possible number
    of some country — international (``+44 …``, ``0044 …``), or national in ``region`` —
    and None when it does not (then the number is kept as given, and flagged). Formatting,
    a national trunk ``(0)`` and an extension (``ext. 12``, ``x 12``) do not matter: an
    office line is one number whatever extension is dialled. ``digits``: its digits, for
    looser comparisons (the dedupe rules compare unreadable numbers by them). ``withheld``:
    a call's number the caller hid (:func:`read_call_number`), which reads as no number too.
    """

    given: str
    number: str | None
    digits: str
    withheld: bool = False

    @property
    def key(self) -> str:
        """What the phone index holds: the E.164 form, else the number as given."""
        return self.number or self.given


def read_phone(text: object, region: str | None = None) -> PhoneNumber | None:
    """A phone property or a call's number as a :class:`PhoneNumber`; None when there is no
    number at all (empty, not text, or no digit). ``region``: the ISO 3166 country national
    numbers are read in (an integration's ``region:``)."""
    if isinstance(text, float) and text.is_integer() and abs(text) < 1e16:
        text = int(text)  # a spreadsheet's or a CRM export's 442079469000.0: its digits
    if not isinstance(text, str | int) or isinstance(text, bool):
        return None
    return _read_phone(str(text).strip(), region)


def assigned_number(e164: str) -> bool:
    """Whether a number read as possible (:func:`read_phone`'s ``number``) is also in a range
    its country gives out: ``+444420794601`` has a UK number's length, but no UK number starts
    so (a country code written twice, a digit missing). Only for what a person declares (the
    company's own lines): events' numbers are matched as read, new ranges included."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return False


# What dialers write for the number of a caller who hid it (caller ID withheld), compared
# trimmed and lowercased: Aircall's ``raw_digits`` is ``anonymous`` (?); others say
# ``Anonymous``, ``unknown``, ``private``, ``restricted``, or leave it empty.
WITHHELD_NUMBERS = frozenset(
    ("", "anonymous", "unknown", "private", "restricted", "withheld", "hidden", "unavailable")
)


def read_call_number(text: object, region: str | None = None) -> PhoneNumber | None:
    """A call's number as :func:`read_phone` reads it, except a number the caller withheld
    (:data:`WITHHELD_NUMBERS`: ``anonymous``, ``private``, an empty string …, or any text
    without a digit: ``Private Number``, ``Unknown Caller``, ``+``): that is a number that
    reads as none, as ``999`` does (``number`` None, ``withheld``), not no number at all —
    the call has another party, whose number was hidden. Only for a call's numbers: a
    person's ``phone`` given empty is no number (it removes one)."""
    if isinstance(text, str) and (
        text.strip().lower() in WITHHELD_NUMBERS or not any(ch.isdigit() for ch in text)
    ):
        return PhoneNumber(text.strip(), None, "", withheld=True)
    return read_phone(text, region)


# What people write around a number that is no part of it: a label after it ("(work)",
# "Mob", "mobile"), a stray "#", a spreadsheet's ".0". Extensions ("x12", "ext. 12") stay:
# phonenumbers reads them (and they do not matter to the number).
_TRAILING_LABEL = re.compile(
    r"(?:\s*\([^()\d]*\)|\s+(?!(?:ext|extn|extension|x)\b)[^\W\d_]{2,}\.?|\s*#)\s*$",
    re.IGNORECASE,
)
_DECIMAL_ZERO = re.compile(r"^\+?\d+\.0+$")


_EXTENSION = re.compile(
    r"(?:;\s*ext\s*=|\b(?:ext|extn|extension)\b\.?|\bx)\s*(\d{1,7})\s*$", re.IGNORECASE
)


def extension_of(given: str) -> str | None:
    """The extension a phone number as written names (``+1 415 555 0200 ext. 12``,
    ``;ext=12``, ``x12``), its digits; None without one."""
    found = _EXTENSION.search(given)
    return found.group(1) if found is not None and found.start() > 0 else None


def _without_labels(given: str) -> str:
    """``given`` without what is written around the number (a label, a trailing "#", a
    ".0"), for the parse; the number as given is kept as given."""
    text = given
    while (found := _TRAILING_LABEL.search(text)) is not None and found.start() > 0:
        text = text[: found.start()]
    if _DECIMAL_ZERO.fullmatch(text):
        text = text.split(".", 1)[0]
    return text.strip()


# Any space (a thin or narrow no-break one, U+2009, U+202F, as French and Apple formats write
# numbers) reads as a space, and an invisible format mark (a zero-width space, a direction
# mark a copy from a web page brings) as nothing: phonenumbers reads neither.
_ANY_SPACE = re.compile(r"\s+")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


@lru_cache(maxsize=65_536)
def _read_phone(given: str, region: str | None) -> PhoneNumber | None:
    if _E164.fullmatch(given) and _possible_e164(given[1:]):
        return PhoneNumber(given, given, given[1:])  # already E.164: no parse (40 µs) needed
    bare = _ANY_SPACE.sub(" ", _INVISIBLE.sub("", _without_labels(given))).strip()
    digits = "".join(ch for ch in bare if ch.isdigit())
    if not digits:
        return None
    attempts = [bare]
    if not bare.startswith("+"):
        if bare.startswith("00"):
            attempts = ["+" + bare[2:].lstrip()]  # the international call prefix stands for +
        elif region is None and len(digits) >= 11:
            attempts.append("+" + digits)  # a full international number written without +
    for attempt in attempts:
        try:
            parsed = phonenumbers.parse(attempt, region)
        except phonenumbers.NumberParseException:
            continue
        if _possible(parsed):
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            return PhoneNumber(given, e164, digits)
    return PhoneNumber(given, None, digits)


def _possible_e164(digits: str) -> bool:
    """Whether the digits after ``+`` are a possible number exactly as phonenumbers would
    read them: a country calling code (codes are prefix-free: one of 1–3 digits matches)
    and a national number of a possible length for it. Where the full parse could read the
    national part otherwise — it starts with a zero (Italy keeps one) or with what the
    country's national prefix for parsing matches (a carrier code, US "1") — this says no
    and the full parse decides."""
    for size in (1, 2, 3):
        code = int(digits[:size])
        prefix = _national_prefix(code)
        if prefix is not None:
            rest = digits[size:]
            if not rest or rest[0] == "0" or (prefix and prefix.match(rest)):
                return False
            return _possible_length(code, len(rest))
    return False


@cache
def _possible_length(code: int, length: int) -> bool:
    """Whether a national number of ``length`` digits is possible for the calling code:
    phonenumbers judges possibility by the length alone, against the code's main region."""
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int("9" * length))
    return _possible(number)


def _possible(number: phonenumbers.PhoneNumber) -> bool:
    """Whether a parsed number can be dialled as it stands, from anywhere: of a possible
    length, and not one of a local-only length (``555 0142`` in the US, ``61998`` in GB),
    which without its area code names no one line and would match strangers."""
    reason = phonenumbers.is_possible_number_with_reason(number)
    return bool(reason == phonenumbers.ValidationResult.IS_POSSIBLE)


@cache
def _national_prefix(code: int) -> re.Pattern[str] | Literal[""] | None:
    """The country calling code's national prefix for parsing as a pattern ("" when it has
    none); None when the code is not a country calling code."""
    if code not in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        return None
    region = phonenumbers.region_code_for_country_code(code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
    pattern = getattr(metadata, "national_prefix_for_parsing", None) if metadata else None
    return re.compile(pattern) if pattern else ""


def valid_region(region: str) -> bool:
    """Whether ``region`` is a country phonenumbers knows (``GB``, ``US``, ``DE``, …)."""
    return region in phonenumbers.SUPPORTED_REGIONS


def whole(value: float | None) -> int | float | None:
    """A number as an int when it is whole (durations look like ``95``, not ``95.0``)."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value
