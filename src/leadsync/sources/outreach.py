"""Outreach webhooks: JSON:API events about prospects, accounts, opportunities, calls, mailings,
tasks and users.

Payload
-------
One event per request, in JSON:API style::

    {"data": {"type": "prospect", "id": 17,
              "attributes": {"firstName": "Kim", "updatedAt": "2026-11-01T09:00:00.000Z"},
              "relationships": {"owner": {"data": {"type": "user", "id": 4}}}},
     "meta": {"eventName": "prospect.updated", "deliveredAt": "2026-11-01T09:00:01.000"}}

Relationships arrive in two forms, read alike wherever a relationship is read (owner, user,
prospect, account, opportunity, stage): JSON:API's ``"owner": {"data": {"type": "user", "id":
4}}`` and the flat ``"owner": {"type": "owner", "id": 4}`` that some deliveries carry (the
``type`` is not checked). ``"data": null``, a flat ``"id": null`` or the relationship itself
null empties it; an object with only ``links`` or ``meta`` names nothing. Any other shape (a
to-many array, ``data`` that is an array, an object naming no id, a bare value) is an
EventError naming the relationship's path and the allowed forms
(:mod:`leadsync.sources.outreach_relations`): the row becomes a dead letter rather than an
event that silently lost its owner or its prospect. Relationships leadsync does not read
(``sequence``, ``mailbox``, ``taskPriority`` …) are not looked at.

Created and updated events carry only the attributes (and relationships) that changed, so every
canonical property below is emitted only when its attribute is present and not null: a later
partial update never clears what an earlier one set. Final call values (outcome, the answer
and end times) are likewise emitted only by the event that carries them.

Signature: header ``Outreach-Webhook-Signature`` (:func:`~leadsync.sources.signatures.verify_outreach`);
Outreach signs no timestamp, so there is no time window.

Dedupe key and times
--------------------
Key: ``stable_key("outreach", meta.eventName, data.type, data.id, data.attributes.updatedAt,
order=data.id, content=data)``, kept as ``t:<time>:<data.id>:<hash>:<content>`` (two edits in
one second — ``updatedAt`` goes to the second — are two events; a retry delivered later has
the same ``data``). An event without ``updatedAt`` (a ``mailing.delivered``, a
``sequenceState`` change) is keyed ``outreach:`` and the hash of its name, object and
``data`` alone: ``meta.deliveredAt`` is new on each retry, and in the key it made a retry a
second event, applied twice. The event time is ``data.attributes.updatedAt``, else ``meta.deliveredAt``
(which may lack an offset: read as UTC); it is the inbox's ``occurred_at`` and the
``occurred_at`` of record, owner and user events. Activities are timed when they happened (see
below) and fall back to the event time.

Events
------
=====================================  =======================================================
``prospect.created`` / ``.updated``    contact record ``data.id``: ``email`` = first of
                                       ``emails``, firstname, lastname, title, company,
                                       occupation, city, state, country (:data:`PROSPECT_FIELDS`),
                                       ``phone``, ``mobilephone`` and ``other_phone_1``…
                                       (see *Phone numbers*); association ``account`` ->
                                       company
``account.created`` / ``.updated``     company record: name, ``domain``, website, industry
``opportunity.created`` / ``.updated`` deal record: name, amount, probability, closedate,
                                       opportunity_type, currency (``currencyType``),
                                       ``stage`` = the opportunityStage id (?);
                                       association ``account`` -> company
``call.created`` / ``.updated``        call activity ``data.id`` (events of one call merge):
                                       direction, ``from`` -> from_number, ``to`` ->
                                       to_number, recording_url (a link: one
                                       that is not a string is left out), body (note),
                                       outcome (:data:`CALL_OUTCOMES`, raw kept as
                                       ``outreach_outcome``), answered_at (answeredAt),
                                       ended_at (completedAt): the engine makes
                                       ``duration_s`` = ended_at - answered_at of the whole
                                       call, whichever events carried them; ``tags`` (the
                                       whole list an event gives, an empty one clears
                                       them); owner ``user``; at ``dialedAt``, else
                                       ``createdAt``
``mailing.created`` / ``.updated`` /   email activity ``data.id`` once the mailing was sent
``.delivered`` / ``.opened`` /         (see *Mailings*): direction outbound, subject, body
``.replied`` / ``.bounced``            (bodyText), ``outreach_state``; owner ``user`` (?); at
                                       ``deliveredAt``, else ``createdAt``
``task.created`` / ``.updated`` /      task activity ``data.id``: subject (from ``action``),
``.completed``                         body (note), status (:data:`TASK_STATUSES`), due
                                       (dueAt), ``outreach_state``, ``outreach_task_type``;
                                       owner ``owner``; at ``createdAt``
``user.created`` / ``.updated``        user event ``{id, email}`` with ``name``
``<resource>.destroyed``              ``[]`` for account, call, mailing, opportunity,
                                       prospect, task and user: deletions are not propagated
:data:`IGNORED_EVENTS`                 ``[]``: sequences, sequence states, imports, email
                                       addresses, Kaia recordings and opportunity roles mean
                                       nothing to leadsync
anything else                          EventError (the row becomes a dead letter)
=====================================  =======================================================

Activities name their records through the relationships ``prospect`` (contact), ``account``
(company) and ``opportunity`` (deal), when present. A call naming no prospect is still the
call, with its direction and numbers: the engine finds the other party by number.

Phone numbers
-------------
A prospect's numbers are arrays of strings by kind (:data:`PHONE_ATTRIBUTES`): ``phone`` is the
first of ``workPhones``, else of ``otherPhones``, ``homePhones``, ``voipPhones`` in that order;
``mobilephone`` is the first of ``mobilePhones``; the numbers left go to ``other_phone_1``…
(the first five, ``model.OTHER_PHONES``: never pushed, kept so that a call from any of them
finds the prospect) in the order of :data:`ALL_PHONE_ATTRIBUTES` (the rest of ``workPhones``,
of ``mobilePhones``, then ``otherPhones``, ``homePhones``, ``voipPhones``), each number once
(the same text). Numbers are passed as given, trimmed (the engine reads them as
E.164). An update carries only the arrays that changed, so the fallback to other kinds is taken
only when the event says the prospect has no work number (a ``created`` event, or
``workPhones`` in the update): an update of ``homePhones`` alone never puts a home number over
a work number leadsync already has. Where the other numbers go depends on every array, so only
an event that has them all gives them (a ``created`` event, or an update carrying the five
arrays): an update of ``homePhones`` alone gives no number (its home number in
``other_phone_1`` could take the place of a second work number) and the new home number waits
for such an event. No event gives null for a number: an emptied array clears nothing, and
when fewer numbers are left the places after them keep what they had (a place Outreach leaves
empty may hold another tool's number).

Owners
------
Records: the ``owner`` relationship's id (either form). A
``prospect/account/opportunity.updated`` whose only change is the owner gives an **owner
event**. An emptied owner (``data: null``, a flat ``id: null``, or ``owner: null``) in an
update means the owner was removed: an owner event with owner ``null`` (suffix ``#owner`` when
other fields changed too, so the record event comes first). Outreach names users by id only;
``user.*`` events teach the directory their emails.

Mailings
--------
A mailing is an activity only once sent: its event is ``delivered``, ``opened``, ``replied`` or
``bounced``, or its ``state`` is one of those, or it has a ``deliveredAt``. A drafted,
scheduled or queued mailing gives a **draft** email event: nothing is created, but its
prospect, rep and subject are remembered (``leadsync.rules.activity_memory``), so the later
``mailing.updated`` that delivers it (naming only the changed state) lands on the prospect's
timeline with its owner. A
reply does not make the mailing inbound: Outreach mailings are the rep's outbound messages.

Values
------
Types are strict (a number where a string is expected is an EventError naming the JSON path);
values are lenient where a dead letter would help nobody: an email without one ``@`` or a
domain without a dot is left out (the record is still named by its id).

Guesses (?)
-----------
- ``stage`` is the id of the opportunityStage relationship: the stage's name and whether it is
  closed are not in the event, so ``is_closed`` is never derived.
- A mailing's owner is its ``user`` relationship (:data:`MAILING_OWNER`); the ``mailbox``
  relationship names a mailbox, not a user, and is not used.
- Task priority is a ``taskPriority`` relationship id with no name: not mapped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from leadsync.model import DIRECTIONS, OTHER_PHONES, Event
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    choice,
    describe,
    domain_or_none,
    email_or_none,
    event_name_error,
    get_path,
    number,
    obj,
    put,
    refuse,
    signature_needs_secret,
    stable_key,
    text,
    time_from_iso,
    whole,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.forms import lenient_string, phone, phone_value
from leadsync.sources.outreach_relations import links, relation
from leadsync.sources.signatures import verify_outreach

__all__ = ["ADAPTER", "OutreachAdapter"]

ATTR = "data.attributes."
EVENT_NAME = "meta.eventName"
DELIVERED_AT = "meta.deliveredAt"
OWNER = "owner"
CALL_OWNER = "user"
MAILING_OWNER = "user"  # (?) see the module docstring
TASK_OWNER = "owner"

#: Outreach attribute -> canonical property, copied as text when present.
PROSPECT_FIELDS = {
    "firstName": "firstname",
    "lastName": "lastname",
    "title": "title",
    "company": "company",
    "occupation": "occupation",
    "addressCity": "city",
    "addressState": "state",
    "addressCountry": "country",
}
ACCOUNT_FIELDS = {"name": "name", "websiteUrl": "website", "industry": "industry"}
OPPORTUNITY_FIELDS = {
    "name": "name",
    "opportunityType": "opportunity_type",
    "currencyType": "currency",
}
CALL_FIELDS = {"note": "body"}
#: A call's numbers (text: forms.phone).
CALL_NUMBERS = {"from": "from_number", "to": "to_number"}
MAILING_FIELDS = {"subject": "subject", "bodyText": "body"}
#: A prospect's phone arrays, in the order ``phone`` is taken from; the mobile ones.
PHONE_ATTRIBUTES = ("workPhones", "otherPhones", "homePhones", "voipPhones")
MOBILE_PHONES = "mobilePhones"
#: Every phone array, in the order the numbers beyond those two go to ``other_phone_1``…
ALL_PHONE_ATTRIBUTES = ("workPhones", MOBILE_PHONES, "otherPhones", "homePhones", "voipPhones")
TASK_FIELDS = {"note": "body", "taskType": "outreach_task_type"}

#: Outreach call ``outcome`` (case-insensitive) -> canonical call outcome.
CALL_OUTCOMES = {"answered": "connected", "not answered": "no_answer"}
#: Outreach task ``state`` (case-insensitive) -> canonical task status.
TASK_STATUSES = {"complete": "completed", "incomplete": "not_started", "pending": "not_started"}
#: Outreach task ``action`` -> the task's subject.
TASK_SUBJECTS = {
    "action_item": "Action item",
    "call": "Call",
    "email": "Email",
    "in_person": "In-person visit",
}
#: Relationship -> the canonical record it names, for activities.
ACTIVITY_LINKS = {"prospect": "contact", "account": "company", "opportunity": "deal"}
RECORD_LINKS = {"account": "company"}
#: A mailing is an email activity once its event or state is one of these.
SENT_MAILING = frozenset({"delivered", "opened", "replied", "bounced"})

IGNORED_EVENTS = frozenset(
    {
        *(f"{r}.destroyed" for r in ("account", "call", "mailing", "opportunity", "prospect")),
        "task.destroyed",
        "user.destroyed",  # a user removed: the records it owns keep their owner
        *(f"sequence.{a}" for a in ("created", "updated", "destroyed")),
        *(
            f"sequenceState.{a}"
            for a in ("created", "updated", "destroyed", "advanced", "finished")
        ),
        "import.created",
        "import.finished",
        *(f"emailAddress.{a}" for a in ("created", "updated", "destroyed")),
        "kaiaRecording.created",
        *(f"opportunityProspectRole.{a}" for a in ("created", "updated", "destroyed")),
    }
)


@dataclass(frozen=True, slots=True)
class _Delivery:
    """One stored Outreach event as the converters read it."""

    item: Any
    action: str  # "created", "updated", "delivered", ...
    event_id: str
    when: str  # the vendor's event time, canonical

    @property
    def external_id(self) -> str:
        return text(self.item, "data.id") or refuse("data.id", "required")


#: The prefix of the key of an event without ``updatedAt`` (no time is put in front of it).
UNTIMED = "outreach:"


class OutreachAdapter(Adapter):
    """Outreach webhooks (one JSON:API event per request)."""

    kind: ClassVar[str] = "outreach"
    vendor_name: ClassVar[str | None] = "Outreach"
    signature_scheme: ClassVar[str] = "Outreach-Webhook-Signature: hex HMAC-SHA256(secret, body)"
    content_types: ClassVar[tuple[str, ...]] = ("application/json", "application/vnd.api+json")

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        verify_outreach(signature_needs_secret(self.kind, secret), request.body, request.headers)

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        name = text(item, EVENT_NAME, required=True)
        object_id = text(item, "data.id", required=True)
        stamp = get_path(item, ATTR + "updatedAt")
        kind = text(item, "data.type")
        content = item.get("data")  # not meta: its deliveredAt may change on a retry
        if not stamp:
            # Without updatedAt, neither the key nor the time it is kept under may hold
            # deliveredAt, new on a retry (both copies were stored and applied): what the
            # event says names it, under a prefix no time is put in front of.
            return UNTIMED + stable_key("outreach", name, kind, object_id, content=content)
        return stable_key(
            "outreach", name, kind, object_id, stamp, order=object_id, content=content
        )

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        return _time(item, ATTR + "updatedAt") or _time(item, DELIVERED_AT)

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        name = text(item, EVENT_NAME, required=True)
        if name in IGNORED_EVENTS:
            return []
        convert = _CONVERTERS.get(name or "")
        if convert is None:
            event_name_error(EVENT_NAME, name, KNOWN_EVENTS)
        obj(item, "data", required=True)
        when = self.occurred_at(item, headers) or refuse(
            DELIVERED_AT, f"required: the event has no time ({ATTR}updatedAt or {DELIVERED_AT})"
        )
        delivery = _Delivery(item, str(name).partition(".")[2], event_id, when)
        return [parse_event(data, self.integration, seq) for data in convert(delivery)]


ADAPTER = OutreachAdapter


# ------------------------------------------------------------------ records


def _prospect(d: _Delivery) -> list[dict[str, Any]]:
    properties = _texts(d.item, PROSPECT_FIELDS)
    email = _first_email(d.item, ATTR + "emails")
    if email is not None:
        properties["email"] = email
    properties.update(_prospect_phones(d))
    return _record_events(d, "contact", properties, links(d.item, RECORD_LINKS))


def _prospect_phones(d: _Delivery) -> dict[str, str]:
    """``phone``, ``mobilephone`` and ``other_phone_1``… (see *Phone numbers* in the module
    docstring): only the arrays the event speaks for are read."""
    attributes = obj(d.item, "data.attributes") or {}
    created = d.action == "created"
    whole = created or all(kind in attributes for kind in ALL_PHONE_ATTRIBUTES)
    work = PHONE_ATTRIBUTES[0]
    phone_kinds = PHONE_ATTRIBUTES if created or work in attributes else (work,)
    read = ALL_PHONE_ATTRIBUTES if whole else (MOBILE_PHONES, *phone_kinds)
    numbers = {kind: _text_list(d.item, ATTR + kind, numbers=True) for kind in read}
    phones: dict[str, str] = {}
    if numbers[MOBILE_PHONES]:
        phones["mobilephone"] = numbers[MOBILE_PHONES].pop(0)
    for kind in phone_kinds:
        if numbers[kind]:
            phones["phone"] = numbers[kind].pop(0)
            break
    if whole:  # the numbers left, each once, less those two
        rest = dict.fromkeys(n for kind in ALL_PHONE_ATTRIBUTES for n in numbers[kind])
        extra = [n for n in rest if n not in phones.values()]
        phones.update(zip(OTHER_PHONES, extra, strict=False))
    return phones


def _account(d: _Delivery) -> list[dict[str, Any]]:
    properties = _texts(d.item, ACCOUNT_FIELDS)
    domain = domain_or_none(text(d.item, ATTR + "domain"))
    if domain is not None:
        properties["domain"] = domain
    return _record_events(d, "company", properties, [])


def _opportunity(d: _Delivery) -> list[dict[str, Any]]:
    properties: dict[str, Any] = _texts(d.item, OPPORTUNITY_FIELDS)
    for attribute, name in (("amount", "amount"), ("probability", "probability")):
        value = number(d.item, ATTR + attribute)
        if value is not None:
            properties[name] = whole(value)
    close = _time(d.item, ATTR + "closeDate")
    if close is not None:
        properties["closedate"] = close
    stage = relation(d.item, "stage")[1]
    if stage is not None:
        properties["stage"] = stage
    return _record_events(d, "deal", properties, links(d.item, RECORD_LINKS))


def _record_events(
    d: _Delivery, record: str, properties: dict[str, Any], named: list[dict[str, str]]
) -> list[dict[str, Any]]:
    """The record event, or an owner event for an update that only moved the owner."""
    owner_changed, owner = relation(d.item, OWNER)
    subject = {"object": record, "external_id": d.external_id}
    updated = d.action == "updated"
    if updated and not properties and not named:
        return [_owner_event(d, subject, owner, d.event_id)] if owner_changed else []
    event: dict[str, Any] = {**_head(d, "record", d.when), **subject, "properties": properties}
    if owner is not None:
        event["owner"] = owner
    if named:
        event["associations"] = named
    if updated and owner_changed and owner is None:
        return [event, _owner_event(d, subject, None, d.event_id + "#owner")]
    return [event]


def _owner_event(
    d: _Delivery, subject: dict[str, str], owner: str | None, event_id: str
) -> dict[str, Any]:
    return {**_head(d, "owner", d.when), "id": event_id, **subject, "owner": owner}


# ------------------------------------------------------------------ activities


def _call(d: _Delivery) -> list[dict[str, Any]]:
    properties: dict[str, Any] = {}
    for attribute, name in CALL_NUMBERS.items():
        put(properties, name, phone(d.item, ATTR + attribute))
    properties.update(_texts(d.item, CALL_FIELDS))
    recording = lenient_string(d.item, ATTR + "recordingUrl")  # a link: another type is none
    if recording is not None:
        properties["recording_url"] = recording
    direction = choice(d.item, ATTR + "direction", DIRECTIONS)
    if direction is not None:
        properties["direction"] = direction
    outcome = text(d.item, ATTR + "outcome")
    if outcome is not None:
        properties["outreach_outcome"] = outcome
        if outcome.lower() in CALL_OUTCOMES:
            properties["outcome"] = CALL_OUTCOMES[outcome.lower()]
    properties.update(_talk_times(d.item))
    if get_path(d.item, ATTR + "tags") is not None:
        # The call's whole list ("Interested", "Meeting Booked"), as an update carries it
        # when it changed: an empty one is the last tag removed. Null says nothing.
        properties["tags"] = _text_list(d.item, ATTR + "tags")
    at = _time(d.item, ATTR + "dialedAt") or _time(d.item, ATTR + "createdAt")
    return [_activity(d, "call", properties, CALL_OWNER, at)]


def _mailing(d: _Delivery) -> list[dict[str, Any]]:
    state = text(d.item, ATTR + "state")
    delivered_at = _time(d.item, ATTR + "deliveredAt")
    sent = d.action in SENT_MAILING or (state or "").lower() in SENT_MAILING
    properties: dict[str, Any] = {"direction": "outbound", **_texts(d.item, MAILING_FIELDS)}
    if state is not None or d.action in SENT_MAILING:
        properties["outreach_state"] = state or d.action
    if sent or delivered_at is not None:  # bounced: by its event, or its state
        bounced = "bounced" in (d.action, (state or "").lower())
        properties["outcome"] = "bounced" if bounced else "sent"
    at = delivered_at or _time(d.item, ATTR + "createdAt")
    event = _activity(d, "email", properties, MAILING_OWNER, at)
    if not sent and delivered_at is None:
        # Not an email yet: a draft, remembered (prospect, rep, subject) for the update that
        # delivers it, which names only what changed.
        event["draft"] = True
    return [event]


def _task(d: _Delivery) -> list[dict[str, Any]]:
    properties: dict[str, Any] = _texts(d.item, TASK_FIELDS)
    action = text(d.item, ATTR + "action")
    if action is not None:
        properties["subject"] = TASK_SUBJECTS.get(action.lower(), action)
        properties["task_type"] = action.lower() if action.lower() in ("call", "email") else "todo"
    state = text(d.item, ATTR + "state")
    if state is not None:
        properties["outreach_state"] = state
    status = "completed" if d.action == "completed" else TASK_STATUSES.get((state or "").lower())
    if status is not None:
        properties["status"] = status
    due = _time(d.item, ATTR + "dueAt")
    if due is not None:
        properties["due"] = due
    return [_activity(d, "task", properties, TASK_OWNER, _time(d.item, ATTR + "createdAt"))]


def _activity(
    d: _Delivery, activity: str, properties: dict[str, Any], owner_relation: str, at: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        **_head(d, "activity", at or d.when),
        "activity": activity,
        "external_id": d.external_id,
        "properties": properties,
    }
    owner = relation(d.item, owner_relation)[1]
    if owner is not None:
        event["owner"] = owner
    named = links(d.item, ACTIVITY_LINKS)
    if named:
        event["associations"] = named
    return event


def _talk_times(item: Any) -> dict[str, str]:
    """``answered_at`` and ``ended_at`` (answeredAt, completedAt), each when this event has
    it: there is no duration attribute, and an update carries only what changed, so the
    engine derives ``duration_s`` from the call as all its events say
    (:func:`leadsync.rules.activities.derived_properties`)."""
    times = {}
    answered = _time(item, ATTR + "answeredAt")
    completed = _time(item, ATTR + "completedAt")
    if answered is not None:
        times["answered_at"] = answered
    if completed is not None:
        if answered is not None and completed < answered:  # fixed-width UTC strings
            refuse(ATTR + "completedAt", f"{completed} is before {ATTR}answeredAt {answered}")
        times["ended_at"] = completed
    return times


# ------------------------------------------------------------------ users


def _user(d: _Delivery) -> list[dict[str, Any]]:
    owner = {"id": d.external_id}
    email = email_or_none(text(d.item, ATTR + "email"))
    if email is not None:
        owner["email"] = email
    event: dict[str, Any] = {**_head(d, "user", d.when), "owner": owner}
    parts = (text(d.item, ATTR + "firstName"), text(d.item, ATTR + "lastName"))
    name = text(d.item, ATTR + "name") or " ".join(p for p in parts if p) or None
    if name is not None:
        event["properties"] = {"name": name}
    return [event]


# ------------------------------------------------------------------ parts


def _head(d: _Delivery, kind: str, at: str) -> dict[str, Any]:
    return {"id": d.event_id, "occurred_at": at, "type": kind}


def _texts(item: Any, fields: Mapping[str, str]) -> dict[str, Any]:
    """The present, non-empty text attributes of ``fields``, renamed."""
    out: dict[str, Any] = {}
    for attribute, name in fields.items():
        value = text(item, ATTR + attribute)
        if value is not None:
            out[name] = value
    return out


def _time(item: Any, path: str) -> str | None:
    return time_from_iso(get_path(item, path), path)


def _first_email(item: Any, path: str) -> str | None:
    """The first address of a list of strings (``emails``)."""
    values = get_path(item, path)
    if values is None:
        return None
    if not isinstance(values, list):
        refuse(path, "must be an array of strings")
    for index, value in enumerate(values):
        if not isinstance(value, str):
            refuse(f"{path}[{index}]", "must be a string")
    return email_or_none(values[0]) if values else None


def _text_list(item: Any, path: str, numbers: bool = False) -> list[str]:
    """The non-empty strings of a list of strings (``workPhones``, a call's ``tags``),
    trimmed, in order; ``numbers``: phone numbers, read by :func:`phone_value` (a JSON number
    refused as every adapter refuses one)."""
    values = get_path(item, path)
    if values is None:
        return []
    if not isinstance(values, list):
        refuse(path, f"must be an array of strings, got {describe(values)}")
    for index, value in enumerate(values):
        if numbers:
            phone_value(value, f"{path}[{index}]")
        if value is not None and not isinstance(value, str):
            refuse(f"{path}[{index}]", f"must be a string, got {describe(value)}")
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]


_Converter = Callable[[_Delivery], list[dict[str, Any]]]
_CONVERTERS: dict[str, _Converter] = {
    **{f"prospect.{a}": _prospect for a in ("created", "updated")},
    **{f"account.{a}": _account for a in ("created", "updated")},
    **{f"opportunity.{a}": _opportunity for a in ("created", "updated")},
    **{f"call.{a}": _call for a in ("created", "updated")},
    **{
        f"mailing.{a}": _mailing
        for a in ("created", "updated", "delivered", "opened", "replied", "bounced")
    },
    **{f"task.{a}": _task for a in ("created", "updated", "completed")},
    **{f"user.{a}": _user for a in ("created", "updated")},
}
KNOWN_EVENTS = tuple(sorted({*_CONVERTERS, *IGNORED_EVENTS}))
