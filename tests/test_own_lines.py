"""Calls between the company's own lines are internal calls, not unknown numbers: a call whose
other party is one of the company's lines (declared in ``own_numbers``, or named by the tool:
a ``line`` event, a call's ``line_number``) is on no contact or lead, never held, asked about
or made a contact of, and says so; a call that waited for a number learned later to be a line
ends as if the line had been known first, whatever the order and the cut into batches."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from leadsync.errors import EventError, UserError
from leadsync.ops.settings_change import yaml_text
from leadsync.settings import load_config
from leadsync.sources.canonical import parse_event
from leadsync.store.schema import held_activities, internal_activities, own_lines, records
from leadsync.workspace import Workspace
from tests.helpers import ev, reset_database, run, workspace_config
from tests.helpers import settings as integration_settings

AT = "2026-11-01T10:00:00Z"
LINE_A = "+44 113 000 0000"  # the rep's line, the calls are made from
LINE_B = "+44 20 7946 0100"  # another of the company's lines: a transfer, a colleague
B = "+442079460100"
CUSTOMER = "+44 7700 900123"
DECLARED_REASON = (
    f"internal call: {B} is one of the company's own numbers (dialer's own_numbers), so no "
    "contact or lead is looked for by it (not held, no question, no contact made)"
)
LEARNED_REASON = (
    f"internal call: {B} is one of the company's lines (learned from dialer's events), so no "
    "contact or lead is looked for by it (not held, no question, no contact made)"
)


def _setup(ws: Workspace, **dialer: Any) -> None:
    ws.apply_config(
        workspace_config(
            {
                "dialer": integration_settings(region="GB", **dialer),
                "crm": integration_settings(region="GB"),
            }
        )
    )


def _call(ext: str, to: str, at: str = AT, **properties: Any) -> dict[str, Any]:
    """An outbound call from the rep's line to ``to`` (properties added or replaced)."""
    return ev(
        "activity",
        at,
        activity="call",
        external_id=ext,
        owner="u-1",
        properties={
            "duration_s": 60,
            "outcome": "connected",
            "direction": "outbound",
            "from_number": LINE_A,
            "to_number": to,
            **properties,
        },
    )


def _line(number: str = LINE_B, at: str = AT, name: str | None = "Sales desk") -> dict[str, Any]:
    properties = {"number": number} | ({"name": name} if name else {})
    return ev("line", at, external_id="line-7", properties=properties)


def _contact(ext: str, phone: str, at: str = AT) -> dict[str, Any]:
    return ev(
        "record",
        at,
        object="contact",
        external_id=ext,
        properties={"email": f"{ext}@globex.test", "phone": phone},
    )


def _calls(ws: Workspace) -> dict[str, dict[str, Any]]:
    return {a["external_id"]: a for a in ws.activities(integration="dialer", limit=100)}


def _held(ws: Workspace) -> list[tuple[int, str]]:
    with ws.engine.connect() as c:
        rows = c.execute(sa.select(held_activities.c.activity_id, held_activities.c.number))
        return sorted((int(a), n) for a, n in rows)


def _contacts(ws: Workspace) -> int:
    with ws.engine.connect() as c:
        return int(c.execute(sa.select(sa.func.count()).select_from(records)).scalar_one())


def _end_state(ws: Workspace) -> dict[str, Any]:
    """What an admin sees of the calls, by external id (ids aside): the records each is on,
    held for what, why internal, open questions; every question's status and outcome; the
    lines learned; how many records."""
    calls = {
        key: (
            [(r["type"], r["source"]) for r in a["records"]],
            a["held"] and a["held"]["numbers"],
            a["internal"],
            [q["kind"] for q in a["questions"]],
        )
        for key, a in _calls(ws).items()
    }
    questions = sorted((i.kind, i.status, i.outcome) for i in ws.review_items(status=None).items)
    with ws.engine.connect() as c:
        lines = sorted(
            tuple(r) for r in c.execute(sa.select(own_lines.c.integration, own_lines.c.number))
        )
    return {"calls": calls, "questions": questions, "lines": lines, "records": _contacts(ws)}


def _cut(events: Sequence[dict[str, Any]], cut: str) -> list[Sequence[dict[str, Any]]]:
    """The events as batches: all in one, one each, or the first alone and the rest."""
    return {
        "one batch": [events],
        "one event a batch": [[e] for e in events],
        "the first alone": [events[:1], events[1:]],
    }[cut]


