"""``leadsync dead-letters list|show|dismiss|retry``: events that could not be read or applied,
and what a person decided about each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import (
    JsonOption,
    check_integration,
    dead_letters_app,
    handle_errors,
    limit_option,
    user_name,
    workspace,
)
from leadsync.errors import UserError
from leadsync.model import display_ts
from leadsync.ops import listings
from leadsync.ops.deadletters import dismiss_hint, pretty_body
from leadsync.results import counted
from leadsync.values import LARGEST_ID

DISMISSED_SHOWN = 20  # ids of dismissed letters named in the text; --json has them all


DEFAULT_LIMIT = 100


@dead_letters_app.command("list")
def dead_letters_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    limit: Annotated[int, limit_option("At most this many, newest first.")] = DEFAULT_LIMIT,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Also those already retried or dismissed.")
    ] = False,
    before: Annotated[
        int | None,
        typer.Option(min=1, max=LARGEST_ID, help="The next page: letters older than this id."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The newest dead letters: where each came from and why it failed; with --all, those
    retried or dismissed too (by whom, when, and why). When more are older than the last one
    listed, says so, with the command that lists them."""
    with workspace() as ws:
        check_integration(ws, integration)
        rows = listings.dead_letters(ws.engine, integration, limit + 1, include_resolved, before)
    more, rows = len(rows) > limit, rows[:limit]
    if as_json:
        render.print_json(rows)
        return
    render.table(
        ("id", "integration", "received", "where", "error", "state"),
        (
            (
                str(r["id"]),
                r["integration"],
                display_ts(r["received_at"]),
                f"{r['source'] or ''}:{r['line_no']}" if r["line_no"] else (r["source"] or ""),
                r["error"],
                _letter_state(r),
            )
            for r in rows
        ),
        fold=True,
        empty=render.nothing(
            "dead letters" if include_resolved else "open dead letters", integration, before
        ),
    )
    if rows:
        render.note(f"one letter whole, with its body: leadsync dead-letters show {rows[0]['id']}")
    if more:  # a page: the rest are a command away
        render.note(
            f"… more are older: leadsync dead-letters list --before {rows[-1]['id']}"
            + (f" --integration {integration}" if integration else "")
            + (f" --limit {limit}" if limit != DEFAULT_LIMIT else "")
            + (" --all" if include_resolved else "")
        )


@dead_letters_app.command("show")
def dead_letters_show(
    letter_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """One dead letter: where it came from, why it failed, its state and its body as kept
    (secrets redacted; JSON indented), with the commands that resolve it."""
    with workspace() as ws:
        letter = ws.dead_letter(letter_id)
    if as_json:
        render.print_json(letter)
        return
    where = letter["source"] or ""
    if letter["line_no"]:
        where += f":{letter['line_no']}"
    facts = [
        ("integration", letter["integration"]),
        ("received", display_ts(letter["received_at"])),
        ("where", where or "-"),
        ("event id", letter["event_id"] or "-"),
        ("state", _letter_state(letter)),
        ("error", letter["error"]),
    ]
    render.line(f"dead letter {letter['id']}")
    for name, value in facts:
        render.line(f"  {name + ':':<12} {value}")
    render.line("body (as kept: secrets redacted):")
    render.line(pretty_body(letter["raw"] or ""))
    if letter["state"] == "open":
        render.note(
            f"retry it under the current settings with leadsync dead-letters retry "
            f"{letter['id']}, or {dismiss_hint(letter['id'])}"
        )


def _letter_state(letter: Mapping[str, Any]) -> str:
    if letter["state"] == "open":
        return "open"
    when = f"{display_ts(letter['resolved_at'])} by {letter['resolved_by'] or 'unknown'}"
    if letter["state"] == "dismissed":
        return f"dismissed {when}: {letter['dismissed_reason']}"
    return f"retried {when}: {letter['resolution']}"


@dead_letters_app.command("dismiss")
def dead_letters_dismiss(
    letter_ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="[ID]...", help="The letters to dismiss (or --all).", min=1),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every open letter (of --integration, if given).")
    ] = False,
    reason: Annotated[
        str, typer.Option(help="Why (kept with each letter).", show_default=False)
    ] = "",
    integration: Annotated[
        str | None, typer.Option(help="With --all: only this integration's letters.")
    ] = None,
    by: Annotated[
        str | None, typer.Option(help="Who dismisses them (default: your user name).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Dismiss dead letters that cannot be fixed: they are kept and listed as dismissed (with
    the reason, who and when) and no longer count in the report's dead-letter alert."""
    with handle_errors():
        if bool(letter_ids) == every:
            raise UserError("give the IDs of the letters to dismiss, or --all (not both)")
        if integration is not None and not every:
            raise UserError("--integration goes with --all")
        if not reason.strip():
            given = "blank" if reason else "missing"
            raise UserError(
                f"--reason is {given}; allowed: some text, why the letters cannot be fixed (kept with each)"
            )
    with workspace() as ws:
        check_integration(ws, integration)
        dismissed = ws.dismiss_dead_letters(
            None if every else letter_ids, reason, by or user_name(), integration
        )
    if as_json:
        render.print_json(
            {"dismissed": dismissed, "count": len(dismissed), "reason": reason.strip()}
        )
        return
    if not dismissed:
        render.line("no open dead letters to dismiss")
        return
    shown = ", ".join(map(str, dismissed[:DISMISSED_SHOWN]))
    more = " …" if len(dismissed) > DISMISSED_SHOWN else ""
    render.line(f"dismissed {counted(len(dismissed), 'dead letter')} ({shown}{more})")


@dead_letters_app.command("retry")
def dead_letters_retry(
    letter_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """Put a dead letter back in the inbox under the current settings and apply it."""
    with workspace() as ws:
        result = ws.retry_dead_letter(letter_id, by=user_name(), apply=True)
    if as_json:
        render.print_json(result)
        if result.failed_again:
            raise typer.Exit(2)
        return
    applied = counted(result.applied or 0, "event")  # set: the CLI applies at once
    render.line(f"dead letter {letter_id}: {result.resolution}; applied {applied}")
    for failure in result.failed_again:
        render.line(f"failed again (a new dead letter): {failure}")
    if result.failed_again:
        raise typer.Exit(2)  # as ingest does when an event becomes a dead letter
