"""Small builders shared by the engine tests: a workspace file and events as dicts."""

from __future__ import annotations

import copy
import json
from typing import Any

import sqlalchemy as sa

from leadsync.pipeline.inbox import IngestSummary
from leadsync.settings import WorkspaceConfig, load_config
from leadsync.store.schema import (
    DATA_TABLES,
    activities,
    activity_associations,
    activity_skips,
    counters,
    external_users,
    outbox,
    owner_decisions,
    record_associations,
    record_identities,
    records,
)
from leadsync.workspace import Workspace

# The workspace file of the core issue, exactly as written there.
EXAMPLE_YAML = """\
owners:
  - {id: "101", email: ana@acme.test, first_name: Ana, last_name: Ng}
  - {id: "102", email: bo@acme.test, first_name: Bo, last_name: Li}
  - {id: "103", email: cy@acme.test, first_name: Cy, last_name: Oh, active: false}
teams:
  sdr: ["101", "102"]
integrations:
  dialer:
    kind: generic
    users:
      auto_match: email            # or: none
      map: {"u-9": "102"}          # external user id -> owner id; beats auto-match
      directory:                   # external users the tool has
        - {id: "u-1", email: ANA@acme.test}
        - {id: "u-3", email: cy@acme.test}
      unmapped: {policy: round_robin, team: sdr}   # leave | fallback (owner: ID) | round_robin (team: NAME)
    ownership:
      default: fill_if_empty       # integration_wins | fill_if_empty | never_overwrite | bidirectional
      deal: never_overwrite        # per record type
      protect_manual_days: 14
      assign_on_activity: false    # true: an activity by a mapped rep fills an empty record owner
    activities:
      call: {enabled: true, min_duration_s: 10, skip_outcomes: [no_answer, busy]}
      email: {enabled: false}
      meeting: true
      note: true
      task: true
    associations:
      mode: automatic              # manual: only the records the event names
      primary: contact             # or: lead
      company: primary             # none | primary (the contact's primary company)
      deal: most_recent_open       # none | most_recent_open | all_open
      max_deals: 5
"""


OWNERS = [
    {"id": "101", "email": "ana@acme.test", "first_name": "Ana", "last_name": "Ng"},
    {"id": "102", "email": "bo@acme.test", "first_name": "Bo", "last_name": "Li"},
    {"id": "103", "email": "cy@acme.test", "first_name": "Cy", "last_name": "Oh", "active": False},
    {"id": "104", "email": "di@acme.test", "first_name": "Di", "last_name": "Ro"},
]


# The token the HubSpot stand-in of the tests accepts (not a secret; see conftest's ``hub``).
HUBSPOT_TOKEN = "pat-test-token-not-secret"


def settings(**overrides: Any) -> dict[str, Any]:
    """The issue's example integration settings, with sections replaced by ``overrides``."""
    base: dict[str, Any] = {
        "kind": "generic",
        "users": {
            "auto_match": "email",
            "map": {"u-9": "102"},
            "directory": [
                {"id": "u-1", "email": "ANA@acme.test"},
                {"id": "u-3", "email": "cy@acme.test"},
            ],
            "unmapped": {"policy": "round_robin", "team": "sdr"},
        },
        "ownership": {
            "default": "fill_if_empty",
            "deal": "never_overwrite",
            "protect_manual_days": 14,
            "assign_on_activity": False,
        },
        "activities": {
            "call": {"enabled": True, "min_duration_s": 10, "skip_outcomes": ["no_answer", "busy"]},
            "email": {"enabled": False},
            "meeting": True,
            "note": True,
            "task": True,
        },
        "associations": {
            "mode": "automatic",
            "primary": "contact",
            "company": "primary",
            "deal": "most_recent_open",
            "max_deals": 5,
        },
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return base


def hubspot_pushing_workspace(db_url: str, transport: Any) -> Workspace:
    """A workspace pushing to the HubSpot stand-in (``transport``; the token in
    ``HS_TEST_TOKEN``, which the caller sets): a dialer whose owners win, HubSpot's own
    webhooks as integration ``crm``, HubSpot set up."""
    doc = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {
            "dialer": settings(ownership={"default": "integration_wins"}),
            "crm": {"kind": "hubspot"},
        },
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN"},
    }
    workspace = Workspace(db_url, hubspot_transport=transport)
    workspace.apply_config(load_config(json.dumps(doc), "test.yaml"))
    workspace.hubspot_setup()
    return workspace


def workspace_config(integrations: dict[str, dict[str, Any]] | None = None) -> WorkspaceConfig:
    doc = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": integrations if integrations is not None else {"dialer": settings()},
    }
    return load_config(json.dumps(doc), "test.yaml")


def setup(ws: Workspace, **overrides: Any) -> None:
    ws.apply_config(workspace_config({"dialer": settings(**overrides)}))


