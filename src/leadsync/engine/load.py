"""The load step: everything a batch's decisions may read, in a few set-based queries
(:mod:`leadsync.store.batch`), whatever the batch's size.

The records the events name (by identity, with the rep each identity's integration last gave
as the owner; by email or domain), their links and the deals and
companies those lead to, the activities the batch may update with their memories and
merged sources, the dedupe rules' candidates over the batch's time span, the reps' learned
emails, the round-robin positions and the next ids. Run inside the batch's transaction,
after its lock is taken (see :mod:`leadsync.store.batch`): the counters are only read here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.engine.lookups import Lookup
from leadsync.engine.own_lines import lines_named
from leadsync.engine.state import (
    ActivityState,
    HeldActivity,
    LoadedState,
    OwnLines,
    RecordState,
    SequenceIds,
    SourceKey,
    activity_candidate,
    activity_properties,
    domain_key,
    email_key,
)
from leadsync.model import Event, EventType, RecordRef, RecordType, Strategy, add_days
from leadsync.rules import activity_memory
from leadsync.rules.counterparts import counterpart_numbers
from leadsync.rules.own_lines import OwnLine
from leadsync.rules.ownership import GivenRep
from leadsync.rules.records import PHONE_RECORD_TYPES, gives_phones, phones
from leadsync.rules.workspace import WorkspaceRules
from leadsync.sources import adapter_class
from leadsync.store import batch as store
from leadsync.store import counterparts as counterpart_store
from leadsync.store import external_users
from leadsync.store import joins as join_store
from leadsync.store import outbox as outbox_store
from leadsync.store import own_lines as own_store
from leadsync.store import push as push_store
from leadsync.store import routing as routing_store

RECORD_TYPES = {t.value: t for t in RecordType}


def load(
    connection: Connection,
    rules: WorkspaceRules,
    events: Sequence[Event],
    record_ids: Collection[int] = (),
    learn: Collection[str] = (),
    again: Collection[int] = (),
) -> LoadedState:
    """The state ``events`` need, plus the records ``record_ids`` names directly (a change
    told to leadsync about a record by id, as ``records set-owner`` does), what waits
    for the numbers ``learn`` (E.164: own numbers an admin declared), and the activities
    ``again`` with who has their numbers (internal calls whose line is no longer declared),
    both settled by :func:`leadsync.engine.settle_declared_lines`."""
    refs: list[tuple[str, RecordRef]] = []
    activity_keys: set[SourceKey] = set()
    rep_keys: set[tuple[str, str]] = set()
    for event in events:
        subject = event.subject_ref()
        if subject is not None:
            refs.append((event.integration, subject))
        refs.extend((event.integration, ref) for ref in event.associations)
        refs.extend((event.integration, ref) for ref in event.merged_refs())  # engine/merges.py
        if event.type is EventType.ACTIVITY and event.external_id is not None:
            assert event.activity is not None
            kind = event.activity._value_
            activity_keys.add((event.integration, kind, event.external_id))
            activity_keys.update((event.integration, kind, a) for a in event.aliases)
        if event.owner is not None and event.owner.id is not None:
            rep_keys.add((event.integration, event.owner.id))

    # What earlier events of these activities (and of their other ids) said: their records
    # are named too.
    memory = load_memories(connection, activity_keys)
    activity_keys |= set(memory)
    for (integration, _t, _e), remembered in memory.items():
        refs.extend((integration, ref) for ref in activity_memory.refs(remembered))

    counts = store.read_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
    round_robin = store.read_counters_with_prefix(connection, store.ROUND_ROBIN_PREFIX)
    reps: dict[SourceKey, tuple[str, str]] = {}  # the rep each identity gave last
    merged: dict[SourceKey, str] = {}  # ids a tool merged away before, and when (by its clock)
    identity = store.load_identities(
        connection,
        {(i, r.type._value_, r.external_id) for i, r in refs if r.external_id is not None},
        reps,
        merged,
    )
    # Every contact with an email the batch names (a question lists them when several do).
    email_rows = counterpart_store.load_holders(
        connection, "email", {e for _, r in refs if (e := email_key(r))}
    )
    by_email = Lookup.loaded(email_rows)
    email_holders = {email: by_email.holders(email) for email in email_rows}
    # A free-mail or disposable domain never matches a company (rules/domains.py). Of a
    # domain several companies hold, the lowest n + 1, n the batch's company events: no
    # more can give it up within the batch (each changes its own company's domain), so the
    # one found is always among them (engine/lookups.py); they are loaded as records.
    personal = rules.domains.personal
    moving = sum(1 for e in events if e.type is EventType.RECORD and e.object is RecordType.COMPANY)
    domain_holders = counterpart_store.load_holders(
        connection,
        "domain",
        {d for d in {domain_key(r) for _, r in refs} if d and not personal(d)},
        limit=moving + 1,
    )
    asked, given = _numbers(rules, events, memory, counterpart_store.any_held(connection))
    own_lines, learning = _own_lines(connection, rules, events, asked, learn)
    held = _held(connection, given | learning)
    line_questions = own_store.open_number_questions(connection, learning)
    line_activities = _waiting(connection, rules, held, learning, line_questions, asked, again)
    # Who has a number: for the activities that ask, and for the numbers that activities
    # wait for (a record getting one that another record has too is a question).
    by_phone = counterpart_store.load_phone_holders(connection, asked | set(held))
    holders = {record_id for found in by_phone.values() for record_id, _ in found}
    many = {i for ids in email_holders.values() if len(ids) > 1 for i in ids}
    direct = (
        set(identity.values())
        | {ids[0] for ids in email_holders.values()}
        | {into or own for found in domain_holders.values() for own, into in found}
        | set(record_ids)
        | holders
        | many
    )
    records = _load_records(connection, direct)
    state = LoadedState(
        next_record_id=counts[store.RECORD_ID] + 1,
        next_activity_id=counts[store.ACTIVITY_ID] + 1,
        round_robin=round_robin,
        identity=identity,
        by_email=by_email,
        by_domain=Lookup.loaded(domain_holders),
        records=records,
        links=defaultdict(set),
        primary={},
        known_links=set(),
        deal_info={},
        # The owners leadsync last wrote to the CRM: a CRM webhook reporting one of them is
        # the echo of our own write, not a change made there.
        pushed_owners=(
            push_store.pushed_owners(connection, set(records))
            if rules.push and any(e.integration in rules.crm_integrations for e in events)
            else {}
        ),
        activities={},
        activity_by_id={},
        memory=memory,
        sources={},
        candidates=defaultdict(list),
        learned_emails={},
        by_phone=by_phone,
        held=held,
        ids=_sequence_ids(connection) if routing_store.parallel(connection) else None,
        given_reps={key: GivenRep(rep, at) for key, (rep, at) in reps.items()},
        merged_ids=merged,
        own_lines=OwnLines(own_lines),
        line_questions=line_questions,
        line_activities=line_activities,
        awaited=outbox_store.load_awaited(connection, _reporting(rules, events)),
    )
    _load_neighbourhood(connection, state, set(records))
    for row in store.load_activities(connection, activity_keys):
        data = dict(row._mapping)
        key = (data["integration"], data["type"], data["external_id"])
        state.activities[key] = ActivityState(int(data["id"]), data)
    # Sources merged into another tool's activity find it through activity_sources.
    by_id = {a.id: a for a in state.activities.values()}
    for key, row in store.load_merged_activities(connection, activity_keys):
        data = dict(row._mapping)
        data.pop("source_external_id", None)
        found = by_id.get(int(data["id"]))
        if found is None:
            found = by_id[int(data["id"])] = ActivityState(int(data["id"]), data)
        state.activities[key] = found
    _load_joins(connection, state, events, activity_keys)
    if asked:
        state.attached, state.held_for = counterpart_store.load_attached(
            connection, {a.id for a in state.activities.values()}
        )
    _load_dedupe(connection, state, rules, events)
    learned = external_users.load_learned_emails(connection, rep_keys)
    state.learned_emails = {key: found.email for key, found in learned.items()}
    state.learned_at = {key: found.at for key, found in learned.items()}
    return state


def _reporting(rules: WorkspaceRules, events: Sequence[Event]) -> set[SourceKey]:
    """The identities whose events report their owner to an integration the outbox writes
    to (``bidirectional`` for the type): their writes awaited back are read (rules/echoes.py)."""
    keys: set[SourceKey] = set()
    for event in events:
        if event.owner is None or event.type in (EventType.ACTIVITY, EventType.USER):
            continue
        subject = event.subject_ref()
        if subject is None or subject.external_id is None:
            continue
        if rules.strategy(event.integration, subject.type) is Strategy.BIDIRECTIONAL:
            keys.add((event.integration, subject.type._value_, subject.external_id))
    return keys


def _load_joins(
    connection: Connection,
    state: LoadedState,
    events: Sequence[Event],
    activity_keys: Collection[SourceKey],
) -> None:
    """For one activity a tool names by several ids (engine/aliases.py): the links of the
    activities the ids of an event's activity made (when two made one each, one is joined
    into the other, its links with it), and which ids were merged into an activity before."""
    grouped: set[SourceKey] = set()
    for event in events:
        if event.type is EventType.ACTIVITY and event.external_id is not None:
            ids = event_ids(state.memory, event)
            if len(ids) > 1:
                grouped.update(ids)
    found = {state.activities[k].id for k in grouped if k in state.activities}
    state.activity_links = join_store.load_activity_links(connection, found)
    state.source_keys = join_store.load_source_keys(connection, activity_keys)


def load_memories(
    connection: Connection, keys: Collection[SourceKey]
) -> dict[SourceKey, dict[str, Any]]:
    """The memories of these activities, and of the other ids their memories name (one
    activity a tool names by several ids: :func:`leadsync.rules.activity_memory.group`), a
    query per step away (one, for activities without aliases)."""
    memory = store.load_activity_memory(connection, keys)
    asked = set(keys)
    while True:
        more = {
            (k[0], k[1], alias)
            for k, remembered in memory.items()
            for alias in remembered.get("aka", ())
        } - asked
        if not more:
            return memory
        asked |= more
        memory.update(store.load_activity_memory(connection, more))


def event_ids(memory: Mapping[SourceKey, dict[str, Any]], event: Event) -> list[SourceKey]:
    """The ids of the activity an event is about: its own, its aliases, and the ids their
    memories name (:func:`leadsync.rules.activity_memory.group`)."""
    assert event.activity is not None
    kind = event.activity.value
    own = (event.integration, kind, event.external_id or "")
    found = set(activity_memory.group(memory, own))
    for alias in event.aliases:
        found.update(activity_memory.group(memory, (event.integration, kind, alias)))
    return sorted(found)


def group_properties(
    memory: Mapping[SourceKey, dict[str, Any]], event: Event
) -> dict[str, Any] | None:
    """The properties the memories of an event's activity's ids hold (None: none), the
    latest by the vendor's clock."""
    found = [memory[k] for k in event_ids(memory, event) if k in memory]
    if not found:
        return None
    joined = found[0] if len(found) == 1 else activity_memory.join(found)
    return {p: v[0] for p, v in joined["p"].items()}


