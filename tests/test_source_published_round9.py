"""Published Outreach, Pipedrive, Aircall, Calendly and HubSpot payloads (round 9), sent to a
live ``leadsync serve`` as their vendors send them (:mod:`tests.live`: Outreach's and
Calendly's HMAC-SHA256 signatures, Pipedrive's Basic credentials, Aircall's token in the body,
HubSpot's v3 signature over the URI) and taken through ``leadsync ingest``.

Each sample is in ``tests/fixtures/published/<kind>/``; :data:`ROUND9_SOURCES` says where each
one comes from and what was done to make it a body (a JavaScript object literal as the JSON it
spells; an API example wrapped in the webhook envelope that carries it). What is checked is
what a RevOps admin expects of each (docs/WEBHOOKS.md): the right record or activity with its
owner and associations; nothing, for a family leadsync documents as ignored (no dead letter,
the inbox row applied); or a dead letter naming the field — never a record of the wrong type.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from leadsync.errors import EventError
from leadsync.model import ActivityType, EventType, RecordType
from leadsync.workspace import Workspace
from tests import test_source_published as published
from tests.adapters import envelope, outcome
from tests.live import NOW, serve, vendor_headers, wait_applied
from tests.test_source_published import PUBLISHED
from tests.test_source_published_live import configured, environ, every_integration, letters
from tests.test_source_published_live import post as post_signed
from tests.test_source_published_round7 import HULL_OUTREACH

HOOKDECK = "github.com/hookdeck/webhook-samples providers/{} (the body)"

ROUND9_SOURCES: dict[str, str] = {
    # Outreach: the rest of one sandbox's deliveries of 2018-09-26 (hull-connectors).
    "outreach/account.created.hull.json": HULL_OUTREACH.format("account-created.json"),
    "outreach/sequenceState.updated.step.hull.json": HULL_OUTREACH.format(
        "sequence-state-updated-step.json"
    ),
    "outreach/prospect.updated.noop.hull.json": HULL_OUTREACH.format(
        "prospect-added-to-sequence1-noop.json"
    ),
    "outreach/sequence.updated.hull.json": HULL_OUTREACH.format("sequence-disabled.json"),
    # Pipedrive
    "pipedrive/create.person.pipedream.json": "github.com/PipedreamHQ/pipedream "
    "components/pipedrive/sources/new-person-instant/test-event.mjs (webhooks v2; its meta, "
    "copied from the new-deal source, says entity 'deal' and entity_id 123 over a person's "
    "data; the JavaScript object literal as the JSON it spells)",
    "pipedrive/create.activity.activepieces.json": "github.com/activepieces/activepieces "
    "packages/pieces/community/pipedrive/src/lib/trigger/new-activity.ts (sampleData: "
    "Pipedrive's API v2 activity example, which a v2 create.activity carries as its data; "
    "wrapped here in a v2 meta of our own: action create, entity activity, entity_id 8)",
    "pipedrive/change.deal.v2_guide.json": HOOKDECK.format("pipedrive/2/change.json")
    + ": Pipedrive's 'Guide for Webhooks v2' example (pipedrive.readme.io/docs/"
    "guide-for-webhooks-v2): a deal's value and stage changed",
    # Aircall: events of families leadsync documents as ignored.
    "aircall/call_evaluation.created.api_reference.json": HOOKDECK.format(
        "aircall/latest/call_evaluation.created.json"
    )
    + ": Aircall API reference sample (developers.aircall.io/api-references)",
    "aircall/analytics.report_created.api_reference.json": HOOKDECK.format(
        "aircall/latest/analytics.report_created.json"
    )
    + ": Aircall API reference sample",
    # Calendly
    "calendly/invitee.created.payload_docs.json": HOOKDECK.format(
        "calendly/latest/invitee.created.json"
    )
    + ": Calendly's Webhook Payload page example (developer.calendly.com/api-docs/"
    "69c58da556b61-webhook-payload): no host, times with microseconds",
    # HubSpot: a workflow's "Send a webhook" body, captured from a portal.
    "hubspot/workflow.deal.hookdeck.json": HOOKDECK.format("HubSpot/current/DEAL.json")
    + ": a delivery captured from a HubSpot workflow's 'Send a webhook' action (portal "
    "27145807); its body, the properties trimmed to six of its 27 (each as captured)",
}

PIPEDRIVE_SECRET = "hooks:pipedrive-password"
#: Read as a whole body, refused on receipt (not events): :func:`test_hubspot_workflow_...`.
WORKFLOW = "hubspot/workflow.deal.hookdeck.json"


def test_every_round9_sample_is_a_published_file() -> None:
    assert all((PUBLISHED / name).is_file() for name in ROUND9_SOURCES)


@pytest.mark.parametrize("name", sorted(set(ROUND9_SOURCES) - {WORKFLOW}))
def test_a_sample_gives_canonical_events_or_a_named_dead_letter(name: str) -> None:
    published.test_a_sample_gives_canonical_events_or_a_named_dead_letter(name)


# ------------------------------------------------------------------ Pipedrive


def test_pipedrive_create_whose_data_is_not_its_entity_is_refused_naming_the_field() -> None:
    """Pipedream's "new person" sample says ``entity: deal`` over a person's data: read as
    a deal it would make a deal ``1`` owned by the user, with nothing of the person. A v2
    create carries the whole object, and a deal always has a title: the event is refused."""
    assert published.refused("pipedrive/create.person.pipedream.json") == (
        'field "data.title": required on a create of a deal (Pipedrive sends the whole deal, '
        "which always has a title): this object is not the deal meta.entity names"
    )


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("create.deal", "data.title"),
        ("create.lead", "data.title"),
        ("create.person", "data.name"),
        ("create.organization", "data.name"),
        ("v1.added.deal", "current.title"),
        ("v1.added.person", "current.name"),
    ],
)
def test_a_pipedrive_create_without_its_entity_s_required_field_is_a_dead_letter(
    name: str, path: str
) -> None:
    """The shape, not the one sample: any create (v2 ``create``, v1 ``added``) of a record
    whose object lacks the field Pipedrive always gives that entity names that field; the
    same event with it is read; a change (only what changed) needs none."""
    body = copy.deepcopy(envelope("pipedrive", name)["body"])
    root, field = path.split(".")
    assert body[root].get(field) is not None  # the fixture has it
    del body[root][field]
    found = outcome("pipedrive", json.dumps({**envelope("pipedrive", name), "body": body}))
    assert str(found.get("error", "")).startswith(f'field "{path}": required on a create of'), found
    whole = outcome("pipedrive", json.dumps(envelope("pipedrive", name)))
    assert "error" not in whole, whole


def test_a_pipedrive_change_without_the_title_is_still_read() -> None:
    body = copy.deepcopy(envelope("pipedrive", "change.deal")["body"])
    body["data"].pop("title", None)
    found = outcome("pipedrive", json.dumps({**envelope("pipedrive", "change.deal"), "body": body}))
    assert "error" not in found, found


def test_pipedrive_v2_activity_example_is_the_owners_task_on_its_person_deal_and_lead() -> None:
    """The API's activity example as a v2 ``create.activity``: a ``deadline`` (a task type
    leadsync does not know by name) is a task, not done, due 2020-06-09 10:00 UTC, owned by
    user 1234, on its person, organization, deal and lead and on the other participant;
    the attendee (an email the activity invites) is not a record of it."""
    [[event]] = published.read("pipedrive/create.activity.activepieces.json")[1]
    assert event.type is EventType.ACTIVITY and event.activity is ActivityType.TASK
    assert (event.external_id, event.owner and event.owner.id) == ("8", "1234")
    assert event.properties["status"] == "not_started"
    assert event.properties["due"] == "2020-06-09T10:00:00.000Z"
    assert event.properties["subject"] == "Deadline"
    assert event.properties["pipedrive_type"] == "deadline"
    assert [(a.type, a.external_id) for a in event.associations] == [
        (RecordType.CONTACT, "1101"),
        (RecordType.COMPANY, "5"),
        (RecordType.DEAL, "300"),
        (RecordType.LEAD, "46c3b0e1-db35-59ca-1828-4817378dff71"),
        (RecordType.CONTACT, "17985"),
    ]


def _post_pipedrive(live: Any, name: str) -> Any:
    body = (PUBLISHED / name).read_bytes()
    uri = live.webhook_uri("pipedrive")
    headers = vendor_headers("pipedrive", body, uri, PIPEDRIVE_SECRET, "application/json", NOW)
    return live.client.post("/webhooks/pipedrive", content=body, headers=headers)


def test_pipedrive_samples_through_a_live_service(workspace: Workspace) -> None:
    """Sent with Pipedrive's Basic credentials: both answered 200 and stored; the activity
    is the mapped rep's task on the person, deal and lead; the mislabeled person is a dead
    letter naming ``data.title`` — no deal ``1`` and no record for the person's data."""
    configured(
        workspace,
        {
            "pipedrive": {
                "kind": "pipedrive",
                "secret_env": "PIPEDRIVE_SECRET",
                "users": {"map": {"1234": "101", "123123": "102"}},
            }
        },
    )
    names = [
        "pipedrive/create.person.pipedream.json",
        "pipedrive/create.activity.activepieces.json",
    ]
    with serve(workspace, environ={"PIPEDRIVE_SECRET": PIPEDRIVE_SECRET}) as live:
        for name in names:
            answer = _post_pipedrive(live, name)
            assert answer.status_code == 200, (name, answer.text)
            assert answer.json()["accepted"] == 1
        wait_applied(workspace)
        unsigned = live.client.post(
            "/webhooks/pipedrive",
            content=(PUBLISHED / names[1]).read_bytes(),
            headers={"content-type": "application/json"},
        )
        assert unsigned.status_code == 401
    [letter] = letters(workspace)
    assert 'field "data.title": required on a create of a deal' in letter
    assert "internal error" not in letter
    assert workspace.find(external="pipedrive:1") == []  # no deal made of the person
    [task] = workspace.activities(integration="pipedrive", limit=10)
    assert (task["type"], task["external_id"], task["owner_id"]) == ("task", "8", "101")
    assert task["properties"]["status"] == "not_started"
    named = sorted((r["type"], r["external_ids"]) for r in _records(workspace, task))
    assert [kind for kind, _ in named] == ["company", "contact", "contact", "deal", "lead"]


