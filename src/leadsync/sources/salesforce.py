"""Salesforce: Outbound Messages (SOAP XML) and Change Data Capture events (JSON), one adapter.

Outbound Messages (``text/xml``)
--------------------------------
Read by :mod:`leadsync.sources.salesforce_outbound` (its docstring gives the shape and the
XML safety); each notification is one piece, keyed by its ``Id`` and timed by the record's
``LastModifiedDate``. There is no signature: ``OrganizationId`` must equal the integration's
``vendor: organization_id``. The answer is the SOAP ``Ack``.

Change Data Capture (``application/json``)
------------------------------------------
A subscriber relays one change event or an array of them: ``{"ChangeEventHeader":
{entityName, recordIds[], changeType, changedFields[], commitTimestamp (ms), commitUser,
transactionKey, sequenceNumber}, <fields>}`` (or the message as CometD delivers it,
``{"data": {"payload": <the change event>, "event": {"replayId"}}, "channel"}``: its
payload is read), signed like the generic source
(``X-Leadsync-Signature: sha256=<hex>``, :func:`~leadsync.sources.signatures.verify_generic`).
Without a secret change events are refused (Outbound Messages need none: their
organization id is checked). Key: ``stable_key("salesforce", transactionKey, sequenceNumber)``, else
``stable_key("salesforce", entityName, sorted recordIds, changeType, commitTimestamp)``. Time:
``commitTimestamp``. One event per record id (``#<id18>`` appended when there are several).
``CREATE`` maps every field present; ``UPDATE`` only those in ``changedFields`` (every field
present when it is empty; the Pub/Sub API's undecoded bitmaps, ``"0x…"``, are an EventError
asking the relay to decode them, in ``nulledFields`` too). A field an ``UPDATE`` set to null
(named by ``nulledFields``, or listed in ``changedFields`` and given null or empty) is
cleared: see "Cleared fields" below. ``DELETE`` and ``UNDELETE`` give ``[]`` (deletions are not
propagated); ``GAP_*`` and ``OVERFLOW`` are an EventError asking for a resync (the subscriber
lost changes), and so is a wildcard record id (``001*``: every record of the object, after a
custom field's type conversion). Compound names arrive as ``Name: {FirstName, LastName}``; datetimes as ISO
strings or epoch milliseconds (a Pub/Sub relay: a number, or a string of digits as a relay
may write a 64-bit number); a checkbox (``IsClosed``) as a boolean, or ``1``/``0`` or either as
a string (:func:`~leadsync.sources.forms.flag`; an Outbound Message's is the text ``true``).

Mapping (both channels)
-----------------------
=============  =========  ================================================================
sObject        becomes    fields
=============  =========  ================================================================
Lead, Contact  contact    Email, FirstName -> firstname, LastName -> lastname, Phone ->
                          phone, MobilePhone -> mobilephone, Company (free); Contact
                          HomePhone -> other_phone_1, OtherPhone -> other_phone_2,
                          AssistantPhone -> other_phone_3, AccountId -> company
                          association
Account        company    Name, Website -> domain (``website`` when it names no domain)
Opportunity    deal       Name, StageName -> stage, IsClosed -> is_closed, Amount,
                          CloseDate -> closedate (a date: that day at midnight UTC),
                          Probability -> probability; AccountId -> company, ContactId ->
                          contact associations
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

Phone numbers are passed as given, trimmed (the engine reads them as E.164). A Contact's
HomePhone, OtherPhone and AssistantPhone are its other numbers (``model.OTHER_PHONES``: a call
from any of them finds the contact; never pushed), each in a fixed slot, so clearing one
field clears exactly its number; none stands in for an unchanged Phone (an UPDATE carries
only the changed fields). A Lead has none of these three fields (its numbers are Phone,
MobilePhone and Fax; Fax is not read). A Task carries no phone numbers: a call is matched to
its person by ``WhoId`` only, and one without a ``WhoId`` is the call alone.

Cleared fields
--------------
A field emptied in Salesforce gives its property null (a number leaves the contact or lead,
so later calls by it no longer land there): in a change event, a field the header names as
set to null (``nulledFields``, the Pub/Sub API's) or lists in ``changedFields`` with a null
or empty value (the Streaming API sends a nulled field as null); in an Outbound Message, a
field sent as ``xsi:nil="true"`` (the message carries the record's current values of the
selected fields). A field absent, or null without being named as changed (a Pub/Sub body
holds every field, the unchanged ones null), says nothing. Cleared this way: Phone,
MobilePhone, a Contact's HomePhone, OtherPhone and AssistantPhone, FirstName, LastName,
Company, Amount, and a Task's or Event's Subject, Description, CallDurationInSeconds,
ActivityDate, CallType, CallDisposition, Status and Priority (with their raw
``salesforce_*``). Not cleared: Email and an Account's Website (the
engine never blanks a record's email or domain, by which records are found: null would only
empty the copy in its properties) and an Account's Name (Salesforce requires one), ids (OwnerId, AccountId, ContactId,
WhoId, WhatId: an owner or an association is never taken back by an event), IsClosed, and an
Event's StartDateTime and EndDateTime (when it happened).

Guesses and limits: :data:`CALL_DISPOSITIONS` (?) (CallDisposition is free text from the
telephony integration). A Task UPDATE must carry ``TaskSubtype`` (enrich the Task change
events with it) to say which activity it changes; without it the event is an EventError,
not an activity of the wrong type. (?) That Salesforce sends a selected Outbound Message
field that has no value as ``xsi:nil`` rather than leaving it out is not confirmed; a field
left out clears nothing.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from leadsync.errors import EventError, SignatureError
from leadsync.model import Event
from leadsync.sources.base import (
    Adapter,
    Piece,
    WebhookRequest,
    decode_json,
    describe,
    event_name_error,
    get_path,
    in_element,
    obj,
    refuse,
    signature_needs_secret,
    stable_key,
    text,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.epoch import event_time, event_time_from_epoch
from leadsync.sources.options import SalesforceOptions
from leadsync.sources.salesforce_outbound import (
    ACK,
    XML_TYPES,
    OutboundMessage,
    is_outbound,
    read_outbound_message,
    redact_session,
)
from leadsync.sources.salesforce_sobjects import (
    SOBJECTS,
    Fields,
    id18,
    id_of,
    read_id,
    read_time,
    sobject_events,
    unsupported,
)
from leadsync.sources.signatures import GENERIC_WINDOW_S, verify_generic

__all__ = ["ACK", "ADAPTER", "OutboundMessage", "SalesforceAdapter", "id18"]

CHANGE_TYPES = ("CREATE", "UPDATE", "DELETE", "UNDELETE")


def _unwrapped(item: dict[str, Any]) -> dict[str, Any]:
    """A change event as CometD (the Streaming API) delivers it, ``{"data": {"payload":
    {"ChangeEventHeader": …}, "event": {"replayId": …}}, "channel": …}``, or as the Change
    Data Capture guide shows a message since API 48 (``{"schema", "payload", "event"}``, no
    ``data``): its payload, the change event itself; anything else as it is."""
    if "ChangeEventHeader" in item:
        return item
    data = item.get("data")
    payload = data.get("payload") if isinstance(data, dict) else item.get("payload")
    if isinstance(payload, dict) and "ChangeEventHeader" in payload:
        return payload
    return item


class SalesforceAdapter(Adapter):
    """Salesforce Outbound Messages and relayed change events (see the module docstring)."""

    kind = "salesforce"
    vendor_name = "Salesforce"
    signature_scheme = (
        "Outbound Messages: OrganizationId equals vendor.organization_id; relayed change"
        " events: X-Leadsync-Signature, as the generic kind"
    )
    secret_required = False  # Outbound Messages are checked by organization id
    options_model = SalesforceOptions
    options: SalesforceOptions
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
                self.options.timestamp_tolerance_s or GENERIC_WINDOW_S,
                bool(self.options.require_timestamp),
            )
            return
        configured = self.options.organization_id
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
            return read_outbound_message(request.body)
        return decode_json(request.body)

    def split(self, body: Any, headers: Mapping[str, str]) -> list[Any]:
        if isinstance(body, OutboundMessage):
            return list(body.notifications)
        if isinstance(body, dict):
            return [_unwrapped(body)]
        if not isinstance(body, list):
            refuse("(body)", f"must be a change event or an array of them, got {describe(body)}")
        if not body:  # (answered 200, "accepted": 0: a relay's mistake said to be fine)
            refuse("(body)", "must hold at least one change event, got an empty array")
        # An element that is no object is refused alone (identify), named by its index.
        return [_unwrapped(item) if isinstance(item, dict) else item for item in body]

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        if is_outbound(item):
            if item.get("problem"):  # a notification that cannot be read: refused alone
                raise EventError(item["problem"])
            notification_id = text(item, "notification_id", required=True)
            assert notification_id is not None
            return notification_id
        if not isinstance(item, dict):
            refuse("(body)", f"must be a change event object, got {describe(item)}")
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
            body=item,
        )

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        if is_outbound(item):
            modified, stamp = "fields.LastModifiedDate", "fields.SystemModstamp"
            return event_time(read_time(item, modified), modified) or event_time(
                read_time(item, stamp), stamp
            )
        stamp = get_path(item, "ChangeEventHeader.commitTimestamp")
        return event_time_from_epoch(stamp, "ChangeEventHeader.commitTimestamp", "ms")

    def element_error(self, item: Any, count: int, index: int, error: EventError) -> str:
        """A notification is named by its place in the message, even a lone one."""
        if is_outbound(item):
            return in_element(error.detail, index, "notifications.Notification")
        return super().element_error(item, count, index, error)

    def alone(self, body: Any, item: Any) -> Any:
        """A notification as a message of its own (XML text); a change event as an array."""
        return body.alone(item) if isinstance(body, OutboundMessage) else [item]

    def redact(self, text: str) -> str:
        """:meth:`Adapter.redact`, and an Outbound Message's ``SessionId`` (a credential)."""
        return redact_session(super().redact(text))

    def acknowledge(self, pieces: Sequence[Piece]) -> tuple[str, bytes] | None:
        if any(is_outbound(piece.body) for piece in pieces):
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
        if is_outbound(item):
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
        if sobject not in SOBJECTS:  # before what it lacks: no field makes it one
            unsupported(sobject, "sobject")
        obj(item, "fields", required=True)
        record_id = read_id(item, "fields.Id", required=True)
        when = self.occurred_at(item, {})
        if when is None:
            refuse(
                "fields.LastModifiedDate",
                "required: select LastModifiedDate (or SystemModstamp) in the Outbound Message",
            )
        assert record_id is not None
        fields = item["fields"]
        nulled = frozenset(name for name, value in fields.items() if value is None)  # xsi:nil
        view = Fields(item, "fields.", None, is_update=False, nulled=nulled)
        return sobject_events(sobject, "sobject", view, record_id, event_id, when)

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
            if raw.endswith("*"):  # every record of the object: a field's type was converted
                _every_record(change, entity, raw, f"ChangeEventHeader.recordIds[{index}]")
            record_ids.append(id_of(raw, f"ChangeEventHeader.recordIds[{index}]"))
        if not record_ids:
            refuse("ChangeEventHeader.recordIds", "required: at least one record id")
        when = self.occurred_at(item, {})
        if when is None:
            refuse("ChangeEventHeader.commitTimestamp", "required (epoch milliseconds)")
        changed = nulled = None
        if change == "UPDATE":
            changed = _field_names(item, "ChangeEventHeader.changedFields")
            nulled = _nulled_fields(item, changed)
        view = Fields(item, "", changed, change == "UPDATE", nulled or frozenset())
        events: list[dict[str, Any]] = []
        for record_id in record_ids:
            one_id = event_id if len(record_ids) == 1 else f"{event_id}#{record_id}"
            events += sobject_events(
                entity, "ChangeEventHeader.entityName", view, record_id, one_id, when
            )
        return events


