"""``leadsync push --dry-run`` (with ``--backfill`` too): it writes nothing, and the requests
it lists are the ones the push then sends, ``leadsync_id`` values included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.errors import WorkspaceError
from leadsync.store.schema import DATA_TABLES
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import run
from tests.test_hubspot_push import company_contact_call, config

Request = tuple[str, str, Any]


class Recorded:
    """The stand-in behind a transport that keeps every request it forwards."""

    def __init__(self, hub: HubSpotDouble) -> None:
        self.inner = hub.transport()
        self.requests: list[Request] = []

    def transport(self) -> httpx.MockTransport:
        def forward(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content) if request.content else None
            self.requests.append((request.method, request.url.path, body))
            return self.inner.handle_request(request)

        return httpx.MockTransport(forward)


@pytest.fixture
def recorded(hub: HubSpotDouble) -> Recorded:
    return Recorded(hub)


@pytest.fixture
def ws(db_url: str, recorded: Recorded, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """Records decided before the destination was added (nothing queued: a backfill's
    work); the portal set up."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    workspace = Workspace(db_url, hubspot_transport=recorded.transport())
    plain = config()
    workspace.apply_config(plain.model_copy(update={"destination": None}))
    run(workspace, *company_contact_call())
    workspace.apply_config(plain)
    workspace.hubspot_setup()
    yield workspace
    workspace.close()


def every_row(ws: Workspace) -> dict[str, list[str]]:
    """Every row of every table of the workspace."""
    with ws.engine.connect() as connection:
        return {
            table.name: sorted(
                json.dumps(list(row), default=str)
                for row in connection.execute(sa.select(table)).all()
            )
            for table in DATA_TABLES
        }


def creates(requests: list[Request]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The create requests by path, each with its inputs' properties (the associations are
    left out: a dry run cannot know the HubSpot ids of the objects created before)."""
    return sorted(
        (path, [i["properties"] for i in body["inputs"]])
        for method, path, body in requests
        if method == "POST" and path.endswith("/batch/create")
    )


def dry_run_cli(db_url: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--db", db_url, "push", "--backfill", "--dry-run"])
    return result.exit_code, result.stdout, result.stderr


def test_a_backfill_dry_run_writes_nothing_and_lists_what_the_push_then_sends(
    ws: Workspace, db_url: str, hub: HubSpotDouble, recorded: Recorded
) -> None:
    before = every_row(ws)
    first = dry_run_cli(db_url)
    assert first[0] == 0, first[2]
    assert every_row(ws) == before  # no queue rows, no backfill mark, no key, no budget
    assert "backfill: would queue 3 objects" in first[2]
    assert '"leadsync_id"' in first[1]
    assert dry_run_cli(db_url) == first  # the same requests, the same leadsync_id values

    queued, shown = ws.push_dry_run(backfill=True)
    assert queued == 3 and every_row(ws) == before
    recorded.requests.clear()
    assert ws.backfill_push() == 3  # the backfill was not taken by the dry runs
    result = ws.push()
    assert result.failures == 0 and len(hub.objects("contacts")) == 1
    assert creates(shown) == creates(recorded.requests)
    assert [(m, p) for m, p, _ in shown] == [(m, p) for m, p, _ in recorded.requests]


def test_a_plain_dry_run_shows_the_leadsync_ids_the_push_sends(
    ws: Workspace, recorded: Recorded
) -> None:
    ws.backfill_push()
    before = every_row(ws)
    _none, shown = ws.push_dry_run()
    assert ws.push_dry_run() == (0, shown) and every_row(ws) == before
    recorded.requests.clear()
    ws.push()
    assert creates(shown) == creates(recorded.requests)


def test_a_backfill_dry_run_after_the_backfill_says_it_ran_once(ws: Workspace, db_url: str) -> None:
    ws.backfill_push()
    code, _out, err = dry_run_cli(db_url)
    assert code == 2 and "queued already (it runs once)" in err


def test_a_dry_run_before_setup_asks_for_it_and_writes_nothing(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workspace key the leadsync_id values begin with is made by ``hubspot setup``: a
    key made by a dry run would be rolled back, and the push would send other values."""
    monkeypatch.setenv("HS_TEST_TOKEN", TOKEN)
    ws = Workspace(db_url, hubspot_transport=hub.transport())
    ws.apply_config(config())
    run(ws, *company_contact_call())
    before = every_row(ws)
    with pytest.raises(WorkspaceError, match="hubspot setup"):
        ws.push_dry_run()
    code, _out, err = dry_run_cli(db_url)
    assert code == 2 and "`leadsync hubspot setup`" in err
    assert every_row(ws) == before
    ws.close()


def test_a_dry_run_with_json_is_one_json_object(ws: Workspace, db_url: str) -> None:
    """``--json``: what it would queue and every request, as JSON (it printed the text)."""
    before = every_row(ws)
    args = ["--db", db_url, "push", "--backfill", "--dry-run", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    _queued, requests = ws.push_dry_run(backfill=True)
    assert shown["backfill_queued"] == 3
    assert [(r["method"], r["path"], r["body"]) for r in shown["requests"]] == [
        (m, p, b) for m, p, b in requests
    ]
    assert every_row(ws) == before
