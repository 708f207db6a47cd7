"""The company's own phone lines: a call whose other party is one of them is an **internal
call** (a transfer, a colleague's call, a leg to a rep's own phone), never a stranger's
number — not matched to a contact or lead by it, not held for it, never a question about it,
never a contact made for it.

An integration's own lines are those its tool names (learned: Aircall's line of every call,
its ``number.*`` events, the canonical ``line`` event and a call's ``line_number``) and those
its admin declares (``own_numbers``), each in E.164 read in the integration's ``region``.
They are the integration's own: another integration's line is a number like any other there.

Pure: the engine hands in the lines it loaded and learned; the sentences are here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from leadsync.settings import IntegrationSettings
from leadsync.values import PhoneNumber, read_phone

__all__ = [
    "OwnLine",
    "declared_lines",
    "internal_reason",
    "internal_skipped",
    "learned_line",
    "learned_trace",
    "split_own",
]


@dataclass(frozen=True, slots=True)
class OwnLine:
    """One of an integration's own lines: its number (E.164), and how leadsync knows it —
    declared in the settings, or learned from the tool (with the line's name and id there,
    when the tool gave them, and the vendor's name: "Aircall")."""

    integration: str
    number: str
    declared: bool = False
    name: str | None = None
    line_id: str | None = None
    vendor: str | None = None

    def what(self) -> str:
        """The line in words: "one of the company's Aircall lines (learned from phone's
        events)", "one of the company's own numbers (phone's own_numbers)". Not its name:
        which event named the line first (with a name or without) must not change why a call
        is internal — any order of the same events says the same."""
        if self.declared:
            return f"one of the company's own numbers ({self.integration}'s own_numbers)"
        lines = f"{self.vendor} lines" if self.vendor else "lines"
        return f"one of the company's {lines} (learned from {self.integration}'s events)"


def declared_lines(name: str, settings: IntegrationSettings) -> dict[str, OwnLine]:
    """An integration's declared own numbers by E.164 (the settings refuse one that does not
    read as a number)."""
    found: dict[str, OwnLine] = {}
    for given in settings.own_numbers:
        phone = read_phone(given, settings.region)
        if phone is not None and phone.number is not None:
            found.setdefault(phone.number, OwnLine(name, phone.number, declared=True))
    return found


def learned_line(
    integration: str,
    given: object,
    region: str | None,
    name: str | None = None,
    line_id: str | None = None,
    vendor: str | None = None,
) -> OwnLine | None:
    """A line a tool names (``given``, read in the integration's ``region``), or None when it
    does not read as a phone number (a national number from a tool without ``region:``):
    nothing can be learned of it."""
    phone = read_phone(given, region)
    if phone is None or phone.number is None:
        return None
    return OwnLine(integration, phone.number, name=name, line_id=line_id, vendor=vendor)


def split_own(
    numbers: Sequence[PhoneNumber], line_of: Callable[[str], OwnLine | None]
) -> tuple[list[PhoneNumber], list[OwnLine]]:
    """An activity's counterpart numbers (:func:`leadsync.rules.counterparts.counterpart_numbers`)
    without the integration's own lines (``line_of``: the line of an E.164 number, or None),
    and those lines: the numbers that may be another party's, and the company's own."""
    others: list[PhoneNumber] = []
    own: list[OwnLine] = []
    for phone in numbers:
        line = line_of(phone.number) if phone.number is not None else None
        if line is None:
            others.append(phone)
        else:
            own.append(line)
    return others, own


def internal_reason(activity: str, own: Sequence[OwnLine]) -> str:
    """Why an activity is on no contact or lead: its other party is the company's own line."""
    said = "; ".join(f"{line.number} is {line.what()}" for line in own)
    return (
        f"internal {activity}: {said}, so no contact or lead is looked for by it (not held, "
        "no question, no contact made)"
    )


def internal_skipped(activity: str, external_id: str | None, own: Sequence[OwnLine]) -> str:
    """Why an internal call is not created under ``unknown_counterpart: skip``: a call on
    no contact or lead is not made, whatever the order the line and the call came in."""
    named = f" {external_id}" if external_id else ""
    said = "; ".join(f"{line.number} is {line.what()}" for line in own)
    return (
        f"{activity}{named} is an internal {activity}: {said}; it is on no contact or lead "
        "(unknown_counterpart: skip)"
    )


def learned_trace(line: OwnLine, released: int) -> str:
    """What learning a line did, for a preview: from now on, and the activities it settled."""
    noun = "activity" if released == 1 else "activities"
    done = f"; {released} earlier {noun} waiting for it looked for again" if released else ""
    named = f" ({line.name!r})" if line.name else ""
    return f"{line.number}{named} is {line.what()}: a call to it is an internal call{done}"
