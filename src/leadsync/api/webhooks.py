"""``POST /webhooks/{integration}``: the one endpoint on the vendors' hot path.

:func:`answer_webhook` is the whole behaviour (check, store with group commit, answer). The
FastAPI route documents it in the OpenAPI document and calls it; :class:`WebhookFastPath`, a
plain ASGI middleware, calls the same function before FastAPI's routing, dependency and
serialization layers, which cost more per request than the intake itself (see
docs/PERFORMANCE.md). Both give the same answers.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field

from leadsync.errors import UserError
from leadsync.pipeline.intake import (
    Intake,
    IntakeError,
    Receipt,
    WriterStopped,
    database_unavailable,
)
from leadsync.sources.base import WebhookRequest
from leadsync.sources.hygiene import Headers

from .problems import PROBLEM_TYPE, RETRY, Problem

log = logging.getLogger("leadsync.api")

PREFIX = "/webhooks/"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(slots=True)
class Answer:
    status: int
    media_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class RefusedEvent(BaseModel):
    """An event of a webhook body that could not be identified, kept as a dead letter."""

    index: int = Field(description="The event's index in the body, from 0.")
    error: str = Field(description='What is wrong, by field: field "[1].eventId": required.')


class WebhookReceipt(BaseModel):
    """A webhook's rows are committed: new ones, and redeliveries the inbox already held."""

    integration: str
    accepted: int
    duplicates: int
    refused: list[RefusedEvent] = Field(
        default_factory=list,
        description="Present only when some events of the body could not be identified: each "
        "is kept as a dead letter (webhook [INDEX]) and the others are taken.",
    )


def problem_answer(status: int, title: str, detail: str, instance: str) -> Answer:
    """A problem document as an :class:`Answer` (plain ASGI: no FastAPI response)."""
    if len(instance) > 200:  # the path as sent, whatever its length: not echoed whole
        instance = instance[:200] + "…"
    body = Problem(title=title, status=status, detail=detail, instance=instance)
    headers = dict(RETRY) if status == 503 else {}
    return Answer(status, PROBLEM_TYPE, body.model_dump_json(exclude_none=True).encode(), headers)


class BodyTooLarge(Exception):
    def __init__(self, size: str) -> None:
        self.size = size


class ClientGone(Exception):
    """The client closed the connection before the body was whole (``received`` bytes of
    ``declared``): nothing can be answered, and a part of a body is not the vendor's."""

    def __init__(self, received: int, declared: str | None) -> None:
        self.received, self.declared = received, declared


async def answer_webhook(
    intake: Intake, integration: str, request: WebhookRequest, path: str
) -> Answer:
    """Check, store (committed) and answer one webhook request; ``intake.on_request`` hears
    of the answer.

    An expected outage (the database away: :func:`database_unavailable`) is a 503 and one log
    line (the writer's, for a commit that failed); anything else unexpected while checking
    is a defect: logged with its traceback, answered 500."""
    return heard(intake, integration, await _answer(intake, integration, request, path))


def webhook_too_large(intake: Intake, integration: str, limit: int, size: str, path: str) -> Answer:
    """The 413 of a webhook body over ``limit``, which ``intake.on_request`` hears of as of
    any other answer (the fast path and the FastAPI route alike)."""
    return heard(intake, integration, too_large(limit, size, path))


def heard(intake: Intake, integration: str, answer: Answer) -> Answer:
    """``answer``, once ``intake.on_request`` (the metrics) has heard of it."""
    if intake.on_request is not None:
        intake.on_request(intake.label(integration), answer.status)
    return answer


async def _answer(intake: Intake, integration: str, request: WebhookRequest, path: str) -> Answer:
    try:
        cut = await intake.check_async(integration, request)
        waiter = intake.submit_async(integration, cut)
    except IntakeError as exc:  # refused
        intake.refusals.refused(intake.label(integration), exc.status, exc.detail)
        return problem_answer(exc.status, exc.title, exc.detail, path)
    except Exception as exc:
        return _unexpected(exc, intake, integration, path)
    try:
        receipt = await waiter
    except IntakeError as exc:  # its rows alone were refused: kept as a dead letter
        return problem_answer(exc.status, exc.title, exc.detail, path)
    except Exception:  # not committed (the writer logged why): the vendor retries
        return _unavailable(path)
    return _accepted(receipt)


def _accepted(receipt: Receipt) -> Answer:
    if receipt.ack is not None:
        media_type, content = receipt.ack
        return Answer(200, media_type, content)
    # Integration names are [a-z0-9_-] (settings), so the receipt needs no JSON encoder.
    text = (
        f'{{"integration":"{receipt.integration}","accepted":{receipt.accepted},'
        f'"duplicates":{receipt.duplicates}'
    )
    if receipt.refused:  # events that could not be identified, each kept as a dead letter
        listed = [{"index": index, "error": error} for index, error in receipt.refused]
        text += ',"refused":' + json.dumps(listed, ensure_ascii=False, separators=(",", ":"))
    return Answer(200, "application/json", (text + "}").encode())


