"""A staged rollout, seen before it is promoted or aborted and while it runs.

- :func:`difference`: what the proposed settings change against the current ones — each key
  path, before → after (:func:`.settings_change.changed_keys`, the audit log's own summary):
  a section the rollout names replaces the current one whole, so keys it leaves out go back
  to their defaults, and this is where an admin sees it.
- :func:`plan` and :func:`carry_out`: promote or abort with that change and the YAML diff of
  the workspace file (:func:`.settings_change.yaml_diff`) shown first. A face passes the
  :attr:`RolloutChange.fingerprint` it showed: when the settings changed since, nothing is
  done (409), so what is carried out is what was seen. The change itself is the
  ``Workspace``'s (``save``), audited, and refused while the workspace is managed by file.
- :func:`status`: each rollout's share, its difference, and the owner decisions and
  activity skips made under it so far (counted in the database: :mod:`leadsync.store.rollout`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync import workspace_config
from leadsync.engine import ROLLOUT
from leadsync.errors import WorkspaceError
from leadsync.model import Outcome
from leadsync.ops.settings_change import (
    Actor,
    KeyChange,
    changed_keys,
    fingerprint,
    managed_file,
    rollout_in_file,
    rollout_outcome,
    summary_of,
    with_integration,
    yaml_diff,
    yaml_text,
)
from leadsync.results import ResultModel
from leadsync.settings import IntegrationSettings, integration_to_dict, whole_numbers
from leadsync.store import rollout as rollout_store

Action = Literal["promote", "abort"]
ACTIONS: tuple[Action, ...] = ("promote", "abort")


class RolloutChange(ResultModel):
    """Promoting or aborting one integration's rollout: what changes, made or not."""

    integration: str
    action: Action
    dry_run: bool = Field(description="True: shown only, nothing changed.")
    percent: int | float = Field(description="The share of records the rollout had.")
    sections: list[str] = Field(description="The sections the rollout names.")
    changes: list[KeyChange] = Field(
        description="Each key whose value changes for the records concerned — promote: every "
        "record outside the sample gets the proposed value; abort: the sample's records get "
        "the current value back. `before`/`after` null: not set (the default applies)."
    )
    summary: str = Field(description="The changes in a line, `path: old → new; …`.")
    yaml_diff: str = Field(description="Unified diff of the exported workspace file.")
    fingerprint: str = Field(description="What was shown: carrying it out requires the same.")
    managed_file: str | None = Field(
        description="The file the workspace is managed by: the change is made there."
    )
    in_file: str | None = Field(description="How to make the change in that file, then apply it.")
    settings: dict[str, Any] = Field(
        description="The integration's settings after it, as the workspace file writes them."
    )


class RolloutCounts(ResultModel):
    """What the rollout's settings decided so far (every rollout of the integration: the
    mark stays on what an earlier one decided)."""

    decisions: int
    by_outcome: dict[str, int] = Field(description="Owner decisions by outcome.")
    first_at: str | None = Field(
        description="The event time of the earliest of those decisions (as the window reads "
        "it: skips have only their event's time)."
    )
    last_at: str | None = Field(description="The event time of the latest of them.")
    skips: int = Field(description="Activities skipped under the rollout's settings.")
    skips_by_kind: dict[str, int] = Field(description="Those skips by rule, most first.")


class RolloutState(ResultModel):
    """One integration's staged rollout."""

    integration: str
    percent: int | float | None = Field(description="None: the integration has no rollout.")
    sections: list[str]
    changes: list[KeyChange] = Field(
        description="What the proposed settings change against the current ones."
    )
    summary: str
    under_rollout: RolloutCounts


class RolloutStatus(ResultModel):
    rollouts: list[RolloutState]
    since: str | None = Field(
        default=None, description="Counted only events at or after this time (None: all)."
    )


def difference(settings: IntegrationSettings, back: bool = False) -> list[KeyChange]:
    """What an integration's rollout changes against its current settings (none without one):
    each key path, current → proposed; ``back``: proposed → current (what an abort gives the
    sample's records)."""
    proposed = settings.proposed()
    if proposed is None:
        return []
    current = settings.model_copy(update={"rollout": None}).model_dump(mode="json")
    dumped = proposed.model_dump(mode="json")
    return changed_keys(dumped, current) if back else changed_keys(current, dumped)


