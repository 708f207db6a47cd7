"""``leadsync records show|find|set-owner``, ``decisions list`` and ``owners list``: records,
who owns them, and why."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import typer

from leadsync.cli import render
from leadsync.cli.app import (
    JsonOption,
    decisions_app,
    handle_errors,
    limit_option,
    owners_app,
    records_app,
    workspace,
)
from leadsync.errors import UserError
from leadsync.model import RecordType, decided_by, display_ts
from leadsync.ops import listings
from leadsync.ops.phones import phones_text
from leadsync.ops.records import HubSpotState
from leadsync.results import counted, plain
from leadsync.rules.counterparts import subject_text
from leadsync.rules.records import PHONE_SOURCES
from leadsync.values import (
    parse_time,
)


def _record_type(value: str) -> RecordType:
    try:
        return RecordType(value.lower())
    except ValueError:
        allowed = ", ".join(t.value for t in RecordType)
        raise UserError(f"record type {value!r} is not allowed; allowed: {allowed}") from None


@records_app.command("show")
def records_show(
    record_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="contact, company, deal, ticket or lead.")
    ],
    record_id: Annotated[int, typer.Argument(metavar="ID")],
    limit: Annotated[
        int | None, limit_option("Show at most this many activities, the newest (all without).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A record with its owner history and timeline. The history is oldest decided first
    (the last line gave the owner it has now): each decision with its reason, "decided" and
    when leadsync made it, "event" and when its event happened ("dated" for a person's
    change or an undo, which have no event: the time the change is dated); --json gives
    decided_at and at."""
    with handle_errors():
        rtype = _record_type(record_type)
    with workspace() as ws:
        record = ws.record(rtype, record_id, None if limit is None else limit + 1)
        names = ws.owner_names()
        pushed = ws.record_hubspot(record_id) if not as_json else None
    more = False
    if limit is not None:
        record["timeline"], more = render.cut(record["timeline"], limit)
    if as_json:
        render.print_json(record)
    else:
        _print_record(record, names, pushed)
    if more:
        render.more_note(limit or 0, "activities")


def _print_record(
    record: Mapping[str, Any], names: Mapping[str, str], pushed: HubSpotState | None = None
) -> None:
    title = record["name"] or record["email"] or record["domain"] or ""
    render.line(f"[bold]{record['type']} {record['id']}[/] {render.escape(title)}", markup=True)
    if record.get("merged_into") is not None:
        render.line(
            f"merged into {record['type']} {record['merged_into']} at "
            f"{display_ts(record['merged_at'])}: its ids, numbers, links and timeline are that "
            "record's now (its owner history stays here)"
        )
    render.line(f"owner: {render.owner(record['owner_id'], names)}")
    if record.get("joined"):
        joined = ", ".join(
            f"{record['type']} {j['id']} (at {display_ts(j['merged_at'])})"
            for j in record["joined"]
        )
        render.line(f"joined from: {joined}")
    if record.get("hubspot"):
        hs = record["hubspot"]
        render.line(f"in HubSpot: {hs['id']} (pushed {display_ts(hs['pushed_at'])})")
        if pushed is not None and pushed.failure is not None:  # its later change refused
            render.line(
                f"{pushed.failure_head}: {pushed.failure['message']} (leadsync push failures list)"
            )
    elif pushed is not None and pushed.destination:  # what the push did with it, if not that
        refused = pushed.failure or pushed.dismissed
        why = f": {refused['message']}" if refused is not None else ""
        render.line(f"HubSpot: {pushed.state}{why}")
    if record["identities"]:
        ids = ", ".join(_known_as(i) for i in record["identities"])
        render.line(f"known as: {ids}")
    if record["associations"]:
        links = ", ".join(
            f"{a['type']} {a['id']}{' (primary)' if a['primary'] else ''}"
            for a in record["associations"]
        )
        render.line(f"associated with: {links}")
    if record.get("phones"):
        render.line(f"phone numbers: {phones_text(record['phones'])}")
    props = dict(record["properties"])
    sources = props.pop(PHONE_SOURCES, None)  # said in words below, never by internal names
    if props:
        render.line("properties: " + ", ".join(f"{k}={plain(v)}" for k, v in props.items()))
    given = record.get("properties_given") or {}
    if given:  # the vendor's clock each value is kept by: an older event changes none
        said = (f"{p} by {g['integration']} at {display_ts(g['at'])}" for p, g in given.items())
        render.line("  given: " + "; ".join(said))
    for prop, source in (sources or {}).items():
        if isinstance(source, Mapping) and source.get("why"):
            render.line(f"  {prop}: {source['why']}")

    render.line()
    history = record["owner_history"]
    render.line(
        f"[bold]owner history[/] ({counted(len(history), 'decision')}, oldest decided first)",
        markup=True,
    )
    for h in history:
        render.line(f"  {_decision_text(h, names)}")
        render.line(f"      {h['reason']}")
    render.line()
    timeline = counted(len(record["timeline"]), "activity", "activities")
    render.line(f"[bold]timeline[/] ({timeline})", markup=True)
    for item in record["timeline"]:
        _print_activity(item, names)


