"""The console's access rules over plain HTTP against a live service, on SQLite and
PostgreSQL: sign-in with each credential, the cookie's attributes, CSRF, the viewer's
read-only role, sign-out and expiry, redirects; and that no secret reaches a page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from leadsync.errors import ConfigError
from leadsync.web.auth import (
    FAILED_SIGN_IN_WINDOW_S,
    MAX_FAILED_SIGN_INS,
    SESSION_COOKIE,
    Credentials,
    SessionKeys,
)
from leadsync.workspace import Workspace
from tests.browser import (
    PASSWORD,
    SESSION_SECRET,
    VIEWER_TOKEN,
    console_server,
    form_token,
    signed_in,
)
from tests.helpers import Clock
from tests.live import (
    ADMIN_TOKEN,
    AIRCALL_TOKEN,
    LiveServer,
    compact,
    fixture,
    wait_applied,
)

UNREADABLE = {  # verified, stored, then refused by the parser: a dead letter
    "id": "bad-1",
    "occurred_at": "2026-11-01T09:00:00Z",
    "type": "meeting_booked",
    "object": "contact",
    "external_id": "p-1",
}


@pytest.fixture
def live(ws: Workspace) -> Iterator[LiveServer]:
    with console_server(ws) as server:
        yield server


Browser = Callable[..., httpx.Client]


@pytest.fixture
def browser(live: LiveServer) -> Iterator[Browser]:
    """New cookie-keeping clients on the live server (a browser each), closed at the end."""
    clients: list[httpx.Client] = []

    def new(secret: str | None = None, **options: Any) -> httpx.Client:
        clients.append(httpx.Client(base_url=live.base_url, timeout=30, **options))
        return signed_in(clients[-1], secret) if secret else clients[-1]

    yield new
    for client in clients:
        client.close()


def dead_letter(ws: Workspace, live: LiveServer) -> int:
    assert live.post_generic("dialer", compact(UNREADABLE)).status_code == 200
    wait_applied(ws)
    [letter] = ws.dead_letters()
    return int(letter["id"])


def session_cookie(response: httpx.Response) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        cookie.load(header)
    return cookie


@pytest.mark.parametrize("path", ["/", "/dead-letters?integration=dialer", "/test-lead"])
def test_without_a_session_every_page_sends_to_sign_in(live: LiveServer, path: str) -> None:
    response = live.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=" + quote(path, safe="")
    htmx = live.client.get(path, headers={"hx-request": "true"})
    assert (htmx.status_code, htmx.headers["hx-redirect"]) == (401, response.headers["location"])
    # A form's post: back to the page it was on after signing in (nothing done meanwhile).
    retry = live.client.post("/dead-letters/1/retry")
    assert retry.headers["location"] == "/login?next=%2Fdead-letters%2F1"


@pytest.mark.parametrize(
    ("secret", "role"), [(ADMIN_TOKEN, "admin"), (PASSWORD, "admin"), (VIEWER_TOKEN, "viewer")]
)
def test_each_credential_signs_in_to_a_strict_http_only_cookie(
    live: LiveServer, browser: Browser, secret: str, role: str
) -> None:
    client = browser()
    form = client.get("/login?next=%2Fdead-letters")
    response = client.post(
        "/login",
        data={
            "secret": secret,
            "csrf_token": form_token(form.text, "/login"),
            "next": "/dead-letters",
        },
    )
    assert (response.status_code, response.headers["location"]) == (303, "/dead-letters")
    morsel = session_cookie(response)[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"].lower() == "strict" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http here; see the https test
    assert int(morsel["max-age"]) == 12 * 3600
    page = client.get("/")
    assert page.status_code == 200
    assert f'class="role role-{role}"' in page.text
    for shown in (page.text, form.text, response.text):
        assert secret not in shown and SESSION_SECRET not in shown


def test_a_wrong_secret_is_refused_and_not_echoed(live: LiveServer, browser: Browser) -> None:
    client = browser()
    form = client.get("/login")
    wrong = "not-the-token-" + ADMIN_TOKEN[:5]
    response = client.post(
        "/login", data={"secret": wrong, "csrf_token": form_token(form.text, "/login")}
    )
    assert response.status_code == 401
    assert "That token or password is not right." in response.text
    assert wrong not in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert client.get("/").status_code == 303


def test_repeated_failed_sign_ins_make_the_address_wait(live: LiveServer, browser: Browser) -> None:
    client = browser()

    def attempt(secret: str) -> httpx.Response:
        form = client.get("/login")
        token = form_token(form.text, "/login")
        return client.post("/login", data={"secret": secret, "csrf_token": token})

    for n in range(MAX_FAILED_SIGN_INS):
        assert attempt(f"guess-{n}").status_code == 401
    refused = attempt(ADMIN_TOKEN)  # even the right token waits now
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.text
    wait_s = int(refused.headers["retry-after"])  # the seconds left, as the page says
    assert 0 < wait_s <= FAILED_SIGN_IN_WINDOW_S
    assert f"Try again in {wait_s} s." in refused.text
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")


def test_the_sign_in_form_is_bound_to_its_browser(live: LiveServer, browser: Browser) -> None:
    token = form_token(live.client.get("/login").text, "/login")
    other = browser()  # no sign-in cookie: a forged cross-site form
    response = other.post("/login", data={"secret": ADMIN_TOKEN, "csrf_token": token})
    assert response.status_code == 403
    assert "Sign-in form expired" in response.text
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_every_sign_in_page_open_in_the_browser_signs_in(
    live: LiveServer, browser: Browser
) -> None:
    """A session ended with two tabs open: each shows the sign-in page. The first page's form
    was refused ("Sign-in form expired") because the second page's cookie replaced its own."""
    client = browser()
    first = form_token(client.get("/login?next=%2Freview").text, "/login")
    second = form_token(client.get("/login?next=%2Faudit").text, "/login")
    assert first == second  # one browser, one binding
    response = client.post("/login", data={"secret": PASSWORD, "csrf_token": first})
    assert response.status_code == 303, response.text
    assert SESSION_COOKIE in response.headers.get("set-cookie", "")


