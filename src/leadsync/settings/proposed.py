"""Proposed settings for one integration (``preview``/``replay --settings``, the admin API):
a whole workspace file that replaces, or part of one that amends the current settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from leadsync.errors import ConfigError
from leadsync.model import ActivityType
from leadsync.settings.base import (
    KeyPath,
    Written,
    format_path,
    given_fields,
    key_text,
    listing,
    show,
)
from leadsync.settings.errors import Place, annotation_at, unwrap_annotation, validate_as
from leadsync.settings.export import config_to_dict, integration_to_dict
from leadsync.settings.integration import KNOWN_KINDS, IntegrationSettings
from leadsync.settings.loading import parse_yaml, read_text
from leadsync.settings.workspace import WorkspaceConfig
from leadsync.sources import adapter_class

__all__ = ["ProposedIntegration", "load_proposed", "load_proposed_file", "proposed_from_data"]

_PARTIAL_HINT = (
    "a whole workspace file (owners and integrations) or one integration's settings, "
    "whole or in part"
)
_NOTE_WHOLE = " (in the workspace: preview and replay decide with its owners and teams)"


@dataclass(frozen=True)
class ProposedIntegration:
    """Proposed settings for one integration (``preview``/``replay --settings``), read from
    a file or an API body, and how.

    A **whole** workspace file (one with both ``owners`` and ``integrations``, as ``apply``
    takes) *replaces*: its entry for the integration is the proposal, checked as ``apply``
    checks the file. Anything else is **partial** and *amends* the current settings: one
    integration's settings (``ownership: ...`` at the top) or ``integrations: {NAME: ...}``.
    Amending merges mappings key by key (``users.map`` gains or changes entries, a section
    keeps the keys it does not name); a list or a value replaces; ``null`` puts a key back to
    its default; ``users.unmapped`` with a ``policy`` replaces the whole block (its targets
    follow the policy); an activity type's ``true``/``false`` means ``{enabled: ...}``.
    Either way the result is checked against the workspace (owners and teams it names must
    exist there), and problems are reported as ``apply`` reports them, at the file's lines
    and key paths.
    """

    integration: str
    settings: IntegrationSettings
    source: str
    whole: bool
    sections: tuple[str, ...] = ()
    """The key paths a partial file sets (``integrations.dialer.ownership``)."""

    def describe(self) -> str:
        """One line saying how the proposal was read, for the output."""
        if self.whole:
            return (
                f"settings: {self.source} is a whole workspace file; it replaces the current "
                f"settings of integrations.{self.integration}"
            )
        changed = ", ".join(self.sections) or "nothing changed"
        return f"settings: {self.source} merged over the current settings ({changed})"


def load_proposed(
    text: str, source: str, integration: str, current: WorkspaceConfig | None
) -> ProposedIntegration:
    """Proposed settings for ``integration`` from YAML text, amending (partial) or replacing
    (whole) its settings in ``current`` (see :class:`ProposedIntegration`). Read as ``apply``
    reads a file: duplicate keys refused, every problem at once with its line."""
    data, lines, duplicates = parse_yaml(text, source)
    return _proposed(data, Place(source, lines), duplicates, integration, current)


def load_proposed_file(
    path: str | Path, integration: str, current: WorkspaceConfig | None
) -> ProposedIntegration:
    """:func:`load_proposed` of a file; a missing or unreadable file is a ConfigError."""
    return load_proposed(read_text(path), str(path), integration, current)


def proposed_from_data(
    data: Any, source: str, integration: str, current: WorkspaceConfig | None
) -> ProposedIntegration:
    """:func:`load_proposed` of plain data (an API body); key paths are the workspace's
    (``integrations.NAME.ownership.default``), as the admin API says them elsewhere."""
    return _proposed(data, Place(source, None), [], integration, current, api=True)


def _proposed(
    data: Any,
    place: Place,
    duplicates: list[tuple[int, str]],
    name: str,
    current: WorkspaceConfig | None,
    api: bool = False,
) -> ProposedIntegration:
    problems: list[tuple[int, str]] = []

    def refused() -> ConfigError:
        found = sorted([*duplicates, *problems], key=lambda item: item[0])
        return ConfigError([text for _, text in found])

    if data is None:
        problems.append(place.problem((), f"no settings; expected {_PARTIAL_HINT}"))
        raise refused()
    if not isinstance(data, dict):
        problems.append(place.problem((), f"expected a mapping: {_PARTIAL_HINT}; got {show(data)}"))
        raise refused()
    where: KeyPath = ("integrations", name)
    if "owners" in data and "integrations" in data:
        return _whole(data, place, duplicates, name, current)
    entry: Any = data
    document: KeyPath = ()
    if "integrations" in data:
        for key in data:
            if key != "integrations":
                problems.append(
                    place.problem(
                        (key_text(key),),
                        f"not read from a partial settings file (one without owners): only "
                        f"integrations.{name} is; a whole workspace file has owners and "
                        "integrations",
                    )
                )
        found = given_fields(data["integrations"]) or {}
        key = next((k for k in found if key_text(k) == name), None)
        if key is None:
            # Each integration it names instead, where it is: a misspelled name is found
            # at its own line, not at the integrations key.
            for other in found:
                problems.append(
                    place.problem(
                        ("integrations", key_text(other)),
                        f"not the integration proposed for; allowed: {name} (a partial "
                        "settings file holds the keys of that one integration)",
                    )
                )
            if not found:
                problems.append(place.problem(("integrations",), f"has no integration {name!r}"))
            raise refused()
        entry, document = found[key], where
    if not isinstance(entry, dict) or not entry:
        if isinstance(entry, dict):  # {}: a mapping, but of nothing to propose
            why = (
                "expected the keys to change (e.g. ownership: {default: integration_wins}); got {}"
            )
        else:
            got = show(entry) if entry else "nothing"
            why = f"expected the integration's settings (a mapping); got {got}"
        problems.append(place.problem(document, why))
    before = current.integrations.get(name) if current is not None else None
    if isinstance(entry, dict) and entry:
        kind = entry.get("kind") or (before.kind if before is not None else None)
        options = adapter_class(kind).options_model if kind in KNOWN_KINDS else None
        for path, message in _unknown_keys(entry, options):
            problems.append(place.problem((*document, *path), message))
    if problems:
        raise refused()
    base = integration_to_dict(before) if before is not None else {}
    merged = _amend(base, entry, ())
    shown = where if api else document
    if current is None:
        located = Place(place.source, place.lines, moved=((), shown))
        settings = validate_as(IntegrationSettings, merged, located, duplicates)
    else:
        workspace = config_to_dict(current)
        workspace["integrations"] = {**workspace.get("integrations", {}), name: merged}
        located = Place(
            place.source, place.lines, moved=(where, shown), unwritten="in the current settings"
        )
        settings = validate_as(
            WorkspaceConfig, workspace, located, duplicates, Written.only([name])
        ).integrations[name]
    sections = tuple(
        f"integrations.{name}.{format_path((key_text(key),))}"
        for key, value in entry.items()
        if not (key == "kind" and value == base.get("kind"))
    )
    return ProposedIntegration(name, settings, place.source, whole=False, sections=sections)


def _whole(
    data: dict[Any, Any],
    place: Place,
    duplicates: list[tuple[int, str]],
    name: str,
    current: WorkspaceConfig | None,
) -> ProposedIntegration:
    """A whole workspace file: checked as ``apply`` checks it, then its entry for ``name``
    against the workspace's owners and teams, which decide a preview or replay."""
    config = validate_as(WorkspaceConfig, data, place, duplicates, Written())
    settings = config.integrations.get(name)
    if settings is None:
        _, text = place.problem(("integrations",), f"has no integration {name!r}")
        raise ConfigError([text])
    if current is not None:
        entry = next(v for k, v in data["integrations"].items() if key_text(k) == name)
        workspace = config_to_dict(current)
        workspace["integrations"] = {**workspace.get("integrations", {}), name: entry}
        where: KeyPath = ("integrations", name)
        located = Place(place.source, place.lines, moved=(where, where), note=_NOTE_WHOLE)
        settings = validate_as(
            WorkspaceConfig, workspace, located, written=Written.only([name])
        ).integrations[name]
    return ProposedIntegration(name, settings, place.source, whole=True)


