"""Payloads the vendors, or public connectors and test suites, published (round 7: Pipedrive
webhooks v2, Calendly, Outreach, Salesloft, a Salesforce Outbound Message), read as
:mod:`tests.test_source_published` reads its own: cut on receipt and read by a worker (the
adapter), and ``ingest`` of captured lines into a scratch workspace. Each sample is in
``tests/fixtures/published/<kind>/``, kept as published; :data:`ROUND7_SOURCES` says where each
one comes from and what was done to make it a line of ``leadsync ingest`` (a Salesloft body gets
its ``x-salesloft-event`` header in the ``{headers, body}`` envelope; a markdown code block
becomes the JSON it holds, a stray tab of its indentation dropped).

Each test checks what the vendor means by its sample (event and record type, ids, emails, the
rep, times in UTC, outcomes), or that a sample leadsync cannot read is a dead letter naming the
field and what is allowed, or is taken as nothing where the adapter documents it so.
"""

from __future__ import annotations

from typing import Any

import pytest

from leadsync.model import PHONE_PROPERTIES, ActivityType, Event, EventType, RecordType
from leadsync.pipeline.inbox import vendor_line_request
from leadsync.sources import adapter_for
from leadsync.sources.base import Piece
from leadsync.workspace import Workspace
from tests import test_source_published as published
from tests.adapters import owner_dict
from tests.helpers import workspace_config
from tests.test_source_published import PUBLISHED, integrations, line_of

PIPEDRIVE_V2_GUIDE = (
    "Pipedrive developer docs, 'Webhooks v2 migration guide', section 'Webhooks v2 examples', "
    "example '{}' (pipedrive.readme.io/docs/webhooks-v2-migration-guide; the same page as a "
    "public markdown mirror)"
)
CALENDLY_TRIGGERS = (
    "a public repository's 'Calendly Trigger Reference' (markdown; the sample payloads one "
    "Calendly account received in June 2026, uuids zeroed), section '{}'"
)
HULL_OUTREACH = (
    "github.com/hull/hull-connectors packages/connectors/hull-outreach/test/integration/fixtures/"
    "webhook-payloads/{} (deliveries of one Outreach sandbox, 2018-09-26)"
)

ROUND7_SOURCES: dict[str, str] = {
    # Pipedrive (webhooks v2)
    "pipedrive/create.activity.migration_guide.json": PIPEDRIVE_V2_GUIDE.format("Create activity"),
    "pipedrive/change.activity.migration_guide.json": PIPEDRIVE_V2_GUIDE.format("Update activity"),
    "pipedrive/create.note.migration_guide.json": PIPEDRIVE_V2_GUIDE.format("Create note"),
    "pipedrive/change.lead.migration_guide.json": PIPEDRIVE_V2_GUIDE.format("Update lead"),
    "pipedrive/change.organization.migration_guide.json": PIPEDRIVE_V2_GUIDE.format(
        "Update organization"
    ),
    "pipedrive/change.person.migration_guide.json": PIPEDRIVE_V2_GUIDE.format("Update person"),
    "pipedrive/create.pipeline.migration_guide.json": PIPEDRIVE_V2_GUIDE.format("Create pipeline"),
    # Calendly
    "calendly/invitee.created.trigger_reference.json": CALENDLY_TRIGGERS.format("invitee.created"),
    "calendly/invitee.canceled.trigger_reference.json": CALENDLY_TRIGGERS.format(
        "invitee.canceled"
    ),
    "calendly/invitee_no_show.created.trigger_reference.json": CALENDLY_TRIGGERS.format(
        "invitee_no_show.created"
    ),
    # Outreach
    "outreach/prospect.updated.linked_account.hull.json": HULL_OUTREACH.format(
        "prospect-linked-account.json"
    ),
    "outreach/prospect.updated.touched.hull.json": HULL_OUTREACH.format(
        "prospect-updated-touched.json"
    ),
    "outreach/mailing.updated.queued.hull.json": HULL_OUTREACH.format("mailing-queued.json"),
    "outreach/mailing.updated.delivering.hull.json": HULL_OUTREACH.format(
        "mailing-updated-delivering.json"
    ),
    "outreach/task.created.sequence_step_task.hull.json": HULL_OUTREACH.format(
        "task-created2.json"
    ),
    # Salesloft
    "salesloft/task_created.amp_labs_write.json": "github.com/amp-labs/connectors "
    "providers/salesloft/test/write-create-task.json (a recorded POST /v2/tasks response: its "
    "data, the task as the REST API renders it, sent as the body of a task_created webhook)",
    # Salesforce (Outbound Message)
    "salesforce/om_opportunity.phoenix_blog.xml": "the blog post 'Salesforce Outbound messages "
    "and Phoenix' (2020-05-09), kept as markdown in a public repository: its 'sample message "
    "from the sandbox environment' (an Opportunity; SessionId and the URLs elided as '...' "
    "there)",
}

