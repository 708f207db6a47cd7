"""The request path's fast forms answer exactly as the general ones: a body's secret fields
taken out (every key read alike, case and blanks aside, however many), and ASGI headers read
(every copy of a header sent more than once kept)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from leadsync.sources.hygiene import Headers, is_secret_field, without_secret_fields

_KEYS = st.sampled_from(
    ["token", "Token", "TOKEN ", " token", "tokens", "data", "event", "Data", "id", "tok en"]
)
_BODIES = st.dictionaries(_KEYS, st.integers() | st.text(max_size=3), max_size=8)


@given(_BODIES)
def test_a_bodys_secret_fields_are_taken_out_whatever_their_case_and_blanks(
    body: dict[str, Any],
) -> None:
    kept = without_secret_fields(body, ("token",))
    assert kept == {k: v for k, v in body.items() if not is_secret_field(k, ("token",))}
    assert list(kept) == [k for k in body if k in kept]  # in the body's order
    assert kept is not body  # a body of its own: the request's is not changed


_NAMES = st.sampled_from([b"content-type", b"x-sig", b"host", b"Content-Type", b"x-a"])
_VALUES = st.binary(max_size=4).map(lambda b: b.hex().encode())


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=8))
def test_asgi_headers_read_as_the_general_form_reads_them(raw: list[tuple[bytes, bytes]]) -> None:
    fast = Headers.from_raw(raw)
    general = Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw)
    assert dict(fast) == dict(general)
    for name in ("content-type", "x-sig", "host", "x-a"):
        assert fast.getlist(name) == general.getlist(name)
    assert fast.conflicting() == general.conflicting()
