"""Replay: the events the inbox holds, decided again under the current and under proposed
settings, and the difference between the two outcomes.

Each side is a real run of the engine into a scratch SQLite database of its own (the
workspace's owners, teams and integrations, the proposed settings swapped in on one side),
fed from the inbox a chunk at a time, so memory stays bounded whatever the history's size.
The difference is computed in SQL across the two databases (``ATTACH``, in
:mod:`leadsync.store.replay`), matching records by what names them (an integration's external
id — the replayed integration's when the record has one —, else a contact's email or a
company's domain), since ids may differ between the two runs; and by that name a record whose
owner would differ is found in the workspace, to give its id there.

With ``since``, only events that happened since then are replayed, starting from a workspace
with no records — records first met before are new to both sides — but with the reps as
they were known then (their emails, which map them).
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, computed_field
from sqlalchemy.engine import Connection, Engine
from typing_extensions import TypedDict

from leadsync import workspace_config
from leadsync.engine import WorkspaceRules, decide_batch
from leadsync.errors import EventError
from leadsync.model import MANUAL_STRATEGY, UNDO_STRATEGY, Event, now_ts
from leadsync.ops.preview import with_settings
from leadsync.pipeline import inbox
from leadsync.pipeline.expiry import expire_holds
from leadsync.pipeline.fallback import apply_with_fallback
from leadsync.results import ResultModel, counted
from leadsync.settings import IntegrationSettings, WorkspaceConfig
from leadsync.sources.base import Adapter
from leadsync.store import batch as store
from leadsync.store import config as config_store
from leadsync.store import external_users
from leadsync.store import replay as replay_store
from leadsync.store import review as review_store
from leadsync.store.database import begin_writing, create_db_engine, migrate

# Owner decisions people make outside the inbox, by strategy (what the replay says of them).
_BY_PEOPLE = {MANUAL_STRATEGY: "owner_changes", UNDO_STRATEGY: "undos"}
_PEOPLE_NOUNS = {
    "owner_changes": "owner change",
    "undos": "undo",
    "review_answers": "review answer",
}


def people_text(not_replayed: Mapping[str, int]) -> str:
    """:attr:`ReplayResult.not_replayed` in words: ``2 owner changes, 1 undo``."""
    return ", ".join(counted(n, _PEOPLE_NOUNS[key]) for key, n in not_replayed.items())


CHUNK = 10_000  # rows per replayed batch: the engine's default batch
SHOWN = 1_000  # differing records listed in full; all are counted


class OwnerChange(TypedDict):
    """A record whose owner would differ, with both sides' reasons: ``record`` is what names
    it in both runs, ``id`` the workspace's id of that record (found by that name; None when
    the workspace has no such record: only the replay made it). (A typed dict: the faces read
    its keys.)"""

    record: str
    type: str
    id: int | None
    current_owner_id: str | None
    current_reason: str | None
    proposed_owner_id: str | None
    proposed_reason: str | None


UNREADABLE_SHOWN = 20


class UnreadableRow(TypedDict):
    """An inbox row the replay could not read, and why."""

    seq: int
    integration: str
    event_id: str
    error: str


class ReplayResult(ResultModel):
    """The difference between the current and the proposed settings over the inbox."""

    integration: str
    since: str | None
    events: int = Field(0, description="Events replayed: every integration's (they interact).")
    integration_events: int = Field(0, description="Of them, the integration's own.")
    unreadable: int = Field(
        0, description="Inbox rows that cannot be read (the real run made them dead letters)."
    )
    unreadable_rows: list[UnreadableRow] = Field(
        default_factory=list,
        description=f"The first {UNREADABLE_SHOWN} of them, each with why.",
    )
    refused: int = Field(
        0,
        description="Inbox rows the engine refused in either run (left out of it, as the real "
        "run made them dead letters), each counted once.",
    )
    records_compared: int = 0
    owners_differ: int = 0
    owner_changes: list[OwnerChange] = Field(
        default_factory=list, description="The first records whose owner would differ."
    )
    only_in_current: int = Field(0, alias="records_only_in_current")
    only_in_proposed: int = Field(0, alias="records_only_in_proposed")
    activities_disappear: dict[str, int] = Field(default_factory=dict)
    activities_appear: dict[str, int] = Field(default_factory=dict)
    associations_differ: int = Field(0, alias="activities_with_other_associations")
    activity_owners_differ: dict[str, int] = Field(
        default_factory=dict,
        alias="activities_with_another_owner",
        description="Activities both runs make whose owner differs (a rep mapped to another "
        "owner, or to none), by integration and type.",
    )
    counterparts: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="Per run (current, proposed): activities matched by number, held for an "
        "unknown number, held ones attached later, questions open in the review queue.",
    )
    rollout: str | None = Field(
        None,
        description="The integration's staged rollout, when it has one: both runs apply its "
        "settings to its share of records, as the live drain does, and the sections the "
        "proposal changes that the rollout sets too (there, they show no difference).",
    )
    not_replayed: dict[str, int] = Field(
        default_factory=dict,
        description="What people did in the workspace (since --since) that no replay replays, "
        "being no tool's event: owner changes, undos, review answers. Where there are some, "
        "the current run's owners are what the tools' events alone give, and can differ "
        "from the records' own.",
    )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def changed(self) -> bool:
        """Whether the proposed settings change anything at all."""
        return bool(
            self.owners_differ
            or self.activities_appear
            or self.activities_disappear
            or self.associations_differ
            or self.activity_owners_differ
            or self.only_in_current
            or self.only_in_proposed
            or self.counterparts.get("current") != self.counterparts.get("proposed")
        )


Difference = dict[str, Any]
# Every difference, one row each (``on_difference``, ``--format csv``): owners, records only
# one run makes ("record only in current" / "record only in proposed", with its owner and
# reason), activities that would appear or disappear, activities whose associated records
# would change, activities whose owner would change ("activity owner": each run's owner with
# the engine's reason, and the activity's records). Rows of every kind share these columns.
DIFFERENCE_FIELDS = (
    "difference",
    "record",
    "record_type",
    "activity",
    "current_owner_id",
    "current_owner",
    "proposed_owner_id",
    "proposed_owner",
    "current_reason",
    "proposed_reason",
    "current_records",
    "proposed_records",
)


def replay(
    engine: Engine,
    integration: str,
    proposed: IntegrationSettings,
    since: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    shown: int = SHOWN,
    on_difference: Callable[[Difference], None] | None = None,
) -> ReplayResult:
    """Replay the inbox of the workspace at ``engine`` (events since ``since``) under its
    current settings and under ``proposed`` settings for ``integration``; report the
    difference: every count, the first ``shown`` records whose owner would differ, and — to
    ``on_difference``, streamed from the comparison, with the owners' names — every
    difference, one by one (keys: ``DIFFERENCE_FIELDS``). ``on_progress`` gets the inbox rows
    of each chunk replayed (of :func:`inbox_size`)."""
    rules = workspace_config.load_rules(engine)
    workspace_config.integration_settings(rules, integration)
    config = workspace_config.export_config(engine)
    seed = _Seed.of(engine, since)
    result = ReplayResult(integration=integration, since=since)
    with engine.connect() as connection:
        result.not_replayed = replay_store.people_changes(connection, _BY_PEOPLE, since)
    proposed_rules = with_settings(rules, integration, proposed)
    result.rollout = rollout_said(rules.integrations[integration], proposed, integration)
    adapters = inbox.adapters_for(rules)
    with _scratch() as folder:
        with (
            _scratch_workspace(folder / "current.db", config, rules, seed) as current,
            _scratch_workspace(folder / "proposed.db", config, proposed_rules, seed) as other,
            inbox.batch_friendly_gc(),
        ):
            for chunk in _inbox_chunks(engine, since):
                events, unreadable = _read(chunk, adapters)
                room = UNREADABLE_SHOWN - len(result.unreadable_rows)
                result.unreadable_rows.extend(unreadable[: max(room, 0)])
                left_out = _apply(current, rules, chunk, events)
                left_out |= _apply(other, proposed_rules, chunk, events)
                result.events += len(events)
                result.integration_events += sum(
                    row["integration"] == integration for row in chunk if int(row["seq"]) in events
                )
                result.unreadable += len(unreadable)
                result.refused += len(left_out)
                if on_progress is not None:
                    on_progress(len(chunk))
            now = now_ts()
            runs = (("current", current, rules), ("proposed", other, proposed_rules))
            for name, scratch, its_rules in runs:
                # Holds whose time has come are questions, as the worker makes them (a
                # change of hold_days shows in the queue it leaves).
                expire_holds(scratch, its_rules, now)
                with scratch.connect() as connection:
                    result.counterparts[name] = review_store.counterpart_counts(connection)
        if on_difference is not None:
            names = workspace_config.owner_names(engine)
            on_difference = _with_owner_names(on_difference, names)
        keys = _compare(
            folder / "current.db", folder / "proposed.db", integration, result, shown, on_difference
        )
    _ids_in_workspace(engine, result.owner_changes, keys)
    return result


def rollout_said(
    current: IntegrationSettings, proposed: IntegrationSettings, integration: str
) -> str | None:
    """What a staged rollout does to the replay (None without one): both runs apply its
    settings to its share of records, so where the proposal changes a section the rollout
    sets too, that share shows no difference."""
    rollout = current.rollout
    if rollout is None:
        return None
    sections = ("users", "ownership", "activities", "associations")
    masked = [
        name
        for name in sections
        if getattr(rollout.settings, name) is not None
        and getattr(current, name) != getattr(proposed, name)
    ]
    said = (
        f"{integration} has a staged rollout ({rollout.percent:g} % of records): both runs apply "
        "its settings to that share, as the drain does"
    )
    if proposed.rollout != rollout:
        said += "; the proposed run applies the rollout the proposal sets"
    if masked:
        said += (
            f"; the proposal changes {', '.join(masked)}, which the rollout sets too: on that "
            "share it shows no difference (abort the rollout, or propose the change as the "
            "rollout's settings, to compare it there)"
        )
    return said


def _ids_in_workspace(
    engine: Engine, changes: list[OwnerChange], names: list[replay_store.RecordName]
) -> None:
    """Each change's ``id``: the workspace's record of its name (``names``, in the same
    order), found in one query for all; None when the workspace has none."""
    with engine.connect() as connection:
        found = replay_store.workspace_ids(connection, names)
    for change, name in zip(changes, names, strict=True):
        change["id"] = found.get(name)


def _with_owner_names(
    on_difference: Callable[[Difference], None], names: dict[str, str]
) -> Callable[[Difference], None]:
    """Each difference with the owners' names beside their ids."""

    def named(row: Difference) -> None:
        for side in ("current", "proposed"):
            owner = row[f"{side}_owner_id"]
            row[f"{side}_owner"] = names.get(owner) if owner is not None else None
        on_difference(row)

    return named