NO_NUMBERS = dict.fromkeys(PHONE_PROPERTIES)

#: The Outbound Message's organization (its ``OrganizationId``, as an admin configures it).
PHOENIX_ORGANIZATION = "00D5w000004qGTOEA2"


def read(name: str) -> tuple[list[Piece], list[list[Event]]]:
    """Pieces and events of a sample; the Outbound Message with its organization."""
    if not name.startswith("salesforce/"):
        return published.read(name)
    adapter = adapter_for("salesforce", "salesforce", {"organization_id": PHOENIX_ORGANIZATION})
    pieces = adapter.pieces(vendor_line_request(line_of(PUBLISHED / name), adapter))
    return pieces, [adapter.events_of(p.payload(), p.key, 1, name, None) for p in pieces]


def only(name: str) -> Event:
    return published.only(name, read)


def refs(event: Event) -> list[tuple[RecordType, str | None]]:
    return [(a.type, a.external_id) for a in event.associations]


@pytest.mark.parametrize("name", sorted(ROUND7_SOURCES))
def test_a_sample_gives_canonical_events_or_a_named_dead_letter(name: str) -> None:
    published.test_a_sample_gives_canonical_events_or_a_named_dead_letter(name, read)


# ------------------------------------------------------------------ Pipedrive


def test_pipedrive_v2_activity_created_is_the_meeting_on_its_due_date() -> None:
    """No ``due_time``: the meeting happened on its due date (no start, no end); the event's
    uuid is the key; ``meta.timestamp`` is when it changed."""
    pieces, [[meeting]] = read("pipedrive/create.activity.migration_guide.json")
    assert pieces[0].key == "bbba59e9-1d1f-4794-9472-72540d421386"
    assert meeting.type is EventType.ACTIVITY and meeting.activity is ActivityType.MEETING
    assert meeting.external_id == "2" and owner_dict(meeting) == {"id": "12415231", "email": None}
    assert meeting.properties == {"pipedrive_type": "meeting", "title": "Call with friends"}
    assert refs(meeting) == [(RecordType.CONTACT, "10"), (RecordType.DEAL, "10")]
    assert meeting.occurred_at == "2022-11-24T00:00:00.000Z"
    assert meeting.changed_at == "2022-11-24T15:25:44.461Z"


def test_pipedrive_v2_activity_update_with_empty_time_objects_renames_the_meeting() -> None:
    """v2's ``{timezone_id, value: ""}`` for ``due_time`` and ``duration`` names no time: the
    update is the new subject, not a refusal and not a start at midnight."""
    [meeting] = only_group("pipedrive/change.activity.migration_guide.json")
    assert meeting.properties == {
        "pipedrive_type": "meeting",
        "title": "Call with friends and family",
    }
    assert meeting.changed_at == "2022-11-24T15:28:13.375Z"


def only_group(name: str) -> list[Event]:
    _, [group] = read(name)
    return group


def test_pipedrive_v2_note_is_the_authors_note_on_the_person_and_deal() -> None:
    note = only("pipedrive/create.note.migration_guide.json")
    assert note.activity is ActivityType.NOTE and note.external_id == "1"
    assert owner_dict(note) == {"id": "12415231", "email": None}  # user_id, the author
    assert note.properties == {"body": "Deal note"}
    assert refs(note) == [(RecordType.CONTACT, "10"), (RecordType.DEAL, "10")]
    assert note.occurred_at == "2022-11-25T15:41:34.000Z"  # add_time


