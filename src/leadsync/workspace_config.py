"""The workspace's configuration in its database: applying a :class:`WorkspaceConfig`,
exporting it back, and loading it as the rules need it.

The configuration lives in tables (owners, teams, integrations: :mod:`leadsync.store.config`)
and in named workspace settings (monitoring, destination, dedupe rules, the free-mail
overrides, where owners come from, HubSpot's portal facts, the push backfill). This module is the one translation between
those rows and the settings' models, so the file, the API and the scratch workspaces of a
replay all store and read a configuration the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.engine import Connection, Engine

from leadsync.engine import WorkspaceRules
from leadsync.errors import NotFoundError, WorkspaceError
from leadsync.results import counted
from leadsync.rules.domains import DomainPolicy
from leadsync.rules.mapping import OwnerDirectory
from leadsync.settings import (
    FreeMailSettings,
    IntegrationSettings,
    MonitoringSettings,
    OwnersFromCrm,
    OwnerSpec,
    WorkspaceConfig,
    config_from_dict,
    config_to_dict,
    dedupe_from_list,
    dedupe_to_list,
    destination_from_dict,
    destination_to_dict,
    free_mail_to_dict,
    integration_from_dict,
    integration_to_dict,
    monitoring_to_dict,
)
from leadsync.settings.base import KeyPath, Written
from leadsync.settings.checks import KnownIds, reference_problems, written_problems
from leadsync.settings.errors import Place, PlacedLater, validate_as
from leadsync.store import config as config_store
from leadsync.store import inbox as inbox_store
from leadsync.store import push as push_store
from leadsync.store.database import begin_writing

# The names of the workspace settings (rows of ``workspace_settings``) beside the tables.
MONITORING_SETTING = "monitoring"
DESTINATION_SETTING = "destination"
DEDUPE_SETTING = "dedupe"
FREE_MAIL_SETTING = "free_mail"
OWNERS_SOURCE_SETTING = "owners_source"
HUBSPOT_PORTAL_SETTING = "hubspot_portal"
# The portal the stored HubSpot ids belong to ({hub_id, base_url}): set by the first
# `hubspot setup`, changed only by `hubspot setup --new-portal`.
PUSHED_TO_SETTING = "hubspot_pushed_to"
PUSH_BACKFILL_SETTING = "push_backfill"


def settings_of(name: str, data: dict[str, Any]) -> IntegrationSettings:
    """An integration's stored settings as a model (checked again, like the file)."""
    return integration_from_dict(data, source="<workspace>", key_prefix=f"integrations.{name}")


def free_mail_of(data: dict[str, Any] | None) -> FreeMailSettings:
    """The stored free-mail overrides as a model (none stored: the empty lists)."""
    return validate_as(FreeMailSettings, data or {}, Place("<workspace>", None, "free_mail"))


def load_rules(engine: Engine) -> WorkspaceRules:
    """The workspace's configuration as the rules need it."""
    with engine.connect() as connection:
        return rules_on(connection)


def rules_on(connection: Connection) -> WorkspaceRules:
    """:func:`load_rules` in the caller's transaction."""
    owners = config_store.owners_by_id(connection)
    teams = config_store.read_teams(connection)
    integration_rows = config_store.read_integrations(connection)
    destination = config_store.read_setting(connection, DESTINATION_SETTING)
    dedupe = config_store.read_setting(connection, DEDUPE_SETTING) or []
    free_mail = config_store.read_setting(connection, FREE_MAIL_SETTING)
    return WorkspaceRules(
        directory=OwnerDirectory.build(owners, teams),
        integrations={name: settings_of(name, s) for name, _, s in integration_rows},
        push=bool(destination),
        dedupe=dedupe_from_list(dedupe),
        domains=DomainPolicy.from_settings(free_mail_of(free_mail)),
    )


def _check_owner_references(connection: Connection, config: WorkspaceConfig) -> None:
    """With owners from HubSpot, the owners the file names must be among the pulled ones,
    and an integration's fallback owner active there: the file's own checks, against them.
    The teams are the pulled ones and the file's (which it adds or replaces: the apply keeps
    the others), so a round robin may name a pulled team."""
    data = config_to_dict(config)
    pulled = {o: owner.active for o, owner in config_store.owners_by_id(connection).items()}
    teams = {t: list(m) for t, m in config_store.read_teams(connection).items()}
    known = KnownIds({**data, "teams": {**teams, **(data.get("teams") or {})}}, pulled=pulled)
    found = [
        *reference_problems(data, known),
        *written_problems(data, Written(owners=False), known),
    ]
    if found:  # placed in the file by the caller that read it (its lines are not here)
        raise PlacedLater(found, Place("<owners from hubspot>", None, ""))


