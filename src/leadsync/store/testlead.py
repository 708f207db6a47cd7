"""The test lead's reads and writes: its records and calls, what each test changed besides
them (recorded in ``workspace_settings``), and their removal. The decisions about them are
in :mod:`leadsync.ops.testlead`."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values
from leadsync.store.schema import (
    activities,
    activity_associations,
    activity_memory,
    activity_skips,
    activity_sources,
    counters,
    external_users,
    owner_decisions,
    push_failures,
    push_objects,
    push_queue,
    record_associations,
    record_identities,
    records,
    review_items,
    workspace_settings,
)


def seen_times(connection: Connection, integration: str, rep: str) -> tuple[str, str] | None:
    """(first seen, last seen) of an external user, or None when it is new."""
    t = external_users
    row = connection.execute(
        sa.select(t.c.first_seen_at, t.c.last_seen_at).where(
            t.c.integration == integration, t.c.external_id == rep
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


def test_records(
    connection: Connection, domain: str, integration: str | None = None
) -> list[tuple[int, str]]:
    """(id, email) of the records with an email at the test domain (that ``integration``
    names, when given)."""
    query = sa.select(records.c.id, records.c.email).where(records.c.email.like(f"%@{domain}"))
    if integration is not None:
        i = record_identities
        query = query.where(
            sa.exists().where(i.c.record_id == records.c.id, i.c.integration == integration)
        )
    return [(int(record_id), str(email)) for record_id, email in connection.execute(query)]


def test_activities(
    connection: Connection, prefix: str, integration: str | None = None
) -> list[int]:
    """Ids of the activities whose external id starts with the test prefix (of
    ``integration``, when given)."""
    query = sa.select(activities.c.id).where(activities.c.external_id.like(f"{prefix}%"))
    if integration is not None:
        query = query.where(activities.c.integration == integration)
    return [int(a) for a in connection.execute(query).scalars()]


def delete_test_data(
    connection: Connection,
    record_ids: Collection[int],
    activity_ids: Collection[int],
    prefix: str,
    integration: str | None = None,
) -> None:
    """Remove the test records and activities and what hangs from them (decisions, links,
    identities), and the memories and skips of the test's activities (of ``integration``'s
    tests, when given)."""
    dialect = connection.dialect.name
    if activity_ids:
        aa = activity_associations
        connection.execute(sa.delete(aa).where(in_values(aa.c.activity_id, activity_ids, dialect)))
        connection.execute(
            sa.delete(activities).where(in_values(activities.c.id, activity_ids, dialect))
        )
    if record_ids:
        ra = record_associations
        for table, column in (
            (owner_decisions, owner_decisions.c.record_id),
            (record_identities, record_identities.c.record_id),
            (activity_associations, activity_associations.c.record_id),
            (ra, ra.c.left_id),
            (ra, ra.c.right_id),
            (records, records.c.id),
        ):
            connection.execute(sa.delete(table).where(in_values(column, record_ids, dialect)))
    for table in (activity_memory, activity_sources, activity_skips, review_items):
        # The questions the test's events put in the review queue too (its rep's, a number's).
        column = table.c.event_id if table is review_items else table.c.external_id
        query = sa.delete(table).where(column.like(f"{prefix}%"))
        if integration is not None:
            query = query.where(table.c.integration == integration)
        connection.execute(query)


def forget_pushes(connection: Connection, kind: str, local_ids: Collection[int]) -> None:
    """Forget what the push queued or was refused for test objects (``kind``: record or
    activity), and the objects it never created in HubSpot: left, they counted as changes
    waiting and as refusals in the report, for objects that are gone. One created in HubSpot
    keeps its row, for the archive its removal queues."""
    if not local_ids:
        return
    dialect = connection.dialect.name
    for table in (push_queue, push_failures):
        connection.execute(
            sa.delete(table).where(
                table.c.kind == kind, in_values(table.c.local_id, local_ids, dialect)
            )
        )
    connection.execute(
        sa.delete(push_objects).where(
            push_objects.c.kind == kind,
            in_values(push_objects.c.local_id, local_ids, dialect),
            push_objects.c.hubspot_id.is_(None),
        )
    )


def open_refusals(
    connection: Connection, objects: Collection[tuple[str, int]]
) -> dict[tuple[str, int], tuple[int, str]]:
    """The open push failure of each of these (kind, local id) objects that has one: its id
    and message (the newest, where it has several)."""
    f = push_failures.c
    found: dict[tuple[str, int], tuple[int, str]] = {}
    for kind in {k for k, _ in objects}:
        ids = [i for k, i in objects if k == kind]
        query = sa.select(f.local_id, f.id, f.message).where(
            f.kind == kind, f.resolved_at.is_(None), f.local_id.in_(ids)
        )
        for local_id, failure_id, message in connection.execute(query.order_by(f.id)):
            found[(kind, int(local_id))] = (int(failure_id), str(message))
    return found


def recorded_changes(connection: Connection, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """(setting name, value) of every recorded test's changes."""
    rows = connection.execute(
        sa.select(workspace_settings.c.name, workspace_settings.c.value).where(
            workspace_settings.c.name.like(f"{prefix}%")
        )
    )
    return [(str(name), dict(value)) for name, value in rows]


def forget_changes(connection: Connection, names: Collection[str]) -> None:
    if names:
        connection.execute(
            sa.delete(workspace_settings).where(workspace_settings.c.name.in_(list(names)))
        )


def take_back_turns(
    connection: Connection, turned: Mapping[str, int], after: Mapping[str, int] | None
) -> None:
    """Subtract the round robin turns a test took (never below 0) from each counter that
    still stands where the test left it (``after``; None: any counter, as tests recorded
    before it was kept were taken back)."""
    value = counters.c.value
    for name, n in turned.items():
        where = [counters.c.name == name]
        if after is not None and name in after:
            where.append(value == after[name])
        connection.execute(
            sa.update(counters).where(*where).values(value=sa.case((value > n, value - n), else_=0))
        )


def take_back_external_user(connection: Connection, user: Mapping[str, Any]) -> None:
    """Put back a rep's event count, first- and last-seen times as a test found them (unless
    a later event moved them); an external user only the test had seen is removed."""
    t = external_users
    key = (t.c.integration == user["integration"]) & (t.c.external_id == user["id"])
    row = connection.execute(
        sa.select(t.c.events, t.c.first_seen_at, t.c.last_seen_at).where(key)
    ).first()
    if row is None:
        return
    events = max(int(row.events) - int(user["events"]), 0)
    if not user["existed"] and events == 0:
        connection.execute(sa.delete(t).where(key))
        return
    values: dict[str, Any] = {"events": events}
    if user["existed"] and row.first_seen_at == user["at"]:
        values["first_seen_at"] = user["first_seen_at"]
    if user["existed"] and row.last_seen_at == user["at"]:
        values["last_seen_at"] = user["last_seen_at"]
    connection.execute(sa.update(t).where(key).values(**values))
