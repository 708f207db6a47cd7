"""``records show`` of a record HubSpot has tells a refusal of its later change."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import contact_line
from tests.test_hubspot_portal_switch import config


def test_records_show_says_when_hubspot_refused_a_later_change(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record HubSpot has, whose next change HubSpot refused: ``records show`` said only
    "in HubSpot: ID (pushed …)", as if all were well."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    with Workspace(db_url, hubspot_transport=hub.transport()) as ws:
        ws.apply_config(config("https://api.hubapi.com"))
        ws.hubspot_setup()
        ws.ingest("dialer", [contact_line("p-1", "u-1")])
        ws.push()
        hub.set_faults(partial_207_rate=1.0, seed=1)
        ws.ingest("dialer", [contact_line("p-1", "u-1", "2026-11-02T09:00:00Z")])
        ws.push()
        assert len(ws.push_failures()) == 1
        [found] = ws.find(external="dialer:p-1")
    shown = CliRunner().invoke(
        app, ["--db", db_url, "records", "show", "contact", str(found["id"])]
    )
    assert shown.exit_code == 0, shown.output
    assert "in HubSpot: " in shown.stdout
    assert "HubSpot refused its last change: " in shown.stdout
