"""What every vendor adapter is: a small class with verb-named hooks.

A webhook request travels through an adapter in two steps, at two different times:

1. **On receipt** (in the HTTP handler, before the vendor gets its 2xx):
   :meth:`Adapter.verify` checks authenticity, :meth:`Adapter.decode` turns the raw body into
   data, :meth:`Adapter.split` cuts it into the vendor's single events (a HubSpot array, a
   Salesforce ``notifications`` list, one object for most vendors) and for each one
   :meth:`Adapter.identify` gives the key the inbox deduplicates on (a hashed key gets the
   time and the object's id in front: :func:`leadsync.model.timed_key`) and
   :meth:`Adapter.occurred_at` the vendor's time. Each piece is one inbox row holding the
   envelope ``{"headers": {...}, "body": <piece>}`` (:func:`envelope_text`). Nothing here may
   be slow: it is on the request's path.
2. **In a worker**, later: :meth:`Adapter.to_events` turns one stored envelope into canonical
   events (an Aircall call with an inline contact gives the contact and the call); an
   :class:`~leadsync.errors.EventError` raised here makes the row a dead letter, never lost.

A captured log replayed with ``leadsync ingest`` goes the same two steps: a line is a webhook
body, or an envelope ``{"headers": {...}, "body": ...}`` when a header matters (Salesloft's
event name). Errors name the place as a JSON path into the body (``data.user.email``) and
what is allowed. Adapters never read the clock or the environment: times and secrets are
passed in (a row's arrival too: no event is dated much later, :mod:`.arrival`).
"""

from __future__ import annotations

import abc
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from leadsync.errors import EventError, SignatureError
from leadsync.model import Event, timed_key
from leadsync.sources import jsontext
from leadsync.sources.arrival import dated_by_arrival
from leadsync.sources.elements import Refused, alone_text, in_element
from leadsync.sources.hygiene import (
    check_events,
    finite_float,
    may_hold_unstorable,
    number_problem,
    redact_text,
    representable,
    storable_key,
)
from leadsync.sources.keys import stable_key
from leadsync.sources.options import NoOptions, VendorOptions
from leadsync.values import (
    EpochUnit,
    normalize_domain,
    normalize_email,
    parse_time,
    valid_domain,
    valid_email,
    whole,
)

__all__ = [
    "Adapter", "Piece", "Refused", "WebhookRequest", "envelope_text", "in_element",
    "read_envelope", "stable_key", "timed_key", "whole",
]  # fmt: skip

ENVELOPE_KEYS = frozenset({"headers", "body"})


