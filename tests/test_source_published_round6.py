"""Payloads the vendors, or public connectors and test suites, published (round 6: Aircall,
Salesloft, Salesforce Change Data Capture, Outreach), read as :mod:`tests.test_source_published`
reads its own: cut on receipt and read by a worker (the adapter), and ``ingest`` of captured
lines into a scratch workspace. Each sample is in ``tests/fixtures/published/<kind>/``, kept as
published; :data:`ROUND6_SOURCES` says where each one comes from and what was done to make it
a line of ``leadsync ingest`` (a Salesloft body gets its ``x-salesloft-event`` header in the
``{headers, body}`` envelope; a JavaScript object literal or a Go raw string becomes the JSON
it spells; a Salesforce change event is the ``payload`` a relay sends on).

Each test checks what the vendor means by its sample (event and record type, ids, emails,
numbers in E.164, the rep, times in UTC, the call's duration, direction, outcome and
recording), or that a sample leadsync cannot read is a dead letter naming the field and what is
allowed, or is taken as nothing where the adapter documents that family as ignored.
"""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.model import ActivityType, Event, EventType, RecordType
from leadsync.pipeline.inbox import vendor_line_request
from leadsync.sources import adapter_for
from leadsync.sources.base import Piece
from leadsync.workspace import Workspace
from tests import test_source_published as published
from tests.adapters import owner_dict
from tests.helpers import workspace_config
from tests.test_source_published import PUBLISHED, e164, integrations, line_of

KOEN_AIRCALL = (
    "github.com/koenverduijn/aircall src/data/{} ({}: the deliveries one Aircall account "
    "received on 2022-03-04, kept by an Aircall solutions engineer; the JavaScript object "
    "literal of the entry's body as the JSON it spells)"
)
CDC_LEAD_CONVERSION = (
    "Salesforce Change Data Capture Developer Guide, 'Change Events for Lead Conversion', "
    "Example section, {} (developer.salesforce.com/docs/atlas.en-us.change_data_capture.meta/"
    "change_data_capture/cdc_standard_objects_lead_conversion.htm; the same events as a public "
    "markdown mirror of the page, apiVersion 67.0, its emphasis and escapes removed): the change "
    "event as a Pub/Sub API subscriber decodes it, sent on by a relay as the body"
)
HULL_OUTREACH = (
    "github.com/hull/hull-connectors packages/connectors/hull-outreach/test/integration/fixtures/"
    "webhook-payloads/{} (deliveries of one Outreach sandbox, 2018-09-26)"
)

