"""A number removed from a person in Pipedrive leaves leadsync's record: the person's list of
numbers is the whole list whichever webhooks version sends it — a v1 ``current`` (the person
"close to the responses you get from our API", Pipedrive's v2 migration guide), whose
``phone`` is every number, ``[{"value": "", "primary": true}]`` when there is none (the
published sample of a label change), and a v2 ``data.phones``, ``[]`` when there is none
(Pipedrive's own v2 examples send it so on a change of the name alone). A payload without the
list changes no number. Bodies are the published samples (``tests/fixtures/published/
pipedrive``) with made-up numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from leadsync.rules.records import PHONE_SOURCES
from leadsync.sources import adapter_for
from leadsync.store.schema import held_activities
from leadsync.workspace import Workspace
from tests.helpers import ev, run, workspace_config
from tests.phone_helpers import indexed_phones, ingest_ok, number_call, record_id

PUBLISHED = Path(__file__).parent / "fixtures" / "published" / "pipedrive"
WORK = "+33 1 76 36 06 95"
MOBILE = "+33 6 12 34 56 78"
T0 = 1793632000  # 2026-11-02T15:06:40Z


def _published(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PUBLISHED / name).read_text())
    return data


def _v1_person(at: int, numbers: list[tuple[str, str]] | None) -> dict[str, Any]:
    """The published v1 ``updated.person`` at ``at``; ``numbers`` as (label, value), None: a
    payload whose ``current`` has no ``phone``."""
    body = _published("v1.updated.person.pipedream.json")
    body["meta"].update(timestamp=at, timestamp_micro=at * 1_000_000)
    current = body["current"]
    current["email"] = [{"value": "person11@globex.test", "primary": True}]
    if numbers is None:
        del current["phone"]
    else:
        current["phone"] = [
            {"label": label, "value": value, "primary": i == 0}
            for i, (label, value) in enumerate(numbers)
        ] or [{"value": "", "primary": True}]
    return body


def _v2_person(at: str, phones: list[dict[str, Any]]) -> dict[str, Any]:
    """The published v2 ``change`` of person 8 (a name change) with ``phones``."""
    body = _published("change.person.migration_guide.json")
    body["meta"]["timestamp"] = at
    body["meta"]["id"] = f"ev-{at}"
    body["data"]["phones"] = phones
    return body


def _phones_of(body: dict[str, Any]) -> dict[str, Any]:
    [event] = adapter_for("pipedrive", "crm").to_events(body, {}, "e1", 1)
    return {k: v for k, v in event.properties.items() if k in ("phone", "mobilephone")}


def test_a_v1_and_a_v2_person_give_their_whole_list() -> None:
    assert _phones_of(_v1_person(T0, [("work", WORK)])) == {"phone": WORK, "mobilephone": None}
    assert _phones_of(_v1_person(T0, [])) == {"phone": None, "mobilephone": None}
    assert _phones_of(_v1_person(T0, None)) == {}
    at = "2026-11-02T15:06:40Z"
    assert _phones_of(_v2_person(at, [])) == {"phone": None, "mobilephone": None}
    mobile = [{"value": MOBILE, "primary": True, "label": "mobile"}]
    assert _phones_of(_v2_person(at, mobile)) == {"phone": None, "mobilephone": MOBILE}
    without = _v2_person(at, [])
    del without["data"]["phones"]
    assert _phones_of(without) == {}


# ------------------------------------------------------------------ the engine


def _setup(ws: Workspace) -> None:
    ws.apply_config(
        workspace_config(
            {
                "pd": {"kind": "pipedrive", "region": "FR"},
                "phone": {"kind": "aircall", "region": "FR"},
                "crm": {"kind": "generic", "region": "FR"},
            }
        )
    )


def test_a_number_removed_in_pipedrive_v1_leaves_the_person(workspace: Workspace) -> None:
    _setup(workspace)
    ingest_ok(workspace, "pd", _v1_person(T0, [("mobile", MOBILE), ("work", WORK)]))
    person = record_id(workspace, "pd", "11")
    assert indexed_phones(workspace, person) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
    }
    ingest_ok(workspace, "pd", _v1_person(T0 + 60, None))  # no list: nothing changes
    assert indexed_phones(workspace, person) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
    }
    ingest_ok(workspace, "pd", _v1_person(T0 + 120, [("work", WORK)]))
    assert indexed_phones(workspace, person) == {"phone": "+33176360695"}
    why = workspace.record("contact", person)["properties"][PHONE_SOURCES]["mobilephone"]["why"]
    assert why == (
        "+33612345678 removed at 2026-11-02T15:08:40Z: pd sends the whole list of the "
        "person's numbers, and it is no longer on it"
    )
    ingest_ok(
        workspace, "phone", number_call(5001, T0 + 180, MOBILE), number_call(5002, T0 + 240, WORK)
    )
    timeline = workspace.record("contact", person)["timeline"]
    assert [a["external_id"] for a in timeline] == ["5002"]
    with workspace.engine.connect() as c:
        held = [n for (n,) in c.execute(sa.select(held_activities.c.number)).all()]
    assert held == ["+33612345678"]


def test_a_v1_list_takes_back_only_what_pipedrive_gave(workspace: Workspace) -> None:
    """The CRM gave the same person (by email) the mobile too: Pipedrive's emptied list
    leaves it."""
    _setup(workspace)
    ingest_ok(workspace, "pd", _v1_person(T0, [("mobile", MOBILE), ("work", WORK)]))
    person = record_id(workspace, "pd", "11")
    crm = ev(
        "record",
        "2026-11-02T15:07:40Z",
        object="contact",
        external_id="c-1",
        properties={"email": "person11@globex.test", "mobilephone": MOBILE},
    )
    run(workspace, crm, integration="crm")
    assert record_id(workspace, "crm", "c-1") == person
    ingest_ok(workspace, "pd", _v1_person(T0 + 120, []))
    assert indexed_phones(workspace, person) == {"mobilephone": "+33612345678"}


def test_a_number_removed_in_pipedrive_v2_leaves_the_person(workspace: Workspace) -> None:
    """A v2 change gives the person's whole ``phones``: the mobile gone from it leaves the
    record (a call from it no longer lands there), then the emptied list takes the other;
    a change without the list changes nothing."""
    _setup(workspace)
    both = [
        {"value": MOBILE, "primary": True, "label": "mobile"},
        {"value": WORK, "primary": True, "label": "work"},
    ]
    ingest_ok(workspace, "pd", _v2_person("2026-11-02T15:06:40Z", both))
    person = record_id(workspace, "pd", "8")
    expected = {"mobilephone": "+33612345678", "phone": "+33176360695"}
    assert indexed_phones(workspace, person) == expected
    ingest_ok(workspace, "pd", _v2_person("2026-11-02T15:07:40Z", both[1:]))
    assert indexed_phones(workspace, person) == {"phone": "+33176360695"}
    why = workspace.record("contact", person)["properties"][PHONE_SOURCES]["mobilephone"]["why"]
    assert why == (
        "+33612345678 removed at 2026-11-02T15:07:40Z: pd sends the whole list of the "
        "person's numbers, and it is no longer on it"
    )
    without = _v2_person("2026-11-02T15:07:50Z", [])
    del without["data"]["phones"]
    ingest_ok(workspace, "pd", without)
    assert indexed_phones(workspace, person) == {"phone": "+33176360695"}
    ingest_ok(workspace, "pd", _v2_person("2026-11-02T15:08:40Z", []))
    assert indexed_phones(workspace, person) == {}
    ingest_ok(workspace, "phone", number_call(5301, T0 + 180, MOBILE))
    assert _timeline(workspace, person) == []


# ------------------------------------------------------------------ numbers beyond two

HOME = "+33 1 40 20 50 50"
DESK = "+33 1 45 67 89 10"
FOUR = [("mobile", MOBILE), ("work", WORK), ("home", HOME), ("other", DESK)]


def _timeline(ws: Workspace, person: int) -> list[str]:
    return [a["external_id"] for a in ws.record("contact", person)["timeline"]]


def _held(ws: Workspace) -> list[str]:
    with ws.engine.connect() as c:
        return [n for (n,) in c.execute(sa.select(held_activities.c.number)).all()]


def test_every_number_of_a_v1_person_finds_it_and_a_shorter_list_takes_back_the_rest(
    workspace: Workspace,
) -> None:
    """A person with four numbers in Pipedrive: the two beyond the mobile and the phone are
    kept, so that a call from them lands on the person; a v1 list that lost one takes it
    back (the numbers after it move up a place)."""
    _setup(workspace)
    ingest_ok(workspace, "pd", _v1_person(T0, FOUR))
    person = record_id(workspace, "pd", "11")
    assert indexed_phones(workspace, person) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
        "other_phone_1": "+33140205050",
        "other_phone_2": "+33145678910",
    }
    ingest_ok(
        workspace, "phone", number_call(5101, T0 + 60, HOME), number_call(5102, T0 + 90, DESK)
    )
    assert sorted(_timeline(workspace, person)) == ["5101", "5102"]
    assert _held(workspace) == []
    # The home number leaves Pipedrive's list: the desk line moves up, the home number goes.
    ingest_ok(workspace, "pd", _v1_person(T0 + 120, [*FOUR[:2], FOUR[3]]))
    assert indexed_phones(workspace, person) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
        "other_phone_1": "+33145678910",
    }
    properties = workspace.record("contact", person)["properties"]
    assert properties["other_phone_1"] == DESK and properties["other_phone_2"] is None
    ingest_ok(
        workspace, "phone", number_call(5103, T0 + 180, HOME), number_call(5104, T0 + 240, DESK)
    )
    assert sorted(_timeline(workspace, person)) == ["5101", "5102", "5104"]
    assert _held(workspace) == ["+33140205050"]  # nobody has it any more


def test_a_call_from_the_third_number_of_a_v2_person_lands_on_it(workspace: Workspace) -> None:
    _setup(workspace)
    four = [
        {"value": value, "primary": i == 0, "label": label} for i, (label, value) in enumerate(FOUR)
    ]
    ingest_ok(workspace, "pd", _v2_person("2026-11-02T15:06:40Z", four))
    person = record_id(workspace, "pd", "8")
    assert indexed_phones(workspace, person) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
        "other_phone_1": "+33140205050",
        "other_phone_2": "+33145678910",
    }
    ingest_ok(workspace, "phone", number_call(5201, T0 + 60, HOME))
    assert _timeline(workspace, person) == ["5201"]
    assert _held(workspace) == []
