"""``leadsync init``, ``apply`` and ``export``: the workspace and its declared configuration."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from leadsync.cli import render
from leadsync.cli.app import JsonOption, app, handle_errors, open_workspace, state, workspace
from leadsync.errors import LeadsyncError, UserError
from leadsync.ops.settings_change import Actor, ManagedBy
from leadsync.settings import WorkspaceConfig, dump_config, load_config_file
from leadsync.store.config import ConfigChanges
from leadsync.store.database import shown_url
from leadsync.workspace import Workspace


@app.command()
def init() -> None:
    """Create the workspace database, or bring its schema up to date."""
    with workspace(create=True) as ws:
        what = "created or upgraded" if ws.migrated else "already up to date"
        render.line(f"workspace {shown_url(state.db)}: schema {what}")


@app.command()
def apply(
    file: Annotated[Path, typer.Argument(help="The workspace file (YAML).", show_default=False)],
    managed: Annotated[
        bool,
        typer.Option(
            "--managed",
            help="Mark the workspace managed by this file: the console and the admin API "
            "then show or refuse changes instead of saving them.",
        ),
    ] = False,
    unmanaged: Annotated[
        bool,
        typer.Option("--unmanaged", help="The workspace is no longer managed by a file."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Declare owners, teams and integrations from a YAML file (idempotent; all or nothing;
    recorded in the audit log). With --json, a refusal is a JSON object on stdout too
    ({"ok": false, "errors": [{"place", "message"}]}), with the same exit code."""
    with handle_errors(), _refusal_as_json(file, as_json):
        if managed and unmanaged:
            raise UserError("--managed and --unmanaged contradict each other; give one")
        config = load_config_file(file)
        by = Actor("admin", f"cli: leadsync apply {file}")
        ws = open_workspace(create=True)
        try:
            changes = _apply(ws, config, file, by, managed, unmanaged)
        finally:
            ws.close()
    if as_json:
        render.print_json({"ok": True, "changed": changes.changed, **render.json_of(changes)})
        return
    if not changes.changed:
        render.line(f"{file}: no changes; the workspace already matches")
        return
    for key, items in render.json_of(changes).items():
        if items:
            render.line(f"{key.replace('_', ' ')}: {_first_few(items)}")


SUMMARY_SHOWN = 10  # ids of each list named in apply's summary; --json has them all


def _first_few(items: list[str]) -> str:
    """The first :data:`SUMMARY_SHOWN` of a summary's list, and how many more there are."""
    shown = ", ".join(items[:SUMMARY_SHOWN])
    rest = len(items) - SUMMARY_SHOWN
    return f"{shown} … and {rest} more" if rest > 0 else shown


def _apply(
    ws: Workspace,
    config: WorkspaceConfig,
    file: Path,
    by: Actor,
    managed: bool,
    unmanaged: bool,
) -> ConfigChanges:
    current = ws.managed_file()
    if current is not None and not (managed or unmanaged) and not _same_file(current, file):
        raise UserError(
            f"{file}: the workspace is managed by {current} (leadsync apply --managed); "
            f"applying another file would leave the console and the admin API pointing "
            f"admins at {current}. Apply {current}, or pass --managed to make {file} the "
            "workspace's file (--unmanaged: managed by no file)"
        )
    if "owners" not in config.model_fields_set:
        _refuse_archiving_every_owner(ws, file)
    # Marked by its full path: the same file, wherever apply runs from.
    marked = ManagedBy(str(file.resolve()), managed) if managed or unmanaged else None
    return ws.apply_config(config, by=by, managed=marked)


@contextmanager
def _refusal_as_json(file: Path, as_json: bool) -> Iterator[None]:
    """With ``--json``, a refusal printed as one JSON object on stdout before the error lines
    and exit code of :func:`handle_errors`: each error's ``place`` (``FILE:LINE``, ``FILE``,
    or null when it is not in the file) and ``message`` (the rest of its line)."""
    try:
        yield
    except LeadsyncError as exc:
        if as_json:
            render.print_json(
                {"ok": False, "errors": [_placed(m, str(file)) for m in exc.messages()]}
            )
        raise


def _placed(message: str, source: str) -> dict[str, str | None]:
    """An error line ``SOURCE[:LINE]: message`` split into its place and message."""
    if message.startswith(f"{source}:"):
        line, sep, rest = message[len(source) + 1 :].partition(": ")
        if sep and line.isdigit():
            return {"place": f"{source}:{line}", "message": rest}
        if message.startswith(f"{source}: "):
            return {"place": source, "message": message[len(source) + 2 :]}
    return {"place": None, "message": message}


def _refuse_archiving_every_owner(ws: Workspace, file: Path) -> None:
    """A file that lists no owners would archive every owner the workspace has, as an empty
    file would (refused when it is read): more likely a file cut short, or one meant for
    another command, than what is meant; it is said explicitly with ``owners: []``."""
    kept = [o["id"] for o in ws.owners() if not o["archived"]]
    if kept:
        shown = ", ".join(kept[:5]) + (f" … ({len(kept) - 5} more)" if len(kept) > 5 else "")
        raise UserError(
            f"{file}: the file lists no owners (no owners: key), so applying it would archive "
            f"every owner of the workspace ({shown}); list them, write owners: [] to archive "
            "them all, or owners: {source: hubspot} to take them from HubSpot"
        )


def _same_file(marked: str, file: Path) -> bool:
    """Whether ``file`` is the file the workspace is marked managed by (a mark made before
    marks held full paths is read from the current folder)."""
    try:
        return Path(marked).resolve() == file.resolve() or Path(marked).samefile(file)
    except OSError:
        return False


@app.command()
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
) -> None:
    """Write the workspace's configuration back as YAML (what `apply` reads)."""
    with workspace() as ws:
        text = dump_config(ws.export_config())
    if output is None:
        render.document(text)
    else:
        with handle_errors():
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:  # a folder that does not exist, a folder, no permission
                raise UserError(
                    f"{output}: cannot write: {exc.strerror or exc}; allowed: a file path in "
                    "a folder that exists, writable"
                ) from None
        render.note(f"wrote {output}")
