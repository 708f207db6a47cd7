"""What joining two activities of one tool into one needs (one activity a tool names by
several ids, :mod:`leadsync.engine.aliases`): the links of the activities that may be
joined, the ids that were ever merged into an activity (a join is counted once), and the
skips that named the removed activity, moved to the one that stays. And what a record merge
at a tool writes (:mod:`leadsync.engine.merges`): the merged ids' identities, pointed at the
kept record and marked merged, and the HubSpot ids the push holds for ids HubSpot merged
away, moved to the id it kept; when the merge joins two records leadsync held
(:mod:`leadsync.engine.record_joins`), the absorbed record's stored identities, links,
activity links, phone index entries and review candidates moved to the kept one
(:func:`join_records`), and the absorbed record out of the push (:func:`leave_push`)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import PUSHED_RECORD_TYPES
from leadsync.store.database import in_values, upsert
from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_skips,
    activity_sources,
    push_objects,
    push_queue,
    record_associations,
    record_identities,
    record_phones,
    records,
    review_items,
)

PUSHED_TYPES = frozenset(PUSHED_RECORD_TYPES)


def _in(connection: Connection, column: Any, values: Collection[Any]) -> Any:
    return in_values(column, values, connection.dialect.name)


def load_activity_links(
    connection: Connection, activity_ids: Collection[int]
) -> dict[int, list[dict[str, Any]]]:
    """The record links of these activities, with their source and reason: activity id ->
    rows (activity_id, record_id, record_type, source, reason)."""
    if not activity_ids:
        return {}
    aa = activity_associations
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    query = sa.select(
        aa.c.activity_id, aa.c.record_id, aa.c.record_type, aa.c.source, aa.c.reason
    ).where(_in(connection, aa.c.activity_id, activity_ids))
    for row in connection.execute(query):
        data = dict(row._mapping)
        data["activity_id"], data["record_id"] = int(data["activity_id"]), int(data["record_id"])
        out[data["activity_id"]].append(data)
    for rows in out.values():
        rows.sort(key=lambda r: r["record_id"])
    return dict(out)


def load_source_keys(
    connection: Connection, keys: Iterable[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which of these (integration, type, external id) were merged into an activity before
    (an ``activity_sources`` row, whether or not that activity is still there)."""
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for integration, atype, external_id in keys:
        grouped[(integration, atype)].add(external_id)
    s = activity_sources
    out: set[tuple[str, str, str]] = set()
    for (integration, atype), ids in grouped.items():
        query = sa.select(s.c.external_id).where(
            s.c.integration == integration,
            s.c.type == atype,
            _in(connection, s.c.external_id, ids),
        )
        out.update((integration, atype, str(e)) for (e,) in connection.execute(query))
    return out


def move_activity_skips(connection: Connection, moved: Sequence[tuple[int, int]]) -> None:
    """Skips resolved as created later by an activity that was then joined into another
    (``moved``: removed id, kept id) point at the one that stays."""
    t = activity_skips
    for removed, kept in moved:
        connection.execute(sa.update(t).where(t.c.activity_id == removed).values(activity_id=kept))


