"""Search: filter groups and operators as HubSpot's search reads them, sorting, paging up to
its 10,000 results, and the index lag (a write is invisible to search for
``search_index_lag_s``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from typing import Any

from leadsync.destinations.hubspot.fake.catalog import DEFAULT_READ, SEARCH_MAX_RESULTS
from leadsync.destinations.hubspot.fake.core import DoubleCore
from leadsync.destinations.hubspot.fake.state import Answer, StoredObject, as_number, time_ms


class SearchMixin(DoubleCore):
    """The search endpoint."""

    def _search(self, now: float, object_type: str, body: dict[str, Any]) -> Answer:
        defs = self._properties[object_type]
        groups = body.get("filterGroups", [])
        for group in groups:
            for f in group["filters"]:
                if f["propertyName"] not in defs:
                    # Assumed: HubSpot refuses a filter on a property that does not exist.
                    return self._error(
                        400,
                        "VALIDATION_ERROR",
                        f"There was a problem with the request: property {f['propertyName']!r} "
                        f"does not exist on {object_type}",
                    )
                needs_value = f["operator"] not in (
                    "HAS_PROPERTY",
                    "NOT_HAS_PROPERTY",
                    "IN",
                    "NOT_IN",
                )
                if (needs_value and "value" not in f) or (
                    f["operator"] in ("IN", "NOT_IN") and "values" not in f
                ):
                    return self._error(
                        400,
                        "VALIDATION_ERROR",
                        f"Filter on {f['propertyName']} with operator {f['operator']} needs "
                        + ("values" if f["operator"] in ("IN", "NOT_IN") else "a value"),
                    )
        limit = body.get("limit", 10)
        after = body.get("after", "0") or "0"
        if not after.isdigit():
            return self._error(400, "VALIDATION_ERROR", f"after {after!r} is not a cursor")
        offset = int(after)
        if offset + limit > SEARCH_MAX_RESULTS:
            return self._error(
                400,
                "VALIDATION_ERROR",
                f"Search can return at most {SEARCH_MAX_RESULTS} results per query",
            )
        lag = self._faults.search_index_lag_s
        matches: list[tuple[StoredObject, dict[str, str]]] = []
        for obj in self._objects[object_type].values():
            seen = self._as_indexed(obj, now, lag)
            if seen is not None and (
                not groups or any(_matches(seen, g["filters"]) for g in groups)
            ):
                matches.append((obj, seen))
        sorts = body.get("sorts", [])
        if sorts:
            name = sorts[0]["propertyName"]
            matches.sort(
                key=lambda m: _sort_key(m[1].get(name)),
                reverse=sorts[0].get("direction") == "DESCENDING",
            )
        else:
            matches.sort(key=lambda m: int(m[0].id))
        names = body.get("properties") or DEFAULT_READ.get(object_type, ())
        page = matches[offset : offset + limit]
        results = []
        for obj, seen in page:
            shown = StoredObject(obj.type, obj.id, seen, obj.created_at, obj.updated_at)
            results.append(shown.as_json(names))
        answer: dict[str, Any] = {"total": len(matches), "results": results}
        if offset + limit < len(matches):
            answer["paging"] = {"next": {"after": str(offset + limit)}}
        return Answer(200, answer)

    @staticmethod
    def _as_indexed(obj: StoredObject, now: float, lag: float) -> dict[str, str] | None:
        """The object's properties as search sees them ``lag`` seconds behind (None: not yet
        indexed, or archived)."""
        if lag <= 0:
            return None if obj.archived else obj.properties
        seen: dict[str, str] | None = None
        for when, props in obj.versions:
            if when <= now - lag:
                seen = props
        return seen


def _sort_key(value: str | None) -> tuple[int, float, str]:
    if value is None or value == "":
        return (1, 0.0, "")
    number = as_number(value)
    return (0, number, "") if number is not None else (0, 0.0, value.lower())


def _compare(value: str, other: str) -> float | None:
    """value - other, numerically or as times (None: not comparable)."""
    a, b = as_number(value), as_number(other)
    if a is None or b is None:
        a, b = time_ms(value), time_ms(other)
    return None if a is None or b is None else a - b


def _matches(props: Mapping[str, str], filters: list[dict[str, Any]]) -> bool:
    """Whether ``props`` pass every filter of a group. String comparisons ignore case, as
    HubSpot's search does for EQ and IN."""
    for f in filters:
        value = props.get(f["propertyName"]) or ""
        op = f["operator"]
        target = str(f.get("value", ""))
        if op == "HAS_PROPERTY":
            ok = value != ""
        elif op == "NOT_HAS_PROPERTY":
            ok = value == ""
        elif op in ("EQ", "NEQ"):
            diff = _compare(value, target) if value else None
            same = diff == 0 if diff is not None else value.lower() == target.lower()
            ok = same if op == "EQ" else not same
        elif op in ("IN", "NOT_IN"):
            inside = value.lower() in {str(v).lower() for v in f.get("values", [])}
            ok = inside if op == "IN" else not inside
        elif op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            tokens = value.lower().split()
            found = any(fnmatch.fnmatchcase(t, target.lower()) for t in tokens)
            ok = found if op == "CONTAINS_TOKEN" else not found
        elif op == "BETWEEN":
            low, high = _compare(value, target), _compare(value, str(f.get("highValue", "")))
            ok = value != "" and low is not None and high is not None and low >= 0 >= high
        else:
            diff = _compare(value, target) if value else None
            ok = (
                diff is not None
                and {
                    "LT": diff < 0,
                    "LTE": diff <= 0,
                    "GT": diff > 0,
                    "GTE": diff >= 0,
                }[op]
            )
        if not ok:
            return False
    return True