ADAPTER = SalesforceAdapter


# ------------------------------------------------------------------ change events


def _record_ids(item: Any) -> list[str]:
    ids = get_path(item, "ChangeEventHeader.recordIds")
    if ids is None:
        return []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        refuse("ChangeEventHeader.recordIds", f"must be an array of strings, got {describe(ids)}")
    return ids


# A changed-fields bitmap of the Pub/Sub API: "0x…", or "<index>-0x…" for a compound field's.
_BITMAP = re.compile(r"(\d+-)?0x[0-9a-fA-F]+")


def _field_names(item: Any, path: str) -> frozenset[str] | None:
    """The field names of a header list (``changedFields``, ``nulledFields``); None when it
    is missing or empty."""
    names = get_path(item, path)
    if names is None or names == []:
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        refuse(path, f"must be an array of strings, got {describe(names)}")
    bitmaps = [n for n in names if _BITMAP.fullmatch(n)]
    if bitmaps:  # what the Pub/Sub API sends: read as names, they would match no field
        refuse(
            path,
            f"holds field bitmaps ({', '.join(bitmaps[:3])}), not field names: the Pub/Sub API"
            " encodes them; the relay must decode them with the event's schema and send the"
            " names (as the Streaming API does)",
        )
    return frozenset(names)


def _nulled_fields(item: Any, changed: frozenset[str] | None) -> frozenset[str]:
    """The fields an UPDATE set to null: those ``nulledFields`` names (the Pub/Sub API's
    header), and those ``changedFields`` names that the body gives as null or empty
    (Salesforce lists a field set to null among the changed ones; the Streaming API sends
    it as null). A field the body leaves out is not among them: nothing says it is empty."""
    nulled = set(_field_names(item, "ChangeEventHeader.nulledFields") or ())
    for name in changed or ():
        parent, _, leaf = name.rpartition(".")
        holder = get_path(item, parent) if parent else item
        if isinstance(holder, dict) and leaf in holder:
            value = holder[leaf]
            if value is None or (isinstance(value, str) and not value.strip()):
                nulled.add(name)
    return frozenset(nulled)


def _every_record(change: str, entity: str | None, raw: str, path: str) -> NoReturn:
    """A change event whose record id is a wildcard (``001*``): Salesforce says it changed
    every record of the object (a custom field's type conversion that loses data) without
    their values, so there is nothing to apply but a resync."""
    refuse(
        path,
        f"{raw!r} names every {entity or '?'} record: Salesforce sends an {change} so when a"
        " custom field's type conversion changed them all, without their values; resync"
        " these records from Salesforce (read them and replay them)",
    )


def _gap(change: str, entity: str | None, record_ids: list[str]) -> NoReturn:
    shown = ", ".join(record_ids[:5]) + (", …" if len(record_ids) > 5 else "")
    raise EventError(
        f"gap event {change} for {entity or '?'} {shown or '(no record ids)'}: the subscriber"
        " lost changes; resync these records from Salesforce (read them and replay them)"
    )
