"""What the tests of numbers leaving a record share: a call that names nobody but its
caller's number, an ingest that must go through, a record's id and its indexed numbers."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from leadsync.store.schema import record_phones
from leadsync.workspace import Workspace


def number_call(call_id: int, at: int, caller: str) -> dict[str, Any]:
    """An inbound Aircall call naming nobody but its caller's number."""
    return {
        "resource": "call",
        "event": "call.ended",
        "timestamp": at + 90,
        "token": "tok",
        "data": {
            "id": call_id,
            "direction": "inbound",
            "status": "done",
            "started_at": at,
            "answered_at": at + 5,
            "ended_at": at + 90,
            "duration": 90,
            "raw_digits": caller,
            "user": {"id": 4411, "email": "ana@acme.test"},
            "number": {"id": 77, "digits": "+33 1 00 00 00 01"},
            "contact": None,
        },
    }


def ingest_ok(ws: Workspace, integration: str, *bodies: Any) -> None:
    """Ingest JSON bodies, one per line; every one must be applied."""
    summary = ws.ingest(integration, [json.dumps(b) for b in bodies], source="x.jsonl")
    assert summary.ok, summary


def record_id(ws: Workspace, integration: str, external: str) -> int:
    [found] = ws.find(external=f"{integration}:{external}")
    return int(found["id"])


def indexed_phones(ws: Workspace, record: int) -> dict[str, str]:
    """The record's numbers as the phone index holds them, by property."""
    with ws.engine.connect() as c:
        rows = c.execute(
            sa.select(record_phones.c.property, record_phones.c.number).where(
                record_phones.c.record_id == record
            )
        ).all()
    return {prop: number for prop, number in rows}
