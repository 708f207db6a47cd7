"""Two `serve` processes on one workspace database behind a balancer that is not sticky: what
the console remembers between requests holds whichever process a request reaches — a
sign-out on one is refused by the other at once, wrong secrets add up over both (the
console's sign-in and the admin API's token alike), a form kept through a sign-in on one
is found by a sign-in on the other, and the health snapshot is the workspace's: taken once
for both, a refresh asked through one shown by the other. Each service has its own objects (its keys, its draft
keeper, its count of tries), as two processes would; they share only the database. Over
HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import httpx
import pytest
import sqlalchemy as sa

from leadsync.ops.snapshot import HealthSnapshot, SnapshotKeeper
from leadsync.web.auth import MAX_FAILED_SIGN_INS, SESSION_COOKIE, FailedTries
from leadsync.web.drafts import DRAFT_COOKIE
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, form_token
from tests.live import ADMIN_TOKEN, LiveServer, wait_until
from tests.test_console_settings import PREVIEW, SAVE, configured, form
from tests.test_console_stale_tab import opened, section, value_of


@contextmanager
def two_processes(db_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two services on one database, each with its own workspace object (its engine)."""
    with Workspace(db_url) as ws_a, Workspace(db_url) as ws_b:
        configured(ws_a)
        with console_server(ws_a) as a, console_server(ws_b) as b:
            yield a, b


class Browser:
    """One browser (one cookie jar) whose requests a balancer sends to either process;
    each request carries the ``Origin`` of the page that sent it, as Chromium's do."""

    def __init__(self) -> None:
        self.client = httpx.Client(timeout=60)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def get(self, server: LiveServer, path: str) -> httpx.Response:
        return self.client.get(f"{server.base_url}{path}")

    def post(self, server: LiveServer, path: str, data: dict[str, list[str]]) -> httpx.Response:
        return self.client.post(
            f"{server.base_url}{path}", data=data, headers={"origin": server.base_url}
        )

    def sign_in(self, server: LiveServer, secret: str, next_: str = "/") -> httpx.Response:
        page = self.get(server, f"/login?next={next_}")
        return self.post(
            server,
            "/login",
            {"secret": [secret], "csrf_token": [form_token(page.text, "/login")], "next": [next_]},
        )


def test_a_sign_out_on_one_process_is_refused_by_the_other(db_url: str) -> None:
    with two_processes(db_url) as (a, b), Browser() as browser:
        assert browser.sign_in(a, PASSWORD).status_code == 303
        cookie = browser.client.cookies[SESSION_COOKIE]
        assert browser.get(b, "/").status_code == 200  # one session, both processes
        home = browser.get(a, "/").text
        out = browser.post(a, "/logout", {"csrf_token": [form_token(home)]})
        assert out.status_code == 303 and out.headers["location"] == "/login?out=1"
        # The cookie replayed (a copy kept elsewhere), to the process that did not see it.
        with httpx.Client(timeout=60, cookies={SESSION_COOKIE: cookie}) as replay:
            refused = replay.get(f"{b.base_url}/records")
            assert refused.status_code == 303
            assert refused.headers["location"].startswith("/login")
            assert replay.get(f"{a.base_url}/records").status_code == 303


