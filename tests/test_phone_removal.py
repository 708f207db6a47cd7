"""A number removed from a person in a tool that sends the person's whole list of numbers
(Aircall's contact ``phone_numbers``: ``phone_list_complete``) is removed from leadsync's
record too, but only the numbers that tool gave: calls by it afterwards no longer land on the
person, and a number another integration gave the same record stays."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.rules.records import PHONE_SOURCES
from leadsync.sources import KINDS, adapter_class, adapter_for
from leadsync.store.schema import held_activities, records, review_items
from leadsync.workspace import Workspace
from tests.helpers import ev, run, workspace_config
from tests.phone_helpers import indexed_phones, ingest_ok, number_call, record_id

PUBLISHED = Path(__file__).parent / "fixtures" / "published"

WORK = "+33 1 76 36 06 95"
MOBILE = "+33 6 12 34 56 78"
OTHER = "+33 6 98 76 54 32"
T0 = 1793632000  # 2026-11-02T15:06:40Z


# ------------------------------------------------------------------ the statement


def _published_contact() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (PUBLISHED / "aircall" / "contact.created.activepieces.json").read_text()
    )
    return data


def _phones_of(body: dict[str, Any]) -> dict[str, Any]:
    [event] = adapter_for("aircall", "phone").to_events(body, {}, "e1", 1)
    return {k: v for k, v in event.properties.items() if k in ("phone", "mobilephone")}


def test_aircall_and_pipedrive_say_their_lists_are_whole_and_no_other_kind_does() -> None:
    """Aircall's contact payload is the contact "at the timestamp" (its ``data`` is the
    resource), so its ``phone_numbers`` is every number the contact has; so is a Pipedrive
    webhooks v1 person's ``current.phone`` (v2 events give only the numbers they have). The
    other kinds are not known to send whole lists (docs/WEBHOOKS.md says why for each)."""
    whole = {kind for kind in KINDS if adapter_class(kind).phone_list_complete}
    assert whole == {"aircall", "pipedrive"}


def test_the_published_contact_gives_both_numbers_and_null_for_what_its_list_lacks() -> None:
    body = _published_contact()
    assert _phones_of(body) == {"phone": "+1234567890", "mobilephone": "+1234567891"}
    no_mobile = copy.deepcopy(body)
    no_mobile["data"]["phone_numbers"] = [
        n for n in no_mobile["data"]["phone_numbers"] if n["label"] != "Mobile"
    ]
    assert _phones_of(no_mobile) == {"phone": "+1234567890", "mobilephone": None}
    emptied = copy.deepcopy(body)
    emptied["data"]["phone_numbers"] = []
    assert _phones_of(emptied) == {"phone": None, "mobilephone": None}
    without = copy.deepcopy(body)
    del without["data"]["phone_numbers"]
    assert _phones_of(without) == {}


# ------------------------------------------------------------------ the engine


def _setup(ws: Workspace) -> None:
    ws.apply_config(
        workspace_config(
            {
                "phone": {"kind": "aircall", "region": "FR"},
                "crm": {"kind": "generic", "region": "FR"},
            }
        )
    )


def _contact(
    contact_id: int, at: int, numbers: list[tuple[str, str]] | None, email: str | None = None
) -> dict[str, Any]:
    """An Aircall contact event in the published shape; ``numbers`` as (label, value), None:
    a payload without ``phone_numbers``."""
    data: dict[str, Any] = {
        "id": contact_id,
        "first_name": f"P{contact_id}",
        "last_name": None,
        "emails": [{"id": 1, "label": "Work", "value": email or f"p{contact_id}@globex.test"}],
    }
    if numbers is not None:
        data["phone_numbers"] = [
            {"id": i, "label": label, "value": value} for i, (label, value) in enumerate(numbers)
        ]
    return {
        "resource": "contact",
        "event": "contact.updated",
        "timestamp": at,
        "token": "tok",
        "data": data,
    }


def _held(ws: Workspace) -> list[str]:
    with ws.engine.connect() as c:
        return [n for (n,) in c.execute(sa.select(held_activities.c.number)).all()]


def _open_questions(ws: Workspace) -> list[str]:
    with ws.engine.connect() as c:
        rows = c.execute(
            sa.select(review_items.c.subject).where(review_items.c.status == "open")
        ).all()
    return [s for (s,) in rows]


def test_a_number_removed_in_aircall_leaves_the_contact_and_later_calls_find_nobody(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE), ("Work", WORK)]))
    contact = record_id(workspace, "phone", "9002")
    assert indexed_phones(workspace, contact) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
    }
    ingest_ok(workspace, "phone", _contact(9002, T0 + 60, [("Work", WORK)]))
    assert indexed_phones(workspace, contact) == {"phone": "+33176360695"}
    record = workspace.record("contact", contact)
    assert record["properties"]["mobilephone"] is None
    assert _noted(record["properties"][PHONE_SOURCES]["mobilephone"]) == {
        "number": None,
        "given_by": [],
        "why": "+33612345678 removed at 2026-11-02T15:07:40Z: phone sends the whole list of "
        "the person's numbers, and it is no longer on it",
    }
    assert record["properties"][PHONE_SOURCES]["phone"]["given_by"] == ["phone"]
    ingest_ok(
        workspace, "phone", number_call(5001, T0 + 120, MOBILE), number_call(5002, T0 + 180, WORK)
    )
    assert _held(workspace) == ["+33612345678"]  # nobody has it: held for whoever gets it
    calls = {a["external_id"]: a for a in _timeline(workspace, contact)}
    assert set(calls) == {"5002"}


def _noted(entry: dict[str, Any]) -> dict[str, Any]:
    """A property's entry in the phone sources without its times (tests/test_phone_order.py
    checks those)."""
    return {k: entry[k] for k in ("number", "given_by", "why")}


def _timeline(ws: Workspace, record_id: int) -> list[dict[str, Any]]:
    timeline: list[dict[str, Any]] = ws.record("contact", record_id)["timeline"]
    return timeline


def test_an_empty_list_removes_every_number_and_a_payload_without_one_changes_none(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE), ("Work", WORK)]))
    contact = record_id(workspace, "phone", "9002")
    ingest_ok(workspace, "phone", _contact(9002, T0 + 60, None))
    assert indexed_phones(workspace, contact) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
    }
    ingest_ok(workspace, "phone", _contact(9002, T0 + 120, []))
    assert indexed_phones(workspace, contact) == {}
    properties = workspace.record("contact", contact)["properties"]
    assert properties["phone"] is None and properties["mobilephone"] is None


def test_a_number_that_moved_to_another_contact_makes_no_question(workspace: Workspace) -> None:
    """The mobile moves from contact 9002 to 9003 in Aircall (9003's update arrives first):
    a call by it afterwards lands on 9003 alone."""
    _setup(workspace)
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE)]))
    ingest_ok(
        workspace,
        "phone",
        _contact(9003, T0 + 60, [("Mobile", MOBILE)]),
        _contact(9002, T0 + 60, []),
        number_call(5001, T0 + 120, MOBILE),
    )
    assert _open_questions(workspace) == []
    new_owner = record_id(workspace, "phone", "9003")
    assert [a["external_id"] for a in _timeline(workspace, new_owner)] == ["5001"]
    assert _timeline(workspace, record_id(workspace, "phone", "9002")) == []


def _crm_contact(
    email: str, at: str = "2026-11-02T15:07:40Z", **properties: str | None
) -> dict[str, Any]:
    """The CRM's contact c-1 (the same person, by email) giving these phone properties."""
    return ev(
        "record",
        at,
        object="contact",
        external_id="c-1",
        properties={"email": email, **properties},
    )


def test_numbers_other_integrations_gave_the_same_contact_stay(workspace: Workspace) -> None:
    """The CRM gave the contact (the same by email) its office line, and the mobile too:
    Aircall's emptied list takes back only what Aircall alone gave."""
    _setup(workspace)
    email = "bo.park@initech.test"
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE)], email=email))
    contact = record_id(workspace, "phone", "9002")
    run(workspace, _crm_contact(email, phone=WORK, mobilephone=MOBILE), integration="crm")
    assert record_id(workspace, "crm", "c-1") == contact
    sources = workspace.record("contact", contact)["properties"][PHONE_SOURCES]
    assert sources["mobilephone"]["given_by"] == ["phone", "crm"]
    assert sources["phone"]["given_by"] == ["crm"]
    ingest_ok(workspace, "phone", _contact(9002, T0 + 120, [], email=email))
    assert indexed_phones(workspace, contact) == {
        "mobilephone": "+33612345678",
        "phone": "+33176360695",
    }
    record = workspace.record("contact", contact)
    assert record["properties"]["phone"] == WORK
    assert record["properties"]["mobilephone"] == MOBILE
    assert _noted(record["properties"][PHONE_SOURCES]["mobilephone"]) == {
        "number": "+33612345678",
        "given_by": ["crm"],
        "why": "kept at 2026-11-02T15:08:40Z: phone no longer lists it, but crm gave it",
    }
    ingest_ok(workspace, "phone", number_call(5001, T0 + 180, MOBILE))
    assert [a["external_id"] for a in _timeline(workspace, contact)] == ["5001"]


