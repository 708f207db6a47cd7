"""What leadsync's records and activities are in HubSpot: object names, paths per API version,
association type ids, and the properties written. Pure data and functions, no I/O.

Facts from HubSpot's public docs (see ../shared/HUBSPOT.md and docs/HUBSPOT.md).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any, overload

from leadsync.destinations.hubspot.options import NOT_OPTIONS
from leadsync.model import PUSHED_RECORD_TYPES, epoch_ts, ts_to_datetime
from leadsync.values import parse_time

# leadsync type -> HubSpot object name (the path segment).
OBJECT_NAMES: dict[str, str] = {
    "contact": "contacts",
    "company": "companies",
    "deal": "deals",
    "lead": "leads",
    "call": "calls",
    "email": "emails",
    "meeting": "meetings",
    "note": "notes",
    "task": "tasks",
}
RECORD_TYPES = PUSHED_RECORD_TYPES  # in the order they are created
ACTIVITY_TYPES = ("call", "email", "meeting", "note", "task")

# The unique property leadsync creates on every pushed object type (``hubspot setup``); an
# object's value is ``<workspace key>-<r|a><local id>``.
LEADSYNC_ID = "leadsync_id"

# HUBSPOT_DEFINED association type ids, (from type, to type) -> id. Records: the unlabelled
# ones; a contact's primary company is written with PRIMARY_TYPE_IDS.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("call", "contact"): 194,
    ("call", "company"): 182,
    ("call", "deal"): 206,
    ("call", "ticket"): 220,
    ("email", "contact"): 198,
    ("email", "company"): 186,
    ("email", "deal"): 210,
    ("email", "ticket"): 224,
    ("meeting", "contact"): 200,
    ("meeting", "company"): 188,
    ("meeting", "deal"): 212,
    ("meeting", "ticket"): 226,
    ("note", "contact"): 202,
    ("note", "company"): 190,
    ("note", "deal"): 214,
    ("note", "ticket"): 228,
    ("task", "contact"): 204,
    ("task", "company"): 192,
    ("task", "deal"): 216,
    ("task", "ticket"): 230,
    ("contact", "company"): 279,
    ("company", "contact"): 280,
    ("deal", "contact"): 3,
    ("contact", "deal"): 4,
    ("deal", "company"): 341,
    ("company", "deal"): 342,
    ("lead", "contact"): 608,
    ("lead", "company"): 610,
    ("lead", "call"): 596,
    ("lead", "email"): 598,
    ("lead", "meeting"): 600,
    ("lead", "task"): 646,
    ("lead", "note"): 854,
}
PRIMARY_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contact", "company"): 1,
    ("company", "contact"): 2,
    ("deal", "company"): 5,
    ("lead", "contact"): 578,
}

# Scopes the push needs (private app scope names).
REQUIRED_SCOPES: tuple[str, ...] = (
    "crm.objects.owners.read",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.deals.read",
    "crm.objects.deals.write",
    "crm.schemas.contacts.write",
    "crm.schemas.companies.write",
    "crm.schemas.deals.write",
)
# Leads are pushed only where the portal has them (Sales Hub Professional and up).
LEAD_SCOPES: tuple[str, ...] = ("crm.objects.leads.read", "crm.objects.leads.write")


def association_type(from_type: str, to_type: str, primary: bool = False) -> int | None:
    """The type id to associate ``from_type`` to ``to_type`` (None: not from that side)."""
    if primary and (from_type, to_type) in PRIMARY_TYPE_IDS:
        return PRIMARY_TYPE_IDS[(from_type, to_type)]
    return ASSOCIATION_TYPE_IDS.get((from_type, to_type))


class Paths:
    """The paths of one API version: ``v3`` (objects and owners v3, associations v4) or a
    dated version (``/crm/objects/2026-03/...``)."""

    def __init__(self, version: str) -> None:
        self.version = version
        if version == "v3":
            self.objects = "/crm/v3/objects"
            self.associations = "/crm/v4/associations"
            self.owners = "/crm/v3/owners/"
            self.properties = "/crm/v3/properties"
        else:
            self.objects = f"/crm/objects/{version}"
            self.associations = f"/crm/associations/{version}"
            self.owners = f"/crm/owners/{version}/"
            self.properties = f"/crm/properties/{version}"

    def batch(self, object_type: str, operation: str) -> str:
        return f"{self.objects}/{OBJECT_NAMES[object_type]}/batch/{operation}"

    def search(self, object_type: str) -> str:
        return f"{self.objects}/{OBJECT_NAMES[object_type]}/search"

    def association_batch(self, from_type: str, to_type: str, operation: str) -> str:
        return (
            f"{self.associations}/{OBJECT_NAMES[from_type]}/{OBJECT_NAMES[to_type]}"
            f"/batch/{operation}"
        )

    def property(self, object_type: str, name: str | None = None) -> str:
        base = f"{self.properties}/{OBJECT_NAMES[object_type]}"
        return base if name is None else f"{base}/{name}"


TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"

# --------------------------------------------------------------------- properties

_CONTACT_PROPERTIES = ("email", "firstname", "lastname", "phone", "mobilephone", "jobtitle")
_COMPANY_PROPERTIES = ("phone", "industry", "city", "country", "website")
_DEAL_PROPERTIES = ("amount", "closedate")

CALL_STATUS = {
    "connected": "COMPLETED",
    "no_answer": "NO_ANSWER",
    "busy": "BUSY",
    "voicemail": "COMPLETED",
    "left_live_message": "COMPLETED",
    "wrong_number": "COMPLETED",
    "failed": "FAILED",
    "canceled": "CANCELED",
}
# HubSpot's default call dispositions (GUIDs).
CALL_DISPOSITIONS = {
    "busy": "9d9162e7-6cf3-4944-bf63-4dff82258764",
    "connected": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
    "left_live_message": "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
    "voicemail": "b2cf5968-551e-4856-9783-52b3da59a7d0",
    "no_answer": "73a0d17f-1163-4015-bdd5-ec830791da20",
    "wrong_number": "17b47fee-58de-441e-a44c-c6300d46f273",
}
EMAIL_DIRECTIONS = {
    "outbound": "EMAIL",
    "inbound": "INCOMING_EMAIL",
    "forwarded": "FORWARDED_EMAIL",
}


def hubspot_time(ts: str | None) -> str | None:
    """A stored time as HubSpot takes it (ISO 8601 UTC with milliseconds)."""
    return None if ts is None else ts_to_datetime(ts).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _put(out: dict[str, str], name: str, value: Any) -> None:
    if value is not None and value != "":
        out[name] = _text(value)


# The properties a record's push writes straight from its own properties, by record type:
# the ones an update may clear (:mod:`.cycle.clears`), and those ``hubspot setup`` reads the
# options of, where the portal makes them dropdowns (:mod:`.options`). Not those written from
# its core fields (a contact's email, a company's name and domain, a deal's or lead's name):
# an email or domain never blanks, and a name whose properties were cleared is not written
# (rules.records.core_fields).
WRITTEN_PROPERTIES: dict[str, tuple[str, ...]] = {
    "contact": tuple(n for n in _CONTACT_PROPERTIES if n != "email"),
    "company": _COMPANY_PROPERTIES,
    "deal": _DEAL_PROPERTIES,
}


def record_properties(record: Mapping[str, Any]) -> dict[str, str]:
    """The HubSpot properties of a record (without owner and leadsync_id); not those whose
    value is none of the portal's options (:func:`.options.fit_options`)."""
    props: Mapping[str, Any] = {
        name: value
        for name, value in (record.get("properties") or {}).items()
        if name not in (record.get(NOT_OPTIONS) or ())
    }
    out: dict[str, str] = {}
    rtype = record["type"]
    if rtype == "contact":
        for name in _CONTACT_PROPERTIES:
            _put(out, name, props.get(name))
        _put(out, "email", record.get("email"))
    elif rtype == "company":
        _put(out, "name", record.get("name"))
        _put(out, "domain", record.get("domain"))
        for name in _COMPANY_PROPERTIES:
            _put(out, name, props.get(name))
    elif rtype == "deal":
        _put(out, "dealname", record.get("name") or f"Deal {record['id']}")
        for name in _DEAL_PROPERTIES:
            _put(out, name, props.get(name))
    elif rtype == "lead":
        _put(
            out, "hs_lead_name", record.get("name") or record.get("email") or f"Lead {record['id']}"
        )
    return out


