"""The ``leadsync`` command: a thin face over :class:`leadsync.workspace.Workspace`.

Every read has ``--json``; errors a user can fix print one clear message and exit with 2.
"""

from __future__ import annotations

import csv
import json
import os
import stat
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, BinaryIO, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from leadsync.errors import LeadsyncError, UserError
from leadsync.model import RecordType, display_ts
from leadsync.ops.replay import SHOWN as REPLAY_SHOWN
from leadsync.pipeline.inbox import DEFAULT_BATCH, IngestSummary
from leadsync.progress import WorkProgress
from leadsync.settings import (
    IntegrationSettings,
    dump_config,
    integration_to_dict,
    load_config_file,
    load_proposed_file,
)
from leadsync.values import parse_time
from leadsync.workspace import Workspace

app = typer.Typer(
    name="leadsync",
    help="Keep record ownership and activities right when sales tools write into your CRM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
records_app = typer.Typer(
    help="Read records, find them, and change their owner.", no_args_is_help=True
)
owners_app = typer.Typer(help="The CRM owners of the workspace.", no_args_is_help=True)
inbox_app = typer.Typer(help="The durable inbox of events.", no_args_is_help=True)
dead_app = typer.Typer(help="Events that could not be read or applied.", no_args_is_help=True)
outbox_app = typer.Typer(
    help="Owner changes queued for bidirectional integrations.", no_args_is_help=True
)
decisions_app = typer.Typer(help="Owner decisions and their reasons.", no_args_is_help=True)
activities_app = typer.Typer(help="Activities received from integrations.", no_args_is_help=True)
rollout_app = typer.Typer(
    help="Staged rollouts: proposed settings for a share of records.", no_args_is_help=True
)
users_app = typer.Typer(
    help="External users of an integration and how they map to owners.", no_args_is_help=True
)
app.add_typer(records_app, name="records")
app.add_typer(decisions_app, name="decisions")
app.add_typer(activities_app, name="activities")
app.add_typer(owners_app, name="owners")
app.add_typer(inbox_app, name="inbox")
app.add_typer(dead_app, name="dead-letters")
app.add_typer(outbox_app, name="outbox")
app.add_typer(users_app, name="users")
app.add_typer(rollout_app, name="rollout")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
F = TypeVar("F", bound=Callable[..., Any])


class _State:
    db: str | None = None


state = _State()


@app.callback()
def _main(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Database URL, or a plain path for a SQLite file; else the LEADSYNC_DB "
            "environment variable, else sqlite:///leadsync.db (postgresql://… for PostgreSQL). "
            "Only init and apply create a workspace; other commands refuse a database that "
            "holds none.",
            show_default=False,
        ),
    ] = None,
) -> None:
    # LEADSYNC_DB is read by the workspace (store.database), whose messages then say so.
    state.db = db


@contextmanager
def _workspace(create: bool = False) -> Iterator[Workspace]:
    """The workspace of --db / LEADSYNC_DB. Only the commands that declare one (``init``,
    ``apply``) pass ``create``: the others refuse a database that holds no workspace, so a
    mistyped name is caught rather than becoming an empty workspace."""
    ws = Workspace(state.db, create=create)
    try:
        yield ws
    finally:
        ws.close()


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    return typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn leadsync's own errors into their messages (one ``error:`` line each) and the exit
    code their class declares (:attr:`~leadsync.errors.LeadsyncError.exit_code`: 2 for input
    you can fix, 1 for a failure that may pass)."""
    try:
        yield
    except LeadsyncError as exc:
        for message in exc.messages():
            err.print(Text.assemble(("error:", "bold red"), " ", message))
        raise typer.Exit(exc.exit_code) from None


def _escape(text: str) -> str:
    return text.replace("[", r"\[")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _record_type(value: str) -> RecordType:
    try:
        return RecordType(value.lower())
    except ValueError:
        allowed = ", ".join(t.value for t in RecordType)
        raise _fail(f"record type {value!r} is not allowed; allowed: {allowed}") from None


def _owner(owner_id: str | None, names: Mapping[str, str]) -> str:
    """An owner for people: the id and the name beside it (``101 Ana Ng``), from the
    workspace's owners (:meth:`Workspace.owner_names`); ``-`` for no owner."""
    if owner_id is None:
        return "-"
    name = names.get(owner_id)
    return f"{owner_id} {name}" if name else owner_id


