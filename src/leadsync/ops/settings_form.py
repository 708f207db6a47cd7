"""What the console's integration settings page needs: the choices it offers (owners by
name, teams, the enums), a submitted form turned into proposed settings, and the preview of
that proposal — the replay of the last days under it and the YAML diff — before it is saved.

The form becomes *partial* settings data, the shape the admin API's proposed settings and
``leadsync replay --settings`` take (:class:`~leadsync.settings.ProposedIntegration`): read
by the same function, checked the same way, merged over the current settings the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync import workspace_config
from leadsync.model import (
    CALL_OUTCOMES,
    MEETING_OUTCOMES,
    ActivityType,
    AssociationMode,
    AutoMatch,
    CompanyAssociation,
    DealAssociation,
    RecordType,
    Strategy,
    UnmappedPolicy,
)
from leadsync.ops import replay as replay_ops
from leadsync.ops.replay import ReplayResult
from leadsync.ops.settings_change import (
    fingerprint,
    managed_file,
    summarize,
    with_integration,
    yaml_diff,
    yaml_text,
)
from leadsync.ops.users import external_users
from leadsync.results import ResultModel
from leadsync.settings import DedupeRule, IntegrationSettings, proposed_from_data
from leadsync.store import config as config_store

#: The submitted form: every field's values, as a multi-valued form gives them.
Form = Mapping[str, Sequence[str]]
#: The sections a form may carry; each fieldset names its own in a hidden ``sections`` field,
#: so that an unticked box of a section on the form means false, not "not on the form".
SECTIONS = ("webhook", "users", "ownership", "activities", "associations", "rollout")
OUTCOMES = {ActivityType.CALL.value: CALL_OUTCOMES, ActivityType.MEETING.value: MEETING_OUTCOMES}


@dataclass(frozen=True)
class OwnerChoice:
    """An owner a dropdown offers: by name; an inactive one only where a setting names it."""

    id: str
    name: str
    active: bool


@dataclass(frozen=True)
class SettingsForm:
    """The settings page of one integration: ``settings`` fill the form (the current ones,
    or a proposal being previewed); ``users`` say how each external user maps *today*."""

    integration: str
    settings: IntegrationSettings
    users: list[dict[str, Any]]
    owners: list[OwnerChoice]
    teams: list[str]
    dedupe: list[DedupeRule]
    managed_file: str | None
    strategies: tuple[str, ...] = tuple(Strategy)
    record_types: tuple[str, ...] = tuple(RecordType)
    activity_types: tuple[str, ...] = tuple(ActivityType)
    outcomes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: OUTCOMES)
    policies: tuple[str, ...] = tuple(UnmappedPolicy)
    auto_matches: tuple[str, ...] = tuple(AutoMatch)
    association_modes: tuple[str, ...] = tuple(AssociationMode)
    primaries: tuple[str, ...] = (RecordType.CONTACT, RecordType.LEAD)
    company_choices: tuple[str, ...] = tuple(CompanyAssociation)
    deal_choices: tuple[str, ...] = tuple(DealAssociation)


def settings_form(
    engine: Engine, name: str, proposed: IntegrationSettings | None = None
) -> SettingsForm:
    """The page of integration ``name`` (NotFoundError naming the configured ones), its form
    filled with ``proposed`` when given."""
    rules = workspace_config.load_rules(engine)
    current = workspace_config.integration_settings(rules, name)
    settings = proposed or current
    config = workspace_config.export_config(engine)
    with engine.connect() as connection:
        rows = config_store.read_owners(connection)
        teams = config_store.read_teams(connection)
    named = {*settings.users.map.values(), settings.users.unmapped.owner}
    owners = [
        OwnerChoice(
            r["id"],
            f"{r['first_name'] or ''} {r['last_name'] or ''}".strip() or r["email"],
            bool(r["active"]) and not r["archived"],
        )
        for r in rows
    ]
    return SettingsForm(
        integration=name,
        settings=settings,
        users=external_users(engine, rules, name),
        owners=[o for o in owners if o.active or o.id in named],
        teams=sorted(teams),
        dedupe=[rule for rule in config.dedupe if name in rule.integrations],
        managed_file=managed_file(engine),
    )


def _one(form: Form, key: str) -> str | None:
    values = form.get(key)
    return values[-1].strip() if values else None


def _number(text: str | None) -> Any:
    """A number field: an int or a float as typed; empty is None (the default); anything
    else is passed on for the settings' check to refuse at its key path."""
    if not text:
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def change_from_form(form: Form) -> dict[str, Any]:
    """The settings a submitted settings form proposes, as partial data (only the sections
    the form carries; ``null`` puts a key back to its default; a user set to "no explicit
    mapping" leaves the map). Pure: no check here, the proposed-settings reader does them."""
    sections = set(form.get("sections", ()))
    data: dict[str, Any] = {}
    if "webhook" in sections:
        data["secret_env"] = _one(form, "secret_env") or None
    if "users" in sections:
        policy = _one(form, "users.unmapped.policy") or UnmappedPolicy.LEAVE.value
        unmapped: dict[str, Any] = {"policy": policy}
        target = {UnmappedPolicy.FALLBACK.value: "owner", UnmappedPolicy.ROUND_ROBIN.value: "team"}
        if policy in target:
            unmapped[target[policy]] = _one(form, f"users.unmapped.{target[policy]}") or None
        data["users"] = {
            "auto_match": _one(form, "users.auto_match"),
            "map": {
                key.removeprefix("users.map."): _one(form, key) or None
                for key in form
                if key.startswith("users.map.")
            },
            "unmapped": unmapped,
        }
    if "ownership" in sections:
        data["ownership"] = {
            "default": _one(form, "ownership.default"),
            **{t.value: _one(form, f"ownership.{t.value}") or None for t in RecordType},
            "protect_manual_days": _number(_one(form, "ownership.protect_manual_days")),
            "assign_on_activity": "ownership.assign_on_activity" in form,
        }
    if "activities" in sections:
        activities: dict[str, Any] = {}
        for kind in ActivityType:
            entry: dict[str, Any] = {"enabled": f"activities.{kind.value}.enabled" in form}
            if kind is ActivityType.CALL:
                entry["min_duration_s"] = _number(_one(form, "activities.call.min_duration_s"))
            if kind.value in OUTCOMES:
                entry["skip_outcomes"] = list(
                    form.get(f"activities.{kind.value}.skip_outcomes", ())
                )
            activities[kind.value] = entry
        data["activities"] = activities
    if "associations" in sections:
        data["associations"] = {
            key: _one(form, f"associations.{key}") for key in ("mode", "primary", "company", "deal")
        } | {"max_deals": _number(_one(form, "associations.max_deals"))}
    if "rollout" in sections:
        data["rollout"] = {"percent": _number(_one(form, "rollout.percent"))}
    return data