def _check_kinds(connection: Connection, config: WorkspaceConfig) -> None:
    """An integration keeps its kind while the inbox holds its events: each kind reads only
    its own vendor's, so they could no longer be read (nor replayed, nor retried)."""
    stored = {name: kind for name, kind, _ in config_store.read_integrations(connection)}
    changed = {
        name: settings.kind
        for name, settings in config.integrations.items()
        if stored.get(name, settings.kind) != settings.kind
    }
    held = inbox_store.events_held(connection, changed) if changed else {}
    found: list[tuple[KeyPath, str]] = [
        (
            ("integrations", name, "kind"),
            f"{changed[name]!r} would change the kind of an integration holding "
            f"{counted(held[name], 'inbox event')} of kind {stored[name]}, which no other kind "
            f"reads; allowed: {stored[name]} (for {changed[name]}, add an integration under "
            "another name)",
        )
        for name in sorted(held)
    ]
    if found:  # placed in the file by the caller that read it (its lines are not here)
        raise PlacedLater(found, Place("<workspace>", None, ""))


def apply_config(engine: Engine, config: WorkspaceConfig) -> config_store.ConfigChanges:
    """Make the workspace's owners, teams, integrations and settings those of ``config``, in
    one transaction; applying the same configuration again changes nothing."""
    with begin_writing(engine) as connection:
        return apply_on(connection, config)


def plan_config(
    engine: Engine, config: WorkspaceConfig
) -> tuple[config_store.ConfigChanges, WorkspaceConfig]:
    """What :func:`apply_config` of ``config`` would change, and the configuration the
    workspace would then export; nothing is written (``leadsync apply --dry-run``): it is
    applied in a transaction that is rolled back, so its checks and its answer are apply's."""
    with engine.connect() as connection:
        transaction = begin_writing(connection)
        try:
            return apply_on(connection, config), export_on(connection)
        finally:
            transaction.rollback()


def apply_on(connection: Connection, config: WorkspaceConfig) -> config_store.ConfigChanges:
    """:func:`apply_config` in the caller's transaction (one that writes), the configuration
    held first (:func:`leadsync.store.config.lock_config`)."""
    config_store.lock_config(connection)
    owner_rows = [
        {
            "id": o.id,
            "email": o.email,
            "first_name": o.first_name,
            "last_name": o.last_name,
            "active": o.active,
        }
        for o in config.owner_specs
    ]
    integration_rows = [
        {"name": name, "kind": s.kind, "settings": integration_to_dict(s)}
        for name, s in config.integrations.items()
    ]
    destination = None if config.destination is None else destination_to_dict(config.destination)
    settings = (
        # (setting, stored value, what ``changes.settings_changed`` calls it)
        (MONITORING_SETTING, monitoring_to_dict(config.monitoring), "monitoring"),
        (DESTINATION_SETTING, destination, "destination"),
        (DEDUPE_SETTING, dedupe_to_list(config.dedupe) or None, "dedupe"),
        (FREE_MAIL_SETTING, free_mail_to_dict(config.free_mail) or None, "free_mail"),
        (OWNERS_SOURCE_SETTING, "hubspot" if config.owners_from_crm else None, "owners"),
    )
    if config.owners_from_crm:
        _check_owner_references(connection, config)
    _check_kinds(connection, config)
    changes = config_store.replace_config(
        connection,
        None if config.owners_from_crm else owner_rows,
        dict(config.teams),
        integration_rows,
    )
    for name in [*changes.integrations_added, *changes.integrations_updated]:
        if config.integrations[name].is_crm:  # records pushed before it: found by its ids
            push_store.add_pushed_identities(connection, name)
    for name, value, shown in settings:
        was = config_store.read_setting(connection, name)
        if not config_store.write_setting(connection, name, value):
            continue
        if _meaning(name, was) != _meaning(name, value):
            changes.settings_changed.append(shown)
        else:  # only an order the engine does not read: written, for the export
            changes.reordered.append(shown)
    return changes


def _meaning(name: str, value: Any) -> Any:
    """What the engine reads of a stored setting: the free-mail domains and the dedupe
    rules are sets, their order only the file's (written, so that the export keeps it, but
    no change to report)."""
    if name == FREE_MAIL_SETTING:
        return {key: sorted(items) for key, items in (value or {}).items()}
    if name == DEDUPE_SETTING:
        return sorted(json.dumps(rule, sort_keys=True) for rule in value or [])
    return value


def export_config(engine: Engine) -> WorkspaceConfig:
    """The workspace's configuration as a file would declare it: archived owners are left
    out, but for those a team or an integration still names (an owner ``leadsync owners
    pull`` archived, the file still naming it), which are written ``active: false`` so that
    the file applies — they count as inactive, as archived owners do. Stored settings that
    no longer pass the file's checks are a ConfigError naming them, never a traceback."""
    with engine.connect() as connection:
        return export_on(connection)