def _known_as(identity: Mapping[str, Any]) -> str:
    """``pipedrive:996``; an id the tool merged into another says so, and when."""
    shown = f"{identity['integration']}:{identity['external_id']}"
    if identity.get("joined_from") is not None:
        shown += f" (from record {identity['joined_from']})"
    if identity.get("merged_into") is None:
        return shown
    return (
        f"{shown} (merged into {identity['merged_into']} there at "
        f"{display_ts(identity['merged_at'])})"
    )


def _times(decision: Mapping[str, Any]) -> str:
    """``decided TIME  event TIME``: when leadsync made a decision and when its event
    happened (``dated``: a decision with no event, the time its change is dated)."""
    event = "event" if decision["event_id"] else "dated"
    return f"decided {display_ts(decision['decided_at'])}  {event} {display_ts(decision['at'])}"


def _decision_text(decision: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """``decided TIME  event TIME  OUTCOME FROM -> TO  by WHO (STRATEGY)``: one owner
    decision on one line."""
    who = decided_by(decision["integration"], decision["strategy"])
    return (
        f"{_times(decision)}  {decision['outcome']:<7} {_owners(decision, names)}  "
        f"by {who} ({decision['strategy']}){_marks(decision)}"
    )


def _owners(decision: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """``FROM -> TO``, and the owner the event proposed where it was not taken (an ignored
    decision read ``102 -> 102``, its proposal only in --json)."""
    moved = (
        f"{render.owner(decision['previous_owner_id'], names)} -> "
        f"{render.owner(decision['owner_id'], names)}"
    )
    proposed = decision.get("proposed_owner_id")
    if decision["outcome"] != "set" and proposed is not None and proposed != decision["owner_id"]:
        moved += f" (proposed {render.owner(proposed, names)})"
    return moved


def _marks(decision: Mapping[str, Any]) -> str:
    """What else a decision line says: made under a staged rollout's settings, flagged."""
    marks = ["rollout"] if decision.get("settings") == "rollout" else []
    marks += ["flagged"] if decision.get("flagged") else []
    return "".join(f"  [{mark}]" for mark in marks)


def _print_activity(item: Mapping[str, Any], names: Mapping[str, str]) -> None:
    p = item["properties"]
    details = ", ".join(
        f"{k}={display_ts(v) if k in ('start', 'end', 'due') else plain(v)}"
        for k, v in p.items()
        if k != "body"
    )
    links = ", ".join(
        f"{a['type']} {a['id']}" + (f" ({a['reason']})" if a.get("reason") else "")
        for a in item["associations"]
    )
    render.line(
        f"  {display_ts(item['occurred_at'])}  {item['type']:<8} "
        f"owner {render.owner(item['owner_id'], names)}"
        f"  {item['integration']}:{item['external_id'] or '-'}"
    )
    if details:
        render.line(f"      {details}")
    if p.get("body"):
        render.line(f'      "{p["body"]}"')
    render.line(f"      associated with {links or 'nothing'}")
    for question in item.get("questions", ()):
        render.line(
            f"      open question about {subject_text(question['subject'])}: "
            f"leadsync review show {question['id']}"
        )
    if item.get("hubspot"):
        hs = item["hubspot"]
        render.line(f"      in HubSpot: {hs['id']} (pushed {display_ts(hs['pushed_at'])})")
        waiting = hs.get("links_waiting") or []
        if waiting:
            targets = ", ".join(f"{w['type']} {w['id']}" for w in waiting)
            render.line(
                f"      not linked there to {targets} yet: the link waits for "
                f"{'it' if len(waiting) == 1 else 'them'} to be created in HubSpot"
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
    """Find records by email, domain or external id (finding none is no error: exit 0)."""
    with handle_errors():  # a typo is said, not answered "no records found"
        listings.check_lookup(email, domain, "--email", "--domain")
    with workspace() as ws:
        found = ws.find(email=email, domain=domain, external=external)
        names = ws.owner_names()
    if as_json:
        render.print_json(found)
        return
    if not found:
        render.line("no records found")
        return
    render.table(
        ("type", "id", "owner", "name", "email / domain"),
        (
            (
                r["type"],
                str(r["id"]),
                render.owner(r["owner_id"], names),
                r["name"] or "",
                r["email"] or r["domain"] or "",
            )
            for r in found
        ),
    )


@records_app.command("set-owner")
def records_set_owner(
    record_type: Annotated[
        str, typer.Argument(metavar="TYPE", help="contact, company, deal, ticket or lead.")
    ],
    record_id: Annotated[
        int, typer.Argument(metavar="ID", help="leadsync's id of the record (records find).")
    ],
    owner_id: Annotated[
        str, typer.Argument(metavar="OWNER_ID", help="An owner id, or none to clear.")
    ],
    at: Annotated[
        str | None,
        typer.Option(
            help="When the person made the change (ISO 8601; a time without an offset is "
            "UTC; default now)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a manual owner change made by a person in the CRM."""
    with handle_errors():
        rtype = _record_type(record_type)
        if not owner_id.strip():
            raise UserError("OWNER_ID is empty; allowed: an owner id, or none to clear the owner")
    with workspace() as ws:
        when = None
        if at is not None:
            try:
                when = parse_time(at, naive_is_utc=True)  # as every --since reads it
            except ValueError as exc:
                raise UserError(f"--at {at!r}: {exc}") from None
        target = None if owner_id.strip().lower() == "none" else owner_id
        decision = ws.set_owner(rtype, record_id, target, when)
    if as_json:
        render.print_json(decision)
    else:
        render.line(f"{rtype.value} {record_id}: {decision.reason}")


@decisions_app.command("list")
def decisions_list(
    integration: Annotated[str | None, typer.Option(help="Only this integration.")] = None,
    outcome: Annotated[str | None, typer.Option(help="Only set, kept or ignored.")] = None,
    flagged: Annotated[bool, typer.Option(help="Only decisions about unmapped reps.")] = False,
    rollout: Annotated[
        bool,
        typer.Option("--rollout", help="Only decisions a staged rollout's proposed settings made."),
    ] = False,
    limit: Annotated[
        int,
        limit_option("At most this many, newest decided first."),
    ] = 100,
    as_json: JsonOption = False,
) -> None:
    r"""Owner decisions across all records, each with its reason, newest decided first:
    "decided" and when leadsync made the decision (--json's decided_at), then "event" and
    when its event happened (--json's at; "dated" for a person's change or an undo, which
    have no event: the time the change is dated) — a late event's decision is listed where
    it was decided, with its older event time; one made under a staged rollout's settings
    is marked \[rollout]."""
    with workspace() as ws:
        rows, more = render.cut(
            listings.decisions(ws.engine, integration, outcome, flagged, limit + 1, rollout), limit
        )
        names = ws.owner_names()
    if as_json:
        render.print_json(rows)
        return
    if not rows:
        render.line(render.nothing("owner decisions", integration, outcome, flagged, rollout))
    for r in rows:
        who = decided_by(r["integration"], r["strategy"])
        render.line(
            f"{_times(r)}  {r['record_type']} {r['record_id']}  {r['outcome']:<7} "
            f"{_owners(r, names)}  by {who} ({r['strategy']}){_marks(r)}"
        )
        render.line(f"    {r['reason']}")
    if more:
        render.more_note(limit, "decisions")


@owners_app.command("list")
def owners_list(as_json: JsonOption = False) -> None:
    """Every owner, with teams; archived owners (dropped from the file) last."""
    with workspace() as ws:
        rows = ws.owners()
    if as_json:
        render.print_json(rows)
        return
    render.table(
        ("id", "email", "name", "active", "teams"),
        (
            (
                r["id"],
                r["email"],
                f"{r['first_name']} {r['last_name']}".strip(),
                "archived" if r["archived"] else ("yes" if r["active"] else "no"),
                ", ".join(r["teams"]),
            )
            for r in rows
        ),
        empty="no owners (declare them under owners: in the file and leadsync apply it, or "
        "leadsync owners pull from HubSpot)",
    )
