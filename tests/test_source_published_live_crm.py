"""Payloads HubSpot, Salesforce and Pipedrive (or integrators) published, sent to a live
``leadsync serve`` (round 8): a real HTTP server on a local port, each integration configured
as an admin would, every request signed as the vendor signs it (tests/live.py
``vendor_headers``: HubSpot's v3 signature over the URI, Pipedrive's Basic credentials, a
Salesforce Outbound Message's organization, a change event relay's HMAC), its worker applying
what was stored — on SQLite and PostgreSQL.

Every sample of the three vendors, the earlier rounds' too, is answered as the vendor wants
(200, the SOAP ``Ack``) and becomes what docs/WEBHOOKS.md says: records, identities, owners,
activities, or nothing for an event leadsync does not keep — never a dead letter for a valid
body, save the few the docs name (a Salesforce message without the modification time leadsync
needs, an sObject it does not read). :data:`ROUND8_CRM_SOURCES` says where each new sample comes
from; a JavaScript or Python literal of a connector's test is kept as the JSON it spells.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from leadsync.store.schema import record_identities
from leadsync.workspace import Workspace
from tests.helpers import workspace_config
from tests.live import LiveServer, serve, vendor_headers, wait_applied

PUBLISHED = Path(__file__).parent / "fixtures" / "published"

SIM = (
    "github.com/simstudioai/sim apps/sim/triggers/hubspot/{} (the trigger's 'Event Payload "
    "Example', JSON.stringify of the sample)"
)
DJANGO_PIPEDRIVE = (
    "github.com/sulsseo/django_pipedrive pipedrive/tests.py, {} (the webhook body the test "
    "posts, a Python dict: the JSON it spells)"
)

ROUND8_CRM_SOURCES: dict[str, str] = {
    # HubSpot (webhooks v3)
    "hubspot/contact.merge.sim.json": SIM.format("contact_merged.ts"),
    "hubspot/company.merge.sim.json": SIM.format("company_merged.ts"),
    "hubspot/deal.merge.sim.json": SIM.format("deal_merged.ts"),
    "hubspot/ticket.merge.sim.json": SIM.format("ticket_merged.ts"),
    "hubspot/contact.restore.sim.json": SIM.format("contact_restored.ts"),
    "hubspot/contact.privacyDeletion.sim.json": "a fork of simstudioai/sim (xde-mcp/sim) "
    "apps/sim/triggers/hubspot/contact_privacy_deleted.ts (its sample repeats the eventId and "
    "subscriptionId of the contact.merge sample)",
    "hubspot/conversation.newMessage.sim.json": "the same fork, "
    "apps/sim/triggers/hubspot/conversation_new_message.ts",
    "hubspot/contact.deletion.sim.json": "the same fork, "
    "apps/sim/triggers/hubspot/contact_deleted.ts",
    "hubspot/deal.propertyChange.dealstage.sim.json": "the same fork, "
    "apps/sim/triggers/hubspot/deal_property_changed.ts",
    # Pipedrive
    "pipedrive/v1.merged.organization.django_pipedrive.json": DJANGO_PIPEDRIVE.format(
        "test_merge_organizations"
    ),
    "pipedrive/v1.updated.person.hookdeck.json": "github.com/hookdeck/webhook-samples "
    "providers/pipedrive/1/updated.person.json (a delivery captured from a Pipedrive account: "
    "its body)",
    "pipedrive/v1.updated.activity.hookdeck.json": "github.com/hookdeck/webhook-samples "
    "providers/pipedrive/1/updated.activity.json (the same account's call marked done, its "
    "due_time and duration empty strings: its body)",
    "pipedrive/delete.person.migration_guide.json": "Pipedrive developer docs, 'Webhooks v2 "
    "migration guide', example 'Delete person' (as copied in github.com/hookdeck/"
    "webhook-samples providers/pipedrive/2/delete.person.json: its body)",
    # Salesforce (Outbound Messages)
    "salesforce/om_contact.sql_listener.xml": "a public repository's README 'Salesforce to SQL "
    "Outbound Message Listener': a Contact Outbound Message of a sandbox (every field "
    "selected), sent with curl (the -d body of its code block, unindented)",
    "salesforce/om_account.amp_labs.xml": "github.com/amp-labs/connectors providers/salesforce "
    "Outbound Message tests (sampleOutboundMessage: two Accounts, one Name xsi:nil)",
}

SECRETS = {"hubspot": "hubspot-client-secret", "pipedrive": "hooks:pipedrive-password"}
SECRETS["salesforce"] = "relay-secret"  # the change events' relay (CDC)
ENVIRON = {f"{kind.upper()}_SECRET": secret for kind, secret in SECRETS.items()}
KINDS = ("hubspot", "pipedrive", "salesforce")
SAMPLES = sorted(
    str(p.relative_to(PUBLISHED)) for kind in KINDS for p in (PUBLISHED / kind).iterdir()
)
# The organization each Outbound Message names (one Salesforce integration each).
ORGANIZATIONS = {
    p.name: m.group(1)
    for p in (PUBLISHED / "salesforce").glob("*.xml")
    if (m := re.search(r"<OrganizationId>(00D\w{12,15})</OrganizationId>", p.read_text()))
}
#: What leadsync refuses of the published samples, as docs/WEBHOOKS.md says it does: the
#: error each leaves as a dead letter (its start).
DEAD = {
    "salesforce/om_lead.novopayment.xml": 'field "fields.LastModifiedDate": required',
    "salesforce/om_lead.umbraco.xml": 'field "fields.LastModifiedDate": required',
    "salesforce/om_discountrule.comsave.xml": "field \"sobject\": sObject 'DiscountRule__c'",
    # A Pub/Sub API change event whose changedFields are bitmaps the relay did not decode.
    "salesforce/cdc_lead_update.lead_conversion.json": 'field "ChangeEventHeader.changedFields"',
    # Pipedream's "new person" sample: a person's data under meta.entity "deal" (round 9).
    "pipedrive/create.person.pipedream.json": 'field "data.title": required on a create of a deal',
}
#: Samples refused on receipt: an organization id cut short names no organization (sent to
#: the integration without one: every Outbound Message there is refused).
NOT_AUTHENTIC = {"salesforce/om_contact.freedom_nozzle.xml"}
#: Authentic bodies that are not the vendor's events: answered 400 and kept as a dead letter
#: whose error starts so (round 9: a HubSpot workflow's "Send a webhook" body).
MALFORMED = {
    "hubspot/workflow.deal.hookdeck.json": 'field "(body)": must be an array of '
    "webhooks v3 events, got one record with its properties",
}


def integration_of(name: str) -> str:
    kind, file = name.split("/")
    if file in ORGANIZATIONS:
        return "sf-" + ORGANIZATIONS[file].lower()
    return kind


def integrations() -> dict[str, dict[str, Any]]:
    leave = {"unmapped": {"policy": "leave"}}
    found: dict[str, dict[str, Any]] = {
        "hubspot": {"kind": "hubspot", "secret_env": "HUBSPOT_SECRET", "vendor": {"app_id": 777}},
        "pipedrive": {"kind": "pipedrive", "secret_env": "PIPEDRIVE_SECRET", "users": leave},
        "salesforce": {"kind": "salesforce", "secret_env": "SALESFORCE_SECRET", "users": leave},
    }
    for org in ORGANIZATIONS.values():
        found["sf-" + org.lower()] = {
            "kind": "salesforce",
            "users": leave,
            "vendor": {"organization_id": org},
        }
    return found


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    workspace.apply_config(workspace_config(integrations()))
    with serve(workspace, environ=ENVIRON) as server:
        yield server


def post(server: LiveServer, name: str) -> httpx.Response:
    """The sample as its vendor sends it to its integration's webhook."""
    kind = name.split("/")[0]
    integration = integration_of(name)
    body = (PUBLISHED / name).read_bytes()
    content_type = "text/xml" if name.endswith(".xml") else "application/json"
    headers = vendor_headers(
        kind, body, server.webhook_uri(integration), SECRETS[kind], content_type
    )
    return server.client.post(f"/webhooks/{integration}", content=body, headers=headers)


