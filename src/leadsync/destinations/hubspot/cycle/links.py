"""Associations: the links a create carries, the ones it cannot (HubSpot defines their type
only from the other side), and links added to objects HubSpot already has, sent through the v4
batch API.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from leadsync.destinations.hubspot.client import Answer
from leadsync.destinations.hubspot.cycle.results import ResultsMixin
from leadsync.destinations.hubspot.cycle.slice import BATCH, PushObject, in_chunks
from leadsync.destinations.hubspot.objects import association_type
from leadsync.store import push as push_store

log = logging.getLogger("leadsync.push")

# A link to make: from type, to type, from HubSpot id, to HubSpot id, association type ids,
# and the object whose change asks for it (a refusal is its push failure).
Pair = tuple[str, str, str, str, list[int], PushObject]


class LinksMixin(ResultsMixin):
    """Sending associations."""

    def create_associations(self, obj: PushObject) -> list[tuple[str, dict[str, Any]]]:
        """The links sent with a create, each with the counterpart's type: to every
        counterpart HubSpot has, where HubSpot defines the type from this side (the others
        follow through the v4 API)."""
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
            type_ids = association_type_ids(obj.type, other_type, primary)
            if type_ids:
                out.append(
                    (
                        other_type,
                        {
                            "to": {"id": other_hs},
                            "types": [
                                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}
                                for t in type_ids
                            ],
                        },
                    )
                )
        return out

    def made_with_create(self, obj: PushObject, counterparts: Sequence[tuple[str, str]]) -> None:
        """Count the links a create made (``counterparts``: their type and HubSpot id): an
        object is created with its links or not at all."""
        mine = self.ids[(obj.kind, obj.id)]
        for other_type, other_hs in counterparts:
            link = link_of(obj.type, mine, other_type, other_hs)
            if link not in self.linked:
                self.linked.add(link)
                self.result.associations += 1

    def late_links(self, created: Sequence[PushObject]) -> None:
        """Links of new objects to counterparts HubSpot has, that the create could not carry
        (HubSpot defines their type only from the other side, e.g. lead -> call)."""
        pairs: list[Pair] = []
        for obj in created:
            for other_kind, other_id, primary in self.links_of(obj):
                other_hs = self.ids.get((other_kind, other_id))
                other_type = self.other_type(other_kind, other_id)
                if other_hs is None or other_type is None:
                    continue
                if association_type_ids(obj.type, other_type, primary):
                    continue
                reverse = association_type_ids(other_type, obj.type, primary)
                if reverse:
                    mine = self.ids[(obj.kind, obj.id)]
                    pairs.append((other_type, obj.type, other_hs, mine, reverse, obj))
        self.send_links(pairs)

    def links_of_matched(self, objs: Sequence[PushObject]) -> None:
        """Every link of objects HubSpot had before we created them (a contact matched by
        its email, a company by its domain, a conflict naming the object) to counterparts
        HubSpot has. No create carried them: the one sent was refused, or none was; and
        activities pushed while the object had no HubSpot id (a call whose contact waited for
        its email) went without their link to it. HubSpot keeps a link once: sending one it
        has changes nothing."""
        pairs: list[Pair] = []
        for obj in objs:
            mine = self.ids.get((obj.kind, obj.id))
            if mine is None:
                continue
            for other_kind, other_id, primary in self.links_of(obj):
                other_hs = self.ids.get((other_kind, other_id))
                other_type = self.other_type(other_kind, other_id)
                if other_hs is None or other_type is None:
                    continue  # its own create carries the link
                if forward := association_type_ids(obj.type, other_type, primary):
                    pairs.append((obj.type, other_type, mine, other_hs, forward, obj))
                elif reverse := association_type_ids(other_type, obj.type, primary):
                    pairs.append((other_type, obj.type, other_hs, mine, reverse, obj))
        self.send_links(pairs)

    def send_association_changes(self, objs: Sequence[PushObject]) -> None:
        pairs: list[Pair] = []
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
                forward = association_type_ids(obj.type, other_type, primary)
                if forward:
                    pairs.append((obj.type, other_type, mine, other_hs, forward, obj))
                elif reverse := association_type_ids(other_type, obj.type, primary):
                    pairs.append((other_type, obj.type, other_hs, mine, reverse, obj))
        self.send_links(pairs)

    def push_links(self) -> None:
        """Links added to objects that were not in this cycle's creates or updates."""
        pending = [
            o
            for o in self.objects.values()
            if o.changes == {"associated"} and (o.kind, o.id) in self.ids and o.row is not None
        ]
        self.send_association_changes(pending)

    def send_links(self, pairs: Sequence[Pair]) -> None:
        """Make the links through the v4 batch API. One HubSpot does not make — refused, or
        left out of its answer — is a push failure of the object that asked for it (retried,
        it sends its links again); never a log line alone."""
        grouped: dict[tuple[str, str], list[tuple[dict[str, Any], PushObject]]]
        grouped = defaultdict(list)
        for from_type, to_type, from_id, to_id, type_ids, obj in pairs:
            link = link_of(from_type, from_id, to_type, to_id)
            if link in self.linked:
                continue  # made this cycle already: with a create, or from the other side
            self.linked.add(link)
            types = [
                {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t} for t in type_ids
            ]
            grouped[(from_type, to_type)].append(
                ({"from": {"id": from_id}, "to": {"id": to_id}, "types": types}, obj)
            )
        batches = [
            (from_type, to_type, list(chunk))
            for (from_type, to_type), inputs in grouped.items()
            for chunk in in_chunks(inputs, BATCH)
        ]
        requests = [
            (
                "POST",
                self.p.paths.association_batch(from_type, to_type, "create"),
                {"inputs": [inp for inp, _obj in chunk]},
            )
            for from_type, to_type, chunk in batches
        ]
        for (from_type, to_type, chunk), answer in zip(
            batches, self.send_all(requests), strict=True
        ):
            inputs = [inp for inp, _obj in chunk]
            made = set(range(len(chunk))) if self.p.dry_run else _links_made(answer, inputs)
            self.result.associations += len(made)
            for index, (inp, obj) in enumerate(chunk):
                if index not in made:
                    from_id, to_id = inp["from"]["id"], inp["to"]["id"]
                    error = _error_naming(answer, {from_id, to_id})
                    what = f"the link {from_type} {from_id} → {to_type} {to_id} (HubSpot ids)"
                    message = str(error.get("message") or answer.error_text())
                    self.fail(obj, "associate", answer, {**error, "message": f"{what}: {message}"})


