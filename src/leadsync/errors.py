"""Every error leadsync raises on purpose, in one place.

::

                                  exit  HTTP
    LeadsyncError                  1    500 Internal error
    ├── UserError                  2    400 Bad request       the caller can fix it
    │   ├── ConfigError            2    422 Invalid settings  a settings file or document:
    │   │                                                     file:line, key path, allowed values
    │   ├── EventError             2    422 Cannot be read    one event (line) that cannot be
    │   │                                                     read; it goes to a dead letter
    │   ├── NotFoundError          2    404 Not found         an unknown record, owner or
    │   │                                                     integration
    │   ├── SignatureError         2    401 Not authentic     a webhook request that is not
    │   │                                                     authentic (or cannot be checked)
    │   └── WorkspaceError         2    409 Conflict          the workspace is in a state that
    │                                                         forbids the request
    └── TransientError             1    503 Service unavailable: retrying later may succeed
                                                              (database unreachable, lock timeout)

Each class declares, once, what the faces answer with it: :attr:`~LeadsyncError.exit_code`
(the CLI), :attr:`~LeadsyncError.http_status` and :attr:`~LeadsyncError.title` (the HTTP API's
``application/problem+json``). A subclass elsewhere (the HubSpot client's) inherits them or
declares its own; the CLI and the API each have one handler that reads them.

A message always names the input, the place and what is allowed. Secrets never appear in one.
"""

from __future__ import annotations

from typing import ClassVar


class LeadsyncError(Exception):
    """Base of every error leadsync raises on purpose."""

    #: The CLI's exit code when a command fails with this error.
    exit_code: ClassVar[int] = 1
    #: The HTTP status the API answers with, as ``application/problem+json``.
    http_status: ClassVar[int] = 500
    #: The problem's ``title``: short, the same for every instance.
    title: ClassVar[str] = "Internal error"
    #: The input its messages' places are in (a file, ``<stdin>``), when the CLI said which.
    source: str | None = None

    def messages(self) -> list[str]:
        """What the CLI prints, one ``error:`` line each."""
        return [str(self)]

    def problem_detail(self) -> tuple[str, list[str] | None]:
        """The problem's ``detail`` and, when there are several, its ``problems``."""
        return str(self), None


class UserError(LeadsyncError):
    """Bad input or a request that cannot be honoured; the caller can fix it."""

    exit_code = 2
    http_status = 400
    title = "Bad request"


class ConfigError(UserError):
    """A settings document is invalid. ``problems`` lists every problem found, one per line."""

    http_status = 422
    title = "Invalid settings"

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def messages(self) -> list[str]:
        return list(self.problems)

    def problem_detail(self) -> tuple[str, list[str] | None]:
        """The detail names the first problem (a client that logs only the detail learns
        what and where); ``problems`` lists them all."""
        n = len(self.problems)
        if n == 1:
            return self.problems[0], self.problems
        return f"{n} problems; the first: {self.problems[0]}", self.problems


class EventError(UserError):
    """One event cannot be read. ``where`` is the place (``file:line`` or an inbox position)."""

    http_status = 422
    title = "Cannot be read"

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        self.detail = message
        super().__init__(f"{where}: {message}" if where else message)


class NotFoundError(UserError):
    """An unknown record, owner or integration."""

    http_status = 404
    title = "Not found"


class SignatureError(UserError):
    """A webhook request is not authentic or cannot be checked. The message says why and never
    holds a secret or a signature."""

    http_status = 401
    title = "Not authentic"


class WorkspaceError(UserError):
    """The workspace cannot serve the request in its current state."""

    http_status = 409
    title = "Conflict"


class WorkspaceUpgraded(WorkspaceError):
    """Another leadsync upgraded the workspace's schema past what this one knows: a running
    worker stops rather than write rows the new schema does not expect."""


class TransientError(LeadsyncError):
    """A failure that may pass: the same call can be retried."""

    http_status = 503
    title = "Service unavailable"
