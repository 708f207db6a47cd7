"""More payloads the vendors, or public SDKs, connectors and test suites, published (round 5:
Salesloft, Outreach, Pipedrive, HubSpot, Salesforce), read as :mod:`tests.test_source_published`
reads its own: cut on receipt and read by a worker (the adapter), and ``ingest`` of captured
lines into a scratch workspace. Each sample is in ``tests/fixtures/published/<kind>/``, kept as
published; :data:`MORE_SOURCES` says where each one comes from and what was done to make it a
line of ``leadsync ingest`` (a Salesloft body gets its ``x-salesloft-event`` header in the
``{headers, body}`` envelope; JavaScript object literals become the JSON they spell).

Each test checks what the vendor means by its sample (event and record type, ids, emails,
numbers, the owner, times in UTC), or that a sample leadsync cannot read is a dead letter that
names the field and what is allowed.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from leadsync.errors import EventError, SignatureError
from leadsync.model import OTHER_PHONES, ActivityType, EventType, RecordType
from leadsync.pipeline.inbox import vendor_line_request
from leadsync.sources import adapter_for
from leadsync.sources.salesforce import ACK, SalesforceAdapter, id18
from leadsync.workspace import Workspace
from tests import test_source_published as published
from tests.adapters import owner_dict
from tests.helpers import workspace_config
from tests.test_source_published import (
    PUBLISHED,
    e164,
    integrations,
    line_of,
    only,
    read,
    read_pieces,
    refused,
)

AMP_LABS_SALESLOFT = (
    "github.com/amp-labs/connectors providers/salesloft/subscriptionEvent_test.go "
    "(TestCollapsedSubscriptionEvent, case {}: a delivery's body, with the case's eventHeader as "
    "the x-salesloft-event header of the envelope)"
)
HULL_OUTREACH = (
    "github.com/hull/hull-connectors packages/connectors/hull-outreach/test/integration/fixtures/"
    "webhook-payloads/{} (deliveries of one Outreach sandbox, 2018-09-26)"
)

MORE_SOURCES: dict[str, str] = {
    # Salesloft
    "salesloft/task_created.amp_labs.json": AMP_LABS_SALESLOFT.format("task_created"),
    "salesloft/account_updated.amp_labs.json": AMP_LABS_SALESLOFT.format("account_updated"),
    "salesloft/account_deleted.amp_labs.json": AMP_LABS_SALESLOFT.format("account_deleted"),
    # Outreach
    "outreach/prospect.created.hull.json": HULL_OUTREACH.format("prospect-created.json"),
    "outreach/prospect.updated.owner_emptied.hull.json": HULL_OUTREACH.format(
        "prospect-updated.json"
    ),
    "outreach/mailing.created.hull.json": HULL_OUTREACH.format("mailing-created.json"),
    "outreach/mailing.updated.delivered.hull.json": HULL_OUTREACH.format(
        "mailing-updated-delivered.json"
    ),
    "outreach/mailing.delivered.hull.json": HULL_OUTREACH.format("mailing-delivered.json"),
    "outreach/task.created.hull.json": HULL_OUTREACH.format("task-created.json"),
    "outreach/task.updated.complete.hull.json": HULL_OUTREACH.format("task-updated-complete.json"),
    # Pipedrive
    "pipedrive/create.deal.pipedream.json": "github.com/PipedreamHQ/pipedream "
    "components/pipedrive/sources/new-deal-instant/test-event.mjs (webhooks v2; the JavaScript "
    "object literal as JSON, its trailing comma dropped)",
    "pipedrive/change.deal.prismatic.json": "Prismatic's example payload of its Pipedrive "
    "trigger (prismatic.io/docs/example-payloads/pipedrive/triggers/pipedriveTrigger.json): the "
    "webhook body, payload.body.data",
    "pipedrive/v1.added.person.hull.json": "github.com/hull/hull-connectors packages/connectors/"
    "hull-pipedrive/test/unit/fixtures/user-webhook-update.js (webhooks v1, input.body; the "
    "JavaScript object literal as JSON)",
    # HubSpot
    "hubspot/contact.creation.prismatic.json": "Prismatic's example payload of its HubSpot "
    "webhook trigger (prismatic.io/docs/example-payloads/hubspot/triggers/webhook.json): the "
    "request body, payload.body.data",
    # Salesforce
    "salesforce/om_contact.freedom_nozzle.xml": "github.com/godep-migrator/freedom_nozzle "
    "unsoap_test.go (singleNotificationMessage: the XML of the Go raw string, without the "
    "newline the literal opens with)",
    "salesforce/om_discountrule.comsave.xml": "github.com/comsave/salesforce-outbound-message-"
    "bundle tests/Unit/Comsave/SalesforceOutboundMessageBundle/Services/"
    "OutboundMessageObjectNameRetrieverTest.php (testRetrieveReturnsObjectNameOnValidXml: the "
    "XML of the PHP string, its indentation kept)",
}


@pytest.mark.parametrize("name", sorted(MORE_SOURCES))
def test_a_sample_gives_canonical_events_or_a_named_dead_letter(name: str) -> None:
    published.test_a_sample_gives_canonical_events_or_a_named_dead_letter(name)


def refs(event: Any) -> list[tuple[RecordType, str | None]]:
    return [(a.type, a.external_id) for a in event.associations]


# ------------------------------------------------------------------ Salesloft


def test_salesloft_task_created_is_the_reps_open_task_on_the_person() -> None:
    """A real delivery: the task's ``user`` is its owner (``created_by_user`` made it, through
    the API); times carry -05:00 and microseconds: UTC, to the millisecond."""
    pieces, [[task]] = read("salesloft/task_created.amp_labs.json")
    assert task.type is EventType.ACTIVITY and task.activity is ActivityType.TASK
    assert task.external_id == "721356732"
    assert owner_dict(task) == {"id": "49067", "email": None}
    assert task.properties == {
        "subject": "Follow-up with John Kelly",
        "body": "Call John to discuss about the projects",
        "salesloft_task_type": "general",
        "task_type": "todo",  # a general task: HubSpot's TODO (call and email its own)
        "status": "not_started",  # current_state scheduled
        "due": "2026-01-31T00:00:00.000Z",  # due_date: the canonical due of a plain date
    }
    assert refs(task) == [(RecordType.CONTACT, "436664215")]
    assert task.occurred_at == "2026-01-22T06:22:45.587Z"  # created_at 01:22:45.587713-05:00
    assert pieces[0].occurred_at == "2026-01-22T06:22:45.587Z"  # updated_at
    assert pieces[0].key.startswith("t:2026-01-22T06:22:45.587Z:721356732:")


def test_salesloft_account_updated_is_the_company_with_its_domain_and_owner() -> None:
    event = only("salesloft/account_updated.amp_labs.json")
    assert event.type is EventType.RECORD and event.object is RecordType.COMPANY
    assert event.external_id == "75464484"
    assert owner_dict(event) == {"id": "49067", "email": None}
    assert event.properties == {"name": "testaccount", "domain": "withampersand.com"}
    assert event.occurred_at == "2026-01-29T23:20:20.346Z"  # 18:20:20.346346-05:00


def test_salesloft_account_deleted_is_acknowledged_as_nothing() -> None:
    """Deletions are not propagated: taken, no event, no dead letter."""
    pieces, groups = read("salesloft/account_deleted.amp_labs.json")
    assert groups == [[]]
    assert pieces[0].occurred_at == "2026-01-22T07:45:21.340Z"


# ------------------------------------------------------------------ Outreach


def test_outreach_prospect_created_with_flat_relationships() -> None:
    """Outreach's flat relationships (``{"type", "id"}``): the account is the company; the
    owner id 0 is passed as given (no user has it: the mapping finds nobody); ``stage`` is not
    a prospect's property."""
    pieces, [[event]] = read("outreach/prospect.created.hull.json")
    assert event.type is EventType.RECORD and event.object is RecordType.CONTACT
    assert event.external_id == "3"
    assert event.properties == {
        "firstname": "Luke",
        "lastname": "Skywalker",
        "title": "Jedi Knight",
    }
    assert refs(event) == [(RecordType.COMPANY, "5")]
    assert owner_dict(event) == {"id": "0", "email": None}
    assert event.occurred_at == pieces[0].occurred_at == "2018-09-26T18:01:58.000Z"


