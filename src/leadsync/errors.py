"""Every error leadsync raises on purpose, in one place.

::

    LeadsyncError
    ├── UserError                 the caller can fix it; the CLI exits with code 2
    │   ├── ConfigError           a settings file or document: file:line, key path, allowed values
    │   ├── EventError            one event (line) that cannot be read; it goes to a dead letter
    │   ├── NotFoundError         an unknown record, owner or integration
    │   ├── SignatureError        a webhook request that is not authentic (or cannot be checked)
    │   └── WorkspaceError        the workspace is in a state that forbids the request
    └── TransientError            retrying later may succeed (database unreachable, lock timeout)

A message always names the input, the place and what is allowed. Secrets never appear in one.
"""

from __future__ import annotations


class LeadsyncError(Exception):
    """Base of every error leadsync raises on purpose."""


class UserError(LeadsyncError):
    """Bad input or a request that cannot be honoured; the caller can fix it."""


class ConfigError(UserError):
    """A settings document is invalid. ``problems`` lists every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class EventError(UserError):
    """One event cannot be read. ``where`` is the place (``file:line`` or an inbox position)."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        self.detail = message
        super().__init__(f"{where}: {message}" if where else message)


class NotFoundError(UserError):
    """An unknown record, owner or integration."""


class SignatureError(UserError):
    """A webhook request is not authentic or cannot be checked. The message says why and never
    holds a secret or a signature."""


class WorkspaceError(UserError):
    """The workspace cannot serve the request in its current state."""


class TransientError(LeadsyncError):
    """A failure that may pass: the same call can be retried."""
