"""Calendly: invitee webhooks, turned into one meeting activity per booking.

Payloads
--------
One JSON object per request, signed in the ``Calendly-Webhook-Signature: t=<unix>,v1=<hex>``
header (HMAC-SHA256 of ``t + "." + body``, window ±180 s, see
:func:`~leadsync.sources.signatures.verify_calendly`)::

    {"event": "invitee.created", "created_at": "2026-11-01T09:00:00.000000Z",
     "created_by": "https://api.calendly.com/users/...",
     "payload": {"uri": "<the invitee's uri>", "email": ..., "name": ..., "first_name": ...,
                 "last_name": ..., "status": "active", "rescheduled": false,
                 "new_invitee": ..., "cancellation": {"reason": ..., ...},
                 "scheduled_event": {"name": ..., "start_time": ..., "end_time": ...,
                                     "event_memberships": [{"user": "<user uri>",
                                                            "user_email": ...}]}}}

Dedupe key and times
--------------------
Calendly sends no event id: a piece's key is
``stable_key("calendly", event, <invitee uri>, created_at)``. The inbox's ``occurred_at`` is
``created_at``.

The invitee uri is ``payload.uri``. For the no-show events Calendly documents the Invitee
payload (with ``no_show: {uri, created_at}`` inside), so ``payload.uri`` is the invitee there
too; (?) a payload shaped like the InviteeNoShow resource (``payload.invitee`` holding the
invitee uri, ``payload.uri`` the no-show's own uri) is accepted as well:
:data:`NO_SHOW_INVITEE_FIELD` is read first when it is a string.

Events
------
================================  =========================================================
event                             becomes
================================  =========================================================
invitee.created                   a meeting, outcome ``scheduled``
invitee.canceled                  the meeting, outcome ``canceled`` (``rescheduled``: true
                                  gives ``rescheduled``; the new booking arrives as its own
                                  ``invitee.created`` with another invitee uri)
invitee_no_show.created           the meeting, outcome ``no_show``
invitee_no_show.deleted           the meeting, outcome ``completed``: a no-show can only be
                                  marked once the meeting has started, so taking the mark
                                  back means the invitee came
routing_form_submission.created   ``[]``: a form submission names no meeting
event_type.*, meeting_recap.*,    ``[]`` (:data:`IGNORED_FAMILIES`): an event type's
contact.*                         settings, a meeting's recap, the address book
================================  =========================================================

Any other ``event`` is an :class:`~leadsync.errors.EventError` (the row becomes a dead letter).
So is a webhook of Calendly's retired API v1 (``{"event", "time", "payload": {"event_type",
"event", "invitee"}}``): its error says to subscribe with API v2.

Each invitee event gives ONE ``meeting`` activity whose ``external_id`` is the invitee uri, so
a cancellation or a no-show updates the meeting the booking created (the engine merges an
activity's properties by external id). occurred_at = ``scheduled_event.start_time`` (else
``created_at``). Properties, each only when the payload has it: ``title``
(``scheduled_event.name``), ``start`` / ``end`` (``start_time`` / ``end_time``), ``outcome``
(the table above, :data:`OUTCOMES`), ``calendly_status`` (the invitee's raw ``status``),
``cancellation_reason`` (``cancellation.reason``), ``calendly_new_invitee`` (``new_invitee``,
the booking a reschedule moved to; a link of another type than a string is left out).
``rescheduled`` is a flag in any of its forms (:func:`~leadsync.sources.forms.flag`:
``true``, ``1``, ``"true"`` …); any other value is a dead letter naming it.

Owner (the host): the first ``scheduled_event.event_memberships`` entry, as
``{"id": <user uri, else user_email>, "email": user_email, "name": user_name}``; no
membership means no owner. Its email and name teach the user directory.

The lead is the invitee: the meeting is associated with the contact named by
``payload.email``, and a contact record event ``<id>#contact`` (no owner, occurred_at =
``created_at``) carries ``email`` and the name, so a new contact gets one: ``firstname`` /
``lastname`` from ``first_name`` / ``last_name``, else ``name`` cut at its first space. It
carries the invitee's numbers too, as given (trimmed), so the rep's calls find the contact:
``mobilephone`` from ``text_reminder_number`` (the number Calendly texts reminders to) (?),
and ``phone`` from ``scheduled_event.location.location`` when the location's ``type`` is
:data:`INVITEE_PHONE_LOCATION` (``outbound_call``: the host calls the invitee at the number
the invitee gave) (?). Another location type's number (``inbound_call``: the host's own line)
is not the invitee's and is not read. The location is read for that alone: a location of
another shape (text such as ``"Zoom"``, a list, a ``type`` or ``location`` that is not a
string) gives no number and never refuses the event
(:func:`~leadsync.sources.forms.lenient_string`). A payload without an email (or whose
``email`` is not an email address) names no contact and gives the meeting alone; a host's
``user_email`` that is not one is passed over the same way (the host is then named by its
user uri).

Ignored: ``created_by``, questions and answers, tracking, payment, other locations,
``event_guests`` and the memberships after the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from leadsync.model import Event
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    body_object,
    describe,
    email_or_none,
    event_name_error,
    get_path,
    obj,
    refuse,
    rep_name,
    signature_needs_secret,
    stable_key,
    string,
    time_from_iso,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.forms import flag, lenient_get, lenient_string, phone, phone_value
from leadsync.sources.signatures import verify_calendly

__all__ = [
    "ADAPTER",
    "IGNORED_EVENTS",
    "IGNORED_FAMILIES",
    "KNOWN_EVENTS",
    "NO_SHOW_EVENTS",
    "NO_SHOW_INVITEE_FIELD",
    "OUTCOMES",
    "CalendlyAdapter",
]

CANCELED = "invitee.canceled"
#: Event name -> the meeting's canonical outcome.
OUTCOMES: dict[str, str] = {
    "invitee.created": "scheduled",
    CANCELED: "canceled",
    "invitee_no_show.created": "no_show",
    "invitee_no_show.deleted": "completed",
}
#: A canceled booking that was rescheduled.
RESCHEDULED_OUTCOME = "rescheduled"
NO_SHOW_EVENTS = ("invitee_no_show.created", "invitee_no_show.deleted")
IGNORED_EVENTS = ("routing_form_submission.created",)
KNOWN_EVENTS = (*OUTCOMES, *IGNORED_EVENTS)
#: Calendly's other webhook families (its sample_webhook_data lists them): about an event
#: type's settings, a meeting's AI recap, the address book — no meeting of an invitee.
IGNORED_FAMILIES = ("event_type", "meeting_recap", "contact")
#: (?) The location type whose ``location`` is the invitee's number (the host calls it).
INVITEE_PHONE_LOCATION = "outbound_call"
#: (?) Where an InviteeNoShow-shaped payload keeps the invitee uri.
NO_SHOW_INVITEE_FIELD = "invitee"


class CalendlyAdapter(Adapter):
    """Calendly webhooks: signed with a timestamp, one event per request."""

    kind: ClassVar[str] = "calendly"
    vendor_name: ClassVar[str | None] = "Calendly"
    signature_scheme: ClassVar[str] = (
        "Calendly-Webhook-Signature: t=<unix>,v1=<hex HMAC-SHA256(signing key, t.body)>, ±180 s"
    )
    #: An invitee names no owner: the host reaches the contact by the meeting booked.
    record_owners: ClassVar[bool] = False
    lead_activity: ClassVar[str] = "meeting"

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        signing_key = signature_needs_secret(self.kind, secret)
        verify_calendly(signing_key, request.body, request.headers, now)

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        body = body_object(item)
        invitee = get_path(body, _invitee_path(body))
        return stable_key("calendly", body.get("event"), invitee, body.get("created_at"), body=body)

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        return time_from_iso(body_object(item).get("created_at"), "created_at")

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        body = body_object(item)
        name = body.get("event")
        if isinstance(name, str) and name.partition(".")[0] in IGNORED_FAMILIES:
            return []
        if not isinstance(name, str) or name not in KNOWN_EVENTS:
            event_name_error("event", name, (*KNOWN_EVENTS, *(f"{f}.*" for f in IGNORED_FAMILIES)))
        if name in IGNORED_EVENTS:
            return []
        at = time_from_iso(body.get("created_at"), "created_at")
        if at is None:
            if "time" in body and isinstance(get_path(body, "payload.invitee"), dict):
                refuse(
                    "created_at",
                    "missing: this is a Calendly API v1 (legacy) webhook (a top-level time and"
                    " payload.invitee), which Calendly has retired; subscribe with API v2"
                    " (POST /webhook_subscriptions), whose payloads leadsync reads",
                )
            refuse("created_at", "required: when Calendly created the event (ISO 8601)")
        obj(body, "payload", required=True)
        meeting = _meeting(body, name, event_id, at)
        email = email_or_none(string(body, "payload.email"))
        if email is None:
            return [parse_event(meeting, self.integration, seq)]
        meeting["associations"] = [{"object": "contact", "email": email}]
        contact = {
            "id": f"{event_id}#contact",
            "occurred_at": at,
            "type": "record",
            "object": "contact",
            "properties": {"email": email, **_invitee_name(body), **_invitee_phones(body)},
        }
        return [
            parse_event(meeting, self.integration, seq),
            parse_event(contact, self.integration, seq),
        ]


ADAPTER = CalendlyAdapter


def _invitee_path(body: dict[str, Any]) -> str:
    """Where this event's invitee uri is (see the module docstring)."""
    if body.get("event") in NO_SHOW_EVENTS:
        alternative = f"payload.{NO_SHOW_INVITEE_FIELD}"
        if isinstance(get_path(body, alternative), str):
            return alternative
    return "payload.uri"


