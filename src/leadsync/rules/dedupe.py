"""One real-world activity logged by two tools is one activity (the ``dedupe:`` rules).

The same call is often logged by the dialer and by the engagement tool, the same meeting by
the scheduler and by the engagement tool. Two activities of a rule's type from two of its
integrations are the same when:

- the rep maps to the same owner (both have one);
- the counterpart is the same: the other party's phone number in E.164 (a call's ``to_number``
  when outbound, ``from_number`` when inbound, either when the direction is unknown; a
  national number read in the region of the tool that logged it), or a
  record both named or found by number (the contact, the invitee's email; not a company or
  deal the association rules added);
- they started within ``window_s`` of each other;
- where both have a duration, they are close: within 15 s or 20 % of the longer — the talk
  time where the tool gave when the call was answered and ended (Aircall's ``duration_s``
  counts the ringing, Outreach's does not; ``engine.state.activity_candidate``).

Among several such activities the one closest in time is taken. Pure: the engine hands in
what it knows about each activity.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from leadsync.model import display_ts, ts_to_datetime
from leadsync.settings import DedupeRule
from leadsync.values import read_phone

DURATION_SLACK_S = 15.0
DURATION_SLACK_RATIO = 0.2


def e164(number: str | None, region: str | None = None) -> str | None:
    """A counterpart's number as dedupe compares it: E.164 (``+14155550100``) when it reads
    as one (:func:`leadsync.values.read_phone`: an international form, or a national one in
    ``region``, the logging tool's own — two tools may be set up for different regions),
    else its digits."""
    phone = read_phone(number, region)
    return None if phone is None else phone.number or phone.digits


@dataclass
class Candidate:
    """What matching needs to know about one activity."""

    integration: str
    external_id: str | None
    activity_id: int | None
    owner_id: str | None
    at: str
    duration_s: float | None = None
    direction: str | None = None
    from_number: str | None = None
    to_number: str | None = None
    records: Collection[int] = field(default_factory=frozenset)
    region: str | None = None  # the logging integration's: its national numbers' country

    def numbers(self) -> set[str]:
        """The counterpart's numbers, normalised."""
        if self.direction == "outbound":
            raw = [self.to_number]
        elif self.direction == "inbound":
            raw = [self.from_number]
        else:
            raw = [self.to_number, self.from_number]
        return {n for r in raw if (n := e164(r, self.region)) is not None}


def _seconds_apart(a: str, b: str) -> float:
    return abs((ts_to_datetime(a) - ts_to_datetime(b)).total_seconds())


def same_activity(rule: DedupeRule, new: Candidate, old: Candidate) -> str | None:
    """Why ``new`` is ``old`` (the reason's tail: "same rep, same number, 14 s apart"), or
    None when it is not."""
    if new.integration == old.integration or old.integration not in rule.integrations:
        return None
    if new.owner_id is None or new.owner_id != old.owner_id:
        return None
    apart = _seconds_apart(new.at, old.at)
    if apart > rule.window_s:
        return None
    if new.duration_s is not None and old.duration_s is not None:
        longer = max(new.duration_s, old.duration_s)
        if abs(new.duration_s - old.duration_s) > max(
            DURATION_SLACK_S, longer * DURATION_SLACK_RATIO
        ):
            return None
    shared_number = new.numbers() & old.numbers()
    if shared_number:
        counterpart = f"same number {min(shared_number)}"
    elif set(new.records) & set(old.records):
        counterpart = "same contact"
    else:
        return None
    return f"same rep, {counterpart}, {apart:g} s apart"


def find_twin(
    rule: DedupeRule, new: Candidate, candidates: Sequence[Candidate]
) -> tuple[Candidate, str] | None:
    """The activity ``new`` duplicates, with the reason, closest in time first."""
    found = [(c, why) for c in candidates if (why := same_activity(rule, new, c)) is not None]
    if not found:
        return None
    found.sort(key=lambda cw: (_seconds_apart(new.at, cw[0].at), cw[0].at, cw[0].activity_id or 0))
    twin, why = found[0]
    ext = f" {twin.external_id}" if twin.external_id else ""
    return twin, (
        f"merged with {twin.integration} {rule.activity.value}{ext}: {why} "
        f"(dedupe: {', '.join(rule.integrations)}; {rule.preferred}'s values win; "
        f"{display_ts(new.at)})"
    )
