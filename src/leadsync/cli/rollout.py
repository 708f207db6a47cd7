"""``leadsync preview``, ``replay`` and ``rollout promote|abort|status``: trying settings before
they apply to every record (promote and abort say which keys they change; ``--dry-run`` only
says it).

The text forms read a result's JSON (:func:`leadsync.cli.render.json_of`), the shape the
result declares, so that ``--json`` and the text never disagree about a name.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import (
    SINCE_HELP,
    JsonOption,
    app,
    handle_errors,
    limit_option,
    open_input,
    places_in,
    rollout_app,
    user_name,
    workspace,
)
from leadsync.errors import UserError
from leadsync.model import display_ts
from leadsync.ops import rollout as rollout_ops
from leadsync.ops.preview import SAMPLE, SAMPLE_MAX
from leadsync.ops.replay import DIFFERENCE_FIELDS, SHOWN, people_text
from leadsync.ops.rollout import RolloutChange, RolloutState
from leadsync.ops.settings_change import Actor
from leadsync.pipeline.input_file import InputFile
from leadsync.progress import WorkProgress
from leadsync.results import counted
from leadsync.settings import IntegrationSettings
from leadsync.values import since_ts
from leadsync.workspace import Workspace

_SETTINGS_HELP = (
    "Proposed settings: a whole workspace file (owners and integrations) replaces the "
    "integration's settings; one integration's settings, whole or in part, are merged over "
    "the current ones."
)


def _proposed_settings(
    ws: Workspace, integration: str, path: Path, as_json: bool
) -> IntegrationSettings:
    """The ``--settings`` file read for ``integration``, saying how (merged or replacing):
    on stdout before the result, or on stderr beside JSON (where a refusal is a JSON object
    on stdout, as ``apply --json``'s)."""
    with places_in(str(path)):
        read = ws.proposed_settings(integration, path)
    if as_json:
        render.note(read.describe())
    else:
        render.line(read.describe())
    return read.settings


@app.command("preview")
def preview_command(
    integration: Annotated[str, typer.Argument(help="The integration the events come from.")],
    file: Annotated[str, typer.Argument(help="Events as `ingest` reads them, or - for stdin.")],
    sample: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=SAMPLE_MAX,
            help=f"Only the first N events of the file (without: the first {SAMPLE:,}).",
        ),
    ] = None,
    settings_file: Annotated[
        Path | None,
        typer.Option("--settings", help=_SETTINGS_HELP),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """What events would do — records matched or created, owner decisions with reasons,
    activities created or skipped, associations — decided by the real engine; nothing is
    written. Exits 2 when a line could not be read (as ingest does when a line fails)."""
    with workspace() as ws:
        proposed = None
        if settings_file is not None:
            proposed = _proposed_settings(ws, integration, settings_file, as_json)
        with places_in("<stdin>" if file == "-" else file):
            if file == "-":  # read as ingest reads it
                stdin = InputFile(sys.stdin.buffer, whole=False)
                result = ws.preview(integration, stdin, "<stdin>", sample, proposed)
            else:
                with open_input(file, binary=True) as handle:
                    result = ws.preview(integration, InputFile(handle), file, sample, proposed)
    if as_json:
        render.print_json(result)
    else:
        _print_preview(render.json_of(result))
    if result.cut_at is not None:
        render.note(
            f"the first {counted(result.cut_at, 'event')} previewed; the input holds more "
            f"(--sample N previews up to {SAMPLE_MAX:,}; ingest applies every one)"
        )
    if result.unreadable:
        raise typer.Exit(2)


DUPLICATES_SHOWN = 20
# What a staged rollout's proposed settings decided is marked, as other lists mark it.
_ROLLOUT_MARK = {"rollout": " [rollout]"}


def _print_preview(result: Mapping[str, Any]) -> None:
    for entry in result["events"]:
        render.line(
            f"[bold]{render.escape(entry['where'])}[/] {entry['type']} "
            f"{render.escape(entry['event_id'])}",
            markup=True,
        )
        if entry["record"] is not None:
            record = entry["record"]
            verb = "creates" if record["created"] else "matches"
            render.line(f"  {verb} {record['type']} {record['id']}")
        if entry["activity"] is not None:
            activity = entry["activity"]
            what = f"  {activity['type']} {activity['outcome']}"
            if activity.get("reason"):
                what += f": {activity['reason']}"
            render.line(what + _ROLLOUT_MARK.get(activity["settings"], ""))
            for link in entry["associations"]:
                render.line(f"    -> {link['type']} {link['id']} ({link['source']})")
        if entry.get("counterpart"):
            render.line(f"  {render.escape(entry['counterpart'])}")
        for decision in entry["owner_decisions"]:
            record = decision["record"]
            mark = _ROLLOUT_MARK.get(decision["settings"], "")
            render.line(f"  {record['type']} {record['id']}: {decision['reason']}{mark}")
    for item in result["duplicates"][:DUPLICATES_SHOWN]:
        render.line(f"{item['where']}: already in the inbox, not applied again")
    if len(result["duplicates"]) > DUPLICATES_SHOWN:
        more = len(result["duplicates"]) - DUPLICATES_SHOWN
        render.line(f"… and {counted(more, 'more event')} already in the inbox (--json lists all)")
    for item in result["unreadable"]:
        render.note(f"{item['where']}: {item['error']}")
    summary = result["summary"]
    owners, acts = summary["owners"], summary["activities"]
    render.line(
        f"preview of {counted(summary['events'], 'event')} (nothing written): "
        f"{counted(summary['records_created'], 'record')} created; owners {owners['set']:,} set, "
        f"{owners['kept']:,} kept, {owners['ignored']:,} ignored; activities "
        f"{acts['created']:,} created, {acts['updated']:,} updated, {acts['merged']:,} merged, "
        f"{acts['skipped']:,} skipped"
        + (
            f"; {summary['unreadable']:,} unreadable (on stderr, each with why; ingest would "
            "make it a dead letter)"
            if summary["unreadable"]
            else ""
        )
        + (
            f"; {counted(summary['duplicates'], 'duplicate')} (already in the inbox: ingest "
            "would not apply them again)"
            if summary["duplicates"]
            else ""
        )
    )
    for reason, count in summary["skipped_by_reason"].items():
        render.line(f"  skipped {count}: {reason}")
    render.counterparts(summary["counterparts"], indent="  ")


@app.command("replay")
def replay_command(
    integration: Annotated[str, typer.Argument(help="The integration whose settings change.")],
    settings_file: Annotated[Path, typer.Option("--settings", help=_SETTINGS_HELP)],
    since: Annotated[
        str | None,
        typer.Option(help=f"Only events since then: {SINCE_HELP}. Without it, the whole inbox."),
    ] = None,
    limit: Annotated[
        int,
        limit_option("List at most this many records whose owner would differ (all counted)."),
    ] = SHOWN,
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
    with handle_errors():
        if output not in ("text", "json", "csv"):
            raise UserError(f"--format {output!r} is not allowed; allowed: text, json, csv")
        if as_json and output not in ("text", "json"):
            raise UserError(f"--json is --format json: give one of --json and --format {output}")
    output = "json" if as_json else output
    with workspace() as ws:
        proposed = _proposed_settings(ws, integration, settings_file, output != "text")
        cutoff = since_ts(since) if since is not None else None
        names = ws.owner_names()
        write_row = render.csv_rows(DIFFERENCE_FIELDS).writerow if output == "csv" else None
        with WorkProgress(render.err, "replay", ws.inbox_size(cutoff)) as progress:
            result = ws.replay(
                integration,
                proposed,
                cutoff,
                shown=limit,
                on_progress=progress.advance,
                on_difference=write_row,
            )
    if output == "json":
        render.print_json(result)
    elif output == "text":
        _print_replay(render.json_of(result), cutoff, names)


def _print_replay(result: Mapping[str, Any], cutoff: str | None, names: Mapping[str, str]) -> None:
    for row in result["unreadable_rows"]:
        render.note(
            f"inbox {row['seq']} ({row['integration']}, event {row['event_id']}): {row['error']}"
        )
    if result["unreadable"] > len(result["unreadable_rows"]):
        left = result["unreadable"] - len(result["unreadable_rows"])
        render.note(f"and {counted(left, 'more unreadable row')} (dead-letters list shows them)")
    render.line(
        f"replayed {counted(result['events'], 'inbox event')}"
        + (f" since {display_ts(cutoff)}" if cutoff else "")
        + f" ({result['integration_events']:,} of them {result['integration']}'s)"
        + f" ({result['unreadable']:,} unreadable"
        + (
            " — on stderr, each with why, as the run made them dead letters"
            if result["unreadable"]
            else ""
        )
        + (f", {result['refused']:,} refused by the engine" if result["refused"] else "")
        + "); "
        + f"{counted(result['records_compared'], 'record')} compared"
    )
    if result["rollout"]:
        render.note(f"note: {result['rollout']}")
    if result["not_replayed"]:
        done = people_text(result["not_replayed"])
        render.note(
            f"not replayed, being no tool's event: {done} made by people"
            + (f" since {display_ts(cutoff)}" if cutoff else "")
            + " — where they changed an owner, 'now' is the tools' events alone"
            " (records show has the record's own)"
        )
    render.line(f"owners that would differ: {result['owners_differ']}")
    for change in result["owner_changes"]:
        here = "not in the workspace" if change["id"] is None else f"id {change['id']}"
        render.line(
            f"  {change['type']} {change['record']} ({here}): "
            f"{render.owner(change['current_owner_id'], names)} -> "
            f"{render.owner(change['proposed_owner_id'], names)}"
        )
        render.line(f"      now:      {change['current_reason']}")
        render.line(f"      proposed: {change['proposed_reason']}")
    more = result["owners_differ"] - len(result["owner_changes"])
    if more > 0:
        render.line(f"  … and {more} more (--limit N lists more; --format csv lists every one)")
    for side in ("current", "proposed"):
        render.line(
            f"records only the {side} settings make: {result[f'records_only_in_{side}']:,}"
            + (" (--format csv lists them)" if result[f"records_only_in_{side}"] else "")
        )
    for label, counts in (
        ("activities that would disappear", result["activities_disappear"]),
        ("activities that would appear", result["activities_appear"]),
    ):
        render.line(f"{label}: {sum(counts.values())}")
        for key, count in counts.items():
            render.line(f"  {key}: {count}")
    render.line(
        "activities whose associations would differ: "
        f"{result['activities_with_other_associations']}"
    )
    owners = result["activities_with_another_owner"]
    render.line(f"activities that would have another owner: {sum(owners.values())}")
    for key, count in owners.items():
        render.line(f"  {key}: {count}")
    runs = result["counterparts"]
    if runs and runs.get("current") != runs.get("proposed"):
        for name in ("current", "proposed"):
            label = f"counterparts under the {name} settings"
            render.counterparts(runs[name], label=label, zero=True)
    if not result["changed"]:
        render.line("no difference")


def _by(verb: str, integration: str) -> Actor:
    """Who changed the settings, as the audit log names it (like ``leadsync apply FILE``)."""
    return Actor("admin", f"cli: leadsync rollout {verb} {integration} ({user_name()})")


_DRY_RUN_HELP = "Show what would change; change nothing."
DryRunOption = Annotated[bool, typer.Option("--dry-run", help=_DRY_RUN_HELP)]


def _rollout_change(integration: str, action: str, dry_run: bool, as_json: bool) -> None:
    """Promote or abort (or, ``dry_run``, only show it): what changes is the result."""
    with workspace() as ws:
        if dry_run:
            change = rollout_ops.plan(ws.engine, integration, action)
        else:
            save = ws.rollout_promote if action == "promote" else ws.rollout_abort
            by = _by(action, integration)
            change = rollout_ops.carry_out(ws.engine, integration, action, save, by)
    if as_json:
        render.print_json(change)
    else:
        _print_change(change)


def _print_change(change: RolloutChange) -> None:
    name, share = change.integration, f"{change.percent:g}%"
    promote = change.action == "promote"
    sample = f"the sample, {share} of records by id, had them"
    if not change.dry_run:
        render.line(
            f"{name}: rollout promoted; its settings are now current for every record ({sample})"
            if promote
            else f"{name}: rollout aborted; the current settings apply to every record again "
            f"({sample}); what was decided under the rollout stays as it is (owners set, "
            "activities skipped)"
        )
    else:
        render.line(
            f"{name}: promoting would make the rollout's settings current for every record "
            f"({sample.replace('had', 'has')}); nothing changed (--dry-run)"
            if promote
            else f"{name}: aborting would give every record the current settings again "
            f"({sample.replace('had', 'has')}; what was decided under the rollout would stay "
            "as it is); nothing changed (--dry-run)"
        )
    whom = "the records outside the sample" if promote else f"the {share} in the sample"
    verb = "change" if not change.dry_run else "would change"
    named = ", ".join(change.sections)
    render.line(
        f"keys that {verb} for {whom} (the rollout names {named}; each replaces the current "
        "section whole):"
        if promote
        else f"keys that {verb} for {whom}:"
    )
    for each in change.changes:
        render.line(f"  {each}")
    if not change.changes:
        render.line("  none: the proposed settings are the current ones")
    if any(None in (each.before, each.after) for each in change.changes):
        render.line("(not set): the key's default applies")
    if promote and change.dry_run and change.changes:
        render.line(
            "to keep a current value, give it in the rollout's section too "
            f"(integrations.{name}.rollout.settings), then promote"
        )
    if change.dry_run and change.managed_file is not None:
        render.line(f"the workspace is managed by file ({change.managed_file}): {change.in_file}")


@rollout_app.command("promote")
def rollout_promote(
    integration: Annotated[str, typer.Argument(metavar="INTEGRATION")],
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Make the rollout's proposed settings the integration's settings for every record, and
    say which keys that changes (a section the rollout names replaces the current one whole:
    keys it leaves out go back to their defaults)."""
    _rollout_change(integration, "promote", dry_run, as_json)


@rollout_app.command("abort")
def rollout_abort(
    integration: Annotated[str, typer.Argument(metavar="INTEGRATION")],
    dry_run: DryRunOption = False,
    as_json: JsonOption = False,
) -> None:
    """Drop the rollout: every record gets the current settings again; says which keys that
    changes for the records in the sample."""
    _rollout_change(integration, "abort", dry_run, as_json)


@rollout_app.command("status")
def rollout_status(
    integration: Annotated[
        str | None, typer.Argument(metavar="[INTEGRATION]", help="Only this integration.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Count only events at or after this: 30d, 12h, a date or a time "
            "(default: every decision ever made under a rollout of the integration)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Each staged rollout: its share of records, what its proposed settings change against
    the current ones, and the owner decisions and activity skips made under it so far
    (--since: in a recent window)."""
    with handle_errors():
        since_at = since_ts(since) if since is not None else None
    with workspace() as ws:
        result = rollout_ops.status(ws.engine, integration, since_at)
    if as_json:
        render.print_json(result)
        return
    if not result.rollouts:
        render.line("no integration has a rollout")
    for state in result.rollouts:
        _print_state(state, result.since)


def _print_state(state: RolloutState, since: str | None) -> None:
    name, counts = state.integration, state.under_rollout
    if state.percent is None:
        render.line(f"{name}: no rollout")
    else:
        render.line(
            f"{name}: rollout to {state.percent:g}% of records; it names "
            f"{', '.join(state.sections)} (each replaces the current section whole)"
        )
        render.line("  what its settings change against the current ones:")
        for each in state.changes:
            render.line(f"    {each}")
        if not state.changes:
            render.line("    nothing: the proposed settings are the current ones")
    outcomes = ", ".join(f"{n:,} {outcome}" for outcome, n in counts.by_outcome.items())
    window = f"since {display_ts(since)}" if since is not None else "so far"
    made = f"  under the rollout {window}: {counted(counts.decisions, 'owner decision')}"
    if counts.decisions:
        made += f" ({outcomes}; {display_ts(counts.first_at)} to {display_ts(counts.last_at)})"
    render.line(f"{made}, {counted(counts.skips, 'activity skipped', 'activities skipped')}")
    for kind, n in counts.skips_by_kind.items():
        render.line(f"    skipped {n:,}: {kind}")
