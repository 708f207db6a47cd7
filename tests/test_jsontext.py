"""The hot paths' JSON (orjson) gives exactly the standard library's answers: the same values
for every JSON text, the same errors for every text that is not, and text that reads back to
the same value."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadsync.errors import EventError
from leadsync.sources import jsontext
from leadsync.sources.base import _decode_json_exactly, decode_json, envelope_text, read_envelope

_EXACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**200), max_value=2**200)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # any code point, unpaired surrogates included
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (1 is not 1.0, -0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@settings(max_examples=400)
@given(_values)
def test_what_is_written_reads_back_the_same_and_reads_as_the_standard_library_reads_it(
    value: Any,
) -> None:
    text = jsontext.dumps(value, _EXACT)
    assert _same(json.loads(text), json.loads(_EXACT(value)))
    assert _same(jsontext.loads(text, json.loads), json.loads(text))
    assert _same(
        jsontext.loads(text.encode("utf-8", "surrogatepass"), json.loads), json.loads(text)
    )


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",  # beyond 64 bits: orjson would make it a float
        "18446744073709551616",
        "-9223372036854775809",
        '{"id": 99999999999999999999999}',
        "0.10000000000000000555111512312578270211815834045",  # every digit counts
        "1e400",
        "-1e400",
        "NaN",
        "[Infinity]",
        '"\\ud800"',  # an unpaired surrogate, escaped
        "\ufeff{}",
        "[" * 2000 + "]" * 2000,  # deeper than orjson goes
        '{"a": 1, "a": 2}',
        "[1, 2,]",
        "",
        "{} x",
        '"tab\there"',  # a raw control character in a string
    ],
)
def test_edge_texts_read_exactly_as_the_standard_library_reads_them(text: str) -> None:
    raw = text.encode("utf-8", "surrogatepass")
    try:
        expected: Any = ("value", _decode_json_exactly(raw))
    except EventError as exc:
        expected = ("error", str(exc))
    try:
        got: Any = ("value", decode_json(raw))
    except EventError as exc:
        got = ("error", str(exc))
    assert got[0] == expected[0] and (
        _same(got[1], expected[1]) if got[0] == "value" else got[1] == expected[1]
    )


def test_a_long_integer_stays_an_integer_in_a_body_and_in_an_envelope() -> None:
    body = decode_json(b'{"data": {"id": 123456789012345678901234567890}}')
    assert body["data"]["id"] == 123456789012345678901234567890
    stored = envelope_text({"x-event": "e"}, body)
    assert "123456789012345678901234567890" in stored
    assert read_envelope(stored) == ({"x-event": "e"}, body)


def test_invalid_utf8_is_named_as_before() -> None:
    with pytest.raises(EventError, match="not valid UTF-8 at byte 1"):
        decode_json(b'"\xff"')


def test_text_orjson_cannot_write_is_written_by_the_standard_library() -> None:
    for value in ({"k": "\ud800"}, {"n": 2**70}, {1: "a"}):
        assert jsontext.dumps(value, _EXACT) == _EXACT(value)


# ------------------------------------------------------------------ how deep JSON may nest

LIMIT = jsontext.MAX_DEPTH


def nested(levels: int, inner: str = "") -> str:
    """``levels`` arrays and objects, alternating, around ``inner``."""
    text = inner
    for level in range(levels):
        text = f"[{text}]" if level % 2 else f'{{"k{level}":{text or 0}}}'
    return text


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (nested(LIMIT), LIMIT),
        (nested(LIMIT + 1), LIMIT + 1),
        ("[" * LIMIT + "]" * LIMIT, LIMIT),
        ("[" * (LIMIT + 1) + "]" * (LIMIT + 1), LIMIT + 1),
        ("[" + ",".join(["[{}]"] * LIMIT) + "]", 3),  # many brackets, shallow
        (f'["{"[" * (2 * LIMIT)}", {nested(LIMIT - 1)}]', LIMIT),  # brackets in a string
        (f'["\\"[{{[", {nested(LIMIT)}]', LIMIT + 1),  # an escaped quote in a string
        (f'["a\\\\", {nested(LIMIT)}]', LIMIT + 1),  # a string that ends in a backslash
        (f'{{"\\\\\\"[": {nested(LIMIT - 1)}, "é[": []}}', LIMIT),  # both, and UTF-8
    ],
)
def test_too_deep_counts_levels_of_arrays_and_objects_outside_strings(
    text: str, depth: int
) -> None:
    assert _depth(json.loads(text)) == depth  # the case is what it says
    assert jsontext.too_deep(text) is (depth > LIMIT)
    assert jsontext.too_deep(text.encode("utf-8")) is (depth > LIMIT)


_NOISE = '[]{}"\\a\u00e9'  # what a string may hold


@settings(max_examples=100)
@given(st.integers(LIMIT - 2, LIMIT + 2), _values, st.integers(0, 2**32))
def test_too_deep_agrees_with_the_depth_of_the_value(levels: int, value: Any, seed: int) -> None:
    """Strings full of brackets, quotes and backslashes (keys and values) beside the levels,
    and shallow values beside the deepest."""
    rnd = random.Random(seed)

    def noise() -> str:
        return "".join(rnd.choices(_NOISE, k=rnd.randint(0, 4)))

    for _ in range(levels):
        siblings = [value, *rnd.choices([noise(), [], {}], k=rnd.randint(0, 2))]
        if rnd.random() < 0.5:
            value = siblings
        else:
            value = {noise() + str(i): s for i, s in enumerate(siblings)}
    text = json.dumps(value, ensure_ascii=rnd.random() < 0.5)
    assert jsontext.too_deep(text) is (_depth(value) > LIMIT)


def test_a_body_is_read_to_the_limit_and_refused_one_level_past_it() -> None:
    """One limit, whichever decoder reads the body: orjson (which would go to 1024 levels),
    or the standard library (a long integer in it; Python's recursion limit)."""
    refused = (
        f"body is not valid JSON: nested deeper than {LIMIT} levels; allowed: at most {LIMIT} "
        "levels of arrays and objects"
    )
    for inner in ("", "123456789012345678901234567890"):
        at_limit = nested(LIMIT, inner).encode()
        assert decode_json(at_limit) == json.loads(at_limit)
        for past in (nested(LIMIT + 1, inner), "[" * 5000 + "]" * 5000):
            with pytest.raises(EventError) as caught:
                decode_json(past.encode())
            assert str(caught.value) == refused