# The properties an activity's push writes that an update may clear, by activity type: those
# an event can empty (a canonical ``null`` clears any typed field, docs/FORMAT.md; a call's
# body is also its comments and tags, which an event's emptied list clears). Never cleared:
# ``hs_timestamp`` (HubSpot requires it on every activity; leadsync always sends one: the
# activity's time when its due date or start is gone); a call's direction (which way the
# call went: an event that forgets it leaves HubSpot's); an email's direction and status and
# a task's subject, status and type (leadsync always sends a value, a default where it has
# none: they never go empty); a meeting's start time (HubSpot places the meeting by it: a
# start an event clears moves ``hs_timestamp`` back to when the meeting happened, and HubSpot
# keeps the last start rather than a meeting with none).
_ACTIVITY_CLEARABLE: dict[str, tuple[str, ...]] = {
    "call": (
        "hs_call_title",
        "hs_call_body",
        "hs_call_duration",
        "hs_call_status",
        "hs_call_disposition",
        "hs_call_from_number",
        "hs_call_to_number",
        "hs_call_recording_url",
    ),
    "email": ("hs_email_subject", "hs_email_text", "hs_email_html"),
    "meeting": ("hs_meeting_title", "hs_meeting_body", "hs_meeting_end_time", "hs_meeting_outcome"),
    "note": ("hs_note_body",),
    "task": ("hs_task_body", "hs_task_priority"),
}


