"""The test lead: what the setup guides tell admins to do by hand, done and checked.

A marked contact (``leadsync-test-<stamp>@leadsync.invalid``; ``.invalid`` is reserved and
never delivered) owned by the rep, then a two-minute connected call by the rep on it, go
through the engine as one batch, in one transaction — made as the tool's own events make a
lead: for a kind whose records name no owner (``Adapter.record_owners``: Aircall, Calendly)
the contact has none and the rep's activity (``Adapter.lead_activity``: Calendly's meeting)
is what may give it one (``assign_on_activity``). Then the outcome is checked against
what the settings promise, worked out by the rules' own functions over the batch's own state
(the emails it learned from earlier events, the round robin's turn, a rollout's settings):
the owner the user mapping and strategy name, and the call on the contact's timeline with the
expected associations — or, when the settings skip the call (a disabled type, a filter), no
call, which passes with a note. For the CRM itself (a ``hubspot`` integration, whose
events the engine takes as changes made in the CRM: ``BatchDecider.apply_crm``) the rep is an
owner id, the owner expected is the one :func:`~leadsync.rules.ownership.decide_crm_change`
takes, and the call is expected not to be created (the engine takes no activity from the
CRM), which passes with a note. Test records are left out of the health report; ``cleanup``
removes every one of them and takes back what else the test changed (the round robin's turns,
the rep's event count and last-seen time), recorded beside the test in
``workspace_settings``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NotRequired

from pydantic import Field
from sqlalchemy.engine import Connection, Engine
from typing_extensions import TypedDict

from leadsync.engine import BatchState, WorkspaceRules, activities, decide_batch
from leadsync.errors import UserError
from leadsync.model import ActivityType, Event, RecordType, add_days, now_ts
from leadsync.results import ResultModel
from leadsync.rules.activities import skip_reason
from leadsync.rules.mapping import round_robin_turn
from leadsync.rules.ownership import (
    OwnerContext,
    activity_fills_owner,
    assign_on_activity_strategy,
    decide_crm_change,
    decide_owner,
)
from leadsync.settings import UserMappingSettings
from leadsync.sources import adapter_class
from leadsync.sources.canonical import parse_event
from leadsync.store import batch as store
from leadsync.store import config as config_store
from leadsync.store import push as push_store
from leadsync.store import testlead as testlead_store
from leadsync.store.database import begin_writing

TEST_DOMAIN = "leadsync.invalid"
TEST_PREFIX = "leadsync-test-"
# One workspace setting per test lead (``test_lead:<stamp>``): what the test changed besides
# its records, for ``cleanup`` to take back.
CHANGES_PREFIX = "test_lead:"


class Check(TypedDict):
    """One check of the test lead: what was found against what the settings promise;
    ``note`` when it passed without checking everything (the settings skip the call)."""

    check: str
    passed: bool
    detail: str
    note: NotRequired[str]


class TestLeadResult(ResultModel):
    passed: bool
    record_id: int | None
    checks: list[Check] = Field(default_factory=list)
    # What the engine decided, for the HubSpot side's checks (not shown): the call, the
    # owner, and the records the call is associated with ((type, local id)).
    activity_id: int | None = Field(None, exclude=True)
    owner_id: str | None = Field(None, exclude=True)
    call_links: list[tuple[str, int]] = Field(default_factory=list, exclude=True)
    activity: str = Field("call", exclude=True)  # the test activity's type

    def add(self, check: Check) -> None:
        self.checks.append(check)
        self.passed = self.passed and bool(check["passed"])


def run_test_lead(
    engine: Engine, rules: WorkspaceRules, integration: str, rep: str, at: str | None = None
) -> TestLeadResult:
    at = at or now_ts()
    # The rep as the integration's events name it (a Salesforce 15-character user id is its
    # 18-character form): the one form the map, the directory and the events agree on.
    users = rules.integrations[integration].users
    if not rep.strip() or len(rep.strip()) > 200:
        said = f"has {len(rep.strip())} characters" if rep.strip() else "is empty"
        raise UserError(  # (the CLI's --rep, the console's Rep field)
            f"the rep {said}; allowed: the id of a rep as the integration names it (at most "
            "200 characters)"
        )
    rep = users.canonical_id(rep.strip())
    crm = integration in rules.crm_integrations
    # As the kind's own events do: a tool whose records name no owner (Aircall's contacts,
    # Calendly's invitees) makes the lead without one, its rep's activity after it.
    kind = adapter_class(rules.integrations[integration].kind)
    owned = crm or kind.record_owners
    logged = "call" if crm else kind.lead_activity
    stamp = at.replace("-", "").replace(":", "").replace(".", "").lower()
    email = f"{TEST_PREFIX}{stamp}@{TEST_DOMAIN}"
    lead = parse_event(
        {
            "id": f"{TEST_PREFIX}lead-{stamp}",
            "occurred_at": at,
            "type": "record",
            "object": "contact",
            "external_id": f"{TEST_PREFIX}{stamp}",
            "properties": {"email": email, "firstname": "Test", "lastname": "Lead"},
            **({"owner": rep} if owned else {}),
        },
        integration,
    )
    call = parse_event(
        {
            "id": f"{TEST_PREFIX}{logged}-{stamp}",
            "occurred_at": at,
            "type": "activity",
            "activity": logged,
            "external_id": f"{TEST_PREFIX}{logged}-{stamp}",
            "owner": rep,
            "properties": _logged_properties(logged, at),
            "associations": [{"object": "contact", "external_id": f"{TEST_PREFIX}{stamp}"}],
        },
        integration,
    )
    with begin_writing(engine) as connection:
        store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
        turns = store.read_counters_with_prefix(connection, store.ROUND_ROBIN_PREFIX)
        seen = testlead_store.seen_times(connection, integration, rep)
        state = decide_batch(connection, rules, [lead, call], trace=True)
        traces = state.traces or {}
        record_trace = traces[lead.id].record
        record_id = record_trace[1] if record_trace else None
        if record_id is not None:
            taken = state.external_users.get((integration, rep), {})
            config_store.write_setting(
                connection,
                f"{CHANGES_PREFIX}{stamp}",
                {
                    "record_id": record_id,
                    "email": email,
                    "round_robin": {
                        key: value - turns.get(key, 0)
                        for key, value in state.round_robin_changed.items()
                    },
                    # where each counter stood after the test: taken back only from there
                    "round_robin_after": dict(state.round_robin_changed),
                    "external_user": {
                        "integration": integration,
                        "id": rep,
                        "events": int(taken.get("events") or 0),
                        "at": lead.occurred_at,
                        "existed": seen is not None,
                        "first_seen_at": seen[0] if seen is not None else None,
                        "last_seen_at": seen[1] if seen is not None else None,
                    },
                },
            )
    record = state.records.get(record_id) if record_id is not None else None
    owner = record.owner_id if record is not None else None
    created = record_trace is not None and record_trace[2]
    if crm:
        checks = [_crm_owner_check(rules, lead, owner, created), _crm_call_check(state, call)]
        if rep not in rules.directory.owners:
            checks[0]["note"] = (  # the CRM's change is taken, and flagged: maybe a typo
                f"{integration} is the CRM: its reps are owner ids, and {rep!r} is none of the "
                "workspace's owners (leadsync owners list): the test ran it as an owner nobody "
                "knows (mistyped?)"
            )
    else:
        checks = [
            _owner_check(state, rules, lead, owner, record_id, turns, created, seen is not None)
            if owned
            else _activity_owner_check(state, rules, call, owner, record_id, created),
            _call_check(state, rules, call, record_id),
        ]
        if seen is None and not _named(users, rep):
            checks[0]["note"] = (  # it passes as an unmapped rep: maybe not the one meant
                f"{integration} has never sent an event of rep {rep!r}, and neither its map "
                "nor its directory names it: the test ran it as a rep nobody knows (mistyped?)"
            )
    result = TestLeadResult(
        passed=all(c["passed"] for c in checks), record_id=record_id, checks=checks
    )
    result.owner_id = owner
    result.activity = logged
    activity = traces[call.id].activity if call.id in traces else None
    if activity is not None and activity[2] != "skipped":
        result.activity_id = activity[1]
        result.call_links = [(t, i) for t, i, _ in traces[call.id].associations]
    return result


def _logged_properties(logged: str, at: str) -> dict[str, Any]:
    """The test activity's properties: a two-minute connected call, a half-hour meeting."""
    if logged == "meeting":
        return {"title": "leadsync test meeting", "start": at, "end": add_days(at, 1 / 48)}
    return {"duration_s": 120, "outcome": "connected", "title": f"leadsync test {logged}"}


