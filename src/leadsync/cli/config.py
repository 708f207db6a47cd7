"""``leadsync init``, ``apply`` and ``export``: the workspace and its declared configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leadsync.cli import render
from leadsync.cli.app import (
    JsonOption,
    app,
    handle_errors,
    open_workspace,
    places_in,
    state,
    user_name,
    workspace,
)
from leadsync.errors import UserError
from leadsync.ops.settings_change import (
    MANAGED_SETTING,
    Actor,
    ManagedBy,
    apply_warnings,
    reordered_text,
    yaml_diff,
)
from leadsync.settings import (
    STDIN,
    PlacedLater,
    WorkspaceConfig,
    dump_config,
    file_place,
    load_config,
    load_config_file,
    read_stdin,
)
from leadsync.store.config import ConfigChanges
from leadsync.store.database import shown_url
from leadsync.workspace import Workspace
from leadsync.workspace_config import plan_config


@app.command()
def init() -> None:
    """Create the workspace database, or bring its schema up to date."""
    with workspace(create=True) as ws:
        what = "created or upgraded" if ws.migrated else "already up to date"
        render.line(f"workspace {shown_url(state.db)}: schema {what}")


@app.command()
def apply(
    file: Annotated[
        Path,
        typer.Argument(
            help="The workspace file (YAML); - reads it from stdin (git show REV:FILE | …).",
            show_default=False,
        ),
    ],
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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Show what applying the file would change (the lists, then the YAML diff "
            "of the exported workspace file) and change nothing; refused as apply would be "
            "(a file the workspace is not managed by is shown, with a warning).",
        ),
    ] = False,
    by: Annotated[
        str | None,
        typer.Option(
            help="Who applies it, for the audit log (default: your user name; in CI, e.g. "
            "the pipeline's actor and commit)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Declare owners, teams and integrations from a YAML file (idempotent; all or nothing;
    recorded in the audit log; --dry-run first shows what it would change). With --json, a
    refusal is a JSON object on stdout too ({"ok": false, "errors": [{"place", "message"}]}),
    with the same exit code."""
    warnings: list[str] = []
    diff = ""
    stdin = str(file) == "-"
    file = Path(STDIN) if stdin else file  # every message names it so
    with handle_errors(), places_in(str(file)):
        if managed and unmanaged:
            raise UserError("--managed and --unmanaged contradict each other; give one")
        if managed and stdin:
            raise UserError(
                "--managed marks the workspace with a file's path, and stdin has none: apply "
                "the file itself with --managed"
            )
        config = (
            load_config(read_stdin(), STDIN, warnings)
            if stdin
            else load_config_file(file, warnings)
        )
        who = Actor("admin", f"cli: leadsync apply {file} ({by or user_name()})")
        # A dry run writes nothing: not even a new workspace.
        ws = open_workspace(create=not dry_run)
        try:
            if "integrations" in config.model_fields_set:
                now = ws.rules().integrations
                pulled = config.owners_from_crm
                warnings += apply_warnings(ws.engine, now, config.integrations, pulled)
            if dry_run:
                changes, diff = _plan(ws, config, file, managed, unmanaged, warnings)
            else:
                changes = _apply(ws, config, file, who, managed, unmanaged)
        except PlacedLater as exc:  # checked against the workspace: placed in the file
            raise exc.at(file_place(file)) from None
        finally:
            ws.close()
    for warning in warnings:
        render.note(f"warning: {warning}")
    if as_json:
        answer = {"ok": True, "changed": changes.changed, **render.json_of(changes)}
        answer["reordered"] = changes.reordered
        extra = {"dry_run": True, "yaml_diff": diff} if dry_run else {}
        render.print_json({**answer, **extra, "warnings": warnings})
        return
    if not changes.written and not diff:
        render.line(f"{file}: no changes; the workspace already matches")
        return
    if not changes.changed and not dry_run:
        render.line(
            f"{file}: no change leadsync reads; the new order of "
            f"{_first_few(changes.reordered)} is kept for export"
        )
        return
    if dry_run:
        render.line(f"{file}: applying it would change (--dry-run: nothing changed):")
    for key, items in render.json_of(changes).items():
        shown = [item for item in items if item != MANAGED_SETTING]
        if shown:
            render.line(f"{key.replace('_', ' ')}: {_first_few(shown)}")
    if MANAGED_SETTING in changes.settings_changed:  # in words, not the setting's name
        render.line(
            f"managed by file: on ({file})" if managed else "managed by file: off (no file)"
        )
    if changes.reordered:
        render.line(reordered_text(_first_few(changes.reordered)))
    if diff:
        render.document(diff)


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
    marked = _checked(ws, config, file, managed, unmanaged)
    return ws.apply_config(config, by=by, managed=marked)


