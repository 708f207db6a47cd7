"""Object writes through the API: batch create, update, upsert and archive (207 partial
answers, injected per-input failures), with the unique-value index and search's versions kept
up to date. The same writes made as a person in HubSpot would are in :mod:`.control`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from leadsync.destinations.hubspot.fake.associations import AssociationsMixin
from leadsync.destinations.hubspot.fake.catalog import (
    CREATED_PROPERTY,
    MODIFIED_PROPERTY,
    OWNER_ASSIGNED,
)
from leadsync.destinations.hubspot.fake.core import unique_key
from leadsync.destinations.hubspot.fake.properties import PropertiesMixin
from leadsync.destinations.hubspot.fake.state import Answer, InputError, StoredObject, iso_time


class WritesMixin(PropertiesMixin, AssociationsMixin):
    """Creating, changing and archiving objects."""

    def _stamp(self, obj: StoredObject, now: float) -> None:
        lag = self._faults.search_index_lag_s
        obj.versions.append((now, None if obj.archived else dict(obj.properties)))
        visible = [i for i, (t, _) in enumerate(obj.versions) if t <= now - lag]
        if visible:
            del obj.versions[: visible[-1]]

    def _store_new(
        self,
        object_type: str,
        new_id: str,
        props: dict[str, str],
        associations: list[dict[str, Any]],
    ) -> StoredObject:
        now_iso = iso_time(self._wall_clock())
        stored = {k: v for k, v in props.items()}
        if "email" in stored and object_type == "contacts":
            stored["email"] = stored["email"].lower()
        stored["hs_object_id"] = new_id
        stored.setdefault(CREATED_PROPERTY[object_type], now_iso)
        stored[MODIFIED_PROPERTY[object_type]] = now_iso
        if stored.get("hubspot_owner_id") and OWNER_ASSIGNED in self._defs(object_type):
            stored[OWNER_ASSIGNED] = now_iso
        obj = StoredObject(object_type, new_id, stored, now_iso, now_iso)
        self._objects[object_type][new_id] = obj
        self._index_unique(obj, {})
        for assoc in associations:
            for spec in assoc["types"]:
                self._link(object_type, new_id, assoc["to"]["id"], spec["associationTypeId"])
        self._stamp(obj, self._clock())
        return obj

    def _index_unique(self, obj: StoredObject, old: Mapping[str, str]) -> None:
        for (object_type, name), index in self._unique.items():
            if object_type != obj.type:
                continue
            before, after = old.get(name), obj.properties.get(name)
            if before and index.get(unique_key(name, before)) == obj.id:
                del index[unique_key(name, before)]
            if after and not obj.archived:
                index[unique_key(name, after)] = obj.id

    def _apply_update(self, obj: StoredObject, props: dict[str, str]) -> None:
        old = dict(obj.properties)
        for name, value in props.items():
            obj.properties[name] = (
                value.lower() if name == "email" and obj.type == "contacts" else value
            )
        now_iso = iso_time(self._wall_clock())
        obj.properties[MODIFIED_PROPERTY[obj.type]] = now_iso
        owner = obj.properties.get("hubspot_owner_id")
        if owner != old.get("hubspot_owner_id") and OWNER_ASSIGNED in self._defs(obj.type):
            obj.properties[OWNER_ASSIGNED] = now_iso  # HubSpot dates every reassignment
        obj.updated_at = now_iso
        self._index_unique(obj, old)
        self._stamp(obj, self._clock())

    def _batch_create(self, object_type: str, inputs: list[dict[str, Any]]) -> Answer:
        started = iso_time(self._wall_clock())
        traced = all("objectWriteTraceId" in i for i in inputs)
        staged: dict[tuple[str, str], dict[str, str]] = {}
        good: list[tuple[dict[str, Any], str]] = []
        errors: list[dict[str, Any]] = []
        for inp in inputs:
            new_id = self._take_id()
            error = self._check_write(object_type, dict(inp["properties"]), None, staged, new_id)
            error = error or self._check_create_associations(object_type, inp["associations"])
            error = error or self._injected()
            if error is None:
                good.append((inp, new_id))
            elif not traced:
                return self._batch_failure(error)
            else:
                errors.append(error.for_input({"objectWriteTraceId": [inp["objectWriteTraceId"]]}))
        results = []
        for inp, new_id in good:
            obj = self._store_new(object_type, new_id, dict(inp["properties"]), inp["associations"])
            result = obj.as_json()
            if "objectWriteTraceId" in inp:
                result["objectWriteTraceId"] = inp["objectWriteTraceId"]
            results.append(result)
        return self._batch_answer(201, started, results, errors)

    def _duplicate_ids(self, inputs: list[dict[str, Any]]) -> Answer | None:
        seen = Counter(i["id"] for i in inputs)
        repeated = sorted(k for k, n in seen.items() if n > 1)
        if repeated:
            return self._error(
                400,
                "VALIDATION_ERROR",
                f"Duplicate IDs found in batch input: {repeated}. IDs must be unique",
            )
        return None

    def _batch_update(self, object_type: str, inputs: list[dict[str, Any]]) -> Answer:
        started = iso_time(self._wall_clock())
        duplicate = self._duplicate_ids(inputs)
        if duplicate is not None:
            return duplicate
        traced = all("objectWriteTraceId" in i for i in inputs)
        staged: dict[tuple[str, str], dict[str, str]] = {}
        good: list[tuple[StoredObject, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for inp in inputs:
            context = (
                {"objectWriteTraceId": [inp["objectWriteTraceId"]]}
                if traced
                else {"ids": [inp["id"]]}
            )
            id_property = inp.get("idProperty")
            if id_property and not self._is_unique(object_type, id_property):
                return self._not_unique(object_type, id_property)
            obj = self._find(object_type, id_property, inp["id"])
            if obj is None:
                errors.append(
                    InputError(404, "OBJECT_NOT_FOUND", f"Object {inp['id']} not found").for_input(
                        {"ids": [inp["id"]]}
                    )
                )
                continue
            error = self._check_write(object_type, dict(inp["properties"]), obj, staged, obj.id)
            if error is not None and not traced:
                return self._batch_failure(error)
            error = error or self._injected()
            if error is None:
                good.append((obj, inp))
            else:
                errors.append(error.for_input(context))
        results = []
        for obj, inp in good:
            self._apply_update(obj, dict(inp["properties"]))
            result = obj.as_json()
            if "objectWriteTraceId" in inp:
                result["objectWriteTraceId"] = inp["objectWriteTraceId"]
            results.append(result)
        return self._batch_answer(200, started, results, errors)

    def _batch_upsert(self, object_type: str, inputs: list[dict[str, Any]]) -> Answer:
        started = iso_time(self._wall_clock())
        duplicate = self._duplicate_ids(inputs)
        if duplicate is not None:
            return duplicate
        for inp in inputs:
            if not self._is_unique(object_type, inp["idProperty"]):
                return self._error(
                    400,
                    "VALIDATION_ERROR",
                    f"Property {inp['idProperty']!r} cannot be an idProperty of {object_type}: "
                    "an upsert needs a unique property (hasUniqueValue true)",
                )
        traced = all("objectWriteTraceId" in i for i in inputs)
        staged: dict[tuple[str, str], dict[str, str]] = {}
        plan: list[tuple[StoredObject | None, str, dict[str, str], dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        for inp in inputs:
            context = (
                {"objectWriteTraceId": [inp["objectWriteTraceId"]]}
                if traced
                else {"ids": [inp["id"]]}
            )
            props = dict(inp["properties"])
            obj = self._by_unique(object_type, inp["idProperty"], inp["id"])
            if obj is None:
                target = self._take_id()
                props[inp["idProperty"]] = inp["id"]
                error = self._check_write(object_type, props, None, staged, target)
                error = error or self._check_create_associations(object_type, [])
            else:
                target = obj.id
                error = self._check_write(object_type, props, obj, staged, target)
            if error is not None and not traced:
                return self._batch_failure(error)
            error = error or self._injected()
            if error is None:
                plan.append((obj, target, props, inp))
            else:
                errors.append(error.for_input(context))
        results = []
        for obj, target, props, inp in plan:
            if obj is None:
                obj = self._store_new(object_type, target, props, [])
                created = True
            else:
                self._apply_update(obj, props)
                created = False
            result = obj.as_json()
            result["new"] = created
            if "objectWriteTraceId" in inp:
                result["objectWriteTraceId"] = inp["objectWriteTraceId"]
            results.append(result)
        return self._batch_answer(200, started, results, errors)

    def _batch_archive(self, now: float, object_type: str, inputs: list[dict[str, Any]]) -> Answer:
        for inp in inputs:
            obj = self._live(object_type, inp["id"])
            if obj is not None:
                old = dict(obj.properties)
                obj.archived = True
                obj.updated_at = iso_time(self._wall_clock())
                self._index_unique(obj, old)
                self._stamp(obj, now)
        return Answer(204)