def _owner_check(
    state: BatchState,
    rules: WorkspaceRules,
    lead: Event,
    owner: str | None,
    record_id: int | None,
    turns: Mapping[str, int],
    created: bool,
    seen: bool = False,
) -> Check:
    """The owner the rules give the new contact: the engine's own mapping (with the emails it
    learned earlier, under the settings the record gets, a rollout's included) and the round
    robin's turn before the test."""
    integration = lead.integration
    settings, label = rules.settings_for(integration, str(record_id) if record_id else None)
    mapping = state.map_rep(lead, settings)
    candidate = None
    if mapping is not None and mapping.round_robin_team is not None:
        key = state.round_robin_key(integration, mapping.round_robin_team)
        turn = turns.get(key, 0)
        candidate, _ = round_robin_turn(rules.directory, mapping.round_robin_team, turn)
    verdict = decide_owner(
        OwnerContext(record_type=RecordType.CONTACT, is_new=created, owner_id=None),
        lead.occurred_at,
        rules.strategy_under(integration, RecordType.CONTACT, settings, label),
        settings.ownership.protect_manual_days,
        mapping,
        candidate,
        integration,
    )
    expected = verdict.owner_id
    how = mapping.how if mapping is not None else verdict.reason
    check: Check = {
        "check": "owner",
        "passed": owner == expected,
        "detail": f"owner {owner or 'none'}; expected {expected or 'no owner'}: {how}"
        + _under(label),
    }
    if seen and mapping is not None and not mapping.mapped:  # it passes, and may not be meant
        rep = lead.owner.id if lead.owner is not None else None
        check["note"] = (
            f"{integration} has sent events of rep {rep!r} before, and it maps to no owner "
            "(the unmapped policy decides): if it should have one, map it (users.map) or give "
            "an owner its email"
        )
    return check