def _unexpected(exc: Exception, intake: Intake, integration: str, path: str) -> Answer:
    """Not a refusal, while checking: the database away (reading the integrations, keeping
    a dead letter: said as the outage it is, with the writer's), the service stopping, or a
    defect."""
    if database_unavailable(exc):
        intake.writer.outage.away(type(exc).__name__, 1)
        return _unavailable(path)
    if isinstance(exc, WriterStopped):
        log.warning("intake: %s; answered 503", exc)
        return _unavailable(path)
    log.exception("webhook for %s: unexpected error; answered 500", integration)
    return problem_answer(500, "Internal error", "the request could not be handled", path)


def _unavailable(path: str) -> Answer:
    return problem_answer(
        503, "Service unavailable", "the inbox could not commit the request; retry later", path
    )


def too_large(limit: int, size: str, path: str) -> Answer:
    return problem_answer(
        413, "Body too large", f"the body has {size} bytes; at most {limit} are accepted", path
    )


def public_base(value: str) -> str:
    """``serve --public-url`` as the base the webhook paths go after: ``http(s)://host[:port]``
    and a path prefix, no query; UserError naming what is wrong. Every mistake here was
    accepted and made every HubSpot signature fail (401): no scheme, a query, and — most
    often — the whole webhook URL, which put ``/webhooks/NAME`` in twice."""
    parts = urlsplit(value.strip())
    allowed = "allowed: the base URL vendors call, http(s)://host[:port][/prefix]"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UserError(f"--public-url {value!r} is not an http(s) URL; {allowed}")
    if parts.query or parts.fragment:
        raise UserError(f"--public-url {value!r} has a query or fragment; {allowed}")
    if re.search(r"/webhooks/[^/]+$", parts.path.rstrip("/")):
        raise UserError(
            f"--public-url {value!r} holds the webhook path; {allowed}, without /webhooks/NAME "
            "(leadsync adds it)"
        )
    return value.strip().rstrip("/")


def public_uri(scheme: str, host: str, path: str, query: str, public_url: str | None) -> str:
    """The URI the vendor called (HubSpot signs it): ``public_url`` when a proxy is in front."""
    base = public_url.rstrip("/") if public_url else f"{scheme}://{host}"
    return base + path + (f"?{query}" if query else "")


class WebhookFastPath:
    """ASGI middleware: webhook POSTs are answered here, everything else (lifespan
    included) goes on to ``app``."""

    def __init__(self, app: ASGIApp, intake: Intake, max_body: int, public_url: str | None) -> None:
        self.app = app
        self.intake = intake
        self.max_body = max_body
        self.public_url = public_url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        integration = webhook_integration(path)
        if scope["type"] != "http" or scope["method"] != "POST" or integration is None:
            await self.app(scope, receive, send)
            return
        headers = Headers.from_raw(scope["headers"])  # every copy of a repeated header
        try:
            body = await read_body(receive, headers.get("content-length"), self.max_body)
        except BodyTooLarge as exc:
            answer = webhook_too_large(self.intake, integration, self.max_body, exc.size, path)
            await send_answer(send, answer)
            return
        except ClientGone as exc:  # nobody to answer; the vendor sends it again whole
            of = f" of {exc.declared}" if exc.declared else ""
            log.warning(
                "webhook %s: the client closed the connection after %d%s bytes of the body; "
                "nothing was kept (a vendor sends an unanswered webhook again)",
                integration,
                exc.received,
                of,
            )
            return
        host = headers.get("host") or "{}:{}".format(*(scope.get("server") or ("localhost", 80)))
        query = scope.get("query_string", b"").decode("latin-1")
        uri = public_uri(scope.get("scheme", "http"), host, path, query, self.public_url)
        request = WebhookRequest("POST", uri, headers, body)
        await send_answer(send, await answer_webhook(self.intake, integration, request, path))


def webhook_integration(path: str) -> str | None:
    """The integration a webhook path names: ``/webhooks/NAME``, or ``/webhooks/NAME/`` (a
    trailing slash is taken the same, never redirected: vendors do not follow redirects on
    POST); None for any other path."""
    if not path.startswith(PREFIX):
        return None
    name = path[len(PREFIX) :]
    name = name[:-1] if name.endswith("/") else name
    return name if name and "/" not in name else None


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """The request body, refused (BodyTooLarge) as soon as it is known to be over ``limit``:
    before reading when ``Content-Length`` says so, else while reading; ClientGone when the
    client closes the connection before its last part."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(declared)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # before the last part: not the body
            raise ClientGone(size, declared)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {limit}")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_answer(send: Send, answer: Answer) -> None:
    """Send ``answer`` as the whole response (plain ASGI)."""
    headers = [
        (b"content-type", answer.media_type.encode()),
        (b"content-length", str(len(answer.body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
