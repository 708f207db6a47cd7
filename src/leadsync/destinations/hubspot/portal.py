"""What leadsync reads from and prepares in a HubSpot portal besides the push: its owners and
teams (``owners pull``), and the token's scopes and the ``leadsync_id`` properties the push
relies on (``hubspot setup``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from leadsync.destinations.hubspot.client import HubSpotClient, HubSpotRefused
from leadsync.destinations.hubspot.objects import (
    LEAD_SCOPES,
    LEADSYNC_ID,
    OBJECT_NAMES,
    REQUIRED_SCOPES,
    TOKEN_INFO_PATH,
    WRITTEN_PROPERTIES,
    Paths,
)


@dataclass
class PulledOwners:
    """Owners (rows for the owners table) and teams (name -> owner ids) read from HubSpot."""

    owners: list[dict[str, Any]] = field(default_factory=list)
    teams: dict[str, tuple[str, ...]] = field(default_factory=dict)
    requests: int = 0


def pull_owners(client: HubSpotClient, paths: Paths) -> PulledOwners:
    """Every owner, active and archived, all pages. Archived owners (whose ``userId`` is
    null; HubSpot keeps them as owners of their records) become inactive. Queues (type QUEUE)
    are skipped: they own nothing a person works."""
    pulled = PulledOwners()
    seen: dict[str, dict[str, Any]] = {}
    members: dict[str, list[str]] = {}
    for archived in (False, True):
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "archived": str(archived).lower()}
            if after is not None:
                params["after"] = after
            answer = client.request("GET", paths.owners, params=params)
            pulled.requests += 1
            if not answer.ok:
                raise HubSpotRefused(f"HubSpot refused the owners list: {answer.error_text()}")
            for item in answer.body.get("results") or []:
                if item.get("type", "PERSON") != "PERSON" or not item.get("email"):
                    continue
                owner_id = str(item["id"])
                is_archived = bool(item.get("archived")) or archived
                if owner_id in seen and not is_archived:
                    continue
                seen[owner_id] = {
                    "id": owner_id,
                    "email": str(item["email"]),
                    "first_name": str(item.get("firstName") or ""),
                    "last_name": str(item.get("lastName") or ""),
                    "active": not is_archived,
                    "archived": False,
                }
                if not is_archived:
                    for team in item.get("teams") or []:
                        name = str(team.get("name") or team.get("id"))
                        members.setdefault(name, []).append(owner_id)
            after = ((answer.body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
    pulled.owners = sorted(seen.values(), key=lambda o: (not o["active"], int_or_text(o["id"])))
    pulled.teams = {name: tuple(ids) for name, ids in sorted(members.items())}
    return pulled


def int_or_text(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


@dataclass
class SetupReport:
    scopes: list[str] = field(default_factory=list)
    missing_scopes: list[str] = field(default_factory=list)
    leads: bool = False
    created: list[str] = field(default_factory=list)  # object types given leadsync_id
    present: list[str] = field(default_factory=list)
    app_id: str | None = None
    hub_id: str | None = None
    # The dropdowns among the properties the push writes: type -> name -> [[value, label]].
    options: dict[str, dict[str, list[list[str]]]] = field(default_factory=dict)
    # What the settings say that the token contradicts (another app's id), in words.
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def setup(client: HubSpotClient, paths: Paths, token: str) -> SetupReport:
    """Check the token's scopes, create the unique ``leadsync_id`` property on every object
    type the push writes, where missing, and read the options of the properties the push
    writes that the portal makes dropdowns (:mod:`.options`). Running it again changes
    nothing in HubSpot."""
    report = SetupReport()
    answer = client.request("POST", TOKEN_INFO_PATH, {"tokenKey": token})
    if not answer.ok:
        raise HubSpotRefused(f"HubSpot did not describe the token: {answer.error_text()}")
    report.scopes = sorted(str(s) for s in answer.body.get("scopes") or [])
    report.app_id = str(answer.body["appId"]) if answer.body.get("appId") else None
    report.hub_id = str(answer.body["hubId"]) if answer.body.get("hubId") else None
    granted = set(report.scopes)
    report.missing_scopes = [s for s in REQUIRED_SCOPES if s not in granted]
    if report.missing_scopes:
        raise HubSpotRefused(
            "the HubSpot token lacks scope(s) the push needs: "
            + ", ".join(report.missing_scopes)
            + "; add them to the private app (Settings > Integrations > Private apps > Scopes) "
            "and use its new token"
        )
    report.leads = all(s in granted for s in LEAD_SCOPES)
    for object_type in OBJECT_NAMES:
        if object_type == "lead" and not report.leads:
            continue
        # A 404 is the answer to "is it there?", not an error (push status counts errors).
        found = client.request("GET", paths.property(object_type, LEADSYNC_ID), expected=(404,))
        if found.ok:
            if not found.body.get("hasUniqueValue"):
                raise HubSpotRefused(
                    f"{OBJECT_NAMES[object_type]} has a property {LEADSYNC_ID} that is not "
                    "unique; leadsync needs it unique (rename or delete it in HubSpot)"
                )
            report.present.append(object_type)
            continue
        made = client.request(
            "POST",
            paths.property(object_type),
            {
                "name": LEADSYNC_ID,
                "label": "leadsync id",
                "description": "Set by leadsync: the object's id in its workspace (unique).",
                "type": "string",
                "fieldType": "text",
                "groupName": _group(object_type),
                "hasUniqueValue": True,
            },
        )
        if made.ok or made.status == 409:
            report.created.append(object_type)
        else:
            raise HubSpotRefused(
                f"HubSpot refused to create {LEADSYNC_ID} on {OBJECT_NAMES[object_type]}: "
                f"{made.error_text()}"
            )
    report.options = read_options(client, paths)
    return report


def read_options(client: HubSpotClient, paths: Paths) -> dict[str, dict[str, list[list[str]]]]:
    """The options ([value, label]) of each property the push writes that is an enumeration
    in this portal, by object type and name (one request a property)."""
    out: dict[str, dict[str, list[list[str]]]] = {}
    for object_type, names in WRITTEN_PROPERTIES.items():
        for name in names:
            found = client.request("GET", paths.property(object_type, name), expected=(404,))
            if found.status == 404:
                continue  # a property the portal lacks: a write names it in its refusal
            if not found.ok:
                raise HubSpotRefused(
                    f"HubSpot did not describe {OBJECT_NAMES[object_type]}.{name}: "
                    f"{found.error_text()}"
                )
            if found.body.get("type") != "enumeration":
                continue
            options = [
                [str(o["value"]), str(o.get("label") or o["value"])]
                for o in found.body.get("options") or []
                if isinstance(o, dict) and o.get("value") not in (None, "")
            ]
            if options:
                out.setdefault(object_type, {})[name] = options
    return out


def _group(object_type: str) -> str:
    return {
        "contact": "contactinformation",
        "company": "companyinformation",
        "deal": "dealinformation",
    }.get(object_type, f"{object_type}information")


def read_owner(
    client: HubSpotClient, paths: Paths, object_type: str, hubspot_id: str
) -> str | None:
    """The owner an object has in HubSpot now."""
    answer = client.request(
        "POST",
        paths.batch(object_type, "read"),
        {"inputs": [{"id": hubspot_id}], "properties": ["hubspot_owner_id"]},
    )
    for item in answer.body.get("results") or []:
        return (item.get("properties") or {}).get("hubspot_owner_id") or None
    return None


def read_links(
    client: HubSpotClient, paths: Paths, from_type: str, hubspot_id: str, to_type: str
) -> set[str]:
    """The ids of the ``to_type`` objects an object is associated with in HubSpot."""
    answer = client.request(
        "POST",
        paths.association_batch(from_type, to_type, "read"),
        {"inputs": [{"id": hubspot_id}]},
    )
    found: set[str] = set()
    for item in answer.body.get("results") or []:
        for to in item.get("to") or []:
            found.add(str(to.get("toObjectId")))
    return found


TIMELINE_PROPERTIES: dict[str, list[str]] = {
    "call": [
        "hs_timestamp",
        "hs_call_title",
        "hs_call_body",
        "hs_call_direction",
        "hs_call_duration",
        "hs_call_status",
        "hubspot_owner_id",
    ],
    "email": ["hs_timestamp", "hs_email_subject", "hs_email_direction", "hubspot_owner_id"],
    "meeting": ["hs_timestamp", "hs_meeting_title", "hs_meeting_outcome", "hubspot_owner_id"],
    "note": ["hs_timestamp", "hs_note_body", "hubspot_owner_id"],
    "task": ["hs_timestamp", "hs_task_subject", "hs_task_status", "hubspot_owner_id"],
}


def read_contact_timeline(client: HubSpotClient, paths: Paths, contact_id: str) -> dict[str, Any]:
    """A contact as HubSpot has it: its properties (owner included), its companies and deals,
    and the activities on its timeline, newest first."""
    answer = client.request(
        "POST",
        paths.batch("contact", "read"),
        {
            "inputs": [{"id": contact_id}],
            "properties": ["email", "firstname", "lastname", "hubspot_owner_id"],
        },
    )
    results = answer.body.get("results") or []
    contact: dict[str, Any] = {
        "id": contact_id,
        "properties": (results[0].get("properties") or {}) if results else {},
        "associations": {},
        "timeline": [],
    }
    for to_type in ("company", "deal"):
        contact["associations"][to_type] = sorted(
            read_links(client, paths, "contact", contact_id, to_type)
        )
    for activity_type, names in TIMELINE_PROPERTIES.items():
        ids = sorted(read_links(client, paths, "contact", contact_id, activity_type))
        if not ids:
            continue
        found = client.request(
            "POST",
            paths.batch(activity_type, "read"),
            {"inputs": [{"id": i} for i in ids[:100]], "properties": names},
        )
        for item in found.body.get("results") or []:
            contact["timeline"].append(
                {
                    "type": activity_type,
                    "id": item["id"],
                    "properties": item.get("properties") or {},
                }
            )
    contact["timeline"].sort(key=lambda a: a["properties"].get("hs_timestamp") or "", reverse=True)
    return contact
