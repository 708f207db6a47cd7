"""Finding an activity's people when the event does not name them for certain: its
counterpart's phone number (matched, held, a contact created, or skipped), emails and
numbers several contacts share, tied open deals, and held activities attaching when a
record gets their number later.

Functions over a :class:`~leadsync.engine.decide.BatchDecider`; pure like it. The rules
and their sentences are in :mod:`leadsync.rules.counterparts`; what the engine cannot
decide becomes a question in the review queue, never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from leadsync.engine import links, own_lines
from leadsync.engine.state import QUEUED, HeldActivity, RecordState, joined, note
from leadsync.model import (
    AUTO_SOURCE,
    ActivityType,
    Event,
    EventType,
    MappingResult,
    RecordRef,
    RecordType,
    add_days,
    display_ts,
)
from leadsync.rules import counterparts as rules
from leadsync.rules import own_lines as own_rules
from leadsync.rules.associations import ChosenAssociation, choose_associations
from leadsync.rules.records import PHONE_RECORD_TYPES
from leadsync.settings import Ambiguity, CounterpartPolicy, IntegrationSettings
from leadsync.values import PhoneNumber

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


@dataclass(slots=True)
class Found:
    """What looking for an activity's counterpart came to."""

    # Records found (or created) for it, with the link's source and reason.
    named: list[tuple[RecordState, bool]] = field(default_factory=list)
    links: dict[int, tuple[str, str]] = field(default_factory=dict)
    # Numbers to hold the activity for, with the hold's length in days.
    hold: list[PhoneNumber] = field(default_factory=list)
    hold_days: float = 0.0
    # Questions for the review queue (without the activity id, not known yet).
    questions: list[dict[str, Any]] = field(default_factory=list)
    # A company every candidate shares (certain while the person is not).
    company: tuple[int, str] | None = None
    # The activity is not created (unknown_counterpart: skip), with the reason.
    skip: str | None = None
    # An internal call: its other party is one of the company's own lines (which, and why).
    internal: str | None = None
    line_number: str | None = None
    # One line for a preview: how the counterpart was found, held or queued.
    trace: str | None = None


def certain_refs(
    d: BatchDecider, event: Event, settings: IntegrationSettings
) -> tuple[Sequence[RecordRef], Found | None]:
    """The records an activity names, without the contacts named by an email that several
    contacts have (and no identity) — each of those is a question instead — and without a
    company named only by a free-mail or disposable domain; with what was found on the way
    (None: nothing, the common case)."""
    refs = event.associations
    for ref in refs:
        if (ref.external_id is None and ref.type is RecordType.COMPANY) or d.by_email.shared(
            ref.email
        ):
            break
    else:
        return refs, None  # the common case: nothing to set aside
    found = Found()
    kept: list[RecordRef] = []
    for ref in refs:
        if ref.external_id is None and (why := links.personal_company(d, ref)) is not None:
            found.trace = why
            continue
        ids = _email_holders(d, event.integration, ref)
        if len(ids) < 2:
            kept.append(ref)
            continue
        assert ref.email is not None
        candidates = [_candidate(d, i, f"contact {i} has {ref.email}") for i in ids]
        question = f"{len(ids)} contacts have {ref.email}: which one was on this {_noun(event)}?"
        _ask(d, found, settings, "email", event, ref.email, question, candidates, ref.email)
        _certain_company(d, found, ids, f"the company of every contact with {ref.email}")
    return kept, found


