"""A real leadsync service on a free local port, for the tests that talk HTTP to it.

``serve`` runs :func:`leadsync.api.app.create_service` (what ``leadsync serve`` runs; with
``fast_path=False`` the plain FastAPI app) under uvicorn in a background thread, so the
lifespan starts the group-commit writer and the worker; it yields once the socket listens,
and stops the server and joins the thread on exit. The workspace both test files use is
built here too: one integration of each kind they exercise, secrets passed through
``environ``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from leadsync.api.app import ServiceOptions, create_service
from leadsync.sources.hubspot import sign_v3
from leadsync.workspace import Workspace
from tests.helpers import settings, workspace_config

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"

ADMIN_TOKEN = "admin-token-for-tests"
DIALER_SECRET = "dialer-secret-for-tests"
AIRCALL_TOKEN = "tok-4f1c9a0e"  # the token in the Aircall fixtures
HUBSPOT_SECRET = "hubspot-secret-for-tests"
HUBSPOT_APP_ID = "777"
SALESFORCE_ORG = "00D5g000004Xyz1EAC"  # the organization of the Salesforce fixtures
# A fixed "now" for the signature windows (HubSpot's 5 minutes).
NOW = 1_790_000_100.0
NOW_MS = int(NOW * 1000)

ENVIRON = {
    "DIALER_SECRET": DIALER_SECRET,
    "AIRCALL_TOKEN": AIRCALL_TOKEN,
    "HUBSPOT_SECRET": HUBSPOT_SECRET,
}


def integrations() -> dict[str, dict[str, Any]]:
    """``dialer`` and ``router`` (generic; fill-if-empty and integration-wins), ``phone``
    (Aircall), ``crm`` (HubSpot, with leadsync's app id), ``sf`` (Salesforce Outbound
    Messages) and ``nosecret`` (generic, its secret variable unset)."""
    leave = {"unmapped": {"policy": "leave"}}
    return {
        "dialer": settings(secret_env="DIALER_SECRET"),
        "router": settings(secret_env="DIALER_SECRET", ownership={"default": "integration_wins"}),
        "phone": {"kind": "aircall", "secret_env": "AIRCALL_TOKEN", "users": leave},
        "crm": {
            "kind": "hubspot",
            "secret_env": "HUBSPOT_SECRET",
            "vendor": {"app_id": HUBSPOT_APP_ID},
        },
        "sf": {"kind": "salesforce", "vendor": {"organization_id": SALESFORCE_ORG}, "users": leave},
        "nosecret": settings(secret_env="UNSET_SECRET_FOR_TESTS"),
    }


def configure(ws: Workspace) -> None:
    ws.apply_config(workspace_config(integrations()))


@dataclass
class LiveServer:
    app: FastAPI
    port: int
    client: httpx.Client

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def webhook_uri(self, integration: str) -> str:
        """The URI the server sees for a webhook (what HubSpot's signature covers)."""
        return f"{self.base_url}/webhooks/{integration}"

    def post_generic(
        self,
        integration: str,
        body: bytes,
        content_type: str = "application/json",
        secret: str = DIALER_SECRET,
    ) -> httpx.Response:
        return self.client.post(
            f"/webhooks/{integration}",
            content=body,
            headers={"content-type": content_type, **generic_signature(body, secret)},
        )


def generic_signature(body: bytes, secret: str = DIALER_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"x-leadsync-signature": f"sha256={digest}"}


def vendor_headers(
    kind: str,
    body: bytes,
    uri: str,
    secret: str,
    content_type: str = "application/json",
    now: float = NOW,
) -> dict[str, str]:
    """The headers a real sender of ``kind`` sends with ``body`` to ``uri``, signed as the
    vendor signs, by the vendor's own recipe (../shared/VENDORS.md), computed here rather
    than by leadsync (Calendly's signed at ``now``; Aircall's token is in the body; a
    Salesforce Outbound Message names its organization in the body; Pipedrive's secret is
    ``user:password``)."""
    headers = {"content-type": content_type}
    if kind == "generic" or (kind == "salesforce" and content_type == "application/json"):
        headers["x-leadsync-signature"] = "sha256=" + _hex_hmac(secret, body)
    elif kind == "calendly":
        stamp = str(int(now))
        mac = _hex_hmac(secret, stamp.encode() + b"." + body)
        headers["calendly-webhook-signature"] = f"t={stamp},v1={mac}"
    elif kind == "hubspot":
        headers.update(sign_v3(secret, "POST", uri, body, NOW_MS))
    elif kind == "outreach":
        headers["outreach-webhook-signature"] = _hex_hmac(secret, body)
    elif kind == "salesloft":
        headers["x-salesloft-signature"] = _hex_hmac(secret, body, "sha1")
    elif kind == "pipedrive":
        headers["authorization"] = "Basic " + base64.b64encode(secret.encode()).decode()
    return headers


def _hex_hmac(secret: str, message: bytes, digest: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, digest).hexdigest()


def compact(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


@contextmanager
def serve(
    ws: Workspace,
    *,
    admin_token: str | None = ADMIN_TOKEN,
    environ: dict[str, str] | None = None,
    clock: Callable[[], float] | None = lambda: NOW,
    **options: Any,
) -> Iterator[LiveServer]:
    """The service for ``ws`` listening on 127.0.0.1 (a port the OS picks)."""
    opts = ServiceOptions(
        admin_token=admin_token,
        environ=ENVIRON if environ is None else environ,
        clock=clock,
        poll_s=options.pop("poll_s", 0.05),
        **options,
    )
    service = create_service(ws, opts)
    app = service if isinstance(service, FastAPI) else service.app
    config = uvicorn.Config(service, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="leadsync-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    headers = {"authorization": f"Bearer {admin_token}"} if admin_token else {}
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30)
    try:
        yield LiveServer(app, port, client)
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive(), "the test server did not stop"


def checkpoint(path: Path) -> None:
    """Every committed page of a SQLite workspace into the file itself (the write-ahead log
    emptied, so connections read the pages there): what a backup of the file alone holds."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds
    (a guard against hanging, not an assertion on timing)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def pending(ws: Workspace) -> int:
    return sum(c["count"] for c in ws.inbox_counts() if c["status"] == "pending")


def wait_applied(ws: Workspace) -> None:
    """Until the worker has taken every inbox row (applied or failed)."""
    wait_until(lambda: ws.inbox_counts() and pending(ws) == 0, "the worker to drain the inbox")


def fixture(vendor: str, name: str) -> Any:
    return json.loads((FIXTURES / vendor / name).read_text(encoding="utf-8"))
