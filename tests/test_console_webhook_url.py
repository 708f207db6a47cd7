"""The settings page says where its webhook URL goes in words a person knows: the vendor by
its own name (Aircall, HubSpot, Salesforce), and for a generic integration the tool that sends
its events — never leadsync's internal name for the kind ("paste into generic")."""

from __future__ import annotations

import re
from html import unescape

from leadsync.workspace import Workspace
from tests.browser import console_server, signed_in
from tests.live import configure


def test_the_webhook_url_names_the_tool_it_is_pasted_into(workspace: Workspace) -> None:
    configure(workspace)
    with console_server(workspace) as live:
        client = signed_in(live.client)
        for name, tool in [
            ("dialer", "the tool that sends its events"),
            ("phone", "Aircall"),
            ("crm", "HubSpot"),
            ("sf", "Salesforce"),
        ]:
            page = client.get(f"/integrations/{name}/settings")
            assert page.status_code == 200, page.text
            text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", "", page.text)))
            assert f"Webhook URL to paste into {tool}: http://" in text, (name, text[:600])
