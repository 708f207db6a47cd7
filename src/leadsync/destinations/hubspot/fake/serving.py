"""Serving the double over HTTP: a plain ASGI app (each request in a worker thread, so that
latency faults sleep there and not in the event loop), uvicorn on a port
(``leadsync hubspot fake``), and a background server for end-to-end tests.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from leadsync.destinations.hubspot.fake.catalog import (
    ALL_SCOPES,
    DEFAULT_APP_ID,
    DEFAULT_HUB_ID,
    STAND_IN_HEADER,
    STAND_IN_NAME,
)
from leadsync.destinations.hubspot.fake.contract import openapi_contract

if TYPE_CHECKING:
    from leadsync.destinations.hubspot.fake import HubSpotDouble

_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]


class DoubleApp:
    """A plain ASGI app: each HTTP request goes to :meth:`HubSpotDouble.handle` in a worker
    thread (latency faults sleep there, not in the event loop)."""

    def __init__(self, double: HubSpotDouble) -> None:
        self.double = double

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client went away before its body was complete (a pusher killed
                # mid-send): HubSpot never sees such a request, so neither does the double.
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status, out_headers, body = await anyio.to_thread.run_sync(
            self.double.handle,
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            b"".join(chunks),
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.lower().encode(), v.encode()) for k, v in out_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": body})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_double(
    host: str,
    port: int,
    token: str,
    *,
    per_10s: int = 190,
    daily: int = 625_000,
    scopes: Iterable[str] = ALL_SCOPES,
    app_id: int = DEFAULT_APP_ID,
    hub_id: int = DEFAULT_HUB_ID,
    seed: int = 0,
    search_index_lag_s: float = 0.0,
    log_level: str = "warning",
) -> None:
    """Run the double over HTTP until interrupted (both version styles). ``/_double/*``
    needs no auth when bound to loopback, the token otherwise. The token is never printed."""
    import uvicorn

    from leadsync.destinations.hubspot.fake import HubSpotDouble  # the package imports this module

    double = HubSpotDouble(
        token,
        scopes=scopes,
        per_10s=per_10s,
        daily=daily,
        app_id=app_id,
        hub_id=hub_id,
        seed=seed,
        search_index_lag_s=search_index_lag_s,
    )
    openapi_contract()  # load the contract before the first request
    print(
        f"leadsync HubSpot stand-in (NOT HubSpot; header {STAND_IN_HEADER}: {STAND_IN_NAME}) "
        f"on http://{host}:{port} - paths /crm/v3/... and /crm/objects/YYYY-MM/..., "
        f"{per_10s} requests/10 s, {daily}/day, control at /_double/",
        file=sys.stderr,
        flush=True,
    )
    app = double.asgi_app(control_requires_auth=not is_loopback(host))
    uvicorn.run(app, host=host, port=port, log_level=log_level)


@contextmanager
def serving(double: HubSpotDouble, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``double`` over HTTP in a background thread (port 0: one the OS picks); yields
    the base URL and stops the server on exit. For end-to-end tests that also inspect the
    double in-process."""
    import uvicorn

    openapi_contract()
    app = double.asgi_app(control_requires_auth=not is_loopback(host))
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="hubspot-double", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the HubSpot double did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
