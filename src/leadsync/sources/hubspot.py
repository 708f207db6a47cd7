"""HubSpot webhooks (v3): what people, or other apps, changed in the CRM.

HubSpot is the CRM side of bidirectional sync: its webhooks tell leadsync about owner changes,
new records and a few property changes made in the portal, so that the store stays what the
CRM says.

Payload
-------
One request body is a JSON **array** of 1 to 100 events (``MAX_BATCH``); each element is an
object::

    {"eventId": 1001, "subscriptionId": 55, "portalId": 62515, "appId": 777,
     "occurredAt": 1790000000000, "subscriptionType": "contact.propertyChange",
     "attemptNumber": 0, "objectId": 5101, "propertyName": "hubspot_owner_id",
     "propertyValue": "301", "changeSource": "CRM_UI", "sourceId": "userId:9001"}

A body that is not an array, an empty array or more than 100 elements is refused whole
(HTTP 400). An element that is not an object, or whose ``eventId`` (an integer or a string) or
``occurredAt`` (epoch milliseconds) is missing or malformed, cannot be identified: it is
refused alone, named by its index (``field "[3].eventId": required``), and kept as a dead
letter while the elements beside it are taken; a batch none of whose elements can be
identified is refused whole (:mod:`leadsync.sources.elements`).

- Dedupe key (:meth:`HubSpotAdapter.identify`): ``<subscriptionId>:<eventId>@<objectId>``
  (just ``eventId`` when there is no ``subscriptionId``; no ``@…`` for an event that names no
  ``objectId``, an association change): HubSpot says ``eventId`` is not guaranteed to be
  unique, so one it gave another object's change is another event, and a retry (another
  ``attemptNumber``) keeps all three. ``1001`` and ``"1001"`` are the same.
- Inbox time (:meth:`HubSpotAdapter.occurred_at`) and every event's ``occurred_at``:
  ``occurredAt``, the time of the change in HubSpot (it decides staleness).
- Nothing from the headers is stored; the signature headers are checked on receipt only.

Event names (``subscriptionType`` = ``<object>.<action>``)
---------------------------------------------------------
``<object>`` is ``contact``, ``company``, ``deal`` or ``ticket`` (the record of that type,
named by ``str(objectId)``), or ``object`` for HubSpot's generic subscriptions, whose record
type is read from ``objectTypeId`` (``OBJECT_TYPE_IDS``: ``0-1`` contact, ``0-2`` company,
``0-3`` deal, ``0-5`` ticket; any other object type gives ``[]``).

=================================  ===========================================================
action                             becomes
=================================  ===========================================================
``propertyChange`` of              an **owner** event: ``owner`` = ``{"id": propertyValue}``,
``hubspot_owner_id``               or ``null`` (no owner) when the value is empty or null
``propertyChange`` of a kept       a **record** event with that one property (table below); an
property                           empty or null value is ``null``, i.e. HubSpot cleared it
``propertyChange`` of any other    ``[]`` (leadsync keeps no such field)
property
``creation``                       a **record** event with no owner and no properties: the
                                   record exists in the CRM
``associationChange``, a link      a **record** event of the ``fromObjectId`` record naming the
added (``associationRemoved``      ``toObjectId`` record (types from ``associationType``,
false)                             ``CONTACT_TO_COMPANY``, or the generic ``fromObjectTypeId``
                                   and ``toObjectTypeId``). Between a contact and a company the
                                   contact speaks when ``isPrimaryAssociation`` is true (the
                                   company becomes its primary one) and the company otherwise
                                   (primary only for a contact without one)
``associationChange``, a link      ``[]``: leadsync never ends a link; nor keeps one to a line
removed, or to another object      item, a product, a company's parent or a custom object
``merge``                          a **record** event of the record kept (``newObjectId``, else
                                   ``primaryObjectId``, else ``objectId``) with ``merged``: the
                                   other ids (``mergedObjectIds``; the primary's and the
                                   object's when HubSpot made a new one) name it from now on
                                   (engine/merges.py)
``deletion``, ``restore``,         ``[]``: known and ignored; deletions are not propagated
``privacyDeletion``
=================================  ===========================================================

An ``associationChange`` of records leadsync keeps without ``fromObjectId``, ``toObjectId``
or a flag ``associationRemoved`` (or ``isPrimaryAssociation`` given as anything but a flag)
is an EventError naming the field. A flag is ``true``/``false`` as HubSpot sends it, or
``1``/``0`` or either as a string (:data:`~leadsync.sources.forms.FLAG_FORMS`, read alike by
every adapter).
A ``propertyChange`` without a ``propertyValue`` key is an EventError (``null`` and ``""``
are a cleared value; a missing key is a malformed event, never a clear). The value of a
property leadsync does not keep is not read, whatever its type; ``hs_is_closed``'s is a flag
in any of those forms (another value gives nothing, as an unknown string always did).

Events about objects leadsync does not keep (``IGNORED_OBJECTS``: ``product``, ``line_item``,
``conversation`` and ``event``, as in ``event.completed``) give ``[]`` whatever the action.
Any other name is an EventError (the row becomes a dead letter).

Kept properties (``KEPT_PROPERTIES``, HubSpot name -> canonical name):

=========  ==================================================
contact    ``email`` -> ``email``, ``firstname``, ``lastname``, ``phone``, ``mobilephone``
company    ``domain`` -> ``domain``, ``name``
deal       ``dealname`` -> ``name``, ``dealstage`` -> ``stage``, ``hs_is_closed`` -> ``is_closed``
ticket     ``subject``, ``hs_pipeline_stage`` -> ``stage``
=========  ==================================================

A deal's ``is_closed`` (what "open deal" in the association rules reads) is HubSpot's
``hs_is_closed`` where a change gives it, and a ``dealstage`` of the default pipeline
(``DEFAULT_PIPELINE_STAGES``) says it too: ``closedwon`` and ``closedlost`` are closed, its
other stages open. A stage of another pipeline (a number) says nothing of it.

Manual changes and echoes
-------------------------
- ``"manual": true`` is set on the owner and record events of a change made by a person:
  ``changeSource`` in ``MANUAL_CHANGE_SOURCES`` (``CRM_UI``, ``MOBILE_IOS``,
  ``MOBILE_ANDROID``). Any other source (``INTEGRATION``, ``API``, ``IMPORT``, workflows,
  missing) is not manual.
- No echo: when the integration's options hold ``app_id`` (the HubSpot app leadsync writes
  with), an event whose ``changeSource`` is in ``ECHO_CHANGE_SOURCES`` (``INTEGRATION``,
  ``API``) **and** whose ``sourceId`` names that app gives ``[]``. ``sourceId`` names the app
  when it is the app id itself (``"777"``) or the app id after an ``app:`` / ``appId:`` prefix
  (``APP_SOURCE_PREFIXES``, compared case-insensitively); the id is compared as a string with
  ``str(app_id)``, surrounding spaces ignored. A ``userId:...`` source never matches. The
  top-level ``appId`` field (the app that owns the *subscription*) is never compared.

Guesses (?)
-----------
- (?) The exact ``sourceId`` HubSpot puts on changes made through an app's API calls: the
  docs show ``userId:<id>`` for people; for apps both the bare app id and an ``app:``-prefixed
  form are accepted (``APP_SOURCE_PREFIXES``).
- (?) ``ECHO_CHANGE_SOURCES`` = ``INTEGRATION`` and ``API``: the change sources HubSpot's
  property histories use for writes made through an app or a private-app token.
- (?) ``MOBILE_IOS`` / ``MOBILE_ANDROID`` as the change sources of HubSpot's mobile apps
  (``CRM_UI`` is documented).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from leadsync.errors import EventError
from leadsync.model import PHONE_PROPERTIES, Event, RecordType
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    body_object,
    describe,
    event_name_error,
    in_element,
    refuse,
    signature_needs_secret,
    text,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.epoch import event_time_from_epoch
from leadsync.sources.forms import flag, flag_value, phone
from leadsync.sources.options import HubSpotOptions
from leadsync.sources.properties import Invalid, check_domain, check_email
from leadsync.sources.signatures import HUBSPOT_SIGNATURE, HUBSPOT_TIMESTAMP, verify_hubspot_v3

__all__ = ["ADAPTER", "HubSpotAdapter", "sign_v3"]

#: The most events HubSpot puts in one request.
MAX_BATCH = 100
#: The property that holds a record's owner (the owner's ``id``, not its ``userId``).
OWNER_PROPERTY = "hubspot_owner_id"
#: ``<object>`` of ``<object>.<action>`` that names a leadsync record type.
RECORD_OBJECTS: dict[str, RecordType] = {
    "contact": RecordType.CONTACT,
    "company": RecordType.COMPANY,
    "deal": RecordType.DEAL,
    "ticket": RecordType.TICKET,
}
#: The generic ``object.*`` subscriptions name their object type in ``objectTypeId``.
GENERIC_OBJECT = "object"
OBJECT_TYPE_IDS: dict[str, RecordType] = {
    "0-1": RecordType.CONTACT,
    "0-2": RecordType.COMPANY,
    "0-3": RecordType.DEAL,
    "0-5": RecordType.TICKET,
}
#: Objects HubSpot sends events about that leadsync does not keep: any action gives ``[]``.
IGNORED_OBJECTS = frozenset({"product", "line_item", "conversation", "event"})
#: Actions on records that leadsync turns into events.
CREATION = "creation"
PROPERTY_CHANGE = "propertyChange"
ASSOCIATION_CHANGE = "associationChange"
MERGE = "merge"
#: Actions on records that are known and ignored.
IGNORED_ACTIONS = frozenset({"deletion", "restore", "privacyDeletion"})
ACTIONS = (CREATION, PROPERTY_CHANGE, ASSOCIATION_CHANGE, MERGE, *sorted(IGNORED_ACTIONS))
#: The record types an ``associationType`` (``CONTACT_TO_COMPANY``) names, by its parts.
ASSOCIATION_OBJECTS: dict[str, RecordType] = {
    name.upper(): record_type for name, record_type in RECORD_OBJECTS.items()
}
KNOWN_EVENTS = (
    f"<object>.<action> with <object> one of {', '.join([*RECORD_OBJECTS, GENERIC_OBJECT])}"
    f" and <action> one of {', '.join(ACTIONS)}",
    *(f"{name}.*" for name in sorted(IGNORED_OBJECTS)),
)
#: (record type, HubSpot property) -> canonical property, for the property changes kept.
KEPT_PROPERTIES: dict[tuple[RecordType, str], str] = {
    (RecordType.CONTACT, "email"): "email",
    (RecordType.CONTACT, "firstname"): "firstname",
    (RecordType.CONTACT, "lastname"): "lastname",
    # The numbers a call is matched by (as HubSpot holds them; the engine reads them as E.164).
    (RecordType.CONTACT, "phone"): "phone",
    (RecordType.CONTACT, "mobilephone"): "mobilephone",
    (RecordType.COMPANY, "domain"): "domain",
    (RecordType.COMPANY, "name"): "name",
    (RecordType.DEAL, "dealname"): "name",
    (RecordType.DEAL, "dealstage"): "stage",
    (RecordType.DEAL, "hs_is_closed"): "is_closed",
    (RecordType.TICKET, "subject"): "subject",
    (RecordType.TICKET, "hs_pipeline_stage"): "stage",
}
#: The default sales pipeline's stage ids, each with whether a deal there is closed.
DEFAULT_PIPELINE_STAGES: dict[str, bool] = {
    "appointmentscheduled": False,
    "qualifiedtobuy": False,
    "presentationscheduled": False,
    "decisionmakerboughtin": False,
    "contractsent": False,
    "closedwon": True,
    "closedlost": True,
}
#: ``changeSource`` values of a change a person made by hand.
MANUAL_CHANGE_SOURCES = frozenset({"CRM_UI", "MOBILE_IOS", "MOBILE_ANDROID"})
#: ``changeSource`` values of a change an app made (leadsync's own writes among them). (?)
ECHO_CHANGE_SOURCES = frozenset({"INTEGRATION", "API"})
#: ``sourceId`` prefixes (before ``:``) that name an app, lowercase. (?)
APP_SOURCE_PREFIXES = frozenset({"app", "appid"})


class HubSpotAdapter(Adapter):
    """HubSpot webhooks v3; ``options["app_id"]`` (optional) is leadsync's own app."""

    kind = "hubspot"
    vendor_name = "HubSpot"
    signature_scheme = (
        "X-HubSpot-Signature-v3: base64 HMAC-SHA256(client secret, method + URI + body +"
        " X-HubSpot-Request-Timestamp), ±300 s"
    )
    is_crm = True
    options_model = HubSpotOptions
    options: HubSpotOptions

    # ---------------------------------------------------------- on receipt

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        """The v3 signature over method, full URI, body and timestamp (5-minute window)."""
        key = signature_needs_secret(self.kind, secret)
        verify_hubspot_v3(key, request.method, request.uri, request.body, request.headers, now)

    def split(self, body: Any, headers: Mapping[str, str]) -> list[Any]:
        """The batch's events; the batch is refused whole when it is not an array of 1 to 100
        (an element that cannot be identified is refused alone: :meth:`element_error`)."""
        if not isinstance(body, list):
            if isinstance(body, dict) and isinstance(body.get("properties"), dict):
                refuse(
                    "(body)",
                    "must be an array of webhooks v3 events, got one record with its properties:"
                    " a workflow's 'Send a webhook' action sends that, and leadsync does not read"
                    " it; subscribe the app's webhooks to the events instead (docs/WEBHOOKS.md)",
                )
            refuse("(body)", f"must be an array of events, got {describe(body)}")
        if not body:
            refuse("(body)", "must hold at least one event, got an empty array")
        if len(body) > MAX_BATCH:
            refuse(f"[{MAX_BATCH}]", f"at most {MAX_BATCH} events per batch, got {len(body)}")
        return list(body)

    def element_error(self, item: Any, count: int, index: int, error: EventError) -> str:
        """The body is always an array: even a lone event is named by its index."""
        return in_element(error.detail, index)

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        element = body_object(item, "an event object")
        key = _event_id(element.get("eventId"), "eventId")
        subscription, object_id = (
            _key_part(element, "subscriptionId"),
            _key_part(element, "objectId"),
        )
        key = key if subscription is None else f"{subscription}:{key}"
        # eventId is not promised unique: one given another object's change is another event.
        return key if object_id is None else f"{key}@{object_id}"

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        return _event_time(body_object(item, "an event object").get("occurredAt"), "occurredAt")

    # ------------------------------------------------------------ in a worker

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        data = body_object(item, "an event object")
        name = data.get("subscriptionType")
        if not isinstance(name, str):
            event_name_error("subscriptionType", name, KNOWN_EVENTS)
        subject, _, action = name.partition(".")
        if subject in IGNORED_OBJECTS:
            return []
        if (subject not in RECORD_OBJECTS and subject != GENERIC_OBJECT) or action not in ACTIONS:
            event_name_error("subscriptionType", name, KNOWN_EVENTS)
        if action in IGNORED_ACTIONS:
            return []
        if self._is_echo(data):
            return []
        if action == ASSOCIATION_CHANGE:
            fields = _added_link(data, subject == GENERIC_OBJECT)
        elif action == MERGE:
            fields = _merge(data, subject)
        else:
            fields = _record_change(data, subject, action)
        if fields is None:
            return []
        canonical = {
            "id": event_id,
            "occurred_at": _event_time(data.get("occurredAt"), "occurredAt"),
            **fields,
        }
        if text(data, "changeSource") in MANUAL_CHANGE_SOURCES:
            canonical["manual"] = True
        return [parse_event(canonical, self.integration, seq)]

    def _is_echo(self, data: dict[str, Any]) -> bool:
        """Whether leadsync's own app made this change (see the module docstring)."""
        app_id = self.options.app_id
        if app_id is None:
            return False
        if text(data, "changeSource") not in ECHO_CHANGE_SOURCES:
            return False
        source_id = text(data, "sourceId")
        return source_id is not None and _app_of(source_id) == app_id


