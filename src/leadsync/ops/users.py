"""An integration's external users and how each maps to an owner, as the rules map them,
and what in the configuration keeps reps of that integration from being mapped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.model import ExternalUserRef, MappingResult
from leadsync.rules.mapping import map_external_user
from leadsync.rules.workspace import configuration_problems
from leadsync.settings import IntegrationSettings
from leadsync.store import views


@dataclass(frozen=True, slots=True)
class KnownUser:
    """A rep as leadsync knows it: the directory's email and name first, else what its events
    said; and how it maps (the engine's own :func:`map_external_user`)."""

    email: str | None
    name: str | None
    mapping: MappingResult


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
    mapping = map_external_user(ExternalUserRef(user_id, email), users, rules.directory, seen_email)
    return KnownUser(email, name or seen_name, mapping)


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
