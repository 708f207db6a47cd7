"""The company's own lines as admins are shown them: ``leadsync lines list`` and ``GET
/api/integrations/{name}/lines`` — each integration's lines declared in its ``own_numbers``
and those its tool named (learned: the event that named it first, and when), with how many
calls are internal because of each (docs/WEBHOOKS.md, "The company's own lines").

One read of the learned lines and one grouped count of the internal calls; the declared
lines are the rules' own (:attr:`leadsync.rules.workspace.WorkspaceRules.declared_lines`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from leadsync.model import display_ts
from leadsync.rules.workspace import WorkspaceRules
from leadsync.store import own_lines as own_store


def how_known(integration: str, declared: bool, learned: dict[str, Any] | None) -> str:
    """How leadsync knows the line, in words: "declared in dialer's own_numbers", "learned
    from dialer's events (first named 2026-11-01T10:00:00Z)", or both. (The event that named
    it is ``event_id`` beside it: a vendor's dedupe key can be a hundred characters.)"""
    said = []
    if declared:
        said.append(f"declared in {integration}'s own_numbers")
    if learned is not None:
        when = display_ts(learned["learned_at"])
        also = " too" if declared else ""
        said.append(f"learned from {integration}'s events (first named {when}){also}")
    return "; ".join(said)


def own_lines(
    engine: Engine, rules: WorkspaceRules, integration: str | None = None
) -> list[dict[str, Any]]:
    """The company's own lines (one integration's, or every one's), by integration and
    number (E.164): ``integration``, ``number``, ``name`` (the tool's, when it gave one),
    ``line_id``, ``declared`` (in ``own_numbers``), ``learned`` (named by the tool),
    ``learned_at`` and ``event_id`` (the event that named it first: its time and id),
    ``how`` (the same in words) and ``internal_calls`` (activities that are internal calls
    because of it; a call naming two lines counts under the first)."""
    with engine.connect() as connection:
        learned = {
            (r["integration"], r["number"]): r for r in own_store.lines_of(connection, integration)
        }
        counts = own_store.internal_by_line(connection, integration)
    declared = {
        (name, number)
        for name, lines in rules.declared_lines.items()
        if integration is None or name == integration
        for number in lines
    }
    rows = []
    for key in sorted(declared | set(learned)):
        name, number = key
        row = learned.get(key)
        rows.append(
            {
                "integration": name,
                "number": number,
                "name": row["name"] if row else None,
                "line_id": row["line_id"] if row else None,
                "declared": key in declared,
                "learned": row is not None,
                "learned_at": row["learned_at"] if row else None,
                "event_id": row["event_id"] if row else None,
                "how": how_known(name, key in declared, row),
                "internal_calls": counts.get(key, 0),
            }
        )
    return rows
