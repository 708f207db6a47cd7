"""Salesforce: Outbound Messages (SOAP XML) and Change Data Capture events (JSON), one adapter.

Outbound Messages (``text/xml``)
--------------------------------
A ``notifications`` element (namespace :data:`OUTBOUND_NS`) with ``OrganizationId``,
``ActionId`` and up to 100 ``Notification{Id, sObject}``; the ``sObject`` has
``xsi:type="sf:Lead"`` (etc.) and one child per selected field. Each notification is stored
as one piece, ``{"channel": "outbound_message", "organization_id", "action_id",
"notification_id", "sobject": "Lead", "fields": {"Id": …, "OwnerId": …}}``; values are the
XML's strings and an ``xsi:nil`` field is left out. There is no signature: ``OrganizationId``
must equal the integration's ``vendor: organization_id`` (15-character prefixes, constant
time); without one configured every Outbound Message is refused. Key: the notification
``Id`` (the same across Salesforce's retries). Time: the record's ``LastModifiedDate`` (else
``SystemModstamp``; select one in the message). The answer is the SOAP ``Ack`` (:data:`ACK`).

The XML is read with the standard library's ElementTree, which resolves no external entities;
the expat of Python 3.11 (2.4.1 and later) also caps entity expansion ("billion laughs"). On
top of that a document type declaration is refused outright (SOAP forbids one), so no entity
can ever be declared.

Change Data Capture (``application/json``)
------------------------------------------
A subscriber relays one change event or an array of them: ``{"ChangeEventHeader":
{entityName, recordIds[], changeType, changedFields[], commitTimestamp (ms), commitUser,
transactionKey, sequenceNumber}, <fields>}``, signed like the generic source
(``X-Leadsync-Signature: sha256=<hex>``, :func:`~leadsync.sources.signatures.verify_generic`).
Without a secret change events are refused (Outbound Messages need none: their
organization id is checked). Key: ``stable_key("salesforce", transactionKey, sequenceNumber)``, else
``stable_key("salesforce", entityName, sorted recordIds, changeType, commitTimestamp)``. Time:
``commitTimestamp``. One event per record id (``#<id18>`` appended when there are several).
``CREATE`` maps every field present; ``UPDATE`` only those in ``changedFields`` (every field
present when it is empty); ``DELETE`` and ``UNDELETE`` give ``[]`` (deletions are not
propagated); ``GAP_*`` and ``OVERFLOW`` are an EventError asking for a resync (the subscriber
lost changes). Compound names arrive as ``Name: {FirstName, LastName}``; datetimes as ISO
strings or epoch milliseconds (a Pub/Sub relay).

Mapping (both channels)
-----------------------
=============  =========  ================================================================
sObject        becomes    fields
=============  =========  ================================================================
Lead, Contact  contact    Email, FirstName -> firstname, LastName -> lastname, Phone,
                          Company (free); Contact AccountId -> company association
Account        company    Name, Website -> domain (``website`` when it names no domain)
Opportunity    deal       Name, StageName -> stage, IsClosed -> is_closed, Amount; AccountId
                          -> company, ContactId -> contact associations
Task: Call     call       Subject -> title, Description -> body, CallDurationInSeconds ->
                          duration_s, CallType -> direction, CallDisposition -> outcome
Task: Email    email      Subject, Description -> body
Task: other    task       Subject, Description -> body, Status -> status, Priority ->
                          priority, ActivityDate -> due
Event          meeting    Subject -> title, Description -> body, StartDateTime -> start,
                          EndDateTime -> end
=============  =========  ================================================================

(Task: is its ``TaskSubtype``.) Vocabularies: :data:`CALL_DISPOSITIONS` (?),
:data:`CALL_TYPES` (Internal: no direction), :data:`TASK_STATUSES`, :data:`TASK_PRIORITIES`;
the raw value is kept (``salesforce_call_disposition``, ``salesforce_call_type``,
``salesforce_status``, ``salesforce_priority``) and an unknown one keeps only that. Any other
sObject is an EventError naming the allowed ones.

Ids are converted to the 18-character form (:func:`id18`) everywhere, so 15- and
18-character ids compare equal. ``OwnerId`` becomes the owner ``{"id": id18}``, a user
(``005``) or a queue (``00G``): a queue is no person, the mapping finds nobody and the owner
counts as unmapped. A record change that names nothing leadsync maps but the owner is an
``owner`` event; one that names nothing at all gives ``[]``. Activities: ``WhoId`` (``00Q``,
``003``) -> contact, ``WhatId`` ``006`` -> deal, ``001`` -> company (others are ignored); a
task happened at ``CreatedDate``, a meeting at ``StartDateTime``, else at the event's time.

Guesses and limits: :data:`CALL_DISPOSITIONS` (?) (CallDisposition is free text from the
telephony integration). A Task UPDATE must carry ``TaskSubtype`` (enrich the Task change
events with it) to say which activity it changes; without it the event is an EventError,
not an activity of the wrong type. A field cleared in Salesforce is not cleared here: null is
never sent on, so that a partial update cannot wipe values.
"""

