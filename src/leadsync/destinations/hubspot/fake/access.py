"""Who may call and how often: the token-info call, scopes per route, and the rate
limits (the token's rolling 10 s window, the daily cap, search's own 5 per second).
"""

from __future__ import annotations

import math
from typing import Any

from leadsync.destinations.hubspot.fake.catalog import (
    DAY_S,
    RATE_MESSAGES,
    SCOPES_MESSAGE,
    SEARCH_PER_SECOND,
    WINDOW_S,
    scope_object,
)
from leadsync.destinations.hubspot.fake.core import DoubleCore
from leadsync.destinations.hubspot.fake.routes import Route
from leadsync.destinations.hubspot.fake.state import Answer


class AccessMixin(DoubleCore):
    """Authentication, scopes and rate limits."""

    def _token_info(self, body: Any) -> Answer:
        if body.get("tokenKey") != self._token:
            return self._error(
                401, "INVALID_AUTHENTICATION", "The token provided is invalid or unknown."
            )
        return Answer(
            200,
            {
                "userId": self.user_id,
                "hubId": self.hub_id,
                "appId": self.app_id,
                "scopes": sorted(self.scopes),
            },
        )

    def _missing_scopes(self, route: Route) -> list[str]:
        """The scopes the route needs that the token lacks: each group needs any one of it."""
        p = route.params
        groups: list[list[str]]
        if route.kind == "owners":
            groups = [["crm.objects.owners.read"]]
        elif route.kind == "property_read":
            base = f"crm.schemas.{scope_object(p['type'])}"
            groups = [[f"{base}.read", f"{base}.write"]]
        elif route.kind == "property_create":
            groups = [[f"crm.schemas.{scope_object(p['type'])}.write"]]
        elif route.kind == "associations":
            access = "write" if p["op"] == "create" else "read"
            groups = [
                [f"crm.objects.{scope_object(t)}.{access}"]
                for t in dict.fromkeys((p["from"], p["to"]))
            ]
        else:
            writes = route.kind == "batch" and p["op"] not in ("read",)
            groups = [[f"crm.objects.{scope_object(p['type'])}.{'write' if writes else 'read'}"]]
        for group in groups:
            if not self.scopes.intersection(group):
                return group
        return []

    def _missing_scope_answer(self, required: list[str]) -> Answer:
        answer = self._error(403, "MISSING_SCOPES", SCOPES_MESSAGE)
        answer.body["errors"] = [
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": required},
            }
        ]
        answer.body["links"] = {"scopes": "https://developers.hubspot.com/scopes"}
        return answer

    def _take_rate(self, now: float, search: bool) -> Answer | None:
        """Count the request against the token's limits, or answer 429 (not counted).
        Assumed: a rejected request does not use up the window; searches count against the
        10-second and daily limits as well as their own 5 per second."""
        faults = self._faults
        day = math.floor(now / DAY_S)
        if day != self._day:
            self._day, self._day_count = day, 0
        while self._accepted and self._accepted[0] <= now - WINDOW_S:
            self._accepted.popleft()
        while self._search_accepted and self._search_accepted[0] <= now - 1.0:
            self._search_accepted.popleft()
        if self._day_count >= faults.daily_cap:
            return self._rate_limited("DAILY", self._rate_headers())
        if len(self._accepted) >= faults.per_10s:
            return self._rate_limited("TEN_SECONDLY_ROLLING", self._rate_headers())
        if search and len(self._search_accepted) >= SEARCH_PER_SECOND:
            return self._rate_limited("SECONDLY", {})
        self._accepted.append(now)
        self._day_count += 1
        if search:
            self._search_accepted.append(now)
        return None

    def _rate_headers(self) -> dict[str, str]:
        faults = self._faults
        return {
            "X-HubSpot-RateLimit-Max": str(faults.per_10s),
            "X-HubSpot-RateLimit-Remaining": str(max(0, faults.per_10s - len(self._accepted))),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_S * 1000)),
            "X-HubSpot-RateLimit-Daily": str(faults.daily_cap),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, faults.daily_cap - self._day_count)),
        }

    def _rate_limited(self, policy: str, headers: dict[str, str]) -> Answer:
        body = {
            "status": "error",
            "message": RATE_MESSAGES[policy],
            "errorType": "RATE_LIMIT",
            "correlationId": self._correlation_id(),
            "policyName": policy,
        }
        return Answer(429, body, dict(headers))