def export_on(connection: Connection) -> WorkspaceConfig:
    """:func:`export_config` in the caller's transaction."""
    owner_rows = config_store.read_owners(connection)
    teams = config_store.read_teams(connection)
    integration_rows = config_store.read_integrations(connection)
    monitoring = config_store.read_setting(connection, MONITORING_SETTING) or {}
    destination = config_store.read_setting(connection, DESTINATION_SETTING)
    dedupe = config_store.read_setting(connection, DEDUPE_SETTING) or []
    free_mail = config_store.read_setting(connection, FREE_MAIL_SETTING)
    from_crm = config_store.read_setting(connection, OWNERS_SOURCE_SETTING) == "hubspot"
    integrations = {name: settings_of(name, s) for name, _, s in integration_rows}
    named = _named_owners(teams, integrations)
    owners: tuple[OwnerSpec, ...] | OwnersFromCrm = tuple(
        _owner_spec(r) for r in owner_rows if not r["archived"] or r["id"] in named
    )
    data = {
        "owners": OwnersFromCrm(source="hubspot") if from_crm else owners,
        "teams": teams,
        "integrations": integrations,
        "monitoring": validate_as(MonitoringSettings, monitoring, _stored("monitoring")),
        "destination": destination_from_dict(destination) if destination else None,
        "dedupe": dedupe_from_list(dedupe),
        "free_mail": free_mail_of(free_mail),
    }
    return validate_as(WorkspaceConfig, data, _stored(""))


def _stored(key_prefix: str) -> Place:
    return Place("<workspace>", None, key_prefix)


def _owner_spec(row: Mapping[str, Any]) -> OwnerSpec:
    """An owner row in the file's shape: names and ``active`` only where they say something
    (the columns cannot tell a value written from a default)."""
    fields: dict[str, Any] = {"id": row["id"], "email": row["email"]}
    fields |= {k: row[k] for k in ("first_name", "last_name") if row[k]}
    if not row["active"] or row["archived"]:
        fields["active"] = False
    return OwnerSpec.model_validate(fields)


def _named_owners(
    teams: Mapping[str, Iterable[str]], integrations: Mapping[str, IntegrationSettings]
) -> set[str]:
    """The owners teams and integrations name (the map, the fallback, a rollout's too)."""
    return set(_owner_places(teams, integrations))


def _owner_places(
    teams: Mapping[str, Iterable[str]], integrations: Mapping[str, IntegrationSettings]
) -> dict[str, list[str]]:
    """Every owner teams and integrations name, with where (``team sdr``, ``dialer's
    users.map``, ``dialer's unmapped owner``; a rollout's settings as ``… (rollout)``)."""
    places: dict[str, list[str]] = {}
    for team, members in teams.items():
        for member in members:
            places.setdefault(member, []).append(f"team {team}")
    for name, settings in integrations.items():
        proposed = settings.rollout.settings.users if settings.rollout is not None else None
        for users, whose in ((settings.users, name), (proposed, f"{name} (rollout)")):
            if users is None:
                continue
            for owner in users.map.values():
                places.setdefault(owner, []).append(f"{whose}'s users.map")
            if users.unmapped.owner is not None:
                places.setdefault(users.unmapped.owner, []).append(f"{whose}'s unmapped owner")
    return places


def owners_named_on(connection: Connection) -> dict[str, list[str]]:
    """:func:`_owner_places` of the workspace's teams and integrations, in the caller's
    transaction: the owners its settings cannot lose."""
    integrations = {n: settings_of(n, s) for n, _, s in config_store.read_integrations(connection)}
    return _owner_places(config_store.read_teams(connection), integrations)


def set_integration_on(
    connection: Connection, name: str, data: Any, new: bool
) -> IntegrationSettings:
    """Create (``new``) or replace one integration's settings from data in the YAML's schema,
    checked as the file is (owners and teams included), the rest of the configuration as it
    is, in the caller's transaction (one that writes, holding the configuration:
    :func:`leadsync.store.config.lock_config`). WorkspaceError when a new name is configured
    already; NotFoundError, naming the configured ones, when a replaced one is not."""
    current = config_to_dict(export_on(connection))
    integrations = dict(current.get("integrations") or {})
    if new and name in integrations:
        raise WorkspaceError(f"integration {name!r} exists already; replace its settings instead")
    if not new and name not in integrations:
        known = ", ".join(sorted(integrations)) or "none"
        raise NotFoundError(f"unknown integration {name!r}; configured integrations: {known}")
    integrations[name] = data
    current["integrations"] = integrations
    # Only this integration is written: another's fallback owner archived since stays
    # readable (the health checks name it), as the owners do.
    config = config_from_dict(current, source="<api>", written=Written.only([name]))
    try:
        apply_on(connection, config)
    except PlacedLater as exc:  # checked against the workspace: said as the rest
        raise exc.at(Place("<api>", None, "")) from None
    return config.integrations[name]


def integration_settings(rules: WorkspaceRules, name: str) -> IntegrationSettings:
    """The settings of a configured integration; NotFoundError naming the configured ones."""
    settings = rules.integrations.get(name)
    if settings is None:
        known = ", ".join(sorted(rules.integrations)) or "none (run leadsync apply FILE)"
        raise NotFoundError(f"unknown integration {name!r}; configured integrations: {known}")
    return settings


def owner_names(engine: Engine) -> dict[str, str]:
    """Each owner's name by id, archived owners too (records and history still name them);
    an owner with no name has its email."""
    with engine.connect() as connection:
        rows = config_store.read_owners(connection)
    return {
        r["id"]: f"{r['first_name'] or ''} {r['last_name'] or ''}".strip() or r["email"]
        for r in rows
    }