def find_by_number(
    d: BatchDecider, event: Event, settings: IntegrationSettings, properties: Mapping[str, Any]
) -> Found | None:
    """The counterpart of an activity that names no contact or lead, by its number; None
    when it has no number."""
    numbers = rules.counterpart_numbers(properties, settings.region)
    if not numbers:
        return None
    found = Found()
    numbers, own = own_lines.split(d, event.integration, numbers)
    if not numbers:  # the other party is the company's own line: an internal call
        found.internal = own_rules.internal_reason(_noun(event), own)
        found.line_number, found.trace = own[0].number, found.internal
        if settings.unknown_counterpart.policy is CounterpartPolicy.SKIP:
            found.skip = own_rules.internal_skipped(_noun(event), event.external_id, own)
        return found
    holders = _holders(d, numbers, settings)
    if len(holders) == 1:
        holder = holders[0]
        found.named.append((d.records[holder.record_id], False))
        found.links[holder.record_id] = (rules.BY_NUMBER, rules.matched_reason(holder))
        found.trace = rules.matched_reason(holder)
        d.result.matched_by_number += 1
        return found
    if holders:
        question = rules.several_question(_noun(event), numbers, holders)
        candidates = [_candidate(d, h.record_id, h.why()) for h in holders]
        subject = holders[0].number
        _ask(d, found, settings, "number", event, subject, question, candidates, None)
        ids = [h.record_id for h in holders]
        _certain_company(d, found, ids, f"the company of every record with {subject}")
        found.trace = question
        return found
    policy = settings.unknown_counterpart
    known = rules.readable(numbers)
    if policy.policy is CounterpartPolicy.SKIP:
        found.skip = rules.skipped_reason(_noun(event), event.external_id, numbers)
    elif not known:
        # No contact or lead can ever have it: holding would wait for nothing, a contact
        # made with it would be one more per call. A person says whose it is.
        question = rules.unreadable_question(
            _noun(event), event.occurred_at, numbers, policy.policy.value, settings.region
        )
        # As a hold that ended asks it (kind unknown): one per activity.
        subject = rules.subject(numbers)
        found.questions.append(_question(d, event, rules.UNKNOWN, subject, question, []))
        found.trace = question
    elif policy.policy is CounterpartPolicy.CREATE:
        record = _create_contact(d, event, known[0])
        found.named.append((record, True))
        reason = rules.created_reason(record.id, known)
        found.links[record.id] = (rules.BY_NUMBER, reason)
        found.trace = reason
    else:
        found.hold = known
        found.hold_days = policy.hold_days
        found.trace = rules.held_reason(known, policy.hold_days)
    return found


def _holders(
    d: BatchDecider, numbers: Sequence[PhoneNumber], settings: IntegrationSettings
) -> list[rules.Holder]:
    records = d.records

    def type_of(record_id: int) -> RecordType | None:
        record = records.get(record_id)
        return record.type if record is not None else None

    def properties_of(record_id: int) -> dict[str, Any] | None:  # a number kept beside's
        record = records.get(record_id)
        if record is None:
            return None
        props = record.properties
        return json.loads(props) if isinstance(props, str) else props

    primary = settings.associations.primary
    return rules.holders(numbers, d.by_phone, type_of, primary, properties_of)


def sole_holder(
    d: BatchDecider, event: Event, settings: IntegrationSettings, properties: Mapping[str, Any]
) -> RecordState | None:
    """The one contact or lead with the number of a call that names none, as
    :func:`find_by_number` matches it, read only (nothing linked, asked or held): whom an
    earlier event of the call found (or made) by that number."""
    numbers = rules.counterpart_numbers(properties, settings.region)
    numbers, _ = own_lines.split(d, event.integration, numbers)
    holders = _holders(d, numbers, settings) if numbers else []
    return d.records[holders[0].record_id] if len(holders) == 1 else None


def named_later(
    d: BatchDecider,
    activity_id: int,
    event: Event,
    before: Mapping[str, Any] | None,
    refs: Sequence[RecordRef],
    named: Sequence[tuple[RecordState, bool]],
) -> None:
    """An activity from an earlier event gets its contact or lead from a later event of it
    (a call's end naming the contact its start did not): it waits for its number no more,
    and its open question about a number is closed, with why. Only when the event names a
    person its earlier events did not (``before``: the activity's memory until now)."""
    person = next((r for r, _ in named if r.type in PHONE_RECORD_TYPES), None)
    if person is None:
        return
    known = {tuple(r) for r in before["a"]} if before is not None else set()
    if all(
        (r.type.value, r.external_id, r.email, r.domain) in known
        for r in refs
        if r.type in PHONE_RECORD_TYPES
    ):
        return  # the same people as before (or none): nothing changes
    reason = rules.named_later_reason(_noun(event), person.type.value, person.id)
    _found_at_last(d, activity_id, event, "attached", reason)


def numbers_changed(
    d: BatchDecider, activity_id: int, settings: IntegrationSettings, properties: Mapping[str, Any]
) -> bool:
    """A held activity (or an internal call) whose later event gives other numbers than those
    it waits for (is internal by): a call that started as an unreadable or wrong number, a
    transfer. Its counterpart is looked for again, by the numbers it has now."""
    waiting = d.held_for.get(activity_id)
    if waiting is None:
        return False
    numbers = rules.readable(rules.counterpart_numbers(properties, settings.region))
    return bool(numbers) and {p.key for p in numbers} != waiting