def sections(settings: IntegrationSettings) -> list[str]:
    """The sections a rollout names (each replaces the current one whole)."""
    if settings.rollout is None:
        return []
    return list(settings.rollout.settings.model_dump(exclude_none=True))


def _check(action: str) -> Action:
    if action not in ACTIONS:
        raise WorkspaceError(f"{action!r} is not allowed; allowed: {', '.join(ACTIONS)}")
    return "promote" if action == "promote" else "abort"


def plan(engine: Engine, name: str, action: str) -> RolloutChange:
    """What promoting (or aborting) ``name``'s rollout would change; nothing is written.
    NotFoundError for an unknown integration, WorkspaceError when it has no rollout."""
    act = _check(action)
    workspace_config.integration_settings(workspace_config.load_rules(engine), name)
    config = workspace_config.export_config(engine)
    settings = config.integrations[name]
    after = rollout_outcome(settings, name, act)
    assert settings.rollout is not None  # rollout_outcome refuses an integration without
    changes = difference(settings, back=act == "abort")
    before, later = yaml_text(config), yaml_text(with_integration(config, name, after))
    file = managed_file(engine)
    return RolloutChange(
        integration=name,
        action=act,
        dry_run=True,
        percent=whole_numbers(settings.rollout.percent),
        sections=sections(settings),
        changes=changes,
        summary=summary_of(changes),
        yaml_diff=yaml_diff(before, later),
        fingerprint=fingerprint(before, later),
        managed_file=file,
        in_file=rollout_in_file(name, act, file) if file is not None else None,
        settings=integration_to_dict(after),
    )


def carry_out(
    engine: Engine,
    name: str,
    action: str,
    save: Callable[[str, Actor, str | None], IntegrationSettings],
    by: Actor,
    seen: str | None = None,
) -> RolloutChange:
    """Promote or abort ``name``'s rollout through ``save`` (the ``Workspace``'s
    ``rollout_promote`` or ``rollout_abort``) and say what changed. With ``seen`` (a
    :func:`plan`'s fingerprint), refused (WorkspaceError, 409) when that is not what it
    would change now."""
    planned = plan(engine, name, action)
    if seen is not None and seen != planned.fingerprint:
        raise WorkspaceError(
            f"the settings of {name} changed since what {action} would change was shown: "
            "look at it again, then confirm"
        )
    saved = save(name, by, seen)  # checked again where it writes: a change may land meanwhile
    return planned.model_copy(update={"dry_run": False, "settings": integration_to_dict(saved)})


def status(engine: Engine, name: str | None = None, since: str | None = None) -> RolloutStatus:
    """Each integration's rollout (``name``'s alone when given, with or without one): its
    share, what it changes against the current settings, and the decisions and skips its
    settings made so far (of events at or after ``since``, when given)."""
    rules = workspace_config.load_rules(engine)
    if name is not None:
        chosen = {name: workspace_config.integration_settings(rules, name)}
    else:
        chosen = {n: s for n, s in sorted(rules.integrations.items()) if s.rollout is not None}
    with engine.connect() as connection:
        counted = rollout_store.counts(connection, list(chosen), ROLLOUT, since)
    states = []
    for each, settings in chosen.items():
        found = counted[each]
        by_outcome = {o.value: found["by_outcome"].get(o.value, 0) for o in Outcome}
        changes = difference(settings)
        states.append(
            RolloutState(
                integration=each,
                percent=whole_numbers(settings.rollout.percent)
                if settings.rollout is not None
                else None,
                sections=sections(settings),
                changes=changes,
                summary=summary_of(changes),
                under_rollout=RolloutCounts(
                    decisions=sum(by_outcome.values()),
                    by_outcome=by_outcome,
                    first_at=found["first_at"],
                    last_at=found["last_at"],
                    skips=sum(found["skips_by_kind"].values()),
                    skips_by_kind=found["skips_by_kind"],
                ),
            )
        )
    return RolloutStatus(rollouts=states, since=since)
