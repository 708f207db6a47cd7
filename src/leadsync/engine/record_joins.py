"""Two records leadsync held, merged at a tool: the one held under a merged-away id (the
*absorbed* record) is joined into the record the tool kept (docs/WEBHOOKS.md, "Merged
records").

What the decide step does here, in memory, so that the batch's later events find one record:

- **owner**: the kept record's stays; one without an owner takes the absorbed record's, with
  its source and times (a person's protection carries over) — an owner decision with its
  reason either way (:func:`leadsync.rules.ownership.decide_join_owner`, strategy ``merge``);
- **properties**: the kept record's values win; the absorbed one's fill only what the kept
  one lacks (no key, null or empty), with the time each was given (``property_times``).
  Phone numbers: a phone property the kept record shows
  no number in takes the absorbed one's, with who gave it; any other number of the absorbed
  record (shown, or kept beside) that the kept one does not have is kept beside the kept
  record's property, under the integration that gave it (``INTEGRATION (contact TOOL:ID)``,
  the absorbed record by its id at the merging tool, when that integration keeps one there
  already or gives the number the kept record shows; ``INTEGRATION (contact TOOL:ID, 2)``
  after that; in key order, whatever order the stored JSON reads in): indexed, so calls by it
  find the kept record, neither shown nor pushed;
- **lookups**: identities, emails, domains and numbers that found the absorbed record find
  the kept one; its links and primary company are the kept one's in the batch's graph (the
  kept record's primary company stays unless it has none);
- the absorbed record is marked ``merged_into`` the kept one, at the tool's time.

The write step moves what is stored (:func:`leadsync.store.joins.join_records`): every
identity of the absorbed record, its record links (without duplicates, the same primary
rule), its activities' links (the timeline), its phone index entries (replaced by the kept
record's, above), the open review questions naming it as a candidate; and the push leaves it
(:func:`leadsync.store.joins.leave_push`).

Functions over a :class:`~leadsync.engine.decide.BatchDecider`; pure like it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from leadsync.engine.state import RecordState
from leadsync.model import MERGE_STRATEGY, PHONE_PROPERTIES, Event, Outcome
from leadsync.rules.ownership import decide_join_owner
from leadsync.rules.records import PHONE_RECORD_TYPES, PHONE_SOURCES, beside_index, core_fields
from leadsync.values import read_phone

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


def join(
    d: BatchDecider, kept: RecordState, absorbed: RecordState, event: Event, absorbed_as: str
) -> None:
    """Join ``absorbed`` (held under the id ``event``'s tool merged away, ``absorbed_as``:
    ``INTEGRATION:EXTERNAL_ID``) into ``kept``."""
    if absorbed.id == kept.id or absorbed.merged_into is not None or absorbed.type is not kept.type:
        return
    # The batch's owner changes so far went to the identities each record had then: the
    # write step sends them before it moves the absorbed record's identities.
    changes_before = len(d.owner_changes)
    _owner(d, kept, absorbed, event)
    _properties(d, kept, absorbed, event.occurred_at, absorbed_as)
    _lookups(d, kept.id, absorbed.id, changes_before)
    _graph(d, kept.id, absorbed.id)
    absorbed.merged_into, absorbed.merged_at = kept.id, event.occurred_at
    for record in d.records.values():  # joined into it before: the kept one's now (the store's)
        if record.merged_into == absorbed.id:
            record.merged_into = kept.id
    absorbed.dirty = absorbed.fields_dirty = True
    d.record_joins.append(
        {
            "absorbed": absorbed.id,
            "kept": kept.id,
            "type": kept.type._value_,
            "at": event.occurred_at,
            "crm": event.integration in d.crm_integrations,
            "changes_before": changes_before,
        }
    )


def _owner(d: BatchDecider, kept: RecordState, absorbed: RecordState, event: Event) -> None:
    rtype = kept.type._value_
    verdict = decide_join_owner(
        kept.owner_context(False),
        absorbed.owner_id,
        f"{rtype} {absorbed.id}",
        f"{rtype} {kept.id}",
        event.integration,
        event.occurred_at,
    )
    if verdict is None:
        return
    source = absorbed.owner_source or event.integration
    decision = d.record_verdict(kept, event, verdict, MERGE_STRATEGY, source)
    decision.external_user = None  # the owner came from a record, not from the event's rep
    if verdict.outcome is Outcome.SET:  # the owner as the absorbed record had it
        kept.owner_changed_at = absorbed.owner_changed_at or event.occurred_at
        kept.owner_source_at = absorbed.owner_source_at
        kept.manual_owner_at = absorbed.manual_owner_at


def _props(record: RecordState) -> dict[str, Any]:
    if isinstance(record.properties, str):
        record.properties = json.loads(record.properties)
    assert isinstance(record.properties, dict)
    return record.properties


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _properties(
    d: BatchDecider, kept: RecordState, absorbed: RecordState, at: str, absorbed_as: str
) -> None:
    props, theirs = _props(kept), _props(absorbed)
    times, their_times = kept.times(), absorbed.times()
    for name, value in theirs.items():
        if name == PHONE_SOURCES or name in PHONE_PROPERTIES or _empty(value):
            continue
        if _empty(props.get(name)):
            props[name] = value
            # With the time it was given (by the vendor's clock): an older event after the
            # join changes it no more than it would have changed the absorbed record.
            if name in their_times:
                times[name] = their_times[name]
            else:
                times.pop(name, None)
    if kept.type in PHONE_RECORD_TYPES:
        _phones(d, kept, absorbed, props, theirs, at, absorbed_as)
    kept.placeholder = kept.placeholder and absorbed.placeholder
    kept.updated_at = max(kept.updated_at, absorbed.updated_at)
    fields = core_fields(kept.type, props, kept.core_fields())
    # Who holds each email and domain now (engine/lookups.py): the kept record its new ones.
    d.by_email.move(kept.id, kept.email, fields.email)
    d.by_domain.move(kept.id, kept.domain, fields.domain)
    kept.email, kept.domain, kept.name = fields.email, fields.domain, fields.name
    kept.stage, kept.is_closed = fields.stage, fields.is_closed
    kept.dirty = kept.fields_dirty = True


def _numbers_of(props: dict[str, Any], prop: str) -> tuple[str | None, dict[str, Any]]:
    """The number a phone property shows (its index key) and its entry of who gave it."""
    sources = props.get(PHONE_SOURCES)
    entry = sources.get(prop) if isinstance(sources, dict) else None
    entry = dict(entry) if isinstance(entry, dict) else {}
    shown = entry.get("number") if isinstance(entry.get("number"), str) else None
    if shown is None and not _empty(props.get(prop)):
        phone = read_phone(props.get(prop))
        shown = phone.key if phone is not None else None
    return shown, entry


def _beside(entry: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = entry.get("beside")
    if not isinstance(found, dict):
        return {}
    return {str(k): dict(v) for k, v in found.items() if isinstance(v, dict)}


def _phones(
    d: BatchDecider,
    kept: RecordState,
    absorbed: RecordState,
    props: dict[str, Any],
    theirs: dict[str, Any],
    at: str,
    absorbed_as: str,
) -> None:
    """The absorbed record's numbers become the kept record's (see the module's docstring);
    the batch's phone index follows, and stops naming the absorbed record. The absorbed
    record is named by its id at the merging tool (``contact crm:c-2``), never by leadsync's
    id: the names end up in the record's properties, and one worker and several number
    records differently."""
    sources = props.get(PHONE_SOURCES)
    sources = dict(sources) if isinstance(sources, dict) else {}
    held: set[str] = set()  # every number the kept record has, shown or kept beside
    for prop in PHONE_PROPERTIES:
        shown, entry = _numbers_of(props, prop)
        held.update([shown] if shown else [])
        held.update(str(b.get("number")) for b in _beside(entry).values())
    joined = f"{kept.type._value_} {absorbed_as}"
    for prop in PHONE_PROPERTIES:
        shown, entry = _numbers_of(theirs, prop)
        if shown is None and not _beside(entry):
            continue
        mine, my_entry = _numbers_of(props, prop)
        givers = entry.get("given_by")
        giver = givers[0] if isinstance(givers, list) and givers else absorbed.created_by
        moving = [(str(giver or joined), shown)] if shown else []
        # (In key order: JSONB reads a stored record's keys in its own order, not as written.)
        moving += [(i, str(b.get("number"))) for i, b in sorted(_beside(entry).items())]
        if mine is None and _empty(props.get(prop)) and shown is not None:
            props[prop] = theirs.get(prop)  # the property the kept record lacked
            my_entry.update(
                number=shown,
                given_by=givers if isinstance(givers, list) else None,
                why=f"joined from {joined} at {at} ({entry.get('why') or 'who gave it unknown'})",
                changed=at,
            )
            _index(d, kept, prop, shown)
            held.add(shown)
            moving = moving[1:]
        beside = _beside(my_entry)
        # An integration that gives the kept record's shown number keeps none beside under
        # its own name: its next word on the property (the merge event's own, often) would
        # read that one as its older number and drop it.
        gives_shown = {str(g) for g in my_entry.get("given_by") or ()}
        for integration, number in moving:
            if number in held or not number:
                continue
            place = 1
            taken = {str(b.get("index")) for b in beside.values()}
            while beside_index(prop, place) in taken:
                place += 1
            key, n = integration, 1
            while key in beside or key in gives_shown:  # one name a number: … (…, 2) after
                key = f"{integration} ({joined})" if n == 1 else f"{integration} ({joined}, {n})"
                n += 1
            beside[key] = {"number": number, "index": beside_index(prop, place)}
            _index(d, kept, beside_index(prop, place), number)
            held.add(number)
        if beside:
            my_entry["beside"] = dict(sorted(beside.items()))
        if my_entry:
            sources[prop] = my_entry
    if sources:
        props[PHONE_SOURCES] = sources
    for holders in d.by_phone.values():
        holders[:] = [h for h in holders if h[0] != absorbed.id]


def _index(d: BatchDecider, record: RecordState, index: str, number: str) -> None:
    phone = read_phone(number)
    valid = phone is not None and phone.number is not None
    d.phone_rows[(record.id, index)] = {
        "record_id": record.id,
        "property": index,
        "record_type": record.type._value_,
        "number": number,
        "valid": valid,
    }
    if valid:
        d.by_phone.setdefault(number, []).append((record.id, index))


def _lookups(d: BatchDecider, kept: int, absorbed: int, changes_before: int) -> None:
    """Every identity, email and domain that found the absorbed record finds the kept one;
    the outbox writes to such an identity the kept record's owner changes from the join on
    (the join's own included), none made before (``d.name``: engine/write.py, echoes.py)."""
    for key, record_id in d.identity.items():
        if record_id == absorbed:
            d.name(key, kept, changes_before)
            d.identity[key] = kept
    # Where the absorbed record holds an email or domain, it stands for the kept one, in its
    # own place (as the store's merged_into is read: engine/lookups.py).
    d.by_email.join(absorbed, kept)
    d.by_domain.join(absorbed, kept)


def _graph(d: BatchDecider, kept: int, absorbed: int) -> None:
    """The absorbed record's links are the kept one's in the batch's association graph (the
    store moves the rows): the kept record's primary company stays unless it has none; a
    contact whose primary company was the absorbed one has the kept one as primary."""
    links, known = d.links, d.state.known_links
    for other in sorted(links.get(absorbed, ())):
        links[other].discard(absorbed)
        links[other].add(kept)
        links[kept].add(other)
        if (absorbed, other) in known:
            known.add((kept, other))
        if (other, absorbed) in known:
            known.add((other, kept))
        if d.primary.get(other) == absorbed:  # (written as a move: engine/links.py)
            d.primary_before.setdefault(other, absorbed)
            d.primary[other] = kept
    links.pop(absorbed, None)
    was = d.primary.pop(absorbed, None)
    if was is not None and kept not in d.primary:
        d.primary_before.setdefault(kept, None)
        d.primary[kept] = was
