"""What the stand-in holds and counts: its faults and limits, a hand-moved clock, the stored
owners, objects and associations, a per-input error, an answer, and the statistics.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadsync.destinations.hubspot.fake.catalog import (
    CANONICAL,
    CREATED_PROPERTY,
    DIRECTED,
    INVERSE,
    MODIFIED_PROPERTY,
    WINDOW_S,
)


class Faults:
    """What the double does wrong on purpose, and its limits. Rates are fractions 0..1.

    ``error_5xx_rate``: requests answered 500/502/503, nothing applied. ``rate_429_rate``:
    requests answered 429 TEN_SECONDLY_ROLLING, nothing applied. ``latency_ms``: added to
    every API request. ``partial_207_rate``: inputs of batch create/update/upsert that fail
    with a per-input VALIDATION_ERROR, the rest applied (a create batch without trace ids is
    all-or-nothing, so there it fails the batch). ``link_refusal_rate``: inputs of v4
    association batch creates refused so, the rest made. ``apply_then_fail_rate``: requests applied,
    then answered 502 (a lost response). ``daily_cap`` and ``per_10s``: the rate limits.
    ``search_index_lag_s``: how long a write stays invisible to search. ``outage_s``: from
    the moment it is set, for that many seconds on the double's clock, every API request is
    answered 503 SERVICE_UNAVAILABLE, nothing applied (HubSpot down for a while; like
    HubSpot, with no Retry-After, which it does not promise). ``seed``: the random
    generator's seed (setting it restarts the sequence). ``contract_sample_rate``: the share of
    requests checked against openapi.yaml (1: every one, as the tests keep it; a benchmark may
    check fewer, and says so, since the check is most of the double's CPU).
    """

    __slots__ = (
        "contract_sample_rate",
        "error_5xx_rate",
        "rate_429_rate",
        "latency_ms",
        "partial_207_rate",
        "link_refusal_rate",
        "apply_then_fail_rate",
        "daily_cap",
        "per_10s",
        "search_index_lag_s",
        "outage_s",
        "seed",
    )

    def __init__(self, *, per_10s: int = 190, daily_cap: int = 625_000, seed: int = 0) -> None:
        self.contract_sample_rate = 1.0
        self.error_5xx_rate = 0.0
        self.rate_429_rate = 0.0
        self.latency_ms = 0.0
        self.partial_207_rate = 0.0
        self.link_refusal_rate = 0.0
        self.apply_then_fail_rate = 0.0
        self.daily_cap = daily_cap
        self.per_10s = per_10s
        self.search_index_lag_s = 0.0
        self.outage_s = 0.0
        self.seed = seed

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply ``changes`` (all checked first); ValueError names what is not allowed."""
        problems: list[str] = []
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in self.__slots__:
                problems.append(f"unknown fault {name!r}; allowed: {', '.join(self.__slots__)}")
            elif isinstance(value, bool) or not isinstance(value, int | float):
                problems.append(f"{name}: {value!r} is not a number")
            elif name.endswith("_rate") and not 0 <= value <= 1:
                problems.append(f"{name}: {value!r} is not a fraction between 0 and 1")
            elif name in ("daily_cap", "per_10s", "seed") and (value != int(value) or value < 0):
                problems.append(f"{name}: {value!r} is not a whole number >= 0")
            elif value < 0:
                problems.append(f"{name}: {value!r} is negative")
            else:
                checked[name] = int(value) if name in ("daily_cap", "per_10s", "seed") else value
        if problems:
            raise ValueError("; ".join(problems))
        for name, value in checked.items():
            setattr(self, name, float(value) if isinstance(value, float) else value)


class ManualClock:
    """A clock tests move by hand (seconds). Pass it as ``clock`` and its :meth:`sleep` as
    ``sleep`` so that latency advances it instead of waiting."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


@dataclass
class StoredOwner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    archived: bool
    teams: list[dict[str, Any]]
    created_at: str
    updated_at: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": None if self.archived else self.user_id,
            "userIdIncludingInactive": self.user_id,
            "type": "PERSON",
            "archived": self.archived,
            "teams": [dict(team) for team in self.teams],
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


@dataclass
class StoredObject:
    type: str
    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    archived: bool = False
    # (double-clock time of a write, properties then or None once archived): what search sees.
    versions: list[tuple[float, dict[str, str] | None]] = field(default_factory=list)

    def as_json(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        if names is None:
            props: dict[str, str | None] = dict(self.properties)
        else:
            wanted = [*names, "hs_object_id", CREATED_PROPERTY[self.type]]
            wanted.append(MODIFIED_PROPERTY[self.type])
            props = {name: self.properties.get(name) for name in dict.fromkeys(wanted)}
        return {
            "id": self.id,
            "properties": props,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }


@dataclass(frozen=True)
class Link:
    """One association, stored in the canonical direction of its type (see ASSOCIATION_TYPES)."""

    from_type: str
    from_id: str
    to_type: str
    to_id: str
    type_id: int

    @classmethod
    def make(cls, from_type: str, from_id: str, to_id: str, type_id: int) -> Link:
        to_type = DIRECTED[type_id][1]
        if type_id in CANONICAL:
            return cls(from_type, from_id, to_type, to_id, type_id)
        return cls(to_type, to_id, from_type, from_id, INVERSE[type_id])

    def seen_from(self, object_type: str, object_id: str) -> tuple[str, str, int]:
        """(other type, other id, type id in this direction)."""
        if (self.from_type, self.from_id) == (object_type, object_id):
            return self.to_type, self.to_id, self.type_id
        return self.from_type, self.from_id, INVERSE[self.type_id]


@dataclass
class InputError:
    status: int
    category: str
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)

    def for_input(self, context: dict[str, list[str]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "context": context,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


@dataclass
class Answer:
    status: int
    body: Any = None  # JSON, or None for no body
    headers: dict[str, str] = field(default_factory=dict)


class Stats:
    def __init__(self) -> None:
        self.by_endpoint: dict[str, Counter[int]] = {}
        self.by_status: Counter[int] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.inputs: dict[str, list[int]] = {}  # endpoint -> [requests, inputs, max]
        self.window: deque[float] = deque()
        self.search_window: deque[float] = deque()
        self.max_10s = 0
        self.max_search_1s = 0

    def arrived(self, now: float, search: bool) -> None:
        self.window.append(now)
        while self.window[0] <= now - WINDOW_S:
            self.window.popleft()
        self.max_10s = max(self.max_10s, len(self.window))
        if search:
            self.search_window.append(now)
            while self.search_window[0] <= now - 1.0:
                self.search_window.popleft()
            self.max_search_1s = max(self.max_search_1s, len(self.search_window))

    def answered(self, endpoint: str, status: int, inputs: int | None) -> None:
        self.by_endpoint.setdefault(endpoint, Counter())[status] += 1
        self.by_status[status] += 1
        if inputs is not None:
            entry = self.inputs.setdefault(endpoint, [0, 0, 0])
            entry[0] += 1
            entry[1] += inputs
            entry[2] = max(entry[2], inputs)

    def as_json(self) -> dict[str, Any]:
        requests = sum(self.by_status.values())
        errors = sum(n for status, n in self.by_status.items() if status >= 400)
        return {
            "requests": requests,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_endpoint": {
                name: {str(k): v for k, v in sorted(counts.items())}
                for name, counts in sorted(self.by_endpoint.items())
            },
            "errors": errors,
            "error_ratio": errors / requests if requests else 0.0,
            "rate_limited": sum(self.rate_limited.values()),
            "rate_limited_by_policy": dict(self.rate_limited),
            "inputs_per_request": {
                name: {"requests": r, "inputs": n, "max": m, "mean": n / r if r else 0.0}
                for name, (r, n, m) in sorted(self.inputs.items())
            },
            "max_requests_in_any_10s_window": self.max_10s,
            "max_search_requests_in_any_1s_window": self.max_search_1s,
        }


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def time_ms(value: str) -> float | None:
    """A datetime property value (epoch milliseconds or ISO 8601) in milliseconds."""
    if value.isdigit():
        return float(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp() * 1000