def _plain(value: Any) -> str:
    """A value for people, never a Python repr: ``none``, ``yes``/``no``, ``3`` for 3.0, a
    record as ``contact 12``, a list joined with commas."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict) and set(value) >= {"type", "id"}:
        return f"{value['type']} {_plain(value['id'])}"
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    return str(value)


_SINCE_HELP = "30d, 12h, 90m, a date (2026-11-01), or an ISO time (UTC without an offset)"


# ------------------------------------------------------------------------ workspace


@app.command()
def init() -> None:
    """Create the workspace database, or bring its schema up to date."""
    with _errors(), _workspace(create=True) as ws:
        what = "created or upgraded" if ws.migrated else "already up to date"
        out.print(f"workspace {ws.url}: schema {what}")


@app.command()
def apply(
    file: Annotated[Path, typer.Argument(help="The workspace file (YAML).", show_default=False)],
    as_json: JsonOption = False,
) -> None:
    """Declare owners, teams and integrations from a YAML file (idempotent; all or nothing)."""
    with _errors():
        config = load_config_file(file)
        with _workspace(create=True) as ws:
            changes = ws.apply_config(config)
    if as_json:
        _print_json({"changed": changes.changed, **changes.to_dict()})
        return
    if not changes.changed:
        out.print(f"{file}: no changes; the workspace already matches")
        return
    for key, items in changes.to_dict().items():
        if items:
            out.print(f"{key.replace('_', ' ')}: {', '.join(items)}")


@app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Write the workspace's configuration back as YAML (what `apply` reads)."""
    with _errors(), _workspace() as ws:
        text = dump_config(ws.export_config())
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


@app.command()
def ingest(
    integration: Annotated[str, typer.Argument(help="The integration the events come from.")],
    file: Annotated[
        str,
        typer.Argument(
            help="A JSONL file, or - for stdin: canonical events for a generic integration; "
            'for a vendor, one captured webhook body per line (or {"headers": ..., "body": ...}).'
        ),
    ],
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per batch.")
    ] = DEFAULT_BATCH,
    as_json: JsonOption = False,
) -> None:
    """Write events to the durable inbox, then apply them. Exits 2 when a line failed."""
    with _errors(), _workspace() as ws:
        ws.integration(integration)
        if file == "-":
            summary = _ingest(ws, integration, sys.stdin.buffer, "<stdin>", batch_size)
        else:
            path = Path(file)
            if not path.is_file():
                raise UserError(f"{file}: no such file")
            with path.open("rb") as handle:
                summary = _ingest(ws, integration, handle, file, batch_size)
    if as_json:
        _print_json(summary.to_dict())
    else:
        _print_summary(summary.to_dict())
    if not summary.ok:
        raise typer.Exit(2)


def _ingest(
    ws: Workspace, integration: str, handle: BinaryIO, source: str, batch_size: int
) -> IngestSummary:
    """``ws.ingest`` with its progress on stderr: bytes read of the file's size (unknown for
    a pipe), and lines read."""
    lines = _LinesRead(handle)
    with WorkProgress(err, "ingest", _file_size(handle), unit="bytes") as progress:
        return ws.ingest(
            integration,
            lines,
            source=source,
            batch_size=batch_size,
            on_progress=lambda _applied: progress.update(lines.bytes, lines=lines.lines),
        )


class _LinesRead:
    """A binary file's lines, counting the lines and bytes read so far."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.lines = 0
        self.bytes = 0

    def __iter__(self) -> Iterator[bytes]:
        for line in self.handle:
            self.lines += 1
            self.bytes += len(line)
            yield line


def _file_size(handle: BinaryIO) -> int | None:
    """The size of a regular file (stdin too, when redirected from one); None for a pipe."""
    try:
        status = os.fstat(handle.fileno())
    except (OSError, ValueError):  # no file descriptor (a test's stdin), or closed
        return None
    return status.st_size if stat.S_ISREG(status.st_mode) else None


def _print_summary(s: dict[str, Any]) -> None:
    owners = s["owners"]
    acts = s["activities"]
    out.print(
        f"{s['integration']}: {s['lines']} lines, {s['accepted']} accepted, "
        f"{s['duplicates']} duplicates, {s['dead_letter_count'] + s['failed_count']} dead letters"
    )
    out.print(
        f"applied {s['applied']} events: {s['records_created']} records created; owners "
        f"{owners['set']} set, {owners['kept']} kept, {owners['ignored']} ignored "
        f"({s['flagged']} flagged); activities {acts['created']} created, "
        f"{acts['updated']} updated ({acts['merged']} merged with another tool's), "
        f"{acts['skipped']} skipped"
    )
    _print_dead_letters(s)


def _print_dead_letters(s: dict[str, Any]) -> None:
    shown = s["dead_letters"] + s["failed"]
    for dead in shown:
        err.print(f"dead letter: {dead['where']}: {dead['error']}", markup=False)
    hidden = s["dead_letter_count"] + s["failed_count"] - len(shown)
    if hidden > 0:
        err.print(f"… and {hidden} more: leadsync dead-letters list", markup=False)


# -------------------------------------------------------------------------- records


@records_app.command("show")
def records_show(
    record_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="contact, company, deal, ticket or lead.")
    ],
    record_id: Annotated[int, typer.Argument(metavar="ID")],
    limit: Annotated[int | None, typer.Option(help="Show at most this many activities.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A record with its owner history (every decision and its reason) and timeline."""
    rtype = _record_type(record_type)
    with _errors(), _workspace() as ws:
        record = ws.record(rtype, record_id, limit)
        names = ws.owner_names()
    if as_json:
        _print_json(record)
        return
    _print_record(record, names)