_ABSENT: Any = object()

# Every key of an integration's settings with its default (none for kind, vendor and a
# rollout: required, the kind's own, or a proposal whose sections replace whole).
_DEFAULTS: dict[str, Any] = {
    key: value
    for key, value in IntegrationSettings(kind="generic").model_dump(mode="json").items()
    if key not in ("kind", "vendor", "rollout")
}


def _default_at(path: KeyPath) -> Any:
    """The default of the key at ``path`` of an integration's settings (``_ABSENT``: none)."""
    value: Any = _DEFAULTS
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _unknown_keys(
    change: Any, vendor: type[BaseModel] | None, path: KeyPath = ()
) -> Iterator[tuple[KeyPath, str]]:
    """Keys of a proposal no settings have, set to null or to nothing, at any depth
    (``vendor``: the kind's options model, whose keys the ``vendor:`` block takes), with what
    is allowed there. The merge leaves such a key out (it takes its default), so the checks
    of the merged settings never see it: a misspelled ``activites:`` left empty was taken,
    and said to be merged. One with a value is theirs to refuse, in their words."""
    if not isinstance(change, dict):
        return
    if path[:1] == ("vendor",):
        model: Any = vendor if len(path) == 1 else None  # an option's own value: its check's
    elif path:
        model = unwrap_annotation(annotation_at(IntegrationSettings, path))
    else:
        model = IntegrationSettings
    fixed = isinstance(model, type) and issubclass(model, BaseModel)
    for key, value in change.items():
        text = key_text(key).strip()
        if fixed and text not in model.model_fields:
            if value is None or value in ({}, [], ""):  # left out by the merge, so unseen
                yield (*path, text), f"unknown key; allowed: {listing(model.model_fields)}"
        elif fixed:
            yield from _unknown_keys(value, vendor, (*path, text))


