"""Undo: put back the owners that chosen decisions changed, unless something changed them
since, and record the undo as decisions with reasons.

The decisions to undo are those that set an owner for one event (``event_id``, of one
integration: event ids are unique per integration only, so an id that several integrations
have is refused as ambiguous unless the integration is named) or for one integration since a
time: the decisions leadsync made since then, by when each was decided (``decided_at``), not
by the time its event says it happened nor when it arrived — an event that arrives late (an
old ``occurred_at``, decided today), a dead letter retried and a backlog drained since then
are undone with the others decided in that hour. For each
record they touched, only if the last of them is still the record's latest
owner change: a later change (a person in the CRM, another integration, an undo of a later
change) wins and the record is skipped, saying which change superseded it ("already undone"
only when that change is an undo of these very changes). Otherwise the owner goes back to what
it was before the last run of them that no other change interrupts: one of them that a change
from elsewhere followed was superseded by it, stays so (that change's owner is put back), and
the reason names both. A dry run decides the same and writes nothing. The undo's own
decisions are dated and decided at the undo's time (``at``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field
from sqlalchemy.engine import Connection
from typing_extensions import TypedDict

from leadsync.engine import WorkspaceRules, write_owner_changes
from leadsync.errors import NotFoundError, UserError
from leadsync.model import (
    UNDO_STRATEGY,
    Outcome,
    OwnerDecision,
    RecordType,
    decided_by,
    display_ts,
)
from leadsync.results import ResultModel
from leadsync.store import batch as store
from leadsync.store import undo as undo_store
from leadsync.workspace_config import integration_settings

# How the reason of an undo that puts a record back to no owner starts (the health report
# tells those records apart by it: :mod:`leadsync.ops.monitor`).
UNDONE_TO_NO_OWNER = "set no owner: undo of "


class RecordKey(TypedDict):
    type: str
    id: int


class Restored(TypedDict):
    """A record whose owner goes back: to ``owner_id``, from ``was``."""

    record: RecordKey
    owner_id: str | None
    was: str | None
    reason: str


class Superseded(TypedDict):
    """A record left as it is, and which later change superseded the one to undo."""

    record: RecordKey
    reason: str


class UndoResult(ResultModel):
    restored: list[Restored] = Field(default_factory=list)
    skipped: list[Superseded] = Field(default_factory=list)
    dry_run: bool = Field(
        False, description="Nothing was written: restored is what an undo would restore."
    )


@dataclass(frozen=True, slots=True)
class _Change:
    id: int
    record_id: int
    record_type: str
    at: str
    integration: str | None
    event_id: str | None
    previous_owner_id: str | None
    owner_id: str | None


def _standing(before: Sequence[Any], ids: set[int], put_back: str | None) -> list[int]:
    """Of the changes to undo that an undo followed (``before``: the record's changes up to
    it, the last one of them to undo), those it left standing: it put back ``put_back``,
    the owner before the first of the run it took back. None of them when that is the
    owner before the whole run (the record is as before them all, whichever it named)."""
    run: list[Any] = []  # the store's rows of owner changes (id, previous_owner_id, …)
    for change in reversed(before):
        if change.id not in ids:
            break
        run.insert(0, change)
    if not run or run[0].previous_owner_id == put_back:
        return []
    for index in range(len(run) - 1, -1, -1):
        if run[index].previous_owner_id == put_back:
            return [c.id for c in run[:index]]
    return [c.id for c in run[:-1]]


SHOWN_IDS = 8  # runs of ids named in an undo's reason; the rest are counted


def decision_ids(ids: list[int]) -> str:
    """A record's own decision ids, ascending, in words: runs of three or more consecutive
    ids (every one of them the record's) as ``#a to #c``, the rest one by one (``#14, #20,
    #21``), never a range over other records' ids; past ``SHOWN_IDS`` runs, the rest are
    counted (``and 12 more (the last #300)``)."""
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts: list[str] = []
    for run in runs[:SHOWN_IDS]:
        if len(run) >= 3:
            parts.append(f"#{run[0]} to #{run[-1]}")
        else:
            parts.extend(f"#{i}" for i in run)
    rest = sum(len(run) for run in runs[SHOWN_IDS:])
    return ", ".join(parts) + (f" and {rest} more (the last #{ids[-1]})" if rest else "")


def event_integration(connection: Connection, event_id: str, integration: str | None) -> str:
    """The one integration whose event ``event_id`` is meant: the one named, which must have
    it, or else the only one that has it. NotFoundError for an id no integration has;
    UserError (ambiguous) for an id several have when none is named."""
    found = undo_store.integrations_of_event(connection, event_id)
    if integration is not None:
        if integration not in found:
            where = f"; it is in {', '.join(found)}" if found else ""
            raise NotFoundError(f"no event {event_id!r} in {integration}{where}")
        return integration
    if not found:
        raise NotFoundError(
            f"no event {event_id!r} in any integration; the event ids that decided owners "
            "are listed by leadsync decisions list --json"
        )
    if len(found) > 1:
        raise UserError(
            f"event {event_id} exists in several integrations ({', '.join(found)}); "
            "give --integration NAME to choose one"
        )
    return found[0]


def undo(
    connection: Connection,
    rules: WorkspaceRules,
    at: str,
    event_id: str | None = None,
    integration: str | None = None,
    since: str | None = None,
    dry_run: bool = False,
) -> UndoResult:
    """Undo in the caller's transaction (set-based: a handful of queries whatever the count);
    with ``dry_run``, decide the same and write nothing."""
    if event_id is None and integration is None:
        raise UserError(
            "give --event ID, or --integration NAME with --since TIME (--event takes "
            "--integration too, for an id several integrations have)"
        )
    if event_id is not None and since is not None:
        raise UserError(
            "--since goes with --integration alone: give --event ID, or --integration NAME "
            "with --since TIME"
        )
    if event_id is None and since is None:
        raise UserError("--integration needs --since: the time from which to undo")
    removed = integration is not None and integration not in rules.integrations
    if removed and not undo_store.has_decisions(connection, str(integration)):
        integration_settings(rules, str(integration))  # refused: unknown (a removed one's: ok)
    if event_id is not None:
        integration = event_integration(connection, event_id, integration)
    assert integration is not None
    changes = [
        _Change(*row)
        for row in undo_store.owner_changes(
            connection, integration, event_id=event_id, since=since, skip_strategy=UNDO_STRATEGY
        )
    ]
    by_record: dict[int, list[_Change]] = {}
    for change in changes:
        by_record.setdefault(change.record_id, []).append(change)
    if not by_record:
        return UndoResult(dry_run=dry_run)
    history = undo_store.owner_changes_from(
        connection, {record_id: touched[0].id for record_id, touched in by_record.items()}
    )
    current = undo_store.current_owners(connection, by_record)
    result = UndoResult(dry_run=dry_run)
    decisions: list[OwnerDecision] = []
    updates: list[dict[str, Any]] = []
    for record_id, all_touched in sorted(by_record.items()):
        record: RecordKey = {"type": all_touched[0].record_type, "id": record_id}
        changes_since = history[record_id]  # it has at least the changes to undo
        ids = {c.id for c in all_touched}
        # The changes to undo that are still in force: the last run of them with no other
        # change in between; an earlier one a change from elsewhere followed is superseded.
        start = len(changes_since)
        while start > 0 and changes_since[start - 1].id in ids:
            start -= 1
        if start == len(changes_since):  # the latest change is not one to undo
            later = changes_since[-1]
            before = changes_since[-2] if len(changes_since) > 1 else None
            if later.strategy == UNDO_STRATEGY and before is not None and before.id in ids:
                reason = (  # an undo of these very changes
                    f"already undone: decision #{later.id} (undo) put the owner back at "
                    f"{display_ts(later.at)}"
                )
                earlier = _standing(changes_since[:-1], ids, later.owner_id)
                if earlier:  # that undo took back only the last of them
                    reason = (
                        f"undone in part already: decision #{later.id} (undo) put back at "
                        f"{display_ts(later.at)} the owner decision #{before.id} had "
                        f"replaced; {'decision' if len(earlier) == 1 else 'decisions'} "
                        f"{decision_ids(earlier)} before it still "
                        f"{'stands' if len(earlier) == 1 else 'stand'} (an undo is not "
                        "undone past another: `records set-owner` sets the owner wanted)"
                    )
            else:  # the first change after the last to undo (the latest may be long after)
                end = max(i for i, c in enumerate(changes_since) if c.id in ids)
                first_after, more = changes_since[end + 1], len(changes_since) - end - 2
                who = decided_by(first_after.integration, first_after.strategy)
                reason = (
                    f"superseded: decision #{first_after.id} by {who} ({first_after.strategy}) "
                    f"changed the owner at {display_ts(first_after.at)}, after the change to "
                    "undo" + (f" ({more} more since, the last #{later.id})" if more else "")
                )
            result.skipped.append({"record": record, "reason": reason})
            continue
        touched = [c for c in all_touched if c.id >= changes_since[start].id]
        first, last = touched[0], touched[-1]
        left = [c.id for c in all_touched if c.id < first.id]
        if left:
            breaker = changes_since[start - 1]
            kept = (
                f"; {'decision' if len(left) == 1 else 'decisions'} {decision_ids(left)} "
                f"left as {'it is' if len(left) == 1 else 'they are'}: superseded by "
                f"decision #{breaker.id} by "
                f"{decided_by(breaker.integration, breaker.strategy)} ({breaker.strategy}) "
                f"at {display_ts(breaker.at)}"
            )
        else:
            kept = ""
        owner = current.get(record_id)
        target = first.previous_owner_id
        what = ("decision " if first is last else "decisions ") + decision_ids(
            [c.id for c in touched]
        )
        source = f"event {event_id} of {integration}" if event_id is not None else f"{integration}"
        head = UNDONE_TO_NO_OWNER if target is None else f"set {target}: undo of "
        reason = (
            f"{head}{what} ({source}); the owner before them was {target or 'no owner'} "
            f"(was {owner or 'no owner'}){kept}"
        )
        decisions.append(
            OwnerDecision(
                record_id=record_id,
                record_type=RecordType(first.record_type),
                event_id=None,
                integration=None,
                strategy=UNDO_STRATEGY,
                at=at,
                previous_owner_id=owner,
                proposed_owner_id=target,
                owner_id=target,
                outcome=Outcome.SET,
                reason=reason,
                decided_at=at,
            )
        )
        updates.append(
            {
                "id": record_id,
                "owner_id": target,
                "owner_changed_at": at,
                "owner_source": UNDO_STRATEGY,
            }
        )
        result.restored.append(
            {"record": record, "owner_id": target, "was": owner, "reason": reason}
        )
    if updates and not dry_run:
        store.set_owners(connection, updates)
        store.insert_owner_decisions(connection, decisions)
        write_owner_changes(connection, rules, decisions)
    return result