@dataclass(slots=True)
class WebhookRequest:
    """One HTTP request as the adapter sees it. ``headers`` keys are lowercase."""

    method: str
    uri: str
    headers: Mapping[str, str]
    body: bytes
    # The decoded body, once an adapter decoded it (see Adapter.body_of).
    decoded: Any = field(default=None, repr=False)
    is_decoded: bool = field(default=False, repr=False)

    @property
    def content_type(self) -> str:
        """The media type, lowercased, without parameters (``application/json``)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(slots=True)
class Piece:
    """One vendor event cut out of a webhook body: the unit the inbox stores and dedupes.
    ``key`` is unique per vendor event for the integration (a redelivery has the same key);
    ``headers`` are the kept headers (lowercase names) the conversion needs."""

    key: str
    occurred_at: str | None
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    stored: str = ""
    index: int = 0  # of the event among the body's (split's)

    def payload(self) -> str:
        """The text the inbox stores for this piece (:meth:`Adapter.store`)."""
        return self.stored


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def envelope_text(headers: Mapping[str, str], body: Any) -> str:
    """The stored form of one piece: compact JSON ``{"headers": {...}, "body": ...}``."""
    data: dict[str, Any] = {"body": body}
    if headers:
        data = {"headers": dict(headers), "body": body}
    return jsontext.dumps(data, _ENCODER.encode)


def read_envelope(text: str, where: str | None = None) -> tuple[dict[str, str], Any]:
    """The (headers, body) of a stored envelope; EventError when it is not one."""
    try:
        data = jsontext.loads(text, json.loads)
    except (json.JSONDecodeError, RecursionError):
        raise EventError("the stored payload is not valid JSON", where) from None
    if not isinstance(data, dict) or "body" not in data or not ENVELOPE_KEYS.issuperset(data):
        raise EventError('the stored payload is not an envelope {"headers", "body"}', where)
    headers = data.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise EventError('field "headers": must be an object of strings', where)
    return {k.lower(): v for k, v in headers.items()}, data["body"]


# ------------------------------------------------------------------ the adapter


class Adapter(abc.ABC):
    """Base of every vendor adapter. Subclasses set ``kind`` and implement the abstract hooks
    (``verify``, ``identify``, ``to_events``); the others have defaults.

    What the rest of leadsync needs to know about a vendor is declared here, once, as class
    attributes (``signature_scheme``, ``secret_required``, ``stores_canonical``, ``is_crm``,
    ``options_model``, …) that each adapter overrides at the top of its class body; settings,
    the inbox, the intake and the engine read them from the class, never from a kind's name.

    ``options`` are the integration's ``vendor:`` settings, an instance of ``options_model``
    (validated by :mod:`leadsync.settings`; a mapping given in code is validated here);
    ``integration`` is the integration's name.
    """

    kind: ClassVar[str] = ""
    #: The vendor's name for people ("Aircall"), as a sentence names the tool's phone lines
    #: ("one of the company's Aircall lines"); None: the kind names no one vendor (generic).
    vendor_name: ClassVar[str | None] = None
    #: How a request is proven authentic, in one line for people (header, algorithm, window);
    #: :meth:`verify` is the check itself, with a function of :mod:`.signatures`.
    signature_scheme: ClassVar[str] = ""
    #: Every request needs the secret named by ``secret_env`` (else refused; ``serve`` warns).
    #: False when some are checked otherwise (Salesforce Outbound Messages: organization id).
    secret_required: ClassVar[bool] = True
    #: The inbox stores each event as its canonical line (generic): an ingested line is one.
    stores_canonical: ClassVar[bool] = False
    #: The tool is the CRM itself: its owner ids are owner ids, and its owner changes are
    #: changes made in the CRM (bidirectional sync never echoes them back to it).
    is_crm: ClassVar[bool] = False
    #: A record event with the person's list of numbers (Aircall's ``phone_numbers``) gives
    #: every phone property: a null is a number the tool has no more (the engine takes back
    #: the number this tool gave there; one other tools gave stays). False: a null clears the
    #: property, whoever gave it (HubSpot, canonical).
    phone_list_complete: ClassVar[bool] = False
    #: Its record events may name an owner (not Aircall's, Calendly's: a rep reaches a record
    #: by an activity); ``lead_activity``: what its reps log (the test lead logs it too).
    record_owners: ClassVar[bool] = True
    lead_activity: ClassVar[str] = "call"
    #: The model of the ``vendor:`` options this kind takes (:mod:`.options`); the settings
    #: validate an integration's options with it and refuse any other option.
    options_model: ClassVar[type[VendorOptions]] = NoOptions
    #: Media types :meth:`decode` understands; others are refused with 415.
    content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    #: Request headers (lowercase) stored with each piece because :meth:`to_events` needs them.
    kept_headers: ClassVar[tuple[str, ...]] = ()
    #: Top-level body fields that hold a secret (Aircall's ``token``): :meth:`redact` hides them.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    options: VendorOptions

    def __init__(
        self, integration: str, options: VendorOptions | Mapping[str, Any] | None = None
    ) -> None:
        self.integration = integration
        if isinstance(options, self.options_model):
            self.options = options
        elif options is None or isinstance(options, Mapping):
            self.options = self.options_model.model_validate(options or {})
        else:
            raise TypeError(
                f"{type(options).__name__} are not the options of kind {self.kind}; "
                f"expected {self.options_model.__name__}"
            )

    # ---------------------------------------------------------- on receipt

    @abc.abstractmethod
    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        """Raise :class:`SignatureError` unless the request is authentic. ``now`` is unix
        seconds; ``secret`` is the value of the integration's ``secret_env``."""

    def decode(self, request: WebhookRequest) -> Any:
        """The body as data; :class:`EventError` (a 400) when it cannot be read at all."""
        return decode_json(request.body)

    def split(self, body: Any, headers: Mapping[str, str]) -> list[Any]:
        """The vendor's single events in one decoded body (most vendors send one)."""
        return [body]

    @abc.abstractmethod
    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        """The deduplication key of one vendor event (its event id, else :func:`stable_key`)."""

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        """The vendor's time for the event as a canonical time, or None when it has none."""
        return None

    def identify_and_time(self, item: Any, headers: Mapping[str, str]) -> tuple[str, str | None]:
        """:meth:`identify` and :meth:`occurred_at` of one item, as a request is cut (before its
        2xx); an adapter whose two hooks read the item alike overrides it to read it once."""
        return self.identify(item, headers), self.occurred_at(item, headers)

    def named_event(self, line: str) -> str | None:
        """The key of the event a line refused whole names all the same (its dead letter says
        which, and the line fixed closes it): :meth:`identify` of its JSON object; raises
        where it names none."""
        item = json.loads(line)
        return self.identify(item, {}) if isinstance(item, dict) else None

    def redact(self, text: str) -> str:
        """A body or line kept with a dead letter when it cannot be cut into events: the
        :attr:`secret_fields` of the body and an envelope's credential headers ``"[redacted]"``,
        found by parsing, not matching (:func:`~.hygiene.redact_text`; JSON or not)."""
        return redact_text(text, self.secret_fields)

    def acknowledge(self, pieces: Sequence[Piece]) -> tuple[str, bytes] | None:
        """A vendor-specific success body ``(content type, bytes)``, or None for leadsync's
        own JSON summary."""
        return None

    @classmethod
    def normalize_external_id(cls, record_type: str | None, value: str) -> str:
        """An external id as this vendor's events name it, for looking records up by the id a
        person typed (``leadsync records find --external``, the admin API). The identity by
        default; a vendor with several spellings of one id overrides it (Salesforce: the
        15-character form becomes the 18-character one). ``record_type`` is the canonical
        record type when known, else None. Never raises: a value that is no id of the vendor
        is returned as given (and simply finds nothing)."""
        return value

    # ------------------------------------------------------------ in a worker

    def store(self, item: Any, headers: Mapping[str, str]) -> str:
        """The text the inbox keeps for one vendor event: the envelope by default."""
        return envelope_text(headers, item)

    def load(self, payload: str, where: str | None) -> tuple[dict[str, str], Any]:
        """The (headers, item) of a stored payload: :meth:`store` read back."""
        return read_envelope(payload, where)

    @abc.abstractmethod
    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        """The canonical events of one stored vendor event; ``event_id`` is its key (derived
        events add a suffix such as ``#contact``). May return ``[]`` for an event that means
        nothing to leadsync (it is still acknowledged and kept in the inbox)."""

    # ------------------------------------------------------------ composed

    def body_of(self, request: WebhookRequest) -> Any:
        """The decoded body, decoded once per request (Aircall's token is in the body, so
        :meth:`verify` needs it too)."""
        if not request.is_decoded:
            request.decoded = self.decode(request)
            request.is_decoded = True
        return request.decoded

    def pieces(self, request: WebhookRequest) -> list[Piece]:
        """Decode and split a verified request; EventError (with a JSON path, from the event's
        index for one of several: ``[2].ChangeEventHeader``) for a body that cannot be cut into
        identified events, any one of them (:meth:`cut` keeps the others)."""
        pieces, refused = self.cut(request)
        if refused:
            raise EventError(refused[0].error)
        return pieces

    def cut(self, request: WebhookRequest) -> tuple[list[Piece], list[Refused]]:
        """:meth:`pieces`, with the events of a body of several that cannot be identified
        set apart (each a :class:`~leadsync.sources.elements.Refused`), the others cut.
        EventError when the body cannot be cut at all or none of its events is identified."""
        return self.pieces_of(self.body_of(request), request.headers)

    def pieces_of(self, body: Any, headers: Mapping[str, str]) -> tuple[list[Piece], list[Refused]]:
        kept = {name: headers[name] for name in self.kept_headers if name in headers}
        out: list[Piece] = []
        refused: list[Refused] = []
        items = self.split(body, kept)
        for index, item in enumerate(items):
            # Keys and stored text every database can hold (hygiene.py): one request's
            # characters never fail the commit it shares with others.
            try:
                key, at = self.identify_and_time(item, kept)
            except EventError as exc:  # of one event of several: its fields are [INDEX]'s
                error = self.element_error(item, len(items), index, exc)
                refused.append(Refused(index, error, alone_text(self.alone(body, item), kept)))
                continue
            key = timed_key(storable_key(key), at)
            out.append(Piece(key, at, item, kept, representable(self.store(item, kept)), index))
        if refused and not out:  # nothing beside them: the request is refused whole
            raise EventError(refused[0].error)
        return out, refused

    def element_error(self, item: Any, count: int, index: int, error: EventError) -> str:
        """The error of ``item``, event ``index`` of the ``count`` of a body, its fields named
        as the body's (``[1].eventId``); as it is when the event is the body. An adapter whose
        body is always a list names even a lone one (HubSpot's array: ``[0].eventId``)."""
        return in_element(error.detail, index) if count > 1 else error.detail

    def alone(self, body: Any, item: Any) -> Any:
        """Event ``item`` of ``body`` as a body of its own, as the dead letter of
        an event that cannot be identified keeps it, for a retry to read as a request: a JSON
        array of that one event; a string is the raw body (an Outbound Message's XML)."""
        return [item]

    def events_of(
        self, payload: str, event_id: str, seq: int, where: str | None, received_at: str | None
    ) -> list[Event]:
        """The events of one stored inbox row that arrived at ``received_at`` (none dated
        much later: sources/arrival.py; None: as dated, for a test); EventError names
        ``where``."""
        headers, body = self.load(payload, where)
        try:
            events = self.to_events(body, headers, event_id, seq)
            # The vendor's time of this change orders an activity's events (the events
            # themselves are timed when the activity happened). A canonical event states its
            # own (``changed_at``): nothing to add, and asking would parse it again. So does
            # an adapter that dates an event of the piece itself: it dated them all, one it
            # left without is dated at its ``occurred_at`` (Aircall's missed outcome).
            dated = self.stores_canonical or any(e.changed_at is not None for e in events)
            changed_at = self.occurred_at(body, headers) if events and not dated else None
        except EventError as exc:
            raise EventError(exc.detail, where) from None
        if changed_at is not None:
            for event in events:
                if event.changed_at is None and changed_at != event.occurred_at:
                    event.changed_at = changed_at
        if received_at is not None:
            dated_by_arrival(events, received_at)
        if may_hold_unstorable(payload):
            try:
                check_events(events)  # the same refusal on SQLite and PostgreSQL
            except EventError as exc:
                raise EventError(exc.detail, where) from None
        return events