def _numbers(
    rules: WorkspaceRules,
    events: Sequence[Event],
    memory: Mapping[SourceKey, Any],
    holding: bool,
) -> tuple[set[str], set[str]]:
    """The phone numbers a batch asks about: its activities' counterparts, and — when any
    activity is ``holding`` — the numbers its record events give contacts and leads, and its
    activities' own (a contact made for one takes them), for which held activities may
    wait. Activities held in this batch find this batch's records
    in memory, by the decide step.

    An activity that names its contact asks too: the decide step sets aside a contact named
    by an email several contacts have (a question, :func:`engine.counterparts.certain_refs`;
    the email may become shared within this very batch) and then looks for the number,
    unless the activity is on a contact already — which the load reads (``attached``) only
    for a batch that asks a number. So what a batch loads for an event never depends on the
    other events beside it."""
    asked: set[str] = set()
    given: set[str] = set()
    person = PHONE_RECORD_TYPES
    for event in events:
        if event.type is EventType.ACTIVITY:
            if event.activity is None:
                continue
            remembered = group_properties(memory, event)
            properties = event.properties
            if remembered is not None:
                properties = {**remembered, **properties}
            if "to_number" not in properties and "from_number" not in properties:
                continue  # no number: nothing to look up
            # Unreadable numbers too: they match nobody, and are no longer held for (a
            # question instead), but an activity held for one by an older version still is.
            region = rules.region(event.integration)
            numbers = counterpart_numbers(properties, region)
            asked.update(p.key for p in numbers)
            if holding:  # a contact made for the number (policy create) takes its held ones
                given.update(p.number for p in numbers if p.number is not None)
        elif holding and event.type is EventType.RECORD and event.object in person:
            if not gives_phones(event.properties):
                continue
            region = rules.region(event.integration)
            for phone in phones(event.object, event.properties, region).values():
                if phone is not None and phone.number is not None:
                    given.add(phone.number)
    return asked, given