@pytest.mark.parametrize(
    ("name", "kind", "external_id", "properties", "associations"),
    [
        (
            "change.lead",
            RecordType.LEAD,
            "b1810230-6c0d-11ed-9826-a53d0eb706a5",
            {"name": "Lead Org lead"},
            [(RecordType.CONTACT, "11"), (RecordType.COMPANY, "2")],
        ),
        ("change.organization", RecordType.COMPANY, "1", {"name": "Sample Org"}, []),
        (
            "change.person",
            RecordType.CONTACT,
            "8",
            # ``phones: []``: the person's whole list, so no number (docs/WEBHOOKS.md).
            {"name": "Sample Person", "firstname": "Sample Person", **NO_NUMBERS},
            [(RecordType.COMPANY, "1")],
        ),
    ],
)
def test_pipedrive_v2_changes_that_leave_the_owner_do_not_assert_it(
    name: str,
    kind: RecordType,
    external_id: str,
    properties: dict[str, Any],
    associations: list[tuple[RecordType, str]],
) -> None:
    """``previous`` holds what changed (the lead's archive flag and value, a custom field of
    the organization, the person's name): never ``owner_id``, so the owner is sent as
    unchanged (taken only by a record first seen now)."""
    event = only(f"pipedrive/{name}.migration_guide.json")
    assert event.type is EventType.RECORD and event.object is kind
    assert event.external_id == external_id and event.owner_unchanged
    assert event.properties == properties and refs(event) == associations


def test_pipedrive_v2_pipeline_event_gives_nothing() -> None:
    """A pipeline created (a ``*.*`` webhook sends it): leadsync keeps nothing of pipelines,
    so the event is taken and gives nothing — no dead letter nobody could fix."""
    pieces, events = read("pipedrive/create.pipeline.migration_guide.json")
    assert len(pieces) == 1 and events == [[]]


# ------------------------------------------------------------------ Calendly

HOST = {
    "id": "https://api.calendly.com/users/00000000-0000-0000-0000-0000000000a1",
    "email": "support@example.com",
}
INVITEE_1 = (
    "https://api.calendly.com/scheduled_events/00000000-0000-0000-0000-000000000002/invitees/"
    "00000000-0000-0000-0000-000000000001"
)


def test_calendly_booking_is_the_hosts_meeting_with_the_invitee_as_contact() -> None:
    """A Zoom location is no phone number; ``first_name`` null: the name is cut at its space."""
    meeting, contact = only_group("calendly/invitee.created.trigger_reference.json")
    assert meeting.activity is ActivityType.MEETING and meeting.external_id == INVITEE_1
    assert owner_dict(meeting) == HOST
    assert meeting.properties == {
        "outcome": "scheduled",
        "title": "Acme - Intro",
        "start": "2026-06-10T06:30:00.000Z",
        "end": "2026-06-10T07:00:00.000Z",
        "calendly_status": "active",
    }
    assert meeting.occurred_at == "2026-06-10T06:30:00.000Z"
    assert contact.object is RecordType.CONTACT
    assert contact.properties == {
        "email": "john.doe@example.com",
        "firstname": "John",
        "lastname": "Doe",
    }


def test_calendly_cancellation_keeps_the_reason() -> None:
    meeting, _ = only_group("calendly/invitee.canceled.trigger_reference.json")
    assert meeting.properties["outcome"] == "canceled"
    assert meeting.properties["cancellation_reason"] == "test creation"
    assert meeting.properties["calendly_status"] == "canceled"


def test_ingest_of_the_booking_and_its_no_show_gives_one_meeting_marked_no_show(
    db_url: str,
) -> None:
    """The no-show names the same invitee: it updates the booking's meeting, whichever
    arrives first; the cancellation of another booking is a meeting of its own."""
    names = [
        "invitee_no_show.created.trigger_reference.json",
        "invitee.created.trigger_reference.json",
        "invitee.canceled.trigger_reference.json",
    ]
    lines = [line_of(PUBLISHED / "calendly" / name) for name in names]
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config(integrations()))
        summary = ws.ingest("calendly", lines, source="calendly.jsonl")
        assert summary.accepted == 3 and summary.dead_letter_count == 0
        meetings = {a["external_id"]: a for a in ws.activities(integration="calendly")}
        assert len(meetings) == 2
        assert meetings[INVITEE_1]["properties"]["outcome"] == "no_show"
        [john] = ws.find(email="john.doe@example.com")
        assert john["name"] == "John Doe"


# ------------------------------------------------------------------ Outreach


def test_outreach_prospect_linked_to_an_account_is_associated_with_the_company() -> None:
    """A flat ``account`` relationship, no attribute but ``updatedAt``: the association alone,
    no owner (the update does not name one)."""
    event = only("outreach/prospect.updated.linked_account.hull.json")
    assert event.type is EventType.RECORD and event.object is RecordType.CONTACT
    assert event.external_id == "3" and event.owner is None and not event.properties
    assert refs(event) == [(RecordType.COMPANY, "6")]


def test_outreach_touched_prospect_is_read_as_nothing() -> None:
    pieces, groups = read("outreach/prospect.updated.touched.hull.json")
    assert len(pieces) == 1 and groups == [[]]


