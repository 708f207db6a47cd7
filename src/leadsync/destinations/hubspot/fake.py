"""A stateful stand-in for the HubSpot endpoints leadsync's pusher calls ("the double").

HubSpot cannot be reached from tests, CI or the demo, so this module plays it: owners, the
token-info call, properties, objects (batch create/update/upsert/read/archive, search, get)
and associations v4, in both path styles (``/crm/v3/objects/...`` and the dated
``/crm/objects/2026-03/...``). It is not HubSpot and says so: every response carries
``X-Stand-In: leadsync-hubspot-double``.

One sans-I/O core, :class:`HubSpotDouble` (``handle(method, path, query, headers, body)``),
serves three ways: :meth:`HubSpotDouble.transport` (an ``httpx.MockTransport`` for unit
tests), :meth:`HubSpotDouble.asgi_app` (a plain ASGI app) and :func:`serve_double`
(uvicorn on a port, what ``leadsync hubspot fake`` runs). All state sits behind one lock.

Every API request goes through, in this order:

1. the contract: it is validated against ``openapi.yaml`` (leadsync's own description of
   these endpoints); what is wrong is appended to ``contract_violations``;
2. auth (``Authorization: Bearer <token>``) -> 401 ``INVALID_AUTHENTICATION``;
3. rate limits: the token's rolling 10 s window (``per_10s``), the daily cap on the double's
   clock, search's own 5/s -> 429 ``RATE_LIMIT``; then the ``rate_429_rate`` fault;
4. a contract violation -> 400 ``VALIDATION_ERROR`` naming what is wrong;
5. scopes -> 403 ``MISSING_SCOPES``;
6. the ``error_5xx_rate`` fault (nothing applied), the handler, the ``apply_then_fail_rate``
   fault (applied, then answered 502: a lost response).

Error bodies, as HubSpot documents them (every field optional for a client)::

    401/403/404/409/400  {"status": "error", "message", "correlationId", "category",
                          "errors"?: [{"message", "code"?, "context"?}], "context"?}
    429                  {"status": "error", "message", "errorType": "RATE_LIMIT",
                          "correlationId", "policyName": "TEN_SECONDLY_ROLLING" | "DAILY" |
                          "SECONDLY"}
    207 (batch)          {"status": "COMPLETE", "results": [...], "numErrors": N,
                          "errors": [{"status": "error", "category", "message",
                                      "context": {"objectWriteTraceId" | "ids": [...]}}],
                          "startedAt", "completedAt"}

Facts the double had to assume where HubSpot's docs are silent are marked ``Assumed:``.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import math
import random
import re
import sys
import threading
import time
import uuid
import zlib
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

import anyio.to_thread
import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request.exceptions import (
    InvalidParameter,
    InvalidRequestBody,
    MissingRequiredParameter,
    SecurityValidationError,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

STAND_IN_HEADER = "X-Stand-In"
STAND_IN_NAME = "leadsync-hubspot-double"
SPEC_HOST = "https://api.hubapi.com"

DEFAULT_APP_ID = 4_242_001
DEFAULT_HUB_ID = 42_424_242
DEFAULT_USER_ID = 7_000_001

# --------------------------------------------------------------------------- object types

OBJECT_TYPES: tuple[str, ...] = (
    "contacts",
    "companies",
    "deals",
    "leads",
    "calls",
    "emails",
    "meetings",
    "notes",
    "tasks",
)
ACTIVITY_TYPES: tuple[str, ...] = ("calls", "emails", "meetings", "notes", "tasks")
SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "leads": "lead",
    "calls": "call",
    "emails": "email",
    "meetings": "meeting",
    "notes": "note",
    "tasks": "task",
}
# HubSpot's object type ids (v4 association results name types by them).
OBJECT_TYPE_IDS = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "leads": "0-136",
    "calls": "0-48",
    "emails": "0-49",
    "meetings": "0-47",
    "notes": "0-46",
    "tasks": "0-27",
}

# --------------------------------------------------------------------------- associations

# HUBSPOT_DEFINED association types: (from, to, type id, inverse type id, label).
# The type ids in one direction are HubSpot's documented defaults (shared/HUBSPOT.md). The
# inverses of the record pairs (279/280, 1/2, 3/4, 341/342, 5/6) and of activity -> record
# (contact->call 193, contact->email 197, ..., deal->task 215) are documented too.
# Assumed: the lead inverses are the documented id + 1 (contact->lead 579 and 609,
# company->lead 611, call->lead 597, email->lead 599, meeting->lead 601, task->lead 647,
# note->lead 855), and lead->primary contact carries the label "Primary".
ASSOCIATION_TYPES: tuple[tuple[str, str, int, int, str | None], ...] = (
    ("contacts", "companies", 279, 280, None),
    ("contacts", "companies", 1, 2, "Primary"),
    ("deals", "contacts", 3, 4, None),
    ("deals", "companies", 341, 342, None),
    ("deals", "companies", 5, 6, "Primary"),
    ("calls", "contacts", 194, 193, None),
    ("calls", "companies", 182, 181, None),
    ("calls", "deals", 206, 205, None),
    ("emails", "contacts", 198, 197, None),
    ("emails", "companies", 186, 185, None),
    ("emails", "deals", 210, 209, None),
    ("meetings", "contacts", 200, 199, None),
    ("meetings", "companies", 188, 187, None),
    ("meetings", "deals", 212, 211, None),
    ("notes", "contacts", 202, 201, None),
    ("notes", "companies", 190, 189, None),
    ("notes", "deals", 214, 213, None),
    ("tasks", "contacts", 204, 203, None),
    ("tasks", "companies", 192, 191, None),
    ("tasks", "deals", 216, 215, None),
    ("leads", "contacts", 578, 579, "Primary"),
    ("leads", "contacts", 608, 609, None),
    ("leads", "companies", 610, 611, None),
    ("leads", "calls", 596, 597, None),
    ("leads", "emails", 598, 599, None),
    ("leads", "meetings", 600, 601, None),
    ("leads", "tasks", 646, 647, None),
    ("leads", "notes", 854, 855, None),
)
# A primary association always comes with the unlabelled one (as HubSpot shows it), and an
# object has at most one primary of each: a new one replaces the old.
PRIMARY_IMPLIES = {1: 279, 5: 341, 578: 608}
LEAD_PRIMARY_CONTACT = 578

# type id -> (from type, to type), both directions; type id -> the inverse; -> the label.
DIRECTED: dict[int, tuple[str, str]] = {}
INVERSE: dict[int, int] = {}
LABELS: dict[int, str | None] = {}
CANONICAL: set[int] = set()  # the "from" direction of each row: how links are stored
for _from, _to, _forward, _inverse, _label in ASSOCIATION_TYPES:
    DIRECTED[_forward] = (_from, _to)
    DIRECTED[_inverse] = (_to, _from)
    INVERSE[_forward], INVERSE[_inverse] = _inverse, _forward
    LABELS[_forward] = LABELS[_inverse] = _label
    CANONICAL.add(_forward)
_UNLABELLED_WITH_PRIMARY = {
    t for p, u in PRIMARY_IMPLIES.items() for t in (u, INVERSE[u])
}  # v3 calls these "..._unlabeled"

# --------------------------------------------------------------------------- scopes

# Private app scope names. Engagements (calls, emails, ...) are governed by the contacts
# scopes, as HubSpot documents. Assumed: the properties of engagements need the contacts
# schema scopes, and reading a property is allowed with the read or the write schema scope.
ALL_SCOPES: tuple[str, ...] = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.objects.leads.read",
    "crm.objects.leads.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
    "crm.schemas.companies.read",
    "crm.schemas.companies.write",
    "crm.schemas.deals.read",
    "crm.schemas.deals.write",
    "crm.schemas.leads.read",
    "crm.schemas.leads.write",
)


def _scope_object(object_type: str) -> str:
    return "contacts" if object_type in ACTIVITY_TYPES else object_type


# --------------------------------------------------------------------------- properties

# (name, label, type, fieldType) of HubSpot's default properties per object type.
_OWNER = ("hubspot_owner_id", "Owner", "enumeration", "select")
_RECORD_ID = ("hs_object_id", "Record ID", "number", "number")
_CREATED = ("createdate", "Create Date", "datetime", "date")
_MODIFIED = ("hs_lastmodifieddate", "Last Modified Date", "datetime", "date")
_ACTIVITY = (
    ("hs_timestamp", "Activity date", "datetime", "date"),
    _OWNER,
    ("hs_createdate", "Create date", "datetime", "date"),
    _MODIFIED,
    _RECORD_ID,
)
DEFAULT_PROPERTIES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "contacts": (
        ("email", "Email", "string", "text"),
        ("firstname", "First Name", "string", "text"),
        ("lastname", "Last Name", "string", "text"),
        ("phone", "Phone Number", "string", "phonenumber"),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber"),
        ("company", "Company Name", "string", "text"),
        ("jobtitle", "Job Title", "string", "text"),
        ("website", "Website URL", "string", "text"),
        ("city", "City", "string", "text"),
        ("state", "State/Region", "string", "text"),
        ("country", "Country/Region", "string", "text"),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio"),
        ("hs_lead_status", "Lead Status", "enumeration", "radio"),
        _OWNER,
        _CREATED,
        ("lastmodifieddate", "Last Modified Date", "datetime", "date"),
        _RECORD_ID,
    ),
    "companies": (
        ("name", "Company name", "string", "text"),
        ("domain", "Company Domain Name", "string", "text"),
        ("phone", "Phone Number", "string", "phonenumber"),
        ("industry", "Industry", "enumeration", "select"),
        ("city", "City", "string", "text"),
        ("state", "State/Region", "string", "text"),
        ("country", "Country/Region", "string", "text"),
        ("website", "Website URL", "string", "text"),
        ("numberofemployees", "Number of Employees", "number", "number"),
        ("annualrevenue", "Annual Revenue", "number", "number"),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio"),
        _OWNER,
        _CREATED,
        _MODIFIED,
        _RECORD_ID,
    ),
    "deals": (
        ("dealname", "Deal Name", "string", "text"),
        ("dealstage", "Deal Stage", "enumeration", "radio"),
        ("pipeline", "Pipeline", "enumeration", "select"),
        ("amount", "Amount", "number", "number"),
        ("closedate", "Close Date", "datetime", "date"),
        ("dealtype", "Deal Type", "enumeration", "radio"),
        ("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox"),
        ("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox"),
        _OWNER,
        _CREATED,
        _MODIFIED,
        _RECORD_ID,
    ),
    "leads": (
        ("hs_lead_name", "Lead name", "string", "text"),
        ("hs_pipeline", "Pipeline", "enumeration", "select"),
        ("hs_pipeline_stage", "Lead stage", "enumeration", "select"),
        ("hs_lead_type", "Lead type", "enumeration", "select"),
        ("hs_lead_label", "Lead label", "enumeration", "select"),
        _OWNER,
        _CREATED,
        _MODIFIED,
        _RECORD_ID,
    ),
    "calls": _ACTIVITY
    + (
        ("hs_call_title", "Call Title", "string", "text"),
        ("hs_call_body", "Call notes", "string", "html"),
        ("hs_call_direction", "Call direction", "enumeration", "select"),
        ("hs_call_duration", "Call duration", "number", "number"),
        ("hs_call_status", "Call status", "enumeration", "select"),
        ("hs_call_disposition", "Call outcome", "enumeration", "select"),
        ("hs_call_from_number", "From number", "string", "text"),
        ("hs_call_to_number", "To number", "string", "text"),
        ("hs_call_recording_url", "Recording URL", "string", "text"),
        ("hs_call_callee_object_id", "Callee object id", "number", "number"),
        ("hs_call_callee_object_type", "Callee object type", "enumeration", "select"),
    ),
    "emails": _ACTIVITY
    + (
        ("hs_email_direction", "Email direction", "enumeration", "select"),
        ("hs_email_status", "Email send status", "enumeration", "select"),
        ("hs_email_subject", "Email subject", "string", "text"),
        ("hs_email_text", "Email body", "string", "textarea"),
        ("hs_email_html", "Email HTML body", "string", "html"),
        ("hs_email_headers", "Email headers", "string", "textarea"),
    ),
    "meetings": _ACTIVITY
    + (
        ("hs_meeting_title", "Meeting name", "string", "text"),
        ("hs_meeting_body", "Meeting description", "string", "html"),
        ("hs_meeting_start_time", "Start time", "datetime", "date"),
        ("hs_meeting_end_time", "End time", "datetime", "date"),
        ("hs_meeting_outcome", "Meeting outcome", "enumeration", "select"),
        ("hs_meeting_location", "Location", "string", "text"),
        ("hs_meeting_external_url", "External URL", "string", "text"),
        ("hs_internal_meeting_notes", "Internal notes", "string", "html"),
    ),
    "notes": _ACTIVITY + (("hs_note_body", "Note body", "string", "html"),),
    "tasks": _ACTIVITY
    + (
        ("hs_task_subject", "Task title", "string", "text"),
        ("hs_task_body", "Task notes", "string", "html"),
        ("hs_task_status", "Task status", "enumeration", "select"),
        ("hs_task_priority", "Priority", "enumeration", "select"),
        ("hs_task_type", "Task type", "enumeration", "select"),
    ),
}
# Default options of enumerations the pusher writes (an enumeration not listed takes any
# value). From HubSpot's docs and shared/HUBSPOT.md.
DEFAULT_OPTIONS: dict[str, tuple[str, ...]] = {
    "hs_call_direction": ("INBOUND", "OUTBOUND"),
    "hs_call_status": (
        "BUSY",
        "CALLING_CRM_USER",
        "CANCELED",
        "COMPLETED",
        "CONNECTING",
        "FAILED",
        "IN_PROGRESS",
        "MISSED",
        "NO_ANSWER",
        "QUEUED",
        "RINGING",
    ),
    "hs_call_disposition": (
        "9d9162e7-6cf3-4944-bf63-4dff82258764",
        "f240bbac-87c9-4f6e-bf70-924b57d47db7",
        "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
        "b2cf5968-551e-4856-9783-52b3da59a7d0",
        "73a0d17f-1163-4015-bdd5-ec830791da20",
        "17b47fee-58de-441e-a44c-c6300d46f273",
    ),
    "hs_email_direction": ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
    "hs_email_status": ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT"),
    "hs_meeting_outcome": ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
    "hs_task_status": ("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
    "hs_task_priority": ("NONE", "LOW", "MEDIUM", "HIGH"),
    "hs_task_type": ("CALL", "EMAIL", "LINKED_IN", "MEETING", "TODO"),
}
UNIQUE_BY_DEFAULT = {("contacts", "email")}
GROUP_NAMES = {t: f"{SINGULAR[t]}information" for t in OBJECT_TYPES}
CREATED_PROPERTY = {
    t: "hs_createdate" if t in ACTIVITY_TYPES else "createdate" for t in OBJECT_TYPES
}
MODIFIED_PROPERTY = {
    t: "lastmodifieddate" if t == "contacts" else "hs_lastmodifieddate" for t in OBJECT_TYPES
}
READ_ONLY = {"hs_object_id", "lastmodifieddate", "hs_lastmodifieddate"}
# What reads return when no properties are asked for.
DEFAULT_READ = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
}

# --------------------------------------------------------------------------- limits, errors

BATCH_LIMIT = 100
SEARCH_PER_SECOND = 5
SEARCH_MAX_RESULTS = 10_000
WINDOW_S = 10.0
DAY_S = 86_400.0

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
    "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)
RATE_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "DAILY": "You have reached your daily limit.",
    # Assumed: search's own limit answers with policy SECONDLY.
    "SECONDLY": "You have reached your secondly limit.",
}
# Assumed: the bodies of 5xx answers (HubSpot documents only that they happen).
SERVER_ERRORS = {
    500: ("INTERNAL_ERROR", "internal error"),
    502: ("BAD_GATEWAY", "Bad Gateway"),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable"),
}


class Faults:
    """What the double does wrong on purpose, and its limits. Rates are fractions 0..1.

    ``error_5xx_rate``: requests answered 500/502/503, nothing applied. ``rate_429_rate``:
    requests answered 429 TEN_SECONDLY_ROLLING, nothing applied. ``latency_ms``: added to
    every API request. ``partial_207_rate``: inputs of batch create/update/upsert that fail
    with a per-input VALIDATION_ERROR, the rest applied (a create batch without trace ids is
    all-or-nothing, so there it fails the batch). ``apply_then_fail_rate``: requests applied,
    then answered 502 (a lost response). ``daily_cap`` and ``per_10s``: the rate limits.
    ``search_index_lag_s``: how long a write stays invisible to search. ``seed``: the random
    generator's seed (setting it restarts the sequence). ``contract_sample_rate``: the share of
    requests checked against openapi.yaml (1: every one, as the tests keep it; a benchmark may
    check fewer, and says so, since the check is most of the double's CPU).
    """

    __slots__ = (
        "contract_sample_rate",
        "error_5xx_rate",
        "rate_429_rate",
        "latency_ms",
        "partial_207_rate",
        "apply_then_fail_rate",
        "daily_cap",
        "per_10s",
        "search_index_lag_s",
        "seed",
    )

    def __init__(self, *, per_10s: int = 190, daily_cap: int = 625_000, seed: int = 0) -> None:
        self.contract_sample_rate = 1.0
        self.error_5xx_rate = 0.0
        self.rate_429_rate = 0.0
        self.latency_ms = 0.0
        self.partial_207_rate = 0.0
        self.apply_then_fail_rate = 0.0
        self.daily_cap = daily_cap
        self.per_10s = per_10s
        self.search_index_lag_s = 0.0
        self.seed = seed

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` (all checked first); ValueError names what is not allowed."""
        problems: list[str] = []
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in self.__slots__:
                problems.append(f"unknown fault {name!r}; allowed: {', '.join(self.__slots__)}")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{name}: {value!r} is not a number")
            elif name.endswith("_rate") and not 0 <= value <= 1:
                problems.append(f"{name}: {value!r} is not a fraction between 0 and 1")
            elif name in ("daily_cap", "per_10s", "seed") and (value != int(value) or value < 0):
                problems.append(f"{name}: {value!r} is not a whole number >= 0")
            elif value < 0:
                problems.append(f"{name}: {value!r} is negative")
            else:
                checked[name] = int(value) if name in ("daily_cap", "per_10s", "seed") else value
        if problems:
            raise ValueError("; ".join(problems))
        for name, value in checked.items():
            setattr(self, name, float(value) if isinstance(value, float) else value)


class ManualClock:
    """A clock tests move by hand (seconds). Pass it as ``clock`` and its :meth:`sleep` as
    ``sleep`` so that latency advances it instead of waiting."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


# --------------------------------------------------------------------------- state


@dataclass
class _Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    archived: bool
    teams: list[dict[str, Any]]
    created_at: str
    updated_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": None if self.archived else self.user_id,
            "userIdIncludingInactive": self.user_id,
            "type": "PERSON",
            "archived": self.archived,
            "teams": [dict(team) for team in self.teams],
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass
class _Object:
    type: str
    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool = False
    # (double-clock time of a write, properties then or None once archived): what search sees.
    versions: list[tuple[float, dict[str, str] | None]] = field(default_factory=list)

    def as_json(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        if names is None:
            props: dict[str, str | None] = dict(self.properties)
        else:
            wanted = [*names, "hs_object_id", CREATED_PROPERTY[self.type]]
            wanted.append(MODIFIED_PROPERTY[self.type])
            props = {name: self.properties.get(name) for name in dict.fromkeys(wanted)}
        return {
            "id": self.id,
            "properties": props,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }


@dataclass(frozen=True)
class _Link:
    """One association, stored in the canonical direction of its type (see ASSOCIATION_TYPES)."""

    from_type: str
    from_id: str
    to_type: str
    to_id: str
    type_id: int

    @classmethod
    def make(cls, from_type: str, from_id: str, to_id: str, type_id: int) -> _Link:
        to_type = DIRECTED[type_id][1]
        if type_id in CANONICAL:
            return cls(from_type, from_id, to_type, to_id, type_id)
        return cls(to_type, to_id, from_type, from_id, INVERSE[type_id])

    def seen_from(self, object_type: str, object_id: str) -> tuple[str, str, int]:
        """(other type, other id, type id in this direction)."""
        if (self.from_type, self.from_id) == (object_type, object_id):
            return self.to_type, self.to_id, self.type_id
        return self.from_type, self.from_id, INVERSE[self.type_id]


@dataclass
class _InputError:
    status: int
    category: str
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def for_input(self, context: dict[str, list[str]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": context,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass
class _Route:
    kind: str  # owners, token_info, property_create, property_read, batch, search, ...
    key: str  # the endpoint's name in the statistics
    params: dict[str, str]


@dataclass
class _Answer:
    status: int
    body: Any = None  # JSON, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


class _Stats:
    def __init__(self) -> None:
        self.by_endpoint: dict[str, Counter[int]] = {}
        self.by_status: Counter[int] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.inputs: dict[str, list[int]] = {}  # endpoint -> [requests, inputs, max]
        self.window: deque[float] = deque()
        self.search_window: deque[float] = deque()
        self.max_10s = 0
        self.max_search_1s = 0

    def arrived(self, now: float, search: bool) -> None:
        self.window.append(now)
        while self.window[0] <= now - WINDOW_S:
            self.window.popleft()
        self.max_10s = max(self.max_10s, len(self.window))
        if search:
            self.search_window.append(now)
            while self.search_window[0] <= now - 1.0:
                self.search_window.popleft()
            self.max_search_1s = max(self.max_search_1s, len(self.search_window))

    def answered(self, endpoint: str, status: int, inputs: int | None) -> None:
        self.by_endpoint.setdefault(endpoint, Counter())[status] += 1
        self.by_status[status] += 1
        if inputs is not None:
            entry = self.inputs.setdefault(endpoint, [0, 0, 0])
            entry[0] += 1
            entry[1] += inputs
            entry[2] = max(entry[2], inputs)

    def as_json(self) -> dict[str, Any]:
        requests = sum(self.by_status.values())
        errors = sum(n for status, n in self.by_status.items() if status >= 400)
        return {
            "requests": requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_endpoint": {
                name: {str(k): v for k, v in sorted(counts.items())}
                for name, counts in sorted(self.by_endpoint.items())
            },
            "errors": errors,
            "error_ratio": errors / requests if requests else 0.0,
            "rate_limited": sum(self.rate_limited.values()),
            "rate_limited_by_policy": dict(self.rate_limited),
            "inputs_per_request": {
                name: {"requests": r, "inputs": n, "max": m, "mean": n / r if r else 0.0}
                for name, (r, n, m) in sorted(self.inputs.items())
            },
            "max_requests_in_any_10s_window": self.max_10s,
            "max_search_requests_in_any_1s_window": self.max_search_1s,
        }


# --------------------------------------------------------------------------- the contract


@cache
def openapi_contract() -> OpenAPI:
    text = resources.files("leadsync.destinations.hubspot").joinpath("openapi.yaml").read_text()
    document = yaml.safe_load(text)
    # The schemas' $refs are inlined once: jsonschema resolves a $ref on every use, which was
    # most of the cost of checking a 100-input batch (38 ms -> 23 ms); the rules are the same.
    schemas = document.get("components", {}).get("schemas", {})
    document["paths"] = _inline_refs(document["paths"], schemas)
    return OpenAPI.from_dict(document)


def _inline_refs(node: Any, schemas: Mapping[str, Any], depth: int = 0) -> Any:
    """``node`` with ``{$ref: '#/components/schemas/X'}`` replaced by X (the schemas are not
    recursive; ``depth`` guards against one that would be)."""
    if depth > 50:
        raise ValueError("openapi.yaml: a schema refers to itself")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/") and len(node) == 1:
            return _inline_refs(schemas[ref.rsplit("/", 1)[1]], schemas, depth + 1)
        return {k: _inline_refs(v, schemas, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, schemas, depth) for v in node]
    return node


class _SpecRequest:
    """A request as openapi-core reads it."""

    def __init__(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> None:
        self.host_url = SPEC_HOST
        self.path = path
        self.method = method.lower()
        self.body: bytes | None = None
        self.content_type = headers.get("content-type", "").lower()
        pairs = [(k, v) for k, values in query.items() for v in values]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(pairs), header=Headers(dict(headers))
        )


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_problems(where: str, exc: BaseException) -> list[str]:
    """Readable lines for openapi-core's schema errors (jsonschema ValidationErrors)."""
    cause = exc.__cause__
    if not isinstance(cause, InvalidSchemaValue):
        return [f"{where}: {exc}"]
    out = []
    for error in cause.schema_errors:
        path: Iterable[Any] = getattr(error, "path", ())
        at = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        validator = getattr(error, "validator", None)
        limit = getattr(error, "validator_value", None)
        instance = getattr(error, "instance", None)
        if validator == "maxItems" and isinstance(instance, list):
            what = f"has {len(instance)} items; at most {limit} allowed"
        elif validator == "minItems" and isinstance(instance, list):
            what = f"has {len(instance)} items; at least {limit} needed"
        elif validator == "type":
            what = f"{_short(instance)} is not of type {limit!r}"
        elif validator == "enum":
            what = f"{_short(instance)} is not one of {limit}"
        else:
            message = str(getattr(error, "message", error))
            what = message if len(message) <= 200 else message[:197] + "..."
        out.append(f"{at}: {what}")
    return out or [f"{where}: {exc}"]


def _contract_problems(
    method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str], body: bytes
) -> list[str]:
    """What is wrong with a request by openapi.yaml (empty: nothing)."""
    request = _SpecRequest(method, path, query, headers)
    request.body = body or None
    try:
        openapi_contract().validate_request(request)
    except PathError as exc:
        return [f"not in openapi.yaml ({type(exc).__name__})"]
    except InvalidRequestBody as exc:
        return _schema_problems("body", exc)
    except InvalidParameter as exc:
        return _schema_problems(f"{exc.location} parameter {exc.name}", exc)
    except MissingRequiredParameter as exc:
        return [f"{exc.location} parameter {exc.name} is required"]
    except SecurityValidationError:
        return ["the Authorization header (Bearer token) is missing"]
    except Exception as exc:  # openapi-core's other request errors (body missing, bad JSON, ...)
        message, cause = str(exc), exc.__cause__
        if cause is not None and str(cause) not in message:
            message += f": {cause}"
        return [message]
    return []