from __future__ import annotations

import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from leadsync.errors import EventError, SignatureError
from leadsync.model import Event
from leadsync.sources.base import (
    Adapter,
    Piece,
    WebhookRequest,
    compact,
    decode_json,
    describe,
    domain_or_none,
    event_name_error,
    get_path,
    number,
    obj,
    put,
    refuse,
    signature_needs_secret,
    stable_key,
    text,
    time_from_epoch,
    time_from_iso,
    whole,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.signatures import GENERIC_WINDOW_S, verify_generic

__all__ = ["ACK", "ADAPTER", "OutboundMessage", "SalesforceAdapter", "id18"]

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
XML_TYPES = ("text/xml", "application/xml", "application/soap+xml")
OUTBOUND = "outbound_message"

ACK = (
    b'<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
    b'"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns='
    b'"http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse>'
    b"</soapenv:Body></soapenv:Envelope>"
)

SOBJECTS = ("Lead", "Contact", "Account", "Opportunity", "Task", "Event")
CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE")

CALL_DISPOSITIONS: dict[str, str] = {  # (?) free text: lowercased, _ and - read as spaces
    "connected": "connected",
    "answered": "connected",
    "no answer": "no_answer",
    "busy": "busy",
    "voicemail": "voicemail",
    "left voicemail": "voicemail",
    "left message": "left_live_message",
    "left live message": "left_live_message",
    "wrong number": "wrong_number",
    "failed": "failed",
    "canceled": "canceled",
    "cancelled": "canceled",
}
CALL_TYPES: dict[str, str] = {"inbound": "inbound", "outbound": "outbound"}  # Internal: none
TASK_STATUSES: dict[str, str] = {
    "not started": "not_started",
    "in progress": "in_progress",
    "completed": "completed",
    "waiting on someone else": "waiting",
    "deferred": "deferred",
}
TASK_PRIORITIES: dict[str, str] = {"high": "high", "normal": "medium", "low": "low"}
TASK_SUBTYPES: dict[str, str] = {"Call": "call", "Email": "email"}  # any other: task

# Key prefixes of the records associations may name.
CONTACT_PREFIXES = ("00Q", "003")
WHAT_PREFIXES = {"006": "deal", "001": "company"}

_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?", re.ASCII)
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(value: str) -> str | None:
    """The 18-character form of a Salesforce id, or None when ``value`` is not one.

    The suffix encodes which of the first 15 characters are capitals, so an 18-character id
    whose letters lost their case is restored before the suffix is recomputed.
    """
    if not _ID.fullmatch(value):
        return None
    base = value[:15]
    if len(value) == 18:
        suffix = value[15:].upper()
        if any(c not in _CHECKSUM for c in suffix):
            return None
        chars = list(base)
        for block, code in enumerate(suffix):
            bits = _CHECKSUM.index(code)
            for offset in range(5):
                at = block * 5 + offset
                chars[at] = chars[at].upper() if bits >> offset & 1 else chars[at].lower()
        base = "".join(chars)
    blocks = (base[i : i + 5] for i in range(0, 15, 5))
    suffix = "".join(
        _CHECKSUM[sum(1 << i for i, c in enumerate(block) if "A" <= c <= "Z")] for block in blocks
    )
    return base + suffix


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A decoded Outbound Message: its organization and its notifications as pieces."""

    organization_id: str | None
    action_id: str | None
    notifications: tuple[dict[str, Any], ...]


class SalesforceAdapter(Adapter):
    """Salesforce Outbound Messages and relayed change events (see the module docstring)."""

    kind = "salesforce"
    signature_scheme = (
        "Outbound Messages: OrganizationId equals vendor.organization_id; relayed change"
        " events: X-Leadsync-Signature, as the generic kind"
    )
    secret_required = False  # Outbound Messages are checked by organization id
    vendor_options = frozenset({"organization_id", "timestamp_tolerance_s", "require_timestamp"})
    content_types = (*XML_TYPES, "application/json")

    # ---------------------------------------------------------- on receipt

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        if request.content_type not in XML_TYPES:
            # Change events come through the relay, signed as leadsync's own format: with a
            # signed timestamp when the relay sends one (or the integration requires one).
            verify_generic(
                signature_needs_secret(self.kind, secret),
                request.body,
                request.headers,
                now,
                float(self.options.get("timestamp_tolerance_s") or GENERIC_WINDOW_S),
                bool(self.options.get("require_timestamp", False)),
            )
            return
        configured = self.options.get("organization_id")
        if not isinstance(configured, str) or not configured:
            raise SignatureError(
                "no organization_id is configured for this salesforce integration"
                " (vendor: organization_id); Outbound Messages are refused"
            )
        message = self.body_of(request)
        given = message.organization_id if isinstance(message, OutboundMessage) else None
        if not given:
            raise SignatureError("the Outbound Message has no OrganizationId")
        if not hmac.compare_digest(given[:15].encode(), configured[:15].encode()):
            raise SignatureError(
                "the Outbound Message's OrganizationId is not the configured organization_id"
            )

    def decode(self, request: WebhookRequest) -> Any:
        if request.content_type in XML_TYPES:
            return _read_outbound_message(request.body)
        return decode_json(request.body)

    def split(self, body: Any, headers: Mapping[str, str]) -> list[Any]:
        if isinstance(body, OutboundMessage):
            return list(body.notifications)
        if isinstance(body, dict):
            return [body]
        if not isinstance(body, list):
            refuse("(body)", f"must be a change event or an array of them, got {describe(body)}")
        for index, item in enumerate(body):
            if not isinstance(item, dict):
                refuse(f"[{index}]", f"must be a change event object, got {describe(item)}")
        return list(body)

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        if _is_outbound(item):
            notification_id = text(item, "notification_id", required=True)
            assert notification_id is not None
            return notification_id
        header = obj(item, "ChangeEventHeader", required=True)
        assert header is not None
        transaction = text(item, "ChangeEventHeader.transactionKey")
        sequence = header.get("sequenceNumber")
        if transaction is not None and sequence is not None:
            return stable_key("salesforce", transaction, sequence)
        return stable_key(
            "salesforce",
            header.get("entityName"),
            sorted(_record_ids(item)),
            header.get("changeType"),
            header.get("commitTimestamp"),
        )

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        if _is_outbound(item):
            return _time(item, "fields.LastModifiedDate") or _time(item, "fields.SystemModstamp")
        stamp = get_path(item, "ChangeEventHeader.commitTimestamp")
        return time_from_epoch(stamp, "ChangeEventHeader.commitTimestamp", "ms")

    def acknowledge(self, pieces: Sequence[Piece]) -> tuple[str, bytes] | None:
        if any(_is_outbound(piece.body) for piece in pieces):
            return "text/xml; charset=utf-8", ACK
        return None

    @classmethod
    def normalize_external_id(cls, record_type: str | None, value: str) -> str:
        """The 18-character form of a Salesforce id (every event names records by it), so a
        15-character id copied from Salesforce's UI or a report finds the same record."""
        return id18(value.strip()) or value

    # ------------------------------------------------------------ in a worker

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        if _is_outbound(item):
            dicts = self._outbound_events(item, event_id)
        elif isinstance(item, dict) and "ChangeEventHeader" in item:
            dicts = self._change_events(item, event_id)
        else:
            refuse(
                "(body)",
                "neither an Outbound Message notification nor a change event"
                " (an object with ChangeEventHeader)",
            )
        return [parse_event(d, self.integration, seq) for d in dicts]

    def _outbound_events(self, item: Any, event_id: str) -> list[dict[str, Any]]:
        sobject = text(item, "sobject", required=True)
        obj(item, "fields", required=True)
        record_id = _id(item, "fields.Id", required=True)
        when = self.occurred_at(item, {})
        if when is None:
            refuse(
                "fields.LastModifiedDate",
                "required: select LastModifiedDate (or SystemModstamp) in the Outbound Message",
            )
        assert record_id is not None
        view = _Fields(item, "fields.", None, is_update=False)
        return _sobject_events(sobject, "sobject", view, record_id, event_id, when)

    def _change_events(self, item: Any, event_id: str) -> list[dict[str, Any]]:
        change = text(item, "ChangeEventHeader.changeType", required=True)
        entity = text(item, "ChangeEventHeader.entityName", required=True)
        assert change is not None
        if change.startswith("GAP_") or change == "OVERFLOW":
            _gap(change, entity, _record_ids(item))
        if change not in CHANGE_TYPES:
            event_name_error("ChangeEventHeader.changeType", change, CHANGE_TYPES)
        if change in ("DELETE", "UNDELETE"):
            return []
        record_ids = []
        for index, raw in enumerate(_record_ids(item)):
            record_ids.append(_id_of(raw, f"ChangeEventHeader.recordIds[{index}]"))
        if not record_ids:
            refuse("ChangeEventHeader.recordIds", "required: at least one record id")
        when = self.occurred_at(item, {})
        if when is None:
            refuse("ChangeEventHeader.commitTimestamp", "required (epoch milliseconds)")
        changed = _changed_fields(item) if change == "UPDATE" else None
        view = _Fields(item, "", changed, is_update=change == "UPDATE")
        events: list[dict[str, Any]] = []
        for record_id in record_ids:
            one_id = event_id if len(record_ids) == 1 else f"{event_id}#{record_id}"
            events += _sobject_events(
                entity, "ChangeEventHeader.entityName", view, record_id, one_id, when
            )
        return events


ADAPTER = SalesforceAdapter


# ------------------------------------------------------------------ Outbound Messages


class _NoDoctype(ET.TreeBuilder):
    """Builds the tree, refusing a document type declaration (SOAP forbids one)."""

    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        raise EventError("body: a SOAP message must not have a document type declaration")


def _read_outbound_message(raw: bytes) -> OutboundMessage:
    """The notifications of an Outbound Message; EventError naming what is missing."""
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(raw)
        root = parser.close()
    except ET.ParseError as exc:
        line, column = exc.position
        raise EventError(f"body is not well-formed XML (line {line}, column {column})") from None
    except LookupError as exc:  # expat: an encoding named in the XML declaration it lacks
        raise EventError(
            f"body: the XML declaration names an unknown encoding ({exc}); allowed: UTF-8 "
            "(Salesforce sends UTF-8)"
        ) from None
    tag = f"{{{OUTBOUND_NS}}}notifications"
    found = root if root.tag == tag else root.find(f".//{tag}")
    if found is None:
        raise EventError(
            f"body is not an Outbound Message: no notifications element ({OUTBOUND_NS})"
        )
    organization_id = _child_text(found, "OrganizationId")
    action_id = _child_text(found, "ActionId")
    pieces = []
    for index, notification in enumerate(found.findall(f"{{{OUTBOUND_NS}}}Notification")):
        where = f"notifications.Notification[{index}]"
        notification_id = _child_text(notification, "Id")
        if notification_id is None:
            refuse(f"{where}.Id", "required")
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            refuse(f"{where}.sObject", "required")
        type_name = (sobject.get(f"{{{XSI_NS}}}type") or "").rpartition(":")[2]
        if not type_name:
            refuse(f"{where}.sObject", 'required: the xsi:type attribute ("sf:Lead")')
        fields = {
            child.tag.rpartition("}")[2]: (child.text or "").strip()
            for child in sobject
            if len(child) == 0 and child.get(f"{{{XSI_NS}}}nil") != "true"
        }
        pieces.append(
            {
                "channel": OUTBOUND,
                "organization_id": organization_id,
                "action_id": action_id,
                "notification_id": notification_id,
                "sobject": type_name,
                "fields": fields,
            }
        )
    return OutboundMessage(organization_id, action_id, tuple(pieces))


def _child_text(element: ET.Element, name: str) -> str | None:
    child = element.find(f"{{{OUTBOUND_NS}}}{name}")
    value = (child.text or "").strip() if child is not None else ""
    return value or None


def _is_outbound(item: Any) -> bool:
    return isinstance(item, dict) and item.get("channel") == OUTBOUND


# ------------------------------------------------------------------ change events


def _record_ids(item: Any) -> list[str]:
    ids = get_path(item, "ChangeEventHeader.recordIds")
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        refuse("ChangeEventHeader.recordIds", f"must be an array of strings, got {describe(ids)}")
    return ids


def _changed_fields(item: Any) -> frozenset[str] | None:
    names = get_path(item, "ChangeEventHeader.changedFields")
    if names is None or names == []:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        refuse(
            "ChangeEventHeader.changedFields", f"must be an array of strings, got {describe(names)}"
        )
    return frozenset(names)


def _gap(change: str, entity: str | None, record_ids: list[str]) -> NoReturn:
    shown = ", ".join(record_ids[:5]) + (", …" if len(record_ids) > 5 else "")
    raise EventError(
        f"gap event {change} for {entity or '?'} {shown or '(no record ids)'}: the subscriber"
        " lost changes; resync these records from Salesforce (read them and replay them)"
    )


# ------------------------------------------------------------------ fields


@dataclass(frozen=True, slots=True)
class _Fields:
    """An sObject's fields inside a stored piece: ``prefix`` locates them (for error paths);
    on an UPDATE only the ``changed`` fields count."""

    root: Any
    prefix: str
    changed: frozenset[str] | None
    is_update: bool

    def counts(self, name: str) -> bool:
        return self.changed is None or name in self.changed or name.split(".")[0] in self.changed

    def text(self, name: str) -> str | None:
        return text(self.root, self.prefix + name) if self.counts(name) else None

    def name_part(self, part: str) -> str | None:
        """``FirstName`` or ``LastName``: a field, or a part of the compound ``Name``."""
        if isinstance(get_path(self.root, self.prefix + "Name"), dict):
            return self.text(f"Name.{part}")
        return self.text(part)

    def number(self, name: str) -> int | float | None:
        return whole(number(self.root, self.prefix + name)) if self.counts(name) else None

    def flag(self, name: str) -> bool | None:
        if not self.counts(name):
            return None
        path = self.prefix + name
        value = get_path(self.root, path)
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if value is not None and not isinstance(value, bool):
            refuse(path, f"must be true or false, got {describe(value)}")
        return value

    def time(self, name: str) -> str | None:
        return _time(self.root, self.prefix + name) if self.counts(name) else None

    def id(self, name: str) -> str | None:
        return _id(self.root, self.prefix + name) if self.counts(name) else None

    def vocabulary(
        self,
        name: str,
        table: Mapping[str, str],
        key: str,
        raw_key: str,
        properties: dict[str, Any],
    ) -> None:
        """Put a vendor value mapped by ``table`` as ``key`` and the raw value as ``raw_key``
        (the raw value alone when the table does not know it)."""
        raw = self.text(name)
        if raw is not None:
            properties[raw_key] = raw
            put(properties, key, table.get(" ".join(re.split(r"[\s_-]+", raw.lower()))))


def _time(root: Any, path: str) -> str | None:
    value = get_path(root, path)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return time_from_epoch(value, path, "ms")
    return time_from_iso(value, path)


def _id(root: Any, path: str, required: bool = False) -> str | None:
    raw = text(root, path, required)
    return _id_of(raw, path) if raw is not None else None


def _id_of(raw: str, path: str) -> str:
    converted = id18(raw.strip())
    if converted is None:
        refuse(path, f"must be a Salesforce id (15 or 18 letters and digits), got {raw[:40]!r}")
    return converted


# ------------------------------------------------------------------ mapping


def _sobject_events(
    sobject: str | None,
    sobject_path: str,
    view: _Fields,
    record_id: str,
    event_id: str,
    when: str,
) -> list[dict[str, Any]]:
    if sobject in _RECORDS:
        return _record_events(_RECORDS[sobject], view, record_id, event_id, when)
    if sobject == "Task":
        return [_task(view, record_id, event_id, when)]
    if sobject == "Event":
        return [_meeting(view, record_id, event_id, when)]
    shown = repr(sobject) if isinstance(sobject, str) else describe(sobject)
    refuse(sobject_path, f"sObject {shown} is not supported; allowed: {', '.join(SOBJECTS)}")


def _record_events(
    mapper: Callable[[_Fields], Mapped], view: _Fields, record_id: str, event_id: str, when: str
) -> list[dict[str, Any]]:
    record_type, properties, refs = mapper(view)
    owner_id = view.id("OwnerId")
    owner = {"id": owner_id} if owner_id is not None else None
    named = {"id": event_id, "occurred_at": when, "object": record_type, "external_id": record_id}
    if not properties and not refs:
        return [{**named, "type": "owner", "owner": owner}] if owner is not None else []
    parts = {"owner": owner, "properties": properties, "associations": refs}
    return [compact({**named, "type": "record", **parts})]


Mapped = tuple[str, dict[str, Any], list[dict[str, str]]]


def _contact(view: _Fields) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "email", view.text("Email"))
    put(properties, "firstname", view.name_part("FirstName"))
    put(properties, "lastname", view.name_part("LastName"))
    put(properties, "phone", view.text("Phone"))
    put(properties, "company", view.text("Company"))
    return "contact", properties, _refs(view, ("company", "AccountId"))


