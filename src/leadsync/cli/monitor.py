"""``leadsync report``, ``undo`` and ``test-lead``: watching a running integration, taking
back what it decided, and checking it end to end.

``report`` and ``test-lead`` exit 1 when something is wrong, for cron and CI; the text forms
read each result's JSON (:func:`leadsync.cli.render.json_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import SINCE_HELP, JsonOption, app, check_integration, workspace
from leadsync.errors import UserError
from leadsync.model import display_ts
from leadsync.results import counted, plain
from leadsync.values import since_ts

ROWS_SHOWN = 20  # rows of a finding printed as text; --json has them all
# Checks that never alert whose rows are listed all the same (what to look at).
LISTED = ("activities_not_created", "unreadable_numbers")
HISTORY_SHOWN = 10  # owner changes printed under a flapping record


@app.command("report")
def report_command(
    since: Annotated[str, typer.Option(help=f"The window from: {SINCE_HELP}.")] = "7d",
    as_json: JsonOption = False,
) -> None:
    """The health report: owner flapping, unowned new leads, timeline overload, activities
    not created or arriving less than usual, unmapped users, deactivated owners, dead letters
    and inbox lag. Exits 1 when an alert fires (for cron)."""
    with workspace() as ws:
        result = render.json_of(ws.report(since_ts(since)))
        names = ws.owner_names()
    if as_json:
        render.print_json(result)
    else:
        _print_report(result, names)
    if result["alerts"]:
        raise typer.Exit(1)


def _print_report(result: Mapping[str, Any], names: Mapping[str, str]) -> None:
    render.line(
        f"health report from {display_ts(result['since'])} to {display_ts(result['until'])}: "
        f"{counted(result['alerts'], 'alert')}"
    )
    for finding in result["findings"]:
        mark = "[bold red]ALERT[/]" if finding["alert"] else "ok   "
        render.line(f"{mark} {finding['check']}: {render.escape(finding['summary'])}", markup=True)
        if finding["alert"] or finding["check"] in LISTED:
            for row in finding["rows"][:ROWS_SHOWN]:
                render.line(f"        {_row_text(finding['check'], row, names)}")
                history = row.get("history") or []
                total = row.get("history_total", len(history))
                for change in _history_text(history, total, names):
                    render.line(f"          {change}")


def _row_text(check: str, row: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """A report row in plain words: ``contact 12, changes 4``, ``owner 103 Cy Oh, still
    mapped from dialer:u-9``, ``no email``; skips as ``dialer call: REASON: COUNT``; a busy
    day's sources as ``from dialer note 30``. Other nested lists are left to --json, the
    ``records show`` line and, for a flapping record, :func:`_history_text`."""
    if check == "activities_not_created":
        return f"{row['integration']} {row['type']}: {row['reason']}: {row['activities']}"
    if check == "unowned_new_leads" and "record" in row:  # a record, with why it has none
        return (
            f"{plain(row['record'])} (made by {row['created_by']}): {row['why_no_owner']}"
            f"  ({row['show']})"
        )
    if check == "unreadable_numbers":  # the property in words, never its internal name
        record = plain(row["record"])
        return f"{record} {row['shown_as']}: {row['given']!r}  ({row['show']})"
    parts = []
    for key, value in row.items():
        label = key.replace("_", " ")
        if key == "from" and isinstance(value, list):  # a busy day's integrations and types
            parts.append(
                "from "
                + ", ".join(f"{s['integration']} {s['type']} {s['activities']}" for s in value)
            )
            continue
        if key == "show" or isinstance(value, list) and not all(isinstance(v, str) for v in value):
            continue
        if key == "record" and isinstance(value, dict):
            parts.append(plain(value))
        elif key.endswith("owner_id"):
            parts.append(f"{label.removesuffix(' id')} {render.owner(value, names)}")
        elif value is None:
            parts.append(f"no {label}")
        else:
            parts.append(f"{label} {plain(value)}")
    return ", ".join(parts) + (f"  ({row['show']})" if "show" in row else "")


def _history_text(
    history: list[Mapping[str, Any]], total: int, names: Mapping[str, str]
) -> list[str]:
    """A flapping record's owner changes, one line each (the latest ``HISTORY_SHOWN`` of the
    window's ``total``): ``2026-12-02T09:00:00Z 101 Ana Ng -> 102 Bo Li by dialer
    (integration_wins)``, those the count leaves out (a first owner, an undo) marked so."""
    shown = history[-HISTORY_SHOWN:]
    earlier = total - len(shown)
    lines = [f"… {earlier} earlier (--json, or the records show line)"] if earlier else []
    for change in shown:
        text = (
            f"{display_ts(change['at'])} {_owner_or_none(change['from_owner_id'], names)} -> "
            f"{_owner_or_none(change['owner_id'], names)} by {change['by']} "
            f"({change['strategy']})"
        )
        if change.get("settings") == "rollout":
            text += " [rollout]"
        lines.append(text if change["counted"] else f"{text}, not counted")
    return lines


def _owner_or_none(owner_id: str | None, names: Mapping[str, str]) -> str:
    return "no owner" if owner_id is None else render.owner(owner_id, names)


@app.command("undo")
def undo_command(
    event: Annotated[
        str | None,
        typer.Option(
            "--event",
            help="Undo this event's decisions (with --integration when several integrations "
            "have this event id).",
        ),
    ] = None,
    integration: Annotated[
        str | None,
        typer.Option(help="The event's integration; or, with --since, undo its decisions."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Undo the decisions leadsync made since then (their decided time, as "
            "decisions list shows it), whatever time their events say they happened or "
            f"arrived (a late event, a retried dead letter count): {SINCE_HELP}."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Put back the owners that decisions changed, unless a later change superseded them
    (those are listed with the change that did); the undo is recorded as decisions."""
    with workspace() as ws:
        cutoff = since_ts(since) if since is not None else None
        result = ws.undo(event, integration, cutoff, dry_run=dry_run)
    if as_json:
        render.print_json(result)
    else:
        what = f"event {event}" if event is not None else f"{integration} since {since}"
        _print_undo(render.json_of(result), dry_run, what)