# --------------------------------------------------------------------------- the double


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _time_ms(value: str) -> float | None:
    """A datetime property value (epoch milliseconds or ISO 8601) in milliseconds."""
    if value.isdigit():
        return float(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000


def _parse_query(query: Mapping[str, list[str]] | str | bytes) -> dict[str, list[str]]:
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    if isinstance(query, str):
        return parse_qs(query, keep_blank_values=True)
    return {k: list(v) for k, v in query.items()}


_OBJECTS = r"/crm/(?:v3/objects|objects/[^/]+)/(?P<type>[^/]+)"
_ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), kind)
    for method, pattern, kind in (
        ("GET", r"/crm/(?:v3/owners|owners/[^/]+)/?", "owners"),
        ("POST", r"/oauth/v2/private-apps/get/access-token-info", "token_info"),
        ("POST", r"/crm/(?:v3/properties|properties/[^/]+)/(?P<type>[^/]+)", "property_create"),
        (
            "GET",
            r"/crm/(?:v3/properties|properties/[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)",
            "property_read",
        ),
        ("POST", _OBJECTS + r"/batch/(?P<op>create|update|upsert|read|archive)", "batch"),
        ("POST", _OBJECTS + r"/search", "search"),
        ("GET", _OBJECTS + r"/(?P<id>[^/]+)", "object_read"),
        (
            "POST",
            r"/crm/(?:v4/associations|associations/[^/]+)/(?P<from>[^/]+)/(?P<to>[^/]+)"
            r"/batch/(?P<op>create|read)",
            "associations",
        ),
    )
)