def found_again(d: BatchDecider, activity_id: int, event: Event, found: Found) -> None:
    """An activity of an earlier event looked for by its number again (it had none that
    could be read, or other numbers than now): what it waited for is over — it waits no
    more when found (its open question about a number closed, as matched), and for its
    new numbers only when held again (a question about an unreadable number is then moot).
    A question asked now (several records have the number) replaces an open one about its
    earlier numbers (:func:`settle`; the queue rewrites it)."""
    if found.named:
        _found_at_last(d, activity_id, event, "attached", found.trace or "")
    elif found.internal is not None:  # settle keeps why
        _found_at_last(d, activity_id, event, "resolved", found.internal)
    elif found.hold:
        why = rules.held_again_reason(_noun(event), found.hold)
        _found_at_last(d, activity_id, event, "resolved", why)  # settle holds it again
    else:  # a question, or nothing: neither held nor on a person now
        _unhold(d, activity_id)
        d.attached.discard(activity_id)


def _found_at_last(d: BatchDecider, activity_id: int, event: Event, status: str, why: str) -> None:
    _unhold(d, activity_id)
    d.attached.add(activity_id)
    close_questions(d, activity_id, status, d.now or event.occurred_at, why)


def close_questions(
    d: BatchDecider, activity_id: int, status: str, at: str, why: str, removed: bool = False
) -> None:
    """Close the activity's open questions about a number (every kind when it was
    ``removed``): those of earlier batches when the batch is written, those this batch asked
    so far now — not one it asks after this (the write leaves the batch's own questions to
    it)."""
    d.closing.append(
        {
            "activity_id": activity_id,
            "status": status,
            "closed_at": at,
            "closed_by": "leadsync",
            "outcome": why,
            "removed": removed,
        }
    )
    for question in d.questions:
        about = removed or question["kind"] in rules.NUMBER_KINDS
        if question["activity_id"] == activity_id and question["status"] == "open" and about:
            question.update(status=status, closed_at=at, closed_by="leadsync", outcome=why)


def removed(d: BatchDecider, activity_id: int, at: str, reason: str) -> None:
    """An activity is removed (a later event of it made it filtered): it waits for no
    number, and its open questions — whichever kind — are closed with the reason."""
    _unhold(d, activity_id)
    close_questions(d, activity_id, "skipped", d.now or at, reason, removed=True)


def settle(
    d: BatchDecider, event: Event, activity_id: int, found: Found, chosen: list[ChosenAssociation]
) -> None:
    """After the activity is created or updated: its links' sources and reasons, the
    company every candidate shares, the hold, and the questions with its id."""
    if found.internal is not None and found.line_number is not None:
        # Settled as a match is: its next event looks again only if it names other numbers.
        own_lines.internal(d, activity_id, event.integration, found.internal, found.line_number)
        d.attached.add(activity_id)
        d.held_for[activity_id] = {found.line_number}
    if not (found.links or found.hold or found.questions or found.company):
        return
    for choice in chosen:
        link = found.links.get(choice.record_id)
        if link is not None:
            choice.source, choice.reason = link
    if found.company is not None and all(c.record_id != found.company[0] for c in chosen):
        chosen.append(
            ChosenAssociation(found.company[0], RecordType.COMPANY, AUTO_SOURCE, found.company[1])
        )
    if found.links or found.hold:
        d.attached.add(activity_id)
    for phone in found.hold:
        held = HeldActivity(
            activity_id, event.integration, phone.key, event.occurred_at, event.activity or ""
        )
        d.held.setdefault(phone.key, []).append(held)
        d.new_holds.append(
            {
                "activity_id": activity_id,
                "number": phone.key,
                "integration": event.integration,
                "held_at": event.occurred_at,
                "expires_at": add_days(event.occurred_at, found.hold_days),
                "queued": False,
            }
        )
    if found.hold:  # a call held again by its later event is one call held
        d.result.held += activity_id not in d.held_for and activity_id not in d.released
        d.held_for[activity_id] = {phone.key for phone in found.hold}
    for question in found.questions:
        # Asked once per kind and activity (and email): redeliveries do not ask again.
        suffix = question.pop("key_suffix")
        question["key"] = f"{question['kind']}:{activity_id}{suffix}"
        question["activity_id"] = activity_id
        # Asked again in this batch (a later event of the call, other numbers): the latest.
        d.questions[:] = [q for q in d.questions if q["key"] != question["key"]]
        d.questions.append(question)


def tied_deals(
    d: BatchDecider, event: Event, settings: IntegrationSettings, activity_id: int, ties: list[int]
) -> None:
    """Several open deals are equally recent where one is wanted: none is attached; the
    question goes to the queue."""
    found = Found()
    candidates = [
        _candidate(d, deal, f"deal {deal} is open and was updated {_deal_updated_at(d, deal)}")
        for deal in ties
    ]
    question = (
        f"{len(ties)} open deals were updated at the same time: which one is this "
        f"{_noun(event)} about?"
    )
    _ask(d, found, settings, "deal", event, f"deals {', '.join(map(str, ties))}", question,
         candidates, None)  # fmt: skip
    settle(d, event, activity_id, found, [])
    note(d.traces, event.id, found.trace or "")


