"""The health dashboard: its per-day queries give exact counts on a small known workspace
(SQLite and PostgreSQL) and add up to the report's numbers; in Chromium the page shows the
report's checks as cards linking to their records, and charts drawn with their tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.model import add_days, now_ts
from leadsync.ops.testlead import TEST_DOMAIN, TEST_PREFIX
from leadsync.store import dashboard as per_day
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, sign_in, signed_in
from tests.helpers import call_line, contact_line, setup
from tests.live import LiveServer, wait_until
from tests.test_console_records import build_known_workspace

DAY1, DAY2 = "2026-11-08", "2026-11-09"
NOW = "2026-11-10T12:00:00.000Z"
SINCE, UNTIL = "2026-11-01T00:00:00.000Z", "2026-11-30T00:00:00.000Z"


def rows(found: Any) -> list[tuple[str, str | None, int]]:
    return [(day, integration, int(n)) for day, integration, n in found]


def test_each_per_day_query_counts_the_known_workspace(workspace: Workspace) -> None:
    build_known_workspace(workspace, DAY1, DAY2)
    received = {row["received_at"][:10] for row in workspace.inbox_rows()}
    assert len(received) == 1  # every line was received in one run, today
    today = received.pop()
    wide = ("2026-01-01T00:00:00.000Z", "2999-01-01T00:00:00.000Z")
    with workspace.engine.connect() as c:
        assert rows(per_day.events_per_day(c, *wide)) == [(today, "dialer", 8)]
        assert rows(per_day.activities_per_day(c, SINCE, UNTIL, TEST_PREFIX)) == [
            (DAY1, "dialer", 1),
            (DAY2, "dialer", 1),
        ]
        assert rows(per_day.skips_per_day(c, SINCE, UNTIL, TEST_PREFIX)) == [(DAY1, "dialer", 1)]
        changes = per_day.owner_changes_per_day(c, SINCE, UNTIL, TEST_DOMAIN)
        assert [(day, i, strategy, int(n)) for day, i, strategy, n in changes] == [
            (DAY1, "dialer", None, 1),  # Kim set; Sam's unmapped rep was ignored
            (DAY2, "dialer", None, 3),  # p-3 set, Kim moved, Globex set
        ]
        assert rows(per_day.unowned_new_per_day(c, SINCE, UNTIL, TEST_DOMAIN)) == [(DAY1, None, 1)]
        assert rows(per_day.open_dead_letters_per_day(c, *wide)) == [(today, "dialer", 1)]
        # The windows are half-open: nothing of DAY2 before DAY2, nothing at or after until.
        assert rows(per_day.activities_per_day(c, SINCE, f"{DAY2}T00:00:00.000Z", TEST_PREFIX)) == [
            (DAY1, "dialer", 1)
        ]
        assert rows(per_day.skips_per_day(c, f"{DAY2}T00:00:00.000Z", UNTIL, TEST_PREFIX)) == []


def test_the_charts_add_up_to_the_reports_numbers(workspace: Workspace) -> None:
    build_known_workspace(workspace, DAY1, DAY2)
    board = workspace.dashboard(NOW)
    assert board.days[0] == "2026-11-03" and board.days[-1] == "2026-11-10"
    charts = {chart.key: chart for chart in board.charts}
    report = {f.check: f for f in workspace.report(board.since, NOW).findings}
    unowned = report["unowned_new_leads"]
    assert charts["unowned"].total == sum(r["records"] for r in unowned.rows if "records" in r) == 1
    assert charts["skipped"].total == 1
    assert report["activities_not_created"].summary.startswith("1 activity received")
    series = {s.label: s.values for s in charts["activities"].series}
    assert series == {"dialer": [0, 0, 0, 0, 0, 1, 1, 0]}
    owner_changes = {s.label: s.values for s in charts["owner_changes"].series}
    assert owner_changes == {"dialer": [0, 0, 0, 0, 0, 1, 3, 0]}
    cards = {card.check: card for card in board.cards}
    assert [(r.type, r.id) for r in cards["unowned_new_leads"].records] == [("contact", 2)]
    assert cards["unowned_new_leads"].alert and not cards["owner_flapping"].alert
    assert board.push is None  # no destination


def test_the_skipped_chart_counts_activities_as_the_report_does(workspace: Workspace) -> None:
    """A short call's three events are one call skipped, and the test lead's skipped call is
    none: the chart's days add up to the report's count."""
    build_known_workspace(workspace, DAY1, DAY2)
    short = [call_line("c-9", "p-1", 3, f"{DAY2}T1{h}:00:00Z") for h in (1, 2, 3)]
    workspace.ingest(
        "dialer", [*short, call_line(f"{TEST_PREFIX}c", "p-1", 2, f"{DAY2}T15:00:00Z")]
    )
    board = workspace.dashboard(NOW)
    skipped = next(c for c in board.charts if c.key == "skipped")
    assert {s.label: s.values for s in skipped.series} == {"dialer": [0, 0, 0, 0, 0, 1, 1, 0]}
    report = {f.check: f for f in workspace.report(board.since, NOW).findings}
    assert skipped.total == 2
    assert report["activities_not_created"].summary.startswith("2 activities received")


def test_owner_changes_are_charted_by_who_made_them(workspace: Workspace) -> None:
    """Owner changes made without an integration are charted by who made them (a person in
    the CRM, an admin's undo), each its own series; a count without integrations is "all"."""
    build_known_workspace(workspace, DAY1, DAY2)
    lee = workspace.find(email="lee@globex.test")[0]
    # Undo the dialer's changes of DAY2 (p-3 set, Kim moved, Globex set), then a person sets
    # p-3's owner in the CRM: all on DAY2.
    undone = workspace.undo(
        integration="dialer", since=f"{DAY2}T00:00:00.000Z", at=f"{DAY2}T12:00:00.000Z"
    )
    assert len(undone.restored) == 3
    workspace.set_owner("contact", lee["id"], "101", at=f"{DAY2}T13:00:00.000Z")
    board = workspace.dashboard(NOW)
    changes = {
        s.label: s.values for s in next(c for c in board.charts if c.key == "owner_changes").series
    }
    assert changes == {
        "dialer": [0, 0, 0, 0, 0, 1, 3, 0],
        "an admin": [0, 0, 0, 0, 0, 0, 3, 0],
        "a person in the CRM": [0, 0, 0, 0, 0, 0, 1, 0],
    }
    unowned = next(c for c in board.charts if c.key == "unowned").series
    assert [s.label for s in unowned] == ["all"]


# ------------------------------------------------------------------------ in Chromium


@pytest.fixture
def days() -> tuple[str, str]:
    today = now_ts()
    return add_days(today, -2)[:10], add_days(today, -1)[:10]


@pytest.fixture
def live(tmp_path: Path, sqlite_template: Path, days: tuple[str, str]) -> Iterator[LiveServer]:
    path = tmp_path / "health.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws:
        build_known_workspace(ws, *days)
        with console_server(ws) as server:
            yield server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE)
    yield context.new_page()
    context.close()


