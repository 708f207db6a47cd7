"""``leadsync users list``: an integration's external users and the owner each maps to."""

from __future__ import annotations

from typing import Annotated

import typer

from leadsync.cli import render
from leadsync.cli.app import JsonOption, users_app, workspace
from leadsync.model import display_ts
from leadsync.ops.users import mapping_problems


@users_app.command("list")
def users_list(
    integration: Annotated[str, typer.Argument(metavar="INTEGRATION")],
    as_json: JsonOption = False,
) -> None:
    """External users seen in events or configured, how each maps, and how many events each
    sent: mapped (the explicit map), auto-matched (by email) or unmapped. What in the
    configuration keeps reps from being mapped (an owner's email that is not an address, an
    inactive fallback owner) is said on stderr."""
    with workspace() as ws:
        rows = ws.external_users(integration)
        names = ws.owner_names()
        problems = mapping_problems(ws.rules(), integration)
    for problem in problems:
        render.note(f"warning: {problem}")
    if as_json:
        render.print_json(rows)
        return
    render.table(
        ("id", "email", "name", "status", "owner", "events", "last seen"),
        (
            (
                r["id"],
                r["email"] or "-",
                r["name"] or "-",
                r["status"],
                render.owner(r["owner_id"], names),
                str(r["events"]),
                display_ts(r["last_seen_at"]),
            )
            for r in rows
        ),
        fold=True,
        right=("events",),
        empty=f"no external users: no event of {integration} named a user yet, and its settings name none",
    )