_counter = {"n": 0}


def ev(kind: str, at: str = "2026-11-01T09:00:00Z", **fields: Any) -> dict[str, Any]:
    """An event dict; ``kind`` is record, owner or activity. Ids are unique unless given."""
    _counter["n"] += 1
    event: dict[str, Any] = {"id": f"t{_counter['n']}", "occurred_at": at, "type": kind}
    event.update(fields)
    return event


def contact_line(
    ext: str,
    owner: str | None,
    at: str = "2026-11-01T09:00:00Z",
    event_id: str | None = None,
    **properties: Any,
) -> str:
    """A contact record event as a JSONL line (email ``EXT@globex.test``); ``owner`` None
    leaves the owner out."""
    fields: dict[str, Any] = {
        "object": "contact",
        "external_id": ext,
        "properties": {"email": f"{ext}@globex.test", **properties},
    }
    if owner is not None:
        fields["owner"] = owner
    event = ev("record", at, **fields)
    if event_id is not None:
        event["id"] = event_id
    return json.dumps(event)


def call_line(
    ext: str, contact_ext: str, duration: int, at: str = "2026-11-01T10:00:00Z", owner: str = "u-1"
) -> str:
    """A connected call on a contact as a JSONL line."""
    return json.dumps(
        ev(
            "activity",
            at,
            activity="call",
            external_id=ext,
            owner=owner,
            properties={"duration_s": duration, "outcome": "connected"},
            associations=[{"object": "contact", "external_id": contact_ext}],
        )
    )


def run(
    ws: Workspace, *events: dict[str, Any], integration: str = "dialer", batch_size: int = 5000
) -> IngestSummary:
    lines = [json.dumps(e) for e in events]
    return ws.ingest(integration, lines, source="events.jsonl", batch_size=batch_size)


def record_by_external(ws: Workspace, external: str, integration: str = "dialer") -> dict[str, Any]:
    found = ws.find(external=f"{integration}:{external}")
    assert len(found) == 1, found
    return ws.record(found[0]["type"], found[0]["id"])


def owner_of(ws: Workspace, external: str, integration: str = "dialer") -> str | None:
    owner: str | None = record_by_external(ws, external, integration)["owner_id"]
    return owner


STATE_TABLES = (
    records,
    record_identities,
    record_associations,
    activities,
    activity_associations,
    owner_decisions,
    activity_skips,
    outbox,
    external_users,
    counters,
)


def reset_database(engine: sa.Engine) -> None:
    """Empty every table and restart the generated ids, as on a new workspace."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(t.name for t in DATA_TABLES)
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")
        else:  # SQLite reuses rowids from 1 once a table is empty
            for table in DATA_TABLES:
                connection.execute(sa.delete(table))


# Columns that say when a run happened, not what it decided: two runs of the same events
# decide the same, each at its own time (an owner decision's decided_at).
RUN_TIME_COLUMNS = {"owner_decisions": ("decided_at",)}


def snapshot(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables that hold decided state, in a stable order; without the
    columns of when each run decided (``RUN_TIME_COLUMNS``), so two runs compare equal."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with ws.engine.connect() as connection:
        for table in STATE_TABLES:
            left_out = RUN_TIME_COLUMNS.get(table.name, ())
            columns = [c for c in table.c if c.name not in left_out]
            rows = connection.execute(sa.select(*columns)).all()
            out[table.name] = sorted(
                tuple(json.dumps(v, sort_keys=True, default=str) for v in r) for r in rows
            )
    return out


# Kim's contact from the dialer, rep u-1 (Ana, owner 101): the event the face tests send first.
KIM_CONTACT: dict[str, Any] = {
    "id": "e1",
    "occurred_at": "2026-11-01T09:00:00Z",
    "type": "record",
    "object": "contact",
    "external_id": "p-1",
    "properties": {"email": "kim@globex.test"},
    "owner": "u-1",
}


def help_words(output: str) -> str:
    """A command's ``--help`` as one line of words: Rich wraps it in boxes at whatever width
    its console took when first imported, so a phrase may be cut by a line and a border."""
    return " ".join(output.translate({ord(c): " " for c in "│╭╮╰╯─"}).split())


def hubspot_property_change(
    object_id: int | str,
    name: str,
    value: str,
    event_id: int = 1,
    at_ms: int = 1_790_000_000_000,
) -> str:
    """A HubSpot webhook request body (a batch of one ``contact.propertyChange``, a person's
    change in HubSpot's UI), as an ingest line."""
    change = {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 1,
        "appId": 1,
        "occurredAt": at_ms,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": int(object_id),
        "propertyName": name,
        "propertyValue": value,
        "changeSource": "CRM_UI",
    }
    return json.dumps([change])


class Clock:
    """A clock a test moves (``now``), for code that takes one (``clock=``)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now
