"""Two records leadsync held, merged at a tool, are joined (engine/record_joins.py): the
absorbed record's ids, numbers, links, timeline and open questions are the kept record's, the
kept record's owner and values win, and the absorbed record says where it went. Through the
real engine (ingest) on SQLite and PostgreSQL; the HubSpot push against the stand-in."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from leadsync.cli import app
from leadsync.destinations.hubspot.fake import HubSpotDouble
from leadsync.store.schema import push_queue, record_associations, record_phones
from leadsync.workspace import Workspace
from tests.helpers import (
    ev,
    run,
    settings,
    workspace_config,
)

KIM = "+44 20 7946 0001"
KIM_E164 = "+442079460001"


def _config() -> Any:
    crm = settings(users={"map": {"u-1": "101", "u-9": "102"}, "unmapped": {"policy": "leave"}})
    crm["ownership"] = {"default": "integration_wins"}
    dialer = settings(unknown_counterpart={"policy": "hold", "hold_days": 30}, region="GB")
    return workspace_config({"crm": crm, "dialer": dialer})


def _contact(ext: str, at: str, owner: str | None = None, **properties: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"object": "contact", "external_id": ext, "properties": properties}
    if owner is not None:
        fields["owner"] = owner
    if "company" in properties:
        fields["associations"] = [{"object": "company", "domain": properties.pop("company")}]
    return ev("record", at, **fields)


def _call(ext: str, at: str, **how: Any) -> dict[str, Any]:
    properties = {"duration_s": 60, "outcome": "connected", "direction": "outbound"}
    associations = []
    if "email" in how:
        associations = [{"object": "contact", "email": how["email"]}]
    else:
        properties["to_number"] = how["number"]
    return ev("activity", at, activity="call", external_id=ext, owner="u-1",
              properties=properties, associations=associations)  # fmt: skip


def _merge(kept: str, merged: list[str], at: str) -> dict[str, Any]:
    return ev("record", at, object="contact", external_id=kept, merged=merged, properties={})


def _before(ws: Workspace) -> None:
    """Kim twice at the CRM: c-1 (no owner, no number) and c-2 (Ana's, a number, Globex);
    the dialer knows c-2's person as p-2 (by email), and called it."""
    assert run(ws, _contact("c-1", "2026-11-01T09:00:00Z", email="kim@globex.test",
                            firstname="Kim"), integration="crm").ok  # fmt: skip
    assert run(ws, _contact("c-2", "2026-11-01T09:01:00Z", owner="u-1",
                            email="kim.lee@globex.test", firstname="Kimberly", lastname="Lee",
                            phone=KIM, company="globex.test"), integration="crm").ok  # fmt: skip
    assert run(ws, _contact("p-2", "2026-11-01T09:02:00Z", email="kim.lee@globex.test",
                            jobtitle="CTO")).ok  # fmt: skip
    assert run(ws, _call("call-1", "2026-11-01T09:30:00Z", email="kim.lee@globex.test")).ok


def _found(ws: Workspace, **key: str) -> list[int]:
    return [int(r["id"]) for r in ws.find(**key)]


def _join_state(ws: Workspace) -> dict[str, Any]:
    """What a person sees of Kim after the join (ids replaced by what they are)."""
    [kept] = _found(ws, external="crm:c-1")
    record = ws.record("contact", kept)
    return {
        "owner": record["owner_id"],
        "properties": {
            k: v for k, v in record["properties"].items() if k != "leadsync_phone_sources"
        },
        "ids": sorted(f"{i['integration']}:{i['external_id']}" for i in record["identities"]),
        "links": [(a["type"], a["primary"]) for a in record["associations"]],
        "timeline": [t["external_id"] for t in record["timeline"]],
        "phones": sorted((p["number"], p["property"]) for p in record["phones"]),
        "history": [(h["outcome"], h["strategy"], h["reason"]) for h in record["owner_history"]],
    }


def test_a_merge_of_two_held_contacts_joins_the_absorbed_one_into_the_kept_one(
    workspace: Workspace,
) -> None:
    workspace.apply_config(_config())
    _before(workspace)
    [kept], [absorbed] = (
        _found(workspace, external="crm:c-1"),
        _found(workspace, external="crm:c-2"),
    )
    assert _found(workspace, external="dialer:p-2") == [absorbed]
    assert run(workspace, _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z"), integration="crm").ok
    # Every id, email and number of the absorbed contact leads to the kept one.
    for key in ({"external": "crm:c-2"}, {"external": "dialer:p-2"},
                {"email": "kim.lee@globex.test"}, {"email": "kim@globex.test"}):  # fmt: skip
        assert _found(workspace, **key) == [kept], key
    state = _join_state(workspace)
    assert state["ids"] == ["crm:c-1", "crm:c-2", "dialer:p-2"]
    # The kept record's values win; the absorbed one's fill what it lacked (its number too).
    assert state["properties"] == {
        "email": "kim@globex.test", "firstname": "Kim", "lastname": "Lee", "phone": KIM,
        "jobtitle": "CTO",
    }  # fmt: skip
    assert state["phones"] == [(KIM_E164, "phone")]
    assert state["links"] == [("company", True)]  # Globex: it had no primary company
    assert state["timeline"] == ["call-1"]
    # It had no owner: it takes Ana, saying why; the absorbed contact's history stays.
    assert state["owner"] == "101"
    (outcome, strategy, reason) = state["history"][-1]
    assert (outcome, strategy) == ("set", "merge")
    assert reason == (
        f"set 101: crm merged contact {absorbed} into contact {kept} at 2026-11-02T10:00:00Z; "
        f"contact {kept} had no owner, so it takes contact {absorbed}'s"
    )
    left = workspace.record("contact", absorbed)
    assert left["merged_into"] == kept and left["merged_at"] == "2026-11-02T10:00:00.000Z"
    assert left["identities"] == [] and left["associations"] == [] and left["timeline"] == []
    assert [h["outcome"] for h in left["owner_history"]] == ["set"]  # its own, readable
    assert workspace.record("contact", kept)["joined"] == [
        {"id": absorbed, "merged_at": "2026-11-02T10:00:00.000Z"}
    ]
    with workspace.engine.connect() as c:
        assert c.execute(sa.select(record_phones.c.record_id)).scalars().all() == [kept]
    # A later call from the absorbed contact's number lands on the kept contact, and a later
    # event of the absorbed contact's other tool too.
    assert run(workspace, _call("call-2", "2026-11-03T09:00:00Z", number=KIM)).ok
    assert run(workspace, _contact("p-2", "2026-11-03T09:05:00Z", lastname="Lee-Park")).ok
    record = workspace.record("contact", kept)
    assert [t["external_id"] for t in record["timeline"]] == ["call-2", "call-1"]
    assert record["properties"]["lastname"] == "Lee-Park"
    db = workspace.engine.url.render_as_string(hide_password=False)
    shown = CliRunner().invoke(app, ["--db", db, "records", "show", "contact", str(absorbed)],
                               env={"COLUMNS": "300"})  # fmt: skip
    assert f"merged into contact {kept} at 2026-11-02T10:00" in shown.stdout
    shown = CliRunner().invoke(app, ["--db", db, "records", "show", "contact", str(kept)],
                               env={"COLUMNS": "300"})  # fmt: skip
    assert f"joined from: contact {absorbed} (at 2026-11-02T10:00" in shown.stdout
    assert f"dialer:p-2 (from record {absorbed})" in shown.stdout
    # A person setting the absorbed contact's owner sets the kept one's.
    assert workspace.set_owner("contact", absorbed, "104").record_id == kept
    assert workspace.record("contact", kept)["owner_id"] == "104"


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_one_batch_or_one_event_a_batch_and_a_redelivery_end_the_same(
    workspace: Workspace, batch_size: int
) -> None:
    """The stream and the merge in one batch, or one event per batch: the same join; the
    merge delivered again (another event id) changes nothing."""
    workspace.apply_config(_config())
    _before(workspace)
    one_by_one = _join_state_after(workspace, batch_size)
    assert one_by_one["ids"] == ["crm:c-1", "crm:c-2", "dialer:p-2"]
    again = run(workspace, _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z"), integration="crm")
    assert again.ok and _join_state(workspace) == one_by_one


def _join_state_after(ws: Workspace, batch_size: int) -> dict[str, Any]:
    events = [
        _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z"),
        _contact("c-2", "2026-11-02T11:00:00Z", title="CTO"),  # a late edit of the gone id
    ]
    assert run(ws, *events, integration="crm", batch_size=batch_size).ok
    return _join_state(ws)


def test_the_join_in_the_same_batch_as_the_records_equals_the_join_across_batches(
    db_url: str,
) -> None:
    """Every event of the story in one ingest (one batch) against one event per batch."""
    states = []
    for batch_size in (5000, 1):
        ws = Workspace(db_url)
        try:
            from tests.helpers import reset_database

            reset_database(ws.engine)
            ws.apply_config(_config())
            crm = [
                _contact("c-1", "2026-11-01T09:00:00Z", email="kim@globex.test", firstname="Kim"),
                _contact(
                    "c-2",
                    "2026-11-01T09:01:00Z",
                    owner="u-1",
                    email="kim.lee@globex.test",
                    phone=KIM,
                    company="globex.test",
                ),  # fmt: skip
            ]
            lines = [json.dumps(e) for e in crm]
            lines.append(json.dumps(_merge("c-1", ["c-2"], "2026-11-02T10:00:00Z")))
            lines.append(json.dumps(_contact("c-2", "2026-11-02T11:00:00Z", title="CTO")))
            assert ws.ingest("crm", lines, source="x.jsonl", batch_size=batch_size).ok
            assert run(ws, _call("call-9", "2026-11-03T09:00:00Z", number=KIM)).ok
            states.append(_join_state(ws))
        finally:
            ws.close()
    assert states[0] == states[1]
    assert states[0]["timeline"] == ["call-9"] and states[0]["owner"] == "101"


def test_an_open_question_between_the_two_contacts_names_the_kept_one(
    workspace: Workspace,
) -> None:
    """A call by an email both contacts had was a question between them; once joined, its
    one candidate is the kept contact, with both reasons."""
    workspace.apply_config(_config())
    events = [  # c-2 comes with another email, then takes Kim's: two contacts have it
        _contact("c-1", "2026-11-01T09:00:00Z", email="kim@globex.test"),
        _contact("c-2", "2026-11-01T09:01:00Z", email="k.lee@globex.test"),
        _contact("c-2", "2026-11-01T09:02:00Z", email="kim@globex.test"),
    ]
    assert run(workspace, *events, integration="crm").ok
    assert run(workspace, _call("call-1", "2026-11-01T09:30:00Z", email="kim@globex.test")).ok
    [question] = workspace.review_items().items
    [kept], [absorbed] = (
        _found(workspace, external="crm:c-1"),
        _found(workspace, external="crm:c-2"),
    )
    assert sorted(c.record_id or 0 for c in question.candidates) == sorted([kept, absorbed])
    assert run(workspace, _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z"), integration="crm").ok
    [question] = workspace.review_items().items
    [candidate] = question.candidates
    assert candidate.record_id == kept
    assert f"contact {absorbed} was joined into it at 2026-11-02T10:00:00.000Z" in candidate.why
    assert _found(workspace, email="kim@globex.test") == [kept]


def test_a_company_merge_moves_its_contacts_and_deals_to_the_kept_company(
    workspace: Workspace,
) -> None:
    """Globex twice (by two domains at the CRM); a contact whose primary company was the one
    merged away has the kept one as primary, and its deal is the kept company's."""
    workspace.apply_config(_config())
    company = {"object": "company"}
    assert run(workspace,
               ev("record", "2026-11-01T09:00:00Z", external_id="o-1",
                  properties={"domain": "globex.test", "name": "Globex"}, **company),
               ev("record", "2026-11-01T09:01:00Z", external_id="o-2",
                  properties={"domain": "globex.example", "industry": "Tools"}, **company),
               integration="crm").ok  # fmt: skip
    assert run(workspace, _contact("c-1", "2026-11-01T09:02:00Z", email="kim@globex.example",
                                   company="globex.example"), integration="crm").ok  # fmt: skip
    deal = ev("record", "2026-11-01T09:03:00Z", object="deal", external_id="d-1",
              properties={"name": "Renewal"},
              associations=[{"object": "company", "external_id": "o-2"}])  # fmt: skip
    assert run(workspace, deal, integration="crm").ok
    merge = ev("record", "2026-11-02T10:00:00Z", object="company", external_id="o-1",
               merged=["o-2"], properties={})  # fmt: skip
    assert run(workspace, merge, integration="crm").ok
    [kept] = _found(workspace, external="crm:o-1")
    [contact] = _found(workspace, external="crm:c-1")
    [deal_id] = _found(workspace, external="crm:d-1")
    assert _found(workspace, domain="globex.example") == [kept]
    record = workspace.record("company", kept)
    assert record["properties"] == {"domain": "globex.test", "name": "Globex", "industry": "Tools"}
    assert {(a["type"], a["id"]) for a in record["associations"]} == {
        ("contact", contact),
        ("deal", deal_id),
    }
    assert workspace.record("contact", contact)["associations"] == [
        {"type": "company", "id": kept, "primary": True}
    ]
    # A call naming the contact gets the kept company and its deal by the association rules.
    assert run(workspace, _call("call-1", "2026-11-03T09:00:00Z", email="kim@globex.example")).ok
    [call] = workspace.record("contact", contact)["timeline"]
    assert {(a["type"], a["id"]) for a in call["associations"]} >= {
        ("company", kept),
        ("deal", deal_id),
    }


def test_the_kept_contact_s_primary_company_stays(workspace: Workspace) -> None:
    workspace.apply_config(_config())
    assert run(workspace,
               _contact("c-1", "2026-11-01T09:00:00Z", owner="u-9", email="kim@globex.test",
                        company="globex.test"),
               _contact("c-2", "2026-11-01T09:01:00Z", owner="u-1", email="kim@initech.test",
                        company="initech.test"),
               integration="crm").ok  # fmt: skip
    assert run(workspace, _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z"), integration="crm").ok
    [kept] = _found(workspace, external="crm:c-1")
    [globex] = _found(workspace, domain="globex.test")
    [initech] = _found(workspace, domain="initech.test")
    record = workspace.record("contact", kept)
    assert record["associations"] == [
        {"type": "company", "id": globex, "primary": True},
        {"type": "company", "id": initech, "primary": False},
    ]
    # It has an owner: it keeps it, and says so.
    assert record["owner_id"] == "102"
    last = record["owner_history"][-1]
    assert (last["outcome"], last["strategy"]) == ("kept", "merge")
    assert "the kept record's owner stays" in last["reason"]
    with workspace.engine.connect() as c:
        primaries = c.execute(
            sa.select(sa.func.count()).where(record_associations.c.is_primary.is_(True))
        ).scalar_one()
    assert primaries == 1


# ------------------------------------------------------------------ the HubSpot push


def test_a_merge_in_another_tool_never_pushes_the_absorbed_contact_nor_merges_in_hubspot(
    pushing: Workspace, hub: HubSpotDouble
) -> None:
    """Both contacts were pushed (two HubSpot contacts); the dialer merges them. leadsync
    calls no merge at HubSpot: the kept contact's object gets the joined values and the
    absorbed contact's call; the absorbed contact's object is left as it was, never written
    again."""
    contact = {"object": "contact"}
    assert run(pushing,
               ev("record", properties={"email": "kim@globex.test"}, owner="u-1",
                  external_id="p-1", **contact),
               ev("record", properties={"email": "kim.lee@globex.test", "lastname": "Lee"},
                  owner="u-9", external_id="p-2", **contact),
               _call("call-1", "2026-11-01T10:00:00Z", email="kim.lee@globex.test")).ok  # fmt: skip
    assert pushing.push().failures == 0
    ids = {o["properties"]["email"]: o["id"] for o in hub.objects("contacts")}
    kept_hs, gone_hs = ids["kim@globex.test"], ids["kim.lee@globex.test"]
    merge = ev("record", "2026-11-02T10:00:00Z", external_id="p-1", merged=["p-2"],
               properties={}, **contact)  # fmt: skip
    assert run(pushing, merge).ok
    [kept] = _found(pushing, external="dialer:p-1")
    assert _found(pushing, external="dialer:p-2") == [kept]
    assert pushing.push().failures == 0
    endpoints = list(hub.stats()["by_endpoint"])
    assert not [e for e in endpoints if "merge" in e], endpoints
    assert hub.get_object("contacts", kept_hs)["properties"]["lastname"] == "Lee"
    [call] = hub.objects("calls")
    assert kept_hs in [a["id"] for a in call["associations"]["contacts"]]
    # A later owner change reaches the kept object only.
    before = hub.get_object("contacts", gone_hs)["properties"]
    assert run(pushing, ev("record", "2026-11-03T09:00:00Z", external_id="p-2", owner="u-1",
                           properties={}, **contact)).ok  # fmt: skip
    assert pushing.push().failures == 0
    assert hub.get_object("contacts", gone_hs)["properties"] == before
    assert hub.get_object("contacts", kept_hs)["properties"]["hubspot_owner_id"] == "101"
    with pushing.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(push_queue)).scalar_one() == 0


def test_the_absorbed_contact_s_other_number_is_kept_beside_and_finds_the_kept_one(
    workspace: Workspace,
) -> None:
    """Both contacts have a phone: the kept one's stays shown; the absorbed one's is kept
    beside it, from the integration that gave it, so a call by it finds the kept contact."""
    workspace.apply_config(_config())
    other, other_e164 = "+44 20 7946 0002", "+442079460002"
    assert run(workspace,
               _contact("c-1", "2026-11-01T09:00:00Z", email="kim@globex.test", phone=KIM),
               _contact("c-2", "2026-11-01T09:01:00Z", email="kim.lee@globex.test", phone=other),
               integration="crm").ok  # fmt: skip
    assert run(workspace, _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z"), integration="crm").ok
    [kept] = _found(workspace, external="crm:c-1")
    record = workspace.record("contact", kept)
    assert record["properties"]["phone"] == KIM
    shown = {
        p["number"]: (p["property"], p["kept_beside"], p["integration"]) for p in record["phones"]
    }
    # Under "crm (contact crm:c-2)": crm gives the number shown, so its own name is taken.
    assert shown == {
        KIM_E164: ("phone", False, None),
        other_e164: ("phone", True, "crm (contact crm:c-2)"),
    }
    assert run(workspace, _call("call-1", "2026-11-03T09:00:00Z", number=other)).ok
    assert [t["external_id"] for t in workspace.record("contact", kept)["timeline"]] == ["call-1"]


def test_a_value_the_kept_record_takes_keeps_the_time_it_was_given(workspace: Workspace) -> None:
    """The absorbed contact's job title (given at 09:02 by the dialer) fills the kept one's
    with its time: a retried older event after the join changes it no more than it would
    have changed the absorbed contact (properties by the vendor's clock)."""
    workspace.apply_config(_config())
    _before(workspace)
    [kept] = _found(workspace, external="crm:c-1")
    assert run(workspace, _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z"), integration="crm").ok
    late = _contact("p-2", "2026-11-01T08:00:00Z", jobtitle="Intern")  # older than 09:02
    assert run(workspace, late).ok
    assert workspace.record("contact", kept)["properties"]["jobtitle"] == "CTO"
    newer = _contact("p-2", "2026-11-03T08:00:00Z", jobtitle="CEO")
    assert run(workspace, newer).ok
    assert workspace.record("contact", kept)["properties"]["jobtitle"] == "CEO"


def test_numbers_one_tool_gave_keep_one_name_each_when_a_join_brings_several(
    workspace: Workspace,
) -> None:
    """A contact that had absorbed another brings two numbers the CRM gave (its own, and the
    one kept beside it) into a record that keeps one of the CRM's beside already: each number
    is kept under a name of its own (``crm (contact crm:c-N)``, the absorbed contact by its
    CRM id: the CRM gives the number shown, so its plain name is taken), none overwrites
    another, and a call by any of them finds the kept contact."""
    workspace.apply_config(_config())
    numbers = {ext: f"+44 20 7946 000{n}" for n, ext in enumerate(["c-1", "c-2", "c-3", "c-4"], 1)}
    assert run(workspace, *[
        _contact(ext, f"2026-11-01T09:0{n}:00Z", email=f"kim{n}@globex.test", phone=number)
        for n, (ext, number) in enumerate(numbers.items())
    ], integration="crm").ok  # fmt: skip
    [absorbing] = _found(workspace, external="crm:c-3")
    for kept, merged, at in (("c-1", "c-2", "10"), ("c-3", "c-4", "11"), ("c-1", "c-3", "12")):
        assert run(workspace, _merge(kept, [merged], f"2026-11-02T{at}:00:00Z"),
                   integration="crm").ok  # fmt: skip
    [kept_id] = _found(workspace, external="crm:c-1")
    phones = workspace.record("contact", kept_id)["phones"]
    e164 = {ext: number.replace(" ", "") for ext, number in numbers.items()}
    assert {p["number"]: (p["kept_beside"], p["integration"]) for p in phones} == {
        e164["c-1"]: (False, None),
        e164["c-2"]: (True, "crm (contact crm:c-2)"),
        e164["c-3"]: (True, "crm (contact crm:c-3)"),
        e164["c-4"]: (True, "crm (contact crm:c-4)"),
    }
    for n, ext in enumerate(("c-2", "c-3", "c-4")):
        assert run(workspace, _call(f"call-{ext}", f"2026-11-03T09:0{n}:00Z",
                                    number=numbers[ext])).ok  # fmt: skip
    timeline = [t["external_id"] for t in workspace.record("contact", kept_id)["timeline"]]
    assert sorted(timeline) == ["call-c-2", "call-c-3", "call-c-4"]


def test_a_merge_event_that_repeats_the_kept_number_keeps_the_absorbed_one_beside(
    workspace: Workspace,
) -> None:
    """Pipedrive's merge carries the kept person whole, its phone too. The absorbed
    person's number, kept beside under the tool's own name, was then read as the tool's
    older number for the property and dropped: a call by it found no one."""
    workspace.apply_config(_config())
    other, other_e164 = "+44 20 7946 0002", "+442079460002"
    assert run(workspace,
               _contact("c-1", "2026-11-01T09:00:00Z", email="kim@globex.test", phone=KIM),
               _contact("c-2", "2026-11-01T09:01:00Z", email="kim.lee@globex.test", phone=other),
               integration="crm").ok  # fmt: skip
    merge = _merge("c-1", ["c-2"], "2026-11-02T10:00:00Z") | {"properties": {"phone": KIM}}
    assert run(workspace, merge, integration="crm").ok
    [kept] = _found(workspace, external="crm:c-1")
    numbers = {p["number"] for p in workspace.record("contact", kept)["phones"]}
    assert numbers == {KIM_E164, other_e164}
    assert run(workspace, _call("call-1", "2026-11-03T09:00:00Z", number=other)).ok
    assert [t["external_id"] for t in workspace.record("contact", kept)["timeline"]] == ["call-1"]


@pytest.mark.parametrize("batched", [True, False])
def test_an_event_of_a_merged_away_id_from_before_the_merge_gives_no_owner(
    workspace: Workspace, batched: bool
) -> None:
    """A probe's case: Pipedrive merged person 44 (owner 102) into 43 (owner 101) at 09:30;
    a late change of 44 dated 09:25 then set 102 on the kept person as "the most recent
    change" — its owner was the merged-away record's, and the tool's own merge, later, said
    the kept one's. Ignored as stale, in the merge's batch and in a later one; an event of
    it dated after the merge still decides."""
    workspace.apply_config(_config())
    before = [
        _contact("c-43", "2026-11-01T09:15:00Z", owner="u-1", email="a@globex.test"),
        _contact("c-44", "2026-11-01T09:16:00Z", owner="u-9", email="b@globex.test"),
        _merge("c-43", ["c-44"], "2026-11-01T09:30:00Z"),
    ]
    late = _contact("c-44", "2026-11-01T09:25:00Z", owner="u-9")
    if batched:
        assert run(workspace, *before, late, integration="crm").ok
    else:
        assert run(workspace, *before, integration="crm").ok
        assert run(workspace, late, integration="crm").ok
    [kept] = _found(workspace, external="crm:c-43")
    record = workspace.record("contact", kept)
    assert record["owner_id"] == "101"
    last = record["owner_history"][-1]
    assert (last["event_id"], last["outcome"]) == (late["id"], "ignored")
    assert last["reason"] == (
        "ignored: stale: crm merged contact c-44 into another at 2026-11-01T09:30:00Z, after "
        "this event (2026-11-01T09:25:00Z): its owner was the merged-away record's; the owner "
        "stays 101"
    )
    after = _contact("c-44", "2026-11-01T09:40:00Z", owner="u-9")
    assert run(workspace, after, integration="crm").ok
    assert workspace.record("contact", kept)["owner_id"] == "102"
