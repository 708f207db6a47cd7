"""One cycle of the push: a slice of the queue, from loading to recorded results.

The slice is coalesced per object (an object is sent once, in its current state, whatever
number of changes it had), and sent type by type: records before the activities that link to
them (companies, contacts, deals, leads; then every activity type at once), then the
associations added to objects HubSpot already has. Requests carry up to 100 inputs; up to
``in_flight`` travel together and their answers are recorded as they come. Why this is
exactly once, and how the owner is compared before it is set: :mod:`.pusher` and
docs/HUBSPOT.md.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from leadsync.destinations.hubspot.client import Answer
from leadsync.destinations.hubspot.objects import (
    ACTIVITY_TYPES,
    LEADSYNC_ID,
    RECORD_TYPES,
    activity_properties,
    association_type,
    record_properties,
)
from leadsync.engine import WorkspaceRules, write_owner_changes
from leadsync.model import (
    CRM_SOURCE,
    OwnerDecision,
    RecordType,
    Strategy,
    epoch_ts,
    now_ts,
)
from leadsync.rules.ownership import OwnerContext, decide_against_crm
from leadsync.store import batch as batch_store
from leadsync.store import push as push_store

if TYPE_CHECKING:
    from leadsync.destinations.hubspot.pusher import Pusher

log = logging.getLogger("leadsync.push")

BATCH = 100
SEARCH_GROUPS = 5  # filter groups in one search (HubSpot allows five)
SEARCH_PAGE = 200  # results in one page of a search (HubSpot's maximum)
CAS_STRATEGIES = frozenset(
    {Strategy.FILL_IF_EMPTY, Strategy.NEVER_OVERWRITE, Strategy.BIDIRECTIONAL}
)
_EXISTING_ID = re.compile(r"Existing ID: ?(\d+)")


@dataclass
class PushResult:
    """What one or more cycles did."""

    cycles: int = 0
    changes: int = 0
    requests: int = 0
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)
    associations: int = 0
    archived: int = 0
    failures: int = 0
    owner_checks: int = 0
    owner_redecided: int = 0
    busy: bool = False  # another pusher holds the lease

    def count(self, table: dict[str, int], key: str, n: int = 1) -> None:
        table[key] = table.get(key, 0) + n

    def add(self, other: PushResult) -> None:
        self.cycles += other.cycles
        self.changes += other.changes
        self.requests += other.requests
        for mine, theirs in (
            (self.created, other.created),
            (self.updated, other.updated),
            (self.matched, other.matched),
        ):
            for k, v in theirs.items():
                mine[k] = mine.get(k, 0) + v
        self.associations += other.associations
        self.archived += other.archived
        self.failures += other.failures
        self.owner_checks += other.owner_checks
        self.owner_redecided += other.owner_redecided
        self.busy = other.busy

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def leadsync_id(key: str, kind: str, local_id: int) -> str:
    return f"{key}-{kind[0]}{local_id}"


@dataclass
class _CreateBatch:
    """One create request: its inputs, and what to read its answer with."""

    type: str
    path: str
    inputs: list[dict[str, Any]] = field(default_factory=list)
    by_lid: dict[str, _Object] = field(default_factory=dict)
    owners: dict[int, str | None] = field(default_factory=dict)


@dataclass
class _Object:
    kind: str
    id: int
    type: str
    row: dict[str, Any] | None  # None: gone locally (a removed activity)
    pushed: dict[str, Any] | None
    changes: set[str] = field(default_factory=set)
    others: set[int] = field(default_factory=set)  # records of "associated" changes


class Cycle:
    """One slice of the queue, from load to recorded results."""

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
        self.hubspot_integrations = [n for n, s in self.rules.integrations.items() if s.is_crm]
        self.objects: dict[tuple[str, int], _Object] = {}
        self.failed: set[tuple[str, int]] = set()
        self.created_now: set[tuple[str, int]] = set()
        # Objects HubSpot had before we created them (email, domain, a conflict naming the
        # existing id, or a create that reached HubSpot before a crash): owners compared.
        self.matched: set[tuple[str, int]] = set()
        for row in rows:
            key = (row["kind"], int(row["local_id"]))
            obj = self.objects.get(key)
            if obj is None:
                obj = self.objects[key] = _Object(key[0], key[1], row["object_type"], None, None)
            obj.changes.add(row["change"])
            if row["change"] == "associated" and row["other_id"] is not None:
                obj.others.add(int(row["other_id"]))
        self._load()

    # ----------------------------------------------------------------- loading

    def _load(self) -> None:
        record_ids = {i for k, i in self.objects if k == push_store.RECORD}
        activity_ids = {i for k, i in self.objects if k == push_store.ACTIVITY}
        with self.p.engine.connect() as c:
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
        for (kind, local_id), obj in self.objects.items():
            if kind == push_store.RECORD:
                obj.row = recs.get(local_id)
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

    # ----------------------------------------------------------------- helpers

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

    def lid(self, obj: _Object) -> str:
        return leadsync_id(self.p.key, obj.kind, obj.id)

    def write(self, fn: Callable[[Connection], None]) -> None:
        if self.p.dry_run:
            return
        with self.p.engine.begin() as connection:
            fn(connection)
            self.p.renew_lease(connection)

    def fail(self, obj: _Object, operation: str, answer: Answer, error: Mapping[str, Any]) -> None:
        self.failed.add((obj.kind, obj.id))
        self.open_failures.add((obj.kind, obj.id))
        self.result.failures += 1
        row = {
            "kind": obj.kind,
            "local_id": obj.id,
            "object_type": obj.type,
            "operation": operation,
            "status": _input_status(answer.status, error.get("category")),
            "category": str(error.get("category") or answer.body.get("category") or "")[:64]
            or None,
            "message": str(error.get("message") or answer.error_text())[:2000],
            "correlation_id": str(
                error.get("correlationId")
                or answer.body.get("correlationId")
                or answer.header("x-hubspot-correlation-id")
                or ""
            )[:64]
            or None,
            "at": now_ts(),
        }
        log.warning("HubSpot refused %s %s %s: %s", operation, obj.type, obj.id, row["message"])
        self.write(lambda c: push_store.add_failures(c, [row]))

    def other_type(self, kind: str, local_id: int) -> str | None:
        if kind == push_store.RECORD:
            return self.types.get(local_id)
        return self.activity_types.get(local_id)

    # --------------------------------------------------------------------- run

    def run(self) -> None:
        for rtype in RECORD_TYPES:
            self.push_types(push_store.RECORD, [rtype])
        self.push_types(push_store.ACTIVITY, ACTIVITY_TYPES)
        self.push_links()

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
        new = self.hold_back([o for o in live if (kind, o.id) not in self.ids and self.ready(o)])
        hubspot_owners: dict[int, str | None] = {}
        if new:
            # Found after a crash: created by us, so HubSpot's owner is the baseline (kept by
            # reconcile); they get an update with their current state below.
            reconciled = _keys(self.reconcile(new, hubspot_owners))
            rest = [o for o in new if (o.kind, o.id) not in reconciled]
            self.matched |= _keys(self.match_existing(rest, hubspot_owners))
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

    def hold_back(self, objs: list[_Object]) -> list[_Object]:
        """The objects to send now. With more changes queued behind the slice, a type that
        fills at least one batch keeps its remainder (the newest) for the next cycle, where
        it leaves first, in a full batch: a partly filled batch costs a whole request of
        the rate limit. A type too small to fill one batch goes now, so nothing waits more
        than one cycle (or two, linked to a record that waited)."""
        if not self.hold_partial:
            return objs
        by_type: dict[str, list[_Object]] = defaultdict(list)
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
                self.held |= _keys(group[-extra:])
        return [o for o in objs if (o.kind, o.id) not in self.held]

    def ready(self, obj: _Object) -> bool:
        """A record is worth creating once it has something that names it."""
        row = obj.row
        assert row is not None
        if obj.kind == push_store.ACTIVITY:
            return True
        if obj.type not in RECORD_TYPES:
            return False
        return not row["placeholder"] or bool(row["email"] or row["domain"] or row["name"])

    # ----------------------------------------------------------------- creates

    def reconcile(self, objs: Sequence[_Object], owners: dict[int, str | None]) -> list[_Object]:
        """Objects whose create may have reached HubSpot before a crash: read by
        ``leadsync_id``; the found ones take their HubSpot id, the others are created."""
        suspects = [o for o in objs if o.pushed is not None and o.pushed.get("create_sent_at")]
        found: list[_Object] = []
        for chunk in _typed_chunks(suspects):
            by_lid = {self.lid(o): o for o in chunk}
            answer = self.send(
                "POST",
                self.p.paths.batch(chunk[0].type, "read"),
                {
                    "inputs": [{"id": lid} for lid in by_lid],
                    "idProperty": LEADSYNC_ID,
                    "properties": [LEADSYNC_ID, "hubspot_owner_id"],
                },
            )
            for item in answer.body.get("results") or []:
                props = item.get("properties") or {}
                obj = by_lid.get(str(props.get(LEADSYNC_ID)))
                if obj is not None:
                    self.ids[(obj.kind, obj.id)] = str(item["id"])
                    owners[obj.id] = props.get("hubspot_owner_id") or None
                    obj.changes.add("changed")
                    found.append(obj)
        if found:
            self.save(found, owners)
        return found

    def match_existing(
        self, objs: Sequence[_Object], owners: dict[int, str | None]
    ) -> list[_Object]:
        """Companies HubSpot has already, by domain (a search; HubSpot does not keep domains
        unique, so a create would not say). Contacts need no read: HubSpot keeps emails
        unique and answers the create of a known email with the existing contact's id
        (``refused``), which is then matched like these."""
        if not objs or objs[0].kind != push_store.RECORD:
            return []
        found: list[_Object] = []
        if objs[0].type == "company":
            with_domain = [o for o in objs if o.row and o.row.get("domain")]
            by_domain: dict[str, list[_Object]] = defaultdict(list)
            for o in with_domain:
                assert o.row is not None
                by_domain[str(o.row["domain"]).lower()].append(o)
            # One search asks for up to 500 domains (5 filter groups, OR-ed, of an IN with
            # 100 values), paged: HubSpot answers at most 200 results a page.
            domains = sorted(by_domain)
            for chunk in _chunks(domains, SEARCH_GROUPS * BATCH):
                groups = [
                    {"filters": [{"propertyName": "domain", "operator": "IN", "values": list(g)}]}
                    for g in _chunks(chunk, BATCH)
                ]
                for item in self.search_all("company", groups, ["domain", "hubspot_owner_id"]):
                    props = item.get("properties") or {}
                    for obj in by_domain.pop(str(props.get("domain") or "").lower(), []):
                        self.ids[(obj.kind, obj.id)] = str(item["id"])
                        owners[obj.id] = props.get("hubspot_owner_id") or None
                        found.append(obj)
        for obj in found:
            self.result.count(self.result.matched, obj.type)
        return found

    def search_all(
        self, object_type: str, groups: list[dict[str, Any]], properties: list[str]
    ) -> list[dict[str, Any]]:
        """Every result of one search, page by page, lowest HubSpot id first (where HubSpot
        holds two objects with one value, the oldest is the one matched)."""
        results: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            body: dict[str, Any] = {
                "filterGroups": groups,
                "properties": properties,
                "limit": SEARCH_PAGE,
            }
            if after is not None:
                body["after"] = after
            answer = self.send("POST", self.p.paths.search(object_type), body)
            results += answer.body.get("results") or []
            after = ((answer.body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return sorted(results, key=lambda r: int(r["id"]))

    def create(self, objs: Sequence[_Object], hubspot_owners: dict[int, str | None]) -> None:
        """Create objects (one kind, any types) with their associations, batches of one type
        in flight together."""
        if not objs:
            return
        intents = {o.id: o.type for o in objs}
        at = now_ts()
        self.write(lambda c: push_store.mark_create_sent(c, objs[0].kind, intents, at))
        batches: list[_CreateBatch] = []
        created: list[_Object] = []

        def requests() -> Iterator[tuple[str, str, Any]]:
            # Built as slots free up: the first batch leaves before the last is built.
            for chunk in _typed_chunks(objs):
                batch = self.create_batch(chunk)
                if batch is not None:
                    batches.append(batch)
                    yield ("POST", batch.path, {"inputs": batch.inputs})

        def handle(index: int, answer: Answer) -> None:
            created.extend(self.handle_create(batches[index], answer, hubspot_owners))

        self.send_each(requests(), handle)
        self.late_links(created)

    def create_batch(self, chunk: list[_Object]) -> _CreateBatch | None:
        """The create request of up to 100 objects of one type (None: nothing to send)."""
        batch = _CreateBatch(chunk[0].type, self.p.paths.batch(chunk[0].type, "create"))
        for obj in chunk:
            props = self.properties(obj)
            owner = self.owner_to_write(obj)
            if owner is not None:
                props["hubspot_owner_id"] = owner
            batch.owners[obj.id] = owner
            lid = self.lid(obj)
            associations = self.create_associations(obj)
            if obj.type == "lead" and not associations:
                self.fail(
                    obj,
                    "create",
                    Answer(400, {}),
                    {
                        "message": "a lead needs a contact in HubSpot (HubSpot requires "
                        "leads to be associated with a contact); this lead has none yet",
                        "category": "LEADSYNC_PRECONDITION",
                    },
                )
                continue
            batch.by_lid[lid] = obj
            batch.inputs.append(
                {"properties": props, "associations": associations, "objectWriteTraceId": lid}
            )
        return batch if batch.inputs else None

    def handle_create(
        self, batch: _CreateBatch, answer: Answer, hubspot_owners: dict[int, str | None]
    ) -> list[_Object]:
        """Record what HubSpot created; refused inputs become failures (or matches)."""
        if not answer.ok and answer.status != 207:
            # The whole batch was refused: find the input at fault by halves.
            chunk = list(batch.by_lid.values())
            if len(chunk) == 1:
                self.refused(chunk[0], "create", answer, answer.body)
                return []
            created: list[_Object] = []
            for half in (chunk[: len(chunk) // 2], chunk[len(chunk) // 2 :]):
                sub = self.create_batch(half)
                if sub is not None:
                    sub_answer = self.send("POST", sub.path, {"inputs": sub.inputs})
                    created += self.handle_create(sub, sub_answer, hubspot_owners)
            return created
        created = []
        for item in answer.body.get("results") or []:
            trace = item.get("objectWriteTraceId") or (item.get("properties") or {}).get(
                LEADSYNC_ID
            )
            done = batch.by_lid.get(str(trace))
            if done is None:
                continue
            self.ids[(done.kind, done.id)] = str(item["id"])
            self.created_now.add((done.kind, done.id))
            created.append(done)
        for error in answer.body.get("errors") or []:
            context = error.get("context") or {}
            for trace in context.get("objectWriteTraceId") or []:
                bad = batch.by_lid.get(str(trace))
                if bad is not None:
                    self.refused(bad, "create", answer, error)
        for obj in created:
            self.result.count(self.result.created, obj.type)
            hubspot_owners[obj.id] = batch.owners[obj.id]
        self.save(created, hubspot_owners)
        return created

    def refused(
        self, obj: _Object, operation: str, answer: Answer, error: Mapping[str, Any]
    ) -> None:
        """An input HubSpot refused. A conflict naming the existing object (the contact's
        email, or our own leadsync_id) is that object: matched, then updated."""
        match = _EXISTING_ID.search(str(error.get("message") or ""))
        if match is not None and operation == "create":
            # Not saved yet: the id is recorded with the owner HubSpot has, once compared.
            # Saved now, without an owner, a crash before that comparison would leave this
            # HubSpot owner looking like a person's change (and it may be our own create
            # whose answer was lost: after a crash, reconcile finds it by leadsync_id).
            self.ids[(obj.kind, obj.id)] = match.group(1)
            self.matched.add((obj.kind, obj.id))
            self.result.count(self.result.matched, obj.type)
            return
        self.fail(obj, operation, answer, error)

    def create_associations(self, obj: _Object) -> list[dict[str, Any]]:
        """The links sent with a create: to every counterpart HubSpot has, where HubSpot
        defines the type from this side (the others follow through the v4 API)."""
        out = []
        lead_contact = False
        for other_kind, other_id, primary in self.links_of(obj):
            other_hs = self.ids.get((other_kind, other_id))
            other_type = self.other_type(other_kind, other_id)
            if other_hs is None or other_type is None:
                continue
            if obj.type == "lead" and other_type == "contact" and not lead_contact:
                # HubSpot creates a lead only with its primary contact (type 578).
                primary = lead_contact = True
            type_ids = _type_ids(obj.type, other_type, primary)
            if type_ids:
                out.append(
                    {
                        "to": {"id": other_hs},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}
                            for t in type_ids
                        ],
                    }
                )
        return out

    def links_of(self, obj: _Object) -> Iterable[tuple[str, int, bool]]:
        """(kind, id, is primary) of every object linked to ``obj`` locally."""
        return self.links.get((obj.kind, obj.id), ())

    def late_links(self, created: Sequence[_Object]) -> None:
        """Links of new objects to counterparts HubSpot has, that the create could not carry
        (HubSpot defines their type only from the other side, e.g. lead -> call)."""
        pairs: list[tuple[str, str, str, str, list[int]]] = []
        for obj in created:
            for other_kind, other_id, primary in self.links_of(obj):
                other_hs = self.ids.get((other_kind, other_id))
                other_type = self.other_type(other_kind, other_id)
                if other_hs is None or other_type is None:
                    continue
                if _type_ids(obj.type, other_type, primary):
                    continue
                reverse = _type_ids(other_type, obj.type, primary)
                if reverse:
                    pairs.append(
                        (other_type, obj.type, other_hs, self.ids[(obj.kind, obj.id)], reverse)
                    )
        self.send_links(pairs)

    # ----------------------------------------------------------------- updates

    def properties(self, obj: _Object) -> dict[str, str]:
        assert obj.row is not None
        props = (
            record_properties(obj.row)
            if obj.kind == push_store.RECORD
            else activity_properties(obj.row)
        )
        props[LEADSYNC_ID] = self.lid(obj)
        return props

    def owner_source_strategy(self, obj: _Object) -> Strategy | None:
        """The strategy under which the record got its owner (None: a person's choice)."""
        assert obj.row is not None
        source = obj.row.get("owner_source")
        if isinstance(source, str) and source in self.rules.integrations:
            return self.rules.strategy(source, RecordType(obj.type))
        return None

    def owner_to_write(self, obj: _Object) -> str | None:
        """The owner a create carries: the record's (or activity's), unless HubSpot itself
        set it (a webhook from a CRM integration is never written back)."""
        assert obj.row is not None
        if obj.kind == push_store.RECORD:
            source = obj.row.get("owner_source")
            if source in self.hubspot_integrations:
                return None
        owner = obj.row.get("owner_id")
        return str(owner) if owner is not None else None

    def update(
        self,
        objs: Sequence[_Object],
        hubspot_owners: dict[int, str | None],
        matched: set[tuple[str, int]],
    ) -> None:
        if not objs:
            return
        objs = [o for o in objs if o.row is not None]
        # Owners to write, and which need HubSpot's current owner first.
        wanted: dict[int, str | None] = {}
        check: list[_Object] = []
        for obj in objs:
            assert obj.row is not None
            if obj.kind != push_store.RECORD:
                continue
            source = obj.row.get("owner_source")
            owner = obj.row.get("owner_id")
            pushed = obj.pushed or {}
            last = pushed.get("pushed_owner_id")
            unconfirmed = pushed.get("owner_sent_at") is not None
            if source in self.hubspot_integrations:
                continue  # HubSpot's own change: HubSpot has it
            key = (obj.kind, obj.id)
            if key not in matched and owner == last and not unconfirmed:
                continue
            strategy = self.owner_source_strategy(obj)
            if key in matched or (strategy is not None and strategy in CAS_STRATEGIES):
                check.append(obj)
            wanted[obj.id] = owner
        if check:
            self.compare_owners(check, hubspot_owners, wanted, matched)
        intents = {i: o for i, o in wanted.items()}
        if intents:
            at = now_ts()
            self.write(lambda c: push_store.mark_owner_sent(c, intents, at))
        inputs_by_type: dict[str, list[tuple[_Object, dict[str, Any]]]] = defaultdict(list)
        for obj in objs:
            only_owner = (
                obj.changes <= {"owner", "associated"} and (obj.kind, obj.id) not in matched
            )
            props: dict[str, str] = {} if only_owner else self.properties(obj)
            if obj.id in wanted and obj.kind == push_store.RECORD:
                owner = wanted[obj.id]
                props["hubspot_owner_id"] = owner or ""
            if obj.kind == push_store.ACTIVITY and obj.row is not None:
                owner = obj.row.get("owner_id")
                if owner is not None:
                    props["hubspot_owner_id"] = str(owner)
            if props:
                inputs_by_type[obj.type].append((obj, props))
        chunks = [
            (object_type, list(chunk))
            for object_type, items in inputs_by_type.items()
            for chunk in _chunks(items, BATCH)
        ]
        self.send_each(
            [
                (
                    "POST",
                    self.p.paths.batch(object_type, "update"),
                    {"inputs": [{"id": self.ids[(o.kind, o.id)], "properties": p} for o, p in c]},
                )
                for object_type, c in chunks
            ],
            lambda index, answer: self.handle_update(*chunks[index], wanted, answer),
        )
        self.send_association_changes(objs)

    def handle_update(
        self,
        object_type: str,
        chunk: list[tuple[_Object, dict[str, Any]]],
        wanted: Mapping[int, str | None],
        answer: Answer,
    ) -> None:
        by_hs = {self.ids[(o.kind, o.id)]: o for o, _ in chunk}
        refused: set[str] = set()
        for error in answer.body.get("errors") or []:
            for hs in (error.get("context") or {}).get("ids") or []:
                obj = by_hs.get(str(hs))
                if obj is not None:
                    refused.add(str(hs))
                    self.fail(obj, "update", answer, error)
        if not answer.ok and answer.status != 207:
            if len(chunk) == 1:
                self.fail(chunk[0][0], "update", answer, answer.body)
                return
            for half in (chunk[: len(chunk) // 2], chunk[len(chunk) // 2 :]):
                sub_answer = self.send(
                    "POST",
                    self.p.paths.batch(object_type, "update"),
                    {
                        "inputs": [
                            {"id": self.ids[(o.kind, o.id)], "properties": p} for o, p in half
                        ]
                    },
                )
                self.handle_update(object_type, half, wanted, sub_answer)
            return
        done = [o for hs, o in by_hs.items() if hs not in refused]
        owners: dict[int, str | None] = {}
        for obj in done:
            self.result.count(self.result.updated, obj.type)
            if obj.id in wanted:
                owners[obj.id] = wanted[obj.id]
        self.save(done, owners, owner_known=bool(owners))

    def compare_owners(
        self,
        objs: Sequence[_Object],
        hubspot_owners: dict[int, str | None],
        wanted: dict[int, str | None],
        matched: set[tuple[str, int]],
    ) -> None:
        """Compare-and-set: read HubSpot's owners, and where HubSpot's owner is not the one
        leadsync last wrote, decide again with the engine's rule."""
        unknown = [o for o in objs if o.id not in hubspot_owners]
        chunks = [list(c) for c in _chunks(unknown, BATCH)]
        answers = self.send_all(
            [
                (
                    "POST",
                    self.p.paths.batch(chunk[0].type, "read"),
                    {
                        "inputs": [{"id": self.ids[(o.kind, o.id)]} for o in chunk],
                        "properties": ["hubspot_owner_id"],
                    },
                )
                for chunk in chunks
            ]
        )
        for chunk, answer in zip(chunks, answers, strict=True):
            by_hs = {self.ids[(o.kind, o.id)]: o for o in chunk}
            for item in answer.body.get("results") or []:
                obj = by_hs.get(str(item["id"]))
                if obj is not None:
                    value = (item.get("properties") or {}).get("hubspot_owner_id")
                    hubspot_owners[obj.id] = value or None
        self.result.owner_checks += len(objs)
        decisions: list[OwnerDecision] = []
        updates: list[dict[str, Any]] = []
        confirmed: list[_Object] = []
        confirmed_owners: dict[int, str | None] = {}
        now = epoch_ts(self.p.clock())
        for obj in objs:
            assert obj.row is not None
            if obj.id not in hubspot_owners:
                continue
            hubspot = hubspot_owners[obj.id]
            last = (obj.pushed or {}).get("pushed_owner_id")
            ours = obj.row.get("owner_id")
            is_matched = (obj.kind, obj.id) in matched
            if hubspot == ours:
                wanted.pop(obj.id, None)
                hubspot_owners[obj.id] = hubspot
                continue
            pushed = obj.pushed or {}
            ours_before = {last}
            if pushed.get("owner_sent_at") is not None:
                ours_before.add(pushed.get("owner_sent_id"))
            if not is_matched and hubspot in ours_before:
                if hubspot != last:
                    # Our unconfirmed write had landed: confirm it before the next intent
                    # replaces it (else a second crash would leave neither on record).
                    confirmed.append(obj)
                    confirmed_owners[obj.id] = hubspot
                continue  # HubSpot has what we wrote: write the new owner
            strategy = self.owner_source_strategy(obj) or Strategy.FILL_IF_EMPTY
            settings = self.rules.integrations.get(str(obj.row.get("owner_source")))
            protect = settings.ownership.protect_manual_days if settings else 0.0
            verdict = decide_against_crm(
                OwnerContext(
                    record_type=RecordType(obj.type),
                    is_new=False,
                    owner_id=ours,
                    owner_changed_at=obj.row.get("owner_changed_at"),
                    owner_source=obj.row.get("owner_source"),
                    manual_owner_at=obj.row.get("manual_owner_at"),
                ),
                crm_owner=hubspot,
                seen_at=now,
                strategy=strategy,
                protect_manual_days=protect,
                matched=is_matched,
                last_written=last,
            )
            self.result.owner_redecided += 1
            final = verdict.owner_id
            decisions.append(
                OwnerDecision(
                    record_id=obj.id,
                    record_type=RecordType(obj.type),
                    event_id=None,
                    integration=None,
                    strategy=strategy.value,
                    at=now,
                    previous_owner_id=ours,
                    proposed_owner_id=verdict.proposed_owner_id,
                    owner_id=final,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                    flagged=verdict.flagged,
                )
            )
            if final == hubspot:
                wanted.pop(obj.id, None)
                hubspot_owners[obj.id] = hubspot
                if final != ours:
                    updates.append(
                        {
                            "id": obj.id,
                            "owner_id": final,
                            "owner_changed_at": now,
                            "owner_source": CRM_SOURCE,
                        }
                    )
                    obj.row["owner_id"] = final
            else:
                wanted[obj.id] = final
        if confirmed:
            self.save(confirmed, confirmed_owners)
        if decisions:
            changed = [d for d in decisions if d.owner_id != d.previous_owner_id]

            def record(c: Connection) -> None:
                batch_store.insert_owner_decisions(c, decisions)
                batch_store.set_owners(c, updates)
                # HubSpot's owner goes on to the bidirectional integrations; not to the push.
                write_owner_changes(c, _without_push(self.rules), changed)

            self.write(record)
        # Objects whose owner HubSpot keeps: remember that HubSpot has it.
        kept = [o for o in objs if o.id not in wanted and o.id in hubspot_owners]
        if kept:
            self.save(kept, {o.id: hubspot_owners[o.id] for o in kept})

    # ------------------------------------------------------------ associations

    def send_association_changes(self, objs: Sequence[_Object]) -> None:
        pairs: list[tuple[str, str, str, str, list[int]]] = []
        for obj in objs:
            mine = self.ids.get((obj.kind, obj.id))
            if mine is None:
                continue
            for other in obj.others:
                other_hs = self.ids.get((push_store.RECORD, other))
                other_type = self.types.get(other)
                if other_hs is None or other_type is None:
                    continue  # the record's own create will carry the link
                primary = (
                    obj.kind == push_store.RECORD
                    and frozenset((obj.id, other)) in self.primary_pairs
                )
                forward = _type_ids(obj.type, other_type, primary)
                if forward:
                    pairs.append((obj.type, other_type, mine, other_hs, forward))
                elif reverse := _type_ids(other_type, obj.type, primary):
                    pairs.append((other_type, obj.type, other_hs, mine, reverse))
        self.send_links(pairs)

    def push_links(self) -> None:
        """Links added to objects that were not in this cycle's creates or updates."""
        pending = [
            o
            for o in self.objects.values()
            if o.changes == {"associated"} and (o.kind, o.id) in self.ids and o.row is not None
        ]
        self.send_association_changes(pending)

    def send_links(self, pairs: Sequence[tuple[str, str, str, str, list[int]]]) -> None:
        grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        seen: set[tuple[str, str, str, str]] = set()
        for from_type, to_type, from_id, to_id, type_ids in pairs:
            if (from_type, to_type, from_id, to_id) in seen:
                continue
            seen.add((from_type, to_type, from_id, to_id))
            grouped[(from_type, to_type)].append(
                {
                    "from": {"id": from_id},
                    "to": {"id": to_id},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}
                        for t in type_ids
                    ],
                }
            )
        requests = [
            (
                "POST",
                self.p.paths.association_batch(from_type, to_type, "create"),
                {"inputs": list(chunk)},
            )
            for (from_type, to_type), inputs in grouped.items()
            for chunk in _chunks(inputs, BATCH)
        ]
        for (_m, path, body), answer in zip(requests, self.send_all(requests), strict=True):
            errors = answer.body.get("errors") or []
            if not answer.ok and answer.status != 207:
                errors = [answer.body] * len(body["inputs"])
            self.result.associations += len(body["inputs"]) - len(errors)
            for error in errors[:5]:
                log.warning("HubSpot refused an association (%s): %s", path, error.get("message"))

    # ------------------------------------------------------------------ archive

    def archive(self, objs: Sequence[_Object]) -> None:
        for chunk in _typed_chunks(objs):
            answer = self.send(
                "POST",
                self.p.paths.batch(chunk[0].type, "archive"),
                {"inputs": [{"id": self.ids[(o.kind, o.id)]} for o in chunk]},
            )
            if answer.ok:
                self.result.archived += len(chunk)
                at = now_ts()
                rows = [
                    {
                        "kind": o.kind,
                        "local_id": o.id,
                        "object_type": o.type,
                        "hubspot_id": None,
                        "pushed_at": at,
                        "pushed_owner_id": None,
                        "create_sent_at": None,
                    }
                    for o in chunk
                ]
                self.write(partial(push_store.save_pushed, rows=rows))
            else:
                for o in chunk:
                    self.fail(o, "archive", answer, answer.body)

    # ------------------------------------------------------------------- results

    def save(
        self,
        objs: Sequence[_Object],
        owners: Mapping[int, str | None],
        *,
        owner_known: bool = True,
    ) -> None:
        """Record HubSpot ids (and the owner HubSpot now has) in one transaction; new records
        also get identities for the workspace's HubSpot integrations."""
        if not objs:
            return
        at = now_ts()
        rows = []
        identities = []
        for obj in objs:
            previous = (obj.pushed or {}).get("pushed_owner_id")
            owner = owners.get(obj.id, previous) if owner_known else previous
            hubspot_id = self.ids[(obj.kind, obj.id)]
            rows.append(
                {
                    "kind": obj.kind,
                    "local_id": obj.id,
                    "object_type": obj.type,
                    "hubspot_id": hubspot_id,
                    "pushed_at": at,
                    "pushed_owner_id": owner,
                    "create_sent_at": None,
                }
            )
            obj.pushed = {**(obj.pushed or {}), "pushed_owner_id": owner}
            if obj.kind == push_store.RECORD:
                for integration in self.hubspot_integrations:
                    identities.append(
                        {
                            "integration": integration,
                            "type": obj.type,
                            "external_id": hubspot_id,
                            "record_id": obj.id,
                        }
                    )
        kind = objs[0].kind
        keys = [o.id for o in objs if (kind, o.id) in self.open_failures]

        def record(c: Connection) -> None:
            push_store.save_pushed(c, rows)
            push_store.add_identities(c, identities)
            push_store.resolve_failures(c, kind, keys, at, "pushed")

        self.write(record)


# The HTTP status a refused input of a 207 answer stands for, by HubSpot's category.
_CATEGORY_STATUS = {"VALIDATION_ERROR": 400, "CONFLICT": 409, "OBJECT_NOT_FOUND": 404}


def _input_status(status: int, category: Any) -> int:
    if status >= 400:
        return status
    return _CATEGORY_STATUS.get(str(category), 400)


def _keys(objs: Iterable[_Object]) -> set[tuple[str, int]]:
    return {(o.kind, o.id) for o in objs}


def _type_ids(from_type: str, to_type: str, primary: bool) -> list[int]:
    base = association_type(from_type, to_type)
    if base is None:
        return []
    if primary:
        extra = association_type(from_type, to_type, primary=True)
        if extra is not None and extra != base:
            return [base, extra]
    return [base]


def _typed_chunks(objs: Sequence[_Object]) -> list[list[_Object]]:
    """Batches of up to 100 objects of one type each."""
    by_type: dict[str, list[_Object]] = defaultdict(list)
    for obj in objs:
        by_type[obj.type].append(obj)
    return [list(c) for group in by_type.values() for c in _chunks(group, BATCH)]


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _without_push(rules: WorkspaceRules) -> WorkspaceRules:
    """The rules with pushing off: HubSpot's own owner is not pushed back to it."""
    copy = WorkspaceRules(directory=rules.directory, integrations=rules.integrations, push=False)
    return copy
