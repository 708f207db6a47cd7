"""Changing the configuration with a record of it: every save of an integration's settings
(the console, the admin API, rollout promote/abort) and every ``leadsync apply`` goes
through here, so each is refused alike when the workspace is **managed by file** and each
leaves an audit entry (who, when, the YAML diff of the exported workspace file, a summary).

Managed by file is a workspace setting, set by ``leadsync apply --managed FILE`` (and
cleared by ``--unmanaged``): the team keeps the configuration in git, so the console shows
the YAML a change would produce and the command to run instead of saving, and the admin
API's changes are a 409.

The change and its audit entry are two transactions (applying a configuration owns its
own): an entry is written right after the change it records, never for a change refused.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from sqlalchemy.engine import Connection, Engine

from leadsync import workspace_config
from leadsync.errors import WorkspaceError
from leadsync.model import now_ts
from leadsync.ops.line_settle import settle_declared
from leadsync.ops.rep_settle import settle_mapped_reps
from leadsync.results import ResultModel, agreeing, counted
from leadsync.settings import (
    IntegrationSettings,
    WorkspaceConfig,
    dump_config,
    integration_to_dict,
    whole_numbers,
)
from leadsync.store import audit as audit_store
from leadsync.store import config as config_store
from leadsync.store import review as review_store
from leadsync.store import views
from leadsync.store.database import begin_writing

MANAGED_SETTING = "managed_by_file"
AUDIT_PAGE = 50


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as the audit log names it: a role and a label of the session or
    the command. Never a token or a password."""

    role: str
    who: str


@dataclass(frozen=True)
class ManagedBy:
    """``leadsync apply --managed FILE`` (``on``) or ``--unmanaged`` (not ``on``)."""

    file: str
    on: bool = True


PYTHON_API = Actor("admin", "python API")
API_ACTOR = Actor("admin", "admin API (admin token)")


class AuditEntry(ResultModel):
    """One recorded change."""

    id: int
    at: str
    role: str
    who: str
    integration: str | None = Field(description="None: the whole workspace (leadsync apply).")
    summary: str
    yaml_diff: str = Field(description="Unified diff of the exported workspace file.")


class AuditPage(ResultModel):
    """Entries newest first; ``older`` is the ``before`` of the next page (None: the last)."""

    entries: list[AuditEntry]
    older: int | None = None


# ------------------------------------------------------------------- managed by file


def managed_file(engine: Engine) -> str | None:
    """The file a workspace managed by file is applied from, else None."""
    with engine.connect() as connection:
        return _managed_file(connection)


def _managed_file(connection: Connection) -> str | None:
    value = config_store.read_setting(connection, MANAGED_SETTING)
    return str(value["file"]) if value else None


def rollout_in_file(integration: str, action: str, file: str) -> str:
    """How to promote (or abort) a staged rollout in the workspace file itself, then apply
    it: the words the refusals, ``rollout promote --dry-run`` and the console's settings page
    all say."""
    where = f"integrations.{integration}"
    steps = (
        f"copy each section under {where}.rollout.settings into {where} (it replaces the "
        f"section of that name whole) and delete {where}.rollout"
        if action == "promote"
        else f"delete {where}.rollout"
    )
    return f"{action} in the file: {steps}, then run `leadsync apply {file}`"


def refuse_if_managed(connection: Connection, integration: str, rollout: str | None = None) -> None:
    """WorkspaceError (409) when the workspace is managed by file: saying which file, the
    command that changes the settings — for a rollout's ``promote`` or ``abort``, how to do
    that in the file (:func:`rollout_in_file`) — and how to stop managing by file."""
    file = _managed_file(connection)
    if file is not None:
        change = (
            rollout_in_file(integration, rollout, file)
            if rollout is not None
            else f"change integrations.{integration} there and run `leadsync apply {file}`"
        )
        raise WorkspaceError(
            f"the workspace is managed by file ({file}): {change}; "
            f"`leadsync apply --unmanaged {file}` lets the console and the admin API change "
            "settings again"
        )


# ------------------------------------------------------------------------ the diff


def yaml_text(config: WorkspaceConfig) -> str:
    """The workspace file as ``leadsync export`` writes it."""
    return dump_config(config)