def inbox_size(engine: Engine, since: str | None = None) -> int:
    """How many inbox rows a replay since ``since`` reads (its progress total)."""
    with engine.connect() as connection:
        return replay_store.inbox_size(connection, since)


@contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="leadsync-replay-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class _Seed:
    """What a scratch workspace starts from beside the settings: the workspace's owners and
    teams as stored (pulled from HubSpot, where the settings name them), and — for a replay
    since a time — the reps as they were known then (their emails map them)."""

    owners: list[dict[str, Any]]
    teams: dict[str, tuple[str, ...]]
    reps: list[dict[str, Any]]

    @classmethod
    def of(cls, engine: Engine, since: str | None) -> _Seed:
        with engine.connect() as connection:
            return cls(
                config_store.read_owners(connection),
                config_store.read_teams(connection),
                external_users.learned_before(connection, since) if since else [],
            )


@contextmanager
def _scratch_workspace(
    path: Path, config: WorkspaceConfig, rules: WorkspaceRules, seed: _Seed
) -> Iterator[Engine]:
    """A workspace with no records: the same owners and teams, ``rules``' integrations, and
    the reps ``seed`` knows."""
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
        with begin_writing(engine) as connection:
            config_store.replace_owners(connection, seed.owners, config_store.ConfigChanges())
            config_store.replace_teams(connection, seed.teams, config_store.ConfigChanges())
            external_users.upsert_external_users(connection, seed.reps)
        scratch_config = config.model_copy(update={"integrations": dict(rules.integrations)})
        workspace_config.apply_config(engine, scratch_config)
        with begin_writing(engine) as connection:
            replay_store.add_owner_reasons(connection)
        yield engine
    finally:
        engine.dispose()


