"""Records HubSpot no longer has (archived or deleted there by a person): the push forgets
their HubSpot ids — the object's row and the identities of the workspace's HubSpot
integrations under that id — and queues them to be created again
(:mod:`leadsync.destinations.hubspot.cycle.gone`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values
from leadsync.store.push import RECORD, enqueue
from leadsync.store.schema import push_objects, record_identities


def forget_gone(
    connection: Connection,
    gone: Mapping[int, tuple[str, str]],
    hubspot_integrations: Collection[str],
    at: str,
) -> None:
    """Forget the HubSpot ids of records HubSpot no longer has (``gone``: local id ->
    (record type, HubSpot id)) and queue each to be created again."""
    if not gone:
        return
    dialect = connection.dialect.name
    connection.execute(
        sa.delete(push_objects).where(
            push_objects.c.kind == RECORD, in_values(push_objects.c.local_id, list(gone), dialect)
        )
    )
    if hubspot_integrations:
        # One statement: an identity of a HubSpot integration names one HubSpot object, so
        # a record among these under an id among theirs is under its own.
        t = record_identities
        connection.execute(
            sa.delete(t).where(
                in_values(t.c.record_id, list(gone), dialect),
                in_values(t.c.external_id, [hs for _rtype, hs in gone.values()], dialect),
                in_values(t.c.integration, list(hubspot_integrations), dialect),
            )
        )
    enqueue(
        connection,
        [
            {
                "kind": RECORD,
                "local_id": local_id,
                "object_type": rtype,
                "change": "retry",
                "other_id": None,
                "queued_at": at,
            }
            for local_id, (rtype, _hubspot_id) in sorted(gone.items())
        ],
    )
