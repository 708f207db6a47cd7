"""The batch loop: load the state a batch needs, decide every event with the pure rules, write
the diffs once.

Events of a batch are decided one after another in arrival order against an in-memory view
of the records they touch (:class:`BatchState`), so a record's events fold in sequence and a
record created by one event is found by the next. Nothing is written until the batch is
decided; then each table gets one executemany. The whole batch is one transaction.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.model import (
    ASSIGN_ON_ACTIVITY,
    ASSOCIATION_RANK,
    CRM_SOURCE,
    MANUAL_STRATEGY,
    ActivitySkip,
    Event,
    EventType,
    MappingResult,
    Outcome,
    OwnerDecision,
    RecordRef,
    RecordType,
    Strategy,
    add_days,
    now_ts,
)
from leadsync.rules import activity_memory, dedupe
from leadsync.rules.activities import skip_reason
from leadsync.rules.associations import choose_associations, primary_index
from leadsync.rules.mapping import OwnerDirectory, map_external_user, round_robin_pick
from leadsync.rules.ownership import OwnerContext, Verdict, decide_crm_change, decide_owner
from leadsync.settings import DedupeRule, IntegrationSettings
from leadsync.store import batch as store
from leadsync.store import push as push_store
from leadsync.store.schema import ACTIVITY_COLUMNS
from leadsync.store.schema import records as records_table

COLUMN_PROPERTIES = {column: prop for prop, column in ACTIVITY_COLUMNS.items()}
EMPTY_ACTIVITY_COLUMNS: dict[str, Any] = dict.fromkeys(ACTIVITY_COLUMNS.values())
RECORD_TYPES = {t.value: t for t in RecordType}


@dataclass(slots=True)
class WorkspaceRules:
    """What the rules need from the workspace's configuration, read once per run."""

    directory: OwnerDirectory
    integrations: Mapping[str, IntegrationSettings]
    # A destination is configured: every change is also queued for the push (push_queue).
    push: bool = False
    # Activities several tools log once each: one activity (see Dedupe).
    dedupe: tuple[DedupeRule, ...] = ()
    # (integration, record type) -> strategy, resolved once: it is asked for every event.
    strategies: dict[tuple[str, str], Strategy] = field(init=False)

    # integration -> (percent, the proposed settings) of a staged rollout.
    rollouts: dict[str, tuple[float, IntegrationSettings]] = field(init=False)

    def __post_init__(self) -> None:
        self.strategies = {
            (name, t): s.ownership.strategy_for(t)
            for name, s in self.integrations.items()
            for t in RecordType
        }
        self.rollouts = {}
        for name, settings in self.integrations.items():
            proposed = settings.proposed()
            if proposed is not None and settings.rollout is not None:
                self.rollouts[name] = (settings.rollout.percent, proposed)

    @property
    def crm_integrations(self) -> set[str]:
        return {name for name, s in self.integrations.items() if s.is_crm}

    def strategy(self, integration: str, record_type: RecordType) -> Strategy:
        return self.strategies[(integration, record_type)]

    def settings_for(
        self, integration: str, sample_key: str | None
    ) -> tuple[IntegrationSettings, str | None]:
        """The settings an event gets: the rollout's proposed ones when its sample key (a
        record id) falls in the rollout's percentage, else the current ones; with the label
        recorded on its decisions ("rollout", or None for the current settings)."""
        rollout = self.rollouts.get(integration)
        if rollout is not None and sample_key is not None and in_rollout(sample_key, rollout[0]):
            return rollout[1], ROLLOUT
        return self.integrations[integration], None

    def bidirectional_integrations(self, record_type: RecordType) -> set[str]:
        return {
            name
            for name, s in self.integrations.items()
            if s.ownership.strategy_for(record_type) is Strategy.BIDIRECTIONAL
        }


ROLLOUT = "rollout"


def in_rollout(sample_key: str, percent: float) -> bool:
    """Whether a record belongs to a rollout's sample: a stable hash of its key (CRC-32,
    the same in every process and version) against the percentage, in steps of 0.01%."""
    return zlib.crc32(sample_key.encode()) % 10_000 < round(percent * 100)


@dataclass(slots=True)
class RecordState:
    id: int
    type: RecordType
    owner_id: str | None
    email: str | None
    domain: str | None
    name: str | None
    stage: str | None
    is_closed: bool | None
    # A dict, or the stored JSON text until an event needs the properties (see fill_record).
    properties: dict[str, Any] | str
    placeholder: bool
    created_at: str
    updated_at: str
    created_by: str | None
    owner_changed_at: str | None
    owner_source: str | None
    manual_owner_at: str | None
    new: bool = False
    dirty: bool = False
    # Properties or core fields changed (a full row update); otherwise only owner and times.
    fields_dirty: bool = False

    def owner_context(self, is_new: bool) -> OwnerContext:
        """The record as the ownership rules see it."""
        return OwnerContext(
            record_type=self.type,
            is_new=is_new,
            owner_id=self.owner_id,
            owner_changed_at=self.owner_changed_at,
            owner_source=self.owner_source,
            manual_owner_at=self.manual_owner_at,
        )

    def awaits_first_owner(self) -> bool:
        """A placeholder nobody has given an owner yet: its first event counts as creating it
        (for ``never_overwrite`` and the other strategies' "new record" case)."""
        return self.placeholder and self.owner_changed_at is None

    def owner_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "updated_at": self.updated_at,
            "owner_changed_at": self.owner_changed_at,
            "owner_source": self.owner_source,
            "manual_owner_at": self.manual_owner_at,
        }

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type._value_,
            "owner_id": self.owner_id,
            "email": self.email,
            "domain": self.domain,
            "name": self.name,
            "stage": self.stage,
            "is_closed": self.is_closed,
            "properties": self.properties,
            "placeholder": self.placeholder,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": self.created_by,
            "owner_changed_at": self.owner_changed_at,
            "owner_source": self.owner_source,
            "manual_owner_at": self.manual_owner_at,
        }


@dataclass(slots=True)
class ActivityState:
    id: int
    row: dict[str, Any]
    new: bool = False
    dirty: bool = False
    deleted: bool = False


