"""What the stand-in HubSpot knows before any request: object types and their ids,
association types (with inverses and labels), private app scopes, default properties and
their options, limits and HubSpot's own error messages.

These facts are written here from HubSpot's documentation, not taken from
:mod:`leadsync.destinations.hubspot.objects` (the pusher's side), even where the two hold the
same numbers: the double is the check of what the pusher sends, and a double built from the
pusher's tables would accept a wrong association id or option as readily as the pusher
makes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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
UNLABELLED_WITH_PRIMARY = {
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


def scope_object(object_type: str) -> str:
    return "contacts" if object_type in ACTIVITY_TYPES else object_type


# --------------------------------------------------------------------------- properties

# (name, label, type, fieldType) of HubSpot's default properties per object type.
_OWNER = ("hubspot_owner_id", "Owner", "enumeration", "select")
# Set by HubSpot whenever a record's owner changes (read only): when it was assigned.
_ASSIGNED = ("hubspot_owner_assigneddate", "Owner assigned date", "datetime", "date")
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
        _ASSIGNED,
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
        _ASSIGNED,
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
        _ASSIGNED,
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
        _ASSIGNED,
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
# A company's industry: HubSpot's dropdown of internal values and labels (a part of its
# list, which follows LinkedIn's industries; a portal's admin may add options).
INDUSTRIES: tuple[tuple[str, str], ...] = (
    ("ACCOUNTING", "Accounting"),
    ("AIRLINES_AVIATION", "Airlines/Aviation"),
    ("APPAREL_FASHION", "Apparel & Fashion"),
    ("ARCHITECTURE_PLANNING", "Architecture & Planning"),
    ("AUTOMOTIVE", "Automotive"),
    ("BANKING", "Banking"),
    ("BIOTECHNOLOGY", "Biotechnology"),
    ("BROADCAST_MEDIA", "Broadcast Media"),
    ("CHEMICALS", "Chemicals"),
    ("COMPUTER_HARDWARE", "Computer Hardware"),
    ("COMPUTER_NETWORK_SECURITY", "Computer & Network Security"),
    ("COMPUTER_SOFTWARE", "Computer Software"),
    ("CONSTRUCTION", "Construction"),
    ("CONSUMER_GOODS", "Consumer Goods"),
    ("E_LEARNING", "E-Learning"),
    ("EDUCATION_MANAGEMENT", "Education Management"),
    ("FINANCIAL_SERVICES", "Financial Services"),
    ("FOOD_BEVERAGES", "Food & Beverages"),
    ("HOSPITAL_HEALTH_CARE", "Hospital & Health Care"),
    ("HOSPITALITY", "Hospitality"),
    ("INFORMATION_TECHNOLOGY_AND_SERVICES", "Information Technology and Services"),
    ("INSURANCE", "Insurance"),
    ("INTERNET", "Internet"),
    ("LEGAL_SERVICES", "Legal Services"),
    ("LOGISTICS_AND_SUPPLY_CHAIN", "Logistics and Supply Chain"),
    ("MANAGEMENT_CONSULTING", "Management Consulting"),
    ("MARKETING_AND_ADVERTISING", "Marketing and Advertising"),
    ("MEDICAL_DEVICES", "Medical Devices"),
    ("NON_PROFIT_ORGANIZATION_MANAGEMENT", "Non-Profit Organization Management"),
    ("PHARMACEUTICALS", "Pharmaceuticals"),
    ("REAL_ESTATE", "Real Estate"),
    ("RETAIL", "Retail"),
    ("STAFFING_AND_RECRUITING", "Staffing and Recruiting"),
    ("TELECOMMUNICATIONS", "Telecommunications"),
    ("TRANSPORTATION_TRUCKING_RAILROAD", "Transportation/Trucking/Railroad"),
)
# Default options of enumerations the pusher writes (an enumeration not listed takes any
# value): internal values, or (value, label) where HubSpot shows another label. From
# HubSpot's docs and shared/HUBSPOT.md.
DEFAULT_OPTIONS: dict[str, tuple[str | tuple[str, str], ...]] = {
    "industry": INDUSTRIES,
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
# HubSpot's read-only property of a merged object: the ids merged into it, ";"-separated.
MERGED_IDS = "hs_merged_object_ids"

CREATED_PROPERTY = {
    t: "hs_createdate" if t in ACTIVITY_TYPES else "createdate" for t in OBJECT_TYPES
}
MODIFIED_PROPERTY = {
    t: "lastmodifieddate" if t == "contacts" else "hs_lastmodifieddate" for t in OBJECT_TYPES
}
READ_ONLY = {
    "hs_object_id",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "hubspot_owner_assigneddate",
}
OWNER_ASSIGNED = "hubspot_owner_assigneddate"
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


def property_json(
    object_type: str,
    name: str,
    label: str,
    kind: str,
    field_type: str,
    *,
    unique: bool,
    options: Iterable[str | tuple[str, str]],
    created: str,
) -> dict[str, Any]:
    """A property definition as HubSpot's properties API shows it; an option is its internal
    value, or (value, label)."""
    pairs = [(o, o) if isinstance(o, str) else o for o in options]
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
            {"label": label, "value": value, "displayOrder": i, "hidden": False}
            for i, (value, label) in enumerate(pairs)
        ],
        "createdAt": created,
        "updatedAt": created,
    }
