"""The command tree of ``leadsync``: the Typer app, its groups, the global ``--db`` option, the
workspace every command opens, and the one error handler.

The groups are declared here, in the order ``leadsync --help`` lists them; the modules beside
this one attach their commands to them (top-level commands are listed in the order those
modules are imported by :mod:`leadsync.cli`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal, TextIO, overload

import sqlalchemy as sa
import typer

from leadsync.cli import render
from leadsync.errors import LeadsyncError, UserError
from leadsync.ops import listings
from leadsync.store.database import head_revision, resolve_url, shown_url
from leadsync.workspace import Workspace

app = typer.Typer(
    name="leadsync",
    help="Keep record ownership and activities right when sales tools write into your CRM.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _group(
    name: str,
    help: str,
    parent: typer.Typer = app,
    no_args_is_help: bool = True,
    invoke_without_command: bool = False,
) -> typer.Typer:
    group = typer.Typer(
        help=help, no_args_is_help=no_args_is_help, invoke_without_command=invoke_without_command
    )
    parent.add_typer(group, name=name)
    return group


def flow_help(group: typer.Typer) -> None:
    """Each command's line in its group's list: the first paragraph of its docstring as one
    line, for Rich to wrap (it keeps a docstring's line breaks there, and the list came out
    ragged at 80 columns). A command's own ``--help`` is left as written."""
    for info in group.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        first = doc.split("\n\n")[0]
        if info.short_help is None and "\n" in first:
            info.short_help = " ".join(first.split())
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            flow_help(sub.typer_instance)


records_app = _group("records", "Read records, find them, and change their owner.")
decisions_app = _group("decisions", "Owner decisions and their reasons.")
activities_app = _group("activities", "Activities received from integrations.")
owners_app = _group("owners", "The CRM owners of the workspace.")
inbox_app = _group("inbox", "The durable inbox of events.")
dead_letters_app = _group("dead-letters", "Events that could not be read or applied.")
review_app = _group(
    "review", "Questions the engine would not guess: list them, see one, answer it."
)
outbox_app = _group("outbox", "Owner changes queued for bidirectional integrations.")
users_app = _group("users", "External users of an integration and how they map to owners.")
lines_app = _group(
    "lines", "The company's own phone lines: declared in own_numbers or learned from the tools."
)
rollout_app = _group("rollout", "Staged rollouts: proposed settings for a share of records.")
hubspot_app = _group(
    "hubspot", "The HubSpot portal: check and prepare it; a local stand-in for tests and the demo."
)
# `leadsync push` runs itself (its callback) when no subcommand is given.
push_app = _group(
    "push",
    "Push decisions to HubSpot: drain the queue, see its state, handle refused inputs.",
    no_args_is_help=False,
    invoke_without_command=True,
)
push_failures_app = _group("failures", "Inputs HubSpot refused.", parent=push_app)


def _json_asked(value: bool) -> bool:
    """Remember ``--json`` for :func:`handle_errors`: a refusal is then JSON too."""
    state.as_json = value
    return value


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON for machines.", callback=_json_asked)
]


# The most rows a list shows (its help says the range; a page asks for one row more, to tell
# whether another follows). Every row is in the CSV and JSON exports.
LIST_MAX = 1_000_000


def limit_option(help_text: str | None = None) -> Any:
    """A list's ``--limit``: from 1 to :data:`LIST_MAX`."""
    return typer.Option(min=1, max=LIST_MAX, help=help_text)


SINCE_HELP = "30d, 12h, 90m, a date (2026-11-01), or an ISO time (UTC without an offset)"


class _State:
    db: str | None = None
    as_json: bool = False


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
            "holds none. It may follow the command too.",
            show_default=False,
        ),
    ] = None,
) -> None:
    # LEADSYNC_DB is read by the workspace (store.database), whose messages then say so.
    if db is not None and not db.strip():
        with handle_errors():
            raise UserError(
                "--db is empty; allowed: a database URL or a plain path (a SQLite file), or "
                "no --db for LEADSYNC_DB, else sqlite:///leadsync.db"
            )
    state.db = db
    state.as_json = False


