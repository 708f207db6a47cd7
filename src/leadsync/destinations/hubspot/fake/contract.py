"""The contract: every API request the stand-in receives is checked against ``openapi.yaml``
(leadsync's own description of the HubSpot endpoints it calls), and what is wrong is said in
readable lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.validation.request.exceptions import (
    InvalidParameter,
    InvalidRequestBody,
    MissingRequiredParameter,
    SecurityValidationError,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict

from leadsync.destinations.hubspot.fake.catalog import SPEC_HOST


@cache
def openapi_contract() -> OpenAPI:
    text = resources.files("leadsync.destinations.hubspot").joinpath("openapi.yaml").read_text()
    document = yaml.safe_load(text)
    # The schemas' $refs are inlined once: jsonschema resolves a $ref on every use, which was
    # most of the cost of checking a 100-input batch (38 ms -> 23 ms); the rules are the same.
    schemas = document.get("components", {}).get("schemas", {})
    document["paths"] = _inline_refs(document["paths"], schemas)
    return OpenAPI.from_dict(document)


def _inline_refs(node: Any, schemas: Mapping[str, Any], depth: int = 0) -> Any:
    """``node`` with ``{$ref: '#/components/schemas/X'}`` replaced by X (the schemas are not
    recursive; ``depth`` guards against one that would be)."""
    if depth > 50:
        raise ValueError("openapi.yaml: a schema refers to itself")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/") and len(node) == 1:
            return _inline_refs(schemas[ref.rsplit("/", 1)[1]], schemas, depth + 1)
        return {k: _inline_refs(v, schemas, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, schemas, depth) for v in node]
    return node


class _SpecRequest:
    """A request as openapi-core reads it."""

    def __init__(
        self, method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str]
    ) -> None:
        self.host_url = SPEC_HOST
        self.path = path
        self.method = method.lower()
        self.body: bytes | None = None
        self.content_type = headers.get("content-type", "").lower()
        pairs = [(k, v) for k, values in query.items() for v in values]
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(pairs), header=Headers(dict(headers))
        )


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_problems(where: str, exc: BaseException) -> list[str]:
    """Readable lines for openapi-core's schema errors (jsonschema ValidationErrors)."""
    cause = exc.__cause__
    if not isinstance(cause, InvalidSchemaValue):
        return [f"{where}: {exc}"]
    out = []
    for error in cause.schema_errors:
        path: Iterable[Any] = getattr(error, "path", ())
        at = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        validator = getattr(error, "validator", None)
        limit = getattr(error, "validator_value", None)
        instance = getattr(error, "instance", None)
        if validator == "maxItems" and isinstance(instance, list):
            what = f"has {len(instance)} items; at most {limit} allowed"
        elif validator == "minItems" and isinstance(instance, list):
            what = f"has {len(instance)} items; at least {limit} needed"
        elif validator == "type":
            what = f"{_short(instance)} is not of type {limit!r}"
        elif validator == "enum":
            what = f"{_short(instance)} is not one of {limit}"
        else:
            message = str(getattr(error, "message", error))
            what = message if len(message) <= 200 else message[:197] + "..."
        out.append(f"{at}: {what}")
    return out or [f"{where}: {exc}"]


def _contract_problems(
    method: str, path: str, query: dict[str, list[str]], headers: Mapping[str, str], body: bytes
) -> list[str]:
    """What is wrong with a request by openapi.yaml (empty: nothing)."""
    request = _SpecRequest(method, path, query, headers)
    request.body = body or None
    try:
        openapi_contract().validate_request(request)
    except PathError as exc:
        return [f"not in openapi.yaml ({type(exc).__name__})"]
    except InvalidRequestBody as exc:
        return _schema_problems("body", exc)
    except InvalidParameter as exc:
        return _schema_problems(f"{exc.location} parameter {exc.name}", exc)
    except MissingRequiredParameter as exc:
        return [f"{exc.location} parameter {exc.name} is required"]
    except SecurityValidationError:
        return ["the Authorization header (Bearer token) is missing"]
    except Exception as exc:  # openapi-core's other request errors (body missing, bad JSON, ...)
        message, cause = str(exc), exc.__cause__
        if cause is not None and str(cause) not in message:
            message += f": {cause}"
        return [message]
    return []
