"""Finding records a page at a time, and what HubSpot has of one: the console's records
pages (the CLI's ``records find`` answers exact questions through ``Workspace.find``).

A search is a prefix of one field, normalized as the engine stores it (an email or name in
lowercase, a domain as :func:`~leadsync.values.normalize_domain` leaves it), or an exact
``INTEGRATION:EXTERNAL_ID`` spelt as the integration's events spell it. Pages are keyset
pages (:mod:`leadsync.store.records`): ``after`` is the ``next`` of the page before.
"""

from __future__ import annotations

from typing import Any, cast, get_args

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.errors import UserError
from leadsync.model import PUSHED_RECORD_TYPES
from leadsync.results import ResultModel, agreeing, counted
from leadsync.sources import adapter_class
from leadsync.store import push as push_store
from leadsync.store import push_waiting, views
from leadsync.store import records as records_store
from leadsync.store.records import Cursor, SearchBy
from leadsync.values import normalize_domain, normalize_email
from leadsync.workspace_config import integration_settings

PAGE = 25
SEARCH_BY: tuple[str, ...] = get_args(SearchBy)
# What names a record of each pushed type (HubSpot finds a contact by its email, a company
# by its domain): a placeholder with none of them is not created.
NAMED_BY = {
    "contact": "email or name",
    "company": "domain or name",
    "deal": "name",
    "lead": "name or email",
}


class FoundRecord(ResultModel):
    id: int
    type: str
    owner_id: str | None
    email: str | None
    domain: str | None
    name: str | None
    placeholder: bool
    created_at: str


class RecordSearch(ResultModel):
    """One page of a search and where the next one starts (None: this is the last)."""

    by: str
    text: str
    records: list[FoundRecord] = Field(default_factory=list)
    next_key: str | None = None
    next_id: int | None = None


class HubSpotState(ResultModel):
    """What HubSpot has of a record, as far as the push knows."""

    destination: bool = Field(description="Whether a HubSpot destination is configured.")
    hubspot_id: str | None = None
    pushed_at: str | None = None
    queued: int = Field(0, description="Changes of the record waiting to be pushed.")
    queued_since: str | None = None
    failure: dict[str, Any] | None = Field(
        None, description="The newest unresolved input HubSpot refused for the record."
    )
    dismissed: dict[str, Any] | None = Field(
        None, description="Its newest refusal, when a person dismissed it (push failures)."
    )
    record_type: str | None = Field(None, description="The record's type.")
    unnamed: bool = Field(
        False,
        description="The push cannot create it yet: a placeholder nothing names (no name, "
        "domain or email); an event that names it queues it.",
    )
    links_waiting: int = Field(
        0,
        description="Links of objects HubSpot has (activities, records) to this record, "
        "which HubSpot lacks until the record is created there.",
    )

    @property
    def failure_head(self) -> str | None:
        """What the open failure of a record HubSpot has says of its last change (None:
        none): pushed without a value, not sent by leadsync's own check, or refused."""
        if self.failure is None:
            return None
        if self.failure.get("category") in push_store.WITHOUT_A_VALUE:
            return "pushed without a value"
        if self.failure.get("refused_by") == "leadsync":
            return "its last change was not sent (leadsync's own check)"
        return "HubSpot refused its last change"

    @property
    def state(self) -> str:
        """In a few words: no destination, not pushed yet, pushed, queued, refused (or not
        sent: leadsync's own check), not created (nothing names it, or a type the push does
        not send), or not pushed since a refusal was dismissed."""
        if not self.destination:
            return "no destination"
        if self.failure is not None:
            if self.failure.get("category") in push_store.WITHOUT_A_VALUE and self.hubspot_id:
                return "pushed, but for a value HubSpot would not take (its failure names it)"
            if self.failure.get("refused_by") == "leadsync":
                return "not sent (leadsync's own check before sending)"
            return "refused by HubSpot"
        if self.unnamed:
            links = (
                f"; {counted(self.links_waiting, 'link')} of objects HubSpot has "
                f"{agreeing(self.links_waiting, 'waits', 'wait')} for it, made then"
                if self.links_waiting
                else ""
            )
            named_by = NAMED_BY.get(str(self.record_type), "name")
            return (
                f"not created: nothing names it yet (it has no {named_by}); "
                f"created once an event gives it one{links}"
            )
        if self.queued:
            return "changes waiting to be pushed"
        if self.hubspot_id:
            return "pushed"
        if self.dismissed is not None:
            return "not in HubSpot: its refusal was dismissed (the next change queues it again)"
        if self.record_type is not None and self.record_type not in PUSHED_RECORD_TYPES:
            return (
                "not pushed: the push sends contacts, companies, deals and leads, "
                f"not {self.record_type}s"
            )
        return "not pushed yet"


