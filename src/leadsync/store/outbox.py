"""The outbox of bidirectional integrations: owner changes to send to the tools, one row per
change and record the tool knows, and what became of each as the tool reports it back
(``echo``: ``awaited``, ``echoed`` or ``passed``, by which event, at its time; awaited only
``until`` a time — rules/echoes.py). A row with no external owner (no user of the tool maps
to the owner) and one written before leadsync read echoes have no ``echo``: none is awaited.

Set-based: the writes awaited by a batch's identities in one query per (integration, type),
the batch's echoes in one statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.rules.echoes import AWAITED, OwnerWritten
from leadsync.store.database import in_values, insert_rows, update_rows
from leadsync.store.schema import outbox

# Key: (integration, record type, external id), the identity as the tool names the record.
IdentityKey = tuple[str, str, str]
ECHO_COLUMNS = ("echo", "echo_event_id", "echo_at", "awaited_until")


def insert_outbox(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        columns = tuple(c.name for c in outbox.c if c.name != "id")
        insert_rows(connection, outbox, columns, [tuple(r[c] for c in columns) for r in rows])


def load_awaited(
    connection: Connection, keys: Collection[IdentityKey]
) -> dict[IdentityKey, list[OwnerWritten]]:
    """The owners written to these identities that their integration has not reported back,
    per identity, in the order written (on the partial index of awaited rows)."""
    grouped: dict[tuple[str, str], set[str]] = defaultdict(set)
    for integration, rtype, external_id in keys:
        grouped[(integration, rtype)].add(external_id)
    found: dict[IdentityKey, list[OwnerWritten]] = {}
    o = outbox.c
    for (integration, rtype), ids in sorted(grouped.items()):
        rows = connection.execute(
            sa.select(
                o.id, o.external_id, o.external_owner_id, o.owner_id, o.changed_at, o.source,
                o.awaited_until,
            )
            .where(
                o.echo == AWAITED,
                o.integration == integration,
                o.record_type == rtype,
                in_values(o.external_id, ids, connection.dialect.name),
            )
            .order_by(o.id)
        )  # fmt: skip
        for row_id, external_id, rep, owner, at, source, until in rows:
            written = OwnerWritten(str(rep), owner, at, source, int(row_id), until)
            found.setdefault((integration, rtype, external_id), []).append(written)
    return found


def save_echoes(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """What the tools' reports made of stored rows (``id`` and :data:`ECHO_COLUMNS`)."""
    update_rows(
        connection,
        outbox,
        ECHO_COLUMNS,
        "id",
        [tuple(r[c] for c in (*ECHO_COLUMNS, "id")) for r in rows],
    )
