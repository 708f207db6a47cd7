"""The external users (reps) batches learned: their email and name, the newest word by the
tool's clock (``email_at``, ``name_at``), first and last seen, events sent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from leadsync.store.database import in_values, insert_rows
from leadsync.store.schema import external_users


class LearnedEmail(NamedTuple):
    """The email a rep's events gave last (by the tool's clock), and when (None: not known,
    a row from before migration 0035)."""

    email: str
    at: str | None


def load_learned_emails(
    connection: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], LearnedEmail]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for integration, external_id in keys:
        grouped[integration].add(external_id)
    out: dict[tuple[str, str], LearnedEmail] = {}
    t = external_users
    for integration, ids in grouped.items():
        rows = connection.execute(
            sa.select(t.c.external_id, t.c.email, t.c.email_at).where(
                t.c.integration == integration,
                in_values(t.c.external_id, ids, connection.dialect.name),
                t.c.email.is_not(None),
            )
        )
        out.update({(integration, ext): LearnedEmail(email, at) for ext, email, at in rows})
    return out


def _newer(value: str) -> str:
    """SQL: the batch's ``value`` replaces the stored one: it was given, and not before the
    stored one was (by the tool's clock; a stored one of no known time is replaced)."""
    at = f"{value}_at"
    return (
        f"excluded.{value} IS NOT NULL AND (external_users.{value} IS NULL OR "
        f"external_users.{at} IS NULL OR excluded.{at} >= external_users.{at})"
    )


def upsert_external_users(connection: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Learned external users: the email and the name given last by the tool's clock win
    (whatever the order batches write them in), the event count adds up."""
    columns = (
        "integration",
        "external_id",
        "email",
        "email_at",
        "name",
        "name_at",
        "first_seen_at",
        "last_seen_at",
    )
    if not rows:
        return
    names = (*columns, "events")
    insert_rows(
        connection,
        external_users,
        names,
        [tuple(row[name] for name in names) for row in rows],
        "ON CONFLICT (integration, external_id) DO UPDATE SET "
        + ", ".join(
            f"{column} = CASE WHEN {_newer(value)} THEN excluded.{column} "
            f"ELSE external_users.{column} END"
            for value in ("email", "name")
            for column in (value, f"{value}_at")
        )
        + ", "
        "first_seen_at = CASE WHEN excluded.first_seen_at < external_users.first_seen_at "
        "THEN excluded.first_seen_at ELSE external_users.first_seen_at END, "
        "last_seen_at = CASE WHEN excluded.last_seen_at > external_users.last_seen_at "
        "THEN excluded.last_seen_at ELSE external_users.last_seen_at END, "
        "events = external_users.events + excluded.events",
        unique=("integration", "external_id"),
    )


def learned_before(connection: Connection, since: str) -> list[dict[str, Any]]:
    """The reps as they were known at ``since``: for each whose email or name its tool gave
    before then and not since (by the tool's clock; one of no known time, if all its events
    came before), that email or name — rows for :func:`upsert_external_users` (no events
    counted). A replay since then starts from them."""
    t = external_users
    rows = connection.execute(
        sa.select(t).where(
            t.c.first_seen_at < since, sa.or_(t.c.email.is_not(None), t.c.name.is_not(None))
        )
    )
    out: list[dict[str, Any]] = []
    for row in rows:
        known: dict[str, Any] = {}
        for value in ("email", "name"):
            at = row._mapping[f"{value}_at"]
            told = at < since if at is not None else row.last_seen_at < since
            known[value] = row._mapping[value] if told else None
            known[f"{value}_at"] = at if told else None
        if known["email"] is None and known["name"] is None:
            continue
        out.append(
            {
                "integration": row.integration,
                "external_id": row.external_id,
                **known,
                "first_seen_at": row.first_seen_at,
                "last_seen_at": min(row.last_seen_at, since),
                "events": 0,
            }
        )
    return out