def _activity_owner_check(
    state: BatchState,
    rules: WorkspaceRules,
    activity: Event,
    owner: str | None,
    record_id: int | None,
    created: bool,
) -> Check:
    """The owner of a new contact of a tool whose records name no owner (Aircall, Calendly):
    none, unless its rep's activity fills the empty one — the engine's own rules for it
    (``assign_on_activity``, a mapped rep, weighed as ``assign_on_activity_strategy``)."""
    integration = activity.integration
    settings, label = rules.settings_for(integration, str(record_id) if record_id else None)
    mapping = state.map_rep(activity, settings)
    logged = activity.activity.value if activity.activity is not None else "activity"
    said = f"{integration}'s contacts name no owner"
    check: Check
    if mapping is not None and activity_fills_owner(settings.ownership.assign_on_activity, mapping):
        verdict = decide_owner(
            OwnerContext(record_type=RecordType.CONTACT, is_new=created, owner_id=None),
            activity.occurred_at,
            assign_on_activity_strategy(
                rules.strategy_under(integration, RecordType.CONTACT, settings, label)
            ),
            settings.ownership.protect_manual_days,
            mapping,
            None,
            integration,
        )
        expected = verdict.owner_id
        how = f"{said}; the rep's {logged} fills the empty one (assign_on_activity): {mapping.how}"
        check = {"check": "owner", "passed": owner == expected, "detail": ""}
    else:
        expected = None
        if not settings.ownership.assign_on_activity:
            how = f"{said}, and its {logged}s give none (assign_on_activity: false)"
        else:
            shown = mapping.how if mapping is not None else "the rep is not mapped"
            how = f"{said}, and only a mapped rep's {logged} fills an empty owner: {shown}"
        check = {
            "check": "owner",
            "passed": owner == expected,
            "detail": "",
            "note": f"every contact {integration} creates stays without an owner until another "
            "tool or a person gives it one (the health report counts them: unowned new "
            f"leads); assign_on_activity: true lets a mapped rep's {logged} fill an empty owner",
        }
    check["detail"] = f"owner {owner or 'none'}; expected {expected or 'no owner'}: {how}" + _under(
        label
    )
    return check


