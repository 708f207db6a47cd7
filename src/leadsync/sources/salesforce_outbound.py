"""Salesforce Outbound Messages: the SOAP channel, read into pieces.

A ``notifications`` element (namespace :data:`OUTBOUND_NS`) with ``OrganizationId``,
``ActionId`` and up to 100 ``Notification{Id, sObject}``; the ``sObject`` has
``xsi:type="sf:Lead"`` (etc.) and one child per selected field. Each notification is stored
as one piece, ``{"channel": "outbound_message", "organization_id", "action_id",
"notification_id", "sobject": "Lead", "fields": {"Id": …, "OwnerId": …}}``; values are the
XML's strings and an ``xsi:nil`` field is null (a selected field with no value: emptied). A
notification without ``Id`` or a typed ``sObject`` is refused alone, the others taken. There is no signature: ``OrganizationId``
must equal the integration's ``vendor: organization_id`` (15-character prefixes, constant
time); without one configured every Outbound Message is refused. Key: the notification
``Id`` (the same across Salesforce's retries). Time: the record's ``LastModifiedDate`` (else
``SystemModstamp``; select one in the message). The answer is the SOAP ``Ack`` (:data:`ACK`).

A message's ``SessionId`` (sent when the Outbound Message's "Send Session ID" is checked: a
session a listener may call Salesforce's API with) is a credential: it is never stored with a
piece, and :func:`redact_session` hides it in a message kept whole as a dead letter.

The XML is read with the standard library's ElementTree, which resolves no external entities;
the expat of Python 3.11 (2.4.1 and later) also caps entity expansion ("billion laughs"). On
top of that a document type declaration is refused outright (SOAP forbids one), so no entity
can ever be declared.

The rest of the channel — the organization id check, the pieces' keys and times, their
events — is in :mod:`leadsync.sources.salesforce` with the change events.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from leadsync.errors import EventError
from leadsync.sources.hygiene import REDACTED

__all__ = [
    "ACK",
    "OUTBOUND",
    "OUTBOUND_NS",
    "XML_TYPES",
    "XSI_NS",
    "OutboundMessage",
    "is_outbound",
    "read_outbound_message",
    "redact_session",
]

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


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A decoded Outbound Message: its organization and its notifications as pieces (one
    that cannot be read as ``{"channel", "problem"}``: refused alone, see
    :func:`read_outbound_message`), with their XML elements."""

    organization_id: str | None
    action_id: str | None
    notifications: tuple[dict[str, Any], ...]
    elements: tuple[ET.Element, ...] = field(default=(), repr=False, compare=False)

    def alone(self, notification: dict[str, Any]) -> str:
        """The message with ``notification`` alone, as XML text: how one that cannot be
        identified is kept as a dead letter, which a retry reads as a message."""
        index = next(i for i, n in enumerate(self.notifications) if n is notification)
        root = ET.Element(f"{{{OUTBOUND_NS}}}notifications")
        for name, value in (("OrganizationId", self.organization_id), ("ActionId", self.action_id)):
            if value is not None:
                ET.SubElement(root, f"{{{OUTBOUND_NS}}}{name}").text = value
        root.append(self.elements[index])
        return ET.tostring(root, encoding="unicode")


# ------------------------------------------------------------------ Outbound Messages


class _NoDoctype(ET.TreeBuilder):
    """Builds the tree, refusing a document type declaration (SOAP forbids one)."""

    def doctype(self, name: str | None, pubid: str | None, system: str | None) -> None:
        raise EventError("body: a SOAP message must not have a document type declaration")


def read_outbound_message(raw: bytes) -> OutboundMessage:
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
    elements = tuple(found.findall(f"{{{OUTBOUND_NS}}}Notification"))
    pieces: list[dict[str, Any]] = []
    for notification in elements:
        notification_id = _child_text(notification, "Id")
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        type_name = (sobject.get(f"{{{XSI_NS}}}type") or "") if sobject is not None else ""
        type_name = type_name.rpartition(":")[2]
        problem = _problem(notification_id, sobject, type_name)
        if problem is not None:  # refused alone, named by its index (SalesforceAdapter)
            pieces.append({"channel": OUTBOUND, "problem": problem})
            continue
        assert sobject is not None
        fields = {
            child.tag.rpartition("}")[2]: (
                None if child.get(f"{{{XSI_NS}}}nil") == "true" else (child.text or "").strip()
            )
            for child in sobject
            if len(child) == 0
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
    return OutboundMessage(organization_id, action_id, tuple(pieces), elements)


def _problem(notification_id: str | None, sobject: ET.Element | None, type_name: str) -> str | None:
    """Why a notification cannot be read (its fields named within it), or None."""
    if notification_id is None:
        return 'field "Id": required'
    if sobject is None:
        return 'field "sObject": required'
    if not type_name:
        return 'field "sObject": required: the xsi:type attribute ("sf:Lead")'
    return None


def _child_text(element: ET.Element, name: str) -> str | None:
    child = element.find(f"{{{OUTBOUND_NS}}}{name}")
    value = (child.text or "").strip() if child is not None else ""
    return value or None


# <SessionId>…</SessionId> with any namespace prefix and attributes, its text or CDATA: in the
# XML as sent, or in a JSON string holding it (an ingested line), whose escapes leave a session
# id (letters, digits, ! . _) as it is.
_SESSION = re.compile(
    r"(<(?:[\w.-]+:)?SessionId(?:\s[^>]*)?(?<!/)>)((?:[^<]|<!\[CDATA\[.*?\]\]>)+)"
    r"(</(?:[\w.-]+:)?SessionId\s*>)",
    re.DOTALL,
)


def redact_session(text: str) -> str:
    """``text`` (an Outbound Message, or text holding one) with the value of every
    ``SessionId`` element ``[redacted]``."""
    return _SESSION.sub(lambda m: m.group(1) + REDACTED + m.group(3), text)


def is_outbound(item: Any) -> bool:
    return isinstance(item, dict) and item.get("channel") == OUTBOUND