ADAPTER = HubSpotAdapter


# ------------------------------------------------------------------ signing


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> dict[str, str]:
    """The two headers HubSpot sends with a v3-signed request (lowercase names, as
    :class:`~leadsync.sources.base.WebhookRequest` keeps them): base64 HMAC-SHA256 of
    ``method + uri + body + timestamp`` keyed with the app's client secret."""
    stamp = str(timestamp_ms)
    message = method.encode() + uri.encode() + body + stamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return {
        HUBSPOT_SIGNATURE.lower(): base64.b64encode(digest).decode("ascii"),
        HUBSPOT_TIMESTAMP.lower(): stamp,
    }


# ------------------------------------------------------------------ parts


def _event_id(value: Any, path: str) -> str:
    """``eventId``: an integer or a non-empty string, as a string."""
    if value is None or (isinstance(value, str) and not value.strip()):
        refuse(path, "required")
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse(path, f"must be an integer or a string, got {describe(value)}")
    return str(value).strip()


def _key_part(element: Mapping[str, Any], name: str) -> str | None:
    """An id of the element that goes into its key (a number or a non-blank string, as
    text), else None."""
    value = element.get(name)
    if isinstance(value, int | str) and not isinstance(value, bool) and str(value).strip():
        return str(value).strip()
    return None