def test_the_dashboard_draws_its_charts_with_tables_of_the_same_counts(
    live: LiveServer, page: Any, days: tuple[str, str]
) -> None:
    sign_in(page, live, PASSWORD, "/health")
    assert page.get_by_role("heading", level=1).inner_text() == "Health"
    for key in ("events", "activities", "skipped", "owner_changes", "unowned", "dead_letters"):
        page.locator(f"#chart-{key} canvas").wait_for()  # drawn by uPlot
    activities = page.locator("#chart-activities")
    table = activities.locator(".chart-table table")
    assert not table.is_visible()
    activities.get_by_text("Activities created as a table").click()
    assert table.is_visible()
    assert table.locator("thead th").all_inner_texts() == ["Day", "dialer"]
    for day in days:
        assert table.locator(f'tr[data-day="{day}"] td').inner_text() == "1"
    changes = page.locator(f'#chart-owner_changes tr[data-day="{days[1]}"] td')
    assert changes.text_content() == "3"
    assert page.locator("#chart-skipped h3").inner_text() == "Activities skipped (1 in all)"


def test_a_checks_card_links_to_its_records(live: LiveServer, page: Any) -> None:
    sign_in(page, live, PASSWORD, "/health")
    unowned = page.locator('li.card[data-check="unowned_new_leads"]')
    assert unowned.locator(".badge").inner_text() == "alert"
    assert page.locator('li.card[data-check="owner_flapping"] .badge').inner_text() == "ok"
    letters = page.locator('li.card[data-check="dead_letters"]')
    assert letters.get_by_role("link", name="dialer").get_attribute("href") == (
        "/dead-letters?integration=dialer"
    )
    unowned.get_by_role("link", name="contact 2").click()
    page.wait_for_url(f"{live.base_url}/records/contact/2")
    assert page.get_by_role("heading", level=1).inner_text() == "Contact 2: Sam"
    assert page.locator("dd.owner").inner_text() == "no owner"
    reason = page.locator("table.owner-history td.reason").inner_text()
    assert reason.startswith("ignored: rep u-7 has no known email")


