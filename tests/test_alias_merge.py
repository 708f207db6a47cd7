"""One activity a tool names by two ids (a Salesloft call data record ``cdr:8850`` and the call
``19150`` it is logged to; engine/aliases.py) when each id had made an activity before the
event that joins them: the one made first stays, the other is removed — and what the removed
one had moves to the one that stays: the records the association rules linked it to, with
their reasons, the other tools' activities merged into it, the skips it resolved. The join is
counted once, however often it is seen again. Through the real engine (ingest), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.settings import load_config
from leadsync.store.schema import activities, activity_associations, activity_skips
from leadsync.workspace import Workspace
from tests.helpers import ev, run, settings, setup, workspace_config
from tests.test_engine import _deal, contact

CALL = "2026-11-01T10:00:00Z"
P1 = [{"object": "contact", "external_id": "p-1"}]
COMPANY = "contact {p}'s primary company, by associations.company: primary"
DEAL = "the most recently updated open deal of contact {p}, by associations.deal: most_recent_open"


def _piece(external_id: str, changed_at: str, at: str = CALL, **fields: Any) -> dict[str, Any]:
    """An event of the call under one of its ids (60 s, so no filter skips it)."""
    return ev(
        "activity",
        at,
        activity="call",
        external_id=external_id,
        owner="u-1",
        changed_at=changed_at,
        properties={"direction": "outbound", "duration_s": 60, "to_number": "+14155550100"},
        **fields,
    )


def _logged(changed_at: str = "2026-11-01T10:20:00Z") -> dict[str, Any]:
    """The record's event once logged to the call: the call's id, the record's as alias."""
    return _piece("19150", changed_at, aliases=["cdr:8850"])


def _links(ws: Workspace) -> tuple[int, dict[str, tuple[str, str | None]]]:
    """The one call activity and its records (by their dialer ids): (source, reason)."""
    names = {f[0]["id"]: e for e in ("p-1", "a-1", "d-1") if (f := ws.find(external=f"dialer:{e}"))}
    with ws.engine.connect() as c:
        ids = [r.id for r in c.execute(sa.select(activities.c.id))]
        assert len(ids) == 1, ids
        rows = c.execute(
            sa.select(
                activity_associations.c.record_id,
                activity_associations.c.source,
                activity_associations.c.reason,
            ).where(activity_associations.c.activity_id == ids[0])
        ).all()
    return ids[0], {names.get(r.record_id, str(r.record_id)): (r.source, r.reason) for r in rows}


def _contact_gets_company_and_deal(ws: Workspace) -> None:
    run(
        ws,
        ev("record", "2026-11-01T09:30:00Z", object="contact", external_id="p-1",
           associations=[{"object": "company", "external_id": "a-1"}]),
        _deal("d-1", "2026-11-01T09:40:00Z", contact="p-1"),
    )  # fmt: skip


@pytest.mark.parametrize("first", ["cdr:8850", "19150"], ids=["record first", "call first"])
def test_the_removed_activity_s_links_and_reasons_move_to_the_one_that_stays(
    workspace: Workspace, first: str
) -> None:
    """The first id's activity is on the contact alone (it had no company or deal yet); the
    second id's, made after the contact got both, is on the contact, its primary company and
    its open deal by the association rules. Joined, the one activity is on all three, with
    the rules' reasons; the join is counted once, and not again for later updates of either
    id, the activity removed and made anew, or the same events ingested again."""
    setup(workspace)
    second = "19150" if first == "cdr:8850" else "cdr:8850"
    run(workspace, contact("p-1", at="2026-11-01T08:00:00Z"))
    pieces = [_piece(first, "2026-11-01T10:01:00Z", associations=P1)]
    assert run(workspace, *pieces).activities["created"] == 1
    _contact_gets_company_and_deal(workspace)
    pieces.append(_piece(second, "2026-11-01T10:02:00Z", associations=P1))
    pieces.append(_logged())
    counts = [run(workspace, p).activities for p in pieces[1:]]
    assert [c["merged"] for c in counts] == [0, 1]
    kept, links = _links(workspace)
    p = workspace.find(external="dialer:p-1")[0]["id"]
    assert links == {
        "p-1": ("event", None),
        "a-1": ("auto", COMPANY.format(p=p)),
        "d-1": ("auto", DEAL.format(p=p)),
    }
    merged = 0
    # Later updates of either id: the pair is one already.
    for external_id, at in (("cdr:8850", "10:21"), ("19150", "10:22"), ("cdr:8850", "10:23")):
        merged += run(workspace, _piece(external_id, f"2026-11-01T{at}:00Z")).activities["merged"]
    # The same events again (a redelivery, a replay of the file).
    merged += run(workspace, *pieces).activities["merged"]
    again = [{**p, "id": f"{p['id']}-again"} for p in pieces]
    merged += run(workspace, *again).activities["merged"]
    assert merged == 0
    assert _links(workspace) == (kept, links)
    # Removed by a short update of one id, then made anew by a long one of the other: the
    # pair was joined before, so it is not counted again.
    short = _piece("19150", "2026-11-01T11:00:00Z")
    short["properties"]["duration_s"] = 2
    assert run(workspace, short).activities["skipped"] == 1
    done = run(workspace, _piece("cdr:8850", "2026-11-01T11:01:00Z")).activities
    assert (done["created"], done["merged"]) == (1, 0)


