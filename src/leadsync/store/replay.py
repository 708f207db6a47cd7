"""Replay's SQL: reading the inbox a chunk at a time, and comparing two scratch SQLite
workspaces in one connection (the proposed one attached as ``p``).

Records are matched by what names them in both runs (an integration's external id — the
replayed integration's when the record has one —, else a contact's email or a company's
domain), activities by their natural key, since ids may differ between the two runs. Each
comparison is a join or a set difference over indexed temporary tables, never a scan per row;
the temporary tables die with the connection. A name is looked up in the workspace itself in
one query for all (:func:`workspace_ids`). Each scratch run also keeps why each of its
activities has its owner (a table of its own, :func:`keep_owner_reasons`). What the differences mean, and how they are
reported, is :mod:`leadsync.ops.replay`'s.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.schema import inbox, owner_decisions, review_items


def inbox_size(connection: Connection, since: str | None = None) -> int:
    """How many inbox rows happened since ``since`` (all without it)."""
    query = sa.select(sa.func.count()).select_from(inbox)
    if since is not None:
        query = query.where(inbox.c.occurred_at >= since)
    return int(connection.execute(query).scalar_one())


def inbox_chunk(
    connection: Connection, after_seq: int, since: str | None, limit: int
) -> list[dict[str, Any]]:
    """The next ``limit`` inbox rows after ``after_seq`` in arrival order (keyset pagination
    on seq), that happened since ``since``: ``seq``, ``integration``, ``event_id``,
    ``occurred_at``, ``received_at``, ``payload``."""
    query = (
        sa.select(
            inbox.c.seq,
            inbox.c.integration,
            inbox.c.event_id,
            inbox.c.occurred_at,
            inbox.c.received_at,
            inbox.c.payload,
        )
        .where(inbox.c.seq > after_seq)
        .order_by(inbox.c.seq)
        .limit(limit)
    )
    if since is not None:
        query = query.where(inbox.c.occurred_at >= since)
    return [dict(row._mapping) for row in connection.execute(query)]


def people_changes(
    connection: Connection, strategies: Mapping[str, str], since: str | None
) -> dict[str, int]:
    """What people did in the workspace (since ``since``) that is no inbox event, so no
    replay replays it: owner decisions of each of ``strategies`` (strategy -> the key
    counted under), and review questions a person closed (answered or skipped); keys with
    none are left out."""
    decided = (
        sa.select(owner_decisions.c.strategy, sa.func.count())
        .where(owner_decisions.c.strategy.in_(list(strategies)))
        .group_by(owner_decisions.c.strategy)
    )
    answered = sa.select(sa.func.count()).where(
        review_items.c.status.in_(("resolved", "skipped")),
        review_items.c.closed_by.is_not(None),
        review_items.c.closed_by != "leadsync",
    )
    if since is not None:
        decided = decided.where(owner_decisions.c.decided_at >= since)
        answered = answered.where(review_items.c.closed_at >= since)
    counts = {strategies[s]: int(n) for s, n in connection.execute(decided)}
    counts["review_answers"] = int(connection.execute(answered).scalar_one())
    return {label: n for label, n in counts.items() if n}


@contextmanager
def both_runs(current: Path, proposed: Path) -> Iterator[sqlite3.Connection]:
    """One SQLite connection on the current run's database with the proposed run's attached
    as ``p``; closed (its temporary tables with it) on leaving."""
    connection = sqlite3.connect(current)
    try:
        connection.execute("ATTACH DATABASE ? AS p", (str(proposed),))
        yield connection
    finally:
        connection.close()


def _count(connection: sqlite3.Connection, sql: str) -> int:
    return int(connection.execute(sql).fetchone()[0])


# A record's name in both runs: its identity (``k``: the replayed integration's when it has
# one, else the first), else a contact's email or a company's domain, else its lowest phone
# number (a contact ``unknown_counterpart: create`` made for a call's number has nothing else
# both runs share: its id differs between them); with what it is made of, to find the record
# in the workspace (:func:`workspace_ids`).
_PHONE = "(SELECT min(p.number) FROM {db}record_phones p WHERE p.record_id = r.id AND p.valid)"
_NAME = """
CASE WHEN k.record_id IS NOT NULL THEN k.integration || ':' || k.type || ':' || k.external_id
  WHEN r.email IS NOT NULL THEN 'email:' || r.email
  WHEN r.domain IS NOT NULL THEN 'domain:' || r.domain
  WHEN {phone} IS NOT NULL THEN 'phone:' || {phone}
  ELSE 'record:' || r.id END