def test_next_never_leaves_the_site(live: LiveServer, browser: Browser) -> None:
    client = browser()
    form = client.get("/login")
    response = client.post(
        "/login",
        data={
            "secret": PASSWORD,
            "csrf_token": form_token(form.text, "/login"),
            "next": "//evil.test/x",
        },
    )
    assert response.headers["location"] == "/"


def test_cookies_are_secure_behind_an_https_public_url(ws: Workspace) -> None:
    with (
        console_server(ws, public_url="https://sync.example.test") as live,
        httpx.Client(base_url=live.base_url) as client,
    ):
        form = client.get("/login")
        sign_in_cookie = session_cookie(form)["leadsync_sign_in"]
        assert sign_in_cookie["secure"]
        # httpx keeps a Secure cookie from a plain-http peer back, as a browser would.
        response = client.post(
            "/login",
            data={"secret": PASSWORD, "csrf_token": form_token(form.text, "/login")},
            headers={"cookie": f"leadsync_sign_in={sign_in_cookie.value}"},
        )
        assert session_cookie(response)[SESSION_COOKIE]["secure"]


@pytest.mark.parametrize("token", [None, "wrong", "from-another-session"])
def test_a_change_without_this_sessions_csrf_token_is_refused(
    ws: Workspace, live: LiveServer, browser: Browser, token: str | None
) -> None:
    letter = dead_letter(ws, live)
    client = browser(ADMIN_TOKEN)
    if token == "from-another-session":
        token = form_token(browser(ADMIN_TOKEN).get(f"/dead-letters/{letter}").text)
    data = {"reason": "cannot be fixed"} | ({"csrf_token": token} if token else {})
    response = client.post(f"/dead-letters/{letter}/dismiss", data=data)
    assert response.status_code == 403
    assert "Form expired or not from this console" in response.text
    assert ws.dead_letter(letter)["state"] == "open"
    htmx = client.post(
        f"/dead-letters/{letter}/retry", headers={"hx-request": "true", "x-csrf-token": "wrong"}
    )
    assert (htmx.status_code, htmx.headers["hx-retarget"]) == (403, "#messages")
    assert ws.dead_letter(letter)["state"] == "open"


