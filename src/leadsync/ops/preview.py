"""Preview: what events would do to the workspace, decided by the real engine, written nowhere.

The events run through :func:`leadsync.engine.decide_batch` — the very path of a real run,
writes included — inside a transaction that is rolled back, so the answer is what a run
would do and the database is left exactly as it was. Settings can be swapped for one
integration (proposed settings) without touching the stored configuration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import NotRequired

from pydantic import Field, computed_field
from sqlalchemy.engine import Engine
from typing_extensions import TypedDict

from leadsync.engine import WorkspaceRules, decide_batch
from leadsync.errors import EventError
from leadsync.model import Event, OwnerDecision, settings_used
from leadsync.pipeline.ingest import line_items
from leadsync.pipeline.input_file import Lines
from leadsync.results import ResultModel
from leadsync.settings import IntegrationSettings, WorkspaceConfig, load_proposed
from leadsync.sources import adapter_for
from leadsync.store import batch as store
from leadsync.store import routing as routing_store
from leadsync.store.database import begin_writing


def with_settings(
    rules: WorkspaceRules, integration: str, settings: IntegrationSettings
) -> WorkspaceRules:
    """The workspace's rules with one integration's settings replaced (the rest, dedupe
    rules included, as they are)."""
    return replace(rules, integrations={**rules.integrations, integration: settings})


class RecordSeen(TypedDict):
    """The record an event matched or created."""

    type: str
    id: int
    created: bool


class ActivitySeen(TypedDict):
    """What an event's activity came to; ``reason`` when it was skipped or merged."""

    type: str
    id: int | None
    outcome: str
    settings: str
    reason: NotRequired[str]


class AssociationSeen(TypedDict):
    type: str
    id: int
    source: str


class RecordKey(TypedDict):
    type: str
    id: int


class DecisionSeen(TypedDict):
    """An owner decision with its reason."""

    record: RecordKey
    strategy: str
    previous_owner_id: str | None
    owner_id: str | None
    outcome: str
    reason: str
    flagged: bool
    settings: str


class Unreadable(TypedDict):
    where: str
    error: str


class Duplicate(TypedDict):
    where: str
    event_id: str


class EventPreview(ResultModel):
    """One event's outcome, as a preview reports it."""

    event_id: str
    line: str = Field(alias="where", description="FILE:LINE of the event.")
    type: str
    record: RecordSeen | None = None
    owner: list[DecisionSeen] = Field(default_factory=list, alias="owner_decisions")
    activity: ActivitySeen | None = None
    associations: list[AssociationSeen] = Field(default_factory=list)
    counterpart: str | None = Field(
        default=None,
        description="How the activity's people were found when the event did not name them "
        "for certain: matched by number, held, a contact created, a question queued; for a "
        "record event, what became of the companies it names and the properties it gives "
        "that the record did not take (older, by the vendor's clock, than its values).",
    )


class OwnerCounts(ResultModel):
    set: int
    kept: int
    ignored: int


class ActivityCounts(ResultModel):
    created: int
    updated: int
    merged: int
    skipped: int


class PreviewSummary(ResultModel):
    """The counts of a preview."""

    integration: str
    events: int
    unreadable: int = Field(
        description="Lines (or pieces of a line) that could not be read, each listed in "
        "`unreadable`: `ingest` would make each a dead letter, and `leadsync preview` exits 2."
    )
    duplicates: int
    records_created: int
    owners: OwnerCounts
    activities: ActivityCounts
    skipped_by_reason: dict[str, int] = Field(description="Activities skipped, by reason.")
    counterparts: dict[str, int] = Field(
        description="Activities matched by number, held for an unknown number, held ones "
        "attached, questions that would go to the review queue."
    )


class PreviewResult(ResultModel):
    """What events would do: each event's outcome, the lines that cannot be read and the
    events the inbox already holds; the counts are worked out from them."""

    integration: str = Field(exclude=True)
    records_created: int = Field(0, exclude=True)
    counterpart_counts: dict[str, int] = Field(default_factory=dict, exclude=True)
    events: list[EventPreview] = Field(default_factory=list)
    unreadable: list[Unreadable] = Field(default_factory=list)
    duplicates: list[Duplicate] = Field(default_factory=list)
    cut_at: int | None = Field(
        None,
        description="The sample's size, when the input held more events than it: only the "
        "first ones were previewed (null: every event was).",
    )

    @computed_field(alias="summary")  # type: ignore[prop-decorator]
    @property
    def counts(self) -> PreviewSummary:
        """The counts (the JSON's ``summary``), from the events themselves."""
        owners: Counter[str] = Counter()
        activities: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        for entry in self.events:
            owners.update(d["outcome"] for d in entry.owner)
            if entry.activity is not None:
                activities[entry.activity["outcome"]] += 1
                if entry.activity["outcome"] == "skipped" and "reason" in entry.activity:
                    skipped[entry.activity["reason"]] += 1
        return PreviewSummary(
            integration=self.integration,
            events=len(self.events),
            unreadable=len(self.unreadable),
            duplicates=len(self.duplicates),
            records_created=self.records_created,
            owners=OwnerCounts(**{k: owners.get(k, 0) for k in ("set", "kept", "ignored")}),
            activities=ActivityCounts(
                **{k: activities.get(k, 0) for k in ("created", "updated", "merged", "skipped")}
            ),
            skipped_by_reason=dict(skipped.most_common()),
            counterparts=self.counterpart_counts,
        )


#: The events a preview decides unless asked for another sample, and the most it takes: a
#: preview says what each event does, in one rolled-back transaction, so its memory grows
#: with them (``ingest`` applies any number in bounded memory).
SAMPLE = 10_000
SAMPLE_MAX = 100_000


