"""What the push's writes left in HubSpot's record and activity properties (``push_objects``'
``pushed_properties`` and ``properties_sent``, reasoned about in
:mod:`leadsync.destinations.hubspot.cycle.clears`): the writes about to leave, committed
before they go. Their confirmation is recorded with the rest of a push's result
(:func:`leadsync.store.push.save_pushed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.store.database import upsert
from leadsync.store.schema import push_objects


def mark_properties_sent(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Record, before sending, objects' ``pushed_properties`` and ``properties_sent`` with
    the write about to leave among the unconfirmed ones: dicts with kind (record or
    activity), local_id, object_type and both; one statement. A record without a push row
    yet (matched in HubSpot, not saved until its owner is compared) gets one with no HubSpot
    id, which the next pusher matches again as before: only these two columns are
    written."""
    if rows:
        connection.execute(
            upsert(
                connection,
                push_objects,
                ["kind", "local_id"],
                {
                    "pushed_properties": lambda ex: ex.pushed_properties,
                    "properties_sent": lambda ex: ex.properties_sent,
                },
            ),
            list(rows),
        )