# ------------------------------------------------------------------ declared numbers


@pytest.mark.parametrize("policy", ["hold", "create"])
def test_a_call_to_a_declared_own_number_is_internal_not_held_matched_or_made_a_contact(
    workspace: Workspace, policy: str
) -> None:
    """Even a contact that has the number (a colleague kept as a contact) does not get the
    call: the number is the company's own."""
    _setup(workspace, own_numbers=["020 7946 0100"], unknown_counterpart={"policy": policy})
    run(workspace, _contact("colleague", LINE_B), integration="crm")
    summary = run(workspace, _call("c1", LINE_B))
    assert summary.applied.internal == 1
    assert summary.counterparts["internal"] == 1
    assert (summary.applied.held, summary.applied.matched_by_number) == (0, 0)
    [call] = _calls(workspace).values()
    assert call["records"] == [] and call["held"] is None and call["questions"] == []
    assert call["internal"] == DECLARED_REASON
    assert _held(workspace) == [] and _contacts(workspace) == 1  # the colleague only
    assert workspace.review_items().items == []


def test_under_skip_an_internal_call_is_skipped_in_those_words(workspace: Workspace) -> None:
    _setup(workspace, own_numbers=[LINE_B], unknown_counterpart={"policy": "skip"})
    summary = run(workspace, _call("c1", LINE_B))
    assert summary.applied.activities_skipped == 1 and _calls(workspace) == {}
    [skip] = workspace.skipped_activities()
    assert skip["reason"] == (
        f"call c1 is an internal call: {B} is one of the company's own numbers (dialer's "
        "own_numbers); it is on no contact or lead (unknown_counterpart: skip)"
    )


