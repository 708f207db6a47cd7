"""The admin API's bearer token: :func:`require_admin`, the dependency of every ``/api``
route and of ``/metrics``, which lets a request in only with ``Authorization: Bearer
<LEADSYNC_ADMIN_TOKEN>`` (or the viewer token, to read) and makes an address that keeps
guessing wait."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from leadsync.web.auth import FailedTries

from .problems import ProblemError

_bearer = HTTPBearer(
    auto_error=False,
    description="The value of LEADSYNC_ADMIN_TOKEN; LEADSYNC_VIEWER_TOKEN's reads only "
    "(GET and HEAD; anything else is 403).",
)
READS = ("GET", "HEAD")


def require_admin(
    token: str | None,
    tries: FailedTries | None = None,
    clock: Callable[[], float] = time.time,
    viewer: str | None = None,
) -> Callable[..., None]:
    """A dependency that lets a request in only with ``Authorization: Bearer <token>``, or
    the ``viewer`` token to read (GET, HEAD; anything else is 403, as the console refuses a
    viewer's change — not a wrong guess). With ``tries``, a wrong token counts against the
    client's address (with the console's failed sign-ins, when they share it) and an address
    past the limit gets 429 with ``Retry-After``, whatever token it gives, until the window
    lets it try again."""

    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        challenge = {"WWW-Authenticate": "Bearer"}
        client = request.client.host if request.client is not None else "unknown"
        refused = tries.refusal(client, clock()) if tries is not None else None
        if refused is not None:
            wait_s, why = refused
            raise ProblemError(
                429,
                "Too many failed tries",
                f"{why}; try again in {wait_s} s",
                headers={"Retry-After": str(wait_s)},
            )
        if not token:
            raise ProblemError(
                401,
                "Admin API disabled",
                "the server has no admin token; set LEADSYNC_ADMIN_TOKEN and restart it",
                headers=challenge,
            )
        if len(set(request.headers.getlist("authorization"))) > 1:
            raise ProblemError(
                401,
                "Unauthorized",
                "header Authorization is given more than once with different values; allowed: once",
                headers=challenge,
            )
        if credentials is None:
            raise ProblemError(
                401,
                "Unauthorized",
                _not_bearer(request.headers.get("authorization")),
                headers=challenge,
            )
        given = credentials.credentials.encode()
        if viewer and hmac.compare_digest(given, viewer.encode()):
            if request.method in READS:
                return
            raise ProblemError(
                403,
                "Forbidden",
                f"the viewer token reads only ({' and '.join(READS)}); "
                f"{request.method} takes the admin token",
            )
        if not hmac.compare_digest(given, token.encode()):
            if tries is not None:
                tries.failed(client, clock())
            raise ProblemError(401, "Unauthorized", "wrong admin token", headers=challenge)

    return check


def _not_bearer(given: str | None) -> str:
    """Why ``Authorization`` gave no bearer token, never showing its credentials."""
    if given is None:
        return "missing header Authorization: Bearer <token>"
    scheme, _, rest = given.strip().partition(" ")
    if scheme.lower() == "bearer" and not rest.strip():
        return "header Authorization names no token; allowed: Bearer <token>"
    if not rest.strip() or not scheme.isalpha() or len(scheme) > 20:
        return "header Authorization has no scheme; allowed: Bearer <token>"
    return f"header Authorization uses the scheme {scheme!r}; allowed: Bearer <token>"
