"""Calls find their people: phone numbers as identities, held activities, the unknown
counterpart policies, the review queue's questions, free-mail domains (issue 13)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.errors import UserError, WorkspaceError
from leadsync.model import add_days, now_ts
from leadsync.store.schema import activity_associations, held_activities, record_phones, records
from leadsync.values import read_call_number, read_phone
from leadsync.workspace import Workspace
from tests.helpers import ev, run, workspace_config
from tests.helpers import settings as integration_settings

# --------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("given_text", "region", "number"),
    [
        ("+14155550100", None, "+14155550100"),
        ("+1 (415) 555-0100", None, "+14155550100"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("(415) 555-0100", None, None),  # national, no region: kept as given, flagged
        ("020 7946 0000", "GB", "+442079460000"),
        ("+44 (0)20 7946 0000", None, "+442079460000"),
        ("0044 20 7946 0000", None, "+442079460000"),
        ("00 44 20 7946 0000", "GB", "+442079460000"),
        ("442079460000", None, "+442079460000"),  # international without the +
        ("+44 20 7946 0000 ext. 12", None, "+442079460000"),  # extensions do not matter
        ("+1 415 555 0100 x 33", "US", "+14155550100"),
        ("07700 900123", "GB", "+447700900123"),
        ("01 23 45 67 89", "FR", "+33123456789"),
        ("030 123456", "DE", "+4930123456"),
        ("12", None, None),
        ("12", "GB", None),
        # Local-only lengths name no one line without their area code: no number.
        ("555 0142", "US", None),
        ("+1 555 0142", None, None),
        ("61998", "GB", None),
        ("+44 61998", None, None),
        ("116 123", "GB", None),
        # What people write around a number (a label, a stray "#", a spreadsheet's ".0"):
        # read past, as the README's "formatting does not matter" says.
        ("+44 20 7946 9100 (work)", None, "+442079469100"),
        ("(415) 555-0177 (mobile)", "US", "+14155550177"),
        ("+1 415 555 0177 #", None, "+14155550177"),
        ("4155550177.0", "US", "+14155550177"),
        ("020 7946 0001 Mob", "GB", "+442079460001"),
        ("07700 900123 mobile", "GB", "+447700900123"),
        # Any space (thin, narrow no-break: French and Apple formats) is a space; an
        # invisible mark a copy from a web page brings is nothing.
        ("+1\u2009415\u2009555\u20090100", None, "+14155550100"),
        ("+33\u202f1\u202f23\u202f45\u202f67\u202f89", None, "+33123456789"),
        ("\u200e+44 20 7946 0958\u200f", None, "+442079460958"),
        ("(415)\u2007555\u200b-0100", "US", "+14155550100"),
    ],
)
def test_numbers_read_as_e164_in_the_integrations_region(
    given_text: str, region: str | None, number: str | None
) -> None:
    phone = read_phone(given_text, region)
    assert phone is not None
    assert phone.number == number
    assert phone.key == (number or given_text)  # unreadable: kept as given


def test_a_whole_number_written_as_a_decimal_is_read_by_its_digits() -> None:
    """A CRM export's 442079469000.0 (a JSON number): its digits, as an integer's are."""
    phone = read_phone(442079469000.0)
    assert phone is not None and phone.number == "+442079469000"


@pytest.mark.parametrize("nothing", ["", "   ", "n/a", "Mobile", None, True, 3.5, ["+14155550100"]])
def test_no_number_at_all_is_none(nothing: Any) -> None:
    assert read_phone(nothing) is None


def test_a_region_that_is_not_a_country_is_refused_at_its_key() -> None:
    with pytest.raises(UserError) as err:
        workspace_config({"dialer": integration_settings(region="XX")})
    assert "integrations.dialer.region" in str(err.value)
    assert "'XX'" in str(err.value) and "GB" in str(err.value)


# ---------------------------------------------------------------------- the engine

AT = "2026-11-01T10:00:00Z"


def _setup(ws: Workspace, **dialer: Any) -> None:
    """A dialer (numbers read in GB) and a CRM-like tool sending contacts (in FR)."""
    ws.apply_config(
        workspace_config(
            {
                "dialer": integration_settings(region="GB", **dialer),
                "crm": integration_settings(region="FR"),
            }
        )
    )


def _call(
    ext: str,
    number: str,
    at: str = AT,
    direction: str = "outbound",
    owner: str = "u-1",
    **extra: Any,
) -> dict[str, Any]:
    ours = "+441130000000"
    numbers = (
        {"from_number": ours, "to_number": number}
        if direction == "outbound"
        else {"from_number": number, "to_number": ours}
    )
    return ev(
        "activity",
        at,
        activity="call",
        external_id=ext,
        owner=owner,
        properties={"duration_s": 60, "outcome": "connected", "direction": direction, **numbers},
        **extra,
    )


def _contact(ext: str, at: str = AT, **properties: Any) -> dict[str, Any]:
    return ev(
        "record",
        at,
        object="contact",
        external_id=ext,
        properties={"email": f"{ext}@globex.test", **properties},
    )


def _links(ws: Workspace) -> list[tuple[int, int, str, str, str | None]]:
    with ws.engine.connect() as c:
        rows = c.execute(
            sa.select(
                activity_associations.c.activity_id,
                activity_associations.c.record_id,
                activity_associations.c.record_type,
                activity_associations.c.source,
                activity_associations.c.reason,
            ).order_by(activity_associations.c.activity_id, activity_associations.c.record_id)
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


def _id(ws: Workspace, integration: str, ext: str) -> int:
    found = ws.find(external=f"{integration}:{ext}")
    assert len(found) == 1, found
    return int(found[0]["id"])


def test_a_call_naming_only_a_number_lands_on_the_contact_with_it(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", mobilephone="+44 20 7946 0000"), integration="crm")
    summary = run(workspace, _call("c1", "020 7946 0000 ext 4"))
    assert summary.applied.matched_by_number == 1
    contact = _id(workspace, "crm", "k1")
    [(_, record_id, rtype, source, reason)] = _links(workspace)
    assert (record_id, rtype, source) == (contact, "contact", "number")
    assert reason == f"matched by number: contact {contact} has +442079460000 as mobilephone"


def test_an_inbound_call_uses_the_callers_number_not_the_reps_line(workspace: Workspace) -> None:
    _setup(workspace)
    run(
        workspace,
        _contact("rep-line", phone="+441130000000"),  # the rep's own line is on a contact
        _contact("k1", phone="+33 1 23 45 67 89"),
        integration="crm",
    )
    run(workspace, _call("c1", "0033123456789", direction="inbound"))
    [(_, record_id, _, source, _)] = _links(workspace)
    assert record_id == _id(workspace, "crm", "k1") and source == "number"


def test_a_call_before_its_contact_is_held_then_attached_when_the_contact_arrives_elsewhere(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    first = run(workspace, _call("c1", "07700 900123"))
    assert first.applied.held == 1 and _links(workspace) == []
    with workspace.engine.connect() as c:
        [held] = c.execute(sa.select(held_activities)).all()
    assert held.number == "+447700900123" and held.expires_at == "2026-11-08T10:00:00.000Z"
    # Two days later the CRM sends the contact, its number in international form.
    later = run(
        workspace,
        _contact("k9", at="2026-11-03T10:00:00Z", phone="+44 7700 900123"),
        integration="crm",
    )
    assert later.applied.attached_later == 1
    contact = _id(workspace, "crm", "k9")
    [(_, record_id, _, source, reason)] = _links(workspace)
    assert (record_id, source) == (contact, "held")
    assert reason == f"attached 2 days later when contact {contact} got +447700900123"
    with workspace.engine.connect() as c:
        assert c.execute(sa.select(held_activities)).all() == []
    # The record page says why the call is on the timeline.
    [item] = workspace.record("contact", contact)["timeline"]
    assert item["id"] == 1


def test_held_and_its_contact_in_one_batch_attach_too(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _call("c1", "+447700900123"), _contact("k1", phone="+447700900123"))
    [(_, _, _, source, _)] = _links(workspace)
    assert source == "held"


def test_a_held_activity_expires_into_the_queue_and_still_attaches_later(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _call("c1", "+447700900123"))
    assert workspace.expire_holds(now="2026-11-08T09:59:59Z") == 0
    assert workspace.expire_holds(now="2026-11-08T10:00:00Z") == 1
    assert workspace.expire_holds(now="2026-11-09T00:00:00Z") == 0  # asked once
    [item] = workspace.review_items().items
    assert item.kind == "unknown" and item.activity_id == 1 and item.candidates == []
    assert "+447700900123" in item.question and "within 7 days" in item.question
    run(workspace, _contact("k1", at="2026-11-12T10:00:00Z", phone="+447700900123"))
    assert workspace.review_items().items == []
    closed = workspace.review_item(item.id)
    assert closed.status == "attached" and "11 days later" in (closed.outcome or "")


def test_a_hold_ending_asks_again_a_question_a_later_event_of_the_call_closed(
    workspace: Workspace,
) -> None:
    """A call first withheld (a question: no number to match), then given a number by its
    next event (the question closed: held for the number instead), whose hold ends: the
    question is asked again, about the number. It stayed closed while the call was said to
    be "in the review queue": nobody was asked."""
    _setup(workspace)
    at = add_days(now_ts(), -1)  # a hold that has not ended when the second event comes
    run(workspace, _call("c1", "anonymous", direction="inbound", at=at))
    [asked] = workspace.review_items().items
    run(workspace, _call("c1", "+447700900123", direction="inbound", at=add_days(at, 1 / 1440)))
    assert workspace.review_items().items == []  # held for the number instead
    assert workspace.expire_holds(now=add_days(at, 7)) == 1
    [item] = workspace.review_items().items
    assert item.id == asked.id and item.status == "open" and item.activity_id == 1
    assert "+447700900123" in item.question and "within 7 days" in item.question


def test_a_call_held_by_two_of_its_events_is_counted_once(workspace: Workspace) -> None:
    """Held for one number, then for the number its later event gives, in one ingest: one
    call held (it said 2)."""
    _setup(workspace)
    summary = run(
        workspace,
        _call("c1", "+447700900999"),
        _call("c1", "+447700900123", at="2026-11-01T10:01:00Z"),
    )
    assert summary.counterparts["held"] == 1
    assert (
        run(workspace, _call("c1", "+447700900124", at="2026-11-01T10:02:00Z")).counterparts["held"]
        == 0
    )  # held before: the same call


def test_policy_create_makes_a_contact_with_the_number_and_nothing_invented(
    workspace: Workspace,
) -> None:
    _setup(workspace, unknown_counterpart={"policy": "create"})
    summary = run(workspace, _call("c1", "+447700900123"))
    assert summary.applied.records_created == 1
    # The call's later event does not make a second contact: the first has the number.
    run(workspace, _call("c1", "+447700900123", at="2026-11-01T10:05:00Z"))
    with workspace.engine.connect() as c:
        rows = c.execute(sa.select(records)).all()
    [contact] = rows
    assert contact.origin == "unknown_number" and contact.name is None and contact.email is None
    props = contact.properties
    assert (json.loads(props) if isinstance(props, str) else props) == {"phone": "+447700900123"}
    [(_, record_id, _, source, reason)] = _links(workspace)
    assert record_id == contact.id and source == "number"
    assert reason == (
        f"contact {contact.id} created for the unknown number +447700900123 "
        "(unknown_counterpart: create)"
    )
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-11-02T00:00:00Z")
    [created] = [f for f in report.findings if f.check == "unknown_number_contacts"]
    assert created.summary.startswith("1 contact was created")
    assert created.rows[0]["number"] == "+447700900123"


def test_a_contact_made_for_a_number_takes_the_calls_held_for_it(workspace: Workspace) -> None:
    """Held under hold, then the policy became create: the next call to that number makes a
    contact, which takes the held call too — it stayed held, for a number a contact had."""
    _setup(workspace)
    run(workspace, _call("c1", "+447700900123"))
    _setup(workspace, unknown_counterpart={"policy": "create"})
    run(workspace, _call("c2", "+447700900123", at="2026-11-02T10:00:00Z"))
    with workspace.engine.connect() as c:
        [contact] = c.execute(sa.select(records)).all()
        assert c.execute(sa.select(held_activities)).all() == []
    sources = sorted((activity, source) for activity, record_id, _, source, _ in _links(workspace))
    assert sources == [(1, "held"), (2, "number")]
    assert all(record_id == contact.id for _, record_id, _, _, _ in _links(workspace))


@pytest.mark.parametrize("caller_id", ["Private Number", "Unknown Caller", "+", "—"])
def test_a_caller_id_without_a_digit_is_a_withheld_number(
    workspace: Workspace, caller_id: str
) -> None:
    """A dialer's words for a hidden caller beyond the known ones are a withheld number: a
    question (none can be matched, held for or made a contact of), skipped under ``skip``."""
    phone = read_call_number(caller_id)
    assert phone is not None and phone.withheld and phone.number is None
    _setup(workspace)
    run(workspace, _call("c1", caller_id, direction="inbound"))
    [question] = workspace.review_items().items
    assert "withheld" in question.question, question.question
    _setup(workspace, unknown_counterpart={"policy": "skip"})
    summary = run(workspace, _call("c2", caller_id, direction="inbound"))
    assert summary.applied.activities_skipped == 1 and summary.applied.activities_created == 0


def test_policy_skip_counts_the_call_with_its_reason(workspace: Workspace) -> None:
    _setup(workspace, unknown_counterpart={"policy": "skip"})
    summary = run(workspace, _call("c1", "+447700900123"))
    assert summary.applied.activities_skipped == 1 and summary.applied.activities_created == 0
    [skip] = workspace.skipped_activities()
    assert skip["reason"] == (
        "call c1 names only +447700900123, which no contact or lead has (unknown_counterpart: skip)"
    )


def test_a_shared_number_is_a_question_with_its_candidates_not_a_guess(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    company = ev("record", AT, object="company", external_id="co", properties={"domain": "g.test"})
    at_company = [{"object": "company", "external_id": "co"}]
    run(
        workspace,
        company,
        ev("record", AT, object="contact", external_id="k1", associations=at_company,
           properties={"email": "k1@g.test", "phone": "020 7946 0000"}),
        ev("record", AT, object="contact", external_id="k2", associations=at_company,
           properties={"email": "k2@g.test", "mobilephone": "+442079460000"}),
    )  # fmt: skip
    summary = run(workspace, _call("c1", "+44 20 7946 0000"))
    assert summary.applied.queued == 1
    k1, k2, co = (_id(workspace, "dialer", e) for e in ("k1", "k2", "co"))
    # What is certain is applied: both contacts are at the company, the call goes there.
    [(_, record_id, _, source, reason)] = _links(workspace)
    assert (record_id, source) == (co, "auto")
    assert reason == "the company of every record with +442079460000"
    [item] = workspace.review_items().items
    assert item.kind == "number" and item.subject == "+442079460000"
    assert [(c.record_id, c.why) for c in item.candidates] == [
        (k1, f"contact {k1} has +442079460000 as phone"),
        (k2, f"contact {k2} has +442079460000 as mobilephone"),
    ]
    # A person answers: the call lands on the chosen contact, resolved by a person.
    resolution = workspace.resolve_review(item.id, choose=str(k2))
    assert resolution.item.status == "resolved" and resolution.item.choice == str(k2)
    links = {(r, s) for _, r, _, s, _ in _links(workspace)}
    assert (k2, "person") in links and (k1, "person") not in links
    with pytest.raises(WorkspaceError, match="resolved already"):
        workspace.resolve_review(item.id, skip=True)


def test_ambiguous_number_skip_leaves_the_question_closed_with_its_reason(
    workspace: Workspace,
) -> None:
    _setup(workspace, ambiguous={"number": "skip"})
    run(workspace, _contact("k1", phone="+442079460000"), _contact("k2", phone="+442079460000"))
    summary = run(workspace, _call("c1", "+442079460000"))
    assert summary.applied.queued == 0 and _links(workspace) == []
    assert workspace.review_items().items == []
    [item] = workspace.review_items(status="skipped").items
    assert item.outcome == "left unanswered (ambiguous.number: skip)"


def test_an_email_several_contacts_have_is_a_question(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", email="same@globex.test"))
    # The CRM's contact is known by its id first, then gets the same email: two contacts.
    run(workspace, _contact("k2"), integration="crm")
    run(workspace, _contact("k2", email="same@globex.test"), integration="crm")
    call = ev("activity", AT, activity="call", external_id="c1", owner="u-1",
              properties={"duration_s": 60, "outcome": "connected"},
              associations=[{"object": "contact", "email": "same@globex.test"}])  # fmt: skip
    run(workspace, call)
    assert _links(workspace) == []
    [item] = workspace.review_items().items
    assert item.kind == "email" and len(item.candidates) == 2


def _held_ids(ws: Workspace) -> list[int]:
    with ws.engine.connect() as c:
        return sorted(c.execute(sa.select(held_activities.c.activity_id)).scalars())


@pytest.mark.parametrize("alone", [True, False])
def test_a_matched_call_updated_with_an_email_two_contacts_have_is_not_held(
    workspace: Workspace, alone: bool
) -> None:
    """A call matched by its number, updated later with an email two contacts have (a
    question, so no person is certain): it is on its contact already, so it is neither held
    nor matched again — whether or not another call in the same batch looks a number up
    (the batch's loads once depended on it; the found state must not)."""
    _setup(workspace)
    run(workspace, _contact("k1", email="same@globex.test"))
    run(workspace, _contact("k2"), integration="crm")
    run(workspace, _contact("k2", email="same@globex.test"), integration="crm")
    run(workspace, _contact("k3", phone="+44 20 7946 0000"), integration="crm")
    first = run(workspace, _call("c1", "020 7946 0000"))
    assert first.applied.matched_by_number == 1
    update = ev("activity", "2026-11-01T11:00:00Z", activity="call", external_id="c1",
                owner="u-1", properties={"duration_s": 90, "outcome": "connected"},
                associations=[{"object": "contact", "email": "same@globex.test"}])  # fmt: skip
    beside = [] if alone else [_call("c2", "020 7946 0099")]  # a call that asks a number
    run(workspace, update, *beside)
    with workspace.engine.connect() as c:
        calls = set(
            c.execute(sa.text("SELECT id FROM activities WHERE external_id = 'c1'")).scalars()
        )
    assert calls.isdisjoint(_held_ids(workspace))
    contact = _id(workspace, "crm", "k3")
    assert [(r, s) for a, r, _, s, _ in _links(workspace) if a in calls] == [(contact, "number")]


def test_tied_open_deals_are_a_question_and_neither_is_attached(workspace: Workspace) -> None:
    _setup(workspace)
    contact = [{"object": "contact", "external_id": "k1"}]
    run(
        workspace,
        _contact("k1"),
        ev("record", AT, object="deal", external_id="d1", associations=contact,
           properties={"name": "One"}),
        ev("record", AT, object="deal", external_id="d2", associations=contact,
           properties={"name": "Two"}),
    )  # fmt: skip
    call = ev("activity", "2026-11-02T10:00:00Z", activity="call", external_id="c1",
              owner="u-1", properties={"duration_s": 60, "outcome": "connected"},
              associations=contact)  # fmt: skip
    run(workspace, call)
    k1, d1, d2 = (_id(workspace, "dialer", e) for e in ("k1", "d1", "d2"))
    assert {(r, s) for _, r, _, s, _ in _links(workspace)} == {(k1, "event")}
    [item] = workspace.review_items().items
    assert item.kind == "deal" and [c.record_id for c in item.candidates] == [d1, d2]
    with pytest.raises(UserError, match="is a contact"):
        workspace.resolve_review(item.id, choose=str(k1))
    workspace.resolve_review(item.id, choose=str(d2))
    assert (d2, "person") in {(r, s) for _, r, _, s, _ in _links(workspace)}


def test_skipping_a_question_releases_the_held_call(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _call("c1", "+447700900123"))
    workspace.expire_holds(now="2026-12-01T00:00:00Z")
    [item] = workspace.review_items().items
    resolution = workspace.resolve_review(item.id, skip=True)
    assert resolution.item.status == "skipped"
    run(workspace, _contact("k1", at="2026-12-02T00:00:00Z", phone="+447700900123"))
    assert _links(workspace) == []  # no longer waiting for the number


def test_numbers_of_contacts_are_indexed_as_read_and_unreadable_ones_reported(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", phone="01 23 45 67 89", mobilephone="12"), integration="crm")
    run(workspace, _contact("k1", phone=""), integration="crm")  # the phone is removed
    with workspace.engine.connect() as c:
        rows = c.execute(sa.select(record_phones.c.property, record_phones.c.number,
                                   record_phones.c.valid)).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("mobilephone", "12", False)]
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-11-02T00:00:00Z")
    [unreadable] = [f for f in report.findings if f.check == "unreadable_numbers"]
    assert (
        unreadable.summary.startswith("1 phone number of contacts and leads does not")
        and unreadable.rows[0]["given"] == "12"
    )
    assert unreadable.summary.endswith("(national numbers need the integration's region:, e.g. "
                                       "region: GB)")  # fmt: skip
    run(workspace, _contact("k1", mobilephone="+1 555 0100"), integration="crm")  # too short
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-11-02T00:00:00Z")
    [unreadable] = [f for f in report.findings if f.check == "unreadable_numbers"]
    assert [r["given"] for r in unreadable.rows] == ["+1 555 0100"]
    assert unreadable.summary.endswith("never matched")  # no region would read it


def test_the_report_counts_held_calls_about_to_expire_and_the_queues_age(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(
        workspace,
        _call("c1", "+447700900123"),
        _call("c2", "+447700900124", at="2026-11-05T00:00:00Z"),
    )
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-11-07T12:00:00Z")
    [held] = [f for f in report.findings if f.check == "held_activities"]
    assert held.alert and held.summary.startswith("2 activities are held")
    assert "1 reach the review queue within a day" in held.summary
    workspace.expire_holds(now="2026-11-08T10:00:00Z")
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-11-10T12:00:00Z")
    [queue] = [f for f in report.findings if f.check == "review_queue"]
    assert queue.alert and queue.rows == [
        {"kind": "unknown", "open": 1, "oldest": "2026-11-08T10:00:00Z"}
    ]
    assert "the oldest for 50 h (alert over max_review_age_hours: 24 h)" in queue.summary
    [fresh] = [
        f
        for f in workspace.report("2026-10-01T00:00:00Z", now="2026-11-08T10:20:00Z").findings
        if f.check == "review_queue"
    ]
    assert "the oldest for 20 min (alert over" in fresh.summary and not fresh.alert
    # The queued call stays held (a later contact still takes it): still counted.
    [held] = [f for f in report.findings if f.check == "held_activities"]
    assert held.summary.startswith("2 activities are held for a number no contact has")
    assert "(1 of them also in the review queue)" in held.summary


def test_the_report_queues_holds_that_ended_before_it_counts_them(workspace: Workspace) -> None:
    """A workspace only ingested into (no worker ran since): a call whose hold ended long ago
    is reported in the review queue, not as reaching it "within a day"."""
    _setup(workspace)
    run(workspace, _call("c1", "+447700900123"))
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-12-01T00:00:00Z")
    by_check = {f.check: f for f in report.findings}
    assert by_check["review_queue"].rows == [
        {"kind": "unknown", "open": 1, "oldest": "2026-12-01T00:00:00Z"}
    ]
    held = by_check["held_activities"]
    assert "(1 of them also in the review queue)" in held.summary
    assert "0 reach the review queue within a day" in held.summary and not held.alert


def test_preview_shows_the_match_and_what_would_be_queued(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", phone="+442079460000"), _contact("k2", phone="+447700900123"))
    lines = [json.dumps(_call("c1", "020 7946 0000")), json.dumps(_call("c2", "+15555550100"))]
    result = workspace.preview("dialer", lines, "calls.jsonl")
    first, second = result.events
    assert first.counterpart is not None and first.counterpart.startswith("matched by number")
    assert second.counterpart is not None and second.counterpart.startswith("held:")
    assert result.counts.counterparts == {
        "matched_by_number": 1, "held": 1, "attached_later": 0, "queued_for_review": 0,
        "internal": 0,
    }  # fmt: skip
    assert _links(workspace) == []  # nothing written


def test_preview_says_of_each_event_the_question_it_queues_and_the_held_call_it_attaches(
    workspace: Workspace,
) -> None:
    """Per event, not only in the counts: a call with an address two contacts have says its
    question; the contact that gets a held call's number says the call it attached — each
    as the run then does (the question in the queue, the call on the contact)."""
    _setup(workspace)
    run(workspace, _contact("k1", email="zed@hooli.test"))
    run(workspace, _contact("k2"), integration="crm")  # another contact, given the email later
    run(workspace, _contact("k2", email="zed@hooli.test"), integration="crm")
    email = ev(
        "activity", AT, activity="call", external_id="m1", owner="u-1",
        properties={"duration_s": 60, "outcome": "connected"},
        associations=[{"object": "contact", "email": "zed@hooli.test"}],
    )  # fmt: skip
    lines = [
        json.dumps(email),
        json.dumps(_call("c1", "+447700900123")),
        json.dumps(_contact("k3", at="2026-11-10T10:00:00Z", phone="+447700900123")),
    ]
    result = workspace.preview("dialer", lines, "events.jsonl")
    asked, held, contact = result.events
    assert asked.counterpart == (
        "a question for the review queue: 2 contacts have zed@hooli.test: which one was on "
        "this call?"
    )
    assert held.counterpart is not None and held.counterpart.startswith("held:")
    assert contact.counterpart is not None
    assert contact.counterpart.startswith(
        f"call {held.activity['id']} held for +447700900123: "  # type: ignore[index]
    )
    run(workspace, *[json.loads(line) for line in lines])
    [question] = workspace.review_items().items
    assert "2 contacts have zed@hooli.test" in question.question
    found = workspace.find(external="dialer:k3")[0]["id"]
    timeline = workspace.record("contact", found)["timeline"]
    assert [a["external_id"] for a in timeline] == ["c1"]


# ------------------------------------------------------------------- free-mail domains


def test_a_free_mail_domain_makes_no_company_and_matches_none(workspace: Workspace) -> None:
    _setup(workspace)
    gmail = [{"object": "company", "domain": "gmail.com"}]
    run(
        workspace,
        ev("record", AT, object="contact", external_id="k1", associations=gmail,
           properties={"email": "k1@gmail.com"}),
        ev("activity", AT, activity="note", external_id="n1", owner="u-1",
           properties={"body": "hi"},
           associations=[{"object": "contact", "external_id": "k1"}, *gmail]),
    )  # fmt: skip
    with workspace.engine.connect() as c:
        types = [r.type for r in c.execute(sa.select(records.c.type))]
    assert types == ["contact"]
    # A company that does use the domain, when the workspace allows it.
    config = workspace.export_config().model_dump(mode="json", exclude_defaults=True)
    config["free_mail"] = {"allow": ["gmail.com"]}
    workspace.apply_config(workspace_config_from(config))
    run(workspace, ev("record", AT, object="contact", external_id="k2", associations=gmail,
                      properties={"email": "k2@gmail.com"}))  # fmt: skip
    with workspace.engine.connect() as c:
        types = sorted(r.type for r in c.execute(sa.select(records.c.type)))
    assert types == ["company", "contact", "contact"]


def workspace_config_from(data: dict[str, Any]) -> Any:
    from leadsync.settings import load_config

    return load_config(json.dumps(data), "test.yaml")


# ------------------------------------------------------------ arrival order (property)

CONTACT_NUMBERS = ["+447700900101", "+447700900102", "+447700900103"]


def _events_for_order() -> list[tuple[str, dict[str, Any]]]:
    """Three contacts (two from the CRM tool), each with its own number, four calls: three
    to those numbers (national and international forms) and one to nobody's."""
    out: list[tuple[str, dict[str, Any]]] = []
    for i, number in enumerate(CONTACT_NUMBERS):
        integration = "crm" if i else "dialer"
        shown = "+44 " + number[3:] if i == 2 else number
        out.append((integration, _contact(f"k{i}", at=f"2026-11-0{i + 1}T09:00:00Z", phone=shown)))
    for i, number in enumerate([*CONTACT_NUMBERS, "+447700900199"]):
        national = "0" + number[3:] if i % 2 else number
        out.append(("dialer", _call(f"c{i}", national, at=f"2026-11-0{i + 1}T12:00:00Z")))
    return out


def _attachments(ws: Workspace) -> set[tuple[str, str]]:
    with ws.engine.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT a.external_id, i.external_id FROM activity_associations l "
                "JOIN activities a ON a.id = l.activity_id "
                "JOIN record_identities i ON i.record_id = l.record_id"
            )
        ).all()
    return {(a, r) for a, r in rows}


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(order=st.permutations(range(7)), cut=st.integers(min_value=1, max_value=7))
def test_any_arrival_order_gives_the_same_attachments(
    db_url: str, order: list[int], cut: int
) -> None:
    from tests.helpers import reset_database

    events = _events_for_order()
    with Workspace(db_url) as ws:
        reset_database(ws.engine)
        _setup(ws)
        arrived = [events[i] for i in order]
        # Split into two ingests at ``cut``, each grouped by integration in arrival order.
        for part in (arrived[:cut], arrived[cut:]):
            for integration, group in itertools.groupby(part, key=lambda pair: pair[0]):
                run(ws, *(e for _, e in group), integration=integration)
        assert _attachments(ws) == {("c0", "k0"), ("c1", "k1"), ("c2", "k2")}
        with ws.engine.connect() as c:
            held = c.execute(sa.select(held_activities.c.number)).scalars().all()
        assert held == ["+447700900199"]


# ------------------------------------------------------- a rep matching several owners


def test_a_rep_whose_email_two_active_owners_share_is_a_question_not_a_guess() -> None:
    from dataclasses import replace

    from leadsync.engine import decide
    from leadsync.model import Owner
    from leadsync.rules.mapping import OwnerDirectory
    from leadsync.sources.canonical import parse_event
    from tests.test_properties import NOW, empty_state, memory_rules

    rules = memory_rules("fill_if_empty", False)
    # Owners pulled from the CRM can share an email (the file's own owners cannot).
    owners = dict(rules.directory.owners)
    owners["105"] = Owner("105", "ana@acme.test", "Ana", "Twin")
    rules = replace(rules, directory=OwnerDirectory.build(owners, {"sdr": ("101", "102")}))
    contact = {
        "id": "e1", "type": "record", "object": "contact", "external_id": "p-1",
        "occurred_at": "2026-11-01T09:00:00Z", "owner": "u-1",
        "properties": {"email": "kim@globex.test"},
    }  # fmt: skip
    decided = decide(empty_state(), rules, [parse_event(contact, "dialer")], NOW)
    [decision] = decided.decisions
    assert decision.owner_id is None and decision.flagged
    assert "which 2 active owners have (101, 105)" in decision.reason
    [question] = decided.questions
    assert question["kind"] == "owner" and question["subject"] == "u-1"
    assert [c["owner_id"] for c in question["candidates"]] == ["101", "105"]
    # With ambiguous.owner: skip the unmapped policy applies instead (round robin here).
    skipping = replace(
        rules,
        integrations={
            "dialer": rules.integrations["dialer"].model_copy(
                update={"ambiguous": rules.integrations["dialer"].ambiguous.model_copy(
                    update={"owner": "skip"})}
            )
        },
    )  # fmt: skip
    decided = decide(empty_state(), skipping, [parse_event(contact, "dialer")], NOW)
    assert decided.questions == []
    [decision] = decided.decisions
    assert decision.owner_id == "101" and "(ambiguous.owner: skip)" in decision.reason


# ------------------------------------- real payloads: Aircall's call with no contact


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "webhooks"


def _fixture_body(kind: str, name: str) -> Any:
    return json.loads((FIXTURES / kind / name).read_text())["body"]


@pytest.mark.parametrize("call_first", [False, True], ids=["contact-first", "call-first"])
def test_aircalls_published_call_with_no_contact_lands_on_the_hubspot_contact_with_its_number(
    workspace: Workspace, call_first: bool
) -> None:
    """Aircall's call.ended names the caller only by ``raw_digits``; HubSpot's contact has the
    number in national form, read in the CRM integration's region. Either order ends with
    the call on that contact's timeline."""
    workspace.apply_config(
        workspace_config(
            {
                "phone": {"kind": "aircall", "region": "US"},
                "crm": {"kind": "hubspot", "region": "US", "vendor": {"app_id": "777"}},
            }
        )
    )
    contact = _fixture_body("hubspot", "contact.propertyChange.phone.json")
    contact[0]["propertyValue"] = "(415) 555-0199"  # as a person typed it in HubSpot
    call = _fixture_body("aircall", "call.ended.unknown_caller.json")
    steps = [("crm", json.dumps(contact)), ("phone", json.dumps(call))]
    for integration, line in reversed(steps) if call_first else steps:
        summary = workspace.ingest(integration, [line], source=f"{integration}.jsonl")
        assert summary.ok and summary.applied.events == 1
    contact_id = _id(workspace, "crm", "5101")
    [(_, record_id, _, source, reason)] = _links(workspace)
    assert record_id == contact_id
    if call_first:
        assert source == "held"
        assert reason == (
            f"attached when contact {contact_id} got +14155550199 "
            "(a change dated before the call, received after it)"
        )
    else:
        assert source == "number"
        assert reason == f"matched by number: contact {contact_id} has +14155550199 as phone"
    [activity] = workspace.record("contact", contact_id)["timeline"]
    assert activity["integration"] == "phone" and activity["external_id"] == "812401"


def test_a_call_left_on_no_record_says_why_in_the_activity_list(workspace: Workspace) -> None:
    """A call whose question was skipped (by a person, or by `ambiguous.number: skip`) is on
    no record: the list said only "none"."""
    _setup(workspace, ambiguous={"number": "skip"})
    run(workspace, _contact("k1", phone="+442079460000"), _contact("k2", phone="+442079460000"))
    run(workspace, _call("c1", "+442079460000"))
    [call] = [a for a in workspace.activities() if a["external_id"] == "c1"]
    assert call["records"] == [] and call["unattached"].startswith(
        "on no record: its question about +442079460000 was left unanswered "
        "(ambiguous.number: skip); `leadsync review show "
    )
    _setup(workspace)
    run(workspace, _call("c2", "+447700900123"))
    workspace.expire_holds(now="2026-12-01T00:00:00Z")
    [item] = workspace.review_items().items
    workspace.resolve_review(item.id, skip=True)
    [call] = [a for a in workspace.activities() if a["external_id"] == "c2"]
    assert [q["id"] for q in call["skipped"]] == [item.id]
    assert call["unattached"].startswith(
        "on no record: its question about +447700900123 was skipped by a person"
    )
    assert "left without a record; `leadsync review show" in call["unattached"]
    # A number withheld without a word is said as such (it read "its question about withheld").
    run(workspace, _call("c3", "", direction="inbound"))
    [item] = workspace.review_items().items
    workspace.resolve_review(item.id, skip=True)
    [call] = [a for a in workspace.activities() if a["external_id"] == "c3"]
    assert call["unattached"].startswith(
        "on no record: its question about a withheld number was skipped by a person"
    ), call["unattached"]


def test_a_call_on_the_shared_company_says_its_question_was_left_unanswered(
    workspace: Workspace,
) -> None:
    """With `ambiguous.number: skip` the call lands on the company both contacts share; the
    list showed the company alone, and only `review show` told why no contact got it."""
    from leadsync.cli.activities import _records_why

    _setup(workspace, ambiguous={"number": "skip"})
    at_company = [{"object": "company", "external_id": "co"}]
    run(
        workspace,
        ev("record", AT, object="company", external_id="co", properties={"domain": "g.test"}),
        ev("record", AT, object="contact", external_id="k1", associations=at_company,
           properties={"email": "k1@g.test", "phone": "+442079460000"}),
        ev("record", AT, object="contact", external_id="k2", associations=at_company,
           properties={"email": "k2@g.test", "phone": "+442079460000"}),
    )  # fmt: skip
    run(workspace, _call("c1", "+442079460000"))
    [call] = [a for a in workspace.activities() if a["external_id"] == "c1"]
    assert [r["type"] for r in call["records"]] == ["company"] and call["unattached"] is None
    why = _records_why(call)
    assert "its question about +442079460000 was left unanswered (ambiguous.number: skip)" in why