def _inbox_chunks(engine: Engine, since: str | None) -> Iterator[list[dict[str, Any]]]:
    """Inbox rows in arrival order, a chunk at a time (a connection per chunk, so none is
    held while the chunk is applied)."""
    last = 0
    while True:
        with engine.connect() as connection:
            rows = replay_store.inbox_chunk(connection, last, since, CHUNK)
        if not rows:
            return
        last = int(rows[-1]["seq"])
        yield rows


def _read(
    rows: list[dict[str, Any]], adapters: dict[str, Adapter]
) -> tuple[dict[int, list[Event]], list[UnreadableRow]]:
    """Each row's events by sequence, and the rows that cannot be read (they failed in the
    real run too), each with why."""
    events: dict[int, list[Event]] = {}
    unreadable: list[UnreadableRow] = []
    for row in rows:
        seq = int(row["seq"])
        adapter = adapters.get(row["integration"])
        try:
            if adapter is None:
                raise EventError(f"integration {row['integration']!r} is no longer configured")
            payload, at = row["payload"], row["received_at"]
            events[seq] = adapter.events_of(payload, row["event_id"], seq, None, at)
        except EventError as exc:
            unreadable.append(
                UnreadableRow(
                    seq=seq,
                    integration=row["integration"],
                    event_id=row["event_id"],
                    error=str(exc),
                )
            )
    return events, unreadable


