"""The admin API's lookups: ``GET /api/lookup/email/{email}``, ``…/domain/{domain}`` and
``…/external/{integration}/{external_id}``, each answering every record found, in full.

A canonical external id is free text, and an email's local part may hold ``/``: such a value
is one path parameter, sent as is or as ``%2F`` (which the server decodes before routing),
never a 404 from the router. Added to the admin router by :func:`add_routes`. Beside them
the query parameters every admin route shares (``Limit``, the pages' and the ids' integers,
written in digits only), and :func:`checked_request`, which refuses a query parameter a route
does not take, or one given twice, and a NUL character.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, BeforeValidator, Field
from starlette.convertors import Convertor, register_url_convertor

from leadsync.errors import UserError
from leadsync.ops.listings import check_lookup
from leadsync.values import LARGEST_ID, digits_only
from leadsync.workspace import Workspace

_Digits = BeforeValidator(digits_only)
Limit = Annotated[
    int | None, Query(ge=1, le=LARGEST_ID, description="At most this many activities."), _Digits
]
PageLimit = Annotated[int, Query(ge=1, le=1000), _Digits]
PositiveId = Annotated[int, Path(ge=1, le=LARGEST_ID), _Digits]
Before = Annotated[
    int | None,
    Query(
        ge=1, le=LARGEST_ID, description="The next page: the id (seq) of the last row of this one."
    ),
    _Digits,
]
After = Annotated[
    int | None,
    Query(ge=0, le=LARGEST_ID, description="The `next_after` of the previous page."),
    _Digits,
]


class Count(BaseModel):
    """How many there are (`…/count`)."""

    count: int


class RecordList(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="Each record as `GET /api/records/{type}/{id}` returns it."
    )


class _Text(Convertor[str]):
    """``{name:text}``: one character or more, ``/`` included. Starlette's ``path`` takes none
    too, and a path one segment short then matched it with a slash added: a 307, never an
    answer."""

    regex = ".+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("text", _Text())


def checked_request(request: Request) -> None:
    """A dependency of the admin routes: a query parameter the route does not take is a 400
    naming it and the ones it takes — a misspelled filter (``integraton=``) would otherwise be
    left out, and the answer, unfiltered, taken for the filtered one; so is one given twice
    (``?limit=1&limit=2`` was answered for the last), and a NUL character in the path or the
    query (no text field holds one: PostgreSQL refuses it, where SQLite would look it up)."""
    query = request.query_params.multi_items()
    if "\x00" in request.url.path or any("\x00" in k + v for k, v in query):
        raise UserError(
            "the path or the query holds a NUL character (%00); allowed: text without one"
        )
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    taken: set[str] = set()
    pending = [dependant]
    while pending:  # the route's own parameters and its dependencies'
        current = pending.pop()
        taken.update(getattr(p, "alias", None) or p.name for p in current.query_params)
        pending.extend(current.dependencies)
    unknown = sorted(set(request.query_params) - taken)
    if unknown:
        allowed = ", ".join(sorted(taken)) or "none"
        raise UserError(f"query parameter {unknown[0]!r} is not taken here; allowed: {allowed}")
    for name in sorted(set(request.query_params)):
        given = len(request.query_params.getlist(name))
        if given > 1:
            raise UserError(f"query parameter {name!r} is given {given} times; allowed: once")


def add_routes(router: APIRouter, workspace: Workspace) -> None:
    """The lookups on the admin API's ``router``."""

    def matches(limit: int | None, **key: str) -> RecordList:
        found = workspace.find(**key)
        return RecordList(records=[workspace.record(r["type"], r["id"], limit) for r in found])

    @router.get("/lookup/email/{email:text}", summary="Contacts by email")
    def records_by_email(email: str, limit: Limit = None) -> RecordList:
        """Every contact with that email (trimmed, case-insensitive), in full; text that is
        not an email address is 400, as `leadsync records find --email` refuses it."""
        check_lookup(email, None, "email", "/api/lookup/domain/DOMAIN")
        return matches(limit, email=email)

    @router.get("/lookup/domain/{domain:text}", summary="Companies by domain")
    def records_by_domain(domain: str, limit: Limit = None) -> RecordList:
        """Every company with that domain (lowercased, without `www.`), in full; text that
        is not a domain is 400, as `leadsync records find --domain` refuses it."""
        check_lookup(None, domain, "email", "domain")
        return matches(limit, domain=domain)

    @router.get(
        "/lookup/external/{integration}/{external_id:text}",
        summary="Records by the id a tool gave them",
    )
    def records_by_external(integration: str, external_id: str, limit: Limit = None) -> RecordList:
        """Every record the integration knows by that external id, in full (an id holding
        `/` is taken whole, as sent or as `%2F`); an integration neither configured nor with
        rows here is 404."""
        return matches(limit, external=f"{integration}:{external_id}")
