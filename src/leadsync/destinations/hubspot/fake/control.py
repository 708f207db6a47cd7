"""Seeding, inspection and control: what tests and the demo do to the double directly (add or
change objects as a person in HubSpot would; read objects with their owner and associations,
duplicates, statistics, contract violations) and the ``/_double/*`` endpoints that offer the
same over HTTP, with faults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from leadsync.destinations.hubspot.fake.associations import id_order
from leadsync.destinations.hubspot.fake.catalog import CREATED_PROPERTY, MERGED_IDS, SINGULAR
from leadsync.destinations.hubspot.fake.core import unique_key
from leadsync.destinations.hubspot.fake.owners import OwnersMixin
from leadsync.destinations.hubspot.fake.reads import ReadsMixin
from leadsync.destinations.hubspot.fake.state import Answer, StoredObject
from leadsync.destinations.hubspot.fake.writes import WritesMixin


class ControlMixin(WritesMixin, ReadsMixin, OwnersMixin):
    """Inspection, seeding and the control endpoints."""

    def add_object(
        self,
        object_type: str,
        properties: Mapping[str, str],
        *,
        associations: Iterable[tuple[str, int]] = (),
    ) -> str:
        """Add an object that exists in HubSpot already (e.g. a contact leadsync should match
        rather than duplicate); ``associations`` are (to id, type id from this object). The
        same rules as the API apply; a broken one raises ValueError. Returns the new id."""
        with self._lock:
            self._defs(object_type)
            assoc = [
                {
                    "to": {"id": to_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t}],
                }
                for to_id, t in associations
            ]
            staged: dict[tuple[str, str], dict[str, str]] = {}
            new_id = self._take_id()
            error = self._check_write(object_type, dict(properties), None, staged, new_id)
            error = error or self._check_create_associations(object_type, assoc)
            if error:
                raise ValueError(f"cannot add to {object_type}: {error.message}")
            self._store_new(object_type, new_id, dict(properties), assoc)
            return new_id

    def update_object(
        self, object_type: str, object_id: str, properties: Mapping[str, str]
    ) -> dict[str, Any]:
        """Change properties as a person in HubSpot would (e.g. reassign the owner between a
        read and a write, for compare-and-set tests). ValueError if a rule is broken."""
        with self._lock:
            obj = self._live(object_type, object_id)
            if obj is None:
                raise KeyError(f"no {SINGULAR.get(object_type, object_type)} {object_id}")
            error = self._check_write(object_type, dict(properties), obj, {}, obj.id)
            if error:
                raise ValueError(f"cannot update {object_type} {object_id}: {error.message}")
            self._apply_update(obj, dict(properties))
            return self._view(obj)

    def archive_object(self, object_type: str, object_id: str) -> None:
        """Archive (delete) an object as a person in HubSpot would: reads, updates and links
        no longer find it (KeyError: no such live object)."""
        with self._lock:
            if self._live(object_type, object_id) is None:
                raise KeyError(f"no {SINGULAR.get(object_type, object_type)} {object_id}")
        self._batch_archive(self._clock(), object_type, [{"id": object_id}])

    def merge_objects(self, object_type: str, primary_id: str, merged_id: str) -> str:
        """Merge ``merged_id`` into ``primary_id`` as a person in HubSpot does (contacts and
        companies, since HubSpot's change of merges): a new object with a new id holds both —
        the primary's values over the other's, the associations of both, and
        ``hs_merged_object_ids`` naming the ids merged — and both are archived; a read of
        either old id returns the new object under its new id, a write to one finds
        nothing. KeyError: no such live object. Returns the new id."""
        with self._lock:
            primary = self._live(object_type, primary_id)
            other = self._live(object_type, merged_id)
            if primary is None or other is None or primary is other:
                raise KeyError(f"cannot merge {object_type} {merged_id} into {primary_id}")
            props = {k: v for k, v in other.properties.items() if v}
            props |= {k: v for k, v in primary.properties.items() if v}
            before = [
                i for o in (primary, other) for i in o.properties.get(MERGED_IDS, "").split(";")
            ]
            props[MERGED_IDS] = ";".join(
                dict.fromkeys([*filter(None, before), primary_id, merged_id])
            )
            for name in ("hs_object_id", CREATED_PROPERTY[object_type]):
                props.pop(name, None)
            links = [
                link.seen_from(object_type, old.id)
                for old in (primary, other)
                for link in self._links.get((object_type, old.id), ())
            ]
        self._batch_archive(self._clock(), object_type, [{"id": primary_id}, {"id": merged_id}])
        with self._lock:
            new_id = self._take_id()
            self._store_new(object_type, new_id, props, [])
            for _other_type, other_id, type_id in links:
                if other_id not in (primary_id, merged_id):
                    self._link(object_type, new_id, other_id, type_id)
            self._merged[(object_type, primary_id)] = self._merged[(object_type, merged_id)] = (
                new_id
            )
        return new_id

    def set_owner(self, object_type: str, object_id: str, owner_id: str) -> dict[str, Any]:
        """Reassign an object to another owner, as a person in HubSpot would."""
        return self.update_object(object_type, object_id, {"hubspot_owner_id": owner_id})

    def objects(self, object_type: str, *, archived: bool = False) -> list[dict[str, Any]]:
        """Every object of a type (with owner and associations), oldest first."""
        with self._lock:
            self._defs(object_type)
            return [
                self._view(obj)
                for obj in self._objects[object_type].values()
                if obj.archived == archived
            ]

    def get_object(self, object_type: str, object_id: str) -> dict[str, Any]:
        """One object with its properties, its owner and its associations in both directions
        (``associations[type] = [{"id", "typeIds"}]``). KeyError if unknown."""
        with self._lock:
            self._defs(object_type)
            obj = self._objects[object_type].get(object_id)
            if obj is None:
                raise KeyError(f"no {SINGULAR[object_type]} {object_id}")
            return self._view(obj)

    def duplicates(self, object_type: str, property_name: str) -> dict[str, list[str]]:
        """Values of ``property_name`` held by more than one live object -> their ids. Empty
        when leadsync pushes right (e.g. ``leadsync_id``, ``email``)."""
        with self._lock:
            self._defs(object_type)
            holders: dict[str, list[str]] = {}
            for obj in self._objects[object_type].values():
                value = obj.properties.get(property_name)
                if not obj.archived and value:
                    key = unique_key(property_name, value)
                    holders.setdefault(key, []).append(obj.id)
            return {value: ids for value, ids in holders.items() if len(ids) > 1}

    def stats(self) -> dict[str, Any]:
        """Requests by endpoint and status, errors and their ratio, 429s, inputs per request,
        the most requests in any 10 s window (and searches in any 1 s), contract violations,
        objects and associations held."""
        with self._lock:
            out = self._stats.as_json()
            out["contract_violations"] = list(self.contract_violations)
            out["objects"] = {
                t: sum(1 for o in objs.values() if not o.archived)
                for t, objs in self._objects.items()
            }
            out["associations"] = self.association_count()
            return out

    def assert_contract_kept(self) -> None:
        """Raise AssertionError listing every request that broke openapi.yaml."""
        with self._lock:
            problems = list(self.contract_violations)
        if problems:
            listed = "\n".join(f"  - {p}" for p in problems)
            raise AssertionError(f"{len(problems)} request(s) broke openapi.yaml:\n{listed}")

    def _view(self, obj: StoredObject) -> dict[str, Any]:
        body = obj.as_json()
        body["type"] = obj.type
        owner_id = obj.properties.get("hubspot_owner_id")
        owner = self._owners.get(owner_id) if owner_id else None
        body["owner"] = owner.as_json() if owner else None
        body["associations"] = {
            other: [{"id": i, "typeIds": ids} for i, ids in sorted(by_id.items(), key=id_order)]
            for other, by_id in sorted(self._associated(obj.type, obj.id).items())
        }
        return body

    def _control(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Answer:
        """``/_double/...``: inspection, seeding and faults (not rate limited, not counted)."""
        if self.control_requires_auth and headers.get("authorization") != f"Bearer {self._token}":
            return Answer(401, {"message": "the control endpoints need the double's token here"})
        parts = [p for p in path.split("/") if p][1:]
        try:
            data: Any = json.loads(body) if body else {}
        except ValueError:
            return Answer(400, {"message": "the body is not JSON"})
        try:
            return self._control_route(method, parts, query, data)
        except KeyError as exc:
            return Answer(404, {"message": str(exc.args[0]) if exc.args else "not found"})
        except (ValueError, TypeError) as exc:
            return Answer(400, {"message": str(exc)})

    def _control_route(
        self, method: str, parts: list[str], query: dict[str, list[str]], data: Any
    ) -> Answer:
        match (method, parts):
            case ("GET", ["stats"]):
                return Answer(200, self.stats())
            case ("GET", ["faults"]):
                return Answer(200, self._faults.as_dict())
            case ("POST", ["faults"]):
                return Answer(200, self.set_faults(**_mapping(data)))
            case ("POST", ["reset"]):
                self.reset()
                return Answer(200, {"reset": True})
            case ("GET", ["owners"]):
                with self._lock:
                    return Answer(200, {"results": [o.as_json() for o in self._owners.values()]})
            case ("POST", ["owners"]):
                rows = data if isinstance(data, list) else data.get("owners", [data])
                return Answer(201, {"results": [self._seed_owner(_mapping(r)) for r in rows]})
            case ("POST", ["objects", object_type]):
                row = _mapping(data)
                links = [(str(a["toId"]), int(a["typeId"])) for a in row.get("associations", [])]
                new_id = self.add_object(object_type, row.get("properties", {}), associations=links)
                return Answer(201, self.get_object(object_type, new_id))
            case ("GET", ["objects", object_type]):
                archived = query.get("archived", ["false"])[0] == "true"
                return Answer(200, {"results": self.objects(object_type, archived=archived)})
            case ("GET", ["objects", object_type, object_id]):
                return Answer(200, self.get_object(object_type, object_id))
            case ("PATCH", ["objects", object_type, object_id]):
                props = _mapping(_mapping(data).get("properties", {}))
                return Answer(200, self.update_object(object_type, object_id, props))
            case ("GET", ["duplicates", object_type]):
                name = query.get("property", ["leadsync_id"])[0]
                found = self.duplicates(object_type, name)
                return Answer(200, {"property": name, "duplicates": found})
            case ("GET", ["associations"]):
                a, b = query.get("from", [None])[0], query.get("to", [None])[0]
                return Answer(200, {"count": self.association_count(a, b)})
        return Answer(404, {"message": f"no control endpoint {method} /_double/{'/'.join(parts)}"})

    def _seed_owner(self, row: Mapping[str, Any]) -> dict[str, Any]:
        teams = [t["name"] if isinstance(t, Mapping) else str(t) for t in row.get("teams", [])]
        return self.add_owner(
            str(row["email"]),
            str(row.get("firstName", "")),
            str(row.get("lastName", "")),
            archived=bool(row.get("archived", False)),
            teams=teams,
            owner_id=None if row.get("id") is None else str(row["id"]),
            user_id=None if row.get("userId") is None else int(row["userId"]),
        )


def _mapping(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    return data
