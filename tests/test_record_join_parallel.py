"""Parallel workers join merged records as one worker does (PostgreSQL): the model test's
random streams (tests/test_parallel_workers.py) with merges of two records both tools held —
the CRM's contacts and the dialer's — before and after later events of either id, and
redelivered; two and three workers end where one worker in arrival order ends."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_parallel_workers import MODEL_EXAMPLES, PEOPLE, _difference, _run, stream


def merging_stream(seed: int, n: int) -> list[tuple[str, dict[str, Any]]]:
    """The model stream with merges: now and then a tool merges one of its contacts into
    another (``c-A`` / ``d-A`` keeps ``c-B``), and some merges come again later."""
    rng = random.Random(seed)
    out: list[tuple[str, dict[str, Any]]] = []
    merges: list[tuple[str, dict[str, Any]]] = []
    for index, (integration, event) in enumerate(stream(rng, n)):
        out.append((integration, event))
        if index < 5 or rng.random() > 0.08:
            continue
        if merges and rng.random() < 0.2:  # a redelivery (another event id, the same merge)
            again = copy.deepcopy(rng.choice(merges))
            again[1]["id"] = f"{again[1]['id']}-again-{index}"
            out.append(again)
            continue
        kept, gone = rng.sample(range(PEOPLE), 2)
        tool = rng.choice(["crm", "dialer"])
        prefix = tool[0]
        merge = {
            "id": f"m{index}",
            "occurred_at": event["occurred_at"],
            "type": "record",
            "object": "contact",
            "external_id": f"{prefix}-{kept}",
            "merged": [f"{prefix}-{gone}"],
            "properties": {},
        }
        merges.append((tool, merge))
        out.append((tool, merge))
    return out


def _joined(state: dict[str, Any]) -> list[str]:
    return [row for row in state["records"] if json.loads(row)["merged_into"] is not None]


@pytest.mark.parametrize("seed", [7, 8])
def test_parallel_workers_join_merged_records_as_one_worker_does(
    postgres_url: str, seed: int
) -> None:
    events = merging_stream(seed, 160)
    one = _run(postgres_url, events, 1)
    assert _joined(one), "a merge joined two records"
    for workers in (2, 3):
        many = _run(postgres_url, events, workers, split=True)
        assert many == one, f"{workers} workers: {_difference(one, many)}"


@settings(
    max_examples=MODEL_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(20, 200), workers=st.sampled_from([2, 3]))
def test_any_stream_with_merges_parallel_equals_serial(
    postgres_url: str, seed: int, size: int, workers: int
) -> None:
    events = merging_stream(seed, size)
    one = _run(postgres_url, events, 1)
    many = _run(postgres_url, events, workers)
    assert many == one, f"{workers} workers: {_difference(one, many)}"