ROUND6_SOURCES: dict[str, str] = {
    # Aircall
    "aircall/call.ringing_on_agent.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "callWebhookData entry 'call.ringing_on_agent', inbound"
    ),
    "aircall/call.answered.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.answered', outbound"
    ),
    "aircall/call.hungup.missed.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.hungup', inbound"
    ),
    "aircall/call.ended.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.ended', outbound"
    ),
    "aircall/call.voicemail_left.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.voicemail_left', inbound"
    ),
    "aircall/call.unsuccessful_transfer.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.unsuccessful_transfer', inbound"
    ),
    "aircall/call.commented.koenverduijn.json": KOEN_AIRCALL.format(
        "call.js", "entry 'call.commented', inbound"
    ),
    "aircall/user.connected.koenverduijn.json": KOEN_AIRCALL.format(
        "user.js", "userWebhookData entry 'user.connected'"
    ),
    # Salesloft
    "salesloft/task_updated.amp_labs.json": "github.com/amp-labs/connectors "
    "providers/salesloft/subscriptionEvent_test.go (TestCollapsedSubscriptionEvent, case "
    "task_updated: a delivery's body, with the case's eventHeader as the x-salesloft-event "
    "header of the envelope)",
    "salesloft/user_updated.amp_labs.json": "github.com/amp-labs/connectors "
    "providers/salesloft/test/read-list-users.json (a recorded GET /v2/users response: data[0], "
    "the user as the REST API renders it, sent as the body of a user_updated webhook)",
    "salesloft/person_created.amp_labs.json": "github.com/amp-labs/connectors "
    "providers/salesloft/test/read-list-people.json (a recorded GET /v2/people response: "
    "data[1], created_at equal to updated_at, sent as the body of a person_created webhook)",
    "salesloft/person_updated.hull.json": "github.com/Spendesk/hull-salesloft "
    "test/integration/fixtures/api-responses/list-people.json (a recorded GET /v2/people "
    "response: data[0], sent as the body of a person_updated webhook)",
    # Salesforce (Change Data Capture)
    "salesforce/cdc_account_create.lead_conversion.json": CDC_LEAD_CONVERSION.format(
        "'Account Create Change Event'"
    ),
    "salesforce/cdc_contact_create.lead_conversion.json": CDC_LEAD_CONVERSION.format(
        "'Contact Create Change Event'"
    ),
    "salesforce/cdc_opportunity_create.lead_conversion.json": CDC_LEAD_CONVERSION.format(
        "'Opportunity Create Change Event'"
    ),
    "salesforce/cdc_lead_update.lead_conversion.json": CDC_LEAD_CONVERSION.format(
        "'Lead Update Change Event'"
    ),
    # Outreach
    "outreach/account.updated.custom_field.hull.json": HULL_OUTREACH.format("account-updated.json"),
    "outreach/sequenceState.created.hull.json": HULL_OUTREACH.format("sequence-state-created.json"),
}

#: The webhook token of the Aircall captures: checked on receipt, never stored.
KOEN_TOKEN = "58ffd2bc5f3113f7bebf210a49299a1b"


def read(name: str) -> tuple[list[Piece], list[list[Event]]]:
    """Pieces and events of a sample, as intake and a worker make them. A Salesforce change
    event comes through the relay: no organization id is involved (round 1's reader knows
    the Outbound Messages' only)."""
    if not name.startswith("salesforce/"):
        return published.read(name)
    adapter = adapter_for("salesforce", "salesforce", {})
    pieces = adapter.pieces(vendor_line_request(line_of(PUBLISHED / name), adapter))
    return pieces, [adapter.events_of(p.payload(), p.key, 1, name, None) for p in pieces]


def only(name: str) -> Event:
    return published.only(name, read)


def refused(name: str) -> str:
    return published.refused(name, read)


def refs(event: Event) -> list[tuple[RecordType, str | None]]:
    return [(a.type, a.external_id) for a in event.associations]


# Every sample here is new and names its source: round 1's test_every_sample_names_its_source.


@pytest.mark.parametrize("name", sorted(ROUND6_SOURCES))
def test_a_sample_gives_canonical_events_or_a_named_dead_letter(name: str) -> None:
    published.test_a_sample_gives_canonical_events_or_a_named_dead_letter(name, read)


# ------------------------------------------------------------------ Aircall

#: The account's two lines and the agents of the captures.
AT_LINE, GB_LINE = "+43 720 880079", "+44 330 818 6690"
SE_AGENT = {"id": "731416", "email": "koen.verduijn+demo@aircall.io"}
TEST_AGENT = {"id": "736640", "email": "koen.verduijn+v5doewlrdy@aircall.io"}
#: What every event of a call says before it is over: no duration, outcome or recording.
FINAL_KEYS = {"duration_s", "outcome", "recording_url", "aircall_status"}


def test_aircall_numbers_of_the_captures_are_e164() -> None:
    assert e164(AT_LINE) == "+43720880079" and e164(GB_LINE) == "+443308186690"