def _print_record(record: dict[str, Any], names: Mapping[str, str]) -> None:
    title = record["name"] or record["email"] or record["domain"] or ""
    out.print(f"[bold]{record['type']} {record['id']}[/] {title}", markup=True)
    out.print(f"owner: {_owner(record['owner_id'], names)}", markup=False)
    if record.get("hubspot"):
        hs = record["hubspot"]
        out.print(f"in HubSpot: {hs['id']} (pushed {display_ts(hs['pushed_at'])})")
    if record["identities"]:
        ids = ", ".join(f"{i['integration']}:{i['external_id']}" for i in record["identities"])
        out.print(f"known as: {ids}")
    if record["associations"]:
        links = ", ".join(
            f"{a['type']} {a['id']}{' (primary)' if a['primary'] else ''}"
            for a in record["associations"]
        )
        out.print(f"associated with: {links}")
    props = {k: v for k, v in record["properties"].items()}
    if props:
        out.print(
            "properties: " + ", ".join(f"{k}={_plain(v)}" for k, v in props.items()), markup=False
        )

    out.print()
    out.print(f"[bold]owner history[/] ({len(record['owner_history'])} decisions)", markup=True)
    for h in record["owner_history"]:
        who = h["integration"] or "a person in the CRM"
        out.print(
            f"  {display_ts(h['at'])}  {h['outcome']:<7} "
            f"{_owner(h['previous_owner_id'], names)} -> {_owner(h['owner_id'], names)}  "
            f"by {who} ({h['strategy']})",
            markup=False,
        )
        out.print(f"      {h['reason']}", markup=False)
    out.print()
    out.print(f"[bold]timeline[/] ({len(record['timeline'])} activities)", markup=True)
    for item in record["timeline"]:
        p = item["properties"]
        details = ", ".join(
            f"{k}={display_ts(v) if k in ('start', 'end', 'due') else _plain(v)}"
            for k, v in p.items()
            if k != "body"
        )
        links = ", ".join(f"{a['type']} {a['id']}" for a in item["associations"])
        out.print(
            f"  {display_ts(item['occurred_at'])}  {item['type']:<8} "
            f"owner {_owner(item['owner_id'], names)}"
            f"  {item['integration']}:{item['external_id'] or '-'}",
            markup=False,
        )
        if details:
            out.print(f"      {details}", markup=False)
        if p.get("body"):
            out.print(f'      "{p["body"]}"', markup=False)
        out.print(f"      associated with {links or 'nothing'}", markup=False)
        if item.get("hubspot"):
            hs = item["hubspot"]
            out.print(
                f"      in HubSpot: {hs['id']} (pushed {display_ts(hs['pushed_at'])})",
                markup=False,
            )