def test_wrong_secrets_add_up_over_both_processes(db_url: str) -> None:
    with two_processes(db_url) as (a, b), Browser() as browser:
        half = MAX_FAILED_SIGN_INS // 2
        for server, tries in ((a, half), (b, MAX_FAILED_SIGN_INS - half - 1)):
            for _ in range(tries):
                assert browser.sign_in(server, "not-the-password").status_code == 401
        # One more wrong token on the admin API of A: the limit, over both processes.
        wrong = httpx.get(
            f"{a.base_url}/api/integrations", headers={"authorization": "Bearer wrong"}
        )
        assert wrong.status_code == 401
        for server in (a, b):
            refused = browser.sign_in(server, PASSWORD)
            assert refused.status_code == 429, refused.text
            assert f"wrong secret {MAX_FAILED_SIGN_INS} times" in refused.text
            api = httpx.get(
                f"{server.base_url}/api/integrations",
                headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            assert api.status_code == 429 and int(api.headers["retry-after"]) > 0


def test_a_form_kept_on_one_process_comes_back_through_the_other(db_url: str) -> None:
    with two_processes(db_url) as (a, b), Browser() as browser:
        assert browser.sign_in(a, PASSWORD).status_code == 303
        sent = {
            **form(**{"activities.call.min_duration_s": "25"}),
            **opened(browser.get(a, SAVE).text),
        }
        browser.client.cookies.delete(SESSION_COOKIE)  # the session ended
        refused = browser.post(a, PREVIEW, sent)
        assert refused.status_code == 303
        assert DRAFT_COOKIE in browser.client.cookies
        login = browser.get(b, refused.headers["location"]).text
        assert "Your edits are kept, not saved" in section(login, "kept-draft")
        landed = browser.sign_in(b, PASSWORD, SAVE)
        assert landed.status_code == 303 and landed.headers["location"] == SAVE
        back = browser.get(a, SAVE)  # and the page itself, through A again
        assert "Your edits are back, not saved" in section(back.text, "draft-restored")
        assert value_of(back.text, "activities.call.min_duration_s") == "25"
        again = browser.get(b, SAVE)  # shown once, whichever process asks next
        assert 'id="draft-restored"' not in again.text
        assert value_of(again.text, "activities.call.min_duration_s") == "10"


class _Away:
    """A shared store whose database does not answer (or, with ``defect``, one that fails
    for a reason of its own)."""

    def __init__(self, defect: bool = False) -> None:
        self.defect = defect

    def _fail(self) -> NoReturn:
        if self.defect:
            raise ValueError("a defect, not an outage")
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    def failed(self, client: str, at: float, since: float) -> None:
        self._fail()

    def failures(self, client: str, since: float) -> list[float]:
        self._fail()


def test_while_the_database_is_away_a_process_counts_wrong_secrets_itself() -> None:
    tries = FailedTries(limit=3, shared=_Away())
    for at in (1.0, 2.0, 3.0):
        assert tries.refusal("10.0.0.7", at) is None
        tries.failed("10.0.0.7", at)
    refused = tries.refusal("10.0.0.7", 4.0)
    assert refused is not None and refused[0] == 597  # until the oldest try is 600 s old
    assert tries.refusal("10.0.0.8", 4.0) is None
    with pytest.raises(ValueError, match="a defect"):  # a defect is not hidden as an outage
        FailedTries(limit=3, shared=_Away(defect=True)).refusal("10.0.0.7", 4.0)


class Counted:
    """``Workspace.health_snapshot`` counting its calls (a process taking the report)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace, self.calls = workspace, 0

    def __call__(self) -> HealthSnapshot:
        self.calls += 1
        return self.workspace.health_snapshot()


def test_the_health_snapshot_is_taken_once_for_every_process_and_shown_by_all(
    db_url: str,
) -> None:
    with Workspace(db_url) as ws_a, Workspace(db_url) as ws_b:
        configured(ws_a)
        take_a, take_b = Counted(ws_a), Counted(ws_b)
        a = SnapshotKeeper(take_a, 60.0, ws_a.shared_console)  # turns called here, no thread
        b = SnapshotKeeper(take_b, 60.0, ws_b.shared_console)
        assert a.current is None and b.current is None
        a._turn()  # none yet: A claims it and takes it
        b._turn()  # fresh: B shows A's
        assert (take_a.calls, take_b.calls) == (1, 0)
        first = a.current
        assert first is not None and b.current == first
        # "Refresh now" through B: A's pages say it is coming; whoever turns first takes it.
        b.request_refresh()
        assert a.refreshing
        a._turn()
        b._turn()
        assert (take_a.calls, take_b.calls) == (2, 0)
        assert not a.refreshing and not b.refreshing
        second = b.current
        assert second is not None and second == a.current and second != first
        # Due again, but A claimed it (it is taking it): B does not take it too.
        assert ws_a.shared_console.claim_snapshot(a.holder, time.time(), time.time() + 300)
        late = SnapshotKeeper(take_b, 60.0, ws_b.shared_console, clock=lambda: time.time() + 61)
        late._turn()
        assert take_b.calls == 0 and late.current == second
        a.refresh()  # A's claim ends with its snapshot
        assert ws_b.shared_console.snapshot_state()["holder"] is None  # type: ignore[index]


def test_refresh_now_on_one_process_is_seen_on_the_other(db_url: str) -> None:
    with two_processes(db_url) as (a, b), Browser() as browser:
        assert browser.sign_in(a, PASSWORD).status_code == 303
        first = wait_until(lambda: a.app.state.snapshots.current, "A's first snapshot")
        shown = wait_until(lambda: b.app.state.snapshots.current, "B shows a snapshot")
        assert shown == first  # one snapshot, not one per process
        page = browser.get(a, "/health").text
        asked = browser.post(
            a,
            "/health/refresh",
            {"csrf_token": [form_token(page, "/health/refresh")], "next": ["/health"]},
        )
        assert asked.status_code == 303

        def b_shows_a_newer_one() -> bool:
            poll = browser.client.get(
                f"{b.base_url}/health/snapshot",
                params={"shown": first.taken_at},
                headers={"hx-request": "true"},
            )
            return poll.headers.get("HX-Refresh") == "true"

        wait_until(b_shows_a_newer_one, "B's page to show the snapshot asked for through A")
        newer = b.app.state.snapshots.current
        assert newer is not None and newer.taken_at > first.taken_at
        assert f'<time datetime="{newer.taken_at}">' in browser.get(b, "/health").text