def search(
    engine: Engine,
    rules: WorkspaceRules,
    by: str,
    text: str,
    after: tuple[str, int] | None = None,
    limit: int = PAGE,
) -> RecordSearch:
    """A page of the records whose ``by`` (email, domain, name, external) starts with
    ``text``; UserError for an unknown field or an empty text."""
    if by not in SEARCH_BY:
        raise UserError(f"search by {by!r} is not allowed; allowed: {', '.join(SEARCH_BY)}")
    key = _normalized(rules, by, text)
    if by == "external":  # a mistyped integration is no empty answer (as find refuses it)
        check_integration(engine, rules, text.strip().partition(":")[0])
    cursor = Cursor(*after) if after is not None else None
    with engine.connect() as connection:
        rows, following = records_store.search(connection, cast(SearchBy, by), key, limit, cursor)
    return RecordSearch(
        by=by,
        text=text.strip(),
        records=[FoundRecord(**row) for row in rows],
        next_key=following.key if following else None,
        next_id=following.id if following else None,
    )


def check_integration(engine: Engine, rules: WorkspaceRules, name: str | None) -> None:
    """A name to filter or look up by is a configured integration, or one the workspace has
    rows of — events, dead letters, audit entries or review questions (configured once,
    removed since: its rows stay); else NotFoundError naming the configured ones, rather
    than finding nothing."""
    if name is None or name in rules.integrations:
        return
    with engine.connect() as connection:
        if views.has_integration_rows(connection, name):
            return
    integration_settings(rules, name)


def _normalized(rules: WorkspaceRules, by: str, text: str) -> str:
    if not text.strip():
        raise UserError(f"type the start of the {by} to search for")
    if by == "email":
        return normalize_email(text)
    if by == "domain":
        return normalize_domain(text)
    if by == "name":
        return text.strip()  # lowered by the store, as its database lowers names
    integration, sep, external_id = text.strip().partition(":")
    if not sep or not integration or not external_id:
        raise UserError(f"{text!r}: expected INTEGRATION:EXTERNAL_ID, e.g. dialer:p-1")
    return f"{integration}\0{vendor_external_id(rules, integration, external_id)}"


def vendor_external_id(rules: WorkspaceRules, integration: str, external_id: str) -> str:
    """An external id as the integration's events spell it (its adapter's
    ``normalize_external_id``: a Salesforce 15-character id becomes 18); as given for an
    integration that is not configured."""
    settings = rules.integrations.get(integration)
    if settings is None:
        return external_id
    return adapter_class(settings.kind).normalize_external_id(None, external_id)


def hubspot_state(engine: Engine, rules: WorkspaceRules, record_id: int) -> HubSpotState:
    """The record's HubSpot id, when it was last pushed, what still waits, and the last
    refusal; only ``destination=False`` without a destination."""
    if not rules.push:
        return HubSpotState(destination=False)
    with engine.connect() as connection:
        pushed = push_store.load_pushed(connection, push_store.RECORD, [record_id]).get(record_id)
        waiting = records_store.push_state(connection, push_store.RECORD, record_id)
        unnamed = push_waiting.unnamed(connection, 1, [record_id])
        record_type = push_store.record_types(connection, [record_id]).get(record_id)
    return HubSpotState(
        destination=True,
        hubspot_id=pushed["hubspot_id"] if pushed else None,
        pushed_at=pushed["pushed_at"] if pushed else None,
        record_type=record_type,
        unnamed=bool(unnamed.total),
        links_waiting=unnamed.links,
        **waiting,
    )
