"""The engine's result does not depend on where batches are cut: the same events in the
same order end in exactly the same state applied a row at a time, in batches of 2, 3 or 7,
all at once, or cut anywhere (parallel workers rely on it: their parts are applied in
batches cut otherwise than the one worker's).

The streams are the parallel workers' model streams (tests/test_parallel_workers.py:
overlapping records, calls by number, reps whose email changes, round robin, ...) with
emails and domains of existing records changing, and later events naming the old value: a
lookup within a batch must answer as the database answers the next batch (who holds the
value now, the lowest id), whatever happened earlier in the batch.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadsync.pipeline.drain import drain
from leadsync.store.schema import dead_letters, inbox
from leadsync.workspace import Workspace
from leadsync.workspace_config import load_rules
from tests.conftest import truncate_database
from tests.test_parallel_workers import COMPANIES, PEOPLE, _config, canonical_state, stream

Events = list[tuple[str, dict[str, Any]]]


def changing_stream(rng: random.Random, n: int) -> Events:
    """The model stream with emails and domains that change: after some events, a contact
    of either integration is given another email (a new one, or another person's: then two
    contacts share it) or a company its domain changes; the stream's later events go on
    naming the old values (a call by email, a contact's record event, a company by domain)."""
    out: Events = []
    for k, (integration, event) in enumerate(stream(rng, n)):
        out.append((integration, event))
        at = event["occurred_at"]
        roll = rng.random()
        if roll < 0.12:  # a contact's email changes (HubSpot's contact.propertyChange)
            person = rng.randrange(PEOPLE)
            side = rng.choice(["dialer", "crm"])
            other = rng.randrange(PEOPLE)
            email = rng.choice(
                [f"p{person}.{k}@moved.test", f"p{other}@globex{other % COMPANIES}.test"]
            )
            out.append(
                (side, {"id": f"m{k}", "occurred_at": at, "type": "record", "object": "contact",
                        "external_id": f"{side[0]}-{person}", "properties": {"email": email}})
            )  # fmt: skip
        elif roll < 0.2:  # a company's domain changes; another event names one by domain
            company = rng.randrange(COMPANIES)
            domain = rng.choice([f"globex{company}-{k}.test", f"globex{rng.randrange(3)}.test"])
            out.append(
                ("crm", {"id": f"m{k}", "occurred_at": at, "type": "record", "object": "company",
                         "external_id": f"co-{company}", "properties": {"domain": domain,
                                                                        "name": f"Co {k}"}})
            )  # fmt: skip
    return out


@contextmanager
def _workspace(url: str | None, template: Path) -> Iterator[Workspace]:
    """A fresh workspace with the model's settings: a SQLite file copied from the migrated
    template, or the PostgreSQL test database emptied."""
    with tempfile.TemporaryDirectory() as folder:
        if url is None:
            path = Path(folder) / "leadsync.db"
            shutil.copyfile(template, path)
            target = f"sqlite:///{path}"
        else:
            truncate_database(url)
            target = url
        ws = Workspace(target)
        try:
            ws.apply_config(_config())
            yield ws
        finally:
            ws.close()


def _pending(ws: Workspace, events: Events, first_seq: int) -> None:
    with ws.engine.begin() as connection:
        connection.execute(
            sa.insert(inbox),
            [
                {
                    "seq": seq,
                    "integration": integration,
                    "event_id": event["id"],
                    "received_at": event["occurred_at"],
                    "occurred_at": event["occurred_at"],
                    "payload": json.dumps(event),
                    "status": "pending",
                    "source": "model",
                }
                for seq, (integration, event) in enumerate(events, start=first_seq)
            ],
        )


def apply_cut(
    events: Events, cuts: Sequence[int], template: Path, url: str | None = None
) -> dict[str, Any]:
    """``events`` applied by the product's drain in batches ending at ``cuts`` (indexes
    into the stream; the rest is one last batch), on SQLite (``url`` None) or PostgreSQL
    (one part per window: in arrival order); the canonical state then."""
    bounds = sorted({c for c in cuts if 0 < c < len(events)}) + [len(events)]
    with _workspace(url, template) as ws:
        rules = load_rules(ws.engine)
        start = 0
        for end in bounds:
            chunk = events[start:end]
            _pending(ws, chunk, start + 1)
            drain(ws.engine, rules, batch_size=len(chunk), parts=1)
            start = end
        with ws.engine.connect() as connection:
            statuses = connection.execute(sa.select(inbox.c.status)).scalars().all()
            assert set(statuses) == {"applied"}, statuses
            # A batch that failed and was retried one row at a time was not cut there.
            assert (
                connection.execute(
                    sa.select(sa.func.count()).select_from(dead_letters)
                ).scalar_one()
                == 0
            )
            return canonical_state(connection)


def every(size: int, n: int) -> list[int]:
    return list(range(size, n, size))


def difference(a: dict[str, Any], b: dict[str, Any]) -> str:
    for table in a:
        if a[table] != b[table]:
            only_a = [x for x in a[table] if x not in b[table]][:3]
            only_b = [x for x in b[table] if x not in a[table]][:3]
            return f"{table}: row at a time only {only_a}; cut only {only_b}"
    return ""


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_batches_of_any_fixed_size_end_where_one_row_at_a_time_ends(
    sqlite_template: Path, seed: int
) -> None:
    events = changing_stream(random.Random(seed), 60)
    assert any(e["id"].startswith("m") for _, e in events)
    one = apply_cut(events, every(1, len(events)), sqlite_template)
    for size in (2, 3, 7, len(events)):
        cut = apply_cut(events, every(size, len(events)), sqlite_template)
        assert cut == one, f"batches of {size}: {difference(one, cut)}"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(5, 45),
    cuts=st.lists(st.integers(1, 60), max_size=8),
)
def test_batches_cut_anywhere_end_where_one_row_at_a_time_ends(
    sqlite_template: Path, seed: int, size: int, cuts: list[int]
) -> None:
    events = changing_stream(random.Random(seed), size)
    one = apply_cut(events, every(1, len(events)), sqlite_template)
    cut = apply_cut(events, cuts, sqlite_template)
    assert cut == one, f"cut at {sorted(set(cuts))}: {difference(one, cut)}"