def _own_lines(
    connection: Connection,
    rules: WorkspaceRules,
    events: Sequence[Event],
    asked: Collection[str],
    learn: Collection[str],
) -> tuple[dict[tuple[str, str], OwnLine], set[str]]:
    """The company's own lines tools named with a number the batch asks about or names as a
    line (a ``line`` event, a call's ``line_number``), by (integration, number); and the
    numbers the batch may learn as lines (named, and not known yet: what waits for them is
    loaded too), with ``learn``."""
    named = set(lines_named(rules, events))
    numbers = set(asked) | {number for _, number in named}
    known: dict[tuple[str, str], OwnLine] = {}
    for row in own_store.load_lines(connection, numbers):
        settings = rules.integrations.get(row["integration"])
        vendor = adapter_class(settings.kind).vendor_name if settings is not None else None
        known[(row["integration"], row["number"])] = OwnLine(
            row["integration"], row["number"], name=row["name"], line_id=row["line_id"],
            vendor=vendor,
        )  # fmt: skip
    declared = rules.declared_lines
    learning = {n for i, n in named if (i, n) not in known and n not in declared.get(i, {})}
    return known, learning | set(learn)


def _waiting(
    connection: Connection,
    rules: WorkspaceRules,
    held: Mapping[str, list[HeldActivity]],
    learning: Collection[str],
    questions: Sequence[Mapping[str, Any]],
    asked: set[str],
    again: Collection[int],
) -> dict[int, dict[str, Any]]:
    """The activities waiting for a number the batch may learn as a line (held for it, or
    asked about it), and those ``again``: they are looked for again then, so their numbers
    are asked too."""
    ids = {h.activity_id for n in learning for h in held.get(n, ())}
    ids.update(int(q["activity_id"]) for q in questions)
    ids.update(again)
    rows = own_store.load_activity_rows(connection, ids)
    for row in rows.values():
        region = rules.region(row["integration"])
        asked.update(p.key for p in counterpart_numbers(activity_properties(row), region))
    return rows