@records_app.command("find")
def records_find(
    email: Annotated[str | None, typer.Option(help="A contact's email.")] = None,
    domain: Annotated[str | None, typer.Option(help="A company's domain.")] = None,
    external: Annotated[
        str | None, typer.Option(help="INTEGRATION:EXTERNAL_ID, the id a tool gave the record.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Find records by email, domain or external id."""
    with _errors(), _workspace() as ws:
        found = ws.find(email=email, domain=domain, external=external)
        names = ws.owner_names()
    if as_json:
        _print_json(found)
        return
    if not found:
        out.print("no records found")
        raise typer.Exit(1)
    table = Table()
    for col in ("type", "id", "owner", "name", "email / domain"):
        table.add_column(col)
    for r in found:
        table.add_row(
            r["type"],
            str(r["id"]),
            _owner(r["owner_id"], names),
            r["name"] or "",
            r["email"] or r["domain"] or "",
        )
    out.print(table)


@records_app.command("set-owner")
def records_set_owner(
    record_type: Annotated[str, typer.Argument(metavar="TYPE")],
    record_id: Annotated[int, typer.Argument(metavar="ID")],
    owner_id: Annotated[
        str, typer.Argument(metavar="OWNER_ID", help="An owner id, or none to clear.")
    ],
    at: Annotated[
        str | None, typer.Option(help="When the person made the change (ISO 8601; default now).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a manual owner change made by a person in the CRM."""
    rtype = _record_type(record_type)
    with _errors(), _workspace() as ws:
        when = None
        if at is not None:
            try:
                when = parse_time(at)
            except ValueError as exc:
                raise UserError(f"--at {at!r}: {exc}") from None
        target = None if owner_id.lower() in ("none", "") else owner_id
        decision = ws.set_owner(rtype, record_id, target, when)
    if as_json:
        _print_json(
            {
                "record_id": decision.record_id,
                "type": decision.record_type.value,
                "at": decision.at,
                "previous_owner_id": decision.previous_owner_id,
                "owner_id": decision.owner_id,
                "outcome": decision.outcome.value,
                "reason": decision.reason,
            }
        )
    else:
        out.print(f"{rtype.value} {record_id}: {decision.reason}")


# ------------------------------------------------------------------ operations


@owners_app.command("list")
def owners_list(as_json: JsonOption = False) -> None:
    """Every owner, with teams; archived owners (dropped from the file) last."""
    with _errors(), _workspace() as ws:
        rows = ws.owners()
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for col in ("id", "email", "name", "active", "teams"):
        table.add_column(col)
    for r in rows:
        state_text = "archived" if r["archived"] else ("yes" if r["active"] else "no")
        name = f"{r['first_name']} {r['last_name']}".strip()
        table.add_row(r["id"], r["email"], name, state_text, ", ".join(r["teams"]))
    out.print(table)


@inbox_app.command("status")
def inbox_status(as_json: JsonOption = False) -> None:
    """How many events the inbox holds per integration and status."""
    with _errors(), _workspace() as ws:
        rows = ws.inbox_counts()
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for col in ("integration", "status", "events"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["integration"], r["status"], str(r["count"]))
    out.print(table)


@inbox_app.command("process")
def inbox_process(
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = DEFAULT_BATCH,
    as_json: JsonOption = False,
) -> None:
    """Apply the events still pending in the inbox (after a crash or from intake). --json
    prints ingest's shape (no lines read; integration null: every integration)."""
    with _errors(), _workspace() as ws:
        summary = ws.process_inbox(batch_size)
    if as_json:
        _print_json(summary.to_dict())
    else:
        out.print(f"applied {summary.events} pending events")
        _print_dead_letters(summary.to_dict())


@dead_app.command("list")
def dead_letters_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Also those already retried or dismissed.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The newest dead letters: where each came from and why it failed; with --all, those
    retried or dismissed too (by whom, when, and why)."""
    with _errors(), _workspace() as ws:
        rows = ws.dead_letters(integration, limit, include_resolved)
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for col in ("id", "integration", "received", "where", "error", "state"):
        table.add_column(col, overflow="fold")
    for r in rows:
        where = f"{r['source'] or ''}:{r['line_no']}" if r["line_no"] else (r["source"] or "")
        table.add_row(
            str(r["id"]),
            r["integration"],
            display_ts(r["received_at"]),
            where,
            r["error"],
            _letter_state(r),
        )
    out.print(table)


def _letter_state(letter: dict[str, Any]) -> str:
    if letter["state"] == "open":
        return "open"
    when = f"{display_ts(letter['resolved_at'])} by {letter['resolved_by'] or 'unknown'}"
    if letter["state"] == "dismissed":
        return f"dismissed {when}: {letter['dismissed_reason']}"
    return f"retried {when}: {letter['resolution']}"


@dead_app.command("dismiss")
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
    if bool(letter_ids) == every:
        raise _fail("give the IDs of the letters to dismiss, or --all (not both)")
    if integration is not None and not every:
        raise _fail("--integration goes with --all")
    if not reason.strip():
        raise _fail("give --reason TEXT: why the letters cannot be fixed (kept with each)")
    with _errors(), _workspace() as ws:
        dismissed = ws.dismiss_dead_letters(
            None if every else letter_ids, reason, by or _user_name(), integration
        )
    if as_json:
        _print_json({"dismissed": dismissed, "count": len(dismissed), "reason": reason.strip()})
        return
    if not dismissed:
        out.print("no open dead letters to dismiss", markup=False)
        return
    shown = ", ".join(map(str, dismissed[:20])) + (" …" if len(dismissed) > 20 else "")
    out.print(f"dismissed {len(dismissed)} dead letters ({shown})", markup=False)


def _user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "unknown"


_SETTINGS_HELP = (
    "Proposed settings: a whole workspace file (owners and integrations) replaces the "
    "integration's settings; one integration's settings, whole or in part, are merged over "
    "the current ones."
)


def _proposed_settings(
    ws: Workspace, integration: str, path: Path, as_json: bool
) -> IntegrationSettings:
    """The ``--settings`` file read for ``integration``, saying how (merged or replacing):
    on stdout before the result, or on stderr beside JSON."""
    ws.integration(integration)  # an unknown integration is the first thing to say
    read = load_proposed_file(path, integration, ws.export_config())
    (err if as_json else out).print(read.describe(), markup=False)
    return read.settings


@app.command("preview")
def preview_command(
    integration: Annotated[str, typer.Argument(help="The integration the events come from.")],
    file: Annotated[str, typer.Argument(help="Events as `ingest` reads them, or - for stdin.")],
    sample: Annotated[
        int | None, typer.Option(min=1, help="Only the first N events of the file.")
    ] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option("--settings", help=_SETTINGS_HELP),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """What events would do — records matched or created, owner decisions with reasons,
    activities created or skipped, associations — decided by the real engine; nothing is
    written."""
    with _errors(), _workspace() as ws:
        proposed = None
        if settings_file is not None:
            proposed = _proposed_settings(ws, integration, settings_file, as_json)
        if file == "-":
            result = ws.preview(integration, sys.stdin, "<stdin>", sample, proposed)
        else:
            path = Path(file)
            if not path.is_file():
                raise UserError(f"{file}: no such file")
            with path.open(encoding="utf-8", errors="replace") as handle:
                result = ws.preview(integration, handle, file, sample, proposed)
    if as_json:
        _print_json(result.to_dict())
        return
    for entry in result.events:
        out.print(f"[bold]{entry.line}[/] {entry.type} {entry.event_id}", markup=True)
        if entry.record is not None:
            verb = "creates" if entry.record["created"] else "matches"
            out.print(f"  {verb} {entry.record['type']} {entry.record['id']}", markup=False)
        if entry.activity is not None:
            a = entry.activity
            what = f"  {a['type']} {a['outcome']}"
            if a.get("reason"):
                what += f": {a['reason']}"
            out.print(what, markup=False)
            for link in entry.associations:
                out.print(f"    -> {link['type']} {link['id']} ({link['source']})", markup=False)
        for d in entry.owner:
            out.print(f"  {d['record']['type']} {d['record']['id']}: {d['reason']}", markup=False)
    for item in result.duplicates:
        out.print(f"{item['where']}: already in the inbox, not applied again", markup=False)
    for item in result.unreadable:
        err.print(f"{item['where']}: {item['error']}", markup=False)
    summary = result.summary()
    owners, acts = summary["owners"], summary["activities"]
    out.print(
        f"preview of {summary['events']} events (nothing written): "
        f"{summary['records_created']} records created; owners {owners['set']} set, "
        f"{owners['kept']} kept, {owners['ignored']} ignored; activities {acts['created']} "
        f"created, {acts['updated']} updated, {acts['merged']} merged, "
        f"{acts['skipped']} skipped",
        markup=False,
    )
    for reason, count in summary["skipped_by_reason"].items():
        out.print(f"  skipped {count}: {reason}", markup=False)


@app.command("replay")
def replay_command(
    integration: Annotated[str, typer.Argument(help="The integration whose settings change.")],
    settings_file: Annotated[Path, typer.Option("--settings", help=_SETTINGS_HELP)],
    since: Annotated[
        str | None,
        typer.Option(help=f"Only events since then: {_SINCE_HELP}."),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(
            min=1, help="List at most this many records whose owner would differ (all counted)."
        ),
    ] = REPLAY_SHOWN,
    output: Annotated[
        str,
        typer.Option(
            "--format",
            help="text; json (as --json); or csv: every difference, one row each, never cut.",
        ),
    ] = "text",
    as_json: JsonOption = False,
) -> None:
    """Decide the inbox's events again under the current and the proposed settings (each
    in a scratch database; the workspace is not touched) and show what would differ:
    owners (with both reasons), activities that appear or disappear, associations."""
    from leadsync.ops.replay import DIFFERENCE_FIELDS, inbox_size, replay, since_ts

    if output not in ("text", "json", "csv"):
        raise _fail(f"--format {output!r} is not allowed; allowed: text, json, csv")
    if as_json and output not in ("text", "json"):
        raise _fail(f"--json is --format json: give one of --json and --format {output}")
    output = "json" if as_json else output
    with _errors(), _workspace() as ws:
        proposed = _proposed_settings(ws, integration, settings_file, output != "text")
        cutoff = since_ts(since) if since is not None else None
        names = ws.owner_names()
        write_row = None
        if output == "csv":
            writer = csv.DictWriter(sys.stdout, DIFFERENCE_FIELDS, lineterminator="\n")
            writer.writeheader()
            write_row = writer.writerow
        with WorkProgress(err, "replay", inbox_size(ws.engine, cutoff)) as progress:
            result = replay(ws, integration, proposed, cutoff, progress.advance, limit, write_row)
    if output != "text":
        if output == "json":
            _print_json(result.to_dict())
        return
    out.print(
        f"replayed {result.events} inbox events"
        + (f" since {display_ts(cutoff)}" if cutoff else "")
        + f" ({result.unreadable} unreadable); {result.records_compared} records compared",
        markup=False,
    )
    out.print(f"owners that would differ: {result.owners_differ}", markup=False)
    for change in result.owner_changes:
        out.print(
            f"  {change['type']} {change['record']}: "
            f"{_owner(change['current_owner_id'], names)} -> "
            f"{_owner(change['proposed_owner_id'], names)}",
            markup=False,
        )
        out.print(f"      now:      {change['current_reason']}", markup=False)
        out.print(f"      proposed: {change['proposed_reason']}", markup=False)
    more = result.owners_differ - len(result.owner_changes)
    if more > 0:
        out.print(
            f"  … and {more} more (--limit N lists more; --format csv lists every one)",
            markup=False,
        )
    for label, counts in (
        ("activities that would disappear", result.activities_disappear),
        ("activities that would appear", result.activities_appear),
    ):
        out.print(f"{label}: {sum(counts.values())}", markup=False)
        for key, count in counts.items():
            out.print(f"  {key}: {count}", markup=False)
    out.print(
        f"activities whose associations would differ: {result.associations_differ}", markup=False
    )
    if not result.changed:
        out.print("no difference", markup=False)


@app.command("report")
def report_command(
    since: Annotated[str, typer.Option(help=f"The window from: {_SINCE_HELP}.")] = "7d",
    as_json: JsonOption = False,
) -> None:
    """The health report: owner flapping, unowned new leads, timeline overload, activities
    not created or arriving less than usual, unmapped users, deactivated owners, dead letters
    and inbox lag. Exits 1 when an alert fires (for cron)."""
    from leadsync.ops.replay import since_ts

    with _errors(), _workspace() as ws:
        result = ws.report(since_ts(since))
        names = ws.owner_names()
    if as_json:
        _print_json(result.to_dict())
    else:
        out.print(
            f"health report from {display_ts(result.since)} to {display_ts(result.until)}: "
            f"{len(result.alerts)} alerts",
            markup=False,
        )
        for finding in result.findings:
            mark = "[bold red]ALERT[/]" if finding.alert else "ok   "
            out.print(f"{mark} {finding.check}: {_escape(finding.summary)}", markup=True)
            if finding.alert or finding.check == "activities_not_created":
                for row in finding.rows[:20]:
                    out.print(f"        {_row_text(finding.check, row, names)}", markup=False)
    if result.alerts:
        raise typer.Exit(1)


def _row_text(check: str, row: dict[str, Any], names: Mapping[str, str]) -> str:
    """A report row in plain words: ``contact 12, changes 4``, ``owner 103 Cy Oh, still
    mapped from dialer:u-9``, ``no email``; skips as ``dialer call: REASON: COUNT``. Nested
    lists are left to --json and the ``records show`` line."""
    if check == "activities_not_created":
        return f"{row['integration']} {row['type']}: {row['reason']}: {row['activities']}"
    parts = []
    for key, value in row.items():
        label = key.replace("_", " ")
        if key == "show" or isinstance(value, list):
            continue
        if key == "record" and isinstance(value, dict):
            parts.append(_plain(value))
        elif key.endswith("owner_id"):
            parts.append(f"{label.removesuffix(' id')} {_owner(value, names)}")
        elif value is None:
            parts.append(f"no {label}")
        else:
            parts.append(f"{label} {_plain(value)}")
    return ", ".join(parts) + (f"  ({row['show']})" if "show" in row else "")


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
    since: Annotated[str | None, typer.Option(help=f"From when: {_SINCE_HELP}.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Put back the owners that decisions changed, unless a later change superseded them
    (those are listed with the change that did); the undo is recorded as decisions."""
    from leadsync.ops.replay import since_ts

    with _errors(), _workspace() as ws:
        cutoff = since_ts(since) if since is not None else None
        result = ws.undo(event, integration, cutoff, dry_run=dry_run)
    if as_json:
        _print_json(result.to_dict())
        return
    restore = "would restore" if dry_run else "restored"
    for item in result.restored:
        record = item["record"]
        out.print(f"{restore} {record['type']} {record['id']}: {item['reason']}", markup=False)
    for item in result.skipped:
        record = item["record"]
        out.print(f"skipped {record['type']} {record['id']}: {item['reason']}", markup=False)
    summary = f"{len(result.restored)} {restore}, {len(result.skipped)} skipped"
    out.print(summary + (" (dry run: nothing was written)" if dry_run else ""), markup=False)


@app.command("test-lead")
def test_lead_command(
    integration: Annotated[str | None, typer.Argument(help="The integration to test.")] = None,
    rep: Annotated[
        str | None, typer.Option(help="The external user id the test lead and call come from.")
    ] = None,
    cleanup: Annotated[
        bool,
        typer.Option(
            help="Remove every test lead and call instead, and take back the round-robin turns "
            "and external-user counts the tests changed."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send a marked test lead and a test call through the engine, then check that the owner
    matches the mapping and strategy and that the timeline holds the call with the expected
    associations (a call the settings skip passes, with a note). Exits 1 when a check fails."""
    with _errors(), _workspace() as ws:
        if cleanup:
            removed = ws.cleanup_test_leads()
            if as_json:
                _print_json(removed)
            else:
                out.print(
                    f"removed {removed['records']} test records and {removed['activities']} "
                    "test activities",
                    markup=False,
                )
            return
        if integration is None or rep is None:
            raise UserError("give INTEGRATION and --rep EXTERNAL_USER_ID (or --cleanup)")
        result = ws.test_lead(integration, rep)
    if as_json:
        _print_json(result.to_dict())
    else:
        for check in result.checks:
            mark = "pass" if check["passed"] else "FAIL"
            out.print(f"{mark} {check['check']}: {check['detail']}", markup=False)
            if check.get("note"):
                out.print(f"  note: {check['note']}", markup=False)
        verdict = "passed" if result.passed else "failed"
        out.print(
            f"test lead {verdict} (contact {result.record_id}; "
            "leadsync test-lead --cleanup removes test records)",
            markup=False,
        )
    if not result.passed:
        raise typer.Exit(1)


@rollout_app.command("promote")
def rollout_promote(
    integration: Annotated[str, typer.Argument(metavar="INTEGRATION")],
    as_json: JsonOption = False,
) -> None:
    """Make the rollout's proposed settings the integration's settings for every record."""
    with _errors(), _workspace() as ws:
        settings = ws.rollout_promote(integration)
    if as_json:
        _print_json(integration_to_dict(settings))
    else:
        out.print(f"{integration}: the rollout's settings are now current", markup=False)


@rollout_app.command("abort")
def rollout_abort(
    integration: Annotated[str, typer.Argument(metavar="INTEGRATION")],
    as_json: JsonOption = False,
) -> None:
    """Drop the rollout: every record gets the current settings again."""
    with _errors(), _workspace() as ws:
        settings = ws.rollout_abort(integration)
    if as_json:
        _print_json(integration_to_dict(settings))
    else:
        out.print(
            f"{integration}: rollout dropped; the current settings apply to all", markup=False
        )


@dead_app.command("retry")
def dead_letters_retry(
    letter_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
) -> None:
    """Put a dead letter back in the inbox under the current settings and apply it."""
    with _errors(), _workspace() as ws:
        result = ws.retry_dead_letter(letter_id, by=_user_name())
        applied = ws.process_inbox()
    result["applied"] = applied.events
    if as_json:
        _print_json(result)
        return
    out.print(f"dead letter {letter_id}: {result['resolution']}; applied {applied.events} events")


@users_app.command("list")
def users_list(
    integration: Annotated[str, typer.Argument(metavar="INTEGRATION")],
    as_json: JsonOption = False,
) -> None:
    """External users seen in events or configured, how each maps, and how many events each
    sent: mapped (the explicit map), auto-matched (by email) or unmapped."""
    with _errors(), _workspace() as ws:
        rows = ws.external_users(integration)
        names = ws.owner_names()
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for col in ("id", "email", "name", "status", "owner", "events", "last seen"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            r["id"],
            r["email"] or "-",
            r["name"] or "-",
            r["status"],
            _owner(r["owner_id"], names),
            str(r["events"]),
            display_ts(r["last_seen_at"]),
        )
    out.print(table)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8000,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Apply events in this process too (off when `leadsync worker` runs beside).",
        ),
    ] = True,
    max_body_bytes: Annotated[
        int, typer.Option(min=1, help="Largest webhook body accepted (413 above).")
    ] = 1024 * 1024,
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Base URL vendors call (https://…), when a proxy sits in front; HubSpot signs it."
        ),
    ] = None,
    max_lag_s: Annotated[
        float,
        typer.Option(min=0, help="/readyz answers 503 when the oldest pending event is older."),
    ] = 300.0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    push: Annotated[
        bool,
        typer.Option(
            "--push/--no-push", help="Push to the configured destination (HubSpot) in this process."
        ),
    ] = True,
) -> None:
    """Serve webhooks (POST /webhooks/INTEGRATION), /healthz, /readyz and the admin API
    (/api, bearer token from LEADSYNC_ADMIN_TOKEN; OpenAPI at /openapi.json)."""
    import os

    import uvicorn

    from leadsync.api.app import ServiceOptions, create_service

    with _errors():
        ws = Workspace(state.db, create=False)
    options = ServiceOptions(
        admin_token=os.environ.get("LEADSYNC_ADMIN_TOKEN") or None,
        max_body=max_body_bytes,
        worker=worker,
        public_url=public_url,
        max_lag_s=max_lag_s,
        push=push,
    )
    if options.admin_token is None:
        err.print("note: LEADSYNC_ADMIN_TOKEN is not set; the admin API answers 401", markup=False)
    try:
        uvicorn.run(
            create_service(ws, options),
            host=host,
            port=port,
            log_level=log_level,
            access_log=log_level in ("trace", "debug", "info"),
        )
    finally:
        ws.close()


@app.command("worker")
def worker_command(
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = DEFAULT_BATCH,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between looks when idle.")] = 1.0,
    once: Annotated[bool, typer.Option(help="Drain what is pending, then exit.")] = False,
    push: Annotated[
        bool,
        typer.Option(
            "--push/--no-push", help="Push to the configured destination (HubSpot) as well."
        ),
    ] = True,
) -> None:
    """Apply events from the inbox as they arrive (beside `leadsync serve --no-worker`, as
    many processes as the load needs); with a destination, push to it too."""
    import signal

    from leadsync.pipeline.worker import Worker

    with _errors(), _workspace() as ws:
        loop = Worker(ws.engine, batch_size=batch_size, poll_s=poll)
        if once:
            result = loop.run_once()
            out.print(f"applied {result.events} events")
            return
        pusher = ws.push_loop(poll) if push else None
        signal.signal(signal.SIGTERM, lambda *_: loop.stop_soon())
        err.print("worker: applying events as they arrive (Ctrl-C to stop)", markup=False)
        if pusher is not None:
            err.print("worker: pushing to the destination as changes are queued", markup=False)
            pusher.start()
        try:
            with suppress(KeyboardInterrupt):
                loop.run()
        finally:
            if pusher is not None:
                pusher.stop()
        err.print(f"worker: applied {loop.applied} events", markup=False)


@outbox_app.command("list")
def outbox_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Owner changes waiting to be sent to bidirectional integrations."""
    with _errors(), _workspace() as ws:
        rows = ws.outbox(integration, limit)
        names = ws.owner_names()
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for col in (
        "id",
        "integration",
        "record",
        "external id",
        "owner",
        "external owner",
        "from",
        "status",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["integration"],
            f"{r['record_type']} {r['record_id']}",
            r["external_id"],
            _owner(r["owner_id"], names),
            r["external_owner_id"] or "?",
            r["source"],
            r["status"],
        )
    out.print(table)


@decisions_app.command("list")
def decisions_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    outcome: Annotated[str | None, typer.Option(help="Only set, kept or ignored.")] = None,
    flagged: Annotated[bool, typer.Option(help="Only decisions about unmapped reps.")] = False,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """The newest owner decisions across all records, each with its reason."""
    with _errors(), _workspace() as ws:
        rows = ws.decisions(integration, outcome, flagged, limit)
        names = ws.owner_names()
    if as_json:
        _print_json(rows)
        return
    for r in rows:
        who = r["integration"] or "a person in the CRM"
        out.print(
            f"{display_ts(r['at'])}  {r['record_type']} {r['record_id']}  {r['outcome']:<7} "
            f"{_owner(r['previous_owner_id'], names)} -> {_owner(r['owner_id'], names)}  "
            f"by {who} ({r['strategy']}){'  [flagged]' if r['flagged'] else ''}",
            markup=False,
        )
        out.print(f"    {r['reason']}", markup=False)


_ACTIVITY_TYPE_HELP = "Only this type: call, email, meeting, note or task."


@activities_app.command("list")
def activities_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    since: Annotated[
        str | None, typer.Option(help=f"Only those that happened since then: {_SINCE_HELP}.")
    ] = None,
    activity_type: Annotated[str | None, typer.Option("--type", help=_ACTIVITY_TYPE_HELP)] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Activities created, newest first: the records each is on and why (named by the event,
    or chosen by the association rules), and other tools' activities merged into it."""
    from leadsync.ops.replay import since_ts

    with _errors(), _workspace() as ws:
        cutoff = since_ts(since) if since is not None else None
        rows = ws.activities(integration, cutoff, activity_type, limit)
        names = ws.owner_names()
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for col in ("when", "integration", "type", "external id", "owner", "records: why"):
        table.add_column(col, overflow="fold")
    for r in rows:
        records = "; ".join(f"{link['type']} {link['id']}: {link['why']}" for link in r["records"])
        merged = "".join(
            f"; merged: {m['integration']}:{m['external_id']}" for m in r["merged_from"]
        )
        table.add_row(
            display_ts(r["occurred_at"]),
            r["integration"],
            r["type"],
            r["external_id"] or "-",
            _owner(r["owner_id"], names),
            (records or "none") + merged,
        )
    out.print(table)


@activities_app.command("skipped")
def activities_skipped(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    since: Annotated[
        str | None, typer.Option(help=f"Only those that happened since then: {_SINCE_HELP}.")
    ] = None,
    activity_type: Annotated[str | None, typer.Option("--type", help=_ACTIVITY_TYPE_HELP)] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Activities that were received but not created: why, and the record each was for."""
    from leadsync.ops.replay import since_ts

    with _errors(), _workspace() as ws:
        cutoff = since_ts(since) if since is not None else None
        rows = ws.skipped_activities(integration, limit, cutoff, activity_type)
    if as_json:
        _print_json(rows)
        return
    table = Table()
    for col in ("when", "integration", "type", "external id", "record", "reason"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            display_ts(r["occurred_at"]),
            r["integration"],
            r["type"],
            r["external_id"] or "-",
            _skipped_record(r["record"]),
            r["reason"],
        )
    out.print(table)


def _skipped_record(record: dict[str, Any] | None) -> str:
    if record is None:
        return "-"
    if record["id"] is None:
        return f"{record['type']} {record['named']} (not in the workspace)"
    return f"{record['type']} {record['id']}"


DEMO_FILE = "leadsync-demo.db"
DEMO_MARK = "demo_workspace"


@app.command()
def demo(
    path: Annotated[
        Path, typer.Option("--file", help="The demo's own workspace file (made anew each run).")
    ] = Path(DEMO_FILE),
) -> None:
    """The whole path on the bundled sample, in a workspace file of its own (never --db or
    LEADSYNC_DB): a local HubSpot STAND-IN starts, owners are pulled from it, the sample is
    ingested, decisions are pushed, and the contact is shown as HubSpot now has it."""
    from leadsync.demo import run_demo

    with _errors():
        run_demo(path, out)


def main() -> None:
    app()


# The HubSpot commands (owners pull, hubspot setup|fake, push …) register themselves on `app`.
from leadsync.cli import hubspot as _cli_hubspot  # noqa: E402

__all__ = ["app", "main", "_cli_hubspot"]