# ------------------------------------------------------------------ helpers for adapters


def refuse(path: str, detail: str) -> NoReturn:
    """Raise the EventError every adapter uses: ``field "data.user.id": detail``."""
    raise EventError(f'field "{path}": {detail}')


def decode_json(raw: bytes) -> Any:
    """Strict JSON (UTF-8, no NaN/Infinity, numbers Python can read: no float out of a
    double's range, no integer longer than ``sys.get_int_max_str_digits()``, at most
    :data:`~leadsync.sources.jsontext.MAX_DEPTH` levels deep); else EventError, placed."""
    value = jsontext.loads(raw, _decode_json_exactly)
    if jsontext.too_deep(raw):
        raise EventError(f"body is not valid JSON: {jsontext.TOO_DEEP}")
    return value


def _decode_json_exactly(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError(f"body is not valid UTF-8 at byte {exc.start}") from None
    text = text.removeprefix("\ufeff")
    try:
        return _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise EventError(
            f"body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            if text.strip()
            else "body is empty; expected JSON"
        ) from None
    except RecursionError:
        raise EventError(f"body is not valid JSON: {jsontext.TOO_DEEP}") from None
    except ValueError:  # a float out of range, or an integer Python will not read
        problem = number_problem(text)
        if problem is None:  # pragma: no cover - the decoder refused a number: it is there
            raise EventError("body is not valid JSON: a number cannot be read") from None
        what, place = problem
        raise EventError(f"body is not valid JSON: {what} ({place})") from None


def _refuse_constant(name: str) -> NoReturn:
    raise EventError(f"body is not valid JSON: {name} is not allowed")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=finite_float)