def _account(view: _Fields) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", view.text("Name"))
    website = view.text("Website")
    if website is not None:
        properties["domain" if (domain_or_none(website) is not None) else "website"] = website
    return "company", properties, []


def _opportunity(view: _Fields) -> Mapped:
    properties: dict[str, Any] = {}
    put(properties, "name", view.text("Name"))
    put(properties, "stage", view.text("StageName"))
    put(properties, "is_closed", view.flag("IsClosed"))
    put(properties, "amount", view.number("Amount"))
    refs = _refs(view, ("company", "AccountId"), ("contact", "ContactId"))
    return "deal", properties, refs


_RECORDS = {"Lead": _contact, "Contact": _contact, "Account": _account, "Opportunity": _opportunity}


def _task(view: _Fields, record_id: str, event_id: str, when: str) -> dict[str, Any]:
    subtype = text(view.root, view.prefix + "TaskSubtype")  # what it is, changed or not
    if subtype is None and view.is_update:
        refuse(
            view.prefix + "TaskSubtype",
            "required on a Task update to know which activity it changes: enrich the Task"
            " change events with TaskSubtype",
        )
    activity = TASK_SUBTYPES.get(subtype or "", "task")
    properties: dict[str, Any] = {}
    put(properties, "title" if activity == "call" else "subject", view.text("Subject"))
    put(properties, "body", view.text("Description"))
    if activity == "call":
        put(properties, "duration_s", view.number("CallDurationInSeconds"))
        view.vocabulary("CallType", CALL_TYPES, "direction", "salesforce_call_type", properties)
        view.vocabulary(
            "CallDisposition",
            CALL_DISPOSITIONS,
            "outcome",
            "salesforce_call_disposition",
            properties,
        )
    elif activity == "task":
        view.vocabulary("Status", TASK_STATUSES, "status", "salesforce_status", properties)
        view.vocabulary("Priority", TASK_PRIORITIES, "priority", "salesforce_priority", properties)
        put(properties, "due", view.text("ActivityDate"))
    happened = _time(view.root, view.prefix + "CreatedDate") or when
    return _activity(activity, view, record_id, event_id, happened, properties)


