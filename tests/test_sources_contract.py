"""The contract every vendor adapter keeps, checked on every fixture of every vendor.

- Only EventError ever comes out of reading a payload (a dead letter, never a crash), even
  when any value in it is replaced by null, a number, a string, a list or an object.
- Every event an adapter makes is valid canonical JSON: it survives event_to_dict ->
  parse_event unchanged, and its id starts with the key of the piece it came from.
- Keys and events do not depend on formatting: the same body re-serialized (indented, keys
  in another order) gives the same keys and events (a redelivery is recognized).
- A body cut short is refused as malformed (EventError), never half taken.
"""

from __future__ import annotations

import copy
import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import leadsync.sources
from leadsync.errors import EventError
from leadsync.pipeline.inbox import vendor_line_request
from leadsync.settings import integration_from_dict, kinds_taking
from leadsync.sources import KINDS, adapter_class
from leadsync.sources.base import Adapter
from leadsync.sources.canonical import event_to_dict, parse_event
from leadsync.sources.options import OPTION_MODELS
from tests.adapters import (
    CASE_IDS,
    CASES,
    check_golden,
    fixture_adapter,
    golden_path,
    line_of,
    outcome,
    read,
)


def test_every_kind_has_fixtures() -> None:
    assert {kind for kind, _ in CASES} == set(KINDS) - {"generic"}


@pytest.mark.parametrize(("kind", "path"), CASES, ids=CASE_IDS)
def test_every_fixture_gives_its_golden_output(kind: str, path: Path) -> None:
    """The keys and canonical events of every published payload (or the error it is refused
    with), pinned in tests/fixtures/webhooks/<kind>/golden/ (tests/adapters.py says how to
    regenerate them)."""
    check_golden(kind, path)


def test_every_golden_file_has_its_fixture() -> None:
    """A fixture renamed or removed leaves no golden file behind that nothing checks."""
    expected = {golden_path(path) for _, path in CASES}
    folders = {golden.parent for golden in expected}
    found = {golden for folder in folders for golden in folder.glob("*.json")}
    assert found <= expected, sorted(str(p) for p in found - expected)


@pytest.mark.parametrize(("kind", "path"), CASES, ids=CASE_IDS)
def test_events_are_canonical_and_named_after_their_piece(kind: str, path: Path) -> None:
    try:
        pieces, events = read(kind, line_of(path))
    except EventError:
        return  # a fixture of a payload that must be refused; its own tests say why
    assert pieces, "a readable body has at least one piece"
    for piece, group in zip(pieces, events, strict=True):
        assert piece.key and len(piece.key) <= 200
        for event in group:
            assert event.id == piece.key or event.id.startswith(piece.key + "#")
            assert parse_event(event_to_dict(event), kind, 1) == event


@pytest.mark.parametrize(("kind", "path"), CASES, ids=CASE_IDS)
def test_formatting_changes_nothing(kind: str, path: Path) -> None:
    if path.suffix == ".xml":
        pytest.skip("XML bodies are signed and stored as sent")
    data = json.loads(path.read_text())
    reformatted = json.dumps(_reorder(data), indent=2, ensure_ascii=True)
    assert outcome(kind, line_of(path)) == outcome(kind, reformatted)


@pytest.mark.parametrize(("kind", "path"), CASES, ids=CASE_IDS)
def test_a_body_cut_short_is_malformed(kind: str, path: Path) -> None:
    a = fixture_adapter(kind)
    request = vendor_line_request(line_of(path), a)
    request.body = request.body[: len(request.body) // 2]
    with pytest.raises(EventError):
        a.pieces(request)


def _reorder(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reorder(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reorder(v) for v in value]
    return value


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        found = [path] if path else []
        for key, item in value.items():
            found.extend(_leaves(item, (*path, key)))
        return found
    if isinstance(value, list):
        found = [path] if path else []
        for index, item in enumerate(value):
            found.extend(_leaves(item, (*path, index)))
        return found
    return [path]


JSON_CASES = [(k, p) for k, p in CASES if p.suffix == ".json"]
REPLACEMENTS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.just([]),
    st.just({}),
    st.lists(st.text(max_size=5), max_size=3),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_value_replaced_gives_events_or_an_event_error(data: st.DataObject) -> None:
    kind, path = data.draw(st.sampled_from(JSON_CASES), label="fixture")
    envelope = json.loads(path.read_text())
    body = copy.deepcopy(envelope["body"])
    leaves = _leaves(body)
    if not leaves:
        return
    where = data.draw(st.sampled_from(leaves), label="where")
    value = data.draw(REPLACEMENTS, label="value")
    target = body
    for step in where[:-1]:
        target = target[step]
    target[where[-1]] = value
    line = json.dumps({**envelope, "body": body})
    outcome(kind, line)  # raises (and fails) on anything but EventError


# ------------------------------------------------------------------ what an adapter declares

FACTS = [
    "signature_scheme",
    "secret_required",
    "stores_canonical",
    "is_crm",
    "options_model",
]


def test_every_adapter_module_is_a_kind_and_every_kind_has_one() -> None:
    """Adding a vendor is one module: the kinds are exactly the modules naming an ADAPTER."""
    modules = {
        info.name: importlib.import_module(f"leadsync.sources.{info.name}")
        for info in pkgutil.iter_modules(leadsync.sources.__path__)
    }
    with_adapter = {name for name, module in modules.items() if hasattr(module, "ADAPTER")}
    assert with_adapter == set(KINDS)
    for kind in KINDS:
        assert adapter_class(kind).kind == kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_adapter_declares_its_facts_in_its_own_class_body(kind: str) -> None:
    cls = adapter_class(kind)
    assert cls.signature_scheme.strip()
    declared = vars(cls)
    assert "signature_scheme" in declared
    for fact in FACTS:
        assert isinstance(getattr(cls, fact), type(getattr(Adapter, fact)))
    assert cls.options_model in OPTION_MODELS  # the settings' schema of vendor: has it


def test_every_options_model_is_a_kind_s_and_an_option_of_several_kinds_means_one_thing() -> None:
    assert {adapter_class(kind).options_model for kind in KINDS} == set(OPTION_MODELS)
    declared: dict[str, tuple[Any, ...]] = {}
    for model in OPTION_MODELS:
        for name, field in model.model_fields.items():
            schema = (field.annotation, field.metadata, field.default)
            assert declared.setdefault(name, schema) == schema, (model.__name__, name)


def test_the_facts_read_from_the_adapters_are_the_ones_leadsync_had() -> None:
    """The behaviour before the facts moved onto the adapter classes."""

    def kinds_where(fact: str) -> set[str]:
        return {kind for kind in KINDS if getattr(adapter_class(kind), fact)}

    assert kinds_where("is_crm") == {"hubspot"}
    assert integration_from_dict({"kind": "hubspot"}).is_crm
    assert not integration_from_dict({"kind": "generic"}).is_crm
    assert kinds_where("stores_canonical") == {"generic"}
    assert set(KINDS) - kinds_where("secret_required") == {"salesforce"}
    options = {name for model in OPTION_MODELS for name in model.model_fields}
    assert {option: kinds_taking(option) for option in options} == {
        "app_id": ("hubspot",),
        "organization_id": ("salesforce",),
        "activity_types": ("pipedrive",),
        "other_activity_types": ("pipedrive",),
        "timestamp_tolerance_s": ("generic", "salesforce"),
        "require_timestamp": ("generic", "salesforce"),
    }