def _amend(base: Any, change: Any, path: KeyPath, written: Any = _ABSENT) -> Any:
    """``change`` over ``base`` by the rules of :class:`ProposedIntegration`. A key the
    change sets to its default (or to an empty section) is left unwritten, as ``null``
    leaves it, unless the current settings write that very value (``written``: the current
    value at ``path``): the console sends its whole form, and what a person left as it was
    must neither become written keys (the export and its YAML diff would grow with defaults
    nobody chose) nor lose the ones the file wrote."""
    written = base if written is _ABSENT else written
    if len(path) in (2, 4) and path[-2] == "activities" and path[-1] in set(ActivityType):
        # An activity type's true/false is {enabled: ...}: it keeps the filters.
        base, change, written = (
            {"enabled": value} if isinstance(value, bool) else value
            for value in (base, change, written)
        )
    if isinstance(change, list) and _same_items(change, base):
        return base  # the items written, in the order written (the form sends its own order)
    if not isinstance(change, dict):
        return change
    if not isinstance(base, dict) or (path[-1:] == ("unmapped",) and "policy" in change):
        base = {}
    out = dict(base)
    for key, value in change.items():
        text = key_text(key).strip()
        same = next((k for k in out if key_text(k).strip() == text), _ABSENT)
        old = _ABSENT if same is _ABSENT else out[same]
        was = next(
            (
                v
                for k, v in (written.items() if isinstance(written, dict) else ())
                if key_text(k).strip() == text
            ),
            _ABSENT,
        )
        new = (
            None
            if value is None
            else _amend({} if old is _ABSENT else old, value, (*path, text), was)
        )
        kept = was is not _ABSENT and was == new  # written so already: stays written
        default = new in ({}, _default_at((*path, text))) and path[:1] != ("rollout",)
        if new is None or (default and not kept):
            # null, or put back to its default: the key is left out (it takes its default)
            if same is not _ABSENT:
                del out[same]
        elif same is _ABSENT or same == key:
            out[key] = new  # a new key after those written; a written one stays in its place
        else:  # spelled otherwise: renamed where it was (a map keeps the file's order)
            out = {(key if k == same else k): (new if k == same else v) for k, v in out.items()}
    return out


def _same_items(change: list[Any], base: Any) -> bool:
    """Whether two lists hold the same items, in any order."""
    if not isinstance(base, list) or len(base) != len(change):
        return False

    def key(item: Any) -> str:
        return json.dumps(item, sort_keys=True, default=str)

    try:
        return sorted(map(key, change)) == sorted(map(key, base))
    except TypeError:
        return False