def test_outreach_prospect_update_emptying_the_owner_is_an_owner_event_to_nobody() -> None:
    """Only the owner (``{"id": null}``) and fields leadsync keeps not (street, a personal
    note) changed: an owner event that removes the owner."""
    event = only("outreach/prospect.updated.owner_emptied.hull.json")
    assert event.type is EventType.OWNER and event.object is RecordType.CONTACT
    assert event.external_id == "3" and event.owner is None
    assert event.occurred_at == "2018-09-26T18:03:52.000Z"


@pytest.mark.parametrize(
    ("name", "at", "state", "draft"),
    [
        ("outreach/mailing.created.hull.json", "2018-09-26T18:15:26.000Z", "drafted", True),
        # its deliveredAt, not the event's updatedAt
        (
            "outreach/mailing.updated.delivered.hull.json",
            "2018-09-26T18:54:30.000Z",
            "delivered",
            False,
        ),
        # no attributes: the webhook's deliveredAt (11:55:03.874-07:00)
        ("outreach/mailing.delivered.hull.json", "2018-09-26T18:55:03.874Z", "delivered", False),
    ],
)
def test_outreach_mailing_is_a_draft_until_it_is_delivered(
    name: str, at: str, state: str, draft: bool
) -> None:
    email = only(name)
    assert email.activity is ActivityType.EMAIL and email.external_id == "1"
    sent = {} if draft else {"outcome": "sent"}  # a draft is no email sent yet
    assert email.properties == {"direction": "outbound", "outreach_state": state, **sent}
    assert email.draft is draft and email.occurred_at == at
    assert email.owner is None  # the mailbox is not a user
    assert refs(email) == ([(RecordType.CONTACT, "3")] if draft else [])


