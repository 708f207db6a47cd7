"""The double's state and the small answers every endpoint gives.

:class:`DoubleCore` holds everything the endpoints share: the token, the clocks, the lock,
the faults and random generators, objects, unique-value indexes, associations, owners,
property definitions, rate windows and statistics. The endpoints are mixins over it, one
module per concern (:mod:`.access`, :mod:`.owners`, :mod:`.properties`, :mod:`.writes`,
:mod:`.reads`, :mod:`.search`, :mod:`.associations`, :mod:`.control`); the request pipeline
that calls them is :class:`leadsync.destinations.hubspot.fake.HubSpotDouble`.
"""

from __future__ import annotations

import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from leadsync.destinations.hubspot.fake.catalog import (
    ALL_SCOPES,
    DAY_S,
    DEFAULT_APP_ID,
    DEFAULT_HUB_ID,
    DEFAULT_OPTIONS,
    DEFAULT_PROPERTIES,
    DEFAULT_USER_ID,
    OBJECT_TYPES,
    UNIQUE_BY_DEFAULT,
    property_json,
)
from leadsync.destinations.hubspot.fake.state import (
    Answer,
    Faults,
    InputError,
    Link,
    Stats,
    StoredObject,
    StoredOwner,
    iso_time,
)


class DoubleCore:
    """The shared state, its reset, the error and batch answers, and object lookups."""

    def __init__(
        self,
        token: str,
        *,
        scopes: Iterable[str] = ALL_SCOPES,
        per_10s: int = 190,
        daily: int = 625_000,
        app_id: int = DEFAULT_APP_ID,
        hub_id: int = DEFAULT_HUB_ID,
        user_id: int = DEFAULT_USER_ID,
        seed: int = 0,
        search_index_lag_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise ValueError("the double needs a token to accept")
        self._token = token
        self.scopes = frozenset(scopes)
        self.app_id = app_id
        self.hub_id = hub_id
        self.user_id = user_id
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = threading.RLock()
        self._initial = (per_10s, daily, seed, search_index_lag_s)
        self.control_requires_auth = False
        self.contract_violations: list[str] = []
        self.reset()

    def reset(self) -> None:
        """Forget every object, owner, custom property, statistic and violation; faults back
        to their defaults."""
        per_10s, daily, seed, lag = self._initial
        with self._lock:
            self._faults = Faults(per_10s=per_10s, daily_cap=daily, seed=seed)
            self._faults.search_index_lag_s = lag
            self._random = random.Random(seed)
            self._ids_random = random.Random(seed)
            self._contract_random = random.Random(seed)
            self._objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
            self._unique: dict[tuple[str, str], dict[str, str]] = {}
            self._links: dict[tuple[str, str], set[Link]] = {}
            # (type, id of an object merged away) -> the id of the object it is merged into
            self._merged: dict[tuple[str, str], str] = {}
            self._owners: dict[str, StoredOwner] = {}
            self._properties: dict[str, dict[str, dict[str, Any]]] = {}
            now = iso_time(self._wall_clock())
            for object_type, rows in DEFAULT_PROPERTIES.items():
                defs = self._properties[object_type] = {}
                for name, label, kind, field_type in rows:
                    defs[name] = property_json(
                        object_type,
                        name,
                        label,
                        kind,
                        field_type,
                        unique=(object_type, name) in UNIQUE_BY_DEFAULT,
                        options=DEFAULT_OPTIONS.get(name, ()),
                        created=now,
                    )
                    if (object_type, name) in UNIQUE_BY_DEFAULT:
                        self._unique[(object_type, name)] = {}
            self._next_object_id = 1001
            self._next_owner_id = 30_000_001
            self._next_user_id = 8_000_001
            self._accepted: deque[float] = deque()
            self._search_accepted: deque[float] = deque()
            self._day = math.floor(self._clock() / DAY_S)
            self._day_count = 0
            self._stats = Stats()
            self._outage_until = -math.inf
            self.contract_violations.clear()

    @property
    def faults(self) -> Faults:
        return self._faults

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change faults and limits (see :class:`Faults`); returns them all."""
        with self._lock:
            self._faults.update(changes)
            if "seed" in changes:
                self._random = random.Random(self._faults.seed)
            if "outage_s" in changes:
                self._outage_until = self._clock() + self._faults.outage_s
            return self._faults.as_dict()

    def _correlation_id(self) -> str:
        return str(uuid.UUID(int=self._ids_random.getrandbits(128), version=4))

    def _error(self, status: int, category: str, message: str, **extra: Any) -> Answer:
        body = {
            "status": "error",
            "message": message,
            "correlationId": self._correlation_id(),
            "category": category,
            **extra,
        }
        return Answer(status, body)

    def _invalid(self, problems: list[str]) -> Answer:
        return self._error(
            400,
            "VALIDATION_ERROR",
            "Invalid input JSON: " + "; ".join(problems),
            errors=[{"message": p, "code": "INVALID_INPUT"} for p in problems],
        )

    def _batch_answer(
        self,
        ok_status: int,
        started: str,
        results: list[dict[str, Any]],
        errors: list[dict[str, Any]],
    ) -> Answer:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        body["startedAt"] = started
        body["completedAt"] = iso_time(self._wall_clock())
        return Answer(207 if errors else ok_status, body)

    def _batch_failure(self, error: InputError) -> Answer:
        extra = {"errors": error.errors} if error.errors else {}
        return self._error(error.status, error.category, error.message, **extra)

    def _defs(self, object_type: str) -> dict[str, dict[str, Any]]:
        if object_type not in self._properties:
            raise KeyError(f"unknown object type {object_type!r}; known: {', '.join(OBJECT_TYPES)}")
        return self._properties[object_type]

    def _take_id(self) -> str:
        new_id = str(self._next_object_id)
        self._next_object_id += 1
        return new_id

    def _live(self, object_type: str, object_id: str) -> StoredObject | None:
        obj = self._objects.get(object_type, {}).get(object_id)
        return obj if obj is not None and not obj.archived else None

    def _by_unique(self, object_type: str, name: str, value: str) -> StoredObject | None:
        holder = self._unique.get((object_type, name), {}).get(unique_key(name, value))
        return None if holder is None else self._live(object_type, holder)

    def _find(self, object_type: str, id_property: str | None, value: str) -> StoredObject | None:
        """The live object ``value`` names: its id, or its value of the unique ``id_property``."""
        if id_property:
            return self._by_unique(object_type, id_property, value)
        return self._live(object_type, value)

    def _readable(
        self, object_type: str, id_property: str | None, value: str
    ) -> StoredObject | None:
        """What a read of ``value`` returns: :meth:`_find`, or — an id merged away — the
        object it is merged into, under that object's id (HubSpot: "fetching any records
        using the original IDs will return the new merged record with the new ID")."""
        obj = self._find(object_type, id_property, value)
        seen = {value}
        while obj is None and not id_property and (object_type, value) in self._merged:
            value = self._merged[(object_type, value)]
            if value in seen:
                return None
            seen.add(value)
            obj = self._live(object_type, value)
        return obj

    def _not_unique(self, object_type: str, id_property: str) -> Answer:
        return self._error(
            400, "VALIDATION_ERROR", f"{id_property} is not a unique property of {object_type}"
        )

    def _is_unique(self, object_type: str, name: str) -> bool:
        return (object_type, name) in self._unique


def unique_key(name: str, value: str) -> str:
    """A value as its unique index holds it: emails without case, as HubSpot compares them."""
    return value.lower() if name == "email" else value