def _print_undo(result: Mapping[str, Any], dry_run: bool, what: str) -> None:
    if not result["restored"] and not result["skipped"]:
        render.line(f"{what} changed no owner: nothing to undo")
        return
    restore = "would restore" if dry_run else "restored"
    for item in result["restored"]:
        record = item["record"]
        render.line(f"{restore} {record['type']} {record['id']}: {item['reason']}")
    for item in result["skipped"]:
        record = item["record"]
        render.line(f"skipped {record['type']} {record['id']}: {item['reason']}")
    summary = f"{len(result['restored'])} {restore}, {len(result['skipped'])} skipped"
    render.line(summary + (" (dry run: nothing was written)" if dry_run else ""))


@app.command("test-lead")
def test_lead_command(
    integration: Annotated[str | None, typer.Argument(help="The integration to test.")] = None,
    rep: Annotated[
        str | None, typer.Option(help="The external user id the test lead and call come from.")
    ] = None,
    cleanup: Annotated[
        bool,
        typer.Option(
            help="Remove the test leads and calls instead (INTEGRATION's, when given; else "
            "every integration's), and take back the round-robin turns and external-user "
            "counts the tests changed."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send a marked test lead and a test call through the engine, then check that the owner
    matches the mapping and strategy and that the timeline holds the call with the expected
    associations (a call the settings skip passes, with a note). Exits 1 when a check fails."""
    with workspace() as ws:
        if cleanup:
            check_integration(ws, integration)
            removed = ws.cleanup_test_leads(integration)
            if as_json:
                render.print_json(removed)
            else:
                records = counted(removed["records"], "test record")
                activities = counted(removed["activities"], "test activity", "test activities")
                archived = removed["archived"]
                pushed = f" ({archived:,} queued for archiving in HubSpot)" if archived else ""
                render.line(f"removed {records} and {activities}{pushed}")
            return
        if integration is None or rep is None:
            raise UserError("give INTEGRATION and --rep EXTERNAL_USER_ID (or --cleanup)")
        result = render.json_of(ws.test_lead(integration, rep))
    if as_json:
        render.print_json(result)
    else:
        _print_test_lead(result)
    if not result["passed"]:
        raise typer.Exit(1)


def _print_test_lead(result: Mapping[str, Any]) -> None:
    for check in result["checks"]:
        mark = "pass" if check["passed"] else "FAIL"
        render.line(f"{mark} {check['check']}: {check['detail']}")
        if check.get("note"):
            render.line(f"  note: {check['note']}")
    verdict = "passed" if result["passed"] else "failed"
    render.line(
        f"test lead {verdict} (contact {result['record_id']}; "
        "leadsync test-lead --cleanup removes test records)"
    )
