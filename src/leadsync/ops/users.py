"""An integration's external users and how each maps to an owner, as the rules map them,
and what in the configuration keeps reps of that integration from being mapped."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.model import ExternalUserRef, MappingResult, UnmappedPolicy
from leadsync.results import agreeing, counted
from leadsync.rules.mapping import OwnerDirectory, map_rep
from leadsync.rules.workspace import configuration_problems
from leadsync.settings import IntegrationSettings
from leadsync.store import views


@dataclass(frozen=True, slots=True)
class KnownUser:
    """A rep as leadsync knows it: the directory's email and name first, else what its events
    said; and how it maps (the engine's own :func:`map_rep`)."""

    email: str | None
    name: str | None
    mapping: MappingResult
    records: str | None = None
    """A rep that maps to no owner: where its records go (:func:`unmapped_records`)."""


def known_user(
    rules: WorkspaceRules,
    settings: IntegrationSettings,
    user_id: str,
    seen_email: str | None,
    seen_name: str | None,
) -> KnownUser:
    """``users list``'s row and the report's unmapped reps, read one way."""
    users = settings.users
    email = users.directory_email(user_id) or seen_email
    same = users.canonical_id(user_id)
    name = next((u.name for u in users.directory if users.canonical_id(u.id) == same), None)
    mapping = map_rep(ExternalUserRef(user_id, email), settings, rules.directory, seen_email)
    records = None if mapping.mapped else unmapped_records(settings, mapping, rules.directory)
    return KnownUser(email, name or seen_name, mapping, records)


def unmapped_records(
    settings: IntegrationSettings, mapping: MappingResult, directory: OwnerDirectory
) -> str:
    """Where the records of a rep that maps to no owner (by the map or by email) go, by the
    integration's unmapped policy: a phrase whose subject is the rep's records ("go to the
    fallback owner 101 (Ana Ng) by the unmapped policy"). The one wording of it: the health
    report's check and its parts (``leadsync report``, the console's Health and Integrations
    pages) and the settings page's users say it so, never "no owner" for a rep whose records
    the fallback owner gets."""
    if mapping.candidates:
        return "get no owner until the review queue's question says which owner the rep is"
    unmapped = settings.users.unmapped
    if unmapped.policy is UnmappedPolicy.FALLBACK and unmapped.owner is not None:
        if mapping.owner_id is None:
            return f"get no owner: the fallback owner {unmapped.owner} is inactive (flagged)"
        owner = directory.owners.get(mapping.owner_id)
        named = f" ({owner.name})" if owner is not None and owner.name != owner.id else ""
        return f"go to the fallback owner {mapping.owner_id}{named} by the unmapped policy"
    if unmapped.policy is UnmappedPolicy.ROUND_ROBIN and unmapped.team is not None:
        if mapping.round_robin_team is None:
            return f"get no owner: round robin team {unmapped.team} has no active owner (flagged)"
        return f"go to team {unmapped.team} in turn by the unmapped policy (round robin)"
    return "keep the owner they have, flagged, by the unmapped policy (leave)"


def unmapped_said(records: Sequence[str]) -> str:
    """The health report's sentence of reps that sent events and map to no owner, given
    where each one's records go (:func:`unmapped_records`): they map to no owner by the map
    or by email, and the unmapped policy gives their records to ... — one claim, not "no
    owner" beside "the fallback owner is used"."""
    n = len(records)
    if not n:
        return "every external user that sent events maps to an owner"
    head = (
        f"{counted(n, 'external user')} sent events and {agreeing(n, 'maps', 'map')} to no "
        "owner by the map or by email"
    )
    ways = Counter(records)
    if len(ways) == 1:
        return f"{head}; {agreeing(n, 'its', 'their')} records {records[0]}"
    return f"{head}: " + "; ".join(f"the records of {k} {way}" for way, k in ways.most_common())


def external_users(engine: Engine, rules: WorkspaceRules, integration: str) -> list[dict[str, Any]]:
    """See :meth:`leadsync.workspace.Workspace.external_users` (``integration`` must be
    configured)."""
    settings = rules.integrations[integration]
    with engine.connect() as connection:
        learned = {u["external_id"]: u for u in views.external_user_rows(connection, integration)}
    # One row per user, whichever form of its id the file wrote (Salesforce: 15 or 18).
    canonical = settings.users.canonical_id
    ids = (
        set(learned)
        | {canonical(u.id) for u in settings.users.directory}
        | {canonical(i) for i in settings.users.map}
    )
    out = []
    for user_id in sorted(ids):
        seen = learned.get(user_id, {})
        known = known_user(rules, settings, user_id, seen.get("email"), seen.get("name"))
        result = known.mapping
        if result.mapped:
            status = "mapped" if settings.users.target_of(user_id) else "auto-matched"
        else:
            status = "unmapped"
        out.append(
            {
                "id": user_id,
                "email": known.email,
                "name": known.name,
                "status": status,
                "owner_id": result.owner_id if result.mapped else None,
                "how": result.how,
                "records": known.records,
                "events": int(seen.get("events") or 0),
                "first_seen_at": seen.get("first_seen_at"),
                "last_seen_at": seen.get("last_seen_at"),
            }
        )
    return out


def mapping_problems(rules: WorkspaceRules, integration: str) -> list[str]:
    """The configuration problems that bear on how ``integration``'s reps map: owners never
    matched by email (their email is not an address) and the integration's inactive fallback
    owner (see :func:`leadsync.rules.workspace.configuration_problems`)."""
    own = f"integrations.{integration}."
    return [
        p
        for p in configuration_problems(rules)
        if p.startswith(own) or not p.startswith("integrations.")
    ]