def _under(label: str | None) -> str:
    """Which settings a check expected under: said when the rollout's (the test lead fell
    in its sample), so that two runs of one test are not read as the same settings."""
    return (
        " (under the rollout's settings: the test lead is in its sample)"
        if label == "rollout"
        else ""
    )


def _named(users: UserMappingSettings, rep: str) -> bool:
    """The map or the directory names the rep (in any of the vendor's forms of its id)."""
    return users.target_of(rep) is not None or any(
        users.canonical_id(u.id) == rep for u in users.directory
    )


def _crm_owner_check(rules: WorkspaceRules, lead: Event, owner: str | None, created: bool) -> Check:
    """The owner of a new contact the CRM reports with the rep as its owner: the CRM's change
    as the engine takes it (:func:`decide_crm_change`, the engine's own rule for a CRM
    integration's events), with no owner before (a new record was never pushed, so the
    change cannot be the echo of a push)."""
    assert lead.owner is not None
    verdict = decide_crm_change(
        OwnerContext(record_type=RecordType.CONTACT, is_new=created, owner_id=None),
        lead.occurred_at,
        lead.owner.id,
        lead.owner.id in rules.directory.owners,
        lead.integration,
        lead.manual,
        active_owner=lead.owner.id is None or rules.directory.is_active(lead.owner.id),
    )
    expected = verdict.owner_id
    return {
        "check": "owner",
        "passed": owner == expected,
        "detail": f"owner {owner or 'none'}; expected {expected or 'no owner'}: {verdict.reason}",
    }


def _crm_call_check(state: BatchState, call: Event) -> Check:
    """The CRM keeps its own timeline: the engine takes no activity from a CRM integration,
    so the test call is expected not to be created (which passes, with a note)."""
    trace = (state.traces or {}).get(call.id)
    activity = trace.activity if trace is not None else None
    if activity is not None and activity[2] != "skipped":
        return {
            "check": "call",
            "passed": False,
            "detail": f"call {activity[1]} {activity[2]}, but {call.integration} is the CRM: "
            "its activities are never created",
        }
    return {
        "check": "call",
        "passed": True,
        "detail": f"the call was not created, as for every activity of the CRM "
        f"({call.integration}): the CRM keeps its own timeline",
        "note": f"{call.integration} is the CRM, whose activities leadsync does not create, "
        "so the timeline was not checked; to check a call on the timeline, test an "
        "integration that sends activities",
    }


def _call_check(
    state: BatchState, rules: WorkspaceRules, call: Event, record_id: int | None
) -> Check:
    """The test activity (a call, a scheduler's meeting: ``call``) as the activity rules
    treat it under the settings it gets: created on the lead, or not created (a disabled
    type, a filter) — which passes, with a note. The check is named after its type."""
    traces = state.traces or {}
    trace = traces.get(call.id)
    settings, label = rules.settings_for(call.integration, activities.sample_key(state, call))
    kind = call.activity or ActivityType.CALL
    named = kind.value
    skip = skip_reason(kind, call.properties, settings.activities, call.integration)
    why = skip.reason if skip is not None else None
    activity = trace.activity if trace is not None else None
    if activity is None or activity[2] == "skipped":
        skipped = trace.skip_reason if trace is not None else None
        said = skipped or "it was not decided"
        if why is not None and skipped is not None and skipped.startswith(why):
            return {
                "check": named,
                "passed": True,
                "detail": f"the {named} was not created, as the settings say: {said}"
                + _under(label),
                "note": f"{why}, so no test {named} was created and the timeline was not checked",
            }
        return {"check": named, "passed": False, "detail": f"the {named} was not created: {said}"}
    if why is not None:
        return {
            "check": named,
            "passed": False,
            "detail": f"{named} {activity[1]} {activity[2]}, but the settings say it is not "
            f"created: {why}",
        }
    links = trace.associations if trace is not None else []
    on_lead = any(t == "contact" and i == record_id for t, i, _ in links)
    shown = ", ".join(f"{t} {i} ({s})" for t, i, s in links) or "nothing"
    return {
        "check": named,
        "passed": on_lead,
        "detail": f"{named} {activity[1]} {activity[2]}, associated with {shown}"
        + ("" if on_lead else f"; expected contact {record_id}")
        + _under(label),
    }


