"""Webhook intake: from an HTTP request to committed inbox rows, before the vendor's 2xx.

:class:`Intake` checks a request (integration known, body size, content type, authenticity),
cuts it into the vendor's single events with the integration's adapter, and hands the rows to
a :class:`GroupCommitWriter`. The writer commits the rows of every request that arrived while
the previous commit was running in ONE transaction (group commit): each request still waits
for its own rows to be durable, but a commit (an fsync) serves many requests. A group whose
commit fails for something in its rows (not the database being away) is committed again in
halves, down to the one request that cannot be stored: that one is kept as a dead letter and
answered 400, and the others are committed. One request's bytes never fail another's.

Nothing here knows HTTP frameworks: the service (:mod:`leadsync.api`) turns an
:class:`IntakeError` into a problem+json answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.errors import EventError, SignatureError
from leadsync.model import now_ts
from leadsync.observability import database_outage
from leadsync.pipeline import inbox, rejected
from leadsync.pipeline.configured import Configured, Found
from leadsync.pipeline.input_file import MAX_LINE_BYTES
from leadsync.pipeline.outage import OutageLog, RefusalLog
from leadsync.sources.base import Adapter, WebhookRequest, envelope_text
from leadsync.sources.hygiene import representable
from leadsync.store.database import begin_writing
from leadsync.store.inbox import PENDING, Appender
from leadsync.store.sqlite_file import broken_file

log = logging.getLogger("leadsync.intake")

SOURCE = inbox.WEBHOOK  # the source of a request kept whole as a dead letter

DEFAULT_MAX_BODY = MAX_LINE_BYTES  # 8 MiB: a body as long as the longest line ingest reads
"""Largest webhook body accepted, in bytes: what vendors send in one delivery fits — a
HubSpot batch of 100 property changes of long text (a value runs to 65,536 characters: one of
100 events of 11,000 came to 1.1 MB), Salesforce's 100 notifications of a Task description."""


class IntakeError(Exception):
    """A request refused before anything was stored: HTTP status, a short title and a detail
    a vendor's delivery log can show. Never holds a secret."""

    def __init__(
        self, status: int, title: str, detail: str, keep: Callable[[], None] | None = None
    ) -> None:
        detail = representable(detail)  # it may quote the body; JSON must be able to hold it
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        # Keeps the authentic request refused as a dead letter (a database write): run before
        # the answer, off the event loop where there is one (Intake.check_async).
        self.keep = keep


class WriterStopped(RuntimeError):
    """A request came while the group-commit writer is not running (the service stopping)."""


@dataclass(slots=True)
class Receipt:
    """What a request added: rows new to the inbox, and redeliveries it already held; the
    events of it that could not be identified (index, error), each kept as a dead letter."""

    integration: str
    accepted: int
    duplicates: int
    ack: tuple[str, bytes] | None = None
    refused: tuple[tuple[int, str], ...] = ()


UNKNOWN_INTEGRATION = "(unknown)"
"""How :attr:`Intake.on_request` names a request for no configured integration (a 404):
never the path's text, so a scan of made-up names adds no label to the metrics."""