def _apply(
    engine: Engine,
    rules: WorkspaceRules,
    rows: list[dict[str, Any]],
    events: dict[int, list[Event]],
) -> set[int]:
    """One chunk into a scratch workspace, in arrival order, in one transaction; a chunk the
    engine refuses is applied row by row (:func:`~leadsync.pipeline.fallback.apply_with_fallback`,
    as the drain does), and the rows it refuses are left out (as the real run made them dead
    letters). Returns the sequence numbers of the rows left out."""
    left_out: list[dict[str, Any]] = []

    def each(connection: Connection, row: dict[str, Any]) -> None:
        _apply_events(connection, rules, events.get(int(row["seq"]), []))

    apply_with_fallback(
        engine,
        lambda connection: _apply_events(
            connection, rules, [e for row in rows for e in events.get(int(row["seq"]), ())]
        ),
        rows,
        each,
        lambda row, _error: left_out.append(row),
    )
    return {int(row["seq"]) for row in left_out}


def _apply_events(connection: Connection, rules: WorkspaceRules, events: list[Event]) -> None:
    """The events decided and written, and why each activity they gave an owner has it (the
    engine's traces say it: the comparison lists it beside each owner that differs)."""
    store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
    traces = decide_batch(connection, rules, events, trace=True).traces or {}
    reasons = {
        t.activity[1]: t.owner_reason
        for t in traces.values()
        if t.activity is not None and t.activity[1] is not None and t.owner_reason is not None
    }
    replay_store.keep_owner_reasons(connection, reasons)


def _compare(
    current: Path,
    proposed: Path,
    integration: str,
    result: ReplayResult,
    shown: int,
    on_difference: Callable[[Difference], None] | None,
) -> list[replay_store.RecordName]:
    """Both scratch databases compared in one SQLite connection (records named by
    ``integration``'s identities first); every count into ``result``, the first ``shown``
    owner changes listed (their ``id`` not yet known), every difference streamed to
    ``on_difference``. Returns what names each listed change's record."""
    with replay_store.both_runs(current, proposed) as connection:
        names = _compare_owners(connection, integration, result, shown, on_difference)
        replay_store.compare_activities(connection)
        result.activities_disappear = replay_store.activities_only_in_one(connection, False)
        result.activities_appear = replay_store.activities_only_in_one(connection, True)
        result.associations_differ = replay_store.count_association_differences(connection)
        result.activity_owners_differ = replay_store.activity_owner_differences(connection)
        if on_difference is not None:
            _each_record_only_in_one(connection, on_difference)
            _each_activity_difference(connection, on_difference)
            _each_activity_owner_difference(connection, on_difference)
    return names