def test_aircall_ringing_on_agent_is_the_inbound_call_owned_by_the_agent_it_rings() -> None:
    """Inbound: the caller is ``raw_digits``, the line called is ``number.digits``; the agent
    it rings is named with its email; the call is timed when it started; nothing final yet,
    and no contact (Aircall knew nobody with the number: the key is absent)."""
    pieces, [[call]] = read("aircall/call.ringing_on_agent.koenverduijn.json")
    assert call.type is EventType.ACTIVITY and call.activity is ActivityType.CALL
    assert call.external_id == "780836754"
    assert owner_dict(call) == SE_AGENT
    assert call.properties == {
        "title": "Aircall call",
        "direction": "inbound",
        "from_number": GB_LINE,
        "to_number": AT_LINE,
        "line_number": AT_LINE,  # the line called: the company's own
    }
    assert not call.associations
    assert call.occurred_at == pieces[0].occurred_at == "2022-03-04T10:28:59.000Z"
    assert KOEN_TOKEN not in pieces[0].payload()


def test_aircall_answered_outbound_call_is_from_the_line_to_the_dialled_number() -> None:
    """``answered_at`` is set, but call.answered is no final event: no outcome yet (a late
    answered event must not wipe what call.ended said); the answer's time is given, which
    tells the engine the call was answered (assign_on_activity)."""
    pieces, [[call]] = read("aircall/call.answered.koenverduijn.json")
    assert call.external_id == "780836699" and owner_dict(call) == TEST_AGENT
    assert call.properties == {
        "title": "Aircall call",
        "direction": "outbound",
        "from_number": GB_LINE,
        "to_number": AT_LINE,
        "line_number": GB_LINE,  # the line it was made from: the company's own
        "answered_at": "2022-03-04T10:29:00.000Z",  # answered_at 1646389740
    }
    assert call.occurred_at == "2022-03-04T10:28:55.000Z"  # started_at 1646389735
    assert pieces[0].occurred_at == "2022-03-04T10:29:00.000Z"  # timestamp 1646389740


def test_aircall_hungup_of_a_missed_call_names_no_agent_and_nothing_final() -> None:
    """Nobody answered (``missed_call_reason``, no ``user``): no owner, and the duration and
    reason wait for call.ended or call.voicemail_left."""
    pieces, [[call]] = read("aircall/call.hungup.missed.koenverduijn.json")
    assert call.external_id == "780836754" and call.owner is None
    assert call.properties["direction"] == "inbound"
    assert not FINAL_KEYS & set(call.properties)
    assert "aircall_missed_call_reason" not in call.properties
    assert pieces[0].occurred_at == "2022-03-04T10:29:16.000Z"


def test_aircall_ended_outbound_call_is_connected_with_its_duration() -> None:
    """Answered (``answered_at``), 20 s from start to end, no recording (``recording`` and
    ``asset`` null): no recording_url rather than a null one."""
    pieces, [[call]] = read("aircall/call.ended.koenverduijn.json")
    assert call.external_id == "780836699" and owner_dict(call) == TEST_AGENT
    assert call.properties == {
        "title": "Aircall call",
        "direction": "outbound",
        "from_number": GB_LINE,
        "to_number": AT_LINE,
        "line_number": GB_LINE,
        "answered_at": "2022-03-04T10:29:00.000Z",
        "ended_at": "2022-03-04T10:29:15.000Z",  # 15 s of talk: the 20 s count the ringing
        "outcome": "connected",
        "duration_s": 20,
        "aircall_status": "done",
    }
    assert call.occurred_at == "2022-03-04T10:28:55.000Z"
    assert pieces[0].occurred_at == "2022-03-04T10:29:46.000Z"  # about 30 s after hang-up


