"""Who the other party of an activity is when the activity names nobody but a phone number,
and the sentences that say so.

A call's counterpart is the number that is not the rep's line: ``to_number`` when outbound,
``from_number`` when inbound, either when the direction is unknown. It is read as E.164 in
the integration's ``region`` (:func:`leadsync.values.read_phone`) and looked up among the
phone numbers of contacts and leads (``phone``, ``mobilephone``):

- one record has it: the activity is attached to it ("matched by number");
- several have it: nothing is guessed — the question goes to the review queue (or is
  left, by ``ambiguous.number: skip``), with each candidate and why it matched;
- nobody has it: the integration's ``unknown_counterpart`` policy — ``hold`` the activity
  until a contact or lead gets the number, ``create`` a contact with the number and nothing
  else, or ``skip`` the activity. A number that does not read as one (``999``), or that the
  caller withheld (``anonymous``, ``private``, empty: :func:`leadsync.values.read_call_number`),
  is nobody's ever: not held for, no contact made with it; a question for a person instead.

Pure: the engine hands in the numbers it loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadsync.model import RecordType, display_ts, ts_to_datetime
from leadsync.rules.records import (
    BESIDE_MARK,
    PHONE_RECORD_TYPES,
    PHONE_SOURCES,
    IndexedAs,
    indexed_as,
)
from leadsync.values import PhoneNumber, extension_of, read_call_number, read_phone

# Review queue kinds.
NUMBER = "number"  # a number several contacts have
EMAIL = "email"  # an email several contacts have
DEAL = "deal"  # several equally recent open deals where one is wanted
OWNER = "owner"  # a rep's email several active owners have
UNKNOWN = "unknown"  # a held activity whose number nobody got in time
NUMBER_KINDS = (NUMBER, UNKNOWN)  # the questions about an activity's number
KINDS = (NUMBER, EMAIL, DEAL, OWNER, UNKNOWN)

# Activity association sources beyond "event" and "auto".
BY_NUMBER = "number"
HELD = "held"
BY_PERSON = "person"

UNKNOWN_NUMBER = "unknown_number"  # records.origin of a contact created for one


def counterpart_numbers(properties: Mapping[str, Any], region: str | None) -> list[PhoneNumber]:
    """The other party's numbers of an activity (none when it has no numbers); one the caller
    withheld is among them, as a number that reads as none (:func:`read_call_number`). A
    number that is the rep's own line too (the call's both ends read as one number: a call
    from the company's line to itself, a transfer back) names no other party."""
    direction = properties.get("direction")
    to_number, from_number = properties.get("to_number"), properties.get("from_number")
    if direction == "outbound":
        raw, ours = [to_number], [from_number]
    elif direction == "inbound":
        raw, ours = [from_number], [to_number]
    else:
        raw, ours = [to_number, from_number], []
    own = {p.key for p in (read_phone(text, region) for text in ours) if p is not None}
    found: list[PhoneNumber] = []
    for text in raw:
        phone = read_call_number(text, region)
        if phone is not None and phone.key not in own and all(p.key != phone.key for p in found):
            found.append(phone)
    if not ours and len(found) == 1 and all(read_call_number(t, region) is not None for t in raw):
        return []  # direction unknown, both ends the same number: the line called itself
    return found


def readable(numbers: Sequence[PhoneNumber]) -> list[PhoneNumber]:
    """The numbers that read as E.164: only those can ever be a contact's or lead's (one kept
    as given — ``999``, a national number from a tool without ``region:`` — matches none)."""
    return [p for p in numbers if p.number is not None]


@dataclass(frozen=True, slots=True)
class Holder:
    """A record that has a number: which record, of which type, in which property (or
    beside which, and from which integration: :func:`~leadsync.rules.records.indexed_as`)."""

    record_id: int
    record_type: RecordType
    number: str
    indexed: IndexedAs
    extension: str | None = None  # the extension its property gives with the number

    def why(self) -> str:
        record = f"{self.record_type.value} {self.record_id}"
        extension = f" ext. {self.extension}" if self.extension else ""
        return f"{record} has {self.number}{extension} as {self.indexed.text()}"


def holders(
    numbers: Sequence[PhoneNumber],
    by_phone: Mapping[str, Sequence[tuple[int, str]]],
    type_of: Callable[[int], RecordType | None],
    preferred: RecordType,
    properties_of: Callable[[int], Mapping[str, Any] | None] = lambda _: None,
) -> list[Holder]:
    """The records that have one of ``numbers``: those of the ``preferred`` type (the
    association rules' primary type) when there are any, else the other person type; one
    entry per record, in the order of the numbers, then of the record ids (a number kept
    beside named with its integration, from the record's properties: ``properties_of``).
    Where a number names an extension (a switchboard's ``;ext=12``) and exactly one of them
    has that number with that extension, that one: it is that person's line."""
    found: dict[int, Holder] = {}
    dialled: dict[str, str] = {}  # number -> the extension the activity names with it
    for phone in numbers:
        if phone.number is None:
            continue  # kept as given, never matched
        if (extension := extension_of(phone.given)) is not None:
            dialled[phone.number] = extension
        for record_id, prop in sorted(by_phone.get(phone.number, ())):
            rtype = type_of(record_id)
            if rtype in PHONE_RECORD_TYPES and record_id not in found:
                props = properties_of(record_id)
                shown_as = indexed_as(prop, (props or {}).get(PHONE_SOURCES))
                given = (props or {}).get(prop) if BESIDE_MARK not in prop else None
                extension = extension_of(given) if isinstance(given, str) else None
                found[record_id] = Holder(record_id, rtype, phone.number, shown_as, extension)
    of_preferred = [h for h in found.values() if h.record_type is preferred]
    chosen = of_preferred or list(found.values())
    same_line = [h for h in chosen if h.extension and dialled.get(h.number) == h.extension]
    return same_line if len(same_line) == 1 else chosen