def _route(method: str, path: str) -> _Route | None:
    for route_method, pattern, kind in _ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            if kind == "owners":
                key = "GET owners"
            elif kind == "token_info":
                key = "POST token-info"
            elif kind == "property_create":
                key = f"POST properties/{params['type']}"
            elif kind == "property_read":
                key = f"GET properties/{params['type']}/{{name}}"
            elif kind == "batch":
                key = f"POST objects/{params['type']}/batch/{params['op']}"
            elif kind == "search":
                key = f"POST objects/{params['type']}/search"
            elif kind == "object_read":
                key = f"GET objects/{params['type']}/{{id}}"
            else:
                key = f"POST associations/{params['from']}/{params['to']}/batch/{params['op']}"
            return _Route(kind, key, params)
    return None


class HubSpotDouble:
    """The stand-in's state and behaviour. Thread-safe; see the module docstring.

    ``token`` is the one private app token it accepts (never printed or logged); ``scopes``
    what that token was granted. ``clock`` (seconds, monotonic) drives rate windows, the day
    of the daily cap and search's index lag; ``wall_clock`` the timestamps in bodies;
    ``sleep`` the injected latency.
    """

    def __init__(
        self,
        token: str,
        *,
        scopes: Iterable[str] = ALL_SCOPES,
        per_10s: int = 190,
        daily: int = 625_000,
        app_id: int = DEFAULT_APP_ID,
        hub_id: int = DEFAULT_HUB_ID,
        user_id: int = DEFAULT_USER_ID,
        seed: int = 0,
        search_index_lag_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise ValueError("the double needs a token to accept")
        self._token = token
        self.scopes = frozenset(scopes)
        self.app_id = app_id
        self.hub_id = hub_id
        self.user_id = user_id
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = threading.RLock()
        self._initial = (per_10s, daily, seed, search_index_lag_s)
        self.control_requires_auth = False
        self.contract_violations: list[str] = []
        self.reset()

    # ------------------------------------------------------------------ state, seeding

    def reset(self) -> None:
        """Forget every object, owner, custom property, statistic and violation; faults back
        to their defaults."""
        per_10s, daily, seed, lag = self._initial
        with self._lock:
            self._faults = Faults(per_10s=per_10s, daily_cap=daily, seed=seed)
            self._faults.search_index_lag_s = lag
            self._random = random.Random(seed)
            self._ids_random = random.Random(seed)
            self._contract_random = random.Random(seed)
            self._objects: dict[str, dict[str, _Object]] = {t: {} for t in OBJECT_TYPES}
            self._unique: dict[tuple[str, str], dict[str, str]] = {}
            self._links: dict[tuple[str, str], set[_Link]] = {}
            self._owners: dict[str, _Owner] = {}
            self._properties: dict[str, dict[str, dict[str, Any]]] = {}
            now = _iso(self._wall_clock())
            for object_type, rows in DEFAULT_PROPERTIES.items():
                defs = self._properties[object_type] = {}
                for name, label, kind, field_type in rows:
                    defs[name] = self._property_json(
                        object_type,
                        name,
                        label,
                        kind,
                        field_type,
                        unique=(object_type, name) in UNIQUE_BY_DEFAULT,
                        options=DEFAULT_OPTIONS.get(name, ()),
                        created=now,
                    )
                    if (object_type, name) in UNIQUE_BY_DEFAULT:
                        self._unique[(object_type, name)] = {}
            self._next_object_id = 1001
            self._next_owner_id = 30_000_001
            self._next_user_id = 8_000_001
            self._accepted: deque[float] = deque()
            self._search_accepted: deque[float] = deque()
            self._day = math.floor(self._clock() / DAY_S)
            self._day_count = 0
            self._stats = _Stats()
            self.contract_violations.clear()

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change faults and limits (see :class:`Faults`); returns them all."""
        with self._lock:
            self._faults.update(changes)
            if "seed" in changes:
                self._random = random.Random(self._faults.seed)
            return self._faults.as_dict()

    def add_owner(
        self,
        email: str,
        first_name: str = "",
        last_name: str = "",
        *,
        archived: bool = False,
        teams: Iterable[str] = (),
        owner_id: str | None = None,
        user_id: int | None = None,
    ) -> dict[str, Any]:
        """Add an owner (an archived one is a deactivated user: ``userId`` null). ``teams``
        are team names, the first one primary. Returns the owner as the API shows it."""
        with self._lock:
            if owner_id is None:
                owner_id = str(self._next_owner_id)
                self._next_owner_id += 1
            elif owner_id in self._owners:
                raise ValueError(f"owner id {owner_id} exists already")
            if user_id is None:
                user_id = self._next_user_id
                self._next_user_id += 1
            now = _iso(self._wall_clock())
            team_list = [
                {"id": str(zlib.crc32(name.encode()) % 10_000_000), "name": name, "primary": i == 0}
                for i, name in enumerate(teams)
            ]
            owner = _Owner(
                owner_id, email, first_name, last_name, user_id, archived, team_list, now, now
            )
            self._owners[owner_id] = owner
            return owner.as_json()

    def add_property(
        self,
        object_type: str,
        name: str,
        *,
        label: str | None = None,
        type: str = "string",
        field_type: str = "text",
        unique: bool = False,
        options: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Add a property as a HubSpot admin would (ValueError if it exists)."""
        with self._lock:
            defs = self._defs(object_type)
            if name in defs:
                raise ValueError(f"{object_type} has a property {name!r} already")
            defs[name] = self._property_json(
                object_type,
                name,
                label or name,
                type,
                field_type,
                unique=unique,
                options=tuple(options),
                created=_iso(self._wall_clock()),
            )
            if unique:
                self._unique[(object_type, name)] = {}
            return dict(defs[name])

    def add_object(
        self,
        object_type: str,
        properties: Mapping[str, str],
        *,
        associations: Iterable[tuple[str, int]] = (),
    ) -> str:
        """Add an object that exists in HubSpot already (e.g. a contact leadsync should match
        rather than duplicate); ``associations`` are (to id, type id from this object). The
        same rules as the API apply; a broken one raises ValueError. Returns the new id."""
        with self._lock:
            self._defs(object_type)
            assoc = [
                {
                    "to": {"id": to_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}],
                }
                for to_id, t in associations
            ]
            staged: dict[tuple[str, str], dict[str, str]] = {}
            new_id = self._take_id()
            error = self._check_write(object_type, dict(properties), None, staged, new_id)
            error = error or self._check_create_associations(object_type, assoc)
            if error:
                raise ValueError(f"cannot add to {object_type}: {error.message}")
            self._store_new(object_type, new_id, dict(properties), assoc)
            return new_id

    def update_object(
        self, object_type: str, object_id: str, properties: Mapping[str, str]
    ) -> dict[str, Any]:
        """Change properties as a person in HubSpot would (e.g. reassign the owner between a
        read and a write, for compare-and-set tests). ValueError if a rule is broken."""
        with self._lock:
            obj = self._live(object_type, object_id)
            if obj is None:
                raise KeyError(f"no {SINGULAR.get(object_type, object_type)} {object_id}")
            error = self._check_write(object_type, dict(properties), obj, {}, obj.id)
            if error:
                raise ValueError(f"cannot update {object_type} {object_id}: {error.message}")
            self._apply_update(obj, dict(properties))
            return self._view(obj)

    def set_owner(self, object_type: str, object_id: str, owner_id: str) -> dict[str, Any]:
        """Reassign an object to another owner, as a person in HubSpot would."""
        return self.update_object(object_type, object_id, {"hubspot_owner_id": owner_id})

    # ------------------------------------------------------------------ inspection

    def objects(self, object_type: str, *, archived: bool = False) -> list[dict[str, Any]]:
        """Every object of a type (with owner and associations), oldest first."""
        with self._lock:
            self._defs(object_type)
            return [
                self._view(obj)
                for obj in self._objects[object_type].values()
                if obj.archived == archived
            ]

    def get_object(self, object_type: str, object_id: str) -> dict[str, Any]:
        """One object with its properties, its owner and its associations in both directions
        (``associations[type] = [{"id", "typeIds"}]``). KeyError if unknown."""
        with self._lock:
            self._defs(object_type)
            obj = self._objects[object_type].get(object_id)
            if obj is None:
                raise KeyError(f"no {SINGULAR[object_type]} {object_id}")
            return self._view(obj)

    def duplicates(self, object_type: str, property_name: str) -> dict[str, list[str]]:
        """Values of ``property_name`` held by more than one live object -> their ids. Empty
        when leadsync pushes right (e.g. ``leadsync_id``, ``email``)."""
        with self._lock:
            self._defs(object_type)
            holders: dict[str, list[str]] = {}
            for obj in self._objects[object_type].values():
                value = obj.properties.get(property_name)
                if not obj.archived and value:
                    key = value.lower() if property_name == "email" else value
                    holders.setdefault(key, []).append(obj.id)
            return {value: ids for value, ids in holders.items() if len(ids) > 1}

    def association_count(self, type_a: str | None = None, type_b: str | None = None) -> int:
        """How many distinct pairs of live objects are associated (a pair linked with a
        primary and an unlabelled type counts once), optionally between two types only."""
        with self._lock:
            pairs = set()
            for links in self._links.values():
                for link in links:
                    ends = {link.from_type, link.to_type}
                    if type_a is not None and type_a not in ends:
                        continue
                    if type_b is not None and ends != {type_a, type_b}:
                        continue
                    if self._live(link.from_type, link.from_id) and self._live(
                        link.to_type, link.to_id
                    ):
                        pairs.add((link.from_type, link.from_id, link.to_type, link.to_id))
            return len(pairs)

    def stats(self) -> dict[str, Any]:
        """Requests by endpoint and status, errors and their ratio, 429s, inputs per request,
        the most requests in any 10 s window (and searches in any 1 s), contract violations,
        objects and associations held."""
        with self._lock:
            out = self._stats.as_json()
            out["contract_violations"] = list(self.contract_violations)
            out["objects"] = {
                t: sum(1 for o in objs.values() if not o.archived)
                for t, objs in self._objects.items()
            }
            out["associations"] = self.association_count()
            return out

    def assert_contract_kept(self) -> None:
        """Raise AssertionError listing every request that broke openapi.yaml."""
        with self._lock:
            problems = list(self.contract_violations)
        if problems:
            listed = "\n".join(f"  - {p}" for p in problems)
            raise AssertionError(f"{len(problems)} request(s) broke openapi.yaml:\n{listed}")

    # ------------------------------------------------------------------ serving

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering in-process (use with a sync ``httpx.Client``)."""

        def answer(request: httpx.Request) -> httpx.Response:
            status, headers, body = self.handle(
                request.method,
                request.url.path,
                request.url.query.decode("latin-1"),
                request.headers,
                request.read(),
            )
            return httpx.Response(status, headers=headers, content=body)

        return httpx.MockTransport(answer)

    def asgi_app(self, *, control_requires_auth: bool = False) -> _DoubleApp:
        """A plain ASGI app serving this double (``/_double/*`` needs the token when
        ``control_requires_auth``)."""
        self.control_requires_auth = control_requires_auth
        return _DoubleApp(self)

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]] | str | bytes,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: (status, headers, body)."""
        method = method.upper()
        params = _parse_query(query)
        lowered = {k.lower(): v for k, v in headers.items()}
        if path == "/_double" or path.startswith("/_double/"):
            answer = self._control(method, path, params, lowered, body)
        else:
            latency = self._faults.latency_ms
            if latency > 0:
                self._sleep(latency / 1000)
            with self._lock:
                answer = self._api(method, path, params, lowered, body)
        out_headers = {STAND_IN_HEADER: STAND_IN_NAME, **answer.headers}
        if answer.body is None:
            return answer.status, out_headers, b""
        out_headers["Content-Type"] = "application/json;charset=utf-8"
        return answer.status, out_headers, json.dumps(answer.body).encode()

    # ------------------------------------------------------------------ the API pipeline

    def _api(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> _Answer:
        now = self._clock()
        if re.fullmatch(r"/crm/(?:v3/owners|owners/[^/]+)", path):
            path += "/"  # HubSpot answers owners with or without the slash
        route = _route(method, path)
        endpoint = route.key if route else "other"
        self._stats.arrived(now, search=route is not None and route.kind == "search")
        sample = self._faults.contract_sample_rate
        checked = sample >= 1 or self._contract_random.random() < sample
        problems = _contract_problems(method, path, query, headers, body) if checked else []
        for problem in problems:
            self.contract_violations.append(f"{method} {path}: {problem}")
        parsed: Any = None
        if not problems and body:
            parsed = json.loads(body)
        inputs = None
        if isinstance(parsed, dict) and isinstance(parsed.get("inputs"), list):
            inputs = len(parsed["inputs"])
        answer = self._answer(now, method, path, route, query, headers, problems, parsed)
        # HubSpot names every response in a header too (what its support asks for).
        correlation = answer.body.get("correlationId") if isinstance(answer.body, dict) else None
        answer.headers.setdefault("X-HubSpot-Correlation-Id", correlation or self._correlation_id())
        self._stats.answered(endpoint, answer.status, inputs)
        if answer.status == 429 and isinstance(answer.body, dict):
            self._stats.rate_limited[answer.body["policyName"]] += 1
        return answer

    def _answer(
        self,
        now: float,
        method: str,
        path: str,
        route: _Route | None,
        query: dict[str, list[str]],
        headers: dict[str, str],
        problems: list[str],
        body: Any,
    ) -> _Answer:
        if route is not None and route.kind == "token_info":
            if problems:
                return self._invalid(problems)
            return self._token_info(body)
        if headers.get("authorization", "") != f"Bearer {self._token}":
            return self._error(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
        search = route is not None and route.kind == "search"
        limited = self._take_rate(now, search)
        if limited is not None:
            return limited
        rate_headers = {} if search else self._rate_headers()
        faults = self._faults
        if faults.rate_429_rate and self._random.random() < faults.rate_429_rate:
            return self._rate_limited("TEN_SECONDLY_ROLLING", rate_headers)
        answer = self._dispatch(now, method, path, route, query, problems, body)
        answer.headers.update(rate_headers)
        return answer

    def _dispatch(
        self,
        now: float,
        method: str,
        path: str,
        route: _Route | None,
        query: dict[str, list[str]],
        problems: list[str],
        body: Any,
    ) -> _Answer:
        if route is None:
            return self._error(404, "OBJECT_NOT_FOUND", f"No endpoint at {method} {path}")
        if problems:
            return self._invalid(problems)
        unknown = [
            route.params[k]
            for k in ("type", "from", "to")
            if k in route.params and route.params[k] not in OBJECT_TYPES
        ]
        if unknown:
            return self._error(
                404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {unknown[0]}"
            )
        missing = self._missing_scopes(route)
        if missing:
            return self._missing_scope_answer(missing)
        faults = self._faults
        if faults.error_5xx_rate and self._random.random() < faults.error_5xx_rate:
            status = self._random.choice(sorted(SERVER_ERRORS))
            category, message = SERVER_ERRORS[status]
            return self._error(status, category, message)
        answer = self._handler(now, route, query, body)
        if faults.apply_then_fail_rate and self._random.random() < faults.apply_then_fail_rate:
            category, message = SERVER_ERRORS[502]
            return self._error(502, category, message)
        return answer

    def _handler(
        self, now: float, route: _Route, query: dict[str, list[str]], body: Any
    ) -> _Answer:
        p = route.params
        if route.kind == "owners":
            return self._list_owners(query)
        if route.kind == "property_read":
            return self._read_property(p["type"], p["name"])
        if route.kind == "property_create":
            return self._create_property(p["type"], body)
        if route.kind == "object_read":
            return self._read_object(p["type"], p["id"], query)
        if route.kind == "search":
            return self._search(now, p["type"], body)
        if route.kind == "associations":
            if p["op"] == "create":
                return self._associate(p["from"], p["to"], body["inputs"])
            return self._read_associations(p["from"], p["to"], body["inputs"])
        op, object_type = p["op"], p["type"]
        if op == "create":
            return self._batch_create(object_type, body["inputs"])
        if op == "update":
            return self._batch_update(object_type, body["inputs"])
        if op == "upsert":
            return self._batch_upsert(object_type, body["inputs"])
        if op == "read":
            return self._batch_read(object_type, body)
        return self._batch_archive(now, object_type, body["inputs"])

    # ------------------------------------------------------------------ auth, scopes, limits

    def _token_info(self, body: Any) -> _Answer:
        if body.get("tokenKey") != self._token:
            return self._error(
                401, "INVALID_AUTHENTICATION", "The token provided is invalid or unknown."
            )
        return _Answer(
            200,
            {
                "userId": self.user_id,
                "hubId": self.hub_id,
                "appId": self.app_id,
                "scopes": sorted(self.scopes),
            },
        )

    def _missing_scopes(self, route: _Route) -> list[str]:
        """The scopes the route needs that the token lacks: each group needs any one of it."""
        p = route.params
        groups: list[list[str]]
        if route.kind == "owners":
            groups = [["crm.objects.owners.read"]]
        elif route.kind == "property_read":
            base = f"crm.schemas.{_scope_object(p['type'])}"
            groups = [[f"{base}.read", f"{base}.write"]]
        elif route.kind == "property_create":
            groups = [[f"crm.schemas.{_scope_object(p['type'])}.write"]]
        elif route.kind == "associations":
            access = "write" if p["op"] == "create" else "read"
            groups = [
                [f"crm.objects.{_scope_object(t)}.{access}"]
                for t in dict.fromkeys((p["from"], p["to"]))
            ]
        else:
            writes = route.kind == "batch" and p["op"] not in ("read",)
            groups = [[f"crm.objects.{_scope_object(p['type'])}.{'write' if writes else 'read'}"]]
        for group in groups:
            if not self.scopes.intersection(group):
                return group
        return []

    def _missing_scope_answer(self, required: list[str]) -> _Answer:
        answer = self._error(403, "MISSING_SCOPES", SCOPES_MESSAGE)
        answer.body["errors"] = [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": required},
            }
        ]
        answer.body["links"] = {"scopes": "https://developers.hubspot.com/scopes"}
        return answer

    def _take_rate(self, now: float, search: bool) -> _Answer | None:
        """Count the request against the token's limits, or answer 429 (not counted).
        Assumed: a rejected request does not use up the window; searches count against the
        10-second and daily limits as well as their own 5 per second."""
        faults = self._faults
        day = math.floor(now / DAY_S)
        if day != self._day:
            self._day, self._day_count = day, 0
        while self._accepted and self._accepted[0] <= now - WINDOW_S:
            self._accepted.popleft()
        while self._search_accepted and self._search_accepted[0] <= now - 1.0:
            self._search_accepted.popleft()
        if self._day_count >= faults.daily_cap:
            return self._rate_limited("DAILY", self._rate_headers())
        if len(self._accepted) >= faults.per_10s:
            return self._rate_limited("TEN_SECONDLY_ROLLING", self._rate_headers())
        if search and len(self._search_accepted) >= SEARCH_PER_SECOND:
            return self._rate_limited("SECONDLY", {})
        self._accepted.append(now)
        self._day_count += 1
        if search:
            self._search_accepted.append(now)
        return None

    def _rate_headers(self) -> dict[str, str]:
        faults = self._faults
        return {
            "X-HubSpot-RateLimit-Max": str(faults.per_10s),
            "X-HubSpot-RateLimit-Remaining": str(max(0, faults.per_10s - len(self._accepted))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000)),
            "X-HubSpot-RateLimit-Daily": str(faults.daily_cap),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, faults.daily_cap - self._day_count)),
        }

    def _rate_limited(self, policy: str, headers: dict[str, str]) -> _Answer:
        body = {
            "status": "error",
            "message": RATE_MESSAGES[policy],
            "errorType": "RATE_LIMIT",
            "correlationId": self._correlation_id(),
            "policyName": policy,
        }
        return _Answer(429, body, dict(headers))

    # ------------------------------------------------------------------ answers

    def _correlation_id(self) -> str:
        return str(uuid.UUID(int=self._ids_random.getrandbits(128), version=4))

    def _error(self, status: int, category: str, message: str, **extra: Any) -> _Answer:
        body = {
            "status": "error",
            "message": message,
            "correlationId": self._correlation_id(),
            "category": category,
            **extra,
        }
        return _Answer(status, body)

    def _invalid(self, problems: list[str]) -> _Answer:
        return self._error(
            400,
            "VALIDATION_ERROR",
            "Invalid input JSON: " + "; ".join(problems),
            errors=[{"message": p, "code": "INVALID_INPUT"} for p in problems],
        )

    def _batch_answer(
        self,
        ok_status: int,
        started: str,
        results: list[dict[str, Any]],
        errors: list[dict[str, Any]],
    ) -> _Answer:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        body["startedAt"] = started
        body["completedAt"] = _iso(self._wall_clock())
        return _Answer(207 if errors else ok_status, body)

    def _batch_failure(self, error: _InputError) -> _Answer:
        extra = {"errors": error.errors} if error.errors else {}
        return self._error(error.status, error.category, error.message, **extra)

    # ------------------------------------------------------------------ owners, properties

    def _list_owners(self, query: dict[str, list[str]]) -> _Answer:
        limit = int(query.get("limit", ["100"])[0])
        archived = query.get("archived", ["false"])[0].lower() == "true"
        email = query.get("email", [None])[0]
        after = query.get("after", [None])[0]
        owners = sorted(
            (o for o in self._owners.values() if o.archived == archived),
            key=lambda o: int(o.id) if o.id.isdigit() else 0,
        )
        if email:
            owners = [o for o in owners if o.email.lower() == email.lower()]
        start = 0
        if after:
            if not after.isdigit():
                return self._error(400, "VALIDATION_ERROR", f"after {after!r} is not a cursor")
            start = int(after)
        page = owners[start : start + limit]
        body: dict[str, Any] = {"results": [o.as_json() for o in page]}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return _Answer(200, body)

    def _defs(self, object_type: str) -> dict[str, dict[str, Any]]:
        if object_type not in self._properties:
            raise KeyError(f"unknown object type {object_type!r}; known: {', '.join(OBJECT_TYPES)}")
        return self._properties[object_type]

    @staticmethod
    def _property_json(
        object_type: str,
        name: str,
        label: str,
        kind: str,
        field_type: str,
        *,
        unique: bool,
        options: Iterable[str],
        created: str,
    ) -> dict[str, Any]:
        return {
            "name": name,
            "label": label,
            "type": kind,
            "fieldType": field_type,
            "groupName": GROUP_NAMES[object_type],
            "description": "",
            "hasUniqueValue": unique,
            "calculated": False,
            "externalOptions": False,
            "hidden": False,
            "formField": False,
            "displayOrder": -1,
            "archived": False,
            "options": [
                {"label": o, "value": o, "displayOrder": i, "hidden": False}
                for i, o in enumerate(options)
            ],
            "createdAt": created,
            "updatedAt": created,
        }

    def _read_property(self, object_type: str, name: str) -> _Answer:
        prop = self._properties[object_type].get(name)
        if prop is None:
            return self._error(
                404,
                "OBJECT_NOT_FOUND",
                f"Unable to find property {name} for object type {object_type}",
            )
        return _Answer(200, dict(prop))

    def _create_property(self, object_type: str, body: Any) -> _Answer:
        defs = self._properties[object_type]
        name = body["name"]
        if name in defs:
            return self._error(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"Property named '{name}' already exists.",
                context={"name": [name]},
            )
        options = [o["value"] for o in body.get("options", [])]
        defs[name] = self._property_json(
            object_type,
            name,
            body["label"],
            body["type"],
            body["fieldType"],
            unique=bool(body.get("hasUniqueValue", False)),
            options=options,
            created=_iso(self._wall_clock()),
        )
        defs[name]["groupName"] = body["groupName"]
        defs[name]["description"] = body.get("description", "")
        if defs[name]["hasUniqueValue"]:
            self._unique[(object_type, name)] = {}
        return _Answer(201, dict(defs[name]))

    # ------------------------------------------------------------------ object rules

    def _take_id(self) -> str:
        new_id = str(self._next_object_id)
        self._next_object_id += 1
        return new_id

    def _live(self, object_type: str, object_id: str) -> _Object | None:
        obj = self._objects.get(object_type, {}).get(object_id)
        return obj if obj is not None and not obj.archived else None

    def _by_unique(self, object_type: str, name: str, value: str) -> _Object | None:
        key = value.lower() if name == "email" else value
        holder = self._unique.get((object_type, name), {}).get(key)
        return None if holder is None else self._live(object_type, holder)

    def _is_unique(self, object_type: str, name: str) -> bool:
        return (object_type, name) in self._unique

    def _check_write(
        self,
        object_type: str,
        props: dict[str, str],
        current: _Object | None,
        staged: dict[tuple[str, str], dict[str, str]],
        new_id: str,
    ) -> _InputError | None:
        """What HubSpot would refuse in one input's properties (None: nothing). ``current``
        is the object being updated (None: a create); ``staged`` holds the unique values of
        earlier inputs of the same batch, ``new_id`` the id this input writes."""
        defs = self._properties[object_type]
        invalid: list[dict[str, Any]] = []

        def refuse(name: str, code: str, message: str) -> None:
            invalid.append(
                {
                    "isValid": False,
                    "message": message,
                    "error": code,
                    "name": name,
                    "localizedErrorMessage": message,
                }
            )

        for name, value in props.items():
            prop = defs.get(name)
            if prop is None:
                refuse(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            elif name in READ_ONLY:
                refuse(
                    name,
                    "READ_ONLY_VALUE",
                    f"{name} is a read only property; its value cannot be set.",
                )
            elif value == "":
                continue
            elif name == "hubspot_owner_id":
                if value not in self._owners:
                    refuse(name, "INVALID_OWNER_ID", f"{value} was not a valid owner id")
            elif prop["type"] == "number" and _number(value) is None:
                refuse(name, "INVALID_FLOAT", f"{value} was not a valid number.")
            elif prop["type"] in ("datetime", "date") and _time_ms(value) is None:
                refuse(name, "INVALID_DATE", f"{value} was not a valid date.")
            elif prop["type"] == "bool" and value.lower() not in ("true", "false"):
                refuse(name, "INVALID_BOOLEAN", f"{value} was not a valid boolean.")
            elif prop["type"] == "enumeration" and prop["options"]:
                allowed = [o["value"] for o in prop["options"]]
                if value not in allowed:
                    refuse(
                        name,
                        "INVALID_OPTION",
                        f"{value} was not one of the allowed options: {allowed}",
                    )
        if invalid:
            return _InputError(
                400,
                "VALIDATION_ERROR",
                "Property values were not valid: " + json.dumps(invalid),
                [
                    {
                        "message": i["message"],
                        "code": i["error"],
                        "context": {"propertyName": [i["name"]]},
                    }
                    for i in invalid
                ],
            )
        if current is None:
            required = []
            if object_type in ACTIVITY_TYPES and not props.get("hs_timestamp"):
                required.append("hs_timestamp")
            if object_type == "leads" and not props.get("hs_lead_name"):
                required.append("hs_lead_name")
            if required:
                # Assumed wording and code; HubSpot documents only that these are required.
                return _InputError(
                    400,
                    "VALIDATION_ERROR",
                    f"Missing required propert{'ies' if len(required) > 1 else 'y'}: "
                    + ", ".join(required),
                    [
                        {
                            "message": f"{n} is required",
                            "code": "REQUIRED_PROPERTY",
                            "context": {"propertyName": [n]},
                        }
                        for n in required
                    ],
                )
        for name, value in props.items():
            if value == "" or not self._is_unique(object_type, name):
                continue
            key = value.lower() if name == "email" else value
            holder = self._by_unique(object_type, name, value)
            holder_id = (
                holder.id if holder is not None else staged.get((object_type, name), {}).get(key)
            )
            if holder_id is not None and holder_id != new_id:
                if object_type == "contacts" and name == "email":
                    message = f"Contact already exists. Existing ID: {holder_id}"
                else:  # Assumed wording for a unique property other than a contact's email.
                    message = (
                        f'A {SINGULAR[object_type]} with {name} "{value}" already exists. '
                        f"Existing ID: {holder_id}"
                    )
                return _InputError(409, "CONFLICT", message)
        for name, value in props.items():
            if value != "" and self._is_unique(object_type, name):
                key = value.lower() if name == "email" else value
                staged.setdefault((object_type, name), {})[key] = new_id
        return None

    def _check_create_associations(
        self, object_type: str, associations: list[dict[str, Any]]
    ) -> _InputError | None:
        """What is wrong with a create input's associations (None: nothing). Assumed wording."""
        primary_contact = False
        for assoc in associations:
            to_id = assoc["to"]["id"]
            for spec in assoc["types"]:
                type_id = spec["associationTypeId"]
                ends = DIRECTED.get(type_id)
                if (
                    spec["associationCategory"] != "HUBSPOT_DEFINED"
                    or ends is None
                    or ends[0] != object_type
                ):
                    return _InputError(
                        400,
                        "VALIDATION_ERROR",
                        f"{spec['associationCategory']} association type {type_id} is not valid "
                        f"from {object_type}",
                    )
                if self._live(ends[1], to_id) is None:
                    return _InputError(
                        400,
                        "VALIDATION_ERROR",
                        f"Cannot associate to {SINGULAR[ends[1]]} {to_id} (association type "
                        f"{type_id}): the object does not exist",
                    )
                primary_contact = primary_contact or type_id == LEAD_PRIMARY_CONTACT
        if object_type == "leads" and not primary_contact:
            return _InputError(
                400,
                "VALIDATION_ERROR",
                "A lead must be associated with an existing contact "
                f"(association type {LEAD_PRIMARY_CONTACT}, lead to primary contact)",
            )
        return None

    def _injected(self) -> _InputError | None:
        rate = self._faults.partial_207_rate
        if rate and self._random.random() < rate:
            return _InputError(
                400,
                "VALIDATION_ERROR",
                "The stand-in failed this input on purpose (partial_207_rate); the others "
                "were applied.",
            )
        return None

    # ------------------------------------------------------------------ object writes

    def _stamp(self, obj: _Object, now: float) -> None:
        lag = self._faults.search_index_lag_s
        obj.versions.append((now, None if obj.archived else dict(obj.properties)))
        visible = [i for i, (t, _) in enumerate(obj.versions) if t <= now - lag]
        if visible:
            del obj.versions[: visible[-1]]

    def _store_new(
        self,
        object_type: str,
        new_id: str,
        props: dict[str, str],
        associations: list[dict[str, Any]],
    ) -> _Object:
        now_iso = _iso(self._wall_clock())
        stored = {k: v for k, v in props.items()}
        if "email" in stored and object_type == "contacts":
            stored["email"] = stored["email"].lower()
        stored["hs_object_id"] = new_id
        stored.setdefault(CREATED_PROPERTY[object_type], now_iso)
        stored[MODIFIED_PROPERTY[object_type]] = now_iso
        obj = _Object(object_type, new_id, stored, now_iso, now_iso)
        self._objects[object_type][new_id] = obj
        self._index_unique(obj, {})
        for assoc in associations:
            for spec in assoc["types"]:
                self._link(object_type, new_id, assoc["to"]["id"], spec["associationTypeId"])
        self._stamp(obj, self._clock())
        return obj

    def _index_unique(self, obj: _Object, old: Mapping[str, str]) -> None:
        for (object_type, name), index in self._unique.items():
            if object_type != obj.type:
                continue
            before, after = old.get(name), obj.properties.get(name)
            if before and index.get(before.lower() if name == "email" else before) == obj.id:
                del index[before.lower() if name == "email" else before]
            if after and not obj.archived:
                index[after.lower() if name == "email" else after] = obj.id

    def _apply_update(self, obj: _Object, props: dict[str, str]) -> None:
        old = dict(obj.properties)
        for name, value in props.items():
            obj.properties[name] = (
                value.lower() if name == "email" and obj.type == "contacts" else value
            )
        now_iso = _iso(self._wall_clock())
        obj.properties[MODIFIED_PROPERTY[obj.type]] = now_iso
        obj.updated_at = now_iso
        self._index_unique(obj, old)
        self._stamp(obj, self._clock())

    def _link(self, from_type: str, from_id: str, to_id: str, type_id: int) -> None:
        link = _Link.make(from_type, from_id, to_id, type_id)
        if link.type_id in PRIMARY_IMPLIES:  # one primary per object: replace the old one
            for old in list(self._links.get((link.from_type, link.from_id), ())):
                same_side = (old.from_type, old.from_id) == (link.from_type, link.from_id)
                if same_side and old.type_id == link.type_id and old != link:
                    self._unlink(old)
            self._add_link(
                _Link(
                    link.from_type,
                    link.from_id,
                    link.to_type,
                    link.to_id,
                    PRIMARY_IMPLIES[link.type_id],
                )
            )
        self._add_link(link)

    def _add_link(self, link: _Link) -> None:
        self._links.setdefault((link.from_type, link.from_id), set()).add(link)
        self._links.setdefault((link.to_type, link.to_id), set()).add(link)

    def _unlink(self, link: _Link) -> None:
        self._links.get((link.from_type, link.from_id), set()).discard(link)
        self._links.get((link.to_type, link.to_id), set()).discard(link)

    def _associated(self, object_type: str, object_id: str) -> dict[str, dict[str, list[int]]]:
        """Live associated objects: other type -> other id -> type ids seen from this object."""
        out: dict[str, dict[str, list[int]]] = {}
        for link in self._links.get((object_type, object_id), ()):
            other_type, other_id, type_id = link.seen_from(object_type, object_id)
            if self._live(other_type, other_id) is not None:
                out.setdefault(other_type, {}).setdefault(other_id, []).append(type_id)
        for by_id in out.values():
            for ids in by_id.values():
                ids.sort()
        return out

    def _batch_create(self, object_type: str, inputs: list[dict[str, Any]]) -> _Answer:
        started = _iso(self._wall_clock())
        traced = all("objectWriteTraceId" in i for i in inputs)
        staged: dict[tuple[str, str], dict[str, str]] = {}
        good: list[tuple[dict[str, Any], str]] = []
        errors: list[dict[str, Any]] = []
        for inp in inputs:
            new_id = self._take_id()
            error = self._check_write(object_type, dict(inp["properties"]), None, staged, new_id)
            error = error or self._check_create_associations(object_type, inp["associations"])
            error = error or self._injected()
            if error is None:
                good.append((inp, new_id))
            elif not traced:
                return self._batch_failure(error)
            else:
                errors.append(error.for_input({"objectWriteTraceId": [inp["objectWriteTraceId"]]}))
        results = []
        for inp, new_id in good:
            obj = self._store_new(object_type, new_id, dict(inp["properties"]), inp["associations"])
            result = obj.as_json()
            if "objectWriteTraceId" in inp:
                result["objectWriteTraceId"] = inp["objectWriteTraceId"]
            results.append(result)
        return self._batch_answer(201, started, results, errors)

    def _duplicate_ids(self, inputs: list[dict[str, Any]]) -> _Answer | None:
        seen = Counter(i["id"] for i in inputs)
        repeated = sorted(k for k, n in seen.items() if n > 1)
        if repeated:
            return self._error(
                400,
                "VALIDATION_ERROR",
                f"Duplicate IDs found in batch input: {repeated}. IDs must be unique",
            )
        return None

    def _batch_update(self, object_type: str, inputs: list[dict[str, Any]]) -> _Answer:
        started = _iso(self._wall_clock())
        duplicate = self._duplicate_ids(inputs)
        if duplicate is not None:
            return duplicate
        traced = all("objectWriteTraceId" in i for i in inputs)
        staged: dict[tuple[str, str], dict[str, str]] = {}
        good: list[tuple[_Object, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for inp in inputs:
            context = (
                {"objectWriteTraceId": [inp["objectWriteTraceId"]]}
                if traced
                else {"ids": [inp["id"]]}
            )
            id_property = inp.get("idProperty")
            if id_property and not self._is_unique(object_type, id_property):
                return self._error(
                    400,
                    "VALIDATION_ERROR",
                    f"{id_property} is not a unique property of {object_type}",
                )
            obj = (
                self._by_unique(object_type, id_property, inp["id"])
                if id_property
                else self._live(object_type, inp["id"])
            )
            if obj is None:
                errors.append(
                    _InputError(404, "OBJECT_NOT_FOUND", f"Object {inp['id']} not found").for_input(
                        {"ids": [inp["id"]]}
                    )
                )
                continue
            error = self._check_write(object_type, dict(inp["properties"]), obj, staged, obj.id)
            if error is not None and not traced:
                return self._batch_failure(error)
            error = error or self._injected()
            if error is None:
                good.append((obj, inp))
            else:
                errors.append(error.for_input(context))
        results = []
        for obj, inp in good:
            self._apply_update(obj, dict(inp["properties"]))
            result = obj.as_json()
            if "objectWriteTraceId" in inp:
                result["objectWriteTraceId"] = inp["objectWriteTraceId"]
            results.append(result)
        return self._batch_answer(200, started, results, errors)

    def _batch_upsert(self, object_type: str, inputs: list[dict[str, Any]]) -> _Answer:
        started = _iso(self._wall_clock())
        duplicate = self._duplicate_ids(inputs)
        if duplicate is not None:
            return duplicate
        for inp in inputs:
            if not self._is_unique(object_type, inp["idProperty"]):
                return self._error(
                    400,
                    "VALIDATION_ERROR",
                    f"Property {inp['idProperty']!r} cannot be an idProperty of {object_type}: "
                    "an upsert needs a unique property (hasUniqueValue true)",
                )
        traced = all("objectWriteTraceId" in i for i in inputs)
        staged: dict[tuple[str, str], dict[str, str]] = {}
        plan: list[tuple[_Object | None, str, dict[str, str], dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for inp in inputs:
            context = (
                {"objectWriteTraceId": [inp["objectWriteTraceId"]]}
                if traced
                else {"ids": [inp["id"]]}
            )
            props = dict(inp["properties"])
            obj = self._by_unique(object_type, inp["idProperty"], inp["id"])
            if obj is None:
                target = self._take_id()
                props[inp["idProperty"]] = inp["id"]
                error = self._check_write(object_type, props, None, staged, target)
                error = error or self._check_create_associations(object_type, [])
            else:
                target = obj.id
                error = self._check_write(object_type, props, obj, staged, target)
            if error is not None and not traced:
                return self._batch_failure(error)
            error = error or self._injected()
            if error is None:
                plan.append((obj, target, props, inp))
            else:
                errors.append(error.for_input(context))
        results = []
        for obj, target, props, inp in plan:
            if obj is None:
                obj = self._store_new(object_type, target, props, [])
                created = True
            else:
                self._apply_update(obj, props)
                created = False
            result = obj.as_json()
            result["new"] = created
            if "objectWriteTraceId" in inp:
                result["objectWriteTraceId"] = inp["objectWriteTraceId"]
            results.append(result)
        return self._batch_answer(200, started, results, errors)

    def _batch_archive(self, now: float, object_type: str, inputs: list[dict[str, Any]]) -> _Answer:
        for inp in inputs:
            obj = self._live(object_type, inp["id"])
            if obj is not None:
                old = dict(obj.properties)
                obj.archived = True
                obj.updated_at = _iso(self._wall_clock())
                self._index_unique(obj, old)
                self._stamp(obj, now)
        return _Answer(204)

    # ------------------------------------------------------------------ object reads

    def _batch_read(self, object_type: str, body: dict[str, Any]) -> _Answer:
        started = _iso(self._wall_clock())
        id_property = body.get("idProperty")
        if id_property and not self._is_unique(object_type, id_property):
            return self._error(
                400, "VALIDATION_ERROR", f"{id_property} is not a unique property of {object_type}"
            )
        names = body["properties"] or DEFAULT_READ.get(object_type, ())
        results, missing = [], []
        for inp in dict.fromkeys(i["id"] for i in body["inputs"]):
            obj = (
                self._by_unique(object_type, id_property, inp)
                if id_property
                else self._live(object_type, inp)
            )
            if obj is None:
                missing.append(inp)
            else:
                results.append(obj.as_json(names))
        errors = []
        if missing:
            errors.append(
                _InputError(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {SINGULAR[object_type].upper()} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                ).for_input({"ids": missing})
            )
        return self._batch_answer(200, started, results, errors)

    def _read_object(
        self, object_type: str, object_id: str, query: dict[str, list[str]]
    ) -> _Answer:
        id_property = query.get("idProperty", [""])[0]
        if id_property and not self._is_unique(object_type, id_property):
            return self._error(
                400, "VALIDATION_ERROR", f"{id_property} is not a unique property of {object_type}"
            )
        obj = (
            self._by_unique(object_type, id_property, object_id)
            if id_property
            else self._live(object_type, object_id)
        )
        if obj is None:
            return self._error(
                404,
                "OBJECT_NOT_FOUND",
                "Object not found.  objectId are usually numeric.",
                context={"id": [object_id]},
            )
        names = [n for v in query.get("properties", []) for n in v.split(",") if n]
        body = obj.as_json(names or DEFAULT_READ.get(object_type, ()))
        wanted = [n for v in query.get("associations", []) for n in v.split(",") if n]
        if wanted:
            associated = self._associated(object_type, obj.id)
            body["associations"] = {}
            for other in dict.fromkeys(wanted):
                results = [
                    {"id": other_id, "type": _v3_type_name(type_id)}
                    for other_id, type_ids in sorted(associated.get(other, {}).items(), key=_id_key)
                    for type_id in type_ids
                ]
                if results:
                    body["associations"][other] = {"results": results}
        return _Answer(200, body)

    def _search(self, now: float, object_type: str, body: dict[str, Any]) -> _Answer:
        defs = self._properties[object_type]
        groups = body.get("filterGroups", [])
        for group in groups:
            for f in group["filters"]:
                if f["propertyName"] not in defs:
                    # Assumed: HubSpot refuses a filter on a property that does not exist.
                    return self._error(
                        400,
                        "VALIDATION_ERROR",
                        f"There was a problem with the request: property {f['propertyName']!r} "
                        f"does not exist on {object_type}",
                    )
                needs_value = f["operator"] not in (
                    "HAS_PROPERTY",
                    "NOT_HAS_PROPERTY",
                    "IN",
                    "NOT_IN",
                )
                if (needs_value and "value" not in f) or (
                    f["operator"] in ("IN", "NOT_IN") and "values" not in f
                ):
                    return self._error(
                        400,
                        "VALIDATION_ERROR",
                        f"Filter on {f['propertyName']} with operator {f['operator']} needs "
                        + ("values" if f["operator"] in ("IN", "NOT_IN") else "a value"),
                    )
        limit = body.get("limit", 10)
        after = body.get("after", "0") or "0"
        if not after.isdigit():
            return self._error(400, "VALIDATION_ERROR", f"after {after!r} is not a cursor")
        offset = int(after)
        if offset + limit > SEARCH_MAX_RESULTS:
            return self._error(
                400,
                "VALIDATION_ERROR",
                f"Search can return at most {SEARCH_MAX_RESULTS} results per query",
            )
        lag = self._faults.search_index_lag_s
        matches: list[tuple[_Object, dict[str, str]]] = []
        for obj in self._objects[object_type].values():
            seen = self._as_indexed(obj, now, lag)
            if seen is not None and (
                not groups or any(_matches(seen, g["filters"]) for g in groups)
            ):
                matches.append((obj, seen))
        sorts = body.get("sorts", [])
        if sorts:
            name = sorts[0]["propertyName"]
            matches.sort(
                key=lambda m: _sort_key(m[1].get(name)),
                reverse=sorts[0].get("direction") == "DESCENDING",
            )
        else:
            matches.sort(key=lambda m: int(m[0].id))
        names = body.get("properties") or DEFAULT_READ.get(object_type, ())
        page = matches[offset : offset + limit]
        results = []
        for obj, seen in page:
            shown = _Object(obj.type, obj.id, seen, obj.created_at, obj.updated_at)
            results.append(shown.as_json(names))
        answer: dict[str, Any] = {"total": len(matches), "results": results}
        if offset + limit < len(matches):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return _Answer(200, answer)

    @staticmethod
    def _as_indexed(obj: _Object, now: float, lag: float) -> dict[str, str] | None:
        """The object's properties as search sees them ``lag`` seconds behind (None: not yet
        indexed, or archived)."""
        if lag <= 0:
            return None if obj.archived else obj.properties
        seen: dict[str, str] | None = None
        for when, props in obj.versions:
            if when <= now - lag:
                seen = props
        return seen

    # ------------------------------------------------------------------ associations

    def _associate(self, from_type: str, to_type: str, inputs: list[dict[str, Any]]) -> _Answer:
        """v4 batch create: a set, so an association made twice is there once. Assumed wording
        of the per-input errors."""
        started = _iso(self._wall_clock())
        results, errors = [], []
        for inp in inputs:
            from_id, to_id = inp["from"]["id"], inp["to"]["id"]
            wrong = [
                spec
                for spec in inp["types"]
                if spec["associationCategory"] != "HUBSPOT_DEFINED"
                or DIRECTED.get(spec["associationTypeId"]) != (from_type, to_type)
            ]
            absent = [
                (t, i) for t, i in ((from_type, from_id), (to_type, to_id)) if not self._live(t, i)
            ]
            if wrong:
                spec = wrong[0]
                type_id = spec["associationTypeId"]
                error = _InputError(
                    400,
                    "VALIDATION_ERROR",
                    f"{spec['associationCategory']} association type {type_id} is not valid "
                    f"from {from_type} to {to_type}",
                )
                errors.append(error.for_input({"associationTypeId": [str(type_id)]}))
                continue
            if absent:
                named = " and ".join(f"{SINGULAR[t]} {i}" for t, i in absent)
                error = _InputError(400, "VALIDATION_ERROR", f"Cannot associate: no {named}")
                errors.append(error.for_input({"ids": [i for _, i in absent]}))
                continue
            labels = []
            for spec in inp["types"]:
                self._link(from_type, from_id, to_id, spec["associationTypeId"])
                label = LABELS[spec["associationTypeId"]]
                if label:
                    labels.append(label)
            results.append(
                {
                    "fromObjectTypeId": OBJECT_TYPE_IDS[from_type],
                    "fromObjectId": int(from_id),
                    "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
                    "toObjectId": int(to_id),
                    "labels": labels,
                }
            )
        return self._batch_answer(201, started, results, errors)

    def _read_associations(
        self, from_type: str, to_type: str, inputs: list[dict[str, Any]]
    ) -> _Answer:
        """Assumed: an existing object with no associations of that type is left out of the
        results (no error); an unknown one is an OBJECT_NOT_FOUND error."""
        started = _iso(self._wall_clock())
        results, missing = [], []
        for object_id in dict.fromkeys(i["id"] for i in inputs):
            if self._live(from_type, object_id) is None:
                missing.append(object_id)
                continue
            associated = self._associated(from_type, object_id).get(to_type, {})
            if not associated:
                continue
            results.append(
                {
                    "from": {"id": object_id},
                    "to": [
                        {
                            "toObjectId": int(other_id),
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": LABELS[t]}
                                for t in type_ids
                            ],
                        }
                        for other_id, type_ids in sorted(associated.items(), key=_id_key)
                    ],
                }
            )
        errors = []
        if missing:
            errors.append(
                _InputError(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[from_type]} with these ids: {', '.join(missing)}",
                ).for_input({"ids": missing})
            )
        return self._batch_answer(200, started, results, errors)

    # ------------------------------------------------------------------ inspection views

    def _view(self, obj: _Object) -> dict[str, Any]:
        body = obj.as_json()
        body["type"] = obj.type
        owner_id = obj.properties.get("hubspot_owner_id")
        owner = self._owners.get(owner_id) if owner_id else None
        body["owner"] = owner.as_json() if owner else None
        body["associations"] = {
            other: [{"id": i, "typeIds": ids} for i, ids in sorted(by_id.items(), key=_id_key)]
            for other, by_id in sorted(self._associated(obj.type, obj.id).items())
        }
        return body

    # ------------------------------------------------------------------ control endpoints

    def _control(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> _Answer:
        """``/_double/...``: inspection, seeding and faults (not rate limited, not counted)."""
        if self.control_requires_auth and headers.get("authorization") != f"Bearer {self._token}":
            return _Answer(401, {"message": "the control endpoints need the double's token here"})
        parts = [p for p in path.split("/") if p][1:]
        try:
            data: Any = json.loads(body) if body else {}
        except ValueError:
            return _Answer(400, {"message": "the body is not JSON"})
        try:
            return self._control_route(method, parts, query, data)
        except KeyError as exc:
            return _Answer(404, {"message": str(exc.args[0]) if exc.args else "not found"})
        except (ValueError, TypeError) as exc:
            return _Answer(400, {"message": str(exc)})

    def _control_route(
        self, method: str, parts: list[str], query: dict[str, list[str]], data: Any
    ) -> _Answer:
        match (method, parts):
            case ("GET", ["stats"]):
                return _Answer(200, self.stats())
            case ("GET", ["faults"]):
                return _Answer(200, self._faults.as_dict())
            case ("POST", ["faults"]):
                return _Answer(200, self.set_faults(**_mapping(data)))
            case ("POST", ["reset"]):
                self.reset()
                return _Answer(200, {"reset": True})
            case ("GET", ["owners"]):
                with self._lock:
                    return _Answer(200, {"results": [o.as_json() for o in self._owners.values()]})
            case ("POST", ["owners"]):
                rows = data if isinstance(data, list) else data.get("owners", [data])
                return _Answer(201, {"results": [self._seed_owner(_mapping(r)) for r in rows]})
            case ("POST", ["objects", object_type]):
                row = _mapping(data)
                links = [(str(a["toId"]), int(a["typeId"])) for a in row.get("associations", [])]
                new_id = self.add_object(object_type, row.get("properties", {}), associations=links)
                return _Answer(201, self.get_object(object_type, new_id))
            case ("GET", ["objects", object_type]):
                archived = query.get("archived", ["false"])[0] == "true"
                return _Answer(200, {"results": self.objects(object_type, archived=archived)})
            case ("GET", ["objects", object_type, object_id]):
                return _Answer(200, self.get_object(object_type, object_id))
            case ("PATCH", ["objects", object_type, object_id]):
                props = _mapping(_mapping(data).get("properties", {}))
                return _Answer(200, self.update_object(object_type, object_id, props))
            case ("GET", ["duplicates", object_type]):
                name = query.get("property", ["leadsync_id"])[0]
                found = self.duplicates(object_type, name)
                return _Answer(200, {"property": name, "duplicates": found})
            case ("GET", ["associations"]):
                a, b = query.get("from", [None])[0], query.get("to", [None])[0]
                return _Answer(200, {"count": self.association_count(a, b)})
        return _Answer(404, {"message": f"no control endpoint {method} /_double/{'/'.join(parts)}"})

    def _seed_owner(self, row: Mapping[str, Any]) -> dict[str, Any]:
        teams = [t["name"] if isinstance(t, Mapping) else str(t) for t in row.get("teams", [])]
        return self.add_owner(
            str(row["email"]),
            str(row.get("firstName", "")),
            str(row.get("lastName", "")),
            archived=bool(row.get("archived", False)),
            teams=teams,
            owner_id=None if row.get("id") is None else str(row["id"]),
            user_id=None if row.get("userId") is None else int(row["userId"]),
        )


def _mapping(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _id_key(item: tuple[str, Any]) -> int:
    return int(item[0]) if item[0].isdigit() else 0


def _v3_type_name(type_id: int) -> str:
    """HubSpot's v3 name of an association type (``contact_to_company[_unlabeled]``)."""
    from_type, to_type = DIRECTED[type_id]
    name = f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"
    return name + "_unlabeled" if type_id in _UNLABELLED_WITH_PRIMARY else name


def _sort_key(value: str | None) -> tuple[int, float, str]:
    if value is None or value == "":
        return (1, 0.0, "")
    number = _number(value)
    return (0, number, "") if number is not None else (0, 0.0, value.lower())


def _compare(value: str, other: str) -> float | None:
    """value - other, numerically or as times (None: not comparable)."""
    a, b = _number(value), _number(other)
    if a is None or b is None:
        a, b = _time_ms(value), _time_ms(other)
    return None if a is None or b is None else a - b


def _matches(props: Mapping[str, str], filters: list[dict[str, Any]]) -> bool:
    """Whether ``props`` pass every filter of a group. String comparisons ignore case, as
    HubSpot's search does for EQ and IN."""
    for f in filters:
        value = props.get(f["propertyName"]) or ""
        op = f["operator"]
        target = str(f.get("value", ""))
        if op == "HAS_PROPERTY":
            ok = value != ""
        elif op == "NOT_HAS_PROPERTY":
            ok = value == ""
        elif op in ("EQ", "NEQ"):
            diff = _compare(value, target) if value else None
            same = diff == 0 if diff is not None else value.lower() == target.lower()
            ok = same if op == "EQ" else not same
        elif op in ("IN", "NOT_IN"):
            inside = value.lower() in {str(v).lower() for v in f.get("values", [])}
            ok = inside if op == "IN" else not inside
        elif op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            tokens = value.lower().split()
            found = any(fnmatch.fnmatchcase(t, target.lower()) for t in tokens)
            ok = found if op == "CONTAINS_TOKEN" else not found
        elif op == "BETWEEN":
            low, high = _compare(value, target), _compare(value, str(f.get("highValue", "")))
            ok = value != "" and low is not None and high is not None and low >= 0 >= high
        else:
            diff = _compare(value, target) if value else None
            ok = (
                diff is not None
                and {
                    "LT": diff < 0,
                    "LTE": diff <= 0,
                    "GT": diff > 0,
                    "GTE": diff >= 0,
                }[op]
            )
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------- ASGI, uvicorn

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


class _DoubleApp:
    """A plain ASGI app: each HTTP request goes to :meth:`HubSpotDouble.handle` in a worker
    thread (latency faults sleep there, not in the event loop)."""

    def __init__(self, double: HubSpotDouble) -> None:
        self.double = double

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status, out_headers, body = await anyio.to_thread.run_sync(
            self.double.handle,
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            b"".join(chunks),
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in out_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_double(
    host: str,
    port: int,
    token: str,
    *,
    per_10s: int = 190,
    daily: int = 625_000,
    scopes: Iterable[str] = ALL_SCOPES,
    app_id: int = DEFAULT_APP_ID,
    hub_id: int = DEFAULT_HUB_ID,
    seed: int = 0,
    search_index_lag_s: float = 0.0,
    log_level: str = "warning",
) -> None:
    """Run the double over HTTP until interrupted (both version styles). ``/_double/*``
    needs no auth when bound to loopback, the token otherwise. The token is never printed."""
    import uvicorn

    double = HubSpotDouble(
        token,
        scopes=scopes,
        per_10s=per_10s,
        daily=daily,
        app_id=app_id,
        hub_id=hub_id,
        seed=seed,
        search_index_lag_s=search_index_lag_s,
    )
    openapi_contract()  # load the contract before the first request
    print(
        f"leadsync HubSpot stand-in (NOT HubSpot; header {STAND_IN_HEADER}: {STAND_IN_NAME}) "
        f"on http://{host}:{port} - paths /crm/v3/... and /crm/objects/YYYY-MM/..., "
        f"{per_10s} requests/10 s, {daily}/day, control at /_double/",
        file=sys.stderr,
        flush=True,
    )
    app = double.asgi_app(control_requires_auth=not _is_loopback(host))
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@contextmanager
def serving(double: HubSpotDouble, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``double`` over HTTP in a background thread (port 0: one the OS picks); yields
    the base URL and stops the server on exit. For end-to-end tests that also inspect the
    double in-process."""
    import uvicorn

    openapi_contract()
    app = double.asgi_app(control_requires_auth=not _is_loopback(host))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="hubspot-double", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the HubSpot double did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


__all__ = [
    "ALL_SCOPES",
    "ASSOCIATION_TYPES",
    "DEFAULT_PROPERTIES",
    "Faults",
    "HubSpotDouble",
    "ManualClock",
    "OBJECT_TYPES",
    "openapi_contract",
    "serve_double",
    "serving",
]
