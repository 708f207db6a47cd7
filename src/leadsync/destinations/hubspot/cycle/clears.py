"""Clears: the empty properties an update of a record or an activity sends as ``""``
(HubSpot's documented way to clear a property), so that a value leadsync no longer holds
does not stay in HubSpot — only where leadsync itself put a value there. Records and
activities go through this one path; which of their properties may be cleared is
:func:`.objects.clearable_values`' (an activity's ``hs_timestamp``, a call's direction, a
task's status never are).

Each pushed record and activity keeps, in ``push_objects``:

- ``pushed_properties``: name -> value, for each property of
  :func:`.objects.clearable_values` that leadsync's confirmed writes (a create or update
  HubSpot answered as done, recorded in the transaction that records it) sent non-empty and
  did not clear since: HubSpot holds leadsync's value there. Null: nothing known (rows from
  before migration 0025, and activities pushed before leadsync cleared theirs; filled by
  the next write of the object);
- ``properties_sent``: name -> the values (``""`` for a clear) of writes sent but not
  confirmed, committed before each write leaves (as ``owner_sent_id`` is for the owner), and
  dropped, name by name, once a later write of that name is confirmed. Null: none.

An update clears a property the object holds empty (an integration cleared it, leadsync's
rules removed it) when ``pushed_properties`` names it and no unconfirmed write does: the
value there is leadsync's. One no write of leadsync ever gave a value — a property an event
gave as ``null`` from the start, one a matched object had in HubSpot already — is never
blanked, whatever events say; one cleared and confirmed is not sent again until leadsync
sends it a value again.

Where an unconfirmed write names the property (the process was killed, or HubSpot's answer
was lost or refused, before the result was recorded), HubSpot may hold leadsync's value or
not. It is read first (one batch read per 100 objects, only for such properties of objects
that hold them empty now) and cleared only when HubSpot's value is one leadsync sent (the
confirmed one or an unconfirmed one): a value sent and applied before the kill is not
forgotten. An empty value (the clear had landed; the value never had) or another one (a
person's: set before leadsync's write landed, or after its clear did) is left alone, and the
property is forgotten: a clear sent and applied before the kill does not make a later run
blank what a person set since. A value HubSpot holds reformatted counts as another one (left:
the safe side). A dry run lists that read but has no answer to it, so it shows no clear
that waits for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadsync.destinations.hubspot.cycle.slice import CycleBase, PushObject, typed_chunks
from leadsync.destinations.hubspot.objects import clearable_values


@dataclass
class Sent:
    """What leadsync has written to one HubSpot object's clearable properties (a record's or
    an activity's)."""

    confirmed: dict[str, str] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, pushed: Mapping[str, Any] | None) -> Sent:
        """The state a ``push_objects`` row (or None) holds."""
        pushed = pushed or {}
        confirmed = pushed.get("pushed_properties") or {}
        pending = pushed.get("properties_sent") or {}
        return cls(
            {str(k): str(v) for k, v in confirmed.items()},
            {str(k): [str(x) for x in v] for k, v in pending.items()},
        )

    def columns(self) -> dict[str, Any]:
        """As the ``push_objects`` columns hold it."""
        return {
            "pushed_properties": dict(self.confirmed),
            "properties_sent": {k: list(v) for k, v in self.pending.items()} or None,
        }

    def keep(self, obj: PushObject) -> None:
        """Into the object's push row as the cycle holds it (what :meth:`save` records)."""
        obj.pushed = {**(obj.pushed or {}), **self.columns()}

    def intend(self, written: Mapping[str, str]) -> None:
        """A write of these values (``""``: a clear) is about to leave, not yet confirmed.
        A value HubSpot holds from leadsync already, written again, leaves no doubt: it is
        leadsync's there whether or not the write lands."""
        for name, value in written.items():
            if name not in self.pending and value and self.confirmed.get(name) == value:
                continue
            values = self.pending.setdefault(name, [])
            if value not in values:
                values.append(value)

    def confirm(self, written: Mapping[str, str]) -> None:
        """HubSpot applied a write of these values: it holds them now."""
        for name, value in written.items():
            if value:
                self.confirmed[name] = value
            else:
                self.confirmed.pop(name, None)
            self.pending.pop(name, None)


def empty_names(row: Mapping[str, Any]) -> list[str]:
    """The clearable properties the record or activity holds no value for."""
    return [name for name, value in clearable_values(row).items() if not value]


def written(row: Mapping[str, Any], props: Mapping[str, str]) -> dict[str, str]:
    """The clearable properties among a write's ``props``, with the values sent."""
    return {name: props[name] for name in clearable_values(row) if name in props}


def create_values(row: Mapping[str, Any]) -> dict[str, str]:
    """The clearable properties a create of the object carries: its non-empty ones."""
    return {name: value for name, value in clearable_values(row).items() if value}


def decide(row: Mapping[str, Any], sent: Sent, hubspot: Mapping[str, Any] | None) -> dict[str, str]:
    """The clears (``""`` by name) an update of the object (``row``) sends; ``hubspot``: the values of
    the doubtful properties (:func:`doubtful`) HubSpot holds, or None if not read. A doubtful
    property the read settles as not leadsync's is forgotten in ``sent``."""
    clears: dict[str, str] = {}
    for name in empty_names(row):
        if name not in sent.pending:
            if name in sent.confirmed:
                clears[name] = ""
            continue
        if hubspot is None:
            continue  # not read (a dry run): undecided, neither cleared nor forgotten
        value = hubspot.get(name)
        ours = {sent.confirmed.get(name), *sent.pending[name]} - {None, ""}
        if value not in (None, "") and str(value) in ours:
            clears[name] = ""
        else:
            sent.confirmed.pop(name, None)
            sent.pending.pop(name, None)
    return clears


def doubtful(obj: PushObject) -> list[str]:
    """The properties of an object an unconfirmed write named that it holds empty now."""
    if obj.row is None:
        return []
    pending = Sent.of(obj.pushed).pending
    return [name for name in empty_names(obj.row) if name in pending]


class ClearsMixin(CycleBase):
    """Reading what HubSpot holds where an unconfirmed write leaves it in doubt."""

    def read_doubtful(self, objs: Sequence[PushObject]) -> dict[int, dict[str, Any]]:
        """HubSpot's values of the doubtful properties (:func:`doubtful`) of these objects
        (one kind), by local id; one HubSpot's answer does not name is not among them."""
        names = {o.id: doubtful(o) for o in objs if (o.kind, o.id) in self.ids}
        asked = [o for o in objs if names.get(o.id)]
        chunks = typed_chunks(asked)
        answers = self.send_all(
            [
                (
                    "POST",
                    self.p.paths.batch(chunk[0].type, "read"),
                    {
                        "inputs": [{"id": self.ids[(o.kind, o.id)]} for o in chunk],
                        "properties": sorted({n for o in chunk for n in names[o.id]}),
                    },
                )
                for chunk in chunks
            ]
        )
        out: dict[int, dict[str, Any]] = {}
        for chunk, answer in zip(chunks, answers, strict=True):
            by_hs = {self.ids[(o.kind, o.id)]: o for o in chunk}
            for item in answer.body.get("results") or []:
                obj = by_hs.get(str(item.get("id")))
                if obj is not None:
                    out[obj.id] = dict(item.get("properties") or {})
        return out
