"""A stateful stand-in for the HubSpot endpoints leadsync's pusher calls ("the double").

HubSpot cannot be reached from tests, CI or the demo, so this module plays it: owners, the
token-info call, properties, objects (batch create/update/upsert/read/archive, search, get)
and associations v4, in both path styles (``/crm/v3/objects/...`` and the dated
``/crm/objects/2026-03/...``). It is not HubSpot and says so: every response carries
``X-Stand-In: leadsync-hubspot-double``.

One sans-I/O core, :class:`HubSpotDouble` (``handle(method, path, query, headers, body)``),
serves three ways: :meth:`HubSpotDouble.transport` (an ``httpx.MockTransport`` for unit
tests), :meth:`HubSpotDouble.asgi_app` (a plain ASGI app) and :func:`serve_double`
(uvicorn on a port, what ``leadsync hubspot fake`` runs). All state sits behind one lock.

Every API request goes through, in this order:

1. the contract: it is validated against ``openapi.yaml`` (leadsync's own description of
   these endpoints); what is wrong is appended to ``contract_violations``; then, while the
   ``outage_s`` fault lasts, 503 SERVICE_UNAVAILABLE (nothing applied);
2. auth (``Authorization: Bearer <token>``) -> 401 ``INVALID_AUTHENTICATION``;
3. rate limits: the token's rolling 10 s window (``per_10s``), the daily cap on the double's
   clock, search's own 5/s -> 429 ``RATE_LIMIT``; then the ``rate_429_rate`` fault;
4. a contract violation -> 400 ``VALIDATION_ERROR`` naming what is wrong;
5. scopes -> 403 ``MISSING_SCOPES``;
6. the ``error_5xx_rate`` fault (nothing applied), the handler, the ``apply_then_fail_rate``
   fault (applied, then answered 502: a lost response).

Error bodies, as HubSpot documents them (every field optional for a client)::

    401/403/404/409/400  {"status": "error", "message", "correlationId", "category",
                          "errors"?: [{"message", "code"?, "context"?}], "context"?}
    429                  {"status": "error", "message", "errorType": "RATE_LIMIT",
                          "correlationId", "policyName": "TEN_SECONDLY_ROLLING" | "DAILY" |
                          "SECONDLY"}
    207 (batch)          {"status": "COMPLETE", "results": [...], "numErrors": N,
                          "errors": [{"status": "error", "category", "message",
                                      "context": {"objectWriteTraceId" | "ids": [...]}}],
                          "startedAt", "completedAt"}

Facts the double had to assume where HubSpot's docs are silent are marked ``Assumed:``.

The double is split by concern: :mod:`.catalog` (HubSpot's facts), :mod:`.state`,
:mod:`.contract` (openapi.yaml), :mod:`.routes`, :mod:`.core` (shared state and answers), the
endpoint mixins (:mod:`.access`, :mod:`.owners`, :mod:`.properties`, :mod:`.writes`,
:mod:`.reads`, :mod:`.search`, :mod:`.associations`, :mod:`.control`) and :mod:`.serving`.
This module holds :class:`HubSpotDouble`: those mixins joined, and the request pipeline
above, in the order it runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from leadsync.destinations.hubspot.fake.access import AccessMixin
from leadsync.destinations.hubspot.fake.catalog import (
    ALL_SCOPES,
    ASSOCIATION_TYPES,
    AUTH_MESSAGE,
    DEFAULT_PROPERTIES,
    OBJECT_TYPES,
    SERVER_ERRORS,
    STAND_IN_HEADER,
    STAND_IN_NAME,
)

# The pipeline calls the contract check by this module's name: bench/push_bench.py times it
# by replacing ``fake._contract_problems``.
from leadsync.destinations.hubspot.fake.contract import _contract_problems, openapi_contract
from leadsync.destinations.hubspot.fake.control import ControlMixin
from leadsync.destinations.hubspot.fake.routes import Route, parse_query, route_of
from leadsync.destinations.hubspot.fake.search import SearchMixin
from leadsync.destinations.hubspot.fake.serving import DoubleApp, serve_double, serving
from leadsync.destinations.hubspot.fake.state import Answer, Faults, ManualClock


class HubSpotDouble(ControlMixin, AccessMixin, SearchMixin):
    """The stand-in's state and behaviour. Thread-safe; see the module docstring.

    ``token`` is the one private app token it accepts (never printed or logged); ``scopes``
    what that token was granted. ``clock`` (seconds, monotonic) drives rate windows, the day
    of the daily cap and search's index lag; ``wall_clock`` the timestamps in bodies;
    ``sleep`` the injected latency.
    """

    def transport(self) -> httpx.MockTransport:
        """An httpx transport answering in-process (use with a sync ``httpx.Client``)."""

        def answer(request: httpx.Request) -> httpx.Response:
            status, headers, body = self.handle(
                request.method,
                request.url.path,
                request.url.query.decode("latin-1"),
                request.headers,
                request.read(),
            )
            return httpx.Response(status, headers=headers, content=body)

        return httpx.MockTransport(answer)

    def asgi_app(self, *, control_requires_auth: bool = False) -> DoubleApp:
        """A plain ASGI app serving this double (``/_double/*`` needs the token when
        ``control_requires_auth``)."""
        self.control_requires_auth = control_requires_auth
        return DoubleApp(self)

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]] | str | bytes,
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one HTTP request: (status, headers, body)."""
        method = method.upper()
        params = parse_query(query)
        lowered = {k.lower(): v for k, v in headers.items()}
        if path == "/_double" or path.startswith("/_double/"):
            answer = self._control(method, path, params, lowered, body)
        else:
            latency = self._faults.latency_ms
            if latency > 0:
                self._sleep(latency / 1000)
            with self._lock:
                answer = self._api(method, path, params, lowered, body)
        out_headers = {STAND_IN_HEADER: STAND_IN_NAME, **answer.headers}
        if answer.body is None:
            return answer.status, out_headers, b""
        out_headers["Content-Type"] = "application/json;charset=utf-8"
        return answer.status, out_headers, json.dumps(answer.body).encode()

    def _api(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Answer:
        now = self._clock()
        if re.fullmatch(r"/crm/(?:v3/owners|owners/[^/]+)", path):
            path += "/"  # HubSpot answers owners with or without the slash
        route = route_of(method, path)
        endpoint = route.key if route else "other"
        self._stats.arrived(now, search=route is not None and route.kind == "search")
        sample = self._faults.contract_sample_rate
        checked = sample >= 1 or self._contract_random.random() < sample
        problems = _contract_problems(method, path, query, headers, body) if checked else []
        for problem in problems:
            self.contract_violations.append(f"{method} {path}: {problem}")
        parsed: Any = None
        if not problems and body:
            parsed = json.loads(body)
        inputs = None
        if isinstance(parsed, dict) and isinstance(parsed.get("inputs"), list):
            inputs = len(parsed["inputs"])
        answer = self._answer(now, method, path, route, query, headers, problems, parsed)
        # HubSpot names every response in a header too (what its support asks for).
        correlation = answer.body.get("correlationId") if isinstance(answer.body, dict) else None
        answer.headers.setdefault("X-HubSpot-Correlation-Id", correlation or self._correlation_id())
        self._stats.answered(endpoint, answer.status, inputs)
        if answer.status == 429 and isinstance(answer.body, dict):
            self._stats.rate_limited[answer.body["policyName"]] += 1
        return answer

    def _answer(
        self,
        now: float,
        method: str,
        path: str,
        route: Route | None,
        query: dict[str, list[str]],
        headers: dict[str, str],
        problems: list[str],
        body: Any,
    ) -> Answer:
        if now < self._outage_until:
            category, message = SERVER_ERRORS[503]
            return self._error(503, category, message)
        if route is not None and route.kind == "token_info":
            if problems:
                return self._invalid(problems)
            return self._token_info(body)
        if headers.get("authorization", "") != f"Bearer {self._token}":
            return self._error(401, "INVALID_AUTHENTICATION", AUTH_MESSAGE)
        search = route is not None and route.kind == "search"
        limited = self._take_rate(now, search)
        if limited is not None:
            return limited
        rate_headers = {} if search else self._rate_headers()
        faults = self._faults
        if faults.rate_429_rate and self._random.random() < faults.rate_429_rate:
            return self._rate_limited("TEN_SECONDLY_ROLLING", rate_headers)
        answer = self._dispatch(now, method, path, route, query, problems, body)
        answer.headers.update(rate_headers)
        return answer

    def _dispatch(
        self,
        now: float,
        method: str,
        path: str,
        route: Route | None,
        query: dict[str, list[str]],
        problems: list[str],
        body: Any,
    ) -> Answer:
        if route is None:
            return self._error(404, "OBJECT_NOT_FOUND", f"No endpoint at {method} {path}")
        if problems:
            return self._invalid(problems)
        unknown = [
            route.params[k]
            for k in ("type", "from", "to")
            if k in route.params and route.params[k] not in OBJECT_TYPES
        ]
        if unknown:
            return self._error(
                404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {unknown[0]}"
            )
        missing = self._missing_scopes(route)
        if missing:
            return self._missing_scope_answer(missing)
        faults = self._faults
        if faults.error_5xx_rate and self._random.random() < faults.error_5xx_rate:
            status = self._random.choice(sorted(SERVER_ERRORS))
            category, message = SERVER_ERRORS[status]
            return self._error(status, category, message)
        answer = self._handler(now, route, query, body)
        if faults.apply_then_fail_rate and self._random.random() < faults.apply_then_fail_rate:
            category, message = SERVER_ERRORS[502]
            return self._error(502, category, message)
        return answer

    def _handler(self, now: float, route: Route, query: dict[str, list[str]], body: Any) -> Answer:
        p = route.params
        if route.kind == "owners":
            return self._list_owners(query)
        if route.kind == "property_read":
            return self._read_property(p["type"], p["name"])
        if route.kind == "property_create":
            return self._create_property(p["type"], body)
        if route.kind == "object_read":
            return self._read_object(p["type"], p["id"], query)
        if route.kind == "search":
            return self._search(now, p["type"], body)
        if route.kind == "associations":
            if p["op"] == "create":
                return self._associate(p["from"], p["to"], body["inputs"])
            return self._read_associations(p["from"], p["to"], body["inputs"])
        op, object_type = p["op"], p["type"]
        if op == "create":
            return self._batch_create(object_type, body["inputs"])
        if op == "update":
            return self._batch_update(object_type, body["inputs"])
        if op == "upsert":
            return self._batch_upsert(object_type, body["inputs"])
        if op == "read":
            return self._batch_read(object_type, body)
        return self._batch_archive(now, object_type, body["inputs"])


__all__ = [
    "ALL_SCOPES",
    "ASSOCIATION_TYPES",
    "DEFAULT_PROPERTIES",
    "Faults",
    "HubSpotDouble",
    "ManualClock",
    "OBJECT_TYPES",
    "STAND_IN_HEADER",
    "STAND_IN_NAME",
    "openapi_contract",
    "serve_double",
    "serving",
]