def test_the_flapping_card_says_who_changed_each_record_and_its_history(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """As ``leadsync report`` lists them: each flapping record with its count, ``by`` and its
    owner changes (the first owner marked as not counted), owners by name."""
    path = tmp_path / "flapping.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws:
        setup(ws, ownership={"default": "integration_wins"})
        owners = ("u-1", "u-9", "u-1", "u-9")
        at = [add_days(now_ts(), n - 5)[:10] + "T09:00:00Z" for n in range(len(owners))]
        ws.ingest("dialer", [contact_line("p-1", o, t) for o, t in zip(owners, at, strict=True)])
        [contact] = ws.find(external="dialer:p-1")
        with console_server(ws) as live:
            client = signed_in(live.client, PASSWORD)

            def card() -> str | None:
                text = client.get("/health").text
                found = text.partition('data-check="owner_flapping"')[2]
                return found.partition('<li class="card')[0] or None

            shown = wait_until(card, "the flapping card")
    record = f"/records/contact/{contact['id']}"
    assert f'<a href="{record}">contact {contact["id"]}</a>: 3 changes by dialer' in shown
    history = [
        line.strip()
        for line in shown.split('<ol class="history">')[1].split("</ol>")[0].split("<li>")[1:]
    ]
    assert [h.split(": ", 1)[1].removesuffix("</li>").strip() for h in history] == [
        "no owner → Ana Ng by dialer (integration_wins), not counted",
        "Ana Ng → Bo Li by dialer (integration_wins)",
        "Bo Li → Ana Ng by dialer (integration_wins)",
        "Ana Ng → Bo Li by dialer (integration_wins)",
    ]


def test_the_unowned_and_unmapped_cards_list_the_reports_rows(
    tmp_path: Path, sqlite_template: Path, days: tuple[str, str]
) -> None:
    """As ``leadsync report`` lists them: unowned new leads per integration with why, and each
    unmapped rep with its events, when last seen and how it found no owner — the report's own
    rows, the integration linked to its settings."""
    path = tmp_path / "cards.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as ws:
        build_known_workspace(ws, *days)
        with console_server(ws) as live:
            client = signed_in(live.client, PASSWORD)

            def cards() -> dict[str, str] | None:
                text = client.get("/health").text
                card = '<li class="card'
                found = {
                    check: text.partition(f'data-check="{check}"')[2].partition(card)[0]
                    for check in ("unowned_new_leads", "unmapped_external_users")
                }
                return found if all(found.values()) else None

            shown = wait_until(cards, "the health cards")
    unowned, unmapped = shown["unowned_new_leads"], shown["unmapped_external_users"]
    assert (
        '<li><a href="/integrations/dialer/settings">dialer</a>: 1 contact or lead — '
        "unmapped rep, policy leave</li>"
    ) in unowned
    assert '<a href="/records/contact/2">contact 2</a>' in unowned  # the records, as before
    assert (
        '<li><a href="/integrations/dialer/settings#users">dialer</a>: rep <code>u-7</code> '
        f"(no email): 1 event, last seen {days[0]}T09:10:00Z — rep u-7 has no known email and "
        "is not in the map, and the unmapped policy is leave</li>"
    ) in unmapped