def _records(ws: Workspace, activity: dict[str, Any]) -> list[dict[str, Any]]:
    """The records an activity is on, with the integration's ids of each."""
    out = []
    for link in activity["records"]:
        record = ws.record(link["type"], link["id"])
        ids = sorted(i["external_id"] for i in record["identities"])
        out.append({"type": link["type"], "external_ids": ids})
    return out


# ------------------------------------------------------------------ Outreach


def test_outreach_account_created_is_the_company_with_its_domain_and_owner() -> None:
    """The flat ``"owner": {"type": "owner", "id": 1}`` names user 1 (docs/WEBHOOKS.md,
    Relationships); the time is ``updatedAt``, in UTC."""
    event = published.only("outreach/account.created.hull.json")
    assert event.type is EventType.RECORD and event.object is RecordType.COMPANY
    assert event.external_id == "6" and event.owner is not None and event.owner.id == "1"
    assert event.properties == {
        "name": "Skywalker Industries",
        "domain": "skywalkerindustries.com",
    }
    assert event.occurred_at == "2018-09-26T18:07:00.000Z"


@pytest.mark.parametrize(
    "name",
    [
        "outreach/sequenceState.updated.step.hull.json",
        "outreach/sequence.updated.hull.json",
        "outreach/prospect.updated.noop.hull.json",
    ],
)
def test_outreach_events_leadsync_keeps_nothing_of_give_nothing_and_no_dead_letter(
    name: str,
) -> None:
    """A sequence state moving to another step and a sequence switched off are families
    leadsync documents as ignored; a prospect update carrying no attribute and no
    relationship (Outreach's delivery when a prospect is added to a sequence) changes
    nothing. Each is taken (its key made), gives no event, and refuses nothing."""
    pieces, groups = published.read(name)
    assert len(pieces) == 1 and groups == [[]]