def test_a_skip_the_removed_activity_resolved_names_the_one_that_stays(
    workspace: Workspace,
) -> None:
    """The record's first event is skipped (too short), a later one creates it after all
    (the skip resolved with its activity), then it is joined into the call's activity made
    before it: the skip names the activity that stays."""
    setup(workspace)
    run(workspace, contact("p-1", at="2026-11-01T08:00:00Z"))
    run(workspace, _piece("19150", "2026-11-01T10:01:00Z", associations=P1))
    short = _piece("cdr:8850", "2026-11-01T10:02:00Z", associations=P1)
    short["properties"]["duration_s"] = 2
    run(workspace, short)
    run(workspace, _piece("cdr:8850", "2026-11-01T10:03:00Z"))
    run(workspace, _logged())
    kept, _ = _links(workspace)
    with workspace.engine.connect() as c:
        resolved = c.execute(sa.select(activity_skips.c.activity_id)).scalars().all()
    assert resolved == [kept]


def _with_phone(ws: Workspace) -> None:
    """The dialer and a phone tool that logs the same calls (dedupe)."""
    config = workspace_config({"dialer": settings(), "phone": settings()})
    doc = config.model_dump(mode="json", exclude_defaults=True)
    doc["dedupe"] = [{"activity": "call", "integrations": ["dialer", "phone"]}]
    ws.apply_config(load_config(json.dumps(doc), "test.yaml"))


def test_another_tool_s_call_merged_into_the_removed_activity_moves_and_is_counted_once(
    workspace: Workspace,
) -> None:
    """The phone tool's log of the call merges into the record's activity (dedupe); the
    record's activity is then joined into the call's: the phone's log follows it, the two
    joins are counted once each, and the report lists the pair of tools once."""
    _with_phone(workspace)
    run(workspace, contact("p-1", at="2026-11-01T08:00:00Z"))
    counts = [
        run(workspace, _piece("19150", "2026-11-01T10:01:00Z", associations=P1)),
        run(workspace, _piece("cdr:8850", "2026-11-01T10:03:00Z", "2026-11-01T10:03:00Z",
                              associations=P1)),
        run(workspace, _piece("ph-1", "2026-11-01T10:03:30Z", "2026-11-01T10:03:30Z",
                              associations=P1), integration="phone"),
        run(workspace, _logged()),
        run(workspace, _piece("ph-1", "2026-11-01T10:25:00Z", "2026-11-01T10:03:30Z"),
            integration="phone"),
    ]  # fmt: skip
    assert [c.activities["merged"] for c in counts] == [0, 0, 1, 1, 0]
    [call] = workspace.activities()
    assert {(m["integration"], m["external_id"]) for m in call["merged_from"]} == {
        ("dialer", "cdr:8850"),
        ("phone", "ph-1"),
    }
    findings = {f.check: f for f in workspace.report("2026-10-01T00:00:00.000Z").findings}
    assert findings["activities_merged"].rows == [
        {"first": "dialer", "merged": "phone", "type": "call", "activities": 1}
    ]