def _difference(kind: str, **values: Any) -> Difference:
    row: Difference = dict.fromkeys(DIFFERENCE_FIELDS)
    row.update(difference=kind, **values)
    return row


def _compare_owners(
    connection: sqlite3.Connection,
    integration: str,
    result: ReplayResult,
    shown: int,
    on_difference: Callable[[Difference], None] | None,
) -> list[replay_store.RecordName]:
    counts = replay_store.compare_records(connection, integration)
    result.records_compared = counts.compared
    result.only_in_current = counts.only_in_current
    result.only_in_proposed = counts.only_in_proposed
    result.owners_differ = counts.owners_differ
    names: list[replay_store.RecordName] = []
    rows = replay_store.owner_differences(connection, None if on_difference is not None else shown)
    for found in rows:
        row = found._replace(
            reason=found.reason or NO_OWNER_DECISION,
            proposed_reason=found.proposed_reason or NO_OWNER_DECISION,
        )
        if len(result.owner_changes) < shown:
            result.owner_changes.append(
                OwnerChange(
                    record=row.name,
                    type=row.type,
                    id=None,  # the scratch id means nothing in the workspace: set later
                    current_owner_id=row.owner_id,
                    current_reason=row.reason,
                    proposed_owner_id=row.proposed_owner_id,
                    proposed_reason=row.proposed_reason,
                )
            )
            names.append(row.key)
        if on_difference is not None:
            on_difference(
                _difference(
                    "owner",
                    record=row.name,
                    record_type=row.type,
                    current_owner_id=row.owner_id,
                    proposed_owner_id=row.proposed_owner_id,
                    current_reason=row.reason,
                    proposed_reason=row.proposed_reason,
                )
            )
    return names


# What a side of an owner difference says when its run made no owner decision for the
# record (the other side's did): nothing under its settings gave the record an owner — a
# contact an activity made, say.
NO_OWNER_DECISION = "no owner decision: nothing under these settings gave the record an owner"


def _each_record_only_in_one(
    connection: sqlite3.Connection, on_difference: Callable[[Difference], None]
) -> None:
    for side in ("current", "proposed"):
        rows = replay_store.records_only_in_one(connection, side == "proposed")
        for name, rtype, owner, reason in rows:
            on_difference(
                _difference(
                    f"record only in {side}",
                    record=name,
                    record_type=rtype,
                    **{f"{side}_owner_id": owner, f"{side}_reason": reason},
                )
            )


def _each_activity_difference(
    connection: sqlite3.Connection, on_difference: Callable[[Difference], None]
) -> None:
    for kind, appear, side in (
        ("activity disappears", False, "current"),
        ("activity appears", True, "proposed"),
    ):
        other = "current" if appear else "proposed"
        listed = replay_store.activities_only_in_one_listed(connection, appear)
        for activity, records, owner, reason, skipped in listed:
            said = {f"{side}_records": records, f"{side}_owner_id": owner}
            said |= {f"{side}_reason": reason, f"{other}_reason": skipped and f"skipped: {skipped}"}
            on_difference(_difference(kind, activity=activity, **said))
    for activity, current, proposed in replay_store.association_differences(connection):
        on_difference(
            _difference(
                "associations differ",
                activity=activity,
                current_records=current,
                proposed_records=proposed,
            )
        )


def _each_activity_owner_difference(
    connection: sqlite3.Connection, on_difference: Callable[[Difference], None]
) -> None:
    for row in replay_store.activity_owner_differences_listed(connection):
        on_difference(
            _difference(
                "activity owner",
                activity=row.activity,
                current_owner_id=row.owner_id,
                proposed_owner_id=row.proposed_owner_id,
                current_reason=row.reason,
                proposed_reason=row.proposed_reason,
                current_records=row.records,
                proposed_records=row.proposed_records,
            )
        )