@pytest.mark.parametrize("fails", ["away", "defect"])
def test_a_settling_that_fails_after_the_save_is_logged_as_what_it_is(
    workspace: Workspace,
    fails: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The save stands and the call keeps waiting; the database away is one warning line,
    a defect of ours is logged with its traceback (observability.log_failure), never a
    warning line that hides it."""
    import leadsync.ops.line_settle as line_settle

    _setup(workspace, unknown_counterpart={"hold_days": 365})
    run(workspace, _call("c1", LINE_B))

    def failing(*_: Any) -> int:
        if fails == "away":
            raise sa.exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("locked"))
        raise ValueError("a bug")

    monkeypatch.setattr(line_settle, "settle_declared_lines", failing)
    with caplog.at_level("WARNING", logger="leadsync.review"):
        _setup(workspace, unknown_counterpart={"hold_days": 365}, own_numbers=[LINE_B])
    assert workspace.integration("dialer").own_numbers  # the save stands
    assert len(_held(workspace)) == 1  # the call keeps waiting
    [line] = [r for r in caplog.records if r.name == "leadsync.review"]
    if fails == "away":
        assert (line.levelname, line.exc_info) == ("WARNING", None)
        assert line.getMessage() == (
            "calls waiting for a declared own number not settled after a settings change "
            "(database unavailable (OperationalError)); they stay as they are"
        )
    else:
        assert line.levelname == "ERROR" and line.exc_info is not None
        assert line.exc_info[0] is ValueError


def test_declaring_an_own_number_settles_the_calls_that_waited_for_it(
    workspace: Workspace,
) -> None:
    """A call held for the number, another whose hold ended into the review queue: once
    the admin declares the number, both are internal calls, the question closed with why."""
    _setup(workspace, unknown_counterpart={"hold_days": 365})
    run(workspace, _call("c1", LINE_B), _call("c2", LINE_B, at="2025-10-01T10:00:00Z"))
    assert workspace.expire_holds(now="2026-10-02T00:00:00Z") == 1
    [question] = workspace.review_items().items
    _setup(workspace, unknown_counterpart={"hold_days": 365}, own_numbers=[LINE_B])
    calls = _calls(workspace)
    assert {key: c["internal"] for key, c in calls.items()} == {
        "c1": DECLARED_REASON,
        "c2": DECLARED_REASON,
    }
    assert _held(workspace) == [] and workspace.review_items().items == []
    closed = workspace.review_item(question.id)
    assert (closed.status, closed.outcome, closed.closed_by) == (
        "resolved",
        DECLARED_REASON,
        "leadsync",
    )


def test_an_own_number_taken_back_gives_back_the_calls_it_made_internal(
    workspace: Workspace,
) -> None:
    """The admin declares a number by mistake, then removes it: the calls it made internal
    stayed internal — on no timeline, held nowhere, asked of nobody: lost. They are looked
    for again as calls to that number: held (the recent one), asked about (the one whose
    hold ended), and on the contact that gets the number."""
    _setup(workspace, unknown_counterpart={"hold_days": 365})
    recent = "2026-12-01T10:00:00Z"
    run(workspace, _call("c1", LINE_B, at=recent), _call("c2", LINE_B, at="2025-10-01T10:00:00Z"))
    _setup(workspace, unknown_counterpart={"hold_days": 365}, own_numbers=[LINE_B])
    assert {key: c["internal"] for key, c in _calls(workspace).items()} == {
        "c1": DECLARED_REASON,
        "c2": DECLARED_REASON,
    }
    _setup(workspace, unknown_counterpart={"hold_days": 365})  # taken back
    calls = _calls(workspace)
    assert [calls[k]["internal"] for k in ("c1", "c2")] == [None, None]
    assert sorted(n for _a, n in _held(workspace)) == [B, B]
    assert workspace.expire_holds(now="2026-12-07T00:00:00Z") == 1  # c2's hold had ended
    [question] = workspace.review_items().items
    assert question.subject == B
    run(workspace, _contact("p-1", LINE_B, at="2026-12-02T09:00:00Z"), integration="crm")
    [contact] = workspace.find(external="crm:p-1")
    timeline = workspace.record("contact", contact["id"])["timeline"]
    assert "c1" in {a["external_id"] for a in timeline}


def test_own_numbers_are_phone_numbers_checked_at_their_key_and_exported() -> None:
    with pytest.raises(UserError) as err:
        workspace_config(
            {"dialer": integration_settings(region="GB", own_numbers=[LINE_B, "999", B, "n/a"])}
        )
    message = str(err.value)
    assert "integrations.dialer.own_numbers[1]: '999' does not read as a phone number in GB" in (
        message
    )
    assert f"own_numbers[2]: '{B}' is {B}, given already as own_numbers[0]" in message
    assert "own_numbers[3]: 'n/a' is not a phone number" in message
    with pytest.raises(UserError, match=r"own_numbers\[0\]: '020 7946 0100' does not read as a "
                       r"phone number without region:"):  # fmt: skip
        workspace_config({"dialer": integration_settings(own_numbers=["020 7946 0100"])})
    config = workspace_config({"dialer": integration_settings(own_numbers=[442079460100])})
    assert config.integrations["dialer"].own_numbers == ("442079460100",)  # YAML's number: text


def test_an_own_number_no_country_gives_out_is_taken_with_a_warning_at_its_line() -> None:
    """Read as a number (a UK number's length), but in no range the UK gives out: a country
    code written twice, a digit missing. Allowed — it is matched as read — and said."""
    text = (
        "owners: [{id: '101', email: ana@acme.test}]\n"
        "integrations:\n"
        "  dialer:\n"
        "    kind: generic\n"
        "    region: GB\n"
        "    own_numbers: [4420794601, +44 20 7946 0100]\n"
    )
    warnings: list[str] = []
    config = load_config(text, "lines.yaml", warnings)
    assert config.integrations["dialer"].own_numbers == ("4420794601", "+44 20 7946 0100")
    assert warnings == [
        "lines.yaml:6: integrations.dialer.own_numbers[0]: 4420794601 reads as +444420794601, "
        "a number no country gives out (a country code twice, or a digit missing?): calls to "
        "the real line are not taken as internal until it is corrected"
    ]


def test_own_numbers_come_back_in_the_export_as_written(workspace: Workspace) -> None:
    _setup(workspace, own_numbers=["020 7946 0100", "+44 113 000 0000"])
    exported = yaml_text(workspace.export_config())
    assert "own_numbers:\n    - 020 7946 0100\n    - +44 113 000 0000\n" in exported
    assert workspace.apply_config(load_config(exported, "export.yaml")).changed is False


def test_a_replay_under_declared_own_numbers_shows_the_held_calls_internal(
    workspace: Workspace,
) -> None:
    """The settings page's preview is a replay: declaring the number turns the call that
    was held for it into an internal call there, and the counts say so."""
    _setup(workspace)
    run(workspace, _call("c1", LINE_B))
    proposed = workspace.integration("dialer").model_copy(update={"own_numbers": (LINE_B,)})
    result = workspace.replay("dialer", proposed)
    assert result.counterparts["current"]["held"] == 1
    assert result.counterparts["current"]["internal"] == 0
    assert (
        result.counterparts["proposed"]["held"],
        result.counterparts["proposed"]["internal"],
    ) == (0, 1)
    assert result.changed


# ------------------------------------------------------------------ learned lines


@pytest.mark.parametrize("cut", ["one batch", "one event a batch", "the first alone"])
def test_a_line_learned_after_the_call_ends_as_if_learned_first(
    workspace: Workspace, cut: str
) -> None:
    """Every order of the line and the call's two events, in one batch or one event per
    batch, ends the same: the call internal, nothing held, no question, the line kept."""
    events = [_line(), _call("c1", LINE_B), _call("c1", LINE_B, at="2026-11-01T10:01:00Z")]
    ends = []
    for order in itertools.permutations(events):
        reset_database(workspace.engine)
        _setup(workspace)
        for batch in _cut(order, cut):
            run(workspace, *batch)
        ends.append(_end_state(workspace))
    assert all(end == ends[0] for end in ends), ends
    assert ends[0]["calls"] == {"c1": ([], None, LEARNED_REASON, [])}
    assert ends[0]["lines"] == [("dialer", B)] and ends[0]["questions"] == []


@pytest.mark.parametrize("cut", ["one batch", "one event a batch", "the first alone"])
def test_a_call_whose_later_event_names_its_contact_is_on_it_whatever_the_line_says(
    workspace: Workspace, cut: str
) -> None:
    """Two contacts have the number (a question), a later event of the call names one of
    them, and the number turns out to be a line: in every order, the call is on the contact
    its event named — a person named beats a number —, not an internal call; no question
    stays open."""
    later = _call("c1", LINE_B, at="2026-11-01T10:01:00Z")
    later["associations"] = [{"object": "contact", "external_id": "k1"}]
    events = [_line(), _call("c1", LINE_B), later]
    ends = []
    for order in itertools.permutations(events):
        reset_database(workspace.engine)
        _setup(workspace)
        run(workspace, _contact("k1", LINE_B), _contact("k2", LINE_B))
        for batch in _cut(order, cut):
            run(workspace, *batch)
        end = _end_state(workspace)
        ends.append(end["calls"])
        assert not [q for q in end["questions"] if q[1] == "open"], (order, end)
    assert all(end == ends[0] for end in ends), ends
    assert ends[0] == {"c1": ([("contact", "event")], None, None, [])}


def test_a_call_names_its_own_line_which_makes_a_call_to_it_internal(
    workspace: Workspace,
) -> None:
    """Aircall's shape: the transfer's outbound leg reaches line B before anything named B;
    the inbound leg, on line B, names it (``line_number``): the first leg is released from
    its hold as internal, and the second is internal at once (its caller is line A, which
    the first leg named)."""
    _setup(workspace)
    out = _call("leg-1", LINE_B, line_number=LINE_A)
    into = _call(
        "leg-2", LINE_B, direction="inbound", from_number=LINE_A, to_number=LINE_B,
        line_number=LINE_B,
    )  # fmt: skip
    first = run(workspace, out)
    assert first.applied.held == 1
    second = run(workspace, into)
    assert second.applied.internal == 2 and _held(workspace) == []
    calls = _calls(workspace)
    assert calls["leg-1"]["internal"] == (
        f"internal call: {B} is one of the company's lines (learned from dialer's events), so "
        "no contact or lead is looked for by it (not held, no question, no contact made)"
    )
    assert calls["leg-2"]["internal"].startswith("internal call: +441130000000 is one of")


def test_a_held_call_in_the_review_queue_is_closed_with_why_when_its_number_is_a_line(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _call("c1", LINE_B))
    assert workspace.expire_holds(now="2026-11-08T10:00:00Z") == 1
    [question] = workspace.review_items().items
    assert question.kind == "unknown"
    run(workspace, _line(at="2026-11-09T10:00:00Z"))
    closed = workspace.review_item(question.id)
    assert (closed.status, closed.outcome) == ("resolved", LEARNED_REASON)
    assert _held(workspace) == [] and _calls(workspace)["c1"]["internal"] == LEARNED_REASON


def test_a_number_several_records_have_asked_about_is_closed_when_it_is_a_line(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _contact("k1", LINE_B), _contact("k2", LINE_B), integration="crm")
    run(workspace, _call("c1", LINE_B))
    [question] = workspace.review_items().items
    assert question.kind == "number" and question.subject == B
    run(workspace, _line())
    assert workspace.review_items().items == []
    assert workspace.review_item(question.id).outcome == LEARNED_REASON
    assert _calls(workspace)["c1"]["internal"] == LEARNED_REASON


def test_of_two_numbers_without_a_direction_the_companys_line_is_the_reps_side(
    workspace: Workspace,
) -> None:
    """No direction: both ends are looked up. Held for either; once one end is known as a
    line, the call waits for the other only — and lands on its contact."""
    _setup(workspace)
    both = {"direction": None, "from_number": LINE_B, "to_number": CUSTOMER}
    run(workspace, _call("c1", CUSTOMER, **both))
    assert [n for _, n in _held(workspace)] == [B, "+447700900123"]
    run(workspace, _line())
    assert [n for _, n in _held(workspace)] == ["+447700900123"]
    assert _calls(workspace)["c1"]["internal"] is None
    run(workspace, _contact("k1", CUSTOMER), integration="crm")
    [link] = _calls(workspace)["c1"]["records"]
    assert (link["type"], link["source"]) == ("contact", "held")


def test_another_integrations_line_is_a_number_like_any_other(workspace: Workspace) -> None:
    _setup(workspace)
    run(workspace, _line(), integration="crm")
    run(workspace, _call("c1", LINE_B))
    assert _calls(workspace)["c1"]["internal"] is None and len(_held(workspace)) == 1


@pytest.mark.parametrize("order", ["line first", "call first"])
def test_under_create_a_contact_made_before_the_line_was_known_stays_and_is_marked(
    workspace: Workspace, order: str
) -> None:
    """What cannot be undone: ``create`` made a contact for the number before it was known
    to be a line (it may be in HubSpot already). It stays, with the call it got; the report
    says the number is the company's line; calls to it after that are internal. Known
    first, no contact is made."""
    _setup(workspace, unknown_counterpart={"policy": "create"})
    events = [_line(), _call("c1", LINE_B)]
    run(workspace, *(events if order == "line first" else events[::-1]))
    run(workspace, _call("c2", LINE_B, at="2026-11-02T10:00:00Z"))
    calls = _calls(workspace)
    assert calls["c2"]["internal"] == LEARNED_REASON and calls["c2"]["records"] == []
    report = workspace.report("2026-10-01T00:00:00Z", now="2026-11-03T00:00:00Z")
    [created] = [f for f in report.findings if f.check == "unknown_number_contacts"]
    if order == "line first":
        assert _contacts(workspace) == 0 and calls["c1"]["internal"] == LEARNED_REASON
        assert created.rows == []
        return
    assert _contacts(workspace) == 1 and [r["type"] for r in calls["c1"]["records"]] == ["contact"]
    [row] = created.rows
    assert row["own_line"] == (
        f"{B} is one of the company's lines (learned from its events after this contact was "
        "made): no customer; calls to it are internal now and no longer land here"
    )


def test_a_later_event_that_names_the_contact_ends_the_internal_call(
    workspace: Workspace,
) -> None:
    _setup(workspace, own_numbers=[LINE_B])
    run(workspace, _call("c1", LINE_B))
    later = _call("c1", LINE_B, at="2026-11-01T10:05:00Z")
    later["associations"] = [{"object": "contact", "external_id": "k1"}]
    run(workspace, _contact("k1", CUSTOMER), later)
    [call] = _calls(workspace).values()
    assert call["internal"] is None and [r["type"] for r in call["records"]] == ["contact"]
    with workspace.engine.connect() as c:
        assert c.execute(sa.select(internal_activities)).all() == []


def test_a_line_named_again_changes_nothing_and_an_unreadable_one_is_not_learned(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    preview = workspace.preview(
        "dialer",
        [json.dumps(_line()), json.dumps(_line(name="Other name")), json.dumps(_line("0800"))],
        "lines.jsonl",
    )
    first, again, unreadable = (e.counterpart for e in preview.events)
    assert first == (
        f"{B} ('Sales desk') is one of the company's lines (learned from dialer's events): a "
        "call to it is an internal call"
    )
    assert again is not None and again.startswith(f"{B} is one of the company's lines")
    assert again.endswith("already")
    assert unreadable is not None and "'0800' does not read as a phone number" in unreadable
    summary = run(workspace, _line(), _line(name="Other name"), _line("0800"))
    with workspace.engine.connect() as c:
        [row] = c.execute(sa.select(own_lines)).all()
    assert (row.number, row.name, row.line_id) == (B, "Sales desk", "line-7")
    # `ingest` says so: it said "applied 3 events" and nothing of the line not learned.
    assert summary.applied.lines_unread == 1 and summary.lines_unread == 1


def test_a_preview_says_the_call_is_internal_and_what_the_line_settled(
    workspace: Workspace,
) -> None:
    _setup(workspace)
    run(workspace, _call("c1", LINE_B))
    preview = workspace.preview("dialer", [json.dumps(_line())], "line.jsonl")
    [learned] = preview.events
    assert learned.counterpart is not None
    assert learned.counterpart.endswith("; 1 earlier activity waiting for it looked for again")
    assert _held(workspace) != []  # a preview writes nothing


# ------------------------------------------------------------------ parallel workers' parts


def test_an_event_that_learns_a_line_meets_what_waits_for_it_until_the_line_is_known(
    workspace: Workspace,
) -> None:
    """The router's keys (engine/conflicts.py): an event naming a line nobody knows yet
    shares a key with the calls to that number and, through the database, with the call
    held for it; a call to another number stays apart. Once the line is stored, naming it
    again adds no key (nothing is written for it): calls on that line are not joined."""
    from leadsync.engine import conflicts
    from leadsync.workspace_config import load_rules

    _setup(workspace)
    run(workspace, _call("held", LINE_B))
    rows = [
        [_line()],
        [_call("c2", LINE_B)],
        [_call("c3", CUSTOMER)],
        [_call("c4", CUSTOMER, line_number=LINE_A)],
    ]
    events = [[parse_event(e, "dialer") for e in row] for row in rows]
    rules = load_rules(workspace.engine)

    def components() -> list[int]:
        with workspace.engine.connect() as connection:
            keys = [
                [k for e in row for k in conflicts.event_keys(e, rules)] + more
                for row, more in zip(
                    events, conflicts.line_keys(connection, rules, events), strict=True
                )
            ]
            pairs = conflicts.resolve(connection, rules, {k for ks in keys for k in ks})
        found = conflicts.components(keys, pairs)
        with workspace.engine.connect() as connection:
            [held_id] = connection.execute(sa.select(held_activities.c.activity_id)).scalars()
        assert ("A", str(held_id)) in {b for _, b in pairs}  # the held call, through the db
        return found

    first = components()
    assert first[0] == first[1] and first[2] != first[0]
    run(workspace, _line(), _call("c5", LINE_A, line_number=LINE_A))  # both lines known now
    with workspace.engine.connect() as connection:
        assert conflicts.line_keys(connection, rules, events) == [[], [], [], []]


# ------------------------------------------------------------------ the canonical line event


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"properties": {"name": "x"}}, 'field "properties.number": required on a line event'),
        ({"properties": {"number": "n/a"}}, "'n/a' is not a phone number: it has no digit"),
        ({"properties": {"number": 44}}, 'field "properties.number": expected a non-empty string'),
        (
            {"properties": {"number": "+44 20", "digits": "1"}},
            'field "properties.digits": not allowed; allowed: name, number',
        ),
        (
            {"properties": {"number": "+44 20 7946 0100"}, "owner": "u-1"},
            'field "owner": not allowed on a line event',
        ),
    ],
)
def test_a_line_event_is_read_strictly(event: dict[str, Any], error: str) -> None:
    with pytest.raises(EventError, match=error.replace("(", r"\(").replace(")", r"\)")):
        parse_event({"id": "e1", "occurred_at": AT, "type": "line", **event}, "dialer")
