"""Learning the company's lines a tool names (a ``line`` event, a call's ``line_number``), and
what a line learned settles: the activities that waited for its number (held for it, or
asked about it as a number several records have) are looked for again as their next event
would look for them, so they end as they would had the line been known first — an internal
call, its hold released and its open question closed with the reason; any order of events,
any cut into batches, ends the same (docs/WEBHOOKS.md, "The company's own lines").

Functions over a :class:`~leadsync.engine.decide.BatchDecider`; pure like it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from leadsync.engine import counterparts
from leadsync.engine.own_lines import line_of
from leadsync.engine.state import EventTrace, activity_properties
from leadsync.model import ActivityType, Event, EventType
from leadsync.rules import own_lines as rules
from leadsync.rules.counterparts import NUMBER
from leadsync.rules.own_lines import OwnLine
from leadsync.sources import adapter_class

if TYPE_CHECKING:
    from leadsync.engine.decide import BatchDecider


def apply_line(d: BatchDecider, event: Event) -> None:
    """A ``line`` event: the tool names one of the company's lines."""
    given = event.properties.get("number")
    line, settled = learn(d, event, given, event.properties.get("name"), event.external_id)
    if line is None and _unread(d, event, given):
        d.result.lines_unread += 1
    if d.traces is not None:
        d.traces[event.id] = EventTrace(
            event.id, counterpart=_trace(d, event, given, line, settled)
        )


def learn_from_call(d: BatchDecider, event: Event) -> None:
    """A call that names the company's line it was on (``line_number``)."""
    given = event.properties.get("line_number")
    if given is not None:
        learn(d, event, given)


def learn(
    d: BatchDecider,
    event: Event,
    given: Any,
    name: str | None = None,
    line_id: str | None = None,
) -> tuple[OwnLine | None, int]:
    """Learn the line ``given`` of the event's integration, unless it is known already (or
    does not read as a number); what waited for its number is looked for again. The line
    learned (None: nothing new) and how many activities were looked for again. A learned
    line known without the name or id this event gives gets them (a call named the line
    first, its ``number.created`` comes after): nothing else of it changes."""
    settings = d.rules.integrations.get(event.integration)
    if settings is None:
        return None, 0
    vendor = adapter_class(settings.kind).vendor_name
    line = rules.learned_line(event.integration, given, settings.region, name, line_id, vendor)
    if line is None:
        return None, 0
    known = line_of(d, event.integration, line.number)
    row = {
        "integration": line.integration,
        "number": line.number,
        "name": name,
        "line_id": line_id,
        "learned_at": event.occurred_at,
        "event_id": event.id or None,
    }
    if known is not None:
        if not known.declared and (name and not known.name or line_id and not known.line_id):
            named = replace(known, name=known.name or name, line_id=known.line_id or line_id)
            d.state.own_lines.known[(line.integration, line.number)] = named
            d.state.own_lines.new.append(row)  # its name and id fill the row's (store)
        return None, 0
    d.state.own_lines.known[(line.integration, line.number)] = line
    d.state.own_lines.new.append(row)
    return line, settle(d, line)


def settle(d: BatchDecider, line: OwnLine) -> int:
    """The activities of the line's integration that wait for its number — held for it, or
    asked about it as a number several records have (earlier batches' and this one's) — are
    looked for again, as their next event would: an internal call when it was their only
    other party. How many."""
    waiting = {
        h.activity_id for h in d.held.get(line.number, ()) if h.integration == line.integration
    }
    for question in (*d.state.line_questions, *d.questions):
        if (
            question["subject"] == line.number
            and question["integration"] == line.integration
            and question.get("kind", NUMBER) == NUMBER
            and question.get("status", "open") == "open"
        ):
            waiting.add(int(question["activity_id"]))
    for activity_id in sorted(waiting):
        look_again(d, activity_id, line.integration)
    return len(waiting)


def look_again(d: BatchDecider, activity_id: int, integration: str) -> None:
    """An activity of an earlier event looked for by its numbers again, with the lines known
    now (:func:`leadsync.engine.counterparts.find_by_number`): on a person it finds, held,
    asked about — or an internal call, its hold released and its questions closed."""
    row = _activity_row(d, activity_id)
    settings = d.rules.integrations.get(integration)
    if row is None or settings is None:
        return
    if activity_id in d.attached and activity_id not in d.held_for:
        return  # on a person already (an event of this batch named it, or it was attached)
    event = Event(
        "",
        integration,
        EventType.ACTIVITY,
        row["occurred_at"],
        activity=ActivityType(row["type"]),
        external_id=row["external_id"],
    )
    found = counterparts.find_by_number(d, event, settings, activity_properties(row))
    if found is None:
        return
    if found.named:  # a person has the number that is left (or was made for it)
        record, _ = found.named[0]
        source, reason = found.links[record.id]
        counterparts.attach(
            d, activity_id, row["type"], integration, settings, record, source, reason
        )
        return
    found.skip = None  # a policy that skips a call skips it before it is made, never after
    counterparts.found_again(d, activity_id, event, found)
    counterparts.settle(d, event, activity_id, found, [])


def not_internal(d: BatchDecider, activity_id: int, integration: str) -> None:
    """An internal call whose line is the company's own no more (its ``own_numbers`` entry
    removed, no tool named it): no internal call any more, and looked for again as a call
    to that number (:func:`look_again`)."""
    counterparts.release(d, activity_id)
    look_again(d, activity_id, integration)


def _read(d: BatchDecider, event: Event, given: Any) -> OwnLine | None:
    """The line ``given`` as the event's integration reads it (None: not a number)."""
    settings = d.rules.integrations.get(event.integration)
    region = settings.region if settings is not None else None
    return rules.learned_line(event.integration, given, region)


def _unread(d: BatchDecider, event: Event, given: Any) -> bool:
    return event.integration in d.rules.integrations and _read(d, event, given) is None


def _activity_row(d: BatchDecider, activity_id: int) -> Mapping[str, Any] | None:
    """The activity as the batch has it (an event of the batch made or changed it), else as
    loaded; None when it is gone."""
    for activity in (*d.activities.values(), *d.new_activities):
        if activity.id == activity_id:
            return None if activity.deleted else activity.row
    return d.state.line_activities.get(activity_id)


def _trace(d: BatchDecider, event: Event, given: Any, line: OwnLine | None, settled: int) -> str:
    if line is not None:
        return rules.learned_trace(line, settled)
    known = _read(d, event, given)
    if known is None:
        return (
            f"{given!r} does not read as a phone number (a national number needs the "
            "integration's region:): not learned as one of the company's lines"
        )
    found = line_of(d, event.integration, known.number)
    return f"{known.number} is {found.what() if found else 'known'} already"
