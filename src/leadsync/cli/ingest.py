"""``leadsync ingest``, ``inbox status|process`` and ``outbox list``: the queues events go
through, filled from a file and drained."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import (
    JsonOption,
    app,
    inbox_app,
    limit_option,
    open_input,
    outbox_app,
    places_in,
    workspace,
)
from leadsync.model import display_ts
from leadsync.pipeline.inbox import IngestSummary
from leadsync.pipeline.input_file import WHOLE_FILE_MAX_BYTES, InputFile
from leadsync.progress import WorkProgress
from leadsync.results import counted
from leadsync.workspace import DEFAULT_BATCH, Workspace


@app.command()
def ingest(
    integration: Annotated[str, typer.Argument(help="The integration the events come from.")],
    file: Annotated[
        str,
        typer.Argument(
            help="A JSONL file, or - for stdin: canonical events (one, or an array, per line) "
            "for a generic integration; for a vendor, one captured webhook body per line (or "
            '{"headers": ..., "body": ...}). A file of pretty-printed JSON documents (at '
            f"most {WHOLE_FILE_MAX_BYTES // 2**20} MiB) is read whole, a line per document; "
            "one of an XML document (a Salesforce Outbound Message, from stdin too) is one "
            "body."
        ),
    ],
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per batch.")
    ] = DEFAULT_BATCH,
    as_json: JsonOption = False,
) -> None:
    """Write events to the durable inbox, then apply them. Exits 2 when a line failed. With
    --json, a refusal of the whole input is a JSON object on stdout too ({"ok": false,
    "errors": [{"place", "message"}]}), as apply's is."""
    with workspace() as ws, places_in("<stdin>" if file == "-" else file):
        ws.integration(integration)
        if file == "-":  # a stream: read line by line as it comes
            stdin = InputFile(sys.stdin.buffer, whole=False)
            summary = _ingest(ws, integration, stdin, "<stdin>", batch_size)
        else:
            with open_input(file, binary=True) as handle:
                summary = _ingest(ws, integration, InputFile(handle), file, batch_size)
    if as_json:
        render.print_json(summary)
    else:
        _print_summary(render.json_of(summary))
    if not summary.ok:
        raise typer.Exit(2)


def _ingest(
    ws: Workspace, integration: str, lines: InputFile, source: str, batch_size: int
) -> IngestSummary:
    """``ws.ingest`` with its progress on stderr: bytes read of the file's size (unknown for
    a pipe), and lines read."""
    done = [0]  # lines of the chunks stored and applied

    def chunk_done(count: int) -> None:
        done[0] += count
        progress.update(lines.bytes, lines=lines.lines)

    try:
        with WorkProgress(render.err, "ingest", lines.size, unit="bytes") as progress:
            return ws.ingest(
                integration, lines, source=source, batch_size=batch_size, on_progress=chunk_done
            )
    except KeyboardInterrupt:
        # Every chunk is its own transaction: what was stored stays, nothing is half-stored.
        render.error(
            f"interrupted after reading {counted(lines.lines, 'line')} of {source}; the "
            f"{done[0]:,} before the chunk under way were stored and applied, and stay so: "
            "run the same command again to go on (the lines stored already are counted as "
            "duplicates, never applied twice)"
        )
        raise typer.Exit(130) from None