def _meeting(body: dict[str, Any], name: str, event_id: str, at: str) -> dict[str, Any]:
    invitee = string(body, _invitee_path(body), required=True)
    start = time_from_iso(
        get_path(body, "payload.scheduled_event.start_time"), "payload.scheduled_event.start_time"
    )
    end = time_from_iso(
        get_path(body, "payload.scheduled_event.end_time"), "payload.scheduled_event.end_time"
    )
    outcome = OUTCOMES[name]
    if name == CANCELED and flag(body, "payload.rescheduled"):
        outcome = RESCHEDULED_OUTCOME
    properties: dict[str, Any] = {"outcome": outcome}
    for key, value in (
        ("title", string(body, "payload.scheduled_event.name")),
        ("start", start),
        ("end", end),
        ("calendly_status", string(body, "payload.status")),
        ("cancellation_reason", string(body, "payload.cancellation.reason")),
        ("calendly_new_invitee", lenient_string(body, "payload.new_invitee")),
    ):
        if value is not None:
            properties[key] = value
    meeting: dict[str, Any] = {
        "id": event_id,
        "occurred_at": start or at,
        "type": "activity",
        "activity": "meeting",
        "external_id": invitee,
        "properties": properties,
    }
    host = _host(body)
    if host is not None:
        meeting["owner"] = host
    return meeting


