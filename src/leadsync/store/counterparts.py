"""The engine's SQL for counterparts: phone numbers of contacts and leads, held activities,
questions put in the review queue; one set-based query per load and one statement per
write, like :mod:`leadsync.store.batch`. The queue's own reads are in
:mod:`leadsync.store.review`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import executemany, in_values, insert_rows, json_text
from leadsync.store.schema import (
    activities,
    activity_associations,
    held_activities,
    internal_activities,
    record_phones,
    records,
    review_items,
)

_PERSON_TYPES = ("contact", "lead")


def _in(connection: Connection, column: Any, values: Collection[Any]) -> Any:
    return in_values(column, values, connection.dialect.name)


# ------------------------------------------------------------------------------ loads


def load_phone_holders(
    connection: Connection, numbers: Collection[str]
) -> dict[str, list[tuple[int, str]]]:
    """number -> (record id, phone property) of the contacts and leads that have it."""
    found: dict[str, list[tuple[int, str]]] = {n: [] for n in numbers}
    if not numbers:
        return found
    t = record_phones
    rows = connection.execute(
        sa.select(t.c.number, t.c.record_id, t.c.property).where(
            _in(connection, t.c.number, numbers), t.c.valid.is_(True)
        )
    )
    for number, record_id, prop in rows:
        found[number].append((int(record_id), prop))
    return found


def any_held(connection: Connection) -> bool:
    """Whether any activity is held (most batches then need no numbers of their records)."""
    h = held_activities
    return connection.execute(sa.select(h.c.activity_id).limit(1)).first() is not None


def load_held(connection: Connection, numbers: Collection[str]) -> list[sa.Row[Any]]:
    """The activities held for these numbers, with their type: (activity_id, number,
    integration, held_at, queued, type)."""
    if not numbers:
        return []
    h = held_activities
    return list(
        connection.execute(
            sa.select(h.c.activity_id, h.c.number, h.c.integration, h.c.held_at, h.c.queued)
            .add_columns(activities.c.type)
            .join(activities, activities.c.id == h.c.activity_id)
            .where(_in(connection, h.c.number, numbers))
            .order_by(h.c.held_at, h.c.activity_id)
        ).all()
    )


def load_attached(
    connection: Connection, activity_ids: Collection[int]
) -> tuple[set[int], dict[int, set[str]]]:
    """Which of these activities are on a contact or lead already, held, or internal calls
    (their counterpart was looked for when they were created); and the numbers the held
    ones wait for (an internal call's: the company's line it is internal by)."""
    if not activity_ids:
        return set(), {}
    aa, h, i = activity_associations, held_activities, internal_activities
    linked = sa.select(aa.c.activity_id, sa.null().label("number")).where(
        _in(connection, aa.c.activity_id, activity_ids), aa.c.record_type.in_(_PERSON_TYPES)
    )
    held = sa.select(h.c.activity_id, h.c.number).where(
        _in(connection, h.c.activity_id, activity_ids)
    )
    internal = sa.select(i.c.activity_id, i.c.number).where(
        _in(connection, i.c.activity_id, activity_ids)
    )
    attached: set[int] = set()
    held_for: dict[int, set[str]] = {}
    for activity_id, number in connection.execute(sa.union_all(linked, held, internal)):
        attached.add(int(activity_id))
        if number is not None:
            held_for.setdefault(int(activity_id), set()).add(number)
    return attached, held_for


def load_email_holders(connection: Connection, emails: Collection[str]) -> dict[str, list[int]]:
    """email -> the ids of every contact with it, lowest first; a contact a merge joined
    into another (``merged_into``) stands for that one, in its own place, once."""
    return {
        email: list(dict.fromkeys(into or own for own, into in found))
        for email, found in load_holders(connection, "email", emails).items()
    }


def load_holders(
    connection: Connection, key: str, values: Collection[str], limit: int | None = None
) -> dict[str, list[tuple[int, int | None]]]:
    """value -> the records holding it, lowest id first, each as (its id, the record a
    merge joined it into or None): contacts by ``email``, companies by ``domain`` (``key``);
    with ``limit``, the lowest ``limit`` per value at most (one statement either way: a
    window over the value's rows, on ``ix_records_type_*``)."""
    if not values:
        return {}
    column = records.c[key]
    where = (records.c.type == _HOLDER_TYPES[key], _in(connection, column, values))
    if limit is None:
        query = (
            sa.select(column, records.c.id, records.c.merged_into)
            .where(*where)
            .order_by(records.c.id)
        )
    else:
        rank = sa.func.row_number().over(partition_by=column, order_by=records.c.id)
        ranked = (
            sa.select(column, records.c.id, records.c.merged_into, rank.label("rank"))
            .where(*where)
            .subquery()
        )
        query = (
            sa.select(ranked.c[key], ranked.c.id, ranked.c.merged_into)
            .where(ranked.c.rank <= limit)
            .order_by(ranked.c.id)
        )
    found: dict[str, list[tuple[int, int | None]]] = defaultdict(list)
    for value, record_id, into in connection.execute(query):
        found[value].append((int(record_id), int(into) if into is not None else None))
    return dict(found)


_HOLDER_TYPES = {"email": "contact", "domain": "company"}


# ----------------------------------------------------------------------------- writes

_PHONE_COLUMNS = ("record_id", "property", "record_type", "number", "valid")
_PHONE_UPSERT = (
    "ON CONFLICT (record_id, property) DO UPDATE SET record_type = excluded.record_type, "
    "number = excluded.number, valid = excluded.valid"
)
_HELD_COLUMNS = ("activity_id", "number", "integration", "held_at", "expires_at", "queued")
_REVIEW_COLUMNS = (
    "key",
    "kind",
    "integration",
    "activity_id",
    "event_id",
    "subject",
    "question",
    "created_at",
    "status",
    "closed_at",
    "closed_by",
    "choice",
    "outcome",
)


def save_phones(
    connection: Connection,
    rows: Sequence[Mapping[str, Any]],
    removed: Sequence[tuple[int, str]],
) -> None:
    """Set the phone rows of (record, property) pairs (``rows``, an upsert) and remove
    others."""
    if removed:
        t = record_phones
        quote = connection.dialect.identifier_preparer.quote
        mark = "?" if connection.dialect.name == "sqlite" else "%s"
        executemany(
            connection,
            f"DELETE FROM {quote(t.name)} WHERE record_id = {mark} AND property = {mark}",
            list(removed),
        )
    if rows:
        values = list(map(itemgetter(*_PHONE_COLUMNS), rows))
        unique = ("record_id", "property")
        insert_rows(connection, record_phones, _PHONE_COLUMNS, values, _PHONE_UPSERT, unique=unique)


def hold(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        values = [tuple(r[c] for c in _HELD_COLUMNS) for r in rows]
        insert_rows(connection, held_activities, _HELD_COLUMNS, values, "ON CONFLICT DO NOTHING")


def release(connection: Connection, activity_ids: Collection[int]) -> None:
    """Held activities that were attached, resolved or removed are held no more."""
    if activity_ids:
        h = held_activities
        connection.execute(sa.delete(h).where(_in(connection, h.c.activity_id, activity_ids)))


OWNER_KIND = "owner"  # leadsync.rules.counterparts.OWNER: a rep's question (one per rep)
# A rep's question closed earlier (skipped, or answered by a map entry since removed) is
# open again when the rep's events need it again: its events give no owner meanwhile, as
# their reasons say.
_REOPEN = (
    'ON CONFLICT ("key") DO UPDATE SET status = excluded.status, closed_at = NULL, '
    "closed_by = NULL, choice = NULL, outcome = NULL, event_id = excluded.event_id, "
    "question = excluded.question, candidates = excluded.candidates, "
    "created_at = excluded.created_at WHERE review_items.status <> 'open'"
)


# An activity's question asked again while open: what it asks now (a later event of a call
# gave other numbers, or closed it within the batch); asked as it was, it stays as it is.
_REASKED = (
    'ON CONFLICT ("key") DO UPDATE SET subject = excluded.subject, '
    "question = excluded.question, candidates = excluded.candidates, "
    "event_id = excluded.event_id, status = excluded.status, closed_at = excluded.closed_at, "
    "closed_by = excluded.closed_by, outcome = excluded.outcome "
    "WHERE review_items.status = 'open' AND (review_items.question <> excluded.question "
    "OR excluded.status <> 'open')"
)


_QUESTION_NAMES = [*_REVIEW_COLUMNS, "candidates"]


def _question_row(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A question as the review queue's insert takes it (its candidates as JSON)."""
    return (*(row.get(c) for c in _REVIEW_COLUMNS), json_text(row["candidates"]))


# A held activity's question once its hold ended: the activity's question closed by leadsync
# itself (a later event of the call gave a number to hold it for instead) is asked again, as
# this; one a person answered stays answered.
_HOLD_ENDED = (
    'ON CONFLICT ("key") DO UPDATE SET status = excluded.status, closed_at = NULL, '
    "closed_by = NULL, choice = NULL, outcome = NULL, subject = excluded.subject, "
    "question = excluded.question, candidates = excluded.candidates, "
    "created_at = excluded.created_at "
    "WHERE review_items.status <> 'open' AND review_items.closed_by = 'leadsync'"
)


def queue_hold_ended(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Put the questions of held activities whose hold ended in the review queue (see
    ``_HOLD_ENDED``)."""
    values = [_question_row(r) for r in rows]
    insert_rows(connection, review_items, _QUESTION_NAMES, values, _HOLD_ENDED, unique=("key",))


def queue(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Put questions in the review queue; one already asked (same key) is not asked again
    (an open one takes what it asks now), but a rep's question that was closed is open
    again. Returns the open questions put (new, asked anew, or open again; not one closed
    as it was asked, as ``ambiguous: skip`` does)."""
    put = 0
    for reps, on_conflict in ((False, _REASKED), (True, _REOPEN)):
        for status_open in (True, False):
            values = [
                _question_row(r)
                for r in rows
                if (r["kind"] == OWNER_KIND) is reps and (r["status"] == "open") is status_open
            ]
            done = insert_rows(
                connection, review_items, _QUESTION_NAMES, values, on_conflict, unique=("key",)
            )
            put += done if status_open else 0
    return put


def close_open_items_of(
    connection: Connection, rows: Sequence[Mapping[str, Any]], asked: Collection[str] = ()
) -> None:
    """Close the open questions about activities that found their record (rows of
    activity_id, status, closed_at, closed_by, outcome): those about a number (``number``,
    ``unknown``); every open question of an activity that was removed (rows with
    ``removed``), whatever its kind — nobody can answer it any more. Not those of ``asked``
    (the keys the batch queues: it closed those it asked before the closing itself, and
    one it asked after stands)."""
    t = review_items
    quote = connection.dialect.identifier_preparer.quote
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    keys = json_text(sorted(asked))
    of_batch = (
        f"SELECT value FROM json_each({mark})"
        if connection.dialect.name == "sqlite"
        else f"SELECT jsonb_array_elements_text({mark}::jsonb)"
    )
    for removed, kinds in ((False, " AND kind IN ('number', 'unknown')"), (True, "")):
        values = [
            (r["status"], r["closed_at"], r["closed_by"], r["outcome"], r["activity_id"], keys)
            for r in rows
            if bool(r.get("removed")) is removed
        ]
        if values:
            sql = (
                f"UPDATE {quote(t.name)} SET status = {mark}, closed_at = {mark}, "
                f"closed_by = {mark}, outcome = {mark} "
                f"WHERE activity_id = {mark} AND status = 'open'{kinds} AND \"key\" NOT IN "
                f"({of_batch})"
            )
            executemany(connection, sql, values)
