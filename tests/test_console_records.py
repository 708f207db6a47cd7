"""The console's records pages: the search (each field, prefixes, keyset pages) on SQLite
and PostgreSQL, then in Chromium — find a record by email, domain, name and external id,
open it, and read its owner history with the reasons and what HubSpot has."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from leadsync.errors import UserError
from leadsync.model import add_days, now_ts
from leadsync.ops.records import search
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, WIDE, console_server, sign_in
from tests.helpers import call_line, ev, run, settings, setup, workspace_config
from tests.live import LiveServer


def build_known_workspace(ws: Workspace, day1: str, day2: str) -> None:
    """Two days of a dialer (``integration_wins``, unmapped reps left without owner):

    ``day1``: Kim Lee (p-1, rep u-1 → 101), Sam (p-2, rep u-7 unmapped: no owner), a 95 s
    call on Kim (created) and a 4 s one (skipped, shorter than min_duration_s).
    ``day2``: p-3 (rep u-9 → 102), Kim moved to u-9 (→ 102), a 30 s call on p-3, the
    company Globex (globex.test, → 101). Plus one unreadable line (a dead letter, received
    now)."""
    setup(ws, ownership={"default": "integration_wins"}, users={"unmapped": {"policy": "leave"}})
    kim = {"email": "kim@globex.test", "firstname": "Kim", "lastname": "Lee"}
    run(
        ws,
        ev(
            "record",
            f"{day1}T09:00:00Z",
            object="contact",
            external_id="p-1",
            owner="u-1",
            properties=kim,
        ),
        ev(
            "record",
            f"{day1}T09:10:00Z",
            object="contact",
            external_id="p-2",
            owner="u-7",
            properties={"email": "sam@initech.test", "firstname": "Sam"},
        ),
        json.loads(call_line("c-1", "p-1", 95, f"{day1}T10:00:00Z")),
        json.loads(call_line("c-2", "p-1", 4, f"{day1}T11:00:00Z")),
        ev(
            "record",
            f"{day2}T09:00:00Z",
            object="contact",
            external_id="p-3",
            owner="u-9",
            properties={"email": "lee@globex.test"},
        ),
        ev("owner", f"{day2}T09:30:00Z", object="contact", external_id="p-1", owner="u-9"),
        json.loads(call_line("c-3", "p-3", 30, f"{day2}T10:00:00Z")),
        ev(
            "record",
            f"{day2}T11:00:00Z",
            object="company",
            external_id="a-1",
            owner="u-1",
            properties={"name": "Globex", "domain": "globex.test"},
        ),
    )
    bad = {"id": "bad-1", "occurred_at": f"{day2}T10:00:00Z", "type": "meeting_booked"}
    ws.ingest("dialer", [json.dumps(bad)], source="captured.jsonl")


def ids(ws: Workspace, by: str, text: str) -> list[int]:
    return [r.id for r in ws.search_records(by, text).records]


def test_each_field_is_searched_by_its_start(workspace: Workspace) -> None:
    build_known_workspace(workspace, "2026-11-08", "2026-11-09")
    kim, sam, lee, globex = 1, 2, 3, 4
    assert ids(workspace, "email", "kim@globex.test") == [kim]
    assert ids(workspace, "email", " KIM@") == [kim]  # normalized as stored
    assert ids(workspace, "email", "sam@globex") == []
    assert ids(workspace, "domain", "https://www.Globex.test/about") == [globex]
    assert ids(workspace, "domain", "glob") == [globex]
    assert ids(workspace, "name", "kim l") == [kim]  # case does not matter
    assert ids(workspace, "name", "S") == [sam]
    assert ids(workspace, "external", "dialer:p-3") == [lee]
    assert ids(workspace, "external", "dialer:p-") == []  # an external id is exact
    workspace.apply_config(
        workspace_config(
            {
                "dialer": settings(
                    ownership={"default": "integration_wins"},
                    users={"unmapped": {"policy": "leave"}},
                ),
                "other": settings(),
            }
        )
    )
    assert ids(workspace, "external", "other:p-3") == []  # another integration's p-3: none
    found = workspace.search_records("email", "kim").records[0]
    assert (found.type, found.name, found.owner_id) == ("contact", "Kim Lee", "102")


def test_a_search_is_refused_when_it_cannot_mean_anything(workspace: Workspace) -> None:
    setup(workspace)
    with pytest.raises(UserError, match="allowed: email, domain, name, external"):
        workspace.search_records("phone", "1")
    with pytest.raises(UserError, match="type the start of the name"):
        workspace.search_records("name", "  ")
    with pytest.raises(UserError, match="expected INTEGRATION:EXTERNAL_ID"):
        workspace.search_records("external", "p-1")
    # A mistyped integration is no "no record has it" (the CLI and the API refuse it).
    with pytest.raises(UserError, match="unknown integration 'nope'; configured integrations"):
        workspace.search_records("external", "nope:p-1")


def test_pages_follow_each_other_by_key_then_id(workspace: Workspace) -> None:
    """Seven records, two named alike: pages of two cover each match once, in (name, id)
    order, whatever the case; the last page says there is no next."""
    setup(workspace)
    names = ["Ann B", "ann a", "Ann C", "Anna", "ann a", "Bob", "Anne"]
    run(
        workspace,
        *(
            ev("record", object="contact", external_id=f"p-{n}", properties={"firstname": name})
            for n, name in enumerate(names, 1)
        ),
    )
    pages: list[list[int]] = []
    after = None
    while len(pages) < 5:
        page = search(workspace.engine, workspace.rules(), "name", "AN", after, limit=2)
        pages.append([r.id for r in page.records])
        if page.next_key is None:
            break
        assert page.next_id == page.records[-1].id
        after = (page.next_key, page.next_id)
    assert pages == [[2, 5], [1, 3], [4, 7]]
    assert workspace.search_records("name", "an").next_key is None  # one page of 25


def test_a_domain_search_pages_in_domain_order(workspace: Workspace) -> None:
    setup(workspace)
    run(
        workspace,
        *(
            ev(
                "record",
                object="company",
                external_id=f"a-{n}",
                properties={"domain": f"d{n}.test"},
            )
            for n in (3, 1, 5, 2, 4)
        ),
    )
    first = search(workspace.engine, workspace.rules(), "domain", "d", limit=3)
    assert [r.domain for r in first.records] == ["d1.test", "d2.test", "d3.test"]
    assert first.next_key == "d3.test"
    rest = search(
        workspace.engine, workspace.rules(), "domain", "d", (first.next_key, first.next_id or 0), 3
    )
    assert [r.domain for r in rest.records] == ["d4.test", "d5.test"]
    assert rest.next_key is None


def test_hubspot_state_without_a_destination(workspace: Workspace) -> None:
    build_known_workspace(workspace, "2026-11-08", "2026-11-09")
    state = workspace.record_hubspot(1)
    assert (state.destination, state.state) == (False, "no destination")


# ------------------------------------------------------------------------ in Chromium


@pytest.fixture
def ws(tmp_path: Path, sqlite_template: Path) -> Iterator[Workspace]:
    path = tmp_path / "records.db"
    path.write_bytes(sqlite_template.read_bytes())
    with Workspace(f"sqlite:///{path}") as workspace:
        today = now_ts()
        build_known_workspace(workspace, add_days(today, -2)[:10], add_days(today, -1)[:10])
        yield workspace


@pytest.fixture
def live(ws: Workspace) -> Iterator[LiveServer]:
    with console_server(ws) as server:
        yield server


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=WIDE)
    yield context.new_page()
    context.close()


def search_in(page: Any, by: str, text: str) -> Any:
    page.get_by_label("Search by").select_option(label=by)
    page.get_by_label("Search for").fill(text)
    page.get_by_role("button", name="Search").click()
    page.wait_for_load_state()
    return page.locator("table.records tbody tr")


def test_a_record_is_found_by_each_field_and_opened(live: LiveServer, page: Any) -> None:
    sign_in(page, live, PASSWORD, "/records")
    for by, text, expected in (
        ("Email", "kim@glo", "contact 1"),
        ("Domain", "globex.test", "company 4"),
        ("Name", "kim", "contact 1"),
        ("External id", "dialer:p-2", "contact 2"),
    ):
        rows = search_in(page, by, text)
        assert rows.count() == 1, (by, text)
        assert rows.locator("th").inner_text() == expected
    assert search_in(page, "Email", "nobody@").count() == 0
    assert page.locator(".no-match").inner_text() == "No record's email starts with “nobody@”."
    search_in(page, "Name", "kim").get_by_role("link", name="contact 1").click()
    page.wait_for_url(f"{live.base_url}/records/contact/1")
    assert page.get_by_role("heading", level=1).inner_text() == "Contact 1: Kim Lee"
    assert page.locator("dd.owner").inner_text() == "Bo Li"


def test_the_record_page_shows_owner_history_with_reasons_and_the_timeline(
    live: LiveServer, page: Any
) -> None:
    sign_in(page, live, PASSWORD, "/records/contact/1")
    history = page.locator("table.owner-history tbody tr")
    assert history.count() == 2
    first, second = history.nth(0).locator("td"), history.nth(1).locator("td")
    # Decided and the event's time first (tests/test_faces_decision_order.py reads them).
    assert [first.nth(i).inner_text() for i in (2, 3, 4, 5, 6)] == [
        "Ana Ng",
        "no owner",
        "dialer (u-1)",
        "integration_wins",
        "set",
    ]
    assert second.nth(7).inner_text().startswith("set 102: integration_wins replaces 101")
    timeline = page.locator("table.timeline tbody tr")
    assert timeline.count() == 1  # the 4 s call was skipped
    assert "this contact (named by the event)" in timeline.locator(".associations").inner_text()
    assert page.locator(".hubspot-state").inner_text() == "No destination."
    assert page.get_by_role("link", name="← Records").is_visible()
    # Each property with who gave the value shown and when (by the vendor's clock).
    given = page.locator('ul.properties li[data-property="firstname"]').inner_text()
    assert given.startswith("firstname: Kim (given by dialer, ") and given.endswith(")")
    assert page.locator('ul.properties li[data-property="leadsync_phone_sources"]').count() == 0


def test_an_unknown_record_is_a_404_page(live: LiveServer, page: Any) -> None:
    sign_in(page, live, PASSWORD, "/records")
    response = page.goto(f"{live.base_url}/records/deal/1")
    assert response.status == 404
    assert "no deal with id 1" in page.locator("main").inner_text()


def test_a_search_the_page_cannot_take_keeps_the_form_with_the_error_beside_it(
    live: LiveServer, page: Any
) -> None:
    sign_in(page, live, PASSWORD, "/records")
    field = page.get_by_label("Search for")
    assert field.get_attribute("placeholder") == "kim@globex.test"  # the default: Email
    for typed in ("p-1", "dialer:"):
        search_in(page, "External id", typed)
        assert "Bad request" not in page.content()
        assert page.get_by_role("heading", level=1).inner_text() == "Records"
        assert field.input_value() == typed
        assert page.get_by_label("Search by").input_value() == "external"
        assert "expected INTEGRATION:EXTERNAL_ID" in page.locator("#search-error").inner_text()
        assert field.get_attribute("aria-invalid") == "true"
        assert field.get_attribute("placeholder") == "dialer:p-1"
    assert search_in(page, "External id", "dialer:p-9").count() == 0
    assert page.locator(".no-match").inner_text() == "No record has the external id “dialer:p-9”."
    assert page.locator("#search-error").count() == 0


def test_a_name_starting_with_a_letter_beyond_ascii_is_found_typed_either_way(
    workspace: Workspace,
) -> None:
    """SQLite lowers ASCII letters only, so ``Łukasz``'s key kept its ``Ł`` while the typed
    text was lowered by Python: a name starting so was never found by name."""
    setup(workspace)
    names = {"p-1": ("Łukasz", "Wójcik"), "p-2": ("Émilie", "Roux"), "p-3": ("Ana", "Ng")}
    run(workspace, *[
        ev("record", object="contact", external_id=ext,
           properties={"email": f"{ext}@globex.test", "firstname": first, "lastname": last})
        for ext, (first, last) in names.items()
    ])  # fmt: skip
    found = {ext: workspace.find(external=f"dialer:{ext}")[0]["id"] for ext in names}
    for typed in ("Łukasz", "łukasz", "Ł", "ł"):
        assert ids(workspace, "name", typed) == [found["p-1"]], typed
    for typed in ("émilie r", "Émilie R", "é"):
        assert ids(workspace, "name", typed) == [found["p-2"]], typed
    assert ids(workspace, "name", "an") == [found["p-3"]]
