"""Log lines: every line of a process through one handler on stderr, as text or one JSON
object per line (:func:`configure_logging`), with what may be a secret kept out — query
parameters whose names say so (:func:`redacted_path`) and the values of the secrets the
process knows, whatever they are called (:func:`hide`: tokens, passwords, the integrations'
webhook secrets, HubSpot's token) — and a loop's failures and its recovery in a line each
(:class:`Recovery`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from leadsync.observability import process_name


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ms), ``level``, ``logger``, ``message``,
    ``process`` (:func:`process_name`), ``pid``; ``exc`` (the traceback, as one string) only when the record carries one —
    a defect; uvicorn's access lines add ``client``, ``method``, ``path``, ``status``."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self.process = process or process_name()

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        line: dict[str, Any] = {
            "ts": f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.process,
            "pid": record.process,
        }
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            client, method, path, _version, status = args
            line.update(client=client, method=method, path=path, status=status)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


# Words that say a name holds a secret: a query parameter (``/webhooks/aircall?token=…``,
# ``/api/inbox?access_token=…``), a field of a body (``api_key``).
_SECRET_WORDS = "token|secret|key|pass|sig|auth|credential|session"
_SECRET_PARAM = re.compile(rf"([?&][^=&#]*(?:{_SECRET_WORDS})[^=&#]*=)[^&#]*", re.IGNORECASE)


def names_a_secret(name: str) -> bool:
    """Whether a name says it may hold a secret: its value is never logged nor answered."""
    return re.search(_SECRET_WORDS, name, re.IGNORECASE) is not None


def redacted_path(path: str) -> str:
    """A request's path and query for a log line, secret-looking parameters ``[redacted]``."""
    return _SECRET_PARAM.sub(r"\1[redacted]", path) if "?" in path else path


class _RedactQuery(logging.Filter):
    """uvicorn's access lines with :func:`redacted_path` (text and JSON alike)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            path = args[2]
            if isinstance(path, str) and "?" in path:
                record.args = (args[0], args[1], redacted_path(path), args[3], args[4])
        return True


# The values of the secrets this process knows (hide), longest first: never written in a log
# line. Replaced whole under the lock, read without it.
_HIDDEN: tuple[str, ...] = ()
_HIDDEN_LOCK = threading.Lock()
#: Shorter values are not hidden: a few characters would blank ordinary words of every line
#: (leadsync refuses tokens that short where it checks them).
MIN_HIDDEN = 8
HIDDEN = "[secret]"


def hide(*values: str | None) -> None:
    """Keep these values out of every log line from now on, whatever carries them: a
    message, its arguments, a traceback, a request's path (a webhook secret sent under a
    parameter named ``x``, the admin token in a mistyped path)."""
    global _HIDDEN
    fresh = {v for v in values if v and len(v) >= MIN_HIDDEN}
    if not fresh <= set(_HIDDEN):
        with _HIDDEN_LOCK:
            _HIDDEN = tuple(sorted(fresh | set(_HIDDEN), key=len, reverse=True))


def without_secrets(text: str) -> str:
    """``text`` with every value :func:`hide` was given replaced, longest first."""
    for value in _HIDDEN:
        if value in text:
            text = text.replace(value, HIDDEN)
    return text


class _Hiding(logging.Formatter):
    """A formatter's whole line (message, traceback, fields) through :func:`without_secrets`."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return without_secrets(self.inner.format(record))


def what_changed(before: Mapping[str, Any], after: Mapping[str, Any]) -> str | None:
    """The names added, changed and removed between two readings of named settings (the
    integrations), in words for a log line; None when nothing changed."""
    said = [
        f"{label} " + ", ".join(names)
        for label, names in (
            ("added", sorted(after.keys() - before.keys())),
            ("changed", sorted(n for n in after.keys() & before.keys() if after[n] != before[n])),
            ("removed", sorted(before.keys() - after.keys())),
        )
        if names
    ]
    return "; ".join(said) or None


class Recovery:
    """A loop's failures end in one line when it works again (``worker: working again after
    27 s; 3 tries failed``): without it, a log ended on ``database unavailable; retrying``
    whether the outage lasted or not."""

    def __init__(
        self, logger: logging.Logger, what: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log, self._what, self._clock = logger, what, clock
        self._since: float | None = None
        self._failed = 0

    def failed(self) -> None:
        if self._since is None:
            self._since = self._clock()
        self._failed += 1

    def ok(self) -> None:
        if self._since is None:
            return
        self._log.warning(
            "%s: working again after %.0f s; %d tr%s failed",
            self._what,
            self._clock() - self._since,
            self._failed,
            "y" if self._failed == 1 else "ies",
        )
        self._since, self._failed = None, 0


TEXT_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler on whatever ``sys.stderr`` is when a line is written, not the stream it was
    when the handler was made: a caller that swaps stderr for a while (a test runner, a CLI
    run in-process) and closes its stand-in does not leave later lines — another thread's —
    writing to a closed file."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """StreamHandler sets it when made; the stream is always the current stderr."""


def configure_logging(fmt: str = "text", level: str = "info", process: str | None = None) -> None:
    """Every log line of the process — leadsync's and uvicorn's (run it with
    ``log_config=None``) — through one handler on stderr, as text or JSON (``fmt``).
    Calling it again replaces the handler it installed."""
    handler = _Stderr()
    handler.set_name("leadsync")
    handler.addFilter(_RedactQuery())
    if fmt == "json":
        handler.setFormatter(_Hiding(JsonFormatter(process)))
    else:
        text = logging.Formatter(TEXT_FORMAT, "%Y-%m-%dT%H:%M:%S")
        text.converter = time.gmtime  # UTC, like every time leadsync writes
        handler.setFormatter(_Hiding(text))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "leadsync"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(_level(level))
    # Alembic says which dialect it migrates at every start, httpx every request the push
    # sends to HubSpot (up to 19 a second): below debug, only their warnings are news.
    quiet = root.level > logging.DEBUG
    for chatty in ("alembic", "httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING if quiet else logging.NOTSET)
    for name in _UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True


def _level(level: str) -> int:
    value = logging.getLevelName(level.upper())
    if level.lower() == "trace":  # uvicorn's own level, below debug
        return 5
    return value if isinstance(value, int) else logging.INFO