def test_a_number_cleared_by_a_tool_without_whole_lists_is_removed_whoever_gave_it(
    workspace: Workspace,
) -> None:
    """A null phone from the canonical format (or HubSpot's cleared field) still clears it."""
    _setup(workspace)
    email = "bo.park@initech.test"
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE)], email=email))
    contact = record_id(workspace, "phone", "9002")
    run(workspace, _crm_contact(email, mobilephone=None), integration="crm")
    assert indexed_phones(workspace, contact) == {}
    why = workspace.record("contact", contact)["properties"][PHONE_SOURCES]["mobilephone"]["why"]
    assert why == "+33612345678 removed at 2026-11-02T15:07:40Z: crm cleared it"


def test_a_removal_and_a_call_by_its_number_in_one_batch_apply_in_order(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE), ("Work", WORK)]))
    contact = record_id(workspace, "phone", "9002")
    ingest_ok(
        workspace,
        "phone",
        number_call(5001, T0 + 30, MOBILE),  # before the removal: on the contact
        _contact(9002, T0 + 60, [("Work", WORK)]),
        number_call(5002, T0 + 120, MOBILE),  # after it: nobody has the number
    )
    assert [a["external_id"] for a in _timeline(workspace, contact)] == ["5001"]
    assert _held(workspace) == ["+33612345678"]


