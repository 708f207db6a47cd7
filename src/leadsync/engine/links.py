"""Record links: the records a record event associates, and a contact's (or lead's) primary
company.

HubSpot keeps exactly one primary company per contact, and so does leadsync; it follows what
the sources say now. A contact's or lead's own record event that names companies makes the
first of them (in the event's order, as "the first named record" everywhere) its primary
company, and the latest such event by the vendor's clock decides (``changed_at``, else
``occurred_at``; kept as the record's ``primary_company_at``): one older than it, arriving
later (a retry, a reordered delivery), links the companies it names and moves nothing. Equal
times are not older: the later arrival decides, as for properties. The company that
was primary stays associated, as a plain association: leadsync never ends a link (HubSpot's
``associationChange`` webhooks say when one is removed; that is not applied, the other tools
never say it). A link added in HubSpot is the CRM's record event naming the other record
(sources/hubspot.py): a primary company is the contact's own event naming it. An
event of another record that names the contact (a company's, a deal's) associates it and
makes a company primary only for a contact that has none yet, as the first company always
was.

Activities keep the associations they got when the rules ran (rules/associations.py): only
activities made after a move follow the new primary company and its open deals.

Functions over a :class:`~leadsync.engine.decide.BatchDecider`, pure like it; the rows are
built once, from the batch's end state (a contact that moves twice in one batch writes where
it ended, as two batches would).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from leadsync.engine.load import remember_link
from leadsync.engine.state import RecordState, note
from leadsync.model import ASSOCIATION_RANK, Event, RecordRef, RecordType
from leadsync.rules.records import PHONE_RECORD_TYPES

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider

COMPANY = RecordType.COMPANY._value_
PERSON_TYPES = frozenset(t._value_ for t in PHONE_RECORD_TYPES)


def personal_company(d: BatchDecider, ref: RecordRef) -> str | None:
    """Why ``ref`` names no company: a company named only by a free-mail or disposable domain
    (rules/domains.py) is neither matched nor made; None for any other ref."""
    if ref.type is not RecordType.COMPANY or ref.external_id is not None or not ref.domain:
        return None
    why = d.rules.domains.personal(ref.domain)
    return f"no company is made of {ref.domain}: {why}" if why else None


def link_named(d: BatchDecider, record: RecordState, event: Event) -> None:
    """Associate ``record`` with every record its event names (a company named only by a
    free-mail domain is not made); the first company a contact's or lead's own event names
    becomes its primary company, and the event's trace says so when that moved it."""
    clock = event.changed_at or event.occurred_at
    person = record.type in PHONE_RECORD_TYPES
    # An own event older (by the vendor's clock) than the one that made the primary company
    # links the companies it names and moves nothing; equal times are not older.
    primary_first = person and clock >= (record.primary_company_at or "")
    older = person and not primary_first
    for ref in event.associations:
        if (
            ref.type is RecordType.COMPANY
            and ref.external_id is None
            and personal_company(d, ref) is not None
        ):
            continue  # a company named only by a free-mail domain is not made
        other, _ = d.resolve(event.integration, ref, event.occurred_at)
        primary = primary_first and other.type is RecordType.COMPANY
        if primary:
            primary_first = False
            if clock != record.primary_company_at:
                record.primary_company_at, record.dirty = clock, True
        was = link(d, record, other, primary)
        if d.traces is None or event.id not in d.traces:
            continue
        stays = d.primary.get(record.id)
        if was is not None:
            note(
                d.traces,
                event.id,
                f"company {other.id} is {record.type._value_} {record.id}'s primary company "
                f"now (this event names it first), in place of company {was}, which stays "
                "associated",
            )
        elif older and other.type is RecordType.COMPANY and stays not in (None, other.id):
            older = False  # (said once, of the first company it names)
            note(
                d.traces,
                event.id,
                f"company {other.id} is associated; company {stays} stays {record.type._value_} "
                f"{record.id}'s primary company: this event is older (by the vendor's clock) "
                "than the one that made it primary",
            )


def link(d: BatchDecider, a: RecordState, b: RecordState, primary: bool = False) -> int | None:
    """Associate two records (once; a contact's or lead's first company becomes its primary
    one). With ``primary``, the company becomes the contact's or lead's primary company in
    place of the one it had: returns that one (None when nothing moved)."""
    if a.id == b.id or a.type is b.type:
        return None
    left, right = (a, b) if ASSOCIATION_RANK[a.type] < ASSOCIATION_RANK[b.type] else (b, a)
    companies = right.type is RecordType.COMPANY and left.type in PHONE_RECORD_TYPES
    if (left.id, right.id) not in d.state.known_links:
        first = companies and left.id not in d.primary
        remember_link(d.state, left.id, right.id, first)
        d.new_links.append(
            {
                "left_id": left.id,
                "right_id": right.id,
                "left_type": left.type._value_,
                "right_type": right.type._value_,
                "is_primary": first,
            }
        )
    if not (primary and companies):
        return None
    was = d.primary.get(left.id)
    if was == right.id:
        return None
    d.primary_before.setdefault(left.id, was)
    d.primary[left.id] = right.id
    return was


def link_rows(d: BatchDecider) -> list[dict[str, Any]]:
    """The record link rows to write: the batch's new links, and the links of a contact or
    lead whose primary company moved (the one it left and the one it took, when they existed
    before), each with ``is_primary`` as the batch ends. Written as an upsert."""
    if not d.primary_before:
        return d.new_links  # nothing moved: the flags are as the links were made
    rows = {(r["left_id"], r["right_id"]): dict(r) for r in d.new_links}
    for left, before in d.primary_before.items():
        now = d.primary.get(left)
        if now == before:
            continue
        left_type = d.records[left].type._value_
        for right in (before, now):
            if right is not None and (left, right) not in rows:
                rows[(left, right)] = {
                    "left_id": left,
                    "right_id": right,
                    "left_type": left_type,
                    "right_type": COMPANY,
                    "is_primary": False,
                }
    for row in rows.values():
        if row["right_type"] == COMPANY and row["left_type"] in PERSON_TYPES:
            row["is_primary"] = d.primary.get(row["left_id"]) == row["right_id"]
    return list(rows.values())


def new_primaries(d: BatchDecider) -> dict[int, int]:
    """Contacts and leads whose primary company is another than before the batch: the
    company each has now (the push labels it, and HubSpot demotes the old one)."""
    return {
        left: now
        for left, before in d.primary_before.items()
        if (now := d.primary.get(left)) is not None and now != before
    }
