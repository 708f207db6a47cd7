"""``leadsync review list|show|resolve``: the questions the engine would not guess (a number
or an email several contacts have, tied open deals, a rep matching several owners, a held
activity nobody's number came for), and a person's answer to each.

Resolving goes through :meth:`Workspace.resolve_review`: the choice is applied by the engine
and recorded as "resolved by a person" (the command's user is named); this module only reads
options and prints. The errors (an unknown item, one already closed, a record of the wrong
type, ``--choose`` with ``--skip``) are raised by :mod:`leadsync.ops.review` and printed by
the CLI's one handler (exit 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import (
    JsonOption,
    check_integration,
    handle_errors,
    limit_option,
    review_app,
    user_name,
    workspace,
)
from leadsync.errors import UserError
from leadsync.model import display_ts
from leadsync.ops.review import PAGE, STATUSES
from leadsync.ops.settings_change import Actor
from leadsync.values import LARGEST_ID

ALL = "all"
STATUS_CHOICES = (*STATUSES, ALL)
KIND = "kind\nintegration"  # the heading of the column of both, one above the other


def _actor() -> Actor:
    """Who answers, as the decision and the audit log name it (like ``leadsync apply``)."""
    return Actor("admin", f"cli: {user_name()}")


@review_app.command("list")
def review_list(
    status: Annotated[
        str, typer.Option(help=f"Only questions in this state: {', '.join(STATUS_CHOICES)}.")
    ] = "open",
    kind: Annotated[
        str | None,
        typer.Option(help="Only this kind: number, email, deal, owner or unknown."),
    ] = None,
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    limit: Annotated[int, limit_option("At most this many.")] = PAGE,
    after: Annotated[
        int | None,
        typer.Option(min=0, max=LARGEST_ID, help="The page after this id (the footer names it)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The review queue, oldest first: what each question asks and how many candidates it
    has; held activities whose hold ended are queued first."""
    with handle_errors():
        if status not in STATUS_CHOICES:
            raise UserError(
                f"--status {status!r} is not allowed; allowed: {', '.join(STATUS_CHOICES)}"
            )
    with workspace() as ws:
        check_integration(ws, integration)
        page = ws.review_items(
            None if status == ALL else status,
            kind=kind,
            integration=integration,
            limit=limit,
            after=after,
        )
    if as_json:
        render.print_json(page)
        return
    # Every column but the question is short and kept whole, so that the question gets the
    # width left and wraps at word boundaries, even at 80 columns. The subject (named in the
    # question) and the activity are for `review show` and --json.
    columns = ["id", KIND, "question", "candidates", "created"]
    columns += [] if status == "open" else ["status"]
    render.table(
        columns,
        (
            [
                str(item.id),
                f"{item.kind}\n{item.integration}",
                item.question,
                str(len(item.candidates)),
                _date_then_time(item.created_at),
            ]
            + ([] if status == "open" else [item.status])
            for item in page.items
        ),
        fold=True,
        right=("id", "candidates"),
        whole=("id", KIND, "candidates", "created", "status"),
        empty="no questions match the filters given"
        if integration is not None or kind is not None
        else "no open questions in the review queue"
        if status == "open"
        else "no questions in the review queue",
    )
    if not page.items and not page.open:
        return  # said: the queue is empty
    footer = f"{page.open} open in the queue"
    if integration is not None or kind is not None:  # the figure is the whole queue's
        footer += " (of every integration and kind, not only those listed)"
    if page.next_after is not None:
        footer += f"; next page: --after {page.next_after}"
    render.line(footer)


def _date_then_time(ts: str) -> str:
    """A stored time in a narrow cell: the date, and the time (UTC, to the second) below."""
    date, _, time = display_ts(ts).partition("T")
    return f"{date}\n{time[:8]}Z" if time else date


@review_app.command("show")
def review_show(
    item_id: Annotated[int, typer.Argument(metavar="ID", help="The question's id.")],
    as_json: JsonOption = False,
) -> None:
    """One question: what it asks, each candidate and why it matched, the activity it is
    about, and its state (who answered, what was chosen, what it did)."""
    with workspace() as ws:
        item = ws.review_item(item_id)
        names = ws.owner_names()
    if as_json:
        render.print_json(item)
        return
    data = render.json_of(item)
    render.line(
        f"[bold]review item {data['id']}[/] ({data['kind']}, "
        f"{render.escape(data['integration'])}): {data['status']}",
        markup=True,
    )
    render.line(f"question: {data['question']}")
    render.line(f"subject: {data['subject']}")
    render.line(f"created: {display_ts(data['created_at'])}")
    if data["candidates"]:
        render.line("candidates:")
        for candidate in data["candidates"]:
            render.line(f"  {_candidate(candidate, names)}: {candidate['why']}")
    else:
        render.line("candidates: none (answer with --choose RECORD_ID or --skip)")
    activity = data["activity"]
    if activity is not None:
        render.line(f"activity: {_activity(activity, names)}")
    if data["status"] != "open":
        render.line(
            f"{data['status']} by {data['closed_by'] or 'unknown'} at "
            f"{display_ts(data['closed_at'])}"
            + (f"; chose {data['choice']}" if data["choice"] else "")
        )
        if data["outcome"]:
            render.line(f"outcome: {data['outcome']}")


def _candidate(candidate: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """A candidate for people: ``contact 2 Kim Lee (owner 101 Ana Ng)``, or an owner as
    ``owner 101 Ana Ng``."""
    if candidate["record_id"] is None:
        return f"owner {render.owner(candidate['owner_id'], names)}"
    name = f" {candidate['name']}" if candidate["name"] else ""
    owner = f"owner {render.owner(candidate['owner_id'], names)}"
    return f"{candidate['record_type']} {candidate['record_id']}{name} ({owner})"


def _activity(activity: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """The activity a question is about: type, id, when, owner, direction and numbers."""
    parts = [
        f"{activity['type']} {activity['id']} ({activity['integration']}:"
        f"{activity['external_id'] or '-'})",
        display_ts(activity["occurred_at"]),
        f"owner {render.owner(activity['owner_id'], names)}",
    ]
    if activity.get("direction"):
        parts.append(str(activity["direction"]))
    if activity.get("from_number"):
        parts.append(f"from {activity['from_number']}")
    if activity.get("to_number"):
        parts.append(f"to {activity['to_number']}")
    return ", ".join(parts)


@review_app.command("resolve")
def review_resolve(
    item_id: Annotated[int, typer.Argument(metavar="ID", help="The question's id.")],
    choose: Annotated[
        str | None,
        typer.Option(
            "--choose",
            metavar="RECORD",
            help="The record's id (an owner's id for a rep's question); it need not be a "
            "candidate.",
        ),
    ] = None,
    skip: Annotated[
        bool, typer.Option("--skip", help="Leave it without a record; it is held no more.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Answer a question: the choice is applied through the engine (the activity attached
    to the record, then what the association rules add for it; for a rep, a users.map entry
    saved and audited) and recorded as resolved by a person."""
    with handle_errors():
        if (choose is None) == (not skip):
            raise UserError("answer with exactly one of --choose RECORD or --skip")
    with workspace() as ws:
        resolution = ws.resolve_review(item_id, choose=choose, skip=skip, by=_actor())
    if as_json:
        render.print_json(resolution)
        return
    render.line(f"review item {item_id} {resolution.item.status}:")
    for applied in resolution.applied:
        render.line(f"  {applied}")
