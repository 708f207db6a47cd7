"""Updates and archives of objects HubSpot has: the properties that changed and the owner to
write (compared first where it must be), in batches of 100 of one type, several in flight; a
refused batch is halved until the input at fault is found.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy.engine import Connection

from leadsync.destinations.hubspot.client import Answer
from leadsync.destinations.hubspot.cycle.clears import ClearsMixin, Sent, decide, written
from leadsync.destinations.hubspot.cycle.creates import EXISTING_ID
from leadsync.destinations.hubspot.cycle.links import LinksMixin
from leadsync.destinations.hubspot.cycle.owners import OwnersMixin
from leadsync.destinations.hubspot.cycle.results import (
    refused_values,
    untold_error,
    values_left_out,
)
from leadsync.destinations.hubspot.cycle.slice import (
    BATCH,
    PushObject,
    in_chunks,
    typed_chunks,
)
from leadsync.destinations.hubspot.objects import LEADSYNC_ID
from leadsync.model import Strategy, now_ts
from leadsync.store import push as push_store
from leadsync.store import push_sent

# The strategies under which HubSpot's owner may stand: compared before ours is written.
CAS_STRATEGIES = frozenset(
    {Strategy.FILL_IF_EMPTY, Strategy.NEVER_OVERWRITE, Strategy.BIDIRECTIONAL}
)


class UpdatesMixin(OwnersMixin, LinksMixin, ClearsMixin):
    """Sending what changed to objects HubSpot has, and archiving removed ones."""

    def update(
        self,
        objs: Sequence[PushObject],
        hubspot_owners: dict[int, str | None],
        matched: set[tuple[str, int]],
    ) -> None:
        if not objs:
            return
        objs = [o for o in objs if o.row is not None]
        # Owners to write, and which need HubSpot's current owner first.
        wanted: dict[int, str | None] = {}
        check: list[PushObject] = []
        for obj in objs:
            assert obj.row is not None
            if obj.kind != push_store.RECORD:
                continue
            source = obj.row.get("owner_source")
            owner = obj.row.get("owner_id")
            pushed = obj.pushed or {}
            last = pushed.get("pushed_owner_id")
            # HubSpot has ``last`` unless a write is unconfirmed or HubSpot kept another's
            in_doubt = (
                pushed.get("owner_sent_at") is not None
                or pushed.get("followed_owner_id") is not None
            )
            if source in self.hubspot_integrations:
                continue  # HubSpot's own change: HubSpot has it
            key = (obj.kind, obj.id)
            if key not in matched and owner == last and not in_doubt:
                continue
            strategy = self.owner_source_strategy(obj)
            if key in matched or (strategy is not None and strategy in CAS_STRATEGIES):
                check.append(obj)
            wanted[obj.id] = owner
        if check:
            self.compare_owners(check, hubspot_owners, wanted, matched)
        # Every property goes with an owner-only change of a matched object, and of one with
        # an open failure: a refused update's values go again with the next change.
        full = [
            o
            for o in objs
            if not (
                o.changes <= {"owner", "associated"}
                and (o.kind, o.id) not in matched
                and (o.kind, o.id) not in self.open_failures
            )
        ]
        hubspot_values = self.read_doubtful(full)
        props_of: dict[int, dict[str, str]] = {}
        sent_intents: list[dict[str, Any]] = []
        for obj in full:
            before = Sent.of(obj.pushed).columns()
            props_of[obj.id] = self.update_properties(obj, hubspot_values.get(obj.id))
            after = Sent.of(obj.pushed).columns()
            if after != before:
                sent_intents.append(
                    {"kind": obj.kind, "local_id": obj.id, "object_type": obj.type} | after
                )
        # The owners and the properties about to be written, committed before they leave.
        intents = {i: o for i, o in wanted.items()}
        if intents or sent_intents:
            at = now_ts()

            def mark(c: Connection) -> None:
                push_store.mark_owner_sent(c, intents, at)
                push_sent.mark_properties_sent(c, sent_intents)

            self.write(mark)
        inputs_by_type: dict[str, list[tuple[PushObject, dict[str, Any]]]] = defaultdict(list)
        for obj in objs:
            props: dict[str, str] = dict(props_of.get(obj.id, {}))
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
            for chunk in in_chunks(items, BATCH)
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

    def update_properties(
        self, obj: PushObject, hubspot: Mapping[str, Any] | None = None
    ) -> dict[str, str]:
        """What an update sends of an object HubSpot has (a record or an activity): its
        properties, and ``""`` for each property it holds empty where the value in HubSpot is
        leadsync's own (:func:`.clears.decide`; ``hubspot``: HubSpot's values read where an
        unconfirmed write leaves it in doubt). The object's push row, as the cycle holds it,
        records the write as sent, not yet confirmed. The owner is not among them
        (:meth:`update` adds it under the owner rules)."""
        props = self.properties(obj)
        assert obj.row is not None
        sent = Sent.of(obj.pushed)
        props.update(decide(obj.row, sent, hubspot))
        sent.intend(written(obj.row, props))
        sent.keep(obj)
        return props

    def handle_update(
        self,
        object_type: str,
        chunk: list[tuple[PushObject, dict[str, Any]]],
        wanted: Mapping[int, str | None],
        answer: Answer,
    ) -> None:
        by_hs = {self.ids[(o.kind, o.id)]: o for o, _ in chunk}
        props_of = {id(o): p for o, p in chunk}
        refused: set[str] = set()
        for error in answer.body.get("errors") or []:
            for hs in (error.get("context") or {}).get("ids") or []:
                obj = by_hs.get(str(hs))
                if obj is not None:
                    refused.add(str(hs))
                    if not self.sent_without(obj, props_of[id(obj)], error, wanted):
                        self.fail(obj, "update", answer, error)
        if not answer.ok and answer.status != 207:
            if len(chunk) == 1:
                obj, props = chunk[0]
                if not self.sent_without(obj, props, answer.body, wanted):
                    self.fail(obj, "update", answer, answer.body)
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
        results = answer.body.get("results")
        # Done: those the answer names (a dry run's answers name nothing: all of them).
        if not self.p.dry_run and (results is not None or answer.status == 207):
            named = {str(r.get("id")) for r in results or [] if isinstance(r, Mapping)}
            for hs, obj in by_hs.items():
                if hs not in named and hs not in refused:
                    refused.add(hs)
                    self.fail(obj, "update", answer, untold_error(answer))
        done = [o for hs, o in by_hs.items() if hs not in refused]
        sent_props = {id(o): p for o, p in chunk}
        owners: dict[int, str | None] = {}
        for obj in done:
            self.result.count(self.result.updated, obj.type)
            if obj.row is not None:
                # HubSpot applied the write: its values are leadsync's there, its clears
                # leave nothing of leadsync's (recorded with the save, one transaction).
                sent = Sent.of(obj.pushed)
                sent.confirm(written(obj.row, sent_props[id(obj)]))
                sent.keep(obj)
            if obj.id in wanted:
                owners[obj.id] = wanted[obj.id]
        self.save(done, owners, owner_known=bool(owners), written=True, properties_sent=True)

    def sent_without(
        self,
        obj: PushObject,
        props: Mapping[str, Any],
        error: Mapping[str, Any],
        wanted: Mapping[int, str | None],
    ) -> bool:
        """An update HubSpot refused for one of its values, sent again without it — so that
        the owner and the other values are not held back by it, every later update sending
        it again — and the value reported (once) while the record holds it. Two refusals:
        the email another contact holds (409, "Existing ID: N": HubSpot keeps an email on one
        contact only), and a value HubSpot does not take (VALIDATION_ERROR naming the
        property: an invalid email, number, date, option). Not the owner (an owner HubSpot
        does not know is the update's failure) nor a property the portal lacks (`hubspot
        setup` makes it). False: not such a refusal, or nothing else to send."""
        mine = self.ids[(obj.kind, obj.id)]
        match = EXISTING_ID.search(str(error.get("message") or ""))
        if (
            obj.type == "contact"
            and "email" in props
            and str(error.get("category")) == "CONFLICT"
            and match is not None
            and match.group(1) != mine
        ):
            category = push_store.EMAIL_TAKEN
            message = (
                f"email {props['email']} is HubSpot contact {match.group(1)}'s, and HubSpot "
                f"keeps an email on one contact only: contact {mine} was updated without it. "
                "Merge the two contacts in HubSpot (or correct the email at its source); the "
                "next change sends it"
            )
            left_out = {"email"}
        else:
            values = refused_values(error)
            if not values or not values.keys() <= props.keys() or "hubspot_owner_id" in values:
                return False
            category = push_store.VALUE_REFUSED
            message = values_left_out(obj.type, mine, props, values)
            left_out = set(values)
        rest = {name: value for name, value in props.items() if name not in left_out}
        if not rest.keys() - {LEADSYNC_ID}:
            return False
        self.value_held.setdefault((obj.kind, obj.id), set()).add(category)
        answer = self.send(
            "POST",
            self.p.paths.batch(obj.type, "update"),
            {"inputs": [{"id": mine, "properties": rest}]},
        )
        self.handle_update(obj.type, [(obj, rest)], wanted, answer)
        if (obj.kind, obj.id) not in self.failed:
            self.report(obj, "update", category, message)
        return True

    def archive(self, objs: Sequence[PushObject]) -> None:
        for chunk in typed_chunks(objs):
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
                        "followed_owner_id": None,
                        "create_sent_at": None,
                    }
                    for o in chunk
                ]
                self.write(partial(push_store.save_pushed, rows=rows))
            else:
                for o in chunk:
                    self.fail(o, "archive", answer, answer.body)