def test_aircall_voicemail_left_keeps_the_lasting_asset_not_the_expiring_link() -> None:
    """The caller left a voicemail after no agent answered: outcome voicemail, 17 s, the raw
    status and reason; the recording is the call's ``asset`` page, not the S3 link of
    ``voicemail`` that expires after 600 s."""
    pieces, [[call]] = read("aircall/call.voicemail_left.koenverduijn.json")
    assert call.external_id == "780836754" and call.owner is None
    assert call.properties == {
        "title": "Aircall call",
        "direction": "inbound",
        "from_number": GB_LINE,
        "to_number": AT_LINE,
        "line_number": AT_LINE,
        "outcome": "voicemail",
        "duration_s": 17,
        "recording_url": "https://assets.aircall.io/calls/780836754/voicemail",
        "aircall_status": "done",
        "aircall_missed_call_reason": "agents_did_not_answer",
    }
    assert "X-Amz-Expires=600" in pieces[0].payload()  # the expiring link is in the capture
    assert call.occurred_at == "2022-03-04T10:28:59.000Z"


def test_aircall_unlisted_call_event_is_a_non_final_update_of_the_call() -> None:
    """call.unsuccessful_transfer is in Aircall's event list, not in leadsync's: read as an
    update of the call like call.tagged, owned by the agent who holds it (``user``), not by
    the one the transfer failed to reach (``transferred_to``)."""
    pieces, [[call]] = read("aircall/call.unsuccessful_transfer.koenverduijn.json")
    assert call.external_id == "780883160" and owner_dict(call) == SE_AGENT
    assert not FINAL_KEYS & set(call.properties)
    assert call.occurred_at == "2022-03-04T10:52:54.000Z"
    assert pieces[0].occurred_at == "2022-03-04T10:54:34.000Z"


def test_aircall_commented_call_carries_its_comment_and_tag_texts() -> None:
    """A comment is posted after call.ended: its text (line break kept) and the call's tag
    names; the event repeats the call's status and duration, which only call.ended sets."""
    _, [[call]] = read("aircall/call.commented.koenverduijn.json")
    assert call.external_id == "780883160" and owner_dict(call) == SE_AGENT
    assert call.properties["comments"] == ["asdfasdfasdf\nalskdfjlaskdjflaksjdf"]
    assert call.properties["tags"] == ["Assess_Eng_Lvl"]
    assert not FINAL_KEYS & set(call.properties)


def test_aircall_user_connected_teaches_the_directory_the_agent() -> None:
    """A V1 user event: the agent's id, email and name; then V1's ``numbers``, the lines the
    agent is on, each one of the company's lines (a line event)."""
    pieces, [[user, *lines]] = read("aircall/user.connected.koenverduijn.json")
    assert user.type is EventType.USER and owner_dict(user) == TEST_AGENT
    assert [(line.type, line.external_id, line.properties) for line in lines] == [
        (EventType.LINE, "392330", {"number": "+61 2 8310 9650", "name": "Tiffany Test"}),
        (EventType.LINE, "403043", {"number": "+44 330 818 6644", "name": "Koens UK Test"}),
        (EventType.LINE, "404821", {"number": GB_LINE, "name": "Koens Test"}),
    ]
    assert user.properties == {"name": "Koen Test RrNuYErJ74"}
    assert user.occurred_at == pieces[0].occurred_at == "2022-03-04T11:12:39.000Z"
    assert KOEN_TOKEN not in pieces[0].payload()


#: The Aircall captures in the order Aircall sent them (by their timestamp).
AIRCALL_CAPTURE = [
    "call.answered.koenverduijn.json",
    "call.ringing_on_agent.koenverduijn.json",
    "call.hungup.missed.koenverduijn.json",
    "call.ended.koenverduijn.json",
    "call.voicemail_left.koenverduijn.json",
    "call.unsuccessful_transfer.koenverduijn.json",
    "call.commented.koenverduijn.json",
    "user.connected.koenverduijn.json",
]