@dataclass
class BatchResult:
    """What one batch did, for summaries."""

    events: int = 0
    records_created: int = 0
    owners: dict[str, int] = field(default_factory=lambda: {o.value: 0 for o in Outcome})
    activities_created: int = 0
    activities_updated: int = 0
    activities_skipped: int = 0
    activities_merged: int = 0
    flagged: int = 0

    def add(self, other: BatchResult) -> None:
        self.events += other.events
        self.records_created += other.records_created
        for k, v in other.owners.items():
            self.owners[k] = self.owners.get(k, 0) + v
        self.activities_created += other.activities_created
        self.activities_updated += other.activities_updated
        self.activities_skipped += other.activities_skipped
        self.activities_merged += other.activities_merged
        self.flagged += other.flagged


def _domain_key(ref: RecordRef) -> str | None:
    return ref.domain if ref.type is RecordType.COMPANY else None


def _email_key(ref: RecordRef) -> str | None:
    return ref.email if ref.type is RecordType.CONTACT else None


@dataclass(slots=True)
class EventTrace:
    """What the engine did with one event, for a preview: the record it matched or created,
    the activity it created, updated or skipped, and the associations chosen. The owner
    decisions are in ``BatchState.decisions`` (by event id)."""

    event_id: str
    record: tuple[str, int, bool] | None = None  # (type, id, created)
    activity: tuple[str, int | None, str] | None = None  # (type, id, created|updated|skipped)
    skip_reason: str | None = None
    associations: list[tuple[str, int, str]] = field(default_factory=list)  # (type, id, source)
    merge_reason: str | None = None  # merged into another tool's activity (dedupe), why
    settings: str | None = None  # "rollout" when a rollout's settings decided the activity