def read_events(
    rules: WorkspaceRules,
    integration: str,
    lines: Iterable[str | bytes],
    source: str,
    sample: int | None = None,
) -> tuple[list[tuple[str, str, Event]], list[Unreadable], bool]:
    """The (place, inbox key, event) of ``lines`` (canonical or vendor payloads, as ``ingest`` reads them), each
    with its place; lines that cannot be read are listed, not stored. At most ``sample``
    events (:data:`SAMPLE` without: the first ones, a preview is about a sample), and
    whether the input held more."""
    sample = sample or SAMPLE
    settings = rules.integrations[integration]
    adapter = adapter_for(settings.kind, integration, settings.vendor_options())
    events: list[tuple[str, str, Event]] = []
    unreadable: list[Unreadable] = []
    read = Lines(lines, adapter, source)  # as ingest reads them: a file not JSON lines refused
    for line in read:
        if len(events) >= sample:  # (a line's events are taken together)
            return events, unreadable, True
        where = f"{source}:{line[0]}"
        try:
            items = line_items(adapter, line, where, read.hints)
        except EventError as exc:
            unreadable.append({"where": where, "error": exc.detail})
            continue
        for item in items:
            if item.error is not None:
                unreadable.append({"where": item.where or where, "error": item.error})
            for event in item.events or ():
                events.append((item.where or where, item.key, event))
    return events, unreadable, False


def preview(
    engine: Engine,
    rules: WorkspaceRules,
    integration: str,
    events: Sequence[tuple[str, str, Event]],
    unreadable: Sequence[Unreadable] = (),
    proposed: bool = False,
    more: bool = False,
) -> PreviewResult:
    """Decide ``events`` against the current workspace in a transaction that is rolled back.
    Events the inbox already holds (or that repeat one earlier in the sample) are listed as
    duplicates: a real run would not apply them again. ``proposed``: ``rules`` carry proposed
    settings for the integration, and what they decide says ``proposed``, not ``current``.
    ``more``: the input held more events than ``events`` (a sample of it: ``cut_at``)."""
    result = PreviewResult(integration=integration, unreadable=list(unreadable))
    result.cut_at = len(events) if more else None
    with engine.connect() as connection:
        transaction = begin_writing(connection)
        try:
            store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
            stored = store.known_event_ids(connection, integration, {k for _, k, _ in events})
            # The events of one body share its inbox key (an Aircall call and its #missed
            # part, Calendly's meeting and its #contact): a repeat has an event id seen.
            seen: set[str] = set()
            fresh: list[tuple[str, str, Event]] = []
            for where, key, event in events:
                if key in stored or event.id in seen:
                    result.duplicates.append({"where": where, "event_id": event.id})
                    continue
                seen.add(event.id)
                fresh.append((where, key, event))
            with routing_store.rolled_back(connection):
                state = decide_batch(connection, rules, [e for _, _, e in fresh], trace=True)
        finally:
            transaction.rollback()
    decisions: dict[str, list[OwnerDecision]] = {}
    for decision in state.decisions:
        decisions.setdefault(decision.event_id or "", []).append(decision)
    traces = state.traces or {}
    result.records_created = state.result.records_created
    result.counterpart_counts = state.result.counterparts()
    for where, _, event in fresh:
        trace = traces.get(event.id)
        entry = EventPreview(event_id=event.id, line=where, type=event.type.value)
        if trace is not None and trace.record is not None:
            rtype, rid, created = trace.record
            entry.record = {"type": rtype, "id": rid, "created": created}
        if trace is not None and trace.activity is not None:
            atype, aid, outcome = trace.activity
            entry.activity = {
                "type": atype,
                "id": aid,
                "outcome": outcome,
                "settings": _settings(trace.settings, proposed),
            }
            reason = trace.merge_reason if trace.merge_reason is not None else trace.skip_reason
            if reason is not None:
                entry.activity["reason"] = reason
            entry.associations = [
                {"type": t, "id": i, "source": s} for t, i, s in trace.associations
            ]
        if trace is not None:
            entry.counterpart = _joined(trace.counterpart, _older(trace.older_properties))
        entry.owner = [_decision(d, proposed) for d in decisions.get(event.id, [])]
        result.events.append(entry)
    return result


def _older(names: list[str]) -> str | None:
    """The sentence of a record event's properties not taken (older than what it shows)."""
    if not names:
        return None
    listed = ", ".join(names)
    return (
        f"not taken: {listed} — the record's value came from a later event (by the vendor's clock)"
    )


def _joined(*sentences: str | None) -> str | None:
    said = [s for s in sentences if s]
    return "; ".join(said) if said else None


def _settings(stored: str | None, proposed: bool) -> str:
    """Which settings decided: a rollout's, or the integration's — proposed ones in a preview
    under ``--settings``."""
    return "proposed" if proposed and stored is None else settings_used(stored)


def _decision(d: OwnerDecision, proposed: bool) -> DecisionSeen:
    return {
        "record": {"type": d.record_type.value, "id": d.record_id},
        "strategy": d.strategy,
        "previous_owner_id": d.previous_owner_id,
        "owner_id": d.owner_id,
        "outcome": d.outcome.value,
        "reason": d.reason,
        "flagged": d.flagged,
        "settings": _settings(d.settings, proposed),
    }


def settings_from_file(
    text: str, source: str, integration: str, current: WorkspaceConfig | None = None
) -> IntegrationSettings:
    """Proposed settings from YAML text: a whole workspace file replaces the integration's
    settings, anything else amends ``current`` (see
    :class:`~leadsync.settings.ProposedIntegration`). Read by the reader ``apply`` uses."""
    return load_proposed(text, source, integration, current).settings