class Intake:
    """Checks and stores webhook requests. ``environ`` supplies secrets (``secret_env``),
    ``clock`` the time for signature windows; both are parameters so that tests pass their
    own. ``on_request(integration, status)``, when set, is called once for every webhook
    request answered (:func:`leadsync.api.webhooks.answer_webhook`): accepted, duplicate,
    refused (4xx), 503; ``integration`` is :data:`UNKNOWN_INTEGRATION` for a name not
    configured. The group commits' hook is the writer's (``GroupCommitWriter(on_commit=…)``).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        writer: GroupCommitWriter | None = None,
        on_request: Callable[[str, int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_body = max_body
        self.environ = environ if environ is not None else os.environ
        self.clock = clock
        self.integrations = Configured(engine, database_unavailable, environ=self.environ)
        self.refusals = RefusalLog(log)
        self.writer = writer or GroupCommitWriter(engine)
        self.on_request = on_request

    def label(self, integration: str) -> str:
        """``integration`` if it is configured (as last read), else
        :data:`UNKNOWN_INTEGRATION`: the name :attr:`on_request` is given."""
        return integration if integration in self.integrations.adapters else UNKNOWN_INTEGRATION

    def start(self) -> None:
        self.writer.start()
        for problem in self.secret_problems():
            log.warning("%s", problem)

    def secret_problems(self) -> list[str]:
        """Integrations whose webhooks will be refused for want of a secret: no
        ``secret_env``, or a variable that is not set (names only, never values)."""
        self.integrations.refresh()
        problems = []
        for name in sorted(self.integrations.secret_env):
            env = self.integrations.secret_env[name]
            if env is None:
                if self.integrations.adapters[name].secret_required:
                    problems.append(
                        f"integration {name}: no secret_env, so its webhooks are refused (401)"
                    )
            elif not self.environ.get(env):
                adapter = self.integrations.adapters[name]
                refused = (
                    "webhooks are refused (401)"
                    if adapter.secret_required
                    else "webhooks that need it are refused (401); the others are checked "
                    f"otherwise ({adapter.signature_scheme})"
                )
                problems.append(
                    f"integration {name}: environment variable {env} is not set, so its {refused}"
                )
        return problems

    def stop(self) -> None:
        self.writer.stop()

    def reload_settings(self) -> None:
        """The configuration changed in this process: read it before the next request."""
        self.integrations.invalidate()

    def check(
        self, integration: str, request: WebhookRequest
    ) -> tuple[list[inbox.InboxItem], tuple[str, bytes] | None]:
        """Verify and cut one request into inbox items, with the vendor's own success answer
        when it needs one; IntakeError (404, 413, 400, 415, 401) when refused. Events of it
        that cannot be identified are kept as dead letters (:mod:`.rejected`)."""
        cut = self._checked(integration, request)
        return cut.items, cut.ack

    def _checked(self, integration: str, request: WebhookRequest) -> _Cut:
        """:meth:`_check`, its dead letters written here and now."""
        try:
            cut = self._check(integration, request, self.integrations.get(integration))
        except IntakeError as exc:
            if exc.keep is not None:
                exc.keep()
            raise
        if cut.dead_letters is not None:
            cut.dead_letters()
        return cut

    async def check_async(self, integration: str, request: WebhookRequest) -> _Cut:
        """:meth:`_check` for an event loop: the dead letters a refusal or refused events
        keep are written in a thread (the database may make them wait; the loop answers
        other requests, /healthz among them, meanwhile), before the answer."""
        found = await self.integrations.current(integration)
        try:
            cut = self._check(integration, request, found)
        except IntakeError as exc:
            if exc.keep is not None:
                await asyncio.to_thread(exc.keep)
            raise
        if cut.dead_letters is not None:
            await asyncio.to_thread(cut.dead_letters)
        return cut

    def _check(self, integration: str, request: WebhookRequest, found: Found | None) -> _Cut:
        if found is None:
            shown = integration if len(integration) <= 100 else integration[:100] + "…"
            raise IntakeError(404, "Unknown integration", f"no integration named {shown!r}")
        adapter, secret_env = found
        if len(request.body) > self.max_body:
            raise IntakeError(
                413,
                "Body too large",
                f"the body has {len(request.body)} bytes; at most {self.max_body} are accepted",
            )
        conflicting = getattr(request.headers, "conflicting", None)
        repeated = conflicting(("content-type", *adapter.kept_headers)) if conflicting else []
        if repeated:
            raise IntakeError(
                400,
                "Malformed request",
                f"header {repeated[0]} is given more than once with different values; "
                "allowed: one value (identical copies are fine)",
            )
        encoding = request.headers.get("content-encoding")
        if encoding and encoding.strip().lower() != "identity":  # else a "bad signature"
            raise IntakeError(
                415,
                "Unsupported media type",
                f"header Content-Encoding: {encoding[:40]} is not accepted; allowed: identity "
                "(send the body uncompressed)",
            )
        if request.content_type not in adapter.content_types:
            given = (
                f"content type {request.content_type!r} is not accepted"
                if request.content_type
                else "header Content-Type is missing"
            )
            raise IntakeError(
                415,
                "Unsupported media type",
                f"{given} for {adapter.kind}; allowed: " + ", ".join(adapter.content_types),
            )
        secret = self.environ.get(secret_env) if secret_env else None
        try:
            adapter.verify(request, secret, self.clock())
        except SignatureError as exc:
            raise IntakeError(exc.http_status, exc.title, str(exc)) from None
        except EventError as exc:
            raise IntakeError(400, "Malformed body", str(exc)) from None
        except Exception as exc:  # a defect of ours met by this body: refused, never a 500
            rejected.log_defect(integration, "checking", exc)
            raise IntakeError(
                400, "Malformed body", rejected.defect_detail(exc, kept=False)
            ) from None
        try:
            pieces, refused = adapter.cut(request)
            acknowledgement = adapter.acknowledge(pieces)
        except Exception as exc:  # EventError, or a defect of ours met by an authentic body
            if isinstance(exc, EventError):
                detail = str(exc)
            else:
                rejected.log_defect(integration, "reading", exc)
                detail = rejected.defect_detail(exc, kept=True)
            keep = partial(
                rejected.keep_request, self.engine, integration, adapter, request, detail
            )
            raise IntakeError(400, "Malformed body", detail, keep) from None
        items = inbox.pieces_to_items(pieces, len(pieces) + len(refused))
        # good events beside them go in; these are kept before the answer
        letters = (
            partial(rejected.keep_refused, self.engine, integration, adapter, refused)
            if refused
            else None
        )
        errors = tuple((element.index, element.error) for element in refused)
        return _Cut(items, acknowledgement, adapter, request, errors, letters)

    def receive(
        self, integration: str, request: WebhookRequest
    ) -> concurrent.futures.Future[Receipt]:
        """Check a request and queue its rows for the next group commit. The future resolves
        once they are committed (or raises); IntakeError is raised at once for a refusal."""
        cut = self._checked(integration, request)
        return self.writer.submit(integration, cut.items, cut.ack, cut.keep, cut.refused)

    def submit_async(self, integration: str, cut: _Cut) -> asyncio.Future[Receipt]:
        """Queue a request :meth:`check_async` checked, for an event loop: the asyncio future
        is settled from the writer with one loop wake-up per commit, however many requests
        it carried."""
        return self.writer.submit_async(integration, cut.items, cut.ack, cut.keep, cut.refused)


@dataclass(slots=True)
class _Cut:
    """A checked request: its inbox items, the vendor's success answer, and the events of it
    that could not be identified (index, error: kept as dead letters by ``dead_letters``
    before the request is answered)."""

    items: list[inbox.InboxItem]
    ack: tuple[str, bytes] | None
    adapter: Adapter
    request: WebhookRequest
    refused: tuple[tuple[int, str], ...]
    # Writes the refused events' dead letters (before the answer); None when none.
    dead_letters: Callable[[], None] | None = None

    def keep(self) -> str:
        """How the writer keeps this request as a dead letter should its rows be refused."""
        return rejected.request_text(self.adapter, self.request)


# ------------------------------------------------------------------ group commit


@dataclass(slots=True)
class _Job:
    integration: str
    items: Sequence[inbox.InboxItem]
    ack: tuple[str, bytes] | None
    future: concurrent.futures.Future[Receipt] | None = None
    waiter: asyncio.Future[Receipt] | None = None
    # The request as a dead letter's raw text, should its rows be refused (see _write).
    keep: Callable[[], str] | None = None
    refused: tuple[tuple[int, str], ...] = ()  # its events kept as dead letters (Receipt)

    def kept_text(self) -> str:
        if self.keep is not None:
            return self.keep()
        return envelope_text({}, [item.payload for item in self.items])


class GroupCommitWriter:
    """One thread that commits queued requests' rows together.

    It takes every job waiting (up to ``max_group``), appends their rows in one transaction
    through the bare driver (:class:`~leadsync.store.inbox.Appender`: on PostgreSQL one
    statement, no lock but the new rows'), then resolves each job's future. Under load the
    group grows by itself: the longer a commit takes, the more requests the next one carries.

    Hooks, each called in the writer's thread after a commit's requests are answered, and
    costing nothing when unset: ``wake()`` after a commit that stored something (the service
    wakes its worker with it); ``on_commit(seconds, rows)`` after every commit, with how long
    the commit took and how many rows it added (metrics). A no-argument ``on_commit`` (the
    older form) is taken as ``wake``.
    """

    def __init__(
        self,
        engine: Engine,
        max_group: int = 1000,
        on_commit: Callable[[float, int], None] | Callable[[], None] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.max_group = max_group
        self.appender = Appender(engine)
        self.wake = wake
        self.on_commit = on_commit
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._timings: list[tuple[float, int]] = []
        self.groups = 0
        self.jobs = 0
        self.outage = OutageLog(log, "intake")  # the request path reports through it too

    @property
    def on_commit(self) -> Callable[[float, int], None] | None:
        return self._on_commit

    @on_commit.setter
    def on_commit(self, hook: Callable[[float, int], None] | Callable[[], None] | None) -> None:
        self._on_commit: Callable[[float, int], None] | None = None
        if hook is not None and _takes_no_argument(hook):
            self.wake = hook  # type: ignore[assignment]
        else:
            self._on_commit = hook  # type: ignore[assignment]

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="leadsync-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            self.appender.close()
            log.info("writer: %d requests committed in %d groups", self.jobs, self.groups)

    def submit(
        self,
        integration: str,
        items: Sequence[inbox.InboxItem],
        ack: tuple[str, bytes] | None,
        keep: Callable[[], str] | None = None,
        refused: tuple[tuple[int, str], ...] = (),
    ) -> concurrent.futures.Future[Receipt]:
        """Queue a request's rows; ``keep`` gives its dead-letter text should they be refused;
        ``refused``: its events kept as dead letters already, for the receipt."""
        future: concurrent.futures.Future[Receipt] = concurrent.futures.Future()
        self._put(_Job(integration, items, ack, future=future, keep=keep, refused=refused))
        return future

    def submit_async(
        self,
        integration: str,
        items: Sequence[inbox.InboxItem],
        ack: tuple[str, bytes] | None,
        keep: Callable[[], str] | None = None,
        refused: tuple[tuple[int, str], ...] = (),
    ) -> asyncio.Future[Receipt]:
        """Like :meth:`submit`, from a coroutine: returns a future of the running loop."""
        waiter: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._put(_Job(integration, items, ack, waiter=waiter, keep=keep, refused=refused))
        return waiter

    def _put(self, job: _Job) -> None:
        if self._thread is None:
            raise WriterStopped("the writer is not running")
        self._queue.put(job)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            while len(jobs) < self.max_group:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            self._commit(jobs)

    def _commit(self, jobs: list[_Job]) -> None:
        outcomes = self._write(jobs)
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Receipt], Any]]] = (
            defaultdict(list)
        )
        for job, outcome in zip(jobs, outcomes, strict=True):
            if job.waiter is not None:
                by_loop[job.waiter.get_loop()].append((job.waiter, outcome))
            elif job.future is not None:
                if isinstance(outcome, BaseException):
                    job.future.set_exception(outcome)
                else:
                    job.future.set_result(outcome)
        for loop, settled in by_loop.items():
            with suppress(RuntimeError):  # the loop closed while we wrote: nobody waits
                loop.call_soon_threadsafe(_settle, settled)
        timings, self._timings = self._timings, []
        if self._on_commit is not None:
            for seconds, rows in timings:
                self._on_commit(seconds, rows)
        if self.wake is not None and any(rows for _, rows in timings):
            self.wake()

    def _write(self, jobs: Sequence[_Job]) -> list[Receipt | BaseException]:
        """Commit the jobs' rows together, one outcome per job.

        When the database is away (see :func:`database_unavailable`) every job fails, with
        one log line: the vendors retry. When the commit fails for something in the rows,
        the group is committed again in halves, down to the one request that cannot be
        stored, which is kept as a dead letter and refused with a 400 (:meth:`_refuse`): the
        others are committed."""
        try:
            started = time.perf_counter()
            receipts, rows = write_jobs(self.appender, jobs)
            self._timings.append((time.perf_counter() - started, rows))
        except Exception as exc:
            if database_unavailable(exc):
                self.outage.away(type(exc).__name__, len(jobs))
                return [exc] * len(jobs)
            if len(jobs) == 1:
                return [self._refuse(jobs[0], exc)]
            log.warning(
                "inbox commit of %d requests refused (%s); committing them in halves",
                len(jobs),
                type(exc).__name__,
            )
            middle = len(jobs) // 2
            first = self._write(jobs[:middle])
            away = [o for o in first if isinstance(o, BaseException) and database_unavailable(o)]
            if away:  # the database went away meanwhile: the rest would fail alike
                return first + [away[0]] * (len(jobs) - middle)
            return first + self._write(jobs[middle:])
        self.groups += 1
        self.jobs += len(jobs)
        self.outage.back()
        return list(receipts)

    def _refuse(self, job: _Job, exc: Exception) -> BaseException:
        """A request the inbox refused on its own: kept as a dead letter, answered 400."""
        reason = _refusal_text(exc)
        log.warning(
            "inbox refused a request for %s (%s); kept as a dead letter",
            job.integration,
            type(exc).__name__,
        )
        detail = f"the inbox cannot store this request ({reason}); it is kept as a dead letter"
        try:
            with begin_writing(self.engine) as connection:
                inbox.record_rejected(connection, job.integration, SOURCE, job.kept_text(), detail)
        except Exception as again:  # not even kept: the vendor must retry
            log.warning("dead letter for %s not kept: %s", job.integration, type(again).__name__)
            return again
        return IntakeError(400, "Malformed body", detail)


def database_unavailable(exc: BaseException) -> bool:
    """The database is away or broken for every request alike, rather than refusing
    something in the rows (a value it cannot hold, a text the driver cannot encode): an
    expected outage, logged in one line and answered 503. It is
    :func:`~leadsync.observability.database_outage` and, wider on purpose, any statement the
    database refuses whatever the rows (``ProgrammingError``, ``InternalError``: a permission
    taken away, a schema older than this code): a loop asks "one line or a traceback?", the
    intake "503, which the vendor retries, or 400 and a dead letter, which it does not?", and
    only a request's own bytes may earn the 400. So is a SQLite file that is not (or no longer)
    a database: "file is not a database", "database disk image is malformed" (SQLite's
    ``SQLITE_NOTADB`` and ``SQLITE_CORRUPT``, a plain ``DatabaseError``), whatever the rows:
    the connection that met it is dropped (:mod:`leadsync.store.sqlite_file`), so once the
    file is restored the next request is stored, without a restart."""
    if database_outage(exc) or isinstance(exc, sa.exc.ProgrammingError | sa.exc.InternalError):
        return True
    return isinstance(exc, sa.exc.DatabaseError) and broken_file(exc)


def _takes_no_argument(hook: Callable[..., Any]) -> bool:
    try:
        inspect.signature(hook).bind(0.0, 0)
    except TypeError:
        return True
    except ValueError:  # no signature to read (a builtin): called with the arguments
        return False
    return False


def _refusal_text(exc: BaseException) -> str:
    """Why the database refused rows, in one short line (never the statement or values)."""
    orig = exc.orig if isinstance(exc, sa.exc.StatementError) and exc.orig else exc
    lines = str(orig).strip().splitlines()
    first = lines[0][:200] if lines else ""
    return representable(f"{type(orig).__name__}: {first}" if first else type(orig).__name__)


def _settle(settled: list[tuple[asyncio.Future[Receipt], Any]]) -> None:
    for waiter, outcome in settled:
        if waiter.done():  # the request went away (client disconnected)
            continue
        if isinstance(outcome, BaseException):
            waiter.set_exception(outcome)
        else:
            waiter.set_result(outcome)


def write_jobs(appender: Appender, jobs: Sequence[_Job]) -> tuple[list[Receipt], int]:
    """Append every job's rows as pending in one committed transaction: one receipt per job,
    and how many rows were added; a row's source names its element of a request of several
    (:func:`~leadsync.pipeline.inbox.webhook_source`; its ``where`` when set: the request
    held events that could not be identified). (A request's items are read by a worker
    later: none carries an ``error`` here.)"""
    at = now_ts()
    rows = [
        inbox.inbox_row(
            job.integration,
            item,
            at,
            item.where or inbox.webhook_source(i, len(job.items)),
            PENDING,
        )
        for job in jobs
        for i, item in enumerate(job.items)
    ]
    seqs = appender.append(rows)
    receipts = []
    start = added = 0
    for job in jobs:
        end = start + len(job.items)
        accepted = len(job.items) - seqs[start:end].count(None)
        duplicates = end - start - accepted
        receipts.append(Receipt(job.integration, accepted, duplicates, job.ack, job.refused))
        added += accepted
        start = end
    return receipts, added