def _meeting(view: _Fields, record_id: str, event_id: str, when: str) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    put(properties, "title", view.text("Subject"))
    put(properties, "body", view.text("Description"))
    put(properties, "start", view.time("StartDateTime"))
    put(properties, "end", view.time("EndDateTime"))
    happened = _time(view.root, view.prefix + "StartDateTime") or when
    return _activity("meeting", view, record_id, event_id, happened, properties)


def _activity(
    activity: str,
    view: _Fields,
    record_id: str,
    event_id: str,
    happened: str,
    properties: dict[str, Any],
) -> dict[str, Any]:
    owner_id = view.id("OwnerId")
    refs = []
    who = view.id("WhoId")
    if who is not None and who.startswith(CONTACT_PREFIXES):
        refs.append({"object": "contact", "external_id": who})
    what = view.id("WhatId")
    if what is not None and what[:3] in WHAT_PREFIXES:
        refs.append({"object": WHAT_PREFIXES[what[:3]], "external_id": what})
    named = {
        "id": event_id,
        "occurred_at": happened,
        "activity": activity,
        "external_id": record_id,
    }
    owner = {"id": owner_id} if owner_id is not None else None
    parts = {"owner": owner, "properties": properties, "associations": refs}
    return compact({**named, "type": "activity", **parts})


# ------------------------------------------------------------------ parts


def _refs(view: _Fields, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    out = []
    for record_type, field in pairs:
        external_id = view.id(field)
        if external_id is not None:
            out.append({"object": record_type, "external_id": external_id})
    return out
