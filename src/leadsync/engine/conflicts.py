"""What an event may read or change beyond itself, as keys: two events that share a key (or
are joined through the database's records) must apply in arrival order, one after the other;
events that share none may apply side by side (:mod:`leadsync.pipeline.routing`).

The keys over-approximate what :func:`leadsync.engine.load.load` reads for an event, with
the same lookups, so that two events whose loads could meet always meet here:

- the records it names (and the ids a tool merged into its record: engine/merges.py) — by
  identity (with the rep the identity's integration last gave as
  the owner, read and written through that identity only), email (a contact) or domain (a
  company, unless a free-mail or disposable one: rules/domains.py) — and, through the database, the records
  those already are, every contact with that email, the contacts and leads with its
  numbers, and the records linked to any of them (their companies and deals, and those
  companies' deals: what the association rules read). A contact's primary company moving
  (engine/links.py) changes only the contact's own links, to companies its event names: keys
  the event carries, the old company joined through the contact's links;
- the activity it creates or changes, its other ids at the tool (``aliases``, and those its
  memory names: one activity), what earlier events of that activity named (its memories),
  the records it is attached to, and the activities held for a number it gives;
- the counterpart numbers of a call that names nobody, and the numbers a contact gets;
- a line of the company an event names (a ``line`` event, a call's ``line_number``) while
  it is not known yet (neither learned nor declared): learning it may settle what waits for
  its number — the activities held for it or asked about it, and their other numbers. Once
  known it is only read (a call to it reads that it is a line through its own number key);
- the rep: the events of one rep are joined only when the window gives it two emails or
  two names (it keeps the latest), or changes the email leadsync learned for it and an
  event's mapping reads that email (a rep the map or the directory names does not; an event
  that gives its own email does not): :func:`rep_keys`; events whose rep the mapping sends
  to a round-robin team share that team's turn counter; a rep whose email several owners
  share, that question.

Nothing here decides: the mapping is :func:`leadsync.rules.mapping.map_rep`, the
same call the engine makes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy.engine import Connection

from leadsync.engine.load import load_memories
from leadsync.engine.own_lines import lines_named
from leadsync.engine.state import activity_properties, domain_key, email_key
from leadsync.model import Event, EventType, RecordRef, RecordType
from leadsync.rules import activity_memory
from leadsync.rules.counterparts import counterpart_numbers
from leadsync.rules.mapping import given_rep_name, map_rep, newer_word
from leadsync.rules.records import PHONE_RECORD_TYPES, phones
from leadsync.rules.workspace import WorkspaceRules
from leadsync.settings import IntegrationSettings
from leadsync.store import batch as store
from leadsync.store import counterparts as counterpart_store
from leadsync.store import external_users
from leadsync.store import own_lines as own_store
from leadsync.store import routing as routing_store

# A key is a tuple whose first item says its kind: ("i", integration, type, external id),
# ("e", email), ("d", domain), ("p", number), ("a", integration, type, external id),
# ("r", record id), ("A", activity id), ("u", integration, rep), ("rr", integration, team),
# ("o", integration, rep), ("l", integration, number: a line not known yet); in the
# database's pairs only, ("n", record id): a record read beside another (_neighbours).
Key = tuple[str, ...]


def event_keys(event: Event, rules: WorkspaceRules) -> list[Key]:
    """The keys an event names itself (the database adds to them: :func:`resolve`)."""
    keys: list[Key] = []
    integration = event.integration
    subject = event.subject_ref()
    if subject is not None:
        keys.extend(_ref_keys(integration, subject, rules))
    for ref in (*event.associations, *event.merged_refs()):  # merged: one record now
        keys.extend(_ref_keys(integration, ref, rules))
    region = rules.region(integration)
    if event.type is EventType.ACTIVITY and event.activity is not None:
        if event.external_id is not None:
            keys.append(("a", integration, event.activity._value_, event.external_id))
            # Its other ids at the tool: one activity (engine/aliases.py).
            keys.extend(("a", integration, event.activity._value_, a) for a in event.aliases)
        keys.extend(("p", p.key) for p in counterpart_numbers(event.properties, region))
    elif event.type is EventType.RECORD and event.object in PHONE_RECORD_TYPES:
        for phone in phones(event.object, event.properties, region).values():
            if phone is not None and phone.number is not None:
                keys.append(("p", phone.number))
    return keys


def row_keys(events: Sequence[Event], rules: WorkspaceRules) -> list[Key]:
    """The keys an inbox row's events name themselves (:func:`event_keys`, in order)."""
    return [key for event in events for key in event_keys(event, rules)]


