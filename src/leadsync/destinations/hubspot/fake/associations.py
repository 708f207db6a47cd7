"""Associations: links stored once per pair in their canonical direction, one primary per
object, the v4 batch create and read endpoints, and the checks of a create's associations.
"""

from __future__ import annotations

from typing import Any

from leadsync.destinations.hubspot.fake.catalog import (
    DIRECTED,
    LABELS,
    LEAD_PRIMARY_CONTACT,
    OBJECT_TYPE_IDS,
    PRIMARY_IMPLIES,
    SINGULAR,
    UNLABELLED_WITH_PRIMARY,
)
from leadsync.destinations.hubspot.fake.core import DoubleCore
from leadsync.destinations.hubspot.fake.state import Answer, InputError, Link, iso_time


class AssociationsMixin(DoubleCore):
    """Links between objects and the association endpoints."""

    def association_count(self, type_a: str | None = None, type_b: str | None = None) -> int:
        """How many distinct pairs of live objects are associated (a pair linked with a
        primary and an unlabelled type counts once), optionally between two types only."""
        with self._lock:
            pairs = set()
            for links in self._links.values():
                for link in links:
                    ends = {link.from_type, link.to_type}
                    if type_a is not None and type_a not in ends:
                        continue
                    if type_b is not None and ends != {type_a, type_b}:
                        continue
                    if self._live(link.from_type, link.from_id) and self._live(
                        link.to_type, link.to_id
                    ):
                        pairs.add((link.from_type, link.from_id, link.to_type, link.to_id))
            return len(pairs)

    def _check_create_associations(
        self, object_type: str, associations: list[dict[str, Any]]
    ) -> InputError | None:
        """What is wrong with a create input's associations (None: nothing). Assumed wording."""
        primary_contact = False
        for assoc in associations:
            to_id = assoc["to"]["id"]
            for spec in assoc["types"]:
                type_id = spec["associationTypeId"]
                ends = DIRECTED.get(type_id)
                if (
                    spec["associationCategory"] != "HUBSPOT_DEFINED"
                    or ends is None
                    or ends[0] != object_type
                ):
                    return InputError(
                        400,
                        "VALIDATION_ERROR",
                        f"{spec['associationCategory']} association type {type_id} is not valid "
                        f"from {object_type}",
                    )
                if self._live(ends[1], to_id) is None:
                    return InputError(
                        400,
                        "VALIDATION_ERROR",
                        f"Cannot associate to {SINGULAR[ends[1]]} {to_id} (association type "
                        f"{type_id}): the object does not exist",
                    )
                primary_contact = primary_contact or type_id == LEAD_PRIMARY_CONTACT
        if object_type == "leads" and not primary_contact:
            return InputError(
                400,
                "VALIDATION_ERROR",
                "A lead must be associated with an existing contact "
                f"(association type {LEAD_PRIMARY_CONTACT}, lead to primary contact)",
            )
        return None

    def _link(self, from_type: str, from_id: str, to_id: str, type_id: int) -> None:
        link = Link.make(from_type, from_id, to_id, type_id)
        if link.type_id in PRIMARY_IMPLIES:  # one primary per object: replace the old one
            for old in list(self._links.get((link.from_type, link.from_id), ())):
                same_side = (old.from_type, old.from_id) == (link.from_type, link.from_id)
                if same_side and old.type_id == link.type_id and old != link:
                    self._unlink(old)
            self._add_link(
                Link(
                    link.from_type,
                    link.from_id,
                    link.to_type,
                    link.to_id,
                    PRIMARY_IMPLIES[link.type_id],
                )
            )
        self._add_link(link)

    def _add_link(self, link: Link) -> None:
        self._links.setdefault((link.from_type, link.from_id), set()).add(link)
        self._links.setdefault((link.to_type, link.to_id), set()).add(link)

    def _unlink(self, link: Link) -> None:
        self._links.get((link.from_type, link.from_id), set()).discard(link)
        self._links.get((link.to_type, link.to_id), set()).discard(link)

    def _associated(self, object_type: str, object_id: str) -> dict[str, dict[str, list[int]]]:
        """Live associated objects: other type -> other id -> type ids seen from this object."""
        out: dict[str, dict[str, list[int]]] = {}
        for link in self._links.get((object_type, object_id), ()):
            other_type, other_id, type_id = link.seen_from(object_type, object_id)
            if self._live(other_type, other_id) is not None:
                out.setdefault(other_type, {}).setdefault(other_id, []).append(type_id)
        for by_id in out.values():
            for ids in by_id.values():
                ids.sort()
        return out

    def _associate(self, from_type: str, to_type: str, inputs: list[dict[str, Any]]) -> Answer:
        """v4 batch create: a set, so an association made twice is there once. Assumed wording
        of the per-input errors."""
        started = iso_time(self._wall_clock())
        results, errors = [], []
        for inp in inputs:
            from_id, to_id = inp["from"]["id"], inp["to"]["id"]
            wrong = [
                spec
                for spec in inp["types"]
                if spec["associationCategory"] != "HUBSPOT_DEFINED"
                or DIRECTED.get(spec["associationTypeId"]) != (from_type, to_type)
            ]
            absent = [
                (t, i) for t, i in ((from_type, from_id), (to_type, to_id)) if not self._live(t, i)
            ]
            if wrong:
                spec = wrong[0]
                type_id = spec["associationTypeId"]
                error = InputError(
                    400,
                    "VALIDATION_ERROR",
                    f"{spec['associationCategory']} association type {type_id} is not valid "
                    f"from {from_type} to {to_type}",
                )
                errors.append(error.for_input({"associationTypeId": [str(type_id)]}))
                continue
            if absent:
                named = " and ".join(f"{SINGULAR[t]} {i}" for t, i in absent)
                error = InputError(400, "VALIDATION_ERROR", f"Cannot associate: no {named}")
                errors.append(error.for_input({"ids": [i for _, i in absent]}))
                continue
            rate = self._faults.link_refusal_rate
            if rate and self._random.random() < rate:
                error = InputError(
                    400,
                    "VALIDATION_ERROR",
                    "The stand-in refused this link on purpose (link_refusal_rate); the others "
                    "were made.",
                )
                errors.append(error.for_input({"ids": [from_id, to_id]}))
                continue
            labels = []
            for spec in inp["types"]:
                self._link(from_type, from_id, to_id, spec["associationTypeId"])
                label = LABELS[spec["associationTypeId"]]
                if label:
                    labels.append(label)
            results.append(
                {
                    "fromObjectTypeId": OBJECT_TYPE_IDS[from_type],
                    "fromObjectId": int(from_id),
                    "toObjectTypeId": OBJECT_TYPE_IDS[to_type],
                    "toObjectId": int(to_id),
                    "labels": labels,
                }
            )
        return self._batch_answer(201, started, results, errors)

    def _read_associations(
        self, from_type: str, to_type: str, inputs: list[dict[str, Any]]
    ) -> Answer:
        """Assumed: an existing object with no associations of that type is left out of the
        results (no error); an unknown one is an OBJECT_NOT_FOUND error."""
        started = iso_time(self._wall_clock())
        results, missing = [], []
        for object_id in dict.fromkeys(i["id"] for i in inputs):
            if self._live(from_type, object_id) is None:
                missing.append(object_id)
                continue
            associated = self._associated(from_type, object_id).get(to_type, {})
            if not associated:
                continue
            results.append(
                {
                    "from": {"id": object_id},
                    "to": [
                        {
                            "toObjectId": int(other_id),
                            "associationTypes": [
                                {"category": "HUBSPOT_DEFINED", "typeId": t, "label": LABELS[t]}
                                for t in type_ids
                            ],
                        }
                        for other_id, type_ids in sorted(associated.items(), key=id_order)
                    ],
                }
            )
        errors = []
        if missing:
            errors.append(
                InputError(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"No {SINGULAR[from_type]} with these ids: {', '.join(missing)}",
                ).for_input({"ids": missing})
            )
        return self._batch_answer(200, started, results, errors)


def id_order(item: tuple[str, Any]) -> int:
    """Sort key of ``(id, ...)`` items: HubSpot ids in number order."""
    return int(item[0]) if item[0].isdigit() else 0


def v3_type_name(type_id: int) -> str:
    """HubSpot's v3 name of an association type (``contact_to_company[_unlabeled]``)."""
    from_type, to_type = DIRECTED[type_id]
    name = f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}"
    return name + "_unlabeled" if type_id in UNLABELLED_WITH_PRIMARY else name