def hubspot_checks(
    result: TestLeadResult,
    hubspot_ids: Mapping[tuple[str, int], str],
    read_owner: Callable[[str], str | None],
    read_links: Callable[[str, str], set[str]],
    refused: Mapping[tuple[str, int], tuple[int, str]] | None = None,
) -> None:
    """After the push: the contact as HubSpot has it carries the owner the engine decided,
    and the call is on its timeline with the associations the engine chose (compared through
    the stored HubSpot ids; the expectation is the engine's own decision, not a copy of it).
    ``read_owner(contact id)`` and ``read_links(call id, to type)`` read HubSpot; ``refused``:
    the push failures of the test lead and its call, (id, message) by (kind, local id)."""
    if result.record_id is None:
        return
    contact = hubspot_ids.get(("record", result.record_id))
    if contact is None:
        result.add(
            {
                "check": "hubspot_owner",
                "passed": False,
                "detail": _not_pushed(
                    "test lead", (refused or {}).get(("record", result.record_id))
                ),
            }
        )
        return
    owner = read_owner(contact)
    result.add(
        {
            "check": "hubspot_owner",
            "passed": owner == result.owner_id,
            "detail": f"HubSpot contact {contact} has owner {owner or 'none'}; "
            f"expected {result.owner_id or 'none'}",
        }
    )
    if result.activity_id is None:
        return
    call = hubspot_ids.get(("activity", result.activity_id))
    if call is None:
        result.add(
            {
                "check": f"hubspot_{result.activity}",
                "passed": False,
                "detail": _not_pushed(
                    str(result.activity), (refused or {}).get(("activity", result.activity_id or 0))
                ),
            }
        )
        return
    missing: list[str] = []
    by_type: dict[str, set[str]] = {}
    for record_type, local_id in result.call_links:
        wanted = hubspot_ids.get(("record", local_id))
        if record_type not in by_type:
            by_type[record_type] = read_links(call, record_type)
        if wanted is None or wanted not in by_type[record_type]:
            missing.append(f"{record_type} {local_id}")
    result.add(
        {
            "check": f"hubspot_{result.activity}",
            "passed": not missing,
            "detail": f"HubSpot {result.activity} {call} is associated with "
            + ", ".join(
                f"{t} {', '.join(sorted(ids)) or 'none'}" for t, ids in sorted(by_type.items())
            )
            + (f"; missing: {', '.join(missing)}" if missing else ""),
        }
    )


def _not_pushed(what: str, refusal: tuple[int, str] | None) -> str:
    """Why the test lead (or its call) is not in HubSpot: its push failure, when it has one."""
    if refusal is None:
        return f"the {what} was not pushed to HubSpot (see leadsync push status)"
    return f"HubSpot refused the {what}: {refusal[1]} (push failure #{refusal[0]})"


def pushed_ids(engine: Engine, result: TestLeadResult) -> dict[tuple[str, int], str]:
    """The HubSpot ids of the test lead, the records its call is on, and the call, by
    (kind, local id); what was not pushed is absent."""
    wanted = (
        (push_store.RECORD, [result.record_id or 0] + [i for _t, i in result.call_links]),
        (push_store.ACTIVITY, [result.activity_id] if result.activity_id else []),
    )
    with engine.connect() as connection:
        return {
            (kind, local_id): str(row["hubspot_id"])
            for kind, local_ids in wanted
            for local_id, row in push_store.load_pushed(connection, kind, local_ids).items()
            if row["hubspot_id"]
        }


