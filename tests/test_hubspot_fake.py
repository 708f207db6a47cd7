"""The HubSpot double: HubSpot's behaviour as leadsync's pusher meets it, through a real
``httpx.Client`` on the double's transport (and, once, over real HTTP). Every response the
client gets is also checked against openapi.yaml, so the double answers in the shapes the
project documents. Time is a ManualClock; nothing here depends on the wall clock.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from openapi_core.testing import MockRequest

from leadsync.destinations.hubspot.fake import (
    ALL_SCOPES,
    STAND_IN_HEADER,
    STAND_IN_NAME,
    HubSpotDouble,
    ManualClock,
    openapi_contract,
    serving,
)

TOKEN = "pat-na1-test-token"
BASE = "https://api.hubapi.com"
VERSIONS = ["v3", "2026-03"]


class _SpecResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = dict(response.headers)
        self.data = response.content


def _checked(double: HubSpotDouble, problems: list[str]) -> httpx.MockTransport:
    """The double's transport, checking every API answer against openapi.yaml."""
    inner = double.transport()

    def answer(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        response.read()
        path = request.url.path
        if path.startswith("/_double/") or response.status_code == 404:
            return response
        if re.fullmatch(r"/crm/(v3/owners|owners/[^/]+)", path):
            path += "/"  # the double, like HubSpot, answers owners without the slash too
        spec_request = MockRequest(
            BASE,
            request.method,
            path,
            args=dict(httpx.QueryParams(request.url.query)),
            headers=dict(request.headers),
            data=request.content or None,
        )
        try:
            openapi_contract().validate_response(spec_request, _SpecResponse(response))
        except Exception as exc:  # any openapi-core error: the answer breaks the contract
            problems.append(f"{request.method} {path} -> {response.status_code}: {exc!r}")
        return response

    return httpx.MockTransport(answer)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_client(clock: ManualClock) -> Iterator[Callable[..., tuple[HubSpotDouble, httpx.Client]]]:
    clients: list[httpx.Client] = []
    problems: list[str] = []

    def make(**options: Any) -> tuple[HubSpotDouble, httpx.Client]:
        double = HubSpotDouble(TOKEN, clock=clock, sleep=clock.sleep, **options)
        client = httpx.Client(
            transport=_checked(double, problems),
            base_url=BASE,
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        clients.append(client)
        return double, client

    yield make
    for client in clients:
        client.close()
    assert not problems, "answers that break openapi.yaml:\n" + "\n".join(problems)


@pytest.fixture
def hub(
    make_client: Callable[..., tuple[HubSpotDouble, httpx.Client]],
) -> tuple[HubSpotDouble, httpx.Client]:
    return make_client()


def objects_path(version: str, object_type: str) -> str:
    if version == "v3":
        return f"/crm/v3/objects/{object_type}"
    return f"/crm/objects/{version}/{object_type}"


def associations_path(version: str, from_type: str, to_type: str) -> str:
    if version == "v3":
        return f"/crm/v4/associations/{from_type}/{to_type}"
    return f"/crm/associations/{version}/{from_type}/{to_type}"


def owners_path(version: str) -> str:
    return "/crm/v3/owners/" if version == "v3" else f"/crm/owners/{version}/"


def properties_path(version: str, object_type: str) -> str:
    if version == "v3":
        return f"/crm/v3/properties/{object_type}"
    return f"/crm/properties/{version}/{object_type}"


def link(to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "to": {"id": to_id},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
    }


def create(
    client: httpx.Client,
    object_type: str,
    *inputs: dict[str, Any],
    version: str = "v3",
) -> httpx.Response:
    body = {"inputs": [{"associations": [], **i} for i in inputs]}
    return client.post(f"{objects_path(version, object_type)}/batch/create", json=body)


def create_one(client: httpx.Client, object_type: str, props: dict[str, str], *links: Any) -> str:
    response = create(client, object_type, {"properties": props, "associations": list(links)})
    assert response.status_code == 201, response.text
    new_id: str = response.json()["results"][0]["id"]
    return new_id


CALL = {"hs_timestamp": "2026-03-02T10:00:00.000Z", "hs_call_direction": "OUTBOUND"}


# ------------------------------------------------------------------ objects and associations


@pytest.mark.parametrize("version", VERSIONS)
def test_create_with_associations_reads_back_from_both_sides(
    hub: tuple[HubSpotDouble, httpx.Client], version: str
) -> None:
    double, client = hub
    company = create_one(client, "companies", {"name": "Acme", "domain": "acme.test"})
    response = create(
        client,
        "contacts",
        {"properties": {"email": "ada@acme.test"}, "associations": [link(company, 1)]},
        version=version,
    )
    assert response.status_code == 201
    result = response.json()["results"][0]
    assert result["properties"]["email"] == "ada@acme.test"
    assert result["archived"] is False and response.json()["status"] == "COMPLETE"
    contact = result["id"]
    call = create(
        client,
        "calls",
        {"properties": CALL, "associations": [link(contact, 194), link(company, 182)]},
        version=version,
    ).json()["results"][0]["id"]

    one = client.get(
        f"{objects_path(version, 'contacts')}/{contact}",
        params={"properties": "email", "associations": "calls,companies"},
    ).json()
    assert one["properties"]["email"] == "ada@acme.test"
    assert one["associations"]["calls"]["results"] == [{"id": call, "type": "contact_to_call"}]
    assert {r["type"] for r in one["associations"]["companies"]["results"]} == {
        "contact_to_company",
        "contact_to_company_unlabeled",
    }

    from_contact = client.post(
        f"{associations_path(version, 'contacts', 'calls')}/batch/read",
        json={"inputs": [{"id": contact}]},
    ).json()["results"]
    assert from_contact == [
        {
            "from": {"id": contact},
            "to": [
                {
                    "toObjectId": int(call),
                    "associationTypes": [
                        {"category": "HUBSPOT_DEFINED", "typeId": 193, "label": None}
                    ],
                }
            ],
        }
    ]
    from_company = client.post(
        f"{associations_path(version, 'companies', 'contacts')}/batch/read",
        json={"inputs": [{"id": company}]},
    ).json()["results"][0]["to"][0]
    assert [(t["typeId"], t["label"]) for t in from_company["associationTypes"]] == [
        (2, "Primary"),
        (280, None),
    ]

    seen = double.get_object("calls", call)
    assert seen["associations"] == {
        "companies": [{"id": company, "typeIds": [182]}],
        "contacts": [{"id": contact, "typeIds": [194]}],
    }
    assert double.get_object("contacts", contact)["associations"]["calls"] == [
        {"id": call, "typeIds": [193]}
    ]
    assert double.association_count() == 3
    assert double.association_count("calls") == 2
    assert double.association_count("contacts", "companies") == 1
    double.assert_contract_kept()


@pytest.mark.parametrize("version", VERSIONS)
def test_every_endpoint_answers_in_both_path_styles(
    hub: tuple[HubSpotDouble, httpx.Client], version: str
) -> None:
    double, client = hub
    double.add_owner("rep@example.com", "Rep", "One")
    assert client.get(owners_path(version)).json()["results"][0]["email"] == "rep@example.com"
    prop = client.get(f"{properties_path(version, 'contacts')}/email").json()
    assert prop["hasUniqueValue"] is True and prop["name"] == "email"
    contact = create(client, "contacts", {"properties": {"email": "x@y.test"}}, version=version)
    contact_id = contact.json()["results"][0]["id"]
    read = client.post(
        f"{objects_path(version, 'contacts')}/batch/read",
        json={"inputs": [{"id": contact_id}], "properties": ["email"]},
    )
    assert read.status_code == 200
    assert read.json()["results"][0]["properties"]["hs_object_id"] == contact_id
    search = client.post(
        f"{objects_path(version, 'contacts')}/search",
        json={
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": "x@y.test"}]}
            ]
        },
    )
    assert search.json()["total"] == 1
    double.assert_contract_kept()


def test_unknown_object_type_is_404(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    _, client = hub
    response = create(client, "widgets", {"properties": {}})
    assert response.status_code == 404
    assert response.json()["category"] == "OBJECT_NOT_FOUND"
    assert "widgets" in response.json()["message"]


def test_duplicate_email_is_409_and_nothing_is_created(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    existing = double.add_object("contacts", {"email": "Ada@Acme.test"})
    response = create(
        client,
        "contacts",
        {"properties": {"email": "other@acme.test"}},
        {"properties": {"email": "ada@acme.TEST"}},
    )
    assert response.status_code == 409
    body = response.json()
    assert body["category"] == "CONFLICT"
    assert body["message"] == f"Contact already exists. Existing ID: {existing}"
    assert [o["id"] for o in double.objects("contacts")] == [existing]
    assert double.duplicates("contacts", "email") == {}


def test_duplicate_value_of_a_created_unique_property_is_a_validation_error(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    created = client.post(
        "/crm/v3/properties/companies",
        json={
            "name": "leadsync_id",
            "label": "leadsync id",
            "type": "string",
            "fieldType": "text",
            "groupName": "companyinformation",
            "hasUniqueValue": True,
        },
    )
    assert created.status_code == 201 and created.json()["hasUniqueValue"] is True
    first = create_one(client, "companies", {"name": "A", "leadsync_id": "ws-r1"})
    again = create(client, "companies", {"properties": {"name": "B", "leadsync_id": "ws-r1"}})
    # HubSpot's answer for a unique value taken (a contact's email is a 409 naming the
    # contact): a VALIDATION_ERROR coded CONFLICTING_UNIQUE_VALUE naming no object.
    assert again.status_code == 400
    body = again.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Property values were not valid: ")
    [listed] = json.loads(body["message"].removeprefix("Property values were not valid: "))
    assert (listed["error"], listed["name"]) == ("CONFLICTING_UNIQUE_VALUE", "leadsync_id")
    assert [e["context"]["propertyName"] for e in body["errors"]] == [["leadsync_id"]]
    assert first not in body["message"]
    assert double.duplicates("companies", "leadsync_id") == {}


def test_upsert_creates_then_updates(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    double, client = hub
    double.add_property("contacts", "leadsync_id", unique=True)
    path = "/crm/v3/objects/contacts/batch/upsert"
    body = {
        "inputs": [
            {"id": "ws-r1", "idProperty": "leadsync_id", "properties": {"firstname": "Ada"}},
            {"id": "bob@example.com", "idProperty": "email", "properties": {"lastname": "B"}},
        ]
    }
    first = client.post(path, json=body)
    assert first.status_code == 200
    assert [r["new"] for r in first.json()["results"]] == [True, True]
    assert first.json()["results"][0]["properties"]["leadsync_id"] == "ws-r1"
    body["inputs"][0]["properties"] = {"firstname": "Ada L."}
    second = client.post(path, json=body)
    assert [r["new"] for r in second.json()["results"]] == [False, False]
    assert [r["id"] for r in second.json()["results"]] == [r["id"] for r in first.json()["results"]]
    assert len(double.objects("contacts")) == 2

    not_unique = client.post(
        path, json={"inputs": [{"id": "x", "idProperty": "firstname", "properties": {}}]}
    )
    assert not_unique.status_code == 400
    assert "firstname" in not_unique.json()["message"]


def test_batch_read_reports_missing_ids_as_207(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    _, client = hub
    known = create_one(client, "contacts", {"email": "a@b.test", "firstname": "A"})
    response = client.post(
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": known}, {"id": "999999"}], "properties": ["firstname"]},
    )
    assert response.status_code == 207
    body = response.json()
    assert body["results"][0]["properties"]["firstname"] == "A"
    assert body["numErrors"] == 1
    error = body["errors"][0]
    assert error["status"] == "error" and error["category"] == "OBJECT_NOT_FOUND"
    assert error["context"] == {"ids": ["999999"]}


def test_trace_ids_make_failures_per_input(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    double, client = hub
    response = create(
        client,
        "contacts",
        {"properties": {"email": "ok@x.test"}, "objectWriteTraceId": "t1"},
        {"properties": {"nickname": "Al"}, "objectWriteTraceId": "t2"},
        {"properties": {"email": "ok@x.test"}, "objectWriteTraceId": "t3"},
    )
    assert response.status_code == 207
    body = response.json()
    assert [r["objectWriteTraceId"] for r in body["results"]] == ["t1"]
    assert body["numErrors"] == 2
    by_trace = {e["context"]["objectWriteTraceId"][0]: e for e in body["errors"]}
    assert by_trace["t2"]["category"] == "VALIDATION_ERROR"
    assert 'Property \\"nickname\\" does not exist' in by_trace["t2"]["message"]
    assert by_trace["t3"]["category"] == "CONFLICT"
    assert by_trace["t3"]["message"].endswith(f"Existing ID: {body['results'][0]['id']}")
    assert len(double.objects("contacts")) == 1


def test_without_trace_ids_one_bad_input_fails_the_whole_batch(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    response = create(
        client,
        "contacts",
        {"properties": {"email": "ok@x.test"}},
        {"properties": {"nickname": "Al"}},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == "PROPERTY_DOESNT_EXIST"
    assert "nickname" in body["message"]
    assert double.objects("contacts") == []


@pytest.mark.parametrize(
    ("object_type", "props", "links", "needle"),
    [
        ("calls", {"hs_call_title": "no time"}, [], "hs_timestamp"),
        ("leads", {"hs_lead_name": "L"}, [], "578"),
        ("leads", {}, "contact", "hs_lead_name"),
        ("calls", {**CALL, "hubspot_owner_id": "424242"}, [], "424242 was not a valid owner id"),
        ("calls", {**CALL, "hs_call_direction": "SIDEWAYS"}, [], "INVALID_OPTION"),
        ("calls", CALL, [link("99999", 194)], "99999"),
        ("calls", CALL, "wrong-type", "279"),
        ("calls", {**CALL, "hs_object_id": "5"}, [], "READ_ONLY_VALUE"),
    ],
)
def test_hubspot_rules_refuse_bad_inputs(
    hub: tuple[HubSpotDouble, httpx.Client],
    object_type: str,
    props: dict[str, str],
    links: Any,
    needle: str,
) -> None:
    double, client = hub
    contact = create_one(client, "contacts", {"email": "c@x.test"})
    if links == "contact":
        links = [link(contact, 578)]
    elif links == "wrong-type":
        links = [link(contact, 279)]
    response = create(client, object_type, {"properties": props, "associations": links})
    assert response.status_code == 400, response.text
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert needle in response.text
    assert double.objects(object_type) == []


def test_leads_need_their_primary_contact_and_archived_owners_may_own(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    gone = double.add_owner("gone@example.com", archived=True)
    contact = create_one(client, "contacts", {"email": "c@x.test"})
    lead = create_one(
        client,
        "leads",
        {"hs_lead_name": "Ada", "hubspot_owner_id": gone["id"]},
        link(contact, 578),
    )
    seen = double.get_object("leads", lead)
    assert seen["owner"]["archived"] is True and seen["owner"]["userId"] is None
    assert seen["associations"]["contacts"] == [{"id": contact, "typeIds": [578, 608]}]


def test_a_new_primary_company_replaces_the_old_one(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    old = create_one(client, "companies", {"name": "Old"})
    new = create_one(client, "companies", {"name": "New"})
    contact = create_one(client, "contacts", {"email": "c@x.test"}, link(old, 1))
    response = client.post(
        "/crm/v4/associations/companies/contacts/batch/create",
        json={
            "inputs": [
                {
                    "from": {"id": new},
                    "to": {"id": contact},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 2}],
                }
            ]
        },
    )
    assert response.status_code == 201
    assert response.json()["results"][0]["labels"] == ["Primary"]
    assert double.get_object("contacts", contact)["associations"]["companies"] == [
        {"id": old, "typeIds": [279]},
        {"id": new, "typeIds": [1, 279]},
    ]


def test_batch_update_reports_unknown_ids_per_input(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    contact = create_one(client, "contacts", {"email": "c@x.test"})
    response = client.post(
        "/crm/v3/objects/contacts/batch/update",
        json={
            "inputs": [
                {"id": contact, "properties": {"firstname": "Ada"}},
                {"id": "424242", "properties": {"firstname": "Nobody"}},
            ]
        },
    )
    assert response.status_code == 207
    assert response.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert response.json()["errors"][0]["context"] == {"ids": ["424242"]}
    assert double.get_object("contacts", contact)["properties"]["firstname"] == "Ada"

    archived = client.post(
        "/crm/v3/objects/contacts/batch/archive", json={"inputs": [{"id": contact}]}
    )
    assert archived.status_code == 204 and archived.content == b""
    assert double.objects("contacts") == []
    assert client.get(f"/crm/v3/objects/contacts/{contact}").status_code == 404


def test_association_create_is_idempotent_and_checks_ids_and_types(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    contact = create_one(client, "contacts", {"email": "c@x.test"})
    note = create_one(client, "notes", {"hs_timestamp": "1767225600000", "hs_note_body": "hi"})

    def associate(to_id: str, type_id: int) -> httpx.Response:
        return client.post(
            "/crm/v4/associations/notes/contacts/batch/create",
            json={
                "inputs": [
                    {
                        "from": {"id": note},
                        "to": {"id": to_id},
                        "types": [
                            {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                        ],
                    }
                ]
            },
        )

    assert associate(contact, 202).status_code == 201
    assert associate(contact, 202).status_code == 201
    assert double.association_count() == 1
    assert double.get_object("notes", note)["associations"]["contacts"] == [
        {"id": contact, "typeIds": [202]}
    ]
    missing = associate("777777", 202)
    assert missing.status_code == 207 and missing.json()["results"] == []
    assert missing.json()["errors"][0]["context"] == {"ids": ["777777"]}
    wrong = associate(contact, 194)  # call -> contact, not note -> contact
    assert wrong.status_code == 207
    assert wrong.json()["errors"][0]["category"] == "VALIDATION_ERROR"
    assert double.association_count() == 1


# ------------------------------------------------------------------ owners, properties, auth


def test_owners_page_and_archived_ones_come_only_with_archived_true(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    active = [double.add_owner(f"rep{i}@example.com", teams=["East"]) for i in range(5)]
    gone = double.add_owner("gone@example.com", "Gone", "Rep", archived=True)
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = client.get("/crm/v3/owners/", params=params).json()
        seen += [o["id"] for o in page["results"]]
        if "paging" not in page:
            break
        params["after"] = page["paging"]["next"]["after"]
    assert seen == [o["id"] for o in active]
    assert active[0]["teams"] == [
        {"id": active[0]["teams"][0]["id"], "name": "East", "primary": True}
    ]
    archived = client.get("/crm/v3/owners", params={"archived": "true"}).json()
    assert [o["id"] for o in archived["results"]] == [gone["id"]]
    owner = archived["results"][0]
    assert (
        owner["userId"] is None
        and owner["userIdIncludingInactive"] == gone["userIdIncludingInactive"]
    )
    assert owner["archived"] is True and owner["type"] == "PERSON"


def test_properties_create_read_and_409(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    _, client = hub
    assert client.get("/crm/v3/properties/deals/leadsync_id").status_code == 404
    body = {
        "name": "leadsync_id",
        "label": "leadsync id",
        "type": "string",
        "fieldType": "text",
        "groupName": "dealinformation",
        "hasUniqueValue": True,
    }
    assert client.post("/crm/v3/properties/deals", json=body).status_code == 201
    assert client.get("/crm/v3/properties/deals/leadsync_id").json()["hasUniqueValue"] is True
    again = client.post("/crm/v3/properties/deals", json=body)
    assert again.status_code == 409
    assert again.json()["category"] == "OBJECT_ALREADY_EXISTS"
    default = client.get("/crm/v3/properties/calls/hs_call_disposition").json()
    assert len(default["options"]) == 6


def test_token_info_and_bad_tokens(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    double, client = hub
    anonymous = httpx.Client(transport=double.transport(), base_url=BASE)
    path = "/oauth/v2/private-apps/get/access-token-info"
    good = anonymous.post(path, json={"tokenKey": TOKEN})
    assert good.status_code == 200
    assert good.json()["scopes"] == sorted(ALL_SCOPES)
    assert {"userId", "hubId", "appId"} <= good.json().keys()
    assert anonymous.post(path, json={"tokenKey": "pat-unknown"}).status_code == 401
    wrong = client.get("/crm/v3/owners/", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["category"] == "INVALID_AUTHENTICATION"
    assert wrong.json()["message"].startswith("Authentication credentials not found.")
    missing = anonymous.get("/crm/v3/owners/")
    assert missing.status_code == 401
    assert any("Authorization" in v for v in double.contract_violations)
    anonymous.close()


def test_a_missing_scope_is_403(
    make_client: Callable[..., tuple[HubSpotDouble, httpx.Client]],
) -> None:
    scopes = [s for s in ALL_SCOPES if s != "crm.objects.companies.write"]
    _, client = make_client(scopes=scopes)
    response = create(client, "companies", {"properties": {"name": "A"}})
    assert response.status_code == 403
    body = response.json()
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["message"] == "One or more of the following scopes are required."
    assert body["errors"][0]["context"] == {
        "requiredGranularScopes": ["crm.objects.companies.write"]
    }
    # Engagements are governed by the contacts scopes.
    assert (
        create(client, "notes", {"properties": {"hs_timestamp": "1767225600000"}}).status_code
        == 201
    )


# ------------------------------------------------------------------ limits, faults, contract


def test_ten_second_window_429_and_recovery(
    make_client: Callable[..., tuple[HubSpotDouble, httpx.Client]], clock: ManualClock
) -> None:
    double, client = make_client(per_10s=5)
    for i in range(5):
        response = client.get("/crm/v3/owners/")
        assert response.status_code == 200
        assert response.headers["X-HubSpot-RateLimit-Remaining"] == str(4 - i)
        clock.advance(1)
    limited = client.get("/crm/v3/owners/")
    assert limited.status_code == 429
    assert limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert limited.json()["errorType"] == "RATE_LIMIT"
    assert limited.json()["message"] == "You have reached your ten_secondly_rolling limit."
    assert limited.headers["X-HubSpot-RateLimit-Max"] == "5"
    assert limited.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    clock.advance(5.5)  # the first request (t=0) has left the window (now t=10.5)
    assert client.get("/crm/v3/owners/").status_code == 200
    stats = double.stats()
    assert stats["rate_limited"] == 1 and stats["by_status"]["429"] == 1
    assert stats["max_requests_in_any_10s_window"] == 6
    assert stats["error_ratio"] == pytest.approx(1 / 7)


def test_daily_cap_429_until_the_next_day(
    make_client: Callable[..., tuple[HubSpotDouble, httpx.Client]], clock: ManualClock
) -> None:
    _, client = make_client(daily=3)
    for _ in range(3):
        assert client.get("/crm/v3/owners/").status_code == 200
        clock.advance(60)
    over = client.get("/crm/v3/owners/")
    assert over.status_code == 429 and over.json()["policyName"] == "DAILY"
    assert over.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    clock.advance(86_400)
    assert client.get("/crm/v3/owners/").headers["X-HubSpot-RateLimit-Daily-Remaining"] == "2"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"inputs": [{"properties": {}, "associations": []}] * 101}, "at most 100"),
        ({}, "'inputs' is a required property"),
        ({"inputs": [{"properties": {"email": 5}, "associations": []}]}, "not of type 'string'"),
        ({"inputs": [{"properties": {}}]}, "'associations' is a required property"),
    ],
)
def test_a_request_breaking_the_contract_is_400_and_recorded(
    hub: tuple[HubSpotDouble, httpx.Client], body: dict[str, Any], needle: str
) -> None:
    double, client = hub
    response = client.post("/crm/v3/objects/contacts/batch/create", json=body)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert needle in response.json()["message"]
    assert len(double.contract_violations) == 1
    assert double.contract_violations[0].startswith("POST /crm/v3/objects/contacts/batch/create")
    with pytest.raises(AssertionError, match=needle):
        double.assert_contract_kept()
    assert double.objects("contacts") == []


def test_a_non_string_id_is_a_contract_violation(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    double, client = hub
    response = client.post(
        "/crm/v3/objects/contacts/batch/read", json={"inputs": [{"id": 5}], "properties": []}
    )
    assert response.status_code == 400
    assert "body.inputs[0].id: 5 is not of type 'string'" in double.contract_violations[0]


def test_apply_then_fail_applies_and_answers_502(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    double, client = hub
    double.set_faults(apply_then_fail_rate=1.0)
    response = create(client, "contacts", {"properties": {"email": "lost@x.test"}})
    assert response.status_code == 502
    assert [o["properties"]["email"] for o in double.objects("contacts")] == ["lost@x.test"]
    double.set_faults(apply_then_fail_rate=0.0)
    retry = create(client, "contacts", {"properties": {"email": "lost@x.test"}})
    assert retry.status_code == 409  # what a blind retry of a lost create meets


def test_5xx_and_random_429_apply_nothing(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    double, client = hub
    double.set_faults(error_5xx_rate=1.0)
    response = create(client, "contacts", {"properties": {"email": "a@x.test"}})
    assert response.status_code in (500, 502, 503)
    assert response.json()["status"] == "error"
    double.set_faults(error_5xx_rate=0.0, rate_429_rate=1.0)
    limited = create(client, "contacts", {"properties": {"email": "a@x.test"}})
    assert limited.status_code == 429 and limited.json()["policyName"] == "TEN_SECONDLY_ROLLING"
    assert double.objects("contacts") == []


def test_partial_207_fails_some_inputs_deterministically(
    make_client: Callable[..., tuple[HubSpotDouble, httpx.Client]],
) -> None:
    outcomes = []
    for _ in range(2):
        double, client = make_client(seed=7)
        double.set_faults(partial_207_rate=0.5)
        inputs = [
            {"properties": {"email": f"p{i}@x.test"}, "objectWriteTraceId": f"t{i}"}
            for i in range(20)
        ]
        response = create(client, "contacts", *inputs)
        assert response.status_code == 207
        body = response.json()
        ok = [r["objectWriteTraceId"] for r in body["results"]]
        failed = [e["context"]["objectWriteTraceId"][0] for e in body["errors"]]
        assert sorted(ok + failed, key=lambda t: int(t[1:])) == [f"t{i}" for i in range(20)]
        assert 0 < len(failed) < 20 and len(double.objects("contacts")) == len(ok)
        outcomes.append(failed)
    assert outcomes[0] == outcomes[1]


def test_latency_uses_the_injected_sleep(
    hub: tuple[HubSpotDouble, httpx.Client], clock: ManualClock
) -> None:
    double, client = hub
    double.set_faults(latency_ms=250)
    before = clock()
    client.get("/crm/v3/owners/")
    assert clock() - before == pytest.approx(0.25)


def test_search_eq_in_paging_and_its_own_limit(
    hub: tuple[HubSpotDouble, httpx.Client], clock: ManualClock
) -> None:
    double, client = hub
    for i in range(5):
        create_one(client, "contacts", {"email": f"s{i}@x.test", "firstname": f"N{i % 2}"})
    path = "/crm/v3/objects/contacts/search"

    def search(filters: list[dict[str, Any]], **extra: Any) -> httpx.Response:
        return client.post(path, json={"filterGroups": [{"filters": filters}], **extra})

    eq = search([{"propertyName": "email", "operator": "EQ", "value": "S1@x.test"}])
    assert [r["properties"]["email"] for r in eq.json()["results"]] == ["s1@x.test"]
    assert "X-HubSpot-RateLimit-Max" not in eq.headers  # search answers without them
    inside = search(
        [{"propertyName": "firstname", "operator": "IN", "values": ["n0"]}],
        properties=["firstname"],
        limit=2,
    ).json()
    assert inside["total"] == 3 and len(inside["results"]) == 2
    assert inside["paging"]["next"]["after"] == "2"
    for _ in range(3):  # five searches in this second so far
        search([{"propertyName": "email", "operator": "HAS_PROPERTY"}])
    limited = search([{"propertyName": "email", "operator": "HAS_PROPERTY"}])
    assert limited.status_code == 429 and limited.json()["policyName"] == "SECONDLY"
    clock.advance(1)
    assert search([{"propertyName": "email", "operator": "HAS_PROPERTY"}]).status_code == 200
    assert double.stats()["max_search_requests_in_any_1s_window"] == 6


def test_search_lags_behind_writes(
    hub: tuple[HubSpotDouble, httpx.Client], clock: ManualClock
) -> None:
    double, client = hub
    double.set_faults(search_index_lag_s=2.0)
    contact = create_one(client, "contacts", {"email": "new@x.test", "firstname": "Old"})
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "New"}]}
        ]
    }
    assert client.post("/crm/v3/objects/contacts/search", json={}).json()["total"] == 0
    clock.advance(2)
    client.post(
        "/crm/v3/objects/contacts/batch/update",
        json={"inputs": [{"id": contact, "properties": {"firstname": "New"}}]},
    )
    clock.advance(1)
    assert client.post("/crm/v3/objects/contacts/search", json=body).json()["total"] == 0
    clock.advance(1)
    assert client.post("/crm/v3/objects/contacts/search", json=body).json()["total"] == 1


def test_stats_count_the_busiest_ten_seconds(
    hub: tuple[HubSpotDouble, httpx.Client], clock: ManualClock
) -> None:
    double, client = hub
    for gap in [0.0, 1, 1, 1, 9.5, 0.1, 0.1, 12]:
        clock.advance(gap)
        client.get("/crm/v3/owners/")
    stats = double.stats()
    # t = 0, 1, 2, 3, 12.5, 12.6, 12.7, 24.7: the busiest window holds 3..12.7 -> 4.
    assert stats["max_requests_in_any_10s_window"] == 4
    assert stats["requests"] == 8 and stats["by_endpoint"]["GET owners"] == {"200": 8}
    create(client, "contacts", *({"properties": {}} for _ in range(3)))
    assert stats["errors"] == 0
    assert double.stats()["inputs_per_request"]["POST objects/contacts/batch/create"]["max"] == 3


def test_concurrent_requests_keep_state_consistent(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub

    def push(n: int) -> None:
        for i in range(10):
            create(client, "contacts", {"properties": {"email": f"{n}-{i}@x.test"}})

    threads = [threading.Thread(target=push, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [o["id"] for o in double.objects("contacts")]
    assert len(ids) == len(set(ids)) == 40


# ------------------------------------------------------------------ control endpoints, HTTP


def test_control_endpoints_seed_inspect_and_fault(hub: tuple[HubSpotDouble, httpx.Client]) -> None:
    double, client = hub
    owners = client.post(
        "/_double/owners",
        json=[
            {"email": "a@example.com", "firstName": "A", "teams": [{"name": "East"}]},
            {"email": "b@example.com", "archived": True},
        ],
    ).json()["results"]
    assert owners[1]["userId"] is None
    seeded = client.post(
        "/_double/objects/contacts",
        json={"properties": {"email": "seed@x.test", "hubspot_owner_id": owners[0]["id"]}},
    )
    assert seeded.status_code == 201
    contact = seeded.json()["id"]
    moved = client.patch(
        f"/_double/objects/contacts/{contact}",
        json={"properties": {"hubspot_owner_id": owners[1]["id"]}},
    ).json()
    assert moved["owner"]["email"] == "b@example.com"
    assert client.get(f"/_double/objects/contacts/{contact}").json()["owner"]["archived"] is True
    assert len(client.get("/_double/objects/contacts").json()["results"]) == 1
    assert client.get("/_double/duplicates/contacts", params={"property": "email"}).json() == {
        "property": "email",
        "duplicates": {},
    }
    assert client.post("/_double/faults", json={"latency_ms": "slow"}).status_code == 400
    assert client.post("/_double/faults", json={"per_10s": 3}).json()["per_10s"] == 3
    assert client.get("/_double/stats").json()["objects"]["contacts"] == 1
    assert client.get("/_double/objects/contacts/123456").status_code == 404
    assert client.post("/_double/reset").status_code == 200
    assert double.objects("contacts") == [] and double.faults.per_10s == 190


def test_control_endpoints_need_the_token_off_loopback(
    hub: tuple[HubSpotDouble, httpx.Client],
) -> None:
    double, client = hub
    double.asgi_app(control_requires_auth=True)  # what serve_double does on a public address
    assert client.get("/_double/stats").status_code == 200
    anonymous = httpx.Client(transport=double.transport(), base_url=BASE)
    assert anonymous.get("/_double/stats").status_code == 401
    anonymous.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_double_over_real_http() -> None:
    port = _free_port()
    code = (
        "from leadsync.destinations.hubspot.fake import serve_double\n"
        f"serve_double('127.0.0.1', {port}, {TOKEN!r}, per_10s=50)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as http:
            deadline = time.monotonic() + 60
            while True:  # a guard against hanging, not a timing assertion
                try:
                    if http.get("/_double/stats").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, (
                    process.stderr.read().decode() if process.stderr else ""
                )
                assert time.monotonic() < deadline, "the double did not start"
                time.sleep(0.05)
            created = http.post(
                "/crm/objects/2026-03/contacts/batch/create",
                headers={"Authorization": f"Bearer {TOKEN}"},
                json={"inputs": [{"properties": {"email": "http@x.test"}, "associations": []}]},
            )
            assert created.status_code == 201
            assert created.headers[STAND_IN_HEADER] == STAND_IN_NAME
            assert created.headers["X-HubSpot-RateLimit-Max"] == "50"
            seen = http.get("/_double/objects/contacts").json()["results"]
            assert [o["properties"]["email"] for o in seen] == ["http@x.test"]
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    banner = (out + err).decode()
    assert "stand-in" in banner and TOKEN not in banner


def test_serving_in_a_thread_shares_the_double() -> None:
    double = HubSpotDouble(TOKEN)
    with serving(double) as base, httpx.Client(base_url=base, timeout=10) as http:
        response = http.post(
            "/crm/v3/objects/companies/batch/create",
            headers={"Authorization": f"Bearer {TOKEN}"},
            content=json.dumps(
                {"inputs": [{"properties": {"name": "Thread"}, "associations": []}]}
            ),
            # no content-type: a contract violation, answered 400 like HubSpot would
        )
        assert response.status_code == 400
        response = http.post(
            "/crm/v3/objects/companies/batch/create",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"inputs": [{"properties": {"name": "Thread"}, "associations": []}]},
        )
        assert response.status_code == 201
    assert [o["properties"]["name"] for o in double.objects("companies")] == ["Thread"]
    assert len(double.contract_violations) == 1


def test_a_request_whose_client_went_away_before_its_body_is_not_handled() -> None:
    """A pusher killed mid-send: the body never arrived, so the double (as HubSpot) neither
    answers nor judges it; only a whole request is checked against the contract."""
    import asyncio

    from leadsync.destinations.hubspot.fake.serving import DoubleApp
    from tests.helpers import HUBSPOT_TOKEN

    double = HubSpotDouble(HUBSPOT_TOKEN)
    messages = iter([{"type": "http.request", "body": b'{"inp', "more_body": True}])
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return next(messages, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/crm/objects/2026-03/contacts/batch/read",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {HUBSPOT_TOKEN}".encode())],
    }
    asyncio.run(DoubleApp(double)(scope, receive, send))
    assert sent == []
    assert double.contract_violations == []