def _event_time(value: Any, path: str) -> str:
    """``occurredAt`` (epoch milliseconds) as a canonical time; required."""
    moment = event_time_from_epoch(value, path, unit="ms")
    if moment is None:
        refuse(path, "required")
    return moment


def _record_type(data: dict[str, Any], subject: str) -> RecordType | None:
    """The record type an event is about; None for a generic object leadsync does not keep."""
    if subject != GENERIC_OBJECT:
        return RECORD_OBJECTS[subject]
    return OBJECT_TYPE_IDS.get(text(data, "objectTypeId", required=True) or "")


def _record_change(data: dict[str, Any], subject: str, action: str) -> dict[str, Any] | None:
    """A creation or property change as the canonical fields of its event; None for an object
    or a property leadsync does not keep."""
    record_type = _record_type(data, subject)
    if record_type is None:
        return None
    out: dict[str, Any] = {
        "object": record_type.value,
        "external_id": text(data, "objectId", required=True),
    }
    if action == CREATION:
        out["type"] = "record"
    elif not _describe_change(data, record_type, out):
        return None
    return out


# Values the canonical event checks, checked here first so that a refusal names HubSpot's
# field (propertyValue), not the canonical property it becomes.
_CHECKED = {"email": check_email, "domain": check_domain}


def _describe_change(data: dict[str, Any], record_type: RecordType, out: dict[str, Any]) -> bool:
    """Fill ``out`` for a property change; False when the property is not one leadsync keeps."""
    prop = text(data, "propertyName", required=True)
    if "propertyValue" not in data:
        refuse("propertyValue", "required on a propertyChange event")
    if prop == OWNER_PROPERTY:
        value = text(data, "propertyValue")
        out["type"] = "owner"
        out["owner"] = None if value is None else {"id": value}
        return True
    canonical = KEPT_PROPERTIES.get((record_type, prop or ""))
    if canonical is None:
        return False  # its value is not read: whatever its type, it refuses nothing
    out["type"] = "record"
    if canonical == "is_closed":  # "true"/"false" as HubSpot sends it, or another form
        closed = flag_value(data["propertyValue"])
        out["properties"] = {} if closed is None else {"is_closed": closed}
        return closed is not None
    if canonical in PHONE_PROPERTIES:  # text: a JSON number is refused (forms.phone)
        value = phone(data, "propertyValue")
    else:
        value = text(data, "propertyValue")
    if value is not None and canonical in _CHECKED:
        try:
            _CHECKED[canonical](value, "propertyValue")  # named as HubSpot sent it
        except Invalid as exc:
            raise EventError(str(exc)) from None
    out["properties"] = {canonical: value}
    if canonical == "stage" and record_type is RecordType.DEAL:
        closed = DEFAULT_PIPELINE_STAGES.get(value or "")
        if closed is not None:
            out["properties"]["is_closed"] = closed
    return True


