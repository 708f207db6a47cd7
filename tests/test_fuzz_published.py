"""The published vendor samples, varied as real vendors and real data vary them
(tests/fuzz_vendors.py: fields removed, null, empty, of another type, objects replaced,
unknown fields, unicode and long strings, odd emails and phone numbers, other time forms),
sent through what the webhook does with them.

In this process, every vendor (a bounded, derandomized Hypothesis run each, so CI sees the
same examples every time):

1. nothing but a refusal or a dead letter comes out of an adapter, and a refusal (4xx) or a
   dead letter names the field (its key path, XML element or the body) and what is allowed —
   never a defect's ``internal error``;
2. every piece cut from an accepted body is read by the worker into events or into a dead
   letter that names the field;
3. an unknown field added anywhere changes nothing the worker applies (the events; a key made
   from the body's hash may change, as a different body is a different delivery);
4. no secret (the integration's, an Outbound Message's session id) is in an answer, a dead
   letter's error or what the inbox or a dead letter keeps of the body;
5. a flag or a number written in another plain form (``true`` as ``"true"`` or ``1``, ``42`` as
   ``"42"``: docs/WEBHOOKS.md, "Field types") changes nothing applied, and is no dead letter;
6. a field that only labels or points at something (a label, a link, Calendly's location)
   given a value of another type than a string is read as the field absent: what is applied
   is what the sample without that field gives.

Through a live ``serve`` and its worker (SQLite, and PostgreSQL when it is configured), a
smaller draw of the same variations: never a 500, never a traceback or an error in the log,
every accepted row applied or a dead letter naming the field, no secret in any answer, log
line or dead letter.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from leadsync.pipeline import rejected
from leadsync.sources.base import WebhookRequest
from leadsync.workspace import Workspace
from tests.fuzz_vendors import (
    URI,
    Sample,
    decorative_places,
    deliver,
    load_samples,
    mutations,
    names_the_field,
    odd_decorative,
    plain_values,
    re_encoded,
    unknown_field_added,
)
from tests.helpers import workspace_config
from tests.live import LiveServer, serve, wait_applied

KINDS = ("aircall", "calendly", "outreach", "salesloft", "hubspot", "pipedrive", "salesforce")
SAMPLES = {kind: load_samples(kind) for kind in KINDS}
#: A sample refused as it is published (an Outbound Message whose organization id is cut
#: short) says nothing about its variations.
TAKEN = {
    kind: [s for s in found if deliver(s, s.body).status == 200] for kind, found in SAMPLES.items()
}

FUZZ = settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def secrets_absent(sample: Sample, *texts: str) -> None:
    for secret in sample.secrets():
        for text in texts:
            assert secret not in text, f"a secret of {sample.name} is in {text[:200]!r}"


@pytest.mark.parametrize("kind", KINDS)
def test_a_varied_sample_is_taken_or_refused_naming_the_field(kind: str) -> None:
    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        sample = data.draw(st.sampled_from(TAKEN[kind]), label="sample")
        done, body = data.draw(mutations(sample), label="changes")
        note(f"{sample.name}: {done}")
        out = deliver(sample, body)
        assert out.status in (200, 400, 401), out
        kept: list[str] = []
        if out.status != 200:
            assert names_the_field(out.detail), out.detail
            headers, raw = sample.request(body)
            request = WebhookRequest("POST", URI.format(sample.integration), headers, raw)
            kept.append(rejected.request_text(sample.adapter(), request))
        for error in out.letters():
            assert names_the_field(error), error
        secrets_absent(sample, out.detail, *out.letters(), *kept, *out.payloads)

    check()


def applied(out: Any) -> tuple[Any, ...]:
    """What the worker applies of a delivery, without the inbox's own keys."""
    return out.status, out.stored(), out.refused


@pytest.mark.parametrize("kind", KINDS)
def test_an_unknown_field_changes_nothing_applied(kind: str) -> None:
    baselines = {s.name: deliver(s, s.body) for s in TAKEN[kind]}

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        sample = data.draw(st.sampled_from(TAKEN[kind]), label="sample")
        where, body = data.draw(unknown_field_added(sample), label="added")
        note(f"{sample.name}: an unknown field in {where}")
        out, base = deliver(sample, body), baselines[sample.name]
        assert applied(out) == applied(base)

    check()


