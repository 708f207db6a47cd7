"""The test lead: what the setup guides tell admins to do by hand, done and checked.

A marked contact (``leadsync-test-<stamp>@leadsync.invalid``; ``.invalid`` is reserved and
never delivered) owned by the rep, then a two-minute connected call by the rep on it, go
through the engine as one batch, in one transaction. Then the outcome is checked against
what the settings promise: the owner the user mapping and strategy name, and the call on the
contact's timeline with the expected associations. Test records are left out of the health
report; ``cleanup`` removes every one of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from leadsync.engine import WorkspaceRules, decide_batch
from leadsync.model import ExternalUserRef, now_ts
from leadsync.rules.mapping import map_external_user
from leadsync.sources.generic import parse_event
from leadsync.store import batch as store
from leadsync.store import push as push_store
from leadsync.store.database import in_values
from leadsync.store.schema import (
    activities,
    activity_associations,
    owner_decisions,
    record_associations,
    record_identities,
    records,
)

TEST_DOMAIN = "leadsync.invalid"
TEST_PREFIX = "leadsync-test-"


@dataclass
class TestLeadResult:
    passed: bool
    record_id: int | None
    checks: list[dict[str, Any]] = field(default_factory=list)
    activity_id: int | None = None
    # What the engine decided, for the HubSpot side's checks: the owner, and the records
    # the call is associated with ((type, local id)).
    owner_id: str | None = None
    call_links: list[tuple[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "record_id": self.record_id, "checks": self.checks}

    def add(self, check: dict[str, Any]) -> None:
        self.checks.append(check)
        self.passed = self.passed and bool(check["passed"])


def run_test_lead(
    engine: Engine, rules: WorkspaceRules, integration: str, rep: str, at: str | None = None
) -> TestLeadResult:
    at = at or now_ts()
    stamp = at.replace("-", "").replace(":", "").replace(".", "").lower()
    email = f"{TEST_PREFIX}{stamp}@{TEST_DOMAIN}"
    lead = parse_event(
        {
            "id": f"{TEST_PREFIX}lead-{stamp}",
            "occurred_at": at,
            "type": "record",
            "object": "contact",
            "external_id": f"{TEST_PREFIX}{stamp}",
            "properties": {"email": email, "firstname": "Test", "lastname": "Lead"},
            "owner": rep,
        },
        integration,
    )
    call = parse_event(
        {
            "id": f"{TEST_PREFIX}call-{stamp}",
            "occurred_at": at,
            "type": "activity",
            "activity": "call",
            "external_id": f"{TEST_PREFIX}call-{stamp}",
            "owner": rep,
            "properties": {
                "duration_s": 120,
                "outcome": "connected",
                "title": "leadsync test call",
            },
            "associations": [{"object": "contact", "external_id": f"{TEST_PREFIX}{stamp}"}],
        },
        integration,
    )
    settings = rules.integrations[integration]
    with engine.begin() as connection:
        store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
        state = decide_batch(connection, rules, [lead, call], trace=True)
    traces = state.traces or {}
    checks: list[dict[str, Any]] = []
    record_trace = traces[lead.id].record
    record_id = record_trace[1] if record_trace else None
    record = state.records.get(record_id) if record_id is not None else None

    mapping = map_external_user(ExternalUserRef(rep), settings.users, rules.directory)
    allowed: set[str | None]
    if mapping.round_robin_team is not None:
        members = rules.directory.active_team(mapping.round_robin_team)
        allowed = set(members)
        expected = f"a member of team {mapping.round_robin_team} ({', '.join(members)})"
    else:
        allowed = {mapping.owner_id} if mapping.owner_id is not None else {None}
        expected = mapping.owner_id or "no owner"
    owner = record.owner_id if record is not None else None
    checks.append(
        {
            "check": "owner",
            "passed": owner in allowed,
            "detail": f"owner {owner or 'none'}; expected {expected}: {mapping.how}",
        }
    )
    activity = traces[call.id].activity if call.id in traces else None
    if activity is None or activity[2] == "skipped":
        why = traces[call.id].skip_reason if call.id in traces else "it was not decided"
        checks.append(
            {"check": "call", "passed": False, "detail": f"the call was not created: {why}"}
        )
    else:
        links = traces[call.id].associations
        on_lead = any(t == "contact" and i == record_id for t, i, _ in links)
        shown = ", ".join(f"{t} {i} ({s})" for t, i, s in links) or "nothing"
        checks.append(
            {
                "check": "call",
                "passed": on_lead,
                "detail": f"call {activity[1]} {activity[2]}, associated with {shown}"
                + ("" if on_lead else f"; expected contact {record_id}"),
            }
        )
    result = TestLeadResult(all(c["passed"] for c in checks), record_id, checks)
    result.owner_id = owner
    if activity is not None and activity[2] != "skipped":
        result.activity_id = activity[1]
        result.call_links = [(t, i) for t, i, _ in traces[call.id].associations]
    return result


def hubspot_checks(
    result: TestLeadResult,
    hubspot_ids: Mapping[tuple[str, int], str],
    read_owner: Callable[[str], str | None],
    read_links: Callable[[str, str], set[str]],
) -> None:
    """After the push: the contact as HubSpot has it carries the owner the engine decided,
    and the call is on its timeline with the associations the engine chose (compared through
    the stored HubSpot ids; the expectation is the engine's own decision, not a copy of it).
    ``read_owner(contact id)`` and ``read_links(call id, to type)`` read HubSpot."""
    if result.record_id is None:
        return
    contact = hubspot_ids.get(("record", result.record_id))
    if contact is None:
        result.add(
            {
                "check": "hubspot_owner",
                "passed": False,
                "detail": "the test lead was not pushed to HubSpot (see leadsync push status)",
            }
        )
        return
    owner = read_owner(contact)
    result.add(
        {
            "check": "hubspot_owner",
            "passed": owner == result.owner_id,
            "detail": f"HubSpot contact {contact} has owner {owner or 'none'}; "
            f"expected {result.owner_id or 'none'}",
        }
    )
    if result.activity_id is None:
        return
    call = hubspot_ids.get(("activity", result.activity_id))
    if call is None:
        result.add({"check": "hubspot_call", "passed": False, "detail": "the call was not pushed"})
        return
    missing: list[str] = []
    by_type: dict[str, set[str]] = {}
    for record_type, local_id in result.call_links:
        wanted = hubspot_ids.get(("record", local_id))
        if record_type not in by_type:
            by_type[record_type] = read_links(call, record_type)
        if wanted is None or wanted not in by_type[record_type]:
            missing.append(f"{record_type} {local_id}")
    result.add(
        {
            "check": "hubspot_call",
            "passed": not missing,
            "detail": f"HubSpot call {call} is associated with "
            + ", ".join(f"{t} {sorted(ids)}" for t, ids in sorted(by_type.items()))
            + (f"; missing: {', '.join(missing)}" if missing else ""),
        }
    )


def cleanup(engine: Engine, push: bool = False) -> dict[str, int]:
    """Remove every test record and what hangs from it (decisions, links, test calls); with
    a destination, the pushed ones are queued for archiving in HubSpot."""
    with engine.begin() as connection:
        dialect = connection.dialect.name
        ids = [
            int(r)
            for r in connection.execute(
                sa.select(records.c.id).where(records.c.email.like(f"%@{TEST_DOMAIN}"))
            ).scalars()
        ]
        calls = [
            int(a)
            for a in connection.execute(
                sa.select(activities.c.id).where(activities.c.external_id.like(f"{TEST_PREFIX}%"))
            ).scalars()
        ]
        if push:
            at = now_ts()
            push_store.enqueue(
                connection,
                [
                    {
                        "kind": kind,
                        "local_id": local_id,
                        "object_type": object_type,
                        "change": "removed",
                        "other_id": None,
                        "queued_at": at,
                    }
                    for kind, rows in (
                        (push_store.RECORD, push_store.load_pushed(connection, "record", ids)),
                        (
                            push_store.ACTIVITY,
                            push_store.load_pushed(connection, "activity", calls),
                        ),
                    )
                    for local_id, row in rows.items()
                    for object_type in [row["object_type"]]
                    if row["hubspot_id"]
                ],
            )
        if calls:
            aa = activity_associations
            connection.execute(sa.delete(aa).where(in_values(aa.c.activity_id, calls, dialect)))
            connection.execute(
                sa.delete(activities).where(in_values(activities.c.id, calls, dialect))
            )
        if ids:
            ra = record_associations
            for table, column in (
                (owner_decisions, owner_decisions.c.record_id),
                (record_identities, record_identities.c.record_id),
                (activity_associations, activity_associations.c.record_id),
                (ra, ra.c.left_id),
                (ra, ra.c.right_id),
                (records, records.c.id),
            ):
                connection.execute(sa.delete(table).where(in_values(column, ids, dialect)))
    return {"records": len(ids), "activities": len(calls)}