def _merge(data: dict[str, Any], subject: str) -> dict[str, Any] | None:
    """A merge as the kept record's event naming the ids merged into it (``merged``): the
    record kept is ``newObjectId`` when HubSpot made a new one, else ``primaryObjectId``,
    else ``objectId``; every other id the event names (``mergedObjectIds``, and the primary
    and object ids when a new record was made) is gone. None for an object leadsync does not
    keep."""
    record_type = _record_type(data, subject)
    if record_type is None:
        return None
    named = [_object_id(data, name) for name in ("newObjectId", "primaryObjectId", "objectId")]
    kept = next((i for i in named if i is not None), None)
    if kept is None:
        refuse("objectId", "required on a merge event (or primaryObjectId, newObjectId)")
    merged = data.get("mergedObjectIds")
    if merged is not None and not isinstance(merged, list):
        refuse("mergedObjectIds", f"must be an array of ids, got {describe(merged)}")
    gone = [
        _object_id({"id": m}, "id", f"mergedObjectIds[{i}]") for i, m in enumerate(merged or ())
    ]
    ids = {i for i in [*gone, *named] if i is not None and i != kept}
    out: dict[str, Any] = {"type": "record", "object": record_type.value, "external_id": kept}
    if ids:
        out["merged"] = sorted(ids)
    return out


