"""``leadsync lines list``: the company's own phone lines, declared or learned, and how many
calls each made internal (:mod:`leadsync.ops.own_lines`)."""

from __future__ import annotations

from typing import Annotated

import typer

from leadsync.cli import render
from leadsync.cli.app import JsonOption, check_integration, lines_app, workspace
from leadsync.ops.own_lines import own_lines


@lines_app.command("list")
def lines_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Each integration's own lines (E.164): its name at the tool, how leadsync knows it —
    declared in own_numbers, or learned from a tool's events (when first named; --json gives
    the event) — and how
    many calls are internal calls because of it (on no contact or lead)."""
    with workspace() as ws:
        rules = ws.rules()
        check_integration(ws, integration)
        rows = own_lines(ws.engine, rules, integration)
    if as_json:
        render.print_json(rows)
        return
    if integration:
        none = f"{integration} has no own_numbers declared, and its tool has named no line yet"
    else:
        none = "no integration has own_numbers declared, and no tool has named a line yet"
    render.table(
        ("integration", "number", "name", "how known", "internal calls"),
        (
            (
                r["integration"],
                r["number"],
                r["name"] or "-",
                r["how"],
                str(r["internal_calls"]),
            )
            for r in rows
        ),
        right=("internal calls",),
        whole=("number",),
        empty=f"no own lines: {none} (Aircall names the line of every call)",
    )
