"""Replay: the events the inbox holds, decided again under the current and under proposed
settings, and the difference between the two outcomes.

Each side is a real run of the engine into a scratch SQLite database of its own (the
workspace's owners, teams and integrations, the proposed settings swapped in on one side),
fed from the inbox a chunk at a time, so memory stays bounded whatever the history's size.
The difference is computed in SQL across the two databases (``ATTACH``), matching records by
what names them (an integration's external id, else a contact's email or a company's
domain), since ids may differ between the two runs.

With ``since``, only events that happened since then are replayed, starting from an empty
workspace: records first met before are new to both sides.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules, apply_batch
from leadsync.errors import EventError, UserError
from leadsync.model import Event, add_days, now_ts
from leadsync.ops.preview import with_settings
from leadsync.pipeline import inbox
from leadsync.settings import IntegrationSettings, WorkspaceConfig
from leadsync.sources.base import Adapter
from leadsync.store import batch as store
from leadsync.store.schema import inbox as inbox_table
from leadsync.values import parse_time
from leadsync.workspace import Workspace

CHUNK = 10_000  # rows per replayed batch: the engine's default batch
SHOWN = 1_000  # differing records listed in full; all are counted


@dataclass
class ReplayResult:
    integration: str
    since: str | None
    events: int = 0
    unreadable: int = 0
    refused: int = 0
    records_compared: int = 0
    owner_changes: list[dict[str, Any]] = field(default_factory=list)
    owners_differ: int = 0
    only_in_current: int = 0
    only_in_proposed: int = 0
    activities_disappear: dict[str, int] = field(default_factory=dict)
    activities_appear: dict[str, int] = field(default_factory=dict)
    associations_differ: int = 0

    @property
    def changed(self) -> bool:
        return bool(
            self.owners_differ
            or self.activities_appear
            or self.activities_disappear
            or self.associations_differ
            or self.only_in_current
            or self.only_in_proposed
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "since": self.since,
            "events": self.events,
            "unreadable": self.unreadable,
            "refused": self.refused,
            "records_compared": self.records_compared,
            "owners_differ": self.owners_differ,
            "owner_changes": self.owner_changes,
            "records_only_in_current": self.only_in_current,
            "records_only_in_proposed": self.only_in_proposed,
            "activities_disappear": self.activities_disappear,
            "activities_appear": self.activities_appear,
            "activities_with_other_associations": self.associations_differ,
            "changed": self.changed,
        }


Difference = dict[str, Any]
# Every difference, one row each (``on_difference``, ``--format csv``): owners, activities
# that would appear or disappear, activities whose associated records would change.
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
    workspace: Workspace,
    integration: str,
    proposed: IntegrationSettings,
    since: str | None = None,
    on_progress: Callable[[int], None] | None = None,
    shown: int = SHOWN,
    on_difference: Callable[[Difference], None] | None = None,
) -> ReplayResult:
    """Replay the workspace's inbox (events since ``since``) under its current settings and
    under ``proposed`` settings for ``integration``; report the difference: every count, the
    first ``shown`` records whose owner would differ, and — to ``on_difference``, streamed
    from the comparison — every difference, one by one (keys: ``DIFFERENCE_FIELDS``)."""
    rules = workspace.rules()
    workspace.integration(integration, rules)
    config = workspace.export_config()
    result = ReplayResult(integration, since)
    proposed_rules = with_settings(rules, integration, proposed)
    adapters = inbox.adapters_for(rules)
    with _scratch() as folder:
        current = _scratch_workspace(folder / "current.db", config, rules)
        other = _scratch_workspace(folder / "proposed.db", config, proposed_rules)
        with current, other, inbox.batch_friendly_gc():
            for chunk in _inbox_chunks(workspace.engine, since):
                events, unreadable = _read(chunk, adapters)
                result.events += len(events)
                result.unreadable += unreadable
                result.refused += _apply(current.engine, rules, chunk, events)
                result.refused += _apply(other.engine, proposed_rules, chunk, events)
                if on_progress is not None:
                    on_progress(len(chunk))
        if on_difference is not None:
            on_difference = _with_owner_names(on_difference, workspace.owner_names())
        _compare(folder / "current.db", folder / "proposed.db", result, shown, on_difference)
    return result


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
    query = sa.select(sa.func.count()).select_from(inbox_table)
    if since is not None:
        query = query.where(inbox_table.c.occurred_at >= since)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


@contextmanager
def _scratch() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="leadsync-replay-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _scratch_workspace(path: Path, config: WorkspaceConfig, rules: WorkspaceRules) -> Workspace:
    """An empty workspace with the same owners and teams, and ``rules``' integrations."""
    scratch = Workspace(f"sqlite:///{path}")
    scratch.apply_config(config.model_copy(update={"integrations": dict(rules.integrations)}))
    return scratch


