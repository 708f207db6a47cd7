"""Settings out, in the shape people write: ``leadsync export``, the database, the admin API.

The shape is the models' own dump (``model_dump(mode="json", exclude_unset=True)``): keys
in the order the models declare them, the keys of a mapping people name (teams,
integrations, a ``users.map``) and every list in the order written (the store keeps it:
:mod:`leadsync.store.config`), the keys written kept (a value equal to its default too:
``api_version: "2026-03"`` written pins it, where left out it follows leadsync's default) and
the others left out, secrets never there (only the names of the variables that hold them).
What is stored is this shape, so the export of a workspace writes back what its file, the
admin API or the console wrote (owners excepted: their columns cannot tell a name or
``active: true`` written from a default, so those are left out). The few choices a file
reader expects are declared on the models
(:meth:`~leadsync.settings.base.SettingsModel._short_form`: an activity type that is only on
or off is ``true``/``false``, a dedupe rule shows its window and preferred integration, a
destination its ``token_env``), and one is made here for every number: whole numbers are
written without ``.0``, as people wrote ``14``, not ``14.0``.
:func:`~leadsync.settings.loading.load_config` reads the output back to an equal config.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import BaseModel

from leadsync.settings.integration import IntegrationSettings
from leadsync.settings.workspace import (
    DedupeRule,
    DestinationSettings,
    FreeMailSettings,
    MonitoringSettings,
    WorkspaceConfig,
)

__all__ = [
    "config_to_dict",
    "dedupe_to_list",
    "destination_to_dict",
    "dump_config",
    "free_mail_to_dict",
    "integration_to_dict",
    "monitoring_to_dict",
    "whole_numbers",
]


def whole_numbers(value: Any) -> Any:
    """``value`` with whole floats as ints (below 2**53, where a float is exact)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def _exported(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = whole_numbers(model.model_dump(mode="json", exclude_unset=True))
    return data


def config_to_dict(config: WorkspaceConfig) -> dict[str, Any]:
    """The workspace in the file's shape: plain JSON-able types, keys in a stable order."""
    return _exported(config)


def integration_to_dict(settings: IntegrationSettings) -> dict[str, Any]:
    """One integration in the file's shape: the keys written, the others left out."""
    return _exported(settings)


def monitoring_to_dict(monitoring: MonitoringSettings) -> dict[str, Any]:
    """The thresholds written."""
    return _exported(monitoring)


def destination_to_dict(destination: DestinationSettings) -> dict[str, Any]:
    """The destination block: kind and token_env always, the rest where written."""
    return _exported(destination)


def dedupe_to_list(rules: Sequence[DedupeRule]) -> list[dict[str, Any]]:
    """The dedupe rules, each with its window and preferred integration."""
    return [_exported(rule) for rule in rules]


def free_mail_to_dict(free_mail: FreeMailSettings) -> dict[str, Any]:
    """The free-mail overrides: the lists that are not empty."""
    return _exported(free_mail)


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, minus a round-trip bug with Unicode line breaks."""


# What YAML 1.2's core schema reads as a number and PyYAML (YAML 1.1) writes unquoted: ``1e3``
# (1.1 wants a dot in a float), ``0o17``. Quoted, the file says text to yq, ruamel and Go's
# yaml.v3 too, which read it as the number 1000 when the file is edited in git.
_YAML12_NUMBER = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+"
)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # With allow_unicode, PyYAML writes U+0085 (NEL) raw into a single-quoted scalar, where the
    # reader folds it; double quotes make the emitter escape it (``\N``).
    style: str | None = '"' if any(ch in data for ch in "\x85\u2028\u2029") else None
    if style is None and _YAML12_NUMBER.fullmatch(data):
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_config(config: WorkspaceConfig) -> str:
    """YAML text that :func:`~leadsync.settings.loading.load_config` reads back to an equal
    config."""
    return yaml.dump(
        config_to_dict(config),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
