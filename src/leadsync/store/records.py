"""The console's record reads: searching records a page at a time, and what the push knows
of one record.

Every search is a range over an index, never a scan: an email or domain prefix over
``ix_records_type_email`` / ``ix_records_type_domain`` (emails and domains are stored
normalized, lowercase), a name prefix over ``ix_records_name_lower`` (``lower(substr(name, 1,
200)), id``: a longer prefix is read as its first 200 characters), an external id over the
identities' primary key. Pages are keyset pages: the next page
starts after the last (key, id) shown, so page 1,000 costs what page 1 does.

A prefix is matched as a range ``key >= prefix AND key < prefix + U+10FFFF`` (what an index
can walk) and checked exactly (``substr(key, 1, n) = prefix``), so a collation that does not
sort by code point (a PostgreSQL database not created with ``C``/``C.UTF-8``) can miss
matches the range skips but never shows a record that does not match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.model import RecordType
from leadsync.store.push import refused_by
from leadsync.store.schema import (
    NAME_KEY_LENGTH,
    push_failures,
    push_queue,
    record_identities,
    records,
)

SearchBy = Literal["email", "domain", "name", "external"]
#: The largest code point: every string that starts with a prefix sorts below prefix + this.
_TOP = "\U0010ffff"
_RECORD_TYPES = tuple(t.value for t in RecordType)
_COLUMNS = (
    records.c.id,
    records.c.type,
    records.c.owner_id,
    records.c.email,
    records.c.domain,
    records.c.name,
    records.c.placeholder,
    records.c.created_at,
)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ends: the sort key and the id of its last record."""

    key: str
    id: int


def _prefix(key: Any, prefix: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        key >= prefix,
        key < prefix + _TOP,
        sa.func.substr(key, 1, len(prefix)) == prefix,
    )


def _name_keys(connection: Connection, text: str) -> list[str]:
    """The keys a name typed as ``text`` may have in the index (``lower(...)``, as the
    database lowers). PostgreSQL lowers every letter, as Python does: one key. SQLite lowers
    ASCII letters only (``Łukasz`` stays ``Łukasz``), so the typed text is lowered the same
    way, its first letter in either case (``łukasz`` finds ``Łukasz``); a capital beyond
    ASCII further in must be typed as written."""
    if connection.dialect.name != "sqlite":
        return [text.lower()]

    def ascii_lower(value: str) -> str:
        return "".join(c.lower() if c.isascii() else c for c in value)

    first = text[:1]
    return sorted({ascii_lower(f + text[1:]) for f in (first, first.upper(), first.lower())})


def search(
    connection: Connection,
    by: SearchBy,
    text: str,
    limit: int,
    after: Cursor | None = None,
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Records whose ``by`` starts with ``text`` (for ``external``: the identity
    ``(integration, external id)`` given as ``text`` = ``INTEGRATION\\0ID``, exactly), in key
    then id order, at most ``limit`` after ``after``; and the cursor of the next page (None on
    the last). ``text`` is already normalized by the caller (lowercase email, domain, name)."""
    if by == "external":
        integration, _, external_id = text.partition("\0")
        ids = sa.select(record_identities.c.record_id).where(
            record_identities.c.integration == integration,
            record_identities.c.type.in_(_RECORD_TYPES),  # the key's middle column: lookups
            record_identities.c.external_id == external_id,
        )
        key: Any = records.c.id.cast(sa.String)
        where: list[sa.ColumnElement[bool]] = [records.c.id.in_(ids)]
        order: list[Any] = [records.c.id]
    else:
        if by == "email":
            key = records.c.email
            where = [records.c.type == RecordType.CONTACT.value]
        elif by == "domain":
            key = records.c.domain
            where = [records.c.type == RecordType.COMPANY.value]
        else:
            key = sa.func.lower(sa.func.substr(records.c.name, 1, NAME_KEY_LENGTH))
            keys = _name_keys(connection, text[:NAME_KEY_LENGTH])  # what the index holds
            where = [sa.or_(*(_prefix(key, k) for k in keys))]
        if by != "name":
            where.append(_prefix(key, text))
        order = [key, records.c.id]
    # A record joined into another is that record now: listed as it (its identities are
    # the kept one's; an email or name of its own finds it through ``records find``).
    where.append(records.c.merged_into.is_(None))
    if after is not None:
        where.append(sa.tuple_(*order) > sa.tuple_(*_cursor_values(by, after)))
    query = sa.select(key.label("sort_key"), *_COLUMNS).where(*where).order_by(*order)
    rows = [dict(r._mapping) for r in connection.execute(query.limit(limit + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = Cursor(str(rows[-1]["sort_key"]), int(rows[-1]["id"])) if more else None
    for row in rows:
        del row["sort_key"]
        row["placeholder"] = bool(row["placeholder"])
    return rows, cursor


def _cursor_values(by: SearchBy, after: Cursor) -> Sequence[Any]:
    return (after.id,) if by == "external" else (after.key, after.id)


def push_state(connection: Connection, kind: str, local_id: int) -> dict[str, Any]:
    """What the push has still to do for one object: changes queued (``queued``, the oldest
    ``queued_since``), the newest input HubSpot refused (or leadsync's own check kept from
    being sent: ``refused_by``) that nobody resolved (``failure``: operation, status,
    category, message, at; None without one) and, when its newest refusal was dismissed, that
    one (``dismissed``, with ``resolved_at``)."""
    q = push_queue
    queued, since = connection.execute(
        sa.select(sa.func.count(), sa.func.min(q.c.queued_at)).where(
            q.c.kind == kind, q.c.local_id == local_id
        )
    ).one()
    f = push_failures
    newest = connection.execute(
        sa.select(
            f.c.operation,
            f.c.status,
            f.c.category,
            f.c.message,
            f.c.at,
            f.c.resolution,
            f.c.resolved_at,
        )
        .where(f.c.kind == kind, f.c.local_id == local_id)
        .order_by(f.c.id.desc())
        .limit(1)
    ).first()
    found = dict(newest._mapping) if newest is not None else {}
    if found:
        found["refused_by"] = refused_by(found["category"])
    return {
        "queued": int(queued),
        "queued_since": since,
        "failure": _without(found, "resolution", "resolved_at")
        if found and found["resolved_at"] is None
        else None,
        "dismissed": _without(found, "resolution")
        if found.get("resolution") == "dismissed"
        else None,
    }


def _without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in keys}