def describe(value: Any) -> str:
    """A JSON value's kind for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (``data.user.email``), None where any step is missing or
    null. A step into something that is not an object is an error naming the path."""
    current = data
    walked: list[str] = []
    for step in path.split("."):
        if current is None:
            return None
        if not isinstance(current, dict):
            refuse(".".join(walked) or "(body)", f"must be an object, got {describe(current)}")
        walked.append(step)
        current = current.get(step)
    return current


def body_object(item: Any, what: str = "an object") -> dict[str, Any]:
    """A stored vendor event that must be a JSON object (most vendors send one)."""
    if not isinstance(item, dict):
        refuse("(body)", f"must be {what}, got {describe(item)}")
    return item


def obj(data: Any, path: str, required: bool = False) -> dict[str, Any] | None:
    value = get_path(data, path)
    if value is None:
        if required:
            refuse(path, "required")
        return None
    if not isinstance(value, dict):
        refuse(path, f"must be an object, got {describe(value)}")
    return value


def text(data: Any, path: str, required: bool = False) -> str | None:
    """A string (an integer id is accepted and becomes a string); empty counts as absent."""
    value = get_path(data, path)
    if isinstance(value, bool):
        refuse(path, "must be a string or a whole number, got a boolean")
    if isinstance(value, int):
        value = str(value)
    if value is not None and not isinstance(value, str):
        got = f"{value!r:.40} (a decimal)" if isinstance(value, float) else describe(value)
        refuse(path, f"must be a string or a whole number, got {got}")
    if value is None or not value.strip():
        if required:
            refuse(path, "required")
        return None
    return value.strip()