def test_a_held_call_attached_when_the_number_came_stays_when_it_goes(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    ingest_ok(workspace, "phone", number_call(5001, T0, OTHER))
    assert _held(workspace) == ["+33698765432"]
    ingest_ok(workspace, "phone", _contact(9004, T0 + 60, [("Mobile", OTHER)]))
    contact = record_id(workspace, "phone", "9004")
    assert [a["external_id"] for a in _timeline(workspace, contact)] == ["5001"]
    ingest_ok(workspace, "phone", _contact(9004, T0 + 120, []))
    assert [a["external_id"] for a in _timeline(workspace, contact)] == ["5001"]
    assert _held(workspace) == [] and _open_questions(workspace) == []


def test_an_open_question_about_the_number_stays_for_a_person_and_later_calls_match_one(
    workspace: Workspace,
) -> None:
    """Two contacts had the number when the call came: which one it was on is still a
    person's question after one of them loses the number (it had it then); a call after
    the removal lands on the one that has it."""
    _setup(workspace)
    ingest_ok(
        workspace,
        "phone",
        _contact(9002, T0, [("Mobile", MOBILE)]),
        _contact(9003, T0, [("Mobile", MOBILE)]),
        number_call(5001, T0 + 30, MOBILE),
    )
    assert _open_questions(workspace) == ["+33612345678"]
    ingest_ok(workspace, "phone", _contact(9002, T0 + 60, []), number_call(5002, T0 + 120, MOBILE))
    assert _open_questions(workspace) == ["+33612345678"]
    remaining = record_id(workspace, "phone", "9003")
    assert [a["external_id"] for a in _timeline(workspace, remaining)] == ["5002"]


def test_a_removal_and_a_call_by_its_number_share_a_part_of_a_window(workspace: Workspace) -> None:
    """Parallel workers: the removal names no number (the number is the record's, not the
    event's), so it meets a call by that number in the same window through the record —
    its Aircall id and the number lead to the same contact — and they apply in arrival
    order; a call by a number nobody has stays apart."""
    from leadsync.engine import conflicts
    from leadsync.workspace_config import load_rules

    _setup(workspace)
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE)]))
    adapter = adapter_for("aircall", "phone")
    bodies = [
        _contact(9002, T0 + 60, []),
        number_call(5001, T0 + 120, MOBILE),
        number_call(5002, T0, OTHER),
    ]
    events = [adapter.to_events(b, {}, f"e{i}", i) for i, b in enumerate(bodies)]
    rules = load_rules(workspace.engine)
    keys = [[k for e in row for k in conflicts.event_keys(e, rules)] for row in events]
    assert not any(k[0] == "p" for k in keys[0])  # the event names no number
    with workspace.engine.connect() as connection:
        pairs = conflicts.resolve(connection, rules, {k for ks in keys for k in ks})
    component = conflicts.components(keys, pairs)
    assert component[0] == component[1] != component[2]