def test_with_the_token_a_change_is_made_by_form_or_header(
    ws: Workspace, live: LiveServer, browser: Browser
) -> None:
    letter = dead_letter(ws, live)
    client = browser(PASSWORD)
    page = client.get(f"/dead-letters/{letter}").text
    token = form_token(page, f"/dead-letters/{letter}/dismiss")
    assert token == form_token(page, f"/dead-letters/{letter}/retry") == form_token(page)
    response = client.post(
        f"/dead-letters/{letter}/dismiss", data={"reason": "a test event", "csrf_token": token}
    )
    assert (response.status_code, response.headers["location"]) == (
        303,
        f"/dead-letters/{letter}?done=dismissed",
    )
    dismissed = ws.dead_letter(letter)
    assert (dismissed["state"], dismissed["dismissed_reason"]) == ("dismissed", "a test event")
    assert dismissed["resolved_by"] == "console (password)"
    again = client.post(f"/dead-letters/{letter}/retry", headers={"x-csrf-token": token})
    assert again.status_code == 409  # already dismissed: the workspace's error, as a page
    assert f"Dead letter {letter} was dismissed at" in again.text


def test_an_incomplete_form_names_the_field_not_the_value(
    ws: Workspace, live: LiveServer, browser: Browser
) -> None:
    letter = dead_letter(ws, live)
    client = browser(ADMIN_TOKEN)
    token = form_token(client.get(f"/dead-letters/{letter}").text)
    response = client.post(
        f"/dead-letters/{letter}/dismiss", data={"reason": "   ", "csrf_token": token}
    )
    assert response.status_code == 400
    assert "Give the reason it cannot be fixed" in response.text  # at the field, on its page
    assert 'aria-describedby="dismiss-reason-error"' in response.text
    assert form_token(response.text, f"/dead-letters/{letter}/dismiss") == token
    assert 'pattern=".*\\S.*"' in response.text  # the browser refuses only spaces too
    assert ws.dead_letter(letter)["state"] == "open"


def test_a_retry_that_cannot_work_points_to_the_dismiss_form_on_the_page(
    ws: Workspace, live: LiveServer, browser: Browser
) -> None:
    body = {**fixture("aircall", "call.ended.json")["body"], "timestamp": "soon"}
    live.client.post(
        "/webhooks/phone", content=compact(body), headers={"content-type": "application/json"}
    )
    [letter] = ws.dead_letters("phone")
    client = browser(ADMIN_TOKEN)
    token = form_token(client.get(f"/dead-letters/{letter['id']}").text)
    posted = client.post(f"/dead-letters/{letter['id']}/retry", data={"csrf_token": token})
    # Post/redirect/get: the letter's own address (a reload re-posts nothing).
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/dead-letters/{letter['id']}?done=refused"
    response = client.get(posted.headers["location"])
    assert response.status_code == 200 and "Not retried" in response.text
    assert f"dead letter {letter['id']} cannot be retried" in response.text
    assert "the Dismiss form on this page" in response.text
    assert "leadsync dead-letters dismiss" not in response.text
    assert form_token(response.text, f"/dead-letters/{letter['id']}/dismiss") == token
    assert AIRCALL_TOKEN not in response.text
    htmx = client.post(
        f"/dead-letters/{letter['id']}/retry",
        headers={"hx-request": "true", "x-csrf-token": token},
    )
    assert (htmx.status_code, htmx.headers["hx-retarget"]) == (422, "#messages")
    assert "the Dismiss form on this page" in htmx.text and "leadsync dead-letters" not in htmx.text
    assert ws.dead_letter(letter["id"])["state"] == "open"


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        (
            "/records/widget/1",
            404,
            "In the address /records/{record type}/{record id}, the record type is not one "
            "that exists here; allowed: one of contact, company, deal, ticket, lead.",
        ),
        ("/records/contact/0", 404, "the record id is not one that exists here; allowed: a "),
        (
            "/dead-letters/abc",
            404,
            "In the address /dead-letters/{letter id}, the letter id is not one that exists "
            "here; allowed: a positive whole number in digits up to 9223372036854775807.",
        ),
        ("/audit?before=-1", 400, "the query parameter before is not allowed as given; "),
        (
            "/audit?before=abc",
            400,
            "In the address /audit, the query parameter before is not allowed as given; "
            "allowed: a positive whole number in digits up to 9223372036854775807.",
        ),
        (
            "/review?status=bogus",
            400,
            "the query parameter status is not one of those allowed; allowed: open, resolved, "
            "skipped, attached, all.",
        ),
        ("/dead-letters?resolved=maybe", 400, "resolved is not allowed as given; allowed: true "),
    ],
)
def test_a_wrong_part_of_the_address_is_named_with_what_is_allowed(
    live: LiveServer, browser: Browser, path: str, status: int, says: str
) -> None:
    response = browser(VIEWER_TOKEN).get(path)
    assert response.status_code == status
    assert "Incomplete form" not in response.text and "Check these fields" not in response.text
    assert says in response.text.replace("&#39;", "'")
    for value in ("widget", "abc", "bogus", "maybe", "-1"):  # never echoed
        assert f">{value}<" not in response.text and f" {value}" not in response.text


