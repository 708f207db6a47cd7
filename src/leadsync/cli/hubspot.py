"""``leadsync owners pull``, ``leadsync hubspot setup|fake`` and ``leadsync push …``: the
HubSpot destination's commands, thin faces over :class:`leadsync.workspace.Workspace`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from leadsync.cli import (
    JsonOption,
    _errors,
    _print_json,
    _workspace,
    app,
    err,
    out,
    owners_app,
)
from leadsync.model import display_ts
from leadsync.progress import WorkProgress

hubspot_app = typer.Typer(
    help="The HubSpot portal: check and prepare it; a local stand-in for tests and the demo.",
    no_args_is_help=True,
)
push_app = typer.Typer(
    help="Push decisions to HubSpot: drain the queue, see its state, handle refused inputs.",
    invoke_without_command=True,
)
failures_app = typer.Typer(help="Inputs HubSpot refused.", no_args_is_help=True)
app.add_typer(hubspot_app, name="hubspot")
app.add_typer(push_app, name="push")
push_app.add_typer(failures_app, name="failures")


@owners_app.command("pull")
def owners_pull(as_json: JsonOption = False) -> None:
    """Import owners and teams from HubSpot (all pages; archived owners become inactive)."""
    with _errors(), _workspace() as ws:
        changes = ws.pull_owners()
    if as_json:
        _print_json(changes.to_dict())
        return
    data = changes.to_dict()
    parts = [f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in data.items() if v]
    out.print("\n".join(parts) if parts else "owners: no changes")


@hubspot_app.command("setup")
def hubspot_setup(as_json: JsonOption = False) -> None:
    """Check the token and its scopes; create the unique leadsync_id properties the push
    relies on where missing (safe to run again)."""
    with _errors(), _workspace() as ws:
        report = ws.hubspot_setup()
    if as_json:
        _print_json(report.to_dict())
        return
    out.print(f"token: portal {report.hub_id or '?'}, app {report.app_id or '?'}, scopes ok")
    out.print(f"leads object: {'yes' if report.leads else 'no (leads are not pushed)'}")
    if report.created:
        out.print(f"created leadsync_id on: {', '.join(report.created)}")
    if report.present:
        out.print(f"leadsync_id already on: {', '.join(report.present)}")


@hubspot_app.command("fake")
def hubspot_fake(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8765,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the token it accepts.")
    ] = "HUBSPOT_TOKEN",
    per_10s: Annotated[int, typer.Option(min=1)] = 190,
    daily: Annotated[int, typer.Option(min=1)] = 625_000,
) -> None:
    """Run a STAND-IN for HubSpot's API on a local port (tests and the demo; not HubSpot)."""
    import os

    from leadsync.destinations.hubspot.fake import serve_double

    token = os.environ.get(token_env, "")
    if not token:
        raise typer.BadParameter(f"set {token_env} to the token the stand-in should accept")
    err.print(
        f"HubSpot STAND-IN (not HubSpot) on http://{host}:{port}; limits {per_10s}/10 s",
        markup=False,
    )
    serve_double(host, port, token, per_10s=per_10s, daily=daily)