def test_outreach_task_created_then_completed() -> None:
    created = only("outreach/task.created.hull.json")
    assert created.activity is ActivityType.TASK and created.external_id == "2"
    assert owner_dict(created) == {"id": "1", "email": None}
    assert created.properties == {
        "outreach_task_type": "sequence_step_email",
        "due": "2018-09-26T18:35:24.000Z",
    }
    assert refs(created) == [(RecordType.CONTACT, "3")]
    completed = only("outreach/task.updated.complete.hull.json")
    assert completed.external_id == "2" and completed.owner is None  # the completer is not it
    assert completed.properties == {"outreach_state": "complete", "status": "completed"}
    assert completed.occurred_at == "2018-09-26T18:54:27.000Z"


#: The hull capture in the order Outreach delivered it.
OUTREACH_CAPTURE = [
    "prospect.created.hull.json",
    "prospect.updated.owner_emptied.hull.json",
    "mailing.created.hull.json",
    "task.created.hull.json",
    "mailing.updated.delivered.hull.json",
    "mailing.delivered.hull.json",
    "task.updated.complete.hull.json",
]


def test_ingest_of_the_outreach_capture_puts_the_email_and_task_on_the_prospect(
    db_url: str,
) -> None:
    """The delivered updates name only the mailing: the draft's prospect carries over, and
    the email is timed when it was delivered (the earliest of its events), once."""
    lines = [line_of(PUBLISHED / "outreach" / name) for name in OUTREACH_CAPTURE]
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config(integrations()))
        preview = ws.preview("outreach", lines, "outreach.jsonl").counts.activities
        summary = ws.ingest("outreach", lines, source="outreach.jsonl")
        # The preview predicts the run: the draft is remembered, neither created nor skipped.
        expected = {"created": 2, "updated": 2, "skipped": 0, "merged": 0}
        assert preview.model_dump() == summary.activities == expected
        assert ws.skipped_activities() == []
        assert summary.accepted == 7 and summary.dead_letter_count == 0
        [luke] = ws.find(external="outreach:3")
        assert luke["name"] == "Luke Skywalker" and luke["owner_id"] is None
        found = {a["type"]: a for a in ws.activities(integration="outreach")}
        assert set(found) == {"email", "task"}
        assert found["email"]["occurred_at"] == "2018-09-26T18:54:30.000Z"
        assert found["task"]["properties"]["status"] == "completed"
        for activity in found.values():
            assert {"type": "contact", "id": luke["id"]} in [
                {"type": r["type"], "id": r["id"]} for r in activity["records"]
            ]


# ------------------------------------------------------------------ Pipedrive


