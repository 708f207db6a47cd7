"""Workspace configuration as code: the schema, YAML loading with precise errors, and export.

A workspace is configured by one YAML document (owners, teams, integrations). People edit it
by hand, so every problem is reported at once as ``FILE:LINE: KEY.PATH: what; allowed: ...``.
The same schema reads integration settings back from the database (:func:`integration_from_dict`)
and writes them out again (:func:`config_to_dict`, :func:`dump_config`) in the shape people wrote.
"""

from __future__ import annotations

import enum
import re
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from leadsync.errors import ConfigError
from leadsync.model import (
    CALL_OUTCOMES,
    INTEGRATION_KINDS,
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
from leadsync.values import normalize_email, valid_email

__all__ = [
    "KNOWN_KINDS",
    "MonitoringSettings",
    "ActivitySettings",
    "ActivityTypeSettings",
    "AssociationSettings",
    "DedupeRule",
    "DestinationSettings",
    "OwnersFromCrm",
    "DirectoryUser",
    "IntegrationSettings",
    "OwnerSpec",
    "OwnershipSettings",
    "UnmappedSettings",
    "UserMappingSettings",
    "WorkspaceConfig",
    "config_from_dict",
    "config_to_dict",
    "dedupe_from_list",
    "dedupe_to_list",
    "dump_config",
    "integration_from_dict",
    "integration_to_dict",
    "ProposedIntegration",
    "load_config",
    "load_config_file",
    "load_proposed",
    "load_proposed_file",
    "proposed_from_data",
]

KNOWN_KINDS: tuple[str, ...] = INTEGRATION_KINDS
"""Vendor kinds that have an adapter; an integration of any other kind could never run."""

_ORG_ID_RE = re.compile(r"^00D[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
SECRET_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

INTEGRATION_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
"""Integration names appear in URLs and table rows, so they are kept URL- and shell-safe."""

_MAX_LISTED = 20
"""Cap on the known values a message lists, so a large workspace still gets a readable line."""

# Error types of our own; their messages are final text, never reworded.
_OWN_ERROR = "leadsync"
_OWN_PROBLEMS = "leadsync_problems"

PathPart = str | int
KeyPath = tuple[PathPart, ...]
_M = TypeVar("_M", bound=BaseModel)


# ------------------------------------------------------------------------ helpers


def _show(value: Any) -> str:
    """A value as people wrote it in YAML, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _listing(values: Any, limit: int = _MAX_LISTED) -> str:
    items = [str(v) for v in values]
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", ... ({len(items) - limit} more)"
    return ", ".join(items)


def _own_error(message: str) -> PydanticCustomError:
    """A validation error whose message is shown as written."""
    return PydanticCustomError(_OWN_ERROR, "{message}", {"message": message})


def _problems_error(problems: list[tuple[KeyPath, str]]) -> PydanticCustomError:
    """Several problems found by one model check, each at its own key path below the model."""
    summary = "; ".join(f"{_format_path(path) or '(here)'}: {msg}" for path, msg in problems)
    return PydanticCustomError(
        _OWN_PROBLEMS, "{message}", {"message": summary, "problems": problems}
    )


def _key_text(key: Any) -> str:
    """A mapping key as text in a key path; YAML spellings for the odd non-string keys."""
    if isinstance(key, bool) or key is None:
        return _show(key)
    return str(key)


def _format_path(path: KeyPath) -> str:
    """``a.b[2].c``; keys that would read ambiguously are quoted (``map["u.9"]``)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", part):
            out += f".{part}" if out else part
        else:
            out += '["' + part.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return out


def _with_problems(
    exc: ValidationError, problems: list[tuple[KeyPath, str]], title: str, data: Any
) -> ValidationError:
    """The errors pydantic found, and the problems of the checks across keys, as one error."""
    details: list[InitErrorDetails] = []
    for error in exc.errors(include_url=False):
        context = dict(error.get("ctx") or {})
        context.setdefault("message", error["msg"])
        details.append(
            InitErrorDetails(
                type=PydanticCustomError(error["type"], "{message}", context),
                loc=error["loc"],
                input=error["input"],
            )
        )
    details.append(InitErrorDetails(type=_problems_error(problems), loc=(), input=data))
    return ValidationError.from_exception_data(title, details)


def _fields(value: Any) -> Mapping[str, Any] | None:
    """A mapping as given (YAML, JSON), or the fields set on a model built in code; None for
    anything else. The checks across keys read data through this, before it is validated."""
    if isinstance(value, dict):
        return value
    if isinstance(value, BaseModel):
        return {name: getattr(value, name) for name in value.model_fields_set}
    return None


def _entries(value: Any) -> list[Any]:
    """The items of a list as given; nothing for anything else (its own error says so)."""
    return list(value) if isinstance(value, list | tuple) else []


def _id_text(value: Any) -> str | None:
    """An id (or name) as validation will make it, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def _to_id(value: Any) -> Any:
    """Ids are text; YAML turns ``id: 101`` into an int, which people mean as text."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _own_error(f"expected an id (text or a whole number); got {_show(value)}")
    return str(value)


def _to_name(value: Any) -> Any:
    """Names (teams) are text; a number is taken as its text, like ids."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _own_error(f"expected a name (text); got {_show(value)}")
    return str(value)


def _check_email(value: Any) -> Any:
    """An email address as :func:`leadsync.values.valid_email` takes it; kept as written."""
    if isinstance(value, str) and not valid_email(value):
        rule = "no spaces" if len(value.split()) > 1 else "one '@'"
        raise _own_error(f"expected an email address with {rule}; got {_show(value)}")
    return value


def _env_var_name(value: str, example: str) -> str:
    """The name of the environment variable that holds a secret (never the secret)."""
    if not SECRET_ENV_RE.match(value):
        raise _own_error(
            f"{_show(value)} is not an environment variable name; allowed: letters, digits "
            f"and _, not starting with a digit (e.g. {example})"
        )
    return value


def _check_integration_name(value: Any) -> Any:
    if not isinstance(value, str) or not INTEGRATION_NAME_RE.fullmatch(value):
        raise _own_error(
            f"{_show(value)} is not a valid integration name; allowed: lowercase letters, "
            "digits, '_' and '-', starting with a letter or digit, at most 63 characters"
        )
    return value


_Text = Annotated[str, StringConstraints(strip_whitespace=True)]
_Id = Annotated[
    str, BeforeValidator(_to_id), StringConstraints(strip_whitespace=True, min_length=1)
]
_Name = Annotated[
    str, BeforeValidator(_to_name), StringConstraints(strip_whitespace=True, min_length=1)
]
_Email = Annotated[str, BeforeValidator(_check_email), StringConstraints(strip_whitespace=True)]
_IntegrationName = Annotated[str, BeforeValidator(_check_integration_name)]
_Outcome = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1)]
_Bool = Annotated[bool, Field(strict=True)]


class _Settings(BaseModel):
    """Base of every settings model: immutable, and unknown keys are errors (typos matter).

    Checks that relate several keys (a policy and its target, owners a team names) are
    :meth:`_problems_across_keys`: they read the data as given and run whether or not its
    fields are valid, so one mistake never hides another and a file's problems are all
    reported at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    # Container keys where an empty YAML value (``users:`` with everything commented out)
    # means "use the default" rather than a type error.
    _null_is_default: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_null_containers(cls, data: Any) -> Any:
        if isinstance(data, dict) and cls._null_is_default:
            return {k: v for k, v in data.items() if not (v is None and k in cls._null_is_default)}
        return data

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        """Problems between keys of this mapping, at key paths below it. ``data`` is not
        validated yet: a value of the wrong shape is skipped (its own error says what is
        wrong), and nothing is reported that follows only from another mistake."""
        return iter(())

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        problems = list(cls._problems_across_keys(data)) if isinstance(data, dict) else []
        try:
            result = handler(data)
        except ValidationError as exc:
            if not problems:
                raise
            raise _with_problems(exc, problems, cls.__name__, data) from None
        if problems:
            raise _problems_error(problems)
        return result


# ------------------------------------------------------------------------- schema


class OwnerSpec(_Settings):
    """A CRM owner as declared in the workspace file."""

    id: _Id
    email: _Email
    first_name: _Text = ""
    last_name: _Text = ""
    active: _Bool = True


class DirectoryUser(_Settings):
    """An external user the tool knows; its email lets auto-matching find the owner."""

    id: _Id
    email: _Text | None = None
    name: _Text | None = None


class UnmappedSettings(_Settings):
    """What to do with an external user that maps to no owner."""

    policy: UnmappedPolicy = UnmappedPolicy.LEAVE
    owner: _Id | None = None
    team: _Name | None = None

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        try:
            policy = UnmappedPolicy(data.get("policy", UnmappedPolicy.LEAVE))
        except ValueError:
            return  # not a policy: its own error
        needed = {
            UnmappedPolicy.LEAVE: None,
            UnmappedPolicy.FALLBACK: "owner",
            UnmappedPolicy.ROUND_ROBIN: "team",
        }[policy]
        for key in ("owner", "team"):
            given = data.get(key) is not None
            if key == needed and not given:
                yield (key,), f"required when policy is {policy.value}"
            elif key != needed and given:
                allowed = f"allowed: {needed}" if needed else "it takes no owner or team"
                yield (key,), f"not allowed when policy is {policy.value}; {allowed}"


def _id_as_given(record_type: str | None, value: str) -> str:
    return value


class UserMappingSettings(_Settings):
    """How the tool's users become CRM owners: explicit map first, then auto-match."""

    _null_is_default = frozenset({"map", "directory", "unmapped"})

    auto_match: AutoMatch = AutoMatch.EMAIL
    map: dict[_Id, _Id] = Field(default_factory=dict)
    directory: tuple[DirectoryUser, ...] = ()
    unmapped: UnmappedSettings = UnmappedSettings()

    _emails: dict[str, str | None] = PrivateAttr(default_factory=dict)
    _targets: dict[str, str] = PrivateAttr(default_factory=dict)
    # (record type, id) -> the vendor's canonical id; a named function or a classmethod, so
    # that two equal settings compare equal.
    _canonical: Callable[[str | None, str], str] | None = PrivateAttr(default=None)

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        first: dict[str, int] = {}
        for index, user in enumerate(_entries(data.get("directory"))):
            fields = _fields(user)
            user_id = _id_text(fields.get("id")) if fields is not None else None
            if user_id is None:
                continue
            if user_id in first:
                yield (
                    ("directory", index, "id"),
                    f"duplicate directory id {user_id!r} (also directory[{first[user_id]}])",
                )
            else:
                first[user_id] = index

    def model_post_init(self, context: Any, /) -> None:
        self.index_ids(_id_as_given)

    def index_ids(self, canonical: Callable[[str | None, str], str]) -> None:
        """Index the map and the directory by the vendor's canonical form of a user id (a
        Salesforce 15-character id is its 18-character form, as events name it); looked up
        per event by the engine, so built once. The settings keep the ids as written."""
        self._canonical = canonical
        self._targets = {canonical(None, k): v for k, v in self.map.items()}
        self._emails = {
            canonical(None, u.id): (normalize_email(u.email) or None) if u.email else None
            for u in self.directory
        }

    def canonical_id(self, external_id: str) -> str:
        return external_id if self._canonical is None else self._canonical(None, external_id)

    def target_of(self, external_id: str) -> str | None:
        """The owner the explicit map gives that external user (None: not in the map)."""
        return self._targets.get(self.canonical_id(external_id))

    def directory_email(self, external_id: str) -> str | None:
        """The directory's email for that external user, normalized for matching."""
        return self._emails.get(self.canonical_id(external_id))


class OwnershipSettings(_Settings):
    """Which owner wins when the integration and the CRM disagree, per record type."""

    default: Strategy = Strategy.FILL_IF_EMPTY
    contact: Strategy | None = None
    company: Strategy | None = None
    deal: Strategy | None = None
    ticket: Strategy | None = None
    lead: Strategy | None = None
    protect_manual_days: float = Field(default=0.0, ge=0, strict=True, allow_inf_nan=False)
    assign_on_activity: _Bool = False

    _by_type: dict[str, Strategy] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        # Asked once per event by the engine: resolve the per-type fallbacks once.
        for record_type in RecordType:
            specific: Strategy | None = getattr(self, record_type._value_)
            self._by_type[record_type._value_] = specific or self.default

    def strategy_for(self, record_type: RecordType | str) -> Strategy:
        """The per-type strategy when set, else the default."""
        return self._by_type[record_type]


class ActivityTypeSettings(_Settings):
    """Whether one activity type is created, and which of them to skip."""

    enabled: _Bool = True
    min_duration_s: float | None = Field(default=None, ge=0, strict=True, allow_inf_nan=False)
    skip_outcomes: tuple[_Outcome, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _bool_shorthand(cls, data: Any) -> Any:
        # `meeting: true` is the common case; it means {enabled: true}.
        if isinstance(data, bool):
            return {"enabled": data}
        if not isinstance(data, dict | ActivityTypeSettings):
            raise _own_error(f"expected true, false or a mapping; got {_show(data)}")
        return data


_OUTCOMES: dict[ActivityType, tuple[str, ...]] = {
    ActivityType.CALL: CALL_OUTCOMES,
    ActivityType.MEETING: MEETING_OUTCOMES,
}


class ActivitySettings(_Settings):
    """Per activity type settings; every type is created unless disabled."""

    call: ActivityTypeSettings = ActivityTypeSettings()
    email: ActivityTypeSettings = ActivityTypeSettings()
    meeting: ActivityTypeSettings = ActivityTypeSettings()
    note: ActivityTypeSettings = ActivityTypeSettings()
    task: ActivityTypeSettings = ActivityTypeSettings()

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        # Durations and outcomes exist only on some types; saying them elsewhere is a mistake.
        for activity_type in ActivityType:
            name = activity_type.value
            settings = _fields(data.get(name))
            if settings is None:
                continue  # absent, the true/false shorthand, or a mistake of its own
            duration = settings.get("min_duration_s")
            if duration is not None and activity_type is not ActivityType.CALL:
                yield (name, "min_duration_s"), f"not allowed for {name} activities; allowed: call"
            outcomes = _entries(settings.get("skip_outcomes"))
            allowed = _OUTCOMES.get(activity_type)
            if allowed is None:
                if outcomes:
                    yield (
                        (name, "skip_outcomes"),
                        f"not allowed for {name} activities; allowed: "
                        + ", ".join(t.value for t in _OUTCOMES),
                    )
                continue
            for index, outcome in enumerate(outcomes):
                word = outcome.strip().lower() if isinstance(outcome, str) else ""
                if word and word not in allowed:
                    yield (
                        (name, "skip_outcomes", index),
                        f"{word!r} is not allowed; allowed: {', '.join(allowed)}",
                    )

    def for_type(self, activity_type: ActivityType | str) -> ActivityTypeSettings:
        settings: ActivityTypeSettings = getattr(self, activity_type)
        return settings


_PRIMARY_TYPES = (RecordType.CONTACT, RecordType.LEAD)


class AssociationSettings(_Settings):
    """Which records an activity is attached to."""

    mode: AssociationMode = AssociationMode.AUTOMATIC
    primary: RecordType = RecordType.CONTACT
    company: CompanyAssociation = CompanyAssociation.PRIMARY
    deal: DealAssociation = DealAssociation.MOST_RECENT_OPEN
    max_deals: int = Field(default=5, ge=1, le=100, strict=True)

    @field_validator("primary")
    @classmethod
    def _person_record(cls, value: RecordType) -> RecordType:
        # Activities hang off a person; companies and deals are reached through them.
        if value not in _PRIMARY_TYPES:
            raise _own_error(
                f"{_show(value.value)} is not allowed; allowed: "
                + ", ".join(t.value for t in _PRIMARY_TYPES)
            )
        return value


class VendorOptions(_Settings):
    """Options only one kind of tool understands (the ``vendor:`` block): the schema of every
    option; which kinds take one is declared by each adapter (``Adapter.vendor_options``), and
    an option set for another kind is refused (:func:`kinds_taking`).

    ``app_id`` (hubspot): the HubSpot app leadsync writes with; changes it made are echoes and
    are ignored. ``organization_id`` (salesforce): the org whose Outbound Messages are
    accepted. ``activity_types`` (pipedrive): Pipedrive activity type key -> activity
    (``{lunch: meeting}``); ``other_activity_types`` (pipedrive): the activity for type keys
    not mapped (default task). ``timestamp_tolerance_s`` (generic, and salesforce's change
    events through the relay): how far a signed ``X-Leadsync-Timestamp`` may be from now,
    either way (default 300 s); ``require_timestamp`` (the same kinds): refuse requests
    without one (default false: senders that sign the body alone keep working).
    """

    app_id: _Id | None = None
    organization_id: _Id | None = None
    activity_types: dict[_Name, ActivityType] = Field(default_factory=dict)
    other_activity_types: ActivityType | None = None
    timestamp_tolerance_s: float | None = Field(
        default=None, gt=0, le=86_400, strict=True, allow_inf_nan=False
    )
    require_timestamp: _Bool | None = None

    @field_validator("organization_id")
    @classmethod
    def _org_id(cls, value: str | None) -> str | None:
        if value is not None and not _ORG_ID_RE.match(value):
            raise _own_error(
                f"{_show(value)} is not a Salesforce organization id; allowed: 00D followed by "
                "12 or 15 letters and digits (Setup > Company Information)"
            )
        return value

    def present(self) -> list[str]:
        return [name for name in type(self).model_fields if name in self.model_fields_set]


def kinds_taking(option: str) -> tuple[str, ...]:
    """The kinds whose adapter declares the ``vendor:`` option (``Adapter.vendor_options``),
    in the order of :data:`KNOWN_KINDS`."""
    # Lazy import: the adapters do not read settings, but they import what settings imports.
    from leadsync.sources import adapter_class

    return tuple(kind for kind in KNOWN_KINDS if option in adapter_class(kind).vendor_options)


class ProposedSettings(_Settings):
    """The sections a staged rollout may change (``rollout.settings``); absent ones stay."""

    users: UserMappingSettings | None = None
    ownership: OwnershipSettings | None = None
    activities: ActivitySettings | None = None
    associations: AssociationSettings | None = None


class RolloutSettings(_Settings):
    """Proposed settings applied to ``percent`` % of records, chosen by record id (stable:
    the same record is always in or out); ``leadsync rollout promote`` makes them current."""

    percent: float = Field(gt=0, le=100)
    settings: ProposedSettings


class IntegrationSettings(_Settings):
    """Everything one connected tool is allowed to do.

    ``secret_env`` names the environment variable that holds the webhook secret (a token, a
    signing key, ``user:password`` for Pipedrive); the secret itself is never in the file,
    the database, an export or a message.
    """

    _null_is_default = frozenset({"users", "ownership", "activities", "associations", "vendor"})

    kind: str = Field(json_schema_extra={"enum": list(INTEGRATION_KINDS)})
    secret_env: str | None = None
    vendor: VendorOptions = VendorOptions()
    users: UserMappingSettings = UserMappingSettings()
    ownership: OwnershipSettings = OwnershipSettings()
    activities: ActivitySettings = ActivitySettings()
    associations: AssociationSettings = AssociationSettings()
    rollout: RolloutSettings | None = None

    _is_crm: bool = PrivateAttr(default=False)

    def model_post_init(self, context: Any, /) -> None:
        # Vendor facts, read once from the adapter class (lazy import: the adapters do not
        # read settings): the vendor's form of a user id, and whether it is the CRM.
        from leadsync.sources import KINDS, adapter_class

        if self.kind in KINDS:
            adapter = adapter_class(self.kind)
            self.users.index_ids(adapter.normalize_external_id)
            self._is_crm = adapter.is_crm

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in KNOWN_KINDS:
            raise _own_error(
                f"{_show(value)} is not a known kind; allowed: {', '.join(KNOWN_KINDS)}"
            )
        return value

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        return None if value is None else _env_var_name(value, "AIRCALL_WEBHOOK_TOKEN")

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        kind = data.get("kind")
        vendor = _fields(data.get("vendor"))
        if kind not in KNOWN_KINDS or vendor is None:
            return
        from leadsync.sources import adapter_class

        allowed = adapter_class(kind).vendor_options
        for name in VendorOptions.model_fields:
            if name in vendor and name not in allowed:
                kinds = ", ".join(kinds_taking(name))
                yield ("vendor", name), f"not allowed for kind {kind}; only for {kinds}"

    def proposed(self) -> IntegrationSettings | None:
        """The settings the rollout sample gets: these, with the proposed sections."""
        if self.rollout is None:
            return None
        changes = {
            name: value
            for name in ("users", "ownership", "activities", "associations")
            if (value := getattr(self.rollout.settings, name)) is not None
        }
        return self.model_copy(update={**changes, "rollout": None})

    def vendor_options(self) -> dict[str, Any]:
        """The options an adapter receives: the ones set, as plain values."""
        return self.vendor.model_dump(mode="json", include=set(self.vendor.present()))

    @property
    def is_crm(self) -> bool:
        """The integration is the CRM itself (its adapter's ``is_crm``): its owner ids are
        owner ids, and its owner changes are the CRM's own."""
        return self._is_crm


class MonitoringSettings(_Settings):
    """Thresholds of the health report (``leadsync report``); each alert's meaning is in
    docs/MONITORING.md."""

    flapping_changes: int = Field(3, ge=2)
    unowned_after_minutes: float = Field(60, ge=0)
    timeline_max_per_day: int = Field(25, ge=1)
    drop_percent: float = Field(50, gt=0, le=100)
    baseline_days: int = Field(7, ge=1, le=90)
    min_baseline_per_day: float = Field(5, ge=0)
    max_inbox_lag_minutes: float = Field(15, ge=0)
    max_dead_letters: int = Field(0, ge=0)
    max_push_lag_minutes: float = Field(15, ge=0)
    max_push_failures: int = Field(0, ge=0)


HUBSPOT_API_VERSION_RE = re.compile(r"^(v3|20[2-9][0-9]-(0[1-9]|1[0-2]))$")
DEFAULT_HUBSPOT_API_VERSION = "2026-03"


class RateLimits(_Settings):
    """HubSpot's request limits for the app: per rolling 10 seconds, and per day."""

    per_10s: int = Field(190, ge=1, le=10_000)
    daily: int = Field(625_000, ge=1)


class DestinationSettings(_Settings):
    """Where decisions are pushed: a HubSpot portal. The token is read from the environment
    variable ``token_env`` at the moment of a request; it is never in the file, the database,
    an export or a message."""

    kind: Literal["hubspot"]
    token_env: str = "HUBSPOT_TOKEN"
    base_url: str = "https://api.hubapi.com"
    api_version: str = DEFAULT_HUBSPOT_API_VERSION
    limits: RateLimits = RateLimits()
    app_id: _Id | None = None
    # How often serve/worker pull owners again when ``owners: {source: hubspot}``.
    owners_refresh_minutes: float = Field(15, gt=0, le=1440)

    @field_validator("token_env")
    @classmethod
    def _token_env_name(cls, value: str) -> str:
        return _env_var_name(value, "HUBSPOT_TOKEN")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/?#]+(:[0-9]+)?/?$", value):
            raise _own_error(
                f"{_show(value)} is not a base URL; allowed: http(s)://host[:port], no path "
                "(e.g. https://api.hubapi.com)"
            )
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not HUBSPOT_API_VERSION_RE.match(value):
            raise _own_error(
                f"{_show(value)} is not a HubSpot API version; allowed: v3, or a dated "
                f"version YYYY-MM (e.g. {DEFAULT_HUBSPOT_API_VERSION})"
            )
        return value


class DedupeRule(_Settings):
    """One activity logged by several tools is one: ``{activity: call, integrations: [phone,
    outreach], window_s: 120, prefer: phone}``. Two activities of that type from two of those
    integrations are the same when the rep maps to the same owner, the counterpart is the same
    (phone number in E.164, or a record both name) and they started within ``window_s``
    (durations close where both have one). ``prefer``'s values win where both have one."""

    activity: ActivityType
    integrations: tuple[_IntegrationName, ...] = Field(min_length=2)
    window_s: float = Field(120, gt=0, le=86_400)
    prefer: _IntegrationName | None = None

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        names = [n for n in _entries(data.get("integrations")) if isinstance(n, str)]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            yield ("integrations",), f"names {', '.join(twice)} twice; each integration once"
        prefer = data.get("prefer")
        if isinstance(prefer, str) and names and prefer not in names:
            yield ("prefer",), f"prefer {prefer!r} is not one of integrations ({', '.join(names)})"

    @property
    def preferred(self) -> str:
        return self.prefer or self.integrations[0]


# Tags of the two forms of ``owners:`` (a list, or {source: hubspot}); they never show in a
# key path (see _resolve).
_LIST_TAG = "__list__"
_CRM_TAG = "__crm__"


def _owners_form(value: Any) -> str:
    return _CRM_TAG if isinstance(value, dict | OwnersFromCrm) else _LIST_TAG


class OwnersFromCrm(_Settings):
    """``owners: {source: hubspot}``: owners and teams come from ``leadsync owners pull``;
    ``apply`` leaves them alone."""

    source: Literal["hubspot"]


class WorkspaceConfig(_Settings):
    """The whole workspace file. Cross references are checked once the parts are valid."""

    _null_is_default = frozenset({"owners", "teams", "integrations", "monitoring", "dedupe"})

    owners: Annotated[
        Annotated[tuple[OwnerSpec, ...], Tag(_LIST_TAG)] | Annotated[OwnersFromCrm, Tag(_CRM_TAG)],
        Discriminator(_owners_form),
    ] = ()
    teams: dict[_Name, tuple[_Id, ...]] = Field(default_factory=dict)
    integrations: dict[_IntegrationName, IntegrationSettings] = Field(default_factory=dict)
    monitoring: MonitoringSettings = MonitoringSettings()
    destination: DestinationSettings | None = None
    dedupe: tuple[DedupeRule, ...] = ()

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        from_crm = _fields(data.get("owners"))
        if from_crm is not None:
            if from_crm.get("source") == "hubspot" and data.get("destination") is None:
                yield (
                    ("owners", "source"),
                    "owners from hubspot need a destination: {kind: hubspot, ...} block",
                )
        else:
            # With owners from HubSpot, references are checked against the pulled owners
            # when the file is applied.
            yield from _reference_problems(data)
        yield from _dedupe_problems(data)

    @property
    def owners_from_crm(self) -> bool:
        return isinstance(self.owners, OwnersFromCrm)

    @property
    def owner_specs(self) -> tuple[OwnerSpec, ...]:
        """The owners the file lists (none when they come from HubSpot)."""
        return () if isinstance(self.owners, OwnersFromCrm) else self.owners


def _dedupe_problems(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Dedupe rules name configured integrations, and one (type, integration) is in one rule."""
    configured = _fields(data.get("integrations"))
    names = None if configured is None else {_key_text(name) for name in configured}
    seen: dict[tuple[str, str], int] = {}
    for index, rule in enumerate(_entries(data.get("dedupe"))):
        fields = _fields(rule)
        if fields is None:
            continue
        activity = fields.get("activity")
        known_type = (
            activity if isinstance(activity, str) and activity in set(ActivityType) else None
        )
        for position, name in enumerate(_entries(fields.get("integrations"))):
            if not isinstance(name, str):
                continue
            if names is not None and name not in names:
                known = ", ".join(sorted(names)) or "none"
                yield (
                    ("dedupe", index, "integrations", position),
                    f"unknown integration {name!r}; configured: {known}",
                )
            if known_type is None:
                continue
            key = (str(known_type), name)
            if key in seen and seen[key] != index:  # twice in one rule: the rule's own check
                yield (
                    ("dedupe", index, "integrations", position),
                    f"{name} {known_type}s are already deduplicated by dedupe"
                    f"[{seen[key]}]; an integration's activity type is in one rule",
                )
            else:
                seen[key] = index


class _Known:
    """The ids a workspace document declares, for its references. When one cannot be read
    (an owner without a readable id), references are not checked: calling them unknown
    would only repeat that mistake."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.owners: dict[str, int] = {}
        self.owners_readable = True
        owners = data.get("owners")
        if owners is not None and not isinstance(owners, list | tuple):
            self.owners_readable = False
        for index, owner in enumerate(_entries(owners)):
            fields = _fields(owner)
            owner_id = _id_text(fields.get("id")) if fields is not None else None
            if owner_id is None:
                self.owners_readable = False
            elif owner_id not in self.owners:
                self.owners[owner_id] = index
        self.teams: dict[str, list[Any] | None] = {}
        self.teams_readable = True
        teams = data.get("teams")
        if teams is not None and _fields(teams) is None:
            self.teams_readable = False
        for name, members in (_fields(teams) or {}).items():
            team = _id_text(name)
            if team is None:
                self.teams_readable = False
            else:
                self.teams[team] = _entries(members) if isinstance(members, list | tuple) else None

    def unknown_owner(self, value: Any) -> str | None:
        """The problem with a reference to an owner, if any."""
        owner_id = _id_text(value)
        if owner_id is None or not self.owners_readable or owner_id in self.owners:
            return None
        if not self.owners:
            return f"unknown owner {owner_id!r}; no owners are defined"
        return f"unknown owner {owner_id!r}; known owners: {_listing(self.owners)}"

    def unknown_team(self, value: Any) -> str | None:
        """The problem with a reference to a round-robin team, if any."""
        team = _id_text(value)
        if team is None or not self.teams_readable:
            return None
        if team not in self.teams:
            known = f"known teams: {_listing(self.teams)}" if self.teams else "no teams are defined"
            return f"unknown team {team!r}; {known}"
        if self.teams[team] == []:
            return f"team {team!r} has no members to take turns"
        return None


def _reference_problems(data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
    """Owners are unique (id, email) and every owner and team a reference names exists."""
    known = _Known(data)
    ids: dict[str, int] = {}
    emails: dict[str, int] = {}
    for index, owner in enumerate(_entries(data.get("owners"))):
        fields = _fields(owner) or {}
        owner_id = _id_text(fields.get("id"))
        if owner_id is not None and owner_id in ids:
            yield (
                ("owners", index, "id"),
                f"duplicate owner id {owner_id!r} (also owners[{ids[owner_id]}])",
            )
        elif owner_id is not None:
            ids[owner_id] = index
        email = fields.get("email")
        if isinstance(email, str):
            email = email.strip()
            if email.lower() in emails:
                yield (
                    ("owners", index, "email"),
                    f"duplicate owner email {email!r} (also owners[{emails[email.lower()]}])",
                )
            else:
                emails[email.lower()] = index

    for team, members in (_fields(data.get("teams")) or {}).items():
        for index, member in enumerate(_entries(members)):
            if (problem := known.unknown_owner(member)) is not None:
                yield ("teams", _key_text(team), index), problem

    for name, integration in (_fields(data.get("integrations")) or {}).items():
        settings = _fields(integration) or {}
        path: KeyPath = ("integrations", _key_text(name))
        yield from _user_references((*path, "users"), settings.get("users"), known)
        rollout = _fields(settings.get("rollout")) or {}
        proposed = _fields(rollout.get("settings")) or {}
        yield from _user_references(
            (*path, "rollout", "settings", "users"), proposed.get("users"), known
        )


def _user_references(path: KeyPath, users: Any, known: _Known) -> Iterator[tuple[KeyPath, str]]:
    """Owners and teams a user mapping names must exist (and a round-robin team have members)."""
    fields = _fields(users) or {}
    for external_id, owner_id in (_fields(fields.get("map")) or {}).items():
        if (problem := known.unknown_owner(owner_id)) is not None:
            yield (*path, "map", _key_text(external_id)), problem
    unmapped = _fields(fields.get("unmapped")) or {}
    if (problem := known.unknown_owner(unmapped.get("owner"))) is not None:
        yield (*path, "unmapped", "owner"), problem
    if (problem := known.unknown_team(unmapped.get("team"))) is not None:
        yield (*path, "unmapped", "team"), problem


# --------------------------------------------------------------- error translation


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``X | None`` down to the type that says what is expected."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or origin is types.UnionType:
            rest = [a for a in get_args(annotation) if a is not type(None)]
            if len(rest) != 1:
                return annotation
            annotation = rest[0]
        else:
            return annotation


def _annotation_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The declared type a pydantic error location points at (None when it cannot be told)."""
    annotation: Any = root
    parts = list(loc)
    index = 0
    while index < len(parts):
        part = parts[index]
        annotation = _unwrap(annotation)
        origin = get_origin(annotation)
        if part in (_LIST_TAG, _CRM_TAG):
            # A tagged union (``owners``): the member the tag names.
            annotation = next(
                (a for a in get_args(annotation) if Tag(str(part)) in get_args(a)[1:]), None
            )
            if annotation is None:
                return None
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            if field is None:
                return None
            annotation = field.annotation
        elif origin in (tuple, list):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            key_type, value_type = get_args(annotation)
            is_key = index + 1 < len(parts) and parts[index + 1] == "[key]"
            annotation = key_type if is_key else value_type
            index += 1 if is_key else 0
        else:
            return None
        index += 1
    return _unwrap(annotation)


def _resolve(loc: tuple[int | str, ...], raw: Any) -> KeyPath:
    """A pydantic location as a key path into the document (list index vs mapping key)."""
    path: list[PathPart] = []
    node = raw
    for part in loc:
        if part == "[key]" or part in (_LIST_TAG, _CRM_TAG):
            continue  # the problem is the key itself; its line is the key's line
        if isinstance(node, list | tuple) and isinstance(part, int):
            path.append(part)
            node = node[part] if 0 <= part < len(node) else None
        elif isinstance(node, dict):
            # pydantic reports a `true` key as 1: prefer an exact match, then equality.
            key = next((k for k in node if k == part and type(k) is type(part)), None)
            if key is None:
                key = next((k for k in node if k == part), None)
            if key is None:
                key = next((k for k in node if _key_text(k) == str(part)), part)
            path.append(_key_text(key))
            node = node.get(key)
        else:
            path.append(str(part))
            node = None
    return tuple(path)


_TYPE_MESSAGES = {
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "finite_number": "expected a finite number",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
}

_BOUND_MESSAGES = {
    "greater_than_equal": ("ge", "must be at least"),
    "greater_than": ("gt", "must be more than"),
    "less_than_equal": ("le", "must be at most"),
    "less_than": ("lt", "must be less than"),
}


def _messages(
    error: ErrorDetails, root: type[BaseModel], raw: Any
) -> Iterator[tuple[KeyPath, str]]:
    """One pydantic error as (key path, human message) pairs."""
    loc = error["loc"]
    kind = error["type"]
    ctx = error.get("ctx", {})
    value = error.get("input")
    path = _resolve(loc, raw)
    if kind == _OWN_PROBLEMS:
        for suffix, message in ctx["problems"]:
            yield (*path, *suffix), message
        return
    if kind == _OWN_ERROR:
        yield path, str(ctx["message"])
    elif kind == "missing":
        yield path, "required"
    elif kind == "extra_forbidden":
        model = _annotation_at(root, loc[:-1])
        is_model = isinstance(model, type) and issubclass(model, BaseModel)
        allowed = _listing(model.model_fields) if is_model else "?"
        yield path, f"unknown key; allowed: {allowed}"
    elif kind in ("enum", "literal_error"):
        expected = _annotation_at(root, loc)
        if isinstance(expected, type) and issubclass(expected, enum.Enum):
            allowed = _listing(m.value for m in expected)
        else:
            allowed = str(ctx.get("expected", "?"))
        yield path, f"{_show(value)} is not allowed; allowed: {allowed}"
    elif kind in _TYPE_MESSAGES:
        yield path, f"{_TYPE_MESSAGES[kind]}; got {_show(value)}"
    elif kind in _BOUND_MESSAGES:
        key, words = _BOUND_MESSAGES[kind]
        yield path, f"{words} {_show(ctx.get(key))}; got {_show(value)}"
    elif kind in ("string_too_short", "too_short") and isinstance(value, str):
        yield path, "must not be empty"
    else:  # a kind we did not foresee: pydantic's own words, which carry no URL here
        message = error["msg"]
        yield path, message[:1].lower() + message[1:]


class _Place:
    """Where a document came from, and the line of each key path (for YAML).

    What is validated may be more than the document: proposed settings are checked as part
    of the whole workspace. ``moved`` maps the validated part back to the document (problems
    below ``moved[0]`` are shown at ``moved[1]`` + the rest, and have lines; others are shown
    as they are, without one). ``unwritten`` is said of a problem at a key the document does
    not write (it came from the settings the document amends); ``note`` of every problem.
    """

    def __init__(
        self,
        source: str,
        lines: dict[KeyPath, int] | None,
        key_prefix: str = "",
        moved: tuple[KeyPath, KeyPath] = ((), ()),
        unwritten: str | None = None,
        note: str = "",
    ) -> None:
        self.source = source
        self.lines = lines
        self.key_prefix = key_prefix
        self.moved = moved
        self.unwritten = unwritten
        self.note = note

    def line_of(self, path: KeyPath) -> int | None:
        if self.lines is None:
            return None
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return 1

    def problem(self, path: KeyPath, message: str) -> tuple[int, str]:
        validated, document = self.moved
        line: int | None = None
        if path[: len(validated)] == validated:
            path = (*document, *path[len(validated) :])
            line = self.line_of(path)
            written = self.lines is None or path in self.lines or path[:-1] in self.lines
            if self.unwritten and not written:
                message = f"{message} ({self.unwritten})"
        key = _format_path(path)
        if self.key_prefix:
            key = self.key_prefix + (("" if key.startswith("[") else ".") + key if key else "")
        where = self.source if line is None else f"{self.source}:{line}"
        text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
        return (line or 0, text + self.note)


def _validate(
    model: type[_M], data: Any, place: _Place, early: list[tuple[int, str]] | None = None
) -> _M:
    """Validate and raise one ConfigError listing every problem, in document order."""
    problems = list(early or [])
    result: _M | None = None
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            for path, message in _messages(error, model, data):
                problems.append(place.problem(path, message))
    if problems or result is None:
        problems.sort(key=lambda item: item[0])
        raise ConfigError([text for _, text in problems])
    return result


# ----------------------------------------------------------------------- YAML in


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, with a line number for values it cannot build (``2024-02-30``)."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as exc:
            shown = f" {node.value!r}" if isinstance(node, yaml.ScalarNode) else ""
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read{shown}: {exc}", node.start_mark
            ) from None


def _yaml_problem(exc: Exception, text: str, source: str) -> ConfigError:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        line = exc.problem_mark.line + 1
        what = exc.problem or str(exc)
        if exc.context:
            started = exc.context_mark.line + 1 if exc.context_mark is not None else line
            opened = f" (opened on line {started})" if started != line else ""
            what = f"{exc.context}{opened}, {what}"
        return ConfigError([f"{source}:{line}: invalid YAML: {what}"])
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return ConfigError(
            [f"{source}:{line}: invalid YAML: character #x{exc.character:04x} is not allowed"]
        )
    return ConfigError([f"{source}: invalid YAML: {exc}"])


def _line_map(
    root: yaml.Node, loader: _Loader, source: str
) -> tuple[dict[KeyPath, int], list[tuple[int, str]]]:
    """The line of every key path in the document, and duplicate-key problems.

    An aliased node is walked once only: paths below a later alias take the alias's line,
    which is where that copy is, and alias bombs cannot make this walk explode.
    """
    lines: dict[KeyPath, int] = {(): root.start_mark.line + 1}
    duplicates: list[tuple[int, str]] = []
    walked: set[int] = set()
    pending: list[tuple[yaml.Node, KeyPath]] = [(root, ())]
    while pending:
        node, path = pending.pop()
        if id(node) in walked:
            continue
        walked.add(id(node))
        children: list[tuple[yaml.Node, KeyPath]] = []
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # merged keys take the line of the mapping they land in
                key = _key_text(loader.construct_object(key_node, deep=True))
                line = key_node.start_mark.line + 1
                child = (*path, key)
                if key in seen:
                    where = f"{source}:{line}: {_format_path(child)}"
                    duplicates.append((line, f"{where}: duplicate key (also line {seen[key]})"))
                seen[key] = line
                lines[child] = line
                children.append((value_node, child))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                children.append((item, (*path, index)))
        # Document order, so an anchor is walked where it is written, before its aliases.
        pending.extend(reversed(children))
    return lines, duplicates


def _parse(text: str, source: str) -> tuple[Any, dict[KeyPath, int], list[tuple[int, str]]]:
    """The document, the line of every key path in it, and duplicate-key problems."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:  # the reader rejects some characters up front
        raise _yaml_problem(exc, text, source) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {(): 1}, []
        lines, duplicates = _line_map(node, loader, source)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, text, source) from None
    finally:
        loader.dispose()
    return data, lines, duplicates


def load_config(text: str, source: str = "<config>") -> WorkspaceConfig:
    """Read a workspace YAML document; ``source`` names it in messages (usually the path)."""
    data, lines, duplicates = _parse(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        line = lines[()]
        raise ConfigError(
            [
                f"{source}:{line}: the top level must be a mapping with keys owners, teams, "
                f"integrations; got {_show(data)}"
            ]
        )
    return _validate(WorkspaceConfig, data, _Place(source, lines, ""), duplicates)


def config_from_dict(data: Any, source: str = "<settings>") -> WorkspaceConfig:
    """A whole workspace from plain data (an API body), with the file's checks and key paths
    (no line numbers)."""
    place = _Place(source, None, "")
    if not isinstance(data, dict):
        _, text = place.problem((), f"expected a mapping; got {_show(data)}")
        raise ConfigError([text])
    return _validate(WorkspaceConfig, data, place)


def _read_text(path: str | Path) -> str:
    """A settings file's text; a missing or unreadable file is a ConfigError naming it."""
    source = str(path)
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{source}: file not found"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{source}: not UTF-8 text ({exc.reason})"]) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror or exc}"]) from None


def load_config_file(path: str | Path) -> WorkspaceConfig:
    """Read a workspace file; a missing or unreadable file is a ConfigError naming it."""
    return load_config(_read_text(path), str(path))


def integration_from_dict(
    data: dict[str, Any], source: str = "<settings>", key_prefix: str = ""
) -> IntegrationSettings:
    """Integration settings from plain data (the database, an API) with the file's checks.

    Workspace cross references (owners, teams) are not checked here: they need the workspace.
    Messages have no line numbers; ``key_prefix`` (e.g. ``integrations.dialer``) starts each
    key path so the message reads as it would for the file.
    """
    place = _Place(source, None, key_prefix)
    if not isinstance(data, dict):
        _, text = place.problem((), f"expected a mapping; got {_show(data)}")
        raise ConfigError([text])
    return _validate(IntegrationSettings, data, place)


# ------------------------------------------------------------- proposed settings

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
    data, lines, duplicates = _parse(text, source)
    return _proposed(data, _Place(source, lines), duplicates, integration, current)


def load_proposed_file(
    path: str | Path, integration: str, current: WorkspaceConfig | None
) -> ProposedIntegration:
    """:func:`load_proposed` of a file; a missing or unreadable file is a ConfigError."""
    return load_proposed(_read_text(path), str(path), integration, current)


def proposed_from_data(
    data: Any, source: str, integration: str, current: WorkspaceConfig | None
) -> ProposedIntegration:
    """:func:`load_proposed` of plain data (an API body); key paths are the workspace's
    (``integrations.NAME.ownership.default``), as the admin API says them elsewhere."""
    return _proposed(data, _Place(source, None), [], integration, current, api=True)


def _proposed(
    data: Any,
    place: _Place,
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
        problems.append(
            place.problem((), f"expected a mapping: {_PARTIAL_HINT}; got {_show(data)}")
        )
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
                        (_key_text(key),),
                        f"not read from a partial settings file (one without owners): only "
                        f"integrations.{name} is; a whole workspace file has owners and "
                        "integrations",
                    )
                )
        found = _fields(data["integrations"]) or {}
        key = next((k for k in found if _key_text(k) == name), None)
        if key is None:
            problems.append(place.problem(("integrations",), f"has no integration {name!r}"))
            raise refused()
        entry, document = found[key], where
    if not isinstance(entry, dict) or not entry:
        got = _show(entry) if entry else "nothing"
        problems.append(
            place.problem(document, f"expected the integration's settings (a mapping); got {got}")
        )
    if problems:
        raise refused()
    before = current.integrations.get(name) if current is not None else None
    base = integration_to_dict(before) if before is not None else {}
    merged = _amend(base, entry, ())
    shown = where if api else document
    if current is None:
        located = _Place(place.source, place.lines, moved=((), shown))
        settings = _validate(IntegrationSettings, merged, located, duplicates)
    else:
        workspace = config_to_dict(current)
        workspace["integrations"] = {**workspace.get("integrations", {}), name: merged}
        located = _Place(
            place.source, place.lines, moved=(where, shown), unwritten="in the current settings"
        )
        settings = _validate(WorkspaceConfig, workspace, located, duplicates).integrations[name]
    sections = tuple(
        f"integrations.{name}.{_format_path((_key_text(key),))}"
        for key, value in entry.items()
        if not (key == "kind" and value == base.get("kind"))
    )
    return ProposedIntegration(name, settings, place.source, whole=False, sections=sections)


def _whole(
    data: dict[Any, Any],
    place: _Place,
    duplicates: list[tuple[int, str]],
    name: str,
    current: WorkspaceConfig | None,
) -> ProposedIntegration:
    """A whole workspace file: checked as ``apply`` checks it, then its entry for ``name``
    against the workspace's owners and teams, which decide a preview or replay."""
    config = _validate(WorkspaceConfig, data, place, duplicates)
    settings = config.integrations.get(name)
    if settings is None:
        _, text = place.problem(("integrations",), f"has no integration {name!r}")
        raise ConfigError([text])
    if current is not None:
        entry = next(v for k, v in data["integrations"].items() if _key_text(k) == name)
        workspace = config_to_dict(current)
        workspace["integrations"] = {**workspace.get("integrations", {}), name: entry}
        where: KeyPath = ("integrations", name)
        located = _Place(place.source, place.lines, moved=(where, where), note=_NOTE_WHOLE)
        settings = _validate(WorkspaceConfig, workspace, located).integrations[name]
    return ProposedIntegration(name, settings, place.source, whole=True)


_ABSENT: Any = object()


def _amend(base: Any, change: Any, path: KeyPath) -> Any:
    """``change`` over ``base`` by the rules of :class:`ProposedIntegration`."""
    if len(path) in (2, 4) and path[-2] == "activities" and path[-1] in set(ActivityType):
        # An activity type's true/false is {enabled: ...}: it keeps the filters.
        base = {"enabled": base} if isinstance(base, bool) else base
        change = {"enabled": change} if isinstance(change, bool) else change
    if not isinstance(change, dict):
        return change
    if not isinstance(base, dict) or (path[-1:] == ("unmapped",) and "policy" in change):
        base = {}
    out = dict(base)
    for key, value in change.items():
        text = _key_text(key).strip()
        same = next((k for k in out if _key_text(k).strip() == text), _ABSENT)
        old = _ABSENT if same is _ABSENT else out.pop(same)
        if value is not None:  # null: the key is left out, so it takes its default
            out[key] = _amend({} if old is _ABSENT else old, value, (*path, text))
    return out


# ---------------------------------------------------------------------- YAML out


def _number(value: float) -> int | float:
    """Whole numbers are written without ``.0``; people wrote ``14``, not ``14.0``."""
    if value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _users_to_dict(users: UserMappingSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if users.auto_match is not AutoMatch.EMAIL:
        out["auto_match"] = users.auto_match.value
    if users.map:
        out["map"] = dict(users.map)
    if users.directory:
        out["directory"] = [
            {
                "id": u.id,
                **({"email": u.email} if u.email is not None else {}),
                **({"name": u.name} if u.name is not None else {}),
            }
            for u in users.directory
        ]
    unmapped = users.unmapped
    if unmapped != UnmappedSettings():
        entry: dict[str, Any] = {"policy": unmapped.policy.value}
        if unmapped.owner is not None:
            entry["owner"] = unmapped.owner
        if unmapped.team is not None:
            entry["team"] = unmapped.team
        out["unmapped"] = entry
    return out


def _ownership_to_dict(ownership: OwnershipSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if ownership.default is not Strategy.FILL_IF_EMPTY:
        out["default"] = ownership.default.value
    for record_type in RecordType:
        specific: Strategy | None = getattr(ownership, record_type.value)
        if specific is not None:
            out[record_type.value] = specific.value
    if ownership.protect_manual_days:
        out["protect_manual_days"] = _number(ownership.protect_manual_days)
    if ownership.assign_on_activity:
        out["assign_on_activity"] = True
    return out


def _activities_to_dict(activities: ActivitySettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for activity_type in ActivityType:
        settings = activities.for_type(activity_type)
        if settings == ActivityTypeSettings():
            continue
        if settings.min_duration_s is None and not settings.skip_outcomes:
            # Nothing but `enabled` is set: `true`/`false` says it all.
            out[activity_type.value] = settings.enabled
            continue
        entry: dict[str, Any] = {"enabled": settings.enabled}
        if settings.min_duration_s is not None:
            entry["min_duration_s"] = _number(settings.min_duration_s)
        if settings.skip_outcomes:
            entry["skip_outcomes"] = list(settings.skip_outcomes)
        out[activity_type.value] = entry
    return out


def _associations_to_dict(associations: AssociationSettings) -> dict[str, Any]:
    defaults = AssociationSettings()
    out: dict[str, Any] = {}
    for name in AssociationSettings.model_fields:
        value = getattr(associations, name)
        if value != getattr(defaults, name):
            out[name] = value.value if isinstance(value, enum.Enum) else value
    return out


def integration_to_dict(settings: IntegrationSettings) -> dict[str, Any]:
    """One integration in the file's shape; defaults are left out to keep it short."""
    out: dict[str, Any] = {"kind": settings.kind}
    if settings.secret_env is not None:
        out["secret_env"] = settings.secret_env
    vendor = settings.vendor_options()
    if vendor:
        out["vendor"] = vendor
    sections = (
        ("users", _users_to_dict(settings.users)),
        ("ownership", _ownership_to_dict(settings.ownership)),
        ("activities", _activities_to_dict(settings.activities)),
        ("associations", _associations_to_dict(settings.associations)),
    )
    for name, section in sections:
        if section:
            out[name] = section
    if settings.rollout is not None:
        proposed = settings.rollout.settings
        parts = {
            "users": _users_to_dict(proposed.users) if proposed.users else None,
            "ownership": _ownership_to_dict(proposed.ownership) if proposed.ownership else None,
            "activities": _activities_to_dict(proposed.activities) if proposed.activities else None,
            "associations": _associations_to_dict(proposed.associations)
            if proposed.associations
            else None,
        }
        out["rollout"] = {
            "percent": _number(settings.rollout.percent),
            "settings": {k: v for k, v in parts.items() if v is not None},
        }
    return out


def _owner_to_dict(owner: OwnerSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"id": owner.id, "email": owner.email}
    if owner.first_name:
        out["first_name"] = owner.first_name
    if owner.last_name:
        out["last_name"] = owner.last_name
    if not owner.active:
        out["active"] = False
    return out


def config_to_dict(config: WorkspaceConfig) -> dict[str, Any]:
    """The workspace in the file's shape: plain JSON-able types, keys in a stable order."""
    out: dict[str, Any] = {}
    if isinstance(config.owners, OwnersFromCrm):
        out["owners"] = {"source": config.owners.source}
    elif config.owners:
        out["owners"] = [_owner_to_dict(owner) for owner in config.owners]
    if config.teams:
        out["teams"] = {name: list(members) for name, members in config.teams.items()}
    if config.integrations:
        out["integrations"] = {
            name: integration_to_dict(settings) for name, settings in config.integrations.items()
        }
    monitoring = monitoring_to_dict(config.monitoring)
    if monitoring:
        out["monitoring"] = monitoring
    if config.destination is not None:
        out["destination"] = destination_to_dict(config.destination)
    if config.dedupe:
        out["dedupe"] = dedupe_to_list(config.dedupe)
    return out


def dedupe_to_list(rules: Sequence[DedupeRule]) -> list[dict[str, Any]]:
    return [
        {
            "activity": r.activity.value,
            "integrations": list(r.integrations),
            "window_s": _number(r.window_s),
            "prefer": r.preferred,
        }
        for r in rules
    ]


def dedupe_from_list(data: list[dict[str, Any]]) -> tuple[DedupeRule, ...]:
    """The dedupe rules as stored in the workspace."""
    return tuple(
        _validate(DedupeRule, item, _Place("<workspace>", None, f"dedupe[{i}]"))
        for i, item in enumerate(data)
    )


def destination_to_dict(destination: DestinationSettings) -> dict[str, Any]:
    """The destination block: kind and token_env always, the rest where not the default."""
    out = destination.model_dump(mode="json", exclude_defaults=True)
    out = {"kind": destination.kind, "token_env": destination.token_env, **out}
    limits = out.get("limits")
    if limits is not None:
        out["limits"] = destination.limits.model_dump(mode="json", exclude_defaults=True)
    if "owners_refresh_minutes" in out:
        out["owners_refresh_minutes"] = _number(destination.owners_refresh_minutes)
    return out


def destination_from_dict(data: dict[str, Any]) -> DestinationSettings:
    """The destination block as stored in the workspace."""
    return _validate(DestinationSettings, data, _Place("<workspace>", None, "destination"))


def monitoring_to_dict(monitoring: MonitoringSettings) -> dict[str, Any]:
    """The thresholds that differ from the defaults."""
    defaults = MonitoringSettings()
    return {
        name: _number(value) if isinstance(value, float) else value
        for name in type(monitoring).model_fields
        if (value := getattr(monitoring, name)) != getattr(defaults, name)
    }


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, minus a round-trip bug with Unicode line breaks."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # With allow_unicode, PyYAML writes U+0085 (NEL) raw into a single-quoted scalar, where the
    # reader folds it; double quotes make the emitter escape it (``\N``).
    style = '"' if any(ch in data for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_config(config: WorkspaceConfig) -> str:
    """YAML text that :func:`load_config` reads back to an equal config."""
    return yaml.dump(
        config_to_dict(config),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
    )