def test_ingest_of_the_aircall_capture_gives_an_activity_per_call_with_its_final_values(
    db_url: str,
) -> None:
    """Eight deliveries about three calls and an agent: three call activities, the
    finished ones with their outcome and duration, both agents in the directory with their
    emails; nothing dead-lettered, and the token nowhere in what is kept."""
    lines = [line_of(PUBLISHED / "aircall" / name) for name in AIRCALL_CAPTURE]
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config(integrations()))
        summary = ws.ingest("aircall", lines, source="aircall.jsonl")
        assert summary.accepted == 8 and summary.dead_letter_count == 0
        assert list(summary.failed) == [] and summary.duplicates == 0
        calls = {a["external_id"]: a for a in ws.activities(integration="aircall")}
        assert set(calls) == {"780836699", "780836754", "780883160"}
        assert {k: calls["780836699"]["properties"].get(k) for k in ("outcome", "duration_s")} == {
            "outcome": "connected",
            "duration_s": 20,
        }
        voicemail = calls["780836754"]["properties"]
        assert (voicemail["outcome"], voicemail["duration_s"]) == ("voicemail", 17)
        assert calls["780883160"]["properties"]["tags"] == ["Assess_Eng_Lvl"]
        users = {u["id"]: u for u in ws.external_users("aircall")}
        assert users["731416"]["email"] == SE_AGENT["email"]
        assert users["736640"]["email"] == TEST_AGENT["email"]
        assert users["736640"]["name"] == "Koen Test RrNuYErJ74"
        kept = [row["payload"] for row in ws.inbox_rows(limit=20)]
        assert kept and not any(KOEN_TOKEN in text for text in kept)


# ------------------------------------------------------------------ Salesloft


def test_salesloft_task_updated_is_the_same_task_with_its_new_description() -> None:
    """The delivery after round 5's task_created: the same task id, its changed description,
    still timed when it was created; the event time (and so the key) is the update's."""
    pieces, [[task]] = read("salesloft/task_updated.amp_labs.json")
    [created] = published.read_pieces("salesloft/task_created.amp_labs.json")
    assert task.activity is ActivityType.TASK and task.external_id == "721356732"
    assert owner_dict(task) == {"id": "49067", "email": None}
    assert task.properties["body"] == (
        "Call John to discuss about the projects and this is updated to test update webhook event"
    )
    assert task.properties["status"] == "not_started"
    assert refs(task) == [(RecordType.CONTACT, "436664215")]
    assert task.occurred_at == "2026-01-22T06:22:45.587Z"  # created_at
    assert pieces[0].occurred_at == "2026-01-22T07:31:27.782Z"  # updated_at 02:31:27.782586-05:00
    assert pieces[0].key != created.key


def test_salesloft_user_updated_teaches_the_directory_the_owner_of_the_other_samples() -> None:
    """User 49067 owns round 5's task and account: its email and name, at updated_at (-04:00,
    daylight time) in UTC; the same under its GUID, which is how meetings name their owner."""
    _, groups = read("salesloft/user_updated.amp_labs.json")
    user, by_guid = [event for group in groups for event in group]
    assert user.type is by_guid.type is EventType.USER
    assert owner_dict(user) == {"id": "49067", "email": "somebody@withampersand.com"}
    assert owner_dict(by_guid) == {
        "id": "0863ed13-7120-479b-8650-206a3679e2fb",
        "email": "somebody@withampersand.com",
    }
    assert user.properties == by_guid.properties == {"name": "Int User"}
    assert user.occurred_at == by_guid.occurred_at == "2024-04-27T11:18:23.531Z"


def test_salesloft_person_created_without_numbers_or_account() -> None:
    """Every number null and no account: a contact with its name, email and owner only (the
    website of ``person_company_website`` names no company)."""
    person = only("salesloft/person_created.amp_labs.json")
    assert person.type is EventType.RECORD and person.object is RecordType.CONTACT
    assert person.external_id == "164510464"
    assert owner_dict(person) == {"id": "51550", "email": None}
    assert person.properties == {
        "firstname": "Lynnelle",
        "lastname": "Osbourn",
        "email": "losbourn27@paypal.com",
    }
    assert not person.associations
    assert person.occurred_at == "2024-03-07T07:45:52.460Z"  # 02:45:52.460011-05:00