def clearable_values(row: Mapping[str, Any]) -> dict[str, str]:
    """Each property an object's push writes that an update may clear, by name: the text the
    push sends (:func:`record_properties`, :func:`activity_properties`), or ``""`` where the
    record or activity holds no value (an integration cleared it, leadsync's rules removed
    it, or no event ever gave it). A record's are those written straight from its own
    properties, but for a value none of the portal's options names (neither sent nor
    cleared: HubSpot keeps what it has); an activity's, ``_ACTIVITY_CLEARABLE``'s. Whether an
    empty one is cleared in HubSpot is the push's decision (:mod:`.cycle.clears`): only where
    leadsync itself sent a value before. Never the owner."""
    if row["type"] in _ACTIVITY_CLEARABLE:
        sent = activity_properties(row)
        return {name: sent.get(name, "") for name in _ACTIVITY_CLEARABLE[row["type"]]}
    props: Mapping[str, Any] = row.get("properties") or {}
    out: dict[str, str] = {}
    for name in WRITTEN_PROPERTIES.get(row["type"], ()):
        if name in (row.get(NOT_OPTIONS) or ()):
            continue
        value = props.get(name)
        out[name] = "" if value is None or value == "" else _text(value)
    return out


def activity_properties(activity: Mapping[str, Any]) -> dict[str, str]:
    """The HubSpot properties of an activity (without owner and leadsync_id)."""
    out: dict[str, str] = {}
    kind = activity["type"]
    # A task's hs_timestamp is its due date in HubSpot (the tasks API guide), a meeting's its
    # start (where HubSpot's timeline places it: it defaults hs_timestamp to the start time);
    # every other activity's is when it happened.
    when = {"task": activity.get("due_at"), "meeting": activity.get("start_at")}.get(kind)
    _put(out, "hs_timestamp", hubspot_time(when or activity["occurred_at"]))
    title = activity.get("title") or activity.get("subject")
    body = activity.get("body")
    if kind == "call":
        _put(out, "hs_call_title", title)
        _put(out, "hs_call_body", rich_text(call_body(activity)))
        direction = activity.get("direction")
        if direction in ("inbound", "outbound"):
            out["hs_call_direction"] = direction.upper()
        duration = activity.get("duration_s")
        if duration is not None:
            out["hs_call_duration"] = str(round(float(duration) * 1000))
        outcome = activity.get("outcome")
        if outcome in CALL_STATUS:
            out["hs_call_status"] = CALL_STATUS[outcome]
        if outcome in CALL_DISPOSITIONS:
            out["hs_call_disposition"] = CALL_DISPOSITIONS[outcome]
        _put(out, "hs_call_from_number", activity.get("from_number"))
        _put(out, "hs_call_to_number", activity.get("to_number"))
        _put(out, "hs_call_recording_url", activity.get("recording_url"))
    elif kind == "email":
        _put(out, "hs_email_subject", activity.get("subject") or activity.get("title"))
        # hs_email_text is plain text (an HTML body showed its tags): HTML goes to hs_email_html.
        _put(out, "hs_email_html" if body and _MARKUP.search(body) else "hs_email_text", body)
        direction = activity.get("direction") or "outbound"
        out["hs_email_direction"] = EMAIL_DIRECTIONS.get(direction, "EMAIL")
        # HubSpot's own status of a bounced email (it was pushed as sent).
        out["hs_email_status"] = "BOUNCED" if activity.get("outcome") == "bounced" else "SENT"
    elif kind == "meeting":
        _put(out, "hs_meeting_title", title)
        _put(out, "hs_meeting_body", rich_text(body))
        _put(out, "hs_meeting_start_time", hubspot_time(activity.get("start_at")))
        _put(out, "hs_meeting_end_time", hubspot_time(activity.get("end_at")))
        outcome = activity.get("outcome")
        if outcome:
            out["hs_meeting_outcome"] = str(outcome).upper()
    elif kind == "note":
        _put(out, "hs_note_body", rich_text(body or title or "")[:65_536])
    elif kind == "task":
        _put(out, "hs_task_subject", activity.get("subject") or activity.get("title") or "Task")
        _put(out, "hs_task_body", rich_text(body))
        status = activity.get("status")
        out["hs_task_status"] = str(status).upper() if status else "NOT_STARTED"
        priority = activity.get("priority")
        if priority in ("low", "medium", "high"):
            out["hs_task_priority"] = priority.upper()
        kind = (activity.get("properties") or {}).get("task_type")  # call, email, todo
        out["hs_task_type"] = str(kind or "todo").upper()
    return out