def _held(connection: Connection, numbers: Collection[str]) -> dict[str, list[HeldActivity]]:
    held: dict[str, list[HeldActivity]] = {}
    for (
        activity_id,
        number,
        integration,
        held_at,
        queued,
        activity_type,
    ) in counterpart_store.load_held(connection, numbers):
        held.setdefault(number, []).append(
            HeldActivity(int(activity_id), integration, number, held_at, activity_type,
                         bool(queued))
        )  # fmt: skip
    return held


def _load_records(connection: Connection, ids: Iterable[int]) -> dict[int, RecordState]:
    found: dict[int, RecordState] = {}
    for (
        rid,
        rtype,
        owner_id,
        email,
        domain,
        name,
        stage,
        is_closed,
        properties,
        placeholder,
        created_at,
        updated_at,
        created_by,
        owner_changed_at,
        owner_source,
        manual_owner_at,
        origin,
        owner_source_at,
        merged_into,
        merged_at,
        property_times,
        primary_company_at,
    ) in store.load_records(connection, set(ids)):
        found[rid] = RecordState(
            rid,
            RECORD_TYPES[rtype],
            owner_id,
            email,
            domain,
            name,
            stage,
            is_closed,
            properties or "{}",
            bool(placeholder),
            created_at,
            updated_at,
            created_by,
            owner_changed_at,
            owner_source,
            manual_owner_at,
            origin,
            owner_source_at,
            merged_into,
            merged_at,
            property_times,
            primary_company_at,
        )
    return found


