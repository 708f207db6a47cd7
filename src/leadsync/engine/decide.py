"""The decide step: every event of a batch, in arrival order, against the loaded state.

Pure: no connection and no clock. The state comes from :func:`leadsync.engine.load.load`
(or, in tests, from memory), the time of writing is passed in, and the answer is a
:class:`~leadsync.engine.rows.Decided` — the rows to write, each decision with its reason.
The rules themselves are in :mod:`leadsync.rules`; this module folds their verdicts into
records, links and activities, so a record created by one event is found by the next."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from leadsync.engine import (
    activities,
    counterparts,
    echoes,
    learn_lines,
    links,
    merges,
    phones,
    reps,
)
from leadsync.engine.rows import Decided, collect
from leadsync.engine.state import (
    RECORD_IDS,
    ActivityState,
    BatchResult,
    EventTrace,
    LoadedState,
    RecordState,
    SourceKey,
    domain_key,
    email_key,
    take_id,
)
from leadsync.model import (
    CRM_SOURCE,
    CRM_STRATEGY,
    MANUAL_STRATEGY,
    MERGE_STRATEGY,
    PHONE_PROPERTIES,
    SEEN_IN_CRM,
    ActivitySkip,
    Event,
    EventType,
    MappingResult,
    Outcome,
    OwnerDecision,
    RecordRef,
    RecordType,
    Strategy,
)
from leadsync.rules.echoes import OwnerWritten
from leadsync.rules.mapping import map_rep as mapped
from leadsync.rules.mapping import passed_over, round_robin_turn
from leadsync.rules.ownership import (
    GivenRep,
    Verdict,
    decide_crm_change,
    decide_owner,
    merged_away_verdict,
    rep_key,
)
from leadsync.rules.records import PHONE_RECORD_TYPES, core_fields, gives_phones, newer_properties
from leadsync.rules.workspace import WorkspaceRules
from leadsync.settings import IntegrationSettings
from leadsync.store.batch import ROUND_ROBIN_PREFIX


class BatchDecider:
    """A batch being decided: the loaded state, changed in memory event by event, and the
    decisions, skips and writes collected on the way.

    With ``trace``, every event also leaves an :class:`EventTrace` (a preview's detail); a
    normal run keeps none. The state's maps are shared, not copied: after the run they hold
    the batch's end state."""

    def __init__(
        self,
        state: LoadedState,
        rules: WorkspaceRules,
        trace: bool = False,
        now: str | None = None,
    ):
        self.state = state
        self.rules = rules
        self.now = now  # the time of writing, when known before deciding (questions carry it)
        self.traces: dict[str, EventTrace] | None = {} if trace else None
        self.records = state.records
        self.identity = state.identity
        self.by_email = state.by_email
        self.by_domain = state.by_domain
        self.links = state.links
        self.primary = state.primary
        self.deal_info = state.deal_info
        self.round_robin = state.round_robin
        self.activities = state.activities
        self.activity_by_id = state.activity_by_id
        self.memory = state.memory
        self.sources = state.sources
        self.candidates = state.candidates
        self.learned_emails = state.learned_emails
        self.by_phone = state.by_phone
        self.held = state.held
        self.attached = state.attached
        self.held_for = state.held_for
        self.given_reps = state.given_reps
        self.echoes = echoes.Echoes(rules, state.awaited)  # owners written to the tools
        self.reps_given: set[SourceKey] = set()  # identities whose given rep changed
        self.crm_integrations = rules.crm_integrations
        self.dedupe_rules = {(r.activity.value, n): r for r in rules.dedupe for n in r.integrations}
        # Settings and owners do not change within a batch: one mapping per distinct rep.
        self.mappings: dict[tuple[str, str | None, str | None, str | None, int], MappingResult] = {}
        # Writes collected while deciding.
        self.memory_changed: set[SourceKey] = set()
        self.round_robin_changed: dict[str, int] = {}
        self.new_identities: list[dict[str, Any]] = []
        # Ids a tool merged into another record, and a CRM's (engine/merges.py).
        self.merged_identities: dict[SourceKey, dict[str, Any]] = {}
        self.hubspot_merges: list[tuple[str, list[str], str]] = []
        # What identities the batch changes name, from which of its owner changes on (the
        # outbox sends a change to the identities of its record then: engine/write.py).
        self.identity_log: dict[SourceKey, list[tuple[int, int | None]]]
        # (An id a tool merged away before names nobody to it: no writes awaited back.)
        self.identity_log = {key: [(0, None)] for key in state.merged_ids}
        self.echoes.log = self.identity_log
        self.record_joins: list[dict[str, Any]] = []  # records joined (engine/record_joins.py)
        self.new_links: list[dict[str, Any]] = []
        # Contacts and leads whose primary company moved: the one each had before the batch.
        self.primary_before: dict[int, int | None] = {}
        self.new_activity_links: dict[tuple[int, int], dict[str, Any]] = {}
        # Per activity, the records this batch linked it to that its events named or its
        # number found (not the association rules' choices): dedupe's counterparts, as the
        # next batch's load reads them (store.batch.load_dedupe_candidates).
        self.named_links: dict[int, set[int]] = {}
        self.new_activities: list[ActivityState] = []
        # Removed, then made anew under their key, or merged into another (engine/aliases.py).
        self.retired: list[ActivityState] = []
        self.new_sources: list[dict[str, Any]] = []
        self.moved: list[tuple[int, int]] = []  # activities joined into another: (from, to)
        self.decisions: list[OwnerDecision] = []
        self.skips: list[ActivitySkip] = []
        # The batch's skips not resolved yet, by activity key; the skips of earlier batches
        # to resolve (engine/activities.py: created_later).
        self.skips_of: dict[SourceKey, list[ActivitySkip]] = {}
        self.created_later: list[dict[str, Any]] = []
        self.owner_changes: list[OwnerDecision] = []
        self.external_users: dict[tuple[str, str], dict[str, Any]] = {}
        # Counterparts: phone rows by (record, property) (None: removed), activities held,
        # questions for the review queue, activities of earlier batches attached now (id ->
        # type), activities held no more, their open questions closed.
        self.phone_rows: dict[tuple[int, str], dict[str, Any] | None] = {}
        self.new_holds: list[dict[str, Any]] = []
        self.questions: list[dict[str, Any]] = []
        self.late_attached: dict[int, str] = {}
        self.released: set[int] = set()
        self.closing: list[dict[str, Any]] = []
        self.result = BatchResult()
        self.decided: Decided | None = None

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
            email, domain = email_key(ref), domain_key(ref)
            if email is not None:
                record_id = self.by_email.first(email)
            elif domain is not None and not self.rules.domains.personal(domain):
                record_id = self.by_domain.first(domain)
            if record_id is not None and key is not None:
                self.add_identity(key, record_id)
        if record_id is not None:
            return self.records[record_id], False
        record = self.new_record(
            ref.type, at, integration, placeholder=True, email=email_key(ref),
            domain=domain_key(ref),  # a CRM names only records it has (made: apply_crm)
            origin=SEEN_IN_CRM if integration in self.rules.crm_integrations else None,
        )  # fmt: skip
        if key is not None:
            self.add_identity(key, record.id)
        self.by_email.move(record.id, None, record.email)
        self.by_domain.move(record.id, None, record.domain)
        return record, True

    def new_record(
        self,
        record_type: RecordType,
        at: str,
        integration: str,
        placeholder: bool,
        email: str | None = None,
        domain: str | None = None,
        origin: str | None = None,
    ) -> RecordState:
        """A record the batch creates, with the next id, counted as created."""
        record = RecordState(
            id=take_id(self.state, RECORD_IDS),
            type=record_type,
            owner_id=None,
            email=email,
            domain=domain,
            name=None,
            stage=None,
            is_closed=None,
            properties={},
            placeholder=placeholder,
            created_at=at,
            updated_at=at,
            created_by=integration,
            owner_changed_at=None,
            owner_source=None,
            manual_owner_at=None,
            origin=origin,
            new=True,
        )
        self.records[record.id] = record
        self.result.records_created += 1
        return record

    def name(self, key: SourceKey, record_id: int | None, since: int | None = None) -> None:
        """``key`` names ``record_id`` from now on (or from the batch's owner change ``since``
        on; None: it is merged away: nobody to the outbox); before :attr:`identity` changes."""
        log = self.identity_log.get(key)
        gone = key in self.state.merged_ids
        if log is None:
            log = self.identity_log[key] = [(0, None if gone else self.identity.get(key))]
        if gone or key in self.merged_identities:  # merged away: nobody to the outbox
            record_id = None
        log.append((len(self.owner_changes) if since is None else since, record_id))

    def add_identity(self, key: SourceKey, record_id: int) -> None:
        self.name(key, record_id)
        self.identity[key] = record_id
        self.echoes.known_from[key] = len(self.owner_changes)  # the outbox's from then on
        self.new_identities.append(
            {"integration": key[0], "type": key[1], "external_id": key[2], "record_id": record_id}
        )

    def existing_record_id(self, integration: str, ref: RecordRef) -> int | None:
        """The id of the record ``ref`` names when the workspace (or this batch) has it, by
        identity, else email or domain; nothing is created."""
        record_id: int | None = None
        if ref.external_id is not None:
            record_id = self.identity.get((integration, ref.type._value_, ref.external_id))
        if record_id is None and (email := email_key(ref)) is not None:
            record_id = self.by_email.first(email)
        if record_id is None and (domain := domain_key(ref)) is not None:
            record_id = (
                None if self.rules.domains.personal(domain) else self.by_domain.first(domain)
            )
        return record_id

    def fill_record(
        self,
        record: RecordState,
        properties: Mapping[str, Any],
        at: str,
        integration: str,
        event: Event | None = None,
    ) -> None:
        """Merge an event's properties (from ``integration``, at ``at``; by the vendor's clock
        at the ``event``'s ``changed_at`` when it gives one) into a record, each only where
        the event is not older than the one that gave the value shown
        (:func:`~leadsync.rules.records.newer_properties`; phones by their own rule); the core
        fields follow (:func:`~leadsync.rules.records.core_fields`), and so do the email and
        domain indexes (the lowest id holding an email or domain now is the one found) and the
        phone index (read in the integration's region; held activities attach)."""
        props: dict[str, Any] = (
            json.loads(record.properties)
            if isinstance(record.properties, str)
            else record.properties
        )
        clock = (event.changed_at if event is not None else None) or at
        person = record.type in PHONE_RECORD_TYPES
        given = properties
        properties, older = newer_properties(
            properties, record.times(), clock, integration, PHONE_PROPERTIES if person else ()
        )
        if older and self.traces is not None and event is not None and event.id in self.traces:
            # (a preview names those whose value it would have changed)
            older = [p for p in older if props.get(p) != given[p]]
            self.traces[event.id].older_properties = older
        if person and gives_phones(properties):
            properties = phones.take_phones(
                self, record, properties, props, integration, clock, event.id if event else None
            )
        props.update(properties)
        record.properties = props
        record.placeholder = False
        record.updated_at = max(record.updated_at, at)
        fields = core_fields(record.type, props, record.core_fields())
        # Who holds each email and domain now: a record gives up its old one (lookups.py).
        self.by_email.move(record.id, record.email, fields.email)
        self.by_domain.move(record.id, record.domain, fields.domain)
        record.email, record.domain, record.name = fields.email, fields.domain, fields.name
        record.stage, record.is_closed = fields.stage, fields.is_closed
        record.dirty = True
        record.fields_dirty = True

    # ------------------------------------------------------------------- owners

    def round_robin_key(self, integration: str, team: str) -> str:
        return f"{ROUND_ROBIN_PREFIX}{integration}:{team}"

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
            mapping = mapped(rep, settings, self.rules.directory, learned)
            self.mappings[key] = mapping
            if mapping.candidates:
                counterparts.ask_owner(self, event, settings, mapping)
        return mapping

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
        given: GivenRep | None = None,
        echoed: OwnerWritten | None = None,
    ) -> Verdict:
        candidate, rr_key, team, turn, after = None, None, "", 0, 0
        members: tuple[str, ...] = ()  # the round robin team's active owners
        if mapping is not None and mapping.round_robin_team is not None:
            team = mapping.round_robin_team
            rr_key = self.round_robin_key(event.integration, team)
            members = self.rules.directory.active_team(team)
            turn = self.round_robin.get(rr_key, 0)
            candidate, after = round_robin_turn(self.rules.directory, team, turn)
        verdict = decide_owner(
            record.owner_context(is_new), event.occurred_at, strategy, protect_days, mapping,
            candidate, event.integration, members, label, rep_key(event.owner), given, echoed,
        )  # fmt: skip
        if rr_key is not None and verdict.outcome is Outcome.SET and verdict.owner_id == candidate:
            said = passed_over(self.rules.directory, team, turn, after)  # why this member
            verdict = replace(verdict, reason=verdict.reason + said)
        self.record_verdict(
            record, event, verdict, label or strategy._value_, event.integration, variant
        )
        if verdict.outcome is Outcome.SET and rr_key is not None and candidate is not None:
            self.round_robin[rr_key] = self.round_robin_changed[rr_key] = after
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
            if event is not None and event.owner is not None and strategy != CRM_STRATEGY
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
            record.owner_source, record.owner_source_at = source, at
            record.dirty = True
            self.owner_changes.append(decision)
        else:
            record.owner_given_again(verdict.proposed_owner_id, source, at)
        return decision

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
        a more recent owner change is known (:func:`decide_crm_change`); a person's change,
        or a person choosing the owner the record has, starts ``protect_manual_days``, and
        any other change ends it; the record's ``updated_at`` follows; the outbox and push
        queue get it when the batch is written."""
        known = owner_id is not None and owner_id in self.rules.directory.owners
        verdict = decide_crm_change(
            record.owner_context(False),
            at,
            owner_id,
            known,
            event.integration if event is not None else None,
            by_person,
            active_owner=owner_id is None or self.rules.directory.is_active(owner_id),
        )
        strategy = CRM_STRATEGY if event is not None else MANUAL_STRATEGY
        decision = self.record_verdict(record, event, verdict, strategy, CRM_SOURCE, at=at)
        if verdict.outcome is Outcome.SET:
            record.updated_at = max(record.updated_at, at)
            record.manual_owner_at = None  # an automation's change is no person's choice
        if by_person and verdict.outcome is not Outcome.IGNORED:  # set, or the owner it had
            record.owner_changed_at = max(record.owner_changed_at or "", at)
            record.owner_source, record.manual_owner_at, record.dirty = CRM_SOURCE, at, True
            record.owner_source_at = at
        return decision

    # ------------------------------------------------------------------- events

    def apply(self, event: Event) -> None:
        self.result.events += 1
        if self.state.ids is not None:
            self.state.ids.enter(event.ids)
        if event.integration in self.crm_integrations:
            self.apply_crm(event)
            return
        settings = self.rules.integrations[event.integration]
        reps.learn_rep(self, event)
        if event.type is EventType.ACTIVITY:
            activities.apply_activity(self, event, settings)
        elif event.type is EventType.LINE:
            learn_lines.apply_line(self, event)
        elif event.type is not EventType.USER:
            self.apply_record(event, settings)

    def apply_record(self, event: Event, settings: IntegrationSettings) -> None:
        subject = event.subject_ref()
        assert subject is not None
        if (why := links.personal_company(self, subject)) is not None:
            if self.traces is not None:
                self.traces[event.id] = EventTrace(event.id, counterpart=why)
            return
        record, created = merges.resolve(self, event, subject)
        settings, variant = self.rules.settings_for(event.integration, str(record.id))
        if self.traces is not None:
            self.traces[event.id] = EventTrace(event.id, (record.type._value_, record.id, created))
        is_new = created or record.awaits_first_owner()
        if event.type is EventType.RECORD:
            self.fill_record(record, event.properties, event.occurred_at, event.integration, event)
        else:
            record.updated_at = max(record.updated_at, event.occurred_at)
            record.dirty = True
        # An owner the event does not change is taken only by a record it makes.
        gives = event.owner is not None and (is_new or not event.owner_unchanged)
        # What the integration last gave as the owner of the record it names by this id.
        key = (event.integration, subject.type._value_, subject.external_id or "")
        given = self.given_reps.get(key) if subject.external_id is not None else None
        echoed = echoes.report(self, key, record, event, given) if subject.external_id else None
        merged_at = self.merged_at(key) if subject.external_id is not None else None
        # A record the event makes, or a placeholder's first own event, gets its decision
        # even without an owner: why it has none (the report's unowned check reads it).
        deciding = gives or event.type is EventType.OWNER or is_new
        if deciding and merged_at is not None and event.occurred_at < merged_at:
            verdict = merged_away_verdict(
                record.owner_id, event.integration, f"{subject.type._value_} {subject.external_id}",
                merged_at, event.occurred_at,
            )  # fmt: skip
            self.record_verdict(record, event, verdict, MERGE_STRATEGY, event.integration)
        elif deciding:
            ownership = settings.ownership
            self.decide(
                record,
                is_new,
                event,
                self.rules.strategy_under(event.integration, record.type, settings, variant),
                ownership.protect_manual_days,
                self.map_rep(event, settings),
                variant=variant,
                given=given,
                echoed=echoed,
            )
        rep = rep_key(event.owner)
        newer = given is None or given.at <= event.occurred_at  # an older word changes nothing
        if subject.external_id is not None and rep is not None and newer:
            self.given_reps[key] = GivenRep(rep, event.occurred_at)
            self.reps_given.add(key)
        links.link_named(self, record, event)

    def merged_at(self, key: SourceKey) -> str | None:
        """When the tool merged the id ``key`` into another (None: it did not)."""
        made = self.merged_identities.get(key)
        return made["merged_at"] if made is not None else self.state.merged_ids.get(key) or None

    def apply_crm(self, event: Event) -> None:
        """An event from the CRM itself (HubSpot's webhooks): its owner ids are owner ids, and
        its owner changes are changes made in the CRM (a person's when ``manual``), sent on to
        the bidirectional integrations but never back to the CRM."""
        if event.type in (EventType.ACTIVITY, EventType.USER, EventType.LINE):
            return
        subject = event.subject_ref()
        assert subject is not None
        record, created = merges.resolve(self, event, subject)
        if self.traces is not None:
            self.traces[event.id] = EventTrace(event.id, (record.type._value_, record.id, created))
        if event.type is EventType.RECORD:
            self.fill_record(record, event.properties, event.occurred_at, event.integration, event)
            links.link_named(self, record, event)  # an association made in the CRM
            made = not (event.properties or event.associations or event.merged or event.owner)
            record.origin = None if made and record.origin == SEEN_IN_CRM else record.origin
        if event.type is not EventType.OWNER and event.owner is None:
            return
        owner_id = event.owner.id if event.owner is not None else None
        if not echoes.crm_echo(self, event, record, owner_id):  # leadsync's own write back
            self.change_in_crm(record, owner_id, event.occurred_at, event.manual, event)

    def finish(self, now: str) -> Decided:
        """The rows to write, stamped ``now`` (the time of writing, passed in)."""
        self.decided = collect(self, now)
        return self.decided


def decide(
    state: LoadedState,
    rules: WorkspaceRules,
    events: Sequence[Event],
    now: str,
    trace: bool = False,
) -> Decided:
    """Decide ``events`` in order against ``state`` (changed in place) and return what to
    write. Pure: the same state, rules, events and ``now`` give the same rows."""
    decided = run(state, rules, events, now, trace).decided
    assert decided is not None
    return decided


def run(
    state: LoadedState,
    rules: WorkspaceRules,
    events: Sequence[Event],
    now: str,
    trace: bool = False,
) -> BatchDecider:
    """:func:`decide`, keeping the decider (records, mappings, traces) for the test lead."""
    decider = BatchDecider(state, rules, trace, now)
    for event in events:
        decider.apply(event)
        phones.attach_waiting(decider)
    decider.finish(now)
    return decider