"""
_IDENTITY = """LEFT JOIN {db}record_identities k ON k.rowid = (
    SELECT i.rowid FROM {db}record_identities i WHERE i.record_id = r.id
    ORDER BY i.integration != :integration, i.integration || ':' || i.type || ':' || i.external_id
    LIMIT 1)"""


def _names(db: str) -> str:
    return f"""SELECT r.id AS id, r.type AS type, r.owner_id AS owner_id,
        {_NAME.format(phone=_PHONE.format(db=db))} AS name,
        (SELECT d.reason FROM {db}owner_decisions d WHERE d.record_id = r.id
          ORDER BY d.id DESC LIMIT 1) AS reason,
        k.integration AS key_integration, k.type AS key_type, k.external_id AS key_external_id,
        r.email AS email, r.domain AS domain
        FROM {db}records r {_IDENTITY.format(db=db)}"""


@dataclass(frozen=True, slots=True)
class RecordCounts:
    compared: int  # named in both runs
    only_in_current: int
    only_in_proposed: int
    owners_differ: int


_OWNERS_DIFFER = """FROM cur JOIN pro ON pro.name = cur.name
    WHERE coalesce(cur.owner_id, '') != coalesce(pro.owner_id, '')"""


def compare_records(connection: sqlite3.Connection, integration: str) -> RecordCounts:
    """Name every record of both runs (temporary tables ``cur`` and ``pro``: id, type,
    owner, name — by ``integration``'s identity first —, latest reason, what the name is
    made of) and count them: in both, in one only, with other owners. Must run before the
    other comparisons, which read those tables."""
    given = {"integration": integration}
    connection.execute(f"CREATE TEMP TABLE cur AS {_names('main.')}", given)
    connection.execute(f"CREATE TEMP TABLE pro AS {_names('p.')}", given)
    for side in ("cur", "pro"):
        connection.execute(f"CREATE INDEX temp.ix_{side}_name ON {side}(name)")
        connection.execute(f"CREATE INDEX temp.ix_{side}_id ON {side}(id)")
    return RecordCounts(
        compared=_count(connection, "SELECT count(*) FROM cur JOIN pro USING (name)"),
        only_in_current=_count(
            connection, "SELECT count(*) FROM cur WHERE name NOT IN (SELECT name FROM pro)"
        ),
        only_in_proposed=_count(
            connection, "SELECT count(*) FROM pro WHERE name NOT IN (SELECT name FROM cur)"
        ),
        owners_differ=_count(connection, f"SELECT count(*) {_OWNERS_DIFFER}"),
    )


def records_only_in_one(
    connection: sqlite3.Connection, in_proposed: bool
) -> Iterator[tuple[str, str, str | None, str | None]]:
    """Each record only the proposed run (``in_proposed``) or only the current run has, by
    name: (name, type, owner, latest reason). Needs :func:`compare_records` first."""
    side, other = ("pro", "cur") if in_proposed else ("cur", "pro")
    yield from connection.execute(
        f"""SELECT name, type, owner_id, reason FROM {side}
        WHERE name NOT IN (SELECT name FROM {other}) ORDER BY name"""
    )


class RecordName(NamedTuple):
    """What a record's name is made of: its type and identity (integration, external id),
    else a contact's email or a company's domain (the rest None); only the type for a record
    named by its id, which the workspace cannot know."""

    type: str
    integration: str | None
    external_id: str | None
    email: str | None
    domain: str | None


class OwnerDifference(NamedTuple):
    """A record whose owner differs: its name in both runs, its type and id in the current
    run, both owners and reasons, and what the name is made of."""

    name: str
    type: str
    id: int
    owner_id: str | None
    reason: str | None
    proposed_owner_id: str | None
    proposed_reason: str | None
    key: RecordName


def owner_differences(
    connection: sqlite3.Connection, limit: int | None
) -> Iterator[OwnerDifference]:
    """The records whose owner differs, by current id (at most ``limit``; all with None)."""
    bound = "" if limit is None else f"LIMIT {int(limit)}"
    rows = connection.execute(
        f"""SELECT cur.name, cur.type, cur.id, cur.owner_id, cur.reason, pro.owner_id, pro.reason,
        cur.key_type, cur.key_integration, cur.key_external_id, cur.email, cur.domain
        {_OWNERS_DIFFER} ORDER BY cur.id {bound}"""
    )
    for row in rows:
        key_type, integration, external_id, email, domain = row[7:]
        if integration is not None:
            key = RecordName(key_type, integration, external_id, None, None)
        elif email is not None:
            key = RecordName(row[1], None, None, email, None)
        else:  # by its domain, or (no domain either) by its id: no key
            key = RecordName(row[1], None, None, None, domain)
        name, rtype, rid, owner, reason, new_owner, new_reason = row[:7]
        yield OwnerDifference(name, rtype, rid, owner, reason, new_owner, new_reason, key)


def workspace_ids(connection: Connection, names: Iterable[RecordName]) -> dict[RecordName, int]:
    """The workspace's record of each name, in ONE query for all: by its identity, else the
    lowest id of its type with that email or domain (as the engine finds one); a name the
    workspace has no record of is left out."""
    wanted = set(names)
    identities = sorted(
        [n.integration, n.type, n.external_id] for n in wanted if n.integration is not None
    )
    emails = sorted([n.type, n.email] for n in wanted if n.email is not None)
    domains = sorted([n.type, n.domain] for n in wanted if n.domain is not None)
    if not (identities or emails or domains):
        return {}
    if connection.dialect.name == "postgresql":
        listed = "SELECT {} FROM jsonb_array_elements(CAST(:{} AS jsonb)) AS e"
        item = "e->>{}"
    else:
        listed = "SELECT {} FROM json_each(:{})"
        item = "json_extract(value, '$[{}]')"

    def keys(name: str, width: int) -> str:
        return listed.format(", ".join(item.format(n) for n in range(width)), name)

    rows = connection.execute(
        sa.text(
            f"""SELECT i.type, i.integration, i.external_id, NULL, NULL, i.record_id
            FROM record_identities i
            WHERE (i.integration, i.type, i.external_id) IN ({keys("identities", 3)})
            UNION ALL
            SELECT r.type, NULL, NULL, r.email, NULL, min(r.id) FROM records r
            WHERE (r.type, r.email) IN ({keys("emails", 2)}) GROUP BY r.type, r.email
            UNION ALL
            SELECT r.type, NULL, NULL, NULL, r.domain, min(r.id) FROM records r
            WHERE (r.type, r.domain) IN ({keys("domains", 2)}) GROUP BY r.type, r.domain"""
        ),
        {
            "identities": json.dumps(identities),
            "emails": json.dumps(emails),
            "domains": json.dumps(domains),
        },
    )
    return {RecordName(*row[:5]): int(row[5]) for row in rows}


# Why each activity of a scratch run has its owner (by the run's activity id), as the
# engine's traces said when it gave the owner: ``owner_reason`` of the comparison's tables.
_OWNER_REASONS = "replay_owner_reasons"


def add_owner_reasons(connection: Connection) -> None:
    """The table of why each activity of a scratch run has its owner (empty)."""
    connection.execute(
        sa.text(
            f"CREATE TABLE {_OWNER_REASONS} (activity_id INTEGER PRIMARY KEY, reason TEXT NOT NULL)"
        )
    )


def keep_owner_reasons(connection: Connection, reasons: Mapping[int, str]) -> None:
    """Why these activities of a scratch run have their owner (activity id -> reason); a
    reason replaces the one an activity had."""
    if reasons:
        connection.execute(
            sa.text(f"INSERT OR REPLACE INTO {_OWNER_REASONS} VALUES (:id, :reason)"),
            [{"id": i, "reason": reason} for i, reason in reasons.items()],
        )


_ACTIVITY_KEY = (
    "a.integration || ':' || a.type || ':' || coalesce(a.external_id, 'event:' || a.event_id)"
)

# A link of one run's activity that the other run also has but without that record: an
# activity associated with nothing in the other run (a held call, say) counts too.
_ONE_WAY = """SELECT * FROM (
    SELECT activity, record FROM {a} WHERE activity IN (SELECT activity FROM {b_acts})
    EXCEPT SELECT activity, record FROM {b})"""
# Activities in both runs whose associated records differ.
_CHANGED_LINKS = (
    "SELECT DISTINCT activity FROM ("
    + _ONE_WAY.format(a="cur_links", b_acts="pro_acts", b="pro_links")
    + " UNION ALL "
    + _ONE_WAY.format(a="pro_links", b_acts="cur_acts", b="cur_links")
    + ")"
)


def compare_activities(connection: sqlite3.Connection) -> None:
    """Key every activity of both runs (``cur_acts``, ``pro_acts``: key, ``integration
    type`` label, owner and why) and its associated records by name (``cur_links``,
    ``pro_links``), indexed. Needs :func:`compare_records` first."""
    for side, db in (("cur", "main."), ("pro", "p.")):
        connection.execute(
            f"""CREATE TEMP TABLE {side}_acts AS
            SELECT {_ACTIVITY_KEY} AS activity, a.integration || ' ' || a.type AS label,
                a.owner_id AS owner, r.reason AS owner_reason
            FROM {db}activities a LEFT JOIN {db}{_OWNER_REASONS} r ON r.activity_id = a.id"""
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
        # Why the run did not create an activity (its latest skip that nothing undid).
        connection.execute(
            f"""CREATE TEMP TABLE {side}_skips AS
            SELECT {_ACTIVITY_KEY} AS activity, a.reason AS reason FROM {db}activity_skips a
            WHERE a.id IN (SELECT max(id) FROM {db}activity_skips WHERE activity_id IS NULL
                GROUP BY integration, type, coalesce(external_id, 'event:' || event_id))"""
        )
        connection.execute(f"CREATE INDEX temp.ix_{side}_skips ON {side}_skips(activity)")


def _one_side(appear: bool) -> tuple[str, str, str, str]:
    """(activities of the side, activities of the other, links of the side, skips of the
    other)."""
    if appear:
        return "pro_acts", "cur_acts", "pro_links", "cur_skips"
    return "cur_acts", "pro_acts", "cur_links", "pro_skips"


def activities_only_in_one(connection: sqlite3.Connection, appear: bool) -> dict[str, int]:
    """Activities only the proposed run has (``appear``) or only the current one has, counted
    by ``integration type`` label. Needs :func:`compare_activities` first."""
    acts, other, _links, _skips = _one_side(appear)
    rows = connection.execute(
        f"""SELECT label, count(*) FROM {acts}
        WHERE activity NOT IN (SELECT activity FROM {other})
        GROUP BY label ORDER BY label"""
    )
    return {key: int(count) for key, count in rows}


# Activities both runs have whose owner differs (``x`` the current run's, ``p`` the other's).
_ACTIVITY_OWNERS_DIFFER = """FROM cur_acts x JOIN pro_acts p ON p.activity = x.activity
    WHERE x.owner IS NOT p.owner"""


def activity_owner_differences(connection: sqlite3.Connection) -> dict[str, int]:
    """Activities both runs have whose owner differs (a rep mapped to another owner, or to
    none), counted by ``integration type`` label. Needs :func:`compare_activities` first."""
    rows = connection.execute(
        f"""SELECT x.label, count(*) {_ACTIVITY_OWNERS_DIFFER}
        GROUP BY x.label ORDER BY x.label"""
    )
    return {key: int(count) for key, count in rows}


class ActivityOwnerDifference(NamedTuple):
    """An activity whose owner differs: its key, each run's owner and why, and its
    associated records in each run (by name, space-separated)."""

    activity: str
    owner_id: str | None
    reason: str | None
    proposed_owner_id: str | None
    proposed_reason: str | None
    records: str | None
    proposed_records: str | None


def activity_owner_differences_listed(
    connection: sqlite3.Connection,
) -> Iterator[ActivityOwnerDifference]:
    """Each activity counted by :func:`activity_owner_differences`, by key."""
    rows = connection.execute(
        f"""SELECT x.activity, x.owner, x.owner_reason, p.owner, p.owner_reason,
        {_records_of("cur_links")}, {_records_of("pro_links")}
        {_ACTIVITY_OWNERS_DIFFER} ORDER BY x.activity"""
    )
    for row in rows:
        yield ActivityOwnerDifference(*row)


def count_association_differences(connection: sqlite3.Connection) -> int:
    """How many activities of both runs have other associated records."""
    return _count(connection, f"SELECT count(*) FROM ({_CHANGED_LINKS})")


def _records_of(links: str) -> str:
    """An activity's associated records (by name, space-separated), for ``x.activity``."""
    return f"""(SELECT group_concat(record, ' ') FROM
        (SELECT record FROM {links} l WHERE l.activity = x.activity ORDER BY record))"""


def activities_only_in_one_listed(
    connection: sqlite3.Connection, appear: bool
) -> Iterator[tuple[str, str | None, str | None, str | None, str | None]]:
    """Each activity only one run has (see :func:`activities_only_in_one`), by key: (key,
    its associated records by name, space-separated, its owner in that run and why, and
    why the other run did not create it: its skip's reason, None without one)."""
    acts, other, links, skips = _one_side(appear)
    yield from connection.execute(
        f"""SELECT x.activity, {_records_of(links)}, x.owner, x.owner_reason,
            (SELECT s.reason FROM {skips} s WHERE s.activity = x.activity)
        FROM {acts} x WHERE x.activity NOT IN (SELECT activity FROM {other})
        ORDER BY x.activity"""
    )


def association_differences(
    connection: sqlite3.Connection,
) -> Iterator[tuple[str, str | None, str | None]]:
    """Each activity whose associated records differ, by key: (key, current records,
    proposed records)."""
    yield from connection.execute(
        f"""SELECT x.activity, {_records_of("cur_links")}, {_records_of("pro_links")}
        FROM ({_CHANGED_LINKS}) x ORDER BY x.activity"""
    )