def send(ws: Workspace, server: LiveServer, *names: str) -> None:
    """Post samples in order, each answered as its vendor expects, and wait for the worker."""
    for name in names:
        response = post(server, name)
        assert response.status_code == 200, (name, response.text)
        if name.endswith(".xml"):
            assert "<Ack>true</Ack>" in response.text
        else:
            assert response.json()["accepted"] + response.json()["duplicates"] >= 1
        wait_applied(ws)


def dead_letters(ws: Workspace) -> list[str]:
    return [letter["error"] for letter in ws.dead_letters(limit=100)]


def record(ws: Workspace, external: str) -> dict[str, Any]:
    [found] = ws.find(external=external)
    return ws.record(found["type"], found["id"])


# ------------------------------------------------------------------ every sample

SF_CONTACT = "sf-00dn00000008y2teaa"
SF_ACCOUNTS = "sf-00dxx0000001gpfeay"
#: The ids each sample leaves records known by (``integration:id`` -> the id the tool merged
#: it into, None for its own), where its reading changed or its sample is new: a merge names
#: the kept record by the gone id too; a v2 deletion changes nothing; an event leadsync does
#: not keep makes no record.
IDENTITIES: dict[str, dict[str, str | None]] = {
    **{
        f"hubspot/{kind}.merge.sim.json": {
            f"hubspot:{prefix}16126906049": None,
            f"hubspot:{prefix}16126906050": f"{prefix}16126906049",
        }
        for kind, prefix in (("contact", "3"), ("company", "2"), ("deal", "4"), ("ticket", "5"))
    },
    "hubspot/contact.restore.sim.json": {},
    "hubspot/contact.deletion.sim.json": {},
    "hubspot/deal.propertyChange.dealstage.sim.json": {"hubspot:316126906060": None},
    "hubspot/contact.privacyDeletion.sim.json": {},
    "hubspot/conversation.newMessage.sim.json": {},
    "pipedrive/v1.merged.organization.django_pipedrive.json": {
        "pipedrive:996": None,
        "pipedrive:995": "996",
    },
    "pipedrive/delete.person.migration_guide.json": {},
    "pipedrive/v1.updated.activity.hookdeck.json": {"pipedrive:3": None, "pipedrive:2": None},
    "pipedrive/v1.updated.person.hookdeck.json": {"pipedrive:3": None, "pipedrive:2": None},
    "salesforce/om_contact.sql_listener.xml": {
        f"{SF_CONTACT}:003n000000NOtUbAAL": None,
        f"{SF_CONTACT}:001n000000KABYLAA5": None,
    },
    # The second Account names nothing leadsync reads (a nil Name never blanks one).
    "salesforce/om_account.amp_labs.xml": {f"{SF_ACCOUNTS}:001xx000003DGb2AAG": None},
}