def test_pipedrive_v2_deal_created_is_named_by_its_own_id() -> None:
    """Pipedream's sample says ``meta.entity_id`` 123 of a deal whose ``id`` is 1: the deal's
    fields go to deal 1 (the object), with its owner (a creation always sends it)."""
    pieces, [[deal]] = read("pipedrive/create.deal.pipedream.json")
    assert pieces[0].key == "123456789-1234-1234-1234-123456789012"  # meta.id
    assert deal.type is EventType.RECORD and deal.object is RecordType.DEAL
    assert deal.external_id == "1"
    assert owner_dict(deal) == {"id": "123123", "email": None}
    assert deal.properties == {
        "name": "Title",
        "amount": 2,
        "currency": "BRL",
        "stage": "1",
        "pipedrive_status": "open",
        "is_closed": False,
    }
    assert refs(deal) == [(RecordType.CONTACT, "3"), (RecordType.COMPANY, "2")]
    assert deal.occurred_at == "2023-01-01T00:00:00.000Z"  # meta.timestamp


def test_pipedreams_samples_share_one_event_id_so_ingest_takes_one() -> None:
    """Pipedream's lead and deal samples carry the same placeholder ``meta.id``: the inbox
    dedupes on it, so a capture of both keeps the first (Pipedrive's ids are unique)."""
    keys = {
        read_pieces(f"pipedrive/{name}")[0].key
        for name in ("create.deal.pipedream.json", "change.lead.pipedream.json")
    }
    assert keys == {"123456789-1234-1234-1234-123456789012"}


def test_pipedrive_v2_change_without_previous_does_not_assert_the_owner() -> None:
    """Prismatic's sample: ``previous`` null (nothing says the owner changed) and
    ``meta.timestamp`` in unix seconds."""
    pieces, [[deal]] = read("pipedrive/change.deal.prismatic.json")
    assert pieces[0].key == "1"  # meta.id, an integer here
    assert deal.object is RecordType.DEAL and deal.external_id == "1"
    assert deal.owner_unchanged  # not known to be a change
    assert deal.properties == {
        "name": "test deal",
        "amount": 2,
        "currency": "USD",
        "stage": "1",
        "pipedrive_status": "open",
        "is_closed": False,
    }
    assert refs(deal) == [(RecordType.CONTACT, "3"), (RecordType.COMPANY, "2")]
    assert deal.occurred_at == "2024-09-27T14:25:28.000Z"  # 1727447128


def test_pipedrive_v1_added_person_is_named_by_current_id() -> None:
    """Hull's v1 sample: ``meta.id`` is a placeholder (``someid``), the person is
    ``current.id`` 1; the owner is the v1 user object's ``value`` with its ``email``;
    ``last_name`` null is no name; the work number has no country code (kept as given); the
    phone list is the person's whole list, so the mobile it lacks is null."""
    person = only("pipedrive/v1.added.person.hull.json")
    assert person.object is RecordType.CONTACT and person.external_id == "1"
    assert owner_dict(person) == {"id": "10638921", "email": "tim@hull.io"}
    assert person.properties == {
        "name": "Tim",
        "firstname": "Tim",
        "email": "timmy@theco.com",
        "phone": "5553452345",
        "mobilephone": None,
        **dict.fromkeys(OTHER_PHONES),  # v1's list is whole
    }
    assert e164(person.properties["phone"]) is None
    assert refs(person) == [(RecordType.COMPANY, "1")]
    assert person.occurred_at == "2018-04-11T09:50:13.384Z"  # timestamp_micro


# ------------------------------------------------------------------ HubSpot


@pytest.mark.parametrize("app_id", [None, "987654"])
def test_hubspot_contact_created_in_the_crm_ui_is_a_manual_creation(app_id: str | None) -> None:
    """Made by a person (``CRM_UI``, ``userId:…``): a manual creation, whichever app owns the
    subscription (the sample's ``appId`` is never compared with leadsync's own)."""
    path = PUBLISHED / "hubspot/contact.creation.prismatic.json"
    adapter = adapter_for("hubspot", "hubspot", {"app_id": app_id} if app_id else {})
    [piece] = adapter.pieces(vendor_line_request(line_of(path), adapter))
    [event] = adapter.events_of(piece.payload(), piece.key, 1, "line:1", None)
    assert piece.key == "234567:567890123@65059681032"
    assert event.type is EventType.RECORD and event.object is RecordType.CONTACT
    assert event.external_id == "65059681032" and event.manual
    assert event.owner is None and not event.properties
    assert event.occurred_at == "2024-02-26T22:29:58.741Z"


# ------------------------------------------------------------------ Salesforce


