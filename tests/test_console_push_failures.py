"""Push failures in the console: listed (with the object each is about, linked), each on a
page of its own, retried or dismissed with a reason there — as ``leadsync push failures``
does; before, the console named them only as "(leadsync push failures list)", with no way
to act on one. Over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.workspace import Workspace
from tests.browser import PASSWORD, console_server, form_token, signed_in
from tests.helpers import ev, record_by_external, run
from tests.test_push_clears import ws

__all__ = ["ws"]


def _company(ext: str, domain: str, industry: str) -> dict[str, object]:
    props = {"domain": domain, "name": ext.title(), "industry": industry}
    return ev("record", object="company", external_id=ext, properties=props)


def test_push_failures_are_listed_and_resolved_in_the_console(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    run(
        ws,
        _company("globex", "globex.test", "Fintech"),
        _company("initech", "initech.test", "Crypto"),
    )
    ws.push()
    failures = {f["message"].split("'")[1]: f for f in ws.push_failures()}
    fintech, crypto = failures["Fintech"], failures["Crypto"]
    company = record_by_external(ws, "globex")["id"]
    with console_server(ws) as live, httpx.Client(base_url=live.base_url, timeout=60) as client:
        admin = signed_in(client, PASSWORD)
        listed = admin.get("/push-failures")
        assert listed.status_code == 200
        assert "2 open" in listed.text
        assert f'<a href="/push-failures/{fintech["id"]}">#{fintech["id"]}</a>' in listed.text
        assert f'<a href="/records/company/{company}">company {company}</a>' in listed.text
        assert 'href="/push-failures"' in listed.text  # in the navigation
        page = admin.get(f"/push-failures/{fintech['id']}")
        assert "leadsync's own check" in page.text and "&#39;Fintech&#39;" in page.text
        token = form_token(page.text, f"/push-failures/{fintech['id']}/dismiss")
        blank = admin.post(
            f"/push-failures/{fintech['id']}/dismiss", data={"csrf_token": token, "reason": " "}
        )
        assert blank.status_code == 400 and 'aria-invalid="true"' in blank.text
        assert len(ws.push_failures()) == 2  # nothing changed
        done = admin.post(
            f"/push-failures/{fintech['id']}/dismiss",
            data={"csrf_token": token, "reason": "we do not track fintech"},
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"/push-failures/{fintech['id']}?done=dismissed"
        token = form_token(admin.get(f"/push-failures/{crypto['id']}").text,
                           f"/push-failures/{crypto['id']}/retry")  # fmt: skip
        retried = admin.post(f"/push-failures/{crypto['id']}/retry", data={"csrf_token": token})
        assert retried.status_code == 303
        again = admin.post(f"/push-failures/{crypto['id']}/retry", data={"csrf_token": token})
        assert again.status_code == 404 and "Not retried" in again.text
        assert f'href="/push-failures/{crypto["id"]}"' in again.text  # the way back
        assert "leadsync push failures list" not in again.text
        everything = admin.get("/push-failures?resolved=true").text
    [dismissed] = [f for f in ws.push_failures(resolved=True) if f["id"] == fintech["id"]]
    assert dismissed["state"] == "dismissed" and dismissed["resolved_by"]
    assert dismissed["dismissed_reason"] == "we do not track fintech"
    # Only the retried company may be reported again (the service's push sends it again,
    # its value still none of the options); the dismissed one is not.
    assert {f["local_id"] for f in ws.push_failures()} <= {crypto["local_id"]}
    assert "dismissed" in everything and "retried" in everything


def test_the_health_card_of_push_failures_links_to_their_page() -> None:
    from leadsync.ops.deadletters import PUSH_FAILURES_HINT
    from leadsync.web.console import console_hints

    html = str(console_hints(f"1 input refused by HubSpot {PUSH_FAILURES_HINT}"))
    assert '<a href="/push-failures">Push failures</a>' in html
    assert "leadsync push failures list" not in html


def test_an_activitys_push_failure_links_to_the_records_it_is_on(
    ws: Workspace, hub: HubSpotDouble
) -> None:
    """Its page named the call alone: the admin could not get from it to its timeline."""
    from tests.test_hubspot_push import company_contact_call

    run(ws, *company_contact_call())
    hub.set_faults(partial_207_rate=1.0, seed=1)
    ws.push()
    hub.set_faults(partial_207_rate=0.0)
    [failure] = [f for f in ws.push_failures() if f["object_type"] == "call"] or [None]
    assert failure is not None
    contact = record_by_external(ws, "p-1")["id"]
    with console_server(ws) as live, httpx.Client(base_url=live.base_url, timeout=60) as client:
        page = signed_in(client, PASSWORD).get(f"/push-failures/{failure['id']}")
    assert page.status_code == 200
    assert f'<a href="/records/contact/{contact}">contact {contact}</a>' in page.text


def test_every_push_failure_is_reached_a_page_at_a_time_and_retried_at_once(
    ws: Workspace, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page showed the newest 200 of 3,205 and called that the open count, with no way
    to the rest and one retry at a time: it says how many are open in all, pages through
    them, and retries every open one at once (as push failures retry --all)."""
    from leadsync.web import push_failures as page_module  # noqa: PLC0415

    monkeypatch.setattr(page_module, "SHOWN", 2)
    run(ws, *(_company(f"co{n}", f"co{n}.test", "Fintech") for n in range(3)))
    ws.push()
    ids = sorted((f["id"] for f in ws.push_failures()), reverse=True)
    assert len(ids) == 3
    with console_server(ws) as live, httpx.Client(base_url=live.base_url, timeout=60) as client:
        admin = signed_in(client, PASSWORD)
        first = admin.get("/push-failures").text
        assert "3 open in all; 2 a page, newest first" in first
        assert [i for i in ids if f'href="/push-failures/{i}"' in first] == ids[:2]
        assert f'href="/push-failures?before={ids[1]}" rel="next"' in first
        second = admin.get(f"/push-failures?before={ids[1]}").text
        assert [i for i in ids if f'href="/push-failures/{i}"' in second] == ids[2:]
        assert 'rel="next"' not in second and 'href="/push-failures">Newest' in second
        token = form_token(first, "/push-failures/retry")
        done = admin.post("/push-failures/retry", data={"csrf_token": token})
        assert (
            done.status_code == 303 and done.headers["location"] == "/push-failures?done=retried-3"
        )
        assert (
            "3 queued again; the next push sends them." in admin.get(done.headers["location"]).text
        )
    assert all(f["state"] == "retried" for f in ws.push_failures(resolved=True) if f["id"] in ids)
