"""The records the HubSpot push cannot create yet, and what waits for them: placeholders of
the pushed types that nothing names (no name, domain or email; created blank, a contact
would be a second one in HubSpot once its email came), and the links of objects HubSpot has
(activities, records) to them, which HubSpot lacks until they are created. Grouped in the
database: counts by type, the oldest wait, the first few records.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import PUSHED_RECORD_TYPES
from leadsync.store.database import in_values
from leadsync.store.push import ACTIVITY, RECORD
from leadsync.store.schema import (
    activity_associations,
    push_objects,
    record_associations,
    records,
)


def _blank(column: Any) -> sa.ColumnElement[bool]:
    return sa.or_(column.is_(None), column == "")


def _unnamed(connection: Connection, record_ids: Collection[int] | None) -> sa.CTE:
    """(id, type) of the records the push cannot create yet: placeholders of the pushed
    types that nothing names (no name, domain or email) and HubSpot has no id for. Read
    through the partial index of placeholders (``records.placeholder`` bare: its ``WHERE``)."""
    in_hubspot = (
        sa.select(push_objects.c.local_id)
        .where(
            push_objects.c.kind == RECORD,
            push_objects.c.local_id == records.c.id,
            push_objects.c.hubspot_id.is_not(None),
        )
        .exists()
    )
    query = sa.select(records.c.id, records.c.type).where(
        records.c.placeholder,
        records.c.type.in_(sorted(PUSHED_RECORD_TYPES)),
        _blank(records.c.email),
        _blank(records.c.domain),
        _blank(records.c.name),
        ~in_hubspot,
    )
    if record_ids is not None:
        query = query.where(in_values(records.c.id, record_ids, connection.dialect.name))
    return query.cte("unnamed")


def _waiting_links(unnamed: sa.CTE) -> sa.Subquery:
    """(record id, since) per link of those records to an object HubSpot has (an activity,
    or a record on either side): the link HubSpot lacks, with when that object was pushed."""
    other = push_objects.alias("other")
    aa, ra = activity_associations, record_associations

    def in_hubspot(kind: str, local_id: Any) -> sa.ColumnElement[bool]:
        return sa.and_(
            other.c.kind == kind, other.c.local_id == local_id, other.c.hubspot_id.is_not(None)
        )

    since = other.c.pushed_at.label("since")
    return sa.union_all(
        sa.select(aa.c.record_id.label("record_id"), since)
        .join(unnamed, unnamed.c.id == aa.c.record_id)
        .join(other, in_hubspot(ACTIVITY, aa.c.activity_id)),
        sa.select(ra.c.left_id, since)
        .join(unnamed, unnamed.c.id == ra.c.left_id)
        .join(other, in_hubspot(RECORD, ra.c.right_id)),
        sa.select(ra.c.right_id, since)
        .join(unnamed, unnamed.c.id == ra.c.right_id)
        .join(other, in_hubspot(RECORD, ra.c.left_id)),
    ).subquery("waiting")


@dataclass
class Unnamed:
    """The records the push cannot create yet (by type), the links of objects HubSpot has
    waiting for them, since when the oldest waits (its object's last push), and the first
    ``limit`` of them, those with the most links waiting first."""

    records: dict[str, int]
    links: int
    since: str | None
    first: list[dict[str, Any]]

    @property
    def total(self) -> int:
        return sum(self.records.values())


def unnamed(
    connection: Connection, limit: int = 10, record_ids: Collection[int] | None = None
) -> Unnamed:
    """:class:`Unnamed` of the workspace (or of ``record_ids`` only): a grouped query, and
    one for the first ``limit`` records (none with 0)."""
    named = _unnamed(connection, record_ids)
    waiting = _waiting_links(named)
    per_record = (
        sa.select(
            named.c.id,
            named.c.type,
            sa.func.count(waiting.c.record_id).label("links"),
            sa.func.min(waiting.c.since).label("since"),
        )
        .select_from(named.outerjoin(waiting, waiting.c.record_id == named.c.id))
        .group_by(named.c.id, named.c.type)
        .subquery("per_record")
    )
    totals = connection.execute(
        sa.select(
            per_record.c.type,
            sa.func.count(),
            sa.func.sum(per_record.c.links),
            sa.func.min(per_record.c.since),
        ).group_by(per_record.c.type)
    ).all()
    first = (
        connection.execute(
            sa.select(per_record).order_by(per_record.c.links.desc(), per_record.c.id).limit(limit)
        ).all()
        if totals and limit > 0
        else []
    )
    return Unnamed(
        records={str(t): int(n) for t, n, _l, _s in totals},
        links=sum(int(links or 0) for _t, _n, links, _s in totals),
        since=min((s for *_, s in totals if s is not None), default=None),
        first=[
            {"type": r.type, "id": int(r.id), "links": int(r.links), "since": r.since}
            for r in first
        ],
    )