def test_salesforce_contact_message_is_the_contact_named_by_its_18_character_id() -> None:
    """The sample's id lost its case (``…xxxxxxxxxx``): its last three characters say which
    letters are capitals, so it is restored, and the published spelling finds it."""
    pieces, [[contact]] = read("salesforce/om_contact.freedom_nozzle.xml")
    assert pieces[0].key == "04lo00000"  # the notification Id
    assert contact.object is RecordType.CONTACT and contact.owner is None
    assert contact.external_id == id18("003o0000xxxxxxxxxx") == "003o0000xXXXXxXAQX"
    assert SalesforceAdapter.normalize_external_id("contact", "003o0000xxxxxxxxxx") == (
        contact.external_id
    )
    assert contact.properties == {"firstname": "some", "lastname": "dude"}
    assert contact.occurred_at == "2014-07-10T00:05:38.000Z"  # LastModifiedDate


def test_salesforce_message_from_a_cut_short_organization_id_is_refused() -> None:
    """``00Do00`` is no organization id: it cannot be configured, and it matches none that
    is."""
    with pytest.raises(ValidationError, match="'00Do00' is not a Salesforce organization id"):
        adapter_for("salesforce", "salesforce", {"organization_id": "00Do00"})
    path = PUBLISHED / "salesforce/om_contact.freedom_nozzle.xml"
    adapter = adapter_for("salesforce", "salesforce", {"organization_id": "00Do0000000e0vQEAQ"})
    with pytest.raises(SignatureError, match="not the configured organization_id"):
        adapter.verify(vendor_line_request(line_of(path), adapter), None, 0.0)


def test_salesforce_custom_object_message_is_acked_and_a_dead_letter_naming_the_sobject() -> None:
    """An Outbound Message of a custom object is taken (Salesforce gets its Ack and stops
    retrying) and kept as a dead letter that names the sObject and the ones leadsync reads."""
    name = "salesforce/om_discountrule.comsave.xml"
    [piece] = read_pieces(name)
    assert piece.key == "04l570000176YSmAAM"
    assert piece.occurred_at == "2018-05-04T11:35:40.000Z"
    adapter = adapter_for("salesforce", "salesforce", {})
    assert adapter.acknowledge([piece]) == ("text/xml; charset=utf-8", ACK)
    assert refused(name) == (
        "field \"sobject\": sObject 'DiscountRule__c' is not supported; allowed: Lead, Contact, "
        "Account, Opportunity, Task, Event"
    )


def test_salesforce_custom_object_without_a_date_is_refused_for_its_sobject_first() -> None:
    """The sObject is what no Outbound Message of it can mend: it was refused for the
    LastModifiedDate it did not select, and once that was added, for the sObject."""
    path = PUBLISHED / "salesforce/om_discountrule.comsave.xml"
    text = line_of(path)
    dated = "<sf:LastModifiedDate>2018-05-04T11:35:40.000Z</sf:LastModifiedDate>"
    assert dated in text
    adapter = adapter_for("salesforce", "salesforce", {})
    [piece] = adapter.pieces(vendor_line_request(text.replace(dated, ""), adapter))
    with pytest.raises(EventError) as caught:
        adapter.events_of(piece.payload(), piece.key, 1, "om.xml", None)
    assert caught.value.detail.startswith(
        "field \"sobject\": sObject 'DiscountRule__c' is not supported; allowed: Lead,"
    )


def test_ingest_of_the_salesforce_samples_keeps_the_custom_object_as_a_dead_letter(
    db_url: str,
) -> None:
    found = integrations()
    found["salesforce"] = {
        "kind": "salesforce",
        "users": {"unmapped": {"policy": "leave"}},
        "vendor": {"organization_id": "00DD0000000muCUMAY"},
    }
    names = ["om_contact.freedom_nozzle.xml", "om_discountrule.comsave.xml"]
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config(found))
        lines = [line_of(PUBLISHED / "salesforce" / name) for name in names]
        summary = ws.ingest("salesforce", lines, source="salesforce.jsonl")
        assert summary.accepted == 1 and list(summary.failed) == []
        [letter] = summary.dead_letters
        assert letter.where == "salesforce.jsonl:2"
        assert letter.error.startswith("field \"sobject\": sObject 'DiscountRule__c' ")
        [contact] = ws.find(external="salesforce:003o0000xxxxxxxxxx")
        assert contact["name"] == "some dude"
