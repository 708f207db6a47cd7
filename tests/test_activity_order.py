"""An activity's events merged by the vendor's clock: any arrival order gives the same activity,
what an early event (even a draft that creates nothing) said is remembered for the later
ones that name less, and lists given at the same time (Aircall's comments and tags of one
second) are joined, nothing lost."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import operator
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.model import ActivityType as A
from leadsync.model import Event, EventType, ExternalUserRef, RecordRef, RecordType
from leadsync.rules import activity_memory
from leadsync.settings import load_config
from leadsync.store.schema import activities, activity_associations
from leadsync.workspace import Workspace
from tests.helpers import OWNERS, ev, run, setup, workspace_config
from tests.helpers import settings as integration_settings

TIMES = ["2026-11-01T09:00:00.000Z", "2026-11-01T09:05:00.000Z", "2026-11-01T09:10:00.000Z"]


# ----------------------------------------------------------------------- the pure merge

COMMENTS = ["first note", "second note", "third note"]
# A list a tool sends whole each time: a call's comments so far (it grows), or any list (a
# tag removed, another edit).
_lists = st.one_of(
    st.integers(0, len(COMMENTS)).map(lambda n: COMMENTS[:n]),
    st.lists(st.sampled_from(COMMENTS), max_size=3),
)
_values = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]), st.integers(0, 3), _lists)
_props = st.builds(
    lambda props, lists: {**props, **lists},
    st.dictionaries(st.sampled_from(["outcome", "body", "title", "x"]), _values, max_size=3),
    st.fixed_dictionaries({}, optional={"comments": _lists}),
)
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
    # At the latest time a property was given: the greatest id's value, and when that is a
    # list, every list given then is in it (nothing an event said is lost) and nothing else.
    merged = activity_memory.effective_event(_fold(events), events[0]).properties
    for key, value in merged.items():
        given = [
            (e.changed_at or e.occurred_at, e.id, e.properties[key])
            for e in events
            if key in e.properties
        ]
        latest = [(eid, v) for at, eid, v in given if at == max(g[0] for g in given)]
        winner = max(latest)[1]
        if not isinstance(winner, list):
            assert value == winner
            continue
        lists = [Counter(v) for _, v in latest if isinstance(v, list)]
        assert all(said <= Counter(value) for said in lists)
        assert Counter(value) == functools.reduce(operator.or_, lists)


@given(_events(), st.data())
def test_the_memories_of_an_activitys_ids_join_into_the_memory_of_all_their_events(
    events: list[Event], data: st.DataObject
) -> None:
    """One activity a tool names by two ids (a call's record before it is logged to the
    call): whichever id each event came under, the joined memories are the memory of all."""
    under = data.draw(st.lists(st.booleans(), min_size=len(events), max_size=len(events)))
    parts = [[e for e, first in zip(events, under, strict=True) if first is side] for side in (
        True, False)]  # fmt: skip
    memories = [_fold(part) for part in parts if part]
    whole = _fold(events)
    assert activity_memory.join(memories) == whole
    assert activity_memory.join(memories[::-1]) == whole
    # A link alone (an alias no event came under yet) adds nothing but the link.
    linked = activity_memory.link(None, "c-1")
    assert not activity_memory.heard(linked)
    assert activity_memory.join([*memories, linked]) == {**whole, "aka": ["c-1"]}
    group = {("dialer", "call", "c-1"): whole, ("dialer", "call", "rec-1"): linked}
    assert activity_memory.group(group, ("dialer", "call", "rec-1")) == sorted(group)


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


@pytest.mark.parametrize(
    ("first", "second", "merged"),
    [
        # Aircall: one call.commented per comment, each with the call's whole list so far.
        (["first note"], ["first note", "second note"], ["first note", "second note"]),
        (["a", "b"], ["a", "c"], ["a", "b", "c"]),  # neither holds the other: shared prefix
        (["a", "c", "d"], ["a", "b"], ["a", "c", "d", "b"]),  # the longer as it is first
        (["a", "a"], ["a"], ["a", "a"]),  # the same comment twice is two comments
        (["b", "a"], ["a", "b"], ["a", "b"]),  # reordered: the first in order
        ([], ["a"], ["a"]),
    ],
)
def test_lists_given_at_the_same_time_are_joined_whatever_the_ids(
    first: list[str], second: list[str], merged: list[str]
) -> None:
    def call(eid: str, changed: str, values: list[str]) -> Event:
        return Event(
            eid, "dialer", EventType.ACTIVITY, TIMES[0], activity=A.CALL, external_id="c-1",
            properties={"comments": values}, changed_at=changed,
        )  # fmt: skip

    for ids in (("e-a", "e-b"), ("e-b", "e-a")):  # either one's id the greater
        events = [call(ids[0], TIMES[1], first), call(ids[1], TIMES[1], second)]
        for order in (events, events[::-1]):
            memory = _fold(order)
            assert activity_memory.effective_event(memory, events[0]).properties == {
                "comments": merged
            }
        # A later change by the vendor's clock still replaces the list (a tag removed).
        later = call("e-0", TIMES[2], ["z"])
        for order in itertools.permutations([*events, later]):
            memory = _fold(list(order))
            assert activity_memory.effective_event(memory, later).properties == {"comments": ["z"]}


def test_a_value_that_is_not_a_list_keeps_the_greater_ids_rule_at_the_same_time() -> None:
    def call(eid: str, value: Any) -> Event:
        return Event(
            eid, "dialer", EventType.ACTIVITY, TIMES[0], activity=A.CALL, external_id="c-1",
            properties={"comments": value}, changed_at=TIMES[1],
        )  # fmt: skip

    listed, cleared, other = call("e-a", ["a"]), call("e-b", None), call("e-c", ["b"])
    for order in itertools.permutations([listed, cleared]):
        assert activity_memory.effective_event(_fold(list(order)), listed).properties == {
            "comments": None
        }
    # The greatest id gives a list again: every list given at that time, joined.
    for order in itertools.permutations([listed, cleared, other]):
        assert activity_memory.effective_event(_fold(list(order)), listed).properties == {
            "comments": ["a", "b"]
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


AIRCALL = Path(__file__).parent / "fixtures" / "webhooks" / "aircall"


@st.composite
def _aircall_same_second(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """An agent commenting and tagging one call within one second: Aircall's
    ``call.commented`` / ``call.tagged`` bodies, each with the call's whole ``comments`` and
    ``tags`` so far, all with the same ``timestamp``; and the comments and tags made."""
    base = json.loads((AIRCALL / "call.commented.json").read_text())["body"]
    comments: list[dict[str, Any]] = []
    tags: list[dict[str, Any]] = []
    bodies = []
    for n, action in enumerate(
        draw(st.lists(st.sampled_from(["comment", "tag"]), min_size=2, max_size=4))
    ):
        if action == "comment":
            comments.append({"id": n, "content": f"note {n}", "posted_at": base["timestamp"]})
        else:
            tags.append({"id": n, "name": f"tag {n}"})
        body = copy.deepcopy(base)
        body["event"] = {"comment": "call.commented", "tag": "call.tagged"}[action]
        body["data"]["comments"], body["data"]["tags"] = list(comments), list(tags)
        bodies.append(body)
    return bodies, [c["content"] for c in comments], [t["name"] for t in tags]


def _aircall_workspace(template: Path, path: Path) -> Workspace:
    shutil.copyfile(template, path)
    ws = Workspace(f"sqlite:///{path}")
    ws.apply_config(workspace_config({"phone": integration_settings(kind="aircall")}))
    return ws


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(_aircall_same_second(), st.randoms(use_true_random=False), st.sets(st.integers(1, 3)))
def test_comments_and_tags_of_one_second_are_all_kept_in_any_arrival_order_and_batches(
    tmp_path_factory: Any,
    sqlite_template: Path,
    made: tuple[list[dict[str, Any]], list[str], list[str]],
    rnd: Any,
    cuts: set[int],
) -> None:
    """Same second, same call: the events' ids (their content hashes) give no order, so
    the tie of their ``comments`` and ``tags`` is a union — the longest list here."""
    bodies, comments, tags = made
    arrived = list(bodies)
    rnd.shuffle(arrived)
    edges = [0, *sorted(c for c in cuts if c < len(arrived)), len(arrived)]
    outcomes = []
    for batches in ([bodies], [arrived[a:b] for a, b in itertools.pairwise(edges)]):
        with _aircall_workspace(
            sqlite_template, tmp_path_factory.mktemp("aircall") / "ws.db"
        ) as ws:
            for batch in batches:  # one ingest each: one batch each
                summary = ws.ingest("phone", [json.dumps(b) for b in batch], "aircall.jsonl")
                assert summary.ok, summary
            outcomes.append(_activity(ws))
            [call] = ws.activities()
            assert call["properties"].get("comments") == (comments or None)
            assert call["properties"].get("tags") == (tags or None)
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