def _inbox_chunks(engine: Engine, since: str | None) -> Iterator[list[dict[str, Any]]]:
    """Inbox rows in arrival order, a chunk at a time (keyset pagination on seq)."""
    last = 0
    while True:
        query = (
            sa.select(
                inbox_table.c.seq,
                inbox_table.c.integration,
                inbox_table.c.event_id,
                inbox_table.c.occurred_at,
                inbox_table.c.payload,
            )
            .where(inbox_table.c.seq > last)
            .order_by(inbox_table.c.seq)
            .limit(CHUNK)
        )
        if since is not None:
            query = query.where(inbox_table.c.occurred_at >= since)
        with engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(query)]
        if not rows:
            return
        last = int(rows[-1]["seq"])
        yield rows


def _read(
    rows: list[dict[str, Any]], adapters: dict[str, Adapter]
) -> tuple[dict[int, list[Event]], int]:
    """Each row's events by sequence; rows that cannot be read (they failed in the real run
    too) are counted."""
    events: dict[int, list[Event]] = {}
    unreadable = 0
    for row in rows:
        adapter = adapters.get(row["integration"])
        if adapter is None:
            unreadable += 1
            continue
        try:
            events[int(row["seq"])] = adapter.events_of(
                row["payload"], row["event_id"], int(row["seq"]), None
            )
        except EventError:
            unreadable += 1
    return events, unreadable


def _apply(
    engine: Engine,
    rules: WorkspaceRules,
    rows: list[dict[str, Any]],
    events: dict[int, list[Event]],
) -> int:
    """One chunk into a scratch workspace, in arrival order, in one transaction; a chunk the
    engine refuses is applied row by row, and the rows it refuses are left out (as the real
    run made them dead letters). Returns how many rows were left out."""
    try:
        _apply_events(engine, rules, [e for row in rows for e in events.get(int(row["seq"]), ())])
    except sa.exc.OperationalError:
        raise
    except Exception:
        failed = 0
        for row in rows:
            try:
                _apply_events(engine, rules, events.get(int(row["seq"]), []))
            except sa.exc.OperationalError:
                raise
            except Exception:
                failed += 1
        return failed
    return 0


def _apply_events(engine: Engine, rules: WorkspaceRules, events: list[Event]) -> None:
    with engine.begin() as connection:
        store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
        apply_batch(connection, rules, events)


def _compare(
    current: Path,
    proposed: Path,
    result: ReplayResult,
    shown: int,
    on_difference: Callable[[Difference], None] | None,
) -> None:
    """Both scratch databases in one SQLite connection (the proposed one attached as ``p``);
    the comparison is set-based SQL, its temporary tables die with the connection."""
    connection = sqlite3.connect(current)
    try:
        connection.execute("ATTACH DATABASE ? AS p", (str(proposed),))
        _compare_owners(connection, result, shown, on_difference)
        _compare_activities(connection, result, on_difference)
    finally:
        connection.close()


def _difference(kind: str, **values: Any) -> Difference:
    row: Difference = dict.fromkeys(DIFFERENCE_FIELDS)
    row.update(difference=kind, **values)
    return row


