"""A person's numbers beyond a phone and a mobile one, from the sales engagement tools
(Outreach prospects, Salesloft people), find the person for a call another integration
knows only by number: the calls land on the person's timeline instead of being held."""

from __future__ import annotations

import copy
from typing import Any

import sqlalchemy as sa

from leadsync.store.schema import held_activities
from leadsync.workspace import Workspace
from tests import adapters as harness
from tests.helpers import workspace_config
from tests.phone_helpers import indexed_phones, ingest_ok, number_call, record_id

T0 = 1793869200  # 2026-11-05T09:00:00Z, after the fixtures' people were made


def _setup(ws: Workspace, kind: str) -> None:
    ws.apply_config(
        workspace_config(
            {
                "engage": {"kind": kind, "region": "US"},
                "phone": {"kind": "aircall", "region": "US"},
            }
        )
    )


def _calls_on(ws: Workspace, record: int) -> set[str]:
    return {a["external_id"] for a in ws.record("contact", record)["timeline"]}


def _held(ws: Workspace) -> list[str]:
    with ws.engine.connect() as c:
        return [n for (n,) in c.execute(sa.select(held_activities.c.number)).all()]


# ------------------------------------------------------------------ Outreach


def _prospect_update(at: str, **attributes: Any) -> dict[str, Any]:
    envelope = copy.deepcopy(harness.envelope("outreach", "prospect.updated-phones"))
    envelope["body"]["data"]["attributes"] = {"updatedAt": at, **attributes}
    return envelope


def test_a_call_from_any_number_of_an_outreach_prospect_lands_on_it(workspace: Workspace) -> None:
    """Dana is created with two work numbers, a mobile and a home one: all four find her. An
    update of the home number alone speaks for no place (nothing moves, nothing is cleared);
    an update carrying every array places the new home number and clears nothing."""
    _setup(workspace, "outreach")
    ingest_ok(workspace, "engage", harness.envelope("outreach", "prospect.created-phones"))
    dana = record_id(workspace, "engage", "1003")
    assert indexed_phones(workspace, dana) == {
        "phone": "+14155550110",
        "mobilephone": "+14155550142",
        "other_phone_1": "+14155550111",  # the second work number
        "other_phone_2": "+14155550177",  # the home number
    }
    ingest_ok(workspace, "phone", number_call(6001, T0, "+1 415-555-0111"))
    ingest_ok(workspace, "phone", number_call(6002, T0 + 60, "+1 415-555-0177"))
    assert _calls_on(workspace, dana) == {"6001", "6002"}
    assert _held(workspace) == []

    before = indexed_phones(workspace, dana)
    ingest_ok(
        workspace,
        "engage",
        _prospect_update("2026-11-05T10:00:00.000Z", homePhones=["+1 415 555 0178"]),
    )
    assert indexed_phones(workspace, dana) == before
    ingest_ok(workspace, "phone", number_call(6003, T0 + 3600, "+1 415-555-0178"))
    assert _held(workspace) == ["+14155550178"]  # the new home number waits for a whole event

    every_array = {
        "workPhones": ["+1 415 555 0110"],
        "mobilePhones": ["+1 415 555 0142"],
        "otherPhones": [],
        "homePhones": ["+1 415 555 0178"],
        "voipPhones": [],
    }
    ingest_ok(workspace, "engage", _prospect_update("2026-11-05T11:00:00.000Z", **every_array))
    assert indexed_phones(workspace, dana) == {
        **before,
        "other_phone_1": "+14155550178",  # the held call attaches to her
        "other_phone_2": "+14155550177",  # stays: Outreach never clears a number
    }
    assert _calls_on(workspace, dana) == {"6001", "6002", "6003"}
    assert _held(workspace) == []


# ------------------------------------------------------------------ Salesloft


def test_a_call_from_a_salesloft_persons_home_number_lands_on_them(workspace: Workspace) -> None:
    """Dana's home number is kept beside her work number; a later person without it (null)
    clears nothing, like every Salesloft null; with no work number it is her phone."""
    _setup(workspace, "salesloft")
    created = harness.envelope("salesloft", "person_created-phones")
    ingest_ok(workspace, "engage", created)
    dana = record_id(workspace, "engage", "1702")
    assert indexed_phones(workspace, dana) == {
        "phone": "+14155550110",
        "mobilephone": "+14155550142",
        "other_phone_1": "+14155550177",
    }
    ingest_ok(workspace, "phone", number_call(7001, T0, "+1 415-555-0177"))
    assert _calls_on(workspace, dana) == {"7001"}
    assert _held(workspace) == []

    no_home = copy.deepcopy(created)
    no_home["headers"]["x-salesloft-event"] = "person_updated"
    no_home["body"].update(home_phone=None, updated_at="2026-11-04T10:00:00.000000Z")
    ingest_ok(workspace, "engage", no_home)
    assert indexed_phones(workspace, dana)["other_phone_1"] == "+14155550177"

    # 12:00: no work number any more, the home one is the phone (and still the other one)
    ingest_ok(workspace, "engage", harness.envelope("salesloft", "person_updated-home-phone"))
    assert indexed_phones(workspace, dana) == {
        "phone": "+14155550177",
        "mobilephone": "+14155550142",
        "other_phone_1": "+14155550177",
    }
    ingest_ok(workspace, "phone", number_call(7002, T0 + 3600, "+1 415-555-0177"))
    assert _calls_on(workspace, dana) == {"7001", "7002"}
    assert _held(workspace) == []