def test_salesloft_person_with_a_french_mobile_and_an_account() -> None:
    """Only a mobile number (no work or home phone): mobilephone, read as +33600000000; the
    account is the company, the country is as given (FR), at updated_at (+01:00) in UTC."""
    person = only("salesloft/person_updated.hull.json")
    assert person.object is RecordType.CONTACT and person.external_id == "1"
    assert owner_dict(person) == {"id": "1", "email": None}
    assert person.properties == {
        "firstname": "John",
        "lastname": "Doe",
        "email": "john@email.com",
        "title": "CEO, Co-Founder chez Unknown",
        "mobilephone": "+33 6 00 00 00 00",
        "company": "Unknown",
        "country": "FR",
    }
    assert e164(person.properties["mobilephone"]) == "+33600000000"
    assert refs(person) == [(RecordType.COMPANY, "1")]
    assert person.occurred_at == "2018-11-09T08:43:24.491Z"


# ------------------------------------------------------------------ Salesforce

OWNER_18 = "0055f000005mc66AAA"
ACCOUNT_18 = "0015f00002JUX1JAAX"


def test_salesforce_lead_conversion_events_have_a_key_each_and_the_commit_time() -> None:
    """One transaction, four change events: each is its own piece (transactionKey and
    sequenceNumber), timed by its commitTimestamp in UTC."""
    names = [
        "cdc_account_create.lead_conversion.json",
        "cdc_contact_create.lead_conversion.json",
        "cdc_opportunity_create.lead_conversion.json",
        "cdc_lead_update.lead_conversion.json",
    ]
    adapter = adapter_for("salesforce", "salesforce", {})
    pieces = [
        piece
        for name in names
        for piece in adapter.pieces(
            vendor_line_request(line_of(PUBLISHED / "salesforce" / name), adapter)
        )
    ]
    assert len({p.key for p in pieces}) == 4
    assert [p.occurred_at for p in pieces] == 3 * ["2024-04-26T17:49:39.000Z"] + [
        "2024-04-26T17:49:40.000Z"
    ]


def test_salesforce_account_create_is_the_company_with_its_owner() -> None:
    """``Website`` null: no domain; the Account's ``Phone`` and address are not kept."""
    company = only("salesforce/cdc_account_create.lead_conversion.json")
    assert company.type is EventType.RECORD and company.object is RecordType.COMPANY
    assert company.external_id == ACCOUNT_18
    assert owner_dict(company) == {"id": OWNER_18, "email": None}
    assert company.properties == {"name": "Cadinal Inc."}
    assert company.occurred_at == "2024-04-26T17:49:39.000Z"


def test_salesforce_contact_create_reads_the_compound_name_and_links_the_account() -> None:
    """The Pub/Sub API's compound ``Name`` gives first and last name; the number is kept as
    the org wrote it, with no country code (no E.164 reading without one)."""
    contact = only("salesforce/cdc_contact_create.lead_conversion.json")
    assert contact.object is RecordType.CONTACT and contact.external_id == "0035f00002EztxDAAR"
    assert owner_dict(contact) == {"id": OWNER_18, "email": None}
    assert contact.properties == {
        "email": "brenda@cardinal.net",
        "firstname": "Brenda",
        "lastname": "Mcclure",
        "phone": "(847) 262-5000",
    }
    assert e164(contact.properties["phone"]) is None
    assert refs(contact) == [(RecordType.COMPANY, ACCOUNT_18)]