def _count(connection: sqlite3.Connection, sql: str) -> int:
    return int(connection.execute(sql).fetchone()[0])


# A record's name in both runs: its first identity, else a contact's email or a company's
# domain.
_NAME = """
coalesce(
  (SELECT min(i.integration || ':' || i.type || ':' || i.external_id)
     FROM {db}record_identities i WHERE i.record_id = r.id),
  CASE WHEN r.email IS NOT NULL THEN 'email:' || r.email END,
  CASE WHEN r.domain IS NOT NULL THEN 'domain:' || r.domain END,
  'record:' || r.id)
"""


def _names(db: str) -> str:
    return f"""SELECT r.id AS id, r.type AS type, r.owner_id AS owner_id,
        {_NAME.format(db=db)} AS name,
        (SELECT d.reason FROM {db}owner_decisions d WHERE d.record_id = r.id
          ORDER BY d.id DESC LIMIT 1) AS reason
        FROM {db}records r"""


def _compare_owners(
    connection: sqlite3.Connection,
    result: ReplayResult,
    shown: int,
    on_difference: Callable[[Difference], None] | None,
) -> None:
    connection.execute(f"CREATE TEMP TABLE cur AS {_names('main.')}")
    connection.execute(f"CREATE TEMP TABLE pro AS {_names('p.')}")
    for side in ("cur", "pro"):
        connection.execute(f"CREATE INDEX temp.ix_{side}_name ON {side}(name)")
        connection.execute(f"CREATE INDEX temp.ix_{side}_id ON {side}(id)")
    result.records_compared = _count(connection, "SELECT count(*) FROM cur JOIN pro USING (name)")
    result.only_in_current = _count(
        connection, "SELECT count(*) FROM cur WHERE name NOT IN (SELECT name FROM pro)"
    )
    result.only_in_proposed = _count(
        connection, "SELECT count(*) FROM pro WHERE name NOT IN (SELECT name FROM cur)"
    )
    differ = """FROM cur JOIN pro ON pro.name = cur.name
        WHERE coalesce(cur.owner_id, '') != coalesce(pro.owner_id, '')"""
    result.owners_differ = _count(connection, f"SELECT count(*) {differ}")
    limit = "" if on_difference is not None else f"LIMIT {int(shown)}"
    rows = connection.execute(
        f"""SELECT cur.name, cur.type, cur.id, cur.owner_id, cur.reason, pro.owner_id, pro.reason
        {differ} ORDER BY cur.id {limit}"""
    )
    for name, rtype, rid, owner, reason, new_owner, new_reason in rows:
        if len(result.owner_changes) < shown:
            result.owner_changes.append(
                {
                    "record": name,
                    "type": rtype,
                    "id": rid,
                    "current_owner_id": owner,
                    "current_reason": reason,
                    "proposed_owner_id": new_owner,
                    "proposed_reason": new_reason,
                }
            )
        if on_difference is not None:
            on_difference(
                _difference(
                    "owner",
                    record=name,
                    record_type=rtype,
                    current_owner_id=owner,
                    proposed_owner_id=new_owner,
                    current_reason=reason,
                    proposed_reason=new_reason,
                )
            )


_ACTIVITY_KEY = (
    "a.integration || ':' || a.type || ':' || coalesce(a.external_id, 'event:' || a.event_id)"
)