@push_app.callback()
def push(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the requests it would send; send nothing.")
    ] = False,
    backfill: Annotated[
        bool,
        typer.Option(
            "--backfill",
            help="First queue, once, everything the workspace held before the destination.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Drain the push queue into HubSpot, then stop."""
    if ctx.invoked_subcommand is not None:
        return
    with _errors(), _workspace() as ws:
        if backfill:
            queued = ws.backfill_push()
            err.print(f"backfill: queued {queued} objects", markup=False)
        if dry_run:
            pusher = ws.pusher(dry_run=True, token="dry-run")
            try:
                result = pusher.drain()
            finally:
                pusher.client.close()
            for method, path, body in pusher.sent:
                out.print(f"{method} {path}", markup=False)
                if body is not None:
                    out.print(json.dumps(body, indent=2), markup=False)
            err.print(f"dry run: {len(pusher.sent)} requests, nothing sent", markup=False)
            return
        queued = ws.push_status()["queued_total"]
        with WorkProgress(err, "push", queued, unit="changes") as progress:
            result = ws.push(on_progress=progress.advance)
    if as_json:
        _print_json(result.to_dict())
        return
    _print_push(result.to_dict())


def _print_push(r: dict[str, Any]) -> None:
    if r["busy"]:
        out.print("another pusher holds the lease; it pushes (see `leadsync push status`)")
        return

    def listing(d: dict[str, int]) -> str:
        return ", ".join(f"{n} {t}" for t, n in sorted(d.items())) or "none"

    out.print(f"changes pushed: {r['changes']} in {r['requests']} requests")
    out.print(f"created: {listing(r['created'])}")
    out.print(f"updated: {listing(r['updated'])}")
    out.print(f"matched existing: {listing(r['matched'])}")
    out.print(f"associations: {r['associations']}  archived: {r['archived']}")
    out.print(
        f"owners checked in HubSpot: {r['owner_checks']}  decided again: {r['owner_redecided']}"
    )
    if r["failures"]:
        out.print(f"refused by HubSpot: {r['failures']} (see `leadsync push failures list`)")


@push_app.command("status")
def push_status(as_json: JsonOption = False) -> None:
    """Queue depth per object type, oldest pending, pushed in the last hour, failures, and
    the request budget."""
    with _errors(), _workspace() as ws:
        status = ws.push_status()
    if as_json:
        _print_json(status)
        return
    table = Table(title="push queue")
    table.add_column("object type")
    table.add_column("queued", justify="right")
    table.add_column("pushed last hour", justify="right")
    types = sorted(set(status["queued"]) | set(status["pushed_last_hour"]))
    for t in types:
        table.add_row(t, str(status["queued"].get(t, 0)), str(status["pushed_last_hour"].get(t, 0)))
    out.print(table)
    age = status["oldest_pending_age_s"]
    out.print(
        f"oldest pending: {display_ts(status['oldest_pending'])}"
        + (f" ({age:g} s ago)" if age is not None else "")
    )
    out.print(f"open failures: {status['failures']}")
    b = status["budget"]
    out.print(
        f"budget: {b['remaining_10s']}/{b['per_10s']} left in 10 s; daily remaining "
        f"{b['daily_remaining'] if b['daily_remaining'] is not None else '?'}"
        f"/{b['daily'] if b['daily'] is not None else '?'}; requests {b['requests']}, "
        f"errors {b['errors']} ({b['rate_limited']} rate limited)"
    )
    if status["paused_until"]:
        out.print(f"PAUSED until {display_ts(status['paused_until'])}: {status['pause_reason']}")
    out.print(f"pusher: {status['pusher'] or 'none running'}")


@failures_app.command("list")
def failures_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100, as_json: JsonOption = False
) -> None:
    """Inputs HubSpot refused, newest first, with HubSpot's message and correlation id."""
    with _errors(), _workspace() as ws:
        rows = ws.push_failures(limit)
    if as_json:
        _print_json(rows)
        return
    if not rows:
        out.print("no open push failures")
        return
    table = Table()
    for col in ("id", "object", "operation", "status", "message", "correlation id", "at"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            f"{r['object_type']} {r['local_id']}",
            r["operation"],
            str(r["status"]),
            f"{r['category'] + ': ' if r['category'] else ''}{r['message']}",
            r["correlation_id"] or "-",
            display_ts(r["at"]),
        )
    out.print(table)


@failures_app.command("retry")
def failures_retry(
    ids: Annotated[list[int], typer.Argument(help="Failure ids.")], as_json: JsonOption = False
) -> None:
    """Queue the objects again (after fixing what HubSpot refused)."""
    with _errors(), _workspace() as ws:
        n = ws.resolve_push_failures(ids, "retry")
    if as_json:
        _print_json({"retried": n})
        return
    out.print(f"queued again: {n}")


@failures_app.command("dismiss")
def failures_dismiss(
    ids: Annotated[list[int], typer.Argument(help="Failure ids.")], as_json: JsonOption = False
) -> None:
    """Close failures without pushing the objects."""
    with _errors(), _workspace() as ws:
        n = ws.resolve_push_failures(ids, "dismiss")
    if as_json:
        _print_json({"dismissed": n})
        return
    out.print(f"dismissed: {n}")