def test_every_state_the_review_page_offers_is_accepted(live: LiveServer, browser: Browser) -> None:
    client = browser(VIEWER_TOKEN)
    select = re.search(r'<select id="filter-status".*?</select>', client.get("/review").text, re.S)
    assert select
    offered = re.findall(r'<option value="([a-z]+)"', select.group(0))
    assert "all" in offered
    for state in offered:
        assert client.get(f"/review?status={state}").status_code == 200, state


def test_a_dead_letters_body_is_shown_without_its_secret(
    ws: Workspace, live: LiveServer, browser: Browser
) -> None:
    body = {**fixture("aircall", "call.ended.json")["body"], "timestamp": "soon"}
    response = live.client.post(
        "/webhooks/phone", content=compact(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    [letter] = ws.dead_letters("phone")
    page = browser(VIEWER_TOKEN).get(f"/dead-letters/{letter['id']}").text
    assert "[redacted]" in page
    assert AIRCALL_TOKEN not in page
    assert "field &#34;timestamp&#34;" in page  # the error, as escaped HTML


def test_the_viewer_sees_everything_and_changes_nothing(
    ws: Workspace, live: LiveServer, browser: Browser
) -> None:
    letter = dead_letter(ws, live)
    viewer = browser(VIEWER_TOKEN)
    for path in ("/", "/dead-letters", f"/dead-letters/{letter}", "/test-lead"):
        assert viewer.get(path).status_code == 200, path
    page = viewer.get(f"/dead-letters/{letter}").text
    assert "Read-only: you are signed in as a viewer." in page
    assert page.count("disabled") >= 3  # retry, the reason, dismiss
    token = form_token(page)
    for path, data in (
        (f"/dead-letters/{letter}/retry", {}),
        (f"/dead-letters/{letter}/dismiss", {"reason": "x"}),
        ("/test-lead", {"integration": "dialer", "rep": "u-1"}),
    ):
        response = viewer.post(path, data={**data, "csrf_token": token})
        assert response.status_code == 403, path
        assert "Read-only" in response.text
    assert ws.dead_letter(letter)["state"] == "open"
    assert ws.find(email=None, domain="leadsync.invalid") == []  # no test lead was made


def test_sign_out_ends_the_session_even_for_a_replayed_cookie(
    live: LiveServer, browser: Browser
) -> None:
    client = browser(ADMIN_TOKEN)
    cookie = client.cookies[SESSION_COOKIE]
    token = form_token(client.get("/").text)
    assert client.post("/logout", data={}).status_code == 403  # sign-out needs the token too
    response = client.post("/logout", data={"csrf_token": token})
    assert (response.status_code, response.headers["location"]) == (303, "/login?out=1")
    said = client.get("/login?out=1")  # the page says so: it looked like a first visit
    assert said.status_code == 200 and "You are signed out" in said.text
    assert "You are signed out" not in client.get("/login").text
    replay = browser(cookies={SESSION_COOKIE: cookie})
    assert replay.get("/").status_code == 303


def test_assets_are_served_from_the_package_and_pages_stay_out_of_openapi(
    live: LiveServer,
) -> None:
    htmx = live.client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text
    assert live.client.get("/static/console.css").status_code == 200
    paths = live.client.get("/openapi.json").json()["paths"]
    assert not [
        p
        for p in paths
        if not p.startswith(("/api", "/webhooks", "/healthz", "/readyz", "/metrics"))
    ]


def test_without_a_console_the_root_is_not_found(ws: Workspace) -> None:
    with console_server(ws, console=None) as live:
        assert live.client.get("/").status_code == 404


# ------------------------------------------------------------- sessions, without a server


def keys(credentials: Credentials, clock: Clock) -> SessionKeys:
    return SessionKeys(credentials, SESSION_SECRET, session_hours=12, clock=clock)


def test_a_session_expires_after_its_hours() -> None:
    clock = Clock(1_800_000_000.0)
    session_keys = keys(Credentials(admin_token=ADMIN_TOKEN), clock)
    session, cookie = session_keys.open("token")
    clock.now += 12 * 3600 - 1
    assert session_keys.read(cookie) == session
    clock.now += 1
    assert session_keys.read(cookie) is None


def test_failed_sign_ins_wait_out_the_window_per_address() -> None:
    clock = Clock(1_800_000_000.0)
    session_keys = keys(Credentials(admin_token=ADMIN_TOKEN), clock)
    for _ in range(MAX_FAILED_SIGN_INS - 1):
        session_keys.sign_in_failed("10.0.0.1")
        clock.now += 1
    assert session_keys.tries.wait_s("10.0.0.1", clock.now) == 0
    session_keys.sign_in_failed("10.0.0.1")
    assert session_keys.tries.wait_s("10.0.0.1", clock.now) == FAILED_SIGN_IN_WINDOW_S - (
        MAX_FAILED_SIGN_INS - 1
    )
    assert session_keys.tries.wait_s("10.0.0.2", clock.now) == 0  # another address is not held
    clock.now += FAILED_SIGN_IN_WINDOW_S - (MAX_FAILED_SIGN_INS - 1)
    assert (
        session_keys.tries.wait_s("10.0.0.1", clock.now) == 0
    )  # the oldest failure left the window


def test_changing_a_credential_ends_the_sessions_it_opened() -> None:
    clock = Clock(1_800_000_000.0)
    before = keys(Credentials(admin_token=ADMIN_TOKEN, password=PASSWORD), clock)
    _, by_token = before.open("token")
    _, by_password = before.open("password")
    after = keys(Credentials(admin_token=ADMIN_TOKEN, password="a-new-password"), clock)
    assert after.read(by_token) is not None
    assert after.read(by_password) is None
    other_secret = SessionKeys(before.credentials, "x" * 40, clock=clock)
    assert other_secret.read(by_token) is None
    assert after.read(by_token + "x") is None


def test_credentials_match_in_constant_time_whichever_is_given() -> None:
    credentials = Credentials(admin_token=ADMIN_TOKEN, password=PASSWORD, viewer_token="")
    assert credentials.viewer_token is None  # empty is unset: it never signs in
    assert [credentials.match(s) for s in (ADMIN_TOKEN, PASSWORD, "", "\ud800")] == [
        "token",
        "password",
        None,
        None,
    ]


def test_a_short_session_secret_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="at least 32 random ones"):
        SessionKeys(Credentials(admin_token=ADMIN_TOKEN), "short")
