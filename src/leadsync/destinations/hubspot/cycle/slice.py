"""A slice of the push queue, coalesced per object, and what every step of a cycle shares.

An object is sent once, in its current state, whatever number of changes it had queued.
:class:`CycleBase` loads what the slice needs in a handful of set-based reads (the objects, their links, the HubSpot ids already known), sends requests
(several in flight, each through the shared budget) and writes in one transaction each; the
steps of a cycle are mixins over it (:mod:`.creates`, :mod:`.updates`, :mod:`.owners`,
:mod:`.links`, :mod:`.results`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from leadsync.destinations.hubspot.client import Answer, LeaseLost
from leadsync.destinations.hubspot.objects import (
    LEADSYNC_ID,
    activity_properties,
    record_properties,
)
from leadsync.destinations.hubspot.options import NOT_OPTIONS, fit_options
from leadsync.model import RecordType, Strategy
from leadsync.store import push as push_store
from leadsync.store.database import begin_writing

if TYPE_CHECKING:
    from leadsync.destinations.hubspot.cycle.results import PushResult
    from leadsync.destinations.hubspot.pusher import Pusher

BATCH = 100  # inputs in one request (HubSpot's maximum)


def leadsync_id(key: str, kind: str, local_id: int) -> str:
    """The ``leadsync_id`` property of a local object: ``<workspace key>-<r|a><local id>``."""
    return f"{key}-{kind[0]}{local_id}"


@dataclass
class PushObject:
    """One object of the slice, its queued changes coalesced; ``row`` is its current state."""

    kind: str
    id: int
    type: str
    row: dict[str, Any] | None  # None: gone locally (a removed activity)
    pushed: dict[str, Any] | None
    changes: set[str] = field(default_factory=set)
    others: set[int] = field(default_factory=set)  # records of "associated" changes


class CycleBase:
    """One slice of the queue, loaded; the sending and writing every step uses."""

    def __init__(
        self,
        pusher: Pusher,
        rows: Sequence[Mapping[str, Any]],
        result: PushResult,
        *,
        hold_partial: bool = False,
    ):
        self.p = pusher
        self.result = result
        # More changes wait behind this slice: a type's last, partly filled batch waits for
        # the next cycle (its queue rows stay) to leave full. ``held`` names those objects.
        self.hold_partial = hold_partial
        self.held: set[tuple[str, int]] = set()
        self.rules = pusher.rules()
        self.options = pusher.options()
        # A record's values none of the portal's options names, by object: reported once
        # the object is pushed without them (ResultsMixin.save).
        self.not_options: dict[tuple[str, int], dict[str, str]] = {}
        self.hubspot_integrations = [n for n, s in self.rules.integrations.items() if s.is_crm]
        self.objects: dict[tuple[str, int], PushObject] = {}
        self.failed: set[tuple[str, int]] = set()
        # The objects refused this cycle, in order (cycle.gone reads what they name).
        self.refused_now: list[PushObject] = []
        # Objects updated without a value (the email another HubSpot contact holds, a value
        # HubSpot refused): the categories of their reports, which stay open when they are
        # saved (cycle.updates.sent_without).
        self.value_held: dict[tuple[str, int], set[str]] = {}
        # Objects created without values HubSpot refused in their create (by name):
        # cycle.creates.created_without.
        self.left_out: dict[tuple[str, int], set[str]] = {}
        self.created_now: set[tuple[str, int]] = set()
        # Objects HubSpot had before we created them (email, domain, a conflict naming the
        # existing id, or a create that reached HubSpot before a crash): owners compared.
        self.matched: set[tuple[str, int]] = set()
        # When HubSpot says each record's owner was assigned (hubspot_owner_assigneddate),
        # read with the owner: by the match's search or the compare's read.
        self.owner_assigned: dict[int, str | None] = {}
        # Links made (or sent) this cycle, by their ends' type and HubSpot id: each is made
        # and counted once, though both its objects' changes name it.
        self.linked: set[frozenset[tuple[str, str]]] = set()
        for row in rows:
            key = (row["kind"], int(row["local_id"]))
            obj = self.objects.get(key)
            if obj is None:
                obj = self.objects[key] = PushObject(key[0], key[1], row["object_type"], None, None)
            obj.changes.add(row["change"])
            if row["change"] == "associated" and row["other_id"] is not None:
                obj.others.add(int(row["other_id"]))
        self._load()

    def _load(self) -> None:
        record_ids = {i for k, i in self.objects if k == push_store.RECORD}
        activity_ids = {i for k, i in self.objects if k == push_store.ACTIVITY}
        with self.p.reading() as c:
            recs = push_store.load_records(c, record_ids)
            acts = push_store.load_activities(c, activity_ids)
            self.activity_links = push_store.links_of_activities(c, activity_ids)
            self.record_links = push_store.links_of_records(c, record_ids)
            self.record_activity_links = push_store.activity_links_to_records(c, record_ids)
            other_records = (
                {r for _a, r, _t in self.activity_links}
                | {x for link in self.record_links for x in link[:2]}
                | {o for obj in self.objects.values() for o in obj.others}
                | record_ids
            )
            other_activities = {a for a, *_ in self.record_activity_links} | activity_ids
            self.pushed_records = push_store.load_pushed(c, push_store.RECORD, other_records)
            self.pushed_activities = push_store.load_pushed(
                c, push_store.ACTIVITY, other_activities
            )
            self.types = push_store.record_types(c, other_records)
            crm_ids = push_store.crm_ids(c, self.hubspot_integrations, other_records)
            # Objects with an open push failure: a save closes it (read once, not per save).
            self.open_failures = push_store.open_failure_keys(c, record_ids, activity_ids)
        self.activity_types = {a: t for a, _r, _rt, t in self.record_activity_links}
        # The links by object, for links_of (one pass, not a scan per object).
        self.links: dict[tuple[str, int], list[tuple[str, int, bool]]] = defaultdict(list)
        self.primary_pairs: set[frozenset[int]] = set()
        for a, r, _t in self.activity_links:
            self.links[(push_store.ACTIVITY, a)].append((push_store.RECORD, r, False))
        for left, right, _lt, _rt, primary in self.record_links:
            self.links[(push_store.RECORD, left)].append((push_store.RECORD, right, primary))
            self.links[(push_store.RECORD, right)].append((push_store.RECORD, left, primary))
            if primary:
                self.primary_pairs.add(frozenset((left, right)))
        for a, r, _rt, _at in self.record_activity_links:
            self.links[(push_store.RECORD, r)].append((push_store.ACTIVITY, a, False))
        # A record joined into another (engine/record_joins.py) is never pushed again: not
        # archived either (its HubSpot object may be the kept record's, after HubSpot's merge).
        for local_id, rec in recs.items():
            if rec.get("merged_into") is not None:
                self.objects.pop((push_store.RECORD, local_id), None)
        for (kind, local_id), obj in self.objects.items():
            if kind == push_store.RECORD:
                row = recs.get(local_id)
                obj.row = None if row is None else fit_options(row, self.options.get(obj.type))
                if obj.row is not None and obj.row.get(NOT_OPTIONS):
                    self.not_options[(kind, local_id)] = obj.row[NOT_OPTIONS]
                obj.pushed = self.pushed_records.get(local_id)
            else:
                obj.row = acts.get(local_id)
                obj.pushed = self.pushed_activities.get(local_id)
                if obj.row is not None:
                    self.activity_types[local_id] = obj.row["type"]
        self.ids: dict[tuple[str, int], str] = {}
        for lid, pushed in self.pushed_records.items():
            if pushed.get("hubspot_id"):
                self.ids[(push_store.RECORD, lid)] = str(pushed["hubspot_id"])
        for lid, pushed in self.pushed_activities.items():
            if pushed.get("hubspot_id"):
                self.ids[(push_store.ACTIVITY, lid)] = str(pushed["hubspot_id"])
        # A record HubSpot's own webhooks named (a creation, an association made there) is a
        # HubSpot object already: matched by that id, never created again.
        for lid, hubspot_id in crm_ids.items():
            key = (push_store.RECORD, lid)
            if key not in self.ids:
                self.ids[key] = hubspot_id
                self.matched.add(key)
                if key in self.objects:
                    self.result.count(self.result.matched, self.objects[key].type)

    def send(self, method: str, path: str, body: Any = None) -> Answer:
        if self.p.dry_run:
            self.p.sent.append((method, path, body))
            return Answer(200, {"results": []})
        return self.p.client.request(method, path, body)

    def send_all(self, requests: Sequence[tuple[str, str, Any]]) -> list[Answer]:
        """Send independent requests concurrently; the answers in order."""
        answers: list[Answer | None] = [None] * len(requests)

        def keep(index: int, answer: Answer) -> None:
            answers[index] = answer

        self.send_each(requests, keep)
        return [a for a in answers if a is not None]

    def send_each(
        self, requests: Iterable[tuple[str, str, Any]], handle: Callable[[int, Answer], None]
    ) -> None:
        """Send independent requests, up to ``in_flight`` at a time (each waits for its slot
        in the shared budget), and hand each answer to ``handle`` in this thread as it comes,
        so that recording one result overlaps the others' round trips. HubSpot's round trip,
        not the budget, would otherwise bound the push. ``requests`` may be a generator: it
        is drawn from as slots free up, so building the next batches overlaps the round
        trips of the first instead of delaying them. The first error is raised once the
        requests already sent have been answered (their results recorded)."""
        if self.p.dry_run or self.p.in_flight <= 1:
            for index, request in enumerate(requests):
                handle(index, self.send(*request))
            return
        pool = self.p.pool()
        pending = iter(enumerate(requests))
        futures: dict[Future[Answer], int] = {}
        error: BaseException | None = None

        def submit() -> bool:
            item = next(pending, None)
            if item is None:
                return False
            futures[pool.submit(self.send, *item[1])] = item[0]
            return True

        for _ in range(self.p.in_flight):
            if not submit():
                break
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in done:
                index = futures.pop(future)
                try:
                    answer = future.result()
                except BaseException as exc:  # raised below, after the others are handled
                    error = error or exc
                    continue
                if error is None:
                    submit()  # the next request leaves before this answer is recorded
                handle(index, answer)
        if error is not None:
            raise error

    def lid(self, obj: PushObject) -> str:
        return leadsync_id(self.p.key, obj.kind, obj.id)

    def write(self, fn: Callable[[Connection], None]) -> None:
        if self.p.dry_run:
            return
        with begin_writing(self.p.engine) as connection:
            fn(connection)  # what HubSpot answered is kept, whoever pushes next
            renewed = self.p.renew_lease(connection)
        if not renewed:
            raise LeaseLost(self.p.holder)

    def other_type(self, kind: str, local_id: int) -> str | None:
        if kind == push_store.RECORD:
            return self.types.get(local_id)
        return self.activity_types.get(local_id)

    def links_of(self, obj: PushObject) -> Iterable[tuple[str, int, bool]]:
        """(kind, id, is primary) of every object linked to ``obj`` locally."""
        return self.links.get((obj.kind, obj.id), ())

    def properties(self, obj: PushObject) -> dict[str, str]:
        assert obj.row is not None
        props = (
            record_properties(obj.row)
            if obj.kind == push_store.RECORD
            else activity_properties(obj.row)
        )
        props[LEADSYNC_ID] = self.lid(obj)
        return props

    def owner_source_strategy(self, obj: PushObject) -> Strategy | None:
        """The strategy under which the record got its owner (None: a person's choice)."""
        assert obj.row is not None
        source = obj.row.get("owner_source")
        if isinstance(source, str) and source in self.rules.integrations:
            return self.rules.strategy(source, RecordType(obj.type))
        return None

    def owner_to_write(self, obj: PushObject) -> str | None:
        """The owner a create carries: the record's (or activity's), unless HubSpot itself
        set it (a webhook from a CRM integration is never written back)."""
        assert obj.row is not None
        if obj.kind == push_store.RECORD:
            source = obj.row.get("owner_source")
            if source in self.hubspot_integrations:
                return None
        owner = obj.row.get("owner_id")
        return str(owner) if owner is not None else None


def keys_of(objs: Iterable[PushObject]) -> set[tuple[str, int]]:
    return {(o.kind, o.id) for o in objs}


def typed_chunks(objs: Sequence[PushObject]) -> list[list[PushObject]]:
    """Batches of up to 100 objects of one type each."""
    by_type: dict[str, list[PushObject]] = defaultdict(list)
    for obj in objs:
        by_type[obj.type].append(obj)
    return [list(c) for group in by_type.values() for c in in_chunks(group, BATCH)]


def in_chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
