"""An activity's events merged by the vendor's clock: any arrival order gives the same activity,
and what an early event (even a draft that creates nothing) said is remembered for the later
ones that name less."""

from __future__ import annotations

import copy
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.model import ActivityType as A
from leadsync.model import Event, EventType, ExternalUserRef, RecordRef, RecordType
from leadsync.rules import activity_memory
from leadsync.settings import load_config
from leadsync.store.schema import activities, activity_associations
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, ev, run, setup
from tests.helpers import settings as integration_settings

TIMES = ["2026-11-01T09:00:00.000Z", "2026-11-01T09:05:00.000Z", "2026-11-01T09:10:00.000Z"]


# ----------------------------------------------------------------------- the pure merge

_values = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]), st.integers(0, 3))
_props = st.dictionaries(st.sampled_from(["outcome", "body", "title", "x"]), _values, max_size=3)
_refs = st.lists(
    st.builds(
        RecordRef,
        st.just(RecordType.CONTACT),
        st.sampled_from(["p-1", "p-2", None]),
        st.sampled_from([None, "kim@globex.test"]),
    ),
    max_size=2,
)


@st.composite
def _events(draw: st.DrawFn) -> list[Event]:
    n = draw(st.integers(1, 5))
    out = []
    for i in range(n):
        out.append(
            Event(
                id=f"e{i}",
                integration="dialer",
                type=EventType.ACTIVITY,
                occurred_at=draw(st.sampled_from(TIMES)),
                activity=A.CALL,
                external_id="c-1",
                properties=draw(_props),
                owner=draw(st.sampled_from([None, ExternalUserRef("u-1"), ExternalUserRef("u-9")])),
                associations=tuple(draw(_refs)),
                changed_at=draw(st.sampled_from([None, *TIMES])),
                draft=draw(st.booleans()),
            )
        )
    return out


def _fold(events: list[Event]) -> dict[str, Any]:
    memory = None
    for event in events:
        memory = activity_memory.merge(memory, event)
    assert memory is not None
    return memory


@given(_events(), st.randoms(use_true_random=False))
def test_any_order_of_one_activitys_events_gives_the_same_memory(
    events: list[Event], rnd: Any
) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert _fold(shuffled) == _fold(events)
    # Idempotent: a redelivered event changes nothing.
    assert _fold([*events, *events]) == _fold(events)


def test_the_latest_change_by_the_vendors_clock_wins_and_ties_go_to_the_greater_id() -> None:
    def call(eid: str, changed: str, **props: Any) -> Event:
        return Event(
            eid, "dialer", EventType.ACTIVITY, TIMES[0], activity=A.CALL, external_id="c-1",
            properties=props, changed_at=changed,
        )  # fmt: skip

    early, late = call("e1", TIMES[0], outcome="busy"), call("e2", TIMES[1], outcome="connected")
    for order in ([early, late], [late, early]):
        assert activity_memory.effective_event(_fold(order), early).properties == {
            "outcome": "connected"
        }
    tie_a, tie_b = call("e-a", TIMES[1], body="x"), call("e-b", TIMES[1], body="y")
    for order in itertools.permutations([tie_a, tie_b]):
        assert activity_memory.effective_event(_fold(list(order)), tie_a).properties == {
            "body": "y"
        }


# ------------------------------------------------------------------- through the engine


def _activity(ws: Workspace) -> dict[str, Any] | None:
    with ws.engine.connect() as c:
        rows = [dict(r._mapping) for r in c.execute(sa.select(activities))]
        links = sorted(int(r) for (r,) in c.execute(sa.select(activity_associations.c.record_id)))
    assert len(rows) <= 1, rows
    if not rows:
        return None
    row = rows[0]
    row.pop("id")
    row["links"] = links
    return row


def _meeting_events() -> list[dict[str, Any]]:
    """A booking: created (scheduled, with the invitee), canceled later by the vendor's
    clock, and an update in between that names nothing but the meeting."""
    base = {"activity": "meeting", "external_id": "m-1"}
    return [
        ev(
            "activity",
            "2026-11-03T15:00:00Z",
            **base,
            owner="u-1",
            changed_at="2026-11-01T09:00:00Z",
            properties={"outcome": "scheduled", "title": "Intro"},
            associations=[{"object": "contact", "email": "kim@globex.test"}],
        ),
        ev(
            "activity",
            "2026-11-03T15:00:00Z",
            **base,
            changed_at="2026-11-01T09:30:00Z",
            properties={"body": "agenda"},
        ),
        ev(
            "activity",
            "2026-11-03T15:00:00Z",
            **base,
            changed_at="2026-11-01T10:00:00Z",
            properties={"outcome": "canceled"},
        ),
    ]


def _fresh(template: Path, path: Path) -> Workspace:
    """A new SQLite workspace at ``path``: the migrated template copied, then set up."""
    shutil.copyfile(template, path)
    ws = Workspace(f"sqlite:///{path}")
    setup(ws)
    return ws


