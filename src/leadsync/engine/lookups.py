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
    """value -> the ids of the records holding it, as the batch changes them; a record a
    merge joined into another (engine/record_joins.py) stands for that one, in its own
    place (as :func:`leadsync.store.counterparts.load_email_holders` answers)."""

    __slots__ = ("_holders", "_into")

    def __init__(
        self,
        holders: Mapping[str, Iterable[int]] | None = None,
        into: Mapping[int, int] | None = None,
    ) -> None:
        self._holders: dict[str, set[int]] = {v: set(ids) for v, ids in (holders or {}).items()}
        self._into: dict[int, int] = dict(into or {})

    @classmethod
    def loaded(cls, rows: Mapping[str, Iterable[tuple[int, int | None]]]) -> Lookup:
        """From the store's rows: per value, (record id, the record it was joined into)."""
        holders: dict[str, list[int]] = {}
        into: dict[int, int] = {}
        for value, found in rows.items():
            for own, joined in found:
                holders.setdefault(value, []).append(own)
                if joined is not None:
                    into[own] = joined
        return cls(holders, into)

    def first(self, value: str) -> int | None:
        """The record the lowest id holding ``value`` now stands for (None: none holds it)."""
        ids = self._holders.get(value)
        if not ids:
            return None
        lowest = min(ids)
        return self._into.get(lowest, lowest)

    def holders(self, value: str) -> list[int]:
        """The records (known to the batch) holding ``value`` now, lowest id first, once."""
        into = self._into
        return list(dict.fromkeys(into.get(i, i) for i in sorted(self._holders.get(value, ()))))

    def shared(self, value: str | None) -> list[int]:
        """The holders of a value several records hold now (else empty)."""
        if value is None or len(self._holders.get(value, ())) < 2:
            return []
        found = self.holders(value)
        return found if len(found) > 1 else []

    def move(self, record_id: int, old: str | None, new: str | None) -> None:
        """Record ``record_id`` held ``old`` (None: nothing) and holds ``new`` now."""
        if old == new:
            return
        if old is not None:
            self._holders.get(old, set()).discard(record_id)
        if new is not None:
            self._holders.setdefault(new, set()).add(record_id)

    def join(self, absorbed: int, kept: int) -> None:
        """``absorbed`` was joined into ``kept``: where it holds a value, it stands for
        ``kept``, and so do the records joined into it before (the store points their
        ``merged_into`` at ``kept``: :func:`leadsync.store.joins.join_records`)."""
        for own, into in self._into.items():
            if into == absorbed:
                self._into[own] = kept
        self._into[absorbed] = kept
