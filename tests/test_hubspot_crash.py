"""SIGKILL of the pusher mid-batch under load, then restart: zero duplicate and zero missing
objects and associations in the HubSpot stand-in, on SQLite and PostgreSQL.

The real ``leadsync push`` runs as a subprocess against the stand-in served on a local port
(with latency, and some responses lost after the request was applied); it is killed with
SIGKILL at random moments while new events keep arriving, restarted, and finally run to the
end. Then HubSpot must hold every local record and activity exactly once, with exactly its
local associations and owner.
"""

from __future__ import annotations

import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from leadsync.destinations.hubspot.fake import HubSpotDouble, serving
from leadsync.destinations.hubspot.objects import PRIMARY_TYPE_IDS
from leadsync.destinations.hubspot.pusher import leadsync_id, workspace_push_key
from leadsync.settings import load_config
from leadsync.store.schema import (
    activities,
    activity_associations,
    push_failures,
    push_lease,
    push_objects,
    record_associations,
    record_identities,
    records,
)
from leadsync.workspace import Workspace
from tests.helpers import HUBSPOT_TOKEN as TOKEN
from tests.helpers import OWNERS, ev, run, settings

TOKEN_ENV = "HS_CRASH_TEST_TOKEN"
KILLS = 4  # per seed, two seeds per backend: each restart costs ~2.5 s of imports
HUBSPOT_NAMES = {"contact": "contacts", "company": "companies", "call": "calls"}


def _leadsync_command() -> list[str]:
    # leadsync.cli has no ``__main__`` block, so ``python -m leadsync.cli`` would do nothing:
    # run the console script installed next to this interpreter.
    script = Path(sys.executable).with_name("leadsync")
    if not script.exists():
        found = shutil.which("leadsync")
        assert found, "the leadsync console script is not installed"
        script = Path(found)
    return [str(script)]


def _config(
    base_url: str, api_version: str, *, destination: bool = True, strategy: str = "bidirectional"
) -> Any:
    dialer = settings(
        users={
            "auto_match": "email",
            "map": {"u-9": "102", "u-4": "104"},
            "directory": [{"id": "u-1", "email": "ANA@acme.test"}],
            "unmapped": {"policy": "round_robin", "team": "sdr"},
        },
        # Owner changes from the dialer apply, and are written compare-and-set.
        ownership={"default": strategy, "protect_manual_days": 0},
    )
    doc: dict[str, Any] = {
        "owners": copy.deepcopy(OWNERS),
        "teams": {"sdr": ["101", "102"]},
        "integrations": {"dialer": dialer, "crm": {"kind": "hubspot"}},
    }
    if destination:
        doc["destination"] = {
            "kind": "hubspot",
            "token_env": TOKEN_ENV,
            "base_url": base_url,
            "api_version": api_version,
        }
    return load_config(json.dumps(doc), "crash.yaml")