class BatchState:
    """The records, links and activities a batch touches, loaded in a few queries.

    With ``trace``, every event also leaves an :class:`EventTrace` (a preview's detail); a
    normal run keeps none.
    """

    def __init__(
        self,
        connection: Connection,
        rules: WorkspaceRules,
        events: Sequence[Event],
        trace: bool = False,
    ):
        self.connection = connection
        self.rules = rules
        self.traces: dict[str, EventTrace] | None = {} if trace else None
        refs: list[tuple[str, RecordRef]] = []
        activity_keys: set[tuple[str, str, str]] = set()
        rep_keys: set[tuple[str, str]] = set()
        for event in events:
            subject = event.subject_ref()
            if subject is not None:
                refs.append((event.integration, subject))
            refs.extend((event.integration, ref) for ref in event.associations)
            if event.type is EventType.ACTIVITY and event.external_id is not None:
                assert event.activity is not None
                activity_keys.add((event.integration, event.activity._value_, event.external_id))
            if event.owner is not None and event.owner.id is not None:
                rep_keys.add((event.integration, event.owner.id))

        # What earlier events of these activities said: their records are named too.
        self.memory = store.load_activity_memory(connection, activity_keys)
        self.memory_changed: set[tuple[str, str, str]] = set()
        for (integration, _t, _e), memory in self.memory.items():
            refs.extend((integration, ref) for ref in activity_memory.refs(memory))

        counter_names = [store.RECORD_ID, store.ACTIVITY_ID]
        counts = store.lock_counters(connection, counter_names)
        self.next_record_id = counts[store.RECORD_ID] + 1
        self.next_activity_id = counts[store.ACTIVITY_ID] + 1
        self.round_robin = store.read_counters_with_prefix(connection, store.ROUND_ROBIN_PREFIX)
        self.round_robin_changed: dict[str, int] = {}

        self.identity = store.load_identities(
            connection,
            {(i, r.type._value_, r.external_id) for i, r in refs if r.external_id is not None},
        )
        self.by_email = store.load_ids_by_key(
            connection,
            records_table.c.email,
            RecordType.CONTACT.value,
            {e for _, r in refs if (e := _email_key(r))},
        )
        self.by_domain = store.load_ids_by_key(
            connection,
            records_table.c.domain,
            RecordType.COMPANY.value,
            {d for _, r in refs if (d := _domain_key(r))},
        )
        self.records: dict[int, RecordState] = {}
        self.links: dict[int, set[int]] = defaultdict(set)
        self.primary: dict[int, int] = {}
        self.known_links: set[tuple[int, int]] = set()
        self.deal_info: dict[int, tuple[bool | None, str]] = {}
        direct = (
            set(self.identity.values()) | set(self.by_email.values()) | set(self.by_domain.values())
        )
        self._load_records(direct)
        self._load_neighbourhood(direct)
        # The owners leadsync last wrote to the CRM: a CRM webhook reporting one of them is
        # the echo of our own write, not a change made there.
        self.pushed_owners: dict[int, set[str | None]] = (
            push_store.pushed_owners(connection, direct)
            if rules.push and any(e.integration in rules.crm_integrations for e in events)
            else {}
        )

        self.activities: dict[tuple[str, str, str], ActivityState] = {}
        for row in store.load_activities(connection, activity_keys):
            data = dict(row._mapping)
            key = (data["integration"], data["type"], data["external_id"])
            self.activities[key] = ActivityState(int(data["id"]), data)
        # Sources merged into another tool's activity find it through activity_sources.
        by_id = {a.id: a for a in self.activities.values()}
        for key, row in store.load_merged_activities(connection, activity_keys):
            data = dict(row._mapping)
            data.pop("source_external_id", None)
            state = by_id.get(int(data["id"]))
            if state is None:
                state = by_id[int(data["id"])] = ActivityState(int(data["id"]), data)
            self.activities[key] = state
        self._load_dedupe(connection, events)
        self.learned_emails = store.load_learned_emails(connection, rep_keys)
        # Settings and owners do not change within a batch: one mapping per distinct rep.
        self.mappings: dict[tuple[str, str | None, str | None, str | None, int], MappingResult] = {}

        # Writes collected while deciding.
        self.new_identities: list[dict[str, Any]] = []
        self.new_links: list[dict[str, Any]] = []
        self.new_activity_links: dict[tuple[int, int], dict[str, Any]] = {}
        self.new_activities: list[ActivityState] = []
        self.new_sources: list[dict[str, Any]] = []
        self.decisions: list[OwnerDecision] = []
        self.skips: list[ActivitySkip] = []
        self.owner_changes: list[OwnerDecision] = []
        self.external_users: dict[tuple[str, str], dict[str, Any]] = {}
        self.result = BatchResult()

    def _load_dedupe(self, connection: Connection, events: Sequence[Event]) -> None:
        """For the dedupe rules: the activities this batch's activities may duplicate (one
        query per rule, over the batch's time span), the sources merged into every loaded
        activity, and those sources' memories."""
        self.dedupe_rules = {
            (r.activity.value, name): r for r in self.rules.dedupe for name in r.integrations
        }
        self.activity_by_id = {a.id: a for a in self.activities.values()}
        self.candidates: dict[str, list[dedupe.Candidate]] = defaultdict(list)
        for rule in self.rules.dedupe:
            # The batch's times of this rule's activities (their memories' too).
            times = []
            for event in events:
                if event.activity is None or event.integration not in rule.integrations:
                    continue
                if event.activity is not rule.activity:
                    continue
                times.append(event.occurred_at)
                key = (event.integration, event.activity.value, event.external_id or "")
                if (memory := self.memory.get(key)) is not None:
                    times.append(activity_memory.activity_time(memory))
            if not times:
                continue
            lo = add_days(min(times), -rule.window_s / 86_400)
            hi = add_days(max(times), rule.window_s / 86_400)
            found = store.load_dedupe_candidates(
                connection, rule.activity.value, rule.integrations, lo, hi
            )
            for row, linked in found:
                state = self.activity_by_id.setdefault(
                    int(row["id"]), ActivityState(int(row["id"]), row)
                )
                self.candidates[rule.activity.value].append(_candidate(state.row, linked))
        self.sources = store.load_activity_sources(connection, set(self.activity_by_id))
        wanted = {k for keys in self.sources.values() for k in keys}
        # Creators' memories too: of merged activities, and of candidates (they may merge).
        candidate_ids = {c.activity_id for cs in self.candidates.values() for c in cs}
        wanted |= {
            (a.row["integration"], a.row["type"], a.row["external_id"])
            for a in self.activity_by_id.values()
            if (a.id in self.sources or a.id in candidate_ids) and a.row["external_id"] is not None
        }
        missing = wanted - set(self.memory)
        if missing:
            self.memory.update(store.load_activity_memory(connection, missing))

    # -------------------------------------------------------------------- loading

    def _load_records(self, ids: Iterable[int]) -> None:
        missing = {i for i in ids if i not in self.records}
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
        ) in store.load_records(self.connection, missing):
            self.records[rid] = RecordState(
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
            )

    def _remember_link(self, left: int, right: int, is_primary: bool) -> None:
        self.known_links.add((left, right))
        self.links[left].add(right)
        self.links[right].add(left)
        if is_primary:
            self.primary[left] = right

    def _load_neighbourhood(self, ids: set[int]) -> None:
        """Links of the batch's records, the deals and companies they lead to, and those
        companies' deals: what the association rules may ask about.

        Records reached only through links are never changed by the batch (an event that
        changes a record names it, so it was loaded in full); for them the types on the link
        rows suffice, and deals need only whether they are open and when they were updated.
        """
        lefts = {i for i in ids if self.records[i].type is not RecordType.COMPANY}
        companies = {i for i in ids if self.records[i].type is RecordType.COMPANY}
        deals: set[int] = set()
        for left, right, _lt, right_type, is_primary in store.load_links_from(
            self.connection, lefts
        ):
            self._remember_link(left, right, bool(is_primary))
            if right_type == "company":
                companies.add(right)
            elif right_type == "deal":
                deals.add(right)
        for left, right, _lt, _rt, is_primary in store.load_deal_links_to(
            self.connection, companies
        ):
            self._remember_link(left, right, bool(is_primary))
            deals.add(left)
        self.deal_info = store.load_deal_summaries(
            self.connection, {d for d in deals if d not in self.records}
        )

    # ------------------------------------------------ association graph (for rules)

    def primary_company(self, record_id: int) -> int | None:
        return self.primary.get(record_id)

    def open_deals_of(self, record_id: int) -> list[tuple[str, int]]:
        """(updated_at, deal id) of the open deals associated with a record."""
        records, info = self.records, self.deal_info
        found: list[tuple[str, int]] = []
        for n in self.links.get(record_id, ()):
            record = records.get(n)
            if record is not None:
                if record.type is RecordType.DEAL and not record.is_closed:
                    found.append((record.updated_at, n))
            else:
                summary = info.get(n)
                if summary is not None and not summary[0]:
                    found.append((summary[1], n))
        return found

    # ------------------------------------------------------------------ records

    def resolve(self, integration: str, ref: RecordRef, at: str) -> tuple[RecordState, bool]:
        """The record ``ref`` names: by identity, else email/domain, else a new placeholder."""
        record_id: int | None = None
        key = None
        if ref.external_id is not None:
            key = (integration, ref.type._value_, ref.external_id)
            record_id = self.identity.get(key)
        if record_id is None:
            email, domain = _email_key(ref), _domain_key(ref)
            if email is not None:
                record_id = self.by_email.get(email)
            elif domain is not None:
                record_id = self.by_domain.get(domain)
            if record_id is not None and key is not None:
                self._add_identity(key, record_id)
        if record_id is not None:
            return self.records[record_id], False
        record = RecordState(
            id=self.next_record_id,
            type=ref.type,
            owner_id=None,
            email=_email_key(ref),
            domain=_domain_key(ref),
            name=None,
            stage=None,
            is_closed=None,
            properties={},
            placeholder=True,
            created_at=at,
            updated_at=at,
            created_by=integration,
            owner_changed_at=None,
            owner_source=None,
            manual_owner_at=None,
            new=True,
        )
        self.next_record_id += 1
        self.records[record.id] = record
        self.result.records_created += 1
        if key is not None:
            self._add_identity(key, record.id)
        if record.email is not None:
            self.by_email.setdefault(record.email, record.id)
        if record.domain is not None:
            self.by_domain.setdefault(record.domain, record.id)
        return record, True

    def _add_identity(self, key: tuple[str, str, str], record_id: int) -> None:
        self.identity[key] = record_id
        self.new_identities.append(
            {"integration": key[0], "type": key[1], "external_id": key[2], "record_id": record_id}
        )

    def fill_record(self, record: RecordState, properties: Mapping[str, Any], at: str) -> None:
        """Merge an event's properties into a record; the core fields follow them."""
        props: dict[str, Any] = (
            json.loads(record.properties)
            if isinstance(record.properties, str)
            else record.properties
        )
        props.update(properties)
        record.properties = props
        record.placeholder = False
        record.updated_at = max(record.updated_at, at)
        if record.type is RecordType.CONTACT:
            email = props.get("email")
            if email and email != record.email:
                record.email = email
                current = self.by_email.get(email)
                self.by_email[email] = record.id if current is None else min(current, record.id)
            first, last = props.get("firstname"), props.get("lastname")
            record.name = (
                " ".join(str(p) for p in (first, last) if p) or props.get("name") or record.name
            )
        elif record.type is RecordType.COMPANY:
            domain = props.get("domain")
            if domain and domain != record.domain:
                record.domain = domain
                current = self.by_domain.get(domain)
                self.by_domain[domain] = record.id if current is None else min(current, record.id)
            record.name = props.get("name") or record.name
        elif record.type is RecordType.DEAL:
            record.name = props.get("name") or props.get("dealname") or record.name
            record.stage = props.get("stage") or props.get("dealstage") or record.stage
            if "is_closed" in props:
                record.is_closed = props["is_closed"]
        else:
            record.name = props.get("name") or props.get("subject") or record.name
            record.stage = props.get("stage") or props.get("status") or record.stage
        record.dirty = True
        record.fields_dirty = True

    def link(self, a: RecordState, b: RecordState) -> None:
        """Associate two records (a contact's first company becomes its primary one)."""
        if a.id == b.id or a.type is b.type:
            return
        left, right = (a, b) if ASSOCIATION_RANK[a.type] < ASSOCIATION_RANK[b.type] else (b, a)
        if (left.id, right.id) in self.known_links:
            return
        is_primary = (
            right.type is RecordType.COMPANY
            and left.type in (RecordType.CONTACT, RecordType.LEAD)
            and left.id not in self.primary
        )
        self._remember_link(left.id, right.id, is_primary)
        self.new_links.append(
            {
                "left_id": left.id,
                "right_id": right.id,
                "left_type": left.type._value_,
                "right_type": right.type._value_,
                "is_primary": is_primary,
            }
        )

    # ------------------------------------------------------------------- owners

    def round_robin_key(self, integration: str, team: str) -> str:
        return f"{store.ROUND_ROBIN_PREFIX}{integration}:{team}"

    def map_rep(self, event: Event, settings: IntegrationSettings) -> MappingResult | None:
        if event.owner is None:
            return None
        rep = event.owner
        learned = (
            self.learned_emails.get((event.integration, rep.id)) if rep.id is not None else None
        )
        key = (event.integration, rep.id, rep.email, learned, id(settings))
        mapping = self.mappings.get(key)
        if mapping is None:
            mapping = map_external_user(rep, settings.users, self.rules.directory, learned)
            self.mappings[key] = mapping
        return mapping

    def learn_rep(self, event: Event) -> None:
        """Remember the external user an event names (the user directory that fills itself);
        a user event introduces one without counting as an event it sent."""
        rep = event.owner
        if rep is None or rep.id is None:
            return
        key = (event.integration, rep.id)
        if rep.email:
            self.learned_emails[key] = rep.email
        sent = 0 if event.type is EventType.USER else 1
        name = event.properties.get("name") if event.type is EventType.USER else None
        seen = self.external_users.get(key)
        if seen is None:
            self.external_users[key] = {
                "integration": event.integration,
                "external_id": rep.id,
                "email": rep.email,
                "name": name,
                "first_seen_at": event.occurred_at,
                "last_seen_at": event.occurred_at,
                "events": sent,
            }
        else:
            seen["email"] = rep.email or seen["email"]
            seen["name"] = name or seen["name"]
            seen["last_seen_at"] = max(seen["last_seen_at"], event.occurred_at)
            seen["first_seen_at"] = min(seen["first_seen_at"], event.occurred_at)
            seen["events"] += sent

    def decide(
        self,
        record: RecordState,
        is_new: bool,
        event: Event,
        strategy: Strategy,
        protect_days: float,
        mapping: MappingResult | None,
        label: str | None = None,
        variant: str | None = None,
    ) -> Verdict:
        candidate = None
        rr_key = None
        if mapping is not None and mapping.round_robin_team is not None:
            rr_key = self.round_robin_key(event.integration, mapping.round_robin_team)
            members = self.rules.directory.active_team(mapping.round_robin_team)
            candidate = round_robin_pick(members, self.round_robin.get(rr_key, 0))
        verdict = decide_owner(
            record.owner_context(is_new),
            event.occurred_at,
            strategy,
            protect_days,
            mapping,
            candidate,
            event.integration,
        )
        self.record_verdict(
            record, event, verdict, label or strategy._value_, event.integration, variant
        )
        if verdict.outcome is Outcome.SET and rr_key is not None:
            self.round_robin[rr_key] = self.round_robin.get(rr_key, 0) + 1
            self.round_robin_changed[rr_key] = self.round_robin[rr_key]
        return verdict

    def record_verdict(
        self,
        record: RecordState,
        event: Event | None,
        verdict: Verdict,
        strategy: str,
        source: str,
        variant: str | None = None,
        at: str | None = None,
    ) -> OwnerDecision:
        """Store a verdict as a decision and, when it sets the owner, apply it to the record
        (``source`` becomes the record's owner source) and queue it for the outbox. Without
        an event (a person's change told to leadsync directly), ``at`` is its time."""
        if event is not None:
            at = event.occurred_at
        assert at is not None
        decision = OwnerDecision(
            record_id=record.id,
            record_type=record.type,
            event_id=event.id if event is not None else None,
            integration=event.integration if event is not None else None,
            strategy=strategy,
            at=at,
            previous_owner_id=record.owner_id,
            proposed_owner_id=verdict.proposed_owner_id,
            owner_id=verdict.owner_id,
            outcome=verdict.outcome,
            reason=verdict.reason,
            external_user=event.owner.describe()
            if event is not None and event.owner is not None and strategy != CRM_SOURCE
            else None,
            flagged=verdict.flagged,
            settings=variant,
        )
        self.decisions.append(decision)
        self.result.owners[verdict.outcome._value_] += 1
        if verdict.flagged:
            self.result.flagged += 1
        if verdict.outcome is Outcome.SET:
            record.owner_id = verdict.owner_id
            record.owner_changed_at = max(record.owner_changed_at or "", at)
            record.owner_source = source
            record.dirty = True
            self.owner_changes.append(decision)
        return decision

    def load_record(self, record_id: int) -> RecordState | None:
        """A record by id, loaded into the batch (None when there is none)."""
        self._load_records({record_id})
        return self.records.get(record_id)

    def change_in_crm(
        self,
        record: RecordState,
        owner_id: str | None,
        at: str,
        by_person: bool,
        event: Event | None = None,
    ) -> OwnerDecision:
        """The record's owner was changed in the CRM: reported by a CRM integration's
        ``event``, or — with no event — a person's change told to leadsync directly
        (``records set-owner``; recorded as strategy ``manual``, no integration). Taken unless
        a more recent owner change is known (:func:`decide_crm_change`); a person's change
        starts ``protect_manual_days``; the record's ``updated_at`` follows; the outbox and
        push queue get it when the batch is written."""
        known = owner_id is not None and owner_id in self.rules.directory.owners
        verdict = decide_crm_change(
            record.owner_context(False),
            at,
            owner_id,
            known,
            event.integration if event is not None else None,
            by_person,
        )
        strategy = CRM_SOURCE if event is not None else MANUAL_STRATEGY
        decision = self.record_verdict(record, event, verdict, strategy, CRM_SOURCE, at=at)
        if verdict.outcome is Outcome.SET:
            if by_person:
                record.manual_owner_at = at
            record.updated_at = max(record.updated_at, at)
        return decision

    # ------------------------------------------------------------------- events

    def apply(self, event: Event) -> None:
        settings = self.rules.integrations[event.integration]
        self.result.events += 1
        if settings.is_crm:
            self.apply_crm(event)
            return
        self.learn_rep(event)
        if event.type is EventType.ACTIVITY:
            self.apply_activity(event, settings)
        elif event.type is not EventType.USER:
            self.apply_record(event, settings)

    def apply_record(self, event: Event, settings: IntegrationSettings) -> None:
        subject = event.subject_ref()
        assert subject is not None
        record, created = self.resolve(event.integration, subject, event.occurred_at)
        settings, variant = self.rules.settings_for(event.integration, str(record.id))
        if self.traces is not None:
            self.traces[event.id] = EventTrace(event.id, (record.type._value_, record.id, created))
        is_new = created or record.awaits_first_owner()
        if event.type is EventType.RECORD:
            self.fill_record(record, event.properties, event.occurred_at)
        else:
            record.updated_at = max(record.updated_at, event.occurred_at)
            record.dirty = True
        if event.owner is not None or event.type is EventType.OWNER or created:
            ownership = settings.ownership
            strategy = (
                self.rules.strategy(event.integration, record.type)
                if variant is None
                else ownership.strategy_for(record.type)
            )
            self.decide(
                record,
                is_new,
                event,
                strategy,
                ownership.protect_manual_days,
                self.map_rep(event, settings),
                variant=variant,
            )
        for ref in event.associations:
            other, _ = self.resolve(event.integration, ref, event.occurred_at)
            self.link(record, other)

    def sample_key(self, event: Event) -> str:
        """An activity's rollout sample key: the id of the first record it names that exists
        already, else its own external id (or event id)."""
        for ref in event.associations:
            record_id = self.existing_record_id(event.integration, ref)
            if record_id is not None:
                return str(record_id)
        return f"activity:{event.external_id or event.id}"

    def existing_record_id(self, integration: str, ref: RecordRef) -> int | None:
        """The id of the record ``ref`` names when the workspace (or this batch) has it, by
        identity, else email or domain; nothing is created."""
        record_id: int | None = None
        if ref.external_id is not None:
            record_id = self.identity.get((integration, ref.type._value_, ref.external_id))
        if record_id is None and (email := _email_key(ref)) is not None:
            record_id = self.by_email.get(email)
        if record_id is None and (domain := _domain_key(ref)) is not None:
            record_id = self.by_domain.get(domain)
        return record_id

    def skipped_for(
        self, event: Event, settings: IntegrationSettings
    ) -> tuple[RecordRef | None, int | None]:
        """The record a skipped activity was for: the primary record the event names (as the
        association rules pick it; else the first it names), and its id if it exists."""
        refs = event.associations
        index = primary_index([r.type for r in refs], settings.associations.primary)
        ref = refs[index if index is not None else 0] if refs else None
        return ref, self.existing_record_id(event.integration, ref) if ref is not None else None

    def apply_crm(self, event: Event) -> None:
        """An event from the CRM itself (HubSpot's webhooks): its owner ids are owner ids, and
        its owner changes are changes made in the CRM (a person's when ``manual``), sent on to
        the bidirectional integrations but never back to the CRM."""
        if event.type is EventType.ACTIVITY or event.type is EventType.USER:
            return
        subject = event.subject_ref()
        assert subject is not None
        record, created = self.resolve(event.integration, subject, event.occurred_at)
        if self.traces is not None:
            self.traces[event.id] = EventTrace(event.id, (record.type._value_, record.id, created))
        if event.type is EventType.RECORD:
            self.fill_record(record, event.properties, event.occurred_at)
        if event.type is not EventType.OWNER and event.owner is None:
            return
        owner_id = event.owner.id if event.owner is not None else None
        if owner_id in self.pushed_owners.get(record.id, ()):
            # Our own write, echoed back by HubSpot: neither a person's change (no protection
            # starts) nor a change to send on.
            self.record_verdict(
                record,
                event,
                Verdict(
                    Outcome.IGNORED,
                    record.owner_id,
                    owner_id,
                    f"ignored: {event.integration} reports {owner_id or 'no owner'}, the owner "
                    "leadsync itself wrote to the CRM (its own change echoed back)",
                ),
                CRM_SOURCE,
                CRM_SOURCE,
            )
            return
        self.change_in_crm(record, owner_id, event.occurred_at, event.manual, event)

    def apply_activity(self, event: Event, settings: IntegrationSettings) -> None:
        assert event.activity is not None
        key = (
            (event.integration, event.activity._value_, event.external_id)
            if event.external_id is not None
            else None
        )
        existing = self.activities.get(key) if key is not None else None
        latest_id = event.id
        if key is not None:
            # The activity as all its events so far say, merged by the vendor's clock: the
            # same whatever order they arrived in.
            memory = self.memory.get(key)
            if memory is None and existing is not None and not existing.deleted:
                memory = activity_memory.seed(existing.row, _activity_properties(existing.row))
            memory = activity_memory.merge(memory, event)
            self.memory[key] = memory
            self.memory_changed.add(key)
            event = activity_memory.effective_event(memory, event)
            latest_id = activity_memory.latest_event_id(memory)
        assert event.activity is not None
        if event.draft:
            if self.traces is not None:
                self.traces[event.id] = EventTrace(
                    event.id,
                    activity=(event.activity._value_, None, "skipped"),
                    skip_reason=f"not created: the {event.activity.value} is a draft at "
                    f"{event.integration} (not sent yet); what it says is remembered for the "
                    "event that sends it",
                )
            return
        if event.integration in self.rules.rollouts:
            settings, variant = self.rules.settings_for(event.integration, self.sample_key(event))
        else:
            variant = None
        merged = dict(event.properties)
        skip = skip_reason(event.activity, merged, settings.activities, event.integration)
        if skip is not None:
            reason = skip.reason
            if existing is not None and not existing.deleted and existing.id in self.sources:
                reason += "; the activity stays: other tools logged it too"
            elif existing is not None and not existing.deleted:
                existing.deleted = True
                reason += "; the activity created earlier from it was removed"
            if self.traces is not None:
                self.traces[event.id] = EventTrace(
                    event.id,
                    activity=(event.activity._value_, None, "skipped"),
                    skip_reason=reason,
                    settings=variant,
                )
            record_ref, record_id = self.skipped_for(event, settings)
            self.skips.append(
                ActivitySkip(
                    event_id=event.id,
                    integration=event.integration,
                    type=event.activity,
                    external_id=event.external_id,
                    occurred_at=event.occurred_at,
                    reason=reason,
                    kind=skip.kind,
                    record=record_ref,
                    record_id=record_id,
                    settings=variant,
                )
            )
            self.result.activities_skipped += 1
            return

        mapping = self.map_rep(event, settings)
        owner_id = None
        if mapping is not None and mapping.round_robin_team is None:
            owner_id = mapping.owner_id
        named: list[tuple[RecordState, bool]] = [
            self.resolve(event.integration, ref, event.occurred_at) for ref in event.associations
        ]
        chosen = choose_associations(
            [(r.id, r.type) for r, _ in named], settings.associations, self
        )
        fresh = existing is None or existing.deleted
        merge_reason = None
        twins = self.dedupe_rules.get((event.activity.value, event.integration))
        if twins is not None and key is not None:
            if fresh:
                found = self.join_twin(twins, key, event, owner_id, merged, named)
                if found is not None:
                    existing, merge_reason = found
            if existing is not None and existing.id in self.sources:
                merged, at = self.combined(existing, twins)
                event = replace(event, occurred_at=at or event.occurred_at)
        assert event.activity is not None
        activity = self._upsert_activity(event, key, existing, owner_id, merged, latest_id)
        if twins is not None and fresh and merge_reason is None:
            self.activity_by_id[activity.id] = activity
            self.candidates[event.activity.value].append(
                _candidate(activity.row, {r.id for r, _ in named})
            )
        if self.traces is not None:
            self.traces[event.id] = EventTrace(
                event.id,
                activity=(
                    event.activity._value_,
                    activity.id,
                    "merged" if merge_reason else "created" if fresh else "updated",
                ),
                associations=[(c.record_type._value_, c.record_id, c.source) for c in chosen],
                merge_reason=merge_reason,
                settings=variant,
            )
        for choice in chosen:
            link_key = (activity.id, choice.record_id)
            if link_key not in self.new_activity_links:
                self.new_activity_links[link_key] = {
                    "activity_id": activity.id,
                    "record_id": choice.record_id,
                    "record_type": choice.record_type._value_,
                    "source": choice.source,
                }
        for record, created in named:
            if record.owner_id is None:
                self.assign_on_activity(record, created, event)

    def assign_on_activity(self, record: RecordState, created: bool, event: Event) -> None:
        """An activity by a mapped rep fills a named record's empty owner when the settings
        the record gets say ``assign_on_activity`` — under the strategy those settings give
        it (``never_overwrite`` stays so; any other fills only an empty owner). A record in a
        staged rollout gets the rollout's settings here as for its own events."""
        settings, variant = self.rules.settings_for(event.integration, str(record.id))
        ownership = settings.ownership
        if not ownership.assign_on_activity:
            return
        mapping = self.map_rep(event, settings)
        if mapping is None or not mapping.mapped:
            return
        strategy = (
            self.rules.strategy(event.integration, record.type)
            if variant is None
            else ownership.strategy_for(record.type)
        )
        rule = (
            Strategy.NEVER_OVERWRITE
            if strategy is Strategy.NEVER_OVERWRITE
            else Strategy.FILL_IF_EMPTY
        )
        self.decide(
            record,
            created or record.awaits_first_owner(),
            event,
            rule,
            ownership.protect_manual_days,
            mapping,
            label=ASSIGN_ON_ACTIVITY,
            variant=variant,
        )

    def join_twin(
        self,
        rule: DedupeRule,
        key: tuple[str, str, str],
        event: Event,
        owner_id: str | None,
        properties: Mapping[str, Any],
        named: Sequence[tuple[RecordState, bool]],
    ) -> tuple[ActivityState, str] | None:
        """The activity another tool logged that this new one is (dedupe rule), joined as one
        more of its sources, with the reason; None when there is none."""
        new = _candidate(
            {
                **properties,
                "integration": event.integration,
                "owner_id": owner_id,
                "occurred_at": event.occurred_at,
                "external_id": event.external_id,
                "id": None,
            },
            {r.id for r, _ in named},
        )
        # An activity this integration is a source of already is not joined twice.
        pool = [
            c
            for c in self.candidates[rule.activity.value]
            if c.activity_id is not None
            and all(k[0] != event.integration for k in self.sources.get(c.activity_id, ()))
        ]
        twin = dedupe.find_twin(rule, new, pool)
        if twin is None:
            return None
        candidate, reason = twin
        assert candidate.activity_id is not None
        activity = self.activity_by_id[candidate.activity_id]
        self.activities[key] = activity
        self.sources.setdefault(activity.id, []).append(key)
        self.new_sources.append(
            {
                "integration": key[0],
                "type": key[1],
                "external_id": key[2],
                "activity_id": activity.id,
                "merged_at": event.occurred_at,
                "reason": reason,
            }
        )
        self.result.activities_merged += 1
        return activity, reason

    def combined(
        self, activity: ActivityState, rule: DedupeRule
    ) -> tuple[dict[str, Any], str | None]:
        """The properties and time of an activity several tools logged: every source's
        memory, the preferred integration's values (and time) winning where both have one."""
        row = activity.row
        keys = [(row["integration"], row["type"], row["external_id"]), *self.sources[activity.id]]
        keys.sort(key=lambda k: k[0] == rule.preferred)  # the preferred one last: it wins
        out: dict[str, Any] = {}
        at: str | None = None
        for k in keys:
            memory = self.memory.get(k)
            if memory is not None:
                out.update({p: v[0] for p, v in memory["p"].items()})
                at = activity_memory.activity_time(memory)
        return out, at

    def _upsert_activity(
        self,
        event: Event,
        key: tuple[str, str, str] | None,
        existing: ActivityState | None,
        owner_id: str | None,
        properties: dict[str, Any],
        latest_id: str,
    ) -> ActivityState:
        """Create the activity, or rewrite the existing one from ``properties`` (all of them:
        the memory's merge, not this event's alone)."""
        assert event.activity is not None
        columns = dict(EMPTY_ACTIVITY_COLUMNS)
        extra: dict[str, Any] = {}
        for prop, value in properties.items():
            column = ACTIVITY_COLUMNS.get(prop)
            if column is None:
                extra[prop] = value
            else:
                columns[column] = value
        if existing is not None:
            row = existing.row
            existing.deleted = False
            row.update(columns)
            row["properties"] = extra
            row["event_id"] = latest_id
            if owner_id is not None:
                row["owner_id"] = owner_id
            row["occurred_at"] = event.occurred_at
            existing.dirty = True
            self.result.activities_updated += 1
            return existing
        row = {
            "id": self.next_activity_id,
            "type": event.activity._value_,
            "integration": event.integration,
            "external_id": event.external_id,
            "event_id": latest_id,
            "owner_id": owner_id,
            "occurred_at": event.occurred_at,
            **columns,
            "properties": extra,
        }
        activity = ActivityState(self.next_activity_id, row, new=True)
        self.next_activity_id += 1
        self.new_activities.append(activity)
        if key is not None:
            self.activities[key] = activity
        self.result.activities_created += 1
        return activity

    # -------------------------------------------------------------------- write

    def write(self) -> None:
        c = self.connection
        new_records = [r.row() for r in self.records.values() if r.new]
        new_records.sort(key=lambda r: r["id"])
        store.insert_records(c, new_records)
        changed = [r for r in self.records.values() if r.dirty and not r.new]
        store.update_records(c, [r.row() for r in changed if r.fields_dirty])
        store.update_records(c, [r.owner_row() for r in changed if not r.fields_dirty])
        store.insert_identities(c, self.new_identities)
        store.insert_record_links(c, self.new_links)

        all_activities = list(self.activities.values()) + [
            a for a in self.new_activities if a.row["external_id"] is None
        ]
        deleted_existing = [a.id for a in all_activities if a.deleted and not a.new]
        store.delete_activities(c, deleted_existing)
        store.insert_activities(c, [a.row for a in self.new_activities if not a.deleted])
        store.update_activities(
            c, [a.row for a in all_activities if a.dirty and not a.new and not a.deleted]
        )
        live = {a.id for a in all_activities if not a.deleted}
        store.insert_activity_links(
            c, [row for (aid, _), row in self.new_activity_links.items() if aid in live]
        )
        at = now_ts()
        store.save_activity_memory(
            c,
            [
                {
                    "integration": key[0],
                    "type": key[1],
                    "external_id": key[2],
                    "state": self.memory[key],
                    "updated_at": at,
                }
                for key in sorted(self.memory_changed)
            ],
        )
        store.insert_activity_sources(c, self.new_sources)
        store.insert_owner_decisions(c, self.decisions)
        store.insert_activity_skips(
            c,
            [
                {
                    "event_id": s.event_id,
                    "integration": s.integration,
                    "type": s.type.value,
                    "external_id": s.external_id,
                    "occurred_at": s.occurred_at,
                    "reason": s.reason,
                    "kind": s.kind,
                    "record_type": s.record.type.value if s.record is not None else None,
                    "record_named": s.record.named_as if s.record is not None else None,
                    "record_id": s.record_id,
                    "settings": s.settings,
                }
                for s in self.skips
            ],
        )
        # The batch's own changes first: a record created here carries its owner already.
        if self.rules.push:
            push_store.enqueue(c, self.push_rows(live))
        write_owner_changes(
            c,
            self.rules,
            self.owner_changes,
            queued={r.id for r in self.records.values() if r.new},
        )
        store.upsert_external_users(c, list(self.external_users.values()))
        counts = dict(self.round_robin_changed)
        counts[store.RECORD_ID] = self.next_record_id - 1
        counts[store.ACTIVITY_ID] = self.next_activity_id - 1
        store.write_counters(c, counts)

    def push_rows(self, live_activities: set[int]) -> list[dict[str, Any]]:
        """The batch's changes for the push queue (owner changes are queued with them by
        :func:`write_owner_changes`): records created or changed, activities created, changed
        or removed, and links added to objects that existed before the batch."""
        at = now_ts()
        rows: list[dict[str, Any]] = []

        def row(
            kind: str, local_id: int, object_type: str, change: str, other: int | None = None
        ) -> None:
            rows.append(
                {
                    "kind": kind,
                    "local_id": local_id,
                    "object_type": object_type,
                    "change": change,
                    "other_id": other,
                    "queued_at": at,
                }
            )

        records = self.records
        pushed = push_store.PUSHED_RECORD_TYPES
        for record in records.values():
            if record.type._value_ not in pushed:
                continue
            if record.new:
                row(push_store.RECORD, record.id, record.type._value_, "created")
            elif record.fields_dirty:
                row(push_store.RECORD, record.id, record.type._value_, "changed")
        for link in self.new_links:
            left = records.get(link["left_id"])
            if left is not None and left.type._value_ in pushed and not left.new:
                row(push_store.RECORD, left.id, left.type._value_, "associated", link["right_id"])
        all_activities = list(self.activities.values()) + [
            a for a in self.new_activities if a.row["external_id"] is None
        ]
        for a in all_activities:
            if a.deleted and not a.new:
                row(push_store.ACTIVITY, a.id, a.row["type"], "removed")
            elif a.new and not a.deleted:
                row(push_store.ACTIVITY, a.id, a.row["type"], "created")
            elif a.dirty and not a.deleted:
                row(push_store.ACTIVITY, a.id, a.row["type"], "changed")
        older = {a.id: a.row["type"] for a in all_activities if not a.new}
        for activity_id, record_id in self.new_activity_links:
            if activity_id in live_activities and activity_id in older:
                row(push_store.ACTIVITY, activity_id, older[activity_id], "associated", record_id)
        return rows