def cleanup(engine: Engine, push: bool = False, integration: str | None = None) -> dict[str, int]:
    """Remove every test record and what hangs from it (decisions, links, test calls, their
    memories and skips) — of ``integration``'s tests only, when given; with a destination,
    the pushed ones are queued for archiving in HubSpot. What else each test changed is
    taken back (:func:`_take_back`)."""
    with begin_writing(engine) as connection:
        # Like a batch: batches wait, so none writes back a round robin read before this.
        store.lock_counters(connection, [store.RECORD_ID, store.ACTIVITY_ID])
        found = testlead_store.test_records(connection, TEST_DOMAIN, integration)
        ids = [record_id for record_id, _email in found]
        calls = testlead_store.test_activities(connection, TEST_PREFIX, integration)
        every = testlead_store.test_records(connection, TEST_DOMAIN, None) if integration else found
        _take_back(
            connection, {e for _id, e in found}, {e for _id, e in every} - {e for _id, e in found}
        )
        testlead_store.forget_pushes(connection, push_store.RECORD, ids)
        testlead_store.forget_pushes(connection, push_store.ACTIVITY, calls)
        archived: list[dict[str, Any]] = []  # the pushed ones, queued for archiving
        if push:
            at = now_ts()
            archived = [
                {
                    "kind": kind,
                    "local_id": local_id,
                    "object_type": row["object_type"],
                    "change": "removed",
                    "other_id": None,
                    "queued_at": at,
                }
                for kind, rows in (
                    (push_store.RECORD, push_store.load_pushed(connection, "record", ids)),
                    (push_store.ACTIVITY, push_store.load_pushed(connection, "activity", calls)),
                )
                for local_id, row in rows.items()
                if row["hubspot_id"]
            ]
            push_store.enqueue(connection, archived)
        testlead_store.delete_test_data(connection, ids, calls, TEST_PREFIX, integration)
    return {"records": len(ids), "activities": len(calls), "archived": len(archived)}


def _take_back(connection: Connection, emails: set[str], kept: set[str]) -> None:
    """Undo what each test lead of ``emails`` changed besides its records, newest test
    first: the round robin turns it took (given back where no real event took a turn since:
    after one had, giving it back would give the next member two turns in a row), and its
    rep's event count, first- and last-seen times (put back unless a later event moved
    them; an external user only the test had seen is removed). The tests of ``kept``
    (another integration's leads, still there) keep their record of it; a recorded test
    whose lead is gone already is dropped without change."""
    rows = testlead_store.recorded_changes(connection, CHANGES_PREFIX)
    changes = sorted(
        (value for _name, value in rows if value.get("email") in emails),
        key=lambda c: int(c["record_id"]),
        reverse=True,
    )
    for change in changes:
        after = change.get("round_robin_after")  # (tests recorded before: none)
        testlead_store.take_back_turns(connection, change["round_robin"], after)
        if change["external_user"]["events"]:
            testlead_store.take_back_external_user(connection, change["external_user"])
    gone = [name for name, value in rows if value.get("email") not in kept]
    testlead_store.forget_changes(connection, gone)


def users_of_test_leads(connection: Connection) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """What each test lead not yet cleaned up added to its rep (recorded beside the test by
    :func:`run_test_lead`), for the health report, by (integration, external id)."""
    tests: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _name, change in testlead_store.recorded_changes(connection, CHANGES_PREFIX):
        user = change.get("external_user") or {}
        if user.get("events"):
            tests.setdefault((str(user["integration"]), str(user["id"])), []).append(user)
    return tests


def real_use(user: Any, tests: list[dict[str, Any]]) -> tuple[int, str | None]:
    """An external user's events without the test leads', and when it was last seen before
    them (None: only test leads used it)."""
    events = int(user.events) - sum(int(t["events"]) for t in tests)
    last_seen: str | None = user.last_seen_at
    for test in sorted(tests, key=lambda t: str(t["at"]), reverse=True):
        if last_seen != test["at"]:
            break
        last_seen = test["last_seen_at"] if test["existed"] else None
    return events, last_seen