@pytest.mark.parametrize(
    ("name", "state", "at"),
    [
        ("queued", "queued", "2018-09-26T18:54:27.381Z"),  # no updatedAt: deliveredAt, in UTC
        ("delivering", "delivering", "2018-09-26T18:54:28.000Z"),
    ],
)
def test_outreach_mailing_on_its_way_is_still_a_draft(name: str, state: str, at: str) -> None:
    mailing = only(f"outreach/mailing.updated.{name}.hull.json")
    assert mailing.activity is ActivityType.EMAIL and mailing.draft
    assert mailing.properties == {"direction": "outbound", "outreach_state": state}
    assert mailing.occurred_at == at


def test_outreach_sequence_task_is_the_owners_task_on_the_prospect() -> None:
    task = only("outreach/task.created.sequence_step_task.hull.json")
    assert task.activity is ActivityType.TASK and task.external_id == "3"
    assert owner_dict(task) == {"id": "1", "email": None}
    assert task.properties["outreach_task_type"] == "sequence_step_task"
    assert task.properties["due"] == "2018-09-26T18:56:03.000Z"
    assert task.properties["body"].endswith("once you’ve found them on LinkedIn.")
    assert refs(task) == [(RecordType.CONTACT, "3")]


# ------------------------------------------------------------------ Salesloft


def test_salesloft_task_created_through_the_api_is_the_assignees_call_task() -> None:
    """Times with an offset (``-04:00``) are read to UTC; the owner is ``user`` (the assignee),
    not ``created_by_user``; a plain ``due_date`` is the due day."""
    pieces, [[task]] = read("salesloft/task_created.amp_labs_write.json")
    assert task.activity is ActivityType.TASK and task.external_id == "175204275"
    assert owner_dict(task) == {"id": "51550", "email": None}
    assert task.properties == {
        "subject": "call me maybe",
        "salesloft_task_type": "call",
        "task_type": "call",
        "status": "not_started",
        "due": "2025-01-01T00:00:00.000Z",
    }
    assert refs(task) == [(RecordType.CONTACT, "164510523")]
    assert task.occurred_at == pieces[0].occurred_at == "2024-05-01T10:12:41.102Z"


# ------------------------------------------------------------------ Salesforce


def test_salesforce_opportunity_message_is_the_deal_with_its_account_and_contact() -> None:
    """Ids in their 18-character form, the amount as a number, ``IsClosed`` as a boolean;
    the notification id is the key; acknowledged with the SOAP Ack."""
    pieces, [[deal]] = read("salesforce/om_opportunity.phoenix_blog.xml")
    assert pieces[0].key == "04l5w00005286hAAAQ"
    assert deal.type is EventType.RECORD and deal.object is RecordType.DEAL
    assert deal.external_id == "0065w000023STAmAAO"
    assert owner_dict(deal) == {"id": "0055w00000BhqR0AAJ", "email": None}
    assert deal.properties == {
        "name": "Backpackers, Inc. (Sample)",
        "stage": "Negotiation/Review",
        "is_closed": False,
        "amount": 45000,
        "closedate": "2020-07-11T00:00:00.000Z",  # <sf:CloseDate>2020-07-11: midnight UTC
        "probability": 80,
    }
    assert refs(deal) == [
        (RecordType.COMPANY, "0015w00002BFDeLAAX"),
        (RecordType.CONTACT, "0035w000035gg9GAAQ"),
    ]
    assert deal.occurred_at == "2020-05-09T03:04:32.000Z"


@pytest.mark.parametrize("kind", ["pipedrive", "outreach"])
def test_ingest_of_the_round7_captures_dead_letters_nothing_unexpected(
    db_url: str, kind: str
) -> None:
    names = sorted(n.split("/", 1)[1] for n in ROUND7_SOURCES if n.startswith(kind + "/"))
    lines = [line_of(PUBLISHED / kind / name) for name in names]
    expected_dead: set[str] = set()
    with Workspace(db_url) as ws:
        ws.apply_config(workspace_config(integrations()))
        summary = ws.ingest(kind, lines, source=f"{kind}.jsonl")
        dead = {names[int(d.where.split(":")[1]) - 1]: d.error for d in summary.dead_letters}
        assert set(dead) == expected_dead, dead
        assert list(summary.failed) == [] and summary.duplicates == 0
        if kind == "pipedrive":
            [meeting] = [
                a for a in ws.activities(integration="pipedrive") if a["type"] == "meeting"
            ]
            assert meeting["properties"]["title"] == "Call with friends and family"
            [person] = ws.find(external="pipedrive:8")
            assert person["name"] == "Sample Person"