def test_outreach_samples_through_a_live_service(ws: Workspace) -> None:
    """Signed as Outreach signs: each answered 200 and stored once, a redelivery a
    duplicate; the company is made with its domain and the mapped owner; the three others
    are applied as nothing — no dead letter, no record, every inbox row done."""
    configured(
        ws, {"outreach": {**every_integration()["outreach"], "users": {"map": {"1": "101"}}}}
    )
    paths = [PUBLISHED / name for name in ROUND9_SOURCES if name.startswith("outreach/")]
    with serve(ws, environ=environ()) as live:
        for path in paths:
            answer = post_signed(live, path)
            assert answer.status_code == 200, (path.name, answer.text)
            assert answer.json()["accepted"] == 1
        wait_applied(ws)
        again = post_signed(live, paths[0])
        assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)
    assert letters(ws) == []
    [company] = ws.find(external="outreach:6")
    assert company["type"] == "company"
    record = ws.record("company", company["id"])
    assert record["owner_id"] == "101"
    assert record["domain"] == "skywalkerindustries.com"
    assert ws.find(external="outreach:3") == []  # the empty prospect update makes nothing
    counts = {c["status"]: c["count"] for c in ws.inbox_counts()}
    assert counts.get("failed", 0) == 0 and sum(counts.values()) == len(paths)