def test_a_phone_hubspot_sends_emptied_is_cleared_as_before(workspace: Workspace) -> None:
    """HubSpot is not a whole-list tool: it sends one property per change, and an emptied
    ``phone`` (``propertyValue: ""``, the published propertyChange shape) is that field
    cleared in the CRM — the record's own — so the number goes whoever gave it."""
    workspace.apply_config(
        workspace_config(
            {
                "phone": {"kind": "aircall", "region": "FR"},
                "crm": {"kind": "hubspot", "region": "FR", "vendor": {"app_id": "777"}},
            }
        )
    )
    change = json.loads(
        (PUBLISHED / "hubspot" / "contact.propertyChange.test_firstname.json").read_text()
    )
    change[0].update(propertyName="phone", propertyValue=MOBILE)
    ingest_ok(workspace, "crm", change)
    contact = record_id(workspace, "crm", "123")
    assert indexed_phones(workspace, contact) == {"phone": "+33612345678"}
    change[0].update(eventId=101, occurredAt=change[0]["occurredAt"] + 1000, propertyValue="")
    ingest_ok(workspace, "crm", change)
    assert indexed_phones(workspace, contact) == {}
    ingest_ok(workspace, "phone", number_call(5001, T0, MOBILE))
    assert _held(workspace) == ["+33612345678"]


@pytest.mark.parametrize("made_by_aircall", [True, False])
def test_numbers_given_before_givers_were_kept_go_only_from_records_aircall_made(
    workspace: Workspace, made_by_aircall: bool
) -> None:
    """A workspace from before this keeps no givers: Aircall's whole list is believed for the
    contacts Aircall made, and not for one another integration made (the number stays)."""
    _setup(workspace)
    email = "bo.park@initech.test"
    if not made_by_aircall:
        run(workspace, _crm_contact(email, "2026-11-02T15:00:00Z"), integration="crm")
    ingest_ok(workspace, "phone", _contact(9002, T0, [("Mobile", MOBILE)], email=email))
    contact = record_id(workspace, "phone", "9002")
    with workspace.engine.begin() as c:  # as a version before this one left it
        props = workspace.record("contact", contact)["properties"]
        del props[PHONE_SOURCES]
        c.execute(sa.update(records).where(records.c.id == contact).values(properties=props))
    ingest_ok(workspace, "phone", _contact(9002, T0 + 60, [], email=email))
    remaining = {"mobilephone": "+33612345678"}
    assert indexed_phones(workspace, contact) == ({} if made_by_aircall else remaining)


# ------------------------------------------------------------------ numbers beyond two

HOME = "+33 1 40 20 50 50"
DESK = "+33 1 45 67 89 10"


def test_every_number_of_an_aircall_contact_finds_it_and_a_shorter_list_takes_back_the_rest(
    workspace: Workspace,
) -> None:
    """A contact with four numbers: the two beyond a work and a mobile one are kept (never
    pushed: HubSpot has no property for them) and calls from them land on its timeline; a
    list that got shorter takes back what it no longer has, those numbers included."""
    _setup(workspace)
    four = [("Work", WORK), ("Mobile", MOBILE), ("Home", HOME), ("Other", DESK)]
    ingest_ok(workspace, "phone", _contact(9003, T0, four))
    contact = record_id(workspace, "phone", "9003")
    assert indexed_phones(workspace, contact) == {
        "phone": "+33176360695",
        "mobilephone": "+33612345678",
        "other_phone_1": "+33140205050",
        "other_phone_2": "+33145678910",
    }
    ingest_ok(workspace, "phone", number_call(5101, T0 + 60, DESK))
    assert {a["external_id"] for a in _timeline(workspace, contact)} == {"5101"}
    assert _held(workspace) == []
    # Home and the desk line leave Aircall's list (the desk line moves up a place first).
    ingest_ok(workspace, "phone", _contact(9003, T0 + 120, [*four[:2], ("Other", DESK)]))
    assert indexed_phones(workspace, contact)["other_phone_1"] == "+33145678910"
    assert "other_phone_2" not in indexed_phones(workspace, contact)
    ingest_ok(workspace, "phone", _contact(9003, T0 + 180, four[:2]))
    assert indexed_phones(workspace, contact) == {
        "phone": "+33176360695",
        "mobilephone": "+33612345678",
    }
    properties = workspace.record("contact", contact)["properties"]
    assert properties["other_phone_1"] is None and properties["other_phone_2"] is None
    ingest_ok(workspace, "phone", number_call(5102, T0 + 240, HOME))
    assert _held(workspace) == ["+33140205050"]  # nobody has it any more


def test_an_aircall_list_longer_than_seven_keeps_the_first_seven() -> None:
    numbers = [("Mobile" if i == 1 else "Work", f"+33 1 40 20 50 {i:02d}") for i in range(9)]
    body = _contact(9004, T0, numbers)
    [event] = adapter_for("aircall", "phone").to_events(body, {}, "e1", 1)
    kept = {k: v for k, v in event.properties.items() if "phone" in k}
    assert kept == {
        "phone": "+33 1 40 20 50 00",
        "mobilephone": "+33 1 40 20 50 01",
        **{f"other_phone_{n}": f"+33 1 40 20 50 {n + 1:02d}" for n in range(1, 6)},
    }