def number(data: Any, path: str, required: bool = False) -> float | None:
    """A finite number (a numeric string is accepted)."""
    value = get_path(data, path)
    if value is None or value == "":
        if required:
            refuse(path, "required")
        return None
    if isinstance(value, bool):
        refuse(path, "must be a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            refuse(path, f"must be a number, got {value[:40]!r}")
    if not isinstance(value, int | float):
        refuse(path, f"must be a number, got {describe(value)}")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer beyond a double's range
        finite = False
    if not finite:
        refuse(path, f"must be a finite number of magnitude at most 1.8e308, got {value!r:.40}")
    return value


def time_from_epoch(value: Any, path: str, unit: EpochUnit = "s") -> str | None:
    """Unix seconds (``unit="s"``) or milliseconds (``"ms"``), a number or a string of one,
    as a canonical time (read by :func:`leadsync.values.parse_time`)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        refuse(path, f"must be a unix time in {unit}, got {describe(value)}")
    try:
        return parse_time(float(value), epoch=unit)
    except (ValueError, OverflowError):
        refuse(path, f"must be a unix time in {unit}, got {str(value)[:40]!r}")


def time_from_iso(value: Any, path: str) -> str | None:
    """An ISO 8601 time as a canonical time (read by :func:`leadsync.values.parse_time`).
    Vendors' variants are accepted: ``Z``, ``+00:00``, ``+0000`` (Salesforce), and no offset
    at all (Outreach's ``deliveredAt``), which is read as UTC. A plain date is midnight UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        refuse(path, f"must be an ISO 8601 time, got {describe(value)}")
    try:
        return parse_time(value, naive_is_utc=True, plain_date=True)
    except ValueError as exc:  # its words name the value and say what is wrong with it
        refuse(path, str(exc))


def string(data: Any, path: str, required: bool = False) -> str | None:
    """A string field that is not an id: unlike :func:`text`, a number is refused, so the
    error names the vendor's JSON path rather than a canonical field later."""
    value = get_path(data, path)
    if value is not None and not isinstance(value, str):
        refuse(path, f"must be a string, got {describe(value)}")
    return text(data, path, required)


def choice(data: Any, path: str, allowed: tuple[str, ...]) -> str | None:
    """A case-insensitive vocabulary value, lowercased; None when absent."""
    value = text(data, path)
    if value is None:
        return None
    if value.lower() not in allowed:
        refuse(path, f"{value[:40]!r} is not allowed; allowed: {', '.join(allowed)}")
    return value.lower()


def email_or_none(value: str | None) -> str | None:
    """An email as stored (trimmed, lowercased), or None for text that is not one: a vendor's
    junk address (``n/a``) is dropped rather than refusing the whole event."""
    email = normalize_email(value or "")
    return email if valid_email(email) else None


#: The longest rep display name an adapter passes on: the canonical ``owner.name`` limit.
MAX_REP_NAME = 200


def rep_name(value: Any) -> str | None:
    """A rep's display name as an owner's ``name``: a non-empty string, trimmed and cut to
    :data:`MAX_REP_NAME`; None for anything else. A name only labels a rep, so a vendor's odd
    value is passed over rather than refusing the event it came with."""
    if not isinstance(value, str):
        return None
    return value.strip()[:MAX_REP_NAME].strip() or None


def domain_or_none(value: str | None) -> str | None:
    """A domain as stored (see :func:`leadsync.values.normalize_domain`), or None for a
    website that names none (``n/a``)."""
    domain = normalize_domain(value or "")
    return domain if valid_domain(domain) else None


def put(properties: dict[str, Any], key: str, value: Any) -> None:
    """Set a property only when there is a value: null would clear a stored one."""
    if value is not None:
        properties[key] = value


def compact(event: dict[str, Any]) -> dict[str, Any]:
    """A canonical event dict without empty parts (no owner, properties or associations)."""
    return {key: value for key, value in event.items() if value not in (None, {}, [])}


def event_name_error(path: str, name: Any, known: Sequence[str]) -> NoReturn:
    """The error (a dead letter) for an event name an adapter does not know, or none."""
    shown = repr(name) if isinstance(name, str) else describe(name)
    said = "required: the event's name" if name is None else f"unknown event {shown}"
    refuse(path, f"{said}; known: {', '.join(known)}")


def signature_needs_secret(kind: str, secret: str | None) -> str:
    """The secret, or a SignatureError when the integration has none configured."""
    if not secret:
        raise SignatureError(
            f"no webhook secret is configured for this {kind} integration (no secret_env, or "
            "its environment variable is not set where leadsync runs); requests are refused"
        )
    return secret
