"""The generic source: leadsync's canonical event format over HTTP (``kind: generic``).

The format and its parser are :mod:`leadsync.sources.canonical` (specified in
docs/FORMAT.md); this adapter only verifies the signature, cuts a body into events and reads
each one with that parser. A line of a generic integration's JSONL file is a canonical event,
read by the parser alone, or a JSON array of events, which ``leadsync ingest`` cuts with this
adapter as it cuts a JSON body (:func:`leadsync.pipeline.ingest.items_of_line`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from leadsync.errors import EventError
from leadsync.model import Event
from leadsync.sources import canonical
from leadsync.sources.base import (
    Adapter,
    WebhookRequest,
    decode_json,
    signature_needs_secret,
    stable_key,
)
from leadsync.sources.options import GenericOptions
from leadsync.sources.signatures import GENERIC_WINDOW_S, verify_generic


class GenericAdapter(Adapter):
    """The canonical format over HTTP: ``POST /webhooks/<integration>`` with one event (a JSON
    object), several (a JSON array), or JSONL (``application/x-ndjson``), signed with
    ``X-Leadsync-Signature: sha256=<hex HMAC-SHA256 of the raw body>`` (with
    ``X-Leadsync-Timestamp: <unix seconds>``: of ``<timestamp>.<body>``, and the timestamp
    must be within the integration's tolerance; see
    :func:`~leadsync.sources.signatures.verify_generic`).

    Each event is stored as its canonical line. An event that fails the format's checks is
    still stored (keyed by a hash of its text) and becomes a dead letter with its error when a
    worker reads it: a signed request is never dropped.
    """

    kind = "generic"
    signature_scheme = (
        "X-Leadsync-Signature: sha256=<hex HMAC-SHA256(secret, body)>, or of t.body with"
        " X-Leadsync-Timestamp: t (±timestamp_tolerance_s, 300 s by default)"
    )
    stores_canonical = True
    options_model = GenericOptions
    options: GenericOptions
    content_types = ("application/json", "application/x-ndjson", "application/jsonl")

    def verify(self, request: WebhookRequest, secret: str | None, now: float) -> None:
        """The signature, and the signed timestamp's age when the request has one (or the
        integration requires one: ``vendor.require_timestamp``); the tolerance is
        ``vendor.timestamp_tolerance_s`` (300 s by default)."""
        verify_generic(
            signature_needs_secret(self.kind, secret),
            request.body,
            request.headers,
            now,
            self.options.timestamp_tolerance_s or GENERIC_WINDOW_S,
            bool(self.options.require_timestamp),
        )

    def decode(self, request: WebhookRequest) -> Any:
        if request.content_type == "application/json":
            data = decode_json(request.body)
            items = data if isinstance(data, list) else [data]
            return [_ParsedLine.of(item) for item in items]
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EventError(f"body is not valid UTF-8 at byte {exc.start}") from None
        return [line.strip() for line in text.splitlines() if line.strip()]

    def split(self, body: Any, headers: Mapping[str, str]) -> list[Any]:
        if not body:
            raise EventError("body holds no events")
        return list(body)

    def identify(self, item: Any, headers: Mapping[str, str]) -> str:
        """The event's id; an event that cannot be read is keyed by a hash of its text."""
        event = self._readable(item)
        return event.id if event is not None else stable_key("generic", item)

    def named_event(self, line: str) -> str | None:
        """The ``id`` the line gives, whether or not the rest of it reads (:meth:`identify`
        keys an unreadable line by its text)."""
        return canonical.declared_id(json.loads(line))

    def occurred_at(self, item: Any, headers: Mapping[str, str]) -> str | None:
        event = self._readable(item)
        return event.occurred_at if event is not None else None

    def identify_and_time(self, item: Any, headers: Mapping[str, str]) -> tuple[str, str | None]:
        """Both from one reading of the event (of a JSON body's value, parsed once)."""
        event = self._readable(item)
        if event is None:
            return stable_key("generic", item), None
        return event.id, event.occurred_at

    def store(self, item: Any, headers: Mapping[str, str]) -> str:
        return str(item)  # the canonical line itself

    def load(self, payload: str, where: str | None) -> tuple[dict[str, str], Any]:
        return {}, payload

    def to_events(
        self, item: Any, headers: Mapping[str, str], event_id: str, seq: int
    ) -> list[Event]:
        return [canonical.parse_line(item, self.integration, seq)]

    def _readable(self, line: str) -> Event | None:
        try:
            if isinstance(line, _ParsedLine):
                return canonical.parse_event(line.data, self.integration)
            return canonical.parse_line(line, self.integration)
        except EventError:
            return None


class _ParsedLine(str):
    """A canonical line cut from a JSON body (what the inbox stores), with the value it was
    written from: the body was parsed once, and the event is read from ``data``."""

    data: Any

    @classmethod
    def of(cls, data: Any) -> _ParsedLine:
        line = cls(json.dumps(data, ensure_ascii=False, separators=(",", ":")))
        line.data = data
        return line


ADAPTER = GenericAdapter