def user_name() -> str:
    """Who runs the command (the system's user name), kept with what it changes."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "unknown"


@contextmanager
def handle_errors() -> Iterator[None]:
    """The one error handler: leadsync's own errors become their messages (one ``error:``
    line each, on stderr) and the exit code their class declares
    (:attr:`~leadsync.errors.LeadsyncError.exit_code`: 2 for input you can fix, 1 for a
    failure that may pass); a command given ``--json`` prints them first as one JSON object
    on stdout, ``{"ok": false, "errors": [{"place", "message"}]}`` — each error's ``place``
    (``SOURCE:LINE`` or ``SOURCE`` of the input :func:`places_in` names, null when it
    is not in an input) and ``message`` (the rest of its line). Anything else is a bug and
    keeps its traceback."""
    try:
        yield
    except LeadsyncError as exc:
        if state.as_json:
            errors = [_placed(m, exc.source) for m in exc.messages()]
            render.print_json({"ok": False, "errors": errors})
        for message in exc.messages():
            render.error(message)
        raise typer.Exit(exc.exit_code) from None


@contextmanager
def workspace(create: bool = False) -> Iterator[Workspace]:
    """The workspace of --db / LEADSYNC_DB, closed after the block, with the block's errors
    handled by :func:`handle_errors`. Only the commands that declare one (``init``,
    ``apply``) pass ``create``: the others refuse a database that holds no workspace, so a
    mistyped name is caught rather than becoming an empty workspace."""
    with handle_errors():
        ws = open_workspace(create)
        try:
            yield ws
        finally:
            ws.close()


@contextmanager
def places_in(source: str) -> Iterator[None]:
    """A refusal of the block is placed in ``source`` (a file, ``<stdin>``): with ``--json``,
    :func:`handle_errors` splits its lines into that place and the message."""
    try:
        yield
    except LeadsyncError as exc:
        exc.source = source
        raise


def _placed(message: str, source: str | None) -> dict[str, str | None]:
    """An error line ``SOURCE[:LINE]: message`` split into its place and message."""
    if source is not None and message.startswith(f"{source}:"):
        line, sep, rest = message[len(source) + 1 :].partition(": ")
        if sep and line.isdigit():
            return {"place": f"{source}:{line}", "message": rest}
        if message.startswith(f"{source}: "):
            return {"place": source, "message": message[len(source) + 2 :]}
    return {"place": None, "message": message}


def open_workspace(create: bool = False) -> Workspace:
    """The workspace of --db / LEADSYNC_DB (see :func:`workspace`); with ``create``, a SQLite
    file in a folder that does not exist is said as such (UserError, exit 2)."""
    if create:
        _check_sqlite_folder(state.db)
    ws = Workspace(state.db, create=create)
    for revision in ws.upgraded_from:
        render.note(
            f"workspace {shown_url(state.db)} upgraded from schema {revision} to "
            f"{head_revision()} (restart every serve and worker on it with this version)"
        )
    return ws


def _check_sqlite_folder(db: str | None) -> None:
    """A SQLite file can be created only in a folder that exists: say so (exit 2) rather
    than "unable to open database file"."""
    try:
        url = sa.engine.make_url(resolve_url(db))
    except (sa.exc.ArgumentError, ValueError):
        return  # the workspace says what is wrong with the URL
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return
    if database.startswith("file:"):
        return
    check_folder(Path(database), f"database {shown_url(db)}")


def check_folder(file: Path, named: str) -> None:
    """A file can be created only in a folder that exists: a UserError (exit 2) naming the
    folder, with ``named`` (how the user gave the file) before it, when it does not."""
    folder = file.expanduser().parent
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise UserError(
            f"{named}: the folder {folder} {what}; create it first, or name a file in a "
            "folder that exists"
        )


def check_integration(ws: Workspace, name: str | None) -> None:
    """An ``--integration`` filter names a known integration, else it is refused (exit 2,
    naming the configured ones) rather than listing nothing: the core's one check
    (:func:`leadsync.ops.listings.check_filter`), as the admin API and the console make."""
    listings.check_filter(ws.engine, ws.rules(), name)


@overload
def open_input(file: str, binary: Literal[True]) -> BinaryIO: ...
@overload
def open_input(file: str, binary: Literal[False]) -> TextIO: ...
def open_input(file: str, binary: bool) -> BinaryIO | TextIO:
    """A file named on the command line, open for reading (text: UTF-8, undecodable bytes
    replaced); one that is missing, a folder or unreadable is a UserError naming it."""
    path = Path(file)
    if not path.exists():
        raise UserError(f"{file}: no such file")
    try:
        if binary:
            return path.open("rb")
        return path.open(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"{file}: cannot read: {exc.strerror or exc}") from None


def db_first(args: list[str]) -> list[str]:
    """``--db`` wherever it is given, before the command, where it belongs (``leadsync apply
    --db URL FILE`` said "No such option: --db"); what follows ``--`` is left as it is."""
    front: list[str] = []
    rest: list[str] = []
    at = 0
    while at < len(args):
        arg = args[at]
        if arg == "--":
            rest.extend(args[at:])
            break
        if arg == "--db" and at + 1 < len(args):
            front += args[at : at + 2]
            at += 2
            continue
        (front if arg.startswith("--db=") else rest).append(arg)
        at += 1
    return front + rest


def main() -> None:
    """The console script ``leadsync``. SIGTERM (a deploy, ``kill``, a container stop) ends a
    command as Ctrl-C does, through its cleanup — a one-shot ``push`` gives its lease up, a
    transaction under way is rolled back — with exit 143; ``serve`` and ``worker`` put their
    own handler in its place (stop after the work under way)."""
    import signal
    import sys

    signal.signal(signal.SIGTERM, _terminated)
    args = db_first(sys.argv[1:])
    if not _json_logs(args):
        app(args)
        return
    try:  # a usage error is a JSON log line too, as every other line of stderr then
        code = app(args, standalone_mode=False)
    except typer.exceptions.TyperException as exc:  # click's usage errors, as typer has them
        from leadsync.logs import configure_logging

        configure_logging("json")
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        said = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        logging.getLogger("leadsync.cli").error("%s%s", where, said)
        raise SystemExit(getattr(exc, "exit_code", 2)) from None
    except typer.Abort:
        raise SystemExit(1) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _json_logs(args: list[str]) -> bool:
    """Whether the command was asked for JSON logs (``--log-format json``, or
    ``LEADSYNC_LOG_FORMAT=json`` in the environment)."""
    import os

    given = [a.split("=", 1)[1] for a in args if a.startswith("--log-format=")]
    given += [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--log-format"]
    return (given[-1] if given else os.environ.get("LEADSYNC_LOG_FORMAT", "")).lower() == "json"


def _terminated(signum: int, _frame: object) -> None:
    # Nothing printed: serve's uvicorn raises the signal again once it has shut down (and
    # logged so, perhaps as JSON lines), which lands here.
    raise SystemExit(128 + signum)


def check_port(option: str, host: str, port: int) -> None:
    """Exit 2 naming ``option`` when nothing can listen on ``host:port`` (taken, or an
    address this machine does not have), before the server starts and says it runs there:
    uvicorn's own refusal is a log line and exit 3. Port 0 (any free one) always can."""
    import errno
    import socket

    if port == 0:
        return
    with handle_errors():
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:  # the host, not the port: no such address or name
            raise UserError(
                f"--host {host}: not an address, nor a name this machine resolves "
                f"({exc.strerror or exc}); allowed: an address of this machine (127.0.0.1, "
                "0.0.0.0 for all) or a name that resolves to one"
            ) from None
        family, kind, proto, _name, address = infos[0]
        try:
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
                probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:  # an address, but none of this machine's
                raise UserError(
                    f"--host {host}: not an address of this machine ({exc.strerror}); "
                    "allowed: one of its addresses (127.0.0.1, 0.0.0.0 for all)"
                ) from None
            raise UserError(f"{option} {port}: cannot listen on {host}: {exc}") from exc