# HTML markup a tool's body may hold (Pipedrive's notes are HTML): such a body is sent as it is.
_MARKUP = re.compile(
    r"</?(?:p|br|div|span|b|i|u|s|em|strong|a|ul|ol|li|h[1-6]|blockquote|pre|code|table|tr|td|"
    r"th|img|hr)\b[^<>]*>",
    re.IGNORECASE,
)


@overload
def rich_text(text: str) -> str: ...
@overload
def rich_text(text: str | None) -> str | None: ...
def rich_text(text: str | None) -> str | None:
    """A body as HubSpot's rich-text properties take it (``hs_note_body``, ``hs_call_body``,
    ``hs_meeting_body``, ``hs_task_body`` are HTML, sanitized by HubSpot): plain text with
    ``&``, ``<`` and ``>`` escaped and its line breaks as ``<br>`` — sent as it was, a
    ``<Carla>`` was dropped as a tag and the paragraphs of a call's comments ran together
    (found by a probe); a body holding HTML markup is sent as it is."""
    if not text or _MARKUP.search(text):
        return text
    escaped = html.escape(text, quote=False)
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def call_body(activity: Mapping[str, Any]) -> str | None:
    """A call's body as HubSpot shows it: the body its tool gave, then each comment a rep
    wrote on it (a dialer's comments: Aircall's ``call.commented``), then its tags, each a
    paragraph; None when it has none of them."""
    extra = activity.get("properties") or {}
    comments = _strings(extra.get("comments"))
    tags = _strings(extra.get("tags"))
    parts = [activity["body"]] if activity.get("body") else []
    parts += comments
    if tags:
        parts.append("Tags: " + ", ".join(tags))
    return "\n\n".join(parts) if parts else None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value or () if v not in (None, "")] if isinstance(value, list) else []


# HubSpot's read-only property of a merged record: the ids merged into it, ";"-separated.
MERGED_IDS = "hs_merged_object_ids"

# HubSpot's own property: set whenever a record's owner changes (contacts, companies, deals,
# tickets), so a record found in HubSpot has a time for its owner too.
OWNER_ASSIGNED = "hubspot_owner_assigneddate"


def from_hubspot_time(value: Any) -> str | None:
    """HubSpot's datetime (ISO 8601, or epoch milliseconds) as a canonical time; None when
    absent or unreadable (the owner then counts as undated, as before)."""
    if not value:
        return None
    try:
        if str(value).isdigit():
            return epoch_ts(int(value) / 1000)
        return parse_time(str(value))
    except (ValueError, OverflowError):
        return None
