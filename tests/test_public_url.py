"""`serve --public-url`: the base URL vendors call behind a proxy, which HubSpot's v3
signature covers. Anything else was accepted and every HubSpot request then failed its
signature (401) — no scheme, a query, and most often the whole webhook URL, which put
/webhooks/NAME in twice (found by a probe)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadsync.api.webhooks import public_base, public_uri
from leadsync.cli import app
from leadsync.errors import UserError


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("https://hooks.acme.test", "https://hooks.acme.test"),
        ("https://hooks.acme.test/", "https://hooks.acme.test"),
        ("http://hooks.acme.test:8443/leadsync/", "http://hooks.acme.test:8443/leadsync"),
        ("https://acme.test/webhooks", "https://acme.test/webhooks"),  # a prefix of that name
    ],
)
def test_a_base_url_is_taken(given: str, base: str) -> None:
    assert public_base(given) == base
    assert public_uri("http", "127.0.0.1", "/webhooks/crm", "", public_base(given)) == (
        f"{base}/webhooks/crm"
    )


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("hooks.acme.test", "is not an http(s) URL"),
        ("ftp://hooks.acme.test", "is not an http(s) URL"),
        ("https://hooks.acme.test/?x=1", "has a query or fragment"),
        ("https://hooks.acme.test/webhooks/hubspot", "holds the webhook path"),
        ("https://hooks.acme.test/webhooks/hubspot/", "holds the webhook path"),
    ],
)
def test_anything_else_is_refused_saying_what_is_allowed(given: str, why: str) -> None:
    with pytest.raises(UserError) as refused:
        public_base(given)
    said = str(refused.value)
    assert said.startswith(f"--public-url {given!r} {why}")
    assert "allowed: the base URL vendors call, http(s)://host[:port][/prefix]" in said


def test_serve_refuses_it_before_it_starts(tmp_path: Path) -> None:
    url = "https://hooks.acme.test/webhooks/hubspot"
    db = f"sqlite:///{tmp_path / 'ws.db'}"
    ran = CliRunner().invoke(app, ["--db", db, "serve", "--port", "0", "--public-url", url])
    assert ran.exit_code == 2, ran.output
    assert "holds the webhook path" in ran.stderr and "without /webhooks/NAME" in ran.stderr
