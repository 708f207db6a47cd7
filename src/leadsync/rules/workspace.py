"""What the rules need from the workspace's configuration, read once per run, the staged
rollout's sample, and what in that configuration needs a person's attention.

Pure: built from the owners and the integrations' settings, never from the database; the
engine, the preview, the push and the report all decide with the same object.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from leadsync.model import RecordType, Strategy, UnmappedPolicy
from leadsync.rules.domains import DomainPolicy
from leadsync.rules.mapping import OwnerDirectory
from leadsync.rules.own_lines import OwnLine, declared_lines
from leadsync.settings import DedupeRule, IntegrationSettings

# The label recorded on decisions made with a rollout's proposed settings.
ROLLOUT = "rollout"


def in_rollout(sample_key: str, percent: float) -> bool:
    """Whether a record belongs to a rollout's sample: a stable hash of its key (CRC-32,
    the same in every process and version) against the percentage, in steps of 0.01%."""
    return zlib.crc32(sample_key.encode()) % 10_000 < round(percent * 100)


@dataclass(slots=True)
class WorkspaceRules:
    """What the rules need from the workspace's configuration, read once per run."""

    directory: OwnerDirectory
    integrations: Mapping[str, IntegrationSettings]
    # A destination is configured: every change is also queued for the push (push_queue).
    push: bool = False
    # Activities several tools log once each: one activity (see Dedupe).
    dedupe: tuple[DedupeRule, ...] = ()
    # Free-mail and disposable domains (with the workspace's overrides): never a company's.
    domains: DomainPolicy = field(default_factory=DomainPolicy.default)
    # (integration, record type) -> strategy, resolved once: it is asked for every event.
    strategies: dict[tuple[str, str], Strategy] = field(init=False)

    # integration -> (percent, the proposed settings) of a staged rollout.
    rollouts: dict[str, tuple[float, IntegrationSettings]] = field(init=False)
    # integration -> its declared own numbers (own_numbers) by E.164: internal calls' lines.
    declared_lines: dict[str, dict[str, OwnLine]] = field(init=False)

    def __post_init__(self) -> None:
        self.strategies = {
            (name, t): s.ownership.strategy_for(t)
            for name, s in self.integrations.items()
            for t in RecordType
        }
        self.declared_lines = {
            name: declared_lines(name, s) for name, s in self.integrations.items() if s.own_numbers
        }
        self.rollouts = {}
        for name, settings in self.integrations.items():
            proposed = settings.proposed()
            if proposed is not None and settings.rollout is not None:
                self.rollouts[name] = (settings.rollout.percent, proposed)

    @property
    def crm_integrations(self) -> set[str]:
        return {name for name, s in self.integrations.items() if s.is_crm}

    def region(self, integration: str) -> str | None:
        """The country an integration's national numbers are read in (its ``region:``);
        None without one, or for an integration no longer configured."""
        settings = self.integrations.get(integration)
        return settings.region if settings is not None else None

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

    def strategy_under(
        self,
        integration: str,
        record_type: RecordType,
        settings: IntegrationSettings,
        variant: str | None,
    ) -> Strategy:
        """The strategy ``settings`` (as :meth:`settings_for` gave them, with ``variant``)
        give a record type: the one resolved once for the current settings, else the
        rollout's own."""
        if variant is None:
            return self.strategies[(integration, record_type)]
        return settings.ownership.strategy_for(record_type)

    def bidirectional_integrations(self, record_type: RecordType) -> set[str]:
        return {
            name
            for name, s in self.integrations.items()
            if s.ownership.strategy_for(record_type) is Strategy.BIDIRECTIONAL
        }


def configuration_problems(rules: WorkspaceRules) -> list[str]:
    """What in the workspace's stored configuration needs a person, though leadsync keeps
    working with it: owners whose email is not an address (kept, never matched by email),
    and fallback owners (``users.unmapped``) that are inactive or archived — deactivated
    after the settings were saved, or pulled from HubSpot so — for whom reps that map to
    nobody get no owner and are flagged. One sentence each, naming the owner by id (never its
    name or email: ``/readyz`` answers anyone), the key path and what to do."""
    directory = rules.directory
    problems = []
    for owner_id in directory.unmatchable:
        problems.append(
            f"owner {owner_id} has a stored email that is not an email address (leadsync "
            "owners list shows it): the owner is kept (records, history, the map and teams still "
            "name it) but no rep is matched to it by email; correct the email in the "
            "workspace file and run leadsync apply (owners from HubSpot: correct it there, "
            "then leadsync owners pull)"
        )
    for name, settings in sorted(rules.integrations.items()):
        candidates = [(f"integrations.{name}.users.unmapped.owner", settings)]
        proposed = settings.proposed()
        if proposed is not None:
            candidates.append(
                (f"integrations.{name}.rollout.settings.users.unmapped.owner", proposed)
            )
        for where, each in candidates:
            unmapped = each.users.unmapped
            if unmapped.policy is not UnmappedPolicy.FALLBACK or unmapped.owner is None:
                continue
            if directory.is_active(unmapped.owner):
                continue
            known = directory.owners.get(unmapped.owner)
            what = "is not a known owner" if known is None else "is inactive or archived"
            active = sorted(o.id for o in directory.owners.values() if o.active)
            allowed = ", ".join(active[:20]) or "none"
            problems.append(
                f"{where}: the fallback owner {unmapped.owner} {what}: reps of {name} that map "
                "to nobody get no owner (their decisions are flagged); name an active owner "
                f"(active owners: {allowed})"
            )
    return problems
