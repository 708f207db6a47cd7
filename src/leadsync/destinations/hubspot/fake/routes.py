"""Which endpoint a request names: the route table of both path styles (``/crm/v3/...`` and
the dated ``/crm/objects/2026-03/...``) and the query string as lists of values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs


@dataclass
class Route:
    kind: str  # owners, token_info, property_create, property_read, batch, search, ...
    key: str  # the endpoint's name in the statistics
    params: dict[str, str]


def parse_query(query: Mapping[str, list[str]] | str | bytes) -> dict[str, list[str]]:
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    if isinstance(query, str):
        return parse_qs(query, keep_blank_values=True)
    return {k: list(v) for k, v in query.items()}


_OBJECTS = r"/crm/(?:v3/objects|objects/[^/]+)/(?P<type>[^/]+)"
ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), kind)
    for method, pattern, kind in (
        ("GET", r"/crm/(?:v3/owners|owners/[^/]+)/?", "owners"),
        ("POST", r"/oauth/v2/private-apps/get/access-token-info", "token_info"),
        ("POST", r"/crm/(?:v3/properties|properties/[^/]+)/(?P<type>[^/]+)", "property_create"),
        (
            "GET",
            r"/crm/(?:v3/properties|properties/[^/]+)/(?P<type>[^/]+)/(?P<name>[^/]+)",
            "property_read",
        ),
        ("POST", _OBJECTS + r"/batch/(?P<op>create|update|upsert|read|archive)", "batch"),
        ("POST", _OBJECTS + r"/search", "search"),
        ("GET", _OBJECTS + r"/(?P<id>[^/]+)", "object_read"),
        (
            "POST",
            r"/crm/(?:v4/associations|associations/[^/]+)/(?P<from>[^/]+)/(?P<to>[^/]+)"
            r"/batch/(?P<op>create|read)",
            "associations",
        ),
    )
)


def route_of(method: str, path: str) -> Route | None:
    for route_method, pattern, kind in ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            if kind == "owners":
                key = "GET owners"
            elif kind == "token_info":
                key = "POST token-info"
            elif kind == "property_create":
                key = f"POST properties/{params['type']}"
            elif kind == "property_read":
                key = f"GET properties/{params['type']}/{{name}}"
            elif kind == "batch":
                key = f"POST objects/{params['type']}/batch/{params['op']}"
            elif kind == "search":
                key = f"POST objects/{params['type']}/search"
            elif kind == "object_read":
                key = f"GET objects/{params['type']}/{{id}}"
            else:
                key = f"POST associations/{params['from']}/{params['to']}/batch/{params['op']}"
            return Route(kind, key, params)
    return None