def _plan(
    ws: Workspace,
    config: WorkspaceConfig,
    file: Path,
    managed: bool,
    unmanaged: bool,
    warnings: list[str],
) -> tuple[ConfigChanges, str]:
    """``apply --dry-run``: what applying would change, and the YAML diff of the exported
    workspace file (``current.yaml`` → ``proposed.yaml``, as the audit log has it); nothing
    is written. A file the workspace is not managed by is planned all the same (a pull
    request's copy, checked out elsewhere), with a warning that applying it is refused."""
    marked = _checked(ws, config, file, managed, unmanaged, warnings)
    changes, after = plan_config(ws.engine, config)
    if marked is not None and ws.managed_file() != (marked.file if marked.on else None):
        changes.settings_changed.append(MANAGED_SETTING)
    return changes, yaml_diff(dump_config(ws.export_config()), dump_config(after))


def _checked(
    ws: Workspace,
    config: WorkspaceConfig,
    file: Path,
    managed: bool,
    unmanaged: bool,
    warnings: list[str] | None = None,
) -> ManagedBy | None:
    """apply's refusals before anything is applied (a file the workspace is not managed
    by — a warning in ``warnings`` instead, for a dry run —, a file that would archive every
    owner or remove every integration), and the mark ``--managed``/``--unmanaged`` asks
    for."""
    current = ws.managed_file()
    if current is not None and not (managed or unmanaged) and not _same_file(current, file):
        said = (
            f"the workspace is managed by {current} (leadsync apply --managed); "
            f"applying another file would leave the console and the admin API pointing "
            f"admins at {current}. Apply {current}, or pass --managed to make {file} the "
            "workspace's file (--unmanaged: managed by no file)"
        )
        if warnings is None:
            raise UserError(f"{file}: {said}")
        warnings.append(f"applying {file} is refused without --managed: {said}")
    if "owners" not in config.model_fields_set:
        _refuse_archiving_every_owner(ws, file)
    if "integrations" not in config.model_fields_set:
        _refuse_removing_every_integration(ws, file)
    # Marked by its full path: the same file, wherever apply runs from.
    return ManagedBy(str(file.resolve()), managed) if managed or unmanaged else None


def _refuse_archiving_every_owner(ws: Workspace, file: Path) -> None:
    """A file that lists no owners would archive every owner the workspace has, as an empty
    file would (refused when it is read): more likely a file cut short, or one meant for
    another command, than what is meant; it is said explicitly with ``owners: []``."""
    kept = [o["id"] for o in ws.owners() if not o["archived"]]
    if kept:
        raise UserError(
            f"{file}: the file lists no owners (no owners: key), so applying it would archive "
            f"every owner of the workspace ({_five(kept)}); list them, write owners: [] to "
            "archive them all, or owners: {source: hubspot} to take them from HubSpot"
        )


def _refuse_removing_every_integration(ws: Workspace, file: Path) -> None:
    """A file that lists no integrations (no ``integrations:`` key, or one whose entries are
    all commented out) would remove every integration — their webhooks answered 404 from then
    on, what they send lost: said explicitly with ``integrations: {}``."""
    names = sorted(ws.rules().integrations)
    if names:
        raise UserError(
            f"{file}: the file lists no integrations (no integrations: key, or one with nothing "
            "under it), so applying it would remove every integration of the workspace "
            f"({_five(names)}) and their webhooks would answer 404; list them, or write "
            "integrations: {} to remove them all"
        )


def _five(ids: list[str]) -> str:
    """The first five ids, and how many more there are."""
    return ", ".join(ids[:5]) + (f" … ({len(ids) - 5} more)" if len(ids) > 5 else "")


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