class SettingsPreview(ResultModel):
    """A proposed change before it is saved: the replay of the inbox since ``since`` under
    the proposal, the YAML diff of the workspace file, and the fingerprint a save must
    carry (see :func:`~leadsync.ops.settings_change.fingerprint`)."""

    integration: str
    since: str
    summary: str = Field(description="Each changed key path: `path: old → new`.")
    yaml_diff: str
    proposed_yaml: str
    fingerprint: str
    managed_file: str | None
    replay: ReplayResult


@dataclass(frozen=True)
class Proposal:
    """Proposed settings of one integration, with the preview of them."""

    settings: IntegrationSettings
    preview: SettingsPreview


def preview_change(
    engine: Engine, name: str, data: Any, since: str, source: str = "<console>"
) -> Proposal:
    """``data`` (partial or whole settings, as the admin API's proposed settings) read over
    the current settings of ``name``, replayed since ``since`` and diffed as YAML; nothing
    is written."""
    workspace_config.integration_settings(workspace_config.load_rules(engine), name)
    current = workspace_config.export_config(engine)
    proposal = proposed_from_data(data, source, name, current)
    before = yaml_text(current)
    after = yaml_text(with_integration(current, name, proposal.settings))
    preview = SettingsPreview(
        integration=name,
        since=since,
        summary=summarize(
            current.integrations[name].model_dump(mode="json"),
            proposal.settings.model_dump(mode="json"),
        ),
        yaml_diff=yaml_diff(before, after),
        proposed_yaml=after,
        fingerprint=fingerprint(before, after),
        managed_file=managed_file(engine),
        replay=replay_ops.replay(engine, name, proposal.settings, since),
    )
    return Proposal(proposal.settings, preview)
