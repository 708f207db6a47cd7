"""Contacts by email and companies by domain within a batch, answered as the database would
answer the next batch after each event: the lowest id of the records that hold the value
*now*.

A :class:`Lookup` keeps, per value, the ids of the records holding it — loaded for the
values the batch's events name (:func:`leadsync.engine.load.load`, one set-based query per
kind), then followed as the batch changes them: a record created with the value holds it,
a record whose email (or domain) changes holds the new value and no longer the old one. So
an event naming an email a contact gave up earlier in the same batch finds the contact that
holds it now (or none, and makes one), exactly as it would in a later batch: where batches
are cut changes nothing (tests/test_batch_cuts.py).

A value's holders may be loaded only in part (the lowest ``n``; see
:func:`leadsync.store.counterparts.load_holders`): when no more records can leave the value
within the batch than it has events, the lowest of ``events + 1`` loaded holders is always
one still holding it, and a record holding it beyond them has a higher id than each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class Lookup:
    """value -> the ids of the records holding it, as the batch changes them."""

    __slots__ = ("_holders",)

    def __init__(self, holders: Mapping[str, Iterable[int]] | None = None) -> None:
        self._holders: dict[str, set[int]] = {v: set(ids) for v, ids in (holders or {}).items()}

    def first(self, value: str) -> int | None:
        """The lowest id holding ``value`` now (None: no record holds it)."""
        ids = self._holders.get(value)
        return min(ids) if ids else None

    def holders(self, value: str) -> list[int]:
        """Every id (known to the batch) holding ``value`` now, lowest first."""
        return sorted(self._holders.get(value, ()))

    def shared(self, value: str | None) -> list[int]:
        """The holders of a value several records hold now (else empty)."""
        ids = self._holders.get(value) if value is not None else None
        return sorted(ids) if ids is not None and len(ids) > 1 else []

    def move(self, record_id: int, old: str | None, new: str | None) -> None:
        """Record ``record_id`` held ``old`` (None: nothing) and holds ``new`` now."""
        if old == new:
            return
        if old is not None:
            self._holders.get(old, set()).discard(record_id)
        if new is not None:
            self._holders.setdefault(new, set()).add(record_id)