RE_ENCODABLE = {kind: [s for s in TAKEN[kind] if plain_values(s)] for kind in KINDS}


@pytest.mark.parametrize("kind", [kind for kind in KINDS if RE_ENCODABLE[kind]])
def test_a_flag_or_a_number_in_another_plain_form_changes_nothing_applied(kind: str) -> None:
    baselines = {s.name: deliver(s, s.body) for s in RE_ENCODABLE[kind]}

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        sample = data.draw(st.sampled_from(RE_ENCODABLE[kind]), label="sample")
        what, body = data.draw(re_encoded(sample), label="re-encoded")
        note(f"{sample.name}: {what}")
        out, base = deliver(sample, body), baselines[sample.name]
        assert applied(out) == applied(base), out.letters() or out.detail

    check()


WITH_DECORATIVE = {kind: [s for s in TAKEN[kind] if decorative_places(s)] for kind in KINDS}


@pytest.mark.parametrize("kind", [kind for kind in KINDS if WITH_DECORATIVE[kind]])
def test_a_label_or_link_of_another_type_reads_as_absent(kind: str) -> None:
    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        sample = data.draw(st.sampled_from(WITH_DECORATIVE[kind]), label="sample")
        what, body, without = data.draw(odd_decorative(sample), label="odd")
        note(f"{sample.name}: {what}")
        out, absent = deliver(sample, body), deliver(sample, without)
        assert applied(out) == applied(absent), out.letters() or out.detail

    check()


# ------------------------------------------------------------------ through a live service

LIVE_PER_KIND = int(os.environ.get("LEADSYNC_FUZZ_LIVE", "6"))


def live_cases() -> list[tuple[Sample, list[str], Any]]:
    """A fixed draw of variations (the same on every run): :data:`LIVE_PER_KIND` per vendor,
    one of each vendor's per example."""
    found: list[tuple[Sample, list[str], Any]] = []

    @settings(
        max_examples=LIVE_PER_KIND,
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def draw(data: st.DataObject) -> None:
        for kind in KINDS:
            sample = data.draw(st.sampled_from(TAKEN[kind]))
            done, body = data.draw(mutations(sample))
            found.append((sample, done, body))

    draw()
    return found


EVERY_SAMPLE = [s for kind in KINDS for s in SAMPLES[kind]]


@pytest.fixture
def live(workspace: Workspace) -> Iterator[LiveServer]:
    integrations = {s.integration: s.settings() for s in EVERY_SAMPLE}
    environ = {s.secret_env: s.secret() or "" for s in EVERY_SAMPLE if s.secret()}
    workspace.apply_config(workspace_config(integrations))
    with serve(workspace, environ=environ) as server:
        yield server


def test_varied_samples_through_a_live_service_are_applied_or_dead_letters_by_field(
    workspace: Workspace, live: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answers: list[str] = []
    for sample, done, body in live_cases():
        headers, raw = sample.request(body, live.webhook_uri(sample.integration))
        response = live.client.post(f"/webhooks/{sample.integration}", content=raw, headers=headers)
        what = f"{sample.name} {done}: {response.status_code} {response.text[:300]}"
        assert response.status_code in (200, 400, 401), what
        if response.status_code != 200:
            assert names_the_field(response.json()["detail"]), what
        secrets_absent(sample, response.text)
        answers.append(response.text)
    wait_applied(workspace)

    statuses = {c["status"] for c in workspace.inbox_counts()}
    assert statuses <= {"applied", "failed"}, workspace.inbox_counts()
    failed = workspace.inbox_rows(status="failed", limit=1000)
    letters = workspace.dead_letters(limit=1000)
    for letter in letters:
        assert names_the_field(str(letter["error"])), letter["error"]
    assert len(failed) <= len(letters)
    kept = [str(workspace.dead_letter(int(letter["id"]))) for letter in letters]
    logged = [record.getMessage() for record in caplog.records]
    for sample in EVERY_SAMPLE:
        secrets_absent(sample, *kept, *logged, *answers)
    problems = [
        r
        for r in caplog.records
        if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()
    ]
    assert not problems, [r.getMessage() for r in problems]