def id_bounds(events: Sequence[Event]) -> tuple[int, int]:
    """How many record and activity ids a row's events may take, at most, beyond what the
    memory of a drafted activity names: a record event its subject and a placeholder per
    record it names; an activity event a placeholder per record it names, a contact for an
    unknown number, and itself. The router reserves that many per row, in arrival order."""
    records = sum(1 + len(e.associations) for e in events)
    activities = sum(1 for e in events if e.type is EventType.ACTIVITY)
    return records, activities


def _ref_keys(integration: str, ref: RecordRef, rules: WorkspaceRules) -> Iterator[Key]:
    if ref.external_id is not None:
        yield ("i", integration, ref.type._value_, ref.external_id)
    if (email := email_key(ref)) is not None:
        yield ("e", email)
    if (domain := domain_key(ref)) is not None and not rules.domains.personal(domain):
        yield ("d", domain)


def rep_keys(
    connection: Connection, rules: WorkspaceRules, events: Sequence[Sequence[Event]]
) -> list[list[Key]]:
    """Per row (its events), the keys its rep adds: see the module's docstring. One query
    for the learned emails of the window's reps."""
    by_rep: dict[tuple[str, str], list[Event]] = {}
    for row in events:
        for e in row:
            if e.owner is not None and e.owner.id is not None:
                by_rep.setdefault((e.integration, e.owner.id), []).append(e)
    loaded = external_users.load_learned_emails(connection, by_rep)
    stored = {key: learned.email for key, learned in loaded.items()}
    ordered = {key for key, given in by_rep.items() if _rep_ordered(rules, given, stored.get(key))}
    # In arrival order: each event is mapped with the email learned by then (its own
    # included when it is the newest word, as the engine learns a rep before mapping it:
    # engine/reps.py).
    learned = dict(stored)
    learned_at = {key: each.at for key, each in loaded.items()}
    out: list[list[Key]] = []
    mappings: dict[tuple[str, str | None, str | None, str | None, EventType], list[Key]] = {}
    for row in events:
        keys: list[Key] = []
        for event in row:
            rep = event.owner
            settings = rules.integrations.get(event.integration)
            if rep is None or settings is None:
                continue
            key = (event.integration, rep.id or "")
            if key in ordered:
                keys.append(("u", *key))
            if (
                rep.id is not None
                and rep.email
                and newer_word(event.occurred_at, learned_at.get(key))
            ):
                learned[key], learned_at[key] = rep.email, event.occurred_at
            now = learned.get(key)
            cached = (event.integration, rep.id, rep.email, now, event.type)
            found = mappings.get(cached)
            if found is None:
                found = mappings[cached] = _mapping_keys(event, rules, now)
            keys.extend(found)
        out.append(keys)
    return out


def _rep_ordered(rules: WorkspaceRules, given: Sequence[Event], stored: str | None) -> bool:
    """Whether the events of one rep in a window must apply in arrival order for what they
    learn of it: they give it two emails or two names (the rep keeps the latest), or the
    email learned changes and an event's mapping reads it (the same call the engine makes,
    under each email the rep may have learned by then; a rep the map or the directory
    names, or an event that gives its own email, reads none). Otherwise each event writes
    what the others write, and reads nothing they change."""
    emails = {e.owner.email for e in given if e.owner is not None and e.owner.email}
    names = {name for e in given if (name := given_rep_name(e))}
    if len(emails) > 1 or len(names) > 1:
        return True
    if not emails - {stored}:
        return False  # the learned email stays as it is
    values = [stored, *emails]
    for event in given:
        assert event.owner is not None
        if event.integration not in rules.integrations:
            continue  # not mapped at all (the engine refuses it)
        for settings in _variants(rules, event.integration):
            first, *rest = (map_rep(event.owner, settings, rules.directory, v) for v in values)
            if any(other != first for other in rest):
                return True
    return False


def _variants(rules: WorkspaceRules, integration: str) -> list[IntegrationSettings]:
    """An integration's settings, and its staged rollout's (whose events map under them)."""
    variants = [rules.integrations[integration]]
    if (rollout := rules.rollouts.get(integration)) is not None:
        variants.append(rollout[1])
    return variants


def line_keys(
    connection: Connection, rules: WorkspaceRules, events: Sequence[Sequence[Event]]
) -> list[list[Key]]:
    """Per row (its events), the keys of the company's lines it may learn: a line it names
    that is neither stored nor declared — ``("l", integration, number)`` and the number's
    own key, which the calls to it carry. A line known already adds nothing: nothing is
    written for it, and whoever reads it finds it in the database. One query per window."""
    named = [lines_named(rules, row) for row in events]
    numbers = {number for found in named for _, number in found}
    stored = {(r["integration"], r["number"]) for r in own_store.load_lines(connection, numbers)}
    declared = rules.declared_lines
    return [
        [
            key
            for integration, number in found
            if (integration, number) not in stored and number not in declared.get(integration, {})
            for key in (("l", integration, number), ("p", number))
        ]
        for found in named
    ]


