"""What the webhook intake keeps of authentic input it cannot take: dead letters.

A request whose body cannot be cut into events at all is kept whole (:func:`keep_request`),
answered 400. An event of a request of several that cannot be identified (a HubSpot element
without ``eventId``, a Salesforce notification without ``Id``) is kept alone
(:func:`keep_refused`): its letter's source names its index (``webhook [1]``), its error the
field (``webhook [1]: field "[1].eventId": required``), its text is the event as a request of
its own (:class:`~leadsync.sources.elements.Refused`), so ``dead-letters retry`` reads it as
the service would; the events beside it are stored and the request answered with the vendor's
success. A request sent again while such a letter is open adds no second one. A defect of
ours met by a request is logged here too, without the body (:func:`log_defect`).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence

from sqlalchemy.engine import Engine

from leadsync.pipeline import inbox
from leadsync.sources.base import Adapter, Refused, WebhookRequest, envelope_text
from leadsync.store.database import begin_writing

log = logging.getLogger("leadsync.intake")


BODY_BYTES = "body_base64"
"""The key of a kept request's body that is not UTF-8 text: its bytes, in base64."""


def holds_bytes(raw: str) -> bool:
    """Whether a kept request holds a body that is not UTF-8 text (:data:`BODY_BYTES`)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return isinstance(data, dict) and BODY_BYTES in data


def request_text(adapter: Adapter, request: WebhookRequest) -> str:
    """How a request is kept as a dead letter: its kept headers and its body as text,
    secrets redacted. A body that is not UTF-8 text is kept as its bytes (base64, under
    :data:`BODY_BYTES`: decoding it would replace what it holds, and a retry would apply the
    replacement) — unless the vendor puts a secret in its body (Aircall's token), which
    only text can be redacted in: then as text with the bytes it cannot read replaced."""
    kept = {k: request.headers[k] for k in adapter.kept_headers if k in request.headers}
    kept["content-type"] = request.headers.get("content-type", "")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        if not adapter.secret_fields:
            data = base64.b64encode(request.body).decode("ascii")
            return json.dumps({"headers": kept, BODY_BYTES: data}, separators=(",", ":"))
        text = request.body.decode("utf-8", errors="replace")
    return envelope_text(kept, adapter.redact(text))


def keep_request(
    engine: Engine, integration: str, adapter: Adapter, request: WebhookRequest, error: str
) -> None:
    """An authentic body that cannot be read is answered 400 and kept as a dead letter."""
    raw = request_text(adapter, request)
    with begin_writing(engine) as connection:
        inbox.record_rejected(connection, integration, inbox.WEBHOOK, raw, error)


def keep_refused(
    engine: Engine, integration: str, adapter: Adapter, refused: Sequence[Refused]
) -> None:
    """Each event that cannot be identified as a dead letter of its own, committed before the
    request is answered (once: an open letter of the same event is not added again)."""
    with begin_writing(engine) as connection:
        for element in refused:
            source = f"{inbox.WEBHOOK} [{element.index}]"
            raw = adapter.redact(element.text)
            error = f"{source}: {element.error}"
            inbox.record_rejected(connection, integration, source, raw, error)
    log.warning(
        "webhook for %s: %d event(s) cannot be identified (%s); kept as dead letters, "
        "the others taken",
        integration,
        len(refused),
        ", ".join(f"[{element.index}]" for element in refused),
    )


def log_defect(integration: str, doing: str, exc: Exception) -> None:
    """A defect met by a request, logged without its message (which may quote the body)."""
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = f"{frame.tb_frame.f_code.co_filename}:{frame.tb_lineno}" if frame else "?"
    log.error(
        "webhook for %s: %s while %s the request (at %s); answered 400",
        integration,
        type(exc).__name__,
        doing,
        where,
    )


def defect_detail(exc: Exception, kept: bool) -> str:
    """What a request that met a defect of ours is told (never the message: it may quote
    the body)."""
    tail = "; it is kept as a dead letter" if kept else ""
    return f"the body could not be read (internal error: {type(exc).__name__}){tail}"
