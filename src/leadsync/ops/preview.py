"""Preview: what events would do to the workspace, decided by the real engine, written nowhere.

The events run through :func:`leadsync.engine.decide_batch` — the very path of a real run,
writes included — inside a transaction that is rolled back, so the answer is what a run
would do and the database is left exactly as it was. Settings can be swapped for one
integration (proposed settings) without touching the stored configuration.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules, decide_batch
from leadsync.errors import EventError
from leadsync.model import Event, OwnerDecision, settings_used
from leadsync.pipeline import inbox
from leadsync.settings import IntegrationSettings, WorkspaceConfig, load_proposed
from leadsync.sources import adapter_for
from leadsync.store import batch as store


def with_settings(
    rules: WorkspaceRules, integration: str, settings: IntegrationSettings
) -> WorkspaceRules:
    """The workspace's rules with one integration's settings replaced (the rest, dedupe
    rules included, as they are)."""
    return replace(rules, integrations={**rules.integrations, integration: settings})


@dataclass
class EventPreview:
    """One event's outcome, as a preview reports it."""

    event_id: str
    line: str
    type: str
    record: dict[str, Any] | None = None
    owner: list[dict[str, Any]] = field(default_factory=list)
    activity: dict[str, Any] | None = None
    associations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "where": self.line,
            "type": self.type,
            "record": self.record,
            "owner_decisions": self.owner,
            "activity": self.activity,
            "associations": self.associations,
        }


@dataclass
class PreviewResult:
    integration: str
    events: list[EventPreview] = field(default_factory=list)
    unreadable: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    records_created: int = 0
    owners: Counter[str] = field(default_factory=Counter)
    activities: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "events": len(self.events),
            "unreadable": len(self.unreadable),
            "duplicates": len(self.duplicates),
            "records_created": self.records_created,
            "owners": {k: self.owners.get(k, 0) for k in ("set", "kept", "ignored")},
            "activities": {
                k: self.activities.get(k, 0) for k in ("created", "updated", "merged", "skipped")
            },
            "skipped_by_reason": dict(self.skipped.most_common()),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "events": [e.to_dict() for e in self.events],
            "unreadable": self.unreadable,
            "duplicates": self.duplicates,
        }


def read_events(
    rules: WorkspaceRules,
    integration: str,
    lines: Iterable[str],
    source: str,
    sample: int | None = None,
) -> tuple[list[tuple[str, str, Event]], list[dict[str, str]]]:
    """The (place, inbox key, event) of ``lines`` (canonical or vendor payloads, as ``ingest`` reads them), each
    with its place; lines that cannot be read are listed, not stored. At most ``sample``
    events (the first ones: a preview is about a sample)."""
    settings = rules.integrations[integration]
    adapter = adapter_for(settings.kind, integration, settings.vendor_options())
    events: list[tuple[str, str, Event]] = []
    unreadable: list[dict[str, str]] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if sample is not None and len(events) >= sample:
            break
        where = f"{source}:{number}"
        try:
            items = inbox.items_of_line(adapter, text, where, number)
        except EventError as exc:
            unreadable.append({"where": where, "error": exc.detail})
            continue
        for item in items:
            if item.error is not None:
                unreadable.append({"where": item.where or where, "error": item.error})
            for event in item.events or ():
                events.append((item.where or where, item.key, event))
    return events, unreadable


def preview(
    engine: Engine,
    rules: WorkspaceRules,
    integration: str,
    events: Sequence[tuple[str, str, Event]],
) -> PreviewResult:
    """Decide ``events`` against the current workspace in a transaction that is rolled back.
    Events the inbox already holds (or that repeat one earlier in the sample) are listed as
    duplicates: a real run would not apply them again."""
    result = PreviewResult(integration)
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
            seen = store.known_event_ids(connection, integration, {k for _, k, _ in events})
            fresh: list[tuple[str, str, Event]] = []
            for where, key, event in events:
                if key in seen:
                    result.duplicates.append({"where": where, "event_id": event.id})
                    continue
                seen.add(key)
                fresh.append((where, key, event))
            state = decide_batch(connection, rules, [e for _, _, e in fresh], trace=True)
        finally:
            transaction.rollback()
    decisions: dict[str, list[OwnerDecision]] = {}
    for decision in state.decisions:
        decisions.setdefault(decision.event_id or "", []).append(decision)
    traces = state.traces or {}
    result.records_created = state.result.records_created
    for where, _, event in fresh:
        trace = traces.get(event.id)
        entry = EventPreview(event.id, where, event.type.value)
        if trace is not None and trace.record is not None:
            rtype, rid, created = trace.record
            entry.record = {"type": rtype, "id": rid, "created": created}
        if trace is not None and trace.activity is not None:
            atype, aid, outcome = trace.activity
            entry.activity = {
                "type": atype,
                "id": aid,
                "outcome": outcome,
                "settings": settings_used(trace.settings),
            }
            if trace.skip_reason is not None:
                entry.activity["reason"] = trace.skip_reason
                result.skipped[trace.skip_reason] += 1
            if trace.merge_reason is not None:
                entry.activity["reason"] = trace.merge_reason
            result.activities[outcome] += 1
            entry.associations = [
                {"type": t, "id": i, "source": s} for t, i, s in trace.associations
            ]
        for decision in decisions.get(event.id, []):
            entry.owner.append(_decision(decision))
            result.owners[decision.outcome.value] += 1
        result.events.append(entry)
    return result


def _decision(d: OwnerDecision) -> dict[str, Any]:
    return {
        "record": {"type": d.record_type.value, "id": d.record_id},
        "strategy": d.strategy,
        "previous_owner_id": d.previous_owner_id,
        "owner_id": d.owner_id,
        "outcome": d.outcome.value,
        "reason": d.reason,
        "flagged": d.flagged,
        "settings": settings_used(d.settings),
    }


def settings_from_file(
    text: str, source: str, integration: str, current: WorkspaceConfig | None = None
) -> IntegrationSettings:
    """Proposed settings from YAML text: a whole workspace file replaces the integration's
    settings, anything else amends ``current`` (see
    :class:`~leadsync.settings.ProposedIntegration`). Read by the reader ``apply`` uses."""
    return load_proposed(text, source, integration, current).settings