def yaml_diff(before: str, after: str) -> str:
    """Unified diff of two workspace files ('' when equal)."""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        "current.yaml",
        "proposed.yaml",
    )
    return "".join(lines)


def fingerprint(before: str, after: str) -> str:
    """What a preview showed, in a few characters: saving it requires the same pair, so a
    change made meanwhile (by anyone) or a form edited after its preview is not saved
    unseen."""
    return hashlib.sha256(f"{before}\0{after}".encode()).hexdigest()[:20]


def with_integration(
    config: WorkspaceConfig, name: str, settings: IntegrationSettings
) -> WorkspaceConfig:
    """The workspace with one integration's settings replaced (its place kept)."""
    return config.model_copy(update={"integrations": {**config.integrations, name: settings}})


def _flat(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every key path of a settings dump with its value; unset values (None, {}) are left out."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flat(item, f"{path}.{key}" if path else str(key))
    elif value is not None:
        yield path, value


def _shown(value: Any) -> str:
    """A value as the settings file writes it, in YAML's flow style: ``true``, ``[a, b]``,
    ``{id: u-1, email: ana@acme.test}`` (a key not set left out), never Python's
    ``True`` or ``{'id': 'u-1', 'name': None}``."""
    if value is None:
        return "(not set)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, dict):
        shown = (f"{k}: {_shown(v)}" for k, v in value.items() if v is not None)
        return "{" + ", ".join(shown) + "}"
    return str(value)


class KeyChange(ResultModel):
    """One key path whose value changes (None: not set, its default applies)."""

    path: str
    before: Any = None
    after: Any = None
    note: str | None = Field(default=None, exclude=True)
    """Why a key is no longer set when the change drops it on purpose (shown in the line)."""

    def __str__(self) -> str:
        after = _shown(self.after)
        if self.note:
            after = f"(not set: {self.note})" if self.after is None else f"{after} ({self.note})"
        return f"{self.path}: {_shown(self.before)} → {after}"


#: The unmapped policy's key each policy needs (the other is not allowed with it).
_UNMAPPED_NEEDS = {"leave": None, "fallback": "owner", "round_robin": "team"}


def _dropped_note(path: str, new: Mapping[str, Any]) -> str | None:
    """Why ``path`` is no longer set when the new settings do not allow it: the unmapped
    policy's owner or team that the new policy takes no part of."""
    block, _, key = path.rpartition(".")
    if not (block == "users.unmapped" or block.endswith(".users.unmapped")):
        return None
    policy = new.get(f"{block}.policy")
    if key not in ("owner", "team") or policy not in _UNMAPPED_NEEDS:
        return None
    if _UNMAPPED_NEEDS[policy] == key:
        return None
    return f"not allowed with policy {policy}"


def _in_order(old: list[str], new: list[str]) -> list[str]:
    """The paths of both, in the settings' own order (the models' order, as ``leadsync
    export`` writes them): those of the new settings as they are, each path only the old
    had after the one it followed there."""
    merged = list(new)
    at = {path: n for n, path in enumerate(merged)}
    previous: str | None = None
    for path in old:
        if path not in at:
            place = at[previous] + 1 if previous is not None else 0
            merged.insert(place, path)
            at = {p: n for n, p in enumerate(merged)}
        previous = path
    return merged


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[KeyChange]:
    """Each changed key path of two full dumps of one integration's settings (``model_dump``:
    every field, so a value at its default is shown as it is), in the settings' own order
    (a key no longer set where it was); a key dropped because the new settings do not
    allow it says so."""
    old, new = dict(_flat(dict(before))), dict(_flat(dict(after)))
    paths = _in_order(list(old), list(new))
    return [
        KeyChange(
            path=path,
            before=whole_numbers(old.get(path)),
            after=whole_numbers(new.get(path)),
            note=_dropped_note(path, new) if path not in new else None,
        )
        for path in paths
        if old.get(path) != new.get(path)
    ]


def summary_of(changes: Iterable[KeyChange]) -> str:
    """Changed keys in a line, ``path: old → new; …`` (the audit log's summary)."""
    return "; ".join(str(change) for change in changes) or "no change"


def summarize(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """:func:`changed_keys` of two dumps in a line (:func:`summary_of`)."""
    return summary_of(changed_keys(before, after))


# ---------------------------------------------------------------------- the changes


def _record(
    connection: Connection,
    by: Actor,
    integration: str | None,
    summary: str,
    diff: str,
    integrations: Sequence[str] = (),
) -> None:
    audit_store.add_entry(
        connection,
        at=now_ts(),
        role=by.role,
        who=by.who,
        integration=integration,
        summary=summary,
        yaml_diff=diff,
        integrations=integrations,
    )


class StaleSettings(WorkspaceError):
    """``If-Match`` names settings that are not the current ones any more (HTTP 412)."""

    http_status = 412
    title = "Precondition failed"


def etag(settings: IntegrationSettings) -> str:
    """An integration's settings as an HTTP entity tag (quoted): the admin API's ``ETag``,
    which a ``PUT`` with ``If-Match`` must still match."""
    text = json.dumps(integration_to_dict(settings), sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:20] + '"'


def save_integration(
    engine: Engine,
    name: str,
    data: Any,
    new: bool,
    by: Actor = PYTHON_API,
    previewed: str | None = None,
    if_match: str | None = None,
) -> IntegrationSettings:
    """Create (``new``) or replace one integration's settings from data in the YAML's schema
    (checked like the file), and record who did it. Refused when the workspace is managed by
    file (409), and, with ``previewed`` (a preview's :func:`fingerprint`), when the current
    settings or the change are not those the preview showed (409: preview again); with
    ``if_match`` (an HTTP ``If-Match``: entity tags, or ``*``), when the current settings'
    :func:`etag` is none of them (412), checked in the transaction that writes. Saving
    settings equal to the current ones changes nothing and records nothing."""

    def checked(current: IntegrationSettings | None) -> Any:
        tags = {t.strip() for t in (if_match or "").split(",") if t.strip()}
        if (
            if_match is not None
            and "*" not in tags
            and (current is None or etag(current) not in tags)
        ):
            now = etag(current) if current is not None else "none"
            raise StaleSettings(
                f"the settings of {name} changed since they were read (If-Match "
                f"{if_match[:100]}; now {now}): GET them again, then PUT the change"
            )
        return data

    return edit_integration(engine, name, checked, new, by, previewed)


def edit_integration(
    engine: Engine,
    name: str,
    edit: Callable[[IntegrationSettings | None], Any],
    new: bool,
    by: Actor = PYTHON_API,
    previewed: str | None = None,
    rollout: str | None = None,
    settle: bool = True,
) -> IntegrationSettings:
    """:func:`save_integration` of what ``edit`` makes of the integration's current settings
    (None for a new one), read in the transaction that writes them, the configuration held
    (:func:`leadsync.store.config.lock_config`): a change saved meanwhile by another admin,
    process or review answer is edited, never undone. The check, the write and the audit
    entry are one transaction. ``rollout``: the refusal of a managed workspace says how to
    promote or abort in the file. Then the owner questions the new settings answer are
    closed (:func:`leadsync.ops.rep_settle.settle_mapped_reps`; ``settle`` False: the
    caller, answering one, does it its own way), and the calls waiting for a number it
    declares the company's own are settled (:func:`leadsync.ops.line_settle.settle_declared`)."""
    with begin_writing(engine) as connection:
        config_store.lock_config(connection)
        refuse_if_managed(connection, name, rollout)
        current = workspace_config.export_on(connection)
        old = current.integrations.get(name)
        data = edit(old)
        before = yaml_text(current)
        if previewed is not None:
            proposed = workspace_config.settings_of(name, data)
            after = yaml_text(with_integration(current, name, proposed))
            if previewed != fingerprint(before, after):
                raise WorkspaceError(
                    f"the settings of {name} changed since what {rollout} would change was "
                    "shown: look at it again, then confirm"
                    if rollout is not None
                    else f"the settings of {name} changed since the preview was made (another "
                    "change was saved, or the form was edited after it): preview again, then save"
                )
        settings = workspace_config.set_integration_on(connection, name, data, new)
        diff = yaml_diff(before, yaml_text(workspace_config.export_on(connection)))
        if diff:
            was = old.model_dump(mode="json") if old is not None else {}
            summary = summarize(was, settings.model_dump(mode="json"))
            _record(connection, by, name, ("created: " if new else "") + summary, diff)
    if settle:
        settle_mapped_reps(engine, f"{by.who} ({by.role})")
    settle_declared(engine)
    return settings


def apply_config(
    engine: Engine,
    config: WorkspaceConfig,
    by: Actor | None = None,
    managed: ManagedBy | None = None,
) -> config_store.ConfigChanges:
    """Make the configuration that of ``config`` and, with ``managed``, mark the workspace
    managed by its file or not. With ``by`` (``leadsync apply``), record an entry when
    anything was written — a change, or only an order the engine does not read, which the
    export keeps (``changes.reordered``) —; without (tests, the demo), apply only. One
    transaction, the configuration held first (the entry's diff is this apply's alone).
    ``changes.settings_changed`` names ``managed_by_file`` when that changed."""
    with begin_writing(engine) as connection:
        config_store.lock_config(connection)
        before = yaml_text(workspace_config.export_on(connection)) if by is not None else ""
        changes = workspace_config.apply_on(connection, config)
        if managed is not None:
            value = {"file": managed.file} if managed.on else None
            if config_store.write_setting(connection, MANAGED_SETTING, value):
                changes.settings_changed.append(MANAGED_SETTING)
        if changes.written and by is not None:
            after = yaml_text(workspace_config.export_on(connection))
            parts = [
                f"{key.replace('_', ' ')}: {', '.join(shown)}"
                for key, items in changes.to_dict().items()
                if (shown := [item for item in items if item != MANAGED_SETTING])
            ]
            if managed is not None and MANAGED_SETTING in changes.settings_changed:
                state = f"on ({managed.file})" if managed.on else "off"
                parts.append(f"managed by file: {state}")
            if changes.reordered:
                parts.append(reordered_text(", ".join(changes.reordered)))
            _record(
                connection,
                by,
                None,
                "; ".join(parts),
                yaml_diff(before, after),
                changes.integrations,
            )
    if changes.changed:
        settle_mapped_reps(engine, f"{by.who} ({by.role})" if by is not None else "a file applied")
        settle_declared(engine)
    return changes


def reordered_text(shown: str) -> str:
    """What an apply wrote that is only an order the engine does not read, in words (the
    audit log's summary, ``leadsync apply``'s output); ``shown`` names what was reordered."""
    return f"new order kept for export (no change leadsync reads): {shown}"


def rollout_outcome(settings: IntegrationSettings, name: str, action: str) -> IntegrationSettings:
    """An integration's settings once its rollout is promoted (its proposed sections current,
    each replacing its section whole) or aborted (dropped); WorkspaceError without one."""
    if settings.rollout is None:
        raise WorkspaceError(f"integration {name} has no rollout to {action}")
    if action == "promote":
        return settings.proposed() or settings
    return settings.model_copy(update={"rollout": None})


def _rollout_change(
    engine: Engine, name: str, action: str, by: Actor, seen: str | None
) -> IntegrationSettings:
    def outcome(current: IntegrationSettings | None) -> Any:
        # None: an unknown integration, which the save refuses naming the configured ones.
        return (
            None if current is None else integration_to_dict(rollout_outcome(current, name, action))
        )

    return edit_integration(engine, name, outcome, False, by, previewed=seen, rollout=action)


def rollout_promote(
    engine: Engine, name: str, by: Actor, seen: str | None = None
) -> IntegrationSettings:
    """An integration's rollout settings become its current settings, for every record. ``seen``: the fingerprint of what was shown (:func:`leadsync.ops.rollout.plan`),
    checked in the transaction that writes."""
    return _rollout_change(engine, name, "promote", by, seen)


def rollout_abort(
    engine: Engine, name: str, by: Actor, seen: str | None = None
) -> IntegrationSettings:
    """An integration's rollout is dropped: every record gets the current settings again. ``seen``: the fingerprint of what was shown (:func:`leadsync.ops.rollout.plan`),
    checked in the transaction that writes."""
    return _rollout_change(engine, name, "abort", by, seen)


def audit_log(
    engine: Engine,
    before: int | None = None,
    integration: str | None = None,
    limit: int = AUDIT_PAGE,
) -> AuditPage:
    """A page of the audit log, newest first (see :class:`AuditPage`)."""
    with engine.connect() as connection:
        rows = audit_store.entries(connection, limit + 1, before, integration)
    entries = [AuditEntry(**row) for row in rows[:limit]]
    return AuditPage(entries=entries, older=entries[-1].id if len(rows) > limit else None)


def apply_warnings(
    engine: Engine,
    now: Mapping[str, IntegrationSettings],
    after: Mapping[str, IntegrationSettings],
    owners_from_crm: bool = False,
) -> list[str]:
    """What applying ``after`` over the integrations ``now`` leaves behind, said before it is
    done: :func:`removal_warnings`, :func:`region_warnings`, and — ``owners_from_crm``: the
    file's owners are those pulled from HubSpot — :func:`inactive_warnings` (owners a file
    lists are checked with the file)."""
    kinds = [{n: i.kind for n, i in each.items()} for each in (now, after)]
    regions = [{n: i.region for n, i in each.items()} for each in (now, after)]
    inactive = inactive_warnings(engine, after) if owners_from_crm else []
    return removal_warnings(engine, *kinds) + region_warnings(engine, *regions) + inactive


def inactive_warnings(engine: Engine, after: Mapping[str, IntegrationSettings]) -> list[str]:
    """A rep mapped by hand to an owner the workspace holds as inactive (archived in HubSpot,
    or `active: false`): allowed — an owner may come back — but it maps to nobody, as the
    file's own check says of the owners a file declares."""
    with engine.connect() as connection:
        owners = config_store.owners_by_id(connection)
    return [
        f"integrations.{name}.users.map.{rep}: owner {owner!r} is inactive in the workspace: "
        f"rep {rep} maps to nobody, and the unmapped policy decides its owner"
        for name, settings in sorted(after.items())
        for rep, owner in sorted(settings.users.map.items())
        if owner in owners and not owners[owner].active
    ]


def removal_warnings(
    engine: Engine, kinds_now: Mapping[str, str], kinds_after: Mapping[str, str]
) -> list[str]:
    """What removing integrations leaves behind, said before it is done (``apply``, its dry
    run): the records their ids name stay, named by no integration's events again; their
    events not yet applied never will be (a dead letter each, when a worker reaches it);
    and an integration added of the same kind is another one — integrations are known by
    name, so a rename makes new records for the same ids. Nothing for one that holds
    nothing. ``kinds_now``/``kinds_after``: each integration's kind, before and after."""
    removed = [name for name in kinds_now if name not in kinds_after]
    with engine.connect() as connection:
        held = views.held_by_integrations(connection, removed)
    said: list[str] = []
    for name, (records, pending) in held.items():
        kept = f"the {counted(records, 'record')} its ids name stay" if records else ""
        lost = (
            f"its {counted(pending, 'event')} not yet applied will not be (a dead letter each)"
            if pending
            else ""
        )
        alike = [
            n for n, kind in kinds_after.items() if n not in kinds_now and kind == kinds_now[name]
        ]
        renamed = (
            f"; {', '.join(alike)}, added with the same kind, does not take over its ids: its "
            f"events make new records for them (integrations are known by their name; to "
            f"rename it, keep {name}'s name)"
            if alike
            else ""
        )
        said.append(
            f"integration {name} is removed: {' and '.join(filter(None, (kept, lost)))}{renamed}"
        )
    return said


def region_warnings(
    engine: Engine, regions_now: Mapping[str, str | None], regions_after: Mapping[str, str | None]
) -> list[str]:
    """A ``region:`` set or changed while the phone index holds numbers that do not read as
    one: the region reads the numbers events give from now on; those stored stay as they
    were read — said before it is done, with how many."""
    changed = [
        n for n, region in regions_after.items() if n in regions_now and region != regions_now[n]
    ]
    if not changed:
        return []
    with engine.connect() as connection:
        unreadable, _ = review_store.unreadable_phones(connection, 0)
    if not unreadable:
        return []
    said = ", ".join(
        f"{n} ({regions_now[n] or 'none'} → {regions_after[n] or 'none'})" for n in changed
    )
    return [
        f"region changes for {said}: it reads the numbers events give from now on; the "
        f"{counted(unreadable, 'phone number')} of contacts and leads stored that "
        f"{agreeing(unreadable, 'does', 'do')} not read as a number "
        f"{agreeing(unreadable, 'stays', 'stay')} as read, and no call is matched by "
        f"{agreeing(unreadable, 'it', 'them')} (report: unreadable_numbers lists "
        f"{agreeing(unreadable, 'it', 'them')})"
    ]