def _compare_activities(
    connection: sqlite3.Connection,
    result: ReplayResult,
    on_difference: Callable[[Difference], None] | None,
) -> None:
    """Activities by their natural key, and their associated records by name, in indexed
    temporary tables: each comparison is a join or a set difference, never a scan per row."""
    for side, db in (("cur", "main."), ("pro", "p.")):
        connection.execute(
            f"""CREATE TEMP TABLE {side}_acts AS
            SELECT {_ACTIVITY_KEY} AS activity, a.integration || ' ' || a.type AS label
            FROM {db}activities a"""
        )
        connection.execute(f"CREATE INDEX temp.ix_{side}_acts ON {side}_acts(activity)")
        connection.execute(
            f"""CREATE TEMP TABLE {side}_links AS
            SELECT {_ACTIVITY_KEY} AS activity, n.name AS record
            FROM {db}activity_associations aa
            JOIN {db}activities a ON a.id = aa.activity_id
            JOIN {side} n ON n.id = aa.record_id"""
        )
        connection.execute(f"CREATE INDEX temp.ix_{side}_links ON {side}_links(activity)")
    for acts, other, into in (
        ("cur_acts", "pro_acts", result.activities_disappear),
        ("pro_acts", "cur_acts", result.activities_appear),
    ):
        rows = connection.execute(
            f"""SELECT label, count(*) FROM {acts}
            WHERE activity NOT IN (SELECT activity FROM {other})
            GROUP BY label ORDER BY label"""
        )
        into.update({key: int(count) for key, count in rows})
    one_way = """SELECT * FROM (
        SELECT activity, record FROM {a} WHERE activity IN (SELECT activity FROM {b})
        EXCEPT SELECT activity, record FROM {b})"""
    changed_links = (
        "SELECT DISTINCT activity FROM ("
        + one_way.format(a="cur_links", b="pro_links")
        + " UNION ALL "
        + one_way.format(a="pro_links", b="cur_links")
        + ")"
    )
    result.associations_differ = _count(connection, f"SELECT count(*) FROM ({changed_links})")
    if on_difference is not None:
        _each_activity_difference(connection, changed_links, on_difference)


def _records_of(links: str) -> str:
    """An activity's associated records (by name, space-separated), for ``x.activity``."""
    return f"""(SELECT group_concat(record, ' ') FROM
        (SELECT record FROM {links} l WHERE l.activity = x.activity ORDER BY record))"""


def _each_activity_difference(
    connection: sqlite3.Connection,
    changed_links: str,
    on_difference: Callable[[Difference], None],
) -> None:
    for kind, acts, other, links in (
        ("activity disappears", "cur_acts", "pro_acts", "cur_links"),
        ("activity appears", "pro_acts", "cur_acts", "pro_links"),
    ):
        rows = connection.execute(
            f"""SELECT x.activity, {_records_of(links)} FROM {acts} x
            WHERE x.activity NOT IN (SELECT activity FROM {other}) ORDER BY x.activity"""
        )
        for activity, records in rows:
            side = "current_records" if links == "cur_links" else "proposed_records"
            on_difference(_difference(kind, activity=activity, **{side: records}))
    rows = connection.execute(
        f"""SELECT x.activity, {_records_of("cur_links")}, {_records_of("pro_links")}
        FROM ({changed_links}) x ORDER BY x.activity"""
    )
    for activity, current, proposed in rows:
        on_difference(
            _difference(
                "associations differ",
                activity=activity,
                current_records=current,
                proposed_records=proposed,
            )
        )


def since_ts(text: str, now: str | None = None) -> str:
    """``30d``, ``12h``, ``90m`` ago, a date (``2026-11-01``: its midnight, UTC) or an ISO
    time (without an offset: UTC), as a canonical time. The one reader of every ``--since``
    (and the admin API's ``since``)."""
    now = now or now_ts()
    units = {"d": 1.0, "h": 1 / 24, "m": 1 / 1440}
    value = text.strip()
    if value[:-1].isdigit() and value[-1:] in units:
        try:
            moment = add_days(now, -int(value[:-1]) * units[value[-1]])
        except (OverflowError, ValueError):
            moment = ""
        if len(moment) != len(now) or moment[:4] < "1000":  # before year 1000: not a time
            raise UserError(f"since {text!r}: too far back; the earliest is the year 1000")
        return moment
    try:
        return parse_time(value, naive_is_utc=True, plain_date=True)
    except ValueError:
        raise UserError(
            f"since {text!r}: expected a duration (30d, 12h, 90m), a date (2026-11-01) or an "
            "ISO time (2026-11-01T09:00:00Z; without an offset it is UTC)"
        ) from None