def _object_id(data: dict[str, Any], name: str, path: str | None = None) -> str | None:
    """An object id (an integer or a string of one) as a string; None when absent."""
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        refuse(path or name, f"must be an id (an integer or a string), got {describe(value)}")
    return str(value).strip()


def _association_types(data: dict[str, Any], generic: bool) -> tuple[RecordType, RecordType] | None:
    """The record types an association change links, from and to; None when either is not
    one leadsync keeps (a line item, a product, a company's parent, a custom object)."""
    if generic:
        from_type = OBJECT_TYPE_IDS.get(text(data, "fromObjectTypeId", required=True) or "")
        to_type = OBJECT_TYPE_IDS.get(text(data, "toObjectTypeId", required=True) or "")
    else:
        kind = (text(data, "associationType", required=True) or "").upper()
        left, sep, right = kind.partition("_TO_")
        from_type = ASSOCIATION_OBJECTS.get(left) if sep else None
        # A labelled type ("CONTACT_TO_COMPANY_UNLABELED") names the object first.
        to_type = ASSOCIATION_OBJECTS.get(right.split("_", 1)[0]) if sep else None
    if from_type is None or to_type is None or from_type is to_type:
        return None
    return from_type, to_type


def _added_link(data: dict[str, Any], generic: bool) -> dict[str, Any] | None:
    """An association added in HubSpot as the canonical fields of a record event (``object``,
    ``external_id``, ``associations``): the ``from`` record naming the ``to`` record. Between
    a contact and a company, HubSpot's primary flag decides which side speaks: a primary
    association is the contact's own event naming the company (it becomes the contact's
    primary company, as a contact's event naming a company first does); a plain one is the
    company's event naming the contact (primary only for a contact that has no company yet,
    as HubSpot makes a first company primary). None for a link removed (leadsync never ends
    a link) or between records leadsync does not keep."""
    types = _association_types(data, generic)
    if types is None or flag(data, "associationRemoved", required=True):
        return None
    ids = {
        types[0]: text(data, "fromObjectId", required=True),
        types[1]: text(data, "toObjectId", required=True),
    }
    subject = types[0]
    if _person_with_company(types):
        primary = flag(data, "isPrimaryAssociation")
        subject = RecordType.CONTACT if primary else RecordType.COMPANY
    (other,) = [t for t in types if t is not subject]
    return {
        "type": "record",
        "object": subject.value,
        "external_id": ids[subject],
        "associations": [{"object": other.value, "external_id": ids[other]}],
    }


def _person_with_company(types: tuple[RecordType, RecordType]) -> bool:
    return set(types) == {RecordType.CONTACT, RecordType.COMPANY}


def _app_of(source_id: str) -> str | None:
    """The app id a ``sourceId`` names: ``"777"``, ``"app:777"`` or ``"appId:777"`` -> ``"777"``;
    None for a source that is not an app (``"userId:9001"``)."""
    prefix, sep, rest = source_id.partition(":")
    if not sep:
        return source_id.strip()
    if prefix.strip().lower() in APP_SOURCE_PREFIXES:
        return rest.strip()
    return None