def write_owner_changes(
    connection: Connection,
    rules: WorkspaceRules,
    changes: Sequence[OwnerDecision],
    queued: Collection[int] = (),
) -> None:
    """Everything an owner change sends on, in the caller's transaction: the outbox rows of
    the bidirectional integrations, and (with a destination) the push of the record's owner.
    The engine, a person's change, undo and the push's own re-decisions all come here;
    ``queued``: records whose push is queued already in this transaction (created ones)."""
    store.insert_outbox(connection, outbox_rows(connection, rules, changes))
    if rules.push and changes:
        at = now_ts()
        push_store.enqueue(
            connection,
            [
                {
                    "kind": push_store.RECORD,
                    "local_id": d.record_id,
                    "object_type": d.record_type.value,
                    "change": "owner",
                    "other_id": None,
                    "queued_at": at,
                }
                for d in changes
                if d.record_type.value in push_store.PUSHED_RECORD_TYPES
                and d.record_id not in queued
            ],
        )


def _candidate(row: Mapping[str, Any], records: set[int]) -> dedupe.Candidate:
    """What dedupe matching needs of an activity row (or of a new activity's properties)."""
    duration = row.get("duration_s")
    return dedupe.Candidate(
        integration=str(row["integration"]),
        external_id=row.get("external_id"),
        activity_id=row.get("id"),
        owner_id=row.get("owner_id"),
        at=str(row["occurred_at"]),
        duration_s=float(duration) if duration is not None else None,
        direction=row.get("direction"),
        from_number=row.get("from_number"),
        to_number=row.get("to_number"),
        records=records,
    )