def ask_owner(
    d: BatchDecider, event: Event, settings: IntegrationSettings, mapping: MappingResult
) -> None:
    """A rep whose email several active owners have: which owner it is, is a question
    (one per rep; answering it adds the rep to ``users.map``)."""
    rep = event.owner
    assert rep is not None
    name = rep.id or rep.email or "?"
    directory = d.rules.directory
    d.questions.append(
        {
            "key": f"owner:{event.integration}:{name}",
            "kind": "owner",
            "integration": event.integration,
            "activity_id": None,
            "event_id": event.id,
            "subject": name,
            "question": f"{len(mapping.candidates)} active owners have the email of rep "
            f"{rep.describe()}: which owner is it?",
            "candidates": [
                {
                    "owner_id": owner_id,
                    "name": directory.owners[owner_id].name,
                    "why": f"owner {owner_id} is active with that email",
                }
                for owner_id in mapping.candidates
            ],
            "created_at": d.now or event.occurred_at,
            "status": "open",
            "closed_at": None,
            "closed_by": None,
            "choice": None,
            "outcome": None,
        }
    )


# ------------------------------------------------------------ records and their numbers


def _unhold(d: BatchDecider, activity_id: int) -> None:
    """The activity waits for no number any more: out of the batch's held lists, and its
    held rows are deleted."""
    for held in d.held.values():
        held[:] = [h for h in held if h.activity_id != activity_id]
    release(d, activity_id)


def release(d: BatchDecider, activity_id: int) -> None:
    """The activity's held rows are deleted: those of earlier batches, and those this batch
    made until now (a hold made after this, for other numbers, is kept)."""
    d.released.add(activity_id)
    own_lines.no_longer_internal(d, activity_id)
    d.held_for.pop(activity_id, None)
    d.new_holds[:] = [h for h in d.new_holds if h["activity_id"] != activity_id]


def attach_held(
    d: BatchDecider, held: HeldActivity, record: RecordState, number: str, at: str
) -> str:
    """Attach what was held for ``number`` to ``record`` (or ask which); says what it did."""
    others = sorted(
        {rid for rid, _ in d.by_phone.get(number, ()) if rid != record.id and rid in d.records}
    )
    for lst in d.held.values():
        if held in lst:
            lst.remove(held)
    held_for = f"{held.activity_type} {held.activity_id} held for {number}"
    settings = d.rules.integrations.get(held.integration)
    if settings is None:
        return ""
    if others:
        found = Found()
        ids = [record.id, *others]
        candidates = [_candidate(d, i, f"{d.records[i].type.value} {i} has {number}") for i in ids]
        question = f"{len(ids)} records have {number}: which one was on this {held.activity_type}?"
        asking = Event(id="", integration=held.integration, type=EventType.ACTIVITY, occurred_at=at)
        _ask(d, found, settings, "number", asking, number, question, candidates, None)
        settle(d, asking, held.activity_id, found, [])
        release(d, held.activity_id)
        return f"{held_for}: {found.trace}"
    reason = rules.attached_later_reason(record.type.value, record.id, number, held.held_at, at)
    attach(
        d, held.activity_id, held.activity_type, held.integration, settings, record,
        rules.HELD, reason,
    )  # fmt: skip
    d.result.attached_later += 1
    return f"{held_for}: {reason}"


def attach(
    d: BatchDecider,
    activity_id: int,
    activity_type: str,
    integration: str,
    settings: IntegrationSettings,
    record: RecordState,
    source: str,
    reason: str,
) -> list[ChosenAssociation]:
    """Attach an activity from an earlier batch to ``record`` (a late match, or a person's
    choice): the record with ``reason``, then what the association rules add for it (its
    primary company, its open deal — where several are equally recent, the question which,
    as for an activity made now); the activity is held no more and its open question about
    a number is closed."""
    ties: list[int] = []
    chosen = choose_associations([(record.id, record.type)], settings.associations, d, ties)
    chosen[0].source, chosen[0].reason = source, reason
    for choice in chosen:
        link_activity(d, activity_id, choice)
    if ties:
        asking = Event(
            id="",
            integration=integration,
            type=EventType.ACTIVITY,
            occurred_at=d.now or record.updated_at,
            activity=ActivityType(activity_type),
        )
        tied_deals(d, asking, settings, activity_id, ties)
    d.late_attached[activity_id] = activity_type
    d.attached.add(activity_id)
    release(d, activity_id)
    close_questions(d, activity_id, "attached", d.now or record.updated_at, reason)
    return chosen


