"""The HubSpot ids leadsync stores belong to the portal they were made in. Pointing the
destination at another portal (the README's path: try the stand-in, then the real portal)
sent updates to that portal's objects by the first one's ids — overwriting whatever it held
under them — and never created leadsync's own there. Now ``hubspot setup`` refuses a token
of another portal until told ``--new-portal`` (the ids forgotten, everything queued again),
and a push after the ``base_url`` changed waits for ``hubspot setup`` to confirm it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.errors import WorkspaceError
from leadsync.settings import load_config
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import OWNERS, contact_line, settings


def config(base_url: str) -> Any:
    doc = {
        "owners": OWNERS,
        "teams": {"sdr": ["101", "102"]},
        "integrations": {"dialer": settings()},
        "destination": {"kind": "hubspot", "token_env": "HS_TEST_TOKEN", "base_url": base_url},
    }
    return load_config(json.dumps(doc), "ws.yaml")


def emails(hub: HubSpotDouble) -> set[str]:
    return {str(c["properties"].get("email")) for c in hub.objects("contacts")}


def test_a_token_of_another_portal_is_refused_until_the_workspace_moves_to_it(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    other = HubSpotDouble(TOKEN, hub_id=99)
    for owner in OWNERS:  # the same people, in the other portal
        other.add_owner(str(owner["email"]), "", "", owner_id=str(owner["id"]))
    with Workspace(db_url, hubspot_transport=hub.transport()) as ws:
        ws.apply_config(config("https://api.hubapi.com"))
        ws.hubspot_setup()
        ws.ingest("dialer", [contact_line(f"p-{i}", "u-1") for i in range(3)])
        ws.push()
        assert len(emails(hub)) == 3
        ws.hubspot_transport = other.transport()  # the same URL, another portal's token
        with pytest.raises(WorkspaceError) as refused:
            ws.hubspot_setup()
        said = str(refused.value)
        assert "leadsync pushed 3 objects to portal" in said and "--new-portal" in said
        assert other.objects("contacts") == []
        report = ws.hubspot_setup(new_portal=True)
        assert report.hub_id == "99"
        ws.push()
        assert emails(other) == emails(hub)  # created there, none overwritten
        assert len(hub.objects("contacts")) == 3


def test_a_push_after_the_base_url_changed_waits_for_setup(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    with Workspace(db_url, hubspot_transport=hub.transport()) as ws:
        ws.apply_config(config("http://127.0.0.1:8765"))
        ws.hubspot_setup()
        ws.ingest("dialer", [contact_line("p-1", "u-1")])
        ws.push()
        ws.apply_config(config("https://api.hubapi.com"))
        ws.ingest("dialer", [contact_line("p-2", "u-1")])
        with pytest.raises(
            WorkspaceError, match="run `leadsync hubspot setup` to check it is the same portal"
        ):
            ws.push()
        ws.hubspot_setup()  # the same portal (hub id): confirmed at the new URL
        ws.push()
        assert len(hub.objects("contacts")) == 2


def test_setup_warns_of_an_app_id_that_is_not_the_tokens(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HubSpot's webhooks of leadsync's own writes carry the token's app id: a destination or
    HubSpot integration naming another app would read each of them as a person's change.
    Setup says so (it said nothing)."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    doc = json.loads(config("https://api.hubapi.com").model_dump_json())
    doc["destination"]["app_id"] = "777"
    doc["integrations"]["crm"] = {"kind": "hubspot", "vendor": {"app_id": str(hub.app_id)}}
    with Workspace(db_url, hubspot_transport=hub.transport()) as ws:
        ws.apply_config(load_config(json.dumps(doc), "ws.yaml"))
        report = ws.hubspot_setup()
    assert report.warnings == [
        f"destination.app_id is '777', but the token is app {hub.app_id}'s: HubSpot webhooks "
        f'of leadsync\'s own writes carry app {hub.app_id}; set destination.app_id: "{hub.app_id}"'
    ]