def _activity_properties(row: Mapping[str, Any]) -> dict[str, Any]:
    props = {prop: row[col] for col, prop in COLUMN_PROPERTIES.items() if row.get(col) is not None}
    props.update(row.get("properties") or {})
    return props


def external_owner_id(
    settings: IntegrationSettings, owner: str | None, rules: WorkspaceRules
) -> str | None:
    """The external user an owner is in an integration: the explicit map, else the directory
    entry with the owner's email."""
    if owner is None:
        return None
    mapped = sorted(ext for ext, target in settings.users.map.items() if target == owner)
    if mapped:
        return mapped[0]
    known = rules.directory.owners.get(owner)
    if known is None:
        return None
    email = known.email.strip().lower()
    for user in settings.users.directory:
        if user.email and user.email.strip().lower() == email:
            return user.id
    return None


def outbox_rows(
    connection: Connection,
    rules: WorkspaceRules,
    changes: Sequence[OwnerDecision],
) -> list[dict[str, Any]]:
    """Owner changes to send to every bidirectional integration that knows the record, except
    the integration the change came from (no echo)."""
    targets_by_type = {t: rules.bidirectional_integrations(t) for t in RecordType}
    relevant = [d for d in changes if targets_by_type[d.record_type] - {d.integration or ""}]
    if not relevant:
        return []
    known: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for record_id, integration, external_id in store.load_identities_of_records(
        connection, {d.record_id for d in relevant}
    ):
        known[record_id].append((integration, external_id))
    rows: list[dict[str, Any]] = []
    for d in relevant:
        targets = targets_by_type[d.record_type] - {d.integration or ""}
        source = d.integration or "crm"
        for integration, external_id in known.get(d.record_id, ()):
            if integration not in targets:
                continue
            rows.append(
                {
                    "integration": integration,
                    "record_id": d.record_id,
                    "record_type": d.record_type.value,
                    "external_id": external_id,
                    "owner_id": d.owner_id,
                    "external_owner_id": external_owner_id(
                        rules.integrations[integration], d.owner_id, rules
                    ),
                    "previous_owner_id": d.previous_owner_id,
                    "changed_at": d.at,
                    "source": source,
                    "reason": d.reason,
                    "status": "pending",
                }
            )
    return rows


def apply_batch(
    connection: Connection, rules: WorkspaceRules, events: Sequence[Event]
) -> BatchResult:
    """Decide and write one batch of events, in arrival order, inside the caller's transaction."""
    return decide_batch(connection, rules, events).result


def decide_batch(
    connection: Connection, rules: WorkspaceRules, events: Sequence[Event], trace: bool = False
) -> BatchState:
    """:func:`apply_batch`, returning the whole state (decisions, skips, traces): a preview
    runs it in a transaction it rolls back, so the real path is the one previewed."""
    state = BatchState(connection, rules, events, trace)
    for event in events:
        state.apply(event)
    state.write()
    return state
