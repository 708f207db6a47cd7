"""Retrying and dismissing dead letters: the checks, and the words when one cannot be
retried. A letter is kept either way, marked resolved (:mod:`leadsync.store.deadletters`)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import Field
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules
from leadsync.errors import EventError, NotFoundError, UserError, WorkspaceError
from leadsync.model import now_ts
from leadsync.pipeline import inbox
from leadsync.results import ResultModel
from leadsync.sources.hygiene import representable
from leadsync.store import deadletters as dead_letter_store
from leadsync.store import views
from leadsync.store.database import begin_writing
from leadsync.workspace_config import integration_settings

# The CLI commands the workspace's messages point to where a person acts: one spelling,
# which the console (web/console.CLI_HINTS) turns into links to its own pages.
REVIEW_HINT = "(leadsync review list)"
DEAD_LETTERS_HINT = (
    "(leadsync dead-letters list; one that cannot be fixed: leadsync dead-letters dismiss ID "
    "--reason TEXT)"
)
READD_HINT = "configure it again (leadsync apply)"
PUSH_FAILURES_HINT = "(leadsync push failures list)"


class RetryResult(ResultModel):
    """A dead letter put back in the inbox (the JSON of ``dead-letters retry --json`` and of
    the admin API's retry)."""

    id: int
    integration: str
    resolution: str = Field(description="How it went back: set pending again, or read again.")
    applied: int | None = Field(
        None,
        description="Events the inbox applied right after the retry (the CLI applies at "
        "once); null when a worker applies it.",
    )
    failed_again: list[str] = Field(
        default_factory=list,
        description="Applied at once: the errors of the events that failed again (each a "
        "new dead letter); empty when a worker applies it.",
    )

    def record_applied(self, summary: inbox.IngestSummary) -> None:
        """What applying the inbox right after the retry did."""
        self.applied = summary.events
        self.failed_again = [f"{f.where}: {f.error}" for f in summary.failed.items]


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _who(by: str | None) -> str:
    """Who resolved a dead letter, as stored (one line of at most 200 characters)."""
    return representable(_CONTROL.sub(" ", by or "").strip() or "unknown")[:200]


def dismiss_hint(letter_id: int) -> str:
    """How a refused retry says to dismiss the letter (a face may point to its own way
    instead: the console to its Dismiss form)."""
    return f"dismiss it with leadsync dead-letters dismiss {letter_id} --reason TEXT"


def pretty_body(text: str) -> str:
    """A stored body for reading (the console's page, ``dead-letters show``): indented when
    it is JSON, else as stored."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _check_open(letter: dict[str, Any]) -> None:
    """WorkspaceError for a dead letter already retried or dismissed."""
    if letter["state"] == "dismissed":
        raise WorkspaceError(
            f"dead letter {letter['id']} was dismissed at {letter['resolved_at']} by "
            f"{letter['resolved_by'] or 'unknown'}: {letter['dismissed_reason']}"
        )
    if letter["state"] == "retried":
        raise WorkspaceError(
            f"dead letter {letter['id']} was already retried at "
            f"{letter['resolved_at']} ({letter['resolution']})"
        )


def _cannot_retry(letter: dict[str, Any], detail: str) -> str:
    """Why a dead letter cannot be retried, in plain words: what is wrong with it, that it
    came so (a retry reads the same text again), and how to dismiss it."""
    what = f"its {detail}" if detail.startswith("body ") else f"it still cannot be read: {detail}"
    if inbox.from_webhook(letter["source"]):
        origin = "the vendor sent it so"
    elif letter["line_no"] is not None:
        origin = f"so it was at {letter['source'] or 'line'}:{letter['line_no']}"
    else:
        origin = "it was received so"
    return (
        f"dead letter {letter['id']} cannot be retried: {what} ({origin}); "
        f"{dismiss_hint(int(letter['id']))}"
    )


def retry(engine: Engine, rules: WorkspaceRules, letter_id: int, by: str | None) -> RetryResult:
    """See :meth:`leadsync.workspace.Workspace.retry_dead_letter`."""
    with begin_writing(engine) as connection:
        letter = views.dead_letter(connection, letter_id)
        if letter is None:
            raise NotFoundError(f"no dead letter with id {letter_id}")
        _check_open(letter)
        integration = letter["integration"]
        try:
            integration_settings(rules, integration)
        except NotFoundError as exc:
            raise NotFoundError(
                f"dead letter {letter_id} cannot be retried: {exc}; {READD_HINT}, or "
                f"{dismiss_hint(letter_id)}"
            ) from None
        try:
            resolution = inbox.requeue(connection, rules, letter)
        except EventError as exc:
            raise EventError(_cannot_retry(letter, exc.detail)) from None
        dead_letter_store.mark_retried(connection, letter_id, now_ts(), resolution, _who(by))
    return RetryResult(id=letter_id, integration=integration, resolution=resolution)


def dismiss(
    engine: Engine,
    ids: Sequence[int] | None,
    reason: str,
    by: str | None = None,
    integration: str | None = None,
) -> list[int]:
    """See :meth:`leadsync.workspace.Workspace.dismiss_dead_letters`."""
    text = representable(reason).strip()
    if not text:
        raise UserError("a dismissal needs a reason (some text); it is kept with the letter")
    with begin_writing(engine) as connection:
        if ids is not None:
            for letter_id in sorted(set(ids)):
                letter = views.dead_letter(connection, letter_id)
                if letter is None:
                    raise NotFoundError(f"no dead letter with id {letter_id}")
                _check_open(letter)
        chosen = views.open_dead_letter_ids(connection, ids, integration)
        marked = dead_letter_store.mark_dismissed(connection, chosen, now_ts(), _who(by), text)
        for letter_id in sorted(set(ids or ()) - marked):  # closed by another meanwhile
            closed = views.dead_letter(connection, letter_id)
            if closed is not None:
                _check_open(closed)  # says who closed it, when and why
            raise WorkspaceError(f"dead letter {letter_id} was closed meanwhile")
    return sorted(marked)