def _mapping_keys(event: Event, rules: WorkspaceRules, learned: str | None) -> list[Key]:
    """The round-robin team an event may take a turn from, and a rep question it may ask,
    under the integration's settings and its staged rollout's. Only record and owner events
    take turns: an activity fills an owner only for a mapped rep (``assign_on_activity``)."""
    assert event.owner is not None
    keys: list[Key] = []
    turns = event.type in (EventType.RECORD, EventType.OWNER)
    for settings in _variants(rules, event.integration):
        mapping = map_rep(event.owner, settings, rules.directory, learned)
        if turns and mapping.round_robin_team is not None:
            keys.append(("rr", event.integration, mapping.round_robin_team))
        if mapping.candidates:
            keys.append(("o", event.integration, event.owner.describe()))
    return keys


def resolve(
    connection: Connection, rules: WorkspaceRules, keys: Iterable[Key]
) -> list[tuple[Key, Key]]:
    """Pairs of keys the database joins (a key and the record or activity it stands for; a
    record and its neighbours), a few set-based queries for a whole window."""
    keys = set(keys)
    pairs: list[tuple[Key, Key]] = []
    activity_keys = {(k[1], k[2], k[3]) for k in keys if k[0] == "a"}
    # What earlier events of these activities (and of their other ids) named, and the
    # numbers they gave; an activity's ids are one activity.
    memory = load_memories(connection, activity_keys)
    activity_keys |= set(memory)
    named: set[Key] = set()
    for (integration, atype, external_id), remembered in memory.items():
        activity: Key = ("a", integration, atype, external_id)
        for alias in remembered.get("aka", ()):
            pairs.append((activity, ("a", integration, atype, alias)))
        for ref in activity_memory.refs(remembered):
            for key in _ref_keys(integration, ref, rules):
                pairs.append((activity, key))
                named.add(key)
        properties = {p: v[0] for p, v in remembered.get("p", {}).items()}
        for phone in counterpart_numbers(properties, rules.region(integration)):
            pairs.append((activity, ("p", phone.key)))
            named.add(("p", phone.key))
    keys |= named
    activities: set[int] = set()
    learned = {(k[1], k[2]) for k in keys if k[0] == "l"}
    if learned:
        pairs.extend(_waiting(connection, rules, learned, keys, activities))
    records: set[int] = set()
    identities = {(k[1], k[2], k[3]) for k in keys if k[0] == "i"}
    for (integration, rtype, external_id), record_id in store.load_identities(
        connection, identities
    ).items():
        pairs.append((("i", integration, rtype, external_id), ("r", str(record_id))))
        records.add(record_id)
    emails = {k[1] for k in keys if k[0] == "e"}
    for email, ids in counterpart_store.load_email_holders(connection, emails).items():
        for record_id in ids:
            pairs.append((("e", email), ("r", str(record_id))))
            records.add(record_id)
    # Every company that may hold a domain when an event names it (engine/lookups.py): the
    # lowest holder may give it up within the window, and the next answers then. No more
    # can than the companies the window names (by identity or domain): that many + 1.
    domains = {k[1] for k in keys if k[0] == "d"}
    named_companies = sum(
        1 for k in keys if k[0] == "d" or (k[0] == "i" and k[2] == RecordType.COMPANY.value)
    )
    for domain, held in counterpart_store.load_holders(
        connection, "domain", domains, limit=named_companies + 1
    ).items():
        for own, into in held:  # (a company joined into another stands for that one)
            record_id = into or own
            pairs.append((("d", domain), ("r", str(record_id))))
            records.add(record_id)
    numbers = {k[1] for k in keys if k[0] == "p"}
    for number, holders in counterpart_store.load_phone_holders(connection, numbers).items():
        for record_id, _property in holders:
            pairs.append((("p", number), ("r", str(record_id))))
            records.add(record_id)
    for row in counterpart_store.load_held(connection, numbers):
        pairs.append((("p", str(row[1])), ("A", str(row[0]))))
        activities.add(int(row[0]))
    for (integration, atype, external_id), activity_id in routing_store.activity_ids(
        connection, activity_keys
    ):
        pairs.append((("a", integration, atype, external_id), ("A", str(activity_id))))
        activities.add(activity_id)
    for activity_id, record_id in routing_store.activity_records(connection, activities):
        pairs.append((("A", str(activity_id)), ("r", str(record_id))))
        records.add(record_id)
    pairs.extend(_neighbours(connection, records))
    return pairs


