"""``leadsync owners pull``, ``hubspot setup|fake`` and ``push [status|failures …]``: the
HubSpot destination's commands."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import (
    JsonOption,
    check_port,
    handle_errors,
    hubspot_app,
    owners_app,
    push_app,
    push_failures_app,
    user_name,
    workspace,
)
from leadsync.destinations.hubspot.objects import OBJECT_NAMES
from leadsync.errors import UserError
from leadsync.model import display_ts
from leadsync.ops import listings
from leadsync.ops.push_status import resolve_failures
from leadsync.progress import WorkProgress
from leadsync.results import agreeing, counted


@owners_app.command("pull")
def owners_pull(as_json: JsonOption = False) -> None:
    """Import owners and teams from HubSpot (all pages; archived owners become inactive)."""
    with workspace() as ws:
        changes = render.json_of(ws.pull_owners())
    if as_json:
        render.print_json(changes)
        return
    parts = [f"{k.replace('_', ' ')}: {', '.join(v)}" for k, v in changes.items() if v]
    render.line("\n".join(parts) if parts else "owners: no changes")


@hubspot_app.command("setup")
def hubspot_setup(
    as_json: JsonOption = False,
    new_portal: Annotated[
        bool,
        typer.Option(
            "--new-portal",
            help="Push to the token's portal from now on, where leadsync pushed to another "
            "one: that portal's HubSpot ids are forgotten and every record and activity is "
            "queued again (found by leadsync_id, email and domain where the portal has them).",
        ),
    ] = False,
) -> None:
    """Check the token and its scopes; create the unique leadsync_id properties the push
    relies on where missing (safe to run again). A token of another portal than the one
    leadsync pushed to is refused (its ids are that portal's) unless --new-portal."""
    with workspace() as ws:
        report = ws.hubspot_setup(new_portal)
    if as_json:
        render.print_json(report)
        return
    render.line(f"token: portal {report.hub_id or '?'}, app {report.app_id or '?'}, scopes ok")
    render.line(f"leads object: {'yes' if report.leads else 'no (leads are not pushed)'}")
    if report.created:
        render.line(f"created leadsync_id on: {', '.join(report.created)}")
    if report.present:
        render.line(f"leadsync_id already on: {', '.join(report.present)}")
    if report.options:  # the values the push sends there are fitted to their options
        named = ", ".join(
            f"{OBJECT_NAMES[object_type]}.{name} ({len(options)} options)"
            for object_type, properties in report.options.items()
            for name, options in properties.items()
        )
        render.line(f"dropdowns: {named}")
    for warning in report.warnings:
        render.note(f"warning: {warning}")


@hubspot_app.command("fake")
def hubspot_fake(
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8765,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    token_env: Annotated[
        str, typer.Option(help="Environment variable holding the token it accepts.")
    ] = "HUBSPOT_TOKEN",
    per_10s: Annotated[
        int, typer.Option(min=1, help="Requests it answers per 10 seconds, then 429s.")
    ] = 190,
    daily: Annotated[
        int, typer.Option(min=1, help="Requests it answers per day, then 429s.")
    ] = 625_000,
) -> None:
    """Run a STAND-IN for HubSpot's API on a local port (tests and the demo; not HubSpot)."""
    from leadsync.destinations.hubspot.fake import serve_double

    token = os.environ.get(token_env, "")
    if not token:
        raise typer.BadParameter(f"set {token_env} to the token the stand-in should accept")
    check_port("--port", host, port)
    render.note(f"HubSpot STAND-IN (not HubSpot) on http://{host}:{port}; limits {per_10s}/10 s")
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
    with workspace() as ws:
        if dry_run:
            queued, requests = ws.push_dry_run(backfill)  # one transaction, rolled back
            if as_json:  # one object: what it would queue and send
                sent = [{"method": m, "path": p, "body": b} for m, p, b in requests]
                render.print_json(
                    {"backfill_queued": queued if backfill else None, "requests": sent}
                )
                return
            if backfill:
                render.note(f"backfill: would queue {queued} objects")
            for method, path, body in requests:
                render.line(f"{method} {path}")
                if body is not None:
                    render.print_json(body)
            render.note(f"dry run: {len(requests)} requests, nothing sent or written")
            return
        if backfill:
            queued = ws.backfill_push()
            render.note(f"backfill: queued {queued} objects")
        queued = ws.push_status()["queued_total"]
        with WorkProgress(render.err, "push", queued, unit="changes") as progress:
            result = ws.push(on_progress=progress.advance)
        lease = ws.push_status()["lease"] if result.busy else None
    if as_json:
        render.print_json(result)
    elif lease is not None:  # who, and until when: a holder that died holds it until then
        render.line(
            f"another pusher holds the lease: {_lease_text(lease)}; it pushes the "
            f"{queued} queued changes (if it stopped, push again once its lease lapses)"
        )
    else:
        _print_push(render.json_of(result))
    if result.left_open:  # as ingest's dead letters: the rest went; these need a person
        raise typer.Exit(2)


def _print_push(r: Mapping[str, Any]) -> None:
    def listing(d: Mapping[str, int]) -> str:
        return ", ".join(f"{n} {t}" for t, n in sorted(d.items())) or "none"

    render.line(f"changes taken from the queue: {r['changes']} in {r['requests']} requests")
    render.line(f"created: {listing(r['created'])}")
    render.line(f"updated: {listing(r['updated'])}")
    render.line(f"matched existing: {listing(r['matched'])}")
    render.line(f"associations: {r['associations']}  archived: {r['archived']}")
    render.line(
        f"owners checked in HubSpot: {r['owner_checks']}  decided again: {r['owner_redecided']}"
    )
    if r["unnamed"]:
        render.line(
            f"not created in HubSpot yet: {listing(r['unnamed'])} (nothing names them: no name, "
            "domain or email; the change that names one queues it again)"
        )
    if r["waiting_links"]:
        render.line(
            f"links waiting: {r['waiting_links']} (objects in HubSpot without their link to a "
            f"record not created there yet — in all {listing(r['waiting_records'])}; each link "
            "is made when its record is created: `leadsync push status`)"
        )
    if r["not_sent"]:
        render.line(
            f"not sent: {r['not_sent']} (kept from HubSpot by leadsync: a lead with no contact, "
            "a value none of a dropdown's options names, an email another HubSpot contact "
            "holds: `leadsync push failures list`)"
        )
    if r["gone"]:
        render.line(
            f"created again: {listing(r['gone'])} (HubSpot no longer had them — archived or "
            "deleted there — and its refusals of them are closed)"
        )
    if r["forgotten"]:
        render.line(
            f"not created again: {listing(r['forgotten'])} (HubSpot no longer had them — "
            "deleted there — and only HubSpot's webhooks ever named them)"
        )
    if r["merged"]:
        render.line(
            f"followed a merge in HubSpot: {listing(r['merged'])} (a person merged them into "
            "another record there; leadsync writes to the merged record from now on)"
        )
    if r["values_refused"]:
        render.line(
            f"pushed without a value HubSpot refused: {r['values_refused']} (the rest of each "
            "went; each value with HubSpot's reason: `leadsync push failures list`)"
        )
    refused = r["refused"]
    if refused:
        render.line(
            f"refused by HubSpot: {refused} (each with HubSpot's reason: "
            "`leadsync push failures list`"
            + (
                f"; {r['missing_property']} for a property the portal does not have: run "
                "`leadsync hubspot setup`, then `leadsync push failures retry` with their ids)"
                if r["missing_property"]
                else ")"
            )
        )


@push_app.command("status")
def push_status(as_json: JsonOption = False) -> None:
    """Queue depth per object type, oldest pending, pushed in the last hour, failures, and
    the request budget."""
    with workspace() as ws:
        status = ws.push_status()
    if as_json:
        render.print_json(status)
        return
    queued, pushed = status["queued"], status["pushed_last_hour"]
    types = sorted(set(queued) | set(pushed))
    if not types:  # an empty table said nothing
        render.line("push queue: nothing queued, nothing pushed in the last hour")
    else:
        render.table(
            ("object type", "queued", "pushed last hour"),
            ((t, str(queued.get(t, 0)), str(pushed.get(t, 0))) for t in types),
            right=("queued", "pushed last hour"),
            title="push queue",
        )
    age = status["oldest_pending_age_s"]
    render.line(
        f"oldest pending: {display_ts(status['oldest_pending'])}"
        + (f" ({age:g} s ago)" if age is not None else "")
    )
    not_sent = status["failures_not_sent"]
    render.line(
        f"open failures: {status['failures']}"
        + (f" ({not_sent} not sent: leadsync's own check)" if not_sent else "")
    )
    b = status["budget"]
    render.line(
        f"budget: {b['remaining_10s']}/{b['per_10s']} left in 10 s; daily remaining "
        f"{b['daily_remaining'] if b['daily_remaining'] is not None else '?'}"
        f"/{b['daily'] if b['daily'] is not None else '?'}; requests {b['requests']}, "
        f"errors {b['errors']} ({b['rate_limited']} rate limited)"
    )
    if status["paused_until"]:
        render.line(f"PAUSED until {display_ts(status['paused_until'])}: {status['pause_reason']}")
    if status["refused"]:
        render.line(
            f"REFUSED since {display_ts(status['refused']['at'])}: {status['refused']['message']}"
            " — nothing is pushed until it is fixed (the queue keeps every change)"
        )
    waiting = status["not_created"]
    if waiting["total"]:
        render.line(_not_created_line(waiting["records"], waiting["links_waiting"]))
        for r in waiting["first"]:
            links = counted(r["links"], "link")
            since = f" since {display_ts(r['since'])}" if r["since"] else ""
            render.line(f"  {r['type']} {r['id']}: {links} waiting{since}  ({r['show']})")
    render.line(f"pusher: {_lease_text(status['lease'])}")


def _not_created_line(records: Mapping[str, int], links: int) -> str:
    """The records the push cannot create yet and the links waiting for them, in words."""
    kinds = ", ".join(f"{n} {t}" for t, n in sorted(records.items()))
    them = agreeing(sum(records.values()), "it", "them")
    return (
        f"not created in HubSpot: {kinds} (nothing names {them} yet: no name, domain or email; "
        f"created once an event does); {counted(links, 'link')} of objects HubSpot has "
        f"{agreeing(links, 'waits', 'wait')} for {them}"
    )


def _lease_text(lease: Mapping[str, Any] | None) -> str:
    """Who holds the push lease, since when and until when; or who held it last and how it
    ended (given up at a clean stop; lapsed: the holder died without giving it up)."""
    if lease is None:
        return "none running"
    since = f"since {display_ts(lease['since'])}" if lease["since"] else "since ?"
    until = display_ts(lease["until"]) if lease["until"] else "?"
    if lease["held"]:
        return (
            f"{lease['holder']}, holding the push lease {since} (renewed "
            f"{display_ts(lease['renewed'])}, at least every {lease['renewed_within_s']:g} s; until {until} "
            "unless renewed)"
        )
    ended = "gave it up" if lease["state"] == "given up" else "stopped renewing it: lapsed"
    return f"none running (last {lease['holder']}, {since}; {ended} at {until})"


@push_failures_app.command("list")
def failures_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many.")] = 100,
    include_resolved: Annotated[
        bool,
        typer.Option("--all", help="Also those retried, dismissed or pushed since."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Inputs HubSpot refused, newest first, with HubSpot's message and correlation id, and
    those leadsync's own check kept from being sent (no HTTP status: "not sent: …"); with
    --all, those resolved too (retried or dismissed: by whom, when, and why)."""
    with workspace() as ws:
        rows, more = render.cut(
            listings.push_failures(ws.engine, limit + 1, include_resolved), limit
        )
        if not rows:
            # Nothing to list and no destination: the error every push command gives. The
            # failures of an earlier destination are still listed (to retry or dismiss).
            ws.destination()
    if as_json:
        render.print_json(rows)
        return
    if not rows:
        render.line("no push failures" if include_resolved else "no open push failures")
        return
    columns = ("id", "object", "operation", "status", "message", "correlation id", "at")
    render.table(
        (*columns, "state") if include_resolved else columns,
        (
            (
                str(r["id"]),
                f"{r['object_type']} {r['local_id']}",
                r["operation"],
                str(r["status"]) if r["status"] is not None else "-",
                _failure_message(r),
                r["correlation_id"] or "-",
                display_ts(r["at"]),
                *([_failure_state(r)] if include_resolved else []),
            )
            for r in rows
        ),
        fold=include_resolved,
    )
    if more:
        render.more_note(limit, "push failures", " (leadsync push status counts the open ones)")


def _failure_message(failure: Mapping[str, Any]) -> str:
    """HubSpot's refusal as ``CATEGORY: message``; leadsync's own check (HubSpot never saw
    the input) as ``not sent: message``."""
    if failure["refused_by"] == "leadsync":
        return f"not sent: {failure['message']}"
    return f"{failure['category'] + ': ' if failure['category'] else ''}{failure['message']}"


def _failure_state(failure: Mapping[str, Any]) -> str:
    """open; or how it was resolved, when, by whom and (dismissed) why — as the dead letters'."""
    if failure["state"] == "open":
        return "open"
    when = display_ts(failure["resolved_at"])
    if failure["state"] == "pushed":
        return f"pushed {when}"
    who = failure["resolved_by"] or "unknown"
    if failure["state"] == "dismissed":
        return f"dismissed {when} by {who}: {failure['dismissed_reason'] or '(no reason given)'}"
    return f"{failure['state']} {when} by {who}"


@push_failures_app.command("retry")
def failures_retry(
    ids: Annotated[list[int] | None, typer.Argument(help="Failure ids.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every open failure (instead of ids).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Queue the objects again (after fixing what HubSpot refused): those the ids name, or
    with --all every open failure's."""
    with handle_errors():
        if bool(ids) == every:
            raise UserError(
                "give failure ids, or --all (not both); see `leadsync push failures list`"
            )
    with workspace() as ws:
        n = resolve_failures(ws.engine, None if every else ids or [], "retry", by=user_name())
    if as_json:
        render.print_json({"retried": n})
        return
    render.line(f"queued again: {n}")


@push_failures_app.command("dismiss")
def failures_dismiss(
    ids: Annotated[list[int], typer.Argument(help="Failure ids.")],
    reason: Annotated[
        str, typer.Option(help="Why (kept with each failure).", show_default=False)
    ] = "",
    by: Annotated[
        str | None, typer.Option(help="Who dismisses them (default: your user name).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Close failures without pushing the objects: they are kept and listed as dismissed by
    `push failures list --all` (with the reason, who and when)."""
    with handle_errors():
        if not reason.strip():
            given = "blank" if reason else "missing"
            raise UserError(
                f"--reason is {given}; allowed: some text, why the failures are not pushed (kept with each)"
            )
    with workspace() as ws:
        n = resolve_failures(ws.engine, ids, "dismiss", reason, by or user_name())
    if as_json:
        render.print_json({"dismissed": n, "reason": reason.strip()})
        return
    render.line(f"dismissed: {n} (see `leadsync push failures list --all`)")