class Events:
    """Seeded event phases: contacts (some with a company by domain), calls on one or two
    contacts, and, after the first phase, owner changes, property changes and companies added
    to contacts that had none."""

    OWNERS_EXT = ("u-1", "u-9", "u-4", "u-7")  # u-7 is unmapped: round robin

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.contacts: list[str] = []
        self.company_of: dict[str, str | None] = {}
        self.calls = 0
        self.start = datetime(2026, 11, 1, 8, tzinfo=UTC)

    def at(self, phase: int, i: int) -> str:
        moment = self.start + timedelta(hours=phase, seconds=i)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def contact(self, phase: int, i: int, ext: str, domain: str | None) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "object": "contact",
            "external_id": ext,
            "owner": self.rng.choice(self.OWNERS_EXT),
            "properties": {"email": f"{ext}@people.test", "firstname": ext.upper()},
        }
        if domain is not None:
            fields["associations"] = [{"object": "company", "domain": domain}]
        return ev("record", self.at(phase, i), **fields)

    def call(self, phase: int, i: int) -> dict[str, Any]:
        self.calls += 1
        on = self.rng.sample(self.contacts, 2 if self.rng.random() < 0.2 else 1)
        return ev(
            "activity",
            self.at(phase, i),
            activity="call",
            external_id=f"c-{self.calls}",
            owner=self.rng.choice(("u-1", "u-9")),
            properties={
                "duration_s": self.rng.randint(15, 600),
                "outcome": "connected",
                "direction": "outbound",
            },
            associations=[{"object": "contact", "external_id": ext} for ext in on],
        )

    def phase(self, phase: int, new_contacts: int, new_calls: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        i = 0
        if phase > 0:
            for ext in self.rng.sample(self.contacts, min(15, len(self.contacts))):
                i += 1
                out.append(
                    ev(
                        "owner",
                        self.at(phase, i),
                        object="contact",
                        external_id=ext,
                        owner=self.rng.choice(self.OWNERS_EXT),
                    )
                )
            for ext in self.rng.sample(self.contacts, min(8, len(self.contacts))):
                i += 1
                fields: dict[str, Any] = {
                    "object": "contact",
                    "external_id": ext,
                    "properties": {
                        "email": f"{ext}@people.test",
                        "jobtitle": f"title {phase}-{i}",
                    },
                }
                if self.company_of[ext] is None and self.rng.random() < 0.5:
                    added = f"co{self.rng.randint(0, 24)}.test"
                    self.company_of[ext] = added
                    fields["associations"] = [{"object": "company", "domain": added}]
                out.append(ev("record", self.at(phase, i), **fields))
        for _ in range(new_contacts):
            i += 1
            ext = f"p-{len(self.contacts)}"
            domain = f"co{self.rng.randint(0, 24)}.test" if self.rng.random() < 0.6 else None
            self.contacts.append(ext)
            self.company_of[ext] = domain
            out.append(self.contact(phase, i, ext, domain))
        for _ in range(new_calls):
            i += 1
            out.append(self.call(phase, i))
        return out


def _expire_lease(ws: Workspace) -> bool:
    """Let the next pusher take over at once; True if the killed one held the lease.

    A SIGKILLed process cannot release its lease, so in production the next pusher waits
    for the 60 s TTL to lapse (that is the takeover). The test does not wait: it ends the
    lease by hand, which is exactly what the TTL's lapse does."""
    with ws.engine.begin() as c:
        until = c.execute(sa.select(push_lease.c.until).where(push_lease.c.name == "hubspot"))
        held = any(u > time.time() for (u,) in until)
        c.execute(sa.update(push_lease).values(until=0.0))
    return held


def _in_flight(ws: Workspace) -> int:
    """Creates announced (intent committed) whose result was never recorded."""
    with ws.engine.connect() as c:
        return int(
            c.execute(
                sa.select(sa.func.count())
                .select_from(push_objects)
                .where(push_objects.c.create_sent_at.is_not(None))
                .where(push_objects.c.hubspot_id.is_(None))
            ).scalar_one()
        )


def _feed(ws: Workspace, events: list[dict[str, Any]], fed: list[Any]) -> None:
    """Ingest ``events``; append None to ``fed`` if all applied, else what went wrong (it
    runs in a thread too)."""
    try:
        summary = run(ws, *events)
        fed.append(None if summary.ok else f"{summary.dead_letters} {summary.failed}")
    except BaseException as exc:
        fed.append(exc)


def _wait_for_first_request(hub: HubSpotDouble, proc: subprocess.Popen[bytes], before: int) -> None:
    """The CLI takes seconds to start; the kill's random delay counts from its first
    request to HubSpot, so that it lands in the push, not in Python's imports."""
    deadline = time.monotonic() + 30
    while hub.stats()["requests"] == before and proc.poll() is None:
        assert time.monotonic() < deadline, "the pusher sent nothing in 30 s"
        time.sleep(0.005)


def _wait_for_requests(
    hub: HubSpotDouble, proc: subprocess.Popen[bytes], before: int, n: int
) -> None:
    """Until the pusher has sent ``n`` requests since ``before``, or has exited."""
    deadline = time.monotonic() + 30
    while hub.stats()["requests"] - before < n and proc.poll() is None:
        assert time.monotonic() < deadline, f"the pusher sent fewer than {n} requests in 30 s"
        time.sleep(0.002)


@pytest.mark.parametrize(("seed", "api_version"), [(1, "v3"), (2, "2026-03")])
def test_sigkill_mid_batch_then_restart_leaves_no_duplicate_and_nothing_missing(
    db_url: str,
    hub: HubSpotDouble,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    api_version: str,
) -> None:
    rng = random.Random(seed)
    events = Events(seed)
    fed: list[BaseException | str | None] = []
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    env = {**os.environ, TOKEN_ENV: TOKEN}
    command = [*_leadsync_command(), "--db", db_url, "push", "--json"]
    with serving(hub) as base_url:
        ws = Workspace(db_url)
        # Without a destination: the owners the events alone decide (nobody touches HubSpot,
        # so the pusher must never change one).
        control = Workspace(f"sqlite:///{tmp_path / 'control.db'}")
        try:
            ws.apply_config(_config(base_url, api_version))
            control.apply_config(_config(base_url, api_version, destination=False))
            ws.hubspot_setup()
            first = events.phase(0, new_contacts=120, new_calls=160)
            _feed(ws, first, fed)
            _feed(control, first, fed)
            assert fed == [None, None]
            fed.clear()
            hub.set_faults(latency_ms=40, apply_then_fail_rate=0.05, seed=seed)

            interrupted = 0
            # A push may end before its kill lands (a loaded machine feeds fewer events while
            # it runs): past KILLS, kill again (up to three times as often) until half hit one.
            for kill in range(3 * KILLS):
                if kill >= KILLS and interrupted >= KILLS // 2:
                    break
                phase = events.phase(kill + 1, new_contacts=20, new_calls=40)
                before = hub.stats()["requests"]
                log = tmp_path / f"push-{kill}.log"
                with log.open("wb") as out:
                    proc = subprocess.Popen(command, env=env, stdout=out, stderr=out)
                try:
                    _wait_for_first_request(hub, proc, before)
                    # Load: events keep arriving while the pusher drains.
                    feeder = threading.Thread(target=_feed, args=(ws, phase, fed))
                    feeder.start()
                    # The kill lands after a random number of the push's requests (and a
                    # little more, to fall inside one now and then): by its progress, not by
                    # the clock, which a loaded machine or a fast push would make miss.
                    _wait_for_requests(hub, proc, before, rng.randint(1, 3))
                    time.sleep(rng.uniform(0, 0.03))
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    feeder.join(timeout=60)
                    assert not feeder.is_alive()
                    assert fed.pop() is None
                finally:
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                _feed(control, phase, fed)
                assert fed.pop() is None
                if proc.returncode == -signal.SIGKILL:
                    in_flight = _in_flight(ws)
                    held = _expire_lease(ws)
                    interrupted += held
                    sent = hub.stats()["requests"] - before
                    print(f"kill {kill}: {sent} requests, lease held {held}, {in_flight} in flight")
                else:  # it finished (or gave up) before the kill: the next one goes on
                    _expire_lease(ws)
                    print(f"kill {kill}: exited {proc.returncode} first")
            # The kills must have hit running pushes, or the test proves nothing.
            assert interrupted >= KILLS // 2, f"only {interrupted} of {kill + 1} kills hit a push"

            hub.set_faults(latency_ms=0, apply_then_fail_rate=0.0)
            done = subprocess.run(command, env=env, capture_output=True, timeout=120)
            assert done.returncode == 0, done.stderr.decode()[-4000:]
            _assert_hubspot_matches_workspace(ws, control, hub)
        finally:
            ws.close()
            control.close()


def _assert_hubspot_matches_workspace(
    ws: Workspace, control: Workspace, hub: HubSpotDouble
) -> None:
    status = ws.push_status()
    assert status["queued_total"] == 0, status["queued"]
    assert status["failures"] == 0, ws.push_failures()
    with ws.engine.connect() as c:
        assert (
            c.execute(
                sa.select(sa.func.count())
                .select_from(push_failures)
                .where(push_failures.c.resolved_at.is_(None))
            ).scalar_one()
            == 0
        )
        local_records = {r.id: r._mapping for r in c.execute(sa.select(records))}
        local_calls = {r.id: r._mapping for r in c.execute(sa.select(activities))}
        pushed = {(r.kind, r.local_id): r._mapping for r in c.execute(sa.select(push_objects))}
        call_links: dict[int, set[int]] = defaultdict(set)
        for a, r in c.execute(
            sa.select(activity_associations.c.activity_id, activity_associations.c.record_id)
        ):
            call_links[a].add(r)
        record_links = list(c.execute(sa.select(record_associations)))
    key = workspace_push_key(ws.engine)

    # No duplicates, by leadsync_id and by email.
    for hs_type in ("contacts", "companies", "calls"):
        assert hub.duplicates(hs_type, "leadsync_id") == {}, hs_type
    assert hub.duplicates("contacts", "email") == {}
    assert hub.duplicates("companies", "domain") == {}

    # Nothing missing, nothing extra: one HubSpot object per local record or activity.
    types = {"contact": 0, "company": 0, "call": 0}
    for rec in local_records.values():
        types[rec["type"]] += 1
    for act in local_calls.values():
        assert act["type"] == "call"
        types["call"] += 1
    for local_type, n in types.items():
        assert len(hub.objects(HUBSPOT_NAMES[local_type])) == n, local_type

    # Every local object has its HubSpot id, and that object carries its leadsync_id.
    hs_objects = {t: {o["id"]: o for o in hub.objects(t)} for t in HUBSPOT_NAMES.values()}

    def hubspot_object(kind: str, local_id: int, local_type: str) -> dict[str, Any]:
        row = pushed.get((kind, local_id))
        assert row is not None and row["hubspot_id"], (kind, local_id)
        assert row["create_sent_at"] is None, (kind, local_id)
        obj = hs_objects[HUBSPOT_NAMES[local_type]].get(str(row["hubspot_id"]))
        assert obj is not None, (kind, local_id, row["hubspot_id"])
        assert obj["properties"]["leadsync_id"] == leadsync_id(key, kind, local_id)
        return obj

    hs_id: dict[int, str] = {}
    for rid, rec in local_records.items():
        hs_id[rid] = hubspot_object("record", rid, rec["type"])["id"]

    def linked(obj: dict[str, Any], hs_type: str) -> dict[str, list[int]]:
        return {a["id"]: a["typeIds"] for a in obj["associations"].get(hs_type, [])}

    # Every call is associated with exactly the records it has locally.
    for aid, act in local_calls.items():
        call = hubspot_object("activity", aid, "call")
        wanted: dict[str, set[str]] = {"contacts": set(), "companies": set()}
        for rid in call_links[aid]:
            wanted[HUBSPOT_NAMES[local_records[rid]["type"]]].add(hs_id[rid])
        for hs_type, ids in wanted.items():
            assert set(linked(call, hs_type)) == ids, (aid, hs_type, act["external_id"])
        assert call["properties"].get("hubspot_owner_id") == act["owner_id"], aid
    # (Not vacuous: calls on two contacts, and calls on a company through their contact.)
    assert any(len(links) > 1 for links in call_links.values())
    assert any(local_records[r]["type"] == "company" for ls in call_links.values() for r in ls)

    # Every contact-company pair exists (the primary one as primary), and no other.
    companies_of: dict[str, dict[str, bool]] = defaultdict(dict)
    for link in record_links:
        ends = {link.left_type: link.left_id, link.right_type: link.right_id}
        assert set(ends) == {"contact", "company"}, ends
        companies_of[hs_id[ends["contact"]]][hs_id[ends["company"]]] = bool(link.is_primary)
    primary = PRIMARY_TYPE_IDS[("contact", "company")]
    owners_apart = []
    for rid, rec in local_records.items():
        if rec["type"] != "contact":
            continue
        contact = hs_objects["contacts"][hs_id[rid]]
        have = linked(contact, "companies")
        assert set(have) == set(companies_of[hs_id[rid]]), (rid, have)
        for company, is_primary in companies_of[hs_id[rid]].items():
            assert (primary in have[company]) == is_primary, (rid, company, have[company])
        # The owner: HubSpot's is the local one.
        hs_owner = contact["properties"].get("hubspot_owner_id") or None
        if hs_owner != rec["owner_id"]:
            last = pushed[("record", rid)]["pushed_owner_id"]
            owners_apart.append(
                f"contact {rid}: HubSpot {hs_owner}, local {rec['owner_id']}, last pushed {last}"
            )
    assert owners_apart == []

    # The same contacts exist as in a workspace that ingested the same events without pushing.
    expected = {e: control.record("contact", i)["owner_id"] for e, i in _contacts(control)}
    actual = {e: ws.record("contact", i)["owner_id"] for e, i in _contacts(ws)}
    assert actual.keys() == expected.keys()
    # (A create answered "Existing ID" once was saved before its owner was compared: a crash
    # there made our own owner look like a person's change; see the test further down.)
    assert {e: (o, expected[e]) for e, o in actual.items() if o != expected[e]} == {}


def _contacts(ws: Workspace) -> list[tuple[str, int]]:
    """(dialer external id, local id) of every contact."""
    with ws.engine.connect() as c:
        rows = c.execute(
            sa.select(record_identities.c.external_id, records.c.id)
            .join(records, records.c.id == record_identities.c.record_id)
            .where(records.c.type == "contact", record_identities.c.integration == "dialer")
        )
        return [(str(e), int(i)) for e, i in rows]


# ----------------------------------------------------------------------------------------
# The owner half, pinned without timing: an owner update that reaches HubSpot but whose
# result is never recorded (SIGKILL between the request and the save, or a lost answer
# after the last retry) leaves ``push_objects.pushed_owner_id`` at the owner written before.


def _losing(hub: HubSpotDouble, lose: dict[str, str | None]) -> httpx.MockTransport:
    """The double's transport; requests to a path ending in ``lose["path"]`` are applied,
    then answered 502 (the answer is lost)."""
    inner = hub.transport()

    def answer(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        path = lose["path"]
        if path is not None and request.url.path.endswith(path):
            return httpx.Response(502, json={"message": "lost", "category": "BAD_GATEWAY"})
        return response

    return httpx.MockTransport(answer)


def _owner_after_a_lost_update(
    db_url: str, hub: HubSpotDouble, strategy: str, then: str
) -> tuple[str | None, str | None, dict[str, Any]]:
    """Contact p-1 pushed with owner 101; the dialer moves it to 104, whose update reaches
    HubSpot but is never recorded; the dialer then moves it to ``then``; push to the end.
    Returns (local owner, HubSpot owner, last owner decision)."""
    lose: dict[str, str | None] = {"path": None}
    ws = Workspace(db_url, hubspot_transport=_losing(hub, lose))
    try:
        config = _config("https://api.hubapi.com", "v3", strategy=strategy)
        ws.apply_config(config)
        ws.hubspot_setup()
        contact = ev(
            "record",
            "2026-11-01T09:00:00Z",
            object="contact",
            external_id="p-1",
            owner="u-1",
            properties={"email": "p-1@people.test"},
        )
        run(ws, contact)
        ws.push()
        run(
            ws,
            ev("owner", "2026-11-01T10:00:00Z", object="contact", external_id="p-1", owner="u-4"),
        )
        lose["path"] = "/batch/update"
        pusher = ws.pusher(max_attempts=1, sleep=lambda s: None)
        with pytest.raises(Exception, match="failed 1 times"):
            pusher.run_once()  # the process dies here
        pusher.release()
        lose["path"] = None
        assert hub.objects("contacts")[0]["properties"]["hubspot_owner_id"] == "104"
        run(
            ws, ev("owner", "2026-11-01T11:00:00Z", object="contact", external_id="p-1", owner=then)
        )
        ws.push()
        assert ws.push_status()["queued_total"] == 0
        record = ws.record("contact", ws.find(email="p-1@people.test")[0]["id"])
        hs_owner = hub.objects("contacts")[0]["properties"].get("hubspot_owner_id") or None
        return record["owner_id"], hs_owner, record["owner_history"][-1]
    finally:
        ws.close()


@pytest.mark.parametrize("strategy", ["integration_wins", "bidirectional"])
def test_owner_changed_back_after_a_lost_owner_update_reaches_hubspot(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    local, in_hubspot, _ = _owner_after_a_lost_update(db_url, hub, strategy, then="u-1")
    assert local == "101"
    assert in_hubspot == local


def test_a_lost_owner_update_is_not_mistaken_for_a_change_made_in_hubspot(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    local, in_hubspot, last = _owner_after_a_lost_update(db_url, hub, "bidirectional", "u-9")
    assert (local, in_hubspot) == ("102", "102"), last["reason"]


def test_a_create_whose_answer_was_lost_then_a_crash_keeps_the_dialers_newer_owner(
    db_url: str, hub: HubSpotDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The create reaches HubSpot but its answer is lost; the retry is answered "Existing
    ID" (HubSpot's unique email); the pusher dies before it has compared owners. The dialer
    then moves the contact: the owner HubSpot has is the one leadsync wrote, not a person's
    change, so the dialer's newer owner goes to HubSpot (it is not decided again)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    inner = hub.transport()
    state = {"creates": 0, "dead": True}

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if state["dead"] and path.endswith("/batch/read"):
            return httpx.Response(502, json={"message": "gone", "category": "BAD_GATEWAY"})
        response = inner.handle_request(request)
        if path.endswith("/contacts/batch/create"):
            state["creates"] += 1
            if state["creates"] == 1:  # applied, answer lost: the client sends it again
                return httpx.Response(502, json={"message": "lost", "category": "BAD_GATEWAY"})
        return response

    ws = Workspace(db_url, hubspot_transport=httpx.MockTransport(answer))
    try:
        ws.apply_config(_config("https://api.hubapi.com", "v3"))
        ws.hubspot_setup()
        run(
            ws,
            ev(
                "record",
                "2026-11-01T09:00:00Z",
                object="contact",
                external_id="p-1",
                owner="u-1",
                properties={"email": "p-1@people.test"},
            ),
        )
        pusher = ws.pusher(max_attempts=2, sleep=lambda s: None)
        with pytest.raises(Exception, match="failed 2 times"):
            pusher.run_once()  # the process dies here, before the owners are compared
        pusher.release()
        assert state["creates"] == 2
        assert len(hub.objects("contacts")) == 1
        state["dead"] = False
        run(
            ws,
            ev("owner", "2026-11-01T10:00:00Z", object="contact", external_id="p-1", owner="u-4"),
        )
        ws.push()
        record = ws.record("contact", ws.find(email="p-1@people.test")[0]["id"])
        (contact,) = hub.objects("contacts")
        assert (record["owner_id"], contact["properties"].get("hubspot_owner_id")) == (
            "104",
            "104",
        ), record["owner_history"][-1]["reason"]
    finally:
        ws.close()