# ------------------------------------------------------------------------ helpers


def link_activity(d: BatchDecider, activity_id: int, choice: ChosenAssociation) -> None:
    """Attach an activity to a record (once; the first reason stays). On a contact or lead
    it is on a person from now on, as the next batch's load reads it (``attached``)."""
    if choice.record_type in PHONE_RECORD_TYPES:
        d.attached.add(activity_id)
    key = (activity_id, choice.record_id)
    if choice.source != AUTO_SOURCE:
        d.named_links.setdefault(activity_id, set()).add(choice.record_id)
    if key not in d.new_activity_links:
        d.new_activity_links[key] = {
            "activity_id": activity_id,
            "record_id": choice.record_id,
            "record_type": choice.record_type._value_,
            "source": choice.source,
            "reason": choice.reason,
        }


def _deal_updated_at(d: BatchDecider, deal_id: int) -> str:
    record = d.records.get(deal_id)
    if record is not None:
        return display_ts(record.updated_at)
    summary = d.deal_info.get(deal_id)
    return display_ts(summary[1]) if summary is not None else "-"


def _email_holders(d: BatchDecider, integration: str, ref: RecordRef) -> list[int]:
    if ref.type is not RecordType.CONTACT or ref.email is None:
        return []
    if ref.external_id is not None and (
        (integration, ref.type._value_, ref.external_id) in d.identity
    ):
        return []
    return d.by_email.shared(ref.email)


def _ask(
    d: BatchDecider,
    found: Found,
    settings: IntegrationSettings,
    kind: str,
    event: Event,
    subject: str,
    question: str,
    candidates: list[dict[str, Any]],
    extra_key: str | None,
) -> None:
    """A question for the review queue, or — when the integration says ``skip`` for this
    kind — the same question closed at once as left unanswered."""
    policy: Ambiguity = getattr(settings.ambiguous, kind)
    found.questions.append(
        _question(d, event, kind, subject, question, candidates, extra_key, policy)
    )
    skipped = f"left unanswered (ambiguous.{kind}: skip)"
    found.trace = joined(
        found.trace, f"{skipped if policy is Ambiguity.SKIP else QUEUED}: {question}"
    )


def _question(
    d: BatchDecider,
    event: Event,
    kind: str,
    subject: str,
    question: str,
    candidates: list[dict[str, Any]],
    extra_key: str | None = None,
    policy: Ambiguity = Ambiguity.QUEUE,
) -> dict[str, Any]:
    """A review question's row about the activity of ``event`` (its key made by
    :func:`settle`): open, or closed at once as left unanswered under ``skip``."""
    skipped = policy is Ambiguity.SKIP
    return {
        "key_suffix": f":{extra_key}" if extra_key else "",
        "kind": kind,
        "integration": event.integration,
        "event_id": event.id or None,
        "subject": subject,
        "question": question,
        "candidates": candidates,
        "created_at": d.now or event.occurred_at,
        "status": "skipped" if skipped else "open",
        "closed_at": (d.now or event.occurred_at) if skipped else None,
        "closed_by": "leadsync" if skipped else None,
        "choice": None,
        "outcome": f"left unanswered (ambiguous.{kind}: skip)" if skipped else None,
    }


def _certain_company(d: BatchDecider, found: Found, ids: Sequence[int], why: str) -> None:
    companies = {d.primary.get(i) for i in ids}
    if len(companies) == 1 and (company := companies.pop()) is not None:
        found.company = (company, why)


def _candidate(d: BatchDecider, record_id: int, why: str) -> dict[str, Any]:
    record = d.records.get(record_id)
    return {
        "record_id": record_id,
        "record_type": record.type._value_ if record is not None else "deal",
        "name": (record.name or record.email) if record is not None else None,
        "why": why,
    }


def _create_contact(d: BatchDecider, event: Event, phone: PhoneNumber) -> RecordState:
    """A contact for an unknown number: the number, nothing invented (no name)."""
    record = d.new_record(
        RecordType.CONTACT, event.occurred_at, event.integration, placeholder=False,
        origin=rules.UNKNOWN_NUMBER,
    )  # fmt: skip
    d.fill_record(record, {"phone": phone.number or phone.given}, event.occurred_at,
                  event.integration)  # fmt: skip
    return record


def _noun(event: Event) -> str:
    return event.activity.value if event.activity is not None else "activity"
