"""A settings form sent from a page opened before another change to the same settings was
saved (a stale tab): what that other change was, and the admin's own edits put over the
settings as they are now, for the page to show again — nothing is saved.

The settings page carries the settings it was filled from (:func:`loaded_text`) and their
digest (:func:`loaded_digest`); a preview or a save whose digest is not the current
settings' is refused, and :func:`rebase` reads the form as edits of the settings it was
filled from: each key path where the form differs from them is the admin's edit. The edits
are read over the current settings as the admin API reads partial settings
(:func:`~leadsync.settings.proposed.proposed_from_data`: checked against the workspace), so
every key the admin did not touch keeps its current value and the other change stands. A
key both changed keeps the admin's value (and is named, so the admin sees it); an edit
inside a section the other change removed (a rollout promoted meanwhile) is not kept (named
too). The users' unmapped block is one value: its policy decides its owner or team.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import Engine

from leadsync import workspace_config
from leadsync.errors import ConfigError
from leadsync.ops.settings_change import changed_keys, summary_of, with_integration
from leadsync.ops.settings_form import Form, change_from_form
from leadsync.settings import IntegrationSettings, integration_to_dict
from leadsync.settings.proposed import proposed_from_data

#: Blocks read as one value: the unmapped policy with the owner or the team it takes.
WHOLE = (("users", "unmapped"),)
#: Where a form's problems are said to come from (the settings page's own).
SOURCE = "<console>"

Path = tuple[str, ...]


def loaded_text(settings: IntegrationSettings) -> str:
    """The settings a page's form is filled from, as the form carries them (the file's keys,
    in their stored order: an order changed is a change too)."""
    return json.dumps(integration_to_dict(settings), default=str)


def loaded_digest(settings: IntegrationSettings) -> str:
    """What the form was filled from, in a few characters (the form's ``loaded``): a preview
    or a save from a page opened before another change was saved is refused, not made from
    the page's older settings (which would undo that change as if it were this admin's)."""
    return _digest(loaded_text(settings))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Rebased:
    """A stale form read again: ``other``, the change saved meanwhile (``path: old → new;
    …``; None: the page did not carry what it was filled from); ``edits``, the admin's own
    kept in the form (the same words; '' when none); ``settings``, the current settings with the edits on top
    (None when they could not be read: ``error`` says why, or ``other`` is unknown);
    ``both``, the key paths both changed (the form has the admin's value); ``lost``, those of
    edits inside a section the other change removed."""

    other: str | None
    edits: str = ""
    settings: IntegrationSettings | None = None
    both: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    error: ConfigError | None = None


def _leaves(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every key path of a settings dump with its value; a block of :data:`WHOLE` is one."""
    if isinstance(value, dict) and path not in WHOLE:
        for key, item in value.items():
            yield from _leaves(item, (*path, str(key)))
    else:
        yield path, value


def _at(dump: Mapping[str, Any], path: Path) -> Any:
    """The value at ``path``; None when a block on the way is not set."""
    value: Any = dump
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[Path, Any]:
    """Each leaf of ``after`` that differs from ``before``'s (one gone: None)."""
    old, new = dict(_leaves(before)), dict(_leaves(after))
    return {path: new.get(path) for path in {**old, **new} if old.get(path) != new.get(path)}


def _partial(edits: Mapping[Path, Any]) -> dict[str, Any]:
    """The edits as partial settings (a key gone is null: its default, or out of a map)."""
    data: dict[str, Any] = {}
    for path, value in edits.items():
        block = data
        for key in path[:-1]:
            block = block.setdefault(key, {})
        block[path[-1]] = value
    return data


def _carried(name: str, fields: Form, carried: str) -> IntegrationSettings | None:
    """The settings the form says it was filled from; None when it carries none, or not
    those its ``loaded`` digest names."""
    sent = (fields.get("loaded") or [""])[-1]
    if not carried or _digest(carried) != sent:
        return None
    try:
        return workspace_config.settings_of(name, json.loads(carried))
    except (ConfigError, ValueError):
        return None


def rebase(engine: Engine, name: str, fields: Form, carried: str) -> Rebased:
    """The form ``fields`` of integration ``name``, filled from the settings ``carried``
    (:func:`loaded_text`), read as edits over the current settings; nothing is written.
    Without what it was filled from, only checked over the current settings (``error``)."""
    config = workspace_config.export_config(engine)
    current = config.integrations[name]
    base = _carried(name, fields, carried) or current
    known = base is not current
    was, now = base.model_dump(mode="json"), current.model_dump(mode="json")
    theirs_keys = changed_keys(was, now)  # none: only the order they are written in
    other = (summary_of(theirs_keys) if theirs_keys else "") if known else None
    try:
        mine = change_from_form(fields, base.vendor, name).read(
            lambda data: proposed_from_data(
                data, SOURCE, name, with_integration(config, name, base)
            )
        )
    except ConfigError as exc:
        return Rebased(other=other, error=exc)
    if not known:
        return Rebased(other=None)
    wanted = mine.settings.model_dump(mode="json")
    edits, theirs = _changes(was, wanted), _changes(was, now)
    # An edit inside a block the other change removed (a rollout promoted meanwhile).
    lost = [p for p in edits if _at(was, p[:-1]) is not None and _at(now, p[:-1]) is None]
    both = [p for p in edits if p in theirs and edits[p] != theirs[p] and p not in lost]
    kept = {p: value for p, value in edits.items() if p not in lost}
    both_paths, lost_paths = (tuple(".".join(p) for p in ps) for ps in (both, lost))
    shown = [c for c in changed_keys(was, wanted) if c.path not in lost_paths]
    edited = summary_of(shown) if shown else ""
    rebased = Rebased(other, edited, both=both_paths, lost=lost_paths)
    if not kept:  # no edit, or none the other change left a place for
        return replace(rebased, settings=current)
    try:
        merged = proposed_from_data(_partial(kept), SOURCE, name, config).settings
    except ConfigError as exc:
        return replace(rebased, error=exc)
    return replace(rebased, settings=merged)
