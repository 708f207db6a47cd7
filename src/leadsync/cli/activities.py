"""``leadsync activities list|skipped``: the activities an integration sent, created or not."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import SINCE_HELP, JsonOption, activities_app, limit_option, workspace
from leadsync.model import display_ts
from leadsync.ops import listings
from leadsync.rules.counterparts import subject_text
from leadsync.values import since_ts

_TYPE_HELP = "Only this type: call, email, meeting, note or task."

IntegrationOption = Annotated[str | None, typer.Option(help="Only this integration.")]
SinceOption = Annotated[
    str | None, typer.Option(help=f"Only those that happened since then: {SINCE_HELP}.")
]
TypeOption = Annotated[str | None, typer.Option("--type", help=_TYPE_HELP)]
LimitOption = Annotated[int, limit_option()]


@activities_app.command("list")
def activities_list(
    integration: IntegrationOption = None,
    since: SinceOption = None,
    activity_type: TypeOption = None,
    limit: LimitOption = 100,
    as_json: JsonOption = False,
) -> None:
    """Activities created, newest first: the records each is on and why (named by the event,
    or chosen by the association rules), and other tools' activities merged into it."""
    with workspace() as ws:
        cutoff = since_ts(since) if since is not None else None
        rows, more = render.cut(ws.activities(integration, cutoff, activity_type, limit + 1), limit)
        names = ws.owner_names()
    if as_json:
        render.print_json(rows)
        return
    render.table(
        ("when", "integration", "type", "external id", "owner", "records, and why"),
        (
            (
                display_ts(r["occurred_at"]),
                r["integration"],
                r["type"],
                r["external_id"] or "-",
                render.owner(r["owner_id"], names),
                _records_why(r),
            )
            for r in rows
        ),
        fold=True,
        empty=render.nothing("activities", integration, since, activity_type),
    )
    if more:
        render.more_note(limit, "activities")


def _records_why(activity: Mapping[str, Any]) -> str:
    """The records an activity is on, each with why, its hold (a call waiting for a contact
    with its number) or why it is an internal call, the review queue's open questions about
    it, then the activities merged into it."""
    parts = [f"{link['type']} {link['id']}: {link['why']}" for link in activity["records"]]
    if activity["unattached"] is not None:
        parts.append(activity["unattached"])
    elif activity["skipped"]:  # on records all the same (a company every candidate shares)
        parts.append(listings.skipped_text(activity["skipped"]))
    if activity["held"] is not None:
        parts.append(activity["held"]["why"])
    if activity["internal"] is not None:
        parts.append(activity["internal"])
    held_and_queued = activity["held"] is not None and activity["held"]["queued"]
    for item in activity["questions"]:
        if item["kind"] == "unknown" and held_and_queued:
            continue  # the hold's words say it is in the queue
        parts.append(
            f"open question about {subject_text(item['subject'])}: leadsync review show {item['id']}"
        )
    merged = "".join(
        f"; merged: {m['integration']}:{m['external_id']}" for m in activity["merged_from"]
    )
    return ("; ".join(parts) or "none") + merged


@activities_app.command("skipped")
def activities_skipped(
    integration: IntegrationOption = None,
    since: SinceOption = None,
    activity_type: TypeOption = None,
    limit: LimitOption = 100,
    created_later: Annotated[
        bool,
        typer.Option(
            "--created-later",
            help="Also the skips of activities a later event created after all (with when, "
            "and which activity).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    r"""Activities that were received but not created: why, and the record each was for; a
    skip by a staged rollout's proposed settings is marked \[rollout]."""
    with workspace() as ws:
        cutoff = since_ts(since) if since is not None else None
        rows, more = render.cut(
            ws.skipped_activities(
                integration,
                limit=limit + 1,
                since=cutoff,
                activity_type=activity_type,
                created_later=created_later,
            ),
            limit,
        )
    if as_json:
        render.print_json(rows)
        return
    render.table(
        ("when", "integration", "type", "external id", "record", "reason"),
        (
            (
                display_ts(r["occurred_at"]),
                r["integration"],
                r["type"],
                r["external_id"] or "-",
                _skipped_record(r["record"]),
                r["reason"]
                + ("  [rollout]" if r["settings"] == "rollout" else "")
                + _created_later(r["created_later"]),
            )
            for r in rows
        ),
        fold=True,
        empty=render.nothing("skipped activities", integration, since, activity_type),
    )
    if more:
        render.more_note(limit, "skipped activities")


def _created_later(later: Mapping[str, Any] | None) -> str:
    if later is None:
        return ""
    when = f" at {display_ts(later['at'])}" if later["at"] is not None else ""
    return f"  [created later{when}: activity {later['activity_id']}]"


def _skipped_record(record: Mapping[str, Any] | None) -> str:
    if record is None:
        return "-"
    if record["id"] is None:
        return f"{record['type']} {record['named']} (not in the workspace)"
    return f"{record['type']} {record['id']}"
