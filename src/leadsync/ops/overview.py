"""Each integration at a glance: what the console's front page shows.

Per integration: its kind, where its vendor sends webhooks, whether its secret is set (the
variable's name, never its value), events received today and the newest, open dead letters,
and a health badge read from the health report (:mod:`leadsync.ops.monitor`, as the newest
health snapshot holds it) — ``alert`` when a firing check names the integration in its
rows, ``waiting`` before its first event, else ``ok``. A row's alert says the integration's
own part of the check (:attr:`Finding.parts`, the report's words with its numbers); a check
not counted per integration says that its number is the workspace's. Firing checks that
name no configured integration (the inbox's lag, an owner flapping by people's changes alone),
or that name one no longer configured (a removed integration's dead letters), are also the
workspace's own alerts, with their totals; so is the part of a check that is no
integration's (:attr:`Finding.workspace_part`: a deactivated owner's open records). The
numbers come from two grouped queries (:mod:`leadsync.store.overview`), read at each view,
and the snapshot's report, whatever the number of integrations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.ops.monitor import Finding, Report, names_in
from leadsync.results import ResultModel
from leadsync.sources import adapter_class
from leadsync.store import overview as overview_store

#: The health badge reads the report over this many days (the report's own default window).
HEALTH_DAYS = 7

SecretState = Literal["set", "not set", "not needed"]
Health = Literal["ok", "alert", "waiting"]


class Alert(ResultModel):
    """A firing check of the report, in its own sentence."""

    check: str
    summary: str


class IntegrationOverview(ResultModel):
    name: str
    kind: str
    webhook_path: str = Field(description="Where the vendor posts, below the service's URL.")
    secret_env: str | None = Field(description="The variable that holds the webhook secret.")
    secret: SecretState = Field(
        description="Whether that variable is set in the service's environment; 'not needed' "
        "for a kind that verifies requests without one and names no variable."
    )
    events_today: int = Field(description="Inbox rows received since 00:00 UTC.")
    last_event_at: str | None = Field(description="When the newest inbox row was received.")
    dead_letters: int = Field(description="Open dead letters (neither retried nor dismissed).")
    health: Health
    alerts: list[Alert] = Field(default_factory=list)


class Overview(ResultModel):
    """Every integration, by name, and the report's alerts that name none of them."""

    day_start: str
    report_since: str
    report_until: str = Field(description="When the report behind the badges was taken.")
    integrations: list[IntegrationOverview] = Field(default_factory=list)
    workspace_alerts: list[Alert] = Field(default_factory=list)


def overview(
    engine: Engine,
    rules: WorkspaceRules,
    health: Report,
    environ: Mapping[str, str],
    now: str,
) -> Overview:
    """The overview at ``now`` (a canonical time), its badges from ``health`` (the report of
    a health snapshot, :mod:`leadsync.ops.snapshot`, taken at ``health.until``); ``environ``
    is the service's environment, read only to tell whether each ``secret_env`` is set."""
    day_start = now[:10] + "T00:00:00.000Z"
    with engine.connect() as connection:
        received = overview_store.inbox_by_integration(connection, day_start)
        letters = overview_store.open_dead_letters_by_integration(connection)
    alerts_of: dict[str, list[Alert]] = {name: [] for name in rules.integrations}
    result = Overview(day_start=day_start, report_since=health.since, report_until=health.until)
    for finding in health.alerts:
        named = _integrations_named(finding)
        for name in named:
            if name in alerts_of:
                alerts_of[name].append(Alert(check=finding.check, summary=_part(finding, name)))
        if not named or any(name not in alerts_of for name in named):
            result.workspace_alerts.append(Alert(check=finding.check, summary=finding.summary))
        elif finding.workspace_part:
            result.workspace_alerts.append(
                Alert(check=finding.check, summary=finding.workspace_part)
            )
    for name, settings in sorted(rules.integrations.items()):
        today, last = received.get(name, (0, None))
        result.integrations.append(
            IntegrationOverview(
                name=name,
                kind=settings.kind,
                webhook_path=f"/webhooks/{name}",
                secret_env=settings.secret_env,
                secret=_secret_state(settings.kind, settings.secret_env, environ),
                events_today=today,
                last_event_at=last,
                dead_letters=letters.get(name, 0),
                health="alert" if alerts_of[name] else "waiting" if last is None else "ok",
                alerts=alerts_of[name],
            )
        )
    return result


def _secret_state(kind: str, secret_env: str | None, environ: Mapping[str, str]) -> SecretState:
    if secret_env is None:
        return "not set" if adapter_class(kind).secret_required else "not needed"
    return "set" if environ.get(secret_env) else "not set"


def _integrations_named(finding: Finding) -> list[str]:
    """The integrations a finding's rows name (:func:`leadsync.ops.monitor.names_in`)."""
    names: dict[str, None] = dict.fromkeys(finding.parts)
    for row in finding.rows:
        for name in names_in(row):
            names[name] = None
    return list(names)


def _part(finding: Finding, name: str) -> str:
    """The integration's own part of a finding; for a check not counted per integration,
    the workspace's summary said to be the workspace's."""
    part = finding.parts.get(name)
    if part is not None:
        return part
    return f"for the whole workspace, not {name} alone: {finding.summary}"