def _links_made(answer: Answer, inputs: Sequence[Mapping[str, Any]]) -> set[int]:
    """The inputs HubSpot made, by their index: those its results name (a 201 or 207); all
    of a success that lists none; none of a refusal."""
    if not answer.ok and answer.status != 207:
        return set()
    results = answer.body.get("results")
    if results is None and answer.status != 207:
        return set(range(len(inputs)))
    pairs = {
        (str(r.get("fromObjectId")), str(r.get("toObjectId")))
        for r in results or []
        if isinstance(r, Mapping)
    }
    return {
        i for i, inp in enumerate(inputs) if (str(inp["from"]["id"]), str(inp["to"]["id"])) in pairs
    }


def _error_naming(answer: Answer, ids: set[str]) -> Mapping[str, Any]:
    """The error of the answer about these HubSpot ids (its context names one), else its only
    error, else one that says HubSpot said nothing about them."""
    errors = [e for e in answer.body.get("errors") or [] if isinstance(e, Mapping)]
    if not answer.ok and answer.status != 207 and not errors:
        errors = [answer.body]
    for error in errors:
        context = error.get("context") or {}
        named = {str(v) for values in context.values() if isinstance(values, list) for v in values}
        if named & ids:
            return error
    if len(errors) == 1:
        return errors[0]
    return {
        "message": f"HubSpot's answer ({answer.status}) neither lists it as made nor gives an "
        "error for it"
    }


def link_of(type_a: str, id_a: str, type_b: str, id_b: str) -> frozenset[tuple[str, str]]:
    """A link between two HubSpot objects, whichever side it is made from."""
    return frozenset(((type_a, id_a), (type_b, id_b)))


def association_type_ids(from_type: str, to_type: str, primary: bool) -> list[int]:
    base = association_type(from_type, to_type)
    if base is None:
        return []
    if primary:
        extra = association_type(from_type, to_type, primary=True)
        if extra is not None and extra != base:
            return [base, extra]
    return [base]