def merge_identities(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Identities of ids a tool merged into another record (rows: integration, type,
    external_id, record_id, merged_into, merged_at): inserted, or pointed at the kept record
    and marked merged when the id was known."""
    if not rows:
        return
    statement = upsert(
        connection,
        record_identities,
        ("integration", "type", "external_id"),
        {
            "record_id": lambda e: e.record_id,
            "merged_into": lambda e: e.merged_into,
            "merged_at": lambda e: e.merged_at,
        },
    )
    connection.execute(statement, list(rows))


def move_merged_hubspot_ids(
    connection: Connection, moves: Sequence[tuple[str, Sequence[str], str]]
) -> None:
    """The push's records whose HubSpot id HubSpot merged away (``moves``: object type, the
    merged ids, the id kept) are that kept object from now on, so nothing writes to an id
    that is gone."""
    t = push_objects
    for object_type, merged, kept in moves:
        connection.execute(
            sa.update(t)
            .where(
                t.c.kind == "record",
                t.c.object_type == object_type,
                _in(connection, t.c.hubspot_id, merged),
            )
            .values(hubspot_id=kept)
        )


def join_records(connection: Connection, joins: Sequence[Mapping[str, Any]]) -> None:
    """Records joined into another (``joins``: absorbed, kept, type, at), in order, after the
    batch's own rows are written: what is stored of each absorbed record becomes the kept
    record's — its identities (marked ``joined_from``), its record links (one per pair; a
    link that was primary stays primary only where the record on its left has no other
    primary company), its activities' links (one per activity), its phone index entries (the
    engine wrote the kept record's: the absorbed record's go), the candidates of the open
    review questions naming it; and records joined into it before point at the kept one."""
    for join in joins:
        absorbed, kept = int(join["absorbed"]), int(join["kept"])
        _identities(connection, absorbed, kept)
        connection.execute(
            sa.update(records).where(records.c.merged_into == absorbed).values(merged_into=kept)
        )
        _record_links(connection, absorbed, kept)
        _activity_links(connection, absorbed, kept)
        connection.execute(sa.delete(record_phones).where(record_phones.c.record_id == absorbed))
        _candidates(connection, absorbed, kept, str(join["type"]), str(join["at"]))


def _identities(connection: Connection, absorbed: int, kept: int) -> None:
    t = record_identities
    connection.execute(
        sa.update(t)
        .where(t.c.record_id == absorbed)
        .values(record_id=kept, joined_from=sa.func.coalesce(t.c.joined_from, absorbed))
    )


def _record_links(connection: Connection, absorbed: int, kept: int) -> None:
    t = record_associations
    other = t.alias("other")

    def has_other_primary(left: Any, *but: int) -> Any:
        return sa.exists().where(
            other.c.left_id == left,
            other.c.is_primary.is_(True),
            other.c.right_id.not_in(but),
        )

    # The absorbed record on the left (a contact, lead or deal): its companies and deals.
    kept_rights = sa.select(other.c.right_id).where(other.c.left_id == kept)
    primary_right = sa.select(other.c.right_id).where(
        other.c.left_id == absorbed, other.c.is_primary.is_(True)
    )
    connection.execute(
        sa.update(t)
        .where(t.c.left_id == kept, t.c.right_id.in_(primary_right))
        .where(~has_other_primary(kept, -1))
        .values(is_primary=True)
    )
    connection.execute(
        sa.delete(t).where(t.c.left_id == absorbed, t.c.right_id.in_(kept_rights.scalar_subquery()))
    )
    connection.execute(
        sa.update(t)
        .where(t.c.left_id == absorbed)
        .values(left_id=kept, is_primary=sa.and_(t.c.is_primary, ~has_other_primary(kept, -1)))
    )
    # The absorbed record on the right (a company, a deal): the contacts and deals linked
    # to it; a contact whose primary company it was has the kept one as primary.
    kept_lefts = sa.select(other.c.left_id).where(other.c.right_id == kept)
    primary_lefts = sa.select(other.c.left_id).where(
        other.c.right_id == absorbed, other.c.is_primary.is_(True)
    )
    connection.execute(
        sa.update(t)
        .where(t.c.right_id == kept, t.c.left_id.in_(primary_lefts))
        .where(~has_other_primary(t.c.left_id, absorbed, kept))
        .values(is_primary=True)
    )
    connection.execute(
        sa.delete(t).where(t.c.right_id == absorbed, t.c.left_id.in_(kept_lefts.scalar_subquery()))
    )
    connection.execute(
        sa.update(t)
        .where(t.c.right_id == absorbed)
        .values(
            right_id=kept,
            is_primary=sa.and_(t.c.is_primary, ~has_other_primary(t.c.left_id, absorbed, kept)),
        )
    )


def _activity_links(connection: Connection, absorbed: int, kept: int) -> None:
    aa = activity_associations
    other = aa.alias("other")
    on_kept = sa.select(other.c.activity_id).where(other.c.record_id == kept).scalar_subquery()
    connection.execute(
        sa.delete(aa).where(aa.c.record_id == absorbed, aa.c.activity_id.in_(on_kept))
    )
    connection.execute(sa.update(aa).where(aa.c.record_id == absorbed).values(record_id=kept))


def _candidates(connection: Connection, absorbed: int, kept: int, rtype: str, at: str) -> None:
    """The open review questions that name the absorbed record as a candidate name the kept
    one in its place (once: where it is a candidate already, the two reasons are joined)."""
    t = review_items
    query = sa.select(t.c.id, t.c.candidates).where(t.c.status == "open")
    for item_id, candidates in connection.execute(query).all():
        if isinstance(candidates, str):
            candidates = json.loads(candidates)
        if not isinstance(candidates, list) or not any(
            isinstance(c, dict) and c.get("record_id") == absorbed for c in candidates
        ):
            continue
        joined = f"{rtype} {absorbed} was joined into it at {at}"
        out: list[dict[str, Any]] = []
        for candidate in candidates:
            if isinstance(candidate, dict) and candidate.get("record_id") == absorbed:
                candidate = {
                    **candidate,
                    "record_id": kept,
                    "why": f"{candidate.get('why')} ({joined})",
                }
            same = [
                c
                for c in out
                if isinstance(c, dict) and c.get("record_id") == candidate.get("record_id")
            ]
            if same and isinstance(candidate, dict):
                same[0]["why"] = f"{same[0].get('why')}; {candidate.get('why')}"
                continue
            out.append(dict(candidate) if isinstance(candidate, dict) else candidate)
        connection.execute(sa.update(t).where(t.c.id == item_id).values(candidates=out))


def leave_push(
    connection: Connection,
    joins: Sequence[Mapping[str, Any]],
    crm_integrations: Collection[str],
    queued_at: str,
    pushing: bool,
) -> None:
    """The push after records were joined: an absorbed record is never pushed again (its
    queued changes go); a kept record that has no HubSpot object of its own (none pushed,
    none HubSpot's webhooks named) takes the absorbed one's; and, for a merge made in another
    tool than HubSpot, the activities and records now linked to the kept record are queued
    to be associated with its object there (HubSpot merged its own objects already), when
    the workspace ``pushing``."""
    for join in joins:
        absorbed, kept = int(join["absorbed"]), int(join["kept"])
        q = push_queue
        connection.execute(
            sa.delete(q).where(
                sa.or_(
                    sa.and_(q.c.kind == "record", q.c.local_id == absorbed),
                    q.c.other_id == absorbed,
                )
            )
        )
        o = push_objects
        mine = connection.execute(
            sa.select(o.c.hubspot_id).where(o.c.kind == "record", o.c.local_id == kept)
        ).first()
        t = record_identities
        own_crm = connection.execute(
            sa.select(sa.func.count()).where(
                t.c.record_id == kept,
                t.c.integration.in_(sorted(crm_integrations) or [""]),
                t.c.merged_into.is_(None),
                t.c.joined_from.is_(None),
            )
        ).scalar_one()
        if mine is None and not own_crm:  # (a row without an id: a create may be on its way)
            connection.execute(
                sa.update(o)
                .where(o.c.kind == "record", o.c.local_id == absorbed)
                .values(local_id=kept)
            )
        if join["crm"] or not pushing:
            continue
        rows = _kept_links(connection, kept, str(join["type"]), queued_at)
        if rows:
            connection.execute(sa.insert(q), rows)


def _kept_links(connection: Connection, kept: int, rtype: str, at: str) -> list[dict[str, Any]]:
    """Push queue rows associating the kept record's activities and records with it."""
    aa, a, t = activity_associations, activities, record_associations
    rows = [
        {"kind": "activity", "local_id": int(aid), "object_type": atype, "change": "associated",
         "other_id": kept, "queued_at": at}
        for aid, atype in connection.execute(
            sa.select(aa.c.activity_id, a.c.type)
            .join(a, a.c.id == aa.c.activity_id)
            .where(aa.c.record_id == kept)
            .order_by(aa.c.activity_id)
        )
    ]  # fmt: skip
    linked = sa.union_all(
        sa.select(t.c.right_id.label("id"), t.c.right_type.label("type")).where(
            t.c.left_id == kept
        ),
        sa.select(t.c.left_id.label("id"), t.c.left_type.label("type")).where(t.c.right_id == kept),
    )
    for other_id, other_type in connection.execute(linked):
        if other_type in PUSHED_TYPES and rtype in PUSHED_TYPES:
            rows.append(
                {"kind": "record", "local_id": kept, "object_type": rtype,
                 "change": "associated", "other_id": int(other_id), "queued_at": at}
            )  # fmt: skip
    return rows
