"""Deterministic synthetic workload shared by the benchmarks in ``bench/``.

:func:`config_dict` is a workspace (20 owners, an ``sdr`` team, one ``generic`` integration
named ``bench`` with a directory, an explicit map, the ``round_robin`` unmapped policy, call
filters and automatic associations). :func:`event_lines` streams JSONL lines in the canonical
format of :mod:`leadsync.sources.generic`; the same seed gives the same lines.

The mix, per event: ~25% contact records (email; some with a company), ~5% company records
(domain), ~5% deal records associated to a contact, ~15% owner changes of existing records,
~50% activities (calls mostly, some short or unanswered so that they are filtered; meetings,
notes, tasks, emails), each on one contact and sometimes a deal. Reps come from 50 external
users: 20 matched by the directory's email, 10 by the map, 20 unmapped (round robin). Records
and activities are revisited, mostly recent ones, as a live feed does.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from random import Random
from typing import Any

INTEGRATION = "bench"
OWNER_IDS = [f"{100 + i}" for i in range(1, 21)]
REPS = [f"rep-{i:02d}" for i in range(50)]  # 0-19 directory, 20-29 map, 30-49 unmapped
LINE = "+15550000000"  # the company's line: one end of every call
START = 1_767_600_000  # 2026-01-05T08:00:00Z

FIRST_NAMES = ["Ana", "Bo", "Cy", "Di", "Eli", "Fay", "Gus", "Hal", "Ida", "Jo", "Kim", "Lu"]
LAST_NAMES = ["Ng", "Li", "Oh", "Ro", "Sato", "Berg", "Cruz", "Diaz", "Eze", "Fox", "Gray"]
STAGES = ["appointment", "qualified", "presentation", "decision", "contract"]
CALL_OUTCOMES = ["connected"] * 5 + ["voicemail"] * 2 + ["no_answer"] * 2 + ["busy"]


def _owner_email(owner_id: str) -> str:
    return f"owner{owner_id}@acme.test"


UNMAPPED = {
    "round_robin": {"policy": "round_robin", "team": "sdr"},
    "fallback": {"policy": "fallback", "owner": OWNER_IDS[0]},
    "leave": {"policy": "leave"},
}
"""The unmapped reps' policies a bench may ask for; ``round_robin`` is the workload's own."""


def config_dict(unmapped: str = "round_robin") -> dict[str, Any]:
    """The workspace configuration (what ``leadsync apply`` reads), as plain data; ``unmapped``
    names the policy for the 20 unmapped reps (:data:`UNMAPPED`)."""
    owners = [
        {
            "id": oid,
            "email": _owner_email(oid),
            "first_name": FIRST_NAMES[i % len(FIRST_NAMES)],
            "last_name": LAST_NAMES[i % len(LAST_NAMES)],
            "active": i != 19,  # one inactive owner: reps mapped to them are unmapped
        }
        for i, oid in enumerate(OWNER_IDS)
    ]
    # Directory reps 0-19 match owners by email (some spelled in capitals).
    emails = [_owner_email(OWNER_IDS[i]) for i in range(20)]
    directory = [
        {"id": REPS[i], "email": email.upper() if i % 3 == 0 else email}
        for i, email in enumerate(emails)
    ]
    return {
        "owners": owners,
        "teams": {"sdr": OWNER_IDS[:8], "ae": OWNER_IDS[8:14]},
        "integrations": {
            INTEGRATION: {
                "kind": "generic",
                "users": {
                    "auto_match": "email",
                    "map": {REPS[20 + i]: OWNER_IDS[(i * 3) % 20] for i in range(10)},
                    "directory": directory,
                    "unmapped": UNMAPPED[unmapped],
                },
                "ownership": {
                    "default": "fill_if_empty",
                    "contact": "integration_wins",
                    "deal": "never_overwrite",
                    "protect_manual_days": 14,
                    "assign_on_activity": True,
                },
                "activities": {
                    "call": {
                        "enabled": True,
                        "min_duration_s": 10,
                        "skip_outcomes": ["no_answer", "busy"],
                    },
                    "email": True,
                    "meeting": True,
                    "note": True,
                    "task": True,
                },
                "associations": {
                    "mode": "automatic",
                    "primary": "contact",
                    "company": "primary",
                    "deal": "most_recent_open",
                    "max_deals": 5,
                },
            }
        },
    }


def config_text(unmapped: str = "round_robin") -> str:
    """The configuration as a YAML document (JSON is YAML)."""
    return json.dumps(config_dict(unmapped), indent=2)


def _ts(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class _Feed:
    """The generator's memory: how many records exist, which activities are recent."""

    def __init__(self, seed: int, by_number: float = 0.0) -> None:
        self.rng = Random(seed)
        self.seed = seed
        # The share of calls that name their person only by number (a dialer's traffic):
        # most reach a contact's phone, some a number nobody has (held).
        self.by_number = by_number
        self.contacts = 0
        self.companies = 0
        self.deals = 0
        self.activities = 0
        self.recent_activities: deque[tuple[str, str]] = deque(maxlen=5000)
        self.clock = START

    def pick(self, count: int) -> int:
        """An existing record number, mostly a recent one."""
        rng = self.rng
        if rng.random() < 0.7:
            return rng.randrange(max(0, count - 3000), count)
        return rng.randrange(count)

    def rep(self) -> str | dict[str, str]:
        rng = self.rng
        rep = REPS[rng.randrange(len(REPS))]
        if rng.random() < 0.1:  # some payloads carry the rep's email as well
            index = int(rep[4:])
            return {"id": rep, "email": _owner_email(OWNER_IDS[index % 20])}
        return rep

    def contact_ref(self) -> dict[str, str]:
        return {"object": "contact", "external_id": f"p-{self.pick(self.contacts)}"}

    # -------------------------------------------------------------------- events

    def contact(self) -> dict[str, Any]:
        rng = self.rng
        if self.contacts and rng.random() < 0.3:
            n = self.pick(self.contacts)
        else:
            n = self.contacts
            self.contacts += 1
        props: dict[str, Any] = {
            "email": f"person{n}@mail{n % 997}.test",
            "firstname": FIRST_NAMES[n % len(FIRST_NAMES)],
            "lastname": LAST_NAMES[n % len(LAST_NAMES)],
            "phone": f"+1555{n:07d}",
            "lifecyclestage": rng.choice(["lead", "subscriber", "opportunity"]),
        }
        event: dict[str, Any] = {
            "type": "record",
            "object": "contact",
            "external_id": f"p-{n}",
            "properties": props,
        }
        if rng.random() < 0.6:
            event["owner"] = self.rep()
        if rng.random() < 0.4:
            if self.companies and rng.random() < 0.8:
                k = self.pick(self.companies)
                event["associations"] = [{"object": "company", "external_id": f"a-{k}"}]
            else:  # a company not seen yet, named by its domain
                k = self.companies + rng.randrange(1, 50)
                event["associations"] = [{"object": "company", "domain": f"co{k}.test"}]
        return event

    def company(self) -> dict[str, Any]:
        rng = self.rng
        if self.companies and rng.random() < 0.2:
            k = self.pick(self.companies)
        else:
            k = self.companies
            self.companies += 1
        event: dict[str, Any] = {
            "type": "record",
            "object": "company",
            "external_id": f"a-{k}",
            "properties": {
                "domain": f"https://www.co{k}.test/" if k % 5 == 0 else f"co{k}.test",
                "name": f"Company {k}",
                "industry": rng.choice(
                    ["Computer Software", "Retail", "Financial Services", "Hospital & Health Care"]
                ),
            },
        }
        if rng.random() < 0.5:
            event["owner"] = self.rep()
        return event

    def deal(self) -> dict[str, Any]:
        rng = self.rng
        if self.deals and rng.random() < 0.2:
            d = self.pick(self.deals)
        else:
            d = self.deals
            self.deals += 1
        event: dict[str, Any] = {
            "type": "record",
            "object": "deal",
            "external_id": f"d-{d}",
            "properties": {
                "name": f"Deal {d}",
                "stage": rng.choice(STAGES),
                "is_closed": rng.random() < 0.15,
                "amount": rng.randrange(1_000, 100_000),
            },
            "associations": [self.contact_ref()],
        }
        if self.companies and rng.random() < 0.3:
            event["associations"].append(
                {"object": "company", "external_id": f"a-{self.pick(self.companies)}"}
            )
        if rng.random() < 0.5:
            event["owner"] = self.rep()
        return event

    def owner_change(self) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.8 or not (self.companies and self.deals):
            obj, ref = "contact", f"p-{self.pick(self.contacts)}"
        elif roll < 0.9:
            obj, ref = "company", f"a-{self.pick(self.companies)}"
        else:
            obj, ref = "deal", f"d-{self.pick(self.deals)}"
        owner = None if rng.random() < 0.03 else self.rep()
        return {"type": "owner", "object": obj, "external_id": ref, "owner": owner}

    def activity(self) -> dict[str, Any]:
        rng = self.rng
        if self.recent_activities and rng.random() < 0.03:
            external_id, kind = rng.choice(self.recent_activities)  # a later update of it
        else:
            roll = rng.random()
            kind = (
                "call"
                if roll < 0.6
                else "email"
                if roll < 0.7
                else "meeting"
                if roll < 0.8
                else "note"
                if roll < 0.9
                else "task"
            )
            external_id = f"{kind[0]}-{self.activities}"
            self.activities += 1
            self.recent_activities.append((external_id, kind))
        props = self.activity_properties(kind)
        if kind == "call" and self.by_number and rng.random() < self.by_number:
            known = rng.random() < 0.9
            n = self.pick(self.contacts) if known else 10**6 + rng.randrange(10**6)
            number = f"+1555{n:07d}"
            numbers = {"from_number": LINE, "to_number": number}
            if props["direction"] == "inbound":
                numbers = {"from_number": number, "to_number": LINE}
            props.update(numbers)
            return {
                "type": "activity",
                "activity": kind,
                "external_id": external_id,
                "owner": self.rep(),
                "properties": props,
            }
        associations = [self.contact_ref()]
        if self.deals and rng.random() < 0.2:
            associations.append({"object": "deal", "external_id": f"d-{self.pick(self.deals)}"})
        return {
            "type": "activity",
            "activity": kind,
            "external_id": external_id,
            "owner": self.rep(),
            "properties": props,
            "associations": associations,
        }

    def activity_properties(self, kind: str) -> dict[str, Any]:
        rng = self.rng
        if kind == "call":
            outcome = rng.choice(CALL_OUTCOMES)
            duration = rng.randrange(0, 25) if outcome != "connected" else rng.randrange(5, 1800)
            direction = rng.choice(["outbound", "outbound", "inbound"])
            # The company's line is the rep's end: the caller's on an outbound call, the
            # called one's on an inbound call (the other party's number is the other end).
            line, other = LINE, f"+1555{rng.randrange(10**7):07d}"
            ends = (line, other) if direction == "outbound" else (other, line)
            return {
                "direction": direction,
                "duration_s": duration,
                "outcome": outcome,
                "from_number": ends[0],
                "to_number": ends[1],
                "body": "Discussed pricing and next steps.",
            }
        if kind == "email":
            return {
                "direction": rng.choice(["inbound", "outbound"]),
                "subject": "Following up",
                "body": "Hi, just following up on our conversation.",
            }
        if kind == "meeting":
            start = self.clock + 86_400 * rng.randrange(1, 10)
            return {
                "title": "Demo",
                "start": _ts(start),
                "end": _ts(start + 1800),
                "outcome": rng.choice(["scheduled", "completed", "no_show"]),
            }
        if kind == "note":
            return {"body": "Prefers email. Budget approved for Q3." * rng.randrange(1, 4)}
        return {
            "subject": "Send proposal",
            "status": rng.choice(["not_started", "in_progress", "completed"]),
            "priority": rng.choice(["low", "medium", "high"]),
            "due": _ts(self.clock + 86_400 * 3)[:10],
        }

    def next(self, index: int) -> dict[str, Any]:
        rng = self.rng
        roll = rng.random()
        if not self.contacts or roll < 0.25:
            event = self.contact()
        elif roll < 0.30:
            event = self.company()
        elif roll < 0.35:
            event = self.deal()
        elif roll < 0.50:
            event = self.owner_change()
        else:
            event = self.activity()
        self.clock += rng.randrange(1, 20)
        at = self.clock - rng.randrange(0, 600) if rng.random() < 0.02 else self.clock  # late
        return {"id": f"ev-{self.seed}-{index}", "occurred_at": _ts(at), **event}


def event_lines(count: int, seed: int = 1, by_number: float = 0.0) -> Iterator[str]:
    """``count`` JSONL lines (with the trailing newline), generated one at a time;
    ``by_number``: the share of calls naming only a number."""
    feed = _Feed(seed, by_number)
    for index in range(count):
        yield json.dumps(feed.next(index), separators=(",", ":")) + "\n"


def write_jsonl(path: Path, count: int, seed: int = 1, by_number: float = 0.0) -> int:
    """Write ``count`` events to ``path``; returns the file's size in bytes."""
    with path.open("w", encoding="utf-8") as handle:
        handle.writelines(event_lines(count, seed, by_number))
    return path.stat().st_size
