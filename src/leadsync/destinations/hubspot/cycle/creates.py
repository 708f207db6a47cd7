"""Creates: objects whose create may have reached HubSpot before a crash are read back by
``leadsync_id`` (reconcile), companies HubSpot has already are found by domain (match), and
the rest are created with their associations; a conflict naming the existing object is a
match too. A free-mail or disposable domain (``rules.domains``) is a person's: no company is
found by it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.destinations.hubspot.client import Answer
from leadsync.destinations.hubspot.cycle.clears import Sent, create_values
from leadsync.destinations.hubspot.cycle.links import LinksMixin
from leadsync.destinations.hubspot.cycle.results import (
    refused_values,
    taken,
    untold_error,
    values_left_out,
)
from leadsync.destinations.hubspot.cycle.slice import (
    BATCH,
    PushObject,
    in_chunks,
    typed_chunks,
)
from leadsync.destinations.hubspot.objects import LEADSYNC_ID, OWNER_ASSIGNED, from_hubspot_time
from leadsync.model import now_ts
from leadsync.store import push as push_store
from leadsync.store import push_sent

SEARCH_GROUPS = 5  # filter groups in one search (HubSpot allows five)
SEARCH_PAGE = 200  # results in one page of a search (HubSpot's maximum)
EXISTING_ID = re.compile(r"Existing ID: ?(\d+)")


@dataclass
class CreateBatch:
    """One create request: its inputs, and what to read its answer with."""

    type: str
    path: str
    inputs: list[dict[str, Any]] = field(default_factory=list)
    by_lid: dict[str, PushObject] = field(default_factory=dict)
    owners: dict[int, str | None] = field(default_factory=dict)
    # The counterparts (type, HubSpot id) each create links to.
    links: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    # Whether its inputs were read back by leadsync_id already (a whole-batch conflict).
    read_back: bool = False


class CreatesMixin(LinksMixin):
    """Finding or creating the objects HubSpot does not know by id yet."""

    def reconcile(
        self, objs: Sequence[PushObject], owners: dict[int, str | None]
    ) -> list[PushObject]:
        """Objects whose create may have reached HubSpot before a crash: read by
        ``leadsync_id``; the found ones take their HubSpot id, the others are created."""
        suspects = [o for o in objs if o.pushed is not None and o.pushed.get("create_sent_at")]
        found: list[PushObject] = []
        for chunk in typed_chunks(suspects):
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
            self.save(
                found, owners, written=True, properties_sent=True
            )  # its own create, made before
        return found

    def match_existing(
        self, objs: Sequence[PushObject], owners: dict[int, str | None]
    ) -> list[PushObject]:
        """Companies HubSpot has already, by domain (a search; HubSpot does not keep domains
        unique, so a create would not say). Contacts need no read: HubSpot keeps emails
        unique and answers the create of a known email with the existing contact's id
        (``refused``), which is then matched like these. A company whose domain is a
        person's (gmail.com: ``rules.domains``) is not searched for: it is created like a
        company without a domain."""
        if not objs or objs[0].kind != push_store.RECORD:
            return []
        found: list[PushObject] = []
        if objs[0].type == "company":
            by_domain: dict[str, list[PushObject]] = defaultdict(list)
            for o in objs:
                domain = str(o.row.get("domain") or "") if o.row else ""
                if domain and self.rules.domains.personal(domain) is None:
                    by_domain[domain.lower()].append(o)
            # One search asks for up to 500 domains (5 filter groups, OR-ed, of an IN with
            # 100 values), paged: HubSpot answers at most 200 results a page.
            domains = sorted(by_domain)
            for chunk in in_chunks(domains, SEARCH_GROUPS * BATCH):
                groups = [
                    {"filters": [{"propertyName": "domain", "operator": "IN", "values": list(g)}]}
                    for g in in_chunks(chunk, BATCH)
                ]
                wanted = ["domain", "hubspot_owner_id", OWNER_ASSIGNED]
                for item in self.search_all("company", groups, wanted):
                    props = item.get("properties") or {}
                    for obj in by_domain.pop(str(props.get("domain") or "").lower(), []):
                        self.ids[(obj.kind, obj.id)] = str(item["id"])
                        owners[obj.id] = props.get("hubspot_owner_id") or None
                        self.owner_assigned[obj.id] = from_hubspot_time(props.get(OWNER_ASSIGNED))
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

    def create(self, objs: Sequence[PushObject], hubspot_owners: dict[int, str | None]) -> None:
        """Create objects (one kind, any types) with their associations, batches of one type
        in flight together."""
        if not objs:
            return
        intents = {o.id: o.type for o in objs}
        # The values each record's or activity's create carries, unconfirmed until HubSpot's
        # answer is recorded (cycle.clears): committed with the intent to create.
        sent_intents: list[dict[str, Any]] = []
        for obj in objs:
            if obj.row is not None:
                sent = Sent.of(obj.pushed)
                sent.intend(create_values(obj.row))
                sent.keep(obj)
                sent_intents.append(
                    {"kind": obj.kind, "local_id": obj.id, "object_type": obj.type} | sent.columns()
                )
        at = now_ts()

        def mark(c: Connection) -> None:
            push_store.mark_create_sent(c, objs[0].kind, intents, at)
            push_sent.mark_properties_sent(c, sent_intents)

        self.write(mark)
        batches: list[CreateBatch] = []
        created: list[PushObject] = []

        def requests() -> Iterator[tuple[str, str, Any]]:
            # Built as slots free up: the first batch leaves before the last is built.
            for chunk in typed_chunks(objs):
                batch = self.create_batch(chunk)
                if batch is not None:
                    batches.append(batch)
                    yield ("POST", batch.path, {"inputs": batch.inputs})

        def handle(index: int, answer: Answer) -> None:
            created.extend(self.handle_create(batches[index], answer, hubspot_owners))

        self.send_each(requests(), handle)
        self.late_links(created)

    def create_batch(self, chunk: list[PushObject]) -> CreateBatch | None:
        """The create request of up to 100 objects of one type (None: nothing to send)."""
        batch = CreateBatch(chunk[0].type, self.p.paths.batch(chunk[0].type, "create"))
        for obj in chunk:
            left_out = self.left_out.get((obj.kind, obj.id), set())
            props = {k: v for k, v in self.properties(obj).items() if k not in left_out}
            owner = self.owner_to_write(obj)
            if owner is not None:
                props["hubspot_owner_id"] = owner
            batch.owners[obj.id] = owner
            lid = self.lid(obj)
            links = self.create_associations(obj)
            associations = [association for _type, association in links]
            if obj.type == "lead" and not associations:
                self.not_sent(
                    obj,
                    "create",
                    "a lead needs a contact in HubSpot (HubSpot requires leads to be "
                    "associated with a contact); this lead has none yet",
                )
                continue
            batch.by_lid[lid] = obj
            batch.links[obj.id] = [(t, a["to"]["id"]) for t, a in links]
            batch.inputs.append(
                {"properties": props, "associations": associations, "objectWriteTraceId": lid}
            )
        return batch if batch.inputs else None

    def handle_create(
        self, batch: CreateBatch, answer: Answer, hubspot_owners: dict[int, str | None]
    ) -> list[PushObject]:
        """Record what HubSpot created; refused inputs become failures (or matches)."""
        if not answer.ok and answer.status != 207:
            chunk = list(batch.by_lid.values())
            if len(chunk) == 1:
                return self.refused(chunk[0], "create", answer, answer.body, hubspot_owners)
            if (answer.status == 409 or taken(answer.body, LEADSYNC_ID)) and not batch.read_back:
                # HubSpot answers a whole batch with one conflict (a 409 naming one existing
                # object, or a unique value taken: our leadsync_id): most likely this create
                # was resent after its first answer was lost, and HubSpot made them all
                # then. One read by leadsync_id finds what it made (halving would cost
                # 2n - 1 requests, every one an error answer); the rest is sent again.
                made = self.made_before(batch)
                if made:  # (none made: the same batch would conflict again — halves)
                    created = self.record_created(batch, made, hubspot_owners)
                    rest = [o for o in chunk if o not in made]
                    return created + self.create_again(rest, hubspot_owners, halves=False)
            # The whole batch was refused: find the input at fault by halves.
            return self.create_again(chunk, hubspot_owners, halves=True)
        created = []
        again: list[PushObject] = []  # created by a create sent again without a value
        told: set[str] = set()  # the inputs the answer names, by trace id
        for item in answer.body.get("results") or []:
            trace = item.get("objectWriteTraceId") or (item.get("properties") or {}).get(
                LEADSYNC_ID
            )
            done = batch.by_lid.get(str(trace))
            if done is None:
                continue
            told.add(str(trace))
            self.ids[(done.kind, done.id)] = str(item["id"])
            self.created_now.add((done.kind, done.id))
            created.append(done)
        untraced = []
        clashes: dict[str, Mapping[str, Any]] = {}  # our leadsync_id taken, by trace id
        for error in answer.body.get("errors") or []:
            context = error.get("context") or {}
            traces = [str(t) for t in context.get("objectWriteTraceId") or []]
            if not any(t in batch.by_lid for t in traces):
                untraced.append(error)
            for trace in traces:
                bad = batch.by_lid.get(trace)
                if bad is not None:
                    told.add(trace)
                    if taken(error, LEADSYNC_ID):
                        clashes[trace] = error
                    else:
                        again += self.refused(bad, "create", answer, error, hubspot_owners)
        # Inputs HubSpot holds already under our leadsync_id (made by a create whose answer
        # was lost): read back together, each matched.
        found = self.found_by_lid(batch.type, clashes) if clashes else {}
        for trace, error in clashes.items():
            if trace in found:
                self.match(batch.by_lid[trace], found[trace])
            else:
                again += self.refused(
                    batch.by_lid[trace], "create", answer, error, hubspot_owners, look_up=False
                )
        # An input the answer names neither among the created nor the refused (an error
        # whose context names no input): its one such error, else a failure saying so — its
        # retry looks it up by leadsync_id first, so one HubSpot did create is not made twice.
        untold = [] if self.p.dry_run else [o for i, o in batch.by_lid.items() if i not in told]
        for obj in untold:
            error = untraced[0] if len(untold) == len(untraced) == 1 else untold_error(answer)
            again += self.refused(obj, "create", answer, error, hubspot_owners)
        return self.record_created(batch, created, hubspot_owners) + again

    def record_created(
        self, batch: CreateBatch, created: list[PushObject], hubspot_owners: dict[int, str | None]
    ) -> list[PushObject]:
        """Keep what a create of ``batch`` made (their HubSpot ids are in ``self.ids``)."""
        for obj in created:
            self.result.count(self.result.created, obj.type)
            self.made_with_create(obj, batch.links[obj.id])
            hubspot_owners[obj.id] = batch.owners[obj.id]
            if obj.row is not None:
                # This create made the object: it holds what the create carried, nothing
                # of an earlier attempt (that one would have been found, or refused this),
                # nor the values it was sent again without.
                left_out = self.left_out.get((obj.kind, obj.id), set())
                carried = {k: v for k, v in create_values(obj.row).items() if k not in left_out}
                Sent(confirmed=carried).keep(obj)
        self.save(created, hubspot_owners, written=True, properties_sent=True)
        return created

    def made_before(self, batch: CreateBatch) -> list[PushObject]:
        """The objects of ``batch`` HubSpot holds already under their leadsync_id (one
        batch read), their HubSpot ids taken."""
        found = self.found_by_lid(batch.type, batch.by_lid)
        for lid, hubspot_id in found.items():
            obj = batch.by_lid[lid]
            self.ids[(obj.kind, obj.id)] = hubspot_id
            self.created_now.add((obj.kind, obj.id))
        return [batch.by_lid[lid] for lid in found]

    def found_by_lid(self, type_: str, lids: Iterable[str]) -> dict[str, str]:
        """The HubSpot ids of the objects HubSpot holds under these leadsync_ids, by
        leadsync_id (one batch read)."""
        wanted = list(lids)
        answer = self.send(
            "POST",
            self.p.paths.batch(type_, "read"),
            {
                "inputs": [{"id": lid} for lid in wanted],
                "idProperty": LEADSYNC_ID,
                "properties": [LEADSYNC_ID],
            },
        )
        found: dict[str, str] = {}
        for item in answer.body.get("results") or []:
            lid = str((item.get("properties") or {}).get(LEADSYNC_ID))
            if lid in wanted:
                found.setdefault(lid, str(item["id"]))
        return found

    def create_again(
        self, objs: list[PushObject], hubspot_owners: dict[int, str | None], *, halves: bool
    ) -> list[PushObject]:
        """Send the creates of ``objs`` again: in one batch, or (``halves``) in two, to find
        the input at fault. Neither is read back by leadsync_id again."""
        parts = [objs[: len(objs) // 2], objs[len(objs) // 2 :]] if halves else [objs]
        created: list[PushObject] = []
        for part in parts:
            sub = self.create_batch(part) if part else None
            if sub is not None:
                sub.read_back = True
                answer = self.send("POST", sub.path, {"inputs": sub.inputs})
                created += self.handle_create(sub, answer, hubspot_owners)
        return created

    def refused(
        self,
        obj: PushObject,
        operation: str,
        answer: Answer,
        error: Mapping[str, Any],
        hubspot_owners: dict[int, str | None],
        *,
        look_up: bool = True,
    ) -> list[PushObject]:
        """An input HubSpot refused. A conflict naming the existing object (the contact's
        email, or our own leadsync_id) is that object: matched, then updated; so is our
        leadsync_id refused as a unique value taken (CONFLICTING_UNIQUE_VALUE, which names
        no object: read back by it, unless ``look_up`` is False — the caller read it back and
        HubSpot holds none). A create refused for one of its values is sent again
        without it (:meth:`created_without`). Returns what a create sent again made."""
        match = EXISTING_ID.search(str(error.get("message") or ""))
        existing = match.group(1) if match is not None else None
        if existing is None and look_up and operation == "create" and taken(error, LEADSYNC_ID):
            # Ours, made by a create whose answer was lost (or by an attempt before a
            # crash): found by the id we gave it.
            existing = self.found_by_lid(obj.type, [self.lid(obj)]).get(self.lid(obj))
        if existing is not None and operation == "create":
            self.match(obj, existing)
            return []
        if operation == "create":
            made = self.created_without(obj, error, hubspot_owners)
            if made is not None:
                return made
        self.fail(obj, operation, answer, error)
        return []

    def match(self, obj: PushObject, hubspot_id: str) -> None:
        """``obj``'s create met the object HubSpot holds already: that one is ``obj``."""
        # Not saved yet: the id is recorded with the owner HubSpot has, once compared.
        # Saved now, without an owner, a crash before that comparison would leave this
        # HubSpot owner looking like a person's change (and it may be our own create
        # whose answer was lost: after a crash, reconcile finds it by leadsync_id).
        self.ids[(obj.kind, obj.id)] = hubspot_id
        self.matched.add((obj.kind, obj.id))
        self.result.count(self.result.matched, obj.type)

    def created_without(
        self, obj: PushObject, error: Mapping[str, Any], hubspot_owners: dict[int, str | None]
    ) -> list[PushObject] | None:
        """A create HubSpot refused for values it does not take (a VALIDATION_ERROR naming
        the properties: an invalid email, number, date, option), sent again without them —
        so that the record, its owner and its activities' links are not held back by one
        value — and the values reported (once) while the record holds them; every later
        change sends them again, as an update refused for a value does
        (:meth:`.updates.UpdatesMixin.sent_without`). Not the owner (an owner HubSpot does
        not know is the create's failure), and once only: a create refused again without
        them is a failure. None: not such a refusal."""
        key = (obj.kind, obj.id)
        values = refused_values(error)
        assert obj.row is not None
        props = self.properties(obj)
        if (
            not values
            or key in self.left_out
            or not values.keys() <= props.keys()
            or values.keys() & {"hubspot_owner_id", LEADSYNC_ID}
        ):
            return None
        self.left_out[key] = set(values)
        held = self.value_held.setdefault(key, set())
        held.add(push_store.VALUE_REFUSED)
        made = self.create_again([obj], hubspot_owners, halves=False)
        if made:
            message = values_left_out(obj.type, self.ids[key], props, values)
            self.report(obj, "create", push_store.VALUE_REFUSED, message)
        else:
            held.discard(push_store.VALUE_REFUSED)
        return made