def _host(body: dict[str, Any]) -> dict[str, str] | None:
    """The first event membership as an owner ``{"id", "email", "name"}``, or None."""
    path = "payload.scheduled_event.event_memberships"
    memberships = get_path(body, path)
    if memberships is None:
        return None
    if not isinstance(memberships, list):
        refuse(path, f"must be an array, got {describe(memberships)}")
    if not memberships:
        return None
    first = memberships[0]
    if not isinstance(first, dict):
        refuse(f"{path}.0", f"must be an object, got {describe(first)}")
    user = _member_text(first, f"{path}.0", "user")
    given = _member_text(first, f"{path}.0", "user_email")
    email = email_or_none(given)
    host = {key: value for key, value in (("id", user or given), ("email", email)) if value}
    if not host:
        return None
    name = rep_name(first.get("user_name"))
    if name is not None:
        host["name"] = name
    return host


def _member_text(member: dict[str, Any], where: str, field: str) -> str | None:
    """A string field of one membership; errors name it (``...event_memberships.0.user``)."""
    value = member.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        refuse(f"{where}.{field}", f"must be a string, got {describe(value)}")
    return value.strip() or None


def _invitee_name(body: dict[str, Any]) -> dict[str, str]:
    """``firstname`` / ``lastname`` of the invitee, as far as the payload has them."""
    first = string(body, "payload.first_name")
    last = string(body, "payload.last_name")
    if first is None and last is None:
        full = string(body, "payload.name")
        if full is None:
            return {}
        head, _, rest = full.partition(" ")
        first, last = head, rest.strip() or None
    return {key: value for key, value in (("firstname", first), ("lastname", last)) if value}


def _plain(value: Any) -> bool:
    """A string or a number (not a boolean): what a phone number may have been sent as."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _invitee_phones(body: dict[str, Any]) -> dict[str, str]:
    """``phone`` / ``mobilephone`` of the invitee, as far as the payload has them."""
    phones: dict[str, str] = {}
    mobile = phone(body, "payload.text_reminder_number")
    if mobile is not None:
        phones["mobilephone"] = mobile
    # The location is read for one type alone: any part of it of another shape (a location
    # given as text, a type that is not a string, a number under something else) is no
    # invitee number; an outbound call's number sent as a JSON number is refused, as every
    # phone number is (forms.phone_value).
    location = "payload.scheduled_event.location"
    if lenient_string(body, f"{location}.type") == INVITEE_PHONE_LOCATION:
        value = lenient_get(body, f"{location}.location")
        number = phone_value(value, f"{location}.location") if _plain(value) else None
        if number is not None:
            phones["phone"] = number
    return phones