def shown(numbers: Sequence[PhoneNumber]) -> str:
    """The numbers for a sentence: E.164 where readable, else as given and marked (a number
    the caller withheld, as such)."""
    return " or ".join(_shown(p) for p in numbers)


def _shown(phone: PhoneNumber) -> str:
    if phone.number is not None:
        return phone.number
    if phone.withheld and not phone.given:
        return "no number (the caller withheld it)"
    if phone.withheld:
        return f"{phone.given!r} (the caller withheld the number)"
    return f"{phone.given!r} (not readable as a phone number)"


def subject(numbers: Sequence[PhoneNumber]) -> str:
    """What a question about the numbers is about (its ``subject``): each as the phone index
    keys it, a number withheld without a word as ``withheld``."""
    return " or ".join(p.key or "withheld" for p in numbers)


def subject_text(subject: str) -> str:
    """A question's subject for a sentence (``open question about …``): a number withheld
    without a word (:func:`subject`'s ``withheld``) as such."""
    return "a withheld number" if subject == "withheld" else subject


def matched_reason(holder: Holder) -> str:
    return f"matched by number: {holder.why()}"


def several_question(activity: str, numbers: Sequence[PhoneNumber], found: Sequence[Holder]) -> str:
    kinds = {h.record_type.value for h in found}
    noun = "records" if len(kinds) > 1 else f"{next(iter(kinds))}s"
    return f"{len(found)} {noun} have {shown(numbers)}: which one was on this {activity}?"


def held_reason(numbers: Sequence[PhoneNumber], hold_days: float) -> str:
    return (
        f"held: no contact or lead has {shown(numbers)} yet; attached when one gets it, "
        f"else in the review queue after {_days(hold_days)} (unknown_counterpart: hold)"
    )


def created_reason(record_id: int, numbers: Sequence[PhoneNumber]) -> str:
    return (
        f"contact {record_id} created for the unknown number {shown(numbers[:1])} "
        "(unknown_counterpart: create)"
    )


def skipped_reason(activity: str, external_id: str | None, numbers: Sequence[PhoneNumber]) -> str:
    named = f" {external_id}" if external_id else ""
    return (
        f"{activity}{named} names only {shown(numbers)}, which no contact or lead has "
        "(unknown_counterpart: skip)"
    )


def attached_later_reason(
    record_type: str, record_id: int, number: str, held_at: str, at: str
) -> str:
    """Why a held activity is on a record: when (after the activity) the record got its
    number, by the times the two events carry."""
    seconds = (ts_to_datetime(at) - ts_to_datetime(held_at)).total_seconds()
    got = f"{record_type} {record_id} got {number}"
    if seconds < 0:
        return f"attached when {got} (a change dated before the call, received after it)"
    if seconds < 60:
        return f"attached when {got}, right after the call"
    return f"attached {_later(seconds)} when {got}"


def expired_question(activity: str, number: str, held_at: str, expires_at: str) -> str:
    """The question of a held activity whose hold ended, with the hold's length as it was
    held (the settings may have changed since, or the integration gone)."""
    days = (ts_to_datetime(expires_at) - ts_to_datetime(held_at)).total_seconds() / 86_400
    return (
        f"the {activity} of {display_ts(held_at)} names only {number}; no contact or lead got "
        f"{'that number' if ' or ' not in number else 'either number'} within "
        f"{_days(round(days, 3))}: which record should it be on?"
    )


def unreadable_question(
    activity: str, at: str, numbers: Sequence[PhoneNumber], policy: str, region: str | None
) -> str:
    """The question of an activity whose other party's number does not read as one: no
    contact or lead can ever have it, so it is not held for it (nothing could attach it) and
    no contact is made with it."""
    done = "no contact is created for it" if policy == "create" else "it is not held"
    national = not region and not all(p.withheld for p in numbers)
    hint = "; a national number needs the integration's region:" if national else ""
    return (
        f"the {activity} of {display_ts(at)} names only {shown(numbers)}, which no contact or "
        f"lead can have, so {done} (unknown_counterpart: {policy}{hint}): which record should "
        "it be on?"
    )


def held_again_reason(activity: str, numbers: Sequence[PhoneNumber]) -> str:
    """Why an activity's question about its number closed: a later event of it gives a
    number that can be read, which it is held for now."""
    return f"a later event of the {activity} gives {shown(numbers)}: held for it instead"


def named_later_reason(activity: str, record_type: str, record_id: int) -> str:
    """Why a held (or questioned) activity is no longer waiting: a later event of it named
    its person."""
    return f"a later event of the {activity} names {record_type} {record_id}"


def _days(days: float) -> str:
    whole = int(days) if float(days).is_integer() else days
    return f"{whole} day" if whole == 1 else f"{whole} days"


def _later(seconds: float) -> str:
    """A span of at least a minute in words: "2 days later", "3 hours later"."""
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'' if n == 1 else 's'} later"
    return "later"