def test_round9_samples_through_ingest(ws: Workspace) -> None:
    """``leadsync ingest`` of the samples as captured lines: every line taken or kept, the
    mislabeled Pipedrive person the one dead letter, naming its field."""
    configured(ws, published.integrations())
    for kind in ("outreach", "pipedrive"):
        names = [n for n in ROUND9_SOURCES if n.startswith(kind + "/")]
        lines = [published.line_of(PUBLISHED / n) for n in names]
        summary = ws.ingest(kind, lines, source=f"{kind}.jsonl")
        taken = summary.accepted + len(list(summary.dead_letters))
        assert taken == len(names) and list(summary.failed) == []
    errors = [str(letter["error"]) for letter in ws.dead_letters(limit=10)]
    assert len(errors) == 1 and 'field "data.title": required on a create of a deal' in errors[0]


def test_the_refusal_is_an_event_error_not_a_defect() -> None:
    with pytest.raises(EventError):
        published.read("pipedrive/create.person.pipedream.json")


# ------------------------------------------------------------------ Pipedrive: the v2 guide


def test_pipedrive_v2_guide_change_is_the_deal_with_its_new_value_and_stage() -> None:
    """The guide's ``change.deal``: only what changed (and the title) — the deal's amount 500
    and stage 2, at the event's time; no owner (``owner_id`` is not in a change that did not
    move it)."""
    event = published.only("pipedrive/change.deal.v2_guide.json")
    assert event.type is EventType.RECORD and event.object is RecordType.DEAL
    assert event.external_id == "123" and event.owner is None
    assert event.properties == {"name": "New deal", "amount": 500, "stage": "2"}
    assert event.occurred_at == "2026-01-01T12:00:00.000Z"


# ------------------------------------------------------------------ Aircall


@pytest.mark.parametrize(
    "name",
    [
        "aircall/call_evaluation.created.api_reference.json",
        "aircall/analytics.report_created.api_reference.json",
    ],
)
def test_aircall_documented_ignored_families_give_nothing(name: str) -> None:
    """A call evaluation (Conversation Intelligence, resource ``conversation_intelligence``,
    no ``data.id``) and an analytics export: families docs/WEBHOOKS.md lists as ignored.
    Each is stored under its own key and gives no event — no dead letter."""
    pieces, groups = published.read(name)
    assert len(pieces) == 1 and groups == [[]]


