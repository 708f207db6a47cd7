"""Aircall: call, contact and user webhooks, turned into call activities, contacts and users.

Payloads
--------
One JSON object per request::

    {"resource": "call", "event": "call.ended", "timestamp": 1793523600,
     "token": "<the webhook's token>", "data": {...}}

Aircall signs nothing: :meth:`AircallAdapter.verify` compares the body's ``token`` with the
integration's secret (constant time, :func:`~leadsync.sources.signatures.verify_aircall`).
A body that is not a JSON object carrying a token is refused the same way.

Dedupe key and times
--------------------
Aircall sends no event id, so a piece's key is
``stable_key("aircall", event, data.id, timestamp, order=data.id, content=data)``: a redelivery
has the same key, and two events about the same call (``call.created`` then ``call.ended``,
or two ``call.commented`` in one second: Aircall sends one per comment, each with the whole
call) have different ones — the call's memory joins their lists, whichever id is greater
(:mod:`leadsync.rules.activity_memory`); the inbox keeps it as
``t:<timestamp>:<data.id>:<hash>:<content>`` (Aircall numbers its calls in
the order it makes them: the events of one second land beside each other). The
inbox's ``occurred_at`` is ``timestamp`` (unix seconds). ``resource``, when present, must be
the first part of ``event`` (``call`` for ``call.ended``).

Events
------
=========================  ==============================================================
event                      becomes
=========================  ==============================================================
call.created,              one ``call`` activity, ``external_id`` = ``data.id``, so every
call.ringing_on_agent,     event of a call merges into the same activity. occurred_at =
call.answered,             ``data.started_at`` (else ``timestamp``). Properties:
call.hungup,               ``direction``; ``from_number`` / ``to_number`` (inbound: from =
call.tagged,               ``raw_digits``, to = ``number.digits``; outbound: the reverse);
call.untagged,             ``line_number`` (``number.digits``: the company's line the call
                           was on, learned as one of its lines: :mod:`.aircall_lines`);
                           ``title`` "Aircall call"; ``tags`` (tag names) and ``comments``
call.commented,            (comment texts) when the call has some — a tag event (tagged,
call.assigned              untagged) gives the whole ``tags`` list and call.commented the
                           whole ``comments``, empty included (the last tag removed clears
                           them; Aircall has no event for a comment removed).
call.ended,                the same, plus the final values: ``duration_s`` (``duration``:
call.voicemail_left        Aircall's whole call, ``started_at`` to ``ended_at``, ringing
                           included), ``ended_at`` of an answered call (with
                           ``answered_at``: its talk time, which dedupe compares with
                           another tool's), ``outcome`` (see below), ``recording_url`` (below),
                           and the raw ``aircall_status`` / ``aircall_missed_call_reason``.
call.comm_assets_generated the same as call.assigned, plus ``recording_url``: Aircall sends
                           it once the recording or voicemail is ready, which may be after
                           ``call.ended`` (whose links are then null).
contact.created,           a ``contact`` record, ``external_id`` = ``data.id``: ``email``
contact.updated            (first ``emails[].value``), ``firstname`` / ``lastname``
                           (``first_name`` / ``last_name``), ``phone`` (the first
                           ``phone_numbers[].value`` whose ``label`` is not Mobile),
                           ``mobilephone`` (the first whose ``label`` is Mobile, any
                           case), ``other_phone_1``… (the numbers after those two, in
                           list order, five at most: a call from any of them finds the
                           contact; never pushed), ``company`` (``company_name``). No
                           owner. ``phone_numbers`` is the contact's whole list: when it
                           is there, every phone property is given, null where it has
                           none (a number removed in Aircall leaves the contact).
user.* of V1               a ``user`` event ``{"id": data.id, "email": data.email}`` with
(:data:`USER_EVENTS`;      ``name``, which fills the external-user directory; ``[]`` when the
user.updated (?)),         user has no id; then a ``line`` event per line of ``numbers`` (V1
                           only). The V2 user object has no ``numbers``;
user.*.v2 (V2: Aircall's   it may carry ``availability_status``, ``substatus`` and, on
preferred ones)            wrap-up events, ``last_call_id``: none of them is read.
number.created, .opened,   a ``line`` event: ``data.digits`` (``name``, ``id``), one of the
.closed                    company's lines (:mod:`.aircall_lines`); then a ``user`` event
                           per ``data.users[]`` with an id (the users who take its calls:
                           the directory learns their emails and names)
contact.deleted,           ``[]``: deletions are not propagated (a line deleted stays one
user.deleted(.v2),         of the company's)
number.deleted
=========================  ==============================================================

Any other ``call.*`` event (Aircall adds some over time: ``call.transferred``,
``call.archived`` …) is a non-final update of the call, like ``call.assigned``. Any other
``event``, or a ``resource`` that does not match it, is an
:class:`~leadsync.errors.EventError` (the row becomes a dead letter).

Calls
-----
Owner: ``data.user`` as ``{"id", "email", "name"}`` (null: no owner); the agent's email and
name teach the user directory. Association: ``data.contact`` by its ``id`` and first email
(text that is not an email address is passed over: the next email is taken); a contact
without an email is named by its id only when the call has no number of the other party —
with one, the number finds the contact (Aircall's id alone would make a blank contact beside
the CRM's). A call without a contact (``"contact": null``) is still the call,
with its ``direction`` and numbers (as sent, trimmed; read as E.164 by the engine), which
find the other party (``raw_digits``). A hidden caller's ``raw_digits`` (``anonymous`` (?),
or ``""``) reads as no number, as ``999`` does: a review question
(:func:`leadsync.values.read_call_number`). A call without a ``direction`` gives
``raw_digits`` alone as ``to_number`` (the other party whichever way the call went; the
line's own number, which the engine would take for a caller's, is only its
``line_number``). ``answered_at`` (``data.answered_at``) on any event once the call is
answered: the engine reads an inbound call as answered by it (its rep fills an empty owner
with ``assign_on_activity`` from then on, not the agent ``call.ringing_on_agent`` rang).

Only ``call.ended`` (sent about 30 s after hang-up, when duration and recording are final) and
``call.voicemail_left`` carry final values; the earlier events of a call never carry
``duration_s``, ``recording_url`` or the raw status, nor ``outcome`` unless a voicemail's
link is there, so a late ``call.created`` cannot wipe them (``call.comm_assets_generated``
carries ``recording_url``). Absent or null fields never become properties (null would clear
a value).

``recording_url`` is the call's ``asset`` (Aircall's lasting, secured page of the recording
or voicemail), else ``recording``, else ``voicemail`` (direct links to the file, which
expire within minutes: a CRM timeline would keep a dead link). Aircall sends each link as a
string or null; one of another type (a number, ``true``, an object) is read as no link
(:func:`~leadsync.sources.forms.lenient_string`): the call is taken without it, and a
``voicemail`` that is no link says nothing of the outcome. So is a contact's
``phone_numbers[].label`` that is not a string (no label: the number is not the mobile) and
a user's or a line's ``name`` (no name).

Outcome of a finished call — or of any call event whose ``voicemail`` is set (the link comes
with ``call.comm_assets_generated``, after ``call.ended``) —, first rule that holds:

1. ``answered_at`` is set: ``connected``;
2. ``voicemail`` is set, or the event is ``call.voicemail_left``: ``voicemail``;
3. ``missed_call_reason`` is set: :data:`MISSED_CALL_OUTCOMES` (an unlisted reason:
   ``no_answer``);
4. otherwise (an outbound call nobody answered): ``no_answer``.

A voicemail is left before the caller hangs up, so ``call.voicemail_left`` (at the hang-up)
comes before ``call.ended`` (about 30 s after it; its ``voicemail`` null until the assets
are generated) (?): a missed outcome (rules 3, 4) of ``call.ended`` is therefore dated at the
call's start (:func:`_call_events`), and a voicemail of the call wins whatever the order.

Ignored (acknowledged, no event): the events Aircall publishes of what leadsync does not sync
(:data:`IGNORED_FAMILIES`: other events of phone lines, messages, Conversation Intelligence,
the AI Voice Agent, analytics, an app's uninstall) — a webhook made without an event list
gets them all; an unlisted family is a dead letter naming the known ones. Also ignored:
``ended_at`` of a call never answered, a call's ``number.name``, comment authors
and tag ids.
(?) ``user.updated`` is in neither of Aircall's published user event lists (V1 or V2); it is
still read. There is no ``user.updated.v2``: an unlisted ``*.v2`` name is a dead letter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from leadsync.errors import SignatureError
from leadsync.model import DIRECTIONS, Event
from leadsync.sources.aircall_lines import LINE_EVENTS, line_event, user_lines
from leadsync.sources.aircall_people import (
    contact_event,
    first_email,
    line_users,
    person,
    texts_in,
    user_event,
)
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    body_object,
    describe,
    event_name_error,
    get_path,
    number,
    obj,
    refuse,
    signature_needs_secret,
    stable_key,
    string,
    text,
    whole,
)
from leadsync.sources.canonical import parse_event
from leadsync.sources.epoch import event_time_from_epoch
from leadsync.sources.forms import lenient_string, phone
from leadsync.sources.hygiene import without_secret_fields
from leadsync.sources.signatures import verify_aircall

__all__ = [
    "ADAPTER",
    "CALL_EVENTS",
    "ASSETS_READY",
    "CONTACT_EVENTS",
    "FINAL_CALL_EVENTS",
    "IGNORED_EVENTS",
    "IGNORED_FAMILIES",
    "IGNORED_RESOURCES",
    "KNOWN_EVENTS",
    "MISSED_CALL_OUTCOMES",
    "USER_EVENTS",
    "USER_EVENTS_V2",
    "AircallAdapter",
]

VOICEMAIL_LEFT = "call.voicemail_left"
ENDED = "call.ended"
#: Events of a call that carry its final values (duration, outcome, recording).
FINAL_CALL_EVENTS = (ENDED, VOICEMAIL_LEFT)
#: The events giving the call's whole list of tags or comments, an empty one included.
LIST_EVENTS = {"tags": ("call.tagged", "call.untagged"), "comments": ("call.commented",)}
#: Sent once a call's recording or voicemail is ready, which may be after ``call.ended``
#: (whose links may then be null): it carries the call's assets, read as ``recording_url``.
ASSETS_READY = "call.comm_assets_generated"
CALL_EVENTS = (
    "call.created",
    "call.ringing_on_agent",
    "call.answered",
    "call.hungup",
    "call.tagged",
    "call.untagged",
    "call.commented",
    "call.assigned",
    ASSETS_READY,
    *FINAL_CALL_EVENTS,
)
CONTACT_EVENTS = ("contact.created", "contact.updated")
USER_EVENTS = (
    "user.created",
    "user.updated",
    "user.opened",
    "user.closed",
    "user.connected",
    "user.disconnected",
    "user.wut_start",
    "user.wut_end",
)
#: User events V2 (Aircall's preferred ones; V1 "will be deprecated"). Same envelope
#: (``resource: "user"``); the user object lacks V1's ``numbers``.
USER_EVENTS_V2 = (
    "user.created.v2",
    "user.opened.v2",
    "user.closed.v2",
    "user.connected.v2",
    "user.disconnected.v2",
    "user.wut_start.v2",
    "user.wut_end.v2",
)
#: Deletions are not propagated (a line deleted stays one of the company's lines).
IGNORED_EVENTS = ("contact.deleted", "user.deleted", "user.deleted.v2", "number.deleted")
#: What Aircall publishes events of and leadsync does not sync, by the event name's family
#: (before its first ``.``): read as nothing, as a webhook created without an event list gets
#: every one of them — phone lines (``number.opened`` …), SMS and WhatsApp messages and group
#: messages, Conversation Intelligence (``transcription.created``, ``summary.created`` …, several
#: for each call with the AI Assist add-on), the AI Voice Agent, analytics exports, and an OAuth
#: app's uninstall (``integration.deleted``).
IGNORED_FAMILIES = (
    "number",
    "message",
    "group_message",
    "transcription",
    "realtime_transcription",
    "summary",
    "custom_summary",
    "topics",
    "sentiment",
    "action_item",
    "playbook_result",
    "call_evaluation",
    "ai_voice_agent",
    "analytics",
    "integration",
)
#: The ``resource`` those events come under: their family, or one of these (Conversation
#: Intelligence events come as ``conversation_intelligence``, group messages with the messages).
IGNORED_RESOURCES = (*IGNORED_FAMILIES, "conversation_intelligence")
KNOWN_EVENTS = (
    *CALL_EVENTS,
    *CONTACT_EVENTS,
    *LINE_EVENTS,
    *USER_EVENTS,
    *USER_EVENTS_V2,
    *IGNORED_EVENTS,
)

#: ``missed_call_reason`` -> canonical call outcome (an unlisted reason is ``no_answer`` too).
MISSED_CALL_OUTCOMES: dict[str, str] = {
    "no_available_agent": "no_answer",
    "agents_did_not_answer": "no_answer",
    "out_of_opening_hours": "no_answer",
    "short_abandoned": "no_answer",
    "abandoned_in_ivr": "no_answer",
    "abandoned_in_classic": "no_answer",
}
#: The outcomes other than a missed call's (which is dated at the call's start).
ANSWERED_OR_VOICEMAIL = ("connected", "voicemail")
CALL_TITLE = "Aircall call"


class AircallAdapter(Adapter):
    """Aircall webhooks: the token in the body, one event per request."""

    kind: ClassVar[str] = "aircall"
    vendor_name: ClassVar[str | None] = "Aircall"
    signature_scheme: ClassVar[str] = "none; the body's token field equals the secret"
    #: The body's ``token`` is the integration's secret: never stored (:meth:`split`) and
    #: ``"[redacted]"`` in a dead letter, however its key is spelled (``"tok\u0065n"``,
    #: ``"Token"``); see Adapter.redact.
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)
    #: A contact event's ``data`` is the whole contact as it is now ("modelization of the
    #: resource at the timestamp"), its ``phone_numbers`` every number it has: every phone
    #: property is given when the list is there (see :func:`contact_phones`).
    phone_list_complete: ClassVar[bool] = True
    #: Aircall's contacts have no owner: its reps reach a record by their calls.
    record_owners: ClassVar[bool] = False

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        token = signature_needs_secret(self.kind, secret)
        body = self.body_of(request)  # EventError (a 400) when it is not JSON at all
        if not isinstance(body, dict):
            raise SignatureError(f"body must be a JSON object with a token, got {describe(body)}")
        verify_aircall(token, body.get("token"))

    def split(self, body: Any, headers: Mapping[str, str]) -> list[Any]:
        """The body without its ``token``: the secret is checked, never stored. A key
        spelled in another case or with blanks around it (``"Token"``, ``"TOKEN "``) is the
        same field and is dropped too (:func:`~leadsync.sources.hygiene.without_secret_fields`)."""
        return [without_secret_fields(body, self.secret_fields)]

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        body = body_object(item)
        call = get_path(body, "data.id")
        event, stamp = body.get("event"), body.get("timestamp")
        content = body.get("data")
        return stable_key("aircall", event, call, stamp, order=call, body=body, content=content)

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        return event_time_from_epoch(body_object(item).get("timestamp"), "timestamp")

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        body = body_object(item)
        name = _event_name(body)
        if name in IGNORED_EVENTS or (
            name.split(".", 1)[0] in IGNORED_FAMILIES and name not in LINE_EVENTS
        ):
            return []
        at = event_time_from_epoch(body.get("timestamp"), "timestamp")
        if at is None:
            refuse("timestamp", "required: the event's unix time in seconds")
        obj(body, "data", required=True)
        found: list[dict[str, Any]]
        if name.startswith("call."):
            found = _call_events(body, name, event_id, at)
        elif name in CONTACT_EVENTS:
            found = [contact_event(body, event_id, at)]
        elif name in LINE_EVENTS:
            found = [*line_event(body, event_id, at), *line_users(body, event_id, at)]
        else:
            user = user_event(body, event_id, at)
            found = [] if user is None else [user, *user_lines(body, event_id, at)]
        return [parse_event(data, self.integration, seq) for data in found]


ADAPTER = AircallAdapter


# ------------------------------------------------------------------ envelope


def _event_name(body: dict[str, Any]) -> str:
    """The event's name. Any other ``call.*`` event (Aircall adds some over time:
    ``call.transferred``, ``call.archived`` …) is a non-final update of the call, like
    ``call.assigned``, rather than a dead letter."""
    name = body.get("event")
    family = name.split(".", 1)[0] if isinstance(name, str) else None
    ignored = family in IGNORED_FAMILIES and "." in str(name)
    if not isinstance(name, str) or (name not in KNOWN_EVENTS and family != "call" and not ignored):
        event_name_error("event", name, KNOWN_EVENTS)
    resource = string(body, "resource")
    allowed: tuple[str, ...] = IGNORED_RESOURCES if ignored else (str(family),)
    if resource is not None and resource not in allowed:
        refuse(
            "resource",
            f"{resource!r} does not match event {name!r}; allowed: {', '.join(allowed)} (or none)",
        )
    return name


# ------------------------------------------------------------------ calls


def _call_events(body: dict[str, Any], name: str, event_id: str, at: str) -> list[dict[str, Any]]:
    """The call's event; for a ``call.ended`` of a missed call two: the call with its missed
    outcome dated at the call's start (``#missed``, no ``changed_at``: at its
    ``occurred_at``), so that a voicemail left on it always wins, then the call without it
    at ``timestamp`` (every other value is ``call.ended``'s at its time)."""
    call_id = text(body, "data.id", required=True)
    started = event_time_from_epoch(get_path(body, "data.started_at"), "data.started_at")
    properties: dict[str, Any] = {"title": CALL_TITLE}
    properties.update(_call_parties(body))
    answered = event_time_from_epoch(get_path(body, "data.answered_at"), "data.answered_at")
    if answered is not None:  # on any event once it is: an inbound call's rep owns then
        properties["answered_at"] = answered
    for key, path, field in (
        ("tags", "data.tags", "name"),
        ("comments", "data.comments", "content"),
    ):
        values = texts_in(body, path, field)
        if values or (name in LIST_EVENTS[key] and get_path(body, path) is not None):
            properties[key] = values
    if name in FINAL_CALL_EVENTS:
        properties.update(_final_values(body, name))
    elif name == ASSETS_READY:
        properties.update(_recording(body))
    if lenient_string(body, "data.voicemail") is not None:
        properties["outcome"] = _outcome(body, name)  # the voicemail's link, on any event
    event: dict[str, Any] = {
        "id": event_id,
        "occurred_at": started or at,
        "type": "activity",
        "activity": "call",
        "external_id": call_id,
        "properties": properties,
    }
    owner = person(body, "data.user")
    if owner is not None:
        event["owner"] = owner
    contact = _contact_ref(body)
    if contact is not None:
        event["associations"] = [contact]
    if name != ENDED or started is None or properties["outcome"] in ANSWERED_OR_VOICEMAIL:
        return [event]
    missed = {**event, "id": f"{event_id}#missed"}
    rest = {k: v for k, v in properties.items() if k != "outcome"}
    return [missed, {**event, "properties": rest, "changed_at": at}]


def _call_parties(body: dict[str, Any]) -> dict[str, Any]:
    """``direction`` and the two numbers, as far as the payload has them; without a
    direction, ``raw_digits`` alone (as ``to_number``); an empty one, or a null one of a
    call with a direction, as ``""`` (withheld: the call had another party, whose number
    Aircall did not give)."""
    external = phone(body, "data.raw_digits")
    direction = string(body, "data.direction")
    given = get_path(body, "data.raw_digits")
    data = body.get("data")
    if external is None and (
        isinstance(given, str) or (direction and isinstance(data, dict) and "raw_digits" in data)
    ):
        external = ""  # blank, or null beside a direction
    if direction is None:
        line = _line_number(phone(body, "data.number.digits"))
        return line if external is None else {"to_number": external, **line}
    direction = direction.lower()
    if direction not in DIRECTIONS:
        refuse("data.direction", f"{direction!r} is not allowed; allowed: {', '.join(DIRECTIONS)}")
    ours = phone(body, "data.number.digits")
    caller, callee = (external, ours) if direction == "inbound" else (ours, external)
    parties: dict[str, Any] = {"direction": direction, **_line_number(ours)}
    if caller is not None:
        parties["from_number"] = caller
    if callee is not None:
        parties["to_number"] = callee
    return parties


def _line_number(digits: str | None) -> dict[str, str]:
    """The company's line the call was on (``data.number.digits``), as ``line_number``: one of
    the integration's own lines from then on (:mod:`leadsync.sources.aircall_lines`)."""
    return {} if digits is None else {"line_number": digits}


def _final_values(body: dict[str, Any], name: str) -> dict[str, Any]:
    """What only a finished call knows: duration, outcome, recording, raw status."""
    values: dict[str, Any] = {"outcome": _outcome(body, name)}
    duration = number(body, "data.duration")
    if duration is not None:
        if duration < 0:
            refuse("data.duration", f"must be a number of seconds >= 0, got {duration:g}")
        values["duration_s"] = whole(duration)
    ended = event_time_from_epoch(get_path(body, "data.ended_at"), "data.ended_at")
    if ended is not None and get_path(body, "data.answered_at") is not None:
        values["ended_at"] = ended  # with answered_at: the talk time (dedupe compares it)
    values.update(_recording(body))
    for key, path in (
        ("aircall_status", "data.status"),
        ("aircall_missed_call_reason", "data.missed_call_reason"),
    ):
        raw = string(body, path)
        if raw is not None:
            values[key] = raw
    return values


def _recording(body: dict[str, Any]) -> dict[str, str]:
    """``recording_url``: the call's ``asset`` (Aircall's lasting, secured page of the
    recording or voicemail), else ``recording``, else ``voicemail`` (direct links that expire
    within minutes); nothing when the call has none. A link that is not a string is none
    (:func:`~leadsync.sources.forms.lenient_string`)."""
    for path in ("data.asset", "data.recording", "data.voicemail"):
        link = lenient_string(body, path)
        if link is not None:
            return {"recording_url": link}
    return {}


def _outcome(body: dict[str, Any], name: str) -> str:
    """The canonical outcome of a finished call (rules in the module docstring)."""
    if event_time_from_epoch(get_path(body, "data.answered_at"), "data.answered_at") is not None:
        return "connected"
    if name == VOICEMAIL_LEFT or lenient_string(body, "data.voicemail") is not None:
        return "voicemail"
    reason = string(body, "data.missed_call_reason")
    if reason is not None:
        return MISSED_CALL_OUTCOMES.get(reason, "no_answer")
    return "no_answer"


def _contact_ref(body: dict[str, Any]) -> dict[str, Any] | None:
    """The call's contact as an association, or None when the call names nobody. A contact
    without an email is not named when the call has the other party's number: Aircall's id
    alone joins no record of the CRM's (made a blank contact of its own, the person's calls
    split over two records), where the number finds the contact that has it — one Aircall's
    ``contact.*`` events made included (its numbers are indexed)."""
    if obj(body, "data.contact") is None:
        return None
    ref: dict[str, Any] = {"object": "contact"}
    contact_id = text(body, "data.contact.id")
    email = first_email(body, "data.contact.emails")
    if email is not None:
        ref["email"] = email
    elif any(ch.isdigit() for ch in phone(body, "data.raw_digits") or ""):
        return None
    if contact_id is not None:
        ref["external_id"] = contact_id
    return ref if len(ref) > 1 else None