def test_salesforce_opportunity_create_is_an_open_deal_without_an_amount() -> None:
    """``Amount`` null is no amount (not zero); ``ContactId`` null names no contact."""
    deal = only("salesforce/cdc_opportunity_create.lead_conversion.json")
    assert deal.object is RecordType.DEAL and deal.external_id == "0065f00000UloqVAAR"
    assert owner_dict(deal) == {"id": OWNER_18, "email": None}
    assert deal.properties == {
        "name": "Cadinal Inc.-",
        "stage": "Prospecting",
        "is_closed": False,
        "closedate": "2024-06-30T00:00:00.000Z",  # CloseDate 1719705600000: epoch ms, a date
        "probability": 10,
    }
    assert refs(deal) == [(RecordType.COMPANY, ACCOUNT_18)]


def test_salesforce_lead_update_with_a_field_bitmap_is_a_dead_letter_saying_to_decode_it() -> None:
    """The Pub/Sub API's ``changedFields`` bitmap (the guide's decoded list: Status,
    IsConverted, Converted*…): read as names it would match no field and drop the change, so
    the relay is told to decode it."""
    assert refused("salesforce/cdc_lead_update.lead_conversion.json") == (
        'field "ChangeEventHeader.changedFields": holds field bitmaps (0x08F81000), not field '
        "names: the Pub/Sub API encodes them; the relay must decode them with the event's "
        "schema and send the names (as the Streaming API does)"
    )


# ------------------------------------------------------------------ Outreach


@pytest.mark.parametrize(
    ("name", "at"),
    [
        # only a custom field changed: nothing leadsync keeps
        ("outreach/account.updated.custom_field.hull.json", "2018-09-26T19:08:00.000Z"),
        # a sequence state (with its mailbox relationship): a family leadsync ignores
        ("outreach/sequenceState.created.hull.json", "2018-09-26T18:15:20.000Z"),
    ],
)
def test_outreach_deliveries_that_change_nothing_are_taken_as_nothing(name: str, at: str) -> None:
    pieces, groups = read(name)
    assert groups == [[]]
    assert pieces[0].occurred_at == at


# ------------------------------------------------------------------ ingest

#: The round-6 samples ingest keeps as dead letters: the undecoded bitmap only.
ROUND6_DEAD = {"salesforce": {"cdc_lead_update.lead_conversion.json"}}


def integrations_with_salesforce() -> dict[str, dict[str, Any]]:
    found = integrations()
    found["salesforce"] = {"kind": "salesforce", "users": {"unmapped": {"policy": "leave"}}}
    return found


@pytest.mark.parametrize("kind", ["aircall", "salesloft", "salesforce", "outreach"])
def test_ingest_of_the_round6_captures_dead_letters_nothing_unexpected(
    db_url: str, kind: str
) -> None:
    names = sorted(n.split("/", 1)[1] for n in ROUND6_SOURCES if n.startswith(kind + "/"))
    lines = [line_of(PUBLISHED / kind / name) for name in names]
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config(integrations_with_salesforce()))
        summary = ws.ingest(kind, lines, source=f"{kind}.jsonl")
        dead = {names[int(d.where.split(":")[1]) - 1]: d.error for d in summary.dead_letters}
        assert set(dead) == ROUND6_DEAD.get(kind, set()), dead
        assert list(summary.failed) == [] and summary.duplicates == 0
        assert summary.accepted == len(names) - len(dead)
        if kind == "salesforce":
            [contact] = ws.find(external="salesforce:0035f00002EztxDAAR")
            assert (contact["name"], contact["email"]) == ("Brenda Mcclure", "brenda@cardinal.net")
            [deal] = ws.find(external="salesforce:0065f00000UloqVAAR")
            assert deal["type"] == "deal" and deal["name"] == "Cadinal Inc.-"
            assert ws.find(external="salesforce:00Q5f000005bwLFEAY") == []
        if kind == "salesloft":
            found = ws.find(external="salesloft:1")  # the person, and its account's placeholder
            [person] = [r for r in found if r["type"] == "contact"]
            assert (person["name"], person["email"]) == ("John Doe", "john@email.com")
            users = {u["id"]: u["email"] for u in ws.external_users("salesloft")}
            assert users["49067"] == "somebody@withampersand.com"
