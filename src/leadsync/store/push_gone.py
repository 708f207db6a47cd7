"""Records and activities HubSpot no longer has (archived or deleted there by a person): the
push forgets their HubSpot ids — the object's row and, of a record, the identities of the
workspace's HubSpot integrations under that id — and queues them to be created again; and
records a person merged into another there, which it follows to the merged record's id
(:mod:`leadsync.destinations.hubspot.cycle.gone`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values
from leadsync.store.push import RECORD, enqueue
from leadsync.store.schema import activity_associations, push_objects, record_identities


def forget_gone(
    connection: Connection,
    gone: Mapping[tuple[str, int], tuple[str, str]],
    hubspot_integrations: Collection[str],
    at: str,
) -> None:
    """Forget the HubSpot ids of objects HubSpot no longer has (``gone``: (kind, local id) ->
    (type, HubSpot id)) and queue each to be created again."""
    if not gone:
        return
    dialect = connection.dialect.name
    for kind in sorted({kind for kind, _local_id in gone}):
        ids = [local_id for k, local_id in gone if k == kind]
        connection.execute(
            sa.delete(push_objects).where(
                push_objects.c.kind == kind, in_values(push_objects.c.local_id, ids, dialect)
            )
        )
    records = {local_id: hs for (kind, local_id), (_t, hs) in gone.items() if kind == RECORD}
    if hubspot_integrations and records:
        # One statement: an identity of a HubSpot integration names one HubSpot object, so
        # a record among these under an id among theirs is under its own.
        t = record_identities
        connection.execute(
            sa.delete(t).where(
                in_values(t.c.record_id, list(records), dialect),
                in_values(t.c.external_id, list(records.values()), dialect),
                in_values(t.c.integration, list(hubspot_integrations), dialect),
            )
        )
    enqueue(
        connection,
        [
            {
                "kind": kind,
                "local_id": local_id,
                "object_type": otype,
                "change": "retry",
                "other_id": None,
                "queued_at": at,
            }
            for (kind, local_id), (otype, _hubspot_id) in sorted(gone.items())
        ],
    )


def follow_merged(
    connection: Connection, merged: Mapping[tuple[str, int], tuple[str, str, str]]
) -> None:
    """Records a person merged into another in HubSpot (``merged``: (kind, local id) ->
    (type, old HubSpot id, merged record's id)): the merged record's id is theirs. (A HubSpot
    integration's identities are the engine's: its merge webhook joins them.)"""
    for (kind, local_id), (_otype, _old, new) in sorted(merged.items()):
        connection.execute(
            sa.update(push_objects)
            .where(push_objects.c.kind == kind, push_objects.c.local_id == local_id)
            .values(hubspot_id=new)
        )


def named_by_tools(
    connection: Connection, record_ids: Collection[int], hubspot_integrations: Collection[str]
) -> set[int]:
    """The records among ``record_ids`` a tool named: an identity of an integration other
    than HubSpot's, or an activity on it (one query each)."""
    if not record_ids:
        return set()
    dialect = connection.dialect.name
    t, a = record_identities, activity_associations
    named = {
        int(r)
        for r in connection.execute(
            sa.select(t.c.record_id)
            .where(
                in_values(t.c.record_id, list(record_ids), dialect),
                ~in_values(t.c.integration, list(hubspot_integrations) or [""], dialect),
            )
            .distinct()
        ).scalars()
    }
    named |= {
        int(r)
        for r in connection.execute(
            sa.select(a.c.record_id)
            .where(in_values(a.c.record_id, list(record_ids), dialect))
            .distinct()
        ).scalars()
    }
    return named


def forget_hubspots(connection: Connection, records: Collection[int]) -> None:
    """Records HubSpot no longer has that only HubSpot ever named: their push rows go (they
    are not in HubSpot, and nothing is queued); a tool's later word of one creates it."""
    if records:
        connection.execute(
            sa.delete(push_objects).where(
                push_objects.c.kind == RECORD,
                in_values(push_objects.c.local_id, list(records), connection.dialect.name),
            )
        )