def test_aircall_ignored_samples_through_a_live_service(ws: Workspace) -> None:
    """Each sample posted to the account its token names (Aircall's only authenticity):
    answered 200, stored, applied as nothing; with another account's token, 401."""
    configured(ws, every_integration())
    names = [n for n in ROUND9_SOURCES if n.startswith("aircall/")]
    with serve(ws, environ=environ()) as live:
        for name in names:
            answer = post_signed(live, PUBLISHED / name)
            assert answer.status_code == 200, (name, answer.text)
            assert answer.json()["accepted"] == 1
        wrong = post_signed(live, PUBLISHED / names[1], integration=_other_account(names[1]))
        assert wrong.status_code == 401
        wait_applied(ws)
    assert letters(ws) == []
    assert ws.activities(limit=10) == []
    statuses = [(c["status"], c["count"]) for c in ws.inbox_counts()]
    assert sum(n for status, n in statuses if status == "applied") == len(names), statuses
    assert sum(n for _, n in statuses) == len(names), statuses


def _other_account(name: str) -> str:
    from tests.test_source_published_live import AIRCALL_TOKENS, integration_of

    own = integration_of(PUBLISHED / name)
    return next(f"aircall-{n}" for n in range(1, len(AIRCALL_TOKENS) + 1) if f"aircall-{n}" != own)


# ------------------------------------------------------------------ Calendly


def test_calendly_payload_docs_booking_is_the_invitees_meeting_without_a_host() -> None:
    """The Webhook Payload page's minimal ``invitee.created``: no ``event_memberships`` (no
    host: no owner, nothing made up), times with six decimals read to the millisecond in
    UTC; the invitee (``name`` only) becomes the contact Jane Doe."""
    [[meeting, contact]] = published.read("calendly/invitee.created.payload_docs.json")[1]
    assert meeting.type is EventType.ACTIVITY and meeting.activity is ActivityType.MEETING
    assert meeting.owner is None
    assert meeting.properties["start"] == "2026-07-10T15:00:00.000Z"
    assert meeting.properties["end"] == "2026-07-10T15:30:00.000Z"
    assert meeting.properties["outcome"] == "scheduled"
    assert [(a.type, a.email) for a in meeting.associations] == [
        (RecordType.CONTACT, "invitee@example.com")
    ]
    assert contact.properties == {
        "email": "invitee@example.com",
        "firstname": "Jane",
        "lastname": "Doe",
    }


def test_calendly_payload_docs_booking_through_a_live_service(ws: Workspace) -> None:
    configured(ws, {"calendly": every_integration()["calendly"]})
    with serve(ws, environ=environ()) as live:
        answer = post_signed(live, PUBLISHED / "calendly/invitee.created.payload_docs.json")
        assert answer.status_code == 200, answer.text
        wait_applied(ws)
    assert letters(ws) == []
    [contact] = ws.find(email="invitee@example.com")
    assert contact["name"] == "Jane Doe"
    [meeting] = ws.activities(integration="calendly", limit=10)
    assert meeting["owner_id"] is None
    assert [(r["type"], r["id"]) for r in meeting["records"]] == [("contact", contact["id"])]


# ------------------------------------------------------------------ HubSpot workflow


def test_hubspot_workflow_body_is_refused_whole_saying_what_to_subscribe() -> None:
    with pytest.raises(EventError) as caught:
        published.read(WORKFLOW)
    assert caught.value.detail.startswith(
        'field "(body)": must be an array of webhooks v3 events, got one record with its '
        "properties: a workflow's 'Send a webhook' action sends that"
    )


def test_hubspot_workflow_body_through_a_live_service_is_a_kept_400(workspace: Workspace) -> None:
    """Signed with HubSpot's v3 signature: authentic, so the body is kept as a dead letter
    and answered 400 with the reason (HubSpot does not retry a 4xx); nothing is made of the
    deal and no owner is set."""
    from tests.test_source_published_live_crm import ENVIRON, integrations
    from tests.test_source_published_live_crm import post as post_crm

    workspace.apply_config(workspace_config_of(integrations()))
    with serve(workspace, environ=ENVIRON) as live:
        answer = post_crm(live, WORKFLOW)
        assert answer.status_code == 400, answer.text
        assert "a workflow's 'Send a webhook' action sends that" in answer.json()["detail"]
    [letter] = letters(workspace)
    assert "subscribe the app's webhooks to the events" in letter
    assert workspace.find(external="hubspot:7036839888") == []


def workspace_config_of(found: dict[str, dict[str, Any]]) -> Any:
    from tests.helpers import workspace_config

    return workspace_config(found)