def _print_summary(s: Mapping[str, Any]) -> None:
    owners = s["owners"]
    acts = s["activities"]
    dead = s["dead_letter_count"] + s["failed_count"]
    # An event of a kind leadsync does not sync, or one naming no field it reads (a Salesforce
    # Outbound Message selecting none of them): what is in it, not the kind, is unused.
    unused = f" ({s['unused']:,} read as nothing: no event or field leadsync keeps)"
    render.line(
        f"{s['integration']}: {counted(s['lines'], 'line')}, {s['accepted']:,} accepted"
        f"{unused if s['unused'] else ''}, {counted(s['duplicates'], 'duplicate')}, "
        f"{counted(dead, 'dead letter')}"
        + (f" ({s['dismissed']:,} dismissed before, not kept again)" if s["dismissed"] else "")
        + (
            f"; {counted(s['letters_closed'], 'dead letter')} of earlier runs closed: "
            "their events were accepted now"
            if s["letters_closed"]
            else ""
        )
    )
    render.line(
        f"applied {counted(s['applied'], 'event')}: "
        f"{counted(s['records_created'], 'record')} created; owners "
        f"{owners['set']:,} set, {owners['kept']:,} kept, {owners['ignored']:,} ignored "
        f"({s['flagged']:,} flagged); activities {acts['created']:,} created, "
        f"{acts['updated']:,} updated ({acts['merged']:,} merged with another tool's), "
        f"{acts['skipped']:,} skipped"
    )
    render.counterparts(s["counterparts"])
    if s["lines_unread"]:
        render.line(
            f"own lines not learned: {s['lines_unread']:,} (a line the tool named whose number "
            "does not read as a phone number — a national one needs the integration's "
            "region: — `leadsync preview` says which)"
        )
    render.dead_letters(s)


@inbox_app.command("status")
def inbox_status(as_json: JsonOption = False) -> None:
    """How many events the inbox holds per integration and status."""
    with workspace() as ws:
        rows = ws.inbox_counts()
    if as_json:
        render.print_json(rows)
        return
    render.table(
        ("integration", "status", "events"),
        ((r["integration"], r["status"], str(r["count"])) for r in rows),
        right=("events",),
        empty="the inbox is empty",
    )


@inbox_app.command("process")
def inbox_process(
    batch_size: Annotated[
        int, typer.Option(min=1, max=100_000, help="Events per batch.")
    ] = DEFAULT_BATCH,
    as_json: JsonOption = False,
) -> None:
    """Apply the events still pending in the inbox (after a crash or from intake). --json
    prints ingest's shape (no lines read; integration null: every integration)."""
    with workspace() as ws:
        summary = ws.process_inbox(batch_size)
    if as_json:
        render.print_json(summary)
    else:
        render.line(f"applied {counted(summary.events, 'pending event')}")
        render.dead_letters(render.json_of(summary))


@outbox_app.command("list")
def outbox_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    limit: Annotated[int, limit_option("At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Owner changes waiting to be sent to bidirectional integrations."""
    with workspace() as ws:
        rows, more = render.cut(ws.outbox(integration, limit + 1), limit)
        names = ws.owner_names()
    if as_json:
        render.print_json(rows)
        return
    render.table(
        (
            "id", "integration", "record", "external id", "owner", "external owner", "from",
            "status", "echo",
        ),
        (
            (
                str(r["id"]),
                r["integration"],
                f"{r['record_type']} {r['record_id']}",
                r["external_id"],
                render.owner(r["owner_id"], names),
                _external_owner(r),
                r["source"],
                r["status"],
                _echo(r),
            )
            for r in rows
        ),
        empty=render.nothing("owner changes waiting in the outbox", integration),
    )  # fmt: skip
    if more:
        render.more_note(limit, "owner changes")


def _external_owner(row: dict[str, Any]) -> str:
    """The tool's user the owner is written as: ``none`` for a cleared owner (the tool's
    owner is cleared), ``?`` where the owner maps to none of the tool's users."""
    if row["owner_id"] is None:
        return "none"
    return row["external_owner_id"] or "?"


def _echo(row: dict[str, Any]) -> str:
    """What became of the owner written, as the tool reported it back (rules/echoes.py)."""
    echo = row["echo"]
    if echo is None:
        return "-"
    if echo == "awaited":
        until = row["awaited_until"]
        return f"awaited until {display_ts(until)}" if until else "awaited"
    return f"{echo} by {row['echo_event_id']} at {display_ts(row['echo_at'])}"
