"""Object reads: batch read and get by id or by a unique property, with the properties a
read returns when none are asked for and v3 association names.
"""

from __future__ import annotations

from typing import Any

from leadsync.destinations.hubspot.fake.associations import (
    AssociationsMixin,
    id_order,
    v3_type_name,
)
from leadsync.destinations.hubspot.fake.catalog import DEFAULT_READ, SINGULAR
from leadsync.destinations.hubspot.fake.state import Answer, InputError, iso_time


class ReadsMixin(AssociationsMixin):
    """Reading objects."""

    def _batch_read(self, object_type: str, body: dict[str, Any]) -> Answer:
        started = iso_time(self._wall_clock())
        id_property = body.get("idProperty")
        if id_property and not self._is_unique(object_type, id_property):
            return self._not_unique(object_type, id_property)
        names = body["properties"] or DEFAULT_READ.get(object_type, ())
        results, missing = [], []
        for inp in dict.fromkeys(i["id"] for i in body["inputs"]):
            obj = self._readable(object_type, id_property, inp)
            if obj is None:
                missing.append(inp)
            else:
                results.append(obj.as_json(names))
        errors = []
        if missing:
            errors.append(
                InputError(
                    404,
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {SINGULAR[object_type].upper()} objects, they may be "
                    "deleted or not exist. Check that ids are valid.",
                ).for_input({"ids": missing})
            )
        return self._batch_answer(200, started, results, errors)

    def _read_object(self, object_type: str, object_id: str, query: dict[str, list[str]]) -> Answer:
        id_property = query.get("idProperty", [""])[0]
        if id_property and not self._is_unique(object_type, id_property):
            return self._not_unique(object_type, id_property)
        obj = self._readable(object_type, id_property, object_id)
        if obj is None:
            return self._error(
                404,
                "OBJECT_NOT_FOUND",
                "Object not found.  objectId are usually numeric.",
                context={"id": [object_id]},
            )
        names = [n for v in query.get("properties", []) for n in v.split(",") if n]
        body = obj.as_json(names or DEFAULT_READ.get(object_type, ()))
        wanted = [n for v in query.get("associations", []) for n in v.split(",") if n]
        if wanted:
            associated = self._associated(object_type, obj.id)
            body["associations"] = {}
            for other in dict.fromkeys(wanted):
                results = [
                    {"id": other_id, "type": v3_type_name(type_id)}
                    for other_id, type_ids in sorted(
                        associated.get(other, {}).items(), key=id_order
                    )
                    for type_id in type_ids
                ]
                if results:
                    body["associations"][other] = {"results": results}
        return Answer(200, body)
