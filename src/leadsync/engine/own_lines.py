"""The company's own lines in a batch: which they are (declared in the settings, or named by
the tools: loaded, then learned by the batch, :mod:`leadsync.engine.learn_lines`), which of a
call's numbers are among them (:func:`split`, asked by
:func:`leadsync.engine.counterparts.find_by_number`), and the activities that are internal
calls now (docs/WEBHOOKS.md, "The company's own lines").

Functions over a :class:`~leadsync.engine.decide.BatchDecider`; pure like it. The rules and
their sentences are in :mod:`leadsync.rules.own_lines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from leadsync.model import Event, EventType
from leadsync.rules import own_lines as rules
from leadsync.rules.own_lines import OwnLine
from leadsync.rules.workspace import WorkspaceRules
from leadsync.values import PhoneNumber, read_phone

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


def line_of(d: BatchDecider, integration: str, number: str) -> OwnLine | None:
    """The integration's own line with this E.164 number: declared, else learned."""
    declared = d.rules.declared_lines.get(integration)
    if declared is not None and (line := declared.get(number)) is not None:
        return line
    return d.state.own_lines.known.get((integration, number))


def split(
    d: BatchDecider, integration: str, numbers: list[PhoneNumber]
) -> tuple[list[PhoneNumber], list[OwnLine]]:
    """A call's counterpart numbers without the integration's own lines, and those lines."""
    if not d.state.own_lines.known and integration not in d.rules.declared_lines:
        return numbers, []  # the common case: no line is known with these numbers
    return rules.split_own(numbers, lambda number: line_of(d, integration, number))


def internal(d: BatchDecider, activity_id: int, integration: str, reason: str, number: str) -> None:
    """The activity is an internal call (its reason kept); counted."""
    d.state.own_lines.internal[activity_id] = {
        "activity_id": activity_id,
        "integration": integration,
        "number": number,
        "reason": reason,
    }
    d.result.internal += 1


def no_longer_internal(d: BatchDecider, activity_id: int) -> None:
    """The activity is no internal call (any more): it found a person, waits for a number,
    is asked about, or is gone."""
    d.state.own_lines.internal.pop(activity_id, None)


def lines_named(workspace: WorkspaceRules, events: Sequence[Event]) -> list[tuple[str, str]]:
    """The company's lines events name — a ``line`` event's number, a call's ``line_number``
    — as (integration, E.164 number), in order; one that does not read as a number names
    none. What the load reads and the router keys by."""
    found: list[tuple[str, str]] = []
    for event in events:
        if event.type is EventType.LINE:
            given = event.properties.get("number")
        elif event.type is EventType.ACTIVITY:
            given = event.properties.get("line_number")
        else:
            continue
        settings = workspace.integrations.get(event.integration)
        phone = read_phone(given, settings.region if settings is not None else None)
        if phone is not None and phone.number is not None:
            found.append((event.integration, phone.number))
    return found