def remember_link(state: LoadedState, left: int, right: int, is_primary: bool) -> None:
    """Take one record association into the state (loaded, or made by the batch)."""
    state.known_links.add((left, right))
    state.links[left].add(right)
    state.links[right].add(left)
    if is_primary:
        state.primary[left] = right


def _load_neighbourhood(connection: Connection, state: LoadedState, ids: set[int]) -> None:
    """Links of the batch's records, the deals and companies they lead to, and those
    companies' deals: what the association rules may ask about.

    Records reached only through links are never changed by the batch (an event that
    changes a record names it, so it was loaded in full); for them the types on the link
    rows suffice, and deals need only whether they are open and when they were updated.
    """
    records = state.records
    lefts = {i for i in ids if records[i].type is not RecordType.COMPANY}
    companies = {i for i in ids if records[i].type is RecordType.COMPANY}
    deals: set[int] = set()
    for left, right, _lt, right_type, is_primary in store.load_links_from(connection, lefts):
        remember_link(state, left, right, bool(is_primary))
        if right_type == "company":
            companies.add(right)
        elif right_type == "deal":
            deals.add(right)
    for left, right, _lt, _rt, is_primary in store.load_deal_links_to(connection, companies):
        remember_link(state, left, right, bool(is_primary))
        deals.add(left)
    state.deal_info = store.load_deal_summaries(connection, {d for d in deals if d not in records})


def _load_dedupe(
    connection: Connection, state: LoadedState, rules: WorkspaceRules, events: Sequence[Event]
) -> None:
    """For the dedupe rules: the activities this batch's activities may duplicate (one
    query per rule, over the batch's time span), the sources merged into every loaded
    activity, and those sources' memories."""
    memory = state.memory
    state.activity_by_id = {a.id: a for a in state.activities.values()}
    for rule in rules.dedupe:
        # The batch's times of this rule's activities (their memories' too).
        times = []
        for event in events:
            if event.activity is None or event.integration not in rule.integrations:
                continue
            if event.activity is not rule.activity:
                continue
            times.append(event.occurred_at)
            for k in event_ids(memory, event):
                remembered = memory.get(k)
                if remembered is not None and activity_memory.heard(remembered):
                    times.append(activity_memory.activity_time(remembered))
        if not times:
            continue
        lo = add_days(min(times), -rule.window_s / 86_400)
        hi = add_days(max(times), rule.window_s / 86_400)
        found = store.load_dedupe_candidates(
            connection, rule.activity.value, rule.integrations, lo, hi
        )
        for row, linked in found:
            activity = state.activity_by_id.setdefault(
                int(row["id"]), ActivityState(int(row["id"]), row)
            )
            state.candidates[rule.activity.value].append(
                activity_candidate(activity.row, linked, rules.region(str(row["integration"])))
            )
    state.sources = store.load_activity_sources(connection, set(state.activity_by_id))
    wanted = {k for keys in state.sources.values() for k in keys}
    # Creators' memories too: of merged activities, and of candidates (they may merge).
    candidate_ids = {c.activity_id for cs in state.candidates.values() for c in cs}
    wanted |= {
        (a.row["integration"], a.row["type"], a.row["external_id"])
        for a in state.activity_by_id.values()
        if (a.id in state.sources or a.id in candidate_ids) and a.row["external_id"] is not None
    }
    missing = wanted - set(memory)
    if missing:
        memory.update(store.load_activity_memory(connection, missing))


def _sequence_ids(connection: Connection) -> SequenceIds:
    source = routing_store.id_source(connection)
    return SequenceIds(source.reserve, source.local)