def _waiting(
    connection: Connection,
    rules: WorkspaceRules,
    learned: set[tuple[str, str]],
    keys: set[Key],
    activities: set[int],
) -> list[tuple[Key, Key]]:
    """What learning these lines may settle: the activities held for their numbers or asked
    about them (``activities``, which the caller joins to their records), each with its
    counterpart numbers (added to ``keys``: their holders are looked up with the rest)."""
    numbers = {number for _, number in learned}
    ids = {int(row[0]) for row in counterpart_store.load_held(connection, numbers)}
    ids.update(int(q["activity_id"]) for q in own_store.open_number_questions(connection, numbers))
    pairs: list[tuple[Key, Key]] = []
    for activity_id, row in own_store.load_activity_rows(connection, ids).items():
        node: Key = ("A", str(activity_id))
        activities.add(activity_id)
        region = rules.region(row["integration"])
        for phone in counterpart_numbers(activity_properties(row), region):
            pairs.append((node, ("p", phone.key)))
            keys.add(("p", phone.key))
    return pairs


def _neighbours(connection: Connection, records: set[int]) -> list[tuple[Key, Key]]:
    """What the load reads beside each record (:func:`leadsync.engine.load.load`'s
    neighbourhood, which the association rules ask about): the records it is linked to, and
    the deals of the companies among them and of itself — each as a *read* pair, the record
    and ``("n", id)`` of what it reads. Nothing an event reads there is changed by an event
    that does not name it (``load``'s neighbourhood is never written: a link is made only
    between a record and the records its event names, a deal opens or closes by its own
    event, a join names the record it absorbs), so a read pair joins only where a row of the
    window names the read record itself: :func:`components`."""
    linked: dict[int, set[int]] = {}
    companies: dict[int, set[int]] = {}
    for left, right, _lt, right_type, _p in store.load_links_from(connection, records):
        linked.setdefault(int(left), set()).add(int(right))
        if right_type == "company":
            companies.setdefault(int(left), set()).add(int(right))
    deals: dict[int, set[int]] = {}
    wanted = records.union(*companies.values())
    for left, right, *_ in store.load_deal_links_to(connection, wanted):
        deals.setdefault(int(right), set()).add(int(left))
    pairs: list[tuple[Key, Key]] = []
    for record in records:
        read = set(linked.get(record, ()))
        for company in (record, *companies.get(record, ())):
            read.update(deals.get(company, ()))
        read.discard(record)
        node: Key = ("r", str(record))
        pairs.extend((node, ("n", str(other))) for other in sorted(read))
    return pairs


def components(row_keys: Sequence[Sequence[Key]], pairs: Iterable[tuple[Key, Key]]) -> list[int]:
    """The component of every row: rows that share a key, directly or through ``pairs``,
    get one number (the index of their component's first row). A read pair ``(a, ("n",
    id))`` (:func:`_neighbours`) joins ``a`` to the record ``("r", id)`` only when a row's
    keys reach that record without read pairs: rows that only read a record need no order
    between them; a row that may change it is ordered with every row that reads it."""
    # Union-find over numbers: rows 0..n-1, then each key as first met. The smaller root
    # stays the root, so every set with a row has its first row as root. Written out in
    # loops (no helper calls): a window of 8,000 rows makes a million of these steps.
    parent = list(range(len(row_keys)))
    number: dict[Key, int] = {}
    edges: list[tuple[int, int]] = []
    for index, keys in enumerate(row_keys):
        for key in keys:
            at = number.get(key)
            if at is None:
                at = number[key] = len(parent)
                parent.append(at)
            edges.append((index, at))
    reads: list[tuple[Key, Key]] = []
    for a, b in pairs:
        if b[0] == "n":
            reads.append((a, b))
            continue
        na, nb = number.get(a), number.get(b)
        if na is None:
            na = number[a] = len(parent)
            parent.append(na)
        if nb is None:
            nb = number[b] = len(parent)
            parent.append(nb)
        edges.append((na, nb))
    # A read record some row reaches (its keys and the database's other pairs): joined.
    for a, (_, record) in reads:
        nb = number.get(("r", record))
        if nb is not None:
            na = number.get(a)
            if na is None:
                na = number[a] = len(parent)
                parent.append(na)
            edges.append((na, nb))
    for x, y in edges:
        while parent[x] != x:
            parent[x] = x = parent[parent[x]]  # path halving
        while parent[y] != y:
            parent[y] = y = parent[parent[y]]
        if x < y:
            parent[y] = x
        elif y < x:
            parent[x] = y
    out = []
    for index in range(len(row_keys)):
        root = index
        while parent[root] != root:
            parent[root] = root = parent[parent[root]]
        out.append(root)
    return out