def known_ids(ws: Workspace) -> dict[str, str | None]:
    """Every identity of the workspace, with the id its tool merged it into."""
    out: dict[str, str | None] = {}
    with ws.engine.connect() as c:
        for row in c.execute(sa.select(record_identities)):
            out[f"{row.integration}:{row.external_id}"] = row.merged_into
    return out


def test_every_new_sample_names_its_source() -> None:
    assert set(ROUND8_CRM_SOURCES) <= set(SAMPLES)
    assert set(IDENTITIES) <= set(SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_is_answered_and_applied_or_kept_as_the_docs_say(
    workspace: Workspace, live: LiveServer, name: str
) -> None:
    if name in NOT_AUTHENTIC:
        response = post(live, name)
        assert response.status_code == 401 and "organization" in response.text
        return
    if name in MALFORMED:
        response = post(live, name)
        assert response.status_code == 400, response.text
        [letter] = dead_letters(workspace)
        assert letter.startswith(MALFORMED[name]), letter
        return
    send(workspace, live, name)
    letters = dead_letters(workspace)
    if name in DEAD:
        assert len(letters) == 1 and DEAD[name] in letters[0], letters
    else:
        assert letters == [], letters
    assert "internal error" not in json.dumps(letters)
    if name in IDENTITIES:
        assert known_ids(workspace) == IDENTITIES[name]


# ------------------------------------------------------------------ merges


@pytest.mark.parametrize("kind", ["contact", "company", "deal", "ticket"])
def test_after_a_hubspot_merge_sample_the_gone_id_s_changes_land_on_the_kept_record(
    workspace: Workspace, live: LiveServer, kind: str
) -> None:
    """The samples name the kept record by ``objectId`` (no ``primaryObjectId``) and the
    merged-away one in ``mergedObjectIds``; a later change HubSpot reports of the gone id (a
    redelivery from before the merge) lands on the kept record."""
    send(workspace, live, f"hubspot/{kind}.merge.sim.json")
    sample = json.loads((PUBLISHED / "hubspot" / f"{kind}.merge.sim.json").read_text())[0]
    kept, [gone] = str(sample["objectId"]), [str(i) for i in sample["mergedObjectIds"]]
    name = {"contact": "firstname", "company": "name", "deal": "dealname", "ticket": "subject"}
    late = {
        **sample,
        "eventId": sample["eventId"] + 1,
        "subscriptionType": f"{kind}.propertyChange",
        "objectId": int(gone),
        "propertyName": name[kind],
        "propertyValue": "Kept",
    }
    del late["mergedObjectIds"]
    body = json.dumps([late]).encode()
    headers = vendor_headers("hubspot", body, live.webhook_uri("hubspot"), SECRETS["hubspot"])
    assert live.client.post("/webhooks/hubspot", content=body, headers=headers).status_code == 200
    wait_applied(workspace)
    found = record(workspace, f"hubspot:{kept}")
    assert found["type"] == kind and found == record(workspace, f"hubspot:{gone}")
    assert "Kept" in found["properties"].values()


def test_a_hubspot_batch_of_mixed_events_takes_each_as_the_docs_say(
    workspace: Workspace, live: LiveServer
) -> None:
    """The published events in one request, as HubSpot batches them: a contact created, a
    chat message, a merge, a restore. The merge joins the ids; the rest is nothing or the
    contact; one answer, no dead letter."""
    batch = [
        json.loads((PUBLISHED / "hubspot" / f"{name}.json").read_text())[0]
        for name in (
            "contact.creation.prismatic",
            "conversation.newMessage.sim",
            "contact.merge.sim",
            "contact.restore.sim",
        )
    ]
    body = json.dumps(batch).encode()
    headers = vendor_headers("hubspot", body, live.webhook_uri("hubspot"), SECRETS["hubspot"])
    response = live.client.post("/webhooks/hubspot", content=body, headers=headers)
    assert response.json() == {"integration": "hubspot", "accepted": 4, "duplicates": 0}
    wait_applied(workspace)
    assert dead_letters(workspace) == []
    assert known_ids(workspace) == {
        "hubspot:65059681032": None,
        "hubspot:316126906049": None,
        "hubspot:316126906050": "316126906049",
    }


def test_a_hubspot_deal_moved_to_closed_won_is_a_closed_deal(
    workspace: Workspace, live: LiveServer
) -> None:
    """``dealstage`` of the default pipeline says whether the deal is closed ("open deal" in
    the association rules)."""
    send(workspace, live, "hubspot/deal.propertyChange.dealstage.sim.json")
    deal = record(workspace, "hubspot:316126906060")
    assert (deal["type"], deal["stage"], deal["is_closed"]) == ("deal", "closedwon", True)


def test_a_pipedrive_v1_merge_names_the_kept_organization(
    workspace: Workspace, live: LiveServer
) -> None:
    """``merged.organization``: 995 merged into 996 (``current.merge_what_id``): one company,
    the kept one's name; ``previous`` is the organization merged away, so its other owner
    is no change of the kept one's."""
    send(workspace, live, "pipedrive/v1.merged.organization.django_pipedrive.json")
    company = record(workspace, "pipedrive:995")
    assert company == record(workspace, "pipedrive:996")
    assert company["type"] == "company" and company["name"] == "TEST_ORGANIZATION_1"
    [decision] = company["owner_history"]
    assert "rep 111" in decision["reason"]  # the kept organization's owner, not 222