def test_a_cancellation_that_arrives_before_its_booking_stays_canceled(
    tmp_path: Path, sqlite_template: Path
) -> None:
    results = []
    for n, order in enumerate(itertools.permutations(_meeting_events())):
        with _fresh(sqlite_template, tmp_path / f"o{n}.db") as ws:
            for event in order:  # one batch each: the arrival order is the order
                assert run(ws, event).ok
            results.append(_activity(ws))
    first = results[0]
    assert first is not None
    assert first["outcome"] == "canceled"
    assert first["title"] == "Intro" and first["body"] == "agenda"
    assert first["owner_id"] == "101" and first["links"]  # the invitee (and its company)
    assert all(r == first for r in results), results


def test_a_delivered_update_naming_nothing_lands_where_its_draft_said(db_url: str) -> None:
    with Workspace(db_url) as ws:
        setup(ws, activities={"email": True})
        base = {"activity": "email", "external_id": "mail-7"}
        draft = ev(
            "activity",
            "2026-11-01T09:00:00Z",
            **base,
            owner="u-1",
            draft=True,
            properties={"subject": "Hello", "direction": "outbound"},
            associations=[{"object": "contact", "external_id": "p-1"}],
        )
        assert run(ws, draft).ok
        assert _activity(ws) is None  # a draft creates nothing
        delivered = ev(
            "activity", "2026-11-01T09:20:00Z", **base, properties={"status": "delivered"}
        )
        assert run(ws, delivered).ok
        made = _activity(ws)
        assert made is not None
        assert (made["owner_id"], made["subject"]) == ("101", "Hello")
        assert made["links"]  # on the prospect's timeline
        assert made["occurred_at"] == "2026-11-01T09:20:00.000Z"  # sent, not drafted


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.permutations(range(4)), st.permutations(range(4)))
def test_any_arrival_order_gives_the_same_activity(
    tmp_path_factory: Any, sqlite_template: Path, first: list[int], second: list[int]
) -> None:
    events = _meeting_events()
    events.append(
        ev(
            "activity",
            "2026-11-03T15:00:00Z",
            activity="meeting",
            external_id="m-1",
            changed_at="2026-11-01T09:30:00Z",  # the same time as the body's update: a tie
            properties={"body": "new agenda"},
        )
    )
    outcomes = []
    for order in (first, second):
        with _fresh(sqlite_template, tmp_path_factory.mktemp("order") / "ws.db") as ws:
            for i in order:
                assert run(ws, events[i]).ok
            outcomes.append(_activity(ws))
    assert outcomes[0] == outcomes[1]


def test_an_outreach_mailing_delivered_after_its_draft_is_on_the_prospects_timeline(
    db_url: str,
) -> None:
    """Outreach's ``mailing.updated`` carries only what changed: the delivered update names
    neither prospect nor rep; the drafted ``mailing.created`` before it did."""
    outreach = settings_for_outreach()
    with Workspace(db_url) as ws:
        ws.apply_config(outreach)
        drafted = {
            "data": {
                "type": "mailing",
                "id": 3001,
                "attributes": {
                    "subject": "Quick question",
                    "state": "drafted",
                    "createdAt": "2026-11-04T07:00:00.000Z",
                    "updatedAt": "2026-11-04T07:00:00.000Z",
                },
                "relationships": {
                    "prospect": {"data": {"type": "prospect", "id": 1001}},
                    "user": {"data": {"type": "user", "id": 9}},
                },
            },
            "meta": {"eventName": "mailing.created", "deliveredAt": "2026-11-04T07:00:01.000"},
        }
        delivered = {
            "data": {
                "type": "mailing",
                "id": 3001,
                "attributes": {
                    "state": "delivered",
                    "deliveredAt": "2026-11-04T08:00:00.000Z",
                    "updatedAt": "2026-11-04T08:00:00.000Z",
                },
            },
            "meta": {"eventName": "mailing.updated", "deliveredAt": "2026-11-04T08:00:01.000"},
        }
        # The delivered update first (a retry reordered them), then the draft: same result.
        for body in (delivered, drafted):
            summary = ws.ingest("seq", [json.dumps(body)], source="outreach.jsonl")
            assert summary.ok, summary
        made = _activity(ws)
        assert made is not None
        assert (made["type"], made["subject"], made["owner_id"]) == (
            "email",
            "Quick question",
            "102",
        )
        assert made["occurred_at"] == "2026-11-04T08:00:00.000Z"  # delivered, not drafted
        assert len(made["links"]) == 1  # prospect 1001


def settings_for_outreach() -> Any:
    doc = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {
            "seq": {
                **integration_settings(
                    activities={"email": True},
                    users={"auto_match": "none", "map": {"9": "102"}},
                ),
                "kind": "outreach",
            }
        },
    }
    return load_config(json.dumps(doc), "outreach.yaml")
