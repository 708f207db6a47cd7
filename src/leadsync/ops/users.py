"""An integration's external users and how each maps to an owner, as the rules map them,
and what in the configuration keeps reps of that integration from being mapped."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.model import ExternalUserRef
from leadsync.rules.mapping import map_external_user
from leadsync.rules.workspace import configuration_problems
from leadsync.store import views


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
    named = {canonical(u.id): u.name for u in settings.users.directory}
    out = []
    for user_id in sorted(ids):
        seen = learned.get(user_id, {})
        email = settings.users.directory_email(user_id) or seen.get("email")
        ref = ExternalUserRef(user_id, email)
        result = map_external_user(ref, settings.users, rules.directory, seen.get("email"))
        if result.mapped:
            status = "mapped" if settings.users.target_of(user_id) else "auto-matched"
        else:
            status = "unmapped"
        out.append(
            {
                "id": user_id,
                "email": email,
                "name": named.get(user_id) or seen.get("name"),
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
