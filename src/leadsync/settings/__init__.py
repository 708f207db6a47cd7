"""Workspace configuration as code: the schema, YAML loading with precise errors, and export.

A workspace is configured by one YAML document (owners, teams, integrations). People edit it
by hand, so every problem is reported at once as ``FILE:LINE: KEY.PATH: what; allowed: ...``.
The same schema reads integration settings back from the database (:func:`integration_from_dict`)
and writes them out again (:func:`config_to_dict`, :func:`dump_config`) in the shape people wrote.

The package, by concern (each module imports only those above it):

- :mod:`.base` — the base model (immutable, unknown keys refused, the file's short form when
  dumped), field types, problems as ``(key path, message)``;
- :mod:`.integration` — one integration's settings, its kind's ``vendor:`` options (the model
  its adapter declares, :mod:`leadsync.sources.options`), a staged rollout;
- :mod:`.checks` — checks across the file (unique owners, references, dedupe rules);
- :mod:`.workspace` — the whole file: owners, teams, monitoring, destination, dedupe,
  free-mail overrides;
- :mod:`.errors` — pydantic's errors as ``FILE:LINE: key.path: message``;
- :mod:`.loading` — YAML and plain data in; :mod:`.export` — the file's shape out;
- :mod:`.proposed` — proposed settings for preview and replay.
"""

from __future__ import annotations

from leadsync.settings.base import INTEGRATION_NAME_RE, SECRET_ENV_RE
from leadsync.settings.errors import PlacedLater
from leadsync.settings.export import (
    config_to_dict,
    dedupe_to_list,
    destination_to_dict,
    dump_config,
    free_mail_to_dict,
    integration_to_dict,
    monitoring_to_dict,
    whole_numbers,
)
from leadsync.settings.integration import (
    KNOWN_KINDS,
    ActivitySettings,
    ActivityTypeSettings,
    Ambiguity,
    AmbiguitySettings,
    AssociationSettings,
    CounterpartPolicy,
    DirectoryUser,
    IntegrationSettings,
    OwnershipSettings,
    ProposedSettings,
    RolloutSettings,
    UnknownCounterpartSettings,
    UnmappedSettings,
    UserMappingSettings,
    kinds_taking,
)
from leadsync.settings.loading import (
    STDIN,
    config_from_dict,
    dedupe_from_list,
    destination_from_dict,
    file_place,
    integration_from_dict,
    load_config,
    load_config_file,
    read_stdin,
)
from leadsync.settings.proposed import (
    ProposedIntegration,
    load_proposed,
    load_proposed_file,
    proposed_from_data,
)
from leadsync.settings.workspace import (
    DEFAULT_HUBSPOT_API_VERSION,
    HUBSPOT_API_VERSION_RE,
    DedupeRule,
    DestinationSettings,
    FreeMailSettings,
    MonitoringSettings,
    OwnersFromCrm,
    OwnerSpec,
    RateLimits,
    WorkspaceConfig,
)
from leadsync.sources.options import VendorOptions

__all__ = [
    "STDIN",
    "DEFAULT_HUBSPOT_API_VERSION",
    "HUBSPOT_API_VERSION_RE",
    "INTEGRATION_NAME_RE",
    "KNOWN_KINDS",
    "SECRET_ENV_RE",
    "ActivitySettings",
    "ActivityTypeSettings",
    "Ambiguity",
    "AmbiguitySettings",
    "AssociationSettings",
    "DedupeRule",
    "DestinationSettings",
    "DirectoryUser",
    "FreeMailSettings",
    "IntegrationSettings",
    "MonitoringSettings",
    "OwnerSpec",
    "OwnersFromCrm",
    "OwnershipSettings",
    "ProposedIntegration",
    "ProposedSettings",
    "RateLimits",
    "RolloutSettings",
    "CounterpartPolicy",
    "UnknownCounterpartSettings",
    "UnmappedSettings",
    "UserMappingSettings",
    "VendorOptions",
    "WorkspaceConfig",
    "config_from_dict",
    "config_to_dict",
    "dedupe_from_list",
    "dedupe_to_list",
    "destination_from_dict",
    "destination_to_dict",
    "dump_config",
    "free_mail_to_dict",
    "integration_from_dict",
    "integration_to_dict",
    "whole_numbers",
    "kinds_taking",
    "file_place",
    "load_config",
    "load_config_file",
    "read_stdin",
    "load_proposed",
    "load_proposed_file",
    "monitoring_to_dict",
    "proposed_from_data",
    "PlacedLater",
]
