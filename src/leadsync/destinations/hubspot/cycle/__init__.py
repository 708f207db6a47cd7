"""One cycle of the push: a slice of the queue, from loading to recorded results.

The slice is coalesced per object (an object is sent once, in its current state, whatever
number of changes it had), and sent type by type: records before the activities that link to
them (companies, contacts, deals, leads; then every activity type at once), then the
associations added to objects HubSpot already has. Requests carry up to 100 inputs; up to
``in_flight`` travel together and their answers are recorded as they come. Why this is
exactly once, and how the owner is compared before it is set: :mod:`leadsync.destinations.hubspot.pusher` and
docs/HUBSPOT.md.

The cycle is one class, :class:`Cycle`, whose steps are mixins by concern: :mod:`.slice`
(coalescing and loading the slice; sending; writing), :mod:`.creates` (reconcile, match,
create), :mod:`.updates` (update, archive), :mod:`.owners` (the owner compare-and-set),
:mod:`.links` (associations), :mod:`.gone` (records HubSpot no longer has) and
:mod:`.results` (what is recorded, :class:`PushResult`).
This module holds the order the steps run in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from leadsync.destinations.hubspot.cycle.creates import CreatesMixin
from leadsync.destinations.hubspot.cycle.gone import GoneMixin
from leadsync.destinations.hubspot.cycle.results import PushResult
from leadsync.destinations.hubspot.cycle.slice import BATCH, PushObject, keys_of, leadsync_id
from leadsync.destinations.hubspot.cycle.updates import UpdatesMixin
from leadsync.destinations.hubspot.objects import ACTIVITY_TYPES, RECORD_TYPES
from leadsync.store import push as push_store


class Cycle(CreatesMixin, UpdatesMixin, GoneMixin):
    """One slice of the queue, from load to recorded results."""

    def run(self) -> None:
        for rtype in RECORD_TYPES:
            self.push_types(push_store.RECORD, [rtype])
        self.push_types(push_store.ACTIVITY, ACTIVITY_TYPES)
        self.push_links()
        self.find_gone()

    def push_types(self, kind: str, object_types: Sequence[str]) -> None:
        """Push the slice's objects of these types: archive, reconcile, match, create, update.
        Record types go one at a time (a contact's create links to its company); activity
        types all at once (they depend only on records)."""
        wanted = set(object_types) - self.p.skip_types
        objs = [o for o in self.objects.values() if o.kind == kind and o.type in wanted]
        if not objs:
            return
        removed = [o for o in objs if o.row is None]
        if removed:
            self.archive([o for o in removed if (o.kind, o.id) in self.ids])
        live = [o for o in objs if o.row is not None]
        for o in live:
            if (kind, o.id) not in self.ids and self.unnamed(o):
                self.result.count(self.result.unnamed, o.type)
        new = self.hold_back([o for o in live if (kind, o.id) not in self.ids and self.ready(o)])
        hubspot_owners: dict[int, str | None] = {}
        if new:
            # Found after a crash: created by us, so HubSpot's owner is the baseline (kept by
            # reconcile); they get an update with their current state below.
            reconciled = keys_of(self.reconcile(new, hubspot_owners))
            rest = [o for o in new if (o.kind, o.id) not in reconciled]
            self.matched |= keys_of(self.match_existing(rest, hubspot_owners))
            self.create([o for o in rest if (o.kind, o.id) not in self.matched], hubspot_owners)
        # Objects created this cycle went whole; the others get an update (links alone go
        # through push_links).
        changed = [
            o
            for o in live
            if (kind, o.id) in self.ids
            and (kind, o.id) not in self.created_now
            and (kind, o.id) not in self.failed
            and (o.changes - {"associated"} or (kind, o.id) in self.matched)
        ]
        fresh = [o for o in changed if (kind, o.id) in self.matched]
        self.update(
            fresh + self.hold_back([o for o in changed if (kind, o.id) not in self.matched]),
            hubspot_owners,
            self.matched,
        )
        # Matched objects, and retried ones or ones with an open failure (a refused link
        # among them: saving them closes it), send every link.
        again = [
            o
            for o in changed
            if ("retry" in o.changes or (kind, o.id) in self.open_failures) and o not in fresh
        ]
        self.links_of_matched([o for o in fresh + again if (kind, o.id) not in self.failed])

    def hold_back(self, objs: list[PushObject]) -> list[PushObject]:
        """The objects to send now. With more changes queued behind the slice, a type that
        fills at least one batch keeps its remainder (the newest) for the next cycle, where
        it leaves first, in a full batch: a partly filled batch costs a whole request of
        the rate limit. A type too small to fill one batch goes now, so nothing waits more
        than one cycle (or two, linked to a record that waited)."""
        if not self.hold_partial:
            return objs
        by_type: dict[str, list[PushObject]] = defaultdict(list)
        for obj in objs:
            if any(
                (k, i) in self.held and (k, i) not in self.ids for k, i, _p in self.links_of(obj)
            ):
                # Linked to a record whose create waits: waits too, so that its own create
                # carries the link (rather than a request of its own once the record exists).
                self.held.add((obj.kind, obj.id))
            else:
                by_type[obj.type].append(obj)
        for group in by_type.values():
            extra = len(group) % BATCH
            if len(group) > BATCH and extra:
                self.held |= keys_of(group[-extra:])
        return [o for o in objs if (o.kind, o.id) not in self.held]

    def ready(self, obj: PushObject) -> bool:
        """A record is worth creating once it has something that names it."""
        if obj.kind == push_store.ACTIVITY:
            return True
        return obj.type in RECORD_TYPES and not self.unnamed(obj)

    @staticmethod
    def unnamed(obj: PushObject) -> bool:
        """A placeholder record nothing names yet (no name, domain or email)."""
        row = obj.row
        assert row is not None
        return (
            obj.kind == push_store.RECORD
            and bool(row["placeholder"])
            and not (row["email"] or row["domain"] or row["name"])
        )


__all__ = ["BATCH", "Cycle", "PushResult", "leadsync_id"]
